// SPDX-License-Identifier: MIT
/*
 * virtq_tx: the TX virtqueue engine (legacy split ring, queue 1).
 *
 * ring -> descriptors -> data -> wire -> used ring, one packet at a time, as QEMU 0.10/0.11 pushed and
 * notified per packet (hdl/virtio/README.md is the specification of this block):
 *
 *   1. read {avail.flags, avail.idx}; (u16)(idx - last_avail) > QUEUE_SIZE is an error
 *   2. read up to MAX_BATCH avail.ring entries (never past the avail.idx read, never past the ring's end)
 *      into a head cache, when the cache is used up
 *   3. walk the head's chain: descriptors come from a prefetch window of DESC_WINDOW consecutive
 *      descriptors (or from the INDIRECT table), each is checked before its buffer is read by DMA into the
 *      packet buffer (several data reads in flight)
 *   4. stream the frame (bytes after the virtio_net_hdr) on m_axis_tx; a frame above MAX_FRAME_LEN or
 *      below MIN_FRAME_LEN bytes is dropped instead (counted per reason, the chain still completes)
 *   5. write the used element {head, len 0: the device writes nothing into a TX chain}, then used.idx;
 *      wait for every write status (barrier)
 *   6. re-read {avail.flags, avail.idx}: interrupt decision; continue at 2 if not empty
 *
 * Client RAM layout (byte addresses, RAM_ADDR_WIDTH = 12):
 *   0x000  {avail.flags, avail.idx}                      4 bytes
 *   0x040  avail.ring entries (head cache)               2*MAX_BATCH bytes
 *   0x080  descriptor window / INDIRECT table            16*max(DESC_WINDOW, INDIRECT_MAX) bytes
 *   0x800  packet buffer (last 2 KiB of the RAM)         the first buffer starts at HDR_AREA - hdr_len, so
 *                                                        the frame's first byte sits on a word boundary
 *
 * The descriptor window is reused for later heads only while it is fresh for them: it was read after
 * an avail.idx value that already covered the head (descriptors of published chains do not change).
 *
 * Tags: every DMA descriptor carries a tag with the MSB set (TAG_META for ring / descriptor reads,
 * TAG_DATA for buffer reads, TAG_WRITE for writes); statuses with the MSB clear belong to another client.
 *
 * Stop (dev_reset, queue_enable falling, or an error): no new DMA, descriptors already presented are
 * handed over and every issued DMA is counted back, the frame on the wire ends (an extra beat with
 * tlast = tuser = 1 if it was cut), then all state is cleared. After an error the engine stays stopped
 * until dev_reset.
 *
 * Kicks: a kick is remembered from the moment the queue is enabled until an avail read covers it, also
 * while a reset is still draining (a DMA outstanding, a cut frame waiting for a stalled wire): the
 * engine serves it as soon as the drain completes. A kick before the reset belongs to the old rings and
 * is forgotten when the reset starts; a stopped queue (error) ignores kicks until dev_reset.
 *
 * Descriptor checks, in this order, all before the buffer (or table) is read: WRITE flag (7); INDIRECT:
 * not acked (4), inside a table, after other descriptors or with NEXT (5), length 0, not a multiple of 16
 * or above 16*INDIRECT_MAX (6); next >= Q, or >= the table size (2); the Q-th descriptor of a direct
 * chain, or the last slot of a table, with NEXT (3). An avail.ring entry >= Q is cause 2.
 * Frame size is not an error: once header + frame would pass hdr_len + MAX_FRAME_LEN no further buffer of
 * the chain is read (the walk and its checks go on to the chain's end) and the chain is dropped
 * (stat_drop_oversize); a chain with fewer than hdr_len + MIN_FRAME_LEN bytes (an empty payload, a header
 * cut short, a runt) is dropped too (stat_drop_runt). A dropped chain completes like any other (used
 * element, used.idx, interrupt decision). Causes 8 and 11 are no longer raised.
 * Empty buffers are allowed (no DMA). idle: waiting for a kick (or the pacing timer) or stopped, with
 * nothing outstanding.
 *
 * fault (test only, hdl/virtio/README.md "Fault knobs"; present only when FAULT_ENABLE != 0, else the
 * input is ignored and the knob logic is constant away): each set bit breaks one virtio rule on
 * purpose, so that a testbench can show its checkers fire. fault is sampled into fault_reg in
 * S_NEXT_HEAD (before each packet's ring read / head) and holds for that packet, its used-ring writes
 * and the interrupt decision after it. With fault = 0 the engine behaves exactly as without the knobs.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module virtq_tx #
(
    // ring size (power of 2, legacy: fixed by the device)
    parameter QUEUE_SIZE = 256,
    // client RAM byte address width (4 KiB)
    parameter RAM_ADDR_WIDTH = 12,
    // client RAM word width (= PCIe data width): 64, 128, 256 or 512
    parameter RAM_DATA_WIDTH = 256,
    // DMA length field width
    parameter LEN_WIDTH = 16,
    // DMA tag width; the engine uses tags with the MSB set
    parameter DMA_TAG_WIDTH = 8,
    // network stream width (divides RAM_DATA_WIDTH)
    parameter AXIS_NET_DATA_WIDTH = 64,
    parameter AXIS_NET_KEEP_WIDTH = AXIS_NET_DATA_WIDTH/8,
    // ring entries per avail.ring read
    parameter MAX_BATCH = 16,
    // longest frame sent (without the virtio_net_hdr): 1514 + an 802.1Q tag; longer ones are dropped
    parameter MAX_FRAME_LEN = 1518,
    // shortest frame sent: an Ethernet header; shorter ones (empty payloads, runts) are dropped
    parameter MIN_FRAME_LEN = 14,
    // largest INDIRECT table, in descriptors
    parameter INDIRECT_MAX = 64,
    // descriptors read per window fetch
    parameter DESC_WINDOW = 16,
    // test-only fault knobs (the fault input): 0 = removed (a board build), 1 = present (simulation)
    parameter FAULT_ENABLE = 0
)
(
    input  wire                               clk,
    input  wire                               rst,

    /*
     * Queue configuration and acked features
     */
    input  wire                               queue_enable,
    input  wire [63:0]                        queue_base,
    input  wire                               feat_indirect,
    input  wire                               feat_noe,
    input  wire                               feat_mrg_rxbuf,

    /*
     * Modes
     */
    input  wire [1:0]                         noe_policy,
    input  wire                               kick_suppress,
    input  wire                               pacing_timer,
    input  wire [31:0]                        pacing_interval,

    /*
     * Fault injection (test only; 0 = normal operation; ignored unless FAULT_ENABLE)
     */
    input  wire [8:0]                         fault,

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
     * Client RAM read port (word address, data one cycle after ram_rd_en)
     */
    output wire                               ram_rd_en,
    output wire [RAM_ADDR_WIDTH-$clog2(RAM_DATA_WIDTH/8)-1:0] ram_rd_addr,
    input  wire [RAM_DATA_WIDTH-1:0]          ram_rd_data,

    /*
     * DMA write descriptor / status (immediate data only)
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
     * Wire side: one frame per chain, virtio_net_hdr stripped; tuser on the last beat = aborted frame
     */
    output wire [AXIS_NET_DATA_WIDTH-1:0]     m_axis_tx_tdata,
    output wire [AXIS_NET_KEEP_WIDTH-1:0]     m_axis_tx_tkeep,
    output wire                               m_axis_tx_tvalid,
    input  wire                               m_axis_tx_tready,
    output wire                               m_axis_tx_tlast,
    output wire                               m_axis_tx_tuser,

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
    output wire                               stat_notify,
    output wire                               stat_irq_normal,
    output wire                               stat_irq_noe,
    output wire                               stat_irq_suppressed,
    output wire                               stat_drop_oversize,
    output wire                               stat_drop_runt
);

localparam WORD_BYTES = RAM_DATA_WIDTH/8;
localparam BYTE_SHIFT = $clog2(WORD_BYTES);
localparam QW = $clog2(QUEUE_SIZE);

// the virtio_net_hdr (10 or 12 bytes) ends on a word boundary in the packet buffer
localparam HDR_AREA = ((12 + WORD_BYTES - 1) / WORD_BYTES) * WORD_BYTES;
localparam PKT_BYTES = 2048;
localparam DESC_ENTRIES = (DESC_WINDOW > INDIRECT_MAX) ? DESC_WINDOW : INDIRECT_MAX;
localparam DESC_WORDS = (WORD_BYTES >= 16) ? 1 : 16 / WORD_BYTES;

