"""The Linux PCI platform's pieces that run without a VM or root: pagemap parsing, vfio ioctl numbers and
struct layouts, the hugepage allocator's bus-address arithmetic, sysfs binding against a fake tree, the
uio INTx mask bit, and the host side of the HIL rig (pcap capture, frame comparison). The takeover
refusals, the interrupt window and the bring-up sequence have their own files (test_takeover.py,
test_irq_window.py, test_bringup.py)."""

from __future__ import annotations

import asyncio
import os
import random
import struct
from pathlib import Path

import pytest

from tb.bringup.sequence import FAIL, PASS
from tb.platform import vfio
from tb.platform.base import PlatformError
from tb.platform.linux import (
    HUGE_PAGE_SIZE,
    PM_PRESENT,
    PM_SWAPPED,
    DmaAllocator,
    HugeTlbSysfs,
    PciSysfs,
    group_contiguous,
    normalize_bdf,
    parse_pagemap_entry,
    split_access,
    virt_to_phys,
)

BDF = "0000:00:05.0"


# -- pagemap ---------------------------------------------------------------------------------------------
def test_pagemap_entry_present_pfn():
    assert parse_pagemap_entry(PM_PRESENT | 0x3200) == (True, 0x3200)
    assert parse_pagemap_entry(PM_PRESENT | (1 << 55) | 0x42) == (True, 0x42)  # soft-dirty is not PFN
    assert parse_pagemap_entry(0x3200) == (False, 0)                           # not present
    assert parse_pagemap_entry(PM_PRESENT | PM_SWAPPED | 0x5) == (False, 0)     # swapped: offset, not PFN


def test_virt_to_phys_reads_the_right_entry(tmp_path):
    pagemap = tmp_path / "pagemap"
    entries = [0] * 16
    entries[5] = PM_PRESENT | 0x3201
    entries[6] = PM_PRESENT  # PFN hidden (not root)
    pagemap.write_bytes(struct.pack("<16Q", *entries))
    assert virt_to_phys(5 * 4096 + 0x123, str(pagemap)) == 0x3201 * 4096 + 0x123
    with pytest.raises(PlatformError, match="CAP_SYS_ADMIN"):
        virt_to_phys(6 * 4096, str(pagemap))
    with pytest.raises(PlatformError, match="not present"):
        virt_to_phys(7 * 4096, str(pagemap))


# -- vfio ioctls -------------------------------------------------------------------------------------------
def test_vfio_ioctl_numbers_match_the_uapi_header():
    # _IO(';', 100 + n): include/uapi/linux/vfio.h
    assert vfio.VFIO_GET_API_VERSION == 0x3B64
    assert vfio.VFIO_CHECK_EXTENSION == 0x3B65
    assert vfio.VFIO_SET_IOMMU == 0x3B66
    assert vfio.VFIO_GROUP_GET_STATUS == 0x3B67
    assert vfio.VFIO_GROUP_SET_CONTAINER == 0x3B68
    assert vfio.VFIO_GROUP_GET_DEVICE_FD == 0x3B6A
    assert vfio.VFIO_DEVICE_GET_INFO == 0x3B6B
    assert vfio.VFIO_DEVICE_GET_REGION_INFO == 0x3B6C
    assert vfio.VFIO_DEVICE_GET_IRQ_INFO == 0x3B6D
    assert vfio.VFIO_DEVICE_SET_IRQS == 0x3B6E
    assert vfio.VFIO_IOMMU_MAP_DMA == 0x3B71
    assert vfio.VFIO_IOMMU_UNMAP_DMA == 0x3B72


def test_vfio_struct_layouts():
    buf = vfio.irq_set(vfio.VFIO_PCI_MSIX_IRQ_INDEX,
                       vfio.VFIO_IRQ_SET_DATA_EVENTFD | vfio.VFIO_IRQ_SET_ACTION_TRIGGER, 0, 3, [7, 8, 9])
    assert len(buf) == 20 + 12
    assert struct.unpack("<IIIII3i", buf) == (32, 0x24, 2, 0, 3, 7, 8, 9)
    assert struct.unpack("<IIIII", vfio.irq_set(0, 0x11, 0, 1)) == (20, 0x11, 0, 0, 1)
    m = vfio.dma_map(0x7F00_0020_0000, 0x320_0000, HUGE_PAGE_SIZE)
    assert struct.unpack("<IIQQQ", m) == (32, 3, 0x7F00_0020_0000, 0x320_0000, HUGE_PAGE_SIZE)
    assert struct.unpack("<IIQQ", vfio.dma_unmap(0x320_0000, 4096)) == (24, 0, 0x320_0000, 4096)
    # what the kernel fills in comes back out
    raw = bytearray(vfio.region_info(7))
    assert struct.unpack("<IIIIQQ", raw)[:3] == (32, 0, 7)
    raw[4:8] = struct.pack("<I", 3)
    raw[16:32] = struct.pack("<QQ", 0x100, 0x700_0000_0000)
    assert vfio.parse_region_info(raw) == vfio.RegionInfo(7, 3, 0x100, 0x700_0000_0000)
    assert vfio.parse_irq_info(struct.pack("<IIII", 16, 7, 2, 3)) == vfio.IrqInfo(2, 7, 3)
    assert struct.unpack("<II", vfio.group_status()) == (8, 0)


