"""The event log and pcap of the running cocotb test, as the test writes them (simulation only).

The format and where the files go are sim/events.py's (``<run dir>/<test>.events.jsonl``, one JSON line per
event with its cycle); this side knows the running test and the simulation time: ``TestArtifacts.current()``
opens the test's log and pcap, ``DriverTrace`` forwards the driver model's events into the log.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from sim.events import RunLog, artifact_path
from tb.driver.trace import EventLog
from tb.pcap import PcapWriter


def sim_now_ns() -> float:
    from cocotb.utils import get_sim_time

    return float(get_sim_time("ns"))


def current_test_name() -> str:
    """The running cocotb test's name (``a1_a2_a4_fast_device``, ``tx_end_to_end/msix=True/...``).

    cocotb 2.1 has no call that returns the running test; the public name of the test's main task
    (``cocotb.task.current_task().get_name()``, "Test <name>") carries it. Benches are built in the test's
    own coroutine, so that is the task running here; anywhere else the name is "test".
    """
    from cocotb.task import current_task

    try:
        name = current_task().get_name()
    except RuntimeError:
        return "test"
    return name.removeprefix("Test ") if name.startswith("Test ") else "test"


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
