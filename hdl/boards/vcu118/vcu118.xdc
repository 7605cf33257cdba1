# Constraints for virtio_net_vcu118 on the Xilinx VCU118 (XCVU9P-L2FLGA2104, part xcvu9p-flga2104-2L-e).
# Pin locations from the VCU118 board user guide (UG1224) as used by public VCU118 PCIe designs
# (verilog-pcie / corundum VCU118 examples). PCIe: edge connector lanes 0-7 on GTY quads 227 (lanes 0-3)
# and 226 (lanes 4-7), reference clock on MGTREFCLK0 of quad 227; PERST# from the slot.

# Configuration: the board's 1.8 V bank 0 and its dual quad SPI flash
set_property CFGBVS GND                                [current_design]
set_property CONFIG_VOLTAGE 1.8                        [current_design]
set_property BITSTREAM.GENERAL.COMPRESS true           [current_design]
set_property BITSTREAM.CONFIG.EXTMASTERCCLK_EN {DIV-1} [current_design]
set_property BITSTREAM.CONFIG.SPI_32BIT_ADDR YES       [current_design]
set_property BITSTREAM.CONFIG.SPI_BUSWIDTH 8           [current_design]
set_property BITSTREAM.CONFIG.SPI_FALL_EDGE YES        [current_design]

# PCIe reference clock: 100 MHz from the slot, into IBUFDS_GTE4 (the _n pin follows from the _p pin)
set_property PACKAGE_PIN AC9 [get_ports pcie_refclk_p]
create_clock -period 10.000 -name pcie_refclk [get_ports pcie_refclk_p]

# PCIe PERST#: asynchronous, active low, pulled up on the FPGA side while the slot does not drive it
set_property -dict {PACKAGE_PIN AM17 IOSTANDARD LVCMOS18 PULLUP true} [get_ports pcie_reset_n]
set_false_path -from [get_ports pcie_reset_n]
set_input_delay 0 [get_ports pcie_reset_n]

# PCIe lanes 0-7 (only the _p pins are placed; the _n pins follow). The IP's own constraints place the
# GTY channels; these tie the ports to the edge connector.
set_property PACKAGE_PIN AA4 [get_ports {pcie_rx_p[0]}]
set_property PACKAGE_PIN Y7  [get_ports {pcie_tx_p[0]}]
set_property PACKAGE_PIN AB2 [get_ports {pcie_rx_p[1]}]
set_property PACKAGE_PIN AB7 [get_ports {pcie_tx_p[1]}]
set_property PACKAGE_PIN AC4 [get_ports {pcie_rx_p[2]}]
set_property PACKAGE_PIN AD7 [get_ports {pcie_tx_p[2]}]
set_property PACKAGE_PIN AD2 [get_ports {pcie_rx_p[3]}]
set_property PACKAGE_PIN AF7 [get_ports {pcie_tx_p[3]}]
set_property PACKAGE_PIN AE4 [get_ports {pcie_rx_p[4]}]
set_property PACKAGE_PIN AH7 [get_ports {pcie_tx_p[4]}]
set_property PACKAGE_PIN AF2 [get_ports {pcie_rx_p[5]}]
set_property PACKAGE_PIN AK7 [get_ports {pcie_tx_p[5]}]
set_property PACKAGE_PIN AG4 [get_ports {pcie_rx_p[6]}]
set_property PACKAGE_PIN AM7 [get_ports {pcie_tx_p[6]}]
set_property PACKAGE_PIN AH2 [get_ports {pcie_rx_p[7]}]
set_property PACKAGE_PIN AN5 [get_ports {pcie_tx_p[7]}]

# User LEDs GPIO_LED_0..7 (status only: no timing)
set_property -dict {PACKAGE_PIN AT32 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {led[0]}]
set_property -dict {PACKAGE_PIN AV34 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {led[1]}]
set_property -dict {PACKAGE_PIN AY30 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {led[2]}]
set_property -dict {PACKAGE_PIN BB32 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {led[3]}]
set_property -dict {PACKAGE_PIN BF32 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {led[4]}]
set_property -dict {PACKAGE_PIN AU37 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {led[5]}]
set_property -dict {PACKAGE_PIN AV36 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {led[6]}]
set_property -dict {PACKAGE_PIN BA37 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {led[7]}]
set_false_path -to [get_ports {led[*]}]
set_output_delay 0 [get_ports {led[*]}]
