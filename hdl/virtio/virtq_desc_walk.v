// SPDX-License-Identifier: MIT
/*
 * virtq_desc_walk: walks each head's descriptor chain, checks every descriptor, and emits the chain's
 * buffers as segments for a queue user (the TX buffer mover reads them; an RX user writes them). One
 * chain at a time, in head order; the segments of a chain leave in chain order, the last one marked.
 *
 * Descriptors come from a window of DESC_WINDOW consecutive descriptors read by DMA starting at the one
 * needed (never past the table's end), or from an INDIRECT table read whole. The window serves later
 * heads only while it is fresh for them: it was read after an avail.idx value that already covered the
 * head (descriptors of published chains do not change; the driver reuses a descriptor only for an entry
 * it publishes later). An INDIRECT table overwrites the window.
 *
 * Checks, in this order, each before anything of the descriptor is used (its buffer read or written, its
 * table read), so a violation is reported before any DMA to the offending address:
 *   head (an avail.ring entry) >= QUEUE_SIZE                                       2
 *   a buffer of a direction the user does not take (BUF_WRITE = 0: the WRITE flag;
 *     BUF_READ = 0: a device-readable buffer)                                      7
 *   INDIRECT: not acked (feat_indirect)                                            4
 *             inside a table, after other descriptors, or with NEXT                5
 *             length 0, not a multiple of 16, or above 16*INDIRECT_MAX             6
 *   next >= QUEUE_SIZE (direct) or >= the table's entries (indirect)               2
 *   the QUEUE_SIZE-th descriptor of a direct chain, or the table's last, with NEXT 3 (a loop)
 *   a DMA read error on the window or the table                                    9
 * Buffers of length 0 are emitted too (the user skips them); every chain emits at least one segment.
 *
 * Throughput: a descriptor found in the window or the table takes two cycles (RAM read, check and emit);
 * the next one's RAM read starts in the same cycle as this one's check.
 *
 * run = 0: no new DMA and no new head (a read already issued is counted back: idle reports when none is
 * owed); clear: back to the reset state.
 *
 * RAM (this block's, written by the DMA read engine): the window or the table at byte 0,
 * 16*max(DESC_WINDOW, INDIRECT_MAX) bytes.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module virtq_desc_walk #
(
    parameter QUEUE_SIZE = 256,
    parameter RAM_DATA_WIDTH = 256,
    parameter RAM_ADDR_WIDTH = 10,
    parameter LEN_WIDTH = 16,
    parameter TAG_WIDTH = 5,
    // descriptors read per window fetch
    parameter DESC_WINDOW = 16,
    // largest INDIRECT table, in descriptors
    parameter INDIRECT_MAX = 64,
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
     * DMA read (window, INDIRECT table) and the RAM write port
     */
    output wire [63:0]                  m_axis_read_desc_pcie_addr,
    output wire [RAM_ADDR_WIDTH-1:0]    m_axis_read_desc_ram_addr,
    output wire [LEN_WIDTH-1:0]         m_axis_read_desc_len,
    output wire [TAG_WIDTH-1:0]         m_axis_read_desc_tag,
    output wire                         m_axis_read_desc_valid,
    input  wire                         m_axis_read_desc_ready,
    input  wire [3:0]                   s_axis_read_desc_status_error,
    input  wire                         s_axis_read_desc_status_valid,

    input  wire                         ram_wr_en,
    input  wire [RAM_WORD_WIDTH-1:0]    ram_wr_addr,
    input  wire [RAM_DATA_WIDTH/8-1:0]  ram_wr_be,
    input  wire [RAM_DATA_WIDTH-1:0]    ram_wr_data,

    output wire                         err_valid,
    output wire [3:0]                   err_cause,
    output wire                         idle,           // no DMA owed or presented
    output wire                         busy            // a chain in progress, or a segment held
);

localparam WORD_BYTES = RAM_DATA_WIDTH/8;
localparam BYTE_SHIFT = $clog2(WORD_BYTES);
localparam QW = $clog2(QUEUE_SIZE);
localparam DESC_ENTRIES = (DESC_WINDOW > INDIRECT_MAX) ? DESC_WINDOW : INDIRECT_MAX;
localparam DESC_WORDS = (WORD_BYTES >= 16) ? 1 : 16 / WORD_BYTES;
localparam WIN_W = $clog2(DESC_WINDOW + 1);
localparam DOFF_W = $clog2(DESC_ENTRIES);
localparam TBL_W = $clog2(INDIRECT_MAX + 1);

