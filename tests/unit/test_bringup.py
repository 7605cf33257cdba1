"""The bring-up sequence (tb.bringup.sequence) and its command line (tb.bringup.cli) without hardware: the whole
sequence on the model platform, Linux's vp_find_vqs order when the function has fewer MSI-X vectors (a
shared vector, INTx, MSI-X disabled again after every failed attempt), rows that read what they report
(used.idx from the ring, the link only when STATUS is offered), the argument checks and the artifacts."""

from __future__ import annotations

import json
import sys

import pytest

from tb.bringup import cli as bringup_cli
from tb.bringup.sequence import (
    FAIL,
    LOOPBACK_ETHERTYPE,
    NA,
    PASS,
    BringupConfig,
    BringupReport,
    Check,
    check_loopback,
    exit_code,
    first_difference,
    format_table,
    run_checks,
)
from tb.device.debug_bar import DEBUG_BAR
from tb.device.dev_ctrl import MODE_LOOPBACK_BIT, REG_MODE, REG_RX_CNT_BASE, RX_COUNTERS, DeviceModes
from tb.driver.virtio_net import virtio_net
from tb.driver.virtio_pci import VIRTIO_MSI_CONFIG_VECTOR
from tb.platform.base import IrqCount, PlatformError
from tb.platform.model import ModelPlatform, ModelTiming, ModelVirtioNet, run_virtual
from tb.scenarios.xmit import XmitRun, XmitScenario


def model(vectors: int = 8, pin: int = 1, **modes) -> ModelPlatform:
    """The model device with the config space the sequence reads: an MSI-X capability of ``vectors``
    entries (none when 0) at 0x40 and INTx pin ``pin``."""
    p = ModelPlatform(DeviceModes(**modes), ModelTiming(latency_ns=50))
    p.msix_vectors = vectors
    p.config[0x3D] = pin
    if vectors:
        p.config.update({0x06: 0x0010, 0x34: 0x40, 0x40: 0x11, 0x41: 0x00, 0x42: vectors - 1, 0x44: 0x1})
    p.start()
    return p


def names(report) -> dict[str, Check]:
    return {c.name: c for c in report.checks}


# -- table and exit code -----------------------------------------------------------------------------------
def test_table_and_exit_code():
    checks = [Check("PCI identity", PASS, "1af4:1000"), Check("interrupt MSI-X", NA, "uio: INTx only")]
    text = format_table(checks, "title")
    assert text.splitlines()[0] == "title"
    assert "interrupt MSI-X  N/A     uio: INTx only" in text
    assert text.splitlines()[-1] == "1 passed, 0 failed, 1 not applicable"
    assert exit_code(checks) == 0
    assert exit_code(checks + [Check("TX", FAIL, "timeout", "used.idx stuck")]) == 1
    assert "(used.idx stuck)" in format_table(checks + [Check("TX", FAIL, "timeout", "used.idx stuck")])
    assert exit_code([Check("x", NA)]) == 1, "nothing passed is not a pass"


# -- the sequence on the model -------------------------------------------------------------------------------
def test_the_whole_sequence_on_the_model_platform():
    lines: list[str] = []

    async def main():
        p = model()
        return await run_checks(p, p.start_task, BringupConfig(wire=lambda: p.device.c.wire, progress=lines.append))

    report = run_virtual(main())
    assert exit_code(report.checks) == 0, format_table(report.checks)
    rows = names(report)
    assert rows["debug BAR"].status == NA
    assert rows["A/B TX irq per packet"].status == PASS
    assert "MSI-X table of 8 vectors (BAR1 +0x0), INTx pin A" in rows["interrupt capabilities"].value
    assert [r["name"] for r in report.runs] == ["tx", "intx", "ab-pre", "ab-post"]
    assert report.runs[0]["irq_mode"] == "msix-per-vq" and report.runs[0]["tx_irq_source"] == "msix2"
    # neither our RTL's loopback mode nor an echoing peer: the loopback row says so, no driver run for it
    loop = rows["loopback 32 frames"]
    assert loop.status == NA and "no 'VNET' debug BAR" in loop.value and "--loopback-peer" in loop.value
    assert report.runs[1]["irq_mode"] == "intx"
    # no kernel count on the model: the row says so instead of inventing one
    assert rows["irq counts vs kernel"].status == NA
    # one progress line per row, plus one per driver run
    assert sum(" TX 32 frames: PASS" in ln for ln in lines) == 1
    assert sum("probing the" in ln for ln in lines) == 4


