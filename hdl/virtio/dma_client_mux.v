// SPDX-License-Identifier: MIT
/*
 * Two DMA clients on one pair of DMA engines (hdl/README.md, interface 2).
 *
 * Client 0 is the debug BAR's self-test, client 1 the TX virtqueue engine. Descriptors are arbitrated
 * round-robin (a descriptor that is offered stays selected until it is accepted, so each client sees a
 * stable AXI-Stream handshake). The client number travels in two places: the MSB of the tag (a client's
 * tag MSB is forced to its number; statuses are routed back by it) and the MSB of the RAM byte address
 * (the top routes the read engine's RAM writes by it to the client's own RAM). Client 1 writes immediate
 * data only: the write engine's RAM read port serves client 0's RAM.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module dma_client_mux #
(
    parameter RAM_ADDR_WIDTH = 13,      // per client; the engines see RAM_ADDR_WIDTH+1
    parameter LEN_WIDTH = 16,
    parameter TAG_WIDTH = 8
)
(
    input  wire                        clk,
    input  wire                        rst,

    /*
     * Clients: read descriptors and statuses, [1] = client 1
     */
    input  wire [2*64-1:0]             s_rd_desc_pcie_addr,
    input  wire [2*RAM_ADDR_WIDTH-1:0] s_rd_desc_ram_addr,
    input  wire [2*LEN_WIDTH-1:0]      s_rd_desc_len,
    input  wire [2*TAG_WIDTH-1:0]      s_rd_desc_tag,
    input  wire [1:0]                  s_rd_desc_valid,
    output wire [1:0]                  s_rd_desc_ready,
    output wire [TAG_WIDTH-1:0]        m_rd_status_tag,
    output wire [3:0]                  m_rd_status_error,
    output wire [1:0]                  m_rd_status_valid,

    /*
     * Clients: write descriptors and statuses
     */
    input  wire [2*64-1:0]             s_wr_desc_pcie_addr,
    input  wire [2*RAM_ADDR_WIDTH-1:0] s_wr_desc_ram_addr,
    input  wire [2*64-1:0]             s_wr_desc_imm,
    input  wire [1:0]                  s_wr_desc_imm_en,
    input  wire [2*LEN_WIDTH-1:0]      s_wr_desc_len,
    input  wire [2*TAG_WIDTH-1:0]      s_wr_desc_tag,
    input  wire [1:0]                  s_wr_desc_valid,
    output wire [1:0]                  s_wr_desc_ready,
    output wire [TAG_WIDTH-1:0]        m_wr_status_tag,
    output wire [3:0]                  m_wr_status_error,
    output wire [1:0]                  m_wr_status_valid,

    /*
     * To the engines
     */
    output wire [63:0]                 m_rd_desc_pcie_addr,
    output wire [RAM_ADDR_WIDTH:0]     m_rd_desc_ram_addr,
    output wire [LEN_WIDTH-1:0]        m_rd_desc_len,
    output wire [TAG_WIDTH-1:0]        m_rd_desc_tag,
    output wire                        m_rd_desc_valid,
    input  wire                        m_rd_desc_ready,
    input  wire [TAG_WIDTH-1:0]        s_rd_status_tag,
    input  wire [3:0]                  s_rd_status_error,
    input  wire                        s_rd_status_valid,

    output wire [63:0]                 m_wr_desc_pcie_addr,
    output wire [RAM_ADDR_WIDTH:0]     m_wr_desc_ram_addr,
    output wire [63:0]                 m_wr_desc_imm,
    output wire                        m_wr_desc_imm_en,
    output wire [LEN_WIDTH-1:0]        m_wr_desc_len,
    output wire [TAG_WIDTH-1:0]        m_wr_desc_tag,
    output wire                        m_wr_desc_valid,
    input  wire                        m_wr_desc_ready,
    input  wire [TAG_WIDTH-1:0]        s_wr_status_tag,
    input  wire [3:0]                  s_wr_status_error,
    input  wire                        s_wr_status_valid
);

/*
 * Round-robin with hold: 'last' is the client served last; while an offered descriptor waits, its
 * selection is held.
 */
reg  rd_last_reg, rd_hold_reg, rd_hold_sel_reg;
reg  wr_last_reg, wr_hold_reg, wr_hold_sel_reg;

wire rd_sel = rd_hold_reg ? rd_hold_sel_reg :
              (s_rd_desc_valid[0] && s_rd_desc_valid[1]) ? !rd_last_reg : s_rd_desc_valid[1];
wire wr_sel = wr_hold_reg ? wr_hold_sel_reg :
              (s_wr_desc_valid[0] && s_wr_desc_valid[1]) ? !wr_last_reg : s_wr_desc_valid[1];

assign m_rd_desc_pcie_addr = s_rd_desc_pcie_addr[rd_sel*64 +: 64];
assign m_rd_desc_ram_addr = {rd_sel, s_rd_desc_ram_addr[rd_sel*RAM_ADDR_WIDTH +: RAM_ADDR_WIDTH]};
assign m_rd_desc_len = s_rd_desc_len[rd_sel*LEN_WIDTH +: LEN_WIDTH];
assign m_rd_desc_tag = {rd_sel, s_rd_desc_tag[rd_sel*TAG_WIDTH +: TAG_WIDTH-1]};
assign m_rd_desc_valid = s_rd_desc_valid[rd_sel];
assign s_rd_desc_ready = {rd_sel && m_rd_desc_ready, !rd_sel && m_rd_desc_ready};

assign m_wr_desc_pcie_addr = s_wr_desc_pcie_addr[wr_sel*64 +: 64];
assign m_wr_desc_ram_addr = {wr_sel, s_wr_desc_ram_addr[wr_sel*RAM_ADDR_WIDTH +: RAM_ADDR_WIDTH]};
assign m_wr_desc_imm = s_wr_desc_imm[wr_sel*64 +: 64];
assign m_wr_desc_imm_en = s_wr_desc_imm_en[wr_sel];
assign m_wr_desc_len = s_wr_desc_len[wr_sel*LEN_WIDTH +: LEN_WIDTH];
assign m_wr_desc_tag = {wr_sel, s_wr_desc_tag[wr_sel*TAG_WIDTH +: TAG_WIDTH-1]};
assign m_wr_desc_valid = s_wr_desc_valid[wr_sel];
assign s_wr_desc_ready = {wr_sel && m_wr_desc_ready, !wr_sel && m_wr_desc_ready};

// statuses back by tag MSB
wire rd_status_client = s_rd_status_tag[TAG_WIDTH-1];
wire wr_status_client = s_wr_status_tag[TAG_WIDTH-1];

assign m_rd_status_tag = s_rd_status_tag;
assign m_rd_status_error = s_rd_status_error;
assign m_rd_status_valid = {s_rd_status_valid && rd_status_client, s_rd_status_valid && !rd_status_client};
assign m_wr_status_tag = s_wr_status_tag;
assign m_wr_status_error = s_wr_status_error;
assign m_wr_status_valid = {s_wr_status_valid && wr_status_client, s_wr_status_valid && !wr_status_client};

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

    if (rst) begin
        rd_last_reg <= 1'b0;
        rd_hold_reg <= 1'b0;
        rd_hold_sel_reg <= 1'b0;
        wr_last_reg <= 1'b0;
        wr_hold_reg <= 1'b0;
        wr_hold_sel_reg <= 1'b0;
    end
end

endmodule

`resetall
