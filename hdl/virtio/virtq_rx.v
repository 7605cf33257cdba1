// SPDX-License-Identifier: MIT
/*
 * virtq_rx: the RX virtqueue (legacy split ring, queue 0), wired from the ring blocks
 * (hdl/virtio/README.md, "The RX queue", is the specification):
 *
 *   virtq_avail ──heads──> virtq_desc_walk ──WRITE segments──> virtq_rx_mover ──completions──> virtq_used
 *    avail.idx, ring,        window / INDIRECT, every             frames from the wire, the     used elements,
 *    kicks                   check (a device-readable            header and frame written      used.idx (whole
 *         ^                  buffer: error 7)                    into the chains by DMA        frames), interrupts
 *         └─────────── decision read (the first avail.idx read after a used.idx write) ─────────────┘
 *
 * The walk fetches chains ahead; the mover holds their segments until a frame needs them (frames are
 * received while earlier ones are written). A frame that finds no chain makes the mover ask the avail block
 * for an avail.idx read (as a kick would), and waits at most RX_WAIT cycles before it is dropped. The blocks
 * share the DMA port through a dma_mux (the tag's and the RAM address's top two bits name the block: 0 avail,
 * 1 walk, 2 mover, 3 used writer; the read engine writes the avail and walk RAMs, the write engine reads the
 * mover's packet buffer and the used writer's staging RAM).
 *
 * Queue control as virtq_tx: ring addresses from the register block, kicks remembered across a reset's
 * drain, and the stop (dev_reset, queue_enable falling while busy, or a block's error): run = 0 at once (no
 * block starts a DMA from the cycle the cause is seen; no completion of a frame cut by it is handed to the
 * used writer, so nothing of it is published), every DMA issued is counted back, then clear. After an error
 * the queue stays stopped until dev_reset; err_valid pulses once, with the first error's cause. While the
 * queue does not run, frames from the wire are taken and dropped (stat_drop_stopped).
 *
 * fault (test only, FAULT_ENABLE): bit 0 WRITE_PAST_BUFFER, bit 1 USED_LEN_PLUS1, bit 2 DROP_SILENT (the
 * mover), bit 3 IGNORE_NO_INTERRUPT, bit 4 DROP_IRQ (the used writer's interrupt decision, as on the TX queue)
 * (README "RX fault knobs"); without FAULT_ENABLE the input is ignored and the knobs' logic is constant.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module virtq_rx #
(
    // ring size (power of 2, legacy: fixed by the device)
    parameter QUEUE_SIZE = 256,
    // client RAM word width (= PCIe data width): 64, 128, 256 or 512
    parameter RAM_DATA_WIDTH = 256,
    // DMA length field width
    parameter LEN_WIDTH = 16,
    // DMA tag bits this queue may use (the blocks get two fewer)
    parameter DMA_TAG_WIDTH = 7,
    // network stream width (divides RAM_DATA_WIDTH)
    parameter AXIS_NET_DATA_WIDTH = 64,
    parameter AXIS_NET_KEEP_WIDTH = AXIS_NET_DATA_WIDTH/8,
    // ring entries per avail.ring read, and the head FIFO
    parameter MAX_BATCH = 32,
    parameter HEAD_FIFO = 64,
    // longest frame received (without the virtio_net_hdr): 1514 + an 802.1Q tag; longer ones are dropped
    parameter MAX_FRAME_LEN = 1518,
    // shortest frame received: an Ethernet header; shorter ones are dropped
    parameter MIN_FRAME_LEN = 14,
    // largest INDIRECT table, in descriptors
    parameter INDIRECT_MAX = 64,
    // descriptors read per window fetch
    parameter DESC_WINDOW = 16,
    // packet buffer: 2**PKT_BUF_ADDR_WIDTH bytes (16 KiB: ten maximum frames), FRAME_SLOTS frames held
    parameter PKT_BUF_ADDR_WIDTH = 14,
    parameter FRAME_SLOTS = 16,
    // MRG_RXBUF: most chains per frame (<= USED_BATCH_MAX), most buffers carrying bytes per frame
    parameter MAX_CHAINS = 16,
    parameter MAX_SEGS = 32,
    // cycles a frame waits for a chain (and the wire for room) before the frame is dropped; avail.idx
    // re-read period while waiting (a power of 2)
    parameter RX_WAIT = 4096,
    parameter RX_POLL = 1024,
    // largest used-ring batch (batched push policy)
    parameter USED_BATCH_MAX = 32,
    // test-only fault knobs (the fault input): 0 = removed (a board build), 1 = present (simulation)
    parameter FAULT_ENABLE = 0,
    // derived, do not set: the RAM byte address on the DMA port (the block number on top)
    parameter RAM_ADDR_WIDTH = PKT_BUF_ADDR_WIDTH + 2,
    parameter RAM_WORD_WIDTH = RAM_ADDR_WIDTH - $clog2(RAM_DATA_WIDTH/8)
)
(
    input  wire                               clk,
    input  wire                               rst,

    /*
     * Queue configuration and acked features
     */
    input  wire                               queue_enable,
    input  wire [63:0]                        desc_addr,        // descriptor table
    input  wire [63:0]                        avail_addr,       // avail ring (the driver area)
    input  wire [63:0]                        used_addr,        // used ring (the device area)
    input  wire [15:0]                        queue_size,       // running size: a power of 2, 2..QUEUE_SIZE
    input  wire                               feat_indirect,
    input  wire                               feat_noe,
    input  wire                               feat_mrg_rxbuf,
    input  wire                               feat_version_1,   // virtio 1.x: the 12-byte header always
    input  wire                               feat_event_idx,

    /*
     * Modes
     */
    input  wire [1:0]                         noe_policy,
    input  wire                               push_batched,
    input  wire [7:0]                         push_batch,
    input  wire [15:0]                        push_flush,

    /*
     * Fault injection (test only; 0 = normal operation; ignored unless FAULT_ENABLE)
     */
    input  wire [4:0]                         fault,
    // EVENT_IDX knobs (BAR2 FAULT[14:12]): {EVENT_IDX_FLAGS, EVENT_IDX_IGNORED, AVAIL_EVENT_STALE}
    input  wire [2:0]                         fault_event,

    /*
     * Control pulses
     */
    input  wire                               notify,
    input  wire                               dev_reset,

    /*
     * DMA read descriptor / status
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

    /*
     * DMA write descriptor / status
     */
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

    /*
     * RAM ports of the queue's blocks: written by the DMA read engine, read by the write engine (word
     * addresses; the top two bits name the block)
     */
    input  wire                               ram_wr_en,
    input  wire [RAM_WORD_WIDTH-1:0]          ram_wr_addr,
    input  wire [RAM_DATA_WIDTH/8-1:0]        ram_wr_be,
    input  wire [RAM_DATA_WIDTH-1:0]          ram_wr_data,
    input  wire                               ram_rd_en,
    input  wire [RAM_WORD_WIDTH-1:0]          ram_rd_addr,
    output wire [RAM_DATA_WIDTH-1:0]          ram_rd_data,

    /*
     * Wire side: frames in; tuser = 1 on the last beat marks a bad frame (dropped)
     */
    input  wire [AXIS_NET_DATA_WIDTH-1:0]     s_axis_rx_tdata,
    input  wire [AXIS_NET_KEEP_WIDTH-1:0]     s_axis_rx_tkeep,
    input  wire                               s_axis_rx_tvalid,
    output wire                               s_axis_rx_tready,
    input  wire                               s_axis_rx_tlast,
    input  wire                               s_axis_rx_tuser,

    /*
     * Queue interrupt request (cause 0: NO_INTERRUPT clear, 1: notify on empty)
     */
    output wire                               irq_valid,
    output wire                               irq_cause,

    /*
     * Error: the queue has stopped (held until dev_reset)
     */
    output wire                               err_valid,
    output wire [3:0]                         err_cause,

    /*
     * Status and statistics pulses
     */
    output wire                               idle,
    output wire                               stat_frame,
    output wire [15:0]                        stat_frame_len,
    output wire                               stat_notify,
    output wire                               stat_irq_normal,
    output wire                               stat_irq_noe,
    output wire                               stat_irq_suppressed,
    output wire                               stat_irq_event,
    output wire                               stat_irq_event_suppressed,
    output wire                               stat_drop_nobuf,
    output wire                               stat_drop_chain,
    output wire                               stat_drop_oversize,
    output wire                               stat_drop_runt,
    output wire                               stat_drop_bad,
    output wire                               stat_drop_overrun,
    output wire                               stat_drop_stopped
);

