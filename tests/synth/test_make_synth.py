"""``make synth`` as part of every test run: the device and the board top through yosys, every check on.

One pytest item (xdist schedules it early, by its recorded duration, beside the simulations). Modules whose
elaborated RTL did not change come from build/synth/cache, so a rerun costs seconds. The report is
build/synth/report.json; the item's output (and build/synth/synth.log) has the tables.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
LOG = ROOT / "build" / "synth" / "synth.log"


def test_synth_of_the_device_and_the_board_top():
    LOG.parent.mkdir(parents=True, exist_ok=True)
    # one yosys job at a time: the other pytest worker is busy with simulations
    proc = subprocess.run([sys.executable, "-m", "sim.synth", "--jobs", "1"], cwd=ROOT, capture_output=True,
                          text=True, timeout=3600)
    LOG.write_text(proc.stdout + proc.stderr)
    print(proc.stdout)
    assert proc.returncode == 0, f"make synth failed (log {LOG}):\n" + "\n".join(
        (proc.stdout + proc.stderr).splitlines()[-40:])
