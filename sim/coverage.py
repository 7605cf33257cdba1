"""What the simulation tests reach: RTL line and toggle coverage and the functional cover points.

``make coverage`` runs the Verilator simulation tests with ``COVERAGE=1`` (sim/runner.py: builds with
``--coverage-line --coverage-toggle`` in their own ``-cov`` directories; every run writes ``coverage.dat`` and
``cover_hits.json`` into its run directory), then ``python -m sim.coverage report``:

- merges every run's ``coverage.dat`` (kept gzip-compressed after the run: ``finish_run``; counts summed per
  coverage point, as ``verilator_coverage --write`` does) into ``build/coverage/merged.dat``;
- per RTL file: line % (a source line counts as hit when each kind of line and branch point on it was hit:
  its block, the if and the else of a branch on it, both arms of a ``?:``; copies of one point that Verilator
  emits in several places count once, hit when any copy is) and toggle % (each bit's 0->1 and 1->0), summed
  over the builds and instances that contain the file;
- the holes: every unhit line of hdl/virtio/ and hdl/pcie/, grouped per file with its source text;
- ``build/coverage/coverage.info`` (lcov) and ``build/coverage/html/`` (genhtml, Debian's lcov), and, when
  Debian's ``verilator_coverage`` is there, sources annotated by it in ``build/coverage/annotated/``;
- the functional cover points (sim/cover_points.py): hit/total per group and every point left unhit.

Test-only fault logic is left out of the percentages and the holes: the bodies of ``if (FAULT_ENABLE != 0 ...)``
statements and generate blocks, the other statements that test FAULT_ENABLE (the knob multiplexers: the knobs
of hdl/virtio/README.md "Fault knobs (test only)", constant in a board build) and the toggles of the fault knob
signals (``fault*``, ``knob*``). The report says how many points that removes.

The targets (issue 18): functional points 100 % hit, line coverage >= 95 % of hdl/virtio/ and hdl/pcie/.
``report`` exits 1 when a target is missed (``--no-check``: report only). Unhit lines that are explained
rather than tested are listed in docs/coverage.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sim import cover_points

ROOT = Path(__file__).resolve().parent.parent
HDL = ROOT / "hdl"
OUT = ROOT / "build" / "coverage"
RUNS_GLOB = "build/sim/verilator/*-cov/runs/*"
TARGET_DIRS = ("virtio", "pcie")  # hdl/<dir>: the line target applies to these
LINE_TARGET = 95.0
HEADER = "# SystemC::Coverage-3"
LINE_TYPES = ("line", "branch")
FAULT_SIGNAL = re.compile(r"^(fault|knob)")  # test-only knob signals (toggle points left out)
FAULT_IF = re.compile(r"\bif\s*\(\s*FAULT_ENABLE\s*!=\s*0\b")
# where FAULT_ENABLE is declared or passed on, not tested: no coverage point of its own
FAULT_DECL = re.compile(r"\b(parameter|localparam)\b|\.FAULT_ENABLE\s*\(|BUILD_FLAGS")


# -- coverage.dat ---------------------------------------------------------------------------------------------
def parse_key(key: str) -> dict[str, str]:
    """A coverage point's key (``\\x01k\\x02v`` pairs) as a dict."""
    out = {}
    for part in key.split("\x01"):
        if "\x02" in part:
            k, v = part.split("\x02", 1)
            out[k] = v
    return out


def read_dat(path: Path) -> dict[str, int]:
    """Key -> count of one coverage.dat (``C '<key>' <count>`` lines; gzip-compressed when it ends in .gz)."""
    points: dict[str, int] = {}
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            if not line.startswith("C '"):
                continue
            end = line.rfind("' ")
            if end < 3:
                continue
            key = line[3:end]
            try:
                points[key] = points.get(key, 0) + int(line[end + 2 :])
            except ValueError:
                continue
    return points


