"""Testbench wiring for the whole device (virtio_net_usp): simulation only.

``DeviceTB`` owns the DUT's surroundings: the host (SimPlatform over cocotbext-pcie), the network-side
ports, and the link settings a test may vary (max payload size, max read request, RCB splitting). Tests
build one per cocotb test (a new hard-block model also resets the DUT) and read as a story: start, probe,
run traffic, check.
"""

from __future__ import annotations

import logging
import os
import random

from tb.checkers import CheckerSet, checkers_enabled
from tb.device.debug_bar import DebugBar
from tb.driver.trace import EventLog
from tb.simulation.eventlog import DriverTrace, TestArtifacts
from tb.simulation.seed import rng_for
from tb.simulation.sim_platform import SimPlatform
from tb.simulation.usp import UspConfig

# PCIe Device Control encodings: 0 = 128 B ... 5 = 4096 B
SIZE_ENCODING = {128 << k: k for k in range(6)}


class DeviceTB:
    def __init__(self, dut, cfg: UspConfig | None = None, log_level: int = logging.WARNING):
        self.dut = dut
        self.log = logging.getLogger("tb")
        self.log.setLevel(logging.INFO)
        self.platform = SimPlatform(dut, cfg, log_level)  # None: what the build was made for
        self.rc = self.platform.rc
        self.debug = DebugBar(self.platform)
        # the test's event log and pcap (tb/simulation/eventlog.py): TLPs, interrupt lines, driver steps, verdicts
        self.artifacts = TestArtifacts.current()
        self.events = self.artifacts.log
        from tb.simulation.monitors.pcie import IrqMonitor  # simulation only

        # the checkers (tb/checkers): on in every test built on DeviceTB unless TB_CHECKERS=0
        self.checkers: CheckerSet | None = None
        self.artifacts.replace_monitors(IrqMonitor(dut, self.events, self._irq))
        if checkers_enabled():
            self.checkers = self._make_checkers()
        # network side idle until the wire models attach
        dut.m_axis_tx_tready.value = 1
        dut.s_axis_rx_tvalid.value = 0
        dut.s_axis_rx_tdata.value = 0
        dut.s_axis_rx_tkeep.value = 0
        dut.s_axis_rx_tlast.value = 0
        dut.s_axis_rx_tuser.value = 0

    def _irq(self, kind: str, value: int) -> None:
        if self.checkers is not None:
            self.checkers.irq(kind, value)

    def _make_checkers(self) -> CheckerSet:
        import cocotb
        from cocotb.triggers import Event, Timer

        p = self.platform
        hub = CheckerSet(p.now_ns, self.events, p.msix_vector_of, p.msix_enabled)
        p.observers.append(hub)
        failed = Event()
        errors: list[Exception] = []

        def stop_test(err: Exception) -> None:
            errors.append(err)
            failed.set()

        async def watcher() -> None:
            await failed.wait()
            if os.environ.get("WAVES", "0") not in ("", "0"):
                await Timer(1, "us")  # with waves on, the dump also shows what followed the violation
            raise errors[0]

        async def poll() -> None:  # the rules about time passing (lost wake-ups, an idle device): every microsecond
            while True:
                await Timer(1, "us")
                hub.poll(p.now_ns())

        hub.on_failure(stop_test)
        self._checker_tasks = [cocotb.start_soon(watcher()), cocotb.start_soon(poll())]
        self.artifacts.add_monitor(_TaskStopper(self._checker_tasks))
        return hub

    def rng(self, name: str) -> random.Random:
        """The generator of one test's random choices (tb/simulation/seed.py: printed, SEED= replays it)."""
        return rng_for(name, self.log)

    def driver_trace(self) -> EventLog:
        """A trace for a driver run: into the test's event log and, with the checkers on, to the checkers
        (the only way they learn what the driver did)."""
        trace = DriverTrace(self.platform, self.events)
        if self.checkers is not None:
            trace.listeners.append(self.checkers.driver_event)
        return trace

    async def start(self, max_payload: int = 256, max_read_req: int = 512, split_on_all_rcb: bool = False) -> None:
        """Reset (through the model), enumerate, enable memory and bus mastering, set MPS / MRRS."""
        self.rc.max_payload_size = SIZE_ENCODING[512]  # root port allows up to what the device has
        self.rc.max_read_request_size = SIZE_ENCODING[4096]
        self.rc.split_on_all_rcb = split_on_all_rcb
        if self.platform.dev is None:
            await self.platform.power_on()
        from tb.simulation.monitors.pcie import TlpMonitor

        # hooked between power-on and the first TLP: every TLP of the test is in the log
        tlps = TlpMonitor(self.platform.dev, self.events)
        if self.checkers is not None:
            from tb.simulation.monitors.dma import DmaMonitor

            tlps.listeners.append(DmaMonitor(self.checkers, self.platform.now_ns))
        self.artifacts.add_monitor(tlps)
        self.tlps = tlps  # a test's own judge may listen to every TLP too (tests/sim/test_ring_fuzz.py)
        self.events.emit("tb", "power_on")
        await self.platform.enumerate()
        await self.platform.bus_master(True)
        await self.set_link(max_payload, max_read_req)
        # what the device is (the checkers see this read: the TX engine's descriptor window and batch size)
        self.tx_params = await self.debug.tx_params()

    async def set_link(self, max_payload: int, max_read_req: int) -> None:
        pdev = self.platform.pdev
        await pdev.set_mps(SIZE_ENCODING[max_payload])
        await pdev.set_readrq(SIZE_ENCODING[max_read_req])


class _TaskStopper:
    """Ends a bench's background tasks when the test's artifacts move on (a new bench or a new test)."""

    def __init__(self, tasks):
        self.tasks = tasks

    def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
