"""Block test of virtq_tx, the TX virtqueue wired from the ring blocks (no PCIe model).

Around the queue: host memory holding a legacy split ring built by ``vring_builder`` (the driver's side), the
transaction-level DMA model of ``dma_model`` (reads into the blocks' RAMs, writes from immediates or from the
used writer's staging RAM, random latencies, out-of-order completions, back-pressure), the wire
(``tb.simulation.axis_sink.AxisSink``) and monitors of the queue's pulses.

The ring rules are judged by the project's checkers (tb/checkers), fed from here (``dma_model.attach_checkers``):
device_reads_published, used_ring, dma_write_target, irq_legality and the wire scoreboard run on every test;
the fault-knob tests expect the checker of the rule their knob breaks to fire (exactly where the system
tests' fault tests do). The driver-side checkers do not apply (the ring builder is not a driver under test).
This module checks what is the engine's own design on top: every byte on the wire, used elements {head, 0}
in ring order, the statistics pulses, the barrier (no avail.idx read while a used.idx or a used.flags = 0
write is owed), the error causes and what was not touched, the reset rules, the DMA per packet of each push
policy, several packets in flight.

Timing convention: inputs are driven and handshakes sampled at falling clock edges; "cycle n" is the n-th
rising edge.
"""

from __future__ import annotations

import itertools
import logging
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import Event, FallingEdge, ReadOnly, RisingEdge, Timer, with_timeout

from tb.checkers.spec import LEGACY_REG_DRIVER_FEATURES as VIRTIO_PCI_GUEST_FEATURES
from tb.simulation import eventlog
from tb.simulation.axis_sink import AxisSink
from tb.simulation.seed import seed_for
from tests.sim.dma_model import (CLK_NS, TX_VECTOR, Access, DmaModel, ObservedMemory, attach_checkers, cycle_now,
                                 describe_queue, device_reset, high)
from tests.sim.vring_builder import (VRING_AVAIL_F_NO_INTERRUPT, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT,
                                     VRING_USED_F_NO_NOTIFY, SplitRing)

HOST_BASE = 0x1000_0000
HOST_SIZE = 1 << 20
RING_OFF = 0x1000
IND_OFF = 0x10000
DATA_OFF = 0x50000
JUMBO_OFF = 0xE0000             # past the data slots: a buffer the engine must never read (test_drops)
BAD_ADDR = 0x2000_0000          # outside host memory: the DMA model completes reads there with CA (2)
NOE_WHEN_ACKED, NOE_ALWAYS, NOE_NEVER = 0, 1, 2
VIRTIO_NET_F_MRG_RXBUF, VIRTIO_F_NOTIFY_ON_EMPTY, VIRTIO_RING_F_INDIRECT_DESC = 15, 24, 28
VIRTIO_RING_F_EVENT_IDX = 29
# fault knobs (test only): bits of virtq_tx's fault input = BAR2 0x208 FAULT (hdl/virtio/README.md)
FAULT_IGNORE_NO_INTERRUPT = 1 << 0
FAULT_DROP_IRQ = 1 << 1
FAULT_USED_IDX_FIRST = 1 << 2
FAULT_READ_PAST_AVAIL = 1 << 3
FAULT_WRITE_TX_BUFFER = 1 << 4
FAULT_DROP_FRAME = 1 << 5
FAULT_DUP_FRAME = 1 << 6
FAULT_USED_IDX_AHEAD = 1 << 7
FAULT_USED_LEN_READ = 1 << 8
TIMEOUT_US = 400
REGRESS = os.environ.get("REGRESS", "0") not in ("", "0")


