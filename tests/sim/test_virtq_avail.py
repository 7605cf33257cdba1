"""Block test of virtq_avail: avail.idx reads, avail.ring entries into the head FIFO, kicks, kick
suppression and pacing.

Around the block: host memory with a ``vring_builder`` ring (the driver), the DMA engines (``dma_model``), a
consumer of heads (the descriptor walk) with random back-pressure, and a model of the used writer: it takes
the heads it is handed as completed after a while and pushes them like virtq_used does (used_idx_req, the
used.idx write only while no avail.idx read is in flight, dec_req once the write is out, the answer of the
decision read), per packet or in batches.

The shared checker ``device_reads_published`` judges every ring read (never past the avail.idx the block had
read) and the used-flags writes land where ``dma_write_target`` allows; irq_legality and the wire scoreboard
do not apply here (the interrupt is the used writer's, the wire the mover's). This module checks the block's own
contract: heads in ring order with their avail index, ring reads of at most MAX_BATCH entries that never
cross the ring's end, no avail.idx read but the decision read while used_idx_req is high, the decision
read is the first avail.idx read after the request, the avail.idx check (error 1), kicks remembered and
forgotten as hdl/virtio/README.md says, kick suppression with its barrier and recheck, the pacing timer,
and READ_PAST_AVAIL (test only).
"""

from __future__ import annotations

import logging
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, Timer, with_timeout

from tb.simulation.seed import seed_for
from tests.sim.dma_model import CLK_NS, DmaModel, ObservedMemory, attach_checkers, cycle_now, describe_queue, high
from tests.sim.dma_model import device_reset
from tests.sim.vring_builder import VRING_USED_F_NO_NOTIFY, HostMemory, SplitRing

VIRTIO_RING_F_EVENT_IDX = 29

HOST_BASE = 0x1000_0000
HOST_SIZE = 1 << 20
TIMEOUT_US = 200


def need_event(event: int, new: int, old: int) -> bool:
    """vring_need_event (Linux include/uapi/linux/virtio_ring.h, virtio 1.x 2.7.10)."""
    return (new - event - 1) & 0xFFFF < (new - old) & 0xFFFF


