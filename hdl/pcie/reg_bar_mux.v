// SPDX-License-Identifier: MIT
/*
 * Register bus fan-out by BAR: one bridge (pcie_us_cq_cc_bridge) to one target per BAR id (0..5); a BAR the
 * device does not implement has its valid unconnected and its response tied to 0.
 *
 * The bridge has one access outstanding at a time, so the request is simply steered by reg_req_bar and
 * the responses are merged: at most one target answers in any cycle. A request for another BAR id never
 * reaches this block (the bridge answers it with Unsupported Request); if one does, it goes nowhere and
 * the bridge's REG_TIMEOUT completes it.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module reg_bar_mux #
(
    parameter REG_ADDR_WIDTH = 12
)
(
    /*
     * From the bridge
     */
    input  wire                       s_reg_req_valid,
    input  wire                       s_reg_req_write,
    input  wire [2:0]                 s_reg_req_bar,
    input  wire [REG_ADDR_WIDTH-1:0]  s_reg_req_addr,
    input  wire [3:0]                 s_reg_req_be,
    input  wire [31:0]                s_reg_req_wdata,
    output wire                       s_reg_rsp_valid,
    output wire [31:0]                s_reg_rsp_rdata,

    /*
     * To the targets: valid per BAR, the rest shared
     */
    output wire [5:0]                 m_reg_req_valid,
    output wire                       m_reg_req_write,
    output wire [REG_ADDR_WIDTH-1:0]  m_reg_req_addr,
    output wire [3:0]                 m_reg_req_be,
    output wire [31:0]                m_reg_req_wdata,
    input  wire [5:0]                 m_reg_rsp_valid,
    input  wire [6*32-1:0]            m_reg_rsp_rdata
);

genvar n;
generate
    for (n = 0; n < 6; n = n + 1) begin : bar
        assign m_reg_req_valid[n] = s_reg_req_valid && s_reg_req_bar == n;
    end
endgenerate

assign m_reg_req_write = s_reg_req_write;
assign m_reg_req_addr = s_reg_req_addr;
assign m_reg_req_be = s_reg_req_be;
assign m_reg_req_wdata = s_reg_req_wdata;

// at most one target answers in any cycle
reg [31:0] rsp_rdata;
integer i;
always @* begin
    rsp_rdata = 32'd0;
    for (i = 0; i < 6; i = i + 1) begin
        rsp_rdata = rsp_rdata | ({32{m_reg_rsp_valid[i]}} & m_reg_rsp_rdata[i*32 +: 32]);
    end
end

assign s_reg_rsp_valid = |m_reg_rsp_valid;
assign s_reg_rsp_rdata = rsp_rdata;

endmodule

`resetall
