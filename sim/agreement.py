"""Do Verilator and Icarus agree? Two event logs (sim/events.py) of the same test and seed, compared cycle for cycle.

Both simulators run the same RTL under the same testbench and seed, so every event (each TLP on the four
PCIe streams with its fields, each interrupt, each driver step, each frame on the wire, each checker verdict)
must appear in both logs, at the same cycle, in the same order, with the same fields. ``compare`` walks the
two logs side by side and stops at the first event that differs; the report names its cycle, source and
event, the fields that differ with both values, and the events just before it in each log.

Allowed differences, each one a named rule below and listed in docs/robustness.md ("Simulator agreement"):

- ``RENAMED_FIELDS``: values that are object identities of the simulator's Python process: the driver's
  buffer ``token`` (an ``id()``, a memory address). Each log's values are renamed by first appearance
  (``#0``, ``#1``, ...) before the walk: which buffer comes back when is still compared, the address is not.
- ``ALLOWED_FIELDS``: fields that name the simulator rather than what the device did: the cocotb message of
  the test's closing verdict line (sim/runner.py; it names the simulator's log), the ``test_start`` line's
  seed as the environment spelled it.
- ``x_equivalent``: a value Icarus (4-state) logs as unknown, where Verilator (2-state, ``--x-assign fast
  --x-initial fast``) logs a number: a field whose Icarus value is a string of ``x``/``z`` digits, or a hex
  string where some digits are ``x``/``z``, matches any Verilator value of the same width in the remaining
  digits. Only when ``allow_x`` is set (the default); every such match is counted and reported, so a test
  can demand there are none.

Nothing else is allowed: no tolerance on cycles, no reordering within a cycle. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# (source, event) -> fields that may differ, and why (docs/robustness.md repeats this table)
# (source, field) -> why: values that are object identities of the simulator's Python process. Each log's
# values are renamed by order of first appearance ("#0", "#1", ...) before the walk, so the pattern (which
# buffer came back when) is still compared, the addresses are not
RENAMED_FIELDS: dict[tuple[str, str], str] = {
    ("driver", "token"): "the driver's buffer token is the Python object's id(): a memory address of the "
    "simulator's Python process, different in any two runs",
}
# (source, event) -> fields that may differ, and why ("*": any event of the source)
ALLOWED_FIELDS: dict[tuple[str, str], dict[str, str]] = {
    ("checker", "test"): {"msg": "cocotb's failure message names the simulator's own log and paths"},
    ("tb", "test_start"): {"seed": "the seed as the environment spelled it (SEED or COCOTB_RANDOM_SEED)"},
}
XDIGITS = frozenset("xXzZ")


def x_equivalent(icarus: Any, verilator: Any) -> bool:
    """An Icarus value with unknown digits against a Verilator value (see the module doc)."""
    if not isinstance(icarus, str) or not any(c in XDIGITS for c in icarus):
        return False
    if isinstance(verilator, int):
        return all(c in XDIGITS for c in icarus)  # an all-X field Icarus could not turn into a number
    if not isinstance(verilator, str) or len(verilator) != len(icarus):
        return False
    return all(a in XDIGITS or a.lower() == b.lower() for a, b in zip(icarus, verilator, strict=True))


@dataclass
class Difference:
    index: int  # position in both logs (they agree before it)
    cycle: int | None
    source: str
    event: str
    fields: dict[str, tuple[Any, Any]]  # field -> (value in A, value in B)
    context_a: list[dict[str, Any]]
    context_b: list[dict[str, Any]]
    what: str = ""  # "fields", "missing in A", "missing in B"

    def report(self, name_a: str = "A", name_b: str = "B") -> str:
        head = f"first difference at event {self.index}, cycle {self.cycle}: {self.source}/{self.event} ({self.what})"
        lines = [head]
        for k, (va, vb) in self.fields.items():
            lines.append(f"  {k}: {name_a} {_short(va)}  |  {name_b} {_short(vb)}")
        for name, ctx in ((name_a, self.context_a), (name_b, self.context_b)):
            lines.append(f"  {name}, events {max(0, self.index - len(ctx) + 1)}..{self.index}:")
            lines += [f"    {_line(e)}" for e in ctx]
        return "\n".join(lines)


@dataclass
class Agreement:
    events_a: int
    events_b: int
    first: Difference | None
    x_matches: list[tuple[int, str, str]] = field(default_factory=list)  # (index, source/event, field)
    allowed: list[tuple[int, str, str]] = field(default_factory=list)  # (index, source/event, field)

    @property
    def ok(self) -> bool:
        return self.first is None

    def summary(self, name_a: str = "A", name_b: str = "B") -> str:
        if self.first is None:
            return (
                f"agree: {self.events_a} events, same cycles, same fields ({len(self.x_matches)} X-equivalent "
                f"values, {len(self.allowed)} allowed differences)"
            )
        return self.first.report(name_a, name_b)


def _short(v: Any, limit: int = 120) -> str:
    text = json.dumps(v)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _line(e: dict[str, Any]) -> str:
    rest = {k: v for k, v in e.items() if k not in ("cycle", "time_ns", "source", "event")}
    return f"cycle {e.get('cycle')} {e.get('source')}/{e.get('event')} {_short(rest, 160)}"


def renamed(log: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The log with the RENAMED_FIELDS' values replaced by their order of first appearance."""
    names: dict[tuple[str, str], dict[Any, str]] = {}
    out = []
    for e in log:
        src = e.get("source")
        hit = [f for (s, f) in RENAMED_FIELDS if s == src and f in e]
        if hit:
            e = dict(e)
            for f in hit:
                seen = names.setdefault((str(src), f), {})
                e[f] = seen.setdefault(e[f], f"#{len(seen)}")
        out.append(e)
    return out


