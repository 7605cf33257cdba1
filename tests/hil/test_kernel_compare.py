"""The kernel-vs-model comparison (hil.kernel_compare): its judging on recorded runs, and a short run in a guest.

The judging tests are pure Python (milliseconds): each check is shown to catch the fault it exists for (a
frame lost or changed between the guest and the peer, a stray frame, a disagreement beyond the measured
tolerance, a run that never finished). The guest run (``--short``: 100 frames of 60 B, two repeats; about
40 s under TCG) is marked slow: make regress runs it (make hil-kernel runs the full comparison).
"""

from __future__ import annotations

import pytest

from hil import kernel_afpacket as ka
from hil import kernel_compare as kc
from hil import kernel_model as km

N = 50


def _frames(seed: int, size: int = 60) -> list[bytes]:
    return ka.frames_for(N, size, bytes.fromhex("525400123510"), seed)


def _run(side: str, rep: int, pacing: str, irqs: int, seed: int, **kw) -> dict:
    frames = _frames(seed)
    rec = {
        "side": side,
        "nic": "transitional",
        "repeat": rep,
        "pacing": pacing,
        "size": 60,
        "gap_us": kw.pop("gap_us", 0.0 if pacing == "unpaced" else 2000.0),
        "packets": N,
        "tx_packets": N,
        "digest": ka.digest(frames),
        "irq_per_pkt": irqs / N,
        "send_s": kw.pop("send_s", 0.01 if side == "kernel" else 0.2),
        "wall_s": 1.0,
        **kw,
    }
    if side == "model":
        rec.update(used=N, tx_raised=irqs, tx_kernel=irqs, transport="legacy", event_idx=True)
    return rec, frames


def _data(kernel_irqs: list[int], model_irqs: list[int], pacing: str = "paced"):
    runs, wire = [], []
    for rep, (ki, mi) in enumerate(zip(kernel_irqs, model_irqs, strict=True)):
        for side, irqs in (("model", mi), ("kernel", ki)):
            rec, frames = _run(side, rep, pacing, irqs, seed=rep * 2 + (side == "model"))
            runs.append(rec)
            wire += frames
    data = {
        "plan": {
            "nics": [{"name": "transitional"}],
            "pacings": {pacing: 0.0 if pacing == "unpaced" else 2000.0},
            "sizes": [60],
        },
        "runs": runs,
        "errors": [],
    }
    return data, wire


def _judge(data, captured, **cfg):
    if isinstance(captured, list):
        captured = {"transitional": captured}
    res = kc.GuestResult(data, captured, 10.0, False, True, kc.WORK / "qemu.log")
    return kc.judge(kc.Config(packets=N, sizes=(60,), repeats=3, **cfg), res)


def test_digest_is_the_same_on_both_sides():
    frames = _frames(1)
    assert ka.digest(frames) == km.digest(frames) == kc.frame_digest(frames)
    assert all(len(f) == 60 and f[12:14] == b"\x88\xb5" for f in frames)
    assert [int.from_bytes(f[14:18], "big") for f in frames] == list(range(N))


def test_agreement_passes():
    data, wire = _data([N, N, N - 1], [N - 1, N, N])
    rows, problems, tols = _judge(data, wire)
    assert problems == [], problems
    (row,) = [r for r in rows if r["pacing"] == "paced"]
    assert row["verdict"] == "agree" and row["kernel_arrived"] == [N] * 3 and row["model_arrived"] == [N] * 3
    # the tolerance comes from the spread: three standard errors of the difference (floor 2/N)
    assert tols["paced"]["tolerance"] >= 2 / N


