"""Functional cover points: which ring situations the simulation runs reached, read from their event logs.

The list of cover points is ``POINTS`` below, each with a one-line meaning; a point's name is
``group.item``. The collector (``hits_of_log``) reads one test's event log (``<test>.events.jsonl``,
sim/events.py) the way a checker does: it sees the driver's trace events, the testbench's own events and the
checkers' verdicts, and never imports or reads the driver. Under ``COVERAGE=1`` each run writes the points its
tests hit to ``<run dir>/cover_hits.json`` (``write_run_hits``, called by sim/runner.py); ``make coverage``
merges those files (sim/coverage.py) and reports hit/total per group and every point left unhit.

Where a point comes from:

- ``ring_wrap``: the driver's ring accesses: ``avail_ring_write`` slots (the avail ring's end, at the running
  queue size: ``size_max`` at the device's QUEUE_SIZE, ``size_small`` at a negotiated smaller one),
  ``used_elem_read`` slots (the used ring's end); the generated rings' ``ring_span`` events (test_ring_fuzz:
  the device used more entries than the ring holds, at the case's queue size); the 16-bit indices
  (``avail_idx_write`` / ``used_elem_read`` passing 0xFFFF, or a block test's ``ring_indices`` event:
  test_virtq_tx.py ``test_small_frames_wrap`` under REGRESS, more than 65,535 entries published and used).
- ``chain``: the descriptors the driver writes for one buffer (``desc_write`` events up to its ``add_buf``), or
  the entries of its indirect table (``indirect_table_write``), and the valid chains of the generated rings
  (``ring_chains`` testbench events of test_ring_fuzz, TX): lengths 1..``CHAIN_MAX`` per queue, INDIRECT.
- ``error``: the device stopped the queue with cause N (README "Reset and errors"): the ``ring_case``
  verdicts of tests/sim/test_ring_fuzz.py (``outcome = "stopped: cause N"``).
- ``dma_error``: the ``dma_error`` verdicts of test_ring_fuzz (error kind x the device read it hit).
- ``suppression``: interrupt and kick suppression as the driver met it (an interrupt with avail.flags
  NO_INTERRUPT clear or set, used.flags NO_NOTIFY, EVENT_IDX's kick decision), the callbacks
  (disable_cb, enable_cb and enable_cb_delayed with each return value), the features acked (EVENT_IDX and
  NOTIFY_ON_EMPTY on and off) and the device's modes (``device_modes`` testbench events: notify-on-empty
  policy, push policy, kick suppression, pacing).
- ``variant``: each driver variant probed (``probe_done``).
- ``race``: each offset (cycles from the driver's flags write to the device's used.idx write) that a race
  sweep reached, from its ``race_offsets`` testbench event (tests/sim/test_checkers.py, test_virtio_rx.py).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

HITS_FILE = "cover_hits.json"

TX_VQ, RX_VQ = 1, 0
QUEUE_SIZE = 256  # the device's largest ring (the legacy interface's size; hdl/virtio_net_usp.v QUEUE_SIZE)
# the longest chain for one buffer: TX, virtio_net_hdr + the linear part + MAX_SKB_FRAGS (18) fragments (2.6.32's
# xmit_skb, 2 + MAX_SKB_FRAGS; length 1, header and frame in one buffer, from the generated rings); RX, the small
# receive buffer (header + data; 1: a mergeable buffer). The big-packets receive buffer (MAX_SKB_FRAGS + 2) is
# never built against this device: a driver posts it only with GUEST_TSO4/6 or GUEST_ECN, which it does not offer.
CHAIN_MAX = {"tx": 20, "rx": 2}
RACE_OFFSETS = range(-32, 33)  # the offsets every race sweep asserts it reached (cycles)
RACE_SWEEPS = {
    "tx": "TX ring-full stop path (test_checkers.py race_sweep)",
    "tx_delayed": "cb-delayed's stop path with EVENT_IDX (test_checkers.py delayed_race_sweep; all offsets: REGRESS)",
    "rx": "NAPI's re-check after enable_cb (test_virtio_rx.py rx_race_sweep)",
}
ERROR_CAUSES = {
    1: "avail.idx more than the queue size ahead",
    2: "descriptor next out of range",
    3: "chain longer than the queue (loop)",
    4: "INDIRECT without the feature acked",
    5: "INDIRECT inside INDIRECT or after other descriptors",
    6: "bad indirect table length",
    7: "descriptor of the wrong direction (WRITE on TX)",
    9: "DMA read error status",
}
# cause 10 (DMA write error status) is not a point: the device's PCIe write engine (hdl/pcie/pcie_us_dma_wr.v)
# always reports 0, memory writes being posted; the queues' handling of it is reached by the block tests
# (tests/sim/dma_model.py ``wr_fail``), which write no event log.
DMA_ERRORS = {
    "ur": "Unsupported Request",
    "ca": "Completer Abort",
    "poisoned": "poisoned completion data",
    "timeout": "a lost completion (the hard block's completion timeout)",
}
READ_KINDS = ("avail", "ring_entry", "descriptor", "table", "buffer")
VARIANTS = ("post", "pre", "pre-a", "post-cap", "event-idx", "cb-delayed", "napi-tx", "debian-6.1")

NO_INTERRUPT = 1  # VRING_AVAIL_F_NO_INTERRUPT
NO_NOTIFY = 1  # VRING_USED_F_NO_NOTIFY
F_NOTIFY_ON_EMPTY = 24
F_EVENT_IDX = 29


def _points() -> dict[str, str]:
    p: dict[str, str] = {}
    for q, name in (("tx", "TX"), ("rx", "RX")):
        p[f"ring_wrap.{q}_avail_slot"] = f"{name}: the avail ring wrapped (an entry in slot 0 after the last slot)"
        p[f"ring_wrap.{q}_used_slot"] = f"{name}: the used ring wrapped (an element in slot 0 after the last slot)"
    p["ring_wrap.size_max"] = f"a ring wrapped at the full size ({QUEUE_SIZE})"
    p["ring_wrap.size_small"] = "a ring wrapped at a negotiated smaller size (the modern interface's queue_size)"
    # the 16-bit indices: the same virtq_avail / virtq_used blocks serve both queues
    p["ring_wrap.avail_idx_u16"] = "avail.idx passed 0xFFFF -> 0 (either queue, or the TX block test)"
    p["ring_wrap.used_idx_u16"] = "used.idx passed 0xFFFF -> 0 (either queue, or the TX block test)"
    for q, name in (("tx", "TX"), ("rx", "RX")):
        for n in range(1, CHAIN_MAX[q] + 1):
            p[f"chain.{q}_len_{n}"] = f"{name}: a buffer of {n} descriptor{'s' if n > 1 else ''} (direct or in a table)"
        p[f"chain.{q}_indirect"] = f"{name}: a buffer as one INDIRECT descriptor and its table"
    for c, why in ERROR_CAUSES.items():
        p[f"error.cause_{c}"] = f"the device stopped a queue with cause {c}: {why}"
    for e, what in DMA_ERRORS.items():
        for r in READ_KINDS:
            p[f"dma_error.{e}_{r}"] = f"{what} on the device's {r.replace('_', ' ')} read"
    s = {
        "irq_flags_clear": "a queue interrupt while avail.flags NO_INTERRUPT was clear",
        "irq_flags_set": "a queue interrupt while NO_INTERRUPT was set (notify on empty, or EVENT_IDX's used_event)",
        "kick_no_notify_set": "the driver read used.flags with NO_NOTIFY set (the device suppressing kicks)",
        "kick_no_notify_clear": "the driver read used.flags with NO_NOTIFY clear",
        "kick_event_idx_kick": "EVENT_IDX: avail_event asked for the kick",
        "kick_event_idx_skip": "EVENT_IDX: avail_event let the driver skip the kick",
        "cb_disable": "disable_cb",
        "cb_enable_true": "enable_cb found nothing more (callbacks on)",
        "cb_enable_false": "enable_cb found more used buffers (the re-check caught a race)",
        "cb_enable_delayed_true": "enable_cb_delayed: used_event set ahead, nothing past it yet",
        "cb_enable_delayed_false": "enable_cb_delayed: the device was already past the new used_event",
        "used_event_write": "the driver wrote used_event (EVENT_IDX interrupt suppression)",
        "event_idx_on": "a driver acked VIRTIO_RING_F_EVENT_IDX",
        "event_idx_off": "a driver probed without VIRTIO_RING_F_EVENT_IDX",
        "noe_acked": "a driver acked VIRTIO_F_NOTIFY_ON_EMPTY",
        "noe_not_acked": "a driver probed without VIRTIO_F_NOTIFY_ON_EMPTY",
        "policy_noe_when_acked": "device mode: notify on empty WHEN_ACKED",
        "policy_noe_always": "device mode: notify on empty ALWAYS (QEMU <= 0.11)",
        "policy_noe_never": "device mode: notify on empty NEVER",
        "policy_push_per_packet": "device mode: used ring pushed per packet",
        "policy_push_batched": "device mode: used ring pushed in batches",
        "policy_kick_suppress": "device mode: kick suppression (NO_NOTIFY while processing)",
        "policy_pacing_timer": "device mode: TX pacing timer (QEMU tx=timer)",
    }
    for k, v in s.items():
        p[f"suppression.{k}"] = v
    for v in VARIANTS:
        p[f"variant.{v}"] = f"the {v} driver variant probed and ran"
    for sweep, what in RACE_SWEEPS.items():
        for off in RACE_OFFSETS:
            p[f"race.{sweep}_{off}"] = f"{what}: offset {off:+d} cycles reached"
    return p


POINTS: dict[str, str] = _points()
NOE_POLICIES = {0: "when_acked", 1: "always", 2: "never"}


def group_of(point: str) -> str:
    return point.split(".", 1)[0]


class Collector:
    """Feed one test's events in order (``feed``); ``hits`` holds the points reached. Unknown events are ignored."""

    def __init__(self) -> None:
        self.hits: set[str] = set()
        self.flags: dict[int, int] = {}  # vq -> the driver's last avail.flags
        self.last_avail_slot: dict[int, int] = {}
        self.max_avail_slot: dict[int, int] = {}
        self.last_used_slot: dict[int, int] = {}
        self.last_avail_idx: dict[int, int] = {}
        self.last_used_idx: dict[int, int] = {}
        self.descs: dict[int, int] = {}  # vq -> descriptors written since its last add_buf
        self.table: dict[int, int] = {}  # vq -> entries of the indirect table written for the next add_buf

    def _hit(self, point: str) -> None:
        if point in POINTS:
            self.hits.add(point)

    def feed(self, e: Mapping[str, Any]) -> None:
        src, ev = e.get("source"), e.get("event")
        if src == "driver":
            self._driver(ev, e)
        elif src == "tb":
            self._tb(ev, e)
        elif src == "checker":
            self._checker(ev, e)

    @staticmethod
    def _q(vq: Any) -> str | None:
        return {TX_VQ: "tx", RX_VQ: "rx"}.get(vq) if isinstance(vq, int) else None

    def _driver(self, ev: Any, e: Mapping[str, Any]) -> None:
        vq = e.get("vq")
        q = self._q(vq)
        if ev == "features":  # a new probe: new rings (another size, indices from 0)
            for state in (
                self.flags,
                self.last_avail_slot,
                self.max_avail_slot,
                self.last_used_slot,
                self.last_avail_idx,
                self.last_used_idx,
                self.descs,
                self.table,
            ):
                state.clear()
            acked = int(e.get("acked") or 0)
            self._hit("suppression.event_idx_on" if acked >> F_EVENT_IDX & 1 else "suppression.event_idx_off")
            self._hit("suppression.noe_acked" if acked >> F_NOTIFY_ON_EMPTY & 1 else "suppression.noe_not_acked")
        elif ev == "probe_done":
            self._hit(f"variant.{e.get('variant')}")
        elif q is None or not isinstance(vq, int):
            return
        elif ev == "desc_write":
            self.descs[vq] = self.descs.get(vq, 0) + 1
        elif ev == "indirect_table_write":
            self.table[vq] = int(e.get("entries") or 0)
        elif ev == "add_buf":
            n = self.table.pop(vq, None)
            if n is not None:
                self._hit(f"chain.{q}_indirect")
            else:
                n = self.descs.get(vq, 0)
            if n:
                self._hit(f"chain.{q}_len_{n}")
            self.descs[vq] = 0
        elif ev == "add_buf_full":
            self.descs[vq] = 0
            self.table.pop(vq, None)
        elif ev == "avail_ring_write":
            slot = int(e["slot"])
            last = self.last_avail_slot.get(vq)
            self.max_avail_slot[vq] = max(self.max_avail_slot.get(vq, 0), slot)
            if last is not None and slot < last:
                self._hit(f"ring_wrap.{q}_avail_slot")
                self._size_wrap(self.max_avail_slot[vq] + 1)
            self.last_avail_slot[vq] = slot
        elif ev == "avail_idx_write":
            self._idx(self.last_avail_idx, vq, int(e["value"]), "ring_wrap.avail_idx_u16")
        elif ev == "used_elem_read":
            slot = int(e["slot"])
            last = self.last_used_slot.get(vq)
            if last is not None and slot < last:
                self._hit(f"ring_wrap.{q}_used_slot")
            self.last_used_slot[vq] = slot
            self._idx(self.last_used_idx, vq, int(e["used_idx"]), "ring_wrap.used_idx_u16")
        elif ev == "avail_flags_write":
            self.flags[vq] = int(e.get("value") or 0)
        elif ev == "vring_interrupt" and e.get("handled"):
            set_ = self.flags.get(vq, 0) & NO_INTERRUPT
            self._hit("suppression.irq_flags_set" if set_ else "suppression.irq_flags_clear")
        elif ev == "used_flags_read":
            set_ = int(e.get("value") or 0) & NO_NOTIFY
            self._hit("suppression.kick_no_notify_set" if set_ else "suppression.kick_no_notify_clear")
        elif ev == "kick_prepare" and e.get("event_idx"):
            self._hit("suppression.kick_event_idx_kick" if e.get("needs_kick") else "suppression.kick_event_idx_skip")
        elif ev == "disable_cb":
            self._hit("suppression.cb_disable")
        elif ev == "enable_cb":
            self._hit("suppression.cb_enable_true" if e.get("ret") else "suppression.cb_enable_false")
        elif ev == "enable_cb_delayed":
            self._hit("suppression.cb_enable_delayed_true" if e.get("ret") else "suppression.cb_enable_delayed_false")
        elif ev == "used_event_write":
            self._hit("suppression.used_event_write")

    def _size_wrap(self, size: int) -> None:
        self._hit("ring_wrap.size_max" if size >= QUEUE_SIZE else "ring_wrap.size_small")

    def _idx(self, last: dict[int, int], vq: int, value: int, point: str) -> None:
        prev = last.get(vq)
        if prev is not None and value < prev and (value - prev) & 0xFFFF < 0x8000:
            self._hit(point)  # moved forward (mod 2^16) to a smaller number: it passed 0xFFFF
        last[vq] = value

    def _tb(self, ev: Any, e: Mapping[str, Any]) -> None:
        if ev == "device_modes":
            self._hit(f"suppression.policy_noe_{NOE_POLICIES.get(int(e.get('noe_policy') or 0), '?')}")
            self._hit(f"suppression.policy_push_{e.get('push')}")
            if e.get("kick_suppress"):
                self._hit("suppression.policy_kick_suppress")
            if e.get("pacing_timer"):
                self._hit("suppression.policy_pacing_timer")
        elif ev == "ring_indices":  # a block test's count of published and used entries (from index 0)
            if int(e.get("published") or 0) > 0xFFFF:
                self._hit("ring_wrap.avail_idx_u16")
            if int(e.get("used") or 0) > 0xFFFF:
                self._hit("ring_wrap.used_idx_u16")
        elif ev == "ring_span":  # a generated ring (TX, indices from 0): the device used more entries than it holds
            q_size, used = int(e.get("qsize") or 0), int(e.get("used") or 0)
            if q_size and used > q_size:
                self._hit("ring_wrap.tx_avail_slot")
                self._hit("ring_wrap.tx_used_slot")
                self._size_wrap(q_size)
        elif ev == "ring_chains":  # the generated rings' valid chains (TX): [descriptors, indirect]
            for n, indirect in e.get("chains") or ():
                self._hit(f"chain.tx_len_{int(n)}")
                if indirect:
                    self._hit("chain.tx_indirect")
        elif ev == "race_offsets":
            for off in e.get("offsets") or {}:
                self._hit(f"race.{e.get('sweep')}_{int(off)}")
        elif ev == "power_on":  # a new device (several tests can share one log only through their own logs)
            self.flags.clear()

    def _checker(self, ev: Any, e: Mapping[str, Any]) -> None:
        if ev == "ring_case":
            m = re.match(r"stopped: cause (\d+)", str(e.get("outcome") or ""))
            if m:
                self._hit(f"error.cause_{m.group(1)}")
        elif ev == "dma_error":
            self._hit(f"dma_error.{e.get('error')}_{e.get('read')}")