localparam WORD_BYTES = RAM_DATA_WIDTH/8;
localparam BYTE_SHIFT = $clog2(WORD_BYTES);
localparam BLK_ADDR_WIDTH = PKT_BUF_ADDR_WIDTH;            // each block's RAM port (the packet buffer is the largest)
localparam BLK_WORD_WIDTH = BLK_ADDR_WIDTH - BYTE_SHIFT;
localparam BLK_TAG_WIDTH = DMA_TAG_WIDTH - 2;
localparam WALK_TABLE_SLOTS = 4;                   // INDIRECT tables read ahead by the walk
localparam AV_ADDR_WIDTH = $clog2(WORD_BYTES + 2*HEAD_FIFO);
localparam WALK_ADDR_WIDTH = $clog2(WALK_TABLE_SLOTS*16*INDIRECT_MAX + 16*DESC_WINDOW);
localparam USED_ADDR_WIDTH = ($clog2(16*USED_BATCH_MAX) > BYTE_SHIFT) ? $clog2(16*USED_BATCH_MAX) : BYTE_SHIFT + 1;

// fault knobs (test only): bits of fault (README "RX fault knobs"), in the mover and the used writer
localparam
    FAULT_WRITE_PAST_BUFFER = 0,    // a byte written just past the last buffer of each frame
    FAULT_USED_LEN_PLUS1    = 1,    // used.len one more than the bytes written
    FAULT_DROP_SILENT       = 2,    // frames at wire sequence 3 mod 4 dropped without a count
    FAULT_IGNORE_NO_INTR    = 3,    // NO_INTERRUPT read as clear: an interrupt after every push
    FAULT_DROP_IRQ          = 4;    // the cause-0 interrupt never raised

// EVENT_IDX fault knobs (test only): bits of fault_event (README "EVENT_IDX")
localparam
    FAULT_AVAIL_EVENT_STALE   = 0,  // avail: avail_event never written (the driver stops kicking)
    FAULT_EVENT_IDX_IGNORED   = 1,  // used writer: an interrupt after every push, used_event or not
    FAULT_EVENT_IDX_FLAGS     = 2;  // used writer: NO_INTERRUPT obeyed as well as used_event

localparam [1:0] Q_RUN = 2'd0, Q_DRAIN = 2'd1, Q_STOPPED = 2'd2;

initial begin
    if (AV_ADDR_WIDTH > BLK_ADDR_WIDTH || WALK_ADDR_WIDTH > BLK_ADDR_WIDTH || USED_ADDR_WIDTH > BLK_ADDR_WIDTH
            || BLK_TAG_WIDTH < 3 || MAX_CHAINS > USED_BATCH_MAX) begin
        $error("Error: the packet buffer must be the largest block RAM; DMA_TAG_WIDTH too small; MAX_CHAINS <= USED_BATCH_MAX (instance %m)");
        $finish;
    end
