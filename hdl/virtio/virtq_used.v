// SPDX-License-Identifier: MIT
/*
 * virtq_used: the used side of a split virtqueue. Takes completions {id, len} from the queue's user (the TX
 * buffer mover, the RX buffer mover), writes them to the used ring, publishes used.idx behind them, and makes
 * the interrupt decision, in one place: avail.flags NO_INTERRUPT, or used_event with EVENT_IDX, and notify
 * on empty (hdl/virtio/README.md).
 *
 * Completions are staged in this block's RAM (STAGE = 2*BATCH_MAX elements, 8 bytes each, at the slot
 * their used index gives modulo STAGE), from where the DMA write engine reads them. A push:
 *
 *   1. the used elements of the batch, in one write (two when the batch wraps the staging area, which is
 *      also where it wraps the ring: STAGE divides QUEUE_SIZE);
 *   2. used.idx, an immediate write; it starts only while no avail.idx read is in flight (avail_rd_busy),
 *      and from the batch's start used_idx_req keeps the avail block from starting any read but this
 *      block's decision read: so the first avail.idx read after a used.idx write is the decision read;
 *   3. the barrier: every write's status seen (PCIe then keeps the next read behind the writes);
 *   4. the decision read (dec_req; the avail block reads {avail.flags, avail.idx} and hands it back; with
 *      VIRTIO_RING_F_EVENT_IDX also used_event, read after the used.idx write like the first):
 *      interrupt, cause 0, if the driver's suppression allows it: without EVENT_IDX avail.flags NO_INTERRUPT
 *      clear; with EVENT_IDX (feat_event_idx) the push moved used.idx across used_event, i.e.
 *      vring_need_event(used_event, new, old) = (u16)(new - used_event - 1) < (u16)(new - old), old and new
 *      the used.idx before and after the whole push, and avail.flags is not looked at (virtio 1.x 2.7.7:
 *      "The device MUST ignore the lower bit of flags"). Else, when the ring is empty (the avail.idx read
 *      equals the used index just written), cause 1 (notify on empty) if noe_policy is ALWAYS, or WHEN_ACKED
 *      with VIRTIO_F_NOTIFY_ON_EMPTY acked (the feature's rule holds "even though notifications are
 *      suppressed using the VIRTQ_AVAIL_F_NO_INTERRUPT flag or the used_event field", with or without
 *      EVENT_IDX); else no interrupt (counted as suppressed; with EVENT_IDX and used_event not crossed also
 *      in stat_irq_event_suppressed). With EVENT_IDX each cause-0 interrupt also pulses stat_irq_event.
 *
 * Push policy (a device mode): per_packet (push_batched = 0; QEMU 0.10/0.11, and this device's default):
 * one element per push, a decision after each. batched: up to batch_size elements (1..BATCH_MAX) per push;
 * a partial batch is pushed once every completion the device knows of is in (avail_idx: the last avail.idx
 * read; nothing more is coming), or flush_cycles cycles after its first element was staged. New
 * completions are staged while a push is on its way.
 *
 * Frames (FRAMES = 1, the RX queue): a frame may take several chains (MRG_RXBUF), one completion each, the
 * frame's last marked (s_axis_cpl_last). used.idx never publishes part of a frame: per_packet pushes a whole
 * frame's elements with one used.idx and one decision; batched ends a push only at a frame boundary (whole
 * frames up to batch_size elements, or the one frame when it alone is larger). "Nothing more is coming"
 * is then the user's word (user_more = 0) instead of the avail index: RX buffers wait for frames. With
 * FRAMES = 0 (TX) every completion is a frame and s_axis_cpl_last / user_more are ignored.
 *
 * run = 0: no new DMA, no new push (writes issued are counted back: idle reports when none is owed);
 * clear: back to the reset state.
 *
 * Fault knobs (test only, FAULT_ENABLE), sampled when a push starts, for that push:
 *   fault_ignore_no_interrupt  NO_INTERRUPT read as clear: a cause-0 interrupt after every push
 *   fault_drop_irq             the cause-0 interrupt is never raised (counted as suppressed); cause 1 unchanged
 *   fault_used_idx_first       used.idx is written before the used elements (the barrier waits for both)
 *   fault_write_tx_buffer      right after the elements: a 2-byte write of 0xBAD0 to fault_addr of the
 *                              push's last completion (the TX chain's header buffer), before used.idx
 *   fault_used_idx_ahead       the value written to used.idx is one more than the used index
 *   fault_event_idx_ignored    EVENT_IDX: a cause-0 interrupt after every push, as if used_event were always
 *                              crossed
 *   fault_event_idx_flags      EVENT_IDX: avail.flags NO_INTERRUPT is obeyed as well (an interrupt owed by
 *                              used_event is not raised while the flag is set; counted as suppressed)
 * fault_ignore_no_interrupt has no effect with EVENT_IDX (avail.flags is not looked at then).
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module virtq_used #
(
    parameter QUEUE_SIZE = 256,
    parameter RAM_DATA_WIDTH = 256,
    // staging RAM byte address width: holds 2*BATCH_MAX elements
    parameter RAM_ADDR_WIDTH = 9,
    parameter LEN_WIDTH = 16,
    // DMA tag bits this block owns (none is looked at: every status here is for this block)
    parameter TAG_WIDTH = 5,
    // largest batch (power of 2, 2*BATCH_MAX <= QUEUE_SIZE)
    parameter BATCH_MAX = 32,
    parameter FAULT_ENABLE = 0,
    // 1: completions carry a frame's last flag (RX, MRG_RXBUF); pushes end at frame boundaries
    parameter FRAMES = 0,
    // derived, do not set
    parameter RAM_WORD_WIDTH = RAM_ADDR_WIDTH - $clog2(RAM_DATA_WIDTH/8)
)
(
    input  wire                         clk,
    input  wire                         rst,

    input  wire [63:0]                  used_base,
    input  wire [15:0]                  queue_size,     // the running size: a power of 2, 2..QUEUE_SIZE
    input  wire                         feat_noe,
    input  wire                         feat_event_idx,
    input  wire [1:0]                   noe_policy,
    input  wire                         push_batched,
    input  wire [7:0]                   batch_size,
    input  wire [15:0]                  flush_cycles,
    input  wire                         fault_ignore_no_interrupt,  // test only
    input  wire                         fault_drop_irq,             // test only
    input  wire                         fault_used_idx_first,       // test only
    input  wire                         fault_write_tx_buffer,      // test only
    input  wire                         fault_used_idx_ahead,       // test only
    input  wire                         fault_event_idx_ignored,    // test only
    input  wire                         fault_event_idx_flags,      // test only
    input  wire                         run,
    input  wire                         clear,

    /*
     * Completions from the queue's user, in ring order
     */
    input  wire [15:0]                  s_axis_cpl_id,
    input  wire [31:0]                  s_axis_cpl_len,
    /* verilator lint_off UNUSEDSIGNAL */ // read only with FAULT_ENABLE
    input  wire [63:0]                  s_axis_cpl_fault_addr,      // test only
    /* verilator lint_on UNUSEDSIGNAL */
    /* verilator lint_off UNUSEDSIGNAL */ // read only with FRAMES
    input  wire                         s_axis_cpl_last,
    input  wire                         user_more,      // the user has completions on their way
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                         s_axis_cpl_valid,
    output wire                         s_axis_cpl_ready,

    /*
     * The avail block: what it knows, the decision read, the used.idx interlock
     */
    input  wire [15:0]                  avail_idx,
    input  wire                         avail_rd_busy,
    input  wire                         avail_rsp_valid,
    input  wire                         avail_rsp_dec,
    input  wire [15:0]                  avail_rsp_flags,
    input  wire [15:0]                  avail_rsp_idx,
    input  wire [15:0]                  avail_rsp_event,    // used_event (with feat_event_idx)
    output wire                         used_idx_req,
    output wire                         dec_req,
    output wire [15:0]                  used_idx,       // published (what used.idx says, faults aside)
    output wire                         busy,           // a completion staged or a push on its way

    /*
     * DMA write (elements from the staging RAM; used.idx immediate) and the RAM read port
     */
    output wire [63:0]                  m_axis_write_desc_pcie_addr,
    output wire [RAM_ADDR_WIDTH-1:0]    m_axis_write_desc_ram_addr,
    output wire [63:0]                  m_axis_write_desc_imm,
    output wire                         m_axis_write_desc_imm_en,
    output wire [LEN_WIDTH-1:0]         m_axis_write_desc_len,
    output wire [TAG_WIDTH-1:0]         m_axis_write_desc_tag,
    output wire                         m_axis_write_desc_valid,
    input  wire                         m_axis_write_desc_ready,
    input  wire [3:0]                   s_axis_write_desc_status_error,
    input  wire                         s_axis_write_desc_status_valid,

    input  wire                         ram_rd_en,
    input  wire [RAM_WORD_WIDTH-1:0]    ram_rd_addr,
    output wire [RAM_DATA_WIDTH-1:0]    ram_rd_data,

    /*
     * Interrupt request (cause 0: NO_INTERRUPT clear, or used_event crossed with EVENT_IDX; 1: notify on
     * empty), error, statistics
     */
    output wire                         irq_valid,
    output wire                         irq_cause,
    output wire                         err_valid,
    output wire [3:0]                   err_cause,
    output wire                         idle,           // no write owed or presented
    output wire                         stat_irq_normal,
    output wire                         stat_irq_noe,
    output wire                         stat_irq_suppressed,
    output wire                         stat_irq_event,             // EVENT_IDX: used_event crossed, interrupt
    output wire                         stat_irq_event_suppressed   // EVENT_IDX: used_event not crossed, none
);

