"""Block test of virtq_rx, the RX virtqueue wired from the ring blocks (no PCIe model).

Around the queue: host memory holding a legacy split ring of device-writable chains (the driver's receive
buffers: Linux's small-buffer layout, a header buffer then 1518 bytes, random splits, INDIRECT tables, or
single buffers for MRG_RXBUF), the transaction-level DMA model of ``dma_model`` (reads into the blocks' RAMs,
writes from immediates or from the blocks' RAMs), the wire (``rx_model.AxisSource`` into ``s_axis_rx``) and
monitors of the queue's pulses.

``rx_model.RxJudge`` is fed from the used ring as the driver sees it: each used.idx write makes the judge read
the new used elements, in ring order, and compare host memory with the header + frame over the chains
(num_buffers with MRG_RXBUF), used.len with the bytes written, and every device write with the buffers of
the published chains whose frame is delivered. On top: used.idx never publishes part of a merged frame
(every published element ends at a frame boundary), the drops by reason, the no-buffer wait (the queue reads
avail.idx by itself and finds buffers added without a kick), a device-readable buffer on the RX queue (error
7, nothing written to it, queue stopped until a reset), a reset mid-frame (nothing of the cut frame
published, no DMA issued after the reset), the interrupt per push with NO_INTERRUPT clear, and the wire
occupancy at full rate with the ring kept full (printed).

Timing convention: inputs are driven and handshakes sampled at falling clock edges.
"""

from __future__ import annotations

import logging
import random
import struct

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, with_timeout

from tb.simulation.seed import seed_for
from tests.sim.dma_model import CLK_NS, Access, DmaModel, ObservedMemory, cycle_now, high
from tests.sim.rx_model import FILL, AxisSource, RxChain, RxJudge, place
from tests.sim.vring_builder import (
    DATA_SLOT,
    VRING_AVAIL_F_NO_INTERRUPT,
    VRING_DESC_F_INDIRECT,
    VRING_DESC_F_NEXT,
    VRING_DESC_F_WRITE,
    SplitRing,
)

HOST_BASE = 0x1000_0000
HOST_SIZE = 1 << 21
RING_OFF = 0x1000
IND_OFF = 0x20000
DATA_OFF = 0x40000
TIMEOUT_US = 600
STATS = ("stat_frame", "stat_notify", "stat_irq_normal", "stat_irq_noe", "stat_irq_suppressed", "stat_drop_nobuf",
         "stat_drop_chain", "stat_drop_oversize", "stat_drop_runt", "stat_drop_bad", "stat_drop_overrun",
         "stat_drop_stopped", "stat_irq_event", "stat_irq_event_suppressed")


