"""One device description (hdl/device.toml) for the simulation model and the Vivado IP.

The model's settings (tb/simulation/usp.py) and the generated IP Tcl (sim/fpga.py) are compared field by field
here, with the Tcl read back by a parser of its own: a value typed differently on either side, or a model
setting the Tcl does not carry, fails. The RTL's defaults are checked against the description too.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from sim import fpga
from sim import device
from tb.simulation.usp import UspConfig, model_settings

ROOT = Path(__file__).resolve().parents[2]
DESC = device.load()
BOARD = fpga.BOARDS["vcu118"]
SCALE = {"Kilobytes": 1 << 10, "Megabytes": 1 << 20, "Gigabytes": 1 << 30}
PIN = {"NONE": 0, "INTA": 1, "INTB": 2, "INTC": 3, "INTD": 4}
SPEED_GEN = {"2.5_GT/s": 1, "5.0_GT/s": 2, "8.0_GT/s": 3, "16.0_GT/s": 4}


def tcl_properties(tcl: str) -> dict[str, str]:
    """CONFIG.<name> {value} pairs of a set_property -dict list (names as Vivado sees them: any case)."""
    props = {}
    for name, value in re.findall(r"CONFIG\.(\w+) \{([^}]*)\}", tcl):
        assert name.lower() not in props, f"CONFIG.{name} set twice"
        props[name.lower()] = value
    return props


def disagreements(model: dict, tcl: str) -> list[str]:
    """Every field where the model's settings and the IP Tcl differ; also model settings the check misses."""
    p = tcl_properties(tcl)
    out: list[str] = []
    checked: set[str] = set()

    def same(model_key: str, tcl_value, what: str) -> None:
        checked.add(model_key)
        if model[model_key] != tcl_value:
            out.append(f"{what}: model {model[model_key]!r}, IP Tcl {tcl_value!r}")

    same("f.vendor_id", int(p["vendor_id"], 16), "vendor ID")
    same("f.device_id", int(p["pf0_device_id"], 16), "device ID")
    same("f.subsystem_vendor_id", int(p["pf0_subsystem_vendor_id"], 16), "subsystem vendor ID")
    same("f.subsystem_id", int(p["pf0_subsystem_id"], 16), "subsystem ID")
    same("f.revision_id", int(p["pf0_revision_id"], 16), "revision ID")
    if p.get("pf0_use_class_code_lookup_assistant") != "false":
        out.append("class code: the IP's class-code assistant would override PF0_CLASS_CODE")
    same("f.class_code", int(p["pf0_class_code"], 16), "class code")
    same("f.interrupt_pin", PIN[p["pf0_interrupt_pin"]], "interrupt pin")
    same("pcie_generation", SPEED_GEN[p["pl_link_cap_max_link_speed"]], "link speed (generation)")
    same("pcie_link_width", int(p["pl_link_cap_max_link_width"].lstrip("X")), "link width")
    same("user_clk_frequency", float(p["axisten_freq"]) * 1e6, "user clock")
    same("max_payload_size", int(p["pf0_dev_cap_max_payload"].split("_")[0]), "max payload supported")
    same("enable_extended_tag", p["extended_tag_field"] == "true", "extended tags")
    same("enable_client_tag", p["axisten_if_enable_client_tag"] == "true", "client tags")
    # the model runs dword-aligned, unstraddled: the IP default alignment, straddling off
    aligned = {k: v for k, v in p.items() if k.endswith("alignment_mode")}
    same("alignment", "dword" if all(v == "DWORD_Aligned" for v in aligned.values()) else "address",
         "interface alignment")
    if p.get("axisten_if_rc_straddle") != "false":
        out.append("RC straddling: the model and the RTL do not straddle, the IP Tcl does not turn it off")
    same("pf_count", 1 + sum(1 for k in p if re.match(r"pf[1-3]_", k)), "physical functions")
    bars = []
    for i in range(6):
        if p.get(f"pf0_bar{i}_enabled", "true" if i == 0 else "false") != "true":
            continue
        kind = p[f"pf0_bar{i}_type"]
        if kind == "Memory" and (p.get(f"pf0_bar{i}_64bit") != "false" or p.get(f"pf0_bar{i}_prefetchable") != "false"):
            out.append(f"BAR{i}: the model's BARs are 32-bit non-prefetchable")
        bars.append((i, int(p[f"pf0_bar{i}_size"]) * SCALE[p[f"pf0_bar{i}_scale"]], kind == "I/O"))
    same("f.bars", tuple(bars), "BARs (index, bytes, I/O)")
    if any(io for *_, io in bars) and p.get("device_port_type") != "Legacy_PCI_Express_Endpoint_device":
        out.append("an I/O BAR needs the IP as a Legacy PCI Express Endpoint")
    # PCI Express capability, Device/Port Type: 0 endpoint (the IP's default), 1 legacy endpoint
    port_type = {"PCI_Express_Endpoint_device": 0, "Legacy_PCI_Express_Endpoint_device": 1}
    same("f.pcie_cap.pcie_device_type", port_type[p.get("device_port_type", "PCI_Express_Endpoint_device")],
         "device/port type")
    same("pf0_msi_enable", p["pf0_msi_enabled"] == "true", "MSI")
    same("pf0_msix_enable", p["pf0_msix_enabled"] == "true", "MSI-X")
    if model["pf0_msix_enable"]:
        if p.get("msi_x_options") != "MSI-X_External":
            out.append("MSI-X: the table lives in the function's BAR: the IP must be MSI-X_External")
        same("pf0_msix_table_size", int(p["pf0_msix_cap_table_size"], 16), "MSI-X table size (N-1)")
        same("pf0_msix_table_bir", int(p["pf0_msix_cap_table_bir"].split("_")[1]), "MSI-X table BAR")
        same("pf0_msix_table_offset", int(p["pf0_msix_cap_table_offset"], 16), "MSI-X table offset")
        same("pf0_msix_pba_bir", int(p["pf0_msix_cap_pba_bir"].split("_")[1]), "MSI-X PBA BAR")
        same("pf0_msix_pba_offset", int(p["pf0_msix_cap_pba_offset"], 16), "MSI-X PBA offset")
    missing = set(model) - checked - ({"pf0_msix_table_size", "pf0_msix_table_bir", "pf0_msix_table_offset",
                                       "pf0_msix_pba_bir", "pf0_msix_pba_offset"}
                                      if not model["pf0_msix_enable"] else set())
    out += [f"model setting {k!r} has no counterpart in the IP Tcl check" for k in sorted(missing)]
    return out


