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

The race seam: ``race_hook``, when set, is awaited at the start of every enable_cb, i.e. in the stop path
right before enable_cb's avail.flags write, so a test can place a device completion at any cycle around it.
On the RX queue that is the window between virtnet_poll's napi_complete and its enable_cb.

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
from tb.driver.virtio_net import VARIANTS, DmaAllocator, GuestTiming, VirtioNet
from tb.driver.virtio_pci import VIRTIO_RING_F_INDIRECT_DESC, VirtioPciLegacy
from tb.driver.virtio_ring import VRING_AVAIL_F_NO_INTERRUPT, Sg, VirtQueue
from tb.platform.base import DmaBuffer, Platform

DRIVER_FAULTS = ("publish_before_desc", "kick_before_publish", "leak_desc", "skip_enable_cb_recheck")
RX_DRIVER_FAULTS = ("rx_no_write_flag", "skip_napi_recheck")


class FaultyVirtQueue(VirtQueue):
    """A VirtQueue that breaks the rules named in ``faults`` and offers the race seam."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.faults: set[str] = set()
        self.race_hook: Callable[[], Awaitable[None]] | None = None
        self._held_descs: list[tuple[int, int, int, int, int]] | None = None
        self._notify_done = False

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


class FaultyVirtioPci(VirtioPciLegacy):
    """The legacy transport, building FaultyVirtQueues."""

    def vring_new_virtqueue(
        self, index: int, num: int, mem: DmaBuffer, callback: Callable[[VirtQueue], Awaitable[None]] | None, name: str
    ) -> VirtQueue:
        return FaultyVirtQueue(
            index,
            num,
            mem,
            self.vp_notify,
            callback,
            indirect=self.has_feature(VIRTIO_RING_F_INDIRECT_DESC),
            allocator=self.allocator,
            tracer=self.trace,
            name=name,
        )


class RxFaults(VirtioNet):
    """The receive-path faults of the driver itself, mixed into a transmit variant (``faulty_driver``)."""

    rx_faults: set[str]

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
) -> VirtioNet:
    """A driver of ``variant`` whose queues are FaultyVirtQueues and whose receive path has the RX faults
    (every fault off until named: ``faulty_queue(net).faults``, ``faulty_rx_queue(net).faults``,
    ``net.rx_faults``)."""
    trace = tracer or EventLog(platform, enabled=False)
    vdev = FaultyVirtioPci(platform, use_msix=use_msix, tracer=trace, allocator=DmaAllocator(platform))
    net = _faulty_class(VARIANTS[variant])(platform, use_msix=use_msix, timing=timing, tracer=trace, vdev=vdev)
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