// client RAM layout (byte addresses)
localparam AVAIL_RAM_OFF = 0;
localparam RING_RAM_OFF = 64;
localparam DESC_RAM_OFF = RING_RAM_OFF + ((2*MAX_BATCH + 63) / 64) * 64;
localparam PKT_RAM_OFF = (1 << RAM_ADDR_WIDTH) - PKT_BYTES;
localparam FRAME_RAM_OFF = PKT_RAM_OFF + HDR_AREA;

// legacy split ring layout (virtio-pci legacy, VIRTIO_PCI_VRING_ALIGN = 4096)
localparam VRING_ALIGN = 4096;
localparam AVAIL_OFF = 16*QUEUE_SIZE;
localparam USED_OFF = ((16*QUEUE_SIZE + 2*(3 + QUEUE_SIZE) + VRING_ALIGN - 1) / VRING_ALIGN) * VRING_ALIGN;

// sized copies of the constants above (32 bits, sliced where used)
localparam [31:0] QSIZE_32 = QUEUE_SIZE;
localparam [31:0] BATCH_32 = MAX_BATCH;
localparam [31:0] WINDOW_32 = DESC_WINDOW;
localparam [31:0] IND_BYTES_32 = 16*INDIRECT_MAX;
localparam [31:0] MAX_FRAME_32 = MAX_FRAME_LEN;
localparam [15:0] MIN_FRAME_16 = MIN_FRAME_LEN;
localparam [31:0] AXIS_BYTES_32 = AXIS_NET_KEEP_WIDTH;
localparam [31:0] AVAIL_OFF_32 = AVAIL_OFF;
localparam [31:0] USED_OFF_32 = USED_OFF;
localparam [31:0] AVAIL_RAM_32 = AVAIL_RAM_OFF;
localparam [31:0] RING_RAM_32 = RING_RAM_OFF;
localparam [31:0] DESC_RAM_32 = DESC_RAM_OFF;
localparam [31:0] BUF_RAM_32 = PKT_RAM_OFF + HDR_AREA;
localparam [31:0] FRAME_RAM_32 = FRAME_RAM_OFF;
localparam [16:0] QSIZE_17 = QSIZE_32[16:0];

// descriptor flags
localparam VRING_DESC_F_NEXT = 0;
localparam VRING_DESC_F_WRITE = 1;
localparam VRING_DESC_F_INDIRECT = 2;
localparam VRING_AVAIL_F_NO_INTERRUPT = 0;

// noe_policy
localparam [1:0]
    NOE_WHEN_ACKED = 2'd0,
    NOE_ALWAYS     = 2'd1;

// fault knobs (test only): bits of fault / fault_reg (README "Fault knobs")
localparam
    FAULT_IGNORE_NO_INTERRUPT = 0,  // step 6 treats avail.flags NO_INTERRUPT as clear
    FAULT_DROP_IRQ            = 1,  // step 6 never raises the cause-0 interrupt (counted as suppressed)
    FAULT_USED_IDX_FIRST      = 2,  // step 5 writes used.idx before the used element
    FAULT_READ_PAST_AVAIL     = 3,  // step 2 reads one ring entry past avail.idx (not used)
    FAULT_WRITE_TX_BUFFER     = 4,  // step 5 also writes 0xBAD0 into the chain's header buffer
    FAULT_DROP_FRAME          = 5,  // step 4 skipped when used_idx[1:0] == 3 (frame not sent)
    FAULT_DUP_FRAME           = 6,  // step 4 twice when used_idx[1:0] == 3 (frame sent twice)
    FAULT_USED_IDX_AHEAD      = 7,  // step 5 writes used.idx + 1 (one past what was made available)
    FAULT_USED_LEN_READ       = 8;  // step 5 writes used.len = bytes read (header + frame), not 0
localparam FAULT_W = 9;
localparam [15:0] FAULT_TXBUF_VALUE = 16'hBAD0;

// error causes (README "Reset and errors")
localparam [3:0]
    ERR_AVAIL_IDX     = 4'd1,
    ERR_NEXT_RANGE    = 4'd2,
    ERR_CHAIN_LOOP    = 4'd3,
    ERR_INDIRECT_FEAT = 4'd4,
    ERR_INDIRECT_NEST = 4'd5,
    ERR_INDIRECT_LEN  = 4'd6,
    ERR_WRITE_DESC    = 4'd7,
    ERR_DMA_RD        = 4'd9,
    ERR_DMA_WR        = 4'd10;    // 8 (frame too long) and 11 (too short) are drops now, not errors

localparam [DMA_TAG_WIDTH-1:0] TAG_META = {1'b1, {DMA_TAG_WIDTH-1{1'b0}}};
localparam [DMA_TAG_WIDTH-1:0] TAG_DATA = {1'b1, {DMA_TAG_WIDTH-2{1'b0}}, 1'b1};
localparam [DMA_TAG_WIDTH-1:0] TAG_WRITE = {1'b1, {DMA_TAG_WIDTH-1{1'b0}}};

// purpose of an avail.flags/idx read
localparam [1:0]
    AV_START   = 2'd0,     // step 1
    AV_AFTER   = 2'd1,     // step 6: interrupt decision
    AV_RECHECK = 2'd2;     // after clearing used.flags when going idle

localparam [4:0]
    S_IDLE        = 5'd0,
    S_ARMED       = 5'd1,
    S_START       = 5'd2,
    S_FLAGS_WR    = 5'd3,
    S_FLAGS_BAR   = 5'd4,
    S_AVAIL_RD    = 5'd5,
    S_AVAIL_WAIT  = 5'd6,
    S_AVAIL_CHECK = 5'd7,
    S_GO_IDLE     = 5'd8,
    S_NEXT_HEAD   = 5'd9,
    S_RING_RD     = 5'd10,
    S_RING_WAIT   = 5'd11,
    S_HEAD        = 5'd12,
    S_DESC_LOOKUP = 5'd13,
    S_WIN_RD      = 5'd14,
    S_WIN_WAIT    = 5'd15,
    S_DESC_LOAD   = 5'd16,
    S_DESC_CHECK  = 5'd17,
    S_IND_WAIT    = 5'd18,
    S_CHAIN_WAIT  = 5'd19,
    S_TX          = 5'd20,
    S_USED_ELEM   = 5'd21,
    S_USED_IDX    = 5'd22,
    S_USED_BAR    = 5'd23,
    S_DRAIN       = 5'd24,
    S_ERROR       = 5'd25,
    S_FAULT_WR    = 5'd26;     // test only: the WRITE_TX_BUFFER write

localparam BATCH_W = $clog2(MAX_BATCH + 1);
localparam WIN_W = $clog2(DESC_WINDOW + 1);
localparam DOFF_W = $clog2(DESC_ENTRIES);
localparam TBL_W = $clog2(INDIRECT_MAX + 1);
localparam DCNT_W = $clog2(MAX_FRAME_LEN + 12 + 1);

initial begin
    if (QUEUE_SIZE < 2 || QUEUE_SIZE > 32768 || (QUEUE_SIZE & (QUEUE_SIZE - 1)) != 0) begin
        $error("Error: QUEUE_SIZE must be a power of 2 in 2..32768 (instance %m)");
        $finish;
    end
    if (WORD_BYTES < 8 || WORD_BYTES > 64 || (WORD_BYTES & (WORD_BYTES - 1)) != 0 || WORD_BYTES*8 != RAM_DATA_WIDTH) begin
        $error("Error: RAM_DATA_WIDTH must be 64, 128, 256 or 512 (instance %m)");
        $finish;
    end
    if (AXIS_NET_KEEP_WIDTH*8 != AXIS_NET_DATA_WIDTH || RAM_DATA_WIDTH % AXIS_NET_DATA_WIDTH != 0) begin
        $error("Error: AXIS_NET_DATA_WIDTH must be 8*AXIS_NET_KEEP_WIDTH and divide RAM_DATA_WIDTH (instance %m)");
        $finish;
    end
    if (MIN_FRAME_LEN < 1 || MIN_FRAME_LEN > MAX_FRAME_LEN) begin
        $error("Error: 1 <= MIN_FRAME_LEN <= MAX_FRAME_LEN (instance %m)");
        $finish;
    end
    if (DESC_RAM_OFF + 16*DESC_ENTRIES > PKT_RAM_OFF || HDR_AREA + MAX_FRAME_LEN > PKT_BYTES) begin
        $error("Error: RAM_ADDR_WIDTH too small for the RAM layout (instance %m)");
        $finish;
    end
    if ((1 << LEN_WIDTH) <= 16*DESC_ENTRIES || (1 << LEN_WIDTH) <= MAX_FRAME_LEN + 12) begin
        $error("Error: LEN_WIDTH too small (instance %m)");
        $finish;
    end
    if (DMA_TAG_WIDTH < 2 || MAX_BATCH < 1 || MAX_BATCH > QUEUE_SIZE || DESC_WINDOW < 1 || DESC_WINDOW > QUEUE_SIZE
            || INDIRECT_MAX < 1) begin
        $error("Error: DMA_TAG_WIDTH >= 2, 1 <= MAX_BATCH, DESC_WINDOW <= QUEUE_SIZE, INDIRECT_MAX >= 1 (instance %m)");
        $finish;
    end