def test_split_access_8_bytes_low_half_first():
    assert split_access(0x10, 8) == [(0x10, 4, 0), (0x14, 4, 32)]
    assert split_access(0x12, 2) == [(0x12, 2, 0)]


def test_normalize_bdf():
    assert normalize_bdf("00:04.0") == "0000:00:04.0"
    assert normalize_bdf("0000:AF:1F.7") == "0000:af:1f.7"
    for bad in ("4.0", "0000:00:04", "00:04.8", "/dev/x"):
        with pytest.raises(PlatformError):
            normalize_bdf(bad)


# -- DMA allocator -----------------------------------------------------------------------------------------
def fake_pages(physes: list[int]) -> list[tuple[int, memoryview]]:
    return [(phys, memoryview(bytearray(HUGE_PAGE_SIZE))) for phys in physes]


def test_pages_group_into_physically_contiguous_arenas():
    base = 0x4000_0000
    physes = [base + 3 * HUGE_PAGE_SIZE, base, base + HUGE_PAGE_SIZE, base + 10 * HUGE_PAGE_SIZE,
              base + 2 * HUGE_PAGE_SIZE]
    random.Random(1).shuffle(physes)
    arenas = group_contiguous(fake_pages(physes))
    assert [(a.bus_base, a.size) for a in arenas] == [(base, 4 * HUGE_PAGE_SIZE),
                                                      (base + 10 * HUGE_PAGE_SIZE, HUGE_PAGE_SIZE)]


def test_allocator_bus_addresses_alignment_and_spanning():
    base = 0x1_0000_0000
    alloc = DmaAllocator(group_contiguous(fake_pages([base + HUGE_PAGE_SIZE, base, base + 8 * HUGE_PAGE_SIZE])))

    async def go():
        ring = alloc.alloc(10246, 4096)
        # small blocks go to the smallest arena that fits (the lone page), big ones to the big arena
        assert ring.bus_addr == base + 8 * HUGE_PAGE_SIZE
        small = alloc.alloc(100, 16)
        assert small.bus_addr == ring.bus_addr + 10256  # next 16-byte boundary after 10246 bytes
        pool = alloc.alloc(1512 * 2048)                 # the driver's skb pool: needs two pages
        assert pool.bus_addr == base
        # a slice keeps bus_addr = parent + offset; data crossing the page boundary lands in both pages
        s = pool.slice(HUGE_PAGE_SIZE - 8, 2048)
        assert s.bus_addr == base + HUGE_PAGE_SIZE - 8
        await s.write(0, bytes(range(16)))
        assert await pool.read(HUGE_PAGE_SIZE - 8, 16) == bytes(range(16))
        assert await s.read_int(8, 4) == int.from_bytes(bytes(range(8, 12)), "little")
        seg0, seg1 = pool.arena.segments
        assert bytes(seg0[-8:]) == bytes(range(8)) and bytes(seg1[:8]) == bytes(range(8, 16))
        aligned = alloc.alloc(64, 1 << 20)
        assert aligned.bus_addr % (1 << 20) == 0
        with pytest.raises(PlatformError, match="outside"):
            await small.read(90, 20)
        with pytest.raises(PlatformError, match="no physically contiguous DMA memory"):
            alloc.alloc(3 * HUGE_PAGE_SIZE)

    asyncio.run(go())


