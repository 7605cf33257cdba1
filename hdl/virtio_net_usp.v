// SPDX-License-Identifier: MIT
/*
 * virtio-net PCI function for the Xilinx UltraScale+ PCIe hard block (PCIE4 user interface).
 *
 * The ports facing the hard block keep their Xilinx names, so this module drops into a Vivado design next
 * to the IP (configured for "dword" alignment, no straddle, client tags, MSI-X with an external table in
 * BAR1). It is the UltraScale+ wrapper of the virtio-net core (hdl/virtio/virtio_net_core.v, which sees no
 * Xilinx signal): the PCIe side is reduced to two narrow internal ports (hdl/README.md), a register bus
 * (completer: CQ -> registers -> CC) and a DMA port (requester: RQ/RC), plus the interrupt blocks.
 *
 *   BAR0  legacy virtio-pci registers (hdl/virtio/virtio_pci_regs.v, legacy layout): a 32-bit memory BAR, or with
 *         BAR0_IO = 1 an I/O BAR (the IP's Device/Port Type must then be Legacy PCI Express Endpoint;
 *         hdl/README.md says why memory is the default)
 *   BAR1  MSI-X table (0x000) and PBA (0x800)
 *   BAR2  bring-up / debug registers (hdl/debug/debug_regs.v, 0x000-0x1FF) and the device modes and
 *         virtio counters (hdl/virtio/virtio_dev_ctrl.v, 0x200-0x3FF)
 *   BAR4  modern virtio 1.x registers (hdl/virtio/virtio_pci_regs.v, modern layout: common config 0x000,
 *         ISR 0x100, device config 0x200, notify 0x300 + 4 * queue), a 32-bit memory BAR (non-prefetchable:
 *         the ISR is read-to-clear); the virtio_pci_cap structures that point there are in config space
 *         (hdl/README.md, "The modern interface's capabilities")
 *
 * The core and the debug BAR's DMA self-test share the DMA engines through hdl/dma/dma_mux.v; each has its
 * own RAM (the core's is split among its queues' blocks).
 *
 * FAULT_ENABLE = 0 (the default, what goes on a board) builds the TX queue without its test-only fault
 * knobs: BAR2 0x208 FAULT reads 0 and ignores writes. The simulation builds set 1.
 *
 * The debug BUILD register reports the build options in bits 31:24: bit 24 FAULT_ENABLE, bit 25 BAR0_IO; the
 * debug TX_PARAMS register the TX engine's descriptor window, batch and INDIRECT table limits (what the
 * testbench's checkers must know of the engine, read from the device rather than copied).
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module virtio_net_usp #
(
    // PCIe user interface (UltraScale+: 64, 128 or 256 bits, dword aligned)
    parameter AXIS_PCIE_DATA_WIDTH = 256,
    parameter AXIS_PCIE_KEEP_WIDTH = (AXIS_PCIE_DATA_WIDTH/32),
    parameter AXIS_PCIE_RQ_USER_WIDTH = 62,
    parameter AXIS_PCIE_RC_USER_WIDTH = 75,
    parameter AXIS_PCIE_CQ_USER_WIDTH = 88,
    parameter AXIS_PCIE_CC_USER_WIDTH = 33,
    // network side
    parameter AXIS_NET_DATA_WIDTH = 64,
    parameter AXIS_NET_KEEP_WIDTH = (AXIS_NET_DATA_WIDTH/8),
    // MSI-X vectors in the BAR1 table
    parameter MSIX_VECTORS = 8,
    // virtqueues
    parameter TX_QUEUE_SIZE = 256,
    parameter RX_QUEUE_SIZE = 256,
    parameter [47:0] MAC_ADDR = 48'h02_00_00_00_00_01,
    // longest frame the TX engine sends (without the virtio_net_hdr): 1514 + an 802.1Q tag
    parameter MAX_FRAME_LEN = 1518,
    // BAR0 (the legacy register block): 0 = 32-bit memory BAR, 1 = I/O BAR
    parameter BAR0_IO = 0,
    // test-only fault knobs of the TX engine (BAR2 0x208): 0 = built out, 1 = present (simulation)
    parameter FAULT_ENABLE = 0
)
(
    input  wire                               user_clk,
    input  wire                               user_reset,

    /*
     * Completer request (CQ) and completion (CC)
     */
    input  wire [AXIS_PCIE_DATA_WIDTH-1:0]    s_axis_cq_tdata,
    input  wire [AXIS_PCIE_KEEP_WIDTH-1:0]    s_axis_cq_tkeep,
    input  wire                               s_axis_cq_tvalid,
    output wire                               s_axis_cq_tready,
    input  wire                               s_axis_cq_tlast,
    input  wire [AXIS_PCIE_CQ_USER_WIDTH-1:0] s_axis_cq_tuser,

    output wire [AXIS_PCIE_DATA_WIDTH-1:0]    m_axis_cc_tdata,
    output wire [AXIS_PCIE_KEEP_WIDTH-1:0]    m_axis_cc_tkeep,
    output wire                               m_axis_cc_tvalid,
    input  wire                               m_axis_cc_tready,
    output wire                               m_axis_cc_tlast,
    output wire [AXIS_PCIE_CC_USER_WIDTH-1:0] m_axis_cc_tuser,

    /*
     * Requester request (RQ) and completion (RC)
     */
    output wire [AXIS_PCIE_DATA_WIDTH-1:0]    m_axis_rq_tdata,
    output wire [AXIS_PCIE_KEEP_WIDTH-1:0]    m_axis_rq_tkeep,
    output wire                               m_axis_rq_tvalid,
    input  wire                               m_axis_rq_tready,
    output wire                               m_axis_rq_tlast,
    output wire [AXIS_PCIE_RQ_USER_WIDTH-1:0] m_axis_rq_tuser,

    input  wire [AXIS_PCIE_DATA_WIDTH-1:0]    s_axis_rc_tdata,
    input  wire [AXIS_PCIE_KEEP_WIDTH-1:0]    s_axis_rc_tkeep,
    input  wire                               s_axis_rc_tvalid,
    output wire                               s_axis_rc_tready,
    input  wire                               s_axis_rc_tlast,
    input  wire [AXIS_PCIE_RC_USER_WIDTH-1:0] s_axis_rc_tuser,

    /*
     * Configuration status
     */
    input  wire [1:0]                         cfg_max_payload,
    input  wire [2:0]                         cfg_max_read_req,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [15:0]                        cfg_function_status,   // PF0's bus master / INTx disable only
    /* verilator lint_on UNUSEDSIGNAL */

    /*
     * Interrupts: MSI-X (external table) and INTx
     */
    input  wire [3:0]                         cfg_interrupt_msix_enable,
    input  wire [3:0]                         cfg_interrupt_msix_mask,
    output wire [63:0]                        cfg_interrupt_msix_address,
    output wire [31:0]                        cfg_interrupt_msix_data,
    output wire                               cfg_interrupt_msix_int,
    input  wire                               cfg_interrupt_msix_sent,
    input  wire                               cfg_interrupt_msix_fail,
    output wire [7:0]                         cfg_interrupt_msi_function_number,

    output wire [3:0]                         cfg_interrupt_int,
    output wire [3:0]                         cfg_interrupt_pending,
    input  wire                               cfg_interrupt_sent,

    /*
     * Network: frames out (TX) and in (RX), AXI-Stream
     */
    output wire [AXIS_NET_DATA_WIDTH-1:0]     m_axis_tx_tdata,
    output wire [AXIS_NET_KEEP_WIDTH-1:0]     m_axis_tx_tkeep,
    output wire                               m_axis_tx_tvalid,
    input  wire                               m_axis_tx_tready,
    output wire                               m_axis_tx_tlast,
    output wire                               m_axis_tx_tuser,

    // RX frames are accepted and dropped until the RX virtqueue lands
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [AXIS_NET_DATA_WIDTH-1:0]     s_axis_rx_tdata,
    input  wire [AXIS_NET_KEEP_WIDTH-1:0]     s_axis_rx_tkeep,
    input  wire                               s_axis_rx_tvalid,
    output wire                               s_axis_rx_tready,
    input  wire                               s_axis_rx_tlast,
    input  wire                               s_axis_rx_tuser
    /* verilator lint_on UNUSEDSIGNAL */
);

