"""The wire: the DUT's TX AXI-Stream into a cocotbext-axi sink, with back-pressure and a scoreboard.

Simulation only. Every frame is recorded with the cycle its last beat left the device; ``check`` compares
them with what the driver queued, in order, byte for byte.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cocotb
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiStreamBus, AxiStreamSink


@dataclass
class WireFrame:
    data: bytes
    t_ns: float
    aborted: bool


class Wire:
    def __init__(self, dut, prefix: str = "m_axis_tx", pause: list[int] | None = None):
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, prefix), dut.user_clk, dut.user_reset)
        self.sink.log.setLevel("WARNING")
        if pause:
            self.set_pause(pause)
        self.frames: list[WireFrame] = []
        self._task = cocotb.start_soon(self._collect())

    def set_pause(self, pattern: list[int] | None) -> None:
        """Back-pressure: a repeating pattern, 1 = tready low for that cycle (the wire is slower)."""
        self.sink.set_pause_generator(itertools.cycle(pattern) if pattern else None)

    def pause(self, on: bool) -> None:
        self.sink.pause = on

    async def _collect(self) -> None:
        while True:
            frame = await self.sink.recv()
            user = frame.tuser if isinstance(frame.tuser, int) else (frame.tuser[-1] if frame.tuser else 0)
            self.frames.append(WireFrame(bytes(frame.tdata), get_sim_time("ns"), bool(user)))

    def good(self) -> list[bytes]:
        return [f.data for f in self.frames if not f.aborted]

    def check(self, sent: list[bytes]) -> None:
        """Every frame exactly once, in order, byte-exact; name the first difference."""
        got = self.good()
        for i, (want, have) in enumerate(zip(sent, got)):
            if want != have:
                first = next((k for k in range(min(len(want), len(have))) if want[k] != have[k]),
                             min(len(want), len(have)))
                raise AssertionError(f"wire frame {i}: {len(have)} bytes, expected {len(want)}; first "
                                     f"difference at byte {first}")
        if len(got) != len(sent):
            raise AssertionError(f"wire carried {len(got)} frames, the driver queued {len(sent)}")
