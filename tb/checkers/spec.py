"""The virtio structures the checkers judge, written from the virtio specification (not from the driver).

The checkers must not share a mistake with the driver they check, so nothing here comes from tb.driver:
the names are the specification's (``VIRTQ_*``, "Device Features", "Queue Address"), the layout is its
formula. tests/unit/test_layouts.py holds every layout implementation in the project to this one (the
driver's, the model device's, the block tests' ring builder) for every queue size up to 32768.

Sources (virtio 1.x specification):

* 2.7 Split Virtqueues: ``struct virtq_desc`` (16 bytes: addr le64, len le32, flags le16, next le16),
  ``struct virtq_avail`` (flags, idx, ring[Queue Size], used_event: all le16), ``struct virtq_used``
  (flags, idx, ring[Queue Size] of ``struct virtq_used_elem`` {id le32, len le32}, avail_event);
* 2.7.2 Legacy Interfaces, "A Note on Virtqueue Layout": the three parts in one physically contiguous
  block, descriptor table first, the available ring right after it, the used ring at the next multiple of
  the Queue Align (4096 for virtio-pci legacy);
* 4.1.4.8 Legacy Interfaces, "A Note on PCI Device Layout": the legacy register block in BAR0;
* 6.3 Legacy Interface: Reserved Feature Bits: VIRTIO_F_NOTIFY_ON_EMPTY (24);
* 2.1 Device Status Field, 3.1.1 Driver Requirements: Device Initialization (the status sequence);
* 4.1.4 Virtio Structure PCI Capabilities (``struct virtio_pci_cap``, the cfg_type values), 4.1.4.3 Common
  configuration structure layout (``struct virtio_pci_common_cfg``), 4.1.4.4 Notification structure layout.
"""

from __future__ import annotations

# 2.7.5 The Virtqueue Descriptor Table
VIRTQ_DESC_F_NEXT = 1  # the buffer continues via the next field
VIRTQ_DESC_F_WRITE = 2  # the buffer is device write-only (otherwise device read-only)
VIRTQ_DESC_F_INDIRECT = 4  # the buffer holds a list of buffer descriptors
DESC_SIZE = 16  # struct virtq_desc

# 2.7.6 The Virtqueue Available Ring, 2.7.8 The Virtqueue Used Ring
VIRTQ_AVAIL_F_NO_INTERRUPT = 1
VIRTQ_USED_F_NO_NOTIFY = 1
USED_ELEM_SIZE = 8  # struct virtq_used_elem

# 4.1.4.8: the legacy queue address is a page frame number
LEGACY_QUEUE_ALIGN = 4096
LEGACY_PFN_SHIFT = 12

# 4.1.4.8 Legacy Interfaces: the virtio header in BAR0 (offsets in bytes, access width in brackets)
LEGACY_REG_DEVICE_FEATURES = 0x00  # [32] RO
LEGACY_REG_DRIVER_FEATURES = 0x04  # [32] RW
LEGACY_REG_QUEUE_ADDRESS = 0x08  # [32] RW, page frame number of the selected queue (0: inactive)
LEGACY_REG_QUEUE_SIZE = 0x0C  # [16] RO
LEGACY_REG_QUEUE_SELECT = 0x0E  # [16] RW
LEGACY_REG_QUEUE_NOTIFY = 0x10  # [16] RW
LEGACY_REG_DEVICE_STATUS = 0x12  # [8]  RW, 0 = reset
LEGACY_REG_ISR_STATUS = 0x13  # [8]  RO, read-to-clear
LEGACY_REG_CONFIG_MSIX_VECTOR = 0x14  # [16] RW, only while MSI-X is enabled
LEGACY_REG_QUEUE_MSIX_VECTOR = 0x16  # [16] RW, only while MSI-X is enabled

# 5.1.6 Device Operation: struct virtio_net_hdr before every packet; 10 bytes in the legacy layout without
# VIRTIO_NET_F_MRG_RXBUF (5.1.6.1 Legacy Interface), 12 with it (num_buffers le16 at byte 10); received
# packets carry flags 0 (no VIRTIO_NET_HDR_F_NEEDS_CSUM unless GUEST_CSUM) and gso_type 0 (GSO_NONE)
VIRTIO_NET_F_MRG_RXBUF = 15
VIRTIO_NET_HDR_LEN = 10
VIRTIO_NET_HDR_MRG_LEN = 12
VIRTIO_NET_HDR_GSO_NONE = 0
RECEIVEQ, TRANSMITQ = 0, 1  # 5.1.2 Virtqueues: receiveq1, transmitq1

# 6.3 Legacy Interface: Reserved Feature Bits; 6 Reserved Feature Bits
VIRTIO_F_NOTIFY_ON_EMPTY = 24
VIRTIO_F_INDIRECT_DESC = 28
# 6 Reserved Feature Bits: VIRTIO_F_EVENT_IDX (29), "enables the used_event and the avail_event fields" (2.7.7,
# 2.7.10); the ring index comparison the spec gives with it is ``vring_need_event`` below
VIRTIO_F_EVENT_IDX = 29


