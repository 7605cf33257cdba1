"""A pure-Python platform: a reference legacy virtio-net device in virtual time, no simulator.

For fast driver unit tests and as a reference for the RTL's behaviour: the same driver code runs here, in
simulation and on hardware. Time is virtual (``VirtualClockLoop``: asyncio whose clock jumps to the next
timer whenever nothing is runnable), so a run of thousands of packets takes well under a second and is
exactly reproducible.

The device follows hdl/virtio/README.md at transaction level: on a notify it pops every available chain
(after ``latency_ns`` per packet), "sends" the frame (header stripped; a frame above ``MAX_FRAME_LEN`` or
below ``MIN_FRAME_LEN`` bytes is dropped and counted instead, as the RTL does), writes the used element
and used.idx, then decides on the interrupt with the same rules and modes as the RTL (noe_policy,
offer_noe, kick suppression). It models the register block of BAR0 and an MSI-X table in BAR1; no debug BAR.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable
from dataclasses import dataclass, field

from tb.platform.base import DmaBuffer, IrqHandler, Platform, PlatformError, PlatformTimeout

NOE_WHEN_ACKED, NOE_ALWAYS, NOE_NEVER = 0, 1, 2
# the TX engine's frame limits (virtio_net_usp MAX_FRAME_LEN, virtq_tx MIN_FRAME_LEN): bytes after the header
MAX_FRAME_LEN = 1518
MIN_FRAME_LEN = 14


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
        return bytes(self.mem[off:off + length])

    def write(self, addr: int, data: bytes) -> None:
        off = addr - self.base
        if off < 0 or off + len(data) > len(self.mem):
            raise PlatformError(f"DMA write outside host memory: {addr:#x}+{len(data)}")
        self.mem[off:off + len(data)] = data


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
class DeviceModes:
    noe_policy: int = NOE_WHEN_ACKED
    offer_noe: bool = True
    kick_suppress: bool = False
    offer_indirect: bool = True
    latency_ns: float = 100.0          # device time per packet (pop, fetch, send, push)
    stall_until_ns: float = 0.0        # the wire is blocked until then (the FULL scenario)


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


class ModelVirtioNet:
    """The device: BAR0 legacy registers, the TX queue engine, interrupts (MSI-X or INTx)."""

    QUEUE_SIZE = 256
    MAC = bytes([0x02, 0, 0, 0, 0, 0x01])

    def __init__(self, platform: ModelPlatform, modes: DeviceModes):
        self.p = platform
        self.modes = modes
        self.c = DeviceCounters()
        self._reset_state()
        self._kick = asyncio.Event()
        self._task: asyncio.Task | None = None

    def _reset_state(self) -> None:
        self.guest_features = 0
        self.queue_sel = 0
        self.pfn = [0, 0]
        self.status = 0
        self.isr = 0
        self.config_vector = 0xFFFF
        self.queue_vector = [0xFFFF, 0xFFFF]
        self.last_avail = 0
        self.used_idx = 0

    @property
    def host_features(self) -> int:
        return ((1 << 5) | (1 << 16) | ((1 << 24) if self.modes.offer_noe else 0)
                | ((1 << 28) if self.modes.offer_indirect else 0))

    # -- registers -----------------------------------------------------------------------------------
    def reg_read(self, off: int, size: int) -> int:
        msix = self.p.msix_enabled
        cfg_base = 0x18 if msix else 0x14
        if off >= cfg_base:
            cfg = self.MAC + (1).to_bytes(2, "little") + bytes(8)
            return int.from_bytes(cfg[off - cfg_base:off - cfg_base + size].ljust(size, b"\0"), "little")
        regs = {0x00: self.host_features, 0x04: self.guest_features, 0x08: self.pfn[self.queue_sel]
                if self.queue_sel < 2 else 0, 0x0C: self.QUEUE_SIZE if self.queue_sel < 2 else 0,
                0x0E: self.queue_sel, 0x10: 0, 0x12: self.status}
        if off == 0x13:
            isr, self.isr = self.isr, 0
            self.p.set_intx(False)
            return isr
        if msix and off == 0x14:
            return self.config_vector
        if msix and off == 0x16:
            return self.queue_vector[self.queue_sel] if self.queue_sel < 2 else 0xFFFF
        return regs.get(off, 0) & ((1 << (8 * size)) - 1)

    def reg_write(self, off: int, value: int, size: int) -> None:
        if off == 0x04:
            self.guest_features = value & self.host_features
        elif off == 0x08 and self.queue_sel < 2:
            self.pfn[self.queue_sel] = value
        elif off == 0x0E:
            self.queue_sel = value
        elif off == 0x10:
            if value == 1:
                self.c.notifies += 1
                self._kick.set()
        elif off == 0x12:
            if value == 0:
                self._reset_state()
                self.p.set_intx(False)
            else:
                self.status = value | (self.status & 0x40)
        elif off == 0x14 and self.p.msix_enabled:
            self.config_vector = value if value < self.p.msix_vectors else 0xFFFF
        elif off == 0x16 and self.p.msix_enabled and self.queue_sel < 2:
            self.queue_vector[self.queue_sel] = value if value < self.p.msix_vectors else 0xFFFF

    # -- the TX engine -------------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def _rd16(self, addr: int) -> int:
        return int.from_bytes(self.p.host.read(addr, 2), "little")

    async def _run(self) -> None:
        while True:
            await self._kick.wait()
            self._kick.clear()
            if not (self.status & 4) or not self.pfn[1]:
                continue
            await self._process()

    async def _process(self) -> None:
        q = self.QUEUE_SIZE
        base = self.pfn[1] << 12
        avail = base + 16 * q
        used = (avail + 2 * (3 + q) + 4095) & ~4095
        hdr_len = 12 if self.guest_features >> 15 & 1 else 10
        if self.modes.kick_suppress:
            self.p.host.write(used, (1).to_bytes(2, "little"))
        while True:
            avail_idx = self._rd16(avail + 2)
            if avail_idx == self.last_avail:
                if self.modes.kick_suppress:
                    # going idle: clear NO_NOTIFY, barrier, re-check
                    self.p.host.write(used, (0).to_bytes(2, "little"))
                    if self._rd16(avail + 2) != self.last_avail:
                        self.p.host.write(used, (1).to_bytes(2, "little"))
                        continue
                return
            head = self._rd16(avail + 4 + 2 * (self.last_avail % q))
            self.last_avail = (self.last_avail + 1) & 0xFFFF
            data = self._read_chain(base, head)
            await asyncio.sleep(max(self.modes.latency_ns, self.modes.stall_until_ns - self.p.now_ns()))
            frame = data[hdr_len:]
            if len(data) > hdr_len + MAX_FRAME_LEN:
                self.c.drop_oversize += 1
            elif len(data) < hdr_len + MIN_FRAME_LEN:
                self.c.drop_runt += 1
            else:
                self.c.frames += 1
                self.c.wire.append(frame)
            slot = self.used_idx % q
            # used.len: bytes the device wrote into the chain, none for TX
            self.p.host.write(used + 4 + 8 * slot, head.to_bytes(4, "little") + (0).to_bytes(4, "little"))
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
            if flags & 4:  # INDIRECT
                table, limit, i = addr, length // 16, 0
                continue
            out += self.p.host.read(addr, length)
            if not flags & 1:
                return bytes(out)
            if nxt >= limit:
                raise PlatformError(f"model device: next {nxt} out of range")
            i = nxt
        raise PlatformError("model device: descriptor chain loops")

    def _decide_interrupt(self, avail: int) -> None:
        flags = self._rd16(avail)
        empty = self._rd16(avail + 2) == self.last_avail
        noe_acked = bool(self.guest_features >> 24 & 1)
        pol = self.modes.noe_policy
        if not flags & 1:
            self.c.irq_normal += 1
        elif empty and (pol == NOE_ALWAYS or (pol == NOE_WHEN_ACKED and noe_acked)):
            self.c.irq_noe += 1
        else:
            self.c.irq_suppressed += 1
            return
        if self.p.msix_enabled:
            if self.queue_vector[1] != 0xFFFF:
                self.p.raise_msix(self.queue_vector[1])
        else:
            self.isr |= 1
            self.p.set_intx(True)


class ModelPlatform(Platform):
    """The Platform interface over ``ModelVirtioNet`` and ``HostMemory``, in virtual time."""

    name = "model"

    def __init__(self, modes: DeviceModes | None = None, reg_access_ns: float = 300.0):
        self.host = HostMemory()
        self.reg_access_ns = reg_access_ns
        self.msix_enabled = False
        self.msix_vectors = 8
        self._msix_handlers: dict[int, list[IrqHandler]] = {}
        self._intx_handlers: list[IrqHandler] = []
        self._intx = False
        self.device = ModelVirtioNet(self, modes or DeviceModes())
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

    async def wait_event(self, event: asyncio.Event, timeout_ns: float) -> None:
        try:
            await asyncio.wait_for(event.wait(), timeout_ns)
        except asyncio.TimeoutError as exc:
            raise PlatformTimeout(f"no event within {timeout_ns} ns") from exc

    def start_task(self, coro) -> Callable[[], None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.append(task)
        return task.cancel
