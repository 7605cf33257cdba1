"""Block test of virtq_rx_mover: frames from the wire, segments of device-writable chains in, the header and
the frame written by DMA, completions {id, len, last} out.

Around the block: host memory with device-writable buffers (``rx_model.BufferPool``: a slot each, gaps
between them), a source of segments in ring order (what virtq_desc_walk emits for an RX queue: one per
buffer, the chain's last marked), the wire (``rx_model.AxisSource``), the DMA write engine (``dma_model``:
random latencies, descriptor back-pressure) and the used writer's side (completions taken with random
back-pressure). ``rx_model.RxJudge`` judges every write (inside a buffer of a chain whose frame is
delivered, never past it), every completion (ring order, used.len = bytes written, last on a frame's final
chain) and host memory (header + frame byte-exact across buffers and chains, num_buffers with MRG_RXBUF).
This module checks on top: drops by reason (pulses), no write of a dropped frame, the no-buffer wait
(avail_req, RX_WAIT, the wire's longest stall), the stop, a write error, the fault knobs, and the wire
occupancy at full rate (printed: a figure, not an assertion).

Timing convention: inputs are driven and handshakes sampled at falling clock edges.
"""

from __future__ import annotations

import logging
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import Event, FallingEdge, ReadOnly, RisingEdge, with_timeout

from tb.simulation.seed import seed_for
from tests.sim.dma_model import CLK_NS, DmaModel, ObservedMemory, cycle_now, high
from tests.sim.rx_model import AxisSource, BufferPool, RxChain, RxJudge, place

HOST_BASE = 0x1000_0000
HOST_SIZE = 1 << 23
SLOT = 4096
SLOTS = HOST_SIZE // SLOT
TIMEOUT_US = 400
QSIZE = 256
STATS = ("stat_frame", "stat_drop_nobuf", "stat_drop_chain", "stat_drop_oversize", "stat_drop_runt",
         "stat_drop_bad", "stat_drop_overrun", "stat_drop_stopped")


