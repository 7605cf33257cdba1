"""A PCI function through uio_pci_generic and sysfs (no IOMMU needed).

- config space: pread/pwrite on /sys/bus/pci/devices/BDF/config;
- BARs: exact-size pread/pwrite on resourceN for I/O BARs (the kernel issues inb/inw/inl, outb/...;
  an I/O BAR cannot be mmapped), mmap of resourceN for memory BARs;
- DMA: hugepages at their physical addresses (there is no IOMMU in the way on this path);
- INTx: /dev/uioN; a read returns the function's total interrupt count (tb.platform.irq takes the
  differences; the count at open comes from /sys/class/uio/uioN/event); uio_pci_generic masks INTx
  (PCI_COMMAND bit 10) in its handler, and we clear that bit again in config space after our handlers ran
  (the driver has no irqcontrol: a write to /dev/uioN is ENOSYS). The kernel's count is the row of the
  function's IRQ (sysfs ``irq``) in /proc/interrupts. Closing /dev/uioN clears Bus Master (the driver's
  release);
- MSI-X: not available. uio_pci_generic only knows INTx, so ``enable_msix`` raises PlatformError.
"""

from __future__ import annotations

import ctypes
import mmap
import os
from pathlib import Path

from tb.platform.base import PlatformError
from tb.platform.irq import UIO_COUNT, IrqSource, KernelLineKey
from tb.platform.linux import (
    PAGE_SIZE,
    LinuxPciPlatform,
    Resource,
    mmio_read,
    mmio_write,
    modprobe,
    pread_exact,
    pwrite_exact,
    split_access,
)

UIO_DRIVER = "uio_pci_generic"
PCI_COMMAND_INTX_DISABLE_HI = 0x4  # PCI_COMMAND_INTX_DISABLE (0x400) in the command register's high byte
MSIX_REASON = (
    "uio_pci_generic delivers INTx only (no MSI/MSI-X support in the uio interface): use --backend vfio for MSI-X"
)


