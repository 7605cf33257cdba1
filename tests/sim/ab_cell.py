"""One cell of the A/B matrix, as a cocotb test module (run by sim/ab_matrix.py, not collected by pytest).

The cell is chosen by environment variables: AB_VARIANT (a transmit variant: pre | pre-a | post | post-cap |
event-idx | cb-delayed | napi-tx | debian-6.1), AB_DEVICE (fast |
wire-limited | batched: the fast device pushing used elements in batches), AB_POLICY (WHEN_ACKED | ALWAYS),
AB_EVENT_IDX (1: the device offers VIRTIO_RING_F_EVENT_IDX; the variants whose ring knows it ack it), AB_PACKETS,
AB_RESULT (the JSON file to write).
"""

from __future__ import annotations

import json
import os
import time

import cocotb
from cocotb.utils import get_sim_time

from tb.device.dev_ctrl import DeviceModes, NoePolicy
from tb.driver.virtio_net import GuestTiming
from tb.scenarios.xmit import XmitScenario
from tb.simulation.txbench import TxBench

# the wire-limited device: tready low 7 cycles in 8 (2 Gb/s on a 64-bit 250 MHz stream), slower than the
# guest's ~2 us per frame, so the ring fills and the device drains it in batches
WIRE_LIMITED_PAUSE = [1] * 7 + [0]
GUEST = GuestTiming(xmit_ns=200, reclaim_ns=50, irq_ns=100, timer_period_ns=200_000)
SENDER_GAP_NS = 2000


@cocotb.test()
async def ab_cell(dut):
    variant = os.environ["AB_VARIANT"]
    device = os.environ["AB_DEVICE"]
    policy = os.environ["AB_POLICY"]
    packets = int(os.environ.get("AB_PACKETS", "1000"))
    event_idx = os.environ.get("AB_EVENT_IDX", "0") not in ("", "0")
    b = TxBench(dut, pause=WIRE_LIMITED_PAUSE if device == "wire-limited" else None)
    push = "batched" if device == "batched" else "per_packet"
    await b.start(DeviceModes(noe_policy=NoePolicy[policy], push=push, offer_event_idx=event_idx))
    await b.tb.debug.clear_counters()
    wall0, sim0 = time.monotonic(), get_sim_time("ns")
    res = await b.run(XmitScenario(packets=packets, variant=variant, gap_ns=SENDER_GAP_NS, seed=1,
                                   timeout_ns=packets * 200_000), GUEST)
    wall = time.monotonic() - wall0
    tlp = await b.tb.debug.counters()
    device_tlps = tlp["rq_rd"] + tlp["rq_wr"] + tlp["msix"]
    out = {
        "variant": variant, "device": device, "noe_policy": policy, **res.summary(),
        "event_idx_offered": event_idx,
        # what the driver acked (VIRTIO_RING_F_EVENT_IDX, bit 29), read from the driver's negotiated features
        "event_idx_acked": bool(res.driver.vdev.features >> 29 & 1),
        "tlp_per_pkt": round(device_tlps / max(res.packets, 1), 3),
        "rq_rd": tlp["rq_rd"], "rq_wr": tlp["rq_wr"], "msix": tlp["msix"],
        "sim_ns": get_sim_time("ns") - sim0, "wall_s": round(wall, 2),
        "sim_pkts_per_s": round(res.packets / wall, 2),
        "guest_timer_scale": GUEST.timer_period_ns / 100e6,
    }
    with open(os.environ["AB_RESULT"], "w") as f:
        json.dump(out, f, indent=1, default=str)