def test_used_idx_is_read_from_the_ring_not_computed():
    """A device that moves used.idx one further than the frames it used: the row shows the index as read
    (0 -> 33, not the 0 -> 32 the packet count would suggest) and fails."""
    class Overeager(ModelVirtioNet):
        def _decide_interrupt(self, avail: int) -> None:
            if self.used_idx == 32 and self.p.msix_enabled:
                self.used_idx = 33
                self.p.host.write(self._used_base() + 2, (33).to_bytes(2, "little"))
            super()._decide_interrupt(avail)

        def _used_base(self) -> int:
            avail = (self.pfn[1] << 12) + 16 * self.QUEUE_SIZE
            return (avail + 2 * (3 + self.QUEUE_SIZE) + 4095) & ~4095

    async def main():
        p = model()
        p.device.stop()
        p.device = Overeager(p, p.device.modes, p.device.timing)
        p.start()
        return await run_checks(p, p.start_task, BringupConfig(timeout_ns=2e6))

    tx = names(run_virtual(main()))["TX 32 frames"]
    assert tx.status == FAIL and tx.value.startswith("used.idx 0 -> 33 (read from the ring)")
    assert "used 33 of 32" in tx.detail


def test_link_is_not_applicable_without_status():
    class NoStatus(ModelVirtioNet):
        @property
        def host_features(self) -> int:
            return super().host_features & ~(1 << 16)

    async def main():
        p = model()
        p.device.stop()
        p.device = NoStatus(p, p.device.modes, p.device.timing)
        p.start()
        return await run_checks(p, p.start_task, BringupConfig())

    rows = names(run_virtual(main()))
    assert rows["link"].status == NA and "STATUS not offered" in rows["link"].value
    assert rows["MAC"].status == PASS


def test_the_sequence_fails_when_the_device_never_interrupts():
    async def main():
        p = model(offer_noe=True)
        p.raise_msix = lambda vector: None  # a lost MSI-X path
        return await run_checks(p, p.start_task, BringupConfig())

    report = run_virtual(main())
    rows = names(report)
    assert rows["interrupt MSI-X"].status == FAIL
    assert rows["interrupt INTx"].status == PASS
    assert rows["wire byte-exact"].status == NA
    assert exit_code(report.checks) == 1


def test_identity_failure_stops_before_any_traffic():
    async def main():
        p = model()
        p.config[0x02] = 0x1005          # a virtio entropy source, not a NIC
        p.config[0x2E] = 4
        report = await run_checks(p, p.start_task, BringupConfig())
        return report, p.device.c.notifies

    report, notifies = run_virtual(main())
    assert [c.name for c in report.checks] == ["PCI identity"]
    assert report.checks[0].status == FAIL and "stops here" in report.checks[0].detail
    assert notifies == 0 and report.runs == []


# -- the loopback row ------------------------------------------------------------------------------------------
def echo_peer(p: ModelPlatform, mangle=lambda k, frame: frame):
    """A peer on the model's wire that sends every frame of LOOPBACK_ETHERTYPE back into its RX queue (as the
    QEMU rig's UDP peer does), through ``mangle(k, frame)`` (None: the k-th echo is lost). Stop: the callable."""
    seen, echoed = 0, [0]

    async def run():
        nonlocal seen
        while True:
            wire = p.device.c.wire
            for frame in wire[seen:]:
                if int.from_bytes(frame[12:14], "big") == LOOPBACK_ETHERTYPE:
                    out = mangle(echoed[0], frame)
                    echoed[0] += 1
                    if out is not None:
                        p.device.wire_rx(out)
            seen = len(wire)
            await p.sleep_ns(500)

    return p.start_task(run())


