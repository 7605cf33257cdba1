"""4. Interrupt legality, both ways, for the TX queue.

After each used.idx write the device reads {avail.flags, avail.idx} again and decides (hdl/virtio/README.md
step 6; reference §8.2 ``should_notify``). The checker sees that read's completion data (exactly what the
device saw) and what the driver negotiated and configured, and classifies the decision:

* MUST: avail.flags NO_INTERRUPT read as 0 (spec 2.6.7: "If flags is 0, the device MUST send a
  notification"), or the ring is empty and NOTIFY_ON_EMPTY was negotiated (legacy 6.3: "the device MUST
  issue a used buffer notification if the device runs out of available descriptors");
* MAY: the ring is empty and the device mode is ``noe_policy = ALWAYS`` (QEMU <= 0.11 ignored the ack);
* else: no interrupt is justified.

Every TX interrupt (an MSI-X message on the TX queue's vector, or INTx rising) must follow a MUST or MAY
decision by at most ``WINDOW_CYCLES``; every MUST decision must be followed by one (for INTx: the line is
high) within that window.

INTx is a level: a decision made while the line is already high is covered by it (the device can only add
its ISR bit), but the driver's ISR read may clear the line before that bit arrives, and the device then
raises it again for that decision: a covered decision also justifies a rise within its window.
"""

from __future__ import annotations

from dataclasses import dataclass

from tb.checkers.base import CLOCK_NS, Checker
from tb.checkers.shadow import u16
from tb.checkers.spec import VIRTIO_F_NOTIFY_ON_EMPTY, VIRTQ_AVAIL_F_NO_INTERRUPT
from tb.device.dev_ctrl import NoePolicy

TX_QUEUE = 1
# decision read completion -> interrupt request at the hard block: the read data crosses the RC interface,
# the DMA engine, the engine's RAM and the register block (measured ~20 cycles); generous so it never
# races, tight enough that the next packet's decision cannot take its place
WINDOW_CYCLES = 100


@dataclass
class Decision:
    t: float
    flags: int
    avail_idx: int
    used_idx: int
    empty: bool
    must: bool
    why: str
    matched: bool = False  # an interrupt was attributed to it
    covered: bool = False  # INTx was high when it was made (satisfied, but may still explain a rise)

    @property
    def deadline(self) -> float:
        return self.t + WINDOW_CYCLES * CLOCK_NS


class InterruptLegality(Checker):
    name = "irq_legality"
    rule = (
        "each TX interrupt is justified by the device's read after its used.idx write (avail.flags clear, "
        "NOTIFY_ON_EMPTY negotiated and ring empty, or noe_policy ALWAYS and ring empty); where the spec says "
        "MUST (flags read as 0, or empty with NOTIFY_ON_EMPTY), an interrupt follows"
    )

    def __init__(self, hub):
        super().__init__(hub)
        self.after_used = False
        self.open: list[Decision] = []
        self.last: Decision | None = None
        self.intx_level = 0

    def on_reset(self, t: float) -> None:
        self._expire(t + WINDOW_CYCLES * CLOCK_NS)  # what was owed before the reset is judged now
        self.after_used = False
        self.open.clear()

    def on_dev_write(self, t: float, addr: int, data: bytes, tlp: str) -> None:
        q = self.hub.tx_queue()
        if q is not None and q.part(addr)[0] == "used_idx":
            self.after_used = True

    def on_dev_read(self, t_req: float, t: float, addr: int, data: bytes, tlp: str) -> None:
        q = self.hub.tx_queue()
        if q is None or not self.after_used or addr != q.avail or len(data) < 4:
            return
        self.after_used = False
        self.events += 1
        self._expire(t)
        flags = int.from_bytes(data[0:2], "little")
        avail_idx = int.from_bytes(data[2:4], "little")
        used_idx = q.used_written
        empty = u16(avail_idx - used_idx) == 0
        noe = bool(self.hub.guest_features >> VIRTIO_F_NOTIFY_ON_EMPTY & 1)
        if not flags & VIRTQ_AVAIL_F_NO_INTERRUPT:
            must, why = True, "avail.flags read as 0 (MUST)"
        elif empty and noe:
            must, why = True, "ring empty and NOTIFY_ON_EMPTY negotiated (MUST)"
        elif empty and self.hub.noe_policy == NoePolicy.ALWAYS:
            must, why = False, "ring empty and noe_policy ALWAYS (MAY)"
        else:
            self.last = Decision(
                t,
                flags,
                avail_idx,
                used_idx,
                empty,
                False,
                "NO_INTERRUPT set and "
                + (
                    f"ring empty, NOTIFY_ON_EMPTY not negotiated, policy {self.hub.noe_policy}"
                    if empty
                    else "ring not empty"
                ),
            )
            return
        d = Decision(t, flags, avail_idx, used_idx, empty, must, why)
        self.last = d
        if must and self._intx_mode() and self.intx_level:
            d.covered = True  # INTx already asserted: the ISR bit is all the device can add
        self.open.append(d)

    def _intx_mode(self) -> bool:
        return not self.hub.msix_enabled()

    def on_irq(self, t: float, kind: str, value: int) -> None:
        q = self.hub.tx_queue()
        if kind == "intx":
            rising = value and not self.intx_level
            self.intx_level = value
            if not rising or q is None or not self._intx_mode():
                return
        elif kind == "msix":
            vec = self.hub.msix_vector_of(value)
            if q is None or vec is None or vec != self.hub.queue_vector.get(TX_QUEUE):
                return
        else:
            return
        self.events += 1
        self._expire(t)
        # a decision the line did not cover first: a covered one is satisfied already and only may explain a
        # rise (its ISR bit landing after the driver's read cleared the line)
        for covered in (False, True):
            for d in self.open:
                if not d.matched and d.t <= t and d.covered == covered:
                    d.matched = True
                    return
        last = self.last
        seen = (
            (
                f"the last decision (cycle {int(last.t // CLOCK_NS)}) read avail.flags={last.flags} "
                f"avail.idx={last.avail_idx} with used.idx={last.used_idx}: {last.why}"
            )
            if last
            else "no decision read since the last used.idx write"
        )
        self.fail(t, f"TX interrupt ({kind} {value:#x}) not justified: {seen}", addr=q.avail if q else None)

    def _expire(self, now: float) -> None:
        keep = []
        for d in self.open:
            if d.deadline >= now:
                keep.append(d)
            elif d.must and not d.matched and not d.covered:
                q = self.hub.tx_queue()
                self.fail(
                    d.deadline,
                    f"no TX interrupt within {WINDOW_CYCLES} cycles of the decision at cycle "
                    f"{int(d.t // CLOCK_NS)}: it read avail.flags={d.flags} avail.idx={d.avail_idx} "
                    f"with used.idx={d.used_idx}: {d.why}",
                    addr=q.avail if q else None,
                )
        self.open = keep

    def finish(self, t: float) -> None:
        self._expire(t)
