"""Where a modern virtio PCI function keeps its structures, as the checkers learn it without the driver.

The virtio 1.x structures (4.1.4) sit wherever the device's vendor-specific capabilities say: the common
configuration, the notifications (with their multiplier), the ISR and the device configuration, each a
(BAR, offset, length). The checkers learn them in one of two ways, never from the driver object:

* from the configuration reads they see (``CapSnoop.config``: every CfgRd a monitor reports, fed by
  ``CheckerSet.host_config``): the bytes read are kept, and the capability list is parsed from them as the
  specification lays it out (the list pointer at 0x34, ``struct virtio_pci_cap`` fields); the first
  capability of each type counts (4.1.4: "The driver SHOULD use the first instance of each virtio structure
  type they can support");
* from a description the platform gives (``CapSnoop.describe``: a bench that knows its device's layout).
"""

from __future__ import annotations

from dataclasses import dataclass

from tb.checkers.spec import (
    CAP_BAR,
    CAP_CFG_TYPE,
    CAP_LENGTH,
    CAP_NOTIFY_OFF_MULTIPLIER,
    CAP_OFFSET,
    PCI_CAP_ID_VNDR,
    PCI_CAPABILITY_LIST,
    VIRTIO_PCI_CAP_COMMON_CFG,
    VIRTIO_PCI_CAP_DEVICE_CFG,
    VIRTIO_PCI_CAP_ISR_CFG,
    VIRTIO_PCI_CAP_NOTIFY_CFG,
)


@dataclass(frozen=True)
class Structure:
    bar: int
    offset: int
    length: int
    multiplier: int = 0  # notify_off_multiplier (the notification structure only)

    def rel(self, bar: int, offset: int) -> int | None:
        """``offset`` in BAR ``bar`` as an offset into this structure (None: outside it)."""
        if bar == self.bar and self.offset <= offset < self.offset + self.length:
            return offset - self.offset
        return None


class CapSnoop:
    def __init__(self) -> None:
        self.cfg: dict[int, int] = {}  # configuration-space byte -> value, as read
        self.structs: dict[int, Structure] = {}  # cfg_type -> the first structure of that type
        self.described = False

    @property
    def common(self) -> Structure | None:
        return self.structs.get(VIRTIO_PCI_CAP_COMMON_CFG)

    @property
    def notify(self) -> Structure | None:
        return self.structs.get(VIRTIO_PCI_CAP_NOTIFY_CFG)

    @property
    def isr(self) -> Structure | None:
        return self.structs.get(VIRTIO_PCI_CAP_ISR_CFG)

    @property
    def device(self) -> Structure | None:
        return self.structs.get(VIRTIO_PCI_CAP_DEVICE_CFG)

    def describe(self, structs: dict[int, Structure]) -> None:
        """The platform's description of the structures (cfg_type -> Structure); the snoop is not needed."""
        self.structs = dict(structs)
        self.described = True

    def config(self, write: bool, offset: int, size: int, value: int) -> None:
        """One configuration access; a read teaches the bytes it returned."""
        if write:
            return
        for i in range(size):
            self.cfg[offset + i] = value >> (8 * i) & 0xFF
        if not self.described:
            self._parse()

    def _byte(self, off: int) -> int | None:
        return self.cfg.get(off)

    def _int(self, off: int, size: int) -> int | None:
        out = 0
        for i in range(size):
            b = self.cfg.get(off + i)
            if b is None:
                return None
            out |= b << (8 * i)
        return out

    def _parse(self) -> None:
        structs: dict[int, Structure] = {}
        pos = self._byte(PCI_CAPABILITY_LIST)
        for _ in range(48):
            if pos is None or pos < 0x40:
                break
            pos &= ~3
            cap_id, nxt = self._byte(pos), self._byte(pos + 1)
            if cap_id == PCI_CAP_ID_VNDR:
                typ, bar = self._byte(pos + CAP_CFG_TYPE), self._byte(pos + CAP_BAR)
                offset, length = self._int(pos + CAP_OFFSET, 4), self._int(pos + CAP_LENGTH, 4)
                if None not in (typ, bar, offset, length) and typ not in structs and bar is not None and bar < 6:
                    mult = 0
                    if typ == VIRTIO_PCI_CAP_NOTIFY_CFG:
                        m = self._int(pos + CAP_NOTIFY_OFF_MULTIPLIER, 4)
                        if m is None:
                            pos = nxt
                            continue
                        mult = m
                    assert typ is not None and offset is not None and length is not None
                    structs[typ] = Structure(bar, offset, length, mult)
            pos = nxt
        self.structs = structs
