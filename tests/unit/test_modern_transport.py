"""The modern virtio 1.x PCI transport (tb/driver/virtio_pci_modern.py) on the transitional model device, in
virtual time: every variant on every transport it takes with every checker; the transport chosen as
virtio_pci_probe chooses it; the handshake's details (capability walk, 64-bit features, VERSION_1,
FEATURES_OK read back, negotiated queue size, config_generation, reset wait, MSI-X fallbacks); and the
modern status checker (tb/checkers/modern_status.py) proven by the driver faults it exists for and silent
when the device refuses FEATURES_OK and the faithful driver gives up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tb.checkers import CheckerSet
from tb.checkers.model_feed import model_checkers, start_polling
from tb.checkers.pci_caps import Structure
from tb.checkers.spec import (
    VIRTIO_PCI_CAP_COMMON_CFG,
    VIRTIO_PCI_CAP_DEVICE_CFG,
    VIRTIO_PCI_CAP_ISR_CFG,
    VIRTIO_PCI_CAP_NOTIFY_CFG,
)
from tb.driver.trace import EventLog
from tb.driver.virtio_net import MODERN_VARIANTS, VARIANTS, VirtioNet, virtio_net
from tb.driver.virtio_pci import VirtioError
from tb.driver import virtio_pci_modern
from tb.driver.virtio_pci_modern import (
    VIRTIO_CONFIG_S_FEATURES_OK,
    VIRTIO_F_ACCESS_PLATFORM,
    VIRTIO_F_VERSION_1,
    VirtioPciModern,
)
from tb.faults.driver import MODERN_DRIVER_FAULTS, faulty_driver
from tb.platform.base import PlatformError
from tb.platform import model
from tb.platform.model import ModelPlatform, ModelTiming, ModelVirtioNet, run_virtual
from tb.scenarios.xmit import XmitRun, XmitScenario

FAST = ModelTiming(latency_ns=50)
STATUS_FAILED, STATUS_DRIVER_OK = 0x80, 0x04


@dataclass
class Run:
    p: ModelPlatform
    hub: CheckerSet
    trace: EventLog
    net: VirtioNet | None = None
    error: str = ""
    sent: list[bytes] = field(default_factory=list)

    def fired(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for v in self.hub.violations:
            out.setdefault(v.checker, v.msg)
        return out


def run(variant: str, transport: str | None = None, packets: int = 64, interface: str = "transitional",
        device_faults: tuple[str, ...] = (), modern_faults: tuple[str, ...] = (), vectors: int = 8,
        device_cls: type[ModelVirtioNet] | None = None, queue_size_max: int | None = None,
        setup_hub: Callable[[ModelPlatform, CheckerSet], None] | None = None) -> Run:
    """Probe, open and ``packets`` frames with every checker collecting; a failed probe or a hang is recorded."""

    async def main() -> Run:
        p = ModelPlatform(timing=FAST, event_idx=True, faults=set(device_faults), interface=interface)
        p.msix_vectors = vectors
        if device_cls is not None:
            p.device = device_cls(p, p.device.modes, p.device.timing, None, True, set(device_faults))
        hub = model_checkers(p, collect=True)
        if setup_hub is not None:
            setup_hub(p, hub)
        p.start()
        start_polling(p, hub)
        trace = EventLog(p)
        trace.listeners.append(hub.driver_event)
        if modern_faults:
            net = faulty_driver(p, variant, tracer=trace, transport=transport, modern_faults=set(modern_faults))
        else:
            net = virtio_net(p, variant, tracer=trace, transport=transport)
        if queue_size_max is not None and isinstance(net.vdev, VirtioPciModern):
            net.vdev.queue_size_max = queue_size_max
        out = Run(p, hub, trace, net)
        scn = XmitScenario(packets=packets, variant=variant, timeout_ns=20e6)
        x = XmitRun(p, scn, p.start_task, tracer=trace, checkers=hub, driver=net)
        try:
            await x.probe()
            res = await x.traffic()
            out.sent = res.sent
            deadline = p.now_ns() + 5e6
            while len(p.device.c.wire) < len(res.sent) and p.now_ns() < deadline:
                await asyncio.sleep(1000)
        except PlatformError as exc:
            out.error = str(exc)
        await asyncio.sleep(20_000)
        hub.finish()
        p.device.stop()
        return out

    return run_virtual(main())


def clean(r: Run) -> None:
    assert not r.error, r.error
    assert r.sent and r.p.device.c.wire == r.sent, "wire != frames the driver accepted"
    assert not r.hub.violations, r.fired()


# -- every variant on every transport it takes, every checker ------------------------------------------------
TRANSPORT_CASES = [(v, "legacy") for v in VARIANTS] + [(v, "modern") for v in MODERN_VARIANTS]


@pytest.mark.parametrize("variant,transport", TRANSPORT_CASES)
def test_every_variant_on_its_transports_passes_every_checker(variant: str, transport: str) -> None:
    r = run(variant, transport, packets=128)
    clean(r)
    assert r.net is not None and r.net.vdev.transport == transport
    # vi->hdr_len: 12 bytes on the modern interface (num_buffers is always there with VERSION_1) or with
    # MRG_RXBUF, else 10; the model parses what the spec says, so a wrong length shows on the wire as well
    mrg = bool(r.net.vdev.features >> 15 & 1)
    assert r.net.hdr_len == (12 if transport == "modern" or mrg else 10)
    status = r.hub.by_name("modern_status")
    if transport == "modern":
        assert r.net.vdev.features >> VIRTIO_F_VERSION_1 & 1 and r.net.vdev.features >> VIRTIO_F_ACCESS_PLATFORM & 1
        assert status.events > 0, "the status checker saw no modern access"
        # the rings the checkers judged are the ones at the three addresses the driver gave (apart: 64-byte
        # aligned used ring, not the legacy page)
        tx = r.hub.queues[1]
        assert tx.used_at is not None and tx.used_at % 4096 != 0
    else:
        assert status.events == 0


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v not in MODERN_VARIANTS])
def test_pre_4_0_variants_refuse_the_modern_transport(variant: str) -> None:
    p = ModelPlatform()
    with pytest.raises(ValueError, match="before Linux 4.0 .* only the legacy"):
        virtio_net(p, variant, transport="modern")


def test_unknown_transport_is_refused() -> None:
    with pytest.raises(ValueError, match="transport 'pci-e'"):
        virtio_net(ModelPlatform(), "debian-6.1", transport="pci-e")


# -- the choice, as virtio_pci_probe makes it ---------------------------------------------------------------
@pytest.mark.parametrize("interface,expect", [("transitional", "modern"), ("modern", "modern"), ("legacy", "legacy")])
def test_default_transport_is_the_kernels_choice(interface: str, expect: str) -> None:
    r = run("debian-6.1", None, interface=interface)
    clean(r)
    assert r.net is not None and r.net.vdev.transport == expect
    assert bool(r.trace.of_kind("transport_fallback")) == (interface == "legacy")


def test_old_variant_on_a_modern_only_device_fails_clearly() -> None:
    r = run("post", None, interface="modern")
    assert "0x1041 is not a legacy virtio device" in r.error


def test_modern_only_device_refuses_an_explicit_legacy_probe() -> None:
    r = run("debian-6.1", "legacy", interface="modern")
    assert "0x1041 is not a legacy virtio device" in r.error


# -- the handshake ------------------------------------------------------------------------------------------
def test_capability_walk_and_register_map() -> None:
    r = run("debian-6.1", "modern", packets=8)
    clean(r)
    vdev = r.net.vdev  # type: ignore[union-attr]
    assert isinstance(vdev, VirtioPciModern)
    bar = model.MODERN_BAR
    assert (vdev.common.bar, vdev.common.offset) == (bar, model.MODERN_REGIONS["common"][0])  # type: ignore[union-attr]
    assert (vdev.isr.bar, vdev.isr.offset) == (bar, model.MODERN_REGIONS["isr"][0])  # type: ignore[union-attr]
    assert vdev.notify_offset_multiplier == model.NOTIFY_OFF_MULTIPLIER
    # queue i notifies at notify + queue_notify_off(i) * multiplier (the model's queue_notify_off is the index)
    notify = model.MODERN_REGIONS["notify"][0]
    assert vdev.notify_addr == {q: (bar, notify + q * model.NOTIFY_OFF_MULTIPLIER) for q in (0, 1)}
    assert r.p.device.c.notifies > 0 and r.p.device.c.rx_notifies > 0


def test_queue_size_negotiated_down() -> None:
    r = run("debian-6.1", "modern", packets=96, queue_size_max=64)
    clean(r)
    assert r.p.device.queue_size == [64, 64]
    assert r.hub.queues[1].num == 64


def test_version_1_required() -> None:
    class NoVersion1(ModelVirtioNet):
        @property
        def host_features(self) -> int:
            return super().host_features & ~(1 << model.F_VERSION_1)

    r = run("debian-6.1", "modern", device_cls=NoVersion1)
    assert "does not have VIRTIO_F_VERSION_1" in r.error
    assert r.p.device.status & STATUS_FAILED and not r.p.device.status & STATUS_DRIVER_OK
    assert not r.hub.violations, r.fired()


def test_config_read_again_when_the_generation_changes() -> None:
    class Churning(ModelVirtioNet):
        gen_reads = 0

        def common_read(self, rel: int, size: int) -> int:
            if rel == model.COMMON_CFGGENERATION:
                self.gen_reads += 1
                return 1 if self.gen_reads >= 2 else 0  # changes once, under the first MAC read
            return super().common_read(rel, size)

    r = run("debian-6.1", "modern", packets=8, device_cls=Churning)
    clean(r)
    assert len(r.trace.of_kind("config_generation_changed")) == 1
    assert r.net is not None and r.net.mac == ModelVirtioNet.MAC


@pytest.mark.parametrize("busy_reads", [2, None])
def test_reset_waits_for_status_zero(busy_reads: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """vp_reset polls device_status every millisecond until it reads 0 (a device that never does fails after
    a bounded wait instead of hanging; the bound is shortened here: a second of virtual time is a million
    checker polls)."""
    monkeypatch.setattr(virtio_pci_modern, "RESET_POLLS", 4)

    class SlowReset(ModelVirtioNet):
        left = 0

        def write_status(self, value: int) -> None:
            super().write_status(value)
            if value == 0:
                self.left = 10**9 if busy_reads is None else busy_reads

        def common_read(self, rel: int, size: int) -> int:
            if rel == model.COMMON_STATUS and self.left:
                self.left -= 1
                return 0x01
            return super().common_read(rel, size)

    r = run("debian-6.1", "modern", packets=8, device_cls=SlowReset)
    if busy_reads is None:
        assert "did not read 0" in r.error
    else:
        clean(r)


@pytest.mark.parametrize("vectors,mode", [(8, "msix-per-vq"), (2, "msix-shared"), (0, "intx")])
def test_interrupt_fallbacks_on_the_modern_transport(vectors: int, mode: str) -> None:
    r = run("debian-6.1", "modern", packets=64, vectors=vectors)
    clean(r)
    assert r.net is not None and r.net.vdev.irq_mode == mode


def test_refused_vector_reads_back_no_vector() -> None:
    """The device takes vectors below its table size only: with 2 vectors per-vq setup fails on the read-back
    of the TX queue's vector (VIRTIO_MSI_NO_VECTOR) and the shared-vector attempt follows."""
    r = run("napi-tx", "modern", vectors=2)
    clean(r)
    assert r.net is not None and r.net.vdev.find_vqs_failures, "no failed attempt recorded"