def peer_run(mangle=lambda k, frame: frame, frames: int = 32, timeout_ns: float = 1e9):
    async def main():
        p = model()
        stop = echo_peer(p, mangle)
        report = await run_checks(p, p.start_task, BringupConfig(
            wire=lambda: p.device.c.wire, loopback_peer=True, loopback_frames=frames, timeout_ns=timeout_ns))
        stop()
        return report
    return run_virtual(main())


def test_loopback_through_an_echoing_peer():
    """--loopback-peer: the row's frames (EtherType 0x88b6) go out on the wire, the peer sends them back and the
    same driver receives them, byte-exact and in order; the other runs' frames are not echoed (none received)."""
    report = peer_run(frames=24)
    rows = names(report)
    assert exit_code(report.checks) == 0, format_table(report.checks)
    loop = rows["loopback 24 frames"]
    assert loop.status == PASS and loop.value.startswith("24/24 frames back via the echoing peer, byte-exact")
    run = report.runs[-1]
    assert [r["name"] for r in report.runs] == ["tx", "intx", "ab-pre", "ab-post", "loopback"]
    assert run["wire"] and run["received"] == 24 and run["rx_first_difference"] == ""
    assert run["received_frames"] == run["frames"]
    assert all(int(h[24:28], 16) == LOOPBACK_ETHERTYPE for h in run["frames"])
    assert run["rx_stats"]["rx_packets"] == 24 and run["rx_packets"] == 24
    assert all(r["rx_packets"] == 0 for r in report.runs[:-1]), "only the loopback row's frames come back"
    # on the wire, the loopback frames follow the others: the wire check counts them
    assert rows["wire byte-exact"].status == PASS and rows["wire byte-exact"].value.startswith("128/128")
    assert bringup_cli.sent_frames(report)[-24:] == [bytes.fromhex(h) for h in run["frames"]]


def test_a_lost_echo_fails_and_says_how_many_came_back():
    report = peer_run(lambda k, frame: None if k == 5 else frame, timeout_ns=2e6)
    loop = names(report)["loopback 32 frames"]
    assert loop.status == FAIL and loop.value.startswith("31/32 frames back")
    # the missing frame is the 6th: the 7th arrives where it was expected
    assert "frame 5: " in loop.detail and exit_code(report.checks) == 1


def test_a_changed_byte_fails_with_the_first_difference():
    def flip(k, frame):
        return frame[:40] + bytes([frame[40] ^ 0x10]) + frame[41:] if k == 3 else frame

    loop = names(peer_run(flip))["loopback 32 frames"]
    assert loop.status == FAIL and "not byte-exact" in loop.value
    assert loop.detail.startswith("frame 3: ") and "first difference at byte 40" in loop.detail


def test_first_difference():
    a, b = b"\x01\x02\x03", b"\x01\x07\x03"
    assert first_difference([a, a], [a, a]) == ""
    assert first_difference([a, a], [a, b]) == "frame 1: 3 bytes, sent 3; first difference at byte 1"
    assert first_difference([a, a], [a, a[:2]]) == "frame 1: 2 bytes, sent 3; first difference at byte 2"
    assert first_difference([a, a, a], [a]) == "2 of 3 frames did not come back (the first missing is frame 1)"
    assert first_difference([a], [a, a]) == "1 frames more than were sent came back"


