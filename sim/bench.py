"""``make bench``: simulation speed, measured in one run on both simulators (compare ratios, not times).

- PCIe foundation: wall time per BAR read, cycles per wall second during the DMA self-test and idle.
- The headline transmit scenario (post-patch driver, fast device): simulated packets per wall second, with
  the checkers on (as every test runs) and off (TB_CHECKERS=0): what the checkers cost.
- The throughput scenario (sim/tput.py): the TX ring kept full, 60 B and 1,514 B frames, both used-ring push
  policies: wire utilization, cycles and device TLPs per packet against the minimum, packets and cycles per
  wall second; with ``--old-tree`` (or BENCH_OLD_TREE) the previous engine's commit in the same table.
- The RX scenario (sim/rx_tput.py): 60 B and 1,514 B frames back to back from the wire into the 2.6.31
  receive path: simulated RX Gb/s, wire occupancy, drops, RX frames per wall second.
- The size of the device: make synth's resource counts and logic depth (sim/synth.py; unchanged modules
  come from its cache), with the change since the last bench run, so a change that grows the design shows.

Writes build/bench/bench.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from sim import runner, rx_tput, synth, toolchain, tput
from sim.ab_matrix import OUT_DIR as AB_DIR

OUT = runner.ROOT / "build" / "bench"


def bench_pcie(sim: str) -> dict:
    result = OUT / f"pcie-{sim}.json"
    result.unlink(missing_ok=True)
    runner.run(
        sim,
        "virtio_net_usp",
        "tests.sim.bench_pcie",
        run_name="bench-pcie",
        extra_env={"BENCH_RESULT": str(result), "COCOTB_LOG_LEVEL": "WARNING"},
    )
    return json.loads(result.read_text())


def bench_xmit(sim: str, packets: int, checkers: bool = True) -> dict:
    tag = "" if checkers else "-nochk"
    result = OUT / f"xmit-{sim}{tag}.json"
    result.unlink(missing_ok=True)
    runner.run(
        sim,
        "virtio_net_usp",
        "tests.sim.ab_cell",
        run_name=f"bench-xmit{tag}",
        extra_env={
            "AB_VARIANT": "post",
            "AB_DEVICE": "fast",
            "AB_POLICY": "WHEN_ACKED",
            "AB_PACKETS": str(packets),
            "AB_RESULT": str(result),
            "COCOTB_LOG_LEVEL": "WARNING",
            "TB_CHECKERS": "1" if checkers else "0",
        },
    )
    return json.loads(result.read_text())


SYNTH_ROWS = (
    ("lut", "LUT"),
    ("lutram", "LUTRAM"),
    ("ff", "FF"),
    ("ramb36", "RAMB36"),
    ("dsp", "DSP"),
    ("carry", "CARRY4"),
)


def bench_synth(jobs: int) -> dict:
    """Resources and logic depth of virtio_net_usp at its default parameters (make synth)."""
    report = synth.run(
        synth.default_design(), jobs, tops=["virtio_net_usp"], log=lambda line: print(f"bench {line}", flush=True)
    )
    entry = report["tops"]["virtio_net_usp"]
    return {
        "yosys": report["yosys"],
        "total": entry["total"],
        "per_instance": {i["path"]: {k: i[k] for k, _ in SYNTH_ROWS} for i in entry["instances"]},
        "lut_levels": {d: p["lut_levels"] for d, p in entry["depth"].items()},
        "wall_s": report["time"]["wall_s"],
        "cpu_s": report["time"]["cpu_s"],
    }


def synth_lines(now: dict, before: dict | None) -> list[str]:
    def delta(new: float, old: float | None) -> str:
        if old is None:
            return ""
        if new == old:
            return "   (same as the last bench)"
        pct = f", {100 * (new - old) / old:+.1f}%" if old else ""
        return f"   ({new - old:+g}{pct} since the last bench)"

    old_total = (before or {}).get("total", {})
    lines = [f"\ndevice size, virtio_net_usp ({now['yosys']}):"]
    for key, name in SYNTH_ROWS:
        lines.append(f"{name:34}{now['total'][key]:>14g}{delta(now['total'][key], old_total.get(key))}")
    old_depth = (before or {}).get("lut_levels", {})
    for dom, levels in now["lut_levels"].items():
        lines.append(f"{'LUT levels, ' + dom:34}{levels:>14}{delta(levels, old_depth.get(dom))}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=300)
    ap.add_argument("--sims", default=",".join(runner.sims()))
    ap.add_argument("--jobs", type=int, default=2, help="yosys jobs for the resource counts")
    # 1,000, not the 2,000 frames first planned: past the driver model's qdisc limit (1,000) the sender
    # blocks once per frame, and the testbench then slows down and grows in memory much faster than the
    # frame count (on the previous engine too; not yet understood, see sim/tput.py)
    ap.add_argument("--tput-packets", type=int, default=1000, help="frames per throughput cell")
    ap.add_argument("--tput-icarus-packets", type=int, default=300, help="frames per throughput cell on Icarus")
    ap.add_argument("--rx-frames", type=int, default=1000, help="frames per RX throughput cell")
    ap.add_argument("--rx-icarus-frames", type=int, default=300, help="frames per RX throughput cell on Icarus")
    ap.add_argument(
        "--old-tree",
        type=Path,
        default=Path(os.environ["BENCH_OLD_TREE"]) if os.environ.get("BENCH_OLD_TREE") else None,
        help="a git worktree of the commit before the pipelined TX engine (its throughput, back to back)",
    )
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    AB_DIR.mkdir(parents=True, exist_ok=True)
    report: dict[str, dict] = {}
    t0 = time.monotonic()

    def phase(text: str) -> None:
        print(f"{time.monotonic() - t0:6.0f} s  bench {text}", flush=True)

    for sim in args.sims.split(","):
        t = time.monotonic()
        phase(f"{sim}: PCIe foundation (BAR reads, DMA self-test, idle) ...")
        pcie = bench_pcie(sim)
        phase(f"{sim}: transmit, {args.packets} packets, checkers on ...")
        xmit = bench_xmit(sim, args.packets)
        phase(f"{sim}: transmit, {args.packets} packets, checkers off ...")
        bare = bench_xmit(sim, args.packets, checkers=False)
        phase(f"{sim}: done in {time.monotonic() - t:.0f} s")
        keys = ("packets", "sim_pkts_per_s", "tlp_per_pkt", "irq_per_pkt", "wall_s")
        report[sim] = {
            "pcie": pcie,
            "xmit": {k: xmit[k] for k in keys},
            "xmit_no_checkers": {k: bare[k] for k in keys},
            "checker_cost_pct": round(100 * (bare["sim_pkts_per_s"] / xmit["sim_pkts_per_s"] - 1), 1),
            "wall_s": round(time.monotonic() - t, 1),
        }
    print(f"\n{'':34}" + "".join(f"{s:>14}" for s in report))
    rows = [
        ("wall ms per BAR read", lambda r: r["pcie"]["bar_read_wall_ms"]),
        ("sim ns per BAR read", lambda r: r["pcie"]["bar_read_sim_ns"]),
        ("cycles/s, DMA self-test", lambda r: r["pcie"]["selftest_cycles_per_s"]),
        ("cycles/s, idle", lambda r: r["pcie"]["idle_cycles_per_s"]),
        ("packets/s, post + fast device", lambda r: r["xmit"]["sim_pkts_per_s"]),
        ("packets/s, same, checkers off", lambda r: r["xmit_no_checkers"]["sim_pkts_per_s"]),
        ("checker cost, % wall time", lambda r: r["checker_cost_pct"]),
        ("TLPs per packet", lambda r: r["xmit"]["tlp_per_pkt"]),
    ]
    for name, get in rows:
        print(f"{name:34}" + "".join(f"{get(r):>14.2f}" for r in report.values()))
    sims = args.sims.split(",")
    tput_packets = {s: args.tput_icarus_packets if s == "icarus" else args.tput_packets for s in sims}
    tput_rows = tput.measure(sims, tput_packets, args.old_tree, log=phase)
    print("\nthroughput, TX ring kept full (sim/tput.py: the minimum TLPs per packet and its formula):")
    print(tput.table(tput_rows))
    report["tput"] = {"rows": tput_rows}
    rx_frames = {s: args.rx_icarus_frames if s == "icarus" else args.rx_frames for s in sims}
    rx_rows = rx_tput.measure(sims, rx_frames, log=phase)
    print("\nRX, frames back to back from the wire into the 2.6.31 receive path (sim/rx_tput.py):")
    print(rx_tput.table(rx_rows))
    report["rx_tput"] = {"rows": rx_rows}
    previous = OUT / "bench.json"
    before = json.loads(previous.read_text()).get("synth") if previous.exists() else None
    print("bench: resource counts (make synth) ...", flush=True)
    synth_now: dict | None = None
    rc = 0
    try:
        synth_now = bench_synth(args.jobs)
    except (synth.SynthError, toolchain.ToolchainError) as exc:  # reported; the simulation numbers are kept
        print(f"bench: make synth failed, no resource counts: {exc}")
        rc = 1
    if synth_now is not None:
        print("\n".join(synth_lines(synth_now, before)))
    out = dict(report)
    if synth_now is not None:
        out["synth"] = synth_now
    previous.write_text(json.dumps(out, indent=1))
    print(f"\nJSON: {OUT / 'bench.json'}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