def model_for(desc: device.DeviceDescription) -> dict:
    return model_settings(UspConfig.from_description(desc), desc.data_width)


def test_description_loads():
    assert (DESC.vendor_id, DESC.device_id) == (0x1AF4, 0x1000)
    assert DESC.bar(0).kind in device.BAR_KINDS      # BAR0's kind is a field (memory today)
    assert [b.index for b in DESC.bars] == [0, 1, 2, 4]   # BAR4: the modern virtio registers


def test_model_defaults_are_the_description():
    assert model_settings(UspConfig(), DESC.data_width) == model_for(DESC)


def test_model_and_ip_tcl_agree_field_by_field():
    assert disagreements(model_for(DESC), fpga.ip_tcl(DESC, BOARD)) == []


@pytest.mark.parametrize("prop, new, field", [
    ("PF0_DEVICE_ID", "1041", "device ID"),
    ("vendor_id", "10ee", "vendor ID"),
    ("PF0_CLASS_CODE", "058000", "class code"),
    ("PF0_REVISION_ID", "01", "revision ID"),
    ("pf0_bar1_size", "8", "BARs"),
    ("pf0_bar0_type", "I/O", "BARs"),
    ("PF0_MSIX_CAP_TABLE_SIZE", "00f", "MSI-X table size"),
    ("PF0_MSIX_CAP_PBA_OFFSET", "00000c00", "MSI-X PBA offset"),
    ("PF0_MSIX_CAP_TABLE_BIR", "BAR_2", "MSI-X table BAR"),
    ("pf0_dev_cap_max_payload", "256_bytes", "max payload"),
    ("PL_LINK_CAP_MAX_LINK_WIDTH", "X4", "link width"),
    ("PF0_INTERRUPT_PIN", "NONE", "interrupt pin"),
])
def test_a_changed_tcl_field_is_caught(prop, new, field):
    tcl = fpga.ip_tcl(DESC, BOARD)
    changed, n = re.subn(rf"CONFIG\.{prop} \{{[^}}]*\}}", f"CONFIG.{prop} {{{new}}}", tcl)
    assert n == 1
    found = disagreements(model_for(DESC), changed)
    assert found and found[0].startswith(field), found


