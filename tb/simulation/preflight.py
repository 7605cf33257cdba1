"""The front door's input check: ``python3 -m tb.simulation.preflight [target]`` (the Makefile's PREFLIGHT).

sim/preflight.py checks what the HDL runner reads (SIM, SEED, TEST, TESTCASE, WAVES_FROM/TO, JOBS, SHARD);
this adds the testbench's own variables: ``TB_FAULT``, whose names only the testbench knows (the RTL knobs of
tb.device.dev_ctrl, the driver faults of tb.faults), and the generated rings' ``RING_CASE`` (a case id) and
``RING_CASES`` (how many). Standard library only, like sim/preflight.py: it runs
before the virtualenv exists.
"""

from __future__ import annotations

import sys

from sim import preflight
from sim.preflight import BadInput
from tb.device.dev_ctrl import FAULT_KNOBS
from tb.faults.driver import DRIVER_FAULTS


def check_fault(v: str) -> None:
    for name in (n.strip() for n in v.split(",") if n.strip()):
        if name not in FAULT_KNOBS and name not in DRIVER_FAULTS:
            raise BadInput(
                f"TB_FAULT={v!r}: unknown fault {name!r}; RTL knobs: {', '.join(sorted(FAULT_KNOBS))}; "
                f"driver faults: {', '.join(DRIVER_FAULTS)}"
            )


def check_ring_case(v: str) -> None:
    """RING_CASE: one generated malformed-ring case, as a failing run of tests/sim/test_ring_fuzz.py prints it."""
    from tests.sim.ring_defects import RingCase  # standard library only

    try:
        RingCase.from_id(v)
    except ValueError as exc:
        raise BadInput(
            f"RING_CASE={v[:40]!r}{'...' if len(v) > 40 else ''}: {exc}; use the id a failing "
            "generated_rings run printed (RING_CASE=<id> in its replay line)"
        ) from None


def check_ring_cases(v: str) -> None:
    if not (v.isdigit() and int(v) >= 1):
        raise BadInput(f"RING_CASES={v!r}: the number of generated ring cases, 1 or more")


CHECKS = {"TB_FAULT": check_fault, "RING_CASE": check_ring_case, "RING_CASES": check_ring_cases}


def check_env(env: dict[str, str] | None = None) -> list[str]:
    """sim.preflight.check_env with the testbench's variables."""
    return preflight.check_env(env, CHECKS)


if __name__ == "__main__":
    sys.exit(preflight.main(sys.argv[1:], CHECKS))
