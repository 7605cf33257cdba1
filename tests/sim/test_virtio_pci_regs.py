"""Block test of virtio_pci_regs, the transitional register block: one device state behind the legacy layout
(BAR0) and the modern virtio 1.x layout (BAR4, ``reg_req_modern``).

The test drives the register bus as the CQ/CC bridge does (one dword access at a time, byte enables) and
watches the engine-facing outputs (queue enables, ring addresses, running sizes, notify and reset pulses,
features) and the interrupt outputs. Expected values come from the virtio 1.2 spec's layouts and rules,
written here independently of the RTL: the common config offsets (4.1.4.3), the legacy ring layout
(``vring_layout``), the feature sets of the two interfaces, FEATURES_OK (3.1.1 / 2.2.2), the notify
address (queue_notify_off * notify_off_multiplier).
"""

from __future__ import annotations

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from tb.simulation.seed import rng_for
from tests.sim.vring_builder import vring_layout

CLK_NS = 4

# legacy layout (BAR0)
L_HOST_FEATURES, L_GUEST_FEATURES, L_QUEUE_PFN, L_NUM_SEL, L_NOTIFY_STATUS, L_DW14 = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14
# modern layout (BAR4): struct virtio_pci_common_cfg, then the other regions
DFSELECT, DF, GFSELECT, GF = 0x00, 0x04, 0x08, 0x0C
MSIX_CONFIG, NUM_QUEUES, STATUS, GENERATION, QSEL = 0x10, 0x12, 0x14, 0x15, 0x16
QSIZE, QVECTOR, QENABLE, QNOTIFY_OFF = 0x18, 0x1A, 0x1C, 0x1E
QDESC, QDRIVER, QDEVICE = 0x20, 0x28, 0x30
ISR, DEVICE_CFG, NOTIFY, NOTIFY_MULT = 0x100, 0x200, 0x300, 4

S_ACK, S_DRIVER, S_DRIVER_OK, S_FEATURES_OK, S_NEEDS_RESET = 0x01, 0x02, 0x04, 0x08, 0x40
F_MAC, F_MRG, F_STATUS, F_NOE, F_INDIRECT, F_EVENT_IDX, F_VERSION_1, F_ACCESS_PLATFORM = 5, 15, 16, 24, 28, 29, 32, 33
NO_VECTOR = 0xFFFF
MAC = bytes.fromhex("020000000001")
TIMEOUT_CYCLES = 20


def bit(n: int) -> int:
    return 1 << n


