// SPDX-License-Identifier: MIT
/*
 * Bring-up / debug register block (BAR2): what an engineer reads first on a new board.
 *
 *   0x000 ID            RO  0x564E4554 ("VNET")
 *   0x004 VERSION       RO  {major[15:0], minor[15:0]}
 *   0x008 SCRATCH       RW
 *   0x00C BUILD         RO  {BUILD_FLAGS, NET_DATA_WIDTH/8, MSIX_VECTORS, PCIE_DATA_WIDTH/32}; BUILD_FLAGS are
 *                           the top's build options (hdl/virtio_net_usp.v)
 *   0x010 CYCLE_LO      RO  free-running user_clk counter; reading it latches CYCLE_HI
 *   0x014 CYCLE_HI      RO  upper half latched by the last CYCLE_LO read
 *   0x018 CFG_STATUS    RO  [1:0] cfg_max_payload, [6:4] cfg_max_read_req, [8] MSI-X enable,
 *                           [9] MSI-X function mask, [10] bus master enable, [11] interrupt disable
 *   0x01C DEV_STATUS    RO  [7:0] virtio device status, [8] TX engine idle, [9] RX engine idle
 *   0x020 ST_SRC_LO     RW  DMA self-test: host source address
 *   0x024 ST_SRC_HI     RW
 *   0x028 ST_DST_LO     RW  DMA self-test: host destination address
 *   0x02C ST_DST_HI     RW
 *   0x030 ST_LEN        RW  bytes, 1 .. SELFTEST_RAM_BYTES
 *   0x034 ST_CTRL       WO  bit 0: start (ignored while busy)
 *   0x038 ST_STATUS     RO  [0] busy, [1] done, [2] error, [7:4] read error code, [11:8] write error code,
 *                           [15:12] setup error (1 = bad length, 2 = bus mastering disabled)
 *   0x03C ST_CYCLES     RO  user_clk cycles from start to done of the last run
 *   0x040 INTX_TEST     RW  bit 0: drive the INTx level (ORed with the device's own)
 *   0x044 MSIX_TEST     WO  write a vector number: request one MSI-X message on it
 *   0x048 TX_PARAMS     RO  the TX engine's build parameters the checkers need: [7:0] descriptor window
 *                           (descriptors per prefetch read), [15:8] avail.ring entries per read (batch),
 *                           [31:16] longest INDIRECT table (entries); TX_PARAMS from the top
 *   0x07C CNT_CLEAR     WO  any write clears every counter below
 *   0x080 CNT_RQ_RD     RO  memory read TLPs issued on RQ
 *   0x084 CNT_RQ_WR     RO  memory write TLPs issued on RQ
 *   0x088 CNT_RC_CPL    RO  completion TLPs received on RC
 *   0x08C CNT_RC_ERR    RO  completions received with an error status
 *   0x090 CNT_CQ_REQ    RO  requests received on CQ
 *   0x094 CNT_CC_CPL    RO  completions sent on CC
 *   0x098 CNT_CQ_UR     RO  CQ requests answered Unsupported Request (or dropped)
 *   0x09C CNT_MSIX      RO  MSI-X messages sent
 *   0x0A0 CNT_INTX_ASSERT / 0x0A4 CNT_INTX_DEASSERT  RO  INTx messages
 *   0x0A8 CNT_RD_ERR_UR       RO  DMA reads (any client's) that ended with status 1: an Unsupported Request
 *   0x0AC CNT_RD_ERR_CA       RO  ... status 2: a Completer Abort
 *   0x0B0 CNT_RD_ERR_CPL      RO  ... status 3: poisoned data or a malformed completion
 *   0x0B4 CNT_RD_ERR_TIMEOUT  RO  ... status 4: a completion timeout (the hard block's, or the engine's backstop)
 *                           one count per failed read (its first error), whatever number of completions failed
 *   0x100 .. 0x13F SCRATCH_RAM  RW  16 dwords with byte enables: BAR access checks of every size and
 *                           alignment on a new board
 *
 * The self-test reads ST_LEN bytes from ST_SRC into the DMA RAM at offset 0, then writes them from there
 * to ST_DST: both engines' byte shifters are exercised whenever the host addresses are unaligned.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module debug_regs #
(
    parameter REG_ADDR_WIDTH = 12,
    parameter PCIE_DATA_WIDTH = 256,
    parameter NET_DATA_WIDTH = 64,
    parameter MSIX_VECTORS = 8,
    parameter MSIX_VEC_WIDTH = 3,
    parameter RAM_ADDR_WIDTH = 13,
    parameter LEN_WIDTH = 16,
    parameter DMA_TAG_WIDTH = 8,
    parameter SELFTEST_RAM_BYTES = 8192,
    parameter VERSION = 32'h0001_0000,
    // build options the top reports in BUILD[31:24]
    parameter [7:0] BUILD_FLAGS = 8'h00,
    // the TX engine's parameters, as the top reports them in TX_PARAMS
    parameter [31:0] TX_PARAMS = 32'h0000_0000
)
(
    input  wire                       clk,
    input  wire                       rst,

    /*
     * Register bus (already decoded to this BAR)
     */
    input  wire                       reg_req_valid,
    input  wire                       reg_req_write,
    input  wire [REG_ADDR_WIDTH-1:0]  reg_req_addr,
    input  wire [3:0]                 reg_req_be,
    input  wire [31:0]                reg_req_wdata,
    output wire                       reg_rsp_valid,
    output wire [31:0]                reg_rsp_rdata,

    /*
     * DMA read descriptor / status (self-test)
     */
    output wire [63:0]                m_axis_read_desc_pcie_addr,
    output wire [RAM_ADDR_WIDTH-1:0]  m_axis_read_desc_ram_addr,
    output wire [LEN_WIDTH-1:0]       m_axis_read_desc_len,
    output wire [DMA_TAG_WIDTH-1:0]   m_axis_read_desc_tag,
    output wire                       m_axis_read_desc_valid,
    input  wire                       m_axis_read_desc_ready,
    input  wire [DMA_TAG_WIDTH-1:0]   s_axis_read_desc_status_tag,
    input  wire [3:0]                 s_axis_read_desc_status_error,
    input  wire                       s_axis_read_desc_status_valid,

    /*
     * DMA write descriptor / status (self-test)
     */
    output wire [63:0]                m_axis_write_desc_pcie_addr,
    output wire [RAM_ADDR_WIDTH-1:0]  m_axis_write_desc_ram_addr,
    output wire [63:0]                m_axis_write_desc_imm,
    output wire                       m_axis_write_desc_imm_en,
    output wire [LEN_WIDTH-1:0]       m_axis_write_desc_len,
    output wire [DMA_TAG_WIDTH-1:0]   m_axis_write_desc_tag,
    output wire                       m_axis_write_desc_valid,
    input  wire                       m_axis_write_desc_ready,
    input  wire [DMA_TAG_WIDTH-1:0]   s_axis_write_desc_status_tag,
    input  wire [3:0]                 s_axis_write_desc_status_error,
    input  wire                       s_axis_write_desc_status_valid,

    /*
     * Test interrupt requests
     */
    output wire                       intx_test_level,
    output wire                       irq_valid,
    output wire [MSIX_VEC_WIDTH-1:0]  irq_vector,
    input  wire                       irq_ready,

    /*
     * Configuration status from the hard block
     */
    input  wire [1:0]                 cfg_max_payload,
    input  wire [2:0]                 cfg_max_read_req,
    input  wire                       cfg_msix_enable,
    input  wire                       cfg_msix_mask,
    input  wire                       cfg_bus_master_enable,
    input  wire                       cfg_intx_disable,
    input  wire [15:0]                dev_status,

    /*
     * TLP statistics pulses
     */
    input  wire                       stat_rq_rd,
    input  wire                       stat_rq_wr,
    input  wire                       stat_rc_cpl,
    input  wire                       stat_rc_err,
    input  wire                       stat_cq_req,
    input  wire                       stat_cc_cpl,
    input  wire                       stat_cq_ur,
    input  wire                       stat_msix,
    input  wire                       stat_intx_assert,
    input  wire                       stat_intx_deassert,
    // the DMA read engine's status stream (every client's reads): error kinds counted at 0x0A8..0x0B4
    input  wire                       stat_rd_status_valid,
    input  wire [3:0]                 stat_rd_status_error
);

