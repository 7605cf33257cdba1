"""``make hil``: the bring-up and the transmit A/B against QEMU's virtio-net-pci, from a guest, end to end.

For each backend (uio: pc machine, no IOMMU; vfio: q35 + intel-iommu, intel_iommu=on) this

1. boots a Debian kernel under TCG (KVM here is PVM and hangs stock kernels) with a small initramfs
   (hil/build_initramfs.sh, hil/init.sh) that chroots into the host root, shared read-only over 9p;
2. gives the guest a transitional ``virtio-net-pci,disable-modern=on`` whose backend is a UDP socket to a
   host-side peer (hil/udp_peer.py) that captures every frame into build/hil/<backend>/frames.pcap;
3. runs ``python3 -m tb.bringup --target pci:<bdf> --backend <backend> --json /mnt/<backend>.json`` in the
   guest (hil/guest_<backend>.sh, the system python3.11: the path needs only the standard library): the
   bring-up checks, TX through the ring, MSI-X / INTx delivery, and the pre/post A/B;
4. checks on the host that the peer received exactly the frames the driver queued, byte for byte.

It prints each bring-up table (plus the host's own rows) and the pre/post TX interrupts per packet, writes
build/hil/summary.json, and exits 0 only when everything passed. Every step runs under a timeout.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hil.udp_peer import UdpPeer  # noqa: E402
from tb.bringup import FAIL, NA, PASS, Check, exit_code, format_table  # noqa: E402

BUILD = ROOT / "build" / "hil"
BACKENDS = ("uio", "vfio")
# command or file -> Debian package
REQUIRED = {
    "qemu-system-x86_64": "qemu-system-x86",
    "busybox": "busybox-static",
    "modprobe": "kmod",
    "/usr/bin/python3.11": "python3-minimal",
}
GUEST_MAC = "52:54:00:12:34:56"
GUEST_PYTHON = "/usr/bin/python3.11"
NET_ADDR = "0x10"   # clear of the slots the 9p devices take


class HilUnavailable(RuntimeError):
    """The rig cannot run here (not root, packages missing and not installable); the message says why."""


def find_kernel() -> tuple[Path, str] | None:
    """The newest /boot/vmlinuz-*-amd64 that has its modules installed."""
    found = []
    for vmlinuz in Path("/boot").glob("vmlinuz-*"):
        kver = vmlinuz.name[len("vmlinuz-"):]
        if (Path("/lib/modules") / kver / "modules.dep").is_file():
            found.append((vmlinuz.stat().st_mtime, vmlinuz, kver))
    if not found:
        return None
    _, vmlinuz, kver = max(found)
    return vmlinuz, kver


def missing_packages() -> list[str]:
    missing = [pkg for what, pkg in REQUIRED.items()
               if not (Path(what).exists() if what.startswith("/") else shutil.which(what))]
    if find_kernel() is None:
        missing.append("linux-image-amd64")
    return missing


def ensure_tools(install: bool = True) -> None:
    """Install what is missing with apt-get when root; else raise HilUnavailable naming it."""
    missing = missing_packages()
    if not missing:
        return
    cmd = "apt-get install -y --no-install-recommends " + " ".join(missing)
    if os.geteuid() != 0 or not install:
        raise HilUnavailable(f"missing packages {missing}: as root run 'apt-get update && {cmd}'")
    print(f"hil: installing {' '.join(missing)} (apt-get)", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(["apt-get", "update"], check=True, timeout=300, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(cmd.split(), check=True, timeout=900, env=env, stdout=subprocess.DEVNULL)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        raise HilUnavailable(f"'{cmd}' failed: {exc}") from exc
    still = missing_packages()
    if still:
        raise HilUnavailable(f"still missing after apt-get: {still}")


def build_initramfs(kver: str) -> Path:
    out = BUILD / f"initramfs-{kver}.cpio.gz"
    inputs = [ROOT / "hil" / "build_initramfs.sh", ROOT / "hil" / "init.sh"]
    if out.is_file() and all(out.stat().st_mtime > p.stat().st_mtime for p in inputs):
        return out
    subprocess.run(["sh", str(ROOT / "hil" / "build_initramfs.sh"), kver, str(out)], check=True, timeout=120)
    return out


def precompile(pycache: Path) -> None:
    """Compile what the guest imports, with the guest's interpreter, into a PYTHONPYCACHEPREFIX tree.

    Debian ships asyncio without .pyc files; compiling it in the guest (TCG, 9p) takes about a minute.
    """
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(pycache), PYTHONPATH=str(ROOT))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([GUEST_PYTHON, "-c", "import tb.bringup, tb.platform.uio, tb.platform.vfio, "
                    "concurrent.futures, asyncio, argparse, json"], check=True, timeout=120, env=env, cwd=ROOT)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class GuestRun:
    backend: str
    rc: int | None = None                      # the guest bring-up's exit code (None: it never finished)
    report: dict[str, Any] | None = None
    captured: list[bytes] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)
    wall_s: float = 0.0
    log: Path | None = None
    checks: list[Check] = field(default_factory=list)   # the guest's table plus the host's rows

    @property
    def ok(self) -> bool:
        return exit_code(self.checks) == 0

    def run_summary(self, name: str) -> dict[str, Any]:
        for run in (self.report or {}).get("runs", []):
            if run["name"] == name:
                return run
        return {}


def qemu_command(backend: str, vmlinuz: Path, initrd: Path, share: Path, peer_port: int, local_port: int,
                 guest_args: list[str], guest_timeout: int) -> list[str]:
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-m", "1024", "-smp", "2", "-nographic", "-no-reboot"]
    kargs = ["console=ttyS0", "panic=-1", "quiet", "loglevel=4",
             f"hil_script={ROOT / 'hil' / f'guest_{backend}.sh'}", f"hil_repo={ROOT}", f"hil_tmo={guest_timeout}",
             f"hil_pycache={BUILD / 'pycache'}", "hil_args=" + ",".join(guest_args)]
    if backend == "vfio":
        # the vIOMMU first: devices created after it sit behind it. intremap: type1 wants interrupt remapping
        cmd += ["-M", "q35", "-device", "intel-iommu,intremap=on"]
        kargs += ["intel_iommu=on"]
    cmd += ["-kernel", str(vmlinuz), "-initrd", str(initrd), "-append", " ".join(kargs),
            "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
            # the repository on its own share: the guest's /tmp is a fresh tmpfs, and a checkout may live there
            "-virtfs", f"local,path={ROOT},mount_tag=repo,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", f"local,path={share},mount_tag=share,security_model=none",
            "-netdev", f"socket,id=n0,udp=127.0.0.1:{peer_port},localaddr=127.0.0.1:{local_port}",
            "-device", f"virtio-net-pci,netdev=n0,disable-modern=on,disable-legacy=off,mac={GUEST_MAC},addr={NET_ADDR}"]
    return cmd


def compare_frames(sent: list[bytes], got: list[bytes]) -> Check:
    bad = next((i for i, (a, b) in enumerate(zip(sent, got)) if a != b), None)
    ok = bool(sent) and len(sent) == len(got) and bad is None
    detail = ""
    if bad is not None:
        first = next((k for k in range(min(len(sent[bad]), len(got[bad]))) if sent[bad][k] != got[bad][k]),
                     min(len(sent[bad]), len(got[bad])))
        detail = f"frame {bad}: {len(got[bad])} bytes, expected {len(sent[bad])}, first difference at byte {first}"
    elif len(sent) != len(got):
        detail = f"the peer received {len(got)} frames, the driver queued {len(sent)}"
    elif not sent:
        detail = "no frames"
    return Check("host capture byte-exact", PASS if ok else FAIL,
                 f"{len(got)}/{len(sent)} frames on the UDP peer", detail)


def prepare(install: bool = True) -> tuple[Path, Path]:
    """Tools, kernel, initramfs and the guest's compiled modules; (vmlinuz, initrd). Serialised by a lock
    so parallel runs (pytest-xdist) neither race apt-get nor the build."""
    if os.geteuid() != 0:
        raise HilUnavailable("not root: the rig installs QEMU with apt-get and exports / to the guest over 9p "
                             "(run as root, e.g. sudo make hil)")
    BUILD.mkdir(parents=True, exist_ok=True)
    with open(BUILD / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ensure_tools(install)
        kernel = find_kernel()
        if kernel is None:
            raise HilUnavailable("no kernel with modules under /boot: apt-get install linux-image-amd64")
        vmlinuz, kver = kernel
        initrd = build_initramfs(kver)
        precompile(BUILD / "pycache")
    return vmlinuz, initrd


def run_guest(backend: str, guest_args: list[str], timeout_s: int = 300, install: bool = True) -> GuestRun:
    """Boot one guest for ``backend``, run the bring-up in it, check the captured frames on the host."""
    vmlinuz, initrd = prepare(install)
    work = BUILD / backend
    share = work / "share"
    shutil.rmtree(work, ignore_errors=True)
    share.mkdir(parents=True)
    run = GuestRun(backend, log=work / "qemu.log")
    peer = UdpPeer(work / "frames.pcap").start()
    cmd = qemu_command(backend, vmlinuz, initrd, share, peer.port, free_udp_port(), guest_args,
                       guest_timeout=max(timeout_s - 60, 60))
    (work / "qemu.cmd").write_text(" ".join(cmd) + "\n")
    t0 = time.monotonic()
    timed_out = False
    with open(run.log, "wb") as log:
        try:
            subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
    run.wall_s = time.monotonic() - t0
    time.sleep(0.2)  # the last datagrams
    run.captured = peer.stop()
    rc_file, json_file = share / f"{backend}.rc", share / f"{backend}.json"
    if rc_file.is_file():
        run.rc = int(rc_file.read_text().strip() or "1")
    if json_file.is_file():
        run.report = json.loads(json_file.read_text())
        run.checks = [Check(**c) for c in run.report["checks"]]
        for r in run.report.get("runs", []):
            run.sent += [bytes.fromhex(h) for h in r.get("frames", [])]
        run.checks = [c for c in run.checks if c.name != "wire byte-exact" or c.status != NA]
        run.checks.append(compare_frames(run.sent, run.captured))
    else:
        tail = run.log.read_text(errors="replace")[-1500:] if run.log.is_file() else ""
        why = "QEMU timed out" if timed_out else f"the guest wrote no report (rc {run.rc})"
        run.checks.append(Check("guest run", FAIL, f"{why} after {run.wall_s:.0f} s; log {run.log}",
                                tail.replace("\n", " | ")[-600:]))
    run.checks.append(Check("guest exit code", PASS if run.rc == 0 else FAIL,
                            f"{run.rc} (boot + run {run.wall_s:.1f} s wall{', timed out' if timed_out else ''})"))
    return run


def guest_args(args: argparse.Namespace) -> list[str]:
    return ["--packets", str(args.packets), "--ab-packets", str(args.ab_packets), "--gap-us", str(args.gap_us)]


def ab_line(run: GuestRun) -> str:
    pre, post = run.run_summary("ab-pre"), run.run_summary("ab-post")
    if not pre or not post:
        return f"{run.backend}: A/B did not run"
    mode = "MSI-X" if pre.get("msix") else "INTx"
    return (f"{run.backend} ({mode}): irq_per_pkt pre {pre['irq_per_pkt']:.3f} ({pre['tx_irqs']}/{pre['packets']}), "
            f"post {post['irq_per_pkt']:.3f} ({post['tx_irqs']}/{post['packets']})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.hil", description=__doc__.split("\n\n")[0])
    ap.add_argument("--backends", default="uio,vfio", help="comma-separated: uio, vfio")
    ap.add_argument("--packets", type=int, default=32)
    ap.add_argument("--ab-packets", type=int, default=32)
    ap.add_argument("--gap-us", type=float, default=20_000.0)
    ap.add_argument("--timeout", type=int, default=300, help="seconds per guest boot")
    ap.add_argument("--no-install", action="store_true", help="do not apt-get install what is missing")
    args = ap.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    for b in backends:
        if b not in BACKENDS:
            ap.error(f"unknown backend {b!r}: {BACKENDS}")
    try:
        prepare(install=not args.no_install)
    except HilUnavailable as exc:
        print(f"hil: {exc}", file=sys.stderr)
        return 2
    summary: dict[str, Any] = {}
    runs = []
    for backend in backends:
        print(f"hil: booting the {backend} guest (TCG, about 15-40 s) ...", flush=True)
        run = run_guest(backend, guest_args(args), args.timeout, install=not args.no_install)
        runs.append(run)
        print(format_table(run.checks, f"\nbring-up against QEMU virtio-net-pci via {backend} "
                                       f"(boot + run {run.wall_s:.1f} s)"))
        summary[backend] = {"ok": run.ok, "rc": run.rc, "wall_s": round(run.wall_s, 1),
                            "checks": [c.__dict__ for c in run.checks],
                            "ab": {"pre": run.run_summary("ab-pre"), "post": run.run_summary("ab-post")},
                            "frames_sent": len(run.sent), "frames_captured": len(run.captured),
                            "host_features": (run.report or {}).get("host_features")}
        for ab in summary[backend]["ab"].values():
            ab.pop("frames", None)
    print("\ninterrupt suppression A/B on QEMU (TX interrupts per packet):")
    for run in runs:
        print("  " + ab_line(run))
    (BUILD / "summary.json").write_text(json.dumps(summary, indent=1))
    ok = all(r.ok for r in runs)
    print(f"\nhil: {'PASS' if ok else 'FAIL'} ({', '.join(f'{r.backend} {r.wall_s:.0f} s' for r in runs)}); "
          f"details in {BUILD}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
