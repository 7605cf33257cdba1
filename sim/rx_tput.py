"""``make bench``'s RX figures: frames back to back from the wire into the 2.6.31 receive path, 60 B and 1,514 B.

One cell (tests/sim/rx_tput_cell.py) per simulator x frame size: simulated RX Gb/s and wire occupancy in the
steady state, drops, and RX frames simulated per wall second (every checker on).

    python -m sim.rx_tput [--frames 1000] [--icarus-frames 300] [--sims verilator,icarus]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from sim import runner

OUT = runner.ROOT / "build" / "bench"
SIZES = (60, 1514)
# the cell measures from the frame its WARMUP (100) frames in was taken to the last one: fewer frames than this
# leave nothing to measure (tests/sim/rx_tput_cell.py checks the same with its own constant)
MIN_FRAMES = 102


def run_cell(sim: str, size: int, frames: int) -> dict:
    result = OUT / f"rx-tput-{sim}-{size}.json"
    result.unlink(missing_ok=True)
    runner.run(
        sim,
        "virtio_net_usp",
        "tests.sim.rx_tput_cell",
        run_name=f"rx-tput-{size}",
        extra_env={
            "RX_SIZE": str(size),
            "RX_FRAMES": str(frames),
            "RX_RESULT": str(result),
            "COCOTB_LOG_LEVEL": "WARNING",
        },
    )
    return json.loads(result.read_text())


def measure(sims: list[str], frames: dict[str, int], log=print) -> list[dict]:
    rows: list[dict] = []
    t0 = time.monotonic()
    for sim in sims:
        for size in SIZES:
            log(f"{time.monotonic() - t0:6.0f} s  rx {sim} {size} B: {frames[sim]} frames ...")
            rows.append({"sim": sim, **run_cell(sim, size, frames[sim])})
    return rows


def table(rows: list[dict]) -> str:
    head = (
        f"{'sim':9} {'bytes':>5} {'frames':>6} {'RX Gb/s':>8} {'wire%':>6} {'cyc/frame':>9} {'drops':>5} "
        f"{'frames/s':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['sim']:9} {r['size']:>5} {r['frames']:>6} {r['rx_gbps']:>8.2f} {r['wire_pct']:>6.1f} "
            f"{r['cycles_per_frame']:>9.2f} {r['drops']:>5} {r['sim_frames_per_s']:>9.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--icarus-frames", type=int, default=300)
    ap.add_argument("--sims", default=",".join(runner.sims()))
    args = ap.parse_args(argv)
    for flag, n in (("--frames", args.frames), ("--icarus-frames", args.icarus_frames)):
        if n < MIN_FRAMES:
            ap.error(f"{flag} {n}: at least {MIN_FRAMES} (the first 100 frames are the warm-up, not measured)")
    OUT.mkdir(parents=True, exist_ok=True)
    sims = args.sims.split(",")
    rows = measure(sims, {s: args.icarus_frames if s == "icarus" else args.frames for s in sims})
    print()
    print(table(rows))
    (OUT / "rx_tput.json").write_text(json.dumps(rows, indent=1))
    print(f"\nJSON: {OUT / 'rx_tput.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
