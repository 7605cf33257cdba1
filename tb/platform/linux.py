"""A real PCI function on a Linux host: the pieces both backends share.

``open_platform(bdf, backend)`` returns a ``tb.platform.vfio.VfioPlatform`` or ``tb.platform.uio.UioPlatform``;
both are a ``LinuxPciPlatform``:

- before anything changes, ``tb.platform.takeover`` decides from sysfs whether the function may be taken
  (a virtio-net function, from no driver or virtio-pci / vfio-pci / uio_pci_generic, not in use by the host);
- sysfs (``PciSysfs``): BAR resources, the bound driver; ``bind_driver`` takes the function over with
  ``driver_override`` + ``drivers_probe`` and ``restore_driver`` gives it back to the driver it had;
- DMA memory (``HugePagePool``): locked 2 MiB hugepages whose physical addresses come from
  /proc/self/pagemap, grouped into physically contiguous arenas; buffers are carved out of them with a bump
  allocator, the bus address of a buffer is the physical address (plus, for vfio, an identity IOMMU map);
- time is the wall clock (``time.monotonic_ns``), events are ``asyncio.Event``;
- interrupts arrive on file descriptors (``tb.platform.irq``) and are taken as a CPU takes them: every
  platform operation (config and BAR access, DMA memory access, sleep) ends with an interrupt window that
  runs the handlers of whatever is pending, and the event loop watches the descriptors while the driver
  is idle. Counts are read from the descriptors and from /proc/interrupts.

Standard library only (this runs with the system Python inside a bare guest), no cocotb.
"""

from __future__ import annotations

import asyncio
import ctypes
import mmap
import os
import re
import struct
import subprocess
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tb.platform.base import DmaBuffer, Event, IrqCount, IrqHandler, Platform, PlatformError, PlatformTimeout
from tb.platform.irq import IrqDispatcher
from tb.platform.takeover import TAKEOVER_DRIVERS, TakeoverRefused, assess, check_takeover

PAGE_SIZE = 4096
HUGE_PAGE_SIZE = 2 << 20
# mmap flags Python's mmap module does not export (include/uapi/asm-generic/mman*.h, x86)
MAP_LOCKED = 0x2000
MAP_POPULATE = 0x8000
MAP_HUGETLB = 0x40000

# pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst)
PM_PFN_MASK = (1 << 55) - 1
PM_SOFT_DIRTY = 1 << 55
PM_SWAPPED = 1 << 62
PM_PRESENT = 1 << 63

# /sys/bus/pci/devices/*/resource flags (include/linux/ioport.h)
IORESOURCE_IO = 0x100
IORESOURCE_MEM = 0x200

PCI_COMMAND = 0x04
PCI_COMMAND_IO = 0x1
PCI_COMMAND_MEMORY = 0x2
PCI_COMMAND_MASTER = 0x4

# drivers the platform may take a function away from (tb.platform.takeover decides the rest)
SAFE_TO_UNBIND = TAKEOVER_DRIVERS

_BDF_RE = re.compile(r"^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")


def normalize_bdf(bdf: str) -> str:
    """'00:04.0' -> '0000:00:04.0' (domain 0 when none is given); rejects anything else."""
    if not _BDF_RE.match(bdf):
        raise PlatformError(f"{bdf!r} is not a PCI address (domain:bus:device.function, e.g. 0000:00:04.0)")
    return (bdf if bdf.count(":") == 2 else "0000:" + bdf).lower()


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise TakeoverRefused(
            f"{what} needs root (sysfs driver binding, /proc/self/pagemap physical addresses, "
            "locked hugepages, device files): run as root, e.g. with sudo; nothing was changed"
        )


# -- pagemap -----------------------------------------------------------------------------------------------
def parse_pagemap_entry(entry: int) -> tuple[bool, int]:
    """(present, pfn) of one 64-bit /proc/PID/pagemap entry; the PFN reads as 0 without CAP_SYS_ADMIN."""
    present = bool(entry & PM_PRESENT)
    swapped = bool(entry & PM_SWAPPED)
    return present and not swapped, entry & PM_PFN_MASK if present and not swapped else 0


