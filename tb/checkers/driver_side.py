"""The driver's side: ring ordering (reference A8), the invariants of reference §10, and lost wake-ups.

These judge the host's accesses in program order, as the platform reports them, so they hold for any
driver model run on the simulation platform, not only ours.
"""

from __future__ import annotations

from typing import Any

from tb.checkers.base import CLOCK_NS, Checker
from tb.checkers.shadow import u16

VIRTIO_PCI_QUEUE_NOTIFY = 0x10


class DriverOrder(Checker):
    """5. Descriptors and avail.ring before avail.idx; notify after avail.idx; reclaim up to used.idx."""

    name = "driver_order"
    rule = ("the driver writes descriptors and avail.ring before the avail.idx that publishes them, never touches "
            "a published descriptor before it is returned, notifies only after avail.idx, and reads used.ring "
            "only up to the used.idx it read")

    def __init__(self, hub):
        super().__init__(hub)
        self.desc_dirty: dict[int, set[int]] = {}   # queue -> descriptors written since last published
        self.slot_dirty: dict[int, set[int]] = {}   # queue -> avail.ring slots written since last published
        self.used_read: dict[int, int] = {}         # queue -> last used.idx value the driver read
        self.reclaim: dict[int, int] = {}           # queue -> next used element the driver should read

    def on_reset(self, t: float) -> None:
        for d in (self.desc_dirty, self.slot_dirty, self.used_read, self.reclaim):
            d.clear()

    def on_host_mem(self, t: float, write: bool, addr: int, data: bytes) -> None:
        q = self.hub.queue_at(addr)
        if q is None:
            return
        self.events += 1
        part, slot = q.part(addr)
        if write and part == "desc":
            # the hub has already published what this write belongs to, if anything
            c = q.desc_owner.get(slot)
            if c is not None:
                self.fail(t, f"driver wrote descriptor {slot} of queue {q.index} while it belongs to entry "
                             f"{c.index} (head {c.head}), published at cycle {int(c.t_published // CLOCK_NS)} "
                             "and not yet returned: descriptor written after avail.idx?",
                          addr=addr, queue=q.index)
            self.desc_dirty.setdefault(q.index, set()).add(slot)
        elif write and part == "avail_ring":
            self.slot_dirty.setdefault(q.index, set()).add(slot)
        elif write and part == "avail_idx":
            self._published(t, q, addr)
        elif not write and part == "used_idx":
            self.used_read[q.index] = int.from_bytes(data[:2], "little")
        elif not write and part == "used_elem":
            n = self.reclaim.get(q.index, 0)
            seen = self.used_read.get(q.index, 0)
            if slot != n % q.num or u16(seen - n) == 0 or u16(seen - n) > q.num:
                self.fail(t, f"driver read used.ring[{slot}] (its next element is {n}, slot {n % q.num}) after "
                             f"reading used.idx {seen}: beyond what the device published",
                          addr=addr, queue=q.index)
            self.reclaim[q.index] = u16(n + 1)

    def _published(self, t: float, q, addr: int) -> None:
        dirty_d = self.desc_dirty.setdefault(q.index, set())
        dirty_s = self.slot_dirty.setdefault(q.index, set())
        for c in q.last_published:
            s = c.index % q.num
            if s not in dirty_s:
                self.fail(t, f"avail.idx write publishes entry {c.index} but avail.ring[{s}] was not written for "
                             "it (stale head)", addr=addr, queue=q.index)
            dirty_s.discard(s)
            stale = [d for d in c.descs if d not in dirty_d]
            if stale:
                self.fail(t, f"avail.idx write publishes entry {c.index} (head {c.head}) before its descriptor(s) "
                             f"{stale} were written", addr=addr, queue=q.index)
            dirty_d.difference_update(c.descs)

    def on_host_bar(self, t: float, write: bool, bar: int, offset: int, size: int, value: int) -> None:
        if not write or bar != 0 or offset != VIRTIO_PCI_QUEUE_NOTIFY:
            return
        self.events += 1
        q = self.hub.queues.get(value)
        if q is None:
            return
        pending = sorted(self.slot_dirty.get(q.index, set()))
        if pending:
            self.fail(t, f"notify of queue {q.index} while avail.ring slot(s) {pending[:8]} are written but not "
                         f"published (avail.idx {q.avail_published}): notify before the avail.idx write",
                      addr=q.avail + 2, queue=q.index)


