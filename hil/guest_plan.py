"""Runs inside the HIL guest: every bring-up of the plan the host wrote, in one Python process.

    python3.11 -m hil.guest_plan /mnt/plan.json

The plan is a list of runs ``{"name", "bdf", "backend", "args"}``. Each one is the command line
``vnet-bringup --target pci:<bdf> --backend <backend> --out /mnt/<name> <args>`` (tb.bringup.cli.main,
in-process: starting Python under TCG costs seconds), its output kept in ``/mnt/<name>/console.txt`` and
echoed to the serial console. Around each run the guest records what the host cannot see: the driver and
driver_override of every PCI function before and after (a refused run must leave them unchanged, a
finished one must give the function back) and /proc/interrupts. The record goes to
``/mnt/<name>/result.json``; ``/mnt/plan.done`` marks the end. Standard library only.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

PCI_DEVICES = Path("/sys/bus/pci/devices")


def bindings(root: Path = PCI_DEVICES) -> dict[str, dict[str, str | None]]:
    """Every function's bound driver and driver_override."""
    out: dict[str, dict[str, str | None]] = {}
    for dev in sorted(root.iterdir()):
        link = dev / "driver"
        override = dev / "driver_override"
        out[dev.name] = {
            "driver": os.path.basename(os.readlink(link)) if link.is_symlink() else None,
            "override": override.read_text().strip() if override.is_file() else None,
        }
    return out


class Tee(io.TextIOBase):
    def __init__(self, *streams):
        self.streams = streams

    def write(self, s: str) -> int:
        for st in self.streams:
            st.write(s)
            st.flush()
        return len(s)


def run_one(entry: dict[str, Any], share: Path) -> dict[str, Any]:
    from tb.bringup.cli import main as bringup

    out = share / entry["name"]
    out.mkdir(parents=True, exist_ok=True)
    argv = ["--target", f"pci:{entry['bdf']}", "--backend", entry["backend"], "--out", str(out), *entry["args"]]
    record: dict[str, Any] = {
        "name": entry["name"],
        "bdf": entry["bdf"],
        "argv": argv,
        "bindings_before": bindings(),
        "interrupts_before": _read("/proc/interrupts"),
    }
    print(f"HIL: run {entry['name']}: vnet-bringup {' '.join(argv)}", flush=True)
    t0 = time.monotonic()
    with open(out / "console.txt", "w") as console:
        tee_out, tee_err = Tee(console, sys.__stdout__), Tee(console, sys.__stderr__)
        try:
            with redirect_stdout(tee_out), redirect_stderr(tee_err):
                rc = bringup(argv)
        except SystemExit as exc:  # argparse errors exit 2
            rc = exc.code if isinstance(exc.code, int) else 2
        except Exception:  # noqa: BLE001 - recorded for the host, the plan goes on
            console.write(traceback.format_exc())
            rc = 3
    record.update(
        rc=rc,
        wall_s=round(time.monotonic() - t0, 2),
        bindings_after=bindings(),
        interrupts_after=_read("/proc/interrupts"),
    )
    (out / "result.json").write_text(json.dumps(record, indent=1))
    print(f"HIL: run {entry['name']}: exit {rc} in {record['wall_s']} s", flush=True)
    return record


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        return f"unreadable: {exc}"


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    plan_path = Path(args[0] if args else "/mnt/plan.json")
    share = plan_path.parent
    plan = json.loads(plan_path.read_text())
    print(
        f"HIL: plan of {len(plan)} runs (uptime {_read('/proc/uptime').split()[0]} s), kernel {os.uname().release}"
        ", PCI functions:",
        flush=True,
    )
    for bdf, b in bindings().items():
        ids = [_read(str(PCI_DEVICES / bdf / f)).strip() for f in ("vendor", "device", "class")]
        print(f"HIL:   {bdf} {ids[0]}:{ids[1]} class {ids[2]} driver {b['driver'] or 'none'}", flush=True)
    codes = [run_one(entry, share)["rc"] for entry in plan]
    (share / "plan.done").write_text(" ".join(map(str, codes)) + "\n")
    print(f"HIL: plan done, exit codes {codes} (judged on the host)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
