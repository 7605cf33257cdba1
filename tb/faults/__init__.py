"""Test-only faults: what ``TB_FAULT`` names, and the driver faults and race seams (tb.faults.driver).

Nothing here is part of what runs on a board: the driver faults are subclasses of the faithful driver, the
RTL knobs exist only in FAULT_ENABLE builds (tb.device.dev_ctrl names their bits). Standard library only,
so the front door's preflight can check a ``TB_FAULT`` value before anything is built.
"""

from __future__ import annotations

from tb.device.dev_ctrl import FAULT_KNOBS
from tb.faults.driver import DRIVER_FAULTS


def parse_faults(spec: str) -> tuple[int, tuple[str, ...]]:
    """``TB_FAULT=used_idx_first,leak_desc`` -> (RTL FAULT bits, driver faults); unknown names are an error."""
    bits, driver = 0, []
    for name in filter(None, (n.strip() for n in spec.split(","))):
        if name in FAULT_KNOBS:
            bits |= FAULT_KNOBS[name]
        elif name in DRIVER_FAULTS:
            driver.append(name)
        else:
            raise ValueError(f"unknown fault {name!r}: RTL knobs {sorted(FAULT_KNOBS)}, driver {list(DRIVER_FAULTS)}")
    return bits, tuple(driver)
