// SPDX-License-Identifier: MIT
/*
 * virtio_pci_regs: the transitional virtio-pci register block. One device state (features, status, queue
 * configuration, MSI-X vectors, ISR, config generation) seen through two address decoders: the legacy
 * layout in BAR0 and the modern virtio 1.x layout in BAR4 (reg_req_modern = 1). The bridge has one access
 * outstanding at a time, so both decoders work on the same registers in the same always block; neither
 * keeps state of its own.
 *
 * Legacy layout, BAR0 (virtio spec "Legacy Interfaces: A Note on PCI Device Layout"; Linux
 * include/uapi/linux/virtio_pci.h):
 *
 *   0x00 HOST_FEATURES   R  32   the legacy feature set (below)
 *   0x04 GUEST_FEATURES  RW 32   what the driver acked (only offered bits are kept; bits 63:32 cleared)
 *   0x08 QUEUE_PFN       RW 32   ring address >> 12 of the selected queue; 0 disables the queue. The legacy
 *                                layout (align 4096, the maximum queue size) gives desc / avail / used
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
 * Modern layout, BAR4 (virtio 1.2 4.1.4; one region per virtio_pci_cap, tb/simulation/virtio_caps.py
 * describes them in config space):
 *
 *   0x000-0x037  common config (struct virtio_pci_common_cfg):
 *     0x00 device_feature_select RW 32   0x04 device_feature R 32 (the selected half of the modern set)
 *     0x08 driver_feature_select RW 32   0x0C driver_feature RW 32 (the selected half, stored as written)
 *     0x10 config_msix_vector    RW 16   0x12 num_queues R 16 (2)
 *     0x14 device_status         RW 8    0x15 config_generation R 8   0x16 queue_select RW 16
 *     0x18 queue_size            RW 16   (the maximum at reset; a power of two from 2 to it is kept
 *                                         while the queue is disabled, anything else ignored)
 *     0x1A queue_msix_vector     RW 16   0x1C queue_enable RW 16 (1 enables; 0 is ignored, as the spec
 *                                         forbids it)   0x1E queue_notify_off R 16 (the queue index)
 *     0x20/0x24 queue_desc, 0x28/0x2C queue_driver, 0x30/0x34 queue_device: 64-bit, lo / hi dwords
 *   0x100        ISR (1 byte, the same read-to-clear register as legacy's)
 *   0x200-0x20F  device config (struct virtio_net_config, the same bytes as the legacy layout's)
 *   0x300 + 4*q  notify of queue q (queue_notify_off * notify_off_multiplier, multiplier 4): any write kicks
 *   the rest of the BAR reads 0, writes are ignored
 *
 * Accesses arrive as dwords with byte enables, so any width at any offset works (an 8-byte access to a
 * 64-bit field arrives as its two dwords, low first).
 *
 * Features. Legacy set: MAC(5) | MRG_RXBUF(15, offer_mrg_rxbuf) | STATUS(16) | NOTIFY_ON_EMPTY(24, offer_noe)
 * | INDIRECT_DESC(28, offer_indirect) | EVENT_IDX(29, offer_event_idx). Modern set: the legacy set without
 * the legacy-only bits (NOTIFY_ON_EMPTY 24; ANY_LAYOUT 27 and UNUSED 30 are never offered), plus
 * VERSION_1(32) and ACCESS_PLATFORM(33), which the legacy interface cannot show. The engines use the acked
 * bits within the set of the interface the driver negotiated through: the modern set when VERSION_1 is
 * acked, else the legacy set. FEATURES_OK: a modern device_status write that sets FEATURES_OK keeps it only
 * when the driver's features are a subset of the modern set and include VERSION_1 (the device's features
 * depend on no other); otherwise FEATURES_OK reads back clear. A legacy STATUS write is stored as written.
 *
 * Queues: 0 RX, 1 TX; each runs while DRIVER_OK, enabled (legacy: PFN != 0; modern: queue_enable = 1) and
 * NEEDS_RESET clear. Either interface writes the same desc / avail (driver) / used (device) addresses and
 * enable bit; QUEUE_PFN reads back desc >> 12 while enabled through it.
 *
 * Interrupts: a queue interrupt from an engine, or a configuration change (the engine stopped on bad
 * input: NEEDS_RESET), goes to its MSI-X vector when MSI-X is enabled (VIRTIO_MSI_NO_VECTOR: none), else
 * sets the ISR bit and INTx follows ISR != 0. Writing 0 to STATUS or device_status clears features, queue
 * addresses, sizes, enables, vectors and ISR and pulses dev_reset, which stops the engines' DMA cleanly.
 *
 * A stopped queue on the legacy interface: NEEDS_RESET (0x40) is a virtio 1.x bit that a legacy driver
 * never looks at, so the device also reports the link down in the device config while it is set (with
 * the config interrupt that announces both): a driver that negotiated VIRTIO_NET_F_STATUS turns its
 * carrier off and stops queueing into the dead ring. A reset brings the link back up. Each of these two
 * changes of the device config increments config_generation.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module virtio_pci_regs #
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
     * Register bus: BAR0 (legacy layout) or BAR4 (modern layout, reg_req_modern = 1)
     */
    input  wire                       reg_req_valid,
    input  wire                       reg_req_modern,
    input  wire                       reg_req_write,
    input  wire [REG_ADDR_WIDTH-1:0]  reg_req_addr,
    input  wire [3:0]                 reg_req_be,
    input  wire [31:0]                reg_req_wdata,
    output wire                       reg_rsp_valid,
    output wire                       reg_rsp_modern,     // the answered access was a BAR4 access
    output wire [31:0]                reg_rsp_rdata,

    /*
     * Device state for the engines
     */
    input  wire                       offer_noe,
    input  wire                       offer_indirect,
    input  wire                       offer_mrg_rxbuf,
    input  wire                       offer_event_idx,
    output wire [7:0]                 status,
    output wire [63:0]                guest_features,     // acked, within the negotiated interface's set
    output wire                       tx_queue_enable,
    output wire [63:0]                tx_desc_addr,
    output wire [63:0]                tx_avail_addr,
    output wire [63:0]                tx_used_addr,
    output wire [15:0]                tx_queue_size,
    output wire                       tx_notify,
    output wire                       rx_queue_enable,
    output wire [63:0]                rx_desc_addr,
    output wire [63:0]                rx_avail_addr,
    output wire [63:0]                rx_used_addr,
    output wire [15:0]                rx_queue_size,
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

