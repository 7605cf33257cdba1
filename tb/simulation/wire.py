"""The wire: the DUT's TX AXI-Stream into a cocotbext-axi sink, with back-pressure and a scoreboard.

Simulation only. Every frame is recorded with the cycle its last beat left the device; ``check`` compares
them with what the driver queued, in order, byte for byte. With ``artifacts`` (tb/simulation/eventlog.py) each frame
also goes to the test's pcap and event log, and ``check`` writes its verdict there.
"""

from __future__ import annotations

from dataclasses import dataclass

from cocotb.utils import get_sim_time

from tb.simulation.axis_sink import AxisFrame, AxisSink


@dataclass
class WireFrame:
    data: bytes
    t_ns: float
    aborted: bool


class Wire:
    def __init__(self, dut, prefix: str = "m_axis_tx", pause: list[int] | None = None, artifacts=None, checkers=None):
        self.artifacts = artifacts
        self.checkers = checkers  # tb/checkers: the streaming scoreboard sees each frame as it leaves
        if artifacts is not None:  # a later bench in the same test takes over the pcap
            artifacts.add_monitor(self)
        self.frames: list[WireFrame] = []
        self.sink = AxisSink(dut, prefix, dut.user_clk, on_frame=self._collect, reset=dut._get("user_reset"))
        if pause:
            self.set_pause(pause)

    def set_pause(self, pattern: list[int] | None) -> None:
        """Back-pressure: a repeating pattern, 1 = tready low for that cycle (the wire is slower)."""
        if pattern:
            self.sink.set_pause_generator(list(pattern))
        else:
            self.sink.clear_pause_generator()

    def pause(self, on: bool) -> None:
        self.sink.pause = on

    def _collect(self, frame: AxisFrame) -> None:
        self.sink.recv_nowait()  # frames are kept here, not in the sink's queue
        wf = WireFrame(bytes(frame.tdata), get_sim_time("ns"), bool(frame.tuser[-1] if frame.tuser else 0))
        self.frames.append(wf)
        if self.artifacts is not None:
            self._attach(len(self.frames) - 1, wf)
        if self.checkers is not None:
            self.checkers.frame(wf.t_ns, wf.data, wf.aborted)

    def stop(self) -> None:
        """Stop writing to the test's pcap and log (a newer Wire on the same port does that)."""
        self.artifacts = None
        self.checkers = None

    def _attach(self, index: int, wf: WireFrame) -> None:
        """Good frames go to the pcap; every frame to the event log (with the sender's sequence number)."""
        seq = int.from_bytes(wf.data[14:18], "big") if len(wf.data) >= 18 else None
        self.artifacts.log.emit(
            "wire", "frame", t_ns=wf.t_ns, index=index, length=len(wf.data), aborted=wf.aborted, seq=seq
        )
        if not wf.aborted:
            self.artifacts.pcap.write(wf.data, wf.t_ns)

    def good(self) -> list[bytes]:
        return [f.data for f in self.frames if not f.aborted]

    def check(self, sent: list[bytes]) -> None:
        """Every frame exactly once, in order, byte-exact; name the first difference."""
        got = self.good()
        for i, (want, have) in enumerate(zip(sent, got)):
            if want != have:
                first = next(
                    (k for k in range(min(len(want), len(have))) if want[k] != have[k]), min(len(want), len(have))
                )
                msg = f"wire frame {i}: {len(have)} bytes, expected {len(want)}; first difference at byte {first}"
                t = [f for f in self.frames if not f.aborted][i].t_ns
                self._verdict(False, msg, frame=i, frame_time_ns=t, frame_cycle=int(t // 4))
                raise AssertionError(msg + f" (frame left the device at {t:.0f} ns, cycle {int(t // 4)})")
        if len(got) != len(sent):
            msg = f"wire carried {len(got)} frames, the driver queued {len(sent)}"
            self._verdict(False, msg)
            raise AssertionError(msg)
        self._verdict(True, f"{len(got)} frames byte-exact")

    def _verdict(self, ok: bool, msg: str, **fields) -> None:
        if self.artifacts is not None:
            self.artifacts.log.verdict("wire_check", ok, msg=msg, **fields)
