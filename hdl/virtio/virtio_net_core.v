// SPDX-License-Identifier: MIT
/*
 * The virtio-net device behind the PCIe blocks: no Xilinx signal, only the internal ports of hdl/README.md.
 *
 *   - register bus: the transitional virtio-pci block (virtio_pci_regs.v: the legacy layout in BAR0, the
 *     modern virtio 1.x layout in BAR4, one device state) and the device modes and counters window (BAR2
 *     0x200-0x3FF, virtio_dev_ctrl.v); the bus fan-out by BAR is the wrapper's;
 *   - DMA port: read / write descriptors and statuses, and the RAM ports of the queues' blocks (written by
 *     the read engine, read by the write engine);
 *   - interrupts: MSI-X requests by vector (msix_enabled says whether the function uses MSI-X) and the
 *     INTx level;
 *   - network: frames out (TX) and in (RX) on AXI-Stream.
 *
 * Queues: RX (queue 0, virtq_rx.v) and TX (queue 1, virtq_tx.v), each built from the ring blocks, share the
 * DMA port through a dma_mux (client 0 TX, client 1 RX: the top bit of the tag and of the RAM address).
 * Loopback (BAR2 MODE bit 20): the TX queue's frames go into the RX queue inside the device (m_axis_tx stays
 * idle); s_axis_rx is then held ready and its frames are dropped and counted (RX_DROP_LOOPBACK).
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
    // the RX queue: cycles a frame waits for a chain (and the wire for room) before it is dropped, the
    // avail.idx re-read period while it waits, chains and buffers per frame at most (MRG_RXBUF)
    parameter RX_WAIT = 4096,
    parameter RX_POLL = 1024,
    parameter RX_MAX_CHAINS = 16,
    parameter RX_MAX_SEGS = 32,
    // test-only fault knobs of the queues (BAR2 0x208): 0 = built out, 1 = present (simulation)
    parameter FAULT_ENABLE = 0,
    // longest hold of a BAR0 access while the queues drain a reset (cycles; below the bridge's REG_TIMEOUT)
    parameter RESET_HOLD_MAX = 1536,
    // derived, do not set: the core's RAM byte address on the DMA port
    parameter RAM_ADDR_WIDTH = 17,
    parameter RAM_WORD_WIDTH = RAM_ADDR_WIDTH - $clog2(RAM_DATA_WIDTH/8)
)
(
    input  wire                               clk,
    input  wire                               rst,

    /*
     * Register bus: BAR0 (legacy virtio-pci), BAR4 (modern virtio-pci) and the device-control window of BAR2
     */
    input  wire                               bar0_req_valid,
    input  wire                               bar4_req_valid,
    input  wire                               ctrl_req_valid,
    input  wire                               reg_req_write,
    input  wire [REG_ADDR_WIDTH-1:0]          reg_req_addr,
    input  wire [3:0]                         reg_req_be,
    input  wire [31:0]                        reg_req_wdata,
    output wire                               bar0_rsp_valid,
    output wire [31:0]                        bar0_rsp_rdata,
    output wire                               bar4_rsp_valid,
    output wire [31:0]                        bar4_rsp_rdata,
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

    input  wire [AXIS_NET_DATA_WIDTH-1:0]     s_axis_rx_tdata,
    input  wire [AXIS_NET_KEEP_WIDTH-1:0]     s_axis_rx_tkeep,
    input  wire                               s_axis_rx_tvalid,
    output wire                               s_axis_rx_tready,
    input  wire                               s_axis_rx_tlast,
    input  wire                               s_axis_rx_tuser,

    /*
     * Status (the debug BAR shows it)
     */
    output wire [7:0]                         virtio_status,
    output wire                               tx_idle,
    output wire                               rx_idle
);

