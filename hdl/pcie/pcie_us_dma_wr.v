`resetall
`timescale 1ns / 1ps
`default_nettype none

/*
 * PCIe DMA write engine for the Xilinx UltraScale+ hard block (RQ, dword alignment, no straddle):
 * client RAM (or up to 8 immediate bytes) -> host memory.
 *
 * A descriptor is split into memory write TLPs at max-payload-size aligned boundaries (cfg_max_payload,
 * 128..1024 bytes; these are also 4 KiB boundaries). Descriptors are handled one at a time, in order.
 *
 * Data path: TLP byte t (the 16-byte descriptor first, then the payload from the host address rounded
 * down to a dword) corresponds to RAM byte R + t with R = ram_addr - (pcie_addr & 3) - 16. Beat b of the
 * TLP is therefore RAM words (R/BYTES + b) and (R/BYTES + b + 1) shifted right by R % BYTES bytes, with
 * the descriptor dwords laid over the first beat(s). The engine reads RAM words ahead into a 4-entry
 * FIFO (read latency 1), keeps the previous word, and builds one beat per cycle while RQ is ready.
 * Payload bytes outside the first/last byte enables are whatever the RAM holds (the hard block and the
 * host ignore them).
 *
 * The status of a descriptor is sent when the last beat of its last TLP was accepted on RQ; writes are
 * posted, so the error is always 0. The next descriptor is accepted after that.
 */
module pcie_us_dma_wr #
(
    // width of the PCIe AXI stream interfaces in bits (64, 128 or 256)
    parameter AXIS_PCIE_DATA_WIDTH = 256,
    // PCIe AXI stream tkeep signal width (words per cycle)
    parameter AXIS_PCIE_KEEP_WIDTH = (AXIS_PCIE_DATA_WIDTH/32),
    // PCIe AXI stream RQ tuser signal width
    parameter AXIS_PCIE_RQ_USER_WIDTH = 62,
    // client RAM byte address width (RAM word = AXIS_PCIE_DATA_WIDTH bits)
    parameter RAM_ADDR_WIDTH = 16,
    // descriptor length field width
    parameter LEN_WIDTH = 16,
    // client tag width
    parameter TAG_WIDTH = 8
)
(
    input  wire                                     clk,
    input  wire                                     rst,

    /*
     * AXI output (RQ)
     */
    output wire [AXIS_PCIE_DATA_WIDTH-1:0]          m_axis_rq_tdata,
    output wire [AXIS_PCIE_KEEP_WIDTH-1:0]          m_axis_rq_tkeep,
    output wire                                     m_axis_rq_tlast,
    output wire [AXIS_PCIE_RQ_USER_WIDTH-1:0]       m_axis_rq_tuser,
    output wire                                     m_axis_rq_tvalid,
    input  wire                                     m_axis_rq_tready,

    /*
     * Write descriptor input
     */
    input  wire [63:0]                              s_axis_write_desc_pcie_addr,
    input  wire [RAM_ADDR_WIDTH-1:0]                s_axis_write_desc_ram_addr,
    input  wire [63:0]                              s_axis_write_desc_imm,
    input  wire                                     s_axis_write_desc_imm_en,
    input  wire [LEN_WIDTH-1:0]                     s_axis_write_desc_len,
    input  wire [TAG_WIDTH-1:0]                     s_axis_write_desc_tag,
    input  wire                                     s_axis_write_desc_valid,
    output wire                                     s_axis_write_desc_ready,

    /*
     * Write descriptor status output
     */
    output wire [TAG_WIDTH-1:0]                     m_axis_write_desc_status_tag,
    output wire [3:0]                               m_axis_write_desc_status_error,
    output wire                                     m_axis_write_desc_status_valid,

    /*
     * RAM read port (data one cycle after ram_rd_en)
     */
    output wire                                     ram_rd_en,
    output wire [RAM_ADDR_WIDTH-$clog2(AXIS_PCIE_DATA_WIDTH/8)-1:0] ram_rd_addr,
    input  wire [AXIS_PCIE_DATA_WIDTH-1:0]          ram_rd_data,

    /*
     * Configuration
     */
    input  wire [1:0]                               cfg_max_payload,

    /*
     * Statistics
     */
    output wire                                     stat_wr_req_tlp
);

localparam DATA_WIDTH = AXIS_PCIE_DATA_WIDTH;
localparam KEEP_WIDTH = AXIS_PCIE_KEEP_WIDTH;
localparam KEEP_SHIFT = $clog2(KEEP_WIDTH);
localparam RAM_BYTES = DATA_WIDTH/8;
localparam RAM_OFFSET_WIDTH = $clog2(RAM_BYTES);
localparam RAM_WORD_ADDR_WIDTH = RAM_ADDR_WIDTH-RAM_OFFSET_WIDTH;
// a TLP carries at most 1024 payload bytes: (4 + 256) dwords, 130 beats at 64 bits, plus the extra word
localparam BEAT_WIDTH = 10;
// immediate data laid out as TLP bytes: descriptor (16) + dword offset (3) + 8 bytes fit in 32 bytes
localparam IMM_STREAM_WIDTH = 256;
localparam IMM_BEATS = IMM_STREAM_WIDTH/DATA_WIDTH;
localparam FIFO_DEPTH = 4;
localparam LEN_CALC_WIDTH = LEN_WIDTH > 11 ? LEN_WIDTH : 11;
localparam TLP_LEN_RAM_WIDTH = RAM_ADDR_WIDTH > 11 ? RAM_ADDR_WIDTH : 11;

// RQ descriptor request type (PG213)
localparam [3:0] REQ_MEM_WRITE = 4'b0001;

localparam [1:0]
    STATE_IDLE = 2'd0,
    STATE_CALC = 2'd1,
    STATE_DATA = 2'd2;

initial begin
    if (DATA_WIDTH != 64 && DATA_WIDTH != 128 && DATA_WIDTH != 256) begin
        $error("Error: AXIS_PCIE_DATA_WIDTH must be 64, 128 or 256 (instance %m)");
        $finish;
    end
    if (KEEP_WIDTH*32 != DATA_WIDTH) begin
        $error("Error: AXIS_PCIE_KEEP_WIDTH must be AXIS_PCIE_DATA_WIDTH/32 (instance %m)");
        $finish;
    end
    if (AXIS_PCIE_RQ_USER_WIDTH != 60 && AXIS_PCIE_RQ_USER_WIDTH != 62) begin
        $error("Error: AXIS_PCIE_RQ_USER_WIDTH must be 60 or 62 (instance %m)");
        $finish;
    end
    if (RAM_ADDR_WIDTH <= RAM_OFFSET_WIDTH) begin
        $error("Error: RAM_ADDR_WIDTH too small for the RAM word (instance %m)");
        $finish;
    end
end

/*
 * Registers. Not reset (don't-care until loaded): the current descriptor and TLP fields (loaded in
 * STATE_IDLE / STATE_CALC before use), the read address, the FIFO and previous-word data, the RQ output
 * data, keep, last and byte enables (used only with tvalid) and the status tag (used only with valid).
 */

reg [1:0] state_reg, state_next;

// current descriptor, advanced TLP by TLP
reg [63:0] req_pcie_addr_reg, req_pcie_addr_next;
reg [RAM_ADDR_WIDTH-1:0] req_ram_addr_reg, req_ram_addr_next;
reg [LEN_WIDTH-1:0] req_len_reg, req_len_next;
reg [TAG_WIDTH-1:0] req_tag_reg, req_tag_next;
reg [63:0] req_imm_reg, req_imm_next;
reg req_imm_en_reg, req_imm_en_next;

// current TLP (set in STATE_CALC)
reg [10:0] tlp_len_reg, tlp_len_next;
reg [BEAT_WIDTH-1:0] tlp_beats_reg, tlp_beats_next;
reg [KEEP_WIDTH-1:0] tlp_last_keep_reg, tlp_last_keep_next;
reg [3:0] tlp_first_be_reg, tlp_first_be_next;
reg [3:0] tlp_last_be_reg, tlp_last_be_next;
reg tlp_final_reg, tlp_final_next;
reg [RAM_OFFSET_WIDTH-1:0] tlp_shift_reg, tlp_shift_next;
reg [127:0] tlp_hdr_reg, tlp_hdr_next;
reg [IMM_STREAM_WIDTH-1:0] tlp_imm_reg, tlp_imm_next;
reg [BEAT_WIDTH-1:0] beat_reg, beat_next;

// RAM read-ahead
reg [RAM_WORD_ADDR_WIDTH-1:0] rd_addr_reg, rd_addr_next;
reg [BEAT_WIDTH-1:0] rd_left_reg, rd_left_next;
reg rd_pending_reg, rd_pending_next;

// read data FIFO; data registers are don't-care while empty
reg [DATA_WIDTH-1:0] fifo_data_reg[FIFO_DEPTH-1:0];
reg [1:0] fifo_wr_ptr_reg, fifo_wr_ptr_next;
reg [1:0] fifo_rd_ptr_reg, fifo_rd_ptr_next;
reg [2:0] fifo_count_reg, fifo_count_next;
reg fifo_push;
reg fifo_pop;
wire [DATA_WIDTH-1:0] fifo_head = fifo_data_reg[fifo_rd_ptr_reg];

// previous RAM word of the TLP (don't-care while prev_valid_reg is low)
reg [DATA_WIDTH-1:0] prev_data_reg, prev_data_next;
reg prev_valid_reg, prev_valid_next;

// RQ output register (data don't-care while tvalid is low)
reg [DATA_WIDTH-1:0] m_axis_rq_tdata_reg, m_axis_rq_tdata_next;
reg [KEEP_WIDTH-1:0] m_axis_rq_tkeep_reg, m_axis_rq_tkeep_next;
reg m_axis_rq_tlast_reg, m_axis_rq_tlast_next;
reg [3:0] m_axis_rq_first_be_reg, m_axis_rq_first_be_next;
reg [3:0] m_axis_rq_last_be_reg, m_axis_rq_last_be_next;
reg m_axis_rq_tvalid_reg, m_axis_rq_tvalid_next;
reg out_final_reg, out_final_next;  // the output beat ends the descriptor

reg [TAG_WIDTH-1:0] m_axis_write_desc_status_tag_reg, m_axis_write_desc_status_tag_next;
reg m_axis_write_desc_status_valid_reg, m_axis_write_desc_status_valid_next;

reg stat_wr_req_tlp_reg, stat_wr_req_tlp_next;

reg ram_rd_en_int;
reg [RAM_WORD_ADDR_WIDTH-1:0] ram_rd_addr_int;

assign m_axis_rq_tdata = m_axis_rq_tdata_reg;
assign m_axis_rq_tkeep = m_axis_rq_tkeep_reg;
assign m_axis_rq_tlast = m_axis_rq_tlast_reg;
// tuser: first BE [3:0], last BE [7:4]; address offset, discontinue, TPH, sequence number, parity: 0
assign m_axis_rq_tuser = {{(AXIS_PCIE_RQ_USER_WIDTH-8){1'b0}}, m_axis_rq_last_be_reg, m_axis_rq_first_be_reg};
assign m_axis_rq_tvalid = m_axis_rq_tvalid_reg;

assign s_axis_write_desc_ready = state_reg == STATE_IDLE && !out_final_reg;

assign m_axis_write_desc_status_tag = m_axis_write_desc_status_tag_reg;
assign m_axis_write_desc_status_error = 4'd0;
assign m_axis_write_desc_status_valid = m_axis_write_desc_status_valid_reg;

assign ram_rd_en = ram_rd_en_int;
assign ram_rd_addr = ram_rd_addr_int;

assign stat_wr_req_tlp = stat_wr_req_tlp_reg;

// TLP split (STATE_CALC)
reg [10:0] calc_mps;
reg [10:0] calc_room;
reg [LEN_CALC_WIDTH-1:0] calc_len_rem;
reg [10:0] calc_len;
reg [10:0] calc_end;      // dword offset + length + 3
reg [8:0] calc_dw;
reg [9:0] calc_tlp_dw;    // descriptor + payload dwords
reg [KEEP_SHIFT-1:0] calc_keep_pad;  // unused dword lanes in the last beat
reg [LEN_CALC_WIDTH-1:0] tlp_len_desc;
// RAM_ADDR_WIDTH < 11: RAM addresses wrap, the upper bits of the 11-bit length are unused
/* verilator lint_off UNUSEDSIGNAL */
reg [TLP_LEN_RAM_WIDTH-1:0] tlp_len_ram;
/* verilator lint_on UNUSEDSIGNAL */
reg [RAM_ADDR_WIDTH-1:0] calc_ram_start;

// beat assembly (STATE_DATA)
reg out_ready;
reg beat_avail;
reg [DATA_WIDTH-1:0] beat_data;
reg [RAM_OFFSET_WIDTH:0] byte_idx;
reg [BEAT_WIDTH+KEEP_SHIFT-1:0] dw_idx;

// The beat a TLP sends next: a pure function of the registers, in a block of its own (an event-driven
// simulator such as Icarus re-evaluates a combinational block whenever an input changes: the state machine's
// block below runs several times in a busy cycle and no longer repeats these loops over every byte lane).
integer bi;

always @* begin
    byte_idx = {(RAM_OFFSET_WIDTH+1){1'b0}};
    dw_idx = {(BEAT_WIDTH+KEEP_SHIFT){1'b0}};
    beat_data = {DATA_WIDTH{1'b0}};
    if (req_imm_en_reg) begin
        for (bi = 0; bi < IMM_BEATS; bi = bi + 1) begin
            if (beat_reg == bi[BEAT_WIDTH-1:0]) begin
                beat_data = tlp_imm_reg[bi*DATA_WIDTH +: DATA_WIDTH];
            end
        end
    end else begin
        for (bi = 0; bi < RAM_BYTES; bi = bi + 1) begin
            byte_idx = {1'b0, bi[RAM_OFFSET_WIDTH-1:0]} + {1'b0, tlp_shift_reg};
            if (!byte_idx[RAM_OFFSET_WIDTH]) begin
                beat_data[bi*8 +: 8] = prev_data_reg[byte_idx[RAM_OFFSET_WIDTH-1:0]*8 +: 8];
            end else begin
                beat_data[bi*8 +: 8] = fifo_head[byte_idx[RAM_OFFSET_WIDTH-1:0]*8 +: 8];
            end
        end
    end
    for (bi = 0; bi < KEEP_WIDTH; bi = bi + 1) begin
        dw_idx = {beat_reg, bi[KEEP_SHIFT-1:0]};
        if (dw_idx < 4) begin
            beat_data[bi*32 +: 32] = tlp_hdr_reg[dw_idx[1:0]*32 +: 32];
        end
        if (beat_reg == tlp_beats_reg - 1 && !tlp_last_keep_reg[bi]) begin
            beat_data[bi*32 +: 32] = 32'd0;
        end
    end
end

always @* begin
    state_next = state_reg;

    req_pcie_addr_next = req_pcie_addr_reg;
    req_ram_addr_next = req_ram_addr_reg;
    req_len_next = req_len_reg;
    req_tag_next = req_tag_reg;
    req_imm_next = req_imm_reg;
    req_imm_en_next = req_imm_en_reg;

    tlp_len_next = tlp_len_reg;
    tlp_beats_next = tlp_beats_reg;
    tlp_last_keep_next = tlp_last_keep_reg;
    tlp_first_be_next = tlp_first_be_reg;
    tlp_last_be_next = tlp_last_be_reg;
    tlp_final_next = tlp_final_reg;
    tlp_shift_next = tlp_shift_reg;
    tlp_hdr_next = tlp_hdr_reg;
    tlp_imm_next = tlp_imm_reg;
    beat_next = beat_reg;

    rd_addr_next = rd_addr_reg;
    rd_left_next = rd_left_reg;
    rd_pending_next = 1'b0;

    fifo_push = rd_pending_reg;
    fifo_pop = 1'b0;

    prev_data_next = prev_data_reg;
    prev_valid_next = prev_valid_reg;

    m_axis_rq_tdata_next = m_axis_rq_tdata_reg;
    m_axis_rq_tkeep_next = m_axis_rq_tkeep_reg;
    m_axis_rq_tlast_next = m_axis_rq_tlast_reg;
    m_axis_rq_first_be_next = m_axis_rq_first_be_reg;
    m_axis_rq_last_be_next = m_axis_rq_last_be_reg;
    m_axis_rq_tvalid_next = m_axis_rq_tvalid_reg && !m_axis_rq_tready;
    out_final_next = out_final_reg;

    m_axis_write_desc_status_tag_next = m_axis_write_desc_status_tag_reg;
    m_axis_write_desc_status_valid_next = 1'b0;

    stat_wr_req_tlp_next = 1'b0;

    ram_rd_en_int = 1'b0;
    ram_rd_addr_int = rd_addr_reg;

    // the final beat of a descriptor accepted: status
    if (m_axis_rq_tvalid_reg && m_axis_rq_tready && out_final_reg) begin
        out_final_next = 1'b0;
        m_axis_write_desc_status_tag_next = req_tag_reg;
        m_axis_write_desc_status_valid_next = 1'b1;
    end

    // TLP split
    calc_mps = 11'd128 << cfg_max_payload;
    calc_room = calc_mps - (req_pcie_addr_reg[10:0] & (calc_mps - 11'd1));
    calc_len_rem = {LEN_CALC_WIDTH{1'b0}};
    calc_len_rem[LEN_WIDTH-1:0] = req_len_reg;
    if (calc_len_rem < {{(LEN_CALC_WIDTH-11){1'b0}}, calc_room}) begin
        calc_len = calc_len_rem[10:0];
    end else begin
        calc_len = calc_room;
    end
    calc_end = {9'd0, req_pcie_addr_reg[1:0]} + calc_len + 11'd3;
    calc_dw = calc_end[10:2];
    calc_tlp_dw = {1'b0, calc_dw} + 10'd4;
    calc_keep_pad = -calc_tlp_dw[KEEP_SHIFT-1:0];

    tlp_len_desc = {LEN_CALC_WIDTH{1'b0}};
    tlp_len_desc[10:0] = tlp_len_reg;
    tlp_len_ram = {TLP_LEN_RAM_WIDTH{1'b0}};
    tlp_len_ram[10:0] = tlp_len_reg;
    calc_ram_start = req_ram_addr_reg - {{(RAM_ADDR_WIDTH-2){1'b0}}, req_pcie_addr_reg[1:0]} - 16;

    // beat assembly: descriptor dwords over RAM words (R/BYTES + b, + b + 1) >> R % BYTES, or immediate
    out_ready = !m_axis_rq_tvalid_reg || m_axis_rq_tready;
    beat_avail = prev_valid_reg && (req_imm_en_reg || fifo_count_reg != 3'd0);

    case (state_reg)
        STATE_IDLE: begin
            if (s_axis_write_desc_valid && s_axis_write_desc_ready) begin
                req_pcie_addr_next = s_axis_write_desc_pcie_addr;
                req_ram_addr_next = s_axis_write_desc_ram_addr;
                req_len_next = s_axis_write_desc_len;
                req_tag_next = s_axis_write_desc_tag;
                req_imm_next = s_axis_write_desc_imm;
                req_imm_en_next = s_axis_write_desc_imm_en;
                if (s_axis_write_desc_len == {LEN_WIDTH{1'b0}}) begin
                    // nothing to write
                    m_axis_write_desc_status_tag_next = s_axis_write_desc_tag;
                    m_axis_write_desc_status_valid_next = 1'b1;
                end else begin
                    state_next = STATE_CALC;
                end
            end
        end
        STATE_CALC: begin
            tlp_len_next = calc_len;
            tlp_beats_next = (calc_tlp_dw >> KEEP_SHIFT) + {9'd0, |calc_tlp_dw[KEEP_SHIFT-1:0]};
            tlp_last_keep_next = {KEEP_WIDTH{1'b1}} >> calc_keep_pad;
            tlp_first_be_next = 4'b1111 << req_pcie_addr_reg[1:0];
            tlp_last_be_next = 4'b1111 >> (2'd3 - calc_end[1:0]);
            if (calc_dw == 9'd1) begin
                tlp_first_be_next = tlp_first_be_next & tlp_last_be_next;
                tlp_last_be_next = 4'd0;
            end
            tlp_final_next = calc_len_rem == {{(LEN_CALC_WIDTH-11){1'b0}}, calc_len};
            tlp_shift_next = calc_ram_start[RAM_OFFSET_WIDTH-1:0];
            // RQ descriptor (PG213): address, dword count, request type; requester ID from the hard block
            tlp_hdr_next[1:0] = 2'b00;                         // address type
            tlp_hdr_next[63:2] = req_pcie_addr_reg[63:2];      // address
            tlp_hdr_next[74:64] = {2'b00, calc_dw};            // dword count
            tlp_hdr_next[78:75] = REQ_MEM_WRITE;               // request type
            tlp_hdr_next[79] = 1'b0;                           // poisoned request
            tlp_hdr_next[95:80] = 16'd0;                       // requester ID (requester_id_enable = 0)
            tlp_hdr_next[103:96] = 8'd0;                       // tag (posted)
            tlp_hdr_next[119:104] = 16'd0;                     // completer ID
            tlp_hdr_next[120] = 1'b0;                          // requester ID enable
            tlp_hdr_next[123:121] = 3'b000;                    // traffic class
            tlp_hdr_next[126:124] = 3'b000;                    // attributes
            tlp_hdr_next[127] = 1'b0;                          // force ECRC
            tlp_imm_next = {{(IMM_STREAM_WIDTH-64){1'b0}}, req_imm_reg} << {5'd16 + {3'd0, req_pcie_addr_reg[1:0]}, 3'b000};
            beat_next = {BEAT_WIDTH{1'b0}};
            rd_addr_next = calc_ram_start[RAM_ADDR_WIDTH-1:RAM_OFFSET_WIDTH];
            if (req_imm_en_reg) begin
                rd_left_next = {BEAT_WIDTH{1'b0}};
                prev_valid_next = 1'b1;
            end else begin
                rd_left_next = tlp_beats_next + 1;
                prev_valid_next = 1'b0;
            end
            state_next = STATE_DATA;
        end
        STATE_DATA: begin
            // read ahead while the FIFO has room for what is in flight
            if (rd_left_reg != 0 && ({1'b0, fifo_count_reg} + {3'd0, rd_pending_reg}) < FIFO_DEPTH) begin
                ram_rd_en_int = 1'b1;
                rd_addr_next = rd_addr_reg + 1;
                rd_left_next = rd_left_reg - 1;
                rd_pending_next = 1'b1;
            end

            if (!prev_valid_reg) begin
                // first word of the TLP
                if (fifo_count_reg != 3'd0) begin
                    fifo_pop = 1'b1;
                    prev_data_next = fifo_head;
                    prev_valid_next = 1'b1;
                end
            end else if (out_ready && beat_avail) begin
                if (!req_imm_en_reg) begin
                    fifo_pop = 1'b1;
                    prev_data_next = fifo_head;
                end
                m_axis_rq_tdata_next = beat_data;
                m_axis_rq_tkeep_next = beat_reg == tlp_beats_reg - 1 ? tlp_last_keep_reg : {KEEP_WIDTH{1'b1}};
                m_axis_rq_tlast_next = beat_reg == tlp_beats_reg - 1;
                m_axis_rq_first_be_next = tlp_first_be_reg;
                m_axis_rq_last_be_next = tlp_last_be_reg;
                m_axis_rq_tvalid_next = 1'b1;
                beat_next = beat_reg + 1;
                if (beat_reg == 0) begin
                    stat_wr_req_tlp_next = 1'b1;
                end
                if (beat_reg == tlp_beats_reg - 1) begin
                    if (tlp_final_reg) begin
                        out_final_next = 1'b1;
                        state_next = STATE_IDLE;
                    end else begin
                        req_pcie_addr_next = req_pcie_addr_reg + {53'd0, tlp_len_reg};
                        req_ram_addr_next = req_ram_addr_reg + tlp_len_ram[RAM_ADDR_WIDTH-1:0];
                        req_len_next = req_len_reg - tlp_len_desc[LEN_WIDTH-1:0];
                        req_imm_next = req_imm_reg >> {tlp_len_reg, 3'b000};
                        state_next = STATE_CALC;
                    end
                end
            end
        end
        default: begin
            state_next = STATE_IDLE;
        end
    endcase

    fifo_wr_ptr_next = fifo_wr_ptr_reg + {1'b0, fifo_push};
    fifo_rd_ptr_next = fifo_rd_ptr_reg + {1'b0, fifo_pop};
    fifo_count_next = fifo_count_reg + {2'd0, fifo_push} - {2'd0, fifo_pop};
end

always @(posedge clk) begin
    state_reg <= state_next;

    req_pcie_addr_reg <= req_pcie_addr_next;
    req_ram_addr_reg <= req_ram_addr_next;
    req_len_reg <= req_len_next;
    req_tag_reg <= req_tag_next;
    req_imm_reg <= req_imm_next;
    req_imm_en_reg <= req_imm_en_next;

    tlp_len_reg <= tlp_len_next;
    tlp_beats_reg <= tlp_beats_next;
    tlp_last_keep_reg <= tlp_last_keep_next;
    tlp_first_be_reg <= tlp_first_be_next;
    tlp_last_be_reg <= tlp_last_be_next;
    tlp_final_reg <= tlp_final_next;
    tlp_shift_reg <= tlp_shift_next;
    tlp_hdr_reg <= tlp_hdr_next;
    tlp_imm_reg <= tlp_imm_next;
    beat_reg <= beat_next;

    rd_addr_reg <= rd_addr_next;
    rd_left_reg <= rd_left_next;
    rd_pending_reg <= rd_pending_next;

    if (fifo_push) begin
        fifo_data_reg[fifo_wr_ptr_reg] <= ram_rd_data;
    end
    fifo_wr_ptr_reg <= fifo_wr_ptr_next;
    fifo_rd_ptr_reg <= fifo_rd_ptr_next;
    fifo_count_reg <= fifo_count_next;

    prev_data_reg <= prev_data_next;
    prev_valid_reg <= prev_valid_next;

    m_axis_rq_tdata_reg <= m_axis_rq_tdata_next;
    m_axis_rq_tkeep_reg <= m_axis_rq_tkeep_next;
    m_axis_rq_tlast_reg <= m_axis_rq_tlast_next;
    m_axis_rq_first_be_reg <= m_axis_rq_first_be_next;
    m_axis_rq_last_be_reg <= m_axis_rq_last_be_next;
    m_axis_rq_tvalid_reg <= m_axis_rq_tvalid_next;
    out_final_reg <= out_final_next;

    m_axis_write_desc_status_tag_reg <= m_axis_write_desc_status_tag_next;
    m_axis_write_desc_status_valid_reg <= m_axis_write_desc_status_valid_next;

    stat_wr_req_tlp_reg <= stat_wr_req_tlp_next;

    if (rst) begin
        state_reg <= STATE_IDLE;
        beat_reg <= {BEAT_WIDTH{1'b0}};
        rd_left_reg <= {BEAT_WIDTH{1'b0}};
        rd_pending_reg <= 1'b0;
        fifo_wr_ptr_reg <= 2'd0;
        fifo_rd_ptr_reg <= 2'd0;
        fifo_count_reg <= 3'd0;
        prev_valid_reg <= 1'b0;
        m_axis_rq_tvalid_reg <= 1'b0;
        out_final_reg <= 1'b0;
        m_axis_write_desc_status_valid_reg <= 1'b0;
        stat_wr_req_tlp_reg <= 1'b0;
    end
end

endmodule

`resetall
