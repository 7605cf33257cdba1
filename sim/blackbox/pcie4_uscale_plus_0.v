// SPDX-License-Identifier: MIT
/*
 * Black-box port declaration of the Xilinx UltraScale+ PCIe IP as sim/fpga.py customizes it
 * (pcie4_uscale_plus, module name pcie4_uscale_plus_0: Gen3 x8, 256-bit user interface at 250 MHz,
 * external MSI-X table). Used only to lint and synthesize the board tops here (make lint, make synth):
 * Vivado replaces it by the generated IP. It has no logic.
 *
 * Port names, directions and widths as in Vivado's own synthesis stub of the IP with MSI-X "external"
 * (write_verilog -mode synth_stub; PG213 port tables): the x4/128-bit stub in public projects differs only
 * in the lane and data widths. Lanes and data width must match hdl/device.toml (a unit test checks).
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

/* verilator lint_off UNUSEDSIGNAL */
/* verilator lint_off UNDRIVEN */
(* blackbox *)
module pcie4_uscale_plus_0
(
    output wire [7:0]   pci_exp_txn,
    output wire [7:0]   pci_exp_txp,
    input  wire [7:0]   pci_exp_rxn,
    input  wire [7:0]   pci_exp_rxp,
    output wire         user_clk,
    output wire         user_reset,
    output wire         user_lnk_up,

    input  wire [255:0] s_axis_rq_tdata,
    input  wire [7:0]   s_axis_rq_tkeep,
    input  wire         s_axis_rq_tlast,
    output wire [3:0]   s_axis_rq_tready,
    input  wire [61:0]  s_axis_rq_tuser,
    input  wire         s_axis_rq_tvalid,
    output wire [255:0] m_axis_rc_tdata,
    output wire [7:0]   m_axis_rc_tkeep,
    output wire         m_axis_rc_tlast,
    input  wire         m_axis_rc_tready,
    output wire [74:0]  m_axis_rc_tuser,
    output wire         m_axis_rc_tvalid,
    output wire [255:0] m_axis_cq_tdata,
    output wire [7:0]   m_axis_cq_tkeep,
    output wire         m_axis_cq_tlast,
    input  wire         m_axis_cq_tready,
    output wire [87:0]  m_axis_cq_tuser,
    output wire         m_axis_cq_tvalid,
    input  wire [255:0] s_axis_cc_tdata,
    input  wire [7:0]   s_axis_cc_tkeep,
    input  wire         s_axis_cc_tlast,
    output wire [3:0]   s_axis_cc_tready,
    input  wire [32:0]  s_axis_cc_tuser,
    input  wire         s_axis_cc_tvalid,

    output wire [5:0]   pcie_rq_seq_num0,
    output wire         pcie_rq_seq_num_vld0,
    output wire [5:0]   pcie_rq_seq_num1,
    output wire         pcie_rq_seq_num_vld1,
    output wire [7:0]   pcie_rq_tag0,
    output wire [7:0]   pcie_rq_tag1,
    output wire [3:0]   pcie_rq_tag_av,
    output wire         pcie_rq_tag_vld0,
    output wire         pcie_rq_tag_vld1,
    output wire [3:0]   pcie_tfc_nph_av,
    output wire [3:0]   pcie_tfc_npd_av,
    input  wire [1:0]   pcie_cq_np_req,
    output wire [5:0]   pcie_cq_np_req_count,

    output wire         cfg_phy_link_down,
    output wire [1:0]   cfg_phy_link_status,
    output wire [2:0]   cfg_negotiated_width,
    output wire [1:0]   cfg_current_speed,
    output wire [1:0]   cfg_max_payload,
    output wire [2:0]   cfg_max_read_req,
    output wire [15:0]  cfg_function_status,
    output wire [11:0]  cfg_function_power_state,
    output wire [503:0] cfg_vf_status,
    output wire [755:0] cfg_vf_power_state,
    output wire [1:0]   cfg_link_power_state,

    input  wire [9:0]   cfg_mgmt_addr,
    input  wire [7:0]   cfg_mgmt_function_number,
    input  wire         cfg_mgmt_write,
    input  wire [31:0]  cfg_mgmt_write_data,
    input  wire [3:0]   cfg_mgmt_byte_enable,
    input  wire         cfg_mgmt_read,
    output wire [31:0]  cfg_mgmt_read_data,
    output wire         cfg_mgmt_read_write_done,
    input  wire         cfg_mgmt_debug_access,

    output wire         cfg_err_cor_out,
    output wire         cfg_err_nonfatal_out,
    output wire         cfg_err_fatal_out,
    output wire         cfg_local_error_valid,
    output wire [4:0]   cfg_local_error_out,
    output wire [5:0]   cfg_ltssm_state,
    output wire [1:0]   cfg_rx_pm_state,
    output wire [1:0]   cfg_tx_pm_state,
    output wire [3:0]   cfg_rcb_status,
    output wire [1:0]   cfg_obff_enable,
    output wire         cfg_pl_status_change,
    output wire [3:0]   cfg_tph_requester_enable,
    output wire [11:0]  cfg_tph_st_mode,
    output wire [251:0] cfg_vf_tph_requester_enable,
    output wire [755:0] cfg_vf_tph_st_mode,

    output wire         cfg_msg_received,
    output wire [7:0]   cfg_msg_received_data,
    output wire [4:0]   cfg_msg_received_type,
    input  wire         cfg_msg_transmit,
    input  wire [2:0]   cfg_msg_transmit_type,
    input  wire [31:0]  cfg_msg_transmit_data,
    output wire         cfg_msg_transmit_done,

    output wire [7:0]   cfg_fc_ph,
    output wire [11:0]  cfg_fc_pd,
    output wire [7:0]   cfg_fc_nph,
    output wire [11:0]  cfg_fc_npd,
    output wire [7:0]   cfg_fc_cplh,
    output wire [11:0]  cfg_fc_cpld,
    input  wire [2:0]   cfg_fc_sel,

    input  wire [63:0]  cfg_dsn,
    output wire [7:0]   cfg_bus_number,
    input  wire         cfg_power_state_change_ack,
    output wire         cfg_power_state_change_interrupt,
    input  wire         cfg_err_cor_in,
    input  wire         cfg_err_uncor_in,
    output wire [3:0]   cfg_flr_in_process,
    input  wire [3:0]   cfg_flr_done,
    output wire [251:0] cfg_vf_flr_in_process,
    input  wire [7:0]   cfg_vf_flr_func_num,
    input  wire [0:0]   cfg_vf_flr_done,
    input  wire         cfg_link_training_enable,

    // INTx, and MSI-X with the table in the user's BAR: the sent / fail strobes keep their MSI names
    input  wire [3:0]   cfg_interrupt_int,
    input  wire [3:0]   cfg_interrupt_pending,
    output wire         cfg_interrupt_sent,
    output wire         cfg_interrupt_msi_sent,
    output wire         cfg_interrupt_msi_fail,
    input  wire [7:0]   cfg_interrupt_msi_function_number,
    output wire [3:0]   cfg_interrupt_msix_enable,
    output wire [3:0]   cfg_interrupt_msix_mask,
    output wire [251:0] cfg_interrupt_msix_vf_enable,
    output wire [251:0] cfg_interrupt_msix_vf_mask,
    input  wire         cfg_pm_aspm_l1_entry_reject,
    input  wire         cfg_pm_aspm_tx_l0s_entry_disable,
    input  wire [31:0]  cfg_interrupt_msix_data,
    input  wire [63:0]  cfg_interrupt_msix_address,
    input  wire         cfg_interrupt_msix_int,
    input  wire [1:0]   cfg_interrupt_msix_vec_pending,
    output wire [0:0]   cfg_interrupt_msix_vec_pending_status,

    output wire         cfg_hot_reset_out,
    input  wire         cfg_config_space_enable,
    input  wire         cfg_req_pm_transition_l23_ready,
    input  wire         cfg_hot_reset_in,
    input  wire [7:0]   cfg_ds_port_number,
    input  wire [7:0]   cfg_ds_bus_number,
    input  wire [4:0]   cfg_ds_device_number,

    input  wire         sys_clk,
    input  wire         sys_clk_gt,
    input  wire         sys_reset,
    output wire         phy_rdy_out
);
endmodule
/* verilator lint_on UNDRIVEN */
/* verilator lint_on UNUSEDSIGNAL */

`resetall
