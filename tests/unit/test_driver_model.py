"""The driver model against the pure-Python reference device, in virtual time (no simulator).

These check the transmit variants' behaviour (reference virtio-xmit.md §10) on the model platform; the
simulation tests check the same on the RTL.
"""

from __future__ import annotations

import asyncio
import signal

import pytest

from tb.driver.virtio_net import GuestTiming
from tb.device.dev_ctrl import DeviceModes, NoePolicy
from tb.platform.base import PlatformError
from tb.platform.model import ModelPlatform, ModelTiming, run_virtual
from tb.scenarios.xmit import XmitResult, XmitRun, XmitScenario


FAST_DEVICE = ModelTiming(latency_ns=50)
SLOW_DEVICE = ModelTiming(latency_ns=100, stall_until_ns=500_000)    # stalled: the ring fills


def run(scn: XmitScenario, modes: DeviceModes, timing: GuestTiming | None = None,
        device: ModelTiming = FAST_DEVICE) -> tuple[XmitResult, ModelPlatform]:
    async def main():
        p = ModelPlatform(modes, device)
        p.start()
        x = XmitRun(p, scn, p.start_task, timing)
        await x.probe()

        async def wire_done(n: int) -> None:
            while len(p.device.c.wire) < n:
                await asyncio.sleep(1000)

        res = await x.traffic(wire_done)
        p.device.stop()
        return res, p

    return run_virtual(main())


FAST = DeviceModes()


@pytest.mark.parametrize("variant", ["post", "pre", "pre-a", "post-cap"])
def test_frames_on_the_wire_in_order(variant):
    res, p = run(XmitScenario(packets=600, variant=variant), FAST)
    assert res.tx_dropped == 0
    assert p.device.c.wire == res.sent, "wire != frames the driver accepted"


def test_a1_feature_ack():
    res, _ = run(XmitScenario(packets=4, variant="post"), FAST)
    assert not res.driver.vdev.features >> 24 & 1, "post-patch acked NOTIFY_ON_EMPTY"
    res, _ = run(XmitScenario(packets=4, variant="pre"), FAST)
    assert res.driver.vdev.features >> 24 & 1, "pre-patch did not ack NOTIFY_ON_EMPTY"
    res, _ = run(XmitScenario(packets=4, variant="pre"), DeviceModes(offer_noe=False))
    assert not res.driver.vdev.features >> 24 & 1


def test_a2_fast_host_pre_one_irq_per_packet_post_none():
    # the sender spends 2 us per frame: the device empties the ring before the next one arrives
    pre, _ = run(XmitScenario(packets=500, variant="pre", gap_ns=2000), FAST)
    post, _ = run(XmitScenario(packets=500, variant="post", gap_ns=2000), FAST)
    assert pre.irq_per_pkt > 0.9, pre.summary()
    assert post.tx_irqs_delivered <= 2, post.summary()
    assert post.reclaim.keys() <= {"start_xmit"}
    # A4: with NOTIFY_ON_EMPTY the pre-patch driver reclaims in the tasklet after each interrupt
    assert pre.reclaim.get("tasklet", 0) > 0.9 * 500, pre.summary()


def test_a3_always_policy_post_still_interrupted_but_no_reclaim_in_irq():
    post, _ = run(XmitScenario(packets=500, variant="post"), DeviceModes(noe_policy=NoePolicy.ALWAYS))
    assert post.irq_per_pkt > 0.9, post.summary()
    assert set(post.reclaim) == {"start_xmit"}, post.summary()


def test_a5_idle_tail_timer_reclaims_pre_but_not_post():
    timing = GuestTiming(timer_period_ns=100_000)
    modes = DeviceModes(offer_noe=False)
    pre, _ = run(XmitScenario(packets=50, variant="pre", idle_tail_ns=300_000), modes, timing)
    assert pre.reclaim.get("timer", 0) >= 1, pre.summary()
    assert not pre.driver.send, "pre-patch timer left buffers in the ring"
    post, _ = run(XmitScenario(packets=50, variant="post", idle_tail_ns=300_000), modes, timing)
    assert post.driver.send, "post-patch reclaimed the tail while idle"
    assert "timer" not in post.reclaim