end

reg  [4:0]                  state_reg, state_next;
reg  [1:0]                  av_purpose_reg, av_purpose_next;
reg                         flags_val_reg, flags_val_next;      // used.flags value to write
reg  [4:0]                  flags_ret_reg, flags_ret_next;      // state after the used.flags write
reg                         used_flags_reg, used_flags_next;    // used.flags NO_NOTIFY as last written
reg                         notify_pending_reg, notify_pending_next;
reg  [31:0]                 timer_reg, timer_next;
reg  [FAULT_W-1:0]          fault_reg, fault_next;              // test only: fault knobs of this packet

// queue state
reg  [15:0]                 last_avail_reg, last_avail_next;
reg  [15:0]                 avail_idx_reg, avail_idx_next;
reg  [15:0]                 used_idx_reg, used_idx_next;

// head cache: ring_cnt entries read at last_avail - ring_pos
reg  [BATCH_W-1:0]          ring_cnt_reg, ring_cnt_next;
reg  [BATCH_W-1:0]          ring_pos_reg, ring_pos_next;

// descriptor window: win_cnt descriptors from win_start, read after avail.idx was win_limit
reg                         win_valid_reg, win_valid_next;
reg  [QW-1:0]               win_start_reg, win_start_next;
reg  [WIN_W-1:0]            win_cnt_reg, win_cnt_next;
reg  [15:0]                 win_limit_reg, win_limit_next;

// chain walk
reg  [QW-1:0]               head_reg, head_next;
reg  [15:0]                 desc_idx_reg, desc_idx_next;        // ring index, or table index when in_ind
reg  [15:0]                 chain_cnt_reg, chain_cnt_next;
reg                         in_ind_reg, in_ind_next;
reg  [TBL_W-1:0]            tbl_cnt_reg, tbl_cnt_next;
reg  [DOFF_W-1:0]           desc_off_reg, desc_off_next;        // don't-care outside the walk
reg                         desc_word_reg, desc_word_next;      // don't-care outside the walk
reg  [127:0]                desc_reg, desc_next;                // don't-care outside the walk
reg  [15:0]                 total_reg, total_next;              // bytes read for this chain
reg                         drop_long_reg, drop_long_next;      // the chain passed MAX_FRAME_LEN: drop it
reg  [63:0]                 hdr_addr_reg, hdr_addr_next;        // test only: bus address of header byte 0

// outstanding DMA
reg                         meta_pending_reg, meta_pending_next;
reg  [DCNT_W-1:0]           rd_data_cnt_reg, rd_data_cnt_next;
reg  [2:0]                  wr_cnt_reg, wr_cnt_next;
reg                         rd_err_reg, rd_err_next;
reg                         wr_err_reg, wr_err_next;
reg                         drain_err_reg, drain_err_next;

// DMA descriptor outputs (fields are don't-care while valid is low)
reg  [63:0]                 rd_desc_addr_reg, rd_desc_addr_next;
reg  [RAM_ADDR_WIDTH-1:0]   rd_desc_ram_reg, rd_desc_ram_next;
reg  [LEN_WIDTH-1:0]        rd_desc_len_reg, rd_desc_len_next;
reg  [DMA_TAG_WIDTH-1:0]    rd_desc_tag_reg, rd_desc_tag_next;
reg                         rd_desc_valid_reg, rd_desc_valid_next;
reg  [63:0]                 wr_desc_addr_reg, wr_desc_addr_next;
reg  [63:0]                 wr_desc_imm_reg, wr_desc_imm_next;
reg  [3:0]                  wr_desc_len_reg, wr_desc_len_next;
reg                         wr_desc_valid_reg, wr_desc_valid_next;

// RAM read port (combinational) and the byte offset of the word read last cycle (don't-care)
reg                         ram_rd_en_c;
reg  [RAM_ADDR_WIDTH-1:0]   ram_rd_byte_addr_c;
reg  [BYTE_SHIFT-1:0]       ram_rd_off_reg, ram_rd_off_next;

// wire side: RAM -> 2-beat FIFO -> m_axis_tx (FIFO data regs are don't-care while empty)
reg  [15:0]                 tx_remain_reg, tx_remain_next;      // frame bytes not yet read from RAM
reg  [RAM_ADDR_WIDTH-1:0]   tx_addr_reg, tx_addr_next;          // don't-care while tx_remain = 0
reg                         tx_rd_valid_reg, tx_rd_valid_next;  // a beat arrives from RAM this cycle
reg  [AXIS_NET_KEEP_WIDTH-1:0] tx_rd_keep_reg, tx_rd_keep_next; // don't-care while tx_rd_valid = 0
reg                         tx_rd_last_reg, tx_rd_last_next;    // don't-care while tx_rd_valid = 0
reg  [1:0]                  tx_count_reg, tx_count_next;
reg  [AXIS_NET_DATA_WIDTH-1:0] tx_data0_reg, tx_data0_next, tx_data1_reg, tx_data1_next;
reg  [AXIS_NET_KEEP_WIDTH-1:0] tx_keep0_reg, tx_keep0_next, tx_keep1_reg, tx_keep1_next;
reg                         tx_last0_reg, tx_last0_next, tx_last1_reg, tx_last1_next;
reg                         tx_user0_reg, tx_user0_next, tx_user1_reg, tx_user1_next;
reg                         tx_open_reg, tx_open_next;          // a beat of an unfinished frame went out
reg                         tx_again_reg, tx_again_next;        // test only: DUP_FRAME, send the frame again

// outputs
reg                         irq_valid_reg, irq_valid_next;
reg                         irq_cause_reg, irq_cause_next;
reg                         err_valid_reg, err_valid_next;
reg  [3:0]                  err_cause_reg, err_cause_next;
reg                         stat_frame_reg, stat_frame_next;
reg                         stat_notify_reg, stat_notify_next;
reg                         stat_irq_normal_reg, stat_irq_normal_next;
reg                         stat_irq_noe_reg, stat_irq_noe_next;
reg                         stat_irq_suppressed_reg, stat_irq_suppressed_next;
reg                         stat_drop_oversize_reg, stat_drop_oversize_next;
reg                         stat_drop_runt_reg, stat_drop_runt_next;

// per-cycle events
reg                         raise_err;
reg  [3:0]                  raise_cause;
reg                         clear_state;
reg                         tx_cancel;
reg                         meta_issue, rd_data_issue, wr_issue;
reg                         tx_push;
reg  [AXIS_NET_DATA_WIDTH-1:0] tx_push_data;
reg  [AXIS_NET_KEEP_WIDTH-1:0] tx_push_keep;
reg                         tx_push_last, tx_push_user;

