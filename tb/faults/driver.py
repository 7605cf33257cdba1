"""Test-only driver faults and race seams: subclasses of the faithful driver, never part of it.

Each fault breaks one ring rule on purpose so a checker test (tests/sim/test_checkers.py) can show that
checker fire; ``TB_FAULT=<name>`` turns one on in any transmit test. They act on a ``FaultyVirtQueue``, which
the ``FaultyVirtioPci`` transport builds in place of every ``VirtQueue``; ``faulty_driver`` makes a driver of any
transmit variant over that transport. A fault is off until its name is added to the queue's ``faults``
(the transmit bench does it after the probe, on the TX queue only).

* ``publish_before_desc``: add_buf publishes avail.ring and avail.idx, then writes the descriptors;
* ``kick_before_publish``: kick notifies before it writes avail.idx;
* ``leak_desc``: detach_buf loses one descriptor of the chain in the num_free accounting;
* ``skip_enable_cb_recheck``: enable_cb clears NO_INTERRUPT without re-reading used.idx (a lost wake-up).

EVENT_IDX faults (the later rings, tb/driver/virtio_ring_later.py):

* ``kick_always``: the kick decision reads avail_event and notifies whatever it says;
* ``kick_never``: it reads avail_event and never notifies (the device hears of nothing after its first run);
* ``skip_enable_cb_delayed_recheck``: enable_cb_delayed writes used_event but does not look at used.idx
  again (it acts as if nothing had been used since last_used_idx): a crossing that happened before the
  used_event write is never noticed.

The race seams: ``race_hook``, when set, is awaited at the start of every enable_cb, i.e. in the stop path
right before enable_cb's avail.flags write, so a test can place a device completion at any cycle around it.
On the RX queue that is the window between virtnet_poll's napi_complete and its enable_cb.
``delayed_race_hook``, when set, is awaited with the point of enable_cb_delayed it stands at: ``enter``
(before anything), ``before_used_event`` and ``after_used_event`` (around the used_event write: before the
barrier and the used.idx re-read), ``exit`` (after the decision): on the model device, where the driver's
steps take no time, a device completion can so land at each program point around the used_event write.

The modern transport's status-sequence faults (``MODERN_DRIVER_FAULTS``, ``FaultyVirtioPciModern``, given to
``faulty_driver(modern_faults=...)``): ``notify_before_driver_ok`` (2.6.31's probe order: the receive ring
filled and kicked before DRIVER_OK), ``skip_features_ok``, ``features_after_ok``, ``ignore_features_ok`` (the
modern status checker, tb/checkers/modern_status.py, catches each).

Receive-path faults (``RX_DRIVER_FAULTS``; not TB_FAULT names yet: no simulation test receives):

* ``rx_no_write_flag`` (on the RX queue's ``faults``): add_buf publishes the device-writable buffers of a
  chain without VRING_DESC_F_WRITE;
* ``skip_napi_recheck`` (on the driver's ``rx_faults``): virtnet_poll ignores enable_cb's result after
  napi_complete, so a buffer used between napi_complete and enable_cb waits for an interrupt that NO_INTERRUPT
  suppressed (the race the NAPI re-check exists for).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tb.driver.netstack import NapiStruct
from tb.driver.trace import EventLog
from tb.driver.virtio_net import VARIANTS, GuestTiming, VirtioNet
from tb.driver.virtio_pci import VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, VirtioPciLegacy
from tb.driver.virtio_pci_modern import VIRTIO_CONFIG_S_FEATURES_OK, VirtioPciModern
from tb.driver.virtio_ring import VRING_AVAIL_F_NO_INTERRUPT, Sg, VirtQueue
from tb.platform.base import DmaBuffer, Platform

EVENT_IDX_DRIVER_FAULTS = ("kick_always", "kick_never", "skip_enable_cb_delayed_recheck")
# TB_FAULT names (the EVENT_IDX ones act only on the later rings, with EVENT_IDX negotiated)
DRIVER_FAULTS = (
    "publish_before_desc",
    "kick_before_publish",
    "leak_desc",
    "skip_enable_cb_recheck",
) + EVENT_IDX_DRIVER_FAULTS
DELAYED_RACE_POINTS = ("enter", "before_used_event", "after_used_event", "exit")
RX_DRIVER_FAULTS = ("rx_no_write_flag", "skip_napi_recheck")
# the modern transport's status-sequence faults (FaultyVirtioPciModern; faulty_driver(modern_faults=...))
MODERN_DRIVER_FAULTS = ("skip_features_ok", "features_after_ok", "ignore_features_ok", "notify_before_driver_ok")


class FaultyVirtQueue(VirtQueue):
    """A VirtQueue that breaks the rules named in ``faults`` and offers the race seams. Used as a mixin in
    front of the ring of the driver's kernel (``faulty_ring``); alone it is the 2.6.32 ring."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.faults: set[str] = set()
        self.race_hook: Callable[[], Awaitable[None]] | None = None
        self.delayed_race_hook: Callable[[str], Awaitable[None]] | None = None
        self._held_descs: list[tuple[int, int, int, int, int]] | None = None
        self._notify_done = False
        self._in_delayed = False
        self._blind_used_idx = False

    # -- EVENT_IDX faults and the enable_cb_delayed seam (the later rings only) ---------------------------
    async def _needs_kick(self, old: int, new: int) -> bool:
        needs: bool = await super()._needs_kick(old, new)  # type: ignore[misc]
        for fault, forced in (("kick_always", True), ("kick_never", False)):
            if fault in self.faults and needs != forced:
                # FAULT: the decision was read and is not followed
                self.trace.event("fault", vq=self.index, fault=fault, needs_kick=needs)
                return forced
        return needs

    async def _read_used_idx(self) -> int:
        if self._blind_used_idx:
            # FAULT: the re-check is skipped; what was used since last_used_idx is not seen
            self.trace.event("fault", vq=self.index, fault="skip_enable_cb_delayed_recheck")
            return self.last_used_idx
        return await super()._read_used_idx()

    async def _write_used_event(self, value: int) -> None:
        if self._in_delayed and self.delayed_race_hook is not None:
            await self.delayed_race_hook("before_used_event")
        await super()._write_used_event(value)
        if self._in_delayed and self.delayed_race_hook is not None:
            await self.delayed_race_hook("after_used_event")
        if self._in_delayed and "skip_enable_cb_delayed_recheck" in self.faults:
            self._blind_used_idx = True

    async def enable_cb_delayed(self) -> bool:
        if self.delayed_race_hook is not None:
            await self.delayed_race_hook("enter")
        self._in_delayed = True
        try:
            ret: bool = await super().enable_cb_delayed()  # type: ignore[misc]
        finally:
            self._in_delayed = self._blind_used_idx = False
        if self.delayed_race_hook is not None:
            await self.delayed_race_hook("exit")
        return ret

    async def add_buf(self, sg: Sequence[Sg], out: int, in_: int, token: Any) -> int:
        if "rx_no_write_flag" in self.faults and in_:
            # FAULT: the buffers the device should write are published device-readable
            self.trace.event("fault", vq=self.index, fault="rx_no_write_flag")
            out, in_ = out + in_, 0
        if "publish_before_desc" not in self.faults:
            return await super().add_buf(sg, out, in_, token)
        # FAULT: the device may see the entry before its chain: hold the descriptor writes back, publish
        # avail.idx right after the avail.ring entry, then write the descriptors
        self._held_descs = []
        try:
            ret = await super().add_buf(sg, out, in_, token)
        finally:
            held, self._held_descs = self._held_descs, None
        if ret >= 0:
            self._avail_idx = (self._avail_idx + self.num_added) & 0xFFFF
            await self.mem.write_int(self.layout.avail_idx, self._avail_idx, 2)
            self.trace.event("avail_idx_write", vq=self.index, value=self._avail_idx, fault="publish_before_desc")
            self.num_added = 0  # kick() publishes nothing new
        for d in held:
            await super()._write_desc(*d)
        return ret

    async def _write_desc(self, i: int, addr: int, length: int, flags: int, nxt: int) -> None:
        if self._held_descs is None:
            await super()._write_desc(i, addr, length, flags, nxt)
            return
        self._held_descs.append((i, addr, length, flags, nxt))
        self._desc_flags[i] = flags  # the driver's own view is current (add_buf walks _desc_next)
        self._desc_next[i] = nxt

    async def kick(self) -> bool:
        if "kick_before_publish" in self.faults and self.num_added:
            # FAULT: notify, then publish (and no second notify after the used.flags read)
            await self.notify()
            self._notify_done = True
            try:
                await super().kick()
            finally:
                self._notify_done = False
            return True
        return await super().kick()

    async def notify(self, forced: bool = False) -> None:
        if self._notify_done:
            return
        await super().notify(forced)

    async def detach_buf(self, head: int) -> None:
        await super().detach_buf(head)
        if "leak_desc" in self.faults:
            self.num_free -= 1  # FAULT: the accounting loses one descriptor per chain

    async def enable_cb(self) -> bool:
        if self.race_hook is not None:
            await self.race_hook()
        if "skip_enable_cb_recheck" not in self.faults:
            return await super().enable_cb()
        # FAULT: NO_INTERRUPT cleared, used.idx not re-read: a completion in between is never noticed
        self._avail_flags &= ~VRING_AVAIL_F_NO_INTERRUPT
        await self.mem.write_int(self.layout.avail_flags, self._avail_flags, 2)
        self.trace.event("avail_flags_write", vq=self.index, value=self._avail_flags)
        self.trace.event("enable_cb", vq=self.index, ret=True, fault="skip_enable_cb_recheck")
        return True


