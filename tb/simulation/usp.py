"""Wire a DUT with the Xilinx UltraScale+ PCIe user interface to cocotbext-pcie's hard-block model.

Simulation only. The DUT's ports keep their Xilinx names (``s_axis_cq_*``, ``m_axis_cc_*``, ``m_axis_rq_*``,
``s_axis_rc_*``, ``cfg_*``); every optional ``cfg_*`` port that the DUT has is connected, the rest are
left to the model's defaults. Used by the system platform and by the block testbenches alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cocotbext.axi import AxiStreamBus  # type: ignore[import-untyped]  # ships no type information
from cocotbext.pcie.core import RootComplex  # type: ignore[import-untyped]  # ships no type information
from cocotbext.pcie.xilinx.us import UltraScalePlusPcieDevice  # type: ignore[import-untyped]  # ships no type information

from sim.device import DeviceDescription, VirtioModern
from sim.device import load as load_description
from tb.simulation.usp_fast import EventDrivenUspDevice
from tb.simulation.virtio_caps import install as install_virtio_caps

# data width -> (PCIe generation, lanes) of a valid US+ configuration at a 250 MHz user clock
USP_LINK_FOR_WIDTH = {64: (3, 2), 128: (3, 4), 256: (3, 8)}

# cfg_* ports the model drives or samples, connected when the DUT has them
CFG_PORTS = (
    "cfg_max_payload",
    "cfg_max_read_req",
    "cfg_rcb_status",
    "cfg_function_status",
    "cfg_interrupt_msix_enable",
    "cfg_interrupt_msix_mask",
    "cfg_interrupt_msix_address",
    "cfg_interrupt_msix_data",
    "cfg_interrupt_msix_int",
    "cfg_interrupt_msix_sent",
    "cfg_interrupt_msix_fail",
    "cfg_interrupt_msi_function_number",
    "cfg_interrupt_msix_vec_pending",
    "cfg_interrupt_msix_vec_pending_status",
    "pcie_rq_seq_num0",
    "pcie_rq_seq_num_vld0",
    "pcie_rq_seq_num1",
    "pcie_rq_seq_num_vld1",
    "cfg_local_error_out",
    "cfg_local_error_valid",
)


_DESC = load_description()

# PCI Express Capability, Device/Port Type: a (native) PCI Express Endpoint, or a Legacy PCI Express
# Endpoint (the only kind of endpoint the UltraScale+ IP lets have an I/O BAR; hdl/README.md)
PCIE_TYPE_ENDPOINT = 0x0
PCIE_TYPE_LEGACY_ENDPOINT = 0x1


@dataclass
class UspConfig:
    """Settings of the hard-block model: the one place that says what each BAR is. The defaults are the
    device description (hdl/device.toml); block testbenches override single fields (no BARs, no MSI-X ...).

    ``virtio`` places the modern interface's regions (``hdl/device.toml`` [virtio]): its virtio_pci_cap
    structures go into the function's config space (``tb/simulation/virtio_caps.py``) when the function has
    that BAR; None (or a configuration without the BAR) gives a legacy-only function.

    ``bar0_io`` makes BAR0 an I/O BAR of ``bar0_io_size`` bytes (the legacy virtio register block in I/O
    space, as the virtio spec asks of a transitional device), which also makes the function a Legacy PCI
    Express Endpoint, as the IP requires. The RTL must be built to match (``virtio_net_usp`` parameter
    ``BAR0_IO``): ``for_dut`` reads it.
    """

    vendor_id: int = _DESC.vendor_id
    device_id: int = _DESC.device_id
    subsystem_vendor_id: int = _DESC.subsystem_vendor_id
    subsystem_id: int = _DESC.subsystem_id
    revision_id: int = _DESC.revision_id
    class_code: int = _DESC.class_code
    # BAR index -> size in bytes (32-bit non-prefetchable BARs; the indices in io_bars are I/O BARs)
    bars: tuple[tuple[int, int], ...] = tuple((b.index, b.size) for b in _DESC.bars)
    msix_vectors: int = _DESC.msix_vectors
    msix_bar: int = _DESC.msix_bar
    msix_table_offset: int = _DESC.msix_table_offset
    msix_pba_offset: int = _DESC.msix_pba_offset
    max_payload_size: int = _DESC.max_payload_supported  # what the device advertises as supported
    io_bars: tuple[int, ...] = tuple(b.index for b in _DESC.bars if b.kind == "io" and b.index != 0)
    # BAR0 in I/O space: the legacy block (0x14 bytes, +4 with MSI-X) and the device config fit in 64 bytes
    bar0_io: bool = any(b.kind == "io" for b in _DESC.bars if b.index == 0)
    bar0_io_size: int = next((b.size for b in _DESC.bars if b.index == 0 and b.kind == "io"), 64)
    interrupt_pin: int = _DESC.interrupt_pin_number  # 0 = none, 1 = INTA
    extended_tag: bool = _DESC.extended_tag
    # the link the description's data width runs at; a DUT built at another width gets USP_LINK_FOR_WIDTH
    data_width: int = _DESC.data_width
    link_generation: int = _DESC.link_generation
    link_lanes: int = _DESC.link_lanes
    user_clk_mhz: int = _DESC.user_clk_mhz
    virtio: VirtioModern | None = _DESC.virtio

    @classmethod
    def from_description(cls, desc: DeviceDescription) -> UspConfig:
        return cls(
            vendor_id=desc.vendor_id,
            device_id=desc.device_id,
            subsystem_vendor_id=desc.subsystem_vendor_id,
            subsystem_id=desc.subsystem_id,
            revision_id=desc.revision_id,
            class_code=desc.class_code,
            bars=tuple((b.index, b.size) for b in desc.bars),
            msix_vectors=desc.msix_vectors,
            msix_bar=desc.msix_bar,
            msix_table_offset=desc.msix_table_offset,
            msix_pba_offset=desc.msix_pba_offset,
            max_payload_size=desc.max_payload_supported,
            io_bars=tuple(b.index for b in desc.bars if b.kind == "io" and b.index != 0),
            bar0_io=any(b.kind == "io" for b in desc.bars if b.index == 0),
            bar0_io_size=next((b.size for b in desc.bars if b.index == 0 and b.kind == "io"), 64),
            interrupt_pin=desc.interrupt_pin_number,
            extended_tag=desc.extended_tag,
            data_width=desc.data_width,
            link_generation=desc.link_generation,
            link_lanes=desc.link_lanes,
            user_clk_mhz=desc.user_clk_mhz,
            virtio=desc.virtio,
        )

    @classmethod
    def for_dut(cls, dut, **kw) -> UspConfig:
        """The configuration the DUT was built for: BAR0 in I/O space when it has ``BAR0_IO`` = 1."""
        param = _port(dut, "BAR0_IO")
        if param is not None and "bar0_io" not in kw:
            kw["bar0_io"] = bool(int(param.value))
        return cls(**kw)

    def bar_layout(self) -> tuple[tuple[int, int, bool], ...]:
        """(index, size, is_io) of every BAR the function has."""
        out = []
        for index, size in self.bars:
            if index == 0 and self.bar0_io:
                out.append((0, self.bar0_io_size, True))
            else:
                out.append((index, size, index in self.io_bars))
        return tuple(out)

    def bar_size(self, bar: int) -> int:
        return next((size for index, size, _io in self.bar_layout() if index == bar), 0)

    def bar_is_io(self, bar: int) -> bool:
        return any(io for index, _size, io in self.bar_layout() if index == bar)

    @property
    def virtio_caps(self) -> VirtioModern | None:
        """The modern interface's regions, when the function has their BAR (else no virtio capability)."""
        v = self.virtio
        return v if v is not None and self.bar_size(v.bar) and not self.bar_is_io(v.bar) else None

    @property
    def pcie_device_type(self) -> int:
        return PCIE_TYPE_LEGACY_ENDPOINT if any(io for *_x, io in self.bar_layout()) else PCIE_TYPE_ENDPOINT


