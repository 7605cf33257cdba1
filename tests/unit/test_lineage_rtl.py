"""sim/lineage.py (the RTL lineage matrix of make regress): its variant lists match the driver's, and its shape
checks fire on the cells they are about."""

from __future__ import annotations

from sim import lineage
from tb.driver.virtio_net import EVENT_IDX_VARIANTS, VARIANTS


def test_lists_match_the_driver() -> None:
    assert set(lineage.HISTORY) == set(VARIANTS)
    assert set(lineage.KERNEL) == set(VARIANTS)
    assert set(lineage.EVENT_IDX_VARIANTS) == set(EVENT_IDX_VARIANTS)


def _row(variant: str, device: str, offered: bool, acked: bool, irqs: int = 10, kicks: int = 10) -> dict:
    return {
        "variant": variant,
        "device": device,
        "event_idx_offered": offered,
        "event_idx_acked": acked,
        "packets": 100,
        "irq_per_pkt": irqs / 100,
        "kick_per_pkt": kicks / 100,
        "tx_irqs": irqs,
        "tx_dropped": 0,
        "tlp_per_pkt": 5.0,
        "stops": 0,
        "tx_busy": 0,
        "sim_pkts_per_s": 1.0,
    }


def test_shape_checks() -> None:
    good = [
        _row("post", "fast", False, False),
        _row("post", "fast", True, False),
        _row("napi-tx", "fast", False, False),
        _row("napi-tx", "fast", True, True, irqs=2),
    ]
    assert lineage.shape_violations(good) == []
    # an old driver acking EVENT_IDX, a new one not acking it, an offer that changed an old driver's run, drops
    bad = [
        _row("post", "fast", False, False),
        _row("post", "fast", True, True, irqs=3),
        _row("napi-tx", "fast", True, False),
        {**_row("pre", "batched", False, False), "tx_dropped": 2},
    ]
    msgs = lineage.shape_violations(bad)
    assert any("post/fast/EVENT_IDX acked: EVENT_IDX acked = True" in m for m in msgs), msgs
    assert any("napi-tx/fast" in m and "expected True" in m for m in msgs), msgs
    assert any("offered but not acked changed the run" in m for m in msgs), msgs
    assert any("2 drops" in m for m in msgs), msgs


def test_markdown_has_every_cell() -> None:
    rows = [
        _row(v, d, e, e and v in lineage.EVENT_IDX_VARIANTS)
        for v in ("pre", "debian-6.1")
        for d in ("fast", "batched")
        for e in (False, True)
    ]
    md = lineage.markdown(rows, 100)
    assert md.count("| pre (") == 1 and md.count("| debian-6.1 (") == 1
    assert "fast, EVENT_IDX on" in md and "batched, EVENT_IDX off" in md
    assert md.count("0.100 / 0.100") == 8
