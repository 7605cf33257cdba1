// SPDX-License-Identifier: MIT
/*
 * virtq_rx_mover: the RX queue's buffer mover (hdl/virtio/README.md, "The RX queue"). Frames from the wire
 * are stored whole in a packet buffer (store and forward: a frame's length is known before any DMA), then
 * written by DMA into the device-writable buffers the descriptor walk hands over: the virtio_net_hdr first
 * (hdr_len = 10 bytes, all zero; 12 with VIRTIO_NET_F_MRG_RXBUF or VIRTIO_F_VERSION_1, num_buffers in bytes 10-11), then the
 * frame, across buffer boundaries. One completion {id, len = bytes written into the chain, last} per chain
 * goes to the used writer, in ring order, once every write of its frame has been seen out (write status).
 *
 * Three stages, each on a different frame at once:
 *
 *   wire -> packet buffer (frame queue) -> planner: segments to write ops -> writer: DMA writes -> release
 *
 * Wire side. s_axis_rx is taken a beat per cycle into the packet buffer (a ring of words; a frame starts on a
 * word boundary and reserves MAX_FRAME_LEN bytes at its first beat, at the allocation point or at the RAM's
 * start). tready is low only between frames, while the buffer has no room for a maximum frame (the frames
 * held wait for chains or for their writes); after RX_WAIT cycles of a frame waiting that way, the frame is
 * taken and dropped (stat_drop_overrun): s_axis_rx is never held for more than RX_WAIT consecutive cycles.
 * At the last beat a frame is dropped and counted if tuser = 1 (bad from the MAC, stat_drop_bad), above
 * MAX_FRAME_LEN (stat_drop_oversize; nothing past the reservation is stored) or below MIN_FRAME_LEN
 * (stat_drop_runt); a frame that starts while the queue is not running (run = 0: no driver, a reset or an
 * error) is dropped (stat_drop_stopped). Every other frame enters the frame queue (FRAME_SLOTS frames).
 * A clear (after a reset or an error) loses the frames held and not yet published: each is counted as
 * stopped too (one count a cycle after the clear), unless the planner had counted it as a drop already; a
 * clear while an earlier clear's frames are still being counted adds its own (none is lost).
 *
 * Planner. Takes the oldest stored frame and the segments of the next chains: the chain's byte stream is
 * header then frame; each segment becomes write ops (one per cycle): header bytes [0, 8) and [8, hdr_len)
 * as immediate writes, frame bytes from the packet buffer. Nothing is issued until the frame is placed:
 *   - without MRG_RXBUF a frame must fit in one chain: a chain whose buffers end before hdr_len + frame
 *     bytes drops the frame (stat_drop_chain): its ops are discarded, the chain completes with len 0;
 *   - with MRG_RXBUF the frame continues in the next chains (each after the first without a header);
 *     num_buffers = the chains used; above MAX_CHAINS chains, or MAX_SEGS buffers carrying bytes, the frame
 *     is dropped (stat_drop_chain) and every chain it took completes with len 0;
 *   - the rest of the last chain (buffers past the frame's end) is taken and not written;
 *   - no chain (no segment from the walk at a chain's start): avail_req pulses at once and every RX_POLL
 *     cycles (the queue reads avail.idx: buffers the driver added without a kick are found), and after
 *     RX_WAIT cycles the frame is dropped (stat_drop_nobuf; chains it took complete with len 0).
 * Never written: past a buffer's length, or any buffer of a chain whose frame was dropped.
 *
 * Writer. Issues the ops of placed frames in order, the header's num_buffers filled in from the plan.
 * Release: a frame's completions leave, in ring order, once the write statuses of all its writes are in
 * (the used writer's element and used.idx writes then follow them on PCIe); its packet buffer is freed.
 *
 * run = 0: no write issued, no segment taken, no completion handed over (writes issued are counted back:
 * idle reports when none is owed); clear: back to the reset state (a frame arriving is dropped to its end).
 *
 * Fault knobs (test only, FAULT_ENABLE):
 *   fault_write_past  after each placed frame's data: a 1-byte write (0xEE) just past the end of the last
 *                     buffer that received bytes (sampled when the frame is placed)
 *   fault_used_len    each completion of a delivered frame carries len + 1 (sampled at the completion)
 *   fault_drop_silent a frame whose wire sequence number (good frames since the last clear) has bits
 *                     [1:0] = 3 is discarded at its last beat without any count (sampled at that beat)
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module virtq_rx_mover #
(
    parameter RAM_DATA_WIDTH = 256,
    // packet buffer bytes = 2**RAM_ADDR_WIDTH (at least two maximum frames)
    parameter RAM_ADDR_WIDTH = 14,
    parameter LEN_WIDTH = 16,
    // DMA tag bits this block owns (none is looked at: every status here is for this block)
    parameter TAG_WIDTH = 4,
    parameter AXIS_NET_DATA_WIDTH = 64,
    parameter AXIS_NET_KEEP_WIDTH = AXIS_NET_DATA_WIDTH/8,
    parameter MAX_FRAME_LEN = 1518,
    parameter MIN_FRAME_LEN = 14,
    // frames held in the packet buffer (power of 2)
    parameter FRAME_SLOTS = 16,
    // MRG_RXBUF: most chains per frame, most buffers carrying bytes per frame
    parameter MAX_CHAINS = 16,
    parameter MAX_SEGS = 32,
    // write ops queued (power of 2, at least 2*(MAX_SEGS + 4)), completions queued (power of 2)
    parameter OP_DEPTH = 128,
    parameter CPL_DEPTH = 32,
    // cycles a frame waits for a chain (and the wire for room) before it is dropped; avail.idx re-read period
    parameter RX_WAIT = 4096,
    parameter RX_POLL = 1024,
    parameter FAULT_ENABLE = 0,
    // derived, do not set
    parameter RAM_WORD_WIDTH = RAM_ADDR_WIDTH - $clog2(RAM_DATA_WIDTH/8)
)
(
    input  wire                             clk,
    input  wire                             rst,

    input  wire                             feat_mrg_rxbuf,
    input  wire                             feat_version_1,   // virtio 1.x: num_buffers always in the header
    input  wire                             run,
    input  wire                             clear,
    input  wire                             fault_write_past,   // test only
    input  wire                             fault_used_len,     // test only
    input  wire                             fault_drop_silent,  // test only

    /*
     * Wire side: frames in; tuser = 1 on the last beat marks a bad frame
     */
    input  wire [AXIS_NET_DATA_WIDTH-1:0]   s_axis_rx_tdata,
    input  wire [AXIS_NET_KEEP_WIDTH-1:0]   s_axis_rx_tkeep,
    input  wire                             s_axis_rx_tvalid,
    output wire                             s_axis_rx_tready,
    input  wire                             s_axis_rx_tlast,
    input  wire                             s_axis_rx_tuser,

    /*
     * Segments from the descriptor walk (device-writable buffers only: BUF_READ = 0)
     */
    input  wire [63:0]                      s_axis_seg_addr,
    input  wire [31:0]                      s_axis_seg_len,
    /* verilator lint_off UNUSEDSIGNAL */ // the walk passes device-writable buffers only
    input  wire                             s_axis_seg_write,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                             s_axis_seg_last,
    input  wire [15:0]                      s_axis_seg_head,
    input  wire                             s_axis_seg_valid,
    output wire                             s_axis_seg_ready,

    output wire                             avail_req,          // pulse: read avail.idx (no chain)

    /*
     * DMA write (header immediates, frame bytes from the packet buffer) and the RAM read port
     */
    output wire [63:0]                      m_axis_write_desc_pcie_addr,
    output wire [RAM_ADDR_WIDTH-1:0]        m_axis_write_desc_ram_addr,
    output wire [63:0]                      m_axis_write_desc_imm,
    output wire                             m_axis_write_desc_imm_en,
    output wire [LEN_WIDTH-1:0]             m_axis_write_desc_len,
    output wire [TAG_WIDTH-1:0]             m_axis_write_desc_tag,
    output wire                             m_axis_write_desc_valid,
    input  wire                             m_axis_write_desc_ready,
    input  wire [3:0]                       s_axis_write_desc_status_error,
    input  wire                             s_axis_write_desc_status_valid,

    input  wire                             ram_rd_en,
    input  wire [RAM_WORD_WIDTH-1:0]        ram_rd_addr,
    output wire [RAM_DATA_WIDTH-1:0]        ram_rd_data,

    /*
     * Completions to the used writer, in ring order; last marks a frame's final chain
     */
    output wire [15:0]                      m_axis_cpl_id,
    output wire [31:0]                      m_axis_cpl_len,
    output wire                             m_axis_cpl_last,
    output wire                             m_axis_cpl_valid,
    input  wire                             m_axis_cpl_ready,

    output wire                             err_valid,
    output wire [3:0]                       err_cause,
    output wire                             idle,       // no write owed or presented
    output wire                             busy,       // a frame held, a chain taken
    output wire                             more,       // a frame behind the one being completed (batching)
    output wire                             stat_frame,         // a frame delivered (its completions out)
    output wire [15:0]                      stat_frame_len,     // its bytes (with stat_frame)
    output wire                             stat_drop_nobuf,
    output wire                             stat_drop_chain,
    output wire                             stat_drop_oversize,
    output wire                             stat_drop_runt,
    output wire                             stat_drop_bad,
    output wire                             stat_drop_overrun,
    output wire                             stat_drop_stopped
);

