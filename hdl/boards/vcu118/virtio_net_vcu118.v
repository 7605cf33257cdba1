// SPDX-License-Identifier: MIT
/*
 * Board top for the Xilinx VCU118 (Virtex UltraScale+ XCVU9P): the virtio-net function behind the
 * UltraScale+ PCIe hard block, in the board's PCIe edge connector, Gen3 x8 (lanes 0-7, GTY quads 226/227).
 *
 *   pcie4_uscale_plus_0   the Xilinx IP, customized from hdl/device.toml by the Tcl sim/fpga.py writes
 *                         (here only its port list: sim/blackbox/pcie4_uscale_plus_0.v)
 *   virtio_net_usp        the device, at its default parameters, connected to the IP's user interface
 *
 * One clock: the IP's 250 MHz user_clk, with its synchronous user_reset. No Ethernet MAC yet: TX frames
 * are accepted (tready = 1) and can be captured with the ILA (sim/fpga.py writes its probe list); RX is
 * idle. A Function Level Reset resets the function (user_reset or FLR) and is acknowledged when done.
 *
 * LEDs: 0 link up, 1 user_clk heartbeat (~1 Hz), 2 toggles on every TX frame, 3 MSI-X enabled,
 * 4 bus master enabled, 5 a Function Level Reset was seen since power-up, 6-7 off.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module virtio_net_vcu118
(
    // PCIe edge connector, lanes 0-7; 100 MHz reference clock and PERST# from the slot
    input  wire [7:0] pcie_rx_p,
    input  wire [7:0] pcie_rx_n,
    output wire [7:0] pcie_tx_p,
    output wire [7:0] pcie_tx_n,
    input  wire       pcie_refclk_p,
    input  wire       pcie_refclk_n,
    input  wire       pcie_reset_n,

    output wire [7:0] led
);

localparam DATA_WIDTH = 256;
localparam KEEP_WIDTH = DATA_WIDTH/32;
localparam FLR_RESET_CYCLES = 16;
localparam HEARTBEAT_BIT = 27;          // 2**27 cycles of 4 ns: about 0.5 s per LED phase

/*
 * Reference clock: O feeds the transceivers, ODIV2 (50 MHz) the IP's sys_clk
 */
wire pcie_sys_clk;
wire pcie_sys_clk_gt;

