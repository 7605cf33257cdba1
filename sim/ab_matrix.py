"""``make regress``'s headline: the A/B matrix of the seed commit, on Verilator.

{driver: pre, post, post-cap} x {device: fast, wire-limited, batched} x {noe_policy: WHEN_ACKED, ALWAYS},
1000 packets per cell (AB_PACKETS to change); the batched device is the fast one with the batched used-ring
push policy (DeviceModes.push). Prints a progress line per cell and then the table (irq_per_pkt,
kick_per_pkt, tlp_per_pkt, reclaim sites, TX_BUSY, drops), writes the same as JSON to
build/regress/ab_matrix.json and draws build/regress/ab_matrix.png.

Expected shape (reference/virtio-xmit.md §10): pre + fast device ~ 1 interrupt per packet; post ~ 0 after
the first; post with ALWAYS still ~ 1 per packet but no reclaim in interrupt context.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from sim import runner

OUT_DIR = runner.ROOT / "build" / "regress"
# every transmit variant of the driver model (tb/driver/virtio_net.py VARIANTS; sim never imports tb, so the
# names are listed here and tests/unit/test_event_idx_model.py holds the two lists equal)
ALL_VARIANTS = ("pre", "pre-a", "post", "post-cap", "event-idx", "cb-delayed", "napi-tx", "debian-6.1")
VARIANTS = ("pre", "post", "post-cap")  # the seed commit's matrix (--variants to choose others)
DEVICES = ("fast", "wire-limited", "batched")
POLICIES = ("WHEN_ACKED", "ALWAYS")


def run_cell(variant: str, device: str, policy: str, packets: int, sim: str) -> dict:
    name = f"{variant}-{device}-{policy}"
    result = OUT_DIR / "cells" / f"{name}.json"
    result.parent.mkdir(parents=True, exist_ok=True)
    result.unlink(missing_ok=True)
    runner.run(
        sim,
        "virtio_net_usp",
        "tests.sim.ab_cell",
        run_name=f"ab-{name}",
        extra_env={
            "AB_VARIANT": variant,
            "AB_DEVICE": device,
            "AB_POLICY": policy,
            "AB_PACKETS": str(packets),
            "AB_RESULT": str(result),
            "COCOTB_LOG_LEVEL": "WARNING",
        },
    )
    return json.loads(result.read_text())


def table(rows: list[dict]) -> str:
    head = (
        f"{'driver':9} {'device':13} {'noe_policy':11} {'pkts':>5} {'irq/pkt':>8} {'kick/pkt':>8} "
        f"{'tlp/pkt':>8} {'reclaim (start_xmit/tasklet/timer)':>36} {'TX_BUSY':>7} {'drops':>5} {'pkt/s':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        rec = r["reclaim"]
        sites = f"{rec.get('start_xmit', 0)}/{rec.get('tasklet', 0)}/{rec.get('timer', 0)}"
        lines.append(
            f"{r['variant']:9} {r['device']:13} {r['noe_policy']:11} {r['packets']:>5} "
            f"{r['irq_per_pkt']:>8.3f} {r['kick_per_pkt']:>8.3f} {r['tlp_per_pkt']:>8.2f} "
            f"{sites:>36} {r['tx_busy']:>7} {r['tx_dropped']:>5} {r['sim_pkts_per_s']:>6.1f}"
        )
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['variant']}\n{r['device']}\n{r['noe_policy']}" for r in rows]
    palette = ("#c44e52", "#8c564b", "#4c72b0", "#55a868", "#8172b2", "#ccb974", "#64b5cd", "#dd8452")
    colors = dict(zip(ALL_VARIANTS, palette, strict=True))  # by driver
    fig, ax = plt.subplots(figsize=(12, 4.5))
    ax.bar(range(len(rows)), [r["irq_per_pkt"] for r in rows], color=[colors[r["variant"]] for r in rows])
    ax.set_xticks(range(len(rows)), labels, fontsize=7)
    ax.set_ylabel("TX interrupts per packet")
    ax.set_ylim(0, 1.15)
    ax.set_title("virtio-net TX interrupts per packet, b0c39dbd (post) vs parent (pre), on the RTL device")
    for i, r in enumerate(rows):
        ax.text(i, r["irq_per_pkt"] + 0.02, f"{r['irq_per_pkt']:.2f}", ha="center", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def shape_violations(rows: list[dict]) -> list[str]:
    """The expected shape of §10 as checks on the measured cells."""
    cell = {(r["variant"], r["device"], r["noe_policy"]): r for r in rows}
    bad = []
    pre = cell.get(("pre", "fast", "WHEN_ACKED"))
    if pre and pre["irq_per_pkt"] < 0.8:
        bad.append(f"pre + fast device: {pre['irq_per_pkt']:.3f} interrupts per packet, expected about 1")
    for variant in ("post", "post-cap"):
        r = cell.get((variant, "fast", "WHEN_ACKED"))
        if r and r["irq_per_pkt"] > 0.05:
            bad.append(f"{variant} + fast device: {r['irq_per_pkt']:.3f} interrupts per packet, expected about 0")
        r = cell.get((variant, "fast", "ALWAYS"))
        if r and r["irq_per_pkt"] < 0.8:
            bad.append(f"{variant} + ALWAYS: {r['irq_per_pkt']:.3f} interrupts per packet, expected about 1")
        if r and set(r["reclaim"]) - {"start_xmit"}:
            bad.append(f"{variant} + ALWAYS: reclaim outside start_xmit: {r['reclaim']}")
    for r in rows:
        if r["tx_dropped"]:
            bad.append(f"{r['variant']}/{r['device']}/{r['noe_policy']}: {r['tx_dropped']} drops")
    return bad


def _cell_job(cell: tuple[str, str, str], packets: int, sim: str) -> tuple[dict, float]:
    t = time.monotonic()
    row = run_cell(*cell, packets, sim)
    return row, time.monotonic() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=1000)
    ap.add_argument("--sim", default="verilator", choices=runner.SIMULATORS)
    ap.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated transmit variants (default {','.join(VARIANTS)}; all: {','.join(ALL_VARIANTS)})",
    )
    ap.add_argument(
        "--jobs",
        type=int,
        default=int(os.environ.get("JOBS", "0") or 0) or os.cpu_count() or 1,
        help="cells simulated at once (default: JOBS, else the number of CPUs)",
    )
    args = ap.parse_args(argv)
    variants = tuple(v for v in args.variants.split(",") if v)
    unknown = [v for v in variants if v not in ALL_VARIANTS]
    if unknown or not variants:
        ap.error(f"--variants {args.variants!r}: unknown {unknown}; one or more of {','.join(ALL_VARIANTS)}")
    cells = list(itertools.product(variants, DEVICES, POLICIES))
    t0 = time.monotonic()
    # one build, before the cells share it
    runner.build(args.sim, "virtio_net_usp", runner.hdl_sources())
    print(f"A/B matrix: {len(cells)} cells of {args.packets} packets on {args.sim}, {args.jobs} at a time", flush=True)
    done: dict[tuple[str, str, str], dict] = {}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        # the wire-limited cells take longest: start them first
        order = sorted(cells, key=lambda c: c[1] != "wire-limited")
        futures = {pool.submit(_cell_job, cell, args.packets, args.sim): cell for cell in order}
        for fut in as_completed(futures):
            variant, device, policy = futures[fut]
            row, wall = fut.result()
            done[futures[fut]] = row
            print(
                f"[{len(done):2}/{len(cells)}] {time.monotonic() - t0:5.0f} s  {variant:8} {device:12} {policy:10} "
                f"irq/pkt {row['irq_per_pkt']:.3f}  kick/pkt {row['kick_per_pkt']:.3f}  "
                f"tlp/pkt {row['tlp_per_pkt']:.2f}  ({wall:.0f} s, {row['sim_pkts_per_s']:.1f} pkt/s)",
                flush=True,
            )
    rows = [done[cell] for cell in cells]
    print()
    print(table(rows))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / "ab_matrix.json"
    out.write_text(
        json.dumps(
            {
                "packets_per_cell": args.packets,
                "simulator": args.sim,
                "wall_s": round(time.monotonic() - t0, 1),
                "cells": rows,
            },
            indent=1,
            default=str,
        )
    )
    png = OUT_DIR / "ab_matrix.png"
    plot(rows, png)
    print(f"\nJSON: {out}\nplot: {png}")
    bad = shape_violations(rows)
    for line in bad:
        print(f"SHAPE: {line}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