def test_a9_ring_full_busy_then_resubmitted():
    # a device slower than the guest: the 256-entry ring fills with 128 two-descriptor packets
    slow = DeviceModes(noe_policy=NoePolicy.WHEN_ACKED, offer_indirect=False)
    res, p = run(XmitScenario(packets=400, variant="post"), slow, device=SLOW_DEVICE)
    assert res.tx_busy >= 1, res.summary()
    assert res.tx_dropped == 0
    assert p.device.c.wire == res.sent
    busy = sorted((s for s in res.driver.freed + res.driver.send if s.busy_count), key=lambda s: s.seq)
    assert busy, "no skb was refused"
    assert busy[0].seq == 128, f"first refused skb is #{busy[0].seq}, expected #128 (the 129th)"


def test_a9_indirect_ring_holds_256():
    slow = DeviceModes()
    res, p = run(XmitScenario(packets=400, variant="post"), slow, device=SLOW_DEVICE)
    busy = sorted((s for s in res.driver.freed + res.driver.send if s.busy_count), key=lambda s: s.seq)
    assert busy and busy[0].seq == 256, [s.seq for s in busy][:4]
    assert p.device.c.wire == res.sent


def test_a12_post_cap_stops_early_without_busy():
    slow = DeviceModes(offer_indirect=False)
    res, p = run(XmitScenario(packets=400, variant="post-cap"), slow, device=SLOW_DEVICE)
    assert res.tx_busy == 0, res.summary()
    assert res.stops >= 1
    assert p.device.c.wire == res.sent
    # the queue stops right after the packet that leaves num_free < 2 + MAX_SKB_FRAGS (the 119th in flight)
    first_stop = next(t for t, what in res.driver.queue.events if what == "stop")
    in_flight = [s for s in res.driver.freed + res.driver.send if s.queued_ns is not None and s.queued_ns <= first_stop]
    assert len(in_flight) == 119, len(in_flight)


def test_no_start_xmit_after_remove_begins():
    """virtnet_remove on an open device with skbs still in the qdisc (reset_mid_traffic): dev_close deactivates
    the qdisc before ndo_stop, so no start_xmit runs after remove begins (the model's qdisc used to go on
    sending through close and past the reset, and get_buf then returned buffers remove had freed)."""
    async def main():
        p = ModelPlatform(FAST, SLOW_DEVICE)     # the device stalls: the ring fills, the qdisc holds the rest
        p.start()
        events: list[tuple[str, dict]] = []

        class Log:
            def event(self, kind: str, **fields) -> None:
                events.append((kind, fields))

        x = XmitRun(p, XmitScenario(packets=400, variant="post"), p.start_task, tracer=Log())
        await x.probe()
        traffic = asyncio.ensure_future(x.traffic())
        await asyncio.sleep(40_000)
        traffic.cancel()
        queued = len(x.net.queue.qdisc)
        await x.net.remove()
        await asyncio.sleep(50_000)
        p.device.stop()
        return queued, events

    queued, events = run_virtual(main())
    assert queued > 0, "the qdisc was empty when remove began: the test shows nothing"
    kinds = [k for k, _ in events]
    # remove's reset: the last STATUS = 0 (the probe's is the first)
    reset = max(i for i, (k, f) in enumerate(events) if k == "bar_write" and f["off"] == 18 and f["value"] == 0)
    assert "start_xmit" not in kinds[reset:], "start_xmit after the device reset"
    assert "dev_deactivate" in kinds, "dev_close did not deactivate the qdisc"
    # at most the one start_xmit already under way finishes after dev_deactivate (it waits for it)
    assert kinds[kinds.index("dev_deactivate"):].count("start_xmit") <= 1, "start_xmit begun after dev_deactivate"


def test_a_sender_still_running_at_remove_ends_with_an_error_not_a_hang():
    """The traffic generator is not stopped before remove: once dev_close has deactivated the qdisc, its
    blocking send fails at once (the noop qdisc drops; without the check it spun in zero time)."""
    async def main():
        p = ModelPlatform(FAST, SLOW_DEVICE)
        p.start()
        x = XmitRun(p, XmitScenario(packets=2000, variant="post"), p.start_task)
        await x.probe()
        traffic = asyncio.ensure_future(x.traffic())
        await asyncio.sleep(40_000)
        await x.net.remove()
        try:
            await asyncio.wait_for(traffic, 1_000_000)
        except PlatformError as exc:
            return str(exc)
        finally:
            p.device.stop()
        return "no error"

    def hung(*_):
        raise TimeoutError("the sender spun in zero virtual time after remove (30 s of wall time)")

    previous = signal.signal(signal.SIGALRM, hung)   # a spin in zero virtual time never times out by itself
    signal.alarm(30)
    try:
        outcome = run_virtual(main())
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert "the interface was closed" in outcome
