"""The checkers are shown to fire, and the post-patch stop path is swept against the device's completion.

``fault_caught``: for each checker, a fault that breaks its rule, in the RTL (the test-only FAULT knobs at
BAR2+0x208, tb/device/dev_ctrl.py) or in the driver (the test-only subclasses of tb/faults/driver.py). The
test turns the fault on, sends traffic, and asserts the checker reported it with its rule, a cycle and
(where one exists) the address. Every other simulation test runs with the same checkers on and must pass: together they show the checkers
neither sleep nor cry wolf.

``race_sweep``: ring full, device stalled (wire paused); at the driver's ring-full stop path
(netif_stop_queue -> enable_cb -> re-check used.idx, b0c39dbd's ``start_xmit``) the test releases one frame
and places the device's used.idx write at every cycle offset from -40 to +40 around the driver's
avail.flags write. Every offset must end with the queue running again (no lost wake-up) and every checker
passing (the driver's TX queue is the test-only FaultyVirtQueue, for its ``race_hook`` seam).
``race_sweep_skip_recheck`` runs the same sweep with the driver fault that skips the re-check: the
lost-wake-up checker must fire.

``event_idx_fault_caught``: the EVENT_IDX checkers, each by its fault, with EVENT_IDX negotiated.
``event_idx_flags`` needs NO_INTERRUPT set over a used_event not yet crossed, which full-speed traffic makes
only by chance: ``FlagsWindow`` makes it in the stop path; ``event_idx_flags_window`` is its control (the same
window on the faithful device: the owed interrupt comes, no checker reports).
``delayed_race_sweep``: the same race for 3.0's stop path with EVENT_IDX (cb-delayed: enable_cb_delayed
writes used_event = last_used + 3/4 of the outstanding buffers, then re-checks used.idx): the completion that
crosses that used_event is placed at cycle offsets around the used_event write; ``..._skip_recheck`` skips
the re-check and must lose the wake-up.
"""

from __future__ import annotations

import os

import cocotb
import pytest
from cocotb.triggers import RisingEdge, Timer, with_timeout

from sim import suite
from tb.checkers.base import CLOCK_NS, Checker
from tb.checkers.interrupts import TX_QUEUE
from tb.device.dev_ctrl import (FAULT_AVAIL_EVENT_STALE, FAULT_DROP_FRAME, FAULT_DROP_IRQ, FAULT_DUP_FRAME,
                         FAULT_EVENT_IDX_FLAGS, FAULT_EVENT_IDX_IGNORED, FAULT_IGNORE_NO_INTERRUPT,
                         FAULT_READ_PAST_AVAIL, FAULT_USED_IDX_AHEAD, FAULT_USED_IDX_FIRST, FAULT_USED_LEN_READ,
                         FAULT_WRITE_TX_BUFFER, DeviceModes, set_fault)
from tb.faults.driver import faulty_queue
from tb.platform.base import PlatformError
from tb.scenarios.xmit import XmitRun, XmitScenario
from tb.simulation.txbench import TxBench, stop_task

REGRESS = os.environ.get("REGRESS", "0") not in ("", "0")

# fault -> (the checker that must report it, RTL FAULT bits, driver fault, needs an address in the report)
FAULTS = {
    "read_past_avail": ("device_reads_published", FAULT_READ_PAST_AVAIL, None, True),
    "used_idx_first": ("used_ring", FAULT_USED_IDX_FIRST, None, True),
    "used_idx_ahead": ("used_ring", FAULT_USED_IDX_AHEAD, None, True),
    "used_len_read": ("used_ring", FAULT_USED_LEN_READ, None, True),
    "write_tx_buffer": ("dma_write_target", FAULT_WRITE_TX_BUFFER, None, True),
    "ignore_no_interrupt": ("irq_legality", FAULT_IGNORE_NO_INTERRUPT, None, True),
    "drop_irq": ("irq_legality", FAULT_DROP_IRQ, None, True),
    "publish_before_desc": ("driver_order", 0, "publish_before_desc", True),
    "kick_before_publish": ("driver_order", 0, "kick_before_publish", True),
    "leak_desc": ("ring_invariants", 0, "leak_desc", True),
    "drop_frame": ("wire_scoreboard", FAULT_DROP_FRAME, None, False),
    "dup_frame": ("wire_scoreboard", FAULT_DUP_FRAME, None, False),
}


