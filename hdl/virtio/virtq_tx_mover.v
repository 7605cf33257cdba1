// SPDX-License-Identifier: MIT
/*
 * virtq_tx_mover: the TX queue's buffer mover. Takes the segments of each chain from the descriptor walk,
 * reads the frame bytes by DMA into a packet buffer (several reads in flight, across packets), streams each
 * frame out on m_axis_tx once all its reads are in, in ring order, and hands the used writer one
 * completion {id, len} per chain after the frame's last beat has left (hdl/virtio/README.md).
 *
 * A chain's bytes are the virtio_net_hdr (hdr_len = 10, or 12 with MRG_RXBUF or VERSION_1) then the frame. The header is
 * not read: the device offers no feature that gives its fields a meaning (no CSUM, no GSO), so only the
 * bytes after the first hdr_len are read, whatever the buffer boundaries, and the frame lands at the start
 * of its slot in the packet buffer (a word boundary). Frame size is never an error:
 *   - once header + frame would pass hdr_len + MAX_FRAME_LEN, no further buffer is read (the walk, and its
 *     checks, go on to the chain's end) and the chain is dropped (stat_drop_oversize);
 *   - a chain with fewer than hdr_len + MIN_FRAME_LEN bytes is dropped (stat_drop_runt);
 * a dropped chain completes like any other (its completion, in ring order, with nothing sent).
 *
 * Packet buffer: the block's RAM, used as a ring of packets. A chain's first segment reserves
 * MAX_FRAME_LEN bytes (rounded up to words) at the allocation point, or at the start of the RAM when the
 * rest up to its end is shorter (those words go with the packet); its last segment commits what was read.
 * A packet's words are freed when its last word has been read for the wire (dropped packets: behind the
 * frame being streamed). Up to PKT_SLOTS chains are in the block at once; the DMA tag of a read names its
 * chain's slot, statuses count each slot's reads back (in any order).
 *
 * Wire: RAM -> 2-beat FIFO -> m_axis_tx, a beat per cycle, one idle cycle between frames at most.
 * tuser = 1 on a last beat marks a frame cut by a stop.
 *
 * run = 0 (a reset or an error stops the queue): no new read, no new frame; the frame on the wire ends
 * (what is in the FIFO goes out, then an extra beat with tlast = tuser = 1 if it was cut); idle reports when
 * no read is owed and the wire is at a frame boundary. clear: back to the reset state.
 *
 * Fault knobs (test only, FAULT_ENABLE), sampled at each chain's last segment, for that chain:
 *   fault_drop_frame   a chain whose used index has bits [1:0] = 3 is read and completed, not sent
 *   fault_dup_frame    such a chain's frame is sent twice, back to back (drop wins if both are set)
 *   fault_used_len     its completion's len is the chain's header + frame bytes instead of 0
 * The chain's used index is its position in ring order since the last clear (every chain completes once,
 * in order). fault_addr carries the bus address of the chain's first non-empty buffer (header byte 0) to
 * the used writer's WRITE_TX_BUFFER knob.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module virtq_tx_mover #
(
    parameter RAM_DATA_WIDTH = 256,
    // packet buffer bytes = 2**RAM_ADDR_WIDTH (at least two maximum frames)
    parameter RAM_ADDR_WIDTH = 14,
    parameter LEN_WIDTH = 16,
    // DMA tag bits this block owns (log2(PKT_SLOTS) are used)
    parameter TAG_WIDTH = 5,
    parameter AXIS_NET_DATA_WIDTH = 64,
    parameter AXIS_NET_KEEP_WIDTH = AXIS_NET_DATA_WIDTH/8,
    parameter MAX_FRAME_LEN = 1518,
    parameter MIN_FRAME_LEN = 14,
    // chains in the block at once (power of 2)
    parameter PKT_SLOTS = 16,
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
    input  wire                             fault_drop_frame,   // test only
    input  wire                             fault_dup_frame,    // test only
    input  wire                             fault_used_len,     // test only

    /*
     * Segments from the descriptor walk
     */
    input  wire [63:0]                      s_axis_seg_addr,
    input  wire [31:0]                      s_axis_seg_len,
    /* verilator lint_off UNUSEDSIGNAL */ // the walk passes device-readable buffers only (BUF_WRITE = 0)
    input  wire                             s_axis_seg_write,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                             s_axis_seg_last,
    input  wire [15:0]                      s_axis_seg_head,
    input  wire                             s_axis_seg_valid,
    output wire                             s_axis_seg_ready,

    /*
     * DMA read (frame bytes) and the RAM write port
     */
    output wire [63:0]                      m_axis_read_desc_pcie_addr,
    output wire [RAM_ADDR_WIDTH-1:0]        m_axis_read_desc_ram_addr,
    output wire [LEN_WIDTH-1:0]             m_axis_read_desc_len,
    output wire [TAG_WIDTH-1:0]             m_axis_read_desc_tag,
    output wire                             m_axis_read_desc_valid,
    input  wire                             m_axis_read_desc_ready,
    /* verilator lint_off UNUSEDSIGNAL */ // the low bits name the slot
    input  wire [TAG_WIDTH-1:0]             s_axis_read_desc_status_tag,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [3:0]                       s_axis_read_desc_status_error,
    input  wire                             s_axis_read_desc_status_valid,

    input  wire                             ram_wr_en,
    input  wire [RAM_WORD_WIDTH-1:0]        ram_wr_addr,
    input  wire [RAM_DATA_WIDTH/8-1:0]      ram_wr_be,
    input  wire [RAM_DATA_WIDTH-1:0]        ram_wr_data,

    /*
     * Wire side: one frame per chain, header stripped
     */
    output wire [AXIS_NET_DATA_WIDTH-1:0]   m_axis_tx_tdata,
    output wire [AXIS_NET_KEEP_WIDTH-1:0]   m_axis_tx_tkeep,
    output wire                             m_axis_tx_tvalid,
    input  wire                             m_axis_tx_tready,
    output wire                             m_axis_tx_tlast,
    output wire                             m_axis_tx_tuser,

    /*
     * Completions to the used writer, in ring order
     */
    output wire [15:0]                      m_axis_cpl_id,
    output wire [31:0]                      m_axis_cpl_len,
    output wire [63:0]                      m_axis_cpl_fault_addr,   // test only (0 without FAULT_ENABLE)
    output wire                             m_axis_cpl_valid,
    input  wire                             m_axis_cpl_ready,

    output wire                             err_valid,
    output wire [3:0]                       err_cause,
    output wire                             idle,       // no read owed or presented, the wire at a frame boundary
    output wire                             busy,       // a chain held
    output wire                             stat_frame,
    output wire                             stat_drop_oversize,
    output wire                             stat_drop_runt
);