def model_settings(cfg: UspConfig, data_width: int) -> dict:
    """Everything the model is configured with, by the name it has in UltraScalePlusPcieDevice (device
    arguments) or in its function 0 (``f.*``; ``f.bars`` as (index, size, io) for configure_bar)."""
    if data_width == cfg.data_width:
        gen, lanes = cfg.link_generation, cfg.link_lanes
    elif data_width in USP_LINK_FOR_WIDTH:
        gen, lanes = USP_LINK_FOR_WIDTH[data_width]
    else:
        raise ValueError(f"PCIe data width {data_width} not supported by this harness (64, 128 or 256)")
    return {
        "pcie_generation": gen,
        "pcie_link_width": lanes,
        "user_clk_frequency": cfg.user_clk_mhz * 1e6,
        "alignment": "dword",
        "pf_count": 1,
        "max_payload_size": cfg.max_payload_size,
        "enable_client_tag": True,
        "enable_extended_tag": cfg.extended_tag,
        "pf0_msi_enable": False,
        "pf0_msix_enable": cfg.msix_vectors > 0,
        "pf0_msix_table_size": max(cfg.msix_vectors - 1, 0),
        "pf0_msix_table_bir": cfg.msix_bar,
        "pf0_msix_table_offset": cfg.msix_table_offset,
        "pf0_msix_pba_bir": cfg.msix_bar,
        "pf0_msix_pba_offset": cfg.msix_pba_offset,
        "f.vendor_id": cfg.vendor_id,
        "f.device_id": cfg.device_id,
        "f.subsystem_vendor_id": cfg.subsystem_vendor_id,
        "f.subsystem_id": cfg.subsystem_id,
        "f.revision_id": cfg.revision_id,
        "f.class_code": cfg.class_code,
        "f.interrupt_pin": cfg.interrupt_pin,
        "f.bars": cfg.bar_layout(),
        "f.pcie_cap.pcie_device_type": cfg.pcie_device_type,
    }


