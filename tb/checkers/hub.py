"""The checker set: one object per simulation test that feeds every checker and stops the test on a failure.

Inputs (all with simulation time; cycles are 250 MHz user_clk periods):

* host side, in the driver's program order (``tb.simulation.sim_platform.SimPlatform.observers``): every
  read and write of host memory and every BAR access the driver makes;
* the driver's trace events (``driver_event``, fed by the driver's EventLog listeners): what it did with
  its queues (add_buf with token and num_free, get_buf, detach_buf, enable_cb / disable_cb and their
  results) and with the net device queue (netif_stop / start / wake_queue);
* device side (``tb.simulation.monitors.dma.DmaMonitor`` on the four PCIe streams): each DMA read with the
  data its completions returned (what the device saw), each DMA write;
* configuration-space accesses (``host_config``, where the platform reports them): the capability reads
  teach where a modern device's structures are (tb/checkers/pci_caps.py), or the platform describes them;
* the DUT's interrupt outputs (``tb.simulation.monitors.pcie.IrqMonitor``) and the frames on the wire
  (``tb.simulation.wire``).

The checkers never import, wrap or read the driver: its ring layout, flags and register offsets are the
checkers' own, written from the virtio specification (tb/checkers/spec.py). From the BAR accesses the set
learns what the device was told (queue PFNs and sizes, or with the modern interface the common configuration's
queue sizes, descriptor / driver / device addresses and queue_enable; acked features, STATUS writes, MSI-X vectors, the
device modes at BAR2+0x200, the DMA self-test's buffers) and what it is (BAR2 TX_PARAMS: the TX engine's
descriptor window and batch size, read by the bench at the start of a test). The shared state
(``HostShadow``, ``QueueView``) is updated before the checkers see an event.

A failure is recorded, written to the event log as a ``checker`` verdict and, unless the test declared it
expected (``expect``, the fault-injection tests), raised from the set's own task so the test stops with the
report. ``TB_CHECKERS=0`` turns the set off (for measuring what the checkers cost).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from tb.checkers.base import Checker, CheckerError, Violation
from tb.checkers.pci_caps import CapSnoop, Structure
from tb.checkers.shadow import Chain, HostShadow, QueueView, u16
from tb.checkers.spec import (
    COMMON_DEVICE_STATUS,
    COMMON_DRIVER_FEATURE,
    COMMON_DRIVER_FEATURE_SELECT,
    COMMON_QUEUE_DESC,
    COMMON_QUEUE_DEVICE,
    COMMON_QUEUE_ENABLE,
    COMMON_QUEUE_MSIX_VECTOR,
    COMMON_QUEUE_NOTIFY_OFF,
    COMMON_QUEUE_SELECT,
    COMMON_QUEUE_SIZE,
    LEGACY_PFN_SHIFT,
    LEGACY_REG_DEVICE_STATUS,
    LEGACY_REG_DRIVER_FEATURES,
    LEGACY_REG_QUEUE_ADDRESS,
    LEGACY_REG_QUEUE_MSIX_VECTOR,
    LEGACY_REG_QUEUE_NOTIFY,
    LEGACY_REG_QUEUE_SELECT,
    LEGACY_REG_QUEUE_SIZE,
    RECEIVEQ,
    VIRTIO_F_EVENT_IDX,
)
from tb.device import debug_bar as dbg
from tb.device.debug_bar import TxParams
from tb.device.dev_ctrl import MODE_LOOPBACK_BIT, REG_FAULT, REG_MODE

VIRTIO_BAR = 0
DEBUG_BAR = dbg.DEBUG_BAR
DEFAULT_QUEUE_SIZE = 256  # what a queue is until the driver reads its Queue Size
SELFTEST_REGS = (dbg.REG_ST_SRC_LO, dbg.REG_ST_SRC_HI, dbg.REG_ST_DST_LO, dbg.REG_ST_DST_HI, dbg.REG_ST_LEN)


def checkers_enabled() -> bool:
    return os.environ.get("TB_CHECKERS", "1") not in ("0", "")


class CheckerSet:
    def __init__(
        self,
        now: Callable[[], float],
        log=None,
        msix_vector_of: Callable[[int], int | None] | None = None,
        msix_enabled: Callable[[], bool] | None = None,
    ):
        from tb.checkers import rules  # the checker classes

        self.now = now
        self.log = log
        self.msix_vector_of = msix_vector_of or (lambda data: None)
        self.msix_enabled = msix_enabled or (lambda: False)
        self.mem = HostShadow()
        self.queues: dict[int, QueueView] = {}
        self.queue_sel = 0
        self.last_reset_t = float("-inf")  # reads issued before a device reset belong to the old queues
        self.reset_pending: float | None = None  # STATUS = 0 written, not yet read back
        self.queue_num: dict[int, int] = {}
        self.queue_vector: dict[int, int] = {}
        self.guest_features = 0
        # the modern interface: where its structures are, what the common configuration was told
        self.caps = CapSnoop()
        self.driver_feature_select = 0
        self.queue_addr: dict[int, list[int]] = {}  # queue -> [desc, driver, device] as written
        self.queue_notify_off: dict[int, int] = {}  # queue -> queue_notify_off as read
        self.noe_policy = 0
        self.loopback = False  # device mode: TX frames go into the RX queue, not on the wire
        self.fault = 0
        self.tx_params: TxParams | None = None  # read from the device (BAR2 TX_PARAMS)
        self.allowed: list[tuple[int, int, str]] = []  # device-accessible regions outside the rings
        # the current device write, when it lands in a device-writable buffer of a chain the device holds:
        # (queue, chain, offset in the chain's writable bytes); the chain's ``written`` already includes it
        self.buffer_write: tuple[QueueView, Chain, int] | None = None
        self.selftest_regs: dict[int, int] = {}  # the DMA self-test's registers as last written
        self.driver_probed = False  # a driver traced the end of its probe
        self.violations: list[Violation] = []
        self.expected: set[str] | None = None  # rules a fault test wants to see fire
        self._raise: Callable[[CheckerError], None] | None = None
        self.checkers: list[Checker] = [cls(self) for cls in rules.ALL]
        self.waived: dict[str, str] = {}
        self._hooks: dict[str, list] = {}
        self._build_hooks()

    HOOKS = (
        "on_dev_read",
        "on_dev_write",
        "on_host_mem",
        "on_host_bar",
        "on_host_config",
        "on_driver",
        "on_irq",
        "on_frame",
        "on_rx_frame",
        "on_reset",
        "poll",
        "finish",
    )

    def _build_hooks(self) -> None:
        live = [c for c in self.checkers if c.name not in self.waived]
        for hook in self.HOOKS:
            self._hooks[hook] = [getattr(c, hook) for c in live if hasattr(c, hook)]

    def waive(self, *names: str, why: str) -> None:
        """Switch checkers off until the next device reset, saying why in the event log (never silently).

        For tests that break a rule on purpose on one side, e.g. hand-written malformed rings: the driver-side
        rules are waived, the device-side ones still judge how the device copes.
        """
        for name in names:
            self.by_name(name)
            self.waived[name] = why
            if self.log is not None:
                self.log.emit("checker", name, verdict="waived", why=why)
        self._build_hooks()

    def add(self, checker: Checker) -> None:
        """One more checker (or a probe a test uses to time events), fed like the built-in ones."""
        self.checkers.append(checker)
        self._build_hooks()

    def compact(self, before: float) -> None:
        """Forget what the rules no longer look at (a long run's memory stays flat; the soak calls it between
        rounds, with the traffic drained): host-memory history up to ``before``, and each checker's own judged
        state where it has a ``compact``."""
        self.mem.forget_before(before)
        for c in self.checkers:
            compact = getattr(c, "compact", None)
            if compact is not None:
                compact()

    def by_name(self, name: str) -> Checker:
        return next(c for c in self.checkers if c.name == name)

    # -- failures ----------------------------------------------------------------------------------------
    def on_failure(self, raise_fn: Callable[[CheckerError], None]) -> None:
        """How a failure stops the test (the simulation harness raises it from a task of its own)."""
        self._raise = raise_fn

    def expect(self, *names: str) -> None:
        """Fault-injection tests: collect failures instead of stopping (``names`` only documents intent)."""
        self.expected = set(names)

    def violation(self, v: Violation) -> None:
        first = not self.violations
        self.violations.append(v)
        if self.log is not None:
            self.log.verdict(
                v.checker,
                False,
                msg=v.msg,
                rule=v.rule,
                t_ns=v.t_ns,
                addr=None if v.addr is None else f"{v.addr:#x}",
                tlp=v.tlp,
                **{k: str(x) for k, x in v.extra.items()},
            )
        if self.expected is None and first:
            err = CheckerError(v.report())
            if self._raise is not None:
                self._raise(err)
            else:
                raise err

    def failed(self, name: str) -> list[Violation]:
        return [v for v in self.violations if v.checker == name]

    # -- registration ------------------------------------------------------------------------------------
    def allow(self, addr: int, length: int, why: str) -> None:
        """A host region the device may read and write outside the virtqueues (e.g. the DMA self-test)."""
        self.allowed.append((addr, addr + length, why))

    def allowed_region(self, addr: int, length: int) -> str | None:
        for start, end, why in self.allowed:
            if start <= addr and addr + length <= end:
                return why
        return None

    def attach_sent(self, sent: list[bytes]) -> None:
        """The frames a transmit run queued, in order (the wire scoreboard's expectation)."""
        for c in self.checkers:
            attach = getattr(c, "attach_sent", None)
            if attach is not None:
                attach(sent)

    def queue_at(self, addr: int) -> QueueView | None:
        for q in self.queues.values():
            if q.contains(addr):
                return q
        return None

    # -- host side ---------------------------------------------------------------------------------------
    def host_mem(self, write: bool, addr: int, data: bytes) -> None:
        t = self.now()
        if write:
            self.mem.write(t, addr, data)
            q = self.queue_at(addr)
            if q is not None:
                part, _ = q.part(addr)
                if part == "avail_idx" and len(data) >= 2:
                    self._publish(t, q, int.from_bytes(data[:2], "little"))
        else:
            q = self.queue_at(addr)
            if q is not None and q.part(addr)[0] == "used_elem" and len(data) >= 4:
                self._reclaimed(q, int.from_bytes(data[:4], "little"))
        for hook in self._hooks["on_host_mem"]:
            hook(t, write, addr, data)

    def _publish(self, t: float, q: QueueView, new: int) -> None:
        old = q.avail_published
        q.last_published = []
        for k in range(min(u16(new - old), q.num + 1)):
            idx = u16(old + k)
            head = self.mem.read_int(q.avail_ring_addr(idx % q.num), 2)
            c = q.walk(self.mem, idx, head, t)
            q.add_chain(c)
            q.last_published.append(c)
            if len(q.chains) > 4 * q.num:  # a broken driver publishing without end: keep memory bounded
                q.drop_chain(next(iter(q.chains.values())))
        q.avail_published = new

    def _reclaimed(self, q: QueueView, head: int) -> None:
        c = q.desc_owner.get(head)
        if c is not None and c.head == head and c.device_done:
            q.drop_chain(c)

    def host_config(self, write: bool, offset: int, size: int, value: int) -> None:
        """A configuration-space access of the driver (CfgRd / CfgWr)."""
        t = self.now()
        self.caps.config(write, offset, size, value)
        for hook in self._hooks["on_host_config"]:
            hook(t, write, offset, size, value)

    def describe_modern(self, structs: dict[int, Structure]) -> None:
        """A platform that knows where its device's modern structures are says so (cfg_type -> Structure)."""
        self.caps.describe(structs)

    # -- what a register access means (the checkers ask rather than decode offsets themselves) ------------
    def common_rel(self, bar: int, offset: int) -> int | None:
        """The offset in the modern common configuration of this BAR access (None: not one)."""
        common = self.caps.common
        return None if common is None else common.rel(bar, offset)

    def notified_queue(self, write: bool, bar: int, offset: int, size: int, value: int) -> int | None:
        """The queue a driver notification names: the legacy Queue Notify register, or a write into the
        modern notification structure (at queue_notify_off * notify_off_multiplier; the value is the queue's
        index when VIRTIO_F_NOTIFICATION_DATA is not negotiated)."""
        if not write:
            return None
        if bar == VIRTIO_BAR and offset == LEGACY_REG_QUEUE_NOTIFY and self.caps.common is None:
            return value
        notify = self.caps.notify
        if notify is not None:
            rel = notify.rel(bar, offset)
            if rel is not None:
                for q, off in self.queue_notify_off.items():
                    if off * notify.multiplier == rel:
                        return q
                return value & 0xFFFF
        if bar == VIRTIO_BAR and offset == LEGACY_REG_QUEUE_NOTIFY:
            return value
        return None

    def is_reset_write(self, write: bool, bar: int, offset: int, size: int, value: int) -> bool:
        """device status = 0 (legacy STATUS or the modern common configuration's device_status)."""
        if not write or value != 0 or size != 1:
            return False
        if self.common_rel(bar, offset) == COMMON_DEVICE_STATUS:
            return True
        return bar == VIRTIO_BAR and offset == LEGACY_REG_DEVICE_STATUS

    def host_bar(self, write: bool, bar: int, offset: int, size: int, value: int) -> None:
        t = self.now()
        if not write and self.reset_pending is not None:
            self.reset_pending = None
            self.reset(t)
        rel = self.common_rel(bar, offset)
        if rel is not None:
            self._snoop_common(t, write, rel, size, value)
        elif bar == VIRTIO_BAR:
            self._snoop_virtio(t, write, offset, size, value)
        elif bar == DEBUG_BAR:
            self._snoop_debug(write, offset, value)
        for hook in self._hooks["on_host_bar"]:
            hook(t, write, bar, offset, size, value)

    def _snoop_debug(self, write: bool, offset: int, value: int) -> None:
        if not write:
            if offset == dbg.REG_TX_PARAMS:
                self.tx_params = TxParams.decode(value)
            return
        if offset == REG_MODE:
            self.noe_policy = value & 3
            self.loopback = bool(value >> MODE_LOOPBACK_BIT & 1)
        elif offset == REG_FAULT:
            self.fault = value
        elif offset in SELFTEST_REGS:
            self.selftest_regs[offset] = value
        elif offset == dbg.REG_ST_CTRL and value & 1:
            # the self-test is started: the device is given its two buffers
            r = self.selftest_regs.get
            length = r(dbg.REG_ST_LEN, 0)
            self.allow(r(dbg.REG_ST_SRC_HI, 0) << 32 | r(dbg.REG_ST_SRC_LO, 0), length, "DMA self-test source")
            self.allow(r(dbg.REG_ST_DST_HI, 0) << 32 | r(dbg.REG_ST_DST_LO, 0), length, "DMA self-test destination")

    def _snoop_virtio(self, t: float, write: bool, offset: int, size: int, value: int) -> None:
        if not write:
            if offset == LEGACY_REG_QUEUE_SIZE:
                self.queue_num[self.queue_sel] = value
            return
        if offset == LEGACY_REG_QUEUE_SELECT:
            self.queue_sel = value
        elif offset == LEGACY_REG_DRIVER_FEATURES:
            self.guest_features = value
        elif offset == LEGACY_REG_QUEUE_ADDRESS:
            if value:
                num = self.queue_num.get(self.queue_sel, DEFAULT_QUEUE_SIZE)
                q = QueueView(self.queue_sel, num, value << LEGACY_PFN_SHIFT)
                self.queues[self.queue_sel] = q
                self.mem.watch(q.base, q.end)
            else:
                self.queues.pop(self.queue_sel, None)
        elif offset == LEGACY_REG_QUEUE_MSIX_VECTOR and size == 2 and self.msix_enabled():
            self.queue_vector[self.queue_sel] = value
        elif offset == LEGACY_REG_DEVICE_STATUS and size == 1 and value == 0:
            # the reset takes effect at the device when the posted write arrives: until the driver's next read
            # of the device returns (PCIe orders that completion behind the device's earlier writes, and a
            # device must have finished its DMA when its status reads 0) the old queues still judge DMA
            self.reset_pending = t

    def _snoop_common(self, t: float, write: bool, rel: int, size: int, value: int) -> None:
        """The modern common configuration (4.1.4.3)."""
        sel = self.queue_sel
        if not write:
            if rel == COMMON_QUEUE_SIZE:
                self.queue_num[sel] = value
            elif rel == COMMON_QUEUE_NOTIFY_OFF:
                self.queue_notify_off[sel] = value
            return
        if rel == COMMON_QUEUE_SELECT:
            self.queue_sel = value
        elif rel == COMMON_DRIVER_FEATURE_SELECT:
            self.driver_feature_select = value
        elif rel == COMMON_DRIVER_FEATURE and self.driver_feature_select < 2:
            shift = 32 * self.driver_feature_select
            self.guest_features = (self.guest_features & ~(0xFFFFFFFF << shift)) | (value & 0xFFFFFFFF) << shift
        elif rel == COMMON_QUEUE_SIZE:
            self.queue_num[sel] = value
        elif COMMON_QUEUE_DESC <= rel < COMMON_QUEUE_DEVICE + 8 and size == 4:
            addr = self.queue_addr.setdefault(sel, [0, 0, 0])
            k, shift = (rel - COMMON_QUEUE_DESC) // 8, 32 if rel & 4 else 0
            addr[k] = (addr[k] & ~(0xFFFFFFFF << shift)) | (value & 0xFFFFFFFF) << shift
        elif rel == COMMON_QUEUE_ENABLE and value == 1:
            desc, driver, device = self.queue_addr.get(sel, [0, 0, 0])
            num = self.queue_num.get(sel, DEFAULT_QUEUE_SIZE)
            q = QueueView(sel, num, desc, avail_at=driver, used_at=device)
            self.queues[sel] = q
            for lo, hi in q.ranges:
                self.mem.watch(lo, hi)
        elif rel == COMMON_QUEUE_MSIX_VECTOR and size == 2 and self.msix_enabled():
            self.queue_vector[sel] = value
        elif rel == COMMON_DEVICE_STATUS and size == 1 and value == 0:
            self.reset_pending = t  # as the legacy STATUS = 0 (see _snoop_virtio)

    # -- the driver's trace ------------------------------------------------------------------------------
    def driver_event(self, event: Any) -> None:
        """One trace event of the driver (tb.driver.trace.Event: kind and fields), as it emits it."""
        if event.kind == "probe_done":
            self.driver_probed = True
        t = self.now()
        for hook in self._hooks["on_driver"]:
            hook(t, event.kind, event.fields)

    def poll(self, t: float) -> None:
        """The rules about time passing (a queue stopped too long, a device idle with a stale avail_event):
        the harness calls this every microsecond of simulated time."""
        for hook in self._hooks["poll"]:
            hook(t)

    @property
    def event_idx(self) -> bool:
        """VIRTIO_F_EVENT_IDX negotiated (from the driver's feature write)."""
        return bool(self.guest_features >> VIRTIO_F_EVENT_IDX & 1)

    def reset(self, t: float) -> None:
        """STATUS = 0: the device forgets its queues; so do the checkers."""
        self.last_reset_t = t
        self.queues.clear()
        self.queue_vector.clear()
        self.guest_features = 0
        self.queue_addr.clear()
        for hook in self._hooks["on_reset"]:
            hook(t)
        if self.waived:  # the waived checkers start again from a clean device
            for c in self.checkers:
                if c.name in self.waived and hasattr(c, "on_reset"):
                    c.on_reset(t)
            self.waived.clear()
            self._build_hooks()

    # -- device side -------------------------------------------------------------------------------------
    def dev_read(self, t_req: float, addr: int, data: bytes, tlp: str) -> None:
        t = self.now()
        q = self.queue_at(addr)
        if q is not None and addr <= q.avail_idx_addr and addr + len(data) >= q.avail_idx_addr + 2:
            off = q.avail_idx_addr - addr
            q.device_avail_seen = int.from_bytes(data[off : off + 2], "little")
        for hook in self._hooks["on_dev_read"]:
            hook(t_req, t, addr, data, tlp)

    def dev_write(self, addr: int, data: bytes, tlp: str) -> None:
        t = self.now()
        self.mem.write(t, addr, data)
        q = self.queue_at(addr)
        self.buffer_write = None
        if q is None:
            for vq in self.queues.values():
                hit = vq.writable_at(addr, len(data))
                if hit is not None:
                    chain, off = hit
                    chain.written[off] = max(chain.written.get(off, 0), off + len(data))
                    self.buffer_write = (vq, chain, off)
                    break
        if q is not None:
            q.completed_now = []
            part, _slot = q.part(addr)
            if part == "used_elem":
                self._used_elems(q, addr, len(data))
            elif part == "used_idx" and len(data) >= 2:
                q.used_prev = q.used_written
                q.used_written = int.from_bytes(data[:2], "little")
        for hook in self._hooks["on_dev_write"]:
            hook(t, addr, data, tlp)

    def _used_elems(self, q: QueueView, addr: int, length: int) -> None:
        """Assemble used elements from the writes that carry them (an element may come in two TLPs)."""
        first = q.used_elem_addr(0)
        for slot in range((addr - first) // 8, (addr + length - 1 - first) // 8 + 1):
            if not 0 <= slot < q.num:
                continue
            lo = max(addr, first + 8 * slot) - (first + 8 * slot)
            hi = min(addr + length, first + 8 * slot + 8) - (first + 8 * slot)
            mask = q.elem_mask.get(slot, 0) | ((1 << hi) - (1 << lo))
            if mask != 0xFF:
                q.elem_mask[slot] = mask
                continue
            q.elem_mask.pop(slot, None)
            head = self.mem.read_int(first + 8 * slot, 4)
            chain = q.chain_of_head(head)
            q.completed_now.append((slot, head, chain))
            q.elems_written = u16(q.elems_written + 1)
            if chain is not None:
                chain.device_done = True

    def irq(self, kind: str, value: int) -> None:
        t = self.now()
        for hook in self._hooks["on_irq"]:
            hook(t, kind, value)

    def frame(self, t: float, data: bytes, aborted: bool) -> None:
        for hook in self._hooks["on_frame"]:
            hook(t, data, aborted)

    def finish(self) -> None:
        """End of a run: the checkers that judge totals (every frame seen, every MUST interrupt sent).

        Called from the test itself: a violation is raised here, in the caller, unless failures are collected
        (``expect``). The harness's way (``on_failure``: raised from a task of its own) would come too late
        when the test returns right after this call, and the test would pass with its checker failed."""
        t = self.now()
        for hook in self._hooks["finish"]:
            hook(t)
        if self.log is not None:
            fails = {v.checker for v in self.violations}
            for c in self.checkers:
                if c.name not in fails and c.name not in self.waived:
                    self.log.verdict(c.name, True, events=c.events)
        if self.expected is None and self.violations:
            raise CheckerError(self.violations[0].report())

    def tx_queue(self) -> QueueView | None:
        return self.queues.get(1)

    def rx_queue(self) -> QueueView | None:
        return self.queues.get(RECEIVEQ)

    def rx_frame(self, t: float, data: bytes, bad: bool) -> None:
        """A frame the device took from the network side (s_axis_rx; ``bad``: tuser on its last beat)."""
        for hook in self._hooks["on_rx_frame"]:
            hook(t, data, bad)
