"""Block test of virtq_desc_walk: descriptor chains to buffer segments, every check before use.

Around the block: host memory with a ``vring_builder`` ring (the driver builds well-formed and malformed
chains), a source of heads in ring order (what virtq_avail hands out, with their avail index and the
avail.idx it read), the DMA engines (``dma_model``: windows and INDIRECT tables into the block's RAMs), a
consumer of segments with random back-pressure, and a model of the used side: once a chain's last segment is
out, the test writes its used element as the device would, so the driver can reclaim and reuse descriptors.

The shared checker ``device_reads_published`` judges every descriptor and table read (only of chains
published and not yet used; a window's first descriptor must be one the walk needs). This module checks the
block's contract: each chain's segments in order (address, length, direction, last, head), chains in head
order, each error cause with no DMA to the offending address and nothing after it, windows that serve
several chains also when the driver hands out descriptors in falling order, several INDIRECT tables read
ahead, the stop and clear; and, with BUF_READ = 0 / BUF_WRITE = 1 (an RX queue's user), device-writable
buffers taken and device-readable ones refused.
"""

from __future__ import annotations

import logging
import random
import struct

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, Timer, with_timeout

from tb.simulation.seed import seed_for
from tests.sim.dma_model import (CLK_NS, DmaModel, ObservedMemory, attach_checkers, cycle_now, describe_queue,
                                 device_reset, high)
from tests.sim.vring_builder import (VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, HostMemory,
                                     SplitRing)

HOST_BASE = 0x1000_0000
HOST_SIZE = 1 << 21
DATA_OFF = 0x10000
IND_OFF = 0x110000
BAD_ADDR = 0x2000_0000
TIMEOUT_US = 200


