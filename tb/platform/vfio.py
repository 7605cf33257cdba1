"""A PCI function through vfio-pci: container, group and device file descriptors (include/uapi/linux/vfio.h).

- config space and BARs are regions of the device fd: pread/pwrite at ``region.offset + offset`` with the
  exact access size (an I/O BAR takes 1, 2 or 4 bytes; 8 becomes two 4-byte accesses); a memory BAR that
  vfio lets us mmap is accessed with single loads and stores instead;
- DMA: the hugepages are mapped into the IOMMU with VFIO_IOMMU_MAP_DMA at iova = physical address. A
  device that honours the IOMMU sees the same addresses as one that bypasses it (QEMU's legacy virtio does:
  without iommu_platform its DMA goes to guest-physical memory), so the bus address of a buffer is its
  physical address either way;
- MSI-X vectors and INTx are eventfds given to VFIO_DEVICE_SET_IRQS (tb.platform.irq counts and handles
  them between the driver's steps). The vector count is the function's: VFIO_DEVICE_GET_IRQ_INFO reports
  its MSI-X table size (0 without the capability), and ``enable_msix`` grants that many or fewer, never
  more. vfio masks INTx when it fires (AUTOMASKED); we unmask after the handlers ran, like a level
  interrupt, so a line still asserted fires again.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import struct
from dataclasses import dataclass

from tb.platform.base import PlatformError
from tb.platform.irq import EVENTFD, IrqSource, KernelLineKey
from tb.platform.linux import (
    HUGE_PAGE_SIZE,
    LinuxPciPlatform,
    mmio_read,
    mmio_write,
    modprobe,
    pread_exact,
    pwrite_exact,
    split_access,
)
from tb.platform.takeover import TakeoverRefused

# ioctl numbers: _IO(VFIO_TYPE, VFIO_BASE + n) = (';' << 8) | (100 + n)
VFIO_TYPE = ord(";")
VFIO_BASE = 100


def _IO(type_: int, nr: int) -> int:  # noqa: N802 (the kernel's name)
    return (type_ << 8) | nr


VFIO_GET_API_VERSION = _IO(VFIO_TYPE, VFIO_BASE + 0)
VFIO_CHECK_EXTENSION = _IO(VFIO_TYPE, VFIO_BASE + 1)
VFIO_SET_IOMMU = _IO(VFIO_TYPE, VFIO_BASE + 2)
VFIO_GROUP_GET_STATUS = _IO(VFIO_TYPE, VFIO_BASE + 3)
VFIO_GROUP_SET_CONTAINER = _IO(VFIO_TYPE, VFIO_BASE + 4)
VFIO_GROUP_UNSET_CONTAINER = _IO(VFIO_TYPE, VFIO_BASE + 5)
VFIO_GROUP_GET_DEVICE_FD = _IO(VFIO_TYPE, VFIO_BASE + 6)
VFIO_DEVICE_GET_INFO = _IO(VFIO_TYPE, VFIO_BASE + 7)
VFIO_DEVICE_GET_REGION_INFO = _IO(VFIO_TYPE, VFIO_BASE + 8)
VFIO_DEVICE_GET_IRQ_INFO = _IO(VFIO_TYPE, VFIO_BASE + 9)
VFIO_DEVICE_SET_IRQS = _IO(VFIO_TYPE, VFIO_BASE + 10)
VFIO_DEVICE_RESET = _IO(VFIO_TYPE, VFIO_BASE + 11)
VFIO_IOMMU_MAP_DMA = _IO(VFIO_TYPE, VFIO_BASE + 13)
VFIO_IOMMU_UNMAP_DMA = _IO(VFIO_TYPE, VFIO_BASE + 14)

VFIO_API_VERSION = 0
VFIO_TYPE1_IOMMU = 1
VFIO_GROUP_FLAGS_VIABLE = 1 << 0
VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1
VFIO_REGION_INFO_FLAG_READ = 1 << 0
VFIO_REGION_INFO_FLAG_WRITE = 1 << 1
VFIO_REGION_INFO_FLAG_MMAP = 1 << 2
VFIO_IRQ_INFO_EVENTFD = 1 << 0
VFIO_IRQ_INFO_MASKABLE = 1 << 1
VFIO_IRQ_INFO_AUTOMASKED = 1 << 2
VFIO_IRQ_INFO_NORESIZE = 1 << 3
VFIO_IRQ_SET_DATA_NONE = 1 << 0
VFIO_IRQ_SET_DATA_BOOL = 1 << 1
VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2
VFIO_IRQ_SET_ACTION_MASK = 1 << 3
VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4
VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5
VFIO_DMA_MAP_FLAG_READ = 1 << 0
VFIO_DMA_MAP_FLAG_WRITE = 1 << 1

VFIO_PCI_BAR0_REGION_INDEX = 0
VFIO_PCI_CONFIG_REGION_INDEX = 7
VFIO_PCI_INTX_IRQ_INDEX = 0
VFIO_PCI_MSI_IRQ_INDEX = 1
VFIO_PCI_MSIX_IRQ_INDEX = 2

VFIO_DRIVER = "vfio-pci"


# -- struct packing (little-endian x86-64 layouts) -------------------------------------------------------------
def group_status() -> bytearray:
    """struct vfio_group_status { __u32 argsz; __u32 flags; }"""
    return bytearray(struct.pack("<II", 8, 0))


def device_info() -> bytearray:
    """struct vfio_device_info { __u32 argsz, flags, num_regions, num_irqs; } (the 16-byte v1 layout)"""
    return bytearray(struct.pack("<IIII", 16, 0, 0, 0))


@dataclass
class RegionInfo:
    index: int
    flags: int
    size: int
    offset: int


def region_info(index: int) -> bytearray:
    """struct vfio_region_info { __u32 argsz, flags, index, cap_offset; __u64 size, offset; }"""
    return bytearray(struct.pack("<IIIIQQ", 32, 0, index, 0, 0, 0))


def parse_region_info(buf: bytes) -> RegionInfo:
    _, flags, index, _, size, offset = struct.unpack("<IIIIQQ", bytes(buf[:32]))
    return RegionInfo(index, flags, size, offset)


@dataclass
class IrqInfo:
    index: int
    flags: int
    count: int


def irq_info(index: int) -> bytearray:
    """struct vfio_irq_info { __u32 argsz, flags, index, count; }"""
    return bytearray(struct.pack("<IIII", 16, 0, index, 0))


def parse_irq_info(buf: bytes) -> IrqInfo:
    _, flags, index, count = struct.unpack("<IIII", bytes(buf[:16]))
    return IrqInfo(index, flags, count)


def irq_set(index: int, flags: int, start: int, count: int, fds: list[int] | None = None) -> bytearray:
    """struct vfio_irq_set { __u32 argsz, flags, index, start, count; __u8 data[]; } (data = s32 eventfds)"""
    data = struct.pack(f"<{len(fds)}i", *fds) if fds else b""
    return bytearray(struct.pack("<IIIII", 20 + len(data), flags, index, start, count) + data)


def dma_map(
    vaddr: int, iova: int, size: int, flags: int = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE
) -> bytearray:
    """struct vfio_iommu_type1_dma_map { __u32 argsz, flags; __u64 vaddr, iova, size; }"""
    return bytearray(struct.pack("<IIQQQ", 32, flags, vaddr, iova, size))


def dma_unmap(iova: int, size: int) -> bytearray:
    """struct vfio_iommu_type1_dma_unmap { __u32 argsz, flags; __u64 iova, size; }"""
    return bytearray(struct.pack("<IIQQ", 24, 0, iova, size))


def _ioctl(fd: int, request: int, arg: int | bytearray, what: str) -> int:
    try:
        if isinstance(arg, bytearray):
            return fcntl.ioctl(fd, request, arg, True)
        return fcntl.ioctl(fd, request, arg)
    except OSError as exc:
        raise PlatformError(f"{what} failed: {exc}") from exc


# drivers vfio accepts next to vfio-pci in a viable IOMMU group (drivers/vfio/vfio_main.c)
GROUP_FRIENDLY_DRIVERS = (None, VFIO_DRIVER, "pcieport", "pci-stub")


def msix_vector_name(vector: int, bdf: str) -> str:
    """The /proc/interrupts name vfio-pci gives an MSI-X vector (vfio_msi_set_vector_signal)."""
    return f"vfio-msix[{vector}]({bdf})"


def intx_name(bdf: str) -> str:
    return f"vfio-intx({bdf})"


class VfioPlatform(LinuxPciPlatform):
    name = "vfio"
    driver_name = VFIO_DRIVER

    def __init__(self, bdf: str, **kwargs):
        super().__init__(bdf, **kwargs)
        self.container = self.group_fd = self.device_fd = -1
        self.group = -1
        self.regions: dict[int, RegionInfo] = {}
        self.irqs: dict[int, IrqInfo] = {}
        self.num_regions = self.num_irqs = 0
        self._bar_maps: dict[int, tuple[mmap.mmap, int]] = {}
        self._io_bar: dict[int, bool] = {}
        self._mapped: list[tuple[int, int]] = []
        self._msix_fds: list[int] = []
        self._intx_fd = -1

    # -- open / close -----------------------------------------------------------------------------------
    def check_takeover(self) -> None:
        super().check_takeover()
        group = self.pci.iommu_group()
        if group is None:
            raise TakeoverRefused(
                f"refusing {self.bdf} for vfio: it has no IOMMU group, so the kernel runs without an IOMMU "
                "(boot with intel_iommu=on or amd_iommu=on; in QEMU add -M q35 -device intel-iommu); this "
                "kernel's vfio needs one (no CONFIG_VFIO_NOIOMMU in Debian's): use --backend uio; nothing was "
                "changed"
            )
        others = [(d, self.pci.driver_of(d)) for d in self.pci.group_members(group) if d != self.bdf]
        busy = [f"{d} ({drv})" for d, drv in others if drv not in GROUP_FRIENDLY_DRIVERS]
        if busy:
            raise TakeoverRefused(
                f"refusing {self.bdf} for vfio: IOMMU group {group} also holds "
                f"{', '.join(busy)}, and vfio needs every function of the group; nothing "
                "was changed (use --backend uio)"
            )
        self.group = group

    def _open_backend(self) -> None:
        group = self.group
        modprobe(VFIO_DRIVER)
        self.pci.bind_driver(VFIO_DRIVER)
        try:
            self.container = os.open("/dev/vfio/vfio", os.O_RDWR)
        except OSError as exc:
            raise PlatformError(f"open /dev/vfio/vfio: {exc} (vfio module loaded? devtmpfs on /dev?)") from exc
        version = _ioctl(self.container, VFIO_GET_API_VERSION, 0, "VFIO_GET_API_VERSION")
        if version != VFIO_API_VERSION:
            raise PlatformError(f"VFIO API version {version}, expected {VFIO_API_VERSION}")
        if not _ioctl(self.container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU, "VFIO_CHECK_EXTENSION"):
            raise PlatformError("vfio has no TYPE1 IOMMU backend (modprobe vfio_iommu_type1)")
        try:
            self.group_fd = os.open(f"/dev/vfio/{group}", os.O_RDWR)
        except OSError as exc:
            why = " (another process holds the group)" if exc.errno == errno.EBUSY else ""
            raise PlatformError(f"open /dev/vfio/{group}: {exc}{why}") from exc
        status = group_status()
        _ioctl(self.group_fd, VFIO_GROUP_GET_STATUS, status, "VFIO_GROUP_GET_STATUS")
        flags = struct.unpack("<II", status)[1]
        if not flags & VFIO_GROUP_FLAGS_VIABLE:
            raise PlatformError(
                f"IOMMU group {group} is not viable: every device in it must be bound to vfio-pci or to no driver"
            )
        _ioctl(
            self.group_fd,
            VFIO_GROUP_SET_CONTAINER,
            bytearray(struct.pack("<i", self.container)),
            "VFIO_GROUP_SET_CONTAINER",
        )
        try:
            _ioctl(self.container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU, "VFIO_SET_IOMMU(TYPE1)")
        except PlatformError as exc:
            raise PlatformError(
                f"{exc}: without interrupt remapping type1 refuses the group (EPERM); "
                "enable it (QEMU: -device intel-iommu,intremap=on) or load vfio_iommu_type1 "
                "with allow_unsafe_interrupts=1"
            ) from exc
        name = bytearray(self.bdf.encode() + b"\0")
        self.device_fd = _ioctl(self.group_fd, VFIO_GROUP_GET_DEVICE_FD, name, "VFIO_GROUP_GET_DEVICE_FD")
        info = device_info()
        _ioctl(self.device_fd, VFIO_DEVICE_GET_INFO, info, "VFIO_DEVICE_GET_INFO")
        _, _, self.num_regions, self.num_irqs = struct.unpack("<IIII", info)
        for index in range(min(self.num_regions, VFIO_PCI_CONFIG_REGION_INDEX + 1)):
            buf = region_info(index)
            _ioctl(self.device_fd, VFIO_DEVICE_GET_REGION_INFO, buf, f"VFIO_DEVICE_GET_REGION_INFO({index})")
            self.regions[index] = parse_region_info(bytes(buf))
        # INTx, MSI, MSI-X (ERR and REQ answer EINVAL on functions without AER / without support)
        for index in range(min(self.num_irqs, VFIO_PCI_MSIX_IRQ_INDEX + 1)):
            buf = irq_info(index)
            _ioctl(self.device_fd, VFIO_DEVICE_GET_IRQ_INFO, buf, f"VFIO_DEVICE_GET_IRQ_INFO({index})")
            self.irqs[index] = parse_irq_info(bytes(buf))
        if VFIO_PCI_CONFIG_REGION_INDEX not in self.regions:
            raise PlatformError(f"{self.bdf}: vfio reports no config region")
        resources = self.pci.resources()
        for bar in range(6):
            reg = self.regions.get(bar)
            if reg is None or not reg.size:
                continue
            self._io_bar[bar] = bar < len(resources) and resources[bar].is_io
            if not self._io_bar[bar] and reg.flags & VFIO_REGION_INFO_FLAG_MMAP:
                try:
                    m = mmap.mmap(
                        self.device_fd, reg.size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=reg.offset
                    )
                except OSError:
                    continue  # fall back to pread/pwrite on the region
                holder = ctypes.c_char.from_buffer(m)
                self._bar_maps[bar] = (m, ctypes.addressof(holder))
                del holder

    def _map_dma(self) -> None:
        assert self.pool is not None
        for phys, vaddr, _ in self.pool.pages:
            _ioctl(
                self.container,
                VFIO_IOMMU_MAP_DMA,
                dma_map(vaddr, phys, HUGE_PAGE_SIZE),
                f"VFIO_IOMMU_MAP_DMA(iova {phys:#x})",
            )
            self._mapped.append((phys, HUGE_PAGE_SIZE))

    def _close_backend(self) -> None:
        try:
            if self._msix_fds:
                self._disable_index(VFIO_PCI_MSIX_IRQ_INDEX)
            if self._intx_fd >= 0:
                self._disable_index(VFIO_PCI_INTX_IRQ_INDEX)
        finally:
            for iova, size in self._mapped:
                try:
                    _ioctl(self.container, VFIO_IOMMU_UNMAP_DMA, dma_unmap(iova, size), "VFIO_IOMMU_UNMAP_DMA")
                except PlatformError:
                    pass
            self._mapped.clear()
            for m, _ in self._bar_maps.values():
                m.close()
            self._bar_maps.clear()
            for fd in (self.device_fd, self.group_fd, self.container):
                if fd >= 0:
                    os.close(fd)
            self.device_fd = self.group_fd = self.container = -1

    def describe(self) -> str:
        return f"vfio {self.bdf} (group {self.group}, {self.num_regions} regions, {self.num_irqs} irqs)"

    @property
    def msix_table_size(self) -> int:
        """MSI-X vectors the function offers, as vfio reports them (0: no MSI-X capability)."""
        info = self.irqs.get(VFIO_PCI_MSIX_IRQ_INDEX)
        return info.count if info else 0

    # -- config space and BARs -------------------------------------------------------------------------
    def _region_rw(self, index: int, offset: int, size: int, value: int | None, what: str) -> int:
        base = self.regions[index].offset
        result = 0
        for off, n, shift in split_access(offset, size):
            if value is None:
                result |= pread_exact(self.device_fd, base + off, n, what) << shift
            else:
                pwrite_exact(self.device_fd, base + off, (value >> shift) & ((1 << (8 * n)) - 1), n, what)
        return result

    def _config_rw(self, offset: int, size: int, value: int | None) -> int:
        return self._region_rw(VFIO_PCI_CONFIG_REGION_INDEX, offset, size, value, f"{self.bdf} config")

    def bar_size(self, bar: int) -> int:
        reg = self.regions.get(bar) if 0 <= bar < 6 else None
        return reg.size if reg else 0

    def _bar_rw(self, bar: int, offset: int, size: int, value: int | None) -> int:
        if bar in self._bar_maps:
            if value is None:
                return mmio_read(self._bar_maps[bar][1], offset, size)
            mmio_write(self._bar_maps[bar][1], offset, value, size)
            return 0
        return self._region_rw(bar, offset, size, value, f"{self.bdf} BAR{bar}")

    # -- interrupts ------------------------------------------------------------------------------------
    def _set_irqs(self, index: int, flags: int, start: int, count: int, fds: list[int] | None, what: str) -> None:
        _ioctl(self.device_fd, VFIO_DEVICE_SET_IRQS, irq_set(index, flags, start, count, fds), what)

    def _disable_index(self, index: int) -> None:
        """Count what is left and read the kernel's lines (they go with the vectors), then disable, close."""
        msix = index == VFIO_PCI_MSIX_IRQ_INDEX
        fds = self._msix_fds if msix else [self._intx_fd]
        for name in [f"msix{v}" for v in range(len(fds))] if msix else ["intx"]:
            self.irq.detach(name)
        try:
            self._set_irqs(
                index,
                VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
                0,
                0,
                None,
                f"VFIO_DEVICE_SET_IRQS(disable {'MSI-X' if msix else 'INTx'})",
            )
        finally:
            for fd in fds:
                if fd >= 0:
                    os.close(fd)
            if msix:
                self._msix_fds = []
            else:
                self._intx_fd = -1

    async def enable_msix(self, nvec: int) -> int:
        table = self.msix_table_size
        if table == 0:
            raise PlatformError(f"{self.bdf} has no MSI-X capability (vfio reports 0 MSI-X vectors)")
        if nvec > table:
            return table  # as pci_enable_msix: not enabled, this many are there
        if self._intx_fd >= 0:
            raise PlatformError("INTx is in use: free_irqs() before enabling MSI-X")
        if self._msix_fds:
            await self.disable_msix()
        fds = [os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK) for _ in range(nvec)]
        try:
            self._set_irqs(
                VFIO_PCI_MSIX_IRQ_INDEX,
                VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                0,
                nvec,
                fds,
                f"VFIO_DEVICE_SET_IRQS(MSI-X, {nvec} vectors)",
            )
        except PlatformError:
            for fd in fds:
                os.close(fd)
            raise
        self._msix_fds = fds
        for vector, fd in enumerate(fds):
            self.irq.attach(
                IrqSource(f"msix{vector}", fd, EVENTFD, KernelLineKey(name=msix_vector_name(vector, self.bdf)))
            )
        return nvec

    async def disable_msix(self) -> None:
        if self._msix_fds:
            self._disable_index(VFIO_PCI_MSIX_IRQ_INDEX)

    def _intx_enable(self) -> None:
        if self._intx_fd >= 0:
            return
        if self._msix_fds:
            raise PlatformError("MSI-X is enabled: INTx cannot be used at the same time")
        info = self.irqs.get(VFIO_PCI_INTX_IRQ_INDEX)
        if info is None or info.count == 0:
            raise PlatformError(f"{self.bdf} has no INTx (interrupt pin 0)")
        fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        try:
            self._set_irqs(
                VFIO_PCI_INTX_IRQ_INDEX,
                VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                0,
                1,
                [fd],
                "VFIO_DEVICE_SET_IRQS(INTx)",
            )
        except PlatformError:
            os.close(fd)
            raise
        self._intx_fd = fd
        self.irq.attach(
            IrqSource("intx", fd, EVENTFD, KernelLineKey(name=intx_name(self.bdf)), after=self._intx_unmask)
        )

    def _intx_disable(self) -> None:
        if self._intx_fd >= 0:
            self._disable_index(VFIO_PCI_INTX_IRQ_INDEX)

    def _intx_unmask(self) -> None:
        if self._intx_fd >= 0:
            self._set_irqs(
                VFIO_PCI_INTX_IRQ_INDEX,
                VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
                0,
                1,
                None,
                "VFIO_DEVICE_SET_IRQS(unmask INTx)",
            )
