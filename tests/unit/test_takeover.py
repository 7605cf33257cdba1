"""Identify, then bind: every refusal of tb.platform.takeover on a fake sysfs / proc tree, and the platform
refusing before it writes anything (no driver_override, no unbind, no modprobe, no hugepages)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tb.platform import linux, uio, vfio
from tb.platform.takeover import Assessment, TakeoverRefused, assess, check_takeover
from tests.unit.test_linux_platform import BDF, FakeKernelSysfs, fake_tree

HOST_BRIDGE = (0x8086, 0x29C0, 0x060000, 0x1AF4, 0x1100)
VIRTIO_RNG = (0x1AF4, 0x1005, 0x00FF00, 0x1AF4, 0x0004)
VIRTIO_BLK = (0x1AF4, 0x1001, 0x010000, 0x1AF4, 0x0002)
VIRTIO_9P = (0x1AF4, 0x1009, 0x000200, 0x1AF4, 0x0009)
E1000 = (0x8086, 0x100E, 0x020000, 0x1AF4, 0x1100)
MODERN_NET = (0x1AF4, 0x1041, 0x020000, 0x1AF4, 0x1100)


def proc_tree(tmp_path: Path, mounts: str = "", route: str = "", ipv6_route: str = "") -> Path:
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    (proc / "mounts").write_text("sysfs /sys sysfs rw 0 0\n" + mounts)
    (proc / "net/route").write_text("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n" + route)
    (proc / "net/ipv6_route").write_text(ipv6_route)
    (proc / "swaps").write_text("Filename\tType\tSize\tUsed\tPriority\n")
    return proc


def virtio_child(root: Path, driver: str | None, bdf: str = BDF) -> Path:
    """virtio-pci's virtio device under the function (virtio3), with ``driver`` bound to it."""
    vdev = root / "bus/pci/devices" / bdf / "virtio3"
    vdev.mkdir()
    if driver:
        (root / "bus/virtio/drivers" / driver).mkdir(parents=True, exist_ok=True)
        (vdev / "driver").symlink_to(root / "bus/virtio/drivers" / driver)
    return vdev


def netdev(vdev: Path, name: str, flags: int) -> None:
    (vdev / "net" / name).mkdir(parents=True)
    (vdev / "net" / name / "flags").write_text(f"{flags:#x}\n")


def decide(root: Path, proc: Path, any_device: bool = False, force_unbind: bool = False) -> str:
    """'' when the tool may take the function, else the refusal line."""
    try:
        check_takeover(assess(root / "bus/pci/devices" / BDF, BDF, proc), any_device, force_unbind)
    except TakeoverRefused as exc:
        msg = str(exc)
        assert "\n" not in msg and "nothing was changed" in msg
        return msg
    return ""


# -- identity -----------------------------------------------------------------------------------------------
def test_a_virtio_net_function_without_a_virtio_driver_is_taken(tmp_path):
    root = fake_tree(tmp_path)
    virtio_child(root, None)
    assert decide(root, proc_tree(tmp_path)) == ""


@pytest.mark.parametrize("driver", [None, "vfio-pci", "uio_pci_generic"])
def test_unbound_or_ours_is_taken(tmp_path, driver):
    assert decide(fake_tree(tmp_path, driver=driver), proc_tree(tmp_path)) == ""


def test_the_host_bridge_is_refused_whatever_the_flags(tmp_path):
    root = fake_tree(tmp_path, driver=None, ident=HOST_BRIDGE)
    for flags in ({}, {"any_device": True, "force_unbind": True}):
        msg = decide(root, proc_tree(tmp_path) if not flags else tmp_path / "proc", **flags)
        assert "8086:29c0 class 060000 (host bridge)" in msg and "never a device under test" in msg


def test_a_virtio_function_that_is_not_a_nic_is_refused(tmp_path):
    root = fake_tree(tmp_path, ident=VIRTIO_RNG)
    virtio_child(root, None)
    proc = proc_tree(tmp_path)
    msg = decide(root, proc)
    assert "1af4:1005 class 00ff00 (virtio entropy source), bound to virtio-pci, is not a virtio-net" in msg
    assert "--any-device" in msg
    assert decide(root, proc, any_device=True) == ""   # then the sequence stops at its identity


def test_a_modern_virtio_net_function_passes_the_identity(tmp_path):
    assert decide(fake_tree(tmp_path, driver=None, ident=MODERN_NET), proc_tree(tmp_path)) == ""


def test_a_foreign_driver_is_never_unbound(tmp_path):
    root = fake_tree(tmp_path, driver="e1000e", ident=E1000)
    proc = proc_tree(tmp_path)
    assert "not a virtio-net function" in decide(root, proc)
    msg = decide(root, proc, any_device=True, force_unbind=True)
    assert "never from e1000e" in msg and "unbind it yourself" in msg


# -- in use through virtio-pci ----------------------------------------------------------------------------------
def test_an_interface_that_is_up_is_refused_even_with_force_unbind(tmp_path):
    root = fake_tree(tmp_path)
    netdev(virtio_child(root, "virtio_net"), "eth0", 0x1003)
    msg = decide(root, proc_tree(tmp_path), force_unbind=True)
    assert "in use (virtio3 driven by virtio_net): interface eth0 is up" in msg
    assert "not even --force-unbind" in msg


def test_an_interface_with_a_route_is_refused(tmp_path):
    root = fake_tree(tmp_path)
    netdev(virtio_child(root, "virtio_net"), "eth0", 0x1002)
    proc = proc_tree(tmp_path, route="eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\n",
                     ipv6_route="fe800000000000000000000000000000 40 00000000000000000000000000000000 00 "
                                "00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0\n")
    assert "2 route(s) via eth0" in decide(root, proc, force_unbind=True)