def merge_dats(paths: Iterable[Path]) -> dict[str, int]:
    """Counts summed per point over several coverage.dat files."""
    total: dict[str, int] = {}
    for p in paths:
        for k, n in read_dat(p).items():
            total[k] = total.get(k, 0) + n
    return total


def write_dat(points: dict[str, int], path: Path) -> None:
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(HEADER + "\n")
        for k in sorted(points):
            f.write(f"C '{k}' {points[k]}\n")


def rel_source(path: str) -> str:
    """A point's file relative to the checkout (``hdl/...``; builds name the checkout they ran in: any checkout
    maps to this one). The block tests' wrappers (tests/sim/hdl/) keep their own prefix."""
    for top in ("/tests/sim/hdl/", "/hdl/"):
        i = path.rfind(top)
        if i >= 0:
            return path[i + 1 :]
    return path


def line_ranges(spec: str) -> list[int]:
    """``"55-56,59"`` -> [55, 56, 59]."""
    out: list[int] = []
    for part in spec.split(","):
        if not part:
            continue
        a, _, b = part.partition("-")
        out += range(int(a), int(b or a) + 1)
    return out


# -- test-only fault logic ------------------------------------------------------------------------------------
def fault_regions(text: str) -> set[int]:
    """Lines (1-based) of test-only fault logic: ``if (FAULT_ENABLE != 0 ...)`` statements and generate blocks,
    the if line through the end of its body (the matching ``end`` of a ``begin``, or the first ``;``) without
    its ``else`` part; and every other statement that tests FAULT_ENABLE (the knob multiplexers, ``(FAULT_ENABLE
    != 0) ? fault : 0``, and a negated knob condition's own line)."""
    lines = text.splitlines()
    out: set[int] = set()
    for i, raw in enumerate(lines):
        m = FAULT_IF.search(raw)
        if not m:
            code = _code(raw)
            comment = code.lstrip().startswith(("*", "/*"))
            if "FAULT_ENABLE" in code and not comment and not FAULT_DECL.search(code):
                # a statement that tests FAULT_ENABLE (a knob multiplexer, a negated knob condition): its own
                # lines, to its ';' (a condition's line alone)
                end = i
                if not re.search(r"\bif\s*\(", code):
                    while end + 1 < len(lines) and ";" not in _code(lines[end]):
                        end += 1
                out.update(range(i + 1, end + 2))
            continue
        # the statement after the condition: find the condition's closing parenthesis first
        depth, j, col = 0, i, raw.index("(", m.start())
        body_start: tuple[int, int] | None = None
        while j < len(lines) and body_start is None:
            s = _code(lines[j])
            for c in range(col if j == i else 0, len(s)):
                if s[c] == "(":
                    depth += 1
                elif s[c] == ")":
                    depth -= 1
                    if depth == 0:
                        body_start = (j, c + 1)
                        break
            if body_start is None:
                j += 1
        if body_start is None:
            continue
        j, c = body_start
        rest = _code(lines[j])[c:]
        if re.match(r"\s*begin\b", rest) or (
            not rest.strip() and j + 1 < len(lines) and _code(lines[j + 1]).strip().startswith("begin")
        ):
            end = _matching_end(lines, j, c)
        else:
            end = j
            while end < len(lines) and ";" not in _code(lines[end])[(c if end == j else 0) :]:
                end += 1
        out.update(range(i + 1, min(end, len(lines) - 1) + 2))
        # an ``end else`` on the last line belongs to the normal path: keep that line's else point in
        if end < len(lines) and re.search(r"\bend\s+else\b", _code(lines[end])):
            out.discard(end + 1)
    return out


def _code(line: str) -> str:
    return line.split("//", 1)[0]


def _matching_end(lines: list[str], j: int, c: int) -> int:
    depth = 0
    for k in range(j, len(lines)):
        for tok in re.findall(r"\b(begin|end|case|endcase)\b", _code(lines[k])[(c if k == j else 0) :]):
            if tok in ("begin", "case"):
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    return k
    return len(lines) - 1


