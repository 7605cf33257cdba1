"""A minimal legacy virtio-net TX driver written from the virtio specification alone.

The conformance tests (tests/sim/test_conformance.py) use it as a second opinion on the device: it follows
the spec's "Legacy Interface" sections (virtio 0.9.5 appendix, virtio 1.x 4.1.4.8 and 2.7 "Split
Virtqueues") and shares nothing with ``tb/driver`` (the Linux model), so a behaviour both drivers accept is
not an artefact of one reading of Linux. It is deliberately small: one TX queue, chains of any shape
(direct, INDIRECT, any split of header and frame), polling or interrupt completion, and the device status,
ISR and device-config accesses a spec-only driver makes.

Host-neutral: it awaits only ``tb.platform.base.Platform`` (no cocotb), like every driver in the project.

Legacy register block (BAR0, spec "Legacy Interfaces: A Note on PCI Device Layout"): 0x00 device features,
0x04 driver features, 0x08 queue address (PFN, 4096-byte pages), 0x0C queue size, 0x0E queue select,
0x10 queue notify, 0x12 device status, 0x13 ISR; with MSI-X 0x14 config vector and 0x16 queue vector, and the
device-specific configuration after them (0x14 without MSI-X, 0x18 with it). Split ring, legacy layout:
descriptors (16 bytes each), then the available ring (flags, idx, ring[N], used_event), then, at the next
4096-byte boundary, the used ring (flags, idx, ring[N] of {id, len}, avail_event).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from tb.platform.base import DmaBuffer, Platform

# legacy register offsets
HOST_FEATURES, GUEST_FEATURES, QUEUE_PFN, QUEUE_NUM, QUEUE_SEL = 0x00, 0x04, 0x08, 0x0C, 0x0E
QUEUE_NOTIFY, STATUS, ISR, MSI_CONFIG_VECTOR, MSI_QUEUE_VECTOR = 0x10, 0x12, 0x13, 0x14, 0x16
NO_VECTOR = 0xFFFF
# device status bits
ACKNOWLEDGE, DRIVER, DRIVER_OK, NEEDS_RESET, FAILED = 0x01, 0x02, 0x04, 0x40, 0x80
# ISR bits
ISR_QUEUE, ISR_CONFIG = 0x1, 0x2
# feature bits
F_MAC, F_STATUS, F_NOTIFY_ON_EMPTY, F_INDIRECT_DESC = 5, 16, 24, 28
# descriptor and ring flags
DESC_F_NEXT, DESC_F_WRITE, DESC_F_INDIRECT = 1, 2, 4
AVAIL_F_NO_INTERRUPT, USED_F_NO_NOTIFY = 1, 1
# virtio-net: the transmit queue, the header without MRG_RXBUF, the config status bit
TX_QUEUE = 1
NET_HDR_LEN = 10
NET_S_LINK_UP = 1

PAGE = 4096


class SpecDriverError(RuntimeError):
    pass


@dataclass
class Completion:
    id: int
    len: int


@dataclass
class SpecTxQueue:
    """One split virtqueue in the legacy layout, with a free list of descriptors."""

    num: int
    mem: DmaBuffer
    free: list[int] = field(default_factory=list)
    chains: dict[int, list[int]] = field(default_factory=dict)   # head -> descriptors of the chain
    avail_idx: int = 0
    last_used: int = 0

    @property
    def avail(self) -> int:
        return 16 * self.num

    @property
    def used(self) -> int:
        return (16 * self.num + 6 + 2 * self.num + PAGE - 1) // PAGE * PAGE

    @staticmethod
    def bytes_for(num: int) -> int:
        used = (16 * num + 6 + 2 * num + PAGE - 1) // PAGE * PAGE
        return used + (6 + 8 * num + PAGE - 1) // PAGE * PAGE


class SpecNetDriver:
    """Device initialisation (spec 3.1 / legacy), the TX queue, notifications, completions, device status."""

    def __init__(self, p: Platform, bar: int = 0):
        self.p = p
        self.bar = bar
        self.q: SpecTxQueue | None = None
        self.msix = False                      # MSI-X in use (it moves the device config to 0x18)
        self._msix_on = False                  # this driver enabled MSI-X on the function
        self.features = 0
        self.isr_seen: list[int] = []          # every non-zero ISR value an INTx handler read
        self.config_irqs = 0                   # config-change interrupts (ISR bit 1, or the config vector)
        self.queue_irqs = 0
        self.data: DmaBuffer | None = None
        self._data_next = 0

    # -- registers -----------------------------------------------------------------------------------
    async def rd(self, off: int, size: int) -> int:
        return await self.p.bar_read(self.bar, off, size)

    async def wr(self, off: int, value: int, size: int) -> None:
        await self.p.bar_write(self.bar, off, value, size)

    @property
    def config_base(self) -> int:
        return 0x18 if self.msix else 0x14

    async def status(self) -> int:
        return await self.rd(STATUS, 1)

    async def config(self, off: int, size: int) -> int:
        return await self.rd(self.config_base + off, size)

    async def link_up(self) -> bool:
        return bool(await self.config(6, 2) & NET_S_LINK_UP)

    async def reset(self) -> None:
        """Writing 0 resets the device; the read makes sure the write reached it (legacy has no handshake)."""
        await self.wr(STATUS, 0, 1)
        await self.rd(STATUS, 1)
        self.q = None

    # -- initialisation --------------------------------------------------------------------------------
    async def init(self, want: int = (1 << F_MAC) | (1 << F_STATUS), msix: bool = False) -> int:
        """Reset, ACKNOWLEDGE, DRIVER, features, the TX queue, interrupts, DRIVER_OK. Returns the features."""
        await self.reset()
        await self.wr(STATUS, ACKNOWLEDGE, 1)
        await self.wr(STATUS, ACKNOWLEDGE | DRIVER, 1)
        offered = await self.rd(HOST_FEATURES, 4)
        self.features = offered & want
        await self.wr(GUEST_FEATURES, self.features, 4)
        self.msix = False
        self.p.free_irqs()
        if msix:
            if await self.p.enable_msix(2) < 2:
                raise SpecDriverError("MSI-X: two vectors wanted")
            self.msix = self._msix_on = True
            self.p.request_irq(0, self._config_irq)
            self.p.request_irq(1, self._queue_irq)
            await self.wr(MSI_CONFIG_VECTOR, 0, 2)
            if await self.rd(MSI_CONFIG_VECTOR, 2) != 0:
                raise SpecDriverError("the device refused config vector 0")
        else:
            if self._msix_on:
                await self.p.disable_msix()
                self._msix_on = False
            self.p.request_intx(self._intx)
        await self.wr(QUEUE_SEL, TX_QUEUE, 2)
        num = await self.rd(QUEUE_NUM, 2)
        if num == 0 or num & (num - 1):
            raise SpecDriverError(f"TX queue size {num}")
        if self.data is None:
            self.data = self.p.dma_alloc(1 << 20, PAGE)
        mem = self.p.dma_alloc(SpecTxQueue.bytes_for(num), PAGE)
        if mem.bus_addr < PAGE:         # PFN 0 would mean "no queue": a real OS never hands out page 0
            mem = self.p.dma_alloc(SpecTxQueue.bytes_for(num), PAGE)
        await mem.write(0, bytes(mem.size))
        self.q = SpecTxQueue(num, mem, free=list(range(num)))
        await self.wr(QUEUE_PFN, mem.bus_addr // PAGE, 4)
        if msix:
            await self.wr(MSI_QUEUE_VECTOR, 1, 2)
            if await self.rd(MSI_QUEUE_VECTOR, 2) != 1:
                raise SpecDriverError("the device refused queue vector 1")
        await self.wr(STATUS, ACKNOWLEDGE | DRIVER | DRIVER_OK, 1)
        return self.features

    # -- interrupts ----------------------------------------------------------------------------------
    async def _intx(self) -> None:
        isr = await self.rd(ISR, 1)          # read-to-clear: deasserts the line
        if isr:
            self.isr_seen.append(isr)
        if isr & ISR_CONFIG:
            self.config_irqs += 1
        if isr & ISR_QUEUE:
            self.queue_irqs += 1

    async def _config_irq(self) -> None:
        self.config_irqs += 1

    async def _queue_irq(self) -> None:
        self.queue_irqs += 1

    # -- transmit ------------------------------------------------------------------------------------
    def _buffer(self, data: bytes, align: int = 1) -> int:
        """Place ``data`` in the data area (a ring of 1 MiB; old buffers are reused) and return its address."""
        assert self.data is not None
        off = (self._data_next + align - 1) // align * align
        if off + len(data) > self.data.size:
            off = 0
        self._data_next = off + max(len(data), 1)
        return off

    async def post(self, pieces: list[bytes], indirect: bool = False, flags_of: dict[int, int] | None = None,
                   align: int = 8) -> int:
        """Queue one chain whose buffers hold ``pieces`` (header bytes included, as the caller split them):
        descriptors first, then avail.ring, then avail.idx (spec 2.7.13). Returns the head. ``flags_of``
        adds descriptor flags by piece index (to make malformed chains)."""
        q, data = self.q, self.data
        assert q is not None and data is not None
        bufs = []
        for piece in pieces:
            off = self._buffer(piece, align)
            await data.write(off, piece)
            bufs.append((data.bus_addr + off, len(piece)))
        extra = flags_of or {}
        if indirect:
            table = bytearray()
            for k, (addr, n) in enumerate(bufs):
                last = k == len(bufs) - 1
                table += struct.pack("<QIHH", addr, n, (0 if last else DESC_F_NEXT) | extra.get(k, 0),
                                     0 if last else k + 1)
            toff = self._buffer(bytes(table), 16)
            await data.write(toff, bytes(table))
            descs = self._take(1)
            await self._desc(descs[0], data.bus_addr + toff, len(table), DESC_F_INDIRECT, 0)
        else:
            descs = self._take(len(bufs))
            for k, (addr, n) in enumerate(bufs):
                last = k == len(bufs) - 1
                await self._desc(descs[k], addr, n, (0 if last else DESC_F_NEXT) | extra.get(k, 0),
                                 0 if last else descs[k + 1])
        head = descs[0]
        q.chains[head] = descs
        await q.mem.write(q.avail + 4 + 2 * (q.avail_idx % q.num), head.to_bytes(2, "little"))
        q.avail_idx = (q.avail_idx + 1) & 0xFFFF
        await q.mem.write(q.avail + 2, q.avail_idx.to_bytes(2, "little"))
        return head

    def _take(self, n: int) -> list[int]:
        q = self.q
        assert q is not None
        if len(q.free) < n:
            raise SpecDriverError(f"{n} descriptors wanted, {len(q.free)} free")
        out, q.free = q.free[:n], q.free[n:]
        return out

    async def _desc(self, i: int, addr: int, length: int, flags: int, nxt: int) -> None:
        q = self.q
        assert q is not None
        await q.mem.write(16 * i, struct.pack("<QIHH", addr, length, flags, nxt))

    async def kick(self, force: bool = False) -> bool:
        """Notify the device unless it asked not to (used.flags NO_NOTIFY). Returns whether it notified."""
        q = self.q
        assert q is not None
        if not force and await q.mem.read_int(q.used, 2) & USED_F_NO_NOTIFY:
            return False
        await self.wr(QUEUE_NOTIFY, TX_QUEUE, 2)
        return True

    async def used_idx(self) -> int:
        q = self.q
        assert q is not None
        return await q.mem.read_int(q.used + 2, 2)

    async def wait_used(self, target: int, timeout_ns: float, poll_ns: float = 500) -> bool:
        """Poll used.idx until it reaches ``target`` (u16); False after ``timeout_ns``."""
        t_end = self.p.now_ns() + timeout_ns
        while await self.used_idx() != target & 0xFFFF:
            if self.p.now_ns() >= t_end:
                return False
            await self.p.sleep_ns(poll_ns)
        return True

    async def reap(self) -> list[Completion]:
        """Every used element up to the used.idx read (spec 2.7.14), chains back to the free list."""
        q = self.q
        assert q is not None
        idx = await self.used_idx()
        out = []
        while q.last_used != idx:
            raw = await q.mem.read(q.used + 4 + 8 * (q.last_used % q.num), 8)
            uid, ulen = struct.unpack("<II", raw)
            out.append(Completion(uid, ulen))
            descs = q.chains.pop(uid, None)
            if descs is None:
                raise SpecDriverError(f"used element {q.last_used}: id {uid} is not a chain the driver posted")
            q.free.extend(descs)
            q.last_used = (q.last_used + 1) & 0xFFFF
        return out

    async def set_avail_flags(self, flags: int) -> None:
        q = self.q
        assert q is not None
        await q.mem.write(q.avail, flags.to_bytes(2, "little"))


def frame_bytes(length: int, seq: int) -> bytes:
    """An Ethernet-looking frame of ``length`` bytes: broadcast, a local source, EtherType 0x88B5
    (local experimental), the sequence number, then a byte pattern (any length, even below the header)."""
    head = b"\xff" * 6 + bytes([0x02, 0, 0, 0, 0, 0x10]) + b"\x88\xb5" + seq.to_bytes(4, "big")
    body = bytes((seq + i) & 0xFF for i in range(max(0, length - len(head))))
    return (head + body)[:length]


# ---- the modern (virtio 1.x) interface ------------------------------------------------------------------
# What a driver written from virtio 1.2 4.1 alone does: find the virtio_pci_cap structures in config space
# (4.1.4), negotiate VERSION_1 with FEATURES_OK (3.1.1), set the queue up through the common configuration
# with three 64-bit addresses (4.1.5.1.3), kick through the notify region (4.1.4.4), read the ISR and the
# device configuration through theirs. Nothing here reads a register offset of this device: every location
# comes from the capabilities.

PCI_CAP_PTR, PCI_CAP_ID_VNDR = 0x34, 0x09
CAP_COMMON, CAP_NOTIFY, CAP_ISR, CAP_DEVICE, CAP_PCI_CFG = 1, 2, 3, 4, 5
# struct virtio_pci_common_cfg
C_DFSELECT, C_DF, C_GFSELECT, C_GF, C_MSIX_CONFIG, C_NUM_QUEUES = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x12
C_STATUS, C_GENERATION, C_QSELECT, C_QSIZE, C_QMSIX, C_QENABLE = 0x14, 0x15, 0x16, 0x18, 0x1A, 0x1C
C_QNOTIFY_OFF, C_QDESC, C_QDRIVER, C_QDEVICE = 0x1E, 0x20, 0x28, 0x30
FEATURES_OK = 0x08
F_VERSION_1, F_ACCESS_PLATFORM = 32, 33
NET_HDR_LEN_V1 = 12            # struct virtio_net_hdr with num_buffers, always with VERSION_1


@dataclass
class VirtioCap:
    """One struct virtio_pci_cap as found in config space."""

    cfg_type: int
    pos: int                   # its config-space offset
    bar: int
    offset: int
    length: int
    notify_off_multiplier: int = 0


async def find_virtio_caps(p: Platform) -> list[VirtioCap]:
    """Walk the capability list from 0x34 (at most 48 entries: a loop in the list fails) and return every
    vendor-specific capability, as Linux's virtio_pci_find_capability reads them."""
    out: list[VirtioCap] = []
    pos = await p.config_read(PCI_CAP_PTR, 1) & 0xFC
    for _ in range(48):
        if not pos:
            return out
        if await p.config_read(pos, 1) == PCI_CAP_ID_VNDR:
            cap_len = await p.config_read(pos + 2, 1)
            cap = VirtioCap(await p.config_read(pos + 3, 1), pos, await p.config_read(pos + 4, 1),
                            await p.config_read(pos + 8, 4), await p.config_read(pos + 12, 4))
            if cap.cfg_type == CAP_NOTIFY and cap_len >= 20:
                cap.notify_off_multiplier = await p.config_read(pos + 16, 4)
            out.append(cap)
        pos = await p.config_read(pos + 1, 1) & 0xFC
    raise SpecDriverError("the capability list does not end within 48 entries")


