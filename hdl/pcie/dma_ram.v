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

always @(posedge clk) begin
    // the lane loop only on a write: an event simulator (Icarus) runs it every cycle otherwise
    if (wr_en) begin
        for (i = 0; i < BE_WIDTH; i = i + 1) begin
            if (wr_be[i]) begin
                mem[wr_addr][i*8 +: 8] <= wr_data[i*8 +: 8];
            end
        end
    end

    if (rd_en) begin
        rd_data_reg <= mem[rd_addr];
    end
end

endmodule

`resetall
