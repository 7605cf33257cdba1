"""The soak: 100,000 packets through the whole device, split into pytest items, accounted end to end.

Standard library only (the cocotb side is tests/sim/test_soak.py). Three parts:

- ``plan``: the split. Every ``Mix`` (a driver variant on a device mode, TX to the wire, RX from the wire,
  or the loopback) gets an equal share of the packets; a share larger than ``ITEM_TARGET_S`` seconds at the
  mix's measured rate (``RATE_PPS``) is cut into several items of equal size, so the two xdist workers
  balance them and no item runs for tens of minutes. ``python -m sim.soak plan`` prints
  it (``make regress`` does, before the tests).
- ``Ledger``: lost and duplicated frames, counted independently of the checkers. The sender records each
  frame (CRC-32 and length, not the bytes) as it is queued; each frame that arrives must be the oldest one
  outstanding. One that matches a later outstanding frame means the ones before it were lost; one that
  matches the frame delivered just before it is a duplicate; anything else is a corrupt frame. It holds
  only the frames in flight, so its memory does not grow with the packet count.
- ``summary``: each item writes its figures to ``build/soak/items/<total>/<item>.json``; the summary adds them up
  (packets per item, total, lost / duplicated / corrupt, wall time, packets per second, the largest event
  log and memory growth), prints one table and writes ``build/soak/summary.json``. ``python -m sim.soak
  summary`` does it after the tests (``make regress``); the exit status is 1 when an item of the plan is
  missing or any frame was lost, duplicated or corrupt.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import zlib
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOAK_DIR = ROOT / "build" / "soak"
ITEMS_DIR = SOAK_DIR / "items"  # one directory per plan: items/<total packets>/ (the smoke's apart from the soak's)
SUMMARY = SOAK_DIR / "summary.json"  # the soak's (REGRESS); the smoke's goes to summary-smoke.json
SMOKE_SUMMARY = SOAK_DIR / "summary-smoke.json"

TOTAL_PACKETS = 100_000
# make test's smoke: the same code on a few hundred packets (one item per kind)
SMOKE_PACKETS = 300
# an item should take about this much wall time on one core: long enough that its start (build check,
# power-on, probe: ~3 s) is noise, short enough that the two xdist workers finish together
ITEM_TARGET_S = 120.0
# packets per wall second on Verilator, per mix: a 1,000-packet item of each, measured 2026-11-30 on the 2-core
# development machine (nice 10, other jobs on the other core; with both cores loaded the rates halve). The
# plan's only input besides the total; each run's summary reports what the items achieved: update these from
# build/soak/summary.json when the design's speed moves.
RATE_PPS: dict[str, float] = {
    "tx-pre-pacing": 83.0,
    "tx-pre-a-always": 51.0,
    "tx-post-kick_suppress": 71.0,
    "tx-post-cap-kick_suppress": 119.0,
    "tx-post-batched-intx": 80.0,
    "tx-pre-batched-kick_suppress": 165.0,
    "tx-event-idx": 105.0,
    "tx-debian-6.1-modern": 123.0,
    "rx-small": 117.0,
    "rx-mergeable": 161.0,
    "loopback-per_packet": 43.0,
    "loopback-batched": 46.0,
}
ROUND_PACKETS = 500  # packets per round: progress line, bookkeeping trimmed, the ledger settled


@dataclass(frozen=True)
class Mix:
    """One soak mix: a driver variant on a device mode (``modes``: DeviceModes keyword arguments)."""

    name: str
    kind: str  # "tx": driver -> wire; "rx": wire -> driver; "loopback": driver -> device -> driver
    variant: str
    modes: tuple[tuple[str, Any], ...] = ()
    pause: tuple[int, ...] = ()  # the TX wire's back-pressure pattern (1 = not ready that cycle)
    use_msix: bool = True

    def modes_dict(self) -> dict[str, Any]:
        return dict(self.modes)


def _m(**kw: Any) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(kw.items()))


# The variants and the device modes they met (tests/sim/test_virtio_tx.py MODE_CASES), the RX path with small
# and mergeable buffers, the loopback under both push policies. Every layout the drivers produce is drawn
# per round (``LAYOUTS``): linear skbs and skbs with fragments (chains of 2 + nr_frags descriptors, an
# INDIRECT table where the driver uses one), one skb per qdisc run or bursts with xmit_more.
MIXES: tuple[Mix, ...] = (
    Mix("tx-pre-pacing", "tx", "pre", _m(pacing_timer=True, pacing_interval=2500), (0, 1, 1)),
    Mix("tx-pre-a-always", "tx", "pre-a", _m(noe_policy="ALWAYS"), (0, 0, 1)),
    Mix("tx-post-kick_suppress", "tx", "post", _m(kick_suppress=True), (0, 1, 1)),
    Mix("tx-post-cap-kick_suppress", "tx", "post-cap", _m(kick_suppress=True, offer_indirect=False), ()),
    Mix("tx-post-batched-intx", "tx", "post", _m(push="batched"), (0, 1), use_msix=False),
    Mix("tx-pre-batched-kick_suppress", "tx", "pre", _m(push="batched", kick_suppress=True), (0, 0, 1)),
    Mix("tx-event-idx", "tx", "event-idx", _m(offer_event_idx=True), (0, 1, 1)),
    Mix("tx-debian-6.1-modern", "tx", "debian-6.1", _m(offer_event_idx=True, push="batched"), ()),
    Mix("rx-small", "rx", "post", _m()),
    Mix("rx-mergeable", "rx", "post", _m(offer_mrg_rxbuf=True)),
    Mix("loopback-per_packet", "loopback", "post", _m(loopback=True)),
    Mix("loopback-batched", "loopback", "post", _m(loopback=True, push="batched")),
)

# per round: (min_len, max_len, nr_frags, xmit_more_burst); RX rounds use the lengths only
LAYOUTS: tuple[tuple[int, int, int, int], ...] = (
    (60, 1514, 0, 1),  # mixed sizes, header + linear part
    (60, 1514, 2, 1),  # mixed sizes, two fragments: 4 descriptors (or an INDIRECT table of 4)
    (60, 60, 0, 8),  # minimum frames in xmit_more bursts
    (1514, 1514, 1, 1),  # full frames, one fragment
    (60, 300, 4, 4),  # small frames, many fragments, bursts
)


@dataclass(frozen=True)
class Item:
    """One pytest item: ``packets`` of ``mix`` from ``seed``, ``index`` of ``of`` for the mix."""

    mix: Mix
    index: int
    of: int
    packets: int
    seed: int
    expected_s: float

    @property
    def name(self) -> str:
        return f"{self.mix.name}.{self.index + 1}of{self.of}"


def item_seed(base: int, name: str) -> int:
    return (base * 1_000_003 + zlib.crc32(name.encode())) & 0xFFFFFFFF


def plan(
    total: int = TOTAL_PACKETS,
    mixes: Sequence[Mix] = MIXES,
    rate_pps: dict[str, float] | None = None,
    target_s: float = ITEM_TARGET_S,
    base_seed: int = 1,
) -> list[Item]:
    """The split: an equal share per mix (the remainder to the first mixes), cut into items of about
    ``target_s`` seconds at the mix's rate (by name), sizes within one packet of each other. A mix without a
    rate is one item."""
    rates = rate_pps or RATE_PPS
    if total < len(mixes):
        raise ValueError(f"{total} packets for {len(mixes)} mixes: at least one each")
    share, extra = divmod(total, len(mixes))
    out: list[Item] = []
    for k, mix in enumerate(mixes):
        packets = share + (1 if k < extra else 0)
        rate = rates.get(mix.name) or 0.0
        per_item = max(1, int(rate * target_s)) if rate > 0 else packets
        n_items = max(1, math.ceil(packets / per_item))
        base, more = divmod(packets, n_items)
        for i in range(n_items):
            n = base + (1 if i < more else 0)
            name = f"{mix.name}.{i + 1}of{n_items}"
            out.append(Item(mix, i, n_items, n, item_seed(base_seed, name), n / rate if rate > 0 else 30.0))
    return out


def smoke_plan() -> list[Item]:
    """make test's smoke: one TX mix with kick suppression, the RX path and the loopback, SMOKE_PACKETS in all."""
    chosen = [m for m in MIXES if m.name in ("tx-post-kick_suppress", "rx-small", "loopback-batched")]
    return plan(SMOKE_PACKETS, chosen, rate_pps={}, base_seed=1)