localparam WORD_BYTES = RAM_DATA_WIDTH/8;
localparam BYTE_SHIFT = $clog2(WORD_BYTES);
localparam QW = $clog2(QUEUE_SIZE);
localparam STAGE = 2*BATCH_MAX;
localparam SW = $clog2(STAGE);
localparam NW = $clog2(STAGE + 1);
localparam BW = $clog2(BATCH_MAX + 1);

localparam [NW-1:0] STAGE_N = STAGE;
localparam [7:0] BATCH_MAX_8 = BATCH_MAX;
localparam [15:0] FAULT_TXBUF_VALUE = 16'hBAD0;
localparam VRING_AVAIL_F_NO_INTERRUPT = 0;
localparam [1:0] NOE_WHEN_ACKED = 2'd0, NOE_ALWAYS = 2'd1;
localparam [3:0] ERR_DMA_WR = 4'd10;

localparam [2:0]
    S_IDLE  = 3'd0,     // staging; cut a batch when the policy says so
    S_ELEM  = 3'd1,     // the used elements (one or two writes)
    S_FAULT = 3'd2,     // test only: the WRITE_TX_BUFFER write
    S_IDX   = 3'd3,     // used.idx
    S_BAR   = 3'd4,     // every write's status
    S_DEC   = 3'd5;     // the decision read's result

