"""The device's side of the ring rules: what it may read, the used-ring order, where it may write.

Rules 1-3 of the checker issue (reference/virtio-xmit.md §8, the spec's "Supplying Buffers" and "The
Virtqueue Used Ring"): each class judges one DMA read or write as it is seen on the PCIe streams.
"""

from __future__ import annotations

from tb.checkers.base import Checker
from tb.checkers.shadow import QueueView, u16


def _chain_regions(q: QueueView, returned: bool = False):
    """(start, end, what) of every buffer and indirect table of the chains the device still holds
    (``returned``: also those it has returned and the driver not yet reclaimed)."""
    for c in q.chains.values():
        if c.device_done and not returned:
            continue
        for a, n in c.buffers:
            yield a, a + n, f"buffer of entry {c.index} (head {c.head})"
        if c.table is not None:
            yield c.table[0], c.table[0] + c.table[1], f"indirect table of entry {c.index} (head {c.head})"


def _held_covers(q: QueueView, addr: int, end: int) -> bool:
    """[addr, end) lies inside one buffer or indirect table of a chain the device still holds. The newest
    chains first: the device reads the buffers of the chains it fetched last, while the chains it has
    returned (up to a whole ring of them, until the driver reclaims) sit at the front."""
    for c in reversed(q.chains.values()):
        if c.device_done:
            continue
        for a, n in c.buffers:
            if a <= addr and end <= a + n:
                return True
        table = c.table
        if table is not None and table[0] <= addr and end <= table[0] + table[1]:
            return True
    return False