# -- the modern status checker ------------------------------------------------------------------------------
def test_device_refusing_features_ok_stops_the_faithful_driver() -> None:
    r = run("debian-6.1", "modern", device_faults=("refuse_features_ok",))
    assert "device refuses features" in r.error
    status = r.p.device.status
    assert status & STATUS_FAILED and not status & STATUS_DRIVER_OK and not status & VIRTIO_CONFIG_S_FEATURES_OK
    assert not r.hub.violations, r.fired()
    assert r.p.device.c.notifies == 0


@pytest.mark.parametrize(
    "fault,device_faults,expect",
    [
        ("skip_features_ok", (), "before FEATURES_OK was written"),
        ("features_after_ok", (), "after FEATURES_OK"),
        ("ignore_features_ok", ("refuse_features_ok",), "read back clear"),
        ("notify_before_driver_ok", (), "before DRIVER_OK"),
    ],
)
def test_status_checker_catches_each_driver_fault(fault: str, device_faults: tuple[str, ...], expect: str) -> None:
    assert fault in MODERN_DRIVER_FAULTS
    r = run("debian-6.1", "modern", modern_faults=(fault,), device_faults=device_faults, packets=16)
    fired = [v.msg for v in r.hub.violations if v.checker == "modern_status"]
    assert any(expect in m for m in fired), (fault, fired, r.fired())
    if fault == "skip_features_ok":
        assert any("DRIVER_OK without FEATURES_OK" in m for m in fired), fired
    if fault == "ignore_features_ok":
        assert any("DRIVER_OK although FEATURES_OK read back clear" in m for m in fired), fired