localparam WORD_BYTES = RAM_DATA_WIDTH/8;
localparam BYTE_SHIFT = $clog2(WORD_BYTES);
localparam BUF_WORDS = 1 << RAM_WORD_WIDTH;
localparam PW = $clog2(PKT_SLOTS);
localparam SCW = $clog2(PKT_SLOTS + 1);
localparam UW = RAM_WORD_WIDTH + 1;                     // word counts up to BUF_WORDS
localparam MAX_PKT_WORDS = (MAX_FRAME_LEN + WORD_BYTES - 1) / WORD_BYTES;
localparam AXIS_BYTES = AXIS_NET_KEEP_WIDTH;
localparam LANE_W = (WORD_BYTES > AXIS_BYTES) ? $clog2(WORD_BYTES / AXIS_BYTES) : 1;
localparam CNT_W = $clog2(MAX_FRAME_LEN + 12 + 2);     // reads of one chain: at most one per frame byte
localparam CPL_Q_DEPTH = 4;

localparam [31:0] BUF_WORDS_32 = BUF_WORDS;
localparam [31:0] MAX_PKT_WORDS_32 = MAX_PKT_WORDS;
localparam [UW-1:0] BUF_WORDS_U = BUF_WORDS_32[UW-1:0];
localparam [UW-1:0] MAX_PKT_WORDS_U = MAX_PKT_WORDS_32[UW-1:0];
localparam [32:0] MAX_FRAME_33 = MAX_FRAME_LEN;
localparam [16:0] MIN_FRAME_17 = MIN_FRAME_LEN;
localparam [31:0] AXIS_BYTES_32 = AXIS_BYTES;
localparam [15:0] AXIS_BYTES_16 = AXIS_BYTES_32[15:0];
localparam [16:0] WORD_BYTES_17 = WORD_BYTES;

localparam [1:0] V_SEND = 2'd0, V_OVERSIZE = 2'd1, V_RUNT = 2'd2, V_FAULT_DROP = 2'd3;
localparam [3:0] ERR_DMA_RD = 4'd9;

initial begin
    if (WORD_BYTES < 8 || (WORD_BYTES & (WORD_BYTES - 1)) != 0 || RAM_DATA_WIDTH % AXIS_NET_DATA_WIDTH != 0
            || AXIS_NET_KEEP_WIDTH*8 != AXIS_NET_DATA_WIDTH) begin
        $error("Error: RAM_DATA_WIDTH 64..512, a multiple of AXIS_NET_DATA_WIDTH = 8*AXIS_NET_KEEP_WIDTH (instance %m)");
        $finish;
    end
    if (BUF_WORDS < 2*MAX_PKT_WORDS || (1 << LEN_WIDTH) <= MAX_FRAME_LEN + 12) begin
        $error("Error: the packet buffer must hold two maximum frames, LEN_WIDTH a frame (instance %m)");
        $finish;
    end
    if (PKT_SLOTS < 2 || (PKT_SLOTS & (PKT_SLOTS - 1)) != 0 || TAG_WIDTH < PW) begin
        $error("Error: PKT_SLOTS must be a power of 2 >= 2 that the tag can name (instance %m)");
        $finish;
    end
    if (MIN_FRAME_LEN < 1 || MIN_FRAME_LEN > MAX_FRAME_LEN) begin
        $error("Error: 1 <= MIN_FRAME_LEN <= MAX_FRAME_LEN (instance %m)");
        $finish;
    end
end

wire [16:0] hdr_len = (feat_mrg_rxbuf || feat_version_1) ? 17'd12 : 17'd10;

/*
 * Intake: the chain being taken in (slot in_slot) and the packet buffer allocation
 */
