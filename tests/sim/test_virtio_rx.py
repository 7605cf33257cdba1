"""The RX queue end to end: frames from the wire (or, in loopback, from the driver's own transmit) through our
RTL into the Linux 2.6.31 receive path (try_fill_recv, skb_recv_done, virtnet_poll, receive_skb).

Every test runs every checker (tb/checkers: the RX rules are rx_delivery, rx_used_len, rx_lost_wakeup and the
device-writable buffer targets of dma_write_target) and compares what the driver handed to the stack with
what went in, byte for byte, in order; the device's RX counters account for every frame not delivered.

- ``rx_from_wire``: mixed sizes 60..1514 through a 256-entry ring several times (ring wrap), with and without
  VIRTIO_NET_F_MRG_RXBUF (small buffers: header and packet in two descriptors; mergeable: one page each);
- ``loopback``: the driver's transmit comes back through the device's loopback mode (the bring-up row on our
  RTL), at 60 B, 1514 B and mixed; the occupancy of the RX path is logged (a figure, not an assertion);
- ``no_buffers``: a guest too slow to refill: the device drops what finds no buffer and counts it;
- ``bad_frames``: frames above 1518 or below 14 bytes and frames the MAC marks bad: dropped, counted, the
  good ones around them delivered;
- ``reset_mid_traffic``: the driver is removed while frames stream in; a new probe receives again.
"""

from __future__ import annotations

import os
import random

import cocotb
import pytest
from cocotb.triggers import RisingEdge, Timer
from cocotb.utils import get_sim_time

from sim import suite
from tb.checkers.base import CLOCK_NS, Checker
from tb.device.dev_ctrl import (FAULT_DROP_IRQ, FAULT_IGNORE_NO_INTERRUPT, FAULT_RX_DROP_SILENT,
                                FAULT_RX_USED_LEN_PLUS1, FAULT_RX_WRITE_PAST_BUFFER, DeviceModes, set_fault)
from tb.faults.driver import FaultyVirtQueue
from tb.driver.virtio_net import GuestTiming
from tb.scenarios.xmit import XmitScenario
from tb.simulation.rxbench import RxBench

REGRESS = os.environ.get("REGRESS", "0") not in ("", "0")
ETH_TYPE = 0x88B6  # IEEE local experimental 2
DROPS = ("rx_drop_nobuf", "rx_drop_chain", "rx_drop_oversize", "rx_drop_runt", "rx_drop_bad", "rx_drop_overrun",
         "rx_drop_stopped", "rx_drop_loopback")


def frames(rng: random.Random, n: int, lo: int = 60, hi: int = 1514, tag: int = 0) -> list[bytes]:
    """Ethernet frames: broadcast, a sequence number after the EtherType, random payload."""
    out = []
    for k in range(n):
        length = rng.randint(lo, hi)
        head = b"\xff" * 6 + bytes([2, 0, 0, 0, tag, 1]) + ETH_TYPE.to_bytes(2, "big") + k.to_bytes(4, "big")
        out.append((head + rng.randbytes(max(0, length - len(head))))[:length])
    return out


async def probed(b: RxBench, modes: DeviceModes, timing: GuestTiming | None = None, **scn):
    await b.start(modes)
    x = b.xmit(XmitScenario(**{"packets": 0, "variant": "post", "seed": 3, **scn}), timing)
    await x.probe()
    # DRIVER_OK is a posted write: a read of the status register returns after the device has it (a frame that
    # starts before that is dropped as "queue not running", correctly, and the tests want every frame)
    await b.p.bar_read(0, 0x12, 1)
    return x


def drops(counters: dict[str, int]) -> int:
    return sum(counters[k] for k in DROPS)


@cocotb.test()
@cocotb.parametrize(mrg=[cocotb.Param(False, "small"), cocotb.Param(True, "mergeable")])
async def rx_from_wire(dut, mrg):
    """Mixed sizes through the ring several times, back to back on the wire: every frame, in order."""
    b = RxBench(dut, gap_cycles=3)
    x = await probed(b, DeviceModes(offer_mrg_rxbuf=mrg))
    n = 600 if REGRESS else 300
    sent = frames(b.tb.rng("rx_from_wire"), n)
    b.send(sent)
    await b.wait_received(x.net, n)
    got = x.net.rx_frames
    assert got == sent, f"received {len(got)} frames; first difference at {next(k for k, (a, c) in enumerate(zip(got, sent)) if a != c)}"
    c = await b.finish()
    assert c["rx_frames"] == n and drops(c) == 0, c
    b.tb.log.info("rx_from_wire (%s): %d frames, %d RX interrupts, counters %s",
                  "mergeable" if mrg else "small", n, c["rx_irq_normal"] + c["rx_irq_noe"], c)


