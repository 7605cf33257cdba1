# Front door of the virtio-net hardware-in-the-loop testbench. `make` (or `make help`) lists the targets.
# The first target that needs Python creates .venv from pyproject.toml; `make tools` installs (as root) or
# names every Debian package the targets need, before any test starts.

PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
SIM     ?=
TEST    ?=
PYTEST  := $(PY) -m pytest -p no:cacheprovider
XDIST   := -n $(JOBS) --dist load --maxschedchunk 1
export SIM JOBS SHARD
# compiled Python (with pytest's assertion rewrites) is cached under build/pycache, also where the environment
# sets PYTHONDONTWRITEBYTECODE (CI images do): each pytest worker and simulator process would compile the
# testbench again (sim/runner.py sets the same for simulators started outside make)
export PYTHONPYCACHEPREFIX := $(CURDIR)/build/pycache
export PYTHONDONTWRITEBYTECODE :=

.DEFAULT_GOAL := help
.PHONY: help venv tools test regress coverage unit lint synth fpga waves bench hil hil-kernel durations merge clean

help:
	@echo "virtio-net HIL testbench: make <target>   (variables: SIM=verilator|icarus SEED=n JOBS=n SHARD=k/N)"
	@echo ""
	@echo "  regress    the main job: every simulation test on Verilator and Icarus, all widths and sweeps,"
	@echo "             then the A/B matrix of the seed commit and the lineage matrix (every transmit variant x"
	@echo "             device x EVENT_IDX off/on; JUnit: build/results/junit.xml); with the 100,000-packet soak"
	@echo "             (its plan first, its summary last: build/soak/summary.json; SOAK_PACKETS=n scales it)"
	@echo "  test       the CI suite (6-14 min on 2 cores): make lint, unit tests, the simulation tests on Verilator,"
	@echo "             the blocks, the loopback and the I/O-BAR0 build on Icarus, make synth, and the QEMU"
	@echo "             bring-up guests (as root)"
	@echo "  coverage   the Verilator simulation tests of make regress (COVERAGE_SET=test: of make test) built with"
	@echo "             line and toggle coverage: per RTL file line/toggle %, the unhit lines of hdl/virtio and"
	@echo "             hdl/pcie, the functional cover points hit/total and every unhit one; lcov + HTML in"
	@echo "             build/coverage/ (fails when a target is missed: all cover points, >= 95 % of the lines)"
	@echo "  unit       pure-Python tests (seconds)"
	@echo "  lint       verilator --lint-only -Wall on every RTL module (and the board tops), no hard-block"
	@echo "             signal in hdl/virtio/, ruff and mypy on tb/ sim/ hil/, the import layering"
	@echo "  synth      yosys synth_xilinx -family xcup of the device and the VCU118 top: resources per module,"
	@echo "             logic depth; fails on latches, loops, multiple or missing drivers (build/synth/)"
	@echo "  fpga       the Vivado Tcl for the VCU118 from hdl/device.toml: IP, project, ILA (build/fpga/;"
	@echo "             Vivado is not run here)"
	@echo "  waves      TEST=<pytest file or node id> [TESTCASE=regex] [SEED=n] [WAVES_FROM=t WAVES_TO=t]:"
	@echo "             rerun with an FST dump and a GTKWave save file that opens on the first failing check"
	@echo "  bench      simulation speed on both simulators, the TX throughput scenario (BENCH_OLD_TREE=<a worktree"
	@echo "             of the previous engine's commit> adds its column), the resource counts (build/bench/bench.json)"
	@echo "  hil        the bring-up against QEMU's virtio-net-pci in TCG guests, uio and vfio (root, ~2-4 min;"
	@echo "             HIL_ARGS=--long: the longer matrix make regress runs)"
	@echo "  hil-kernel the guest kernel's virtio_net against the model's debian-6.1 on QEMU's transitional and"
	@echo "             modern-only virtio-net-pci: TX interrupts per packet, paced and unpaced (root, ~20 min;"
	@echo "             KCMP_ARGS=--short: ~1 min; build/hil/kernel_compare.{json,md})"
	@echo "  tools      install (as root) or name every Debian package the targets need"
	@echo "  durations  commit the last run's recorded test durations (they order and group the next runs)"
	@echo "  merge      OUT=<file> JUNIT='<shard files>': merge the JUnit files of SHARD=k/N runs"
	@echo "  venv       create .venv from pyproject.toml;  clean: remove build/"