def test_status_checker_from_a_platform_description() -> None:
    """Without configuration reads the set learns nothing from the capability list; a platform's description
    of its structures takes its place and the checkers judge the modern queues the same."""

    def describe(p: ModelPlatform, hub: CheckerSet) -> None:
        hub.host_config = lambda *a: None  # type: ignore[method-assign]  (no CfgRd monitor)
        regions = model.MODERN_REGIONS
        hub.describe_modern({
            VIRTIO_PCI_CAP_COMMON_CFG: Structure(model.MODERN_BAR, *regions["common"]),
            VIRTIO_PCI_CAP_ISR_CFG: Structure(model.MODERN_BAR, *regions["isr"]),
            VIRTIO_PCI_CAP_DEVICE_CFG: Structure(model.MODERN_BAR, *regions["device"]),
            VIRTIO_PCI_CAP_NOTIFY_CFG: Structure(model.MODERN_BAR, *regions["notify"], model.NOTIFY_OFF_MULTIPLIER),
        })

    r = run("debian-6.1", "modern", setup_hub=describe)
    clean(r)
    assert r.hub.by_name("modern_status").events > 0 and r.hub.queues[1].used_at is not None
    bad = run("debian-6.1", "modern", modern_faults=("features_after_ok",), setup_hub=describe)
    assert "modern_status" in bad.fired()