_regions: dict[str, set[int]] = {}


def fault_lines(rel: str) -> set[int]:
    if rel not in _regions:
        try:
            _regions[rel] = fault_regions((ROOT / rel).read_text())
        except OSError:
            _regions[rel] = set()
    return _regions[rel]


# -- summary --------------------------------------------------------------------------------------------------
@dataclass
class FileCov:
    path: str  # hdl/...
    lines: dict[int, int] = field(default_factory=dict)  # line -> the smallest count of its points
    toggles: dict[tuple[str, str], int] = field(default_factory=dict)  # (line, signal bit:edge) -> count
    excluded_lines: set[int] = field(default_factory=set)
    excluded_toggles: int = 0

    @property
    def line_hit(self) -> int:
        return sum(1 for n in self.lines.values() if n > 0)

    @property
    def toggle_hit(self) -> int:
        return sum(1 for n in self.toggles.values() if n > 0)

    def line_pct(self) -> float | None:
        return 100.0 * self.line_hit / len(self.lines) if self.lines else None

    def toggle_pct(self) -> float | None:
        return 100.0 * self.toggle_hit / len(self.toggles) if self.toggles else None

    def holes(self) -> list[int]:
        return sorted(line for line, n in self.lines.items() if n == 0)


def summarize(points: dict[str, int], fault_lines_of=fault_lines) -> dict[str, FileCov]:
    """Per RTL file: line and toggle points merged over builds and instances (the hierarchy is dropped)."""
    files: dict[str, FileCov] = {}
    line_pts: dict[tuple[str, tuple], int] = defaultdict(int)
    for key, count in points.items():
        k = parse_key(key)
        if "f" not in k or "l" not in k:
            continue
        rel = rel_source(k["f"])
        if not rel.startswith("hdl/"):
            continue  # the block tests' wrappers are testbench, not device RTL
        fc = files.setdefault(rel, FileCov(rel))
        excluded = fault_lines_of(rel)
        line = int(k["l"])
        kind = k.get("t", "")
        if kind == "toggle":
            sig = k.get("o", "")
            if line in excluded or FAULT_SIGNAL.match(sig):
                fc.excluded_toggles += 1
                continue
            fc.toggles[(str(line), sig)] = fc.toggles.get((str(line), sig), 0) + count
        elif kind in LINE_TYPES:
            ident = (kind, k.get("n", ""), k.get("o", ""), k.get("S", ""), line)
            line_pts[(rel, ident)] += count
    # per source line and kind of point (block, if, else, cond_then, ...): the best count of its copies (Verilator
    # can emit one source branch several times, once per place the model evaluates it); then per line the
    # smallest of its kinds: a line is hit when each of its branches was taken somewhere
    per_kind: dict[tuple[str, int, str], int] = {}
    for (rel, ident), count in line_pts.items():
        _kind, _n, what, spans, line = ident
        fc = files[rel]
        excluded = fault_lines_of(rel)
        covered = line_ranges(spans) if spans else [line]
        if line in excluded:
            fc.excluded_lines.update(covered)
            continue
        for ln in covered:
            if ln not in excluded:
                k3 = (rel, ln, what)
                per_kind[k3] = max(per_kind.get(k3, 0), count)
    for (rel, ln, _what), count in per_kind.items():
        fc = files[rel]
        fc.lines[ln] = min(fc.lines.get(ln, count), count)
    return files


def in_targets(rel: str) -> bool:
    parts = Path(rel).parts
    return len(parts) > 2 and parts[0] == "hdl" and parts[1] in TARGET_DIRS


def totals(files: Iterable[FileCov]) -> tuple[int, int, int, int]:
    lh = lt = th = tt = 0
    for fc in files:
        lh += fc.line_hit
        lt += len(fc.lines)
        th += fc.toggle_hit
        tt += len(fc.toggles)
    return lh, lt, th, tt


def _pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:5.1f} %" if b else "    -  "


