`resetall
`timescale 1ns / 1ps
`default_nettype none

/*
 * Legacy INTx (INTA) for the UltraScale+ PCIe hard block
 *
 * Follows intx_level onto cfg_interrupt_int[0] with the hard block's handshake (PG213, legacy
 * interrupt interface): a change of cfg_interrupt_int makes the hard block send Assert_INTA or
 * Deassert_INTA and pulse cfg_interrupt_sent; the level must be held until that pulse. While a
 * change is outstanding the requested level may toggle freely: when the pulse arrives the output
 * is compared with the level again, so the final level always wins (toggling back to the
 * current output while a change is outstanding costs no further message).
 *
 * intx_disable is the PCI Command register Interrupt Disable bit: when set the effective level is 0.
 * cfg_interrupt_pending[0] mirrors intx_level (registered) regardless of intx_disable: it feeds
 * the Status register's Interrupt Status bit, which the PCI spec defines as the function's
 * interrupt state independent of Interrupt Disable.
 *
 * stat_intx_assert / stat_intx_deassert pulse once per acknowledged Assert_INTA / Deassert_INTA.
 * If the hard block never answers, the output stays at the unacknowledged level.
 */
module pcie_intx
(
    input  wire        clk,
    input  wire        rst,

    /*
     * Interrupt level from the device logic
     */
    input  wire        intx_level,
    // PCI Command register Interrupt Disable
    input  wire        intx_disable,

    /*
     * Hard block legacy interrupt interface
     */
    output wire [3:0]  cfg_interrupt_int,
    output wire [3:0]  cfg_interrupt_pending,
    input  wire        cfg_interrupt_sent,

    /*
     * Statistics
     */
    output wire        stat_intx_assert,
    output wire        stat_intx_deassert
);

// handshake states
localparam [0:0]
    STATE_IDLE = 1'd0,
    STATE_WAIT_SENT = 1'd1;

reg [0:0] state_reg, state_next;

reg int_reg, int_next;
reg pending_reg, pending_next;
reg stat_assert_reg, stat_assert_next;
reg stat_deassert_reg, stat_deassert_next;

wire level_eff = intx_level && !intx_disable;

assign cfg_interrupt_int = {3'b000, int_reg};
assign cfg_interrupt_pending = {3'b000, pending_reg};
assign stat_intx_assert = stat_assert_reg;
assign stat_intx_deassert = stat_deassert_reg;

always @* begin
    state_next = state_reg;

    int_next = int_reg;
    pending_next = intx_level;
    stat_assert_next = 1'b0;
    stat_deassert_next = 1'b0;

    case (state_reg)
        STATE_IDLE: begin
            if (level_eff != int_reg) begin
                int_next = level_eff;
                state_next = STATE_WAIT_SENT;
            end
        end
        STATE_WAIT_SENT: begin
            // hold cfg_interrupt_int until the hard block has sent the message
            if (cfg_interrupt_sent) begin
                stat_assert_next = int_reg;
                stat_deassert_next = !int_reg;
                state_next = STATE_IDLE;
            end
        end
        default: begin
            state_next = STATE_IDLE;
        end
    endcase
end

always @(posedge clk) begin
    state_reg <= state_next;

    int_reg <= int_next;
    pending_reg <= pending_next;
    stat_assert_reg <= stat_assert_next;
    stat_deassert_reg <= stat_deassert_next;

    if (rst) begin
        state_reg <= STATE_IDLE;
        int_reg <= 1'b0;
        pending_reg <= 1'b0;
        stat_assert_reg <= 1'b0;
        stat_deassert_reg <= 1'b0;
    end
end

endmodule

`resetall
