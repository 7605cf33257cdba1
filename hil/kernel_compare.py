"""``python -m hil.kernel_compare``: the guest kernel's virtio_net against the driver model's variant, on QEMU's device.

One TCG guest (q35 + intel-iommu, Debian's 6.1 kernel, the rig of hil/orchestrator.py) carries two QEMU
virtio-net-pci functions, each with its own UDP socket backend to a host-side peer (hil/udp_peer.py):

- ``transitional`` (disable-legacy=off, disable-modern=off): Linux's virtio_pci drives it through the modern
  interface; the model through legacy BAR0 (``--transport legacy``, the default) or the modern interface
  (``--transport modern``, as the kernel). Either way VIRTIO_RING_F_EVENT_IDX is negotiated and QEMU decides
  each interrupt by the same vring_need_event on used_event;
- ``modern`` (disable-legacy=on): both sides through the modern interface (the model's modern transport; in a
  tree without it the row says "needs the modern transport").

Neither device has iommu_platform: QEMU refuses it on a transitional device, and without it both devices
and both drivers do the same per frame (the kernel's virtio_net maps no buffer through the vIOMMU). The vfio
platform maps its DMA memory at IOVA = guest-physical, so the model's addresses are right with or without
VIRTIO_F_ACCESS_PLATFORM; the modern transport through the vIOMMU (iommu_platform=on) is make hil's
(hil/orchestrator.py MODERN_NICS).

The guest (hil/kernel_guest.py) runs, per repeat and device, N frames per frame size and pacing through the
model's variant (default ``debian-6.1``, the kernel the guest runs) on the function over vfio-pci
(hil/kernel_model.py: TX interrupts from the /proc/interrupts row of its TX vector, and its eventfd), then the
same frames through the guest kernel's own virtio_net over an AF_PACKET socket (hil/kernel_afpacket.py: the
``virtioN-output.0`` row, frames from tx_packets). Pacings: ``unpaced``; ``paced``, a fixed gap after every
frame (20 ms: docs/hil-kernel-compare.md says how it was chosen); ``matched``, the kernel only, at the model's
own unpaced pace, compared with the model's unpaced runs. On the host: every frame of every run arrived at the
peer, in order and byte for byte (a digest per run); per cell the TX interrupts per packet of both sides, their
run-to-run spread over the repeats and whether they agree within the tolerance (``tolerance()`` below: three
standard errors of the difference of the means, from the spread measured in this very run, never less than two
interrupts in N). The paced cells decide (``--gate`` adds the others): there both drivers are idle between
frames; unpaced the senders offer different traffic, matched the model's CPU is busy all the time.

Prints a line per run as the guest reports it, the table, writes build/hil/kernel_compare.json and
build/hil/kernel_compare.md, exits 0 when every run finished, every frame arrived and every gated cell agrees,
1 otherwise, 2 when the rig cannot run (not root, QEMU or the kernel missing and not installable: the message
names the packages). ``--rejudge`` judges the last guest run again without booting.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hil import orchestrator as rig  # noqa: E402
from hil.udp_peer import UdpPeer  # noqa: E402

BUILD = rig.BUILD
WORK = BUILD / "kernel"
ETHERTYPE = 0x88B5
VARIANT = "debian-6.1"
# the model's runs each kernel pacing is compared with: "matched" is the kernel at the model's unpaced pace
MODEL_PACING = {"unpaced": "unpaced", "paced": "paced", "matched": "unpaced"}
RATE_RATIO = 2.0  # unpaced: the two senders' frame rates differ by more than this factor: said in the row
# the pacings whose disagreement fails the run (--gate): paced by default, where both drivers are idle between
# frames; unpaced and matched are measured and reported (under TCG the model's Python spends milliseconds per
# frame, the kernel microseconds: the model is busy all the time there, the kernel idle)
GATE = ("paced",)


@dataclass(frozen=True)
class NicSpec:
    name: str
    slot: int
    options: str
    model_transports: tuple[str, ...]

    @property
    def bdf(self) -> str:
        return f"0000:00:{self.slot:02x}.0"

    @property
    def mac(self) -> str:
        return f"52:54:00:12:35:{self.slot:02x}"


def nics(model_transport: str) -> tuple[NicSpec, ...]:
    """The two devices; ``model_transport`` is the model's on the transitional one (the modern one has no
    legacy interface: modern only)."""
    return (
        NicSpec("transitional", 0x10, "disable-legacy=off,disable-modern=off", (model_transport,)),
        NicSpec("modern", 0x11, "disable-legacy=on,disable-modern=off", ("modern",)),
    )


# -- the guest -----------------------------------------------------------------------------------------------
def bundle() -> Path:
    """The standard guest bundle plus what the kernel-vs-model plan imports (hil/pybundle.py)."""
    out = WORK / "pybundle.zip"
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(BUILD / "pycache"), PYTHONPATH=str(ROOT))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    code = (
        "import sys; from pathlib import Path; "
        "import hil.kernel_guest, hil.kernel_model, hil.kernel_afpacket, tb.platform.linux, tb.platform.vfio; "
        "from hil.pybundle import bundle; print(bundle(Path(sys.argv[1])))"
    )
    subprocess.run(
        [rig.GUEST_PYTHON, "-S", "-c", code, str(out)],
        check=True,
        timeout=120,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    return out


def qemu_command(
    vmlinuz: Path,
    initrd: Path,
    share: Path,
    pybundle: Path,
    specs: tuple[NicSpec, ...],
    ports: list[tuple[int, int]],
    guest_timeout: int,
) -> list[str]:
    kargs = [
        "console=ttyS0",
        "panic=-1",
        "quiet",
        "loglevel=4",
        "intel_iommu=on",
        f"hil_script={ROOT / 'hil' / 'guest_kernel.sh'}",
        f"hil_repo={ROOT}",
        f"hil_tmo={guest_timeout}",
        f"hil_pycache={BUILD / 'pycache'}",
        f"hil_bundle={pybundle}",
    ]
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-m", "1024", "-smp", "2", "-nographic", "-no-reboot"]
    cmd += ["-M", "q35", "-device", "intel-iommu,intremap=on"]  # vfio-pci needs the vIOMMU (see orchestrator)
    cmd += [
        "-kernel", str(vmlinuz), "-initrd", str(initrd), "-append", " ".join(kargs),
        "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
        "-virtfs", f"local,path={ROOT},mount_tag=repo,security_model=none,readonly=on,multidevs=remap",
        "-virtfs", f"local,path={share},mount_tag=share,security_model=none",
    ]  # fmt: skip
    for i, (spec, (peer, local)) in enumerate(zip(specs, ports, strict=True)):
        cmd += [
            "-netdev", f"socket,id=n{i},udp=127.0.0.1:{peer},localaddr=127.0.0.1:{local}",
            "-device", f"virtio-net-pci,netdev=n{i},{spec.options},mac={spec.mac},addr={spec.slot:#x},romfile=",
        ]  # fmt: skip
    return cmd


@dataclass
class Config:
    packets: int = 2000
    sizes: tuple[int, ...] = (60, 1514)
    gap_us: float = 20_000.0
    repeats: int = 3
    variant: str = VARIANT
    model_transport: str = "legacy"
    seed: int = 1
    run_timeout_s: float = 0.0  # per run; 0: 60 s + N x (gap + 30 ms)
    hugepages: int = 24
    tolerance: float | None = None  # fixed instead of the measured one (irq/pkt)
    gate: tuple[str, ...] = GATE

    def pacings(self) -> dict[str, float]:
        return {"unpaced": 0.0, "paced": self.gap_us}

    def estimate_s(self, n_nics: int = 2) -> float:
        """A generous wall limit: boot, then per run N x (gap + 4 ms of the model's Python per frame under TCG)
        + 15 s (probe, driver switch), for both sides of every cell, device and repeat."""
        per_side = sum(self.packets * (g / 1e6 + 0.004) + 15 for g in self.pacings().values()) * len(self.sizes)
        return 120 + self.repeats * n_nics * 2 * per_side


def plan(cfg: Config, specs: tuple[NicSpec, ...]) -> dict[str, Any]:
    return {
        "packets": cfg.packets,
        "sizes": list(cfg.sizes),
        "pacings": cfg.pacings(),
        "repeats": cfg.repeats,
        "variant": cfg.variant,
        "seed": cfg.seed,
        "run_timeout_s": cfg.run_timeout_s or 60 + cfg.packets * (cfg.gap_us / 1e6 + 0.03),
        "hugepages": cfg.hugepages,
        "nics": [{"name": s.name, "bdf": s.bdf, "model_transports": list(s.model_transports)} for s in specs],
    }


@dataclass
class GuestResult:
    data: dict[str, Any]
    captured: dict[str, list[bytes]]
    wall_s: float
    timed_out: bool
    done: bool
    log: Path


def run_guest(cfg: Config, timeout_s: int, install: bool = True, echo=print) -> GuestResult:
    vmlinuz, initrd = rig.prepare(install)
    shutil.rmtree(WORK, ignore_errors=True)
    share = WORK / "share"
    share.mkdir(parents=True)
    pybundle = bundle()
    specs = nics(cfg.model_transport)
    (share / "kcmp_plan.json").write_text(json.dumps(plan(cfg, specs), indent=1))
    peers = {s.name: UdpPeer(WORK / f"{s.name}.pcap").start() for s in specs}
    cmd = qemu_command(
        vmlinuz,
        initrd,
        share,
        pybundle,
        specs,
        [(peers[s.name].port, rig.free_udp_port()) for s in specs],
        guest_timeout=max(timeout_s - 40, 60),
    )
    (WORK / "qemu.cmd").write_text(" ".join(cmd) + "\n")
    log = WORK / "qemu.log"
    t0 = time.monotonic()
    timed_out = False
    with open(log, "wb") as logf:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
        pos = 0
        try:
            while proc.poll() is None:
                if time.monotonic() - t0 > timeout_s:
                    timed_out = True
                    proc.kill()
                    proc.wait(timeout=10)
                    break
                time.sleep(0.5)
                pos = _echo_progress(log, pos, t0, echo)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        _echo_progress(log, pos, t0, echo)
    wall = time.monotonic() - t0
    time.sleep(0.2)  # the last datagrams
    captured = {name: peer.stop() for name, peer in peers.items()}
    res_path = share / "kcmp" / "result.json"
    data = json.loads(res_path.read_text()) if res_path.is_file() else {"runs": [], "errors": ["no result.json"]}
    return GuestResult(data, captured, wall, timed_out, (share / "kcmp" / "done").is_file(), log)


def load_guest(work: Path) -> GuestResult:
    """A finished guest run from its directory: the guest's records and the peers' captures."""
    from hil.udp_peer import read_pcap

    data = json.loads((work / "share" / "kcmp" / "result.json").read_text())
    captured = {n["name"]: read_pcap(work / f"{n['name']}.pcap") for n in data["plan"]["nics"]}
    done = (work / "share" / "kcmp" / "done").is_file()
    return GuestResult(data, captured, 0.0, False, done, work / "qemu.log")


def _echo_progress(log: Path, pos: int, t0: float, echo) -> int:
    try:
        with open(log, "rb") as f:
            f.seek(pos)
            chunk = f.read()
    except OSError:
        return pos
    end = chunk.rfind(b"\n") + 1
    for line in chunk[:end].decode(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("KCMP:") or (line.startswith("HIL:") and "exit" in line):
            echo(f"kernel-compare [{time.monotonic() - t0:6.0f} s] {line.removeprefix('KCMP: ')}")
        elif "Traceback" in line or "Error" in line:
            echo(f"kernel-compare [{time.monotonic() - t0:6.0f} s] guest: {line}")
    return pos + end


# -- judging -------------------------------------------------------------------------------------------------
def frame_digest(frames: list[bytes]) -> str:
    h = hashlib.sha256()
    for f in frames:
        h.update(len(f).to_bytes(4, "big"))
        h.update(f)
    return h.hexdigest()


def check_frames(data: dict[str, Any], captured: dict[str, list[bytes]]) -> list[str]:
    """Split each peer's capture (EtherType 0x88B5 frames) into the NIC's runs in the order the guest ran them;
    each run's segment must be its N frames, byte for byte (the guest's digest). Marks each run record with
    ``arrived`` and ``arrived_exact``; returns the problems."""
    problems = []
    for nic, frames in captured.items():
        ours = [f for f in frames if int.from_bytes(f[12:14], "big") == ETHERTYPE]
        others = len(frames) - len(ours)
        if others:
            problems.append(f"{nic}: the peer received {others} frames that are not the runs' (EtherType != 0x88b5)")
        pos = 0
        for r in data["runs"]:
            if r.get("nic") != nic or "digest" not in r:
                continue
            n = r["tx_packets"]
            seg = ours[pos : pos + n]
            pos += n
            r["arrived"] = len(seg)
            r["arrived_exact"] = frame_digest(seg) == r["digest"] and n == r["packets"]
            if not r["arrived_exact"]:
                seqs_ok = sum(int.from_bytes(f[14:18], "big") == i for i, f in enumerate(seg))
                problems.append(
                    f"{nic} {r['side']} r{r['repeat']} {r['pacing']} {r['size']} B: {len(seg)}/{r['packets']} "
                    f"frames at the peer, {seqs_ok} in sequence, {'same' if r['arrived_exact'] else 'different'} bytes"
                )
        if pos != len(ours):
            problems.append(f"{nic}: the peer received {len(ours)} run frames, the runs sent {pos}")
    return problems


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _var(xs: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    m = _mean(xs)
    return sum((x - m) ** 2 for x in xs) / (len(xs) - 1)


def pooled_sd(groups: list[list[float]]) -> tuple[float, int]:
    """The pooled within-group standard deviation and its degrees of freedom."""
    dof = sum(len(g) - 1 for g in groups if len(g) > 1)
    if not dof:
        return 0.0, 0
    return math.sqrt(sum(_var(g) * (len(g) - 1) for g in groups if len(g) > 1) / dof), dof


@dataclass
class Cell:
    nic: str
    pacing: str
    size: int
    gap_us: float
    kernel: list[dict[str, Any]] = field(default_factory=list)
    model: list[dict[str, Any]] = field(default_factory=list)
    model_unavailable: str = ""

    def values(self, side: str) -> list[float]:
        return [r["irq_per_pkt"] for r in getattr(self, side) if r.get("irq_per_pkt") is not None]


def cells(data: dict[str, Any]) -> list[Cell]:
    out: dict[tuple[str, str, int], Cell] = {}
    unavailable = {r["nic"]: r["unavailable"] for r in data["runs"] if "unavailable" in r}
    plan_ = data.get("plan", {})
    pacings = {**plan_.get("pacings", {}), "matched": None}
    for spec in plan_.get("nics", []):
        for pace, gap in pacings.items():
            for size in plan_.get("sizes", []):
                out[(spec["name"], pace, size)] = Cell(
                    spec["name"], pace, size, gap, model_unavailable=unavailable.get(spec["name"], "")
                )
    for r in data["runs"]:
        if "unavailable" in r or "error" in r:
            continue
        if r["side"] == "kernel":
            c = out.get((r["nic"], r["pacing"], r["size"]))
            if c is not None:
                c.kernel.append(r)
            continue
        for pace, model_pace in MODEL_PACING.items():
            c = out.get((r["nic"], pace, r["size"]))
            if c is not None and r["pacing"] == model_pace:
                c.model.append(r)
    for c in out.values():
        if c.pacing == "matched" and c.kernel:
            c.gap_us = _mean([r["gap_us"] for r in c.kernel])
    return [c for c in out.values() if c.kernel or c.model or c.pacing != "matched"]


def tolerance(cs: list[Cell], pacing: str, packets: int) -> dict[str, Any]:
    """The agreement tolerance of one pacing, from the run-to-run spread measured in this run.

    Per side, the pooled within-cell standard deviation of TX interrupts per packet over the repeats (pooled
    over sizes and devices: the spread of one cell from three repeats is itself too uncertain). Kernel and
    model agree in a cell when their means differ by at most three standard errors of that difference,
    3 * sqrt(sd_k^2 / n_k + sd_m^2 / n_m): what repeat-to-repeat noise alone exceeds in about 0.3 % of cells.
    Never less than 2 / N: each side's count may differ by one interrupt at either end of a run (the last
    used entries' interrupt is raised or not by the time the count is read)."""
    mine = [c for c in cs if c.pacing == pacing]
    sd_k, dof_k = pooled_sd([c.values("kernel") for c in mine])
    sd_m, dof_m = pooled_sd([c.values("model") for c in mine if c.model])
    n_k = max((len(c.values("kernel")) for c in mine), default=1) or 1
    n_m = max((len(c.values("model")) for c in mine), default=1) or 1
    tol = 3 * math.sqrt(sd_k**2 / n_k + sd_m**2 / n_m)
    floor = 2 / packets
    return {
        "pacing": pacing,
        "sd_kernel": sd_k,
        "dof_kernel": dof_k,
        "sd_model": sd_m,
        "dof_model": dof_m,
        "repeats_kernel": n_k,
        "repeats_model": n_m,
        "tolerance": max(tol, floor),
        "floor": floor,
        "from_spread": tol,
    }