@pytest.mark.parametrize("change, field", [
    ({"device_id": 0x1041}, "device ID"),
    ({"msix_vectors": 4}, "MSI-X table size"),
    ({"bars": ((0, 4096), (1, 4096))}, "BARs"),
    ({"interrupt_pin": 0}, "interrupt pin"),
    ({"max_payload_size": 256}, "max payload"),
])
def test_a_changed_model_field_is_caught(change, field):
    model = model_settings(replace(UspConfig(), **change), DESC.data_width)
    found = disagreements(model, fpga.ip_tcl(DESC, BOARD))
    assert len(found) == 1 and found[0].startswith(field), found


def test_io_bar0_reaches_both_sides():
    """Issue 11 may make BAR0 an I/O BAR: the kind field drives the model and the IP alike."""
    text = (ROOT / "hdl" / "device.toml").read_text()
    io = device.parse(text.replace('kind = "memory"', 'kind = "io"', 1), "io.toml")
    model = model_for(io)
    assert model["f.bars"][0] == (0, 4096, True)
    tcl = fpga.ip_tcl(io, BOARD)
    assert "CONFIG.pf0_bar0_type {I/O}" in tcl and "CONFIG.pf0_bar0_64bit" not in tcl
    assert disagreements(model, tcl) == []


@pytest.mark.parametrize("edit, message", [
    (("vendor_id = 0x1af4", "vendor_id = 0x11af4"), "vendor_id"),
    (('kind = "memory"', 'kind = "rom"'), "kind"),
    (("pba_offset = 0x800", "pba_offset = 0x1000"), "past the end of BAR 1"),
    (("pba_offset = 0x800", "pba_offset = 0x040"), "overlap"),
    (("lanes = 8", "lanes = 3"), "lanes"),
    (("max_payload_supported = 512", "max_payload_supported = 500"), "max_payload_supported"),
    (("subsystem_id = 0x0001", "subsystem_id = \"1\""), "subsystem_id"),
    (("isr = [0x100, 4]", "isr = [0x010, 4]"), "'isr' overlaps 'common'"),
    (("notify = [0x300, 8]", "notify = [0xFFC, 8]"), "inside BAR 4"),
    (("common = [0x000, 0x38]", "common = [0x000, 0x20]"), "at least 0x38"),
    (("bar = 4\n", "bar = 3\n"), "bar = 3 is not a described memory BAR"),
    (("notify_off_multiplier = 4", "notify_off_multiplier = 3"), "notify_off_multiplier"),
])
def test_bad_descriptions_fail_with_the_field(edit, message):
    text = (ROOT / "hdl" / "device.toml").read_text()
    assert edit[0] in text
    with pytest.raises(device.DeviceDescriptionError, match=re.escape(message)):
        device.parse(text.replace(edit[0], edit[1], 1), "bad.toml")


def _param(path: str, name: str) -> str:
    m = re.search(rf"\bparameter\s+(?:\[[^\]]*\]\s*)?{name}\s*=\s*([^,\s)]+)", (ROOT / path).read_text())
    assert m, f"{path}: no parameter {name}"
    return m.group(1)


def _verilog_int(text: str) -> int:
    t = text.replace("_", "")
    m = re.fullmatch(r"(?:\d+)?'([bdh])([0-9a-fA-F]+)", t)
    return int(m.group(2), {"b": 2, "d": 10, "h": 16}[m.group(1)]) if m else int(t)


