"""The receive bench: the transmit bench plus frames from the wire into s_axis_rx (simulation only).

``RxBench`` is a ``TxBench`` (DeviceTB, the TX wire, the device modes, a driver run) with an ``AxisSource``
on the device's network input: every frame the device takes is reported to the checkers (rx_delivery judges
what the RX ring then carries) and kept in ``src.taken``. ``receive`` sends frames and waits until the
driver's receive path handed the expected number to the stack; ``finish`` reads the device's RX counters
(the checkers account every frame not delivered against the drop counters) and closes the checkers.
"""

from __future__ import annotations

from collections.abc import Sequence

from cocotb.triggers import SimTimeoutError, Timer, with_timeout

from tb.simulation.axis_source import AxisSource
from tb.simulation.txbench import TxBench
from tb.simulation.usp import UspConfig


class RxBench(TxBench):
    def __init__(self, dut, pause: list[int] | None = None, cfg: UspConfig | None = None, gap_cycles: int = 0):
        super().__init__(dut, pause=pause, cfg=cfg)
        self.src = AxisSource(dut, "s_axis_rx", dut.user_clk, gap_cycles=gap_cycles, on_frame=self._taken)

    def _taken(self, t_ns: float, data: bytes, bad: bool) -> None:
        """A frame the device took from the wire: into the event log, then to the checkers."""
        seq = int.from_bytes(data[14:18], "big") if len(data) >= 18 else None
        self.tb.events.emit(
            "wire_rx", "frame", t_ns=t_ns, index=len(self.src.taken) - 1, length=len(data), bad=bad, seq=seq
        )
        if self.tb.checkers is not None:
            self.tb.checkers.rx_frame(t_ns, data, bad)

    def send(self, frames: Sequence[bytes], bad: Sequence[bool] | None = None) -> None:
        """Queue frames on the wire (``bad``: the MAC marks that frame bad with tuser)."""
        for k, f in enumerate(frames):
            self.src.send_nowait(f, bool(bad[k]) if bad is not None else False)

    async def wait_received(self, net, n: int, timeout_us: float = 5000) -> None:
        """Until the driver handed ``n`` frames to the stack (its receive sink ``rx_frames``)."""

        async def _wait() -> None:
            while len(net.rx_frames) < n:
                await Timer(500, "ns")

        try:
            await with_timeout(_wait(), timeout_us, "us")
        except SimTimeoutError:
            c = await self.ctrl.rx_counters()
            raise AssertionError(
                f"the driver received {len(net.rx_frames)} of {n} frames within {timeout_us:.0f} us; the device "
                f"took {len(self.src.taken)} of {len(self.src.taken) + len(self.src.queue)} frames from the wire "
                f"(it held the wire {self.src.stall_cycles} of {self.src.busy_cycles} cycles); RX counters "
                + ", ".join(f"{k} {v}" for k, v in c.items() if v)
            ) from None

    async def finish(self) -> dict[str, int]:
        """The RX counters as the device reports them (read: the checkers see the drop counters), then the
        checkers' end-of-run rules."""
        counters = await self.ctrl.rx_counters()
        if self.tb.checkers is not None:
            self.tb.checkers.finish()
        return counters