localparam VIRTIO_NET_F_MRG_RXBUF = 15;
localparam VIRTIO_F_NOTIFY_ON_EMPTY = 24;
localparam VIRTIO_RING_F_INDIRECT_DESC = 28;
localparam VIRTIO_RING_F_EVENT_IDX = 29;
localparam VIRTIO_F_VERSION_1 = 32;
localparam Q_RAM_ADDR_WIDTH = RAM_ADDR_WIDTH - 1;       // each queue's RAM (client of the queue mux)
localparam Q_RAM_WORD_WIDTH = Q_RAM_ADDR_WIDTH - $clog2(RAM_DATA_WIDTH/8);
localparam Q_TAG_WIDTH = DMA_TAG_WIDTH - 1;
localparam PKT_BUF_ADDR_WIDTH = Q_RAM_ADDR_WIDTH - 2;   // each queue's packet buffer (its largest RAM)

initial begin
    if (PKT_BUF_ADDR_WIDTH < 12) begin
        $error("Error: RAM_ADDR_WIDTH leaves the packet buffers below two maximum frames (instance %m)");
        $finish;
    end
end

wire [63:0] guest_features;
wire        tx_queue_enable;
wire [63:0] tx_desc_addr, tx_avail_addr, tx_used_addr;
wire [15:0] tx_queue_size, rx_queue_size;   // the running sizes (legacy: the maximum; modern: negotiated)
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
wire        stat_irq_event, stat_irq_event_suppressed;
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
wire [14:0] fault;              // test only: BAR2 0x208 FAULT, the queues' fault knobs (FAULT_ENABLE)
wire        offer_mrg_rxbuf;
wire        offer_event_idx;
wire        loopback;
wire        rx_queue_enable;
wire [63:0] rx_desc_addr, rx_avail_addr, rx_used_addr;
wire        rx_notify;
wire        rx_irq_valid;
/* verilator lint_off UNUSEDSIGNAL */
wire        rx_irq_cause;               // counted through the statistics instead
/* verilator lint_on UNUSEDSIGNAL */
wire        rx_err_valid;
wire [3:0]  rx_err_cause;
wire        rx_stat_frame, rx_stat_notify, rx_stat_irq_normal, rx_stat_irq_noe, rx_stat_irq_suppressed;
wire        rx_stat_irq_event, rx_stat_irq_event_suppressed;
wire [15:0] rx_stat_frame_len;
wire        rx_stat_drop_nobuf, rx_stat_drop_chain, rx_stat_drop_oversize, rx_stat_drop_runt, rx_stat_drop_bad;
wire        rx_stat_drop_overrun, rx_stat_drop_stopped;
reg         rx_stat_drop_loopback_reg;
// queue errors, either queue (the shared error counters)
wire        q_err_valid = tx_err_valid || rx_err_valid;
wire [3:0]  q_err_cause = tx_err_valid ? tx_err_cause : rx_err_cause;

/*
 * BAR0 and BAR4 accesses after a reset wait until the queues' DMA has stopped (virtio_reset_hold.v): the read
 * a driver does to flush its STATUS = 0 (device_status = 0) write completes only after the last DMA write of
 * the old rings. The hold carries the BAR as the top address bit (1 = BAR4, the modern layout)
 */
wire                      virtio_req_valid = bar0_req_valid || bar4_req_valid;
wire                      held_valid;
wire                      held_write;
wire [REG_ADDR_WIDTH:0]   held_addr;
wire [3:0]                held_be;
wire [31:0]               held_wdata;
wire                      virtio_rsp_valid;
wire                      virtio_rsp_modern;
wire [31:0]               virtio_rsp_rdata;
/* verilator lint_off UNUSEDSIGNAL */
wire                      reset_holding;            // visible in waves
wire                      reset_hold_expired;       // a reset whose DMA did not stop within RESET_HOLD_MAX
/* verilator lint_on UNUSEDSIGNAL */