// legacy layout (BAR0)
localparam [REG_ADDR_WIDTH-1:0]
    VIRTIO_PCI_HOST_FEATURES  = 12'h000,
    VIRTIO_PCI_GUEST_FEATURES = 12'h004,
    VIRTIO_PCI_QUEUE_PFN      = 12'h008,
    VIRTIO_PCI_QUEUE_NUM_SEL  = 12'h00C,   // QUEUE_NUM [15:0], QUEUE_SEL [31:16]
    VIRTIO_PCI_NOTIFY_STATUS  = 12'h010,   // QUEUE_NOTIFY [15:0], STATUS [23:16], ISR [31:24]
    VIRTIO_PCI_DWORD_14       = 12'h014,   // MSI-X vectors, or config bytes 0..3
    VIRTIO_PCI_DWORD_18       = 12'h018;

// modern layout (BAR4): common config dwords, then the other regions
localparam [REG_ADDR_WIDTH-1:0]
    COMMON_DFSELECT   = 12'h000,
    COMMON_DF         = 12'h004,
    COMMON_GFSELECT   = 12'h008,
    COMMON_GF         = 12'h00C,
    COMMON_MSIX_NUMQ  = 12'h010,           // config_msix_vector [15:0], num_queues [31:16]
    COMMON_STATUS_SEL = 12'h014,           // device_status [7:0], config_generation [15:8], queue_select [31:16]
    COMMON_SIZE_VEC   = 12'h018,           // queue_size [15:0], queue_msix_vector [31:16]
    COMMON_ENABLE_NOFF = 12'h01C,          // queue_enable [15:0], queue_notify_off [31:16]
    COMMON_DESC_LO    = 12'h020,
    COMMON_DESC_HI    = 12'h024,
    COMMON_AVAIL_LO   = 12'h028,
    COMMON_AVAIL_HI   = 12'h02C,
    COMMON_USED_LO    = 12'h030,
    COMMON_USED_HI    = 12'h034,
    MODERN_ISR        = 12'h100,
    MODERN_DEVICE_CFG = 12'h200,           // 16 bytes
    MODERN_NOTIFY     = 12'h300;           // + queue_notify_off * NOTIFY_OFF_MULTIPLIER

localparam NOTIFY_OFF_MULTIPLIER = 4;
localparam [15:0] NUM_QUEUES = 16'd2;

localparam VIRTIO_NET_F_MAC = 5;
localparam VIRTIO_NET_F_MRG_RXBUF = 15;
localparam VIRTIO_NET_F_STATUS = 16;
localparam VIRTIO_F_NOTIFY_ON_EMPTY = 24;
localparam VIRTIO_RING_F_INDIRECT_DESC = 28;
localparam VIRTIO_RING_F_EVENT_IDX = 29;
localparam VIRTIO_F_VERSION_1 = 32;
localparam VIRTIO_F_ACCESS_PLATFORM = 33;

