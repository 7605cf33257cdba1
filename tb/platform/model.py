"""A pure-Python platform: a reference legacy virtio-net device in virtual time, no simulator.

For fast driver unit tests and as a reference for the RTL's behaviour: the same driver code runs here, in
simulation and on hardware. Time is virtual (``VirtualClockLoop``: asyncio whose clock jumps to the next
timer whenever nothing is runnable), so a run of thousands of packets takes well under a second and is
exactly reproducible.

The device follows hdl/virtio/README.md at transaction level: on a notify it pops every available chain
(after ``latency_ns`` per packet), "sends" the frame (header stripped; a frame above ``MAX_FRAME_LEN`` or
below ``MIN_FRAME_LEN`` bytes is dropped and counted instead, as the RTL does), writes the used element
and used.idx, then decides on the interrupt with the same rules and modes as the RTL (noe_policy,
offer_noe, kick suppression: tb.device.dev_ctrl.DeviceModes; no pacing timer). It models the register
block of BAR0 and an MSI-X table in BAR1; no debug BAR.

The ring layout, flags and register offsets are the model's own, written from the virtio specification
(2.7 Split Virtqueues, 4.1.4.8 legacy PCI layout), not taken from the driver it serves:
tests/unit/test_layouts.py holds them to the driver's, the checkers' and the ring builder's.
"""

from __future__ import annotations

import asyncio
import selectors
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from tb.device.dev_ctrl import DeviceModes, NoePolicy
from tb.platform.base import DmaBuffer, Event, IrqHandler, Platform, PlatformError, PlatformTimeout

# the TX engine's frame limits (virtio_net_usp MAX_FRAME_LEN, virtq_tx MIN_FRAME_LEN): bytes after the header
MAX_FRAME_LEN = 1518
MIN_FRAME_LEN = 14

# virtio spec 4.1.4.8, the legacy register block in BAR0 (the MSI-X vectors only while MSI-X is enabled;
# the device-specific configuration follows them, or follows the ISR without MSI-X)
REG_DEVICE_FEATURES = 0x00
REG_DRIVER_FEATURES = 0x04
REG_QUEUE_ADDRESS = 0x08
REG_QUEUE_SIZE = 0x0C
REG_QUEUE_SELECT = 0x0E
REG_QUEUE_NOTIFY = 0x10
REG_DEVICE_STATUS = 0x12
REG_ISR_STATUS = 0x13
REG_CONFIG_MSIX_VECTOR = 0x14
REG_QUEUE_MSIX_VECTOR = 0x16
CONFIG_WITH_MSIX, CONFIG_WITHOUT_MSIX = 0x18, 0x14
NO_VECTOR = 0xFFFF
LEGACY_PFN_SHIFT = 12
STATUS_DRIVER_OK = 4
ISR_QUEUE = 1
# feature bits the model offers (5.1.3, 6.3)
F_GUEST_TSO4, F_MAC, F_STATUS, F_MRG_RXBUF, F_NOTIFY_ON_EMPTY, F_INDIRECT_DESC = 7, 5, 16, 15, 24, 28
STATUS_NEEDS_RESET = 0x40
ISR_CONFIG = 2
RX_QUEUE, TX_QUEUE = 0, 1
# 5.1.6: struct virtio_net_hdr is 10 bytes; with VIRTIO_NET_F_MRG_RXBUF num_buffers (le16) follows
NET_HDR_LEN, NET_HDR_MRG_LEN = 10, 12
RX_DROP_REASONS = ("no_buffer", "too_long", "oversize", "runt", "device_error")
# 2.7.5 / 2.7.6 / 2.7.8
VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_INDIRECT = 1, 2, 4
VIRTQ_AVAIL_F_NO_INTERRUPT = 1
VIRTQ_USED_F_NO_NOTIFY = 1


