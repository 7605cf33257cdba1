"""virtio-net hardware-in-the-loop testbench, one package per role (README "What this is" has the map).

driver (the faithful Linux model), scenarios, device (our register maps), platform (what the driver runs
on), checkers (the rules, sharing nothing with the driver), faults (test-only subclasses), bringup (the
board sequence and its CLI) run with the standard library; simulation holds everything that needs cocotb.
The driver awaits only the Platform interface (tb.platform.base), so the same code runs in simulation
(tb.simulation.sim_platform), in virtual time (tb.platform.model) and against a real PCI function.
"""
