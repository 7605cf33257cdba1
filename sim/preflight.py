"""Check what the user asked for before anything builds or runs.

Every variable the HDL runner and the front door read is checked here, in well under a second and with the
standard library only (so it runs before the virtualenv exists): on a bad value one line names the
variable, the value and what is accepted, and the process exits with 2. The testbench adds the variables
it owns (``TB_FAULT``: tb/simulation/preflight.py, which the Makefile runs as
``python3 -m tb.simulation.preflight [target]``); ``tests/conftest.py`` runs the same checks, so a direct
``pytest`` call fails the same way.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIMULATORS = ("verilator", "icarus")


class BadInput(ValueError):
    """One bad variable: the message is the line the user sees."""


def _check_sim(v: str) -> None:
    if v and v not in SIMULATORS:
        raise BadInput(f"SIM={v!r}: choose verilator or icarus (or leave it unset for both)")


def _check_seed(v: str) -> None:
    try:
        n = int(v, 0)
    except ValueError:
        n = -1
    if not 0 <= n < 1 << 32:
        raise BadInput(f"SEED={v!r}: a whole number from 0 to 4294967295 (a failing run prints the one to use)")


def _check_regex(name: str, v: str) -> None:
    try:
        re.compile(v)
    except re.error as exc:
        raise BadInput(f"{name}={v!r}: not a regular expression ({exc}); e.g. {name}='[.](tx_end_to_end)\\b'") from None


def _check_test(v: str) -> None:
    path = v.split("::", 1)[0]
    if not (ROOT / path).exists():
        raise BadInput(
            f"TEST={v!r}: no such file or directory {path!r}; give a pytest file or node id, "
            "e.g. TEST=tests/sim/test_virtio_tx.py"
        )


def _check_time(name: str, v: str) -> None:
    from sim.gtkw import parse_time  # standard library only

    try:
        parse_time(v)
    except ValueError:
        raise BadInput(
            f"{name}={v!r}: a simulation time: ns (1234), cycles of the 250 MHz user clock (1234c) "
            "or with a unit (12us, 3ms)"
        ) from None


def _check_jobs(v: str) -> None:
    if v not in ("auto", "logical") and not (v.isdigit() and int(v) >= 1):
        raise BadInput(f"JOBS={v!r}: a number of parallel workers, 1 or more (or auto)")


def parse_shard(v: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)/(\d+)", v.strip())
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise BadInput(
            f"SHARD={v!r}: k/N with 1 <= k <= N, e.g. SHARD=1/2 (this machine runs the k-th of N "
            "duration-balanced parts)"
        )
    return int(m.group(1)), int(m.group(2))


CHECKS = {
    "SIM": _check_sim,
    "SEED": _check_seed,
    "TEST": _check_test,
    "TESTCASE": lambda v: _check_regex("TESTCASE", v),
    "WAVES_FROM": lambda v: _check_time("WAVES_FROM", v),
    "WAVES_TO": lambda v: _check_time("WAVES_TO", v),
    "JOBS": _check_jobs,
    "SHARD": parse_shard,
}


def check_env(
    env: Mapping[str, str] | None = None, extra: Mapping[str, Callable[[str], object]] | None = None
) -> list[str]:
    """Every problem with the variables set (empty values are unset), one line each; ``extra``: the checks
    of variables another layer owns (name -> check raising BadInput)."""
    env = dict(os.environ) if env is None else env
    problems = []
    for name, check in {**CHECKS, **(extra or {})}.items():
        value = env.get(name, "")
        if value == "":
            continue
        try:
            check(value)
        except BadInput as exc:
            problems.append(str(exc))
    frm, to = env.get("WAVES_FROM", ""), env.get("WAVES_TO", "")
    if frm and to and not problems:
        from sim.gtkw import parse_time

        if parse_time(frm) >= parse_time(to):
            problems.append(f"WAVES_FROM={frm!r} is not before WAVES_TO={to!r}")
    return problems


def main(argv: list[str], extra: Mapping[str, Callable[[str], object]] | None = None) -> int:
    target = argv[0] if argv else ""
    problems = check_env(extra=extra)
    if target == "waves" and not os.environ.get("TEST"):
        problems.insert(
            0,
            "TEST is not set: make waves TEST=<pytest file or node id, e.g. "
            "tests/sim/test_virtio_tx.py> [SIM=verilator|icarus] [TESTCASE=<regex>] [SEED=n] "
            "[WAVES_FROM=t WAVES_TO=t]",
        )
    for line in problems:
        print(f"make {target}: {line}".replace("make : ", ""), file=sys.stderr)
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