def vring_need_event(event_idx: int, new_idx: int, old: int) -> bool:
    """2.7.7.2 / 2.7.10.2 (the spec's C helper, in u16): after an index moved from ``old`` to ``new_idx``, was the
    other side's event index crossed, i.e. is ``event_idx`` in [old, new_idx) modulo 2^16?"""
    return (new_idx - event_idx - 1) & 0xFFFF < (new_idx - old) & 0xFFFF


class SplitLayout:
    """Byte offsets of a split virtqueue of ``size`` entries from its descriptor table.

    Legacy (2.7.2): one block, the available ring right after the descriptors, the used ring at the next
    ``align`` boundary. Modern (4.1.4.3: queue_desc, queue_driver, queue_device are given apart): ``avail`` and
    ``used`` are the offsets of the driver and device areas from the descriptor table (either may be negative).
    Plain attributes, computed once: the checkers look addresses up on every memory access.
    """

    def __init__(self, size: int, align: int = LEGACY_QUEUE_ALIGN, avail: int | None = None, used: int | None = None):
        self.size = size
        self.align = align
        self.split = avail is not None or used is not None  # the parts were placed apart (modern)
        # the descriptor table: Queue Size descriptors
        self.desc_table = 0
        self.desc_end = DESC_SIZE * size
        # the available ring follows it: flags, idx, ring[Queue Size], used_event
        self.avail = self.desc_end if avail is None else avail
        self.avail_flags = self.avail
        self.avail_idx = self.avail + 2
        self.avail_ring0 = self.avail + 4
        self.used_event = self.avail_ring0 + 2 * size
        self.avail_end = self.used_event + 2
        # the used ring starts at the next Queue Align boundary: flags, idx, ring[Queue Size], avail_event
        self.used = -(-self.avail_end // align) * align if used is None else used
        self.used_flags = self.used
        self.used_idx = self.used + 2
        self.used_elem0 = self.used + 4
        self.avail_event = self.used_elem0 + USED_ELEM_SIZE * size
        self.used_end = self.avail_event + 2
        # one past the last byte the queue uses (legacy: the block's end)
        self.end = max(self.desc_end, self.avail_end, self.used_end)
        self.start = min(0, self.avail, self.used)

    def desc(self, i: int) -> int:
        return self.desc_table + DESC_SIZE * i

    def avail_ring(self, slot: int) -> int:
        return self.avail_ring0 + 2 * slot

    def used_elem(self, slot: int) -> int:
        return self.used_elem0 + USED_ELEM_SIZE * slot


# 2.1 Device Status Field
STATUS_ACKNOWLEDGE = 1
STATUS_DRIVER = 2
STATUS_DRIVER_OK = 4
STATUS_FEATURES_OK = 8
STATUS_DEVICE_NEEDS_RESET = 0x40
STATUS_FAILED = 0x80
# 6 Reserved Feature Bits: VIRTIO_F_VERSION_1 ("compliance with this specification")
VIRTIO_F_VERSION_1 = 32

# 4.1.4 Virtio Structure PCI Capabilities: struct virtio_pci_cap in a vendor-specific capability (id 0x09):
# cap_vndr, cap_next, cap_len, cfg_type (u8 at 3), bar (u8 at 4), id, padding, offset (le32 at 8), length
# (le32 at 12); the notification capability adds notify_off_multiplier (le32 at 16)
PCI_CAP_ID_VNDR = 0x09
PCI_CAPABILITY_LIST = 0x34
VIRTIO_PCI_CAP_COMMON_CFG = 1
VIRTIO_PCI_CAP_NOTIFY_CFG = 2
VIRTIO_PCI_CAP_ISR_CFG = 3
VIRTIO_PCI_CAP_DEVICE_CFG = 4
VIRTIO_PCI_CAP_PCI_CFG = 5
CAP_CFG_TYPE, CAP_BAR, CAP_OFFSET, CAP_LENGTH, CAP_NOTIFY_OFF_MULTIPLIER = 3, 4, 8, 12, 16

# 4.1.4.3 struct virtio_pci_common_cfg (offsets in the common configuration structure)
COMMON_DEVICE_FEATURE_SELECT = 0x00  # le32
COMMON_DEVICE_FEATURE = 0x04  # le32, RO
COMMON_DRIVER_FEATURE_SELECT = 0x08  # le32
COMMON_DRIVER_FEATURE = 0x0C  # le32
COMMON_CONFIG_MSIX_VECTOR = 0x10  # le16
COMMON_NUM_QUEUES = 0x12  # le16, RO
COMMON_DEVICE_STATUS = 0x14  # u8
COMMON_CONFIG_GENERATION = 0x15  # u8, RO
COMMON_QUEUE_SELECT = 0x16  # le16
COMMON_QUEUE_SIZE = 0x18  # le16
COMMON_QUEUE_MSIX_VECTOR = 0x1A  # le16
COMMON_QUEUE_ENABLE = 0x1C  # le16
COMMON_QUEUE_NOTIFY_OFF = 0x1E  # le16, RO
COMMON_QUEUE_DESC = 0x20  # le64 (two le32 halves)
COMMON_QUEUE_DRIVER = 0x28  # le64
COMMON_QUEUE_DEVICE = 0x30  # le64
COMMON_CFG_SIZE = 0x38