// ring addresses
wire [63:0] avail_base = queue_base + {32'd0, AVAIL_OFF_32};
wire [63:0] used_base = queue_base + {32'd0, USED_OFF_32};
wire [15:0] hdr_len = feat_mrg_rxbuf ? 16'd12 : 16'd10;

// test only: the fault knobs in effect (constant 0 without FAULT_ENABLE: every knob's logic folds away)
/* verilator lint_off UNUSEDSIGNAL */ // fault / fault_reg are dead logic without FAULT_ENABLE
wire [FAULT_W-1:0] fault_in = (FAULT_ENABLE != 0) ? fault : {FAULT_W{1'b0}};
wire [FAULT_W-1:0] knob = (FAULT_ENABLE != 0) ? fault_reg : {FAULT_W{1'b0}};
/* verilator lint_on UNUSEDSIGNAL */

// RAM read data shifted down to the byte addressed last cycle; the users take the low bytes they need
/* verilator lint_off UNUSEDSIGNAL */ // the widest user (a descriptor) takes 128 bits
wire [RAM_DATA_WIDTH-1:0] ram_rd_shifted = ram_rd_data >> {ram_rd_off_reg, 3'b000};
/* verilator lint_on UNUSEDSIGNAL */
wire [127:0] desc_from_ram;

generate
    if (WORD_BYTES >= 16) begin : g_desc_wide
        assign desc_from_ram = ram_rd_shifted[127:0];
    end else begin : g_desc_narrow
        // two words, low half first
        assign desc_from_ram = {ram_rd_shifted[63:0], desc_reg[127:64]};
    end
endgenerate

// descriptor fields
wire [63:0] d_addr = desc_reg[63:0];
wire [31:0] d_len = desc_reg[95:64];
/* verilator lint_off UNUSEDSIGNAL */ // flag bits 15:3 are not defined for split rings
wire [15:0] d_flags = desc_reg[111:96];
/* verilator lint_on UNUSEDSIGNAL */
wire [15:0] d_next = desc_reg[127:112];
wire d_has_next = d_flags[VRING_DESC_F_NEXT];

// avail read
wire [15:0] av_flags = ram_rd_shifted[15:0];
wire [15:0] av_idx = ram_rd_shifted[31:16];
wire [15:0] av_diff = av_idx - last_avail_reg;

// ring entries to read: min(MAX_BATCH, avail_idx - last_avail, QUEUE_SIZE - last_avail % QUEUE_SIZE)
wire [15:0] pending_cnt = avail_idx_reg - last_avail_reg;
wire [16:0] to_ring_end = QSIZE_17 - {1'b0, {16-QW{1'b0}}, last_avail_reg[QW-1:0]};
wire [16:0] ring_rd_cnt_a = ({1'b0, pending_cnt} < BATCH_32[16:0]) ? {1'b0, pending_cnt} : BATCH_32[16:0];
/* verilator lint_off UNUSEDSIGNAL */ // at most MAX_BATCH
wire [16:0] ring_rd_cnt_full = (ring_rd_cnt_a < to_ring_end) ? ring_rd_cnt_a : to_ring_end;
/* verilator lint_on UNUSEDSIGNAL */
wire [BATCH_W-1:0] ring_rd_cnt = ring_rd_cnt_full[BATCH_W-1:0];
// test only (READ_PAST_AVAIL): one entry more, when MAX_BATCH and the ring's end leave room for it
wire ring_rd_past = knob[FAULT_READ_PAST_AVAIL] && ring_rd_cnt_full < BATCH_32[16:0]
    && ring_rd_cnt_full < to_ring_end;
/* verilator lint_off UNUSEDSIGNAL */ // at most MAX_BATCH
wire [16:0] ring_rd_len_full = ring_rd_cnt_full + {16'd0, ring_rd_past};
/* verilator lint_on UNUSEDSIGNAL */
wire [BATCH_W-1:0] ring_rd_len_cnt = ring_rd_len_full[BATCH_W-1:0];

// descriptor window: usable for the current head, hit, window size to read
wire [15:0] win_age = win_limit_reg - last_avail_reg;
wire win_fresh = win_valid_reg && win_age != 16'd0 && {1'b0, win_age} <= QSIZE_17;
wire [QW-1:0] win_rel_q = desc_idx_reg[QW-1:0] - win_start_reg;
wire [15:0] win_rel = {{16-QW{1'b0}}, win_rel_q};
wire win_hit = win_fresh && desc_idx_reg[QW-1:0] >= win_start_reg && win_rel < {{16-WIN_W{1'b0}}, win_cnt_reg};
wire [16:0] desc_to_end = QSIZE_17 - {1'b0, desc_idx_reg};
/* verilator lint_off UNUSEDSIGNAL */ // at most DESC_WINDOW
wire [16:0] win_rd_cnt_full = (desc_to_end < WINDOW_32[16:0]) ? desc_to_end : WINDOW_32[16:0];
/* verilator lint_on UNUSEDSIGNAL */
wire [WIN_W-1:0] win_rd_cnt = win_rd_cnt_full[WIN_W-1:0];

// chain checks
wire [16:0] walk_limit = in_ind_reg ? {{17-TBL_W{1'b0}}, tbl_cnt_reg} : QSIZE_17;
wire [32:0] total_after = {17'd0, total_reg} + {1'b0, d_len};
wire [32:0] total_max = {17'd0, hdr_len} + {1'b0, MAX_FRAME_32};

// statuses that belong to this engine
wire rd_status_ours = s_axis_read_desc_status_valid && s_axis_read_desc_status_tag[DMA_TAG_WIDTH-1];
wire wr_status_ours = s_axis_write_desc_status_valid && s_axis_write_desc_status_tag[DMA_TAG_WIDTH-1];
wire meta_done = rd_status_ours && !s_axis_read_desc_status_tag[0];
wire rd_data_done = rd_status_ours && s_axis_read_desc_status_tag[0];

wire rd_free = !rd_desc_valid_reg || m_axis_read_desc_ready;
wire wr_free = !wr_desc_valid_reg || m_axis_write_desc_ready;

wire tx_pop = tx_count_reg != 2'd0 && m_axis_tx_tready;
wire tx_done = tx_remain_reg == 16'd0 && !tx_rd_valid_reg && tx_count_reg == 2'd0;

// step 5's two writes
wire [63:0] used_elem_addr = used_base + 64'd4 + {{61-QW{1'b0}}, used_idx_reg[QW-1:0], 3'b000};
// used.len: what the device wrote into the chain, nothing for TX (USED_LEN_READ, test only: bytes read)
wire [15:0] used_len = knob[FAULT_USED_LEN_READ] ? total_reg : 16'd0;
wire [63:0] used_elem_imm = {16'd0, used_len, {32-QW{1'b0}}, head_reg};
// test only (USED_IDX_AHEAD): the value written is one more; used_idx itself still counts by one
wire [15:0] used_idx_wr = used_idx_reg + (knob[FAULT_USED_IDX_AHEAD] ? 16'd2 : 16'd1);
// test only (USED_IDX_FIRST): used.idx first, then the used element
wire used_idx_first = knob[FAULT_USED_IDX_FIRST];
// test only (WRITE_TX_BUFFER): a write into the header buffer right after the used element
wire fault_txbuf = knob[FAULT_WRITE_TX_BUFFER];
// test only (DROP_FRAME / DUP_FRAME): this packet's used index has bits [1:0] = 3
wire fault_frame_sel = used_idx_reg[1:0] == 2'b11;

wire drained = !rd_desc_valid_reg && !wr_desc_valid_reg && !meta_pending_reg && rd_data_cnt_reg == 0
    && wr_cnt_reg == 3'd0 && tx_done && !tx_open_reg;

function [RAM_ADDR_WIDTH-1:0] desc_ram_addr;
    input [DOFF_W-1:0] off;
    input              word;
    begin
        desc_ram_addr = DESC_RAM_32[RAM_ADDR_WIDTH-1:0] + {{RAM_ADDR_WIDTH-DOFF_W-4{1'b0}}, off, 4'b0000}
            + {{RAM_ADDR_WIDTH-4{1'b0}}, word, 3'b000};
    end
endfunction

function [RAM_ADDR_WIDTH-1:0] ring_ram_addr;
    input [BATCH_W-1:0] pos;
    begin
        ring_ram_addr = RING_RAM_32[RAM_ADDR_WIDTH-1:0] + {{RAM_ADDR_WIDTH-BATCH_W-1{1'b0}}, pos, 1'b0};
    end
endfunction

assign m_axis_read_desc_pcie_addr = rd_desc_addr_reg;
assign m_axis_read_desc_ram_addr = rd_desc_ram_reg;
assign m_axis_read_desc_len = rd_desc_len_reg;
assign m_axis_read_desc_tag = rd_desc_tag_reg;
assign m_axis_read_desc_valid = rd_desc_valid_reg;

assign m_axis_write_desc_pcie_addr = wr_desc_addr_reg;
assign m_axis_write_desc_ram_addr = {RAM_ADDR_WIDTH{1'b0}};
assign m_axis_write_desc_imm = wr_desc_imm_reg;
assign m_axis_write_desc_imm_en = 1'b1;
assign m_axis_write_desc_len = {{LEN_WIDTH-4{1'b0}}, wr_desc_len_reg};
assign m_axis_write_desc_tag = TAG_WRITE;
assign m_axis_write_desc_valid = wr_desc_valid_reg;

assign ram_rd_en = ram_rd_en_c;
assign ram_rd_addr = ram_rd_byte_addr_c[RAM_ADDR_WIDTH-1:BYTE_SHIFT];

assign m_axis_tx_tdata = tx_data0_reg;
assign m_axis_tx_tkeep = tx_keep0_reg;
assign m_axis_tx_tvalid = tx_count_reg != 2'd0;
assign m_axis_tx_tlast = tx_last0_reg;
assign m_axis_tx_tuser = tx_user0_reg;

assign irq_valid = irq_valid_reg;
assign irq_cause = irq_cause_reg;
assign err_valid = err_valid_reg;
assign err_cause = err_cause_reg;
assign idle = (state_reg == S_IDLE || state_reg == S_ARMED || state_reg == S_ERROR) && drained;
assign stat_frame = stat_frame_reg;
assign stat_notify = stat_notify_reg;
assign stat_irq_normal = stat_irq_normal_reg;
assign stat_irq_noe = stat_irq_noe_reg;
assign stat_irq_suppressed = stat_irq_suppressed_reg;
assign stat_drop_oversize = stat_drop_oversize_reg;
assign stat_drop_runt = stat_drop_runt_reg;

always @* begin
    state_next = state_reg;
    av_purpose_next = av_purpose_reg;
    flags_val_next = flags_val_reg;
    flags_ret_next = flags_ret_reg;
    used_flags_next = used_flags_reg;
    notify_pending_next = notify_pending_reg;
    timer_next = timer_reg;
    fault_next = fault_reg;
    last_avail_next = last_avail_reg;
    avail_idx_next = avail_idx_reg;
    used_idx_next = used_idx_reg;
    ring_cnt_next = ring_cnt_reg;
    ring_pos_next = ring_pos_reg;
    win_valid_next = win_valid_reg;
    win_start_next = win_start_reg;
    win_cnt_next = win_cnt_reg;
    win_limit_next = win_limit_reg;
    head_next = head_reg;
    desc_idx_next = desc_idx_reg;
    chain_cnt_next = chain_cnt_reg;
    in_ind_next = in_ind_reg;
    tbl_cnt_next = tbl_cnt_reg;
    desc_off_next = desc_off_reg;
    desc_word_next = desc_word_reg;
    desc_next = desc_reg;
    total_next = total_reg;
    drop_long_next = drop_long_reg;
    hdr_addr_next = hdr_addr_reg;
    meta_pending_next = meta_pending_reg;
    rd_data_cnt_next = rd_data_cnt_reg;
    wr_cnt_next = wr_cnt_reg;
    rd_err_next = rd_err_reg;
    wr_err_next = wr_err_reg;
    drain_err_next = drain_err_reg;

    rd_desc_addr_next = rd_desc_addr_reg;
    rd_desc_ram_next = rd_desc_ram_reg;
    rd_desc_len_next = rd_desc_len_reg;
    rd_desc_tag_next = rd_desc_tag_reg;
    rd_desc_valid_next = rd_desc_valid_reg && !m_axis_read_desc_ready;
    wr_desc_addr_next = wr_desc_addr_reg;
    wr_desc_imm_next = wr_desc_imm_reg;
    wr_desc_len_next = wr_desc_len_reg;
    wr_desc_valid_next = wr_desc_valid_reg && !m_axis_write_desc_ready;

    ram_rd_en_c = 1'b0;
    ram_rd_byte_addr_c = {RAM_ADDR_WIDTH{1'b0}};
    ram_rd_off_next = ram_rd_off_reg;

    tx_remain_next = tx_remain_reg;
    tx_addr_next = tx_addr_reg;
    tx_rd_valid_next = 1'b0;
    tx_rd_keep_next = tx_rd_keep_reg;
    tx_rd_last_next = tx_rd_last_reg;
    tx_count_next = tx_count_reg;
    tx_data0_next = tx_data0_reg;
    tx_data1_next = tx_data1_reg;
    tx_keep0_next = tx_keep0_reg;
    tx_keep1_next = tx_keep1_reg;
    tx_last0_next = tx_last0_reg;
    tx_last1_next = tx_last1_reg;
    tx_user0_next = tx_user0_reg;
    tx_user1_next = tx_user1_reg;
    tx_open_next = tx_open_reg;
    tx_again_next = tx_again_reg;

    irq_valid_next = 1'b0;
    irq_cause_next = irq_cause_reg;
    err_valid_next = 1'b0;
    err_cause_next = err_cause_reg;
    stat_frame_next = 1'b0;
    stat_notify_next = notify;
    stat_irq_normal_next = 1'b0;
    stat_irq_noe_next = 1'b0;
    stat_irq_suppressed_next = 1'b0;
    stat_drop_oversize_next = 1'b0;
    stat_drop_runt_next = 1'b0;

    raise_err = 1'b0;
    raise_cause = 4'd0;
    clear_state = 1'b0;
    tx_cancel = 1'b0;
    meta_issue = 1'b0;
    rd_data_issue = 1'b0;
    wr_issue = 1'b0;
    tx_push = 1'b0;
    tx_push_data = {AXIS_NET_DATA_WIDTH{1'b0}};
    tx_push_keep = {AXIS_NET_KEEP_WIDTH{1'b0}};
    tx_push_last = 1'b0;
    tx_push_user = 1'b0;

    // a kick is remembered until an avail read (or the start of processing) covers it, also while a reset
    // drains (served once it completes); a stopped queue ignores it
    if (notify && queue_enable && state_reg != S_ERROR && !(state_reg == S_DRAIN && drain_err_reg)) begin
        notify_pending_next = 1'b1;
    end

    if (rd_status_ours && s_axis_read_desc_status_error != 4'd0) begin
        rd_err_next = 1'b1;
    end
    if (wr_status_ours && s_axis_write_desc_status_error != 4'd0) begin
        wr_err_next = 1'b1;
    end

    if (state_reg == S_ERROR) begin
        // stopped: no DMA until the driver resets the device
        if (dev_reset) begin
            clear_state = 1'b1;
            state_next = S_IDLE;
        end
    end else if (state_reg == S_DRAIN) begin
        if (dev_reset) begin
            drain_err_next = 1'b0;
        end
        if (drained) begin
            clear_state = 1'b1;
            state_next = (drain_err_reg && !dev_reset) ? S_ERROR : S_IDLE;
        end
    end else if (dev_reset || (!queue_enable && state_reg != S_IDLE)) begin
        state_next = S_DRAIN;
        drain_err_next = 1'b0;
        notify_pending_next = 1'b0;     // a kick for the rings being dropped
        tx_cancel = 1'b1;
    end else if (rd_err_reg) begin
        raise_err = 1'b1;
        raise_cause = ERR_DMA_RD;
    end else if (wr_err_reg) begin
        raise_err = 1'b1;
        raise_cause = ERR_DMA_WR;
    end else begin
        case (state_reg)
            S_IDLE: begin
                if (queue_enable && notify_pending_reg) begin
                    notify_pending_next = 1'b0;
                    if (pacing_timer) begin
                        // QEMU tx=timer: arm the timer, ask the driver not to kick meanwhile
                        timer_next = pacing_interval;
                        if (used_flags_reg) begin
                            state_next = S_ARMED;
                        end else begin
                            flags_val_next = 1'b1;
                            flags_ret_next = S_ARMED;
                            state_next = S_FLAGS_WR;
                        end
                    end else begin
                        state_next = S_START;
                    end
                end
            end
            S_ARMED: begin
                if (notify_pending_reg || timer_reg == 32'd0) begin
                    notify_pending_next = 1'b0;
                    state_next = S_START;
                end else begin
                    timer_next = timer_reg - 32'd1;
                end
            end
            S_START: begin
                // used.flags = NO_NOTIFY while processing with kick_suppress, else 0 (pacing: cleared
                // before processing, behind a barrier)
                av_purpose_next = AV_START;
                if (used_flags_reg != kick_suppress) begin
                    flags_val_next = kick_suppress;
                    flags_ret_next = S_AVAIL_RD;
                    state_next = S_FLAGS_WR;
                end else begin
                    state_next = S_AVAIL_RD;
                end
            end
            S_FLAGS_WR: begin
                if (wr_free) begin
                    wr_desc_addr_next = used_base;
                    wr_desc_imm_next = {63'd0, flags_val_reg};
                    wr_desc_len_next = 4'd2;
                    wr_desc_valid_next = 1'b1;
                    wr_issue = 1'b1;
                    used_flags_next = flags_val_reg;
                    // clearing NO_NOTIFY is followed by an avail read: wait for the write (barrier)
                    state_next = flags_val_reg ? flags_ret_reg : S_FLAGS_BAR;
                end
            end
            S_FLAGS_BAR: begin
                if (wr_cnt_reg == 3'd0) begin
                    state_next = flags_ret_reg;
                end
            end
            S_AVAIL_RD: begin
                if (rd_free) begin
                    rd_desc_addr_next = avail_base;
                    rd_desc_ram_next = AVAIL_RAM_32[RAM_ADDR_WIDTH-1:0];
                    rd_desc_len_next = {{LEN_WIDTH-3{1'b0}}, 3'd4};
                    rd_desc_tag_next = TAG_META;
                    rd_desc_valid_next = 1'b1;
                    meta_issue = 1'b1;
                    notify_pending_next = 1'b0;
                    state_next = S_AVAIL_WAIT;
                end
            end
            S_AVAIL_WAIT: begin
                if (!meta_pending_reg) begin
                    ram_rd_en_c = 1'b1;
                    ram_rd_byte_addr_c = AVAIL_RAM_32[RAM_ADDR_WIDTH-1:0];
                    state_next = S_AVAIL_CHECK;
                end
            end
            S_AVAIL_CHECK: begin
                if ({1'b0, av_diff} > QSIZE_17) begin
                    raise_err = 1'b1;
                    raise_cause = ERR_AVAIL_IDX;
                end else begin
                    avail_idx_next = av_idx;
                    if (av_purpose_reg == AV_AFTER) begin
                        // step 6: the interrupt decision (IGNORE_NO_INTERRUPT, test only: flags read as clear)
                        if (!av_flags[VRING_AVAIL_F_NO_INTERRUPT] || knob[FAULT_IGNORE_NO_INTERRUPT]) begin
                            if (knob[FAULT_DROP_IRQ]) begin
                                // test only (DROP_IRQ): the interrupt the driver asked for is not raised
                                stat_irq_suppressed_next = 1'b1;
                            end else begin
                                irq_valid_next = 1'b1;
                                irq_cause_next = 1'b0;
                                stat_irq_normal_next = 1'b1;
                            end
                        end else if (av_diff == 16'd0 && (noe_policy == NOE_ALWAYS
                                || (noe_policy == NOE_WHEN_ACKED && feat_noe))) begin
                            irq_valid_next = 1'b1;
                            irq_cause_next = 1'b1;
                            stat_irq_noe_next = 1'b1;
                        end else begin
                            stat_irq_suppressed_next = 1'b1;
                        end
                    end
                    if (av_diff == 16'd0) begin
                        state_next = (av_purpose_reg == AV_RECHECK) ? S_IDLE : S_GO_IDLE;
                    end else if (av_purpose_reg == AV_RECHECK && kick_suppress) begin
                        // work appeared after used.flags was cleared: suppress kicks again
                        flags_val_next = 1'b1;
                        flags_ret_next = S_NEXT_HEAD;
                        state_next = S_FLAGS_WR;
                    end else begin
                        state_next = S_NEXT_HEAD;
                    end
                end
            end
            S_GO_IDLE: begin
                if (used_flags_reg) begin
                    // clear NO_NOTIFY, barrier, re-check avail.idx (a kick may have been suppressed)
                    flags_val_next = 1'b0;
                    flags_ret_next = S_AVAIL_RD;
                    av_purpose_next = AV_RECHECK;
                    state_next = S_FLAGS_WR;
                end else begin
                    state_next = S_IDLE;
                end
            end
            S_NEXT_HEAD: begin
                fault_next = fault_in;  // test only: the knobs for this packet
                if (ring_pos_reg != ring_cnt_reg) begin
                    ram_rd_en_c = 1'b1;
                    ram_rd_byte_addr_c = ring_ram_addr(ring_pos_reg);
                    state_next = S_HEAD;
                end else begin
                    state_next = S_RING_RD;
                end
            end
            S_RING_RD: begin
                if (rd_free) begin
                    rd_desc_addr_next = avail_base + 64'd4 + {{63-QW{1'b0}}, last_avail_reg[QW-1:0], 1'b0};
                    rd_desc_ram_next = RING_RAM_32[RAM_ADDR_WIDTH-1:0];
                    rd_desc_len_next = {{LEN_WIDTH-BATCH_W-1{1'b0}}, ring_rd_len_cnt, 1'b0};
                    rd_desc_tag_next = TAG_META;
                    rd_desc_valid_next = 1'b1;
                    meta_issue = 1'b1;
                    ring_cnt_next = ring_rd_cnt;
                    ring_pos_next = {BATCH_W{1'b0}};
                    state_next = S_RING_WAIT;
                end
            end
            S_RING_WAIT: begin
                if (!meta_pending_reg) begin
                    ram_rd_en_c = 1'b1;
                    ram_rd_byte_addr_c = ring_ram_addr(ring_pos_reg);
                    state_next = S_HEAD;
                end
            end
            S_HEAD: begin
                ring_pos_next = ring_pos_reg + 1'b1;
                if (ram_rd_shifted[15:QW] != 0) begin
                    raise_err = 1'b1;
                    raise_cause = ERR_NEXT_RANGE;
                end else begin
                    head_next = ram_rd_shifted[QW-1:0];
                    desc_idx_next = ram_rd_shifted[15:0];
                    chain_cnt_next = 16'd0;
                    in_ind_next = 1'b0;
                    total_next = 16'd0;
                    drop_long_next = 1'b0;
                    state_next = S_DESC_LOOKUP;
                end
            end
            S_DESC_LOOKUP: begin
                desc_word_next = 1'b0;
                if (in_ind_reg || win_hit) begin
                    desc_off_next = in_ind_reg ? desc_idx_reg[DOFF_W-1:0] : win_rel[DOFF_W-1:0];
                    ram_rd_en_c = 1'b1;
                    ram_rd_byte_addr_c = desc_ram_addr(desc_off_next, 1'b0);
                    state_next = S_DESC_LOAD;
                end else begin
                    state_next = S_WIN_RD;
                end
            end
            S_WIN_RD: begin
                if (rd_free) begin
                    rd_desc_addr_next = queue_base + {{60-QW{1'b0}}, desc_idx_reg[QW-1:0], 4'b0000};
                    rd_desc_ram_next = DESC_RAM_32[RAM_ADDR_WIDTH-1:0];
                    rd_desc_len_next = {{LEN_WIDTH-WIN_W-4{1'b0}}, win_rd_cnt, 4'b0000};
                    rd_desc_tag_next = TAG_META;
                    rd_desc_valid_next = 1'b1;
                    meta_issue = 1'b1;
                    win_valid_next = 1'b1;
                    win_start_next = desc_idx_reg[QW-1:0];
                    win_cnt_next = win_rd_cnt;
                    win_limit_next = avail_idx_reg;
                    state_next = S_WIN_WAIT;
                end
            end
            S_WIN_WAIT, S_IND_WAIT: begin
                if (!meta_pending_reg) begin
                    // the descriptor wanted is the first one read
                    desc_off_next = {DOFF_W{1'b0}};
                    desc_word_next = 1'b0;
                    ram_rd_en_c = 1'b1;
                    ram_rd_byte_addr_c = desc_ram_addr({DOFF_W{1'b0}}, 1'b0);
                    state_next = S_DESC_LOAD;
                end
            end
            S_DESC_LOAD: begin
                desc_next = desc_from_ram;
                if (DESC_WORDS > 1 && !desc_word_reg) begin
                    desc_word_next = 1'b1;
                    ram_rd_en_c = 1'b1;
                    ram_rd_byte_addr_c = desc_ram_addr(desc_off_reg, 1'b1);
                end else begin
                    state_next = S_DESC_CHECK;
                end
            end
            S_DESC_CHECK: begin
                // every check passes before the buffer (or table) is read
                if (d_flags[VRING_DESC_F_WRITE]) begin
                    raise_err = 1'b1;
                    raise_cause = ERR_WRITE_DESC;
                end else if (d_flags[VRING_DESC_F_INDIRECT]) begin
                    if (!feat_indirect) begin
                        raise_err = 1'b1;
                        raise_cause = ERR_INDIRECT_FEAT;
                    end else if (in_ind_reg || chain_cnt_reg != 16'd0 || d_has_next) begin
                        raise_err = 1'b1;
                        raise_cause = ERR_INDIRECT_NEST;
                    end else if (d_len == 32'd0 || d_len[3:0] != 4'd0 || d_len > IND_BYTES_32) begin
                        raise_err = 1'b1;
                        raise_cause = ERR_INDIRECT_LEN;
                    end else if (rd_free) begin
                        rd_desc_addr_next = d_addr;
                        rd_desc_ram_next = DESC_RAM_32[RAM_ADDR_WIDTH-1:0];
                        rd_desc_len_next = d_len[LEN_WIDTH-1:0];
                        rd_desc_tag_next = TAG_META;
                        rd_desc_valid_next = 1'b1;
                        meta_issue = 1'b1;
                        // the table overwrites the window
                        win_valid_next = 1'b0;
                        in_ind_next = 1'b1;
                        tbl_cnt_next = d_len[TBL_W+3:4];
                        desc_idx_next = 16'd0;
                        chain_cnt_next = 16'd0;
                        state_next = S_IND_WAIT;
                    end
                end else if (d_has_next && {1'b0, d_next} >= walk_limit) begin
                    raise_err = 1'b1;
                    raise_cause = ERR_NEXT_RANGE;
                end else if (d_has_next && {1'b0, chain_cnt_reg} + 17'd1 >= walk_limit) begin
                    raise_err = 1'b1;
                    raise_cause = ERR_CHAIN_LOOP;
                end else if (d_len == 32'd0 || drop_long_reg || total_after > total_max || rd_free) begin
                    if (drop_long_reg || total_after > total_max) begin
                        // the frame is too long for the device: read nothing more, walk on to the
                        // chain's end (its checks still apply), drop it there
                        drop_long_next = 1'b1;
                    end else begin
                        if (d_len != 32'd0) begin
                            if (FAULT_ENABLE != 0 && total_reg == 16'd0) begin
                                hdr_addr_next = d_addr;     // test only (WRITE_TX_BUFFER)
                            end
                            rd_desc_addr_next = d_addr;
                            rd_desc_ram_next = BUF_RAM_32[RAM_ADDR_WIDTH-1:0] - hdr_len[RAM_ADDR_WIDTH-1:0] + total_reg[RAM_ADDR_WIDTH-1:0];
                            rd_desc_len_next = d_len[LEN_WIDTH-1:0];
                            rd_desc_tag_next = TAG_DATA;
                            rd_desc_valid_next = 1'b1;
                            rd_data_issue = 1'b1;
                        end
                        total_next = total_after[15:0];
                    end
                    chain_cnt_next = chain_cnt_reg + 16'd1;
                    if (d_has_next) begin
                        desc_idx_next = d_next;
                        state_next = S_DESC_LOOKUP;
                    end else begin
                        state_next = S_CHAIN_WAIT;
                    end
                end
            end
            S_CHAIN_WAIT: begin
                if (rd_data_cnt_reg == 0) begin
                    // every read of the chain is back (the packet buffer is free again)
                    if (drop_long_reg) begin
                        // above MAX_FRAME_LEN: dropped, the chain completes
                        stat_drop_oversize_next = 1'b1;
                        state_next = S_USED_ELEM;
                    end else if (total_reg < hdr_len + MIN_FRAME_16) begin
                        // an empty payload, a header cut short, a runt: dropped, the chain completes
                        stat_drop_runt_next = 1'b1;
                        state_next = S_USED_ELEM;
                    end else if (knob[FAULT_DROP_FRAME] && fault_frame_sel) begin
                        // test only (DROP_FRAME): the frame is not sent, the chain is completed
                        state_next = S_USED_ELEM;
                    end else begin
                        tx_remain_next = total_reg - hdr_len;
                        tx_addr_next = FRAME_RAM_32[RAM_ADDR_WIDTH-1:0];
                        // test only (DUP_FRAME): stream it again once it has been read
                        tx_again_next = knob[FAULT_DUP_FRAME] && fault_frame_sel;
                        state_next = S_TX;
                    end
                end
            end
            S_TX: begin
                if (tx_again_reg && tx_remain_reg == 16'd0) begin
                    // test only (DUP_FRAME): the last beat was read; the same frame follows it
                    tx_again_next = 1'b0;
                    tx_remain_next = total_reg - hdr_len;
                    tx_addr_next = FRAME_RAM_32[RAM_ADDR_WIDTH-1:0];
                end else if (tx_done) begin
                    state_next = S_USED_ELEM;
                end
            end
            S_USED_ELEM: begin
                // the first of step 5's writes: the used element (used.idx with USED_IDX_FIRST, test only)
                if (wr_free) begin
                    if (used_idx_first) begin
                        wr_desc_addr_next = used_base + 64'd2;
                        wr_desc_imm_next = {48'd0, used_idx_wr};
                        wr_desc_len_next = 4'd2;
                    end else begin
                        wr_desc_addr_next = used_elem_addr;
                        wr_desc_imm_next = used_elem_imm;
                        wr_desc_len_next = 4'd8;
                    end
                    wr_desc_valid_next = 1'b1;
                    wr_issue = 1'b1;
                    state_next = (fault_txbuf && !used_idx_first) ? S_FAULT_WR : S_USED_IDX;
                end
            end
            S_FAULT_WR: begin
                // test only (WRITE_TX_BUFFER): right after the used element, the device writes into the
                // chain's header buffer (device-readable); unreachable without FAULT_ENABLE
                if (FAULT_ENABLE != 0 && wr_free) begin
                    wr_desc_addr_next = hdr_addr_reg;
                    wr_desc_imm_next = {48'd0, FAULT_TXBUF_VALUE};
                    wr_desc_len_next = 4'd2;
                    wr_desc_valid_next = 1'b1;
                    wr_issue = 1'b1;
                    state_next = used_idx_first ? S_USED_BAR : S_USED_IDX;
                end
            end
            S_USED_IDX: begin
                // the second of step 5's writes: used.idx (the used element with USED_IDX_FIRST, test only)
                if (wr_free) begin
                    if (used_idx_first) begin
                        wr_desc_addr_next = used_elem_addr;
                        wr_desc_imm_next = used_elem_imm;
                        wr_desc_len_next = 4'd8;
                    end else begin
                        wr_desc_addr_next = used_base + 64'd2;
                        wr_desc_imm_next = {48'd0, used_idx_wr};
                        wr_desc_len_next = 4'd2;
                    end
                    wr_desc_valid_next = 1'b1;
                    wr_issue = 1'b1;
                    used_idx_next = used_idx_reg + 16'd1;
                    last_avail_next = last_avail_reg + 16'd1;
                    state_next = (fault_txbuf && used_idx_first) ? S_FAULT_WR : S_USED_BAR;
                end
            end
            S_USED_BAR: begin
                // the used.idx write is out before avail is read again
                if (wr_cnt_reg == 3'd0) begin
                    av_purpose_next = AV_AFTER;
                    state_next = S_AVAIL_RD;
                end
            end
            default: begin
                state_next = S_IDLE;
            end
        endcase
    end

    if (raise_err) begin
        state_next = S_DRAIN;
        drain_err_next = 1'b1;
        notify_pending_next = 1'b0;
        err_valid_next = 1'b1;
        err_cause_next = raise_cause;
        tx_cancel = 1'b1;
    end

    // wire side: read one beat per cycle while the FIFO (2 beats) has room for it when it arrives
    if (tx_remain_reg != 16'd0 && ({1'b0, tx_count_reg} - {2'b00, tx_pop} + {2'b00, tx_rd_valid_reg}) < 3'd2) begin
        ram_rd_en_c = 1'b1;
        ram_rd_byte_addr_c = tx_addr_reg;
        tx_rd_valid_next = 1'b1;
        tx_addr_next = tx_addr_reg + AXIS_BYTES_32[RAM_ADDR_WIDTH-1:0];
        if (tx_remain_reg <= AXIS_BYTES_32[15:0]) begin
            tx_rd_last_next = 1'b1;
            tx_rd_keep_next = {AXIS_NET_KEEP_WIDTH{1'b1}} >> (AXIS_BYTES_32[15:0] - tx_remain_reg);
            tx_remain_next = 16'd0;
        end else begin
            tx_rd_last_next = 1'b0;
            tx_rd_keep_next = {AXIS_NET_KEEP_WIDTH{1'b1}};
            tx_remain_next = tx_remain_reg - AXIS_BYTES_32[15:0];
        end
    end

    if (tx_cancel) begin
        // stop reading the frame; what is already in the FIFO still goes out
        tx_remain_next = 16'd0;
    end

    if (ram_rd_en_c) begin
        ram_rd_off_next = ram_rd_byte_addr_c[BYTE_SHIFT-1:0];
    end

    if (tx_rd_valid_reg) begin
        tx_push = 1'b1;
        tx_push_data = ram_rd_shifted[AXIS_NET_DATA_WIDTH-1:0];
        tx_push_keep = tx_rd_keep_reg;
        tx_push_last = tx_rd_last_reg;
        tx_push_user = 1'b0;
    end else if (state_reg == S_DRAIN && tx_open_reg && tx_done) begin
        // the frame was cut by a stop: end it with a marked beat
        tx_push = 1'b1;
        tx_push_data = {AXIS_NET_DATA_WIDTH{1'b0}};
        tx_push_keep = {{AXIS_NET_KEEP_WIDTH-1{1'b0}}, 1'b1};
        tx_push_last = 1'b1;
        tx_push_user = 1'b1;
    end

    if (tx_pop) begin
        tx_open_next = !tx_last0_reg;
        stat_frame_next = tx_last0_reg && !tx_user0_reg;
        tx_data0_next = tx_data1_reg;
        tx_keep0_next = tx_keep1_reg;
        tx_last0_next = tx_last1_reg;
        tx_user0_next = tx_user1_reg;
    end
    if (tx_push) begin
        if (tx_count_reg == 2'd0 || (tx_count_reg == 2'd1 && tx_pop)) begin
            tx_data0_next = tx_push_data;
            tx_keep0_next = tx_push_keep;
            tx_last0_next = tx_push_last;
            tx_user0_next = tx_push_user;
        end else begin
            tx_data1_next = tx_push_data;
            tx_keep1_next = tx_push_keep;
            tx_last1_next = tx_push_last;
            tx_user1_next = tx_push_user;
        end
    end
    tx_count_next = tx_count_reg - {1'b0, tx_pop} + {1'b0, tx_push};

    // outstanding DMA
    if (meta_done) begin
        meta_pending_next = 1'b0;
    end
    if (meta_issue) begin
        meta_pending_next = 1'b1;
    end
    rd_data_cnt_next = rd_data_cnt_reg + {{DCNT_W-1{1'b0}}, rd_data_issue} - {{DCNT_W-1{1'b0}}, rd_data_done};
    wr_cnt_next = wr_cnt_reg + {2'b00, wr_issue} - {2'b00, wr_status_ours};

    if (clear_state) begin
        av_purpose_next = AV_START;
        used_flags_next = 1'b0;
        // notify_pending is kept: a kick that arrived while a reset drained is served next
        timer_next = 32'd0;
        fault_next = {FAULT_W{1'b0}};
        tx_again_next = 1'b0;
        last_avail_next = 16'd0;
        avail_idx_next = 16'd0;
        used_idx_next = 16'd0;
        ring_cnt_next = {BATCH_W{1'b0}};
        ring_pos_next = {BATCH_W{1'b0}};
        win_valid_next = 1'b0;
        in_ind_next = 1'b0;
        rd_err_next = 1'b0;
        wr_err_next = 1'b0;
        drain_err_next = 1'b0;
    end
end

always @(posedge clk) begin
    state_reg <= state_next;
    av_purpose_reg <= av_purpose_next;
    flags_val_reg <= flags_val_next;
    flags_ret_reg <= flags_ret_next;
    used_flags_reg <= used_flags_next;
    notify_pending_reg <= notify_pending_next;
    timer_reg <= timer_next;
    fault_reg <= fault_next;
    last_avail_reg <= last_avail_next;
    avail_idx_reg <= avail_idx_next;
    used_idx_reg <= used_idx_next;
    ring_cnt_reg <= ring_cnt_next;
    ring_pos_reg <= ring_pos_next;
    win_valid_reg <= win_valid_next;
    win_start_reg <= win_start_next;
    win_cnt_reg <= win_cnt_next;
    win_limit_reg <= win_limit_next;
    head_reg <= head_next;
    desc_idx_reg <= desc_idx_next;
    chain_cnt_reg <= chain_cnt_next;
    in_ind_reg <= in_ind_next;
    tbl_cnt_reg <= tbl_cnt_next;
    desc_off_reg <= desc_off_next;
    desc_word_reg <= desc_word_next;
    desc_reg <= desc_next;
    total_reg <= total_next;
    drop_long_reg <= drop_long_next;
    hdr_addr_reg <= hdr_addr_next;
    meta_pending_reg <= meta_pending_next;
    rd_data_cnt_reg <= rd_data_cnt_next;
    wr_cnt_reg <= wr_cnt_next;
    rd_err_reg <= rd_err_next;
    wr_err_reg <= wr_err_next;
    drain_err_reg <= drain_err_next;

    rd_desc_addr_reg <= rd_desc_addr_next;
    rd_desc_ram_reg <= rd_desc_ram_next;
    rd_desc_len_reg <= rd_desc_len_next;
    rd_desc_tag_reg <= rd_desc_tag_next;
    rd_desc_valid_reg <= rd_desc_valid_next;
    wr_desc_addr_reg <= wr_desc_addr_next;
    wr_desc_imm_reg <= wr_desc_imm_next;
    wr_desc_len_reg <= wr_desc_len_next;
    wr_desc_valid_reg <= wr_desc_valid_next;

    ram_rd_off_reg <= ram_rd_off_next;

    tx_remain_reg <= tx_remain_next;
    tx_addr_reg <= tx_addr_next;
    tx_rd_valid_reg <= tx_rd_valid_next;
    tx_rd_keep_reg <= tx_rd_keep_next;
    tx_rd_last_reg <= tx_rd_last_next;
    tx_count_reg <= tx_count_next;
    tx_data0_reg <= tx_data0_next;
    tx_data1_reg <= tx_data1_next;
    tx_keep0_reg <= tx_keep0_next;
    tx_keep1_reg <= tx_keep1_next;
    tx_last0_reg <= tx_last0_next;
    tx_last1_reg <= tx_last1_next;
    tx_user0_reg <= tx_user0_next;
    tx_user1_reg <= tx_user1_next;
    tx_open_reg <= tx_open_next;
    tx_again_reg <= tx_again_next;

    irq_valid_reg <= irq_valid_next;
    irq_cause_reg <= irq_cause_next;
    err_valid_reg <= err_valid_next;
    err_cause_reg <= err_cause_next;
    stat_frame_reg <= stat_frame_next;
    stat_notify_reg <= stat_notify_next;
    stat_irq_normal_reg <= stat_irq_normal_next;
    stat_irq_noe_reg <= stat_irq_noe_next;
    stat_irq_suppressed_reg <= stat_irq_suppressed_next;
    stat_drop_oversize_reg <= stat_drop_oversize_next;
    stat_drop_runt_reg <= stat_drop_runt_next;

    if (rst) begin
        state_reg <= S_IDLE;
        av_purpose_reg <= AV_START;
        flags_val_reg <= 1'b0;
        flags_ret_reg <= S_IDLE;
        used_flags_reg <= 1'b0;
        notify_pending_reg <= 1'b0;
        timer_reg <= 32'd0;
        fault_reg <= {FAULT_W{1'b0}};
        last_avail_reg <= 16'd0;
        avail_idx_reg <= 16'd0;
        used_idx_reg <= 16'd0;
        ring_cnt_reg <= {BATCH_W{1'b0}};
        ring_pos_reg <= {BATCH_W{1'b0}};
        win_valid_reg <= 1'b0;
        win_start_reg <= {QW{1'b0}};
        win_cnt_reg <= {WIN_W{1'b0}};
        win_limit_reg <= 16'd0;
        head_reg <= {QW{1'b0}};
        desc_idx_reg <= 16'd0;
        chain_cnt_reg <= 16'd0;
        in_ind_reg <= 1'b0;
        tbl_cnt_reg <= {TBL_W{1'b0}};
        total_reg <= 16'd0;
        drop_long_reg <= 1'b0;
        hdr_addr_reg <= 64'd0;
        meta_pending_reg <= 1'b0;
        rd_data_cnt_reg <= {DCNT_W{1'b0}};
        wr_cnt_reg <= 3'd0;
        rd_err_reg <= 1'b0;
        wr_err_reg <= 1'b0;
        drain_err_reg <= 1'b0;
        rd_desc_valid_reg <= 1'b0;
        wr_desc_valid_reg <= 1'b0;
        tx_remain_reg <= 16'd0;
        tx_rd_valid_reg <= 1'b0;
        tx_count_reg <= 2'd0;
        tx_open_reg <= 1'b0;
        tx_again_reg <= 1'b0;
        irq_valid_reg <= 1'b0;
        irq_cause_reg <= 1'b0;
        err_valid_reg <= 1'b0;
        err_cause_reg <= 4'd0;
        stat_frame_reg <= 1'b0;
        stat_notify_reg <= 1'b0;
        stat_irq_normal_reg <= 1'b0;
        stat_irq_noe_reg <= 1'b0;
        stat_irq_suppressed_reg <= 1'b0;
        stat_drop_oversize_reg <= 1'b0;
        stat_drop_runt_reg <= 1'b0;
    end
end

endmodule

`resetall
