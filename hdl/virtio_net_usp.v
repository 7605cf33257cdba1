// SPDX-License-Identifier: MIT
/*
 * virtio-net PCI function for the Xilinx UltraScale+ PCIe hard block (PCIE4 user interface).
 *
 * The ports facing the hard block keep their Xilinx names, so this module drops into a Vivado design next
 * to the IP (configured for "dword" alignment, no straddle, client tags, MSI-X with an external table in
 * BAR1). Inside, the PCIe side is reduced to two narrow internal ports (hdl/README.md): a register bus
 * (completer: CQ -> registers -> CC) and a DMA port (requester: RQ/RC), plus the interrupt blocks.
 *
 *   BAR0  legacy virtio-pci registers (hdl/virtio/virtio_legacy_regs.v): a 32-bit memory BAR, or with
 *         BAR0_IO = 1 an I/O BAR (the IP's Device/Port Type must then be Legacy PCI Express Endpoint;
 *         hdl/README.md says why memory is the default)
 *   BAR1  MSI-X table (0x000) and PBA (0x800)
 *   BAR2  bring-up / debug registers (hdl/debug/debug_regs.v, 0x000-0x1FF) and the device modes and
 *         virtio counters (hdl/virtio/virtio_dev_ctrl.v, 0x200-0x3FF)
 *
 * The TX virtqueue engine (hdl/virtio/virtq_tx.v) and the debug BAR's DMA self-test share the DMA
 * engines through hdl/virtio/dma_client_mux.v; each has its own RAM.
 *
 * FAULT_ENABLE = 0 (the default, what goes on a board) builds the TX engine without its test-only fault
 * knobs: BAR2 0x208 FAULT reads 0 and ignores writes. The simulation builds set 1.
 *
 * The debug BUILD register reports the build options in bits 31:24: bit 24 FAULT_ENABLE, bit 25 BAR0_IO; the
 * debug TX_PARAMS register the TX engine's descriptor window, batch and INDIRECT table limits (what the
 * testbench's checkers must know of the engine, read from the device rather than copied).
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
    parameter MSIX_VECTORS = 8,
    // virtqueues
    parameter TX_QUEUE_SIZE = 256,
    parameter RX_QUEUE_SIZE = 256,
    parameter [47:0] MAC_ADDR = 48'h02_00_00_00_00_01,
    // longest frame the TX engine sends (without the virtio_net_hdr): 1514 + an 802.1Q tag
    parameter MAX_FRAME_LEN = 1518,
    // BAR0 (the legacy register block): 0 = 32-bit memory BAR, 1 = I/O BAR
    parameter BAR0_IO = 0,
    // test-only fault knobs of the TX engine (BAR2 0x208): 0 = built out, 1 = present (simulation)
    parameter FAULT_ENABLE = 0
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
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [15:0]                        cfg_function_status,   // PF0's bus master / INTx disable only
    /* verilator lint_on UNUSEDSIGNAL */

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

    // RX frames are accepted and dropped until the RX virtqueue lands
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [AXIS_NET_DATA_WIDTH-1:0]     s_axis_rx_tdata,
    input  wire [AXIS_NET_KEEP_WIDTH-1:0]     s_axis_rx_tkeep,
    input  wire                               s_axis_rx_tvalid,
    output wire                               s_axis_rx_tready,
    input  wire                               s_axis_rx_tlast,
    input  wire                               s_axis_rx_tuser
    /* verilator lint_on UNUSEDSIGNAL */
);

localparam REG_ADDR_WIDTH = 12;
localparam MSIX_VEC_WIDTH = MSIX_VECTORS > 1 ? $clog2(MSIX_VECTORS) : 1;