reg             pkt_open_reg, pkt_open_next;
reg  [PW-1:0]   in_slot_reg, in_slot_next;
reg  [RAM_WORD_WIDTH-1:0] cur_start_reg, cur_start_next;
reg  [UW-1:0]   cur_skip_reg, cur_skip_next;
reg  [16:0]     total_reg, total_next;              // chain bytes so far (header included)
reg             drop_long_reg, drop_long_next;
reg  [63:0]     hdr_addr_reg, hdr_addr_next;        // test only: bus address of header byte 0
reg  [1:0]      pkt_seq_reg, pkt_seq_next;          // used index of the chain (2 bits: the fault knobs)
reg  [RAM_WORD_WIDTH-1:0] alloc_ptr_reg, alloc_ptr_next;
reg  [UW-1:0]   used_words_reg, used_words_next;
reg  [SCW-1:0]  slots_used_reg, slots_used_next;

// slot records (written when the chain's last segment is taken, read when the slot leaves)
reg  [RAM_WORD_WIDTH-1:0] rec_start [0:PKT_SLOTS-1];
reg  [UW-1:0]   rec_words [0:PKT_SLOTS-1];
reg  [15:0]     rec_frame_len [0:PKT_SLOTS-1];
reg  [1:0]      rec_verdict [0:PKT_SLOTS-1];
reg             rec_dup [0:PKT_SLOTS-1];
reg  [15:0]     rec_head [0:PKT_SLOTS-1];
reg  [15:0]     rec_len [0:PKT_SLOTS-1];
reg  [PKT_SLOTS-1:0] closed_reg;                   // the chain's last segment was taken
reg  [CNT_W-1:0] rd_cnt [0:PKT_SLOTS-1];           // reads owed, per slot
reg  [CNT_W+PW-1:0] rd_out_reg;                    // reads owed in all

// DMA read descriptor output
reg  [63:0]     rd_addr_reg, rd_addr_next;
reg  [RAM_ADDR_WIDTH-1:0] rd_ram_reg, rd_ram_next;
reg  [LEN_WIDTH-1:0] rd_len_reg, rd_len_next;
reg  [PW-1:0]   rd_tag_reg, rd_tag_next;
reg             rd_valid_reg, rd_valid_next;

/*
 * Output: the oldest slot, the frame being read from RAM, the completion queue, the wire FIFO
 */
reg  [PW-1:0]   out_slot_reg, out_slot_next;
reg  [15:0]     tx_remain_reg, tx_remain_next;      // frame bytes not yet read from RAM
reg  [RAM_ADDR_WIDTH-1:0] tx_addr_reg, tx_addr_next;
reg  [15:0]     tx_len_reg, tx_len_next;            // the frame (for DUP_FRAME)
reg  [RAM_ADDR_WIDTH-1:0] tx_start_reg, tx_start_next;
reg  [UW-1:0]   tx_words_reg, tx_words_next;        // freed when the frame's last word is read
reg  [UW-1:0]   defer_words_reg, defer_words_next;  // dropped packets behind the frame being read
reg             tx_again_reg, tx_again_next;        // test only: DUP_FRAME, read the frame again
reg             tx_rd_valid_reg, tx_rd_valid_next;  // a beat arrives from RAM this cycle
reg  [AXIS_NET_KEEP_WIDTH-1:0] tx_rd_keep_reg, tx_rd_keep_next;
reg             tx_rd_last_reg, tx_rd_last_next;
reg             tx_rd_final_reg, tx_rd_final_next;  // the last beat of the chain's last copy
reg  [LANE_W-1:0] tx_rd_lane_reg, tx_rd_lane_next;

reg  [1:0]      fifo_cnt_reg, fifo_cnt_next;
reg  [AXIS_NET_DATA_WIDTH-1:0] fifo_data0_reg, fifo_data0_next, fifo_data1_reg, fifo_data1_next;
reg  [AXIS_NET_KEEP_WIDTH-1:0] fifo_keep0_reg, fifo_keep0_next, fifo_keep1_reg, fifo_keep1_next;
reg             fifo_last0_reg, fifo_last0_next, fifo_last1_reg, fifo_last1_next;
reg             fifo_user0_reg, fifo_user0_next, fifo_user1_reg, fifo_user1_next;
reg             fifo_final0_reg, fifo_final0_next, fifo_final1_reg, fifo_final1_next;
reg             tx_open_reg, tx_open_next;          // a beat of an unfinished frame went out

// completion queue: in ring order; an entry whose frame is on its way waits for its final beat
reg  [15:0]     cpl_q_id [0:CPL_Q_DEPTH-1];
reg  [15:0]     cpl_q_len [0:CPL_Q_DEPTH-1];
reg  [CPL_Q_DEPTH-1:0] cpl_q_wire_reg;
reg  [1:0]      cpl_q_wr_reg, cpl_q_wr_next, cpl_q_rd_reg, cpl_q_rd_next;
reg  [2:0]      cpl_q_cnt_reg, cpl_q_cnt_next;
reg  [2:0]      wire_done_reg, wire_done_next;      // final beats gone out, not yet matched to an entry

reg             err_valid_reg, err_valid_next;
reg             stat_frame_reg, stat_frame_next;
reg             stat_drop_oversize_reg, stat_drop_oversize_next;
reg             stat_drop_runt_reg, stat_drop_runt_next;