def summary_table(files: dict[str, FileCov]) -> list[str]:
    out = [f"{'RTL file':40} {'lines':>15} {'line %':>8}   {'toggles':>15} {'toggle %':>8}"]
    for rel in sorted(files):
        fc = files[rel]
        out.append(
            f"{rel:40} {fc.line_hit:>7}/{len(fc.lines):<7} {_pct(fc.line_hit, len(fc.lines)):>8}   "
            f"{fc.toggle_hit:>7}/{len(fc.toggles):<7} {_pct(fc.toggle_hit, len(fc.toggles)):>8}"
        )
    for label, sel in (
        ("hdl/virtio + hdl/pcie", [f for r, f in files.items() if in_targets(r)]),
        ("all of hdl/", list(files.values())),
    ):
        lh, lt, th, tt = totals(sel)
        out.append(f"{label:40} {lh:>7}/{lt:<7} {_pct(lh, lt):>8}   {th:>7}/{tt:<7} {_pct(th, tt):>8}")
    return out


def hole_report(files: dict[str, FileCov], root: Path = ROOT) -> list[str]:
    """Unhit lines of hdl/virtio and hdl/pcie, per file, consecutive lines together, with their source."""
    out: list[str] = []
    for rel in sorted(r for r in files if in_targets(r)):
        holes = files[rel].holes()
        if not holes:
            continue
        try:
            src = (root / rel).read_text().splitlines()
        except OSError:
            src = []
        out.append(f"{rel}: {len(holes)} unhit line{'s' if len(holes) > 1 else ''}")
        for ln in holes:
            text = src[ln - 1].rstrip() if 0 < ln <= len(src) else "?"
            out.append(f"  {ln:5}: {text}")
    return out


def write_lcov(files: dict[str, FileCov], path: Path, root: Path = ROOT) -> None:
    with open(path, "w") as f:
        f.write("TN:\n")
        for rel in sorted(files):
            fc = files[rel]
            if not fc.lines:
                continue
            f.write(f"SF:{root / rel}\n")
            for ln in sorted(fc.lines):
                f.write(f"DA:{ln},{fc.lines[ln]}\n")
            f.write(f"LF:{len(fc.lines)}\nLH:{fc.line_hit}\nend_of_record\n")


# -- functional cover points ----------------------------------------------------------------------------------
def merge_hits(paths: Iterable[Path]) -> dict[str, list[str]]:
    """Point -> the run directories that hit it."""
    where: dict[str, list[str]] = defaultdict(list)
    for p in paths:
        for point in cover_points.read_hits(p):
            where[point].append(p.parent.name)
    return dict(where)


def functional_report(hit: Iterable[str], points: dict[str, str] | None = None) -> tuple[list[str], int, int]:
    """Lines of the functional summary (hit/total per group, then every unhit point); (lines, hit, total)."""
    points = cover_points.POINTS if points is None else points
    hit = set(hit) & set(points)
    groups: dict[str, list[str]] = defaultdict(list)
    for p in points:
        groups[cover_points.group_of(p)].append(p)
    out = [f"{'cover point group':20} {'hit':>9}"]
    for g, names in groups.items():
        n = sum(1 for p in names if p in hit)
        out.append(f"{g:20} {n:>4}/{len(names):<4} {_pct(n, len(names))}")
    out.append(f"{'all':20} {len(hit):>4}/{len(points):<4} {_pct(len(hit), len(points))}")
    unhit = [p for p in points if p not in hit]
    if unhit:
        out.append(f"unhit cover points ({len(unhit)}):")
        out += compact(unhit, points)
    return out, len(hit), len(points)