localparam REG_ADDR_WIDTH = 12;
localparam MSIX_VEC_WIDTH = MSIX_VECTORS > 1 ? $clog2(MSIX_VECTORS) : 1;
// a BAR0 access after a reset waits at most this many cycles for the queues to stop their DMA
localparam RESET_HOLD_MAX = 1536;

// DMA port: byte addresses into a client RAM (the engines see one more bit: the client), lengths, tags
localparam WORD_BYTES = AXIS_PCIE_DATA_WIDTH/8;
localparam SELFTEST_RAM_ADDR_WIDTH = 13;        // client 0: the debug BAR's 8 KiB self-test RAM
localparam SELFTEST_RAM_BYTES = 1 << SELFTEST_RAM_ADDR_WIDTH;
localparam SELFTEST_WORD_WIDTH = SELFTEST_RAM_ADDR_WIDTH - $clog2(WORD_BYTES);
localparam CORE_RAM_ADDR_WIDTH = 17;            // client 1: the virtio core (its two queues' block RAMs)
localparam RAM_ADDR_WIDTH = CORE_RAM_ADDR_WIDTH; // per client, the larger of the two
localparam RAM_WORD_WIDTH = RAM_ADDR_WIDTH - $clog2(WORD_BYTES);
localparam CORE_WORD_WIDTH = CORE_RAM_ADDR_WIDTH - $clog2(WORD_BYTES);
localparam LEN_WIDTH = 16;
localparam DMA_TAG_WIDTH = 8;                   // the client number in the MSB, the client's 7 bits below
localparam MIN_FRAME_LEN = 14;                  // an Ethernet header; the MAC pads short frames to the minimum
localparam USED_BATCH_MAX = 32;                 // the TX queue's largest used-ring batch
localparam TX_MAX_BATCH = 32;                   // avail.ring entries per ring read
localparam TX_DESC_WINDOW = 16;                 // descriptors per prefetch read
localparam TX_INDIRECT_MAX = 64;                // longest INDIRECT table
// debug TX_PARAMS: {INDIRECT_MAX[15:0], MAX_BATCH[7:0], DESC_WINDOW[7:0]}
localparam [31:0] TX_PARAMS = TX_INDIRECT_MAX*65536 + TX_MAX_BATCH*256 + TX_DESC_WINDOW;