IBUFDS_GTE4 #(
    .REFCLK_HROW_CK_SEL(2'b00)
)
pcie_refclk_ibuf_inst (
    .I(pcie_refclk_p),
    .IB(pcie_refclk_n),
    .CEB(1'b0),
    .O(pcie_sys_clk_gt),
    .ODIV2(pcie_sys_clk)
);

/*
 * The hard block
 */
wire user_clk;
wire user_reset;
wire user_lnk_up;

wire [DATA_WIDTH-1:0] rq_tdata, rc_tdata, cq_tdata, cc_tdata;
wire [KEEP_WIDTH-1:0] rq_tkeep, rc_tkeep, cq_tkeep, cc_tkeep;
wire                  rq_tlast, rc_tlast, cq_tlast, cc_tlast;
wire                  rq_tvalid, rc_tvalid, cq_tvalid, cc_tvalid;
wire                  rc_tready, cq_tready;
/* verilator lint_off UNUSEDSIGNAL */
wire [3:0]            rq_tready, cc_tready;         // four copies of one ready (PG213): bit 0 is used
/* verilator lint_on UNUSEDSIGNAL */
wire [61:0]           rq_tuser;
wire [74:0]           rc_tuser;
wire [87:0]           cq_tuser;
wire [32:0]           cc_tuser;

wire [1:0]   cfg_max_payload;
wire [2:0]   cfg_max_read_req;
wire [15:0]  cfg_function_status;
/* verilator lint_off UNUSEDSIGNAL */
wire [3:0]   cfg_flr_in_process;                    // PF0 only: functions 1-3 are not enabled
/* verilator lint_on UNUSEDSIGNAL */
wire [3:0]   cfg_interrupt_msix_enable;
wire [3:0]   cfg_interrupt_msix_mask;
wire [63:0]  cfg_interrupt_msix_address;
wire [31:0]  cfg_interrupt_msix_data;
wire         cfg_interrupt_msix_int;
wire         cfg_interrupt_msix_sent;
wire         cfg_interrupt_msix_fail;
wire [7:0]   cfg_interrupt_msi_function_number;
wire [3:0]   cfg_interrupt_int;
wire [3:0]   cfg_interrupt_pending;
wire         cfg_interrupt_sent;

reg  [3:0]   flr_done_reg;

// the hard block's status, flow-control and management outputs this board does not use are left open
/* verilator lint_off PINCONNECTEMPTY */
pcie4_uscale_plus_0
pcie_inst (
    .pci_exp_txn(pcie_tx_n),
    .pci_exp_txp(pcie_tx_p),
    .pci_exp_rxn(pcie_rx_n),
    .pci_exp_rxp(pcie_rx_p),
    .user_clk(user_clk),
    .user_reset(user_reset),
    .user_lnk_up(user_lnk_up),

    .s_axis_rq_tdata(rq_tdata),
    .s_axis_rq_tkeep(rq_tkeep),
    .s_axis_rq_tlast(rq_tlast),
    .s_axis_rq_tready(rq_tready),
    .s_axis_rq_tuser(rq_tuser),
    .s_axis_rq_tvalid(rq_tvalid),
    .m_axis_rc_tdata(rc_tdata),
    .m_axis_rc_tkeep(rc_tkeep),
    .m_axis_rc_tlast(rc_tlast),
    .m_axis_rc_tready(rc_tready),
    .m_axis_rc_tuser(rc_tuser),
    .m_axis_rc_tvalid(rc_tvalid),
    .m_axis_cq_tdata(cq_tdata),
    .m_axis_cq_tkeep(cq_tkeep),
    .m_axis_cq_tlast(cq_tlast),
    .m_axis_cq_tready(cq_tready),
    .m_axis_cq_tuser(cq_tuser),
    .m_axis_cq_tvalid(cq_tvalid),
    .s_axis_cc_tdata(cc_tdata),
    .s_axis_cc_tkeep(cc_tkeep),
    .s_axis_cc_tlast(cc_tlast),
    .s_axis_cc_tready(cc_tready),
    .s_axis_cc_tuser(cc_tuser),
    .s_axis_cc_tvalid(cc_tvalid),

    .pcie_rq_seq_num0(),
    .pcie_rq_seq_num_vld0(),
    .pcie_rq_seq_num1(),
    .pcie_rq_seq_num_vld1(),
    .pcie_rq_tag0(),
    .pcie_rq_tag1(),
    .pcie_rq_tag_av(),
    .pcie_rq_tag_vld0(),
    .pcie_rq_tag_vld1(),
    .pcie_tfc_nph_av(),
    .pcie_tfc_npd_av(),
    // non-posted requests are not flow-controlled: the CQ/CC bridge backpressures CQ itself
    .pcie_cq_np_req(2'b11),
    .pcie_cq_np_req_count(),

    .cfg_phy_link_down(),
    .cfg_phy_link_status(),
    .cfg_negotiated_width(),
    .cfg_current_speed(),
    .cfg_max_payload(cfg_max_payload),
    .cfg_max_read_req(cfg_max_read_req),
    .cfg_function_status(cfg_function_status),
    .cfg_function_power_state(),
    .cfg_vf_status(),
    .cfg_vf_power_state(),
    .cfg_link_power_state(),

    .cfg_mgmt_addr(10'd0),
    .cfg_mgmt_function_number(8'd0),
    .cfg_mgmt_write(1'b0),
    .cfg_mgmt_write_data(32'd0),
    .cfg_mgmt_byte_enable(4'd0),
    .cfg_mgmt_read(1'b0),
    .cfg_mgmt_read_data(),
    .cfg_mgmt_read_write_done(),
    .cfg_mgmt_debug_access(1'b0),

    .cfg_err_cor_out(),
    .cfg_err_nonfatal_out(),
    .cfg_err_fatal_out(),
    .cfg_local_error_valid(),
    .cfg_local_error_out(),
    .cfg_ltssm_state(),
    .cfg_rx_pm_state(),
    .cfg_tx_pm_state(),
    .cfg_rcb_status(),
    .cfg_obff_enable(),
    .cfg_pl_status_change(),
    .cfg_tph_requester_enable(),
    .cfg_tph_st_mode(),
    .cfg_vf_tph_requester_enable(),
    .cfg_vf_tph_st_mode(),

    .cfg_msg_received(),
    .cfg_msg_received_data(),
    .cfg_msg_received_type(),
    .cfg_msg_transmit(1'b0),
    .cfg_msg_transmit_type(3'd0),
    .cfg_msg_transmit_data(32'd0),
    .cfg_msg_transmit_done(),

    .cfg_fc_ph(),
    .cfg_fc_pd(),
    .cfg_fc_nph(),
    .cfg_fc_npd(),
    .cfg_fc_cplh(),
    .cfg_fc_cpld(),
    .cfg_fc_sel(3'd0),

    .cfg_dsn(64'd0),
    .cfg_bus_number(),
    .cfg_power_state_change_ack(1'b1),
    .cfg_power_state_change_interrupt(),
    .cfg_err_cor_in(1'b0),
    .cfg_err_uncor_in(1'b0),
    .cfg_flr_in_process(cfg_flr_in_process),
    .cfg_flr_done(flr_done_reg),
    .cfg_vf_flr_in_process(),
    .cfg_vf_flr_func_num(8'd0),
    .cfg_vf_flr_done(1'b0),
    .cfg_link_training_enable(1'b1),

    .cfg_interrupt_int(cfg_interrupt_int),
    .cfg_interrupt_pending(cfg_interrupt_pending),
    .cfg_interrupt_sent(cfg_interrupt_sent),
    .cfg_interrupt_msi_sent(cfg_interrupt_msix_sent),
    .cfg_interrupt_msi_fail(cfg_interrupt_msix_fail),
    .cfg_interrupt_msi_function_number(cfg_interrupt_msi_function_number),
    .cfg_interrupt_msix_enable(cfg_interrupt_msix_enable),
    .cfg_interrupt_msix_mask(cfg_interrupt_msix_mask),
    .cfg_interrupt_msix_vf_enable(),
    .cfg_interrupt_msix_vf_mask(),
    .cfg_pm_aspm_l1_entry_reject(1'b0),
    .cfg_pm_aspm_tx_l0s_entry_disable(1'b0),
    .cfg_interrupt_msix_data(cfg_interrupt_msix_data),
    .cfg_interrupt_msix_address(cfg_interrupt_msix_address),
    .cfg_interrupt_msix_int(cfg_interrupt_msix_int),
    .cfg_interrupt_msix_vec_pending(2'b00),
    .cfg_interrupt_msix_vec_pending_status(),

    .cfg_hot_reset_out(),
    .cfg_config_space_enable(1'b1),
    .cfg_req_pm_transition_l23_ready(1'b0),
    .cfg_hot_reset_in(1'b0),
    .cfg_ds_port_number(8'd0),
    .cfg_ds_bus_number(8'd0),
    .cfg_ds_device_number(5'd0),

    .sys_clk(pcie_sys_clk),
    .sys_clk_gt(pcie_sys_clk_gt),
    .sys_reset(pcie_reset_n),
    .phy_rdy_out()
);
/* verilator lint_on PINCONNECTEMPTY */

/*
 * Function Level Reset of PF0: the hard block raises cfg_flr_in_process[0] and holds it until the user
 * reports the reset done. Hold the function in reset for FLR_RESET_CYCLES, then pulse cfg_flr_done[0]
 * for one cycle. The other functions do not exist.
 */
reg  [4:0] flr_count_reg, flr_count_next;
reg        flr_active_reg, flr_active_next;
reg  [3:0] flr_done_next;
reg        flr_seen_reg, flr_seen_next;
reg        flr_in_process_reg;

always @* begin
    flr_count_next = flr_count_reg;
    flr_active_next = flr_active_reg;
    flr_done_next = 4'd0;
    flr_seen_next = flr_seen_reg;
    if (!flr_active_reg) begin
        // a new FLR: the rising edge of in_process (it may stay up a few cycles after done)
        if (cfg_flr_in_process[0] && !flr_in_process_reg) begin
            flr_active_next = 1'b1;
            flr_count_next = FLR_RESET_CYCLES[4:0];
            flr_seen_next = 1'b1;
        end
    end else if (flr_count_reg != 5'd0) begin
        flr_count_next = flr_count_reg - 5'd1;
    end else begin
        flr_active_next = 1'b0;
        flr_done_next[0] = 1'b1;
    end
end

always @(posedge user_clk) begin
    flr_count_reg <= flr_count_next;
    flr_active_reg <= flr_active_next;
    flr_done_reg <= flr_done_next;
    flr_seen_reg <= flr_seen_next;
    flr_in_process_reg <= cfg_flr_in_process[0];
    if (user_reset) begin
        flr_count_reg <= 5'd0;
        flr_active_reg <= 1'b0;
        flr_done_reg <= 4'd0;
        flr_seen_reg <= 1'b0;
        flr_in_process_reg <= 1'b0;
    end
end

// the function's reset: the hard block's, or an FLR in progress
reg func_reset_reg;

always @(posedge user_clk) begin
    func_reset_reg <= user_reset || flr_active_reg;
end

/*
 * The virtio-net function, at its default parameters
 */
wire [63:0] tx_tdata;
wire [7:0]  tx_tkeep;
wire        tx_tvalid;
wire        tx_tlast;
wire        tx_tuser;

virtio_net_usp
virtio_net_inst (
    .user_clk(user_clk),
    .user_reset(func_reset_reg),

    .s_axis_cq_tdata(cq_tdata),
    .s_axis_cq_tkeep(cq_tkeep),
    .s_axis_cq_tvalid(cq_tvalid),
    .s_axis_cq_tready(cq_tready),
    .s_axis_cq_tlast(cq_tlast),
    .s_axis_cq_tuser(cq_tuser),
    .m_axis_cc_tdata(cc_tdata),
    .m_axis_cc_tkeep(cc_tkeep),
    .m_axis_cc_tvalid(cc_tvalid),
    .m_axis_cc_tready(cc_tready[0]),
    .m_axis_cc_tlast(cc_tlast),
    .m_axis_cc_tuser(cc_tuser),
    .m_axis_rq_tdata(rq_tdata),
    .m_axis_rq_tkeep(rq_tkeep),
    .m_axis_rq_tvalid(rq_tvalid),
    .m_axis_rq_tready(rq_tready[0]),
    .m_axis_rq_tlast(rq_tlast),
    .m_axis_rq_tuser(rq_tuser),
    .s_axis_rc_tdata(rc_tdata),
    .s_axis_rc_tkeep(rc_tkeep),
    .s_axis_rc_tvalid(rc_tvalid),
    .s_axis_rc_tready(rc_tready),
    .s_axis_rc_tlast(rc_tlast),
    .s_axis_rc_tuser(rc_tuser),

    .cfg_max_payload(cfg_max_payload),
    .cfg_max_read_req(cfg_max_read_req),
    .cfg_function_status(cfg_function_status),

    .cfg_interrupt_msix_enable(cfg_interrupt_msix_enable),
    .cfg_interrupt_msix_mask(cfg_interrupt_msix_mask),
    .cfg_interrupt_msix_address(cfg_interrupt_msix_address),
    .cfg_interrupt_msix_data(cfg_interrupt_msix_data),
    .cfg_interrupt_msix_int(cfg_interrupt_msix_int),
    .cfg_interrupt_msix_sent(cfg_interrupt_msix_sent),
    .cfg_interrupt_msix_fail(cfg_interrupt_msix_fail),
    .cfg_interrupt_msi_function_number(cfg_interrupt_msi_function_number),
    .cfg_interrupt_int(cfg_interrupt_int),
    .cfg_interrupt_pending(cfg_interrupt_pending),
    .cfg_interrupt_sent(cfg_interrupt_sent),

    .m_axis_tx_tdata(tx_tdata),
    .m_axis_tx_tkeep(tx_tkeep),
    .m_axis_tx_tvalid(tx_tvalid),
    .m_axis_tx_tready(1'b1),
    .m_axis_tx_tlast(tx_tlast),
    .m_axis_tx_tuser(tx_tuser),

    .s_axis_rx_tdata(64'd0),
    .s_axis_rx_tkeep(8'd0),
    .s_axis_rx_tvalid(1'b0),
    /* verilator lint_off PINCONNECTEMPTY */
    .s_axis_rx_tready(),                            // no RX source on this board yet
    /* verilator lint_on PINCONNECTEMPTY */
    .s_axis_rx_tlast(1'b0),
    .s_axis_rx_tuser(1'b0)
);

/*
 * LEDs
 */
reg [HEARTBEAT_BIT:0] heartbeat_reg;
reg                   tx_frame_toggle_reg;
reg                   led_link_reg;

always @(posedge user_clk) begin
    heartbeat_reg <= heartbeat_reg + 1'b1;
    led_link_reg <= user_lnk_up;
    if (tx_tvalid && tx_tlast) begin
        tx_frame_toggle_reg <= !tx_frame_toggle_reg;
    end
    if (user_reset) begin
        heartbeat_reg <= {(HEARTBEAT_BIT+1){1'b0}};
        tx_frame_toggle_reg <= 1'b0;
        led_link_reg <= 1'b0;
    end
end

// the TX frame contents are for the ILA: only frame ends reach an LED
/* verilator lint_off UNUSEDSIGNAL */
wire tx_unused = ^{tx_tdata, tx_tkeep, tx_tuser};
/* verilator lint_on UNUSEDSIGNAL */

assign led = {2'b00, flr_seen_reg, cfg_function_status[2], cfg_interrupt_msix_enable[0], tx_frame_toggle_reg,
              heartbeat_reg[HEARTBEAT_BIT], led_link_reg};

endmodule

`resetall
