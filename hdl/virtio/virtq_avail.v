// SPDX-License-Identifier: MIT
/*
 * virtq_avail: the avail side of a split virtqueue. Reads {avail.flags, avail.idx}, fetches avail.ring
 * entries into a head FIFO for the descriptor walk, remembers kicks, and owns kick suppression (used.flags)
 * and pacing. Every queue (TX, RX, later the control queue) has one (hdl/virtio/README.md).
 *
 * avail.idx reads. Four reasons, one read in flight at a time:
 *   start    a kick found the queue idle (after used.flags is set as the mode asks)
 *   decision the used writer asks for it (dec_req) after its used.idx write was seen out (the barrier): the
 *            read's {flags, idx} go back to it for the interrupt decision (avail_rsp_*, avail_rsp_dec); with
 *            EVENT_IDX (feat_event_idx) a read of used_event (the u16 at avail + 4 + 2*QUEUE_SIZE) is issued
 *            right behind it, and the answer waits for both (avail_rsp_event); both reads follow the used.idx
 *            write on PCIe, so the driver either sees the new used.idx or the device its new used_event
 *   kick     a kick arrived while running and every entry this block knows of is fetched
 *   recheck  after used.flags was cleared, or avail_event written, on the way to idle (a kick the driver
 *            suppressed is not lost)
 * While the used writer wants to write used.idx (used_idx_req) no read other than its decision read is
 * started, and the used writer starts that write only while no read is in flight (avail_rd_busy): so in
 * PCIe order the first read of avail.idx after a used.idx write is always the decision read, exactly the
 * read a checker takes for it. Each read checks the index: (u16)(idx - fetched) must not exceed
 * QUEUE_SIZE - (u16)(fetched - used_idx) (the driver never makes more than QUEUE_SIZE entries available
 * beyond what the device returned, and never takes an index back), else error 1.
 *
 * avail.ring reads. While entries are known (avail.idx read > entries fetched) and the head FIFO has room:
 * one read of min(MAX_BATCH, known, up to the ring's end) entries (once the FIFO has room for them all), in
 * flight one at a time, into
 * the FIFO's storage in this block's RAM (never past the avail.idx read). Heads leave in ring order on
 * m_axis_head (the entry and its avail index), one every two cycles.
 *
 * Idle: no entry known, the FIFO empty, every fetched head used (used_idx == fetched, the used writer
 * idle), no kick remembered. With kick_suppress (used.flags = NO_NOTIFY while running) it first writes
 * used.flags = 0, waits for the write's status (barrier: PCIe keeps the following read behind it) and
 * re-reads avail.idx; entries found there are processed (NO_NOTIFY set again) without a kick.
 * pacing_timer (QEMU tx=timer): a kick arms a pacing_interval-cycle timer and sets NO_NOTIFY; its expiry,
 * or a kick while armed, starts processing (used.flags = 0 first, behind a barrier, unless kick_suppress).
 *
 * EVENT_IDX (feat_event_idx, VIRTIO_RING_F_EVENT_IDX negotiated): used.flags is never written (the driver
 * ignores it then); the driver kicks when its avail.idx moves across avail_event (the u16 at used + 4 +
 * 8*QUEUE_SIZE). While running, avail_event is left where it is: the driver does not kick, and the decision
 * reads find its new entries. On the way to idle the block writes avail_event = the next avail index it will
 * read (unless the value last written is that already), waits for the write's status (barrier), and re-reads
 * avail.idx; entries found there are processed without a kick. So whenever the block waits for a kick,
 * avail_event in host memory is the next index it will read. kick_suppress has no effect with EVENT_IDX;
 * pacing_timer still delays processing by pacing_interval (the armed timer needs no NO_NOTIFY: avail_event
 * already asks for no kick before the one that armed it is served).
 *
 * Kicks: notify (already qualified by the queue: enabled, not stopped by an error) is remembered until an
 * avail.idx read is issued after it, also across clear (a kick during a reset's drain is served once the
 * drain completes); notify_forget drops it (a reset starts: the kick belonged to the old rings).
 *
 * run = 0: no new DMA (descriptors already presented are handed over, issued ones counted back: idle
 * reports when none is owed); clear: back to the reset state except a remembered kick.
 *
 * RAM (this block's, written by the DMA read engine): byte 0: {avail.flags, avail.idx}, byte 4: used_event
 * (captured from the RAM write port as they land); byte RAM_WORD_BYTES onwards: the head FIFO, HEAD_FIFO
 * entries of 2 bytes.
 *
 * Fault knobs (test only, FAULT_ENABLE): fault_read_past_avail, sampled per ring read: the read takes one
 * entry more than published when MAX_BATCH, the ring's end and the FIFO leave room (the extra entry is
 * never used). fault_avail_event_stale, sampled on the way to idle: with EVENT_IDX, avail_event is never
 * written (the recheck read still happens): the driver stops kicking and the queue hangs.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module virtq_avail #
(
    // ring size (power of 2)
    parameter QUEUE_SIZE = 256,
    // RAM word width (the PCIe data width) and this block's RAM byte address width
    parameter RAM_DATA_WIDTH = 256,
    parameter RAM_ADDR_WIDTH = 8,
    parameter LEN_WIDTH = 16,
    // DMA tag bits this block owns (2 are used: 3 kinds of read)
    parameter TAG_WIDTH = 5,
    // ring entries per avail.ring read
    parameter MAX_BATCH = 32,
    // head FIFO entries (power of 2, at least MAX_BATCH)
    parameter HEAD_FIFO = 64,
    // test-only fault knob: 0 = removed
    parameter FAULT_ENABLE = 0,
    // derived, do not set
    parameter RAM_WORD_WIDTH = RAM_ADDR_WIDTH - $clog2(RAM_DATA_WIDTH/8)
)
(
    input  wire                         clk,
    input  wire                         rst,

    /*
     * Ring, modes, control
     */
    input  wire [63:0]                  avail_base,
    input  wire [63:0]                  used_base,
    input  wire [15:0]                  queue_size,     // the running size: a power of 2, 2..QUEUE_SIZE
    input  wire                         feat_event_idx,
    input  wire                         kick_suppress,
    input  wire                         pacing_timer,
    input  wire [31:0]                  pacing_interval,
    input  wire                         fault_read_past_avail,   // test only
    input  wire                         fault_avail_event_stale, // test only
    input  wire                         run,
    input  wire                         clear,
    input  wire                         notify,
    input  wire                         notify_forget,

    /*
     * Heads, in ring order: the avail.ring entry and its avail index
     */
    output wire [15:0]                  m_axis_head_id,
    output wire [15:0]                  m_axis_head_index,
    output wire                         m_axis_head_valid,
    input  wire                         m_axis_head_ready,

    /*
     * The used writer: committed used index, its decision read, the used.idx interlock
     */
    input  wire [15:0]                  used_idx,
    input  wire                         used_busy,
    input  wire                         used_idx_req,
    input  wire                         dec_req,        // pulse: issue the decision read
    output wire                         avail_rd_busy,
    output wire                         avail_rsp_valid,
    output wire                         avail_rsp_dec,
    output wire [15:0]                  avail_rsp_flags,
    output wire [15:0]                  avail_rsp_idx,
    output wire [15:0]                  avail_rsp_event, // used_event (EVENT_IDX decision answers)
    output wire [15:0]                  avail_idx,       // the last avail.idx read

    /*
     * DMA read (avail.idx, avail.ring, used_event) and write (used.flags or avail_event, immediate)
     */
    output wire [63:0]                  m_axis_read_desc_pcie_addr,
    output wire [RAM_ADDR_WIDTH-1:0]    m_axis_read_desc_ram_addr,
    output wire [LEN_WIDTH-1:0]         m_axis_read_desc_len,
    output wire [TAG_WIDTH-1:0]         m_axis_read_desc_tag,
    output wire                         m_axis_read_desc_valid,
    input  wire                         m_axis_read_desc_ready,
    /* verilator lint_off UNUSEDSIGNAL */ // bits 1:0 tell this block's three kinds of read apart
    input  wire [TAG_WIDTH-1:0]         s_axis_read_desc_status_tag,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [3:0]                   s_axis_read_desc_status_error,
    input  wire                         s_axis_read_desc_status_valid,

    output wire [63:0]                  m_axis_write_desc_pcie_addr,
    output wire [63:0]                  m_axis_write_desc_imm,
    output wire [LEN_WIDTH-1:0]         m_axis_write_desc_len,
    output wire                         m_axis_write_desc_valid,
    input  wire                         m_axis_write_desc_ready,
    input  wire [3:0]                   s_axis_write_desc_status_error,
    input  wire                         s_axis_write_desc_status_valid,

    /*
     * RAM write port (the DMA read engine)
     */
    input  wire                         ram_wr_en,
    input  wire [RAM_WORD_WIDTH-1:0]    ram_wr_addr,
    input  wire [RAM_DATA_WIDTH/8-1:0]  ram_wr_be,
    input  wire [RAM_DATA_WIDTH-1:0]    ram_wr_data,

    /*
     * Status
     */
    output wire                         err_valid,
    output wire [3:0]                   err_cause,
    output wire                         idle,           // nothing owed, nothing held
    output wire                         active,         // not waiting for a kick
    output wire                         used_flags      // used.flags NO_NOTIFY as last written
);

