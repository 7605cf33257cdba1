// SPDX-License-Identifier: MIT
/*
 * DMA port multiplexer: PORTS clients on one pair of DMA engines (hdl/README.md, interface 2).
 *
 * Descriptors are arbitrated round-robin, separately for reads and writes; a descriptor that is offered
 * stays selected until it is accepted, so each client sees a stable AXI-Stream handshake. The client
 * number (SEL_WIDTH = log2(PORTS) bits) travels with each request in two places:
 *
 *   - the top SEL_WIDTH bits of the tag: a client's own tag bits there are replaced by its number, and a
 *     status goes back to the client its tag names (with the whole tag: the client ignores the top bits);
 *   - the top SEL_WIDTH bits of the RAM byte address: the engine side has RAM_ADDR_WIDTH + SEL_WIDTH bits,
 *     so the read engine's RAM writes and the write engine's RAM reads reach the client's own RAM. Each
 *     client sees a RAM port of its own (RAM_ADDR_WIDTH bytes); the read data comes back through a
 *     select registered with the read (the RAM's one cycle of latency).
 *
 * Muxes nest: a client of one mux can be another mux (give the inner one the tag bits the outer one leaves,
 * TAG_WIDTH - SEL_WIDTH of the outer). Purely combinational from the clients' registered descriptor outputs
 * to the engines, except the arbitration state and the RAM read select.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module dma_mux #
(
    // clients: a power of 2, at least 2
    parameter PORTS = 2,
    // per client: RAM byte address width (the engines see SEL_WIDTH more)
    parameter RAM_ADDR_WIDTH = 13,
    // RAM word width (the PCIe data width)
    parameter RAM_DATA_WIDTH = 256,
    parameter LEN_WIDTH = 16,
    // tag width on the engine side; clients own the low TAG_WIDTH - SEL_WIDTH bits
    parameter TAG_WIDTH = 8,
    // derived, do not set
    parameter SEL_WIDTH = $clog2(PORTS),
    parameter RAM_WORD_WIDTH = RAM_ADDR_WIDTH - $clog2(RAM_DATA_WIDTH/8)
)
(
    input  wire                                 clk,
    input  wire                                 rst,

    /*
     * Clients: read descriptors and statuses, client k in bits [k*W +: W]
     */
    input  wire [PORTS*64-1:0]                  s_rd_desc_pcie_addr,
    input  wire [PORTS*RAM_ADDR_WIDTH-1:0]      s_rd_desc_ram_addr,
    input  wire [PORTS*LEN_WIDTH-1:0]           s_rd_desc_len,
    input  wire [PORTS*TAG_WIDTH-1:0]           s_rd_desc_tag,
    input  wire [PORTS-1:0]                     s_rd_desc_valid,
    output wire [PORTS-1:0]                     s_rd_desc_ready,
    output wire [TAG_WIDTH-1:0]                 m_rd_status_tag,
    output wire [3:0]                           m_rd_status_error,
    output wire [PORTS-1:0]                     m_rd_status_valid,

    /*
     * Clients: write descriptors and statuses
     */
    input  wire [PORTS*64-1:0]                  s_wr_desc_pcie_addr,
    input  wire [PORTS*RAM_ADDR_WIDTH-1:0]      s_wr_desc_ram_addr,
    input  wire [PORTS*64-1:0]                  s_wr_desc_imm,
    input  wire [PORTS-1:0]                     s_wr_desc_imm_en,
    input  wire [PORTS*LEN_WIDTH-1:0]           s_wr_desc_len,
    input  wire [PORTS*TAG_WIDTH-1:0]           s_wr_desc_tag,
    input  wire [PORTS-1:0]                     s_wr_desc_valid,
    output wire [PORTS-1:0]                     s_wr_desc_ready,
    output wire [TAG_WIDTH-1:0]                 m_wr_status_tag,
    output wire [3:0]                           m_wr_status_error,
    output wire [PORTS-1:0]                     m_wr_status_valid,

    /*
     * Clients: RAM ports (written by the read engine, read by the write engine), shared address and data
     */
    output wire [PORTS-1:0]                     m_ram_wr_en,
    output wire [RAM_WORD_WIDTH-1:0]            m_ram_wr_addr,
    output wire [RAM_DATA_WIDTH/8-1:0]          m_ram_wr_be,
    output wire [RAM_DATA_WIDTH-1:0]            m_ram_wr_data,
    output wire [PORTS-1:0]                     m_ram_rd_en,
    output wire [RAM_WORD_WIDTH-1:0]            m_ram_rd_addr,
    input  wire [PORTS*RAM_DATA_WIDTH-1:0]      m_ram_rd_data,

    /*
     * Engines: descriptors, statuses, RAM ports (word addresses with the client number on top)
     */
    output wire [63:0]                          m_rd_desc_pcie_addr,
    output wire [RAM_ADDR_WIDTH+SEL_WIDTH-1:0]  m_rd_desc_ram_addr,
    output wire [LEN_WIDTH-1:0]                 m_rd_desc_len,
    output wire [TAG_WIDTH-1:0]                 m_rd_desc_tag,
    output wire                                 m_rd_desc_valid,
    input  wire                                 m_rd_desc_ready,
    input  wire [TAG_WIDTH-1:0]                 s_rd_status_tag,
    input  wire [3:0]                           s_rd_status_error,
    input  wire                                 s_rd_status_valid,

    output wire [63:0]                          m_wr_desc_pcie_addr,
    output wire [RAM_ADDR_WIDTH+SEL_WIDTH-1:0]  m_wr_desc_ram_addr,
    output wire [63:0]                          m_wr_desc_imm,
    output wire                                 m_wr_desc_imm_en,
    output wire [LEN_WIDTH-1:0]                 m_wr_desc_len,
    output wire [TAG_WIDTH-1:0]                 m_wr_desc_tag,
    output wire                                 m_wr_desc_valid,
    input  wire                                 m_wr_desc_ready,
    input  wire [TAG_WIDTH-1:0]                 s_wr_status_tag,
    input  wire [3:0]                           s_wr_status_error,
    input  wire                                 s_wr_status_valid,

    input  wire                                 s_ram_wr_en,
    input  wire [RAM_WORD_WIDTH+SEL_WIDTH-1:0]  s_ram_wr_addr,
    input  wire [RAM_DATA_WIDTH/8-1:0]          s_ram_wr_be,
    input  wire [RAM_DATA_WIDTH-1:0]            s_ram_wr_data,
    input  wire                                 s_ram_rd_en,
    input  wire [RAM_WORD_WIDTH+SEL_WIDTH-1:0]  s_ram_rd_addr,
    output wire [RAM_DATA_WIDTH-1:0]            s_ram_rd_data
);

