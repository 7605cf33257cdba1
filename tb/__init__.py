"""virtio-net hardware-in-the-loop testbench: platforms, the Linux driver model, monitors and checkers.

The driver (tb.driver) awaits only the Platform interface (tb.platform.base); it never imports cocotb, so
the same code runs in simulation (tb.simulation.sim_platform) and against a real PCI function.
"""
