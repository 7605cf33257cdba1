// SPDX-License-Identifier: MIT
/*
 * Device modes and virtio counters, in the debug BAR (BAR2) window 0x200-0x3FF. One build serves every
 * scenario: the testbench (or an engineer at a board) sets the modes at run time.
 *
 *   0x200 MODE            RW  [1:0] noe_policy: 0 WHEN_ACKED (spec), 1 ALWAYS (QEMU <= 0.11), 2 NEVER
 *                             [4]   offer_noe: offer VIRTIO_F_NOTIFY_ON_EMPTY (bit 24)   (reset 1)
 *                             [5]   offer_indirect: offer VIRTIO_RING_F_INDIRECT_DESC (28) (reset 1)
 *                             [6]   offer_mrg_rxbuf: offer VIRTIO_NET_F_MRG_RXBUF (15) (reset 0: the
 *                                   12-byte header and merged RX buffers only when a test asks)
 *                             [7]   offer_event_idx: offer VIRTIO_RING_F_EVENT_IDX (29) (reset 0: used_event /
 *                                   avail_event instead of NO_INTERRUPT / NO_NOTIFY only when a test asks;
 *                                   both queues, hdl/virtio/README.md "EVENT_IDX")
 *                             [8]   kick_suppress: used.flags NO_NOTIFY while the TX engine is busy
 *                             [12]  pacing_timer: TX batching timer (QEMU tx=timer) instead of immediate
 *                             [16]  push_batched: the used-ring push policy, 0 per_packet (one used element,
 *                                   used.idx and interrupt decision per packet, as QEMU 0.10/0.11), 1 batched
 *                                   (up to PUSH_BATCH elements per write, one decision per batch); both queues
 *                             [20]  loopback: frames from the TX queue go into the RX queue inside the device
 *                                   (m_axis_tx idle); s_axis_rx is held ready and its frames are dropped and
 *                                   counted (RX_DROP_LOOPBACK)
 *   0x204 PACING_INTERVAL RW  timer in user_clk cycles (reset 37500 = 150 us at 250 MHz, QEMU's default)
 *   0x208 FAULT           RW  test only: fault knobs of the TX and RX queues (reset 0 = none; bits 31:15 read 0),
 *                             each set bit breaks one virtio rule (hdl/virtio/README.md "Fault knobs").
 *                             Present only when FAULT_ENABLE != 0: otherwise it reads 0, ignores writes
 *                             and the engine gets no knobs (a board build).
 *                             [0] IGNORE_NO_INTERRUPT  cause-0 interrupt after every packet, NO_INTERRUPT
 *                                                      or not (TX and RX queues)
 *                             [1] DROP_IRQ             the cause-0 interrupt is never raised (counted as
 *                                                      suppressed); notify-on-empty unchanged (TX and RX)
 *                             [2] USED_IDX_FIRST       used.idx written before the used element
 *                             [3] READ_PAST_AVAIL      avail.ring read one entry past avail.idx
 *                             [4] WRITE_TX_BUFFER      0xBAD0 written into the chain's header buffer
 *                             [5] DROP_FRAME           frames at used index 3 mod 4 not sent on the wire
 *                             [6] DUP_FRAME            frames at used index 3 mod 4 sent twice
 *                             [7] USED_IDX_AHEAD       used.idx written one too high
 *                             [8] USED_LEN_READ        used.len = bytes read (header + frame), not 0
 *                             [9]  RX_WRITE_PAST_BUFFER after each RX frame, one byte (0xEE) written just past
 *                                                      the last buffer that received bytes
 *                             [10] RX_USED_LEN_PLUS1   RX used.len one more than the bytes written
 *                             [11] RX_DROP_SILENT      RX frames at wire sequence 3 mod 4 dropped, not counted
 *                             [12] AVAIL_EVENT_STALE   EVENT_IDX: avail_event never written (the driver stops
 *                                                      kicking: the queue hangs) (TX and RX)
 *                             [13] EVENT_IDX_IGNORED   EVENT_IDX: an interrupt after every push, as if
 *                                                      used_event were always crossed (TX and RX)
 *                             [14] EVENT_IDX_FLAGS     EVENT_IDX: avail.flags NO_INTERRUPT obeyed as well (an
 *                                                      interrupt owed by used_event is not raised) (TX and RX)
 *   0x20C CNT_CLEAR       WO  any write clears the counters below
 *   0x210 CNT_FRAMES      RO  frames sent on the wire
 *   0x214 CNT_NOTIFY      RO  TX queue notifies (kicks) received
 *   0x218 CNT_IRQ_NORMAL  RO  TX interrupts raised because avail.flags allowed them
 *   0x21C CNT_IRQ_NOE     RO  TX interrupts raised by notify-on-empty despite NO_INTERRUPT
 *   0x220 CNT_IRQ_SUPPR   RO  interrupt decisions that raised nothing
 *   0x224 CNT_CONFIG_IRQ  RO  configuration-change interrupts (device stopped on bad input)
 *   0x228 CNT_ERRORS      RO  queue errors
 *   0x22C LAST_ERROR      RO  cause of the last queue error (hdl/virtio/README.md)
 *   0x230 CNT_DROP_LONG   RO  TX chains dropped: frame above MAX_FRAME (buffers returned, nothing sent)
 *   0x234 CNT_DROP_RUNT   RO  TX chains dropped: frame below MIN_FRAME (empty payload, short header, runt)
 *   0x238 MAX_FRAME       RO  the longest frame the TX engine sends (bytes without the virtio_net_hdr)
 *   0x23C MIN_FRAME       RO  the shortest frame the TX engine sends
 *   0x240 + 4*c           RO  queue errors of cause c (1..15)
 *   0x280 PUSH_BATCH      RW  [7:0] batched policy: used elements per push, 1..PUSH_BATCH_MAX (0 reads as
 *                             written and acts as 1; above the maximum acts as the maximum) (reset PUSH_BATCH_MAX)
 *   0x284 PUSH_FLUSH      RW  [15:0] batched policy: a partial batch is pushed this many cycles after its
 *                             first element (it is pushed at once when nothing more is known to come)
 *                             (reset 1024: about 4 us)
 *   0x288 PUSH_BATCH_MAX  RO  the largest batch the TX engine can push (USED_BATCH_MAX)
 *   0x290 CNT_IRQ_EVENT   RO  TX interrupts raised because used_event was crossed (EVENT_IDX; also in 0x218)
 *   0x294 CNT_EVENT_SUPPR RO  TX decisions with EVENT_IDX that raised nothing because used_event was not
 *                             crossed (also in 0x220)
 *
 *   RX queue (queue 0) counters, cleared by CNT_CLEAR like the others (hdl/virtio/README.md "The RX queue"):
 *   0x300 RX_FRAMES        RO  frames delivered (published: used.idx written past their used elements)
 *   0x304 RX_BYTES         RO  their bytes (frames without the virtio_net_hdr)
 *   0x308 RX_NOTIFY        RO  RX queue notifies (kicks) received
 *   0x30C RX_IRQ_NORMAL    RO  RX interrupts raised because avail.flags allowed them
 *   0x310 RX_IRQ_NOE       RO  RX interrupts raised by notify-on-empty despite NO_INTERRUPT
 *   0x314 RX_IRQ_SUPPR     RO  RX interrupt decisions that raised nothing
 *   0x318 RX_DROP_NOBUF    RO  frames dropped: no chain within RX_WAIT cycles
 *   0x31C RX_DROP_CHAIN    RO  frames dropped: longer than the chain (no MRG_RXBUF), or than MAX_CHAINS chains
 *                              or MAX_SEGS buffers (MRG_RXBUF); the chains returned with used.len 0
 *   0x320 RX_DROP_LONG     RO  frames from the wire above MAX_FRAME
 *   0x324 RX_DROP_RUNT     RO  frames from the wire below MIN_FRAME
 *   0x328 RX_DROP_BAD      RO  frames from the wire marked bad (tuser on the last beat)
 *   0x32C RX_DROP_OVERRUN  RO  frames taken after RX_WAIT cycles without room in the packet buffer
 *   0x330 RX_DROP_STOPPED  RO  frames that arrived while the RX queue was not running (no driver, reset, error),
 *                              or that a stop cut before they were published
 *   0x334 RX_DROP_LOOPBACK RO  frames from s_axis_rx while in loopback
 *   0x338 RX_ERRORS        RO  RX queue errors (also counted in 0x228 / 0x240)
 *   0x33C RX_LAST_ERROR    RO  cause of the last RX queue error
 *   0x340 RX_WAIT          RO  the RX_WAIT parameter: cycles a frame waits for a chain, and the longest the
 *                              wire is held (s_axis_rx_tready low) before a frame is taken and dropped
 *   0x344 RX_MAX_CHAINS    RO  [15:0] chains per frame at most (MRG_RXBUF), [31:16] buffers per frame at most
 *   0x348 RX_IRQ_EVENT     RO  RX interrupts raised because used_event was crossed (EVENT_IDX; also in 0x30C)
 *   0x34C RX_EVENT_SUPPR   RO  RX decisions with EVENT_IDX that raised nothing because used_event was not
 *                              crossed (also in 0x314)
 *
 * Modes are not virtio state: a device reset (STATUS = 0) keeps them; only user_reset clears them.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module virtio_dev_ctrl #
(
    parameter REG_ADDR_WIDTH = 12,
    // the TX engine's frame limits (reported in MAX_FRAME / MIN_FRAME)
    parameter MAX_FRAME_LEN = 1518,
    parameter MIN_FRAME_LEN = 14,
    // the TX engine's largest used-ring batch (reported in PUSH_BATCH_MAX, the reset of PUSH_BATCH)
    parameter USED_BATCH_MAX = 32,
    // the RX queue's parameters (reported in RX_WAIT / RX_MAX_CHAINS)
    parameter RX_WAIT = 4096,
    parameter RX_MAX_CHAINS = 16,
    parameter RX_MAX_SEGS = 32,
    // test-only FAULT register: 0 = absent (reads 0, writes ignored, fault = 0)
    parameter FAULT_ENABLE = 0
)
(
    input  wire                       clk,
    input  wire                       rst,

    /*
     * Register bus (already decoded to this window)
     */
    input  wire                       reg_req_valid,
    input  wire                       reg_req_write,
    input  wire [REG_ADDR_WIDTH-1:0]  reg_req_addr,
    input  wire [3:0]                 reg_req_be,
    input  wire [31:0]                reg_req_wdata,
    output wire                       reg_rsp_valid,
    output wire [31:0]                reg_rsp_rdata,

    /*
     * Modes
     */
    output wire [1:0]                 noe_policy,
    output wire                       offer_noe,
    output wire                       offer_indirect,
    output wire                       offer_mrg_rxbuf,
    output wire                       offer_event_idx,
    output wire                       loopback,
    output wire                       kick_suppress,
    output wire                       pacing_timer,
    output wire [31:0]                pacing_interval,
    output wire                       push_batched,
    output wire [7:0]                 push_batch,
    output wire [15:0]                push_flush,
    output wire [14:0]                fault,              // test only (0 without FAULT_ENABLE)

    /*
     * Event pulses
     */
    input  wire                       stat_frame,
    input  wire                       stat_notify,
    input  wire                       stat_irq_normal,
    input  wire                       stat_irq_noe,
    input  wire                       stat_irq_suppressed,
    input  wire                       stat_irq_event,
    input  wire                       stat_irq_event_suppressed,
    input  wire                       stat_config_irq,
    input  wire                       err_valid,
    input  wire [3:0]                 err_cause,
    input  wire                       stat_drop_oversize,
    input  wire                       stat_drop_runt,

    /*
     * RX queue event pulses
     */
    input  wire                       rx_stat_frame,
    input  wire [15:0]                rx_stat_frame_len,
    input  wire                       rx_stat_notify,
    input  wire                       rx_stat_irq_normal,
    input  wire                       rx_stat_irq_noe,
    input  wire                       rx_stat_irq_suppressed,
    input  wire                       rx_stat_irq_event,
    input  wire                       rx_stat_irq_event_suppressed,
    input  wire                       rx_stat_drop_nobuf,
    input  wire                       rx_stat_drop_chain,
    input  wire                       rx_stat_drop_oversize,
    input  wire                       rx_stat_drop_runt,
    input  wire                       rx_stat_drop_bad,
    input  wire                       rx_stat_drop_overrun,
    input  wire                       rx_stat_drop_stopped,
    input  wire                       rx_stat_drop_loopback,
    input  wire                       rx_err_valid,
    input  wire [3:0]                 rx_err_cause
);