virtio_reset_hold #(
    .REG_ADDR_WIDTH(REG_ADDR_WIDTH + 1),
    .HOLD_MAX(RESET_HOLD_MAX)
)
reset_hold_inst (
    .clk(clk),
    .rst(rst),
    .dev_reset(dev_reset),
    .busy(!(tx_idle && rx_idle)),
    .s_reg_req_valid(virtio_req_valid),
    .s_reg_req_write(reg_req_write),
    .s_reg_req_addr({bar4_req_valid, reg_req_addr}),
    .s_reg_req_be(reg_req_be),
    .s_reg_req_wdata(reg_req_wdata),
    .m_reg_req_valid(held_valid),
    .m_reg_req_write(held_write),
    .m_reg_req_addr(held_addr),
    .m_reg_req_be(held_be),
    .m_reg_req_wdata(held_wdata),
    .holding(reset_holding),
    .stat_hold_expired(reset_hold_expired)
);

assign bar0_rsp_valid = virtio_rsp_valid && !virtio_rsp_modern;
assign bar0_rsp_rdata = virtio_rsp_rdata;
assign bar4_rsp_valid = virtio_rsp_valid && virtio_rsp_modern;
assign bar4_rsp_rdata = virtio_rsp_rdata;

/*
 * BAR0 and BAR4: the transitional virtio-pci registers (legacy and modern layouts, one device state)
 */
virtio_pci_regs #(
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
    .reg_req_valid(held_valid),
    .reg_req_modern(held_addr[REG_ADDR_WIDTH]),
    .reg_req_write(held_write),
    .reg_req_addr(held_addr[REG_ADDR_WIDTH-1:0]),
    .reg_req_be(held_be),
    .reg_req_wdata(held_wdata),
    .reg_rsp_valid(virtio_rsp_valid),
    .reg_rsp_modern(virtio_rsp_modern),
    .reg_rsp_rdata(virtio_rsp_rdata),
    .offer_noe(offer_noe),
    .offer_indirect(offer_indirect),
    .offer_mrg_rxbuf(offer_mrg_rxbuf),
    .offer_event_idx(offer_event_idx),
    .status(virtio_status),
    .guest_features(guest_features),
    .tx_queue_enable(tx_queue_enable),
    .tx_desc_addr(tx_desc_addr),
    .tx_avail_addr(tx_avail_addr),
    .tx_used_addr(tx_used_addr),
    .tx_queue_size(tx_queue_size),
    .tx_notify(tx_notify),
    .rx_queue_enable(rx_queue_enable),
    .rx_desc_addr(rx_desc_addr),
    .rx_avail_addr(rx_avail_addr),
    .rx_used_addr(rx_used_addr),
    .rx_queue_size(rx_queue_size),
    .rx_notify(rx_notify),
    .dev_reset(dev_reset),
    .tx_irq(tx_irq_valid),
    .tx_error(tx_err_valid),
    .rx_irq(rx_irq_valid),
    .rx_error(rx_err_valid),
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
    .RX_WAIT(RX_WAIT),
    .RX_MAX_CHAINS(RX_MAX_CHAINS),
    .RX_MAX_SEGS(RX_MAX_SEGS),
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
    .offer_mrg_rxbuf(offer_mrg_rxbuf),
    .offer_event_idx(offer_event_idx),
    .loopback(loopback),
    .kick_suppress(kick_suppress),
    .pacing_timer(pacing_timer),
    .pacing_interval(pacing_interval),
    .push_batched(push_batched),
    .push_batch(push_batch),
    .push_flush(push_flush),
    .fault(fault),
    .stat_frame(stat_frame),
    .stat_notify(stat_notify),
    .stat_irq_normal(stat_irq_normal),
    .stat_irq_noe(stat_irq_noe),
    .stat_irq_suppressed(stat_irq_suppressed),
    .stat_irq_event(stat_irq_event),
    .stat_irq_event_suppressed(stat_irq_event_suppressed),
    .stat_config_irq(stat_config_irq),
    .err_valid(q_err_valid),
    .err_cause(q_err_cause),
    .stat_drop_oversize(stat_drop_oversize),
    .stat_drop_runt(stat_drop_runt),
    .rx_stat_frame(rx_stat_frame),
    .rx_stat_frame_len(rx_stat_frame_len),
    .rx_stat_notify(rx_stat_notify),
    .rx_stat_irq_normal(rx_stat_irq_normal),
    .rx_stat_irq_noe(rx_stat_irq_noe),
    .rx_stat_irq_suppressed(rx_stat_irq_suppressed),
    .rx_stat_irq_event(rx_stat_irq_event),
    .rx_stat_irq_event_suppressed(rx_stat_irq_event_suppressed),
    .rx_stat_drop_nobuf(rx_stat_drop_nobuf),
    .rx_stat_drop_chain(rx_stat_drop_chain),
    .rx_stat_drop_oversize(rx_stat_drop_oversize),
    .rx_stat_drop_runt(rx_stat_drop_runt),
    .rx_stat_drop_bad(rx_stat_drop_bad),
    .rx_stat_drop_overrun(rx_stat_drop_overrun),
    .rx_stat_drop_stopped(rx_stat_drop_stopped),
    .rx_stat_drop_loopback(rx_stat_drop_loopback_reg),
    .rx_err_valid(rx_err_valid),
    .rx_err_cause(rx_err_cause)
);

