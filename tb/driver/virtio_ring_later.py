"""The split virtqueue as later kernels drive it: three generations after 2.6.32, each a subclass.

Read each class next to its kernel's ``drivers/virtio/virtio_ring.c``; the names, the order of operations and
the ordering points (``virtio_wmb`` / ``virtio_mb`` / ``virtio_rmb`` / ``virtio_store_mb`` trace events) are
the kernel's. What changes from generation to generation is what the device can see:

* ``VirtQueueEventIdx``, Linux 3.0 (a5c262c5fd83 "virtio_ring: support event idx feature", May 2011, and
  ``virtqueue_enable_cb_delayed`` from the same 3.0 series): with VIRTIO_RING_F_EVENT_IDX negotiated the kick
  asks ``vring_need_event(avail_event, new, old)`` instead of reading used.flags; ``enable_cb`` writes
  used_event = last_used_idx before its barrier (and still clears NO_INTERRUPT: "Always do both to keep code
  simple"); ``get_buf`` writes used_event whenever NO_INTERRUPT is clear in avail.flags; the new
  ``enable_cb_delayed`` points used_event 3/4 of the outstanding buffers ahead. avail.idx is still published in
  the kick, as in 2009.
* ``VirtQueueSplit``, Linux 4.x to 5.12 (the ring the transmit NAPI driver ran on): avail.idx published by
  every add ("virtio: expose added descriptors immediately", 2012), the kick split in ``kick_prepare`` (old =
  avail_idx_shadow - num_added) and ``notify``, avail.flags kept in a shadow and written only without
  EVENT_IDX, so ``disable_cb`` with EVENT_IDX writes nothing at all; ``enable_cb_prepare`` + ``poll``;
  used_event stores with ``virtio_store_mb``; ``add_buf`` returns 0, the driver reads ``num_free``.
* ``VirtQueue61``, Linux 6.1.y as Debian builds it: ``event_triggered`` (8d622d21d248 "virtio: fix up
  virtio_disable_cb", 2021): an interrupt marks it, ``disable_cb`` then leaves used_event alone (it sets only
  the shadow flag, 6c0b057cec5e "virtio_ring: don't update event idx on get_buf", in 6.1.28), otherwise it
  writes the placeholder used_event = 0 ("TODO: this is a hack"); ``enable_cb_prepare`` and
  ``enable_cb_delayed`` clear it.

Without EVENT_IDX every generation falls back to the flags (used.flags NO_NOTIFY for kicks, avail.flags
NO_INTERRUPT for interrupts), as its kernel did. Trace events besides the 2009 ones: ``used_event_write``
(value), ``avail_event_read`` (value), ``kick_prepare`` (old, new, event_idx, needs_kick and the avail_event or
used.flags it decided by), ``enable_cb_delayed`` (used_event, bufs, ret), ``enable_cb_prepare``
(last_used_idx), ``virtqueue_poll`` (ret).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tb.driver.virtio_ring import (
    ENOSPC,
    VRING_AVAIL_F_NO_INTERRUPT,
    VRING_DESC_F_NEXT,
    VRING_DESC_F_WRITE,
    VRING_USED_F_NO_NOTIFY,
    Sg,
    VirtQueue,
    vring_need_event,
    vring_size,
)


class VirtQueueEventIdx(VirtQueue):
    """Linux 3.0's ``vring_virtqueue``: the 2.6.32 ring plus EVENT_IDX and delayed callbacks."""

    async def kick(self) -> bool:
        """virtqueue_kick (3.0): publish, then ask avail_event (EVENT_IDX) or used.flags whether to notify."""
        # Descriptors and available array need to be set before we expose the new available array entries.
        self.trace.event("virtio_wmb", vq=self.index)
        old = self._avail_idx
        new = self._avail_idx = (old + self.num_added) & 0xFFFF
        await self.mem.write_int(self.layout.avail_idx, new, 2)
        self.trace.event("avail_idx_write", vq=self.index, value=new, added=self.num_added)
        self.num_added = 0
        # Need to update avail index before checking if we should notify
        self.trace.event("virtio_mb", vq=self.index)
        needs_kick = await self._needs_kick(old, new)
        if needs_kick:
            # Prod other side to tell it about changes.
            await self.notify()
        return needs_kick

    async def _needs_kick(self, old: int, new: int) -> bool:
        """vq->event ? vring_need_event(vring_avail_event(&vq->vring), new, old) : !(used->flags & NO_NOTIFY)."""
        if self.event:
            avail_event = await self._read_avail_event()
            needs = vring_need_event(avail_event, new, old)
            self.trace.event(
                "kick_prepare",
                vq=self.index,
                old=old,
                new=new,
                event_idx=True,
                avail_event=avail_event,
                needs_kick=needs,
            )
            return needs
        used_flags = await self.mem.read_int(self.layout.used_flags, 2)
        self.trace.event("used_flags_read", vq=self.index, value=used_flags)
        needs = not used_flags & VRING_USED_F_NO_NOTIFY
        self.trace.event(
            "kick_prepare", vq=self.index, old=old, new=new, event_idx=False, used_flags=used_flags, needs_kick=needs
        )
        return needs

    async def get_buf(self) -> tuple[Any, int] | None:
        got = await super().get_buf()
        if got is not None and not self._avail_flags & VRING_AVAIL_F_NO_INTERRUPT:
            # If we expect an interrupt for the next entry, tell host by writing event index and flush out the
            # write before the read in the next get_buf call.
            await self._write_used_event(self.last_used_idx)
            self.trace.event("virtio_mb", vq=self.index)
        return got

    async def enable_cb(self) -> bool:
        """virtqueue_enable_cb (3.0): clear NO_INTERRUPT and point used_event at the next entry, then re-check."""
        # We optimistically turn back on interrupts, then check if there was more to do.
        # Depending on the VIRTIO_RING_F_EVENT_IDX feature, we need to either clear the flags bit or point the
        # event index at the next entry. Always do both to keep code simple.
        self._avail_flags &= ~VRING_AVAIL_F_NO_INTERRUPT
        await self.mem.write_int(self.layout.avail_flags, self._avail_flags, 2)
        self.trace.event("avail_flags_write", vq=self.index, value=self._avail_flags)
        await self._write_used_event(self.last_used_idx)
        self.trace.event("virtio_mb", vq=self.index)
        ret = not await self.more_used()
        self.trace.event("enable_cb", vq=self.index, ret=ret)
        return ret

    async def enable_cb_delayed(self) -> bool:
        """virtqueue_enable_cb_delayed: "re-enables callbacks but hints to the other side to delay interrupts
        until most of the available buffers have been processed"; False if more than that many are used
        already (the caller polls instead)."""
        self._avail_flags &= ~VRING_AVAIL_F_NO_INTERRUPT
        await self.mem.write_int(self.layout.avail_flags, self._avail_flags, 2)
        self.trace.event("avail_flags_write", vq=self.index, value=self._avail_flags)
        # TODO (kernel): tune this threshold
        bufs = ((self._avail_idx - self.last_used_idx) & 0xFFFF) * 3 // 4
        await self._write_used_event(self.last_used_idx + bufs)
        self.trace.event("virtio_mb", vq=self.index)
        used_idx = await self._read_used_idx()
        ret = not (used_idx - self.last_used_idx) & 0xFFFF > bufs
        self.trace.event(
            "enable_cb_delayed", vq=self.index, used_event=(self.last_used_idx + bufs) & 0xFFFF, bufs=bufs, ret=ret
        )
        return ret


