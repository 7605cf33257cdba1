"""Driver event log: every ring access, notify, interrupt and driver step, with platform time.

Tests dump it as JSON lines next to the wave file. ``listeners`` get each event as it happens: that is how
the simulation's checkers learn what the driver did (tb/checkers/hub.py ``driver_event``), without
holding or reading the driver itself.

Receive-path events (tb/driver/virtio_net_rx.py, tb/driver/netstack.py), besides the ring's own
(``desc_write`` / ``indirect_table_write`` carry every descriptor's address, length and flags, so the WRITE
flag of each RX buffer is visible; ``add_buf``, ``get_buf``, ``disable_cb``, ``enable_cb`` with ``ret``):

* ``rx_buf_post`` (vq, token, buf: small / big / mergeable, sg: [(addr, len)]): one buffer try_fill_recv
  added; ``try_fill_recv`` (vq, posted, num, max): the end of a fill, right before its kick;
* ``skb_recv_done`` (vq, scheduled): the RX callback and whether it won napi_schedule_prep;
* ``napi_schedule`` (context: skb_recv_done / virtnet_poll / virtnet_open), ``napi_complete``,
  ``napi_enable``, ``napi_disable_begin`` (DISABLE set: no schedule succeeds from here), ``napi_disable``;
  ``napi_poll`` (weight) and ``napi_poll_ret`` (work) around each poll;
* ``virtnet_poll_again`` (vq, received): enable_cb found used buffers after napi_complete and the poll
  rescheduled itself (the NAPI re-check);
* ``receive_skb`` (vq, token, len: used.len); ``netif_receive_skb`` (token, seq, len, crc32, gso_type,
  flags): a frame delivered, ``seq`` its index in the driver's receive sink;
* ``rx_drop`` (token, len, reason: short_packet / buffers_missing / packet_too_long / frame_err_csum /
  frame_err_gso_type / frame_err_gso_size); ``rx_buffers_missing`` (token, missing);
* ``fault`` (vq, fault, ...): a test-only fault acted (tb/faults/driver.py).
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

    # the keys every event log line has (dump_jsonl here, the simulation's RunLog): not field names
    RESERVED = frozenset(("t_ns", "source", "event"))

    def event(self, kind: str, **fields: Any) -> None:
        if not self.RESERVED.isdisjoint(fields):
            raise ValueError(f"trace event {kind!r}: field names {sorted(self.RESERVED & fields.keys())} are reserved")
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