@dataclass(frozen=True)
class RingAddrs:
    """Where the parts of a legacy split virtqueue of ``size`` entries at ``base`` are (2.7.2: descriptors,
    the available ring right after them, the used ring at the next 4096-byte boundary)."""

    base: int
    size: int

    @property
    def desc(self) -> int:
        return self.base

    @property
    def avail(self) -> int:
        return self.base + 16 * self.size

    @property
    def used(self) -> int:
        avail_bytes = 2 + 2 + 2 * self.size + 2  # flags, idx, ring, used_event
        return (self.avail + avail_bytes + 4095) // 4096 * 4096

    def avail_ring(self, slot: int) -> int:
        return self.avail + 4 + 2 * slot

    def used_elem(self, slot: int) -> int:
        return self.used + 4 + 8 * slot


@dataclass
class ModelRx:
    """The model device's receive options (the RTL's come with its device modes).

    ``loopback`` feeds every frame the TX queue sends into the RX queue (also on when the DeviceModes in use
    has a true ``loopback`` field). ``max_frame`` / ``min_frame`` bound the frames taken from the wire
    (the RTL's MAX_FRAME_LEN / MIN_FRAME_LEN; a test raises ``max_frame`` for jumbo frames that span
    mergeable buffers, or lowers ``min_frame`` to hand the driver a short packet).
    ``mrg_publish_gap_ns``: with MRG_RXBUF, publish used.idx after each chain of a frame, this long apart
    (None: once per frame), so the driver may see the first chain of a frame before the others.
    """

    mrg_rxbuf: bool = False  # offer VIRTIO_NET_F_MRG_RXBUF
    guest_tso4: bool = False  # offer VIRTIO_NET_F_GUEST_TSO4 (the driver posts big buffers; we send GSO_NONE)
    loopback: bool = False
    max_frame: int = MAX_FRAME_LEN
    min_frame: int = MIN_FRAME_LEN
    mrg_publish_gap_ns: float | None = None


@dataclass
class ModelTiming:
    """The model device's own time (not a mode of the RTL)."""

    latency_ns: float = 100.0  # device time per packet (pop, fetch, send, push)
    stall_until_ns: float = 0.0  # the wire is blocked until then (the FULL scenario)


class _JumpSelector(selectors.BaseSelector):
    """A selector that never waits: it advances the loop's virtual clock by the requested timeout."""

    def __init__(self, loop: VirtualClockLoop):
        self._loop = loop
        self._map: dict = {}

    def register(self, fileobj, events, data=None):
        key = selectors.SelectorKey(fileobj, id(fileobj), events, data)
        self._map[fileobj] = key
        return key

    def unregister(self, fileobj):
        return self._map.pop(fileobj)

    def select(self, timeout=None):
        if timeout is None:
            raise PlatformError("virtual time: every task is waiting and no timer is pending (deadlock)")
        if timeout > 0:
            self._loop.vtime += timeout
        return []

    def get_map(self):
        return self._map

    def close(self):
        self._map.clear()


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """asyncio with a virtual clock in nanoseconds."""

    def __init__(self):
        self.vtime = 0.0
        super().__init__(selector=_JumpSelector(self))

    def time(self) -> float:
        return self.vtime


def run_virtual(coro):
    """Run ``coro`` to completion in virtual time; returns its result."""
    loop = VirtualClockLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        # background tasks (the device, the driver's softirqs) end with the run
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:  # gather() of nothing would make its future on another loop
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()


class HostMemory:
    """Flat host memory with a bump allocator; bus addresses start at ``base``."""

    def __init__(self, size: int = 16 << 20, base: int = 0x1000_0000):
        self.mem = bytearray(size)
        self.base = base
        self.next = 0

    def alloc(self, size: int, align: int) -> ModelDmaBuffer:
        start = (self.next + align - 1) & ~(align - 1)
        if start + size > len(self.mem):
            raise PlatformError("model host memory exhausted")
        self.next = start + size
        return ModelDmaBuffer(self, start, size)

    def read(self, addr: int, length: int) -> bytes:
        off = addr - self.base
        if off < 0 or off + length > len(self.mem):
            raise PlatformError(f"DMA read outside host memory: {addr:#x}+{length}")
        return bytes(self.mem[off : off + length])

    def write(self, addr: int, data: bytes) -> None:
        off = addr - self.base
        if off < 0 or off + len(data) > len(self.mem):
            raise PlatformError(f"DMA write outside host memory: {addr:#x}+{len(data)}")
        self.mem[off : off + len(data)] = data


