"""The virtio_net receive path of Linux 2.6.31 (drivers/net/virtio_net.c), as methods of ``VirtioNet``.

Read it next to the kernel text (v2.6.30/v2.6.31: the receive functions did not change between the two;
2.6.32 replaced them with add_recvbuf_* and the refill work):

- ``try_fill_recv_maxbufs``: small buffers (an skb of MAX_PACKET_LEN, the virtio_net_hdr in its own sg
  entry) or, when ``big_packets`` (GUEST_TSO4/TSO6/ECN acked), the same skb with MAX_SKB_FRAGS pages after
  it; ``try_fill_recv``: mergeable buffers (MRG_RXBUF acked: one page per buffer, header inside the page),
  else try_fill_recv_maxbufs. Both add until add_buf refuses, count ``vi->num`` / ``vi->max`` and kick once
  after the batch.
- ``skb_recv_done``: the RX virtqueue callback: napi_schedule_prep, disable_cb, __napi_schedule.
- ``virtnet_poll``: get_buf up to the budget, receive_skb each, refill when ``num < max / 2``, and when
  under budget napi_complete, enable_cb, and the re-check: ``!enable_cb && napi_schedule_prep`` ->
  disable_cb, __napi_schedule, ``goto again``.
- ``receive_skb``: the short-packet check, the mergeable num_buffers loop ("buffers missing", "packet too
  long"), pskb_trim for small/big buffers, the stats, the header's NEEDS_CSUM and GSO checks, and
  netif_receive_skb: the frame goes to ``rx_frames`` (the receive sink tests read) and to
  ``on_netif_receive_skb``.
- ``virtnet_open`` / ``virtnet_close``: napi_enable and the schedule of a poll for buffers filled before it,
  napi_disable.

What the model simplifies, each at its place: an skb is a DMA-able slot of host memory (its ``cb``, where the
virtio_net_hdr lives, is the slot's first bytes) and pages are 4096-byte DMA buffers from a bounded
allocator (``alloc_page`` can fail as GFP_ATOMIC can); netdev_alloc_skb never fails; the frame is handed to
the sink as bytes (eth_type_trans and the protocol layers are not modelled). The virtqueue is 2.6.32's
(virtio_ring.py): its add_buf returns the remaining capacity (>= 0) where 2.6.31's returned 0, so the
kernel's ``if (err)`` reads ``if err < 0`` here.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tb.driver.netstack import NapiStruct, SoftnetData
from tb.driver.virtio_net_h import (
    ETH_HLEN,
    GOOD_COPY_LEN,
    MAX_PACKET_LEN,
    MAX_SKB_FRAGS,
    PAGE_SIZE,
    VIRTIO_NET_F_GUEST_ECN,
    VIRTIO_NET_F_GUEST_TSO4,
    VIRTIO_NET_F_GUEST_TSO6,
    VIRTIO_NET_F_MRG_RXBUF,
    VIRTIO_NET_HDR_F_NEEDS_CSUM,
    VIRTIO_NET_HDR_GSO_ECN,
    VIRTIO_NET_HDR_GSO_NONE,
    VIRTIO_NET_HDR_GSO_TCPV4,
    VIRTIO_NET_HDR_GSO_TCPV6,
    VIRTIO_NET_HDR_GSO_UDP,
    VIRTIO_NET_HDR_LEN,
    VIRTIO_NET_HDR_MRG_RXBUF_LEN,
    VirtioNetHdr,
)
from tb.driver.virtio_ring import Sg, VirtQueue
from tb.platform.base import DmaBuffer, Platform

if TYPE_CHECKING:
    from tb.driver.trace import EventLog
    from tb.driver.virtio_net import GuestTiming
    from tb.driver.virtio_pci import VirtioPciLegacy

NAPI_WEIGHT = 128  # virtio_net.c: "static int napi_weight = 128;" (module parameter)
SKB_SLOT = 2048  # one skb's DMA-able memory: cb (the virtio_net_hdr) then the data
SKB_CB_ROOM = 16  # the data starts here, after the header's room (skb->cb is 48 bytes in the kernel)
MAX_PAGES = 8192  # what alloc_page may hand out before it fails (32 MiB)


@dataclass
class RxStats:
    """dev->stats, the receive fields the driver updates, and what the callbacks counted."""

    rx_packets: int = 0
    rx_bytes: int = 0
    rx_length_errors: int = 0  # short packet, buffers missing, packet too long
    rx_dropped: int = 0  # pskb_trim failed (cannot happen on the model's private skbs)
    rx_frame_errors: int = 0  # bad NEEDS_CSUM offsets, bad gso type, zero gso size
    rx_irqs: int = 0  # skb_recv_done calls
    fills: int = 0  # try_fill_recv calls
    posted: int = 0  # buffers added over all fills


@dataclass
class RxSkb:
    """An skb posted for receive: its slot (cb + linear data) and its frags (pages)."""

    slot: DmaBuffer
    linear: int  # bytes of linear data the device may write (MAX_PACKET_LEN, or 0 for mergeable buffers)
    frags: list[DmaBuffer] = field(default_factory=list)
    len: int = 0  # skb->len

    @property
    def hdr_addr(self) -> int:
        return self.slot.bus_addr

    @property
    def data_addr(self) -> int:
        return self.slot.bus_addr + SKB_CB_ROOM


class PageAllocator:
    """alloc_page(GFP_ATOMIC) over platform DMA memory, at most ``limit`` pages in use (then it fails)."""

    def __init__(self, platform: Platform, limit: int = MAX_PAGES, chunk_pages: int = 64):
        self.p = platform
        self.limit = limit
        self.chunk_pages = chunk_pages
        self.in_use = 0
        self._free: list[DmaBuffer] = []

    def alloc_page(self) -> DmaBuffer | None:
        if self.in_use >= self.limit:
            return None
        if not self._free:
            chunk = self.p.dma_alloc(self.chunk_pages * PAGE_SIZE, align=PAGE_SIZE)
            self._free = [chunk.slice(i * PAGE_SIZE, PAGE_SIZE) for i in reversed(range(self.chunk_pages))]
        self.in_use += 1
        return self._free.pop()

    def free_page(self, page: DmaBuffer) -> None:
        self.in_use -= 1
        self._free.append(page)


class SkbSlab:
    """netdev_alloc_skb: DMA-able slots of SKB_SLOT bytes, reused after kfree_skb (never fails)."""

    def __init__(self, platform: Platform, chunk_slots: int = 128):
        self.p = platform
        self.chunk_slots = chunk_slots
        self._free: list[DmaBuffer] = []
        self.in_use = 0

    def alloc(self) -> DmaBuffer:
        if not self._free:
            chunk = self.p.dma_alloc(self.chunk_slots * SKB_SLOT, align=64)
            self._free = [chunk.slice(i * SKB_SLOT, SKB_SLOT) for i in reversed(range(self.chunk_slots))]
        self.in_use += 1
        return self._free.pop()

    def free(self, slot: DmaBuffer) -> None:
        self.in_use -= 1
        self._free.append(slot)


class VirtioNetRx:
    """The receive half of ``struct virtnet_info`` and its functions; ``VirtioNet`` inherits it."""

    # what VirtioNet provides
    p: Platform
    vdev: VirtioPciLegacy
    trace: EventLog
    timing: GuestTiming
    rvq: VirtQueue | None
    _removed: bool

    def rx_init(self, napi_weight: int = NAPI_WEIGHT, max_pages: int = MAX_PAGES) -> None:
        self.rx_stats = RxStats()
        self.num = 0  # vi->num: buffers the device holds
        self.max = 0  # vi->max: the most it ever held
        self.recv: list[RxSkb] = []  # vi->recv
        self.pages: list[DmaBuffer] = []  # vi->pages: pages kept for reuse (give_a_page / get_a_page)
        self.big_packets = False
        self.mergeable_rx_bufs = False
        self.hdr_len = 10  # vi->hdr_len: sizeof(struct virtio_net_hdr) until the probe knows the features
        self.page_alloc = PageAllocator(self.p, max_pages)
        self.skb_slab = SkbSlab(self.p)
        self.softnet = SoftnetData(self.p, tracer=self.trace)
        self.napi_weight = napi_weight
        self.napi: NapiStruct | None = None
        self.opened = False
        self.rx_frames: list[bytes] = []  # the receive sink: every frame netif_receive_skb got, in order
        self.on_netif_receive_skb: Callable[[bytes], None] | None = None

    # -- pages and skbs --------------------------------------------------------------------------------
    def give_a_page(self, page: DmaBuffer) -> None:
        self.pages.append(page)

    def trim_pages(self, skb: RxSkb) -> None:
        for page in skb.frags:
            self.give_a_page(page)
        skb.len -= len(skb.frags) * PAGE_SIZE
        skb.frags = []

    def get_a_page(self) -> DmaBuffer | None:
        if self.pages:
            return self.pages.pop()
        return self.page_alloc.alloc_page()

    def kfree_rx_skb(self, skb: RxSkb) -> None:
        """kfree_skb of a receive skb: its frag pages go back to the system, not to vi->pages."""
        for page in skb.frags:
            self.page_alloc.free_page(page)
        skb.frags = []
        self.skb_slab.free(skb.slot)

    # -- probe-time setup --------------------------------------------------------------------------------
    def rx_probe_features(self) -> None:
        """virtnet_probe: "If we can receive ANY GSO packets, we must allocate large ones." (2.6.31 tests
        GUEST_TSO4, GUEST_TSO6 and GUEST_ECN; GUEST_UFO joined the test later) and MRG_RXBUF."""
        if any(
            self.vdev.has_feature(b) for b in (VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN)
        ):
            self.big_packets = True
        if self.vdev.has_feature(VIRTIO_NET_F_MRG_RXBUF):
            self.mergeable_rx_bufs = True

    def netif_napi_add(self) -> None:
        self.napi = NapiStruct(self.softnet, self.virtnet_poll, self.napi_weight, tracer=self.trace)

    # -- filling the receive ring ------------------------------------------------------------------------
    async def try_fill_recv_maxbufs(self) -> None:
        """Small buffers (hdr + MAX_PACKET_LEN), or big ones (+ MAX_SKB_FRAGS pages), until the ring is full."""
        rvq = self.rvq
        assert rvq is not None
        posted = 0
        while True:
            # skb = netdev_alloc_skb(vi->dev, MAX_PACKET_LEN); skb_put(skb, MAX_PACKET_LEN) (never fails here)
            skb = RxSkb(self.skb_slab.alloc(), MAX_PACKET_LEN, len=MAX_PACKET_LEN)
            # hdr = skb_vnet_hdr(skb); sg_set_buf(sg, hdr, sizeof(*hdr))
            sg = [Sg(skb.hdr_addr, self.hdr_len)]
            if self.big_packets:
                for _ in range(MAX_SKB_FRAGS):
                    page = self.get_a_page()
                    if page is None:
                        break  # GFP_ATOMIC failed: post with the pages we got
                    skb.frags.append(page)
                    skb.len += PAGE_SIZE
            # num = skb_to_sgvec(skb, sg+1, 0, skb->len) + 1: the linear part, then each frag
            sg.append(Sg(skb.data_addr, skb.linear))
            sg += [Sg(page.bus_addr, PAGE_SIZE) for page in skb.frags]
            self.recv.insert(0, skb)  # skb_queue_head
            err = await rvq.add_buf(sg, 0, len(sg), skb)
            if err < 0:
                self.recv.remove(skb)  # skb_unlink
                self.trim_pages(skb)
                self.kfree_rx_skb(skb)
                break
            self.trace.event(
                "rx_buf_post",
                vq=rvq.index,
                token=id(skb),
                buf="big" if self.big_packets else "small",
                sg=[(s.addr, s.length) for s in sg],
            )
            self.num += 1
            posted += 1
        await self._fill_done(posted)

    async def try_fill_recv(self) -> None:
        """Mergeable buffers (one page each, header inside it) when MRG_RXBUF was acked, else maxbufs."""
        self.rx_stats.fills += 1
        if not self.mergeable_rx_bufs:
            await self.try_fill_recv_maxbufs()
            return
        rvq = self.rvq
        assert rvq is not None
        posted = 0
        while True:
            # skb = netdev_alloc_skb(vi->dev, GOOD_COPY_LEN + NET_IP_ALIGN); skb_reserve(skb, NET_IP_ALIGN)
            skb = RxSkb(self.skb_slab.alloc(), 0)
            page = self.get_a_page()
            if page is None:
                self.kfree_rx_skb(skb)
                break
            skb.frags.append(page)  # frags[0]: the whole page, nr_frags = 1
            sg = [Sg(page.bus_addr, PAGE_SIZE)]  # sg_init_one(sg, page_address(f->page), PAGE_SIZE)
            self.recv.insert(0, skb)
            err = await rvq.add_buf(sg, 0, 1, skb)
            if err < 0:
                self.recv.remove(skb)
                self.kfree_rx_skb(skb)
                break
            self.trace.event(
                "rx_buf_post", vq=rvq.index, token=id(skb), buf="mergeable", sg=[(page.bus_addr, PAGE_SIZE)]
            )
            self.num += 1
            posted += 1
        await self._fill_done(posted)

    async def _fill_done(self, posted: int) -> None:
        """The common tail of both fills: vi->max, then one kick for the batch."""
        assert self.rvq is not None
        if posted:
            await self.p.sleep_ns(self.timing.refill_ns * posted)
        self.rx_stats.posted += posted
        if self.num > self.max:
            self.max = self.num
        self.trace.event("try_fill_recv", vq=self.rvq.index, posted=posted, num=self.num, max=self.max)
        await self.rvq.kick()

    # -- interrupt and NAPI ------------------------------------------------------------------------------
    async def skb_recv_done(self, rvq: VirtQueue) -> None:
        """Schedule NAPI, suppress further interrupts if successful."""
        assert self.napi is not None
        await self.p.sleep_ns(self.timing.irq_ns)
        self.rx_stats.rx_irqs += 1
        owned = self.napi.napi_schedule_prep()
        self.trace.event("skb_recv_done", vq=rvq.index, scheduled=owned)
        if owned:
            await rvq.disable_cb()
            self.napi.napi_schedule_prepared("skb_recv_done")

    async def virtnet_poll(self, napi: NapiStruct, budget: int) -> int:
        rvq = self.rvq
        assert rvq is not None
        received = 0
        while True:  # again:
            while received < budget:
                got = await rvq.get_buf()
                if got is None:
                    break
                skb, length = got
                self.recv.remove(skb)  # __skb_unlink
                await self.receive_skb(skb, length)
                self.num -= 1
                received += 1
            # FIXME (kernel): If we oom and completely run out of inbufs, we need to start a timer trying to fill more.
            if self.num < self.max // 2:
                await self.try_fill_recv()
            # Out of packets?
            if received < budget:
                napi.napi_complete()
                if not await rvq.enable_cb() and napi.napi_schedule_prep():
                    self.trace.event("virtnet_poll_again", vq=rvq.index, received=received)
                    await rvq.disable_cb()
                    napi.napi_schedule_prepared("virtnet_poll")
                    continue
            return received

    # -- one received buffer -----------------------------------------------------------------------------
    def _drop(self, skb: RxSkb, length: int, reason: str) -> None:
        """drop: dev_kfree_skb(skb), with the reason as an event (the kernel's pr_debug)."""
        self.trace.event("rx_drop", token=id(skb), len=length, reason=reason)
        self.kfree_rx_skb(skb)

    async def receive_skb(self, skb: RxSkb, length: int) -> None:
        assert self.rvq is not None
        await self.p.sleep_ns(self.timing.recv_ns)
        self.trace.event("receive_skb", vq=self.rvq.index, token=id(skb), len=length)
        if length < self.hdr_len + ETH_HLEN:
            # pr_debug("%s: short packet %i\n", dev->name, len)
            self.rx_stats.rx_length_errors += 1
            self._drop(skb, length, "short_packet")
            return
        pieces: list[tuple[DmaBuffer, int, int]] = []  # (buffer, offset, bytes) of the frame, in order
        if self.mergeable_rx_bufs:
            page = skb.frags[0]
            if length > PAGE_SIZE:
                length = PAGE_SIZE
            length -= VIRTIO_NET_HDR_MRG_RXBUF_LEN
            # memcpy(hdr, p, sizeof(*mhdr)): the header comes out of the page into skb->cb
            hdr = VirtioNetHdr.unpack(await page.read(0, VIRTIO_NET_HDR_MRG_RXBUF_LEN))
            # the first GOOD_COPY_LEN bytes are copied into the linear part, the rest stays in frags[0]
            # copy = min(len, skb_tailroom(skb)): the tailroom of a GOOD_COPY_LEN skb (slab rounding ignored)
            copy = min(length, GOOD_COPY_LEN)
            pieces.append((page, VIRTIO_NET_HDR_MRG_RXBUF_LEN, length))
            length -= copy
            if not length:
                self.give_a_page(page)  # all of it was copied: the page goes back to vi->pages
                skb.frags = []
            skb.len = copy + length
            num_buffers = hdr.num_buffers
            while True:
                num_buffers = (num_buffers - 1) & 0xFFFF  # while (--mhdr->num_buffers): a u16
                if not num_buffers:
                    break
                if len(skb.frags) >= MAX_SKB_FRAGS:
                    # pr_debug("%s: packet too long %d\n", dev->name, len)
                    self.rx_stats.rx_length_errors += 1
                    self._drop(skb, length, "packet_too_long")
                    return
                got = await self.rvq.get_buf()
                if got is None:
                    # pr_debug("%s: rx error: %d buffers missing\n", dev->name, mhdr->num_buffers)
                    self.rx_stats.rx_length_errors += 1
                    self.trace.event("rx_buffers_missing", token=id(skb), missing=num_buffers)
                    self._drop(skb, length, "buffers_missing")
                    return
                nskb, length = got
                self.recv.remove(nskb)  # __skb_unlink(nskb, &vi->recv)
                self.num -= 1
                npage = nskb.frags[0]
                nskb.frags = []  # its page moves to skb: skb_shinfo(nskb)->nr_frags = 0; kfree_skb(nskb)
                self.skb_slab.free(nskb.slot)
                if length > PAGE_SIZE:
                    length = PAGE_SIZE
                skb.frags.append(npage)
                skb.len += length
                pieces.append((npage, 0, length))
        else:
            hdr = VirtioNetHdr.unpack(await skb.slot.read(0, VIRTIO_NET_HDR_LEN))
            length -= self.hdr_len
            if length <= MAX_PACKET_LEN:
                self.trim_pages(skb)
            # err = pskb_trim(skb, len): trims when len < skb->len, else leaves the skb as it is; it fails only
            # when a cloned skb cannot be reallocated, which a private receive skb never is (rx_dropped)
            skb.len = min(skb.len, length)
            left = skb.len
            take = min(left, skb.linear)
            pieces.append((skb.slot, SKB_CB_ROOM, take))
            left -= take
            for page in skb.frags:
                if left <= 0:
                    break
                pieces.append((page, 0, min(left, PAGE_SIZE)))
                left -= min(left, PAGE_SIZE)
        frame = b"".join([await buf.read(off, n) for buf, off, n in pieces if n > 0])
        self.rx_stats.rx_bytes += skb.len
        self.rx_stats.rx_packets += 1
        # NEEDS_CSUM: skb_partial_csum_set fails when the checksum field does not lie inside the packet
        if hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM and (
            hdr.csum_start > skb.len - 2 or hdr.csum_start + hdr.csum_offset > skb.len - 2
        ):
            self.rx_stats.rx_frame_errors += 1
            self._drop(skb, skb.len, "frame_err_csum")
            return
        if hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE:
            if hdr.gso_type & ~VIRTIO_NET_HDR_GSO_ECN not in (
                VIRTIO_NET_HDR_GSO_TCPV4,
                VIRTIO_NET_HDR_GSO_UDP,
                VIRTIO_NET_HDR_GSO_TCPV6,
            ):
                # printk(KERN_WARNING "%s: bad gso type %u.\n", ...)
                self.rx_stats.rx_frame_errors += 1
                self._drop(skb, skb.len, "frame_err_gso_type")
                return
            if hdr.gso_size == 0:
                # printk(KERN_WARNING "%s: zero gso size.\n", ...)
                self.rx_stats.rx_frame_errors += 1
                self._drop(skb, skb.len, "frame_err_gso_size")
                return
        self.netif_receive_skb(skb, frame, hdr)

    def netif_receive_skb(self, skb: RxSkb, frame: bytes, hdr: VirtioNetHdr) -> None:
        """The stack takes the frame: into the sink, then the skb is freed (its memory is reused)."""
        self.trace.event(
            "netif_receive_skb",
            token=id(skb),
            seq=len(self.rx_frames),
            len=len(frame),
            crc32=zlib.crc32(frame),
            gso_type=hdr.gso_type,
            flags=hdr.flags,
        )
        self.rx_frames.append(frame)
        if self.on_netif_receive_skb is not None:
            self.on_netif_receive_skb(frame)
        self.kfree_rx_skb(skb)

    # -- net_device_ops --------------------------------------------------------------------------------
    async def virtnet_open(self) -> None:
        """ndo_open: napi_enable; if all buffers were filled by the other side before we napi_enabled we won't
        get another interrupt, so process any outstanding packets now (virtnet_poll re-enables the callback,
        so it is disabled here; NAPI_STATE_SCHED synchronizes against interrupts)."""
        assert self.napi is not None and self.rvq is not None
        self.napi.napi_enable()
        self.opened = True
        if self.napi.napi_schedule_prep():
            await self.rvq.disable_cb()
            self.napi.napi_schedule_prepared("virtnet_open")

    async def virtnet_close(self) -> None:
        """ndo_stop: napi_disable."""
        assert self.napi is not None
        await self.napi.napi_disable(self.p)
        self.opened = False

    def free_recv(self) -> None:
        """virtnet_remove: "Free our skbs in send and recv queues, if any." (the recv half; BUG_ON(vi->num))."""
        while self.recv:
            self.kfree_rx_skb(self.recv.pop(0))  # __skb_dequeue
            self.num -= 1
        if self.num != 0:
            raise RuntimeError(f"virtnet_remove: vi->num is {self.num} after freeing vi->recv (BUG_ON)")
        while self.pages:
            self.page_alloc.free_page(self.pages.pop())  # __free_pages(get_a_page(vi, GFP_KERNEL), 0)
