// SPDX-License-Identifier: MIT
/*
 * virtq_desc_walk: walks each head's descriptor chain, checks every descriptor, and emits the chain's
 * buffers as segments for a queue user (the TX buffer mover reads them; an RX user writes them). Chains
 * leave in head order, the segments of a chain in chain order, the last one marked.
 *
 * Two stages, so that the DMA round trips of later chains overlap the walk of earlier ones:
 *
 *   head queue (LOOKAHEAD heads) -> stage 1: ring descriptors -> item FIFO -> stage 2: tables -> segments
 *
 * Stage 1 takes the heads in order and follows each chain through the ring's descriptor table, read by
 * DMA in windows of up to DESC_WINDOW consecutive descriptors. A direct buffer becomes a segment item; an
 * INDIRECT descriptor gets its table read by DMA into one of TABLE_SLOTS table buffers (several in flight)
 * and becomes a table item. Stage 2 passes segment items on and walks each table, in item order, once its
 * read is in. A window starts at a descriptor the walk needs: for a head, the lowest head waiting in the
 * head queue that the window can still cover together with it (drivers hand out free descriptors in falling
 * order after a reclaim), for the rest of a chain the descriptor itself; it serves a head only while it is
 * fresh for it: read after an avail.idx value that already covered the head (descriptors of published chains
 * do not change; a driver reuses a descriptor only for an entry it publishes later).
 *
 * Checks, in this order, each before anything of the descriptor is used (its buffer read or written, its
 * table or the next descriptor's window read), so a violation is reported before any DMA to the offending
 * address (stage 1 for the ring's descriptors, stage 2 for a table's):
 *   head (an avail.ring entry) >= Q (queue_size, the running size)                  2
 *   a buffer of a direction the user does not take (BUF_WRITE = 0: the WRITE flag;
 *     BUF_READ = 0: a device-readable buffer)                                      7
 *   INDIRECT: not acked (feat_indirect)                                            4
 *             inside a table, after other descriptors, or with NEXT                5
 *             length 0, not a multiple of 16, or above 16*INDIRECT_MAX             6
 *   next >= Q (direct) or >= the table's entries (indirect)                        2
 *   the Q-th descriptor of a direct chain, or the table's last, with NEXT           3 (a loop)
 *   a DMA read error on a window or a table                                        9
 * Buffers of length 0 are emitted too (the user skips them); every chain emits at least one segment. An
 * error stops both stages where they stand (the queue drains and clears); with several chains in flight the
 * one reported is the first found, not necessarily the oldest.
 *
 * Throughput: a descriptor in the window (stage 1) or a table (stage 2) takes two cycles: the next one's RAM
 * read starts in the cycle this one is checked.
 *
 * run = 0: no new DMA and no new head (reads issued are counted back: idle reports when none is owed);
 * clear: back to the reset state.
 *
 * RAM (this block's, written by the DMA read engine): the table buffers at byte 0 (slot s at
 * s*16*INDIRECT_MAX), the window after them (16*DESC_WINDOW bytes); two RAMs, one read port per stage.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module virtq_desc_walk #
(
    parameter QUEUE_SIZE = 256,
    parameter RAM_DATA_WIDTH = 256,
    // RAM byte address width: holds TABLE_SLOTS tables and the window (see "RAM")
    parameter RAM_ADDR_WIDTH = 13,
    parameter LEN_WIDTH = 16,
    // DMA tag bits this block owns (1 + log2(TABLE_SLOTS) are used)
    parameter TAG_WIDTH = 5,
    // descriptors read per window fetch
    parameter DESC_WINDOW = 16,
    // largest INDIRECT table, in descriptors, and tables read ahead
    parameter INDIRECT_MAX = 64,
    parameter TABLE_SLOTS = 4,
    // heads stage 1 sees ahead (window starts), items between the stages
    parameter LOOKAHEAD = 8,
    parameter ITEM_FIFO = 8,
    // buffer directions the queue user takes: TX reads (device-readable), RX writes (device-writable)
    parameter BUF_READ = 1,
    parameter BUF_WRITE = 0,
    // derived, do not set
    parameter RAM_WORD_WIDTH = RAM_ADDR_WIDTH - $clog2(RAM_DATA_WIDTH/8)
)
(
    input  wire                         clk,
    input  wire                         rst,

    input  wire [63:0]                  desc_base,
    input  wire [15:0]                  queue_size,     // the running size: a power of 2, 2..QUEUE_SIZE
    input  wire                         feat_indirect,
    input  wire [15:0]                  avail_idx,      // the last avail.idx read (window freshness)
    input  wire                         run,
    input  wire                         clear,

    /*
     * Heads in ring order: the avail.ring entry and its avail index
     */
    input  wire [15:0]                  s_axis_head_id,
    input  wire [15:0]                  s_axis_head_index,
    input  wire                         s_axis_head_valid,
    output wire                         s_axis_head_ready,

    /*
     * Segments: one buffer each, in chain order; last marks a chain's final buffer
     */
    output wire [63:0]                  m_axis_seg_addr,
    output wire [31:0]                  m_axis_seg_len,
    output wire                         m_axis_seg_write,
    output wire                         m_axis_seg_last,
    output wire [15:0]                  m_axis_seg_head,
    output wire                         m_axis_seg_valid,
    input  wire                         m_axis_seg_ready,

    /*
     * DMA read (windows, INDIRECT tables) and the RAM write port
     */
    output wire [63:0]                  m_axis_read_desc_pcie_addr,
    output wire [RAM_ADDR_WIDTH-1:0]    m_axis_read_desc_ram_addr,
    output wire [LEN_WIDTH-1:0]         m_axis_read_desc_len,
    output wire [TAG_WIDTH-1:0]         m_axis_read_desc_tag,
    output wire                         m_axis_read_desc_valid,
    input  wire                         m_axis_read_desc_ready,
    /* verilator lint_off UNUSEDSIGNAL */ // the low bits name a window or a table slot
    input  wire [TAG_WIDTH-1:0]         s_axis_read_desc_status_tag,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [3:0]                   s_axis_read_desc_status_error,
    input  wire                         s_axis_read_desc_status_valid,

    input  wire                         ram_wr_en,
    input  wire [RAM_WORD_WIDTH-1:0]    ram_wr_addr,
    input  wire [RAM_DATA_WIDTH/8-1:0]  ram_wr_be,
    input  wire [RAM_DATA_WIDTH-1:0]    ram_wr_data,

    output wire                         err_valid,
    output wire [3:0]                   err_cause,
    output wire                         idle,           // no DMA owed or presented
    output wire                         busy            // a head, an item or a segment held, a chain in progress
);