class RingInvariants(Checker):
    """6. Reference §10's invariants: descriptor accounting, avail - used <= Q, each token once."""

    name = "ring_invariants"
    rule = ("num_free + descriptors in flight == queue size; (avail.idx - used.idx) <= queue size; every token is "
            "queued once and freed once")

    def __init__(self, hub):
        super().__init__(hub)
        self.vqs: list[Any] = []
        self.outstanding: dict[int, set[int]] = {}   # id(virtqueue) -> ids of tokens queued and not freed

    def attach_driver(self, net: Any) -> None:
        """Watch the driver's own accounting (num_free) and wrap add_buf/get_buf to follow the tokens."""
        for vq in (getattr(net, "svq", None), getattr(net, "rvq", None)):
            if vq is None or vq in self.vqs:
                continue
            self.vqs.append(vq)
            self._wrap(vq)

    def _wrap(self, vq) -> None:
        add_buf, get_buf = vq.add_buf, vq.get_buf
        tokens = self.outstanding.setdefault(id(vq), set())

        async def add_buf_checked(sg, out, in_, token):
            ret = await add_buf(sg, out, in_, token)
            if ret >= 0:
                if id(token) in tokens:
                    self.fail(self.hub.now(), f"token {token!r} queued on queue {vq.index} while already queued")
                tokens.add(id(token))
            return ret

        async def get_buf_checked():
            got = await get_buf()
            if got is not None:
                if id(got[0]) not in tokens:
                    self.fail(self.hub.now(), f"get_buf on queue {vq.index} returned token {got[0]!r}, which is not "
                                              "queued (freed twice, or never queued)")
                tokens.discard(id(got[0]))
            return got

        vq.add_buf, vq.get_buf = add_buf_checked, get_buf_checked

    def on_host_mem(self, t: float, write: bool, addr: int, data: bytes) -> None:
        if not write:
            return
        q = self.hub.queue_at(addr)
        if q is None or q.part(addr)[0] != "avail_idx":
            return
        self.events += 1
        self._avail_vs_used(t, q, addr)
        vq = next((v for v in self.vqs if v.index == q.index and v.bus_addr == q.base), None)
        if vq is None:
            return
        in_flight = sum(len(c.descs) for c in q.chains.values())
        if vq.num_free + in_flight != q.num:
            self.fail(t, f"queue {q.index}: driver num_free {vq.num_free} + descriptors in flight {in_flight} "
                         f"(from {len(q.chains)} published chains) != queue size {q.num}", addr=addr)

    def on_dev_write(self, t: float, addr: int, data: bytes, tlp: str) -> None:
        q = self.hub.queue_at(addr)
        if q is not None and q.part(addr)[0] == "used_idx":
            self.events += 1
            self._avail_vs_used(t, q, addr, tlp)

    def _avail_vs_used(self, t: float, q, addr: int, tlp: str | None = None) -> None:
        if u16(q.avail_published - q.used_written) > q.num:
            self.fail(t, f"queue {q.index}: avail.idx {q.avail_published} - used.idx {q.used_written} = "
                         f"{u16(q.avail_published - q.used_written)} > queue size {q.num}", addr=addr, tlp=tlp)


class LostWakeup(Checker):
    """The stop path's promise: a stopped queue never stays stopped while completed buffers wait."""

    name = "lost_wakeup"
    rule = ("the TX queue never stays stopped for more than 20 us while the device has returned buffers the "
            "driver has not reclaimed (no lost wake-up)")
    LIMIT_NS = 20_000.0

    def __init__(self, hub):
        super().__init__(hub)
        self.nets: list[Any] = []
        self.since: float | None = None

    def attach_driver(self, net: Any) -> None:
        self.nets.append(net)

    def poll(self, t: float) -> None:
        """Called periodically by the harness (every microsecond of simulated time)."""
        q = self.hub.tx_queue()
        net = self.nets[-1] if self.nets else None
        if q is None or net is None or getattr(net, "svq", None) is None:
            self.since = None
            return
        self.events += 1
        waiting = u16(q.used_written - net.svq.last_used_idx)
        if not (net.queue.stopped and waiting):
            self.since = None
            return
        if self.since is None:
            self.since = t
        elif t - self.since > self.LIMIT_NS:
            flags = self.hub.mem.read_int(q.avail, 2)
            self.fail(t, f"TX queue stopped since cycle {int(self.since // CLOCK_NS)} while {waiting} returned "
                         f"buffer(s) wait (used.idx {q.used_written}, driver last_used_idx "
                         f"{net.svq.last_used_idx}, avail.flags {flags}): a lost wake-up", addr=q.used + 2)
            self.since = None