class TB:
    def __init__(self, dut, name: str):
        self.dut = dut
        self.log = logging.getLogger(f"cocotb.tb.{name}")
        self.seed = seed_for(name, self.log)
        self.rng = random.Random(self.seed)
        self.errors: list[str] = []
        self.max_frame = int(dut.MAX_FRAME_LEN.value)
        self.min_frame = int(dut.MIN_FRAME_LEN.value)
        self.max_chains = int(dut.MAX_CHAINS.value)
        self.max_segs = int(dut.MAX_SEGS.value)
        self.rx_wait = int(dut.RX_WAIT.value)
        self.fault_enable = int(dut.FAULT_ENABLE.value) == 1
        self.mem = ObservedMemory(HOST_BASE, HOST_SIZE)
        for n in ("feat_mrg_rxbuf", "feat_version_1", "run", "clear", "fault_write_past", "fault_used_len", "fault_drop_silent",
                  "s_axis_seg_addr", "s_axis_seg_len", "s_axis_seg_write", "s_axis_seg_last", "s_axis_seg_head",
                  "s_axis_seg_valid", "m_axis_cpl_ready"):
            getattr(dut, n).value = 0
        dut.rst.value = 1
        Clock(dut.clk, CLK_NS, unit="ns", impl="gpi").start()
        self.dma = DmaModel(dut, self.mem, self.rng, int(dut.RAM_DATA_WIDTH.value) // 8, self.log)
        self.pool = BufferPool(self.mem, HOST_BASE, SLOTS, SLOT, self.rng)
        self.judge = RxJudge(self.mem, False, self.log)
        self.dma.write_hooks.append(self.judge.on_write)
        self.wire = AxisSource(dut, self.rng, int(dut.AXIS_NET_KEEP_WIDTH.value))
        self.next_head = 0
        self.segq: list[tuple[int, int, int, int]] = []
        self.seg_prob = 1.0
        self.cpl_prob = 1.0
        self.cpls: list[tuple[int, int, int, bool]] = []      # (cycle, id, len, last)
        self.cpl_event = Event()
        self.errs: list[int] = []
        self.avail_reqs: list[int] = []
        self.stats = dict.fromkeys(STATS, 0)
        self.bytes = 0

    def error(self, msg: str) -> None:
        self.log.error(msg)
        self.errors.append(msg)

    def check(self) -> None:
        errors = self.errors + self.judge.errors + self.dma.errors
        assert not errors, f"seed {self.seed}: {errors[:5]}"

    async def cycles(self, n: int) -> None:
        for _ in range(n):
            await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)

    async def reset(self, mrg: bool = False) -> None:
        await self.cycles(3)
        self.dut.rst.value = 0
        self.set_mrg(mrg)
        self.dut.run.value = 1
        cocotb.start_soon(self._segments())
        cocotb.start_soon(self._sampler())

    def set_mrg(self, mrg: bool) -> None:
        self.dut.feat_mrg_rxbuf.value = int(mrg)
        self.judge.set_mrg(mrg)

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
            dut.s_axis_seg_write.value = 1
            dut.s_axis_seg_last.value = last
            dut.s_axis_seg_head.value = head
            dut.s_axis_seg_valid.value = 1
            await ReadOnly()
            if high(dut.s_axis_seg_ready):
                self.segq.pop(0)

    async def _sampler(self) -> None:
        dut = self.dut
        while True:
            await FallingEdge(dut.clk)
            ready = self.cpl_prob >= 1.0 or self.rng.random() < self.cpl_prob
            dut.m_axis_cpl_ready.value = int(ready)
            await ReadOnly()
            if ready and high(dut.m_axis_cpl_valid):
                cid, clen, last = int(dut.m_axis_cpl_id.value), int(dut.m_axis_cpl_len.value), high(dut.m_axis_cpl_last)
                self.cpls.append((cycle_now(), cid, clen, last))
                self.judge.on_chain(cid, clen, last)
                self.cpl_event.set()
            for n in STATS:
                if high(getattr(dut, n)):
                    self.stats[n] += 1
            if high(dut.stat_frame):
                self.bytes += int(dut.stat_frame_len.value)
            if high(dut.err_valid):
                self.errs.append(int(dut.err_cause.value))
            if high(dut.avail_req):
                self.avail_reqs.append(cycle_now())

    # ---- the driver's side: chains; the wire: frames ---------------------------------------------------
    def chain(self, lens: list[int]) -> RxChain:
        c = RxChain(self.next_head, [self.pool.buffer(n) for n in lens])
        self.next_head = (self.next_head + 1) % QSIZE
        for k, (a, n) in enumerate(c.buffers):
            self.segq.append((a, n, int(k == len(c.buffers) - 1), c.head))
        return c

    def random_frame(self, lo: int = 14, hi: int | None = None) -> bytes:
        return self.rng.randbytes(self.rng.randint(lo, hi or self.max_frame))

    def fitting_chain(self, need: int, mrg: bool) -> list[int]:
        """Buffer lengths of a chain: with MRG_RXBUF any capacity (a frame may span chains), else one that
        holds ``need`` bytes: Linux's small buffers (header, then 1518), or random splits."""
        if mrg:
            n = self.rng.randint(1, 3)
            return [self.rng.randint(1, 400) for _ in range(n)]
        kind = self.rng.random()
        hdr = self.judge.hdr_len
        if kind < 0.4:
            return [hdr, max(need - hdr, self.max_frame)]
        extra = self.rng.randint(0, 200)
        total = need + extra
        n = self.rng.randint(1, 4)
        cuts = sorted(self.rng.sample(range(1, total), n - 1)) if n > 1 else []
        return [b - a for a, b in zip([0, *cuts], [*cuts, total])]

    def deliver(self, frame: bytes, mrg: bool, bad: bool = False) -> str:
        """Hand chains for ``frame``, expect it delivered (or dropped where the chains are too short) and
        send it on the wire."""
        need = self.judge.hdr_len + len(frame)
        chains = [self.chain(self.fitting_chain(need, mrg))]
        while mrg and sum(c.capacity for c in chains) < need and len(chains) < self.max_chains:
            chains.append(self.chain(self.fitting_chain(need, mrg)))
        kind, n = place(len(frame), self.judge.hdr_len, mrg, chains, self.max_chains)
        assert n == len(chains)
        self.judge.expect(frame, kind, chains)
        self.wire.send(frame, bad)
        return kind

    async def wait_idle(self, timeout_us: float = TIMEOUT_US) -> None:
        """Until every expected frame completed and the wire is empty."""
        async def _wait():
            while self.wire.busy or self.segq or any(o.kind != "none" for o in self.judge.outcomes):
                await self.cycles(8)
        try:
            await with_timeout(_wait(), timeout_us, "us")
        except Exception:
            self.error(f"not done after {timeout_us} us: {len(self.judge.outcomes)} frames outstanding, "
                       f"{len(self.wire.queue)} on the wire, {len(self.segq)} segments not taken, "
                       f"busy {self.dut.busy.value}, idle {self.dut.idle.value}")
            raise
        await self.cycles(4)