localparam [REG_ADDR_WIDTH-1:0]
    REG_MODE            = 12'h200,
    REG_PACING_INTERVAL = 12'h204,
    REG_FAULT           = 12'h208,
    REG_CNT_CLEAR       = 12'h20C,
    REG_CNT_BASE        = 12'h210,
    REG_LAST_ERROR      = 12'h22C,
    REG_CNT_DROP_LONG   = 12'h230,
    REG_CNT_DROP_RUNT   = 12'h234,
    REG_MAX_FRAME       = 12'h238,
    REG_MIN_FRAME       = 12'h23C,
    REG_ERR_BASE        = 12'h240,
    REG_PUSH_BATCH      = 12'h280,
    REG_PUSH_FLUSH      = 12'h284,
    REG_PUSH_BATCH_MAX  = 12'h288,
    REG_CNT_IRQ_EVENT   = 12'h290,
    REG_CNT_EVENT_SUPPR = 12'h294,
    REG_RX_CNT_BASE     = 12'h300,      // 0x300..0x338: RX counters (RX_CNT_COUNT of them)
    REG_RX_LAST_ERROR   = 12'h33C,
    REG_RX_WAIT         = 12'h340,
    REG_RX_MAX_CHAINS   = 12'h344,
    REG_RX_IRQ_EVENT    = 12'h348,
    REG_RX_EVENT_SUPPR  = 12'h34C;