initial begin
    if (AXIS_PCIE_DATA_WIDTH != 64 && AXIS_PCIE_DATA_WIDTH != 128 && AXIS_PCIE_DATA_WIDTH != 256) begin
        $error("Error: AXIS_PCIE_DATA_WIDTH must be 64, 128 or 256 (instance %m)");
        $finish;
    end
    if (AXIS_PCIE_KEEP_WIDTH * 32 != AXIS_PCIE_DATA_WIDTH) begin
        $error("Error: AXIS_PCIE_KEEP_WIDTH must be AXIS_PCIE_DATA_WIDTH/32 (instance %m)");
        $finish;
    end
    if (AXIS_NET_KEEP_WIDTH * 8 != AXIS_NET_DATA_WIDTH) begin
        $error("Error: AXIS_NET_KEEP_WIDTH must be AXIS_NET_DATA_WIDTH/8 (instance %m)");
        $finish;
    end
end

wire clk = user_clk;
wire rst = user_reset;

// function 0 status: [2] bus master enable, [3] interrupt disable (Command register)
wire cfg_bus_master_enable = cfg_function_status[2];
wire cfg_intx_disable = cfg_function_status[3];

/*
 * Completer: CQ -> register bus -> CC
 */
wire                       reg_req_valid;
wire                       reg_req_write;
wire [2:0]                 reg_req_bar;
wire [REG_ADDR_WIDTH-1:0]  reg_req_addr;
wire [3:0]                 reg_req_be;
wire [31:0]                reg_req_wdata;
wire                       reg_rsp_valid;
wire [31:0]                reg_rsp_rdata;

wire stat_cq_req, stat_cc_cpl, stat_cq_ur;

pcie_us_cq_cc_bridge #(
    .AXIS_PCIE_DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .AXIS_PCIE_KEEP_WIDTH(AXIS_PCIE_KEEP_WIDTH),
    .AXIS_PCIE_CQ_USER_WIDTH(AXIS_PCIE_CQ_USER_WIDTH),
    .AXIS_PCIE_CC_USER_WIDTH(AXIS_PCIE_CC_USER_WIDTH),
    .REG_ADDR_WIDTH(REG_ADDR_WIDTH),
    // a BAR0 access may wait up to RESET_HOLD_MAX cycles while a reset drains the queues (virtio_reset_hold)
    .REG_TIMEOUT(RESET_HOLD_MAX + 64),
    .BAR_MASK(6'b010111),
    .BAR_IO_MASK({5'b00000, BAR0_IO != 0})
)
cq_cc_bridge_inst (
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
    .stat_cq_req_tlp(stat_cq_req),
    .stat_cc_cpl_tlp(stat_cc_cpl),
    .stat_cq_ur(stat_cq_ur)
);

/* verilator lint_off UNUSEDSIGNAL */ // BAR3 and BAR5 are not implemented (the bridge answers them with UR)
wire [5:0]                 bar_req_valid;
/* verilator lint_on UNUSEDSIGNAL */
wire                       bar_req_write;
wire [REG_ADDR_WIDTH-1:0]  bar_req_addr;
wire [3:0]                 bar_req_be;
wire [31:0]                bar_req_wdata;
wire [5:0]                 bar_rsp_valid;
wire [6*32-1:0]            bar_rsp_rdata;

assign bar_rsp_valid[3] = 1'b0;
assign bar_rsp_rdata[3*32 +: 32] = 32'd0;
assign bar_rsp_valid[5] = 1'b0;
assign bar_rsp_rdata[5*32 +: 32] = 32'd0;

reg_bar_mux #(
    .REG_ADDR_WIDTH(REG_ADDR_WIDTH)
)
reg_bar_mux_inst (
    .s_reg_req_valid(reg_req_valid),
    .s_reg_req_write(reg_req_write),
    .s_reg_req_bar(reg_req_bar),
    .s_reg_req_addr(reg_req_addr),
    .s_reg_req_be(reg_req_be),
    .s_reg_req_wdata(reg_req_wdata),
    .s_reg_rsp_valid(reg_rsp_valid),
    .s_reg_rsp_rdata(reg_rsp_rdata),
    .m_reg_req_valid(bar_req_valid),
    .m_reg_req_write(bar_req_write),
    .m_reg_req_addr(bar_req_addr),
    .m_reg_req_be(bar_req_be),
    .m_reg_req_wdata(bar_req_wdata),
    .m_reg_rsp_valid(bar_rsp_valid),
    .m_reg_rsp_rdata(bar_rsp_rdata)
);

// BAR2: bring-up / debug registers at 0x000-0x1FF, the core's device modes and counters at 0x200-0x3FF;
// the rest of the BAR reads 0
wire [1:0] bar2_window = bar_req_addr[10:9];
wire dbg_req_valid = bar_req_valid[2] && bar2_window == 2'd0;
wire ctrl_req_valid = bar_req_valid[2] && bar2_window == 2'd1;
wire dbg_rsp_valid, ctrl_rsp_valid;
wire [31:0] dbg_rsp_rdata, ctrl_rsp_rdata;
reg  bar2_null_rsp_reg;

always @(posedge clk) begin
    bar2_null_rsp_reg <= bar_req_valid[2] && bar2_window[1];
    if (rst) begin
        bar2_null_rsp_reg <= 1'b0;
    end
end

assign bar_rsp_valid[2] = dbg_rsp_valid || ctrl_rsp_valid || bar2_null_rsp_reg;
assign bar_rsp_rdata[2*32 +: 32] = dbg_rsp_valid ? dbg_rsp_rdata : ctrl_rsp_valid ? ctrl_rsp_rdata : 32'd0;

/*
 * Interrupts: MSI-X table (BAR1) and INTx
 */
wire                       irq_valid;
wire                       irq_ready;
wire [MSIX_VEC_WIDTH-1:0]  irq_vector;
wire                       intx_level;
wire stat_msix, stat_intx_assert, stat_intx_deassert;

pcie_msix #(
    .VEC_COUNT(MSIX_VECTORS),
    .REG_ADDR_WIDTH(REG_ADDR_WIDTH)
)
msix_inst (
    .clk(clk),
    .rst(rst),
    .reg_req_valid(bar_req_valid[1]),
    .reg_req_write(bar_req_write),
    .reg_req_addr(bar_req_addr),
    .reg_req_be(bar_req_be),
    .reg_req_wdata(bar_req_wdata),
    .reg_rsp_valid(bar_rsp_valid[1]),
    .reg_rsp_rdata(bar_rsp_rdata[1*32 +: 32]),
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
    .stat_msix_sent(stat_msix)
);