def format_plan(items: Sequence[Item], title: str = "soak plan") -> str:
    total = sum(i.packets for i in items)
    est = sum(i.expected_s for i in items)
    lines = [
        f"{title}: {total:,} packets in {len(items)} items over {len({i.mix.name for i in items})} mixes, about "
        f"{est / 60:.0f} worker-minutes at the recorded rates (sim/soak.py RATE_PPS; a busy machine takes longer)"
    ]
    for i in items:
        lines.append(
            f"  {i.name:<36} {i.mix.kind:<8} {i.mix.variant:<11} {i.packets:>7,} packets  "
            f"~{i.expected_s:5.0f} s  seed {i.seed}"
        )
    return "\n".join(lines)


# -- the ledger ----------------------------------------------------------------------------------------------
def digest(frame: bytes) -> tuple[int, int]:
    return zlib.crc32(frame), len(frame)


@dataclass
class Ledger:
    """Frames sent vs frames arrived, in order: lost, duplicated and corrupt counted (see the module doc).

    ``window`` bounds how far ahead a lost frame is looked for (a frame further ahead than that counts as
    corrupt and the outstanding ones stay; the soak never has more than a ring and a qdisc in flight)."""

    window: int = 4096
    sent: int = 0
    arrived: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    corrupt: int = 0
    first_problem: str = ""
    _pending: deque[tuple[int, int]] = field(default_factory=deque)
    _last: tuple[int, int] | None = None

    def on_sent(self, frame: bytes) -> None:
        self.sent += 1
        self._pending.append(digest(frame))

    def on_arrived(self, frame: bytes) -> None:
        self.arrived += 1
        d = digest(frame)
        pend = self._pending
        if pend and pend[0] == d:
            pend.popleft()
            self.delivered += 1
            self._last = d
            return
        if d == self._last:
            self.duplicated += 1
            self._problem(f"frame {self.arrived - 1} on arrival ({d[1]} bytes) repeats the one before it")
            return
        for k in range(1, min(len(pend), self.window)):
            if pend[k] == d:
                self.lost += k
                self._problem(
                    f"frame {self.arrived - 1} on arrival is sent frame {self.delivered + k}: "
                    f"{k} frame(s) before it never arrived"
                )
                for _ in range(k + 1):
                    pend.popleft()
                self.delivered += 1
                self._last = d
                return
        self.corrupt += 1
        self._problem(
            f"frame {self.arrived - 1} on arrival ({d[1]} bytes, CRC-32 {d[0]:#010x}) matches no "
            f"frame outstanding ({len(pend)} outstanding)"
        )

    def settle(self) -> None:
        """The end of a round: whatever is still outstanding is lost."""
        if self._pending:
            self.lost += len(self._pending)
            self._problem(f"{len(self._pending)} sent frame(s) never arrived (the oldest: sent frame {self.delivered})")
            self._pending.clear()

    @property
    def outstanding(self) -> int:
        return len(self._pending)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.corrupt == 0 and self.delivered == self.sent

    def _problem(self, msg: str) -> None:
        if not self.first_problem:
            self.first_problem = msg

    def figures(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "arrived": self.arrived,
            "delivered": self.delivered,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "corrupt": self.corrupt,
            "first_problem": self.first_problem,
        }


