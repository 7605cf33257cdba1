"""Every split-virtqueue layout in the project agrees with the others, for every queue size up to 32768.

Five implementations, written apart on purpose: the driver's (tb/driver/virtio_ring.py, as Linux has it),
the checkers' (tb/checkers/spec.py, from the virtio specification), the model device's
(tb/platform/model.py), the block tests' ring builder (tests/sim/vring_builder.py) and the conformance tests'
driver written from the spec (tests/sim/spec_driver.py). The checkers are only
worth something if they do not share the driver's mistakes, so each has its own code; this test is where
they must meet. The flag bits and the legacy register offsets are compared the same way.
"""

from __future__ import annotations

import pytest

from tb.checkers import spec
from tb.driver import virtio_pci, virtio_ring
from tb.platform import model
from tests.sim import spec_driver, vring_builder

SIZES = [1 << k for k in range(16)]       # 1 .. 32768
BASE = 0x1234_5000


@pytest.mark.parametrize("size", SIZES)
def test_ring_layouts_agree(size: int) -> None:
    drv = virtio_ring.VringLayout(size)
    chk = spec.SplitLayout(size)
    mdl = model.RingAddrs(BASE, size)
    b_desc, b_avail, b_used, b_size = vring_builder.vring_layout(BASE, size)
    sd = spec_driver.SpecTxQueue(size, mem=None)  # type: ignore[arg-type]  # the layout needs no memory
    last = size - 1
    # the three parts
    assert (drv.desc, drv.avail, drv.used) == (chk.desc_table, chk.avail, chk.used), size
    assert (mdl.desc - BASE, mdl.avail - BASE, mdl.used - BASE) == (chk.desc_table, chk.avail, chk.used), size
    assert (b_desc - BASE, b_avail - BASE, b_used - BASE) == (chk.desc_table, chk.avail, chk.used), size
    assert (sd.avail, sd.used) == (chk.avail, chk.used), size
    # the spec's own size formula rounds the used ring up to the alignment too
    assert spec_driver.SpecTxQueue.bytes_for(size) == -(-chk.end // chk.align) * chk.align, size
    # the fields the driver and the checkers address one by one
    assert [drv.desc_entry(i) for i in (0, 1, last)] == [chk.desc(i) for i in (0, 1, last)]
    assert (drv.avail_flags, drv.avail_idx, drv.used_flags, drv.used_idx) == \
        (chk.avail_flags, chk.avail_idx, chk.used_flags, chk.used_idx)
    assert [drv.avail_ring(s) for s in (0, 1, last)] == [chk.avail_ring(s) for s in (0, 1, last)]
    assert [drv.used_elem(s) for s in (0, 1, last)] == [chk.used_elem(s) for s in (0, 1, last)]
    # EVENT_IDX: used_event after the avail ring, avail_event after the used ring
    assert (drv.used_event, drv.avail_event) == (chk.used_event, chk.avail_event), size
    assert [mdl.avail_ring(s) - BASE for s in (0, last)] == [chk.avail_ring(s) for s in (0, last)]
    assert [mdl.used_elem(s) - BASE for s in (0, last)] == [chk.used_elem(s) for s in (0, last)]
    # what the driver allocates covers what the checkers watch, and the builder's block is the same size
    assert virtio_ring.vring_size(size) == chk.end == b_size, size


def test_flags_and_registers_agree() -> None:
    assert (virtio_ring.VRING_DESC_F_NEXT, virtio_ring.VRING_DESC_F_WRITE, virtio_ring.VRING_DESC_F_INDIRECT) == \
        (spec.VIRTQ_DESC_F_NEXT, spec.VIRTQ_DESC_F_WRITE, spec.VIRTQ_DESC_F_INDIRECT) == \
        (vring_builder.VRING_DESC_F_NEXT, vring_builder.VRING_DESC_F_WRITE, vring_builder.VRING_DESC_F_INDIRECT) == \
        (model.VIRTQ_DESC_F_NEXT, model.VIRTQ_DESC_F_WRITE, model.VIRTQ_DESC_F_INDIRECT)
    assert virtio_ring.VRING_AVAIL_F_NO_INTERRUPT == spec.VIRTQ_AVAIL_F_NO_INTERRUPT == \
        vring_builder.VRING_AVAIL_F_NO_INTERRUPT == model.VIRTQ_AVAIL_F_NO_INTERRUPT
    assert virtio_ring.VRING_USED_F_NO_NOTIFY == spec.VIRTQ_USED_F_NO_NOTIFY == vring_builder.VRING_USED_F_NO_NOTIFY \
        == model.VIRTQ_USED_F_NO_NOTIFY
    assert virtio_ring.VIRTIO_PCI_VRING_ALIGN == spec.LEGACY_QUEUE_ALIGN == vring_builder.VRING_ALIGN
    assert virtio_pci.VIRTIO_PCI_QUEUE_ADDR_SHIFT == spec.LEGACY_PFN_SHIFT == model.LEGACY_PFN_SHIFT
    pairs = {
        "HOST_FEATURES": spec.LEGACY_REG_DEVICE_FEATURES, "GUEST_FEATURES": spec.LEGACY_REG_DRIVER_FEATURES,
        "QUEUE_PFN": spec.LEGACY_REG_QUEUE_ADDRESS, "QUEUE_NUM": spec.LEGACY_REG_QUEUE_SIZE,
        "QUEUE_SEL": spec.LEGACY_REG_QUEUE_SELECT, "QUEUE_NOTIFY": spec.LEGACY_REG_QUEUE_NOTIFY,
        "STATUS": spec.LEGACY_REG_DEVICE_STATUS, "ISR": spec.LEGACY_REG_ISR_STATUS,
    }
    for name, off in pairs.items():
        assert getattr(virtio_pci, f"VIRTIO_PCI_{name}") == off, name
    assert virtio_pci.VIRTIO_MSI_CONFIG_VECTOR == spec.LEGACY_REG_CONFIG_MSIX_VECTOR
    assert virtio_pci.VIRTIO_MSI_QUEUE_VECTOR == spec.LEGACY_REG_QUEUE_MSIX_VECTOR
    assert virtio_pci.VIRTIO_F_NOTIFY_ON_EMPTY == spec.VIRTIO_F_NOTIFY_ON_EMPTY == model.F_NOTIFY_ON_EMPTY
    assert virtio_pci.VIRTIO_RING_F_INDIRECT_DESC == spec.VIRTIO_F_INDIRECT_DESC == model.F_INDIRECT_DESC
    assert virtio_ring.VIRTIO_RING_F_EVENT_IDX == virtio_pci.VIRTIO_RING_F_EVENT_IDX == spec.VIRTIO_F_EVENT_IDX
    # the model device's register block, field by field (the spec's names on both sides)
    for field in ("DEVICE_FEATURES", "DRIVER_FEATURES", "QUEUE_ADDRESS", "QUEUE_SIZE", "QUEUE_SELECT", "QUEUE_NOTIFY",
                  "DEVICE_STATUS", "ISR_STATUS", "CONFIG_MSIX_VECTOR", "QUEUE_MSIX_VECTOR"):
        assert getattr(model, f"REG_{field}") == getattr(spec, f"LEGACY_REG_{field}"), field
    assert (model.CONFIG_WITHOUT_MSIX, model.CONFIG_WITH_MSIX) == \
        (virtio_pci.VIRTIO_PCI_CONFIG_OFF_NO_MSIX, virtio_pci.VIRTIO_PCI_CONFIG_OFF_MSIX)