# checks SIM, SEED, TEST, TESTCASE, WAVES_FROM/TO, TB_FAULT, RING_CASE(S), JOBS, SHARD before any work (standard library only)
PREFLIGHT = @$(PYTHON) -m tb.simulation.preflight $@

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "venv: installing the pinned toolchain from pyproject.toml into $(VENV) (first time: a minute or two)"
	@$(PY) -m pip install --quiet --upgrade pip
	@PYTHONWARNINGS=ignore $(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

venv: $(STAMP)

tools: $(STAMP)
	@$(PY) -m sim.toolchain --all

unit: $(STAMP)
	$(PREFLIGHT)
	$(PYTEST) -q tests/unit

test: $(STAMP)
	$(PREFLIGHT)
	@$(PY) -m sim.toolchain
	@$(PY) -m sim.lint
	$(PYTEST) $(XDIST) -q -m "not slow" tests

# the A/B matrix and the lineage matrix run (and print their tables) even when a test failed; the target
# fails if any did. The soak's plan is printed before the tests and its summary after them (sim/soak.py:
# build/soak/summary.json; not for a shard or a TESTCASE run, which hold only part of the plan)
regress: $(STAMP)
	$(PREFLIGHT)
	@$(PY) -m sim.toolchain
	@$(PY) -m sim.lint
	@REGRESS=1 $(PY) -m sim.soak clear; REGRESS=1 $(PY) -m sim.soak plan
	REGRESS=1 $(PYTEST) $(XDIST) -q tests; rc=$$?; \
	  if [ -z "$(SHARD)" -a -z "$$TESTCASE" ]; then REGRESS=1 $(PY) -m sim.soak summary || rc=1; fi; \
	  if [ -z "$(SHARD)" ]; then $(PY) -m sim.ab_matrix --jobs $(JOBS) || rc=1; \
	    $(PY) -m sim.lineage --jobs $(JOBS) || rc=1; fi; exit $$rc

# line and toggle coverage of hdl/ and the functional cover points (sim/coverage.py, sim/cover_points.py):
# the coverage builds are separate (build/sim/verilator/*-cov); the previous coverage run's results are cleared
# first, so the report covers this run only. The report is printed even when a test failed; the target fails
# if a test failed or a target was missed.
COVERAGE_SET ?= regress
coverage: $(STAMP)
	$(PREFLIGHT)
	@case "$(COVERAGE_SET)" in regress|test) ;; *) echo "make coverage: COVERAGE_SET=$(COVERAGE_SET): regress (default) or test"; exit 2;; esac
	@$(PY) -m sim.toolchain --coverage
	@$(PY) -m sim.coverage clean
	COVERAGE=1 SIM=verilator $(if $(filter regress,$(COVERAGE_SET)),REGRESS=1) $(PYTEST) $(XDIST) -q \
	  $(if $(filter test,$(COVERAGE_SET)),-m "not slow") tests/sim; rc=$$?; \
	  $(PY) -m sim.coverage report || rc=1; exit $$rc

bench: $(STAMP)
	$(PREFLIGHT)
	@$(PY) -m sim.toolchain
	$(PY) -m sim.bench

lint: $(STAMP)
	@$(PY) -m sim.lint

synth: $(STAMP)
	@$(PY) -m sim.toolchain --synth
	$(PY) -m sim.synth --jobs $(JOBS)

fpga: $(STAMP)
	$(PY) -m sim.fpga

# TESTCASE=<regex> picks cocotb tests, SEED=<n> replays, WAVES_FROM/WAVES_TO (ns, 1234c = cycles, 12us) keep
# only a window (a small VCD); the dump, a GTKWave save file and the viewer command are printed at the end
waves: $(STAMP)
	$(PREFLIGHT)
	@$(PY) -m sim.toolchain --waves
	WAVES=1 $(PYTEST) -s -p no:xdist "$(TEST)"

# one guest per backend with a NIC per configuration (default, unpaced, vectors=0, vectors=2, tx=timer) and
# the refusals of the host bridge and a virtio-rng; make test runs the same (tests/hil)
HIL_ARGS ?=
hil: $(STAMP)
	$(PREFLIGHT)
	@$(PY) -m sim.toolchain --hil
	$(PY) -m hil.orchestrator $(HIL_ARGS)

# the guest kernel's own virtio_net against the model's debian-6.1 on the same QEMU devices (hil/kernel_compare.py)
KCMP_ARGS ?=
hil-kernel: $(STAMP)
	@$(PY) -m sim.toolchain --hil
	$(PY) -m hil.kernel_compare $(KCMP_ARGS)

durations: $(STAMP)
	@$(PY) -m sim.results durations --commit

merge: $(STAMP)
	@test -n "$(OUT)" -a -n "$(JUNIT)" || { echo "make merge: OUT=<merged file> JUNIT='<shard junit files>'"; exit 2; }
	@$(PY) -m sim.results merge $(JUNIT) -o $(OUT)

clean:
	rm -rf build .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