localparam WORD_BYTES = RAM_DATA_WIDTH/8;
localparam BYTE_SHIFT = $clog2(WORD_BYTES);
localparam QW = $clog2(QUEUE_SIZE);
localparam DESC_WORDS = (WORD_BYTES >= 16) ? 1 : 16 / WORD_BYTES;
localparam TBL_BYTES = 16*INDIRECT_MAX;
localparam TBL_AREA = TABLE_SLOTS*TBL_BYTES;         // the tables; the window follows
localparam WIN_BYTES = 16*DESC_WINDOW;
localparam WIN_W = $clog2(DESC_WINDOW + 1);
localparam WOFF_W = DESC_WINDOW > 1 ? $clog2(DESC_WINDOW) : 1;
localparam TBL_W = $clog2(INDIRECT_MAX + 1);
localparam TOFF_W = INDIRECT_MAX > 1 ? $clog2(INDIRECT_MAX) : 1;
localparam SL_W = TABLE_SLOTS > 1 ? $clog2(TABLE_SLOTS) : 1;
localparam SC_W = $clog2(TABLE_SLOTS + 1);
localparam HQ_W = $clog2(LOOKAHEAD + 1);
localparam IF_W = ITEM_FIFO > 1 ? $clog2(ITEM_FIFO) : 1;
localparam IC_W = $clog2(ITEM_FIFO + 1);
localparam TBL_RAM_W = $clog2(TBL_AREA);                 // table RAM byte address width
localparam WIN_RAM_W = $clog2(WIN_BYTES) > BYTE_SHIFT ? $clog2(WIN_BYTES) : BYTE_SHIFT + 1;

localparam [16:0] WINDOW_17 = DESC_WINDOW;
localparam [31:0] IND_BYTES_32 = TBL_BYTES;
localparam [31:0] TBL_AREA_32 = TBL_AREA;
localparam [31:0] TBL_BYTES_32 = TBL_BYTES;

localparam VRING_DESC_F_NEXT = 0;
localparam VRING_DESC_F_WRITE = 1;
localparam VRING_DESC_F_INDIRECT = 2;

localparam [3:0]
    ERR_NEXT_RANGE    = 4'd2,
    ERR_CHAIN_LOOP    = 4'd3,
    ERR_INDIRECT_FEAT = 4'd4,
    ERR_INDIRECT_NEST = 4'd5,
    ERR_INDIRECT_LEN  = 4'd6,
    ERR_BUF_DIR       = 4'd7,
    ERR_DMA_RD        = 4'd9;

// stage 1
localparam [2:0]
    S_IDLE     = 3'd0,     // the next head: in the window, or a window read
    S_WIN_RD   = 3'd1,
    S_WIN_WAIT = 3'd2,
    S_LOAD     = 3'd3,     // descriptor word(s) from the window RAM
    S_CHECK    = 3'd4,     // check; a segment or a table item; on to the next descriptor
    S_HALT     = 3'd5;     // after an error: nothing more until clear

// stage 2
localparam [1:0]
    T_IDLE  = 2'd0,        // pass a segment item on, or start a table once it is in
    T_LOAD  = 2'd1,
    T_CHECK = 2'd2,
    T_HALT  = 2'd3;

initial begin
    if (QUEUE_SIZE < 2 || QUEUE_SIZE > 32768 || (QUEUE_SIZE & (QUEUE_SIZE - 1)) != 0) begin
        $error("Error: QUEUE_SIZE must be a power of 2 in 2..32768 (instance %m)");
        $finish;
    end
    if (WORD_BYTES < 8 || (WORD_BYTES & (WORD_BYTES - 1)) != 0) begin
        $error("Error: RAM_DATA_WIDTH must be 64, 128, 256 or 512 (instance %m)");
        $finish;
    end
    if ((INDIRECT_MAX & (INDIRECT_MAX - 1)) != 0 || (TABLE_SLOTS & (TABLE_SLOTS - 1)) != 0
            || (DESC_WINDOW & (DESC_WINDOW - 1)) != 0 || (ITEM_FIFO & (ITEM_FIFO - 1)) != 0) begin
        $error("Error: INDIRECT_MAX, TABLE_SLOTS, DESC_WINDOW and ITEM_FIFO must be powers of 2 (instance %m)");
        $finish;
    end
    if ((1 << RAM_ADDR_WIDTH) < TBL_AREA + WIN_BYTES || TBL_BYTES < WORD_BYTES || WIN_BYTES < WORD_BYTES
            || (1 << LEN_WIDTH) <= TBL_BYTES || (1 << LEN_WIDTH) <= WIN_BYTES) begin
        $error("Error: RAM_ADDR_WIDTH / LEN_WIDTH too small for the tables and the window (instance %m)");
        $finish;
    end
    if (DESC_WINDOW < 2 || DESC_WINDOW > QUEUE_SIZE || LOOKAHEAD < 1 || TAG_WIDTH < SL_W + 1
            || (BUF_READ == 0 && BUF_WRITE == 0)) begin
        $error("Error: 2 <= DESC_WINDOW <= QUEUE_SIZE, LOOKAHEAD >= 1, tag bits, a buffer direction (instance %m)");
        $finish;
    end