initial begin
    if (QUEUE_SIZE < 2 || (QUEUE_SIZE & (QUEUE_SIZE - 1)) != 0 || BATCH_MAX < 1
            || (BATCH_MAX & (BATCH_MAX - 1)) != 0 || STAGE > QUEUE_SIZE) begin
        $error("Error: QUEUE_SIZE and BATCH_MAX powers of 2, 2*BATCH_MAX <= QUEUE_SIZE (instance %m)");
        $finish;
    end
    if ((1 << RAM_ADDR_WIDTH) < 8*STAGE || WORD_BYTES < 8 || RAM_WORD_WIDTH < 1) begin
        $error("Error: RAM_ADDR_WIDTH must hold 2*BATCH_MAX elements in at least two words (instance %m)");
        $finish;
    end
end

reg  [2:0]      state_reg, state_next;
reg  [15:0]     used_idx_reg, used_idx_next;        // published
reg  [NW-1:0]   stage_cnt_reg, stage_cnt_next;      // staged, not yet published (the push's included)
reg  [15:0]     age_reg, age_next;                  // cycles since the oldest unpushed element was staged
reg  [BW-1:0]   n_reg, n_next;                      // elements of the push
reg  [BW-1:0]   n_left_reg, n_left_next;            // elements not yet written
reg  [15:0]     elem_idx_reg, elem_idx_next;        // used index of the next element to write
reg             idx_done_reg, idx_done_next;        // used.idx written (USED_IDX_FIRST)
reg  [6:0]      knob_reg, knob_next;                // test only: the push's fault knobs
reg  [63:0]     push_fault_addr_reg, push_fault_addr_next;
reg             req_reg, req_next;                  // used_idx_req
reg             dec_req_reg, dec_req_next;
reg  [2:0]      wr_out_reg, wr_out_next;            // writes owed