# -- memory --------------------------------------------------------------------------------------------------
def rss_mb() -> float:
    """This process's resident set now (Linux /proc; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


# -- per-item results and the summary ------------------------------------------------------------------------
def plan_dir(items: Sequence[Item]) -> Path:
    """Where the results of this plan's items go: a smoke's item of the same name never overwrites the soak's."""
    return ITEMS_DIR / str(sum(i.packets for i in items))


def item_path(name: str, directory: Path) -> Path:
    return directory / f"{name}.json"


def write_item(result: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = item_path(result["item"], directory)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(path)
    return path


def summarize(items: Sequence[Item], results: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Add up the items' results against the plan: what is missing, what was lost, the rates."""
    by_name = {r["item"]: r for r in results}
    rows, missing = [], []
    for it in items:
        r = by_name.get(it.name)
        if r is None:
            missing.append(it.name)
            continue
        if (r.get("seed"), r.get("packets_planned")) != (it.seed, it.packets):
            # a result of another plan under the same name (the smoke's item, another SOAK_PACKETS)
            missing.append(f"{it.name} (its result is of another plan: {r.get('packets_planned')} packets)")
            continue
        rows.append(r)
    tot = {k: sum(r["ledger"][k] for r in rows) for k in ("sent", "delivered", "lost", "duplicated", "corrupt")}
    wall = sum(r["wall_s"] for r in rows)
    by_kind: dict[str, dict[str, float]] = {}
    for r in rows:
        k = by_kind.setdefault(r["kind"], {"packets": 0, "wall_s": 0.0})
        k["packets"] += r["ledger"]["delivered"]
        k["wall_s"] += r["wall_s"]
    for k in by_kind.values():
        k["packets_per_s"] = round(k["packets"] / k["wall_s"], 1) if k["wall_s"] else 0.0
    planned = sum(i.packets for i in items)
    ok = not missing and tot["lost"] == tot["duplicated"] == tot["corrupt"] == 0 and tot["delivered"] == planned
    return {
        "ok": ok,
        "planned_packets": planned,
        "items_planned": len(items),
        "items_run": len(rows),
        "missing": missing,
        **tot,
        "item_wall_s": round(wall, 1),
        "packets_per_item_wall_s": round(tot["delivered"] / wall, 1) if wall else 0.0,
        "by_kind": by_kind,
        "largest_event_log_mb": max((r.get("event_log_mb", 0.0) for r in rows), default=0.0),
        "largest_rss_growth_mb": max((r.get("rss_growth_mb", 0.0) for r in rows), default=0.0),
        "items": rows,
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def format_summary(s: dict[str, Any], path: Path = SUMMARY) -> str:
    lines = [
        f"soak: {s['delivered']:,} of {s['planned_packets']:,} packets delivered in {s['items_run']} of "
        f"{s['items_planned']} items; lost {s['lost']}, duplicated {s['duplicated']}, corrupt {s['corrupt']}"
        f" -> {'PASS' if s['ok'] else 'FAIL'}"
    ]
    lines.append(f"  {'item':<36} {'packets':>8} {'wall s':>8} {'pkt/s':>7} {'log MB':>7} {'RSS +MB':>8}  problem")
    lines.append(f"  {'':<36} {'':>8} {'':>8} {'':>7} {'':>7} {'(warm)':>8}")
    for r in s["items"]:
        led = r["ledger"]
        lines.append(
            f"  {r['item']:<36} {led['delivered']:>8,} {r['wall_s']:>8.1f} "
            f"{led['delivered'] / r['wall_s'] if r['wall_s'] else 0:>7.1f} {r.get('event_log_mb', 0):>7.1f} "
            f"{r.get('rss_growth_mb', 0):>8.1f}  {led['first_problem'] or r.get('error', '')}"
        )
    for name in s["missing"]:
        why = "" if "(" in name else " (no result: the item did not run or did not finish)"
        lines.append(f"  {name:<36}{why}")
    lines.append(
        f"  total {s['delivered']:,} packets, {s['item_wall_s']:.0f} item-seconds "
        f"({s['packets_per_item_wall_s']:.1f} packets per item-second); by kind: "
        + ", ".join(f"{k} {v['packets']:,} at {v['packets_per_s']}/s" for k, v in sorted(s["by_kind"].items()))
    )
    lines.append(
        f"  largest event log {s['largest_event_log_mb']:.1f} MB, largest RSS growth in an item after its "
        f"warm-up rounds {s['largest_rss_growth_mb']:.1f} MB; written to {path}"
    )
    return "\n".join(lines)


def load_results(directory: Path) -> list[dict[str, Any]]:
    out = []
    for p in sorted(directory.glob("*.json")):
        try:
            out.append(json.loads(p.read_text()))
        except (OSError, ValueError):
            continue
    return out


def write_summary(items: Sequence[Item], path: Path = SUMMARY) -> dict[str, Any]:
    s = summarize(items, load_results(plan_dir(items)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(s, indent=1))
    return s


def current_plan() -> list[Item]:
    """The plan this run uses: the full soak under REGRESS (``SOAK_PACKETS`` overrides the total), the smoke
    otherwise."""
    if os.environ.get("REGRESS", "0") not in ("", "0"):
        total = int(os.environ.get("SOAK_PACKETS") or TOTAL_PACKETS)
        return plan(total)
    return smoke_plan()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.soak", description="the soak's plan and summary")
    ap.add_argument("what", choices=("plan", "summary", "clear"))
    args = ap.parse_args(argv)
    items = current_plan()
    if args.what == "plan":
        print(format_plan(items))
        return 0
    if args.what == "clear":  # before a run: results of an earlier run must not count
        for p in plan_dir(items).glob("*.json"):
            p.unlink()
        SUMMARY.unlink(missing_ok=True)
        return 0
    regress = os.environ.get("REGRESS", "0") not in ("", "0")
    s = write_summary(items, SUMMARY if regress else SMOKE_SUMMARY)
    print(format_summary(s, SUMMARY if regress else SMOKE_SUMMARY))
    return 0 if s["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