// DMA port: byte addresses into a client RAM (the engines see one more bit: the client), lengths, tags
localparam RAM_ADDR_WIDTH = 13;                 // per client: 8 KiB self-test RAM
localparam RAM_BYTES = 1 << RAM_ADDR_WIDTH;
localparam WORD_BYTES = AXIS_PCIE_DATA_WIDTH/8;
localparam RAM_WORD_ADDR_WIDTH = RAM_ADDR_WIDTH - $clog2(WORD_BYTES);
localparam TX_RAM_ADDR_WIDTH = 12;              // 4 KiB TX engine RAM
localparam TX_RAM_WORD_ADDR_WIDTH = TX_RAM_ADDR_WIDTH - $clog2(WORD_BYTES);
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
    .BAR_MASK(6'b000111),
    .BAR_IO_MASK({5'b00000, BAR0_IO != 0})
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
 * BAR0: legacy virtio-pci registers
 */
wire [7:0]  virtio_status;
wire [31:0] guest_features;
wire        tx_queue_enable;
wire [63:0] tx_queue_base;
wire        tx_notify;
wire        dev_reset;
wire        tx_irq_valid;
/* verilator lint_off UNUSEDSIGNAL */
wire        tx_irq_cause;               // counted through stat_irq_normal / stat_irq_noe instead
/* verilator lint_on UNUSEDSIGNAL */
wire        tx_idle;
wire        tx_err_valid;
wire [3:0]  tx_err_cause;
wire        virtio_irq_valid;
wire [MSIX_VEC_WIDTH-1:0] virtio_irq_vector;
wire        virtio_irq_ready;
wire        virtio_intx_level;
wire        stat_config_irq;

wire        stat_frame, stat_notify, stat_irq_normal, stat_irq_noe, stat_irq_suppressed;
wire        stat_drop_oversize, stat_drop_runt;

wire [1:0]  noe_policy;
wire        offer_noe;
wire        offer_indirect;
wire        kick_suppress;
wire        pacing_timer;
wire [31:0] pacing_interval;
wire [8:0]  tx_fault;           // test only: BAR2 0x208 FAULT, the TX engine's fault knobs (FAULT_ENABLE)

virtio_legacy_regs #(
    .REG_ADDR_WIDTH(REG_ADDR_WIDTH),
    .RX_QUEUE_SIZE(RX_QUEUE_SIZE),
    .TX_QUEUE_SIZE(TX_QUEUE_SIZE),
    .MSIX_VECTORS(MSIX_VECTORS),
    .MSIX_VEC_WIDTH(MSIX_VEC_WIDTH),
    .MAC_ADDR(MAC_ADDR)
)
virtio_regs_inst (
    .clk(clk),
    .rst(rst),
    .reg_req_valid(bar_req_valid[0]),
    .reg_req_write(bar_req_write),
    .reg_req_addr(bar_req_addr),
    .reg_req_be(bar_req_be),
    .reg_req_wdata(bar_req_wdata),
    .reg_rsp_valid(bar_rsp_valid[0]),
    .reg_rsp_rdata(bar_rsp_rdata[0*32 +: 32]),
    .offer_noe(offer_noe),
    .offer_indirect(offer_indirect),
    .status(virtio_status),
    .guest_features(guest_features),
    .tx_queue_enable(tx_queue_enable),
    .tx_queue_base(tx_queue_base),
    .tx_notify(tx_notify),
    .dev_reset(dev_reset),
    .tx_irq(tx_irq_valid),
    .tx_error(tx_err_valid),
    .msix_enabled(cfg_interrupt_msix_enable[0]),
    .irq_valid(virtio_irq_valid),
    .irq_vector(virtio_irq_vector),
    .irq_ready(virtio_irq_ready),
    .intx_level(virtio_intx_level),
    .stat_config_irq(stat_config_irq)
);

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

// TX engine's side of the DMA port (client 1)
wire [63:0]                  tx_rd_desc_pcie_addr;
wire [TX_RAM_ADDR_WIDTH-1:0] tx_rd_desc_ram_addr;
wire [LEN_WIDTH-1:0]         tx_rd_desc_len;
wire [DMA_TAG_WIDTH-1:0]     tx_rd_desc_tag;
wire                         tx_rd_desc_valid;
wire                         tx_rd_desc_ready;
wire [63:0]                  tx_wr_desc_pcie_addr;
wire [TX_RAM_ADDR_WIDTH-1:0] tx_wr_desc_ram_addr;
wire [63:0]                  tx_wr_desc_imm;
wire                         tx_wr_desc_imm_en;
wire [LEN_WIDTH-1:0]         tx_wr_desc_len;
wire [DMA_TAG_WIDTH-1:0]     tx_wr_desc_tag;
wire                         tx_wr_desc_valid;
wire                         tx_wr_desc_ready;

wire [DMA_TAG_WIDTH-1:0]     mux_rd_status_tag;
wire [3:0]                   mux_rd_status_error;
wire [1:0]                   mux_rd_status_valid;
wire [DMA_TAG_WIDTH-1:0]     mux_wr_status_tag;
wire [3:0]                   mux_wr_status_error;
wire [1:0]                   mux_wr_status_valid;

assign rd_status_tag = mux_rd_status_tag;
assign rd_status_error = mux_rd_status_error;
assign rd_status_valid = mux_rd_status_valid[0];
assign wr_status_tag = mux_wr_status_tag;
assign wr_status_error = mux_wr_status_error;
assign wr_status_valid = mux_wr_status_valid[0];

// engine side: one more RAM address bit, the client
wire [63:0]               eng_rd_desc_pcie_addr;
wire [RAM_ADDR_WIDTH:0]   eng_rd_desc_ram_addr;
wire [LEN_WIDTH-1:0]      eng_rd_desc_len;
wire [DMA_TAG_WIDTH-1:0]  eng_rd_desc_tag;
wire                      eng_rd_desc_valid;
wire                      eng_rd_desc_ready;
wire [DMA_TAG_WIDTH-1:0]  eng_rd_status_tag;
wire [3:0]                eng_rd_status_error;
wire                      eng_rd_status_valid;
wire [63:0]               eng_wr_desc_pcie_addr;
wire [RAM_ADDR_WIDTH:0]   eng_wr_desc_ram_addr;
wire [63:0]               eng_wr_desc_imm;
wire                      eng_wr_desc_imm_en;
wire [LEN_WIDTH-1:0]      eng_wr_desc_len;
wire [DMA_TAG_WIDTH-1:0]  eng_wr_desc_tag;
wire                      eng_wr_desc_valid;
wire                      eng_wr_desc_ready;
wire [DMA_TAG_WIDTH-1:0]  eng_wr_status_tag;
wire [3:0]                eng_wr_status_error;
wire                      eng_wr_status_valid;

dma_client_mux #(
    .RAM_ADDR_WIDTH(RAM_ADDR_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .TAG_WIDTH(DMA_TAG_WIDTH)
)
dma_client_mux_inst (
    .clk(clk),
    .rst(rst),
    .s_rd_desc_pcie_addr({tx_rd_desc_pcie_addr, rd_desc_pcie_addr}),
    .s_rd_desc_ram_addr({{(RAM_ADDR_WIDTH-TX_RAM_ADDR_WIDTH){1'b0}}, tx_rd_desc_ram_addr, rd_desc_ram_addr}),
    .s_rd_desc_len({tx_rd_desc_len, rd_desc_len}),
    .s_rd_desc_tag({tx_rd_desc_tag, rd_desc_tag}),
    .s_rd_desc_valid({tx_rd_desc_valid, rd_desc_valid}),
    .s_rd_desc_ready({tx_rd_desc_ready, rd_desc_ready}),
    .m_rd_status_tag(mux_rd_status_tag),
    .m_rd_status_error(mux_rd_status_error),
    .m_rd_status_valid(mux_rd_status_valid),
    .s_wr_desc_pcie_addr({tx_wr_desc_pcie_addr, wr_desc_pcie_addr}),
    .s_wr_desc_ram_addr({{(RAM_ADDR_WIDTH-TX_RAM_ADDR_WIDTH){1'b0}}, tx_wr_desc_ram_addr, wr_desc_ram_addr}),
    .s_wr_desc_imm({tx_wr_desc_imm, wr_desc_imm}),
    .s_wr_desc_imm_en({tx_wr_desc_imm_en, wr_desc_imm_en}),
    .s_wr_desc_len({tx_wr_desc_len, wr_desc_len}),
    .s_wr_desc_tag({tx_wr_desc_tag, wr_desc_tag}),
    .s_wr_desc_valid({tx_wr_desc_valid, wr_desc_valid}),
    .s_wr_desc_ready({tx_wr_desc_ready, wr_desc_ready}),
    .m_wr_status_tag(mux_wr_status_tag),
    .m_wr_status_error(mux_wr_status_error),
    .m_wr_status_valid(mux_wr_status_valid),
    .m_rd_desc_pcie_addr(eng_rd_desc_pcie_addr),
    .m_rd_desc_ram_addr(eng_rd_desc_ram_addr),
    .m_rd_desc_len(eng_rd_desc_len),
    .m_rd_desc_tag(eng_rd_desc_tag),
    .m_rd_desc_valid(eng_rd_desc_valid),
    .m_rd_desc_ready(eng_rd_desc_ready),
    .s_rd_status_tag(eng_rd_status_tag),
    .s_rd_status_error(eng_rd_status_error),
    .s_rd_status_valid(eng_rd_status_valid),
    .m_wr_desc_pcie_addr(eng_wr_desc_pcie_addr),
    .m_wr_desc_ram_addr(eng_wr_desc_ram_addr),
    .m_wr_desc_imm(eng_wr_desc_imm),
    .m_wr_desc_imm_en(eng_wr_desc_imm_en),
    .m_wr_desc_len(eng_wr_desc_len),
    .m_wr_desc_tag(eng_wr_desc_tag),
    .m_wr_desc_valid(eng_wr_desc_valid),
    .m_wr_desc_ready(eng_wr_desc_ready),
    .s_wr_status_tag(eng_wr_status_tag),
    .s_wr_status_error(eng_wr_status_error),
    .s_wr_status_valid(eng_wr_status_valid)
);

// read engine -> RAMs (by the client bit), write engine <- the self-test RAM
wire                           eng_ram_wr_en;
wire [RAM_WORD_ADDR_WIDTH:0]   eng_ram_wr_addr;
wire [WORD_BYTES-1:0]          eng_ram_wr_be;
wire [AXIS_PCIE_DATA_WIDTH-1:0] eng_ram_wr_data;
wire                           eng_ram_rd_en;
/* verilator lint_off UNUSEDSIGNAL */
wire [RAM_WORD_ADDR_WIDTH:0]   eng_ram_rd_addr;  // client bit unused: only client 0 writes from RAM
/* verilator lint_on UNUSEDSIGNAL */
wire [AXIS_PCIE_DATA_WIDTH-1:0] eng_ram_rd_data;

wire [AXIS_PCIE_DATA_WIDTH-1:0]    rd_rq_tdata, wr_rq_tdata;
wire [AXIS_PCIE_KEEP_WIDTH-1:0]    rd_rq_tkeep, wr_rq_tkeep;
wire                               rd_rq_tlast, wr_rq_tlast;
wire [AXIS_PCIE_RQ_USER_WIDTH-1:0] rd_rq_tuser, wr_rq_tuser;
wire                               rd_rq_tvalid, wr_rq_tvalid;
wire                               rd_rq_tready, wr_rq_tready;

pcie_us_dma_rd #(
    .AXIS_PCIE_DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .AXIS_PCIE_KEEP_WIDTH(AXIS_PCIE_KEEP_WIDTH),
    .AXIS_PCIE_RQ_USER_WIDTH(AXIS_PCIE_RQ_USER_WIDTH),
    .AXIS_PCIE_RC_USER_WIDTH(AXIS_PCIE_RC_USER_WIDTH),
    .RAM_ADDR_WIDTH(RAM_ADDR_WIDTH+1),
    .LEN_WIDTH(LEN_WIDTH),
    .TAG_WIDTH(DMA_TAG_WIDTH)
)
dma_rd_inst (
    .clk(clk),
    .rst(rst),
    .m_axis_rq_tdata(rd_rq_tdata),
    .m_axis_rq_tkeep(rd_rq_tkeep),
    .m_axis_rq_tlast(rd_rq_tlast),
    .m_axis_rq_tuser(rd_rq_tuser),
    .m_axis_rq_tvalid(rd_rq_tvalid),
    .m_axis_rq_tready(rd_rq_tready),
    .s_axis_rc_tdata(s_axis_rc_tdata),
    .s_axis_rc_tkeep(s_axis_rc_tkeep),
    .s_axis_rc_tlast(s_axis_rc_tlast),
    .s_axis_rc_tuser(s_axis_rc_tuser),
    .s_axis_rc_tvalid(s_axis_rc_tvalid),
    .s_axis_rc_tready(s_axis_rc_tready),
    .s_axis_read_desc_pcie_addr(eng_rd_desc_pcie_addr),
    .s_axis_read_desc_ram_addr(eng_rd_desc_ram_addr),
    .s_axis_read_desc_len(eng_rd_desc_len),
    .s_axis_read_desc_tag(eng_rd_desc_tag),
    .s_axis_read_desc_valid(eng_rd_desc_valid),
    .s_axis_read_desc_ready(eng_rd_desc_ready),
    .m_axis_read_desc_status_tag(eng_rd_status_tag),
    .m_axis_read_desc_status_error(eng_rd_status_error),
    .m_axis_read_desc_status_valid(eng_rd_status_valid),
    .ram_wr_en(eng_ram_wr_en),
    .ram_wr_addr(eng_ram_wr_addr),
    .ram_wr_be(eng_ram_wr_be),
    .ram_wr_data(eng_ram_wr_data),
    .cfg_max_read_req(cfg_max_read_req),
    .stat_rd_req_tlp(stat_rq_rd),
    .stat_rd_cpl_tlp(stat_rc_cpl),
    .stat_rd_cpl_err(stat_rc_err)
);

pcie_us_dma_wr #(
    .AXIS_PCIE_DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .AXIS_PCIE_KEEP_WIDTH(AXIS_PCIE_KEEP_WIDTH),
    .AXIS_PCIE_RQ_USER_WIDTH(AXIS_PCIE_RQ_USER_WIDTH),
    .RAM_ADDR_WIDTH(RAM_ADDR_WIDTH+1),
    .LEN_WIDTH(LEN_WIDTH),
    .TAG_WIDTH(DMA_TAG_WIDTH)
)
dma_wr_inst (
    .clk(clk),
    .rst(rst),
    .m_axis_rq_tdata(wr_rq_tdata),
    .m_axis_rq_tkeep(wr_rq_tkeep),
    .m_axis_rq_tlast(wr_rq_tlast),
    .m_axis_rq_tuser(wr_rq_tuser),
    .m_axis_rq_tvalid(wr_rq_tvalid),
    .m_axis_rq_tready(wr_rq_tready),
    .s_axis_write_desc_pcie_addr(eng_wr_desc_pcie_addr),
    .s_axis_write_desc_ram_addr(eng_wr_desc_ram_addr),
    .s_axis_write_desc_imm(eng_wr_desc_imm),
    .s_axis_write_desc_imm_en(eng_wr_desc_imm_en),
    .s_axis_write_desc_len(eng_wr_desc_len),
    .s_axis_write_desc_tag(eng_wr_desc_tag),
    .s_axis_write_desc_valid(eng_wr_desc_valid),
    .s_axis_write_desc_ready(eng_wr_desc_ready),
    .m_axis_write_desc_status_tag(eng_wr_status_tag),
    .m_axis_write_desc_status_error(eng_wr_status_error),
    .m_axis_write_desc_status_valid(eng_wr_status_valid),
    .ram_rd_en(eng_ram_rd_en),
    .ram_rd_addr(eng_ram_rd_addr),
    .ram_rd_data(eng_ram_rd_data),
    .cfg_max_payload(cfg_max_payload),
    .stat_wr_req_tlp(stat_rq_wr)
);

pcie_us_rq_mux #(
    .AXIS_PCIE_DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .AXIS_PCIE_KEEP_WIDTH(AXIS_PCIE_KEEP_WIDTH),
    .AXIS_PCIE_RQ_USER_WIDTH(AXIS_PCIE_RQ_USER_WIDTH)
)
rq_mux_inst (
    .clk(clk),
    .rst(rst),
    .s_axis_rd_rq_tdata(rd_rq_tdata),
    .s_axis_rd_rq_tkeep(rd_rq_tkeep),
    .s_axis_rd_rq_tlast(rd_rq_tlast),
    .s_axis_rd_rq_tuser(rd_rq_tuser),
    .s_axis_rd_rq_tvalid(rd_rq_tvalid),
    .s_axis_rd_rq_tready(rd_rq_tready),
    .s_axis_wr_rq_tdata(wr_rq_tdata),
    .s_axis_wr_rq_tkeep(wr_rq_tkeep),
    .s_axis_wr_rq_tlast(wr_rq_tlast),
    .s_axis_wr_rq_tuser(wr_rq_tuser),
    .s_axis_wr_rq_tvalid(wr_rq_tvalid),
    .s_axis_wr_rq_tready(wr_rq_tready),
    .m_axis_rq_tdata(m_axis_rq_tdata),
    .m_axis_rq_tkeep(m_axis_rq_tkeep),
    .m_axis_rq_tlast(m_axis_rq_tlast),
    .m_axis_rq_tuser(m_axis_rq_tuser),
    .m_axis_rq_tvalid(m_axis_rq_tvalid),
    .m_axis_rq_tready(m_axis_rq_tready)
);

// self-test RAM (client 0): written by the read engine, read by the write engine
dma_ram #(
    .DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .ADDR_WIDTH(RAM_WORD_ADDR_WIDTH)
)
selftest_ram_inst (
    .clk(clk),
    .wr_en(eng_ram_wr_en && !eng_ram_wr_addr[RAM_WORD_ADDR_WIDTH]),
    .wr_addr(eng_ram_wr_addr[RAM_WORD_ADDR_WIDTH-1:0]),
    .wr_be(eng_ram_wr_be),
    .wr_data(eng_ram_wr_data),
    .rd_en(eng_ram_rd_en),
    .rd_addr(eng_ram_rd_addr[RAM_WORD_ADDR_WIDTH-1:0]),
    .rd_data(eng_ram_rd_data)
);

// TX engine RAM (client 1): written by the read engine, read by the TX engine
wire                              tx_ram_rd_en;
wire [TX_RAM_WORD_ADDR_WIDTH-1:0] tx_ram_rd_addr;
wire [AXIS_PCIE_DATA_WIDTH-1:0]   tx_ram_rd_data;

dma_ram #(
    .DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .ADDR_WIDTH(TX_RAM_WORD_ADDR_WIDTH)
)
tx_ram_inst (
    .clk(clk),
    .wr_en(eng_ram_wr_en && eng_ram_wr_addr[RAM_WORD_ADDR_WIDTH]),
    .wr_addr(eng_ram_wr_addr[TX_RAM_WORD_ADDR_WIDTH-1:0]),
    .wr_be(eng_ram_wr_be),
    .wr_data(eng_ram_wr_data),
    .rd_en(tx_ram_rd_en),
    .rd_addr(tx_ram_rd_addr),
    .rd_data(tx_ram_rd_data)
);

/*
 * TX virtqueue engine (queue 1)
 */
localparam VIRTIO_NET_F_MRG_RXBUF = 15;
localparam VIRTIO_F_NOTIFY_ON_EMPTY = 24;
localparam VIRTIO_RING_F_INDIRECT_DESC = 28;
localparam MIN_FRAME_LEN = 14;      // an Ethernet header; the MAC pads short frames to the minimum
localparam TX_MAX_BATCH = 16;       // avail.ring entries per ring read
localparam TX_DESC_WINDOW = 16;     // descriptors per prefetch read
localparam TX_INDIRECT_MAX = 64;    // longest INDIRECT table
// debug TX_PARAMS: {INDIRECT_MAX[15:0], MAX_BATCH[7:0], DESC_WINDOW[7:0]}
localparam [31:0] TX_PARAMS = TX_INDIRECT_MAX*65536 + TX_MAX_BATCH*256 + TX_DESC_WINDOW;

virtq_tx #(
    .QUEUE_SIZE(TX_QUEUE_SIZE),
    .RAM_ADDR_WIDTH(TX_RAM_ADDR_WIDTH),
    .RAM_DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .DMA_TAG_WIDTH(DMA_TAG_WIDTH),
    .AXIS_NET_DATA_WIDTH(AXIS_NET_DATA_WIDTH),
    .AXIS_NET_KEEP_WIDTH(AXIS_NET_KEEP_WIDTH),
    .MAX_FRAME_LEN(MAX_FRAME_LEN),
    .MIN_FRAME_LEN(MIN_FRAME_LEN),
    .MAX_BATCH(TX_MAX_BATCH),
    .DESC_WINDOW(TX_DESC_WINDOW),
    .INDIRECT_MAX(TX_INDIRECT_MAX),
    .FAULT_ENABLE(FAULT_ENABLE)
)
virtq_tx_inst (
    .clk(clk),
    .rst(rst),
    .queue_enable(tx_queue_enable),
    .queue_base(tx_queue_base),
    .feat_indirect(guest_features[VIRTIO_RING_F_INDIRECT_DESC]),
    .feat_noe(guest_features[VIRTIO_F_NOTIFY_ON_EMPTY]),
    .feat_mrg_rxbuf(guest_features[VIRTIO_NET_F_MRG_RXBUF]),
    .noe_policy(noe_policy),
    .kick_suppress(kick_suppress),
    .pacing_timer(pacing_timer),
    .pacing_interval(pacing_interval),
    .fault(tx_fault),
    .notify(tx_notify),
    .dev_reset(dev_reset),
    .m_axis_read_desc_pcie_addr(tx_rd_desc_pcie_addr),
    .m_axis_read_desc_ram_addr(tx_rd_desc_ram_addr),
    .m_axis_read_desc_len(tx_rd_desc_len),
    .m_axis_read_desc_tag(tx_rd_desc_tag),
    .m_axis_read_desc_valid(tx_rd_desc_valid),
    .m_axis_read_desc_ready(tx_rd_desc_ready),
    .s_axis_read_desc_status_tag(mux_rd_status_tag),
    .s_axis_read_desc_status_error(mux_rd_status_error),
    .s_axis_read_desc_status_valid(mux_rd_status_valid[1]),
    .ram_rd_en(tx_ram_rd_en),
    .ram_rd_addr(tx_ram_rd_addr),
    .ram_rd_data(tx_ram_rd_data),
    .m_axis_write_desc_pcie_addr(tx_wr_desc_pcie_addr),
    .m_axis_write_desc_ram_addr(tx_wr_desc_ram_addr),
    .m_axis_write_desc_imm(tx_wr_desc_imm),
    .m_axis_write_desc_imm_en(tx_wr_desc_imm_en),
    .m_axis_write_desc_len(tx_wr_desc_len),
    .m_axis_write_desc_tag(tx_wr_desc_tag),
    .m_axis_write_desc_valid(tx_wr_desc_valid),
    .m_axis_write_desc_ready(tx_wr_desc_ready),
    .s_axis_write_desc_status_tag(mux_wr_status_tag),
    .s_axis_write_desc_status_error(mux_wr_status_error),
    .s_axis_write_desc_status_valid(mux_wr_status_valid[1]),
    .m_axis_tx_tdata(m_axis_tx_tdata),
    .m_axis_tx_tkeep(m_axis_tx_tkeep),
    .m_axis_tx_tvalid(m_axis_tx_tvalid),
    .m_axis_tx_tready(m_axis_tx_tready),
    .m_axis_tx_tlast(m_axis_tx_tlast),
    .m_axis_tx_tuser(m_axis_tx_tuser),
    .irq_valid(tx_irq_valid),
    .irq_cause(tx_irq_cause),
    .err_valid(tx_err_valid),
    .err_cause(tx_err_cause),
    .idle(tx_idle),
    .stat_frame(stat_frame),
    .stat_notify(stat_notify),
    .stat_irq_normal(stat_irq_normal),
    .stat_irq_noe(stat_irq_noe),
    .stat_irq_suppressed(stat_irq_suppressed),
    .stat_drop_oversize(stat_drop_oversize),
    .stat_drop_runt(stat_drop_runt)
);

/*
 * BAR2: bring-up / debug registers at 0x000-0x1FF, device modes and virtio counters at 0x200-0x3FF;
 * the rest of the BAR reads 0.
 */
wire intx_test_level;
wire dbg_irq_valid;
wire [MSIX_VEC_WIDTH-1:0] dbg_irq_vector;
wire dbg_irq_ready;

wire [1:0] bar2_window = bar_req_addr[10:9];
wire dbg_req_valid = bar_req_valid[2] && bar2_window == 2'd0;
wire ctrl_req_valid = bar_req_valid[2] && bar2_window == 2'd1;
wire dbg_rsp_valid, ctrl_rsp_valid;
wire [31:0] dbg_rsp_rdata, ctrl_rsp_rdata;
reg  bar2_null_rsp_reg;

always @(posedge clk) begin
    bar2_null_rsp_reg <= bar_req_valid[2] && bar2_window[1];
    if (rst) begin
        bar2_null_rsp_reg <= 1'b0;
    end
end

assign bar_rsp_valid[2] = dbg_rsp_valid || ctrl_rsp_valid || bar2_null_rsp_reg;
assign bar_rsp_rdata[2*32 +: 32] = dbg_rsp_valid ? dbg_rsp_rdata : ctrl_rsp_valid ? ctrl_rsp_rdata : 32'd0;

virtio_dev_ctrl #(
    .REG_ADDR_WIDTH(REG_ADDR_WIDTH),
    .MAX_FRAME_LEN(MAX_FRAME_LEN),
    .MIN_FRAME_LEN(MIN_FRAME_LEN),
    .FAULT_ENABLE(FAULT_ENABLE)
)
dev_ctrl_inst (
    .clk(clk),
    .rst(rst),
    .reg_req_valid(ctrl_req_valid),
    .reg_req_write(bar_req_write),
    .reg_req_addr(bar_req_addr),
    .reg_req_be(bar_req_be),
    .reg_req_wdata(bar_req_wdata),
    .reg_rsp_valid(ctrl_rsp_valid),
    .reg_rsp_rdata(ctrl_rsp_rdata),
    .noe_policy(noe_policy),
    .offer_noe(offer_noe),
    .offer_indirect(offer_indirect),
    .kick_suppress(kick_suppress),
    .pacing_timer(pacing_timer),
    .pacing_interval(pacing_interval),
    .fault(tx_fault),
    .stat_frame(stat_frame),
    .stat_notify(stat_notify),
    .stat_irq_normal(stat_irq_normal),
    .stat_irq_noe(stat_irq_noe),
    .stat_irq_suppressed(stat_irq_suppressed),
    .stat_config_irq(stat_config_irq),
    .err_valid(tx_err_valid),
    .err_cause(tx_err_cause),
    .stat_drop_oversize(stat_drop_oversize),
    .stat_drop_runt(stat_drop_runt)
);

// MSI-X requests: the virtio block first, then the debug BAR's test requests
assign irq_valid = virtio_irq_valid || dbg_irq_valid;
assign irq_vector = virtio_irq_valid ? virtio_irq_vector : dbg_irq_vector;
assign virtio_irq_ready = irq_ready;
assign dbg_irq_ready = irq_ready && !virtio_irq_valid;

debug_regs #(
    .REG_ADDR_WIDTH(REG_ADDR_WIDTH),
    .PCIE_DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .NET_DATA_WIDTH(AXIS_NET_DATA_WIDTH),
    .MSIX_VECTORS(MSIX_VECTORS),
    .MSIX_VEC_WIDTH(MSIX_VEC_WIDTH),
    .RAM_ADDR_WIDTH(RAM_ADDR_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .DMA_TAG_WIDTH(DMA_TAG_WIDTH),
    .SELFTEST_RAM_BYTES(RAM_BYTES),
    .BUILD_FLAGS({6'd0, BAR0_IO != 0, FAULT_ENABLE != 0}),
    .TX_PARAMS(TX_PARAMS)
)
debug_regs_inst (
    .clk(clk),
    .rst(rst),
    .reg_req_valid(dbg_req_valid),
    .reg_req_write(bar_req_write),
    .reg_req_addr(bar_req_addr),
    .reg_req_be(bar_req_be),
    .reg_req_wdata(bar_req_wdata),
    .reg_rsp_valid(dbg_rsp_valid),
    .reg_rsp_rdata(dbg_rsp_rdata),
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
    .irq_valid(dbg_irq_valid),
    .irq_vector(dbg_irq_vector),
    .irq_ready(dbg_irq_ready),
    .cfg_max_payload(cfg_max_payload),
    .cfg_max_read_req(cfg_max_read_req),
    .cfg_msix_enable(cfg_interrupt_msix_enable[0]),
    .cfg_msix_mask(cfg_interrupt_msix_mask[0]),
    .cfg_bus_master_enable(cfg_bus_master_enable),
    .cfg_intx_disable(cfg_intx_disable),
    .dev_status({7'd0, tx_idle, virtio_status}),
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

// the INTx line: the virtio ISR, or the debug BAR's test level
assign intx_level = virtio_intx_level || intx_test_level;

/*
 * Network RX: frames are accepted and dropped until the RX virtqueue lands (queue 0 is present in the
 * register map with its size; its data path comes later).
 */
assign s_axis_rx_tready = 1'b1;

endmodule

`resetall
