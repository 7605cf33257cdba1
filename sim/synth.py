"""``make synth``: yosys ``synth_xilinx -family xcup`` of the device and of the board top, module by module.

    python -m sim.synth [--jobs N] [--top NAME] [--no-cache] [--update-readme]

1. Elaborate each top at its default parameters (``FAULT_ENABLE=0`` when the top declares it, so the
   test-only fault knobs are compiled out): ``sim/yosys/elaborate.ys``.
2. Synthesize every module of the elaborated hierarchy on its own, its submodules black boxes
   (``sim/yosys/module.ys``), in parallel. Each module fails on a latch, a combinational loop, a net with
   two drivers or a used net with none. A module's result is cached under build/synth/cache by the hash
   of its elaborated RTL (internal auto-numbers renumbered), its submodules' ports, the yosys version and
   the scripts: an unchanged module is not synthesized again, and the cached netlist is exactly what a
   fresh run produces (the job reads the renumbered text, not the original).
3. Put the modules back under the top, flatten, check across module boundaries (``sim/yosys/stitch.ys``),
   then count resources per instance and find the longest LUT path per clock and any combinational
   loop through several modules (sim/netlist.py).

Writes build/synth/report.json and prints the tables. Exit status 1 when a check fails or yosys errors;
the message names the check, the module and, where yosys gives it, the source line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from sim import netlist, toolchain

ROOT = Path(__file__).resolve().parent.parent
HDL = ROOT / "hdl"
OUT = ROOT / "build" / "synth"
SCRIPTS = Path(__file__).resolve().parent / "yosys"
BLACKBOX = Path(__file__).resolve().parent / "blackbox"
FAMILY = "xcup"
CACHE_FORMAT = 1  # bump when the job's inputs or outputs change meaning

# top -> (extra sources, what it is)
TOPS = {
    "virtio_net_usp": ([], "the device (hdl/virtio_net_usp.v)"),
    "virtio_net_vcu118": (
        [BLACKBOX / "pcie4_uscale_plus_0.v"],
        "VCU118 board top with the PCIe IP as a black box (hdl/boards/vcu118)",
    ),
}
README = HDL / "README.md"
README_BEGIN = "<!-- synth-table: begin (python -m sim.synth --update-readme) -->"
README_END = "<!-- synth-table: end -->"


class SynthError(RuntimeError):
    pass


# -- RTLIL handling ----------------------------------------------------------------------------------------
@dataclass
class Module:
    name: str  # RTLIL name: \foo or $paramod$<hash>\foo
    text: str  # the module with its attributes, as yosys wrote it
    blackbox: bool
    children: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        m = re.search(r'attribute \\hdlname "\\\\([^"]+)"', self.text)
        if m:
            return m.group(1)
        return self.name.split("\\")[-1]

    @property
    def cmd_name(self) -> str:
        """The name as a yosys command argument."""
        return self.name[1:] if self.name.startswith("\\") else self.name


def parse_rtlil(text: str) -> dict[str, Module]:
    mods: dict[str, Module] = {}
    pending: list[str] = []
    current: list[str] | None = None
    name = ""
    for line in text.splitlines():
        if current is None:
            if line.startswith("attribute "):
                pending.append(line)
            elif line.startswith("module "):
                name = line.split(None, 1)[1]
                current = pending + [line]
                pending = []
            else:
                pending = []
            continue
        current.append(line)
        if line == "end":
            body = "\n".join(current) + "\n"
            mods[name] = Module(name, body, "attribute \\blackbox 1" in body.split("module ", 1)[0])
            current = None
    for mod in mods.values():
        types = re.findall(r"^  cell (\S+) ", mod.text, re.M)
        mod.children = sorted({t for t in types if t in mods})
    return mods


# "$4382" in "$add$hdl/x.v:0$4382_Y", not the hash in "$paramod$2707245c..."
_AUTOIDX = re.compile(r"(?<!paramod)\$(\d+)(?![0-9A-Za-z])")


_PRIORITY = re.compile(r"^(    parameter \\PRIORITY )(\d+)$", re.M)


def canonical(text: str) -> str:
    """The module's text without what depends on the modules elaborated before it: yosys's global
    auto-indices ($1234) renumbered in order of first appearance, memory write-port priorities (a global
    counter too; only their order matters) ranked, and the module attributes sorted, without \\top."""
    numbers: dict[str, str] = {}

    def sub(m: re.Match) -> str:
        return "$" + numbers.setdefault(m.group(1), str(len(numbers) + 1))

    lines = text.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("module "))
    attrs = sorted(ln for ln in lines[:at] if ln != "attribute \\top 1")
    text = "\n".join(attrs + lines[at:]) + "\n"
    order = sorted({int(m[1]) for m in _PRIORITY.findall(text)})
    rank = {v: str(i + 1) for i, v in enumerate(order)}
    text = _PRIORITY.sub(lambda m: m.group(1) + rank[int(m.group(2))], text)
    return sort_actions(_AUTOIDX.sub(sub, text))


def _action_key(body: str) -> tuple[str, str] | None:
    """(kind, wire) of a process action: ``assign <lhs> <rhs>`` in a case, ``update <lhs> <rhs>`` in a sync
    rule; wire "" for the empty action; None for anything else, and for a concatenation on the left (it
    writes several wires)."""
    kind, _, rest = body.partition(" ")
    if kind not in ("assign", "update") or not rest:
        return None
    lhs = rest.split(None, 1)[0]
    if lhs == "{":
        return (kind, "") if rest.strip() == "{ } { }" else None
    return kind, lhs


def sort_actions(text: str) -> str:
    """Each run of consecutive process actions of one kind sorted by the wire it writes (a stable sort).
    The frontend emits them in the order of yosys's global name table, which depends on what was read
    before: the same module elaborated under two tops came out with its actions in two orders, two cache
    keys and two yosys runs. In RTLIL the right-hand sides read the signals, not earlier actions; only
    actions on the same wire (a later one overrides) keep their order, and a concatenation on the left
    ends a run."""
    out: list[str] = []
    run: list[tuple[str, str]] = []
    head = ("", "")  # the run's indent and kind

    def flush() -> None:
        out.extend(line for _, line in sorted(run, key=lambda r: r[0]))
        run.clear()

    for line in text.splitlines():
        body = line.lstrip(" ")
        key = _action_key(body)
        here = (line[: len(line) - len(body)], key[0] if key else "")
        if key is None or (run and here != head):
            flush()
        if key is None:
            out.append(line)
            continue
        head = here
        run.append((key[1], line))
    flush()
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def interface(mod: Module) -> str:
    """The module as a black box: its attributes, ports and nothing else."""
    lines = mod.text.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("module "))
    head = sorted(ln for ln in lines[:at] if not re.match(r"attribute \\(src|blackbox|top) ", ln))
    keep = ["attribute \\blackbox 1", *head, next(ln for ln in lines if ln.startswith("module "))]
    keep += [ln for ln in lines if re.match(r"  wire .*\b(input|output|inout) \d+ ", ln)]
    return "\n".join(keep) + "\nend\n"


# -- running yosys -----------------------------------------------------------------------------------------
@dataclass
class YosysRun:
    returncode: int
    log: str
    cpu_s: float
    wall_s: float


_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()


def run_yosys(script: Path, log: Path, yosys: str, timeout: float = 1800) -> YosysRun:
    """Run one yosys script (from the repository root, so source paths in messages are relative)."""
    t0 = time.monotonic()
    log.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [yosys, "-q", "-l", str(log), "-s", str(script)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    with _running_lock:
        _running.add(proc)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise SynthError(f"yosys {script.name} did not finish in {timeout:.0f} s (log: {log})") from None
    finally:
        with _running_lock:
            _running.discard(proc)
    text = log.read_text(errors="replace") if log.exists() else out
    # yosys ends its log with its own CPU time: "End of script. ... CPU: user 58.60s system 0.65s"
    m = re.search(r"CPU: user ([\d.]+)s system ([\d.]+)s", text)
    cpu = float(m.group(1)) + float(m.group(2)) if m else 0.0
    return YosysRun(proc.returncode, text, cpu, time.monotonic() - t0)


def stop_all() -> None:
    """Kill the yosys runs still going (after one module failed: its message is what matters)."""
    with _running_lock:
        for proc in _running:
            proc.kill()


_PROBLEM_LINES = re.compile(
    r"(ERROR:.*|Latch inferred for signal.*|Warning: multiple conflicting drivers.*|"
    r"Warning: Wire .* is used but has no driver.*|Warning: found logic loop.*|found logic loop.*|"
    r"^\s+(?:module input|port|cell) .*)",
    re.M,
)


def explain_failure(log: str, what: str) -> str:
    """The lines of a failed yosys log that say what is wrong, with their source locations."""
    sel = re.search(r"ERROR: Assertion failed: selection is not empty: (.*)\nSelection contains:\n((?:.+\n?)*)", log)
    selected = {ln.strip().split("/", 1)[-1] for ln in sel.group(2).splitlines()} if sel else set()
    lines = []
    for m in _PROBLEM_LINES.finditer(log):
        line = m.group(0).rstrip()
        if line.startswith("Latch inferred") and line.rsplit(": ", 1)[-1] not in selected:
            continue  # a latch proc modelled and opt_clean removed (no load): not in the design
        if line not in lines:
            lines.append(line)
    hint = ""
    if sel and ("LDCE" in sel.group(1) or "dlatch" in sel.group(1).lower()):
        hint = "a latch: a combinational always block does not assign every signal on every path"
        lines += [f"latch cell: {c}" for c in sorted(selected)]
    elif "conflicting drivers" in log:
        hint = "a net with two drivers"
    elif "has no driver" in log:
        hint = "a used net that nothing drives"
    elif "logic loop" in log:
        hint = "a combinational loop"
    body = "\n".join(f"    {ln}" for ln in lines[-40:]) or "    " + "\n    ".join(log.splitlines()[-20:])
    return f"{what}: {hint or 'yosys failed'}\n{body}"


# -- the flow ----------------------------------------------------------------------------------------------
@dataclass
class Design:
    """What to synthesize: RTL read for every top, and per top its extra sources and a description."""

    sources: list[Path]
    tops: dict[str, tuple[list[Path], str]]
    out: Path = OUT


def default_design() -> Design:
    return Design(sorted(HDL.rglob("*.v")), dict(TOPS))


def module_source(name: str, files: list[Path]) -> str | None:
    """The text of ``module name`` ... ``endmodule`` in one of ``files``."""
    pat = re.compile(rf"^\s*module\s+{re.escape(name)}\b(.*?)^\s*endmodule\b", re.S | re.M)
    for f in files:
        m = pat.search(f.read_text(errors="replace"))
        if m:
            return m.group(0)
    return None


_FAULT_PARAM = re.compile(r"\bparameter\s+(?:\[[^\]]*\]\s*)?FAULT_ENABLE\b")
_FAULT_VALUE = re.compile(r"^  parameter \\FAULT_ENABLE (\S+)$", re.M)


def elaborate(top: str, design: Design, yosys: str, work: Path) -> tuple[dict[str, Module], str, YosysRun]:
    """Elaborate ``top``; with FAULT_ENABLE=0 when the top declares it (the test-only fault knobs out)."""
    extra, _ = design.tops[top]
    files = [*design.sources, *extra]
    text = module_source(top, files)
    if text is None:
        raise SynthError(f"no module {top} in {len(files)} source files")
    chparam = "-chparam FAULT_ENABLE 0" if _FAULT_PARAM.search(text) else ""
    work.mkdir(parents=True, exist_ok=True)
    out = work / f"{top}.elab.il"
    script = work / f"{top}.elaborate.ys"
    script.write_text(
        (SCRIPTS / "elaborate.ys")
        .read_text()
        .format(sources=" ".join(_rel(p) for p in files), top=top, chparam=chparam, out=_rel(out))
    )
    run = run_yosys(script, work / f"{top}.elaborate.log", yosys, timeout=300)
    if run.returncode != 0:
        raise SynthError(explain_failure(run.log, f"elaborating {top}"))
    mods = parse_rtlil(out.read_text())
    for mod in mods.values():
        for value in _FAULT_VALUE.findall(mod.text):
            if value not in ("0", "1'0", "32'00000000000000000000000000000000"):
                raise SynthError(
                    f"{top}: {mod.base} is elaborated with FAULT_ENABLE={value}: the build would "
                    "carry the test-only fault knobs (they must default to 0 below the top)"
                )
    return mods, chparam, run


def _rel(p: Path) -> str:
    """Paths in yosys scripts: relative to the repository (yosys runs there), else absolute."""
    p = p.resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)


@dataclass
class Job:
    module: Module
    key: str
    text: str
    estimate: int  # size of the elaborated text: the bigger, the earlier it starts


def make_job(mod: Module, mods: dict[str, Module], version: str) -> Job:
    body = canonical(mod.text)
    kids = "".join(interface(mods[c]) for c in mod.children)
    autoidx = len(set(_AUTOIDX.findall(body))) + 1
    text = f"autoidx {autoidx}\n{body}{kids}"
    h = hashlib.sha256()
    for part in (str(CACHE_FORMAT), version, FAMILY, (SCRIPTS / "module.ys").read_text(), text):
        h.update(part.encode())
        h.update(b"\0")
    return Job(mod, h.hexdigest()[:24], text, len(body))


def synth_module(job: Job, yosys: str, out_dir: Path, use_cache: bool) -> dict:
    """Synthesize one module (or take it from the cache): {'il': path, 'cpu_s', 'wall_s', 'cached'}."""
    cache = out_dir / "cache"
    cached_il, meta = cache / f"{job.key}.il", cache / f"{job.key}.json"
    if use_cache and cached_il.exists() and meta.exists():
        info = json.loads(meta.read_text())
        return {"il": cached_il, "cpu_s": info["cpu_s"], "wall_s": 0.0, "cached": True}
    work = out_dir / "jobs" / job.key
    work.mkdir(parents=True, exist_ok=True)
    (work / "job.il").write_text(job.text)
    out = work / "out.il"
    mod = job.module
    script = work / "module.ys"
    script.write_text(
        (SCRIPTS / "module.ys")
        .read_text()
        .format(job=_rel(work / "job.il"), module=mod.cmd_name, family=FAMILY, out=_rel(out))
    )
    run = run_yosys(script, work / "yosys.log", yosys)
    if run.returncode != 0:
        raise SynthError(
            explain_failure(run.log, f"module {mod.base} ({mod.name})") + f"\n    log: {work / 'yosys.log'}"
        )
    cache.mkdir(parents=True, exist_ok=True)
    # netlist first, then its metadata, each renamed into place: a reader that sees the metadata sees it all
    _write_atomic(cached_il, out.read_text())
    _write_atomic(meta, json.dumps({"module": mod.name, "cpu_s": run.cpu_s}))
    return {"il": cached_il, "cpu_s": run.cpu_s, "wall_s": run.wall_s, "cached": False}


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def stitch(
    top: str, mods: dict[str, Module], results: dict[str, dict], yosys: str, work: Path
) -> tuple[dict, dict, YosysRun]:
    """Read the synthesized modules under ``top``, check across them; (stat -json, flat netlist, run)."""
    stubs = work / f"{top}.blackboxes.il"
    stubs.write_text("".join(interface(m) for m in mods.values() if m.blackbox and not _is_yosys_lib(m)))
    reads = [f"read_rtlil {_rel(results[name]['il'])}" for name in results]
    reads.append(f"read_rtlil {_rel(stubs)}")
    stat, flat = work / f"{top}.stat.json", work / f"{top}.flat.json"
    script = work / f"{top}.stitch.ys"
    script.write_text(
        (SCRIPTS / "stitch.ys").read_text().format(reads="\n".join(reads), top=top, stat=_rel(stat), flat=_rel(flat))
    )
    run = run_yosys(script, work / f"{top}.stitch.log", yosys)
    if run.returncode != 0:
        raise SynthError(explain_failure(run.log, f"{top} across module boundaries"))
    return read_stat_json(stat.read_text()), json.loads(flat.read_text()), run


def read_stat_json(text: str) -> dict:
    """The "modules" object of yosys ``stat -json`` (0.23 appends the design hierarchy of a deep design as
    plain text after it, which is not JSON)."""
    at = text.index('"modules":')
    modules, _ = json.JSONDecoder().raw_decode(text, text.index("{", at))
    return {"modules": modules}


def _is_yosys_lib(mod: Module) -> bool:
    return "/yosys/xilinx/" in mod.text.split("module ", 1)[0]


def _top_name(mods: dict[str, Module]) -> str:
    """The module hierarchy -top marked as the top (attribute \\top)."""
    tops = [m.name for m in mods.values() if "attribute \\top 1" in m.text.split("module ", 1)[0]]
    if len(tops) != 1:
        raise SynthError(f"the elaborated design has {len(tops)} top modules: {tops}")
    return tops[0]


def instance_tree(mods: dict[str, Module]) -> dict[str, list[tuple[str, str]]]:
    """module -> [(instance name, module)] of its submodule and black-box instances."""
    tree: dict[str, list[tuple[str, str]]] = {}
    for mod in mods.values():
        cells = re.findall(r"^  cell (\S+) (\S+)$", mod.text, re.M)
        tree[mod.name] = [
            (inst.lstrip("\\"), ctype) for ctype, inst in cells if ctype in mods and not _is_yosys_lib(mods[ctype])
        ]
    return tree


def analyse(top: str, mods: dict[str, Module], top_rtlil: str, stats: dict, flat: dict) -> dict:
    names = {m.name: m.base for m in mods.values()}
    blackboxes = {m.name for m in mods.values() if m.blackbox}
    insts = netlist.instances(stats, instance_tree(mods), top_rtlil, names, blackboxes)
    total = netlist.empty_resources()
    for inst in insts:
        total = netlist.add(total, inst.own)
    json_top = top_rtlil[1:] if top_rtlil.startswith("\\") else top_rtlil
    try:
        depth = netlist.logic_depth(flat, json_top)
    except netlist.CombinationalLoop as loop:
        raise SynthError(
            f"{top}: a combinational loop through several modules:\n    " + "\n    ".join(loop.cells)
        ) from None
    return {
        "instances": [{"path": i.path or "(top)", "module": i.module, "blackbox": i.blackbox, **i.own} for i in insts],
        "total": total,
        "depth": {d: p.as_dict() for d, p in depth.items()},
    }


def run(design: Design, jobs: int, use_cache: bool = True, log=print, tops: list[str] | None = None) -> dict:
    """Synthesize ``tops`` (default: all of the design's) and return the report; SynthError on a failure."""
    t_start, p_start = time.monotonic(), time.process_time()
    tops = tops or list(design.tops)
    yosys = toolchain.ensure_yosys()
    version = toolchain.yosys_version(yosys)[1]
    work = design.out / "work"
    log(f"synth: {version}, synth_xilinx -family {FAMILY}, tops: {', '.join(tops)}, {jobs} parallel jobs")
    cpu = 0.0
    designs: dict[str, tuple[dict[str, Module], str]] = {}
    for top in tops:
        mods, chparam, erun = elaborate(top, design, yosys, work)
        cpu += erun.cpu_s
        designs[top] = (mods, chparam)
    # one job per distinct module (the board top contains the device: its modules are shared)
    all_jobs: dict[str, Job] = {}
    per_top: dict[str, dict[str, str]] = {}
    for top, (mods, _) in designs.items():
        per_top[top] = {}
        for name, mod in mods.items():
            if mod.blackbox:
                continue
            job = make_job(mod, mods, version)
            all_jobs.setdefault(job.key, job)
            per_top[top][name] = job.key
    results: dict[str, dict] = {}
    order = sorted(all_jobs.values(), key=lambda j: -j.estimate)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(synth_module, j, yosys, design.out, use_cache): j for j in order}
        for n, fut in enumerate(as_completed(futures), 1):
            job = futures[fut]
            try:
                res = fut.result()
            except SynthError:
                for other in futures:
                    other.cancel()
                stop_all()
                raise
            results[job.key] = res
            if not res["cached"]:
                cpu += res["cpu_s"]
            how = "cached" if res["cached"] else f"{res['wall_s']:.0f} s wall, {res['cpu_s']:.0f} s CPU"
            log(f"synth: [{n}/{len(order)}] {job.module.base} ({how})")
    report: dict = {
        "yosys": version,
        "family": FAMILY,
        "tops": {},
        "jobs": [
            {
                "module": j.module.base,
                "rtlil_name": j.module.name,
                "cpu_s": round(results[k]["cpu_s"], 1),
                "cached": results[k]["cached"],
            }
            for k, j in all_jobs.items()
        ],
    }
    for top, (mods, chparam) in designs.items():
        top_rtlil = _top_name(mods)
        res = {name: results[key] for name, key in per_top[top].items()}
        stats, flat, srun = stitch(top, mods, res, yosys, work)
        cpu += srun.cpu_s
        entry = analyse(top, mods, top_rtlil, stats, flat)
        entry["parameters"] = "defaults" + (" with FAULT_ENABLE=0" if chparam else "")
        entry["what"] = design.tops[top][1]
        report["tops"][top] = entry
    report["time"] = {
        "wall_s": round(time.monotonic() - t_start, 1),
        "cpu_s": round(cpu, 1),
        "python_cpu_s": round(time.process_time() - p_start, 1),
        "modules_cpu_s_uncached": round(sum(r["cpu_s"] for r in results.values()), 1),
        "modules_synthesized": sum(not r["cached"] for r in results.values()),
        "modules_cached": sum(r["cached"] for r in results.values()),
    }
    return report


