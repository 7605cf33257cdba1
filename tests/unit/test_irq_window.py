"""Interrupts taken as a CPU takes them (tb.platform.irq, tb.platform.linux), with real eventfds and pipes
standing in for vfio's and uio's descriptors: handlers run inside the platform operation after which the
interrupt became pending, even when the driver never yields; counts are the descriptors' (eventfd values
summed, uio totals differenced) and the kernel's (/proc/interrupts); handlers do not nest; an idle driver
is woken through the event loop."""

from __future__ import annotations

import asyncio
import os
import struct
from pathlib import Path

import pytest

from tb.platform.irq import EVENTFD, UIO_COUNT, IrqDispatcher, IrqSource, KernelLineKey, parse_proc_interrupts
from tb.platform.linux import DmaArena, LinuxDmaBuffer, LinuxPciPlatform

PROC_INTERRUPTS = """\
           CPU0       CPU1
  0:         35          0   IO-APIC   2-edge      timer
 11:          7          5   IO-APIC  11-fasteoi   uio_pci_generic, virtio2
 40:          0          0  IR-PCI-MSIX-0000:00:10.0    0-edge      vfio-msix[0](0000:00:10.0)
 42:         17         15  IR-PCI-MSIX-0000:00:10.0    2-edge      vfio-msix[2](0000:00:10.0)
NMI:          0          0   Non-maskable interrupts
ERR:          0
"""


def test_proc_interrupts_rows_and_keys():
    rows = parse_proc_interrupts(PROC_INTERRUPTS)
    assert [(r.irq, r.count) for r in rows] == [("0", 35), ("11", 12), ("40", 0), ("42", 32), ("NMI", 0),
                                                ("ERR", 0)]
    assert rows[1].names == ["IO-APIC", "11-fasteoi", "uio_pci_generic", "virtio2"]
    assert rows[1].shared and not rows[3].shared
    assert KernelLineKey(name="vfio-msix[2](0000:00:10.0)").find(rows).count == 32
    assert KernelLineKey(name="vfio-msix[1](0000:00:10.0)").find(rows) is None
    assert KernelLineKey(name="uio_pci_generic", irq=11).find(rows).count == 12
    assert KernelLineKey(name="uio_pci_generic", irq=12).find(rows) is None, "by number when the number is known"


class Harness:
    """A dispatcher with eventfd sources and a handler log; ``op`` is a platform operation."""

    def __init__(self, tmp_path: Path, names=("msix1",), proc_text: str = PROC_INTERRUPTS):
        self.proc = tmp_path / "interrupts"
        self.proc.write_text(proc_text)
        self.handlers: dict[str, list] = {n: [] for n in names}
        self.d = IrqDispatcher(lambda name: self.handlers.get(name, []), str(self.proc))
        self.fds = {n: os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC) for n in names}
        self.log: list[tuple[str, int]] = []
        self.step = 0
        self.unmasked = 0

    def attach(self, name: str, kernel: str | None = None, after=None) -> None:
        self.d.attach(IrqSource(name, self.fds[name], EVENTFD, KernelLineKey(name=kernel) if kernel else None,
                                after=after))

    def signal(self, name: str, n: int = 1) -> None:
        os.eventfd_write(self.fds[name], n)   # what vfio's interrupt handler does (eventfd_signal)

    async def op(self) -> None:
        self.step += 1
        await self.d.window()

    def close(self) -> None:
        self.d.close()
        for fd in self.fds.values():
            os.close(fd)


def test_a_pending_interrupt_is_handled_inside_the_next_operation(tmp_path):
    async def main():
        h = Harness(tmp_path)
        h.handlers["msix1"].append(lambda: _record(h, "msix1"))
        h.attach("msix1")
        for i in range(20):          # a driver loop that never awaits anything but platform operations
            if i in (3, 11):
                h.signal("msix1")
            await h.op()
        counts = h.d.counts()["msix1"]
        h.close()
        return h.log, counts

    log, counts = asyncio.run(main())
    assert log == [("msix1", 4), ("msix1", 12)], "handled in the operation right after it was raised"
    assert (counts.raised, counts.handled) == (2, 2)


async def _record(h: Harness, name: str) -> None:
    h.log.append((name, h.step))