def virt_to_phys(vaddr: int, pagemap: str = "/proc/self/pagemap") -> int:
    """Physical address of a virtual address of this process (the page must be resident and locked)."""
    with open(pagemap, "rb") as f:
        raw = os.pread(f.fileno(), 8, (vaddr // PAGE_SIZE) * 8)
    if len(raw) != 8:
        raise PlatformError(f"pagemap: short read at {vaddr:#x}")
    present, pfn = parse_pagemap_entry(struct.unpack("<Q", raw)[0])
    if not present:
        raise PlatformError(f"pagemap: page at {vaddr:#x} is not present (not populated or swapped)")
    if pfn == 0:
        raise PlatformError(
            "pagemap shows PFN 0: physical addresses are hidden from processes without CAP_SYS_ADMIN: run as root"
        )
    return pfn * PAGE_SIZE + vaddr % PAGE_SIZE


# -- DMA memory --------------------------------------------------------------------------------------------
class DmaArena:
    """A physically contiguous run of equal-sized segments (hugepages) that need not be virtually contiguous."""

    def __init__(self, bus_base: int, segments: list[memoryview], seg_size: int = HUGE_PAGE_SIZE):
        if any(len(s) != seg_size for s in segments):
            raise ValueError("every segment of an arena must be seg_size bytes")
        self.bus_base = bus_base
        self.segments = segments
        self.seg_size = seg_size
        self.size = seg_size * len(segments)
        self.used = 0

    def _pieces(self, offset: int, length: int):
        if offset < 0 or length < 0 or offset + length > self.size:
            raise PlatformError(f"DMA access {offset:#x}+{length} outside a {self.size}-byte arena")
        while length > 0:
            seg, off = divmod(offset, self.seg_size)
            n = min(length, self.seg_size - off)
            yield self.segments[seg], off, n
            offset += n
            length -= n

    def read(self, offset: int, length: int) -> bytes:
        if length and offset // self.seg_size == (offset + length - 1) // self.seg_size:
            seg, off = divmod(offset, self.seg_size)
            if offset + length <= self.size:
                return bytes(self.segments[seg][off : off + length])
        return b"".join(bytes(m[o : o + n]) for m, o, n in self._pieces(offset, length))

    def write(self, offset: int, data: bytes) -> None:
        pos = 0
        for m, o, n in self._pieces(offset, len(data)):
            m[o : o + n] = data[pos : pos + n]
            pos += n

    def alloc(self, size: int, align: int) -> int | None:
        """Offset of a new block aligned on the bus (physical) address, or None when it does not fit."""
        if align <= 0 or align & (align - 1):
            raise PlatformError(f"alignment {align} is not a power of two")
        bus = (self.bus_base + self.used + align - 1) & ~(align - 1)
        start = bus - self.bus_base
        if start + size > self.size:
            return None
        self.used = start + size
        return start


Window = Callable[[], Awaitable[None]]


class LinuxDmaBuffer(DmaBuffer):
    """``window``: the platform's interrupt window, taken after each access (a CPU load or store)."""

    def __init__(self, arena: DmaArena, offset: int, size: int, window: Window | None = None):
        self.arena = arena
        self.offset = offset
        self.size = size
        self.bus_addr = arena.bus_base + offset
        self.window = window

    def _check(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise PlatformError(f"DMA buffer access {offset:#x}+{length} outside its {self.size} bytes")

    async def read(self, offset: int, length: int) -> bytes:
        self._check(offset, length)
        data = self.arena.read(self.offset + offset, length)
        if self.window is not None:
            await self.window()
        return data

    async def write(self, offset: int, data: bytes) -> None:
        self._check(offset, len(data))
        self.arena.write(self.offset + offset, data)
        if self.window is not None:
            await self.window()


def group_contiguous(pages: Iterable[tuple[int, memoryview]], seg_size: int = HUGE_PAGE_SIZE) -> list[DmaArena]:
    """Arenas of physically consecutive pages, given (physical address, memory) per page; largest first."""
    runs: list[list[tuple[int, memoryview]]] = []
    for phys, mem in sorted(pages, key=lambda p: p[0]):
        if runs and runs[-1][-1][0] + seg_size == phys:
            runs[-1].append((phys, mem))
        else:
            runs.append([(phys, mem)])
    arenas = [DmaArena(run[0][0], [m for _, m in run], seg_size) for run in runs]
    return sorted(arenas, key=lambda a: (-a.size, a.bus_base))


class DmaAllocator:
    """Bump allocation over the arenas: the smallest arena that fits, so big blocks find big arenas."""

    def __init__(self, arenas: list[DmaArena], window: Window | None = None):
        self.arenas = arenas
        self.window = window

    def alloc(self, size: int, align: int = PAGE_SIZE) -> LinuxDmaBuffer:
        if size <= 0:
            raise PlatformError(f"DMA allocation of {size} bytes")
        for arena in sorted(self.arenas, key=lambda a: (a.size - a.used, a.bus_base)):
            off = arena.alloc(size, align)
            if off is not None:
                return LinuxDmaBuffer(arena, off, size, self.window)
        free = ", ".join(f"{a.bus_base:#x}:{a.size - a.used}" for a in self.arenas)
        raise PlatformError(
            f"no physically contiguous DMA memory for {size} bytes (aligned {align}); "
            f"free per arena: {free or 'none'}; reserve more hugepages (--hugepages)"
        )


class HugeTlbSysfs:
    """The 2 MiB hugepage pool: /sys/kernel/mm/hugepages/hugepages-2048kB."""

    def __init__(self, sysfs: str = "/sys"):
        self.dir = Path(sysfs) / "kernel/mm/hugepages/hugepages-2048kB"

    def _read(self, name: str) -> int:
        return int((self.dir / name).read_text().strip())

    def free(self) -> int:
        return self._read("free_hugepages")

    def ensure_free(self, pages: int) -> None:
        """Reserve hugepages until ``pages`` are free (writes nr_hugepages), or say why not."""
        if not self.dir.is_dir():
            raise PlatformError(f"{self.dir} missing: this kernel has no 2 MiB hugepages (CONFIG_HUGETLBFS)")
        free = self.free()
        if free >= pages:
            return
        total = self._read("nr_hugepages")
        want = total + pages - free
        try:
            (self.dir / "nr_hugepages").write_text(f"{want}\n")
        except OSError as exc:
            raise PlatformError(
                f"cannot reserve hugepages ({self.dir}/nr_hugepages <- {want}): {exc}; "
                f"as root: echo {want} > /proc/sys/vm/nr_hugepages"
            ) from exc
        got = self.free()
        if got < pages:
            raise PlatformError(
                f"asked the kernel for {want} hugepages of 2 MiB, only {got} free (need {pages}): "
                "memory too fragmented or too small; reserve them at boot (hugepages=N)"
            )


class HugePagePool:
    """Locked anonymous 2 MiB hugepages with their physical addresses."""

    def __init__(self, pages: int, sysfs: str = "/sys", pagemap: str = "/proc/self/pagemap"):
        HugeTlbSysfs(sysfs).ensure_free(pages)
        self.maps: list[mmap.mmap] = []
        self.pages: list[tuple[int, int, memoryview]] = []  # (phys, vaddr, memory)
        flags = mmap.MAP_SHARED | MAP_HUGETLB | MAP_POPULATE | MAP_LOCKED  # fd -1 adds MAP_ANONYMOUS
        try:
            for _ in range(pages):
                m = mmap.mmap(-1, HUGE_PAGE_SIZE, flags=flags, prot=mmap.PROT_READ | mmap.PROT_WRITE)
                self.maps.append(m)
                holder = ctypes.c_char.from_buffer(m)
                vaddr = ctypes.addressof(holder)
                del holder
                phys = virt_to_phys(vaddr, pagemap)
                if phys % HUGE_PAGE_SIZE:
                    raise PlatformError(f"page at {vaddr:#x} maps to {phys:#x}: not a 2 MiB hugepage")
                self.pages.append((phys, vaddr, memoryview(m)))
        except OSError as exc:
            self.close()
            raise PlatformError(
                f"mmap of locked 2 MiB hugepages failed: {exc} (free hugepages, RLIMIT_MEMLOCK)"
            ) from exc
        except BaseException:
            self.close()
            raise
        self.arenas = group_contiguous((phys, mem) for phys, _, mem in self.pages)

    def close(self) -> None:
        for _, _, mv in getattr(self, "pages", []):
            mv.release()
        self.pages = []
        for m in self.maps:
            try:
                m.close()
            except BufferError:
                pass
        self.maps = []


# -- sysfs: identity and driver binding ----------------------------------------------------------------------
@dataclass
class Resource:
    index: int
    start: int
    end: int
    flags: int

    @property
    def size(self) -> int:
        return self.end - self.start + 1 if self.end else 0

    @property
    def is_io(self) -> bool:
        return bool(self.flags & IORESOURCE_IO)

    @property
    def is_mem(self) -> bool:
        return bool(self.flags & IORESOURCE_MEM)


class PciSysfs:
    """One function under /sys/bus/pci/devices; ``sysfs`` is a root to test against a fake tree."""

    def __init__(self, bdf: str, sysfs: str = "/sys"):
        self.bdf = normalize_bdf(bdf)
        self.sysfs = Path(sysfs)
        self.dev = self.sysfs / "bus/pci/devices" / self.bdf
        self.original_driver: str | None = None
        self._taken = False
        if not self.dev.exists():
            raise TakeoverRefused(f"no PCI function {self.bdf} ({self.dev} missing): see lspci -D; nothing was changed")

    # overridable for tests (a fake tree has no kernel behind it)
    def write(self, path: Path, text: str) -> None:
        try:
            with open(path, "w") as f:
                f.write(text)
        except OSError as exc:
            raise PlatformError(f"writing {text.strip()!r} to {path} failed: {exc}") from exc

    def read_hex(self, name: str) -> int:
        return int((self.dev / name).read_text().strip(), 16)

    def driver(self) -> str | None:
        link = self.dev / "driver"
        return os.path.basename(os.readlink(link)) if link.is_symlink() else None

    def resources(self) -> list[Resource]:
        out = []
        for i, line in enumerate((self.dev / "resource").read_text().splitlines()[:6]):
            start, end, flags = (int(x, 16) for x in line.split())
            out.append(Resource(i, start, end, flags))
        return out

    def iommu_group(self) -> int | None:
        link = self.dev / "iommu_group"
        return int(os.path.basename(os.readlink(link))) if link.is_symlink() else None

    def group_members(self, group: int) -> list[str]:
        return sorted(p.name for p in (self.sysfs / f"kernel/iommu_groups/{group}/devices").iterdir())

    def driver_of(self, bdf: str) -> str | None:
        link = self.sysfs / "bus/pci/devices" / bdf / "driver"
        return os.path.basename(os.readlink(link)) if link.is_symlink() else None

    def bind_driver(self, driver: str, allow_unbind: Iterable[str] | None = SAFE_TO_UNBIND) -> None:
        """Bind the function to ``driver`` (driver_override + drivers_probe); remember the original driver.

        ``allow_unbind``: drivers it may be taken from (None = any). Another driver is refused with an
        explanation, so a host's own NIC is not pulled away by a typo in the address.
        """
        current = self.driver()
        if not self._taken:
            self.original_driver = current
        if current == driver:
            self._taken = True
            return
        if current is not None:
            if allow_unbind is not None and current not in allow_unbind:
                raise PlatformError(
                    f"{self.bdf} is bound to {current!r}, which this tool does not take over by "
                    f"default (it may be in use): unbind it yourself or pass --force-unbind"
                )
            self.write(self.dev / "driver/unbind", self.bdf)
        self.write(self.dev / "driver_override", driver)
        self._taken = True
        self.write(self.sysfs / "bus/pci/drivers_probe", self.bdf)
        now = self.driver()
        if now != driver:
            raise PlatformError(
                f"{self.bdf}: drivers_probe left it bound to {now!r}, not {driver!r} "
                f"(is the {driver} module loaded? dmesg says why it refused)"
            )

    def restore_driver(self) -> None:
        """Give the function back to the driver it had before ``bind_driver`` (or leave it unbound)."""
        if not self._taken:
            return
        self._taken = False
        if self.driver() == self.original_driver:
            self.write(self.dev / "driver_override", "\n")
            return
        if self.driver() is not None:
            self.write(self.dev / "driver/unbind", self.bdf)
        self.write(self.dev / "driver_override", "\n")
        if self.original_driver is not None:
            self.write(self.sysfs / "bus/pci/drivers_probe", self.bdf)


def modprobe(module: str, *params: str) -> None:
    """Load a kernel module (no-op when it is built in or loaded); explain a failure."""
    if Path("/sys/module", module.replace("-", "_")).exists():
        return
    try:
        proc = subprocess.run(["modprobe", module, *params], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PlatformError(f"modprobe {module}: {exc}") from exc
    if proc.returncode:
        raise PlatformError(f"modprobe {module} failed: {proc.stderr.strip() or proc.returncode}")


# -- register access helpers ---------------------------------------------------------------------------------
_CTYPES = {1: ctypes.c_uint8, 2: ctypes.c_uint16, 4: ctypes.c_uint32, 8: ctypes.c_uint64}


def mmio_read(base: int, offset: int, size: int) -> int:
    """One load of ``size`` bytes from a mapped memory BAR (a single PCIe read)."""
    return _CTYPES[size].from_address(base + offset).value


def mmio_write(base: int, offset: int, value: int, size: int) -> None:
    _CTYPES[size].from_address(base + offset).value = value


def pread_exact(fd: int, offset: int, size: int, what: str) -> int:
    """One access of exactly ``size`` bytes (the kernel turns it into inb/inw/inl or a config cycle)."""
    try:
        raw = os.pread(fd, size, offset)
    except OSError as exc:
        raise PlatformError(f"{what}: read of {size} bytes at {offset:#x} failed: {exc}") from exc
    if len(raw) != size:
        raise PlatformError(f"{what}: read of {size} bytes at {offset:#x} returned {len(raw)}")
    return int.from_bytes(raw, "little")


def pwrite_exact(fd: int, offset: int, value: int, size: int, what: str) -> None:
    try:
        n = os.pwrite(fd, value.to_bytes(size, "little"), offset)
    except OSError as exc:
        raise PlatformError(f"{what}: write of {size} bytes at {offset:#x} failed: {exc}") from exc
    if n != size:
        raise PlatformError(f"{what}: write of {size} bytes at {offset:#x} wrote {n}")


def split_access(offset: int, size: int) -> list[tuple[int, int, int]]:
    """An 8-byte access as two 4-byte ones: (offset, size, shift) low half first (as Linux's lo_hi_readq)."""
    if size == 8:
        return [(offset, 4, 0), (offset + 4, 4, 32)]
    return [(offset, size, 0)]


# -- the platform ------------------------------------------------------------------------------------------
class LinuxPciPlatform(Platform):
    """What vfio and uio have in common: the takeover decision, sysfs, DMA memory, wall-clock time, and
    interrupts taken between the driver's steps. Backends implement the raw accesses (``_config_rw``,
    ``_bar_rw``) and the interrupt plumbing; every access here ends with an interrupt window."""

    name = "linux"
    driver_name = ""

    def __init__(
        self,
        bdf: str,
        sysfs: str = "/sys",
        proc: str = "/proc",
        hugepages: int = 24,
        any_device: bool = False,
        force_unbind: bool = False,
    ):
        self.sysfs_root = sysfs
        self.proc_root = proc
        self.hugepages = hugepages
        self.any_device = any_device
        self.force_unbind = force_unbind
        self.pci = PciSysfs(bdf, sysfs)
        self.bdf = self.pci.bdf
        self.pool: HugePagePool | None = None
        self.dma: DmaAllocator | None = None
        self._msix_handlers: dict[int, list[IrqHandler]] = {}
        self._intx_handlers: list[IrqHandler] = []
        self._tasks: set[asyncio.Task] = set()
        self.irq = IrqDispatcher(self._handlers_of, str(Path(proc) / "interrupts"))
        self.log: list[str] = []

    # -- lifetime ----------------------------------------------------------------------------------------
    def check_takeover(self) -> None:
        """Refuse (TakeoverRefused, one line) before anything is changed: identity, driver, use by the host."""
        check_takeover(assess(self.pci.dev, self.bdf, Path(self.proc_root)), self.any_device, self.force_unbind)

    def open(self) -> LinuxPciPlatform:
        self.check_takeover()
        require_root(f"{self.name} access to {self.bdf}")
        try:
            self._open_backend()
            self.pool = HugePagePool(self.hugepages, self.sysfs_root)
            self.dma = DmaAllocator(self.pool.arenas, self.irq.window)
            self._map_dma()
        except BaseException:
            self.close()
            raise
        return self

    def _open_backend(self) -> None:
        raise NotImplementedError

    def _map_dma(self) -> None:
        """Make the hugepages reachable by the device (vfio: IOMMU map); nothing to do without an IOMMU."""

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        try:
            self._close_backend()
        finally:
            self.irq.close()
            if self.pool is not None:
                self.pool.close()
                self.pool = None
            self.pci.restore_driver()

    def _close_backend(self) -> None:
        pass

    def __enter__(self) -> LinuxPciPlatform:
        return self.open()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def describe(self) -> str:
        return f"{self.name} {self.bdf}"

    # -- accesses: the backend's raw access, then an interrupt window ----------------------------------------
    def _config_rw(self, offset: int, size: int, value: int | None) -> int:
        raise NotImplementedError

    def _bar_rw(self, bar: int, offset: int, size: int, value: int | None) -> int:
        raise NotImplementedError

    async def config_read(self, offset: int, size: int) -> int:
        self.check_access(offset, size)
        value = self._config_rw(offset, size, None)
        await self.irq.window()
        return value

    async def config_write(self, offset: int, value: int, size: int) -> None:
        self.check_access(offset, size)
        self._config_rw(offset, size, value)
        await self.irq.window()

    def _check_bar(self, bar: int, offset: int, size: int) -> None:
        n = self.bar_size(bar)
        if not n:
            raise PlatformError(f"{self.bdf}: BAR{bar} not implemented")
        if offset + size > n:
            raise PlatformError(f"{self.bdf}: BAR{bar}+{offset:#x} ({size} bytes) beyond its {n} bytes")

    async def bar_read(self, bar: int, offset: int, size: int) -> int:
        self.check_access(offset, size)
        self._check_bar(bar, offset, size)
        value = self._bar_rw(bar, offset, size, None)
        await self.irq.window()
        return value

    async def bar_write(self, bar: int, offset: int, value: int, size: int) -> None:
        self.check_access(offset, size)
        self._check_bar(bar, offset, size)
        self._bar_rw(bar, offset, size, value)
        await self.irq.window()

    # -- helpers -------------------------------------------------------------------------------------------
    async def pci_set_master(self) -> None:
        """pci_set_master (+ the decode enables pci_enable_device would have set for the BARs present)."""
        cmd = await self.config_read(PCI_COMMAND, 2)
        new = cmd | PCI_COMMAND_MASTER
        for res in self.pci.resources():
            if res.size and res.is_io:
                new |= PCI_COMMAND_IO
            elif res.size and res.is_mem:
                new |= PCI_COMMAND_MEMORY
        if new != cmd:
            await self.config_write(PCI_COMMAND, new, 2)
        if not await self.config_read(PCI_COMMAND, 2) & PCI_COMMAND_MASTER:
            raise PlatformError(f"{self.bdf}: Bus Master did not stick in PCI_COMMAND")

    def bar_is_io(self, bar: int) -> bool:
        res = self.pci.resources()
        return 0 <= bar < len(res) and res[bar].is_io

    # -- DMA ----------------------------------------------------------------------------------------------
    def dma_alloc(self, size: int, align: int = 4096) -> DmaBuffer:
        if self.dma is None:
            raise PlatformError("platform not open")
        return self.dma.alloc(size, align)

    # -- interrupts (handlers; the backends attach the descriptors) ---------------------------------------
    def _handlers_of(self, source: str) -> list[IrqHandler]:
        if source == "intx":
            return self._intx_handlers
        return self._msix_handlers.get(int(source[len("msix") :]), [])

    def request_irq(self, vector: int, handler: IrqHandler) -> None:
        self._msix_handlers.setdefault(vector, []).append(handler)

    def request_intx(self, handler: IrqHandler) -> None:
        self._intx_enable()
        self._intx_handlers.append(handler)

    def free_irqs(self) -> None:
        self._msix_handlers.clear()
        if self._intx_handlers:
            self._intx_handlers.clear()
            self._intx_disable()

    def _intx_enable(self) -> None:
        raise NotImplementedError

    def _intx_disable(self) -> None:
        raise NotImplementedError

    def irq_counts(self) -> dict[str, IrqCount]:
        return self.irq.counts()

    @property
    def handler_errors(self) -> list[str]:
        return self.irq.errors

    def set_trace(self, trace: Callable[..., None] | None) -> None:
        """Interrupt events (raised, handled) go to ``trace(kind, **fields)`` (a driver EventLog's event)."""
        self.irq.trace = trace

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def start_task(self, coro: Coroutine[Any, Any, Any]) -> Callable[[], bool]:
        return self._spawn(coro).cancel

    # -- time ---------------------------------------------------------------------------------------------
    def now_ns(self) -> float:
        return float(time.monotonic_ns())

    async def sleep_ns(self, ns: float) -> None:
        if ns > 0:
            await asyncio.sleep(ns / 1e9)
        await self.irq.window()

    def make_event(self) -> asyncio.Event:
        return asyncio.Event()

    async def wait_event(self, event: Event, timeout_ns: float) -> None:
        assert isinstance(event, asyncio.Event), "an event of make_event()"
        try:
            await asyncio.wait_for(event.wait(), timeout_ns / 1e9)
        except TimeoutError as exc:
            raise PlatformTimeout(f"no event within {timeout_ns / 1e6:.3f} ms") from exc
        await self.irq.window()


BACKENDS = ("vfio", "uio")


def open_platform(bdf: str, backend: str, **kwargs: Any) -> LinuxPciPlatform:
    """The platform for ``bdf`` over ``backend`` ('vfio' or 'uio'), opened (driver bound, DMA mapped).

    Raises ``tb.platform.takeover.TakeoverRefused`` before changing anything when the function may not be
    taken (kwargs ``any_device``, ``force_unbind``)."""
    if backend == "vfio":
        from tb.platform.vfio import VfioPlatform

        return VfioPlatform(bdf, **kwargs).open()
    if backend == "uio":
        from tb.platform.uio import UioPlatform

        return UioPlatform(bdf, **kwargs).open()
    raise PlatformError(f"unknown backend {backend!r}: one of {BACKENDS}")