localparam [16:0] QSIZE_17 = QUEUE_SIZE;
localparam [16:0] WINDOW_17 = DESC_WINDOW;
localparam [31:0] IND_BYTES_32 = 16*INDIRECT_MAX;

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

localparam [2:0]
    S_IDLE     = 3'd0,     // take the next head
    S_LOOKUP   = 3'd1,     // the next descriptor: in the window / table, or fetch a window
    S_WIN_RD   = 3'd2,
    S_DMA_WAIT = 3'd3,     // window or table read in flight
    S_LOAD     = 3'd4,     // descriptor word(s) from RAM
    S_CHECK    = 3'd5,     // check, emit, on to the next
    S_HALT     = 3'd6;     // after an error: nothing more until clear

initial begin
    if (QUEUE_SIZE < 2 || QUEUE_SIZE > 32768 || (QUEUE_SIZE & (QUEUE_SIZE - 1)) != 0) begin
        $error("Error: QUEUE_SIZE must be a power of 2 in 2..32768 (instance %m)");
        $finish;
    end
    if (WORD_BYTES < 8 || (WORD_BYTES & (WORD_BYTES - 1)) != 0) begin
        $error("Error: RAM_DATA_WIDTH must be 64, 128, 256 or 512 (instance %m)");
        $finish;
    end
    if ((1 << RAM_ADDR_WIDTH) < 16*DESC_ENTRIES || (1 << LEN_WIDTH) <= 16*DESC_ENTRIES) begin
        $error("Error: RAM_ADDR_WIDTH / LEN_WIDTH too small for the window and the table (instance %m)");
        $finish;
    end
    if (DESC_WINDOW < 1 || DESC_WINDOW > QUEUE_SIZE || INDIRECT_MAX < 1 || (BUF_READ == 0 && BUF_WRITE == 0)) begin
        $error("Error: 1 <= DESC_WINDOW <= QUEUE_SIZE, INDIRECT_MAX >= 1, a buffer direction (instance %m)");
        $finish;
    end
end

reg  [2:0]          state_reg, state_next;

// the chain
reg  [15:0]         head_reg, head_next;
reg  [15:0]         head_index_reg, head_index_next;
reg  [15:0]         desc_idx_reg, desc_idx_next;        // ring index, or table index when in_ind
reg  [15:0]         chain_cnt_reg, chain_cnt_next;
reg                 in_ind_reg, in_ind_next;
reg  [TBL_W-1:0]    tbl_cnt_reg, tbl_cnt_next;
reg  [DOFF_W-1:0]   desc_off_reg, desc_off_next;        // don't-care outside the walk
reg                 desc_word_reg, desc_word_next;
reg  [127:0]        desc_reg, desc_next;                // don't-care outside the walk

// the window: win_cnt descriptors from win_start, read after avail.idx was win_limit
reg                 win_valid_reg, win_valid_next;
reg  [QW-1:0]       win_start_reg, win_start_next;
reg  [WIN_W-1:0]    win_cnt_reg, win_cnt_next;
reg  [15:0]         win_limit_reg, win_limit_next;

reg                 dma_busy_reg, dma_busy_next;        // a read presented or its status owed
reg  [63:0]         rd_addr_reg, rd_addr_next;
reg  [LEN_WIDTH-1:0] rd_len_reg, rd_len_next;
reg                 rd_valid_reg, rd_valid_next;

reg  [63:0]         seg_addr_reg, seg_addr_next;
reg  [31:0]         seg_len_reg, seg_len_next;
reg                 seg_write_reg, seg_write_next;
reg                 seg_last_reg, seg_last_next;
reg  [15:0]         seg_head_reg, seg_head_next;
reg                 seg_valid_reg, seg_valid_next;

reg                 head_ready;
reg                 err_valid_reg, err_valid_next;
reg  [3:0]          err_cause_reg, err_cause_next;

reg                 ram_rd_en;
reg  [RAM_ADDR_WIDTH-1:0] ram_rd_byte;
reg  [BYTE_SHIFT-1:0] ram_rd_off_reg, ram_rd_off_next;
reg                 raise_err;
reg  [3:0]          raise_cause;

wire [RAM_DATA_WIDTH-1:0] ram_rd_data;

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
    .rd_addr(ram_rd_byte[RAM_ADDR_WIDTH-1:BYTE_SHIFT]),
    .rd_data(ram_rd_data)
);

/* verilator lint_off UNUSEDSIGNAL */ // a descriptor takes 128 bits of the word
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
wire d_write = d_flags[VRING_DESC_F_WRITE];
wire d_indirect = d_flags[VRING_DESC_F_INDIRECT];

