// SPDX-License-Identifier: MIT
/*
 * virtio-net PCI function for the Xilinx UltraScale+ PCIe hard block (PCIE4 user interface).
 *
 * The ports facing the hard block keep their Xilinx names, so this module drops into a Vivado design next
 * to the IP (configured for "dword" alignment, no straddle, client tags, MSI-X with an external table in
 * BAR1). Inside, the PCIe side is reduced to two narrow internal ports (hdl/README.md): a register bus
 * (completer: CQ -> registers -> CC) and a DMA port (requester: RQ/RC), plus the interrupt blocks.
 *
 *   BAR0  legacy virtio-pci registers (the virtio block; until it lands: reads 0, writes ignored)
 *   BAR1  MSI-X table (0x000) and PBA (0x800)
 *   BAR2  bring-up / debug registers (hdl/debug/debug_regs.v)
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module virtio_net_usp #
(
    // PCIe user interface (UltraScale+: 64, 128 or 256 bits, dword aligned)
    parameter AXIS_PCIE_DATA_WIDTH = 256,
    parameter AXIS_PCIE_KEEP_WIDTH = (AXIS_PCIE_DATA_WIDTH/32),
    parameter AXIS_PCIE_RQ_USER_WIDTH = 62,
    parameter AXIS_PCIE_RC_USER_WIDTH = 75,
    parameter AXIS_PCIE_CQ_USER_WIDTH = 88,
    parameter AXIS_PCIE_CC_USER_WIDTH = 33,
    // network side
    parameter AXIS_NET_DATA_WIDTH = 64,
    parameter AXIS_NET_KEEP_WIDTH = (AXIS_NET_DATA_WIDTH/8),
    // MSI-X vectors in the BAR1 table
    parameter MSIX_VECTORS = 8
)
(
    input  wire                               user_clk,
    input  wire                               user_reset,

    /*
     * Completer request (CQ) and completion (CC)
     */
    input  wire [AXIS_PCIE_DATA_WIDTH-1:0]    s_axis_cq_tdata,
    input  wire [AXIS_PCIE_KEEP_WIDTH-1:0]    s_axis_cq_tkeep,
    input  wire                               s_axis_cq_tvalid,
    output wire                               s_axis_cq_tready,
    input  wire                               s_axis_cq_tlast,
    input  wire [AXIS_PCIE_CQ_USER_WIDTH-1:0] s_axis_cq_tuser,

    output wire [AXIS_PCIE_DATA_WIDTH-1:0]    m_axis_cc_tdata,
    output wire [AXIS_PCIE_KEEP_WIDTH-1:0]    m_axis_cc_tkeep,
    output wire                               m_axis_cc_tvalid,
    input  wire                               m_axis_cc_tready,
    output wire                               m_axis_cc_tlast,
    output wire [AXIS_PCIE_CC_USER_WIDTH-1:0] m_axis_cc_tuser,

    /*
     * Requester request (RQ) and completion (RC)
     */
    output wire [AXIS_PCIE_DATA_WIDTH-1:0]    m_axis_rq_tdata,
    output wire [AXIS_PCIE_KEEP_WIDTH-1:0]    m_axis_rq_tkeep,
    output wire                               m_axis_rq_tvalid,
    input  wire                               m_axis_rq_tready,
    output wire                               m_axis_rq_tlast,
    output wire [AXIS_PCIE_RQ_USER_WIDTH-1:0] m_axis_rq_tuser,

    input  wire [AXIS_PCIE_DATA_WIDTH-1:0]    s_axis_rc_tdata,
    input  wire [AXIS_PCIE_KEEP_WIDTH-1:0]    s_axis_rc_tkeep,
    input  wire                               s_axis_rc_tvalid,
    output wire                               s_axis_rc_tready,
    input  wire                               s_axis_rc_tlast,
    input  wire [AXIS_PCIE_RC_USER_WIDTH-1:0] s_axis_rc_tuser,

    /*
     * Configuration status
     */
    input  wire [1:0]                         cfg_max_payload,
    input  wire [2:0]                         cfg_max_read_req,
    input  wire [15:0]                        cfg_function_status,

    /*
     * Interrupts: MSI-X (external table) and INTx
     */
    input  wire [3:0]                         cfg_interrupt_msix_enable,
    input  wire [3:0]                         cfg_interrupt_msix_mask,
    output wire [63:0]                        cfg_interrupt_msix_address,
    output wire [31:0]                        cfg_interrupt_msix_data,
    output wire                               cfg_interrupt_msix_int,
    input  wire                               cfg_interrupt_msix_sent,
    input  wire                               cfg_interrupt_msix_fail,
    output wire [7:0]                         cfg_interrupt_msi_function_number,

    output wire [3:0]                         cfg_interrupt_int,
    output wire [3:0]                         cfg_interrupt_pending,
    input  wire                               cfg_interrupt_sent,

    /*
     * Network: frames out (TX) and in (RX), AXI-Stream
     */
    output wire [AXIS_NET_DATA_WIDTH-1:0]     m_axis_tx_tdata,
    output wire [AXIS_NET_KEEP_WIDTH-1:0]     m_axis_tx_tkeep,
    output wire                               m_axis_tx_tvalid,
    input  wire                               m_axis_tx_tready,
    output wire                               m_axis_tx_tlast,
    output wire                               m_axis_tx_tuser,

    input  wire [AXIS_NET_DATA_WIDTH-1:0]     s_axis_rx_tdata,
    input  wire [AXIS_NET_KEEP_WIDTH-1:0]     s_axis_rx_tkeep,
    input  wire                               s_axis_rx_tvalid,
    output wire                               s_axis_rx_tready,
    input  wire                               s_axis_rx_tlast,
    input  wire                               s_axis_rx_tuser
);