// per-cycle
reg             seg_ready;
reg             issue_rd;
reg             fin;
reg  [RAM_WORD_WIDTH-1:0] fin_start;
reg  [UW-1:0]   fin_words;
reg  [15:0]     fin_frame_len;
reg  [1:0]      fin_verdict;
reg             fin_dup;
reg  [15:0]     fin_len;
/* verilator lint_off UNUSEDSIGNAL */ // read only with FAULT_ENABLE
reg  [63:0]     fin_hdr_addr;
/* verilator lint_on UNUSEDSIGNAL */
reg             pop;
reg             cpl_q_push;
reg  [15:0]     cpl_q_push_id, cpl_q_push_len;
reg             cpl_q_push_wire;
reg             cpl_q_pop;
reg  [UW-1:0]   free_words;
reg             ram_rd_en;
reg             fifo_push;
reg  [AXIS_NET_DATA_WIDTH-1:0] push_data;
reg  [AXIS_NET_KEEP_WIDTH-1:0] push_keep;
reg             push_last, push_user, push_final;

// intake arithmetic
reg  [RAM_WORD_WIDTH-1:0] start_c;
reg  [UW-1:0]   skip_c;
reg             can_open;
reg  [16:0]     tot_cur;
reg             long_cur;
reg  [63:0]     hdr_cur;
reg  [RAM_WORD_WIDTH-1:0] start_cur;
reg  [UW-1:0]   skip_cur;
reg  [32:0]     total_after;
reg  [32:0]     read_lo;
reg             too_long;
reg  [16:0]     frame_read;
/* verilator lint_off UNUSEDSIGNAL */ // at most MAX_PKT_WORDS
reg  [16:0]     frame_words;
/* verilator lint_on UNUSEDSIGNAL */

wire [RAM_DATA_WIDTH-1:0] ram_rd_data;
wire rd_free = !rd_valid_reg || m_axis_read_desc_ready;
wire st_ok = s_axis_read_desc_status_valid;
wire [PW-1:0] st_slot = s_axis_read_desc_status_tag[PW-1:0];

dma_ram #(
    .DATA_WIDTH(RAM_DATA_WIDTH),
    .ADDR_WIDTH(RAM_WORD_WIDTH)
)
ram_inst (
    .clk(clk),
    .wr_en(ram_wr_en),
    .wr_addr(ram_wr_addr),
    .wr_be(ram_wr_be),
    .wr_data(ram_wr_data),
    .rd_en(ram_rd_en),
    .rd_addr(tx_addr_reg[RAM_ADDR_WIDTH-1:BYTE_SHIFT]),
    .rd_data(ram_rd_data)
);

// test only (WRITE_TX_BUFFER): the header buffer's bus address, from the slot record to the completion
generate
    if (FAULT_ENABLE != 0) begin : g_fault_addr
        reg [63:0] rec_hdr_addr [0:PKT_SLOTS-1];
        reg [63:0] cpl_q_addr [0:CPL_Q_DEPTH-1];

        always @(posedge clk) begin
            if (fin) begin
                rec_hdr_addr[in_slot_reg] <= fin_hdr_addr;
            end
            if (cpl_q_push) begin
                cpl_q_addr[cpl_q_wr_reg] <= rec_hdr_addr[out_slot_reg];
            end
        end

        assign m_axis_cpl_fault_addr = cpl_q_addr[cpl_q_rd_reg];
    end else begin : g_no_fault_addr
        assign m_axis_cpl_fault_addr = 64'd0;
    end
endgenerate

// the beat read last cycle: one AXIS-wide lane of the RAM word
wire [AXIS_NET_DATA_WIDTH-1:0] ram_beat;
generate
    if (WORD_BYTES > AXIS_BYTES) begin : g_lanes
        assign ram_beat = ram_rd_data[tx_rd_lane_reg*AXIS_NET_DATA_WIDTH +: AXIS_NET_DATA_WIDTH];
    end else begin : g_one_lane
        assign ram_beat = ram_rd_data[AXIS_NET_DATA_WIDTH-1:0];
    end
endgenerate

// the oldest slot is ready to leave: all its segments taken, all its reads in
wire out_ready = slots_used_reg != {SCW{1'b0}} && closed_reg[out_slot_reg] && rd_cnt[out_slot_reg] == {CNT_W{1'b0}};
wire [1:0] out_verdict = rec_verdict[out_slot_reg];
wire tx_busy = tx_remain_reg != 16'd0 || tx_again_reg;
wire fifo_pop = fifo_cnt_reg != 2'd0 && m_axis_tx_tready;

assign s_axis_seg_ready = seg_ready;

