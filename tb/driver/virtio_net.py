"""The virtio_net transmit path around Linux commit b0c39dbd, as a driver model.

``VirtioNet`` is what every version shares (probe, remove, the TX interrupt callback, free_old_xmit_skbs,
xmit_skb, the ring-full stop path after netif_stop_queue); each transmit variant is a subclass with its own
``start_xmit``, to be read next to its kernel version (``VARIANTS`` maps the names scenarios use to the classes):

- ``post``     ``VirtioNetPost``, b0c39dbd: reclaim only at the start of start_xmit; TX interrupts wanted
               only when the ring is full; skb_orphan after the kick; VIRTIO_F_NOTIFY_ON_EMPTY not in the
               feature table.
- ``pre``      ``VirtioNetPre``, its parent (reference §3.2, PRE-B): skb_orphan before queuing;
               skb_xmit_done schedules xmit_tasklet, which reclaims when NOTIFY_ON_EMPTY was negotiated
               (free_in_tasklet); else a timer (HZ/10, re-armed on every packet) reclaims.
- ``pre-a``    ``VirtioNetPreA``, v2.6.28-31 (reference §3.1): as ``pre`` but a refused skb is parked in
               last_xmit_skb (a second one is dropped), kick on every call, destructor only at kfree_skb.
- ``post-cap`` ``VirtioNetPostCap``, 48925e37: stop the queue early when add_buf's capacity drops below
               2+MAX_SKB_FRAGS.

After b0c39dbd's lineage (each on the ring of its kernel, tb/driver/virtio_ring_later.py, and acking
VIRTIO_RING_F_EVENT_IDX when the device offers it):

- ``event-idx``   ``VirtioNetEventIdx``, a5c262c5fd83 (Linux 3.0, 2011): post-cap's start_xmit on the ring with
                  EVENT_IDX (used_event / avail_event instead of the flags).
- ``cb-delayed``  ``VirtioNetCbDelayed``, the delayed-callback API's use in the xmit path (Linux 3.0, 2011): the
                  capacity check turns the callback back on with virtqueue_enable_cb_delayed.
- ``napi-tx``     ``VirtioNetNapiTx``, b92f1e6751a6 transmit NAPI (Linux 4.12, 2017) as v4.19-v5.12 ran it
                  with napi_tx=1: reclaim in a NAPI poll driven by TX interrupts, skbs not orphaned, the kick by
                  virtqueue_kick_prepare / virtqueue_notify only at the end of an xmit_more batch.
- ``debian-6.1``  ``VirtioNetDebian61``, the kernel the HIL guest runs (Debian's 6.1.y): a7766ef18b33's callbacks
                  off while start_xmit reclaims, d71ebe8114b4's stop path, the 6.1 ring's event_triggered.

The receive path, the same in every variant, is 2.6.31's (tb/driver/virtio_net_rx.py, inherited by
``VirtioNet``): probe fills the RX ring before DRIVER_OK, ``open`` enables NAPI, received frames go to
``rx_frames``.

The transport: every variant runs on the legacy virtio-pci interface (tb/driver/virtio_pci.py); the variants of a
kernel with virtio 1.0 (Linux 4.0 on: ``napi-tx``, ``debian-6.1``; ``MODERN_VARIANTS``) also on the modern one
(tb/driver/virtio_pci_modern.py), chosen as virtio_pci_probe does (modern when the device has the capabilities)
unless ``transport="legacy"|"modern"`` says which; ``transport="modern"`` on an older variant is refused.

The model never imports cocotb: it awaits the Platform only. Guest CPU time is charged explicitly
(``GuestTiming``) so a scenario decides whether the host is faster or slower than the guest. It holds no
test code: the deliberate faults and race seams are test-only subclasses (tb/faults/driver.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, ClassVar

from tb.driver.netstack import (
    NETDEV_TX_BUSY,
    NETDEV_TX_OK,
    SKB_HDR_ROOM,
    KernelTimer,
    NapiStruct,
    NetDevQueue,
    ReclaimStats,
    Skb,
    Tasklet,
    TxLock,
)
from tb.driver.trace import EventLog
from tb.driver.virtio_net_h import (  # noqa: F401  (re-exported: the names users import from here)
    MAX_SKB_FRAGS,
    VIRTIO_NET_F_CSUM,
    VIRTIO_NET_F_CTRL_RX,
    VIRTIO_NET_F_CTRL_VLAN,
    VIRTIO_NET_F_CTRL_VQ,
    VIRTIO_NET_F_GSO,
    VIRTIO_NET_F_GUEST_CSUM,
    VIRTIO_NET_F_GUEST_ECN,
    VIRTIO_NET_F_GUEST_TSO4,
    VIRTIO_NET_F_GUEST_TSO6,
    VIRTIO_NET_F_GUEST_UFO,
    VIRTIO_NET_F_HOST_ECN,
    VIRTIO_NET_F_HOST_TSO4,
    VIRTIO_NET_F_HOST_TSO6,
    VIRTIO_NET_F_HOST_UFO,
    VIRTIO_NET_F_MAC,
    VIRTIO_NET_F_MRG_RXBUF,
    VIRTIO_NET_F_STATUS,
    VIRTIO_NET_S_LINK_UP,
)
from tb.driver.virtio_net_rx import VirtioNetRx
from tb.driver.virtio_pci import (
    RING_FEATURES_2009,
    RING_FEATURES_EVENT_IDX,
    VIRTIO_F_NOTIFY_ON_EMPTY,
    VIRTIO_RING_F_EVENT_IDX,
    VirtioPciLegacy,
)
from tb.driver.virtio_pci_modern import VIRTIO_F_VERSION_1, VirtioNoModern, VirtioPciModern
from tb.driver.virtio_ring import Sg, VirtQueue
from tb.driver.virtio_ring_later import VirtQueue61, VirtQueueEventIdx, VirtQueueSplit
from tb.platform.base import DmaBuffer, Platform

_POST_FEATURES = (
    VIRTIO_NET_F_CSUM,
    VIRTIO_NET_F_GUEST_CSUM,
    VIRTIO_NET_F_GSO,
    VIRTIO_NET_F_MAC,
    VIRTIO_NET_F_HOST_TSO4,
    VIRTIO_NET_F_HOST_UFO,
    VIRTIO_NET_F_HOST_TSO6,
    VIRTIO_NET_F_HOST_ECN,
    VIRTIO_NET_F_GUEST_TSO4,
    VIRTIO_NET_F_GUEST_TSO6,
    VIRTIO_NET_F_GUEST_ECN,
    VIRTIO_NET_F_GUEST_UFO,
    VIRTIO_NET_F_MRG_RXBUF,
    VIRTIO_NET_F_STATUS,
    VIRTIO_NET_F_CTRL_VQ,
    VIRTIO_NET_F_CTRL_RX,
    VIRTIO_NET_F_CTRL_VLAN,
)
# the pre-patch table still asks for NOTIFY_ON_EMPTY (b0c39dbd removed it)
_PRE_FEATURES = _POST_FEATURES + (VIRTIO_F_NOTIFY_ON_EMPTY,)


TRANSPORTS = (None, "auto", "legacy", "modern")
StartTask = Callable[[Coroutine[Any, Any, Any]], Any]


@dataclass
class GuestTiming:
    """Simulated guest CPU time per driver step, in ns. Bigger = slower guest relative to the device."""

    xmit_ns: float = 200.0  # start_xmit body (header build, sg setup) per packet
    reclaim_ns: float = 50.0  # per buffer freed in free_old_xmit_skbs
    irq_ns: float = 100.0  # interrupt entry + handler dispatch
    recv_ns: float = 150.0  # receive_skb per buffer (header checks, skb set-up, netif_receive_skb)
    refill_ns: float = 50.0  # per receive buffer posted by try_fill_recv
    timer_period_ns: float = 100e6  # HZ/10; scenarios scale it down (and print the scale)


@dataclass
class XmitStats:
    packets: int = 0  # NETDEV_TX_OK returns
    bytes: int = 0
    kicks: int = 0  # kick() calls that wrote the notify register
    tx_irqs: int = 0  # skb_xmit_done calls
    tx_irq_spurious: int = 0  # TX vector interrupts with nothing used
    tx_packets_freed: int = 0
    tx_dropped: int = 0
    reclaim: ReclaimStats = field(default_factory=ReclaimStats)
    unexpected_full: int = 0  # post-cap's dev_warn("Unexpected full queue")


class VirtioNet(VirtioNetRx):
    """``struct virtnet_info`` and what every transmit variant shares; a variant adds its ``start_xmit``.

    ``vdev`` is the virtio device the bus hands to virtnet_probe (default: the legacy PCI transport over
    ``platform``).
    """

    variant: ClassVar[str] = ""
    # the driver's feature table (virtnet_driver.feature_table)
    FEATURES: ClassVar[tuple[int, ...]] = _POST_FEATURES
    # the virtqueue of the variant's kernel, and the ring features its transport keeps (vring_transport_features)
    RING: ClassVar[type[VirtQueue]] = VirtQueue
    RING_FEATURES: ClassVar[tuple[int, ...]] = RING_FEATURES_2009
    # the virtio 1.x PCI transport (virtio_pci_modern.c) came with Linux 4.0: a variant of an older kernel
    # has only the legacy one
    MODERN: ClassVar[bool] = False
    # virtio_pci_probe calls pci_set_master from Linux 2.6.34 on (every MODERN kernel does); before, the bus
    # master bit was whatever the device had (QEMU's legacy device sets it itself)
    PCI_SET_MASTER: ClassVar[bool] = False
    # DRIVER_OK before the first receive buffers are posted and kicked: the kernels with virtio 1.x support
    # (virtnet_probe's virtio_device_ready, the receive ring filled at virtnet_open); the 2.6.31 path fills the
    # ring in probe and virtio_dev_probe sets DRIVER_OK after it, which a legacy device accepts
    DRIVER_OK_BEFORE_RX_FILL: ClassVar[bool] = False
    LEGACY_TRANSPORT: ClassVar[type[VirtioPciLegacy]] = VirtioPciLegacy
    MODERN_TRANSPORT: ClassVar[type[VirtioPciModern]] = VirtioPciModern

    def __init__(
        self,
        platform: Platform,
        use_msix: bool = True,
        timing: GuestTiming | None = None,
        tracer: EventLog | None = None,
        vdev: VirtioPciLegacy | None = None,
        transport: str | None = None,
    ):
        if not self.variant:
            raise TypeError("VirtioNet is what the variants share: build one of VARIANTS (virtio_net())")
        if transport not in TRANSPORTS:
            raise ValueError(f"transport {transport!r}: one of {TRANSPORTS} (None: as the kernel would choose)")
        if transport == "modern" and not self.MODERN:
            raise ValueError(
                f"the {self.variant} variant models a kernel before Linux 4.0 (virtio 1.0): it has only the legacy "
                "virtio-pci transport (transport='legacy', or a variant of 4.0 or later: "
                f"{', '.join(n for n, c in VARIANTS.items() if c.MODERN)})"
            )
        self.p = platform
        self.timing = timing or GuestTiming()
        self.trace = tracer or EventLog(platform, enabled=False)
        self.use_msix = use_msix
        # None / "auto": as virtio_pci_probe chooses: modern when the device has the capabilities (and the
        # kernel has the transport), else legacy; the choice is made at probe
        self.transport = transport or "auto"
        self.vdev = vdev or self.make_transport("modern" if self.transport != "legacy" and self.MODERN else "legacy")
        self.stats = XmitStats()
        self.send: list[Skb] = []  # vi->send: skbs the device holds
        self.freed: list[Skb] = []
        self.mac = b""
        self.link_up = True
        self.free_in_tasklet = False
        self.rvq: VirtQueue | None = None
        self.svq: VirtQueue | None = None
        self.cvq: VirtQueue | None = None  # set up when CTRL_VQ is acked, never used on TX
        self.queue = NetDevQueue(platform, self.hard_start_xmit, tracer=self.trace)
        self.tx_lock = TxLock(platform)
        self._removed = False
        # called with every skb freed (the scenario returns its memory to the pool)
        self.on_kfree_skb: Callable[[Skb], None] | None = None
        self.rx_init()

    def make_transport(self, kind: str) -> VirtioPciLegacy:
        cls = self.MODERN_TRANSPORT if kind == "modern" else self.LEGACY_TRANSPORT
        return cls(
            self.p,
            use_msix=self.use_msix,
            tracer=self.trace,
            allocator=DmaAllocator(self.p),
            ring=self.RING,
            ring_features=self.RING_FEATURES,
            set_master=self.PCI_SET_MASTER,
        )

    async def virtio_pci_probe(self, driver_features: int) -> int:
        """The bus's probe: the transport's feature negotiation (virtio_pci_probe tries the modern transport
        first and, when it finds no modern interface (-ENODEV), the legacy one; an explicit transport is
        tried alone)."""
        try:
            return await self.vdev.probe(driver_features)
        except VirtioNoModern:
            if self.transport != "auto":
                raise
        self.trace.event("transport_fallback", transport="legacy")
        self.vdev = self.make_transport("legacy")
        return await self.vdev.probe(driver_features)

    @classmethod
    def feature_table(cls) -> int:
        return sum(1 << b for b in cls.FEATURES)

    # -- probe / remove ---------------------------------------------------------------------------------
    async def probe(self, start_task: StartTask) -> None:
        """virtnet_probe (after virtio.c's feature negotiation); ``start_task`` starts a background task."""
        features = await self.virtio_pci_probe(self.feature_table())
        if self.vdev.has_feature(VIRTIO_NET_F_MAC):
            self.mac = await self.vdev.config_get(0, 6)
        if self.vdev.has_feature(VIRTIO_NET_F_STATUS):
            status = int.from_bytes(await self.vdev.config_get(6, 2), "little")
            self.link_up = bool(status & VIRTIO_NET_S_LINK_UP)
        # the header's size (vi->hdr_len, 4.0's virtio 1.0 support): the 12-byte virtio_net_hdr_mrg_rxbuf with
        # MRG_RXBUF or VERSION_1 (a modern device always has num_buffers), else the 10-byte virtio_net_hdr.
        # A legacy transport never acks VERSION_1, so the 2009 variants keep their 10 bytes.
        num_buffers = self.vdev.has_feature(VIRTIO_NET_F_MRG_RXBUF) or self.vdev.has_feature(VIRTIO_F_VERSION_1)
        self.hdr_len = 12 if num_buffers else 10
        # netif_napi_add(dev, &vi->napi, virtnet_poll, napi_weight); big_packets / mergeable_rx_bufs
        self.netif_napi_add()
        self.rx_probe_features()
        # We expect two virtqueues, receive then send, and optionally a control queue
        callbacks: list[Callable[[VirtQueue], Awaitable[None]] | None] = [self.skb_recv_done, self.skb_xmit_done]
        names = ["input", "output"]
        if self.vdev.has_feature(VIRTIO_NET_F_CTRL_VQ):
            callbacks.append(None)
            names.append("control")
        vqs = await self.vdev.find_vqs(callbacks, names)
        self.rvq, self.svq = vqs[0], vqs[1]
        self.cvq = vqs[2] if len(vqs) > 2 else None
        self.setup_tx_reclaim(features, start_task)
        start_task(self.queue.net_tx_action(lambda: self._removed))
        start_task(self.softnet.run(lambda: self._removed))
        if self.DRIVER_OK_BEFORE_RX_FILL:
            # virtio_device_ready(vdev) in virtnet_probe, and the receive buffers only after it (virtnet_open's
            # try_fill_recv in these kernels): a virtio 1.x driver "MUST NOT notify the device before setting
            # DRIVER_OK" (3.1.1). The fill stays here, right after DRIVER_OK, where the 2.6.31 path has it.
            await self.vdev.driver_ok()
        # register_netdev; "Last of all, set up some receive buffers."
        await self.try_fill_recv()
        # If we didn't even get one input buffer, we're useless.
        if self.num == 0:
            raise MemoryError("virtnet_probe: no receive buffer could be posted (-ENOMEM)")
        if not self.DRIVER_OK_BEFORE_RX_FILL:
            # virtio_dev_probe sets DRIVER_OK after the driver's probe returned
            await self.vdev.driver_ok()
        self.trace.event(
            "probe_done",
            variant=self.variant,
            features=features,
            free_in_tasklet=self.free_in_tasklet,
            transport=self.vdev.transport,
        )

    def setup_tx_reclaim(self, features: int, start_task: StartTask) -> None:
        """What a variant sets up in virtnet_probe to reclaim TX buffers besides start_xmit (none after
        b0c39dbd)."""

    async def open(self) -> None:
        """dev_open (``ip link set up``): ndo_open (virtnet_open), then dev_activate (the qdisc runs again)."""
        await self.virtnet_open()
        self.queue.dev_activate()

    async def close(self) -> None:
        """dev_close (``ip link set down``): dev_deactivate_many first (__dev_close_many: no start_xmit runs
        after it), then ndo_stop (virtnet_close)."""
        await self.queue.dev_deactivate()
        await self.virtnet_close()

    async def remove(self) -> None:
        """virtnet_remove: reset the device (stops it using the rings), stop timers, free recv, purge send.

        An open device is closed first, as ``ip link set down`` before the unbind does: 2.6.31's own order
        ran napi_disable in unregister_netdev after the buffers were freed and the queues deleted, a window
        in which a scheduled poll touched freed buffers (not modelled)."""
        if self.opened:
            await self.close()
        await self.vdev.reset()
        self._removed = True
        self.queue._scheduled.set()
        self.softnet.raised.set()
        self.stop_tx_reclaim()
        self.free_recv()
        for skb in list(self.send):
            self.kfree_skb(skb, "remove")
        self.send.clear()
        await self.vdev.del_vqs()

    def stop_tx_reclaim(self) -> None:
        """virtnet_remove's counterpart of ``setup_tx_reclaim``."""

    # -- callbacks (hard IRQ context) ---------------------------------------------------------------------
    async def skb_xmit_done(self, svq: VirtQueue) -> None:
        await self.p.sleep_ns(self.timing.irq_ns)
        self.stats.tx_irqs += 1
        self.trace.event("skb_xmit_done")
        # Suppress further interrupts.
        await svq.disable_cb()
        # We were probably waiting for more output buffers.
        self.queue.netif_wake_queue()

    # -- skb lifetime ---------------------------------------------------------------------------------
    def skb_orphan(self, skb: Skb) -> None:
        if skb.orphaned_ns is None and skb.destructor_ns is None:
            skb.orphaned_ns = skb.destructor_ns = self.p.now_ns()
            self.trace.event("skb_orphan", seq=skb.seq)

    def kfree_skb(self, skb: Skb, context: str) -> None:
        skb.freed_ns = self.p.now_ns()
        skb.freed_in = context
        if skb.destructor_ns is None:
            skb.destructor_ns = skb.freed_ns  # the socket's send space comes back only now
        self.freed.append(skb)
        self.trace.event("kfree_skb", seq=skb.seq, context=context)
        if self.on_kfree_skb is not None:
            self.on_kfree_skb(skb)

    # -- the transmit path -------------------------------------------------------------------------------
    async def free_old_xmit_skbs(self, context: str) -> int:
        """Reclaim everything the device has used; returns the descriptors freed (post-cap's capacity)."""
        assert self.svq is not None
        self.trace.event("reclaim_begin", context=context)
        freed = tot_sgs = 0
        while True:
            got = await self.svq.get_buf()
            if got is None:
                break
            skb: Skb = got[0]
            await self.p.sleep_ns(self.timing.reclaim_ns)
            self.send.remove(skb)
            self.stats.tx_packets_freed += 1
            tot_sgs += 2 + skb.nr_frags
            self.kfree_skb(skb, context)
            freed += 1
        self.stats.reclaim.add(context, freed)
        self.trace.event("reclaim_end", context=context, freed=freed)
        return tot_sgs

    async def xmit_skb(self, skb: Skb) -> int:
        assert self.svq is not None
        hdr_len = self.hdr_len
        # virtio_net_hdr: no checksum offload or GSO negotiated on this device: flags 0, GSO_NONE
        await skb.buf.write(0, bytes(hdr_len))
        sg = [Sg(skb.buf.bus_addr, hdr_len)]
        pieces = 1 + skb.nr_frags
        step = -(-skb.len // pieces)
        for off in range(0, skb.len, step):
            sg.append(Sg(skb.buf.bus_addr + SKB_HDR_ROOM + off, min(step, skb.len - off)))
        return await self.svq.add_buf(sg, len(sg), 0, skb)

    async def kick(self) -> None:
        assert self.svq is not None
        if await self.svq.kick():
            self.stats.kicks += 1

    async def hard_start_xmit(self, skb: Skb) -> int:
        """dev_hard_start_xmit: the qdisc calls the variant's start_xmit with the tx lock held; the guest
        CPU time of the call is charged first."""
        await self.tx_lock.acquire()
        try:
            await self.p.sleep_ns(self.timing.xmit_ns)
            self.trace.event("start_xmit", seq=skb.seq, variant=self.variant)
            ret = await self.start_xmit(skb)
            self.trace.event("start_xmit_ret", seq=skb.seq, ret=ret)
            return ret
        finally:
            self.tx_lock.release()

    async def start_xmit(self, skb: Skb) -> int:
        """dev->hard_start_xmit of the variant."""
        raise NotImplementedError

    def _accepted(self, skb: Skb) -> None:
        skb.queued_ns = self.p.now_ns()
        self.stats.packets += 1
        self.stats.bytes += skb.len

    async def restart_if_used_meanwhile(self) -> bool:
        """The ring-full stop path after netif_stop_queue, the same in every variant: turn the TX callback
        back on; if enable_cb says buffers were used meanwhile, turn it off again and restart the queue.
        True: the caller retries (goto again); False: the queue stays stopped until skb_xmit_done."""
        assert self.svq is not None
        # Activate callback for using skbs: if this returns false it means some were used in the meantime.
        if not await self.svq.enable_cb():
            await self.svq.disable_cb()
            self.queue.netif_start_queue()
            return True
        return False


class VirtioNetPost(VirtioNet):
    """b0c39dbd "virtio_net: don't free buffers in xmit ring" (Rusty Russell, September 2009; in the
    v2.6.32/33 merge window, reference §1): reclaim only at the start of start_xmit; TX interrupts wanted only
    while the queue is stopped on a full ring; skb_orphan after the kick; NOTIFY_ON_EMPTY dropped from the
    feature table. Reference §4."""

    variant = "post"

    async def start_xmit(self, skb: Skb) -> int:
        while True:  # again:
            # Free up any pending old buffers before queueing new ones.
            await self.free_old_xmit_skbs("start_xmit")
            # Put new one in send queue and actually send it.
            self.send.append(skb)
            if await self.xmit_skb(skb) >= 0:
                await self.kick()
                self._accepted(skb)
                # Don't wait up for transmitted skbs to be freed.
                self.skb_orphan(skb)
                return NETDEV_TX_OK
            # Ring too full for this packet, remove it from queue again.
            self.send.remove(skb)
            self.queue.netif_stop_queue()
            if await self.restart_if_used_meanwhile():
                continue
            return NETDEV_TX_BUSY


class VirtioNetPostCap(VirtioNetPost):
    """48925e37 "virtio_net: avoid (most) NETDEV_TX_BUSY by stopping queue early" (after b0c39dbd, about
    v2.6.34; release unverified, reference §1): add_buf's remaining capacity stops the queue before the ring
    is full (below 2 + MAX_SKB_FRAGS descriptors), so a full ring is unexpected. Reference §4.1."""

    variant = "post-cap"

    async def start_xmit(self, skb: Skb) -> int:
        assert self.svq is not None
        while True:  # again:
            await self.free_old_xmit_skbs("start_xmit")
            self.send.append(skb)
            capacity = await self.xmit_skb(skb)
            if capacity < 0:
                # This can happen with OOM and indirect buffers.
                self.send.remove(skb)
                self.queue.netif_stop_queue()
                self.stats.unexpected_full += 1
                self.trace.event("dev_warn", msg="Unexpected full queue")
                if await self.restart_if_used_meanwhile():
                    continue
                return NETDEV_TX_BUSY
            await self.kick()
            self._accepted(skb)
            self.skb_orphan(skb)
            # Apparently nice girls don't return TX_BUSY; stop the queue before it gets out of hand.
            if capacity < 2 + MAX_SKB_FRAGS:
                self.queue.netif_stop_queue()
                if not await self.svq.enable_cb():
                    # More just got used, free them then recheck.
                    capacity += await self.free_old_xmit_skbs("start_xmit")
                    if capacity >= 2 + MAX_SKB_FRAGS:
                        self.queue.netif_start_queue()
                        await self.svq.disable_cb()
            return NETDEV_TX_OK


class VirtioNetPre(VirtioNet):
    """PRE-B, the immediate parent of b0c39dbd (2009, reference §3.2; its exact text is inferred from
    b0c39dbd's diff and message): skb_orphan before queuing; NOTIFY_ON_EMPTY in the feature table;
    skb_xmit_done schedules xmit_tasklet, which reclaims when NOTIFY_ON_EMPTY was negotiated
    (free_in_tasklet), else a timer (HZ/10, re-armed on every packet) reclaims."""

    variant = "pre"
    # the pre-patch table still asks for NOTIFY_ON_EMPTY (b0c39dbd removed it)
    FEATURES = _PRE_FEATURES

    def __init__(
        self,
        platform: Platform,
        use_msix: bool = True,
        timing: GuestTiming | None = None,
        tracer: EventLog | None = None,
        vdev: VirtioPciLegacy | None = None,
        transport: str | None = None,
    ):
        super().__init__(platform, use_msix, timing, tracer, vdev, transport)
        self.timer: KernelTimer | None = None
        self.tasklet: Tasklet | None = None

    def setup_tx_reclaim(self, features: int, start_task: StartTask) -> None:
        self.free_in_tasklet = bool(features >> VIRTIO_F_NOTIFY_ON_EMPTY & 1)
        self.tasklet = Tasklet(self.p, self.xmit_tasklet)
        start_task(self.tasklet.run())
        if not self.free_in_tasklet:
            self.timer = KernelTimer(self.p, self.xmit_free)
            start_task(self.timer.run())

    def stop_tx_reclaim(self) -> None:
        if self.timer is not None:
            self.timer.del_timer_sync()
        if self.tasklet is not None:
            self.tasklet.kill()

    async def skb_xmit_done(self, svq: VirtQueue) -> None:
        await super().skb_xmit_done(svq)
        # Make sure we re-xmit last_xmit_skb: if there are no more packets queued, start_xmit won't be called.
        assert self.tasklet is not None
        self.tasklet.tasklet_schedule()

    async def xmit_skb(self, skb: Skb) -> int:
        ret = await super().xmit_skb(skb)
        if ret >= 0 and not self.free_in_tasklet:
            assert self.timer is not None
            self.timer.mod_timer(self.p.now_ns() + self.timing.timer_period_ns)
        return ret

    async def start_xmit(self, skb: Skb) -> int:
        self.skb_orphan(skb)
        while True:  # again:
            await self.free_old_xmit_skbs("start_xmit")
            self.send.append(skb)
            if await self.xmit_skb(skb) >= 0:
                await self.kick()
                self._accepted(skb)
                return NETDEV_TX_OK
            self.send.remove(skb)
            self.queue.netif_stop_queue()
            if await self.restart_if_used_meanwhile():
                continue
            return NETDEV_TX_BUSY

    # -- pre-patch reclaim paths --------------------------------------------------------------------------
    async def xmit_tasklet(self) -> None:
        """Softirq: reclaim if NOTIFY_ON_EMPTY was negotiated."""
        await self.tx_lock.acquire()
        try:
            await self.resend_parked()
            if self.free_in_tasklet:
                await self.free_old_xmit_skbs("tasklet")
        finally:
            self.tx_lock.release()

    async def resend_parked(self) -> None:
        """xmit_tasklet's first step in the versions that park a refused skb (none in PRE-B)."""

    async def xmit_free(self) -> None:
        """The 100 ms timer (scaled): reclaim, and re-arm while the device still holds buffers."""
        await self.tx_lock.acquire()
        try:
            await self.free_old_xmit_skbs("timer")
            if self.send:
                assert self.timer is not None
                self.timer.mod_timer(self.p.now_ns() + self.timing.timer_period_ns)
        finally:
            self.tx_lock.release()


class VirtioNetPreA(VirtioNetPre):
    """PRE-A, v2.6.28 to v2.6.31 (reference §3.1, verified text): as PRE-B, but a refused skb is parked in
    last_xmit_skb and NETDEV_TX_OK returned (a second refused skb is dropped); xmit_tasklet re-sends the
    parked one; a kick on every call; no skb_orphan (the destructor runs at kfree_skb)."""

    variant = "pre-a"

    def __init__(
        self,
        platform: Platform,
        use_msix: bool = True,
        timing: GuestTiming | None = None,
        tracer: EventLog | None = None,
        vdev: VirtioPciLegacy | None = None,
        transport: str | None = None,
    ):
        super().__init__(platform, use_msix, timing, tracer, vdev, transport)
        self.last_xmit_skb: Skb | None = None

    async def start_xmit(self, skb: Skb | None) -> int:
        """One refused skb parks in last_xmit_skb; the next refused one is dropped."""
        while True:  # again:
            await self.free_old_xmit_skbs("start_xmit")
            parked_blocked = False
            if self.last_xmit_skb is not None:
                if await self.xmit_skb(self.last_xmit_skb) < 0:
                    parked_blocked = True
                else:
                    self._accepted(self.last_xmit_skb)
                    self.last_xmit_skb = None
            if not parked_blocked and skb is not None:
                self.send.append(skb)
                if await self.xmit_skb(skb) >= 0:
                    self._accepted(skb)
                    skb = None
                else:
                    self.last_xmit_skb = skb
                    skb = None
                    parked_blocked = True
            if not parked_blocked:
                await self.kick()
                return NETDEV_TX_OK
            # stop_queue:
            self.queue.netif_stop_queue()
            if await self.restart_if_used_meanwhile():
                continue
            if skb is not None:
                # only one skb can be parked: the new one was never queued, drop it
                self.stats.tx_dropped += 1
                self.kfree_skb(skb, "start_xmit")
            await self.kick()
            return NETDEV_TX_OK

    async def resend_parked(self) -> None:
        """Re-send a parked skb."""
        if self.last_xmit_skb is not None and await self.xmit_skb(self.last_xmit_skb) >= 0:
            self._accepted(self.last_xmit_skb)
            await self.kick()
            self.last_xmit_skb = None


class VirtioNetEventIdx(VirtioNetPostCap):
    """a5c262c5fd83 "virtio_ring: support event idx feature" (Michael S. Tsirkin, May 2011, Linux 3.0): the
    driver is post-cap's; the ring it runs on publishes used_event (enable_cb, and get_buf while callbacks are
    on) and kicks only when vring_need_event(avail_event, new, old), once VIRTIO_RING_F_EVENT_IDX is
    negotiated ("When enabling interrupts, publish the current avail index value to the host to get
    interrupts on the next update. Use the new avail_event feature to reduce the number of exits from the
    guest."). Without it: post-cap exactly."""

    variant = "event-idx"
    PCI_SET_MASTER = True  # 3.0 (post-cap's release, 2.6.33 or 2.6.34, is unverified: it keeps 2.6.32's probe)
    RING = VirtQueueEventIdx
    RING_FEATURES = RING_FEATURES_EVENT_IDX


class VirtioNetCbDelayed(VirtioNetEventIdx):
    """7ab358c23cbf "virtio: add api for delayed callbacks" (virtqueue_enable_cb_delayed in virtio_ring) and its
    child 7a66f784375c "virtio_net: delay TX callbacks" ("Ask for delayed callbacks on TX ring full, to give the
    other side more of a chance to make progress."), Michael S. Tsirkin, May 2011, both committed 2011-05-30 for
    Linux 3.0: when the capacity check stops the queue it asks for the callback only after about 3/4 of the
    outstanding buffers are used, instead of at the next one. The text modelled is the version between that
    change and 3.0's drop-on-full: a full ring still returns NETDEV_TX_BUSY after enable_cb (reference §4.2)."""

    variant = "cb-delayed"

    async def start_xmit(self, skb: Skb) -> int:
        assert self.svq is not None
        while True:  # again:
            # Free up any pending old buffers before queueing new ones.
            await self.free_old_xmit_skbs("start_xmit")
            # Try to transmit
            self.send.append(skb)
            capacity = await self.xmit_skb(skb)
            # This can happen with OOM and indirect buffers.
            if capacity < 0:
                self.send.remove(skb)
                self.queue.netif_stop_queue()
                self.stats.unexpected_full += 1
                self.trace.event("dev_warn", msg="Unexpected full queue")
                if await self.restart_if_used_meanwhile():
                    continue
                return NETDEV_TX_BUSY
            await self.kick()
            self._accepted(skb)
            # Don't wait up for transmitted skbs to be freed.
            self.skb_orphan(skb)
            # Apparently nice girls don't return TX_BUSY; stop the queue before it gets out of hand. Naturally,
            # this wastes entries.
            if capacity < 2 + MAX_SKB_FRAGS:
                self.queue.netif_stop_queue()
                if not await self.svq_delayed().enable_cb_delayed():
                    # More just got used, free them then recheck.
                    capacity += await self.free_old_xmit_skbs("start_xmit")
                    if capacity >= 2 + MAX_SKB_FRAGS:
                        self.queue.netif_start_queue()
                        await self.svq.disable_cb()
            return NETDEV_TX_OK

    def svq_delayed(self) -> VirtQueueEventIdx:
        assert isinstance(self.svq, VirtQueueEventIdx)
        return self.svq


NAPI_POLL_WEIGHT = 64


class VirtioNetNapiTx(VirtioNet):
    """b92f1e6751a6 "virtio-net: transmit napi" (Willem de Bruijn, April 2017, Linux 4.12) as the transmit path
    of v4.19 to v5.12 ran it with the module parameter napi_tx=1 (the default only from 31c03aef9bc2
    "virtio_net: enable napi_tx by default", 5.3): "Convert virtio-net to a standard napi tx completion
    path" — skbs are no longer orphaned, TX interrupts schedule a NAPI poll (virtnet_poll_tx) that reclaims and
    wakes the queue; start_xmit re-arms the callback with virtqueue_enable_cb_delayed when it will kick; the
    queue stops at num_free < 2 + MAX_SKB_FRAGS; the kick is virtqueue_kick_prepare + virtqueue_notify, only
    for the last skb of an xmit_more list or on a stopped queue. The ring is the 4.x split ring
    (VirtQueueSplit: with EVENT_IDX, disable_cb writes nothing). The text was read in a copy of that era's
    virtio_net.c. Not modelled: virtnet_poll_cleantx (the receive NAPI reclaiming TX, which needs receive
    traffic: the receive path here is 2.6.31's)."""

    variant = "napi-tx"
    RING = VirtQueueSplit
    RING_FEATURES = RING_FEATURES_EVENT_IDX
    MODERN = True
    PCI_SET_MASTER = True
    DRIVER_OK_BEFORE_RX_FILL = True
    napi_tx: ClassVar[bool] = True
    tx_napi: NapiStruct  # the send queue's NAPI instance (sq->napi), set up in probe

    def setup_tx_reclaim(self, features: int, start_task: StartTask) -> None:
        # netif_tx_napi_add(vi->dev, &vi->sq[i].napi, virtnet_poll_tx, napi_tx ? napi_weight : 0)
        self.tx_napi = NapiStruct(
            self.softnet, self.virtnet_poll_tx, NAPI_POLL_WEIGHT if self.napi_tx else 0, tracer=self.trace, tag="tx"
        )

    async def open(self) -> None:
        await super().open()
        # virtnet_napi_tx_enable: "if (!napi->weight) return;" (the affinity hint is set: 4.19's striping)
        if self.tx_napi.weight:
            self.tx_napi.napi_enable()

    async def virtnet_close(self) -> None:
        # virtnet_close: napi_disable(&rq->napi), then virtnet_napi_tx_disable(&sq->napi)
        await super().virtnet_close()
        if self.tx_napi.weight:
            await self.tx_napi.napi_disable(self.p)

    def svq_split(self) -> VirtQueueSplit:
        assert isinstance(self.svq, VirtQueueSplit)
        return self.svq

    # -- interrupt and NAPI --------------------------------------------------------------------------------
    async def skb_xmit_done(self, svq: VirtQueue) -> None:
        await self.p.sleep_ns(self.timing.irq_ns)
        self.stats.tx_irqs += 1
        self.trace.event("skb_xmit_done")
        # Suppress further interrupts.
        await svq.disable_cb()
        if self.tx_napi.weight:
            await self.virtqueue_napi_schedule(self.tx_napi, svq, "skb_xmit_done")
        else:
            # We were probably waiting for more output buffers.
            self.queue.netif_wake_queue()

    async def virtqueue_napi_schedule(self, napi: NapiStruct, vq: VirtQueue, context: str) -> None:
        if napi.napi_schedule_prep():
            await vq.disable_cb()
            napi.napi_schedule_prepared(context)

    async def virtqueue_napi_complete(self, napi: NapiStruct, vq: VirtQueueSplit, processed: int) -> None:
        opaque = await vq.enable_cb_prepare()
        if napi.napi_complete_done(processed):
            if await vq.poll(opaque):
                await self.virtqueue_napi_schedule(napi, vq, "virtqueue_napi_complete")
        else:
            await vq.disable_cb()

    async def virtnet_poll_tx(self, napi: NapiStruct, budget: int) -> int:
        svq = self.svq_split()
        await self.tx_lock.acquire()  # __netif_tx_lock
        try:
            await self.free_old_xmit_skbs("napi")
        finally:
            self.tx_lock.release()
        await self.virtqueue_napi_complete(napi, svq, 0)
        if svq.num_free >= 2 + MAX_SKB_FRAGS:
            self.queue.netif_wake_queue()  # netif_tx_wake_queue
        return 0

    # -- the transmit path -------------------------------------------------------------------------------
    async def xmit_failed(self, skb: Skb, err: int) -> int:
        """ "This should not happen!": tx_fifo_errors, the skb dropped, NETDEV_TX_OK."""
        self.send.remove(skb)
        self.stats.unexpected_full += 1
        self.stats.tx_dropped += 1
        self.trace.event("dev_warn", msg=f"Unexpected TXQ (0) queue failure: {err}")
        self.kfree_skb(skb, "start_xmit")
        return NETDEV_TX_OK

    async def kick_if_needed(self, kick: bool) -> None:
        """The kick at the end of start_xmit: only when no skb follows (or the queue stopped)."""
        svq = self.svq_split()
        if (kick or self.queue.netif_xmit_stopped()) and await svq.kick_prepare() and await svq.virtqueue_notify():
            self.stats.kicks += 1

    async def start_xmit(self, skb: Skb) -> int:
        svq = self.svq_split()
        kick = not self.queue.netdev_xmit_more()
        use_napi = bool(self.tx_napi.weight)
        # Free up any pending old buffers before queueing new ones.
        await self.free_old_xmit_skbs("start_xmit")
        if use_napi and kick:
            await svq.enable_cb_delayed()
        # Try to transmit
        self.send.append(skb)
        err = await self.xmit_skb(skb)
        if err < 0:
            return await self.xmit_failed(skb, err)
        self._accepted(skb)
        # Don't wait up for transmitted skbs to be freed.
        if not use_napi:
            self.skb_orphan(skb)
        # If running out of space, stop queue to avoid getting packets that we are then unable to transmit.
        if svq.num_free < 2 + MAX_SKB_FRAGS:
            self.queue.netif_stop_queue()
            if not use_napi and not await svq.enable_cb_delayed():
                # More just got used, free them then recheck.
                await self.free_old_xmit_skbs("start_xmit")
                if svq.num_free >= 2 + MAX_SKB_FRAGS:
                    self.queue.netif_start_queue()
                    await svq.disable_cb()
        await self.kick_if_needed(kick)
        return NETDEV_TX_OK


class VirtioNetDebian61(VirtioNetNapiTx):
    """The transmit path of Debian's Linux 6.1.y (6.1.192 in the HIL guest), napi_tx on by default
    (31c03aef9bc2): a7766ef18b33 "virtio_net: disable cb aggressively" (2021: start_xmit reclaims with the
    callback off and re-arms it with enable_cb_delayed in a loop, only when it will kick);
    5a2f966d0f3f "virtio_net: move tx vq operation under tx queue lock" (virtnet_poll_tx disables the callback,
    reclaims, enable_cb_prepare and napi_complete_done under the tx lock, then polls); d71ebe8114b4
    "virtio-net: correctly enable callback during start_xmit" (6.1.9 as 6c939a04f138: with NAPI, a stopping
    queue re-arms the delayed callback and schedules the poll if it was passed already). The ring is 6.1's
    (VirtQueue61: 8d622d21d248's event_triggered as 6c0b057cec5e placed it in 6.1.28)."""

    variant = "debian-6.1"
    RING = VirtQueue61

    async def virtnet_poll_tx(self, napi: NapiStruct, budget: int) -> int:
        svq = self.svq_split()
        await self.tx_lock.acquire()  # __netif_tx_lock(txq, raw_smp_processor_id())
        try:
            await svq.disable_cb()
            await self.free_old_xmit_skbs("napi")
            if svq.num_free >= 2 + MAX_SKB_FRAGS:
                self.queue.netif_wake_queue()  # netif_tx_wake_queue
            opaque = await svq.enable_cb_prepare()
            done = napi.napi_complete_done(0)
            if not done:
                await svq.disable_cb()
        finally:
            self.tx_lock.release()
        if done and await svq.poll(opaque) and napi.napi_schedule_prep():
            await self.tx_lock.acquire()
            try:
                await svq.disable_cb()
            finally:
                self.tx_lock.release()
            napi.napi_schedule_prepared("virtnet_poll_tx")
        return 0

    async def start_xmit(self, skb: Skb) -> int:
        svq = self.svq_split()
        kick = not self.queue.netdev_xmit_more()
        use_napi = bool(self.tx_napi.weight)
        # Free up any pending old buffers before queueing new ones.
        while True:
            if use_napi:
                await svq.disable_cb()
            await self.free_old_xmit_skbs("start_xmit")
            if not (use_napi and kick and not await svq.enable_cb_delayed()):
                break
        # Try to transmit
        self.send.append(skb)
        err = await self.xmit_skb(skb)
        # This should not happen!
        if err < 0:
            return await self.xmit_failed(skb, err)
        self._accepted(skb)
        # Don't wait up for transmitted skbs to be freed.
        if not use_napi:
            self.skb_orphan(skb)
        # If running out of space, stop queue to avoid getting packets that we are then unable to transmit.
        if svq.num_free < 2 + MAX_SKB_FRAGS:
            self.queue.netif_stop_queue()
            if use_napi:
                if not await svq.enable_cb_delayed():
                    await self.virtqueue_napi_schedule(self.tx_napi, svq, "start_xmit")
            elif not await svq.enable_cb_delayed():
                # More just got used, free them then recheck.
                await self.free_old_xmit_skbs("start_xmit")
                if svq.num_free >= 2 + MAX_SKB_FRAGS:
                    self.queue.netif_start_queue()
                    await svq.disable_cb()
        await self.kick_if_needed(kick)
        return NETDEV_TX_OK


VARIANTS: dict[str, type[VirtioNet]] = {
    cls.variant: cls
    for cls in (
        VirtioNetPost,
        VirtioNetPre,
        VirtioNetPreA,
        VirtioNetPostCap,
        VirtioNetEventIdx,
        VirtioNetCbDelayed,
        VirtioNetNapiTx,
        VirtioNetDebian61,
    )
}
# the variants whose kernel has the virtio 1.x transport (Linux 4.0 on)
MODERN_VARIANTS = tuple(name for name, cls in VARIANTS.items() if cls.MODERN)
# the variants after b0c39dbd whose ring knows VIRTIO_RING_F_EVENT_IDX
EVENT_IDX_VARIANTS = tuple(name for name, cls in VARIANTS.items() if VIRTIO_RING_F_EVENT_IDX in cls.RING_FEATURES)


def virtio_net(platform: Platform, variant: str = "post", **kw: Any) -> VirtioNet:
    """The driver of a transmit variant (a key of VARIANTS) over ``platform``."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown transmit variant {variant!r}: one of {tuple(VARIANTS)}")
    return VARIANTS[variant](platform, **kw)


def feature_table(variant: str) -> int:
    return VARIANTS[variant].feature_table()


class DmaAllocator:
    """kmalloc(GFP_ATOMIC) for indirect tables: small DMA buffers from the platform, reused."""

    def __init__(self, platform: Platform, chunk: int = 64 * 1024):
        self.p = platform
        self.chunk = chunk
        self._free: dict[int, list[DmaBuffer]] = {}
        self._arena: DmaBuffer | None = None
        self._used = 0

    def alloc(self, size: int) -> DmaBuffer | None:
        size = (size + 15) & ~15
        pool = self._free.get(size)
        if pool:
            return pool.pop()
        if self._arena is None or self._used + size > self.chunk:
            self._arena = self.p.dma_alloc(self.chunk, align=16)
            self._used = 0
        buf = self._arena.slice(self._used, size)
        self._used += size
        return buf

    def free(self, buf: DmaBuffer) -> None:
        self._free.setdefault(buf.size, []).append(buf)
