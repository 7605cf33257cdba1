`resetall
`timescale 1ns / 1ps
`default_nettype none

/*
 * Test-only top for tests/sim/test_dma.py: the DMA read and write engines sharing one client RAM,
 * their TLPs merged onto RQ, wired to the UltraScale+ hard-block model (tb/platform/usp.py).
 *
 * CQ/CC exist only because the model needs the buses: CQ is accepted and dropped, CC is idle.
 * rc_stall (test knob) holds RC off, so completions pile up in the model's receive buffer.
 * The statistics pulses are counted here so the test reads totals instead of watching every cycle.
 */
module tb_dma #
(
    parameter AXIS_PCIE_DATA_WIDTH = 256,
    parameter AXIS_PCIE_KEEP_WIDTH = AXIS_PCIE_DATA_WIDTH/32,
    parameter RAM_ADDR_WIDTH = 14,
    parameter LEN_WIDTH = 16,
    parameter TAG_WIDTH = 8,
    // just below the model's 256 / 2048; at 64 bits CPLD binds first (1024 < 5 x 240), at 256 CPLH does
    parameter CPLH_LIMIT = 240,
    parameter CPLD_LIMIT = AXIS_PCIE_DATA_WIDTH == 64 ? 1024 : 1984,
    parameter CPL_TIMEOUT = 20000
)
(
    input  wire                               user_clk,
    input  wire                               user_reset,

    // CQ / CC (unused)
    input  wire [AXIS_PCIE_DATA_WIDTH-1:0]    s_axis_cq_tdata,
    input  wire [AXIS_PCIE_KEEP_WIDTH-1:0]    s_axis_cq_tkeep,
    input  wire                               s_axis_cq_tlast,
    input  wire [87:0]                        s_axis_cq_tuser,
    input  wire                               s_axis_cq_tvalid,
    output wire                               s_axis_cq_tready,
    output wire [AXIS_PCIE_DATA_WIDTH-1:0]    m_axis_cc_tdata,
    output wire [AXIS_PCIE_KEEP_WIDTH-1:0]    m_axis_cc_tkeep,
    output wire                               m_axis_cc_tlast,
    output wire [32:0]                        m_axis_cc_tuser,
    output wire                               m_axis_cc_tvalid,
    input  wire                               m_axis_cc_tready,

    // RQ / RC
    output wire [AXIS_PCIE_DATA_WIDTH-1:0]    m_axis_rq_tdata,
    output wire [AXIS_PCIE_KEEP_WIDTH-1:0]    m_axis_rq_tkeep,
    output wire                               m_axis_rq_tlast,
    output wire [61:0]                        m_axis_rq_tuser,
    output wire                               m_axis_rq_tvalid,
    input  wire                               m_axis_rq_tready,
    input  wire [AXIS_PCIE_DATA_WIDTH-1:0]    s_axis_rc_tdata,
    input  wire [AXIS_PCIE_KEEP_WIDTH-1:0]    s_axis_rc_tkeep,
    input  wire                               s_axis_rc_tlast,
    input  wire [74:0]                        s_axis_rc_tuser,
    input  wire                               s_axis_rc_tvalid,
    output wire                               s_axis_rc_tready,

    // configuration status from the model
    input  wire [1:0]                         cfg_max_payload,
    input  wire [2:0]                         cfg_max_read_req,
    input  wire [4:0]                         cfg_local_error_out,
    input  wire                               cfg_local_error_valid,

    // test knob
    input  wire                               rc_stall,

    // read engine
    input  wire [63:0]                        s_axis_read_desc_pcie_addr,
    input  wire [RAM_ADDR_WIDTH-1:0]          s_axis_read_desc_ram_addr,
    input  wire [LEN_WIDTH-1:0]               s_axis_read_desc_len,
    input  wire [TAG_WIDTH-1:0]               s_axis_read_desc_tag,
    input  wire                               s_axis_read_desc_valid,
    output wire                               s_axis_read_desc_ready,
    output wire [TAG_WIDTH-1:0]               m_axis_read_desc_status_tag,
    output wire [3:0]                         m_axis_read_desc_status_error,
    output wire                               m_axis_read_desc_status_valid,

    // write engine
    input  wire [63:0]                        s_axis_write_desc_pcie_addr,
    input  wire [RAM_ADDR_WIDTH-1:0]          s_axis_write_desc_ram_addr,
    input  wire [63:0]                        s_axis_write_desc_imm,
    input  wire                               s_axis_write_desc_imm_en,
    input  wire [LEN_WIDTH-1:0]               s_axis_write_desc_len,
    input  wire [TAG_WIDTH-1:0]               s_axis_write_desc_tag,
    input  wire                               s_axis_write_desc_valid,
    output wire                               s_axis_write_desc_ready,
    output wire [TAG_WIDTH-1:0]               m_axis_write_desc_status_tag,
    output wire [3:0]                         m_axis_write_desc_status_error,
    output wire                               m_axis_write_desc_status_valid,

    // statistics totals
    output wire [31:0]                        stat_rd_req_tlp_count,
    output wire [31:0]                        stat_rd_cpl_tlp_count,
    output wire [31:0]                        stat_rd_cpl_err_count,
    output wire [31:0]                        stat_wr_req_tlp_count
);

localparam RAM_WORD_ADDR_WIDTH = RAM_ADDR_WIDTH - $clog2(AXIS_PCIE_DATA_WIDTH/8);

assign s_axis_cq_tready = 1'b1;
assign m_axis_cc_tdata = {AXIS_PCIE_DATA_WIDTH{1'b0}};
assign m_axis_cc_tkeep = {AXIS_PCIE_KEEP_WIDTH{1'b0}};
assign m_axis_cc_tlast = 1'b0;
assign m_axis_cc_tuser = 33'd0;
assign m_axis_cc_tvalid = 1'b0;

wire [AXIS_PCIE_DATA_WIDTH-1:0] rd_rq_tdata, wr_rq_tdata;
wire [AXIS_PCIE_KEEP_WIDTH-1:0] rd_rq_tkeep, wr_rq_tkeep;
wire rd_rq_tlast, wr_rq_tlast;
wire [61:0] rd_rq_tuser, wr_rq_tuser;
wire rd_rq_tvalid, wr_rq_tvalid;
wire rd_rq_tready, wr_rq_tready;

wire dut_rc_tready;

wire ram_wr_en;
wire [RAM_WORD_ADDR_WIDTH-1:0] ram_wr_addr;
wire [AXIS_PCIE_DATA_WIDTH/8-1:0] ram_wr_be;
wire [AXIS_PCIE_DATA_WIDTH-1:0] ram_wr_data;
wire ram_rd_en;
wire [RAM_WORD_ADDR_WIDTH-1:0] ram_rd_addr;
wire [AXIS_PCIE_DATA_WIDTH-1:0] ram_rd_data;

wire stat_rd_req_tlp, stat_rd_cpl_tlp, stat_rd_cpl_err, stat_wr_req_tlp;

assign s_axis_rc_tready = dut_rc_tready && !rc_stall;

pcie_us_dma_rd #(
    .AXIS_PCIE_DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .RAM_ADDR_WIDTH(RAM_ADDR_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .TAG_WIDTH(TAG_WIDTH),
    .CPLH_LIMIT(CPLH_LIMIT),
    .CPLD_LIMIT(CPLD_LIMIT),
    .CPL_TIMEOUT(CPL_TIMEOUT)
)
dma_rd_inst (
    .clk(user_clk),
    .rst(user_reset),
    .m_axis_rq_tdata(rd_rq_tdata),
    .m_axis_rq_tkeep(rd_rq_tkeep),
    .m_axis_rq_tlast(rd_rq_tlast),
    .m_axis_rq_tuser(rd_rq_tuser),
    .m_axis_rq_tvalid(rd_rq_tvalid),
    .m_axis_rq_tready(rd_rq_tready),
    .s_axis_rc_tdata(s_axis_rc_tdata),
    .s_axis_rc_tkeep(s_axis_rc_tkeep),
    .s_axis_rc_tlast(s_axis_rc_tlast),
    .s_axis_rc_tuser(s_axis_rc_tuser),
    .s_axis_rc_tvalid(s_axis_rc_tvalid && !rc_stall),
    .s_axis_rc_tready(dut_rc_tready),
    .s_axis_read_desc_pcie_addr(s_axis_read_desc_pcie_addr),
    .s_axis_read_desc_ram_addr(s_axis_read_desc_ram_addr),
    .s_axis_read_desc_len(s_axis_read_desc_len),
    .s_axis_read_desc_tag(s_axis_read_desc_tag),
    .s_axis_read_desc_valid(s_axis_read_desc_valid),
    .s_axis_read_desc_ready(s_axis_read_desc_ready),
    .m_axis_read_desc_status_tag(m_axis_read_desc_status_tag),
    .m_axis_read_desc_status_error(m_axis_read_desc_status_error),
    .m_axis_read_desc_status_valid(m_axis_read_desc_status_valid),
    .ram_wr_en(ram_wr_en),
    .ram_wr_addr(ram_wr_addr),
    .ram_wr_be(ram_wr_be),
    .ram_wr_data(ram_wr_data),
    .cfg_max_read_req(cfg_max_read_req),
    .stat_rd_req_tlp(stat_rd_req_tlp),
    .stat_rd_cpl_tlp(stat_rd_cpl_tlp),
    .stat_rd_cpl_err(stat_rd_cpl_err)
);

pcie_us_dma_wr #(
    .AXIS_PCIE_DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .RAM_ADDR_WIDTH(RAM_ADDR_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .TAG_WIDTH(TAG_WIDTH)
)
dma_wr_inst (
    .clk(user_clk),
    .rst(user_reset),
    .m_axis_rq_tdata(wr_rq_tdata),
    .m_axis_rq_tkeep(wr_rq_tkeep),
    .m_axis_rq_tlast(wr_rq_tlast),
    .m_axis_rq_tuser(wr_rq_tuser),
    .m_axis_rq_tvalid(wr_rq_tvalid),
    .m_axis_rq_tready(wr_rq_tready),
    .s_axis_write_desc_pcie_addr(s_axis_write_desc_pcie_addr),
    .s_axis_write_desc_ram_addr(s_axis_write_desc_ram_addr),
    .s_axis_write_desc_imm(s_axis_write_desc_imm),
    .s_axis_write_desc_imm_en(s_axis_write_desc_imm_en),
    .s_axis_write_desc_len(s_axis_write_desc_len),
    .s_axis_write_desc_tag(s_axis_write_desc_tag),
    .s_axis_write_desc_valid(s_axis_write_desc_valid),
    .s_axis_write_desc_ready(s_axis_write_desc_ready),
    .m_axis_write_desc_status_tag(m_axis_write_desc_status_tag),
    .m_axis_write_desc_status_error(m_axis_write_desc_status_error),
    .m_axis_write_desc_status_valid(m_axis_write_desc_status_valid),
    .ram_rd_en(ram_rd_en),
    .ram_rd_addr(ram_rd_addr),
    .ram_rd_data(ram_rd_data),
    .cfg_max_payload(cfg_max_payload),
    .stat_wr_req_tlp(stat_wr_req_tlp)
);

pcie_us_rq_mux #(
    .AXIS_PCIE_DATA_WIDTH(AXIS_PCIE_DATA_WIDTH)
)
rq_mux_inst (
    .clk(user_clk),
    .rst(user_reset),
    .s_axis_rd_rq_tdata(rd_rq_tdata),
    .s_axis_rd_rq_tkeep(rd_rq_tkeep),
    .s_axis_rd_rq_tlast(rd_rq_tlast),
    .s_axis_rd_rq_tuser(rd_rq_tuser),
    .s_axis_rd_rq_tvalid(rd_rq_tvalid),
    .s_axis_rd_rq_tready(rd_rq_tready),
    .s_axis_wr_rq_tdata(wr_rq_tdata),
    .s_axis_wr_rq_tkeep(wr_rq_tkeep),
    .s_axis_wr_rq_tlast(wr_rq_tlast),
    .s_axis_wr_rq_tuser(wr_rq_tuser),
    .s_axis_wr_rq_tvalid(wr_rq_tvalid),
    .s_axis_wr_rq_tready(wr_rq_tready),
    .m_axis_rq_tdata(m_axis_rq_tdata),
    .m_axis_rq_tkeep(m_axis_rq_tkeep),
    .m_axis_rq_tlast(m_axis_rq_tlast),
    .m_axis_rq_tuser(m_axis_rq_tuser),
    .m_axis_rq_tvalid(m_axis_rq_tvalid),
    .m_axis_rq_tready(m_axis_rq_tready)
);

dma_ram #(
    .DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .ADDR_WIDTH(RAM_WORD_ADDR_WIDTH)
)
ram_inst (
    .clk(user_clk),
    .wr_en(ram_wr_en),
    .wr_addr(ram_wr_addr),
    .wr_be(ram_wr_be),
    .wr_data(ram_wr_data),
    .rd_en(ram_rd_en),
    .rd_addr(ram_rd_addr),
    .rd_data(ram_rd_data)
);

reg [31:0] rd_req_count_reg, rd_cpl_count_reg, rd_err_count_reg, wr_req_count_reg;

always @(posedge user_clk) begin
    rd_req_count_reg <= rd_req_count_reg + {31'd0, stat_rd_req_tlp};
    rd_cpl_count_reg <= rd_cpl_count_reg + {31'd0, stat_rd_cpl_tlp};
    rd_err_count_reg <= rd_err_count_reg + {31'd0, stat_rd_cpl_err};
    wr_req_count_reg <= wr_req_count_reg + {31'd0, stat_wr_req_tlp};
    if (user_reset) begin
        rd_req_count_reg <= 32'd0;
        rd_cpl_count_reg <= 32'd0;
        rd_err_count_reg <= 32'd0;
        wr_req_count_reg <= 32'd0;
    end
end

assign stat_rd_req_tlp_count = rd_req_count_reg;
assign stat_rd_cpl_tlp_count = rd_cpl_count_reg;
assign stat_rd_cpl_err_count = rd_err_count_reg;
assign stat_wr_req_tlp_count = wr_req_count_reg;

endmodule

`resetall