localparam REG_ADDR_WIDTH = 12;
localparam MSIX_VEC_WIDTH = MSIX_VECTORS > 1 ? $clog2(MSIX_VECTORS) : 1;

// DMA port: byte addresses into the client RAM, lengths, tags
localparam RAM_ADDR_WIDTH = 13;                 // 8 KiB self-test RAM
localparam RAM_BYTES = 1 << RAM_ADDR_WIDTH;
localparam RAM_WORD_ADDR_WIDTH = RAM_ADDR_WIDTH - $clog2(AXIS_PCIE_DATA_WIDTH/8);
localparam LEN_WIDTH = 16;
localparam DMA_TAG_WIDTH = 8;

initial begin
    if (AXIS_PCIE_DATA_WIDTH != 64 && AXIS_PCIE_DATA_WIDTH != 128 && AXIS_PCIE_DATA_WIDTH != 256) begin
        $error("Error: AXIS_PCIE_DATA_WIDTH must be 64, 128 or 256 (instance %m)");
        $finish;
    end
    if (AXIS_PCIE_KEEP_WIDTH * 32 != AXIS_PCIE_DATA_WIDTH) begin
        $error("Error: AXIS_PCIE_KEEP_WIDTH must be AXIS_PCIE_DATA_WIDTH/32 (instance %m)");
        $finish;
    end
    if (AXIS_NET_KEEP_WIDTH * 8 != AXIS_NET_DATA_WIDTH) begin
        $error("Error: AXIS_NET_KEEP_WIDTH must be AXIS_NET_DATA_WIDTH/8 (instance %m)");
        $finish;
    end
end

wire clk = user_clk;
wire rst = user_reset;

// function 0 status: [2] bus master enable, [3] interrupt disable (Command register)
wire cfg_bus_master_enable = cfg_function_status[2];
wire cfg_intx_disable = cfg_function_status[3];

/*
 * Completer: CQ -> register bus -> CC
 */
wire                       reg_req_valid;
wire                       reg_req_write;
wire [2:0]                 reg_req_bar;
wire [REG_ADDR_WIDTH-1:0]  reg_req_addr;
wire [3:0]                 reg_req_be;
wire [31:0]                reg_req_wdata;
wire                       reg_rsp_valid;
wire [31:0]                reg_rsp_rdata;