class TB:
    def __init__(self, dut, name: str):
        self.dut = dut
        self.log = logging.getLogger(f"cocotb.tb.{name}")
        self.seed = seed_for(name, self.log)
        self.rng = random.Random(self.seed)
        self.errors: list[str] = []
        self.qsize = int(dut.QUEUE_SIZE.value)
        self.window = int(dut.DESC_WINDOW.value)
        self.slots = int(dut.TABLE_SLOTS.value)
        self.rx = int(dut.BUF_WRITE.value) == 1
        self.mem = ObservedMemory(HOST_BASE, HOST_SIZE)
        for name in ("desc_base", "queue_size", "feat_indirect", "avail_idx", "run", "clear", "s_axis_head_id",
                     "s_axis_head_index", "s_axis_head_valid", "m_axis_seg_ready"):
            getattr(dut, name).value = 0
        dut.rst.value = 1
        Clock(dut.clk, CLK_NS, unit="ns", impl="gpi").start()   # the C++ clock
        self.dma = DmaModel(dut, self.mem, self.rng, int(dut.RAM_DATA_WIDTH.value) // 8, self.log)
        self.hub = attach_checkers(self.dma, self.mem)
        self.hub.on_failure(lambda err: self.error(str(err)))
        self.ring = SplitRing(self.mem, HOST_BASE, self.qsize, 10, HOST_BASE + DATA_OFF, HOST_BASE + IND_OFF, self.rng)
        describe_queue(self.hub, HOST_BASE, self.qsize, 1 << 28, 0, dut=self.dut)
        self.ready_prob = 1.0
        self.segs: list[tuple[int, int, int, int, int]] = []     # (addr, len, write, last, head)
        self.heads_sent = 0
        self.chains_out = 0          # chains whose last segment came out (used elements written)
        self.errs: list[tuple[int, int]] = []

    async def cycles(self, n: int) -> None:
        """n rising edges, ending at a falling edge (a Timer that ends on an edge's timestep would let a
        following FallingEdge fire at once, and a one-cycle pulse never reach a rising edge)."""
        for _ in range(n):
            await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)

    def error(self, msg: str) -> None:
        self.log.error(msg)
        self.errors.append(msg)

    def check(self) -> None:
        errors = self.errors + self.dma.errors
        assert not errors, f"seed {self.seed}: {errors[:5]}"

    async def reset(self, indirect: bool = True) -> None:
        dut = self.dut
        await FallingEdge(dut.clk)
        dut.rst.value = 1
        for _ in range(3):
            await FallingEdge(dut.clk)
        dut.rst.value = 0
        dut.desc_base.value = self.ring.desc
        dut.queue_size.value = self.ring.qsize
        dut.feat_indirect.value = int(indirect)
        dut.run.value = 1
        cocotb.start_soon(self._consumer())
        cocotb.start_soon(self._err_monitor())

    # ---- heads in, segments out -----------------------------------------------------------------------
    async def send_heads(self, chains) -> None:
        """The heads of ``chains``, in ring order, one every 1..3 cycles (the avail block's pace)."""
        dut = self.dut
        for c in chains:
            await FallingEdge(dut.clk)
            dut.s_axis_head_id.value = c.head
            dut.s_axis_head_index.value = self.heads_sent & 0xFFFF
            dut.s_axis_head_valid.value = 1
            while True:
                await ReadOnly()
                taken = high(dut.s_axis_head_ready)
                await FallingEdge(dut.clk)
                if taken:
                    break
            dut.s_axis_head_valid.value = 0
            self.heads_sent += 1
            for _ in range(self.rng.randint(0, 2)):
                await FallingEdge(dut.clk)

    async def _consumer(self) -> None:
        dut = self.dut
        while True:
            await FallingEdge(dut.clk)
            dut.m_axis_seg_ready.value = int(self.rng.random() < self.ready_prob)
            await ReadOnly()
            if high(dut.m_axis_seg_valid) and high(dut.m_axis_seg_ready):
                seg = (int(dut.m_axis_seg_addr.value), int(dut.m_axis_seg_len.value), int(dut.m_axis_seg_write.value),
                       int(dut.m_axis_seg_last.value), int(dut.m_axis_seg_head.value))
                self.segs.append(seg)
                if seg[3]:
                    self._chain_done(seg[4])

    def _chain_done(self, head: int) -> None:
        """The used side: the chain's used element and used.idx, as the device writes them."""
        ring = self.ring
        pos = self.chains_out
        for addr, data in ((ring.used + 4 + 8 * (pos % ring.qsize), struct.pack("<II", head, 0)),
                           (ring.used + 2, ((pos + 1) & 0xFFFF).to_bytes(2, "little"))):
            HostMemory.write(self.mem, addr, data)
            self.hub.dev_write(addr, data, "used side (test model)")
        self.chains_out += 1

    async def _err_monitor(self) -> None:
        while True:
            await RisingEdge(self.dut.err_valid)
            await ReadOnly()
            self.errs.append((cycle_now(), int(self.dut.err_cause.value)))

    # ---- the driver -----------------------------------------------------------------------------------
    def publish(self, chains) -> None:
        self.ring.publish()
        self.dut.avail_idx.value = self.ring.avail_idx    # what the avail block read

    def add(self, n: int, indirect_prob: float = 0.0, nbufs=(1, 4)) -> list:
        out = []
        for _ in range(n):
            c = self.ring.add_packet(self.rng.randbytes(self.rng.randint(20, 300)), self.rng.randint(*nbufs),
                                     self.rng.random() < indirect_prob)
            if c is None:
                break
            out.append(c)
        return out

    async def run_chains(self, chains, timeout_us: float = TIMEOUT_US) -> None:
        self.publish(chains)
        seg0 = len(self.segs)
        await self.send_heads(chains)
        want = sum(len(c.buffers) for c in chains)

        async def _wait():
            while len(self.segs) < seg0 + want:
                await FallingEdge(self.dut.clk)
        await with_timeout(_wait(), timeout_us, "us")
        self.check_segments(chains, self.segs[seg0:])
        self.reclaim()

    def check_segments(self, chains, segs) -> None:
        want = []
        for c in chains:
            for k, (a, n) in enumerate(c.buffers):
                want.append((a, n, int(self.rx), int(k == len(c.buffers) - 1), c.head))
        if segs != want:
            first = next((k for k, (x, y) in enumerate(zip(segs, want)) if x != y), min(len(segs), len(want)))
            self.error(f"segment {first}: {segs[first] if first < len(segs) else None}, expected "
                       f"{want[first] if first < len(want) else None} ({len(segs)} segments, {len(want)} expected)")

    def reclaim(self) -> None:
        for expected, uid, _ in self.ring.reclaim():
            if expected is None or uid != expected.head:
                self.error(f"used element {uid}, expected {None if expected is None else expected.head}")