@cocotb.test()
@cocotb.parametrize(fault=[cocotb.Param(f, name=f) for f in FAULTS],
                    push=[cocotb.Param(p, name=p) for p in ("per_packet", "batched")])
async def fault_caught(dut, fault, push):
    """Turn one fault on, send traffic, and see its checker report rule, cycle and address; with each
    used-ring push policy of the device (per packet, and batched: several used elements per write)."""
    checker, rtl_bits, driver_fault, has_addr = FAULTS[fault]
    b = TxBench(dut)
    hub = b.tb.checkers
    assert hub is not None, "the checkers are off (TB_CHECKERS=0): this test needs them"
    hub.expect(checker)
    # no INDIRECT: the driver faults act on direct chains; NOE offered and acked by nobody (post driver)
    # batched: 4 used elements per push, so the 24 packets complete in several batches and the driver
    # reclaims while it still queues (a fault seen only at the next add, leak_desc, needs that)
    await b.start(DeviceModes(offer_indirect=False, push=push, push_batch=4))
    x = b.xmit(XmitScenario(packets=24, variant="post", min_len=60, max_len=300, seed=5, timeout_ns=400_000),
               driver_faults=(driver_fault,) if driver_fault else ())
    await x.probe()
    if rtl_bits:
        await set_fault(b.p, rtl_bits)
    try:
        await with_timeout(x.traffic(), 600, "us")
        await Timer(20, "us")       # let the device finish what it holds
    except (TimeoutError, PlatformError, AssertionError) as exc:
        b.tb.log.info("traffic under fault %s ended early: %s", fault, exc)
    hub.finish()
    caught = hub.failed(checker)
    assert caught, (f"fault {fault}: checker {checker} reported nothing; other reports: "
                    f"{[(v.checker, v.msg) for v in hub.violations][:4]}")
    v = caught[0]
    b.tb.log.info("fault %s caught:\n%s", fault, v.report())
    assert v.cycle > 0 and v.rule, v.report()
    if has_addr:
        assert v.addr is not None, f"the report names no address:\n{v.report()}"


# EVENT_IDX negotiated (issue 17): fault -> (checker, RTL FAULT bits, driver fault, transmit variant). The
# device faults: avail_event never written (the idle queue's avail_event left behind: the driver stops
# kicking), an interrupt after every push (used_event not looked at), NO_INTERRUPT obeyed on top of used_event
# (an owed interrupt lost: the 3.0 ring sets the flag in disable_cb and leaves used_event where enable_cb put
# it). The driver faults: a notify after every publish, none at all.
EVENT_IDX_FAULTS = {
    "avail_event_stale": ("avail_event_idle", FAULT_AVAIL_EVENT_STALE, None, "napi-tx"),
    "event_idx_ignored": ("event_idx_irq", FAULT_EVENT_IDX_IGNORED, None, "napi-tx"),
    "event_idx_flags": ("event_idx_irq", FAULT_EVENT_IDX_FLAGS, None, "event-idx"),
    "kick_always": ("event_idx_kick", 0, "kick_always", "debian-6.1"),
    "kick_never": ("event_idx_kick", 0, "kick_never", "event-idx"),
}


class DriverSteps(Checker):
    """Records the TX queue's enable_cb results, disable_cb calls and interrupts from the driver's trace (a test probe: it
    judges nothing)."""

    name = "driver_steps"

    def __init__(self, hub):
        super().__init__(hub)
        self.enable_cb: list[tuple[float, bool]] = []
        self.disable_cb: list[float] = []
        self.interrupts: list[float] = []

    def on_driver(self, t: float, kind: str, fields: dict) -> None:
        if fields.get("vq") != TX_QUEUE:
            return
        if kind == "vring_interrupt":
            self.interrupts.append(t)
        elif kind == "enable_cb":
            self.enable_cb.append((t, bool(fields["ret"])))
        elif kind == "disable_cb":
            self.disable_cb.append(t)


