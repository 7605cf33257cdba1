"""The driver's side: ring ordering (reference A8), the invariants of reference §10, and lost wake-ups.

The ordering rules judge the host's accesses in program order, as the platform reports them, so they hold
for any driver run on the simulation platform, not only ours. What only the driver knows (its num_free,
which tokens it queued and got back, its last_used_idx, whether its queue is stopped) comes from its trace
events, never from the driver object.
"""

from __future__ import annotations

from typing import Any

from tb.checkers.base import CLOCK_NS, Checker
from tb.checkers.shadow import u16
from tb.checkers.spec import vring_need_event

TX_QUEUE = 1


class DriverOrder(Checker):
    """5. Descriptors and avail.ring before avail.idx; notify after avail.idx; reclaim up to used.idx."""

    name = "driver_order"
    rule = (
        "the driver writes descriptors and avail.ring before the avail.idx that publishes them, never touches "
        "a published descriptor before it is returned, notifies only after avail.idx, and reads used.ring "
        "only up to the used.idx it read"
    )

    def __init__(self, hub):
        super().__init__(hub)
        self.desc_dirty: dict[int, set[int]] = {}  # queue -> descriptors written since last published
        self.slot_dirty: dict[int, set[int]] = {}  # queue -> avail.ring slots written since last published
        self.used_read: dict[int, int] = {}  # queue -> last used.idx value the driver read
        self.reclaim: dict[int, int] = {}  # queue -> next used element the driver should read
        self.forced: set[int] = set()  # queues whose next notify is add_buf's forced one (the driver's trace)

    def on_reset(self, t: float) -> None:
        for d in (self.desc_dirty, self.slot_dirty, self.used_read, self.reclaim):
            d.clear()
        self.forced.clear()

    def on_driver(self, t: float, kind: str, fields: dict) -> None:
        # Linux's vring_add_buf (2.6.24 to 3.x) notifies on a full ring, "for historical reasons ... if there are
        # outgoing parts to the buffer", while entries it added before in the same call sequence wait for the
        # kick's avail.idx write: 2.6.28's start_xmit sends the parked skb and then fails the new one. That
        # notify announces nothing; the kick that publishes notifies again. The driver traces it as forced.
        if kind == "notify" and fields.get("forced") and isinstance(fields.get("vq"), int):
            self.forced.add(fields["vq"])

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
                self.fail(
                    t,
                    f"driver wrote descriptor {slot} of queue {q.index} while it belongs to entry "
                    f"{c.index} (head {c.head}), published at cycle {int(c.t_published // CLOCK_NS)} "
                    "and not yet returned: descriptor written after avail.idx?",
                    addr=addr,
                    queue=q.index,
                )
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
                self.fail(
                    t,
                    f"driver read used.ring[{slot}] (its next element is {n}, slot {n % q.num}) after "
                    f"reading used.idx {seen}: beyond what the device published",
                    addr=addr,
                    queue=q.index,
                )
            self.reclaim[q.index] = u16(n + 1)

    def _published(self, t: float, q, addr: int) -> None:
        dirty_d = self.desc_dirty.setdefault(q.index, set())
        dirty_s = self.slot_dirty.setdefault(q.index, set())
        for c in q.last_published:
            s = c.index % q.num
            if s not in dirty_s:
                self.fail(
                    t,
                    f"avail.idx write publishes entry {c.index} but avail.ring[{s}] was not written for "
                    "it (stale head)",
                    addr=addr,
                    queue=q.index,
                )
            dirty_s.discard(s)
            stale = [d for d in c.descs if d not in dirty_d]
            if stale:
                self.fail(
                    t,
                    f"avail.idx write publishes entry {c.index} (head {c.head}) before its descriptor(s) "
                    f"{stale} were written",
                    addr=addr,
                    queue=q.index,
                )
            dirty_d.difference_update(c.descs)

    def on_host_bar(self, t: float, write: bool, bar: int, offset: int, size: int, value: int) -> None:
        qi = self.hub.notified_queue(write, bar, offset, size, value)
        if qi is None:
            return
        self.events += 1
        q = self.hub.queues.get(qi)
        if q is None:
            return
        pending = sorted(self.slot_dirty.get(q.index, set()))
        forced = q.index in self.forced
        self.forced.discard(q.index)
        if pending and not forced:
            self.fail(
                t,
                f"notify of queue {q.index} while avail.ring slot(s) {pending[:8]} are written but not "
                f"published (avail.idx {q.avail_published}): notify before the avail.idx write",
                addr=q.avail_idx_addr,
                queue=q.index,
            )


