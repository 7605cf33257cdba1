"""Vivado files for a board, generated from the device description and the GTKWave layout.

    python -m sim.fpga [--board vcu118] [--out DIR] [--ila-depth N]     (make fpga)

Writes, into build/fpga/<board>/ by default:

  pcie4_uscale_plus_0.tcl   creates the UltraScale+ PCIe IP and sets its CONFIG.* from hdl/device.toml
  ila_mark_debug.xdc        synthesis constraints that keep the ILA's nets (sim/ila.py)
  ila.tcl                   inserts the ILA, one probe per signal of the GTKWave layout (sim/ila.py)
  project.tcl               the Vivado project: part, RTL, board constraints, IP; synthesis, ILA,
                            implementation and bitstream

Vivado is not run here: ``make synth`` synthesizes the same board top with yosys, the IP as a black box.
The IP properties are written from the description by ip_properties(); each property name is one seen in a
public project's Tcl for this IP (or its UltraScale / Versal siblings, which share the names), cited
beside it. tests/unit/test_device_description.py reads the generated Tcl back and checks every value
against the simulation model's settings.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from sim import ila
from sim.device import DeviceDescription
from sim.device import load as load_description

ROOT = Path(__file__).resolve().parent.parent
HDL = ROOT / "hdl"
IP_NAME = "pcie4_uscale_plus"
IP_MODULE = "pcie4_uscale_plus_0"

# Where each property name was seen (public Tcl customizing the same IP or a sibling with the same names)
SRC_VCU118 = "corundum/corundum fpga/lib/pcie/example/VCU118/fpga/ip/pcie4_uscale_plus_0.tcl"
SRC_EXANIC = "corundum/corundum fpga/lib/pcie/example/ExaNIC_X25/fpga/ip/pcie4_uscale_plus_0.tcl"
SRC_TAXI = "fpganinja/taxi src/cndm/board/VCU118/fpga/ip/pcie4_uscale_plus_0.tcl"
SRC_VCU108 = "corundum/corundum fpga/mqnic/VCU108/fpga_10g/ip/pcie3_ultrascale_0.tcl (UltraScale IP, same names)"
SRC_XDMA = (
    "rsarwar87/koheron-sdk boards/enclustra/pe1/zx1/pcie_streaming_connections.tcl (XDMA: a 32-bit BAR is BAR_<n>)"
)
SRC_VERSAL = "Xilinx/XilinxCEDStore Versal PL-PCIe block designs (pcie_versal: same PF0_* properties)"
SRC_PG = "PG213 / PG156 'Base Address Register Overview': I/O BARs exist only on a Legacy PCI Express Endpoint"

LINK_SPEED = {"2.5GT/s": "2.5_GT/s", "5.0GT/s": "5.0_GT/s", "8.0GT/s": "8.0_GT/s", "16.0GT/s": "16.0_GT/s"}


@dataclass(frozen=True)
class Board:
    name: str
    part: str
    top: str
    xdc: Path
    lanes: int
    data_width: int
    clock_net: str
    device_instance: str  # the board top's instance of virtio_net_usp
    note: str


BOARDS = {
    "vcu118": Board(
        name="vcu118",
        part="xcvu9p-flga2104-2L-e",
        top="virtio_net_vcu118",
        xdc=HDL / "boards" / "vcu118" / "vcu118.xdc",
        lanes=8,
        data_width=256,
        clock_net="user_clk",
        device_instance="virtio_net_inst",
        note="Xilinx VCU118: PCIe edge connector, Gen3 x8 on GTY quads 226/227, refclk MGTREFCLK0_227",
    ),
}


@dataclass(frozen=True)
class Prop:
    name: str
    value: str
    source: str


def _bar_size(size: int) -> tuple[str, str]:
    for scale, unit in (("Gigabytes", 1 << 30), ("Megabytes", 1 << 20), ("Kilobytes", 1 << 10)):
        if size >= unit and size % unit == 0:
            return scale, str(size // unit)
    raise ValueError(f"BAR size {size} bytes: the IP takes sizes from 1 KiB up, in Kilobytes/Megabytes/Gigabytes")


def ip_properties(desc: DeviceDescription, board: Board) -> list[Prop]:
    """CONFIG.* of pcie4_uscale_plus for the function ``desc`` on ``board``."""
    if (desc.link_lanes, desc.data_width) != (board.lanes, board.data_width):
        raise ValueError(
            f"{desc.source}: link x{desc.link_lanes} at {desc.data_width} bits, but the "
            f"{board.name} top is wired for x{board.lanes} at {board.data_width} bits"
        )
    props = [
        Prop("mode_selection", "Advanced", SRC_EXANIC),
        Prop("PL_LINK_CAP_MAX_LINK_SPEED", LINK_SPEED[desc.link_speed], SRC_VCU118),
        Prop("PL_LINK_CAP_MAX_LINK_WIDTH", f"X{desc.link_lanes}", SRC_EXANIC),
        Prop("axisten_if_width", f"{desc.data_width}_bit", SRC_EXANIC),
        Prop("axisten_freq", str(desc.user_clk_mhz), SRC_VCU118),
        # the RTL never straddles TLPs on one beat; the default DWORD alignment of all four interfaces is kept
        Prop("AXISTEN_IF_RC_STRADDLE", "false", SRC_EXANIC),
        Prop("axisten_if_enable_client_tag", "true", SRC_VCU118),
        Prop("extended_tag_field", str(desc.extended_tag).lower(), SRC_VCU118),
        Prop("pf0_dev_cap_max_payload", f"{desc.max_payload_supported}_bytes", SRC_VCU118),
        Prop("vendor_id", f"{desc.vendor_id:04x}", SRC_VCU118),
        Prop("PF0_DEVICE_ID", f"{desc.device_id:04x}", SRC_VCU118),
        Prop("PF0_REVISION_ID", f"{desc.revision_id:02x}", SRC_VERSAL),
        Prop("PF0_SUBSYSTEM_VENDOR_ID", f"{desc.subsystem_vendor_id:04x}", SRC_VCU118),
        Prop("PF0_SUBSYSTEM_ID", f"{desc.subsystem_id:04x}", SRC_VCU118),
        Prop("PF0_Use_Class_Code_Lookup_Assistant", "false", SRC_TAXI),
        Prop("PF0_CLASS_CODE", f"{desc.class_code:06x}", SRC_VCU118),
        Prop("PF0_INTERRUPT_PIN", desc.interrupt_pin.upper(), f"{SRC_VCU108}; INTA as in {SRC_VERSAL}"),
    ]
    if any(b.kind == "io" for b in desc.bars):
        props.append(
            Prop(
                "device_port_type",
                "Legacy_PCI_Express_Endpoint_device",
                f"{SRC_VERSAL} (PCI_Express_Endpoint_device there); {SRC_PG}",
            )
        )
    for index in range(6):
        bar = desc.bar(index)
        if bar is None:
            props.append(Prop(f"pf0_bar{index}_enabled", "false", SRC_VCU118))
            continue
        scale, size = _bar_size(bar.size)
        props += [
            Prop(f"pf0_bar{index}_enabled", "true", SRC_VCU118),
            Prop(
                f"pf0_bar{index}_type",
                "Memory" if bar.kind == "memory" else "I/O",
                SRC_VCU118 if bar.kind == "memory" else SRC_PG,
            ),
        ]
        if bar.kind == "memory":
            props += [
                Prop(f"pf0_bar{index}_64bit", "false", SRC_VCU118),
                Prop(f"pf0_bar{index}_prefetchable", "false", SRC_VCU118),
            ]
        props += [Prop(f"pf0_bar{index}_scale", scale, SRC_VCU118), Prop(f"pf0_bar{index}_size", size, SRC_VCU118)]
    props.append(Prop("pf0_msi_enabled", "false", SRC_VCU118))
    if desc.msix_vectors:
        props += [
            Prop("pf0_msix_enabled", "true", SRC_VCU118),
            Prop("MSI_X_OPTIONS", "MSI-X_External", SRC_VCU118),
            Prop("PF0_MSIX_CAP_TABLE_SIZE", f"{desc.msix_vectors - 1:03x}", SRC_VCU118),
            Prop("PF0_MSIX_CAP_TABLE_BIR", f"BAR_{desc.msix_bar}", f"{SRC_VCU118}; {SRC_XDMA}"),
            Prop("PF0_MSIX_CAP_TABLE_OFFSET", f"{desc.msix_table_offset:08x}", SRC_VCU118),
            Prop("PF0_MSIX_CAP_PBA_BIR", f"BAR_{desc.msix_bar}", f"{SRC_VCU118}; {SRC_XDMA}"),
            Prop("PF0_MSIX_CAP_PBA_OFFSET", f"{desc.msix_pba_offset:08x}", SRC_VCU118),
        ]
    else:
        props.append(Prop("pf0_msix_enabled", "false", SRC_VCU118))
    return props


def ip_tcl(desc: DeviceDescription, board: Board) -> str:
    props = ip_properties(desc, board)
    out = [
        f"# generated by sim/fpga.py from {Path(desc.source).name}: do not edit (make fpga rewrites it)",
        f"# The {IP_NAME} IP for the virtio-net function on the {board.name.upper()}: identity, BARs, MSI-X "
        "(table in the",
        "# function's own BAR), link and user interface as the simulation model is configured (tb/simulation/usp.py).",
        "# Property names as seen in public projects' Tcl for this IP, cited per property below.",
        "",
        f"create_ip -name {IP_NAME} -vendor xilinx.com -library ip -module_name {IP_MODULE}",
        "",
        "set_property -dict [list \\",
    ]
    out += [f"    CONFIG.{p.name} {{{p.value}}} \\" for p in props]
    out.append(f"] [get_ips {IP_MODULE}]")
    out += ["", "# where each property name comes from"]
    out += [f"#   {p.name}: {p.source}" for p in props]
    return "\n".join(out) + "\n"


def project_tcl(board: Board) -> str:
    rtl = sorted(p for p in HDL.rglob("*.v") if "boards" not in p.parts or board.name in p.parts)
    files = "\n".join(f'    [file normalize "$repo/{p.relative_to(ROOT)}"] \\' for p in rtl)
    return f"""# generated by sim/fpga.py: do not edit (make fpga rewrites it)