/*
 * The DMA port, shared by the queues: client 0 TX, client 1 RX
 */
wire [2*64-1:0]                 q_rd_addr, q_wr_addr, q_wr_imm;
wire [2*Q_RAM_ADDR_WIDTH-1:0]   q_rd_ram, q_wr_ram;
wire [2*LEN_WIDTH-1:0]          q_rd_len, q_wr_len;
wire [2*DMA_TAG_WIDTH-1:0]      q_rd_tag, q_wr_tag;
wire [1:0]                      q_rd_valid, q_rd_ready, q_wr_valid, q_wr_ready, q_wr_imm_en;
wire [DMA_TAG_WIDTH-1:0]        q_rd_st_tag, q_wr_st_tag;
wire [3:0]                      q_rd_st_error, q_wr_st_error;
wire [1:0]                      q_rd_st_valid, q_wr_st_valid;
wire [1:0]                      q_ram_wr_en, q_ram_rd_en;
wire [Q_RAM_WORD_WIDTH-1:0]     q_ram_wr_addr, q_ram_rd_addr;
wire [RAM_DATA_WIDTH/8-1:0]     q_ram_wr_be;
wire [RAM_DATA_WIDTH-1:0]       q_ram_wr_data;
wire [2*RAM_DATA_WIDTH-1:0]     q_ram_rd_data;

