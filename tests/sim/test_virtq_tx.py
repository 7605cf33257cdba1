"""Block-level test of virtq_tx (the TX virtqueue engine), no PCIe model.

The ``TB`` plays everything around the engine:

* host memory: a bytearray at ``HOST_BASE`` holding a legacy split ring built by ``vring_builder``;
* a transaction-level DMA model: on a read descriptor it snapshots host memory, and after a random
  latency (in order, or out of order) writes the bytes into the wrapper's client RAM (whole words with
  byte enables) and pulses the read status; reads outside host memory complete with error 2 (CA). On a
  write descriptor it applies the immediate bytes to host memory and pulses the write status. Every
  access is logged (cycle, kind, address, length) so tests can check what the engine touched;
* the wire: ``tb.simulation.axis_sink.AxisSink`` (optionally with backpressure);
* monitors for irq_valid / err_valid / stat_* pulses.

Invariants checked on every run: a ring-entry read starts at the device's next position and never goes
past the avail.idx value the engine last read; every used element write comes before the used.idx write
that covers it; the engine writes only the used ring; no status is owed when ``idle`` rises. The fault-knob
tests (``test_fault_*``, the engine's test-only ``fault`` input, hdl/virtio/README.md "Fault knobs") turn
the knob on and name the invariant they expect to fire (``TB.expect``): its violations are then collected
in ``TB.violations`` instead of failing the test; every other invariant stays armed.

Timing convention: inputs are driven and handshakes sampled at falling clock edges; "cycle n" is the
n-th rising edge (a descriptor sampled valid && ready at a falling edge is accepted at the next one).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import random
from dataclasses import dataclass

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import Event, FallingEdge, ReadOnly, RisingEdge, Timer, with_timeout
from cocotb.utils import get_sim_time

from tb.simulation.axis_sink import AxisSink
from tb.simulation.seed import seed_for

from tests.sim.vring_builder import (VRING_AVAIL_F_NO_INTERRUPT, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT,
                                     VRING_USED_F_NO_NOTIFY, HostMemory, SplitRing)

CLK_NS = 4
HOST_BASE = 0x1000_0000
HOST_SIZE = 1 << 20
RING_OFF = 0x1000
IND_OFF = 0x10000
DATA_OFF = 0x50000
JUMBO_OFF = 0xE0000             # past the data slots: a buffer the engine must never read (test_drops)
BAD_ADDR = 0x2000_0000          # outside host memory: the DMA model completes reads there with CA (2)
NOE_WHEN_ACKED, NOE_ALWAYS, NOE_NEVER = 0, 1, 2
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
# the invariants a fault knob may be expected to break (TB.expect)
RING_PAST_AVAIL = "ring_past_avail"       # a ring-entry read past the avail.idx last read
USED_IDX_EARLY = "used_idx_early"         # used.idx written before the used element it covers
WRITE_OUTSIDE_USED = "write_outside_used"  # a DMA write outside the used ring
TIMEOUT_US = 400
REGRESS = bool(os.environ.get("REGRESS"))


def high(sig) -> bool:
    """A 1-bit signal is 1 (X/Z before the first clock edge on Icarus count as 0)."""
    return str(sig.value) == "1"


def cycle_now() -> int:
    return int(get_sim_time("ns")) // CLK_NS


@dataclass
class Access:
    cycle: int          # rising edge at which the descriptor was accepted
    kind: str           # "rd" or "wr"
    addr: int
    length: int
    tag: int
    data: bytes         # read: bytes returned; write: immediate bytes
    done: int = -1      # write: cycle at which its status was sampled (-1 while owed)

    def overlaps(self, addr: int, length: int) -> bool:
        return self.addr < addr + length and addr < self.addr + self.length


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
        self.tag_msb = 1 << (int(dut.DMA_TAG_WIDTH.value) - 1)
        self.mem = HostMemory(HOST_BASE, HOST_SIZE)
        self.ring: SplitRing | None = None
        self.hdr_len = 10
        self.fault = 0                   # the knobs last driven (the engine samples them per packet)

        # DMA model knobs
        self.rd_latency = (2, 12)
        self.wr_latency = (1, 6)
        self.out_of_order = False
        self.rd_ready_prob = 1.0
        self.foreign_status_prob = 0.0
        self.wr_fail = None              # predicate(addr, length) -> True: complete the write with an error
        self.write_hooks = []            # callables(Access) run after a write is applied

        # DMA model state
        self.log_dma: list[Access] = []
        self.rd_heap: list[tuple[int, int, Access, int, int]] = []   # (due, seq, access, ram_addr, error)
        self.rd_seq = itertools.count()
        self.rd_event = Event()
        self.rd_last_due = 0
        self.rd_outstanding = 0
        self.wr_queue: list[tuple[int, int, int, Access, bool]] = []  # (due, tag, error, access, barrier)
        self.wr_event = Event()
        self.wr_outstanding = 0
        self.used_write_event = Event()
        self.seen_avail_idx: int | None = None
        self.used_shadow = 0
        self.used_elem_pending: set[int] = set()
        self.ring_reads: list[tuple[int, int, int]] = []   # (slot, count, entries published) of each ring read
        self.expected_violations: set[str] = set()
        self.violations: dict[str, list[str]] = {}

        # pulse monitors
        self.irqs: list[tuple[int, int]] = []
        self.irq_event = Event()
        self.errs: list[tuple[int, int]] = []
        self.err_event = Event()
        self.stats = {"frame": 0, "notify": 0, "irq_normal": 0, "irq_noe": 0, "irq_suppressed": 0,
                      "drop_oversize": 0, "drop_runt": 0}
        self.idle_rises: list[int] = []

        dut.rst.value = 1
        for name in ("queue_enable", "queue_base", "feat_indirect", "feat_noe", "feat_mrg_rxbuf", "noe_policy",
                     "kick_suppress", "pacing_timer", "pacing_interval", "fault", "notify", "dev_reset",
                     "s_axis_read_desc_status_tag", "s_axis_read_desc_status_error",
                     "s_axis_read_desc_status_valid", "s_axis_write_desc_status_tag",
                     "s_axis_write_desc_status_error", "s_axis_write_desc_status_valid",
                     "ram_wr_en", "ram_wr_addr", "ram_wr_be", "ram_wr_data"):
            getattr(dut, name).value = 0
        dut.m_axis_read_desc_ready.value = 1
        dut.m_axis_write_desc_ready.value = 1

        Clock(dut.clk, CLK_NS, unit="ns", impl="gpi").start()   # the C++ clock: no Python per edge
        self.sink = AxisSink(dut, "m_axis_tx", dut.clk, period_ps=CLK_NS * 1000)
        cocotb.start_soon(self._rd_desc_monitor())
        cocotb.start_soon(self._rd_completer())
        cocotb.start_soon(self._wr_desc_monitor())
        cocotb.start_soon(self._wr_status_driver())
        cocotb.start_soon(self._pulse_monitor(dut.irq_valid, self.irqs, self.irq_event, dut.irq_cause))
        cocotb.start_soon(self._pulse_monitor(dut.err_valid, self.errs, self.err_event, dut.err_cause))
        cocotb.start_soon(self._idle_monitor())
        for name in self.stats:
            cocotb.start_soon(self._count_pulses(name))

    # ---- bookkeeping ----------------------------------------------------------------------------

    def error(self, msg: str) -> None:
        self.log.error(msg)
        self.errors.append(msg)

    def check(self) -> None:
        assert not self.errors, f"seed {self.seed}: {self.errors[:5]}"

    def expect(self, *kinds: str) -> None:
        """The invariants named here are expected to fire (a fault knob is on): collect, do not fail."""
        self.expected_violations = set(kinds)

    def violation(self, kind: str, msg: str) -> None:
        """An invariant fired: a test error unless the running fault test expects it."""
        if kind in self.expected_violations:
            self.log.info("expected invariant violation (%s): %s", kind, msg)
            self.violations.setdefault(kind, []).append(msg)
        else:
            self.error(msg)

    def accesses_since(self, cycle: int) -> list[Access]:
        return [a for a in self.log_dma if a.cycle > cycle]

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
        self.used_shadow = 0
        self.used_elem_pending.clear()
        return self.ring

    async def enable(self, ring: SplitRing, indirect: bool = False, noe: bool = False, noe_policy: int = 0,
                     kick_suppress: bool = False, pacing: bool = False, interval: int = 0, fault: int = 0) -> None:
        dut = self.dut
        await FallingEdge(dut.clk)
        dut.queue_base.value = ring.base
        dut.feat_indirect.value = int(indirect)
        dut.feat_noe.value = int(noe)
        dut.feat_mrg_rxbuf.value = int(ring.hdr_len == 12)
        dut.noe_policy.value = noe_policy
        dut.kick_suppress.value = int(kick_suppress)
        dut.pacing_timer.value = int(pacing)
        dut.pacing_interval.value = interval
        dut.fault.value = fault
        self.fault = fault
        dut.queue_enable.value = 1

    async def set_fault(self, value: int) -> None:
        """Fault knobs (test only); the engine samples them before each packet."""
        await FallingEdge(self.dut.clk)
        self.dut.fault.value = value
        self.fault = value

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
                self.used_write_event.clear()
                await self.used_write_event.wait()
        await with_timeout(_wait(), timeout_us, "us")

    async def wait_used_progress(self, ring: SplitRing, timeout_us: float = TIMEOUT_US) -> None:
        start = ring.used_idx()

        async def _wait():
            while ring.used_idx() == start:
                self.used_write_event.clear()
                await self.used_write_event.wait()
        await with_timeout(_wait(), timeout_us, "us")

    async def wait_err(self, timeout_us: float = TIMEOUT_US) -> tuple[int, int]:
        async def _wait():
            while not self.errs:
                self.err_event.clear()
                await self.err_event.wait()
            return self.errs[0]
        return await with_timeout(_wait(), timeout_us, "us")

    # ---- DMA model: reads -----------------------------------------------------------------------

    async def _rd_desc_monitor(self) -> None:
        dut = self.dut
        while True:
            if not high(dut.m_axis_read_desc_valid):
                await RisingEdge(dut.m_axis_read_desc_valid)
            await FallingEdge(dut.clk)
            ready = self.rd_ready_prob >= 1.0 or self.rng.random() < self.rd_ready_prob
            dut.m_axis_read_desc_ready.value = int(ready)
            if not (ready and high(dut.m_axis_read_desc_valid)):
                continue
            addr = int(dut.m_axis_read_desc_pcie_addr.value)
            length = int(dut.m_axis_read_desc_len.value)
            tag = int(dut.m_axis_read_desc_tag.value)
            ram_addr = int(dut.m_axis_read_desc_ram_addr.value)
            cyc = cycle_now() + 1
            ok = self.mem.contains(addr, length) and length > 0
            data = self.mem.read(addr, length) if ok else b""
            acc = Access(cyc, "rd", addr, length, tag, data)
            self.log_dma.append(acc)
            self._check_read(acc)
            if not tag & self.tag_msb:
                self.error(f"read tag {tag:#x} without the MSB")
            due = cyc + self.rng.randint(*self.rd_latency)
            if not self.out_of_order:
                due = max(due, self.rd_last_due + 1)
                self.rd_last_due = due
            heapq.heappush(self.rd_heap, (due, next(self.rd_seq), acc, ram_addr, 0 if ok else 2))
            self.rd_outstanding += 1
            self.rd_event.set()

    def _check_read(self, acc: Access) -> None:
        ring = self.ring
        if ring is None:
            return
        if acc.addr == ring.avail and acc.length >= 4:
            self.seen_avail_idx = int.from_bytes(acc.data[2:4], "little") if acc.data else None
            if any(barrier for *_, barrier in self.wr_queue):
                self.error(f"avail read at cycle {acc.cycle} before the used.idx / used.flags write status")
        ring_lo, ring_hi = ring.avail + 4, ring.avail + 4 + 2 * ring.qsize
        if acc.addr < ring_hi and ring_lo < acc.addr + acc.length:
            slot = (acc.addr - ring_lo) // 2
            count = acc.length // 2
            pos = self.used_shadow
            if self.seen_avail_idx is None:
                self.error(f"ring entries read at {acc.addr:#x} before any avail.idx read")
                return
            allowed = (self.seen_avail_idx - pos) & 0xFFFF
            self.ring_reads.append((slot, count, allowed))
            msg = f"ring read slot {slot} x{count}: next position {pos}, avail.idx read {self.seen_avail_idx}"
            if acc.addr % 2 or acc.length % 2 or slot != pos % ring.qsize or slot + count > ring.qsize:
                self.error(msg)
            elif count > allowed:
                self.violation(RING_PAST_AVAIL, msg)

    def _ram_words(self, ram_addr: int, data: bytes):
        wb = self.word_bytes
        first = ram_addr // wb
        lead = ram_addr % wb
        buf = bytes(lead) + data
        buf += bytes(-len(buf) % wb)
        for k in range(len(buf) // wb):
            lo = max(0, lead - k * wb)
            hi = min(wb, lead + len(data) - k * wb)
            be = ((1 << hi) - 1) & ~((1 << lo) - 1)
            yield first + k, be, int.from_bytes(buf[k * wb:(k + 1) * wb], "little")

    async def _rd_completer(self) -> None:
        dut = self.dut
        while True:
            while not self.rd_heap:
                self.rd_event.clear()
                await self.rd_event.wait()
            due, _, acc, ram_addr, err = heapq.heappop(self.rd_heap)
            now = cycle_now()
            if due > now + 1:
                await Timer((due - now - 1) * CLK_NS, unit="ns")
            await FallingEdge(dut.clk)
            if self.foreign_status_prob and self.rng.random() < self.foreign_status_prob:
                # a status of the other DMA client (tag MSB clear), even with an error: to be ignored
                dut.s_axis_read_desc_status_tag.value = self.rng.randrange(self.tag_msb)
                dut.s_axis_read_desc_status_error.value = self.rng.choice([0, 0, 2])
                dut.s_axis_read_desc_status_valid.value = 1
                await FallingEdge(dut.clk)
                dut.s_axis_read_desc_status_valid.value = 0
            if not err:
                for word, be, value in self._ram_words(ram_addr, acc.data):
                    dut.ram_wr_en.value = 1
                    dut.ram_wr_addr.value = word
                    dut.ram_wr_be.value = be
                    dut.ram_wr_data.value = value
                    await FallingEdge(dut.clk)
                dut.ram_wr_en.value = 0
            dut.s_axis_read_desc_status_tag.value = acc.tag
            dut.s_axis_read_desc_status_error.value = err
            dut.s_axis_read_desc_status_valid.value = 1
            self.rd_outstanding -= 1
            await FallingEdge(dut.clk)
            dut.s_axis_read_desc_status_valid.value = 0

    # ---- DMA model: writes ----------------------------------------------------------------------

    async def _wr_desc_monitor(self) -> None:
        dut = self.dut
        while True:
            if not high(dut.m_axis_write_desc_valid):
                await RisingEdge(dut.m_axis_write_desc_valid)
            await FallingEdge(dut.clk)
            if not high(dut.m_axis_write_desc_valid):
                continue
            addr = int(dut.m_axis_write_desc_pcie_addr.value)
            length = int(dut.m_axis_write_desc_len.value)
            tag = int(dut.m_axis_write_desc_tag.value)
            if not high(dut.m_axis_write_desc_imm_en) or not 1 <= length <= 8:
                self.error(f"write at {addr:#x}: imm_en {dut.m_axis_write_desc_imm_en.value} len {length}")
                length = max(1, min(length, 8))
            data = int(dut.m_axis_write_desc_imm.value).to_bytes(8, "little")[:length]
            acc = Access(cycle_now() + 1, "wr", addr, length, tag, data)
            self.log_dma.append(acc)
            fail = self.wr_fail is not None and self.wr_fail(addr, length)
            self._check_write(acc)
            if not fail and self.mem.contains(addr, length):
                self.mem.write(addr, data)
            due = acc.cycle + self.rng.randint(*self.wr_latency)
            if self.wr_queue:
                due = max(due, self.wr_queue[-1][0] + 1)
            # used.idx and used.flags = 0 must be out before avail is read again (the barrier)
            barrier = self.ring is not None and (addr == self.ring.used + 2 or
                                                 (addr == self.ring.used and data == b"\x00\x00"))
            self.wr_queue.append((due, tag, 1 if fail else 0, acc, barrier))
            self.wr_outstanding += 1
            self.wr_event.set()
            for hook in list(self.write_hooks):
                hook(acc)
            self.used_write_event.set()

    def _check_write(self, acc: Access) -> None:
        ring = self.ring
        if ring is None:
            return
        if acc.addr == ring.used + 2 and acc.length == 2:
            new = int.from_bytes(acc.data, "little")
            pos = self.used_shadow
            while pos != new:
                if pos % ring.qsize not in self.used_elem_pending:
                    self.violation(USED_IDX_EARLY, f"used.idx {new} written before the used element of position {pos}")
                self.used_elem_pending.discard(pos % ring.qsize)
                pos = (pos + 1) & 0xFFFF
            self.used_shadow = new
        elif ring.used + 4 <= acc.addr < ring.used + 4 + 8 * ring.qsize:
            if acc.length != 8 or (acc.addr - ring.used - 4) % 8:
                self.error(f"odd used element write {acc.addr:#x} len {acc.length}")
            self.used_elem_pending.add((acc.addr - ring.used - 4) // 8)
        elif acc.addr == ring.used and acc.length == 2:
            pass
        else:
            self.violation(WRITE_OUTSIDE_USED, f"write outside the used ring: {acc.addr:#x} len {acc.length}")

    async def _wr_status_driver(self) -> None:
        dut = self.dut
        while True:
            while not self.wr_queue:
                self.wr_event.clear()
                await self.wr_event.wait()
            due, tag, err, acc, _ = self.wr_queue[0]
            now = cycle_now()
            if due > now + 1:
                await Timer((due - now - 1) * CLK_NS, unit="ns")
            await FallingEdge(dut.clk)
            self.wr_queue.pop(0)
            dut.s_axis_write_desc_status_tag.value = tag
            dut.s_axis_write_desc_status_error.value = err
            dut.s_axis_write_desc_status_valid.value = 1
            acc.done = cycle_now() + 1
            self.wr_outstanding -= 1
            await FallingEdge(dut.clk)
            dut.s_axis_write_desc_status_valid.value = 0

    # ---- monitors -------------------------------------------------------------------------------

    async def _pulse_monitor(self, sig, out: list, event: Event, value_sig) -> None:
        while True:
            await RisingEdge(sig)
            await ReadOnly()
            out.append((cycle_now(), int(value_sig.value)))
            event.set()
            await FallingEdge(self.dut.clk)
            await FallingEdge(self.dut.clk)
            if high(sig):
                self.error(f"{sig._name} longer than one cycle")

    async def _count_pulses(self, name: str) -> None:
        sig = getattr(self.dut, f"stat_{name}")
        while True:
            await RisingEdge(sig)
            self.stats[name] += 1

    async def _idle_monitor(self) -> None:
        dut = self.dut
        while True:
            await RisingEdge(dut.idle)
            await ReadOnly()
            if high(dut.rst):
                continue
            self.idle_rises.append(cycle_now())
            if self.rd_outstanding or self.wr_outstanding:
                self.error(f"idle with {self.rd_outstanding} read / {self.wr_outstanding} write statuses owed")

    # ---- driver side ----------------------------------------------------------------------------

    def random_frame(self, lo: int = 60, hi: int = 1514) -> bytes:
        return self.rng.randbytes(self.rng.randint(lo, hi))

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
        """used.len of a TX chain: 0 (the device writes nothing into it); bytes read with USED_LEN_READ."""
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
    chains = await tb.run_traffic(ring, [(tb.random_frame(), tb.rng.randint(1, 3), False) for _ in range(npkts)])
    tb.check_frames(chains)


def named(*values: str) -> list:
    """String parameters named by themselves (test_error/case=loop rather than case=3)."""
    return [cocotb.Param(v, v) for v in values]


# ---- tests --------------------------------------------------------------------------------------


@cocotb.test()
@cocotb.parametrize(variant=named("basic", "ooo_hdr12", "backpressure"))
async def test_stream(dut, variant):
    """Frames of 60..1514 bytes in 1..4 data buffers, more packets than the ring holds: every byte on the
    wire in order, used entries {head, 0}. ``ooo_hdr12``: MRG_RXBUF header, out-of-order read
    statuses, DMA descriptor backpressure, foreign statuses. ``backpressure``: wire backpressure."""
    tb, ring = await setup(dut, f"stream_{variant}", mrg_rxbuf=variant == "ooo_hdr12")
    if variant == "ooo_hdr12":
        tb.out_of_order = True
        tb.rd_latency = (2, 40)
        tb.rd_ready_prob = 0.6
        tb.foreign_status_prob = 0.1
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
    if tb.stats["irq_normal"] != n or len(tb.irqs) != n:
        tb.error(f"{len(tb.irqs)} interrupts / {tb.stats['irq_normal']} counted for {n} packets with flags 0")
    reads = [a for a in tb.log_dma if a.kind == "rd"]
    writes = [a for a in tb.log_dma if a.kind == "wr"]
    tb.log.info("%d packets: %d reads + %d writes = %.2f DMA descriptors per packet", n, len(reads), len(writes),
                (len(reads) + len(writes)) / n)
    tb.check()


@cocotb.test()
@cocotb.parametrize(mode=named("kick_suppress", "pacing", "both"))
async def test_stress(dut, mode):
    """Traffic with the kick-suppression modes on (the driver kicks only while used.flags allows it),
    INDIRECT and direct chains, out-of-order read statuses and wire backpressure together."""
    ks = mode in ("kick_suppress", "both")
    pacing = mode in ("pacing", "both")
    tb, ring = await setup(dut, f"stress_{mode}", indirect=True, kick_suppress=ks, pacing=pacing, interval=300)
    tb.out_of_order = True
    tb.rd_latency = (2, 30)
    tb.sink.set_pause_generator(iter(lambda: tb.rng.random() < 0.3, None))
    n = tb.qsize // 2 * (8 if REGRESS else 1)
    specs = [(tb.random_frame(), tb.rng.randint(1, 4), tb.rng.random() < 0.3) for _ in range(n)]
    chains = await tb.run_traffic(ring, specs, burst=(1, 6), drain_prob=0.3)
    await tb.wait_idle()
    tb.check_frames(chains)
    if ring.used_flags():
        tb.error("used.flags left set while idle")
    tb.log.info("%d packets, %d kicks", n, tb.stats["notify"])
    tb.check()


@cocotb.test()
async def test_small_frames_wrap(dut):
    """Short single-buffer frames in large bursts: many wraps of the ring, a descriptor window and the
    head cache shared by several packets; with REGRESS, past a wrap of the 16-bit indices."""
    tb, ring = await setup(dut, "small_frames")
    n = 65536 + 300 if REGRESS else 2 * tb.qsize
    done = 0
    while done < n:
        m = min(n - done, 400)
        specs = [(tb.random_frame(60, 80), 1, False) for _ in range(m)]
        chains = await tb.run_traffic(ring, specs, burst=(16, 64), drain_prob=0.0)
        tb.check_frames(chains)
        done += m
    tb.check()


@cocotb.test()
async def test_indirect(dut):
    """INDIRECT chains (feat_indirect = 1) mixed with direct ones; one INDIRECT descriptor per packet."""
    tb, ring = await setup(dut, "indirect", indirect=True)
    n = 3 * tb.qsize // 4
    specs = [(tb.random_frame(), tb.rng.randint(1, 6), tb.rng.random() < 0.7) for _ in range(n)]
    chains = await tb.run_traffic(ring, specs)
    tb.check_frames(chains)
    tables = [a for a in tb.log_dma if a.kind == "rd" and HOST_BASE + IND_OFF <= a.addr < HOST_BASE + DATA_OFF]
    if len(tables) != sum(c.indirect for c in chains):
        tb.error(f"{len(tables)} table reads for {sum(c.indirect for c in chains)} INDIRECT chains")
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
@cocotb.parametrize(case=named(*IRQ_CASES))
async def test_irq(dut, case):
    """The interrupt decision after each packet: flags clear -> one per packet (cause 0); NO_INTERRUPT
    with notify-on-empty (acked, or policy ALWAYS) -> one when the ring is empty (cause 1); else none."""
    no_int, policy, noe, expect = IRQ_CASES[case]
    tb, ring = await setup(dut, f"irq_{case}", noe=bool(noe), noe_policy=policy)
    ring.avail_flags = VRING_AVAIL_F_NO_INTERRUPT if no_int else 0
    bursts = [tb.rng.randint(2, 6) for _ in range(3)]
    chains = []
    for size in bursts:
        start = len(tb.irqs)
        for _ in range(size):
            chains.append(ring.add_packet(tb.random_frame(60, 300), 1))
        ring.publish()
        await tb.notify()
        await tb.wait_used(ring, ring.avail_idx)
        await tb.wait_idle()
        tb.reclaim_check(ring)
        got = [cause for _, cause in tb.irqs[start:]]
        want = {"each": [0] * size, "empty": [1], "none": []}[expect]
        if got != want:
            tb.error(f"burst of {size}: interrupts {got}, expected {want}")
    total = sum(bursts)
    sup = total - len(tb.irqs)
    if (tb.stats["irq_normal"], tb.stats["irq_noe"], tb.stats["irq_suppressed"]) != \
            (sum(c == 0 for _, c in tb.irqs), sum(c == 1 for _, c in tb.irqs), sup):
        tb.error(f"irq statistics {tb.stats}")
    tb.check_frames(chains)
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
            ring.publish()
            injected.append((acc.cycle, chain))
            # the driver sees used.flags still set (not yet written) and does not kick

    tb.write_hooks.append(inject)
    chains = [ring.add_packet(tb.random_frame(), 2) for _ in range(4)]
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
    flags = [(a.cycle, a.data) for a in tb.log_dma if a.kind == "wr" and a.addr == ring.used]
    values = [int.from_bytes(d, "little") for _, d in flags]
    # set, clear (inject), set, clear (inject), set, clear (nothing)
    if values != [1, 0, 1, 0, 1, 0]:
        tb.error(f"used.flags writes {values}")
    # while the flag was set every used.idx write happened; after the last clear: one avail read, no more
    last_clear = flags[-1][0]
    after = tb.accesses_since(last_clear - 1)
    if [(a.kind, a.addr) for a in after] != [("wr", ring.used), ("rd", ring.avail)]:
        tb.error(f"after the last used.flags clear: {[(a.kind, hex(a.addr)) for a in after]}")
    if ring.used_flags() != 0:
        tb.error("used.flags left set while idle")
    # no used.idx write while used.flags was clear
    state = 0
    for a in tb.log_dma:
        if a.kind == "wr" and a.addr == ring.used:
            state = a.data[0]
        elif a.kind == "wr" and a.addr == ring.used + 2 and not state:
            tb.error(f"used.idx written at cycle {a.cycle} with used.flags clear")
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
    chains.append(ring.add_packet(tb.random_frame(60, 200), 1))
    ring.publish()
    await tb.notify()
    await tb.wait_cycles(100)
    chains.append(ring.add_packet(tb.random_frame(60, 200), 1))
    ring.publish()
    await tb.notify()
    second = cycle_now()
    await tb.wait_used(ring, 8)
    if cycle_now() - second > 600:
        tb.error(f"kick while armed took {cycle_now() - second} cycles")
    await tb.wait_idle()
    tb.reclaim_check(ring)
    tb.check_frames(chains)
    tb.check()


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
        tb.wr_fail = lambda addr, length: addr == elem
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
    ring.publish()
    await tb.notify()
    await tb.wait_used(ring, 2)
    tb.reclaim_check(ring)
    tb.check_frames(good)

    mark = cycle_now()
    chain, cause, indirect = build_malformed(tb, ring, case)
    dut.feat_indirect.value = int(indirect)
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
        if case == "avail_jump" and acc.kind == "rd" and acc.addr > ring.avail + 3 and acc.addr < ring.used:
            tb.error(f"ring entries read after a bad avail.idx: {acc}")
    data_reads = [a.addr for a in tb.accesses_since(mark) if a.kind == "rd" and a.tag & 1]
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

    tb.wr_fail = None
    await tb.dev_reset()
    await tb.wait_idle()
    await reinit_and_check(tb)
    tb.check()


@cocotb.test()
@cocotb.parametrize(variant=named("direct", "indirect"))
async def test_drops(dut, variant):
    """Frame size is never a queue stop: above MAX_FRAME_LEN (by one byte, a 9000-byte jumbo) or below
    MIN_FRAME_LEN (a runt, an empty payload, a header cut short or split with nothing after it) the chain is
    dropped and counted (stat_drop_oversize / stat_drop_runt), its used element comes back in ring order, no
    buffer past the limit is read, and the frames around it go out byte-exact; no err_valid."""
    indirect = variant == "indirect"
    tb, ring = await setup(dut, f"drops_{variant}", indirect=indirect)
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
    for acc in tb.log_dma:
        for a, n in bad:
            if acc.kind == "rd" and acc.overlaps(a, n):
                tb.error(f"read past the frame limit: {acc}")
    # the queue keeps going
    more = [ring.add_packet(tb.random_frame(), 2, indirect=indirect) for _ in range(3)]
    ring.publish()
    await tb.notify()
    await tb.wait_used(ring, len(chains) + len(more))
    ring.reclaim()
    tb.check_frames(more)
    tb.check()


@cocotb.test()
@cocotb.parametrize(when=named("wire", "dma"))
async def test_reset_mid_frame(dut, when):
    """dev_reset while a frame is on the wire (heavy backpressure) or while its data reads are in flight
    (long DMA latency): the frame ends with tlast + tuser, every issued DMA is counted back before idle,
    no DMA after idle, traffic flows after re-enable."""
    tb, ring = await setup(dut, f"reset_{when}")
    if when == "wire":
        tb.sink.set_pause_generator(itertools.cycle([1, 1, 1, 0]))
    else:
        tb.rd_latency = (150, 300)
        tb.out_of_order = True
    chains = [ring.add_packet(tb.random_frame(1400, 1514), 4) for _ in range(3)]
    ring.publish()
    await tb.notify()
    if when == "wire":
        await with_timeout(RisingEdge(dut.m_axis_tx_tvalid), TIMEOUT_US, "us")
        await tb.wait_cycles(60)
    else:
        async def data_reads():
            while sum(1 for a in tb.log_dma if a.kind == "rd" and a.length not in (4,) and a.tag & 1) < 3:
                await FallingEdge(dut.clk)
        await with_timeout(data_reads(), TIMEOUT_US, "us")
    owed = tb.rd_outstanding
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
    if tb.rd_outstanding or tb.wr_outstanding:
        tb.error("statuses still owed after idle")
    tb.rd_latency = (2, 12)
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
    chains = [ring2.add_packet(tb.random_frame(60, 400), 1)]
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
    await tb.wait_cycles(300)
    if tb.accesses_since(mark):
        tb.error(f"DMA without a kick after the enable: {tb.accesses_since(mark)[:3]}")
    await tb.notify()
    await tb.wait_used(ring3, 1)
    tb.reclaim_check(ring3)
    tb.check_frames(chains)
    tb.check()


@cocotb.test()
async def test_limits(dut):
    """Legal extremes: a direct chain of exactly Q descriptors, an INDIRECT table of INDIRECT_MAX entries,
    a frame of exactly MAX_FRAME_LEN bytes, empty buffers inside a chain (no DMA for them)."""
    tb, ring = await setup(dut, "limits", indirect=True)
    ind_max = int(dut.INDIRECT_MAX.value)
    chains = [ring.add_packet(tb.rng.randbytes(tb.rng.randint(4 * tb.qsize, 1500)), tb.qsize - 1)]
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
    for pieces in specs:
        chains.append(ring.add_buffers(pieces))
    chains.append(ring.add_packet(tb.rng.randbytes(tb.rng.randint(ind_max, 1500)), ind_max - 1, indirect=True))
    chains.append(ring.add_buffers([hdr, tb.rng.randbytes(tb.max_frame)], indirect=True))
    ring.publish()
    await tb.notify()
    await tb.wait_used(ring, len(chains))
    await tb.wait_idle()
    tb.reclaim_check(ring)
    tb.check_frames(chains)
    if any(a.length == 0 for a in tb.log_dma):
        tb.error("zero-length DMA")
    tb.check()


@cocotb.test()
async def test_dma_count(dut):
    """DMA descriptors per packet, header + one data buffer: one packet per kick (8: avail, ring entry,
    descriptor window, 2 buffers, used element, used.idx, avail re-read) and in a burst of 32."""
    tb, ring = await setup(dut, "dma_count")
    n = 8
    for k in range(n):
        ring.add_packet(tb.random_frame(), 1)
        ring.publish()
        await tb.notify()
        await tb.wait_used(ring, k + 1)
        await tb.wait_idle()
    single = len(tb.log_dma) / n
    tb.reclaim_check(ring)
    mark = len(tb.log_dma)
    burst = 32
    for _ in range(burst):
        ring.add_packet(tb.random_frame(), 1)
    ring.publish()
    await tb.notify()
    await tb.wait_used(ring, n + burst)
    await tb.wait_idle()
    tb.reclaim_check(ring)
    per_pkt = (len(tb.log_dma) - mark) / burst
    tb.log.info("DMA descriptors per packet (header + 1 data buffer): %.2f one per kick, %.2f in a burst of %d",
                single, per_pkt, burst)
    if single != 8:
        tb.error(f"{single} DMA descriptors per packet with one packet per kick, expected 8")
    if per_pkt > 5.5:
        tb.error(f"{per_pkt} DMA descriptors per packet in a burst")
    tb.sink_frames()
    tb.check()


@cocotb.test()
async def test_not_enabled(dut):
    """No DMA while queue_enable is low; the engine only starts on a kick."""
    tb = TB(dut, "not_enabled")
    await tb.cycle_reset()
    ring = tb.new_ring()
    ring.add_packet(tb.random_frame(), 1)
    ring.publish()
    await tb.notify()
    await tb.wait_cycles(100)
    if tb.log_dma:
        tb.error("DMA while the queue is disabled")
    await tb.enable(ring)
    await tb.wait_cycles(100)
    if tb.log_dma:
        tb.error("DMA without a kick")
    await tb.notify()
    await tb.wait_used(ring, 1)
    tb.reclaim_check(ring)
    tb.check()


# ---- fault knobs (test only): each breaks one virtio rule, and the checkers must see it -------------


def used_elem_addr(ring: SplitRing, pos: int) -> int:
    return ring.used + 4 + 8 * (pos % ring.qsize)


async def fault_burst(tb: TB, ring: SplitRing, n: int, hi: int = 300, indirect_prob: float = 0.0,
                      poison: bool = False) -> list:
    """``n`` packets published at once, one kick; wait until all are used and the engine is idle, then
    reclaim (after idle: with USED_IDX_FIRST the used element lands after used.idx). ``poison``: the ring
    entry after the published ones holds 0xFFFF, a head the engine rejects (cause 2) if it ever uses it."""
    chains = [ring.add_packet(tb.random_frame(60, hi), tb.rng.randint(1, 3), tb.rng.random() < indirect_prob)
              for _ in range(n)]
    ring.publish()
    if poison:
        ring.mem.write_u16(ring.avail + 4 + 2 * (ring.avail_idx % ring.qsize), 0xFFFF)
    await tb.notify()
    await tb.wait_used(ring, ring.avail_idx)
    await tb.wait_idle()
    tb.reclaim_check(ring)
    return chains


async def fault_phase(tb: TB, ring: SplitRing, fault: int, expect: tuple[str, ...] = (), bursts: int = 3,
                      **burst_kw) -> tuple[int, int, list]:
    """Set the knobs (engine idle), arm the expected invariants, run ``bursts`` bursts of 2..6 packets.
    Returns (used index of the phase's first packet, DMA log position at its start, chains)."""
    await tb.set_fault(fault)
    tb.expect(*expect)
    tb.used_elem_pending.clear()            # nothing is owed while idle (USED_IDX_FIRST leaves stale entries)
    pos0, mark, chains = ring.last_used, len(tb.log_dma), []
    for _ in range(bursts):
        chains += await fault_burst(tb, ring, tb.rng.randint(2, 6), **burst_kw)
    return pos0, mark, chains


def count_violations(tb: TB, kind: str) -> int:
    return len(tb.violations.get(kind, []))


def expect_frames(tb: TB, want: list[bytes], what: str) -> None:
    """The wire carried exactly ``want`` (complete frames, none marked aborted) since the last call."""
    frames = tb.sink_frames()
    got = [bytes(f.tdata) for f in frames]
    if got != want:
        tb.error(f"{what}: {len(got)} frames on the wire ({[len(f) for f in got]}), expected {len(want)} "
                 f"({[len(f) for f in want]}), first difference at frame "
                 f"{next((k for k, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))}")
    if any(last_tuser(f) for f in frames):
        tb.error(f"{what}: a frame marked aborted")


async def frame_end_monitor(tb: TB, out: list[int]) -> None:
    """Cycle of each frame's last beat (tvalid && tready && tlast) on the wire."""
    dut = tb.dut
    while True:
        await FallingEdge(dut.clk)
        if high(dut.m_axis_tx_tvalid) and high(dut.m_axis_tx_tready) and high(dut.m_axis_tx_tlast):
            out.append(cycle_now() + 1)


@cocotb.test()
async def test_fault_ignore_no_interrupt(dut):
    """FAULT bit 0 IGNORE_NO_INTERRUPT: with avail.flags NO_INTERRUPT (notify-on-empty off) the engine
    interrupts (cause 0) after every packet; with the knob off, never."""
    tb, ring = await setup(dut, "fault_ignore_no_interrupt", noe_policy=NOE_NEVER)
    ring.avail_flags = VRING_AVAIL_F_NO_INTERRUPT
    chains = []
    for fault in (0, FAULT_IGNORE_NO_INTERRUPT, 0):
        irq0, stats0 = len(tb.irqs), dict(tb.stats)
        _, _, phase = await fault_phase(tb, ring, fault)
        chains += phase
        n = len(phase)
        got = [cause for _, cause in tb.irqs[irq0:]]
        if got != ([0] * n if fault else []):
            tb.error(f"FAULT {fault:#x}: interrupts {got} for {n} packets with NO_INTERRUPT set")
        delta = (tb.stats["irq_normal"] - stats0["irq_normal"], tb.stats["irq_suppressed"] - stats0["irq_suppressed"])
        if delta != ((n, 0) if fault else (0, n)):
            tb.error(f"FAULT {fault:#x}: irq_normal / irq_suppressed counted {delta} for {n} packets")
    tb.check_frames(chains)
    tb.check()


@cocotb.test()
async def test_fault_drop_irq(dut):
    """FAULT bit 1 DROP_IRQ: with avail.flags clear no interrupt at all (each decision counted as
    suppressed), while notify-on-empty (cause 1, NO_INTERRUPT set, policy ALWAYS) still fires once per burst;
    with the knob off, one cause-0 interrupt per packet."""
    tb, ring = await setup(dut, "fault_drop_irq", noe_policy=NOE_ALWAYS)
    chains = []
    for fault, flags, expect in ((0, 0, "each"), (FAULT_DROP_IRQ, 0, "none"),
                                 (FAULT_DROP_IRQ, VRING_AVAIL_F_NO_INTERRUPT, "empty"), (0, 0, "each")):
        ring.avail_flags = flags
        await tb.set_fault(fault)
        for _ in range(3):
            irq0, stats0 = len(tb.irqs), dict(tb.stats)
            burst = await fault_burst(tb, ring, tb.rng.randint(2, 6))
            chains += burst
            n = len(burst)
            got = [cause for _, cause in tb.irqs[irq0:]]
            want = {"each": [0] * n, "none": [], "empty": [1]}[expect]
            if got != want:
                tb.error(f"FAULT {fault:#x}, avail.flags {flags}: interrupts {got} for a burst of {n}, expected {want}")
            delta = tuple(tb.stats[k] - stats0[k] for k in ("irq_normal", "irq_noe", "irq_suppressed"))
            if delta != (want.count(0), want.count(1), n - len(want)):
                tb.error(f"FAULT {fault:#x}, avail.flags {flags}: irq statistics {delta} for a burst of {n}")
    tb.check_frames(chains)
    tb.check()


@cocotb.test()
async def test_fault_used_idx_first(dut):
    """FAULT bit 2 USED_IDX_FIRST: used.idx is written before the used element (the checker's
    used-element-before-used.idx invariant fires once per packet), both writes still happen and the avail
    re-read waits for both statuses; with the knob off the element comes first and the invariant holds."""
    tb, ring = await setup(dut, "fault_used_idx_first")
    chains = []
    for fault in (0, FAULT_USED_IDX_FIRST, 0):
        v0 = count_violations(tb, USED_IDX_EARLY)
        pos0, mark, phase = await fault_phase(tb, ring, fault, (USED_IDX_EARLY,) if fault else ())
        chains += phase
        log = tb.log_dma[mark:]
        for k in range(len(phase)):
            pos = pos0 + k
            value = ((pos + 1) & 0xFFFF).to_bytes(2, "little")
            elem = [i for i, a in enumerate(log) if a.kind == "wr" and a.addr == used_elem_addr(ring, pos)]
            idx = [i for i, a in enumerate(log) if a.kind == "wr" and a.addr == ring.used + 2 and a.data == value]
            if len(elem) != 1 or len(idx) != 1:
                tb.error(f"FAULT {fault:#x}: position {pos}: {len(elem)} element / {len(idx)} used.idx writes")
                continue
            first, second = (idx[0], elem[0]) if fault else (elem[0], idx[0])
            if not (first < second and second == first + 1):
                tb.error(f"FAULT {fault:#x}: position {pos}: element write #{elem[0]}, used.idx write #{idx[0]}")
            done = max(log[elem[0]].done, log[idx[0]].done)
            reread = next((a for a in log[second + 1:] if a.kind == "rd" and a.addr == ring.avail), None)
            if reread is None or not reread.cycle > done >= 0:
                tb.error(f"FAULT {fault:#x}: position {pos}: avail re-read {reread} before both write statuses "
                         f"({done})")
        fired = count_violations(tb, USED_IDX_EARLY) - v0
        if fired != (len(phase) if fault else 0):
            tb.error(f"FAULT {fault:#x}: the used.idx-before-element invariant fired {fired} times for "
                     f"{len(phase)} packets")
    tb.expect()
    tb.check_frames(chains)
    tb.check()


@cocotb.test()
async def test_fault_read_past_avail(dut):
    """FAULT bit 3 READ_PAST_AVAIL: every avail.ring read fetches one entry more than avail.idx allows
    (the ring-read invariant fires), except when MAX_BATCH or the ring's end leaves no room; the extra entry
    (poisoned with 0xFFFF) is never used. Knob off: exactly the published entries, the invariant holds."""
    tb, ring = await setup(dut, "fault_read_past_avail")
    max_batch = int(dut.MAX_BATCH.value)
    chains = []
    for fault in (0, FAULT_READ_PAST_AVAIL, 0):
        await tb.set_fault(fault)
        tb.expect(*((RING_PAST_AVAIL,) if fault else ()))
        r0, v0 = len(tb.ring_reads), count_violations(tb, RING_PAST_AVAIL)
        # with the knob on: across the ring's end (a burst that straddles it) and one burst above MAX_BATCH
        sizes = [tb.rng.randint(1, max_batch - 1) for _ in range(3)]
        if fault:
            while ring.qsize - ring.avail_idx % ring.qsize > max_batch // 2:
                sizes.append(min(tb.rng.randint(1, max_batch - 1), ring.qsize - ring.avail_idx % ring.qsize - 1))
                chains += await fault_burst(tb, ring, sizes[-1], hi=120, poison=True)
            sizes.append(ring.qsize - ring.avail_idx % ring.qsize + 3)
            chains += await fault_burst(tb, ring, sizes[-1], hi=120, poison=True)
            sizes.append(max_batch + 3)
            chains += await fault_burst(tb, ring, sizes[-1], hi=120, poison=True)
        for size in sizes[:3]:
            chains += await fault_burst(tb, ring, size, hi=120, poison=True)
        extra = capped = 0
        for slot, count, allowed in tb.ring_reads[r0:]:
            base = min(allowed, max_batch, ring.qsize - slot)
            room = base < max_batch and base < ring.qsize - slot
            want = base + 1 if fault and room else base
            if count != want:
                tb.error(f"FAULT {fault:#x}: ring read slot {slot} x{count}, {allowed} published: expected x{want}")
            extra += count - base
            capped += not room
        fired = count_violations(tb, RING_PAST_AVAIL) - v0
        tb.log.info("FAULT %#x: %d ring reads, %d past avail.idx, %d capped (MAX_BATCH or ring end), %d packets",
                    fault, len(tb.ring_reads) - r0, extra, capped, sum(sizes))
        if fired != extra or (fault and (extra == 0 or capped < 2)):
            tb.error(f"FAULT {fault:#x}: ring-read invariant fired {fired} times, {extra} reads past avail.idx, "
                     f"{capped} capped")
    tb.expect()
    if tb.errs:
        tb.error(f"engine errors {tb.errs}: the entry past avail.idx was used")
    tb.check_frames(chains)
    tb.check()


@cocotb.test()
async def test_fault_write_tx_buffer(dut):
    """FAULT bit 4 WRITE_TX_BUFFER: after each used element, a 2-byte write of 0xBAD0 to the chain's header
    buffer (direct and INDIRECT chains), then used.idx; the write-only-the-used-ring invariant fires once per
    packet and the avail re-read waits for the extra write too. Knob off: only used-ring writes."""
    tb, ring = await setup(dut, "fault_write_tx_buffer", indirect=True)
    chains = []
    for fault in (0, FAULT_WRITE_TX_BUFFER, 0):
        await tb.set_fault(fault)
        tb.expect(*((WRITE_OUTSIDE_USED,) if fault else ()))
        v0, pos0, mark, phase = count_violations(tb, WRITE_OUTSIDE_USED), ring.last_used, len(tb.log_dma), []
        for _ in range(3):
            burst = await fault_burst(tb, ring, tb.rng.randint(2, 6), indirect_prob=0.5)
            for chain in burst:                 # before the next burst reuses the buffers
                hdr = tb.mem.read(chain.buffers[0][0], 2)
                if fault and hdr != b"\xd0\xba":
                    tb.error(f"header buffer of head {chain.head} holds {hdr.hex()}, not d0ba")
            phase += burst
        chains += phase
        log = tb.log_dma[mark:]
        writes = [(i, a) for i, a in enumerate(log) if a.kind == "wr"]
        per = 3 if fault else 2
        if len(writes) != per * len(phase):
            tb.error(f"FAULT {fault:#x}: {len(writes)} writes for {len(phase)} packets")
        for k, chain in enumerate(phase):
            pos = pos0 + k
            want = [(used_elem_addr(ring, pos), 8, None)]
            if fault:
                want.append((chain.buffers[0][0], 2, b"\xd0\xba"))
            want.append((ring.used + 2, 2, ((pos + 1) & 0xFFFF).to_bytes(2, "little")))
            got = writes[per * k:per * (k + 1)]
            if [(a.addr, a.length, a.data if d is not None else None) for (_, a), (_, _, d) in zip(got, want)] != want:
                tb.error(f"FAULT {fault:#x}: position {pos}: writes {[(hex(a.addr), a.data.hex()) for _, a in got]}")
                continue
            done = max(a.done for _, a in got)
            reread = next((a for a in log[got[-1][0] + 1:] if a.kind == "rd" and a.addr == ring.avail), None)
            if reread is None or not reread.cycle > done >= 0:
                tb.error(f"FAULT {fault:#x}: position {pos}: avail re-read before the write statuses")
        fired = count_violations(tb, WRITE_OUTSIDE_USED) - v0
        if fired != (len(phase) if fault else 0):
            tb.error(f"FAULT {fault:#x}: write-outside-the-used-ring invariant fired {fired} times for "
                     f"{len(phase)} packets")
    tb.expect()
    tb.check_frames(chains)                     # the header is stripped: the wire is unaffected
    tb.check()


async def fault_wire_test(dut, name: str, knob: int) -> None:
    """DROP_FRAME / DUP_FRAME: packets at used index 3 mod 4 leave the wire 0 / 2 times (identical, complete
    frames); every packet is still read and completed in order, each used element written after the last
    beat of its frames. Knob off before and after: one frame per packet."""
    tb, ring = await setup(dut, name)
    ends: list[int] = []
    cocotb.start_soon(frame_end_monitor(tb, ends))
    nframes = 0
    hit = 0
    for fault in (0, knob, 0):
        frames0 = tb.stats["frame"]
        pos0, mark, phase = await fault_phase(tb, ring, fault, bursts=4)
        copies = [2 if fault == FAULT_DUP_FRAME and (pos0 + k) % 4 == 3 else
                  0 if fault == FAULT_DROP_FRAME and (pos0 + k) % 4 == 3 else 1 for k in range(len(phase))]
        hit += sum(c != 1 for c in copies)
        expect_frames(tb, [c.frame for c, n in zip(phase, copies) for _ in range(n)], f"FAULT {fault:#x}")
        if tb.stats["frame"] - frames0 != sum(copies):
            tb.error(f"FAULT {fault:#x}: stat_frame counted {tb.stats['frame'] - frames0}, {sum(copies)} frames sent")
        log = tb.log_dma[mark:]
        for k, (chain, n) in enumerate(zip(phase, copies)):
            for addr, length in chain.buffers:
                if length and not any(a.kind == "rd" and a.addr == addr and a.length == length for a in log):
                    tb.error(f"FAULT {fault:#x}: buffer {addr:#x}+{length} of head {chain.head} not read")
            nframes += n
            elem = next((a for a in log if a.kind == "wr" and a.addr == used_elem_addr(ring, pos0 + k)), None)
            if n and (elem is None or len(ends) < nframes or not elem.cycle > ends[nframes - 1]):
                tb.error(f"FAULT {fault:#x}: used element of position {pos0 + k} written before its frame ended")
    if not hit:
        tb.error("no packet at used index 3 mod 4 with the knob on")
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
async def test_fault_used_idx_ahead(dut):
    """FAULT bit 7 USED_IDX_AHEAD: each used.idx write is one too high, so used.idx passes avail.idx (the
    used-element-before-used.idx invariant fires once per packet); the used elements themselves are right.
    Knob off first: used.idx = packets completed."""
    tb, ring = await setup(dut, "fault_used_idx_ahead")
    pos0, mark, chains = await fault_phase(tb, ring, 0, bursts=2)
    idx = [int.from_bytes(a.data, "little") for a in tb.log_dma[mark:] if a.kind == "wr" and a.addr == ring.used + 2]
    if idx != [pos0 + k + 1 for k in range(len(chains))]:
        tb.error(f"knob off: used.idx writes {idx}")
    tb.check_frames(chains)

    # knob on: one burst (at most MAX_BATCH packets: a single ring read, before any used.idx write)
    await tb.set_fault(FAULT_USED_IDX_AHEAD)
    tb.expect(USED_IDX_EARLY)
    pos0, mark = ring.last_used, len(tb.log_dma)
    n = tb.rng.randint(3, min(8, int(dut.MAX_BATCH.value)))
    burst = [ring.add_packet(tb.random_frame(60, 300), tb.rng.randint(1, 3)) for _ in range(n)]
    ring.publish()
    await tb.notify()

    def idx_writes() -> list[int]:
        return [int.from_bytes(a.data, "little") for a in tb.log_dma[mark:]
                if a.kind == "wr" and a.addr == ring.used + 2]

    async def _wait():
        while len(idx_writes()) < n:
            tb.used_write_event.clear()
            await tb.used_write_event.wait()
    await with_timeout(_wait(), TIMEOUT_US, "us")
    await tb.wait_idle()
    if idx_writes() != [(pos0 + k + 2) & 0xFFFF for k in range(n)]:
        tb.error(f"used.idx writes {idx_writes()}, expected {[(pos0 + k + 2) & 0xFFFF for k in range(n)]}")
    if ring.used_idx() != (ring.avail_idx + 1) & 0xFFFF:
        tb.error(f"used.idx {ring.used_idx()} with avail.idx {ring.avail_idx}: not one past")
    for k, chain in enumerate(burst):
        if ring.used_elem(pos0 + k) != (chain.head, 0):
            tb.error(f"used element {pos0 + k}: {ring.used_elem(pos0 + k)}, expected {(chain.head, 0)}")
    if count_violations(tb, USED_IDX_EARLY) != n:
        tb.error(f"the used.idx-before-element invariant fired {count_violations(tb, USED_IDX_EARLY)} times "
                 f"for {n} packets")
    tb.check_frames(burst)
    tb.check()


@cocotb.test()
async def test_fault_used_len_read(dut):
    """FAULT bit 8 USED_LEN_READ: used.len is the bytes the engine read (header + frame, what QEMU 0.10
    wrote) instead of 0, for direct and INDIRECT chains; knob off before and after: 0. Everything else is
    unchanged (frames, order, interrupts)."""
    tb, ring = await setup(dut, "fault_used_len_read", indirect=True)
    for fault in (0, FAULT_USED_LEN_READ, 0):
        pos0, mark, chains = await fault_phase(tb, ring, fault, indirect_prob=0.3)    # reclaim_check: tb.used_len
        lens = [ring.used_elem(pos0 + k)[1] for k in range(len(chains))]
        want = [c.total if fault else 0 for c in chains]
        if lens != want:
            tb.error(f"FAULT {fault:#x}: used.len {lens}, expected {want}")
        tb.check_frames(chains)
    tb.check()


# ---- pytest entry -------------------------------------------------------------------------------

import pytest  # noqa: E402

from sim import suite  # noqa: E402


# Icarus in make test: every test at the narrow width (the most beats per frame); both widths in REGRESS
SUITE = suite.Suite("tests.sim.test_virtq_tx", "tb_virtq_tx", icarus_variants=["w64"],
                    variants={f"w{w}": {"RAM_DATA_WIDTH": w} for w in (256, 64)},
                    sources=("hdl/virtio/virtq_tx.v", "tests/sim/hdl/tb_virtq_tx.v"))


@pytest.mark.sim
@pytest.mark.parametrize("case", SUITE.cases(globals()), ids=str)
def test_virtq_tx(case, sim_run):
    sim_run(case)
