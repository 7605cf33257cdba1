"""EVENT_IDX end to end on the model device, in virtual time: every transmit variant with every checker
(tb/checkers, fed by tb/checkers/model_feed.py), and each EVENT_IDX checker proven by the fault it exists
for, on the model device (faults ``event_idx_ignored``, ``event_idx_exact``, ``avail_event_stale``) and in the
driver (``kick_always``, ``kick_never``, ``skip_enable_cb_delayed_recheck``); the enable_cb_delayed race
sweep through the ``delayed_race_hook`` seam; the lineage table (tb/scenarios/lineage.py).

``make unit`` runs a subset (REGRESS=1, as ``make regress`` sets it, runs everything): the fast device's
every-variant run is tests/unit/test_modern_transport.py's (every variant on each of its transports, EVENT_IDX
offered, every checker), the race sweep takes one variant per (point, crossing) pair, alternating, and the
lineage check 128 packets instead of 256.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from tb.checkers import CheckerSet
from tb.checkers.model_feed import model_checkers, start_polling
from tb.device.dev_ctrl import DeviceModes
from tb.driver.trace import EventLog
from tb.driver.virtio_net import EVENT_IDX_VARIANTS, VARIANTS, GuestTiming, VirtioNet, virtio_net
from tb.faults.driver import DELAYED_RACE_POINTS, FaultyVirtQueue, faulty_driver, faulty_queue
from tb.platform.base import PlatformTimeout
from tb.platform.model import ModelPlatform, ModelTiming, run_virtual
from tb.scenarios.lineage import lineage, run_variant
from tb.scenarios.xmit import XmitResult, XmitRun, XmitScenario

FAST = ModelTiming(latency_ns=50)
STALLED = ModelTiming(latency_ns=100, stall_until_ns=300_000)   # the ring fills, then drains at full speed
OLD_VARIANTS = [v for v in VARIANTS if v not in EVENT_IDX_VARIANTS]
REGRESS = os.environ.get("REGRESS", "0") not in ("", "0")


@dataclass
class Run:
    res: XmitResult | None
    p: ModelPlatform
    hub: CheckerSet
    trace: EventLog
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def fired(self, name: str) -> list[str]:
        return [v.msg for v in self.hub.violations if v.checker == name]

    def checkers_fired(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for v in self.hub.violations:
            out.setdefault(v.checker, v.msg)
        return out


def run(variant: str, scn: XmitScenario | None = None, device: ModelTiming = FAST, event_idx: bool = True,
        modes: DeviceModes | None = None, device_faults: tuple[str, ...] = (), driver_faults: tuple[str, ...] = (),
        setup: Callable[[ModelPlatform, VirtioNet], Awaitable[None]] | None = None,
        timing: GuestTiming | None = None, tail_ns: float = 50_000) -> Run:
    """One transmit run with every checker collecting; a hang (PlatformTimeout) is recorded, not raised.
    Runs end within 20 ms of virtual time (a hung run costs seconds of polling, not minutes)."""
    scn = scn or XmitScenario(packets=256, variant=variant)
    scn = replace(scn, timeout_ns=min(scn.timeout_ns, 20e6))

    async def main() -> Run:
        p = ModelPlatform(modes or DeviceModes(), device, event_idx=event_idx, faults=set(device_faults))
        hub = model_checkers(p, collect=True)
        p.start()
        start_polling(p, hub)
        trace = EventLog(p)
        trace.listeners.append(hub.driver_event)
        faulty = bool(driver_faults) or setup is not None
        net = faulty_driver(p, variant, timing=timing, tracer=trace) if faulty else None
        x = XmitRun(p, scn, p.start_task, timing, tracer=trace, checkers=hub, driver=net)
        await x.probe()
        if driver_faults:
            faulty_queue(x.net).faults.update(driver_faults)
        if setup is not None:
            await setup(p, x.net)

        async def wire_done(n: int) -> None:
            deadline = p.now_ns() + scn.timeout_ns
            while len(p.device.c.wire) < n:
                if p.now_ns() > deadline:
                    raise PlatformTimeout(f"the wire carried {len(p.device.c.wire)} of {n} frames")
                await asyncio.sleep(1000)

        out = Run(None, p, hub, trace)
        try:
            out.res = await x.traffic(wire_done)
        except PlatformTimeout as exc:
            out.error = str(exc)
        await asyncio.sleep(tail_ns)
        hub.finish()
        p.device.stop()
        return out

    return run_virtual(main())


def clean(r: Run) -> None:
    assert not r.error, r.error
    assert r.res is not None and r.p.device.c.wire == r.res.sent, "wire != frames the driver accepted"
    assert not r.hub.violations, r.checkers_fired()


# -- every variant, every checker ---------------------------------------------------------------------------
@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("device", ["fast", "stalled"] if REGRESS else ["stalled"])
def test_every_variant_passes_every_checker_with_event_idx(variant: str, device: str) -> None:
    scn = XmitScenario(packets=256 if device == "fast" else 400, variant=variant)
    r = run(variant, scn, FAST if device == "fast" else STALLED)
    clean(r)
    acked = bool(r.res.driver.vdev.features >> 29 & 1)      # type: ignore[union-attr]
    assert acked == (variant in EVENT_IDX_VARIANTS), "EVENT_IDX acked by a 2009 driver, or not by a later one"


@pytest.mark.parametrize("variant", ["napi-tx", "debian-6.1"])
def test_xmit_more_lists_kick_once_per_list(variant: str) -> None:
    """xmit_more lists of 8 on the fast device: one kick decision per list, so at most one kick per 8 packets."""
    r = run(variant, XmitScenario(packets=256, variant=variant, xmit_more_burst=8))
    clean(r)
    assert r.res is not None and r.res.kicks <= 256 // 8, r.res.summary()
    decisions = [e for e in r.trace.of_kind("kick_prepare") if e.fields["vq"] == 1]
    assert len(decisions) == 256 // 8


@pytest.mark.parametrize("variant", ["event-idx", "debian-6.1"])
def test_batched_pushes_counted_by_crossing(variant: str) -> None:
    """The device pushes 8 used elements per used.idx write: interrupts follow the crossings inside a batch."""
    r = run(variant, XmitScenario(packets=400, variant=variant), STALLED, modes=DeviceModes(push="batched"))
    clean(r)


def test_old_variants_unchanged_by_the_offer() -> None:
    """The 2009 drivers never ack EVENT_IDX: their counts are the same whether the device offers it or not."""
    for variant in OLD_VARIANTS:
        off, on = run_variant(variant, False), run_variant(variant, True)
        assert not on.event_idx_acked
        assert (off.tx_irqs, off.kicks, off.forced_kicks, off.reclaim) == (on.tx_irqs, on.kicks, on.forced_kicks,
                                                                           on.reclaim), variant


# -- event_idx_irq -----------------------------------------------------------------------------------------
def test_flags_are_not_demanded_once_event_idx_is_negotiated() -> None:
    """debian-6.1 with EVENT_IDX never writes avail.flags (it stays 0): the flag rule would demand an
    interrupt after every used.idx write. The device follows used_event and interrupts far less; neither
    checker complains."""
    r = run("debian-6.1", XmitScenario(packets=256, variant="debian-6.1", xmit_more_burst=8))
    clean(r)
    assert not [e for e in r.trace.of_kind("avail_flags_write") if e.fields["vq"] == 1]
    c = r.p.device.c
    assert c.irq_event_suppressed > c.irq_event, c     # decisions with flags 0 that raised nothing


def test_event_idx_ignored_fires_event_idx_irq_not_irq_legality() -> None:
    """The device interrupts after every push as if used_event were always crossed. avail.flags stays 0 with
    debian-6.1, so the flag rule would call every interrupt justified: event_idx_irq must not."""
    r = run("debian-6.1", XmitScenario(packets=256, variant="debian-6.1", xmit_more_burst=8, timeout_ns=3e6),
            device_faults=("event_idx_ignored",))
    msgs = r.fired("event_idx_irq")
    assert msgs and "not justified" in msgs[0] and "not crossed" in msgs[0], r.checkers_fired()
    assert not r.fired("irq_legality")
    # and the same run without the fault is clean (the checker fires on the fault, not on the traffic)
    clean(run("debian-6.1", XmitScenario(packets=256, variant="debian-6.1", xmit_more_burst=8)))


def test_event_idx_exact_misses_a_crossing_inside_a_batch() -> None:
    """A device that interrupts only when the new used.idx is exactly used_event + 1 misses a used_event
    crossed inside a batched push: event_idx_irq reports the interrupt owed."""
    r = run("cb-delayed", XmitScenario(packets=400, variant="cb-delayed", timeout_ns=3e6), STALLED,
            modes=DeviceModes(push="batched"), device_faults=("event_idx_exact",))
    msgs = r.fired("event_idx_irq")
    assert msgs and "no TX interrupt within" in msgs[0] and "crossed" in msgs[0], r.checkers_fired()


# -- event_idx_kick ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["event-idx", "debian-6.1"])
def test_kick_always_fires_event_idx_kick(variant: str) -> None:
    r = run(variant, XmitScenario(packets=200, variant=variant, xmit_more_burst=4, timeout_ns=3e6), STALLED,
            driver_faults=("kick_always",))
    msgs = r.fired("event_idx_kick")
    assert msgs and "not asked for" in msgs[0], r.checkers_fired()


@pytest.mark.parametrize("variant", ["event-idx", "debian-6.1"])
def test_kick_never_fires_event_idx_kick(variant: str) -> None:
    """The driver reads avail_event and never notifies: the device sends nothing; the checker names the kick
    owed at the first decision."""
    r = run(variant, XmitScenario(packets=64, variant=variant, timeout_ns=2e6), driver_faults=("kick_never",))
    msgs = r.fired("event_idx_kick")
    assert msgs and "no notify followed" in msgs[0], r.checkers_fired()
    assert r.p.device.c.frames == 0


# -- avail_event_idle --------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["event-idx", "debian-6.1"])
def test_avail_event_stale_is_the_hang(variant: str) -> None:
    """The device never writes avail_event: after its first run it idles with avail_event 0, the driver's
    decisions never cross it again, the rest of the frames never leave. avail_event_idle names it."""
    r = run(variant, XmitScenario(packets=64, variant=variant, gap_ns=5000, timeout_ns=2e6),
            device_faults=("avail_event_stale",))
    assert r.error, "the run should hang"
    msgs = r.fired("avail_event_idle")
    assert msgs and "avail_event is 0" in msgs[0], r.checkers_fired()
    assert not r.fired("event_idx_kick"), "the driver followed its rule: the fault is the device's"
    assert r.p.device.c.frames < 64


# -- the enable_cb_delayed race sweep ----------------------------------------------------------------------
def sweep_run(variant: str, point: str, crossing: bool, fault: bool = False) -> Run:
    """The device sends the first frame (its interrupt turns the callback off: the used_event in memory is
    then behind the device), then the wire is paused until the ring fills and the stop path calls
    enable_cb_delayed; at ``point`` of that call the device completes either enough buffers to cross the
    used_event the call is about to write (bufs + 1) or one; 100 us after the call returns the wire opens
    for good."""
    fired: dict[str, Any] = {}

    async def setup(p: ModelPlatform, net: VirtioNet) -> None:
        vq = faulty_queue(net)
        if fault:
            vq.faults.add("skip_enable_cb_delayed_recheck")

        async def pause_after_first() -> None:
            while p.device.used_idx < 1:
                await asyncio.sleep(10)
            p.device.pause_wire(True)

        p.start_task(pause_after_first())

        async def release(n: int) -> None:
            target = (p.device.used_idx + n) & 0xFFFF
            p.device.pause_wire(False)
            while p.device.used_idx != target:
                await asyncio.sleep(10)
            p.device.pause_wire(True)

        async def reopen_later() -> None:
            await asyncio.sleep(100_000)
            p.device.pause_wire(False)

        async def hook(at: str) -> None:
            if fired.get("done"):
                return
            if at == "enter" and "armed" not in fired:
                if not net.queue.stopped:
                    return  # not the stop path (NAPI's start_xmit re-arms the callback too)
                fired["armed"] = True
            if "armed" not in fired:
                return
            if at == point and "released" not in fired:
                outstanding = (vq._avail_idx - vq.last_used_idx) & 0xFFFF
                n = outstanding * 3 // 4 + 1 if crossing else 1
                fired.update(released=n, outstanding=outstanding)
                await release(n)
            if at == "exit":
                fired["done"] = True
                p.start_task(reopen_later())

        assert isinstance(vq, FaultyVirtQueue)
        vq.delayed_race_hook = hook

    r = run(variant, XmitScenario(packets=400, variant=variant, timeout_ns=5e6), setup=setup)
    r.extra = fired
    return r


SWEEP = [
    (variant, point, crossing)
    for k, point in enumerate(DELAYED_RACE_POINTS)
    for j, crossing in enumerate((True, False))
    for i, variant in enumerate(("cb-delayed", "debian-6.1"))
    if REGRESS or (i + j + k) % 2 == 0
]


@pytest.mark.parametrize("variant,point,crossing", SWEEP)
def test_enable_cb_delayed_race_sweep(variant: str, point: str, crossing: bool) -> None:
    """Completions land before, between and after the used_event write: never a lost wake-up."""
    r = sweep_run(variant, point, crossing)
    assert r.extra.get("done") and r.extra.get("released"), "the stop path's enable_cb_delayed was never reached"
    clean(r)


def test_skipping_the_delayed_recheck_loses_the_wakeup() -> None:
    """The same race with the re-check skipped (cb-delayed: 3.0's stop path): the crossing happened before
    used_event was written, the device will not interrupt for it again, the queue stays stopped
    (lost_wakeup). (Debian 6.1 arms the delayed callback twice in that start_xmit, at its start and in the
    stop path: the first arm already covers the window, so the fault does not hang it; the sweep above holds
    it to no lost wake-up at every point.)"""
    variant = "cb-delayed"
    r = sweep_run(variant, "before_used_event", crossing=True, fault=True)
    assert r.extra.get("released")
    assert r.error, "the run should hang"
    assert r.fired("lost_wakeup"), r.checkers_fired()
    # the seam's other points with the fault: the crossing lands after used_event is written, the device's
    # decision sees it and interrupts, nothing is lost
    clean(sweep_run(variant, "after_used_event", crossing=True, fault=True))


# -- the lineage table --------------------------------------------------------------------------------------
def test_lineage_on_the_fast_device() -> None:
    """Every variant, EVENT_IDX off and on, 256 packets (128 in make unit): all delivered; the counts have the
    lineage's shape."""
    n = 256 if REGRESS else 128
    rows = {(r.variant, r.event_idx_offered): r for r in lineage(n)}
    assert all(r.wire_ok and r.packets == n for r in rows.values())
    # pre-patch: an interrupt per packet (NOTIFY_ON_EMPTY); b0c39dbd and its successors without NAPI: ~0
    assert rows[("pre", True)].irq_per_pkt > 0.9
    for v in ("post", "post-cap", "event-idx", "cb-delayed"):
        assert rows[(v, True)].tx_irqs <= 2, rows[(v, True)]
    # transmit NAPI re-arms the callback on every kick: the fast device interrupts about once per packet
    for v in ("napi-tx", "debian-6.1"):
        assert rows[(v, True)].irq_per_pkt > 0.9, rows[(v, True)]
    # one skb per start_xmit and a device that is idle before each: every kick is needed, EVENT_IDX or not
    for r in rows.values():
        assert r.kicks + r.forced_kicks == r.device_notifies


def test_the_variant_lists_agree() -> None:
    """The A/B matrix (sim/, which never imports tb) lists the variants by name: the same as the driver's."""
    from sim import ab_matrix

    assert set(ab_matrix.ALL_VARIANTS) == set(VARIANTS)
    assert set(ab_matrix.VARIANTS) <= set(VARIANTS)