def _port(dut, name: str):
    return dut._get(name)  # None when the DUT has no such port


def connect_usp(
    dut, cfg: UspConfig | None = None, log_level: int = logging.WARNING
) -> tuple[RootComplex, UltraScalePlusPcieDevice]:
    """Create the root complex and the US+ model, connect them to ``dut``; return (rc, dev)."""
    cfg = cfg or UspConfig()
    settings = model_settings(cfg, len(dut.s_axis_cq_tdata))
    rc = RootComplex()
    kwargs = {name: _port(dut, name) for name in CFG_PORTS if _port(dut, name) is not None}
    dev = EventDrivenUspDevice(
        **{k: v for k, v in settings.items() if not k.startswith("f.")},
        user_clk=dut.user_clk,
        user_reset=dut.user_reset,
        rq_bus=AxiStreamBus.from_prefix(dut, "m_axis_rq"),
        rc_bus=AxiStreamBus.from_prefix(dut, "s_axis_rc"),
        cq_bus=AxiStreamBus.from_prefix(dut, "s_axis_cq"),
        cc_bus=AxiStreamBus.from_prefix(dut, "m_axis_cc"),
        **kwargs,
    )
    for name in ("cocotb.pcie", "cocotbext.pcie"):
        logging.getLogger(name).setLevel(log_level)
    dev.log.setLevel(log_level)
    # enumeration probes 32 device numbers and warns for each empty one
    rc.log.setLevel(max(log_level, logging.ERROR))
    # the stream models log every TLP frame at INFO (about 4x slower with it on)
    for name in ("rq_sink", "rc_source", "cq_source", "cc_sink"):
        stream = getattr(dev, name, None)
        if stream is not None:
            stream.log.setLevel(log_level)
    f = dev.functions[0]
    for name, value in settings.items():
        if name.startswith("f.pcie_cap."):
            setattr(f.pcie_cap, name[len("f.pcie_cap.") :], value)
        elif name.startswith("f.") and name != "f.bars":
            setattr(f, name[2:], value)
    for index, size, io in settings["f.bars"]:
        f.configure_bar(index, size, io=io)
    # not a hard-block setting: the virtio capabilities are the device's own config-space structures (on a
    # real UltraScale+ behind its configuration-extension interface; hdl/README.md)
    if cfg.virtio_caps is not None:
        install_virtio_caps(dev, cfg.virtio_caps)
    rc.make_port().connect(dev)
    return rc, dev
