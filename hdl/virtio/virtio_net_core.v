// SPDX-License-Identifier: MIT
/*
 * The virtio-net device behind the PCIe blocks: no Xilinx signal, only the internal ports of hdl/README.md.
 *
 *   - register bus: the legacy virtio-pci block (BAR0, virtio_legacy_regs.v) and the device modes and
 *     counters window (BAR2 0x200-0x3FF, virtio_dev_ctrl.v); the bus fan-out by BAR is the wrapper's;
 *   - DMA port: read / write descriptors and statuses, and the RAM ports of the queues' blocks (written by
 *     the read engine, read by the write engine);
 *   - interrupts: MSI-X requests by vector (msix_enabled says whether the function uses MSI-X) and the
 *     INTx level;
 *   - network: frames out (TX) and in (RX) on AXI-Stream.
 *
 * Queues: TX (queue 1, virtq_tx.v) is built from the ring blocks; RX (queue 0) is present in the register
 * map with its size, its frames are accepted and dropped until its data path lands.
 *
 * The UltraScale+ wrapper (hdl/virtio_net_usp.v) puts the CQ/CC bridge, the DMA engines, the MSI-X table,
 * INTx and the debug BAR around it; another PCIe hard block needs only another wrapper.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module virtio_net_core #
(
    parameter REG_ADDR_WIDTH = 12,
    // DMA port: RAM word width (the PCIe data width), length and tag widths the core may use
    parameter RAM_DATA_WIDTH = 256,
    parameter LEN_WIDTH = 16,
    parameter DMA_TAG_WIDTH = 7,
    // network side
    parameter AXIS_NET_DATA_WIDTH = 64,
    parameter AXIS_NET_KEEP_WIDTH = AXIS_NET_DATA_WIDTH/8,
    // MSI-X vectors
    parameter MSIX_VECTORS = 8,
    parameter MSIX_VEC_WIDTH = MSIX_VECTORS > 1 ? $clog2(MSIX_VECTORS) : 1,
    // virtqueues
    parameter TX_QUEUE_SIZE = 256,
    parameter RX_QUEUE_SIZE = 256,
    parameter [47:0] MAC_ADDR = 48'h02_00_00_00_00_01,
    // frame limits of the TX queue (without the virtio_net_hdr): 1514 + an 802.1Q tag, an Ethernet header
    parameter MAX_FRAME_LEN = 1518,
    parameter MIN_FRAME_LEN = 14,
    // the TX queue's largest used-ring batch
    parameter USED_BATCH_MAX = 32,
    // the TX queue's avail.ring entries per ring read, descriptors per window read, longest INDIRECT table
    // (the top reports them in the debug BAR's TX_PARAMS, for the checkers)
    parameter MAX_BATCH = 32,
    parameter DESC_WINDOW = 16,
    parameter INDIRECT_MAX = 64,
    // test-only fault knobs of the TX queue (BAR2 0x208): 0 = built out, 1 = present (simulation)
    parameter FAULT_ENABLE = 0,
    // derived, do not set: the core's RAM byte address on the DMA port
    parameter RAM_ADDR_WIDTH = 16,
    parameter RAM_WORD_WIDTH = RAM_ADDR_WIDTH - $clog2(RAM_DATA_WIDTH/8)
)
(
    input  wire                               clk,
    input  wire                               rst,

    /*
     * Register bus: BAR0 (legacy virtio-pci) and the device-control window of BAR2
     */
    input  wire                               bar0_req_valid,
    input  wire                               ctrl_req_valid,
    input  wire                               reg_req_write,
    input  wire [REG_ADDR_WIDTH-1:0]          reg_req_addr,
    input  wire [3:0]                         reg_req_be,
    input  wire [31:0]                        reg_req_wdata,
    output wire                               bar0_rsp_valid,
    output wire [31:0]                        bar0_rsp_rdata,
    output wire                               ctrl_rsp_valid,
    output wire [31:0]                        ctrl_rsp_rdata,

    /*
     * DMA port
     */
    output wire [63:0]                        m_axis_read_desc_pcie_addr,
    output wire [RAM_ADDR_WIDTH-1:0]          m_axis_read_desc_ram_addr,
    output wire [LEN_WIDTH-1:0]               m_axis_read_desc_len,
    output wire [DMA_TAG_WIDTH-1:0]           m_axis_read_desc_tag,
    output wire                               m_axis_read_desc_valid,
    input  wire                               m_axis_read_desc_ready,
    input  wire [DMA_TAG_WIDTH-1:0]           s_axis_read_desc_status_tag,
    input  wire [3:0]                         s_axis_read_desc_status_error,
    input  wire                               s_axis_read_desc_status_valid,

    output wire [63:0]                        m_axis_write_desc_pcie_addr,
    output wire [RAM_ADDR_WIDTH-1:0]          m_axis_write_desc_ram_addr,
    output wire [63:0]                        m_axis_write_desc_imm,
    output wire                               m_axis_write_desc_imm_en,
    output wire [LEN_WIDTH-1:0]               m_axis_write_desc_len,
    output wire [DMA_TAG_WIDTH-1:0]           m_axis_write_desc_tag,
    output wire                               m_axis_write_desc_valid,
    input  wire                               m_axis_write_desc_ready,
    input  wire [DMA_TAG_WIDTH-1:0]           s_axis_write_desc_status_tag,
    input  wire [3:0]                         s_axis_write_desc_status_error,
    input  wire                               s_axis_write_desc_status_valid,

    input  wire                               ram_wr_en,
    input  wire [RAM_WORD_WIDTH-1:0]          ram_wr_addr,
    input  wire [RAM_DATA_WIDTH/8-1:0]        ram_wr_be,
    input  wire [RAM_DATA_WIDTH-1:0]          ram_wr_data,
    input  wire                               ram_rd_en,
    input  wire [RAM_WORD_WIDTH-1:0]          ram_rd_addr,
    output wire [RAM_DATA_WIDTH-1:0]          ram_rd_data,

    /*
     * Interrupts
     */
    input  wire                               msix_enabled,
    output wire                               irq_valid,
    output wire [MSIX_VEC_WIDTH-1:0]          irq_vector,
    input  wire                               irq_ready,
    output wire                               intx_level,

    /*
     * Network
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
    input  wire                               s_axis_rx_tuser,
    /* verilator lint_on UNUSEDSIGNAL */

    /*
     * Status (the debug BAR shows it)
     */
    output wire [7:0]                         virtio_status,
    output wire                               tx_idle
);

