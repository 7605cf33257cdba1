`resetall
`timescale 1ns / 1ps
`default_nettype none

/*
 * MSI-X table + PBA for the UltraScale+ PCIe hard block in "external table" mode
 *
 * The MSI-X table (16 bytes per vector: message address lo, message address hi, message data,
 * vector control) and the Pending Bit Array live in a BAR served through the register bus:
 * table at offset 0, PBA at PBA_OFFSET (one bit per vector, read-only, writes ignored). Unused
 * addresses read 0 and ignore writes. Register accesses are served independently of message
 * sending: a read answers 2 cycles after reg_req_valid, a write 1 cycle after.
 *
 * Interrupt requests (irq_valid/irq_ready/irq_vector) follow the PCIe MSI-X rules:
 *   - MSI-X disabled (cfg_interrupt_msix_enable[0] = 0), or vector >= VEC_COUNT: accepted and dropped.
 *   - vector masked (its Vector Control mask bit, or the function mask cfg_interrupt_msix_mask[0]):
 *     the vector's pending bit is set, nothing is sent (requests coalesce into one pending bit).
 *   - otherwise the message (address/data from the table) is sent on cfg_interrupt_msix_*: one-cycle
 *     cfg_interrupt_msix_int, then wait for a one-cycle cfg_interrupt_msix_sent or _fail.
 * A pending vector that becomes unmasked (mask bit cleared by a table write, or the function mask
 * dropping) is sent and its pending bit cleared; several such vectors go out lowest number first.
 * One message is in flight at a time; irq_ready is high only when the sender is idle and no
 * pending-and-unmasked vector is waiting, so requests leave in the order they were accepted.
 *
 * cfg_interrupt_msix_fail: the vector's pending bit is set again, and it is not retried at once
 * (a hard block refusing the message would otherwise be asked again every few cycles): the retry
 * happens on the next unmask of that vector, i.e. after its mask bit or the function mask has been
 * set and cleared again, or MSI-X disabled and re-enabled; or when a new request for that vector
 * arrives while it is unmasked.
 *
 * If the vector gets masked (or MSI-X disabled) between acceptance and the message leaving, the
 * mask is honoured at the last moment: the pending bit is set (or the request dropped) instead.
 *
 * Pending bits survive MSI-X being disabled and are sent when it is enabled again with the vector
 * unmasked. The table's address/data words have no reset (undefined after reset, as in the PCIe
 * spec); every mask bit resets to 1 and every pending bit to 0.
 *
 * Only physical function 0 is used: bit 0 of cfg_interrupt_msix_enable/_mask,
 * cfg_interrupt_msi_function_number = 0.
 */
module pcie_msix #
(
    // number of MSI-X vectors (table entries), 1..64
    parameter VEC_COUNT = 8,
    // register bus byte address width (BAR size)
    parameter REG_ADDR_WIDTH = 12,
    // byte offset of the PBA in the BAR (8-byte aligned, after the table)
    parameter PBA_OFFSET = 'h800
)
(
    input  wire                       clk,
    input  wire                       rst,

    /*
     * Register bus target (already decoded to this BAR)
     */
    input  wire                       reg_req_valid,
    input  wire                       reg_req_write,
    input  wire [REG_ADDR_WIDTH-1:0]  reg_req_addr,
    input  wire [3:0]                 reg_req_be,
    input  wire [31:0]                reg_req_wdata,
    output wire                       reg_rsp_valid,
    output wire [31:0]                reg_rsp_rdata,

    /*
     * Interrupt requests from the device logic
     */
    input  wire                       irq_valid,
    output wire                       irq_ready,
    // [VEC_WIDTH-1:0], VEC_WIDTH as below (a port list cannot use a localparam in Verilog-2005)
    input  wire [(VEC_COUNT > 1 ? $clog2(VEC_COUNT) : 1)-1:0] irq_vector,

    /*
     * Hard block MSI-X interface (external table mode)
     */
    input  wire [3:0]                 cfg_interrupt_msix_enable,
    input  wire [3:0]                 cfg_interrupt_msix_mask,
    output wire [63:0]                cfg_interrupt_msix_address,
    output wire [31:0]                cfg_interrupt_msix_data,
    output wire                       cfg_interrupt_msix_int,
    input  wire                       cfg_interrupt_msix_sent,
    input  wire                       cfg_interrupt_msix_fail,
    output wire [7:0]                 cfg_interrupt_msi_function_number,

    /*
     * Statistics
     */
    output wire                       stat_msix_sent
);

// vector number width, at least 1
localparam VEC_WIDTH = VEC_COUNT > 1 ? $clog2(VEC_COUNT) : 1;

// MSI-X table entry layout (PCIe Base Spec, MSI-X Table Structure), 16 bytes per vector
localparam MSIX_TABLE_ENTRY_ADDR_LO = 2'd0;
localparam MSIX_TABLE_ENTRY_ADDR_HI = 2'd1;
localparam MSIX_TABLE_ENTRY_DATA    = 2'd2;
localparam MSIX_TABLE_ENTRY_VEC_CTRL = 2'd3;
localparam MSIX_VEC_CTRL_MASK_BIT   = 0;

// BAR decode, done in 32-bit arithmetic so that parameters of any given width compare cleanly
localparam [31:0] TABLE_END = VEC_COUNT*16;
localparam [31:0] PBA_ADDR = PBA_OFFSET;
localparam [31:0] VEC_LIMIT = VEC_COUNT;
// the PBA is one QWORD (8-byte aligned): dword 0 = vectors 0..31, dword 1 = vectors 32..63
localparam PBA_HI_USED = VEC_COUNT > 32;

// the table RAM is 2**VEC_WIDTH deep so that every vector number indexes inside it
localparam TABLE_DEPTH = 2**VEC_WIDTH;

// sender states
localparam [1:0]
    STATE_IDLE = 2'd0,
    STATE_READ = 2'd1,
    STATE_SEND = 2'd2,
    STATE_WAIT = 2'd3;

// parameter checks
initial begin
    if (VEC_COUNT < 1 || VEC_COUNT > 64) begin
        $error("Error: VEC_COUNT must be 1..64 (instance %m)");
        $finish;
    end
    if (PBA_OFFSET % 8 != 0 || PBA_OFFSET < VEC_COUNT*16) begin
        $error("Error: PBA_OFFSET must be 8-byte aligned and after the table (instance %m)");
        $finish;
    end
    if (REG_ADDR_WIDTH < 4 + VEC_WIDTH || REG_ADDR_WIDTH > 31 || PBA_OFFSET + 8 > 2**REG_ADDR_WIDTH) begin
        $error("Error: REG_ADDR_WIDTH too small for the PBA (instance %m)");
        $finish;
    end
end

// the hard block reports enable/mask per physical function; only PF0 is used
wire msix_enable = cfg_interrupt_msix_enable[0];
wire msix_function_mask = cfg_interrupt_msix_mask[0];

// inputs deliberately not looked at: the other PFs' enable/mask bits (Verilator's *unused* naming
// convention keeps lint quiet)
wire unused_inputs = &{1'b0, cfg_interrupt_msix_enable[3:1], cfg_interrupt_msix_mask[3:1]};

// register bus decode: vector number and entry word; table hit / PBA hit
wire [31:0] req_addr_ext = {{(32-REG_ADDR_WIDTH){1'b0}}, reg_req_addr};
wire [VEC_WIDTH-1:0] req_vec = reg_req_addr[4 +: VEC_WIDTH];
wire [1:0] req_entry_word = reg_req_addr[3:2];
wire req_table_hit = req_addr_ext < TABLE_END;
wire req_pba_hi = reg_req_addr[2];
wire req_pba_hit = req_addr_ext[31:3] == PBA_ADDR[31:3] && (!req_pba_hi || PBA_HI_USED);

reg [1:0] state_reg, state_next;

// Vector Control mask bits and pending bits, one per vector
reg [VEC_COUNT-1:0] mask_reg, mask_next;
reg [VEC_COUNT-1:0] pba_reg, pba_next;
// set on a failed send, cleared while the vector is masked: holds the retry until the next unmask
reg [VEC_COUNT-1:0] fail_hold_reg, fail_hold_next;

// vector being sent
reg [VEC_WIDTH-1:0] send_vec_reg, send_vec_next;

reg [63:0] msix_address_reg, msix_address_next;
reg [31:0] msix_data_reg, msix_data_next;
reg msix_int_reg, msix_int_next;
reg stat_msix_sent_reg, stat_msix_sent_next;

// register bus read pipeline: stage 1 = table RAM read, stage 2 = response
reg rd_pending_reg, rd_pending_next;
reg [1:0] rd_entry_word_reg, rd_entry_word_next;
reg rd_table_hit_reg, rd_table_hit_next;
reg rd_pba_hit_reg, rd_pba_hit_next;
reg rd_pba_hi_reg, rd_pba_hi_next;
reg rd_mask_reg, rd_mask_next;
reg reg_rsp_valid_reg, reg_rsp_valid_next;
reg [31:0] reg_rsp_rdata_reg, reg_rsp_rdata_next;

// table RAM: {data, address hi, address lo} per vector, byte-enable writes
reg [95:0] table_mem [0:TABLE_DEPTH-1];
reg table_wr_en;
reg [11:0] table_wr_be;
// RAM read registers (no reset: only looked at when the matching pipeline stage is valid)
reg [95:0] table_rd_reg_data;
reg [95:0] table_rd_send_data;

// vectors whose message may go out now
wire [VEC_COUNT-1:0] deliverable = (msix_enable && !msix_function_mask) ?
    (pba_reg & ~mask_reg & ~fail_hold_reg) : {VEC_COUNT{1'b0}};

// a request can be taken when the sender is idle and owes no pending message
assign irq_ready = state_reg == STATE_IDLE && deliverable == {VEC_COUNT{1'b0}};

wire [31:0] irq_vector_ext = {{(32-VEC_WIDTH){1'b0}}, irq_vector};
wire irq_vec_valid = irq_vector_ext < VEC_LIMIT;

assign reg_rsp_valid = reg_rsp_valid_reg;
assign reg_rsp_rdata = reg_rsp_rdata_reg;

assign cfg_interrupt_msix_address = msix_address_reg;
assign cfg_interrupt_msix_data = msix_data_reg;
assign cfg_interrupt_msix_int = msix_int_reg;
assign cfg_interrupt_msi_function_number = 8'd0;

assign stat_msix_sent = stat_msix_sent_reg;

// combinational helpers of the next-state block
reg [VEC_WIDTH-1:0] deliverable_vec;   // lowest deliverable vector
reg [63:0] pba_ext;                    // PBA zero-extended to the two PBA dwords
integer prio_i;

always @* begin
    state_next = state_reg;

    mask_next = mask_reg;
    pba_next = pba_reg;
    fail_hold_next = fail_hold_reg;

    send_vec_next = send_vec_reg;

    msix_address_next = msix_address_reg;
    msix_data_next = msix_data_reg;
    msix_int_next = 1'b0;
    stat_msix_sent_next = 1'b0;

    rd_pending_next = 1'b0;
    rd_entry_word_next = rd_entry_word_reg;
    rd_table_hit_next = rd_table_hit_reg;
    rd_pba_hit_next = rd_pba_hit_reg;
    rd_pba_hi_next = rd_pba_hi_reg;
    rd_mask_next = rd_mask_reg;
    reg_rsp_valid_next = 1'b0;
    reg_rsp_rdata_next = reg_rsp_rdata_reg;

    table_wr_en = 1'b0;
    table_wr_be = 12'd0;

    pba_ext = 64'd0;
    pba_ext[VEC_COUNT-1:0] = pba_reg;

    deliverable_vec = {VEC_WIDTH{1'b0}};
    for (prio_i = VEC_COUNT-1; prio_i >= 0; prio_i = prio_i - 1) begin
        if (deliverable[prio_i]) begin
            deliverable_vec = prio_i[VEC_WIDTH-1:0];
        end
    end

    // a failed vector becomes eligible again once it has been masked (vector or function mask,
    // or MSI-X disabled): the following unmask retries it
    if (!msix_enable || msix_function_mask) begin
        fail_hold_next = {VEC_COUNT{1'b0}};
    end else begin
        fail_hold_next = fail_hold_reg & ~mask_reg;
    end

    // register bus: writes answer next cycle, reads after the RAM read
    if (reg_req_valid) begin
        if (reg_req_write) begin
            reg_rsp_valid_next = 1'b1;
            if (req_table_hit) begin
                if (req_entry_word == MSIX_TABLE_ENTRY_VEC_CTRL) begin
                    if (reg_req_be[0]) begin
                        mask_next[req_vec] = reg_req_wdata[MSIX_VEC_CTRL_MASK_BIT];
                    end
                end else begin
                    table_wr_en = 1'b1;
                    table_wr_be = {8'd0, reg_req_be} << (req_entry_word*4);
                end
            end
        end else begin
            rd_pending_next = 1'b1;
            rd_entry_word_next = req_entry_word;
            rd_table_hit_next = req_table_hit;
            rd_pba_hit_next = req_pba_hit;
            rd_pba_hi_next = req_pba_hi;
            rd_mask_next = mask_reg[req_vec];
        end
    end

    if (rd_pending_reg) begin
        reg_rsp_valid_next = 1'b1;
        reg_rsp_rdata_next = 32'd0;
        if (rd_table_hit_reg) begin
            case (rd_entry_word_reg)
                MSIX_TABLE_ENTRY_ADDR_LO: reg_rsp_rdata_next = table_rd_reg_data[31:0];
                MSIX_TABLE_ENTRY_ADDR_HI: reg_rsp_rdata_next = table_rd_reg_data[63:32];
                MSIX_TABLE_ENTRY_DATA: reg_rsp_rdata_next = table_rd_reg_data[95:64];
                default: reg_rsp_rdata_next[MSIX_VEC_CTRL_MASK_BIT] = rd_mask_reg;
            endcase
        end else if (rd_pba_hit_reg) begin
            reg_rsp_rdata_next = rd_pba_hi_reg ? pba_ext[63:32] : pba_ext[31:0];
        end
    end

    // message sender
    case (state_reg)
        STATE_IDLE: begin
            if (deliverable != {VEC_COUNT{1'b0}}) begin
                // a pending vector was unmasked: send it (irq_ready is low); its pending bit
                // stays set until the hard block reports the message sent
                send_vec_next = deliverable_vec;
                state_next = STATE_READ;
            end else if (irq_valid) begin
                // irq_ready is high
                if (msix_enable && irq_vec_valid) begin
                    if (mask_reg[irq_vector] || msix_function_mask) begin
                        pba_next[irq_vector] = 1'b1;
                    end else begin
                        send_vec_next = irq_vector;
                        state_next = STATE_READ;
                    end
                end
            end
        end
        STATE_READ: begin
            // table RAM read of send_vec_reg in progress
            state_next = STATE_SEND;
        end
        STATE_SEND: begin
            // the mask may have been set since the request was accepted: honour it
            if (!msix_enable) begin
                state_next = STATE_IDLE;
            end else if (mask_reg[send_vec_reg] || msix_function_mask) begin
                pba_next[send_vec_reg] = 1'b1;
                state_next = STATE_IDLE;
            end else begin
                msix_address_next = table_rd_send_data[63:0];
                msix_data_next = table_rd_send_data[95:64];
                msix_int_next = 1'b1;
                state_next = STATE_WAIT;
            end
        end
        STATE_WAIT: begin
            if (cfg_interrupt_msix_sent) begin
                stat_msix_sent_next = 1'b1;
                pba_next[send_vec_reg] = 1'b0;
                fail_hold_next[send_vec_reg] = 1'b0;
                state_next = STATE_IDLE;
            end else if (cfg_interrupt_msix_fail) begin
                pba_next[send_vec_reg] = 1'b1;
                fail_hold_next[send_vec_reg] = 1'b1;
                state_next = STATE_IDLE;
            end
        end
        default: begin
            state_next = STATE_IDLE;
        end
    endcase
end

// table RAM: one write/read port for the register bus, one read port for the sender
integer lane;

always @(posedge clk) begin
    if (table_wr_en) begin
        for (lane = 0; lane < 12; lane = lane + 1) begin
            if (table_wr_be[lane]) begin
                table_mem[req_vec][lane*8 +: 8] <= reg_req_wdata[(lane%4)*8 +: 8];
            end
        end
    end
    table_rd_reg_data <= table_mem[req_vec];
    table_rd_send_data <= table_mem[send_vec_reg];
end

always @(posedge clk) begin
    state_reg <= state_next;

    mask_reg <= mask_next;
    pba_reg <= pba_next;
    fail_hold_reg <= fail_hold_next;

    send_vec_reg <= send_vec_next;

    msix_address_reg <= msix_address_next;
    msix_data_reg <= msix_data_next;
    msix_int_reg <= msix_int_next;
    stat_msix_sent_reg <= stat_msix_sent_next;

    rd_pending_reg <= rd_pending_next;
    rd_entry_word_reg <= rd_entry_word_next;
    rd_table_hit_reg <= rd_table_hit_next;
    rd_pba_hit_reg <= rd_pba_hit_next;
    rd_pba_hi_reg <= rd_pba_hi_next;
    rd_mask_reg <= rd_mask_next;
    reg_rsp_valid_reg <= reg_rsp_valid_next;
    reg_rsp_rdata_reg <= reg_rsp_rdata_next;

    if (rst) begin
        state_reg <= STATE_IDLE;
        mask_reg <= {VEC_COUNT{1'b1}};
        pba_reg <= {VEC_COUNT{1'b0}};
        fail_hold_reg <= {VEC_COUNT{1'b0}};
        send_vec_reg <= {VEC_WIDTH{1'b0}};
        msix_address_reg <= 64'd0;
        msix_data_reg <= 32'd0;
        msix_int_reg <= 1'b0;
        stat_msix_sent_reg <= 1'b0;
        rd_pending_reg <= 1'b0;
        rd_entry_word_reg <= 2'd0;
        rd_table_hit_reg <= 1'b0;
        rd_pba_hit_reg <= 1'b0;
        rd_pba_hi_reg <= 1'b0;
        rd_mask_reg <= 1'b0;
        reg_rsp_valid_reg <= 1'b0;
        reg_rsp_rdata_reg <= 32'd0;
    end
end

endmodule

`resetall
