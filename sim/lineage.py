"""``make regress``'s lineage matrix: the transmit path from 2009 to Debian's 6.1 on one RTL device (Verilator).

{every transmit variant of the driver model, in kernel order} x {device: fast, wire-limited, batched} x
{VIRTIO_RING_F_EVENT_IDX: not offered, offered}, notify-on-empty policy WHEN_ACKED, the traffic of the A/B
matrix (tests/sim/ab_cell.py: packets unpaced behind a 2 us sender, the guest's costs of tb/driver GuestTiming;
300 packets per cell here, --packets to change). The variants before 3.0 never ack EVENT_IDX: their "offered"
cell runs on the fast device only (--all-cells: on every device) and shows that an offer alone changes
nothing. Every number is counted in the run: interrupts delivered on the TX vector,
notify register writes (forced ones included), the device's TLPs from the debug BAR counters.

Prints a progress line per cell, then the table; writes build/regress/lineage.json, lineage.md (the table as
the README shows it) and lineage.png (interrupts and kicks per packet across the driver's history, one line
per device and EVENT_IDX setting). Exits 1 when a cell drops frames or breaks the lineage's expected shape
(``shape_violations``: the checks are on measured cells, not on numbers written here).

``python -m sim.lineage --variants napi-tx,debian-6.1 --devices fast --event-idx on --packets 200`` runs a
part of it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from sim import runner
from sim.ab_matrix import ALL_VARIANTS, DEVICES, OUT_DIR

# the kernel each variant models (tb/driver/virtio_net.py names the commits); the x axis of the plot
KERNEL = {
    "pre": "2009, b0c39dbd^",
    "pre-a": "2.6.28-31",
    "post": "2009, b0c39dbd",
    "post-cap": "~2.6.34, 48925e37",
    "event-idx": "3.0, a5c262c5",
    "cb-delayed": "3.0, 7a66f784",
    "napi-tx": "4.12-5.12, b92f1e67",
    "debian-6.1": "6.1 (Debian)",
}
# the variants in kernel order (the table's rows, the plot's x axis)
HISTORY = ("pre-a", "pre", "post", "post-cap", "event-idx", "cb-delayed", "napi-tx", "debian-6.1")
# the variants whose ring knows VIRTIO_RING_F_EVENT_IDX (tb/driver/virtio_net.py EVENT_IDX_VARIANTS; sim never
# imports tb: tests/unit/test_lineage_rtl.py holds the two lists equal)
EVENT_IDX_VARIANTS = ("event-idx", "cb-delayed", "napi-tx", "debian-6.1")
EVENT_IDX = {"off": False, "on": True}

Cell = tuple[str, str, bool]  # (variant, device, EVENT_IDX offered)


def run_cell(variant: str, device: str, event_idx: bool, packets: int, sim: str) -> dict:
    name = f"{variant}-{device}-evidx{int(event_idx)}"
    result = OUT_DIR / "lineage-cells" / f"{name}.json"
    result.parent.mkdir(parents=True, exist_ok=True)
    result.unlink(missing_ok=True)
    runner.run(
        sim,
        "virtio_net_usp",
        "tests.sim.ab_cell",
        run_name=f"lineage-{name}",
        extra_env={
            "AB_VARIANT": variant,
            "AB_DEVICE": device,
            "AB_POLICY": "WHEN_ACKED",
            "AB_EVENT_IDX": "1" if event_idx else "0",
            "AB_PACKETS": str(packets),
            "AB_RESULT": str(result),
            "COCOTB_LOG_LEVEL": "WARNING",
        },
    )
    return json.loads(result.read_text())


def _evidx(r: dict) -> str:
    if not r["event_idx_offered"]:
        return "off"
    return "acked" if r["event_idx_acked"] else "not acked"


def table(rows: list[dict]) -> str:
    head = (
        f"{'driver':11} {'kernel':20} {'device':13} {'EVENT_IDX':9} {'pkts':>5} {'irq/pkt':>8} {'kick/pkt':>8} "
        f"{'tlp/pkt':>8} {'stops':>5} {'TX_BUSY':>7} {'pkt/s':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['variant']:11} {KERNEL[r['variant']]:20} {r['device']:13} {_evidx(r):9} {r['packets']:>5} "
            f"{r['irq_per_pkt']:>8.3f} {r['kick_per_pkt']:>8.3f} {r['tlp_per_pkt']:>8.2f} {r['stops']:>5} "
            f"{r['tx_busy']:>7} {r['sim_pkts_per_s']:>6.1f}"
        )
    return "\n".join(lines)


def markdown(rows: list[dict], packets: int) -> str:
    """The README's headline table: one row per variant, interrupts / kicks per packet per device and
    EVENT_IDX setting (every number from the cells of this run)."""
    cell = {(r["variant"], r["device"], r["event_idx_offered"]): r for r in rows}
    variants = [v for v in HISTORY if any(k[0] == v for k in cell)]
    cols = [(d, e) for d in DEVICES for e in (False, True) if any((v, d, e) in cell for v in variants)]
    head = "| driver (kernel) | " + " | ".join(f"{d}, EVENT_IDX {'on' if e else 'off'}" for d, e in cols) + " |"
    lines = [
        f"TX interrupts / kicks per packet, {packets} packets per cell, on the RTL device (Verilator); "
        "'on' = offered (the variants before 3.0 do not ack it).",
        "",
        head,
        "|" + " --- |" * (len(cols) + 1),
    ]
    for v in variants:
        vals = []
        for d, e in cols:
            r = cell.get((v, d, e))
            vals.append(f"{r['irq_per_pkt']:.3f} / {r['kick_per_pkt']:.3f}" if r else "")
        lines.append(f"| {v} ({KERNEL[v]}) | " + " | ".join(vals) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = [v for v in HISTORY if any(r["variant"] == v for r in rows)]
    x = {v: i for i, v in enumerate(variants)}
    colors = {"fast": "#4c72b0", "wire-limited": "#dd8452", "batched": "#55a868"}
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharex=True)
    for ax, key, title in (
        (axes[0], "irq_per_pkt", "TX interrupts per packet"),
        (axes[1], "kick_per_pkt", "kicks (notify writes) per packet"),
    ):
        for device in DEVICES:
            for event_idx, style in ((False, "-o"), (True, "--s")):
                # devices side by side around each variant, so equal values do not hide one another
                shift = (DEVICES.index(device) - 1) * 0.08
                pts = sorted(
                    (x[r["variant"]] + shift, r[key])
                    for r in rows
                    if r["device"] == device and r["event_idx_offered"] == event_idx
                )
                if pts:
                    ax.plot(
                        [p[0] for p in pts],
                        [p[1] for p in pts],
                        style,
                        color=colors[device],
                        label=f"{device}, EVENT_IDX {'offered' if event_idx else 'off'}",
                        markersize=4,
                    )
        ax.set_title(title)
        ax.set_ylim(bottom=0)
        ax.set_xticks(range(len(variants)), [f"{v}\n{KERNEL[v]}" for v in variants], fontsize=7, rotation=30)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("virtio-net transmit path, 2009 to Debian 6.1, on one RTL device (counted in simulation)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def shape_violations(rows: list[dict]) -> list[str]:
    """What the lineage must show, checked on the measured cells."""
    cell = {(r["variant"], r["device"], r["event_idx_offered"]): r for r in rows}
    bad = []
    for r in rows:
        name = f"{r['variant']}/{r['device']}/EVENT_IDX {_evidx(r)}"
        if r["tx_dropped"]:
            bad.append(f"{name}: {r['tx_dropped']} drops")
        want_ack = r["event_idx_offered"] and r["variant"] in EVENT_IDX_VARIANTS
        if r["event_idx_acked"] != want_ack:
            bad.append(f"{name}: EVENT_IDX acked = {r['event_idx_acked']}, expected {want_ack}")
    for v in ALL_VARIANTS:
        if v in EVENT_IDX_VARIANTS:
            continue
        for d in DEVICES:
            off, on = cell.get((v, d, False)), cell.get((v, d, True))
            # a driver that does not ack EVENT_IDX meets the device it met before: the same counts
            if off and on and (off["tx_irqs"], off["kick_per_pkt"]) != (on["tx_irqs"], on["kick_per_pkt"]):
                bad.append(
                    f"{v}/{d}: EVENT_IDX offered but not acked changed the run (irqs {off['tx_irqs']} -> "
                    f"{on['tx_irqs']}, kicks per packet {off['kick_per_pkt']} -> {on['kick_per_pkt']})"
                )
    pre = cell.get(("pre", "fast", False))
    if pre and pre["irq_per_pkt"] < 0.8:
        bad.append(f"pre + fast device: {pre['irq_per_pkt']:.3f} interrupts per packet, expected about 1 (the seed)")
    return bad


def _cell_job(cell: Cell, packets: int, sim: str) -> tuple[dict, float]:
    t = time.monotonic()
    row = run_cell(*cell, packets, sim)
    return row, time.monotonic() - t


def _choice(ap: argparse.ArgumentParser, flag: str, value: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    picked = tuple(v for v in value.split(",") if v)
    unknown = [v for v in picked if v not in allowed]
    if unknown or not picked:
        ap.error(f"{flag} {value!r}: unknown {unknown}; one or more of {','.join(allowed)}")
    return picked


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=300)
    ap.add_argument("--sim", default="verilator", choices=runner.SIMULATORS)
    ap.add_argument("--variants", default=",".join(HISTORY), help="comma-separated (default: all)")
    ap.add_argument("--devices", default=",".join(DEVICES), help=f"comma-separated of {','.join(DEVICES)}")
    ap.add_argument("--event-idx", default="off,on", help="off, on or off,on (default)")
    ap.add_argument(
        "--all-cells", action="store_true", help="the variants before 3.0 with EVENT_IDX offered on every device too"
    )
    ap.add_argument(
        "--jobs",
        type=int,
        default=int(os.environ.get("JOBS", "0") or 0) or os.cpu_count() or 1,
        help="cells simulated at once (default: JOBS, else the number of CPUs)",
    )
    ap.add_argument(
        "--rejudge", action="store_true", help="table, plot and shape checks again from build/regress/lineage.json"
    )
    args = ap.parse_args(argv)
    if args.rejudge:
        last = json.loads((OUT_DIR / "lineage.json").read_text())
        return report(last["cells"], last["packets_per_cell"])
    if args.packets < 1:
        ap.error("--packets must be at least 1")
    variants = _choice(ap, "--variants", args.variants, HISTORY)
    devices = _choice(ap, "--devices", args.devices, DEVICES)
    evidx = _choice(ap, "--event-idx", args.event_idx, tuple(EVENT_IDX))
    # a variant before 3.0 never acks EVENT_IDX: its "offered" cell runs on the first device only, to show
    # the offer alone changes nothing (shape_violations compares it with the "off" cell); --all-cells for every one
    cells: list[Cell] = [
        (v, d, EVENT_IDX[e])
        for v in variants
        for d in devices
        for e in evidx
        if args.all_cells or not EVENT_IDX[e] or v in EVENT_IDX_VARIANTS or d == devices[0] or "off" not in evidx
    ]
    t0 = time.monotonic()
    runner.build(args.sim, "virtio_net_usp", runner.hdl_sources())
    print(f"lineage: {len(cells)} cells of {args.packets} packets on {args.sim}, {args.jobs} at a time", flush=True)
    done: dict[Cell, dict] = {}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        order = sorted(cells, key=lambda c: c[1] != "wire-limited")  # the longest cells first
        futures = {pool.submit(_cell_job, cell, args.packets, args.sim): cell for cell in order}
        for fut in as_completed(futures):
            variant, device, _ = futures[fut]
            row, wall = fut.result()
            done[futures[fut]] = row
            print(
                f"[{len(done):2}/{len(cells)}] {time.monotonic() - t0:5.0f} s  {variant:10} {device:12} "
                f"EVENT_IDX {_evidx(row):9} irq/pkt {row['irq_per_pkt']:.3f}  kick/pkt {row['kick_per_pkt']:.3f}  "
                f"tlp/pkt {row['tlp_per_pkt']:.2f}  ({wall:.0f} s)",
                flush=True,
            )
    rows = [done[cell] for cell in cells]
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / "lineage.json"
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
    print(f"\nJSON: {out}")
    return report(rows, args.packets)


def report(rows: list[dict], packets: int) -> int:
    """The table, the markdown table, the plot and the shape checks of a run's cells; 1 if a check fails."""
    print()
    print(table(rows))
    md = OUT_DIR / "lineage.md"
    md.write_text(markdown(rows, packets))
    png = OUT_DIR / "lineage.png"
    plot(rows, png)
    print(f"table: {md}\nplot: {png}")
    bad = shape_violations(rows)
    for line in bad:
        print(f"SHAPE: {line}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