class RingInvariants(Checker):
    """6. Reference §10's invariants: descriptor accounting, avail - used <= Q, each token once."""

    name = "ring_invariants"
    rule = (
        "num_free + descriptors in flight == queue size; (avail.idx - used.idx) <= queue size; every token is "
        "queued once and freed once"
    )

    def __init__(self, hub):
        super().__init__(hub)
        self.num_free: dict[int, int] = {}  # queue -> the driver's num_free, as its last event said
        self.outstanding: dict[int, set[int]] = {}  # queue -> tokens queued and not yet returned by get_buf

    def on_reset(self, t: float) -> None:
        # a reset takes every buffer back from the device: the driver frees them without get_buf
        self.num_free.clear()
        self.outstanding.clear()

    def on_driver(self, t: float, kind: str, fields: dict[str, Any]) -> None:
        if kind not in ("add_buf", "get_buf", "detach_buf"):
            return
        self.events += 1
        vq = fields["vq"]
        self.num_free[vq] = fields["num_free"]
        tokens = self.outstanding.setdefault(vq, set())
        if kind == "add_buf":
            if fields["token"] in tokens:
                self.fail(t, f"token {fields['token']:#x} queued on queue {vq} while already queued")
            tokens.add(fields["token"])
        elif kind == "get_buf":
            if fields["token"] not in tokens:
                self.fail(
                    t,
                    f"get_buf on queue {vq} returned token {fields['token']:#x} (id {fields['id']}), which "
                    "is not queued (freed twice, or never queued)",
                )
            tokens.discard(fields["token"])

    def on_host_mem(self, t: float, write: bool, addr: int, data: bytes) -> None:
        if not write:
            return
        q = self.hub.queue_at(addr)
        if q is None or q.part(addr)[0] != "avail_idx":
            return
        self.events += 1
        self._avail_vs_used(t, q, addr)
        num_free = self.num_free.get(q.index)
        if num_free is None:
            return  # no driver trace for this queue (a hand-written ring, or a driver without a tracer)
        in_flight = sum(len(c.descs) for c in q.chains.values())
        if num_free + in_flight != q.num:
            self.fail(
                t,
                f"queue {q.index}: driver num_free {num_free} + descriptors in flight {in_flight} "
                f"(from {len(q.chains)} published chains) != queue size {q.num}",
                addr=addr,
            )

    def on_dev_write(self, t: float, addr: int, data: bytes, tlp: str) -> None:
        q = self.hub.queue_at(addr)
        if q is not None and q.part(addr)[0] == "used_idx":
            self.events += 1
            self._avail_vs_used(t, q, addr, tlp)

    def _avail_vs_used(self, t: float, q, addr: int, tlp: str | None = None) -> None:
        if u16(q.avail_published - q.used_written) > q.num:
            self.fail(
                t,
                f"queue {q.index}: avail.idx {q.avail_published} - used.idx {q.used_written} = "
                f"{u16(q.avail_published - q.used_written)} > queue size {q.num}",
                addr=addr,
                tlp=tlp,
            )


class LostWakeup(Checker):
    """The stop path's promise: a stopped queue never stays stopped while completed buffers wait."""

    name = "lost_wakeup"
    rule = (
        "the TX queue never stays stopped for more than 20 us while the device has returned buffers the "
        "driver has not reclaimed (with EVENT_IDX: past the used_event the driver asked for) (no lost wake-up)"
    )
    LIMIT_NS = 20_000.0

    def __init__(self, hub):
        super().__init__(hub)
        self.stopped = False  # the net device queue, from netif_stop / start / wake_queue events
        self.last_used_idx = 0  # the driver's, for the TX queue, from its get_buf events
        self.since: float | None = None

    def on_reset(self, t: float) -> None:
        # a device reset is the end of a driver instance (remove) or the start of one (probe)
        self.stopped = False
        self.last_used_idx = 0
        self.since = None

    def on_driver(self, t: float, kind: str, fields: dict[str, Any]) -> None:
        # a wake, a start or a reclaimed buffer ends a stretch: the queue did not *stay* stopped with buffers
        # waiting. The poll below only samples every microsecond; a queue stopped and woken once per packet
        # (a full ring, 40 cycles apart) would otherwise look stopped for good between two samples.
        if kind == "netif_stop_queue":
            self.stopped = True
        elif kind in ("netif_start_queue", "netif_wake_queue"):
            self.stopped = False
            self.since = None
        elif kind == "get_buf" and fields["vq"] == TX_QUEUE:
            self.last_used_idx = fields["last_used_idx"]
            self.since = None

    def poll(self, t: float) -> None:
        """Called periodically by the harness (every microsecond of simulated time)."""
        q = self.hub.tx_queue()
        if q is None:
            self.since = None
            return
        self.events += 1
        waiting = u16(q.used_written - self.last_used_idx)
        if waiting and self.hub.event_idx:
            # with EVENT_IDX the driver asks for its interrupt at used_event (enable_cb_delayed: about 3/4 of the
            # outstanding buffers ahead): a wake-up is owed only once the device has passed it
            used_event = self.hub.mem.read_int(q.base + q.layout.used_event, 2)
            if not vring_need_event(used_event, q.used_written, self.last_used_idx):
                waiting = 0
        if not (self.stopped and waiting):
            self.since = None
            return
        if self.since is None:
            self.since = t
        elif t - self.since > self.LIMIT_NS:
            flags = self.hub.mem.read_int(q.avail, 2)
            self.fail(
                t,
                f"TX queue stopped since cycle {int(self.since // CLOCK_NS)} while {waiting} returned "
                f"buffer(s) wait (used.idx {q.used_written}, driver last_used_idx "
                f"{self.last_used_idx}, avail.flags {flags}): a lost wake-up",
                addr=q.used_idx_addr,
            )
            self.since = None