async def setup(dut, name: str, mrg: bool = False) -> TB:
    tb = TB(dut, name)
    await tb.reset(mrg)
    return tb


def named(*values: str) -> list:
    return [cocotb.Param(v, v) for v in values]


@cocotb.test()
@cocotb.parametrize(mix=named("small", "mixed", "large", "mrg_small", "mrg_mixed"))
async def test_frames(dut, mix):
    """Frames of random sizes into chains of one to four buffers (Linux's header + 1518 layout among them),
    or with MRG_RXBUF over chains of 1..3 small buffers (a frame spans several chains): every frame
    byte-exact behind its header, num_buffers right, used.len = bytes written, nothing written past a
    buffer; random DMA write latency and descriptor back-pressure, segment, completion and wire gaps."""
    mrg = mix.startswith("mrg")
    tb = await setup(dut, f"frames_{mix}", mrg=mrg)
    tb.dma.wr_latency = (1, 30)
    tb.dma.wr_ready_prob = 0.7
    tb.seg_prob = 0.8
    tb.cpl_prob = 0.7
    tb.wire.gap_prob = 0.3
    lo, hi = {"small": (14, 128), "mixed": (14, tb.max_frame), "large": (1000, tb.max_frame),
              "mrg_small": (14, 300), "mrg_mixed": (14, tb.max_frame)}[mix]
    n = 120
    for _ in range(n):
        tb.deliver(tb.random_frame(lo, hi), mrg)
    await tb.wait_idle()
    tb.judge.finish()
    delivered = len(tb.judge.delivered)
    if tb.stats["stat_frame"] != delivered or tb.stats["stat_drop_chain"] != tb.judge.dropped:
        tb.error(f"pulses {tb.stats}, {delivered} delivered, {tb.judge.dropped} dropped (chain too short)")
    if tb.bytes != sum(len(f) for f in tb.judge.delivered):
        tb.error(f"stat_frame_len summed {tb.bytes}, delivered {sum(len(f) for f in tb.judge.delivered)} bytes")
    if mrg and tb.judge.multi < 5:
        tb.error(f"only {tb.judge.multi} frames over several chains")
    tb.log.info("%s: %d frames delivered (%d over several chains), %d dropped (MAX_CHAINS), %d writes", mix, delivered,
                tb.judge.multi, tb.judge.dropped, tb.judge.writes)
    tb.check()


