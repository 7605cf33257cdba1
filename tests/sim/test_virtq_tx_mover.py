"""Block test of virtq_tx_mover: segments in, frame bytes read by DMA, frames on the wire, completions out.

Around the block: host memory with a ``vring_builder`` ring (the driver's chains: header + frame over one or
more buffers, direct or INDIRECT), a source of segments in ring order (what virtq_desc_walk emits: one per
buffer, the last one marked), the DMA read engine (``dma_model``: random latencies, out-of-order completions,
descriptor back-pressure), the wire (``tb.simulation.axis_sink.AxisSink`` with random back-pressure) and a model of the
used writer: each completion is taken (with random back-pressure) and written to the used ring as the
device would, so the driver reclaims and reuses descriptors and buffers.

The shared checkers judge what ring rules apply here (``dma_model.attach_checkers``):
device_reads_published (every buffer read is of a chain published and not yet used) and wire_scoreboard
(every queued frame on the wire once, in order, byte-exact). The used ring is written by this test's model,
so used_ring judges the model, not the block; the interrupt rules belong to virtq_used (waived, with the
reason). This module checks the block's own contract on top: the header bytes are never read, completions
{head, 0} in ring order each after its frame's last beat, drops (oversize, runt) complete without a frame
and without reading past the limit, reads of several chains outstanding at once, a DMA read error (cause 9),
the stop with the cut-frame marker, and the fault knobs DROP_FRAME, DUP_FRAME (caught by wire_scoreboard)
and USED_LEN_READ (the completion's len).

Timing convention: inputs are driven and handshakes sampled at falling clock edges; "cycle n" is the n-th
rising edge.
"""

from __future__ import annotations

import logging
import random
import struct

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import Event, FallingEdge, ReadOnly, RisingEdge, with_timeout

from tb.simulation.seed import seed_for
from tb.simulation.axis_sink import AxisSink
from tests.sim.dma_model import (CLK_NS, DmaModel, ObservedMemory, attach_checkers, cycle_now, describe_queue,
                                 device_reset, high)
from tests.sim.vring_builder import HostMemory, SplitRing

HOST_BASE = 0x1000_0000
HOST_SIZE = 1 << 20
DATA_OFF = 0x10000
IND_OFF = 0xB0000
QSIZE = 64
TIMEOUT_US = 400