def judge(cfg: Config, res: GuestResult) -> tuple[list[dict[str, Any]], list[str], dict[str, Any]]:
    data = res.data
    problems = [f"guest: {e}" for e in data.get("errors", [])]
    if res.timed_out:
        problems.append(f"the guest did not finish within its wall limit ({res.wall_s:.0f} s); log {res.log}")
    elif not res.done:
        problems.append(f"the guest's plan did not finish; log {res.log}")
    for r in data["runs"]:
        if "error" in r:
            problems.append(f"{r['nic']} {r['side']} r{r['repeat']} {r['pacing']} {r['size']} B: {r['error']}")
        elif "digest" in r and r["tx_packets"] != r["packets"]:
            problems.append(f"{r['nic']} {r['side']} r{r['repeat']}: {r['tx_packets']}/{r['packets']} frames sent")
        elif r.get("side") == "model" and "used" in r and r["used"] != r["packets"]:
            problems.append(f"{r['nic']} model r{r['repeat']}: the device used {r['used']}/{r['packets']}")
    problems += check_frames(data, res.captured)
    cs = cells(data)
    tols = {p: tolerance(cs, p, cfg.packets) for p in sorted({c.pacing for c in cs}, key=list(MODEL_PACING).index)}
    if cfg.tolerance is not None:
        for t in tols.values():
            t["tolerance"], t["fixed"] = cfg.tolerance, True
    # each side's time per frame when unpaced: its own CPU cost of a frame (send, driver, interrupt, reclaim)
    cpu: dict[int, tuple[float, float]] = {}
    for c in cs:
        if c.pacing == "unpaced" and c.kernel and c.model:
            cpu[c.size] = (
                _mean([1e6 * r["send_s"] / r["packets"] for r in c.kernel]),
                _mean([1e6 * r["send_s"] / r["packets"] for r in c.model]),
            )
    rows = []
    for c in cs:
        k, m = c.values("kernel"), c.values("model")
        tol = tols[c.pacing]["tolerance"]
        row: dict[str, Any] = {
            "nic": c.nic,
            "pacing": c.pacing,
            "gap_us": c.gap_us,
            "size": c.size,
            "kernel_irq_per_pkt": k,
            "model_irq_per_pkt": m,
            "kernel_mean": _mean(k) if k else None,
            "model_mean": _mean(m) if m else None,
            "kernel_sd": math.sqrt(_var(k)) if k else None,
            "model_sd": math.sqrt(_var(m)) if m else None,
            "kernel_sent": [r["tx_packets"] for r in c.kernel],
            "model_sent": [r["tx_packets"] for r in c.model],
            "kernel_arrived": [r.get("arrived") for r in c.kernel],
            "model_arrived": [r.get("arrived") for r in c.model],
            "kernel_wall_s": [round(r["wall_s"], 2) for r in c.kernel],
            "model_wall_s": [round(r["wall_s"], 2) for r in c.model],
            "kernel_rate": [round(r["packets"] / max(r["send_s"], 1e-9)) for r in c.kernel],
            "model_rate": [round(r["packets"] / max(r["send_s"], 1e-9)) for r in c.model],
            "model_raised": [r.get("tx_raised") for r in c.model],
            # frames the model reclaimed in start_xmit: no NAPI poll had reclaimed them by the next frame
            "model_reclaimed_in_xmit": [r.get("reclaim", {}).get("start_xmit", 0) for r in c.model],
            "model_event_idx": sorted({r.get("event_idx") for r in c.model}),
            "model_transport": sorted({r.get("transport") for r in c.model}),
            "tolerance": tol,
        }
        if c.model_unavailable and not m:
            row["verdict"] = "not compared"
            row["why"] = c.model_unavailable
        elif not k or not m:
            row["verdict"] = "FAIL"
            row["why"] = f"no runs: kernel {len(k)}, model {len(m)}"
            problems.append(f"{c.nic} {c.pacing} {c.size} B: {row['why']}")
        else:
            diff = _mean(m) - _mean(k)
            agree = abs(diff) <= tol
            row["diff"] = diff
            row["gated"] = c.pacing in cfg.gate
            row["verdict"] = ("agree" if agree else "DISAGREE") + ("" if row["gated"] else " (not gated)")
            notes = []
            rate_k, rate_m = _mean(row["kernel_rate"]), _mean(row["model_rate"])
            if c.pacing == "unpaced" and not 1 / RATE_RATIO <= rate_m / rate_k <= RATE_RATIO:
                notes.append(f"senders at {rate_k:.0f} (kernel) vs {rate_m:.0f} (model) frames/s")
            if c.pacing in ("unpaced", "matched") and cpu.get(c.size):
                k_us, m_us = cpu[c.size]
                notes.append(f"driver CPU per frame: kernel {k_us:.0f} us, model {m_us / 1000:.1f} ms")
            late = sum(row["model_reclaimed_in_xmit"])
            if c.pacing == "paced" and late:
                notes.append(
                    f"model: {late} of {sum(row['model_sent'])} frames reclaimed by the next start_xmit, not by a "
                    "NAPI poll (its interrupt came late or not at all)"
                )
            row["why"] = "; ".join(notes)
            if not agree and row["gated"]:
                problems.append(
                    f"{c.nic} {c.pacing} {c.size} B: model {_mean(m):.4f} vs kernel {_mean(k):.4f} irq/pkt, "
                    f"|diff| {abs(diff):.4f} > tolerance {tol:.4f}"
                )
        rows.append(row)
    return rows, problems, tols


