"""The checker set on the pure-Python model device (tb/platform/model.py), in virtual time.

The model reports what a PCIe monitor reports on the RTL: the driver's accesses to host memory and to the
BARs in program order (``platform.observers``), and the device's DMA reads with the data they returned, its
DMA writes, its interrupts and its frames (``platform.device_observers``). The checkers get the same events
as in simulation and so judge the model device, and the driver on it, with the same rules; the unit tests
prove each rule with a fault on the model before the simulation tests prove it on the RTL.

What the simulation harness adds is added here too: the device's TX parameters (the RTL bench reads BAR2
TX_PARAMS; the model's fetch sizes are ``MODEL_TX_PARAMS``) and a poll of the time-based rules every
microsecond. The driver's trace reaches the set through its EventLog's listeners (``trace.listeners.append(
hub.driver_event)``): the checkers never hold the driver.
"""

from __future__ import annotations

from collections.abc import Callable

from tb.checkers.base import CheckerError
from tb.checkers.hub import CheckerSet
from tb.device.debug_bar import DEBUG_BAR, REG_TX_PARAMS
from tb.platform.model import MODEL_TX_PARAMS, ModelPlatform

POLL_NS = 1000.0


def model_checkers(platform: ModelPlatform, collect: bool = False, log=None) -> CheckerSet:
    """A CheckerSet fed by ``platform``: call before the driver's probe (and before ``platform.start()``'s
    traffic). ``collect``: keep every violation in ``hub.violations`` (fault tests); else the first one is
    kept in ``hub.errors`` too and the run goes on (virtual time has no test task to stop): assert on
    ``hub.violations`` at the end."""
    hub = CheckerSet(platform.now_ns, log, msix_vector_of=lambda data: data, msix_enabled=lambda: platform.msix_enabled)
    errors: list[CheckerError] = []
    hub.errors = errors  # type: ignore[attr-defined]
    if collect:
        hub.expect("model")
    else:
        hub.on_failure(errors.append)
    platform.observers.append(hub)
    platform.device_observers.append(hub)
    # what the device is, as the simulation bench learns it from BAR2 TX_PARAMS
    hub.host_bar(False, DEBUG_BAR, REG_TX_PARAMS, 4, MODEL_TX_PARAMS)
    return hub


def start_polling(platform: ModelPlatform, hub: CheckerSet, stop: Callable[[], bool] = lambda: False) -> None:
    """The time-based rules (lost wake-ups, an idle device's avail_event) looked at every microsecond, as the
    simulation harness does; the task ends with the run (run_virtual cancels it)."""

    async def poll() -> None:
        while not stop():
            await platform.sleep_ns(POLL_NS)
            hub.poll(platform.now_ns())

    platform.start_task(poll())
