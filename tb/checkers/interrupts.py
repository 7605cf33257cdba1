"""4. Interrupt legality, both ways, for each queue the device pushes used buffers to (RX 0, TX 1).

After each used.idx write the device reads {avail.flags, avail.idx} again and decides (hdl/virtio/README.md
step 6; reference §8.2 ``should_notify``). The checker sees that read's completion data (exactly what the
device saw) and what the driver negotiated and configured, and classifies the decision:

* MUST: avail.flags NO_INTERRUPT read as 0 (spec 2.6.7: "If flags is 0, the device MUST send a
  notification"), or the ring is empty and NOTIFY_ON_EMPTY was negotiated (legacy 6.3: "the device MUST
  issue a used buffer notification if the device runs out of available descriptors");
* MAY: the ring is empty and the device mode is ``noe_policy = ALWAYS`` (QEMU <= 0.11 ignored the ack);
* else: no interrupt is justified.

Every queue interrupt (an MSI-X message on a queue's vector, or INTx rising) must follow a MUST or MAY
decision of a queue that interrupt can stand for (the queues on that vector; under INTx, any queue) by at
most ``WINDOW_CYCLES``; every MUST decision must be followed by one (for INTx: the line is high) within that
window. The RX queue's decisions follow the same rules as TX's (one used writer block makes both).

INTx is a level: a decision made while the line is already high is covered by it (the device can only add
its ISR bit), but the driver's ISR read may clear the line before that bit arrives, and the device then
raises it again for that decision: a covered decision also justifies a rise within its window. Likewise
when two decisions (of either queue) precede one rise, as when both queues' decision reads complete a few
cycles apart: the rise is matched to one, and covers the others.

Once VIRTIO_F_EVENT_IDX is negotiated these flag rules no longer apply (the spec: the device MUST ignore the
lower bit of flags): this checker stands down and ``event_idx_irq`` (tb/checkers/event_idx.py, the same
matching of interrupts to decisions) judges the queues by used_event.
"""

from __future__ import annotations

from dataclasses import dataclass

from tb.checkers.base import CLOCK_NS, Checker
from tb.checkers.shadow import u16
from tb.checkers.spec import VIRTIO_F_NOTIFY_ON_EMPTY, VIRTQ_AVAIL_F_NO_INTERRUPT
from tb.device.dev_ctrl import NoePolicy

RX_QUEUE, TX_QUEUE = 0, 1
QUEUE_NAMES = {RX_QUEUE: "RX", TX_QUEUE: "TX"}
# decision read completion -> interrupt request at the hard block: the read data crosses the RC interface,
# the DMA engine, the engine's RAM and the register block (measured ~20 cycles); generous so it never
# races, tight enough that the next packet's decision cannot take its place
WINDOW_CYCLES = 100


@dataclass
class Decision:
    queue: int
    t: float
    flags: int
    avail_idx: int
    used_idx: int
    empty: bool
    must: bool
    why: str
    matched: bool = False  # an interrupt was attributed to it
    covered: bool = False  # INTx was high when it was made (satisfied, but may still explain a rise)
    detail: str = ""  # what the decision read saw, when it is not avail.flags / avail.idx (EVENT_IDX)

    def seen(self) -> str:
        return self.detail or f"read avail.flags={self.flags} avail.idx={self.avail_idx} with used.idx={self.used_idx}"

    @property
    def deadline(self) -> float:
        return self.t + WINDOW_CYCLES * CLOCK_NS