# -- output --------------------------------------------------------------------------------------------------
def _pm(mean: float | None, sd: float | None) -> str:
    return "-" if mean is None else f"{mean:.3f} ± {sd or 0:.3f}"


def _span(xs: list[Any]) -> str:
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    return f"{min(xs)}" if min(xs) == max(xs) else f"{min(xs)}-{max(xs)}"


def table_lines(rows: list[dict[str, Any]], packets: int) -> list[str]:
    head = [
        "device", "pacing", "bytes", "kernel irq/pkt", "model irq/pkt", "diff", "tolerance", "verdict",
        f"sent k/m (of {packets})", "arrived k/m", "frames/s k/m", "wall s k/m",
    ]  # fmt: skip
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        pace = {
            "unpaced": "unpaced",
            "paced": f"{r['gap_us'] / 1000:g} ms gap",
            "matched": f"model's pace ({(r['gap_us'] or 0) / 1000:.2f} ms)",
        }[r["pacing"]]
        verdict = r["verdict"] + (f" ({r['why']})" if r.get("why") else "")
        cells_ = [
            r["nic"],
            pace,
            str(r["size"]),
            _pm(r["kernel_mean"], r["kernel_sd"]),
            _pm(r["model_mean"], r["model_sd"]),
            "-" if "diff" not in r else f"{r['diff']:+.3f}",
            f"{r['tolerance']:.3f}",
            verdict,
            f"{_span(r['kernel_sent'])}/{_span(r['model_sent'])}",
            f"{_span(r['kernel_arrived'])}/{_span(r['model_arrived'])}",
            f"{_span(r['kernel_rate'])}/{_span(r['model_rate'])}",
            f"{_span(r['kernel_wall_s'])}/{_span(r['model_wall_s'])}",
        ]
        out.append("| " + " | ".join(cells_) + " |")
    return out