assign m_axis_read_desc_pcie_addr = rd_addr_reg;
assign m_axis_read_desc_ram_addr = rd_ram_reg;
assign m_axis_read_desc_len = rd_len_reg;
assign m_axis_read_desc_tag = {{TAG_WIDTH-PW{1'b0}}, rd_tag_reg};
assign m_axis_read_desc_valid = rd_valid_reg;

assign m_axis_tx_tdata = fifo_data0_reg;
assign m_axis_tx_tkeep = fifo_keep0_reg;
assign m_axis_tx_tvalid = fifo_cnt_reg != 2'd0;
assign m_axis_tx_tlast = fifo_last0_reg;
assign m_axis_tx_tuser = fifo_user0_reg;

assign m_axis_cpl_id = cpl_q_id[cpl_q_rd_reg];
assign m_axis_cpl_len = {16'd0, cpl_q_len[cpl_q_rd_reg]};
assign m_axis_cpl_valid = run && cpl_q_cnt_reg != 3'd0 && (!cpl_q_wire_reg[cpl_q_rd_reg] || wire_done_reg != 3'd0);

assign err_valid = err_valid_reg;
assign err_cause = ERR_DMA_RD;
assign idle = rd_out_reg == {CNT_W+PW{1'b0}} && !rd_valid_reg && fifo_cnt_reg == 2'd0 && !tx_rd_valid_reg
    && !tx_open_reg;
assign busy = pkt_open_reg || slots_used_reg != {SCW{1'b0}} || tx_busy || cpl_q_cnt_reg != 3'd0;
assign stat_frame = stat_frame_reg;
assign stat_drop_oversize = stat_drop_oversize_reg;
assign stat_drop_runt = stat_drop_runt_reg;

always @* begin
    pkt_open_next = pkt_open_reg;
    in_slot_next = in_slot_reg;
    cur_start_next = cur_start_reg;
    cur_skip_next = cur_skip_reg;
    total_next = total_reg;
    drop_long_next = drop_long_reg;
    hdr_addr_next = hdr_addr_reg;
    pkt_seq_next = pkt_seq_reg;
    alloc_ptr_next = alloc_ptr_reg;
    used_words_next = used_words_reg;
    slots_used_next = slots_used_reg;
    rd_addr_next = rd_addr_reg;
    rd_ram_next = rd_ram_reg;
    rd_len_next = rd_len_reg;
    rd_tag_next = rd_tag_reg;
    rd_valid_next = rd_valid_reg && !m_axis_read_desc_ready;
    out_slot_next = out_slot_reg;
    tx_remain_next = tx_remain_reg;
    tx_addr_next = tx_addr_reg;
    tx_len_next = tx_len_reg;
    tx_start_next = tx_start_reg;
    tx_words_next = tx_words_reg;
    defer_words_next = defer_words_reg;
    tx_again_next = tx_again_reg;
    tx_rd_valid_next = 1'b0;
    tx_rd_keep_next = tx_rd_keep_reg;
    tx_rd_last_next = tx_rd_last_reg;
    tx_rd_final_next = tx_rd_final_reg;
    tx_rd_lane_next = tx_rd_lane_reg;
    fifo_cnt_next = fifo_cnt_reg;
    fifo_data0_next = fifo_data0_reg;
    fifo_data1_next = fifo_data1_reg;
    fifo_keep0_next = fifo_keep0_reg;
    fifo_keep1_next = fifo_keep1_reg;
    fifo_last0_next = fifo_last0_reg;
    fifo_last1_next = fifo_last1_reg;
    fifo_user0_next = fifo_user0_reg;
    fifo_user1_next = fifo_user1_reg;
    fifo_final0_next = fifo_final0_reg;
    fifo_final1_next = fifo_final1_reg;
    tx_open_next = tx_open_reg;
    cpl_q_wr_next = cpl_q_wr_reg;
    cpl_q_rd_next = cpl_q_rd_reg;
    cpl_q_cnt_next = cpl_q_cnt_reg;
    wire_done_next = wire_done_reg;
    err_valid_next = 1'b0;
    stat_frame_next = 1'b0;
    stat_drop_oversize_next = 1'b0;
    stat_drop_runt_next = 1'b0;

    seg_ready = 1'b0;
    issue_rd = 1'b0;
    fin = 1'b0;
    fin_start = cur_start_reg;
    fin_words = {UW{1'b0}};
    fin_frame_len = 16'd0;
    fin_verdict = V_SEND;
    fin_dup = 1'b0;
    fin_len = 16'd0;
    fin_hdr_addr = hdr_addr_reg;
    pop = 1'b0;
    cpl_q_push = 1'b0;
    cpl_q_push_id = 16'd0;
    cpl_q_push_len = 16'd0;
    cpl_q_push_wire = 1'b0;
    cpl_q_pop = 1'b0;
    free_words = {UW{1'b0}};
    ram_rd_en = 1'b0;
    fifo_push = 1'b0;
    push_data = {AXIS_NET_DATA_WIDTH{1'b0}};
    push_keep = {AXIS_NET_KEEP_WIDTH{1'b0}};
    push_last = 1'b0;
    push_user = 1'b0;
    push_final = 1'b0;

    if (st_ok && s_axis_read_desc_status_error != 4'd0 && run) begin
        err_valid_next = 1'b1;
    end

    // -- intake: one segment per cycle -------------------------------------------------------------------
    // a new chain reserves a maximum frame at the allocation point, or at the RAM's start
    if (BUF_WORDS_U - {1'b0, alloc_ptr_reg} < MAX_PKT_WORDS_U) begin
        skip_c = BUF_WORDS_U - {1'b0, alloc_ptr_reg};
        start_c = {RAM_WORD_WIDTH{1'b0}};
    end else begin
        skip_c = {UW{1'b0}};
        start_c = alloc_ptr_reg;
    end
    can_open = slots_used_reg != PKT_SLOTS[SCW-1:0] && used_words_reg + skip_c + MAX_PKT_WORDS_U <= BUF_WORDS_U;

    // the chain so far (nothing when this segment opens it)
    tot_cur = pkt_open_reg ? total_reg : 17'd0;
    long_cur = pkt_open_reg && drop_long_reg;
    hdr_cur = pkt_open_reg ? hdr_addr_reg : 64'd0;
    start_cur = pkt_open_reg ? cur_start_reg : start_c;
    skip_cur = pkt_open_reg ? cur_skip_reg : skip_c;
    total_after = {16'd0, tot_cur} + {1'b0, s_axis_seg_len};
    // frame bytes of this segment: from max(chain offset, hdr_len) to its end
    read_lo = {16'd0, (tot_cur > hdr_len) ? tot_cur : hdr_len};
    too_long = long_cur || total_after > {16'd0, hdr_len} + MAX_FRAME_33;
    frame_read = 17'd0;
    frame_words = 17'd0;

    if (run && s_axis_seg_valid && (pkt_open_reg || can_open)) begin
        if (too_long) begin
            // too long for the device: read nothing more, take the rest of the chain, drop it
            seg_ready = 1'b1;
            total_next = tot_cur;
        end else if (total_after > read_lo) begin
            if (rd_free) begin
                seg_ready = 1'b1;
                issue_rd = 1'b1;
                rd_addr_next = s_axis_seg_addr + {47'd0, read_lo[16:0] - tot_cur};
                rd_ram_next = {start_cur, {BYTE_SHIFT{1'b0}}} + read_lo[RAM_ADDR_WIDTH-1:0]
                    - hdr_len[RAM_ADDR_WIDTH-1:0];
                rd_len_next = total_after[LEN_WIDTH-1:0] - read_lo[LEN_WIDTH-1:0];
                rd_tag_next = in_slot_reg;
                rd_valid_next = 1'b1;
                total_next = total_after[16:0];
            end
        end else begin
            // header bytes only, or an empty buffer: nothing to read
            seg_ready = 1'b1;
            total_next = total_after[16:0];
        end
        if (seg_ready) begin
            pkt_open_next = 1'b1;
            cur_start_next = start_cur;
            cur_skip_next = skip_cur;
            drop_long_next = too_long;
            hdr_addr_next = hdr_cur;
            if (FAULT_ENABLE != 0 && s_axis_seg_len != 32'd0 && tot_cur == 17'd0) begin
                hdr_addr_next = s_axis_seg_addr;    // test only (WRITE_TX_BUFFER): header byte 0
            end
            if (s_axis_seg_last) begin
                // the chain is complete: commit what was read, record the verdict
                fin = 1'b1;
                fin_start = start_cur;
                frame_read = total_next > hdr_len ? total_next - hdr_len : 17'd0;
                frame_words = (frame_read + WORD_BYTES_17 - 17'd1) >> BYTE_SHIFT;
                fin_words = skip_cur + frame_words[UW-1:0];
                fin_frame_len = frame_read[15:0];
                if (too_long) begin
                    fin_verdict = V_OVERSIZE;
                end else if (total_next < hdr_len + MIN_FRAME_17) begin
                    fin_verdict = V_RUNT;
                end else if (FAULT_ENABLE != 0 && fault_drop_frame && pkt_seq_reg == 2'b11) begin
                    fin_verdict = V_FAULT_DROP;     // test only (DROP_FRAME)
                end
                fin_dup = FAULT_ENABLE != 0 && fault_dup_frame && pkt_seq_reg == 2'b11;
                // used.len: what the device wrote into the chain, nothing for TX (USED_LEN_READ: test only)
                fin_len = (FAULT_ENABLE != 0 && fault_used_len) ? total_next[15:0] : 16'd0;
                fin_hdr_addr = hdr_addr_next;
                pkt_open_next = 1'b0;
                pkt_seq_next = pkt_seq_reg + 2'd1;
                in_slot_next = in_slot_reg + 1'b1;
                alloc_ptr_next = fin_start + frame_words[RAM_WORD_WIDTH-1:0];
                used_words_next = used_words_reg + fin_words;
            end
        end
    end

    // -- output: the oldest slot leaves when its reads are in ---------------------------------------------
    if (run && out_ready && cpl_q_cnt_reg != CPL_Q_DEPTH[2:0] && (out_verdict != V_SEND || !tx_busy)) begin
        pop = 1'b1;
        cpl_q_push = 1'b1;
        cpl_q_push_id = rec_head[out_slot_reg];
        cpl_q_push_len = rec_len[out_slot_reg];
        cpl_q_push_wire = out_verdict == V_SEND;
        out_slot_next = out_slot_reg + 1'b1;
        if (out_verdict == V_SEND) begin
            tx_remain_next = rec_frame_len[out_slot_reg];
            tx_len_next = rec_frame_len[out_slot_reg];
            tx_addr_next = {rec_start[out_slot_reg], {BYTE_SHIFT{1'b0}}};
            tx_start_next = {rec_start[out_slot_reg], {BYTE_SHIFT{1'b0}}};
            tx_words_next = rec_words[out_slot_reg];
            tx_again_next = rec_dup[out_slot_reg];
        end else begin
            stat_drop_oversize_next = out_verdict == V_OVERSIZE;
            stat_drop_runt_next = out_verdict == V_RUNT;
            if (tx_busy) begin
                defer_words_next = defer_words_reg + rec_words[out_slot_reg];
            end else begin
                free_words = rec_words[out_slot_reg];
            end
        end
    end
    slots_used_next = slots_used_reg + {{SCW-1{1'b0}}, fin} - {{SCW-1{1'b0}}, pop};

    // -- wire side: read one beat per cycle while the FIFO (2 beats) has room for it when it arrives -----
    if (tx_remain_reg != 16'd0 && ({1'b0, fifo_cnt_reg} - {2'b00, fifo_pop} + {2'b00, tx_rd_valid_reg}) < 3'd2) begin
        ram_rd_en = 1'b1;
        tx_rd_valid_next = 1'b1;
        tx_rd_lane_next = tx_addr_reg[BYTE_SHIFT-1:BYTE_SHIFT-LANE_W];
        tx_addr_next = tx_addr_reg + AXIS_BYTES_16[RAM_ADDR_WIDTH-1:0];
        if (tx_remain_reg <= AXIS_BYTES_16) begin
            tx_rd_last_next = 1'b1;
            tx_rd_final_next = !tx_again_reg;
            tx_rd_keep_next = {AXIS_NET_KEEP_WIDTH{1'b1}} >> (AXIS_BYTES_16 - tx_remain_reg);
            if (tx_again_reg) begin
                // test only (DUP_FRAME): the same frame follows
                tx_again_next = 1'b0;
                tx_remain_next = tx_len_reg;
                tx_addr_next = tx_start_reg;
            end else begin
                tx_remain_next = 16'd0;
                free_words = free_words + tx_words_reg + defer_words_next;
                defer_words_next = {UW{1'b0}};
            end
        end else begin
            tx_rd_last_next = 1'b0;
            tx_rd_final_next = 1'b0;
            tx_rd_keep_next = {AXIS_NET_KEEP_WIDTH{1'b1}};
            tx_remain_next = tx_remain_reg - AXIS_BYTES_16;
        end
    end
    used_words_next = used_words_next - free_words;

    if (!run) begin
        // stopped: read no more of the frame; what is in the FIFO still goes out
        tx_remain_next = 16'd0;
        tx_again_next = 1'b0;
    end

    if (tx_rd_valid_reg) begin
        fifo_push = 1'b1;
        push_data = ram_beat;
        push_keep = tx_rd_keep_reg;
        push_last = tx_rd_last_reg;
        push_final = tx_rd_final_reg;
    end else if (!run && tx_open_reg && tx_remain_reg == 16'd0 && fifo_cnt_reg == 2'd0) begin
        // the frame was cut by a stop: end it with a marked beat
        fifo_push = 1'b1;
        push_keep = {{AXIS_NET_KEEP_WIDTH-1{1'b0}}, 1'b1};
        push_last = 1'b1;
        push_user = 1'b1;
    end

    if (fifo_pop) begin
        tx_open_next = !fifo_last0_reg;
        stat_frame_next = fifo_last0_reg && !fifo_user0_reg;
        if (fifo_last0_reg && fifo_final0_reg && !fifo_user0_reg) begin
            wire_done_next = wire_done_next + 3'd1;
        end
        fifo_data0_next = fifo_data1_reg;
        fifo_keep0_next = fifo_keep1_reg;
        fifo_last0_next = fifo_last1_reg;
        fifo_user0_next = fifo_user1_reg;
        fifo_final0_next = fifo_final1_reg;
    end
    if (fifo_push) begin
        if (fifo_cnt_reg == 2'd0 || (fifo_cnt_reg == 2'd1 && fifo_pop)) begin
            fifo_data0_next = push_data;
            fifo_keep0_next = push_keep;
            fifo_last0_next = push_last;
            fifo_user0_next = push_user;
            fifo_final0_next = push_final;
        end else begin
            fifo_data1_next = push_data;
            fifo_keep1_next = push_keep;
            fifo_last1_next = push_last;
            fifo_user1_next = push_user;
            fifo_final1_next = push_final;
        end
    end
    fifo_cnt_next = fifo_cnt_reg - {1'b0, fifo_pop} + {1'b0, fifo_push};

    // -- completions: in ring order, a sent frame's after its final beat left ---------------------------
    if (m_axis_cpl_valid && m_axis_cpl_ready) begin
        cpl_q_pop = 1'b1;
        if (cpl_q_wire_reg[cpl_q_rd_reg]) begin
            wire_done_next = wire_done_next - 3'd1;
        end
        cpl_q_rd_next = cpl_q_rd_reg + 2'd1;
    end
    if (cpl_q_push) begin
        cpl_q_wr_next = cpl_q_wr_reg + 2'd1;
    end
    cpl_q_cnt_next = cpl_q_cnt_reg + {2'b00, cpl_q_push} - {2'b00, cpl_q_pop};

    if (clear) begin
        pkt_open_next = 1'b0;
        in_slot_next = {PW{1'b0}};
        pkt_seq_next = 2'd0;
        alloc_ptr_next = {RAM_WORD_WIDTH{1'b0}};
        used_words_next = {UW{1'b0}};
        slots_used_next = {SCW{1'b0}};
        rd_valid_next = 1'b0;
        out_slot_next = {PW{1'b0}};
        tx_remain_next = 16'd0;
        defer_words_next = {UW{1'b0}};
        tx_again_next = 1'b0;
        tx_rd_valid_next = 1'b0;
        fifo_cnt_next = 2'd0;
        tx_open_next = 1'b0;
        cpl_q_wr_next = 2'd0;
        cpl_q_rd_next = 2'd0;
        cpl_q_cnt_next = 3'd0;
        wire_done_next = 3'd0;
    end
end

integer s;

always @(posedge clk) begin
    pkt_open_reg <= pkt_open_next;
    in_slot_reg <= in_slot_next;
    cur_start_reg <= cur_start_next;
    cur_skip_reg <= cur_skip_next;
    total_reg <= total_next;
    drop_long_reg <= drop_long_next;
    hdr_addr_reg <= hdr_addr_next;
    pkt_seq_reg <= pkt_seq_next;
    alloc_ptr_reg <= alloc_ptr_next;
    used_words_reg <= used_words_next;
    slots_used_reg <= slots_used_next;
    rd_addr_reg <= rd_addr_next;
    rd_ram_reg <= rd_ram_next;
    rd_len_reg <= rd_len_next;
    rd_tag_reg <= rd_tag_next;
    rd_valid_reg <= rd_valid_next;
    out_slot_reg <= out_slot_next;
    tx_remain_reg <= tx_remain_next;
    tx_addr_reg <= tx_addr_next;
    tx_len_reg <= tx_len_next;
    tx_start_reg <= tx_start_next;
    tx_words_reg <= tx_words_next;
    defer_words_reg <= defer_words_next;
    tx_again_reg <= tx_again_next;
    tx_rd_valid_reg <= tx_rd_valid_next;
    tx_rd_keep_reg <= tx_rd_keep_next;
    tx_rd_last_reg <= tx_rd_last_next;
    tx_rd_final_reg <= tx_rd_final_next;
    tx_rd_lane_reg <= tx_rd_lane_next;
    fifo_cnt_reg <= fifo_cnt_next;
    fifo_data0_reg <= fifo_data0_next;
    fifo_data1_reg <= fifo_data1_next;
    fifo_keep0_reg <= fifo_keep0_next;
    fifo_keep1_reg <= fifo_keep1_next;
    fifo_last0_reg <= fifo_last0_next;
    fifo_last1_reg <= fifo_last1_next;
    fifo_user0_reg <= fifo_user0_next;
    fifo_user1_reg <= fifo_user1_next;
    fifo_final0_reg <= fifo_final0_next;
    fifo_final1_reg <= fifo_final1_next;
    tx_open_reg <= tx_open_next;
    cpl_q_wr_reg <= cpl_q_wr_next;
    cpl_q_rd_reg <= cpl_q_rd_next;
    cpl_q_cnt_reg <= cpl_q_cnt_next;
    wire_done_reg <= wire_done_next;
    err_valid_reg <= err_valid_next;
    stat_frame_reg <= stat_frame_next;
    stat_drop_oversize_reg <= stat_drop_oversize_next;
    stat_drop_runt_reg <= stat_drop_runt_next;

    // slot records and read counts
    if (fin) begin
        rec_start[in_slot_reg] <= fin_start;
        rec_words[in_slot_reg] <= fin_words;
        rec_frame_len[in_slot_reg] <= fin_frame_len;
        rec_verdict[in_slot_reg] <= fin_verdict;
        rec_dup[in_slot_reg] <= fin_dup;
        rec_head[in_slot_reg] <= s_axis_seg_head;
        rec_len[in_slot_reg] <= fin_len;
    end
    for (s = 0; s < PKT_SLOTS; s = s + 1) begin
        if (fin && in_slot_reg == s[PW-1:0]) begin
            closed_reg[s] <= 1'b1;
        end else if (pop && out_slot_reg == s[PW-1:0]) begin
            closed_reg[s] <= 1'b0;
        end
        rd_cnt[s] <= rd_cnt[s] + {{CNT_W-1{1'b0}}, issue_rd && in_slot_reg == s[PW-1:0]}
            - {{CNT_W-1{1'b0}}, st_ok && st_slot == s[PW-1:0]};
    end
    rd_out_reg <= rd_out_reg + {{CNT_W+PW-1{1'b0}}, issue_rd} - {{CNT_W+PW-1{1'b0}}, st_ok};

    // completion queue
    if (cpl_q_push) begin
        cpl_q_id[cpl_q_wr_reg] <= cpl_q_push_id;
        cpl_q_len[cpl_q_wr_reg] <= cpl_q_push_len;
        cpl_q_wire_reg[cpl_q_wr_reg] <= cpl_q_push_wire;
    end

    if (rst || clear) begin
        closed_reg <= {PKT_SLOTS{1'b0}};
        for (s = 0; s < PKT_SLOTS; s = s + 1) begin
            rd_cnt[s] <= {CNT_W{1'b0}};
        end
        rd_out_reg <= {CNT_W+PW{1'b0}};
    end
    if (rst) begin
        pkt_open_reg <= 1'b0;
        in_slot_reg <= {PW{1'b0}};
        total_reg <= 17'd0;
        drop_long_reg <= 1'b0;
        hdr_addr_reg <= 64'd0;
        pkt_seq_reg <= 2'd0;
        alloc_ptr_reg <= {RAM_WORD_WIDTH{1'b0}};
        used_words_reg <= {UW{1'b0}};
        slots_used_reg <= {SCW{1'b0}};
        rd_valid_reg <= 1'b0;
        out_slot_reg <= {PW{1'b0}};
        tx_remain_reg <= 16'd0;
        defer_words_reg <= {UW{1'b0}};
        tx_again_reg <= 1'b0;
        tx_rd_valid_reg <= 1'b0;
        fifo_cnt_reg <= 2'd0;
        tx_open_reg <= 1'b0;
        cpl_q_wr_reg <= 2'd0;
        cpl_q_rd_reg <= 2'd0;
        cpl_q_cnt_reg <= 3'd0;
        cpl_q_wire_reg <= {CPL_Q_DEPTH{1'b0}};
        wire_done_reg <= 3'd0;
        err_valid_reg <= 1'b0;
        stat_frame_reg <= 1'b0;
        stat_drop_oversize_reg <= 1'b0;
        stat_drop_runt_reg <= 1'b0;
    end
end

endmodule

`resetall
