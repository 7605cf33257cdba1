"""The 2.6.31 receive path (tb/driver/virtio_net_rx.py) against the model device's RX queue, in virtual time.

Buffer posting as that kernel chose by features (small, big, mergeable), frames delivered byte-exact and in
order (injected from the wire, and through the model's loopback from the transmit variants), a frame over
several mergeable buffers, the short-packet and buffers-missing drops, the refill at half a ring, and the
NAPI re-check race: a frame used between napi_complete and enable_cb is received by the faithful driver and
left in the ring by the driver that skips the re-check.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tb.device.dev_ctrl import DeviceModes
from tb.driver.trace import EventLog
from tb.driver.virtio_net import VirtioNet, virtio_net
from tb.driver.virtio_net_h import MAX_PACKET_LEN, MAX_SKB_FRAGS, PAGE_SIZE
from tb.driver.virtio_ring import VRING_DESC_F_NEXT, VRING_DESC_F_WRITE
from tb.faults.driver import faulty_driver, faulty_rx_queue, rx_faults
from tb.platform.model import STATUS_NEEDS_RESET, ModelPlatform, ModelRx, ModelTiming, run_virtual
from tb.scenarios.xmit import XmitRun, XmitScenario

FAST = ModelTiming(latency_ns=50)
SLOW = ModelTiming(latency_ns=500)  # slower than the guest's receive_skb: the ring never runs dry


def frame(rng: random.Random, n: int, seq: int) -> bytes:
    """A frame of ``n`` bytes whose first bytes carry ``seq`` (so an order mix-up shows)."""
    head = b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + b"\x88\xb5" + seq.to_bytes(4, "big")
    return (head + rng.randbytes(max(0, n - len(head))))[:n]


Body = Callable[[ModelPlatform, VirtioNet, EventLog], Awaitable[Any]]


def run(body: Body, modes: DeviceModes | None = None, rx: ModelRx | None = None, device: ModelTiming = FAST,
        faulty: bool = False, open_dev: bool = True) -> Any:
    async def main():
        p = ModelPlatform(modes or DeviceModes(), device, rx=rx)
        p.start()
        trace = EventLog(p)
        net = faulty_driver(p, "post", tracer=trace) if faulty else virtio_net(p, "post", tracer=trace)
        await net.probe(p.start_task)
        if open_dev:
            await net.open()
        return await body(p, net, trace)

    return run_virtual(main())


async def wait_for(cond: Callable[[], bool], what: str, timeout_ns: float = 2e7) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_ns
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(1000)


def chains_posted(trace: EventLog) -> list[list[tuple[int, int, int]]]:
    """Every chain published on queue 0, as (addr, len, flags) per buffer, from the driver's events."""
    chains: list[list[tuple[int, int, int]]] = []
    direct: list[tuple[int, int, int]] = []
    for e in trace.events:
        f = e.fields
        if f.get("vq") != 0:
            continue
        if e.kind == "indirect_table_write":
            chains.append([(a, n, fl) for a, n, fl, _ in f["descs"]])
        elif e.kind == "desc_write" and not f["flags"] & 4:
            direct.append((f["addr"], f["len"], f["flags"]))
            if not f["flags"] & VRING_DESC_F_NEXT:
                chains.append(direct)
                direct = []
    return chains


async def inject_and_receive(p: ModelPlatform, net: VirtioNet, frames: list[bytes]) -> None:
    for f in frames:
        p.device.wire_rx(f)
    await wait_for(lambda: len(net.rx_frames) >= len(frames), f"{len(frames)} frames received")


# -- posting by features ------------------------------------------------------------------------------------
@pytest.mark.parametrize("indirect", [True, False])
def test_small_buffers_posted_and_frames_received(indirect: bool) -> None:
    rng = random.Random(1)
    frames = [frame(rng, rng.randint(14, MAX_PACKET_LEN), k) for k in range(300)]

    async def body(p, net, trace):
        chains = chains_posted(trace)
        posted = (net.num, net.max, net.big_packets, net.mergeable_rx_bufs)
        await inject_and_receive(p, net, frames)
        return posted, chains

    (num, mx, big, mrg), chains = run(body, DeviceModes(offer_indirect=indirect), device=SLOW)
    expect = 256 if indirect else 128  # 2 descriptors per buffer without indirect
    assert (num, mx, big, mrg) == (expect, expect, False, False)
    assert len(chains) >= expect
    for c in chains[:expect]:
        assert [(n, fl & VRING_DESC_F_WRITE) for _, n, fl in c] == [(10, 2), (MAX_PACKET_LEN, 2)], c


