"""The bring-up check sequence (tb.bringup.sequence.run_checks) on our RTL in simulation: ``vnet-bringup``.

Not collected by pytest (no test_ prefix): the CLI launches it through sim.runner and reads the report it
writes to $BRINGUP_JSON; progress lines go to $BRINGUP_PROGRESS as they happen, the wire's frames to the
run's pcap. The checks are literally the code that runs against a PCI function on Linux.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb

from tb.bringup.sequence import BringupConfig, exit_code, format_table, run_checks
from tb.simulation.harness import DeviceTB
from tb.simulation.wire import Wire


@cocotb.test()
async def bringup(dut):
    tb = DeviceTB(dut)
    wire = Wire(dut, artifacts=tb.artifacts)
    await tb.start()
    progress_path = os.environ.get("BRINGUP_PROGRESS")

    def progress(line: str) -> None:
        if progress_path:
            with open(progress_path, "a") as f:
                f.write(line + "\n")

    cfg = BringupConfig(packets=int(os.environ.get("BRINGUP_PACKETS", "32")),
                        ab_packets=int(os.environ.get("BRINGUP_AB_PACKETS", "32")),
                        gap_ns=float(os.environ.get("BRINGUP_GAP_NS", "2000")), timeout_ns=5e6, wire=wire.good,
                        loopback_frames=int(os.environ.get("BRINGUP_LOOPBACK_FRAMES", "32")),
                        checkers=tb.checkers, progress=progress)
    # the legacy table (post, the pre/post A/B) or the modern one (a 4.0+ variant over the capabilities)
    cfg.transport = os.environ.get("BRINGUP_TRANSPORT", "legacy")
    cfg.variant = os.environ.get("BRINGUP_VARIANT") or ("debian-6.1" if cfg.transport == "modern" else "post")
    report = await run_checks(tb.platform, cocotb.start_soon, cfg)
    tb.log.info("\n%s", format_table(report.checks, "bring-up: our RTL in simulation"))
    out = os.environ.get("BRINGUP_JSON")
    if out:
        data = report.to_json()
        data.update(target="sim", backend="sim")
        Path(out).write_text(json.dumps(data, indent=1))
    assert exit_code(report.checks) == 0, "bring-up checks failed (see the table)"
