// SPDX-License-Identifier: MIT
/*
 * virtio_reset_hold: a device reset is complete only when the device's DMA has stopped.
 *
 * After STATUS = 0 (dev_reset) the queues drain: the reads and writes they had issued are still counted back,
 * and the DMA write engine still sends what a queue handed it before the reset (the rest of a received frame,
 * a used element). A driver takes the first read that follows its reset write as the end of the reset (Linux's
 * vp_reset reads STATUS back to flush the write) and frees the rings and buffers right after it; a device whose
 * writes land after that read corrupts memory the driver has handed back to the kernel. So from dev_reset until
 * the queues report idle (busy low), an access on the register bus is held here: latched, then presented to
 * the register block once the queues are idle, so its response, and the read completion the driver waits for,
 * follow the last DMA write (PCIe keeps a completion behind the device's earlier posted writes).
 *
 * The hold is bounded by HOLD_MAX cycles, so that a queue waiting on a completion that never comes cannot
 * hang the register bus (the bridge's REG_TIMEOUT must be larger than HOLD_MAX plus the register block's
 * latency); an access released by the bound instead of by idle is counted (stat_hold_expired pulse).
 *
 * Every access takes one cycle more than without this block (a registered stage); responses pass through.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module virtio_reset_hold #
(
    parameter REG_ADDR_WIDTH = 12,
    // longest hold of one access, in cycles (1..65535)
    parameter HOLD_MAX = 1536
)
(
    input  wire                       clk,
    input  wire                       rst,

    input  wire                       dev_reset,          // pulse: STATUS = 0 written
    input  wire                       busy,               // a queue has DMA outstanding (not idle)

    input  wire                       s_reg_req_valid,
    input  wire                       s_reg_req_write,
    input  wire [REG_ADDR_WIDTH-1:0]  s_reg_req_addr,
    input  wire [3:0]                 s_reg_req_be,
    input  wire [31:0]                s_reg_req_wdata,

    output wire                       m_reg_req_valid,
    output wire                       m_reg_req_write,
    output wire [REG_ADDR_WIDTH-1:0]  m_reg_req_addr,
    output wire [3:0]                 m_reg_req_be,
    output wire [31:0]                m_reg_req_wdata,

    output wire                       holding,            // an access is held
    output wire                       stat_hold_expired   // pulse: a hold ended by HOLD_MAX, not by idle
);

localparam CNT_W = $clog2(HOLD_MAX + 1);
localparam [CNT_W-1:0] CNT_MAX = HOLD_MAX;

initial begin
    if (HOLD_MAX < 1 || HOLD_MAX > 65535) begin
        $error("Error: HOLD_MAX must be in 1..65535 (instance %m)");
        $finish;
    end
end

reg                       drain_reg, drain_next;          // from dev_reset until the queues are idle
reg                       held_reg, held_next;
reg                       write_reg, write_next;
reg  [REG_ADDR_WIDTH-1:0] addr_reg, addr_next;
reg  [3:0]                be_reg, be_next;
reg  [31:0]               wdata_reg, wdata_next;
reg  [CNT_W-1:0]          cnt_reg, cnt_next;
reg                       out_valid_reg, out_valid_next;
reg                       expired_reg, expired_next;

assign m_reg_req_valid = out_valid_reg;
assign m_reg_req_write = write_reg;
assign m_reg_req_addr = addr_reg;
assign m_reg_req_be = be_reg;
assign m_reg_req_wdata = wdata_reg;
assign holding = held_reg;
assign stat_hold_expired = expired_reg;

// an access waits while the device drains a reset, up to the bound
wire wait_idle = drain_reg && busy;

always @* begin
    drain_next = drain_reg;
    held_next = held_reg;
    write_next = write_reg;
    addr_next = addr_reg;
    be_next = be_reg;
    wdata_next = wdata_reg;
    cnt_next = cnt_reg;
    out_valid_next = 1'b0;
    expired_next = 1'b0;

    if (dev_reset) begin
        drain_next = 1'b1;
    end else if (!busy) begin
        drain_next = 1'b0;
    end

    if (s_reg_req_valid) begin
        // the bus carries one access at a time: a new one never arrives while one is held
        write_next = s_reg_req_write;
        addr_next = s_reg_req_addr;
        be_next = s_reg_req_be;
        wdata_next = s_reg_req_wdata;
        cnt_next = {CNT_W{1'b0}};
        if (wait_idle) begin
            held_next = 1'b1;
        end else begin
            out_valid_next = 1'b1;
        end
    end else if (held_reg) begin
        if (!wait_idle) begin
            held_next = 1'b0;
            out_valid_next = 1'b1;
        end else if (cnt_reg == CNT_MAX - 1'b1) begin
            held_next = 1'b0;
            out_valid_next = 1'b1;
            expired_next = 1'b1;
        end else begin
            cnt_next = cnt_reg + 1'b1;
        end
    end
end

always @(posedge clk) begin
    drain_reg <= drain_next;
    held_reg <= held_next;
    write_reg <= write_next;
    addr_reg <= addr_next;
    be_reg <= be_next;
    wdata_reg <= wdata_next;
    cnt_reg <= cnt_next;
    out_valid_reg <= out_valid_next;
    expired_reg <= expired_next;

    if (rst) begin
        drain_reg <= 1'b0;
        held_reg <= 1'b0;
        write_reg <= 1'b0;
        addr_reg <= {REG_ADDR_WIDTH{1'b0}};
        be_reg <= 4'd0;
        wdata_reg <= 32'd0;
        cnt_reg <= {CNT_W{1'b0}};
        out_valid_reg <= 1'b0;
        expired_reg <= 1'b0;
    end
end

endmodule

`resetall