class ModelDmaBuffer(DmaBuffer):
    def __init__(self, host: HostMemory, offset: int, size: int):
        self.host = host
        self.offset = offset
        self.size = size
        self.bus_addr = host.base + offset

    async def read(self, offset: int, length: int) -> bytes:
        return self.host.read(self.bus_addr + offset, length)

    async def write(self, offset: int, data: bytes) -> None:
        self.host.write(self.bus_addr + offset, data)


@dataclass
class DeviceCounters:
    frames: int = 0
    notifies: int = 0
    irq_normal: int = 0
    irq_noe: int = 0
    irq_suppressed: int = 0
    config_irqs: int = 0
    errors: int = 0
    drop_oversize: int = 0
    drop_runt: int = 0
    wire: list[bytes] = field(default_factory=list)
    # the RX queue
    rx_frames: int = 0  # frames written into RX buffers
    rx_bytes: int = 0  # frame bytes written (headers not counted)
    rx_notifies: int = 0
    rx_drops: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RX_DROP_REASONS, 0))
    rx_irq_normal: int = 0
    rx_irq_noe: int = 0
    rx_irq_suppressed: int = 0
    rx_used: list[tuple[int, int]] = field(default_factory=list)  # (head, used.len) of every RX used element


class ModelVirtioNet:
    """The device: BAR0 legacy registers, the TX queue engine, interrupts (MSI-X or INTx)."""

    QUEUE_SIZE = 256
    MAC = bytes([0x02, 0, 0, 0, 0, 0x01])

    def __init__(self, platform: ModelPlatform, modes: DeviceModes, timing: ModelTiming, rx: ModelRx | None = None):
        if modes.pacing_timer:
            raise PlatformError("the model device has no pacing timer (DeviceModes.pacing_timer)")
        self.p = platform
        self.modes = modes
        self.timing = timing
        self.rx = rx or ModelRx()
        self.c = DeviceCounters()
        self._reset_state()
        self._kick = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._rx_wire: deque[bytes] = deque()
        self._rx_event = asyncio.Event()
        self._rx_task: asyncio.Task | None = None

    @property
    def loopback(self) -> bool:
        return self.rx.loopback or bool(getattr(self.modes, "loopback", False))

    def _reset_state(self) -> None:
        self.guest_features = 0
        self.queue_sel = 0
        self.pfn = [0, 0]
        self.status = 0
        self.isr = 0
        self.config_vector = NO_VECTOR
        self.queue_vector = [NO_VECTOR, NO_VECTOR]
        self.last_avail = 0
        self.used_idx = 0
        self.rx_last_avail = 0
        self.rx_used_idx = 0
        self.rx_broken = False

    @property
    def host_features(self) -> int:
        return (
            (1 << F_MAC)
            | ((1 << F_MRG_RXBUF) if self.rx.mrg_rxbuf else 0)
            | ((1 << F_GUEST_TSO4) if self.rx.guest_tso4 else 0)
            | (1 << F_STATUS)
            | ((1 << F_NOTIFY_ON_EMPTY) if self.modes.offer_noe else 0)
            | ((1 << F_INDIRECT_DESC) if self.modes.offer_indirect else 0)
        )

    # -- registers -----------------------------------------------------------------------------------
    def reg_read(self, off: int, size: int) -> int:
        msix = self.p.msix_enabled
        cfg_base = CONFIG_WITH_MSIX if msix else CONFIG_WITHOUT_MSIX
        if off >= cfg_base:
            cfg = self.MAC + (1).to_bytes(2, "little") + bytes(8)
            return int.from_bytes(cfg[off - cfg_base : off - cfg_base + size].ljust(size, b"\0"), "little")
        regs = {
            REG_DEVICE_FEATURES: self.host_features,
            REG_DRIVER_FEATURES: self.guest_features,
            REG_QUEUE_ADDRESS: self.pfn[self.queue_sel] if self.queue_sel < 2 else 0,
            REG_QUEUE_SIZE: self.QUEUE_SIZE if self.queue_sel < 2 else 0,
            REG_QUEUE_SELECT: self.queue_sel,
            REG_QUEUE_NOTIFY: 0,
            REG_DEVICE_STATUS: self.status,
        }
        if off == REG_ISR_STATUS:
            isr, self.isr = self.isr, 0
            self.p.set_intx(False)
            return isr
        if msix and off == REG_CONFIG_MSIX_VECTOR:
            return self.config_vector
        if msix and off == REG_QUEUE_MSIX_VECTOR:
            return self.queue_vector[self.queue_sel] if self.queue_sel < 2 else NO_VECTOR
        return regs.get(off, 0) & ((1 << (8 * size)) - 1)

    def reg_write(self, off: int, value: int, size: int) -> None:
        if off == REG_DRIVER_FEATURES:
            self.guest_features = value & self.host_features
        elif off == REG_QUEUE_ADDRESS and self.queue_sel < 2:
            self.pfn[self.queue_sel] = value
        elif off == REG_QUEUE_SELECT:
            self.queue_sel = value
        elif off == REG_QUEUE_NOTIFY:
            if value == TX_QUEUE:
                self.c.notifies += 1
                self._kick.set()
            elif value == RX_QUEUE:
                self.c.rx_notifies += 1  # RX buffers are taken when a frame arrives: nothing to start
        elif off == REG_DEVICE_STATUS:
            if value == 0:
                self._reset_state()
                self.p.set_intx(False)
            else:
                self.status = value | (self.status & 0x40)
        elif off == REG_CONFIG_MSIX_VECTOR and self.p.msix_enabled:
            self.config_vector = value if value < self.p.msix_vectors else NO_VECTOR
        elif off == REG_QUEUE_MSIX_VECTOR and self.p.msix_enabled and self.queue_sel < 2:
            self.queue_vector[self.queue_sel] = value if value < self.p.msix_vectors else NO_VECTOR

    # -- the TX engine -------------------------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run())
        self._rx_task = loop.create_task(self._rx_run())

    def stop(self) -> None:
        for task in (self._task, self._rx_task):
            if task is not None:
                task.cancel()

    def _rd16(self, addr: int) -> int:
        return int.from_bytes(self.p.host.read(addr, 2), "little")

    async def _run(self) -> None:
        while True:
            await self._kick.wait()
            self._kick.clear()
            if not (self.status & STATUS_DRIVER_OK) or not self.pfn[1]:
                continue
            await self._process()

    async def _process(self) -> None:
        q = self.QUEUE_SIZE
        ring = RingAddrs(self.pfn[1] << LEGACY_PFN_SHIFT, q)
        avail, used = ring.avail, ring.used
        hdr_len = 12 if self.guest_features >> F_MRG_RXBUF & 1 else 10
        if self.modes.kick_suppress:
            self.p.host.write(used, VIRTQ_USED_F_NO_NOTIFY.to_bytes(2, "little"))
        while True:
            avail_idx = self._rd16(avail + 2)
            if avail_idx == self.last_avail:
                if self.modes.kick_suppress:
                    # going idle: clear NO_NOTIFY, barrier, re-check
                    self.p.host.write(used, (0).to_bytes(2, "little"))
                    if self._rd16(avail + 2) != self.last_avail:
                        self.p.host.write(used, VIRTQ_USED_F_NO_NOTIFY.to_bytes(2, "little"))
                        continue
                return
            head = self._rd16(ring.avail_ring(self.last_avail % q))
            self.last_avail = (self.last_avail + 1) & 0xFFFF
            data = self._read_chain(ring.desc, head)
            await asyncio.sleep(max(self.timing.latency_ns, self.timing.stall_until_ns - self.p.now_ns()))
            frame = data[hdr_len:]
            if len(data) > hdr_len + MAX_FRAME_LEN:
                self.c.drop_oversize += 1
            elif len(data) < hdr_len + MIN_FRAME_LEN:
                self.c.drop_runt += 1
            else:
                self.c.frames += 1
                self.c.wire.append(frame)
                if self.loopback:
                    self.wire_rx(frame)
            slot = self.used_idx % q
            # used.len: bytes the device wrote into the chain, none for TX
            self.p.host.write(ring.used_elem(slot), head.to_bytes(4, "little") + (0).to_bytes(4, "little"))
            self.used_idx = (self.used_idx + 1) & 0xFFFF
            self.p.host.write(used + 2, self.used_idx.to_bytes(2, "little"))
            self._decide_interrupt(avail)

    def _read_chain(self, base: int, head: int) -> bytes:
        q = self.QUEUE_SIZE
        out = bytearray()
        table, limit, i = base, q, head
        for _ in range(q + 1):
            raw = self.p.host.read(table + 16 * i, 16)
            addr = int.from_bytes(raw[0:8], "little")
            length = int.from_bytes(raw[8:12], "little")
            flags = int.from_bytes(raw[12:14], "little")
            nxt = int.from_bytes(raw[14:16], "little")
            if flags & VIRTQ_DESC_F_INDIRECT:
                table, limit, i = addr, length // 16, 0
                continue
            out += self.p.host.read(addr, length)
            if not flags & VIRTQ_DESC_F_NEXT:
                return bytes(out)
            if nxt >= limit:
                raise PlatformError(f"model device: next {nxt} out of range")
            i = nxt
        raise PlatformError("model device: descriptor chain loops")

    def _decide_interrupt(self, avail: int) -> None:
        """The TX queue's interrupt decision after a used-ring update."""
        self._interrupt_rule(avail, self.last_avail, TX_QUEUE)

    def _decide_rx_interrupt(self, avail: int) -> None:
        """The RX queue's interrupt decision after a used-ring update."""
        self._interrupt_rule(avail, self.rx_last_avail, RX_QUEUE)

    def _interrupt_rule(self, avail: int, last_avail: int, queue: int) -> None:
        """After a used-ring update of ``queue``: interrupt unless NO_INTERRUPT, or on an empty ring with the
        notify-on-empty policy; the same rules for both queues, counted per queue."""
        flags = self._rd16(avail)
        empty = self._rd16(avail + 2) == last_avail
        noe_acked = bool(self.guest_features >> F_NOTIFY_ON_EMPTY & 1)
        pol = self.modes.noe_policy
        prefix = "rx_" if queue == RX_QUEUE else ""
        if not flags & VIRTQ_AVAIL_F_NO_INTERRUPT:
            kind = "irq_normal"
        elif empty and (pol == NoePolicy.ALWAYS or (pol == NoePolicy.WHEN_ACKED and noe_acked)):
            kind = "irq_noe"
        else:
            kind = "irq_suppressed"
        setattr(self.c, prefix + kind, getattr(self.c, prefix + kind) + 1)
        if kind == "irq_suppressed":
            return
        if self.p.msix_enabled:
            if self.queue_vector[queue] != NO_VECTOR:
                self.p.raise_msix(self.queue_vector[queue])
        else:
            self.isr |= ISR_QUEUE
            self.p.set_intx(True)

    # -- the RX engine -------------------------------------------------------------------------------
    def wire_rx(self, frame: bytes) -> None:
        """A frame arrives from the wire (a test, or the TX queue in loopback): it is taken in arrival order,
        ``latency_ns`` after the previous one."""
        self._rx_wire.append(bytes(frame))
        self._rx_event.set()

    @property
    def rx_pending(self) -> int:
        """Frames from the wire not yet taken (written or dropped)."""
        return len(self._rx_wire)

    async def _rx_run(self) -> None:
        while True:
            if not self._rx_wire:
                self._rx_event.clear()
                await self._rx_event.wait()
                continue
            await asyncio.sleep(self.timing.latency_ns)
            await self._rx_frame(self._rx_wire.popleft())

    def _rx_drop(self, reason: str) -> None:
        self.c.rx_drops[reason] += 1

    def _walk_writable(self, base: int, head: int) -> list[tuple[int, int]] | None:
        """The (addr, len) buffers of the chain at ``head``; None when one of them is device-readable."""
        q = self.QUEUE_SIZE
        bufs: list[tuple[int, int]] = []
        table, limit, i = base, q, head
        for _ in range(q + 1):
            raw = self.p.host.read(table + 16 * i, 16)
            addr = int.from_bytes(raw[0:8], "little")
            length = int.from_bytes(raw[8:12], "little")
            flags = int.from_bytes(raw[12:14], "little")
            nxt = int.from_bytes(raw[14:16], "little")
            if flags & VIRTQ_DESC_F_INDIRECT:
                table, limit, i = addr, length // 16, 0
                continue
            if not flags & VIRTQ_DESC_F_WRITE:
                return None
            bufs.append((addr, length))
            if not flags & VIRTQ_DESC_F_NEXT:
                return bufs
            if nxt >= limit:
                raise PlatformError(f"model device: next {nxt} out of range")
            i = nxt
        raise PlatformError("model device: descriptor chain loops")

    def _device_error(self) -> None:
        """A device-readable buffer in an RX chain: DEVICE_NEEDS_RESET, a configuration interrupt, no DMA to
        the chain, and every later frame dropped until the driver resets the device."""
        self.rx_broken = True
        self.c.errors += 1
        self.status |= STATUS_NEEDS_RESET
        self.c.config_irqs += 1
        if self.p.msix_enabled:
            if self.config_vector != NO_VECTOR:
                self.p.raise_msix(self.config_vector)
        else:
            self.isr |= ISR_CONFIG
            self.p.set_intx(True)

    def _rx_push_used(self, ring: RingAddrs, head: int, written: int) -> None:
        self.p.host.write(
            ring.used_elem(self.rx_used_idx % self.QUEUE_SIZE),
            head.to_bytes(4, "little") + written.to_bytes(4, "little"),
        )
        self.rx_used_idx = (self.rx_used_idx + 1) & 0xFFFF
        self.c.rx_used.append((head, written))

    def _rx_publish(self, ring: RingAddrs) -> None:
        self.p.host.write(ring.used + 2, self.rx_used_idx.to_bytes(2, "little"))
        self._decide_rx_interrupt(ring.avail)

    async def _rx_frame(self, frame: bytes) -> None:
        """One frame from the wire into the next published RX chain(s): header, then the frame."""
        if len(frame) > self.rx.max_frame:
            self._rx_drop("oversize")
            return
        if len(frame) < self.rx.min_frame:
            self._rx_drop("runt")
            return
        if self.rx_broken:
            self._rx_drop("device_error")
            return
        if not (self.status & STATUS_DRIVER_OK) or not self.pfn[RX_QUEUE]:
            self._rx_drop("no_buffer")
            return
        q = self.QUEUE_SIZE
        ring = RingAddrs(self.pfn[RX_QUEUE] << LEGACY_PFN_SHIFT, q)
        mrg = bool(self.guest_features >> F_MRG_RXBUF & 1)
        hdr_len = NET_HDR_MRG_LEN if mrg else NET_HDR_LEN
        need = hdr_len + len(frame)
        avail_idx = self._rd16(ring.avail + 2)
        # the chains this frame takes: one without MRG_RXBUF, as many as its length needs with it
        chains: list[tuple[int, list[tuple[int, int]]]] = []
        idx, room = self.rx_last_avail, 0
        while not chains or (mrg and room < need):
            if idx == avail_idx:
                self._rx_drop("no_buffer")  # nothing taken: the chains already looked at stay available
                return
            head = self._rd16(ring.avail_ring(idx % q))
            bufs = self._walk_writable(ring.desc, head)
            if bufs is None:
                self._device_error()
                self._rx_drop("device_error")
                return
            chains.append((head, bufs))
            room += sum(n for _, n in bufs)
            idx = (idx + 1) & 0xFFFF
        self.rx_last_avail = idx
        if need > room:
            # longer than the chain (no MRG_RXBUF): nothing written, the chain comes back with used.len 0
            self._rx_push_used(ring, chains[0][0], 0)
            self._rx_drop("too_long")
            self._rx_publish(ring)
            return
        hdr = bytearray(hdr_len)  # flags 0, GSO_NONE
        if mrg:
            hdr[10:12] = len(chains).to_bytes(2, "little")
        data = bytes(hdr) + frame
        pos = 0
        for k, (head, bufs) in enumerate(chains):
            start = pos
            for addr, n in bufs:
                piece = data[pos : pos + n]
                if piece:
                    self.p.host.write(addr, piece)
                pos += len(piece)
            self._rx_push_used(ring, head, pos - start)
            if self.rx.mrg_publish_gap_ns is not None and k < len(chains) - 1:
                self._rx_publish(ring)
                await asyncio.sleep(self.rx.mrg_publish_gap_ns)
        self.c.rx_frames += 1
        self.c.rx_bytes += len(frame)
        self._rx_publish(ring)