@dataclass
class SpecModernTxQueue(SpecTxQueue):
    """A split virtqueue set up through the common configuration: descriptors at 0, the driver area (avail)
    right after them, the device area (used) at the next 4-byte boundary (virtio 1.2 2.7: alignments 16,
    2 and 4), all in one buffer; the device is given the three addresses, not a page number."""

    @property
    def avail(self) -> int:
        return 16 * self.num

    @property
    def used(self) -> int:
        return (16 * self.num + 6 + 2 * self.num + 3) // 4 * 4

    @staticmethod
    def bytes_for(num: int) -> int:
        return (16 * num + 6 + 2 * num + 3) // 4 * 4 + 6 + 8 * num


class SpecModernNetDriver(SpecNetDriver):
    """The TX queue over the modern interface; the chains, completions and buffers are the legacy driver's."""

    def __init__(self, p: Platform):
        super().__init__(p)
        self.caps: dict[int, VirtioCap] = {}
        self.notify_addr = 0
        self.queue_size = 0

    async def find(self) -> None:
        """The first capability of each type whose BAR the function has (virtio 1.2 4.1.4.1)."""
        for cap in await find_virtio_caps(self.p):
            if cap.cfg_type not in self.caps and (cap.cfg_type == CAP_PCI_CFG or self.p.bar_size(cap.bar)):
                self.caps[cap.cfg_type] = cap
        missing = [t for t in (CAP_COMMON, CAP_NOTIFY, CAP_ISR, CAP_DEVICE) if t not in self.caps]
        if missing:
            raise SpecDriverError(f"no virtio capability of type {missing}: not a modern device")

    async def common_rd(self, off: int, size: int) -> int:
        c = self.caps[CAP_COMMON]
        if size == 8:   # a 64-bit field as two 32-bit accesses, low first (4.1.3.1)
            return await self.common_rd(off, 4) | await self.common_rd(off + 4, 4) << 32
        return await self.p.bar_read(c.bar, c.offset + off, size)

    async def common_wr(self, off: int, value: int, size: int) -> None:
        c = self.caps[CAP_COMMON]
        if size == 8:
            await self.common_wr(off, value & 0xFFFFFFFF, 4)
            await self.common_wr(off + 4, value >> 32, 4)
            return
        await self.p.bar_write(c.bar, c.offset + off, value, size)

    async def status(self) -> int:
        return await self.common_rd(C_STATUS, 1)

    async def config(self, off: int, size: int) -> int:
        c = self.caps[CAP_DEVICE]
        return await self.p.bar_read(c.bar, c.offset + off, size)

    async def reset(self) -> None:
        """device_status = 0, then wait for it to read 0 (4.1.4.3.2: the reset is complete then)."""
        await self.common_wr(C_STATUS, 0, 1)
        for _ in range(1000):
            if await self.status() == 0:
                break
            await self.p.sleep_ns(100)
        else:
            raise SpecDriverError("device_status does not read 0 after the reset")
        self.q = None

    async def device_features(self) -> int:
        await self.common_wr(C_DFSELECT, 0, 4)
        lo = await self.common_rd(C_DF, 4)
        await self.common_wr(C_DFSELECT, 1, 4)
        return lo | await self.common_rd(C_DF, 4) << 32

    async def init(self, want: int = (1 << F_MAC) | (1 << F_STATUS) | (1 << F_VERSION_1), msix: bool = False,
                   queue_size: int | None = None) -> int:
        """3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (read back), the TX queue (size, vector,
        three addresses, enable), DRIVER_OK. ``queue_size`` a smaller power of two than the device's
        maximum, or None for the maximum. Returns the features."""
        if not self.caps:
            await self.find()
        await self.reset()
        await self.common_wr(C_STATUS, ACKNOWLEDGE, 1)
        await self.common_wr(C_STATUS, ACKNOWLEDGE | DRIVER, 1)
        offered = await self.device_features()
        if not offered >> F_VERSION_1 & 1:
            raise SpecDriverError(f"device features {offered:#x}: no VERSION_1")
        self.features = offered & (want | 1 << F_ACCESS_PLATFORM)   # ACCESS_PLATFORM: accepted when offered
        await self.common_wr(C_GFSELECT, 0, 4)
        await self.common_wr(C_GF, self.features & 0xFFFFFFFF, 4)
        await self.common_wr(C_GFSELECT, 1, 4)
        await self.common_wr(C_GF, self.features >> 32, 4)
        await self.common_wr(C_STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK, 1)
        if not await self.status() & FEATURES_OK:
            await self.common_wr(C_STATUS, ACKNOWLEDGE | DRIVER | FAILED, 1)
            raise SpecDriverError(f"the device refused features {self.features:#x} (FEATURES_OK clear)")
        self.msix = False
        self.p.free_irqs()
        if msix:
            if await self.p.enable_msix(2) < 2:
                raise SpecDriverError("MSI-X: two vectors wanted")
            self.msix = self._msix_on = True
            self.p.request_irq(0, self._config_irq)
            self.p.request_irq(1, self._queue_irq)
            await self.common_wr(C_MSIX_CONFIG, 0, 2)
            if await self.common_rd(C_MSIX_CONFIG, 2) != 0:
                raise SpecDriverError("the device refused config vector 0")
        else:
            if self._msix_on:
                await self.p.disable_msix()
                self._msix_on = False
            self.p.request_intx(self._intx)
        await self.common_wr(C_QSELECT, TX_QUEUE, 2)
        num = await self.common_rd(C_QSIZE, 2)
        if num == 0 or num & (num - 1):
            raise SpecDriverError(f"TX queue size {num}")
        if queue_size is not None:
            if queue_size > num or queue_size & (queue_size - 1):
                raise SpecDriverError(f"queue size {queue_size}: a power of two up to {num}")
            num = queue_size
            await self.common_wr(C_QSIZE, num, 2)
        self.queue_size = num
        if self.data is None:
            self.data = self.p.dma_alloc(1 << 20, PAGE)
        mem = self.p.dma_alloc(SpecModernTxQueue.bytes_for(num), PAGE)
        await mem.write(0, bytes(mem.size))
        q = SpecModernTxQueue(num, mem, free=list(range(num)))
        self.q = q
        await self.common_wr(C_QDESC, mem.bus_addr, 8)
        await self.common_wr(C_QDRIVER, mem.bus_addr + q.avail, 8)
        await self.common_wr(C_QDEVICE, mem.bus_addr + q.used, 8)
        if msix:
            await self.common_wr(C_QMSIX, 1, 2)
            if await self.common_rd(C_QMSIX, 2) != 1:
                raise SpecDriverError("the device refused queue vector 1")
        n = self.caps[CAP_NOTIFY]
        off = await self.common_rd(C_QNOTIFY_OFF, 2) * n.notify_off_multiplier
        if off + 2 > n.length:
            raise SpecDriverError(f"queue_notify_off * multiplier = {off:#x} outside the notify region")
        self.notify_addr = n.offset + off
        await self.common_wr(C_QENABLE, 1, 2)
        await self.common_wr(C_STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK, 1)
        return self.features

    async def _intx(self) -> None:
        c = self.caps[CAP_ISR]
        isr = await self.p.bar_read(c.bar, c.offset, 1)   # read-to-clear
        if isr:
            self.isr_seen.append(isr)
        if isr & ISR_CONFIG:
            self.config_irqs += 1
        if isr & ISR_QUEUE:
            self.queue_irqs += 1

    async def kick(self, force: bool = False) -> bool:
        """Notify (the queue index, 16 bits, at the queue's notify address) unless used.flags NO_NOTIFY."""
        q = self.q
        assert q is not None
        if not force and await q.mem.read_int(q.used, 2) & USED_F_NO_NOTIFY:
            return False
        await self.p.bar_write(self.caps[CAP_NOTIFY].bar, self.notify_addr, TX_QUEUE, 2)
        return True

    async def cfg_window(self, bar: int, offset: int, length: int, value: int | None = None) -> int:
        """An access through VIRTIO_PCI_CAP_PCI_CFG (4.1.4.9): cap.bar, cap.offset, cap.length, then
        pci_cfg_data read or written. Returns what was read (or ``value``)."""
        c = self.caps[CAP_PCI_CFG]
        await self.p.config_write(c.pos + 4, bar, 1)
        await self.p.config_write(c.pos + 8, offset, 4)
        await self.p.config_write(c.pos + 12, length, 4)
        if value is None:
            return await self.p.config_read(c.pos + 16, 4) & ((1 << 8 * length) - 1)
        await self.p.config_write(c.pos + 16, value, 4)
        return value
