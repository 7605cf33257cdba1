"""Block test of virtq_used, the used writer (used elements, used.idx, the barrier, the interrupt decision).

The test plays the blocks around it: the queue's user (completions {id, len, fault_addr} in ring order, with
random gaps), the avail block (it answers each decision request with the {avail.flags, avail.idx} of host
memory after a random latency, holds ``avail_rd_busy`` for random stretches, and says which avail.idx the
device knows of), and the DMA engines (``dma_model``: writes from immediates or from the block's staging RAM
through its read port). The ring is a ``vring_builder`` ring whose chains the test completes in order.

The shared checkers judge the used ring (``used_ring``: elements before the used.idx that covers them, in
slot order, len 0 for a TX chain, used.idx never past avail.idx), where the device writes
(``dma_write_target``) and the interrupts (``irq_legality``, or with EVENT_IDX ``event_idx_irq``, fed with
each decision read as the avail block would have made it: {avail.flags, avail.idx}, and used_event). This module checks the block's own contract on top: one element per push in
per_packet, at most batch_size in batched, the batch cut when nothing more is known or after flush_cycles,
the used.idx write only while no avail.idx read is in flight and used_idx_req held from the push's start
to its decision, the decision request only after every write's status, the interrupt and statistics of each
decision, the staging back-pressure, errors and the stop.
"""

from __future__ import annotations

import logging
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import Event, FallingEdge, ReadOnly, RisingEdge, Timer, with_timeout

from tb.simulation.seed import seed_for
from tests.sim.dma_model import (CLK_NS, TX_VECTOR, DmaModel, ObservedMemory, attach_checkers, cycle_now,
                                 describe_queue, high)
from tests.sim.vring_builder import VRING_AVAIL_F_NO_INTERRUPT, SplitRing

HOST_BASE = 0x1000_0000
HOST_SIZE = 1 << 20
NOE_WHEN_ACKED, NOE_ALWAYS, NOE_NEVER = 0, 1, 2
VIRTIO_F_NOTIFY_ON_EMPTY = 24
VIRTIO_RING_F_EVENT_IDX = 29
FAULTS = ("ignore_no_interrupt", "drop_irq", "used_idx_first", "write_tx_buffer", "used_idx_ahead")
EVENT_FAULTS = ("event_idx_ignored", "event_idx_flags")     # EVENT_IDX's knobs (test_event_fault)
TIMEOUT_US = 200