async def release_one(b: TxBench, delay_cycles: int = 0, frames: int = 1) -> None:
    """Open the held wire for exactly one frame (or ``frames``), then hold it again."""
    if delay_cycles:
        await Timer(delay_cycles * CLOCK_NS, "ns")
    n0 = len(b.wire.frames)
    b.wire.pause(False)
    while len(b.wire.frames) < n0 + frames:
        await RisingEdge(b.tb.dut.user_clk)
    b.wire.pause(True)


class FlagsWindow:
    """The moment ``event_idx_flags`` needs, made on purpose rather than waited for: callbacks off (avail.flags
    NO_INTERRUPT set) while used_event is not yet crossed, then a completion that crosses it. The 3.0 ring
    (a5c262c5fd83) leaves used_event where get_buf last put it when disable_cb sets the flag, and post-cap's
    stop path is where that happens: the wire is held, the ring fills and the queue stops; at enable_cb (the
    ``race_hook`` seam) ``FRAMES`` frames go out and their completions are written, so enable_cb finds more
    used, the re-check reaps with callbacks on (get_buf: used_event = used.idx) and disable_cb sets the flag;
    the wire opens at that clock. Its next completion crosses used_event under NO_INTERRUPT: the interrupt is
    owed (the device MUST ignore the flag with EVENT_IDX), and the faulty device withholds it. The window lasts
    until the queue stops again (enable_cb clears the flag): with ``FRAMES`` reaped, about ``FRAMES`` more
    start_xmit calls (one per 200 ns of guest time), against ~100 ns from the wire opening to the device's
    decision read.

    Left to timing (the traffic at full speed), the window opens only when a start_xmit happens to reap between
    an interrupt and its skb_xmit_done: in one process after other tests it never did, with any seed."""

    FRAMES = 8

    def __init__(self, b: TxBench, x: XmitRun):
        self.b, self.x = b, x
        self.steps = DriverSteps(b.tb.checkers)
        b.tb.checkers.add(self.steps)
        self.probe = UsedIdxProbe(b.tb.checkers)
        b.tb.checkers.add(self.probe)
        self.svq = faulty_queue(x.net)
        self.done: float | None = None   # when the window was made: the flag set, used_event uncrossed
        b.wire.set_pause(None)
        b.wire.pause(True)
        self.svq.race_hook = self.hook

    async def hook(self) -> None:
        self.svq.race_hook = None        # once: the first stop of the queue
        cocotb.start_soon(self.after())
        n_used = len(self.probe.times)
        await release_one(self.b, frames=self.FRAMES)
        await with_timeout(self._until(lambda: len(self.probe.times) > n_used), 50, "us")
        await Timer(2, "us")             # the device's interrupt decision and the driver's handler are over

    async def after(self) -> None:
        """After the hook: wait for enable_cb's result and the re-check's disable_cb, then open the wire."""
        try:
            await with_timeout(self._until(lambda: bool(self.steps.enable_cb)), 100, "us")
            t_enable, ret = self.steps.enable_cb[-1]
            assert not ret, "enable_cb found nothing used after frames were sent: no re-check, no window"
            await with_timeout(self._until(lambda: any(t >= t_enable for t in self.steps.disable_cb)), 100, "us")
            self.done = self.b.p.now_ns()
        finally:
            self.b.wire.pause(False)

    async def _until(self, cond) -> None:
        clk = RisingEdge(self.b.tb.dut.user_clk)
        while not cond():
            await clk


