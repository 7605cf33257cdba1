"""Wire a DUT with the Xilinx UltraScale+ PCIe user interface to cocotbext-pcie's hard-block model.

Simulation only. The DUT's ports keep their Xilinx names (``s_axis_cq_*``, ``m_axis_cc_*``, ``m_axis_rq_*``,
``s_axis_rc_*``, ``cfg_*``); every optional ``cfg_*`` port that the DUT has is connected, the rest are
left to the model's defaults. Used by the system platform and by the block testbenches alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cocotbext.axi import AxiStreamBus
from cocotbext.pcie.core import RootComplex
from cocotbext.pcie.xilinx.us import UltraScalePlusPcieDevice

from tb.platform.device import DeviceDescription
from tb.platform.device import load as load_description
from tb.platform.usp_fast import EventDrivenUspDevice

# data width -> (PCIe generation, lanes) of a valid US+ configuration at a 250 MHz user clock
USP_LINK_FOR_WIDTH = {64: (3, 2), 128: (3, 4), 256: (3, 8)}

# cfg_* ports the model drives or samples, connected when the DUT has them
CFG_PORTS = (
    "cfg_max_payload", "cfg_max_read_req", "cfg_rcb_status", "cfg_function_status",
    "cfg_interrupt_msix_enable", "cfg_interrupt_msix_mask", "cfg_interrupt_msix_address",
    "cfg_interrupt_msix_data", "cfg_interrupt_msix_int", "cfg_interrupt_msix_sent",
    "cfg_interrupt_msix_fail", "cfg_interrupt_msi_function_number",
    "cfg_interrupt_msix_vec_pending", "cfg_interrupt_msix_vec_pending_status",
    "pcie_rq_seq_num0", "pcie_rq_seq_num_vld0", "pcie_rq_seq_num1", "pcie_rq_seq_num_vld1",
    "cfg_local_error_out", "cfg_local_error_valid",
)


_DESC = load_description()


@dataclass
class UspConfig:
    """Settings of the hard-block model. The defaults are the device description (hdl/device.toml);
    block testbenches override single fields (no BARs, no MSI-X ...)."""

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
    io_bars: tuple[int, ...] = tuple(b.index for b in _DESC.bars if b.kind == "io")
    interrupt_pin: int = _DESC.interrupt_pin_number      # 0 = none, 1 = INTA
    extended_tag: bool = _DESC.extended_tag
    # the link the description's data width runs at; a DUT built at another width gets USP_LINK_FOR_WIDTH
    data_width: int = _DESC.data_width
    link_generation: int = _DESC.link_generation
    link_lanes: int = _DESC.link_lanes
    user_clk_mhz: int = _DESC.user_clk_mhz

    @classmethod
    def from_description(cls, desc: DeviceDescription) -> UspConfig:
        return cls(
            vendor_id=desc.vendor_id, device_id=desc.device_id, subsystem_vendor_id=desc.subsystem_vendor_id,
            subsystem_id=desc.subsystem_id, revision_id=desc.revision_id, class_code=desc.class_code,
            bars=tuple((b.index, b.size) for b in desc.bars), msix_vectors=desc.msix_vectors,
            msix_bar=desc.msix_bar, msix_table_offset=desc.msix_table_offset,
            msix_pba_offset=desc.msix_pba_offset, max_payload_size=desc.max_payload_supported,
            io_bars=tuple(b.index for b in desc.bars if b.kind == "io"),
            interrupt_pin=desc.interrupt_pin_number, extended_tag=desc.extended_tag,
            data_width=desc.data_width, link_generation=desc.link_generation, link_lanes=desc.link_lanes,
            user_clk_mhz=desc.user_clk_mhz)


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
        "f.bars": tuple((index, size, index in cfg.io_bars) for index, size in cfg.bars),
    }


def _port(dut, name: str):
    return dut._get(name)  # None when the DUT has no such port


def connect_usp(dut, cfg: UspConfig | None = None, log_level: int = logging.WARNING
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
        if name.startswith("f.") and name != "f.bars":
            setattr(f, name[2:], value)
    for index, size, io in settings["f.bars"]:
        f.configure_bar(index, size, io=io)
    rc.make_port().connect(dev)
    return rc, dev