pcie_intx intx_inst (
    .clk(clk),
    .rst(rst),
    .intx_level(intx_level),
    .intx_disable(cfg_intx_disable),
    .cfg_interrupt_int(cfg_interrupt_int),
    .cfg_interrupt_pending(cfg_interrupt_pending),
    .cfg_interrupt_sent(cfg_interrupt_sent),
    .stat_intx_assert(stat_intx_assert),
    .stat_intx_deassert(stat_intx_deassert)
);

/*
 * DMA: two clients (0 the debug BAR's self-test, 1 the virtio core) on the read and write engines, both
 * onto RQ through the RQ mux; the dma_mux routes descriptors, statuses and RAM ports by client
 */
// client side, [1] = the core
wire [2*64-1:0]               cl_rd_desc_pcie_addr, cl_wr_desc_pcie_addr, cl_wr_desc_imm;
wire [2*RAM_ADDR_WIDTH-1:0]   cl_rd_desc_ram_addr, cl_wr_desc_ram_addr;
wire [2*LEN_WIDTH-1:0]        cl_rd_desc_len, cl_wr_desc_len;
wire [2*DMA_TAG_WIDTH-1:0]    cl_rd_desc_tag, cl_wr_desc_tag;
wire [1:0]                    cl_rd_desc_valid, cl_rd_desc_ready, cl_wr_desc_valid, cl_wr_desc_ready;
wire [1:0]                    cl_wr_desc_imm_en;
wire [DMA_TAG_WIDTH-1:0]      cl_rd_status_tag, cl_wr_status_tag;
wire [3:0]                    cl_rd_status_error, cl_wr_status_error;
wire [1:0]                    cl_rd_status_valid, cl_wr_status_valid;
wire [1:0]                    cl_ram_wr_en, cl_ram_rd_en;
wire [RAM_WORD_WIDTH-1:0]     cl_ram_wr_addr, cl_ram_rd_addr;
wire [WORD_BYTES-1:0]         cl_ram_wr_be;
wire [AXIS_PCIE_DATA_WIDTH-1:0] cl_ram_wr_data;
wire [2*AXIS_PCIE_DATA_WIDTH-1:0] cl_ram_rd_data;

// engine side: one more RAM address bit, the client
wire [63:0]                   eng_rd_desc_pcie_addr, eng_wr_desc_pcie_addr, eng_wr_desc_imm;
wire [RAM_ADDR_WIDTH:0]       eng_rd_desc_ram_addr, eng_wr_desc_ram_addr;
wire [LEN_WIDTH-1:0]          eng_rd_desc_len, eng_wr_desc_len;
wire [DMA_TAG_WIDTH-1:0]      eng_rd_desc_tag, eng_wr_desc_tag;
wire                          eng_rd_desc_valid, eng_rd_desc_ready, eng_wr_desc_valid, eng_wr_desc_ready;
wire                          eng_wr_desc_imm_en;
wire [DMA_TAG_WIDTH-1:0]      eng_rd_status_tag, eng_wr_status_tag;
wire [3:0]                    eng_rd_status_error, eng_wr_status_error;
wire                          eng_rd_status_valid, eng_wr_status_valid;
wire                          eng_ram_wr_en, eng_ram_rd_en;
wire [RAM_WORD_WIDTH:0]       eng_ram_wr_addr, eng_ram_rd_addr;
wire [WORD_BYTES-1:0]         eng_ram_wr_be;
wire [AXIS_PCIE_DATA_WIDTH-1:0] eng_ram_wr_data, eng_ram_rd_data;

wire stat_rq_rd, stat_rq_wr, stat_rc_cpl, stat_rc_err;