def test_hugepage_reservation_explains_shortage(tmp_path):
    d = tmp_path / "kernel/mm/hugepages/hugepages-2048kB"
    d.mkdir(parents=True)
    (d / "free_hugepages").write_text("2\n")
    (d / "nr_hugepages").write_text("2\n")
    HugeTlbSysfs(str(tmp_path)).ensure_free(2)
    assert (d / "nr_hugepages").read_text() == "2\n"      # enough: untouched
    with pytest.raises(PlatformError, match="only 2 free"):
        HugeTlbSysfs(str(tmp_path)).ensure_free(8)         # the fake kernel reserves nothing
    assert (d / "nr_hugepages").read_text() == "8\n"       # but it asked for them
    with pytest.raises(PlatformError, match="no 2 MiB hugepages"):
        HugeTlbSysfs(str(tmp_path / "none")).ensure_free(1)


# -- sysfs binding -----------------------------------------------------------------------------------------
class FakeKernelSysfs(PciSysfs):
    """A fake /sys tree whose writes do what the kernel would: unbind, driver_override, drivers_probe."""

    def __init__(self, bdf: str, root: Path, refuse: set[str] = frozenset()):
        self.root = root
        self.refuse = refuse
        self.writes: list[tuple[str, str]] = []
        super().__init__(bdf, str(root))

    def write(self, path: Path, text: str) -> None:
        rel = str(path.relative_to(self.root))
        self.writes.append((rel, text))
        dev = self.dev
        if rel.endswith("driver/unbind"):
            (dev / "driver").unlink()
        elif rel.endswith("driver_override"):
            (dev / "driver_override").write_text(text)
        elif rel == "bus/pci/drivers_probe":
            override = (dev / "driver_override").read_text().strip()
            target = override or "virtio-pci"     # no override: the id table's driver
            if target not in self.refuse and not (dev / "driver").exists():
                (dev / "driver").symlink_to(self.root / "bus/pci/drivers" / target)


def fake_tree(tmp_path: Path, driver: str | None = "virtio-pci", bdf: str = BDF,
              ident: tuple[int, int, int, int, int] = (0x1AF4, 0x1000, 0x020000, 0x1AF4, 0x0001)) -> Path:
    """A function under <tmp>/bus/pci/devices: identity files (vendor, device, class, subsystem), driver link,
    resources; default a transitional virtio-net function bound to virtio-pci."""
    dev = tmp_path / "bus/pci/devices" / bdf
    dev.mkdir(parents=True)
    for d in ("virtio-pci", "uio_pci_generic", "vfio-pci", "e1000e"):
        (tmp_path / "bus/pci/drivers" / d).mkdir(parents=True, exist_ok=True)
    vendor, device, cls, svid, sid = ident
    for name, value in (("vendor", f"{vendor:#06x}"), ("device", f"{device:#06x}"), ("class", f"{cls:#08x}"),
                        ("revision", "0x00"), ("subsystem_vendor", f"{svid:#06x}"),
                        ("subsystem_device", f"{sid:#06x}")):
        (dev / name).write_text(value + "\n")
    (dev / "driver_override").write_text("(null)\n")
    if driver:
        (dev / "driver").symlink_to(tmp_path / "bus/pci/drivers" / driver)
    (dev / "resource").write_text("0x000000000000c060 0x000000000000c07f 0x0000000000040101\n"
                                  "0x00000000febd1000 0x00000000febd1fff 0x0000000000040200\n"
                                  + "0x0000000000000000 0x0000000000000000 0x0000000000000000\n" * 4)
    return tmp_path


def test_bind_takes_the_function_and_restore_gives_it_back(tmp_path):
    root = fake_tree(tmp_path)
    s = FakeKernelSysfs(BDF, root)
    s.bind_driver("uio_pci_generic")
    assert s.driver() == "uio_pci_generic" and s.original_driver == "virtio-pci"
    assert s.writes == [(f"bus/pci/devices/{BDF}/driver/unbind", BDF),
                        (f"bus/pci/devices/{BDF}/driver_override", "uio_pci_generic"),
                        ("bus/pci/drivers_probe", BDF)]
    s.restore_driver()
    assert s.driver() == "virtio-pci"
    assert (s.dev / "driver_override").read_text() == "\n"
    res = s.resources()
    assert res[0].is_io and res[0].size == 0x20 and res[1].is_mem and res[1].size == 0x1000 and not res[2].size


def test_bind_refuses_a_foreign_driver_and_reports_a_failed_probe(tmp_path):
    root = fake_tree(tmp_path, driver="e1000e")
    with pytest.raises(PlatformError, match="--force-unbind"):
        FakeKernelSysfs(BDF, root).bind_driver("vfio-pci")
    s = FakeKernelSysfs(BDF, root, refuse={"vfio-pci"})
    with pytest.raises(PlatformError, match="left it bound to None"):
        s.bind_driver("vfio-pci", allow_unbind=None)
    s.restore_driver()
    assert s.driver() == "virtio-pci" or s.driver() == "e1000e"  # drivers_probe re-ran after the failure


