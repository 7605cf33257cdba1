# Front door of the virtio-net hardware-in-the-loop testbench.
#   make regress   every simulation test on Verilator and Icarus, plus the long sweeps
#   make test      the CI suite: everything on Verilator, each feature on Icarus, and make synth beside it
#                  (< 15 min on 2 cores)
#   make lint      verilator --lint-only -Wall on the RTL (and the board tops)
#   make synth     yosys synth_xilinx -family xcup of the device and the VCU118 top: resources per module,
#                  logic depth, fails on latches / loops / multiple or missing drivers (build/synth/report.json)
#   make fpga      Vivado Tcl for the VCU118 from hdl/device.toml: IP, project, ILA (build/fpga/; Vivado is
#                  not run here)
#   make bench     simulation speed on both simulators, and the resource counts (build/bench/bench.json)
#   make waves TEST=<pytest id or file> [SIM=verilator|icarus]   rerun one test with an FST dump
#   make hil       the bring-up against QEMU's virtio-net-pci in TCG guests, uio and vfio (root, ~2-4 min)
#   make clean
# The first 'make test' or 'make regress' creates .venv from pyproject.toml and installs everything.

PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
JOBS    ?= 2
SIM     ?=
TEST    ?=
PYTEST  := $(PY) -m pytest
export SIM

.PHONY: all venv tools test regress unit lint synth fpga waves bench clean hil

all: test

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $@

venv: $(STAMP)

tools: $(STAMP)
	@$(PY) -m sim.toolchain

unit: $(STAMP)
	$(PYTEST) -q tests/unit

# synthesis runs beside the tests (it is one long job per module; the CPU is shared), its report comes last
test: tools
	@mkdir -p build/synth
	@echo "make synth: started beside the tests, log in build/synth/synth.log"
	@$(PY) -m sim.synth --jobs $(JOBS) > build/synth/synth.log 2>&1 & synth=$$!; \
	trap 'kill $$synth 2>/dev/null' INT TERM; \
	$(PYTEST) -n $(JOBS) -m "not slow" tests; rc=$$?; \
	echo "== make synth (ran beside the tests) =="; \
	wait $$synth || rc=1; cat build/synth/synth.log; exit $$rc

# the A/B matrix runs (and prints its table) even when a test failed; the target fails if either did
regress: tools
	REGRESS=1 $(PYTEST) -n $(JOBS) tests; rc=$$?; $(PY) -m sim.ab_matrix || rc=1; exit $$rc

bench: tools
	$(PY) -m sim.bench

lint: $(STAMP)
	@$(PY) -m sim.lint

synth: $(STAMP)
	$(PY) -m sim.synth --jobs $(JOBS)

fpga: $(STAMP)
	$(PY) -m sim.fpga

# TESTCASE=<regex> picks cocotb tests, SEED=<n> replays, WAVES_FROM/WAVES_TO (ns, 1234c = cycles, 12us) keep
# only a window (a small VCD); the dump, a GTKWave save file and the viewer command are printed at the end
waves: tools
	@test -n "$(TEST)" || { echo "usage: make waves TEST=<pytest node id, e.g. tests/sim/test_virtio_tx.py> [SIM=verilator|icarus] [TESTCASE='[.](name)\b'] [SEED=n] [WAVES_FROM=t WAVES_TO=t]"; exit 2; }
	WAVES=1 $(PYTEST) -s -p no:xdist "$(TEST)"

clean:
	rm -rf build .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# the bring-up against QEMU's virtio-net-pci in a TCG guest, via uio and vfio (root; installs QEMU with apt-get):
# one guest per backend with a NIC per configuration (default, unpaced, vectors=0, vectors=2, tx=timer), the
# refusals of the host bridge and a virtio-rng. make test runs the same (tests/hil); HIL_ARGS=--long is the
# longer matrix make regress runs (128 frames, paced and unpaced, every configuration)
HIL_ARGS ?=
hil: $(STAMP)
	$(PY) -m sim.hil $(HIL_ARGS)
