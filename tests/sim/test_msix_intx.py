"""Block-level test of pcie_msix (MSI-X table, PBA, message sender) and pcie_intx (INTx handshake).

No PCIe model: the ``TB`` drives the register bus, the MSI-X enable / function-mask bits and the INTx
level, and plays the hard block on both interrupt interfaces (records each MSI-X message and answers
``cfg_interrupt_msix_sent``/``_fail`` after a few cycles; records each ``cfg_interrupt_int`` edge and
answers ``cfg_interrupt_sent``). The hard-block monitors also check the handshakes: one-cycle
``msix_int``, nothing new while a message or an INTx change is outstanding.

Timing convention: the TB drives inputs and samples outputs at falling clock edges, where everything
the DUT computed at the rising edge is settled, on both simulators.
"""

from __future__ import annotations

import logging
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import (ClockCycles, Event, FallingEdge, First, Lock, ReadOnly, RisingEdge, ValueChange,
                             with_timeout)

from tb.simulation.seed import seed_for

PBA_OFFSET = 0x800
BAR_SIZE = 0x1000
# MSI-X table entry words (PCIe Base Spec, MSI-X Table Structure)
ADDR_LO, ADDR_HI, DATA, VEC_CTRL = 0x0, 0x4, 0x8, 0xC
TIMEOUT_US = 50


def entry_addr(vec: int, word: int) -> int:
    return vec * 16 + word