wire stat_cq_req, stat_cc_cpl, stat_cq_ur;

pcie_us_cq_cc_bridge #(
    .AXIS_PCIE_DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .AXIS_PCIE_KEEP_WIDTH(AXIS_PCIE_KEEP_WIDTH),
    .AXIS_PCIE_CQ_USER_WIDTH(AXIS_PCIE_CQ_USER_WIDTH),
    .AXIS_PCIE_CC_USER_WIDTH(AXIS_PCIE_CC_USER_WIDTH),
    .REG_ADDR_WIDTH(REG_ADDR_WIDTH),
    .BAR_MASK(6'b000111)
)
cq_cc_bridge_inst (
    .clk(clk),
    .rst(rst),
    .s_axis_cq_tdata(s_axis_cq_tdata),
    .s_axis_cq_tkeep(s_axis_cq_tkeep),
    .s_axis_cq_tvalid(s_axis_cq_tvalid),
    .s_axis_cq_tready(s_axis_cq_tready),
    .s_axis_cq_tlast(s_axis_cq_tlast),
    .s_axis_cq_tuser(s_axis_cq_tuser),
    .m_axis_cc_tdata(m_axis_cc_tdata),
    .m_axis_cc_tkeep(m_axis_cc_tkeep),
    .m_axis_cc_tvalid(m_axis_cc_tvalid),
    .m_axis_cc_tready(m_axis_cc_tready),
    .m_axis_cc_tlast(m_axis_cc_tlast),
    .m_axis_cc_tuser(m_axis_cc_tuser),
    .reg_req_valid(reg_req_valid),
    .reg_req_write(reg_req_write),
    .reg_req_bar(reg_req_bar),
    .reg_req_addr(reg_req_addr),
    .reg_req_be(reg_req_be),
    .reg_req_wdata(reg_req_wdata),
    .reg_rsp_valid(reg_rsp_valid),
    .reg_rsp_rdata(reg_rsp_rdata),
    .stat_cq_req_tlp(stat_cq_req),
    .stat_cc_cpl_tlp(stat_cc_cpl),
    .stat_cq_ur(stat_cq_ur)
);

wire [2:0]                 bar_req_valid;
wire                       bar_req_write;
wire [REG_ADDR_WIDTH-1:0]  bar_req_addr;
wire [3:0]                 bar_req_be;
wire [31:0]                bar_req_wdata;
wire [2:0]                 bar_rsp_valid;
wire [3*32-1:0]            bar_rsp_rdata;

reg_bar_mux #(
    .REG_ADDR_WIDTH(REG_ADDR_WIDTH)
)
reg_bar_mux_inst (
    .s_reg_req_valid(reg_req_valid),
    .s_reg_req_write(reg_req_write),
    .s_reg_req_bar(reg_req_bar),
    .s_reg_req_addr(reg_req_addr),
    .s_reg_req_be(reg_req_be),
    .s_reg_req_wdata(reg_req_wdata),
    .s_reg_rsp_valid(reg_rsp_valid),
    .s_reg_rsp_rdata(reg_rsp_rdata),
    .m_reg_req_valid(bar_req_valid),
    .m_reg_req_write(bar_req_write),
    .m_reg_req_addr(bar_req_addr),
    .m_reg_req_be(bar_req_be),
    .m_reg_req_wdata(bar_req_wdata),
    .m_reg_rsp_valid(bar_rsp_valid),
    .m_reg_rsp_rdata(bar_rsp_rdata)
);

/*
 * BAR0: the legacy virtio-pci register block goes here. Until then the BAR is implemented (so it sizes and
 * enumerates like the final device) and answers every access: reads 0, writes ignored.
 */
reg bar0_rsp_valid_reg;

always @(posedge clk) begin
    bar0_rsp_valid_reg <= bar_req_valid[0];
    if (rst) begin
        bar0_rsp_valid_reg <= 1'b0;
    end