def compact(names: list[str], points: dict[str, str]) -> list[str]:
    """One line per unhit point, except numbered families (``race.rx_-32`` ... ``race.rx_32``, chain lengths):
    one line per run of consecutive numbers, with the first point's meaning."""
    out: list[str] = []
    i = 0
    while i < len(names):
        m = re.fullmatch(r"(.*_)(-?\d+)", names[i])
        j = i
        if m:
            base, first = m.group(1), int(m.group(2))
            while j + 1 < len(names) and names[j + 1] == f"{base}{first + (j + 1 - i)}":
                j += 1
        if j - i >= 2:
            last = int(m.group(2)) + (j - i) if m else 0
            out.append(f"  {names[i]} .. {last} ({j - i + 1} points) {points[names[i]]}")
        else:
            out += [f"  {n:42} {points[n]}" for n in names[i : j + 1]]
        i = j + 1
    return out


# -- the report -----------------------------------------------------------------------------------------------
def _show(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def run_dirs(patterns: Sequence[str] = (RUNS_GLOB,)) -> list[Path]:
    out: list[Path] = []
    for pat in patterns:
        out += sorted(p for p in ROOT.glob(pat) if p.is_dir())
    return out


DAT_GZ = "coverage.dat.gz"


def finish_run(test_dir: Path) -> None:
    """After a coverage run (sim/runner.py): its cover points from its event logs, and its coverage.dat
    compressed (a device run writes about 23 MB; gzip keeps a thirtieth of it)."""
    cover_points.write_run_hits(test_dir)
    dat = Path(test_dir) / "coverage.dat"
    if dat.is_file():
        with open(dat, "rb") as src, gzip.open(Path(test_dir) / DAT_GZ, "wb", compresslevel=1) as dst:
            shutil.copyfileobj(src, dst)
        dat.unlink()


def run_dat(d: Path) -> Path | None:
    for name in (DAT_GZ, "coverage.dat"):
        if (d / name).is_file():
            return d / name
    return None


def report(dirs: Sequence[Path], out: Path = OUT, check: bool = True, html: bool = True, rescan: bool = False) -> int:
    if rescan:  # the cover point list changed since the runs: read their event logs again
        for d in dirs:
            if any(d.glob("*.events.jsonl")):
                cover_points.write_run_hits(d)
    dats = [dat for dat in (run_dat(d) for d in dirs) if dat is not None]
    hits = [d / cover_points.HITS_FILE for d in dirs if (d / cover_points.HITS_FILE).is_file()]
    if not dats:
        print(
            f"coverage: no coverage.dat in {len(dirs)} run directories ({RUNS_GLOB}): run make coverage",
            file=sys.stderr,
        )
        return 2
    without = [d for d in dirs if run_dat(d) is None]
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    points = merge_dats(dats)
    write_dat(points, out / "merged.dat")
    files = summarize(points)
    write_lcov(files, out / "coverage.info")
    where = merge_hits(hits)
    func_lines, fhit, ftotal = functional_report(where)
    holes = hole_report(files)
    lh, lt, th, tt = totals(f for r, f in files.items() if in_targets(r))
    excl_l = sum(len(f.excluded_lines) for f in files.values())
    excl_t = sum(f.excluded_toggles for f in files.values())
    (out / "holes.txt").write_text("\n".join(holes) + "\n")
    summary = {
        "runs": len(dirs),
        "coverage_dat": len(dats),
        "runs_without_coverage_dat": [_show(d) for d in without],
        "files": {
            r: {
                "lines": len(f.lines),
                "lines_hit": f.line_hit,
                "toggles": len(f.toggles),
                "toggles_hit": f.toggle_hit,
                "holes": f.holes(),
                "excluded_fault_lines": sorted(f.excluded_lines),
                "excluded_fault_toggles": f.excluded_toggles,
            }
            for r, f in sorted(files.items())
        },
        "target_dirs": {"lines": lt, "lines_hit": lh, "toggles": tt, "toggles_hit": th},
        "functional": {
            "hit": fhit,
            "total": ftotal,
            "points": {p: sorted(set(where.get(p, []))) for p in cover_points.POINTS},
        },
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    extras = []
    if html:
        extras += _genhtml(out)
        extras += _annotate(out)
    print(f"\ncoverage: {len(dats)} runs merged in {time.monotonic() - t0:.0f} s ({len(points)} points)")
    if without:
        print(f"coverage: {len(without)} run directories without coverage.dat (a run that did not end?):")
        for d in without[:10]:
            print(f"  {_show(d)}")
    print(
        "\n".join(
            ["", "holes: unhit lines of hdl/virtio and hdl/pcie (also build/coverage/holes.txt)"]
            + (holes or ["  none"])
        )
    )
    print(
        f"\ntest-only fault logic left out: {excl_l} lines ('if (FAULT_ENABLE != 0 ...)' bodies, knob multiplexers), "
        f"{excl_t} toggle points (those lines and the fault/knob signals)"
    )
    print("\n".join([""] + func_lines))
    print("\n".join([""] + summary_table(files)))
    print(
        f"\nreports: {_show(out / 'coverage.info')}, {_show(out / 'summary.json')}" + "".join(f", {e}" for e in extras)
    )
    missed = []
    if lt and 100.0 * lh / lt < LINE_TARGET:
        missed.append(f"line coverage of hdl/virtio + hdl/pcie {100.0 * lh / lt:.1f} % < {LINE_TARGET:.0f} %")
    if fhit < ftotal:
        missed.append(f"functional cover points {fhit}/{ftotal} hit (target: all)")
    for m in missed:
        print(f"coverage: target missed: {m}")
    return 1 if (check and missed) else 0


def _genhtml(out: Path) -> list[str]:
    exe = shutil.which("genhtml")
    if exe is None:
        print("coverage: genhtml missing (Debian's lcov: make tools installs it); no HTML report", file=sys.stderr)
        return []
    res = subprocess.run(
        [
            exe,
            "--quiet",
            "--output-directory",
            str(out / "html"),
            "--title",
            "virtio-net device RTL",
            str(out / "coverage.info"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if res.returncode:
        print(f"coverage: genhtml failed (exit {res.returncode}): {res.stderr.strip()[:500]}", file=sys.stderr)
        return []
    return [_show(out / "html" / "index.html")]


def _annotate(out: Path) -> list[str]:
    exe = shutil.which("verilator_coverage")
    if exe is None:
        return []
    res = subprocess.run(
        [exe, "--annotate", str(out / "annotated"), "--annotate-min", "1", str(out / "merged.dat")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    if res.returncode:
        print(
            f"coverage: verilator_coverage --annotate failed (exit {res.returncode}): {res.stderr.strip()[:300]}",
            file=sys.stderr,
        )
        return []
    return [f"{_show(out / 'annotated')}/ (verilator_coverage)"]


def clean() -> int:
    """Forget the last coverage run: the run directories of the coverage builds (the builds stay)."""
    n = 0
    for runs in ROOT.glob("build/sim/verilator/*-cov/runs"):
        shutil.rmtree(runs)
        n += 1
    shutil.rmtree(OUT, ignore_errors=True)
    print(f"coverage: the runs of {n} coverage builds cleared")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.coverage", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    rep = sub.add_parser("report", help="merge the coverage runs, print the summary and the holes, write the reports")
    rep.add_argument("--runs", nargs="*", default=[RUNS_GLOB], help=f"run directory globs (default {RUNS_GLOB})")
    rep.add_argument("--no-check", action="store_true", help="exit 0 even when a target is missed")
    rep.add_argument("--no-html", action="store_true", help="no genhtml / verilator_coverage")
    rep.add_argument(
        "--rescan",
        action="store_true",
        help="collect the cover points from the runs' event logs again (a changed list)",
    )
    sub.add_parser("clean", help="remove the run directories of the coverage builds")
    args = ap.parse_args(argv)
    if args.cmd == "clean":
        return clean()
    return report(run_dirs(args.runs), check=not args.no_check, html=not args.no_html, rescan=args.rescan)


if __name__ == "__main__":
    raise SystemExit(main())