_FAULTY_RINGS: dict[type[VirtQueue], type[VirtQueue]] = {VirtQueue: FaultyVirtQueue}


def faulty_ring(ring: type[VirtQueue]) -> type[VirtQueue]:
    """FaultyVirtQueue in front of ``ring`` (the faults on the ring of the driver's own kernel)."""
    if ring not in _FAULTY_RINGS:
        _FAULTY_RINGS[ring] = type(f"Faulty{ring.__name__}", (FaultyVirtQueue, ring), {})
    return _FAULTY_RINGS[ring]


class FaultyVirtioPci(VirtioPciLegacy):
    """The legacy transport, building FaultyVirtQueues over the variant's ring."""

    def vring_new_virtqueue(
        self, index: int, num: int, mem: DmaBuffer, callback: Callable[[VirtQueue], Awaitable[None]] | None, name: str
    ) -> VirtQueue:
        return faulty_ring(self.ring)(
            index,
            num,
            mem,
            self.vp_notify,
            callback,
            indirect=self.has_feature(VIRTIO_RING_F_INDIRECT_DESC),
            allocator=self.allocator,
            tracer=self.trace,
            name=name,
            event=self.has_feature(VIRTIO_RING_F_EVENT_IDX),
            align=self.vring_align,
        )


class FaultyVirtioPciModern(VirtioPciModern):
    """The modern transport, building FaultyVirtQueues over the variant's ring, with the status-sequence
    faults (``faults``): ``skip_features_ok`` (no FEATURES_OK: queues set up and DRIVER_OK on features the
    device never accepted), ``features_after_ok`` (the driver features written again after FEATURES_OK),
    ``ignore_features_ok`` (FEATURES_OK read back clear and the probe goes on to DRIVER_OK)."""

    faults: set[str]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.faults = set()

    vring_new_virtqueue = FaultyVirtioPci.vring_new_virtqueue

    async def virtio_features_ok(self) -> None:
        if "skip_features_ok" in self.faults:
            self.trace.event("fault", fault="skip_features_ok")
            return  # FAULT: FEATURES_OK never written
        if "ignore_features_ok" in self.faults:
            await self.add_status(VIRTIO_CONFIG_S_FEATURES_OK)
            status = await self.get_status()
            self.trace.event("fault", fault="ignore_features_ok", status=status)
            return  # FAULT: a clear FEATURES_OK read back does not stop the probe
        await super().virtio_features_ok()
        if "features_after_ok" in self.faults:
            self.trace.event("fault", fault="features_after_ok")
            await self.vp_modern_set_features(self.features)  # FAULT: the feature write again, after FEATURES_OK