class VirtQueueSplit(VirtQueueEventIdx):
    """The split ring of Linux 4.x to 5.12: shadow avail flags and index, avail.idx published by every add, the
    kick in two halves."""

    async def init_ring(self) -> None:
        """vring_new_virtqueue / virtqueue_vring_init_split: "No callback? Tell other side not to bother us."
        (the flag goes to memory only without EVENT_IDX)."""
        await self.mem.write(0, bytes(vring_size(self.num, self.layout.align)))
        for i in range(self.num - 1):
            await self.mem.write_int(self.layout.desc_entry(i) + 14, i + 1, 2)
        if self.callback is None:
            self._avail_flags |= VRING_AVAIL_F_NO_INTERRUPT
            if not self.event:
                await self.mem.write_int(self.layout.avail_flags, self._avail_flags, 2)

    async def add_buf(self, sg: Sequence[Sg], out: int, in_: int, token: Any) -> int:
        """virtqueue_add_split: 0, or -ENOSPC (after the forced notify when out > 0, "for historical reasons")."""
        assert token is not None
        assert out + in_ > 0
        head = -1
        if self.indirect and out + in_ > 1 and self.num_free:
            head = await self._add_indirect(sg, out, in_)
        if head < 0:
            if self.num_free < out + in_:
                self.trace.event("add_buf_full", vq=self.index, needed=out + in_, num_free=self.num_free)
                # FIXME (kernel): for historical reasons, we force a notify here if there are outgoing parts to
                # the buffer. Presumably the host should service the ring ASAP.
                if out:
                    await self.notify(forced=True)
                return -ENOSPC
            self.num_free -= out + in_
            head = i = self.free_head
            for k in range(out + in_):
                flags = VRING_DESC_F_NEXT | (VRING_DESC_F_WRITE if k >= out else 0)
                if k == out + in_ - 1:
                    flags &= ~VRING_DESC_F_NEXT
                await self._write_desc(i, sg[k].addr, sg[k].length, flags, self._desc_next[i])
                i = self._desc_next[i]
            self.free_head = i
        self.data[head] = token
        # Put entry in available array (but don't update avail->idx until they do sync).
        slot = self._avail_idx % self.num
        await self.mem.write_int(self.layout.avail_ring(slot), head, 2)
        self.trace.event("avail_ring_write", vq=self.index, slot=slot, head=head)
        # (num_free was taken above; the event says so before the entry is exposed, as for the 2009 ring)
        self.trace.event("add_buf", vq=self.index, head=head, token=id(token), num_free=self.num_free, ret=0)
        # Descriptors and available array need to be set before we expose the new available array entries.
        self.trace.event("virtio_wmb", vq=self.index)
        self._avail_idx = (self._avail_idx + 1) & 0xFFFF
        await self.mem.write_int(self.layout.avail_idx, self._avail_idx, 2)
        self.trace.event("avail_idx_write", vq=self.index, value=self._avail_idx, added=1)
        self.num_added += 1
        return 0

    async def kick_prepare(self) -> bool:
        """virtqueue_kick_prepare_split: "We need to expose available array entries before checking avail
        event."""
        self.trace.event("virtio_mb", vq=self.index)
        old = (self._avail_idx - self.num_added) & 0xFFFF
        new = self._avail_idx
        self.num_added = 0
        return await self._needs_kick(old, new)

    async def virtqueue_notify(self) -> bool:
        """virtqueue_notify: False (and nothing written) on a broken queue."""
        if self.broken:
            return False
        await self.notify()
        return True

    async def kick(self) -> bool:
        """virtqueue_kick: kick_prepare, then notify if it said so."""
        if await self.kick_prepare():
            return await self.virtqueue_notify()
        return False

    async def get_buf(self) -> tuple[Any, int] | None:
        got = await VirtQueue.get_buf(self)
        if got is not None and not self._avail_flags & VRING_AVAIL_F_NO_INTERRUPT:
            # If we expect an interrupt for the next entry, tell host by writing event index and flush out the
            # write before the read in the next get_buf call.
            await self._write_used_event(self.last_used_idx)
            self.trace.event("virtio_store_mb", vq=self.index)
        return got

    async def _flags_to_memory(self) -> None:
        """The avail.flags write both callback halves make, only without EVENT_IDX."""
        await self.mem.write_int(self.layout.avail_flags, self._avail_flags, 2)
        self.trace.event("avail_flags_write", vq=self.index, value=self._avail_flags)

    async def disable_cb(self) -> None:
        """virtqueue_disable_cb_split: set the shadow flag; with EVENT_IDX nothing goes to memory."""
        if not self._avail_flags & VRING_AVAIL_F_NO_INTERRUPT:
            self._avail_flags |= VRING_AVAIL_F_NO_INTERRUPT
            if not self.event:
                await self._flags_to_memory()
        self.trace.event("disable_cb", vq=self.index)

    async def enable_cb_prepare(self) -> int:
        """virtqueue_enable_cb_prepare_split: turn callbacks back on; returns the last_used_idx to poll against."""
        # We optimistically turn back on interrupts, then check if there was more to do.
        if self._avail_flags & VRING_AVAIL_F_NO_INTERRUPT:
            self._avail_flags &= ~VRING_AVAIL_F_NO_INTERRUPT
            if not self.event:
                await self._flags_to_memory()
        last_used_idx = self.last_used_idx
        await self._write_used_event(last_used_idx)
        self.trace.event("enable_cb_prepare", vq=self.index, last_used_idx=last_used_idx)
        return last_used_idx

    async def poll(self, last_used_idx: int) -> bool:
        """virtqueue_poll: virtio_mb, then True if the device used more than ``last_used_idx``."""
        self.trace.event("virtio_mb", vq=self.index)
        ret = (last_used_idx & 0xFFFF) != await self._read_used_idx()
        self.trace.event("virtqueue_poll", vq=self.index, ret=ret)
        return ret

    async def enable_cb(self) -> bool:
        """virtqueue_enable_cb: enable_cb_prepare, then !poll."""
        ret = not await self.poll(await self.enable_cb_prepare())
        self.trace.event("enable_cb", vq=self.index, ret=ret)
        return ret

    async def enable_cb_delayed(self) -> bool:
        """virtqueue_enable_cb_delayed_split."""
        if self._avail_flags & VRING_AVAIL_F_NO_INTERRUPT:
            self._avail_flags &= ~VRING_AVAIL_F_NO_INTERRUPT
            if not self.event:
                await self._flags_to_memory()
        # TODO (kernel): tune this threshold
        bufs = ((self._avail_idx - self.last_used_idx) & 0xFFFF) * 3 // 4
        await self._write_used_event(self.last_used_idx + bufs)
        self.trace.event("virtio_store_mb", vq=self.index)
        used_idx = await self._read_used_idx()
        ret = not (used_idx - self.last_used_idx) & 0xFFFF > bufs
        self.trace.event(
            "enable_cb_delayed", vq=self.index, used_event=(self.last_used_idx + bufs) & 0xFFFF, bufs=bufs, ret=ret
        )
        return ret