localparam CT_WIDTH = TAG_WIDTH - SEL_WIDTH;    // tag bits a client owns

initial begin
    if (PORTS < 2 || (1 << SEL_WIDTH) != PORTS) begin
        $error("Error: PORTS must be a power of 2, at least 2 (instance %m)");
        $finish;
    end
    if (CT_WIDTH < 1 || RAM_WORD_WIDTH < 1) begin
        $error("Error: TAG_WIDTH must exceed log2(PORTS), RAM_ADDR_WIDTH must hold a word (instance %m)");
        $finish;
    end
end

/*
 * Round-robin with hold: 'last' is the client served last; the search starts after it. While an offered
 * descriptor waits, its selection is held.
 */
reg  [SEL_WIDTH-1:0] rd_last_reg, rd_hold_sel_reg, wr_last_reg, wr_hold_sel_reg;
reg                  rd_hold_reg, wr_hold_reg;
reg  [SEL_WIDTH-1:0] rd_pick, wr_pick, cand;
reg  [SEL_WIDTH-1:0] ram_rd_sel_reg;
integer i;

always @* begin
    rd_pick = rd_last_reg;
    wr_pick = wr_last_reg;
    // highest priority last: the first valid client after 'last' wins
    for (i = PORTS; i >= 1; i = i - 1) begin
        cand = rd_last_reg + i[SEL_WIDTH-1:0];
        if (s_rd_desc_valid[cand]) begin
            rd_pick = cand;
        end
        cand = wr_last_reg + i[SEL_WIDTH-1:0];
        if (s_wr_desc_valid[cand]) begin
            wr_pick = cand;
        end
    end
end

wire [SEL_WIDTH-1:0] rd_sel = rd_hold_reg ? rd_hold_sel_reg : rd_pick;
wire [SEL_WIDTH-1:0] wr_sel = wr_hold_reg ? wr_hold_sel_reg : wr_pick;