def test_signals_that_pile_up_are_all_counted_and_handled_once(tmp_path):
    async def main():
        h = Harness(tmp_path)
        h.handlers["msix1"].append(lambda: _record(h, "msix1"))
        h.attach("msix1")
        h.signal("msix1", 3)         # three messages before the CPU looked: the eventfd holds 3
        await h.op()
        c = h.d.counts()["msix1"]
        h.close()
        return c, h.log

    c, log = asyncio.run(main())
    assert (c.raised, c.handled) == (3, 1) and len(log) == 1


def test_handlers_do_not_nest_and_what_they_raise_is_taken_next(tmp_path):
    async def main():
        h = Harness(tmp_path)
        depth = [0]
        seen_depth = []

        async def handler():
            depth[0] += 1
            seen_depth.append(depth[0])
            if len(seen_depth) == 1:
                h.signal("msix1")     # the device raises again while we handle
            await h.op()              # the handler's own register read: no nested window
            await h.op()
            depth[0] -= 1

        h.handlers["msix1"].append(handler)
        h.attach("msix1")
        h.signal("msix1")
        await h.op()
        c = h.d.counts()["msix1"]
        h.close()
        return seen_depth, c

    seen_depth, c = asyncio.run(main())
    assert seen_depth == [1, 1], "the second interrupt ran after the first handler returned, not inside it"
    assert (c.raised, c.handled) == (2, 2)


def test_intx_is_unmasked_after_its_handlers_only(tmp_path):
    async def main():
        h = Harness(tmp_path, names=("intx",))
        order = []

        async def handler():
            order.append("handler")

        h.attach("intx", after=lambda: order.append("unmask"))
        h.signal("intx")
        await h.op()                  # no handler registered yet: counted, not handled, still masked
        h.handlers["intx"].append(handler)
        h.signal("intx")
        await h.op()
        c = h.d.counts()["intx"]
        h.close()
        return order, c

    order, c = asyncio.run(main())
    assert order == ["handler", "unmask"]
    assert (c.raised, c.handled) == (2, 1)


def test_an_idle_driver_is_woken_through_the_event_loop(tmp_path):
    async def main():
        h = Harness(tmp_path)
        woke = asyncio.Event()

        async def handler():
            woke.set()

        h.handlers["msix1"].append(handler)
        h.attach("msix1")
        asyncio.get_running_loop().call_later(0.01, h.signal, "msix1")
        await asyncio.wait_for(woke.wait(), 5)   # no platform operation in between: only add_reader
        c = h.d.counts()["msix1"]
        h.close()
        return c

    c = asyncio.run(main())
    assert (c.raised, c.handled) == (1, 1)


def test_handler_errors_are_kept(tmp_path):
    async def main():
        h = Harness(tmp_path)

        async def broken():
            raise RuntimeError("boom")

        h.handlers["msix1"].append(broken)
        h.attach("msix1")
        h.signal("msix1")
        await h.op()
        h.close()
        return h.d.errors

    assert asyncio.run(main()) == ["msix1: RuntimeError: boom"]


def test_kernel_counts_across_a_line_that_goes_away(tmp_path):
    """vfio's vector lines exist only while enabled: the count is read at attach and before detach."""
    async def main():
        h = Harness(tmp_path, names=("msix2",))
        h.handlers["msix2"].append(lambda: _record(h, "msix2"))
        h.attach("msix2", kernel="vfio-msix[2](0000:00:10.0)")       # base 32
        h.signal("msix2", 5)
        await h.op()
        h.proc.write_text(PROC_INTERRUPTS.replace("17         15", "20         17"))   # 37: +5
        live = h.d.counts()["msix2"]
        h.d.detach("msix2")
        h.proc.write_text(PROC_INTERRUPTS.replace(" 42:", " 99:").replace("vfio-msix[2]", "gone"))
        gone = h.d.counts()["msix2"]
        h.close()
        return live, gone

    live, gone = asyncio.run(main())
    assert (live.raised, live.handled, live.kernel) == (5, 1, 5)
    assert (gone.raised, gone.kernel) == (5, 5) and "vfio-msix[2](0000:00:10.0)" in gone.line