class TB:
    def __init__(self, dut) -> None:
        self.dut = dut
        self.rx_max = int(dut.RX_QUEUE_SIZE.value)
        self.tx_max = int(dut.TX_QUEUE_SIZE.value)
        self.pulses = {"tx_notify": 0, "rx_notify": 0, "dev_reset": 0}
        for n in ("reg_req_valid", "reg_req_modern", "reg_req_write", "reg_req_addr", "reg_req_be", "reg_req_wdata",
                  "offer_noe", "offer_indirect", "offer_mrg_rxbuf", "offer_event_idx", "tx_irq", "tx_error",
                  "rx_irq", "rx_error", "msix_enabled", "irq_ready"):
            getattr(dut, n).value = 0
        dut.rst.value = 1
        Clock(dut.clk, CLK_NS, unit="ns", impl="gpi").start()
        cocotb.start_soon(self._count_pulses())

    async def reset(self) -> None:
        for _ in range(3):
            await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def _count_pulses(self) -> None:
        while True:
            await RisingEdge(self.dut.clk)
            await ReadOnly()
            for name in self.pulses:
                if int(getattr(self.dut, name).value):
                    self.pulses[name] += 1

    async def access(self, modern: bool, write: bool, addr: int, be: int, wdata: int = 0) -> int:
        dut = self.dut
        await FallingEdge(dut.clk)
        dut.reg_req_valid.value = 1
        dut.reg_req_modern.value = int(modern)
        dut.reg_req_write.value = int(write)
        dut.reg_req_addr.value = addr & ~3
        dut.reg_req_be.value = be
        dut.reg_req_wdata.value = wdata
        await FallingEdge(dut.clk)
        dut.reg_req_valid.value = 0
        for _ in range(TIMEOUT_CYCLES):
            await ReadOnly()
            if int(dut.reg_rsp_valid.value):
                assert int(dut.reg_rsp_modern.value) == int(modern), "the response names the wrong BAR"
                return int(dut.reg_rsp_rdata.value)
            await RisingEdge(dut.clk)
        raise AssertionError(f"no response to the access at {addr:#x} within {TIMEOUT_CYCLES} cycles")

    # field accessors: any width at any offset, as dwords with byte enables (little-endian lanes)
    async def read(self, modern: bool, addr: int, size: int) -> int:
        if size == 8:
            return await self.read(modern, addr, 4) | (await self.read(modern, addr + 4, 4) << 32)
        lane = addr & 3
        be = ((1 << size) - 1) << lane
        dword = await self.access(modern, False, addr, be)
        return (dword >> (8 * lane)) & ((1 << (8 * size)) - 1)

    async def write(self, modern: bool, addr: int, size: int, value: int) -> None:
        if size == 8:
            await self.write(modern, addr, 4, value & 0xFFFFFFFF)
            await self.write(modern, addr + 4, 4, value >> 32)
            return
        lane = addr & 3
        be = ((1 << size) - 1) << lane
        await self.access(modern, True, addr, be, (value << (8 * lane)) & 0xFFFFFFFF)

    async def mread(self, addr: int, size: int) -> int:
        return await self.read(True, addr, size)

    async def mwrite(self, addr: int, size: int, value: int) -> None:
        await self.write(True, addr, size, value)

    async def lread(self, addr: int, size: int) -> int:
        return await self.read(False, addr, size)

    async def lwrite(self, addr: int, size: int, value: int) -> None:
        await self.write(False, addr, size, value)

    async def device_features(self) -> int:
        await self.mwrite(DFSELECT, 4, 0)
        lo = await self.mread(DF, 4)
        await self.mwrite(DFSELECT, 4, 1)
        hi = await self.mread(DF, 4)
        return lo | (hi << 32)

    async def driver_features(self, value: int) -> None:
        await self.mwrite(GFSELECT, 4, 0)
        await self.mwrite(GF, 4, value & 0xFFFFFFFF)
        await self.mwrite(GFSELECT, 4, 1)
        await self.mwrite(GF, 4, value >> 32)

    def queue_outputs(self, q: int) -> dict:
        p = "rx" if q == 0 else "tx"
        d = self.dut
        return {
            "enable": int(getattr(d, f"{p}_queue_enable").value),
            "desc": int(getattr(d, f"{p}_desc_addr").value),
            "avail": int(getattr(d, f"{p}_avail_addr").value),
            "used": int(getattr(d, f"{p}_used_addr").value),
            "size": int(getattr(d, f"{p}_queue_size").value),
        }

    def max_size(self, q: int) -> int:
        return self.rx_max if q == 0 else self.tx_max


def legacy_features(noe: bool, indirect: bool, mrg: bool, event_idx: bool) -> int:
    f = bit(F_MAC) | bit(F_STATUS)
    f |= bit(F_NOE) if noe else 0
    f |= bit(F_INDIRECT) if indirect else 0
    f |= bit(F_MRG) if mrg else 0
    f |= bit(F_EVENT_IDX) if event_idx else 0
    return f


def modern_features(noe: bool, indirect: bool, mrg: bool, event_idx: bool) -> int:
    # the legacy-only NOTIFY_ON_EMPTY is not offered on the modern interface; VERSION_1, ACCESS_PLATFORM are
    return (legacy_features(noe, indirect, mrg, event_idx) & ~bit(F_NOE)) | bit(F_VERSION_1) | bit(F_ACCESS_PLATFORM)


async def setup(dut, offer: bool = True) -> TB:
    tb = TB(dut)
    for n in ("offer_noe", "offer_indirect", "offer_mrg_rxbuf", "offer_event_idx"):
        getattr(dut, n).value = int(offer)
    await tb.reset()
    return tb


