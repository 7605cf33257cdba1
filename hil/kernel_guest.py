"""Runs inside the HIL guest: the kernel-vs-model plan the host wrote (hil/kernel_compare.py), one Python process.

    python3.11 -m hil.kernel_guest /mnt/kcmp_plan.json

For each repeat and each NIC of the plan: first the function goes to vfio-pci and the model's variant runs every
pacing and size (hil/kernel_model.py), then the function goes back to virtio-pci (virtio_net probes it again: a
new virtioN, a new interface) and the guest kernel's own virtio_net runs the same pacings and sizes
(hil/kernel_afpacket.py: AF_PACKET frames, /proc/interrupts), plus ``matched``: the kernel paced at the model's
own unpaced pace (the time per frame of the model's unpaced run of that repeat and size), the same traffic as
the model's unpaced run at the rate the model can send. Repeats alternate the two sides so a slow phase of the
host hits both.

Every run appends a record to /mnt/kcmp/result.json (rewritten after each run: a timeout keeps what was done)
and prints a ``KCMP:`` line on the serial console, which the host echoes as progress. /mnt/kcmp/done marks
the end. Standard library only (the model's modules are the repository's, standard library only too).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hil import kernel_afpacket as ka


def say(line: str) -> None:
    print(f"KCMP: {line}", flush=True)


class Recorder:
    def __init__(self, out: Path, plan: dict[str, Any]):
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.data: dict[str, Any] = {"plan": plan, "kernel": os.uname().release, "nics": {}, "runs": [], "errors": []}
        self.t0 = time.monotonic()

    def add(self, rec: dict[str, Any]) -> None:
        rec["t_s"] = round(time.monotonic() - self.t0, 2)
        self.data["runs"].append(rec)
        self.flush()

    def error(self, what: str) -> None:
        say(f"ERROR {what}")
        self.data["errors"].append(what)
        self.flush()

    def flush(self) -> None:
        tmp = self.out / "result.json.tmp"
        tmp.write_text(json.dumps(self.data, indent=1))
        os.replace(tmp, self.out / "result.json")


def cells(plan: dict[str, Any]) -> list[tuple[str, float, int]]:
    return [(pace, float(gap), int(size)) for pace, gap in plan["pacings"].items() for size in plan["sizes"]]


def kernel_phase(rec: Recorder, nic_plan: dict[str, Any], plan: dict[str, Any], rep: int) -> None:
    bdf, name = nic_plan["bdf"], nic_plan["name"]
    nic = ka.find_nic(bdf)
    rec.data["nics"].setdefault(name, {}).setdefault("kernel", []).append(nic.describe())
    todo = list(cells(plan))
    # the model's own pace: its unpaced runs' time per frame (this repeat, this size), the kernel at that gap
    for size in plan["sizes"]:
        gap = matched_gap_us(rec, rep, size)
        if gap is not None:
            todo.append(("matched", gap, int(size)))
    ipv6 = ka.ipv6_off(nic.ifname)
    ka.set_link(nic.ifname, True)
    try:
        for pace, gap, size in todo:
            base = {"side": "kernel", "nic": name, "repeat": rep, "pacing": pace, "size": size, "gap_us": gap}
            try:
                r = ka.run_kernel(nic, plan["packets"], size, gap, seed=plan["seed"], timeout_s=plan["run_timeout_s"])
            except Exception as exc:  # noqa: BLE001 - recorded, the plan goes on
                rec.add({**base, "error": f"{type(exc).__name__}: {exc}"})
                say(f"{name} kernel r{rep} {pace} {size} B: ERROR {exc}")
                continue
            rec.add({**base, **asdict(r), "irq_per_pkt": r.irq_per_pkt, "ifname": nic.ifname, "virtio": nic.virtio})
            say(
                f"{name} kernel r{rep} {pace} {size} B: {r.tx_packets}/{r.packets} sent, {r.tx_irqs} TX irqs "
                f"({r.irq_per_pkt:.3f}/pkt), {r.packets / max(r.send_s, 1e-9):.0f} frames/s, {r.wall_s:.1f} s"
            )
    finally:
        ka.set_link(nic.ifname, False)
        ka.ipv6_restore(nic.ifname, ipv6)


def matched_gap_us(rec: Recorder, rep: int, size: int) -> float | None:
    """The gap per frame of the model's unpaced run of this repeat and size (any device), in µs."""
    for r in reversed(rec.data["runs"]):
        if (
            r.get("side") == "model"
            and r.get("pacing") == "unpaced"
            and r.get("repeat") == rep
            and r.get("size") == size
            and r.get("send_s")
        ):
            return round(1e6 * r["send_s"] / max(r["packets"], 1), 1)
    return None