# -- presentation ------------------------------------------------------------------------------------------
COLUMNS = (
    ("lut", "LUT"),
    ("lutram", "LUTRAM"),
    ("ff", "FF"),
    ("ramb36", "RAMB36"),
    ("dsp", "DSP"),
    ("carry", "CARRY4"),
    ("muxf", "MUXF7/8/9"),
)


def _fmt(v: float) -> str:
    return f"{v:g}" if isinstance(v, float) and v != int(v) else f"{int(v)}"


def table(entry: dict, markdown: bool = False) -> str:
    rows = [(i["path"], i["module"] + (" (black box)" if i["blackbox"] else ""), i) for i in entry["instances"]]
    rows.append(("total", "", entry["total"]))
    head = ["instance", "module", *[c[1] for c in COLUMNS]]
    body = [[p, m, *[_fmt(r[k]) for k, _ in COLUMNS]] for p, m, r in rows]
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * len(COLUMNS)) + "|"]
        out += ["| " + " | ".join(f"**{c}**" if r[0] == "total" and c else c for c in r) + " |" for r in body]
        return "\n".join(out)
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*r) for r in [head, *body])


def depth_line(dom: str, p: dict, clock_mhz: float, markdown: bool = False) -> str:
    q = "`" if markdown else ""
    clock = f" ({1000 / clock_mhz:.1f} ns at {clock_mhz:g} MHz)" if not dom.startswith("(") else ""
    extra = ", ".join(
        f"{p[k]} {name}"
        for k, name in (("dsp_cells", "DSP"), ("carry_cells", "CARRY4"), ("muxf_cells", "MUXF"))
        if p[k]
    )
    via = ", ".join(f"{q}{v}{q}" for v in p["via"][:4]) + (", ..." if len(p["via"]) > 4 else "")
    return (
        f"{q}{dom}{q}{clock}: {p['lut_levels']} LUT levels"
        + (f" (+{extra})" if extra else "")
        + f", from {q}{p['start']}{q} to {q}{p['end']}{q}"
        + (f" via {via}" if via else "")
    )