localparam WORD_BYTES = RAM_DATA_WIDTH/8;
localparam BYTE_SHIFT = $clog2(WORD_BYTES);
localparam BUF_WORDS = 1 << RAM_WORD_WIDTH;
localparam UW = RAM_WORD_WIDTH + 1;                     // word counts up to BUF_WORDS
localparam MAX_PKT_WORDS = (MAX_FRAME_LEN + WORD_BYTES - 1) / WORD_BYTES;
localparam AXIS_BYTES = AXIS_NET_KEEP_WIDTH;
localparam AXIS_SHIFT = $clog2(AXIS_BYTES);
localparam LANES = WORD_BYTES / AXIS_BYTES;
localparam LANE_W = LANES > 1 ? $clog2(LANES) : 1;
localparam MAX_BEATS = MAX_PKT_WORDS * LANES;            // beats stored of one frame
localparam FW = $clog2(FRAME_SLOTS);
localparam OW = $clog2(OP_DEPTH);
localparam CW = $clog2(CPL_DEPTH);
localparam NCW = $clog2(MAX_CHAINS + 1);
localparam NSW = $clog2(MAX_SEGS + 1);
localparam WTW = $clog2(RX_WAIT + 2);

localparam [31:0] BUF_WORDS_32 = BUF_WORDS;
localparam [31:0] MAX_PKT_WORDS_32 = MAX_PKT_WORDS;
localparam [UW-1:0] BUF_WORDS_U = BUF_WORDS_32[UW-1:0];
localparam [UW-1:0] MAX_PKT_WORDS_U = MAX_PKT_WORDS_32[UW-1:0];
localparam [31:0] MAX_BEATS_32 = MAX_BEATS;
localparam [16:0] MAX_FRAME_17 = MAX_FRAME_LEN;
localparam [16:0] MIN_FRAME_17 = MIN_FRAME_LEN;
localparam [16:0] WORD_BYTES_17 = WORD_BYTES;
localparam [31:0] RX_WAIT_32 = RX_WAIT;
localparam [WTW-1:0] RX_WAIT_W = RX_WAIT_32[WTW-1:0];
localparam [31:0] MAX_CHAINS_32 = MAX_CHAINS;
localparam [31:0] MAX_SEGS_32 = MAX_SEGS;
localparam [NCW-1:0] MAX_CHAINS_N = MAX_CHAINS_32[NCW-1:0];
localparam [NSW-1:0] MAX_SEGS_N = MAX_SEGS_32[NSW-1:0];
localparam [31:0] OP_ROOM_32 = MAX_SEGS + 4;             // ops of one frame at most (data, header split, fault, end)
localparam [OW:0] OP_ROOM = OP_ROOM_32[OW:0];
localparam [31:0] OP_DEPTH_32 = OP_DEPTH;
localparam [OW:0] OP_DEPTH_O = OP_DEPTH_32[OW:0];
localparam [31:0] CPL_DEPTH_32 = CPL_DEPTH;
localparam [CW:0] CPL_DEPTH_C = CPL_DEPTH_32[CW:0];
localparam [31:0] FRAME_SLOTS_32 = FRAME_SLOTS;
localparam [FW:0] FRAME_SLOTS_F = FRAME_SLOTS_32[FW:0];
localparam [7:0] FAULT_PAST_VALUE = 8'hEE;

// write op kinds
localparam [1:0] OP_RAM = 2'd0, OP_HDR = 2'd1, OP_FAULT = 2'd2, OP_END = 2'd3;
// planner finish steps
localparam [1:0] FIN_NONE = 2'd0, FIN_FAULT = 2'd1, FIN_END = 2'd2;
// why the frame arriving on the wire is not stored
localparam [1:0] RX_STORE = 2'd0, RX_OVERRUN = 2'd1, RX_STOPPED = 2'd2;

localparam [3:0] ERR_DMA_WR = 4'd10;

