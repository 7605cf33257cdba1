// SPDX-License-Identifier: MIT
/*
 * Legacy (transitional) virtio-pci register block, BAR0 (virtio spec "Legacy Interfaces: A Note on PCI
 * Device Layout"; Linux include/linux/virtio_pci.h):
 *
 *   0x00 HOST_FEATURES   R  32   MAC(5) | MRG_RXBUF(15, when offer_mrg_rxbuf) | STATUS(16) |
 *                                NOTIFY_ON_EMPTY(24, when offer_noe) | INDIRECT_DESC(28, when offer_indirect) |
 *                                EVENT_IDX(29, when offer_event_idx)
 *   0x04 GUEST_FEATURES  RW 32   what the driver acked (only offered bits are kept)
 *   0x08 QUEUE_PFN       RW 32   ring address >> 12 of the selected queue; 0 disables the queue
 *   0x0C QUEUE_NUM       R  16   size of the selected queue (0: no such queue)
 *   0x0E QUEUE_SEL       RW 16
 *   0x10 QUEUE_NOTIFY    W  16   kick: the queue index
 *   0x12 STATUS          RW 8    writing 0 resets the device; NEEDS_RESET (0x40) set by the device
 *   0x13 ISR             R  8    read-to-clear: bit 0 queue, bit 1 config; drives INTx while non-zero
 *   0x14 MSI_CONFIG_VECTOR  RW 16   only while MSI-X is enabled
 *   0x16 MSI_QUEUE_VECTOR   RW 16   of the selected queue; only while MSI-X is enabled
 *   0x14 / 0x18          device config (struct virtio_net_config): mac[6], status (LINK_UP, cleared while
 *                        NEEDS_RESET is set); it starts at 0x18 while MSI-X is enabled, else at 0x14
 *
 * Accesses arrive as dwords with byte enables, so any width at any offset works as on an I/O BAR.
 *
 * Queues: 0 RX, 1 TX; each enabled while DRIVER_OK, its PFN set and NEEDS_RESET clear.
 *
 * Interrupts: a queue interrupt from an engine, or a configuration change (the engine stopped on bad
 * input: NEEDS_RESET), goes to its MSI-X vector when MSI-X is enabled (VIRTIO_MSI_NO_VECTOR: none), else
 * sets the ISR bit and INTx follows ISR != 0. Writing 0 to STATUS clears features, queue addresses,
 * vectors and ISR and pulses dev_reset, which stops the engines' DMA cleanly.
 *
 * A stopped queue on the legacy interface: NEEDS_RESET (0x40) is a virtio 1.x bit that a legacy driver
 * never looks at, so the device also reports the link down in the device config while it is set (with
 * the config interrupt that announces both): a driver that negotiated VIRTIO_NET_F_STATUS turns its
 * carrier off and stops queueing into the dead ring. A reset (STATUS = 0) brings the link back up.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module virtio_legacy_regs #
(
    parameter REG_ADDR_WIDTH = 12,
    parameter RX_QUEUE_SIZE = 256,
    parameter TX_QUEUE_SIZE = 256,
    parameter MSIX_VECTORS = 8,
    parameter MSIX_VEC_WIDTH = 3,
    parameter [47:0] MAC_ADDR = 48'h02_00_00_00_00_01   // mac[0] in bits [47:40]
)
(
    input  wire                       clk,
    input  wire                       rst,

    /*
     * Register bus (BAR0)
     */
    input  wire                       reg_req_valid,
    input  wire                       reg_req_write,
    input  wire [REG_ADDR_WIDTH-1:0]  reg_req_addr,
    input  wire [3:0]                 reg_req_be,
    input  wire [31:0]                reg_req_wdata,
    output wire                       reg_rsp_valid,
    output wire [31:0]                reg_rsp_rdata,

    /*
     * Device state for the engines
     */
    input  wire                       offer_noe,
    input  wire                       offer_indirect,
    input  wire                       offer_mrg_rxbuf,
    input  wire                       offer_event_idx,
    output wire [7:0]                 status,
    output wire [31:0]                guest_features,
    output wire                       tx_queue_enable,
    output wire [63:0]                tx_queue_base,
    output wire                       tx_notify,
    output wire                       rx_queue_enable,
    output wire [63:0]                rx_queue_base,
    output wire                       rx_notify,
    output wire                       dev_reset,

    /*
     * Interrupt sources
     */
    input  wire                       tx_irq,
    input  wire                       tx_error,
    input  wire                       rx_irq,
    input  wire                       rx_error,

    /*
     * Interrupt outputs: MSI-X requests, INTx level
     */
    input  wire                       msix_enabled,
    output wire                       irq_valid,
    output wire [MSIX_VEC_WIDTH-1:0]  irq_vector,
    input  wire                       irq_ready,
    output wire                       intx_level,

    output wire                       stat_config_irq
);

