`resetall
`timescale 1ns / 1ps
`default_nettype none

/*
 * PCIe DMA read engine for the Xilinx UltraScale+ hard block (RQ/RC, dword alignment, no straddle,
 * client tags): host memory -> client RAM.
 *
 * Requests: a descriptor (host address, RAM byte address, length, client tag) takes a slot in a table of
 * DESC_COUNT descriptors and is split into memory read requests at max-read-request-size aligned
 * boundaries (cfg_max_read_req, 128..4096 bytes; so never across 4 KiB). Each request takes a free PCIe
 * tag (0..PCIE_TAG_COUNT-1) and reserves the receive completion buffer space its completions can cost in
 * the worst case, counted as the hard block counts it: completions split at every 64-byte RCB (also an
 * upper bound for a 128-byte RCB), each one CPLH and (data credits + 1) CPLD. A request is issued only
 * while the reservations stay within CPLH_LIMIT / CPLD_LIMIT; its reservation is returned when its final
 * completion has been taken from RC. Several requests (of one or several descriptors) are in flight.
 *
 * Completions: any order across tags, split on RCB boundaries within a request. A completion's first byte
 * is at request offset (request length - byte count), so its data goes to RAM byte
 * (request RAM address + request length - byte count), whatever the split. The RC stream runs through two
 * register stages: S1 holds a beat as received (where the descriptor is decoded and the tag looked up),
 * S2 holds it with its RAM word address and byte rotation. Each S2 beat writes one RAM word (the bytes
 * of this beat that land in it, plus the bytes of the previous beat that spilled over); after the last
 * beat one more word is written when bytes spilled over, with RC tready low for that cycle.
 *
 * Status: a descriptor is finished when all its requests are issued and finished; its status (client tag,
 * first error seen) is sent one or more cycles after the RAM write of its last byte. Statuses come in
 * completion order. Errors: 1 = UR, 2 = CA, 3 = poisoned or other completion error, 4 = timeout
 * (completion timeout reported by the hard block, or none for CPL_TIMEOUT..1.25*CPL_TIMEOUT cycles here:
 * the tag and its reservation are then freed so a lost completion never hangs the engine). Set
 * CPL_TIMEOUT above the hard block's completion timeout: this one is the backstop, and a completion that
 * still arrives for a freed tag is dropped (stat_rd_cpl_err) only while the tag has not been reused.
 *
 * Requester ID and function come from the hard block (requester_id_enable = 0, function 0).
 */
module pcie_us_dma_rd #
(
    // width of the PCIe AXI stream interfaces in bits (64, 128 or 256)
    parameter AXIS_PCIE_DATA_WIDTH = 256,
    // PCIe AXI stream tkeep signal width (words per cycle)
    parameter AXIS_PCIE_KEEP_WIDTH = (AXIS_PCIE_DATA_WIDTH/32),
    // PCIe AXI stream RQ tuser signal width
    parameter AXIS_PCIE_RQ_USER_WIDTH = 62,
    // PCIe AXI stream RC tuser signal width
    parameter AXIS_PCIE_RC_USER_WIDTH = 75,
    // client RAM byte address width (RAM word = AXIS_PCIE_DATA_WIDTH bits)
    parameter RAM_ADDR_WIDTH = 16,
    // descriptor length field width
    parameter LEN_WIDTH = 16,
    // client tag width
    parameter TAG_WIDTH = 8,
    // PCIe tags used (0..PCIE_TAG_COUNT-1); more than 32 needs extended tags in the hard block
    parameter PCIE_TAG_COUNT = 32,
    // descriptors in flight
    parameter DESC_COUNT = 8,
    // receive completion buffer space the engine may reserve (hard block: 256 CPLH, 2048 CPLD)
    parameter CPLH_LIMIT = 128,
    parameter CPLD_LIMIT = 1024,
    // completion timeout in clock cycles
    parameter CPL_TIMEOUT = 67108864
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
     * AXI input (RC)
     */
    input  wire [AXIS_PCIE_DATA_WIDTH-1:0]          s_axis_rc_tdata,
    // tkeep and tuser above byte_en are not needed: byte_en marks the payload bytes
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [AXIS_PCIE_KEEP_WIDTH-1:0]          s_axis_rc_tkeep,
    input  wire                                     s_axis_rc_tlast,
    input  wire [AXIS_PCIE_RC_USER_WIDTH-1:0]       s_axis_rc_tuser,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                                     s_axis_rc_tvalid,
    output wire                                     s_axis_rc_tready,

    /*
     * Read descriptor input
     */
    input  wire [63:0]                              s_axis_read_desc_pcie_addr,
    input  wire [RAM_ADDR_WIDTH-1:0]                s_axis_read_desc_ram_addr,
    input  wire [LEN_WIDTH-1:0]                     s_axis_read_desc_len,
    input  wire [TAG_WIDTH-1:0]                     s_axis_read_desc_tag,
    input  wire                                     s_axis_read_desc_valid,
    output wire                                     s_axis_read_desc_ready,

    /*
     * Read descriptor status output
     */
    output wire [TAG_WIDTH-1:0]                     m_axis_read_desc_status_tag,
    output wire [3:0]                               m_axis_read_desc_status_error,
    output wire                                     m_axis_read_desc_status_valid,

    /*
     * RAM write port
     */
    output wire                                     ram_wr_en,
    output wire [RAM_ADDR_WIDTH-$clog2(AXIS_PCIE_DATA_WIDTH/8)-1:0] ram_wr_addr,
    output wire [AXIS_PCIE_DATA_WIDTH/8-1:0]        ram_wr_be,
    output wire [AXIS_PCIE_DATA_WIDTH-1:0]          ram_wr_data,

    /*
     * Configuration
     */
    input  wire [2:0]                               cfg_max_read_req,

    /*
     * Statistics
     */
    output wire                                     stat_rd_req_tlp,
    output wire                                     stat_rd_cpl_tlp,
    output wire                                     stat_rd_cpl_err
);

localparam DATA_WIDTH = AXIS_PCIE_DATA_WIDTH;
localparam KEEP_WIDTH = AXIS_PCIE_KEEP_WIDTH;
localparam RAM_BYTES = DATA_WIDTH/8;
localparam RAM_OFFSET_WIDTH = $clog2(RAM_BYTES);
localparam RAM_WORD_ADDR_WIDTH = RAM_ADDR_WIDTH-RAM_OFFSET_WIDTH;
localparam PCIE_TAG_INDEX_WIDTH = $clog2(PCIE_TAG_COUNT);
localparam DESC_INDEX_WIDTH = $clog2(DESC_COUNT);
localparam DESC_CNT_WIDTH = $clog2(PCIE_TAG_COUNT+1);
localparam LEN_CALC_WIDTH = LEN_WIDTH > 13 ? LEN_WIDTH : 13;
localparam Q_CALC_WIDTH = RAM_ADDR_WIDTH > 13 ? RAM_ADDR_WIDTH : 13;

// worst case of one request (4096 bytes): 64 completions, 256 data credits + 64
localparam REQ_CPLH_WIDTH = 7;
localparam REQ_CPLD_WIDTH = 9;
localparam CPLH_CNT_WIDTH = ($clog2(CPLH_LIMIT+1) > REQ_CPLH_WIDTH ? $clog2(CPLH_LIMIT+1) : REQ_CPLH_WIDTH) + 1;
localparam CPLD_CNT_WIDTH = ($clog2(CPLD_LIMIT+1) > REQ_CPLD_WIDTH ? $clog2(CPLD_LIMIT+1) : REQ_CPLD_WIDTH) + 1;
localparam [CPLH_CNT_WIDTH-1:0] CPLH_LIMIT_VAL = CPLH_LIMIT;
localparam [CPLD_CNT_WIDTH-1:0] CPLD_LIMIT_VAL = CPLD_LIMIT;

// RC: the descriptor is dwords 0..2 of the TLP; at 64 bits dword 2 (the tag) is in the second beat
localparam HDR_BEAT = KEEP_WIDTH == 2 ? 1 : 0;
localparam HDR_BYTES_IN_HDR_BEAT = HDR_BEAT ? 4 : 12;
localparam [8:0] PCIE_TAG_COUNT_VAL = PCIE_TAG_COUNT;

// completion timeout: per-tag tick counters, a tag expires on its fifth tick after issue
localparam TIMEOUT_TICK = CPL_TIMEOUT/4 > 0 ? CPL_TIMEOUT/4 : 1;
localparam TIMEOUT_PRESCALE_WIDTH = $clog2(TIMEOUT_TICK+1);
localparam TIMEOUT_TICK_LAST = TIMEOUT_TICK-1;
localparam [2:0] TIMER_EXPIRED = 3'd5;

// RQ descriptor request type (PG213)
localparam [3:0] REQ_MEM_READ = 4'b0000;

// RC descriptor error code and completion status (PG213)
localparam [3:0] RC_ERR_NORMAL_TERMINATION = 4'b0000;
localparam [3:0] RC_ERR_TIMEOUT = 4'b1001;
localparam [2:0] CPL_STATUS_UR = 3'b001;
localparam [2:0] CPL_STATUS_CA = 3'b100;

// status error codes (hdl/README.md)
localparam [3:0]
    DMA_ERROR_NONE = 4'd0,
    DMA_ERROR_UR = 4'd1,
    DMA_ERROR_CA = 4'd2,
    DMA_ERROR_CPL = 4'd3,
    DMA_ERROR_TIMEOUT = 4'd4;

localparam [1:0]
    REQ_STATE_IDLE = 2'd0,
    REQ_STATE_CALC = 2'd1,
    REQ_STATE_ISSUE = 2'd2;

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
    if (AXIS_PCIE_RC_USER_WIDTH != 75) begin
        $error("Error: AXIS_PCIE_RC_USER_WIDTH must be 75 (instance %m)");
        $finish;
    end
    if (RAM_ADDR_WIDTH <= RAM_OFFSET_WIDTH) begin
        $error("Error: RAM_ADDR_WIDTH too small for the RAM word (instance %m)");
        $finish;
    end
    if (PCIE_TAG_COUNT < 2 || PCIE_TAG_COUNT > 256) begin
        $error("Error: PCIE_TAG_COUNT must be 2..256 (instance %m)");
        $finish;
    end
    if (DESC_COUNT < 2 || 2**DESC_INDEX_WIDTH != DESC_COUNT) begin
        $error("Error: DESC_COUNT must be a power of two, at least 2 (instance %m)");
        $finish;
    end
    if (CPLH_LIMIT < 64 || CPLD_LIMIT < 320) begin
        $error("Error: CPLH_LIMIT / CPLD_LIMIT below one 4 KiB request (64 / 320) (instance %m)");
        $finish;
    end
end

/*
 * Registers. Not reset (don't-care until loaded): the current descriptor and request fields (loaded
 * before REQ_STATE_CALC / REQ_STATE_ISSUE), the RQ descriptor, the per-tag and per-descriptor fields other
 * than the valid / active / count bits (loaded when a tag is issued / a slot allocated), the RC data
 * pipeline (data, byte enables and completion fields are only used with the valid bits) and the RAM
 * write data and address.
 */

// request generator
reg [1:0] req_state_reg, req_state_next;
reg [63:0] req_pcie_addr_reg, req_pcie_addr_next;
reg [RAM_ADDR_WIDTH-1:0] req_ram_addr_reg, req_ram_addr_next;
reg [LEN_WIDTH-1:0] req_len_reg, req_len_next;
reg [DESC_INDEX_WIDTH-1:0] req_desc_reg, req_desc_next;

reg [12:0] tlp_len_reg, tlp_len_next;
reg [10:0] tlp_dw_reg, tlp_dw_next;
reg [3:0] tlp_first_be_reg, tlp_first_be_next;
reg [3:0] tlp_last_be_reg, tlp_last_be_next;
reg [REQ_CPLH_WIDTH-1:0] tlp_cplh_reg, tlp_cplh_next;
reg [REQ_CPLD_WIDTH-1:0] tlp_cpld_reg, tlp_cpld_next;
reg tlp_final_reg, tlp_final_next;

// RQ output (one read request: the 4-dword descriptor)
reg rq_valid_reg, rq_valid_next;
reg rq_beat_reg, rq_beat_next;
reg [127:0] rq_hdr_reg, rq_hdr_next;
reg [3:0] rq_first_be_reg, rq_first_be_next;
reg [3:0] rq_last_be_reg, rq_last_be_next;

// receive completion buffer reservations
reg [CPLH_CNT_WIDTH-1:0] cplh_used_reg, cplh_used_next;
reg [CPLD_CNT_WIDTH-1:0] cpld_used_reg, cpld_used_next;

// PCIe tag table
reg [PCIE_TAG_COUNT-1:0] tag_valid_reg, tag_valid_next;
reg [PCIE_TAG_COUNT*DESC_INDEX_WIDTH-1:0] tag_desc_reg, tag_desc_next;
reg [PCIE_TAG_COUNT*RAM_ADDR_WIDTH-1:0] tag_ram_addr_reg, tag_ram_addr_next;
reg [PCIE_TAG_COUNT*13-1:0] tag_len_reg, tag_len_next;
reg [PCIE_TAG_COUNT*REQ_CPLH_WIDTH-1:0] tag_cplh_reg, tag_cplh_next;
reg [PCIE_TAG_COUNT*REQ_CPLD_WIDTH-1:0] tag_cpld_reg, tag_cpld_next;
reg [PCIE_TAG_COUNT*3-1:0] tag_timer_reg, tag_timer_next;
reg [TIMEOUT_PRESCALE_WIDTH-1:0] timeout_prescale_reg;
wire timeout_tick = timeout_prescale_reg == TIMEOUT_TICK_LAST[TIMEOUT_PRESCALE_WIDTH-1:0];

// descriptor table
reg [DESC_COUNT-1:0] desc_active_reg, desc_active_next;
reg [DESC_COUNT-1:0] desc_issuing_reg, desc_issuing_next;
reg [DESC_COUNT*DESC_CNT_WIDTH-1:0] desc_cnt_reg, desc_cnt_next;
reg [DESC_COUNT*4-1:0] desc_err_reg, desc_err_next;
reg [DESC_COUNT*TAG_WIDTH-1:0] desc_tag_reg, desc_tag_next;

reg [TAG_WIDTH-1:0] m_axis_read_desc_status_tag_reg, m_axis_read_desc_status_tag_next;
reg [3:0] m_axis_read_desc_status_error_reg, m_axis_read_desc_status_error_next;
reg m_axis_read_desc_status_valid_reg, m_axis_read_desc_status_valid_next;

// RC pipeline: input beat counter, S1, S2, spill-over word, end of completion
reg [1:0] rc_beat_reg, rc_beat_next;

reg s1_valid_reg, s1_valid_next;
reg [DATA_WIDTH-1:0] s1_data_reg, s1_data_next;
reg [RAM_BYTES-1:0] s1_be_reg, s1_be_next;
reg s1_last_reg, s1_last_next;
reg [1:0] s1_beat_reg, s1_beat_next;  // 0, 1, 2 = later
reg [63:0] s1_hdr_reg, s1_hdr_next;   // dwords 0..1 of the descriptor (64-bit interface)

reg s2_valid_reg, s2_valid_next;
reg [DATA_WIDTH-1:0] s2_data_reg, s2_data_next;
reg [RAM_BYTES-1:0] s2_be_reg, s2_be_next;
reg s2_last_reg, s2_last_next;
reg s2_first_reg, s2_first_next;
reg [RAM_WORD_ADDR_WIDTH-1:0] s2_addr_reg, s2_addr_next;

// completion in S2 (from its descriptor)
reg cpl_busy_reg, cpl_busy_next;
reg [RAM_OFFSET_WIDTH-1:0] cpl_shift_reg, cpl_shift_next;
reg [PCIE_TAG_INDEX_WIDTH-1:0] cpl_tag_reg, cpl_tag_next;
reg cpl_tag_ok_reg, cpl_tag_ok_next;
reg cpl_data_ok_reg, cpl_data_ok_next;
reg [3:0] cpl_error_reg, cpl_error_next;
reg cpl_done_reg, cpl_done_next;

// bytes of the previous beat that belong to the next RAM word
reg [DATA_WIDTH-1:0] spill_data_reg, spill_data_next;
reg [RAM_BYTES-1:0] spill_be_reg, spill_be_next;
reg [RAM_WORD_ADDR_WIDTH-1:0] spill_addr_reg, spill_addr_next;
reg flush_reg, flush_next;

// completion finished (its last RAM write issued): update tag and descriptor tables
reg end_valid_reg, end_valid_next;
reg [PCIE_TAG_INDEX_WIDTH-1:0] end_tag_reg, end_tag_next;
reg end_tag_ok_reg, end_tag_ok_next;
reg [3:0] end_error_reg, end_error_next;
reg end_done_reg, end_done_next;

reg ram_wr_en_reg, ram_wr_en_next;
reg [RAM_WORD_ADDR_WIDTH-1:0] ram_wr_addr_reg, ram_wr_addr_next;
reg [RAM_BYTES-1:0] ram_wr_be_reg, ram_wr_be_next;
reg [DATA_WIDTH-1:0] ram_wr_data_reg, ram_wr_data_next;

reg stat_rd_req_tlp_reg, stat_rd_req_tlp_next;
reg stat_rd_cpl_tlp_reg, stat_rd_cpl_tlp_next;
reg stat_rd_cpl_err_reg, stat_rd_cpl_err_next;

/*
 * Outputs
 */
generate
if (KEEP_WIDTH == 2) begin : g_rq_64
    assign m_axis_rq_tdata = rq_beat_reg ? rq_hdr_reg[127:64] : rq_hdr_reg[63:0];
    assign m_axis_rq_tkeep = 2'b11;
    assign m_axis_rq_tlast = rq_beat_reg;
end else begin : g_rq_wide
    reg [DATA_WIDTH-1:0] rq_tdata;
    reg [KEEP_WIDTH-1:0] rq_tkeep;
    always @* begin
        rq_tdata = {DATA_WIDTH{1'b0}};
        rq_tdata[127:0] = rq_hdr_reg;
        rq_tkeep = {KEEP_WIDTH{1'b0}};
        rq_tkeep[3:0] = 4'b1111;
    end
    assign m_axis_rq_tdata = rq_tdata;
    assign m_axis_rq_tkeep = rq_tkeep;
    assign m_axis_rq_tlast = 1'b1;
end
endgenerate

// tuser: first BE [3:0], last BE [7:4]; address offset, discontinue, TPH, sequence number, parity: 0
assign m_axis_rq_tuser = {{(AXIS_PCIE_RQ_USER_WIDTH-8){1'b0}}, rq_last_be_reg, rq_first_be_reg};
assign m_axis_rq_tvalid = rq_valid_reg;

// a cycle that writes the spilled-over word takes no RC beat
assign s_axis_rc_tready = !flush_reg;

assign m_axis_read_desc_status_tag = m_axis_read_desc_status_tag_reg;
assign m_axis_read_desc_status_error = m_axis_read_desc_status_error_reg;
assign m_axis_read_desc_status_valid = m_axis_read_desc_status_valid_reg;

assign ram_wr_en = ram_wr_en_reg;
assign ram_wr_addr = ram_wr_addr_reg;
assign ram_wr_be = ram_wr_be_reg;
assign ram_wr_data = ram_wr_data_reg;

assign stat_rd_req_tlp = stat_rd_req_tlp_reg;
assign stat_rd_cpl_tlp = stat_rd_cpl_tlp_reg;
assign stat_rd_cpl_err = stat_rd_cpl_err_reg;

/*
 * RC descriptor of the beat in S1 (valid when s1_beat_reg == HDR_BEAT)
 */
// fields not needed here: completer ID, requester ID, TC, attributes, dword count, locked read
/* verilator lint_off UNUSEDSIGNAL */
wire [95:0] rc_hdr;
/* verilator lint_on UNUSEDSIGNAL */

generate
if (HDR_BEAT) begin : g_rc_hdr_64
    assign rc_hdr = {s1_data_reg[31:0], s1_hdr_reg};
end else begin : g_rc_hdr_wide
    assign rc_hdr = s1_data_reg[95:0];
end
endgenerate

wire [1:0] rc_hdr_lower_addr = rc_hdr[1:0];  // byte offset of the first byte in its dword
wire [3:0] rc_hdr_error_code = rc_hdr[15:12];
wire [12:0] rc_hdr_byte_count = rc_hdr[28:16];
wire rc_hdr_request_completed = rc_hdr[30];
wire [2:0] rc_hdr_status = rc_hdr[45:43];
wire rc_hdr_poisoned = rc_hdr[46];
wire [7:0] rc_hdr_tag = rc_hdr[71:64];

/*
 * Combinational logic
 */

// request split
reg [12:0] calc_mrrs;
reg [12:0] calc_room;
reg [LEN_CALC_WIDTH-1:0] calc_len_rem;
reg [12:0] calc_len;
reg [11:0] calc_last;     // offset of the last byte in the 4 KiB page
reg [10:0] calc_dw;
// RAM_ADDR_WIDTH < 13: address arithmetic wraps in the RAM, the upper bits of the 13-bit length are unused
/* verilator lint_off UNUSEDSIGNAL */
reg [Q_CALC_WIDTH-1:0] tlp_len_wide;
/* verilator lint_on UNUSEDSIGNAL */
reg [RAM_ADDR_WIDTH-1:0] tlp_len_ram;
reg [LEN_CALC_WIDTH-1:0] tlp_len_desc;

// issue
reg tag_free_found;
reg [PCIE_TAG_INDEX_WIDTH-1:0] tag_free_index;
reg desc_free_found;
reg [DESC_INDEX_WIDTH-1:0] desc_free_index;
reg issue;

// completion descriptor decode (S1)
reg hdr_beat;
reg [PCIE_TAG_INDEX_WIDTH-1:0] hdr_tag_index;
reg hdr_tag_ok;
reg [3:0] hdr_error;
reg [12:0] hdr_req_len;
/* verilator lint_off UNUSEDSIGNAL */
reg [Q_CALC_WIDTH-1:0] hdr_start;   // RAM byte address of TLP byte 0 (descriptor dword 0); see tlp_len_wide
/* verilator lint_on UNUSEDSIGNAL */
reg [Q_CALC_WIDTH-1:0] hdr_offset;

// S2 beat
reg [DATA_WIDTH-1:0] rot_data;
reg [RAM_BYTES-1:0] rot_be;
reg [RAM_BYTES-1:0] low_mask;
reg [RAM_OFFSET_WIDTH-1:0] rot_index;

// table updates
reg end_free;
reg [DESC_INDEX_WIDTH-1:0] end_desc;
reg [PCIE_TAG_COUNT-1:0] tag_expired;
reg timeout_found;
reg [PCIE_TAG_INDEX_WIDTH-1:0] timeout_index;
reg [DESC_INDEX_WIDTH-1:0] timeout_desc;
reg done_found;
reg [DESC_INDEX_WIDTH-1:0] done_index;
reg [DESC_CNT_WIDTH-1:0] cnt;

integer i;

// Pure functions of the registers, each in a block of its own: an event-driven simulator (Icarus)
// re-evaluates a combinational block whenever one of its inputs changes, so the engine's block below, which
// runs several times in a busy cycle, no longer repeats these loops over every tag, descriptor and byte lane.
integer fi, ri, di, ei;

always @* begin
    // free tag and descriptor slot (lowest index)
    tag_free_found = 1'b0;
    tag_free_index = {PCIE_TAG_INDEX_WIDTH{1'b0}};
    for (fi = PCIE_TAG_COUNT-1; fi >= 0; fi = fi - 1) begin
        if (!tag_valid_reg[fi]) begin
            tag_free_found = 1'b1;
            tag_free_index = fi[PCIE_TAG_INDEX_WIDTH-1:0];
        end
    end

    desc_free_found = 1'b0;
    desc_free_index = {DESC_INDEX_WIDTH{1'b0}};
    for (fi = DESC_COUNT-1; fi >= 0; fi = fi - 1) begin
        if (!desc_active_reg[fi]) begin
            desc_free_found = 1'b1;
            desc_free_index = fi[DESC_INDEX_WIDTH-1:0];
        end
    end
end

always @* begin
    // S2 beat: rotate up by the RAM byte offset; bytes below it belong to the next RAM word
    for (ri = 0; ri < RAM_BYTES; ri = ri + 1) begin
        rot_index = ri[RAM_OFFSET_WIDTH-1:0] - cpl_shift_reg;
        rot_data[ri*8 +: 8] = s2_data_reg[rot_index*8 +: 8];
        rot_be[ri] = s2_be_reg[rot_index];
    end
    low_mask = ~({RAM_BYTES{1'b1}} << cpl_shift_reg);
end

always @* begin
    // a descriptor whose requests have all completed (lowest index)
    done_found = 1'b0;
    done_index = {DESC_INDEX_WIDTH{1'b0}};
    for (di = DESC_COUNT-1; di >= 0; di = di - 1) begin
        if (desc_active_reg[di] && !desc_issuing_reg[di] &&
                desc_cnt_reg[di*DESC_CNT_WIDTH +: DESC_CNT_WIDTH] == {DESC_CNT_WIDTH{1'b0}}) begin
            done_found = 1'b1;
            done_index = di[DESC_INDEX_WIDTH-1:0];
        end
    end
end

always @* begin
    // tags whose completion timer has expired
    for (ei = 0; ei < PCIE_TAG_COUNT; ei = ei + 1) begin
        tag_expired[ei] = tag_valid_reg[ei] && tag_timer_reg[ei*3 +: 3] == TIMER_EXPIRED;
    end
end

always @* begin
    req_state_next = req_state_reg;
    req_pcie_addr_next = req_pcie_addr_reg;
    req_ram_addr_next = req_ram_addr_reg;
    req_len_next = req_len_reg;
    req_desc_next = req_desc_reg;

    tlp_len_next = tlp_len_reg;
    tlp_dw_next = tlp_dw_reg;
    tlp_first_be_next = tlp_first_be_reg;
    tlp_last_be_next = tlp_last_be_reg;
    tlp_cplh_next = tlp_cplh_reg;
    tlp_cpld_next = tlp_cpld_reg;
    tlp_final_next = tlp_final_reg;

    rq_valid_next = rq_valid_reg;
    rq_beat_next = rq_beat_reg;
    rq_hdr_next = rq_hdr_reg;
    rq_first_be_next = rq_first_be_reg;
    rq_last_be_next = rq_last_be_reg;

    cplh_used_next = cplh_used_reg;
    cpld_used_next = cpld_used_reg;

    tag_valid_next = tag_valid_reg;
    tag_desc_next = tag_desc_reg;
    tag_ram_addr_next = tag_ram_addr_reg;
    tag_len_next = tag_len_reg;
    tag_cplh_next = tag_cplh_reg;
    tag_cpld_next = tag_cpld_reg;
    tag_timer_next = tag_timer_reg;

    desc_active_next = desc_active_reg;
    desc_issuing_next = desc_issuing_reg;
    desc_cnt_next = desc_cnt_reg;
    desc_err_next = desc_err_reg;
    desc_tag_next = desc_tag_reg;

    m_axis_read_desc_status_tag_next = m_axis_read_desc_status_tag_reg;
    m_axis_read_desc_status_error_next = m_axis_read_desc_status_error_reg;
    m_axis_read_desc_status_valid_next = 1'b0;

    rc_beat_next = rc_beat_reg;

    s1_valid_next = s1_valid_reg;
    s1_data_next = s1_data_reg;
    s1_be_next = s1_be_reg;
    s1_last_next = s1_last_reg;
    s1_beat_next = s1_beat_reg;
    s1_hdr_next = s1_hdr_reg;

    s2_valid_next = s2_valid_reg;
    s2_data_next = s2_data_reg;
    s2_be_next = s2_be_reg;
    s2_last_next = s2_last_reg;
    s2_first_next = s2_first_reg;
    s2_addr_next = s2_addr_reg;

    cpl_busy_next = cpl_busy_reg;
    cpl_shift_next = cpl_shift_reg;
    cpl_tag_next = cpl_tag_reg;
    cpl_tag_ok_next = cpl_tag_ok_reg;
    cpl_data_ok_next = cpl_data_ok_reg;
    cpl_error_next = cpl_error_reg;
    cpl_done_next = cpl_done_reg;

    spill_data_next = spill_data_reg;
    spill_be_next = spill_be_reg;
    spill_addr_next = spill_addr_reg;
    flush_next = 1'b0;

    end_valid_next = 1'b0;
    end_tag_next = end_tag_reg;
    end_tag_ok_next = end_tag_ok_reg;
    end_error_next = end_error_reg;
    end_done_next = end_done_reg;

    ram_wr_en_next = 1'b0;
    ram_wr_addr_next = ram_wr_addr_reg;
    ram_wr_be_next = ram_wr_be_reg;
    ram_wr_data_next = ram_wr_data_reg;

    stat_rd_req_tlp_next = 1'b0;
    stat_rd_cpl_tlp_next = 1'b0;
    stat_rd_cpl_err_next = 1'b0;

    /*
     * Request split: up to the next max-read-request-size boundary
     */
    calc_mrrs = cfg_max_read_req > 3'd5 ? 13'd4096 : 13'd128 << cfg_max_read_req;
    calc_room = calc_mrrs - ({1'b0, req_pcie_addr_reg[11:0]} & (calc_mrrs - 13'd1));
    calc_len_rem = {LEN_CALC_WIDTH{1'b0}};
    calc_len_rem[LEN_WIDTH-1:0] = req_len_reg;
    if (calc_len_rem < {{(LEN_CALC_WIDTH-13){1'b0}}, calc_room}) begin
        calc_len = calc_len_rem[12:0];
    end else begin
        calc_len = calc_room;
    end
    calc_last = req_pcie_addr_reg[11:0] + calc_len[11:0] - 12'd1;  // len 4096 only from offset 0
    calc_dw = {1'b0, calc_last[11:2]} - {1'b0, req_pcie_addr_reg[11:2]} + 11'd1;

    tlp_len_wide = {Q_CALC_WIDTH{1'b0}};
    tlp_len_wide[12:0] = tlp_len_reg;
    tlp_len_ram = tlp_len_wide[RAM_ADDR_WIDTH-1:0];
    tlp_len_desc = {LEN_CALC_WIDTH{1'b0}};
    tlp_len_desc[12:0] = tlp_len_reg;

    /*
     * Request generator
     */
    issue = 1'b0;

    if (rq_valid_reg && m_axis_rq_tready) begin
        if (HDR_BEAT == 0 || rq_beat_reg) begin
            rq_valid_next = 1'b0;
            rq_beat_next = 1'b0;
        end else begin
            rq_beat_next = 1'b1;
        end
    end

    case (req_state_reg)
        REQ_STATE_IDLE: begin
            if (s_axis_read_desc_valid && desc_free_found) begin
                req_pcie_addr_next = s_axis_read_desc_pcie_addr;
                req_ram_addr_next = s_axis_read_desc_ram_addr;
                req_len_next = s_axis_read_desc_len;
                req_desc_next = desc_free_index;
                desc_active_next[desc_free_index] = 1'b1;
                desc_issuing_next[desc_free_index] = s_axis_read_desc_len != {LEN_WIDTH{1'b0}};
                desc_err_next[desc_free_index*4 +: 4] = DMA_ERROR_NONE;
                desc_tag_next[desc_free_index*TAG_WIDTH +: TAG_WIDTH] = s_axis_read_desc_tag;
                if (s_axis_read_desc_len != {LEN_WIDTH{1'b0}}) begin
                    req_state_next = REQ_STATE_CALC;
                end
            end
        end
        REQ_STATE_CALC: begin
            tlp_len_next = calc_len;
            tlp_dw_next = calc_dw;
            tlp_first_be_next = 4'b1111 << req_pcie_addr_reg[1:0];
            tlp_last_be_next = 4'b1111 >> (2'd3 - calc_last[1:0]);
            if (calc_dw == 11'd1) begin
                tlp_first_be_next = tlp_first_be_next & tlp_last_be_next;
                tlp_last_be_next = 4'd0;
            end
            // worst case: a completion per 64-byte block, each its 16-byte chunks + 1
            tlp_cplh_next = {1'b0, calc_last[11:6]} - {1'b0, req_pcie_addr_reg[11:6]} + 7'd1;
            tlp_cpld_next = {1'b0, calc_last[11:4]} - {1'b0, req_pcie_addr_reg[11:4]} + 9'd1 + {2'd0, tlp_cplh_next};
            tlp_final_next = calc_len_rem == {{(LEN_CALC_WIDTH-13){1'b0}}, calc_len};
            req_state_next = REQ_STATE_ISSUE;
        end
        REQ_STATE_ISSUE: begin
            if (!rq_valid_reg && tag_free_found &&
                    cplh_used_reg + {{(CPLH_CNT_WIDTH-REQ_CPLH_WIDTH){1'b0}}, tlp_cplh_reg} <= CPLH_LIMIT_VAL &&
                    cpld_used_reg + {{(CPLD_CNT_WIDTH-REQ_CPLD_WIDTH){1'b0}}, tlp_cpld_reg} <= CPLD_LIMIT_VAL) begin
                issue = 1'b1;
                stat_rd_req_tlp_next = 1'b1;

                // RQ descriptor (PG213)
                rq_hdr_next[1:0] = 2'b00;                          // address type
                rq_hdr_next[63:2] = req_pcie_addr_reg[63:2];       // address
                rq_hdr_next[74:64] = tlp_dw_reg;                   // dword count
                rq_hdr_next[78:75] = REQ_MEM_READ;                 // request type
                rq_hdr_next[79] = 1'b0;                            // poisoned request
                rq_hdr_next[95:80] = 16'd0;                        // requester ID (requester_id_enable = 0)
                rq_hdr_next[103:96] = 8'd0;                        // tag
                rq_hdr_next[96 +: PCIE_TAG_INDEX_WIDTH] = tag_free_index;
                rq_hdr_next[119:104] = 16'd0;                      // completer ID
                rq_hdr_next[120] = 1'b0;                           // requester ID enable
                rq_hdr_next[123:121] = 3'b000;                     // traffic class
                rq_hdr_next[126:124] = 3'b000;                     // attributes
                rq_hdr_next[127] = 1'b0;                           // force ECRC
                rq_first_be_next = tlp_first_be_reg;
                rq_last_be_next = tlp_last_be_reg;
                rq_valid_next = 1'b1;
                rq_beat_next = 1'b0;

                if (tlp_final_reg) begin
                    desc_issuing_next[req_desc_reg] = 1'b0;
                    req_state_next = REQ_STATE_IDLE;
                end else begin
                    req_pcie_addr_next = req_pcie_addr_reg + {51'd0, tlp_len_reg};
                    req_ram_addr_next = req_ram_addr_reg + tlp_len_ram;
                    req_len_next = req_len_reg - tlp_len_desc[LEN_WIDTH-1:0];
                    req_state_next = REQ_STATE_CALC;
                end
            end
        end
        default: begin
            req_state_next = REQ_STATE_IDLE;
        end
    endcase

    /*
     * RC pipeline
     */

    // completion descriptor of the S1 beat: tag lookup, error, RAM address
    hdr_beat = s1_valid_reg && s1_beat_reg == HDR_BEAT;
    hdr_tag_index = rc_hdr_tag[PCIE_TAG_INDEX_WIDTH-1:0];
    hdr_tag_ok = {1'b0, rc_hdr_tag} < PCIE_TAG_COUNT_VAL && tag_valid_reg[hdr_tag_index];
    hdr_req_len = tag_len_reg[hdr_tag_index*13 +: 13];

    if (rc_hdr_error_code == RC_ERR_NORMAL_TERMINATION && !rc_hdr_poisoned) begin
        if (rc_hdr_byte_count == 13'd0 || rc_hdr_byte_count > hdr_req_len) begin
            hdr_error = DMA_ERROR_CPL;
        end else begin
            hdr_error = DMA_ERROR_NONE;
        end
    end else if (rc_hdr_error_code == RC_ERR_TIMEOUT) begin
        hdr_error = DMA_ERROR_TIMEOUT;
    end else if (rc_hdr_status == CPL_STATUS_UR) begin
        hdr_error = DMA_ERROR_UR;
    end else if (rc_hdr_status == CPL_STATUS_CA) begin
        hdr_error = DMA_ERROR_CA;
    end else begin
        hdr_error = DMA_ERROR_CPL;
    end

    // TLP byte t goes to RAM byte hdr_start + t: the payload (TLP byte 12 on) from the completion's
    // first byte, at request offset (request length - byte count), rounded down to a dword
    hdr_start = {Q_CALC_WIDTH{1'b0}};
    hdr_start[RAM_ADDR_WIDTH-1:0] = tag_ram_addr_reg[hdr_tag_index*RAM_ADDR_WIDTH +: RAM_ADDR_WIDTH];
    hdr_offset = {Q_CALC_WIDTH{1'b0}};
    hdr_offset[12:0] = hdr_req_len - rc_hdr_byte_count;
    hdr_start = hdr_start + hdr_offset - {{(Q_CALC_WIDTH-2){1'b0}}, rc_hdr_lower_addr[1:0]} - 12;

    if (flush_reg) begin
        // the last beat spilled over: write the next word; S1 and S2 (which may already hold the next
        // completion) wait, RC tready is low
        ram_wr_en_next = 1'b1;
        ram_wr_addr_next = spill_addr_reg;
        ram_wr_be_next = spill_be_reg;
        ram_wr_data_next = spill_data_reg;
        end_valid_next = 1'b1;
    end else begin
        // S2: write one RAM word
        if (s2_valid_reg) begin
            ram_wr_be_next = rot_be & ~low_mask;
            if (!s2_first_reg) begin
                ram_wr_be_next = ram_wr_be_next | (spill_be_reg & low_mask);
            end
            for (i = 0; i < RAM_BYTES; i = i + 1) begin
                ram_wr_data_next[i*8 +: 8] = low_mask[i] ? spill_data_reg[i*8 +: 8] : rot_data[i*8 +: 8];
            end
            ram_wr_en_next = ram_wr_be_next != {RAM_BYTES{1'b0}};
            ram_wr_addr_next = s2_addr_reg;
            spill_data_next = rot_data;
            spill_be_next = rot_be & low_mask;
            spill_addr_next = s2_addr_reg + 1;

            if (s2_last_reg) begin
                cpl_busy_next = 1'b0;
                end_tag_next = cpl_tag_reg;
                end_tag_ok_next = cpl_tag_ok_reg;
                end_error_next = cpl_error_reg;
                end_done_next = cpl_done_reg;
                if ((rot_be & low_mask) != {RAM_BYTES{1'b0}}) begin
                    flush_next = 1'b1;
                end else begin
                    end_valid_next = 1'b1;
                end
            end
        end

        // S1 -> S2
        s2_valid_next = s1_valid_reg;
        if (s1_valid_reg) begin
            s2_data_next = s1_data_reg;
            s2_last_next = s1_last_reg;
            s2_first_next = s1_beat_reg == 2'd0;
            if (HDR_BEAT != 0 && s1_beat_reg == 2'd0) begin
                // descriptor only
                s2_be_next = {RAM_BYTES{1'b0}};
            end else if (hdr_beat) begin
                s2_be_next = s1_be_reg & ({RAM_BYTES{1'b1}} << HDR_BYTES_IN_HDR_BEAT);
                if (!hdr_tag_ok || hdr_error != DMA_ERROR_NONE) begin
                    s2_be_next = {RAM_BYTES{1'b0}};
                end
                s2_addr_next = hdr_start[RAM_ADDR_WIDTH-1:RAM_OFFSET_WIDTH] + HDR_BEAT;
                cpl_busy_next = 1'b1;
                cpl_shift_next = hdr_start[RAM_OFFSET_WIDTH-1:0];
                cpl_tag_next = hdr_tag_index;
                cpl_tag_ok_next = hdr_tag_ok;
                cpl_data_ok_next = hdr_tag_ok && hdr_error == DMA_ERROR_NONE;
                cpl_error_next = hdr_error;
                cpl_done_next = rc_hdr_request_completed;
            end else begin
                s2_be_next = cpl_data_ok_reg ? s1_be_reg : {RAM_BYTES{1'b0}};
                s2_addr_next = s2_addr_reg + 1;
            end
            if (s1_beat_reg == 2'd0) begin
                s1_hdr_next = s1_data_reg[63:0];
            end
        end

        // RC -> S1
        s1_valid_next = s_axis_rc_tvalid;
        if (s_axis_rc_tvalid) begin
            s1_data_next = s_axis_rc_tdata;
            s1_be_next = s_axis_rc_tuser[RAM_BYTES-1:0];  // byte_en
            s1_last_next = s_axis_rc_tlast;
            s1_beat_next = rc_beat_reg;
            if (s_axis_rc_tlast) begin
                rc_beat_next = 2'd0;
            end else if (rc_beat_reg != 2'd2) begin
                rc_beat_next = rc_beat_reg + 2'd1;
            end
        end
    end

    /*
     * Completion finished: error into its descriptor; request done: free the tag
     */
    end_desc = tag_desc_reg[end_tag_reg*DESC_INDEX_WIDTH +: DESC_INDEX_WIDTH];
    end_free = 1'b0;
    if (end_valid_reg) begin
        stat_rd_cpl_tlp_next = 1'b1;
        stat_rd_cpl_err_next = !end_tag_ok_reg || end_error_reg != DMA_ERROR_NONE;
        if (end_tag_ok_reg && tag_valid_reg[end_tag_reg]) begin
            if (end_error_reg != DMA_ERROR_NONE && desc_err_reg[end_desc*4 +: 4] == DMA_ERROR_NONE) begin
                desc_err_next[end_desc*4 +: 4] = end_error_reg;
            end
            end_free = end_done_reg;
        end
    end

    /*
     * Completion timeout; tags of the completion in the RC pipeline are left alone
     */

    timeout_found = 1'b0;
    timeout_index = {PCIE_TAG_INDEX_WIDTH{1'b0}};
    if (tag_expired != {PCIE_TAG_COUNT{1'b0}}) begin
        for (i = PCIE_TAG_COUNT-1; i >= 0; i = i - 1) begin
            if (tag_expired[i] &&
                    !(hdr_beat && hdr_tag_index == i[PCIE_TAG_INDEX_WIDTH-1:0]) &&
                    !(cpl_busy_reg && cpl_tag_reg == i[PCIE_TAG_INDEX_WIDTH-1:0]) &&
                    !((flush_reg || end_valid_reg) && end_tag_reg == i[PCIE_TAG_INDEX_WIDTH-1:0])) begin
                timeout_found = 1'b1;
                timeout_index = i[PCIE_TAG_INDEX_WIDTH-1:0];
            end
        end
    end
    timeout_desc = tag_desc_reg[timeout_index*DESC_INDEX_WIDTH +: DESC_INDEX_WIDTH];

    if (timeout_found) begin
        if (desc_err_next[timeout_desc*4 +: 4] == DMA_ERROR_NONE) begin
            desc_err_next[timeout_desc*4 +: 4] = DMA_ERROR_TIMEOUT;
        end
    end

    /*
     * Tag table and reservations
     */
    if (timeout_tick) begin
        for (i = 0; i < PCIE_TAG_COUNT; i = i + 1) begin
            if (tag_valid_reg[i] && tag_timer_reg[i*3 +: 3] != TIMER_EXPIRED) begin
                tag_timer_next[i*3 +: 3] = tag_timer_reg[i*3 +: 3] + 3'd1;
            end
        end
    end

    if (end_free) begin
        tag_valid_next[end_tag_reg] = 1'b0;
        cplh_used_next = cplh_used_next - {{(CPLH_CNT_WIDTH-REQ_CPLH_WIDTH){1'b0}}, tag_cplh_reg[end_tag_reg*REQ_CPLH_WIDTH +: REQ_CPLH_WIDTH]};
        cpld_used_next = cpld_used_next - {{(CPLD_CNT_WIDTH-REQ_CPLD_WIDTH){1'b0}}, tag_cpld_reg[end_tag_reg*REQ_CPLD_WIDTH +: REQ_CPLD_WIDTH]};
    end

    if (timeout_found) begin
        tag_valid_next[timeout_index] = 1'b0;
        cplh_used_next = cplh_used_next - {{(CPLH_CNT_WIDTH-REQ_CPLH_WIDTH){1'b0}}, tag_cplh_reg[timeout_index*REQ_CPLH_WIDTH +: REQ_CPLH_WIDTH]};
        cpld_used_next = cpld_used_next - {{(CPLD_CNT_WIDTH-REQ_CPLD_WIDTH){1'b0}}, tag_cpld_reg[timeout_index*REQ_CPLD_WIDTH +: REQ_CPLD_WIDTH]};
    end

    if (issue) begin
        tag_valid_next[tag_free_index] = 1'b1;
        tag_desc_next[tag_free_index*DESC_INDEX_WIDTH +: DESC_INDEX_WIDTH] = req_desc_reg;
        tag_ram_addr_next[tag_free_index*RAM_ADDR_WIDTH +: RAM_ADDR_WIDTH] = req_ram_addr_reg;
        tag_len_next[tag_free_index*13 +: 13] = tlp_len_reg;
        tag_cplh_next[tag_free_index*REQ_CPLH_WIDTH +: REQ_CPLH_WIDTH] = tlp_cplh_reg;
        tag_cpld_next[tag_free_index*REQ_CPLD_WIDTH +: REQ_CPLD_WIDTH] = tlp_cpld_reg;
        tag_timer_next[tag_free_index*3 +: 3] = 3'd0;
        cplh_used_next = cplh_used_next + {{(CPLH_CNT_WIDTH-REQ_CPLH_WIDTH){1'b0}}, tlp_cplh_reg};
        cpld_used_next = cpld_used_next + {{(CPLD_CNT_WIDTH-REQ_CPLD_WIDTH){1'b0}}, tlp_cpld_reg};
    end

    /*
     * Descriptor table: outstanding requests; a finished descriptor sends its status
     */
    for (i = 0; i < DESC_COUNT; i = i + 1) begin
        cnt = desc_cnt_reg[i*DESC_CNT_WIDTH +: DESC_CNT_WIDTH];
        if (issue && req_desc_reg == i[DESC_INDEX_WIDTH-1:0]) begin
            cnt = cnt + 1;
        end
        if (end_free && end_desc == i[DESC_INDEX_WIDTH-1:0]) begin
            cnt = cnt - 1;
        end
        if (timeout_found && timeout_desc == i[DESC_INDEX_WIDTH-1:0]) begin
            cnt = cnt - 1;
        end
        desc_cnt_next[i*DESC_CNT_WIDTH +: DESC_CNT_WIDTH] = cnt;
    end

    if (done_found) begin
        desc_active_next[done_index] = 1'b0;
        m_axis_read_desc_status_tag_next = desc_tag_reg[done_index*TAG_WIDTH +: TAG_WIDTH];
        m_axis_read_desc_status_error_next = desc_err_reg[done_index*4 +: 4];
        m_axis_read_desc_status_valid_next = 1'b1;
    end
end

assign s_axis_read_desc_ready = req_state_reg == REQ_STATE_IDLE && desc_free_found;

// The completion-timeout prescaler counts in a block of its own: the engine's combinational block above
// sees only the one-cycle tick. An event-driven simulator (Icarus) re-evaluates that block, with its loops
// over every tag and descriptor, whenever one of its inputs changes: with the counter among them, on every
// cycle of an idle device.
always @(posedge clk) begin
    if (rst || timeout_tick) begin
        timeout_prescale_reg <= {TIMEOUT_PRESCALE_WIDTH{1'b0}};
    end else begin
        timeout_prescale_reg <= timeout_prescale_reg + 1'b1;
    end
end

always @(posedge clk) begin
    req_state_reg <= req_state_next;
    req_pcie_addr_reg <= req_pcie_addr_next;
    req_ram_addr_reg <= req_ram_addr_next;
    req_len_reg <= req_len_next;
    req_desc_reg <= req_desc_next;

    tlp_len_reg <= tlp_len_next;
    tlp_dw_reg <= tlp_dw_next;
    tlp_first_be_reg <= tlp_first_be_next;
    tlp_last_be_reg <= tlp_last_be_next;
    tlp_cplh_reg <= tlp_cplh_next;
    tlp_cpld_reg <= tlp_cpld_next;
    tlp_final_reg <= tlp_final_next;

    rq_valid_reg <= rq_valid_next;
    rq_beat_reg <= rq_beat_next;
    rq_hdr_reg <= rq_hdr_next;
    rq_first_be_reg <= rq_first_be_next;
    rq_last_be_reg <= rq_last_be_next;

    cplh_used_reg <= cplh_used_next;
    cpld_used_reg <= cpld_used_next;

    tag_valid_reg <= tag_valid_next;
    tag_desc_reg <= tag_desc_next;
    tag_ram_addr_reg <= tag_ram_addr_next;
    tag_len_reg <= tag_len_next;
    tag_cplh_reg <= tag_cplh_next;
    tag_cpld_reg <= tag_cpld_next;
    tag_timer_reg <= tag_timer_next;

    desc_active_reg <= desc_active_next;
    desc_issuing_reg <= desc_issuing_next;
    desc_cnt_reg <= desc_cnt_next;
    desc_err_reg <= desc_err_next;
    desc_tag_reg <= desc_tag_next;

    m_axis_read_desc_status_tag_reg <= m_axis_read_desc_status_tag_next;
    m_axis_read_desc_status_error_reg <= m_axis_read_desc_status_error_next;
    m_axis_read_desc_status_valid_reg <= m_axis_read_desc_status_valid_next;

    rc_beat_reg <= rc_beat_next;

    s1_valid_reg <= s1_valid_next;
    s1_data_reg <= s1_data_next;
    s1_be_reg <= s1_be_next;
    s1_last_reg <= s1_last_next;
    s1_beat_reg <= s1_beat_next;
    s1_hdr_reg <= s1_hdr_next;

    s2_valid_reg <= s2_valid_next;
    s2_data_reg <= s2_data_next;
    s2_be_reg <= s2_be_next;
    s2_last_reg <= s2_last_next;
    s2_first_reg <= s2_first_next;
    s2_addr_reg <= s2_addr_next;

    cpl_busy_reg <= cpl_busy_next;
    cpl_shift_reg <= cpl_shift_next;
    cpl_tag_reg <= cpl_tag_next;
    cpl_tag_ok_reg <= cpl_tag_ok_next;
    cpl_data_ok_reg <= cpl_data_ok_next;
    cpl_error_reg <= cpl_error_next;
    cpl_done_reg <= cpl_done_next;

    spill_data_reg <= spill_data_next;
    spill_be_reg <= spill_be_next;
    spill_addr_reg <= spill_addr_next;
    flush_reg <= flush_next;

    end_valid_reg <= end_valid_next;
    end_tag_reg <= end_tag_next;
    end_tag_ok_reg <= end_tag_ok_next;
    end_error_reg <= end_error_next;
    end_done_reg <= end_done_next;

    ram_wr_en_reg <= ram_wr_en_next;
    ram_wr_addr_reg <= ram_wr_addr_next;
    ram_wr_be_reg <= ram_wr_be_next;
    ram_wr_data_reg <= ram_wr_data_next;

    stat_rd_req_tlp_reg <= stat_rd_req_tlp_next;
    stat_rd_cpl_tlp_reg <= stat_rd_cpl_tlp_next;
    stat_rd_cpl_err_reg <= stat_rd_cpl_err_next;

    if (rst) begin
        req_state_reg <= REQ_STATE_IDLE;
        rq_valid_reg <= 1'b0;
        rq_beat_reg <= 1'b0;
        cplh_used_reg <= {CPLH_CNT_WIDTH{1'b0}};
        cpld_used_reg <= {CPLD_CNT_WIDTH{1'b0}};
        tag_valid_reg <= {PCIE_TAG_COUNT{1'b0}};
        tag_timer_reg <= {PCIE_TAG_COUNT*3{1'b0}};
        desc_active_reg <= {DESC_COUNT{1'b0}};
        desc_issuing_reg <= {DESC_COUNT{1'b0}};
        desc_cnt_reg <= {DESC_COUNT*DESC_CNT_WIDTH{1'b0}};
        m_axis_read_desc_status_valid_reg <= 1'b0;
        rc_beat_reg <= 2'd0;
        s1_valid_reg <= 1'b0;
        s1_beat_reg <= 2'd0;
        s2_valid_reg <= 1'b0;
        s2_first_reg <= 1'b0;
        cpl_busy_reg <= 1'b0;
        spill_be_reg <= {RAM_BYTES{1'b0}};
        flush_reg <= 1'b0;
        end_valid_reg <= 1'b0;
        ram_wr_en_reg <= 1'b0;
        stat_rd_req_tlp_reg <= 1'b0;
        stat_rd_cpl_tlp_reg <= 1'b0;
        stat_rd_cpl_err_reg <= 1'b0;
    end
end

endmodule

`resetall