end

assign bar_rsp_valid[0] = bar0_rsp_valid_reg;
assign bar_rsp_rdata[0*32 +: 32] = 32'd0;

/*
 * Interrupts
 */
wire                       irq_valid;
wire                       irq_ready;
wire [MSIX_VEC_WIDTH-1:0]  irq_vector;
wire                       intx_level;
wire stat_msix, stat_intx_assert, stat_intx_deassert;

pcie_msix #(
    .VEC_COUNT(MSIX_VECTORS),
    .REG_ADDR_WIDTH(REG_ADDR_WIDTH)
)
msix_inst (
    .clk(clk),
    .rst(rst),
    .reg_req_valid(bar_req_valid[1]),
    .reg_req_write(bar_req_write),
    .reg_req_addr(bar_req_addr),
    .reg_req_be(bar_req_be),
    .reg_req_wdata(bar_req_wdata),
    .reg_rsp_valid(bar_rsp_valid[1]),
    .reg_rsp_rdata(bar_rsp_rdata[1*32 +: 32]),
    .irq_valid(irq_valid),
    .irq_ready(irq_ready),
    .irq_vector(irq_vector),
    .cfg_interrupt_msix_enable(cfg_interrupt_msix_enable),
    .cfg_interrupt_msix_mask(cfg_interrupt_msix_mask),
    .cfg_interrupt_msix_address(cfg_interrupt_msix_address),
    .cfg_interrupt_msix_data(cfg_interrupt_msix_data),
    .cfg_interrupt_msix_int(cfg_interrupt_msix_int),
    .cfg_interrupt_msix_sent(cfg_interrupt_msix_sent),
    .cfg_interrupt_msix_fail(cfg_interrupt_msix_fail),
    .cfg_interrupt_msi_function_number(cfg_interrupt_msi_function_number),
    .stat_msix_sent(stat_msix)
);

pcie_intx intx_inst (
    .clk(clk),
    .rst(rst),
    .intx_level(intx_level),
    .intx_disable(cfg_intx_disable),
    .cfg_interrupt_int(cfg_interrupt_int),
    .cfg_interrupt_pending(cfg_interrupt_pending),
    .cfg_interrupt_sent(cfg_interrupt_sent),
    .stat_intx_assert(stat_intx_assert),
    .stat_intx_deassert(stat_intx_deassert)
);

/*
 * DMA: read engine -> RAM -> write engine, both onto RQ through the mux
 */
wire [63:0]               rd_desc_pcie_addr;
wire [RAM_ADDR_WIDTH-1:0] rd_desc_ram_addr;
wire [LEN_WIDTH-1:0]      rd_desc_len;
wire [DMA_TAG_WIDTH-1:0]  rd_desc_tag;
wire                      rd_desc_valid;
wire                      rd_desc_ready;
wire [DMA_TAG_WIDTH-1:0]  rd_status_tag;
wire [3:0]                rd_status_error;
wire                      rd_status_valid;

wire [63:0]               wr_desc_pcie_addr;
wire [RAM_ADDR_WIDTH-1:0] wr_desc_ram_addr;
wire [63:0]               wr_desc_imm;
wire                      wr_desc_imm_en;
wire [LEN_WIDTH-1:0]      wr_desc_len;
wire [DMA_TAG_WIDTH-1:0]  wr_desc_tag;
wire                      wr_desc_valid;
wire                      wr_desc_ready;
wire [DMA_TAG_WIDTH-1:0]  wr_status_tag;
wire [3:0]                wr_status_error;
wire                      wr_status_valid;

wire stat_rq_rd, stat_rq_wr, stat_rc_cpl, stat_rc_err;

// DMA engine placeholder: wired in once the engines land (see hdl/README.md, internal interface 2)

/*
 * Bring-up / debug registers (BAR2)
 */
wire intx_test_level;

