"""The virtio 1.x PCI capabilities of the simulated function (virtio 1.2 4.1.4), in the config space of
cocotbext-pcie's UltraScale+ function model.

Simulation only. The model's config space is Python: config reads and writes never reach the DUT (its
``cfg_ext_*`` interface is not modelled), so the vendor-specific capabilities (cap ID 0x09, struct
virtio_pci_cap) are registered here on the model's function, chained into its capability list, and point at
the regions of the DUT's modern BAR that the device description names (``hdl/device.toml`` [virtio]). On a
real UltraScale+ hard block the same structures need the configuration-extension interface and a little
FPGA logic: hdl/README.md, "The modern interface's capabilities".

Placement (byte offsets in config space; the model's own capabilities are PM 0x40, MSI 0x48 (removed: the
function has no MSI), MSI-X 0x60, PCI Express 0x70-0xAB): the four structure capabilities in 0xAC-0xEF, the
PCI configuration access capability in the 24 bytes MSI leaves free at 0x48. The list is kept sorted by
offset, so the chain is PM, PCI_CFG, MSI-X, PCI Express, COMMON, NOTIFY, ISR, DEVICE.

VIRTIO_PCI_CAP_PCI_CFG: the driver writes cap.bar, cap.offset and cap.length (1, 2 or 4), then a config
write of pci_cfg_data writes that many bytes to the BAR and a config read of it reads them. The window
performs the access on the device's own completer path: a memory request enters the hard block's CQ
interface as if from the link, and the completion the DUT answers with on CC is taken back here instead of
going upstream, so the access takes exactly the register path a BAR access takes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from cocotb.triggers import Event, with_timeout
from cocotbext.pcie.core.caps import PciCap, PciCapId  # type: ignore[import-untyped]  # ships no type information
from cocotbext.pcie.core.tlp import Tlp, TlpType  # type: ignore[import-untyped]  # ships no type information
from cocotbext.pcie.core.utils import PcieId  # type: ignore[import-untyped]  # ships no type information

from sim.device import VirtioModern

# struct virtio_pci_cap cfg_type
VIRTIO_PCI_CAP_COMMON_CFG = 1
VIRTIO_PCI_CAP_NOTIFY_CFG = 2
VIRTIO_PCI_CAP_ISR_CFG = 3
VIRTIO_PCI_CAP_DEVICE_CFG = 4
VIRTIO_PCI_CAP_PCI_CFG = 5

# config-space byte offsets of the capabilities in the model (see the module text)
CAP_OFFSETS = {
    VIRTIO_PCI_CAP_PCI_CFG: 0x48,
    VIRTIO_PCI_CAP_COMMON_CFG: 0xAC,
    VIRTIO_PCI_CAP_NOTIFY_CFG: 0xBC,
    VIRTIO_PCI_CAP_ISR_CFG: 0xD0,
    VIRTIO_PCI_CAP_DEVICE_CFG: 0xE0,
}

# requester ID and tag of the window's own requests (the DUT echoes both in its completion)
WINDOW_REQUESTER = PcieId(0xFF, 0x1F, 0x7)
WINDOW_TAG = 0x5A
WINDOW_TIMEOUT_NS = 20_000


@dataclass(frozen=True)
class CapLayout:
    """One virtio_pci_cap as a driver finds it: where it is and what it points at."""

    cfg_type: int
    cap_offset: int
    bar: int
    offset: int
    length: int
    notify_off_multiplier: int | None = None


def cap_layouts(v: VirtioModern) -> list[CapLayout]:
    """Every capability the function carries for the description ``v``, in config-space order."""
    caps = [
        CapLayout(VIRTIO_PCI_CAP_COMMON_CFG, CAP_OFFSETS[VIRTIO_PCI_CAP_COMMON_CFG], v.bar, *v.common),
        CapLayout(
            VIRTIO_PCI_CAP_NOTIFY_CFG,
            CAP_OFFSETS[VIRTIO_PCI_CAP_NOTIFY_CFG],
            v.bar,
            *v.notify,
            notify_off_multiplier=v.notify_off_multiplier,
        ),
        CapLayout(VIRTIO_PCI_CAP_ISR_CFG, CAP_OFFSETS[VIRTIO_PCI_CAP_ISR_CFG], v.bar, *v.isr),
        CapLayout(VIRTIO_PCI_CAP_DEVICE_CFG, CAP_OFFSETS[VIRTIO_PCI_CAP_DEVICE_CFG], v.bar, *v.device),
        # the window's bar / offset / length are the driver's to write
        CapLayout(VIRTIO_PCI_CAP_PCI_CFG, CAP_OFFSETS[VIRTIO_PCI_CAP_PCI_CFG], 0, 0, 0),
    ]
    return sorted(caps, key=lambda c: c.cap_offset)


class VirtioPciCap(PciCap):
    """struct virtio_pci_cap (16 bytes), with notify_off_multiplier (20 bytes) for the notify capability.
    Read-only; cap_vndr and cap_next come from PciCap."""

    def __init__(self, layout: CapLayout):
        super().__init__()
        self.cap_id = PciCapId.VNDR
        self.layout = layout
        self.cap_len = 20 if layout.notify_off_multiplier is not None else 16
        self.length = self.cap_len // 4  # dwords

    async def _read_register(self, reg: int) -> int:
        c = self.layout
        if reg == 0:  # cap_vndr, cap_next (filled in by PciCap), cap_len, cfg_type
            return (c.cfg_type & 0xFF) << 24 | self.cap_len << 16
        if reg == 1:  # bar, id (0: the only one of its type), padding
            return c.bar & 0xFF
        if reg == 2:
            return c.offset
        if reg == 3:
            return c.length
        if reg == 4 and c.notify_off_multiplier is not None:
            return c.notify_off_multiplier
        return 0

    async def _write_register(self, reg: int, data: int, mask: int) -> None:
        pass  # read-only


class VirtioPciCfgCap(PciCap):
    """struct virtio_pci_cfg_cap: a virtio_pci_cap whose bar, offset and length the driver writes, and
    pci_cfg_data, a 4-byte window through which a config access becomes an access to that BAR."""

    def __init__(self, layout: CapLayout, window: PciCfgWindow):
        super().__init__()
        self.cap_id = PciCapId.VNDR
        self.layout = layout
        self.length = 5  # dwords: 20 bytes
        self.window = window
        # cap.bar, cap.offset, cap.length and pci_cfg_data as the driver wrote them (not PciCap.offset: that is
        # where the capability sits in config space)
        self.win_bar = 0
        self.win_offset = 0
        self.win_len = 0
        self.win_data = 0

    async def _read_register(self, reg: int) -> int:
        if reg == 0:
            return VIRTIO_PCI_CAP_PCI_CFG << 24 | 20 << 16
        if reg == 1:
            return self.win_bar
        if reg == 2:
            return self.win_offset
        if reg == 3:
            return self.win_len
        if reg == 4:
            if self._valid():
                value = await self.window.read(self.win_bar, self.win_offset, self.win_len)
                self.win_data = value
            return self.win_data
        return 0

    async def _write_register(self, reg: int, data: int, mask: int) -> None:

        def merge(old: int) -> int:
            for b in range(4):
                if mask & (1 << b):
                    old = (old & ~(0xFF << 8 * b)) | (data & (0xFF << 8 * b))
            return old

        if reg == 1 and mask & 1:
            self.win_bar = data & 0xFF
        elif reg == 2:
            self.win_offset = merge(self.win_offset)
        elif reg == 3:
            self.win_len = merge(self.win_len)
        elif reg == 4:
            self.win_data = merge(self.win_data)
            if self._valid():
                await self.window.write(self.win_bar, self.win_offset, self.win_len, self.win_data)

    def _valid(self) -> bool:
        """cap.length 1, 2 or 4 and cap.offset aligned to it (virtio 1.2 4.1.4.9); else nothing happens."""
        return (
            self.win_len in (1, 2, 4)
            and self.win_offset % self.win_len == 0
            and self.window.bar_base(self.win_bar) is not None
        )


class PciCfgWindow:
    """BAR accesses on the hard-block model's completer path (CQ in, CC out), answered back to the caller."""

    def __init__(self, dev: Any):
        self.dev = dev
        self.func = dev.functions[0]
        self._cpl: Any = None
        self._cpl_event: Any = None
        send = dev.send

        async def send_upstream(tlp: Any) -> None:
            # the DUT's completion of a window request goes back to the window, not to the link
            if tlp.requester_id == WINDOW_REQUESTER and tlp.tag == WINDOW_TAG and self._cpl_event is not None:
                self._cpl = tlp
                self._cpl_event.set()
                return
            await send(tlp)

        dev.send = send_upstream

    def bar_base(self, bar: int) -> int | None:
        """The BAR's address as the host programmed it; None for a BAR the function lacks or an I/O BAR."""
        if not 0 <= bar <= 5:
            return None
        raw = self.func.bar[bar]
        if not self.func.bar_mask[bar] or raw & 1:
            return None
        return raw & ~0xF

    def _request(self, kind: Any, addr: int, length: int, data: bytes | None = None) -> Any:
        tlp = Tlp()
        tlp.fmt_type = kind
        tlp.requester_id = WINDOW_REQUESTER
        tlp.tag = WINDOW_TAG
        if data is None:
            tlp.set_addr_be(addr, length)
        else:
            tlp.set_addr_be_data(addr, data)
        return tlp

    async def read(self, bar: int, offset: int, length: int) -> int:
        base = self.bar_base(bar)
        assert base is not None
        self._cpl_event = Event()
        self._cpl = None
        await self.dev.upstream_recv(self._request(TlpType.MEM_READ, base + offset, length))
        try:
            await with_timeout(self._cpl_event.wait(), WINDOW_TIMEOUT_NS, "ns")
        finally:
            self._cpl_event = None
        cpl = self._cpl
        if cpl is None or cpl.fmt_type != TlpType.CPL_DATA:
            return 0xFFFFFFFF >> (8 * (4 - length))  # no data: all ones, as a failed read gives
        lane = offset & 3  # the completion carries the whole dword
        return int.from_bytes(cpl.get_data()[lane : lane + length], "little")

    async def write(self, bar: int, offset: int, length: int, value: int) -> None:
        base = self.bar_base(bar)
        assert base is not None
        data = (value & ((1 << 8 * length) - 1)).to_bytes(length, "little")
        await self.dev.upstream_recv(self._request(TlpType.MEM_WRITE, base + offset, length, data))


def install(dev: Any, v: VirtioModern) -> list[PciCap]:
    """Register the virtio capabilities on ``dev``'s function 0 (a cocotbext-pcie US+ model that has the
    BAR ``v.bar``); returns them in config-space order."""
    f = dev.functions[0]
    window = PciCfgWindow(dev)
    caps: list[PciCap] = []
    for layout in cap_layouts(v):
        cap = VirtioPciCfgCap(layout, window) if layout.cfg_type == VIRTIO_PCI_CAP_PCI_CFG else VirtioPciCap(layout)
        used = [
            c
            for c in f.capabilities.list
            if c.offset * 4 < layout.cap_offset + 4 * cap.length and layout.cap_offset < (c.offset + c.length) * 4
        ]
        if used:  # e.g. MSI at 0x48: the PCI_CFG capability needs the function without MSI
            raise ValueError(f"config space {layout.cap_offset:#x} is taken by {used[0]!r}")
        f.register_capability(cap, offset=layout.cap_offset // 4)
        caps.append(cap)
    logging.getLogger("tb.simulation.virtio_caps").debug("virtio capabilities at %s", [hex(c.offset * 4) for c in caps])
    return caps