class RxFaults(VirtioNet):
    """The receive-path faults of the driver itself, mixed into a transmit variant (``faulty_driver``), on the
    faulty transports."""

    rx_faults: set[str]
    LEGACY_TRANSPORT = FaultyVirtioPci
    MODERN_TRANSPORT = FaultyVirtioPciModern

    async def virtnet_poll(self, napi: NapiStruct, budget: int) -> int:
        if "skip_napi_recheck" not in self.rx_faults:
            return await super().virtnet_poll(napi, budget)
        rvq = self.rvq
        assert rvq is not None
        received = 0
        while received < budget:
            got = await rvq.get_buf()
            if got is None:
                break
            skb, length = got
            self.recv.remove(skb)
            await self.receive_skb(skb, length)
            self.num -= 1
            received += 1
        if self.num < self.max // 2:
            await self.try_fill_recv()
        if received < budget:
            napi.napi_complete()
            # FAULT: enable_cb's "some were used meanwhile" answer is ignored: no napi_schedule_prep, no again
            ret = await rvq.enable_cb()
            self.trace.event("fault", vq=rvq.index, fault="skip_napi_recheck", enable_cb=ret)
        return received


_FAULTY_CLASSES: dict[type[VirtioNet], type[VirtioNet]] = {}


def _faulty_class(cls: type[VirtioNet]) -> type[VirtioNet]:
    if cls not in _FAULTY_CLASSES:
        _FAULTY_CLASSES[cls] = type(f"Faulty{cls.__name__}", (RxFaults, cls), {})
    return _FAULTY_CLASSES[cls]