initial begin
    if (WORD_BYTES < 8 || (WORD_BYTES & (WORD_BYTES - 1)) != 0 || RAM_DATA_WIDTH % AXIS_NET_DATA_WIDTH != 0
            || AXIS_NET_KEEP_WIDTH*8 != AXIS_NET_DATA_WIDTH) begin
        $error("Error: RAM_DATA_WIDTH 64..512, a multiple of AXIS_NET_DATA_WIDTH = 8*AXIS_NET_KEEP_WIDTH (instance %m)");
        $finish;
    end
    if (BUF_WORDS < 2*MAX_PKT_WORDS || (1 << LEN_WIDTH) <= MAX_FRAME_LEN + 12 || LEN_WIDTH > 16
            || MAX_FRAME_LEN + 12 >= 32768) begin
        $error("Error: the packet buffer must hold two maximum frames, LEN_WIDTH a frame (instance %m)");
        $finish;
    end
    if (FRAME_SLOTS < 2 || (FRAME_SLOTS & (FRAME_SLOTS - 1)) != 0 || (OP_DEPTH & (OP_DEPTH - 1)) != 0
            || OP_DEPTH < 2*(MAX_SEGS + 4) || (CPL_DEPTH & (CPL_DEPTH - 1)) != 0 || CPL_DEPTH < MAX_CHAINS
            || MAX_CHAINS < 1 || MAX_SEGS < MAX_CHAINS) begin
        $error("Error: FRAME_SLOTS, OP_DEPTH, CPL_DEPTH powers of 2; OP_DEPTH >= 2*(MAX_SEGS+4), CPL_DEPTH >= MAX_CHAINS <= MAX_SEGS (instance %m)");
        $finish;
    end
    if (MIN_FRAME_LEN < 1 || MIN_FRAME_LEN > MAX_FRAME_LEN || RX_WAIT < 1 || RX_POLL < 2
            || (RX_POLL & (RX_POLL - 1)) != 0) begin
        $error("Error: 1 <= MIN_FRAME_LEN <= MAX_FRAME_LEN, RX_WAIT >= 1, RX_POLL a power of 2 >= 2 (instance %m)");
        $finish;
    end
end

wire [15:0] hdr_len = (feat_mrg_rxbuf || feat_version_1) ? 16'd12 : 16'd10;

/*
 * Frame queue: written by the wire side, planned, written out, released (four positions, in order)
 */
reg  [RAM_WORD_WIDTH-1:0] fq_start [0:FRAME_SLOTS-1];
reg  [UW-1:0]   fq_words [0:FRAME_SLOTS-1];
reg  [15:0]     fq_len [0:FRAME_SLOTS-1];
reg  [NCW-1:0]  fq_nbuf [0:FRAME_SLOTS-1];          // chains taken (num_buffers when delivered)
reg             fq_drop [0:FRAME_SLOTS-1];          // the plan dropped it: completions with len 0
reg  [15:0]     fq_mark [0:FRAME_SLOTS-1];          // writes issued once its last write was issued
reg  [FW:0]     fq_wr_reg, fq_wr_next;
reg  [FW:0]     fq_pl_reg, fq_pl_next;
reg  [FW:0]     fq_wf_reg, fq_wf_next;
reg  [FW:0]     fq_rd_reg, fq_rd_next;
// a frame's fate already counted (dropped by the planner: no buffer, too long for its chains); at clear the
// frames held and not yet counted are counted as stopped, one a cycle (cut_reg of them left; a clear adds its
// frames to those an earlier clear left: the queue control may clear twice a few cycles apart)
reg  [FRAME_SLOTS-1:0] fq_counted_reg, fq_counted_next;
reg  [FW:0]     uncounted_reg, uncounted_next;     // frames held whose fate no counter has seen yet
reg  [FW+1:0]   cut_reg, cut_next;
reg             unc_inc, unc_dec_plan, unc_dec_rel;

/*
 * Wire side
 */
reg             rx_in_frame_reg, rx_in_frame_next;
reg  [1:0]      rx_mode_reg, rx_mode_next;
reg  [15:0]     rx_len_reg, rx_len_next;            // bytes so far (saturating)
reg  [RAM_WORD_WIDTH-1:0] rx_start_reg, rx_start_next;
reg  [UW-1:0]   rx_skip_reg, rx_skip_next;
reg  [1:0]      rx_seq_reg, rx_seq_next;            // test only (DROP_SILENT)
reg  [WTW-1:0]  stall_reg, stall_next;
reg  [RAM_WORD_WIDTH-1:0] alloc_ptr_reg, alloc_ptr_next;
reg  [UW-1:0]   used_words_reg, used_words_next;
reg             room_reg, room_next;                // a maximum frame and a frame slot free (registered)
reg             run_q_reg;                          // run, a cycle late: tready from registers only

/*
 * Planner
 */
reg             pl_active_reg, pl_active_next;      // a frame is being placed
reg             pl_in_chain_reg, pl_in_chain_next;  // a segment of the current chain was taken
reg  [15:0]     pl_done_reg, pl_done_next;          // stream bytes placed (header included)
reg  [15:0]     pl_chain_bytes_reg, pl_chain_bytes_next;
reg  [NCW-1:0]  pl_chains_reg, pl_chains_next;      // chains finished
reg  [NSW-1:0]  pl_segs_reg, pl_segs_next;          // buffers carrying bytes
reg             pl_drop_reg, pl_drop_next;          // the frame is dropped: take the chain to its end
reg  [31:0]     pl_seg_off_reg, pl_seg_off_next;    // bytes of the current segment already placed
reg  [WTW-1:0]  pl_wait_reg, pl_wait_next;
reg  [63:0]     pl_last_end_reg, pl_last_end_next;  // test only: end of the last buffer written
reg  [1:0]      pl_fin_reg, pl_fin_next;
reg             pl_fin_drop_reg, pl_fin_drop_next;
reg  [NCW-1:0]  pl_fin_nbuf_reg, pl_fin_nbuf_next;

/*
 * Write ops (tentative up to op_wt, committed up to op_wc) and completions
 */
reg  [63:0]     op_addr [0:OP_DEPTH-1];
reg  [LEN_WIDTH-1:0] op_len [0:OP_DEPTH-1];
reg  [1:0]      op_kind [0:OP_DEPTH-1];
reg  [RAM_ADDR_WIDTH-1:0] op_ram [0:OP_DEPTH-1];    // OP_RAM: packet buffer byte; OP_HDR: header byte
reg  [OW:0]     op_wt_reg, op_wt_next;
reg  [OW:0]     op_wc_reg, op_wc_next;
reg  [OW:0]     op_rd_reg, op_rd_next;

reg  [15:0]     cplq_head [0:CPL_DEPTH-1];
reg  [15:0]     cplq_len [0:CPL_DEPTH-1];
reg  [CW:0]     cplq_wr_reg, cplq_wr_next;
reg  [CW:0]     cplq_rd_reg, cplq_rd_next;
reg  [NCW-1:0]  rel_k_reg, rel_k_next;              // completions of the oldest frame handed over

/*
 * Writer
 */