class _Bar:
    def __init__(self, res: Resource, path: Path):
        self.res = res
        self.fd = os.open(path, os.O_RDWR | os.O_SYNC)
        self.map: mmap.mmap | None = None
        self.base = 0
        if res.is_mem:
            length = (res.size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
            try:
                self.map = mmap.mmap(self.fd, length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            except OSError as exc:
                os.close(self.fd)
                raise PlatformError(f"mmap of {path} failed: {exc}") from exc
            holder = ctypes.c_char.from_buffer(self.map)
            self.base = ctypes.addressof(holder)
            del holder

    def close(self) -> None:
        if self.map is not None:
            self.map.close()
        os.close(self.fd)


class UioPlatform(LinuxPciPlatform):
    name = "uio"
    driver_name = UIO_DRIVER

    def __init__(self, bdf: str, **kwargs):
        super().__init__(bdf, **kwargs)
        self.uio_fd = -1
        self.config_fd = -1
        self.uio_name = ""
        self.bars: dict[int, _Bar] = {}
        self._source: IrqSource | None = None

    def _open_backend(self) -> None:
        modprobe(UIO_DRIVER)
        self.pci.bind_driver(UIO_DRIVER)
        uio_dir = self.pci.dev / "uio"
        names = sorted(p.name for p in uio_dir.iterdir()) if uio_dir.is_dir() else []
        if not names:
            raise PlatformError(
                f"{self.bdf} is bound to {UIO_DRIVER} but has no uio device under {uio_dir} "
                "(the function may have no INTx pin, or INTx masking is unsupported: see dmesg)"
            )
        self.uio_name = names[0]
        base = _read_int(uio_dir / self.uio_name / "event")
        try:
            self.uio_fd = os.open(f"/dev/{self.uio_name}", os.O_RDWR | os.O_NONBLOCK)
        except OSError as exc:
            raise PlatformError(f"open /dev/{self.uio_name}: {exc} (is devtmpfs mounted on /dev?)") from exc
        irq = _read_int(self.pci.dev / "irq")
        self._source = IrqSource(
            "intx",
            self.uio_fd,
            UIO_COUNT,
            KernelLineKey(name=UIO_DRIVER, irq=irq),
            after=self._unmask,
            last_total=base or 0,
        )
        self.config_fd = os.open(self.pci.dev / "config", os.O_RDWR)
        for res in self.pci.resources():
            if res.size and (res.is_io or res.is_mem):
                self.bars[res.index] = _Bar(res, self.pci.dev / f"resource{res.index}")

    def _close_backend(self) -> None:
        if self._irq_on:
            self._intx_disable()
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()
        for fd in (self.uio_fd, self.config_fd):
            if fd >= 0:
                os.close(fd)
        self.uio_fd = self.config_fd = -1

    def describe(self) -> str:
        return f"uio {self.bdf} (/dev/{self.uio_name})"

    @property
    def _irq_on(self) -> bool:
        return "intx" in self.irq.attached

    # -- config space ------------------------------------------------------------------------------------
    def _config_rw(self, offset: int, size: int, value: int | None) -> int:
        result = 0
        for off, n, shift in split_access(offset, size):
            if value is None:
                result |= pread_exact(self.config_fd, off, n, f"{self.bdf} config") << shift
            else:
                pwrite_exact(self.config_fd, off, (value >> shift) & ((1 << (8 * n)) - 1), n, f"{self.bdf} config")
        return result

    # -- BARs ----------------------------------------------------------------------------------------------
    def bar_size(self, bar: int) -> int:
        b = self.bars.get(bar)
        return b.res.size if b else 0

    def _bar_rw(self, bar: int, offset: int, size: int, value: int | None) -> int:
        b = self.bars[bar]
        if b.map is not None:
            if value is None:
                return mmio_read(b.base, offset, size)
            mmio_write(b.base, offset, value, size)
            return 0
        result = 0
        for off, n, shift in split_access(offset, size):
            if value is None:
                result |= pread_exact(b.fd, off, n, f"{self.bdf} BAR{bar}") << shift
            else:
                pwrite_exact(b.fd, off, (value >> shift) & ((1 << (8 * n)) - 1), n, f"{self.bdf} BAR{bar}")
        return result

    # -- interrupts -------------------------------------------------------------------------------------
    async def enable_msix(self, nvec: int) -> int:
        raise PlatformError(MSIX_REASON)

    async def disable_msix(self) -> None:
        pass

    def _irqcontrol(self, on: bool) -> None:
        """Unmask (on) or mask INTx with PCI_COMMAND's Interrupt Disable bit (bit 10 = bit 2 of byte 5).

        uio_pci_generic has no irqcontrol (a write to /dev/uioN is ENOSYS); its handler masks the line with
        this bit and, as Documentation/driver-api/uio-howto.rst shows, user space clears it again.
        """
        hi = pread_exact(self.config_fd, 5, 1, f"{self.bdf} config")
        new = (hi & ~PCI_COMMAND_INTX_DISABLE_HI) if on else (hi | PCI_COMMAND_INTX_DISABLE_HI)
        if new != hi:
            pwrite_exact(self.config_fd, 5, new, 1, f"{self.bdf} config")

    def _intx_enable(self) -> None:
        if self._irq_on:
            return
        assert self._source is not None
        self.irq.attach(self._source)
        self._irqcontrol(True)

    def _intx_disable(self) -> None:
        if not self._irq_on:
            return
        self._irqcontrol(False)
        self.irq.detach("intx")  # the descriptor stays open: it is the uio device

    def _unmask(self) -> None:
        # INTx stays masked until the handlers ran (they read the ISR, which drops the line), like a
        # level-triggered Linux interrupt; then unmask: if the line is still up, it fires again
        if self._irq_on:
            self._irqcontrol(True)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None