def negotiated(data: dict[str, Any]) -> list[str]:
    """What each side negotiated and how it took its interrupts, as the guest read it."""
    out = []
    for nic, info in data.get("nics", {}).items():
        ks = info.get("kernel", [])
        if ks:
            k = ks[0]
            out.append(
                f"- {nic}, kernel: VERSION_1 {'yes' if k['version_1'] else 'no'} (the modern interface), EVENT_IDX "
                f"{'yes' if k['event_idx'] else 'no'}, TX on its own MSI-X vector "
                f"{'yes' if k['per_queue_vectors'] else 'no'}, napi_tx={k['napi_tx']}"
            )
    models = [r for r in data.get("runs", []) if r.get("side") == "model" and "features" in r]
    for nic in sorted({r["nic"] for r in models}):
        mine = [r for r in models if r["nic"] == nic]
        lines = ", ".join(sorted({r["irq_line"] for r in mine}))
        out.append(
            f"- {nic}, model: transport {', '.join(sorted({r['transport'] for r in mine}))}, EVENT_IDX acked "
            f"{'yes' if all(r['event_idx'] for r in mine) else 'NO'}, interrupts "
            f"{', '.join(sorted({r['irq_mode'] for r in mine}))} (TX on {lines})"
        )
    return out


def markdown(cfg: Config, rows, tols, problems, res: GuestResult) -> str:
    lines = [
        f"# Kernel virtio_net vs the model's `{cfg.variant}` on QEMU's virtio-net-pci",
        "",
        f"Guest kernel {res.data.get('kernel', '?')} under TCG; {cfg.packets} frames per run, "
        f"{cfg.repeats} repeats per side; paced = {cfg.gap_us / 1000:g} ms after every frame. TX interrupts per "
        "packet: kernel from the `virtioN-output.0` row of /proc/interrupts, model from the /proc/interrupts row "
        "of its TX vector (vfio-msix); mean ± standard deviation over the repeats. Model transport on the "
        f"transitional device: {cfg.model_transport}.",
        "",
        *table_lines(rows, cfg.packets),
        "",
        *negotiated(res.data),
        "",
        "Tolerance per pacing: 3 standard errors of the difference of the means, from the pooled run-to-run "
        "standard deviation of each side (floor 2/N):",
        "",
    ]
    for t in tols.values():
        lines.append(
            f"- {t['pacing']}: sd kernel {t['sd_kernel']:.4f} ({t['dof_kernel']} dof), sd model {t['sd_model']:.4f} "
            f"({t['dof_model']} dof) -> {t['tolerance']:.4f}" + (" (fixed by --tolerance)" if t.get("fixed") else "")
        )
    lines += ["", f"Result: {'PASS' if not problems else 'FAIL'}"] + [f"- {p}" for p in problems]
    return "\n".join(lines) + "\n"