dma_mux #(
    .PORTS(2),
    .RAM_ADDR_WIDTH(Q_RAM_ADDR_WIDTH),
    .RAM_DATA_WIDTH(RAM_DATA_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .TAG_WIDTH(DMA_TAG_WIDTH)
)
queue_mux_inst (
    .clk(clk),
    .rst(rst),
    .s_rd_desc_pcie_addr(q_rd_addr),
    .s_rd_desc_ram_addr(q_rd_ram),
    .s_rd_desc_len(q_rd_len),
    .s_rd_desc_tag(q_rd_tag),
    .s_rd_desc_valid(q_rd_valid),
    .s_rd_desc_ready(q_rd_ready),
    .m_rd_status_tag(q_rd_st_tag),
    .m_rd_status_error(q_rd_st_error),
    .m_rd_status_valid(q_rd_st_valid),
    .s_wr_desc_pcie_addr(q_wr_addr),
    .s_wr_desc_ram_addr(q_wr_ram),
    .s_wr_desc_imm(q_wr_imm),
    .s_wr_desc_imm_en(q_wr_imm_en),
    .s_wr_desc_len(q_wr_len),
    .s_wr_desc_tag(q_wr_tag),
    .s_wr_desc_valid(q_wr_valid),
    .s_wr_desc_ready(q_wr_ready),
    .m_wr_status_tag(q_wr_st_tag),
    .m_wr_status_error(q_wr_st_error),
    .m_wr_status_valid(q_wr_st_valid),
    .m_ram_wr_en(q_ram_wr_en),
    .m_ram_wr_addr(q_ram_wr_addr),
    .m_ram_wr_be(q_ram_wr_be),
    .m_ram_wr_data(q_ram_wr_data),
    .m_ram_rd_en(q_ram_rd_en),
    .m_ram_rd_addr(q_ram_rd_addr),
    .m_ram_rd_data(q_ram_rd_data),
    .m_rd_desc_pcie_addr(m_axis_read_desc_pcie_addr),
    .m_rd_desc_ram_addr(m_axis_read_desc_ram_addr),
    .m_rd_desc_len(m_axis_read_desc_len),
    .m_rd_desc_tag(m_axis_read_desc_tag),
    .m_rd_desc_valid(m_axis_read_desc_valid),
    .m_rd_desc_ready(m_axis_read_desc_ready),
    .s_rd_status_tag(s_axis_read_desc_status_tag),
    .s_rd_status_error(s_axis_read_desc_status_error),
    .s_rd_status_valid(s_axis_read_desc_status_valid),
    .m_wr_desc_pcie_addr(m_axis_write_desc_pcie_addr),
    .m_wr_desc_ram_addr(m_axis_write_desc_ram_addr),
    .m_wr_desc_imm(m_axis_write_desc_imm),
    .m_wr_desc_imm_en(m_axis_write_desc_imm_en),
    .m_wr_desc_len(m_axis_write_desc_len),
    .m_wr_desc_tag(m_axis_write_desc_tag),
    .m_wr_desc_valid(m_axis_write_desc_valid),
    .m_wr_desc_ready(m_axis_write_desc_ready),
    .s_wr_status_tag(s_axis_write_desc_status_tag),
    .s_wr_status_error(s_axis_write_desc_status_error),
    .s_wr_status_valid(s_axis_write_desc_status_valid),
    .s_ram_wr_en(ram_wr_en),
    .s_ram_wr_addr(ram_wr_addr),
    .s_ram_wr_be(ram_wr_be),
    .s_ram_wr_data(ram_wr_data),
    .s_ram_rd_en(ram_rd_en),
    .s_ram_rd_addr(ram_rd_addr),
    .s_ram_rd_data(ram_rd_data)
);

// the queues own the low DMA_TAG_WIDTH - 1 tag bits; the mux puts the client number on top
assign q_rd_tag[0*DMA_TAG_WIDTH + Q_TAG_WIDTH] = 1'b0;
assign q_rd_tag[1*DMA_TAG_WIDTH + Q_TAG_WIDTH] = 1'b0;
assign q_wr_tag[0*DMA_TAG_WIDTH + Q_TAG_WIDTH] = 1'b0;
assign q_wr_tag[1*DMA_TAG_WIDTH + Q_TAG_WIDTH] = 1'b0;
/* verilator lint_off UNUSEDSIGNAL */ // the client-number bit of the statuses' tags
wire q_rd_st_tag_top = q_rd_st_tag[Q_TAG_WIDTH];
wire q_wr_st_tag_top = q_wr_st_tag[Q_TAG_WIDTH];
/* verilator lint_on UNUSEDSIGNAL */

/*
 * Network: the TX queue's frames to m_axis_tx, or (loopback) into the RX queue instead of s_axis_rx
 */
wire [AXIS_NET_DATA_WIDTH-1:0] txq_tdata;
wire [AXIS_NET_KEEP_WIDTH-1:0] txq_tkeep;
wire txq_tvalid, txq_tready, txq_tlast, txq_tuser;
wire rxq_tready;

assign m_axis_tx_tdata = txq_tdata;
assign m_axis_tx_tkeep = txq_tkeep;
assign m_axis_tx_tvalid = txq_tvalid && !loopback;
assign m_axis_tx_tlast = txq_tlast;
assign m_axis_tx_tuser = txq_tuser;
assign txq_tready = loopback ? rxq_tready : m_axis_tx_tready;
assign s_axis_rx_tready = loopback ? 1'b1 : rxq_tready;