localparam [31:0] DBG_ID = 32'h564E_4554;

localparam [REG_ADDR_WIDTH-1:0]
    REG_ID          = 12'h000,
    REG_VERSION     = 12'h004,
    REG_SCRATCH     = 12'h008,
    REG_BUILD       = 12'h00C,
    REG_CYCLE_LO    = 12'h010,
    REG_CYCLE_HI    = 12'h014,
    REG_CFG_STATUS  = 12'h018,
    REG_DEV_STATUS  = 12'h01C,
    REG_ST_SRC_LO   = 12'h020,
    REG_ST_SRC_HI   = 12'h024,
    REG_ST_DST_LO   = 12'h028,
    REG_ST_DST_HI   = 12'h02C,
    REG_ST_LEN      = 12'h030,
    REG_ST_CTRL     = 12'h034,
    REG_ST_STATUS   = 12'h038,
    REG_ST_CYCLES   = 12'h03C,
    REG_INTX_TEST   = 12'h040,
    REG_MSIX_TEST   = 12'h044,
    REG_TX_PARAMS   = 12'h048,
    REG_CNT_CLEAR   = 12'h07C,
    REG_CNT_BASE    = 12'h080,
    REG_SCRATCH_RAM = 12'h100;

localparam SCRATCH_RAM_DWORDS = 16;