localparam [REG_ADDR_WIDTH-1:0]
    VIRTIO_PCI_HOST_FEATURES  = 12'h000,
    VIRTIO_PCI_GUEST_FEATURES = 12'h004,
    VIRTIO_PCI_QUEUE_PFN      = 12'h008,
    VIRTIO_PCI_QUEUE_NUM_SEL  = 12'h00C,   // QUEUE_NUM [15:0], QUEUE_SEL [31:16]
    VIRTIO_PCI_NOTIFY_STATUS  = 12'h010,   // QUEUE_NOTIFY [15:0], STATUS [23:16], ISR [31:24]
    VIRTIO_PCI_DWORD_14       = 12'h014,   // MSI-X vectors, or config bytes 0..3
    VIRTIO_PCI_DWORD_18       = 12'h018;

localparam VIRTIO_NET_F_MAC = 5;
localparam VIRTIO_NET_F_MRG_RXBUF = 15;
localparam VIRTIO_NET_F_STATUS = 16;
localparam VIRTIO_F_NOTIFY_ON_EMPTY = 24;
localparam VIRTIO_RING_F_INDIRECT_DESC = 28;
localparam VIRTIO_RING_F_EVENT_IDX = 29;

localparam [7:0] VIRTIO_CONFIG_S_DRIVER_OK = 8'h04;
localparam [7:0] VIRTIO_CONFIG_S_NEEDS_RESET = 8'h40;
localparam [15:0] VIRTIO_MSI_NO_VECTOR = 16'hFFFF;
localparam [15:0] VIRTIO_NET_S_LINK_UP = 16'h0001;

localparam [7:0] ISR_QUEUE = 8'h01;
localparam [7:0] ISR_CONFIG = 8'h02;

localparam RX_QUEUE = 0;
localparam TX_QUEUE = 1;