def compare(
    a: Sequence[dict[str, Any]],
    b: Sequence[dict[str, Any]],
    allow_x: bool = True,
    context: int = 5,
    x_side: str = "b",
) -> Agreement:
    """Walk two logs in step; the first event whose cycle, source, event or fields differ ends the walk.

    ``x_side``: which log comes from Icarus ("a" or "b"), for the X rule."""
    a, b = renamed(a), renamed(b)
    result = Agreement(len(a), len(b), None)
    for i in range(max(len(a), len(b))):
        if i >= len(a) or i >= len(b):
            have = b[i] if i >= len(a) else a[i]
            result.first = Difference(
                i,
                have.get("cycle"),
                str(have.get("source")),
                str(have.get("event")),
                {},
                list(a[max(0, i - context + 1) : i + 1]),
                list(b[max(0, i - context + 1) : i + 1]),
                "missing in A: A ends here" if i >= len(a) else "missing in B: B ends here",
            )
            return result
        ea, eb = a[i], b[i]
        key = (str(ea.get("source")), str(ea.get("event")))
        allowed = (
            {**ALLOWED_FIELDS.get((key[0], "*"), {}), **ALLOWED_FIELDS.get(key, {})}
            if key == (eb.get("source"), eb.get("event"))
            else {}
        )
        diffs: dict[str, tuple[Any, Any]] = {}
        for k in sorted(set(ea) | set(eb), key=lambda f: (f not in ("cycle", "source", "event"), f)):
            va, vb = ea.get(k, "<absent>"), eb.get(k, "<absent>")
            if va == vb:
                continue
            if k in allowed:
                result.allowed.append((i, "/".join(key), k))
                continue
            xi, vo = (va, vb) if x_side == "a" else (vb, va)
            if allow_x and x_equivalent(xi, vo):
                result.x_matches.append((i, "/".join(key), k))
                continue
            diffs[k] = (va, vb)
        if diffs:
            what = "cycle" if "cycle" in diffs else "event" if ("source" in diffs or "event" in diffs) else "fields"
            result.first = Difference(
                i,
                ea.get("cycle"),
                key[0],
                key[1],
                diffs,
                list(a[max(0, i - context + 1) : i + 1]),
                list(b[max(0, i - context + 1) : i + 1]),
                what,
            )
            return result
    return result


def read_log(path: Path | str) -> list[dict[str, Any]]:
    from sim.events import read_events

    return read_events(path)


def compare_files(path_a: Path | str, path_b: Path | str, allow_x: bool = True, x_side: str = "b") -> Agreement:
    return compare(read_log(path_a), read_log(path_b), allow_x=allow_x, x_side=x_side)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m sim.agreement", description="compare two event logs cycle for cycle (exit 1 at a difference)"
    )
    ap.add_argument("verilator_log")
    ap.add_argument("icarus_log")
    ap.add_argument("--no-x", action="store_true", help="no X allowance: an unknown value is a difference")
    args = ap.parse_args(argv)
    res = compare_files(args.verilator_log, args.icarus_log, allow_x=not args.no_x)
    print(res.summary("verilator", "icarus"))
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
