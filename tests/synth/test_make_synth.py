"""``make synth`` as part of every test run: the device through yosys, every check on.

One pytest item (xdist schedules it early, by its recorded duration, beside the simulations). Modules whose
elaborated RTL did not change come from build/synth/cache, so a rerun costs seconds. ``make test`` synthesizes
the device (``virtio_net_usp``, the product); ``make regress`` and ``make synth`` also the VCU118 board top
(the same blocks, elaborated again under the board's instance: about as long again). The report is
build/synth/report.json; the item's output (and build/synth/synth.log) has the tables.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
LOG = ROOT / "build" / "synth" / "synth.log"


REGRESS = os.environ.get("REGRESS", "0") not in ("", "0")


def test_synth_of_the_device():
    LOG.parent.mkdir(parents=True, exist_ok=True)
    # one yosys job at a time: the other pytest worker is busy with simulations
    tops = [] if REGRESS else ["--top", "virtio_net_usp"]
    proc = subprocess.run([sys.executable, "-m", "sim.synth", "--jobs", "1", *tops], cwd=ROOT,
                          capture_output=True, text=True, timeout=3600)
    LOG.write_text(proc.stdout + proc.stderr)
    print(proc.stdout)
    assert proc.returncode == 0, f"make synth failed (log {LOG}):\n" + "\n".join(
        (proc.stdout + proc.stderr).splitlines()[-40:])