localparam [7:0] VIRTIO_CONFIG_S_FEATURES_OK = 8'h08;
localparam [7:0] VIRTIO_CONFIG_S_DRIVER_OK = 8'h04;
localparam [7:0] VIRTIO_CONFIG_S_NEEDS_RESET = 8'h40;
localparam [15:0] VIRTIO_MSI_NO_VECTOR = 16'hFFFF;
localparam [15:0] VIRTIO_NET_S_LINK_UP = 16'h0001;

localparam [7:0] ISR_QUEUE = 8'h01;
localparam [7:0] ISR_CONFIG = 8'h02;

localparam RX_QUEUE = 0;
localparam TX_QUEUE = 1;

// the legacy ring layout of a queue of the maximum size, align 4096: avail after the descriptors, used on
// the next 4 KiB boundary after avail (flags, idx, ring[Q], used_event)
localparam [63:0] RX_AVAIL_OFF = 16*RX_QUEUE_SIZE;
localparam [63:0] RX_USED_OFF = ((16*RX_QUEUE_SIZE + 2*(3 + RX_QUEUE_SIZE) + 4095) / 4096) * 4096;
localparam [63:0] TX_AVAIL_OFF = 16*TX_QUEUE_SIZE;
localparam [63:0] TX_USED_OFF = ((16*TX_QUEUE_SIZE + 2*(3 + TX_QUEUE_SIZE) + 4095) / 4096) * 4096;

initial begin
    if (REG_ADDR_WIDTH != 12) begin
        $error("Error: REG_ADDR_WIDTH must be 12 (4 KiB BARs) (instance %m)");
        $finish;
    end
    if (RX_QUEUE_SIZE < 2 || RX_QUEUE_SIZE > 32768 || (RX_QUEUE_SIZE & (RX_QUEUE_SIZE - 1)) != 0
            || TX_QUEUE_SIZE < 2 || TX_QUEUE_SIZE > 32768 || (TX_QUEUE_SIZE & (TX_QUEUE_SIZE - 1)) != 0) begin
        $error("Error: queue sizes must be powers of 2 in 2..32768 (instance %m)");
        $finish;
    end
end

