"""The modern (virtio 1.x) PCI transport, as Linux 6.1 has it: ``drivers/virtio/virtio_pci_modern_dev.c``
(vp_modern_probe and the register helpers) and ``drivers/virtio/virtio_pci_modern.c`` (the
``virtio_config_ops``: vp_get, vp_generation, vp_reset, vp_finalize_features, setup_vq, del_vq,
vp_modern_find_vqs), with the feature handshake of ``drivers/virtio/virtio.c`` (virtio_dev_probe,
virtio_features_ok).

The kernel version mirrored is 6.1, the kernel of the ``debian-6.1`` variant (virtio 1.0 support came with
Linux 4.0; 6.1's code is what a modern variant's kernel runs). What it does, in the kernel's order:

* vp_modern_probe: the device id (0x1000-0x107f; a transitional id takes the subsystem device id, a modern
  one id - 0x1040), then the vendor-specific capabilities (cap id 0x09) through ``platform.config_read``:
  the first of each cfg_type whose BAR is implemented (virtio_pci_find_capability), common / ISR / notify
  required, device config optional; each region checked against its capability (vp_modern_map_capability:
  length past ``start``, minimum length, alignment, inside the BAR). No common capability: ENODEV, "leaving
  for legacy driver" (``VirtioNoModern``: the caller falls back to the legacy transport, as virtio_pci_probe
  does). The notify capability's ``notify_off_multiplier``; the notify region mapped whole when it fits a
  page, else per queue (notify_map_cap).
* features are 64 bits through the select registers; VERSION_1 is required (vp_finalize_features refuses a
  modern device without it); the transport bits 28..40 the device offers are kept (virtio_dev_probe) and
  vring_transport_features drops those the ring does not implement (here: the packed ring and queue reset,
  which the split ring of this model does not have, are not acked). VIRTIO_F_ACCESS_PLATFORM is acked when
  offered: the ring and buffer addresses are then bus addresses (IOVAs), which is what every DmaBuffer's
  ``bus_addr`` already is. virtio_features_ok: FEATURES_OK written and read back; clear means the device
  refused the features: FAILED is set and the probe fails.
* setup_vq: num_queues, queue_size (0 or an enabled queue: not available), power of two; the ring of
  ``num`` entries (``queue_size_max`` caps it: vring_create_virtqueue may reduce the size when the memory
  for a full ring cannot be had) with the used ring aligned to SMP_CACHE_BYTES; queue_size written back,
  the 64-bit descriptor / driver / device area addresses (two 32-bit halves each), the notify address from
  queue_notify_off * notify_off_multiplier, the MSI-X vector with read-back (VIRTIO_MSI_NO_VECTOR: the
  device refused it). vp_modern_find_vqs enables every queue only after all of them are set up.
* device configuration under the config_generation loop (__virtio_cread_many), reset as device_status = 0
  and waiting (1 ms polls, bounded) until it reads 0.

The interrupt paths (MSI-X per-vq vectors, one shared vector, INTx with the ISR read-to-clear) and the
order of find_vqs' attempts are the shared virtio_pci_common.c code the legacy class already has; this
class changes only where the registers are. Every register access is traced (``bar_read`` / ``bar_write``
with the BAR, ``config_read`` for the capability walk) like the legacy transport's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tb.driver.virtio_pci import (
    RING_FEATURES_EVENT_IDX,
    VIRTIO_CONFIG_S_ACKNOWLEDGE,
    VIRTIO_CONFIG_S_DRIVER,
    VIRTIO_CONFIG_S_DRIVER_OK,
    VIRTIO_CONFIG_S_FAILED,
    VIRTIO_MSI_NO_VECTOR,
    VirtioError,
    VirtioPciLegacy,
    VqInfo,
)
from tb.driver.virtio_ring import Allocator, Tracer, VirtQueue, vring_size
from tb.platform.base import DmaBuffer, Platform, PlatformError

# include/uapi/linux/virtio_config.h
VIRTIO_CONFIG_S_FEATURES_OK = 0x08
VIRTIO_TRANSPORT_F_START = 28
VIRTIO_TRANSPORT_F_END = 41
VIRTIO_F_VERSION_1 = 32
VIRTIO_F_ACCESS_PLATFORM = 33
VIRTIO_F_RING_PACKED = 34
VIRTIO_F_IN_ORDER = 35
VIRTIO_F_ORDER_PLATFORM = 36
VIRTIO_F_SR_IOV = 37
VIRTIO_F_RING_RESET = 40
# what 6.1's vring_transport_features keeps of the transport bits, less what this model's split ring lacks
# (VIRTIO_F_RING_PACKED: no packed ring here; VIRTIO_F_RING_RESET: no per-queue reset)
MODERN_TRANSPORT_FEATURES = (VIRTIO_F_VERSION_1, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_ORDER_PLATFORM)

# include/uapi/linux/pci_regs.h
PCI_VENDOR_ID = 0x00
PCI_DEVICE_ID = 0x02
PCI_STATUS = 0x06
PCI_STATUS_CAP_LIST = 0x10
PCI_SUBSYSTEM_VENDOR_ID = 0x2C
PCI_SUBSYSTEM_ID = 0x2E
PCI_CAPABILITY_LIST = 0x34
PCI_CAP_ID_VNDR = 0x09
PCI_FIND_CAP_TTL = 48
PCI_STD_NUM_BARS = 6
PCI_VENDOR_ID_REDHAT_QUMRANET = 0x1AF4
VIRTIO_ID_NET = 1
PAGE_SIZE = 4096
SMP_CACHE_BYTES = 64  # x86-64's L1 line: the used-ring alignment vp_modern setup_vq asks for

# include/uapi/linux/virtio_pci.h: struct virtio_pci_cap {cap_vndr, cap_next, cap_len, cfg_type, bar, id,
# padding[2], offset le32, length le32}; struct virtio_pci_notify_cap adds notify_off_multiplier le32
VIRTIO_PCI_CAP_COMMON_CFG = 1
VIRTIO_PCI_CAP_NOTIFY_CFG = 2
VIRTIO_PCI_CAP_ISR_CFG = 3
VIRTIO_PCI_CAP_DEVICE_CFG = 4
VIRTIO_PCI_CAP_PCI_CFG = 5
CAP_CFG_TYPE, CAP_BAR, CAP_OFFSET, CAP_LENGTH, NOTIFY_CAP_MULT = 3, 4, 8, 12, 16

# struct virtio_pci_common_cfg
VIRTIO_PCI_COMMON_DFSELECT = 0x00
VIRTIO_PCI_COMMON_DF = 0x04
VIRTIO_PCI_COMMON_GFSELECT = 0x08
VIRTIO_PCI_COMMON_GF = 0x0C
VIRTIO_PCI_COMMON_MSIX = 0x10
VIRTIO_PCI_COMMON_NUMQ = 0x12
VIRTIO_PCI_COMMON_STATUS = 0x14
VIRTIO_PCI_COMMON_CFGGENERATION = 0x15
VIRTIO_PCI_COMMON_Q_SELECT = 0x16
VIRTIO_PCI_COMMON_Q_SIZE = 0x18
VIRTIO_PCI_COMMON_Q_MSIX = 0x1A
VIRTIO_PCI_COMMON_Q_ENABLE = 0x1C
VIRTIO_PCI_COMMON_Q_NOFF = 0x1E
VIRTIO_PCI_COMMON_Q_DESCLO = 0x20
VIRTIO_PCI_COMMON_Q_DESCHI = 0x24
VIRTIO_PCI_COMMON_Q_AVAILLO = 0x28
VIRTIO_PCI_COMMON_Q_AVAILHI = 0x2C
VIRTIO_PCI_COMMON_Q_USEDLO = 0x30
VIRTIO_PCI_COMMON_Q_USEDHI = 0x34
VIRTIO_PCI_COMMON_CFG_SIZE = 0x38  # sizeof(struct virtio_pci_common_cfg)
VIRTIO_PCI_MODERN_COMMON_CFG_SIZE = 0x3C  # + queue_notify_data, queue_reset (6.0's modern_common_cfg)

RESET_POLL_NS = 1e6  # msleep(1)
RESET_POLLS = 1000  # the kernel waits forever; here a device that never reads 0 fails after a second


class VirtioNoModern(VirtioError):
    """-ENODEV from vp_modern_probe: no modern interface (virtio_pci_probe then tries the legacy one)."""


@dataclass(frozen=True)
class Region:
    """A mapped capability: ``length`` bytes at ``offset`` in BAR ``bar`` (the kernel's __iomem pointer)."""

    bar: int
    offset: int
    length: int


class VirtioPciModern(VirtioPciLegacy):
    """``struct virtio_pci_device`` with ``struct virtio_pci_modern_device`` and the modern config ops.

    Same interface as ``VirtioPciLegacy`` (probe, find_vqs, driver_ok, config_get, reset, del_vqs, the
    interrupt handlers) so a driver variant runs on either."""

    transport = "modern"
    vring_align = SMP_CACHE_BYTES

    def __init__(
        self,
        platform: Platform,
        use_msix: bool = True,
        tracer: Tracer | None = None,
        allocator: Allocator | None = None,
        ring: type[VirtQueue] = VirtQueue,
        ring_features: tuple[int, ...] = RING_FEATURES_EVENT_IDX,
        queue_size_max: int | None = None,
        set_master: bool = True,
    ):
        # every kernel with this transport (4.0 on) enables bus mastering in virtio_pci_probe
        super().__init__(platform, use_msix, tracer, allocator, ring, ring_features, set_master)
        self.queue_size_max = queue_size_max
        self.device_id = 0
        self.common: Region | None = None
        self.isr: Region | None = None
        self.device: Region | None = None
        self.notify_base: Region | None = None  # the whole notify region, when it fits a page
        self.notify_map_cap = 0  # else the capability to map each queue's notify address from
        self.notify_offset_multiplier = 0
        self.modern_bars = 0
        self.notify_addr: dict[int, tuple[int, int]] = {}  # queue -> (bar, offset) of its notify register
        self.device_features = 0
        self.status_readback = 0  # device_status as read back after FEATURES_OK

    # -- the legacy register block is not there --------------------------------------------------------
    async def ioread(self, off: int, size: int) -> int:
        raise VirtioError(f"legacy register access (BAR0 +{off:#x}) on the modern transport")

    async def iowrite(self, off: int, value: int, size: int) -> None:
        raise VirtioError(f"legacy register access (BAR0 +{off:#x}) on the modern transport")

    # -- register access -------------------------------------------------------------------------------
    async def cfg_read(self, off: int, size: int) -> int:
        value = await self.p.config_read(off, size)
        self.trace.event("config_read", off=off, size=size, value=value)
        return value

    async def rd(self, region: Region | None, off: int, size: int) -> int:
        assert region is not None, "region not mapped"
        value = await self.p.bar_read(region.bar, region.offset + off, size)
        self.trace.event("bar_read", bar=region.bar, off=region.offset + off, size=size, value=value)
        return value

    async def wr(self, region: Region | None, off: int, value: int, size: int) -> None:
        assert region is not None, "region not mapped"
        self.trace.event("bar_write", bar=region.bar, off=region.offset + off, size=size, value=value)
        await self.p.bar_write(region.bar, region.offset + off, value, size)

    async def wr64_twopart(self, lo: int, hi: int, value: int) -> None:
        """vp_iowrite64_twopart: the low half, then the high half."""
        await self.wr(self.common, lo, value & 0xFFFFFFFF, 4)
        await self.wr(self.common, hi, value >> 32, 4)

    # -- vp_modern_probe -------------------------------------------------------------------------------
    async def pci_find_next_capability(self, pos: int, cap: int) -> int:
        """__pci_find_next_cap_ttl: follow the list from the pointer at ``pos`` to the next ``cap``."""
        pos = await self.cfg_read(pos, 1)
        for _ in range(PCI_FIND_CAP_TTL):
            if pos < 0x40:
                break
            pos &= ~3
            ent = await self.cfg_read(pos, 2)
            cap_id = ent & 0xFF
            if cap_id == 0xFF:
                break
            if cap_id == cap:
                return pos
            pos = ent >> 8
        return 0

    async def virtio_pci_find_capability(self, cfg_type: int) -> int:
        """The first vendor capability of ``cfg_type`` whose BAR is implemented (0: none)."""
        if not await self.cfg_read(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST:
            return 0
        pos = await self.pci_find_next_capability(PCI_CAPABILITY_LIST, PCI_CAP_ID_VNDR)
        while pos:
            typ = await self.cfg_read(pos + CAP_CFG_TYPE, 1)
            bar = await self.cfg_read(pos + CAP_BAR, 1)
            # Skip reserved BARs
            if bar < PCI_STD_NUM_BARS and typ == cfg_type and self.p.bar_size(bar):
                self.modern_bars |= 1 << bar
                return pos
            pos = await self.pci_find_next_capability(pos + 1, PCI_CAP_ID_VNDR)
        return 0

    async def vp_modern_map_capability(
        self, off: int, minlen: int, align: int, start: int, size: int, what: str
    ) -> tuple[Region, int]:
        """Check the capability at ``off`` and "map" ``size`` bytes of it from ``start``: (region, its length)."""
        bar = await self.cfg_read(off + CAP_BAR, 1)
        offset = await self.cfg_read(off + CAP_OFFSET, 4)
        length = await self.cfg_read(off + CAP_LENGTH, 4)
        if length <= start:
            raise VirtioError(f"bad capability len {length} (>{start} expected) ({what} at {off:#x})")
        if length - start < minlen:
            raise VirtioError(f"bad capability len {length} (>={minlen} expected) ({what} at {off:#x})")
        length -= start
        offset += start
        if offset >= 1 << 32:
            raise VirtioError(f"map wrap-around {start}+{offset - start} ({what})")
        if offset & (align - 1):
            raise VirtioError(f"offset {offset} not aligned to {align} ({what})")
        length = min(length, size)
        if minlen + offset > self.p.bar_size(bar):
            raise VirtioError(
                f"map virtio {minlen}@{offset} out of range on bar {bar} length {self.p.bar_size(bar)} ({what})"
            )
        return Region(bar, offset, length), length

    async def vp_modern_probe(self) -> None:
        vendor = await self.cfg_read(PCI_VENDOR_ID, 2)
        device = await self.cfg_read(PCI_DEVICE_ID, 2)
        # We only own devices >= 0x1000 and <= 0x107f: leave the rest.
        if vendor != PCI_VENDOR_ID_REDHAT_QUMRANET or not 0x1000 <= device <= 0x107F:
            raise VirtioNoModern(f"{vendor:04x}:{device:04x} is not a virtio PCI function")
        if device < 0x1040:
            # Transitional devices: use the PCI subsystem device id as virtio device id
            self.device_id = await self.cfg_read(PCI_SUBSYSTEM_ID, 2)
        else:
            # Modern devices: simply use PCI device id, but start from 0x1040.
            self.device_id = device - 0x1040
        if self.device_id != VIRTIO_ID_NET:
            raise VirtioError(f"virtio device id {self.device_id} is not a network device ({VIRTIO_ID_NET})")
        common = await self.virtio_pci_find_capability(VIRTIO_PCI_CAP_COMMON_CFG)
        if not common:
            raise VirtioNoModern("virtio_pci: leaving for legacy driver (no common configuration capability)")
        # If common is there, these should be too...
        isr = await self.virtio_pci_find_capability(VIRTIO_PCI_CAP_ISR_CFG)
        notify = await self.virtio_pci_find_capability(VIRTIO_PCI_CAP_NOTIFY_CFG)
        if not isr or not notify:
            raise VirtioError(f"virtio_pci: missing capabilities {common}/{isr}/{notify}")
        # Device capability is only mandatory for devices that have device-specific configuration.
        device_cap = await self.virtio_pci_find_capability(VIRTIO_PCI_CAP_DEVICE_CFG)
        self.common, _ = await self.vp_modern_map_capability(
            common, VIRTIO_PCI_COMMON_CFG_SIZE, 4, 0, VIRTIO_PCI_MODERN_COMMON_CFG_SIZE, "common"
        )
        self.isr, _ = await self.vp_modern_map_capability(isr, 1, 1, 0, 1, "isr")
        # Read notify_off_multiplier, notify length and offset from config space.
        self.notify_offset_multiplier = await self.cfg_read(notify + NOTIFY_CAP_MULT, 4)
        notify_length = await self.cfg_read(notify + CAP_LENGTH, 4)
        notify_offset = await self.cfg_read(notify + CAP_OFFSET, 4)
        # We don't know how many VQs we'll map, ahead of the time. If notify length is small, map it all
        # now. Otherwise, map each VQ individually later.
        if notify_length + notify_offset % PAGE_SIZE <= PAGE_SIZE:
            self.notify_base, _ = await self.vp_modern_map_capability(notify, 2, 2, 0, notify_length, "notify")
        else:
            self.notify_map_cap = notify
        # Again, we don't know how much we should map, but PAGE_SIZE is more than enough for all existing
        # devices.
        if device_cap:
            self.device, _ = await self.vp_modern_map_capability(device_cap, 0, 4, 0, PAGE_SIZE, "device")
        self.trace.event(
            "vp_modern_probe",
            device_id=self.device_id,
            common=self.common,
            isr=self.isr,
            notify=self.notify_base or notify,
            notify_off_multiplier=self.notify_offset_multiplier,
            device=self.device,
        )

    # -- virtio_config_ops -------------------------------------------------------------------------------
    async def get_status(self) -> int:
        return await self.rd(self.common, VIRTIO_PCI_COMMON_STATUS, 1)

    async def set_status(self, status: int) -> None:
        # We should never be setting status to 0.
        assert status != 0
        await self.wr(self.common, VIRTIO_PCI_COMMON_STATUS, status, 1)

    async def reset(self) -> None:
        """vp_reset: 0 status means a reset; wait until device_status reads 0 ("this will flush out the status
        write, and flush in device writes, including MSI-X interrupts, if any")."""
        await self.wr(self.common, VIRTIO_PCI_COMMON_STATUS, 0, 1)
        for _ in range(RESET_POLLS):
            if not await self.get_status():
                return
            await self.p.sleep_ns(RESET_POLL_NS)
        raise VirtioError(f"device_status did not read 0 within {RESET_POLLS} ms of the reset")

    async def get_features(self) -> int:
        """vp_modern_get_features: the two 32-bit halves through device_feature_select."""
        await self.wr(self.common, VIRTIO_PCI_COMMON_DFSELECT, 0, 4)
        features = await self.rd(self.common, VIRTIO_PCI_COMMON_DF, 4)
        await self.wr(self.common, VIRTIO_PCI_COMMON_DFSELECT, 1, 4)
        features |= await self.rd(self.common, VIRTIO_PCI_COMMON_DF, 4) << 32
        return features

    async def vp_modern_set_features(self, features: int) -> None:
        await self.wr(self.common, VIRTIO_PCI_COMMON_GFSELECT, 0, 4)
        await self.wr(self.common, VIRTIO_PCI_COMMON_GF, features & 0xFFFFFFFF, 4)
        await self.wr(self.common, VIRTIO_PCI_COMMON_GFSELECT, 1, 4)
        await self.wr(self.common, VIRTIO_PCI_COMMON_GF, features >> 32, 4)

    def vring_transport_features(self, features: int) -> int:
        """Keep of the transport bits only what the ring and this transport implement."""
        keep = set(self.ring_features) | set(MODERN_TRANSPORT_FEATURES)
        for bit in range(VIRTIO_TRANSPORT_F_START, VIRTIO_TRANSPORT_F_END):
            if bit not in keep:
                features &= ~(1 << bit)
        return features

    async def finalize_features(self, features: int) -> None:
        """vp_finalize_features: vring_transport_features, VERSION_1 required, the 64 bits written."""
        features = self.vring_transport_features(features)
        if not features >> VIRTIO_F_VERSION_1 & 1:
            raise VirtioError("virtio: device uses modern interface but does not have VIRTIO_F_VERSION_1")
        self.features = features
        await self.vp_modern_set_features(features)

    async def generation(self) -> int:
        return await self.rd(self.common, VIRTIO_PCI_COMMON_CFGGENERATION, 1)

    async def vp_get(self, offset: int, length: int) -> bytes:
        """vp_get (modern): one access of 1, 2 or 4 bytes, 8 as two 32-bit reads."""
        if self.device is None or offset + length > self.device.length:
            raise VirtioError(f"device configuration {offset}+{length} outside the mapped device region")
        if length == 8:
            lo = await self.rd(self.device, offset, 4)
            hi = await self.rd(self.device, offset + 4, 4)
            return (lo | hi << 32).to_bytes(8, "little")
        return (await self.rd(self.device, offset, length)).to_bytes(length, "little")

    async def config_get(self, offset: int, length: int) -> bytes:
        """virtio_cread8/16/32 for one field of that size (a single vp_get, as the kernel's helpers), else
        virtio_cread_bytes: byte by byte, again until config_generation reads the same before and after."""
        if length in (1, 2, 4):
            return await self.vp_get(offset, length)
        gen = await self.generation()
        for _ in range(1000):
            old = gen
            out = b"".join([await self.vp_get(offset + i, 1) for i in range(length)])
            gen = await self.generation()
            if gen == old:
                return out
            self.trace.event("config_generation_changed", old=old, new=gen)
        raise VirtioError("config_generation kept changing over 1000 reads of the device configuration")

    # -- interrupts --------------------------------------------------------------------------------------
    async def read_isr(self) -> int:
        return await self.rd(self.isr, 0, 1)

    async def vp_config_vector(self, vector: int) -> int:
        """vp_modern_config_vector: msix_config written; the read-back verifies the device took it (and flushes
        the write out to the device)."""
        await self.wr(self.common, VIRTIO_PCI_COMMON_MSIX, vector, 2)
        return await self.rd(self.common, VIRTIO_PCI_COMMON_MSIX, 2)

    async def vp_modern_queue_vector(self, index: int, vector: int) -> int:
        await self.wr(self.common, VIRTIO_PCI_COMMON_Q_SELECT, index, 2)
        await self.wr(self.common, VIRTIO_PCI_COMMON_Q_MSIX, vector, 2)
        # Flush the write out to device
        return await self.rd(self.common, VIRTIO_PCI_COMMON_Q_MSIX, 2)

    # -- virtqueues ----------------------------------------------------------------------------------------
    async def find_vqs(
        self, callbacks: list[Callable[[VirtQueue], Awaitable[None]] | None], names: list[str]
    ) -> list[VirtQueue]:
        """vp_modern_find_vqs: vp_find_vqs, then "Select and activate all queues. Has to be done last: once we
        do this, there's no way to go back except reset." """
        vqs = await super().find_vqs(callbacks, names)
        for info in self.vqs:
            await self.wr(self.common, VIRTIO_PCI_COMMON_Q_SELECT, info.vq.index, 2)
            await self.wr(self.common, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2)
        return vqs

    async def setup_vq(self, index: int, callback, name: str, msix_vector: int) -> VirtQueue:
        c = self.common
        if index >= await self.rd(c, VIRTIO_PCI_COMMON_NUMQ, 2):
            raise VirtioError(f"queue {index} ({name}): the device has fewer queues (-EINVAL)")
        # Check if queue is either not available or already active.
        await self.wr(c, VIRTIO_PCI_COMMON_Q_SELECT, index, 2)
        num = await self.rd(c, VIRTIO_PCI_COMMON_Q_SIZE, 2)
        await self.wr(c, VIRTIO_PCI_COMMON_Q_SELECT, index, 2)
        if not num or await self.rd(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2):
            raise VirtioError(f"queue {index} ({name}) not available (-ENOENT)")
        if num & (num - 1):
            raise VirtioError(f"bad queue size {num}")
        # create the vring (vring_create_virtqueue with may_reduce_num: at most queue_size_max entries)
        while self.queue_size_max is not None and num > max(self.queue_size_max, 1):
            num //= 2
        mem: DmaBuffer = self.p.dma_alloc(vring_size(num, self.vring_align), align=PAGE_SIZE)
        vq = self.vring_new_virtqueue(index, num, mem, callback, name)
        await vq.init_ring()
        # activate the queue
        await self.wr(c, VIRTIO_PCI_COMMON_Q_SELECT, index, 2)
        await self.wr(c, VIRTIO_PCI_COMMON_Q_SIZE, num, 2)
        await self.wr(c, VIRTIO_PCI_COMMON_Q_SELECT, index, 2)
        await self.wr64_twopart(VIRTIO_PCI_COMMON_Q_DESCLO, VIRTIO_PCI_COMMON_Q_DESCHI, vq.desc_addr)
        await self.wr64_twopart(VIRTIO_PCI_COMMON_Q_AVAILLO, VIRTIO_PCI_COMMON_Q_AVAILHI, vq.avail_addr)
        await self.wr64_twopart(VIRTIO_PCI_COMMON_Q_USEDLO, VIRTIO_PCI_COMMON_Q_USEDHI, vq.used_addr)
        self.notify_addr[index] = await self.vp_modern_map_vq_notify(index)
        if (
            msix_vector != VIRTIO_MSI_NO_VECTOR
            and await self.vp_modern_queue_vector(index, msix_vector) == VIRTIO_MSI_NO_VECTOR
        ):
            raise VirtioError(f"queue {index}: device refused MSI-X vector {msix_vector} (-EBUSY)")
        self.vqs.append(VqInfo(vq, msix_vector))
        self.trace.event(
            "setup_vq", vq=index, num=num, desc=vq.desc_addr, avail=vq.avail_addr, used=vq.used_addr,
            notify=self.notify_addr[index], msix_vector=msix_vector,
        )  # fmt: skip
        return vq

    async def vp_modern_map_vq_notify(self, index: int) -> tuple[int, int]:
        """The (bar, offset) of the queue's notify register: queue_notify_off * notify_off_multiplier."""
        await self.wr(self.common, VIRTIO_PCI_COMMON_Q_SELECT, index, 2)
        off = await self.rd(self.common, VIRTIO_PCI_COMMON_Q_NOFF, 2)
        if self.notify_base is not None:
            # offset should not wrap
            if off * self.notify_offset_multiplier + 2 > self.notify_base.length:
                raise VirtioError(
                    f"bad notification offset {off} (x {self.notify_offset_multiplier}) for queue {index} > "
                    f"{self.notify_base.length}"
                )
            return self.notify_base.bar, self.notify_base.offset + off * self.notify_offset_multiplier
        region, _ = await self.vp_modern_map_capability(
            self.notify_map_cap, 2, 2, off * self.notify_offset_multiplier, 2, f"notify of queue {index}"
        )
        return region.bar, region.offset

    async def vp_notify(self, vq: VirtQueue) -> None:
        """iowrite16(vq->index, vq->priv): the queue's index at its notify address."""
        bar, off = self.notify_addr[vq.index]
        self.trace.event("bar_write", bar=bar, off=off, size=2, value=vq.index)
        await self.p.bar_write(bar, off, vq.index, 2)

    async def del_vq(self, info: VqInfo) -> None:
        """del_vq (modern): no vector for the queue; a modern queue is disabled only by a reset."""
        if self.msix_enabled:
            await self.vp_modern_queue_vector(info.vq.index, VIRTIO_MSI_NO_VECTOR)
        self.notify_addr.pop(info.vq.index, None)

    # -- virtio.c probe --------------------------------------------------------------------------------
    async def probe(self, driver_features: int) -> int:
        """vp_modern_probe, virtio_pci_probe's pci_set_master, register_virtio_device (reset, ACKNOWLEDGE) and
        virtio_dev_probe up to the driver's own probe: DRIVER, the feature negotiation and virtio_features_ok.
        A failure after ACKNOWLEDGE sets FAILED before it is raised."""
        await self.vp_modern_probe()
        await self.pci_set_master()
        await self.reset()
        await self.add_status(VIRTIO_CONFIG_S_ACKNOWLEDGE)
        try:
            await self.add_status(VIRTIO_CONFIG_S_DRIVER)
            device_features = self.device_features = await self.get_features()
            features = device_features & driver_features
            # Transport features always preserved to pass to finalize_features.
            for bit in range(VIRTIO_TRANSPORT_F_START, VIRTIO_TRANSPORT_F_END):
                features |= device_features & (1 << bit)
            await self.finalize_features(features)
            self.trace.event("features", device=device_features, driver=driver_features, acked=self.features)
            await self.virtio_features_ok()
        except PlatformError:
            await self.add_status(VIRTIO_CONFIG_S_FAILED)
            raise
        return self.features

    async def virtio_features_ok(self) -> None:
        """FEATURES_OK, then read it back: clear means the device refuses the features (-ENODEV)."""
        await self.add_status(VIRTIO_CONFIG_S_FEATURES_OK)
        status = self.status_readback = await self.get_status()
        if not status & VIRTIO_CONFIG_S_FEATURES_OK:
            raise VirtioError(f"virtio: device refuses features: {status:x}")

    async def driver_ok(self) -> None:
        await self.add_status(VIRTIO_CONFIG_S_DRIVER_OK)
