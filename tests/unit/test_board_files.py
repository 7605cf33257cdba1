"""The board files sim/fpga.py writes: the ILA probe list from the GTKWave layout, the Vivado project."""

from __future__ import annotations

import re

import pytest

from sim import fpga, gtkw, ila


# -- the ILA probe list is the GTKWave layout's signal list ------------------------------------------------
def test_ila_probes_are_the_gtkwave_signals():
    probes = ila.probes("virtio_net_inst", 256, 64)
    plain = [(name, width or 1) for _, sigs in gtkw.groups(256, 64) for name, width, _ in sigs
             if not name.startswith("#")]
    assert [(p.signal, p.width) for p in probes] == plain
    assert [f"{gtkw.TOP}.{p.signal}" for p in probes] == gtkw.signal_names(256, 64)
    assert any(p.net == "virtio_net_inst/s_axis_cq_tvalid" for p in probes)
    assert any(p.net == "virtio_net_inst/core_inst/virtq_tx_inst/avail_inst/state_reg" and p.width == 3
               for p in probes)


def test_ila_tcl_connects_every_probe_in_order():
    probes = ila.probes("virtio_net_inst")
    tcl = ila.ila_tcl(probes, "user_clk", 250_000_000, depth=2048)
    calls = re.findall(r"^vnet_probe \$core (\d+) \{([^}]+)\} (\d+)$", tcl, re.M)
    assert [(int(i), n, int(w)) for i, n, w in calls] == [(i, p.net, p.width) for i, p in enumerate(probes)]
    assert "C_DATA_DEPTH 2048" in tcl and "[get_nets {user_clk}]" in tcl
    xdc = ila.mark_debug_xdc(probes)
    assert xdc.count("MARK_DEBUG true") == len(probes)
    assert "get_nets {virtio_net_inst/s_axis_cq_tdata[*]}" in xdc
    with pytest.raises(ValueError):
        ila.ila_tcl(probes, "user_clk", 250_000_000, depth=1000)


def test_board_files_are_written(tmp_path):
    paths = fpga.write("vcu118", tmp_path, 4096)
    names = {p.name for p in paths}
    assert names == {"pcie4_uscale_plus_0.tcl", "ila.tcl", "ila_mark_debug.xdc", "project.tcl"}
    project = (tmp_path / "project.tcl").read_text()
    assert "xcvu9p-flga2104-2L-e" in project and "hdl/boards/vcu118/vcu118.xdc" in project
    assert "set_property top virtio_net_vcu118" in project
    # a Tcl line continuation must be the last character of its line
    for path in paths:
        assert not re.search(r"\\[ \t]+$", path.read_text(), re.M), path.name
