"""Legacy virtio-pci transport, as Linux 2.6.32's ``drivers/virtio/virtio_pci.c`` (plus virtio.c's probe).

The legacy register block is BAR0 (include/linux/virtio_pci.h offsets). Interrupts as ``vp_find_vqs``
tries them: MSI-X with one vector for configuration changes and one per virtqueue that has a callback;
then MSI-X with the config vector and one vector shared by every virtqueue (``vp_vring_interrupt``); then
INTx with the ISR read-to-clear in ``vp_interrupt``. A failed attempt frees what it set up, MSI-X included
(``vp_free_vectors``), before the next one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tb.driver.virtio_ring import (  # noqa: F401  (VIRTIO_RING_F_EVENT_IDX re-exported with the other bits)
    VIRTIO_PCI_VRING_ALIGN,
    VIRTIO_RING_F_EVENT_IDX,
    Allocator,
    NullTracer,
    Tracer,
    VirtQueue,
    vring_size,
)
from tb.platform.base import DmaBuffer, Platform, PlatformError

# include/linux/virtio_pci.h
VIRTIO_PCI_HOST_FEATURES = 0x00
VIRTIO_PCI_GUEST_FEATURES = 0x04
VIRTIO_PCI_QUEUE_PFN = 0x08
VIRTIO_PCI_QUEUE_NUM = 0x0C
VIRTIO_PCI_QUEUE_SEL = 0x0E
VIRTIO_PCI_QUEUE_NOTIFY = 0x10
VIRTIO_PCI_STATUS = 0x12
VIRTIO_PCI_ISR = 0x13
VIRTIO_MSI_CONFIG_VECTOR = 0x14
VIRTIO_MSI_QUEUE_VECTOR = 0x16
VIRTIO_PCI_CONFIG_OFF_NO_MSIX = 0x14
VIRTIO_PCI_CONFIG_OFF_MSIX = 0x18
VIRTIO_PCI_ISR_QUEUE = 0x1
VIRTIO_PCI_ISR_CONFIG = 0x2
VIRTIO_PCI_QUEUE_ADDR_SHIFT = 12
VIRTIO_MSI_NO_VECTOR = 0xFFFF
VP_MSIX_CONFIG_VECTOR = 0
VP_MSIX_VQ_VECTOR = 1

# include/linux/virtio_config.h
VIRTIO_CONFIG_S_ACKNOWLEDGE = 0x01
VIRTIO_CONFIG_S_DRIVER = 0x02
VIRTIO_CONFIG_S_DRIVER_OK = 0x04
VIRTIO_CONFIG_S_NEEDS_RESET = 0x40
VIRTIO_CONFIG_S_FAILED = 0x80
VIRTIO_F_NOTIFY_ON_EMPTY = 24
VIRTIO_RING_F_INDIRECT_DESC = 28
# vring_transport_features: the ring features the virtio core keeps when the device offers them (2.6.32: the
# indirect descriptors only; 3.0 added VIRTIO_RING_F_EVENT_IDX)
RING_FEATURES_2009 = (VIRTIO_RING_F_INDIRECT_DESC,)
RING_FEATURES_EVENT_IDX = (VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_RING_F_EVENT_IDX)

LEGACY_BAR = 0
# include/linux/pci_regs.h
PCI_DEVICE_ID = 0x02
PCI_COMMAND = 0x04
PCI_COMMAND_MASTER = 0x4


class VirtioError(PlatformError):
    pass


@dataclass
class VqInfo:
    vq: VirtQueue
    msix_vector: int = VIRTIO_MSI_NO_VECTOR


@dataclass
class InterruptStats:
    """What the interrupt path saw: handler invocations per source and ISR reads."""

    msix: dict[int, int] = field(default_factory=dict)
    intx: int = 0
    intx_none: int = 0
    isr_reads: int = 0
    config: int = 0


class VirtioPciLegacy:
    """``struct virtio_pci_device`` with the ``virtio_config_ops`` of the legacy interface.

    ``ring`` is the virtqueue implementation of the kernel the driver variant models (2.6.32's ``VirtQueue``
    or a later one, tb/driver/virtio_ring_later.py) and ``ring_features`` what that kernel's
    vring_transport_features keeps of the device's offer."""

    transport = "legacy"
    vring_align = VIRTIO_PCI_VRING_ALIGN  # the legacy Queue Address is a page frame: the used ring page-aligned

    def __init__(
        self,
        platform: Platform,
        use_msix: bool = True,
        tracer: Tracer | None = None,
        allocator: Allocator | None = None,
        ring: type[VirtQueue] = VirtQueue,
        ring_features: tuple[int, ...] = RING_FEATURES_2009,
        set_master: bool = False,
    ):
        self.p = platform
        # virtio_pci_probe enables bus mastering from Linux 2.6.34 on; 2.6.32's, this transport's, does not
        self.set_master = set_master
        self.ring = ring
        self.ring_features = ring_features
        self.use_msix = use_msix  # False: INTx only, as with pci=nomsi
        self.msix_enabled = False
        self.msix_vectors = 0
        self.msix_used_vectors = 0
        self.per_vq_vectors = False
        self.intx_enabled = False
        self.find_vqs_failures: list[str] = []  # why each vp_find_vqs attempt before the last one failed
        self.trace: Tracer = tracer or NullTracer()
        self.allocator = allocator
        self.vqs: list[VqInfo] = []
        self.features = 0  # negotiated (guest) features
        self.irq = InterruptStats()
        self.config_changed: Callable[[], Awaitable[None]] | None = None

    # -- register access ------------------------------------------------------------------------------
    async def ioread(self, off: int, size: int) -> int:
        value = await self.p.bar_read(LEGACY_BAR, off, size)
        self.trace.event("bar_read", bar=LEGACY_BAR, off=off, size=size, value=value)
        return value

    async def iowrite(self, off: int, value: int, size: int) -> None:
        self.trace.event("bar_write", bar=LEGACY_BAR, off=off, size=size, value=value)
        await self.p.bar_write(LEGACY_BAR, off, value, size)

    @property
    def config_off(self) -> int:
        return VIRTIO_PCI_CONFIG_OFF_MSIX if self.msix_enabled else VIRTIO_PCI_CONFIG_OFF_NO_MSIX

    # -- virtio_config_ops ------------------------------------------------------------------------------
    async def get_status(self) -> int:
        return await self.ioread(VIRTIO_PCI_STATUS, 1)

    async def set_status(self, status: int) -> None:
        # We should never be setting status to 0.
        assert status != 0
        await self.iowrite(VIRTIO_PCI_STATUS, status, 1)

    async def add_status(self, bits: int) -> None:
        await self.set_status(await self.get_status() | bits)

    async def reset(self) -> None:
        """vp_reset: 0 status means a reset; read it back so the write has reached the device."""
        await self.iowrite(VIRTIO_PCI_STATUS, 0, 1)
        await self.ioread(VIRTIO_PCI_STATUS, 1)

    async def get_features(self) -> int:
        return await self.ioread(VIRTIO_PCI_HOST_FEATURES, 4)

    async def finalize_features(self, features: int) -> None:
        """vp_finalize_features (after vring_transport_features kept only what the ring supports)."""
        self.features = features & 0xFFFFFFFF
        await self.iowrite(VIRTIO_PCI_GUEST_FEATURES, self.features, 4)

    def has_feature(self, bit: int) -> bool:
        return bool(self.features >> bit & 1)

    async def config_get(self, offset: int, length: int) -> bytes:
        """vp_get: device-specific configuration, byte by byte as the legacy driver reads it."""
        out = bytearray()
        for i in range(length):
            out.append(await self.ioread(self.config_off + offset + i, 1))
        return bytes(out)

    async def read_isr(self) -> int:
        """The ISR status byte (reading it clears it and deasserts INTx)."""
        return await self.ioread(VIRTIO_PCI_ISR, 1)

    async def vp_config_vector(self, vector: int) -> int:
        """Route configuration changes to ``vector``; the read-back says whether the device took it."""
        await self.iowrite(VIRTIO_MSI_CONFIG_VECTOR, vector, 2)
        return await self.ioread(VIRTIO_MSI_CONFIG_VECTOR, 2)

    # -- interrupts -----------------------------------------------------------------------------------
    async def vp_interrupt(self) -> bool:
        """INTx handler: ISR read (clears it and deasserts the line), config change, then every vq."""
        self.irq.isr_reads += 1
        isr = await self.read_isr()
        self.trace.event("vp_interrupt", isr=isr)
        if not isr:
            self.irq.intx_none += 1
            return False  # IRQ_NONE
        self.irq.intx += 1
        if isr & VIRTIO_PCI_ISR_CONFIG:
            await self._config_changed()
        await self.vp_vring_interrupt()
        return True

    async def vp_vring_interrupt(self) -> bool:
        handled = False
        for info in list(self.vqs):
            if await info.vq.vring_interrupt():
                handled = True
        return handled

    async def _config_changed(self) -> None:
        self.irq.config += 1
        self.trace.event("config_changed")
        if self.config_changed is not None:
            await self.config_changed()

    def _msix_handler(self, vector: int, vq: VirtQueue | None):
        """The handler of one vector: vp_config_changed (vq None), vring_interrupt (per-vq vector)."""

        async def handler() -> None:
            self.irq.msix[vector] = self.irq.msix.get(vector, 0) + 1
            self.trace.event("msix_irq", vector=vector, vq=None if vq is None else vq.index)
            if vq is None:
                await self._config_changed()
            else:
                await vq.vring_interrupt()

        return handler

    def _msix_shared_handler(self, vector: int):
        """vp_vring_interrupt on the vector all virtqueues share."""

        async def handler() -> None:
            self.irq.msix[vector] = self.irq.msix.get(vector, 0) + 1
            self.trace.event("msix_irq", vector=vector, vq=None)
            await self.vp_vring_interrupt()

        return handler

    @property
    def irq_mode(self) -> str:
        """How the queues interrupt: 'msix-per-vq', 'msix-shared' or 'intx' ('' before find_vqs)."""
        if self.msix_enabled:
            return "msix-per-vq" if self.per_vq_vectors else "msix-shared"
        return "intx" if self.intx_enabled else ""

    # -- virtqueues -----------------------------------------------------------------------------------
    async def find_vqs(
        self, callbacks: list[Callable[[VirtQueue], Awaitable[None]] | None], names: list[str]
    ) -> list[VirtQueue]:
        """vp_find_vqs: a vector per callback vq (+ config), else config + one shared vector, else INTx."""
        attempts = [(True, True), (True, False), (False, False)] if self.use_msix else [(False, False)]
        for n, (use_msix, per_vq_vectors) in enumerate(attempts):
            try:
                return await self.vp_try_to_find_vqs(callbacks, names, use_msix, per_vq_vectors)
            except PlatformError as exc:
                what = ("MSI-X per-vq vectors" if per_vq_vectors else "MSI-X shared vector") if use_msix else "INTx"
                self.trace.event("find_vqs_failed", attempt=what, error=str(exc))
                if n == len(attempts) - 1:
                    raise
                self.find_vqs_failures.append(f"{what}: {exc}")
        raise AssertionError("unreachable")

    async def vp_try_to_find_vqs(
        self,
        callbacks: list[Callable[[VirtQueue], Awaitable[None]] | None],
        names: list[str],
        use_msix: bool,
        per_vq_vectors: bool,
    ) -> list[VirtQueue]:
        if not use_msix:
            # Old style: one normal interrupt for change and all vqs.
            self.p.request_intx(self.vp_interrupt)
            self.intx_enabled = True
        else:
            # Best option: one for change interrupt, one per vq; second best: one for change, shared for all vqs
            nvectors = 1 + sum(1 for cb in callbacks if cb is not None) if per_vq_vectors else 2
            await self.vp_request_msix_vectors(nvectors, per_vq_vectors)
        self.per_vq_vectors = per_vq_vectors
        allocated_vectors = self.msix_used_vectors
        vqs = []
        try:
            for index, (cb, name) in enumerate(zip(callbacks, names, strict=True)):
                if cb is None or not self.msix_enabled:
                    msix_vec = VIRTIO_MSI_NO_VECTOR
                elif self.per_vq_vectors:
                    msix_vec = allocated_vectors
                    allocated_vectors += 1
                else:
                    msix_vec = VP_MSIX_VQ_VECTOR
                vq = await self.setup_vq(index, cb, name, msix_vec)
                vqs.append(vq)
                if not self.per_vq_vectors or msix_vec == VIRTIO_MSI_NO_VECTOR:
                    continue
                # allocate per-vq irq if available and necessary
                self.p.request_irq(msix_vec, self._msix_handler(msix_vec, vq))
        except PlatformError:
            await self.del_vqs()
            raise
        return vqs

    async def vp_request_msix_vectors(self, nvectors: int, per_vq_vectors: bool) -> None:
        try:
            granted = await self.p.enable_msix(nvectors)
            if granted < nvectors:
                # pci_enable_msix returns positive if we can't get this many (and enables nothing; a
                # platform that enabled fewer is disabled again here)
                await self.p.disable_msix()
                raise VirtioError(f"{nvectors} MSI-X vectors wanted, the function has {granted}")
            self.msix_vectors = nvectors
            self.msix_enabled = True
            # Set the vector used for configuration
            v = self.msix_used_vectors
            self.p.request_irq(v, self._msix_handler(v, None))
            self.msix_used_vectors += 1
            # Verify we had enough resources to assign the vector
            if await self.vp_config_vector(v) == VIRTIO_MSI_NO_VECTOR:
                raise VirtioError(f"the device refused MSI-X vector {v} for configuration changes")
            if not per_vq_vectors:
                # Shared vector for all VQs
                v = self.msix_used_vectors
                self.p.request_irq(v, self._msix_shared_handler(v))
                self.msix_used_vectors += 1
        except PlatformError:
            await self.vp_free_vectors()
            raise

    async def vp_free_vectors(self) -> None:
        """Free the interrupts; with MSI-X: no config vector, flush, disable MSI-X."""
        self.intx_enabled = False
        self.p.free_irqs()
        if self.msix_enabled:
            # Disable the vector used for configuration (the read-back flushes the write out to device)
            await self.vp_config_vector(VIRTIO_MSI_NO_VECTOR)
            await self.p.disable_msix()
            self.msix_enabled = False
            self.msix_vectors = 0
        self.msix_used_vectors = 0

    async def setup_vq(self, index: int, callback, name: str, msix_vector: int) -> VirtQueue:
        """setup_vq: select, read the size, allocate the ring, tell the device its PFN, map the vector."""
        await self.iowrite(VIRTIO_PCI_QUEUE_SEL, index, 2)
        num = await self.ioread(VIRTIO_PCI_QUEUE_NUM, 2)
        if num == 0 or await self.ioread(VIRTIO_PCI_QUEUE_PFN, 4):
            raise VirtioError(f"queue {index} ({name}) not available")
        mem: DmaBuffer = self.p.dma_alloc(vring_size(num), align=4096)
        vq = self.vring_new_virtqueue(index, num, mem, callback, name)
        await vq.init_ring()
        # activate the queue
        await self.iowrite(VIRTIO_PCI_QUEUE_PFN, mem.bus_addr >> VIRTIO_PCI_QUEUE_ADDR_SHIFT, 4)
        if msix_vector != VIRTIO_MSI_NO_VECTOR:
            await self.iowrite(VIRTIO_MSI_QUEUE_VECTOR, msix_vector, 2)
            if await self.ioread(VIRTIO_MSI_QUEUE_VECTOR, 2) == VIRTIO_MSI_NO_VECTOR:
                await self.iowrite(VIRTIO_PCI_QUEUE_PFN, 0, 4)
                raise VirtioError(f"queue {index}: device refused MSI-X vector {msix_vector}")
        self.vqs.append(VqInfo(vq, msix_vector))
        return vq

    def vring_new_virtqueue(
        self, index: int, num: int, mem: DmaBuffer, callback: Callable[[VirtQueue], Awaitable[None]] | None, name: str
    ) -> VirtQueue:
        """vring_new_virtqueue: the ring's driver-side state over ``mem``, notifying through vp_notify."""
        return self.ring(
            index,
            num,
            mem,
            self.vp_notify,
            callback,
            indirect=self.has_feature(VIRTIO_RING_F_INDIRECT_DESC),
            allocator=self.allocator,
            tracer=self.trace,
            name=name,
            event=self.has_feature(VIRTIO_RING_F_EVENT_IDX),
            align=self.vring_align,
        )

    async def del_vq(self, info: VqInfo) -> None:
        """del_vq: no vector for the queue, then select and deactivate it."""
        await self.iowrite(VIRTIO_PCI_QUEUE_SEL, info.vq.index, 2)
        if self.msix_enabled:
            await self.iowrite(VIRTIO_MSI_QUEUE_VECTOR, VIRTIO_MSI_NO_VECTOR, 2)
            # Flush the write out to device
            await self.ioread(VIRTIO_PCI_ISR, 1)
        # Select and deactivate the queue
        await self.iowrite(VIRTIO_PCI_QUEUE_PFN, 0, 4)

    async def vp_notify(self, vq: VirtQueue) -> None:
        """We write the queue's selector into the notification register to signal the other end."""
        await self.iowrite(VIRTIO_PCI_QUEUE_NOTIFY, vq.index, 2)

    async def del_vqs(self) -> None:
        """vp_del_vqs: every queue (vp_del_vq), then vp_free_vectors."""
        for info in self.vqs:
            await self.del_vq(info)
        self.vqs.clear()
        self.per_vq_vectors = False
        await self.vp_free_vectors()

    # -- virtio_pci_probe / virtio.c probe / remove --------------------------------------------------------
    async def pci_set_master(self) -> None:
        """virtio_pci_probe's ``pci_set_master(pci_dev)``, after the transport found its registers and before
        register_virtio_device resets the device: PCI_COMMAND read, Bus Master written only when it is clear
        (__pci_set_master). Bus Master gates every request the function makes (its DMA and its MSI-X
        messages), and whoever held the function before may have cleared it: virtio_pci's remove does
        (pci_disable_device), and vfio-pci hands a function over with it clear.

        Kernels before 2.6.34 never set it (``set_master`` False): they relied on QEMU, whose legacy
        interface sets the bit itself when the status becomes ACKNOWLEDGE | DRIVER ("Linux before 2.6.34
        drives the device without enabling the PCI device bus master bit", hw/virtio/virtio-pci.c). QEMU's
        modern interface does not, and a hardware endpoint never does: there a driver of such a kernel
        needs the bit set by whoever enabled the function (the bring-up does)."""
        if not self.set_master:
            return
        old = await self.p.config_read(PCI_COMMAND, 2)
        cmd = old | PCI_COMMAND_MASTER
        if cmd != old:
            await self.p.config_write(PCI_COMMAND, cmd, 2)
        self.trace.event("pci_set_master", before=old, after=cmd)

    async def probe(self, driver_features: int) -> int:
        """register_virtio_device + virtio_dev_probe up to the driver's own probe: returns the features.

        The caller (the driver's probe) sets up its queues next and then calls ``driver_ok``. virtio_pci_probe
        first: "We only own devices >= 0x1000 and <= 0x103f: leave the rest." (a modern-only function, 0x1040
        and up, has no legacy interface).
        """
        device = await self.p.config_read(PCI_DEVICE_ID, 2)
        if not 0x1000 <= device <= 0x103F:
            raise VirtioError(
                f"PCI device id {device:#06x} is not a legacy virtio device (0x1000-0x103f): a modern-only "
                "function needs the modern transport"
            )
        await self.pci_set_master()
        await self.reset()
        await self.add_status(VIRTIO_CONFIG_S_ACKNOWLEDGE)
        await self.add_status(VIRTIO_CONFIG_S_DRIVER)
        device_features = await self.get_features()
        features = device_features & driver_features
        # vring_transport_features: the transport keeps the ring features it implements
        for bit in self.ring_features:
            features |= device_features & (1 << bit)
        await self.finalize_features(features)
        self.trace.event("features", device=device_features, driver=driver_features, acked=self.features)
        return self.features

    async def driver_ok(self) -> None:
        await self.add_status(VIRTIO_CONFIG_S_DRIVER_OK)

    async def remove(self) -> None:
        await self.reset()
        await self.del_vqs()