localparam CNT_COUNT = 7;
localparam RX_CNT_COUNT = 15;
localparam RX_CNT_BYTES = 1;               // the byte counter adds the frame length
localparam [31:0] RX_WAIT_32 = RX_WAIT;
localparam [15:0] RX_MAX_CHAINS_16 = RX_MAX_CHAINS;
localparam [15:0] RX_MAX_SEGS_16 = RX_MAX_SEGS;
localparam [31:0] PACING_INTERVAL_RESET = 32'd37500;
localparam [31:0] FAULT_MASK = (FAULT_ENABLE != 0) ? 32'h0000_7FFF : 32'h0000_0000;
localparam [31:0] MAX_FRAME_32 = MAX_FRAME_LEN;
localparam [31:0] MIN_FRAME_32 = MIN_FRAME_LEN;
localparam [31:0] BATCH_MAX_32 = USED_BATCH_MAX;
localparam [31:0] PUSH_FLUSH_RESET = 32'd1024;
localparam [31:0] MODE_MASK = 32'h0011_11F3;

function [31:0] apply_be;
    input [31:0] old;
    input [31:0] wdata;
    input [3:0]  be;
    integer i;
    begin
        for (i = 0; i < 4; i = i + 1) begin
            apply_be[i*8 +: 8] = be[i] ? wdata[i*8 +: 8] : old[i*8 +: 8];
        end
    end