end

/*
 * Descriptors and the checks both stages share
 */
function dir_bad;
    input [15:0] flags;
    begin
        dir_bad = flags[VRING_DESC_F_WRITE] ? BUF_WRITE == 0 : (BUF_READ == 0 && !flags[VRING_DESC_F_INDIRECT]);
    end
endfunction

/*
 * Head queue: LOOKAHEAD heads, the oldest at [0] (a shift register)
 */
reg  [15:0]     hq_id [0:LOOKAHEAD-1];
reg  [15:0]     hq_index [0:LOOKAHEAD-1];
reg  [HQ_W-1:0] hq_cnt_reg;
reg             hq_pop;

wire hq_push = s_axis_head_valid && s_axis_head_ready;
assign s_axis_head_ready = run && hq_cnt_reg != LOOKAHEAD[HQ_W-1:0];

wire [15:0] h0_id = hq_id[0];
wire [15:0] h0_index = hq_index[0];
wire        h0_valid = hq_cnt_reg != {HQ_W{1'b0}};

/*
 * Stage 1 registers
 */
reg  [2:0]          state_reg, state_next;
reg  [15:0]         head_reg, head_next;                // the chain stage 1 walks
reg  [15:0]         head_index_reg, head_index_next;
reg  [15:0]         desc_idx_reg, desc_idx_next;
reg  [15:0]         chain_cnt_reg, chain_cnt_next;
reg                 desc_word_reg, desc_word_next;
reg  [127:0]        desc_reg, desc_next;

// the window: win_cnt descriptors from win_start, read after avail.idx was win_limit
reg                 win_valid_reg, win_valid_next;
reg  [QW-1:0]       win_start_reg, win_start_next;
reg  [WIN_W-1:0]    win_cnt_reg, win_cnt_next;
reg  [15:0]         win_limit_reg, win_limit_next;
reg  [QW-1:0]       win_rd_start_reg, win_rd_start_next;   // the start of the window to read
reg                 win_busy_reg, win_busy_next;        // window read presented or status owed

// table slots: read issued, read in; allocated and freed in item order
reg  [TABLE_SLOTS-1:0] tbl_busy_reg, tbl_busy_next;     // allocated (read issued, or table not yet walked)
reg  [TABLE_SLOTS-1:0] tbl_done_reg, tbl_done_next;     // its read's status came back
reg  [SL_W-1:0]     tbl_alloc_reg, tbl_alloc_next;
reg  [SC_W-1:0]     tbl_owed_reg, tbl_owed_next;        // table reads whose status is owed

reg  [63:0]         rd_addr_reg, rd_addr_next;
reg  [RAM_ADDR_WIDTH-1:0] rd_ram_reg, rd_ram_next;
reg  [LEN_WIDTH-1:0] rd_len_reg, rd_len_next;
reg  [TAG_WIDTH-1:0] rd_tag_reg, rd_tag_next;
reg                 rd_valid_reg, rd_valid_next;

/*
 * Item FIFO: a segment {addr, len, write, last, head}, or a table {slot, entries, head}
 */
reg                 it_table [0:ITEM_FIFO-1];
reg  [63:0]         it_addr [0:ITEM_FIFO-1];
reg  [31:0]         it_len [0:ITEM_FIFO-1];
reg                 it_write [0:ITEM_FIFO-1];
reg                 it_last [0:ITEM_FIFO-1];
reg  [15:0]         it_head [0:ITEM_FIFO-1];
reg  [SL_W-1:0]     it_slot [0:ITEM_FIFO-1];
reg  [TBL_W-1:0]    it_cnt [0:ITEM_FIFO-1];
reg  [IF_W-1:0]     it_wr_reg, it_rd_reg;
reg  [IC_W-1:0]     it_cnt_reg;
reg                 it_push, it_pop;
reg                 it_push_table, it_push_write, it_push_last;
reg  [63:0]         it_push_addr;
reg  [31:0]         it_push_len;
reg  [SL_W-1:0]     it_push_slot;
reg  [TBL_W-1:0]    it_push_cnt;

wire it_full = it_cnt_reg == ITEM_FIFO[IC_W-1:0];
wire it_empty = it_cnt_reg == {IC_W{1'b0}};

/*
 * Stage 2 registers and the segment output
 */
reg  [1:0]          t_state_reg, t_state_next;
reg  [SL_W-1:0]     t_slot_reg, t_slot_next;
reg  [TBL_W-1:0]    t_cnt_reg, t_cnt_next;              // the table's entries
reg  [15:0]         t_idx_reg, t_idx_next;
reg  [15:0]         t_chain_reg, t_chain_next;
reg  [15:0]         t_head_reg, t_head_next;
reg                 t_word_reg, t_word_next;
reg  [127:0]        t_desc_reg, t_desc_next;

reg  [63:0]         seg_addr_reg, seg_addr_next;
reg  [31:0]         seg_len_reg, seg_len_next;
reg                 seg_write_reg, seg_write_next;
reg                 seg_last_reg, seg_last_next;
reg  [15:0]         seg_head_reg, seg_head_next;
reg                 seg_valid_reg, seg_valid_next;

reg                 err_valid_reg, err_valid_next;
reg  [3:0]          err_cause_reg, err_cause_next;

// per-cycle
reg                 win_rd_en, tbl_rd_en;
reg  [WIN_RAM_W-1:0] win_rd_byte;
reg  [TBL_RAM_W-1:0] tbl_rd_byte;
reg  [BYTE_SHIFT-1:0] win_rd_off_reg, win_rd_off_next, tbl_rd_off_reg, tbl_rd_off_next;
reg                 raise1, raise2;
reg  [3:0]          cause1, cause2;
reg                 tbl_issue;
reg                 tbl_free;

/*
 * RAMs: the tables (stage 2 reads) and the window (stage 1 reads), split by the write address
 */
wire [RAM_ADDR_WIDTH-1:0] ram_wr_byte = {ram_wr_addr, {BYTE_SHIFT{1'b0}}};
wire ram_wr_table = ram_wr_byte < TBL_AREA_32[RAM_ADDR_WIDTH-1:0];
/* verilator lint_off UNUSEDSIGNAL */ // each RAM takes the low address bits of its area
wire [RAM_ADDR_WIDTH-1:0] ram_wr_win_byte = ram_wr_byte - TBL_AREA_32[RAM_ADDR_WIDTH-1:0];
/* verilator lint_on UNUSEDSIGNAL */
wire [RAM_DATA_WIDTH-1:0] win_rd_data, tbl_rd_data;

dma_ram #(
    .DATA_WIDTH(RAM_DATA_WIDTH),
    .ADDR_WIDTH(TBL_RAM_W - BYTE_SHIFT)
)
tbl_ram_inst (
    .clk(clk),
    .wr_en(ram_wr_en && ram_wr_table),
    .wr_addr(ram_wr_byte[TBL_RAM_W-1:BYTE_SHIFT]),
    .wr_be(ram_wr_be),
    .wr_data(ram_wr_data),
    .rd_en(tbl_rd_en),
    .rd_addr(tbl_rd_byte[TBL_RAM_W-1:BYTE_SHIFT]),
    .rd_data(tbl_rd_data)
);

dma_ram #(
    .DATA_WIDTH(RAM_DATA_WIDTH),
    .ADDR_WIDTH(WIN_RAM_W - BYTE_SHIFT)
)
win_ram_inst (
    .clk(clk),
    .wr_en(ram_wr_en && !ram_wr_table),
    .wr_addr(ram_wr_win_byte[WIN_RAM_W-1:BYTE_SHIFT]),
    .wr_be(ram_wr_be),
    .wr_data(ram_wr_data),
    .rd_en(win_rd_en),
    .rd_addr(win_rd_byte[WIN_RAM_W-1:BYTE_SHIFT]),
    .rd_data(win_rd_data)
);

/* verilator lint_off UNUSEDSIGNAL */ // a descriptor takes 128 bits of the word
wire [RAM_DATA_WIDTH-1:0] win_shifted = win_rd_data >> {win_rd_off_reg, 3'b000};
wire [RAM_DATA_WIDTH-1:0] tbl_shifted = tbl_rd_data >> {tbl_rd_off_reg, 3'b000};
/* verilator lint_on UNUSEDSIGNAL */
wire [127:0] win_desc, tbl_desc;

generate
    if (WORD_BYTES >= 16) begin : g_desc_wide
        assign win_desc = win_shifted[127:0];
        assign tbl_desc = tbl_shifted[127:0];
    end else begin : g_desc_narrow
        // two words, low half first
        assign win_desc = {win_shifted[63:0], desc_reg[127:64]};
        assign tbl_desc = {tbl_shifted[63:0], t_desc_reg[127:64]};
    end
endgenerate

// stage 1's descriptor
wire [63:0] d_addr = desc_reg[63:0];
wire [31:0] d_len = desc_reg[95:64];
/* verilator lint_off UNUSEDSIGNAL */ // flag bits 15:3 are not defined for split rings
wire [15:0] d_flags = desc_reg[111:96];
wire [15:0] t_flags = t_desc_reg[111:96];
/* verilator lint_on UNUSEDSIGNAL */
wire [15:0] d_next = desc_reg[127:112];
wire d_has_next = d_flags[VRING_DESC_F_NEXT];
wire d_indirect = d_flags[VRING_DESC_F_INDIRECT];
// stage 2's
wire [63:0] t_addr = t_desc_reg[63:0];
wire [31:0] t_len = t_desc_reg[95:64];
wire [15:0] t_next = t_desc_reg[127:112];
wire t_has_next = t_flags[VRING_DESC_F_NEXT];

// the running size Q (set while the queue is stopped; QUEUE_SIZE is the largest): a descriptor index is
// valid below Q, a window ends at the table's end, a chain of Q descriptors with NEXT is a loop
/* verilator lint_off UNUSEDSIGNAL */ // at most QUEUE_SIZE
wire [15:0] qsize_in = queue_size;
/* verilator lint_on UNUSEDSIGNAL */
wire [16:0] qsize_17 = {{16-QW{1'b0}}, qsize_in[QW:0]};

// the window: hit for a descriptor, its RAM byte offset (pure functions: every input an argument, so a
// continuous assignment that calls them follows every input on any simulator)
function win_hit;
    input [QW-1:0]    idx;
    input [QW-1:0]    start;
    input [WIN_W-1:0] cnt;
    reg   [QW-1:0]    rel;
    begin
        rel = idx - start;
        win_hit = idx >= start && {{16-QW{1'b0}}, rel} < {{16-WIN_W{1'b0}}, cnt};
    end
endfunction

/* verilator lint_off UNUSEDSIGNAL */ // a hit is less than DESC_WINDOW away
function [WIN_RAM_W-1:0] win_byte;
    input [QW-1:0] idx;
    input [QW-1:0] start;
    input          word;
    reg   [15:0]   rel;
    begin
        rel = {{16-QW{1'b0}}, idx - start};
        win_byte = {{WIN_RAM_W-WOFF_W-4{1'b0}}, rel[WOFF_W-1:0], 4'b0000} + {{WIN_RAM_W-4{1'b0}}, word, 3'b000};
    end
endfunction

function [TBL_RAM_W-1:0] tbl_byte;
    input [SL_W-1:0] slot;
    input [15:0]     idx;
    input            word;
    reg   [31:0]     off;
    begin
        off = {{32-SL_W{1'b0}}, slot} * TBL_BYTES_32 + {{28-TOFF_W{1'b0}}, idx[TOFF_W-1:0], 4'b0000}
            + {28'd0, word, 3'b000};
        tbl_byte = off[TBL_RAM_W-1:0];
    end
endfunction
/* verilator lint_on UNUSEDSIGNAL */

// a window for head h0: start at the lowest queued head it can cover together with h0 (the minimum of h0 and
// every queued head within DESC_WINDOW below it, as a tree of log2(LOOKAHEAD) compare-select levels)
reg  [LOOKAHEAD*QW-1:0] pick_tree;
reg  [QW-1:0] pick_start;
integer i, step;
always @* begin
    for (i = 0; i < LOOKAHEAD; i = i + 1) begin
        if (i != 0 && i < {{32-HQ_W{1'b0}}, hq_cnt_reg} && {1'b0, hq_id[i]} < qsize_17
                && {1'b0, hq_id[i][QW-1:0]} + WINDOW_17[QW:0] > {1'b0, h0_id[QW-1:0]}) begin
            pick_tree[i*QW +: QW] = hq_id[i][QW-1:0];
        end else begin
            pick_tree[i*QW +: QW] = h0_id[QW-1:0];
        end
    end
    for (step = 1; step < LOOKAHEAD; step = step * 2) begin
        for (i = 0; i + step < LOOKAHEAD; i = i + 2*step) begin
            if (pick_tree[(i+step)*QW +: QW] < pick_tree[i*QW +: QW]) begin
                pick_tree[i*QW +: QW] = pick_tree[(i+step)*QW +: QW];
            end
        end
    end
    pick_start = pick_tree[QW-1:0];
end

wire [16:0] win_to_end = qsize_17 - {{17-QW{1'b0}}, win_rd_start_reg};
/* verilator lint_off UNUSEDSIGNAL */ // at most DESC_WINDOW
wire [16:0] win_rd_cnt_full = (win_to_end < WINDOW_17) ? win_to_end : WINDOW_17;
/* verilator lint_on UNUSEDSIGNAL */
wire [WIN_W-1:0] win_rd_cnt = win_rd_cnt_full[WIN_W-1:0];

wire rd_free = !rd_valid_reg || m_axis_read_desc_ready;
wire seg_free = !seg_valid_reg || m_axis_seg_ready;
wire slot_free = !tbl_busy_reg[tbl_alloc_reg];

// a status: the window (tag bit SL_W clear) or a table slot
wire st_table = s_axis_read_desc_status_tag[SL_W];
wire [SL_W-1:0] st_slot = s_axis_read_desc_status_tag[SL_W-1:0];

// the window is fresh for a head: read after an avail.idx that covered it (age 1..QUEUE_SIZE)
wire [15:0] head_age = win_limit_reg - head_index_reg;
wire [15:0] h0_age = win_limit_reg - h0_index;
wire head_fresh = win_valid_reg && head_age != 16'd0 && {1'b0, head_age} <= qsize_17;
wire h0_fresh = win_valid_reg && h0_age != 16'd0 && {1'b0, h0_age} <= qsize_17;
// the next descriptor of stage 1's chain is in the window; the next head's first one is
wire next_direct = head_fresh && win_hit(d_next[QW-1:0], win_start_reg, win_cnt_reg);
wire head_direct = h0_fresh && win_hit(h0_id[QW-1:0], win_start_reg, win_cnt_reg);

assign m_axis_seg_addr = seg_addr_reg;
assign m_axis_seg_len = seg_len_reg;
assign m_axis_seg_write = seg_write_reg;
assign m_axis_seg_last = seg_last_reg;
assign m_axis_seg_head = seg_head_reg;
assign m_axis_seg_valid = seg_valid_reg;

assign m_axis_read_desc_pcie_addr = rd_addr_reg;
assign m_axis_read_desc_ram_addr = rd_ram_reg;
assign m_axis_read_desc_len = rd_len_reg;
assign m_axis_read_desc_tag = rd_tag_reg;
assign m_axis_read_desc_valid = rd_valid_reg;

assign err_valid = err_valid_reg;
assign err_cause = err_cause_reg;
assign idle = !win_busy_reg && tbl_owed_reg == {SC_W{1'b0}} && !rd_valid_reg;
assign busy = h0_valid || state_reg != S_IDLE || !it_empty || t_state_reg != T_IDLE || seg_valid_reg;

always @* begin
    state_next = state_reg;
    head_next = head_reg;
    head_index_next = head_index_reg;
    desc_idx_next = desc_idx_reg;
    chain_cnt_next = chain_cnt_reg;
    desc_word_next = desc_word_reg;
    desc_next = desc_reg;
    win_valid_next = win_valid_reg;
    win_start_next = win_start_reg;
    win_cnt_next = win_cnt_reg;
    win_limit_next = win_limit_reg;
    win_rd_start_next = win_rd_start_reg;
    win_busy_next = win_busy_reg;
    tbl_busy_next = tbl_busy_reg;
    tbl_done_next = tbl_done_reg;
    tbl_alloc_next = tbl_alloc_reg;
    tbl_owed_next = tbl_owed_reg;
    rd_addr_next = rd_addr_reg;
    rd_ram_next = rd_ram_reg;
    rd_len_next = rd_len_reg;
    rd_tag_next = rd_tag_reg;
    rd_valid_next = rd_valid_reg && !m_axis_read_desc_ready;

    t_state_next = t_state_reg;
    t_slot_next = t_slot_reg;
    t_cnt_next = t_cnt_reg;
    t_idx_next = t_idx_reg;
    t_chain_next = t_chain_reg;
    t_head_next = t_head_reg;
    t_word_next = t_word_reg;
    t_desc_next = t_desc_reg;
    seg_addr_next = seg_addr_reg;
    seg_len_next = seg_len_reg;
    seg_write_next = seg_write_reg;
    seg_last_next = seg_last_reg;
    seg_head_next = seg_head_reg;
    seg_valid_next = seg_valid_reg && !m_axis_seg_ready;

    err_valid_next = 1'b0;
    err_cause_next = err_cause_reg;

    hq_pop = 1'b0;
    it_push = 1'b0;
    it_pop = 1'b0;
    it_push_table = 1'b0;
    it_push_addr = d_addr;
    it_push_len = d_len;
    it_push_write = d_flags[VRING_DESC_F_WRITE];
    it_push_last = !d_has_next;
    it_push_slot = tbl_alloc_reg;
    it_push_cnt = d_len[TBL_W+3:4];
    win_rd_en = 1'b0;
    win_rd_byte = {WIN_RAM_W{1'b0}};
    tbl_rd_en = 1'b0;
    tbl_rd_byte = {TBL_RAM_W{1'b0}};
    win_rd_off_next = win_rd_off_reg;
    tbl_rd_off_next = tbl_rd_off_reg;
    raise1 = 1'b0;
    cause1 = 4'd0;
    raise2 = 1'b0;
    cause2 = 4'd0;
    tbl_issue = 1'b0;
    tbl_free = 1'b0;

    // -- statuses -------------------------------------------------------------------------------------
    if (s_axis_read_desc_status_valid) begin
        if (st_table) begin
            tbl_done_next[st_slot] = 1'b1;
            tbl_owed_next = tbl_owed_next - 1'b1;
        end else begin
            win_busy_next = 1'b0;
        end
        if (s_axis_read_desc_status_error != 4'd0) begin
            raise1 = 1'b1;
            cause1 = ERR_DMA_RD;
        end
    end

    // -- stage 1: heads and the ring's descriptors ----------------------------------------------------
    case (state_reg)
        S_IDLE: begin
            if (run && h0_valid) begin
                head_next = h0_id;
                head_index_next = h0_index;
                desc_idx_next = h0_id;
                chain_cnt_next = 16'd0;
                desc_word_next = 1'b0;
                if ({1'b0, h0_id} >= qsize_17) begin
                    raise1 = 1'b1;
                    cause1 = ERR_NEXT_RANGE;
                end else if (head_direct) begin
                    win_rd_en = 1'b1;
                    win_rd_byte = win_byte(h0_id[QW-1:0], win_start_reg, 1'b0);
                    state_next = S_LOAD;
                end else begin
                    win_rd_start_next = pick_start;
                    state_next = S_WIN_RD;
                end
            end
        end
        S_WIN_RD: begin
            if (run && rd_free && !win_busy_reg) begin
                rd_addr_next = desc_base + {{60-QW{1'b0}}, win_rd_start_reg, 4'b0000};
                rd_ram_next = TBL_AREA_32[RAM_ADDR_WIDTH-1:0];
                rd_len_next = {{LEN_WIDTH-WIN_W-4{1'b0}}, win_rd_cnt, 4'b0000};
                rd_tag_next = {TAG_WIDTH{1'b0}};
                rd_valid_next = 1'b1;
                win_busy_next = 1'b1;
                win_valid_next = 1'b1;
                win_start_next = win_rd_start_reg;
                win_cnt_next = win_rd_cnt;
                win_limit_next = avail_idx;
                state_next = S_WIN_WAIT;
            end
        end
        S_WIN_WAIT: begin
            if (!win_busy_reg) begin
                win_rd_en = 1'b1;
                win_rd_byte = win_byte(desc_idx_reg[QW-1:0], win_start_reg, 1'b0);
                state_next = S_LOAD;
            end
        end
        S_LOAD: begin
            desc_next = win_desc;
            if (DESC_WORDS > 1 && !desc_word_reg) begin
                desc_word_next = 1'b1;
                win_rd_en = 1'b1;
                win_rd_byte = win_byte(desc_idx_reg[QW-1:0], win_start_reg, 1'b1);
            end else begin
                state_next = S_CHECK;
            end
        end
        S_CHECK: begin
            // every check passes before the buffer, the table or the next descriptor is used
            if (dir_bad(d_flags)) begin
                raise1 = 1'b1;
                cause1 = ERR_BUF_DIR;
            end else if (d_indirect) begin
                if (!feat_indirect) begin
                    raise1 = 1'b1;
                    cause1 = ERR_INDIRECT_FEAT;
                end else if (chain_cnt_reg != 16'd0 || d_has_next) begin
                    raise1 = 1'b1;
                    cause1 = ERR_INDIRECT_NEST;
                end else if (d_len == 32'd0 || d_len[3:0] != 4'd0 || d_len > IND_BYTES_32) begin
                    raise1 = 1'b1;
                    cause1 = ERR_INDIRECT_LEN;
                end else if (run && rd_free && slot_free && !it_full) begin
                    // the table into the next slot; stage 2 walks it in item order
                    rd_addr_next = d_addr;
                    rd_ram_next = {{RAM_ADDR_WIDTH-TBL_RAM_W{1'b0}}, tbl_byte(tbl_alloc_reg, 16'd0, 1'b0)};
                    rd_len_next = d_len[LEN_WIDTH-1:0];
                    rd_tag_next = {{TAG_WIDTH-SL_W-1{1'b0}}, 1'b1, tbl_alloc_reg};
                    rd_valid_next = 1'b1;
                    tbl_issue = 1'b1;
                    it_push = 1'b1;
                    it_push_table = 1'b1;
                    hq_pop = 1'b1;
                    state_next = S_IDLE;
                end
            end else if (d_has_next && {1'b0, d_next} >= qsize_17) begin
                raise1 = 1'b1;
                cause1 = ERR_NEXT_RANGE;
            end else if (d_has_next && {1'b0, chain_cnt_reg} + 17'd1 >= qsize_17) begin
                raise1 = 1'b1;
                cause1 = ERR_CHAIN_LOOP;
            end else if (run && !it_full) begin
                it_push = 1'b1;
                chain_cnt_next = chain_cnt_reg + 16'd1;
                desc_idx_next = d_next;
                desc_word_next = 1'b0;
                if (!d_has_next) begin
                    hq_pop = 1'b1;
                    state_next = S_IDLE;
                end else if (next_direct) begin
                    win_rd_en = 1'b1;
                    win_rd_byte = win_byte(d_next[QW-1:0], win_start_reg, 1'b0);
                    state_next = S_LOAD;
                end else begin
                    win_rd_start_next = d_next[QW-1:0];
                    state_next = S_WIN_RD;
                end
            end
        end
        S_HALT: begin
            // stopped by an error: wait for clear
        end
        default: begin
            state_next = S_IDLE;
        end
    endcase

    if (tbl_issue) begin
        tbl_busy_next[tbl_alloc_reg] = 1'b1;
        tbl_done_next[tbl_alloc_reg] = 1'b0;
        tbl_alloc_next = tbl_alloc_reg + 1'b1;
        tbl_owed_next = tbl_owed_next + 1'b1;
    end

    // -- stage 2: items in order; tables walked once their read is in ----------------------------------
    case (t_state_reg)
        T_IDLE: begin
            if (run && !it_empty) begin
                if (!it_table[it_rd_reg]) begin
                    if (seg_free) begin
                        seg_addr_next = it_addr[it_rd_reg];
                        seg_len_next = it_len[it_rd_reg];
                        seg_write_next = it_write[it_rd_reg];
                        seg_last_next = it_last[it_rd_reg];
                        seg_head_next = it_head[it_rd_reg];
                        seg_valid_next = 1'b1;
                        it_pop = 1'b1;
                    end
                end else if (tbl_done_reg[it_slot[it_rd_reg]]) begin
                    t_slot_next = it_slot[it_rd_reg];
                    t_cnt_next = it_cnt[it_rd_reg];
                    t_head_next = it_head[it_rd_reg];
                    t_idx_next = 16'd0;
                    t_chain_next = 16'd0;
                    t_word_next = 1'b0;
                    tbl_rd_en = 1'b1;
                    tbl_rd_byte = tbl_byte(it_slot[it_rd_reg], 16'd0, 1'b0);
                    it_pop = 1'b1;
                    t_state_next = T_LOAD;
                end
            end
        end
        T_LOAD: begin
            t_desc_next = tbl_desc;
            if (DESC_WORDS > 1 && !t_word_reg) begin
                t_word_next = 1'b1;
                tbl_rd_en = 1'b1;
                tbl_rd_byte = tbl_byte(t_slot_reg, t_idx_reg, 1'b1);
            end else begin
                t_state_next = T_CHECK;
            end
        end
        T_CHECK: begin
            if (dir_bad(t_flags)) begin
                raise2 = 1'b1;
                cause2 = ERR_BUF_DIR;
            end else if (t_flags[VRING_DESC_F_INDIRECT]) begin
                // an INDIRECT descriptor inside a table: not acked is still 4, else 5 (the table is not read)
                raise2 = 1'b1;
                cause2 = feat_indirect ? ERR_INDIRECT_NEST : ERR_INDIRECT_FEAT;
            end else if (t_has_next && {1'b0, t_next} >= {{17-TBL_W{1'b0}}, t_cnt_reg}) begin
                raise2 = 1'b1;
                cause2 = ERR_NEXT_RANGE;
            end else if (t_has_next && {1'b0, t_chain_reg} + 17'd1 >= {{17-TBL_W{1'b0}}, t_cnt_reg}) begin
                raise2 = 1'b1;
                cause2 = ERR_CHAIN_LOOP;
            end else if (run && seg_free) begin
                seg_addr_next = t_addr;
                seg_len_next = t_len;
                seg_write_next = t_flags[VRING_DESC_F_WRITE];
                seg_last_next = !t_has_next;
                seg_head_next = t_head_reg;
                seg_valid_next = 1'b1;
                t_chain_next = t_chain_reg + 16'd1;
                t_idx_next = t_next;
                t_word_next = 1'b0;
                if (t_has_next) begin
                    tbl_rd_en = 1'b1;
                    tbl_rd_byte = tbl_byte(t_slot_reg, t_next, 1'b0);
                    t_state_next = T_LOAD;
                end else begin
                    tbl_free = 1'b1;
                    t_state_next = T_IDLE;
                end
            end
        end
        default: begin
            // T_HALT: stopped by an error, wait for clear
        end
    endcase

    if (tbl_free) begin
        tbl_busy_next[t_slot_reg] = 1'b0;
        tbl_done_next[t_slot_reg] = 1'b0;
    end

    if (win_rd_en) begin
        win_rd_off_next = win_rd_byte[BYTE_SHIFT-1:0];
    end
    if (tbl_rd_en) begin
        tbl_rd_off_next = tbl_rd_byte[BYTE_SHIFT-1:0];
    end

    if ((raise1 || raise2) && run) begin
        err_valid_next = 1'b1;
        err_cause_next = raise1 ? cause1 : cause2;
    end
    if (raise1 || raise2) begin
        // stopped where they stand: the queue drains and clears
        state_next = S_HALT;
        t_state_next = T_HALT;
        it_push = 1'b0;
        hq_pop = 1'b0;
    end

    if (clear) begin
        state_next = S_IDLE;
        t_state_next = T_IDLE;
        win_valid_next = 1'b0;
        win_busy_next = 1'b0;
        tbl_busy_next = {TABLE_SLOTS{1'b0}};
        tbl_done_next = {TABLE_SLOTS{1'b0}};
        tbl_alloc_next = {SL_W{1'b0}};
        tbl_owed_next = {SC_W{1'b0}};
        rd_valid_next = 1'b0;
        seg_valid_next = 1'b0;
    end
end

integer k;

always @(posedge clk) begin
    state_reg <= state_next;
    head_reg <= head_next;
    head_index_reg <= head_index_next;
    desc_idx_reg <= desc_idx_next;
    chain_cnt_reg <= chain_cnt_next;
    desc_word_reg <= desc_word_next;
    desc_reg <= desc_next;
    win_valid_reg <= win_valid_next;
    win_start_reg <= win_start_next;
    win_cnt_reg <= win_cnt_next;
    win_limit_reg <= win_limit_next;
    win_rd_start_reg <= win_rd_start_next;
    win_busy_reg <= win_busy_next;
    tbl_busy_reg <= tbl_busy_next;
    tbl_done_reg <= tbl_done_next;
    tbl_alloc_reg <= tbl_alloc_next;
    tbl_owed_reg <= tbl_owed_next;
    rd_addr_reg <= rd_addr_next;
    rd_ram_reg <= rd_ram_next;
    rd_len_reg <= rd_len_next;
    rd_tag_reg <= rd_tag_next;
    rd_valid_reg <= rd_valid_next;
    t_state_reg <= t_state_next;
    t_slot_reg <= t_slot_next;
    t_cnt_reg <= t_cnt_next;
    t_idx_reg <= t_idx_next;
    t_chain_reg <= t_chain_next;
    t_head_reg <= t_head_next;
    t_word_reg <= t_word_next;
    t_desc_reg <= t_desc_next;
    seg_addr_reg <= seg_addr_next;
    seg_len_reg <= seg_len_next;
    seg_write_reg <= seg_write_next;
    seg_last_reg <= seg_last_next;
    seg_head_reg <= seg_head_next;
    seg_valid_reg <= seg_valid_next;
    err_valid_reg <= err_valid_next;
    err_cause_reg <= err_cause_next;
    win_rd_off_reg <= win_rd_off_next;
    tbl_rd_off_reg <= tbl_rd_off_next;

    // head queue: shift out the oldest, append at the end (the loop only when it moves: an event simulator
    // such as Icarus runs a loop in a clocked block on every cycle)
    if (hq_pop || hq_push) begin
        for (k = 0; k < LOOKAHEAD; k = k + 1) begin
            if (hq_pop) begin
                if (k + 1 < LOOKAHEAD) begin
                    hq_id[k] <= hq_id[k + 1];
                    hq_index[k] <= hq_index[k + 1];
                end
                if (hq_push && k + 1 == {{32-HQ_W{1'b0}}, hq_cnt_reg}) begin
                    hq_id[k] <= s_axis_head_id;
                    hq_index[k] <= s_axis_head_index;
                end
            end else if (hq_push && k == {{32-HQ_W{1'b0}}, hq_cnt_reg}) begin
                hq_id[k] <= s_axis_head_id;
                hq_index[k] <= s_axis_head_index;
            end
        end
    end
    hq_cnt_reg <= hq_cnt_reg + {{HQ_W-1{1'b0}}, hq_push} - {{HQ_W-1{1'b0}}, hq_pop};

    // item FIFO
    if (it_push) begin
        it_table[it_wr_reg] <= it_push_table;
        it_addr[it_wr_reg] <= it_push_addr;
        it_len[it_wr_reg] <= it_push_len;
        it_write[it_wr_reg] <= it_push_write;
        it_last[it_wr_reg] <= it_push_last;
        it_head[it_wr_reg] <= head_reg;
        it_slot[it_wr_reg] <= it_push_slot;
        it_cnt[it_wr_reg] <= it_push_cnt;
        it_wr_reg <= it_wr_reg + 1'b1;
    end
    if (it_pop) begin
        it_rd_reg <= it_rd_reg + 1'b1;
    end
    it_cnt_reg <= it_cnt_reg + {{IC_W-1{1'b0}}, it_push} - {{IC_W-1{1'b0}}, it_pop};

    if (rst || clear) begin
        hq_cnt_reg <= {HQ_W{1'b0}};
        it_wr_reg <= {IF_W{1'b0}};
        it_rd_reg <= {IF_W{1'b0}};
        it_cnt_reg <= {IC_W{1'b0}};
    end
    if (rst) begin
        state_reg <= S_IDLE;
        head_reg <= 16'd0;
        head_index_reg <= 16'd0;
        desc_idx_reg <= 16'd0;
        chain_cnt_reg <= 16'd0;
        win_valid_reg <= 1'b0;
        win_start_reg <= {QW{1'b0}};
        win_cnt_reg <= {WIN_W{1'b0}};
        win_limit_reg <= 16'd0;
        win_rd_start_reg <= {QW{1'b0}};
        win_busy_reg <= 1'b0;
        tbl_busy_reg <= {TABLE_SLOTS{1'b0}};
        tbl_done_reg <= {TABLE_SLOTS{1'b0}};
        tbl_alloc_reg <= {SL_W{1'b0}};
        tbl_owed_reg <= {SC_W{1'b0}};
        rd_valid_reg <= 1'b0;
        t_state_reg <= T_IDLE;
        seg_valid_reg <= 1'b0;
        err_valid_reg <= 1'b0;
        err_cause_reg <= 4'd0;
    end
end

endmodule

`resetall