end

/* verilator lint_off UNUSEDSIGNAL */ // fault is dead logic without FAULT_ENABLE
wire [4:0] knob = (FAULT_ENABLE != 0) ? fault : 5'd0;
wire [2:0] knob_event = (FAULT_ENABLE != 0) ? fault_event : 3'd0;
/* verilator lint_on UNUSEDSIGNAL */

// the ring addresses come from the register block: the legacy PFN layout or the modern queue_desc /
// queue_driver / queue_device fields (virtio_pci_regs.v)
wire [63:0] desc_base = desc_addr;
wire [63:0] avail_base = avail_addr;
wire [63:0] used_base = used_addr;

/*
 * Queue control: run, clear, the stop, the first error
 */
reg  [1:0]  q_state_reg, q_state_next;
reg         drain_err_reg, drain_err_next;
reg         clear_reg, clear_next;
reg         err_valid_reg, err_valid_next;
reg  [3:0]  err_cause_reg, err_cause_next;
reg         stat_notify_reg;

wire av_err, walk_err, mover_err, used_err;
wire [3:0] av_err_cause, walk_err_cause, mover_err_cause, used_err_cause;
wire av_idle, walk_idle, mover_idle, used_idle;
wire av_active, walk_busy, mover_busy, used_busy;
wire blk_err = av_err || walk_err || mover_err || used_err;
wire [3:0] blk_err_cause = av_err ? av_err_cause : walk_err ? walk_err_cause : mover_err ? mover_err_cause
    : used_err_cause;
wire active = av_active || walk_busy || mover_busy || used_busy;
wire all_idle = av_idle && walk_idle && mover_idle && used_idle;
wire stop_now = dev_reset || (!queue_enable && active);
// no block starts anything from the cycle a stop's cause is seen
wire run = q_state_reg == Q_RUN && queue_enable && !stop_now && !blk_err && !clear_reg;
wire notify_q = notify && queue_enable && q_state_reg != Q_STOPPED && !(q_state_reg == Q_DRAIN && drain_err_reg);
wire notify_forget = q_state_reg == Q_RUN && (stop_now || blk_err);
wire clear = clear_reg;

always @* begin
    q_state_next = q_state_reg;
    drain_err_next = drain_err_reg;
    clear_next = 1'b0;
    err_valid_next = 1'b0;
    err_cause_next = err_cause_reg;

    case (q_state_reg)
        Q_RUN: begin
            if (stop_now) begin
                q_state_next = Q_DRAIN;
                drain_err_next = 1'b0;
            end else if (blk_err) begin
                q_state_next = Q_DRAIN;
                drain_err_next = 1'b1;
                err_valid_next = 1'b1;
                err_cause_next = blk_err_cause;
            end
        end
        Q_DRAIN: begin
            if (dev_reset) begin
                drain_err_next = 1'b0;
            end
            if (all_idle && !clear_reg) begin
                clear_next = 1'b1;
                q_state_next = (drain_err_reg && !dev_reset) ? Q_STOPPED : Q_RUN;
            end
        end
        Q_STOPPED: begin
            // stopped: no DMA until the driver resets the device
            if (dev_reset) begin
                clear_next = 1'b1;
                q_state_next = Q_RUN;
            end
        end
        default: begin
            q_state_next = Q_RUN;
        end
    endcase
end

always @(posedge clk) begin
    q_state_reg <= q_state_next;
    drain_err_reg <= drain_err_next;
    clear_reg <= clear_next;
    err_valid_reg <= err_valid_next;
    err_cause_reg <= err_cause_next;
    stat_notify_reg <= notify;

    if (rst) begin
        q_state_reg <= Q_RUN;
        drain_err_reg <= 1'b0;
        clear_reg <= 1'b0;
        err_valid_reg <= 1'b0;
        err_cause_reg <= 4'd0;
        stat_notify_reg <= 1'b0;
    end
end

assign err_valid = err_valid_reg;
assign err_cause = err_cause_reg;
assign stat_notify = stat_notify_reg;
assign idle = all_idle && (q_state_reg == Q_STOPPED || (q_state_reg == Q_RUN && !active));

/*
 * The DMA port, shared by the blocks: 0 avail, 1 descriptor walk, 2 buffer mover, 3 used writer
 */
wire [4*64-1:0]             blk_rd_addr, blk_wr_addr, blk_wr_imm;
wire [4*BLK_ADDR_WIDTH-1:0] blk_rd_ram, blk_wr_ram;
wire [4*LEN_WIDTH-1:0]      blk_rd_len, blk_wr_len;
wire [4*DMA_TAG_WIDTH-1:0]  blk_rd_tag, blk_wr_tag;
wire [3:0]                  blk_rd_valid, blk_rd_ready, blk_wr_valid, blk_wr_ready, blk_wr_imm_en;
wire [DMA_TAG_WIDTH-1:0]    blk_rd_st_tag, blk_wr_st_tag;
wire [3:0]                  blk_rd_st_error, blk_wr_st_error;
wire [3:0]                  blk_rd_st_valid, blk_wr_st_valid;
wire [3:0]                  blk_ram_wr_en, blk_ram_rd_en;
wire [BLK_WORD_WIDTH-1:0]   blk_ram_wr_addr, blk_ram_rd_addr;
wire [RAM_DATA_WIDTH/8-1:0] blk_ram_wr_be;
wire [RAM_DATA_WIDTH-1:0]   blk_ram_wr_data;
wire [4*RAM_DATA_WIDTH-1:0] blk_ram_rd_data;