endfunction

reg         rsp_valid_reg, rsp_valid_next;
reg  [31:0] rsp_rdata_reg, rsp_rdata_next;
reg  [31:0] mode_reg, mode_next;
reg  [31:0] pacing_interval_reg, pacing_interval_next;
reg  [31:0] fault_reg, fault_next;    // test only; bits outside FAULT_MASK stay 0
reg  [7:0]  push_batch_reg, push_batch_next;
reg  [15:0] push_flush_reg, push_flush_next;
reg  [3:0]  last_error_reg;
reg         cnt_clear;

reg  [31:0] cnt_reg [0:CNT_COUNT-1];
reg  [31:0] err_cnt_reg [0:15];
reg  [31:0] drop_long_cnt_reg, drop_runt_cnt_reg;
reg  [31:0] irq_event_cnt_reg, event_suppr_cnt_reg, rx_irq_event_cnt_reg, rx_event_suppr_cnt_reg;
reg  [31:0] rx_cnt_reg [0:RX_CNT_COUNT-1];
reg  [3:0]  rx_last_error_reg;

// RX counters at 0x300 + 4*i: frames, bytes, notify, irq normal / noe / suppressed, drops by reason, errors
wire [RX_CNT_COUNT-1:0] rx_cnt_inc = {rx_err_valid, rx_stat_drop_loopback, rx_stat_drop_stopped,
                                      rx_stat_drop_overrun, rx_stat_drop_bad, rx_stat_drop_runt,
                                      rx_stat_drop_oversize, rx_stat_drop_chain, rx_stat_drop_nobuf,
                                      rx_stat_irq_suppressed, rx_stat_irq_noe, rx_stat_irq_normal, rx_stat_notify,
                                      rx_stat_frame, rx_stat_frame};
