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
import zlib

from tb.debug_bar import DebugBar
from tb.eventlog import TestArtifacts
from tb.platform.sim import SimPlatform
from tb.platform.usp import UspConfig

# PCIe Device Control encodings: 0 = 128 B ... 5 = 4096 B
SIZE_ENCODING = {128 << k: k for k in range(6)}


def test_seed(name: str) -> int:
    """Seed for a test's random choices: SEED from the environment, else derived from cocotb's seed."""
    import cocotb  # simulation only

    base = int(os.environ.get("SEED", cocotb.RANDOM_SEED))
    # crc32, not hash(): str hashes change from one Python process to the next
    return (base ^ zlib.crc32(name.encode())) & 0xFFFFFFFF


class DeviceTB:
    def __init__(self, dut, cfg: UspConfig | None = None, log_level: int = logging.WARNING):
        self.dut = dut
        self.log = logging.getLogger("tb")
        self.log.setLevel(logging.INFO)
        self.platform = SimPlatform(dut, cfg or UspConfig(), log_level)
        self.rc = self.platform.rc
        self.debug = DebugBar(self.platform)
        # the test's event log and pcap (tb/eventlog.py): TLPs, interrupt lines, driver steps, verdicts
        self.artifacts = TestArtifacts.current()
        self.events = self.artifacts.log
        from tb.monitors.pcie import IrqMonitor  # simulation only

        self.artifacts.replace_monitors(IrqMonitor(dut, self.events))
        # network side idle until the wire models attach
        dut.m_axis_tx_tready.value = 1
        dut.s_axis_rx_tvalid.value = 0
        dut.s_axis_rx_tdata.value = 0
        dut.s_axis_rx_tkeep.value = 0
        dut.s_axis_rx_tlast.value = 0
        dut.s_axis_rx_tuser.value = 0

    def rng(self, name: str) -> random.Random:
        seed = test_seed(name)
        self.log.info("random seed for %s: %d (rerun with SEED=... to reproduce)", name, seed)
        return random.Random(seed)

    async def start(self, max_payload: int = 256, max_read_req: int = 512,
                    split_on_all_rcb: bool = False) -> None:
        """Reset (through the model), enumerate, enable memory and bus mastering, set MPS / MRRS."""
        self.rc.max_payload_size = SIZE_ENCODING[512]       # root port allows up to what the device has
        self.rc.max_read_request_size = SIZE_ENCODING[4096]
        self.rc.split_on_all_rcb = split_on_all_rcb
        if self.platform.dev is None:
            await self.platform.power_on()
        from tb.monitors.pcie import TlpMonitor

        # hooked between power-on and the first TLP: every TLP of the test is in the log
        self.artifacts.add_monitor(TlpMonitor(self.platform.dev, self.events))
        self.events.emit("tb", "power_on")
        await self.platform.enumerate()
        await self.platform.bus_master(True)
        await self.set_link(max_payload, max_read_req)

    async def set_link(self, max_payload: int, max_read_req: int) -> None:
        pdev = self.platform.pdev
        await pdev.set_mps(SIZE_ENCODING[max_payload])
        await pdev.set_readrq(SIZE_ENCODING[max_read_req])