wire [31:0] host_features = (32'd1 << VIRTIO_NET_F_MAC) | (32'd1 << VIRTIO_NET_F_STATUS) |
                            (offer_mrg_rxbuf ? (32'd1 << VIRTIO_NET_F_MRG_RXBUF) : 32'd0) |
                            (offer_noe ? (32'd1 << VIRTIO_F_NOTIFY_ON_EMPTY) : 32'd0) |
                            (offer_indirect ? (32'd1 << VIRTIO_RING_F_INDIRECT_DESC) : 32'd0) |
                            (offer_event_idx ? (32'd1 << VIRTIO_RING_F_EVENT_IDX) : 32'd0);
// the modern set: no legacy-only bit, VERSION_1 and ACCESS_PLATFORM on top
wire [63:0] modern_features = (64'd1 << VIRTIO_F_VERSION_1) | (64'd1 << VIRTIO_F_ACCESS_PLATFORM) |
                              {32'd0, host_features & ~(32'd1 << VIRTIO_F_NOTIFY_ON_EMPTY)};

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

// a queue size the driver may choose: a power of two from 2 to the maximum
function size_ok;
    input [15:0] v;
    input [15:0] max;
    begin
        size_ok = v >= 16'd2 && v <= max && (v & (v - 16'd1)) == 16'd0;
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
reg         rsp_modern_reg, rsp_modern_next;
reg  [31:0] rsp_rdata_reg, rsp_rdata_next;

reg  [63:0] guest_features_reg, guest_features_next;
reg  [31:0] dfselect_reg, dfselect_next;        // device_feature_select (0, 1: the halves; others read 0)
reg  [31:0] gfselect_reg, gfselect_next;
reg  [15:0] queue_sel_reg, queue_sel_next;
reg  [7:0]  status_reg, status_next;
reg  [7:0]  isr_reg, isr_next;
reg  [7:0]  generation_reg, generation_next;
reg  [15:0] config_vector_reg, config_vector_next;
reg  [15:0] rx_vector_reg, rx_vector_next;
reg  [15:0] tx_vector_reg, tx_vector_next;
reg         tx_notify_reg, tx_notify_next;
reg         rx_notify_reg, rx_notify_next;
reg         dev_reset_reg, dev_reset_next;

// per queue: enable, the three ring addresses, the running size
reg         rx_en_reg, rx_en_next, tx_en_reg, tx_en_next;
reg  [63:0] rx_desc_reg, rx_desc_next, tx_desc_reg, tx_desc_next;
reg  [63:0] rx_avail_reg, rx_avail_next, tx_avail_reg, tx_avail_next;
reg  [63:0] rx_used_reg, rx_used_next, tx_used_reg, tx_used_next;
reg  [15:0] rx_size_reg, rx_size_next, tx_size_reg, tx_size_next;

// MSI-X requests waiting for the MSI-X block
reg         pend_config_reg, pend_config_next;
reg         pend_tx_reg, pend_tx_next;
reg         pend_rx_reg, pend_rx_next;
reg         stat_config_irq_reg, stat_config_irq_next;

assign reg_rsp_valid = rsp_valid_reg;
assign reg_rsp_modern = rsp_modern_reg;
assign reg_rsp_rdata = rsp_rdata_reg;

wire running = (status_reg & VIRTIO_CONFIG_S_DRIVER_OK) != 0 && (status_reg & VIRTIO_CONFIG_S_NEEDS_RESET) == 0;

assign status = status_reg;
// VERSION_1 acked: the modern interface's rules, else the legacy interface's
assign guest_features = guest_features_reg & (guest_features_reg[VIRTIO_F_VERSION_1] ? modern_features :
                                              {32'd0, host_features});
assign tx_queue_enable = running && tx_en_reg;
assign tx_desc_addr = tx_desc_reg;
assign tx_avail_addr = tx_avail_reg;
assign tx_used_addr = tx_used_reg;
assign tx_queue_size = tx_size_reg;
assign tx_notify = tx_notify_reg;
assign rx_queue_enable = running && rx_en_reg;
assign rx_desc_addr = rx_desc_reg;
assign rx_avail_addr = rx_avail_reg;
assign rx_used_addr = rx_used_reg;
assign rx_queue_size = rx_size_reg;
assign rx_notify = rx_notify_reg;
assign dev_reset = dev_reset_reg;

// config interrupts first, then TX, then RX
assign irq_valid = pend_config_reg || pend_tx_reg || pend_rx_reg;
assign irq_vector = pend_config_reg ? config_vector_reg[MSIX_VEC_WIDTH-1:0] :
                    pend_tx_reg ? tx_vector_reg[MSIX_VEC_WIDTH-1:0] : rx_vector_reg[MSIX_VEC_WIDTH-1:0];
assign intx_level = !msix_enabled && isr_reg != 8'd0;
assign stat_config_irq = stat_config_irq_reg;

wire sel_rx = queue_sel_reg == RX_QUEUE;
wire sel_tx = queue_sel_reg == TX_QUEUE;
wire [15:0] sel_max_size = sel_rx ? RX_QUEUE_SIZE[15:0] : sel_tx ? TX_QUEUE_SIZE[15:0] : 16'd0;
wire [15:0] sel_size = sel_rx ? rx_size_reg : sel_tx ? tx_size_reg : 16'd0;
wire        sel_en = sel_rx ? rx_en_reg : sel_tx ? tx_en_reg : 1'b0;
wire [63:0] sel_desc = sel_rx ? rx_desc_reg : sel_tx ? tx_desc_reg : 64'd0;
wire [63:0] sel_avail = sel_rx ? rx_avail_reg : sel_tx ? tx_avail_reg : 64'd0;
wire [63:0] sel_used = sel_rx ? rx_used_reg : sel_tx ? tx_used_reg : 64'd0;
wire [31:0] sel_pfn = sel_en ? sel_desc[43:12] : 32'd0;
wire [15:0] sel_vector = sel_rx ? rx_vector_reg : sel_tx ? tx_vector_reg : VIRTIO_MSI_NO_VECTOR;
wire [15:0] sel_notify_off = (sel_rx || sel_tx) ? queue_sel_reg : 16'd0;

// device config: legacy at 0x14, or 0x18 with MSI-X; modern at 0x200. Index of this dword's first byte
wire [REG_ADDR_WIDTH-1:0] legacy_config_base = msix_enabled ? VIRTIO_PCI_DWORD_18 : VIRTIO_PCI_DWORD_14;
wire in_legacy_config = reg_req_addr >= legacy_config_base && reg_req_addr < legacy_config_base + 12'd16;
wire in_modern_config = reg_req_addr[11:4] == MODERN_DEVICE_CFG[11:4];
// the bounds keep the offset below 16, so 4-bit arithmetic gives it exactly; [1:0] are 0
wire [3:0] config_offset = reg_req_modern ? reg_req_addr[3:0] : reg_req_addr[3:0] - legacy_config_base[3:0];
wire [4:0] config_index = {1'b0, config_offset};
// the link is reported down while the device needs a reset (the legacy driver's only stop signal)
wire [15:0] net_status = (status_reg & VIRTIO_CONFIG_S_NEEDS_RESET) != 0 ? 16'd0 : VIRTIO_NET_S_LINK_UP;
wire [31:0] config_dword = {config_byte(config_index + 5'd3, net_status), config_byte(config_index + 5'd2, net_status),
                            config_byte(config_index + 5'd1, net_status), config_byte(config_index, net_status)};

// a queue's interrupt counts only while that queue runs, an engine error only while DRIVER_OK is set: one
// an engine raises in the cycles a reset takes to reach it belongs to the rings the reset dropped (ISR,
// vectors and status are already clear; taken now, it would interrupt the next driver or make it see
// NEEDS_RESET on a device it has just reset)
wire tx_irq_live = tx_irq && tx_queue_enable;
wire rx_irq_live = rx_irq && rx_queue_enable;
wire error_live = (tx_error || rx_error) && (status_reg & VIRTIO_CONFIG_S_DRIVER_OK) != 0;

// the ISR read-to-clear value: a source firing in this very cycle is kept
wire [7:0] isr_after_read = ((tx_irq_live || rx_irq_live) && !msix_enabled ? ISR_QUEUE : 8'd0) |
                            (error_live && !msix_enabled ? ISR_CONFIG : 8'd0);

// FEATURES_OK: a subset of the modern set, with VERSION_1
wire features_acceptable = (guest_features_reg & ~modern_features) == 64'd0 && guest_features_reg[VIRTIO_F_VERSION_1];

// a 64-bit address register written one dword at a time
function [63:0] write_lo;
    input [63:0] old;
    input [31:0] wdata;
    input [3:0]  be;
    begin
        write_lo = {old[63:32], apply_be(old[31:0], wdata, be)};
    end
endfunction

function [63:0] write_hi;
    input [63:0] old;
    input [31:0] wdata;
    input [3:0]  be;
    begin
        write_hi = {apply_be(old[63:32], wdata, be), old[31:0]};
    end
endfunction

always @* begin
    rsp_valid_next = 1'b0;
    rsp_modern_next = rsp_modern_reg;
    rsp_rdata_next = rsp_rdata_reg;
    guest_features_next = guest_features_reg;
    dfselect_next = dfselect_reg;
    gfselect_next = gfselect_reg;
    queue_sel_next = queue_sel_reg;
    status_next = status_reg;
    isr_next = isr_reg;
    generation_next = generation_reg;
    config_vector_next = config_vector_reg;
    rx_vector_next = rx_vector_reg;
    tx_vector_next = tx_vector_reg;
    tx_notify_next = 1'b0;
    rx_notify_next = 1'b0;
    dev_reset_next = 1'b0;
    rx_en_next = rx_en_reg;
    tx_en_next = tx_en_reg;
    rx_desc_next = rx_desc_reg;
    tx_desc_next = tx_desc_reg;
    rx_avail_next = rx_avail_reg;
    tx_avail_next = tx_avail_reg;
    rx_used_next = rx_used_reg;
    tx_used_next = tx_used_reg;
    rx_size_next = rx_size_reg;
    tx_size_next = tx_size_reg;
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
    if (tx_irq_live) begin
        if (msix_enabled) begin
            pend_tx_next = tx_vector_reg != VIRTIO_MSI_NO_VECTOR;
        end else begin
            isr_next = isr_next | ISR_QUEUE;
        end
    end
    if (rx_irq_live) begin
        if (msix_enabled) begin
            pend_rx_next = rx_vector_reg != VIRTIO_MSI_NO_VECTOR;
        end else begin
            isr_next = isr_next | ISR_QUEUE;
        end
    end
    if (error_live) begin
        status_next = status_next | VIRTIO_CONFIG_S_NEEDS_RESET;
        // the device config's link status changes with the first NEEDS_RESET
        if ((status_reg & VIRTIO_CONFIG_S_NEEDS_RESET) == 0) begin
            generation_next = generation_reg + 8'd1;
        end
        stat_config_irq_next = 1'b1;
        if (msix_enabled) begin
            pend_config_next = config_vector_reg != VIRTIO_MSI_NO_VECTOR;
        end else begin
            isr_next = isr_next | ISR_CONFIG;
        end
    end

    if (reg_req_valid) begin
        rsp_valid_next = 1'b1;
        rsp_modern_next = reg_req_modern;
        rsp_rdata_next = 32'd0;
        if (reg_req_write && !reg_req_modern) begin
            // legacy layout
            case (reg_req_addr)
                VIRTIO_PCI_GUEST_FEATURES: begin
                    guest_features_next = {32'd0, apply_be(guest_features_reg[31:0], reg_req_wdata, reg_req_be)
                                                  & host_features};
                end
                VIRTIO_PCI_QUEUE_PFN: begin
                    if (sel_rx) begin
                        rx_desc_next = {20'd0, apply_be(rx_desc_reg[43:12], reg_req_wdata, reg_req_be), 12'd0};
                        rx_avail_next = rx_desc_next + RX_AVAIL_OFF;
                        rx_used_next = rx_desc_next + RX_USED_OFF;
                        rx_size_next = RX_QUEUE_SIZE[15:0];
                        rx_en_next = rx_desc_next != 64'd0;
                    end else if (sel_tx) begin
                        tx_desc_next = {20'd0, apply_be(tx_desc_reg[43:12], reg_req_wdata, reg_req_be), 12'd0};
                        tx_avail_next = tx_desc_next + TX_AVAIL_OFF;
                        tx_used_next = tx_desc_next + TX_USED_OFF;
                        tx_size_next = TX_QUEUE_SIZE[15:0];
                        tx_en_next = tx_desc_next != 64'd0;
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
                            if (sel_rx) begin
                                rx_vector_next = map_vector(reg_req_wdata[31:16]);
                            end else if (sel_tx) begin
                                tx_vector_next = map_vector(reg_req_wdata[31:16]);
                            end
                        end
                    end
                end
                default: begin end   // device config is read-only
            endcase
        end else if (reg_req_write) begin
            // modern layout
            case (reg_req_addr)
                COMMON_DFSELECT: begin
                    dfselect_next = apply_be(dfselect_reg, reg_req_wdata, reg_req_be);
                end
                COMMON_GFSELECT: gfselect_next = apply_be(gfselect_reg, reg_req_wdata, reg_req_be);
                COMMON_GF: begin
                    if (gfselect_reg == 32'd0) begin
                        guest_features_next = write_lo(guest_features_reg, reg_req_wdata, reg_req_be);
                    end else if (gfselect_reg == 32'd1) begin
                        guest_features_next = write_hi(guest_features_reg, reg_req_wdata, reg_req_be);
                    end
                end
                COMMON_MSIX_NUMQ: begin
                    if (reg_req_be[1:0] == 2'b11) begin
                        config_vector_next = map_vector(reg_req_wdata[15:0]);
                    end
                end
                COMMON_STATUS_SEL: begin
                    if (reg_req_be[0]) begin
                        if (reg_req_wdata[7:0] == 8'd0) begin
                            dev_reset_next = 1'b1;
                        end else if ((reg_req_wdata[7:0] & VIRTIO_CONFIG_S_FEATURES_OK) != 0
                                     && !features_acceptable) begin
                            // refused: FEATURES_OK reads back clear
                            status_next = (reg_req_wdata[7:0] & ~VIRTIO_CONFIG_S_FEATURES_OK)
                                          | (status_reg & VIRTIO_CONFIG_S_NEEDS_RESET);
                        end else begin
                            status_next = reg_req_wdata[7:0] | (status_reg & VIRTIO_CONFIG_S_NEEDS_RESET);
                        end
                    end
                    if (reg_req_be[2]) queue_sel_next[7:0] = reg_req_wdata[23:16];
                    if (reg_req_be[3]) queue_sel_next[15:8] = reg_req_wdata[31:24];
                end
                COMMON_SIZE_VEC: begin
                    // the running size changes only while the queue is disabled (the engines index by it)
                    if (reg_req_be[1:0] == 2'b11 && size_ok(reg_req_wdata[15:0], sel_max_size) && !sel_en) begin
                        if (sel_rx) rx_size_next = reg_req_wdata[15:0];
                        if (sel_tx) tx_size_next = reg_req_wdata[15:0];
                    end
                    if (reg_req_be[3:2] == 2'b11) begin
                        if (sel_rx) rx_vector_next = map_vector(reg_req_wdata[31:16]);
                        if (sel_tx) tx_vector_next = map_vector(reg_req_wdata[31:16]);
                    end
                end
                COMMON_ENABLE_NOFF: begin
                    // 1 enables; the driver must not write 0 (a reset disables)
                    if (reg_req_be[0] && reg_req_wdata[0]) begin
                        if (sel_rx) rx_en_next = 1'b1;
                        if (sel_tx) tx_en_next = 1'b1;
                    end
                end
                COMMON_DESC_LO: begin
                    if (sel_rx) rx_desc_next = write_lo(rx_desc_reg, reg_req_wdata, reg_req_be);
                    if (sel_tx) tx_desc_next = write_lo(tx_desc_reg, reg_req_wdata, reg_req_be);
                end
                COMMON_DESC_HI: begin
                    if (sel_rx) rx_desc_next = write_hi(rx_desc_reg, reg_req_wdata, reg_req_be);
                    if (sel_tx) tx_desc_next = write_hi(tx_desc_reg, reg_req_wdata, reg_req_be);
                end
                COMMON_AVAIL_LO: begin
                    if (sel_rx) rx_avail_next = write_lo(rx_avail_reg, reg_req_wdata, reg_req_be);
                    if (sel_tx) tx_avail_next = write_lo(tx_avail_reg, reg_req_wdata, reg_req_be);
                end
                COMMON_AVAIL_HI: begin
                    if (sel_rx) rx_avail_next = write_hi(rx_avail_reg, reg_req_wdata, reg_req_be);
                    if (sel_tx) tx_avail_next = write_hi(tx_avail_reg, reg_req_wdata, reg_req_be);
                end
                COMMON_USED_LO: begin
                    if (sel_rx) rx_used_next = write_lo(rx_used_reg, reg_req_wdata, reg_req_be);
                    if (sel_tx) tx_used_next = write_lo(tx_used_reg, reg_req_wdata, reg_req_be);
                end
                COMMON_USED_HI: begin
                    if (sel_rx) rx_used_next = write_hi(rx_used_reg, reg_req_wdata, reg_req_be);
                    if (sel_tx) tx_used_next = write_hi(tx_used_reg, reg_req_wdata, reg_req_be);
                end
                MODERN_NOTIFY + RX_QUEUE * NOTIFY_OFF_MULTIPLIER: rx_notify_next = reg_req_be != 4'd0;
                MODERN_NOTIFY + TX_QUEUE * NOTIFY_OFF_MULTIPLIER: tx_notify_next = reg_req_be != 4'd0;
                default: begin end   // read-only fields, device config, ISR, the rest of the BAR
            endcase
        end else if (!reg_req_modern) begin
            // legacy layout, read
            if (in_legacy_config) begin
                rsp_rdata_next = config_dword;
            end else begin
                case (reg_req_addr)
                    VIRTIO_PCI_HOST_FEATURES: rsp_rdata_next = host_features;
                    VIRTIO_PCI_GUEST_FEATURES: rsp_rdata_next = guest_features_reg[31:0];
                    VIRTIO_PCI_QUEUE_PFN: rsp_rdata_next = sel_pfn;
                    VIRTIO_PCI_QUEUE_NUM_SEL: rsp_rdata_next = {queue_sel_reg, sel_max_size};
                    VIRTIO_PCI_NOTIFY_STATUS: begin
                        rsp_rdata_next = {isr_reg, status_reg, 16'd0};
                        if (reg_req_be[3]) begin
                            isr_next = isr_after_read;
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
        end else begin
            // modern layout, read
            if (in_modern_config) begin
                rsp_rdata_next = config_dword;
            end else begin
                case (reg_req_addr)
                    COMMON_DFSELECT: rsp_rdata_next = dfselect_reg;
                    COMMON_DF: rsp_rdata_next = dfselect_reg == 32'd0 ? modern_features[31:0] :
                                                dfselect_reg == 32'd1 ? modern_features[63:32] : 32'd0;
                    COMMON_GFSELECT: rsp_rdata_next = gfselect_reg;
                    COMMON_GF: rsp_rdata_next = gfselect_reg == 32'd0 ? guest_features_reg[31:0] :
                                                gfselect_reg == 32'd1 ? guest_features_reg[63:32] : 32'd0;
                    COMMON_MSIX_NUMQ: rsp_rdata_next = {NUM_QUEUES, config_vector_reg};
                    COMMON_STATUS_SEL: rsp_rdata_next = {queue_sel_reg, generation_reg, status_reg};
                    COMMON_SIZE_VEC: rsp_rdata_next = {sel_vector, sel_size};
                    COMMON_ENABLE_NOFF: rsp_rdata_next = {sel_notify_off, 15'd0, sel_en};
                    COMMON_DESC_LO: rsp_rdata_next = sel_desc[31:0];
                    COMMON_DESC_HI: rsp_rdata_next = sel_desc[63:32];
                    COMMON_AVAIL_LO: rsp_rdata_next = sel_avail[31:0];
                    COMMON_AVAIL_HI: rsp_rdata_next = sel_avail[63:32];
                    COMMON_USED_LO: rsp_rdata_next = sel_used[31:0];
                    COMMON_USED_HI: rsp_rdata_next = sel_used[63:32];
                    MODERN_ISR: begin
                        rsp_rdata_next = {24'd0, isr_reg};
                        if (reg_req_be[0]) begin
                            isr_next = isr_after_read;
                        end
                    end
                    default: rsp_rdata_next = 32'd0;
                endcase
            end
        end
    end

    if (dev_reset_next) begin
        // reset: everything the driver set up goes back to its power-on value; the device config's link
        // comes back up (a change when NEEDS_RESET was set)
        if ((status_reg & VIRTIO_CONFIG_S_NEEDS_RESET) != 0) begin
            generation_next = generation_reg + 8'd1;
        end
        status_next = 8'd0;
        guest_features_next = 64'd0;
        dfselect_next = 32'd0;
        gfselect_next = 32'd0;
        queue_sel_next = 16'd0;
        rx_en_next = 1'b0;
        tx_en_next = 1'b0;
        rx_desc_next = 64'd0;
        tx_desc_next = 64'd0;
        rx_avail_next = 64'd0;
        tx_avail_next = 64'd0;
        rx_used_next = 64'd0;
        tx_used_next = 64'd0;
        rx_size_next = RX_QUEUE_SIZE[15:0];
        tx_size_next = TX_QUEUE_SIZE[15:0];
        isr_next = 8'd0;
        config_vector_next = VIRTIO_MSI_NO_VECTOR;
        rx_vector_next = VIRTIO_MSI_NO_VECTOR;
        tx_vector_next = VIRTIO_MSI_NO_VECTOR;
        pend_config_next = 1'b0;
        pend_tx_next = 1'b0;
        pend_rx_next = 1'b0;
    end
end

always @(posedge clk) begin
    rsp_valid_reg <= rsp_valid_next;
    rsp_modern_reg <= rsp_modern_next;
    rsp_rdata_reg <= rsp_rdata_next;
    guest_features_reg <= guest_features_next;
    dfselect_reg <= dfselect_next;
    gfselect_reg <= gfselect_next;
    queue_sel_reg <= queue_sel_next;
    status_reg <= status_next;
    isr_reg <= isr_next;
    generation_reg <= generation_next;
    config_vector_reg <= config_vector_next;
    rx_vector_reg <= rx_vector_next;
    tx_vector_reg <= tx_vector_next;
    tx_notify_reg <= tx_notify_next;
    rx_notify_reg <= rx_notify_next;
    dev_reset_reg <= dev_reset_next;
    rx_en_reg <= rx_en_next;
    tx_en_reg <= tx_en_next;
    rx_desc_reg <= rx_desc_next;
    tx_desc_reg <= tx_desc_next;
    rx_avail_reg <= rx_avail_next;
    tx_avail_reg <= tx_avail_next;
    rx_used_reg <= rx_used_next;
    tx_used_reg <= tx_used_next;
    rx_size_reg <= rx_size_next;
    tx_size_reg <= tx_size_next;
    pend_config_reg <= pend_config_next;
    pend_tx_reg <= pend_tx_next;
    pend_rx_reg <= pend_rx_next;
    stat_config_irq_reg <= stat_config_irq_next;

    if (rst) begin
        rsp_valid_reg <= 1'b0;
        rsp_modern_reg <= 1'b0;
        rsp_rdata_reg <= 32'd0;
        guest_features_reg <= 64'd0;
        dfselect_reg <= 32'd0;
        gfselect_reg <= 32'd0;
        queue_sel_reg <= 16'd0;
        status_reg <= 8'd0;
        isr_reg <= 8'd0;
        generation_reg <= 8'd0;
        config_vector_reg <= VIRTIO_MSI_NO_VECTOR;
        rx_vector_reg <= VIRTIO_MSI_NO_VECTOR;
        tx_vector_reg <= VIRTIO_MSI_NO_VECTOR;
        tx_notify_reg <= 1'b0;
        rx_notify_reg <= 1'b0;
        dev_reset_reg <= 1'b0;
        rx_en_reg <= 1'b0;
        tx_en_reg <= 1'b0;
        rx_desc_reg <= 64'd0;
        tx_desc_reg <= 64'd0;
        rx_avail_reg <= 64'd0;
        tx_avail_reg <= 64'd0;
        rx_used_reg <= 64'd0;
        tx_used_reg <= 64'd0;
        rx_size_reg <= RX_QUEUE_SIZE[15:0];
        tx_size_reg <= TX_QUEUE_SIZE[15:0];
        pend_config_reg <= 1'b0;
        pend_tx_reg <= 1'b0;
        pend_rx_reg <= 1'b0;
        stat_config_irq_reg <= 1'b0;
    end
end

endmodule

`resetall