def test_disagreement_beyond_the_measured_tolerance_fails():
    data, wire = _data([N, N, N], [N // 2, N // 2 + 1, N // 2])
    rows, problems, _ = _judge(data, wire)
    (row,) = [r for r in rows if r["pacing"] == "paced"]
    assert row["verdict"] == "DISAGREE"
    assert any("irq/pkt" in p and "tolerance" in p for p in problems), problems


def test_a_fixed_tolerance_overrides_the_measured_one():
    data, wire = _data([N, N, N], [N - 3, N - 3, N - 3])
    assert any("tolerance" in p for p in _judge(data, wire)[1])
    assert _judge(data, wire, tolerance=0.1)[1] == []


def test_a_lost_frame_fails():
    data, wire = _data([N] * 3, [N] * 3)
    del wire[N + 7]  # the first kernel run's 8th frame never reached the peer
    problems = _judge(data, wire)[1]
    assert any("frames at the peer" in p for p in problems), problems
    assert any("the peer received" in p for p in problems), problems


def test_a_changed_byte_fails():
    data, wire = _data([N] * 3, [N] * 3)
    f = bytearray(wire[3])
    f[40] ^= 0xFF
    wire[3] = bytes(f)
    problems = _judge(data, wire)[1]
    assert any("different bytes" in p for p in problems), problems


def test_a_stray_frame_fails():
    data, wire = _data([N] * 3, [N] * 3)
    wire.insert(5, bytes(12) + b"\x86\xdd" + bytes(46))  # an IPv6 frame of the kernel's own
    problems = _judge(data, wire)[1]
    assert any("not the runs'" in p for p in problems), problems


def test_an_unfinished_run_fails():
    data, wire = _data([N] * 3, [N] * 3)
    data["runs"][1]["tx_packets"] = N - 1
    problems = _judge(data, wire)[1]
    assert any(f"{N - 1}/{N} frames sent" in p for p in problems), problems
    data, wire = _data([N] * 3, [N] * 3)
    data["runs"].append(
        {
            "side": "kernel",
            "nic": "transitional",
            "repeat": 2,
            "pacing": "paced",
            "size": 60,
            "error": "KernelRunError: eth0: 50 frames reclaimed: not within 120 s",
        }
    )
    assert any("not within" in p for p in _judge(data, wire)[1])


def test_unpaced_and_matched_are_reported_and_gated_only_when_asked():
    data, wire = _data([5, 6, 5], [40, 41, 40], pacing="unpaced")
    # the kernel paced at the model's pace
    for rep in range(3):
        rec, frames = _run("kernel", rep, "matched", 40 + (rep == 1), seed=100 + rep, gap_us=4000.0)
        data["runs"].append(rec)
        wire += frames
    rows, problems, _ = _judge(data, wire)
    by = {r["pacing"]: r for r in rows}
    assert by["unpaced"]["verdict"] == "DISAGREE (not gated)" and "frames/s" in by["unpaced"]["why"]
    assert "driver CPU per frame" in by["unpaced"]["why"]
    assert by["matched"]["verdict"] == "agree (not gated)", by["matched"]
    assert problems == [], problems
    problems = _judge(data, wire, gate=("paced", "matched", "unpaced"))[1]
    assert any("unpaced" in p and "tolerance" in p for p in problems), problems


def test_modern_device_without_the_modern_transport_is_reported():
    data, wire = _data([N] * 3, [N] * 3)
    data["plan"]["nics"].append({"name": "modern"})
    data["runs"].append(
        {
            "side": "model",
            "nic": "modern",
            "transport": "modern",
            "unavailable": "needs the modern transport (tb/driver/virtio_pci_modern.py is not in this tree)",
        }
    )
    for rep in range(3):
        rec, _ = _run("kernel", rep, "paced", N, seed=200 + rep)
        rec["nic"] = "modern"
        data["runs"].append(rec)
    wire_modern = [f for rep in range(3) for f in _frames(200 + rep)]
    rows, problems, _ = _judge(data, {"transitional": wire, "modern": wire_modern})
    (row,) = [r for r in rows if r["nic"] == "modern" and r["pacing"] == "paced"]
    assert row["verdict"] == "not compared" and "modern transport" in row["why"]
    assert problems == [], problems


def test_proc_interrupts_rows():
    text = (
        "           CPU0       CPU1\n"
        " 24:          3          4  PCI-MSIX-0000:00:10.0   1-edge      virtio2-input.0\n"
        " 25:         10         32  PCI-MSIX-0000:00:10.0   2-edge      virtio2-output.0\n"
        "NMI:          0          0   Non-maskable interrupts\n"
    )
    rows = ka.irq_rows(text)
    assert rows["virtio2-output.0"] == 42 and rows["virtio2-input.0"] == 7


@pytest.mark.slow
def test_short_comparison_in_a_guest():
    try:
        kc.rig.prepare()
    except kc.rig.HilUnavailable as exc:
        pytest.skip(f"HIL rig unavailable: {exc}")
    cfg = kc.Config(packets=100, sizes=(60,), repeats=2, gap_us=kc.Config.gap_us)
    res = kc.run_guest(cfg, int(cfg.estimate_s()))
    rows, problems, _ = kc.judge(cfg, res)
    text = "\n".join(kc.table_lines(rows, cfg.packets)) + "\n" + "\n".join(problems)
    print(text)
    assert res.done and not res.timed_out, text
    # every run of both sides sent all its frames and the peer got each of them, byte for byte
    sent = [r for r in res.data["runs"] if "digest" in r]
    assert sent and all(r["tx_packets"] == 100 and r.get("arrived_exact") for r in sent), text
    # the kernel drove each device through per-queue MSI-X vectors with EVENT_IDX; the model acked EVENT_IDX
    for nic, info in res.data["nics"].items():
        for k in info["kernel"]:
            assert k["per_queue_vectors"] and k["event_idx"] and k["version_1"], (nic, k)
    assert all(r["event_idx"] for r in sent if r["side"] == "model")
    modern = [r for r in res.data["runs"] if r.get("nic") == "modern" and r.get("side") == "model"]
    by = {(r["nic"], r["pacing"]): r for r in rows}
    if km.modern_transport_missing():
        assert modern and "unavailable" in modern[0]
    else:
        # the modern-only device (no iommu_platform) through the model's modern transport: every run used all
        # its frames (Bus Master set at probe, as virtio_pci_probe does), and the paced cell is judged
        assert modern and all("error" not in r and r.get("transport") == "modern" for r in modern), text
        assert by[("modern", "paced")]["verdict"] == "agree", text
    assert by[("transitional", "paced")]["verdict"] == "agree", text
    # the kernel at the model's own pace ran and is reported (not gated: the model's CPU is busy there)
    matched = by[("transitional", "matched")]
    assert len(matched["kernel_irq_per_pkt"]) == 2 and "not gated" in matched["verdict"], text
    assert not problems, text
