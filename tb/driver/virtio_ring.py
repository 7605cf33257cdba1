"""The split virtqueue, driver side, as Linux 2.6.32's ``drivers/virtio/virtio_ring.c`` had it.

Function names, their order of operations and the ordering points follow the kernel so the two can be read
side by side: ``add_buf`` (returns the remaining capacity, or -ENOSPC after a forced notify when out > 0),
``kick`` (virtio_wmb; publish avail.idx; virtio_mb; read used.flags; notify unless NO_NOTIFY),
``get_buf`` (read used.idx; virtio_rmb; read the used element), ``disable_cb``, ``enable_cb`` (clear
NO_INTERRUPT; virtio_mb; re-check used.idx), ``vring_interrupt``.

Every ring access is a real read or write of host memory through the platform's DmaBuffer, and every one
is reported to an optional tracer, so monitors and checkers see the same memory traffic the device sees.
The barriers are ordering points in the trace: host memory in simulation is sequentially consistent, and on
hardware Python's own accesses are too coarse to reorder.

Besides the memory traffic the tracer gets the queue's operations with their results, the only way the
checkers learn what the driver did (they never read this object): ``desc_write`` and
``indirect_table_write`` (every descriptor: address, length, flags, next; ``descs`` lists an indirect
table's entries), ``add_buf`` (head, token, num_free, return value), ``detach_buf`` (head, num_free),
``get_buf`` (id, len, token, num_free, last_used_idx), ``disable_cb`` and ``enable_cb`` (its
result). A token is named by ``id()``, as the kernel would print the ``void *data`` pointer.

This is the faithful code only: the deliberate faults the checker tests inject live in test-only
subclasses (tb/faults/driver.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tb.platform.base import DmaBuffer

# include/linux/virtio_ring.h
VRING_DESC_F_NEXT = 1
VRING_DESC_F_WRITE = 2
VRING_DESC_F_INDIRECT = 4
VRING_USED_F_NO_NOTIFY = 1
VRING_AVAIL_F_NO_INTERRUPT = 1
# "The Guest publishes the used index for which it expects an interrupt at the end of the avail ring. Host
# should ignore the avail->flags field. The Host publishes the avail index for which it expects a kick at
# the end of the used ring. Guest should ignore the used->flags field." (3.0, with vring_need_event)
VIRTIO_RING_F_EVENT_IDX = 29

ENOSPC = 28
VIRTIO_PCI_VRING_ALIGN = 4096


def vring_size(num: int, align: int = VIRTIO_PCI_VRING_ALIGN) -> int:
    """Bytes of a legacy vring of ``num`` entries (desc | avail + used_event | pad | used + avail_event)."""
    avail_end = 16 * num + 2 * (3 + num)
    return ((avail_end + align - 1) & ~(align - 1)) + 2 * 3 + 8 * num


@dataclass(frozen=True)
class VringLayout:
    """Byte offsets of the three parts of a legacy vring inside its block of memory."""

    num: int
    align: int = VIRTIO_PCI_VRING_ALIGN

    @property
    def desc(self) -> int:
        return 0

    @property
    def avail(self) -> int:
        return 16 * self.num

    @property
    def used(self) -> int:
        return (16 * self.num + 2 * (3 + self.num) + self.align - 1) & ~(self.align - 1)

    def desc_entry(self, i: int) -> int:
        return self.desc + 16 * i

    @property
    def avail_flags(self) -> int:
        return self.avail

    @property
    def avail_idx(self) -> int:
        return self.avail + 2

    def avail_ring(self, slot: int) -> int:
        return self.avail + 4 + 2 * slot

    @property
    def used_flags(self) -> int:
        return self.used

    @property
    def used_idx(self) -> int:
        return self.used + 2

    def used_elem(self, slot: int) -> int:
        return self.used + 4 + 8 * slot

    @property
    def used_event(self) -> int:
        """vring_used_event(vr): (vr)->avail->ring[(vr)->num], the driver's "interrupt me at" index."""
        return self.avail_ring(self.num)

    @property
    def avail_event(self) -> int:
        """vring_avail_event(vr): *(__u16 *)&(vr)->used->ring[(vr)->num], the device's "kick me at" index."""
        return self.used_elem(self.num)


def vring_need_event(event_idx: int, new_idx: int, old: int) -> bool:
    """include/linux/virtio_ring.h (3.0): after moving an index from ``old`` to ``new_idx``, was ``event_idx``
    crossed? "Assuming a given event_idx value from the other side, if we have just incremented index from old
    to new_idx, should we trigger an event?" All u16 arithmetic."""
    return (new_idx - event_idx - 1) & 0xFFFF < (new_idx - old) & 0xFFFF