class TB:
    def __init__(self, dut, test_name: str):
        self.dut = dut
        self.log = logging.getLogger(f"cocotb.tb.{test_name}")
        self.seed = seed_for(test_name, self.log)
        self.rng = random.Random(self.seed)

        self.vec_count = int(dut.VEC_COUNT.value)
        self.vec_space = 1 << max((self.vec_count - 1).bit_length(), 1)
        self.errors: list[str] = []

        # hard-block side state
        self.messages: list[tuple[int, int]] = []
        self.msix_results: list[str] = []     # forced results for the next messages ("sent"/"fail")
        self.msix_latency = (1, 6)
        self.msix_event = Event()
        self.intx_edges: list[int] = []
        self.intx_latency = (1, 6)
        self.intx_event = Event()
        self.stat = {"msix_sent": 0, "intx_assert": 0, "intx_deassert": 0}
        self.reg_outstanding = 0
        self.reg_rsp: list[int] = []
        self.reg_event = Event()
        self.reg_lock = Lock()

        dut.rst.value = 1                       # in reset from time 0: outputs are X until the first edge
        for name in ("reg_req_valid", "reg_req_write", "reg_req_addr", "reg_req_be", "reg_req_wdata",
                     "irq_valid", "irq_vector", "cfg_interrupt_msix_enable", "cfg_interrupt_msix_mask",
                     "cfg_interrupt_msix_sent", "cfg_interrupt_msix_fail", "intx_level", "intx_disable",
                     "cfg_interrupt_sent"):
            getattr(dut, name).value = 0

        Clock(dut.clk, 4, unit="ns", impl="gpi").start()   # the C++ clock: no Python per edge
        cocotb.start_soon(self._reg_rsp_monitor())
        cocotb.start_soon(self._msix_hard_block())
        cocotb.start_soon(self._intx_hard_block())
        for name in self.stat:
            cocotb.start_soon(self._count_pulses(name))

    def error(self, msg: str) -> None:
        self.log.error(msg)
        self.errors.append(msg)

    def check(self) -> None:
        assert not self.errors, f"seed {self.seed}: {self.errors}"

    async def cycle_reset(self) -> None:
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 4)
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await FallingEdge(self.dut.clk)

    def in_reset(self) -> bool:
        return str(self.dut.rst.value) != "0"

    # ---- register bus -------------------------------------------------------------------------

    async def _reg_access(self, write: bool, addr: int, data: int, be: int) -> int:
        dut = self.dut
        async with self.reg_lock:               # one access at a time, as the CQ/CC bridge does
            await FallingEdge(dut.clk)
            self.reg_event.clear()
            self.reg_outstanding += 1
            dut.reg_req_valid.value = 1
            dut.reg_req_write.value = int(write)
            dut.reg_req_addr.value = addr
            dut.reg_req_be.value = be
            dut.reg_req_wdata.value = data
            await FallingEdge(dut.clk)
            dut.reg_req_valid.value = 0
            await with_timeout(self.reg_event.wait(), TIMEOUT_US, "us")
            return self.reg_rsp.pop(0)

    async def reg_write(self, addr: int, data: int, be: int = 0xF) -> None:
        await self._reg_access(True, addr, data, be)

    async def reg_read(self, addr: int, be: int = 0xF) -> int:
        return await self._reg_access(False, addr, 0, be)

    async def _reg_rsp_monitor(self) -> None:
        dut = self.dut
        while True:
            await RisingEdge(dut.reg_rsp_valid)
            await FallingEdge(dut.clk)
            if self.reg_outstanding != 1:
                self.error(f"reg_rsp_valid with {self.reg_outstanding} requests outstanding")
            self.reg_outstanding -= 1
            self.reg_rsp.append(int(dut.reg_rsp_rdata.value))
            self.reg_event.set()
            await FallingEdge(dut.clk)
            if dut.reg_rsp_valid.value != 0:
                self.error("reg_rsp_valid longer than one cycle")

    # ---- interrupt requests -------------------------------------------------------------------

    async def irq_stream(self, vectors) -> None:
        """Present the vectors back to back on irq_valid/irq_vector, each until accepted."""
        dut = self.dut
        await FallingEdge(dut.clk)
        for vec in vectors:
            dut.irq_valid.value = 1
            dut.irq_vector.value = vec
            while True:
                # irq_ready as settled before the next rising edge, which then accepts the request
                await ReadOnly()
                if dut.irq_ready.value == 1:
                    await FallingEdge(dut.clk)
                    break
                await RisingEdge(dut.irq_ready)
                await FallingEdge(dut.clk)
        dut.irq_valid.value = 0

    async def irq(self, *vectors: int) -> None:
        await with_timeout(self.irq_stream(vectors), TIMEOUT_US, "us")

    # ---- MSI-X helpers --------------------------------------------------------------------------

    async def set_msix(self, enable: int, function_mask: int) -> None:
        await FallingEdge(self.dut.clk)
        self.dut.cfg_interrupt_msix_enable.value = enable
        self.dut.cfg_interrupt_msix_mask.value = function_mask

    async def program_table(self) -> dict[int, tuple[int, int]]:
        """Random 64-bit address and data in every vector (vectors stay masked); return them."""
        table = {}
        for vec in range(self.vec_count):
            addr = self.rng.randrange(1 << 62) << 2
            data = self.rng.randrange(1 << 32)
            await self.reg_write(entry_addr(vec, ADDR_LO), addr & 0xFFFFFFFF)
            await self.reg_write(entry_addr(vec, ADDR_HI), addr >> 32)
            await self.reg_write(entry_addr(vec, DATA), data)
            table[vec] = (addr, data)
        return table

    def unused_addresses(self) -> list[int]:
        """Edges of the holes in the BAR, plus a few random addresses inside them."""
        unused = {self.vec_count * 16, PBA_OFFSET - 4, PBA_OFFSET + 8, PBA_OFFSET + 0xC, BAR_SIZE - 4}
        if self.vec_count <= 32:
            unused.add(PBA_OFFSET + 4)
        unused |= {self.rng.randrange(self.vec_count * 16, PBA_OFFSET) & ~3 for _ in range(4)}
        unused |= {self.rng.randrange(PBA_OFFSET + 8, BAR_SIZE) & ~3 for _ in range(4)}
        return sorted(unused)

    async def set_vector_mask(self, vec: int, masked: int) -> None:
        await self.reg_write(entry_addr(vec, VEC_CTRL), masked)

    async def read_pba(self) -> int:
        pba = 0
        for dw in range((self.vec_count + 31) // 32):
            pba |= await self.reg_read(PBA_OFFSET + 4 * dw) << (32 * dw)
        return pba

    async def wait_messages(self, count: int) -> None:
        async def wait():
            while len(self.messages) < count:
                self.msix_event.clear()
                await self.msix_event.wait()
        await with_timeout(wait(), TIMEOUT_US, "us")

    async def expect_messages(self, expected: list[tuple[int, int]], settle: int = 60) -> None:
        """Wait for exactly these messages (in order), then check nothing else arrives."""
        await self.wait_messages(len(expected))
        await ClockCycles(self.dut.clk, settle)
        got = [(hex(a), hex(d)) for a, d in self.messages]
        want = [(hex(a), hex(d)) for a, d in expected]
        assert got == want, f"seed {self.seed}: messages {got}, expected {want}"
        self.messages.clear()

    async def _msix_hard_block(self) -> None:
        """cfg_interrupt_msix_*: record each message, answer sent (or fail) after a few cycles."""
        dut = self.dut
        while True:
            await RisingEdge(dut.cfg_interrupt_msix_int)
            await FallingEdge(dut.clk)
            if self.in_reset():
                continue
            msg = (int(dut.cfg_interrupt_msix_address.value), int(dut.cfg_interrupt_msix_data.value))
            if int(dut.cfg_interrupt_msi_function_number.value) != 0:
                self.error("cfg_interrupt_msi_function_number != 0")
            result = self.msix_results.pop(0) if self.msix_results else "sent"
            self.log.debug("MSI-X message addr 0x%016x data 0x%08x -> %s", *msg, result)
            await FallingEdge(dut.clk)
            if dut.cfg_interrupt_msix_int.value != 0:
                self.error("cfg_interrupt_msix_int longer than one cycle")
            # nothing new may start while this one is outstanding
            fired = await First(RisingEdge(dut.cfg_interrupt_msix_int),
                                ClockCycles(dut.clk, self.rng.randint(*self.msix_latency)))
            if not isinstance(fired, ClockCycles):
                self.error("cfg_interrupt_msix_int while a message is outstanding")
            await FallingEdge(dut.clk)
            handshake = dut.cfg_interrupt_msix_sent if result == "sent" else dut.cfg_interrupt_msix_fail
            handshake.value = 1
            await FallingEdge(dut.clk)
            handshake.value = 0
            if result == "sent":
                self.messages.append(msg)
                self.msix_event.set()

    # ---- INTx helpers -------------------------------------------------------------------------

    async def set_intx(self, level: int | None = None, disable: int | None = None) -> None:
        await FallingEdge(self.dut.clk)
        if level is not None:
            self.dut.intx_level.value = level
        if disable is not None:
            self.dut.intx_disable.value = disable

    async def wait_intx_edges(self, count: int) -> None:
        async def wait():
            while len(self.intx_edges) < count:
                self.intx_event.clear()
                await self.intx_event.wait()
        await with_timeout(wait(), TIMEOUT_US, "us")

    async def _intx_hard_block(self) -> None:
        """cfg_interrupt_int: record each edge of INTA, answer cfg_interrupt_sent after a few cycles."""
        dut = self.dut
        while True:
            await ValueChange(dut.cfg_interrupt_int)
            await FallingEdge(dut.clk)
            if self.in_reset():
                continue
            value = int(dut.cfg_interrupt_int.value)
            if value not in (0, 1):
                self.error(f"cfg_interrupt_int = {value:#x}: only INTA expected")
            fired = await First(ValueChange(dut.cfg_interrupt_int),
                                ClockCycles(dut.clk, self.rng.randint(*self.intx_latency)))
            if not isinstance(fired, ClockCycles):
                self.error("cfg_interrupt_int changed before cfg_interrupt_sent")
            await FallingEdge(dut.clk)
            dut.cfg_interrupt_sent.value = 1
            await FallingEdge(dut.clk)
            dut.cfg_interrupt_sent.value = 0
            self.intx_edges.append(value & 1)
            self.intx_event.set()

    async def _count_pulses(self, name: str) -> None:
        sig = getattr(self.dut, "stat_" + name)
        while True:
            await RisingEdge(sig)
            await FallingEdge(self.dut.clk)
            if not self.in_reset():
                self.stat[name] += 1
            await FallingEdge(self.dut.clk)
            if sig.value != 0:
                self.error(f"stat_{name} longer than one cycle")


async def make_tb(dut, name: str) -> TB:
    tb = TB(dut, name)
    await tb.cycle_reset()
    return tb


# ---- MSI-X table ------------------------------------------------------------------------------


@cocotb.test()
async def test_reset_values(dut):
    """After reset every vector is masked and the PBA is 0; a mid-run reset restores both."""
    tb = await make_tb(dut, "reset_values")
    for vec in range(tb.vec_count):
        assert await tb.reg_read(entry_addr(vec, VEC_CTRL)) == 1, f"vector {vec} not masked after reset"
    assert await tb.read_pba() == 0
    assert dut.irq_ready.value == 1 and dut.cfg_interrupt_msix_int.value == 0

    # disturb: unmask a vector, leave another pending, then reset
    await tb.program_table()
    await tb.set_msix(enable=1, function_mask=0)
    await tb.set_vector_mask(0, 0)
    pend = tb.vec_count - 1
    if pend != 0:
        await tb.irq(pend)
        assert await tb.read_pba() == 1 << pend
    await tb.cycle_reset()
    for vec in range(tb.vec_count):
        assert await tb.reg_read(entry_addr(vec, VEC_CTRL)) == 1
    assert await tb.read_pba() == 0
    await tb.expect_messages([])
    tb.check()


@cocotb.test()
async def test_table_rw(dut):
    """Table words read back, byte enables honoured on every lane; PBA and unused addresses read-only 0."""
    tb = await make_tb(dut, "table_rw")
    model = {}
    for vec in range(tb.vec_count):
        for word in (ADDR_LO, ADDR_HI, DATA):
            value = tb.rng.randrange(1 << 32)
            await tb.reg_write(entry_addr(vec, word), value)
            model[vec, word] = value
        model[vec, VEC_CTRL] = 1
    for (vec, word), value in model.items():
        assert await tb.reg_read(entry_addr(vec, word)) == value

    # every byte lane on its own, then random byte-enable patterns (including none)
    for vec in range(tb.vec_count):
        for word in (ADDR_LO, ADDR_HI, DATA):
            bes = [1 << lane for lane in range(4)] + [tb.rng.randrange(16) for _ in range(2)] + [0]
            for be in bes:
                value = tb.rng.randrange(1 << 32)
                await tb.reg_write(entry_addr(vec, word), value, be)
                bytemask = sum(0xFF << (8 * lane) for lane in range(4) if be >> lane & 1)
                model[vec, word] = (model[vec, word] & ~bytemask) | (value & bytemask)
                got = await tb.reg_read(entry_addr(vec, word), be=tb.rng.randrange(16))
                assert got == model[vec, word], \
                    f"seed {tb.seed}: vec {vec} word {word:#x} be {be:#x}: {got:#x} != {model[vec, word]:#x}"
        # vector control: only bit 0 (mask) is stored, reserved bits read 0, lane 0 carries the mask
        for be in (0x1, 0x2, 0x4, 0x8, 0xE, 0x0, 0xF):
            value = tb.rng.randrange(1 << 32)
            await tb.reg_write(entry_addr(vec, VEC_CTRL), value, be)
            if be & 1:
                model[vec, VEC_CTRL] = value & 1
            assert await tb.reg_read(entry_addr(vec, VEC_CTRL)) == model[vec, VEC_CTRL]

    # PBA ignores writes; unused addresses read 0 and ignore writes
    for dw in range((tb.vec_count + 31) // 32):
        await tb.reg_write(PBA_OFFSET + 4 * dw, 0xFFFFFFFF)
    assert await tb.read_pba() == 0
    for addr in tb.unused_addresses():
        await tb.reg_write(addr, tb.rng.randrange(1 << 32))
        got = await tb.reg_read(addr)
        assert got == 0, f"unused address {addr:#x} reads {got:#x}"
    for (vec, word), value in model.items():
        assert await tb.reg_read(entry_addr(vec, word)) == value, f"vec {vec} word {word:#x} changed"
    assert await tb.read_pba() == 0
    tb.check()


# ---- MSI-X messages ---------------------------------------------------------------------------


@cocotb.test()
async def test_send_unmasked(dut):
    """A request on an unmasked vector sends exactly one message with that vector's address/data."""
    tb = await make_tb(dut, "send_unmasked")
    table = await tb.program_table()
    await tb.set_msix(enable=1, function_mask=0)
    order = list(range(tb.vec_count))
    tb.rng.shuffle(order)
    for count, vec in enumerate(order, 1):
        await tb.set_vector_mask(vec, 0)
        await tb.irq(vec)
        await tb.expect_messages([table[vec]], settle=20)
        assert tb.stat["msix_sent"] == count
        await tb.set_vector_mask(vec, 1)
    assert await tb.read_pba() == 0
    tb.check()


@cocotb.test()
async def test_masked_pending(dut):
    """Masked vector: requests set (and coalesce into) its pending bit; unmasking sends once and clears it."""
    tb = await make_tb(dut, "masked_pending")
    table = await tb.program_table()
    await tb.set_msix(enable=1, function_mask=0)
    vecs = tb.rng.sample(range(tb.vec_count), min(3, tb.vec_count))
    expected_pba = 0
    for vec in vecs:
        await tb.irq(vec, vec, vec)
        expected_pba |= 1 << vec
        assert await tb.read_pba() == expected_pba
    await tb.expect_messages([])
    for addr in tb.unused_addresses():          # a non-zero PBA does not leak into the holes
        assert await tb.reg_read(addr) == 0, f"unused address {addr:#x} reads non-zero"
    for vec in vecs:
        # writes that do not clear the mask bit: lanes 1..3 only, and a write of 1
        await tb.reg_write(entry_addr(vec, VEC_CTRL), 0, be=0xE)
        await tb.set_vector_mask(vec, 1)
        await tb.expect_messages([], settle=20)
        assert await tb.read_pba() == expected_pba
        await tb.set_vector_mask(vec, 0)
        await tb.expect_messages([table[vec]])
        expected_pba &= ~(1 << vec)
        assert await tb.read_pba() == expected_pba
    assert tb.stat["msix_sent"] == len(vecs)
    tb.check()


@cocotb.test()
async def test_function_mask(dut):
    """Function mask: requests go pending; dropping it sends every pending unmasked vector, lowest first."""
    tb = await make_tb(dut, "function_mask")
    table = await tb.program_table()
    await tb.set_msix(enable=1, function_mask=1)
    for vec in range(tb.vec_count):
        await tb.set_vector_mask(vec, 0)
    masked = tb.rng.randrange(tb.vec_count)
    await tb.set_vector_mask(masked, 1)
    vecs = tb.rng.sample(range(tb.vec_count), min(5, tb.vec_count))
    if masked not in vecs:
        vecs.append(masked)
    await tb.irq(*vecs)
    await tb.expect_messages([])
    assert await tb.read_pba() == sum(1 << v for v in set(vecs))

    await tb.set_msix(enable=1, function_mask=0)
    await tb.expect_messages([table[v] for v in sorted(set(vecs) - {masked})])
    assert await tb.read_pba() == 1 << masked
    await tb.set_vector_mask(masked, 0)
    await tb.expect_messages([table[masked]])
    assert await tb.read_pba() == 0
    tb.check()


@cocotb.test()
async def test_disabled_and_out_of_range(dut):
    """MSI-X disabled: requests accepted and dropped; vector >= VEC_COUNT: accepted and dropped."""
    tb = await make_tb(dut, "disabled")
    table = await tb.program_table()
    await tb.set_msix(enable=0, function_mask=0)
    await tb.set_vector_mask(0, 0)
    await tb.irq(*range(tb.vec_count))          # vector 0 unmasked, the others masked
    await tb.expect_messages([])
    assert await tb.read_pba() == 0
    assert tb.stat["msix_sent"] == 0

    await tb.set_msix(enable=1, function_mask=0)
    out_of_range = list(range(tb.vec_count, tb.vec_space))
    tb.log.info("out-of-range vectors: %s", out_of_range)
    if out_of_range:
        await tb.irq(*out_of_range)
        await tb.expect_messages([])
        assert await tb.read_pba() == 0
    # still alive
    await tb.irq(0)
    await tb.expect_messages([table[0]])
    tb.check()


@cocotb.test()
async def test_back_to_back(dut):
    """Back-to-back requests on several vectors: all messages in order, one at a time, while the register
    bus keeps being served during the handshakes."""
    tb = await make_tb(dut, "back_to_back")
    table = await tb.program_table()
    await tb.set_msix(enable=1, function_mask=0)
    for vec in range(tb.vec_count):
        await tb.set_vector_mask(vec, 0)
    tb.msix_latency = (1, 12)
    seq = [tb.rng.randrange(tb.vec_count) for _ in range(40)]
    seq[1] = seq[0]                             # same vector twice in a row: two messages

    async def reader():
        for _ in range(30):
            vec = tb.rng.randrange(tb.vec_count)
            assert await tb.reg_read(entry_addr(vec, DATA)) == table[vec][1]

    reads = cocotb.start_soon(reader())
    await tb.irq(*seq)
    await tb.expect_messages([table[v] for v in seq])
    await with_timeout(reads, TIMEOUT_US, "us")
    assert tb.stat["msix_sent"] == len(seq)
    assert await tb.read_pba() == 0
    tb.check()


@cocotb.test()
async def test_fail(dut):
    """cfg_interrupt_msix_fail: pending bit set, no immediate retry; retried on the next unmask."""
    tb = await make_tb(dut, "fail")
    table = await tb.program_table()
    await tb.set_msix(enable=1, function_mask=0)
    vec = tb.rng.randrange(tb.vec_count)
    other = (vec + 1) % tb.vec_count
    for v in {vec, other}:
        await tb.set_vector_mask(v, 0)

    # fail -> pending, nothing retried by itself
    tb.msix_results = ["fail"]
    await tb.irq(vec)
    await tb.expect_messages([], settle=100)
    assert not tb.msix_results, "no message was attempted"
    assert await tb.read_pba() == 1 << vec
    assert tb.stat["msix_sent"] == 0
    if other != vec:
        await tb.irq(other)                     # the block still works for other vectors
        await tb.expect_messages([table[other]])
        assert await tb.read_pba() == 1 << vec

    # retried on vector unmask (mask, unmask)
    await tb.set_vector_mask(vec, 1)
    await tb.expect_messages([], settle=20)
    await tb.set_vector_mask(vec, 0)
    await tb.expect_messages([table[vec]])
    assert await tb.read_pba() == 0

    # retried on function unmask
    tb.msix_results = ["fail"]
    await tb.irq(vec)
    await tb.expect_messages([], settle=40)
    assert await tb.read_pba() == 1 << vec
    await tb.set_msix(enable=1, function_mask=1)
    await tb.set_msix(enable=1, function_mask=0)
    await tb.expect_messages([table[vec]])
    assert await tb.read_pba() == 0

    # a new request on the failed (still unmasked) vector tries again
    tb.msix_results = ["fail"]
    await tb.irq(vec)
    await tb.expect_messages([], settle=40)
    await tb.irq(vec)
    await tb.expect_messages([table[vec]])
    assert await tb.read_pba() == 0
    assert tb.stat["msix_sent"] == 3 + (other != vec)
    tb.check()


# ---- INTx -------------------------------------------------------------------------------------


@cocotb.test()
async def test_intx(dut):
    """INTx assert/deassert with the cfg_interrupt_sent handshake, glitchy level, intx_disable."""
    tb = await make_tb(dut, "intx")

    async def settle(edges: int) -> None:
        await tb.wait_intx_edges(edges)
        await ClockCycles(dut.clk, 30)
        assert len(tb.intx_edges) == edges, f"seed {tb.seed}: edges {tb.intx_edges}, expected {edges}"

    # plain assert / deassert
    await tb.set_intx(level=1)
    await settle(1)
    assert tb.intx_edges == [1]
    assert dut.cfg_interrupt_int.value == 1 and dut.cfg_interrupt_pending.value == 1
    await tb.set_intx(level=0)
    await settle(2)
    assert tb.intx_edges == [1, 0]
    assert dut.cfg_interrupt_int.value == 0 and dut.cfg_interrupt_pending.value == 0
    assert tb.stat["intx_assert"] == 1 and tb.stat["intx_deassert"] == 1

    # glitchy level: toggles every few cycles while changes are outstanding; ends at the final level
    tb.intx_latency = (1, 10)
    for rnd in range(6):
        level = start = int(dut.intx_level.value)
        edges_before = len(tb.intx_edges)
        changes = 0
        for _ in range(tb.rng.randint(5, 60)):
            if tb.rng.random() < 0.5:
                level ^= 1
                changes += 1
            await tb.set_intx(level=level)
        await ClockCycles(dut.clk, 60)
        new_edges = len(tb.intx_edges) - edges_before
        tb.log.info("glitch round %d: %d level changes -> %d INTx edges", rnd, changes, new_edges)
        assert dut.cfg_interrupt_int.value == level, f"seed {tb.seed}: round {rnd} final level {level}"
        assert dut.cfg_interrupt_pending.value == level
        assert new_edges <= changes and new_edges % 2 == (level ^ start)
    # edges alternate 1, 0, 1, ... and are counted
    assert tb.intx_edges == [(i + 1) % 2 for i in range(len(tb.intx_edges))], tb.intx_edges
    assert tb.stat["intx_assert"] == tb.intx_edges.count(1)
    assert tb.stat["intx_deassert"] == tb.intx_edges.count(0)

    # intx_disable forces the effective level to 0; pending still follows intx_level
    tb.intx_edges.clear()
    tb.intx_latency = (1, 6)
    final = int(dut.cfg_interrupt_int.value)
    if final:
        await tb.set_intx(level=0)
        await settle(1)
        tb.intx_edges.clear()
    await tb.set_intx(level=1)
    await settle(1)
    await tb.set_intx(disable=1)
    await settle(2)
    assert tb.intx_edges == [1, 0]
    assert dut.cfg_interrupt_int.value == 0 and dut.cfg_interrupt_pending.value == 1
    await tb.set_intx(disable=0)
    await settle(3)
    assert dut.cfg_interrupt_int.value == 1
    await tb.set_intx(level=0, disable=1)
    await settle(4)
    await tb.set_intx(level=1)                  # disabled: no edge
    await settle(4)
    assert tb.intx_edges == [1, 0, 1, 0]
    assert dut.cfg_interrupt_pending.value == 1
    tb.check()


# ---- pytest entry -----------------------------------------------------------------------------

import pytest  # noqa: E402

from sim import suite  # noqa: E402


# the default table, and a non-power-of-two one with a two-dword PBA (vectors 40..63: the out-of-range drop)
SUITE = suite.Suite("tests.sim.test_msix_intx", "tb_msix", variants={"": {}, "vec40": {"VEC_COUNT": 40}},
                    sources=("hdl/pcie/pcie_msix.v", "hdl/pcie/pcie_intx.v", "tests/sim/hdl/tb_msix.v"))


@pytest.mark.sim
@pytest.mark.parametrize("case", SUITE.cases(globals()), ids=str)
def test_msix_intx(case, sim_run):
    sim_run(case)