async def setup(dut, name: str, **kw) -> TB:
    tb = TB(dut, name)
    await tb.reset(**kw)
    return tb


def named(*values: str) -> list:
    return [cocotb.Param(v, v) for v in values]


@cocotb.test()
@cocotb.parametrize(mix=named("direct", "indirect", "mixed"))
async def test_chains(dut, mix):
    """Direct chains of 1..5 buffers, INDIRECT chains, and both mixed, through several wraps of the ring:
    every chain's buffers as segments in order; out-of-order DMA completions and segment back-pressure."""
    tb = await setup(dut, f"chains_{mix}")
    tb.dma.out_of_order = True
    tb.dma.rd_latency = (2, 40)
    tb.ready_prob = 0.7
    prob = {"direct": 0.0, "indirect": 1.0, "mixed": 0.5}[mix]
    total = 0
    while total < 3 * tb.qsize:
        chains = tb.add(tb.rng.randint(1, 24), prob)
        await tb.run_chains(chains)
        total += len(chains)
    reads = [a for a in tb.dma.reads() if a.addr < tb.ring.avail]
    tables = [a for a in tb.dma.reads() if a.addr >= HOST_BASE + IND_OFF]
    tb.log.info("%s: %d chains, %d window reads, %d table reads", mix, total, len(reads), len(tables))
    tb.check()