dma_mux #(
    .PORTS(2),
    .RAM_ADDR_WIDTH(RAM_ADDR_WIDTH),
    .RAM_DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .TAG_WIDTH(DMA_TAG_WIDTH)
)
dma_mux_inst (
    .clk(clk),
    .rst(rst),
    .s_rd_desc_pcie_addr(cl_rd_desc_pcie_addr),
    .s_rd_desc_ram_addr(cl_rd_desc_ram_addr),
    .s_rd_desc_len(cl_rd_desc_len),
    .s_rd_desc_tag(cl_rd_desc_tag),
    .s_rd_desc_valid(cl_rd_desc_valid),
    .s_rd_desc_ready(cl_rd_desc_ready),
    .m_rd_status_tag(cl_rd_status_tag),
    .m_rd_status_error(cl_rd_status_error),
    .m_rd_status_valid(cl_rd_status_valid),
    .s_wr_desc_pcie_addr(cl_wr_desc_pcie_addr),
    .s_wr_desc_ram_addr(cl_wr_desc_ram_addr),
    .s_wr_desc_imm(cl_wr_desc_imm),
    .s_wr_desc_imm_en(cl_wr_desc_imm_en),
    .s_wr_desc_len(cl_wr_desc_len),
    .s_wr_desc_tag(cl_wr_desc_tag),
    .s_wr_desc_valid(cl_wr_desc_valid),
    .s_wr_desc_ready(cl_wr_desc_ready),
    .m_wr_status_tag(cl_wr_status_tag),
    .m_wr_status_error(cl_wr_status_error),
    .m_wr_status_valid(cl_wr_status_valid),
    .m_ram_wr_en(cl_ram_wr_en),
    .m_ram_wr_addr(cl_ram_wr_addr),
    .m_ram_wr_be(cl_ram_wr_be),
    .m_ram_wr_data(cl_ram_wr_data),
    .m_ram_rd_en(cl_ram_rd_en),
    .m_ram_rd_addr(cl_ram_rd_addr),
    .m_ram_rd_data(cl_ram_rd_data),
    .m_rd_desc_pcie_addr(eng_rd_desc_pcie_addr),
    .m_rd_desc_ram_addr(eng_rd_desc_ram_addr),
    .m_rd_desc_len(eng_rd_desc_len),
    .m_rd_desc_tag(eng_rd_desc_tag),
    .m_rd_desc_valid(eng_rd_desc_valid),
    .m_rd_desc_ready(eng_rd_desc_ready),
    .s_rd_status_tag(eng_rd_status_tag),
    .s_rd_status_error(eng_rd_status_error),
    .s_rd_status_valid(eng_rd_status_valid),
    .m_wr_desc_pcie_addr(eng_wr_desc_pcie_addr),
    .m_wr_desc_ram_addr(eng_wr_desc_ram_addr),
    .m_wr_desc_imm(eng_wr_desc_imm),
    .m_wr_desc_imm_en(eng_wr_desc_imm_en),
    .m_wr_desc_len(eng_wr_desc_len),
    .m_wr_desc_tag(eng_wr_desc_tag),
    .m_wr_desc_valid(eng_wr_desc_valid),
    .m_wr_desc_ready(eng_wr_desc_ready),
    .s_wr_status_tag(eng_wr_status_tag),
    .s_wr_status_error(eng_wr_status_error),
    .s_wr_status_valid(eng_wr_status_valid),
    .s_ram_wr_en(eng_ram_wr_en),
    .s_ram_wr_addr(eng_ram_wr_addr),
    .s_ram_wr_be(eng_ram_wr_be),
    .s_ram_wr_data(eng_ram_wr_data),
    .s_ram_rd_en(eng_ram_rd_en),
    .s_ram_rd_addr(eng_ram_rd_addr),
    .s_ram_rd_data(eng_ram_rd_data)
);

wire [AXIS_PCIE_DATA_WIDTH-1:0]    rd_rq_tdata, wr_rq_tdata;
wire [AXIS_PCIE_KEEP_WIDTH-1:0]    rd_rq_tkeep, wr_rq_tkeep;
wire                               rd_rq_tlast, wr_rq_tlast;
wire [AXIS_PCIE_RQ_USER_WIDTH-1:0] rd_rq_tuser, wr_rq_tuser;
wire                               rd_rq_tvalid, wr_rq_tvalid;
wire                               rd_rq_tready, wr_rq_tready;

pcie_us_dma_rd #(
    .AXIS_PCIE_DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .AXIS_PCIE_KEEP_WIDTH(AXIS_PCIE_KEEP_WIDTH),
    .AXIS_PCIE_RQ_USER_WIDTH(AXIS_PCIE_RQ_USER_WIDTH),
    .AXIS_PCIE_RC_USER_WIDTH(AXIS_PCIE_RC_USER_WIDTH),
    .RAM_ADDR_WIDTH(RAM_ADDR_WIDTH+1),
    .LEN_WIDTH(LEN_WIDTH),
    .TAG_WIDTH(DMA_TAG_WIDTH)
)
dma_rd_inst (
    .clk(clk),
    .rst(rst),
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
    .s_axis_rc_tvalid(s_axis_rc_tvalid),
    .s_axis_rc_tready(s_axis_rc_tready),
    .s_axis_read_desc_pcie_addr(eng_rd_desc_pcie_addr),
    .s_axis_read_desc_ram_addr(eng_rd_desc_ram_addr),
    .s_axis_read_desc_len(eng_rd_desc_len),
    .s_axis_read_desc_tag(eng_rd_desc_tag),
    .s_axis_read_desc_valid(eng_rd_desc_valid),
    .s_axis_read_desc_ready(eng_rd_desc_ready),
    .m_axis_read_desc_status_tag(eng_rd_status_tag),
    .m_axis_read_desc_status_error(eng_rd_status_error),
    .m_axis_read_desc_status_valid(eng_rd_status_valid),
    .ram_wr_en(eng_ram_wr_en),
    .ram_wr_addr(eng_ram_wr_addr),
    .ram_wr_be(eng_ram_wr_be),
    .ram_wr_data(eng_ram_wr_data),
    .cfg_max_read_req(cfg_max_read_req),
    .stat_rd_req_tlp(stat_rq_rd),
    .stat_rd_cpl_tlp(stat_rc_cpl),
    .stat_rd_cpl_err(stat_rc_err)
);