localparam CNT_COUNT = 14;

localparam [31:0] BUILD_WORD = {BUILD_FLAGS, 24'd0} | ((NET_DATA_WIDTH/8)*65536 + MSIX_VECTORS*256 + PCIE_DATA_WIDTH/32);

// the self-test's DMA tag: statuses carrying another tag belong to another client
localparam [DMA_TAG_WIDTH-1:0] ST_TAG = {DMA_TAG_WIDTH{1'b0}};

// self-test setup errors
localparam [3:0]
    ST_ERR_LEN = 4'd1,
    ST_ERR_BME = 4'd2;

localparam [2:0]
    ST_IDLE    = 3'd0,
    ST_RD_DESC = 3'd1,
    ST_RD_WAIT = 3'd2,
    ST_WR_DESC = 3'd3,
    ST_WR_WAIT = 3'd4;

initial begin
    if (REG_ADDR_WIDTH < 8) begin
        $error("Error: REG_ADDR_WIDTH must be at least 8 (instance %m)");
        $finish;
    end
    if (SELFTEST_RAM_BYTES > (1 << RAM_ADDR_WIDTH) || SELFTEST_RAM_BYTES >= (1 << LEN_WIDTH)) begin
        $error("Error: SELFTEST_RAM_BYTES does not fit RAM_ADDR_WIDTH / LEN_WIDTH (instance %m)");
        $finish;
    end
end

function [31:0] apply_be;
    input [31:0] old;
    input [31:0] wdata;
    input [3:0]  be;
    integer i;
    begin
        for (i = 0; i < 4; i = i + 1) begin
            apply_be[i*8 +: 8] = be[i] ? wdata[i*8 +: 8] : old[i*8 +: 8];
        end
    end
endfunction

reg         rsp_valid_reg, rsp_valid_next;
reg  [31:0] rsp_rdata_reg, rsp_rdata_next;

reg  [31:0] scratch_reg, scratch_next;
reg  [63:0] cycle_reg;
reg  [31:0] cycle_hi_shadow_reg, cycle_hi_shadow_next;

reg  [63:0] st_src_reg, st_src_next;
reg  [63:0] st_dst_reg, st_dst_next;
reg  [31:0] st_len_reg, st_len_next;
reg  [2:0]  st_state_reg, st_state_next;
reg         st_done_reg, st_done_next;
reg  [3:0]  st_rd_err_reg, st_rd_err_next;
reg  [3:0]  st_wr_err_reg, st_wr_err_next;
reg  [3:0]  st_setup_err_reg, st_setup_err_next;
reg  [31:0] st_cycles_reg, st_cycles_next;

reg         intx_test_reg, intx_test_next;
reg         irq_valid_reg, irq_valid_next;
reg  [MSIX_VEC_WIDTH-1:0] irq_vector_reg, irq_vector_next;

reg  [31:0] cnt_reg [0:CNT_COUNT-1];
reg  [31:0] scratch_ram_reg [0:SCRATCH_RAM_DWORDS-1];
reg         scratch_ram_we;
reg         cnt_clear;

// DMA read status codes (hdl/README.md): 1 UR, 2 CA, 3 poisoned or malformed completion, 4 timeout
wire [3:0] rd_err_kind;
assign rd_err_kind[0] = stat_rd_status_valid && stat_rd_status_error == 4'd1;
assign rd_err_kind[1] = stat_rd_status_valid && stat_rd_status_error == 4'd2;
assign rd_err_kind[2] = stat_rd_status_valid && stat_rd_status_error == 4'd3;
assign rd_err_kind[3] = stat_rd_status_valid && stat_rd_status_error == 4'd4;

wire [CNT_COUNT-1:0] cnt_inc = {rd_err_kind, stat_intx_deassert, stat_intx_assert, stat_msix, stat_cq_ur, stat_cc_cpl,
                                stat_cq_req, stat_rc_err, stat_rc_cpl, stat_rq_wr, stat_rq_rd};

wire st_busy = st_state_reg != ST_IDLE;
wire [31:0] st_status = {16'd0, st_setup_err_reg, st_wr_err_reg, st_rd_err_reg,
                         1'b0, (st_setup_err_reg != 0) || (st_rd_err_reg != 0) || (st_wr_err_reg != 0),
                         st_done_reg, st_busy};

// counters at 0x080 + 4*i, i < CNT_COUNT <= 16
wire [3:0] cnt_index = reg_req_addr[5:2];
wire cnt_hit = reg_req_addr[REG_ADDR_WIDTH-1:6] == REG_CNT_BASE[REG_ADDR_WIDTH-1:6] && cnt_index < CNT_COUNT;

// scratch RAM at 0x100 + 4*i, i < 16
wire [3:0] scratch_index = reg_req_addr[5:2];
wire scratch_hit = reg_req_addr[REG_ADDR_WIDTH-1:6] == REG_SCRATCH_RAM[REG_ADDR_WIDTH-1:6];

assign reg_rsp_valid = rsp_valid_reg;
assign reg_rsp_rdata = rsp_rdata_reg;

assign m_axis_read_desc_pcie_addr = st_src_reg;
assign m_axis_read_desc_ram_addr = {RAM_ADDR_WIDTH{1'b0}};
assign m_axis_read_desc_len = st_len_reg[LEN_WIDTH-1:0];
assign m_axis_read_desc_tag = ST_TAG;
assign m_axis_read_desc_valid = st_state_reg == ST_RD_DESC;

assign m_axis_write_desc_pcie_addr = st_dst_reg;
assign m_axis_write_desc_ram_addr = {RAM_ADDR_WIDTH{1'b0}};
assign m_axis_write_desc_imm = 64'd0;
assign m_axis_write_desc_imm_en = 1'b0;
assign m_axis_write_desc_len = st_len_reg[LEN_WIDTH-1:0];
assign m_axis_write_desc_tag = ST_TAG;
assign m_axis_write_desc_valid = st_state_reg == ST_WR_DESC;

assign intx_test_level = intx_test_reg;
assign irq_valid = irq_valid_reg;
assign irq_vector = irq_vector_reg;

always @* begin
    rsp_valid_next = 1'b0;
    rsp_rdata_next = rsp_rdata_reg;
    scratch_next = scratch_reg;
    cycle_hi_shadow_next = cycle_hi_shadow_reg;
    st_src_next = st_src_reg;
    st_dst_next = st_dst_reg;
    st_len_next = st_len_reg;
    st_state_next = st_state_reg;
    st_done_next = st_done_reg;
    st_rd_err_next = st_rd_err_reg;
    st_wr_err_next = st_wr_err_reg;
    st_setup_err_next = st_setup_err_reg;
    st_cycles_next = st_busy ? st_cycles_reg + 1 : st_cycles_reg;
    intx_test_next = intx_test_reg;
    irq_valid_next = irq_valid_reg && !irq_ready;
    irq_vector_next = irq_vector_reg;
    cnt_clear = 1'b0;
    scratch_ram_we = 1'b0;

    // self-test sequencer
    case (st_state_reg)
        ST_RD_DESC: begin
            if (m_axis_read_desc_ready) begin
                st_state_next = ST_RD_WAIT;
            end
        end
        ST_RD_WAIT: begin
            if (s_axis_read_desc_status_valid && s_axis_read_desc_status_tag == ST_TAG) begin
                if (s_axis_read_desc_status_error != 4'd0) begin
                    st_rd_err_next = s_axis_read_desc_status_error;
                    st_done_next = 1'b1;
                    st_state_next = ST_IDLE;
                end else begin
                    st_state_next = ST_WR_DESC;
                end
            end
        end
        ST_WR_DESC: begin
            if (m_axis_write_desc_ready) begin
                st_state_next = ST_WR_WAIT;
            end
        end
        ST_WR_WAIT: begin
            if (s_axis_write_desc_status_valid && s_axis_write_desc_status_tag == ST_TAG) begin
                st_wr_err_next = s_axis_write_desc_status_error;
                st_done_next = 1'b1;
                st_state_next = ST_IDLE;
            end
        end
        default: begin
            st_state_next = ST_IDLE;
        end
    endcase

    if (reg_req_valid) begin
        rsp_valid_next = 1'b1;
        rsp_rdata_next = 32'd0;
        if (reg_req_write) begin
            case (reg_req_addr)
                REG_SCRATCH: scratch_next = apply_be(scratch_reg, reg_req_wdata, reg_req_be);
                REG_ST_SRC_LO: st_src_next[31:0] = apply_be(st_src_reg[31:0], reg_req_wdata, reg_req_be);
                REG_ST_SRC_HI: st_src_next[63:32] = apply_be(st_src_reg[63:32], reg_req_wdata, reg_req_be);
                REG_ST_DST_LO: st_dst_next[31:0] = apply_be(st_dst_reg[31:0], reg_req_wdata, reg_req_be);
                REG_ST_DST_HI: st_dst_next[63:32] = apply_be(st_dst_reg[63:32], reg_req_wdata, reg_req_be);
                REG_ST_LEN: if (!st_busy) st_len_next = apply_be(st_len_reg, reg_req_wdata, reg_req_be);
                REG_ST_CTRL: begin
                    if (reg_req_be[0] && reg_req_wdata[0] && !st_busy) begin
                        st_done_next = 1'b0;
                        st_rd_err_next = 4'd0;
                        st_wr_err_next = 4'd0;
                        st_setup_err_next = 4'd0;
                        st_cycles_next = 32'd0;
                        if (st_len_reg == 32'd0 || st_len_reg > SELFTEST_RAM_BYTES) begin
                            st_setup_err_next = ST_ERR_LEN;
                            st_done_next = 1'b1;
                        end else if (!cfg_bus_master_enable) begin
                            st_setup_err_next = ST_ERR_BME;
                            st_done_next = 1'b1;
                        end else begin
                            st_state_next = ST_RD_DESC;
                        end
                    end
                end
                REG_INTX_TEST: if (reg_req_be[0]) intx_test_next = reg_req_wdata[0];
                REG_MSIX_TEST: begin
                    if (reg_req_be[0] && !irq_valid_reg) begin
                        irq_valid_next = 1'b1;
                        irq_vector_next = reg_req_wdata[MSIX_VEC_WIDTH-1:0];
                    end
                end
                REG_CNT_CLEAR: cnt_clear = 1'b1;
                default: scratch_ram_we = scratch_hit;
            endcase
        end else begin
            case (reg_req_addr)
                REG_ID: rsp_rdata_next = DBG_ID;
                REG_VERSION: rsp_rdata_next = VERSION;
                REG_SCRATCH: rsp_rdata_next = scratch_reg;
                REG_BUILD: rsp_rdata_next = BUILD_WORD;
                REG_CYCLE_LO: begin
                    rsp_rdata_next = cycle_reg[31:0];
                    cycle_hi_shadow_next = cycle_reg[63:32];
                end
                REG_CYCLE_HI: rsp_rdata_next = cycle_hi_shadow_reg;
                REG_CFG_STATUS: rsp_rdata_next = {20'd0, cfg_intx_disable, cfg_bus_master_enable, cfg_msix_mask,
                                                  cfg_msix_enable, 1'b0, cfg_max_read_req, 2'b00, cfg_max_payload};
                REG_DEV_STATUS: rsp_rdata_next = {16'd0, dev_status};
                REG_ST_SRC_LO: rsp_rdata_next = st_src_reg[31:0];
                REG_ST_SRC_HI: rsp_rdata_next = st_src_reg[63:32];
                REG_ST_DST_LO: rsp_rdata_next = st_dst_reg[31:0];
                REG_ST_DST_HI: rsp_rdata_next = st_dst_reg[63:32];
                REG_ST_LEN: rsp_rdata_next = st_len_reg;
                REG_ST_STATUS: rsp_rdata_next = st_status;
                REG_ST_CYCLES: rsp_rdata_next = st_cycles_reg;
                REG_INTX_TEST: rsp_rdata_next = {31'd0, intx_test_reg};
                REG_TX_PARAMS: rsp_rdata_next = TX_PARAMS;
                default: begin
                    if (cnt_hit) begin
                        rsp_rdata_next = cnt_reg[cnt_index];
                    end else if (scratch_hit) begin
                        rsp_rdata_next = scratch_ram_reg[scratch_index];
                    end
                end
            endcase
        end
    end
end

integer k;

// scratch RAM: no reset (contents are don't-care until written, like a RAM)
always @(posedge clk) begin
    if (scratch_ram_we) begin
        scratch_ram_reg[scratch_index] <= apply_be(scratch_ram_reg[scratch_index], reg_req_wdata, reg_req_be);
    end
end

always @(posedge clk) begin
    rsp_valid_reg <= rsp_valid_next;
    rsp_rdata_reg <= rsp_rdata_next;
    scratch_reg <= scratch_next;
    cycle_reg <= cycle_reg + 64'd1;
    cycle_hi_shadow_reg <= cycle_hi_shadow_next;
    st_src_reg <= st_src_next;
    st_dst_reg <= st_dst_next;
    st_len_reg <= st_len_next;
    st_state_reg <= st_state_next;
    st_done_reg <= st_done_next;
    st_rd_err_reg <= st_rd_err_next;
    st_wr_err_reg <= st_wr_err_next;
    st_setup_err_reg <= st_setup_err_next;
    st_cycles_reg <= st_cycles_next;
    intx_test_reg <= intx_test_next;
    irq_valid_reg <= irq_valid_next;
    irq_vector_reg <= irq_vector_next;

    for (k = 0; k < CNT_COUNT; k = k + 1) begin
        if (cnt_clear) begin
            cnt_reg[k] <= 32'd0;
        end else if (cnt_inc[k]) begin
            cnt_reg[k] <= cnt_reg[k] + 32'd1;
        end
    end

    if (rst) begin
        rsp_valid_reg <= 1'b0;
        rsp_rdata_reg <= 32'd0;
        scratch_reg <= 32'd0;
        cycle_reg <= 64'd0;
        cycle_hi_shadow_reg <= 32'd0;
        st_src_reg <= 64'd0;
        st_dst_reg <= 64'd0;
        st_len_reg <= 32'd0;
        st_state_reg <= ST_IDLE;
        st_done_reg <= 1'b0;
        st_rd_err_reg <= 4'd0;
        st_wr_err_reg <= 4'd0;
        st_setup_err_reg <= 4'd0;
        st_cycles_reg <= 32'd0;
        intx_test_reg <= 1'b0;
        irq_valid_reg <= 1'b0;
        irq_vector_reg <= {MSIX_VEC_WIDTH{1'b0}};
        for (k = 0; k < CNT_COUNT; k = k + 1) begin
            cnt_reg[k] <= 32'd0;
        end
    end
end

endmodule

`resetall