# Vivado project for the virtio-net function on the {board.note}.
#   vivado -mode batch -source project.tcl                      bitstream with the ILA
#   vivado -mode batch -source project.tcl -tclargs noila       bitstream without it
# Builds in ./vivado next to this script, from the sources of the repository it was generated in.

set here [file dirname [file normalize [info script]]]
set repo {{{ROOT}}}
set with_ila [expr {{[lsearch $argv noila] < 0}}]

create_project -force virtio_net_{board.name} "$here/vivado" -part {board.part}
set_property target_language Verilog [current_project]

add_files -norecurse [list \\
{files}
]
set_property top {board.top} [current_fileset]
add_files -fileset constrs_1 -norecurse [file normalize "$repo/{board.xdc.relative_to(ROOT)}"]
# the ILA: MARK_DEBUG for synthesis, then ila.tcl (an unmanaged Tcl constraint file) inserts the core on the
# synthesized netlist when implementation starts
if {{$with_ila}} {{
    add_files -fileset constrs_1 -norecurse "$here/ila_mark_debug.xdc"
    set_property used_in_implementation false [get_files "$here/ila_mark_debug.xdc"]
    add_files -fileset constrs_1 -norecurse "$here/ila.tcl"
    set_property used_in_synthesis false [get_files "$here/ila.tcl"]
}}