@cocotb.test()
@cocotb.parametrize(fault=[cocotb.Param(f, name=f) for f in EVENT_IDX_FAULTS])
async def event_idx_fault_caught(dut, fault):
    """EVENT_IDX offered and negotiated: each EVENT_IDX checker reports the fault that breaks its rule, in the
    RTL (FAULT bits 12-14) or in the driver's ring, with its rule and cycle. ``event_idx_flags`` needs a window
    the traffic opens only by chance: ``FlagsWindow`` makes it."""
    checker, rtl_bits, driver_fault, variant = EVENT_IDX_FAULTS[fault]
    b = TxBench(dut, pause=[0, 1, 1])
    hub = b.tb.checkers
    assert hub is not None, "the checkers are off (TB_CHECKERS=0): this test needs them"
    hub.expect(checker)
    await b.start(DeviceModes(offer_event_idx=True, offer_indirect=False))
    flags = fault == "event_idx_flags"
    x = b.xmit(XmitScenario(packets=300, variant=variant, min_len=60, max_len=300, seed=5, timeout_ns=400_000),
               driver_faults=(driver_fault,) if driver_fault else (), race_seam=flags)
    await x.probe()
    assert hub.event_idx, "EVENT_IDX offered but not negotiated"
    window = FlagsWindow(b, x) if flags else None
    if rtl_bits:
        await set_fault(b.p, rtl_bits)
    try:
        await with_timeout(x.traffic(), 600, "us")
        await Timer(20, "us")
    except (TimeoutError, PlatformError, AssertionError) as exc:
        b.tb.log.info("traffic under fault %s ended early: %s", fault, exc)
    if window is not None:
        assert window.done is not None, "the window event_idx_flags needs was not made (see FlagsWindow)"
        b.tb.log.info("event_idx_flags: NO_INTERRUPT set over an uncrossed used_event at %.0f ns", window.done)
    hub.poll(b.p.now_ns())
    hub.finish()
    caught = hub.failed(checker)
    assert caught, (f"fault {fault}: checker {checker} reported nothing; other reports: "
                    f"{[(v.checker, v.msg) for v in hub.violations][:4]}")
    v = caught[0]
    b.tb.log.info("fault %s caught:\n%s", fault, v.report())
    assert v.cycle > 0 and v.rule, v.report()


@cocotb.test()
async def event_idx_flags_window(dut):
    """The control of event_idx_fault_caught/fault=event_idx_flags: the same window on the faithful device. The
    interrupt owed under NO_INTERRUPT comes (vring_interrupt before the next enable_cb), every frame is on the wire, and
    no checker reports."""
    b = TxBench(dut, pause=[0, 1, 1])
    hub = b.tb.checkers
    assert hub is not None, "the checkers are off (TB_CHECKERS=0): this test needs them"
    await b.start(DeviceModes(offer_event_idx=True, offer_indirect=False))
    x = b.xmit(XmitScenario(packets=300, variant="event-idx", min_len=60, max_len=300, seed=5, timeout_ns=400_000),
               race_seam=True)
    await x.probe()
    assert hub.event_idx, "EVENT_IDX offered but not negotiated"
    window = FlagsWindow(b, x)
    res = await with_timeout(x.traffic(b.wait_wire), 600, "us")
    b.wire.check(res.sent)
    assert window.done is not None, "the window was not made (see FlagsWindow)"
    # the owed interrupt comes while the flag is still set: before the next enable_cb clears it
    t_next = min((t for t, _ in window.steps.enable_cb if t > window.done), default=float("inf"))
    owed = [t for t in window.steps.interrupts if window.done < t < t_next]
    assert owed, f"no TX interrupt while NO_INTERRUPT was set over an uncrossed used_event ({window.done:.0f} ns on)"
    b.tb.log.info("window at %.0f ns; the owed interrupt at %.0f ns", window.done, owed[0])
    hub.finish()
    assert not hub.violations, [v.report() for v in hub.violations][:2]


class UsedIdxProbe(Checker):
    """Times the device's used.idx writes on the TX queue (the sweep's 'completion lands' moment)."""

    name = "race_probe"

    def __init__(self, hub):
        super().__init__(hub)
        self.times: list[float] = []

    def on_dev_write(self, t: float, addr: int, data: bytes, tlp: str) -> None:
        q = self.hub.tx_queue()
        if q is not None and q.part(addr)[0] == "used_idx":
            self.times.append(t)