dma_mux #(
    .PORTS(4),
    .RAM_ADDR_WIDTH(BLK_ADDR_WIDTH),
    .RAM_DATA_WIDTH(RAM_DATA_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .TAG_WIDTH(DMA_TAG_WIDTH)
)
dma_mux_inst (
    .clk(clk),
    .rst(rst),
    .s_rd_desc_pcie_addr(blk_rd_addr),
    .s_rd_desc_ram_addr(blk_rd_ram),
    .s_rd_desc_len(blk_rd_len),
    .s_rd_desc_tag(blk_rd_tag),
    .s_rd_desc_valid(blk_rd_valid),
    .s_rd_desc_ready(blk_rd_ready),
    .m_rd_status_tag(blk_rd_st_tag),
    .m_rd_status_error(blk_rd_st_error),
    .m_rd_status_valid(blk_rd_st_valid),
    .s_wr_desc_pcie_addr(blk_wr_addr),
    .s_wr_desc_ram_addr(blk_wr_ram),
    .s_wr_desc_imm(blk_wr_imm),
    .s_wr_desc_imm_en(blk_wr_imm_en),
    .s_wr_desc_len(blk_wr_len),
    .s_wr_desc_tag(blk_wr_tag),
    .s_wr_desc_valid(blk_wr_valid),
    .s_wr_desc_ready(blk_wr_ready),
    .m_wr_status_tag(blk_wr_st_tag),
    .m_wr_status_error(blk_wr_st_error),
    .m_wr_status_valid(blk_wr_st_valid),
    .m_ram_wr_en(blk_ram_wr_en),
    .m_ram_wr_addr(blk_ram_wr_addr),
    .m_ram_wr_be(blk_ram_wr_be),
    .m_ram_wr_data(blk_ram_wr_data),
    .m_ram_rd_en(blk_ram_rd_en),
    .m_ram_rd_addr(blk_ram_rd_addr),
    .m_ram_rd_data(blk_ram_rd_data),
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

// ports a block does not use: the walk writes nothing, the mover and the used writer read nothing
assign blk_wr_addr[1*64 +: 64] = 64'd0;
assign blk_wr_ram[1*BLK_ADDR_WIDTH +: BLK_ADDR_WIDTH] = {BLK_ADDR_WIDTH{1'b0}};
assign blk_wr_imm[1*64 +: 64] = 64'd0;
assign blk_wr_imm_en[1] = 1'b0;
assign blk_wr_len[1*LEN_WIDTH +: LEN_WIDTH] = {LEN_WIDTH{1'b0}};
assign blk_wr_tag[1*DMA_TAG_WIDTH +: DMA_TAG_WIDTH] = {DMA_TAG_WIDTH{1'b0}};
assign blk_wr_valid[1] = 1'b0;
assign blk_rd_addr[2*64 +: 2*64] = {2*64{1'b0}};
assign blk_rd_ram[2*BLK_ADDR_WIDTH +: 2*BLK_ADDR_WIDTH] = {2*BLK_ADDR_WIDTH{1'b0}};
assign blk_rd_len[2*LEN_WIDTH +: 2*LEN_WIDTH] = {2*LEN_WIDTH{1'b0}};
assign blk_rd_tag[2*DMA_TAG_WIDTH +: 2*DMA_TAG_WIDTH] = {2*DMA_TAG_WIDTH{1'b0}};
assign blk_rd_valid[3:2] = 2'b00;
assign blk_ram_rd_data[0 +: 2*RAM_DATA_WIDTH] = {2*RAM_DATA_WIDTH{1'b0}};

wire [BLK_TAG_WIDTH-1:0] rd_st_tag = blk_rd_st_tag[BLK_TAG_WIDTH-1:0];
/* verilator lint_off UNUSEDSIGNAL */ // not every block uses every status, RAM port or tag bit
wire [DMA_TAG_WIDTH-1:0] unused_rd_st_tag = blk_rd_st_tag;
wire [3:0] unused_rd_st_valid = blk_rd_st_valid;
wire [3:0] unused_ram_wr_en = blk_ram_wr_en;
wire [BLK_WORD_WIDTH-1:0] unused_ram_rd_addr = blk_ram_rd_addr;
wire [BLK_WORD_WIDTH-1:0] unused_ram_wr_addr = blk_ram_wr_addr;
wire [3:0] unused_ram_rd_en = blk_ram_rd_en;
wire [3:0] unused_ready = {blk_rd_ready[3:2], blk_wr_ready[1], 1'b0};
wire [DMA_TAG_WIDTH-1:0] unused_wr_st_tag = blk_wr_st_tag;
wire [3:0] unused_wr_st_valid = blk_wr_st_valid;
/* verilator lint_on UNUSEDSIGNAL */

/*
 * Blocks
 */
wire [15:0] head_id, head_index;
wire        head_valid, head_ready;
wire [63:0] seg_addr;
wire [31:0] seg_len;
wire        seg_write, seg_last, seg_valid, seg_ready;
wire [15:0] seg_head;
wire [15:0] cpl_id;
wire [31:0] cpl_len;
wire        cpl_last, cpl_valid, cpl_ready;
wire [15:0] avail_idx, used_idx;
wire        mv_stat_frame, mv_stat_drop_stopped;     // the mover's counts ("Frames counted when published")
wire [15:0] mv_stat_frame_len;
wire        used_idx_req, dec_req, avail_rd_busy;
wire        avail_rsp_valid, avail_rsp_dec;
wire [15:0] avail_rsp_flags, avail_rsp_idx, avail_rsp_event;
wire        mover_avail_req, mover_more;
wire [BLK_ADDR_WIDTH-AV_ADDR_WIDTH-1:0] unused_av_ram_hi;
wire [BLK_ADDR_WIDTH-WALK_ADDR_WIDTH-1:0] unused_walk_ram_hi;
/* verilator lint_off UNUSEDSIGNAL */ // an avail block output the RX queue does not need
wire        av_used_flags;
/* verilator lint_on UNUSEDSIGNAL */

assign unused_av_ram_hi = {BLK_ADDR_WIDTH-AV_ADDR_WIDTH{1'b0}};
assign unused_walk_ram_hi = {BLK_ADDR_WIDTH-WALK_ADDR_WIDTH{1'b0}};
assign blk_rd_ram[0*BLK_ADDR_WIDTH + AV_ADDR_WIDTH +: BLK_ADDR_WIDTH-AV_ADDR_WIDTH] = unused_av_ram_hi;
assign blk_rd_ram[1*BLK_ADDR_WIDTH + WALK_ADDR_WIDTH +: BLK_ADDR_WIDTH-WALK_ADDR_WIDTH] = unused_walk_ram_hi;
assign blk_wr_ram[0*BLK_ADDR_WIDTH +: BLK_ADDR_WIDTH] = {BLK_ADDR_WIDTH{1'b0}};
assign blk_wr_imm_en[0] = 1'b1;
assign blk_wr_tag[0*DMA_TAG_WIDTH +: DMA_TAG_WIDTH] = {DMA_TAG_WIDTH{1'b0}};
assign blk_rd_tag[0*DMA_TAG_WIDTH + BLK_TAG_WIDTH +: 2] = 2'b00;
assign blk_rd_tag[1*DMA_TAG_WIDTH + BLK_TAG_WIDTH +: 2] = 2'b00;
assign blk_wr_tag[2*DMA_TAG_WIDTH + BLK_TAG_WIDTH +: 2] = 2'b00;
assign blk_wr_tag[3*DMA_TAG_WIDTH + BLK_TAG_WIDTH +: 2] = 2'b00;

// a frame without a chain asks for avail.idx as a kick would (the driver may have added buffers unkicked)
wire notify_av = notify_q || (mover_avail_req && run);

virtq_avail #(
    .QUEUE_SIZE(QUEUE_SIZE),
    .RAM_DATA_WIDTH(RAM_DATA_WIDTH),
    .RAM_ADDR_WIDTH(AV_ADDR_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .TAG_WIDTH(BLK_TAG_WIDTH),
    .MAX_BATCH(MAX_BATCH),
    .HEAD_FIFO(HEAD_FIFO),
    .FAULT_ENABLE(FAULT_ENABLE)
)
avail_inst (
    .clk(clk),
    .rst(rst),
    .avail_base(avail_base),
    .queue_size(queue_size),
    .used_base(used_base),
    .feat_event_idx(feat_event_idx),
    .kick_suppress(1'b0),
    .pacing_timer(1'b0),
    .pacing_interval(32'd0),
    .fault_read_past_avail(1'b0),
    .fault_avail_event_stale(knob_event[FAULT_AVAIL_EVENT_STALE]),
    .run(run),
    .clear(clear),
    .notify(notify_av),
    .notify_forget(notify_forget),
    .m_axis_head_id(head_id),
    .m_axis_head_index(head_index),
    .m_axis_head_valid(head_valid),
    .m_axis_head_ready(head_ready),
    .used_idx(used_idx),
    .used_busy(used_busy),
    .used_idx_req(used_idx_req),
    .dec_req(dec_req),
    .avail_rd_busy(avail_rd_busy),
    .avail_rsp_valid(avail_rsp_valid),
    .avail_rsp_dec(avail_rsp_dec),
    .avail_rsp_flags(avail_rsp_flags),
    .avail_rsp_idx(avail_rsp_idx),
    .avail_rsp_event(avail_rsp_event),
    .avail_idx(avail_idx),
    .m_axis_read_desc_pcie_addr(blk_rd_addr[0*64 +: 64]),
    .m_axis_read_desc_ram_addr(blk_rd_ram[0*BLK_ADDR_WIDTH +: AV_ADDR_WIDTH]),
    .m_axis_read_desc_len(blk_rd_len[0*LEN_WIDTH +: LEN_WIDTH]),
    .m_axis_read_desc_tag(blk_rd_tag[0*DMA_TAG_WIDTH +: BLK_TAG_WIDTH]),
    .m_axis_read_desc_valid(blk_rd_valid[0]),
    .m_axis_read_desc_ready(blk_rd_ready[0]),
    .s_axis_read_desc_status_tag(rd_st_tag),
    .s_axis_read_desc_status_error(blk_rd_st_error),
    .s_axis_read_desc_status_valid(blk_rd_st_valid[0]),
    .m_axis_write_desc_pcie_addr(blk_wr_addr[0*64 +: 64]),
    .m_axis_write_desc_imm(blk_wr_imm[0*64 +: 64]),
    .m_axis_write_desc_len(blk_wr_len[0*LEN_WIDTH +: LEN_WIDTH]),
    .m_axis_write_desc_valid(blk_wr_valid[0]),
    .m_axis_write_desc_ready(blk_wr_ready[0]),
    .s_axis_write_desc_status_error(blk_wr_st_error),
    .s_axis_write_desc_status_valid(blk_wr_st_valid[0]),
    .ram_wr_en(blk_ram_wr_en[0]),
    .ram_wr_addr(blk_ram_wr_addr[AV_ADDR_WIDTH-BYTE_SHIFT-1:0]),
    .ram_wr_be(blk_ram_wr_be),
    .ram_wr_data(blk_ram_wr_data),
    .err_valid(av_err),
    .err_cause(av_err_cause),
    .idle(av_idle),
    .active(av_active),
    .used_flags(av_used_flags)
);

virtq_desc_walk #(
    .QUEUE_SIZE(QUEUE_SIZE),
    .RAM_DATA_WIDTH(RAM_DATA_WIDTH),
    .RAM_ADDR_WIDTH(WALK_ADDR_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .TAG_WIDTH(BLK_TAG_WIDTH),
    .DESC_WINDOW(DESC_WINDOW),
    .INDIRECT_MAX(INDIRECT_MAX),
    .TABLE_SLOTS(WALK_TABLE_SLOTS),
    .BUF_READ(0),
    .BUF_WRITE(1)
)
walk_inst (
    .clk(clk),
    .rst(rst),
    .desc_base(desc_base),
    .queue_size(queue_size),
    .feat_indirect(feat_indirect),
    .avail_idx(avail_idx),
    .run(run),
    .clear(clear),
    .s_axis_head_id(head_id),
    .s_axis_head_index(head_index),
    .s_axis_head_valid(head_valid),
    .s_axis_head_ready(head_ready),
    .m_axis_seg_addr(seg_addr),
    .m_axis_seg_len(seg_len),
    .m_axis_seg_write(seg_write),
    .m_axis_seg_last(seg_last),
    .m_axis_seg_head(seg_head),
    .m_axis_seg_valid(seg_valid),
    .m_axis_seg_ready(seg_ready),
    .m_axis_read_desc_pcie_addr(blk_rd_addr[1*64 +: 64]),
    .m_axis_read_desc_ram_addr(blk_rd_ram[1*BLK_ADDR_WIDTH +: WALK_ADDR_WIDTH]),
    .m_axis_read_desc_len(blk_rd_len[1*LEN_WIDTH +: LEN_WIDTH]),
    .m_axis_read_desc_tag(blk_rd_tag[1*DMA_TAG_WIDTH +: BLK_TAG_WIDTH]),
    .m_axis_read_desc_valid(blk_rd_valid[1]),
    .m_axis_read_desc_ready(blk_rd_ready[1]),
    .s_axis_read_desc_status_tag(rd_st_tag),
    .s_axis_read_desc_status_error(blk_rd_st_error),
    .s_axis_read_desc_status_valid(blk_rd_st_valid[1]),
    .ram_wr_en(blk_ram_wr_en[1]),
    .ram_wr_addr(blk_ram_wr_addr[WALK_ADDR_WIDTH-BYTE_SHIFT-1:0]),
    .ram_wr_be(blk_ram_wr_be),
    .ram_wr_data(blk_ram_wr_data),
    .err_valid(walk_err),
    .err_cause(walk_err_cause),
    .idle(walk_idle),
    .busy(walk_busy)
);

virtq_rx_mover #(
    .RAM_DATA_WIDTH(RAM_DATA_WIDTH),
    .RAM_ADDR_WIDTH(PKT_BUF_ADDR_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .TAG_WIDTH(BLK_TAG_WIDTH),
    .AXIS_NET_DATA_WIDTH(AXIS_NET_DATA_WIDTH),
    .AXIS_NET_KEEP_WIDTH(AXIS_NET_KEEP_WIDTH),
    .MAX_FRAME_LEN(MAX_FRAME_LEN),
    .MIN_FRAME_LEN(MIN_FRAME_LEN),
    .FRAME_SLOTS(FRAME_SLOTS),
    .MAX_CHAINS(MAX_CHAINS),
    .MAX_SEGS(MAX_SEGS),
    .RX_WAIT(RX_WAIT),
    .RX_POLL(RX_POLL),
    .FAULT_ENABLE(FAULT_ENABLE)
)
mover_inst (
    .clk(clk),
    .rst(rst),
    .feat_mrg_rxbuf(feat_mrg_rxbuf),
    .feat_version_1(feat_version_1),
    .run(run),
    .clear(clear),
    .fault_write_past(knob[FAULT_WRITE_PAST_BUFFER]),
    .fault_used_len(knob[FAULT_USED_LEN_PLUS1]),
    .fault_drop_silent(knob[FAULT_DROP_SILENT]),
    .s_axis_rx_tdata(s_axis_rx_tdata),
    .s_axis_rx_tkeep(s_axis_rx_tkeep),
    .s_axis_rx_tvalid(s_axis_rx_tvalid),
    .s_axis_rx_tready(s_axis_rx_tready),
    .s_axis_rx_tlast(s_axis_rx_tlast),
    .s_axis_rx_tuser(s_axis_rx_tuser),
    .s_axis_seg_addr(seg_addr),
    .s_axis_seg_len(seg_len),
    .s_axis_seg_write(seg_write),
    .s_axis_seg_last(seg_last),
    .s_axis_seg_head(seg_head),
    .s_axis_seg_valid(seg_valid),
    .s_axis_seg_ready(seg_ready),
    .avail_req(mover_avail_req),
    .m_axis_write_desc_pcie_addr(blk_wr_addr[2*64 +: 64]),
    .m_axis_write_desc_ram_addr(blk_wr_ram[2*BLK_ADDR_WIDTH +: BLK_ADDR_WIDTH]),
    .m_axis_write_desc_imm(blk_wr_imm[2*64 +: 64]),
    .m_axis_write_desc_imm_en(blk_wr_imm_en[2]),
    .m_axis_write_desc_len(blk_wr_len[2*LEN_WIDTH +: LEN_WIDTH]),
    .m_axis_write_desc_tag(blk_wr_tag[2*DMA_TAG_WIDTH +: BLK_TAG_WIDTH]),
    .m_axis_write_desc_valid(blk_wr_valid[2]),
    .m_axis_write_desc_ready(blk_wr_ready[2]),
    .s_axis_write_desc_status_error(blk_wr_st_error),
    .s_axis_write_desc_status_valid(blk_wr_st_valid[2]),
    .ram_rd_en(blk_ram_rd_en[2]),
    .ram_rd_addr(blk_ram_rd_addr),
    .ram_rd_data(blk_ram_rd_data[2*RAM_DATA_WIDTH +: RAM_DATA_WIDTH]),
    .m_axis_cpl_id(cpl_id),
    .m_axis_cpl_len(cpl_len),
    .m_axis_cpl_last(cpl_last),
    .m_axis_cpl_valid(cpl_valid),
    .m_axis_cpl_ready(cpl_ready),
    .err_valid(mover_err),
    .err_cause(mover_err_cause),
    .idle(mover_idle),
    .busy(mover_busy),
    .more(mover_more),
    .stat_frame(mv_stat_frame),
    .stat_frame_len(mv_stat_frame_len),
    .stat_drop_nobuf(stat_drop_nobuf),
    .stat_drop_chain(stat_drop_chain),
    .stat_drop_oversize(stat_drop_oversize),
    .stat_drop_runt(stat_drop_runt),
    .stat_drop_bad(stat_drop_bad),
    .stat_drop_overrun(stat_drop_overrun),
    .stat_drop_stopped(mv_stat_drop_stopped)
);

virtq_used #(
    .QUEUE_SIZE(QUEUE_SIZE),
    .RAM_DATA_WIDTH(RAM_DATA_WIDTH),
    .RAM_ADDR_WIDTH(USED_ADDR_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .TAG_WIDTH(BLK_TAG_WIDTH),
    .BATCH_MAX(USED_BATCH_MAX),
    .FAULT_ENABLE(FAULT_ENABLE),
    .FRAMES(1)
)
used_inst (
    .clk(clk),
    .rst(rst),
    .used_base(used_base),
    .queue_size(queue_size),
    .feat_noe(feat_noe),
    .feat_event_idx(feat_event_idx),
    .noe_policy(noe_policy),
    .push_batched(push_batched),
    .batch_size(push_batch),
    .flush_cycles(push_flush),
    .fault_ignore_no_interrupt(knob[FAULT_IGNORE_NO_INTR]),
    .fault_drop_irq(knob[FAULT_DROP_IRQ]),
    .fault_used_idx_first(1'b0),
    .fault_write_tx_buffer(1'b0),
    .fault_event_idx_ignored(knob_event[FAULT_EVENT_IDX_IGNORED]),
    .fault_event_idx_flags(knob_event[FAULT_EVENT_IDX_FLAGS]),
    .fault_used_idx_ahead(1'b0),
    .run(run),
    .clear(clear),
    .s_axis_cpl_id(cpl_id),
    .s_axis_cpl_len(cpl_len),
    .s_axis_cpl_fault_addr(64'd0),
    .s_axis_cpl_last(cpl_last),
    .user_more(mover_more),
    .s_axis_cpl_valid(cpl_valid),
    .s_axis_cpl_ready(cpl_ready),
    .avail_idx(avail_idx),
    .avail_rd_busy(avail_rd_busy),
    .avail_rsp_valid(avail_rsp_valid),
    .avail_rsp_dec(avail_rsp_dec),
    .avail_rsp_flags(avail_rsp_flags),
    .avail_rsp_idx(avail_rsp_idx),
    .avail_rsp_event(avail_rsp_event),
    .used_idx_req(used_idx_req),
    .dec_req(dec_req),
    .used_idx(used_idx),
    .busy(used_busy),
    .m_axis_write_desc_pcie_addr(blk_wr_addr[3*64 +: 64]),
    .m_axis_write_desc_ram_addr(blk_wr_ram[3*BLK_ADDR_WIDTH +: USED_ADDR_WIDTH]),
    .m_axis_write_desc_imm(blk_wr_imm[3*64 +: 64]),
    .m_axis_write_desc_imm_en(blk_wr_imm_en[3]),
    .m_axis_write_desc_len(blk_wr_len[3*LEN_WIDTH +: LEN_WIDTH]),
    .m_axis_write_desc_tag(blk_wr_tag[3*DMA_TAG_WIDTH +: BLK_TAG_WIDTH]),
    .m_axis_write_desc_valid(blk_wr_valid[3]),
    .m_axis_write_desc_ready(blk_wr_ready[3]),
    .s_axis_write_desc_status_error(blk_wr_st_error),
    .s_axis_write_desc_status_valid(blk_wr_st_valid[3]),
    .ram_rd_en(blk_ram_rd_en[3]),
    .ram_rd_addr(blk_ram_rd_addr[USED_ADDR_WIDTH-BYTE_SHIFT-1:0]),
    .ram_rd_data(blk_ram_rd_data[3*RAM_DATA_WIDTH +: RAM_DATA_WIDTH]),
    .irq_valid(irq_valid),
    .irq_cause(irq_cause),
    .err_valid(used_err),
    .err_cause(used_err_cause),
    .idle(used_idle),
    .stat_irq_normal(stat_irq_normal),
    .stat_irq_noe(stat_irq_noe),
    .stat_irq_suppressed(stat_irq_suppressed),
    .stat_irq_event(stat_irq_event),
    .stat_irq_event_suppressed(stat_irq_event_suppressed)
);

assign blk_wr_ram[3*BLK_ADDR_WIDTH + USED_ADDR_WIDTH +: BLK_ADDR_WIDTH-USED_ADDR_WIDTH] =
    {BLK_ADDR_WIDTH-USED_ADDR_WIDTH{1'b0}};

/*
 * Frames counted when published. The mover counts a frame (its stat_frame, with the length) when it hands
 * the frame's completions to the used writer; the frame reaches the driver only once used.idx covers its last
 * element, and a stop in between (the used writer starts no push from the stop on) loses it with the ring.
 * So the mover's count goes into a queue {used index after the frame's last element, length}, and the frame
 * is counted (stat_frame, stat_frame_len) when used.idx reaches that index. At a clear the entries left are
 * judged against used.idx as it was then: published ones are counted as frames, the others as stopped
 * (stat_drop_stopped, in the cycles the mover counts no stopped frame of its own). Every frame from the wire
 * is then counted once: delivered, or dropped with a reason.
 *
 * Depth: the used writer stages at most 2*USED_BATCH_MAX elements (frames) not yet published; those
 * published are counted one a cycle, and a push publishes at most USED_BATCH_MAX frames behind a decision
 * read: 4*USED_BATCH_MAX entries never fill. A second clear while the entries of a first are still being
 * judged (the queue control clears twice, two cycles apart) judges them against the first clear's used.idx:
 * no frame is released between the two.
 */
localparam PUB_DEPTH = 4*USED_BATCH_MAX;
localparam PW = $clog2(PUB_DEPTH);

reg  [15:0] pub_end [0:PUB_DEPTH-1];
reg  [15:0] pub_len [0:PUB_DEPTH-1];
reg  [PW:0] pub_wr_reg, pub_wr_next;
reg  [PW:0] pub_rd_reg, pub_rd_next;
reg  [15:0] cpl_idx_reg, cpl_idx_next;      // used index of the next completion handed to the used writer
reg  [15:0] cut_idx_reg, cut_idx_next;      // used.idx when the clear came: what the dropped ring published
reg  [PW:0] cut_left_reg, cut_left_next;    // entries of the dropped ring still to be judged
reg  [PW+1:0] lost_reg, lost_next;          // frames lost at a clear, not yet counted as stopped
reg         pub_stat_frame_reg, pub_stat_frame_next;
reg  [15:0] pub_stat_len_reg, pub_stat_len_next;
reg         pub_stat_stopped_reg, pub_stat_stopped_next;

wire [PW-1:0] pub_rd_i = pub_rd_reg[PW-1:0];
wire [15:0] pub_head_end = pub_end[pub_rd_i];
wire        pub_cutting = cut_left_reg != {PW+1{1'b0}};
/* verilator lint_off UNUSEDSIGNAL */ // the sign bit is the comparison
wire [15:0] pub_dist = (pub_cutting ? cut_idx_reg : used_idx) - pub_head_end;
/* verilator lint_on UNUSEDSIGNAL */
wire        pub_reached = !pub_dist[15];
reg         pub_lost;

always @* begin
    pub_wr_next = pub_wr_reg;
    pub_rd_next = pub_rd_reg;
    cpl_idx_next = cpl_idx_reg;
    cut_idx_next = cut_idx_reg;
    cut_left_next = cut_left_reg;
    pub_stat_frame_next = 1'b0;
    pub_stat_len_next = pub_stat_len_reg;
    pub_lost = 1'b0;

    if (mv_stat_frame) begin
        pub_wr_next = pub_wr_reg + 1'b1;
    end
    if (cpl_valid && cpl_ready) begin
        cpl_idx_next = cpl_idx_reg + 16'd1;
    end
    // the oldest entry: a frame once used.idx covers it; of a dropped ring, a frame or a loss at once
    if (pub_wr_reg != pub_rd_reg && (pub_cutting || pub_reached)) begin
        pub_rd_next = pub_rd_reg + 1'b1;
        if (pub_cutting) begin
            cut_left_next = cut_left_reg - 1'b1;
        end
        if (pub_reached) begin
            pub_stat_frame_next = 1'b1;
            pub_stat_len_next = pub_len[pub_rd_i];
        end else begin
            pub_lost = 1'b1;
        end
    end
    if (clear) begin
        // the used writer's used.idx is still the dropped ring's in this cycle (it clears at this edge)
        cpl_idx_next = 16'd0;
        if (!pub_cutting) begin
            cut_idx_next = used_idx;
        end
        cut_left_next = pub_wr_next - pub_rd_next;
    end

    // stopped: the mover's counts pass; a lost frame is counted in a cycle the mover counts nothing
    pub_stat_stopped_next = mv_stat_drop_stopped || lost_reg != {PW+2{1'b0}};
    lost_next = lost_reg + {{PW+1{1'b0}}, pub_lost}
        - {{PW+1{1'b0}}, !mv_stat_drop_stopped && lost_reg != {PW+2{1'b0}}};
end

always @(posedge clk) begin
    if (mv_stat_frame) begin
        pub_end[pub_wr_reg[PW-1:0]] <= cpl_idx_reg;
        pub_len[pub_wr_reg[PW-1:0]] <= mv_stat_frame_len;
    end
    pub_wr_reg <= pub_wr_next;
    pub_rd_reg <= pub_rd_next;
    cpl_idx_reg <= cpl_idx_next;
    cut_idx_reg <= cut_idx_next;
    cut_left_reg <= cut_left_next;
    lost_reg <= lost_next;
    pub_stat_frame_reg <= pub_stat_frame_next;
    pub_stat_len_reg <= pub_stat_len_next;
    pub_stat_stopped_reg <= pub_stat_stopped_next;

    if (rst) begin
        pub_wr_reg <= {PW+1{1'b0}};
        pub_rd_reg <= {PW+1{1'b0}};
        cpl_idx_reg <= 16'd0;
        cut_idx_reg <= 16'd0;
        cut_left_reg <= {PW+1{1'b0}};
        lost_reg <= {PW+2{1'b0}};
        pub_stat_frame_reg <= 1'b0;
        pub_stat_len_reg <= 16'd0;
        pub_stat_stopped_reg <= 1'b0;
    end
end

assign stat_frame = pub_stat_frame_reg;
assign stat_frame_len = pub_stat_len_reg;
assign stat_drop_stopped = pub_stat_stopped_reg;

endmodule

`resetall
