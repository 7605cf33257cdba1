"""make synth's checks, each against a small design that breaks it (yosys runs: seconds each).

The same flow as ``make synth`` (sim.synth.run): elaborate, synthesize module by module, stitch, analyse.
Needs Debian's yosys (``make tools`` installs it as root; without it the tests fail saying so).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import synth

LEAF = """
`default_nettype none
module leaf(input wire clk, input wire [3:0] a, input wire [3:0] b, output reg [3:0] q, output wire [3:0] y);
assign y = a ^ b;
always @(posedge clk) q <= a + b;
endmodule
"""


def run_design(tmp_path: Path, text: str, top: str = "top") -> dict:
    src = tmp_path / "design.v"
    src.write_text(text)
    design = synth.Design([src], {top: ([], "test design")}, out=tmp_path / "synth")
    return synth.run(design, jobs=2, log=lambda s: None)


def test_a_clean_design_passes_with_resources_and_depth(tmp_path):
    report = run_design(tmp_path, LEAF + """
module top(input wire clk, input wire [3:0] a, output reg [3:0] r);
wire [3:0] q, y;
leaf u(.clk(clk), .a(a), .b(r), .q(q), .y(y));
always @(posedge clk) r <= q ^ {y[2:0], y[3]};
endmodule
""")
    entry = report["tops"]["top"]
    leaf = next(i for i in entry["instances"] if i["module"] == "leaf")
    assert leaf["path"] == "u" and leaf["ff"] == 4 and leaf["carry"] >= 1
    assert entry["total"]["ff"] == 8
    assert entry["depth"]["clk"]["lut_levels"] >= 1
    # a second run takes every module from the cache and gives the same answer
    again = run_design(tmp_path, (tmp_path / "design.v").read_text())
    assert again["time"]["modules_synthesized"] == 0
    assert again["tops"]["top"]["total"] == entry["total"]


def test_a_latch_fails_with_its_source_line(tmp_path):
    with pytest.raises(synth.SynthError, match="a latch") as exc:
        run_design(tmp_path, """
module top(input wire en, input wire d, output reg q);
always @* begin
    if (en) q = d;
end
endmodule
""")
    assert "design.v:3" in str(exc.value) and "top.\\q" in str(exc.value)


def test_a_temporary_assigned_before_use_is_no_latch(tmp_path):
    run_design(tmp_path, """
module top(input wire s, input wire [3:0] a, output reg [3:0] y);
reg [3:0] t;
always @* begin
    y = 4'd0;
    if (s) begin
        t = a + 4'd1;
        y = t;
    end
end
endmodule
""")


def test_a_loop_inside_a_module_fails(tmp_path):
    with pytest.raises(synth.SynthError, match="combinational loop") as exc:
        run_design(tmp_path, """
module top(input wire a, input wire d, output wire y);
wire b;
assign y = b & a;
assign b = y | d;
endmodule
""")
    assert "design.v:4" in str(exc.value)


def test_a_loop_through_two_modules_fails(tmp_path):
    with pytest.raises(synth.SynthError, match="combinational loop through several modules") as exc:
        run_design(tmp_path, """
module half(input wire a, input wire b, output wire y);
assign y = a ^ b;
endmodule
module top(input wire a, output wire y);
wire x;
half h1(.a(a), .b(y), .y(x));
half h2(.a(x), .b(a), .y(y));
endmodule
""")
    message = str(exc.value)
    assert "LUT2 in h1" in message and "LUT2 in h2" in message, message


def test_two_drivers_fail(tmp_path):
    with pytest.raises(synth.SynthError, match="two drivers"):
        run_design(tmp_path, """
module top(input wire a, input wire b, output wire y);
assign y = a;
assign y = b;
endmodule
""")


def test_a_used_net_without_driver_fails(tmp_path):
    with pytest.raises(synth.SynthError, match="nothing drives"):
        run_design(tmp_path, """
module top(input wire a, output wire y);
wire n;
assign y = a & n;
endmodule
""")


def test_fault_knobs_are_compiled_out(tmp_path):
    fault = """
module knob #(parameter FAULT_ENABLE = 1) (input wire a, output wire y);
assign y = FAULT_ENABLE ? ~a : a;
endmodule
"""
    report = run_design(tmp_path, fault + """
module top #(parameter FAULT_ENABLE = 1) (input wire a, output wire y);
knob #(.FAULT_ENABLE(FAULT_ENABLE)) k(.a(a), .y(y));
endmodule
""")
    assert report["tops"]["top"]["parameters"] == "defaults with FAULT_ENABLE=0"
    # a top without the parameter may not carry a block whose knobs are on
    with pytest.raises(synth.SynthError, match="FAULT_ENABLE"):
        run_design(tmp_path, fault + """
module top (input wire a, output wire y);
knob k(.a(a), .y(y));
endmodule
""")