class TB:
    def __init__(self, dut, name: str):
        self.dut = dut
        self.log = logging.getLogger(f"cocotb.tb.{name}")
        self.seed = seed_for(name, self.log)
        self.rng = random.Random(self.seed)
        self.errors: list[str] = []
        self.qsize = int(dut.QUEUE_SIZE.value)
        self.max_batch = int(dut.MAX_BATCH.value)
        self.fifo = int(dut.HEAD_FIFO.value)
        self.mem = ObservedMemory(HOST_BASE, HOST_SIZE)
        for name in ("avail_base", "queue_size", "used_base", "kick_suppress", "pacing_timer", "pacing_interval",
                     "fault_read_past_avail", "run", "clear", "notify", "notify_forget", "m_axis_head_ready",
                     "used_idx", "used_busy", "used_idx_req", "dec_req", "feat_event_idx", "fault_avail_event_stale"):
            getattr(dut, name).value = 0
        dut.rst.value = 1
        Clock(dut.clk, CLK_NS, unit="ns", impl="gpi").start()   # the C++ clock
        self.dma = DmaModel(dut, self.mem, self.rng, int(dut.RAM_DATA_WIDTH.value) // 8, self.log)
        self.hub = attach_checkers(self.dma, self.mem, waive={
            "irq_legality": "the interrupt decision is the used writer's (a test model here, test_virtq_used.py)",
            "event_idx_irq": "the interrupt decision is the used writer's (a test model here); the used_event "
                             "reads it asks this block for are judged by this test (one per decision, after its "
                             "request, answered with the bytes read)",
            "wire_scoreboard": "no wire at this block"})
        self.hub.on_failure(lambda err: self.error(str(err)))
        self.ring = SplitRing(self.mem, HOST_BASE, self.qsize, 10, HOST_BASE + 0x10000, HOST_BASE + 0x90000, self.rng)
        describe_queue(self.hub, HOST_BASE, self.qsize, 0, 0, dut=self.dut)
        self.dma.read_hooks.append(self._on_read)
        self.dma.read_done_hooks.append(self._on_read_done)
        self.heads: list[tuple[int, int]] = []      # (id, avail index) as handed out
        self.ready_prob = 1.0
        self.used = 0                               # used index the used-writer model has published
        self.push_batch = 1
        self.complete_after = (5, 40)
        self.dec_pending = False
        self.dec_answers: list[tuple[int, int]] = []
        self.ring_reads: list[tuple[int, int]] = []   # (slot, entries)
        self.idx_reads = 0
        self.errs: list[int] = []
        # EVENT_IDX: the driver's kick rule, the used_event reads, the avail_event invariant while idle
        self.event_idx = False
        self.kicks = 0
        self.kicks_saved = 0            # publishes that needed no kick (avail_event not crossed)
        self.ev_reads: list = []
        self.idle_checks = 0
        self.idle_bad: list[tuple[int, int, int]] = []  # (cycle, avail_event, next index) while idle

    def _is_used_event_read(self, acc) -> bool:
        return acc.addr == self.ring.avail + 4 + 2 * self.qsize      # used_event

    @property
    def ae_addr(self) -> int:
        return self.ring.used + 4 + 8 * self.qsize

    def avail_event(self) -> int:
        return self.mem.read_u16(self.ae_addr)

    def error(self, msg: str) -> None:
        self.log.error(msg)
        self.errors.append(msg)

    def check(self) -> None:
        errors = self.errors + self.dma.errors
        assert not errors, f"seed {self.seed}: {errors[:5]}"

    async def reset(self, kick_suppress: bool = False, pacing: bool = False, interval: int = 0,
                    event_idx: bool = False) -> None:
        dut = self.dut
        await FallingEdge(dut.clk)
        dut.rst.value = 1
        for _ in range(3):
            await FallingEdge(dut.clk)
        dut.rst.value = 0
        dut.avail_base.value = self.ring.avail
        dut.used_base.value = self.ring.used
        dut.queue_size.value = self.ring.qsize
        dut.kick_suppress.value = int(kick_suppress)
        dut.pacing_timer.value = int(pacing)
        dut.pacing_interval.value = interval
        dut.feat_event_idx.value = int(event_idx)
        self.event_idx = event_idx
        if event_idx:
            describe_queue(self.hub, HOST_BASE, self.qsize, 1 << VIRTIO_RING_F_EVENT_IDX, 0, dut=self.dut)
        dut.run.value = 1
        cocotb.start_soon(self._idle_monitor())
        cocotb.start_soon(self._consumer())
        cocotb.start_soon(self._used_writer())
        cocotb.start_soon(self._err_monitor())

    # ---- the DMA: what was read, and the interlock ------------------------------------------------------
    def _on_read(self, acc) -> None:
        ring = self.ring
        if self._is_used_event_read(acc):
            self.ev_reads.append(acc)
            if not self.event_idx or not self.dec_pending or acc.length != 2:
                self.error(f"used_event read at cycle {acc.cycle} ({acc.length} bytes) outside an EVENT_IDX decision")
        elif acc.addr == ring.avail:
            self.idx_reads += 1
            if high(self.dut.used_idx_req) and not self.dec_pending:
                self.error(f"avail.idx read at cycle {acc.cycle} while used_idx_req is high (not the decision read)")
        elif ring.avail + 4 <= acc.addr < ring.avail + 4 + 2 * ring.qsize:
            slot, n = (acc.addr - ring.avail - 4) // 2, acc.length // 2
            self.ring_reads.append((slot, n))
            extra = int(self.dut.fault_read_past_avail.value)
            if n > self.max_batch + extra or slot + n > ring.qsize:
                self.error(f"ring read of {n} entries from slot {slot}")

    def _on_read_done(self, acc) -> None:
        ring = self.ring
        if acc.addr == ring.avail:
            self.seen = int.from_bytes(acc.data[2:4], "little")
            if self.dec_pending:
                self.dec_answers.append((acc.cycle, self.seen))
        elif ring.avail + 4 <= acc.addr < ring.avail + 4 + 2 * ring.qsize:
            # entries past the avail.idx the block had read: (seen - slot) mod Q of them were published
            slot, n = (acc.addr - ring.avail - 4) // 2, acc.length // 2
            allowed = (self.seen - slot - 1) % ring.qsize + 1
            self.past_avail += n > allowed

    seen = 0
    past_avail = 0

    # ---- the walk: take heads ---------------------------------------------------------------------------
    async def _consumer(self) -> None:
        dut = self.dut
        while True:
            await FallingEdge(dut.clk)
            dut.m_axis_head_ready.value = int(self.rng.random() < self.ready_prob)
            await ReadOnly()
            if high(dut.m_axis_head_valid) and high(dut.m_axis_head_ready):
                self.heads.append((int(dut.m_axis_head_id.value), int(dut.m_axis_head_index.value)))

    # ---- the used writer --------------------------------------------------------------------------------
    async def _used_writer(self) -> None:
        """Completes handed-out heads after a while, pushes them like virtq_used (interlock, decision read)."""
        dut = self.dut
        while True:
            await FallingEdge(dut.clk)
            pending = len(self.heads) - self.used
            dut.used_busy.value = int(pending > 0 or self.dec_pending)
            if pending <= 0:
                continue
            for _ in range(self.rng.randint(*self.complete_after)):
                await FallingEdge(dut.clk)
            n = min(len(self.heads) - self.used, self.push_batch)
            dut.used_idx_req.value = 1
            await FallingEdge(dut.clk)
            while high(dut.avail_rd_busy):
                await FallingEdge(dut.clk)
            # the used elements and used.idx: the device's writes, their statuses seen
            for k in range(n):
                pos = self.used + k
                self.device_write(self.ring.used + 4 + 8 * (pos % self.qsize),
                                  self.heads[pos][0].to_bytes(4, "little") + bytes(4))
            self.used = (self.used + n) & 0xFFFF
            self.device_write(self.ring.used + 2, self.used.to_bytes(2, "little"))
            dut.used_idx.value = self.used
            await FallingEdge(dut.clk)
            if self.event_idx:
                # the driver's used_event, as it may stand when the device reads it
                self.ring.mem.write_u16(self.ring.avail + 4 + 2 * self.qsize, self.rng.randrange(0x10000))
            self.dec_pending = True
            n_ans, n_ev = len(self.dec_answers), len(self.ev_reads)
            req = cycle_now()
            dut.dec_req.value = 1
            await FallingEdge(dut.clk)
            dut.dec_req.value = 0

            async def answer():
                while True:
                    await RisingEdge(dut.clk)
                    await ReadOnly()
                    if high(dut.avail_rsp_valid):
                        return (high(dut.avail_rsp_dec), int(dut.avail_rsp_idx.value),
                                int(dut.avail_rsp_event.value))
                    if self.errs:
                        return None  # the block stopped on an error: no answer comes (test_dma_errors)
            got = await with_timeout(answer(), TIMEOUT_US, "us")
            if got is None:
                self.dec_pending = False
                await FallingEdge(dut.clk)
                dut.used_idx_req.value = 0
                return
            dec, idx, event = got
            if not dec or len(self.dec_answers) != n_ans + 1 or self.dec_answers[-1][1] != idx:
                self.error(f"decision answer dec={dec} idx={idx}: not the first avail.idx read after the request "
                           f"({self.dec_answers[n_ans:]})")
            ev = self.ev_reads[n_ev:]
            if self.event_idx and (len(ev) != 1 or ev[0].cycle <= req or ev[0].done < 0
                                   or int.from_bytes(ev[0].data, "little") != event):
                self.error(f"EVENT_IDX decision requested at cycle {req}: used_event reads "
                           f"{[(a.cycle, a.data.hex(), a.done) for a in ev]}, answered with {event:#06x}")
            if not self.event_idx and ev:
                self.error(f"used_event read without EVENT_IDX at cycle {ev[0].cycle}")
            self.dec_pending = False
            await FallingEdge(dut.clk)
            dut.used_idx_req.value = 0

    def device_write(self, addr: int, data: bytes) -> None:
        HostMemory.write(self.mem, addr, data)
        self.hub.dev_write(addr, data, "used writer (test model)")

    async def _idle_monitor(self) -> None:
        """EVENT_IDX: whenever the block waits for a kick, avail_event in host memory is the next avail
        index it will read (every head fetched has been handed out then: the count of heads)."""
        dut = self.dut
        while True:
            await FallingEdge(dut.clk)
            if self.event_idx and not high(dut.active) and high(dut.run):
                self.idle_checks += 1
                ae, nxt = self.avail_event(), len(self.heads) & 0xFFFF
                if ae != nxt:
                    self.idle_bad.append((cycle_now(), ae, nxt))

    async def _err_monitor(self) -> None:
        while True:
            await RisingEdge(self.dut.err_valid)
            await ReadOnly()
            self.errs.append(int(self.dut.err_cause.value))

    # ---- the driver -------------------------------------------------------------------------------------
    def publish(self, n: int) -> list:
        chains = [self.ring.add_packet(self.rng.randbytes(60), 1, indirect=True) for _ in range(n)]
        self.ring.publish()
        return chains

    async def kick(self) -> None:
        await FallingEdge(self.dut.clk)
        self.dut.notify.value = 1
        await FallingEdge(self.dut.clk)
        self.dut.notify.value = 0

    async def publish_kick(self, n: int) -> list:
        """The driver with EVENT_IDX (virtqueue_kick_prepare): publish, then kick only if avail.idx moved
        across avail_event."""
        old = self.ring.avail_idx
        chains = self.publish(n)
        if need_event(self.avail_event(), self.ring.avail_idx, old):
            self.kicks += 1
            await self.kick()
        else:
            self.kicks_saved += 1
        return chains

    def reclaim(self) -> None:
        """The driver frees what the used-writer model published (the used ring holds the heads)."""
        for expected, uid, _ in self.ring.reclaim():
            if expected is None or uid != expected.head:
                self.error(f"used element {uid}, expected {None if expected is None else expected.head}")

    async def wait_heads(self, n: int, timeout_us: float = TIMEOUT_US) -> None:
        async def _wait():
            while len(self.heads) < n:
                await FallingEdge(self.dut.clk)
        await with_timeout(_wait(), timeout_us, "us")

    async def wait_quiet(self, timeout_us: float = TIMEOUT_US) -> None:
        async def _wait():
            while True:
                await FallingEdge(self.dut.clk)
                if (self.used == len(self.heads) and not high(self.dut.active) and high(self.dut.idle)
                        and not self.dec_pending):
                    return
        await with_timeout(_wait(), timeout_us, "us")

    def check_heads(self, chains) -> None:
        got = [h for h, _ in self.heads]
        want = [c.head for c in chains]
        if got != want:
            self.error(f"heads {got[:12]}..., expected {want[:12]}...")
        if [i for _, i in self.heads] != list(range(len(self.heads))):
            self.error("avail indices of the heads are not 0, 1, 2, ...")


async def setup(dut, name: str, **kw) -> TB:
    tb = TB(dut, name)
    await tb.reset(**kw)
    return tb


def named(*values: str) -> list:
    return [cocotb.Param(v, v) for v in values]


@cocotb.test()
@cocotb.parametrize(push=named("per_packet", "batched"))
async def test_heads(dut, push):
    """Bursts of entries, a kick each: every head in ring order with its avail index, through many wraps of
    the ring and the FIFO; the consumer back-pressures at random; the used-writer model pushes per packet or
    in batches of 8; decision reads answered by the first avail.idx read after each request."""
    tb = await setup(dut, f"heads_{push}")
    tb.ready_prob = 0.5
    tb.push_batch = 1 if push == "per_packet" else 8
    chains = []
    n = 3 * tb.qsize
    while len(chains) < n:
        m = min(tb.rng.randint(1, 3 * tb.max_batch), n - len(chains), tb.qsize - tb.ring.pending())
        if m > 0:
            chains += tb.publish(m)
            await tb.kick()
        await Timer(tb.rng.randint(10, 400) * CLK_NS, "ns")
        tb.reclaim()
    await tb.wait_heads(n)
    await tb.wait_quiet()
    tb.reclaim()
    tb.check_heads(chains)
    reads = len(tb.ring_reads)
    tb.log.info("%d heads: %d ring reads, %d avail.idx reads", n, reads, tb.idx_reads)
    if reads > n // 4:
        tb.error(f"{reads} ring reads for {n} heads: not batched")
    tb.check()


@cocotb.test()
async def test_fifo_full(dut):
    """The walk stops taking heads: the FIFO fills (HEAD_FIFO entries fetched, no more ring reads), and once
    heads flow again every entry comes out in order; a ring read waits until the FIFO has room for it."""
    tb = await setup(dut, "fifo_full")
    tb.ready_prob = 0.0
    chains = tb.publish(min(tb.qsize - 1, tb.fifo + 2 * tb.max_batch))
    await tb.kick()
    await Timer(400 * CLK_NS, "ns")
    fetched = sum(n for _, n in tb.ring_reads)
    if fetched != tb.fifo:
        tb.error(f"{fetched} entries fetched with the walk stopped, the FIFO holds {tb.fifo}")
    tb.ready_prob = 1.0
    await tb.wait_heads(len(chains))
    await tb.wait_quiet()
    tb.check_heads(chains)
    small = [n for _, n in tb.ring_reads if n < min(tb.max_batch, 8)]
    if len(small) > 2:
        tb.error(f"ring reads of {small} entries: a read waits for room for a batch")
    tb.check()


@cocotb.test()
@cocotb.parametrize(case=named("jump", "backwards"))
async def test_avail_idx_error(dut, case):
    """avail.idx more than QUEUE_SIZE entries past what was returned, or behind what was already fetched:
    error 1 on the read that sees it, no ring read for it."""
    tb = await setup(dut, f"avail_idx_{case}")
    chains = tb.publish(5)
    await tb.kick()
    await tb.wait_heads(5)
    await tb.wait_quiet()
    tb.check_heads(chains)
    reads0 = len(tb.ring_reads)
    tb.reclaim()
    if case == "jump":
        tb.ring.jump_avail_idx(tb.qsize + 1)
    else:
        tb.ring.mem.write_u16(tb.ring.avail + 2, 3)
    await tb.kick()
    await Timer(200 * CLK_NS, "ns")
    if tb.errs != [1]:
        tb.error(f"error causes {tb.errs}, expected [1]")
    if len(tb.ring_reads) != reads0:
        tb.error("ring entries read after a bad avail.idx")
    tb.check()


@cocotb.test()
@cocotb.parametrize(case=named("used_flags_write", "used_event_read"))
async def test_dma_errors(dut, case):
    """A DMA error status on the block's own write (used.flags, kick suppression: error 10) and on its used_event
    read (EVENT_IDX's interrupt decision: error 9) is reported with that cause (the queue above stops the block:
    virtq_tx's queue control; here each failing access reports)."""
    if case == "used_flags_write":
        tb = await setup(dut, "dma_error_write", kick_suppress=True)
        tb.dma.wr_fail = lambda addr, length: addr == tb.ring.used
        want = 10
        await tb.kick()
    else:
        tb = await setup(dut, "dma_error_event", event_idx=True)
        used_event = tb.ring.avail + 4 + 2 * tb.qsize
        tb.dma.rd_fail = lambda addr, length: addr == used_event
        want = 9
        tb.publish(1)
        await tb.kick()
    await Timer(300 * CLK_NS, "ns")
    if not tb.errs or set(tb.errs) != {want}:
        tb.error(f"error causes {tb.errs}, expected {want}")
    tb.check()


@cocotb.test()
async def test_kicks(dut):
    """A kick while idle starts a read; a kick with run low (a reset's drain) is remembered and served once
    run is high again, also across clear (the new ring's entries are fetched from index 0); notify_forget
    (a reset starts) drops a remembered kick."""
    tb = await setup(dut, "kicks")
    chains = tb.publish(3)
    await tb.kick()
    await tb.wait_heads(3)
    await tb.wait_quiet()
    tb.check_heads(chains)
    # a reset: run low, the kick written before it forgotten, a new ring, a kick while the drain is not over
    await FallingEdge(dut.clk)
    dut.run.value = 0
    await tb.kick()
    await FallingEdge(dut.clk)
    dut.notify_forget.value = 1
    await FallingEdge(dut.clk)
    dut.notify_forget.value = 0
    device_reset(tb.hub)
    tb.ring = SplitRing(tb.mem, HOST_BASE + 0x8000, tb.qsize, 10, HOST_BASE + 0x10000, HOST_BASE + 0x90000, tb.rng)
    describe_queue(tb.hub, tb.ring.base, tb.qsize, 0, 0, dut=tb.dut)
    dut.avail_base.value = tb.ring.avail
    dut.used_base.value = tb.ring.used
    dut.queue_size.value = tb.ring.qsize
    new = tb.publish(2)
    reads0 = tb.idx_reads
    await Timer(50 * CLK_NS, "ns")
    if tb.idx_reads != reads0:
        tb.error("avail.idx read with run low")
    await tb.kick()
    await FallingEdge(dut.clk)
    dut.clear.value = 1
    await FallingEdge(dut.clk)
    dut.clear.value = 0
    tb.heads, tb.used = [], 0
    dut.used_idx.value = 0
    await FallingEdge(dut.clk)
    dut.run.value = 1
    await tb.wait_heads(2)
    await tb.wait_quiet()
    tb.check_heads(new)
    # notify_forget with run low: nothing is served when run comes back
    await FallingEdge(dut.clk)
    dut.run.value = 0
    tb.publish(1)
    await tb.kick()
    await FallingEdge(dut.clk)
    dut.notify_forget.value = 1
    await FallingEdge(dut.clk)
    dut.notify_forget.value = 0
    dut.run.value = 1
    reads0 = tb.idx_reads
    await Timer(100 * CLK_NS, "ns")
    if tb.idx_reads != reads0:
        tb.error("a forgotten kick was served")
    tb.check()


@cocotb.test()
async def test_kick_suppress(dut):
    """kick_suppress: used.flags = NO_NOTIFY before the first read; when the queue is quiet, used.flags = 0,
    its status waited for (the barrier), then avail.idx read again; entries published in between are
    fetched without a kick, with NO_NOTIFY set again."""
    tb = await setup(dut, "kick_suppress", kick_suppress=True)
    injected = []

    def inject(acc) -> None:
        if acc.addr == tb.ring.used and acc.data == b"\x00\x00" and not injected:
            injected.extend(tb.publish(2))

    tb.dma.write_hooks.append(inject)
    chains = tb.publish(3)
    await tb.kick()
    await tb.wait_heads(5)
    await tb.wait_quiet()
    chains += injected
    tb.check_heads(chains)
    flags = [(a.cycle, a.data, a.done) for a in tb.dma.writes() if a.addr == tb.ring.used]
    if [int.from_bytes(d, "little") for _, d, _ in flags] != [1, 0, 1, 0]:
        tb.error(f"used.flags writes {flags}")
    for cyc, data, done in flags:
        if data == b"\x00\x00":
            reread = next((a for a in tb.dma.reads() if a.addr == tb.ring.avail and a.cycle > cyc), None)
            if reread is None or reread.cycle <= done:
                tb.error(f"the recheck read after the used.flags clear at {cyc} did not wait for its status ({done})")
    if tb.ring.used_flags() & VRING_USED_F_NO_NOTIFY:
        tb.error("NO_NOTIFY left set while quiet")
    tb.check()


@cocotb.test()
async def test_pacing(dut):
    """pacing_timer: a kick sets NO_NOTIFY and arms pacing_interval cycles; at expiry used.flags is cleared
    (barrier) and everything published is fetched; a kick while armed starts at once."""
    interval = 600
    tb = await setup(dut, "pacing", pacing=True, interval=interval)
    chains = tb.publish(2)
    await tb.kick()
    kick = cycle_now()
    await Timer(100 * CLK_NS, "ns")
    chains += tb.publish(3)
    await tb.wait_heads(5, timeout_us=20)
    first = next(a for a in tb.dma.reads() if a.addr == tb.ring.avail)
    if not interval <= first.cycle - kick <= interval + 30:
        tb.error(f"first avail.idx read {first.cycle - kick} cycles after the kick, interval {interval}")
    await tb.wait_quiet()
    tb.check_heads(chains)
    more = tb.publish(1)
    await tb.kick()
    await Timer(50 * CLK_NS, "ns")
    await tb.kick()
    start = cycle_now()
    await tb.wait_heads(6, timeout_us=20)
    if cycle_now() - start > 100:
        tb.error(f"a kick while armed took {cycle_now() - start} cycles")
    await tb.wait_quiet()
    tb.check_heads(chains + more)
    tb.check()


@cocotb.test()
async def test_fault_read_past_avail(dut):
    """READ_PAST_AVAIL (test only): ring reads take one entry more than published where MAX_BATCH, the ring's
    end and the FIFO leave room (device_reads_published reports each); the extra entry (poisoned) never
    comes out as a head. Knob off: the checker is quiet."""
    tb = await setup(dut, "read_past_avail")
    chains = []
    for on in (False, True, False):
        await FallingEdge(dut.clk)
        dut.fault_read_past_avail.value = int(on)
        if on:
            tb.hub.expect("device_reads_published")
        fired0, past0 = len(tb.hub.failed("device_reads_published")), tb.past_avail
        for _ in range(4):
            burst = tb.publish(tb.rng.randint(1, tb.max_batch - 2))
            tb.ring.mem.write_u16(tb.ring.avail + 4 + 2 * (tb.ring.avail_idx % tb.qsize), 0xFFFF)
            chains += burst
            await tb.kick()
            await tb.wait_heads(len(chains))
            await tb.wait_quiet()
            tb.reclaim()
        fired = len(tb.hub.failed("device_reads_published")) - fired0
        past = tb.past_avail - past0
        if fired != past or (on and past < 2):
            tb.error(f"knob {'on' if on else 'off'}: checker fired {fired} times, {past} reads past avail.idx")
    tb.check_heads(chains)
    if tb.errs:
        tb.error(f"errors {tb.errs}")
    tb.check()


# ---- EVENT_IDX ------------------------------------------------------------------------------------------

def barrier_violations(tb: TB) -> list[str]:
    """Each avail_event write is followed by an avail.idx read (the recheck) only after its status."""
    out = []
    for w in (a for a in tb.dma.writes() if a.addr == tb.ae_addr):
        reread = next((a for a in tb.dma.reads() if a.addr == tb.ring.avail and a.cycle > w.cycle), None)
        if reread is not None and reread.cycle <= w.done:
            out.append(f"avail_event write at {w.cycle} (status {w.done}): avail.idx read at {reread.cycle}")
    return out


@cocotb.test()
@cocotb.parametrize(mode=named("plain", "kick_suppress", "pacing"))
async def test_event_idx_kicks(dut, mode):
    """EVENT_IDX negotiated, the driver kicking only when avail.idx moves across avail_event (Linux's
    virtqueue_kick_prepare), bursts at random times: every head comes out in order (no kick is ever lost),
    used.flags is never written (kick_suppress has no effect), pacing still delays; whenever the block waits
    for a kick, avail_event is the next index it will read; each avail_event write is followed by the recheck
    only after its status (barrier); each decision carries one used_event read issued after its request;
    bursts published while the block runs need no kick."""
    tb = await setup(dut, f"event_idx_{mode}", event_idx=True, kick_suppress=mode == "kick_suppress",
                     pacing=mode == "pacing", interval=300)
    tb.ready_prob = 0.7
    tb.push_batch = 1 if mode == "plain" else 4
    tb.complete_after = (2, 12)
    chains = []
    n = 2 * tb.qsize
    while len(chains) < n:
        m = min(tb.rng.randint(1, 24), n - len(chains), tb.qsize - tb.ring.pending())
        if m > 0:
            chains += await tb.publish_kick(m)
        await Timer(tb.rng.choice([tb.rng.randint(5, 60), tb.rng.randint(600, 2500)]) * CLK_NS, "ns")
        tb.reclaim()
    await tb.wait_heads(n)
    await tb.wait_quiet()
    tb.reclaim()
    tb.check_heads(chains)
    flags = [a for a in tb.dma.writes() if a.addr == tb.ring.used]
    if flags:
        tb.error(f"{len(flags)} used.flags writes with EVENT_IDX (first at cycle {flags[0].cycle})")
    for v in barrier_violations(tb):
        tb.error(v)
    ae_writes = [a for a in tb.dma.writes() if a.addr == tb.ae_addr]
    if tb.idle_bad or not tb.idle_checks:
        tb.error(f"avail_event not the next index while idle: {tb.idle_bad[:4]} ({tb.idle_checks} idle cycles)")
    if tb.avail_event() != n & 0xFFFF:
        tb.error(f"avail_event {tb.avail_event()} when quiet after {n} heads")
    if not tb.kicks or not tb.kicks_saved or len(ae_writes) < 3:
        tb.error(f"{tb.kicks} kicks, {tb.kicks_saved} publishes without, {len(ae_writes)} avail_event writes: the "
                 "rule never suppressed, never asked, or the block seldom went idle")
    tb.log.info("%s: %d heads, %d kicks, %d publishes without a kick, %d avail_event writes, %d decisions",
                mode, n, tb.kicks, tb.kicks_saved, len(ae_writes), len(tb.ev_reads))
    tb.check()


@cocotb.test()
async def test_event_idx_recheck(dut):
    """The race the recheck closes: the driver publishes entries and reads avail_event just before the
    block's avail_event write lands (the old value asks for no kick), so no kick comes. The block's recheck
    read, after the write's status, finds the entries: they are fetched without a kick, and the block goes
    idle only with avail_event at the index after them."""
    tb = await setup(dut, "event_idx_recheck", event_idx=True)
    injected = []

    def inject(acc) -> None:
        if acc.addr == tb.ae_addr and not injected:
            injected.extend(tb.publish(2))      # decided on the avail_event before this write: no kick

    tb.dma.write_hooks.append(inject)
    chains = await tb.publish_kick(3)
    await tb.wait_heads(5)
    await tb.wait_quiet()
    tb.check_heads(chains + injected)
    writes = [(a.cycle, int.from_bytes(a.data, "little")) for a in tb.dma.writes() if a.addr == tb.ae_addr]
    if [v for _, v in writes] != [3, 5] or tb.kicks != 1:
        tb.error(f"avail_event writes {writes}, {tb.kicks} kicks: expected 3 then 5 after one kick")
    for v in barrier_violations(tb):
        tb.error(v)
    if tb.idle_bad:
        tb.error(f"avail_event not the next index while idle: {tb.idle_bad[:4]}")
    tb.check()


@cocotb.test()
async def test_fault_avail_event_stale(dut):
    """AVAIL_EVENT_STALE (test only), off, on, off: with the knob the block goes idle without writing
    avail_event; a driver following the EVENT_IDX kick rule then sees no reason to kick, and the entries it
    publishes are never fetched (the hang); the idle invariant reports it. Off again, a forced kick recovers
    and the invariant holds."""
    tb = await setup(dut, "avail_event_stale", event_idx=True)
    chains: list = []
    for on in (False, True, False):
        await FallingEdge(dut.clk)
        dut.fault_avail_event_stale.value = int(on)
        if not on and chains:
            await tb.kick()     # the driver's forced kick (e.g. a full ring), after the hang
            await tb.wait_heads(len(chains))
            await tb.wait_quiet()
        bad0 = len(tb.idle_bad)
        for _ in range(3):
            chains += await tb.publish_kick(tb.rng.randint(2, 6))
            fetched = len(tb.heads)
            try:
                await tb.wait_heads(len(chains), timeout_us=40)
                await tb.wait_quiet()
            except cocotb.triggers.SimTimeoutError:
                if not on:
                    tb.error(f"knob off: entries {fetched}..{len(chains) - 1} not fetched after 40 us")
                tb.log.info("knob on: entries %d..%d never fetched: the driver saw avail_event %d, no kick",
                            fetched, len(chains) - 1, tb.avail_event())
                break
            tb.reclaim()
        bad = len(tb.idle_bad) - bad0
        hung = len(tb.heads) < len(chains)
        if on and (not bad or not hung):
            tb.error(f"knob on: {bad} idle cycles with avail_event behind, hung={hung}")
        if not on and (bad or hung):
            tb.error(f"knob off: {bad} idle cycles with avail_event behind ({tb.idle_bad[bad0:bad0 + 3]}), hung={hung}")
    tb.check_heads(chains)
    tb.check()


# ---- pytest entry -------------------------------------------------------------------------------

import pytest  # noqa: E402

from sim import suite  # noqa: E402

# make test: the block at 256 bits on Verilator, at 64 on Icarus (every width on both under REGRESS)
SUITE = suite.Suite("tests.sim.test_virtq_avail", "virtq_avail", icarus_variants=["w64"],
                    verilator_variants=["w256"],
                    variants={f"w{w}": {"RAM_DATA_WIDTH": w, "FAULT_ENABLE": 1, "QUEUE_SIZE": 128}
                              for w in (256, 64)},
                    sources=("hdl/virtio/virtq_avail.v", "hdl/pcie/dma_ram.v"))


@pytest.mark.sim
@pytest.mark.parametrize("case", SUITE.cases(globals()), ids=str)
def test_virtq_avail(case, sim_run):
    sim_run(case)
