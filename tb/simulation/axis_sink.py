"""An AXI-Stream sink that costs Python time per beat, not per clock: the network side of the device.

Simulation only. cocotbext-axi's ``AxiStreamSink`` reads ``tdata`` once per byte lane on every beat and,
with a back-pressure pattern, wakes on every clock edge whether or not anything is offered (about a fifth
of a system test's Python time). This sink waits for ``tvalid`` to rise while the stream is idle, reads each
signal once per beat, and keeps back-pressure exact while a frame is offered:

- ``set_pause_generator(gen)``: ``next(gen)`` is consumed once per clock edge at which ``tvalid`` is high
  (true = ``tready`` low at that edge). A periodic pattern keeps its phase against the clock: for a list
  pattern the edge number picks the entry, so the same pattern stalls the same cycles however long the
  stream was idle;
- ``pause = True``: ``tready`` low until ``pause = False`` (no per-clock work while held).

With ``reset`` (the DUT's synchronous, active-high reset), a beat that would start a frame at an edge where
the reset is high is no transfer: a frame left half sent by one cocotb test (on a held wire) must not lend its
last beat, taken at the next test's first reset edge, to that test's first frame.

Frames are ``AxisFrame(tdata: bytearray, tuser: list[int], sim_time_start, sim_time_end)``, queued for
``recv`` / ``recv_nowait`` and, if given, passed to ``on_frame`` when their last beat is taken.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import cocotb
from cocotb.queue import Queue
from cocotb.triggers import Event, RisingEdge, Timer
from cocotb.utils import get_sim_time

from tb.simulation.fastsig import bit_reader, int_reader


@dataclass
class AxisFrame:
    tdata: bytearray = field(default_factory=bytearray)
    tuser: list[int] = field(default_factory=list)
    sim_time_start: int = 0  # ps, the first beat's edge
    sim_time_end: int = 0  # ps, the last beat's edge


class AxisSink:
    def __init__(
        self,
        dut,
        prefix: str,
        clock,
        period_ps: int | None = None,
        on_frame: Callable[[AxisFrame], None] | None = None,
        reset=None,
    ):
        self.tdata = getattr(dut, f"{prefix}_tdata")
        self.tvalid = getattr(dut, f"{prefix}_tvalid")
        self.tready = getattr(dut, f"{prefix}_tready")
        self.tlast = getattr(dut, f"{prefix}_tlast")
        self.tkeep = dut._get(f"{prefix}_tkeep")
        self.tuser = dut._get(f"{prefix}_tuser")
        self.reset = reset
        self.clock = clock
        self.lanes = len(self.tdata) // 8
        self.full_keep = (1 << self.lanes) - 1
        self.period_ps = period_ps or 4000
        self.on_frame = on_frame
        self.queue: Queue[AxisFrame] = Queue()
        self._pattern: list[int] | None = None
        self._pattern_origin = 0
        self._gen: Iterator | None = None
        self._pause = False
        self._unpaused = Event()
        self._unpaused.set()
        self.tready.value = 1
        self._task = cocotb.start_soon(self._run())

    # -- back-pressure -------------------------------------------------------------------------------
    def set_pause_generator(self, gen) -> None:
        """A list (a repeating pattern, phase-locked to the clock) or any iterator, one value per edge."""
        if isinstance(gen, (list, tuple)):
            self._pattern, self._gen = list(gen) or None, None
            self._pattern_origin = self._next_edge()
        else:
            self._pattern, self._gen = None, gen

    def clear_pause_generator(self) -> None:
        self._pattern = self._gen = None

    @property
    def pause(self) -> bool:
        return self._pause

    @pause.setter
    def pause(self, on: bool) -> None:
        # only a flag: tready is written by the loop, right after a clock edge, never from whatever
        # context sets it (a write in the same time step as an edge, before it, can race the DUT's sampling)
        self._pause = bool(on)
        if on:
            self._unpaused.clear()
        else:
            self._unpaused.set()

    def _next_edge(self) -> int:
        return int(get_sim_time("ps")) // self.period_ps + 1

    def _stalls_ahead(self) -> int:
        """How many edges from the next one a list pattern stalls (0: the next edge may take a beat, or the
        pattern never lets one through and the loop goes edge by edge)."""
        pattern = self._pattern
        assert pattern is not None
        start = (self._next_edge() - self._pattern_origin) % len(pattern)
        for j in range(len(pattern)):
            if not pattern[(start + j) % len(pattern)]:
                return j
        return 0

    def _stall_next_edge(self) -> bool:
        if self._pattern is not None:
            return bool(self._pattern[(self._next_edge() - self._pattern_origin) % len(self._pattern)])
        if self._gen is not None:
            return bool(next(self._gen, False))
        return False

    # -- frames ---------------------------------------------------------------------------------------
    def empty(self) -> bool:
        return self.queue.empty()

    def recv_nowait(self) -> AxisFrame:
        return self.queue.get_nowait()

    async def recv(self) -> AxisFrame:
        return await self.queue.get()

    def kill(self) -> None:
        self._task.cancel()

    async def _run(self) -> None:
        # tready is written only at points aligned to the clock: right after an edge, or when tvalid rises
        # (the DUT drove it at an edge); the next edge then sees exactly the value written, and the value
        # read back after that edge is what the DUT sampled
        edge = RisingEdge(self.clock)
        valid_rise = RisingEdge(self.tvalid)
        tvalid, tready, tlast = bit_reader(self.tvalid), bit_reader(self.tready), bit_reader(self.tlast)
        tdata = int_reader(self.tdata)
        tkeep = int_reader(self.tkeep) if self.tkeep is not None else None
        tuser = int_reader(self.tuser) if self.tuser is not None else None
        in_reset = bit_reader(self.reset) if self.reset is not None else None
        lanes, full_keep, period = self.lanes, self.full_keep, self.period_ps
        frame: AxisFrame | None = None
        ready_written = True  # tready as last written (__init__ sets it)
        while True:
            if self._pause:
                self.tready.value = 0
                ready_written = False
                await self._unpaused.wait()
                await edge  # back on the clock before tready may rise again
                continue
            if not tvalid():
                await valid_rise
                continue
            skip = self._stalls_ahead() if self._pattern is not None else 0
            if skip:
                # a list pattern stalls the next `skip` edges: tready low, and one wake-up half a cycle before
                # the first edge that takes a beat instead of one per stalled edge (AXI-Stream holds tvalid and
                # the beat meanwhile; a pause or a new pattern is seen when the loop wakes)
                if ready_written:
                    self.tready.value = 0
                    ready_written = False
                now = int(get_sim_time("ps"))
                await Timer((now // period + 1 + skip) * period - period // 2 - now, "ps")
                continue
            ready = not self._stall_next_edge() if (self._pattern is not None or self._gen is not None) else True
            if ready != ready_written:
                self.tready.value = ready  # only on a change: a write is a scheduled simulator call
                ready_written = ready
            await edge
            # what the device saw at this edge
            if not (tvalid() and tready()):
                continue
            if frame is None and in_reset is not None and in_reset():
                continue  # no transfer in reset (looked at once per frame, not per beat)
            keep = tkeep() if tkeep is not None else full_keep
            if frame is None:
                frame = AxisFrame(sim_time_start=int(get_sim_time("ps")))
            raw = tdata().to_bytes(lanes, "little")
            if keep == full_keep:
                frame.tdata += raw
            elif keep & (keep + 1) == 0:  # low lanes only: the last beat of a frame
                frame.tdata += raw[: keep.bit_length()]
            else:
                frame.tdata += bytes(raw[i] for i in range(lanes) if keep >> i & 1)
            if tuser is not None:
                frame.tuser.append(tuser())
            if tlast():
                frame.sim_time_end = int(get_sim_time("ps"))
                self.queue.put_nowait(frame)
                if self.on_frame is not None:
                    self.on_frame(frame)
                frame = None
