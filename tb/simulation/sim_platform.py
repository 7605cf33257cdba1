"""The simulation platform: cocotbext-pcie's RootComplex in front of the DUT's UltraScale+ interface.

Simulation only (imports cocotb). The driver sees it only through ``tb.platform.base.Platform``.

INTx: the hard-block model does not carry legacy interrupts, so this platform plays that part of the hard
block itself: it watches the DUT's ``cfg_interrupt_int[0]``, answers each change with a one-cycle
``cfg_interrupt_sent`` pulse (as PG213 describes), and while the line is asserted runs the registered
INTx handlers again and again, as a level-triggered Linux interrupt does until the source is cleared.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import cocotb
from cocotb.triggers import Event as CocotbEvent
from cocotb.triggers import First, RisingEdge, Timer, ValueChange, with_timeout
from cocotb.utils import get_sim_time
from cocotbext.pcie.core import RootComplex  # type: ignore[import-untyped]  # ships no type information
from cocotbext.pcie.core.caps import PciCapId  # type: ignore[import-untyped]  # ships no type information

from tb.platform.base import DmaBuffer, IrqHandler, Platform, PlatformError, PlatformTimeout
from tb.simulation.usp import UspConfig, connect_usp

# a BAR access that sees no completion within this much simulated time fails instead of hanging
ACCESS_TIMEOUT_NS = 20_000
# Linux disables an interrupt line that fires this often with nobody handling it ("nobody cared")
INTX_SPURIOUS_LIMIT = 1000


class HostObserver(Protocol):
    """Sees every host access the driver makes, in program order (the checkers' view of the host)."""

    def host_mem(self, write: bool, addr: int, data: bytes) -> None: ...

    def host_bar(self, write: bool, bar: int, offset: int, size: int, value: int) -> None: ...


class SimDmaBuffer(DmaBuffer):
    def __init__(self, region, size: int, observers: list[HostObserver] | None = None):
        self._region = region
        self.size = size
        self.bus_addr = region.get_absolute_address(0)
        self._observers = observers if observers is not None else []

    async def read(self, offset: int, length: int) -> bytes:
        self._check(offset, length)
        data = bytes(self._region.mem[offset : offset + length])
        for obs in self._observers:
            obs.host_mem(False, self.bus_addr + offset, data)
        return data

    async def write(self, offset: int, data: bytes) -> None:
        self._check(offset, len(data))
        self._region.mem[offset : offset + len(data)] = data
        for obs in self._observers:
            obs.host_mem(True, self.bus_addr + offset, bytes(data))

    def _check(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise PlatformError(f"DMA buffer access {offset:#x}+{length} outside its {self.size} bytes")


@dataclass
class IntxRecord:
    """INTx messages the device sent: (time in ns, level)."""

    edges: list[tuple[float, int]] = field(default_factory=list)
    handled: int = 0


class SimPlatform(Platform):
    name = "sim"

    def __init__(self, dut, cfg: UspConfig | None = None, log_level: int = logging.WARNING):
        self.dut = dut
        self.cfg = cfg or UspConfig.for_dut(dut)  # the build's BAR0 kind unless the test says otherwise
        self.log_level = log_level
        self.log = logging.getLogger("tb.simulation.sim_platform")
        self.rc = RootComplex()  # replaced by power_on(); settings made before it are carried over
        self.dev: Any = None  # the hard-block model (cocotbext-pcie, untyped), after power_on()
        self.pdev: Any = None  # the function as the root complex sees it, after enumerate()
        self._intx_handlers: list[IrqHandler] = []
        self._intx_level = 0
        self._intx_changed = CocotbEvent()
        self.intx = IntxRecord()
        self._clk_edge = RisingEdge(dut.user_clk)
        # host-side observers (tb/checkers): every driver memory and BAR access, in program order
        self.observers: list[HostObserver] = []
        self._dma_pool: Any = None  # dma_window(): buffers from there instead of the root complex's pool

    # -- bring-up --------------------------------------------------------------------------------------
    async def power_on(self) -> None:
        """Hold the DUT in reset for a few clocks, then attach the hard-block model.

        On a real board user_reset is asserted from power-up until the link is up, and FPGA flops start
        at their INIT values. The model instead drives user_reset low for its first clocks and samples the
        DUT's outputs at once, so on a 4-state simulator it would read the X of flops that have not seen
        a reset yet. This clocks the DUT through a reset first, so that every output is defined.
        """
        from cocotb.clock import Clock

        built = UspConfig.for_dut(self.dut).bar0_io
        if self.dut._get("BAR0_IO") is not None and built != self.cfg.bar0_io:
            raise PlatformError(
                f"the hard block's BAR0 is {'I/O' if self.cfg.bar0_io else 'memory'} but the RTL "
                f"was built with BAR0_IO={int(built)}: the completer would refuse every access"
            )
        self.dut.user_reset.value = 1
        clock = Clock(self.dut.user_clk, 4, unit="ns")
        clock.start()
        await clock.cycles(4)
        clock.stop()
        settings = (self.rc.max_payload_size, self.rc.max_read_request_size, self.rc.split_on_all_rcb)
        self.rc, self.dev = connect_usp(self.dut, self.cfg, self.log_level)
        self.rc.max_payload_size, self.rc.max_read_request_size, self.rc.split_on_all_rcb = settings
        # bus address 0 is never handed out (nor is it by a host's DMA API): a legacy virtqueue at PFN 0 is a
        # disabled queue, so a ring allocated there would silently never run
        self.rc.mem_pool.alloc_region(4096)
        if self.dut._get("cfg_interrupt_sent") is not None:
            self.dut.cfg_interrupt_sent.value = 0
            cocotb.start_soon(self._intx_hard_block())
            cocotb.start_soon(self._intx_dispatch())

    async def enumerate(self) -> None:
        """Power on if needed, wait for the hard block's reset to end, enumerate, enable memory decoding."""
        if self.dev is None:
            await self.power_on()
        await with_timeout(self._wait_reset_done(), 10_000, "ns")
        await self.rc.enumerate()
        self.pdev = self.rc.find_device(self.dev.functions[0].pcie_id)
        if self.pdev is None:
            raise PlatformError("enumeration found no device behind the root port")
        await self.pdev.enable_device()

    async def _wait_reset_done(self) -> None:
        """The model pulses user_reset once after it starts: wait for that pulse to end."""
        seen_high = False
        while True:
            await self._clk_edge
            level = int(self.dut.user_reset.value)
            seen_high = seen_high or level == 1
            if seen_high and level == 0:
                return

    # -- configuration space ---------------------------------------------------------------------------
    # every access is reported to the observers that take ``host_config`` (what a PCIe monitor sees of CfgRd /
    # CfgWr): the checkers learn the modern interface's capabilities from the reads
    async def config_read(self, offset: int, size: int) -> int:
        self.check_access(offset, size)
        data = await self.pdev.config_read(offset, size, timeout=ACCESS_TIMEOUT_NS)
        value = int.from_bytes(data, "little")
        self._report_config(False, offset, size, value)
        return value

    async def config_write(self, offset: int, value: int, size: int) -> None:
        self.check_access(offset, size)
        self._report_config(True, offset, size, value)
        await self.pdev.config_write(offset, value.to_bytes(size, "little"), timeout=ACCESS_TIMEOUT_NS)

    def _report_config(self, write: bool, offset: int, size: int, value: int) -> None:
        for obs in self.observers:
            fn = getattr(obs, "host_config", None)
            if fn is not None:
                fn(write, offset, size, value)

    # -- BARs ------------------------------------------------------------------------------------------
    def bar_size(self, bar: int) -> int:
        return self.cfg.bar_size(bar)

    def bar_is_io(self, bar: int) -> bool:
        """BAR in I/O space (accesses are IORd / IOWr TLPs of one dword at most)."""
        return self.cfg.bar_is_io(bar)

    async def bar_read(self, bar: int, offset: int, size: int) -> int:
        self.check_access(offset, size)
        try:
            data = await self.pdev.bar_window[bar].read(offset, size, timeout=ACCESS_TIMEOUT_NS)
        except Exception as exc:  # cocotbext raises bare Exception for UR/CA and timeouts
            raise PlatformError(f"BAR{bar}+{offset:#x} read of {size} bytes failed: {exc}") from exc
        value = int.from_bytes(data, "little")
        for obs in self.observers:
            obs.host_bar(False, bar, offset, size, value)
        return value

    async def bar_write(self, bar: int, offset: int, value: int, size: int) -> None:
        self.check_access(offset, size)
        for obs in self.observers:  # at issue: a posted write is ordered after what the driver did before
            obs.host_bar(True, bar, offset, size, value)
        try:
            await self.pdev.bar_window[bar].write(offset, value.to_bytes(size, "little"), timeout=ACCESS_TIMEOUT_NS)
        except Exception as exc:
            raise PlatformError(f"BAR{bar}+{offset:#x} write of {size} bytes failed: {exc}") from exc

    # -- DMA memory ------------------------------------------------------------------------------------
    def dma_alloc(self, size: int, align: int = 4096) -> DmaBuffer:
        pool = self._dma_pool if self._dma_pool is not None else self.rc.mem_pool
        region = pool.alloc_region(size + align)
        base = region.get_absolute_address(0)
        pad = (-base) % align
        return SimDmaBuffer(_Slice(region, pad), size, self.observers)

    def dma_window(self, base: int, size: int) -> None:
        """From now on, DMA buffers come from host memory at [base, base + size): above 4 GiB, as a host with
        much memory (or an IOMMU's address space) hands them out, so that every address the device is given
        and follows (rings, buffers) needs its upper 32 bits. The root complex's default pool is below
        2 GiB. Call after power_on (it replaces the root complex)."""
        if self.dev is None:
            raise PlatformError("dma_window before power_on: the root complex is replaced at power-on")
        self._dma_pool = self.rc.mem_address_space.create_pool(base, size)

    # -- MSI-X -----------------------------------------------------------------------------------------
    async def enable_msix(self, nvec: int) -> int:
        if self.pdev.msix_enabled:  # a previous driver instance did not clean up (e.g. it was killed)
            await self.pdev.disable_msix()
        granted = await self.pdev.alloc_irq_vectors(1, nvec)
        if granted < 1:
            raise PlatformError("MSI-X could not be enabled")
        return granted

    async def disable_msix(self) -> None:
        await self.pdev.disable_msix()

    async def msix_function_mask(self, masked: bool) -> None:
        ctrl = await self.pdev.capability_read_dword(PciCapId.MSIX, 0)
        ctrl = (ctrl | (1 << 30)) if masked else (ctrl & ~(1 << 30))
        await self.pdev.capability_write_dword(PciCapId.MSIX, 0, ctrl)

    def msix_vector_of(self, data: int) -> int | None:
        """The MSI-X vector whose message data the device sent (None: not one the host programmed)."""
        if self.pdev is None:
            return None
        for k, vec in enumerate(self.pdev.msi_vectors):
            if vec.data == data:
                return k
        return None

    def msix_enabled(self) -> bool:
        return self.pdev is not None and bool(self.pdev.msix_enabled)

    def request_irq(self, vector: int, handler: IrqHandler) -> None:
        self.pdev.request_irq(vector, handler)

    # -- INTx ------------------------------------------------------------------------------------------
    def request_intx(self, handler: IrqHandler) -> None:
        self._intx_handlers.append(handler)

    def free_irqs(self) -> None:
        self._intx_handlers.clear()
        if self.pdev is not None:
            for vec in self.pdev.msi_vectors:
                vec.cb.clear()

    @property
    def intx_level(self) -> int:
        return self._intx_level

    async def _intx_hard_block(self) -> None:
        """Answer every change of cfg_interrupt_int[0] with a cfg_interrupt_sent pulse."""
        sig = self.dut.cfg_interrupt_int
        while True:
            await ValueChange(sig)
            await self._clk_edge
            level = int(sig.value) & 1
            if level == self._intx_level:
                continue
            # the hard block sends Assert_INTA / Deassert_INTA, then acknowledges
            await self._clk_edge
            self.dut.cfg_interrupt_sent.value = 1
            await self._clk_edge
            self.dut.cfg_interrupt_sent.value = 0
            self._intx_level = level
            self.intx.edges.append((get_sim_time("ns"), level))
            self._intx_changed.set()

    async def _intx_dispatch(self) -> None:
        spurious = 0
        while True:
            if not self._intx_level:
                self._intx_changed.clear()
                await self._intx_changed.wait()
                continue
            for handler in list(self._intx_handlers):
                await handler()
                self.intx.handled += 1
            # level-triggered: if the line is still up after the handlers, the interrupt fires again
            self._intx_changed.clear()
            await First(self._intx_changed.wait(), Timer(1000, "ns"))
            if self._intx_level:
                spurious += 1
                if spurious >= INTX_SPURIOUS_LIMIT:
                    raise PlatformError(f"INTx stuck asserted: {spurious} handler runs did not clear it")
            else:
                spurious = 0

    # -- time ------------------------------------------------------------------------------------------
    def now_ns(self) -> float:
        return get_sim_time("ns")

    async def sleep_ns(self, ns: float) -> None:
        if ns > 0:
            await Timer(ns, "ns", round_mode="round")

    def make_event(self) -> CocotbEvent:
        return CocotbEvent()

    async def wait_event(self, event, timeout_ns: float) -> None:
        try:
            await with_timeout(event.wait(), timeout_ns, "ns", round_mode="round")
        except TimeoutError as exc:
            raise PlatformTimeout(f"no event within {timeout_ns} ns") from exc


class _Slice:
    """A window at an offset into a cocotbext memory region (for aligned DMA buffers)."""

    def __init__(self, region, offset: int):
        self._region = region
        self._offset = offset
        self.mem = memoryview(region.mem)[offset:]

    def get_absolute_address(self, addr: int) -> int:
        return self._region.get_absolute_address(self._offset + addr)
