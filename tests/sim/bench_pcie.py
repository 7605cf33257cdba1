"""Simulation speed of the PCIe foundation (run by sim/bench.py, not collected by pytest).

Measures, in one run: wall time per BAR read, simulated clock cycles per wall second while the DMA
self-test moves data, and with the device idle. Writes BENCH_RESULT (JSON).
"""

from __future__ import annotations

import json
import os
import time

import cocotb
from cocotb.triggers import Timer
from cocotb.utils import get_sim_time

from tb.device import debug_bar as dbg
from tb.simulation.harness import DeviceTB

CLOCK_NS = 4.0  # 250 MHz user clock


@cocotb.test()
async def bench(dut):
    tb = DeviceTB(dut)
    await tb.start(max_payload=256, max_read_req=512)
    p = tb.platform
    out: dict[str, float] = {}

    n = 200
    w0, s0 = time.monotonic(), get_sim_time("ns")
    for _ in range(n):
        assert await tb.debug.read(dbg.REG_ID) == dbg.DBG_ID_VALUE
    wall, sim = time.monotonic() - w0, get_sim_time("ns") - s0
    out["bar_read_wall_ms"] = 1000 * wall / n
    out["bar_read_sim_ns"] = sim / n

    src, dst = p.dma_alloc(8192), p.dma_alloc(8192)
    await src.write(0, os.urandom(4096))
    runs = 40
    w0, s0 = time.monotonic(), get_sim_time("ns")
    for _ in range(runs):
        res = await tb.debug.selftest(src.bus_addr, dst.bus_addr, 4096)
        assert res.ok, res.describe()
    wall, sim = time.monotonic() - w0, get_sim_time("ns") - s0
    assert await dst.read(0, 4096) == await src.read(0, 4096)
    out["selftest_cycles_per_s"] = sim / CLOCK_NS / wall
    out["selftest_mbytes_per_wall_s"] = runs * 4096 * 2 / wall / 1e6
    out["selftest_sim_ns_per_4k"] = sim / runs

    w0, s0 = time.monotonic(), get_sim_time("ns")
    await Timer(200, "us")
    wall, sim = time.monotonic() - w0, get_sim_time("ns") - s0
    out["idle_cycles_per_s"] = sim / CLOCK_NS / wall
    with open(os.environ["BENCH_RESULT"], "w") as f:
        json.dump(out, f, indent=1)