pcie_us_dma_wr #(
    .AXIS_PCIE_DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .AXIS_PCIE_KEEP_WIDTH(AXIS_PCIE_KEEP_WIDTH),
    .AXIS_PCIE_RQ_USER_WIDTH(AXIS_PCIE_RQ_USER_WIDTH),
    .RAM_ADDR_WIDTH(RAM_ADDR_WIDTH+1),
    .LEN_WIDTH(LEN_WIDTH),
    .TAG_WIDTH(DMA_TAG_WIDTH)
)
dma_wr_inst (
    .clk(clk),
    .rst(rst),
    .m_axis_rq_tdata(wr_rq_tdata),
    .m_axis_rq_tkeep(wr_rq_tkeep),
    .m_axis_rq_tlast(wr_rq_tlast),
    .m_axis_rq_tuser(wr_rq_tuser),
    .m_axis_rq_tvalid(wr_rq_tvalid),
    .m_axis_rq_tready(wr_rq_tready),
    .s_axis_write_desc_pcie_addr(eng_wr_desc_pcie_addr),
    .s_axis_write_desc_ram_addr(eng_wr_desc_ram_addr),
    .s_axis_write_desc_imm(eng_wr_desc_imm),
    .s_axis_write_desc_imm_en(eng_wr_desc_imm_en),
    .s_axis_write_desc_len(eng_wr_desc_len),
    .s_axis_write_desc_tag(eng_wr_desc_tag),
    .s_axis_write_desc_valid(eng_wr_desc_valid),
    .s_axis_write_desc_ready(eng_wr_desc_ready),
    .m_axis_write_desc_status_tag(eng_wr_status_tag),
    .m_axis_write_desc_status_error(eng_wr_status_error),
    .m_axis_write_desc_status_valid(eng_wr_status_valid),
    .ram_rd_en(eng_ram_rd_en),
    .ram_rd_addr(eng_ram_rd_addr),
    .ram_rd_data(eng_ram_rd_data),
    .cfg_max_payload(cfg_max_payload),
    .stat_wr_req_tlp(stat_rq_wr)
);

pcie_us_rq_mux #(
    .AXIS_PCIE_DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .AXIS_PCIE_KEEP_WIDTH(AXIS_PCIE_KEEP_WIDTH),
    .AXIS_PCIE_RQ_USER_WIDTH(AXIS_PCIE_RQ_USER_WIDTH)
)
rq_mux_inst (
    .clk(clk),
    .rst(rst),
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

// self-test RAM (client 0): written by the read engine, read by the write engine
/* verilator lint_off UNUSEDSIGNAL */ // the self-test RAM takes the low address bits of the client's port
wire [RAM_WORD_WIDTH-1:0] selftest_ram_wr_addr = cl_ram_wr_addr;
wire [RAM_WORD_WIDTH-1:0] selftest_ram_rd_addr = cl_ram_rd_addr;
/* verilator lint_on UNUSEDSIGNAL */

dma_ram #(
    .DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .ADDR_WIDTH(SELFTEST_WORD_WIDTH)
)
selftest_ram_inst (
    .clk(clk),
    .wr_en(cl_ram_wr_en[0]),
    .wr_addr(selftest_ram_wr_addr[SELFTEST_WORD_WIDTH-1:0]),
    .wr_be(cl_ram_wr_be),
    .wr_data(cl_ram_wr_data),
    .rd_en(cl_ram_rd_en[0]),
    .rd_addr(selftest_ram_rd_addr[SELFTEST_WORD_WIDTH-1:0]),
    .rd_data(cl_ram_rd_data[0 +: AXIS_PCIE_DATA_WIDTH])
);

/*
 * The virtio-net core (client 1 of the DMA port; BAR0 and the device-control window of BAR2)
 */
wire [7:0]  virtio_status;
wire        tx_idle;
wire        rx_idle;
wire        virtio_irq_valid;
wire [MSIX_VEC_WIDTH-1:0] virtio_irq_vector;
wire        virtio_irq_ready;
wire        virtio_intx_level;

assign cl_rd_desc_tag[1*DMA_TAG_WIDTH + DMA_TAG_WIDTH-1] = 1'b0;
assign cl_wr_desc_tag[1*DMA_TAG_WIDTH + DMA_TAG_WIDTH-1] = 1'b0;

