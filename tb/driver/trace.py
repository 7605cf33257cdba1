"""Driver event log: every ring access, notify, interrupt and driver step, with platform time.

Tests dump it as JSON lines next to the wave file. ``listeners`` get each event as it happens: that is how
the simulation's checkers learn what the driver did (tb/checkers/hub.py ``driver_event``), without
holding or reading the driver itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tb.platform.base import Platform


@dataclass
class Event:
    t_ns: float
    kind: str
    fields: dict[str, Any]


class EventLog:
    """Implements the ``Tracer`` protocol of tb.driver.virtio_ring.

    There is no global "current context": interrupt handlers interleave with start_xmit at every await, so
    callers that matter (free_old_xmit_skbs) name their context in the event's fields.
    """

    def __init__(self, platform: Platform, enabled: bool = True, source: str = "driver"):
        self.p = platform
        self.enabled = enabled
        self.source = source
        self.events: list[Event] = []
        self.listeners: list[Callable[[Event], None]] = []

    def event(self, kind: str, **fields: Any) -> None:
        if self.enabled:
            e = Event(self.p.now_ns(), kind, fields)
            self.events.append(e)
            for listener in self.listeners:
                listener(e)

    def of_kind(self, *kinds: str) -> list[Event]:
        return [e for e in self.events if e.kind in kinds]

    def dump_jsonl(self, path: Path) -> None:
        with open(path, "w") as f:
            for e in self.events:
                f.write(json.dumps({"t_ns": e.t_ns, "source": self.source, "event": e.kind, **e.fields}) + "\n")
