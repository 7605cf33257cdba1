"""The bring-up check sequence (tb.bringup.run_checks) on our RTL in simulation: ``python -m tb.bringup``.

Not collected by pytest (no test_ prefix): the CLI launches it through sim.runner and reads the report it
writes to $BRINGUP_JSON. The checks are literally the code that runs against a PCI function on Linux.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb

from tb.bringup import BringupConfig, exit_code, format_table, run_checks
from tb.harness import DeviceTB
from tb.wire import Wire


@cocotb.test()
async def bringup(dut):
    tb = DeviceTB(dut)
    wire = Wire(dut)
    await tb.start()
    cfg = BringupConfig(packets=int(os.environ.get("BRINGUP_PACKETS", "32")),
                        ab_packets=int(os.environ.get("BRINGUP_AB_PACKETS", "32")),
                        gap_ns=2000.0, timeout_ns=5e6, wire=wire.good)
    report = await run_checks(tb.platform, cocotb.start_soon, cfg)
    tb.log.info("\n%s", format_table(report.checks, "bring-up: our RTL in simulation"))
    out = os.environ.get("BRINGUP_JSON")
    if out:
        data = report.to_json()
        data.update(target="sim", backend="sim")
        Path(out).write_text(json.dumps(data, indent=1))
    assert exit_code(report.checks) == 0, "bring-up checks failed (see the table)"