class TB:
    def __init__(self, dut, name: str):
        self.dut = dut
        self.log = logging.getLogger(f"cocotb.tb.{name}")
        self.seed = seed_for(name, self.log)
        self.rng = random.Random(self.seed)
        self.errors: list[str] = []
        self.qsize = int(dut.QUEUE_SIZE.value)
        self.batch_max = int(dut.BATCH_MAX.value)
        self.mem = ObservedMemory(HOST_BASE, HOST_SIZE)
        for name in ("used_base", "queue_size", "feat_noe", "noe_policy", "push_batched", "batch_size", "flush_cycles", "run",
                     "clear", "s_axis_cpl_id", "s_axis_cpl_len", "s_axis_cpl_fault_addr", "s_axis_cpl_valid",
                     "avail_idx", "avail_rd_busy", "avail_rsp_valid", "avail_rsp_dec", "avail_rsp_flags",
                     "avail_rsp_idx", "avail_rsp_event", "feat_event_idx",
                     *(f"fault_{f}" for f in FAULTS + EVENT_FAULTS)):
            getattr(dut, name).value = 0
        dut.rst.value = 1
        Clock(dut.clk, CLK_NS, unit="ns", impl="gpi").start()   # the C++ clock
        self.dma = DmaModel(dut, self.mem, self.rng, int(dut.RAM_DATA_WIDTH.value) // 8, self.log)
        self.hub = attach_checkers(self.dma, self.mem)
        self.hub.on_failure(lambda err: self.error(str(err)))
        self.ring = SplitRing(self.mem, HOST_BASE, self.qsize, 10, HOST_BASE + 0x10000, HOST_BASE + 0x90000, self.rng)
        describe_queue(self.hub, HOST_BASE, self.qsize, 0, 0, dut=self.dut)
        self.dma.write_hooks.append(self._on_write)
        self.busy_prob = 0.0        # avail_rd_busy: the chance a stretch of busy cycles starts
        self.dec_latency = (2, 20)
        self.known = 0              # entries the avail block "knows of" (drives avail_idx)
        self.pushes: list[dict] = []
        self.irqs: list[tuple[int, int]] = []
        self.stats = {"irq_normal": 0, "irq_noe": 0, "irq_suppressed": 0}
        self.errs: list[tuple[int, int]] = []
        self.chains = []            # published, in ring order
        self.completed = 0          # completions handed to the block
        # EVENT_IDX: used_event as the driver left it for each decision (pick_event), the decisions as the
        # avail block answered them, the outcomes the block signalled (in order: one per decision)
        self.event_idx = False
        self.pick_event = lambda old, new: new
        self.flag_prob = 0.0        # chance avail.flags NO_INTERRUPT is set when a decision is answered
        self.last_new = 0
        self.decs: list[dict] = []
        self.outcomes: list[dict] = []
        cocotb.start_soon(self._avail_model())
        cocotb.start_soon(self._monitor())

    def error(self, msg: str) -> None:
        self.log.error(msg)
        self.errors.append(msg)

    def check(self) -> None:
        errors = self.errors + self.dma.errors
        assert not errors, f"seed {self.seed}: {errors[:5]}"

    async def reset(self, **modes) -> None:
        dut = self.dut
        await FallingEdge(dut.clk)
        dut.rst.value = 1
        for _ in range(3):
            await FallingEdge(dut.clk)
        dut.rst.value = 0
        dut.used_base.value = self.ring.used
        dut.queue_size.value = self.ring.qsize
        dut.run.value = 1
        await self.set_modes(**modes)

    async def set_modes(self, batched: bool = False, batch: int = 0, flush: int = 1000, noe: bool = False,
                        policy: int = NOE_WHEN_ACKED, event_idx: bool = False, **faults) -> None:
        dut = self.dut
        await FallingEdge(dut.clk)
        dut.push_batched.value = int(batched)
        dut.batch_size.value = batch or self.batch_max
        dut.flush_cycles.value = flush
        dut.feat_noe.value = int(noe)
        dut.noe_policy.value = policy
        dut.feat_event_idx.value = int(event_idx)
        self.event_idx = event_idx
        for f in FAULTS + EVENT_FAULTS:
            getattr(dut, f"fault_{f}").value = int(faults.get(f, False))
        self.hub.host_bar(True, 0, 4, 4, noe << VIRTIO_F_NOTIFY_ON_EMPTY | event_idx << VIRTIO_RING_F_EVENT_IDX)
        self.hub.host_bar(True, 2, 0x200, 4, policy)
        if event_idx and "irq_legality" not in self.hub.waived:
            # this module's model (expected_outcome) judges every EVENT_IDX decision instead
            self.hub.waive("irq_legality", why="EVENT_IDX decisions are judged by test_virtq_used's own model")

    # ---- the avail block ------------------------------------------------------------------------------
    def publish(self, n: int, known: bool = True) -> list:
        chains = [self.ring.add_packet(self.rng.randbytes(60), 1, indirect=True) for _ in range(n)]
        self.ring.publish()
        self.chains += chains
        if known:
            self.know()
        return chains

    def know(self) -> None:
        self.known = self.ring.avail_idx
        self.dut.avail_idx.value = self.known

    async def _avail_model(self) -> None:
        """Decision reads: after dec_req, answer with {avail.flags, avail.idx} of host memory; avail_rd_busy
        for random stretches (never while the block has asked for its decision read)."""
        dut = self.dut
        busy_left = 0
        pending = None
        while True:
            await FallingEdge(dut.clk)
            dut.avail_rsp_valid.value = 0
            if high(dut.dec_req):
                if pending is not None:
                    self.error("a second decision request before the answer to the first")
                owed = [a for _, a in self.dma.wr_queue]
                if owed:
                    self.error(f"decision requested at cycle {cycle_now()} with {len(owed)} write statuses owed")
                if not high(dut.used_idx_req):
                    self.error("decision requested without used_idx_req")
                pending = cycle_now() + self.rng.randint(*self.dec_latency)
                busy_left = 0
            if pending is not None:
                dut.avail_rd_busy.value = 1
                if cycle_now() >= pending:
                    if self.flag_prob:
                        self.ring.avail_flags = VRING_AVAIL_F_NO_INTERRUPT if self.rng.random() < self.flag_prob else 0
                    flags = self.ring.avail_flags
                    idx = self.ring.avail_idx
                    data = flags.to_bytes(2, "little") + idx.to_bytes(2, "little")
                    self.hub.dev_read(cycle_now() * CLK_NS, self.ring.avail, data, "decision read")
                    self.know()
                    new = int(dut.used_idx.value)
                    ue = self.pick_event(self.last_new, new) & 0xFFFF
                    ue_addr = self.ring.avail + 4 + 2 * self.qsize
                    self.ring.mem.write_u16(ue_addr, ue)    # the driver's used_event
                    if self.event_idx:
                        # the used_event read the avail block makes for an EVENT_IDX decision (event_idx_irq)
                        self.hub.dev_read(cycle_now() * CLK_NS, ue_addr, ue.to_bytes(2, "little"), "used_event read")
                    self.decs.append({"old": self.last_new, "new": new, "ue": ue, "flags": flags, "idx": idx})
                    self.last_new = new
                    dut.avail_rsp_valid.value = 1
                    dut.avail_rsp_dec.value = 1
                    dut.avail_rsp_flags.value = flags
                    dut.avail_rsp_idx.value = idx
                    dut.avail_rsp_event.value = ue
                    dut.avail_rd_busy.value = 0
                    pending = None
                continue
            if busy_left:
                busy_left -= 1
            elif not high(dut.used_idx_req) and self.rng.random() < self.busy_prob:
                busy_left = self.rng.randint(1, 30)
            dut.avail_rd_busy.value = int(busy_left > 0)

    def _on_write(self, acc) -> None:
        ring = self.ring
        if acc.addr == ring.used + 2:
            busy = high(self.dut.avail_rd_busy)
            if busy:
                self.error(f"used.idx written at cycle {acc.cycle} while an avail.idx read is in flight")
            self.pushes.append({"cycle": acc.cycle, "idx": int.from_bytes(acc.data, "little")})

    # ---- the queue's user -----------------------------------------------------------------------------
    async def complete(self, n: int, gap: tuple[int, int] = (0, 3), len_value: int = 0) -> None:
        """Hand the next ``n`` published chains to the block, in order, with random gaps."""
        dut = self.dut
        for _ in range(n):
            chain = self.chains[self.completed]
            for _ in range(self.rng.randint(*gap)):
                await FallingEdge(dut.clk)
            await FallingEdge(dut.clk)
            dut.s_axis_cpl_id.value = chain.head
            dut.s_axis_cpl_len.value = len_value
            dut.s_axis_cpl_fault_addr.value = chain.buffers[0][0]
            dut.s_axis_cpl_valid.value = 1
            while True:
                await ReadOnly()
                ready = high(dut.s_axis_cpl_ready)
                await FallingEdge(dut.clk)
                if ready:
                    break
            dut.s_axis_cpl_valid.value = 0
            self.completed += 1

    async def _monitor(self) -> None:
        dut = self.dut
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            irq = int(dut.irq_cause.value) if high(dut.irq_valid) else None
            if irq is not None:
                self.irqs.append((cycle_now(), irq))
                self.hub.irq("msix", TX_VECTOR)
            kinds = [k for k in self.stats if high(getattr(dut, f"stat_{k}"))]
            for k in kinds:
                self.stats[k] += 1
            ev = (high(dut.stat_irq_event), high(dut.stat_irq_event_suppressed))
            if kinds or any(ev):
                self.outcomes.append({"kinds": kinds, "irq": irq, "event": ev[0], "event_suppressed": ev[1]})
            if high(dut.err_valid):
                self.errs.append((cycle_now(), int(dut.err_cause.value)))

    async def wait_used(self, target: int, timeout_us: float = TIMEOUT_US) -> None:
        async def _wait():
            while self.ring.used_idx() != target & 0xFFFF:
                await self.dma.wait_write()
        await with_timeout(_wait(), timeout_us, "us")

    async def wait_progress(self, timeout_us: float = TIMEOUT_US) -> None:
        """The ring is full: reclaim, then wait until used.idx moves past what was reclaimed (by a push of any
        size: waiting for last_used + 1 exactly would hang when a batch steps over it)."""
        self.reclaim_check()

        async def _wait():
            while self.ring.used_idx() == self.ring.last_used:
                await self.dma.wait_write()
        await with_timeout(_wait(), timeout_us, "us")

    async def wait_idle(self, timeout_us: float = TIMEOUT_US) -> None:
        async def _wait():
            while True:
                await FallingEdge(self.dut.clk)
                if not high(self.dut.busy) and high(self.dut.idle):
                    return
        await with_timeout(_wait(), timeout_us, "us")

    def reclaim_check(self) -> None:
        for expected, uid, ulen in self.ring.reclaim():
            if expected is None or uid != expected.head or ulen != 0:
                self.error(f"used element {uid} len {ulen}, expected {None if expected is None else expected.head}")

    def decisions(self) -> int:
        return sum(self.stats.values())


async def setup(dut, name: str, **modes) -> TB:
    tb = TB(dut, name)
    await tb.reset(**modes)
    return tb


def named(*values: str) -> list:
    return [cocotb.Param(v, v) for v in values]


@cocotb.test()
@cocotb.parametrize(push=named("per_packet", "batched"))
async def test_pushes(dut, push):
    """Completions with random gaps, the avail block busy at random: every element in its slot in order,
    used.idx behind them, one decision per push (per_packet: one per element; batched: at most batch_size,
    and fewer pushes than elements), the used.idx write never while an avail.idx read is in flight."""
    tb = await setup(dut, f"pushes_{push}", batched=push == "batched", batch=8)
    tb.busy_prob = 0.1
    n = 3 * tb.qsize // 2
    done = 0
    while done < n:
        m = min(tb.rng.randint(1, 40), n - done, tb.qsize - tb.ring.pending())
        if m <= 0:
            await tb.wait_progress()
            tb.reclaim_check()
            continue
        tb.publish(m)
        await tb.complete(m, gap=(0, tb.rng.choice([0, 2, 10])))
        done += m
        if tb.rng.random() < 0.5:
            await tb.wait_used(tb.completed)
            tb.reclaim_check()
    await tb.wait_used(tb.completed)
    await tb.wait_idle()
    tb.reclaim_check()
    steps = [b["idx"] - a["idx"] & 0xFFFF for a, b in zip([{"idx": 0}] + tb.pushes, tb.pushes)]
    if tb.decisions() != len(tb.pushes):
        tb.error(f"{tb.decisions()} decisions for {len(tb.pushes)} pushes")
    if push == "per_packet" and set(steps) != {1}:
        tb.error(f"per_packet pushes of {sorted(set(steps))} elements")
    if push == "batched" and (max(steps) > 8 or len(tb.pushes) > n // 2):
        tb.error(f"batched (8): pushes of up to {max(steps)} elements, {len(tb.pushes)} pushes for {n}")
    tb.log.info("%s: %d elements in %d pushes (sizes %s)", push, n, len(tb.pushes), sorted(set(steps)))
    tb.hub.finish()
    tb.check()


@cocotb.test()
async def test_batch_cut(dut):
    """batched: a push is cut when batch_size elements are staged; a partial batch at once when every
    published entry the device knows of is in (avail_idx), or flush_cycles after its first element when
    more are known to come."""
    tb = await setup(dut, "batch_cut", batched=True, batch=4, flush=300)
    # 10 known and completed back to back: 4, 4, then 2 at once (nothing more known)
    tb.publish(10)
    await tb.complete(10, gap=(0, 0))
    await tb.wait_used(10)
    await tb.wait_idle()
    if [p["idx"] for p in tb.pushes] != [4, 8, 10]:
        tb.error(f"used.idx writes {[p['idx'] for p in tb.pushes]}, expected [4, 8, 10]")
    # 3 known to come, 2 completed: pushed 300 cycles after the first of them was staged
    tb.pushes.clear()
    tb.publish(3)
    await tb.complete(2, gap=(0, 0))
    staged = cycle_now()
    await tb.wait_used(12, timeout_us=10)
    waited = tb.pushes[0]["cycle"] - staged
    if not 290 <= waited <= 330:
        tb.error(f"partial batch pushed {waited} cycles after its elements, flush 300")
    await tb.complete(1)
    await tb.wait_used(13)
    await tb.wait_idle()
    tb.reclaim_check()
    tb.hub.finish()
    tb.check()


DECISIONS = {
    # name: (avail.flags, noe_policy, feat_noe, empty after the push, expected cause or None)
    "flags_clear": (0, NOE_NEVER, False, False, 0),
    "flags_clear_empty": (0, NOE_WHEN_ACKED, True, True, 0),
    "noe_acked_empty": (VRING_AVAIL_F_NO_INTERRUPT, NOE_WHEN_ACKED, True, True, 1),
    "noe_acked_more": (VRING_AVAIL_F_NO_INTERRUPT, NOE_WHEN_ACKED, True, False, None),
    "noe_not_acked": (VRING_AVAIL_F_NO_INTERRUPT, NOE_WHEN_ACKED, False, True, None),
    "always_empty": (VRING_AVAIL_F_NO_INTERRUPT, NOE_ALWAYS, False, True, 1),
    "never": (VRING_AVAIL_F_NO_INTERRUPT, NOE_NEVER, False, True, None),
}


@cocotb.test()
@cocotb.parametrize(case=named(*DECISIONS))
async def test_decision(dut, case):
    """The interrupt decision of a push, from the decision read: cause 0 when NO_INTERRUPT is clear; cause 1
    when the ring is empty (the read's avail.idx equals the used index just written) and notify-on-empty
    applies (ALWAYS, or WHEN_ACKED with the feature acked); else nothing, counted as suppressed."""
    flags, policy, noe, empty, cause = DECISIONS[case]
    tb = await setup(dut, f"decision_{case}", policy=policy, noe=noe)
    tb.ring.avail_flags = flags
    for _ in range(4):
        irq0, dec0 = len(tb.irqs), tb.decisions()
        tb.publish(1 if empty else 2)
        await tb.complete(1)
        await tb.wait_used(tb.completed)
        await tb.wait_idle()
        await Timer(20 * CLK_NS, "ns")
        got = [c for _, c in tb.irqs[irq0:]]
        if got != ([] if cause is None else [cause]) or tb.decisions() - dec0 != 1:
            tb.error(f"{case}: interrupts {got} and {tb.decisions() - dec0} decisions for one push")
        if not empty:
            await tb.complete(1)
            await tb.wait_used(tb.completed)
            await tb.wait_idle()
        tb.reclaim_check()
    causes = [c for _, c in tb.irqs]
    want = {"irq_normal": causes.count(0), "irq_noe": causes.count(1), "irq_suppressed": tb.decisions() - len(causes)}
    if tb.stats != want:
        tb.error(f"statistics {tb.stats}, expected {want} from the interrupts seen")
    tb.hub.finish()
    tb.check()


@cocotb.test()
async def test_staging_full(dut):
    """2*BATCH_MAX completions staged while a push's writes are on their way (their elements still needed in
    the staging RAM): s_axis_cpl_ready drops until the push's writes are out, nothing is lost."""
    tb = await setup(dut, "staging_full", batched=True)
    tb.dma.wr_latency = (400, 400)
    n = 2 * tb.batch_max + 5
    tb.publish(n)
    task = cocotb.start_soon(tb.complete(n, gap=(0, 0)))
    await Timer(300 * CLK_NS, "ns")
    if tb.completed != 2 * tb.batch_max:
        tb.error(f"{tb.completed} completions taken while the first push's writes are owed; the staging area "
                 f"holds {2 * tb.batch_max}")
    await with_timeout(task, TIMEOUT_US, "us")
    await tb.wait_used(n)
    await tb.wait_idle()
    tb.reclaim_check()
    tb.hub.finish()
    tb.check()


@cocotb.test()
async def test_write_error_and_stop(dut):
    """A write status with an error: err_valid with cause 10 (run high); run low: no new push or write,
    idle once every status is back; clear: back to used index 0."""
    tb = await setup(dut, "write_error")
    tb.publish(4)
    tb.dma.wr_fail = lambda addr, length: addr != tb.ring.used + 2
    tb.hub.expect("used_ring")          # the element never lands, the used.idx behind it does
    await tb.complete(1)
    await with_timeout(RisingEdge(dut.err_valid), 5, "us")
    await ReadOnly()
    if int(dut.err_cause.value) != 10:
        tb.error(f"error cause {int(dut.err_cause.value)}, expected 10")
    await FallingEdge(dut.clk)
    dut.run.value = 0
    mark = len(tb.dma.accesses)
    cocotb.start_soon(tb.complete(3))
    await Timer(200 * CLK_NS, "ns")
    if len(tb.dma.accesses) != mark:
        tb.error(f"{len(tb.dma.accesses) - mark} writes with run low")
    if not high(dut.idle):
        tb.error("not idle with run low and every status back")
    await FallingEdge(dut.clk)
    dut.clear.value = 1
    await FallingEdge(dut.clk)
    dut.clear.value = 0
    if int(dut.used_idx.value) != 0 or high(dut.busy):
        tb.error(f"after clear: used_idx {int(dut.used_idx.value)}, busy {dut.busy.value}")
    tb.check()


@cocotb.test()
@cocotb.parametrize(noe=named("flags", "always"))
async def test_stop_during_decision(dut, noe):
    """run falls (a reset, an error) while the decision read is out: the answer still comes back (the read is
    counted back), but no interrupt follows, neither the one NO_INTERRUPT allows nor notify-on-empty's: the
    register block has cleared ISR at the reset, and an interrupt raised now would reach the next driver."""
    tb = await setup(dut, f"stop_during_decision_{noe}", noe=noe == "always", policy=NOE_ALWAYS)
    # the interrupt owed to the stopped push is what this test forbids
    tb.hub.waive("irq_legality", why="run fell before the decision: the stopped queue owes no interrupt")
    tb.ring.avail_flags = VRING_AVAIL_F_NO_INTERRUPT if noe == "always" else 0
    tb.dec_latency = (40, 40)
    tb.publish(1)
    await tb.complete(1)
    await with_timeout(RisingEdge(dut.dec_req), 5, "us")
    for _ in range(tb.rng.randint(1, 30)):
        await FallingEdge(dut.clk)
    dut.run.value = 0
    mark = len(tb.irqs)
    for _ in range(80):
        await FallingEdge(dut.clk)
    if len(tb.decs) != 1:
        tb.error(f"{len(tb.decs)} decision reads answered, expected the one in flight")
    if len(tb.irqs) != mark:
        tb.error(f"an interrupt (cause {tb.irqs[mark][1]}) at cycle {tb.irqs[mark][0]}, after run fell")
    if not high(dut.idle):
        tb.error("not idle after the decision's answer with run low")
    tb.check()


FAULT_CHECKER = {"used_idx_first": "used_ring", "used_idx_ahead": "used_ring", "write_tx_buffer": "dma_write_target",
                 "ignore_no_interrupt": "irq_legality", "drop_irq": "irq_legality"}


@cocotb.test()
@cocotb.parametrize(fault=named(*FAULTS))
async def test_fault(dut, fault):
    """Each of the block's fault knobs (test only): the checker of the rule it breaks reports it on every
    push while it is on, and is quiet before and after."""
    checker = FAULT_CHECKER[fault]
    tb = await setup(dut, f"fault_{fault}")
    if fault == "ignore_no_interrupt":
        tb.ring.avail_flags = VRING_AVAIL_F_NO_INTERRUPT
    for on in (False, True, False):
        await tb.set_modes(**{fault: on})
        if on:
            tb.hub.expect(checker)
        fired0 = len(tb.hub.failed(checker))
        pushes0 = len(tb.pushes)
        for _ in range(3):
            tb.publish(2)
            await tb.complete(2)
            target = tb.completed + (1 if fault == "used_idx_ahead" and on else 0)
            await tb.wait_used(target)
            await tb.wait_idle()
            await Timer(120 * CLK_NS, "ns")     # irq_legality's window closes
            tb.hub.finish()
            if fault == "used_idx_ahead" and on:
                tb.ring.mem.write_u16(tb.ring.used + 2, tb.completed)   # as if the driver had not looked
            tb.reclaim_check()
        fired = len(tb.hub.failed(checker)) - fired0
        pushes = len(tb.pushes) - pushes0
        if (on and fired < pushes) or (not on and fired):
            tb.error(f"{fault} {'on' if on else 'off'}: {checker} fired {fired} times for {pushes} pushes")
    tb.check()


# ---- EVENT_IDX ------------------------------------------------------------------------------------------

def need_event(event: int, new: int, old: int) -> bool:
    """vring_need_event (Linux include/uapi/linux/virtio_ring.h, virtio 1.x 2.7.7)."""
    return (new - event - 1) & 0xFFFF < (new - old) & 0xFFFF


def expected_outcome(d: dict, policy: int, noe: bool, knobs: frozenset = frozenset()) -> dict:
    """The decision the spec asks for (with the test-only knobs' departures): with EVENT_IDX an interrupt
    (cause 0) iff the push moved used.idx across used_event, avail.flags ignored; else notify on empty
    (cause 1) when the ring is empty and the policy applies; else none."""
    crossed = need_event(d["ue"], d["new"], d["old"])
    allow = (crossed and not ("event_idx_flags" in knobs and d["flags"] & VRING_AVAIL_F_NO_INTERRUPT)) \
        or "event_idx_ignored" in knobs
    empty_irq = d["idx"] == d["new"] and (policy == NOE_ALWAYS or (policy == NOE_WHEN_ACKED and noe))
    if allow:
        return {"kinds": ["irq_normal"], "irq": 0, "event": True, "event_suppressed": False}
    if empty_irq:
        return {"kinds": ["irq_noe"], "irq": 1, "event": False, "event_suppressed": False}
    return {"kinds": ["irq_suppressed"], "irq": None, "event": False, "event_suppressed": not crossed}


def event_picker(tb: TB):
    """used_event as a driver may leave it, relative to the push (old -> new): inside it (crossed), at new
    (the next, as enable_cb leaves it), ahead (enable_cb_delayed), behind, half the index space away either
    way, anywhere."""
    rng = tb.rng

    def pick(old: int, new: int) -> int:
        n = (new - old) & 0xFFFF
        r = rng.random()
        if r < 0.35:
            return old + rng.randrange(n) if n else old
        if r < 0.5:
            return new
        if r < 0.65:
            return new + rng.randint(1, 40)
        if r < 0.8:
            return old - rng.randint(1, 40)
        if r < 0.9:
            return new + rng.choice([0x7FFF, 0x8000, -0x8000, -0x7FFF])
        return rng.randrange(0x10000)
    return pick


def judge_decisions(tb: TB, first: int, policy: int, noe: bool, knobs: frozenset = frozenset()) -> list[int]:
    """Compare the block's decisions from ``first`` on with the spec's; returns the positions that differ
    (reported as errors unless the caller expects them: ``knobs``' departures are part of the expectation)."""
    if len(tb.outcomes) != len(tb.decs):
        tb.error(f"{len(tb.outcomes)} decision outcomes for {len(tb.decs)} decisions answered")
    wrong = []
    for k in range(first, min(len(tb.decs), len(tb.outcomes))):
        d, got = tb.decs[k], tb.outcomes[k]
        if got != expected_outcome(d, policy, noe, knobs):
            wrong.append(k)
    return wrong


def spec_deviations(tb: TB, first: int, policy: int, noe: bool) -> list[int]:
    return judge_decisions(tb, first, policy, noe)


def event_bins(tb: TB, first: int) -> dict[str, int]:
    """Coverage of the decisions from ``first`` on."""
    bins = {"crossed": 0, "not_crossed": 0, "crossed_flags_set": 0, "not_crossed_flags_clear": 0,
            "crossed_inside_push": 0, "noe_not_crossed": 0, "behind_half_space": 0}
    for d, o in zip(tb.decs[first:], tb.outcomes[first:]):
        crossed = need_event(d["ue"], d["new"], d["old"])
        flag = bool(d["flags"] & VRING_AVAIL_F_NO_INTERRUPT)
        bins["crossed"] += crossed
        bins["not_crossed"] += not crossed
        bins["crossed_flags_set"] += crossed and flag
        bins["not_crossed_flags_clear"] += not crossed and not flag
        bins["crossed_inside_push"] += crossed and d["ue"] != d["old"]
        bins["noe_not_crossed"] += not crossed and o["irq"] == 1
        bins["behind_half_space"] += (d["new"] - d["ue"]) & 0xFFFF >= 0x7FFF
    return bins


async def event_traffic(tb: TB, n: int, max_burst: int = 40) -> None:
    """``n`` completions in bursts (publish m, complete m), the driver reclaiming now and then."""
    done = 0
    while done < n:
        m = min(tb.rng.randint(1, max_burst), n - done, tb.qsize - tb.ring.pending())
        if m <= 0:
            await tb.wait_progress()
            tb.reclaim_check()
            continue
        tb.publish(m)
        await tb.complete(m, gap=(0, tb.rng.choice([0, 2, 10])))
        done += m
        if tb.rng.random() < 0.5:
            # the driver waits for the decision now and then: the ring is empty when it is made
            await tb.wait_used(tb.completed)
            await tb.wait_idle()
            tb.reclaim_check()
    await tb.wait_used(tb.completed)
    await tb.wait_idle()
    await Timer(20 * CLK_NS, "ns")
    tb.reclaim_check()


PHASES = ((NOE_NEVER, False), (NOE_WHEN_ACKED, True), (NOE_ALWAYS, False), (NOE_WHEN_ACKED, False))


@cocotb.test()
@cocotb.parametrize(push=named("per_packet", "batched"))
async def test_event_idx(dut, push):
    """EVENT_IDX negotiated: after each push (old -> new, the whole push) the block interrupts (cause 0) iff
    vring_need_event(used_event, new, old), over a random sweep of used_event around, inside, ahead of,
    behind and half the index space away from each push, with avail.flags NO_INTERRUPT set at random (ignored:
    no effect either way); notify on empty (cause 1) still applies when used_event says no, under each
    notify-on-empty policy; the statistics (stat_irq_event, stat_irq_event_suppressed with the others) say the
    same; every decision is checked and every coverage bin is hit."""
    batched = push == "batched"
    tb = await setup(dut, f"event_idx_{push}", batched=batched, batch=6, event_idx=True)
    tb.pick_event = event_picker(tb)
    tb.flag_prob = 0.5
    bins: dict[str, int] = {}
    for policy, noe in PHASES:
        await tb.set_modes(batched=batched, batch=6, policy=policy, noe=noe, event_idx=True)
        first = len(tb.decs)
        await event_traffic(tb, tb.qsize, max_burst=12)
        wrong = judge_decisions(tb, first, policy, noe)
        for k in wrong[:5]:
            tb.error(f"decision {k}: {tb.decs[k]} gave {tb.outcomes[k]}, the spec: "
                     f"{expected_outcome(tb.decs[k], policy, noe)}")
        for name, v in event_bins(tb, first).items():
            bins[name] = bins.get(name, 0) + v
    causes = [c for _, c in tb.irqs]
    want = {"irq_normal": causes.count(0), "irq_noe": causes.count(1), "irq_suppressed": len(tb.decs) - len(causes)}
    if tb.stats != want:
        tb.error(f"statistics {tb.stats}, expected {want} from the interrupts seen")
    wanted_bins = [b for b in bins if b != "crossed_inside_push" or batched]
    missing = [b for b in wanted_bins if not bins[b]]
    if missing:
        tb.error(f"coverage bins never hit: {missing} ({bins})")
    tb.log.info("%s: %d decisions, %d interrupts; bins %s", push, len(tb.decs), len(tb.irqs), bins)
    tb.hub.finish()
    tb.check()


EVENT_CASES = {
    # name: (used_event relative to the push: "old" (crossed at its first element) or "new" (not crossed),
    #        avail.flags, noe_policy, feat_noe, ring empty after the push, expected cause or None)
    "crossed_flags_set": ("old", VRING_AVAIL_F_NO_INTERRUPT, NOE_NEVER, False, False, 0),
    "not_crossed_flags_clear": ("new", 0, NOE_NEVER, False, False, None),
    "not_crossed_noe_empty": ("new", 0, NOE_WHEN_ACKED, True, True, 1),
    "not_crossed_noe_not_acked": ("new", 0, NOE_WHEN_ACKED, False, True, None),
    "not_crossed_always_empty": ("new", VRING_AVAIL_F_NO_INTERRUPT, NOE_ALWAYS, False, True, 1),
    "crossed_empty": ("old", 0, NOE_WHEN_ACKED, True, True, 0),
}


@cocotb.test()
@cocotb.parametrize(case=named(*EVENT_CASES))
async def test_event_decision(dut, case):
    """One EVENT_IDX decision at a time, each case of the rule: NO_INTERRUPT set and used_event crossed:
    an interrupt; flags clear and used_event not crossed: none; notify on empty on top (cause 1) as the
    policy and the acked feature say."""
    rel, flags, policy, noe, empty, cause = EVENT_CASES[case]
    tb = await setup(dut, f"event_decision_{case}", policy=policy, noe=noe, event_idx=True)
    tb.pick_event = (lambda old, new: old) if rel == "old" else (lambda old, new: new)
    tb.ring.avail_flags = flags
    for _ in range(4):
        irq0, dec0 = len(tb.irqs), tb.decisions()
        tb.publish(1 if empty else 2)
        await tb.complete(1)
        await tb.wait_used(tb.completed)
        await tb.wait_idle()
        await Timer(20 * CLK_NS, "ns")
        got = [c for _, c in tb.irqs[irq0:]]
        if got != ([] if cause is None else [cause]) or tb.decisions() - dec0 != 1:
            tb.error(f"{case}: interrupts {got} and {tb.decisions() - dec0} decisions for one push")
        if not empty:
            await tb.complete(1)
            await tb.wait_used(tb.completed)
            await tb.wait_idle()
        tb.reclaim_check()
    for k in judge_decisions(tb, 0, policy, noe):
        tb.error(f"decision {k}: {tb.decs[k]} gave {tb.outcomes[k]}")
    tb.hub.finish()
    tb.check()


@cocotb.test()
@cocotb.parametrize(fault=named(*EVENT_FAULTS))
async def test_event_fault(dut, fault):
    """EVENT_IDX's interrupt knobs (test only), off, on, off: EVENT_IDX_IGNORED raises an interrupt after every
    push whose used_event was not crossed; EVENT_IDX_FLAGS drops the interrupt of every push that crossed
    used_event while NO_INTERRUPT was set. With the knob on, the block departs from the spec exactly on those
    decisions (and there are some); off, never."""
    tb = await setup(dut, f"event_fault_{fault}", event_idx=True, policy=NOE_NEVER)
    tb.pick_event = event_picker(tb)
    tb.flag_prob = 0.5
    tb.hub.expect("event_idx_irq")      # the shared checker must see the knob's departures too (and only then)
    fired: list[int] = []
    for on in (False, True, False):
        await tb.set_modes(policy=NOE_NEVER, event_idx=True, **{fault: on})
        await Timer(120 * CLK_NS, "ns")     # the checker's window for the previous phase closes
        tb.hub.poll(cycle_now() * CLK_NS)
        fired.append(len(tb.hub.failed("event_idx_irq")))
        first = len(tb.decs)
        await event_traffic(tb, tb.qsize // 2, max_burst=6)
        knobs = frozenset([fault] if on else [])
        departs = spec_deviations(tb, first, NOE_NEVER, False)
        unexplained = judge_decisions(tb, first, NOE_NEVER, False, knobs)
        if unexplained:
            tb.error(f"{fault} {'on' if on else 'off'}: decisions {unexplained[:5]} are neither the spec's nor the "
                     f"knob's ({tb.decs[unexplained[0]]} gave {tb.outcomes[unexplained[0]]})")
        if (on and not departs) or (not on and departs):
            tb.error(f"{fault} {'on' if on else 'off'}: {len(departs)} of {len(tb.decs) - first} decisions depart "
                     "from the spec")
        tb.log.info("%s %s: %d of %d decisions depart from the spec", fault, "on" if on else "off", len(departs),
                    len(tb.decs) - first)
    await Timer(120 * CLK_NS, "ns")
    tb.hub.finish()
    fired.append(len(tb.hub.failed("event_idx_irq")))
    # reports per phase (off, on, off): none while off, some while on
    per_phase = [fired[i + 1] - fired[i] for i in range(3)]
    if per_phase[0] or per_phase[2] or not per_phase[1]:
        tb.error(f"{fault}: event_idx_irq reported {per_phase} in the phases off, on, off")
    tb.check()


@cocotb.test()
async def test_event_idx_wrap(dut):
    """EVENT_IDX across the u16 wrap of used.idx (REGRESS): batched pushes up to 0xFF00, then pushes of up to
    3 elements through 0x0100 with used_event picked around each push, including the one push that steps
    from below 0xFFFF to 0 or past it (its used_event at its last element: crossed); every decision is
    checked."""
    tb = await setup(dut, "event_idx_wrap", batched=True, event_idx=True, policy=NOE_NEVER)
    tb.pick_event = lambda old, new: new    # nothing owed on the way (cheap decisions)
    tb.dma.wr_latency = (1, 2)
    tb.dec_latency = (1, 3)
    while tb.completed < 0xFF00:
        m = min(2 * tb.batch_max, 0xFF00 - tb.completed, tb.qsize - tb.ring.pending())
        tb.publish(m)
        await tb.complete(m, gap=(0, 0))
        await tb.wait_used(tb.completed, timeout_us=2000)
        tb.ring.reclaim()
    await tb.wait_idle()
    await tb.set_modes(batched=True, batch=3, policy=NOE_NEVER, event_idx=True)
    picker = event_picker(tb)
    tb.pick_event = lambda old, new: (new - 1) if new < old else picker(old, new)
    tb.flag_prob = 0.5
    first = len(tb.decs)
    await event_traffic(tb, 0x200, max_burst=8)
    for k in judge_decisions(tb, 0, NOE_NEVER, False):
        tb.error(f"decision {k}: {tb.decs[k]} gave {tb.outcomes[k]}")
    straddle = [d for d in tb.decs[first:] if d["new"] < d["old"]]
    near = [d for d in tb.decs[first:] if max(d["old"], d["new"], d["ue"]) - min(d["old"], d["new"], d["ue"]) > 0x8000]
    if len(straddle) != 1 or len(near) < 10:
        tb.error(f"{len(straddle)} pushes across the wrap, {len(near)} decisions with used_event across it")
    tb.log.info("wrap: %d decisions (%d across the wrap), the straddling push %s", len(tb.decs) - first, len(near),
                straddle)
    tb.hub.finish()
    tb.check()


# ---- pytest entry -------------------------------------------------------------------------------

import pytest  # noqa: E402

from sim import suite  # noqa: E402

# make test: the block at 256 bits on Verilator, at 64 on Icarus (every width on both under REGRESS); the
# EVENT_IDX sweep across the u16 wrap (65,000 completions) only under REGRESS
NOT_WRAP = r"^(?!.*test_event_idx_wrap$)"
SUITE = suite.Suite("tests.sim.test_virtq_used", "virtq_used", icarus_variants=["w64"],
                    verilator_variants=["w256"], verilator=NOT_WRAP, icarus=NOT_WRAP,
                    variants={f"w{w}": {"RAM_DATA_WIDTH": w, "FAULT_ENABLE": 1, "QUEUE_SIZE": 128}
                              for w in (256, 64)},
                    sources=("hdl/virtio/virtq_used.v", "hdl/pcie/dma_ram.v"))


@pytest.mark.sim
@pytest.mark.parametrize("case", SUITE.cases(globals()), ids=str)
def test_virtq_used(case, sim_run):
    sim_run(case)
