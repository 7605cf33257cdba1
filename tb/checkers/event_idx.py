"""The EVENT_IDX rules (VIRTIO_F_EVENT_IDX negotiated), both ways, as events only.

* ``event_idx_irq`` (device): a queue interrupts exactly when its used.idx update crossed the used_event the
  device read after it. The decision read is the device's first read covering used_event after a used.idx
  write of that queue; ``old`` is the used index of the queue's previous decision (0 after a reset), so a
  batched push counts as one move. MUST when ``vring_need_event(used_event, new, old)`` (spec 2.7.7.2: "If
  the idx field in the used ring ... was equal to used_event, the device MUST send a notification"), or when
  the ring was empty as the device last read avail.idx and NOTIFY_ON_EMPTY was negotiated (legacy 6.3, which
  EVENT_IDX does not lift); MAY when empty and the device mode is noe_policy ALWAYS; anything else is "not
  justified" (SHOULD NOT). avail.flags is not looked at: "The device MUST ignore the lower bit of flags".
  Interrupts are matched to decisions as ``irq_legality`` matches them (its window, INTx levels).
* ``event_idx_kick`` (driver): the driver notifies a queue exactly when its kick decision says so. The
  decision is the driver's read of avail_event (the kernel reads it only there, after the barrier that
  follows publishing avail.idx); ``new`` is the avail.idx it had published, ``old`` what it had published at
  its previous decision; a notify is owed iff ``vring_need_event(avail_event, new, old)`` (2.7.10.2: "MUST
  send a notification" when avail_event was crossed, "SHOULD NOT" otherwise; used.flags is ignored). A
  decision that owed one must have its notify before the driver publishes again or decides again. One
  notify per ``add_buf_full`` trace event is allowed besides: the kernel's forced notify on a full ring
  ("for historical reasons").
* ``avail_event_idle`` (device): on the TX queue, once the device has returned every entry it read (used.idx
  = the avail.idx it read last) and then made no access to the queue for ``LIMIT_NS``, avail_event must hold
  that index, the next one it will read. A device that sleeps with avail_event behind never gets the kick
  for what the driver adds next: the driver's vring_need_event over [old, new) never crosses a stale
  avail_event (the hang hypervisor projects keep meeting). Reported once per idle stretch.

Every number is read from the events: the device's read data, the driver's reads and writes of the ring in
host memory, its notify register writes, its trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tb.checkers.base import CLOCK_NS, Checker
from tb.checkers.interrupts import QUEUE_NAMES, TX_QUEUE, Decision, InterruptLegality
from tb.checkers.shadow import u16
from tb.checkers.spec import (
    VIRTIO_F_NOTIFY_ON_EMPTY,
    vring_need_event,
)
from tb.device.dev_ctrl import NoePolicy


class EventIdxInterrupts(InterruptLegality):
    name = "event_idx_irq"
    rule = (
        "with EVENT_IDX, a queue interrupts exactly when its used.idx update crossed the used_event the device read "
        "after it (vring_need_event(used_event, new, old), old = the used index of its previous decision), or on an "
        "empty ring with NOTIFY_ON_EMPTY negotiated (noe_policy ALWAYS: may); avail.flags NO_INTERRUPT is ignored"
    )

    def __init__(self, hub):
        super().__init__(hub)
        self.signalled: dict[int, int] = {}  # queue -> used index of its previous decision

    def active(self) -> bool:
        return self.hub.event_idx

    def on_host_bar(self, t: float, write: bool, bar: int, offset: int, size: int, value: int) -> None:
        super().on_host_bar(t, write, bar, offset, size, value)
        if self.hub.is_reset_write(write, bar, offset, size, value):
            self.signalled.clear()

    def on_reset(self, t: float) -> None:
        super().on_reset(t)
        self.signalled.clear()

    def on_dev_write(self, t: float, addr: int, data: bytes, tlp: str) -> None:
        q = self.hub.queue_at(addr)
        if self.active() and q is not None and q.index in self.QUEUES and q.part(addr)[0] == "used_idx":
            self.after_used.add(q.index)

    def on_dev_read(self, t_req: float, t: float, addr: int, data: bytes, tlp: str) -> None:
        if not self.active():
            return
        q = self.hub.queue_at(addr)
        if q is None or q.index not in self.after_used:
            return
        ue_addr = q.base + q.layout.used_event
        if not addr <= ue_addr <= addr + len(data) - 2:
            return
        self.after_used.discard(q.index)
        self.events += 1
        self._expire(t)
        off = ue_addr - addr
        used_event = int.from_bytes(data[off : off + 2], "little")
        new = q.used_written
        old = self.signalled.get(q.index, 0)
        self.signalled[q.index] = new
        crossed = vring_need_event(used_event, new, old)
        seen = q.device_avail_seen
        empty = seen is not None and u16(seen - new) == 0
        noe = bool(self.hub.guest_features >> VIRTIO_F_NOTIFY_ON_EMPTY & 1)
        detail = f"read used_event={used_event} after used.idx {old} -> {new}"
        if crossed:
            must, why = True, f"used_event {used_event} crossed (vring_need_event: MUST)"
        elif empty and noe:
            must, why = True, "ring empty and NOTIFY_ON_EMPTY negotiated (MUST)"
        elif empty and self.hub.noe_policy == NoePolicy.ALWAYS:
            must, why = False, "ring empty and noe_policy ALWAYS (MAY)"
        else:
            self.last[q.index] = Decision(
                q.index, t, 0, seen or 0, new, empty, False, f"used_event {used_event} not crossed", detail=detail
            )
            return
        d = Decision(q.index, t, 0, seen or 0, new, empty, must, why, detail=detail)
        self.last[q.index] = d
        if must and self._intx_mode() and self.intx_level:
            d.covered = True
        self.open.append(d)


@dataclass
class KickDecision:
    t: float
    avail_event: int
    old: int
    new: int
    owed: bool
    notified: bool = False


class EventIdxKicks(Checker):
    name = "event_idx_kick"
    rule = (
        "with EVENT_IDX the driver notifies a queue exactly when vring_need_event(avail_event as it read it, new, "
        "old) says so, new/old the avail.idx it had published at this and at its previous decision, before it "
        "publishes or decides again (a forced notify on a full ring, add_buf_full, aside); used.flags is ignored"
    )

    def __init__(self, hub):
        super().__init__(hub)
        self.decided_upto: dict[int, int] = {}  # queue -> avail.idx published at its previous decision
        self.pending: dict[int, KickDecision] = {}  # queue -> its latest decision
        self.forced: dict[int, int] = {}  # queue -> forced notifies the trace announced

    def on_reset(self, t: float) -> None:
        self.decided_upto.clear()
        self.pending.clear()
        self.forced.clear()

    def _close(self, t: float, queue: int, what: str) -> None:
        d = self.pending.pop(queue, None)
        if d is not None and d.owed and not d.notified:
            self.fail(
                t,
                f"queue {queue}: the kick decision at cycle {int(d.t // CLOCK_NS)} read avail_event={d.avail_event} "
                f"with avail.idx {d.old} -> {d.new} (crossed: a notify is owed) and no notify followed before "
                f"{what}",
                queue=queue,
            )

    def on_driver(self, t: float, kind: str, fields: dict[str, Any]) -> None:
        if kind == "add_buf_full":
            vq = fields["vq"]
            self.forced[vq] = self.forced.get(vq, 0) + 1

    def on_host_mem(self, t: float, write: bool, addr: int, data: bytes) -> None:
        if not self.hub.event_idx:
            return
        q = self.hub.queue_at(addr)
        if q is None:
            return
        part = q.part(addr)[0]
        if write and part == "avail_idx":
            self._close(t, q.index, "the next avail.idx write")
        elif not write and part == "avail_event" and len(data) >= 2:
            self.events += 1
            self._close(t, q.index, "the next kick decision")
            avail_event = int.from_bytes(data[:2], "little")
            new = q.avail_published
            old = self.decided_upto.get(q.index, 0)
            self.decided_upto[q.index] = new
            self.pending[q.index] = KickDecision(t, avail_event, old, new, vring_need_event(avail_event, new, old))

    def on_host_bar(self, t: float, write: bool, bar: int, offset: int, size: int, value: int) -> None:
        qi = self.hub.notified_queue(write, bar, offset, size, value)
        if qi is None or not self.hub.event_idx:
            return
        q = self.hub.queues.get(qi)
        if q is None:
            return
        self.events += 1
        d = self.pending.get(q.index)
        if d is not None and d.owed and not d.notified:
            d.notified = True
            return
        if self.forced.get(q.index):
            self.forced[q.index] -= 1
            return
        if d is None:
            seen = "no kick decision (avail_event read) since the last one was closed"
        else:
            seen = (
                f"its kick decision at cycle {int(d.t // CLOCK_NS)} read avail_event={d.avail_event} with avail.idx "
                f"{d.old} -> {d.new}: " + ("already notified" if d.owed else "not crossed")
            )
        self.fail(t, f"notify of queue {q.index} not asked for: {seen}", addr=q.avail_idx_addr, queue=q.index)

    def finish(self, t: float) -> None:
        for queue in list(self.pending):
            self._close(t, queue, "the end of the run")


class AvailEventIdle(Checker):
    name = "avail_event_idle"
    rule = (
        "with EVENT_IDX, a TX queue that has returned every entry it read and stays idle holds avail_event at the "
        "next index it will read (the avail.idx it read last): else the driver's next kick is suppressed (hang)"
    )
    LIMIT_NS = 5_000.0

    def __init__(self, hub):
        super().__init__(hub)
        self.last_access = 0.0  # the device's last DMA to the TX queue's ring
        self.reported = False

    def on_reset(self, t: float) -> None:
        self.last_access = t
        self.reported = False

    def _touch(self, t: float, addr: int) -> None:
        q = self.hub.tx_queue()
        if q is not None and q.contains(addr):
            self.last_access = t
            self.reported = False

    def on_dev_read(self, t_req: float, t: float, addr: int, data: bytes, tlp: str) -> None:
        self._touch(t, addr)

    def on_dev_write(self, t: float, addr: int, data: bytes, tlp: str) -> None:
        self._touch(t, addr)

    def poll(self, t: float) -> None:
        q = self.hub.tx_queue()
        if q is None or not self.hub.event_idx or self.reported:
            return
        self.events += 1
        nxt = q.device_avail_seen or 0
        if u16(q.used_written - nxt) != 0 or t - self.last_access < self.LIMIT_NS:
            return  # still working (or waiting for the wire): avail_event may lag while it runs
        avail_event_addr = q.base + q.layout.avail_event
        avail_event = self.hub.mem.read_int(avail_event_addr, 2)
        if avail_event == nxt:
            return
        self.reported = True
        waiting = u16(q.avail_published - nxt)
        self.fail(
            t,
            f"{QUEUE_NAMES[TX_QUEUE]} queue idle since cycle {int(self.last_access // CLOCK_NS)} after returning "
            f"everything up to index {nxt}, but avail_event is {avail_event}, not {nxt}: the driver kicks only when "
            f"its avail.idx crosses avail_event"
            + (
                f"; {waiting} entr{'y' if waiting == 1 else 'ies'} published since wait without a kick"
                if waiting
                else ""
            ),
            addr=avail_event_addr,
        )