localparam VIRTIO_NET_F_MRG_RXBUF = 15;
localparam VIRTIO_F_NOTIFY_ON_EMPTY = 24;
localparam VIRTIO_RING_F_INDIRECT_DESC = 28;
localparam PKT_BUF_ADDR_WIDTH = RAM_ADDR_WIDTH - 2;     // the TX queue's packet buffer (its largest RAM)

initial begin
    if (PKT_BUF_ADDR_WIDTH < 12) begin
        $error("Error: RAM_ADDR_WIDTH leaves the TX packet buffer below two maximum frames (instance %m)");
        $finish;
    end
end

wire [31:0] guest_features;
wire        tx_queue_enable;
wire [63:0] tx_queue_base;
wire        tx_notify;
wire        dev_reset;
wire        tx_irq_valid;
/* verilator lint_off UNUSEDSIGNAL */
wire        tx_irq_cause;               // counted through stat_irq_normal / stat_irq_noe instead
/* verilator lint_on UNUSEDSIGNAL */
wire        tx_err_valid;
wire [3:0]  tx_err_cause;
wire        stat_config_irq;

wire        stat_frame, stat_notify, stat_irq_normal, stat_irq_noe, stat_irq_suppressed;
wire        stat_drop_oversize, stat_drop_runt;

wire [1:0]  noe_policy;
wire        offer_noe;
wire        offer_indirect;
wire        kick_suppress;
wire        pacing_timer;
wire [31:0] pacing_interval;
wire        push_batched;
wire [7:0]  push_batch;
wire [15:0] push_flush;
wire [8:0]  tx_fault;           // test only: BAR2 0x208 FAULT, the TX queue's fault knobs (FAULT_ENABLE)

/*
 * BAR0: legacy virtio-pci registers
 */
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
    .reg_req_valid(bar0_req_valid),
    .reg_req_write(reg_req_write),
    .reg_req_addr(reg_req_addr),
    .reg_req_be(reg_req_be),
    .reg_req_wdata(reg_req_wdata),
    .reg_rsp_valid(bar0_rsp_valid),
    .reg_rsp_rdata(bar0_rsp_rdata),
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
    .msix_enabled(msix_enabled),
    .irq_valid(irq_valid),
    .irq_vector(irq_vector),
    .irq_ready(irq_ready),
    .intx_level(intx_level),
    .stat_config_irq(stat_config_irq)
);

/*
 * BAR2 0x200-0x3FF: device modes, counters, the TX frame limits
 */
