"""Pytest items for cocotb test modules, small enough for xdist to balance.

A cocotb module holds many tests (the transmit system tests, the block tests). Run as one simulator
process each, a module was one pytest item of up to fifteen minutes: one worker ran it alone at the end
while the other idled. Here every cocotb test of a module becomes its own simulator run, and tests that
are quick (by their recorded wall time) share one run with their neighbours, so each pytest item costs
about ``GROUP_S`` seconds or is a single long test:

    SUITE = Suite("tests.sim.test_virtio_tx", "virtio_net_usp", widths=[256], icarus=ICARUS_SUBSET)

    @pytest.mark.sim
    @pytest.mark.parametrize("case", SUITE.cases(globals()), ids=str)
    def test_virtio_tx(case, sim_run):
        sim_run(case)

``Case`` is one simulator run: simulator, build parameters, and the exact cocotb tests it runs (a regex
anchored on each full name). Every (simulator, toplevel, parameters) combination is built once and shared
(``sim.runner.build`` holds a file lock). Recorded durations (``tests/sim/durations.json``, committed, and
``build/results/durations.json`` from the last local run) group the quick tests and order the items,
longest first (``tests/conftest.py``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim import runner

DURATIONS_COMMITTED = runner.ROOT / "tests" / "sim" / "durations.json"
DURATIONS_LOCAL = runner.ROOT / "build" / "results" / "durations.json"
GROUP_S = 25.0  # quick tests share a simulator run up to about this much recorded wall time
UNKNOWN_S = 30.0  # a test with no record: assume it is long (it runs alone, early)
RUN_OVERHEAD_S = 2.0  # simulator start, cocotb start, imports (per run, on top of the tests)

REGRESS = os.environ.get("REGRESS", "0") not in ("", "0")


def load_durations() -> dict[str, float]:
    """Recorded wall seconds per key (committed file, overlaid by the last local run).

    With ``SHARD`` set, the committed file alone: the durations decide how quick tests are grouped into
    items and which items each shard takes, so every shard (on any machine, before or after another shard
    ran in the same checkout) must compute the same split from the same numbers."""
    out: dict[str, float] = {}
    paths = (DURATIONS_COMMITTED,) if os.environ.get("SHARD") else (DURATIONS_COMMITTED, DURATIONS_LOCAL)
    for path in paths:
        try:
            out.update(json.loads(path.read_text()))
        except (OSError, ValueError):
            pass
    return out


_DURATIONS: dict[str, float] | None = None


def durations() -> dict[str, float]:
    global _DURATIONS
    if _DURATIONS is None:
        _DURATIONS = load_durations()
    return _DURATIONS


def duration_key(sim: str, toplevel: str, params: Mapping[str, object], module: str, test: str) -> str:
    return f"{sim}/{toplevel}-{runner.param_tag(params)}/{module}.{test}"


def cocotb_tests(namespace: Mapping[str, Any]) -> list[str]:
    """Full names of the cocotb tests defined in a module's namespace, in definition order, with their
    ``cocotb.parametrize`` expansions (``tx_end_to_end/msix=True/indirect=True``), exactly as cocotb names
    them: cocotb's own generator is asked (private API: cocotb is pinned in pyproject.toml and there is no
    public way to list a module's tests without a simulator)."""
    from cocotb._decorators import TestGenerator  # noqa: PLC0415 - only where test modules are collected

    names: list[str] = []
    for value in namespace.values():
        if isinstance(value, TestGenerator):
            names += [t.name for t in value.generate_tests()]
    return names


@dataclass(frozen=True)
class Case:
    """One simulator run: the tests of ``module`` named in ``tests``, on ``sim`` with ``params``."""

    sim: str
    toplevel: str
    module: str
    tests: tuple[str, ...]
    params: tuple[tuple[str, Any], ...] = ()
    label: str = ""  # what distinguishes the parameter set, e.g. "w64"
    sources: tuple[str, ...] = ()  # repository-relative; empty = every file under hdl/
    expected_s: float = field(default=0.0, compare=False)

    def __str__(self) -> str:
        first = self.tests[0]
        more = f"+{len(self.tests) - 1}" if len(self.tests) > 1 else ""
        return "-".join(p for p in (self.sim, self.label, first + more) if p)

    @property
    def test_filter(self) -> str:
        names = "|".join(re.escape(t) for t in self.tests)
        return rf"^{re.escape(self.module)}\.({names})$"

    @property
    def run_name(self) -> str:
        return safe_name(
            f"{self.module.rsplit('.', 1)[-1]}-{self.tests[0]}"
            + (f"+{len(self.tests) - 1}" if len(self.tests) > 1 else "")
        )

    def source_paths(self) -> list[Path] | None:
        return [runner.ROOT / s for s in self.sources] if self.sources else None

    def run(self, log_file: Path | None = None) -> runner.RunResult:
        return runner.run(
            self.sim,
            self.toplevel,
            self.module,
            sources=self.source_paths(),
            params=dict(self.params),
            test_filter=self.test_filter,
            run_name=self.run_name,
            log_file=log_file,
        )


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=+-]+", "_", text).strip("_")[:150]