wire [AXIS_NET_DATA_WIDTH-1:0] rxq_tdata = loopback ? txq_tdata : s_axis_rx_tdata;
wire [AXIS_NET_KEEP_WIDTH-1:0] rxq_tkeep = loopback ? txq_tkeep : s_axis_rx_tkeep;
wire rxq_tvalid = loopback ? txq_tvalid : s_axis_rx_tvalid;
wire rxq_tlast = loopback ? txq_tlast : s_axis_rx_tlast;
// a TX frame cut by a stop (tuser on its last beat) is a bad frame for the RX queue
wire rxq_tuser = loopback ? txq_tuser : s_axis_rx_tuser;

// external frames while in loopback: taken and dropped, counted at their last beat
always @(posedge clk) begin
    rx_stat_drop_loopback_reg <= loopback && s_axis_rx_tvalid && s_axis_rx_tlast;
    if (rst) begin
        rx_stat_drop_loopback_reg <= 1'b0;
    end
end

/*
 * TX virtqueue (queue 1)
 */
virtq_tx #(
    .QUEUE_SIZE(TX_QUEUE_SIZE),
    .RAM_DATA_WIDTH(RAM_DATA_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .DMA_TAG_WIDTH(Q_TAG_WIDTH),
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
    .desc_addr(tx_desc_addr),
    .avail_addr(tx_avail_addr),
    .used_addr(tx_used_addr),
    .queue_size(tx_queue_size),
    .feat_indirect(guest_features[VIRTIO_RING_F_INDIRECT_DESC]),
    .feat_noe(guest_features[VIRTIO_F_NOTIFY_ON_EMPTY]),
    .feat_mrg_rxbuf(guest_features[VIRTIO_NET_F_MRG_RXBUF]),
    .feat_version_1(guest_features[VIRTIO_F_VERSION_1]),
    .feat_event_idx(guest_features[VIRTIO_RING_F_EVENT_IDX]),
    .noe_policy(noe_policy),
    .kick_suppress(kick_suppress),
    .pacing_timer(pacing_timer),
    .pacing_interval(pacing_interval),
    .push_batched(push_batched),
    .push_batch(push_batch),
    .push_flush(push_flush),
    .fault(fault[8:0]),
    .fault_event(fault[14:12]),         // the EVENT_IDX knobs act on both queues
    .notify(tx_notify),
    .dev_reset(dev_reset),
    .m_axis_read_desc_pcie_addr(q_rd_addr[0*64 +: 64]),
    .m_axis_read_desc_ram_addr(q_rd_ram[0*Q_RAM_ADDR_WIDTH +: Q_RAM_ADDR_WIDTH]),
    .m_axis_read_desc_len(q_rd_len[0*LEN_WIDTH +: LEN_WIDTH]),
    .m_axis_read_desc_tag(q_rd_tag[0*DMA_TAG_WIDTH +: Q_TAG_WIDTH]),
    .m_axis_read_desc_valid(q_rd_valid[0]),
    .m_axis_read_desc_ready(q_rd_ready[0]),
    .s_axis_read_desc_status_tag(q_rd_st_tag[Q_TAG_WIDTH-1:0]),
    .s_axis_read_desc_status_error(q_rd_st_error),
    .s_axis_read_desc_status_valid(q_rd_st_valid[0]),
    .m_axis_write_desc_pcie_addr(q_wr_addr[0*64 +: 64]),
    .m_axis_write_desc_ram_addr(q_wr_ram[0*Q_RAM_ADDR_WIDTH +: Q_RAM_ADDR_WIDTH]),
    .m_axis_write_desc_imm(q_wr_imm[0*64 +: 64]),
    .m_axis_write_desc_imm_en(q_wr_imm_en[0]),
    .m_axis_write_desc_len(q_wr_len[0*LEN_WIDTH +: LEN_WIDTH]),
    .m_axis_write_desc_tag(q_wr_tag[0*DMA_TAG_WIDTH +: Q_TAG_WIDTH]),
    .m_axis_write_desc_valid(q_wr_valid[0]),
    .m_axis_write_desc_ready(q_wr_ready[0]),
    .s_axis_write_desc_status_tag(q_wr_st_tag[Q_TAG_WIDTH-1:0]),
    .s_axis_write_desc_status_error(q_wr_st_error),
    .s_axis_write_desc_status_valid(q_wr_st_valid[0]),
    .ram_wr_en(q_ram_wr_en[0]),
    .ram_wr_addr(q_ram_wr_addr),
    .ram_wr_be(q_ram_wr_be),
    .ram_wr_data(q_ram_wr_data),
    .ram_rd_en(q_ram_rd_en[0]),
    .ram_rd_addr(q_ram_rd_addr),
    .ram_rd_data(q_ram_rd_data[0*RAM_DATA_WIDTH +: RAM_DATA_WIDTH]),
    .m_axis_tx_tdata(txq_tdata),
    .m_axis_tx_tkeep(txq_tkeep),
    .m_axis_tx_tvalid(txq_tvalid),
    .m_axis_tx_tready(txq_tready),
    .m_axis_tx_tlast(txq_tlast),
    .m_axis_tx_tuser(txq_tuser),
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
    .stat_irq_event(stat_irq_event),
    .stat_irq_event_suppressed(stat_irq_event_suppressed),
    .stat_drop_oversize(stat_drop_oversize),
    .stat_drop_runt(stat_drop_runt)
);