def test_unbound_function_stays_unbound_after_restore(tmp_path):
    root = fake_tree(tmp_path, driver=None)
    s = FakeKernelSysfs(BDF, root)
    s.bind_driver("vfio-pci")
    s.restore_driver()
    assert s.driver() is None
    with pytest.raises(PlatformError, match="no PCI function"):
        PciSysfs("0000:00:09.0", str(root))


def test_uio_intx_unmask_is_the_command_interrupt_disable_bit(tmp_path):
    from tb.platform.uio import UioPlatform

    root = fake_tree(tmp_path)
    cfg = tmp_path / "config"
    cfg.write_bytes(bytes([0xF4, 0x1A, 0x00, 0x10, 0x07, 0x05]) + bytes(58))  # COMMAND 0x0507
    p = UioPlatform(BDF, sysfs=str(root))
    p.config_fd = os.open(cfg, os.O_RDWR)
    try:
        p._irqcontrol(True)
        assert cfg.read_bytes()[4:6] == bytes([0x07, 0x01])
        p._irqcontrol(False)
        assert cfg.read_bytes()[4:6] == bytes([0x07, 0x05])
        with pytest.raises(PlatformError, match="INTx only"):
            asyncio.run(p.enable_msix(3))
    finally:
        os.close(p.config_fd)


# -- the host side of the HIL rig --------------------------------------------------------------------------
def test_udp_peer_writes_a_pcap_and_frames_compare(tmp_path):
    import socket
    import time

    from hil.udp_peer import UdpPeer, read_pcap
    from hil.orchestrator import compare_frames

    peer = UdpPeer(tmp_path / "f.pcap").start()
    frames = [bytes([i]) * (60 + i) for i in range(5)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for f in frames:
            s.sendto(f, ("127.0.0.1", peer.port))
    deadline = time.monotonic() + 5
    while len(peer.frames) < len(frames) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert peer.stop() == frames
    assert read_pcap(tmp_path / "f.pcap") == frames
    assert compare_frames(frames, frames).status == PASS
    bad = compare_frames(frames, frames[:2] + [frames[2][:-1] + b"\xff"] + frames[3:])
    assert bad.status == FAIL and "frame 2" in bad.detail and "byte 61" in bad.detail
    assert "received 4" in compare_frames(frames, frames[:4]).detail


def test_udp_peer_echoes_only_the_loopback_ethertype(tmp_path):
    """The echo sends a frame of the given EtherType back to its sender unchanged; other frames only land in
    the capture (the A/B frames must not come back as RX traffic)."""
    import socket

    from hil.udp_peer import UdpPeer

    loop, other = 0x88B6, 0x88B5
    peer = UdpPeer(tmp_path / "e.pcap", echo_ethertype=loop).start()
    frames = [bytes(12) + t.to_bytes(2, "big") + bytes([k]) * 50 for k, t in enumerate((loop, other, loop))]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        for f in frames:
            s.sendto(f, ("127.0.0.1", peer.port))
        back = [s.recv(65536), s.recv(65536)]
        s.settimeout(0.3)
        with pytest.raises(TimeoutError):
            s.recv(65536)
    assert back == [frames[0], frames[2]]
    peer.stop()
    assert peer.echoed == 2 and peer.frames == frames


def test_hil_says_why_it_cannot_run_when_not_root(monkeypatch):
    from hil import orchestrator as hil

    monkeypatch.setattr(hil.os, "geteuid", lambda: 1000)
    with pytest.raises(hil.HilUnavailable, match="not root"):
        hil.prepare()
    monkeypatch.setattr(hil, "missing_packages", lambda: ["qemu-system-x86"])
    with pytest.raises(hil.HilUnavailable, match="apt-get update && apt-get install .*qemu-system-x86"):
        hil.ensure_tools()


def test_linux_platform_refuses_without_root(tmp_path, monkeypatch):
    from tb.platform import linux
    from tb.platform.uio import UioPlatform

    monkeypatch.setattr(linux.os, "geteuid", lambda: 1000)
    with pytest.raises(PlatformError, match="needs root.*nothing was changed"):
        UioPlatform(BDF, sysfs=str(fake_tree(tmp_path))).open()
