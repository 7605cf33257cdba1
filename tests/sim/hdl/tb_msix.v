`resetall
`timescale 1ns / 1ps
`default_nettype none

/*
 * Test wrapper for tests/sim/test_msix_intx.py: pcie_msix and pcie_intx side by side, every port
 * at the top level so that Python drives only top-level inputs.
 */
module tb_msix #
(
    parameter VEC_COUNT = 8,
    parameter REG_ADDR_WIDTH = 12,
    parameter PBA_OFFSET = 'h800
)
(
    input  wire                       clk,
    input  wire                       rst,

    // register bus (BAR 1)
    input  wire                       reg_req_valid,
    input  wire                       reg_req_write,
    input  wire [REG_ADDR_WIDTH-1:0]  reg_req_addr,
    input  wire [3:0]                 reg_req_be,
    input  wire [31:0]                reg_req_wdata,
    output wire                       reg_rsp_valid,
    output wire [31:0]                reg_rsp_rdata,

    // interrupt requests
    input  wire                       irq_valid,
    output wire                       irq_ready,
    input  wire [(VEC_COUNT > 1 ? $clog2(VEC_COUNT) : 1)-1:0] irq_vector,

    // MSI-X
    input  wire [3:0]                 cfg_interrupt_msix_enable,
    input  wire [3:0]                 cfg_interrupt_msix_mask,
    output wire [63:0]                cfg_interrupt_msix_address,
    output wire [31:0]                cfg_interrupt_msix_data,
    output wire                       cfg_interrupt_msix_int,
    input  wire                       cfg_interrupt_msix_sent,
    input  wire                       cfg_interrupt_msix_fail,
    output wire [7:0]                 cfg_interrupt_msi_function_number,
    output wire                       stat_msix_sent,

    // INTx
    input  wire                       intx_level,
    input  wire                       intx_disable,
    output wire [3:0]                 cfg_interrupt_int,
    output wire [3:0]                 cfg_interrupt_pending,
    input  wire                       cfg_interrupt_sent,
    output wire                       stat_intx_assert,
    output wire                       stat_intx_deassert
);

pcie_msix #(
    .VEC_COUNT(VEC_COUNT),
    .REG_ADDR_WIDTH(REG_ADDR_WIDTH),
    .PBA_OFFSET(PBA_OFFSET)
)
msix_inst (
    .clk(clk),
    .rst(rst),
    .reg_req_valid(reg_req_valid),
    .reg_req_write(reg_req_write),
    .reg_req_addr(reg_req_addr),
    .reg_req_be(reg_req_be),
    .reg_req_wdata(reg_req_wdata),
    .reg_rsp_valid(reg_rsp_valid),
    .reg_rsp_rdata(reg_rsp_rdata),
    .irq_valid(irq_valid),
    .irq_ready(irq_ready),
    .irq_vector(irq_vector),
    .cfg_interrupt_msix_enable(cfg_interrupt_msix_enable),
    .cfg_interrupt_msix_mask(cfg_interrupt_msix_mask),
    .cfg_interrupt_msix_address(cfg_interrupt_msix_address),
    .cfg_interrupt_msix_data(cfg_interrupt_msix_data),
    .cfg_interrupt_msix_int(cfg_interrupt_msix_int),
    .cfg_interrupt_msix_sent(cfg_interrupt_msix_sent),
    .cfg_interrupt_msix_fail(cfg_interrupt_msix_fail),
    .cfg_interrupt_msi_function_number(cfg_interrupt_msi_function_number),
    .stat_msix_sent(stat_msix_sent)
);

pcie_intx intx_inst (
    .clk(clk),
    .rst(rst),
    .intx_level(intx_level),
    .intx_disable(intx_disable),
    .cfg_interrupt_int(cfg_interrupt_int),
    .cfg_interrupt_pending(cfg_interrupt_pending),
    .cfg_interrupt_sent(cfg_interrupt_sent),
    .stat_intx_assert(stat_intx_assert),
    .stat_intx_deassert(stat_intx_deassert)
);

endmodule

`resetall
