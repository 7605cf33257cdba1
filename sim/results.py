"""Results CI can read: one JUnit file per run, merged across shards; recorded durations.

    python -m sim.results merge shard1/junit.xml shard2/junit.xml -o build/results/junit.xml
    python -m sim.results durations [--commit]     # show (or commit to tests/sim/durations.json) the last run's
    python -m sim.results parts [build/results/junit.xml ...]   # where a run's time went, part by part

``build/results/junit.xml`` (``junit-<k>of<N>.xml`` for ``SHARD=k/N``) holds a ``pytest`` testsuite (one
testcase per pytest item, with its duration and failure text) and one testsuite per (simulator, build,
cocotb module) with one testcase per cocotb test (wall time, simulated time, seed, and the failure message).
Several shards' files merge into one.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _suite_el(name: str, cases: list[ET.Element]) -> ET.Element:
    el = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(cases)),
        failures=str(sum(c.find("failure") is not None for c in cases)),
        errors=str(sum(c.find("error") is not None for c in cases)),
        skipped=str(sum(c.find("skipped") is not None for c in cases)),
        time=f"{sum(float(c.get('time', 0)) for c in cases):.3f}",
    )
    el.extend(cases)
    return el


def junit_from_reports(reports: list[Any], cocotb: list[dict]) -> ET.ElementTree:
    """From pytest reports (call phase, or a failed setup) and the cocotb tests the items carried."""
    items = []
    for rep in reports:
        path, _, name = rep.nodeid.partition("::")
        case = ET.Element(
            "testcase",
            classname=path.replace("/", ".").removesuffix(".py"),
            name=name or path,
            time=f"{rep.duration:.3f}",
        )
        if rep.failed:
            ET.SubElement(case, "failure", message=f"{rep.when} failed").text = str(rep.longrepr)
        elif rep.skipped:
            reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
            ET.SubElement(case, "skipped", message=reason)
        items.append(case)
    from sim.runner import param_tag  # noqa: PLC0415 - the merge CLI needs only the standard library

    by_suite: dict[str, list[ET.Element]] = defaultdict(list)
    for t in cocotb:
        build = f"{t['toplevel']}-{param_tag(t['params'])}"
        case = ET.Element("testcase", classname=t["module"], name=t["name"], time=f"{t['wall_s']:.3f}")
        props = ET.SubElement(case, "properties")
        for key in ("sim", "seed", "sim_ns"):
            ET.SubElement(props, "property", name=key, value=str(t[key]))
        if not t["ok"]:
            ET.SubElement(
                case, "failure", message=t["message"].splitlines()[0][:300] if t["message"] else "failed"
            ).text = t["message"]
        by_suite[f"{t['sim']}/{build}/{t['module']}"].append(case)
    root = ET.Element("testsuites", name="virtio-net testbench")
    root.append(_suite_el("pytest", items))
    for name in sorted(by_suite):
        root.append(_suite_el(name, by_suite[name]))
    _totals(root)
    ET.indent(root)
    return ET.ElementTree(root)


def _totals(root: ET.Element) -> None:
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, 0)) for s in root.iter("testsuite"))))
    root.set("time", f"{sum(float(s.get('time', 0)) for s in root.iter('testsuite')):.3f}")


def merge(paths: list[Path]) -> ET.ElementTree:
    """Several runs' junit.xml (shards) as one: testsuites of the same name are joined."""
    suites: dict[str, list[ET.Element]] = defaultdict(list)
    for path in paths:
        for s in ET.parse(path).getroot().iter("testsuite"):
            suites[s.get("name", "?")] += list(s.iter("testcase"))
    root = ET.Element("testsuites", name="virtio-net testbench")
    for name in sorted(suites, key=lambda n: (n != "pytest", n)):
        root.append(_suite_el(name, suites[name]))
    _totals(root)
    ET.indent(root)
    return ET.ElementTree(root)


def update_durations(path: Path, reports: list[Any], cocotb: list[dict]) -> dict[str, float]:
    """Add this run's wall times (cocotb tests by build and name, other items by node id) to ``path``."""
    from sim import suite  # noqa: PLC0415

    try:
        data: dict[str, float] = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    for t in cocotb:
        key = suite.duration_key(t["sim"], t["toplevel"], t["params"], t["module"], t["name"])
        data[key] = round(t["wall_s"], 2)
    for rep in reports:
        if "tests/sim/" not in rep.nodeid and rep.passed:
            data[rep.nodeid] = round(rep.duration, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(sorted(data.items())), indent=0))
    tmp.replace(path)
    return data


