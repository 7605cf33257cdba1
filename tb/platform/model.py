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

EVENT_IDX (VIRTIO_F_EVENT_IDX, 29; offered with ``event_idx=True`` or a DeviceModes with a true
``offer_event_idx``), both ways, as hdl/virtio/README.md describes the RTL's: after each used.idx update the
device reads used_event and interrupts iff vring_need_event(used_event, new, old), ``old`` being the used index
of its previous decision (NO_INTERRUPT ignored; notify-on-empty still applies when it was negotiated); it never
writes used.flags NO_NOTIFY then, and whenever the TX queue would wait for a kick it writes avail_event = the
next index it will read, re-reads avail.idx and goes on if something arrived meanwhile. ``faults`` (test only,
the RTL's FAULT knob names where they exist): ``event_idx_ignored`` (interrupt after every used.idx update),
``avail_event_stale`` (never write avail_event: the hang), ``event_idx_exact`` (interrupt only when the new
used.idx is exactly used_event + 1: the spec's "equal to used_event" read as a comparison of the final index,
which misses a used_event crossed inside a batched push).

The used-ring push policy of DeviceModes holds for the TX queue: ``per_packet`` writes used.idx after every
element, ``batched`` after ``push_batch`` elements (8 when 0) or when the queue goes idle (the model has no
flush timer: virtual time would not need one).

For the checkers (tb/checkers/model_feed.py) the platform reports what a PCIe monitor would: every driver
access of host memory and of the BARs (``observers``, in program order), every device DMA read and write,
every interrupt and every frame on the wire (``device_observers``). ``pause_wire`` holds the TX engine before
its next frame (tready low), as the RTL benches pause the wire.
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
F_EVENT_IDX = 29  # 6 Reserved Feature Bits: VIRTIO_F_EVENT_IDX
F_VERSION_1, F_ACCESS_PLATFORM = 32, 33  # 6: a modern device offers VERSION_1; ACCESS_PLATFORM (DMA via the IOMMU)
STATUS_FEATURES_OK = 8
INTERFACES = ("transitional", "legacy", "modern")

# 4.1.4 Virtio Structure PCI Capabilities: the modern interface in BAR4 (QEMU's layout: 4 KiB per structure),
# the capabilities in configuration space (vendor-specific, id 0x09). The model is transitional: device id
# 0x1000 with subsystem id 1, the legacy block in BAR0 as well.
MODERN_BAR = 4
MODERN_BAR_SIZE = 0x4000
NOTIFY_OFF_MULTIPLIER = 4
MODERN_REGIONS = {"common": (0x0000, 0x38), "isr": (0x1000, 1), "device": (0x2000, 0x10), "notify": (0x3000, 0x1000)}
CAP_VNDR = 0x09
CFG_TYPE = {"common": 1, "notify": 2, "isr": 3, "device": 4, "pci": 5}
# (config offset, structure): each capability 16 bytes, notify and the PCI configuration access 20
MODERN_CAPS = ((0x50, "common"), (0x60, "isr"), (0x70, "device"), (0x80, "notify"), (0x94, "pci"))
PCI_CFG_CAP = 0x94
# 4.1.4.3 struct virtio_pci_common_cfg
COMMON_DFSELECT, COMMON_DF, COMMON_GFSELECT, COMMON_GF = 0x00, 0x04, 0x08, 0x0C
COMMON_MSIX, COMMON_NUMQ, COMMON_STATUS, COMMON_CFGGENERATION = 0x10, 0x12, 0x14, 0x15
COMMON_Q_SELECT, COMMON_Q_SIZE, COMMON_Q_MSIX, COMMON_Q_ENABLE, COMMON_Q_NOFF = 0x16, 0x18, 0x1A, 0x1C, 0x1E
COMMON_Q_DESCLO, COMMON_Q_DESCHI, COMMON_Q_AVAILLO, COMMON_Q_AVAILHI = 0x20, 0x24, 0x28, 0x2C
COMMON_Q_USEDLO, COMMON_Q_USEDHI = 0x30, 0x34


def modern_region(off: int) -> tuple[str, int]:
    """Which structure of BAR4 ``off`` falls in, and the offset inside it."""
    for name, (start, length) in MODERN_REGIONS.items():
        if start <= off < start + length:
            return name, off - start
    return "", off


def modern_config_space() -> dict[int, int]:
    """The capability list in configuration space, one entry per field the capability walk reads (the model's
    configuration space is a map of offsets to the values read there)."""
    cfg: dict[int, int] = {0x06: 0x0010, 0x34: MODERN_CAPS[0][0]}
    for k, (pos, name) in enumerate(MODERN_CAPS):
        nxt = MODERN_CAPS[k + 1][0] if k + 1 < len(MODERN_CAPS) else 0
        length = 20 if name in ("notify", "pci") else 16
        bar, (offset, size) = (MODERN_BAR, MODERN_REGIONS[name]) if name != "pci" else (0, (0, 0))
        cfg.update(
            {
                pos: CAP_VNDR | nxt << 8,
                pos + 1: nxt,
                pos + 2: length,
                pos + 3: CFG_TYPE[name],
                pos + 4: bar,
                pos + 8: offset,
                pos + 12: size,
            }
        )
        if name == "notify":
            cfg[pos + 16] = NOTIFY_OFF_MULTIPLIER
        if name == "pci":
            cfg[pos + 16] = 0  # pci_cfg_data: the window (ModelPlatform.config_read/_write)
    return cfg


# the model's own test-only faults (see the module docstring)
MODEL_FAULTS = ("event_idx_ignored", "avail_event_stale", "event_idx_exact", "refuse_features_ok")
MODEL_PUSH_BATCH = 8  # batched push: elements per used.idx write when DeviceModes.push_batch is 0
# what the TX engine fetches per read, as the RTL reports it in BAR2 TX_PARAMS (tb.device.debug_bar.TxParams):
# one descriptor and one avail.ring entry at a time, indirect tables of up to a queue's worth of entries
MODEL_TX_PARAMS = 256 << 16 | 1 << 8 | 1
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
    """Where the parts of a split virtqueue of ``size`` entries are. Legacy (2.7.2): one block at ``base``,
    the descriptors, the available ring right after them, the used ring at the next 4096-byte boundary.
    Modern (4.1.4.3): the driver gives the three addresses (``avail_at``, ``used_at``; ``base`` is the
    descriptor table)."""

    base: int
    size: int
    avail_at: int | None = None
    used_at: int | None = None

    @property
    def desc(self) -> int:
        return self.base

    @property
    def avail(self) -> int:
        return self.base + 16 * self.size if self.avail_at is None else self.avail_at

    @property
    def used(self) -> int:
        if self.used_at is not None:
            return self.used_at
        avail_bytes = 2 + 2 + 2 * self.size + 2  # flags, idx, ring, used_event
        return (self.avail + avail_bytes + 4095) // 4096 * 4096

    def avail_ring(self, slot: int) -> int:
        return self.avail + 4 + 2 * slot

    def used_elem(self, slot: int) -> int:
        return self.used + 4 + 8 * slot

    @property
    def used_event(self) -> int:
        """2.7.6: le16 used_event, after ring[Queue Size] of the available ring (only if VIRTIO_F_EVENT_IDX)."""
        return self.avail_ring(self.size)

    @property
    def avail_event(self) -> int:
        """2.7.8: le16 avail_event, after ring[Queue Size] of the used ring (only if VIRTIO_F_EVENT_IDX)."""
        return self.used_elem(self.size)


def need_event(event_idx: int, new_idx: int, old: int) -> bool:
    """2.7.7.2: vring_need_event, the device's copy (u16): was ``event_idx`` crossed moving ``old`` to ``new``?"""
    return (new_idx - event_idx - 1) & 0xFFFF < (new_idx - old) & 0xFFFF


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
    """Flat host memory with a bump allocator; bus addresses start at ``base``. ``observers`` see every access
    made through a DmaBuffer (the driver's side; the device reads and writes ``read`` / ``write`` directly)."""

    def __init__(self, size: int = 16 << 20, base: int = 0x1000_0000):
        self.mem = bytearray(size)
        self.base = base
        self.next = 0
        self.observers: list[Any] = []  # host_mem(write, addr, data)

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
        data = self.host.read(self.bus_addr + offset, length)
        for obs in self.host.observers:
            obs.host_mem(False, self.bus_addr + offset, data)
        return data

    async def write(self, offset: int, data: bytes) -> None:
        self.host.write(self.bus_addr + offset, data)
        for obs in self.host.observers:
            obs.host_mem(True, self.bus_addr + offset, bytes(data))


@dataclass
class DeviceCounters:
    frames: int = 0
    notifies: int = 0
    irq_normal: int = 0
    irq_noe: int = 0
    irq_suppressed: int = 0
    irq_event: int = 0  # EVENT_IDX: interrupts because used_event was crossed (or the fault said so)
    irq_event_suppressed: int = 0  # EVENT_IDX: decisions that raised nothing
    avail_event_writes: int = 0
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
    rx_irq_event: int = 0
    rx_irq_event_suppressed: int = 0
    rx_used: list[tuple[int, int]] = field(default_factory=list)  # (head, used.len) of every RX used element


class ModelVirtioNet:
    """The device: BAR0 legacy registers, the TX queue engine, interrupts (MSI-X or INTx)."""

    QUEUE_SIZE = 256
    MAC = bytes([0x02, 0, 0, 0, 0, 0x01])

    def __init__(
        self,
        platform: ModelPlatform,
        modes: DeviceModes,
        timing: ModelTiming,
        rx: ModelRx | None = None,
        event_idx: bool = False,
        faults: set[str] | frozenset[str] = frozenset(),
    ):
        if modes.pacing_timer:
            raise PlatformError("the model device has no pacing timer (DeviceModes.pacing_timer)")
        unknown = set(faults) - set(MODEL_FAULTS)
        if unknown:
            raise PlatformError(f"model device faults {sorted(unknown)}: one of {MODEL_FAULTS}")
        self.p = platform
        self.modes = modes
        self.timing = timing
        self.rx = rx or ModelRx()
        self.offer_event_idx = event_idx or bool(getattr(modes, "offer_event_idx", False))
        self.faults = set(faults)
        self.wire_ready = asyncio.Event()  # tready of the TX stream: pause_wire clears it
        self.wire_ready.set()
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
        # where each queue's rings are once the driver made it live (a legacy PFN, or a modern queue_enable)
        self.rings: list[RingAddrs | None] = [None, None]
        # the modern common configuration (4.1.4.3)
        self.device_feature_select = 0
        self.driver_feature_select = 0
        self.queue_size = [self.QUEUE_SIZE, self.QUEUE_SIZE]
        self.queue_enable = [0, 0]
        self.queue_desc = [0, 0]
        self.queue_driver = [0, 0]
        self.queue_device = [0, 0]
        self.features_ok_refused = False
        self.status = 0
        self.isr = 0
        self.config_vector = NO_VECTOR
        self.queue_vector = [NO_VECTOR, NO_VECTOR]
        self.last_avail = 0
        self.used_idx = 0
        self.rx_last_avail = 0
        self.rx_used_idx = 0
        self.rx_broken = False
        self.signalled = [0, 0]  # per queue: the used index of the last interrupt decision (EVENT_IDX's "old")

    @property
    def host_features(self) -> int:
        return (
            (1 << F_MAC)
            | ((1 << F_MRG_RXBUF) if self.rx.mrg_rxbuf else 0)
            | ((1 << F_GUEST_TSO4) if self.rx.guest_tso4 else 0)
            | (1 << F_STATUS)
            | ((1 << F_NOTIFY_ON_EMPTY) if self.modes.offer_noe else 0)
            | ((1 << F_INDIRECT_DESC) if self.modes.offer_indirect else 0)
            | ((1 << F_EVENT_IDX) if self.offer_event_idx else 0)
            | (((1 << F_VERSION_1) | (1 << F_ACCESS_PLATFORM)) if self.p.modern else 0)
        )

    @property
    def event_idx(self) -> bool:
        """VIRTIO_F_EVENT_IDX negotiated."""
        return bool(self.guest_features >> F_EVENT_IDX & 1)

    def pause_wire(self, paused: bool) -> None:
        """Hold the TX engine before its next frame (or let it go): the wire's tready."""
        if paused:
            self.wire_ready.clear()
        else:
            self.wire_ready.set()

    # -- DMA, as a PCIe monitor sees it --------------------------------------------------------------------
    def _dma_read(self, addr: int, length: int, what: str) -> bytes:
        data = self.p.host.read(addr, length)
        now = self.p.now_ns()
        for obs in self.p.device_observers:
            obs.dev_read(now, addr, data, f"model read {what}")
        return data

    def _dma_write(self, addr: int, data: bytes, what: str) -> None:
        self.p.host.write(addr, data)
        for obs in self.p.device_observers:
            obs.dev_write(addr, data, f"model write {what}")

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
            self.rings[self.queue_sel] = RingAddrs(value << LEGACY_PFN_SHIFT, self.QUEUE_SIZE) if value else None
        elif off == REG_QUEUE_SELECT:
            self.queue_sel = value
        elif off == REG_QUEUE_NOTIFY:
            if value == TX_QUEUE:
                self.c.notifies += 1
                self._kick.set()
            elif value == RX_QUEUE:
                self.c.rx_notifies += 1  # RX buffers are taken when a frame arrives: nothing to start
        elif off == REG_DEVICE_STATUS:
            self.write_status(value)
        elif off == REG_CONFIG_MSIX_VECTOR and self.p.msix_enabled:
            self.config_vector = value if value < self.p.msix_vectors else NO_VECTOR
        elif off == REG_QUEUE_MSIX_VECTOR and self.p.msix_enabled and self.queue_sel < 2:
            self.queue_vector[self.queue_sel] = value if value < self.p.msix_vectors else NO_VECTOR

    # -- the modern interface (4.1.4): BAR4 holds the common configuration, the ISR, the device configuration
    # and the notifications, each where its capability says (MODERN_REGIONS) ---------------------------------
    def modern_read(self, off: int, size: int) -> int:
        region, rel = modern_region(off)
        if region == "common":
            return self.common_read(rel, size)
        if region == "isr":
            return self.reg_read(REG_ISR_STATUS, 1) if rel == 0 else 0
        if region == "device":
            cfg = self.MAC + (1).to_bytes(2, "little") + bytes(8)
            return int.from_bytes(cfg[rel : rel + size].ljust(size, b"\0"), "little")
        return 0

    def modern_write(self, off: int, value: int, size: int) -> None:
        region, rel = modern_region(off)
        if region == "common":
            self.common_write(rel, value, size)
        elif region == "notify" and rel % NOTIFY_OFF_MULTIPLIER == 0:
            # the queue is the one whose queue_notify_off * multiplier this is (the value is its index too)
            self.reg_write(REG_QUEUE_NOTIFY, rel // NOTIFY_OFF_MULTIPLIER, 2)

    def common_read(self, rel: int, size: int) -> int:
        sel = self.queue_sel
        live = sel < 2
        if rel == COMMON_DF:
            return (
                self.host_features >> (32 * self.device_feature_select) & 0xFFFFFFFF
                if self.device_feature_select < 2
                else 0
            )
        if rel == COMMON_GF:
            return (
                self.guest_features >> (32 * self.driver_feature_select) & 0xFFFFFFFF
                if self.driver_feature_select < 2
                else 0
            )
        regs = {
            COMMON_DFSELECT: self.device_feature_select,
            COMMON_GFSELECT: self.driver_feature_select,
            COMMON_MSIX: self.config_vector,
            COMMON_NUMQ: 2,
            COMMON_STATUS: self.status,
            COMMON_CFGGENERATION: 0,
            COMMON_Q_SELECT: sel,
            COMMON_Q_SIZE: self.queue_size[sel] if live else 0,
            COMMON_Q_MSIX: self.queue_vector[sel] if live else NO_VECTOR,
            COMMON_Q_ENABLE: self.queue_enable[sel] if live else 0,
            COMMON_Q_NOFF: sel if live else 0,
            COMMON_Q_DESCLO: self.queue_desc[sel] & 0xFFFFFFFF if live else 0,
            COMMON_Q_DESCHI: self.queue_desc[sel] >> 32 if live else 0,
            COMMON_Q_AVAILLO: self.queue_driver[sel] & 0xFFFFFFFF if live else 0,
            COMMON_Q_AVAILHI: self.queue_driver[sel] >> 32 if live else 0,
            COMMON_Q_USEDLO: self.queue_device[sel] & 0xFFFFFFFF if live else 0,
            COMMON_Q_USEDHI: self.queue_device[sel] >> 32 if live else 0,
        }
        return regs.get(rel, 0) & ((1 << (8 * size)) - 1)

    def common_write(self, rel: int, value: int, size: int) -> None:
        sel = self.queue_sel
        live = sel < 2 and not self.queue_enable[sel] if sel < 2 else False
        if rel == COMMON_DFSELECT:
            self.device_feature_select = value
        elif rel == COMMON_GFSELECT:
            self.driver_feature_select = value
        elif rel == COMMON_GF and self.driver_feature_select < 2:
            shift = 32 * self.driver_feature_select
            mine = (value << shift) & self.host_features
            self.guest_features = (self.guest_features & ~(0xFFFFFFFF << shift)) | mine
        elif rel == COMMON_MSIX:
            self.config_vector = value if value < self.p.msix_vectors else NO_VECTOR
        elif rel == COMMON_STATUS:
            self.write_status(value)
        elif rel == COMMON_Q_SELECT:
            self.queue_sel = value
        elif rel == COMMON_Q_MSIX and sel < 2:
            self.queue_vector[sel] = value if value < self.p.msix_vectors else NO_VECTOR
        elif rel == COMMON_Q_SIZE and live:
            # 4.1.4.3.2: a power of two no larger than the maximum (the model keeps its maximum otherwise)
            if value and not value & (value - 1) and value <= self.QUEUE_SIZE:
                self.queue_size[sel] = value
        elif (
            rel
            in (COMMON_Q_DESCLO, COMMON_Q_DESCHI, COMMON_Q_AVAILLO, COMMON_Q_AVAILHI, COMMON_Q_USEDLO, COMMON_Q_USEDHI)
            and live
        ):
            table = {
                COMMON_Q_DESCLO: self.queue_desc,
                COMMON_Q_DESCHI: self.queue_desc,
                COMMON_Q_AVAILLO: self.queue_driver,
                COMMON_Q_AVAILHI: self.queue_driver,
                COMMON_Q_USEDLO: self.queue_device,
                COMMON_Q_USEDHI: self.queue_device,
            }[rel]
            shift = 32 if rel & 4 else 0
            table[sel] = (table[sel] & ~(0xFFFFFFFF << shift)) | (value & 0xFFFFFFFF) << shift
        elif rel == COMMON_Q_ENABLE and sel < 2 and value == 1 and not self.queue_enable[sel]:
            self.queue_enable[sel] = 1
            n = self.queue_size[sel]
            self.rings[sel] = RingAddrs(self.queue_desc[sel], n, self.queue_driver[sel], self.queue_device[sel])

    def write_status(self, value: int) -> None:
        """device_status (either interface): 0 resets; FEATURES_OK stays set only if the device accepts the
        features (VERSION_1 among them, and not the ``refuse_features_ok`` fault), else it reads back clear."""
        if value == 0:
            self._reset_state()
            self.p.set_intx(False)
            return
        if value & STATUS_FEATURES_OK and not self.status & STATUS_FEATURES_OK:
            accept = bool(self.guest_features >> F_VERSION_1 & 1) and "refuse_features_ok" not in self.faults
            if not accept:
                self.features_ok_refused = True
                value &= ~STATUS_FEATURES_OK
        elif self.features_ok_refused:
            value &= ~STATUS_FEATURES_OK
        self.status = value | (self.status & STATUS_NEEDS_RESET)

    # -- the TX engine -------------------------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run())
        self._rx_task = loop.create_task(self._rx_run())

    def stop(self) -> None:
        for task in (self._task, self._rx_task):
            if task is not None:
                task.cancel()

    def _rd16(self, addr: int, what: str = "") -> int:
        return int.from_bytes(self._dma_read(addr, 2, what), "little")

    async def _run(self) -> None:
        while True:
            await self._kick.wait()
            self._kick.clear()
            if not (self.status & STATUS_DRIVER_OK) or self.rings[TX_QUEUE] is None:
                continue
            await self._process()

    async def _process(self) -> None:
        ring = self.rings[TX_QUEUE]
        assert ring is not None
        q = ring.size
        avail, used = ring.avail, ring.used
        # 12 bytes with MRG_RXBUF or VERSION_1 (virtio 1.x 5.1.6: num_buffers is always there on a modern device)
        hdr_len = 12 if self.guest_features >> F_MRG_RXBUF & 1 or self.guest_features >> F_VERSION_1 & 1 else 10
        # with EVENT_IDX avail_event replaces the used.flags NO_NOTIFY writes of kick suppression
        suppress = self.modes.kick_suppress and not self.event_idx
        batch = (self.modes.push_batch or MODEL_PUSH_BATCH) if self.modes.push == "batched" else 1
        pending = 0  # used elements written, used.idx not yet
        if suppress:
            self._dma_write(used, VIRTQ_USED_F_NO_NOTIFY.to_bytes(2, "little"), "used.flags NO_NOTIFY")
        while True:
            avail_idx = self._rd16(avail + 2, "avail.idx")
            if avail_idx == self.last_avail:
                if pending:
                    self._publish_used(ring, pending)
                    pending = 0
                    continue  # look again after the decision
                if self.event_idx:
                    # going idle: kick me at the next index I will read; barrier; re-check
                    if "avail_event_stale" not in self.faults:
                        self._dma_write(ring.avail_event, self.last_avail.to_bytes(2, "little"), "avail_event")
                        self.c.avail_event_writes += 1
                    if self._rd16(avail + 2, "avail.idx re-check") != self.last_avail:
                        continue
                elif suppress:
                    # going idle: clear NO_NOTIFY, barrier, re-check
                    self._dma_write(used, (0).to_bytes(2, "little"), "used.flags 0")
                    if self._rd16(avail + 2, "avail.idx re-check") != self.last_avail:
                        self._dma_write(used, VIRTQ_USED_F_NO_NOTIFY.to_bytes(2, "little"), "used.flags NO_NOTIFY")
                        continue
                return
            head = self._rd16(ring.avail_ring(self.last_avail % q), "avail.ring")
            self.last_avail = (self.last_avail + 1) & 0xFFFF
            data = self._read_chain(ring.desc, head, q)
            await asyncio.sleep(max(self.timing.latency_ns, self.timing.stall_until_ns - self.p.now_ns()))
            await self.wire_ready.wait()
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
                else:
                    for obs in self.p.device_observers:
                        obs.frame(self.p.now_ns(), frame, False)
            slot = (self.used_idx + pending) % q
            # used.len: bytes the device wrote into the chain, none for TX
            self._dma_write(ring.used_elem(slot), head.to_bytes(4, "little") + (0).to_bytes(4, "little"), "used elem")
            pending += 1
            if pending >= batch:
                self._publish_used(ring, pending)
                pending = 0

    def _publish_used(self, ring: RingAddrs, n: int) -> None:
        """used.idx moves by the ``n`` elements written, then the interrupt decision."""
        self.used_idx = (self.used_idx + n) & 0xFFFF
        self._dma_write(ring.used + 2, self.used_idx.to_bytes(2, "little"), "used.idx")
        self._decide_interrupt(ring)

    def _read_chain(self, base: int, head: int, q: int) -> bytes:
        out = bytearray()
        table, limit, i = base, q, head
        for _ in range(q + 1):
            raw = self._dma_read(table + 16 * i, 16, "descriptor")
            addr = int.from_bytes(raw[0:8], "little")
            length = int.from_bytes(raw[8:12], "little")
            flags = int.from_bytes(raw[12:14], "little")
            nxt = int.from_bytes(raw[14:16], "little")
            if flags & VIRTQ_DESC_F_INDIRECT:
                table, limit, i = addr, length // 16, 0
                continue
            out += self._dma_read(addr, length, "buffer")
            if not flags & VIRTQ_DESC_F_NEXT:
                return bytes(out)
            if nxt >= limit:
                raise PlatformError(f"model device: next {nxt} out of range")
            i = nxt
        raise PlatformError("model device: descriptor chain loops")

    def _decide_interrupt(self, ring: RingAddrs) -> None:
        """The TX queue's interrupt decision after a used-ring update."""
        self._interrupt_rule(ring, self.last_avail, self.used_idx, TX_QUEUE)

    def _decide_rx_interrupt(self, ring: RingAddrs) -> None:
        """The RX queue's interrupt decision after a used-ring update."""
        self._interrupt_rule(ring, self.rx_last_avail, self.rx_used_idx, RX_QUEUE)

    def _interrupt_rule(self, ring: RingAddrs, last_avail: int, used_idx: int, queue: int) -> None:
        """After a used-ring update of ``queue``: interrupt unless NO_INTERRUPT, or on an empty ring with the
        notify-on-empty policy; with EVENT_IDX when used_event was crossed since the last decision (flags
        ignored). The same rules for both queues, counted per queue."""
        raw = self._dma_read(ring.avail, 4, "avail.flags+idx (interrupt decision)")
        flags = int.from_bytes(raw[0:2], "little")
        empty = int.from_bytes(raw[2:4], "little") == last_avail
        noe_acked = bool(self.guest_features >> F_NOTIFY_ON_EMPTY & 1)
        pol = self.modes.noe_policy
        prefix = "rx_" if queue == RX_QUEUE else ""
        noe = empty and (pol == NoePolicy.ALWAYS or (pol == NoePolicy.WHEN_ACKED and noe_acked))
        if self.event_idx:
            used_event = self._rd16(ring.used_event, "used_event (interrupt decision)")
            old, self.signalled[queue] = self.signalled[queue], used_idx
            crossed = need_event(used_event, used_idx, old)
            if "event_idx_exact" in self.faults:
                crossed = used_idx == (used_event + 1) & 0xFFFF  # FAULT: a crossing inside a batch is missed
            if "event_idx_ignored" in self.faults:
                crossed = True  # FAULT: as if used_event were always crossed
            kind = "irq_noe" if noe and not crossed else ("irq_event" if crossed else "irq_event_suppressed")
        elif not flags & VIRTQ_AVAIL_F_NO_INTERRUPT:
            kind = "irq_normal"
        elif noe:
            kind = "irq_noe"
        else:
            kind = "irq_suppressed"
        setattr(self.c, prefix + kind, getattr(self.c, prefix + kind) + 1)
        if kind in ("irq_suppressed", "irq_event_suppressed"):
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
        for obs in self.p.device_observers:
            obs.rx_frame(self.p.now_ns(), bytes(frame), False)
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

    def _walk_writable(self, base: int, head: int, q: int) -> list[tuple[int, int]] | None:
        """The (addr, len) buffers of the chain at ``head``; None when one of them is device-readable."""
        bufs: list[tuple[int, int]] = []
        table, limit, i = base, q, head
        for _ in range(q + 1):
            raw = self._dma_read(table + 16 * i, 16, "RX descriptor")
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
        self._dma_write(
            ring.used_elem(self.rx_used_idx % ring.size),
            head.to_bytes(4, "little") + written.to_bytes(4, "little"),
            "RX used elem",
        )
        self.rx_used_idx = (self.rx_used_idx + 1) & 0xFFFF
        self.c.rx_used.append((head, written))

    def _rx_publish(self, ring: RingAddrs) -> None:
        self._dma_write(ring.used + 2, self.rx_used_idx.to_bytes(2, "little"), "RX used.idx")
        self._decide_rx_interrupt(ring)

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
        ring = self.rings[RX_QUEUE]
        if not (self.status & STATUS_DRIVER_OK) or ring is None:
            self._rx_drop("no_buffer")
            return
        q = ring.size
        mrg = bool(self.guest_features >> F_MRG_RXBUF & 1)
        hdr_len = NET_HDR_MRG_LEN if mrg or self.guest_features >> F_VERSION_1 & 1 else NET_HDR_LEN
        need = hdr_len + len(frame)
        avail_idx = self._rd16(ring.avail + 2, "RX avail.idx")
        # the chains this frame takes: one without MRG_RXBUF, as many as its length needs with it
        chains: list[tuple[int, list[tuple[int, int]]]] = []
        idx, room = self.rx_last_avail, 0
        while not chains or (mrg and room < need):
            if idx == avail_idx:
                self._rx_drop("no_buffer")  # nothing taken: the chains already looked at stay available
                if self.event_idx:
                    # out of buffers: ask for a kick at the next index
                    self._dma_write(ring.avail_event, self.rx_last_avail.to_bytes(2, "little"), "RX avail_event")
                return
            head = self._rd16(ring.avail_ring(idx % q), "RX avail.ring")
            bufs = self._walk_writable(ring.desc, head, q)
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
        if hdr_len == NET_HDR_MRG_LEN:
            hdr[10:12] = len(chains).to_bytes(2, "little")  # 1 without MRG_RXBUF (VERSION_1)
        data = bytes(hdr) + frame
        pos = 0
        for k, (head, bufs) in enumerate(chains):
            start = pos
            for addr, n in bufs:
                piece = data[pos : pos + n]
                if piece:
                    self._dma_write(addr, piece, "RX buffer")
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
        event_idx: bool = False,
        faults: set[str] | frozenset[str] = frozenset(),
        interface: str = "transitional",
    ):
        if interface not in INTERFACES:
            raise PlatformError(f"model interface {interface!r}: one of {INTERFACES}")
        self.interface = interface
        self.modern = interface != "legacy"  # the virtio 1.x capabilities and BAR4
        self.legacy = interface != "modern"  # the legacy block in BAR0
        self.host = HostMemory(64 << 20)
        # what a PCIe monitor would report (tb/checkers/model_feed.py attaches the checkers here)
        self.observers = self.host.observers  # host side: host_mem(...), host_bar(...)
        self.device_observers: list[Any] = []  # dev_read, dev_write, irq, frame, rx_frame
        self.reg_access_ns = reg_access_ns
        self.msix_enabled = False
        self.msix_vectors = 8
        self._msix_handlers: dict[int, list[IrqHandler]] = {}
        self._intx_handlers: list[IrqHandler] = []
        self._intx = False
        self.device = ModelVirtioNet(self, modes or DeviceModes(), timing or ModelTiming(), rx, event_idx, faults)
        # 0x1000 (transitional, subsystem id 1: a network card) or 0x1041 (modern only: 0x1040 + 1)
        self.config = {0x00: 0x1AF4, 0x02: 0x1000 if self.legacy else 0x1041, 0x08: 0x02000000, 0x2C: 0x1AF4}
        self.config.update({0x2E: 0x0001, 0x04: 0})
        if self.modern:
            self.config.update(modern_config_space())
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self.device.start()

    # config space: the identity the bring-up reads and, with the modern interface, the capabilities. Every
    # access is reported to the observers that take ``host_config`` (what a PCIe monitor sees of CfgRd/CfgWr)
    async def config_read(self, offset: int, size: int) -> int:
        self.check_access(offset, size)
        if self.modern and offset == PCI_CFG_CAP + 16:
            value = await self._pci_cfg_window(None)
        else:
            value = self.config.get(offset, 0) & ((1 << (8 * size)) - 1)
        self._report_config(False, offset, size, value)
        return value

    async def config_write(self, offset: int, value: int, size: int) -> None:
        self.check_access(offset, size)
        self._report_config(True, offset, size, value)
        if self.modern and offset == PCI_CFG_CAP + 16:
            await self._pci_cfg_window(value)
            return
        self.config[offset] = value

    def _report_config(self, write: bool, offset: int, size: int, value: int) -> None:
        for obs in self.observers:
            fn = getattr(obs, "host_config", None)
            if fn is not None:
                fn(write, offset, size, value)

    async def _pci_cfg_window(self, value: int | None) -> int:
        """4.1.4.9 VIRTIO_PCI_CAP_PCI_CFG: pci_cfg_data reaches ``cap.length`` bytes at ``cap.offset`` of BAR
        ``cap.bar`` (a read returns them, a write stores them)."""
        bar = self.config.get(PCI_CFG_CAP + 4, 0) & 0xFF
        offset = self.config.get(PCI_CFG_CAP + 8, 0)
        length = self.config.get(PCI_CFG_CAP + 12, 0)
        if length not in (1, 2, 4) or not self.bar_size(bar):
            return 0
        if value is None:
            return await self.bar_read(bar, offset, length)
        await self.bar_write(bar, offset, value & ((1 << (8 * length)) - 1), length)
        return 0

    def bar_size(self, bar: int) -> int:
        if bar == 0:
            return 4096 if self.legacy else 0
        if bar == MODERN_BAR:
            return MODERN_BAR_SIZE if self.modern else 0
        return 4096 if bar == 1 else 0

    async def bar_read(self, bar: int, offset: int, size: int) -> int:
        self.check_access(offset, size)
        if not self.bar_size(bar):
            raise PlatformError(f"model: BAR{bar} is not implemented ({self.interface} interface)")
        await asyncio.sleep(self.reg_access_ns)  # a non-posted round trip
        value = 0
        if bar == 0:
            value = self.device.reg_read(offset, size)
        elif bar == MODERN_BAR:
            value = self.device.modern_read(offset, size)
        for obs in self.observers:
            obs.host_bar(False, bar, offset, size, value)
        return value

    async def bar_write(self, bar: int, offset: int, value: int, size: int) -> None:
        self.check_access(offset, size)
        if not self.bar_size(bar):
            raise PlatformError(f"model: BAR{bar} is not implemented ({self.interface} interface)")
        for obs in self.observers:
            obs.host_bar(True, bar, offset, size, value)
        if bar == 0:
            self.device.reg_write(offset, value, size)
        elif bar == MODERN_BAR:
            self.device.modern_write(offset, value, size)

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
        for obs in self.device_observers:
            obs.irq("msix", vector)  # the message data is the vector number here
        for h in self._msix_handlers.get(vector, []):
            self._spawn(h())

    def set_intx(self, level: bool) -> None:
        rising = level and not self._intx
        if level != self._intx:
            for obs in self.device_observers:
                obs.irq("intx", int(level))
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