async def sweep(dut, skip_recheck: bool) -> tuple[TxBench, XmitRun, dict[int, int], list[str]]:
    """Run the ring-full race at offsets -40..+40 cycles; return (bench, offset -> runs, lost-wake-up notes)."""
    b = TxBench(dut)
    hub = b.tb.checkers
    assert hub is not None, "the race sweep needs the checkers (TB_CHECKERS=0 is set)"
    if skip_recheck:
        hub.expect("lost_wakeup")
    probe = UsedIdxProbe(hub)
    hub.add(probe)
    clk = RisingEdge(dut.user_clk)
    await b.start(DeviceModes(offer_indirect=False))
    b.wire.pause(True)
    # each offset twice: with the release on one clock phase and one cycle later (the device's used.idx write
    # lands on a 2-cycle grid relative to the release, so one phase alone reaches every other offset only)
    targets = [(d, phase) for d in range(-40, 41) for phase in (0, 1)]
    scn = XmitScenario(packets=128 + len(targets) + 8, variant="post", min_len=60, max_len=60, seed=9,
                       timeout_ns=50_000_000)
    x = b.xmit(scn, driver_faults=("skip_enable_cb_recheck",) if skip_recheck else (), race_seam=True)
    await x.probe()
    svq = faulty_queue(x.net)
    state = {"k": -1, "latency": None}
    runs: list[tuple[float, float]] = []       # (release time, flag write time) per iteration

    async def race_hook() -> None:
        state["k"] += 1
        k = state["k"]
        if k > len(targets):
            b.wire.pause(False)      # the sweep is over: let the rest drain
            svq.race_hook = None
            return
        n_used = len(probe.times)
        t_hook = b.p.now_ns()
        if state["latency"] is None:
            cocotb.start_soon(release_one(b))
            # calibration: how long from releasing the wire to the device's used.idx write
            while len(probe.times) == n_used:
                await clk
            state["latency"] = round((probe.times[n_used] - t_hook) / CLOCK_NS)
            b.tb.log.info("race sweep: release -> used.idx write = %d cycles", state["latency"])
            await Timer(2, "us")
            return
        # the completion should land `offset` cycles after the flag write (negative: before it): release at
        # r cycles, flag write at r + latency - offset cycles (release after the flag write when needed)
        offset, phase = targets[k - 1]
        lat = state["latency"]
        r = phase + max(0, offset - lat)
        cocotb.start_soon(release_one(b, r))
        f = r + lat - offset
        if f > 0:
            await Timer(f * CLOCK_NS, "ns")
        runs.append((t_hook + r * CLOCK_NS, b.p.now_ns()))

    svq.race_hook = race_hook
    lost: list[str] = []
    task = cocotb.start_soon(x.traffic())
    t_end = b.p.now_ns() + 20_000_000
    while not task.done():
        await Timer(5, "us")
        if hub.failed("lost_wakeup"):        # the skip-recheck run: the queue is stuck for good
            await stop_task(task)
            lost.append(hub.failed("lost_wakeup")[0].msg)
            break
        if b.p.now_ns() > t_end:
            await stop_task(task)
            lost.append(f"no end after {(t_end - b.p.now_ns()) / 1000:.0f} us, iteration {state['k']}")
            break
    else:
        task.result()      # re-raise what ended the traffic, if anything
    # the offset each run achieved: first used.idx write after its release, minus its flag write
    offsets: dict[int, int] = {}
    for t_rel, t_flag in runs:
        w = next((t for t in probe.times if t >= t_rel), None)
        if w is not None:
            off = round((w - t_flag) / CLOCK_NS)
            offsets[off] = offsets.get(off, 0) + 1
    return b, x, offsets, lost