@cocotb.test()
async def test_falling_heads(dut):
    """The driver hands out descriptors in falling order (freed chains go back to the front of its free
    list): one window, started at the lowest head waiting, serves several chains."""
    tb = await setup(dut, "falling_heads")
    # chains of two descriptors at 60,61 / 58,59 / ... / 46,47: published in that order
    chains = []
    tb.ring.free = [d for h in range(60, 44, -2) for d in (h, h + 1)] + [d for d in tb.ring.free if not 44 <= d < 62]
    for _ in range(8):
        chains.append(tb.ring.add_packet(tb.rng.randbytes(100), 1))
    await tb.run_chains(chains)
    windows = [a for a in tb.dma.reads() if a.addr < tb.ring.avail]
    tb.log.info("8 chains in falling order: windows at %s", [(a.addr - tb.ring.desc) // 16 for a in windows])
    if len(windows) > 3:
        tb.error(f"{len(windows)} window reads for 8 chains within {tb.window} descriptors")
    tb.check()


@cocotb.test()
async def test_tables_ahead(dut):
    """INDIRECT tables with a slow DMA (60..80 cycles): several table reads are outstanding at once, the
    tables are walked in order as they come in, in any order."""
    tb = await setup(dut, "tables_ahead")
    tb.dma.rd_latency = (60, 80)
    tb.dma.out_of_order = True
    chains = tb.add(12, indirect_prob=1.0)
    await tb.run_chains(chains)
    tables = [a for a in tb.dma.reads() if a.addr >= HOST_BASE + IND_OFF]
    events = sorted([(a.cycle, 1) for a in tables] + [(a.done, -1) for a in tables])
    depth = peak = 0
    for _, d in events:
        depth += d
        peak = max(peak, depth)
    tb.log.info("12 INDIRECT chains: up to %d table reads outstanding", peak)
    if peak < min(tb.slots, 3):
        tb.error(f"at most {peak} table reads outstanding, {tb.slots} slots")
    tb.check()


def indirect_table(tb: TB, n: int = 2, loop: bool = False) -> list[tuple[int, int, int, int]]:
    base = tb.ring.slot(tb.qsize - 1)
    entries = []
    for k in range(n):
        last = k == n - 1
        flags = VRING_DESC_F_NEXT if (not last or loop) else 0
        entries.append((base + 64 * k, 10 if k == 0 else 40, flags, (0 if last else k + 1) if flags else 0))
    return entries


def build_malformed(tb: TB, name: str):
    """(chain, expected cause, feat_indirect)."""
    ring = tb.ring
    if name == "next_range":
        return ring.add_next_out_of_range(), 2, True
    if name == "head_range":
        return ring.add_head_out_of_range(), 2, True
    if name == "loop":
        return ring.add_loop(3), 3, True
    if name == "indirect_loop":
        return ring.add_indirect(indirect_table(tb, 2, loop=True), error=3, bad_table=False), 3, True
    if name == "indirect_not_acked":
        return ring.add_indirect(indirect_table(tb)), 4, False
    if name == "indirect_nested":
        inner = ring.table(ring.qsize - 2)
        entries = indirect_table(tb, 1)
        entries[0] = (*entries[0][:2], VRING_DESC_F_NEXT, 1)
        entries.append((inner, 32, VRING_DESC_F_INDIRECT, 0))
        chain = ring.add_indirect(entries, bad_table=False)
        chain.bad = [(inner, 32)]
        return chain, 5, True
    if name == "indirect_after_desc":
        return ring.add_indirect(indirect_table(tb), prefix=True), 5, True
    if name == "indirect_with_next":
        return ring.add_indirect(indirect_table(tb), flags=VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT), 5, True
    if name == "indirect_len_odd":
        return ring.add_indirect(indirect_table(tb), table_len=24), 6, True
    if name == "indirect_len_zero":
        return ring.add_indirect(indirect_table(tb), table_len=0), 6, True
    if name == "indirect_len_big":
        return ring.add_indirect(indirect_table(tb), table_len=16 * (int(tb.dut.INDIRECT_MAX.value) + 1)), 6, True
    if name == "write_flag":
        return ring.add_write_flag(), 7, True
    if name == "table_write_flag":
        entries = indirect_table(tb)
        entries[1] = (*entries[1][:2], VRING_DESC_F_WRITE, 0)
        return ring.add_indirect(entries, bad_table=False), 7, True
    if name == "dma_read_error":
        d = ring.alloc(1)
        return ring._raw(d, [(BAD_ADDR, 64, VRING_DESC_F_INDIRECT, 0)], error=9), 9, True
    raise ValueError(name)


ERROR_CASES = ["next_range", "head_range", "loop", "indirect_loop", "indirect_not_acked", "indirect_nested",
               "indirect_after_desc", "indirect_with_next", "indirect_len_odd", "indirect_len_zero",
               "indirect_len_big", "write_flag", "table_write_flag", "dma_read_error"]


@cocotb.test()
@cocotb.parametrize(case=named(*ERROR_CASES))
async def test_error(dut, case):
    """Each check: err_valid with the cause; no read of the offending range (the table, the descriptor
    out of range, a nested table); nothing at all after the error; good chains before it come out whole.
    Then clear: the block walks again."""
    tb = await setup(dut, f"error_{case}")
    good = tb.add(2)
    await tb.run_chains(good)
    chain, cause, indirect = build_malformed(tb, case)
    tb.dut.feat_indirect.value = int(indirect)
    mark = cycle_now()
    tb.publish([chain])
    await tb.send_heads([chain])
    await Timer(300 * CLK_NS, "ns")
    if [c for _, c in tb.errs] != [cause]:
        tb.error(f"error causes {tb.errs}, expected [{cause}]")
    err_cycle = tb.errs[0][0] if tb.errs else mark
    for acc in tb.dma.since(mark):
        for addr, length in chain.bad:
            if acc.overlaps(addr, length):
                tb.error(f"read of the offending range {addr:#x}+{length}: {acc}")
    if tb.dma.since(err_cycle):
        tb.error(f"DMA after the error: {tb.dma.since(err_cycle)[:2]}")
    # stop and clear, then a fresh ring
    await FallingEdge(dut.clk)
    dut.run.value = 0
    await tb.cycles(20)
    if not high(dut.idle):
        tb.error("not idle with run low after the error")
    dut.clear.value = 1
    await tb.cycles(1)
    dut.clear.value = 0
    dut.run.value = 1
    dut.feat_indirect.value = 1
    device_reset(tb.hub)
    tb.ring = SplitRing(tb.mem, HOST_BASE + 0x8000, tb.qsize, 10, HOST_BASE + DATA_OFF, HOST_BASE + IND_OFF, tb.rng)
    describe_queue(tb.hub, tb.ring.base, tb.qsize, 1 << 28, 0, dut=tb.dut)
    dut.desc_base.value = tb.ring.desc
    dut.queue_size.value = tb.ring.qsize
    tb.heads_sent = 0
    tb.chains_out = 0
    tb.segs.clear()
    await tb.run_chains(tb.add(4, indirect_prob=0.5))
    tb.check()


@cocotb.test()
async def test_rx_buffers(dut):
    """An RX queue's user (BUF_READ = 0, BUF_WRITE = 1): device-writable buffers come out as segments with
    the write bit, direct and INDIRECT; a device-readable buffer is error 7 before it is used."""
    tb = await setup(dut, "rx_buffers")
    ring = tb.ring
    chains = []
    for indirect in (False, True, False):
        c = ring.add_packet(tb.rng.randbytes(200), 2, indirect)
        descs = [c.head] if indirect else c.descs
        if indirect:
            table = ring.table(c.head)
            for k in range(len(c.buffers)):
                a, n, f, nx = struct.unpack("<QIHH", ring.mem.read(table + 16 * k, 16))
                ring.mem.write(table + 16 * k, struct.pack("<QIHH", a, n, f | VRING_DESC_F_WRITE, nx))
        else:
            for i in descs:
                a, n, f, nx = struct.unpack("<QIHH", ring.mem.read(ring.desc_addr(i), 16))
                ring.write_desc(i, a, n, f | VRING_DESC_F_WRITE, nx)
        chains.append(c)
    await tb.run_chains(chains)
    bad = ring.add_packet(tb.rng.randbytes(100), 1)             # device-readable: refused
    tb.publish([bad])
    await tb.send_heads([bad])
    await Timer(200 * CLK_NS, "ns")
    if [c for _, c in tb.errs] != [7]:
        tb.error(f"error causes {tb.errs}, expected [7] for a device-readable buffer on an RX queue")
    tb.check()


# ---- pytest entry -------------------------------------------------------------------------------

import pytest  # noqa: E402

from sim import suite  # noqa: E402

# make test: the block at 256 bits on Verilator, at 64 on Icarus (every width on both under REGRESS)
SUITE = suite.Suite("tests.sim.test_virtq_desc_walk", "virtq_desc_walk", icarus_variants=["w64"],
                    verilator_variants=["w256", "rx"],
                    variants={"w256": {"RAM_DATA_WIDTH": 256, "QUEUE_SIZE": 64},
                              "w64": {"RAM_DATA_WIDTH": 64, "QUEUE_SIZE": 64},
                              "rx": {"RAM_DATA_WIDTH": 256, "QUEUE_SIZE": 64, "BUF_READ": 0, "BUF_WRITE": 1}},
                    exclude={"rx": r"test_(chains|falling_heads|tables_ahead|error)",
                             "w256": "test_rx_buffers", "w64": "test_rx_buffers"},
                    sources=("hdl/virtio/virtq_desc_walk.v", "hdl/pcie/dma_ram.v"))


@pytest.mark.sim
@pytest.mark.parametrize("case", SUITE.cases(globals()), ids=str)
def test_virtq_desc_walk(case, sim_run):
    sim_run(case)