class VirtQueue61(VirtQueueSplit):
    """The split ring of Debian's Linux 6.1.y: ``event_triggered`` (8d622d21d248) with the placement of
    6c0b057cec5e (6.1.28), and the used_event = 0 placeholder of ``disable_cb``."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # Hint for event idx: already triggered no need to disable.
        self.event_triggered = False

    async def vring_interrupt(self) -> bool:
        if not await self.more_used():
            self.trace.event("vring_interrupt", vq=self.index, handled=False)
            return False
        if self.broken:
            return True
        # Just a hint for performance: so it's ok that this can be racy!
        if self.event:
            self.event_triggered = True
        self.trace.event("vring_interrupt", vq=self.index, handled=True)
        if self.callback is not None:
            await self.callback(self)
        return True

    async def disable_cb(self) -> None:
        """virtqueue_disable_cb_split (6.1.28+): shadow flag; if the device triggered an event already it won't
        trigger one again: no need to disable; else used_event = 0 (EVENT_IDX) or the flags write."""
        if not self._avail_flags & VRING_AVAIL_F_NO_INTERRUPT:
            self._avail_flags |= VRING_AVAIL_F_NO_INTERRUPT
            if not self.event_triggered:
                if self.event:
                    # TODO (kernel): this is a hack. Figure out a cleaner value to write.
                    await self._write_used_event(0)
                else:
                    await self._flags_to_memory()
        self.trace.event("disable_cb", vq=self.index, event_triggered=self.event_triggered)

    async def enable_cb_prepare(self) -> int:
        if self.event_triggered:
            self.event_triggered = False
        return await super().enable_cb_prepare()

    async def enable_cb_delayed(self) -> bool:
        if self.event_triggered:
            self.event_triggered = False
        return await super().enable_cb_delayed()
