"""The soak (issue 18 item 5): 100,000 packets of mixed sizes, layouts, driver variants and device modes through
the whole device with every checker on; nothing lost, duplicated or corrupted.

Each cocotb test is one item of the plan (sim/soak.py: an equal share of the packets per mix, cut into items
of a few minutes each): one device, one probe, then rounds of ``ROUND_PACKETS`` packets, each round with its
own layout drawn from ``LAYOUTS`` (sizes 60..1514, fragments, xmit_more bursts) and its own frames:

- ``tx``: the driver transmits to the wire (back-pressured by the mix's pattern); every frame on the wire is
  the next one the driver queued;
- ``rx``: the host side puts frames on the device's network input; every one reaches the driver's stack;
- ``loopback``: the driver's transmit comes back through the device into its own receive path.

Besides the checkers (the wire scoreboard, rx_delivery and the rest judge every frame as it moves) a
``Ledger`` counts lost, duplicated and corrupt frames end to end from the digests alone. At each round's end
the ledger settles (anything outstanding is lost), a progress line goes to the log (packets, lost / duplicated,
wall time, packets/s, memory, event log size), and the bench's per-packet bookkeeping that the checkers do not
need any more is dropped (the wire's frame list, the driver's freed skbs and trace list, the receive sink), so
the process's memory stays flat; the event log on disk is the one thing that grows with the packet count.

Each item writes its figures to build/soak/items/<total>/<item>.json; ``python -m sim.soak summary`` (``make regress``
runs it after the tests) adds them up into build/soak/summary.json and prints the table.

``make test`` runs a smoke of the same code (sim.soak.smoke_plan: 300 packets, one TX mix, RX, loopback);
``make regress`` the full plan on Verilator (``SOAK_PACKETS=<n>`` scales it).
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable
from typing import Any

import cocotb
import pytest
from cocotb.triggers import SimTimeoutError, Timer, with_timeout

from sim import soak, suite
from sim.soak import LAYOUTS, ROUND_PACKETS, Item, Ledger
from tb.device.dev_ctrl import DeviceModes, NoePolicy
from tb.scenarios.xmit import XmitRun, XmitScenario
from tb.simulation.rxbench import RxBench

PLAN: list[Item] = soak.current_plan()
ROUND_TIMEOUT_US = 50_000  # simulated time a round of ROUND_PACKETS may take (a stalled device fails the item)
ETH_TYPE = 0x88B6
# between rounds the checkers forget host-memory history older than this (the traffic has drained; no rule
# looks further back than a DMA read's round trip)
COMPACT_MARGIN_NS = 20_000.0
WARM_ROUNDS = 2  # memory growth is counted from the end of this round on (the start's loading is not growth)


def device_modes(mix: soak.Mix) -> DeviceModes:
    kw = mix.modes_dict()
    if isinstance(kw.get("noe_policy"), str):
        kw["noe_policy"] = NoePolicy[kw["noe_policy"]]
    return DeviceModes(**kw)


class _Round(XmitRun):
    """One round of a soak item: the item's probed driver and skb pool, this round's frames and layout."""

    def __init__(self, first: XmitRun, scn: XmitScenario):
        super().__init__(first.p, scn, first.start_task, checkers=first.checkers, driver=first.net)
        self.pool = first.pool
        if self.checkers is not None:
            self.checkers.attach_sent(self.sent)  # the scoreboards start a new expectation after this point


def rx_frames(rng: random.Random, n: int, lo: int, hi: int, first_seq: int) -> list[bytes]:
    """Frames for the RX path: broadcast, a sequence number after the EtherType, random payload."""
    out = []
    for k in range(n):
        length = rng.randint(lo, hi)
        seq = (first_seq + k).to_bytes(4, "big")
        head = b"\xff" * 6 + b"\x02\x00\x00\x00\x5a\x01" + ETH_TYPE.to_bytes(2, "big") + seq
        out.append((head + rng.randbytes(max(0, length - len(head))))[:length])
    return out


async def _until(cond, timeout_us: float, what: str) -> None:
    async def _wait() -> None:
        while not cond():
            await Timer(1, "us")

    try:
        await with_timeout(_wait(), timeout_us, "us")
    except SimTimeoutError:
        raise AssertionError(f"soak: {what} not within {timeout_us:.0f} us") from None


Tamper = Callable[[int, list[bytes]], list[bytes]]


async def run_item(dut, item: Item, round_packets: int = ROUND_PACKETS, tamper: Tamper | None = None) -> dict[str, Any]:
    """Run one item; ``tamper(round, arrived)`` (test code only: ``ledger_catches``) may change what the ledger
    is shown as arrived, to prove it counts a lost or repeated frame."""
    mix = item.mix
    b = RxBench(dut, pause=list(mix.pause) or None, gap_cycles=2)
    log = b.tb.log
    log.info(
        "soak item %s: %d packets of %s (%s, variant %s, modes %s, wire pause %s), seed %d, rounds of %d",
        item.name,
        item.packets,
        mix.name,
        mix.kind,
        mix.variant,
        mix.modes_dict(),
        list(mix.pause),
        item.seed,
        round_packets,
    )
    await b.start(device_modes(mix))
    first = b.xmit(XmitScenario(packets=0, variant=mix.variant, use_msix=mix.use_msix, seed=item.seed))
    await first.probe()
    await b.p.bar_read(0, 0x12, 1)  # DRIVER_OK has reached the device before a frame arrives (RX)
    net = first.net
    trace = net.trace
    rng = random.Random(item.seed)
    ledger = Ledger()
    events_path = b.tb.artifacts.events_path
    t0, sim0 = time.monotonic(), b.p.now_ns()
    rss0 = rss_peak = rss_warm = soak.rss_mb()
    done = rounds = 0
    layouts: dict[str, int] = {}
    while done < item.packets:
        n = min(round_packets, item.packets - done)
        lo, hi, frags, burst = rng.choice(LAYOUTS)
        key = f"{lo}-{hi}/frags{frags}/burst{burst}" if mix.kind != "rx" else f"{lo}-{hi}"
        layouts[key] = layouts.get(key, 0) + n
        if mix.kind == "rx":
            sent = rx_frames(rng, n, lo, hi, done)
            for f in sent:
                ledger.on_sent(f)
            b.send(sent)
            await b.wait_received(net, n, timeout_us=ROUND_TIMEOUT_US)
            arrived = net.rx_frames
        else:
            scn = XmitScenario(
                packets=n,
                variant=mix.variant,
                use_msix=mix.use_msix,
                min_len=lo,
                max_len=hi,
                nr_frags=frags,
                xmit_more_burst=burst,
                seed=rng.getrandbits(32),
                timeout_ns=ROUND_TIMEOUT_US * 1000.0,
            )
            r = _Round(first, scn)
            if mix.kind == "tx":

                def on_wire(_n: int, n: int = n):
                    good = lambda: sum(not f.aborted for f in b.wire.frames) >= n  # noqa: E731
                    return _until(good, ROUND_TIMEOUT_US, f"{n} frames on the wire")

                res = await r.traffic(on_wire)
                arrived = [f.data for f in b.wire.frames if not f.aborted]
            else:

                def received(_n: int, n: int = n):
                    return b.wait_received(net, n, timeout_us=ROUND_TIMEOUT_US)

                res = await r.traffic(received)
                arrived = net.rx_frames
            for f in res.sent:
                ledger.on_sent(f)
        if tamper is not None:
            arrived = tamper(rounds, list(arrived))
        for f in arrived:
            ledger.on_arrived(f)
        ledger.settle()
        done += n
        rounds += 1
        # what the checkers and the ledger no longer need: per-packet lists of the bench and the driver model
        b.wire.frames.clear()
        net.rx_frames.clear()
        net.freed.clear()
        trace.events.clear()
        b.src.taken.clear()
        if b.tb.checkers is not None:  # and the checkers' own history of what they judged already
            b.tb.checkers.compact(b.p.now_ns() - COMPACT_MARGIN_NS)
        wall = time.monotonic() - t0
        rss = soak.rss_mb()
        rss_peak = max(rss_peak, rss)
        if rounds == WARM_ROUNDS:
            rss_warm = rss_peak = rss  # the first rounds load code, fill caches and pools: growth counts from here
        log.info(
            "soak %s: %d/%d packets (round %d: %s), lost %d, duplicated %d, corrupt %d; sim %.2f ms, wall "
            "%.0f s, %.1f packets/s; RSS %.0f MB (%+.1f), event log %.1f MB",
            item.name,
            done,
            item.packets,
            rounds,
            key,
            ledger.lost,
            ledger.duplicated,
            ledger.corrupt,
            (b.p.now_ns() - sim0) / 1e6,
            wall,
            done / wall if wall else 0.0,
            rss,
            rss - rss0,
            events_path.stat().st_size / 2**20,
        )
        if not ledger.ok:
            break
    counters = await (b.ctrl.rx_counters() if mix.kind != "tx" else b.ctrl.counters())
    if b.tb.checkers is not None:
        b.tb.checkers.finish()
    wall = time.monotonic() - t0
    return {
        "item": item.name,
        "mix": mix.name,
        "kind": mix.kind,
        "variant": mix.variant,
        "modes": mix.modes_dict(),
        "packets_planned": item.packets,
        "rounds": rounds,
        "layouts": layouts,
        "seed": item.seed,
        "ledger": ledger.figures(),
        "ok": ledger.ok,
        "wall_s": round(wall, 2),
        "sim_ms": round((b.p.now_ns() - sim0) / 1e6, 3),
        "packets_per_s": round(ledger.delivered / wall, 1),
        "rss_start_mb": round(rss0, 1),
        "rss_end_mb": round(soak.rss_mb(), 1),
        "rss_peak_mb": round(rss_peak, 1),
        "rss_after_warmup_mb": round(rss_warm, 1),
        "rss_growth_mb": round(rss_peak - rss_warm, 1),  # after WARM_ROUNDS rounds: what grows with the packets
        "event_log_mb": round(events_path.stat().st_size / 2**20, 2),
        "event_log": str(events_path),
        "counters": {k: v for k, v in counters.items() if v},
    }


@cocotb.test()
@cocotb.parametrize(item=[cocotb.Param(i, name=i.name) for i in PLAN])
async def soak_item(dut, item):
    """One item of the soak plan: every frame arrives once, in order, byte-exact; every checker passes."""
    result = await run_item(dut, item)
    soak.write_item(
        {**result, "simulator": cocotb.SIM_NAME, "session": os.environ.get("TB_RESULTS_SESSION", "")},
        soak.plan_dir(PLAN),
    )
    led = result["ledger"]
    dut._log.info(
        "soak %s done: %d packets in %.0f s (%.1f/s); lost %d, duplicated %d, corrupt %d; RSS growth "
        "%.1f MB %s; event log %.1f MB",
        item.name,
        led["delivered"],
        result["wall_s"],
        result["packets_per_s"],
        led["lost"],
        led["duplicated"],
        led["corrupt"],
        result["rss_growth_mb"],
        f"after round {WARM_ROUNDS}" if result["rounds"] > WARM_ROUNDS else "since the start",
        result["event_log_mb"],
    )
    assert result["ok"], f"soak {item.name}: {led['first_problem']} ({led})"


@cocotb.test()
async def ledger_catches(dut):
    """The soak's own loss / duplicate check fails when a frame goes missing or comes twice: the test drops one
    arrived frame and repeats another before the ledger sees them (the device and the checkers run clean)."""
    mix = next(m for m in soak.MIXES if m.name == "tx-post-kick_suppress")
    item = Item(mix, 0, 1, 120, 7, 0.0)

    def drop_and_repeat(_round: int, arrived: list[bytes]) -> list[bytes]:
        return arrived[:30] + arrived[31:70] + [arrived[69]] + arrived[70:]  # frame 30 lost, frame 69 twice

    result = await run_item(dut, item, round_packets=120, tamper=drop_and_repeat)
    led = result["ledger"]
    assert (led["lost"], led["duplicated"], led["corrupt"]) == (1, 1, 0) and not result["ok"], led
    assert led["delivered"] == 119, led
    dut._log.info("the ledger caught both: %s", led["first_problem"])


# -- pytest entry ----------------------------------------------------------------------------------------
# Verilator runs the soak (Icarus runs the same device in the agreement test, tests/sim/test_sim_agreement.py);
# one pytest item per soak item, its expected time from the plan (longest first over the xdist workers)
# (make test: the smoke's items and ledger_catches share one simulator run, about 15 s)
def _cases() -> list[suite.Case]:
    if "verilator" not in suite.runner.sims():
        return []
    only = os.environ.get("TESTCASE", "")
    tests = [(f"soak_item/item={i.name}", i.expected_s) for i in PLAN] + [("ledger_catches", 4.0)]
    tests = [(t, s) for t, s in tests if not only or re.search(only, f"tests.sim.test_soak.{t}")]
    # one item per soak item under REGRESS (the workers balance them); one run for the smoke
    groups = [[t] for t in tests] if suite.REGRESS or only else ([tests] if tests else [])
    return [
        suite.Case(
            "verilator",
            "virtio_net_usp",
            "tests.sim.test_soak",
            tuple(t for t, _ in g),
            expected_s=suite.RUN_OVERHEAD_S + sum(s for _, s in g),
        )
        for g in groups
    ]


@pytest.mark.sim
@pytest.mark.parametrize("case", _cases(), ids=str)
def test_soak(case, sim_run):
    sim_run(case)
