"""The README's picture: the TX interrupt line and the used.idx writes around a burst, pre- next to post-patch.

    make waves TEST=tests/sim/test_virtio_tx.py TESTCASE='[.]a1_a2_a4_fast_device/' SIM=verilator
    .venv/bin/python -m sim.wave_picture build/sim/verilator/virtio_net_usp-default-waves/runs/test_virtio_tx-a1_a2_a4*
        [--out docs/irq_storm.png] [--us 100]

The run directories are the ones ``make waves`` prints (each holds a dump and an
``a1_a2_a4_fast_device__variant=*.events.jsonl``): the test runs the same traffic pre-patch (NOTIFY_ON_EMPTY
acked) and post-patch, as two cocotb tests (two runs, or one when they share a simulator run); the event logs'
``xmit`` and first ``start_xmit`` events say where
each burst starts, the dump gives ``cfg_interrupt_msix_int`` (the MSI-X request line; the TX vector is the
only one firing here) and the used writer's ``used_idx_reg`` (it steps when the queue has written used.idx).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim import wavedump
from sim.events import read_events

TOP = "virtio_net_usp"
IRQ = f"{TOP}.cfg_interrupt_msix_int"
USED = f"{TOP}.core_inst.virtq_tx_inst.used_inst.used_idx_reg"


def burst_starts(events: list[dict]) -> list[tuple[str, float]]:
    """(variant, time of its first start_xmit) for each xmit in the log."""
    out, pending = [], None
    for e in events:
        if e["source"] == "tb" and e["event"] == "xmit":
            pending = e.get("variant", "?")
        elif pending is not None and e["source"] == "driver" and e["event"] == "start_xmit":
            out.append((pending, e["time_ns"]))
            pending = None
    return out


def _in(ch, t0, t1):
    return [(t, v) for t, v in ch if t0 <= t <= t1]


def render(run_dirs: list[Path], out: Path, span_us: float = 100.0) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = []  # (variant, burst start, channels, dump name) in time order within each run
    for run_dir in run_dirs:
        dump = next(run_dir.glob("*.fst"), None) or next(run_dir.glob("*.vcd"), None)
        logs = [read_events(p) for p in run_dir.glob("a1_a2_a4_fast_device*.events.jsonl")]
        if dump is None or not logs:
            raise SystemExit(
                f"no dump or no a1_a2_a4_fast_device event log in {run_dir}: run the make waves command first"
            )
        events = [e for log in sorted(logs, key=lambda lg: lg[0]["time_ns"] if lg else 0) for e in log]
        ch = wavedump.changes(dump, [IRQ, USED])
        columns += [(variant, t0, ch, dump.name) for variant, t0 in burst_starts(events)]
    columns.sort(key=lambda c: c[0] != "pre")
    starts = [(variant, t0) for variant, t0, _, _ in columns]
    fig, axes = plt.subplots(
        2,
        len(starts),
        figsize=(6.5 * len(starts), 4.2),
        sharex=True,
        gridspec_kw={"height_ratios": [1, 2]},
        squeeze=False,
    )
    for col, (variant, t0, ch, _) in enumerate(columns):
        t1 = t0 + span_us * 1e3
        irq = [(t, v) for t, v in _in(ch[IRQ], t0, t1) if v == 1]
        used = _in(ch[USED], t0, t1)
        ax_irq, ax_used = axes[0][col], axes[1][col]
        for t, _ in irq:
            ax_irq.axvline((t - t0) / 1e3, color="tab:red", lw=1.2)
        ax_irq.set_yticks([])
        ax_irq.set_title(f"{variant}-patch: {len(irq)} MSI-X requests, {len(used)} used.idx writes in {span_us:.0f} us")
        ax_irq.set_ylabel("TX irq\n(msix_int)")
        xs = [(t - t0) / 1e3 for t, _ in used]
        ys = [v for _, v in used]
        if xs:
            ax_used.step(xs, ys, where="post", color="tab:blue")
            ax_used.plot(xs, ys, "o", ms=3, color="tab:blue")
        ax_used.set_ylabel("used.idx written")
        ax_used.set_xlabel(f"us after the first start_xmit (t = {t0 / 1e3:.1f} us)")
        ax_used.set_xlim(0, span_us)
    fig.suptitle("a1_a2_a4_fast_device, gap 4 us between packets: " + ", ".join(sorted({c[3] for c in columns})))
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dirs", type=Path, nargs="+")
    ap.add_argument("--out", type=Path, default=Path("docs/irq_storm.png"))
    ap.add_argument("--us", type=float, default=100.0, help="window length after each burst's start")
    args = ap.parse_args(argv)
    print(render(args.run_dirs, args.out, args.us))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