// rx_cnt_hit bounds the offset below 0x3C (dword aligned): [5:2] is the index
wire [3:0] rx_cnt_index = reg_req_addr[5:2];
wire rx_cnt_hit = reg_req_addr >= REG_RX_CNT_BASE && reg_req_addr < REG_RX_CNT_BASE + 4*RX_CNT_COUNT;

wire [CNT_COUNT-1:0] cnt_inc = {err_valid, stat_config_irq, stat_irq_suppressed, stat_irq_noe,
                                stat_irq_normal, stat_notify, stat_frame};

// counters at 0x210 + 4*i (i < 7), error counters at 0x240 + 4*c
// cnt_hit bounds the offset below 0x20 (dword aligned), so 3-bit arithmetic on [4:2] gives the index
wire [2:0] cnt_index = reg_req_addr[4:2] - REG_CNT_BASE[4:2];
wire cnt_hit = reg_req_addr >= REG_CNT_BASE && reg_req_addr < REG_CNT_BASE + 4*CNT_COUNT;
wire [3:0] err_index = reg_req_addr[5:2];
wire err_hit = reg_req_addr[REG_ADDR_WIDTH-1:6] == REG_ERR_BASE[REG_ADDR_WIDTH-1:6];

assign reg_rsp_valid = rsp_valid_reg;
assign reg_rsp_rdata = rsp_rdata_reg;

