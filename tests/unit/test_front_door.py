"""The front door without a simulator: input checks, item grouping, shards, JUnit merging, rerun commands."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest

from sim import results, suite
from tb.simulation import preflight
from sim.runner import rerun_command
from tests.conftest import shard_items

ROOT = suite.runner.ROOT


# -- errors before work ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, value, says", [
    ("SIM", "foo", "choose verilator or icarus"),
    ("SEED", "abc", "a whole number"),
    ("SEED", "-1", "a whole number"),
    ("TESTCASE", "(", "not a regular expression"),
    ("WAVES_FROM", "xyz", "a simulation time"),
    ("WAVES_TO", "12parsecs", "a simulation time"),
    ("TB_FAULT", "no_such_fault", "unknown fault 'no_such_fault'"),
    ("RING_CASE", "abc", "not a ring case id"),
    ("RING_CASES", "0", "1 or more"),
    ("JOBS", "0", "1 or more"),
    ("SHARD", "3/2", "k/N with 1 <= k <= N"),
    ("SHARD", "half", "k/N"),
    ("TEST", "tests/sim/no_such_file.py", "no such file"),
])
def test_each_bad_input_is_one_line_naming_it(name, value, says):
    problems = preflight.check_env({name: value})
    assert len(problems) == 1
    assert problems[0].startswith(f"{name}={value!r}") and says in problems[0]


def test_good_inputs_pass():
    env = {"SIM": "icarus", "SEED": "1795634114", "TESTCASE": r"[.](tx_end_to_end)\b", "WAVES_FROM": "0",
           "WAVES_TO": "6936", "TB_FAULT": "used_idx_first,leak_desc", "JOBS": "2", "SHARD": "2/4",
           "RING_CASES": "10000", "RING_CASE": "eyJhZnRlciI6W10sImJlZm9yZSI6W10sImZsYXZvdXIiOjAsImluZGlyZWN0X2Fja2VkIjpmYWxzZSwia2luZCI6Im5leHRfb3V0X29mX3JhbmdlIiwibXNpeCI6ZmFsc2UsInBhcmFtIjowLCJzYW1lX2JhdGNoIjpmYWxzZSwic2VlZCI6MH0",
           "TEST": "tests/sim/test_virtio_tx.py::test_virtio_tx"}
    assert preflight.check_env(env) == []
    assert preflight.check_env({"WAVES_FROM": "10us", "WAVES_TO": "1us"}) == [
        "WAVES_FROM='10us' is not before WAVES_TO='1us'"]


def test_make_with_a_bad_variable_fails_fast_with_exit_2():
    t0 = time.monotonic()
    proc = subprocess.run(["make", "-s", "test", "SIM=foo"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "SIM='foo'" in proc.stderr
    assert time.monotonic() - t0 < 10      # nothing was built or run (typically ~0.1 s)


def test_preflight_needs_only_the_standard_library():
    # it runs before the virtualenv exists: the system interpreter, no site packages
    for module in ("sim.preflight", "tb.simulation.preflight"):
        proc = subprocess.run([sys.executable, "-S", "-c", f"import {module}"], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr


# -- items and shards ----------------------------------------------------------------------------------------
def test_quick_tests_share_a_run_long_ones_run_alone():
    cost = {"a": 1.0, "b": 2.0, "long": 100.0, "c": 20.0, "d": 10.0, "e": 1.0}
    groups = suite.group_tests(list(cost), cost, limit=25.0)
    assert sorted(groups) == [["a", "b", "c"], ["d", "e"], ["long"]]
    assert all(len(g) == 1 or sum(cost[t] for t in g) <= 25.0 for g in groups)


def test_a_case_filter_matches_exactly_its_tests():
    case = suite.Case("verilator", "virtio_net_usp", "tests.sim.test_virtio_tx",
                      ("variants_and_modes/case=post+kick_suppress", "bad_input/case=2"))
    rx = re.compile(case.test_filter)
    assert rx.search("tests.sim.test_virtio_tx.variants_and_modes/case=post+kick_suppress")
    assert rx.search("tests.sim.test_virtio_tx.bad_input/case=2")
    assert not rx.search("tests.sim.test_virtio_tx.bad_input/case=21")
    assert not rx.search("tests.sim.test_virtio_tx.variants_and_modes/case=postXkick_suppress")
    assert str(case) == "verilator-variants_and_modes/case=post+kick_suppress+1"


def test_log_path_is_a_function_of_the_node_id_alone():
    nodeid = "tests/sim/test_virtio_tx.py::test_virtio_tx[verilator-w256-tx_end_to_end/msix=True/indirect=True]"
    assert suite.log_path(nodeid) == suite.log_path(nodeid)
    assert suite.log_path(nodeid).parent == ROOT / "build" / "logs"
    assert "/" not in suite.log_path(nodeid).name


def test_shards_cover_every_item_once_and_balance():
    items = [SimpleNamespace(nodeid=f"t{i}", callspec=SimpleNamespace(params={"case": SimpleNamespace(
        expected_s=float(s))})) for i, s in enumerate([300, 120, 100, 90, 60, 30, 30, 20, 10, 5, 5, 1])]
    parts = [shard_items(items, k, 3) for k in (1, 2, 3)]
    ids = [i.nodeid for p in parts for i in p]
    assert sorted(ids) == sorted(i.nodeid for i in items)
    loads = [sum(i.callspec.params["case"].expected_s for i in p) for p in parts]
    assert max(loads) - min(loads) <= 300          # the 300 s item alone bounds it
    assert shard_items(items, 2, 3) == parts[1]    # deterministic: every machine computes the same split


# -- results -------------------------------------------------------------------------------------------------
def _report(nodeid, outcome="passed", duration=1.0):
    return SimpleNamespace(nodeid=nodeid, duration=duration, when="call", passed=outcome == "passed",
                           failed=outcome == "failed", skipped=outcome == "skipped", longrepr="boom")


def _cocotb(name, ok=True, sim="verilator"):
    return {"name": name, "ok": ok, "wall_s": 2.0, "sim_ns": 1000.0, "seed": "1", "message": "" if ok else "bad",
            "module": "tests.sim.test_virtio_tx", "sim": sim, "toplevel": "virtio_net_usp", "params": {},
            "label": "w256"}


def test_shards_split_by_the_committed_durations_alone(tmp_path, monkeypatch):
    # a shard run writes the local durations; the next shard in the same checkout must still split the same way
    committed, local = tmp_path / "committed.json", tmp_path / "local.json"
    committed.write_text('{"a": 1.0}')
    local.write_text('{"a": 9.0, "b": 2.0}')
    monkeypatch.setattr(suite, "DURATIONS_COMMITTED", committed)
    monkeypatch.setattr(suite, "DURATIONS_LOCAL", local)
    monkeypatch.delenv("SHARD", raising=False)
    assert suite.load_durations() == {"a": 9.0, "b": 2.0}
    monkeypatch.setenv("SHARD", "2/2")
    assert suite.load_durations() == {"a": 1.0}


def test_two_shards_merge_into_one_junit_file(tmp_path):
    a = results.junit_from_reports([_report("tests/sim/x.py::t[a]")], [_cocotb("t1"), _cocotb("t2", ok=False)])
    b = results.junit_from_reports([_report("tests/unit/u.py::u", "failed")], [_cocotb("t3", sim="icarus")])
    a.write(tmp_path / "a.xml")
    b.write(tmp_path / "b.xml")
    root = results.merge([tmp_path / "a.xml", tmp_path / "b.xml"]).getroot()
    assert root.get("tests") == "5" and root.get("failures") == "2"
    names = {s.get("name"): [c.get("name") for c in s.iter("testcase")] for s in root.iter("testsuite")}
    assert sorted(names["pytest"]) == ["t[a]", "u"]
    assert names["verilator/virtio_net_usp-default/tests.sim.test_virtio_tx"] == ["t1", "t2"]
    assert names["icarus/virtio_net_usp-default/tests.sim.test_virtio_tx"] == ["t3"]
    proc = subprocess.run([sys.executable, "-m", "sim.results", "merge", str(tmp_path / "a.xml"),
                           str(tmp_path / "b.xml"), "-o", str(tmp_path / "m.xml")], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1 and "5 testcases, 2 failures" in proc.stdout   # failures make the merge fail
    assert ET.parse(tmp_path / "m.xml").getroot().get("tests") == "5"


def test_parts_say_where_the_time_went(tmp_path):
    reports = [_report("tests/sim/x.py::t[verilator-w64]", duration=30.0),
               _report("tests/sim/x.py::t[icarus-w64]", duration=50.0),
               _report("tests/synth/s.py::synth", duration=120.0), _report("tests/unit/u.py::u", duration=0.5)]
    results.junit_from_reports(reports, [_cocotb("t1"), _cocotb("t2"), _cocotb("t3", sim="icarus")]).write(
        tmp_path / "a.xml")
    rows = {r[0]: r[1:] for r in results.parts([tmp_path / "a.xml"])}
    assert rows == {"synthesis (yosys)": (1, 0, 120.0), "simulation, icarus": (1, 1, 50.0),
                    "simulation, verilator": (1, 2, 30.0), "unit": (1, 0, 0.5)}
    assert [r[0] for r in results.parts([tmp_path / "a.xml"])][0] == "synthesis (yosys)"   # longest first


def test_durations_are_recorded_by_build_and_test(tmp_path):
    data = results.update_durations(tmp_path / "d.json", [_report("tests/unit/u.py::u", duration=0.25)],
                                    [_cocotb("t1")])
    assert data["verilator/virtio_net_usp-default/tests.sim.test_virtio_tx.t1"] == 2.0
    assert data["tests/unit/u.py::u"] == 0.25


# -- the rerun command -----------------------------------------------------------------------------------------
def test_rerun_names_exactly_the_failed_test(monkeypatch):
    monkeypatch.delenv("TB_FAULT", raising=False)
    monkeypatch.delenv("REGRESS", raising=False)
    cmd = rerun_command("tests.sim.test_virtio_tx", "icarus", ["variants_and_modes/case=pre-a+always"], "42",
                        (100.0, 2000.0))
    m = re.search(r"TESTCASE='([^']*)'", cmd)
    assert m is not None
    rx = re.compile(m.group(1))
    assert rx.search("tests.sim.test_virtio_tx.variants_and_modes/case=pre-a+always")
    assert not rx.search("tests.sim.test_virtio_tx.variants_and_modes/case=pre-aaalways")
    assert cmd.startswith("make waves TEST=tests/sim/test_virtio_tx.py ")
    assert " SIM=icarus SEED=42 " in cmd and cmd.endswith("WAVES_FROM=100 WAVES_TO=2000")
    assert preflight.check_env({"TESTCASE": m.group(1), "SEED": "42", "WAVES_FROM": "100",
                                "WAVES_TO": "2000"}) == []
