"""The host interface the driver model runs on.

The driver (tb.driver) and the bring-up checks await only this interface. Implementations:
``tb.simulation.sim_platform.SimPlatform`` (cocotbext-pcie root complex in a cocotb simulation) and, for a board or a
VM, a Linux PCI platform. So nothing here may import cocotb.

Conventions: BAR and config accesses are little-endian integers of 1, 2, 4 or 8 bytes at any byte offset
(an access is one PCIe request, as Linux's ioread8/16/32 and readq issue). DMA memory is host memory the
device can reach at ``DmaBuffer.bus_addr``. Time is platform time in nanoseconds: simulated time in
simulation, wall-clock time on hardware.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

IrqHandler = Callable[[], Awaitable[object]]  # what a handler returns (IRQ_HANDLED...) is its own

ACCESS_SIZES = (1, 2, 4, 8)


class PlatformError(RuntimeError):
    """A platform operation failed (an access completed with an error, a timeout, missing support)."""


class PlatformTimeout(PlatformError):
    pass


class DmaBuffer(abc.ABC):
    """A block of host memory the device may DMA to and from."""

    bus_addr: int
    size: int

    @abc.abstractmethod
    async def read(self, offset: int, length: int) -> bytes: ...

    @abc.abstractmethod
    async def write(self, offset: int, data: bytes) -> None: ...

    async def read_int(self, offset: int, size: int) -> int:
        return int.from_bytes(await self.read(offset, size), "little")

    async def write_int(self, offset: int, value: int, size: int) -> None:
        await self.write(offset, value.to_bytes(size, "little"))

    def slice(self, offset: int, size: int) -> DmaBuffer:
        """A sub-buffer (the driver carves skb data and ring memory out of larger allocations)."""
        if offset < 0 or size < 0 or offset + size > self.size:
            raise PlatformError(f"slice {offset:#x}+{size} outside a {self.size}-byte buffer")
        return DmaSlice(self, offset, size)


class DmaSlice(DmaBuffer):
    def __init__(self, parent: DmaBuffer, offset: int, size: int):
        self.parent = parent
        self.offset = offset
        self.size = size
        self.bus_addr = parent.bus_addr + offset

    async def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or offset + length > self.size:
            raise PlatformError(f"read {offset:#x}+{length} outside a {self.size}-byte slice")
        return await self.parent.read(self.offset + offset, length)

    async def write(self, offset: int, data: bytes) -> None:
        if offset < 0 or offset + len(data) > self.size:
            raise PlatformError(f"write {offset:#x}+{len(data)} outside a {self.size}-byte slice")
        await self.parent.write(self.offset + offset, data)


@dataclass
class IrqCount:
    """One interrupt source (an MSI-X vector, INTx) as a platform counted it; every field is a count read.

    ``raised``: interrupts the host delivered for the source (vfio eventfd counter values, uio's event count);
    None when the platform cannot count them apart from running the handlers. ``handled``: handler runs
    (several raised interrupts that were pending together are handled once, as a CPU's interrupt controller
    merges them). ``kernel``: the host kernel's own count (/proc/interrupts), None when there is none.
    """

    raised: int | None = None
    handled: int = 0
    kernel: int | None = None
    line: str = ""  # where ``kernel`` was read (the /proc/interrupts row)
    shared: bool = False  # that row also counts other devices' interrupts (a shared INTx line)


class Event(Protocol):
    def set(self) -> None: ...
    def clear(self) -> None: ...
    def is_set(self) -> bool: ...


class Platform(abc.ABC):
    """One PCI function and the host around it."""

    name: str = "abstract"

    # -- configuration space -------------------------------------------------------------------------
    @abc.abstractmethod
    async def config_read(self, offset: int, size: int) -> int: ...

    @abc.abstractmethod
    async def config_write(self, offset: int, value: int, size: int) -> None: ...

    # -- BARs ----------------------------------------------------------------------------------------
    @abc.abstractmethod
    def bar_size(self, bar: int) -> int:
        """Size in bytes of a memory BAR, 0 when the BAR is not implemented."""

    @abc.abstractmethod
    async def bar_read(self, bar: int, offset: int, size: int) -> int: ...

    @abc.abstractmethod
    async def bar_write(self, bar: int, offset: int, value: int, size: int) -> None: ...

    # -- DMA memory ----------------------------------------------------------------------------------
    @abc.abstractmethod
    def dma_alloc(self, size: int, align: int = 4096) -> DmaBuffer: ...

    # -- interrupts ----------------------------------------------------------------------------------
    @abc.abstractmethod
    async def enable_msix(self, nvec: int) -> int:
        """Program the MSI-X table (vectors unmasked) and enable MSI-X with ``nvec`` vectors; return ``nvec``.

        As pci_enable_msix: when the function has fewer vectors, return how many it has (a driver then
        disables MSI-X again and tries with fewer); raise PlatformError when MSI-X is not available at all.
        """

    @abc.abstractmethod
    async def disable_msix(self) -> None: ...

    @abc.abstractmethod
    def request_irq(self, vector: int, handler: IrqHandler) -> None:
        """Run ``handler`` for each message on MSI-X ``vector``."""

    @abc.abstractmethod
    def request_intx(self, handler: IrqHandler) -> None:
        """Run ``handler`` while INTx is asserted (level-triggered, as Linux does)."""

    @abc.abstractmethod
    def free_irqs(self) -> None: ...

    def irq_counts(self) -> dict[str, IrqCount]:
        """Cumulative counts per source ('msix<N>', 'intx'); empty when the platform does not count them."""
        return {}

    # -- time ----------------------------------------------------------------------------------------
    @abc.abstractmethod
    def now_ns(self) -> float: ...

    @abc.abstractmethod
    async def sleep_ns(self, ns: float) -> None: ...

    @abc.abstractmethod
    def make_event(self) -> Event: ...

    @abc.abstractmethod
    async def wait_event(self, event: Event, timeout_ns: float) -> None:
        """Wait until ``event`` is set; raise PlatformTimeout after ``timeout_ns``."""

    # -- helpers built on the primitives ---------------------------------------------------------------
    async def bus_master(self, enable: bool = True) -> None:
        cmd = await self.config_read(0x04, 2)
        cmd = (cmd | 0x4) if enable else (cmd & ~0x4)
        await self.config_write(0x04, cmd, 2)

    @staticmethod
    def check_access(offset: int, size: int) -> None:
        if size not in ACCESS_SIZES:
            raise PlatformError(f"access size {size} not one of {ACCESS_SIZES}")
        if offset < 0:
            raise PlatformError(f"negative offset {offset}")