@cocotb.test()
async def test_common_config(dut):
    """Every common config field: reset values, read-only fields, RW fields read back, per-queue fields by
    queue_select, 64-bit addresses written as two dwords (and as an 8-byte access) reaching the engines."""
    tb = await setup(dut)
    rng = rng_for("test_common_config", dut._log)
    assert await tb.device_features() == modern_features(True, True, True, True)
    assert await tb.mread(DFSELECT, 4) == 1
    await tb.mwrite(DFSELECT, 4, 7)
    assert await tb.mread(DF, 4) == 0, "device_feature beyond bit 63 must read 0"
    assert await tb.mread(NUM_QUEUES, 2) == 2
    assert await tb.mread(MSIX_CONFIG, 2) == NO_VECTOR
    assert await tb.mread(STATUS, 1) == 0
    await tb.mwrite(MSIX_CONFIG, 2, 3)
    assert await tb.mread(MSIX_CONFIG, 2) == 3
    await tb.mwrite(MSIX_CONFIG, 2, 200)
    assert await tb.mread(MSIX_CONFIG, 2) == NO_VECTOR, "a vector beyond the table must read back NO_VECTOR"
    await tb.mwrite(NUM_QUEUES, 2, 9)
    assert await tb.mread(NUM_QUEUES, 2) == 2, "num_queues is read-only"
    addrs = {}
    for q in (0, 1):
        await tb.mwrite(QSEL, 2, q)
        assert await tb.mread(QSEL, 2) == q
        assert await tb.mread(QSIZE, 2) == tb.max_size(q), "queue_size resets to the maximum"
        assert await tb.mread(QENABLE, 2) == 0
        assert await tb.mread(QNOTIFY_OFF, 2) == q
        assert await tb.mread(QVECTOR, 2) == NO_VECTOR
        await tb.mwrite(QVECTOR, 2, q + 1)
        assert await tb.mread(QVECTOR, 2) == q + 1
        # addresses above 4 GiB, different per queue, each field by its two dwords
        desc, driver, device = (rng.randrange(1 << 32, 1 << 48) & ~0xF, rng.randrange(1 << 32, 1 << 48) & ~1,
                                rng.randrange(1 << 32, 1 << 48) & ~3)
        await tb.mwrite(QDESC, 4, desc & 0xFFFFFFFF)
        await tb.mwrite(QDESC + 4, 4, desc >> 32)
        await tb.mwrite(QDRIVER, 8, driver)
        await tb.mwrite(QDEVICE + 4, 4, device >> 32)       # high dword first works too
        await tb.mwrite(QDEVICE, 4, device & 0xFFFFFFFF)
        assert (await tb.mread(QDESC, 8), await tb.mread(QDRIVER, 8), await tb.mread(QDEVICE, 8)) == (desc, driver,
                                                                                                     device)
        addrs[q] = (desc, driver, device)
    for q in (0, 1):
        out = tb.queue_outputs(q)
        assert (out["desc"], out["avail"], out["used"]) == addrs[q], f"queue {q}: the engines got {out}"
        assert out["enable"] == 0
    # a queue beyond num_queues: size 0, nothing written sticks
    await tb.mwrite(QSEL, 2, 2)
    assert await tb.mread(QSIZE, 2) == 0
    await tb.mwrite(QDESC, 8, 0x1234_0000)
    assert await tb.mread(QDESC, 8) == 0
    assert await tb.mread(QNOTIFY_OFF, 2) == 0
    # the rest of the BAR reads 0
    for addr in (0x38, 0x3C, 0x104, 0x210, 0x400, 0xFFC):
        assert await tb.access(True, False, addr, 0xF) == 0, f"BAR4 {addr:#x} must read 0"


