// SPDX-License-Identifier: MIT
/*
 * Completer bridge: UltraScale+ CQ memory and I/O requests -> register bus -> CC completions.
 *
 * Assumes the hard block's "dword" alignment and no straddling (64-, 128- or 256-bit interface), parity
 * disabled. One request at a time, strictly in order: the next CQ TLP is taken only when the previous one
 * is finished (its completion accepted on CC, or its writes done).
 *
 *   memory write, memory BAR       every dword goes to the register bus as it streams in (any length);
 *                                  a dword whose byte enables are all 0 is skipped
 *   memory read,  memory BAR       1..MAX_RD_DW dwords are read into a buffer, then one completion with
 *                                  data; longer reads get a Completer Abort completion
 *   I/O write, I/O BAR             as a memory write (one dword), then a completion without data
 *                                  (Completer Abort if the target did not answer)
 *   I/O read,  I/O BAR             as a memory read, the completion carries the dword
 *   other non-posted (a read of an unimplemented BAR, I/O to a memory BAR, a memory read of an I/O BAR,
 *   atomics, read-locked, ...)     Unsupported Request completion without data (CplLk for read-locked)
 *   other posted (a write to an unimplemented BAR or to an I/O BAR, messages)
 *                                  consumed and dropped
 *
 * BAR_MASK says which BARs exist, BAR_IO_MASK which of them are I/O BARs; both must match the hard
 * block's configuration (the hard block only forwards requests of the kind each BAR decodes).
 *
 * The register address is the byte address inside the BAR: the address bits below the descriptor's BAR
 * aperture, truncated to REG_ADDR_WIDTH. A target that does not answer within REG_TIMEOUT cycles ends the
 * TLP: a read completes with Completer Abort, the rest of a write is dropped. A response arriving after
 * its timeout cannot be told apart from the next access's response (the bus carries no ID): targets must
 * answer every request or none.
 *
 * The CQ stream always drains: a TLP ends at tlast whatever its dword count says (missing write data is
 * not written, surplus data is discarded), and a TLP with the discontinue bit is discarded without a
 * completion. The discontinue bit is checked on every beat before its data is used, so write data in the
 * beats before the one flagged (possible only for writes longer than one beat) has been written already.
 *
 * Completions: lower address and byte count as in the PCIe spec (memory reads, including 1-dword and
 * zero-length reads; byte count 4 / lower address 0 for I/O and other requests, operand size for atomics),
 * tag, requester ID, TC, attributes and AT copied from the request, completer ID = {bus 0, target
 * function} with completer_id_enable = 0 (the hard block fills in the bus number).
 *
 * Statistics (one-cycle pulses): stat_cq_req_tlp per request TLP processed (not counted: TLPs discarded for
 * the discontinue bit or a truncated header), stat_cc_cpl_tlp per completion sent, stat_cq_ur per
 * unsupported request (posted ones included).
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module pcie_us_cq_cc_bridge #
(
    // PCIe AXI-Stream data width: 64, 128 or 256
    parameter AXIS_PCIE_DATA_WIDTH = 256,
    // PCIe AXI-Stream tkeep width (one bit per dword)
    parameter AXIS_PCIE_KEEP_WIDTH = AXIS_PCIE_DATA_WIDTH/32,
    // CQ tuser width (88 on UltraScale+, 85 on UltraScale)
    parameter AXIS_PCIE_CQ_USER_WIDTH = 88,
    // CC tuser width
    parameter AXIS_PCIE_CC_USER_WIDTH = 33,
    // register bus byte address width
    parameter REG_ADDR_WIDTH = 12,
    // implemented BARs, bit n = BAR id n
    parameter BAR_MASK = 6'b000111,
    // which of them are I/O BARs (IORd / IOWr), bit n = BAR id n; the others are memory BARs
    parameter BAR_IO_MASK = 6'b000000,
    // cycles to wait for reg_rsp_valid before giving up on an access
    parameter REG_TIMEOUT = 64,
    // longest memory read served, in dwords (one completion: at most 128 bytes, the smallest max payload)
    parameter MAX_RD_DW = 16
)
(
    input  wire                                clk,
    input  wire                                rst,

    /*
     * Completer reQuest (from the hard block)
     */
    input  wire [AXIS_PCIE_DATA_WIDTH-1:0]     s_axis_cq_tdata,
    input  wire [AXIS_PCIE_KEEP_WIDTH-1:0]     s_axis_cq_tkeep,
    input  wire                                s_axis_cq_tvalid,
    output wire                                s_axis_cq_tready,
    input  wire                                s_axis_cq_tlast,
    input  wire [AXIS_PCIE_CQ_USER_WIDTH-1:0]  s_axis_cq_tuser,

    /*
     * Completer Completion (to the hard block)
     */
    output wire [AXIS_PCIE_DATA_WIDTH-1:0]     m_axis_cc_tdata,
    output wire [AXIS_PCIE_KEEP_WIDTH-1:0]     m_axis_cc_tkeep,
    output wire                                m_axis_cc_tvalid,
    input  wire                                m_axis_cc_tready,
    output wire                                m_axis_cc_tlast,
    output wire [AXIS_PCIE_CC_USER_WIDTH-1:0]  m_axis_cc_tuser,

    /*
     * Register bus (hdl/README.md): one dword access at a time
     */
    output wire                                reg_req_valid,
    output wire                                reg_req_write,
    output wire [2:0]                          reg_req_bar,
    output wire [REG_ADDR_WIDTH-1:0]           reg_req_addr,
    output wire [3:0]                          reg_req_be,
    output wire [31:0]                         reg_req_wdata,
    input  wire                                reg_rsp_valid,
    input  wire [31:0]                         reg_rsp_rdata,

    /*
     * Statistics (one-cycle pulses)
     */
    output wire                                stat_cq_req_tlp,
    output wire                                stat_cc_cpl_tlp,
    output wire                                stat_cq_ur
);