assign noe_policy = mode_reg[1:0];
assign offer_noe = mode_reg[4];
assign offer_indirect = mode_reg[5];
assign offer_mrg_rxbuf = mode_reg[6];
assign offer_event_idx = mode_reg[7];
assign loopback = mode_reg[20];
assign kick_suppress = mode_reg[8];
assign pacing_timer = mode_reg[12];
assign pacing_interval = pacing_interval_reg;
/* verilator lint_off UNUSEDSIGNAL */ // the register is 16 bits wide
wire [31:0] push_flush_wr = apply_be({16'd0, push_flush_reg}, reg_req_wdata, reg_req_be);
/* verilator lint_on UNUSEDSIGNAL */

assign push_batched = mode_reg[16];
assign push_batch = push_batch_reg;
assign push_flush = push_flush_reg;
assign fault = fault_reg[14:0];

always @* begin
    rsp_valid_next = 1'b0;
    rsp_rdata_next = rsp_rdata_reg;
    mode_next = mode_reg;
    pacing_interval_next = pacing_interval_reg;
    fault_next = fault_reg;
    push_batch_next = push_batch_reg;
    push_flush_next = push_flush_reg;
    cnt_clear = 1'b0;

    if (reg_req_valid) begin
        rsp_valid_next = 1'b1;
        rsp_rdata_next = 32'd0;
        if (reg_req_write) begin
            case (reg_req_addr)
                REG_MODE: mode_next = apply_be(mode_reg, reg_req_wdata, reg_req_be) & MODE_MASK;
                REG_PACING_INTERVAL: pacing_interval_next = apply_be(pacing_interval_reg, reg_req_wdata, reg_req_be);
                REG_FAULT: fault_next = apply_be(fault_reg, reg_req_wdata, reg_req_be) & FAULT_MASK;
                REG_CNT_CLEAR: cnt_clear = 1'b1;
                REG_PUSH_BATCH: push_batch_next = reg_req_be[0] ? reg_req_wdata[7:0] : push_batch_reg;
                REG_PUSH_FLUSH: push_flush_next = push_flush_wr[15:0];
                default: begin end
            endcase
        end else begin
            case (reg_req_addr)
                REG_MODE: rsp_rdata_next = mode_reg;
                REG_PACING_INTERVAL: rsp_rdata_next = pacing_interval_reg;
                REG_FAULT: rsp_rdata_next = fault_reg;
                REG_LAST_ERROR: rsp_rdata_next = {28'd0, last_error_reg};
                REG_CNT_DROP_LONG: rsp_rdata_next = drop_long_cnt_reg;
                REG_CNT_DROP_RUNT: rsp_rdata_next = drop_runt_cnt_reg;
                REG_MAX_FRAME: rsp_rdata_next = MAX_FRAME_32;
                REG_MIN_FRAME: rsp_rdata_next = MIN_FRAME_32;
                REG_PUSH_BATCH: rsp_rdata_next = {24'd0, push_batch_reg};
                REG_PUSH_FLUSH: rsp_rdata_next = {16'd0, push_flush_reg};
                REG_PUSH_BATCH_MAX: rsp_rdata_next = BATCH_MAX_32;
                REG_CNT_IRQ_EVENT: rsp_rdata_next = irq_event_cnt_reg;
                REG_CNT_EVENT_SUPPR: rsp_rdata_next = event_suppr_cnt_reg;
                REG_RX_IRQ_EVENT: rsp_rdata_next = rx_irq_event_cnt_reg;
                REG_RX_EVENT_SUPPR: rsp_rdata_next = rx_event_suppr_cnt_reg;
                REG_RX_LAST_ERROR: rsp_rdata_next = {28'd0, rx_last_error_reg};
                REG_RX_WAIT: rsp_rdata_next = RX_WAIT_32;
                REG_RX_MAX_CHAINS: rsp_rdata_next = {RX_MAX_SEGS_16, RX_MAX_CHAINS_16};
                default: begin
                    if (rx_cnt_hit) begin
                        rsp_rdata_next = rx_cnt_reg[rx_cnt_index];
                    end else if (cnt_hit) begin
                        rsp_rdata_next = cnt_reg[cnt_index];
                    end else if (err_hit) begin
                        rsp_rdata_next = err_cnt_reg[err_index];
                    end
                end
            endcase
        end
    end
end

integer k;

always @(posedge clk) begin
    rsp_valid_reg <= rsp_valid_next;
    rsp_rdata_reg <= rsp_rdata_next;
    mode_reg <= mode_next;
    pacing_interval_reg <= pacing_interval_next;
    fault_reg <= fault_next;
    push_batch_reg <= push_batch_next;
    push_flush_reg <= push_flush_next;

    for (k = 0; k < CNT_COUNT; k = k + 1) begin
        if (cnt_clear) begin
            cnt_reg[k] <= 32'd0;
        end else if (cnt_inc[k]) begin
            cnt_reg[k] <= cnt_reg[k] + 32'd1;
        end
    end
    for (k = 0; k < 16; k = k + 1) begin
        if (cnt_clear) begin
            err_cnt_reg[k] <= 32'd0;
        end else if (err_valid && {28'd0, err_cause} == k) begin
            err_cnt_reg[k] <= err_cnt_reg[k] + 32'd1;
        end
    end
    if (err_valid) begin
        last_error_reg <= err_cause;
    end
    if (rx_err_valid) begin
        rx_last_error_reg <= rx_err_cause;
    end
    for (k = 0; k < RX_CNT_COUNT; k = k + 1) begin
        if (cnt_clear) begin
            rx_cnt_reg[k] <= 32'd0;
        end else if (k == RX_CNT_BYTES) begin
            if (rx_stat_frame) begin
                rx_cnt_reg[k] <= rx_cnt_reg[k] + {16'd0, rx_stat_frame_len};
            end
        end else if (rx_cnt_inc[k]) begin
            rx_cnt_reg[k] <= rx_cnt_reg[k] + 32'd1;
        end
    end
    if (cnt_clear) begin
        drop_long_cnt_reg <= 32'd0;
        drop_runt_cnt_reg <= 32'd0;
        irq_event_cnt_reg <= 32'd0;
        event_suppr_cnt_reg <= 32'd0;
        rx_irq_event_cnt_reg <= 32'd0;
        rx_event_suppr_cnt_reg <= 32'd0;
    end else begin
        drop_long_cnt_reg <= drop_long_cnt_reg + {31'd0, stat_drop_oversize};
        drop_runt_cnt_reg <= drop_runt_cnt_reg + {31'd0, stat_drop_runt};
        irq_event_cnt_reg <= irq_event_cnt_reg + {31'd0, stat_irq_event};
        event_suppr_cnt_reg <= event_suppr_cnt_reg + {31'd0, stat_irq_event_suppressed};
        rx_irq_event_cnt_reg <= rx_irq_event_cnt_reg + {31'd0, rx_stat_irq_event};
        rx_event_suppr_cnt_reg <= rx_event_suppr_cnt_reg + {31'd0, rx_stat_irq_event_suppressed};
    end

    if (rst) begin
        rsp_valid_reg <= 1'b0;
        rsp_rdata_reg <= 32'd0;
        mode_reg <= 32'h0000_0030;   // WHEN_ACKED, offer NOTIFY_ON_EMPTY and INDIRECT_DESC, immediate
        pacing_interval_reg <= PACING_INTERVAL_RESET;
        fault_reg <= 32'd0;
        push_batch_reg <= BATCH_MAX_32[7:0];
        push_flush_reg <= PUSH_FLUSH_RESET[15:0];
        last_error_reg <= 4'd0;
        rx_last_error_reg <= 4'd0;
        for (k = 0; k < RX_CNT_COUNT; k = k + 1) begin
            rx_cnt_reg[k] <= 32'd0;
        end
        drop_long_cnt_reg <= 32'd0;
        drop_runt_cnt_reg <= 32'd0;
        irq_event_cnt_reg <= 32'd0;
        event_suppr_cnt_reg <= 32'd0;
        rx_irq_event_cnt_reg <= 32'd0;
        rx_event_suppr_cnt_reg <= 32'd0;
        for (k = 0; k < CNT_COUNT; k = k + 1) begin
            cnt_reg[k] <= 32'd0;
        end
        for (k = 0; k < 16; k = k + 1) begin
            err_cnt_reg[k] <= 32'd0;
        end
    end
end

endmodule

`resetall