@cocotb.test()
async def test_queue_size(dut):
    """queue_size: a power of two from 2 to the maximum is kept and reaches the engine; anything else
    (0, 1, not a power of two, above the maximum), or any write while the queue is enabled, is ignored; a
    reset brings back the maximum."""
    tb = await setup(dut)
    for q in (0, 1):
        await tb.mwrite(QSEL, 2, q)
        mx = tb.max_size(q)
        for value, kept in ((mx // 2, True), (3, False), (0, False), (1, False), (2 * mx, False), (2, True),
                            (mx, True), (mx // 4, True), (mx - 1, False)):
            before = await tb.mread(QSIZE, 2)
            await tb.mwrite(QSIZE, 2, value)
            now = await tb.mread(QSIZE, 2)
            assert now == (value if kept else before), f"queue {q}: wrote {value}, reads {now} (was {before})"
            assert tb.queue_outputs(q)["size"] == now
    # an enabled queue keeps its size (the engines index by it)
    await tb.mwrite(QSEL, 2, 1)
    await tb.mwrite(QSIZE, 2, 4)
    await tb.mwrite(QENABLE, 2, 1)
    await tb.mwrite(QSIZE, 2, 8)
    assert await tb.mread(QSIZE, 2) == 4 and tb.queue_outputs(1)["size"] == 4, "queue_size changed while enabled"
    await tb.mwrite(STATUS, 1, 0)
    for q in (0, 1):
        await tb.mwrite(QSEL, 2, q)
        assert await tb.mread(QSIZE, 2) == tb.max_size(q)


@cocotb.test()
async def test_features_ok(dut):
    """FEATURES_OK stays set only for a subset of the modern set that includes VERSION_1; the legacy-only
    NOTIFY_ON_EMPTY is refused on the modern interface even when the legacy interface offers it."""
    tb = await setup(dut)
    offered = modern_features(True, True, True, True)
    cases = [
        ("VERSION_1 alone", bit(F_VERSION_1), True),
        ("everything offered", offered, True),
        ("a subset", bit(F_VERSION_1) | bit(F_EVENT_IDX) | bit(F_MAC), True),
        ("no VERSION_1", bit(F_MAC) | bit(F_EVENT_IDX), False),
        ("nothing", 0, False),
        ("NOTIFY_ON_EMPTY (legacy only)", bit(F_VERSION_1) | bit(F_NOE), False),
        ("ANY_LAYOUT (legacy only)", bit(F_VERSION_1) | bit(27), False),
        ("a bit above 33", bit(F_VERSION_1) | bit(40), False),
        ("RING_PACKED (not offered)", bit(F_VERSION_1) | bit(34), False),
    ]
    for name, feats, ok in cases:
        await tb.mwrite(STATUS, 1, 0)
        await tb.mwrite(STATUS, 1, S_ACK)
        await tb.mwrite(STATUS, 1, S_ACK | S_DRIVER)
        await tb.driver_features(feats)
        await tb.mwrite(GFSELECT, 4, 0)
        assert await tb.mread(GF, 4) == feats & 0xFFFFFFFF, f"{name}: driver_feature reads back as written"
        await tb.mwrite(STATUS, 1, S_ACK | S_DRIVER | S_FEATURES_OK)
        status = await tb.mread(STATUS, 1)
        assert bool(status & S_FEATURES_OK) == ok, f"{name}: status {status:#x}"
        assert status & (S_ACK | S_DRIVER) == S_ACK | S_DRIVER
        if ok:
            acked = int(dut.guest_features.value)
            assert acked == feats, f"{name}: the engines got {acked:#x}"


@cocotb.test()
async def test_modern_bringup_and_reset(dut):
    """A modern bring-up enables exactly the queues enabled (queue_enable 0 is ignored); DRIVER_OK runs them,
    NEEDS_RESET stops them and bumps config_generation (the link goes down in the device config); writing
    device_status = 0 resets everything the driver set, exactly like the legacy STATUS = 0."""
    tb = await setup(dut)
    await tb.mwrite(STATUS, 1, S_ACK | S_DRIVER)
    await tb.driver_features(bit(F_VERSION_1) | bit(F_MAC) | bit(F_STATUS))
    await tb.mwrite(STATUS, 1, S_ACK | S_DRIVER | S_FEATURES_OK)
    await tb.mwrite(QSEL, 2, 1)
    await tb.mwrite(QSIZE, 2, tb.tx_max // 2)
    await tb.mwrite(QDESC, 8, 0x1_0000_0000)
    await tb.mwrite(QDRIVER, 8, 0x1_0000_2000)
    await tb.mwrite(QDEVICE, 8, 0x1_0000_3000)
    await tb.mwrite(QENABLE, 2, 1)
    await tb.mwrite(QSEL, 2, 0)
    await tb.mwrite(QENABLE, 2, 0)          # the driver must not write 0; the device ignores it
    assert await tb.mread(QENABLE, 2) == 0
    await tb.mwrite(QSEL, 2, 1)
    assert await tb.mread(QENABLE, 2) == 1
    assert tb.queue_outputs(1)["enable"] == 0, "no queue runs before DRIVER_OK"
    await tb.mwrite(STATUS, 1, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK)
    await RisingEdge(dut.clk)
    assert tb.queue_outputs(1) == {"enable": 1, "desc": 0x1_0000_0000, "avail": 0x1_0000_2000,
                                   "used": 0x1_0000_3000, "size": tb.tx_max // 2}
    assert tb.queue_outputs(0)["enable"] == 0, "RX was never enabled"
    assert int(dut.guest_features.value) == bit(F_VERSION_1) | bit(F_MAC) | bit(F_STATUS)
    # device config: mac, link up
    cfg = bytes([await tb.mread(DEVICE_CFG + i, 1) for i in range(8)])
    assert cfg == MAC + b"\x01\x00", cfg.hex()
    gen = await tb.mread(GENERATION, 1)
    # an engine error: NEEDS_RESET, queue stopped, link down, generation bumped once
    for _ in range(2):
        await FallingEdge(dut.clk)
        dut.tx_error.value = 1
        await FallingEdge(dut.clk)
        dut.tx_error.value = 0
    status = await tb.mread(STATUS, 1)
    assert status & S_NEEDS_RESET
    assert tb.queue_outputs(1)["enable"] == 0
    assert await tb.mread(DEVICE_CFG + 6, 2) == 0, "the link is down while NEEDS_RESET is set"
    assert await tb.mread(GENERATION, 1) == (gen + 1) & 0xFF, "config_generation moves once per config change"
    # device_status = 0
    resets = tb.pulses["dev_reset"]
    await tb.mwrite(STATUS, 1, 0)
    await RisingEdge(dut.clk)
    assert tb.pulses["dev_reset"] == resets + 1
    assert await tb.mread(STATUS, 1) == 0
    assert await tb.mread(GENERATION, 1) == (gen + 2) & 0xFF, "the link coming back up is a config change too"
    assert await tb.mread(DEVICE_CFG + 6, 2) == 1
    await tb.mwrite(GFSELECT, 4, 1)
    assert await tb.mread(GF, 4) == 0
    assert await tb.mread(MSIX_CONFIG, 2) == NO_VECTOR
    for q in (0, 1):
        await tb.mwrite(QSEL, 2, q)
        assert (await tb.mread(QENABLE, 2), await tb.mread(QSIZE, 2), await tb.mread(QDESC, 8),
                await tb.mread(QDRIVER, 8), await tb.mread(QDEVICE, 8), await tb.mread(QVECTOR, 2)) == (
                    0, tb.max_size(q), 0, 0, 0, NO_VECTOR), f"queue {q} not reset"
        assert tb.queue_outputs(q) == {"enable": 0, "desc": 0, "avail": 0, "used": 0, "size": tb.max_size(q)}


@cocotb.test()
async def test_notify_and_isr(dut):
    """Notify addresses: queue_notify_off * 4 from 0x300 kicks that queue (any width), other addresses kick
    nothing; the ISR at BAR4 0x100 is the legacy ISR (read-to-clear on either interface, INTx follows it)."""
    tb = await setup(dut)
    for q in (0, 1):
        await tb.mwrite(QSEL, 2, q)
        off = await tb.mread(QNOTIFY_OFF, 2)
        for size in (2, 4):
            before = dict(tb.pulses)
            await tb.mwrite(NOTIFY + off * NOTIFY_MULT, size, q)
            await RisingEdge(dut.clk)
            await RisingEdge(dut.clk)
            name, other = ("rx_notify", "tx_notify") if q == 0 else ("tx_notify", "rx_notify")
            assert tb.pulses[name] == before[name] + 1, f"queue {q}: no kick from a {size}-byte notify"
            assert tb.pulses[other] == before[other]
    before = dict(tb.pulses)
    for addr in (NOTIFY + 8, NOTIFY + 2 * NOTIFY_MULT + 4, 0x000, L_NOTIFY_STATUS):
        await tb.mwrite(addr, 2, 1)
    await RisingEdge(dut.clk)
    assert tb.pulses == before, "a write outside the notify addresses kicked a queue"
    # ISR: a queue interrupt without MSI-X sets bit 0; a config change bit 1 (sources count while the queues run)
    for src, isr_bit in (("tx_irq", 1), ("rx_irq", 1), ("rx_error", 2)):
        await run_queues(tb)
        await FallingEdge(dut.clk)
        getattr(dut, src).value = 1
        await FallingEdge(dut.clk)
        getattr(dut, src).value = 0
        await RisingEdge(dut.clk)
        assert int(dut.intx_level.value) == 1
        for modern in (True, False):
            isr = await (tb.mread(ISR, 1) if modern else tb.lread(L_NOTIFY_STATUS + 3, 1))
            if modern:
                assert isr & isr_bit, f"{src}: ISR {isr:#x}"
                assert int(dut.intx_level.value) == 0, "INTx stays asserted after the ISR read"
            else:
                assert isr == 0, "the legacy ISR was not cleared by the modern read (two ISRs?)"
        await tb.mwrite(STATUS, 1, 0)


async def pulse_tx_irq(dut) -> None:
    """The TX engine's interrupt request for one cycle (between falling edges), then the next rising edge."""
    await FallingEdge(dut.clk)
    dut.tx_irq.value = 1
    await FallingEdge(dut.clk)
    dut.tx_irq.value = 0
    await RisingEdge(dut.clk)


async def run_queues(tb) -> None:
    """Both queues enabled and DRIVER_OK: the engines' interrupts and errors count from here on."""
    for q in (0, 1):
        await tb.mwrite(QSEL, 2, q)
        await tb.mwrite(QENABLE, 2, 1)
    await tb.mwrite(STATUS, 1, S_ACK | S_DRIVER | S_DRIVER_OK)
    await RisingEdge(tb.dut.clk)


@cocotb.test()
async def test_sources_after_reset(dut):
    """An engine's interrupt or error that reaches the register block after device_status = 0 (raised in the
    cycles the reset took to reach the engine) belongs to the dropped rings: ISR stays 0, INTx low, no
    NEEDS_RESET; and while the queues run, the same pulses count (the gate is the reset, nothing else)."""
    tb = await setup(dut)
    for src in ("tx_irq", "rx_irq", "tx_error", "rx_error"):
        await run_queues(tb)
        await tb.mwrite(STATUS, 1, 0)
        for _ in range(2):
            await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        getattr(dut, src).value = 1
        await FallingEdge(dut.clk)
        getattr(dut, src).value = 0
        await RisingEdge(dut.clk)
        assert int(dut.intx_level.value) == 0, f"{src} after the reset asserted INTx"
        assert await tb.mread(ISR, 1) == 0, f"{src} after the reset set ISR"
        assert await tb.mread(STATUS, 1) == 0, f"{src} after the reset changed the status"
        assert await tb.mread(DEVICE_CFG + 6, 2) == 1, f"{src} after the reset took the link down"
    # and while running, the same pulse counts
    await run_queues(tb)
    await pulse_tx_irq(dut)
    assert int(dut.intx_level.value) == 1 and await tb.mread(ISR, 1) == 1


@cocotb.test()
async def test_legacy_still_works(dut):
    """The legacy layout over the shared state: features (32 bits, NOTIFY_ON_EMPTY offered, never VERSION_1),
    QUEUE_PFN to the legacy ring layout at the maximum size, QUEUE_NUM, STATUS, notify, the device config,
    STATUS = 0; and what the modern view of the same state reads."""
    tb = await setup(dut)
    assert await tb.lread(L_HOST_FEATURES, 4) == legacy_features(True, True, True, True)
    await tb.lwrite(L_GUEST_FEATURES, 4, 0xFFFFFFFF)
    acked = legacy_features(True, True, True, True)
    assert await tb.lread(L_GUEST_FEATURES, 4) == acked
    assert int(dut.guest_features.value) == acked, "legacy features reach the engines (NOE included)"
    for q, pfn in ((0, 0x12345), (1, 0x4_5678)):
        await tb.lwrite(L_NUM_SEL + 2, 2, q)
        assert await tb.lread(L_NUM_SEL, 2) == tb.max_size(q)
        await tb.lwrite(L_QUEUE_PFN, 4, pfn)
        assert await tb.lread(L_QUEUE_PFN, 4) == pfn
        desc, avail, used, _ = vring_layout(pfn << 12, tb.max_size(q))
        out = tb.queue_outputs(q)
        assert (out["desc"], out["avail"], out["used"], out["size"]) == (desc, avail, used, tb.max_size(q)), out
        # the modern view of the same queue
        await tb.mwrite(QSEL, 2, q)
        assert (await tb.mread(QENABLE, 2), await tb.mread(QDESC, 8), await tb.mread(QDRIVER, 8),
                await tb.mread(QDEVICE, 8)) == (1, desc, avail, used)
    await tb.lwrite(L_NOTIFY_STATUS + 2, 1, S_ACK | S_DRIVER | S_DRIVER_OK)
    await RisingEdge(dut.clk)
    assert tb.queue_outputs(0)["enable"] == 1 and tb.queue_outputs(1)["enable"] == 1
    assert await tb.mread(STATUS, 1) == S_ACK | S_DRIVER | S_DRIVER_OK, "one status for both interfaces"
    before = dict(tb.pulses)
    await tb.lwrite(L_NOTIFY_STATUS, 2, 1)
    await tb.lwrite(L_NOTIFY_STATUS, 2, 0)
    await RisingEdge(dut.clk)
    assert tb.pulses["tx_notify"] == before["tx_notify"] + 1 and tb.pulses["rx_notify"] == before["rx_notify"] + 1
    cfg = bytes([await tb.lread(L_DW14 + i, 1) for i in range(8)])
    assert cfg == MAC + b"\x01\x00", cfg.hex()
    await tb.lwrite(L_QUEUE_PFN, 4, 0)      # TX: PFN 0 disables the queue
    await RisingEdge(dut.clk)
    assert tb.queue_outputs(1)["enable"] == 0 and tb.queue_outputs(0)["enable"] == 1
    await tb.lwrite(L_NOTIFY_STATUS + 2, 1, 0)
    await RisingEdge(dut.clk)
    assert await tb.lread(L_NOTIFY_STATUS + 2, 1) == 0
    assert await tb.lread(L_GUEST_FEATURES, 4) == 0
    await tb.lwrite(L_NUM_SEL + 2, 2, 0)
    assert await tb.lread(L_QUEUE_PFN, 4) == 0
    assert tb.queue_outputs(0)["enable"] == 0


@cocotb.test()
async def test_register_corners(dut):
    """Accesses a driver may make and the device must shrug off: a QUEUE_SEL naming no queue (QUEUE_NUM reads
    0, the legacy spec's "no such queue"; a PFN or MSI-X vector written then lands nowhere), QUEUE_SEL written one
    byte at a time, the legacy vector registers written with MSI-X off (the device config is there then: read
    only), a guest_feature_select beyond the two feature dwords (writes ignored, reads 0, the select reads
    back), and an ISR read without the ISR's byte (no clear)."""
    tb = await setup(dut)
    before = {q: tb.queue_outputs(q) for q in (0, 1)}
    # QUEUE_SEL = 2: no queue
    await tb.lwrite(L_NUM_SEL + 2, 2, 2)
    assert await tb.lread(L_NUM_SEL, 2) == 0, "QUEUE_NUM of a queue that does not exist must read 0"
    await tb.lwrite(L_QUEUE_PFN, 4, 0x12345)
    await RisingEdge(dut.clk)
    assert await tb.lread(L_QUEUE_PFN, 4) == 0
    assert {q: tb.queue_outputs(q) for q in (0, 1)} == before, "a PFN for no queue moved a queue"
    # QUEUE_SEL one byte at a time: the high byte alone, then the low byte alone
    await tb.lwrite(L_NUM_SEL + 3, 1, 1)
    assert await tb.lread(L_NUM_SEL + 2, 2) == 0x0102 and await tb.lread(L_NUM_SEL, 2) == 0
    await tb.lwrite(L_NUM_SEL + 2, 1, 1)
    assert await tb.lread(L_NUM_SEL + 2, 2) == 0x0101 and await tb.lread(L_NUM_SEL, 2) == 0
    await tb.lwrite(L_NUM_SEL + 3, 1, 0)
    assert await tb.lread(L_NUM_SEL + 2, 2) == 1 and await tb.lread(L_NUM_SEL, 2) == tb.max_size(1)
    # MSI-X off: 0x14 is the device config (read only); a write there changes no vector and no MAC byte
    await tb.lwrite(L_DW14, 4, 0x0001_0000)
    assert bytes([await tb.lread(L_DW14 + i, 1) for i in range(6)]) == MAC
    await FallingEdge(dut.clk)
    dut.msix_enabled.value = 1
    assert await tb.lread(L_DW14, 4) == NO_VECTOR << 16 | NO_VECTOR, "the write with MSI-X off set a vector"
    # MSI-X on, QUEUE_SEL = 2: a queue vector written lands nowhere
    await tb.lwrite(L_NUM_SEL + 2, 2, 2)
    await tb.lwrite(L_DW14 + 2, 2, 1)
    for q in (0, 1):
        await tb.mwrite(QSEL, 2, q)
        assert await tb.mread(QVECTOR, 2) == NO_VECTOR, f"queue {q}'s vector moved"
    await FallingEdge(dut.clk)
    dut.msix_enabled.value = 0
    # guest_feature_select 2: nothing there
    await tb.driver_features(bit(F_MAC) | bit(F_VERSION_1))
    await tb.mwrite(GFSELECT, 4, 2)
    assert await tb.mread(GFSELECT, 4) == 2
    await tb.mwrite(GF, 4, 0xFFFF_FFFF)
    assert await tb.mread(GF, 4) == 0
    await tb.mwrite(GFSELECT, 4, 0)
    assert await tb.mread(GF, 4) == bit(F_MAC)
    await tb.mwrite(GFSELECT, 4, 1)
    assert await tb.mread(GF, 4) == bit(F_VERSION_1 - 32), "a write through select 2 reached the features"
    # an ISR read without byte 0 (the ISR's only byte) leaves it set, INTx with it
    await run_queues(tb)
    await pulse_tx_irq(dut)
    assert await tb.mread(ISR + 1, 1) == 0
    assert int(dut.intx_level.value) == 1, "an ISR read without byte 0 cleared the ISR"
    assert await tb.mread(ISR, 1) & 1 and int(dut.intx_level.value) == 0


@cocotb.test()
async def test_legacy_offers(dut):
    """With nothing optional offered: the legacy set is MAC | STATUS, the modern one adds VERSION_1 and
    ACCESS_PLATFORM only; a legacy ack of bits not offered is dropped."""
    tb = await setup(dut, offer=False)
    assert await tb.lread(L_HOST_FEATURES, 4) == bit(F_MAC) | bit(F_STATUS)
    assert await tb.device_features() == modern_features(False, False, False, False)
    await tb.lwrite(L_GUEST_FEATURES, 4, bit(F_NOE) | bit(F_MAC))
    assert await tb.lread(L_GUEST_FEATURES, 4) == bit(F_MAC)


# ---- pytest entry -------------------------------------------------------------------------------

import pytest  # noqa: E402

from sim import suite  # noqa: E402

# both queue maxima differ, so that a field of the wrong queue shows; make test: every test on Verilator, the
# bring-up, FEATURES_OK and legacy ones on Icarus (all of them under REGRESS)
SUITE = suite.Suite("tests.sim.test_virtio_pci_regs", "virtio_pci_regs",
                    icarus=r"test_features_ok$|test_modern_bringup_and_reset$|test_legacy_still_works$",
                    variants={"": {"RX_QUEUE_SIZE": 256, "TX_QUEUE_SIZE": 128}},
                    sources=("hdl/virtio/virtio_pci_regs.v",))


@pytest.mark.sim
@pytest.mark.parametrize("case", SUITE.cases(globals()), ids=str)
def test_virtio_pci_regs(case, sim_run):
    sim_run(case)
