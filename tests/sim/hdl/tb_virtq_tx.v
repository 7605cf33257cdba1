`resetall
`timescale 1ns / 1ps
`default_nettype none

/*
 * Test wrapper for tests/sim/test_virtq_tx.py: virtq_tx with its client RAM. Every engine port is a
 * top-level port; the RAM's write port (what the DMA read engine would drive) is driven from Python, its
 * read port belongs to the engine. Python drives only top-level inputs.
 */
module tb_virtq_tx #
(
    parameter QUEUE_SIZE = 256,
    parameter RAM_ADDR_WIDTH = 12,
    parameter RAM_DATA_WIDTH = 256,
    parameter LEN_WIDTH = 16,
    parameter DMA_TAG_WIDTH = 8,
    parameter AXIS_NET_DATA_WIDTH = 64,
    parameter AXIS_NET_KEEP_WIDTH = AXIS_NET_DATA_WIDTH/8,
    parameter MAX_BATCH = 16,
    parameter MAX_FRAME_LEN = 1518,
    parameter MIN_FRAME_LEN = 14,
    parameter INDIRECT_MAX = 64,
    parameter DESC_WINDOW = 16,
    // the block test drives the fault knobs: always built in here
    parameter FAULT_ENABLE = 1,
    parameter RAM_WORD_ADDR_WIDTH = RAM_ADDR_WIDTH - $clog2(RAM_DATA_WIDTH/8)
)
(
    input  wire                               clk,
    input  wire                               rst,

    input  wire                               queue_enable,
    input  wire [63:0]                        queue_base,
    input  wire                               feat_indirect,
    input  wire                               feat_noe,
    input  wire                               feat_mrg_rxbuf,
    input  wire [1:0]                         noe_policy,
    input  wire                               kick_suppress,
    input  wire                               pacing_timer,
    input  wire [31:0]                        pacing_interval,
    input  wire [8:0]                         fault,
    input  wire                               notify,
    input  wire                               dev_reset,

    output wire [63:0]                        m_axis_read_desc_pcie_addr,
    output wire [RAM_ADDR_WIDTH-1:0]          m_axis_read_desc_ram_addr,
    output wire [LEN_WIDTH-1:0]               m_axis_read_desc_len,
    output wire [DMA_TAG_WIDTH-1:0]           m_axis_read_desc_tag,
    output wire                               m_axis_read_desc_valid,
    input  wire                               m_axis_read_desc_ready,
    input  wire [DMA_TAG_WIDTH-1:0]           s_axis_read_desc_status_tag,
    input  wire [3:0]                         s_axis_read_desc_status_error,
    input  wire                               s_axis_read_desc_status_valid,

    output wire [63:0]                        m_axis_write_desc_pcie_addr,
    output wire [RAM_ADDR_WIDTH-1:0]          m_axis_write_desc_ram_addr,
    output wire [63:0]                        m_axis_write_desc_imm,
    output wire                               m_axis_write_desc_imm_en,
    output wire [LEN_WIDTH-1:0]               m_axis_write_desc_len,
    output wire [DMA_TAG_WIDTH-1:0]           m_axis_write_desc_tag,
    output wire                               m_axis_write_desc_valid,
    input  wire                               m_axis_write_desc_ready,
    input  wire [DMA_TAG_WIDTH-1:0]           s_axis_write_desc_status_tag,
    input  wire [3:0]                         s_axis_write_desc_status_error,
    input  wire                               s_axis_write_desc_status_valid,

    output wire [AXIS_NET_DATA_WIDTH-1:0]     m_axis_tx_tdata,
    output wire [AXIS_NET_KEEP_WIDTH-1:0]     m_axis_tx_tkeep,
    output wire                               m_axis_tx_tvalid,
    input  wire                               m_axis_tx_tready,
    output wire                               m_axis_tx_tlast,
    output wire                               m_axis_tx_tuser,

    output wire                               irq_valid,
    output wire                               irq_cause,
    output wire                               err_valid,
    output wire [3:0]                         err_cause,
    output wire                               idle,
    output wire                               stat_frame,
    output wire                               stat_notify,
    output wire                               stat_irq_normal,
    output wire                               stat_irq_noe,
    output wire                               stat_irq_suppressed,
    output wire                               stat_drop_oversize,
    output wire                               stat_drop_runt,

    // client RAM write port (the DMA model writes read data here)
    input  wire                               ram_wr_en,
    input  wire [RAM_WORD_ADDR_WIDTH-1:0]     ram_wr_addr,
    input  wire [RAM_DATA_WIDTH/8-1:0]        ram_wr_be,
    input  wire [RAM_DATA_WIDTH-1:0]          ram_wr_data
);

wire                            ram_rd_en;
wire [RAM_WORD_ADDR_WIDTH-1:0]  ram_rd_addr;
reg  [RAM_DATA_WIDTH-1:0]       ram_rd_data_reg;
reg  [RAM_DATA_WIDTH-1:0]       mem [0:(1 << RAM_WORD_ADDR_WIDTH)-1];

integer i;

initial begin
    for (i = 0; i < (1 << RAM_WORD_ADDR_WIDTH); i = i + 1) begin
        mem[i] = {RAM_DATA_WIDTH{1'b0}};
    end
    ram_rd_data_reg = {RAM_DATA_WIDTH{1'b0}};
end

always @(posedge clk) begin
    for (i = 0; i < RAM_DATA_WIDTH/8; i = i + 1) begin
        if (ram_wr_en && ram_wr_be[i]) begin
            mem[ram_wr_addr][i*8 +: 8] <= ram_wr_data[i*8 +: 8];
        end
    end
    if (ram_rd_en) begin
        ram_rd_data_reg <= mem[ram_rd_addr];
    end
end

virtq_tx #(
    .QUEUE_SIZE(QUEUE_SIZE),
    .RAM_ADDR_WIDTH(RAM_ADDR_WIDTH),
    .RAM_DATA_WIDTH(RAM_DATA_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .DMA_TAG_WIDTH(DMA_TAG_WIDTH),
    .AXIS_NET_DATA_WIDTH(AXIS_NET_DATA_WIDTH),
    .AXIS_NET_KEEP_WIDTH(AXIS_NET_KEEP_WIDTH),
    .MAX_BATCH(MAX_BATCH),
    .MAX_FRAME_LEN(MAX_FRAME_LEN),
    .MIN_FRAME_LEN(MIN_FRAME_LEN),
    .INDIRECT_MAX(INDIRECT_MAX),
    .DESC_WINDOW(DESC_WINDOW),
    .FAULT_ENABLE(FAULT_ENABLE)
)
dut (
    .clk(clk),
    .rst(rst),
    .queue_enable(queue_enable),
    .queue_base(queue_base),
    .feat_indirect(feat_indirect),
    .feat_noe(feat_noe),
    .feat_mrg_rxbuf(feat_mrg_rxbuf),
    .noe_policy(noe_policy),
    .kick_suppress(kick_suppress),
    .pacing_timer(pacing_timer),
    .pacing_interval(pacing_interval),
    .fault(fault),
    .notify(notify),
    .dev_reset(dev_reset),
    .m_axis_read_desc_pcie_addr(m_axis_read_desc_pcie_addr),
    .m_axis_read_desc_ram_addr(m_axis_read_desc_ram_addr),
    .m_axis_read_desc_len(m_axis_read_desc_len),
    .m_axis_read_desc_tag(m_axis_read_desc_tag),
    .m_axis_read_desc_valid(m_axis_read_desc_valid),
    .m_axis_read_desc_ready(m_axis_read_desc_ready),
    .s_axis_read_desc_status_tag(s_axis_read_desc_status_tag),
    .s_axis_read_desc_status_error(s_axis_read_desc_status_error),
    .s_axis_read_desc_status_valid(s_axis_read_desc_status_valid),
    .ram_rd_en(ram_rd_en),
    .ram_rd_addr(ram_rd_addr),
    .ram_rd_data(ram_rd_data_reg),
    .m_axis_write_desc_pcie_addr(m_axis_write_desc_pcie_addr),
    .m_axis_write_desc_ram_addr(m_axis_write_desc_ram_addr),
    .m_axis_write_desc_imm(m_axis_write_desc_imm),
    .m_axis_write_desc_imm_en(m_axis_write_desc_imm_en),
    .m_axis_write_desc_len(m_axis_write_desc_len),
    .m_axis_write_desc_tag(m_axis_write_desc_tag),
    .m_axis_write_desc_valid(m_axis_write_desc_valid),
    .m_axis_write_desc_ready(m_axis_write_desc_ready),
    .s_axis_write_desc_status_tag(s_axis_write_desc_status_tag),
    .s_axis_write_desc_status_error(s_axis_write_desc_status_error),
    .s_axis_write_desc_status_valid(s_axis_write_desc_status_valid),
    .m_axis_tx_tdata(m_axis_tx_tdata),
    .m_axis_tx_tkeep(m_axis_tx_tkeep),
    .m_axis_tx_tvalid(m_axis_tx_tvalid),
    .m_axis_tx_tready(m_axis_tx_tready),
    .m_axis_tx_tlast(m_axis_tx_tlast),
    .m_axis_tx_tuser(m_axis_tx_tuser),
    .irq_valid(irq_valid),
    .irq_cause(irq_cause),
    .err_valid(err_valid),
    .err_cause(err_cause),
    .idle(idle),
    .stat_frame(stat_frame),
    .stat_notify(stat_notify),
    .stat_irq_normal(stat_irq_normal),
    .stat_irq_noe(stat_irq_noe),
    .stat_irq_suppressed(stat_irq_suppressed),
    .stat_drop_oversize(stat_drop_oversize),
    .stat_drop_runt(stat_drop_runt)
);

endmodule

`resetall