class DeviceReadsPublished(Checker):
    """1. The device reads ring entries, descriptors and buffers only of entries published to it."""

    name = "device_reads_published"
    rule = (
        "the device reads avail.ring entries, descriptors and buffers only for entries published to it "
        "(never beyond the avail.idx it had read)"
    )

    def __init__(self, hub):
        super().__init__(hub)
        self.window: dict[int, tuple[int, int]] = {}  # queue -> (end of its last window fetch, descriptors left)

    def on_dev_read(self, t_req: float, t: float, addr: int, data: bytes, tlp: str) -> None:
        self.events += 1
        hub = self.hub
        if t_req < hub.last_reset_t:
            return  # issued before a device reset (the engine drains it): judged against queues now gone
        q = hub.queue_at(addr)
        if q is None:
            if hub.allowed_region(addr, len(data)) is not None:
                return
            end = addr + len(data)
            if any(_held_covers(vq, addr, end) for vq in hub.queues.values()):
                return
            if hub.queues or hub.driver_probed:
                self.fail(
                    t,
                    f"device read {len(data)} bytes that no published descriptor describes (and no test registered)",
                    addr=addr,
                    tlp=tlp,
                )
            return
        part, slot = q.part(addr)
        if part in ("avail_flags", "avail_idx"):
            return
        if part == "used_event" and hub.event_idx:
            return  # the interrupt decision's read with EVENT_IDX (event_idx_irq judges it)
        if part == "avail_ring":
            seen = q.device_avail_seen
            consumed = q.used_written
            for k in range(len(data) // 2):
                s = (slot + k) % q.num
                index = u16(consumed + (s - consumed) % q.num)
                if seen is None or u16(seen - index) == 0 or u16(seen - index) > q.num:
                    self.fail(
                        t,
                        f"device read avail.ring[{s}] (entry {index}) but the avail.idx it had read "
                        f"was {seen}: the entry is not published to it (used.idx {consumed})",
                        addr=q.avail_ring_addr(s),
                        tlp=tlp,
                        queue=q.index,
                    )
                    return
            return
        if part == "desc":
            # the TX engine's descriptor window (BAR2 TX_PARAMS, read from the device): one fetch of up to
            # that many consecutive descriptors starting at one the engine needs; the others are prefetched
            # and used only for heads already published when the fetch was made (descriptors of published
            # chains do not change)
            if hub.tx_params is None:
                self.fail(
                    t,
                    "device read a descriptor, but its descriptor window is unknown: the bench never read "
                    "BAR2 TX_PARAMS (tb.simulation.harness.DeviceTB.start reads it)",
                    addr=addr,
                    tlp=tlp,
                )
                return
            n = len(data) // 16
            w_end, w_left = self.window.get(q.index, (-1, 0))
            if addr == w_end and w_left >= n:
                # the rest of one descriptor-window fetch that the DMA engine split at a read boundary
                self.window[q.index] = (w_end + len(data), w_left - n)
                return
            self.window[q.index] = (addr + len(data), hub.tx_params.desc_window - n)
            owner = q.desc_owner.get(slot)
            if owner is None or owner.device_done:
                held = sorted(d for d, c in q.desc_owner.items() if not c.device_done)
                self.fail(
                    t,
                    f"device read descriptor {slot} of queue {q.index}, which belongs to no chain "
                    f"published and not yet used (in flight: {held[:8]}...)",
                    addr=addr,
                    tlp=tlp,
                    queue=q.index,
                )
            # the rest of a multi-descriptor read is the engine's descriptor window (prefetch): it may cover
            # unpublished descriptors; that the device never uses them is shown by the buffer reads above
            return
        self.fail(t, f"device read {part} of queue {q.index} ({len(data)} bytes)", addr=addr, tlp=tlp)


class UsedRingOrder(Checker):
    """2. Used elements before the used.idx write that covers them; used.idx never passes avail.idx; an
    element's len never exceeds the device-writable bytes of its chain (spec: "the total length of the
    descriptor chain which was used (written to)": 0 for a TX chain, which is all device-readable)."""

    name = "used_ring"
    rule = (
        "each used element is written before the used.idx write that covers it, with a len no larger than "
        "the device-writable bytes of its chain (0 for TX); used.idx never passes what the driver made "
        "available"
    )

    def __init__(self, hub):
        super().__init__(hub)
        self.next_slot: dict[int, int] = {}  # queue -> the slot the next element belongs in

    def on_reset(self, t: float) -> None:
        self.next_slot.clear()

    def on_dev_write(self, t: float, addr: int, data: bytes, tlp: str) -> None:
        q = self.hub.queue_at(addr)
        if q is None:
            return
        self.events += 1
        part, _slot = q.part(addr)
        if part == "used_elem":
            for slot, head, chain in q.completed_now:
                want = self.next_slot.get(q.index, 0)
                if slot != want:
                    self.fail(
                        t,
                        f"used element written to slot {slot}, the next one is slot {want}",
                        addr=addr,
                        tlp=tlp,
                        queue=q.index,
                    )
                if chain is None:
                    self.fail(
                        t,
                        f"used element in slot {slot} names id {head}, which is no published chain the device holds",
                        addr=addr,
                        tlp=tlp,
                        queue=q.index,
                    )
                else:
                    ulen = self.hub.mem.read_int(q.used_elem_addr(slot) + 4, 4)
                    if ulen > chain.writable:
                        self.fail(
                            t,
                            f"used element in slot {slot} (id {head}) has len {ulen}, but the chain has "
                            f"{chain.writable} device-writable bytes: len counts the bytes the device "
                            "wrote into the chain (0 for a TX chain)",
                            addr=q.used_elem_addr(slot) + 4,
                            tlp=tlp,
                            queue=q.index,
                        )
                self.next_slot[q.index] = (slot + 1) % q.num
        elif part == "used_idx":
            old, new = q.used_prev, q.used_written
            if u16(new - old) > u16(q.elems_written - old):
                self.fail(
                    t,
                    f"used.idx {old} -> {new} covers element(s) not written yet (elements written: {q.elems_written})",
                    addr=addr,
                    tlp=tlp,
                    queue=q.index,
                )
            if u16(q.avail_published - new) > q.num:
                self.fail(t, f"used.idx {new} passes avail.idx {q.avail_published}", addr=addr, tlp=tlp, queue=q.index)


class DmaWritesTargets(Checker):
    """3. Every device write lands in a used ring (or a device-writable buffer), never elsewhere."""

    name = "dma_write_target"
    rule = (
        "the device never writes a device-readable buffer, the descriptor table or the avail ring: every DMA "
        "write lands in the used ring or in a device-writable buffer"
    )

    def on_dev_write(self, t: float, addr: int, data: bytes, tlp: str) -> None:
        self.events += 1
        hub = self.hub
        end = addr + len(data)
        for q in hub.queues.values():
            lo, hi = q.used_area()
            if lo <= addr and end <= hi:
                return
        if hub.buffer_write is not None:
            return  # inside one device-writable buffer of a chain the device holds (an RX buffer)
        if hub.allowed_region(addr, len(data)) is not None:
            return
        what = "memory the device was not given"
        for q in hub.queues.values():
            if q.contains(addr):
                part, slot = q.part(addr)
                what = f"{part}[{slot}] of queue {q.index}"
                break
            for c in q.chains.values():
                for a, n in c.write_bufs:
                    if a < end and addr < a + n:
                        what = (
                            f"the device-writable buffer [{a:#x}, +{n}) of entry {c.index} (head {c.head}) of queue "
                            + f"{q.index}, "
                            + ("which the device had returned already" if c.device_done else "past its end")
                        )
                        break
                if what != "memory the device was not given":
                    break
            else:
                for start, stop, region in _chain_regions(q, returned=True):
                    if start < end and addr < stop:
                        what = f"the device-readable {region} of queue {q.index}"
                        break
            if what != "memory the device was not given":
                break
        self.fail(t, f"device wrote {len(data)} bytes into {what}", addr=addr, tlp=tlp, data=data[:16].hex())
