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
from cocotb.triggers import Timer
from cocotb.utils import get_sim_time

from sim import suite
from tb.device.dev_ctrl import (FAULT_RX_DROP_SILENT, FAULT_RX_USED_LEN_PLUS1, FAULT_RX_WRITE_PAST_BUFFER, DeviceModes,
                                set_fault)
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
@cocotb.parametrize(size=[cocotb.Param(1514, "1514"), cocotb.Param(60, "60"), cocotb.Param(0, "mixed")])
async def loopback(dut, size):
    """The driver's transmit comes back through the device (MODE loopback): every frame received byte-exact."""
    b = RxBench(dut)
    n = 200 if size == 60 else 120
    lo, hi = (size, size) if size else (60, 1514)
    x = await probed(b, DeviceModes(loopback=True), packets=n, min_len=lo, max_len=hi)
    await b.ctrl.clear_counters()
    t0 = get_sim_time("ns")
    res = await x.traffic(lambda k: b.wait_received(x.net, k))
    t1 = get_sim_time("ns")
    assert x.net.rx_frames == res.sent, "loopback frames differ from what the driver sent"
    c = await b.finish()
    assert c["rx_frames"] == n and drops(c) == 0, c
    # occupancy of the RX path: frame bytes over the time the device took (64-bit stream at 250 MHz)
    beats = sum(-(-len(f) // 8) for f in res.sent)
    b.tb.log.info("loopback %s: %d frames in %.1f us, RX stream busy %.1f %% of the cycles, %.2f Gb/s", size or "mixed",
                  n, (t1 - t0) / 1000, 100 * beats * 4.0 / (t1 - t0), 8 * sum(map(len, res.sent)) / (t1 - t0))


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
    await Timer(2, "ms")  # the guest works through what it got
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
    second = frames(rng, 50, 60, 1514, tag=2)
    b.send(second)
    await b.wait_received(x2.net, 50)
    assert x2.net.rx_frames == second
    c = await b.finish()
    b.tb.log.info("reset_mid_traffic: %d of %d received before the reset; counters %s", len(got), len(first), c)


# -- every RX checker shown to fire ---------------------------------------------------------------------
# fault -> (the checker that must report it, RTL FAULT bits, driver fault on the RX queue)
RX_FAULTS = {
    "rx_write_past_buffer": ("dma_write_target", FAULT_RX_WRITE_PAST_BUFFER, None),
    "rx_used_len_plus1": ("rx_used_len", FAULT_RX_USED_LEN_PLUS1, None),
    "rx_drop_silent": ("rx_delivery", FAULT_RX_DROP_SILENT, None),
    "rx_no_write_flag": ("rx_chains_writable", 0, "rx_no_write_flag"),
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
    await b.finish()
    caught = hub.failed(checker)
    assert caught, f"{checker} did not report fault {fault} ({len(x.net.rx_frames)} of {n} frames received)"
    b.tb.log.info("fault %s caught:\n%s", fault, caught[0].report())


# -- pytest entry ----------------------------------------------------------------------------------------
# Icarus (the 4-state reference): one test per feature in make test, everything under REGRESS
SUITE = suite.Suite("tests.sim.test_virtio_rx", "virtio_net_usp", icarus=r"rx_from_wire/mrg=small$|bad_frames$")


@pytest.mark.sim
@pytest.mark.parametrize("case", SUITE.cases(globals()), ids=str)
def test_virtio_rx(case, sim_run):
    sim_run(case)