/*
 * RX virtqueue (queue 0)
 */
virtq_rx #(
    .QUEUE_SIZE(RX_QUEUE_SIZE),
    .RAM_DATA_WIDTH(RAM_DATA_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .DMA_TAG_WIDTH(Q_TAG_WIDTH),
    .AXIS_NET_DATA_WIDTH(AXIS_NET_DATA_WIDTH),
    .AXIS_NET_KEEP_WIDTH(AXIS_NET_KEEP_WIDTH),
    .MAX_FRAME_LEN(MAX_FRAME_LEN),
    .MIN_FRAME_LEN(MIN_FRAME_LEN),
    .MAX_BATCH(MAX_BATCH),
    .INDIRECT_MAX(INDIRECT_MAX),
    .DESC_WINDOW(DESC_WINDOW),
    .PKT_BUF_ADDR_WIDTH(PKT_BUF_ADDR_WIDTH),
    .MAX_CHAINS(RX_MAX_CHAINS),
    .MAX_SEGS(RX_MAX_SEGS),
    .RX_WAIT(RX_WAIT),
    .RX_POLL(RX_POLL),
    .USED_BATCH_MAX(USED_BATCH_MAX),
    .FAULT_ENABLE(FAULT_ENABLE)
)
virtq_rx_inst (
    .clk(clk),
    .rst(rst),
    .queue_enable(rx_queue_enable),
    .desc_addr(rx_desc_addr),
    .avail_addr(rx_avail_addr),
    .used_addr(rx_used_addr),
    .queue_size(rx_queue_size),
    .feat_indirect(guest_features[VIRTIO_RING_F_INDIRECT_DESC]),
    .feat_noe(guest_features[VIRTIO_F_NOTIFY_ON_EMPTY]),
    .feat_mrg_rxbuf(guest_features[VIRTIO_NET_F_MRG_RXBUF]),
    .feat_version_1(guest_features[VIRTIO_F_VERSION_1]),
    .feat_event_idx(guest_features[VIRTIO_RING_F_EVENT_IDX]),
    .noe_policy(noe_policy),
    .push_batched(push_batched),
    .push_batch(push_batch),
    .push_flush(push_flush),
    .fault({fault[1:0], fault[11:9]}),  // the interrupt knobs act on both queues' used writers
    .fault_event(fault[14:12]),
    .notify(rx_notify),
    .dev_reset(dev_reset),
    .m_axis_read_desc_pcie_addr(q_rd_addr[1*64 +: 64]),
    .m_axis_read_desc_ram_addr(q_rd_ram[1*Q_RAM_ADDR_WIDTH +: Q_RAM_ADDR_WIDTH]),
    .m_axis_read_desc_len(q_rd_len[1*LEN_WIDTH +: LEN_WIDTH]),
    .m_axis_read_desc_tag(q_rd_tag[1*DMA_TAG_WIDTH +: Q_TAG_WIDTH]),
    .m_axis_read_desc_valid(q_rd_valid[1]),
    .m_axis_read_desc_ready(q_rd_ready[1]),
    .s_axis_read_desc_status_tag(q_rd_st_tag[Q_TAG_WIDTH-1:0]),
    .s_axis_read_desc_status_error(q_rd_st_error),
    .s_axis_read_desc_status_valid(q_rd_st_valid[1]),
    .m_axis_write_desc_pcie_addr(q_wr_addr[1*64 +: 64]),
    .m_axis_write_desc_ram_addr(q_wr_ram[1*Q_RAM_ADDR_WIDTH +: Q_RAM_ADDR_WIDTH]),
    .m_axis_write_desc_imm(q_wr_imm[1*64 +: 64]),
    .m_axis_write_desc_imm_en(q_wr_imm_en[1]),
    .m_axis_write_desc_len(q_wr_len[1*LEN_WIDTH +: LEN_WIDTH]),
    .m_axis_write_desc_tag(q_wr_tag[1*DMA_TAG_WIDTH +: Q_TAG_WIDTH]),
    .m_axis_write_desc_valid(q_wr_valid[1]),
    .m_axis_write_desc_ready(q_wr_ready[1]),
    .s_axis_write_desc_status_tag(q_wr_st_tag[Q_TAG_WIDTH-1:0]),
    .s_axis_write_desc_status_error(q_wr_st_error),
    .s_axis_write_desc_status_valid(q_wr_st_valid[1]),
    .ram_wr_en(q_ram_wr_en[1]),
    .ram_wr_addr(q_ram_wr_addr),
    .ram_wr_be(q_ram_wr_be),
    .ram_wr_data(q_ram_wr_data),
    .ram_rd_en(q_ram_rd_en[1]),
    .ram_rd_addr(q_ram_rd_addr),
    .ram_rd_data(q_ram_rd_data[1*RAM_DATA_WIDTH +: RAM_DATA_WIDTH]),
    .s_axis_rx_tdata(rxq_tdata),
    .s_axis_rx_tkeep(rxq_tkeep),
    .s_axis_rx_tvalid(rxq_tvalid),
    .s_axis_rx_tready(rxq_tready),
    .s_axis_rx_tlast(rxq_tlast),
    .s_axis_rx_tuser(rxq_tuser),
    .irq_valid(rx_irq_valid),
    .irq_cause(rx_irq_cause),
    .err_valid(rx_err_valid),
    .err_cause(rx_err_cause),
    .idle(rx_idle),
    .stat_frame(rx_stat_frame),
    .stat_frame_len(rx_stat_frame_len),
    .stat_notify(rx_stat_notify),
    .stat_irq_normal(rx_stat_irq_normal),
    .stat_irq_noe(rx_stat_irq_noe),
    .stat_irq_suppressed(rx_stat_irq_suppressed),
    .stat_irq_event(rx_stat_irq_event),
    .stat_irq_event_suppressed(rx_stat_irq_event_suppressed),
    .stat_drop_nobuf(rx_stat_drop_nobuf),
    .stat_drop_chain(rx_stat_drop_chain),
    .stat_drop_oversize(rx_stat_drop_oversize),
    .stat_drop_runt(rx_stat_drop_runt),
    .stat_drop_bad(rx_stat_drop_bad),
    .stat_drop_overrun(rx_stat_drop_overrun),
    .stat_drop_stopped(rx_stat_drop_stopped)
);

endmodule

`resetall