debug_regs #(
    .REG_ADDR_WIDTH(REG_ADDR_WIDTH),
    .PCIE_DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .NET_DATA_WIDTH(AXIS_NET_DATA_WIDTH),
    .MSIX_VECTORS(MSIX_VECTORS),
    .MSIX_VEC_WIDTH(MSIX_VEC_WIDTH),
    .RAM_ADDR_WIDTH(RAM_ADDR_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .DMA_TAG_WIDTH(DMA_TAG_WIDTH),
    .SELFTEST_RAM_BYTES(RAM_BYTES)
)
debug_regs_inst (
    .clk(clk),
    .rst(rst),
    .reg_req_valid(bar_req_valid[2]),
    .reg_req_write(bar_req_write),
    .reg_req_addr(bar_req_addr),
    .reg_req_be(bar_req_be),
    .reg_req_wdata(bar_req_wdata),
    .reg_rsp_valid(bar_rsp_valid[2]),
    .reg_rsp_rdata(bar_rsp_rdata[2*32 +: 32]),
    .m_axis_read_desc_pcie_addr(rd_desc_pcie_addr),
    .m_axis_read_desc_ram_addr(rd_desc_ram_addr),
    .m_axis_read_desc_len(rd_desc_len),
    .m_axis_read_desc_tag(rd_desc_tag),
    .m_axis_read_desc_valid(rd_desc_valid),
    .m_axis_read_desc_ready(rd_desc_ready),
    .s_axis_read_desc_status_tag(rd_status_tag),
    .s_axis_read_desc_status_error(rd_status_error),
    .s_axis_read_desc_status_valid(rd_status_valid),
    .m_axis_write_desc_pcie_addr(wr_desc_pcie_addr),
    .m_axis_write_desc_ram_addr(wr_desc_ram_addr),
    .m_axis_write_desc_imm(wr_desc_imm),
    .m_axis_write_desc_imm_en(wr_desc_imm_en),
    .m_axis_write_desc_len(wr_desc_len),
    .m_axis_write_desc_tag(wr_desc_tag),
    .m_axis_write_desc_valid(wr_desc_valid),
    .m_axis_write_desc_ready(wr_desc_ready),
    .s_axis_write_desc_status_tag(wr_status_tag),
    .s_axis_write_desc_status_error(wr_status_error),
    .s_axis_write_desc_status_valid(wr_status_valid),
    .intx_test_level(intx_test_level),
    .irq_valid(irq_valid),
    .irq_vector(irq_vector),
    .irq_ready(irq_ready),
    .cfg_max_payload(cfg_max_payload),
    .cfg_max_read_req(cfg_max_read_req),
    .cfg_msix_enable(cfg_interrupt_msix_enable[0]),
    .cfg_msix_mask(cfg_interrupt_msix_mask[0]),
    .cfg_bus_master_enable(cfg_bus_master_enable),
    .cfg_intx_disable(cfg_intx_disable),
    .stat_rq_rd(stat_rq_rd),
    .stat_rq_wr(stat_rq_wr),
    .stat_rc_cpl(stat_rc_cpl),
    .stat_rc_err(stat_rc_err),
    .stat_cq_req(stat_cq_req),
    .stat_cc_cpl(stat_cc_cpl),
    .stat_cq_ur(stat_cq_ur),
    .stat_msix(stat_msix),
    .stat_intx_assert(stat_intx_assert),
    .stat_intx_deassert(stat_intx_deassert)
);

// the INTx line: the debug BAR's test level (the virtio ISR joins it)
assign intx_level = intx_test_level;

/*
 * Network ports: the TX virtqueue engine drives m_axis_tx_*; RX frames are accepted and dropped until the
 * RX virtqueue lands.
 */
assign m_axis_tx_tdata = {AXIS_NET_DATA_WIDTH{1'b0}};
assign m_axis_tx_tkeep = {AXIS_NET_KEEP_WIDTH{1'b0}};
assign m_axis_tx_tvalid = 1'b0;
assign m_axis_tx_tlast = 1'b0;
assign m_axis_tx_tuser = 1'b0;
assign s_axis_rx_tready = 1'b1;

endmodule

`resetall
