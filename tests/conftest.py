"""How the suite runs: inputs checked first, items longest first, shards, progress lines, JUnit, durations.

- ``pytest_configure``: the front door's variables (SIM, SEED, TESTCASE, TB_FAULT, SHARD, ...) are checked
  before anything is collected or built (sim/preflight.py, with tb/simulation/preflight.py for TB_FAULT); a
  bad one ends the run with one line, exit 2.
- Collection: items are ordered by their expected wall time, longest first, so xdist's workers finish
  together (``--dist load --maxschedchunk 1``). ``SHARD=k/N`` keeps the k-th of N duration-balanced parts.
- Progress: each simulation item prints a line when it starts (its log file) and one line per cocotb test
  when it ends (worker, PASS/FAIL, simulated time, wall time).
- A failing simulation item's report is the per-test report of sim/runner.py (rule, cycle, address, TLP,
  one rerun command); the runner's Python frames are not shown. The reports are repeated at the very end.
- Results: ``build/results/junit.xml`` (one testcase per cocotb test and per pytest item) and
  ``build/results/durations.json`` (recorded wall times: ``make durations`` commits them to
  tests/sim/durations.json, which orders and groups the next runs).
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from sim import preflight
from tb.simulation.preflight import check_env

RESULTS = Path(__file__).resolve().parent.parent / "build" / "results"
_state: dict = {"failures": [], "items": {}, "cocotb": [], "t0": time.monotonic()}


def _is_controller(config) -> bool:
    return not hasattr(config, "workerinput")


# -- inputs ----------------------------------------------------------------------------------------------
def pytest_configure(config):
    problems = check_env()
    if problems:
        for line in problems:
            print(f"pytest: {line}")
        pytest.exit("bad input (nothing was run)", returncode=2)
    if _is_controller(config):
        os.environ.setdefault("TB_RESULTS_SESSION", uuid.uuid4().hex[:12])


# -- ordering and shards -----------------------------------------------------------------------------------
def expected_seconds(item) -> float:
    case = getattr(item, "callspec", None) and item.callspec.params.get("case")
    if case is not None and hasattr(case, "expected_s"):
        return case.expected_s
    from sim.suite import durations

    return durations().get(item.nodeid, 5.0 if "tests/hil/" in item.nodeid else 0.5)


def shard_items(items: list, k: int, n: int) -> list:
    """The k-th (1-based) of n parts, balanced by expected time (longest first, each to the lightest part)."""
    loads = [0.0] * n
    parts: list[list] = [[] for _ in range(n)]
    for item in sorted(items, key=lambda i: (-expected_seconds(i), i.nodeid)):
        j = min(range(n), key=lambda p: (loads[p], p))
        parts[j].append(item)
        loads[j] += expected_seconds(item)
    return parts[k - 1]


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        # a module with no case for the chosen simulator in make test (say SIM=icarus on test_checkers): say so
        # instead of pytest's "got empty parameter set"
        mark = item.get_closest_marker("skip")
        if mark and str(mark.kwargs.get("reason", "")).startswith("got empty parameter set"):
            item.own_markers = [m for m in item.own_markers if m is not mark]
            sims = os.environ.get("SIM") or "these simulators"
            reason = (f"{item.module.__name__}: no test matches TESTCASE={os.environ['TESTCASE']!r} on {sims}"
                      if os.environ.get("TESTCASE") else
                      f"{item.module.__name__}: none of its tests runs on {sims} in make test (make regress runs "
                      "them all)")
            item.add_marker(pytest.mark.skip(reason=reason))
    items.sort(key=lambda i: (-expected_seconds(i), i.nodeid))
    shard = os.environ.get("SHARD", "")
    if shard:
        k, n = preflight.parse_shard(shard)
        keep = set(id(i) for i in shard_items(items, k, n))
        deselected = [i for i in items if id(i) not in keep]
        items[:] = [i for i in items if id(i) in keep]
        config.hook.pytest_deselected(items=deselected)


# -- running a simulation case -------------------------------------------------------------------------------
@pytest.fixture
def sim_run(request, record_property):
    """``sim_run(case)``: run one sim.suite.Case, attach its cocotb results to the item's report."""
    from sim import runner, suite

    def run(case) -> None:
        log = suite.log_path(request.node.nodeid)
        record_property("sim_log", str(log))
        try:
            result = case.run(log_file=log)
        except runner.SimFailure as exc:
            result = exc.result
            _attach(record_property, case, result)
            raise
        _attach(record_property, case, result)

    return run


def _attach(record_property, case, result) -> None:
    tests = []
    for rep in result.reports:
        tests.append({"name": rep["name"], "ok": rep["ok"], "wall_s": rep["wall_s"],
                      "sim_ns": rep["stop_ns"] - rep["start_ns"], "seed": rep["seed"],
                      "message": rep["message"][:2000], "module": case.module, "sim": case.sim,
                      "toplevel": case.toplevel, "params": dict(case.params), "label": case.label})
    record_property("cocotb", tests)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and report.failed:
        from sim.runner import SimFailure

        if isinstance(call.excinfo.value, SimFailure):
            report.longrepr = str(call.excinfo.value)   # the per-test report, not the runner's frames
            report.sections = []                        # nor the runner's log lines