class ModelPlatform(Platform):
    """The Platform interface over ``ModelVirtioNet`` and ``HostMemory``, in virtual time."""

    name = "model"

    def __init__(
        self,
        modes: DeviceModes | None = None,
        timing: ModelTiming | None = None,
        reg_access_ns: float = 300.0,
        rx: ModelRx | None = None,
    ):
        self.host = HostMemory(64 << 20)
        self.reg_access_ns = reg_access_ns
        self.msix_enabled = False
        self.msix_vectors = 8
        self._msix_handlers: dict[int, list[IrqHandler]] = {}
        self._intx_handlers: list[IrqHandler] = []
        self._intx = False
        self.device = ModelVirtioNet(self, modes or DeviceModes(), timing or ModelTiming(), rx)
        self.config = {0x00: 0x1AF4, 0x02: 0x1000, 0x08: 0x02000000, 0x2C: 0x1AF4, 0x2E: 0x0001, 0x04: 0}
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self.device.start()

    # config space: just the identity the bring-up reads
    async def config_read(self, offset: int, size: int) -> int:
        self.check_access(offset, size)
        return self.config.get(offset, 0) & ((1 << (8 * size)) - 1)

    async def config_write(self, offset: int, value: int, size: int) -> None:
        self.check_access(offset, size)
        self.config[offset] = value

    def bar_size(self, bar: int) -> int:
        return 4096 if bar in (0, 1) else 0

    async def bar_read(self, bar: int, offset: int, size: int) -> int:
        self.check_access(offset, size)
        await asyncio.sleep(self.reg_access_ns)  # a non-posted round trip
        if bar == 0:
            return self.device.reg_read(offset, size)
        return 0

    async def bar_write(self, bar: int, offset: int, value: int, size: int) -> None:
        self.check_access(offset, size)
        if bar == 0:
            self.device.reg_write(offset, value, size)

    def dma_alloc(self, size: int, align: int = 4096) -> DmaBuffer:
        return self.host.alloc(size, align)

    async def enable_msix(self, nvec: int) -> int:
        self.msix_enabled = True
        return min(nvec, self.msix_vectors)

    async def disable_msix(self) -> None:
        self.msix_enabled = False

    def request_irq(self, vector: int, handler: IrqHandler) -> None:
        self._msix_handlers.setdefault(vector, []).append(handler)

    def request_intx(self, handler: IrqHandler) -> None:
        self._intx_handlers.append(handler)

    def free_irqs(self) -> None:
        self._msix_handlers.clear()
        self._intx_handlers.clear()

    def raise_msix(self, vector: int) -> None:
        for h in self._msix_handlers.get(vector, []):
            self._spawn(h())

    def set_intx(self, level: bool) -> None:
        rising = level and not self._intx
        self._intx = level
        if rising:
            self._spawn(self._intx_dispatch())

    async def _intx_dispatch(self) -> None:
        for _ in range(1000):
            if not self._intx:
                return
            for h in list(self._intx_handlers):
                await h()
            await asyncio.sleep(1000)
        raise PlatformError("model: INTx stuck asserted")

    def _spawn(self, coro) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(coro))

    def now_ns(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep_ns(self, ns: float) -> None:
        if ns > 0:
            await asyncio.sleep(ns)

    def make_event(self) -> asyncio.Event:
        return asyncio.Event()

    async def wait_event(self, event: Event, timeout_ns: float) -> None:
        assert isinstance(event, asyncio.Event), "an event of make_event()"
        try:
            await asyncio.wait_for(event.wait(), timeout_ns)
        except TimeoutError as exc:
            raise PlatformTimeout(f"no event within {timeout_ns} ns") from exc

    def start_task(self, coro: Coroutine[Any, Any, Any]) -> Callable[[], bool]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.append(task)
        return task.cancel