// FRAMES: staged frames' element counts (a FIFO), the open frame's elements, the next push gathered
reg  [BW-1:0]   fr_len [0:STAGE-1];
reg  [SW:0]     fr_wr_reg, fr_wr_next;
reg  [SW:0]     fr_rd_reg, fr_rd_next;
reg  [BW-1:0]   tail_reg, tail_next;
reg  [BW-1:0]   acc_reg, acc_next;

reg  [63:0]     wr_addr_reg, wr_addr_next;
reg  [RAM_ADDR_WIDTH-1:0] wr_ram_reg, wr_ram_next;
reg  [63:0]     wr_imm_reg, wr_imm_next;
reg             wr_imm_en_reg, wr_imm_en_next;
reg  [LEN_WIDTH-1:0] wr_len_reg, wr_len_next;
reg             wr_valid_reg, wr_valid_next;

reg             irq_valid_reg, irq_valid_next;
reg             irq_cause_reg, irq_cause_next;
reg             err_valid_reg, err_valid_next;
reg             stat_irq_normal_reg, stat_irq_normal_next;
reg             stat_irq_noe_reg, stat_irq_noe_next;
reg             stat_irq_suppressed_reg, stat_irq_suppressed_next;
reg             stat_irq_event_reg, stat_irq_event_next;
reg             stat_irq_event_suppressed_reg, stat_irq_event_suppressed_next;


// per-cycle
reg             accept;
reg             wr_issue;
reg  [BW-1:0]   n_cut;
reg  [BW-1:0]   n_part;
reg             fr_push;
reg  [BW-1:0]   fr_push_len;
reg             push_go;
reg             dec_allow;      // the driver's suppression allows the interrupt (cause 0)
reg             dec_empty_irq;  // notify on empty applies

localparam K_IGNORE = 0, K_DROP_IRQ = 1, K_IDX_FIRST = 2, K_TXBUF = 3, K_AHEAD = 4, K_EV_IGNORED = 5,
    K_EV_FLAGS = 6;