def hits_of_events(events: Iterable[Mapping[str, Any]]) -> set[str]:
    c = Collector()
    for e in events:
        c.feed(e)
    return c.hits


def hits_of_log(path: Path) -> set[str]:
    """The points one event log reaches (read line by line: a log can hold a million events)."""
    c = Collector()
    with open(path) as f:
        for line in f:
            if line.strip():
                try:
                    c.feed(json.loads(line))
                except ValueError:
                    continue  # a line cut short by a simulator that was stopped
    return c.hits


def write_run_hits(test_dir: Path) -> Path:
    """``<run dir>/cover_hits.json``: per event log of the run, the points it hit."""
    per_log = {p.name: sorted(hits_of_log(p)) for p in sorted(Path(test_dir).glob("*.events.jsonl"))}
    out = Path(test_dir) / HITS_FILE
    out.write_text(json.dumps({"logs": per_log}, indent=1) + "\n")
    return out


def read_hits(path: Path) -> set[str]:
    data = json.loads(Path(path).read_text())
    return {p for hits in data.get("logs", {}).values() for p in hits}


def main(argv: list[str] | None = None) -> int:
    """``python -m sim.cover_points [event logs...]``: the points those logs hit (no argument: the list)."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        for name, meaning in POINTS.items():
            print(f"{name:42} {meaning}")
        return 0
    hits: set[str] = set()
    for a in args:
        hits |= hits_of_log(Path(a))
    for name in sorted(hits):
        print(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
