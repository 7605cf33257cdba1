"""Interrupts on a Linux host as a CPU takes them: counted from the kernel's descriptors, handled between
the driver's steps.

vfio signals each MSI-X vector and INTx through an eventfd (a read returns how many signals arrived since
the previous read and resets the counter); uio's /dev/uioN read returns the function's total interrupt
count. ``IrqDispatcher`` owns those descriptors for a platform:

- ``window()`` is called by the platform after every operation (BAR and config access, DMA memory access,
  sleep): it polls the descriptors without blocking, adds what they report to ``raised`` and runs, inline
  and before the operation returns, the handlers of every source that fired, as a CPU takes a pending
  interrupt between two instructions. Interrupts are off while a handler runs: the handler's own platform
  operations (the ISR read, the used-ring reads) do not open a nested window.
- while the driver is idle (awaiting an event), ``loop.add_reader`` runs the same window.
- ``counts()`` gives, per source and cumulative: ``raised`` (the descriptors' counts), ``handled`` (handler
  runs) and ``kernel``, the kernel's own count from /proc/interrupts. The line of a vfio vector exists only
  while the vector is enabled, so it is read when a source is attached and again before it is detached.

Standard library only.
"""

from __future__ import annotations

import asyncio
import os
import select
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tb.platform.base import IrqCount, IrqHandler

EVENTFD = "eventfd"  # a read returns the number of signals since the last read
UIO_COUNT = "uio"  # a read returns the total count (4 bytes); raised = the difference to the last one


# -- /proc/interrupts ----------------------------------------------------------------------------------------
@dataclass
class KernelIrqLine:
    irq: str  # "41", or "NMI" for the architecture's rows
    count: int  # summed over the CPUs
    names: list[str]  # the description's words, the actions' names among them ("vfio-msix[2](...)")
    text: str  # the description after the counts (chip, hwirq, names)
    shared: bool = False  # more than one action on the line ("uio_pci_generic, virtio2")


def parse_proc_interrupts(text: str) -> list[KernelIrqLine]:
    """The rows of /proc/interrupts: one column per online CPU, then the chip, hwirq and the action names."""
    lines = text.splitlines()
    if not lines:
        return []
    ncpu = len(lines[0].split())
    out = []
    for line in lines[1:]:
        head, sep, rest = line.partition(":")
        if not sep:
            continue
        tokens = rest.split()
        counts = []
        for tok in tokens[:ncpu]:
            if not tok.isdigit():
                break
            counts.append(int(tok))
        desc = tokens[len(counts) :]
        out.append(
            KernelIrqLine(
                head.strip(),
                sum(counts),
                [t.rstrip(",") for t in desc],
                " ".join(desc),
                any(t.endswith(",") for t in desc),
            )
        )
    return out


@dataclass(frozen=True)
class KernelLineKey:
    """How to find a source's row in /proc/interrupts: by action name (vfio) or by IRQ number (uio)."""

    name: str = ""
    irq: int | None = None

    def find(self, rows: list[KernelIrqLine]) -> KernelIrqLine | None:
        for row in rows:
            if (row.irq == str(self.irq)) if self.irq is not None else (self.name in row.names):
                return row
        return None

    def describe(self) -> str:
        return self.name if self.irq is None else f"IRQ {self.irq}" + (f" ({self.name})" if self.name else "")


# -- sources and the dispatcher ------------------------------------------------------------------------------
@dataclass
class IrqSource:
    name: str  # "msix2", "intx"
    fd: int
    kind: str = EVENTFD
    kernel: KernelLineKey | None = None
    after: Callable[[], None] | None = None  # after the handlers ran (INTx: unmask)
    last_total: int = 0  # UIO_COUNT: the total at the previous read
    kernel_base: int | None = field(default=None, init=False)
    kernel_row: str = field(default="", init=False)