def depth_text(entry: dict, clock_mhz: float) -> str:
    return "\n".join("  " + depth_line(d, p, clock_mhz) for d, p in entry["depth"].items())


def summary(report: dict, clock_mhz: float) -> str:
    out = []
    for top, entry in report["tops"].items():
        out.append(f"\n{top}: {entry['what']}, {entry['parameters']}")
        out.append(table(entry))
        out.append("logic depth, longest register-to-register path (hierarchical synthesis, then flattened):")
        out.append(depth_text(entry, clock_mhz))
    t = report["time"]
    out.append(
        f"\nsynth: passed (no latches, loops, multiple or missing drivers): {t['wall_s']} s wall, "
        f"{t['cpu_s']} s CPU in yosys and {t['python_cpu_s']} s in Python; {t['modules_synthesized']} "
        f"modules synthesized, {t['modules_cached']} from the cache (all modules without the cache: "
        f"{t['modules_cpu_s_uncached']} s of yosys CPU)"
    )
    return "\n".join(out)


def readme_block(report: dict, clock_mhz: float) -> str:
    entry = report["tops"]["virtio_net_usp"]
    params = entry["parameters"].replace("defaults with ", "")
    intro = (
        f"`virtio_net_usp` at its default parameters{'' if params == 'defaults' else f' ({params})'}, "
        f"{report['yosys']}, `synth_xilinx -family {report['family']}`, per module, then flattened "
        "(`make synth`, build/synth/report.json). yosys 0.23 maps carry chains to 4-bit CARRY4 cells on "
        "UltraScale+ too (Vivado packs them into CARRY8); RAMB36 counts a RAMB18 as 0.5; LUTRAM is LUTs "
        "used as memory."
    )
    lines = [
        README_BEGIN,
        *textwrap.wrap(intro, 110),
        "",
        table(entry, markdown=True),
        "",
        "Logic depth, the longest path between registers per clock (`(outputs)`: paths that end at an "
        "output port, into the hard block):",
        "",
    ]
    for dom, p in entry["depth"].items():
        lines.append("- " + depth_line(dom, p, clock_mhz, markdown=True))
    lines.append(README_END)
    return "\n".join(lines)