class ModeBar(ModelPlatform):
    """The model with the part of our RTL's debug BAR the loopback row uses: MODE (bit 20 turns the model's
    loopback on) and the RX counters, from the model's own. ``sticky``: False, a MODE that ignores bit 20."""

    def __init__(self, mode: int = 0x30, sticky: bool = True):
        super().__init__(DeviceModes(), ModelTiming(latency_ns=50))
        self.mode, self.sticky = mode, sticky
        self.mode_writes: list[int] = []
        self.start()

    def bar_size(self, bar: int) -> int:
        return 4096 if bar in (0, 1, DEBUG_BAR) else 0

    async def bar_read(self, bar: int, offset: int, size: int) -> int:
        if bar != DEBUG_BAR:
            return await super().bar_read(bar, offset, size)
        c = self.device.c
        rx = {"rx_frames": c.rx_frames, "rx_bytes": c.rx_bytes, "rx_drop_nobuf": c.rx_drops["no_buffer"]}
        if offset == REG_MODE:
            return self.mode
        if REG_RX_CNT_BASE <= offset < REG_RX_CNT_BASE + 4 * len(RX_COUNTERS):
            return rx.get(RX_COUNTERS[(offset - REG_RX_CNT_BASE) // 4], 0)
        return 0

    async def bar_write(self, bar: int, offset: int, value: int, size: int) -> None:
        if bar == DEBUG_BAR and offset == REG_MODE:
            self.mode_writes.append(value)
            self.mode = value if self.sticky else value & ~(1 << MODE_LOOPBACK_BIT)
            self.device.rx.loopback = bool(self.mode >> MODE_LOOPBACK_BIT & 1)
            return
        await super().bar_write(bar, offset, value, size)


def test_loopback_on_our_rtl_sets_the_mode_for_the_row_and_clears_it_after():
    async def main():
        p = ModeBar()
        sent: list[bytes] = []
        r = BringupReport()
        await check_loopback(p, p.start_task, BringupConfig(loopback_frames=16), r, True, sent)
        return p, r, sent

    p, r, sent = run_virtual(main())
    loop = names(r)["loopback 16 frames"]
    assert loop.status == PASS, format_table(r.checks)
    assert "via our RTL's loopback mode" in loop.value and "device rx_frames +16" in loop.value
    # the other MODE bits kept; bit 20 set for the run, clear after it
    assert p.mode_writes == [0x30 | 1 << MODE_LOOPBACK_BIT, 0x30] and p.mode == 0x30
    run = r.runs[0]
    assert run["wire"] is False and run["rx_counters"]["rx_frames"] == 16
    assert sent == [], "frames kept inside the device are not the wire's"


def test_loopback_on_our_rtl_fails_when_the_mode_does_not_take():
    """MODE bit 20 reads back clear: nothing comes back (a FAIL that says how many did) and the row names the
    register; every wait ended at its timeout."""
    async def main():
        p = ModeBar(sticky=False)
        r = BringupReport()
        await check_loopback(p, p.start_task, BringupConfig(loopback_frames=8, timeout_ns=1e6), r, True, [])
        return r

    loop = names(run_virtual(main()))["loopback 8 frames"]
    assert loop.status == FAIL and loop.value.startswith("0/8 frames back")
    assert "8 of 8 frames did not come back" in loop.detail and "MODE bit 20" in loop.detail
    assert "the device counted 0 RX frames of 8" in loop.detail


# -- vp_find_vqs: a vector per queue, then a shared vector, then INTx ----------------------------------------
def probe_with(vectors: int, **kw):
    async def main():
        p = model(vectors)
        run = XmitRun(p, XmitScenario(packets=8, **kw), p.start_task)
        await run.probe()
        vdev = run.net.vdev
        state = (vdev.irq_mode, list(vdev.find_vqs_failures), [i.msix_vector for i in vdev.vqs],
                 p.msix_enabled)
        res = await run.traffic()
        await run.net.remove()
        return state, res, p.msix_enabled
    return run_virtual(main())


def test_vectors_for_every_queue_first():
    (mode, failures, vectors, enabled), res, after = probe_with(8)
    assert mode == "msix-per-vq" and failures == [] and vectors == [1, 2] and enabled
    assert res.packets == 8 and not after


def test_two_vectors_give_one_shared_queue_vector():
    (mode, failures, vectors, enabled), res, after = probe_with(2)
    assert mode == "msix-shared" and vectors == [1, 1] and enabled
    assert failures == ["MSI-X per-vq vectors: 3 MSI-X vectors wanted, the function has 2"]
    assert res.skb_xmit_done >= 1 and res.tx_irqs_delivered >= 1   # the shared vector reaches skb_xmit_done
    assert not after


def test_no_msix_falls_back_to_intx_with_msix_disabled():
    (mode, failures, vectors, enabled), res, _ = probe_with(0)
    assert mode == "intx" and not enabled, "MSI-X must be off again before INTx"
    assert len(failures) == 2 and all("the function has 0" in f for f in failures)
    assert res.packets == 8 and res.skb_xmit_done >= 1


def test_a_refused_config_vector_disables_msix_before_the_next_attempt():
    """The device answers NO_VECTOR for the config vector: each MSI-X attempt frees its vectors, writes
    NO_VECTOR and disables MSI-X (vp_free_vectors); INTx works after."""
    async def main():
        p = model()
        reg_write = p.device.reg_write
        seen: list[tuple[int, bool]] = []

        def refuse_config_vector(off: int, value: int, size: int) -> None:
            if off == VIRTIO_MSI_CONFIG_VECTOR and p.msix_enabled:
                seen.append((value, p.msix_enabled))
                value = 0xFFFF
            reg_write(off, value, size)

        p.device.reg_write = refuse_config_vector
        net = virtio_net(p, "post")
        await net.probe(p.start_task)
        state = (net.vdev.irq_mode, list(net.vdev.find_vqs_failures), p.msix_enabled, seen)
        await net.remove()
        return state

    mode, failures, enabled, seen = run_virtual(main())
    assert mode == "intx" and not enabled
    assert [f.split(":")[0] for f in failures] == ["MSI-X per-vq vectors", "MSI-X shared vector"]
    assert all("refused MSI-X vector 0" in f for f in failures)
    assert seen == [(0, True), (0xFFFF, True), (0, True), (0xFFFF, True)], "vector 0, then NO_VECTOR on the way out"


def test_no_interrupt_at_all_is_an_error():
    async def main():
        p = model(0)
        p.request_intx = lambda h: (_ for _ in ()).throw(PlatformError("no INTx (interrupt pin 0)"))
        net = virtio_net(p, "post")
        with pytest.raises(PlatformError, match="interrupt pin 0"):
            await net.probe(p.start_task)
        return net.vdev.find_vqs_failures, p.msix_enabled

    failures, enabled = run_virtual(main())
    assert len(failures) == 2 and not enabled


# -- interrupt counts as the platform reads them --------------------------------------------------------------
def test_counts_come_from_the_platform_and_are_checked_against_the_kernel():
    """A platform that counts (raised from its descriptors, kernel from /proc/interrupts): the table shows
    both per packet, and a kernel count that differs by more than 2 % fails its row."""
    def run_with(kernel_extra: int):
        async def main():
            p = model()
            counts: dict[str, IrqCount] = {}
            inner = p.raise_msix

            def raise_msix(vector: int) -> None:
                c = counts.setdefault(f"msix{vector}", IrqCount(raised=0, kernel=0, line=f"vfio-msix[{vector}]"))
                c.raised += 1
                c.kernel += 1 + (kernel_extra if vector == 2 else 0)
                c.handled += 1
                inner(vector)

            p.raise_msix = raise_msix
            p.irq_counts = lambda: {k: IrqCount(v.raised, v.handled, v.kernel, v.line) for k, v in counts.items()}
            return await run_checks(p, p.start_task, BringupConfig())
        return run_virtual(main())

    report = run_with(0)
    rows = names(report)
    assert rows["irq counts vs kernel"].status == PASS, format_table(report.checks)
    assert "ab-pre 32/32" in rows["irq counts vs kernel"].value
    pre = report.runs[2]
    assert pre["tx_raised"] == 32 and pre["tx_kernel"] == 32 and pre["raised_per_pkt"] == 1.0
    assert rows["A/B TX irq per packet"].value.startswith("raised/pkt pre 1.000 (32/32; handled 32, kernel 32)")
    bad = names(run_with(1))["irq counts vs kernel"]
    assert bad.status == FAIL and "kernel" in bad.detail


def test_a_shared_line_bounds_the_count_instead():
    """On a shared INTx line the kernel also counts the other devices' interrupts: the tool's count may be
    lower, never higher."""
    from tb.bringup.sequence import BringupReport, check_kernel_counts

    def row(raised: int, kernel: int, shared: bool) -> Check:
        r = BringupReport(runs=[{"name": "ab-pre", "tx_irq_source": "intx", "irq": {"intx": {
            "raised": raised, "handled": raised, "kernel": kernel, "line": "IRQ 11 (uio_pci_generic)",
            "shared": shared}}}])
        check_kernel_counts(r, BringupConfig())
        return r.checks[0]

    assert row(32, 32, False).status == PASS
    assert row(30, 32, False).status == FAIL           # 6 % apart on a line of its own
    # INTx on its own line: one arrival the handler found already cleared (IRQ_NONE) counts in the kernel only
    assert row(26, 27, False).status == PASS
    assert row(27, 26, False).status == FAIL           # never more than the kernel delivered
    ok = row(30, 45, True)
    assert ok.status == PASS and "shared line" in ok.value
    assert row(46, 45, True).status == FAIL


# -- command line ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["--packets", "0"], "--packets 0: 1 to"),
    (["--ab-packets", "70000"], "--ab-packets 70000"),
    (["--gap-us", "-1"], "--gap-us -1"),
    (["--target", "pci:00:04"], "is not a PCI address"),
    (["--target", "usb:1"], "sim or pci:"),
    (["--target", "pci:00:04.0", "--hugepages", "2"], "--hugepages 2"),
    (["--target", "pci:00:04.0", "--run-timeout", "0"], "--run-timeout 0"),
    (["--force-unbind"], "only for a pci target"),
    (["--loopback-peer"], "--loopback-peer: only for a pci target"),
    (["--loopback-frames", "0"], "--loopback-frames 0: 1 to"),
])
def test_arguments_are_checked_before_anything_runs(argv, message, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    touched = []
    monkeypatch.setattr(bringup_cli, "run_pci", lambda args: touched.append(args))
    monkeypatch.setattr(bringup_cli, "run_sim", lambda args: touched.append(args))
    with pytest.raises(SystemExit) as exc:
        bringup_cli.main(argv)
    assert exc.value.code == 2 and not touched
    assert message in capsys.readouterr().err


def test_sim_target_without_the_venv_says_what_to_do(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(bringup_cli.importlib.util, "find_spec", lambda name: None)
    assert bringup_cli.main([]) == 2
    assert "make venv" in capsys.readouterr().err


def test_a_refusal_is_one_line_and_a_json_record(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(bringup_cli, "run_pci", lambda args: (None, "refusing 0000:00:00.0: host bridge"))
    rc = bringup_cli.main(["--target", "pci:00:00.0", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 2 and out == "" and err.strip().splitlines() == ["vnet-bringup: refusing 0000:00:00.0: host bridge"]
    assert json.loads((tmp_path / "bringup.json").read_text())["refused"].startswith("refusing")


def test_pci_artifacts_hold_what_the_table_counted(capsys, monkeypatch, tmp_path):
    """The JSON, the pcap (the frames the driver queued, every run) and the event log, paths printed."""
    async def main():
        p = model()
        return await run_checks(p, p.start_task, BringupConfig(trace=True))

    report = run_virtual(main())
    monkeypatch.setattr(bringup_cli, "run_pci", lambda args: (report, ""))
    rc = bringup_cli.main(["--target", "pci:00:04.0", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    for name in ("bringup.json", "bringup.pcap", "bringup.events.jsonl"):
        assert str(tmp_path / name) in out
    check = bringup_cli.check_pcap(tmp_path / "bringup.pcap", report)
    assert check.status == PASS and check.value.startswith("104 frames")
    events = [json.loads(line) for line in (tmp_path / "bringup.events.jsonl").read_text().splitlines()]
    assert {e["run"] for e in events} == {"tx", "intx", "ab-pre", "ab-post"}
    assert any(e["event"] == "skb_xmit_done" for e in events)
    # a pcap that lost a frame is caught
    from tb.pcap import PcapWriter, read_pcap
    frames = [f for _, f in read_pcap(tmp_path / "bringup.pcap")[1]]
    w = PcapWriter(tmp_path / "short.pcap")
    for f in frames[:-1]:
        w.write(f, 0)
    w.close()
    assert bringup_cli.check_pcap(tmp_path / "short.pcap", report).status == FAIL


def test_console_script_is_declared():
    import tomllib
    from pathlib import Path

    data = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert data["project"]["scripts"]["vnet-bringup"] == "tb.bringup.cli:main"
    assert sys.modules["tb.bringup.cli"].main is bringup_cli.main