@cocotb.test()
async def race_sweep(dut):
    """Post-patch stop path vs a completion at every cycle from -40 to +40: never a lost wake-up."""
    b, x, offsets, lost = await sweep(dut, skip_recheck=False)
    b.tb.events.emit("tb", "race_offsets", sweep="tx", offsets=offsets)  # sim/cover_points.py
    assert not lost, f"the sweep did not finish: {lost[0]}"
    await b.wait_wire(len(x.sent))
    b.wire.check(x.sent)
    missing = [o for o in range(-32, 33) if o not in offsets]
    b.tb.log.info("race sweep offsets (cycles: runs): %s", dict(sorted(offsets.items())))
    assert not missing, f"offsets never reached: {missing} (reached {sorted(offsets)})"
    hub = b.tb.checkers
    assert hub is not None
    hub.finish()
    assert not hub.violations


@cocotb.test()
async def race_sweep_skip_recheck(dut):
    """The same sweep with enable_cb's re-check skipped: the lost-wake-up checker must fire."""
    b, _x, offsets, lost = await sweep(dut, skip_recheck=True)
    hub = b.tb.checkers
    assert hub is not None
    caught = hub.failed("lost_wakeup")
    assert caught, f"no lost wake-up reported (offsets run: {sorted(offsets)}; ended: {lost})"
    b.tb.log.info("skip-recheck sweep caught at offsets run so far %s:\n%s", sorted(offsets), caught[0].report())


# -- the enable_cb_delayed race (EVENT_IDX, 3.0's stop path) ---------------------------------------------------
class UsedIdxValues(Checker):
    """The device's used.idx writes on the TX queue: (time, value)."""

    name = "race_probe_values"

    def __init__(self, hub):
        super().__init__(hub)
        self.writes: list[tuple[float, int]] = []

    def on_dev_write(self, t: float, addr: int, data: bytes, tlp: str) -> None:
        q = self.hub.tx_queue()
        if q is not None and q.part(addr)[0] == "used_idx" and len(data) >= 2:
            self.writes.append((t, int.from_bytes(data[:2], "little")))


# make test: a few offsets around the used_event write; REGRESS: every cycle from -40 to +40. Each offset
# costs a ring's worth of packets (3/4 of 256 completions before the crossing one)
DELAYED_OFFSETS = list(range(-40, 41)) if REGRESS else [-24, -4, 0, 4, 24]
# the skip-recheck run: a crossing well before the used_event write (its decision read sees the old
# used_event; near the write the read may already see the new one and interrupt)
DELAYED_SKIP_OFFSETS = [-300, -100] if REGRESS else [-300]
# the release -> used.idx write latency is measured once, and some releases land a few cycles off it (with
# seed 12345 on the 256-bit device the plan never hit -26, -10, +6 and +22, one 16-cycle grid; shifting the
# release does not help, the used.idx write keeps its cycle): offsets of -32..32 the plan missed are aimed at
# again with the driver's used_event write moved by the miss the last aim at that offset measured, up to
# DELAYED_RETARGET rounds and DELAYED_SPARE extra stop paths in all
DELAYED_RETARGET = 4
DELAYED_SPARE = 12 if REGRESS else 0


