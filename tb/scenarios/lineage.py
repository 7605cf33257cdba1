"""The lineage on the model device: TX interrupts and kicks per packet of every transmit variant.

``python -m tb.scenarios.lineage`` runs each variant of tb/driver/virtio_net.py (2009's pre-patch driver to
Debian's 6.1) through the same traffic on the pure-Python model device (tb/platform/model.py) in virtual time,
with VIRTIO_F_EVENT_IDX offered and not, and prints the table (``--json`` for the rows). The default is the
fast device (50 ns per packet, faster than the guest's 200 ns per start_xmit) and 256 packets sent unpaced
(the qdisc hands the driver one skb at a time, as for a driver without byte queue limits); ``--burst N``
hands them in xmit_more lists of N. Every number is counted in the run: interrupts delivered on the TX
vector, notify register writes (forced ones included), the device's own counts.

The same matrix on the RTL is ``make regress``'s A/B matrix (sim/ab_matrix.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict, dataclass

from tb.device.dev_ctrl import DeviceModes
from tb.driver.virtio_net import EVENT_IDX_VARIANTS, VARIANTS
from tb.platform.model import ModelPlatform, ModelTiming, run_virtual
from tb.scenarios.xmit import XmitRun, XmitScenario

FAST_DEVICE = ModelTiming(latency_ns=50)


@dataclass
class LineageRow:
    variant: str
    event_idx_offered: bool
    event_idx_acked: bool
    packets: int
    burst: int
    irq_per_pkt: float
    kick_per_pkt: float
    tx_irqs: int
    kicks: int
    forced_kicks: int
    device_notifies: int
    tx_busy: int
    stops: int
    reclaim: dict[str, int]
    wire_ok: bool


def run_variant(
    variant: str,
    event_idx: bool,
    packets: int = 256,
    burst: int = 1,
    device: ModelTiming = FAST_DEVICE,
    modes: DeviceModes | None = None,
    gap_ns: float = 0.0,
) -> LineageRow:
    """One variant through ``packets`` frames on the model device; the counts of the run."""

    async def main() -> LineageRow:
        p = ModelPlatform(modes or DeviceModes(), device, event_idx=event_idx)
        p.start()
        scn = XmitScenario(packets=packets, variant=variant, gap_ns=gap_ns, xmit_more_burst=burst, seed=3)
        x = XmitRun(p, scn, p.start_task)
        await x.probe()

        async def wire_done(n: int) -> None:
            while len(p.device.c.wire) < n:
                await asyncio.sleep(1000)

        res = await x.traffic(wire_done)
        p.device.stop()
        acked = bool(res.driver.vdev.features >> 29 & 1)
        return LineageRow(
            variant=variant,
            event_idx_offered=event_idx,
            event_idx_acked=acked,
            packets=res.packets,
            burst=burst,
            irq_per_pkt=round(res.irq_per_pkt, 4),
            kick_per_pkt=round(res.kick_per_pkt, 4),
            tx_irqs=res.tx_irqs_delivered,
            kicks=res.kicks,
            forced_kicks=res.forced_kicks,
            device_notifies=p.device.c.notifies,
            tx_busy=res.tx_busy,
            stops=res.stops,
            reclaim=res.reclaim,
            wire_ok=p.device.c.wire == res.sent,
        )

    return run_virtual(main())


def lineage(packets: int = 256, burst: int = 1, device: ModelTiming = FAST_DEVICE) -> list[LineageRow]:
    """Every variant, EVENT_IDX not offered then offered (the 2009 variants never ack it)."""
    rows = []
    for variant in VARIANTS:
        for event_idx in (False, True):
            rows.append(run_variant(variant, event_idx, packets, burst, device))
    return rows


def table(rows: list[LineageRow]) -> str:
    head = (
        f"{'variant':11} {'EVENT_IDX':9} {'pkts':>5} {'irq/pkt':>8} {'kick/pkt':>8} {'forced':>6} {'stops':>5}  reclaim"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        ev = ("acked" if r.event_idx_acked else "not acked") if r.event_idx_offered else "off"
        lines.append(
            f"{r.variant:11} {ev:9} {r.packets:>5} {r.irq_per_pkt:>8.3f} {r.kick_per_pkt:>8.3f} {r.forced_kicks:>6} "
            f"{r.stops:>5}  {r.reclaim}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--packets", type=int, default=256)
    ap.add_argument("--burst", type=int, default=1, help="skbs per xmit_more list (default 1)")
    ap.add_argument("--latency-ns", type=float, default=FAST_DEVICE.latency_ns, help="device time per packet")
    ap.add_argument("--json", action="store_true", help="the rows as JSON instead of the table")
    args = ap.parse_args(argv)
    if args.packets < 1 or args.burst < 1:
        ap.error("--packets and --burst must be at least 1")
    rows = lineage(args.packets, args.burst, ModelTiming(latency_ns=args.latency_ns))
    bad = [r.variant for r in rows if not r.wire_ok]
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=1))
    else:
        print(
            f"model device, {args.latency_ns:g} ns per packet, {args.packets} packets, xmit_more lists of {args.burst}"
        )
        print(f"(EVENT_IDX-capable variants: {', '.join(EVENT_IDX_VARIANTS)})")
        print(table(rows))
    if bad:
        print(f"wire differs from the frames the driver accepted: {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