# -- the bring-up table over the modern interface -------------------------------------------------------------
@pytest.mark.parametrize("variant", MODERN_VARIANTS)
def test_bringup_table_on_the_modern_only_model(variant: str) -> None:
    """--transport modern on a modern-only function (1af4:1041, no BAR0): every register row through the
    capabilities, the driver rows with the modern variant; only the A/B (legacy-only drivers) and the rows
    this platform has no means for are N/A."""
    from tb.bringup.sequence import NA, PASS, BringupConfig, exit_code, run_checks

    async def main():
        p = ModelPlatform(timing=FAST, interface="modern")
        p.config[0x3D] = 1  # INTx pin A
        p.start()
        return await run_checks(p, p.start_task, BringupConfig(timeout_ns=2e6, variant=variant, transport="modern"))

    report = run_virtual(main())
    rows = {c.name: c for c in report.checks}
    assert exit_code(report.checks) == 0, [(c.name, c.status, c.value) for c in report.checks]
    for name in ("PCI identity", "virtio capabilities", "features offered", "status handshake", "queue sizes", "MAC",
                 "link", "TX 32 frames", "interrupt MSI-X", "interrupt INTx"):
        assert rows[name].status == PASS, (name, rows[name])
    assert "0x3 -> 0xb -> 0xf -> 0x0" in rows["status handshake"].value
    assert rows["A/B pre/post"].status == NA
    assert all(r["transport"] == "modern" for r in report.runs)


def test_legacy_table_refuses_a_modern_only_function() -> None:
    from tb.bringup.sequence import FAIL, BringupConfig, run_checks

    async def main():
        p = ModelPlatform(timing=FAST, interface="modern")
        p.start()
        return await run_checks(p, p.start_task, BringupConfig(timeout_ns=2e6))

    report = run_virtual(main())
    assert [(c.name, c.status) for c in report.checks] == [("PCI identity", FAIL)]
    assert "modern-only" in report.checks[0].detail


def test_hil_rig_puts_the_modern_devices_behind_the_viommu_only() -> None:
    from pathlib import Path

    from hil import orchestrator as hil

    modern = [n for n in hil.STANDARD.nics if n.modern]
    assert [n.args[-1] for n in modern] == list(MODERN_VARIANTS)
    assert not any(n.modern for n in hil.STANDARD.nics_for("uio"))
    assert set(hil.STANDARD.nics_for("vfio")) == set(hil.STANDARD.nics)
    nics = [(n, 1000 + i, 2000 + i) for i, n in enumerate(hil.STANDARD.nics_for("vfio"))]
    cmd = " ".join(hil.qemu_command("vfio", Path("k"), Path("i"), Path("s"), nics, 60))
    assert "intel-iommu" in cmd
    for n in modern:
        assert f"disable-modern=off,disable-legacy=on,iommu_platform=on,mac={n.mac}" in cmd
    plan = {e["name"]: e["args"] for e in hil.plan(hil.STANDARD, "vfio")}
    for n in modern:
        assert plan[n.name][plan[n.name].index("--transport") + 1] == "modern"
    assert not any(n.modern for n in hil.LONG.nics_for("uio")) and sum(n.modern for n in hil.LONG.nics) == 4