def test_detach_counts_what_is_left_without_handling_it(tmp_path):
    async def main():
        h = Harness(tmp_path)
        h.handlers["msix1"].append(lambda: _record(h, "msix1"))
        h.attach("msix1")
        h.signal("msix1", 2)
        h.d.detach("msix1")
        c = h.d.counts()["msix1"]
        h.close()
        return c, h.log

    c, log = asyncio.run(main())
    assert (c.raised, c.handled) == (2, 0) and log == []


def test_uio_totals_are_differenced(tmp_path):
    """/dev/uioN answers the total count; the first read is measured against the count at open."""
    async def main():
        r, w = os.pipe2(os.O_NONBLOCK)
        handled = []

        async def handler():
            handled.append(1)

        d = IrqDispatcher(lambda name: [handler], str(tmp_path / "none"))
        d.attach(IrqSource("intx", r, UIO_COUNT, last_total=100))
        os.write(w, struct.pack("<I", 103))
        await d.window()
        os.write(w, struct.pack("<I", 104))
        await d.window()
        await d.window()
        c = d.counts()["intx"]
        d.close()
        os.close(r)
        os.close(w)
        return c, handled

    c, handled = asyncio.run(main())
    assert (c.raised, c.handled, c.kernel) == (4, 2, None) and len(handled) == 2


# -- the platform: every access is an interrupt window ------------------------------------------------------
class DevicePlatform(LinuxPciPlatform):
    """LinuxPciPlatform over an in-memory device: a write of 1 to register 0x10 ("kick") makes the device
    raise MSI-X vector 1 through an eventfd unless the driver set register 0x20 ("no interrupt") - the
    shape of virtio's TX interrupt suppression. Nothing here yields to the event loop."""

    def __init__(self, tmp_path: Path):
        (tmp_path / "bus/pci/devices/0000:00:05.0").mkdir(parents=True)
        super().__init__("0000:00:05.0", sysfs=str(tmp_path), proc=str(tmp_path))
        self.regs = {0x20: 0}
        self.fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)

    def attach(self) -> None:
        self.irq.attach(IrqSource("msix1", self.fd, EVENTFD))

    def bar_size(self, bar: int) -> int:
        return 0x100 if bar == 0 else 0

    def _bar_rw(self, bar: int, offset: int, size: int, value: int | None) -> int:
        if value is None:
            return self.regs.get(offset, 0)
        self.regs[offset] = value
        if offset == 0x10 and not self.regs[0x20]:
            os.eventfd_write(self.fd, 1)
        return 0

    def _config_rw(self, offset: int, size: int, value: int | None) -> int:
        return 0

    async def enable_msix(self, nvec: int) -> int:
        return nvec

    async def disable_msix(self) -> None:
        pass


@pytest.mark.parametrize("where", ["bar", "dma"])
def test_an_unpaced_burst_sees_its_first_interrupt_at_once(tmp_path, where):
    """50 kicks without a single yield: the handler (which suppresses further interrupts) runs inside the
    first kick's operation, so the device raises exactly one interrupt, as with a CPU. Taking interrupts
    only when the driver awaits would have let all 50 through."""
    async def main():
        p = DevicePlatform(tmp_path)
        p.attach()
        ran_at = []
        kicks = [0]

        async def handler():
            ran_at.append(kicks[0])
            await p.bar_write(0, 0x20, 1, 2)      # disable_cb: no more interrupts

        p.request_irq(1, handler)
        mem = LinuxDmaBuffer(DmaArena(0x1000_0000, [memoryview(bytearray(2 << 20))]), 0, 4096, p.irq.window)
        for _ in range(50):
            kicks[0] += 1
            p._bar_rw(0, 0x10, 2, 1)             # the kick reaches the device ...
            if where == "bar":
                await p.bar_read(0, 0x00, 4)     # ... the next register access is a window
            else:
                await mem.write(0, bytes(16))    # ... so is the next ring write
        counts = p.irq_counts()["msix1"]
        p.irq.close()
        os.close(p.fd)
        return ran_at, counts

    ran_at, counts = asyncio.run(main())
    assert ran_at == [1]
    assert (counts.raised, counts.handled) == (1, 1)