async def _model_runs(rec: Recorder, p, nic_plan: dict[str, Any], plan: dict[str, Any], rep: int, transport: str):
    from hil.kernel_model import run_model

    name = nic_plan["name"]
    failed = ""
    for pace, gap, size in cells(plan):
        base = {
            "side": "model",
            "nic": name,
            "repeat": rep,
            "pacing": pace,
            "size": size,
            "gap_us": gap,
            "transport": transport,
        }
        if failed:
            rec.add({**base, "error": f"not run: {failed}"})
            continue
        try:
            r = await run_model(
                p, plan["variant"], plan["packets"], size, gap, plan["seed"], transport, plan["run_timeout_s"]
            )
        except Exception as exc:  # noqa: BLE001
            rec.add({**base, "error": f"{type(exc).__name__}: {exc}"})
            say(f"{name} model/{transport} r{rep} {pace} {size} B: ERROR {exc}")
            # a transport that failed once fails again: the guest's wall time goes to the other runs
            failed = f"the {pace} {size} B run of this transport failed before it ({type(exc).__name__})"
            continue
        rec.add({**base, **asdict(r), "irq_per_pkt": r.irq_per_pkt})
        say(
            f"{name} model/{transport} r{rep} {pace} {size} B: {r.tx_packets}/{r.packets} sent, "
            f"{r.tx_kernel} TX irqs ({(r.irq_per_pkt or 0):.3f}/pkt; raised {r.tx_raised}), "
            f"{r.packets / max(r.send_s, 1e-9):.0f} frames/s, {r.wall_s:.1f} s"
        )


def model_phase(rec: Recorder, nic_plan: dict[str, Any], plan: dict[str, Any], rep: int) -> None:
    from hil.kernel_model import modern_transport_missing
    from tb.platform.linux import open_platform

    name, bdf = nic_plan["name"], nic_plan["bdf"]
    todo = []
    for transport in nic_plan["model_transports"]:
        why = modern_transport_missing() if transport == "modern" else ""
        if why:
            if rep == 0:
                rec.add({"side": "model", "nic": name, "transport": transport, "unavailable": why})
                say(f"{name} model/{transport}: {why}")
            continue
        todo.append(transport)
    if not todo:
        return
    t0 = time.monotonic()
    p = open_platform(bdf, "vfio", force_unbind=True, hugepages=plan["hugepages"])
    say(f"{name}: {bdf} on vfio-pci for the model ({time.monotonic() - t0:.1f} s)")
    try:
        for transport in todo:
            asyncio.run(_model_runs(rec, p, nic_plan, plan, rep, transport))
    finally:
        p.close()
        say(f"{name}: {bdf} back to {p.pci.original_driver or 'no driver'}")


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    plan_path = Path(args[0] if args else "/mnt/kcmp_plan.json")
    plan = json.loads(plan_path.read_text())
    out = plan_path.parent / "kcmp"
    rec = Recorder(out, plan)
    say(
        f"plan: {len(plan['nics'])} NICs, {plan['repeats']} repeats, {plan['packets']} frames per run, kernel "
        f"{os.uname().release}"
    )
    try:
        ka.prepare_kernel()
    except ka.KernelRunError as exc:
        rec.error(str(exc))
        (out / "done").write_text("1\n")
        return 1
    for rep in range(plan["repeats"]):
        for nic_plan in plan["nics"]:
            for phase, fn in (("model", model_phase), ("kernel", kernel_phase)):
                try:
                    fn(rec, nic_plan, plan, rep)
                except Exception as exc:  # noqa: BLE001 - recorded for the host, the plan goes on
                    rec.error(f"{nic_plan['name']} {phase} r{rep}: {type(exc).__name__}: {exc}")
                    traceback.print_exc()
    (out / "done").write_text("0\n")
    say(f"plan done in {time.monotonic() - rec.t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