def test_small_frames_byte_exact_in_order_with_stats() -> None:
    rng = random.Random(2)
    frames = [frame(rng, rng.randint(14, MAX_PACKET_LEN), k) for k in range(700)]

    async def body(p, net, trace):
        await inject_and_receive(p, net, frames)
        return list(net.rx_frames), net.rx_stats, p.device.c

    got, stats, c = run(body, device=SLOW)
    assert got == frames
    assert (stats.rx_packets, stats.rx_bytes) == (len(frames), sum(map(len, frames)))
    assert c.rx_frames == len(frames) and not any(c.rx_drops.values()), c.rx_drops
    assert stats.fills > 1, "the ring was never refilled"


@pytest.mark.parametrize("indirect", [True, False])
def test_big_packets_posted_when_guest_tso_acked(indirect: bool) -> None:
    rng = random.Random(3)
    frames = [frame(rng, rng.randint(14, MAX_PACKET_LEN), k) for k in range(40)]

    async def body(p, net, trace):
        chains = chains_posted(trace)
        posted = (net.num, net.big_packets)
        await inject_and_receive(p, net, frames)
        # a frame below MAX_PACKET_LEN leaves the pages to vi->pages (trim_pages), and the refill reuses them
        return posted, chains, list(net.rx_frames), net.page_alloc.in_use

    (num, big), chains, got, pages = run(body, DeviceModes(offer_indirect=indirect), rx=ModelRx(guest_tso4=True),
                                         device=SLOW)
    assert big
    assert num == (256 if indirect else 256 // (2 + MAX_SKB_FRAGS))
    lens = [n for _, n, _ in chains[0]]
    assert lens == [10, MAX_PACKET_LEN] + [PAGE_SIZE] * MAX_SKB_FRAGS
    assert all(fl & VRING_DESC_F_WRITE for c in chains for _, _, fl in c)
    assert got == frames
    assert pages <= (num + 1) * MAX_SKB_FRAGS


def test_mergeable_one_page_per_buffer_and_frames_received() -> None:
    rng = random.Random(4)
    frames = [frame(rng, rng.randint(14, 1514), k) for k in range(400)]

    async def body(p, net, trace):
        chains = chains_posted(trace)
        num = net.num
        await inject_and_receive(p, net, frames)
        return num, chains, list(net.rx_frames), p.device.c.rx_used

    num, chains, got, used = run(body, rx=ModelRx(mrg_rxbuf=True), device=SLOW)
    assert num == 256
    assert all(c == [(c[0][0], PAGE_SIZE, VRING_DESC_F_WRITE)] for c in chains), chains[:2]
    assert got == frames
    assert [n for _, n in used] == [12 + len(f) for f in frames]


def test_frame_spanning_several_mergeable_buffers() -> None:
    rng = random.Random(5)
    jumbo = frame(rng, 9000, 0)
    after = frame(rng, 100, 1)

    async def body(p, net, trace):
        num0 = net.num
        await inject_and_receive(p, net, [jumbo, after])
        return num0, list(net.rx_frames), p.device.c.rx_used, net.rx_stats

    num0, got, used, stats = run(body, rx=ModelRx(mrg_rxbuf=True, max_frame=9018))
    assert got == [jumbo, after]
    assert [n for _, n in used] == [PAGE_SIZE, PAGE_SIZE, 12 + 9000 - 2 * PAGE_SIZE, 112]
    assert stats.rx_bytes == 9100 and stats.rx_length_errors == 0


# -- loopback: the transmit variants' frames come back -----------------------------------------------------
@pytest.mark.parametrize("variant", ["post", "pre"])
def test_loopback_tx_variants_byte_exact_in_order(variant: str) -> None:
    async def main():
        p = ModelPlatform(DeviceModes(), ModelTiming(latency_ns=300), rx=ModelRx(loopback=True))
        p.start()
        x = XmitRun(p, XmitScenario(packets=400, variant=variant, min_len=14, max_len=1514), p.start_task)
        await x.probe()

        async def all_back(n: int) -> None:
            await wait_for(lambda: len(x.net.rx_frames) >= n, "loopback frames")

        res = await x.traffic(all_back)
        return res.sent, list(x.net.rx_frames), p.device.c

    sent, got, c = run_virtual(main())
    assert len(sent) == 400
    assert got == sent
    assert c.wire == sent and not any(c.rx_drops.values()), c.rx_drops


# -- length checks --------------------------------------------------------------------------------------------
def test_short_packet_counted_and_dropped() -> None:
    rng = random.Random(6)
    good = frame(rng, 60, 1)

    async def body(p, net, trace):
        p.device.wire_rx(b"\x01\x02\x03\x04\x05")  # 10 + 5 bytes written: below sizeof(hdr) + ETH_HLEN
        await inject_and_receive(p, net, [good])
        return list(net.rx_frames), net.rx_stats, [e.fields["reason"] for e in trace.of_kind("rx_drop")]

    got, stats, reasons = run(body, rx=ModelRx(min_frame=0))
    assert got == [good]
    assert (stats.rx_length_errors, stats.rx_packets) == (1, 1)
    assert reasons == ["short_packet"]


def test_frame_longer_than_chain_comes_back_empty_and_driver_counts_it() -> None:
    rng = random.Random(7)
    long, good = frame(rng, 1600, 0), frame(rng, 64, 1)

    async def body(p, net, trace):
        p.device.wire_rx(long)
        await inject_and_receive(p, net, [good])
        return list(net.rx_frames), net.rx_stats, p.device.c

    got, stats, c = run(body, rx=ModelRx(max_frame=2000))
    assert got == [good]
    assert c.rx_drops["too_long"] == 1 and c.rx_used[0][1] == 0
    assert stats.rx_length_errors == 1  # used.len 0: a short packet to the driver


def test_buffers_missing_when_the_device_publishes_chain_by_chain() -> None:
    """num_buffers says 3 but only the first chain is published when the driver polls: 2.6.31 drops the frame
    ("buffers missing") and then reads the next chains as frames of their own (they fail the same way)."""
    rng = random.Random(8)
    head = frame(rng, 14, 0)
    jumbo = head + bytes(9000 - len(head))  # zeros: a later chain read as a header has num_buffers 0
    good = frame(rng, 64, 1)

    async def body(p, net, trace):
        p.device.wire_rx(jumbo)
        await wait_for(lambda: p.device.c.rx_frames == 1, "the jumbo frame written")
        await asyncio.sleep(50_000)
        await inject_and_receive(p, net, [good])
        return list(net.rx_frames), net.rx_stats, [e.fields["reason"] for e in trace.of_kind("rx_drop")]

    got, stats, reasons = run(body, rx=ModelRx(mrg_rxbuf=True, max_frame=9018, mrg_publish_gap_ns=20_000))
    assert got == [good]
    assert reasons == ["buffers_missing"] * 3
    assert stats.rx_length_errors == 3


# -- refill and drops -----------------------------------------------------------------------------------------
def test_refill_keeps_the_ring_above_half() -> None:
    rng = random.Random(9)
    frames = [frame(rng, rng.randint(60, 1514), k) for k in range(1500)]

    async def body(p, net, trace):
        at_poll_end: list[int] = []
        trace.listeners.append(lambda e: at_poll_end.append(net.num) if e.kind == "napi_poll_ret" else None)
        await inject_and_receive(p, net, frames)
        return list(net.rx_frames), at_poll_end, net.max, net.rx_stats.fills, p.device.c.rx_drops

    got, at_end, mx, fills, drops = run(body, device=SLOW)
    assert got == frames and not any(drops.values()), drops
    assert mx == 256 and fills > 5
    assert min(at_end) >= mx // 2, f"the ring fell to {min(at_end)} of {mx} at the end of a poll"


def test_device_faster_than_the_guest_drops_are_counted_and_the_rest_in_order() -> None:
    rng = random.Random(10)
    frames = [frame(rng, 60, k) for k in range(1200)]

    async def body(p, net, trace):
        for f in frames:
            p.device.wire_rx(f)
        await wait_for(lambda: p.device.rx_pending == 0, "the wire drained")
        await asyncio.sleep(200_000)
        return list(net.rx_frames), p.device.c

    got, c = run(body, device=ModelTiming(latency_ns=20))
    assert c.rx_drops["no_buffer"] > 0
    assert len(got) + c.rx_drops["no_buffer"] == len(frames)
    it = iter(frames)
    assert all(g in it for g in got), "received frames are not an in-order subsequence of the wire"


def test_frames_before_open_wait_for_the_poll_virtnet_open_schedules() -> None:
    rng = random.Random(11)
    frames = [frame(rng, 80, k) for k in range(5)]

    async def body(p, net, trace):
        for f in frames:
            p.device.wire_rx(f)
        await asyncio.sleep(100_000)
        before = len(net.rx_frames)
        await net.open()
        await wait_for(lambda: len(net.rx_frames) == len(frames), "frames after open")
        return before, list(net.rx_frames)

    before, got = run(body, open_dev=False)
    assert before == 0, "NAPI polled before napi_enable"
    assert got == frames


# -- the NAPI re-check ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("skip", [False, True])
def test_napi_recheck_race(skip: bool) -> None:
    """Frame 2 is written while virtnet_poll is between napi_complete and enable_cb (NO_INTERRUPT still set:
    its interrupt is suppressed). The faithful driver sees it in enable_cb's re-check and polls again; the
    driver that skips the re-check leaves it in the ring until the next frame's interrupt."""
    rng = random.Random(12)
    f1, f2, f3 = (frame(rng, 100, k) for k in range(3))

    async def body(p, net, trace):
        if skip:
            rx_faults(net).add("skip_napi_recheck")
        rvq = faulty_rx_queue(net)
        fired = []

        async def in_the_window() -> None:
            if len(net.rx_frames) == 1 and not fired:
                fired.append(p.now_ns())
                p.device.wire_rx(f2)
                await wait_for(lambda: p.device.c.rx_frames == 2, "frame 2 written")

        rvq.race_hook = in_the_window
        await inject_and_receive(p, net, [f1])
        await asyncio.sleep(1_000_000)
        stranded = list(net.rx_frames)
        suppressed = p.device.c.rx_irq_suppressed
        again = len(trace.of_kind("virtnet_poll_again"))
        p.device.wire_rx(f3)
        await wait_for(lambda: len(net.rx_frames) == 3, "frame 3")
        return fired, stranded, suppressed, again, list(net.rx_frames)

    fired, after_1ms, suppressed, again, final = run(body, faulty=True)
    assert fired, "the window was never reached"
    assert suppressed >= 1, "frame 2's interrupt was not suppressed: the window was not NO_INTERRUPT"
    if skip:
        assert after_1ms == [f1], "the skipped re-check still received frame 2"
        assert again == 0
    else:
        assert after_1ms == [f1, f2]
        assert again == 1
    assert final == [f1, f2, f3]


# -- the RX write-flag fault, and remove ---------------------------------------------------------------------
def test_rx_buffer_without_write_flag_puts_the_device_in_needs_reset() -> None:
    rng = random.Random(13)
    frames = [frame(rng, 60, k) for k in range(300)]

    async def body(p, net, trace):
        faulty_rx_queue(net).faults.add("rx_no_write_flag")  # the refills after this post readable chains
        for f in frames:
            p.device.wire_rx(f)
        await wait_for(lambda: p.device.rx_pending == 0, "the wire drained")
        await asyncio.sleep(100_000)
        return list(net.rx_frames), p.device.c, p.device.status, net.vdev.irq.config, chains_posted(trace)

    got, c, status, config_irqs, chains = run(body, faulty=True, device=SLOW)
    assert any(not fl & VRING_DESC_F_WRITE for ch in chains for _, _, fl in ch)
    assert status & STATUS_NEEDS_RESET and c.errors == 1 and config_irqs == 1
    assert c.rx_drops["device_error"] == len(frames) - len(got)
    assert got == frames[: len(got)] and 128 <= len(got) < len(frames)


def test_remove_frees_every_receive_buffer() -> None:
    rng = random.Random(14)

    async def body(p, net, trace):
        await inject_and_receive(p, net, [frame(rng, 1000, k) for k in range(50)])
        await net.remove()
        return net.num, net.recv, net.page_alloc.in_use, net.skb_slab.in_use

    for rx in (ModelRx(), ModelRx(mrg_rxbuf=True), ModelRx(guest_tso4=True)):
        assert run(body, rx=rx, device=SLOW) == (0, [], 0, 0), rx