async def delayed_sweep(dut, skip_recheck: bool,
                        targets: list[int]) -> tuple[TxBench, XmitRun, dict[int, int], list[str]]:
    """cb-delayed (3.0) with EVENT_IDX, the wire stalled: each time the full ring sends the stop path into
    enable_cb_delayed (used_event = last_used + 3/4 of the outstanding buffers, then the re-check of used.idx),
    the device is first brought to one completion short of that used_event, then the crossing completion's
    used.idx write is placed ``offset`` cycles from the driver's used_event write. Before the write the
    device's decision reads the old used_event (no interrupt) and only the re-check sees the crossing; after
    it the decision reads the new used_event and interrupts. Every offset must end with the queue running
    again (returns (bench, run, offset -> runs reached, lost-wake-up notes))."""
    b = TxBench(dut)
    hub = b.tb.checkers
    assert hub is not None, "the race sweep needs the checkers (TB_CHECKERS=0 is set)"
    if skip_recheck:
        hub.expect("lost_wakeup")
    probe = UsedIdxValues(hub)
    hub.add(probe)
    clk = RisingEdge(dut.user_clk)
    await b.start(DeviceModes(offer_event_idx=True, offer_indirect=False))
    b.wire.pause(True)
    # (offset, cycles the used_event write moves beyond the plan's aim): the plan, then the re-aims
    aims = [(o, 0) for o in targets]
    scn = XmitScenario(packets=256 * (len(targets) + 2 + DELAYED_SPARE), variant="cb-delayed", min_len=60,
                       max_len=60, seed=9, timeout_ns=200_000_000)
    x = b.xmit(scn, driver_faults=("skip_enable_cb_delayed_recheck",) if skip_recheck else (), race_seam=True)
    await x.probe()
    assert hub.event_idx, "EVENT_IDX offered but not negotiated"
    svq = faulty_queue(x.net)
    state: dict = {"k": -1, "latency": None, "armed": False, "rounds": 0}
    # (release time, used_event write time, crossing used index, the aim it was run for)
    runs: list[tuple[float, float, int, tuple[int, int]]] = []

    def achieved(t_rel: float, t_ev: float, crossing: int) -> int | None:
        """the run's offset: crossing used.idx write - used_event write, in cycles (None: no write seen)"""
        w = next((t for t, v in probe.writes if t >= t_rel and v == crossing), None)
        return None if w is None else round((w - t_ev) / CLOCK_NS)

    def reached() -> dict[int, int]:
        """offset -> runs that hit it"""
        out: dict[int, int] = {}
        for t_rel, t_ev, crossing, _aim in runs:
            off = achieved(t_rel, t_ev, crossing)
            if off is not None:
                out[off] = out.get(off, 0) + 1
        return out

    def aim_again() -> None:
        """After the plan: the offsets of -32..32 it wanted and missed, once more with the next phase."""
        if skip_recheck or state["rounds"] >= DELAYED_RETARGET:
            return
        hit = reached()
        missing = [o for o in targets if abs(o) <= 32 and o not in hit]
        spare = len(targets) + DELAYED_SPARE - len(aims)
        if not missing or spare <= 0:
            return
        state["rounds"] += 1
        again = []
        for o in missing[:spare]:
            last = [run for run in runs if run[3][0] == o]
            got = achieved(*last[-1][:3]) if last else None
            adj = last[-1][3][1] if last else 0
            # the write lands (got - o) cycles too early or late: move the used_event write by as much
            adj += (got - o) if got is not None and got != o else (1 if state["rounds"] % 2 else -1)
            again.append((o, adj))
        b.tb.log.info("delayed race sweep: aiming again (round %d) at (offset, moved by): %s", state["rounds"], again)
        aims.extend(again)

    def device_used() -> int:
        return probe.writes[-1][1] if probe.writes else 0

    async def hook(at: str) -> None:
        if at == "enter":
            if x.net.queue.stopped and state["k"] >= len(aims):
                aim_again()
            state["armed"] = x.net.queue.stopped and state["k"] < len(aims)
            if not state["armed"]:
                if state["k"] >= len(aims):
                    b.wire.pause(False)     # the sweep is over: let the rest drain
                    svq.delayed_race_hook = None
                return
            state["k"] += 1
            # one completion short of the used_event this call will write
            outstanding = (svq._avail_idx - svq.last_used_idx) & 0xFFFF
            crossing = (svq.last_used_idx + outstanding * 3 // 4 + 1) & 0xFFFF
            state["crossing"] = crossing
            # the device holds the frames the wire has not taken; they complete in order, one per frame
            while (crossing - 1 - device_used()) & 0xFFFF and (crossing - 1 - device_used()) & 0xFFFF < 0x8000:
                await release_one(b)
                t_end = b.p.now_ns() + 20_000
                n_w = len(probe.writes)
                while len(probe.writes) == n_w and b.p.now_ns() < t_end:
                    await clk
            return
        if at != "before_used_event" or not state["armed"]:
            return
        state["armed"] = False
        k = state["k"]
        n_used = len(probe.writes)
        t_hook = b.p.now_ns()
        if state["latency"] is None:
            # calibration (the first stop path): release -> used.idx write, then the used_event write after it
            cocotb.start_soon(release_one(b))
            while len(probe.writes) == n_used:
                await clk
            state["latency"] = round((probe.writes[n_used][0] - t_hook) / CLOCK_NS)
            b.tb.log.info("delayed race sweep: release -> used.idx write = %d cycles", state["latency"])
            return
        offset, adj = aims[k - 1]
        lat = state["latency"]
        r = max(0, offset - lat)
        f = r + lat - offset + adj
        if f < 0:  # the used_event write cannot come before the hook: release later instead
            r, f = r - f, 0
        cocotb.start_soon(release_one(b, r))
        if f > 0:
            await Timer(f * CLOCK_NS, "ns")
        runs.append((t_hook + r * CLOCK_NS, b.p.now_ns(), state["crossing"], aims[k - 1]))

    svq.delayed_race_hook = hook
    lost: list[str] = []
    task = cocotb.start_soon(x.traffic())
    t_end = b.p.now_ns() + 60_000_000
    while not task.done():
        await Timer(5, "us")
        if hub.failed("lost_wakeup"):
            await stop_task(task)
            lost.append(hub.failed("lost_wakeup")[0].msg)
            break
        if b.p.now_ns() > t_end:
            await stop_task(task)
            lost.append(f"no end after 60 ms, iteration {state['k']}")
            break
    else:
        task.result()
    return b, x, reached(), lost


@cocotb.test()
async def delayed_race_sweep(dut):
    """cb-delayed's stop path vs the completion that crosses its used_event, at cycle offsets around the
    used_event write: never a lost wake-up, every checker passing."""
    b, x, offsets, lost = await delayed_sweep(dut, skip_recheck=False, targets=DELAYED_OFFSETS)
    b.tb.events.emit("tb", "race_offsets", sweep="tx_delayed", offsets=offsets)  # sim/cover_points.py
    assert not lost, f"the sweep did not finish: {lost[0]}"
    await b.wait_wire(len(x.sent))
    b.wire.check(x.sent)
    b.tb.log.info("delayed race sweep offsets (cycles: runs): %s", dict(sorted(offsets.items())))
    want = [o for o in DELAYED_OFFSETS if abs(o) <= 32]
    missing = [o for o in want if o not in offsets]
    assert not missing, f"offsets never reached: {missing} (reached {sorted(offsets)})"
    hub = b.tb.checkers
    assert hub is not None
    hub.finish()
    assert not hub.violations


@cocotb.test()
async def delayed_race_sweep_skip_recheck(dut):
    """The same sweep with enable_cb_delayed's re-check skipped: a crossing before the used_event write is
    lost (the device read the old used_event, the driver does not look), and lost_wakeup must say so."""
    b, _x, offsets, lost = await delayed_sweep(dut, skip_recheck=True, targets=DELAYED_SKIP_OFFSETS)
    hub = b.tb.checkers
    assert hub is not None
    caught = hub.failed("lost_wakeup")
    assert caught, f"no lost wake-up reported (offsets run: {sorted(offsets)}; ended: {lost})"
    b.tb.log.info("skip-recheck delayed sweep caught at offsets run so far %s:\n%s", sorted(offsets),
                  caught[0].report())


# -- pytest entry ----------------------------------------------------------------------------------------
# make test: Verilator runs every checker's fault and the race sweep; REGRESS adds all of them on Icarus (the
# race sweep gives the same result on both simulators, cycle for cycle)
SUITE = suite.Suite("tests.sim.test_checkers", "virtio_net_usp", icarus_variants=[])


@pytest.mark.sim
@pytest.mark.parametrize("case", SUITE.cases(globals()), ids=str)
def test_checkers(case, sim_run):
    sim_run(case)