class TB:
    def __init__(self, dut, test_name: str):
        self.dut = dut
        self.log = logging.getLogger(f"cocotb.tb.{test_name}")
        self.seed = seed_for(test_name, self.log)
        self.rng = random.Random(self.seed)
        self.errors: list[str] = []

        self.qsize = int(dut.QUEUE_SIZE.value)
        self.word_bytes = int(dut.RAM_DATA_WIDTH.value) // 8
        self.max_frame = int(dut.MAX_FRAME_LEN.value)
        self.min_frame = int(dut.MIN_FRAME_LEN.value)
        self.max_batch = int(dut.MAX_BATCH.value)
        self.used_batch_max = int(dut.USED_BATCH_MAX.value)
        self.mem = ObservedMemory(HOST_BASE, HOST_SIZE)
        self.ring: SplitRing | None = None
        self.hdr_len = 10
        self.fault = 0
        self.batched = False
        self.event_idx = False

        dut.rst.value = 1
        for name in ("queue_enable", "desc_addr", "avail_addr", "used_addr", "queue_size", "feat_version_1", "feat_indirect", "feat_noe", "feat_mrg_rxbuf", "noe_policy",
                     "kick_suppress", "pacing_timer", "pacing_interval", "push_batched", "push_batch",
                     "push_flush", "fault", "notify", "dev_reset", "feat_event_idx", "fault_event"):
            getattr(dut, name).value = 0
        Clock(dut.clk, CLK_NS, unit="ns", impl="gpi").start()   # the C++ clock
        self.dma = DmaModel(dut, self.mem, self.rng, self.word_bytes, self.log)
        self.hub = attach_checkers(self.dma, self.mem)
        self.hub.on_failure(lambda err: self.error(str(err)))
        self.dma.read_hooks.append(self._barrier_check)
        self.dma.read_done_hooks.append(self._ring_read_log)
        self.sink = AxisSink(dut, "m_axis_tx", dut.clk, period_ps=CLK_NS * 1000, on_frame=self._frame)
        self.expected_frames: list[bytes] = []
        self.hub.attach_sent(self.expected_frames)
        self.seen_avail_idx: int | None = None
        self.ring_reads: list[tuple[int, int, int]] = []     # (slot, count, entries published) of each ring read

        self.irqs: list[tuple[int, int]] = []
        self.irq_event = Event()
        self.errs: list[tuple[int, int]] = []
        self.err_event = Event()
        self.stats = {"frame": 0, "notify": 0, "irq_normal": 0, "irq_noe": 0, "irq_suppressed": 0,
                      "irq_event": 0, "irq_event_suppressed": 0, "drop_oversize": 0, "drop_runt": 0}
        cocotb.start_soon(self._pulse_monitor(dut.irq_valid, self.irqs, self.irq_event, dut.irq_cause, irq=True))
        cocotb.start_soon(self._pulse_monitor(dut.err_valid, self.errs, self.err_event, dut.err_cause))
        cocotb.start_soon(self._idle_monitor())
        for name in self.stats:
            cocotb.start_soon(self._count_pulses(name))

    # ---- bookkeeping ----------------------------------------------------------------------------

    def error(self, msg: str) -> None:
        self.log.error(msg)
        self.errors.append(msg)

    def check(self) -> None:
        errors = self.errors + self.dma.errors
        assert not errors, f"seed {self.seed}: {errors[:5]}"

    def expect(self, checker: str) -> None:
        """A fault knob is on: collect that checker's violations instead of failing."""
        self.hub.expect(checker)

    def fired(self, checker: str) -> int:
        return len(self.hub.failed(checker))

    def accesses_since(self, cycle: int) -> list[Access]:
        return self.dma.since(cycle)

    def _barrier_check(self, acc: Access) -> None:
        """No avail.idx read while a used-ring write is owed (its status not seen), used.flags = 1 aside: the
        decision read must see the used.idx it follows, the recheck read the used.flags = 0 (or, EVENT_IDX,
        the avail_event) it follows."""
        ring = self.ring
        if ring is None or acc.addr != ring.avail:
            return
        owed = [a for _, a in self.dma.wr_queue if ring.used <= a.addr <= ring.used + 4 + 8 * ring.qsize
                and not (a.addr == ring.used and a.data == b"\x01\x00")]
        if owed:
            self.error(f"avail.idx read at cycle {acc.cycle} while the write to {owed[0].addr:#x} "
                       f"(cycle {owed[0].cycle}) is owed: the barrier")

    def _ring_read_log(self, acc: Access) -> None:
        """Each avail.ring read: (slot, entries, entries published past the read's start as far as the device
        knew: the avail.idx it had read last)."""
        ring = self.ring
        if ring is None or acc.error:
            return
        if acc.addr == ring.avail and acc.length >= 4:
            self.seen_avail_idx = int.from_bytes(acc.data[2:4], "little")
        lo = ring.avail + 4
        if lo <= acc.addr < lo + 2 * ring.qsize and self.seen_avail_idx is not None:
            slot, count = (acc.addr - lo) // 2, acc.length // 2
            allowed = (self.seen_avail_idx - slot - 1) % ring.qsize + 1
            self.ring_reads.append((slot, count, allowed))

    # ---- reset, configuration, control pulses ---------------------------------------------------

    async def cycle_reset(self) -> None:
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 1
        for _ in range(4):
            await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await FallingEdge(self.dut.clk)

    def new_ring(self, mrg_rxbuf: bool = False, ring_off: int = RING_OFF) -> SplitRing:
        """Zeroed host memory and a fresh ring (the driver's part of a device (re)initialisation)."""
        self.mem.fill(HOST_BASE, HOST_SIZE)
        self.hdr_len = 12 if mrg_rxbuf else 10
        self.ring = SplitRing(self.mem, HOST_BASE + ring_off, self.qsize, self.hdr_len, HOST_BASE + DATA_OFF,
                              HOST_BASE + IND_OFF, self.rng)
        self.seen_avail_idx = None
        # what the driver tells the device first: the queue (the checkers learn it from these writes)
        describe_queue(self.hub, self.ring.base, self.qsize, 0, 0, dut=self.dut)
        return self.ring

    async def enable(self, ring: SplitRing, indirect: bool = False, noe: bool = False, noe_policy: int = 0,
                     kick_suppress: bool = False, pacing: bool = False, interval: int = 0, fault: int = 0,
                     batched: bool | None = None, batch: int = 0, flush: int = 256, event_idx: bool = False) -> None:
        dut = self.dut
        if batched is not None:
            self.batched = batched
        await FallingEdge(dut.clk)
        dut.desc_addr.value = ring.desc
        dut.queue_size.value = ring.qsize
        dut.avail_addr.value = ring.avail
        dut.used_addr.value = ring.used
        dut.feat_indirect.value = int(indirect)
        dut.feat_noe.value = int(noe)
        dut.feat_mrg_rxbuf.value = int(ring.hdr_len == 12)
        dut.feat_event_idx.value = int(event_idx)
        self.event_idx = event_idx
        dut.noe_policy.value = noe_policy
        dut.kick_suppress.value = int(kick_suppress)
        dut.pacing_timer.value = int(pacing)
        dut.pacing_interval.value = interval
        dut.push_batched.value = int(self.batched)
        dut.push_batch.value = batch or self.used_batch_max
        dut.push_flush.value = flush
        dut.fault.value = fault
        self.fault = fault
        dut.queue_enable.value = 1
        features = (indirect << VIRTIO_RING_F_INDIRECT_DESC) | (noe << VIRTIO_F_NOTIFY_ON_EMPTY) \
            | ((ring.hdr_len == 12) << VIRTIO_NET_F_MRG_RXBUF) | (event_idx << VIRTIO_RING_F_EVENT_IDX)
        self.hub.host_bar(True, 0, VIRTIO_PCI_GUEST_FEATURES, 4, features)
        self.hub.host_bar(True, 2, 0x200, 4, noe_policy)

    async def set_fault(self, value: int) -> None:
        """Fault knobs (test only); each block samples its own when it starts a packet."""
        await FallingEdge(self.dut.clk)
        self.dut.fault.value = value
        self.fault = value

    async def set_indirect(self, on: bool) -> None:
        await FallingEdge(self.dut.clk)
        self.dut.feat_indirect.value = int(on)
        features = (on << VIRTIO_RING_F_INDIRECT_DESC) | ((self.hdr_len == 12) << VIRTIO_NET_F_MRG_RXBUF) \
            | (int(self.dut.feat_noe.value) << VIRTIO_F_NOTIFY_ON_EMPTY)
        self.hub.host_bar(True, 0, VIRTIO_PCI_GUEST_FEATURES, 4, features)

    async def pulse(self, sig) -> None:
        await FallingEdge(self.dut.clk)
        sig.value = 1
        await FallingEdge(self.dut.clk)
        sig.value = 0

    async def notify(self) -> None:
        await self.pulse(self.dut.notify)

    async def dev_reset(self) -> None:
        """What the register block does on a status write of 0: reset pulse, DRIVER_OK cleared."""
        await FallingEdge(self.dut.clk)
        self.dut.dev_reset.value = 1
        self.dut.queue_enable.value = 0
        device_reset(self.hub)
        await FallingEdge(self.dut.clk)
        self.dut.dev_reset.value = 0

    async def wait_cycles(self, n: int) -> None:
        await Timer(n * CLK_NS, unit="ns")

    async def wait_idle(self, timeout_us: float = TIMEOUT_US) -> int:
        async def _wait():
            while True:
                await FallingEdge(self.dut.clk)
                if high(self.dut.idle):
                    return cycle_now()
        return await with_timeout(_wait(), timeout_us, "us")

    async def wait_used(self, ring: SplitRing, target: int, timeout_us: float = TIMEOUT_US) -> None:
        async def _wait():
            while ring.used_idx() != target & 0xFFFF:
                await self.dma.wait_write()
        await with_timeout(_wait(), timeout_us, "us")

    async def wait_used_progress(self, ring: SplitRing, timeout_us: float = TIMEOUT_US) -> None:
        start = ring.used_idx()

        async def _wait():
            while ring.used_idx() == start:
                await self.dma.wait_write()
        await with_timeout(_wait(), timeout_us, "us")

    async def wait_err(self, timeout_us: float = TIMEOUT_US) -> tuple[int, int]:
        async def _wait():
            while not self.errs:
                self.err_event.clear()
                await self.err_event.wait()
            return self.errs[0]
        return await with_timeout(_wait(), timeout_us, "us")

    # ---- monitors -------------------------------------------------------------------------------

    def _frame(self, frame) -> None:
        self.hub.frame(frame.sim_time_end / 1000, bytes(frame.tdata), bool(last_tuser(frame)))

    async def _pulse_monitor(self, sig, out: list, event: Event, value_sig, irq: bool = False) -> None:
        while True:
            await RisingEdge(sig)
            await ReadOnly()
            out.append((cycle_now(), int(value_sig.value)))
            if irq:
                self.hub.irq("msix", TX_VECTOR)
            event.set()
            await FallingEdge(self.dut.clk)
            await FallingEdge(self.dut.clk)
            if high(sig):
                self.error(f"{sig._name} longer than one cycle")

    async def _count_pulses(self, name: str) -> None:
        """One count per cycle the pulse is high (pulses of consecutive cycles are consecutive events)."""
        sig = getattr(self.dut, f"stat_{name}")
        while True:
            await RisingEdge(sig)
            while True:
                await FallingEdge(self.dut.clk)
                if not high(sig):
                    break
                self.stats[name] += 1

    async def _idle_monitor(self) -> None:
        dut = self.dut
        while True:
            await RisingEdge(dut.idle)
            await ReadOnly()
            if high(dut.rst):
                continue
            if self.dma.rd_outstanding or self.dma.wr_outstanding:
                self.error(f"idle with {self.dma.rd_outstanding} read / {self.dma.wr_outstanding} write "
                           "statuses owed")

    # ---- driver side ----------------------------------------------------------------------------

    def random_frame(self, lo: int = 60, hi: int = 1514) -> bytes:
        return self.rng.randbytes(self.rng.randint(lo, hi))

    def expect_sent(self, chains) -> None:
        """The frames these chains must put on the wire (the scoreboard's expectation), in ring order."""
        self.expected_frames.extend(c.frame for c in chains)

    async def run_traffic(self, ring: SplitRing, specs, burst=(1, 8), drain_prob: float = 0.2):
        """Queue ``specs`` [(frame, nbufs, indirect)] in random bursts, kick unless used.flags says not to,
        reclaim as the device returns buffers; check used entries. Returns the chains in ring order."""
        chains = []
        i = 0
        while i < len(specs) or ring.pending():
            added = 0
            want = self.rng.randint(*burst)
            while i < len(specs) and added < want:
                chain = ring.add_packet(*specs[i])
                if chain is None:
                    break
                chains.append(chain)
                self.expect_sent([chain])
                i += 1
                added += 1
            if added:
                ring.publish()
                if not ring.used_flags() & VRING_USED_F_NO_NOTIFY:
                    await self.notify()
            if ring.pending():
                if self.rng.random() < drain_prob:
                    await self.wait_used(ring, ring.avail_idx)
                    if self.rng.random() < 0.3:
                        await self.wait_idle()          # the next kick finds the engine idle
                else:
                    await self.wait_used_progress(ring)
            self.reclaim_check(ring)
        return chains

    def used_len(self, chain) -> int:
        """used.len of a TX chain: 0 (the device writes nothing into it); the chain's bytes with USED_LEN_READ."""
        return chain.total if self.fault & FAULT_USED_LEN_READ else 0

    def reclaim_check(self, ring: SplitRing) -> None:
        for expected, uid, ulen in ring.reclaim():
            if expected is None or uid != expected.head or ulen != self.used_len(expected):
                self.error(f"used element id {uid} len {ulen}, expected "
                           f"{None if expected is None else (expected.head, self.used_len(expected))}")

    def sink_frames(self) -> list:
        frames = []
        while not self.sink.empty():
            frames.append(self.sink.recv_nowait())
        return frames

    def check_frames(self, chains) -> None:
        frames = self.sink_frames()
        if len(frames) != len(chains):
            self.error(f"{len(frames)} frames on the wire, {len(chains)} queued")
        for k, (frame, chain) in enumerate(zip(frames, chains)):
            if bytes(frame.tdata) != chain.frame:
                self.error(f"frame {k} (head {chain.head}): {len(frame.tdata)} bytes on the wire, "
                           f"{len(chain.frame)} queued, first difference at "
                           f"{next((j for j, (a, b) in enumerate(zip(frame.tdata, chain.frame)) if a != b), None)}")
            if last_tuser(frame):
                self.error(f"frame {k} marked aborted")


def last_tuser(frame) -> int:
    tuser = frame.tuser
    if isinstance(tuser, list):
        return int(tuser[-1]) if tuser else 0
    return int(tuser or 0)


async def setup(dut, name: str, mrg_rxbuf: bool = False, **enable_kw) -> tuple[TB, SplitRing]:
    tb = TB(dut, name)
    await tb.cycle_reset()
    ring = tb.new_ring(mrg_rxbuf)
    await tb.enable(ring, **enable_kw)
    return tb, ring


async def reinit_and_check(tb: TB, npkts: int = 3, **enable_kw) -> None:
    """After dev_reset: a new ring at another base, re-enable, traffic must flow again."""
    ring = tb.new_ring(tb.rng.random() < 0.5, ring_off=tb.rng.choice([0x0000, 0x1000, 0x5000]))
    tb.sink_frames()
    await tb.enable(ring, **enable_kw)
    tb.hub.attach_sent(tb.expected_frames)
    tb.expected_frames.clear()
    chains = await tb.run_traffic(ring, [(tb.random_frame(), tb.rng.randint(1, 3), False) for _ in range(npkts)])
    tb.check_frames(chains)


def named(*values: str) -> list:
    """String parameters named by themselves (test_error/case=loop rather than case=3)."""
    return [cocotb.Param(v, v) for v in values]


POLICIES = named("per_packet", "batched")


# ---- traffic ------------------------------------------------------------------------------------