assign m_rd_desc_pcie_addr = s_rd_desc_pcie_addr[rd_sel*64 +: 64];
assign m_rd_desc_ram_addr = {rd_sel, s_rd_desc_ram_addr[rd_sel*RAM_ADDR_WIDTH +: RAM_ADDR_WIDTH]};
assign m_rd_desc_len = s_rd_desc_len[rd_sel*LEN_WIDTH +: LEN_WIDTH];
assign m_rd_desc_tag = {rd_sel, s_rd_desc_tag[rd_sel*TAG_WIDTH +: CT_WIDTH]};
assign m_rd_desc_valid = s_rd_desc_valid[rd_sel];

assign m_wr_desc_pcie_addr = s_wr_desc_pcie_addr[wr_sel*64 +: 64];
assign m_wr_desc_ram_addr = {wr_sel, s_wr_desc_ram_addr[wr_sel*RAM_ADDR_WIDTH +: RAM_ADDR_WIDTH]};
assign m_wr_desc_imm = s_wr_desc_imm[wr_sel*64 +: 64];
assign m_wr_desc_imm_en = s_wr_desc_imm_en[wr_sel];
assign m_wr_desc_len = s_wr_desc_len[wr_sel*LEN_WIDTH +: LEN_WIDTH];
assign m_wr_desc_tag = {wr_sel, s_wr_desc_tag[wr_sel*TAG_WIDTH +: CT_WIDTH]};
assign m_wr_desc_valid = s_wr_desc_valid[wr_sel];

// statuses back by the tag's client bits
wire [SEL_WIDTH-1:0] rd_status_client = s_rd_status_tag[TAG_WIDTH-1 -: SEL_WIDTH];
wire [SEL_WIDTH-1:0] wr_status_client = s_wr_status_tag[TAG_WIDTH-1 -: SEL_WIDTH];

assign m_rd_status_tag = s_rd_status_tag;
assign m_rd_status_error = s_rd_status_error;
assign m_wr_status_tag = s_wr_status_tag;
assign m_wr_status_error = s_wr_status_error;

// RAM ports by the address's client bits
wire [SEL_WIDTH-1:0] ram_wr_client = s_ram_wr_addr[RAM_WORD_WIDTH+SEL_WIDTH-1 -: SEL_WIDTH];
wire [SEL_WIDTH-1:0] ram_rd_client = s_ram_rd_addr[RAM_WORD_WIDTH+SEL_WIDTH-1 -: SEL_WIDTH];

assign m_ram_wr_addr = s_ram_wr_addr[RAM_WORD_WIDTH-1:0];
assign m_ram_wr_be = s_ram_wr_be;
assign m_ram_wr_data = s_ram_wr_data;
assign m_ram_rd_addr = s_ram_rd_addr[RAM_WORD_WIDTH-1:0];
assign s_ram_rd_data = m_ram_rd_data[ram_rd_sel_reg*RAM_DATA_WIDTH +: RAM_DATA_WIDTH];

genvar k;
generate
    for (k = 0; k < PORTS; k = k + 1) begin : g_port
        assign s_rd_desc_ready[k] = rd_sel == k && m_rd_desc_ready;
        assign s_wr_desc_ready[k] = wr_sel == k && m_wr_desc_ready;
        assign m_rd_status_valid[k] = s_rd_status_valid && rd_status_client == k;
        assign m_wr_status_valid[k] = s_wr_status_valid && wr_status_client == k;
        assign m_ram_wr_en[k] = s_ram_wr_en && ram_wr_client == k;
        assign m_ram_rd_en[k] = s_ram_rd_en && ram_rd_client == k;
    end
endgenerate

always @(posedge clk) begin
    if (m_rd_desc_valid) begin
        rd_hold_reg <= !m_rd_desc_ready;
        rd_hold_sel_reg <= rd_sel;
        if (m_rd_desc_ready) begin
            rd_last_reg <= rd_sel;
        end
    end
    if (m_wr_desc_valid) begin
        wr_hold_reg <= !m_wr_desc_ready;
        wr_hold_sel_reg <= wr_sel;
        if (m_wr_desc_ready) begin
            wr_last_reg <= wr_sel;
        end
    end
    if (s_ram_rd_en) begin
        ram_rd_sel_reg <= ram_rd_client;
    end

    if (rst) begin
        rd_last_reg <= {SEL_WIDTH{1'b0}};
        rd_hold_reg <= 1'b0;
        rd_hold_sel_reg <= {SEL_WIDTH{1'b0}};
        wr_last_reg <= {SEL_WIDTH{1'b0}};
        wr_hold_reg <= 1'b0;
        wr_hold_sel_reg <= {SEL_WIDTH{1'b0}};
        ram_rd_sel_reg <= {SEL_WIDTH{1'b0}};
    end
end

endmodule

`resetall