class RxRing(SplitRing):
    """The driver's receive ring: chains of device-writable buffers (pattern-filled), direct or INDIRECT."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rx_descs: dict[int, list[int]] = {}

    def add_rx(self, lens: list[int], indirect: bool = False, readable: int = -1) -> RxChain | None:
        """A chain of buffers of ``lens`` bytes; ``readable``: the index of a buffer without the WRITE flag."""
        need = 1 if indirect else len(lens)
        if need > len(self.free):
            return None
        descs = self.alloc(need)
        head = descs[0]
        buffers: list[tuple[int, int]] = []
        if indirect:
            addr = self.slot(head)
            for n in lens:
                addr += self.rng.randrange(1, 16)
                buffers.append((addr, n))
                addr += n
            assert addr + 16 <= self.slot(head) + DATA_SLOT
            table = self.table(head)
            for k, (a, n) in enumerate(buffers):
                last = k == len(buffers) - 1
                flags = (0 if last else VRING_DESC_F_NEXT) | (0 if k == readable else VRING_DESC_F_WRITE)
                self.mem.write(table + 16 * k, struct.pack("<QIHH", a, n, flags, 0 if last else k + 1))
            self.write_desc(head, table, 16 * len(buffers), VRING_DESC_F_INDIRECT, 0)
        else:
            for k, (i, n) in enumerate(zip(descs, lens)):
                assert n + 32 <= DATA_SLOT
                a = self.slot(i) + self.rng.randrange(1, DATA_SLOT - n - 16)
                buffers.append((a, n))
                last = k == len(lens) - 1
                flags = (0 if last else VRING_DESC_F_NEXT) | (0 if k == readable else VRING_DESC_F_WRITE)
                self.write_desc(i, a, n, flags, 0 if last else descs[k + 1])
        for a, n in buffers:
            self.mem.fill(a, n, FILL)
        chain = RxChain(head, buffers)
        self.push_avail(head)
        self.inflight[head] = chain       # type: ignore[assignment]
        self.rx_descs[head] = descs
        return chain

    def reclaim_rx(self) -> list[tuple[int, int]]:
        """The new used elements [(id, len)], their descriptors freed."""
        out = []
        idx = self.used_idx()
        while self.last_used != idx:
            uid, ulen = self.used_elem(self.last_used)
            self.free.extend(self.rx_descs.pop(uid, []))
            out.append((uid, ulen))
            self.last_used = (self.last_used + 1) & 0xFFFF
        return out


class TB:
    def __init__(self, dut, name: str):
        self.dut = dut
        self.log = logging.getLogger(f"cocotb.tb.{name}")
        self.seed = seed_for(name, self.log)
        self.rng = random.Random(self.seed)
        self.errors: list[str] = []
        self.qsize = int(dut.QUEUE_SIZE.value)
        self.max_frame = int(dut.MAX_FRAME_LEN.value)
        self.max_chains = int(dut.MAX_CHAINS.value)
        self.rx_wait = int(dut.RX_WAIT.value)
        self.mem = ObservedMemory(HOST_BASE, HOST_SIZE)
        for n in ("queue_enable", "desc_addr", "avail_addr", "used_addr", "queue_size", "feat_version_1", "feat_indirect", "feat_noe", "feat_mrg_rxbuf", "noe_policy",
                  "push_batched", "push_batch", "push_flush", "fault", "notify", "dev_reset", "feat_event_idx",
                  "fault_event"):
            getattr(dut, n).value = 0
        dut.rst.value = 1
        Clock(dut.clk, CLK_NS, unit="ns", impl="gpi").start()
        self.dma = DmaModel(dut, self.mem, self.rng, int(dut.RAM_DATA_WIDTH.value) // 8, self.log)
        self.judge = RxJudge(self.mem, False, self.log)
        self.dma.write_hooks.append(self._on_write)
        self.wire = AxisSource(dut, self.rng, int(dut.AXIS_NET_KEEP_WIDTH.value))
        self.ring: RxRing | None = None
        self.posted: list[RxChain] = []       # published, not yet given a frame (ring order)
        self.irqs: list[tuple[int, int]] = []
        self.errs: list[int] = []
        self.stats = dict.fromkeys(STATS, 0)
        self.used_writes = 0
        self.partial_publish = 0
        cocotb.start_soon(self._sampler())

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

    async def _sampler(self) -> None:
        dut = self.dut
        while True:
            await FallingEdge(dut.clk)
            await ReadOnly()
            for n in STATS:
                if high(getattr(dut, n)):
                    self.stats[n] += 1
            if high(dut.irq_valid):
                self.irqs.append((cycle_now(), int(dut.irq_cause.value)))
            if high(dut.err_valid):
                self.errs.append(int(dut.err_cause.value))

    def _on_write(self, acc: Access) -> None:
        ring = self.ring
        if ring is None or acc.error:
            return
        if ring.used <= acc.addr < ring.used + 4 + 8 * ring.qsize:
            if acc.addr == ring.used + 2:
                # used.idx: the driver may read the new elements now
                self.used_writes += 1
                for uid, ulen in ring.reclaim_rx():
                    self.judge.on_chain(uid, ulen)
                if self.judge.group:
                    self.partial_publish += 1
                    self.error(f"used.idx {ring.used_idx()} published part of a frame "
                               f"({len(self.judge.group)} of its chains)")
            return
        self.judge.on_write(acc)

    # ---- configuration ----------------------------------------------------------------------------------
    async def start(self, mrg: bool = False, indirect: bool = True, batched: bool = False, batch: int = 8,
                    flush: int = 256, fault: int = 0, event_idx: bool = False) -> RxRing:
        dut = self.dut
        await self.cycles(3)
        dut.rst.value = 0
        self.mem.fill(HOST_BASE, HOST_SIZE)
        self.ring = RxRing(self.mem, HOST_BASE + RING_OFF, self.qsize, 12 if mrg else 10, HOST_BASE + DATA_OFF,
                           HOST_BASE + IND_OFF, self.rng)
        self.judge.set_mrg(mrg)
        self.posted.clear()
        await FallingEdge(dut.clk)
        dut.desc_addr.value = self.ring.desc
        dut.queue_size.value = self.ring.qsize
        dut.avail_addr.value = self.ring.avail
        dut.used_addr.value = self.ring.used
        dut.feat_indirect.value = int(indirect)
        dut.feat_mrg_rxbuf.value = int(mrg)
        dut.push_batched.value = int(batched)
        dut.push_batch.value = batch
        dut.push_flush.value = flush
        dut.fault.value = fault
        dut.feat_event_idx.value = int(event_idx)
        dut.queue_enable.value = 1
        await self.cycles(2)
        return self.ring

    async def kick(self) -> None:
        self.dut.notify.value = 1
        await FallingEdge(self.dut.clk)
        self.dut.notify.value = 0

    def post(self, lens: list[int], indirect: bool = False) -> RxChain:
        assert self.ring is not None
        c = self.ring.add_rx(lens, indirect)
        assert c is not None, "ring full"
        self.posted.append(c)
        return c

    def chain_lens(self, mrg: bool) -> list[int]:
        if mrg:
            return [self.rng.choice([256, 512, 1024, 1536])]
        if self.rng.random() < 0.5:
            return [self.judge.hdr_len, self.max_frame]       # Linux's small buffers
        total = self.judge.hdr_len + self.max_frame + self.rng.randint(0, 300)
        n = self.rng.randint(1, 3)
        cuts = sorted(self.rng.sample(range(1, total), n - 1)) if n > 1 else []
        return [b - a for a, b in zip([0, *cuts], [*cuts, total])]

    def fill_ring(self, mrg: bool, indirect_prob: float = 0.3) -> int:
        """Post chains while descriptors are free; publish. Returns how many."""
        assert self.ring is not None
        n = 0
        while True:
            lens = self.chain_lens(mrg)
            ind = self.rng.random() < indirect_prob
            if (1 if ind else len(lens)) > self.ring.num_free():
                break
            self.post(lens, ind)
            n += 1
        self.ring.publish()
        return n

    def send(self, frame: bytes, bad: bool = False) -> str:
        """A frame on the wire, given the next posted chains (as the device will take them)."""
        kind, k = place(len(frame), self.judge.hdr_len, self.judge.mrg, self.posted, self.max_chains)
        chains, self.posted = self.posted[:k], self.posted[k:]
        self.judge.expect(frame, kind, chains)
        self.wire.send(frame, bad)
        return kind

    def frames_fitting(self, mrg: bool, lo: int, hi: int) -> list[bytes]:
        """Frames that the posted chains can take (each frame with its chains, in order)."""
        out, k, cap = [], 0, list(self.posted)
        hdr = self.judge.hdr_len
        while k < len(cap):
            f = self.rng.randbytes(self.rng.randint(lo, hi))
            have, j = 0, k
            while j < len(cap) and (mrg or j == k):
                have += cap[j].capacity
                j += 1
                if have >= hdr + len(f) or j - k == self.max_chains:
                    break
            if have < hdr + len(f) and j == len(cap):
                break
            out.append(f)
            k = j
        return out

    async def wait_done(self, timeout_us: float = TIMEOUT_US) -> None:
        async def _wait():
            while self.wire.busy or any(o.kind != "none" for o in self.judge.outcomes):
                await self.cycles(16)
        try:
            await with_timeout(_wait(), timeout_us, "us")
        except Exception:
            self.error(f"not done after {timeout_us} us: {len(self.judge.outcomes)} frames outstanding, "
                       f"{len(self.wire.queue)} on the wire, idle {self.dut.idle.value}, stats {self.stats}")
            raise
        await self.cycles(120)      # the last push's decision read (interrupt) follows its used.idx write


def named(*values: str) -> list:
    return [cocotb.Param(v, v) for v in values]


@cocotb.test()
@cocotb.parametrize(mode=named("plain", "mrg", "plain_batched", "mrg_batched"))
async def test_frames(dut, mode):
    """Rounds of: fill the ring (direct and INDIRECT chains), kick, send frames the chains can take, wait for
    them in the used ring, reclaim; several wraps of the ring. Every frame byte-exact behind its header in
    ring order (num_buffers with MRG_RXBUF: frames over several chains), used.len = bytes written, nothing
    written outside the published chains' buffers, used.idx never in the middle of a frame; per_packet with
    NO_INTERRUPT clear: one interrupt per push."""
    mrg = mode.startswith("mrg")
    batched = mode.endswith("batched")
    tb = TB(dut, f"frames_{mode}")
    await tb.start(mrg=mrg, batched=batched)
    tb.dma.out_of_order = True
    tb.dma.rd_latency = (2, 40)
    tb.dma.wr_latency = (1, 20)
    tb.dma.wr_ready_prob = 0.8
    tb.wire.gap_prob = 0.2
    total = 0
    pushes = 0
    while total < 3 * tb.qsize:
        tb.fill_ring(mrg)
        await tb.kick()
        frames = tb.frames_fitting(mrg, 14, tb.max_frame)
        for f in frames:
            pushes += tb.send(f) in ("deliver", "drop")
        total += len(frames)
        await tb.wait_done()
        tb.judge.finish()
    if tb.stats["stat_frame"] != len(tb.judge.delivered):
        tb.error(f"{tb.stats['stat_frame']} frame pulses, {len(tb.judge.delivered)} frames delivered")
    if not batched and len(tb.irqs) != pushes:
        tb.error(f"{len(tb.irqs)} interrupts for {pushes} frames (per_packet, NO_INTERRUPT clear)")
    if batched and not 0 < len(tb.irqs) <= pushes:
        tb.error(f"{len(tb.irqs)} interrupts for {pushes} frames (batched)")
    if mrg and tb.judge.multi < 10:
        tb.error(f"only {tb.judge.multi} frames over several chains")
    tb.log.info("%s: %d frames delivered (%d over several chains), %d dropped (chain too short), %d used.idx "
                "writes, %d interrupts", mode, len(tb.judge.delivered), tb.judge.multi, tb.judge.dropped,
                tb.used_writes, len(tb.irqs))
    tb.check()


@cocotb.test()
async def test_no_buffer(dut):
    """No buffer posted: frames are dropped after RX_WAIT cycles (stat_drop_nobuf) and the queue reads
    avail.idx by itself while a frame waits. Buffers added without a kick while a frame waits are found by
    that read and the frame is delivered."""
    tb = TB(dut, "no_buffer")
    ring = await tb.start()
    for _ in range(3):
        f = tb.rng.randbytes(tb.rng.randint(60, 1500))
        tb.judge.expect(f, "none")
        tb.wire.send(f)

    async def _drops():
        while tb.stats["stat_drop_nobuf"] < 3:
            await tb.cycles(16)
    await with_timeout(_drops(), 5 * (tb.rx_wait + 500) * CLK_NS / 1000, "us")
    avail_reads = [a for a in tb.dma.reads() if a.addr == ring.avail]
    if not avail_reads:
        tb.error("no avail.idx read while frames waited for a buffer")
    tb.judge.finish()
    # a frame waits; buffers are posted and published without a kick: the queue's own read finds them
    f = tb.rng.randbytes(500)
    tb.fill_ring(False)
    tb.send(f)
    for f in tb.frames_fitting(False, 60, 1500)[:10]:
        tb.send(f)
    await tb.wait_done()
    tb.judge.finish()
    if tb.stats["stat_notify"]:
        tb.error("notify pulses without a kick")
    tb.log.info("no buffer: %d drops, %d avail.idx reads; %d frames delivered after buffers came unkicked",
                tb.stats["stat_drop_nobuf"], len(avail_reads), len(tb.judge.delivered))
    tb.check()


@cocotb.test()
async def test_drops(dut):
    """Among delivered frames: oversize, runt and bad (tuser) frames from the wire take no buffer; a frame
    longer than its chain returns the chain with used.len 0 and nothing written. Each counted by reason."""
    tb = TB(dut, "drops")
    await tb.start()
    plan = ["good", "long", "good", "runt", "bad", "good", "short", "good"]
    hdr = tb.judge.hdr_len
    for kind in plan:                    # the chains, in the order the frames will take them
        if kind in ("good", "short"):
            tb.post([hdr, tb.max_frame] if kind == "good" else [hdr, 500])
    assert tb.ring is not None
    tb.ring.publish()
    await tb.kick()
    want = dict.fromkeys(("stat_frame", "stat_drop_oversize", "stat_drop_runt", "stat_drop_bad", "stat_drop_chain"), 0)
    for kind in plan:
        if kind == "good":
            tb.send(tb.rng.randbytes(tb.rng.randint(60, 1000)))
            want["stat_frame"] += 1
        elif kind == "short":
            # one byte more than the chain holds
            f = tb.rng.randbytes(tb.posted[0].capacity - hdr + 1)
            assert tb.send(f) == "drop"
            want["stat_drop_chain"] += 1
        else:
            n = {"long": tb.max_frame + 1, "runt": 13, "bad": 200}[kind]
            f = tb.rng.randbytes(n)
            tb.judge.expect(f, "none")
            tb.wire.send(f, bad=kind == "bad")
            want[{"long": "stat_drop_oversize", "runt": "stat_drop_runt", "bad": "stat_drop_bad"}[kind]] += 1
    await tb.wait_done()
    tb.judge.finish()
    for n, v in want.items():
        if tb.stats[n] != v:
            tb.error(f"{n}: {tb.stats[n]} pulses, expected {v}")
    tb.check()


@cocotb.test()
async def test_read_buffer(dut):
    """A chain with a device-readable buffer on the RX queue: error 7, nothing written to that chain, no DMA
    after the queue stopped, frames from the wire dropped while stopped; after dev_reset and a new ring,
    frames are delivered again."""
    tb = TB(dut, "read_buffer")
    ring = await tb.start(indirect=False)
    good = [tb.post([tb.judge.hdr_len, tb.max_frame]) for _ in range(2)]
    ring.publish()
    await tb.kick()
    for _ in range(2):
        tb.send(tb.rng.randbytes(300))
    await tb.wait_done()
    tb.judge.finish()
    # the walk checks chains ahead of the frames: post the bad one once the good ones are used
    bad = ring.add_rx([tb.judge.hdr_len, tb.max_frame], readable=1)
    assert bad is not None
    ring.publish()
    await tb.kick()
    f = tb.rng.randbytes(300)
    tb.judge.expect(f, "none")
    tb.wire.send(f)

    async def _err():
        while not tb.errs:
            await tb.cycles(4)
    await with_timeout(_err(), TIMEOUT_US, "us")
    stop = cycle_now()
    await tb.cycles(tb.rx_wait + 200)
    if tb.errs != [7]:
        tb.error(f"error causes {tb.errs}, expected [7]")
    for a, n in bad.buffers:
        for acc in tb.dma.writes():
            if acc.overlaps(a, n):
                tb.error(f"write into the chain with a device-readable buffer: {acc.addr:#x}+{acc.length}")
    late = [a for a in tb.dma.accesses if a.cycle > stop + 2]
    if late:
        tb.error(f"DMA after the queue stopped: {late[0].kind} {late[0].addr:#x}")
    if not high(dut.idle):
        tb.error("not idle while stopped")
    # reset, a new ring, frames again
    tb.judge.outcomes.clear()
    dut.dev_reset.value = 1
    await FallingEdge(dut.clk)
    dut.dev_reset.value = 0
    dut.queue_enable.value = 0
    await tb.cycles(50)
    await tb.start()
    tb.fill_ring(False)
    await tb.kick()
    for f in tb.frames_fitting(False, 60, 1500)[:12]:
        tb.send(f)
    await tb.wait_done()
    tb.judge.finish()
    tb.log.info("%d chains good before the bad one; %d frames after the reset", len(good), len(tb.judge.delivered) - 2)
    tb.check()


@cocotb.test()
async def test_reset_mid_frame(dut):
    """dev_reset while frames are being written (a slow write engine): no DMA issued after the reset (a
    descriptor already offered inside the queue is taken as offered: at most one per DMA client), used.idx
    does not move for the cut frames, idle rises; then a new ring and frames are delivered."""
    tb = TB(dut, "reset_mid_frame")
    ring = await tb.start(indirect=False)
    tb.dma.wr_latency = (40, 80)
    tb.dma.wr_ready_prob = 0.2
    tb.fill_ring(False, indirect_prob=0.0)
    await tb.kick()
    for f in tb.frames_fitting(False, 800, 1500)[:8]:
        tb.send(f)

    async def _writing():
        while tb.judge.writes < 4:
            await tb.cycles(4)
    await with_timeout(_writing(), TIMEOUT_US, "us")
    used_before = ring.used_idx()
    offered = high(dut.m_axis_write_desc_valid) + high(dut.m_axis_read_desc_valid)
    dut.dev_reset.value = 1
    stop = cycle_now()
    await FallingEdge(dut.clk)
    dut.dev_reset.value = 0
    dut.queue_enable.value = 0
    tb.dma.wr_ready_prob = 1.0
    for _ in range(3000):
        await FallingEdge(dut.clk)
        if high(dut.idle):
            break
    else:
        tb.error("not idle 3000 cycles after the reset")
    # "a descriptor already offered is taken as offered": inside the queue a dma_mux serves four clients, and
    # each may hold one descriptor offered before the reset and accepted after it: writes from the mover and
    # the used writer, reads from the avail block and the walk. Nothing more, and used.idx moves only by
    # such a write (the write of a push that was on its way: it covers frames whose data writes were issued)
    late = [a for a in tb.dma.accesses if a.cycle > stop + 1]
    late_wr = [a for a in late if a.kind == "wr"]
    late_rd = [a for a in late if a.kind != "wr"]
    if len(late_wr) > 2 or len(late_rd) > 2:
        tb.error(f"DMA issued after the reset: {[(a.kind, hex(a.addr)) for a in late]}")
    if ring.used_idx() != used_before and not any(a.addr == ring.used + 2 for a in late_wr):
        tb.error(f"used.idx moved from {used_before} to {ring.used_idx()} after the reset")
    tb.log.info("reset after %d writes: used.idx %d, %d DMA accepted after the reset (%d offered then)",
                tb.judge.writes, used_before, len(late), offered)
    while tb.wire.busy:
        await tb.cycles(16)
    tb.judge.outcomes.clear()
    tb.judge.group.clear()
    tb.dma.wr_latency = (1, 6)
    await tb.start()
    tb.fill_ring(False)
    await tb.kick()
    for f in tb.frames_fitting(False, 60, 1500)[:12]:
        tb.send(f)
    await tb.wait_done()
    tb.judge.finish()
    tb.check()



DROPS = ("stat_drop_nobuf", "stat_drop_chain", "stat_drop_oversize", "stat_drop_runt", "stat_drop_bad",
         "stat_drop_overrun", "stat_drop_stopped")


@cocotb.test()
async def test_reset_before_publish(dut):
    """dev_reset while frames wait in the used writer: their data is written and their completions handed
    over, but the used writer waits for the first push's decision read (slow DMA reads) and publishes nothing
    from the reset on. Those frames are lost with the ring, and each frame is counted once: stat_frame for
    the frames used.idx published, a drop (stopped) for every other. Then a new ring delivers again."""
    tb = TB(dut, "reset_before_publish")
    ring = await tb.start(indirect=False)
    tb.fill_ring(False, indirect_prob=0.0)
    await tb.kick()
    await tb.cycles(300)                  # chains fetched ahead while the reads are quick
    tb.dma.rd_latency = (600, 600)        # the decision read after the first push
    sent = tb.frames_fitting(False, 60, 120)[:3]
    for f in sent:
        tb.send(f)

    async def _first_published():
        while ring.used_idx() < 1 or tb.wire.busy:
            await tb.cycles(4)
    await with_timeout(_first_published(), TIMEOUT_US, "us")
    await tb.cycles(150)                  # the other frames written and handed to the used writer
    dut.dev_reset.value = 1
    await FallingEdge(dut.clk)
    dut.dev_reset.value = 0
    dut.queue_enable.value = 0
    for _ in range(3000):
        await FallingEdge(dut.clk)
        if high(dut.idle):
            break
    else:
        tb.error("not idle 3000 cycles after the reset")
    await tb.cycles(2 * len(sent) + 8)    # the counts of the frames lost
    published = ring.used_idx()
    drops = sum(tb.stats[n] for n in DROPS)
    tb.log.info("reset with %d of %d frames published: %d frame counts, %d stopped", published, len(sent),
                tb.stats["stat_frame"], tb.stats["stat_drop_stopped"])
    if published >= len(sent):
        tb.error(f"all {len(sent)} frames were published before the reset: the test did not reach its case")
    if tb.stats["stat_frame"] != published or tb.stats["stat_frame"] + drops != len(sent):
        tb.error(f"{len(sent)} frames, {published} published: counted {tb.stats['stat_frame']} frames and "
                 f"{drops} drops ({tb.stats['stat_drop_stopped']} stopped)")
    # a new ring: frames delivered and counted again
    tb.judge.outcomes.clear()
    tb.judge.group.clear()
    tb.dma.rd_latency = (2, 12)
    before = tb.stats["stat_frame"]
    await tb.start()
    tb.fill_ring(False)
    await tb.kick()
    more = tb.frames_fitting(False, 60, 1500)[:6]
    for f in more:
        tb.send(f)
    await tb.wait_done()
    tb.judge.finish()
    if tb.stats["stat_frame"] - before != len(more):
        tb.error(f"{tb.stats['stat_frame'] - before} frames counted after the restart, {len(more)} delivered")
    tb.check()

@cocotb.test()
@cocotb.parametrize(size=[cocotb.Param(60, "60"), cocotb.Param(1514, "1514")])
async def test_full_rate(dut, size):
    """Back-to-back frames at full wire rate, the ring kept full (refilled and kicked as used elements come
    back), batched pushes: every frame delivered. Prints the wire occupancy."""
    tb = TB(dut, f"full_rate_{size}")
    await tb.start(mrg=False, batched=True, batch=16)
    tb.dma.rd_latency = (20, 40)
    tb.dma.wr_latency = (4, 8)
    n = 600 if size == 60 else 150
    lens = [tb.judge.hdr_len + tb.max_frame]
    assert tb.ring is not None
    sent = 0
    while sent < n:
        if tb.ring.num_free() >= 8:
            while tb.ring.num_free():
                tb.post(lens)
            tb.ring.publish()
            await tb.kick()
        while tb.posted and sent < n:
            tb.send(tb.rng.randbytes(size))
            sent += 1
        await tb.cycles(16)
    await tb.wait_done(3000)
    tb.judge.finish()
    span = tb.wire.last - tb.wire.first + 1
    occ = tb.wire.beats / span
    tb.log.info("queue at full rate, %d B frames: %d frames, %d beats in %d cycles: wire occupancy %.1f %%, "
                "longest stall %d cycles, drops %s", size, n, tb.wire.beats, span, 100 * occ, tb.wire.max_stall,
                {k: v for k, v in tb.stats.items() if k.startswith("stat_drop") and v})
    if len(tb.judge.delivered) != n:
        tb.error(f"{len(tb.judge.delivered)} of {n} frames delivered")
    tb.check()


@cocotb.test()
async def test_no_interrupt(dut):
    """avail.flags NO_INTERRUPT set: no interrupt (each decision counted as suppressed); cleared again: an
    interrupt per push."""
    tb = TB(dut, "no_interrupt")
    ring = await tb.start()
    ring.avail_flags = VRING_AVAIL_F_NO_INTERRUPT
    tb.fill_ring(False)
    await tb.kick()
    frames = tb.frames_fitting(False, 60, 600)[:6]
    for f in frames:
        tb.send(f)
    await tb.wait_done()
    if tb.irqs or tb.stats["stat_irq_suppressed"] != len(frames):
        tb.error(f"NO_INTERRUPT set: {len(tb.irqs)} interrupts, {tb.stats['stat_irq_suppressed']} suppressed "
                 f"for {len(frames)} frames")
    ring.avail_flags = 0
    for f in tb.frames_fitting(False, 60, 600)[:6]:
        tb.send(f)
    await tb.wait_done()
    if len(tb.irqs) != 6:
        tb.error(f"NO_INTERRUPT clear: {len(tb.irqs)} interrupts for 6 frames")
    tb.judge.finish()
    tb.check()


def need_event(event: int, new: int, old: int) -> bool:
    """vring_need_event (Linux include/uapi/linux/virtio_ring.h)."""
    return (new - event - 1) & 0xFFFF < (new - old) & 0xFFFF


@cocotb.test()
@cocotb.parametrize(push=named("per_packet", "batched"))
async def test_event_idx(dut, push):
    """EVENT_IDX on the RX queue: the driver leaves used_event where NAPI would (its next buffer, or a few
    ahead) before each round of frames and refills its ring kicking only when avail.idx crosses avail_event.
    One used_event read behind each used.idx write, an interrupt exactly for the pushes that crossed
    used_event (NO_INTERRUPT set and ignored), every frame delivered; refills that needed no kick are used."""
    tb = TB(dut, f"event_idx_{push}")
    ring = await tb.start(batched=push == "batched", event_idx=True)
    ring.avail_flags = VRING_AVAIL_F_NO_INTERRUPT
    ue_addr, ae_addr = ring.avail + 4 + 2 * ring.qsize, ring.used + 4 + 8 * ring.qsize
    kicks = saved = 0

    async def refill() -> None:
        nonlocal kicks, saved
        old = ring.avail_idx
        tb.fill_ring(False)
        if ring.avail_idx == old:
            return
        if need_event(ring.mem.read_u16(ae_addr), ring.avail_idx, old):
            kicks += 1
            await tb.kick()
        else:
            saved += 1

    await refill()
    for _ in range(10):
        ring.mem.write_u16(ue_addr, (ring.last_used + tb.rng.choice([0, 0, 1, 3, 6])) & 0xFFFF)
        for f in tb.frames_fitting(False, 60, 600)[:tb.rng.randint(2, 8)]:
            tb.send(f)
        await tb.wait_done()
        await refill()
    idx_writes = [a for a in tb.dma.writes() if a.addr == ring.used + 2]
    ev_reads = [a for a in tb.dma.reads() if a.addr == ue_addr]
    if len(ev_reads) != len(idx_writes) or not idx_writes:
        tb.error(f"{len(ev_reads)} used_event reads for {len(idx_writes)} used.idx writes")
    old = 0
    owed = 0
    for k, (w, r) in enumerate(zip(idx_writes, ev_reads)):
        new = int.from_bytes(w.data, "little")
        nxt = ev_reads[k + 1].done if k + 1 < len(ev_reads) else cycle_now() + 1
        if not w.done < r.cycle:
            tb.error(f"used_event read at cycle {r.cycle} before the used.idx write's status ({w.done})")
        want = need_event(int.from_bytes(r.data, "little"), new, old)
        owed += want
        got = [c for cyc, c in tb.irqs if r.done <= cyc < nxt]
        if got != ([0] if want else []):
            tb.error(f"push {old}->{new}, used_event {int.from_bytes(r.data, 'little')}: interrupts {got}")
        old = new
    if tb.stats["stat_irq_event"] != owed or owed + tb.stats["stat_irq_event_suppressed"] != len(idx_writes) \
            or not owed or owed == len(idx_writes):
        tb.error(f"{owed} interrupts owed of {len(idx_writes)} pushes, statistics {tb.stats}")
    if [a for a in tb.dma.writes() if a.addr == ring.used]:
        tb.error("used.flags written with EVENT_IDX")
    tb.log.info("%s: %d pushes, %d interrupts, %d refill kicks, %d refills without", push, len(idx_writes), owed,
                kicks, saved)
    tb.judge.finish()
    tb.check()


# ---- pytest entry -------------------------------------------------------------------------------

import pytest  # noqa: E402

from sim import suite  # noqa: E402

PARAMS = {"FAULT_ENABLE": 1, "QUEUE_SIZE": 64, "RX_WAIT": 1024, "RX_POLL": 256}
SOURCES = ("hdl/virtio/virtq_rx.v", "hdl/virtio/virtq_avail.v", "hdl/virtio/virtq_desc_walk.v",
           "hdl/virtio/virtq_rx_mover.v", "hdl/virtio/virtq_used.v", "hdl/dma/dma_mux.v", "hdl/pcie/dma_ram.v")
# make test: the queue at 256 bits on Verilator; on Icarus at 64 bits one test per behaviour (all under REGRESS)
SUITE = suite.Suite("tests.sim.test_virtq_rx", "virtq_rx", icarus_variants=["w64"], verilator_variants=["w256"],
                    icarus=r"test_frames/mode=mrg$|test_reset_mid_frame$|test_no_buffer$|test_read_buffer$|test_drops$"
                           r"|test_no_interrupt$|test_event_idx/push=per_packet$",
                    variants={"w256": {"RAM_DATA_WIDTH": 256, **PARAMS}, "w64": {"RAM_DATA_WIDTH": 64, **PARAMS}},
                    sources=SOURCES)


@pytest.mark.sim
@pytest.mark.parametrize("case", SUITE.cases(globals()), ids=str)
def test_virtq_rx(case, sim_run):
    sim_run(case)
