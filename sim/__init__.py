"""Simulator glue: toolchain discovery, build-once/run-many helpers, Verilator control file, wave views."""