reg  [63:0]     wr_addr_reg, wr_addr_next;
reg  [RAM_ADDR_WIDTH-1:0] wr_ram_reg, wr_ram_next;
reg  [63:0]     wr_imm_reg, wr_imm_next;
reg             wr_imm_en_reg, wr_imm_en_next;
reg  [LEN_WIDTH-1:0] wr_len_reg, wr_len_next;
reg             wr_valid_reg, wr_valid_next;
reg  [15:0]     wr_issued_reg, wr_issued_next;
reg  [15:0]     wr_done_reg, wr_done_next;

reg             avail_req_reg, avail_req_next;
reg             err_valid_reg, err_valid_next;
reg             stat_frame_reg, stat_frame_next;
reg  [15:0]     stat_frame_len_reg, stat_frame_len_next;
reg             stat_drop_nobuf_reg, stat_drop_nobuf_next;
reg             stat_drop_chain_reg, stat_drop_chain_next;
reg             stat_drop_oversize_reg, stat_drop_oversize_next;
reg             stat_drop_runt_reg, stat_drop_runt_next;
reg             stat_drop_bad_reg, stat_drop_bad_next;
reg             stat_drop_overrun_reg, stat_drop_overrun_next;
reg             stat_drop_stopped_reg, stat_drop_stopped_next;

// per-cycle
reg             rx_ready;
reg             rx_beat;
reg             ram_wr_en;
reg  [RAM_WORD_WIDTH-1:0] ram_wr_addr;
reg  [WORD_BYTES-1:0] ram_wr_be;
reg  [RAM_WORD_WIDTH-1:0] start_c;
reg  [UW-1:0]   skip_c;
reg             can_open;
reg  [15:0]     len_before;
reg  [16:0]     len_after;
reg  [AXIS_SHIFT:0] beat_bytes;
reg  [RAM_WORD_WIDTH-1:0] beat_start;
reg  [1:0]      beat_mode;
reg             fq_push;
reg  [UW-1:0]   push_words;
/* verilator lint_off UNUSEDSIGNAL */ // at most MAX_PKT_WORDS
reg  [16:0]     frame_words;
/* verilator lint_on UNUSEDSIGNAL */
reg  [UW-1:0]   free_words;

reg             seg_ready;
reg             op_push;
reg  [63:0]     op_push_addr;
reg  [15:0]     op_push_len;
reg  [1:0]      op_push_kind;
reg  [RAM_ADDR_WIDTH-1:0] op_push_ram;
reg             cplq_push;
reg  [15:0]     cplq_push_len;
reg             fq_info;                            // the plan's result into fq[fq_pl]
reg  [31:0]     rem;
reg  [31:0]     seg_off_cur;
reg  [15:0]     region_left;
reg  [15:0]     piece;
reg  [1:0]      piece_kind;
reg             consumed;
reg  [15:0]     done_after;
reg  [15:0]     chain_after;
reg  [NCW-1:0]  chains_after;
reg             start_frame;

integer i;

wire [FW-1:0] fq_wr_i = fq_wr_reg[FW-1:0];
wire [FW-1:0] fq_pl_i = fq_pl_reg[FW-1:0];
wire [FW-1:0] fq_wf_i = fq_wf_reg[FW-1:0];
wire [FW-1:0] fq_rd_i = fq_rd_reg[FW-1:0];
wire [FW:0] fq_cnt = fq_wr_reg - fq_rd_reg;
wire frame_to_plan = fq_wr_reg != fq_pl_reg;
wire [OW:0] op_used = op_wt_reg - op_rd_reg;
wire [CW:0] cplq_used = cplq_wr_reg - cplq_rd_reg;
wire wr_free = !wr_valid_reg || m_axis_write_desc_ready;
/* verilator lint_off WIDTHEXPAND */
wire poll_due = pl_wait_reg % RX_POLL == 0;     // RX_POLL a power of 2: the low bits
/* verilator lint_on WIDTHEXPAND */

// the oldest frame: written out, and its writes seen (done >= mark, 16-bit serial compare)
/* verilator lint_off UNUSEDSIGNAL */ // the sign bit is the comparison
wire [15:0] rel_since = wr_done_reg - fq_mark[fq_rd_i];
/* verilator lint_on UNUSEDSIGNAL */
wire rel_ready = fq_wf_reg != fq_rd_reg && !rel_since[15];
wire [NCW-1:0] rel_nbuf = fq_nbuf[fq_rd_i];
wire rel_drop = fq_drop[fq_rd_i];
wire rel_last = rel_k_reg + 1'b1 == rel_nbuf;
/* verilator lint_off UNUSEDSIGNAL */ // read only with FAULT_ENABLE
wire knob_used_len = FAULT_ENABLE != 0 && fault_used_len;
/* verilator lint_on UNUSEDSIGNAL */

// the writer's op
wire [OW-1:0] op_rd_i = op_rd_reg[OW-1:0];
wire [1:0] cur_kind = op_kind[op_rd_i];
wire [NCW-1:0] cur_nbuf = fq_nbuf[fq_wf_i];
wire [127:0] hdr_bytes = {32'd0, {{16-NCW{1'b0}}, cur_nbuf}, 80'd0};     // bytes 10-11: num_buffers
/* verilator lint_off UNUSEDSIGNAL */ // an immediate is 8 bytes
wire [127:0] hdr_shift = hdr_bytes >> {op_ram[op_rd_i][3:0], 3'b000};
/* verilator lint_on UNUSEDSIGNAL */

dma_ram #(
    .DATA_WIDTH(RAM_DATA_WIDTH),
    .ADDR_WIDTH(RAM_WORD_WIDTH)
)
ram_inst (
    .clk(clk),
    .wr_en(ram_wr_en),
    .wr_addr(ram_wr_addr),
    .wr_be(ram_wr_be),
    .wr_data({LANES{s_axis_rx_tdata}}),
    .rd_en(ram_rd_en),
    .rd_addr(ram_rd_addr),
    .rd_data(ram_rd_data)
);

