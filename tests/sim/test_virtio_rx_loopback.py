"""The RX queue in the whole device: loopback (BAR2 MODE bit 20) through virtio_net_usp and the PCIe model.

The Linux driver model transmits as in the TX system tests; its receive queue (queue 0, set up by its probe)
gets receive buffers posted here through the driver's own virtqueue (``add_buf`` with device-writable
buffers in Linux 2.6.31's small-buffer layout: a 10-byte header, then 1518 bytes; refilled as they come
back, as ``try_fill_recv`` would), and the frames come back through the device: every frame received
byte-exact and in order behind an all-zero header, used.len = 10 + the frame. This is the RTL's integration
test (register block, queue mux, loopback, RX queue, interrupt routing); the receive path of the driver
itself (NAPI, ``receive_skb``) is the driver's.

The wire is not used in loopback (m_axis_tx stays idle), so the wire scoreboard is waived; the TX ring rules
and interrupts are still judged. The loopback occupancy (the beats of the frames received after the first,
over the time from the first frame received to the last) is printed: a figure, not an assertion.
"""

from __future__ import annotations

import cocotb
import pytest
from cocotb.triggers import Timer, with_timeout
from cocotb.utils import get_sim_time

from sim import suite
from tb.device.dev_ctrl import DeviceModes
from tb.driver.virtio_ring import VRING_AVAIL_F_NO_INTERRUPT, Sg
from tb.scenarios.xmit import XmitScenario
from tb.simulation.txbench import TxBench

HDR_LEN = 10
DATA_LEN = 1518


@cocotb.test()
@cocotb.parametrize(size=[cocotb.Param(1514, "1514"), cocotb.Param(60, "60"), cocotb.Param(0, "mixed")],
                    push=[cocotb.Param("per_packet", "per_packet"), cocotb.Param("batched", "batched")])
async def loopback(dut, size, push):
    """Frames of one size (or mixed sizes) sent by the driver come back through the RX queue, in order and
    byte-exact; the RX counters (frames, bytes) agree; no drop; the RX interrupt reaches the driver's
    receive callback on its own MSI-X vector."""
    await _loopback(dut, size, push, msix=True)


@cocotb.test()
async def loopback_intx(dut):
    """The same over INTx: the RX queue's interrupt sets ISR bit 0 and the driver's receive callback runs."""
    await _loopback(dut, 0, "per_packet", msix=False)


async def _loopback(dut, size: int, push: str, msix: bool) -> None:
    b = TxBench(dut)
    if b.tb.checkers is not None:
        b.tb.checkers.waive("wire_scoreboard", why="loopback: the frames go into the RX queue, not onto the wire")
    await b.start(DeviceModes(loopback=True, push=push))
    n = 150 if size != 60 else 300
    lo, hi = (size, size) if size else (60, 1514)
    x = b.xmit(XmitScenario(packets=n, variant="post", min_len=lo, max_len=hi, seed=7, use_msix=msix))
    await x.probe()
    rvq = x.net.rvq
    assert rvq is not None
    assert rvq.bus_addr != 0, "the receive ring at bus address 0: PFN 0 means a disabled legacy queue"
    await b.ctrl.clear_counters()
    # receive buffers: a header buffer and a data buffer per chain, as Linux 2.6.31's add_recvbuf_small
    mem = b.p.dma_alloc(rvq.num * 2048)
    if b.tb.checkers is not None:
        # the TX checkers know no RX chain yet (issue 16's RX checkers): declare the receive buffers writable
        b.tb.checkers.allow(mem.bus_addr, rvq.num * 2048, "receive buffers posted by this test")
    free = list(range(rvq.num // 2))

    async def post(k: int) -> None:
        base = mem.bus_addr + k * 2048
        await mem.write(k * 2048, b"\xa5" * (HDR_LEN + DATA_LEN))
        assert await rvq.add_buf([Sg(base, HDR_LEN), Sg(base + 16, DATA_LEN)], 0, 2, k) >= 0

    while free:
        await post(free.pop(0))
    await rvq.kick()
    received: list[bytes] = []
    times: list[float] = []
    errors: list[str] = []

    async def receive() -> None:
        while len(received) < n:
            got = await rvq.get_buf()
            if got is None:
                await Timer(200, "ns")
                continue
            k, length = got
            hdr = await mem.read(k * 2048, HDR_LEN)
            if hdr != bytes(HDR_LEN):
                errors.append(f"frame {len(received)}: header {hdr.hex()}")
            received.append(await mem.read(k * 2048 + 16, length - HDR_LEN))
            times.append(get_sim_time("ns"))
            await post(k)
            await rvq.kick()

    rx = cocotb.start_soon(receive())

    async def wait_rx(_: int) -> None:
        try:
            await with_timeout(rx, 2000, "us")
        except Exception:
            c = await b.ctrl.rx_counters()
            t = await b.ctrl.counters()
            raise AssertionError(f"{len(received)} of {n} frames received after 2 ms; RX counters {c}, TX {t}, "
                                 f"rx used.idx {await rvq.mem.read_int(rvq.layout.used_idx, 2)}") from None

    res = await x.traffic(wait_rx)
    assert not errors, errors[:3]
    assert len(received) == len(res.sent) == n, f"{len(received)} frames received, {len(res.sent)} sent"
    for k, (got, want) in enumerate(zip(received, res.sent)):
        assert got == want, f"frame {k}: {len(got)} bytes received, {len(want)} sent, differ"
    c = await b.ctrl.rx_counters()
    assert c["rx_frames"] == n and c["rx_bytes"] == sum(len(f) for f in res.sent), c
    drops = {k: v for k, v in c.items() if k.startswith("rx_drop") and v}
    assert not drops, drops
    # the receive callback (skb_recv_done: disable_cb) ran: an RX interrupt was delivered to the driver
    flags = await rvq.mem.read_int(rvq.layout.avail_flags, 2)
    assert c["rx_irq_normal"] >= 1 and flags & VRING_AVAIL_F_NO_INTERRUPT, (c, flags)
    if b.tb.checkers is not None:
        b.tb.checkers.finish()
    # the loop's occupancy as the host sees it: the beats of frames 2..n over the time from the first frame
    # received to the last (8-byte beats at 4 ns: the 64-bit stream at 250 MHz)
    beats = sum(-(-len(f) // 8) for f in received[1:])
    cycles = (times[-1] - times[0]) / 4
    b.tb.log.info("loopback %s, %s: %d frames, %d beats in %.0f cycles between the first and the last frame "
                  "received: wire occupancy %.1f %%", size or "mixed", push, n, beats, cycles, 100 * beats / cycles)


# -- pytest entry ----------------------------------------------------------------------------------------
# Verilator runs every case; Icarus the mixed sizes over MSI-X and INTx (1514 B: 35 s on Icarus)
SUITE = suite.Suite("tests.sim.test_virtio_rx_loopback", "virtio_net_usp", variants=suite.widths(256),
                    icarus="loopback/size=mixed/push=per_packet|loopback_intx")


@pytest.mark.sim
@pytest.mark.parametrize("case", SUITE.cases(globals()), ids=str)
def test_virtio_rx_loopback(case, sim_run):
    sim_run(case)
