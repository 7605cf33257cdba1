`resetall
`timescale 1ns / 1ps
`default_nettype none

/*
 * Test wrapper for tests/sim/test_cq_cc_bridge.py: pcie_us_cq_cc_bridge and a register target.
 *
 *   BAR0  1 KiB RAM of dwords (byte enables), answers 1 cycle after the request
 *   BAR1  the same, answers 5 cycles after the request
 *   BAR2  0x000..0x7ff: read-only pattern, byte i of a dword = (byte address + i) ^ 0x5a, disabled byte
 *         lanes read 0 (shows the read byte enables); 0x800..0xfff: never answers (REG_TIMEOUT)
 *   BAR4  an I/O BAR (BAR_IO_MASK): 256-byte RAM of dwords (byte enables), answers 1 cycle after the request
 *
 * BAR0/BAR1 addresses from 0x400 up read 0 and ignore writes (no aliasing, so a wrong aperture mask
 * shows). The streams keep the Xilinx names for tb.platform.usp.connect_usp; RQ/RC are tied off (the
 * shared harness always connects them). Counters of the statistics pulses and of register-bus protocol
 * errors are outputs, so Python reads them instead of watching every clock.
 */
module tb_cq_cc_bridge #
(
    parameter AXIS_PCIE_DATA_WIDTH = 256,
    parameter AXIS_PCIE_KEEP_WIDTH = AXIS_PCIE_DATA_WIDTH/32,
    parameter REG_ADDR_WIDTH = 12
)
(
    input  wire                               user_clk,
    input  wire                               user_reset,

    input  wire [AXIS_PCIE_DATA_WIDTH-1:0]    s_axis_cq_tdata,
    input  wire [AXIS_PCIE_KEEP_WIDTH-1:0]    s_axis_cq_tkeep,
    input  wire                               s_axis_cq_tvalid,
    output wire                               s_axis_cq_tready,
    input  wire                               s_axis_cq_tlast,
    input  wire [87:0]                        s_axis_cq_tuser,

    output wire [AXIS_PCIE_DATA_WIDTH-1:0]    m_axis_cc_tdata,
    output wire [AXIS_PCIE_KEEP_WIDTH-1:0]    m_axis_cc_tkeep,
    output wire                               m_axis_cc_tvalid,
    input  wire                               m_axis_cc_tready,
    output wire                               m_axis_cc_tlast,
    output wire [32:0]                        m_axis_cc_tuser,

    output wire [AXIS_PCIE_DATA_WIDTH-1:0]    m_axis_rq_tdata,
    output wire [AXIS_PCIE_KEEP_WIDTH-1:0]    m_axis_rq_tkeep,
    output wire                               m_axis_rq_tvalid,
    input  wire                               m_axis_rq_tready,
    output wire                               m_axis_rq_tlast,
    output wire [61:0]                        m_axis_rq_tuser,

    input  wire [AXIS_PCIE_DATA_WIDTH-1:0]    s_axis_rc_tdata,
    input  wire [AXIS_PCIE_KEEP_WIDTH-1:0]    s_axis_rc_tkeep,
    input  wire                               s_axis_rc_tvalid,
    output wire                               s_axis_rc_tready,
    input  wire                               s_axis_rc_tlast,
    input  wire [74:0]                        s_axis_rc_tuser,

    output reg  [31:0]                        stat_cq_req_count,
    output reg  [31:0]                        stat_cc_cpl_count,
    output reg  [31:0]                        stat_cq_ur_count,
    output reg  [31:0]                        reg_proto_err_count
);

localparam SLOW_LATENCY = 5;

wire clk = user_clk;
wire rst = user_reset;

assign m_axis_rq_tdata = {AXIS_PCIE_DATA_WIDTH{1'b0}};
assign m_axis_rq_tkeep = {AXIS_PCIE_KEEP_WIDTH{1'b0}};
assign m_axis_rq_tvalid = 1'b0;
assign m_axis_rq_tlast = 1'b0;
assign m_axis_rq_tuser = 62'd0;
assign s_axis_rc_tready = 1'b1;

wire                       reg_req_valid;
wire                       reg_req_write;
wire [2:0]                 reg_req_bar;
wire [REG_ADDR_WIDTH-1:0]  reg_req_addr;
wire [3:0]                 reg_req_be;
wire [31:0]                reg_req_wdata;
wire                       reg_rsp_valid;
wire [31:0]                reg_rsp_rdata;

wire stat_cq_req_tlp;
wire stat_cc_cpl_tlp;
wire stat_cq_ur;

pcie_us_cq_cc_bridge #(
    .AXIS_PCIE_DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .AXIS_PCIE_KEEP_WIDTH(AXIS_PCIE_KEEP_WIDTH),
    .AXIS_PCIE_CQ_USER_WIDTH(88),
    .AXIS_PCIE_CC_USER_WIDTH(33),
    .REG_ADDR_WIDTH(REG_ADDR_WIDTH),
    .BAR_MASK(6'b010111),
    .BAR_IO_MASK(6'b010000),
    .REG_TIMEOUT(64),
    .MAX_RD_DW(16)
)
dut (
    .clk(clk),
    .rst(rst),
    .s_axis_cq_tdata(s_axis_cq_tdata),
    .s_axis_cq_tkeep(s_axis_cq_tkeep),
    .s_axis_cq_tvalid(s_axis_cq_tvalid),
    .s_axis_cq_tready(s_axis_cq_tready),
    .s_axis_cq_tlast(s_axis_cq_tlast),
    .s_axis_cq_tuser(s_axis_cq_tuser),
    .m_axis_cc_tdata(m_axis_cc_tdata),
    .m_axis_cc_tkeep(m_axis_cc_tkeep),
    .m_axis_cc_tvalid(m_axis_cc_tvalid),
    .m_axis_cc_tready(m_axis_cc_tready),
    .m_axis_cc_tlast(m_axis_cc_tlast),
    .m_axis_cc_tuser(m_axis_cc_tuser),
    .reg_req_valid(reg_req_valid),
    .reg_req_write(reg_req_write),
    .reg_req_bar(reg_req_bar),
    .reg_req_addr(reg_req_addr),
    .reg_req_be(reg_req_be),
    .reg_req_wdata(reg_req_wdata),
    .reg_rsp_valid(reg_rsp_valid),
    .reg_rsp_rdata(reg_rsp_rdata),
    .stat_cq_req_tlp(stat_cq_req_tlp),
    .stat_cc_cpl_tlp(stat_cc_cpl_tlp),
    .stat_cq_ur(stat_cq_ur)
);

/*
 * Register target
 */
reg [31:0] ram0 [0:255];
reg [31:0] ram1 [0:255];
reg [31:0] ram4 [0:63];

integer i;
initial begin
    for (i = 0; i < 256; i = i + 1) begin
        ram0[i] = 32'd0;
        ram1[i] = 32'd0;
    end
    for (i = 0; i < 64; i = i + 1) begin
        ram4[i] = 32'd0;
    end
end

wire in_ram = reg_req_addr[REG_ADDR_WIDTH-1:10] == 0;
wire [7:0] ram_index = reg_req_addr[9:2];
wire [31:0] be_mask = {{8{reg_req_be[3]}}, {8{reg_req_be[2]}}, {8{reg_req_be[1]}}, {8{reg_req_be[0]}}};
wire [7:0] a = reg_req_addr[7:0];
wire [31:0] bar2_pattern = {a + 8'd3, a + 8'd2, a + 8'd1, a} ^ 32'h5a5a5a5a;

reg        rsp0_valid;
reg [31:0] rsp0_rdata;
reg [SLOW_LATENCY-1:0] rsp1_valid;
reg [31:0] rsp1_rdata [0:SLOW_LATENCY-1];
reg        rsp2_valid;
reg [31:0] rsp2_rdata;
reg        rsp4_valid;
reg [31:0] rsp4_rdata;

integer k;
always @(posedge clk) begin
    rsp0_valid <= 1'b0;
    rsp2_valid <= 1'b0;
    rsp4_valid <= 1'b0;
    rsp1_valid <= {rsp1_valid[SLOW_LATENCY-2:0], 1'b0};
    for (k = 1; k < SLOW_LATENCY; k = k + 1) begin
        rsp1_rdata[k] <= rsp1_rdata[k-1];
    end

    if (reg_req_valid) begin
        case (reg_req_bar)
            3'd0: begin
                rsp0_valid <= 1'b1;
                rsp0_rdata <= in_ram ? ram0[ram_index] : 32'd0;
                if (reg_req_write && in_ram) begin
                    ram0[ram_index] <= (ram0[ram_index] & ~be_mask) | (reg_req_wdata & be_mask);
                end
            end
            3'd1: begin
                rsp1_valid[0] <= 1'b1;
                rsp1_rdata[0] <= in_ram ? ram1[ram_index] : 32'd0;
                if (reg_req_write && in_ram) begin
                    ram1[ram_index] <= (ram1[ram_index] & ~be_mask) | (reg_req_wdata & be_mask);
                end
            end
            3'd2: begin
                // upper half: no answer at all
                rsp2_valid <= !reg_req_addr[11];
                rsp2_rdata <= bar2_pattern & be_mask;
            end
            3'd4: begin
                // the I/O BAR: 256 bytes (the aperture keeps the address below 0x100)
                rsp4_valid <= 1'b1;
                rsp4_rdata <= ram4[reg_req_addr[7:2]];
                if (reg_req_write) begin
                    ram4[reg_req_addr[7:2]] <= (ram4[reg_req_addr[7:2]] & ~be_mask) | (reg_req_wdata & be_mask);
                end
            end
            default: begin
                // nothing behind other BAR ids: the bridge must not send them here
            end
        endcase
    end

    if (rst) begin
        rsp0_valid <= 1'b0;
        rsp1_valid <= {SLOW_LATENCY{1'b0}};
        rsp2_valid <= 1'b0;
        rsp4_valid <= 1'b0;
    end
end

assign reg_rsp_valid = rsp0_valid || rsp1_valid[SLOW_LATENCY-1] || rsp2_valid || rsp4_valid;
assign reg_rsp_rdata = rsp0_valid ? rsp0_rdata :
                       rsp1_valid[SLOW_LATENCY-1] ? rsp1_rdata[SLOW_LATENCY-1] :
                       rsp2_valid ? rsp2_rdata :
                       rsp4_valid ? rsp4_rdata : 32'd0;

/*
 * Checks and counters
 */

// an answered access still outstanding: a new request now breaks "one access at a time"
reg pending;

always @(posedge clk) begin
    if (reg_req_valid) begin
        pending <= reg_req_bar != 3'd2 || !reg_req_addr[11];
    end else if (reg_rsp_valid) begin
        pending <= 1'b0;
    end

    if ((reg_req_valid && (pending || reg_req_addr[1:0] != 2'b00 ||
         (reg_req_bar > 3'd2 && reg_req_bar != 3'd4))) ||
        (reg_rsp_valid && !pending)) begin
        reg_proto_err_count <= reg_proto_err_count + 1;
    end

    if (stat_cq_req_tlp) stat_cq_req_count <= stat_cq_req_count + 1;
    if (stat_cc_cpl_tlp) stat_cc_cpl_count <= stat_cc_cpl_count + 1;
    if (stat_cq_ur) stat_cq_ur_count <= stat_cq_ur_count + 1;

    if (rst) begin
        pending <= 1'b0;
        reg_proto_err_count <= 32'd0;
        stat_cq_req_count <= 32'd0;
        stat_cc_cpl_count <= 32'd0;
        stat_cq_ur_count <= 32'd0;
    end
end

endmodule

`resetall