// EVENT_IDX: in S_DEC used_idx_reg is the new used.idx and n_reg the push's elements (new - old);
// vring_need_event(used_event, new, old) = (u16)(new - used_event - 1) < (u16)(new - old)
wire [15:0] ev_dist = used_idx_reg - avail_rsp_event - 16'd1;
wire ev_crossed = ev_dist < {{16-BW{1'b0}}, n_reg};

wire [15:0] stage_wr = used_idx_reg + {{16-NW{1'b0}}, stage_cnt_reg};    // used index of the next completion
wire [SW-1:0] stage_slot = stage_wr[SW-1:0];
wire [NW-1:0] pending = stage_cnt_reg;                                  // in S_IDLE: nothing in flight
wire [7:0] batch_n = (batch_size == 8'd0) ? 8'd1 : (batch_size > BATCH_MAX_8) ? BATCH_MAX_8 : batch_size;
wire [BW-1:0] batch_n_b = batch_n[BW-1:0];
wire more = avail_idx != stage_wr;          // published entries the device knows of, not yet completed
wire wr_free = !wr_valid_reg || m_axis_write_desc_ready;

// FRAMES: the oldest staged frame not yet gathered, and whether the gathered push may take it
wire [BW-1:0] fr_head = fr_len[fr_rd_reg[SW-1:0]];
wire fr_avail = fr_wr_reg != fr_rd_reg;
wire [BW:0] acc_plus = {1'b0, acc_reg} + {1'b0, fr_head};
wire fr_fits = acc_reg == {BW{1'b0}} || (push_batched && acc_plus <= {1'b0, batch_n_b});
wire fr_more = user_more || fr_avail || tail_reg != {BW{1'b0}};

// the running size Q (set while the queue is stopped; QUEUE_SIZE is the largest): ring slots modulo Q
/* verilator lint_off UNUSEDSIGNAL */ // at most QUEUE_SIZE
wire [15:0]   qsize_in = queue_size;
/* verilator lint_on UNUSEDSIGNAL */
wire [QW:0]   qs = qsize_in[QW:0];
wire [QW-1:0] qmask = qs[QW-1:0] - 1'b1;                    // Q = 2^QW gives all ones too
wire [QW-1:0] elem_slot = elem_idx_reg[QW-1:0] & qmask;

// the elements of one write: up to the staging area's end and the ring's end (the same place when STAGE
// divides Q; a smaller running size ends the ring first)
wire [SW:0] to_stage_end = {1'b1, {SW{1'b0}}} - {1'b0, elem_idx_reg[SW-1:0]};
wire [QW:0] to_ring_end = qs - {1'b0, elem_slot};
wire [63:0] elem_pcie_addr = used_base + 64'd4 + {{61-QW{1'b0}}, elem_slot, 3'b000};

// staging RAM: written here one element (8 bytes) per cycle, read by the DMA write engine
wire [RAM_WORD_WIDTH-1:0] stage_word;
wire [RAM_DATA_WIDTH/8-1:0] stage_be;
wire [RAM_DATA_WIDTH-1:0] stage_data;
wire [RAM_ADDR_WIDTH-1:0] stage_byte = {{RAM_ADDR_WIDTH-SW-3{1'b0}}, stage_slot, 3'b000};

assign stage_word = stage_byte[RAM_ADDR_WIDTH-1:BYTE_SHIFT];
assign stage_be = {{RAM_DATA_WIDTH/8-8{1'b0}}, 8'hFF} << stage_byte[BYTE_SHIFT-1:0];
assign stage_data = {RAM_DATA_WIDTH/64{s_axis_cpl_len, 16'd0, s_axis_cpl_id}};

// test only (WRITE_TX_BUFFER): fault_addr of each staged completion, read for a push's last element
/* verilator lint_off UNUSEDSIGNAL */ // read only with FAULT_ENABLE
wire [SW-1:0] last_slot = used_idx_reg[SW-1:0] + n_cut[SW-1:0] - 1'b1;
/* verilator lint_on UNUSEDSIGNAL */
wire [63:0] fault_addr_last;

generate
    if (FAULT_ENABLE != 0) begin : g_fault_addr
        reg [63:0] fault_addr_mem [0:STAGE-1];

        always @(posedge clk) begin
            if (accept) begin
                fault_addr_mem[stage_slot] <= s_axis_cpl_fault_addr;
            end
        end

        assign fault_addr_last = fault_addr_mem[last_slot];
    end else begin : g_no_fault_addr
        assign fault_addr_last = 64'd0;
    end
endgenerate

dma_ram #(
    .DATA_WIDTH(RAM_DATA_WIDTH),
    .ADDR_WIDTH(RAM_WORD_WIDTH)
)
ram_inst (
    .clk(clk),
    .wr_en(accept),
    .wr_addr(stage_word),
    .wr_be(stage_be),
    .wr_data(stage_data),
    .rd_en(ram_rd_en),
    .rd_addr(ram_rd_addr),
    .rd_data(ram_rd_data)
);

assign s_axis_cpl_ready = accept;
assign used_idx_req = req_reg;
assign dec_req = dec_req_reg;
assign used_idx = used_idx_reg;
assign busy = stage_cnt_reg != {NW{1'b0}} || state_reg != S_IDLE;

assign m_axis_write_desc_pcie_addr = wr_addr_reg;
assign m_axis_write_desc_ram_addr = wr_ram_reg;
assign m_axis_write_desc_imm = wr_imm_reg;
assign m_axis_write_desc_imm_en = wr_imm_en_reg;
assign m_axis_write_desc_len = wr_len_reg;
assign m_axis_write_desc_tag = {TAG_WIDTH{1'b0}};
assign m_axis_write_desc_valid = wr_valid_reg;

assign irq_valid = irq_valid_reg;
assign irq_cause = irq_cause_reg;
assign err_valid = err_valid_reg;
assign err_cause = ERR_DMA_WR;
assign idle = wr_out_reg == 3'd0 && !wr_valid_reg;
assign stat_irq_normal = stat_irq_normal_reg;
assign stat_irq_noe = stat_irq_noe_reg;
assign stat_irq_suppressed = stat_irq_suppressed_reg;
assign stat_irq_event = stat_irq_event_reg;
assign stat_irq_event_suppressed = stat_irq_event_suppressed_reg;

always @* begin
    state_next = state_reg;
    used_idx_next = used_idx_reg;
    stage_cnt_next = stage_cnt_reg;
    age_next = age_reg;
    n_next = n_reg;
    n_left_next = n_left_reg;
    elem_idx_next = elem_idx_reg;
    idx_done_next = idx_done_reg;
    knob_next = knob_reg;
    push_fault_addr_next = push_fault_addr_reg;
    req_next = req_reg;
    dec_allow = 1'b0;
    dec_empty_irq = 1'b0;
    dec_req_next = 1'b0;
    wr_out_next = wr_out_reg;
    fr_wr_next = fr_wr_reg;
    fr_rd_next = fr_rd_reg;
    tail_next = tail_reg;
    acc_next = acc_reg;
    wr_addr_next = wr_addr_reg;
    wr_ram_next = wr_ram_reg;
    wr_imm_next = wr_imm_reg;
    wr_imm_en_next = wr_imm_en_reg;
    wr_len_next = wr_len_reg;
    wr_valid_next = wr_valid_reg && !m_axis_write_desc_ready;
    irq_valid_next = 1'b0;
    irq_cause_next = irq_cause_reg;
    err_valid_next = 1'b0;
    stat_irq_normal_next = 1'b0;
    stat_irq_noe_next = 1'b0;
    stat_irq_suppressed_next = 1'b0;
    stat_irq_event_next = 1'b0;
    stat_irq_event_suppressed_next = 1'b0;

    accept = run && s_axis_cpl_valid && stage_cnt_reg != STAGE_N;
    wr_issue = 1'b0;
    n_cut = (push_batched && {{8-NW{1'b0}}, pending} > batch_n) ? batch_n_b
        : push_batched ? pending[BW-1:0] : {{BW-1{1'b0}}, 1'b1};
    n_part = ({1'b0, n_left_reg} > to_stage_end) ? to_stage_end[BW-1:0] : n_left_reg;
    if ({{17-BW{1'b0}}, n_part} > {{16-QW{1'b0}}, to_ring_end}) begin
        n_part = to_ring_end[BW-1:0];
    end
    fr_push = 1'b0;
    fr_push_len = tail_reg + 1'b1;
    if (FRAMES != 0) begin
        push_go = run && acc_reg != {BW{1'b0}} && (!push_batched || acc_reg >= batch_n_b
            || (fr_avail && !fr_fits) || !fr_more || age_reg >= flush_cycles);
    end else begin
        push_go = run && pending != {NW{1'b0}} && (!push_batched || {{8-NW{1'b0}}, pending} >= batch_n || !more
            || age_reg >= flush_cycles);
    end

    if (s_axis_write_desc_status_valid && s_axis_write_desc_status_error != 4'd0 && run) begin
        err_valid_next = 1'b1;
    end

    case (state_reg)
        S_IDLE: begin
            if (pending != {NW{1'b0}}) begin
                age_next = age_reg + 16'd1;
            end
            if (push_go) begin
                // a push of n elements, from used_idx on (FRAMES: the whole frames gathered)
                n_next = (FRAMES != 0) ? acc_reg : n_cut;
                n_left_next = (FRAMES != 0) ? acc_reg : n_cut;
                acc_next = {BW{1'b0}};
                elem_idx_next = used_idx_reg;
                idx_done_next = 1'b0;
                knob_next = (FAULT_ENABLE != 0) ? {fault_event_idx_flags, fault_event_idx_ignored,
                                                   fault_used_idx_ahead, fault_write_tx_buffer, fault_used_idx_first,
                                                   fault_drop_irq, fault_ignore_no_interrupt} : 7'd0;
                push_fault_addr_next = fault_addr_last;
                req_next = 1'b1;
                age_next = 16'd0;
                state_next = (FAULT_ENABLE != 0 && fault_used_idx_first) ? S_IDX : S_ELEM;
            end
        end
        S_ELEM: begin
            if (run && wr_free) begin
                wr_addr_next = elem_pcie_addr;
                wr_ram_next = {{RAM_ADDR_WIDTH-SW-3{1'b0}}, elem_idx_reg[SW-1:0], 3'b000};
                wr_imm_en_next = 1'b0;
                wr_len_next = {{LEN_WIDTH-BW-3{1'b0}}, n_part, 3'b000};
                wr_issue = 1'b1;
                elem_idx_next = elem_idx_reg + {{16-BW{1'b0}}, n_part};
                n_left_next = n_left_reg - n_part;
                if (n_left_reg == n_part) begin
                    state_next = knob_reg[K_TXBUF] ? S_FAULT : idx_done_reg ? S_BAR : S_IDX;
                end
            end
        end
        S_FAULT: begin
            // test only (WRITE_TX_BUFFER): the device writes into a device-readable buffer
            if (FAULT_ENABLE != 0 && run && wr_free) begin
                wr_addr_next = push_fault_addr_reg;
                wr_imm_next = {48'd0, FAULT_TXBUF_VALUE};
                wr_imm_en_next = 1'b1;
                wr_len_next = {{LEN_WIDTH-2{1'b0}}, 2'd2};
                wr_issue = 1'b1;
                state_next = idx_done_reg ? S_BAR : S_IDX;
            end
        end
        S_IDX: begin
            // no avail.idx read in flight: the next one is the decision read (used_idx_req holds others off)
            if (run && wr_free && !avail_rd_busy) begin
                wr_addr_next = used_base + 64'd2;
                // test only (USED_IDX_AHEAD): one more than published
                wr_imm_next = {48'd0, used_idx_reg + {{16-BW{1'b0}}, n_reg} + {15'd0, knob_reg[K_AHEAD]}};
                wr_imm_en_next = 1'b1;
                wr_len_next = {{LEN_WIDTH-2{1'b0}}, 2'd2};
                wr_issue = 1'b1;
                idx_done_next = 1'b1;
                state_next = knob_reg[K_IDX_FIRST] && !idx_done_reg ? S_ELEM : S_BAR;
            end
        end
        S_BAR: begin
            if (wr_out_reg == 3'd0 && !wr_valid_reg) begin
                // the writes are out: published; the decision read follows them
                used_idx_next = used_idx_reg + {{16-BW{1'b0}}, n_reg};
                stage_cnt_next = stage_cnt_reg - {{NW-BW{1'b0}}, n_reg};
                dec_req_next = run;
                state_next = S_DEC;
            end
        end
        S_DEC: begin
            if (avail_rsp_valid && avail_rsp_dec) begin
                // stopped (a reset, an error) while the decision read was out: the read is counted back, but
                // nothing of the old rings may follow the stop, their interrupt included (the register block
                // has cleared ISR; an interrupt raised now would reach the next driver)
                if (run) begin
                    // the interrupt decision: does the driver's suppression allow it?
                    if (feat_event_idx) begin
                        // used_event crossed (EVENT_IDX_IGNORED, test only: always; EVENT_IDX_FLAGS, test only:
                        // NO_INTERRUPT obeyed as well)
                        dec_allow = (ev_crossed
                            && !(knob_reg[K_EV_FLAGS] && avail_rsp_flags[VRING_AVAIL_F_NO_INTERRUPT]))
                            || knob_reg[K_EV_IGNORED];
                    end else begin
                        // NO_INTERRUPT clear (IGNORE_NO_INTERRUPT, test only: flags read as clear)
                        dec_allow = !avail_rsp_flags[VRING_AVAIL_F_NO_INTERRUPT] || knob_reg[K_IGNORE];
                    end
                    dec_empty_irq = avail_rsp_idx == used_idx_reg && (noe_policy == NOE_ALWAYS
                        || (noe_policy == NOE_WHEN_ACKED && feat_noe));
                    if (dec_allow) begin
                        if (knob_reg[K_DROP_IRQ]) begin
                            // test only (DROP_IRQ): the interrupt the driver asked for is not raised
                            stat_irq_suppressed_next = 1'b1;
                        end else begin
                            irq_valid_next = 1'b1;
                            irq_cause_next = 1'b0;
                            stat_irq_normal_next = 1'b1;
                            stat_irq_event_next = feat_event_idx;
                        end
                    end else if (dec_empty_irq) begin
                        irq_valid_next = 1'b1;
                        irq_cause_next = 1'b1;
                        stat_irq_noe_next = 1'b1;
                    end else begin
                        stat_irq_suppressed_next = 1'b1;
                        stat_irq_event_suppressed_next = feat_event_idx && !ev_crossed;
                    end
                end
                req_next = 1'b0;
                state_next = S_IDLE;
            end
        end
        default: begin
            state_next = S_IDLE;
        end
    endcase

    if (wr_issue) begin
        wr_valid_next = 1'b1;
    end
    wr_out_next = wr_out_reg + {2'b00, wr_issue} - {2'b00, s_axis_write_desc_status_valid};
    if (accept) begin
        stage_cnt_next = stage_cnt_next + 1'b1;
    end
    if (FRAMES != 0) begin
        // a frame's elements are counted as they are staged, the frame queued at its last
        if (accept) begin
            if (s_axis_cpl_last) begin
                fr_push = 1'b1;
                tail_next = {BW{1'b0}};
                fr_wr_next = fr_wr_reg + 1'b1;
            end else begin
                tail_next = tail_reg + 1'b1;
            end
        end
        // gather whole frames for the next push (not in the cycle a push takes what was gathered)
        if (fr_avail && fr_fits && !(state_reg == S_IDLE && push_go)) begin
            acc_next = acc_reg + fr_head;
            fr_rd_next = fr_rd_reg + 1'b1;
        end
    end

    if (clear) begin
        state_next = S_IDLE;
        used_idx_next = 16'd0;
        stage_cnt_next = {NW{1'b0}};
        age_next = 16'd0;
        req_next = 1'b0;
        dec_req_next = 1'b0;
        wr_out_next = 3'd0;
        wr_valid_next = 1'b0;
        fr_wr_next = {SW+1{1'b0}};
        fr_rd_next = {SW+1{1'b0}};
        tail_next = {BW{1'b0}};
        acc_next = {BW{1'b0}};
    end
end

always @(posedge clk) begin
    if (FRAMES != 0 && fr_push) begin
        fr_len[fr_wr_reg[SW-1:0]] <= fr_push_len;
    end
end

always @(posedge clk) begin
    state_reg <= state_next;
    used_idx_reg <= used_idx_next;
    stage_cnt_reg <= stage_cnt_next;
    age_reg <= age_next;
    n_reg <= n_next;
    n_left_reg <= n_left_next;
    elem_idx_reg <= elem_idx_next;
    idx_done_reg <= idx_done_next;
    knob_reg <= knob_next;
    push_fault_addr_reg <= push_fault_addr_next;
    req_reg <= req_next;
    dec_req_reg <= dec_req_next;
    wr_out_reg <= wr_out_next;
    fr_wr_reg <= fr_wr_next;
    fr_rd_reg <= fr_rd_next;
    tail_reg <= tail_next;
    acc_reg <= acc_next;
    wr_addr_reg <= wr_addr_next;
    wr_ram_reg <= wr_ram_next;
    wr_imm_reg <= wr_imm_next;
    wr_imm_en_reg <= wr_imm_en_next;
    wr_len_reg <= wr_len_next;
    wr_valid_reg <= wr_valid_next;
    irq_valid_reg <= irq_valid_next;
    irq_cause_reg <= irq_cause_next;
    err_valid_reg <= err_valid_next;
    stat_irq_normal_reg <= stat_irq_normal_next;
    stat_irq_noe_reg <= stat_irq_noe_next;
    stat_irq_suppressed_reg <= stat_irq_suppressed_next;
    stat_irq_event_reg <= stat_irq_event_next;
    stat_irq_event_suppressed_reg <= stat_irq_event_suppressed_next;

    if (rst) begin
        state_reg <= S_IDLE;
        used_idx_reg <= 16'd0;
        stage_cnt_reg <= {NW{1'b0}};
        age_reg <= 16'd0;
        n_reg <= {BW{1'b0}};
        n_left_reg <= {BW{1'b0}};
        elem_idx_reg <= 16'd0;
        idx_done_reg <= 1'b0;
        knob_reg <= 7'd0;
        push_fault_addr_reg <= 64'd0;
        req_reg <= 1'b0;
        dec_req_reg <= 1'b0;
        wr_out_reg <= 3'd0;
        fr_wr_reg <= {SW+1{1'b0}};
        fr_rd_reg <= {SW+1{1'b0}};
        tail_reg <= {BW{1'b0}};
        acc_reg <= {BW{1'b0}};
        wr_valid_reg <= 1'b0;
        irq_valid_reg <= 1'b0;
        irq_cause_reg <= 1'b0;
        err_valid_reg <= 1'b0;
        stat_irq_normal_reg <= 1'b0;
        stat_irq_noe_reg <= 1'b0;
        stat_irq_suppressed_reg <= 1'b0;
        stat_irq_event_reg <= 1'b0;
        stat_irq_event_suppressed_reg <= 1'b0;
    end
end

endmodule

`resetall
