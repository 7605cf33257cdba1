"""One event log per simulation test: JSON lines of (cycle, time, source, event, fields).

Sources: ``pcie`` (every TLP on CQ/CC/RQ/RC, decoded, see tb/simulation/monitors/pcie.py), ``irq`` (the DUT's MSI-X
and INTx lines), ``driver`` (the driver model's steps: ring accesses, notifies, interrupts, reclaims,
forwarded from tb.driver.trace.EventLog), ``wire`` (frames leaving the device) and ``checker`` (verdicts:
the wire scoreboard, the test's end). One line per event, written and flushed as it happens, so a test
that hangs or dies still leaves its log::

    {"cycle": 5321, "time_ns": 21284.0, "source": "pcie", "event": "tlp", "stream": "rq", ...}

``cycle`` counts user_clk periods (250 MHz, 4 ns) from time 0. Pure Python apart from ``sim_now_ns``, so
the format is unit-tested without a simulator.
"""

from __future__ import annotations

import atexit
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from tb.driver.trace import EventLog

USER_CLK_NS = 4.0
ARTIFACTS_ENV = "TB_ARTIFACTS_DIR"   # set by sim/runner.py to the run directory


def sim_now_ns() -> float:
    from cocotb.utils import get_sim_time

    return float(get_sim_time("ns"))


def current_test_name() -> str:
    """The running cocotb test's name (``a1_a2_a4_fast_device``, ``tx_end_to_end/msix=True/...``)."""
    try:
        import cocotb.regression as reg

        name = reg._manager_inst._test.fullname  # private in cocotb 2.1 (pinned)
        return name.rsplit(".", 1)[-1]
    except Exception:
        return "test"


def artifact_path(test: str, suffix: str) -> Path:
    """``<run dir>/<test>.<suffix>``, the test name made file-safe."""
    safe = re.sub(r"[^A-Za-z0-9_.=-]+", "_", test.replace("/", "__"))
    base = Path(os.environ.get(ARTIFACTS_ENV) or ".")
    base.mkdir(parents=True, exist_ok=True)
    return base / f"{safe}.{suffix}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


class RunLog:
    """The JSON-lines writer. ``now`` gives simulation time in ns (injectable for tests)."""

    def __init__(self, path: Path | str, now: Callable[[], float] = sim_now_ns, clock_ns: float = USER_CLK_NS):
        self.path = Path(path)
        self.now = now
        self.clock_ns = clock_ns
        self._f: TextIO | None = open(self.path, "w")
        atexit.register(self.close)      # the last test's log is complete when the simulator exits
        self.count = 0
        self.first_failure: dict[str, Any] | None = None

    def cycle_of(self, t_ns: float) -> int:
        return int(t_ns // self.clock_ns)

    @staticmethod
    def record(t_ns: float, source: str, event: str, clock_ns: float = USER_CLK_NS, **fields: Any) -> dict:
        rec = {"cycle": int(t_ns // clock_ns), "time_ns": t_ns, "source": source, "event": event}
        rec.update({k: _jsonable(v) for k, v in fields.items()})
        return rec

    @staticmethod
    def line(t_ns: float, source: str, event: str, **fields: Any) -> str:
        """One log line (with its newline), for writers outside the simulation (sim/runner.py)."""
        return json.dumps(RunLog.record(t_ns, source, event, **fields)) + "\n"

    def emit(self, source: str, event: str, t_ns: float | None = None, **fields: Any) -> dict[str, Any]:
        t = self.now() if t_ns is None else t_ns
        rec = self.record(t, source, event, self.clock_ns, **fields)
        if source == "checker" and fields.get("verdict") == "fail" and self.first_failure is None:
            self.first_failure = rec
        if self._f is not None:
            self._f.write(json.dumps(rec) + "\n")
            self.count += 1
            # buffered (a flush per event was a system call per TLP); a verdict is on disk at once
            if source == "checker" or self.count % 512 == 0:
                self._f.flush()
        return rec

    def verdict(self, check: str, ok: bool, **fields: Any) -> None:
        self.emit("checker", check, verdict="pass" if ok else "fail", **fields)

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


def read_events(path: Path | str) -> list[dict[str, Any]]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class DriverTrace(EventLog):
    """The driver model's EventLog (kept in memory for its checkers) that also writes to a RunLog."""

    def __init__(self, platform, runlog: RunLog | None, source: str = "driver"):
        super().__init__(platform, enabled=True, source=source)
        self.runlog = runlog

    def event(self, kind: str, **fields: Any) -> None:
        super().event(kind, **fields)
        if self.runlog is not None:
            self.runlog.emit(self.source, kind, t_ns=self.p.now_ns(), **fields)


class TestArtifacts:
    """The current test's event log and pcap, shared by every bench a test builds (some build two).

    ``current()`` opens ``<run dir>/<test>.events.jsonl`` and ``<test>.pcap`` on a test's first call and
    closes the previous test's files. Monitors register here, so a second bench in the same test replaces
    the first one's instead of logging everything twice.
    """

    _current: TestArtifacts | None = None

    def __init__(self, test: str, now: Callable[[], float] = sim_now_ns):
        from tb.pcap import PcapWriter

        self.test = test
        self.events_path = artifact_path(test, "events.jsonl")
        self.pcap_path = artifact_path(test, "pcap")
        self.log = RunLog(self.events_path, now=now)
        self.pcap = PcapWriter(self.pcap_path)
        self._monitors: list[Any] = []

    @classmethod
    def current(cls) -> TestArtifacts:
        name = current_test_name()
        if cls._current is None or cls._current.test != name:
            if cls._current is not None:
                cls._current.close()
            cls._current = cls(name)
            seed = os.environ.get("SEED") or os.environ.get("COCOTB_RANDOM_SEED", "")
            cls._current.log.emit("tb", "test_start", test=name, seed=seed)
        return cls._current

    def replace_monitors(self, *monitors: Any) -> None:
        for m in self._monitors:
            stop = getattr(m, "stop", None)
            if stop is not None:
                stop()
        self._monitors = list(monitors)

    def add_monitor(self, monitor: Any) -> None:
        self._monitors.append(monitor)

    def close(self) -> None:
        self.replace_monitors()
        self.log.close()
        self.pcap.close()
