"""What every checker shares: the violation record, its report, and the base class.

A checker is a small class that turns one rule of reference/virtio-xmit.md (or the virtio spec) into code.
It receives the monitors' events through ``tb.checkers.hub.CheckerSet`` and calls ``fail`` when the rule is
broken. ``fail`` never raises inside a monitor callback (that would land in the PCIe model's coroutines):
the hub records the violation, writes it to the event log and stops the test from its own task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tb.checkers.hub import CheckerSet

CLOCK_NS = 4.0  # user_clk period: cycles in reports count 250 MHz clocks from time 0


class CheckerError(AssertionError):
    """A checker found a rule broken; the message is the readable report."""


@dataclass
class Violation:
    checker: str  # short name, e.g. "used_ring"
    rule: str  # the rule in one line
    t_ns: float
    msg: str  # what happened, with indices and values
    addr: int | None = None
    tlp: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cycle(self) -> int:
        return int(self.t_ns // CLOCK_NS)

    def report(self) -> str:
        lines = [
            f"checker {self.checker} failed at cycle {self.cycle} ({self.t_ns:.0f} ns)",
            f"  rule:    {self.rule}",
            f"  what:    {self.msg}",
        ]
        if self.addr is not None:
            lines.append(f"  address: {self.addr:#x}")
        if self.tlp:
            lines.append(f"  TLP:     {self.tlp}")
        for k, v in self.extra.items():
            lines.append(f"  {k}: {v}")
        return "\n".join(lines)


class Checker:
    """One rule. Subclasses set ``name`` and ``rule`` and implement the ``on_*`` hooks they need.

    Hooks (all optional; ``t`` is simulation time in ns):
    ``on_dev_read(t_req, t, addr, data, tlp)``, ``on_dev_write(t, addr, data, tlp)``,
    ``on_host_mem(t, write, addr, data)``, ``on_host_bar(t, write, bar, offset, size, value)``,
    ``on_irq(t, kind, value)``, ``on_frame(t, data, aborted)``, ``on_reset(t)``, ``finish(t)``.
    """

    name = "checker"
    rule = ""

    def __init__(self, hub: CheckerSet):
        self.hub = hub
        self.events = 0  # events this checker looked at (its share of the cost)

    def fail(self, t_ns: float, msg: str, addr: int | None = None, tlp: str | None = None, **extra: Any) -> None:
        self.hub.violation(Violation(self.name, self.rule, t_ns, msg, addr, tlp, extra))
