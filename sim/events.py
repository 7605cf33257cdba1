"""The per-test event log format: JSON lines of (cycle, time, source, event, fields) in a run directory.

Sources: ``pcie`` (every TLP on CQ/CC/RQ/RC, decoded), ``irq`` (the DUT's MSI-X and INTx lines), ``driver``
(the driver model's steps: ring accesses, notifies, interrupts, reclaims), ``wire`` (frames leaving the
device) and ``checker`` (verdicts: each checker, the test's end). One line per event::

    {"cycle": 5321, "time_ns": 21284.0, "source": "pcie", "event": "tlp", "stream": "rq", ...}

``cycle`` counts user_clk periods (250 MHz, 4 ns) from time 0. The simulation side writes the logs
(tb/simulation/eventlog.py: what the test saw, as it happens); this side owns where they go
(``<run dir>/<test>.events.jsonl``, the run directory in $TB_ARTIFACTS_DIR, set by sim/runner.py) and reads
them back (the runner's failure report, the wave tools). Standard library only.
"""

from __future__ import annotations

import atexit
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

USER_CLK_NS = 4.0
ARTIFACTS_ENV = "TB_ARTIFACTS_DIR"  # set by sim/runner.py to the run directory


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
    """The JSON-lines writer. ``now`` gives simulation time in ns."""

    def __init__(self, path: Path | str, now: Callable[[], float], clock_ns: float = USER_CLK_NS):
        self.path = Path(path)
        self.now = now
        self.clock_ns = clock_ns
        self._f: TextIO | None = open(self.path, "w")  # noqa: SIM115 - open for the whole test, closed by close()
        atexit.register(self.close)  # the last test's log is complete when the simulator exits
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
