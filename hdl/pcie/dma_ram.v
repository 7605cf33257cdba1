`resetall
`timescale 1ns / 1ps
`default_nettype none

/*
 * Simple dual-port RAM: the DMA engines' client memory.
 *
 * One write port with byte enables, one read port with a registered output (data one cycle after rd_en,
 * held while rd_en is low). Word addressed. Written so that FPGA tools infer block RAM with byte writes.
 *
 * Contents and rd_data are not reset (don't-care after reset). The initial block clears the array so that
 * simulation never reads X from a word nobody wrote; FPGA tools use it as the power-up contents.
 */
module dma_ram #
(
    // word width in bits (a multiple of 8)
    parameter DATA_WIDTH = 256,
    // word address width
    parameter ADDR_WIDTH = 9,
    // byte enables
    parameter BE_WIDTH = DATA_WIDTH/8
)
(
    input  wire                   clk,

    // write port
    input  wire                   wr_en,
    input  wire [ADDR_WIDTH-1:0]  wr_addr,
    input  wire [BE_WIDTH-1:0]    wr_be,
    input  wire [DATA_WIDTH-1:0]  wr_data,

    // read port: rd_data valid the cycle after rd_en
    input  wire                   rd_en,
    input  wire [ADDR_WIDTH-1:0]  rd_addr,
    output wire [DATA_WIDTH-1:0]  rd_data
);

initial begin
    if (BE_WIDTH*8 != DATA_WIDTH) begin
        $error("Error: DATA_WIDTH (%0d) must be a multiple of 8 with BE_WIDTH = DATA_WIDTH/8 (instance %m)",
            DATA_WIDTH);
        $finish;
    end
end

localparam DEPTH = 2**ADDR_WIDTH;

reg [DATA_WIDTH-1:0] mem[DEPTH-1:0];
reg [DATA_WIDTH-1:0] rd_data_reg;

assign rd_data = rd_data_reg;

integer i;

initial begin
    for (i = 0; i < DEPTH; i = i + 1) begin
        mem[i] = {DATA_WIDTH{1'b0}};
    end
    rd_data_reg = {DATA_WIDTH{1'b0}};
end

// one process per byte lane, each writing only on its enable: an event simulator (Icarus) then runs no lane loop
// on a cycle without a write (a loop over the lanes inside one clocked block ran on every cycle); yosys maps
// this form to the same memory as the loop, in the same time (a write-enable around the loop took twice as long)
genvar g;
generate
    for (g = 0; g < BE_WIDTH; g = g + 1) begin : lane
        always @(posedge clk) begin
            if (wr_en && wr_be[g]) begin
                mem[wr_addr][g*8 +: 8] <= wr_data[g*8 +: 8];
            end
        end
    end
endgenerate

always @(posedge clk) begin
    if (rd_en) begin
        rd_data_reg <= mem[rd_addr];
    end
end

endmodule

`resetall