def _part(classname: str, name: str) -> str:
    if classname.startswith("tests.sim."):
        sim = name.partition("[")[2].partition("-")[0]
        if sim not in ("verilator", "icarus"):
            # an item of its own kind: the simulator agreement runs one scenario on both
            sim = "both simulators" if classname == "tests.sim.test_sim_agreement" else "other"
        return f"simulation, {sim}"
    for prefix, part in (("tests.synth.", "synthesis (yosys)"), ("tests.hil.", "QEMU guests"), ("tests.unit.", "unit")):
        if classname.startswith(prefix):
            return part
    return classname


def parts(files: list[Path]) -> list[tuple[str, int, int, float]]:
    """(part, pytest items, cocotb tests, summed item wall time in s) of one run's JUnit files, longest first.

    An item's time includes the simulator builds it waited for; the sum is worker time: on N workers the
    part took about sum / N of the wall clock."""
    acc: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for f in files:
        root = ET.parse(f).getroot()
        for suite_el in root.iter("testsuite"):
            pytest_suite = suite_el.get("name") == "pytest"
            for case in suite_el.iter("testcase"):
                if pytest_suite:
                    a = acc[_part(case.get("classname", ""), case.get("name", ""))]
                    a[0] += 1
                    a[2] += float(case.get("time", 0))
                else:
                    sim = (suite_el.get("name") or "").partition("/")[0]
                    acc[f"simulation, {sim}"][1] += 1
    rows = [(k, int(v[0]), int(v[1]), float(v[2])) for k, v in acc.items()]
    return sorted(rows, key=lambda r: -r[3])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.results", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("merge", help="merge shards' JUnit files")
    m.add_argument("inputs", nargs="+", type=Path)
    m.add_argument("-o", "--output", type=Path, required=True)
    d = sub.add_parser("durations", help="the last run's recorded durations")
    d.add_argument("--commit", action="store_true", help="write them to tests/sim/durations.json")
    pa = sub.add_parser("parts", help="where a run's time went: items and worker time per part")
    pa.add_argument("inputs", nargs="*", type=Path, default=[ROOT / "build" / "results" / "junit.xml"])
    args = ap.parse_args(argv)
    if args.cmd == "parts":
        missing = [p for p in args.inputs if not p.is_file()]
        if missing:
            print(f"sim.results parts: missing {', '.join(map(str, missing))}", file=sys.stderr)
            return 2
        rows = parts(args.inputs)
        print("| part | pytest items | cocotb tests | worker time |\n|---|---|---|---|")
        for name, n_items, n_cocotb, secs in rows:
            print(f"| {name} | {n_items} | {n_cocotb} | {secs / 60:.1f} min |")
        print(
            f"| total | {sum(r[1] for r in rows)} | {sum(r[2] for r in rows)} | "
            f"{sum(r[3] for r in rows) / 60:.1f} min |"
        )
        return 0
    if args.cmd == "merge":
        missing = [p for p in args.inputs if not p.is_file()]
        if missing:
            print(f"sim.results merge: missing {', '.join(map(str, missing))}", file=sys.stderr)
            return 2
        tree = merge(args.inputs)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        tree.write(args.output, encoding="utf-8", xml_declaration=True)
        root = tree.getroot()
        assert root is not None, "a merged JUnit tree has its root"
        print(
            f"{args.output}: {root.get('tests')} testcases, {root.get('failures')} failures, "
            f"{root.get('errors')} errors from {len(args.inputs)} files"
        )
        return 1 if int(root.get("failures", 0)) or int(root.get("errors", 0)) else 0
    from sim import suite  # noqa: PLC0415

    local = suite.load_durations()
    sims = [k for k in local if "/" in k and not k.startswith("tests/")]
    print(
        f"{len(local)} recorded durations ({len(sims)} cocotb tests); "
        f"{sum(local[k] for k in sims) / 60:.1f} min of cocotb wall time"
    )
    if args.commit:
        suite.DURATIONS_COMMITTED.write_text(json.dumps(dict(sorted(local.items())), indent=0) + "\n")
        print(f"written to {suite.DURATIONS_COMMITTED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
