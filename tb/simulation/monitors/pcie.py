"""Every TLP between the hard-block model and the DUT, decoded, into the event log; and the interrupt lines.

Hooked at the frame level (simulation only): the model's sink coroutines are already blocked in
``recv()`` by the time a test can hook, so the sinks (RQ, CC: DUT -> host) are tapped where a complete
frame enters their queue (``_sink_frame``, once per frame, when its last beat is accepted) and the sources
(CQ, RC: host -> DUT) where the source takes a frame from its queue to drive it (``_get_frame``, a cycle or
two before its first beat; private API of the pinned cocotbext-pcie). No per-clock Python: the cost is one
decode per TLP.
"""

from __future__ import annotations

from typing import Any

import cocotb
from cocotb.triggers import RisingEdge, ValueChange
from cocotbext.pcie.xilinx.us.tlp import Tlp_us  # type: ignore[import-untyped]  # ships no type information

from sim.events import RunLog

# (device attribute, stream name as the README and the .gtkw files call it, decoder, direction)
STREAMS = (
    ("cq_source", "cq", Tlp_us.unpack_us_cq, "host->dev"),
    ("cc_sink", "cc", Tlp_us.unpack_us_cc, "dev->host"),
    ("rq_sink", "rq", Tlp_us.unpack_us_rq, "dev->host"),
    ("rc_source", "rc", Tlp_us.unpack_us_rc, "host->dev"),
)
DATA_PREVIEW = 16  # bytes of payload kept in the log


def describe_tlp(tlp) -> dict[str, Any]:
    """The fields a reader needs to follow a transaction: type, address or tag, length, status."""
    kind = tlp.fmt_type.name if tlp.fmt_type is not None else "?"
    d: dict[str, Any] = {"type": kind, "tag": tlp.tag, "len_dw": tlp.length}
    if kind.startswith(("MEM", "IO")):
        d["addr"] = f"{tlp.address:#x}"
        d["first_be"] = tlp.first_be
    if kind.startswith("CPL"):
        d["status"] = tlp.status.name if hasattr(tlp.status, "name") else int(tlp.status)
        d["byte_count"] = tlp.byte_count
        d["lower_addr"] = tlp.lower_address
    if tlp.data:
        d["data"] = bytes(tlp.data[:DATA_PREVIEW]).hex()
        d["data_bytes"] = len(tlp.data)
    return d


class TlpMonitor:
    def __init__(self, dev, log: RunLog):
        self.log = log
        # called with (stream name, decoded TLP) for every TLP: tb/simulation/monitors/dma.py feeds the checkers
        self.listeners: list = []
        self.counts = {name: 0 for _, name, _, _ in STREAMS}
        for attr, name, decode, direction in STREAMS:
            obj = getattr(dev, attr, None)
            if obj is None:
                continue
            if attr.endswith("_sink"):
                self._tap_sink(obj, name, decode, direction)
            else:
                self._tap_source(obj, name, decode, direction)

    def _record(self, name: str, decode, direction: str, frame) -> None:
        self.counts[name] += 1
        try:
            tlp = decode(frame)
            fields = describe_tlp(tlp)
        except Exception as exc:  # a malformed frame is worth a line too
            tlp, fields = None, {"decode_error": str(exc)}
        self.log.emit("pcie", "tlp", stream=name, dir=direction, **fields)
        if tlp is not None:
            for listener in self.listeners:
                listener(name, tlp)

    def _tap_sink(self, sink, name, decode, direction) -> None:
        inner = sink._sink_frame

        def _sink_frame(frame):
            self._record(name, decode, direction, frame)
            inner(frame)

        sink._sink_frame = _sink_frame

    def _tap_source(self, source, name, decode, direction) -> None:
        # where the source takes a frame off its queue to drive it: its first beat follows within a cycle or
        # two. Not where the model queues it: a 64-bit stream takes 65 cycles for a 512-byte completion, and
        # frames queued behind one reach the DUT that much later (a checker timing the device from a
        # completion must start its clock when the device can have the data)
        inner_get, inner_get_nowait = source._get_frame, source._get_frame_nowait
        inner_send, inner_send_nowait = source.send, source.send_nowait
        # the source's coroutine started at power-on and may wait in the model's own _get_frame already: the
        # frame that wakes it (the next one queued: the queue is empty while it waits) is recorded where it
        # is queued, which is where it goes out
        unhooked = [len(source.queue._getters)]

        def queued(frame) -> None:
            if unhooked[0]:
                unhooked[0] -= 1
                self._record(name, decode, direction, frame)

        async def send(frame):
            queued(frame)
            await inner_send(frame)

        def send_nowait(frame):
            queued(frame)
            inner_send_nowait(frame)

        async def _get_frame():
            frame = await inner_get()
            self._record(name, decode, direction, frame)
            return frame

        def _get_frame_nowait():
            frame = inner_get_nowait()
            self._record(name, decode, direction, frame)
            return frame

        source._get_frame, source._get_frame_nowait = _get_frame, _get_frame_nowait
        source.send, source.send_nowait = send, send_nowait


class IrqMonitor:
    """The DUT's interrupt outputs: each MSI-X request (vector data) and each INTx level change."""

    def __init__(self, dut, log: RunLog, listener=None):
        self.dut, self.log = dut, log
        self.listener = listener  # called with ("msix", data) or ("intx", level): the checkers
        self.msix = 0
        self.tasks = []
        if dut._get("cfg_interrupt_msix_int") is not None:
            self.tasks.append(cocotb.start_soon(self._msix()))
        if dut._get("cfg_interrupt_int") is not None:
            self.tasks.append(cocotb.start_soon(self._intx()))

    async def _msix(self) -> None:
        sig = self.dut.cfg_interrupt_msix_int
        while True:
            await RisingEdge(sig)
            self.msix += 1
            data = int(self.dut.cfg_interrupt_msix_data.value)
            self.log.emit("irq", "msix", data=data, addr=f"{int(self.dut.cfg_interrupt_msix_address.value):#x}")
            if self.listener is not None:
                self.listener("msix", data)

    async def _intx(self) -> None:
        # a level change of the line as the host sees it: from deasserted (what an unknown level is to the
        # host) to asserted and back. Icarus starts the register at X and its reset makes that 0, a change of
        # value but not of the line: logging it would put an event in Icarus' log that Verilator's (which
        # starts at 0) has not (tests/sim/test_sim_agreement.py)
        sig = self.dut.cfg_interrupt_int
        last = 0
        while True:
            await ValueChange(sig)
            try:
                level = int(sig.value) & 1
            except ValueError:
                continue
            if level == last:
                continue
            last = level
            self.log.emit("irq", "intx", level=level)
            if self.listener is not None:
                self.listener("intx", level)

    def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