class IrqDispatcher:
    def __init__(
        self,
        handlers: Callable[[str], list[IrqHandler]],
        proc_interrupts: str = "/proc/interrupts",
        max_rounds: int = 64,
    ):
        self._handlers = handlers
        self.proc_interrupts = Path(proc_interrupts)
        self.max_rounds = max_rounds  # rounds per window; what still fires waits for the next one
        self._sources: dict[str, IrqSource] = {}
        self._by_fd: dict[int, IrqSource] = {}
        self._totals: dict[str, IrqCount] = {}
        self._epoll: select.epoll | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watching = False
        self._busy = False
        self._idle: asyncio.Task | None = None
        self.errors: list[str] = []
        self.windows = 0  # windows that found something pending
        self.trace: Callable[..., None] | None = None

    # -- sources -------------------------------------------------------------------------------------------
    def attach(self, src: IrqSource) -> None:
        """Start watching ``src`` (its kernel line is read now as the base of its kernel count)."""
        if src.name in self._sources:
            raise ValueError(f"interrupt source {src.name} attached twice")
        if self._epoll is None:
            self._epoll = select.epoll()
        self._loop = asyncio.get_running_loop()
        self._epoll.register(src.fd, select.EPOLLIN)
        self._sources[src.name] = src
        self._by_fd[src.fd] = src
        total = self._totals.setdefault(src.name, IrqCount(raised=0))
        if src.kernel is not None:
            row = src.kernel.find(self._kernel_rows())
            src.kernel_base = row.count if row else None
            src.kernel_row = row.text if row else ""
            total.line = src.kernel.describe() + ("" if row else " (not in /proc/interrupts)")
            total.shared = bool(row and row.shared)
        self._unwatch()
        self._watch()

    def detach(self, name: str) -> IrqSource | None:
        """Stop watching a source: what its descriptor still holds is counted (raised, never handled) and its
        kernel line read a last time. The caller closes the descriptor."""
        src = self._sources.pop(name, None)
        if src is None:
            return None
        self._read(src)
        self._kernel_accumulate(src, self._kernel_rows() if src.kernel is not None else [])
        del self._by_fd[src.fd]
        if self._epoll is not None:
            self._epoll.unregister(src.fd)
        if self._watching and self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(src.fd)
        return src

    def close(self) -> None:
        for name in list(self._sources):
            self.detach(name)
        self._unwatch()
        if self._idle is not None and not self._idle.done():
            self._idle.cancel()
        if self._epoll is not None:
            self._epoll.close()
            self._epoll = None

    @property
    def attached(self) -> list[str]:
        return list(self._sources)

    # -- counting ------------------------------------------------------------------------------------------
    def _kernel_rows(self) -> list[KernelIrqLine]:
        try:
            return parse_proc_interrupts(self.proc_interrupts.read_text())
        except OSError:
            return []

    def _kernel_accumulate(self, src: IrqSource, rows: list[KernelIrqLine]) -> None:
        if src.kernel is None or src.kernel_base is None:
            return
        row = src.kernel.find(rows)
        if row is None:
            return
        total = self._totals[src.name]
        total.kernel = (total.kernel or 0) + row.count - src.kernel_base
        src.kernel_base = row.count

    def _read(self, src: IrqSource) -> int:
        """New interrupts the descriptor reports (0 when none); counted as raised."""
        try:
            if src.kind == EVENTFD:
                n = os.eventfd_read(src.fd)
            else:
                raw = os.read(src.fd, 4)
                if len(raw) != 4:
                    return 0
                now = struct.unpack("<I", raw)[0]
                n, src.last_total = (now - src.last_total) & 0xFFFFFFFF, now
        except BlockingIOError:
            return 0
        except OSError as exc:
            self.errors.append(f"{src.name}: reading its descriptor failed: {exc}")
            return 0
        if n:
            total = self._totals[src.name]
            total.raised = (total.raised or 0) + n
            if self.trace is not None:
                self.trace("irq_raised", irq=src.name, count=n)
        return n

    def counts(self) -> dict[str, IrqCount]:
        """Cumulative counts per source (kernel counts of attached sources read from /proc/interrupts now)."""
        rows = self._kernel_rows() if any(s.kernel for s in self._sources.values()) else []
        out = {}
        for name, total in self._totals.items():
            kernel = total.kernel
            src = self._sources.get(name)
            if src is not None and src.kernel is not None and src.kernel_base is not None:
                row = src.kernel.find(rows)
                if row is not None:
                    kernel = (kernel or 0) + row.count - src.kernel_base
            out[name] = IrqCount(
                raised=total.raised, handled=total.handled, kernel=kernel, line=total.line, shared=total.shared
            )
        return out

    # -- the window ----------------------------------------------------------------------------------------
    def _poll(self) -> list[IrqSource]:
        if self._epoll is None:
            return []
        fired = []
        for fd, _ in self._epoll.poll(0):
            src = self._by_fd.get(fd)
            if src is not None and self._read(src):
                fired.append(src)
        return fired

    async def window(self) -> None:
        """Take every pending interrupt now: count it, run its handlers, unmask (INTx). No-op inside a handler."""
        if self._busy or not self._sources:
            return
        self._busy = True
        try:
            for _ in range(self.max_rounds):
                fired = self._poll()
                if not fired:
                    break
                self.windows += 1
                for src in fired:
                    await self._dispatch(src)
        finally:
            self._busy = False
            self._watch()

    async def _dispatch(self, src: IrqSource) -> None:
        handlers = list(self._handlers(src.name))
        if not handlers:
            return  # nobody asked for it (a vector set up, its handler not yet): counted, not handled
        self._totals[src.name].handled += 1
        if self.trace is not None:
            self.trace("irq_handled", irq=src.name)
        for h in handlers:
            try:
                await h()
            except Exception as exc:  # noqa: BLE001 - a handler bug must show, not vanish
                self.errors.append(f"{src.name}: {type(exc).__name__}: {exc}")
        if src.after is not None and src.name in self._sources:
            try:
                src.after()
            except Exception as exc:  # noqa: BLE001
                self.errors.append(f"{src.name}: after the handlers: {type(exc).__name__}: {exc}")

    # -- the idle path (the driver awaits an event): the event loop watches the descriptors -----------------
    def _watch(self) -> None:
        if self._watching or not self._sources or self._loop is None or self._loop.is_closed():
            return
        for src in self._sources.values():
            self._loop.add_reader(src.fd, self._on_readable)
        self._watching = True

    def _unwatch(self) -> None:
        if not self._watching:
            return
        self._watching = False
        if self._loop is None or self._loop.is_closed():
            return
        for src in self._sources.values():
            self._loop.remove_reader(src.fd)

    def _on_readable(self) -> None:
        # the descriptors stay readable until a window reads them: stop watching until one has
        self._unwatch()
        if (self._idle is None or self._idle.done()) and self._loop is not None:
            self._idle = self._loop.create_task(self.window())


def describe_counts(counts: dict[str, IrqCount]) -> dict[str, Any]:
    return {
        k: {"raised": v.raised, "handled": v.handled, "kernel": v.kernel, "line": v.line, "shared": v.shared}
        for k, v in counts.items()
    }