def faulty_driver(
    platform: Platform,
    variant: str = "post",
    use_msix: bool = True,
    timing: GuestTiming | None = None,
    tracer: EventLog | None = None,
    transport: str | None = None,
    modern_faults: set[str] | frozenset[str] = frozenset(),
) -> VirtioNet:
    """A driver of ``variant`` whose queues are FaultyVirtQueues and whose receive path has the RX faults
    (every fault off until named: ``faulty_queue(net).faults``, ``faulty_rx_queue(net).faults``,
    ``net.rx_faults``); ``transport`` as the variant takes it; ``modern_faults``: the status-sequence faults of
    the modern transport (``MODERN_DRIVER_FAULTS``), on from the probe."""
    unknown = set(modern_faults) - set(MODERN_DRIVER_FAULTS)
    if unknown:
        raise ValueError(f"modern transport faults {sorted(unknown)}: one of {MODERN_DRIVER_FAULTS}")
    trace = tracer or EventLog(platform, enabled=False)
    cls = VARIANTS[variant]
    net = _faulty_class(cls)(platform, use_msix=use_msix, timing=timing, tracer=trace, transport=transport)
    if isinstance(net.vdev, FaultyVirtioPciModern):
        net.vdev.faults = set(modern_faults)
        if "notify_before_driver_ok" in modern_faults:
            # FAULT: 2.6.31's probe order on the modern transport: receive buffers posted and kicked, then DRIVER_OK
            net.DRIVER_OK_BEFORE_RX_FILL = False  # type: ignore[misc]
    elif modern_faults:
        raise ValueError(f"modern transport faults {sorted(modern_faults)} on the {net.vdev.transport} transport")
    net.rx_faults = set()  # type: ignore[attr-defined]
    return net


def faulty_queue(net: VirtioNet) -> FaultyVirtQueue:
    """The TX queue of a ``faulty_driver`` after its probe."""
    if not isinstance(net.svq, FaultyVirtQueue):
        raise TypeError("driver faults need a driver built by tb.faults.driver.faulty_driver")
    return net.svq


def faulty_rx_queue(net: VirtioNet) -> FaultyVirtQueue:
    """The RX queue of a ``faulty_driver`` after its probe."""
    if not isinstance(net.rvq, FaultyVirtQueue):
        raise TypeError("driver faults need a driver built by tb.faults.driver.faulty_driver")
    return net.rvq


def rx_faults(net: VirtioNet) -> set[str]:
    """The driver-level RX faults of a ``faulty_driver`` (add ``skip_napi_recheck`` to turn it on)."""
    if not isinstance(net, RxFaults):
        raise TypeError("driver faults need a driver built by tb.faults.driver.faulty_driver")
    return net.rx_faults