@cocotb.test()
@cocotb.parametrize(mrg=[cocotb.Param(False, "off"), cocotb.Param(True, "on")])
async def test_drops(dut, mrg):
    """Each drop reason once among good frames: from the wire oversize (MAX_FRAME_LEN + 1), runt
    (MIN_FRAME_LEN - 1) and bad (tuser) frames take no chain; a frame longer than its chain (without
    MRG_RXBUF), or than MAX_CHAINS chains (with), returns the chains with len 0 and writes nothing; a frame
    over more than MAX_SEGS buffers likewise. Each drop pulses its own statistic."""
    tb = await setup(dut, f"drops_{mrg}", mrg=mrg)
    tb.cpl_prob = 0.8
    hdr = tb.judge.hdr_len
    plan = ["good", "long", "good", "runt", "good", "bad", "short_chain", "good", "many_segs", "good"]
    want = dict.fromkeys(STATS, 0)
    for kind in plan:
        if kind == "good":
            tb.deliver(tb.random_frame(60, 600), mrg)
            want["stat_frame"] += 1
        elif kind in ("long", "runt", "bad"):
            frame = tb.random_frame(tb.max_frame + 1, tb.max_frame + 1) if kind == "long" else \
                tb.random_frame(tb.min_frame - 1, tb.min_frame - 1) if kind == "runt" else tb.random_frame(60, 200)
            tb.judge.expect(frame, "none")
            tb.wire.send(frame, bad=kind == "bad")
            want[{"long": "stat_drop_oversize", "runt": "stat_drop_runt", "bad": "stat_drop_bad"}[kind]] += 1
        elif kind == "short_chain":
            frame = tb.random_frame(400, 600)
            if mrg:   # MAX_CHAINS chains of 8 bytes: too few for the frame
                chains = [tb.chain([8]) for _ in range(tb.max_chains)]
            else:     # one byte short
                chains = [tb.chain([hdr, len(frame) - 1])]
            tb.judge.expect(frame, "drop", chains)
            tb.wire.send(frame)
            want["stat_drop_chain"] += 1
        else:         # many_segs: MAX_SEGS + 1 buffers of 4 bytes before the frame fits
            frame = tb.random_frame(200, 300)
            nseg = tb.max_segs + 1
            if mrg:
                per = -(-nseg // tb.max_chains)
                chains, left = [], nseg
                while left > 0:
                    k = min(per, left)
                    chains.append(tb.chain([4] * k))
                    left -= k
                chains.append(tb.chain([4, 2000]))     # the rest of the plan: taken only if the device went on
                kind_, n = "drop", len(chains) - 1
                # with MRG the frame is dropped inside the chain where the limit is hit: that chain ends it
                seg_total = 0
                for k, c in enumerate(chains):
                    seg_total += len(c.buffers)
                    if seg_total > tb.max_segs:
                        n = k + 1
                        break
                tb.judge.expect(frame, kind_, chains[:n])
                extra = chains[n:]
            else:
                chains = [tb.chain([4] * nseg + [2000])]
                tb.judge.expect(frame, "drop", chains)
                extra = []
            tb.wire.send(frame)
            want["stat_drop_chain"] += 1
            # chains the dropped frame did not take serve the next frames
            for c in extra:
                f = tb.random_frame(14, max(14, min(200, c.capacity - hdr)))
                k, _ = place(len(f), hdr, mrg, [c], tb.max_chains)
                tb.judge.expect(f, k, [c])
                tb.wire.send(f)
                want["stat_frame"] += k == "deliver"
    await tb.wait_idle()
    tb.judge.finish()
    for n in STATS:
        if tb.stats[n] != want[n]:
            tb.error(f"{n}: {tb.stats[n]} pulses, expected {want[n]}")
    tb.check()


@cocotb.test()
async def test_no_buffer(dut):
    """Frames and no chain: avail_req pulses when a frame starts waiting (and every RX_POLL cycles), the
    frame is dropped after RX_WAIT cycles (stat_drop_nobuf), the frames behind it wait their turn; the wire
    is never held longer than RX_WAIT cycles (the frames that find the buffer full are taken and dropped as
    overrun). Then chains arrive and frames are delivered again."""
    tb = await setup(dut, "no_buffer")
    n = 24
    for _ in range(n):
        f = tb.random_frame(1000, tb.max_frame)
        tb.judge.expect(f, "none")
        tb.wire.send(f)
    limit = (n + 2) * (tb.rx_wait + 200) * CLK_NS / 1000
    await with_timeout(_until(tb, lambda: tb.stats["stat_drop_nobuf"] + tb.stats["stat_drop_overrun"] >= n),
                       limit, "us")
    await tb.cycles(50)
    dropped = tb.stats["stat_drop_nobuf"] + tb.stats["stat_drop_overrun"]
    if dropped != n or tb.stats["stat_drop_nobuf"] == 0:
        tb.error(f"{tb.stats['stat_drop_nobuf']} no-buffer + {tb.stats['stat_drop_overrun']} overrun drops of {n}")
    if tb.wire.max_stall > tb.rx_wait + 1:
        tb.error(f"the wire was held {tb.wire.max_stall} cycles, RX_WAIT is {tb.rx_wait}")
    if len(tb.avail_reqs) < tb.stats["stat_drop_nobuf"]:
        tb.error(f"{len(tb.avail_reqs)} avail requests for {tb.stats['stat_drop_nobuf']} frames without a chain")
    if tb.judge.writes:
        tb.error(f"{tb.judge.writes} writes without a chain")
    tb.log.info("no chain: %d no-buffer drops, %d overrun drops, %d avail requests, longest wire stall %d cycles "
                "(RX_WAIT %d)", tb.stats["stat_drop_nobuf"], tb.stats["stat_drop_overrun"], len(tb.avail_reqs),
                tb.wire.max_stall, tb.rx_wait)
    tb.judge.finish()
    # a frame waiting, then its chain arrives within the wait: delivered
    f = tb.random_frame(100, 400)
    tb.wire.send(f)
    await tb.cycles(tb.rx_wait // 2)
    c = tb.chain([tb.judge.hdr_len + len(f)])
    tb.judge.expect(f, "deliver", [c])
    for _ in range(10):
        tb.deliver(tb.random_frame(60, 1500), False)
    await tb.wait_idle()
    tb.judge.finish()
    tb.check()


@cocotb.test()
async def test_overrun(dut):
    """Chains for every frame but a write engine that takes nothing for a while: the packet buffer fills,
    the wire is held, and after RX_WAIT cycles each frame that still finds no room is taken and dropped
    (stat_drop_overrun): the wire is never held longer than RX_WAIT cycles. Once writes flow, the frames
    held are delivered in order (same-size frames of the same bytes: whichever were dropped, the delivered
    ones fill the chains in order)."""
    tb = await setup(dut, "overrun")
    tb.dma.wr_ready_prob = 0.0
    n = 30
    frame = tb.random_frame(1400, 1400)
    for _ in range(n):
        c = tb.chain([tb.judge.hdr_len + len(frame)])
        tb.judge.expect(frame, "deliver", [c])
        tb.wire.send(frame)
    limit = (n + 2) * (tb.rx_wait + 400) * CLK_NS / 1000
    await with_timeout(_until(tb, lambda: tb.stats["stat_drop_overrun"] >= 3), limit, "us")
    tb.dma.wr_ready_prob = 1.0
    await with_timeout(_until(tb, lambda: not tb.wire.busy), limit, "us")
    await with_timeout(_until(tb, lambda: len(tb.judge.delivered) + tb.stats["stat_drop_overrun"] >= n), limit,
                       "us")
    over = tb.stats["stat_drop_overrun"]
    left = tb.judge.outcomes
    if len(left) != over:
        tb.error(f"{len(left)} frames not delivered, {over} counted as overrun")
    tb.judge.outcomes = []
    if tb.wire.max_stall > tb.rx_wait + 1:
        tb.error(f"the wire was held {tb.wire.max_stall} cycles, RX_WAIT is {tb.rx_wait}")
    tb.log.info("write engine stalled: %d of %d frames dropped as overrun, longest wire stall %d cycles (RX_WAIT %d)",
                over, n, tb.wire.max_stall, tb.rx_wait)
    tb.check()


async def _until(tb: TB, cond) -> None:
    while not cond():
        await tb.cycles(16)


@cocotb.test()
@cocotb.parametrize(size=[cocotb.Param(60, "60"), cocotb.Param(1514, "1514")])
async def test_full_rate(dut, size):
    """Back-to-back frames at full wire rate (no gap), chains always there (Linux's header + 1518 buffers),
    a DMA write engine that takes a descriptor every cycle: every frame delivered. Prints the wire
    occupancy (beats taken / cycles from the first beat to the last)."""
    tb = await setup(dut, f"full_rate_{size}")
    tb.dma.wr_latency = (4, 8)
    n = 400 if size == 60 else 100
    for _ in range(n):
        tb.deliver(tb.rng.randbytes(size), False)
    await tb.wait_idle(2000)
    tb.judge.finish()
    span = tb.wire.last - tb.wire.first + 1
    occ = tb.wire.beats / span
    tb.log.info("full rate, %d B frames: %d frames, %d beats in %d cycles: wire occupancy %.1f %% "
                "(%.2f Gb/s of %.1f), longest stall %d cycles", size, n, tb.wire.beats, span, 100 * occ,
                occ * tb.wire.wb * 8 * 1000 / CLK_NS / 1000, tb.wire.wb * 8 * 1000 / CLK_NS / 1000,
                tb.wire.max_stall)
    if len(tb.judge.delivered) != n:
        tb.error(f"{len(tb.judge.delivered)} of {n} frames delivered")
    tb.check()


@cocotb.test()
async def test_stop(dut):
    """run = 0 while frames are being written (a slow write engine): no write is issued after the stop (one
    descriptor already offered is taken as offered), no
    completion is handed over (nothing of the cut frames would be published), frames from the wire are
    taken and dropped (stat_drop_stopped), idle rises; after clear, frames are delivered again."""
    tb = await setup(dut, "stop")
    tb.dma.wr_latency = (40, 60)
    tb.dma.wr_ready_prob = 0.3
    tb.cpl_prob = 0.0
    chains = []
    for _ in range(6):
        f = tb.random_frame(600, 1500)
        c = tb.chain([tb.judge.hdr_len + len(f)])
        chains.append(c)
        tb.judge.expect(f, "deliver", [c])
        tb.wire.send(f)
    await _until(tb, lambda: tb.judge.writes >= 3 and not tb.wire.busy)
    dut.run.value = 0
    stop = cycle_now()
    presented = high(dut.m_axis_write_desc_valid)    # a descriptor offered stays offered until taken
    for _ in range(3):
        tb.wire.send(tb.random_frame(60, 200))
    for _ in range(2000):
        await FallingEdge(dut.clk)
        if high(dut.idle) and not tb.wire.busy:
            break
    else:
        tb.error("not idle 2000 cycles after the stop")
    late = [a for a in tb.dma.writes() if a.cycle > stop + 1]
    if len(late) > int(presented):
        tb.error(f"write issued after the stop: {late[int(presented)]}")
    if tb.cpls:
        tb.error(f"completions while stopped: {tb.cpls[:3]}")
    if tb.stats["stat_drop_stopped"] != 3:
        tb.error(f"{tb.stats['stat_drop_stopped']} frames dropped while stopped, expected 3")
    # clear: the cut frames and their chains are forgotten (the queue's owner resets the ring)
    tb.segq.clear()
    tb.judge.outcomes.clear()
    tb.judge.group.clear()
    dut.clear.value = 1
    await tb.cycles(1)
    dut.clear.value = 0
    dut.run.value = 1
    tb.cpl_prob = 1.0
    tb.dma.wr_latency = (1, 6)
    tb.dma.wr_ready_prob = 1.0
    for _ in range(8):
        tb.deliver(tb.random_frame(60, 1500), False)
    await tb.wait_idle()
    tb.judge.finish()
    tb.check()



@cocotb.test()
async def test_clear_twice(dut):
    """Frames held when the queue stops (written, their completions not yet taken) are lost with the clear and
    each counted once as stopped, also when the queue control clears twice two cycles apart (it does: the
    blocks still report busy in the clear's own cycle, which starts a second, empty drain). Then frames are
    delivered again."""
    tb = await setup(dut, "clear_twice")
    tb.cpl_prob = 0.0                    # the used writer takes nothing: every frame stays held
    n = 5
    for _ in range(n):
        f = tb.random_frame(200, 1500)
        tb.judge.expect(f, "deliver", [tb.chain([tb.judge.hdr_len + len(f)])])
        tb.wire.send(f)
    await with_timeout(_until(tb, lambda: not tb.wire.busy and not tb.segq and high(dut.busy)), TIMEOUT_US, "us")
    await tb.cycles(200)                 # their writes out
    dut.run.value = 0
    await with_timeout(_until(tb, lambda: high(dut.idle)), TIMEOUT_US, "us")
    if tb.stats["stat_drop_stopped"] or tb.stats["stat_frame"]:
        tb.error(f"counted before the clear: {tb.stats}")
    tb.segq.clear()
    tb.judge.outcomes.clear()
    tb.judge.group.clear()
    for _ in range(2):                   # clear, a cycle without, clear again
        dut.clear.value = 1
        await tb.cycles(1)
        dut.clear.value = 0
        await tb.cycles(1)
    await tb.cycles(4 * n)
    if tb.stats["stat_drop_stopped"] != n:
        tb.error(f"{tb.stats['stat_drop_stopped']} stopped counts for the {n} frames held at the clear")
    dut.run.value = 1
    tb.cpl_prob = 1.0
    for _ in range(4):
        tb.deliver(tb.random_frame(60, 1500), False)
    await tb.wait_idle()
    tb.judge.finish()
    if tb.stats["stat_drop_stopped"] != n or tb.stats["stat_frame"] != 4:
        tb.error(f"after the restart: {tb.stats}")
    tb.check()

@cocotb.test()
async def test_write_error(dut):
    """A DMA write that completes with an error: err_valid with cause 10."""
    tb = await setup(dut, "write_error")
    for _ in range(3):
        tb.deliver(tb.random_frame(60, 300), False)
    await tb.wait_idle()
    tb.dma.wr_fail = lambda addr, length: True
    f = tb.random_frame(60, 300)
    tb.chain([tb.judge.hdr_len + len(f)])
    tb.wire.send(f)
    await with_timeout(_until(tb, lambda: bool(tb.errs)), TIMEOUT_US, "us")
    if tb.errs[:1] != [10]:
        tb.error(f"error causes {tb.errs}, expected [10]")
    tb.judge.errors.clear()      # the failed write is not judged
    tb.check()


@cocotb.test()
@cocotb.parametrize(knob=named("fault_write_past", "fault_used_len", "fault_drop_silent"))
async def test_fault(dut, knob):
    """Each fault knob, off then on, caught by what it breaks: WRITE_PAST by the judge's write check (a write
    outside every buffer), USED_LEN by the used.len check, DROP_SILENT by the frame count (a frame neither
    delivered nor counted). Built with FAULT_ENABLE = 0 the knobs do nothing."""
    tb = await setup(dut, knob)
    for _ in range(8):
        tb.deliver(tb.random_frame(60, 300), False)
    await tb.wait_idle()
    if tb.judge.errors:
        tb.error(f"the judge fired with the knob off: {tb.judge.errors[:2]}")
    getattr(dut, knob).value = 1
    base_writes, base_len = tb.judge.bad_writes, tb.judge.len_errors
    frames0 = tb.stats["stat_frame"]
    sent = 8
    if knob == "fault_drop_silent":
        # frames at wire sequence 3 mod 4 vanish: hand chains for the others only, then see the counts
        for k in range(sent):
            f = tb.random_frame(60, 300)
            if (8 + k) % 4 == 3 and tb.fault_enable:
                tb.judge.expect(f, "none")
            else:
                c = tb.chain([tb.judge.hdr_len + len(f)])
                tb.judge.expect(f, "deliver", [c])
            tb.wire.send(f)
    else:
        for _ in range(sent):
            tb.deliver(tb.random_frame(60, 300), False)
    await tb.wait_idle()
    got = {"fault_write_past": tb.judge.bad_writes - base_writes, "fault_used_len": tb.judge.len_errors - base_len,
           "fault_drop_silent": sent - (tb.stats["stat_frame"] - frames0) - sum(
               tb.stats[n] for n in STATS if n != "stat_frame")}[knob]
    if tb.fault_enable and got < 2:
        tb.error(f"{knob}: caught {got} times for {sent} frames")
    if not tb.fault_enable and got:
        tb.error(f"{knob} compiled out, yet caught {got} times")
    tb.log.info("%s: caught %d times in %d frames", knob, got, sent)
    tb.judge.errors.clear()      # the judge fired where it should; its other errors are counted above
    tb.check()


# ---- pytest entry -------------------------------------------------------------------------------

import pytest  # noqa: E402

from sim import suite  # noqa: E402

PARAMS = {"FAULT_ENABLE": 1, "RX_WAIT": 512, "RX_POLL": 128}
# make test: the block at 256 bits on Verilator, at 64 on Icarus (every width on both under REGRESS)
SUITE = suite.Suite("tests.sim.test_virtq_rx_mover", "virtq_rx_mover", icarus_variants=["w64"],
                    verilator_variants=["w256", "nofault"],
                    variants={"w256": {"RAM_DATA_WIDTH": 256, **PARAMS},
                              "w64": {"RAM_DATA_WIDTH": 64, **PARAMS},
                              "nofault": {"RAM_DATA_WIDTH": 256, **PARAMS, "FAULT_ENABLE": 0}},
                    exclude={"nofault": r"test_(frames|drops|no_buffer|overrun|full_rate|stop|clear_twice|write_error)"},
                    sources=("hdl/virtio/virtq_rx_mover.v", "hdl/pcie/dma_ram.v"))


@pytest.mark.sim
@pytest.mark.parametrize("case", SUITE.cases(globals()), ids=str)
def test_virtq_rx_mover(case, sim_run):
    sim_run(case)