wire [31:0] host_features = (32'd1 << VIRTIO_NET_F_MAC) | (32'd1 << VIRTIO_NET_F_STATUS) |
                            (offer_mrg_rxbuf ? (32'd1 << VIRTIO_NET_F_MRG_RXBUF) : 32'd0) |
                            (offer_noe ? (32'd1 << VIRTIO_F_NOTIFY_ON_EMPTY) : 32'd0) |
                            (offer_indirect ? (32'd1 << VIRTIO_RING_F_INDIRECT_DESC) : 32'd0) |
                            (offer_event_idx ? (32'd1 << VIRTIO_RING_F_EVENT_IDX) : 32'd0);

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

// a vector the device cannot deliver reads back as NO_VECTOR
function [15:0] map_vector;
    input [15:0] v;
    begin
        map_vector = v < MSIX_VECTORS ? v : VIRTIO_MSI_NO_VECTOR;
    end
endfunction

// device config bytes (struct virtio_net_config): mac[0..5], status (le16), then zeros
function [7:0] config_byte;
    input [4:0]  index;
    input [15:0] net_status;
    begin
        case (index)
            5'd0: config_byte = MAC_ADDR[47:40];
            5'd1: config_byte = MAC_ADDR[39:32];
            5'd2: config_byte = MAC_ADDR[31:24];
            5'd3: config_byte = MAC_ADDR[23:16];
            5'd4: config_byte = MAC_ADDR[15:8];
            5'd5: config_byte = MAC_ADDR[7:0];
            5'd6: config_byte = net_status[7:0];
            5'd7: config_byte = net_status[15:8];
            default: config_byte = 8'd0;
        endcase
    end
endfunction

reg         rsp_valid_reg, rsp_valid_next;
reg  [31:0] rsp_rdata_reg, rsp_rdata_next;

reg  [31:0] guest_features_reg, guest_features_next;
reg  [15:0] queue_sel_reg, queue_sel_next;
reg  [31:0] rx_pfn_reg, rx_pfn_next;
reg  [31:0] tx_pfn_reg, tx_pfn_next;
reg  [7:0]  status_reg, status_next;
reg  [7:0]  isr_reg, isr_next;
reg  [15:0] config_vector_reg, config_vector_next;
reg  [15:0] rx_vector_reg, rx_vector_next;
reg  [15:0] tx_vector_reg, tx_vector_next;
reg         tx_notify_reg, tx_notify_next;
reg         rx_notify_reg, rx_notify_next;
reg         dev_reset_reg, dev_reset_next;

// MSI-X requests waiting for the MSI-X block
reg         pend_config_reg, pend_config_next;
reg         pend_tx_reg, pend_tx_next;
reg         pend_rx_reg, pend_rx_next;
reg         stat_config_irq_reg, stat_config_irq_next;

assign reg_rsp_valid = rsp_valid_reg;
assign reg_rsp_rdata = rsp_rdata_reg;

assign status = status_reg;
assign guest_features = guest_features_reg;
assign tx_queue_enable = (status_reg & VIRTIO_CONFIG_S_DRIVER_OK) != 0 && tx_pfn_reg != 0 &&
                         (status_reg & VIRTIO_CONFIG_S_NEEDS_RESET) == 0;
assign tx_queue_base = {20'd0, tx_pfn_reg, 12'd0};
assign tx_notify = tx_notify_reg;
assign rx_queue_enable = (status_reg & VIRTIO_CONFIG_S_DRIVER_OK) != 0 && rx_pfn_reg != 0 &&
                         (status_reg & VIRTIO_CONFIG_S_NEEDS_RESET) == 0;
assign rx_queue_base = {20'd0, rx_pfn_reg, 12'd0};
assign rx_notify = rx_notify_reg;
assign dev_reset = dev_reset_reg;

// config interrupts first, then TX, then RX
assign irq_valid = pend_config_reg || pend_tx_reg || pend_rx_reg;
assign irq_vector = pend_config_reg ? config_vector_reg[MSIX_VEC_WIDTH-1:0] :
                    pend_tx_reg ? tx_vector_reg[MSIX_VEC_WIDTH-1:0] : rx_vector_reg[MSIX_VEC_WIDTH-1:0];
assign intx_level = !msix_enabled && isr_reg != 8'd0;
assign stat_config_irq = stat_config_irq_reg;

wire [15:0] sel_queue_num = queue_sel_reg == 16'd0 ? RX_QUEUE_SIZE[15:0] :
                            queue_sel_reg == TX_QUEUE ? TX_QUEUE_SIZE[15:0] : 16'd0;
wire [31:0] sel_pfn = queue_sel_reg == 16'd0 ? rx_pfn_reg : queue_sel_reg == TX_QUEUE ? tx_pfn_reg : 32'd0;
wire [15:0] sel_vector = queue_sel_reg == 16'd0 ? rx_vector_reg :
                         queue_sel_reg == TX_QUEUE ? tx_vector_reg : VIRTIO_MSI_NO_VECTOR;

// device config: starts at 0x14, or 0x18 with MSI-X; index of the first byte of this dword in it
wire [REG_ADDR_WIDTH-1:0] config_base = msix_enabled ? VIRTIO_PCI_DWORD_18 : VIRTIO_PCI_DWORD_14;
wire in_config = reg_req_addr >= config_base && reg_req_addr < config_base + 12'd16;
// in_config bounds the offset below 16, so 4-bit arithmetic gives it exactly; [1:0] are 0
wire [3:0] config_offset = reg_req_addr[3:0] - config_base[3:0];
wire [4:0] config_index = {1'b0, config_offset};
// the link is reported down while the device needs a reset (the legacy driver's only stop signal)
wire [15:0] net_status = (status_reg & VIRTIO_CONFIG_S_NEEDS_RESET) != 0 ? 16'd0 : VIRTIO_NET_S_LINK_UP;
wire [31:0] config_dword = {config_byte(config_index + 5'd3, net_status), config_byte(config_index + 5'd2, net_status),
                            config_byte(config_index + 5'd1, net_status), config_byte(config_index, net_status)};

always @* begin
    rsp_valid_next = 1'b0;
    rsp_rdata_next = rsp_rdata_reg;
    guest_features_next = guest_features_reg;
    queue_sel_next = queue_sel_reg;
    rx_pfn_next = rx_pfn_reg;
    tx_pfn_next = tx_pfn_reg;
    status_next = status_reg;
    isr_next = isr_reg;
    config_vector_next = config_vector_reg;
    rx_vector_next = rx_vector_reg;
    tx_vector_next = tx_vector_reg;
    tx_notify_next = 1'b0;
    rx_notify_next = 1'b0;
    dev_reset_next = 1'b0;
    pend_config_next = pend_config_reg;
    pend_tx_next = pend_tx_reg;
    pend_rx_next = pend_rx_reg;
    stat_config_irq_next = 1'b0;

    // MSI-X request accepted
    if (irq_ready && irq_valid) begin
        if (pend_config_reg) begin
            pend_config_next = 1'b0;
        end else if (pend_tx_reg) begin
            pend_tx_next = 1'b0;
        end else begin
            pend_rx_next = 1'b0;
        end
    end

    // interrupt sources
    if (tx_irq) begin
        if (msix_enabled) begin
            pend_tx_next = tx_vector_reg != VIRTIO_MSI_NO_VECTOR;
        end else begin
            isr_next = isr_next | ISR_QUEUE;
        end
    end
    if (rx_irq) begin
        if (msix_enabled) begin
            pend_rx_next = rx_vector_reg != VIRTIO_MSI_NO_VECTOR;
        end else begin
            isr_next = isr_next | ISR_QUEUE;
        end
    end
    if (tx_error || rx_error) begin
        status_next = status_next | VIRTIO_CONFIG_S_NEEDS_RESET;
        stat_config_irq_next = 1'b1;
        if (msix_enabled) begin
            pend_config_next = config_vector_reg != VIRTIO_MSI_NO_VECTOR;
        end else begin
            isr_next = isr_next | ISR_CONFIG;
        end
    end

    if (reg_req_valid) begin
        rsp_valid_next = 1'b1;
        rsp_rdata_next = 32'd0;
        if (reg_req_write) begin
            case (reg_req_addr)
                VIRTIO_PCI_GUEST_FEATURES: begin
                    guest_features_next = apply_be(guest_features_reg, reg_req_wdata, reg_req_be) & host_features;
                end
                VIRTIO_PCI_QUEUE_PFN: begin
                    if (queue_sel_reg == RX_QUEUE) begin
                        rx_pfn_next = apply_be(rx_pfn_reg, reg_req_wdata, reg_req_be);
                    end else if (queue_sel_reg == TX_QUEUE) begin
                        tx_pfn_next = apply_be(tx_pfn_reg, reg_req_wdata, reg_req_be);
                    end
                end
                VIRTIO_PCI_QUEUE_NUM_SEL: begin
                    if (reg_req_be[2]) queue_sel_next[7:0] = reg_req_wdata[23:16];
                    if (reg_req_be[3]) queue_sel_next[15:8] = reg_req_wdata[31:24];
                end
                VIRTIO_PCI_NOTIFY_STATUS: begin
                    if (reg_req_be[1:0] != 2'b00) begin
                        // a 16-bit notify: the queue index (a byte write carries the low byte)
                        tx_notify_next = reg_req_wdata[7:0] == TX_QUEUE &&
                                         (!reg_req_be[1] || reg_req_wdata[15:8] == 8'd0);
                        rx_notify_next = reg_req_wdata[7:0] == RX_QUEUE &&
                                         (!reg_req_be[1] || reg_req_wdata[15:8] == 8'd0);
                    end
                    if (reg_req_be[2]) begin
                        if (reg_req_wdata[23:16] == 8'd0) begin
                            // reset: everything the driver set up goes back to its power-on value
                            status_next = 8'd0;
                            guest_features_next = 32'd0;
                            queue_sel_next = 16'd0;
                            rx_pfn_next = 32'd0;
                            tx_pfn_next = 32'd0;
                            isr_next = 8'd0;
                            config_vector_next = VIRTIO_MSI_NO_VECTOR;
                            rx_vector_next = VIRTIO_MSI_NO_VECTOR;
                            tx_vector_next = VIRTIO_MSI_NO_VECTOR;
                            pend_config_next = 1'b0;
                            pend_tx_next = 1'b0;
                            pend_rx_next = 1'b0;
                            dev_reset_next = 1'b1;
                        end else begin
                            // the device's own NEEDS_RESET stays until a reset
                            status_next = reg_req_wdata[23:16] | (status_reg & VIRTIO_CONFIG_S_NEEDS_RESET);
                        end
                    end
                end
                VIRTIO_PCI_DWORD_14: begin
                    if (msix_enabled) begin
                        if (reg_req_be[1:0] == 2'b11) begin
                            config_vector_next = map_vector(reg_req_wdata[15:0]);
                        end
                        if (reg_req_be[3:2] == 2'b11) begin
                            if (queue_sel_reg == 16'd0) begin
                                rx_vector_next = map_vector(reg_req_wdata[31:16]);
                            end else if (queue_sel_reg == TX_QUEUE) begin
                                tx_vector_next = map_vector(reg_req_wdata[31:16]);
                            end
                        end
                    end
                end
                default: begin end   // device config is read-only
            endcase
        end else begin
            if (in_config) begin
                rsp_rdata_next = config_dword;
            end else begin
                case (reg_req_addr)
                    VIRTIO_PCI_HOST_FEATURES: rsp_rdata_next = host_features;
                    VIRTIO_PCI_GUEST_FEATURES: rsp_rdata_next = guest_features_reg;
                    VIRTIO_PCI_QUEUE_PFN: rsp_rdata_next = sel_pfn;
                    VIRTIO_PCI_QUEUE_NUM_SEL: rsp_rdata_next = {queue_sel_reg, sel_queue_num};
                    VIRTIO_PCI_NOTIFY_STATUS: begin
                        rsp_rdata_next = {isr_reg, status_reg, 16'd0};
                        if (reg_req_be[3]) begin
                            // ISR is read-to-clear (a source firing in this very cycle is kept)
                            isr_next = ((tx_irq || rx_irq) && !msix_enabled ? ISR_QUEUE : 8'd0) |
                                       ((tx_error || rx_error) && !msix_enabled ? ISR_CONFIG : 8'd0);
                        end
                    end
                    VIRTIO_PCI_DWORD_14: begin
                        if (msix_enabled) begin
                            rsp_rdata_next = {sel_vector, config_vector_reg};
                        end
                    end
                    default: rsp_rdata_next = 32'd0;
                endcase
            end
        end
    end
end

always @(posedge clk) begin
    rsp_valid_reg <= rsp_valid_next;
    rsp_rdata_reg <= rsp_rdata_next;
    guest_features_reg <= guest_features_next;
    queue_sel_reg <= queue_sel_next;
    rx_pfn_reg <= rx_pfn_next;
    tx_pfn_reg <= tx_pfn_next;
    status_reg <= status_next;
    isr_reg <= isr_next;
    config_vector_reg <= config_vector_next;
    rx_vector_reg <= rx_vector_next;
    tx_vector_reg <= tx_vector_next;
    tx_notify_reg <= tx_notify_next;
    rx_notify_reg <= rx_notify_next;
    dev_reset_reg <= dev_reset_next;
    pend_config_reg <= pend_config_next;
    pend_tx_reg <= pend_tx_next;
    pend_rx_reg <= pend_rx_next;
    stat_config_irq_reg <= stat_config_irq_next;

    if (rst) begin
        rsp_valid_reg <= 1'b0;
        rsp_rdata_reg <= 32'd0;
        guest_features_reg <= 32'd0;
        queue_sel_reg <= 16'd0;
        rx_pfn_reg <= 32'd0;
        tx_pfn_reg <= 32'd0;
        status_reg <= 8'd0;
        isr_reg <= 8'd0;
        config_vector_reg <= VIRTIO_MSI_NO_VECTOR;
        rx_vector_reg <= VIRTIO_MSI_NO_VECTOR;
        tx_vector_reg <= VIRTIO_MSI_NO_VECTOR;
        tx_notify_reg <= 1'b0;
        rx_notify_reg <= 1'b0;
        dev_reset_reg <= 1'b0;
        pend_config_reg <= 1'b0;
        pend_tx_reg <= 1'b0;
        pend_rx_reg <= 1'b0;
        stat_config_irq_reg <= 1'b0;
    end
end

endmodule

`resetall
