"""The RX throughput scenario of ``make bench``, as a cocotb test module (run by sim/rx_tput.py, not collected
by pytest).

Frames of one size (RX_SIZE bytes) arrive back to back on s_axis_rx (the 64-bit 250 MHz stream: 16 Gb/s, no
inter-frame gap), RX_FRAMES of them, into the 2.6.31 receive path of a guest much faster than the device
(``FAST_GUEST``), every checker on. Measured between the frame ``WARMUP`` was taken and the last frame was
delivered to the driver's stack:

- ``rx_gbps``: frame bits delivered per simulated second; ``wire_pct``: the share of the stream's cycles
  the frames' beats took (what the device let the wire carry);
- ``drops``: frames the device dropped (its RX counters, by reason);
- ``sim_frames_per_s``: frames simulated per wall-clock second (the whole receive phase).
"""

from __future__ import annotations

import json
import os
import time

import cocotb
from cocotb.utils import get_sim_time

from tb.device.dev_ctrl import DeviceModes
from tb.driver.virtio_net import GuestTiming
from tb.scenarios.xmit import XmitScenario
from tb.simulation.rxbench import RxBench

CLOCK_NS = 4.0
WIRE_BYTES_PER_CYCLE = 8
FAST_GUEST = GuestTiming(xmit_ns=4, reclaim_ns=1, irq_ns=20, recv_ns=10, refill_ns=5)
WARMUP = 100


@cocotb.test()
async def rx_tput_cell(dut):
    size = int(os.environ.get("RX_SIZE", "60"))
    n = int(os.environ.get("RX_FRAMES", "1000"))
    assert n >= WARMUP + 2, f"RX_FRAMES={n}: at least {WARMUP + 2} (the first {WARMUP} are the warm-up, not measured)"
    b = RxBench(dut)
    await b.start(DeviceModes(offer_mrg_rxbuf=os.environ.get("RX_MRG", "0") == "1"))
    x = b.xmit(XmitScenario(packets=0, variant="post", seed=3), FAST_GUEST)
    await x.probe()
    await b.p.bar_read(0, 0x12, 1)
    await b.ctrl.clear_counters()
    head = b"\xff" * 6 + bytes([2, 0, 0, 0, 0, 1]) + (0x88B6).to_bytes(2, "big")
    frames = [(head + k.to_bytes(4, "big") + bytes(size))[:size] for k in range(n)]
    wall0 = time.monotonic()
    b.send(frames)
    await b.src.wait_idle(n * 20_000)
    await b.wait_received(x.net, n, timeout_us=n * 20)
    wall = time.monotonic() - wall0
    assert x.net.rx_frames == frames, "frames lost, reordered or altered"
    c = await b.finish()
    taken = b.src.taken
    t0, t1 = taken[WARMUP].t_taken_ns, get_sim_time("ns")
    bits = 8 * size * (n - WARMUP - 1)
    beats = (n - WARMUP - 1) * -(-size // WIRE_BYTES_PER_CYCLE)
    out = {
        "size": size, "frames": n,
        "rx_gbps": round(bits / (t1 - t0), 3),
        "wire_pct": round(100 * beats * CLOCK_NS / (t1 - t0), 1),
        "cycles_per_frame": round((t1 - t0) / CLOCK_NS / (n - WARMUP - 1), 2),
        "drops": sum(v for k, v in c.items() if k.startswith("rx_drop_")),
        "rx_irqs": c["rx_irq_normal"] + c["rx_irq_noe"],
        "wall_s": round(wall, 2),
        "sim_frames_per_s": round(n / wall, 1),
        "checkers": b.tb.checkers is not None,
    }
    b.tb.log.info("RX throughput: %s", out)
    with open(os.environ["RX_RESULT"], "w") as f:
        json.dump(out, f, indent=1)