// window: fresh for a head (its avail index below the avail.idx the window was read after), hit for an index
function win_fresh_for;
    input [15:0] index;
    reg   [15:0] age;
    begin
        age = win_limit_reg - index;
        win_fresh_for = win_valid_reg && age != 16'd0 && {1'b0, age} <= QSIZE_17;
    end
endfunction

// window offset of a descriptor (meaningful when it hits)
/* verilator lint_off UNUSEDSIGNAL */ // the window holds at most DESC_ENTRIES descriptors
function [DOFF_W-1:0] win_rel;
    input [QW-1:0] idx;
    reg   [15:0]   rel;
    begin
        rel = {{16-QW{1'b0}}, idx - win_start_reg};
        win_rel = rel[DOFF_W-1:0];
    end
endfunction
/* verilator lint_on UNUSEDSIGNAL */

function win_hit;
    input [QW-1:0] idx;
    reg   [QW-1:0] rel;
    begin
        rel = idx - win_start_reg;
        win_hit = idx >= win_start_reg && {{16-QW{1'b0}}, rel} < {{16-WIN_W{1'b0}}, win_cnt_reg};
    end
endfunction

function [RAM_ADDR_WIDTH-1:0] desc_ram_addr;
    input [DOFF_W-1:0] off;
    input              word;
    begin
        desc_ram_addr = {{RAM_ADDR_WIDTH-DOFF_W-4{1'b0}}, off, 4'b0000} + {{RAM_ADDR_WIDTH-4{1'b0}}, word, 3'b000};
    end
endfunction

// the next descriptor of the chain (d_next) is readable at once: in the table, or in a fresh window
wire next_direct = in_ind_reg || (win_fresh_for(head_index_reg) && win_hit(d_next[QW-1:0]));
wire [DOFF_W-1:0] next_off = in_ind_reg ? d_next[DOFF_W-1:0] : win_rel(d_next[QW-1:0]);
// a new head: its first descriptor in a fresh window
wire head_direct = win_fresh_for(s_axis_head_index) && win_hit(s_axis_head_id[QW-1:0]);

wire [16:0] walk_limit = in_ind_reg ? {{17-TBL_W{1'b0}}, tbl_cnt_reg} : QSIZE_17;
wire [16:0] desc_to_end = QSIZE_17 - {1'b0, desc_idx_reg};
/* verilator lint_off UNUSEDSIGNAL */ // at most DESC_WINDOW
wire [16:0] win_rd_cnt_full = (desc_to_end < WINDOW_17) ? desc_to_end : WINDOW_17;
/* verilator lint_on UNUSEDSIGNAL */
wire [WIN_W-1:0] win_rd_cnt = win_rd_cnt_full[WIN_W-1:0];

wire rd_free = !rd_valid_reg || m_axis_read_desc_ready;
wire seg_free = !seg_valid_reg || m_axis_seg_ready;
wire dir_bad = d_write ? BUF_WRITE == 0 : (BUF_READ == 0 && !d_indirect);

assign s_axis_head_ready = head_ready;

assign m_axis_seg_addr = seg_addr_reg;
assign m_axis_seg_len = seg_len_reg;
assign m_axis_seg_write = seg_write_reg;
assign m_axis_seg_last = seg_last_reg;
assign m_axis_seg_head = seg_head_reg;
assign m_axis_seg_valid = seg_valid_reg;

assign m_axis_read_desc_pcie_addr = rd_addr_reg;
assign m_axis_read_desc_ram_addr = {RAM_ADDR_WIDTH{1'b0}};
assign m_axis_read_desc_len = rd_len_reg;
assign m_axis_read_desc_tag = {TAG_WIDTH{1'b0}};
assign m_axis_read_desc_valid = rd_valid_reg;

assign err_valid = err_valid_reg;
assign err_cause = err_cause_reg;
assign idle = !dma_busy_reg;
assign busy = state_reg != S_IDLE || seg_valid_reg;

always @* begin
    state_next = state_reg;
    head_next = head_reg;
    head_index_next = head_index_reg;
    desc_idx_next = desc_idx_reg;
    chain_cnt_next = chain_cnt_reg;
    in_ind_next = in_ind_reg;
    tbl_cnt_next = tbl_cnt_reg;
    desc_off_next = desc_off_reg;
    desc_word_next = desc_word_reg;
    desc_next = desc_reg;
    win_valid_next = win_valid_reg;
    win_start_next = win_start_reg;
    win_cnt_next = win_cnt_reg;
    win_limit_next = win_limit_reg;
    dma_busy_next = dma_busy_reg;
    rd_addr_next = rd_addr_reg;
    rd_len_next = rd_len_reg;
    rd_valid_next = rd_valid_reg && !m_axis_read_desc_ready;
    seg_addr_next = seg_addr_reg;
    seg_len_next = seg_len_reg;
    seg_write_next = seg_write_reg;
    seg_last_next = seg_last_reg;
    seg_head_next = seg_head_reg;
    seg_valid_next = seg_valid_reg && !m_axis_seg_ready;
    head_ready = 1'b0;
    err_valid_next = 1'b0;
    err_cause_next = err_cause_reg;
    ram_rd_en = 1'b0;
    ram_rd_byte = {RAM_ADDR_WIDTH{1'b0}};
    ram_rd_off_next = ram_rd_off_reg;
    raise_err = 1'b0;
    raise_cause = 4'd0;

    if (s_axis_read_desc_status_valid) begin
        dma_busy_next = 1'b0;
    end

    case (state_reg)
        S_IDLE: begin
            if (run && s_axis_head_valid) begin
                head_ready = 1'b1;
                head_next = s_axis_head_id;
                head_index_next = s_axis_head_index;
                desc_idx_next = s_axis_head_id;
                chain_cnt_next = 16'd0;
                in_ind_next = 1'b0;
                if (s_axis_head_id[15:QW] != 0) begin
                    raise_err = 1'b1;
                    raise_cause = ERR_NEXT_RANGE;
                end else if (head_direct) begin
                    desc_off_next = win_rel(s_axis_head_id[QW-1:0]);
                    desc_word_next = 1'b0;
                    ram_rd_en = 1'b1;
                    ram_rd_byte = desc_ram_addr(desc_off_next, 1'b0);
                    state_next = S_LOAD;
                end else begin
                    state_next = S_WIN_RD;
                end
            end
        end
        S_LOOKUP: begin
            desc_word_next = 1'b0;
            if (in_ind_reg || (win_fresh_for(head_index_reg) && win_hit(desc_idx_reg[QW-1:0]))) begin
                desc_off_next = in_ind_reg ? desc_idx_reg[DOFF_W-1:0] : win_rel(desc_idx_reg[QW-1:0]);
                ram_rd_en = 1'b1;
                ram_rd_byte = desc_ram_addr(desc_off_next, 1'b0);
                state_next = S_LOAD;
            end else begin
                state_next = S_WIN_RD;
            end
        end
        S_WIN_RD: begin
            if (run && rd_free && !dma_busy_reg) begin
                rd_addr_next = desc_base + {{60-QW{1'b0}}, desc_idx_reg[QW-1:0], 4'b0000};
                rd_len_next = {{LEN_WIDTH-WIN_W-4{1'b0}}, win_rd_cnt, 4'b0000};
                rd_valid_next = 1'b1;
                dma_busy_next = 1'b1;
                win_valid_next = 1'b1;
                win_start_next = desc_idx_reg[QW-1:0];
                win_cnt_next = win_rd_cnt;
                win_limit_next = avail_idx;
                state_next = S_DMA_WAIT;
            end
        end
        S_DMA_WAIT: begin
            if (s_axis_read_desc_status_valid) begin
                if (s_axis_read_desc_status_error != 4'd0) begin
                    raise_err = 1'b1;
                    raise_cause = ERR_DMA_RD;
                end else begin
                    // the descriptor wanted is the first one read
                    desc_off_next = {DOFF_W{1'b0}};
                    desc_word_next = 1'b0;
                    ram_rd_en = 1'b1;
                    ram_rd_byte = desc_ram_addr({DOFF_W{1'b0}}, 1'b0);
                    state_next = S_LOAD;
                end
            end
        end
        S_LOAD: begin
            desc_next = desc_from_ram;
            if (DESC_WORDS > 1 && !desc_word_reg) begin
                desc_word_next = 1'b1;
                ram_rd_en = 1'b1;
                ram_rd_byte = desc_ram_addr(desc_off_reg, 1'b1);
            end else begin
                state_next = S_CHECK;
            end
        end
        S_CHECK: begin
            // every check passes before the buffer (or table) is used
            if (dir_bad) begin
                raise_err = 1'b1;
                raise_cause = ERR_BUF_DIR;
            end else if (d_indirect) begin
                if (!feat_indirect) begin
                    raise_err = 1'b1;
                    raise_cause = ERR_INDIRECT_FEAT;
                end else if (in_ind_reg || chain_cnt_reg != 16'd0 || d_has_next) begin
                    raise_err = 1'b1;
                    raise_cause = ERR_INDIRECT_NEST;
                end else if (d_len == 32'd0 || d_len[3:0] != 4'd0 || d_len > IND_BYTES_32) begin
                    raise_err = 1'b1;
                    raise_cause = ERR_INDIRECT_LEN;
                end else if (run && rd_free && !dma_busy_reg) begin
                    rd_addr_next = d_addr;
                    rd_len_next = d_len[LEN_WIDTH-1:0];
                    rd_valid_next = 1'b1;
                    dma_busy_next = 1'b1;
                    // the table overwrites the window
                    win_valid_next = 1'b0;
                    in_ind_next = 1'b1;
                    tbl_cnt_next = d_len[TBL_W+3:4];
                    desc_idx_next = 16'd0;
                    chain_cnt_next = 16'd0;
                    state_next = S_DMA_WAIT;
                end
            end else if (d_has_next && {1'b0, d_next} >= walk_limit) begin
                raise_err = 1'b1;
                raise_cause = ERR_NEXT_RANGE;
            end else if (d_has_next && {1'b0, chain_cnt_reg} + 17'd1 >= walk_limit) begin
                raise_err = 1'b1;
                raise_cause = ERR_CHAIN_LOOP;
            end else if (run && seg_free) begin
                seg_addr_next = d_addr;
                seg_len_next = d_len;
                seg_write_next = d_write;
                seg_last_next = !d_has_next;
                seg_head_next = head_reg;
                seg_valid_next = 1'b1;
                chain_cnt_next = chain_cnt_reg + 16'd1;
                desc_idx_next = d_next;
                desc_word_next = 1'b0;
                if (!d_has_next) begin
                    state_next = S_IDLE;
                end else if (next_direct) begin
                    desc_off_next = next_off;
                    ram_rd_en = 1'b1;
                    ram_rd_byte = desc_ram_addr(next_off, 1'b0);
                    state_next = S_LOAD;
                end else begin
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

    if (ram_rd_en) begin
        ram_rd_off_next = ram_rd_byte[BYTE_SHIFT-1:0];
    end

    if (raise_err && run) begin
        err_valid_next = 1'b1;
        err_cause_next = raise_cause;
    end
    if (raise_err) begin
        // stopped where it stands: the queue drains and clears
        state_next = S_HALT;
    end

    if (clear) begin
        state_next = S_IDLE;
        in_ind_next = 1'b0;
        win_valid_next = 1'b0;
        dma_busy_next = 1'b0;
        rd_valid_next = 1'b0;
        seg_valid_next = 1'b0;
    end
end

always @(posedge clk) begin
    state_reg <= state_next;
    head_reg <= head_next;
    head_index_reg <= head_index_next;
    desc_idx_reg <= desc_idx_next;
    chain_cnt_reg <= chain_cnt_next;
    in_ind_reg <= in_ind_next;
    tbl_cnt_reg <= tbl_cnt_next;
    desc_off_reg <= desc_off_next;
    desc_word_reg <= desc_word_next;
    desc_reg <= desc_next;
    win_valid_reg <= win_valid_next;
    win_start_reg <= win_start_next;
    win_cnt_reg <= win_cnt_next;
    win_limit_reg <= win_limit_next;
    dma_busy_reg <= dma_busy_next;
    rd_addr_reg <= rd_addr_next;
    rd_len_reg <= rd_len_next;
    rd_valid_reg <= rd_valid_next;
    seg_addr_reg <= seg_addr_next;
    seg_len_reg <= seg_len_next;
    seg_write_reg <= seg_write_next;
    seg_last_reg <= seg_last_next;
    seg_head_reg <= seg_head_next;
    seg_valid_reg <= seg_valid_next;
    err_valid_reg <= err_valid_next;
    err_cause_reg <= err_cause_next;
    ram_rd_off_reg <= ram_rd_off_next;

    if (rst) begin
        state_reg <= S_IDLE;
        head_reg <= 16'd0;
        head_index_reg <= 16'd0;
        desc_idx_reg <= 16'd0;
        chain_cnt_reg <= 16'd0;
        in_ind_reg <= 1'b0;
        tbl_cnt_reg <= {TBL_W{1'b0}};
        win_valid_reg <= 1'b0;
        win_start_reg <= {QW{1'b0}};
        win_cnt_reg <= {WIN_W{1'b0}};
        win_limit_reg <= 16'd0;
        dma_busy_reg <= 1'b0;
        rd_valid_reg <= 1'b0;
        seg_valid_reg <= 1'b0;
        err_valid_reg <= 1'b0;
        err_cause_reg <= 4'd0;
    end
end

endmodule

`resetall
