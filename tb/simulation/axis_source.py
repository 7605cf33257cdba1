"""The network side into the device: frames driven on ``s_axis_rx``, one Python step per beat.

Simulation only. ``send_nowait(frame, bad=False)`` queues a frame; the source offers its beats back to back
(tvalid high, tkeep marking the last beat's bytes, tuser = 1 on the last beat of a frame the MAC marks bad)
with ``gap_cycles`` idle cycles between frames (the inter-frame gap of the MAC it stands for). A frame is
*taken* when the device accepts its last beat: ``on_frame(t_ns, data, bad)`` is called then (the RX
checkers' "frame from the wire", tb/checkers/rx.py), and ``taken`` counts it.

Signals are written only right after a clock edge, as tb/simulation/axis_sink.py does: the next edge sees
exactly what was written, and tready read after that edge is what the device presented at it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import cocotb
from cocotb.triggers import Event, RisingEdge, with_timeout
from cocotb.utils import get_sim_time

from tb.simulation.fastsig import bit_reader


@dataclass
class RxFrame:
    data: bytes
    bad: bool = False
    t_taken_ns: float | None = None


class AxisSource:
    def __init__(
        self,
        dut,
        prefix: str,
        clock,
        gap_cycles: int = 0,
        on_frame: Callable[[float, bytes, bool], None] | None = None,
    ):
        self.tdata = getattr(dut, f"{prefix}_tdata")
        self.tkeep = getattr(dut, f"{prefix}_tkeep")
        self.tvalid = getattr(dut, f"{prefix}_tvalid")
        self.tready = getattr(dut, f"{prefix}_tready")
        self.tlast = getattr(dut, f"{prefix}_tlast")
        self.tuser = getattr(dut, f"{prefix}_tuser")
        self.clock = clock
        self.lanes = len(self.tdata) // 8
        self.full_keep = (1 << self.lanes) - 1
        self.gap_cycles = gap_cycles
        self.on_frame = on_frame
        self.queue: deque[RxFrame] = deque()
        self.taken: list[RxFrame] = []
        self.stall_cycles = 0  # cycles a beat was offered and not taken (the device held the wire)
        self.busy_cycles = 0  # cycles a beat was offered
        self._wake = Event()
        self._idle = Event()
        self._idle.set()
        self.tvalid.value = 0
        self._task = cocotb.start_soon(self._run())

    def send_nowait(self, data: bytes, bad: bool = False) -> RxFrame:
        if not data:
            raise ValueError("an AXI-Stream frame has at least one byte")
        f = RxFrame(bytes(data), bad)
        self.queue.append(f)
        self._idle.clear()
        self._wake.set()
        return f

    async def wait_idle(self, timeout_ns: float) -> None:
        """Until every queued frame was taken (a device that holds the wire longer raises a timeout)."""
        if not self._idle.is_set():
            await with_timeout(self._idle.wait(), timeout_ns, "ns")

    def kill(self) -> None:
        self._task.cancel()
        self.tvalid.value = 0

    async def _run(self) -> None:
        edge = RisingEdge(self.clock)
        tready = bit_reader(self.tready)
        while True:
            if not self.queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                await edge  # back on the clock before the first beat
                continue
            f = self.queue[0]
            data, n, lanes = f.data, len(f.data), self.lanes
            # tvalid, tkeep (all lanes), tlast and tuser (0) hold through the frame's full beats: written
            # once, and again only for the last beat (writes are per beat, reads only of tready)
            self.tkeep.value = self.full_keep
            self.tvalid.value = 1
            for off in range(0, n, lanes):
                chunk = data[off : off + lanes]
                self.tdata.value = int.from_bytes(chunk.ljust(lanes, b"\0"), "little")
                if off + lanes >= n:
                    self.tkeep.value = self.full_keep if len(chunk) == lanes else (1 << len(chunk)) - 1
                    self.tlast.value = 1
                    self.tuser.value = int(f.bad)
                while True:
                    await edge
                    self.busy_cycles += 1
                    if tready():
                        break
                    self.stall_cycles += 1
            self.tvalid.value = 0
            self.tlast.value = 0
            self.tuser.value = 0
            self.queue.popleft()
            f.t_taken_ns = get_sim_time("ns")
            self.taken.append(f)
            if self.on_frame is not None:
                self.on_frame(f.t_taken_ns, f.data, f.bad)
            for _ in range(self.gap_cycles):
                await edge