class InterruptLegality(Checker):
    name = "irq_legality"
    rule = (
        "each queue interrupt is justified by the device's read after that queue's used.idx write (avail.flags "
        "clear, NOTIFY_ON_EMPTY negotiated and ring empty, or noe_policy ALWAYS and ring empty); where the spec "
        "says MUST (flags read as 0, or empty with NOTIFY_ON_EMPTY), an interrupt follows"
    )
    QUEUES = (RX_QUEUE, TX_QUEUE)

    def __init__(self, hub):
        super().__init__(hub)
        self.after_used: set[int] = set()  # queues whose next avail read is their decision read
        self.open: list[Decision] = []
        self.last: dict[int, Decision] = {}
        self.intx_level = 0

    def active(self) -> bool:
        """The flag rules hold while EVENT_IDX is not negotiated."""
        return not self.hub.event_idx

    def on_host_bar(self, t: float, write: bool, bar: int, offset: int, size: int, value: int) -> None:
        # STATUS = 0: what was owed before the driver asked for the reset is judged now; an interrupt still
        # within its window may be cancelled by the reset (the device drops what it had not yet raised), or
        # may still arrive (its message already on its way): the decision justifies it but no longer owes it
        if self.hub.is_reset_write(write, bar, offset, size, value):
            self._expire(t)
            for d in self.open:
                d.must = False
            self.after_used.clear()

    def on_reset(self, t: float) -> None:
        self._expire(t)
        self.after_used.clear()
        self.open.clear()

    def on_dev_write(self, t: float, addr: int, data: bytes, tlp: str) -> None:
        q = self.hub.queue_at(addr)
        if self.active() and q is not None and q.index in self.QUEUES and q.part(addr)[0] == "used_idx":
            self.after_used.add(q.index)

    def on_dev_read(self, t_req: float, t: float, addr: int, data: bytes, tlp: str) -> None:
        q = self.hub.queue_at(addr)
        if not self.active():
            return
        if q is None or q.index not in self.after_used or addr != q.avail or len(data) < 4:
            return
        self.after_used.discard(q.index)
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
            self.last[q.index] = Decision(
                q.index,
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
        d = Decision(q.index, t, flags, avail_idx, used_idx, empty, must, why)
        self.last[q.index] = d
        if must and self._intx_mode() and self.intx_level:
            d.covered = True  # INTx already asserted: the ISR bit is all the device can add
        self.open.append(d)

    def _last_decision(self, queue: int) -> str:
        last = self.last.get(queue)
        if last is None:
            return f"no {QUEUE_NAMES[queue]} decision read since its last used.idx write"
        return f"{QUEUE_NAMES[queue]}'s last decision (cycle {int(last.t // CLOCK_NS)}) {last.seen()}: {last.why}"

    def _intx_mode(self) -> bool:
        return not self.hub.msix_enabled()

    def on_irq(self, t: float, kind: str, value: int) -> None:
        if not self.active():
            if kind == "intx":
                self.intx_level = value
            return
        live = [n for n in self.QUEUES if n in self.hub.queues]
        if kind == "intx":
            rising = value and not self.intx_level
            self.intx_level = value
            if not rising or not live or not self._intx_mode():
                return
            queues = live  # one line, one ISR bit: any queue's decision may stand behind a rise
        elif kind == "msix":
            vec = self.hub.msix_vector_of(value)
            queues = [n for n in live if vec is not None and vec == self.hub.queue_vector.get(n)]
            if not queues:
                return  # the config vector, or a vector no queue uses
        else:
            return
        self.events += 1
        self._expire(t)
        # a decision the line did not cover first: a covered one is satisfied already and only may explain a
        # rise (its ISR bit landing after the driver's read cleared the line)
        for covered in (False, True):
            for d in self.open:
                if d.queue in queues and not d.matched and d.t <= t and d.covered == covered:
                    d.matched = True
                    if kind == "intx":
                        # the line now covers every other decision made before it rose: their ISR bit is the
                        # same one (two queues deciding a few cycles apart raise INTx once)
                        for other in self.open:
                            if other.queue in queues and not other.matched and other.t <= t:
                                other.covered = True
                    return
        name = "/".join(QUEUE_NAMES[n] for n in queues)
        seen = "; ".join(self._last_decision(n) for n in queues)
        q = self.hub.queues[queues[-1]]
        self.fail(t, f"{name} interrupt ({kind} {value:#x}) not justified: {seen}", addr=q.avail)

    def _expire(self, now: float) -> None:
        keep = []
        for d in self.open:
            if d.deadline >= now:
                keep.append(d)
            elif d.must and not d.matched and not d.covered:
                q = self.hub.queues.get(d.queue)
                self.fail(
                    d.deadline,
                    f"no {QUEUE_NAMES[d.queue]} interrupt within {WINDOW_CYCLES} cycles of the decision at cycle "
                    f"{int(d.t // CLOCK_NS)}: it {d.seen()}: {d.why}",
                    addr=q.avail if q else None,
                )
        self.open = keep

    def poll(self, t: float) -> None:
        # a decision whose window closed is judged when time passes, not only at the next event
        self._expire(t)

    def finish(self, t: float) -> None:
        self._expire(t)
