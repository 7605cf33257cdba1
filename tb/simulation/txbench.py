"""The transmit bench: DeviceTB + the wire + the device modes + a driver run (simulation only).

Shared by the system tests (tests/sim/test_virtio_tx.py), the checker fault tests and the race sweep
(tests/sim/test_checkers.py). One bench per cocotb test: a second hard-block model on the same DUT would
race the first one's per-clock coroutines.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict

import cocotb
from cocotb.triggers import Timer, with_timeout

from tb.device.dev_ctrl import DevCtrl, DeviceModes, set_fault
from tb.driver.virtio_net import GuestTiming
from tb.faults import parse_faults
from tb.faults.driver import faulty_driver, faulty_queue
from tb.scenarios.xmit import XmitResult, XmitRun, XmitScenario
from tb.simulation.harness import DeviceTB
from tb.simulation.usp import UspConfig
from tb.simulation.wire import Wire


async def stop_task(task: cocotb.task.Task, timeout_ns: float = 10_000) -> None:
    """Cancel a background task (traffic the test gives up on) and wait until it has unwound.

    cocotb 2.1 counts cancel() calls. A task cancelled inside ``with_timeout``/``First`` unwinds over one more
    scheduler step (it waits for the waiter's children); if the test returns in that step, the test's end
    cancels it a second time and it fails with "Task was cancelled, but continued running", which fails the
    test after the fact. Waiting here for it to finish makes the cancel the only one."""
    if task.done():
        return
    task.cancel()
    await with_timeout(task.complete, timeout_ns, "ns")


class TxBench:
    """DeviceTB + the wire + the device modes + one driver run."""

    def __init__(self, dut, pause: list[int] | None = None, cfg: UspConfig | None = None):
        self.tb = DeviceTB(dut, cfg)  # cfg None: the hard block as the build expects it
        # every frame on the wire goes to <run dir>/<test>.pcap, every driver step to <test>.events.jsonl
        self.wire = Wire(dut, pause=pause, artifacts=self.tb.artifacts, checkers=self.tb.checkers)
        self.ctrl = DevCtrl(self.tb.platform)
        self.p = self.tb.platform
        # TB_FAULT=<name>[,<name>]: break a rule on purpose in any test (the README's walk-through)
        self.fault_bits, self.driver_faults = parse_faults(os.environ.get("TB_FAULT", ""))

    async def start(self, modes: DeviceModes | None = None) -> None:
        await self.tb.start()
        modes = modes or DeviceModes()
        await self.ctrl.set_modes(modes)
        self.tb.events.emit("tb", "device_modes", **asdict(modes))  # functional coverage (sim/cover_points.py)
        if self.fault_bits:
            self.tb.log.warning("TB_FAULT: RTL fault knobs %#x on (test-only, a checker should fail)", self.fault_bits)
            await set_fault(self.p, self.fault_bits)

    def xmit(
        self,
        scn: XmitScenario,
        timing: GuestTiming | None = None,
        driver_faults: Iterable[str] = (),
        race_seam: bool = False,
    ) -> XmitRun:
        """A driver run of ``scn``. ``driver_faults`` (and TB_FAULT's) break rules on purpose, ``race_seam``
        offers the TX queue's ``race_hook``: both take the test-only driver (tb/faults/driver.py), whose
        faults act on the TX queue from the end of the probe on; otherwise the faithful driver runs."""
        self.tb.events.emit("tb", "xmit", variant=scn.variant, packets=scn.packets, msix=scn.use_msix, seed=scn.seed)
        faults = tuple(driver_faults) + self.driver_faults
        trace = self.tb.driver_trace()
        if not faults and not race_seam:
            return XmitRun(self.p, scn, cocotb.start_soon, timing, tracer=trace, checkers=self.tb.checkers)
        if faults:
            self.tb.log.warning("driver faults %s on (test-only, a checker should fail)", ", ".join(faults))
        net = faulty_driver(self.p, scn.variant, use_msix=scn.use_msix, timing=timing, tracer=trace)
        return _FaultyRun(
            self.p, scn, cocotb.start_soon, timing, tracer=trace, checkers=self.tb.checkers, driver=net, faults=faults
        )

    async def wait_wire(self, n: int, timeout_us: float = 5000) -> None:
        async def _wait() -> None:
            while len(self.wire.good()) < n:
                await Timer(500, "ns")

        await with_timeout(_wait(), timeout_us, "us")

    async def run(self, scn: XmitScenario, timing: GuestTiming | None = None) -> XmitResult:
        x = self.xmit(scn, timing)
        await x.probe()
        res = await x.traffic(self.wait_wire)
        self.wire.check(res.sent)
        if self.tb.checkers is not None:
            self.tb.checkers.finish()
        res.extra.update(await self.ctrl.counters())
        self.tb.log.info("%s", res.summary())
        return res


class _FaultyRun(XmitRun):
    """A run of the test-only driver: its faults go on the TX queue once the probe is done."""

    def __init__(self, *args, faults: tuple[str, ...], **kwargs):
        super().__init__(*args, **kwargs)
        self.faults = faults

    async def probe(self) -> None:
        await super().probe()
        faulty_queue(self.net).faults.update(self.faults)