def test_an_idle_virtio_driver_needs_force_unbind(tmp_path):
    root = fake_tree(tmp_path)
    netdev(virtio_child(root, "virtio_net"), "eth0", 0x1002)
    proc = proc_tree(tmp_path, route="lo\t0000007F\t00000000\t0001\t0\t0\t0\t000000FF\n")
    msg = decide(root, proc)
    assert "idle (interface eth0 down)" in msg and "pass --force-unbind to take it from virtio_net" in msg
    assert decide(root, proc, force_unbind=True) == ""


def test_a_mounted_virtio_disk_is_refused(tmp_path):
    root = fake_tree(tmp_path, ident=VIRTIO_BLK)
    blk = virtio_child(root, "virtio_blk") / "block/vda"
    (blk / "vda1").mkdir(parents=True)
    (blk / "vda1/partition").write_text("1\n")
    (blk / "holders").mkdir()
    proc = proc_tree(tmp_path, mounts="/dev/vda1 / ext4 rw 0 0\n")
    msg = decide(root, proc, any_device=True, force_unbind=True)
    assert "/dev/vda1 is mounted on / (ext4)" in msg


def test_a_disk_held_by_device_mapper_is_refused(tmp_path):
    root = fake_tree(tmp_path, ident=VIRTIO_BLK)
    blk = virtio_child(root, "virtio_blk") / "block/vdb"
    (blk / "holders/dm-0").mkdir(parents=True)
    assert "/dev/vdb is held by dm-0" in decide(root, proc_tree(tmp_path), any_device=True, force_unbind=True)


def test_a_mounted_9p_share_is_refused(tmp_path):
    root = fake_tree(tmp_path, ident=VIRTIO_9P)
    (virtio_child(root, "9pnet_virtio") / "mount_tag").write_text("hostroot\0")
    proc = proc_tree(tmp_path, mounts="hostroot /host 9p ro,trans=virtio 0 0\n")
    msg = decide(root, proc, any_device=True, force_unbind=True)
    assert "9p share 'hostroot' is mounted on /host" in msg


# -- the platform refuses before it changes anything ------------------------------------------------------------
class Recorder:
    def __init__(self):
        self.calls: list[str] = []


@pytest.mark.parametrize("backend", ["uio", "vfio"])
@pytest.mark.parametrize("case", ["bridge", "rng", "busy-nic"])
def test_the_platform_refuses_before_touching_anything(tmp_path, monkeypatch, backend, case):
    ident = {"bridge": HOST_BRIDGE, "rng": VIRTIO_RNG, "busy-nic": None}[case]
    root = fake_tree(tmp_path, driver=None if case == "bridge" else "virtio-pci",
                     **({"ident": ident} if ident else {}))
    if case == "busy-nic":
        netdev(virtio_child(root, "virtio_net"), "eth0", 0x1003)
    proc = proc_tree(tmp_path)
    before = {p: (os.readlink(p) if p.is_symlink() else p.read_text()) for p in root.rglob("*") if p.is_file()
              or p.is_symlink()}
    rec = Recorder()
    for mod in (linux, uio, vfio):
        if hasattr(mod, "modprobe"):
            monkeypatch.setattr(mod, "modprobe", lambda *a, _r=rec: _r.calls.append(f"modprobe {a}"))
    monkeypatch.setattr(linux, "HugePagePool", lambda *a, **k: rec.calls.append("hugepages"))
    cls = uio.UioPlatform if backend == "uio" else vfio.VfioPlatform
    p = cls(BDF, sysfs=str(root), proc=str(proc), force_unbind=True)
    p.pci = FakeKernelSysfs(BDF, root)
    with pytest.raises(TakeoverRefused):
        p.open()
    assert p.pci.writes == [] and rec.calls == []
    after = {p: (os.readlink(p) if p.is_symlink() else p.read_text()) for p in root.rglob("*") if p.is_file()
             or p.is_symlink()}
    assert after == before, "bindings (and everything else in sysfs) unchanged"


def test_vfio_refuses_a_group_shared_with_a_bound_function(tmp_path, monkeypatch):
    root = fake_tree(tmp_path, driver=None)
    other = "0000:00:1f.2"
    (root / "bus/pci/devices" / other).mkdir(parents=True)
    (root / "bus/pci/drivers/ahci").mkdir(parents=True)
    (root / "bus/pci/devices" / other / "driver").symlink_to(root / "bus/pci/drivers/ahci")
    group = root / "kernel/iommu_groups/7/devices"
    group.mkdir(parents=True)
    for bdf in (BDF, other):
        (group / bdf).symlink_to(root / "bus/pci/devices" / bdf)
    (root / "bus/pci/devices" / BDF / "iommu_group").symlink_to(root / "kernel/iommu_groups/7")
    p = vfio.VfioPlatform(BDF, sysfs=str(root), proc=str(proc_tree(tmp_path)))
    p.pci = FakeKernelSysfs(BDF, root)
    with pytest.raises(TakeoverRefused, match=r"IOMMU group 7 also holds 0000:00:1f.2 \(ahci\)"):
        p.open()
    assert p.pci.writes == []
    (root / "bus/pci/devices" / BDF / "iommu_group").unlink()
    with pytest.raises(TakeoverRefused, match="no IOMMU group"):
        p.open()


def test_assessment_names_what_it_read(tmp_path):
    root = fake_tree(tmp_path)
    netdev(virtio_child(root, "virtio_net"), "ens16", 0x1002)
    a: Assessment = assess(root / "bus/pci/devices" / BDF, BDF, proc_tree(tmp_path))
    assert a.identity.is_virtio_net and a.identity.kind() == "virtio network"
    assert a.use is not None and a.use.virtio_driver == "virtio_net" and a.use.interfaces == {"ens16": False}
