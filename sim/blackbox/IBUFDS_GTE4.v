// SPDX-License-Identifier: MIT
/*
 * Port declaration of the UltraScale+ GT reference-clock input buffer (Xilinx UNISIM primitive, UG974),
 * so that Verilator can lint the board tops (make lint). It has no logic: Vivado uses the real primitive,
 * and yosys (make synth) its own cell library (cells_xtra.v), so synthesis never reads this file.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

/* verilator lint_off UNUSEDSIGNAL */
/* verilator lint_off UNUSEDPARAM */
/* verilator lint_off UNDRIVEN */
(* blackbox *)
module IBUFDS_GTE4 #
(
    parameter [0:0] REFCLK_EN_TX_PATH = 1'b0,
    parameter [1:0] REFCLK_HROW_CK_SEL = 2'b00,
    parameter [1:0] REFCLK_ICNTL_RX = 2'b00
)
(
    input  wire I,
    input  wire IB,
    input  wire CEB,
    output wire O,
    output wire ODIV2
);
endmodule
/* verilator lint_on UNDRIVEN */
/* verilator lint_on UNUSEDPARAM */
/* verilator lint_on UNUSEDSIGNAL */

`resetall