virtio_dev_ctrl #(
    .REG_ADDR_WIDTH(REG_ADDR_WIDTH),
    .MAX_FRAME_LEN(MAX_FRAME_LEN),
    .MIN_FRAME_LEN(MIN_FRAME_LEN),
    .USED_BATCH_MAX(USED_BATCH_MAX),
    .FAULT_ENABLE(FAULT_ENABLE)
)
dev_ctrl_inst (
    .clk(clk),
    .rst(rst),
    .reg_req_valid(ctrl_req_valid),
    .reg_req_write(reg_req_write),
    .reg_req_addr(reg_req_addr),
    .reg_req_be(reg_req_be),
    .reg_req_wdata(reg_req_wdata),
    .reg_rsp_valid(ctrl_rsp_valid),
    .reg_rsp_rdata(ctrl_rsp_rdata),
    .noe_policy(noe_policy),
    .offer_noe(offer_noe),
    .offer_indirect(offer_indirect),
    .kick_suppress(kick_suppress),
    .pacing_timer(pacing_timer),
    .pacing_interval(pacing_interval),
    .push_batched(push_batched),
    .push_batch(push_batch),
    .push_flush(push_flush),
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

/*
 * TX virtqueue (queue 1)
 */
virtq_tx #(
    .QUEUE_SIZE(TX_QUEUE_SIZE),
    .RAM_DATA_WIDTH(RAM_DATA_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .DMA_TAG_WIDTH(DMA_TAG_WIDTH),
    .AXIS_NET_DATA_WIDTH(AXIS_NET_DATA_WIDTH),
    .AXIS_NET_KEEP_WIDTH(AXIS_NET_KEEP_WIDTH),
    .MAX_FRAME_LEN(MAX_FRAME_LEN),
    .MIN_FRAME_LEN(MIN_FRAME_LEN),
    .MAX_BATCH(MAX_BATCH),
    .INDIRECT_MAX(INDIRECT_MAX),
    .DESC_WINDOW(DESC_WINDOW),
    .PKT_BUF_ADDR_WIDTH(PKT_BUF_ADDR_WIDTH),
    .USED_BATCH_MAX(USED_BATCH_MAX),
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
    .push_batched(push_batched),
    .push_batch(push_batch),
    .push_flush(push_flush),
    .fault(tx_fault),
    .notify(tx_notify),
    .dev_reset(dev_reset),
    .m_axis_read_desc_pcie_addr(m_axis_read_desc_pcie_addr),
    .m_axis_read_desc_ram_addr(m_axis_read_desc_ram_addr),
    .m_axis_read_desc_len(m_axis_read_desc_len),
    .m_axis_read_desc_tag(m_axis_read_desc_tag),
    .m_axis_read_desc_valid(m_axis_read_desc_valid),
    .m_axis_read_desc_ready(m_axis_read_desc_ready),
    .s_axis_read_desc_status_tag(s_axis_read_desc_status_tag),
    .s_axis_read_desc_status_error(s_axis_read_desc_status_error),
    .s_axis_read_desc_status_valid(s_axis_read_desc_status_valid),
    .m_axis_write_desc_pcie_addr(m_axis_write_desc_pcie_addr),
    .m_axis_write_desc_ram_addr(m_axis_write_desc_ram_addr),
    .m_axis_write_desc_imm(m_axis_write_desc_imm),
    .m_axis_write_desc_imm_en(m_axis_write_desc_imm_en),
    .m_axis_write_desc_len(m_axis_write_desc_len),
    .m_axis_write_desc_tag(m_axis_write_desc_tag),
    .m_axis_write_desc_valid(m_axis_write_desc_valid),
    .m_axis_write_desc_ready(m_axis_write_desc_ready),
    .s_axis_write_desc_status_tag(s_axis_write_desc_status_tag),
    .s_axis_write_desc_status_error(s_axis_write_desc_status_error),
    .s_axis_write_desc_status_valid(s_axis_write_desc_status_valid),
    .ram_wr_en(ram_wr_en),
    .ram_wr_addr(ram_wr_addr),
    .ram_wr_be(ram_wr_be),
    .ram_wr_data(ram_wr_data),
    .ram_rd_en(ram_rd_en),
    .ram_rd_addr(ram_rd_addr),
    .ram_rd_data(ram_rd_data),
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
 * Network RX: frames are accepted and dropped until the RX virtqueue lands
 */
assign s_axis_rx_tready = 1'b1;

endmodule

`resetall