virtio_net_core #(
    .REG_ADDR_WIDTH(REG_ADDR_WIDTH),
    .RAM_DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .DMA_TAG_WIDTH(DMA_TAG_WIDTH-1),
    .AXIS_NET_DATA_WIDTH(AXIS_NET_DATA_WIDTH),
    .AXIS_NET_KEEP_WIDTH(AXIS_NET_KEEP_WIDTH),
    .MSIX_VECTORS(MSIX_VECTORS),
    .MSIX_VEC_WIDTH(MSIX_VEC_WIDTH),
    .TX_QUEUE_SIZE(TX_QUEUE_SIZE),
    .RX_QUEUE_SIZE(RX_QUEUE_SIZE),
    .MAC_ADDR(MAC_ADDR),
    .MAX_FRAME_LEN(MAX_FRAME_LEN),
    .MIN_FRAME_LEN(MIN_FRAME_LEN),
    .USED_BATCH_MAX(USED_BATCH_MAX),
    .MAX_BATCH(TX_MAX_BATCH),
    .DESC_WINDOW(TX_DESC_WINDOW),
    .INDIRECT_MAX(TX_INDIRECT_MAX),
    .FAULT_ENABLE(FAULT_ENABLE),
    .RESET_HOLD_MAX(RESET_HOLD_MAX),
    .RAM_ADDR_WIDTH(CORE_RAM_ADDR_WIDTH)
)
core_inst (
    .clk(clk),
    .rst(rst),
    .bar0_req_valid(bar_req_valid[0]),
    .bar4_req_valid(bar_req_valid[4]),
    .ctrl_req_valid(ctrl_req_valid),
    .reg_req_write(bar_req_write),
    .reg_req_addr(bar_req_addr),
    .reg_req_be(bar_req_be),
    .reg_req_wdata(bar_req_wdata),
    .bar0_rsp_valid(bar_rsp_valid[0]),
    .bar0_rsp_rdata(bar_rsp_rdata[0*32 +: 32]),
    .bar4_rsp_valid(bar_rsp_valid[4]),
    .bar4_rsp_rdata(bar_rsp_rdata[4*32 +: 32]),
    .ctrl_rsp_valid(ctrl_rsp_valid),
    .ctrl_rsp_rdata(ctrl_rsp_rdata),
    .m_axis_read_desc_pcie_addr(cl_rd_desc_pcie_addr[1*64 +: 64]),
    .m_axis_read_desc_ram_addr(cl_rd_desc_ram_addr[1*RAM_ADDR_WIDTH +: CORE_RAM_ADDR_WIDTH]),
    .m_axis_read_desc_len(cl_rd_desc_len[1*LEN_WIDTH +: LEN_WIDTH]),
    .m_axis_read_desc_tag(cl_rd_desc_tag[1*DMA_TAG_WIDTH +: DMA_TAG_WIDTH-1]),
    .m_axis_read_desc_valid(cl_rd_desc_valid[1]),
    .m_axis_read_desc_ready(cl_rd_desc_ready[1]),
    .s_axis_read_desc_status_tag(cl_rd_status_tag[DMA_TAG_WIDTH-2:0]),
    .s_axis_read_desc_status_error(cl_rd_status_error),
    .s_axis_read_desc_status_valid(cl_rd_status_valid[1]),
    .m_axis_write_desc_pcie_addr(cl_wr_desc_pcie_addr[1*64 +: 64]),
    .m_axis_write_desc_ram_addr(cl_wr_desc_ram_addr[1*RAM_ADDR_WIDTH +: CORE_RAM_ADDR_WIDTH]),
    .m_axis_write_desc_imm(cl_wr_desc_imm[1*64 +: 64]),
    .m_axis_write_desc_imm_en(cl_wr_desc_imm_en[1]),
    .m_axis_write_desc_len(cl_wr_desc_len[1*LEN_WIDTH +: LEN_WIDTH]),
    .m_axis_write_desc_tag(cl_wr_desc_tag[1*DMA_TAG_WIDTH +: DMA_TAG_WIDTH-1]),
    .m_axis_write_desc_valid(cl_wr_desc_valid[1]),
    .m_axis_write_desc_ready(cl_wr_desc_ready[1]),
    .s_axis_write_desc_status_tag(cl_wr_status_tag[DMA_TAG_WIDTH-2:0]),
    .s_axis_write_desc_status_error(cl_wr_status_error),
    .s_axis_write_desc_status_valid(cl_wr_status_valid[1]),
    .ram_wr_en(cl_ram_wr_en[1]),
    .ram_wr_addr(cl_ram_wr_addr[CORE_WORD_WIDTH-1:0]),
    .ram_wr_be(cl_ram_wr_be),
    .ram_wr_data(cl_ram_wr_data),
    .ram_rd_en(cl_ram_rd_en[1]),
    .ram_rd_addr(cl_ram_rd_addr[CORE_WORD_WIDTH-1:0]),
    .ram_rd_data(cl_ram_rd_data[1*AXIS_PCIE_DATA_WIDTH +: AXIS_PCIE_DATA_WIDTH]),
    .msix_enabled(cfg_interrupt_msix_enable[0]),
    .irq_valid(virtio_irq_valid),
    .irq_vector(virtio_irq_vector),
    .irq_ready(virtio_irq_ready),
    .intx_level(virtio_intx_level),
    .m_axis_tx_tdata(m_axis_tx_tdata),
    .m_axis_tx_tkeep(m_axis_tx_tkeep),
    .m_axis_tx_tvalid(m_axis_tx_tvalid),
    .m_axis_tx_tready(m_axis_tx_tready),
    .m_axis_tx_tlast(m_axis_tx_tlast),
    .m_axis_tx_tuser(m_axis_tx_tuser),
    .s_axis_rx_tdata(s_axis_rx_tdata),
    .s_axis_rx_tkeep(s_axis_rx_tkeep),
    .s_axis_rx_tvalid(s_axis_rx_tvalid),
    .s_axis_rx_tready(s_axis_rx_tready),
    .s_axis_rx_tlast(s_axis_rx_tlast),
    .s_axis_rx_tuser(s_axis_rx_tuser),
    .virtio_status(virtio_status),
    .tx_idle(tx_idle),
    .rx_idle(rx_idle)
);

/*
 * BAR2 0x000-0x1FF: bring-up / debug registers (client 0 of the DMA port: the self-test)
 */
wire intx_test_level;
wire dbg_irq_valid;
wire [MSIX_VEC_WIDTH-1:0] dbg_irq_vector;
wire dbg_irq_ready;

// MSI-X requests: the virtio core first, then the debug BAR's test requests
assign irq_valid = virtio_irq_valid || dbg_irq_valid;
assign irq_vector = virtio_irq_valid ? virtio_irq_vector : dbg_irq_vector;
assign virtio_irq_ready = irq_ready;
assign dbg_irq_ready = irq_ready && !virtio_irq_valid;

