"""``make bench``: simulation speed, measured in one run on both simulators (compare ratios, not times).

- PCIe foundation: wall time per BAR read, cycles per wall second during the DMA self-test and idle.
- The headline transmit scenario (post-patch driver, fast device): simulated packets per wall second, with
  the checkers on (as every test runs) and off (TB_CHECKERS=0): what the checkers cost.

Writes build/bench/bench.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from sim import runner
from sim.ab_matrix import OUT_DIR as AB_DIR

OUT = runner.ROOT / "build" / "bench"


def bench_pcie(sim: str) -> dict:
    result = OUT / f"pcie-{sim}.json"
    result.unlink(missing_ok=True)
    runner.run(sim, "virtio_net_usp", "tests.sim.bench_pcie", run_name="bench-pcie",
               extra_env={"BENCH_RESULT": str(result), "COCOTB_LOG_LEVEL": "WARNING"})
    return json.loads(result.read_text())


def bench_xmit(sim: str, packets: int, checkers: bool = True) -> dict:
    tag = "" if checkers else "-nochk"
    result = OUT / f"xmit-{sim}{tag}.json"
    result.unlink(missing_ok=True)
    runner.run(sim, "virtio_net_usp", "tests.sim.ab_cell", run_name=f"bench-xmit{tag}",
               extra_env={"AB_VARIANT": "post", "AB_DEVICE": "fast", "AB_POLICY": "WHEN_ACKED",
                          "AB_PACKETS": str(packets), "AB_RESULT": str(result), "COCOTB_LOG_LEVEL": "WARNING",
                          "TB_CHECKERS": "1" if checkers else "0"})
    return json.loads(result.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=300)
    ap.add_argument("--sims", default=",".join(runner.sims()))
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
        report[sim] = {"pcie": pcie, "xmit": {k: xmit[k] for k in keys},
                       "xmit_no_checkers": {k: bare[k] for k in keys},
                       "checker_cost_pct": round(100 * (bare["sim_pkts_per_s"] / xmit["sim_pkts_per_s"] - 1), 1),
                       "wall_s": round(time.monotonic() - t, 1)}
    print(f"\n{'':34}" + "".join(f"{s:>14}" for s in report))
    rows = [("wall ms per BAR read", lambda r: r["pcie"]["bar_read_wall_ms"]),
            ("sim ns per BAR read", lambda r: r["pcie"]["bar_read_sim_ns"]),
            ("cycles/s, DMA self-test", lambda r: r["pcie"]["selftest_cycles_per_s"]),
            ("cycles/s, idle", lambda r: r["pcie"]["idle_cycles_per_s"]),
            ("packets/s, post + fast device", lambda r: r["xmit"]["sim_pkts_per_s"]),
            ("packets/s, same, checkers off", lambda r: r["xmit_no_checkers"]["sim_pkts_per_s"]),
            ("checker cost, % wall time", lambda r: r["checker_cost_pct"]),
            ("TLPs per packet", lambda r: r["xmit"]["tlp_per_pkt"])]
    for name, get in rows:
        print(f"{name:34}" + "".join(f"{get(r):>14.2f}" for r in report.values()))
    (OUT / "bench.json").write_text(json.dumps(report, indent=1))
    print(f"\nJSON: {OUT / 'bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