localparam WORD_BYTES = RAM_DATA_WIDTH/8;
localparam BYTE_SHIFT = $clog2(WORD_BYTES);
localparam QW = $clog2(QUEUE_SIZE);
localparam FW = $clog2(HEAD_FIFO);
localparam CW = $clog2(HEAD_FIFO + 1);
localparam BW = $clog2(MAX_BATCH + 1);
localparam ENT_OFF = WORD_BYTES;                    // FIFO storage: bytes after the avail.idx word

localparam [16:0] BATCH_17 = MAX_BATCH;
localparam [16:0] FIFO_17 = HEAD_FIFO;
localparam [31:0] ENT_OFF_32 = ENT_OFF;
localparam [QW+1:0] RING_OFF = 4;                        // avail.ring[0]
localparam [RAM_ADDR_WIDTH-1:0] EVENT_RAM = 4;          // used_event lands at RAM byte 4

localparam [15:0] VRING_USED_F_NO_NOTIFY = 16'd1;

// the running size Q (set while the queue is stopped; QUEUE_SIZE is the largest): ring slots are indices
// modulo Q, used_event sits at avail + 4 + 2*Q, avail_event at used + 4 + 8*Q
/* verilator lint_off UNUSEDSIGNAL */ // at most QUEUE_SIZE
wire [15:0]   qsize_in = queue_size;
/* verilator lint_on UNUSEDSIGNAL */
wire [QW:0]   qs = qsize_in[QW:0];
wire [QW-1:0] qmask = qs[QW-1:0] - 1'b1;                    // Q = 2^QW gives all ones too
wire [16:0]   qsize_17 = {{16-QW{1'b0}}, qs};
wire [QW+1:0] used_event_off = {qs, 1'b0} + 4;               // in the avail ring
wire [QW+3:0] avail_event_off = {qs, 3'b000} + 4;            // in the used ring

localparam [3:0] ERR_AVAIL_IDX = 4'd1, ERR_DMA_RD = 4'd9, ERR_DMA_WR = 4'd10;

// DMA tags: bits 1:0 tell the three kinds of read apart
localparam [TAG_WIDTH-1:0] TAG_IDX = {TAG_WIDTH{1'b0}};
localparam [TAG_WIDTH-1:0] TAG_RING = {{TAG_WIDTH-1{1'b0}}, 1'b1};
localparam [TAG_WIDTH-1:0] TAG_EVENT = {{TAG_WIDTH-2{1'b0}}, 2'b10};

// why an avail.idx read was issued
localparam [1:0]
    RD_START   = 2'd0,
    RD_DEC     = 2'd1,
    RD_KICK    = 2'd2,
    RD_RECHECK = 2'd3;

localparam [2:0]
    S_IDLE     = 3'd0,     // waiting for a kick
    S_ARMED    = 3'd1,     // pacing timer running
    S_FLAGS_WR = 3'd2,     // write used.flags = flags_val (or, flags_ae, avail_event = the next index)
    S_FLAGS_BAR= 3'd3,     // wait for that write's status
    S_IDX_RD   = 3'd4,     // start / recheck read: issue
    S_IDX_WAIT = 3'd5,     // start / recheck read: its result
    S_RUN      = 3'd6;     // fetching; decision and kick reads; idle when quiet

initial begin
    if (QUEUE_SIZE < 2 || QUEUE_SIZE > 32768 || (QUEUE_SIZE & (QUEUE_SIZE - 1)) != 0) begin
        $error("Error: QUEUE_SIZE must be a power of 2 in 2..32768 (instance %m)");
        $finish;
    end
    if (HEAD_FIFO < MAX_BATCH || (HEAD_FIFO & (HEAD_FIFO - 1)) != 0 || MAX_BATCH < 1) begin
        $error("Error: HEAD_FIFO must be a power of 2 and hold MAX_BATCH >= 1 entries (instance %m)");
        $finish;
    end
    if ((1 << RAM_ADDR_WIDTH) < ENT_OFF + 2*HEAD_FIFO || TAG_WIDTH < 2 || WORD_BYTES < 8) begin
        $error("Error: RAM_ADDR_WIDTH too small for the head FIFO, fewer than 2 tag bits, or a RAM word below 8 bytes (instance %m)");
        $finish;
    end
end

reg  [2:0]      state_reg, state_next;
reg  [2:0]      flags_ret_reg, flags_ret_next;      // state after the used.flags write
reg             flags_val_reg, flags_val_next;
reg             flags_ae_reg, flags_ae_next;        // S_FLAGS_WR writes avail_event, not used.flags
reg  [15:0]     ae_reg, ae_next;                    // avail_event as last written
reg             ae_valid_reg, ae_valid_next;        // ... since the last clear
reg  [1:0]      rd_purpose_reg, rd_purpose_next;    // of the start / recheck read (S_IDX_RD)
reg             used_flags_reg, used_flags_next;
reg             notify_pending_reg, notify_pending_next;
reg             dec_pending_reg, dec_pending_next;  // the used writer asked for its decision read
reg  [31:0]     timer_reg, timer_next;

// queue state
reg  [15:0]     avail_idx_reg, avail_idx_next;      // last avail.idx read
reg  [15:0]     fetch_idx_reg, fetch_idx_next;      // next avail index to fetch from the ring

// avail.idx read in flight (descriptor presented or status owed) and why
reg             idx_busy_reg, idx_busy_next;
reg  [1:0]      idx_purpose_reg, idx_purpose_next;
reg  [47:0]     idx_word_reg;                        // {used_event, avail.idx, avail.flags} as the DMA wrote them
reg             rsp_valid_reg, rsp_valid_next;
reg             rsp_dec_reg, rsp_dec_next;
reg  [15:0]     rsp_flags_reg, rsp_flags_next;
reg  [15:0]     rsp_idx_reg, rsp_idx_next;

// EVENT_IDX: the used_event read of a decision (to issue, in flight), the decision's idx read back first
reg             ev_pending_reg, ev_pending_next;
reg             ev_busy_reg, ev_busy_next;
reg             dec_hold_reg, dec_hold_next;

// avail.ring read in flight
reg             ring_busy_reg, ring_busy_next;
reg  [BW-1:0]   ring_n_reg, ring_n_next;             // entries it brings

// head FIFO: landed entries, write / read positions, one RAM read in flight, the output register
reg  [FW-1:0]   fifo_wr_reg, fifo_wr_next;
reg  [FW-1:0]   fifo_rd_reg, fifo_rd_next;
reg  [CW-1:0]   fifo_cnt_reg, fifo_cnt_next;         // landed or on their way, not yet read out
reg  [CW-1:0]   fifo_lvl_reg, fifo_lvl_next;         // landed, not yet read out
reg             fifo_rd_pend_reg, fifo_rd_pend_next;
reg  [BYTE_SHIFT-1:0] fifo_rd_off_reg, fifo_rd_off_next;
reg  [15:0]     out_id_reg, out_id_next;
reg  [15:0]     out_index_reg, out_index_next;       // avail index of the head in the output register
reg             out_valid_reg, out_valid_next;
reg  [15:0]     next_index_reg, next_index_next;     // avail index of the next head to leave

// DMA descriptor outputs (fields don't-care while valid is low)
reg  [63:0]     rd_addr_reg, rd_addr_next;
reg  [RAM_ADDR_WIDTH-1:0] rd_ram_reg, rd_ram_next;
reg  [LEN_WIDTH-1:0] rd_len_reg, rd_len_next;
reg  [TAG_WIDTH-1:0] rd_tag_reg, rd_tag_next;
reg             rd_valid_reg, rd_valid_next;
reg  [15:0]     wr_val_reg, wr_val_next;            // the used.flags or avail_event value
reg             wr_ae_reg, wr_ae_next;              // the write is avail_event (else used.flags)
reg             wr_valid_reg, wr_valid_next;
reg             wr_busy_reg, wr_busy_next;           // status owed

reg             err_valid_reg, err_valid_next;
reg  [3:0]      err_cause_reg, err_cause_next;

// per-cycle
reg             ram_rd_en;
reg  [RAM_ADDR_WIDTH-1:0] ram_rd_byte;
reg             idx_issue;
reg             ev_issue;
reg             ring_issue;
reg  [QW+1:0]   rd_off;         // the read's offset in the avail ring (one adder for every read)
reg  [1:0]      idx_issue_purpose;
reg             raise_err;
reg  [3:0]      raise_cause;

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

/* verilator lint_off UNUSEDSIGNAL */ // one 16-bit entry of the word is taken
wire [RAM_DATA_WIDTH-1:0] ram_rd_shifted = ram_rd_data >> {fifo_rd_off_reg, 3'b000};
/* verilator lint_on UNUSEDSIGNAL */

// the avail.idx word lands in RAM word 0: capture it from the write port, byte by byte
integer b;
always @(posedge clk) begin
    if (ram_wr_en && ram_wr_addr == {RAM_WORD_WIDTH{1'b0}}) begin
        for (b = 0; b < 6; b = b + 1) begin
            if (ram_wr_be[b]) begin
                idx_word_reg[b*8 +: 8] <= ram_wr_data[b*8 +: 8];
            end
        end
    end
    if (rst) begin
        idx_word_reg <= 48'd0;
    end
end

wire [15:0] rd_flags = idx_word_reg[15:0];
wire [15:0] rd_idx = idx_word_reg[31:16];
wire [15:0] rd_event = idx_word_reg[47:32];

// statuses
wire rd_status_idx = s_axis_read_desc_status_valid && s_axis_read_desc_status_tag[1:0] == 2'b00;
wire rd_status_ring = s_axis_read_desc_status_valid && s_axis_read_desc_status_tag[1:0] == 2'b01;
wire rd_status_ev = s_axis_read_desc_status_valid && s_axis_read_desc_status_tag[1:0] == 2'b10;

// NO_NOTIFY while running: kick_suppress, unless EVENT_IDX (avail_event instead)
wire want_nn = kick_suppress && !feat_event_idx;
// on the way to idle with EVENT_IDX: avail_event already asks for the next index (written since the last
// read of avail.idx that found nothing new, or before the read that found what was fetched since)
wire ae_current = ae_valid_reg && ae_reg == fetch_idx_reg;
wire rd_free = !rd_valid_reg || m_axis_read_desc_ready;
wire wr_free = !wr_valid_reg || m_axis_write_desc_ready;

// the ring slot of the next fetch
wire [QW-1:0] fetch_slot = fetch_idx_reg[QW-1:0] & qmask;

// the index check of an avail.idx read
wire [15:0] inflight = fetch_idx_reg - used_idx;
wire [15:0] ahead = rd_idx - fetch_idx_reg;
wire idx_bad = {1'b0, ahead} > qsize_17 - {1'b0, inflight};

// ring read size: min(MAX_BATCH, known, to the ring's end, FIFO room, to the FIFO storage's end)
wire [15:0] known = avail_idx_reg - fetch_idx_reg;
wire [16:0] to_ring_end = qsize_17 - {1'b0, {16-QW{1'b0}}, fetch_slot};
wire [16:0] fifo_room = FIFO_17 - {{17-CW{1'b0}}, fifo_cnt_reg};    // nothing in flight when issuing
wire [16:0] to_fifo_end = FIFO_17 - {{17-FW{1'b0}}, fifo_wr_reg};
reg  [16:0] ring_n_c;
reg  [16:0] ring_want_c;        // what the read would take with the FIFO out of the picture
/* verilator lint_off UNUSEDSIGNAL */ // at most MAX_BATCH + 1
reg  [16:0] ring_len_c;
/* verilator lint_on UNUSEDSIGNAL */
always @* begin
    ring_n_c = {1'b0, known};
    if (ring_n_c > BATCH_17) ring_n_c = BATCH_17;
    if (ring_n_c > to_ring_end) ring_n_c = to_ring_end;
    ring_want_c = ring_n_c;
    if (ring_n_c > fifo_room) ring_n_c = fifo_room;
    if (ring_n_c > to_fifo_end) ring_n_c = to_fifo_end;
    ring_len_c = ring_n_c;
    // test only (READ_PAST_AVAIL): one entry more where MAX_BATCH, the ring's end and the FIFO leave room
    if (FAULT_ENABLE != 0 && fault_read_past_avail && ring_n_c < BATCH_17 && ring_n_c < to_ring_end
            && ring_n_c < fifo_room && ring_n_c < to_fifo_end) begin
        ring_len_c = ring_n_c + 17'd1;
    end
end

// every fetched head used and the used writer idle; no entry known; nothing in the FIFO
wire fifo_empty = fifo_cnt_reg == {CW{1'b0}} && !ring_busy_reg && !fifo_rd_pend_reg && !out_valid_reg;
wire quiet = known == 16'd0 && fifo_empty && fetch_idx_reg == used_idx && !used_busy;

assign m_axis_head_id = out_id_reg;
assign m_axis_head_index = out_index_reg;
assign m_axis_head_valid = out_valid_reg;

assign avail_rd_busy = idx_busy_reg || ev_pending_reg || ev_busy_reg;
assign avail_rsp_valid = rsp_valid_reg;
assign avail_rsp_dec = rsp_dec_reg;
assign avail_rsp_flags = rsp_flags_reg;
assign avail_rsp_idx = rsp_idx_reg;
assign avail_rsp_event = rd_event;      // held: only the used_event read writes RAM bytes 4-5
assign avail_idx = avail_idx_reg;

assign m_axis_read_desc_pcie_addr = rd_addr_reg;
assign m_axis_read_desc_ram_addr = rd_ram_reg;
assign m_axis_read_desc_len = rd_len_reg;
assign m_axis_read_desc_tag = rd_tag_reg;
assign m_axis_read_desc_valid = rd_valid_reg;

assign m_axis_write_desc_pcie_addr = used_base + {{60-QW{1'b0}}, wr_ae_reg ? avail_event_off : {QW+4{1'b0}}};
assign m_axis_write_desc_imm = {48'd0, wr_val_reg};
assign m_axis_write_desc_len = {{LEN_WIDTH-2{1'b0}}, 2'd2};
assign m_axis_write_desc_valid = wr_valid_reg;

assign err_valid = err_valid_reg;
assign err_cause = err_cause_reg;
assign idle = !idx_busy_reg && !ev_busy_reg && !ring_busy_reg && !rd_valid_reg && !wr_busy_reg && !wr_valid_reg;
assign active = state_reg != S_IDLE;
assign used_flags = used_flags_reg;

always @* begin
    state_next = state_reg;
    flags_ret_next = flags_ret_reg;
    flags_val_next = flags_val_reg;
    flags_ae_next = flags_ae_reg;
    ae_next = ae_reg;
    ae_valid_next = ae_valid_reg;
    rd_purpose_next = rd_purpose_reg;
    used_flags_next = used_flags_reg;
    notify_pending_next = notify_pending_reg;
    dec_pending_next = dec_pending_reg || dec_req;
    timer_next = timer_reg;
    avail_idx_next = avail_idx_reg;
    fetch_idx_next = fetch_idx_reg;
    idx_busy_next = idx_busy_reg;
    idx_purpose_next = idx_purpose_reg;
    rsp_valid_next = 1'b0;
    rsp_dec_next = rsp_dec_reg;
    rsp_flags_next = rsp_flags_reg;
    rsp_idx_next = rsp_idx_reg;
    ev_pending_next = ev_pending_reg;
    ev_busy_next = ev_busy_reg;
    dec_hold_next = dec_hold_reg;
    ring_busy_next = ring_busy_reg;
    ring_n_next = ring_n_reg;
    fifo_wr_next = fifo_wr_reg;
    fifo_rd_next = fifo_rd_reg;
    fifo_cnt_next = fifo_cnt_reg;
    fifo_lvl_next = fifo_lvl_reg;
    fifo_rd_pend_next = 1'b0;
    fifo_rd_off_next = fifo_rd_off_reg;
    out_id_next = out_id_reg;
    out_index_next = out_index_reg;
    out_valid_next = out_valid_reg && !m_axis_head_ready;
    next_index_next = next_index_reg;
    rd_addr_next = rd_addr_reg;
    rd_ram_next = rd_ram_reg;
    rd_len_next = rd_len_reg;
    rd_tag_next = rd_tag_reg;
    rd_valid_next = rd_valid_reg && !m_axis_read_desc_ready;
    wr_val_next = wr_val_reg;
    wr_ae_next = wr_ae_reg;
    wr_valid_next = wr_valid_reg && !m_axis_write_desc_ready;
    wr_busy_next = wr_busy_reg;
    err_valid_next = 1'b0;
    err_cause_next = err_cause_reg;

    ram_rd_en = 1'b0;
    ram_rd_byte = {RAM_ADDR_WIDTH{1'b0}};
    idx_issue = 1'b0;
    ev_issue = 1'b0;
    ring_issue = 1'b0;
    rd_off = {QW+2{1'b0}};
    idx_issue_purpose = RD_START;
    raise_err = 1'b0;
    raise_cause = 4'd0;

    if (notify) begin
        notify_pending_next = 1'b1;
    end

    // -- avail.idx read completion: check, record, report ---------------------------------------------
    if (rd_status_idx) begin
        idx_busy_next = 1'b0;
        if (s_axis_read_desc_status_error != 4'd0) begin
            raise_err = 1'b1;
            raise_cause = ERR_DMA_RD;
        end else if (idx_bad) begin
            raise_err = 1'b1;
            raise_cause = ERR_AVAIL_IDX;
        end else begin
            avail_idx_next = rd_idx;
            rsp_flags_next = rd_flags;
            rsp_idx_next = rd_idx;
            if (idx_purpose_reg == RD_DEC && (ev_pending_reg || ev_busy_reg)) begin
                // the decision's used_event read is still owed: answer when it is in
                dec_hold_next = 1'b1;
            end else begin
                rsp_valid_next = 1'b1;
                rsp_dec_next = idx_purpose_reg == RD_DEC;
            end
        end
    end

    // -- used_event read completion (EVENT_IDX decision) -----------------------------------------------
    if (rd_status_ev) begin
        ev_busy_next = 1'b0;
        if (s_axis_read_desc_status_error != 4'd0) begin
            raise_err = 1'b1;
            raise_cause = ERR_DMA_RD;
        end else begin
            if (dec_hold_reg) begin
                dec_hold_next = 1'b0;
                rsp_valid_next = 1'b1;
                rsp_dec_next = 1'b1;
            end
        end
    end

    // -- avail.ring read completion: the entries have landed ---------------------------------------------
    if (rd_status_ring) begin
        ring_busy_next = 1'b0;
        if (s_axis_read_desc_status_error != 4'd0) begin
            raise_err = 1'b1;
            raise_cause = ERR_DMA_RD;
        end else begin
            fifo_wr_next = fifo_wr_reg + ring_n_reg[FW-1:0];
            fifo_lvl_next = fifo_lvl_reg + {{CW-BW{1'b0}}, ring_n_reg};
        end
    end

    if (s_axis_write_desc_status_valid) begin
        wr_busy_next = 1'b0;
        if (s_axis_write_desc_status_error != 4'd0) begin
            raise_err = 1'b1;
            raise_cause = ERR_DMA_WR;
        end
    end

    // -- the main state machine -------------------------------------------------------------------
    case (state_reg)
        S_IDLE: begin
            if (run && notify_pending_reg) begin
                notify_pending_next = 1'b0;
                if (pacing_timer) begin
                    // QEMU tx=timer: arm the timer, ask the driver not to kick meanwhile
                    timer_next = pacing_interval;
                    if (used_flags_reg || feat_event_idx) begin
                        // (EVENT_IDX: avail_event asks for no kick until this one is served)
                        state_next = S_ARMED;
                    end else begin
                        flags_val_next = 1'b1;
                        flags_ae_next = 1'b0;
                        flags_ret_next = S_ARMED;
                        state_next = S_FLAGS_WR;
                    end
                end else begin
                    rd_purpose_next = RD_START;
                    if (used_flags_reg != want_nn) begin
                        flags_val_next = want_nn;
                        flags_ae_next = 1'b0;
                        flags_ret_next = S_IDX_RD;
                        state_next = S_FLAGS_WR;
                    end else begin
                        state_next = S_IDX_RD;
                    end
                end
            end
        end
        S_ARMED: begin
            if (notify_pending_reg || timer_reg == 32'd0) begin
                notify_pending_next = 1'b0;
                rd_purpose_next = RD_START;
                if (used_flags_reg != want_nn) begin
                    flags_val_next = want_nn;
                    flags_ae_next = 1'b0;
                    flags_ret_next = S_IDX_RD;
                    state_next = S_FLAGS_WR;
                end else begin
                    state_next = S_IDX_RD;
                end
            end else begin
                timer_next = timer_reg - 32'd1;
            end
        end
        S_FLAGS_WR: begin
            if (run && wr_free && !wr_busy_reg) begin
                wr_valid_next = 1'b1;
                wr_busy_next = 1'b1;
                if (flags_ae_reg) begin
                    // EVENT_IDX: avail_event = the next index to read; the recheck read follows (barrier)
                    wr_ae_next = 1'b1;
                    wr_val_next = fetch_idx_reg;
                    ae_next = fetch_idx_reg;
                    ae_valid_next = 1'b1;
                    state_next = S_FLAGS_BAR;
                end else begin
                    wr_ae_next = 1'b0;
                    wr_val_next = flags_val_reg ? VRING_USED_F_NO_NOTIFY : 16'd0;
                    used_flags_next = flags_val_reg;
                    // clearing NO_NOTIFY is followed by an avail read: wait for the write (barrier)
                    state_next = flags_val_reg ? flags_ret_reg : S_FLAGS_BAR;
                end
            end
        end
        S_FLAGS_BAR: begin
            if (!wr_busy_reg) begin
                state_next = flags_ret_reg;
            end
        end
        S_IDX_RD: begin
            // the start or recheck read
            if (!idx_busy_reg && run && rd_free) begin
                idx_issue = 1'b1;
                idx_issue_purpose = rd_purpose_reg;
                state_next = S_IDX_WAIT;
            end
        end
        S_IDX_WAIT: begin
            if (rd_status_idx && s_axis_read_desc_status_error == 4'd0 && !idx_bad) begin
                if (rd_purpose_reg == RD_RECHECK && rd_idx == fetch_idx_reg) begin
                    state_next = S_IDLE;
                end else if (rd_purpose_reg == RD_RECHECK && want_nn) begin
                    // work appeared after used.flags was cleared: suppress kicks again
                    flags_val_next = 1'b1;
                    flags_ae_next = 1'b0;
                    flags_ret_next = S_RUN;
                    state_next = S_FLAGS_WR;
                end else begin
                    state_next = S_RUN;
                end
            end
        end
        S_RUN: begin
            if (!idx_busy_reg && run && rd_free) begin
                if (dec_pending_reg) begin
                    idx_issue = 1'b1;
                    idx_issue_purpose = RD_DEC;
                    dec_pending_next = 1'b0;
                    ev_pending_next = feat_event_idx;
                end else if (notify_pending_reg && known == 16'd0 && !used_idx_req) begin
                    idx_issue = 1'b1;
                    idx_issue_purpose = RD_KICK;
                end
            end
            if (!idx_busy_reg && !dec_pending_reg && !notify_pending_reg && quiet && !idx_issue) begin
                if (used_flags_reg) begin
                    // clear NO_NOTIFY, barrier, re-check avail.idx (a kick may have been suppressed)
                    flags_val_next = 1'b0;
                    flags_ae_next = 1'b0;
                    flags_ret_next = S_IDX_RD;
                    rd_purpose_next = RD_RECHECK;
                    state_next = S_FLAGS_WR;
                end else if (feat_event_idx && !ae_current) begin
                    // EVENT_IDX: avail_event = the next index, barrier, re-check avail.idx
                    // (AVAIL_EVENT_STALE, test only: no write, the recheck alone)
                    rd_purpose_next = RD_RECHECK;
                    if (FAULT_ENABLE != 0 && fault_avail_event_stale) begin
                        state_next = S_IDX_RD;
                    end else begin
                        flags_ae_next = 1'b1;
                        flags_ret_next = S_IDX_RD;
                        state_next = S_FLAGS_WR;
                    end
                end else begin
                    state_next = S_IDLE;
                end
            end
        end
        default: begin
            state_next = S_IDLE;
        end
    endcase

    // -- issue an avail.idx read (4 bytes: flags and idx) ---------------------------------------------
    if (idx_issue) begin
        rd_off = {QW+2{1'b0}};
        rd_ram_next = {RAM_ADDR_WIDTH{1'b0}};
        rd_len_next = {{LEN_WIDTH-3{1'b0}}, 3'd4};
        rd_tag_next = TAG_IDX;
        rd_valid_next = 1'b1;
        idx_busy_next = 1'b1;
        idx_purpose_next = idx_issue_purpose;
        notify_pending_next = 1'b0;         // the read covers every kick so far
    end

    // -- issue the used_event read of an EVENT_IDX decision, right behind its avail.idx read -------------
    if (ev_pending_reg && !idx_issue && run && rd_free) begin
        ev_issue = 1'b1;
        rd_off = used_event_off;
        rd_ram_next = EVENT_RAM;
        rd_len_next = {{LEN_WIDTH-2{1'b0}}, 2'd2};
        rd_tag_next = TAG_EVENT;
        rd_valid_next = 1'b1;
        ev_busy_next = 1'b1;
        ev_pending_next = 1'b0;
    end

    // -- issue an avail.ring read when entries are known and the FIFO has room --------------------------
    // (a read waits for FIFO room for all it would take, unless the FIFO is empty: one TLP per batch of
    // entries, not one per entry as the walk frees the FIFO's slots one by one)
    if (!idx_issue && !ev_issue && state_reg == S_RUN && run && rd_free && !ring_busy_reg && ring_n_c != 17'd0
            && (fifo_room >= ring_want_c || fifo_cnt_reg == {CW{1'b0}})) begin
        ring_issue = 1'b1;
        rd_off = {1'b0, fetch_slot, 1'b0} + RING_OFF;
        rd_ram_next = ENT_OFF_32[RAM_ADDR_WIDTH-1:0] + {{RAM_ADDR_WIDTH-FW-1{1'b0}}, fifo_wr_reg, 1'b0};
        rd_len_next = {{LEN_WIDTH-BW-2{1'b0}}, ring_len_c[BW:0], 1'b0};
        rd_tag_next = TAG_RING;
        rd_valid_next = 1'b1;
        ring_busy_next = 1'b1;
        ring_n_next = ring_n_c[BW-1:0];
        fetch_idx_next = fetch_idx_reg + ring_n_c[15:0];
        fifo_cnt_next = fifo_cnt_reg + ring_n_c[CW-1:0];
    end

    // every read's address: avail_base + its offset (avail.idx 0, ring entries 4 + 2*slot, used_event 4 + 2*Q)
    if (idx_issue || ev_issue || ring_issue) begin
        rd_addr_next = avail_base + {{62-QW{1'b0}}, rd_off};
    end

    // -- head FIFO out: one RAM read into the output register ------------------------------------------
    if (fifo_rd_pend_reg) begin
        out_valid_next = 1'b1;
        out_id_next = ram_rd_shifted[15:0];
        out_index_next = next_index_reg;
        next_index_next = next_index_reg + 16'd1;
    end
    if (fifo_lvl_reg != {CW{1'b0}} && !fifo_rd_pend_reg && (!out_valid_reg || m_axis_head_ready)) begin
        ram_rd_en = 1'b1;
        ram_rd_byte = ENT_OFF_32[RAM_ADDR_WIDTH-1:0] + {{RAM_ADDR_WIDTH-FW-1{1'b0}}, fifo_rd_reg, 1'b0};
        fifo_rd_pend_next = 1'b1;
        fifo_rd_off_next = ram_rd_byte[BYTE_SHIFT-1:0];
        fifo_rd_next = fifo_rd_reg + 1'b1;
        fifo_lvl_next = fifo_lvl_next - 1'b1;
    end
    if (fifo_rd_pend_reg) begin
        fifo_cnt_next = fifo_cnt_next - 1'b1;
    end

    if (raise_err && run) begin
        err_valid_next = 1'b1;
        err_cause_next = raise_cause;
    end

    if (notify_forget) begin
        notify_pending_next = 1'b0;
    end

    if (clear) begin
        state_next = S_IDLE;
        used_flags_next = 1'b0;
        ae_valid_next = 1'b0;
        dec_pending_next = 1'b0;
        ev_pending_next = 1'b0;
        ev_busy_next = 1'b0;
        dec_hold_next = 1'b0;
        timer_next = 32'd0;
        avail_idx_next = 16'd0;
        fetch_idx_next = 16'd0;
        idx_busy_next = 1'b0;
        idx_purpose_next = RD_KICK;
        ring_busy_next = 1'b0;
        fifo_wr_next = {FW{1'b0}};
        fifo_rd_next = {FW{1'b0}};
        fifo_cnt_next = {CW{1'b0}};
        fifo_lvl_next = {CW{1'b0}};
        fifo_rd_pend_next = 1'b0;
        out_valid_next = 1'b0;
        next_index_next = 16'd0;
        rd_valid_next = 1'b0;
        wr_valid_next = 1'b0;
        wr_busy_next = 1'b0;
        // a kick remembered during the drain is served next (notify_pending is kept)
    end
end

always @(posedge clk) begin
    state_reg <= state_next;
    flags_ret_reg <= flags_ret_next;
    flags_val_reg <= flags_val_next;
    flags_ae_reg <= flags_ae_next;
    ae_reg <= ae_next;
    ae_valid_reg <= ae_valid_next;
    rd_purpose_reg <= rd_purpose_next;
    used_flags_reg <= used_flags_next;
    notify_pending_reg <= notify_pending_next;
    dec_pending_reg <= dec_pending_next;
    timer_reg <= timer_next;
    avail_idx_reg <= avail_idx_next;
    fetch_idx_reg <= fetch_idx_next;
    idx_busy_reg <= idx_busy_next;
    idx_purpose_reg <= idx_purpose_next;
    rsp_valid_reg <= rsp_valid_next;
    rsp_dec_reg <= rsp_dec_next;
    rsp_flags_reg <= rsp_flags_next;
    rsp_idx_reg <= rsp_idx_next;
    ev_pending_reg <= ev_pending_next;
    ev_busy_reg <= ev_busy_next;
    dec_hold_reg <= dec_hold_next;
    ring_busy_reg <= ring_busy_next;
    ring_n_reg <= ring_n_next;
    fifo_wr_reg <= fifo_wr_next;
    fifo_rd_reg <= fifo_rd_next;
    fifo_cnt_reg <= fifo_cnt_next;
    fifo_lvl_reg <= fifo_lvl_next;
    fifo_rd_pend_reg <= fifo_rd_pend_next;
    fifo_rd_off_reg <= fifo_rd_off_next;
    out_id_reg <= out_id_next;
    out_index_reg <= out_index_next;
    out_valid_reg <= out_valid_next;
    next_index_reg <= next_index_next;
    rd_addr_reg <= rd_addr_next;
    rd_ram_reg <= rd_ram_next;
    rd_len_reg <= rd_len_next;
    rd_tag_reg <= rd_tag_next;
    rd_valid_reg <= rd_valid_next;
    wr_val_reg <= wr_val_next;
    wr_ae_reg <= wr_ae_next;
    wr_valid_reg <= wr_valid_next;
    wr_busy_reg <= wr_busy_next;
    err_valid_reg <= err_valid_next;
    err_cause_reg <= err_cause_next;

    if (rst) begin
        state_reg <= S_IDLE;
        flags_ret_reg <= S_IDLE;
        flags_val_reg <= 1'b0;
        flags_ae_reg <= 1'b0;
        ae_reg <= 16'd0;
        ae_valid_reg <= 1'b0;
        rd_purpose_reg <= RD_START;
        used_flags_reg <= 1'b0;
        notify_pending_reg <= 1'b0;
        dec_pending_reg <= 1'b0;
        timer_reg <= 32'd0;
        avail_idx_reg <= 16'd0;
        fetch_idx_reg <= 16'd0;
        idx_busy_reg <= 1'b0;
        idx_purpose_reg <= RD_KICK;
        rsp_valid_reg <= 1'b0;
        rsp_dec_reg <= 1'b0;
        rsp_flags_reg <= 16'd0;
        rsp_idx_reg <= 16'd0;
        ev_pending_reg <= 1'b0;
        ev_busy_reg <= 1'b0;
        dec_hold_reg <= 1'b0;
        ring_busy_reg <= 1'b0;
        ring_n_reg <= {BW{1'b0}};
        fifo_wr_reg <= {FW{1'b0}};
        fifo_rd_reg <= {FW{1'b0}};
        fifo_cnt_reg <= {CW{1'b0}};
        fifo_lvl_reg <= {CW{1'b0}};
        fifo_rd_pend_reg <= 1'b0;
        fifo_rd_off_reg <= {BYTE_SHIFT{1'b0}};
        out_id_reg <= 16'd0;
        out_index_reg <= 16'd0;
        out_valid_reg <= 1'b0;
        next_index_reg <= 16'd0;
        rd_valid_reg <= 1'b0;
        wr_val_reg <= 16'd0;
        wr_ae_reg <= 1'b0;
        wr_valid_reg <= 1'b0;
        wr_busy_reg <= 1'b0;
        err_valid_reg <= 1'b0;
        err_cause_reg <= 4'd0;
    end
end

endmodule

`resetall