def parse_sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(int(s) for s in text.split(",") if s)
    for s in sizes:
        if not 60 <= s <= 1514:
            raise argparse.ArgumentTypeError(f"frame size {s}: 60 to 1514")
    if not sizes:
        raise argparse.ArgumentTypeError("at least one size")
    return sizes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hil.kernel_compare", description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=2000, help="frames per run (default 2000)")
    ap.add_argument("--sizes", type=parse_sizes, default=(60, 1514), help="frame sizes, comma-separated")
    ap.add_argument(
        "--gap-us", type=float, default=20_000.0, help="the paced runs' gap after every frame (µs, default 20 ms)"
    )
    ap.add_argument("--repeats", type=int, default=3, help="runs per side and cell (at least 2: the spread)")
    ap.add_argument("--variant", default=VARIANT, help=f"the model's transmit variant (default {VARIANT})")
    ap.add_argument(
        "--transport",
        choices=("legacy", "modern"),
        default="legacy",
        help="the model's transport on the transitional device (modern: needs tb/driver/virtio_pci_modern.py)",
    )
    ap.add_argument("--tolerance", type=float, help="a fixed tolerance (irq/pkt) instead of the measured one")
    ap.add_argument(
        "--gate",
        default=",".join(GATE),
        help="pacings whose disagreement fails the run (paced, matched, unpaced; default paced: the others are "
        "reported)",
    )
    ap.add_argument("--short", action="store_true", help="100 frames, 60 B only, 2 repeats (the test's run)")
    ap.add_argument("--timeout", type=int, help="the guest's wall limit in seconds (default: estimated)")
    ap.add_argument("--no-install", action="store_true", help="do not apt-get install what is missing")
    ap.add_argument(
        "--rejudge",
        action="store_true",
        help=f"judge the last guest run again ({WORK}: its records and captures; e.g. with another --gate or "
        "--tolerance), without booting",
    )
    args = ap.parse_args(argv)
    cfg = Config(args.packets, args.sizes, args.gap_us, args.repeats, args.variant, args.transport)
    if args.short:
        cfg.packets, cfg.sizes, cfg.repeats = 100, (60,), 2
    cfg.tolerance = args.tolerance
    cfg.gate = tuple(g for g in args.gate.split(",") if g)
    bad = [g for g in cfg.gate if g not in MODEL_PACING]
    if bad:
        ap.error(f"--gate {bad}: of {', '.join(MODEL_PACING)}")
    if not 1 <= cfg.packets <= 30000:
        ap.error(f"--packets {cfg.packets}: 1 to 30000 (used.idx is 16 bits)")
    if cfg.repeats < 2:
        ap.error("--repeats: at least 2 (the tolerance comes from the run-to-run spread)")
    if not (math.isfinite(cfg.gap_us) and cfg.gap_us > 0):
        ap.error("--gap-us: > 0 (the unpaced runs always run)")
    from tb.driver.virtio_net import VARIANTS

    if cfg.variant not in VARIANTS:
        ap.error(f"--variant {cfg.variant!r}: one of {', '.join(VARIANTS)}")
    t0 = time.monotonic()
    if args.rejudge:
        try:
            res = load_guest(WORK)
        except (OSError, ValueError, KeyError) as exc:
            print(f"kernel-compare: --rejudge: no finished guest run in {WORK}: {exc}", file=sys.stderr)
            return 2
        p = res.data["plan"]
        cfg.packets, cfg.sizes, cfg.repeats = p["packets"], tuple(p["sizes"]), p["repeats"]
        cfg.gap_us, cfg.variant = p["pacings"]["paced"], p["variant"]
        print(f"kernel-compare: judging the guest run in {WORK} again (nothing is booted)")
    else:
        timeout = args.timeout or int(cfg.estimate_s())
        try:
            rig.prepare(install=not args.no_install)
        except rig.HilUnavailable as exc:
            print(f"kernel-compare: {exc}", file=sys.stderr)
            return 2
        print(
            f"kernel-compare: one TCG guest, 2 devices x {len(cfg.sizes)} sizes x 2 pacings x {cfg.repeats} repeats"
            f" x (kernel, model {cfg.variant}), {cfg.packets} frames per run; wall limit {timeout} s",
            flush=True,
        )
        res = run_guest(cfg, timeout, install=not args.no_install, echo=lambda s: print(s, flush=True))
    rows, problems, tols = judge(cfg, res)
    md = markdown(cfg, rows, tols, problems, res)
    print()
    print(md)
    out = {
        "config": {**cfg.__dict__, "sizes": list(cfg.sizes)},
        "rows": rows,
        "tolerance": tols,
        "problems": problems,
        "guest": {"wall_s": round(res.wall_s, 1), "timed_out": res.timed_out, "done": res.done, "log": str(res.log)},
        "runs": res.data.get("runs", []),
        "nics": res.data.get("nics", {}),
    }
    (BUILD / "kernel_compare.json").write_text(json.dumps(out, indent=1, default=str))
    (BUILD / "kernel_compare.md").write_text(md)
    print(
        f"kernel-compare: {'PASS' if not problems else 'FAIL'} in {time.monotonic() - t0:.0f} s; "
        f"{BUILD / 'kernel_compare.json'}, {BUILD / 'kernel_compare.md'}, guest log {res.log}, pcaps in {WORK}"
    )
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