def log_path(nodeid: str) -> Path:
    """Where the simulator log of a pytest item goes: a pure function of its node id, so the process that
    prints progress (the xdist controller) and the one that runs the item agree without talking."""
    name = nodeid.split("::", 1)[-1]
    return runner.ROOT / "build" / "logs" / (safe_name(name) + ".log")


def group_tests(tests: Sequence[str], cost: Mapping[str, float], limit: float = GROUP_S) -> list[list[str]]:
    """Consecutive quick tests share a run up to ``limit`` seconds; a longer test runs alone."""
    groups: list[list[str]] = []
    current: list[str] = []
    total = 0.0
    for t in tests:
        c = cost[t]
        if c >= limit:
            groups.append([t])
            continue
        if current and total + c > limit:
            groups.append(current)
            current, total = [], 0.0
        current.append(t)
        total += c
    if current:
        groups.append(current)
    return groups


@dataclass
class Suite:
    """The pytest side of one cocotb module: which simulators, widths / parameter sets, and sources."""

    module: str
    toplevel: str
    variants: Mapping[str, Mapping[str, object]] = field(default_factory=lambda: {"": {}})
    sources: Sequence[str] = ()
    icarus: str | None = None  # regex of the tests Icarus runs in `make test` (all of them under REGRESS)
    verilator: str | None = None  # same for Verilator (None: all)
    # the variants Icarus runs in `make test` (None: all); every variant under REGRESS
    icarus_variants: Sequence[str] | None = None
    # same for Verilator (a block test at one width on each simulator in `make test`: both widths covered)
    verilator_variants: Sequence[str] | None = None
    # per (simulator, variant label): the `make test` subset, where it differs from the above
    subsets: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # per variant label: tests that never run on that build (REGRESS included), e.g. a test of the other kind
    exclude: Mapping[str, str] = field(default_factory=dict)

    def cases(self, namespace: Mapping[str, Any]) -> list[Case]:
        tests = cocotb_tests(namespace)
        if not tests:
            raise RuntimeError(f"{self.module}: no cocotb tests found")
        rec = durations()
        only = os.environ.get("TESTCASE", "")  # make waves TESTCASE=<regex>: only those tests, anywhere
        out: list[Case] = []
        for sim in runner.sims():
            for label, params in self.variants.items():
                per_sim = self.icarus_variants if sim == "icarus" else self.verilator_variants
                if not (REGRESS or only) and per_sim is not None and label not in per_sim:
                    continue
                subset = (
                    None
                    if (REGRESS or only)
                    else self.subsets.get((sim, label), self.icarus if sim == "icarus" else self.verilator)
                )
                never = self.exclude.get(label)
                chosen = [
                    t
                    for t in tests
                    if (subset is None or re.search(subset, f"{self.module}.{t}"))
                    and (not only or re.search(only, f"{self.module}.{t}"))
                    and not (never and re.search(never, f"{self.module}.{t}"))
                ]
                cost = {t: rec.get(duration_key(sim, self.toplevel, params, self.module, t), UNKNOWN_S) for t in chosen}
                for group in group_tests(chosen, cost):
                    out.append(
                        Case(
                            sim,
                            self.toplevel,
                            self.module,
                            tuple(group),
                            tuple(sorted(params.items())),
                            label,
                            tuple(self.sources),
                            expected_s=RUN_OVERHEAD_S + sum(cost[t] for t in group),
                        )
                    )
        return out


def widths(*values: int, param: str = "AXIS_PCIE_DATA_WIDTH", default: int = 256) -> dict[str, dict[str, object]]:
    """Parameter variants by data width; the default width builds with no parameter (one shared build)."""
    return {f"w{w}": ({} if w == default else {param: w}) for w in values}