@cocotb.test()
@cocotb.parametrize(size=[cocotb.Param(1514, "1514"), cocotb.Param(60, "60"), cocotb.Param(0, "mixed")],
                    push=[cocotb.Param("per_packet", "per_packet"), cocotb.Param("batched", "batched")])
async def loopback(dut, size, push):
    """The driver's transmit comes back through the device (MODE loopback): every frame received byte-exact,
    with each used-ring push policy (both queues push the same way)."""
    await _loopback(dut, size, push, msix=True)


@cocotb.test()
async def loopback_intx(dut):
    """Loopback without MSI-X: RX and TX interrupts share INTx and the ISR's queue bit."""
    await _loopback(dut, 0, "per_packet", msix=False)


async def _loopback(dut, size: int, push: str, msix: bool) -> None:
    b = RxBench(dut)
    n = 200 if size == 60 else 120
    lo, hi = (size, size) if size else (60, 1514)
    x = await probed(b, DeviceModes(loopback=True, push=push), packets=n, min_len=lo, max_len=hi, use_msix=msix)
    await b.ctrl.clear_counters()
    t0 = get_sim_time("ns")
    res = await x.traffic(lambda k: b.wait_received(x.net, k))
    t1 = get_sim_time("ns")
    assert x.net.rx_frames == res.sent, "loopback frames differ from what the driver sent"
    c = await b.finish()
    assert c["rx_frames"] == n and drops(c) == 0, c
    # occupancy of the RX path: frame bytes over the time the device took (64-bit stream at 250 MHz)
    beats = sum(-(-len(f) // 8) for f in res.sent)
    b.tb.log.info("loopback %s %s %s: %d frames in %.1f us, RX stream busy %.1f %% of the cycles, %.2f Gb/s",
                  size or "mixed", push, "MSI-X" if msix else "INTx", n, (t1 - t0) / 1000,
                  100 * beats * 4.0 / (t1 - t0), 8 * sum(map(len, res.sent)) / (t1 - t0))


@cocotb.test()
async def no_buffers(dut):
    """A guest that refills slowly: frames that find no buffer are dropped and counted, the rest arrive in
    order (a subsequence of what was sent)."""
    b = RxBench(dut)
    x = await probed(b, DeviceModes(), GuestTiming(recv_ns=3000.0))
    n = 400
    sent = frames(b.tb.rng("no_buffers"), n, 60, 200)
    b.send(sent)
    await b.src.wait_idle(5_000_000)
    # the guest works through what it got (3 us per frame): done when 50 us pass without a frame, at most 2 ms
    seen = -1
    for _ in range(40):
        if len(x.net.rx_frames) == seen:
            break
        seen = len(x.net.rx_frames)
        await Timer(50, "us")
    else:
        raise AssertionError(f"the guest was still receiving 2 ms after the last frame ({seen} so far)")
    got = x.net.rx_frames
    it = iter(sent)
    assert all(any(g == s for s in it) for g in got), "received frames are not in the order sent"
    c = await b.finish()
    assert c["rx_drop_nobuf"] > 0 and c["rx_frames"] == len(got) and drops(c) == n - len(got), c
    b.tb.log.info("no_buffers: %d of %d received, %d dropped without a buffer", len(got), n, c["rx_drop_nobuf"])


@cocotb.test()
async def bad_frames(dut):
    """Oversize, runt and MAC-bad frames are dropped and counted; the good frames around them are delivered."""
    b = RxBench(dut, gap_cycles=2)
    x = await probed(b, DeviceModes())
    rng = b.tb.rng("bad_frames")
    good = frames(rng, 60, 60, 1514)
    out, bad, want = [], [], []
    for k, f in enumerate(good):
        out.append(f), bad.append(False), want.append(f)
        kind = k % 4
        if kind == 1:
            out.append(f + bytes(1519 - len(f)) if len(f) < 1519 else f + b"\0"), bad.append(False)  # above 1518
        elif kind == 2:
            out.append(f[:13]), bad.append(False)  # below 14
        elif kind == 3:
            out.append(f), bad.append(True)  # tuser: the MAC says bad
    b.send(out, bad)
    await b.wait_received(x.net, len(want))
    await b.src.wait_idle(100_000)
    assert x.net.rx_frames == want
    c = await b.finish()
    assert (c["rx_drop_oversize"], c["rx_drop_runt"], c["rx_drop_bad"]) == (15, 15, 15), c


@cocotb.test()
async def reset_mid_traffic(dut):
    """The driver is removed (device reset) while frames stream in; a new probe receives again."""
    b = RxBench(dut)
    x = await probed(b, DeviceModes())
    rng = b.tb.rng("reset_mid_traffic")
    first = frames(rng, 200, 1000, 1514, tag=1)
    b.send(first)
    await b.wait_received(x.net, 20)
    await x.net.remove()
    await b.src.wait_idle(2_000_000)
    got = list(x.net.rx_frames)
    assert got == first[: len(got)], "frames before the reset are a prefix of what was sent"
    x2 = b.xmit(XmitScenario(packets=0, variant="post", seed=4))
    await x2.probe()
    await b.p.bar_read(0, 0x12, 1)  # DRIVER_OK has reached the device
    second = frames(rng, 50, 60, 1514, tag=2)
    b.send(second)
    await b.wait_received(x2.net, 50)
    assert x2.net.rx_frames == second
    c = await b.finish()
    # every frame is accounted for: delivered (the driver may have been removed before taking the last ones it
    # was given), or dropped: as "stopped" once the queue was reset, or held in the device when the reset cut
    # it (counted as stopped too)
    assert c["rx_frames"] >= len(got) + 50 and c["rx_frames"] + drops(c) == len(first) + 50, c
    b.tb.log.info("reset_mid_traffic: %d of %d received before the reset; counters %s", len(got), len(first), c)


# -- every RX checker shown to fire ---------------------------------------------------------------------
# fault -> (the checker that must report it, RTL FAULT bits, driver fault on the RX queue)
RX_FAULTS = {
    "rx_write_past_buffer": ("dma_write_target", FAULT_RX_WRITE_PAST_BUFFER, None),
    "rx_used_len_plus1": ("rx_used_len", FAULT_RX_USED_LEN_PLUS1, None),
    "rx_drop_silent": ("rx_delivery", FAULT_RX_DROP_SILENT, None),
    "rx_no_write_flag": ("rx_chains_writable", 0, "rx_no_write_flag"),
    "rx_ignore_no_interrupt": ("irq_legality", FAULT_IGNORE_NO_INTERRUPT, None),  # an RX interrupt not owed
    "rx_drop_irq": ("irq_legality", FAULT_DROP_IRQ, None),  # an RX interrupt owed and never sent
}


@cocotb.test()
@cocotb.parametrize(fault=[cocotb.Param(f, name=f) for f in RX_FAULTS])
async def rx_fault_caught(dut, fault):
    """Turn one RX fault on (an RTL knob, or the driver's), receive, and see its checker report it."""
    checker, rtl_bits, driver_fault = RX_FAULTS[fault]
    b = RxBench(dut, gap_cycles=3)
    hub = b.tb.checkers
    assert hub is not None, "the checkers are off (TB_CHECKERS=0): this test needs them"
    hub.expect(checker)
    await b.start(DeviceModes())
    # the test-only driver (race_seam: its queues carry the fault sets), faithful until a fault is set
    x = b.xmit(XmitScenario(packets=0, variant="post", seed=3), race_seam=True)
    await x.probe()
    await b.p.bar_read(0, 0x12, 1)
    if rtl_bits:
        await set_fault(b.p, rtl_bits)
    if driver_fault:
        # the ring was filled at probe; the refill after half of it came back publishes the faulty buffers
        rvq = x.net.rvq
        assert isinstance(rvq, FaultyVirtQueue)
        rvq.faults.add(driver_fault)
    n = 160
    b.send(frames(b.tb.rng("rx_fault_caught"), n, 60, 600))
    # until the checker fired, or the wire is drained and nothing more arrives for 20 us
    t_end, last, quiet = b.p.now_ns() + 2_000_000, -1, 0
    while not hub.failed(checker) and b.p.now_ns() < t_end and quiet < 10:
        await Timer(2, "us")
        quiet = quiet + 1 if (len(x.net.rx_frames), len(b.src.queue)) == (last, 0) else 0
        last = len(x.net.rx_frames)
    await Timer(5, "us")
    c = await b.finish()
    b.tb.log.info("rx_fault_caught %s: RX counters %s", fault, {k: v for k, v in c.items() if v})
    caught = hub.failed(checker)
    assert caught, f"{checker} did not report fault {fault} ({len(x.net.rx_frames)} of {n} frames received)"
    if checker == "irq_legality":  # the RX queue's interrupt, not the TX queue's
        assert "RX" in caught[0].msg.split(" interrupt")[0] or caught[0].msg.startswith("no RX"), caught[0].msg
    b.tb.log.info("fault %s caught:\n%s", fault, caught[0].report())


# -- the NAPI re-check race -----------------------------------------------------------------------------
RETARGET = 3  # rounds of aiming again at offsets the planned sweep missed
class RxUsedIdxProbe(Checker):
    """Times the device's used.idx writes on the RX queue (the sweep's 'packet published' moment)."""

    name = "rx_race_probe"

    def __init__(self, hub):
        super().__init__(hub)
        self.times: list[float] = []

    def on_dev_write(self, t: float, addr: int, data: bytes, tlp: str) -> None:
        q = self.hub.rx_queue()
        if q is not None and q.part(addr)[0] == "used_idx":
            self.times.append(t)


async def rx_sweep(dut, skip_recheck: bool):
    """virtnet_poll's napi_complete -> enable_cb window vs a packet published at every cycle offset from -40 to
    +40 around enable_cb's avail.flags write. Returns (bench, driver run, offset -> runs, lost-wake-up notes).

    The seam is the RX queue's ``race_hook`` (the test-only driver, tb/faults/driver.py), awaited right before
    enable_cb's flags write: it puts one 60-byte frame on the wire and holds the flags write back so that the
    device's used.idx write for that frame lands ``offset`` cycles after it (negative: before it, when the
    device still reads NO_INTERRUPT and only the driver's re-check of used.idx can find the packet). The aim
    uses the latency measured once; on the 64-bit device it varies with the frame's phase (the odd offsets
    before enable_cb are hit by one phase in three), so offsets of -32..32 left unhit are aimed at again, up
    to RETARGET rounds."""
    b = RxBench(dut)
    hub = b.tb.checkers
    assert hub is not None, "the race sweep needs the checkers (TB_CHECKERS=0 is set)"
    if skip_recheck:
        hub.expect("rx_lost_wakeup")
    probe = RxUsedIdxProbe(hub)
    hub.add(probe)
    await b.start(DeviceModes())
    x = b.xmit(XmitScenario(packets=0, variant="post", seed=3), race_seam=True)
    await x.probe()
    await b.p.bar_read(0, 0x12, 1)
    if skip_recheck:
        x.net.rx_faults.add("skip_napi_recheck")  # type: ignore[attr-defined]
    rvq = x.net.rvq
    assert isinstance(rvq, FaultyVirtQueue)
    rng = b.tb.rng("rx_race_sweep")
    targets = [(d, phase) for d in range(-40, 41) for phase in (0, 1)]
    state = {"k": -1, "latency": None, "sent": 0, "rounds": 0}
    runs: list[tuple[float, float]] = []  # (frame put on the wire, flags write) per iteration

    def reached() -> dict[int, int]:
        """offset (used.idx write - flags write, cycles) -> runs that hit it"""
        out: dict[int, int] = {}
        for t_frame, t_flag in runs:
            w = next((t for t in probe.times if t >= t_frame), None)
            if w is not None:
                off = round((w - t_flag) / CLOCK_NS)
                out[off] = out.get(off, 0) + 1
        return out

    async def one_frame(delay_cycles: int) -> None:
        if delay_cycles:
            await Timer(delay_cycles * CLOCK_NS, "ns")
        b.send(frames(rng, 1, 60, 60, tag=state["sent"] & 0xFF))
        state["sent"] += 1

    async def race_hook() -> None:
        state["k"] += 1
        k = state["k"]
        if k > len(targets):
            # the latency from the wire to used.idx varies by a few cycles (at 64 bits the DMA writes queue
            # behind frame data): aim again at the offsets of -32..32 no run has hit, up to RETARGET rounds
            hit = reached()
            missing = [o for o in range(-32, 33) if o not in hit]
            if not missing or state["rounds"] >= RETARGET:
                rvq.race_hook = None  # the sweep is over
                return
            state["rounds"] += 1
            b.tb.log.info("RX race sweep: aiming again (round %d) at %s", state["rounds"], missing)
            targets.extend((d, phase) for d in missing for phase in (0, 1))
        n_used = len(probe.times)
        t_hook = b.p.now_ns()
        if state["latency"] is None:
            # calibration: from a frame put on the wire to the device's used.idx write for it
            cocotb.start_soon(one_frame(0))
            while len(probe.times) == n_used:
                await RisingEdge(dut.user_clk)
            state["latency"] = round((probe.times[n_used] - t_hook) / CLOCK_NS)
            b.tb.log.info("RX race sweep: frame on the wire -> used.idx write = %d cycles", state["latency"])
            await Timer(2, "us")
            return
        offset, phase = targets[k - 1]
        lat = state["latency"]
        r = phase + max(0, offset - lat)
        cocotb.start_soon(one_frame(r))
        f = r + lat - offset
        if f > 0:
            await Timer(f * CLOCK_NS, "ns")
        runs.append((t_hook + r * CLOCK_NS, b.p.now_ns()))

    rvq.race_hook = race_hook
    # the first poll after open has run already: one frame starts the chain of polls (each one's enable_cb
    # runs the hook, which sends the next frame)
    b.send(frames(rng, 1, 60, 60, tag=0xEE))
    lost: list[str] = []
    t_end = b.p.now_ns() + 20_000_000
    while rvq.race_hook is not None or b.src.queue:
        await Timer(5, "us")
        if hub.failed("rx_lost_wakeup"):
            lost.append(hub.failed("rx_lost_wakeup")[0].msg)
            break
        if b.p.now_ns() > t_end:
            lost.append(f"no end after 20 ms, iteration {state['k']}")
            break
    return b, x, reached(), lost


@cocotb.test()
async def rx_race_sweep(dut):
    """NAPI's re-check vs a packet published at every cycle from -40 to +40 around enable_cb: none is lost."""
    b, x, offsets, lost = await rx_sweep(dut, skip_recheck=False)
    b.tb.events.emit("tb", "race_offsets", sweep="rx", offsets=offsets)  # sim/cover_points.py
    assert not lost, f"the sweep did not finish: {lost[0]}"
    sent = [f.data for f in b.src.taken]
    await b.wait_received(x.net, len(sent))
    assert x.net.rx_frames == sent
    missing = [o for o in range(-32, 33) if o not in offsets]
    b.tb.log.info("RX race sweep offsets (cycles: runs): %s", dict(sorted(offsets.items())))
    assert not missing, f"offsets never reached: {missing} (reached {sorted(offsets)})"
    c = await b.finish()
    assert c["rx_frames"] == len(sent) and drops(c) == 0, c
    hub = b.tb.checkers
    assert hub is not None and not hub.violations


@cocotb.test()
async def rx_race_sweep_skip_recheck(dut):
    """The same sweep with virtnet_poll's re-check skipped: the RX lost-wake-up checker must fire."""
    b, _x, offsets, lost = await rx_sweep(dut, skip_recheck=True)
    hub = b.tb.checkers
    assert hub is not None
    caught = hub.failed("rx_lost_wakeup")
    assert caught, f"no lost wake-up reported (offsets run: {sorted(offsets)}; ended: {lost})"
    b.tb.log.info("skip-recheck sweep caught at offsets run so far %s:\n%s", sorted(offsets), caught[0].report())


# -- pytest entry ----------------------------------------------------------------------------------------
# Icarus (the 4-state reference) in make test: TX and RX end to end through the loopback with INTx (the RX
# path's blocks run on Icarus in their block tests; the race sweep runs on Icarus in test_checkers);
# everything under REGRESS, where the RX race sweep runs on both simulators, and every test also on the
# 64-bit device (a PCIe x2 hard block: the DMA writes lag the wire, the completions queue behind frame data)
SUITE = suite.Suite("tests.sim.test_virtio_rx", "virtio_net_usp",
                    variants=suite.widths(256, 64) if REGRESS else suite.widths(256),
                    verilator=r"^(?!.*loopback/size=(60/push=per_packet|1514/push=batched|mixed/push=batched)$)",
                    icarus=r"loopback_intx$")


@pytest.mark.sim
@pytest.mark.parametrize("case", SUITE.cases(globals()), ids=str)
def test_virtio_rx(case, sim_run):
    sim_run(case)