// the beat's byte enables in its lane of the RAM word
wire [WORD_BYTES-1:0] beat_be;
generate
    if (LANES > 1) begin : g_lanes
        assign beat_be = {{WORD_BYTES-AXIS_BYTES{1'b0}}, s_axis_rx_tkeep}
            << {len_before[LANE_W+AXIS_SHIFT-1:AXIS_SHIFT], {AXIS_SHIFT{1'b0}}};
    end else begin : g_one_lane
        assign beat_be = s_axis_rx_tkeep;
    end
endgenerate

assign s_axis_rx_tready = rx_ready;
assign s_axis_seg_ready = seg_ready;
assign avail_req = avail_req_reg;

assign m_axis_write_desc_pcie_addr = wr_addr_reg;
assign m_axis_write_desc_ram_addr = wr_ram_reg;
assign m_axis_write_desc_imm = wr_imm_reg;
assign m_axis_write_desc_imm_en = wr_imm_en_reg;
assign m_axis_write_desc_len = wr_len_reg;
assign m_axis_write_desc_tag = {TAG_WIDTH{1'b0}};
assign m_axis_write_desc_valid = wr_valid_reg;

assign m_axis_cpl_id = cplq_head[cplq_rd_reg[CW-1:0]];
assign m_axis_cpl_len = rel_drop ? 32'd0 : {16'd0, cplq_len[cplq_rd_reg[CW-1:0]] + {15'd0, knob_used_len}};
assign m_axis_cpl_last = rel_last;
assign m_axis_cpl_valid = run && rel_ready && rel_nbuf != {NCW{1'b0}};

assign err_valid = err_valid_reg;
assign err_cause = ERR_DMA_WR;
assign idle = wr_issued_reg == wr_done_reg && !wr_valid_reg;
assign busy = fq_cnt != {FW+1{1'b0}} || pl_active_reg || pl_in_chain_reg;
assign more = fq_cnt > {{FW{1'b0}}, 1'b1} || (rx_in_frame_reg && rx_mode_reg == RX_STORE);
assign stat_frame = stat_frame_reg;
assign stat_frame_len = stat_frame_len_reg;
assign stat_drop_nobuf = stat_drop_nobuf_reg;
assign stat_drop_chain = stat_drop_chain_reg;
assign stat_drop_oversize = stat_drop_oversize_reg;
assign stat_drop_runt = stat_drop_runt_reg;
assign stat_drop_bad = stat_drop_bad_reg;
assign stat_drop_overrun = stat_drop_overrun_reg;
assign stat_drop_stopped = stat_drop_stopped_reg;

always @* begin
    fq_wr_next = fq_wr_reg;
    fq_pl_next = fq_pl_reg;
    fq_wf_next = fq_wf_reg;
    fq_rd_next = fq_rd_reg;
    fq_counted_next = fq_counted_reg;
    uncounted_next = uncounted_reg;
    cut_next = cut_reg;
    unc_inc = 1'b0;
    unc_dec_plan = 1'b0;
    unc_dec_rel = 1'b0;
    rx_in_frame_next = rx_in_frame_reg;
    rx_mode_next = rx_mode_reg;
    rx_len_next = rx_len_reg;
    rx_start_next = rx_start_reg;
    rx_skip_next = rx_skip_reg;
    rx_seq_next = rx_seq_reg;
    stall_next = stall_reg;
    alloc_ptr_next = alloc_ptr_reg;
    used_words_next = used_words_reg;
    pl_active_next = pl_active_reg;
    pl_in_chain_next = pl_in_chain_reg;
    pl_done_next = pl_done_reg;
    pl_chain_bytes_next = pl_chain_bytes_reg;
    pl_chains_next = pl_chains_reg;
    pl_segs_next = pl_segs_reg;
    pl_drop_next = pl_drop_reg;
    pl_seg_off_next = pl_seg_off_reg;
    pl_wait_next = pl_wait_reg;
    pl_last_end_next = pl_last_end_reg;
    pl_fin_next = pl_fin_reg;
    pl_fin_drop_next = pl_fin_drop_reg;
    pl_fin_nbuf_next = pl_fin_nbuf_reg;
    op_wt_next = op_wt_reg;
    op_wc_next = op_wc_reg;
    op_rd_next = op_rd_reg;
    cplq_wr_next = cplq_wr_reg;
    cplq_rd_next = cplq_rd_reg;
    rel_k_next = rel_k_reg;
    wr_addr_next = wr_addr_reg;
    wr_ram_next = wr_ram_reg;
    wr_imm_next = wr_imm_reg;
    wr_imm_en_next = wr_imm_en_reg;
    wr_len_next = wr_len_reg;
    wr_valid_next = wr_valid_reg && !m_axis_write_desc_ready;
    wr_issued_next = wr_issued_reg;
    wr_done_next = wr_done_reg + {15'd0, s_axis_write_desc_status_valid};
    avail_req_next = 1'b0;
    err_valid_next = 1'b0;
    stat_frame_next = 1'b0;
    stat_frame_len_next = stat_frame_len_reg;
    stat_drop_nobuf_next = 1'b0;
    stat_drop_chain_next = 1'b0;
    stat_drop_oversize_next = 1'b0;
    stat_drop_runt_next = 1'b0;
    stat_drop_bad_next = 1'b0;
    stat_drop_overrun_next = 1'b0;
    stat_drop_stopped_next = 1'b0;

    rx_ready = 1'b0;
    rx_beat = 1'b0;
    ram_wr_en = 1'b0;
    ram_wr_addr = {RAM_WORD_WIDTH{1'b0}};
    ram_wr_be = {WORD_BYTES{1'b0}};
    fq_push = 1'b0;
    push_words = {UW{1'b0}};
    frame_words = 17'd0;
    free_words = {UW{1'b0}};
    seg_ready = 1'b0;
    op_push = 1'b0;
    op_push_addr = s_axis_seg_addr;
    op_push_len = 16'd0;
    op_push_kind = OP_RAM;
    op_push_ram = {RAM_ADDR_WIDTH{1'b0}};
    cplq_push = 1'b0;
    cplq_push_len = 16'd0;
    fq_info = 1'b0;
    rem = 32'd0;
    seg_off_cur = 32'd0;
    region_left = 16'd0;
    piece = 16'd0;
    piece_kind = OP_RAM;
    consumed = 1'b0;
    done_after = pl_done_reg;
    chain_after = pl_chain_bytes_reg;
    chains_after = pl_chains_reg;
    start_frame = 1'b0;

    if (s_axis_write_desc_status_valid && s_axis_write_desc_status_error != 4'd0 && run) begin
        err_valid_next = 1'b1;
    end

    // -- wire side: a beat per cycle into the packet buffer ------------------------------------------------
    if (BUF_WORDS_U - {1'b0, alloc_ptr_reg} < MAX_PKT_WORDS_U) begin
        skip_c = BUF_WORDS_U - {1'b0, alloc_ptr_reg};
        start_c = {RAM_WORD_WIDTH{1'b0}};
    end else begin
        skip_c = {UW{1'b0}};
        start_c = alloc_ptr_reg;
    end
    can_open = room_reg;

    // held only between frames, while there is no room, for at most RX_WAIT cycles (a beat taken while
    // the queue starts, before run_q follows, finds can_open or is dropped as an overrun: never stored
    // without room)
    rx_ready = rx_in_frame_reg || !run_q_reg || can_open || stall_reg >= RX_WAIT_W;
    rx_beat = s_axis_rx_tvalid && rx_ready;
    if (s_axis_rx_tvalid && !rx_ready) begin
        stall_next = stall_reg + 1'b1;
    end

    beat_bytes = {(AXIS_SHIFT+1){1'b0}};
    for (i = 0; i < AXIS_BYTES; i = i + 1) begin
        beat_bytes = beat_bytes + {{AXIS_SHIFT{1'b0}}, s_axis_rx_tkeep[i]};
    end
    len_before = rx_in_frame_reg ? rx_len_reg : 16'd0;
    len_after = {1'b0, len_before} + {{16-AXIS_SHIFT{1'b0}}, beat_bytes};
    beat_start = rx_in_frame_reg ? rx_start_reg : start_c;
    beat_mode = rx_in_frame_reg ? rx_mode_reg : (!run ? RX_STOPPED : can_open ? RX_STORE : RX_OVERRUN);

    if (rx_beat) begin
        stall_next = {WTW{1'b0}};
        if (!rx_in_frame_reg) begin
            rx_start_next = start_c;
            rx_skip_next = skip_c;
        end
        rx_mode_next = beat_mode;
        rx_len_next = len_after[16] ? 16'hFFFF : len_after[15:0];
        // store the beat while it is inside the frame's reservation
        if (beat_mode == RX_STORE && {16'd0, len_before >> AXIS_SHIFT} < MAX_BEATS_32) begin
            ram_wr_en = 1'b1;
            ram_wr_addr = beat_start + len_before[RAM_WORD_WIDTH+BYTE_SHIFT-1:BYTE_SHIFT];
            ram_wr_be = beat_be;
        end
        rx_in_frame_next = !s_axis_rx_tlast;
        if (s_axis_rx_tlast) begin
            if (beat_mode == RX_OVERRUN) begin
                stat_drop_overrun_next = 1'b1;
            end else if (beat_mode == RX_STOPPED || !run) begin
                stat_drop_stopped_next = 1'b1;
            end else if (s_axis_rx_tuser) begin
                stat_drop_bad_next = 1'b1;
            end else if (len_after > MAX_FRAME_17) begin
                stat_drop_oversize_next = 1'b1;
            end else if (len_after < MIN_FRAME_17) begin
                stat_drop_runt_next = 1'b1;
            end else begin
                rx_seq_next = rx_seq_reg + 2'd1;
                if (!(FAULT_ENABLE != 0 && fault_drop_silent && rx_seq_reg == 2'd3)) begin
                    fq_push = 1'b1;
                    frame_words = (len_after + WORD_BYTES_17 - 17'd1) >> BYTE_SHIFT;
                    push_words = (rx_in_frame_reg ? rx_skip_reg : skip_c) + frame_words[UW-1:0];
                    alloc_ptr_next = beat_start + frame_words[RAM_WORD_WIDTH-1:0];
                    used_words_next = used_words_reg + push_words;
                    fq_wr_next = fq_wr_reg + 1'b1;
                    fq_counted_next[fq_wr_i] = 1'b0;
                    unc_inc = 1'b1;
                end
            end
        end
    end

    // -- planner: the oldest unplanned frame into the next chains' buffers, one op per cycle -------------
    if (pl_fin_reg == FIN_FAULT) begin
        // test only (WRITE_PAST): one byte just past the last buffer written
        op_push = 1'b1;
        op_push_addr = pl_last_end_reg;
        op_push_len = 16'd1;
        op_push_kind = OP_FAULT;
        pl_fin_next = FIN_END;
    end else if (pl_fin_reg == FIN_END) begin
        // the frame's end marker; its ops become visible to the writer
        op_push = 1'b1;
        op_push_len = 16'd0;
        op_push_kind = OP_END;
        op_wc_next = op_wt_reg + 1'b1;
        fq_info = 1'b1;
        fq_pl_next = fq_pl_reg + 1'b1;
        pl_fin_next = FIN_NONE;
        pl_active_next = 1'b0;
    end else if (run && frame_to_plan && (pl_active_reg || OP_DEPTH_O - op_used >= OP_ROOM)) begin
        start_frame = !pl_active_reg;
        if (start_frame) begin
            pl_active_next = 1'b1;
            pl_in_chain_next = 1'b0;
            pl_done_next = 16'd0;
            pl_chain_bytes_next = 16'd0;
            pl_chains_next = {NCW{1'b0}};
            pl_segs_next = {NSW{1'b0}};
            pl_drop_next = 1'b0;
            pl_seg_off_next = 32'd0;
            pl_wait_next = {WTW{1'b0}};
        end
        if (!pl_in_chain_reg && !s_axis_seg_valid) begin
            // no chain: ask for avail.idx now and every RX_POLL cycles; drop the frame after RX_WAIT
            pl_wait_next = (start_frame ? {WTW{1'b0}} : pl_wait_reg) + 1'b1;
            if (start_frame || poll_due) begin
                avail_req_next = 1'b1;
            end
            if (!start_frame && pl_wait_reg >= RX_WAIT_W) begin
                stat_drop_nobuf_next = 1'b1;
                fq_counted_next[fq_pl_i] = 1'b1;
                unc_dec_plan = 1'b1;
                op_wt_next = op_wc_reg;
                pl_fin_drop_next = 1'b1;
                pl_fin_nbuf_next = pl_chains_reg;
                pl_fin_next = FIN_END;
            end
        end else if (s_axis_seg_valid && (!s_axis_seg_last || cplq_used != CPL_DEPTH_C)) begin
            if (start_frame || !pl_in_chain_reg) begin
                pl_wait_next = {WTW{1'b0}};
            end
            // the segment: the bytes of it not yet placed
            seg_off_cur = start_frame ? 32'd0 : pl_seg_off_reg;
            rem = s_axis_seg_len - seg_off_cur;
            done_after = start_frame ? 16'd0 : pl_done_reg;
            chain_after = (start_frame || !pl_in_chain_reg) ? 16'd0 : pl_chain_bytes_reg;
            if (!(start_frame ? 1'b0 : pl_drop_reg) && done_after < hdr_len + fq_len[fq_pl_i] && rem != 32'd0) begin
                if (!start_frame && seg_off_cur == 32'd0 && pl_segs_reg == MAX_SEGS_N) begin
                    // one buffer more than a frame may take: drop it, take the chain to its end
                    pl_drop_next = 1'b1;
                    consumed = 1'b1;
                end else begin
                    if (seg_off_cur == 32'd0) begin
                        pl_segs_next = (start_frame ? {NSW{1'b0}} : pl_segs_reg) + 1'b1;
                    end
                    if (done_after < 16'd8) begin
                        region_left = 16'd8 - done_after;
                        piece_kind = OP_HDR;
                    end else if (done_after < hdr_len) begin
                        region_left = hdr_len - done_after;
                        piece_kind = OP_HDR;
                    end else begin
                        region_left = hdr_len + fq_len[fq_pl_i] - done_after;
                        piece_kind = OP_RAM;
                    end
                    piece = (rem < {16'd0, region_left}) ? rem[15:0] : region_left;
                    op_push = 1'b1;
                    op_push_addr = s_axis_seg_addr + {32'd0, s_axis_seg_len - rem};
                    op_push_len = piece;
                    op_push_kind = piece_kind;
                    if (piece_kind == OP_HDR) begin
                        op_push_ram = done_after[RAM_ADDR_WIDTH-1:0];
                    end else begin
                        op_push_ram = {fq_start[fq_pl_i], {BYTE_SHIFT{1'b0}}}
                            + done_after[RAM_ADDR_WIDTH-1:0] - hdr_len[RAM_ADDR_WIDTH-1:0];
                    end
                    pl_last_end_next = s_axis_seg_addr + {32'd0, s_axis_seg_len};
                    done_after = done_after + piece;
                    chain_after = chain_after + piece;
                    consumed = {16'd0, piece} == rem;
                    pl_seg_off_next = seg_off_cur + {16'd0, piece};
                end
            end else begin
                // nothing to place here: an empty buffer, the rest of the chain, or a dropped frame's
                consumed = 1'b1;
            end
            pl_done_next = done_after;
            pl_chain_bytes_next = chain_after;
            pl_in_chain_next = !(consumed && s_axis_seg_last);
            if (consumed) begin
                seg_ready = 1'b1;
                pl_seg_off_next = 32'd0;
                if (s_axis_seg_last) begin
                    // the chain's end: its completion, then the frame goes on, is placed or is dropped
                    chains_after = (start_frame ? {NCW{1'b0}} : pl_chains_reg) + 1'b1;
                    pl_chains_next = chains_after;
                    pl_chain_bytes_next = 16'd0;
                    cplq_push = 1'b1;
                    cplq_push_len = chain_after;
                    if (pl_drop_next) begin
                        stat_drop_chain_next = 1'b1;
                        fq_counted_next[fq_pl_i] = 1'b1;
                        unc_dec_plan = 1'b1;
                        op_push = 1'b0;
                        op_wt_next = op_wc_reg;
                        pl_fin_drop_next = 1'b1;
                        pl_fin_nbuf_next = chains_after;
                        pl_fin_next = FIN_END;
                    end else if (done_after == hdr_len + fq_len[fq_pl_i]) begin
                        pl_fin_drop_next = 1'b0;
                        pl_fin_nbuf_next = chains_after;
                        pl_fin_next = (FAULT_ENABLE != 0 && fault_write_past) ? FIN_FAULT : FIN_END;
                    end else if (!feat_mrg_rxbuf || chains_after == MAX_CHAINS_N) begin
                        // too long for the chain (or for MAX_CHAINS chains)
                        stat_drop_chain_next = 1'b1;
                        fq_counted_next[fq_pl_i] = 1'b1;
                        unc_dec_plan = 1'b1;
                        op_push = 1'b0;
                        op_wt_next = op_wc_reg;
                        pl_fin_drop_next = 1'b1;
                        pl_fin_nbuf_next = chains_after;
                        pl_fin_next = FIN_END;
                    end
                end
            end
        end
    end

    // -- writer: committed ops in order ----------------------------------------------------------------
    if (run && op_rd_reg != op_wc_reg) begin
        if (cur_kind == OP_END) begin
            op_rd_next = op_rd_reg + 1'b1;
            fq_wf_next = fq_wf_reg + 1'b1;
        end else if (wr_free) begin
            op_rd_next = op_rd_reg + 1'b1;
            wr_addr_next = op_addr[op_rd_i];
            wr_len_next = op_len[op_rd_i];
            wr_ram_next = op_ram[op_rd_i];
            wr_imm_en_next = cur_kind != OP_RAM;
            wr_imm_next = (cur_kind == OP_FAULT) ? {56'd0, FAULT_PAST_VALUE} : hdr_shift[63:0];
            wr_valid_next = 1'b1;
            wr_issued_next = wr_issued_reg + 16'd1;
        end
    end

    // -- release: the oldest written frame's completions, then its packet buffer -------------------------
    if (rel_ready && run) begin
        if (rel_nbuf == {NCW{1'b0}}) begin
            fq_rd_next = fq_rd_reg + 1'b1;
            free_words = fq_words[fq_rd_i];
            unc_dec_rel = !fq_counted_reg[fq_rd_i];
        end else if (m_axis_cpl_ready) begin
            cplq_rd_next = cplq_rd_reg + 1'b1;
            rel_k_next = rel_k_reg + 1'b1;
            if (rel_last) begin
                rel_k_next = {NCW{1'b0}};
                fq_rd_next = fq_rd_reg + 1'b1;
                free_words = fq_words[fq_rd_i];
                stat_frame_next = !rel_drop;
                stat_frame_len_next = fq_len[fq_rd_i];
                unc_dec_rel = !fq_counted_reg[fq_rd_i];
            end
        end
    end
    used_words_next = used_words_next - free_words;

    if (op_push) begin
        op_wt_next = op_wt_next + 1'b1;
    end
    if (cplq_push) begin
        cplq_wr_next = cplq_wr_reg + 1'b1;
    end

    if (clear) begin
        // the frames held and not published are lost with the reset: each counted once, as stopped (after
        // those of an earlier clear still being counted)
        cut_next = cut_reg + {1'b0, uncounted_reg};
        fq_wr_next = {FW+1{1'b0}};
        fq_pl_next = {FW+1{1'b0}};
        fq_wf_next = {FW+1{1'b0}};
        fq_rd_next = {FW+1{1'b0}};
        rx_mode_next = RX_STOPPED;          // a frame arriving is dropped to its end
        rx_seq_next = 2'd0;
        alloc_ptr_next = {RAM_WORD_WIDTH{1'b0}};
        used_words_next = {UW{1'b0}};
        pl_active_next = 1'b0;
        pl_in_chain_next = 1'b0;
        pl_fin_next = FIN_NONE;
        op_wt_next = {OW+1{1'b0}};
        op_wc_next = {OW+1{1'b0}};
        op_rd_next = {OW+1{1'b0}};
        cplq_wr_next = {CW+1{1'b0}};
        cplq_rd_next = {CW+1{1'b0}};
        rel_k_next = {NCW{1'b0}};
        wr_valid_next = 1'b0;
        wr_issued_next = 16'd0;
        wr_done_next = 16'd0;
    end

    // frames held and not yet counted: +1 stored, -1 dropped by the planner (counted) or released
    // (published, counted as a frame); a clear hands them to cut_reg
    if (clear) begin
        uncounted_next = {FW+1{1'b0}};
    end else begin
        uncounted_next = uncounted_reg + {{FW{1'b0}}, unc_inc} - {{FW{1'b0}}, unc_dec_plan}
            - {{FW{1'b0}}, unc_dec_rel};
    end

    // frames lost with a reset: one stopped count a cycle, in the cycles the wire side counts nothing
    if (!clear && cut_reg != {FW+2{1'b0}} && !stat_drop_stopped_next) begin
        stat_drop_stopped_next = 1'b1;
        cut_next = cut_reg - 1'b1;
    end

    // room for the next frame, from the next state: tready comes from a register, not through the adders
    if (BUF_WORDS_U - {1'b0, alloc_ptr_next} < MAX_PKT_WORDS_U) begin
        room_next = fq_wr_next - fq_rd_next != FRAME_SLOTS_F
            && used_words_next + BUF_WORDS_U - {1'b0, alloc_ptr_next} + MAX_PKT_WORDS_U <= BUF_WORDS_U;
    end else begin
        room_next = fq_wr_next - fq_rd_next != FRAME_SLOTS_F && used_words_next + MAX_PKT_WORDS_U <= BUF_WORDS_U;
    end
end

always @(posedge clk) begin
    fq_wr_reg <= fq_wr_next;
    fq_pl_reg <= fq_pl_next;
    fq_wf_reg <= fq_wf_next;
    fq_rd_reg <= fq_rd_next;
    rx_in_frame_reg <= rx_in_frame_next;
    rx_mode_reg <= rx_mode_next;
    rx_len_reg <= rx_len_next;
    rx_start_reg <= rx_start_next;
    rx_skip_reg <= rx_skip_next;
    rx_seq_reg <= rx_seq_next;
    stall_reg <= stall_next;
    alloc_ptr_reg <= alloc_ptr_next;
    used_words_reg <= used_words_next;
    room_reg <= room_next;
    run_q_reg <= run;
    pl_active_reg <= pl_active_next;
    pl_in_chain_reg <= pl_in_chain_next;
    pl_done_reg <= pl_done_next;
    pl_chain_bytes_reg <= pl_chain_bytes_next;
    pl_chains_reg <= pl_chains_next;
    pl_segs_reg <= pl_segs_next;
    pl_drop_reg <= pl_drop_next;
    pl_seg_off_reg <= pl_seg_off_next;
    pl_wait_reg <= pl_wait_next;
    pl_last_end_reg <= pl_last_end_next;
    pl_fin_reg <= pl_fin_next;
    pl_fin_drop_reg <= pl_fin_drop_next;
    pl_fin_nbuf_reg <= pl_fin_nbuf_next;
    op_wt_reg <= op_wt_next;
    op_wc_reg <= op_wc_next;
    op_rd_reg <= op_rd_next;
    cplq_wr_reg <= cplq_wr_next;
    cplq_rd_reg <= cplq_rd_next;
    rel_k_reg <= rel_k_next;
    wr_addr_reg <= wr_addr_next;
    wr_ram_reg <= wr_ram_next;
    wr_imm_reg <= wr_imm_next;
    wr_imm_en_reg <= wr_imm_en_next;
    wr_len_reg <= wr_len_next;
    wr_valid_reg <= wr_valid_next;
    wr_issued_reg <= wr_issued_next;
    wr_done_reg <= wr_done_next;
    avail_req_reg <= avail_req_next;
    err_valid_reg <= err_valid_next;
    stat_frame_reg <= stat_frame_next;
    stat_frame_len_reg <= stat_frame_len_next;
    stat_drop_nobuf_reg <= stat_drop_nobuf_next;
    stat_drop_chain_reg <= stat_drop_chain_next;
    fq_counted_reg <= fq_counted_next;
    uncounted_reg <= uncounted_next;
    cut_reg <= cut_next;
    stat_drop_oversize_reg <= stat_drop_oversize_next;
    stat_drop_runt_reg <= stat_drop_runt_next;
    stat_drop_bad_reg <= stat_drop_bad_next;
    stat_drop_overrun_reg <= stat_drop_overrun_next;
    stat_drop_stopped_reg <= stat_drop_stopped_next;

    // queue storage (not reset: written before it is read)
    if (fq_push) begin
        fq_start[fq_wr_i] <= beat_start;
        fq_words[fq_wr_i] <= push_words;
        fq_len[fq_wr_i] <= len_after[15:0];
    end
    if (fq_info) begin
        fq_nbuf[fq_pl_i] <= pl_fin_nbuf_reg;
        fq_drop[fq_pl_i] <= pl_fin_drop_reg;
    end
    if (run && op_rd_reg != op_wc_reg && cur_kind == OP_END) begin
        fq_mark[fq_wf_i] <= wr_issued_reg;
    end
    if (op_push) begin
        op_addr[op_wt_reg[OW-1:0]] <= op_push_addr;
        op_len[op_wt_reg[OW-1:0]] <= op_push_len[LEN_WIDTH-1:0];
        op_kind[op_wt_reg[OW-1:0]] <= op_push_kind;
        op_ram[op_wt_reg[OW-1:0]] <= op_push_ram;
    end
    if (cplq_push) begin
        cplq_head[cplq_wr_reg[CW-1:0]] <= s_axis_seg_head;
        cplq_len[cplq_wr_reg[CW-1:0]] <= cplq_push_len;
    end

    if (rst) begin
        fq_wr_reg <= {FW+1{1'b0}};
        fq_pl_reg <= {FW+1{1'b0}};
        fq_wf_reg <= {FW+1{1'b0}};
        fq_rd_reg <= {FW+1{1'b0}};
        rx_in_frame_reg <= 1'b0;
        rx_mode_reg <= RX_STORE;
        rx_len_reg <= 16'd0;
        rx_seq_reg <= 2'd0;
        stall_reg <= {WTW{1'b0}};
        alloc_ptr_reg <= {RAM_WORD_WIDTH{1'b0}};
        used_words_reg <= {UW{1'b0}};
        room_reg <= 1'b1;
        run_q_reg <= 1'b0;
        pl_active_reg <= 1'b0;
        pl_in_chain_reg <= 1'b0;
        pl_drop_reg <= 1'b0;
        pl_seg_off_reg <= 32'd0;
        pl_wait_reg <= {WTW{1'b0}};
        pl_fin_reg <= FIN_NONE;
        op_wt_reg <= {OW+1{1'b0}};
        op_wc_reg <= {OW+1{1'b0}};
        op_rd_reg <= {OW+1{1'b0}};
        cplq_wr_reg <= {CW+1{1'b0}};
        cplq_rd_reg <= {CW+1{1'b0}};
        rel_k_reg <= {NCW{1'b0}};
        wr_valid_reg <= 1'b0;
        wr_issued_reg <= 16'd0;
        wr_done_reg <= 16'd0;
        avail_req_reg <= 1'b0;
        err_valid_reg <= 1'b0;
        stat_frame_reg <= 1'b0;
        stat_drop_nobuf_reg <= 1'b0;
        stat_drop_chain_reg <= 1'b0;
        fq_counted_reg <= {FRAME_SLOTS{1'b0}};
        uncounted_reg <= {FW+1{1'b0}};
        cut_reg <= {FW+2{1'b0}};
        stat_drop_oversize_reg <= 1'b0;
        stat_drop_runt_reg <= 1'b0;
        stat_drop_bad_reg <= 1'b0;
        stat_drop_overrun_reg <= 1'b0;
        stat_drop_stopped_reg <= 1'b0;
    end
end

endmodule

`resetall