def update_readme(report: dict, clock_mhz: float) -> bool:
    text = README.read_text()
    if README_BEGIN not in text or README_END not in text:
        raise SynthError(f"{README} has no synth table markers ({README_BEGIN})")
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    new = head + readme_block(report, clock_mhz) + tail
    changed = new != text
    README.write_text(new)
    return changed


def readme_current(report: dict, clock_mhz: float) -> bool:
    text = README.read_text()
    return readme_block(report, clock_mhz) in text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", action="append", choices=sorted(TOPS), help="synthesize only this top (repeatable)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="modules synthesized in parallel")
    ap.add_argument("--no-cache", action="store_true", help="synthesize every module again")
    ap.add_argument("--update-readme", action="store_true", help="rewrite the resource table in hdl/README.md")
    args = ap.parse_args(argv)
    from sim.device import load as load_description

    def terminate(signum, _frame):  # make test stops it with SIGTERM when the tests are interrupted
        stop_all()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)

    clock_mhz = load_description().user_clk_mhz
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        report = run(
            default_design(), args.jobs, use_cache=not args.no_cache, log=lambda s: print(s, flush=True), tops=args.top
        )
    except (SynthError, toolchain.ToolchainError, ValueError) as exc:
        print(f"synth: FAILED\n{exc}", flush=True)
        return 1
    report["clock_mhz"] = clock_mhz
    (OUT / "report.json").write_text(json.dumps(report, indent=1))
    print(summary(report, clock_mhz))
    print(f"JSON: {OUT / 'report.json'}")
    if "virtio_net_usp" in report["tops"]:
        if args.update_readme:
            changed = update_readme(report, clock_mhz)
            print(f"{README.relative_to(ROOT)}: resource table {'updated' if changed else 'already current'}")
        elif not readme_current(report, clock_mhz):
            print(
                f"note: the resource table in {README.relative_to(ROOT)} differs from this run "
                "(python -m sim.synth --update-readme rewrites it)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