assign cl_rd_desc_ram_addr[0*RAM_ADDR_WIDTH + SELFTEST_RAM_ADDR_WIDTH +: RAM_ADDR_WIDTH-SELFTEST_RAM_ADDR_WIDTH] =
    {RAM_ADDR_WIDTH-SELFTEST_RAM_ADDR_WIDTH{1'b0}};
assign cl_wr_desc_ram_addr[0*RAM_ADDR_WIDTH + SELFTEST_RAM_ADDR_WIDTH +: RAM_ADDR_WIDTH-SELFTEST_RAM_ADDR_WIDTH] =
    {RAM_ADDR_WIDTH-SELFTEST_RAM_ADDR_WIDTH{1'b0}};

debug_regs #(
    .REG_ADDR_WIDTH(REG_ADDR_WIDTH),
    .PCIE_DATA_WIDTH(AXIS_PCIE_DATA_WIDTH),
    .NET_DATA_WIDTH(AXIS_NET_DATA_WIDTH),
    .MSIX_VECTORS(MSIX_VECTORS),
    .MSIX_VEC_WIDTH(MSIX_VEC_WIDTH),
    .RAM_ADDR_WIDTH(SELFTEST_RAM_ADDR_WIDTH),
    .LEN_WIDTH(LEN_WIDTH),
    .DMA_TAG_WIDTH(DMA_TAG_WIDTH),
    .SELFTEST_RAM_BYTES(SELFTEST_RAM_BYTES),
    .BUILD_FLAGS({6'd0, BAR0_IO != 0, FAULT_ENABLE != 0}),
    .TX_PARAMS(TX_PARAMS)
)
debug_regs_inst (
    .clk(clk),
    .rst(rst),
    .reg_req_valid(dbg_req_valid),
    .reg_req_write(bar_req_write),
    .reg_req_addr(bar_req_addr),
    .reg_req_be(bar_req_be),
    .reg_req_wdata(bar_req_wdata),
    .reg_rsp_valid(dbg_rsp_valid),
    .reg_rsp_rdata(dbg_rsp_rdata),
    .m_axis_read_desc_pcie_addr(cl_rd_desc_pcie_addr[0*64 +: 64]),
    .m_axis_read_desc_ram_addr(cl_rd_desc_ram_addr[0*RAM_ADDR_WIDTH +: SELFTEST_RAM_ADDR_WIDTH]),
    .m_axis_read_desc_len(cl_rd_desc_len[0*LEN_WIDTH +: LEN_WIDTH]),
    .m_axis_read_desc_tag(cl_rd_desc_tag[0*DMA_TAG_WIDTH +: DMA_TAG_WIDTH]),
    .m_axis_read_desc_valid(cl_rd_desc_valid[0]),
    .m_axis_read_desc_ready(cl_rd_desc_ready[0]),
    .s_axis_read_desc_status_tag(cl_rd_status_tag),
    .s_axis_read_desc_status_error(cl_rd_status_error),
    .s_axis_read_desc_status_valid(cl_rd_status_valid[0]),
    .m_axis_write_desc_pcie_addr(cl_wr_desc_pcie_addr[0*64 +: 64]),
    .m_axis_write_desc_ram_addr(cl_wr_desc_ram_addr[0*RAM_ADDR_WIDTH +: SELFTEST_RAM_ADDR_WIDTH]),
    .m_axis_write_desc_imm(cl_wr_desc_imm[0*64 +: 64]),
    .m_axis_write_desc_imm_en(cl_wr_desc_imm_en[0]),
    .m_axis_write_desc_len(cl_wr_desc_len[0*LEN_WIDTH +: LEN_WIDTH]),
    .m_axis_write_desc_tag(cl_wr_desc_tag[0*DMA_TAG_WIDTH +: DMA_TAG_WIDTH]),
    .m_axis_write_desc_valid(cl_wr_desc_valid[0]),
    .m_axis_write_desc_ready(cl_wr_desc_ready[0]),
    .s_axis_write_desc_status_tag(cl_wr_status_tag),
    .s_axis_write_desc_status_error(cl_wr_status_error),
    .s_axis_write_desc_status_valid(cl_wr_status_valid[0]),
    .intx_test_level(intx_test_level),
    .irq_valid(dbg_irq_valid),
    .irq_vector(dbg_irq_vector),
    .irq_ready(dbg_irq_ready),
    .cfg_max_payload(cfg_max_payload),
    .cfg_max_read_req(cfg_max_read_req),
    .cfg_msix_enable(cfg_interrupt_msix_enable[0]),
    .cfg_msix_mask(cfg_interrupt_msix_mask[0]),
    .cfg_bus_master_enable(cfg_bus_master_enable),
    .cfg_intx_disable(cfg_intx_disable),
    .dev_status({6'd0, rx_idle, tx_idle, virtio_status}),
    .stat_rq_rd(stat_rq_rd),
    .stat_rq_wr(stat_rq_wr),
    .stat_rc_cpl(stat_rc_cpl),
    .stat_rc_err(stat_rc_err),
    .stat_cq_req(stat_cq_req),
    .stat_cc_cpl(stat_cc_cpl),
    .stat_cq_ur(stat_cq_ur),
    .stat_msix(stat_msix),
    .stat_intx_assert(stat_intx_assert),
    .stat_intx_deassert(stat_intx_deassert),
    .stat_rd_status_valid(eng_rd_status_valid),
    .stat_rd_status_error(eng_rd_status_error)
);

// the INTx line: the virtio ISR, or the debug BAR's test level
assign intx_level = virtio_intx_level || intx_test_level;

endmodule

`resetall
