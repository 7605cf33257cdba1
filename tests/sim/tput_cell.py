"""The throughput scenario of ``make bench``, as a cocotb test module (run by sim/bench.py, not collected by
pytest).

The TX ring is kept full: the post-patch driver (b0c39dbd) with a guest much faster than the device
(``FAST_GUEST``: a few ns per driver step), no sender gap, a wire that never back-pressures. Every frame has
the same length (TP_SIZE bytes), so the wire's ideal is known. Measured, in the steady state between the end
of frame ``WARMUP`` and the end of the last frame (the probe and the ring's first fill left out):

- ``wire_gbps``: frame bits on m_axis_tx per simulated second, against the 64-bit 250 MHz stream (16 Gb/s);
- ``cycles_per_pkt``: user-clock cycles per frame;
- ``tlp_per_pkt``: TLPs the device issued (memory reads + writes + MSI-X, the debug BAR's counters) per frame,
  over the whole traffic phase, with the link's max read request / max payload to compute the minimum;
- ``sim_pkts_per_s`` / ``sim_cycles_per_s``: frames and clock cycles simulated per wall-clock second (traffic
  phase, checkers on as in every test unless TP_CHECKERS=0).

Environment: TP_SIZE (frame bytes), TP_PACKETS, TP_PUSH (per_packet | batched), TP_RESULT (the JSON file to
write), TP_CHECKERS (1 | 0), TP_PROFILE (a file: cProfile of the traffic phase, as pstats). This module uses
only the testbench API that already existed before the pipelined engine (TxBench, DeviceModes,
XmitScenario), under either package layout, so the bench can run it on the previous engine's commit, back
to back (sim/tput.py copies it into a worktree of that commit).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import cocotb
from cocotb.utils import get_sim_time

from tb.driver.virtio_net import GuestTiming
from tb.scenarios.xmit import XmitScenario

try:  # the package layout since the Python tree was split by role
    from tb.device.dev_ctrl import DeviceModes
    from tb.simulation.txbench import TxBench
except ImportError:  # the previous engine's commit (the bench's "old" column)
    from tb.dev_ctrl import DeviceModes  # type: ignore[no-redef]
    from tb.txbench import TxBench  # type: ignore[no-redef]

CLOCK_NS = 4.0
WIRE_BITS_PER_CYCLE = 64          # the network stream: 64 bits at the 250 MHz user clock = 16 Gb/s
# a guest far faster than the device: the ring is full whenever the device looks
FAST_GUEST = GuestTiming(xmit_ns=4, reclaim_ns=1, irq_ns=20, timer_period_ns=200_000)
WARMUP = 200                      # frames before the steady-state window opens


@cocotb.test()
async def tput_cell(dut):
    size = int(os.environ.get("TP_SIZE", "60"))
    packets = int(os.environ.get("TP_PACKETS", "2000"))
    push = os.environ.get("TP_PUSH", "per_packet")
    modes = DeviceModes(kick_suppress=True, offer_indirect=os.environ.get("TP_INDIRECT", "1") == "1")
    if push != "per_packet":
        if not any(f.name == "push" for f in dataclasses.fields(DeviceModes)):
            raise ValueError(f"TP_PUSH={push}: this device has no used-ring push policy")
        modes = dataclasses.replace(modes, push=push)
    b = TxBench(dut)
    if os.environ.get("TP_CHECKERS", "1") == "0" and b.tb.checkers is not None:
        raise ValueError("TP_CHECKERS=0 needs TB_CHECKERS=0 in the environment as well")
    await b.start(modes)
    scn = XmitScenario(packets=packets, variant="post", min_len=size, max_len=size, gap_ns=0, seed=3,
                       timeout_ns=packets * 50_000)
    x = b.xmit(scn, FAST_GUEST)
    await x.probe()
    await b.tb.debug.clear_counters()
    profile = None
    if os.environ.get("TP_PROFILE"):
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    wall0, sim0 = time.monotonic(), get_sim_time("ns")
    res = await x.traffic(b.wait_wire)
    wall, sim = time.monotonic() - wall0, get_sim_time("ns") - sim0
    if profile is not None:
        profile.disable()
        profile.dump_stats(os.environ["TP_PROFILE"])
    b.wire.check(res.sent)
    if b.tb.checkers is not None:
        b.tb.checkers.finish()
    tlp = await b.tb.debug.counters()
    frames = b.wire.frames
    assert len(frames) == packets and not any(f.aborted for f in frames), "frames lost or aborted"
    first, last = frames[min(WARMUP, packets - 2)], frames[-1]
    steady = frames.index(first)
    cycles = (last.t_ns - first.t_ns) / CLOCK_NS
    npk = packets - 1 - steady
    bits = sum(8 * len(f.data) for f in frames[steady + 1:])
    mrrs = 128 << int(dut.cfg_max_read_req.value)
    mps = 128 << int(dut.cfg_max_payload.value)
    device_tlps = tlp["rq_rd"] + tlp["rq_wr"] + tlp["msix"]
    out = {
        "size": size, "packets": packets, "push": push,
        "wire_gbps": round(bits / (cycles * CLOCK_NS), 3),
        "wire_pct": round(100 * bits / (cycles * WIRE_BITS_PER_CYCLE), 1),
        "cycles_per_pkt": round(cycles / npk, 2),
        "tlp_per_pkt": round(device_tlps / packets, 3),
        "rq_rd": tlp["rq_rd"], "rq_wr": tlp["rq_wr"], "msix": tlp["msix"],
        "irq_per_pkt": round(res.irq_per_pkt, 4), "kick_per_pkt": round(res.kick_per_pkt, 4),
        "max_read_req": mrrs, "max_payload": mps,
        "sim_ns": sim, "wall_s": round(wall, 2),
        "sim_pkts_per_s": round(packets / wall, 1),
        "sim_cycles_per_s": round(sim / CLOCK_NS / wall, 1),
        "checkers": b.tb.checkers is not None,
    }
    # what the minimum TLPs per packet depends on, as the device reports it (absent on the old engine)
    params = getattr(b.tb, "tx_params", None)
    if params is not None:
        out["avail_batch"] = params.max_batch
        out["desc_window"] = params.desc_window
        out["indirect"] = modes.offer_indirect
    if push == "batched":
        from tb.device.dev_ctrl import REG_PUSH_BATCH
        from tb.device.debug_bar import DEBUG_BAR

        out["used_batch"] = await b.p.bar_read(DEBUG_BAR, REG_PUSH_BATCH, 4)
    b.tb.log.info("throughput: %s", out)
    with open(os.environ["TP_RESULT"], "w") as f:
        json.dump(out, f, indent=1)
