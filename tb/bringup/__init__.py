"""Bring-up: one check sequence for every platform (sequence) and its command line (cli, ``vnet-bringup``,
``python3 -m tb.bringup``). Standard library only: a pci target runs with the system Python; the simulation
target runs the HDL runner as its own process."""