@cocotb.test()
@cocotb.parametrize(variant=named("basic", "ooo_hdr12", "backpressure"), push=POLICIES)
async def test_stream(dut, variant, push):
    """Frames of 60..1514 bytes in 1..4 data buffers, more packets than the ring holds: every byte on the
    wire in order, used entries {head, 0}. ``ooo_hdr12``: MRG_RXBUF header, out-of-order read statuses, DMA
    descriptor back-pressure. ``backpressure``: wire back-pressure. Both push policies."""
    tb, ring = await setup(dut, f"stream_{variant}_{push}", mrg_rxbuf=variant == "ooo_hdr12",
                           batched=push == "batched")
    if variant == "ooo_hdr12":
        tb.dma.out_of_order = True
        tb.dma.rd_latency = (2, 40)
        tb.dma.rd_ready_prob = 0.6
        tb.dma.wr_ready_prob = 0.7
    if variant == "backpressure":
        tb.sink.set_pause_generator(iter(lambda: tb.rng.random() < 0.5, None))
    n = {"basic": 3 * tb.qsize // 2, "ooo_hdr12": tb.qsize // 2, "backpressure": tb.qsize // 4}[variant]
    if REGRESS:
        n *= 8
    specs = [(tb.random_frame(), tb.rng.randint(1, 4), False) for _ in range(n)]
    chains = await tb.run_traffic(ring, specs, burst=(1, 12))
    await tb.wait_idle()
    tb.check_frames(chains)
    if tb.stats["frame"] != n:
        tb.error(f"stat_frame counted {tb.stats['frame']}, {n} frames sent")
    decisions = tb.stats["irq_normal"] + tb.stats["irq_noe"] + tb.stats["irq_suppressed"]
    if push == "per_packet" and (tb.stats["irq_normal"] != n or len(tb.irqs) != n):
        tb.error(f"{len(tb.irqs)} interrupts / {tb.stats['irq_normal']} counted for {n} packets with flags 0")
    if push == "batched" and not (0 < len(tb.irqs) == decisions <= n):
        tb.error(f"batched: {len(tb.irqs)} interrupts for {decisions} decisions and {n} packets (flags 0)")
    reads, writes = tb.dma.reads(), tb.dma.writes()
    tb.log.info("%s, %d packets: %d reads + %d writes = %.2f DMA descriptors per packet, %d pushes", push, n,
                len(reads), len(writes), (len(reads) + len(writes)) / n, decisions)
    tb.hub.finish()
    tb.check()


@cocotb.test()
@cocotb.parametrize(mode=named("kick_suppress", "pacing", "both"))
async def test_stress(dut, mode):
    """Traffic with the kick-suppression modes on (the driver kicks only while used.flags allows it),
    INDIRECT and direct chains, out-of-order read statuses and wire back-pressure together; the push policy
    changes at random between phases (the queue idle)."""
    ks = mode in ("kick_suppress", "both")
    pacing = mode in ("pacing", "both")
    tb, ring = await setup(dut, f"stress_{mode}", indirect=True, kick_suppress=ks, pacing=pacing, interval=300)
    tb.dma.out_of_order = True
    tb.dma.rd_latency = (2, 30)
    tb.sink.set_pause_generator(iter(lambda: tb.rng.random() < 0.3, None))
    n = tb.qsize // 2 * (8 if REGRESS else 1)
    chains = []
    for phase in range(4):
        await tb.wait_idle()
        tb.dut.push_batched.value = tb.rng.random() < 0.5
        tb.dut.push_batch.value = tb.rng.choice([1, 3, 8, tb.used_batch_max])
        specs = [(tb.random_frame(), tb.rng.randint(1, 4), tb.rng.random() < 0.3) for _ in range(n // 4)]
        chains += await tb.run_traffic(ring, specs, burst=(1, 6), drain_prob=0.3)
    await tb.wait_idle()
    tb.check_frames(chains)
    if ring.used_flags():
        tb.error("used.flags left set while idle")
    tb.log.info("%d packets, %d kicks", n, tb.stats["notify"])
    tb.hub.finish()
    tb.check()


@cocotb.test()
@cocotb.parametrize(push=POLICIES)
async def test_small_frames_wrap(dut, push):
    """Short single-buffer frames in large bursts: many wraps of the ring, the head FIFO, the descriptor
    window and the packet buffer shared by many packets in flight; with REGRESS, past a wrap of the 16-bit
    indices."""
    tb, ring = await setup(dut, f"small_frames_{push}", batched=push == "batched")
    n = 65536 + 300 if REGRESS else 2 * tb.qsize
    done = 0
    while done < n:
        m = min(n - done, 400)
        specs = [(tb.random_frame(60, 80), 1, False) for _ in range(m)]
        chains = await tb.run_traffic(ring, specs, burst=(16, 64), drain_prob=0.0)
        tb.check_frames(chains)
        done += m
    # every chain published and used from index 0 (the ring's own counts): the u16 wrap as a cover point
    eventlog.TestArtifacts.current().log.emit("tb", "ring_indices", queue="tx", published=done, used=done)
    tb.hub.finish()
    tb.check()


@cocotb.test()
@cocotb.parametrize(push=POLICIES, size=named("2", "quarter"))
async def test_negotiated_size(dut, push, size):
    """A running queue_size below the maximum (virtio 1.x lets the driver choose any smaller power of two):
    avail slots, the descriptor window and used slots wrap at the running size, a used batch is split at the
    ring's end before the staging area's; every frame, in order, over many wraps. Sizes 2 (the smallest) and
    a quarter of the maximum."""
    tb = TB(dut, f"negotiated_size_{size}_{push}")
    tb.qsize = 2 if size == "2" else max(2, tb.qsize // 4)
    await tb.cycle_reset()
    ring = tb.new_ring()
    await tb.enable(ring, batched=push == "batched", batch=tb.qsize)
    bufs = 1 if tb.qsize == 2 else 3
    chains = await tb.run_traffic(ring, [(tb.random_frame(60, 200), tb.rng.randint(1, bufs), False)
                                         for _ in range(8 * tb.qsize)], burst=(1, tb.qsize))
    tb.check_frames(chains)
    tb.hub.finish()
    tb.check()


@cocotb.test()
async def test_indirect(dut):
    """INDIRECT chains (feat_indirect = 1) mixed with direct ones; one INDIRECT descriptor per packet."""
    tb, ring = await setup(dut, "indirect", indirect=True)
    n = 3 * tb.qsize // 4
    specs = [(tb.random_frame(), tb.rng.randint(1, 6), tb.rng.random() < 0.7) for _ in range(n)]
    chains = await tb.run_traffic(ring, specs)
    tb.check_frames(chains)
    tables = [a for a in tb.dma.reads() if HOST_BASE + IND_OFF <= a.addr < HOST_BASE + DATA_OFF]
    if len(tables) != sum(c.indirect for c in chains):
        tb.error(f"{len(tables)} table reads for {sum(c.indirect for c in chains)} INDIRECT chains")
    tb.hub.finish()
    tb.check()


@cocotb.test()
@cocotb.parametrize(push=POLICIES)
async def test_pipelined(dut, push):
    """Several packets in flight: with a slow read completion (100..140 cycles) and a burst of 1514-byte
    frames, the data reads of later chains are issued while earlier frames are on the wire, and reads of
    several chains are outstanding at once; frames and used elements keep ring order, the wire is busy
    back to back once the first frame is in (where the DMA port is wider than the wire)."""
    tb, ring = await setup(dut, f"pipelined_{push}", batched=push == "batched")
    tb.dma.rd_latency = (100, 140)
    tb.dma.out_of_order = True
    ends: list[int] = []
    cocotb.start_soon(frame_end_monitor(tb, ends))
    n = 24
    chains = [ring.add_packet(tb.random_frame(1514, 1514), 2) for _ in range(n)]
    tb.expect_sent(chains)
    ring.publish()
    await tb.notify()
    await tb.wait_used(ring, n, timeout_us=2 * TIMEOUT_US)
    await tb.wait_idle()
    tb.reclaim_check(ring)
    tb.check_frames(chains)
    data = [a for a in tb.dma.reads() if a.addr >= HOST_BASE + DATA_OFF and a.length > 64]
    # most outstanding at once
    events = sorted([(a.cycle, 1) for a in data] + [(a.done, -1) for a in data])
    depth = peak = 0
    for _, d in events:
        depth += d
        peak = max(peak, depth)
    overlap = sum(1 for k, c in enumerate(chains[1:], 1) if any(
        a.cycle < ends[k - 1] and a.addr in [b for b, _ in c.buffers] for a in data))
    beats = 1514 // 8 + 1
    span = ends[-1] - ends[0]
    tb.log.info("%d frames: %d chains read while the one before was on the wire, %d data reads outstanding "
                "at most, %d cycles from the first frame's end to the last (%d beats each)", n, overlap, peak,
                span, beats)
    if peak < 4:
        tb.error(f"at most {peak} data reads outstanding: packets are not pipelined")
    if overlap < n // 2:
        tb.error(f"only {overlap} of {n - 1} chains were read while the frame before them was on the wire")
    # (a 64-bit DMA port moves no more bytes per cycle than the wire: there the DMA sets the pace). From the
    # second frame's end: the reads of the first five chains go out together and share the completion stream,
    # which the model serves out of order, so the second frame's last bytes may come after the first frame has
    # left (1 seed in 30 of the batched case, 26 and 31 cycles late in the two seen); then each frame's reads
    # go out a frame ahead and every gap is one frame (191 cycles in every seed looked at)
    steady = ends[-1] - ends[1]
    if tb.word_bytes > 8 and steady > (n - 2) * (beats + 2):
        tb.error(f"{steady} cycles for {n - 2} frames of {beats} beats: the wire idles between frames")
    tb.hub.finish()
    tb.check()


IRQ_CASES = {
    # name: (NO_INTERRUPT, noe_policy, feat_noe, expected per burst: "each" | "empty" | "none")
    "flags_clear": (0, NOE_NEVER, 0, "each"),
    "noe_acked": (1, NOE_WHEN_ACKED, 1, "empty"),
    "noe_not_acked": (1, NOE_WHEN_ACKED, 0, "none"),
    "always": (1, NOE_ALWAYS, 0, "empty"),
    "never": (1, NOE_NEVER, 1, "none"),
}


@cocotb.test()
@cocotb.parametrize(case=named(*IRQ_CASES), push=POLICIES)
async def test_irq(dut, case, push):
    """The interrupt decision after each push: flags clear -> one per push (cause 0: per packet, or per
    batch); NO_INTERRUPT with notify-on-empty (acked, or policy ALWAYS) -> one when the ring is empty
    (cause 1); else none."""
    no_int, policy, noe, expect = IRQ_CASES[case]
    tb, ring = await setup(dut, f"irq_{case}_{push}", noe=bool(noe), noe_policy=policy, batched=push == "batched")
    ring.avail_flags = VRING_AVAIL_F_NO_INTERRUPT if no_int else 0
    if policy == NOE_NEVER and noe:
        # the NEVER mode breaks the spec's MUST (notify on empty, acked) on purpose: irq_legality says so
        tb.expect("irq_legality")
    bursts = [tb.rng.randint(2, 6) for _ in range(3)]
    chains = []
    for size in bursts:
        start, dec0 = len(tb.irqs), tb.stats["irq_normal"] + tb.stats["irq_noe"] + tb.stats["irq_suppressed"]
        burst = [ring.add_packet(tb.random_frame(60, 300), 1) for _ in range(size)]
        tb.expect_sent(burst)
        chains += burst
        ring.publish()
        await tb.notify()
        await tb.wait_used(ring, ring.avail_idx)
        await tb.wait_idle()
        tb.reclaim_check(ring)
        pushes = tb.stats["irq_normal"] + tb.stats["irq_noe"] + tb.stats["irq_suppressed"] - dec0
        if push == "per_packet" and pushes != size:
            tb.error(f"per_packet: {pushes} decisions for a burst of {size}")
        if push == "batched" and not 1 <= pushes < size:
            tb.error(f"batched: {pushes} decisions for a burst of {size} (published at once)")
        got = [cause for _, cause in tb.irqs[start:]]
        want = {"each": [0] * pushes, "empty": [1], "none": []}[expect]
        if got != want:
            tb.error(f"burst of {size}, {pushes} pushes: interrupts {got}, expected {want}")
    total = tb.stats["irq_normal"] + tb.stats["irq_noe"] + tb.stats["irq_suppressed"]
    if (tb.stats["irq_normal"], tb.stats["irq_noe"], tb.stats["irq_suppressed"]) != \
            (sum(c == 0 for _, c in tb.irqs), sum(c == 1 for _, c in tb.irqs), total - len(tb.irqs)):
        tb.error(f"irq statistics {tb.stats}")
    tb.check_frames(chains)
    await tb.wait_cycles(120)
    tb.hub.finish()
    if policy == NOE_NEVER and noe and tb.fired("irq_legality") != len(bursts):
        tb.error(f"irq_legality fired {tb.fired('irq_legality')} times for {len(bursts)} empty rings")
    tb.check()


def need_event(event: int, new: int, old: int) -> bool:
    """vring_need_event (Linux include/uapi/linux/virtio_ring.h)."""
    return (new - event - 1) & 0xFFFF < (new - old) & 0xFFFF


@cocotb.test()
@cocotb.parametrize(push=POLICIES)
async def test_event_idx(dut, push):
    """EVENT_IDX through the whole queue (the avail block's used_event read and avail_event write on the
    shared DMA port, the used writer's decision): a driver that kicks only when avail.idx crosses avail_event
    and sets used_event as Linux's enable_cb / enable_cb_delayed do (the next completion, or 3/4 of the
    pending ones ahead), with kick_suppress on (no effect). Every frame on the wire; one used_event read
    after each used.idx write, and an interrupt exactly for the pushes that crossed it; no used.flags
    write; avail_event the next index whenever the queue is idle."""
    tb, ring = await setup(dut, f"event_idx_{push}", event_idx=True, kick_suppress=True, noe_policy=NOE_NEVER,
                           batched=push == "batched", batch=4)
    ue_addr, ae_addr = ring.avail + 4 + 2 * ring.qsize, ring.used + 4 + 8 * ring.qsize
    chains = []
    kicks = saved = 0
    for _ in range(24):
        # the driver: used_event for its next callback, then a burst, kicking only across avail_event
        pending = (ring.avail_idx - ring.last_used) & 0xFFFF
        delay = pending * 3 // 4 if tb.rng.random() < 0.5 else 0
        ring.mem.write_u16(ue_addr, (ring.last_used + delay) & 0xFFFF)
        old = ring.avail_idx
        burst = [ring.add_packet(tb.random_frame(60, 400), tb.rng.randint(1, 2))
                 for _ in range(min(tb.rng.randint(1, 8), ring.num_free() // 2))]
        burst = [c for c in burst if c is not None]
        tb.expect_sent(burst)
        chains += burst
        ring.publish()
        if need_event(ring.mem.read_u16(ae_addr), ring.avail_idx, old):
            kicks += 1
            await tb.notify()
        else:
            saved += 1
        await tb.wait_cycles(tb.rng.choice([tb.rng.randint(10, 100), tb.rng.randint(500, 1500)]))
        tb.reclaim_check(ring)
    await tb.wait_used(ring, ring.avail_idx)
    await tb.wait_idle()
    tb.reclaim_check(ring)
    tb.check_frames(chains)
    # each decision: the used.idx write, then one used_event read, then the interrupt iff it was crossed
    idx_writes = [a for a in tb.dma.writes() if a.addr == ring.used + 2]
    ev_reads = [a for a in tb.dma.reads() if a.addr == ue_addr]
    if len(ev_reads) != len(idx_writes):
        tb.error(f"{len(ev_reads)} used_event reads for {len(idx_writes)} used.idx writes")
    old = 0
    for k, (w, r) in enumerate(zip(idx_writes, ev_reads)):
        new = int.from_bytes(w.data, "little")
        nxt = ev_reads[k + 1].done if k + 1 < len(ev_reads) else cycle_now() + 1
        if not w.done < r.cycle:
            tb.error(f"used_event read at cycle {r.cycle} before the used.idx write's status ({w.done})")
        want = need_event(int.from_bytes(r.data, "little"), new, old)
        got = [c for cyc, c in tb.irqs if r.done <= cyc < nxt]
        if got != ([0] if want else []):
            tb.error(f"push {old}->{new}, used_event {int.from_bytes(r.data, 'little')}: interrupts {got}")
        old = new
    if [a for a in tb.dma.writes() if a.addr == ring.used]:
        tb.error("used.flags written with EVENT_IDX")
    if ring.mem.read_u16(ae_addr) != ring.avail_idx:
        tb.error(f"idle with avail_event {ring.mem.read_u16(ae_addr)}, next index {ring.avail_idx}")
    if tb.stats["irq_event"] != len(tb.irqs) or tb.stats["irq_event"] + tb.stats["irq_event_suppressed"] != \
            len(idx_writes) or not tb.irqs or tb.stats["irq_event_suppressed"] == 0 or not saved:
        tb.error(f"statistics {tb.stats}, {len(tb.irqs)} interrupts for {len(idx_writes)} pushes, {saved} bursts "
                 "without a kick")
    tb.log.info("%s: %d frames, %d kicks, %d bursts without, %d pushes, %d interrupts", push, len(chains), kicks,
                saved, len(idx_writes), len(tb.irqs))
    tb.hub.finish()
    tb.check()


@cocotb.test()
async def test_batched_push(dut):
    """The batched push policy: a burst larger than the batch goes out in pushes of push_batch elements,
    each one write of the elements (two where the staging area, and the ring, wrap), then used.idx, one
    decision each; a partial batch is pushed as soon as nothing more is known to come; with more coming
    but slow (a read that takes 1500 cycles), push_flush cycles after its first element."""
    tb, ring = await setup(dut, "batched_push", batched=True, batch=8, flush=4000)
    used_w = lambda: [a for a in tb.dma.writes() if ring.used + 4 <= a.addr < ring.used + 4 + 8 * ring.qsize]
    idx_w = lambda: [a for a in tb.dma.writes() if a.addr == ring.used + 2]
    # 30 packets at once: pushes of 8, 8, 8 and the rest of 6 (nothing more known)
    burst = [ring.add_packet(tb.random_frame(60, 200), 1) for _ in range(30)]
    tb.expect_sent(burst)
    ring.publish()
    await tb.notify()
    await tb.wait_used(ring, 30)
    await tb.wait_idle()
    tb.reclaim_check(ring)
    sizes = [a.length // 8 for a in used_w()]
    values = [int.from_bytes(a.data, "little") for a in idx_w()]
    tb.log.info("element writes of %s, used.idx writes %s", sizes, values)
    if sum(sizes) != 30 or any(s > 8 for s in sizes) or len(sizes) > 5:
        tb.error(f"element writes of {sizes} elements for 30 packets, batch 8")
    if values != [8, 16, 24, 30]:
        tb.error(f"used.idx writes {values}, expected [8, 16, 24, 30]")
    # three quick chains, then one whose data read takes 1500 cycles: the three are pushed push_flush (200)
    # cycles after the first of them was staged, long before the slow one completes
    await FallingEdge(dut.clk)
    dut.push_flush.value = 200
    mark = len(tb.dma.accesses)
    fast = [ring.add_packet(tb.random_frame(60, 200), 1) for _ in range(3)]
    slow = ring.add_packet(tb.random_frame(60, 200), 1)

    def slow_read(acc: Access) -> None:
        tb.dma.rd_latency = (1500, 1500) if acc.addr in [b for b, _ in slow.buffers] else (2, 8)

    tb.dma.read_hooks.insert(0, slow_read)
    tb.expect_sent([*fast, slow])
    ring.publish()
    await tb.notify()
    await tb.wait_used(ring, 34, timeout_us=40)
    await tb.wait_idle()
    tb.dma.read_hooks.remove(slow_read)
    tb.dma.rd_latency = (2, 12)
    tb.reclaim_check(ring)
    log = tb.dma.accesses[mark:]
    new = [(a.cycle, int.from_bytes(a.data, "little")) for a in log if a.kind == "wr" and a.addr == ring.used + 2]
    slow_rd = next(a for a in log if a.kind == "rd" and a.addr == slow.buffers[1][0])
    if [v for _, v in new] != [33, 34] or not new[0][0] < slow_rd.done:
        tb.error(f"used.idx writes {new}, the slow read completing at cycle {slow_rd.done}: expected 33 before "
                 "it (the flush timeout), then 34")
    tb.check_frames([*burst, *fast, slow])
    tb.hub.finish()
    tb.check()


@cocotb.test()
async def test_kick_suppress(dut):
    """kick_suppress: used.flags = NO_NOTIFY while busy, cleared when going idle; a packet published right
    after the clear (before the re-check read) is processed without a kick."""
    tb, ring = await setup(dut, "kick_suppress", kick_suppress=True)
    injected = []

    def inject(acc: Access) -> None:
        # driver publishes between the device's used.flags = 0 write and its re-read of avail.idx
        if acc.addr == ring.used and acc.data == b"\x00\x00" and len(injected) < 2:
            chain = ring.add_packet(tb.random_frame(60, 200), 2)
            tb.expect_sent([chain])
            ring.publish()
            injected.append((acc.cycle, chain))
            # the driver sees used.flags still set (not yet written) and does not kick

    tb.dma.write_hooks.append(inject)
    chains = [ring.add_packet(tb.random_frame(), 2) for _ in range(4)]
    tb.expect_sent(chains)
    ring.publish()
    await tb.notify()
    await tb.wait_used(ring, 4)
    await tb.wait_used(ring, 6)                 # the two injected packets, no kick
    await tb.wait_idle()
    tb.reclaim_check(ring)
    chains += [c for _, c in injected]
    tb.check_frames(chains)
    if tb.stats["notify"] != 1:
        tb.error(f"{tb.stats['notify']} notifies")
    flags = [(a.cycle, a.data) for a in tb.dma.writes() if a.addr == ring.used]
    values = [int.from_bytes(d, "little") for _, d in flags]
    # set, clear (inject), set, clear (inject), set, clear (nothing)
    if values != [1, 0, 1, 0, 1, 0]:
        tb.error(f"used.flags writes {values}")
    # after the last clear: one avail read, no more
    last_clear = flags[-1][0]
    after = tb.accesses_since(last_clear - 1)
    if [(a.kind, a.addr) for a in after] != [("wr", ring.used), ("rd", ring.avail)]:
        tb.error(f"after the last used.flags clear: {[(a.kind, hex(a.addr)) for a in after]}")
    if ring.used_flags() != 0:
        tb.error("used.flags left set while idle")
    # no used.idx write while used.flags was clear
    state = 0
    for a in tb.dma.writes():
        if a.addr == ring.used:
            state = a.data[0]
        elif a.addr == ring.used + 2 and not state:
            tb.error(f"used.idx written at cycle {a.cycle} with used.flags clear")
    tb.hub.finish()
    tb.check()


@cocotb.test()
async def test_pacing_timer(dut):
    """pacing_timer: a kick arms the timer and sets NO_NOTIFY; what the driver adds meanwhile (without
    kicking) goes out in one burst at expiry; a kick while armed flushes at once."""
    interval = 1500
    tb, ring = await setup(dut, "pacing", pacing=True, interval=interval)
    chains = [ring.add_packet(tb.random_frame(60, 200), 1)]
    ring.publish()
    await tb.notify()
    kick = cycle_now()
    await tb.wait_cycles(200)
    if ring.used_flags() != VRING_USED_F_NO_NOTIFY:
        tb.error("NO_NOTIFY not set while the timer is armed")
    for _ in range(5):                                  # the driver sees NO_NOTIFY: no kick
        chains.append(ring.add_packet(tb.random_frame(60, 200), 1))
        ring.publish()
        await tb.wait_cycles(50)
    tb.expect_sent(chains)
    arming = [(a.kind, a.addr, a.data) for a in tb.accesses_since(kick - 2)]
    if arming != [("wr", ring.used, b"\x01\x00")]:
        tb.error(f"while armed, expected only the used.flags = 1 write: {arming[:4]}")
    await tb.wait_used(ring, 6)
    after = tb.accesses_since(kick + 10)
    if not interval <= after[0].cycle - kick <= interval + 20:
        tb.error(f"processing started {after[0].cycle - kick} cycles after the kick, interval {interval}")
    if (after[0].kind, after[0].addr, after[0].data) != ("wr", ring.used, b"\x00\x00"):
        tb.error(f"expiry did not start with used.flags = 0: {after[0]}")
    await tb.wait_idle()
    tb.reclaim_check(ring)
    if [c for _, c in tb.irqs] != [0] * 6:
        tb.error(f"interrupts {tb.irqs}")

    # a kick while armed: processed at once
    more = [ring.add_packet(tb.random_frame(60, 200), 1)]
    ring.publish()
    await tb.notify()
    await tb.wait_cycles(100)
    more.append(ring.add_packet(tb.random_frame(60, 200), 1))
    ring.publish()
    tb.expect_sent(more)
    await tb.notify()
    second = cycle_now()
    await tb.wait_used(ring, 8)
    if cycle_now() - second > 600:
        tb.error(f"kick while armed took {cycle_now() - second} cycles")
    await tb.wait_idle()
    tb.reclaim_check(ring)
    tb.check_frames(chains + more)
    tb.hub.finish()
    tb.check()


# ---- bad input ----------------------------------------------------------------------------------


def indirect_table(tb: TB, ring: SplitRing, n: int = 2, loop: bool = False) -> list[tuple[int, int, int, int]]:
    """Table entries: header + (n-1) data buffers in a spare data slot."""
    base = ring.slot(ring.qsize - 1)
    entries = []
    for k in range(n):
        last = k == n - 1
        nxt = 0 if loop and last else k + 1
        flags = VRING_DESC_F_NEXT if (not last or loop) else 0
        entries.append((base + 64 * k, tb.hdr_len if k == 0 else 40, flags, nxt if flags else 0))
    return entries


def build_malformed(tb: TB, ring: SplitRing, name: str):
    """Returns (chain or None, expected cause, feat_indirect)."""
    if name == "avail_jump":
        ring.jump_avail_idx(ring.qsize + 1)
        return None, 1, False
    if name == "next_range":
        return ring.add_next_out_of_range(), 2, False
    if name == "head_range":
        return ring.add_head_out_of_range(), 2, False
    if name == "loop":
        return ring.add_loop(3), 3, False
    if name == "indirect_loop":
        return ring.add_indirect(indirect_table(tb, ring, 2, loop=True), error=3, bad_table=False), 3, True
    if name == "indirect_not_acked":
        return ring.add_indirect(indirect_table(tb, ring)), 4, False
    if name == "indirect_nested":
        inner = ring.table(ring.qsize - 2)
        entries = indirect_table(tb, ring, 1)
        entries[0] = (*entries[0][:2], VRING_DESC_F_NEXT, 1)
        entries.append((inner, 32, VRING_DESC_F_INDIRECT, 0))
        chain = ring.add_indirect(entries, bad_table=False)
        chain.bad = [(inner, 32)]
        return chain, 5, True
    if name == "indirect_after_desc":
        return ring.add_indirect(indirect_table(tb, ring), prefix=True), 5, True
    if name == "indirect_with_next":
        return ring.add_indirect(indirect_table(tb, ring), flags=VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT), 5, True
    if name == "indirect_len_odd":
        return ring.add_indirect(indirect_table(tb, ring), table_len=24), 6, True
    if name == "indirect_len_zero":
        return ring.add_indirect(indirect_table(tb, ring), table_len=0), 6, True
    if name == "indirect_len_big":
        return ring.add_indirect(indirect_table(tb, ring), table_len=16 * 65), 6, True
    if name == "write_flag":
        return ring.add_write_flag(), 7, False
    if name == "loop_after_too_long":
        # past the frame limit nothing more is read, but the walk goes on and still finds the loop
        d = ring.alloc(3)
        addr, n = ring._hdr_buf(d[0])
        big = ring.slot(d[1])
        return ring._raw(d, [(addr, n, VRING_DESC_F_NEXT, d[1]), (big, tb.max_frame + 1, VRING_DESC_F_NEXT, d[2]),
                             (ring.slot(d[2]), 1, VRING_DESC_F_NEXT, d[1])],
                         error=3, bad=[(big, tb.max_frame + 1), (ring.slot(d[2]), 1)]), 3, False
    if name == "dma_read_error":
        return ring.add_bad_addr(BAD_ADDR), 9, False
    if name == "dma_write_error":
        chain = ring.add_packet(tb.random_frame(60, 100), 1)
        elem = ring.used + 4 + 8 * ((ring.avail_idx - 1) % ring.qsize)
        tb.dma.wr_fail = lambda addr, length: addr == elem
        return chain, 10, False
    raise ValueError(name)


ERROR_CASES = ["avail_jump", "next_range", "head_range", "loop", "indirect_loop", "indirect_not_acked",
               "indirect_nested", "indirect_after_desc", "indirect_with_next", "indirect_len_odd",
               "indirect_len_zero", "indirect_len_big", "write_flag", "loop_after_too_long", "dma_read_error",
               "dma_write_error"]


@cocotb.test()
@cocotb.parametrize(case=named(*ERROR_CASES))
async def test_error(dut, case):
    """Each error cause: err_valid with the cause, no DMA to the offending address, no DMA at all after the
    error, idle; after dev_reset and re-enable traffic flows again."""
    tb, ring = await setup(dut, f"error_{case}")
    good = [ring.add_packet(tb.random_frame(60, 400), tb.rng.randint(1, 3)) for _ in range(2)]
    tb.expect_sent(good)
    ring.publish()
    await tb.notify()
    await tb.wait_used(ring, 2)
    await tb.wait_idle()
    tb.reclaim_check(ring)
    tb.check_frames(good)

    mark = cycle_now()
    chain, cause, indirect = build_malformed(tb, ring, case)
    await tb.set_indirect(indirect)
    if case == "dma_write_error":
        # the model fails the used element's write; the used.idx write behind it (issued before the failed
        # write's status came back) covers an element that never landed, and used_ring says so
        tb.expect("used_ring")
    ring.publish()
    await tb.notify()
    err_cycle, got = await tb.wait_err()
    if got != cause:
        tb.error(f"error cause {got}, expected {cause}")
    await tb.wait_cycles(300)
    if len(tb.errs) != 1:
        tb.error(f"{len(tb.errs)} error pulses")
    if not high(dut.idle):
        tb.error("not idle after the error")
    late = tb.accesses_since(err_cycle)
    if late:
        tb.error(f"DMA after the error (cycle {err_cycle}): {late[:3]}")
    for acc in tb.accesses_since(mark):
        for addr, length in (chain.bad if chain else []):
            if acc.kind == "rd" and acc.overlaps(addr, length):
                tb.error(f"read of the offending range {addr:#x}+{length}: {acc}")
        if case == "avail_jump" and acc.kind == "rd" and ring.avail + 3 < acc.addr < ring.used:
            tb.error(f"ring entries read after a bad avail.idx: {acc}")
    data_reads = [a.addr for a in tb.accesses_since(mark) if a.kind == "rd" and a.addr >= HOST_BASE + DATA_OFF]
    if len(data_reads) != len(set(data_reads)):
        tb.error(f"a buffer of the malformed chain was read twice: {[hex(a) for a in data_reads]}")
    frames = tb.sink_frames()
    if case not in ("dma_write_error",) and frames:
        tb.error(f"{len(frames)} frames sent for a malformed chain")
    # the queue stays stopped: kicks are ignored
    await tb.notify()
    await tb.wait_cycles(100)
    if tb.accesses_since(err_cycle):
        tb.error("DMA after a kick in the error state")

    tb.dma.wr_fail = None
    await tb.dev_reset()
    await tb.wait_idle()
    await reinit_and_check(tb)
    tb.check()


@cocotb.test()
@cocotb.parametrize(variant=named("direct", "indirect"), push=POLICIES)
async def test_drops(dut, variant, push):
    """Frame size is never a queue stop: above MAX_FRAME_LEN (by one byte, a 9000-byte jumbo) or below
    MIN_FRAME_LEN (a runt, an empty payload, a header cut short or split with nothing after it) the chain is
    dropped and counted (stat_drop_oversize / stat_drop_runt), its used element comes back in ring order, no
    buffer past the limit is read, and the frames around it go out byte-exact; no err_valid."""
    indirect = variant == "indirect"
    tb, ring = await setup(dut, f"drops_{variant}_{push}", indirect=indirect, batched=push == "batched")
    hdr = bytes(ring.hdr_len)
    rnd = tb.rng.randbytes
    mx, mn = tb.max_frame, tb.min_frame
    specs = [  # buffers (the first hdr_len bytes are the header)
        [hdr, rnd(mx)], [hdr, rnd(mx + 1)], [hdr, rnd(700), rnd(mx - 699)], [hdr, rnd(mn)], [hdr, rnd(mn - 1)],
        [hdr], [hdr[:4]], [hdr[:3], hdr[3:]], [hdr[:5], hdr[5:] + rnd(mn)], [hdr, rnd(60)],
    ]
    chains, sent, bad = [], [], []
    expect = {"drop_oversize": 0, "drop_runt": 0}
    for pieces in specs:
        c = ring.add_buffers(pieces, indirect=indirect)
        chains.append(c)
        n = len(b"".join(pieces)) - ring.hdr_len
        if n > mx:
            expect["drop_oversize"] += 1
        elif n < mn:
            expect["drop_runt"] += 1
        else:
            sent.append(c)
    if not indirect:
        # a 9000-byte jumbo in three buffers: the first is read, the rest never
        d = ring.alloc(3)
        addr, n = ring._hdr_buf(d[0])
        jumbo = [(addr, n), (ring.slot(d[1]), 1000), (HOST_BASE + JUMBO_OFF, 8000)]
        c = ring._raw(d, [(a, k, VRING_DESC_F_NEXT if i < 2 else 0, d[i + 1] if i < 2 else 0)
                          for i, (a, k) in enumerate(jumbo)])
        chains.append(c)
        bad.append(jumbo[2])
        expect["drop_oversize"] += 1
    c = ring.add_packet(tb.random_frame(60, 400), 2, indirect=indirect)
    chains.append(c)
    sent.append(c)
    tb.expect_sent(sent)
    ring.publish()
    await tb.notify()
    await tb.wait_used(ring, len(chains))
    await tb.wait_idle()
    got = ring.reclaim()
    if [(uid, ulen) for _, uid, ulen in got] != [(c.head, 0) for c in chains]:
        tb.error(f"used elements {[(uid, ulen) for _, uid, ulen in got]}, expected {[(c.head, 0) for c in chains]} "
                 "(ring order, len 0)")
    if tb.errs:
        tb.error(f"a queue error for a frame size: {tb.errs}")
    tb.check_frames(sent)
    counted = {k: tb.stats[k] for k in expect}
    if counted != expect:
        tb.error(f"drops counted {counted}, expected {expect}")
    for acc in tb.dma.reads():
        for a, n in bad:
            if acc.overlaps(a, n):
                tb.error(f"read past the frame limit: {acc}")
    # the queue keeps going
    more = [ring.add_packet(tb.random_frame(), 2, indirect=indirect) for _ in range(3)]
    tb.expect_sent(more)
    ring.publish()
    await tb.notify()
    await tb.wait_used(ring, len(chains) + len(more))
    ring.reclaim()
    tb.check_frames(more)
    tb.hub.finish()
    tb.check()


# ---- reset --------------------------------------------------------------------------------------


@cocotb.test()
@cocotb.parametrize(when=named("wire", "dma"))
async def test_reset_mid_frame(dut, when):
    """dev_reset while a frame is on the wire (heavy back-pressure, later chains read behind it) or while the
    data reads of several chains are in flight (long DMA latency): the frame ends with tlast + tuser, every
    issued DMA is counted back before idle, no DMA after idle, no used element for a chain not sent,
    traffic flows after re-enable."""
    tb, ring = await setup(dut, f"reset_{when}")
    if when == "wire":
        tb.sink.set_pause_generator(itertools.cycle([1, 1, 1, 0]))
    else:
        tb.dma.rd_latency = (150, 300)
        tb.dma.out_of_order = True
    chains = [ring.add_packet(tb.random_frame(1400, 1514), 4) for _ in range(6)]
    ring.publish()
    await tb.notify()
    if when == "wire":
        await with_timeout(RisingEdge(dut.m_axis_tx_tvalid), TIMEOUT_US, "us")
        await tb.wait_cycles(60)
    else:
        async def data_reads():
            while sum(1 for a in tb.dma.reads() if a.addr >= HOST_BASE + DATA_OFF) < 6:
                await FallingEdge(dut.clk)
        await with_timeout(data_reads(), TIMEOUT_US, "us")
    owed = tb.dma.rd_outstanding
    await tb.dev_reset()
    reset_cycle = cycle_now()
    idle_cycle = await tb.wait_idle()
    tb.log.info("reset at %d with %d reads owed, idle at %d", reset_cycle, owed, idle_cycle)
    if when == "dma" and owed and idle_cycle - reset_cycle < 100:
        tb.error(f"idle {idle_cycle - reset_cycle} cycles after reset with {owed} reads owed")
    tb.sink.clear_pause_generator()
    tb.sink.pause = False
    await tb.wait_cycles(300)
    late = tb.accesses_since(idle_cycle)
    if late:
        tb.error(f"DMA after idle: {late[:3]}")
    frames = tb.sink_frames()
    used = ring.used_idx()
    complete = [f for f in frames if not last_tuser(f)]
    if used > len(complete):
        tb.error(f"used.idx {used} with {len(complete)} frames sent: a chain completed without its frame")
    if when == "wire":
        if not frames or not last_tuser(frames[-1]):
            tb.error(f"cut frame not marked: {[(len(f.tdata), last_tuser(f)) for f in frames]}")
        else:
            cut = frames[-1]
            k = len(frames) - 1
            if bytes(cut.tdata[:-1]) != chains[k].frame[:len(cut.tdata) - 1] or len(cut.tdata) > len(chains[k].frame):
                tb.error("cut frame is not a prefix of the queued frame")
            for f, c in zip(frames[:-1], chains):
                if bytes(f.tdata) != c.frame or last_tuser(f):
                    tb.error("complete frame before the cut one differs")
    else:
        for f in frames:
            if last_tuser(f):
                tb.error("frame marked aborted although it was never started")
    if tb.dma.rd_outstanding or tb.dma.wr_outstanding:
        tb.error("statuses still owed after idle")
    tb.dma.rd_latency = (2, 12)
    await reinit_and_check(tb, 4)
    tb.check()


@cocotb.test()
async def test_reset_keeps_kick(dut):
    """A kick after a reset is not lost while the reset still drains: dev_reset while the wire holds a cut
    frame (tready low), a new ring enabled and kicked once before the wire moves: once it does, the cut
    frame ends (tuser) and the new ring is served without another kick. A kick while the queue is disabled
    (between a reset and the re-enable) belongs to no ring and is not remembered."""
    tb, ring = await setup(dut, "reset_keeps_kick")
    tb.sink.pause = True
    ring.add_packet(tb.random_frame(1000, 1514), 2)
    ring.publish()
    await tb.notify()
    await with_timeout(RisingEdge(dut.m_axis_tx_tvalid), TIMEOUT_US, "us")
    await tb.wait_cycles(50)
    await tb.dev_reset()
    reset_cycle = cycle_now()
    await tb.notify()                           # the queue is disabled: a kick for nobody
    ring2 = tb.new_ring(ring_off=0x5000)
    await tb.enable(ring2)
    tb.hub.attach_sent(tb.expected_frames)
    tb.expected_frames.clear()
    chains = [ring2.add_packet(tb.random_frame(60, 400), 1)]
    tb.expect_sent(chains)
    ring2.publish()
    await tb.notify()                           # the one kick, while the reset still drains
    await tb.wait_cycles(300)
    if high(dut.idle):
        tb.error("idle while the cut frame still waits for the wire")
    issued = tb.accesses_since(reset_cycle)
    if issued:
        tb.error(f"DMA issued while the reset drains: {issued[:3]}")
    tb.sink.pause = False
    await tb.wait_used(ring2, 1)
    await tb.wait_idle()
    tb.reclaim_check(ring2)
    frames = tb.sink_frames()
    if (len(frames) != 2 or not last_tuser(frames[0]) or last_tuser(frames[1])
            or bytes(frames[1].tdata) != chains[0].frame):
        tb.error(f"wire: {[(len(f.tdata), last_tuser(f)) for f in frames]}, expected the cut frame then the new one")

    # a kick while disabled is forgotten: enable with work published, no DMA until a kick after the enable
    await tb.dev_reset()
    await tb.wait_idle()
    await tb.notify()
    ring3 = tb.new_ring(ring_off=0x1000)
    chains = [ring3.add_packet(tb.random_frame(60, 400), 1)]
    ring3.publish()
    mark = cycle_now()
    await tb.enable(ring3)
    tb.hub.attach_sent(tb.expected_frames)
    tb.expected_frames.clear()
    tb.expect_sent(chains)
    await tb.wait_cycles(300)
    if tb.accesses_since(mark):
        tb.error(f"DMA without a kick after the enable: {tb.accesses_since(mark)[:3]}")
    await tb.notify()
    await tb.wait_used(ring3, 1)
    tb.reclaim_check(ring3)
    tb.check_frames(chains)
    tb.check()


# ---- limits and cost ----------------------------------------------------------------------------


@cocotb.test()
async def test_limits(dut):
    """Legal extremes: a direct chain of exactly Q descriptors, an INDIRECT table of INDIRECT_MAX entries,
    a frame of exactly MAX_FRAME_LEN bytes, empty buffers inside a chain (no DMA for them)."""
    tb, ring = await setup(dut, "limits", indirect=True)
    ind_max = int(dut.INDIRECT_MAX.value)
    chains = [ring.add_packet(tb.rng.randbytes(tb.rng.randint(4 * tb.qsize, 1500)), tb.qsize - 1)]
    tb.expect_sent(chains)
    ring.publish()
    await tb.notify()
    await tb.wait_used(ring, 1)
    tb.reclaim_check(ring)
    hdr = bytes(ring.hdr_len)
    specs = [
        [hdr, tb.rng.randbytes(tb.max_frame)],
        [hdr[:3], hdr[3:], tb.rng.randbytes(tb.max_frame - 1), b"x"],
        [hdr, b"", tb.rng.randbytes(100), b"", tb.rng.randbytes(7), b""],
        [b"", hdr, tb.rng.randbytes(60)],
    ]
    more = [ring.add_buffers(pieces) for pieces in specs]
    more.append(ring.add_packet(tb.rng.randbytes(tb.rng.randint(ind_max, 1500)), ind_max - 1, indirect=True))
    more.append(ring.add_buffers([hdr, tb.rng.randbytes(tb.max_frame)], indirect=True))
    tb.expect_sent(more)
    chains += more
    ring.publish()
    await tb.notify()
    await tb.wait_used(ring, len(chains))
    await tb.wait_idle()
    tb.reclaim_check(ring)
    tb.check_frames(chains)
    if any(a.length == 0 for a in tb.dma.accesses):
        tb.error("zero-length DMA")
    tb.hub.finish()
    tb.check()


@cocotb.test()
@cocotb.parametrize(push=POLICIES)
async def test_dma_count(dut, push):
    """DMA descriptors per packet, header + one data buffer (the header is not read). One packet per kick:
    avail.idx, ring entry, descriptor window, data, used element, used.idx, decision read = 7, either
    policy. A burst of 64: per_packet pushes each packet (data, element, used.idx, decision: 4 and the
    amortized ring reads); batched pushes 32 at a time (data and the amortized rest: about 1.3; the flush
    timeout set long, so the batch fills)."""
    tb, ring = await setup(dut, f"dma_count_{push}", batched=push == "batched", flush=20000)
    n = 8
    for k in range(n):
        c = ring.add_packet(tb.random_frame(), 1)
        tb.expect_sent([c])
        ring.publish()
        await tb.notify()
        await tb.wait_used(ring, k + 1)
        await tb.wait_idle()
    single = len(tb.dma.accesses) / n
    tb.reclaim_check(ring)
    mark = len(tb.dma.accesses)
    burst = 64
    tb.expect_sent([ring.add_packet(tb.random_frame(), 1) for _ in range(burst)])
    ring.publish()
    await tb.notify()
    await tb.wait_used(ring, n + burst)
    await tb.wait_idle()
    tb.reclaim_check(ring)
    per_pkt = (len(tb.dma.accesses) - mark) / burst
    tb.log.info("%s: DMA descriptors per packet (header + 1 data buffer): %.2f one per kick, %.2f in a burst of %d",
                push, single, per_pkt, burst)
    if single != 7:
        kinds = [(a.kind, hex(a.addr - ring.base) if a.addr - ring.base < 0x10000 else "buf", a.length)
                 for a in tb.dma.accesses[:len(tb.dma.accesses) // n]]
        tb.error(f"{single} DMA descriptors per packet with one packet per kick, expected 7: {kinds}")
    limit = 4.5 if push == "per_packet" else 1.5
    if per_pkt > limit:
        tb.error(f"{per_pkt} DMA descriptors per packet in a burst, expected at most {limit}")
    tb.sink_frames()
    tb.hub.finish()
    tb.check()


@cocotb.test()
async def test_not_enabled(dut):
    """No DMA while queue_enable is low; the engine only starts on a kick."""
    tb = TB(dut, "not_enabled")
    await tb.cycle_reset()
    ring = tb.new_ring()
    c = ring.add_packet(tb.random_frame(), 1)
    ring.publish()
    await tb.notify()
    await tb.wait_cycles(100)
    if tb.dma.accesses:
        tb.error("DMA while the queue is disabled")
    await tb.enable(ring)
    tb.expect_sent([c])
    await tb.wait_cycles(100)
    if tb.dma.accesses:
        tb.error("DMA without a kick")
    await tb.notify()
    await tb.wait_used(ring, 1)
    tb.reclaim_check(ring)
    tb.check()


# ---- fault knobs (test only): each breaks one virtio rule, and the shared checker for it fires -------


def used_elem_addr(ring: SplitRing, pos: int) -> int:
    return ring.used + 4 + 8 * (pos % ring.qsize)


async def fault_burst(tb: TB, ring: SplitRing, n: int, hi: int = 300, indirect_prob: float = 0.0,
                      poison: bool = False, sent: bool = True) -> list:
    """``n`` packets published at once, one kick; wait until all are used and the engine is idle, then
    reclaim (after idle: with USED_IDX_FIRST the used element lands after used.idx). ``poison``: the ring
    entry after the published ones holds 0xFFFF, a head the engine rejects (cause 2) if it ever uses it."""
    chains = [ring.add_packet(tb.random_frame(60, hi), tb.rng.randint(1, 3), tb.rng.random() < indirect_prob)
              for _ in range(n)]
    if sent:
        tb.expect_sent(chains)
    ring.publish()
    if poison:
        ring.mem.write_u16(ring.avail + 4 + 2 * (ring.avail_idx % ring.qsize), 0xFFFF)
    await tb.notify()
    await tb.wait_used(ring, ring.avail_idx)
    await tb.wait_idle()
    tb.reclaim_check(ring)
    return chains


async def fault_phase(tb: TB, ring: SplitRing, fault: int, bursts: int = 3, **burst_kw) -> tuple[int, int, list]:
    """Set the knobs (engine idle), run ``bursts`` bursts of 2..6 packets. Returns (used index of the
    phase's first packet, DMA log position at its start, chains)."""
    await tb.set_fault(fault)
    pos0, mark, chains = ring.last_used, len(tb.dma.accesses), []
    for _ in range(bursts):
        chains += await fault_burst(tb, ring, tb.rng.randint(2, 6), **burst_kw)
    return pos0, mark, chains


async def frame_end_monitor(tb: TB, out: list[int]) -> None:
    """Cycle of each frame's last beat (tvalid && tready && tlast) on the wire."""
    dut = tb.dut
    while True:
        await FallingEdge(dut.clk)
        if high(dut.m_axis_tx_tvalid) and high(dut.m_axis_tx_tready) and high(dut.m_axis_tx_tlast):
            out.append(cycle_now() + 1)


async def knob_on_off(tb: TB, ring: SplitRing, knob: int, checker: str, **burst_kw) -> tuple[int, int]:
    """Knob off (the checker quiet), on (it fires), off again (quiet): returns (fired while on, packets)."""
    n_on = 0
    fired_on = 0
    for fault in (0, knob, 0):
        if fault:
            tb.expect(checker)
        before = tb.fired(checker)
        _, _, phase = await fault_phase(tb, ring, fault, **burst_kw)
        fired = tb.fired(checker) - before
        if fault:
            fired_on, n_on = fired, len(phase)
        elif fired:
            tb.error(f"knob off: the {checker} checker fired {fired} times")
    return fired_on, n_on


@cocotb.test()
@cocotb.parametrize(push=POLICIES)
async def test_fault_ignore_no_interrupt(dut, push):
    """FAULT bit 0 IGNORE_NO_INTERRUPT: with avail.flags NO_INTERRUPT (notify-on-empty off) the queue
    interrupts (cause 0) after every push; irq_legality reports each; with the knob off, none."""
    tb, ring = await setup(dut, f"fault_ignore_no_interrupt_{push}", noe_policy=NOE_NEVER, batched=push == "batched")
    ring.avail_flags = VRING_AVAIL_F_NO_INTERRUPT
    irq0 = len(tb.irqs)
    fired, n = await knob_on_off(tb, ring, FAULT_IGNORE_NO_INTERRUPT, "irq_legality")
    pushes = len(tb.irqs) - irq0
    if not fired or fired != pushes or (push == "per_packet" and pushes != n):
        tb.error(f"{push}: {pushes} interrupts, irq_legality fired {fired} times, {n} packets")
    tb.check()


@cocotb.test()
async def test_fault_drop_irq(dut):
    """FAULT bit 1 DROP_IRQ: with avail.flags clear no interrupt at all (each decision counted as suppressed,
    irq_legality reports the missing MUST), while notify-on-empty (cause 1, NO_INTERRUPT set, policy ALWAYS)
    still fires once per burst; with the knob off, one cause-0 interrupt per packet."""
    tb, ring = await setup(dut, "fault_drop_irq", noe_policy=NOE_ALWAYS)
    for fault, flags, expect in ((0, 0, "each"), (FAULT_DROP_IRQ, 0, "none"),
                                 (FAULT_DROP_IRQ, VRING_AVAIL_F_NO_INTERRUPT, "empty"), (0, 0, "each")):
        ring.avail_flags = flags
        await tb.set_fault(fault)
        if fault and expect == "none":
            tb.expect("irq_legality")
        for _ in range(3):
            irq0, stats0, fired0 = len(tb.irqs), dict(tb.stats), tb.fired("irq_legality")
            burst = await fault_burst(tb, ring, tb.rng.randint(2, 6))
            await tb.wait_cycles(120)            # the checker's window closes
            tb.hub.finish()
            n = len(burst)
            got = [cause for _, cause in tb.irqs[irq0:]]
            want = {"each": [0] * n, "none": [], "empty": [1]}[expect]
            if got != want:
                tb.error(f"FAULT {fault:#x}, avail.flags {flags}: interrupts {got} for a burst of {n}, expected {want}")
            delta = tuple(tb.stats[k] - stats0[k] for k in ("irq_normal", "irq_noe", "irq_suppressed"))
            if delta != (want.count(0), want.count(1), n - len(want)):
                tb.error(f"FAULT {fault:#x}, avail.flags {flags}: irq statistics {delta} for a burst of {n}")
            fired = tb.fired("irq_legality") - fired0
            if fired != (n if expect == "none" else 0):
                tb.error(f"FAULT {fault:#x}, avail.flags {flags}: irq_legality fired {fired} times for {n} packets")
    tb.check()


@cocotb.test()
@cocotb.parametrize(push=POLICIES)
async def test_fault_used_idx_first(dut, push):
    """FAULT bit 2 USED_IDX_FIRST: used.idx is written before the used element(s) (used_ring reports each
    push), both writes still happen and the decision read waits for both statuses; with the knob off the
    elements come first and the checker is quiet."""
    tb, ring = await setup(dut, f"fault_used_idx_first_{push}", batched=push == "batched")
    fired, n = await knob_on_off(tb, ring, FAULT_USED_IDX_FIRST, "used_ring")
    # (the decision read waits for both writes: TB._barrier_check on every avail.idx read)
    if not fired or (push == "per_packet" and fired != n):
        tb.error(f"{push}: used_ring fired {fired} times for {n} packets")
    tb.check()


@cocotb.test()
async def test_fault_read_past_avail(dut):
    """FAULT bit 3 READ_PAST_AVAIL: avail.ring reads fetch one entry more than avail.idx allows
    (device_reads_published reports each), except when MAX_BATCH, the ring's end or the head FIFO leave no
    room; the extra entry (poisoned with 0xFFFF) is never used. Knob off: the checker is quiet."""
    tb, ring = await setup(dut, "fault_read_past_avail")
    chains = []
    for fault in (0, FAULT_READ_PAST_AVAIL, 0):
        await tb.set_fault(fault)
        if fault:
            tb.expect("device_reads_published")
        r0, v0 = len(tb.ring_reads), tb.fired("device_reads_published")
        sizes = [tb.rng.randint(1, tb.max_batch - 1) for _ in range(3)]
        if fault:
            # across the ring's end, and one burst above MAX_BATCH
            sizes.append(ring.qsize - ring.avail_idx % ring.qsize + 3)
            sizes.append(tb.max_batch + 3)
        for size in sizes:
            while size > 0:
                m = min(size, 64)
                chains += await fault_burst(tb, ring, m, hi=120, poison=True)
                size -= m
        extra = sum(count > allowed for _, count, allowed in tb.ring_reads[r0:])
        fired = tb.fired("device_reads_published") - v0
        tb.log.info("FAULT %#x: %d ring reads, %d past avail.idx, checker fired %d", fault,
                    len(tb.ring_reads) - r0, extra, fired)
        if fired != extra or (fault and extra < 3):
            tb.error(f"FAULT {fault:#x}: checker fired {fired} times, {extra} reads past avail.idx")
    if tb.errs:
        tb.error(f"engine errors {tb.errs}: the entry past avail.idx was used")
    tb.check_frames(chains)
    tb.check()


@cocotb.test()
@cocotb.parametrize(push=POLICIES)
async def test_fault_write_tx_buffer(dut, push):
    """FAULT bit 4 WRITE_TX_BUFFER: after each push's elements, a 2-byte write of 0xBAD0 into the header
    buffer of the push's last chain (direct and INDIRECT chains), then used.idx; dma_write_target reports
    each. Knob off: only used-ring writes."""
    tb, ring = await setup(dut, f"fault_write_tx_buffer_{push}", indirect=True, batched=push == "batched")
    fired, n = await knob_on_off(tb, ring, FAULT_WRITE_TX_BUFFER, "dma_write_target", indirect_prob=0.5)
    writes = [a for a in tb.dma.writes() if a.data == b"\xd0\xba"]
    if not fired or fired != len(writes) or (push == "per_packet" and fired != n):
        tb.error(f"{push}: dma_write_target fired {fired} times, {len(writes)} 0xBAD0 writes, {n} packets")
    tb.check()


async def fault_wire_test(dut, name: str, knob: int) -> None:
    """DROP_FRAME / DUP_FRAME: packets at used index 3 mod 4 leave the wire 0 / 2 times (identical, complete
    frames; the wire scoreboard reports each); every packet is still read and completed in order, each used
    element written after the last beat of its frames. Knob off before and after: one frame per packet."""
    tb, ring = await setup(dut, name)
    ends: list[int] = []
    cocotb.start_soon(frame_end_monitor(tb, ends))
    nframes = 0
    for fault in (0, knob, 0):
        if fault:
            tb.expect("wire_scoreboard")
        frames0, fired0 = tb.stats["frame"], tb.fired("wire_scoreboard")
        pos0, mark, phase = await fault_phase(tb, ring, fault, bursts=4)
        copies = [2 if fault == FAULT_DUP_FRAME and (pos0 + k) % 4 == 3 else
                  0 if fault == FAULT_DROP_FRAME and (pos0 + k) % 4 == 3 else 1 for k in range(len(phase))]
        hit = sum(c != 1 for c in copies)
        got = [bytes(f.tdata) for f in tb.sink_frames()]
        want = [c.frame for c, n in zip(phase, copies) for _ in range(n)]
        if got != want:
            tb.error(f"FAULT {fault:#x}: {len(got)} frames on the wire, expected {len(want)}")
        if tb.stats["frame"] - frames0 != sum(copies):
            tb.error(f"FAULT {fault:#x}: stat_frame counted {tb.stats['frame'] - frames0}, {sum(copies)} frames sent")
        fired = tb.fired("wire_scoreboard") - fired0
        if (fault and not (hit and fired)) or (not fault and fired):
            tb.error(f"FAULT {fault:#x}: {hit} packets hit, wire_scoreboard fired {fired} times")
        log = tb.dma.accesses[mark:]
        for k, (chain, n) in enumerate(zip(phase, copies)):
            nframes += n
            elem = next((a for a in log if a.kind == "wr" and a.addr <= used_elem_addr(ring, pos0 + k)
                         < a.addr + a.length), None)
            if n and (elem is None or len(ends) < nframes or not elem.cycle > ends[nframes - 1]):
                tb.error(f"FAULT {fault:#x}: used element of position {pos0 + k} written before its frame ended")
        if fault:
            # resynchronise the scoreboard on what the wire carried
            tb.expected_frames.clear()
            tb.hub.attach_sent(tb.expected_frames)
            tb.hub.expected = None
    tb.check()


@cocotb.test()
async def test_fault_drop_frame(dut):
    """FAULT bit 5 DROP_FRAME: a packet at used index 3 mod 4 is read and completed, but not sent."""
    await fault_wire_test(dut, "fault_drop_frame", FAULT_DROP_FRAME)


@cocotb.test()
async def test_fault_dup_frame(dut):
    """FAULT bit 6 DUP_FRAME: a packet at used index 3 mod 4 is sent twice, back to back."""
    await fault_wire_test(dut, "fault_dup_frame", FAULT_DUP_FRAME)


@cocotb.test()
@cocotb.parametrize(push=POLICIES)
async def test_fault_used_idx_ahead(dut, push):
    """FAULT bit 7 USED_IDX_AHEAD: each used.idx write is one too high (used_ring reports used.idx
    covering an element not written, or passing avail.idx); the used elements themselves are right. Knob
    off: used.idx = packets completed."""
    tb, ring = await setup(dut, f"fault_used_idx_ahead_{push}", batched=push == "batched")
    pos0, mark, chains = await fault_phase(tb, ring, 0, bursts=2)
    idx = [int.from_bytes(a.data, "little") for a in tb.dma.accesses[mark:] if a.kind == "wr" and a.addr == ring.used + 2]
    if idx[-1] != (pos0 + len(chains)) & 0xFFFF or tb.fired("used_ring"):
        tb.error(f"knob off: used.idx writes {idx}")

    await tb.set_fault(FAULT_USED_IDX_AHEAD)
    tb.expect("used_ring")
    pos0, mark = ring.last_used, len(tb.dma.accesses)
    n = tb.rng.randint(3, 8)
    burst = [ring.add_packet(tb.random_frame(60, 300), tb.rng.randint(1, 3)) for _ in range(n)]
    tb.expect_sent(burst)
    ring.publish()
    await tb.notify()
    await tb.wait_used(ring, ring.avail_idx + 1)
    await tb.wait_idle()
    if ring.used_idx() != (ring.avail_idx + 1) & 0xFFFF:
        tb.error(f"used.idx {ring.used_idx()} with avail.idx {ring.avail_idx}: not one past")
    for k, chain in enumerate(burst):
        if ring.used_elem(pos0 + k) != (chain.head, 0):
            tb.error(f"used element {pos0 + k}: {ring.used_elem(pos0 + k)}, expected {(chain.head, 0)}")
    if not tb.fired("used_ring"):
        tb.error("used_ring did not fire")
    tb.check_frames(chains + burst)
    tb.check()


@cocotb.test()
async def test_fault_used_len_read(dut):
    """FAULT bit 8 USED_LEN_READ: used.len is the chain's bytes (header + frame, what QEMU 0.10 wrote)
    instead of 0, for direct and INDIRECT chains (used_ring reports each); knob off before and after: 0.
    Everything else is unchanged (frames, order, interrupts)."""
    tb, ring = await setup(dut, "fault_used_len_read", indirect=True)
    for fault in (0, FAULT_USED_LEN_READ, 0):
        if fault:
            tb.expect("used_ring")
        fired0 = tb.fired("used_ring")
        pos0, mark, chains = await fault_phase(tb, ring, fault, indirect_prob=0.3)    # reclaim_check: tb.used_len
        lens = [ring.used_elem(pos0 + k)[1] for k in range(len(chains))]
        want = [c.total if fault else 0 for c in chains]
        if lens != want:
            tb.error(f"FAULT {fault:#x}: used.len {lens}, expected {want}")
        fired = tb.fired("used_ring") - fired0
        if fired != (len(chains) if fault else 0):
            tb.error(f"FAULT {fault:#x}: used_ring fired {fired} times for {len(chains)} packets")
        tb.check_frames(chains)
    tb.check()


# ---- pytest entry -------------------------------------------------------------------------------

import pytest  # noqa: E402

from sim import suite  # noqa: E402

TX_SOURCES = ("hdl/virtio/virtq_tx.v", "hdl/virtio/virtq_avail.v", "hdl/virtio/virtq_desc_walk.v",
              "hdl/virtio/virtq_tx_mover.v", "hdl/virtio/virtq_used.v", "hdl/dma/dma_mux.v", "hdl/pcie/dma_ram.v")

# make test: the block at 256 bits on Verilator; on Icarus at 64 bits the main stream, INDIRECT, the ring
# wrap, a refused ring (a descriptor loop) and the fault knobs (every test at both widths on both simulators
# under REGRESS)
SUITE = suite.Suite("tests.sim.test_virtq_tx", "virtq_tx", icarus_variants=["w64"], verilator_variants=["w256"],
                    icarus=r"test_stream/variant=basic/push=per_packet$|test_indirect$|test_small_frames_wrap/push=per_packet$"
                           r"|test_error/case=loop$|test_fault_|test_event_idx/push=batched$",
                    variants={f"w{w}": {"RAM_DATA_WIDTH": w, "FAULT_ENABLE": 1} for w in (256, 64)},
                    sources=TX_SOURCES)


@pytest.mark.sim
@pytest.mark.parametrize("case", SUITE.cases(globals()), ids=str)
def test_virtq_tx(case, sim_run):
    sim_run(case)
