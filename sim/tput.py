"""``make bench``'s throughput scenario: the TX ring kept full, fixed-size frames, both used-ring push policies.

One cell (tests/sim/tput_cell.py) per simulator x frame size x push policy, each ``--packets`` frames; with
``--old-tree DIR`` (a git worktree of the commit before the pipelined engine) the same cell runs on that
commit's engine too, back to back with the new one, so both are measured on the same machine at the same
time. The old engine has no push policy: its column is per_packet only.

Reported per cell: simulated wire utilization (Gb/s and % of the 64-bit 250 MHz stream, 16 Gb/s), cycles
per packet, device TLPs per packet (memory reads + writes + MSI-X, from the debug BAR's counters) against the
minimum, simulated packets and cycles per wall second.

Minimum TLPs per packet, for an L-byte frame in a chain the post-patch driver builds (the 10-byte header and
the frame in two buffers, one INDIRECT table when the device offers INDIRECT):

    min = ceil(L / MRRS) + T + 1/A + 2/U

ceil(L / MRRS) frame reads (the header is never read), T = 1 table read (INDIRECT; else 2/W: the two ring
descriptors in windows of W), 1/A the avail.ring read of A entries, 2/U the used-element write and the used.idx
write per push of U elements (per_packet: U = 1). A, W and U are read from the device (TX_PARAMS,
PUSH_BATCH); interrupts count 0 (the post-patch driver suppresses them on a full ring).

Known limit: past 1,000 frames (the driver model's qdisc limit) the sender blocks on the qdisc once per
frame, and from there the run slows down and grows in memory much faster than the frame count (2,000
frames: over 1 GB and not finished after 10 CPU-minutes, old engine and new). py-spy puts the time in
``SimPlatform.wait_event`` (``with_timeout`` per blocked send); cutting its Timer into 1 us slices did
not help. Until that is found the cells stay at or below 1,000 frames.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sim import runner

OUT = runner.ROOT / "build" / "bench"
CELL = runner.ROOT / "tests" / "sim" / "tput_cell.py"
SIZES = (60, 1514)
POLICIES = ("per_packet", "batched")


def min_tlps(r: dict) -> float | None:
    """The minimum device TLPs per packet of a new-engine cell (module docstring), None without the
    parameters the device reports."""
    if "avail_batch" not in r:
        return None
    reads = math.ceil(r["size"] / r["max_read_req"])
    table = 1.0 if r.get("indirect", True) else 2 / r["desc_window"]
    used = r.get("used_batch", 1) if r["push"] == "batched" else 1
    return reads + table + 1 / r["avail_batch"] + 2 / used


def run_new(sim: str, size: int, push: str, packets: int) -> dict:
    result = OUT / f"tput-{sim}-{size}-{push}.json"
    result.unlink(missing_ok=True)
    runner.run(
        sim,
        "virtio_net_usp",
        "tests.sim.tput_cell",
        run_name=f"tput-{size}-{push}",
        extra_env=_env(size, push, packets, result),
    )
    return json.loads(result.read_text())


def run_old(tree: Path, sim: str, size: int, packets: int) -> dict:
    """The same cell on the old commit's engine: its own runner, sources and build directory."""
    dst = tree / "tests" / "sim" / "tput_cell.py"
    shutil.copyfile(CELL, dst)  # the old commit has no throughput cell; the cell runs on either layout
    result = OUT / f"tput-old-{sim}-{size}.json"
    result.unlink(missing_ok=True)
    code = (
        "import sys; from sim import runner; "
        f"runner.run({sim!r}, 'virtio_net_usp', 'tests.sim.tput_cell', run_name='tput-{size}', "
        f"extra_env={_env(size, 'per_packet', packets, result)!r})"
    )
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not result.exists():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise RuntimeError(f"old engine ({tree}), {sim} {size} B: the cell failed:\n" + "\n".join(tail))
    return json.loads(result.read_text())


def _env(size: int, push: str, packets: int, result: Path) -> dict[str, str]:
    return {
        "TP_SIZE": str(size),
        "TP_PUSH": push,
        "TP_PACKETS": str(packets),
        "TP_RESULT": str(result),
        "COCOTB_LOG_LEVEL": "WARNING",
    }


def table(rows: list[dict]) -> str:
    head = (
        f"{'sim':9} {'engine':6} {'push':10} {'bytes':>5} {'Gb/s':>6} {'wire%':>6} {'cyc/pkt':>8} "
        f"{'TLP/pkt':>8} {'min':>6} {'x min':>6} {'pkt/s':>8} {'cycles/s':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        m = min_tlps(r)
        ratio = f"{r['tlp_per_pkt'] / m:6.2f}" if m else f"{'':6}"
        lines.append(
            f"{r['sim']:9} {r['engine']:6} {r['push']:10} {r['size']:>5} {r['wire_gbps']:>6.2f} "
            f"{r['wire_pct']:>6.1f} {r['cycles_per_pkt']:>8.2f} {r['tlp_per_pkt']:>8.3f} "
            f"{(f'{m:6.3f}' if m else ''):>6} {ratio} {r['sim_pkts_per_s']:>8.1f} {r['sim_cycles_per_s']:>9.0f}"
        )
    return "\n".join(lines)


def measure(sims: list[str], packets: dict[str, int], old_tree: Path | None, log=print) -> list[dict]:
    rows: list[dict] = []
    t0 = time.monotonic()
    for sim in sims:
        n = packets[sim]
        for size in SIZES:
            if old_tree is not None:
                log(f"{time.monotonic() - t0:6.0f} s  tput {sim} {size} B: old engine, {n} frames ...")
                rows.append({"sim": sim, "engine": "old", **run_old(old_tree, sim, size, n)})
            for push in POLICIES:
                log(f"{time.monotonic() - t0:6.0f} s  tput {sim} {size} B: new engine, {push}, {n} frames ...")
                rows.append({"sim": sim, "engine": "new", **run_new(sim, size, push, n)})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=1000)  # why not more: sim/bench.py
    ap.add_argument("--icarus-packets", type=int, default=0, help="frames per cell on Icarus (default: --packets)")
    ap.add_argument("--sims", default=",".join(runner.sims()))
    ap.add_argument("--old-tree", type=Path, help="a git worktree of the commit before the pipelined engine")
    args = ap.parse_args(argv)
    if args.old_tree is not None and not (args.old_tree / "hdl" / "virtio" / "virtq_tx.v").exists():
        print(f"tput: --old-tree {args.old_tree}: not a worktree of this project", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    sims = args.sims.split(",")
    packets = {s: (args.icarus_packets or args.packets) if s == "icarus" else args.packets for s in sims}
    rows = measure(sims, packets, args.old_tree)
    print()
    print(table(rows))
    (OUT / "tput.json").write_text(json.dumps(rows, indent=1))
    print(f"\nJSON: {OUT / 'tput.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
