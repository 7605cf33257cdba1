`resetall
`timescale 1ns / 1ps
`default_nettype none

/*
 * Merges the DMA read and write engines' requests onto the single RQ stream of the Xilinx UltraScale+
 * PCIe hard block.
 *
 * Whole TLPs at a time: once an input is granted it keeps RQ until its tlast beat was accepted, so a TLP
 * is never interleaved. Between TLPs, the input that was already waiting goes first; when both inputs
 * present a TLP in the same cycle they alternate. So a TLP presented after another one left is never
 * sent before it: a read requested after a write's status was seen follows that write on RQ.
 *
 * The grant is registered: one idle cycle between TLPs. The data path is a plain multiplexer.
 */
module pcie_us_rq_mux #
(
    // width of the PCIe AXI stream interfaces in bits
    parameter AXIS_PCIE_DATA_WIDTH = 256,
    // PCIe AXI stream tkeep signal width (words per cycle)
    parameter AXIS_PCIE_KEEP_WIDTH = (AXIS_PCIE_DATA_WIDTH/32),
    // PCIe AXI stream RQ tuser signal width
    parameter AXIS_PCIE_RQ_USER_WIDTH = 62
)
(
    input  wire                                clk,
    input  wire                                rst,

    /*
     * Read engine requests
     */
    input  wire [AXIS_PCIE_DATA_WIDTH-1:0]     s_axis_rd_rq_tdata,
    input  wire [AXIS_PCIE_KEEP_WIDTH-1:0]     s_axis_rd_rq_tkeep,
    input  wire                                s_axis_rd_rq_tlast,
    input  wire [AXIS_PCIE_RQ_USER_WIDTH-1:0]  s_axis_rd_rq_tuser,
    input  wire                                s_axis_rd_rq_tvalid,
    output wire                                s_axis_rd_rq_tready,

    /*
     * Write engine requests
     */
    input  wire [AXIS_PCIE_DATA_WIDTH-1:0]     s_axis_wr_rq_tdata,
    input  wire [AXIS_PCIE_KEEP_WIDTH-1:0]     s_axis_wr_rq_tkeep,
    input  wire                                s_axis_wr_rq_tlast,
    input  wire [AXIS_PCIE_RQ_USER_WIDTH-1:0]  s_axis_wr_rq_tuser,
    input  wire                                s_axis_wr_rq_tvalid,
    output wire                                s_axis_wr_rq_tready,

    /*
     * AXI output (RQ) to the hard block
     */
    output wire [AXIS_PCIE_DATA_WIDTH-1:0]     m_axis_rq_tdata,
    output wire [AXIS_PCIE_KEEP_WIDTH-1:0]     m_axis_rq_tkeep,
    output wire                                m_axis_rq_tlast,
    output wire [AXIS_PCIE_RQ_USER_WIDTH-1:0]  m_axis_rq_tuser,
    output wire                                m_axis_rq_tvalid,
    input  wire                                m_axis_rq_tready
);

// input select
localparam [0:0]
    SEL_RD = 1'b0,
    SEL_WR = 1'b1;

initial begin
    if (AXIS_PCIE_KEEP_WIDTH*32 != AXIS_PCIE_DATA_WIDTH) begin
        $error("Error: AXIS_PCIE_KEEP_WIDTH must be AXIS_PCIE_DATA_WIDTH/32 (instance %m)");
        $finish;
    end
end

reg active_reg, active_next;    // an input owns RQ until its tlast beat is accepted
reg sel_reg, sel_next;        // the owner (or the last owner)
reg rd_wait_reg, rd_wait_next;  // input presented a TLP last cycle without owning RQ
reg wr_wait_reg, wr_wait_next;

wire rd_owner = active_reg && sel_reg == SEL_RD;
wire wr_owner = active_reg && sel_reg == SEL_WR;

assign m_axis_rq_tdata  = sel_reg == SEL_WR ? s_axis_wr_rq_tdata : s_axis_rd_rq_tdata;
assign m_axis_rq_tkeep  = sel_reg == SEL_WR ? s_axis_wr_rq_tkeep : s_axis_rd_rq_tkeep;
assign m_axis_rq_tlast  = sel_reg == SEL_WR ? s_axis_wr_rq_tlast : s_axis_rd_rq_tlast;
assign m_axis_rq_tuser  = sel_reg == SEL_WR ? s_axis_wr_rq_tuser : s_axis_rd_rq_tuser;
assign m_axis_rq_tvalid = (rd_owner && s_axis_rd_rq_tvalid) || (wr_owner && s_axis_wr_rq_tvalid);

assign s_axis_rd_rq_tready = rd_owner && m_axis_rq_tready;
assign s_axis_wr_rq_tready = wr_owner && m_axis_rq_tready;

always @* begin
    active_next = active_reg;
    sel_next = sel_reg;

    if (active_reg) begin
        if (m_axis_rq_tvalid && m_axis_rq_tready && m_axis_rq_tlast) begin
            active_next = 1'b0;
        end
    end else if (s_axis_rd_rq_tvalid && s_axis_wr_rq_tvalid) begin
        // both present a TLP: the one that was waiting goes first, otherwise alternate
        active_next = 1'b1;
        if (rd_wait_reg != wr_wait_reg) begin
            sel_next = rd_wait_reg ? SEL_RD : SEL_WR;
        end else begin
            sel_next = ~sel_reg;
        end
    end else if (s_axis_rd_rq_tvalid) begin
        active_next = 1'b1;
        sel_next = SEL_RD;
    end else if (s_axis_wr_rq_tvalid) begin
        active_next = 1'b1;
        sel_next = SEL_WR;
    end

    rd_wait_next = s_axis_rd_rq_tvalid && !rd_owner;
    wr_wait_next = s_axis_wr_rq_tvalid && !wr_owner;
end

always @(posedge clk) begin
    active_reg <= active_next;
    sel_reg <= sel_next;
    rd_wait_reg <= rd_wait_next;
    wr_wait_reg <= wr_wait_next;

    if (rst) begin
        active_reg <= 1'b0;
        sel_reg <= SEL_RD;
        rd_wait_reg <= 1'b0;
        wr_wait_reg <= 1'b0;
    end
end

endmodule

`resetall
