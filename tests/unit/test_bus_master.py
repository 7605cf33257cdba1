"""Bus Master at probe: virtio_pci_probe's pci_set_master (Linux 2.6.34 on), on the model device.

A function handed over by vfio-pci has Bus Master clear (the guest kernel's virtio_pci cleared it when it let
go); QEMU's modern interface then takes kicks and pops nothing, and no endpoint issues DMA or MSI-X with the
bit clear. The variants of kernels that set it (every modern one) must set it before the reset, on either
transport; 2.6.32's probe, the older variants', leaves PCI_COMMAND alone (QEMU's legacy device sets the bit
itself for them). docs/hil-kernel-compare.md has the guest run that found it.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tb.driver.trace import EventLog
from tb.driver.virtio_net import MODERN_VARIANTS, VARIANTS, virtio_net
from tb.driver.virtio_pci import PCI_COMMAND, PCI_COMMAND_MASTER
from tb.platform.model import ModelPlatform, ModelTiming, run_virtual

PCI_COMMAND_MEMORY = 0x2

CASES = [(v, "legacy") for v in VARIANTS] + [(v, "modern") for v in MODERN_VARIANTS]


class ConfigLog:
    """What a PCIe monitor sees of configuration cycles (the model platform reports them as host_config)."""

    def __init__(self) -> None:
        self.accesses: list[tuple[bool, int, int, int]] = []

    def host_config(self, write: bool, offset: int, size: int, value: int) -> None:
        self.accesses.append((write, offset, size, value))

    def host_bar(self, write: bool, bar: int, offset: int, size: int, value: int) -> None:
        pass

    def host_mem(self, *args: object) -> None:
        pass

    def command_writes(self) -> list[int]:
        return [v for w, off, _, v in self.accesses if w and off == PCI_COMMAND]


def probe(variant: str, transport: str, command: int) -> tuple[ModelPlatform, EventLog, ConfigLog]:
    async def main() -> tuple[ModelPlatform, EventLog, ConfigLog]:
        p = ModelPlatform(timing=ModelTiming(latency_ns=50), event_idx=True)
        p.config[PCI_COMMAND] = command
        log = ConfigLog()
        p.observers.append(log)
        p.start()
        trace = EventLog(p)
        net = virtio_net(p, variant, tracer=trace, transport=transport)
        await net.probe(p.start_task)
        await net.remove()
        p.device.stop()
        return p, trace, log

    return run_virtual(main())


@pytest.mark.parametrize("variant,transport", CASES)
def test_bus_master_set_at_probe_by_the_kernels_that_set_it(variant: str, transport: str) -> None:
    p, trace, log = probe(variant, transport, PCI_COMMAND_MEMORY)
    sets = VARIANTS[variant].PCI_SET_MASTER or transport == "modern"
    assert bool(p.config[PCI_COMMAND] & PCI_COMMAND_MASTER) == sets
    if not sets:
        assert log.command_writes() == [] and not trace.of_kind("pci_set_master")
        return
    # read-modify-write: the decode bit kept, Bus Master added; once, before the reset (the first status write)
    assert log.command_writes() == [PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER]
    # the transport's first register write is the reset (status 0)
    kinds = [e.kind for e in trace.events]
    first_write = trace.events[kinds.index("bar_write")]
    assert first_write.fields["value"] == 0 and kinds.index("pci_set_master") < kinds.index("bar_write")


@pytest.mark.parametrize("transport", ["legacy", "modern"])
def test_bus_master_already_set_is_not_written_again(transport: str) -> None:
    cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER
    p, trace, log = probe("debian-6.1", transport, cmd)
    assert log.command_writes() == [] and p.config[PCI_COMMAND] == cmd
    (ev,) = trace.of_kind("pci_set_master")
    assert ev.fields == {"before": cmd, "after": cmd}


def test_every_modern_kernel_sets_bus_master() -> None:
    # the virtio 1.x transport came with 4.0, long after 2.6.34's pci_set_master
    assert all(VARIANTS[v].PCI_SET_MASTER for v in MODERN_VARIANTS)


def test_vfio_maps_dma_memory_at_iova_equal_to_physical(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The model gives a device its buffers' bus addresses whether or not VIRTIO_F_ACCESS_PLATFORM is
    negotiated, as Linux 6.1 gives physical addresses when it is not (vring_use_dma_api false): right only
    because vfio maps every hugepage at IOVA = physical address, so a device that bypasses the IOMMU (QEMU's
    virtio-net-pci without iommu_platform) and one that goes through it reach the same memory."""
    from tb.platform import vfio
    from tb.platform.linux import HUGE_PAGE_SIZE

    maps: list[tuple[int, int, int]] = []

    def ioctl(fd: int, request: int, arg: bytearray, what: str) -> int:
        assert request == vfio.VFIO_IOMMU_MAP_DMA
        _, _, vaddr, iova, size = struct.unpack("<IIQQQ", arg)
        maps.append((vaddr, iova, size))
        return 0

    pages = [(0x1_2340_0000, 0x7F00_0000_0000, None), (0x8_0000_0000, 0x7F00_0020_0000, None)]

    class Pool:
        def __init__(self) -> None:
            self.pages = pages

    monkeypatch.setattr(vfio, "_ioctl", ioctl)
    (tmp_path / "bus/pci/devices/0000:00:11.0").mkdir(parents=True)  # a fake sysfs function
    p = vfio.VfioPlatform("0000:00:11.0", sysfs=str(tmp_path))
    p.pool = Pool()  # type: ignore[assignment]
    p._map_dma()
    assert maps == [(vaddr, phys, HUGE_PAGE_SIZE) for phys, vaddr, _ in pages]
