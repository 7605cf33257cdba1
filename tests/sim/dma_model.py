"""Host memory and the DMA port, as the ring blocks' block tests see them (no PCIe model).

``DmaModel`` plays the DMA engines of hdl/README.md (interface 2) at transaction level, on a block's ports:

* reads: a read descriptor accepted on ``m_axis_read_desc_*`` snapshots host memory; after a random latency
  (in order, or out of order) the bytes are written into the block's RAM through its write port
  (``ram_wr_*``, whole words with byte enables) and the status pulses on ``s_axis_read_desc_status_*`` with
  the descriptor's tag. Reads outside host memory, or those ``rd_fail`` picks, complete with an error (2, CA)
  and write nothing;
* writes: a write descriptor accepted on ``m_axis_write_desc_*`` takes its bytes from the immediate field,
  or (``imm_en`` = 0) from the block's RAM through its read port (``ram_rd_*``, one word per cycle, data the
  cycle after the read), applies them to host memory and pulses the write status after a random latency,
  in order (as the write engine: a status once the last TLP was accepted). ``wr_fail`` picks writes that
  complete with an error and are not applied.

Every access is logged (``Access``: the cycle the descriptor was accepted, what it read or wrote) and handed
to the hooks, so tests check what the block touched, and the shared checkers (tb/checkers) judge it:
``attach_checkers`` feeds a ``CheckerSet`` with the device's reads (at completion, with the bytes the block
got) and writes, and ``ObservedMemory`` feeds it every write of the test's ring builder (the host side).

Timing convention: inputs are driven and handshakes sampled at falling clock edges; "cycle n" is the n-th
rising edge (a descriptor sampled valid && ready at a falling edge is accepted at the next rising edge).
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass

import cocotb
from cocotb.triggers import Event, FallingEdge, RisingEdge, Timer
from cocotb.utils import get_sim_time

from tests.sim.vring_builder import HostMemory

CLK_NS = 4
ERR_CA = 2


def high(sig) -> bool:
    """A 1-bit signal is 1 (X/Z before the first clock edge on Icarus count as 0)."""
    return sig._handle.get_signal_val_binstr() == "1"  # tb/simulation/fastsig.py: without a Logic per read


def cycle_now() -> int:
    return int(get_sim_time("ns")) // CLK_NS


@dataclass
class Access:
    cycle: int          # rising edge at which the descriptor was accepted
    kind: str           # "rd" or "wr"
    addr: int
    length: int
    tag: int
    data: bytes         # read: bytes returned; write: bytes written
    ram_addr: int = 0
    imm: bool = True    # write: immediate data (else from the block's RAM)
    done: int = -1      # cycle at which its status was driven (-1 while owed)
    error: int = 0

    def overlaps(self, addr: int, length: int) -> bool:
        return self.addr < addr + length and addr < self.addr + self.length


class ObservedMemory(HostMemory):
    """Host memory whose writes are reported (the host side of the checkers)."""

    def __init__(self, base: int, size: int):
        super().__init__(base, size)
        self.observers: list[Callable[[int, bytes], None]] = []

    def write(self, addr: int, data: bytes) -> None:
        super().write(addr, data)
        for obs in self.observers:
            obs(addr, bytes(data))

    def write_u16(self, addr: int, value: int) -> None:
        self.write(addr, (value & 0xFFFF).to_bytes(2, "little"))

    def fill(self, addr: int, length: int, value: int = 0) -> None:
        super().fill(addr, length, value)
        for obs in self.observers:
            obs(addr, bytes([value]) * length)


class DmaModel:
    """The DMA engines around one block (or the whole TX queue). Ports that a block lacks are skipped."""

    def __init__(self, dut, mem: HostMemory, rng: random.Random, word_bytes: int, log=None):
        self.dut = dut
        self.mem = mem
        self.rng = rng
        self.word_bytes = word_bytes
        self.log = log
        self.errors: list[str] = []
        # knobs
        self.rd_latency = (2, 12)
        self.wr_latency = (1, 6)
        self.out_of_order = False
        self.rd_ready_prob = 1.0
        self.wr_ready_prob = 1.0
        self.rd_fail: Callable[[int, int], bool] | None = None
        self.wr_fail: Callable[[int, int], bool] | None = None
        # hooks: called with the Access (read hooks at acceptance, read_done at completion)
        self.read_hooks: list[Callable[[Access], None]] = []
        self.read_done_hooks: list[Callable[[Access], None]] = []
        self.write_hooks: list[Callable[[Access], None]] = []
        # state
        self.accesses: list[Access] = []
        self.rd_heap: list[tuple[int, int, Access]] = []
        self.rd_seq = itertools.count()
        self.rd_event = Event()
        self.rd_last_due = 0
        self.rd_outstanding = 0
        self.wr_queue: list[tuple[int, Access]] = []
        self.wr_event = Event()
        self.wr_outstanding = 0
        self.write_event = Event()       # set on every write applied

        self.has_rd = hasattr(dut, "m_axis_read_desc_valid")
        self.has_wr = hasattr(dut, "m_axis_write_desc_valid")
        self.has_rd_tag = hasattr(dut, "s_axis_read_desc_status_tag")
        self.has_wr_tag = hasattr(dut, "s_axis_write_desc_status_tag")
        if self.has_rd:
            self._zero("s_axis_read_desc_status_tag", "s_axis_read_desc_status_error",
                       "s_axis_read_desc_status_valid", "ram_wr_en", "ram_wr_addr", "ram_wr_be", "ram_wr_data")
            dut.m_axis_read_desc_ready.value = 1
            cocotb.start_soon(self._rd_desc_monitor())
            cocotb.start_soon(self._rd_completer())
        if self.has_wr:
            self._zero("s_axis_write_desc_status_tag", "s_axis_write_desc_status_error",
                       "s_axis_write_desc_status_valid", "ram_rd_en", "ram_rd_addr")
            dut.m_axis_write_desc_ready.value = 1
            cocotb.start_soon(self._wr_desc_monitor())
            cocotb.start_soon(self._wr_status_driver())

    def _zero(self, *names: str) -> None:
        for name in names:
            if hasattr(self.dut, name):
                getattr(self.dut, name).value = 0

    def error(self, msg: str) -> None:
        if self.log is not None:
            self.log.error(msg)
        self.errors.append(msg)

    def since(self, cycle: int) -> list[Access]:
        return [a for a in self.accesses if a.cycle > cycle]

    def reads(self) -> list[Access]:
        return [a for a in self.accesses if a.kind == "rd"]

    def writes(self) -> list[Access]:
        return [a for a in self.accesses if a.kind == "wr"]

    # ---- reads ----------------------------------------------------------------------------------------

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
            ok = length > 0 and self.mem.contains(addr, length) and not (self.rd_fail and self.rd_fail(addr, length))
            acc = Access(cycle_now() + 1, "rd", addr, length, tag, self.mem.read(addr, length) if ok else b"",
                         ram_addr=ram_addr, error=0 if ok else ERR_CA)
            if length == 0:
                self.error(f"zero-length read at {addr:#x}")
            self.accesses.append(acc)
            for hook in list(self.read_hooks):
                hook(acc)
            due = acc.cycle + self.rng.randint(*self.rd_latency)
            if not self.out_of_order:
                due = max(due, self.rd_last_due + 1)
                self.rd_last_due = due
            heapq.heappush(self.rd_heap, (due, next(self.rd_seq), acc))
            self.rd_outstanding += 1
            self.rd_event.set()

    def _ram_words(self, ram_addr: int, data: bytes):
        wb = self.word_bytes
        first, lead = divmod(ram_addr, wb)
        buf = bytes(lead) + data
        buf += bytes(-len(buf) % wb)
        for k in range(len(buf) // wb):
            lo = max(0, lead - k * wb)
            hi = min(wb, lead + len(data) - k * wb)
            be = ((1 << hi) - 1) & ~((1 << lo) - 1)
            yield first + k, be, int.from_bytes(buf[k * wb:(k + 1) * wb], "little")

    async def _rd_completer(self) -> None:
        dut = self.dut
        falling = FallingEdge(dut.clk)
        while True:
            while not self.rd_heap:
                self.rd_event.clear()
                await self.rd_event.wait()
            due, _, acc = heapq.heappop(self.rd_heap)
            now = cycle_now()
            if due > now + 1:
                await Timer((due - now - 1) * CLK_NS, unit="ns")
            await FallingEdge(dut.clk)
            if not acc.error:
                wr_en, wr_addr, wr_be, wr_data = dut.ram_wr_en, dut.ram_wr_addr, dut.ram_wr_be, dut.ram_wr_data
                wr_en.value = 1
                for word, be, value in self._ram_words(acc.ram_addr, acc.data):
                    wr_addr.value = word
                    wr_be.value = be
                    wr_data.value = value
                    await falling
                wr_en.value = 0
            if self.has_rd_tag:
                dut.s_axis_read_desc_status_tag.value = acc.tag
            dut.s_axis_read_desc_status_error.value = acc.error
            dut.s_axis_read_desc_status_valid.value = 1
            acc.done = cycle_now() + 1
            self.rd_outstanding -= 1
            for hook in list(self.read_done_hooks):
                hook(acc)
            await FallingEdge(dut.clk)
            dut.s_axis_read_desc_status_valid.value = 0

    # ---- writes ---------------------------------------------------------------------------------------

    async def _ram_read(self, ram_addr: int, length: int) -> bytes:
        """The bytes [ram_addr, ram_addr + length) of the block's RAM, through its read port: one word per
        cycle, from the falling edge at which the descriptor was taken. The descriptor input is not ready
        meanwhile (the engine builds this write's TLPs); the caller's next falling edge sets it again."""
        dut = self.dut
        wb = self.word_bytes
        first, lead = divmod(ram_addr, wb)
        nwords = (lead + length + wb - 1) // wb
        out = bytearray()
        for k in range(nwords + 1):
            if k:
                out += int(dut.ram_rd_data.value).to_bytes(wb, "little")    # word k-1, read at the last edge
            dut.ram_rd_en.value = int(k < nwords)
            dut.ram_rd_addr.value = first + k if k < nwords else 0
            if k < nwords:
                await FallingEdge(dut.clk)
                dut.m_axis_write_desc_ready.value = 0
        return bytes(out[lead:lead + length])

    async def _wr_desc_monitor(self) -> None:
        dut = self.dut
        while True:
            if not high(dut.m_axis_write_desc_valid):
                await RisingEdge(dut.m_axis_write_desc_valid)
            await FallingEdge(dut.clk)
            ready = self.wr_ready_prob >= 1.0 or self.rng.random() < self.wr_ready_prob
            dut.m_axis_write_desc_ready.value = int(ready)
            if not (ready and high(dut.m_axis_write_desc_valid)):
                continue
            addr = int(dut.m_axis_write_desc_pcie_addr.value)
            length = int(dut.m_axis_write_desc_len.value)
            tag = int(dut.m_axis_write_desc_tag.value) if hasattr(dut, "m_axis_write_desc_tag") else 0
            imm = high(dut.m_axis_write_desc_imm_en) if hasattr(dut, "m_axis_write_desc_imm_en") else True
            ram_addr = int(dut.m_axis_write_desc_ram_addr.value) if not imm else 0
            cyc = cycle_now() + 1
            if imm:
                if not 1 <= length <= 8:
                    self.error(f"immediate write at {addr:#x} of {length} bytes")
                    length = max(1, min(length, 8))
                data = int(dut.m_axis_write_desc_imm.value).to_bytes(8, "little")[:length]
            else:
                if length == 0:
                    self.error(f"zero-length write at {addr:#x}")
                # the engine takes the descriptor, then reads the RAM while it builds the TLPs
                data = await self._ram_read(ram_addr, length)
            fail = bool(self.wr_fail and self.wr_fail(addr, length))
            acc = Access(cyc, "wr", addr, length, tag, data, ram_addr=ram_addr, imm=imm, error=1 if fail else 0)
            self.accesses.append(acc)
            if not fail and self.mem.contains(addr, length):
                HostMemory.write(self.mem, addr, data)     # the device's write: not a host (driver) step
            elif not fail:
                self.error(f"write outside host memory: {addr:#x} + {length}")
            due = acc.cycle + self.rng.randint(*self.wr_latency)
            if self.wr_queue:
                due = max(due, self.wr_queue[-1][0] + 1)
            self.wr_queue.append((due, acc))
            self.wr_outstanding += 1
            self.wr_event.set()
            for hook in list(self.write_hooks):
                hook(acc)
            self.write_event.set()

    async def _wr_status_driver(self) -> None:
        dut = self.dut
        while True:
            while not self.wr_queue:
                self.wr_event.clear()
                await self.wr_event.wait()
            due, acc = self.wr_queue[0]
            now = cycle_now()
            if due > now + 1:
                await Timer((due - now - 1) * CLK_NS, unit="ns")
            await FallingEdge(dut.clk)
            self.wr_queue.pop(0)
            if self.has_wr_tag:
                dut.s_axis_write_desc_status_tag.value = acc.tag
            dut.s_axis_write_desc_status_error.value = acc.error
            dut.s_axis_write_desc_status_valid.value = 1
            acc.done = cycle_now() + 1
            self.wr_outstanding -= 1
            await FallingEdge(dut.clk)
            dut.s_axis_write_desc_status_valid.value = 0

    async def wait_write(self) -> None:
        self.write_event.clear()
        await self.write_event.wait()


# ---- the shared checkers on a block test ----------------------------------------------------------------

# the rules that judge the device; the driver-side ones (driver_order, ring_invariants, lost_wakeup) judge
# a driver under test, and a block test's ring builder is none: it writes malformed rings on purpose and
# reclaims by reading memory directly, so they do not apply here (they run in every system test)
DRIVER_SIDE = ("driver_order", "ring_invariants", "lost_wakeup")
TX_QUEUE = 1
TX_VECTOR = 1


def attach_checkers(dma: DmaModel, mem: ObservedMemory, log=None, waive: dict[str, str] | None = None):
    """A CheckerSet fed from the block test: host writes (the ring builder), device reads and writes.
    ``waive``: more rules that do not apply to the block, each with the reason (logged with the verdicts)."""
    from tb.checkers import CheckerSet

    def now() -> float:
        return float(get_sim_time("ns"))

    hub = CheckerSet(now, log, msix_vector_of=lambda data: data, msix_enabled=lambda: True)
    hub.waive(*DRIVER_SIDE, why="a block test's ring builder is not a driver under test")
    for name, why in (waive or {}).items():
        hub.waive(name, why=why)
    mem.observers.append(lambda addr, data: hub.host_mem(True, addr, data))
    dma.read_done_hooks.append(
        lambda a: hub.dev_read(a.cycle * CLK_NS, a.addr, a.data, f"read {a.addr:#x} {a.length} bytes tag {a.tag}")
        if not a.error else None)
    dma.write_hooks.append(
        lambda a: hub.dev_write(a.addr, a.data, f"write {a.addr:#x} data {a.data[:16].hex()}")
        if not a.error else None)
    return hub


def describe_queue(hub, base: int, qsize: int, features: int, noe_policy: int, dut=None) -> None:
    """What the register block would have told the checkers: the TX queue's size, PFN, vector, features; and
    what the debug BAR's TX_PARAMS would report of the block (``dut``'s DESC_WINDOW, MAX_BATCH and
    INDIRECT_MAX parameters where it has them, else the device's build values)."""
    from tb.device.debug_bar import REG_TX_PARAMS
    from tb.checkers.spec import (LEGACY_PFN_SHIFT, LEGACY_REG_DRIVER_FEATURES, LEGACY_REG_QUEUE_ADDRESS,
                                  LEGACY_REG_QUEUE_MSIX_VECTOR, LEGACY_REG_QUEUE_SELECT, LEGACY_REG_QUEUE_SIZE)

    hub.host_bar(True, 0, LEGACY_REG_QUEUE_SELECT, 2, TX_QUEUE)
    hub.host_bar(False, 0, LEGACY_REG_QUEUE_SIZE, 2, qsize)
    hub.host_bar(True, 0, LEGACY_REG_QUEUE_MSIX_VECTOR, 2, TX_VECTOR)
    hub.host_bar(True, 0, LEGACY_REG_QUEUE_ADDRESS, 4, base >> LEGACY_PFN_SHIFT)
    hub.host_bar(True, 0, LEGACY_REG_DRIVER_FEATURES, 4, features)
    hub.host_bar(True, 2, 0x200, 4, noe_policy)

    def param(name: str, default: int) -> int:
        return int(getattr(dut, name).value) if dut is not None and hasattr(dut, name) else default

    params = param("INDIRECT_MAX", 64) << 16 | param("MAX_BATCH", 32) << 8 | param("DESC_WINDOW", 16)
    hub.host_bar(False, 2, REG_TX_PARAMS, 4, params)


def device_reset(hub) -> None:
    from tb.checkers.spec import LEGACY_REG_DEVICE_STATUS

    hub.host_bar(True, 0, LEGACY_REG_DEVICE_STATUS, 1, 0)