localparam KEEP = AXIS_PCIE_KEEP_WIDTH;
localparam LANE_W = $clog2(KEEP);

// the 4-dword CQ descriptor takes two beats at 64 bits; at 256 bits data follows in lanes 4..7
localparam HDR_BEATS = (AXIS_PCIE_DATA_WIDTH == 64) ? 2 : 1;
localparam HDR_LANES = (KEEP < 4) ? KEEP : 4;
localparam HDR_DATA_LANE = (KEEP > 4) ? 4 : 0;

// completion with data: 3 descriptor dwords + up to MAX_RD_DW data dwords, the read buffer padded to
// whole beats so that every beat is a plain slice of {read buffer, descriptor}
localparam CC_BEATS = (3 + MAX_RD_DW + KEEP - 1) / KEEP;
localparam RD_BUF_DW = CC_BEATS*KEEP - 3;
localparam CC_DW_W = $clog2(CC_BEATS*KEEP + 1) + 1;  // one spare bit: KEEP_DW below stays well-formed
localparam CC_BEAT_W = CC_DW_W - LANE_W;
localparam RD_IDX_W = $clog2(RD_BUF_DW + 1);
localparam TIMEOUT_W = $clog2(REG_TIMEOUT + 1);

localparam [LANE_W-1:0] LANE_LAST = {LANE_W{1'b1}};
localparam [REG_ADDR_WIDTH-1:0] ADDR_DW_STEP = {{(REG_ADDR_WIDTH-3){1'b0}}, 3'd4};
localparam [CC_DW_W-1:0] KEEP_DW = {{(CC_DW_W-LANE_W-1){1'b0}}, 1'b1, {LANE_W{1'b0}}};

// CQ tuser bits (same positions at 64/128/256 bits on UltraScale and UltraScale+)
localparam CQ_USER_FIRST_BE = 0;
localparam CQ_USER_LAST_BE = 4;
localparam CQ_USER_DISCONTINUE = 41;

// request types (CQ descriptor bits 78:75), PG213 table "Transaction Types"
localparam [3:0]
    REQ_MEM_READ = 4'b0000,
    REQ_MEM_WRITE = 4'b0001,
    REQ_IO_READ = 4'b0010,
    REQ_IO_WRITE = 4'b0011,
    REQ_MEM_FETCH_ADD = 4'b0100,
    REQ_MEM_SWAP = 4'b0101,
    REQ_MEM_CAS = 4'b0110,
    REQ_MEM_READ_LOCKED = 4'b0111;

// completion status
localparam [2:0]
    CPL_STATUS_SC = 3'b000,
    CPL_STATUS_UR = 3'b001,
    CPL_STATUS_CA = 3'b100;

initial begin
    if (AXIS_PCIE_DATA_WIDTH != 64 && AXIS_PCIE_DATA_WIDTH != 128 && AXIS_PCIE_DATA_WIDTH != 256) begin
        $error("Error: PCIe interface width must be 64, 128 or 256 (instance %m)");
        $finish;
    end

    if (AXIS_PCIE_KEEP_WIDTH * 32 != AXIS_PCIE_DATA_WIDTH) begin
        $error("Error: PCIe interface requires dword (32-bit) granularity (instance %m)");
        $finish;
    end

    if (AXIS_PCIE_CQ_USER_WIDTH != 85 && AXIS_PCIE_CQ_USER_WIDTH != 88) begin
        $error("Error: CQ tuser width must be 85 or 88 (instance %m)");
        $finish;
    end

    if (AXIS_PCIE_CC_USER_WIDTH != 33) begin
        $error("Error: CC tuser width must be 33 (instance %m)");
        $finish;
    end

    if (REG_ADDR_WIDTH < 4 || REG_ADDR_WIDTH > 32) begin
        $error("Error: REG_ADDR_WIDTH must be 4..32 (instance %m)");
        $finish;
    end

    if (MAX_RD_DW < 1 || MAX_RD_DW > 32) begin
        // one completion per read, so at most the smallest max payload size (128 bytes)
        $error("Error: MAX_RD_DW must be 1..32 (instance %m)");
        $finish;
    end

    if ((BAR_IO_MASK & ~BAR_MASK) != 0) begin
        $error("Error: BAR_IO_MASK names a BAR that BAR_MASK does not implement (instance %m)");
        $finish;
    end

    if (REG_TIMEOUT < 1) begin
        $error("Error: REG_TIMEOUT must be at least 1 (instance %m)");
        $finish;
    end
end

localparam [2:0]
    STATE_HDR = 3'd0,       // collect the descriptor beat(s)
    STATE_DECODE = 3'd1,    // classify the request
    STATE_WR_DATA = 3'd2,   // take the next write dword from CQ and issue it
    STATE_WR_WAIT = 3'd3,   // wait for the write response (or timeout)
    STATE_DRAIN = 3'd4,     // consume CQ beats up to tlast, then dispatch the next step
    STATE_RD_NEXT = 3'd5,   // issue the next read dword, or complete
    STATE_RD_WAIT = 3'd6,   // wait for the read data (or timeout)
    STATE_CPL = 3'd7;       // send the completion on CC

// what STATE_DRAIN does once the TLP has been consumed
localparam [1:0]
    OP_NONE = 2'd0,         // nothing: back to STATE_HDR
    OP_READ = 2'd1,         // perform the reads, then complete with data
    OP_CPL = 2'd2;          // complete without data (cpl_status_reg)

reg [2:0] state_reg, state_next;

// descriptor of the current TLP (don't-care until STATE_DECODE)
reg [127:0] hdr_reg, hdr_next;
reg [3:0] first_be_reg, first_be_next;
reg [3:0] last_be_reg, last_be_next;
reg [0:0] hdr_beat_reg, hdr_beat_next;

// CQ framing: next dword lane in the current beat, TLP's tlast beat already consumed, discard the TLP
reg [LANE_W-1:0] lane_reg, lane_next;
reg frame_done_reg, frame_done_next;
reg discard_reg, discard_next;

reg [1:0] op_reg, op_next;
reg [2:0] cpl_status_reg, cpl_status_next;

// dword walk: next register address (before the aperture mask), dwords left, first dword, read index
reg [REG_ADDR_WIDTH-1:0] addr_reg, addr_next;
reg [10:0] dw_left_reg, dw_left_next;
reg first_dw_reg, first_dw_next;
reg [RD_IDX_W-1:0] rd_idx_reg, rd_idx_next;
reg [TIMEOUT_W-1:0] timeout_reg, timeout_next;

// read data (don't-care outside a read's completion)
reg [RD_BUF_DW*32-1:0] rd_data_reg, rd_data_next;

reg [CC_BEAT_W-1:0] cc_beat_reg, cc_beat_next;

reg s_axis_cq_tready_int;

reg [AXIS_PCIE_DATA_WIDTH-1:0] m_axis_cc_tdata_reg, m_axis_cc_tdata_next;  // don't-care while tvalid = 0
reg [AXIS_PCIE_KEEP_WIDTH-1:0] m_axis_cc_tkeep_reg, m_axis_cc_tkeep_next;
reg m_axis_cc_tvalid_reg, m_axis_cc_tvalid_next;
reg m_axis_cc_tlast_reg, m_axis_cc_tlast_next;

reg reg_req_valid_reg, reg_req_valid_next;
// request fields: don't-care while reg_req_valid = 0
reg reg_req_write_reg, reg_req_write_next;
reg [REG_ADDR_WIDTH-1:0] reg_req_addr_reg, reg_req_addr_next;
reg [3:0] reg_req_be_reg, reg_req_be_next;
reg [31:0] reg_req_wdata_reg, reg_req_wdata_next;

reg stat_cq_req_tlp_reg, stat_cq_req_tlp_next;
reg stat_cc_cpl_tlp_reg, stat_cc_cpl_tlp_next;
reg stat_cq_ur_reg, stat_cq_ur_next;

assign s_axis_cq_tready = s_axis_cq_tready_int;

assign m_axis_cc_tdata = m_axis_cc_tdata_reg;
assign m_axis_cc_tkeep = m_axis_cc_tkeep_reg;
assign m_axis_cc_tvalid = m_axis_cc_tvalid_reg;
assign m_axis_cc_tlast = m_axis_cc_tlast_reg;
assign m_axis_cc_tuser = {AXIS_PCIE_CC_USER_WIDTH{1'b0}};  // no discontinue, parity disabled

assign reg_req_valid = reg_req_valid_reg;
assign reg_req_write = reg_req_write_reg;
assign reg_req_addr = reg_req_addr_reg;
assign reg_req_be = reg_req_be_reg;
assign reg_req_wdata = reg_req_wdata_reg;

assign stat_cq_req_tlp = stat_cq_req_tlp_reg;
assign stat_cc_cpl_tlp = stat_cc_cpl_tlp_reg;
assign stat_cq_ur = stat_cq_ur_reg;

/*
 * CQ descriptor fields (PG213 "Completer Request Descriptor Format")
 */
wire [1:0]  req_at = hdr_reg[1:0];
wire [10:0] req_dw_count = hdr_reg[74:64];
wire [3:0]  req_type = hdr_reg[78:75];
wire [15:0] req_requester_id = hdr_reg[95:80];
wire [7:0]  req_tag = hdr_reg[103:96];
wire [7:0]  req_target_function = hdr_reg[111:104];
wire [2:0]  req_bar_id = hdr_reg[114:112];
wire [5:0]  req_bar_aperture = hdr_reg[120:115];
wire [2:0]  req_tc = hdr_reg[123:121];
wire [2:0]  req_attr = hdr_reg[126:124];

// upper address dword (above any BAR aperture REG_ADDR_WIDTH can address), reserved bits
wire unused_hdr = &{1'b0, hdr_reg[63:REG_ADDR_WIDTH], hdr_reg[127]};

assign reg_req_bar = req_bar_id;

wire [7:0] bar_implemented = {2'b00, BAR_MASK[5:0]};
wire [7:0] bar_io = {2'b00, BAR_IO_MASK[5:0]};
// the request's kind must be the one its BAR decodes: memory requests to memory BARs, I/O to I/O BARs
wire req_io = req_type == REQ_IO_READ || req_type == REQ_IO_WRITE;
wire req_bar_ok = bar_implemented[req_bar_id] && bar_io[req_bar_id] == req_io;
wire req_posted = req_type == REQ_MEM_WRITE || req_type[3:2] == 2'b11;  // writes and messages
wire req_mem_read = req_type == REQ_MEM_READ || req_type == REQ_MEM_READ_LOCKED;
wire req_atomic = req_type == REQ_MEM_FETCH_ADD || req_type == REQ_MEM_SWAP || req_type == REQ_MEM_CAS;

// address bits below the BAR aperture
wire [REG_ADDR_WIDTH-1:0] addr_mask = ~({REG_ADDR_WIDTH{1'b1}} << req_bar_aperture);

// byte enables of the current dword (the first dword's are first_be even for a 1-dword TLP)
wire [3:0] cur_be = first_dw_reg ? first_be_reg : (dw_left_reg == 11'd1 ? last_be_reg : 4'hf);

/*
 * Completion lower address and byte count (PCIe base spec 2.3.1.1)
 */

// offset of the first enabled byte (0 for no byte enabled)
function [1:0] be_first_offset(input [3:0] be);
    casez (be)
        4'b???1: be_first_offset = 2'd0;
        4'b??10: be_first_offset = 2'd1;
        4'b?100: be_first_offset = 2'd2;
        4'b1000: be_first_offset = 2'd3;
        default: be_first_offset = 2'd0;
    endcase
endfunction

// disabled bytes after the last enabled one (0 for no byte enabled)
function [1:0] be_last_pad(input [3:0] be);
    casez (be)
        4'b1???: be_last_pad = 2'd0;
        4'b01??: be_last_pad = 2'd1;
        4'b001?: be_last_pad = 2'd2;
        4'b0001: be_last_pad = 2'd3;
        default: be_last_pad = 2'd0;
    endcase
endfunction

reg [6:0] cpl_lower_addr;
reg [12:0] cpl_byte_count;

always @* begin
    if (req_mem_read) begin
        cpl_lower_addr = {hdr_reg[6:2], be_first_offset(first_be_reg)};
        if (req_dw_count == 11'd1) begin
            if (first_be_reg == 4'd0) begin
                // zero-length read
                cpl_byte_count = 13'd1;
            end else begin
                cpl_byte_count = 13'd4 - {11'd0, be_first_offset(first_be_reg)} - {11'd0, be_last_pad(first_be_reg)};
            end
        end else begin
            cpl_byte_count = {req_dw_count, 2'b00} - {11'd0, be_first_offset(first_be_reg)}
                - {11'd0, be_last_pad(last_be_reg)};
        end
    end else if (req_atomic) begin
        // AtomicOp operand size: the whole payload, half of it for CAS
        cpl_lower_addr = 7'd0;
        if (req_type == REQ_MEM_CAS) begin
            cpl_byte_count = {1'b0, req_dw_count, 1'b0};
        end else begin
            cpl_byte_count = {req_dw_count, 2'b00};
        end
    end else begin
        cpl_lower_addr = 7'd0;
        cpl_byte_count = 13'd4;
    end
end

/*
 * CC: descriptor (PG213 "Completer Completion Descriptor Format") and the beats of {data, descriptor}
 */
// an I/O write's successful completion is a Cpl without data
wire cpl_with_data = cpl_status_reg == CPL_STATUS_SC && req_type != REQ_IO_WRITE;
wire [10:0] cpl_dw_count = cpl_with_data ? req_dw_count : 11'd0;
wire cpl_locked = req_type == REQ_MEM_READ_LOCKED;

wire [95:0] cc_desc = {
    1'b0,                   // force ECRC
    req_attr,
    req_tc,
    1'b0,                   // completer ID enable: the core supplies its bus number
    8'd0,                   // completer bus
    req_target_function,    // completer device/function
    req_tag,
    req_requester_id,
    1'b0,
    1'b0,                   // poisoned
    cpl_status_reg,
    cpl_dw_count,
    2'b00,
    cpl_locked,             // locked read completion (CplLk)
    cpl_byte_count,
    6'd0,
    req_at,
    1'b0,
    cpl_lower_addr
};

wire [CC_BEATS*AXIS_PCIE_DATA_WIDTH-1:0] cc_frame = {rd_data_reg, cc_desc};

wire [CC_DW_W-1:0] cc_dw_total = 3 + (cpl_with_data ? req_dw_count[CC_DW_W-1:0] : {CC_DW_W{1'b0}});
wire [CC_DW_W-1:0] cc_dw_sent = {cc_beat_reg, {LANE_W{1'b0}}};
wire [CC_DW_W-1:0] cc_dw_rem = cc_dw_total - cc_dw_sent;

// lanes of the beat to load: all but in the last beat; lanes past the end are driven 0, not stale data
wire cc_last_beat = !(cc_dw_rem > KEEP_DW);
wire [KEEP-1:0] cc_keep = cc_last_beat ? ~({KEEP{1'b1}} << cc_dw_rem) : {KEEP{1'b1}};
wire [AXIS_PCIE_DATA_WIDTH-1:0] cc_keep_mask;
wire [AXIS_PCIE_DATA_WIDTH-1:0] cc_beat_data =
    cc_frame[cc_beat_reg*AXIS_PCIE_DATA_WIDTH +: AXIS_PCIE_DATA_WIDTH] & cc_keep_mask;

generate
    genvar n;
    for (n = 0; n < KEEP; n = n + 1) begin : cc_lane
        assign cc_keep_mask[n*32 +: 32] = {32{cc_keep[n]}};
    end
endgenerate

/*
 * CQ: header as it stands after the current beat, current data lane
 */
wire [127:0] cq_hdr;

generate
    if (AXIS_PCIE_DATA_WIDTH == 64) begin : cq_hdr_64
        assign cq_hdr = {s_axis_cq_tdata, hdr_reg[127:64]};
    end else begin : cq_hdr_wide
        assign cq_hdr = s_axis_cq_tdata[127:0];
    end

    if (KEEP > 4) begin : cq_hdr_data
        assign cq_hdr_beat_has_data = s_axis_cq_tkeep[HDR_DATA_LANE];
    end else begin : cq_hdr_no_data
        assign cq_hdr_beat_has_data = 1'b0;
    end
endgenerate

wire cq_hdr_keep_ok = &s_axis_cq_tkeep[HDR_LANES-1:0];
// at 256 bits data can follow the descriptor in the same beat
wire cq_hdr_beat_has_data;

wire [3:0] cq_first_be = s_axis_cq_tuser[CQ_USER_FIRST_BE +: 4];
wire [3:0] cq_last_be = s_axis_cq_tuser[CQ_USER_LAST_BE +: 4];
wire cq_discontinue = s_axis_cq_tuser[CQ_USER_DISCONTINUE];

wire [31:0] cq_lane_data = s_axis_cq_tdata[lane_reg*32 +: 32];
wire cq_lane_valid = s_axis_cq_tkeep[lane_reg];
wire cq_next_lane_valid = lane_reg != LANE_LAST && s_axis_cq_tkeep[lane_reg + 1'b1];

// byte enables per dword, byte-enable-per-dword sideband, sop, parity, TPH: not needed
wire unused_cq_tuser = &{1'b0, s_axis_cq_tuser[AXIS_PCIE_CQ_USER_WIDTH-1:CQ_USER_DISCONTINUE+1],
    s_axis_cq_tuser[CQ_USER_DISCONTINUE-1:CQ_USER_LAST_BE+4]};

always @* begin
    state_next = state_reg;

    hdr_next = hdr_reg;
    first_be_next = first_be_reg;
    last_be_next = last_be_reg;
    hdr_beat_next = hdr_beat_reg;

    lane_next = lane_reg;
    frame_done_next = frame_done_reg;
    discard_next = discard_reg;

    op_next = op_reg;
    cpl_status_next = cpl_status_reg;

    addr_next = addr_reg;
    dw_left_next = dw_left_reg;
    first_dw_next = first_dw_reg;
    rd_idx_next = rd_idx_reg;
    timeout_next = timeout_reg;

    rd_data_next = rd_data_reg;

    cc_beat_next = cc_beat_reg;

    s_axis_cq_tready_int = 1'b0;

    m_axis_cc_tdata_next = m_axis_cc_tdata_reg;
    m_axis_cc_tkeep_next = m_axis_cc_tkeep_reg;
    m_axis_cc_tvalid_next = m_axis_cc_tvalid_reg && !m_axis_cc_tready;
    m_axis_cc_tlast_next = m_axis_cc_tlast_reg;

    reg_req_valid_next = 1'b0;
    reg_req_write_next = reg_req_write_reg;
    reg_req_addr_next = reg_req_addr_reg;
    reg_req_be_next = reg_req_be_reg;
    reg_req_wdata_next = reg_req_wdata_reg;

    stat_cq_req_tlp_next = 1'b0;
    stat_cc_cpl_tlp_next = 1'b0;
    stat_cq_ur_next = 1'b0;

    case (state_reg)
        STATE_HDR: begin
            if (s_axis_cq_tvalid) begin
                hdr_next = cq_hdr;
                if (hdr_beat_reg == 1'b0) begin
                    // first beat of a TLP: byte enables are only valid here
                    first_be_next = cq_first_be;
                    last_be_next = cq_last_be;
                    discard_next = cq_discontinue || !cq_hdr_keep_ok;
                end else begin
                    discard_next = discard_reg || cq_discontinue || !cq_hdr_keep_ok;
                end

                if (HDR_BEATS == 2 && hdr_beat_reg == 1'b0) begin
                    // first of two descriptor beats (64 bits)
                    s_axis_cq_tready_int = 1'b1;
                    if (s_axis_cq_tlast) begin
                        // truncated descriptor: drop
                        hdr_beat_next = 1'b0;
                    end else begin
                        hdr_beat_next = 1'b1;
                    end
                end else begin
                    // last descriptor beat: keep it on the bus if write data follows in it
                    s_axis_cq_tready_int = !cq_hdr_beat_has_data;
                    frame_done_next = s_axis_cq_tlast && !cq_hdr_beat_has_data;
                    lane_next = cq_hdr_beat_has_data ? HDR_DATA_LANE[LANE_W-1:0] : {LANE_W{1'b0}};
                    hdr_beat_next = 1'b0;
                    state_next = STATE_DECODE;
                end
            end
        end
        STATE_DECODE: begin
            addr_next = {hdr_reg[REG_ADDR_WIDTH-1:2], 2'b00};
            dw_left_next = req_dw_count;
            first_dw_next = 1'b1;
            rd_idx_next = {RD_IDX_W{1'b0}};
            cc_beat_next = {CC_BEAT_W{1'b0}};
            op_next = OP_NONE;
            cpl_status_next = CPL_STATUS_SC;
            state_next = STATE_DRAIN;

            if (discard_reg) begin
                // discontinued or truncated: drain without a trace
                op_next = OP_NONE;
            end else begin
                stat_cq_req_tlp_next = 1'b1;
                if ((req_type == REQ_MEM_WRITE || req_type == REQ_IO_WRITE) && req_bar_ok) begin
                    // an I/O write is non-posted: its completion follows the write
                    op_next = req_type == REQ_IO_WRITE ? OP_CPL : OP_NONE;
                    state_next = STATE_WR_DATA;
                end else if ((req_type == REQ_MEM_READ || req_type == REQ_IO_READ) && req_bar_ok) begin
                    if (req_dw_count == 11'd0 || req_dw_count > MAX_RD_DW[10:0]) begin
                        op_next = OP_CPL;
                        cpl_status_next = CPL_STATUS_CA;
                    end else begin
                        op_next = OP_READ;
                    end
                end else if (req_posted) begin
                    // write to an unimplemented BAR, message: drop
                    stat_cq_ur_next = 1'b1;
                    op_next = OP_NONE;
                end else begin
                    stat_cq_ur_next = 1'b1;
                    op_next = OP_CPL;
                    cpl_status_next = CPL_STATUS_UR;
                end
            end
        end
        STATE_WR_DATA: begin
            if (dw_left_reg == 11'd0 || frame_done_reg) begin
                // all dwords written, or the TLP ended early
                state_next = STATE_DRAIN;
            end else if (s_axis_cq_tvalid) begin
                if (cq_discontinue) begin
                    // drop the rest; STATE_DRAIN consumes this beat
                    discard_next = 1'b1;
                    state_next = STATE_DRAIN;
                end else if (!cq_lane_valid) begin
                    // no dword in this lane (malformed beat): skip the beat
                    s_axis_cq_tready_int = 1'b1;
                    frame_done_next = s_axis_cq_tlast;
                    lane_next = {LANE_W{1'b0}};
                end else begin
                    // take the dword; release the beat after its last dword
                    if (!cq_next_lane_valid) begin
                        s_axis_cq_tready_int = 1'b1;
                        frame_done_next = s_axis_cq_tlast;
                        lane_next = {LANE_W{1'b0}};
                    end else begin
                        lane_next = lane_reg + 1'b1;
                    end

                    if (cur_be != 4'd0) begin
                        reg_req_valid_next = 1'b1;
                        reg_req_write_next = 1'b1;
                        reg_req_addr_next = addr_reg & addr_mask;
                        reg_req_be_next = cur_be;
                        reg_req_wdata_next = cq_lane_data;
                        timeout_next = REG_TIMEOUT[TIMEOUT_W-1:0];
                        state_next = STATE_WR_WAIT;
                    end else begin
                        // nothing to write in this dword
                        addr_next = addr_reg + ADDR_DW_STEP;
                        dw_left_next = dw_left_reg - 1'b1;
                        first_dw_next = 1'b0;
                    end
                end
            end
        end
        STATE_WR_WAIT: begin
            if (reg_rsp_valid) begin
                addr_next = addr_reg + ADDR_DW_STEP;
                dw_left_next = dw_left_reg - 1'b1;
                first_dw_next = 1'b0;
                state_next = STATE_WR_DATA;
            end else if (timeout_reg == {TIMEOUT_W{1'b0}}) begin
                // target did not answer: drop the rest of the write (an I/O write completes with CA)
                cpl_status_next = CPL_STATUS_CA;
                state_next = STATE_DRAIN;
            end else begin
                timeout_next = timeout_reg - 1'b1;
            end
        end
        STATE_DRAIN: begin
            if (frame_done_reg) begin
                if (discard_reg) begin
                    state_next = STATE_HDR;
                end else begin
                    case (op_reg)
                        OP_READ: state_next = STATE_RD_NEXT;
                        OP_CPL: state_next = STATE_CPL;
                        default: state_next = STATE_HDR;
                    endcase
                end
            end else begin
                s_axis_cq_tready_int = 1'b1;
                if (s_axis_cq_tvalid) begin
                    discard_next = discard_reg || cq_discontinue;
                    frame_done_next = s_axis_cq_tlast;
                end
            end
        end
        STATE_RD_NEXT: begin
            if (dw_left_reg == 11'd0) begin
                state_next = STATE_CPL;
            end else if (cur_be == 4'd0) begin
                // no byte wanted (zero-length read): no access, data 0
                rd_data_next[rd_idx_reg*32 +: 32] = 32'd0;
                rd_idx_next = rd_idx_reg + 1'b1;
                addr_next = addr_reg + ADDR_DW_STEP;
                dw_left_next = dw_left_reg - 1'b1;
                first_dw_next = 1'b0;
            end else begin
                reg_req_valid_next = 1'b1;
                reg_req_write_next = 1'b0;
                reg_req_addr_next = addr_reg & addr_mask;
                reg_req_be_next = cur_be;
                reg_req_wdata_next = 32'd0;
                timeout_next = REG_TIMEOUT[TIMEOUT_W-1:0];
                state_next = STATE_RD_WAIT;
            end
        end
        STATE_RD_WAIT: begin
            if (reg_rsp_valid) begin
                rd_data_next[rd_idx_reg*32 +: 32] = reg_rsp_rdata;
                rd_idx_next = rd_idx_reg + 1'b1;
                addr_next = addr_reg + ADDR_DW_STEP;
                dw_left_next = dw_left_reg - 1'b1;
                first_dw_next = 1'b0;
                state_next = STATE_RD_NEXT;
            end else if (timeout_reg == {TIMEOUT_W{1'b0}}) begin
                // target did not answer: completer abort
                cpl_status_next = CPL_STATUS_CA;
                state_next = STATE_CPL;
            end else begin
                timeout_next = timeout_reg - 1'b1;
            end
        end
        STATE_CPL: begin
            if (!m_axis_cc_tvalid_reg || m_axis_cc_tready) begin
                if (cc_dw_sent < cc_dw_total) begin
                    m_axis_cc_tdata_next = cc_beat_data;
                    m_axis_cc_tkeep_next = cc_keep;
                    m_axis_cc_tvalid_next = 1'b1;
                    m_axis_cc_tlast_next = cc_last_beat;
                    cc_beat_next = cc_beat_reg + 1'b1;
                end else begin
                    // last beat accepted
                    stat_cc_cpl_tlp_next = 1'b1;
                    state_next = STATE_HDR;
                end
            end
        end
        default: begin
            state_next = STATE_HDR;
        end
    endcase
end

always @(posedge clk) begin
    state_reg <= state_next;

    hdr_reg <= hdr_next;
    first_be_reg <= first_be_next;
    last_be_reg <= last_be_next;
    hdr_beat_reg <= hdr_beat_next;

    lane_reg <= lane_next;
    frame_done_reg <= frame_done_next;
    discard_reg <= discard_next;

    op_reg <= op_next;
    cpl_status_reg <= cpl_status_next;

    addr_reg <= addr_next;
    dw_left_reg <= dw_left_next;
    first_dw_reg <= first_dw_next;
    rd_idx_reg <= rd_idx_next;
    timeout_reg <= timeout_next;

    rd_data_reg <= rd_data_next;

    cc_beat_reg <= cc_beat_next;

    m_axis_cc_tdata_reg <= m_axis_cc_tdata_next;
    m_axis_cc_tkeep_reg <= m_axis_cc_tkeep_next;
    m_axis_cc_tvalid_reg <= m_axis_cc_tvalid_next;
    m_axis_cc_tlast_reg <= m_axis_cc_tlast_next;

    reg_req_valid_reg <= reg_req_valid_next;
    reg_req_write_reg <= reg_req_write_next;
    reg_req_addr_reg <= reg_req_addr_next;
    reg_req_be_reg <= reg_req_be_next;
    reg_req_wdata_reg <= reg_req_wdata_next;

    stat_cq_req_tlp_reg <= stat_cq_req_tlp_next;
    stat_cc_cpl_tlp_reg <= stat_cc_cpl_tlp_next;
    stat_cq_ur_reg <= stat_cq_ur_next;

    if (rst) begin
        state_reg <= STATE_HDR;
        hdr_beat_reg <= 1'b0;
        lane_reg <= {LANE_W{1'b0}};
        frame_done_reg <= 1'b0;
        discard_reg <= 1'b0;
        op_reg <= OP_NONE;
        cpl_status_reg <= CPL_STATUS_SC;
        addr_reg <= {REG_ADDR_WIDTH{1'b0}};
        dw_left_reg <= 11'd0;
        first_dw_reg <= 1'b0;
        rd_idx_reg <= {RD_IDX_W{1'b0}};
        timeout_reg <= {TIMEOUT_W{1'b0}};
        cc_beat_reg <= {CC_BEAT_W{1'b0}};
        m_axis_cc_tkeep_reg <= {KEEP{1'b0}};
        m_axis_cc_tvalid_reg <= 1'b0;
        m_axis_cc_tlast_reg <= 1'b0;
        reg_req_valid_reg <= 1'b0;
        stat_cq_req_tlp_reg <= 1'b0;
        stat_cc_cpl_tlp_reg <= 1'b0;
        stat_cq_ur_reg <= 1'b0;
    end
end

endmodule

`resetall