def test_rtl_defaults_implement_the_description():
    top = (ROOT / "hdl/virtio_net_usp.v").read_text()
    assert int(_param("hdl/virtio_net_usp.v", "AXIS_PCIE_DATA_WIDTH")) == DESC.data_width
    assert int(_param("hdl/virtio_net_usp.v", "MSIX_VECTORS")) == DESC.msix_vectors
    reg_width = int(re.search(r"localparam REG_ADDR_WIDTH = (\d+);", top).group(1))
    assert all(b.size == 1 << reg_width for b in DESC.bars), "every BAR decodes REG_ADDR_WIDTH bits"
    mask = _verilog_int(re.search(r"\.BAR_MASK\(([^)]+)\)", top).group(1))
    assert {i for i in range(6) if mask >> i & 1} == {b.index for b in DESC.bars}
    assert re.search(r"pcie_msix #\(\s*\.VEC_COUNT\(MSIX_VECTORS\)", top), "MSI-X table sized by MSIX_VECTORS"
    assert re.search(r"\.reg_req_valid\(bar_req_valid\[1\]\)", top), "the MSI-X table answers BAR1"
    assert DESC.msix_bar == 1 and DESC.msix_table_offset == 0
    assert _verilog_int(_param("hdl/pcie/pcie_msix.v", "PBA_OFFSET")) == DESC.msix_pba_offset
    if not DESC.extended_tag:
        assert int(_param("hdl/pcie/pcie_us_dma_rd.v", "PCIE_TAG_COUNT")) <= 32


def test_rtl_implements_the_virtio_regions():
    """The modern register block decodes the regions hdl/device.toml [virtio] describes (the capabilities in
    config space are built from the description, the decoder from these localparams), in the BAR the top
    routes to it."""
    v = DESC.virtio
    assert v is not None
    regs = (ROOT / "hdl/virtio/virtio_pci_regs.v").read_text()

    def local(name: str) -> int:
        return _verilog_int(re.search(rf"\b{name}\s*=\s*([^,;\s]+)", regs).group(1))

    assert local("MODERN_ISR") == v.isr[0]
    assert local("MODERN_DEVICE_CFG") == v.device[0]
    assert local("MODERN_NOTIFY") == v.notify[0]
    assert local("NOTIFY_OFF_MULTIPLIER") == v.notify_off_multiplier
    assert local("COMMON_DFSELECT") == v.common[0] and local("COMMON_USED_HI") + 4 == v.common[0] + v.common[1]
    assert v.notify[1] >= 2 * v.notify_off_multiplier or v.notify_off_multiplier == 0, "two queues' notify addresses"
    assert v.device[1] == 16, "the decoder answers 16 bytes of device config"
    top = (ROOT / "hdl/virtio_net_usp.v").read_text()
    assert re.search(rf"\.bar4_req_valid\(bar_req_valid\[{v.bar}\]\)", top), f"the modern block answers BAR{v.bar}"


def test_board_top_and_ip_stub_match_the_link():
    stub = (ROOT / "sim/blackbox/pcie4_uscale_plus_0.v").read_text()
    lanes = DESC.link_lanes
    assert re.search(rf"output wire \[{lanes - 1}:0\]\s+pci_exp_txp", stub)
    assert re.search(rf"input  wire \[{DESC.data_width - 1}:0\] s_axis_rq_tdata", stub)
    board = (ROOT / "hdl/boards/vcu118/virtio_net_vcu118.v").read_text()
    assert re.search(rf"input  wire \[{lanes - 1}:0\] pcie_rx_p", board)
    assert re.search(rf"localparam DATA_WIDTH = {DESC.data_width};", board)
    xdc = (ROOT / "hdl/boards/vcu118/vcu118.xdc").read_text()
    assert len(re.findall(r"get_ports \{pcie_rx_p\[\d+\]\}", xdc)) == lanes
    assert (BOARD.lanes, BOARD.data_width) == (lanes, DESC.data_width)