source "$here/{IP_MODULE}.tcl"
generate_target all [get_ips {IP_MODULE}]
synth_ip [get_ips {IP_MODULE}]

# keep the RTL's state encodings, so the GTKWave translate filters (sim/waves/*.txt) read the ILA's data too
set_property STEPS.SYNTH_DESIGN.ARGS.FSM_EXTRACTION off [get_runs synth_1]

launch_runs synth_1 -jobs 4
wait_on_run synth_1
if {{[get_property PROGRESS [get_runs synth_1]] ne "100%"}} {{ error "synthesis failed" }}

launch_runs impl_1 -to_step write_bitstream -jobs 4
wait_on_run impl_1
if {{[get_property PROGRESS [get_runs impl_1]] ne "100%"}} {{ error "implementation failed" }}
open_run impl_1
report_timing_summary -file "$here/timing_summary.rpt"
report_utilization -hierarchical -file "$here/utilization.rpt"
report_design_analysis -logic_level_distribution -file "$here/logic_levels.rpt"
puts "bitstream: [glob -nocomplain $here/vivado/virtio_net_{board.name}.runs/impl_1/*.bit]"
"""


def write(board_name: str, out: Path, ila_depth: int) -> list[Path]:
    board = BOARDS[board_name]
    desc = load_description()
    probes = ila.probes(board.device_instance, desc.data_width)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        f"{IP_MODULE}.tcl": ip_tcl(desc, board),
        "ila_mark_debug.xdc": ila.mark_debug_xdc(probes),
        "ila.tcl": ila.ila_tcl(probes, board.clock_net, desc.user_clk_mhz * 1_000_000, ila_depth),
        "project.tcl": project_tcl(board),
    }
    paths = []
    for name, text in files.items():
        path = out / name
        path.write_text(text)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="vcu118", choices=sorted(BOARDS))
    ap.add_argument("--out", type=Path, default=None, help="default: build/fpga/<board>")
    ap.add_argument("--ila-depth", type=int, default=4096, help="ILA samples (power of two, 1024..131072)")
    args = ap.parse_args(argv)
    out = args.out or ROOT / "build" / "fpga" / args.board
    try:
        paths = write(args.board, out, args.ila_depth)
    except ValueError as exc:
        print(f"fpga: {exc}")
        return 1
    for p in paths:
        print(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p)
    print(f"then: cd {out} && vivado -mode batch -source project.tcl   (Vivado is not run here)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