class TB:
    def __init__(self, dut, name: str):
        self.dut = dut
        self.log = logging.getLogger(f"cocotb.tb.{name}")
        self.seed = seed_for(name, self.log)
        self.rng = random.Random(self.seed)
        self.errors: list[str] = []
        self.max_frame = int(dut.MAX_FRAME_LEN.value)
        self.min_frame = int(dut.MIN_FRAME_LEN.value)
        self.slots = int(dut.PKT_SLOTS.value)
        self.fault_enable = int(dut.FAULT_ENABLE.value) == 1
        self.mem = ObservedMemory(HOST_BASE, HOST_SIZE)
        for name in ("feat_mrg_rxbuf", "feat_version_1", "run", "clear", "fault_drop_frame", "fault_dup_frame", "fault_used_len",
                     "s_axis_seg_addr", "s_axis_seg_len", "s_axis_seg_write", "s_axis_seg_last",
                     "s_axis_seg_head", "s_axis_seg_valid", "m_axis_cpl_ready"):
            getattr(dut, name).value = 0
        dut.rst.value = 1
        Clock(dut.clk, CLK_NS, unit="ns", impl="gpi").start()   # the C++ clock
        self.dma = DmaModel(dut, self.mem, self.rng, int(dut.RAM_DATA_WIDTH.value) // 8, self.log)
        self.hub = attach_checkers(self.dma, self.mem, waive={
            "irq_legality": "the interrupt decision is virtq_used's; this block raises none",
            "used_ring": "the used ring is written by this test's model of the used writer"})
        self.hub.on_failure(lambda err: self.error(str(err)))
        self.expected: list[bytes] = []
        self.hub.attach_sent(self.expected)
        self.sink = AxisSink(dut, "m_axis_tx", dut.clk, period_ps=CLK_NS * 1000, on_frame=self._frame)
        self.frames: list[tuple[int, bytes, bool]] = []      # (end cycle, bytes, cut)
        self.hdr_len = 10
        self.ring = SplitRing(self.mem, HOST_BASE, QSIZE, self.hdr_len, HOST_BASE + DATA_OFF, HOST_BASE + IND_OFF,
                              self.rng)
        describe_queue(self.hub, HOST_BASE, QSIZE, 1 << 28, 0, dut=self.dut)
        self.seg_prob = 1.0          # segment valid probability per cycle
        self.cpl_prob = 1.0          # completion ready probability per cycle
        self.segq: list[tuple[int, int, int, int]] = []       # (addr, len, last, head) still to present
        self.seg_event = Event()
        self.cpls: list[tuple[int, int, int]] = []             # (cycle, id, len)
        self.cpl_event = Event()
        self.errs: list[tuple[int, int]] = []
        self.stats = {"stat_frame": 0, "stat_drop_oversize": 0, "stat_drop_runt": 0}

    def error(self, msg: str) -> None:
        self.log.error(msg)
        self.errors.append(msg)

    def check(self) -> None:
        errors = self.errors + self.dma.errors
        assert not errors, f"seed {self.seed}: {errors[:5]}"

    async def cycles(self, n: int) -> None:
        for _ in range(n):
            await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)

    async def reset(self, mrg_rxbuf: bool = False) -> None:
        dut = self.dut
        self.hdr_len = 12 if mrg_rxbuf else 10
        self.ring.hdr_len = self.hdr_len
        await self.cycles(3)
        dut.rst.value = 0
        dut.feat_mrg_rxbuf.value = int(mrg_rxbuf)
        dut.run.value = 1
        cocotb.start_soon(self._segments())
        cocotb.start_soon(self._sampler())

    # ---- segments in, completions and pulses out ------------------------------------------------------
    async def _segments(self) -> None:
        dut = self.dut
        while True:
            await FallingEdge(dut.clk)
            if not self.segq or self.rng.random() >= self.seg_prob:
                dut.s_axis_seg_valid.value = 0
                continue
            addr, length, last, head = self.segq[0]
            dut.s_axis_seg_addr.value = addr
            dut.s_axis_seg_len.value = length
            dut.s_axis_seg_last.value = last
            dut.s_axis_seg_head.value = head
            dut.s_axis_seg_valid.value = 1
            while True:
                await ReadOnly()
                taken = high(dut.s_axis_seg_ready)
                await FallingEdge(dut.clk)
                if taken:
                    break
            self.segq.pop(0)
            dut.s_axis_seg_valid.value = 0

    async def _sampler(self) -> None:
        """Once per cycle: the completion handshake (ready at random), the error and statistics pulses."""
        dut = self.dut
        while True:
            await FallingEdge(dut.clk)
            dut.m_axis_cpl_ready.value = int(self.rng.random() < self.cpl_prob)
            await ReadOnly()
            now = cycle_now() + 1
            if high(dut.m_axis_cpl_valid) and high(dut.m_axis_cpl_ready):
                cpl = (now, int(dut.m_axis_cpl_id.value), int(dut.m_axis_cpl_len.value))
                self.cpls.append(cpl)
                self._used(cpl[1], cpl[2])
                self.cpl_event.set()
            if high(dut.err_valid):
                self.errs.append((now, int(dut.err_cause.value)))
            for name in self.stats:
                if high(getattr(dut, name)):
                    self.stats[name] += 1

    def _used(self, head: int, length: int) -> None:
        """The used writer's model: the used element and used.idx, as the device writes them."""
        ring = self.ring
        pos = len(self.cpls) - 1
        for addr, data in ((ring.used + 4 + 8 * (pos % ring.qsize), struct.pack("<II", head, length)),
                           (ring.used + 2, ((pos + 1) & 0xFFFF).to_bytes(2, "little"))):
            HostMemory.write(self.mem, addr, data)
            self.hub.dev_write(addr, data, "used writer (test model)")

    def _frame(self, frame) -> None:
        cut = bool(frame.tuser and frame.tuser[-1])
        self.frames.append((int(frame.sim_time_end // (CLK_NS * 1000)), bytes(frame.tdata), cut))
        self.hub.frame(frame.sim_time_end / 1000, bytes(frame.tdata), cut)

    # ---- the driver's side ----------------------------------------------------------------------------
    def random_frame(self, lo: int = 14, hi: int | None = None) -> bytes:
        return self.rng.randbytes(self.rng.randint(lo, hi or self.max_frame))

    def add(self, frames: list[bytes], nbufs=(1, 4), indirect_prob: float = 0.3, sent: bool = True) -> list:
        chains = []
        for f in frames:
            c = self.ring.add_packet(f, self.rng.randint(*nbufs), self.rng.random() < indirect_prob)
            assert c is not None, "ring full: reclaim first"
            chains.append(c)
        return self.queue(chains, sent)

    def queue(self, chains: list, sent: bool = True) -> list:
        """Publish the chains and present their segments in ring order; their frames are expected on the
        wire unless ``sent`` is False (drops)."""
        self.ring.publish()
        for c in chains:
            for k, (a, n) in enumerate(c.buffers):
                self.segq.append((a, n, int(k == len(c.buffers) - 1), c.head))
            if sent:
                self.expected.append(c.frame)
        return chains

    async def wait_cpls(self, n: int, timeout_us: float = TIMEOUT_US) -> None:
        async def _wait():
            while len(self.cpls) < n:
                self.cpl_event.clear()
                await self.cpl_event.wait()
        try:
            await with_timeout(_wait(), timeout_us, "us")
        except Exception:
            self.error(f"{len(self.cpls)} completions of {n} after {timeout_us} us ({len(self.segq)} segments not "
                       f"taken, {len(self.frames)} frames, busy {self.dut.busy.value}, idle {self.dut.idle.value})")
            raise
        await FallingEdge(self.dut.clk)

    def reclaim(self, want_len=lambda c: 0) -> None:
        for expected, uid, ulen in self.ring.reclaim():
            if expected is None or uid != expected.head:
                self.error(f"completion {uid}, expected {None if expected is None else expected.head} (ring order)")
            elif ulen != want_len(expected):
                self.error(f"completion of {uid}: len {ulen}, expected {want_len(expected)}")

    # ---- the block's contract -------------------------------------------------------------------------
    def header_ranges(self, c) -> list[tuple[int, int]]:
        out, left = [], self.hdr_len
        for a, n in c.buffers:
            if left == 0:
                break
            take = min(n, left)
            if take:
                out.append((a, take))
            left -= take
        return out

    def check_no_header_reads(self, chains, accesses) -> None:
        """``accesses``: those made while the chains were in flight (buffers are reused after a reclaim)."""
        for c in chains:
            for a, n in self.header_ranges(c):
                for acc in accesses:
                    if acc.overlaps(a, n):
                        self.error(f"header of chain {c.head} read: {acc.addr:#x}+{acc.length}")

    def check_cpl_after_frame(self, first_cpl: int, first_frame: int) -> None:
        """Completion k (of a sent chain) is taken no earlier than the cycle of its frame's last beat."""
        frames = [f for f in self.frames[first_frame:] if not f[2]]
        for (cyc, uid, _), (end, data, _) in zip(self.cpls[first_cpl:], frames):
            if cyc < end:
                self.error(f"completion {uid} at cycle {cyc}, its frame's last beat at {end}")

    def peak_chains_reading(self) -> int:
        """Most chains (DMA tags) with a read outstanding at the same time."""
        events = sorted([(a.cycle, 1, a.tag) for a in self.dma.reads()] + [(a.done, -1, a.tag) for a in self.dma.reads()])
        live: dict[int, int] = {}
        peak = 0
        for _, d, tag in events:
            live[tag] = live.get(tag, 0) + d
            peak = max(peak, sum(1 for v in live.values() if v > 0))
        return peak


async def setup(dut, name: str, **kw) -> TB:
    tb = TB(dut, name)
    await tb.reset(**kw)
    return tb


def named(*values: str) -> list:
    return [cocotb.Param(v, v) for v in values]


@cocotb.test()
@cocotb.parametrize(mix=named("small", "mixed", "large", "mrg_rxbuf"))
async def test_frames(dut, mix):
    """Bursts of chains through several wraps of the ring and of the packet buffer: every frame on the
    wire byte-exact in ring order (wire_scoreboard), the header never read, completions {head, 0} in ring
    order each after its frame, a frame statistics pulse per frame; random DMA latency out of order,
    descriptor, segment, wire and completion back-pressure."""
    tb = await setup(dut, f"frames_{mix}", mrg_rxbuf=mix == "mrg_rxbuf")
    tb.dma.out_of_order = True
    tb.dma.rd_latency = (2, 60)
    tb.dma.rd_ready_prob = 0.8
    tb.seg_prob = 0.8
    tb.cpl_prob = 0.7
    tb.sink.set_pause_generator(iter(lambda: tb.rng.random() < 0.2, None))
    lo, hi = {"small": (14, 128), "mixed": (14, tb.max_frame), "large": (1000, tb.max_frame),
              "mrg_rxbuf": (14, tb.max_frame)}[mix]
    total = 0
    while total < 3 * QSIZE:
        n = tb.rng.randint(1, 12)                  # header + up to 3 buffers: 48 descriptors at most
        mark = len(tb.dma.accesses)
        chains = tb.add([tb.random_frame(lo, hi) for _ in range(n)], nbufs=(1, 3))
        total += n
        await tb.wait_cpls(total)
        tb.reclaim()
        tb.check_no_header_reads(chains, tb.dma.accesses[mark:])
    tb.check_cpl_after_frame(0, 0)
    if tb.stats["stat_frame"] != total:
        tb.error(f"{tb.stats['stat_frame']} frame pulses for {total} frames")
    tb.hub.finish()
    tb.log.info("%s: %d chains, %d reads, up to %d chains reading at once", mix, total, len(tb.dma.reads()),
                tb.peak_chains_reading())
    tb.check()


@cocotb.test()
async def test_chains_in_flight(dut):
    """A slow DMA (60..80 cycles) and small frames: reads of several chains are outstanding at once, and
    the frames still leave in ring order."""
    tb = await setup(dut, "chains_in_flight")
    tb.dma.out_of_order = True
    tb.dma.rd_latency = (60, 80)
    tb.add([tb.random_frame(60, 200) for _ in range(20)], nbufs=(1, 2), indirect_prob=0.5)
    await tb.wait_cpls(20)
    tb.reclaim()
    peak = tb.peak_chains_reading()
    tb.log.info("20 chains: up to %d chains with reads outstanding (PKT_SLOTS %d)", peak, tb.slots)
    if peak < min(tb.slots, 4):
        tb.error(f"at most {peak} chains with reads outstanding at once, {tb.slots} slots")
    tb.hub.finish()
    tb.check()


@cocotb.test()
async def test_drops(dut):
    """Oversize (header + frame one byte past hdr_len + MAX_FRAME_LEN) and runt (fewer than
    hdr_len + MIN_FRAME_LEN bytes) chains complete in ring order with len 0 and send nothing; no read of an
    oversize chain's buffer past the limit; each drop pulses its statistic; the frames around them go out."""
    tb = await setup(dut, "drops")
    tb.cpl_prob = 0.8
    ring = tb.ring
    plan = ["good", "long", "good", "runt", "runt_hdr", "good", "long", "good"]
    chains, bad = [], []
    for kind in plan:
        if kind == "good":
            chains += tb.add([tb.random_frame(60, 600)])
            continue
        hdr = tb.rng.randbytes(tb.hdr_len)
        if kind == "long":       # header, then the frame one byte too long over two buffers
            c = ring.add_buffers([hdr, tb.rng.randbytes(tb.max_frame - 100), tb.rng.randbytes(101)])
            bad.append(c.buffers[-1])
        elif kind == "runt":     # one byte short of the minimum frame, header and frame in one buffer
            c = ring.add_buffers([hdr + tb.rng.randbytes(tb.min_frame - 1)])
        else:                    # the header only
            c = ring.add_buffers([hdr])
        chains += tb.queue([c], sent=False)
    await tb.wait_cpls(len(plan))
    tb.reclaim()
    for addr, length in bad:
        for acc in tb.dma.reads():
            if acc.overlaps(addr, length):
                tb.error(f"read past the frame limit: {acc.addr:#x}+{acc.length}")
    want = {"stat_frame": plan.count("good"), "stat_drop_oversize": plan.count("long"),
            "stat_drop_runt": plan.count("runt") + plan.count("runt_hdr")}
    if tb.stats != want:
        tb.error(f"statistics pulses {tb.stats}, expected {want}")
    tb.hub.finish()
    tb.check()


@cocotb.test()
async def test_read_error(dut):
    """A DMA read that completes with an error: err_valid with cause 9. The queue's owner stops the block
    (run = 0): no read after that, idle once the reads owed are in; clear, and frames flow again."""
    tb = await setup(dut, "read_error")
    tb.dma.rd_latency = (20, 40)
    good = tb.add([tb.random_frame(60, 300) for _ in range(3)], indirect_prob=0.0)
    await tb.wait_cpls(3)
    tb.reclaim()
    victim = tb.ring.add_packet(tb.random_frame(200, 400), 2)
    target = victim.buffers[-1][0]
    tb.dma.rd_fail = lambda addr, length: addr <= target < addr + length
    tb.queue([victim], sent=False)
    tb.add([tb.random_frame(60, 300) for _ in range(3)], sent=False)

    async def _err():
        while not tb.errs:
            await FallingEdge(dut.clk)
    await with_timeout(_err(), TIMEOUT_US, "us")
    await FallingEdge(dut.clk)
    dut.run.value = 0
    stop = cycle_now()
    if [c for _, c in tb.errs] != [9]:
        tb.error(f"error causes {tb.errs}, expected [9]")
    for _ in range(400):
        await FallingEdge(dut.clk)
        if high(dut.idle):
            break
    else:
        tb.error("not idle 400 cycles after the stop")
    late = [a for a in tb.dma.reads() if a.cycle > stop + 1]
    if late:
        tb.error(f"read after the stop: {late[0]}")
    if [c for c in tb.cpls if c[1] == victim.head]:
        tb.error("the chain whose read failed completed")
    # clear, a fresh ring, frames again
    tb.dma.rd_fail = None
    tb.segq.clear()
    dut.clear.value = 1
    await tb.cycles(1)
    dut.clear.value = 0
    dut.run.value = 1
    device_reset(tb.hub)
    tb.ring = SplitRing(tb.mem, HOST_BASE + 0x8000, QSIZE, tb.hdr_len, HOST_BASE + DATA_OFF, HOST_BASE + IND_OFF,
                        tb.rng)
    describe_queue(tb.hub, tb.ring.base, QSIZE, 1 << 28, 0, dut=tb.dut)
    tb.cpls.clear()
    tb.expected.clear()
    tb.hub.attach_sent(tb.expected)
    frames0 = len(tb.frames)
    tb.add([tb.random_frame(60, 600) for _ in range(6)])
    await tb.wait_cpls(6)
    tb.reclaim()
    tb.check_cpl_after_frame(0, frames0)
    tb.hub.finish()
    tb.log.info("%d good chains before the error", len(good))
    tb.check()


@cocotb.test()
async def test_stop_mid_frame(dut):
    """run = 0 while a frame is on the wire (the wire holds it): the frame ends with an extra beat marked
    tlast = tuser = 1, no further frame starts, no read is issued, and idle rises; no completion leaves."""
    tb = await setup(dut, "stop_mid_frame")
    tb.sink.pause = True
    tb.add([tb.random_frame(1200, tb.max_frame) for _ in range(3)], sent=False)
    for _ in range(2000):
        await FallingEdge(dut.clk)
        if high(dut.m_axis_tx_tvalid) and len(tb.dma.reads()) >= 3:
            break
    await tb.cycles(20)
    tb.sink.pause = False
    await tb.cycles(30)
    dut.run.value = 0
    stop = cycle_now()
    for _ in range(600):
        await FallingEdge(dut.clk)
        if high(dut.idle):
            break
    else:
        tb.error("not idle 600 cycles after the stop")
    await tb.cycles(50)
    cut = [f for f in tb.frames if f[2]]
    if len(cut) != 1 or len(tb.frames) != 1:
        tb.error(f"frames after a stop mid-frame: {[(len(d), c) for _, d, c in tb.frames]}, expected one cut frame")
    if [a for a in tb.dma.reads() if a.cycle > stop + 1]:
        tb.error("read after the stop")
    if tb.cpls:
        tb.error(f"completions while stopped: {tb.cpls}")
    tb.check()


@cocotb.test()
@cocotb.parametrize(knob=named("fault_drop_frame", "fault_dup_frame", "fault_used_len"))
async def test_fault(dut, knob):
    """Each fault knob, off then on: DROP_FRAME and DUP_FRAME (the chains at used index 3 mod 4) are caught
    by wire_scoreboard, knob on and only then; USED_LEN_READ makes every completion's len the chain's
    header + frame bytes. Built with FAULT_ENABLE = 0, the knobs do nothing."""
    tb = await setup(dut, knob)
    if not tb.fault_enable:
        tb.log.info("FAULT_ENABLE = 0: the knobs are compiled out; checking they do nothing")
    tb.add([tb.random_frame(60, 300) for _ in range(8)])
    await tb.wait_cpls(8)
    tb.reclaim()
    if tb.hub.failed("wire_scoreboard"):
        tb.error("wire_scoreboard fired with the knob off")
    getattr(dut, knob).value = 1
    checker = "wire_scoreboard" if knob != "fault_used_len" else None
    if checker:
        tb.hub.expect(checker)
    chains = tb.add([tb.random_frame(60, 300) for _ in range(8)])
    await tb.wait_cpls(16)
    hit = [c for k, c in enumerate(chains) if (8 + k) % 4 == 3]
    if knob == "fault_used_len":
        tb.reclaim(lambda c: c.total if tb.fault_enable and c in chains else 0)   # every chain, knob on
    else:
        tb.reclaim()
        await tb.cycles(20)
        tb.hub.finish()          # a frame missing at the end is found here
        fired = len(tb.hub.failed("wire_scoreboard"))
        if tb.fault_enable and fired < len(hit):
            tb.error(f"{knob}: wire_scoreboard fired {fired} times for {len(hit)} faulted chains")
        if not tb.fault_enable and fired:
            tb.error(f"{knob} compiled out, yet wire_scoreboard fired")
    others = [v for v in tb.hub.violations if v.checker != checker]
    if others:
        tb.error(f"{knob}: other checkers fired: {others[0].report()}")
    tb.check()


# ---- pytest entry -------------------------------------------------------------------------------

import pytest  # noqa: E402

from sim import suite  # noqa: E402

# make test: the block at 256 bits on Verilator, at 64 on Icarus (every width on both under REGRESS)
SUITE = suite.Suite("tests.sim.test_virtq_tx_mover", "virtq_tx_mover", icarus_variants=["w64"],
                    verilator_variants=["w256", "nofault"],
                    variants={"w256": {"RAM_DATA_WIDTH": 256, "FAULT_ENABLE": 1},
                              "w64": {"RAM_DATA_WIDTH": 64, "FAULT_ENABLE": 1},
                              "nofault": {"RAM_DATA_WIDTH": 256, "FAULT_ENABLE": 0}},
                    exclude={"nofault": r"test_(frames|chains_in_flight|drops|read_error|stop_mid_frame)"},
                    sources=("hdl/virtio/virtq_tx_mover.v", "hdl/pcie/dma_ram.v"))


@pytest.mark.sim
@pytest.mark.parametrize("case", SUITE.cases(globals()), ids=str)
def test_virtq_tx_mover(case, sim_run):
    sim_run(case)
