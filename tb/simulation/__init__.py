"""Everything that needs a simulator: the cocotb side of the testbench.

The harness and the benches (DeviceTB, TxBench), the wire and its stream sink, the per-test event log, the
PCIe and interrupt monitors, the simulation platform (cocotbext-pcie's root complex in front of the RTL)
and the UltraScale+ hard-block models. Nothing outside this package imports cocotb or cocotbext; nothing
that runs on a board (driver, scenarios, device maps, bring-up) imports this package.
"""