class Tracer(Protocol):
    """Receives every driver step: ``event(kind, **fields)``. See tb.driver.trace."""

    def event(self, kind: str, **fields: Any) -> None: ...


class NullTracer:
    def event(self, kind: str, **fields: Any) -> None:
        pass


@dataclass
class Sg:
    """One scatter-gather element: bus address and length of a buffer."""

    addr: int
    length: int


class Allocator(Protocol):
    """Where indirect tables come from (kmalloc(GFP_ATOMIC) in the kernel)."""

    def alloc(self, size: int) -> DmaBuffer | None: ...

    def free(self, buf: DmaBuffer) -> None: ...


class VirtQueue:
    """``struct vring_virtqueue``: one split ring in ``mem``, driven from the driver side."""

    def __init__(
        self,
        index: int,
        num: int,
        mem: DmaBuffer,
        notify: Callable[[VirtQueue], Awaitable[None]],
        callback: Callable[[VirtQueue], Awaitable[None]] | None,
        indirect: bool = False,
        allocator: Allocator | None = None,
        tracer: Tracer | None = None,
        name: str = "",
        event: bool = False,
        align: int = VIRTIO_PCI_VRING_ALIGN,
    ):
        if num & (num - 1) or num == 0:
            raise ValueError(f"virtqueue size {num} is not a power of 2")
        self.index = index
        self.name = name or f"vq{index}"
        self.num = num
        self.mem = mem
        # the used ring's alignment: 4096 for the legacy PCI transport (one PFN names the whole ring), the
        # transport's choice for a modern one (6.1's vp_modern setup_vq asks for SMP_CACHE_BYTES)
        self.layout = VringLayout(num, align)
        self._notify = notify
        self.callback = callback
        self.indirect = indirect and allocator is not None
        self.allocator = allocator
        self.trace: Tracer = tracer or NullTracer()
        # VIRTIO_RING_F_EVENT_IDX negotiated ("Host publishes avail event idx"): only the later rings
        # (tb/driver/virtio_ring_later.py) look at it; the transport of a 2009 driver never acks the feature
        self.event = event
        # driver-private state (vring_virtqueue)
        self.num_free = num
        self.free_head = 0
        self.num_added = 0
        self.last_used_idx = 0
        self.broken = False
        self.notifies = 0  # notify writes, forced ones included
        self.forced_notifies = 0  # from add_buf on a full ring
        self.data: list[Any] = [None] * num
        self.indirect_bufs: dict[int, DmaBuffer] = {}
        # shadows of what the driver itself wrote (the kernel reads its own fields back from memory;
        # keeping them here avoids a round trip and changes nothing the device can see)
        self._avail_idx = 0
        self._avail_flags = 0
        self._desc_next = [i + 1 for i in range(num)]
        self._desc_flags = [0] * num

    @property
    def bus_addr(self) -> int:
        return self.mem.bus_addr

    # virtqueue_get_desc_addr / virtqueue_get_avail_addr / virtqueue_get_used_addr (what a modern transport
    # gives the device: three bus addresses instead of one page frame)
    @property
    def desc_addr(self) -> int:
        return self.mem.bus_addr + self.layout.desc

    @property
    def avail_addr(self) -> int:
        return self.mem.bus_addr + self.layout.avail

    @property
    def used_addr(self) -> int:
        return self.mem.bus_addr + self.layout.used

    async def init_ring(self) -> None:
        """vring_new_virtqueue: zero the ring, thread the free list through desc[].next."""
        await self.mem.write(0, bytes(vring_size(self.num, self.layout.align)))
        for i in range(self.num - 1):
            await self.mem.write_int(self.layout.desc_entry(i) + 14, i + 1, 2)
        # a virtqueue without a callback never wants interrupts
        if self.callback is None:
            self._avail_flags |= VRING_AVAIL_F_NO_INTERRUPT
            await self.mem.write_int(self.layout.avail_flags, self._avail_flags, 2)

    # -- memory helpers ------------------------------------------------------------------------------------
    async def _write_desc(self, i: int, addr: int, length: int, flags: int, nxt: int) -> None:
        await self.mem.write(
            self.layout.desc_entry(i),
            addr.to_bytes(8, "little")
            + length.to_bytes(4, "little")
            + flags.to_bytes(2, "little")
            + nxt.to_bytes(2, "little"),
        )
        self._desc_flags[i] = flags
        self._desc_next[i] = nxt
        self.trace.event("desc_write", vq=self.index, desc=i, addr=addr, len=length, flags=flags, next=nxt)

    async def _write_used_event(self, value: int) -> None:
        """vring_used_event(&vq->vring) = value (the later rings; a 2009 driver never writes it)."""
        value &= 0xFFFF
        await self.mem.write_int(self.layout.used_event, value, 2)
        self.trace.event("used_event_write", vq=self.index, value=value)

    async def _read_avail_event(self) -> int:
        """vring_avail_event(&vq->vring), read by the later rings' kick when EVENT_IDX was negotiated."""
        value = await self.mem.read_int(self.layout.avail_event, 2)
        self.trace.event("avail_event_read", vq=self.index, value=value)
        return value

    async def _read_used_idx(self) -> int:
        idx = await self.mem.read_int(self.layout.used_idx, 2)
        self.trace.event("used_idx_read", vq=self.index, value=idx)
        return idx

    # -- virtio_ring.c -----------------------------------------------------------------------------------
    async def add_buf(self, sg: Sequence[Sg], out: int, in_: int, token: Any) -> int:
        """vring_add_buf: returns remaining capacity (>= 0) or -ENOSPC."""
        assert token is not None
        assert out + in_ > 0
        if self.indirect and out + in_ > 1 and self.num_free:
            head = await self._add_indirect(sg, out, in_)
            if head >= 0:
                return await self._add_head(head, token)
        if self.num_free < out + in_:
            self.trace.event("add_buf_full", vq=self.index, needed=out + in_, num_free=self.num_free)
            # FIXME in the kernel too: "We should be able to do this..." -> notify so the host drains
            if out:
                await self.notify(forced=True)
            return -ENOSPC
        self.num_free -= out + in_
        head = i = self.free_head
        for k in range(out + in_):
            flags = VRING_DESC_F_NEXT | (VRING_DESC_F_WRITE if k >= out else 0)
            if k == out + in_ - 1:
                flags &= ~VRING_DESC_F_NEXT  # last one doesn't continue (the kernel clears it after the loop)
            await self._write_desc(i, sg[k].addr, sg[k].length, flags, self._desc_next[i])
            i = self._desc_next[i]
        self.free_head = i
        return await self._add_head(head, token)

    async def _add_indirect(self, sg: Sequence[Sg], out: int, in_: int) -> int:
        """vring_add_indirect: one ring descriptor pointing at a table of out+in descriptors."""
        assert self.allocator is not None
        table = self.allocator.alloc((out + in_) * 16)
        if table is None:
            return -1  # GFP_ATOMIC failed: fall back to direct descriptors
        raw = bytearray()
        descs = []
        for k in range(out + in_):
            flags = VRING_DESC_F_NEXT | (VRING_DESC_F_WRITE if k >= out else 0)
            nxt = k + 1
            if k == out + in_ - 1:
                flags &= ~VRING_DESC_F_NEXT
                nxt = 0
            descs.append((sg[k].addr, sg[k].length, flags, nxt))
            raw += (
                sg[k].addr.to_bytes(8, "little")
                + sg[k].length.to_bytes(4, "little")
                + flags.to_bytes(2, "little")
                + nxt.to_bytes(2, "little")
            )
        await table.write(0, bytes(raw))
        self.trace.event("indirect_table_write", vq=self.index, addr=table.bus_addr, entries=out + in_, descs=descs)
        self.num_free -= 1
        head = self.free_head
        await self._write_desc(head, table.bus_addr, (out + in_) * 16, VRING_DESC_F_INDIRECT, self._desc_next[head])
        self.indirect_bufs[head] = table
        self.free_head = self._desc_next[head]
        return head

    async def _add_head(self, head: int, token: Any) -> int:
        self.data[head] = token
        # put entry in available array (but don't update avail->idx until they do sync)
        slot = (self._avail_idx + self.num_added) % self.num
        await self.mem.write_int(self.layout.avail_ring(slot), head, 2)
        self.trace.event("avail_ring_write", vq=self.index, slot=slot, head=head)
        self.num_added += 1
        # If we're indirect, we can fit many (assuming not OOM).
        ret = (self.num if self.num_free else 0) if self.indirect else self.num_free
        self.trace.event("add_buf", vq=self.index, head=head, token=id(token), num_free=self.num_free, ret=ret)
        return ret

    async def kick(self) -> bool:
        """vring_kick: publish the added entries; notify unless the device said NO_NOTIFY."""
        # Descriptors and available array need to be set before we expose the new available array entries.
        self.trace.event("virtio_wmb", vq=self.index)
        self._avail_idx = (self._avail_idx + self.num_added) & 0xFFFF
        await self.mem.write_int(self.layout.avail_idx, self._avail_idx, 2)
        self.trace.event("avail_idx_write", vq=self.index, value=self._avail_idx, added=self.num_added)
        self.num_added = 0
        # Need to update avail index before checking if we should notify
        self.trace.event("virtio_mb", vq=self.index)
        used_flags = await self.mem.read_int(self.layout.used_flags, 2)
        self.trace.event("used_flags_read", vq=self.index, value=used_flags)
        if not used_flags & VRING_USED_F_NO_NOTIFY:
            await self.notify()
            return True
        return False

    async def notify(self, forced: bool = False) -> None:
        self.notifies += 1
        self.forced_notifies += forced
        self.trace.event("notify", vq=self.index, forced=forced)
        await self._notify(self)

    def _more_used(self, used_idx: int) -> bool:
        return self.last_used_idx != used_idx

    async def more_used(self) -> bool:
        return self._more_used(await self._read_used_idx())

    async def detach_buf(self, head: int) -> None:
        self.data[head] = None
        i = head
        if self._desc_flags[i] & VRING_DESC_F_INDIRECT:
            table = self.indirect_bufs.pop(i)
            assert self.allocator is not None
            self.allocator.free(table)
        while self._desc_flags[i] & VRING_DESC_F_NEXT:
            i = self._desc_next[i]
            self.num_free += 1
        # the kernel writes desc[i].next = free_head into the ring memory
        await self.mem.write_int(self.layout.desc_entry(i) + 14, self.free_head, 2)
        self._desc_next[i] = self.free_head
        self.free_head = head
        # Plus final descriptor
        self.num_free += 1
        self.trace.event("detach_buf", vq=self.index, head=head, num_free=self.num_free)

    async def get_buf(self) -> tuple[Any, int] | None:
        """vring_get_buf: (token, len) of the next used buffer, or None."""
        if self.broken:
            return None
        used_idx = await self._read_used_idx()
        if not self._more_used(used_idx):
            return None
        # Only get used array entries after they have been exposed by host.
        self.trace.event("virtio_rmb", vq=self.index)
        slot = self.last_used_idx % self.num
        raw = await self.mem.read(self.layout.used_elem(slot), 8)
        head = int.from_bytes(raw[0:4], "little")
        length = int.from_bytes(raw[4:8], "little")
        self.trace.event("used_elem_read", vq=self.index, slot=slot, id=head, len=length, used_idx=used_idx)
        if head >= self.num:
            self.broken = True
            self.trace.event("vq_broken", vq=self.index, reason=f"id {head} out of range")
            return None
        token = self.data[head]
        if token is None:
            self.broken = True
            self.trace.event("vq_broken", vq=self.index, reason=f"id {head} is not a head")
            return None
        # detach_buf clears data, so grab it now.
        await self.detach_buf(head)
        self.last_used_idx = (self.last_used_idx + 1) & 0xFFFF
        self.trace.event(
            "get_buf",
            vq=self.index,
            id=head,
            len=length,
            token=id(token),
            num_free=self.num_free,
            last_used_idx=self.last_used_idx,
        )
        return token, length

    async def disable_cb(self) -> None:
        """vring_disable_cb: set NO_INTERRUPT (no barrier)."""
        self._avail_flags |= VRING_AVAIL_F_NO_INTERRUPT
        await self.mem.write_int(self.layout.avail_flags, self._avail_flags, 2)
        self.trace.event("avail_flags_write", vq=self.index, value=self._avail_flags)
        self.trace.event("disable_cb", vq=self.index)

    async def enable_cb(self) -> bool:
        """vring_enable_cb: clear NO_INTERRUPT, then make sure nothing was used meanwhile."""
        # We optimistically turn back on interrupts, then check if there was more to do.
        self._avail_flags &= ~VRING_AVAIL_F_NO_INTERRUPT
        await self.mem.write_int(self.layout.avail_flags, self._avail_flags, 2)
        self.trace.event("avail_flags_write", vq=self.index, value=self._avail_flags)
        self.trace.event("virtio_mb", vq=self.index)
        ret = not await self.more_used()
        self.trace.event("enable_cb", vq=self.index, ret=ret)
        return ret

    async def vring_interrupt(self) -> bool:
        """vring_interrupt: IRQ_HANDLED (True) if there was used work and the callback ran."""
        if not await self.more_used():
            self.trace.event("vring_interrupt", vq=self.index, handled=False)
            return False
        if self.broken:
            return True
        self.trace.event("vring_interrupt", vq=self.index, handled=True)
        if self.callback is not None:
            await self.callback(self)
        return True

    def in_flight(self) -> int:
        """Descriptors the device holds or may hold (for the invariant num_free + in flight == num)."""
        return self.num - self.num_free