# -- progress ----------------------------------------------------------------------------------------------
def _tr(config):
    return config.pluginmanager.get_plugin("terminalreporter")


def _short(nodeid: str) -> str:
    return nodeid.split("::", 1)[-1]


def _elapsed() -> str:
    s = int(time.monotonic() - _state["t0"])
    return f"{s // 60:2d}:{s % 60:02d}"


# items long enough that a silent minute would look like a hang: synthesis and the QEMU guests get a start
# and an end line too (their output is pytest's own: the failure report holds it)
_LONG_ITEMS = ("tests/synth/", "tests/hil/")


def pytest_runtest_logstart(nodeid, location):
    tr = _state.get("tr")
    if tr is None:
        return
    if nodeid.startswith(_LONG_ITEMS):
        tr.write_line(f"{_elapsed()} start  {nodeid}")
        return
    if not nodeid.startswith("tests/sim/"):
        return
    from sim.suite import log_path

    log = log_path(nodeid).relative_to(Path.cwd()) if log_path(nodeid).is_relative_to(Path.cwd()) \
        else log_path(nodeid)
    tr.write_line(f"{_elapsed()} start  {_short(nodeid)}  log {log}")


def pytest_sessionstart(session):
    _state["tr"] = _tr(session.config) if _is_controller(session.config) else None
    _state["t0"] = time.monotonic()


def _fmt_sim(ns: float) -> str:
    return f"{ns / 1e6:.2f} ms" if ns >= 1e6 else f"{ns / 1e3:.1f} us"


def pytest_runtest_logreport(report):
    tr = _state.get("tr")
    if tr is None:
        return
    props = dict(report.user_properties)
    if report.when == "call" or (report.when == "setup" and report.failed):
        _state["items"][report.nodeid] = report
    worker = getattr(getattr(report, "node", None), "gateway", None)
    wid = worker.id if worker is not None else "main"
    if report.nodeid.startswith(_LONG_ITEMS) and (report.when == "call" or not report.passed):
        verdict = "PASS" if report.passed else "SKIP" if report.skipped else "FAIL"
        tr.write_line(f"{_elapsed()} {wid:>4} {verdict} {report.nodeid}  wall {report.duration:.1f} s")
    if report.when != "call":
        return
    for t in props.get("cocotb", []):
        _state["cocotb"].append(t)
        verdict = "PASS" if t["ok"] else "FAIL"
        where = "-".join(x for x in (t["sim"], t["label"]) if x)
        tr.write_line(f"{_elapsed()} {wid:>4} {verdict} {where} {t['module'].rsplit('.', 1)[-1]}.{t['name']}  "
                      f"sim {_fmt_sim(t['sim_ns'])}  wall {t['wall_s']:.1f} s")
    if report.failed:
        _state["failures"].append(report)


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report, config):
    # simulation items print their own lines; a dot between them would only break the lines up
    if report.nodeid.startswith("tests/sim/") and report.when == "call":
        if report.passed:
            return "passed", "", "PASSED"
        if report.failed:
            return "failed", "", "FAILED"
    return None


# -- results -----------------------------------------------------------------------------------------------
def pytest_sessionfinish(session, exitstatus):
    if not _is_controller(session.config) or not _state["items"]:
        return
    from sim import results

    out = results_dir()
    out.mkdir(parents=True, exist_ok=True)
    junit = results.junit_from_reports(list(_state["items"].values()), _state["cocotb"])
    junit.write(junit_path(), encoding="utf-8", xml_declaration=True)
    results.update_durations(out / "durations.json", list(_state["items"].values()), _state["cocotb"])


def results_dir() -> Path:
    """build/results; under COVERAGE=1 (make coverage) build/coverage: a coverage build's results and wall
    times stay apart, they must not order or group the normal runs."""
    return RESULTS.parent / "coverage" if os.environ.get("COVERAGE", "0") not in ("", "0") else RESULTS


def junit_path() -> Path:
    shard = os.environ.get("SHARD", "")
    if shard:
        k, n = preflight.parse_shard(shard)
        return results_dir() / f"junit-{k}of{n}.xml"
    return results_dir() / "junit.xml"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _is_controller(config) and junit_path().is_file() and _state["items"]:
        terminalreporter.write_line(f"results: {junit_path()} ({len(_state['cocotb'])} cocotb tests, "
                                    f"{len(_state['items'])} pytest items)")


def pytest_unconfigure(config):
    """The failed tests' reports once more, as the very last lines: a long run's output is read from the end."""
    tr = _state.get("tr")
    if tr is None or not _state["failures"]:
        return
    tr.section(f"{len(_state['failures'])} failed: what to read, what to rerun", sep="=")
    for rep in _state["failures"]:
        lines = str(rep.longrepr).splitlines()
        keep = [ln for ln in lines if ln.lstrip().startswith(("FAILED ", "rule:", "msg:", "addr:", "tlp:",
                                                                "rerun with waves:", "log:",
                                                                "waves:", "view:", "opens at"))]
        tr.write_line(rep.nodeid)
        tr.write_line("\n".join("  " + ln for ln in (keep or lines[-12:])))
