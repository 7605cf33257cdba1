"""The virtio blocks never see the Xilinx hard block (make lint's boundary check, sim/lint.py)."""

from __future__ import annotations

from sim import lint


def test_boundary_check_sees_hard_block_signals() -> None:
    text = ("wire [1:0] cfg_max_payload;  // cfg_in_a_comment\n"
            "assign s_axis_rc_tdata = x; /* cq_in_a_comment */ wire src_addr;\n"
            "wire rc_cpl_count; initial $display(\"cq_in_a_string\");\n")
    assert lint.xilinx_signals(text) == [(1, "cfg_max_payload"), (2, "s_axis_rc_tdata"), (3, "rc_cpl_count")]


def test_virtio_blocks_have_none() -> None:
    found = {p.name: lint.xilinx_signals(p.read_text()) for p in sorted(lint.VIRTIO_DIR.glob("**/*.v"))}
    assert found, "no RTL under hdl/virtio/"
    assert not any(found.values()), {k: v for k, v in found.items() if v}
