"""The soak's plan and ledger (sim/soak.py) and the simulator-agreement comparator (sim/agreement.py), without a
simulator: each check is shown to fail on the fault it is there to catch."""

from __future__ import annotations

import copy
import random

import pytest

from sim import agreement, soak
from sim.soak import Ledger


# -- the soak's plan ---------------------------------------------------------------------------------------
def test_plan_splits_the_total_exactly():
    rates = {m.name: 40.0 + 10 * k for k, m in enumerate(soak.MIXES)}
    items = soak.plan(100_000, rate_pps=rates, target_s=60.0)
    assert sum(i.packets for i in items) == 100_000
    for mix in soak.MIXES:
        mine = [i for i in items if i.mix == mix]
        sizes = [i.packets for i in mine]
        assert max(sizes) - min(sizes) <= 1, sizes
        per_item = int(rates[mix.name] * 60.0)
        assert max(sizes) <= per_item, f"{mix.name}: items of {max(sizes)} packets, at most {per_item} wanted"
        assert [i.index for i in mine] == list(range(len(mine))) and all(i.of == len(mine) for i in mine)
    assert len({i.name for i in items}) == len(items) and len({i.seed for i in items}) == len(items)


def test_the_recorded_rates_cover_every_mix():
    assert set(soak.RATE_PPS) == {m.name for m in soak.MIXES}


def test_plan_without_rates_is_one_item_per_mix():
    items = soak.plan(1200, rate_pps={})
    assert [i.packets for i in items] == [100] * len(soak.MIXES)


def test_plan_refuses_fewer_packets_than_mixes():
    with pytest.raises(ValueError):
        soak.plan(3)


def test_smoke_is_small():
    items = soak.smoke_plan()
    assert sum(i.packets for i in items) == soak.SMOKE_PACKETS and {i.mix.kind for i in items} == {
        "tx",
        "rx",
        "loopback",
    }


def test_summary_counts_a_result_of_another_plan_as_missing(tmp_path):
    items = soak.plan(1200, rate_pps={})
    led = {"sent": 100, "delivered": 100, "lost": 0, "duplicated": 0, "corrupt": 0, "arrived": 100, "first_problem": ""}
    for it in items:
        soak.write_item(
            {
                "item": it.name,
                "kind": it.mix.kind,
                "seed": it.seed,
                "packets_planned": it.packets,
                "ledger": dict(led),
                "wall_s": 2.0,
            },
            tmp_path,
        )
    s = soak.summarize(items, soak.load_results(tmp_path))
    assert s["ok"] and s["delivered"] == 1200 and not s["missing"]
    # the smoke's item of the same name, 40 packets, overwrote one result
    soak.write_item(
        {
            "item": items[0].name,
            "kind": "tx",
            "seed": 1,
            "packets_planned": 40,
            "ledger": {**led, "sent": 40, "delivered": 40},
            "wall_s": 1.0,
        },
        tmp_path,
    )
    s = soak.summarize(items, soak.load_results(tmp_path))
    assert not s["ok"] and len(s["missing"]) == 1 and "another plan" in s["missing"][0]
    assert "another plan" in soak.format_summary(s)


# -- the ledger ------------------------------------------------------------------------------------------
def _frames(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    return [k.to_bytes(4, "big") + rng.randbytes(rng.randint(56, 1510)) for k in range(n)]


def _ledger(sent: list[bytes], arrived: list[bytes]) -> Ledger:
    led = Ledger()
    for f in sent:
        led.on_sent(f)
    for f in arrived:
        led.on_arrived(f)
    led.settle()
    return led


def test_ledger_passes_every_frame_once_in_order():
    frames = _frames(300)
    led = _ledger(frames, frames)
    assert led.ok and led.figures()["delivered"] == 300 and led.outstanding == 0


def test_ledger_counts_a_dropped_frame():
    frames = _frames(50)
    led = _ledger(frames, frames[:20] + frames[21:])
    assert (led.lost, led.duplicated, led.corrupt, led.delivered) == (1, 0, 0, 49) and not led.ok
    assert "1 frame(s) before it never arrived" in led.first_problem


def test_ledger_counts_a_repeated_frame():
    frames = _frames(50)
    led = _ledger(frames, frames[:20] + [frames[19]] + frames[20:])
    assert (led.lost, led.duplicated, led.corrupt) == (0, 1, 0) and not led.ok
    assert "repeats the one before it" in led.first_problem


def test_ledger_counts_a_lost_tail_and_a_corrupt_frame():
    frames = _frames(50)
    bad = bytearray(frames[10])
    bad[5] ^= 1
    led = _ledger(frames, frames[:10] + [bytes(bad)] + frames[11:45])
    # the corrupt frame stands where frame 10 was: 10 is found missing when 11 arrives; 45..49 never came
    assert (led.corrupt, led.lost, led.duplicated) == (1, 1 + 5, 0) and not led.ok


def test_ledger_counts_an_unsent_frame():
    frames = _frames(10)
    led = _ledger(frames[:5], frames[:6])
    assert led.corrupt == 1 and not led.ok


# -- the comparator --------------------------------------------------------------------------------------
def _log(n: int = 40) -> list[dict]:
    rng = random.Random(5)
    out, cycle = [], 0
    for k in range(n):
        cycle += rng.randint(0, 3)
        src = rng.choice(("pcie", "driver", "irq", "wire"))
        e = {"cycle": cycle, "time_ns": cycle * 4.0, "source": src, "event": f"e{k % 5}", "value": rng.getrandbits(16)}
        if src == "driver":
            e["token"] = 140000000000000 + rng.choice((0, 64, 128)) * 1000
        out.append(e)
    return out


def test_identical_logs_agree():
    log = _log()
    assert agreement.compare(log, copy.deepcopy(log)).ok


def test_a_one_cycle_shift_is_reported_where_it_starts():
    a = _log()
    b = copy.deepcopy(a)
    for e in b[17:]:
        e["cycle"] += 1
        e["time_ns"] += 4.0
    res = agreement.compare(a, b)
    assert not res.ok and res.first is not None
    assert res.first.index == 17 and res.first.cycle == a[17]["cycle"] and res.first.what == "cycle"
    assert res.first.fields["cycle"] == (a[17]["cycle"], a[17]["cycle"] + 1)
    text = res.summary("verilator", "icarus")
    assert f"first difference at event 17, cycle {a[17]['cycle']}" in text and "verilator" in text
    assert len(res.first.context_a) == 5 and res.first.context_a[-1] == a[17]


def test_a_changed_field_a_missing_event_and_a_reorder_are_reported():
    a = _log()
    b = copy.deepcopy(a)
    b[9]["value"] ^= 1
    res = agreement.compare(a, b)
    assert res.first is not None and res.first.index == 9 and set(res.first.fields) == {"value"}
    res = agreement.compare(a, a[:-1])
    assert res.first is not None and res.first.index == len(a) - 1 and "B ends here" in res.first.what
    b = copy.deepcopy(a)
    b[3], b[4] = b[4], b[3]
    res = agreement.compare(a, b)
    assert res.first is not None and res.first.index == 3


def test_tokens_are_compared_by_pattern_not_by_address():
    a = _log()
    b = copy.deepcopy(a)
    for e in b:
        if "token" in e:
            e["token"] += 77  # another process, other addresses, the same buffers
    assert agreement.compare(a, b).ok
    # a different buffer coming back is still a difference
    drv = [k for k, e in enumerate(b) if "token" in e]
    first_two = {b[drv[0]]["token"]}
    k = next(k for k in drv if b[k]["token"] not in first_two)
    b[k]["token"] = b[drv[0]]["token"]
    res = agreement.compare(a, b)
    assert not res.ok and res.first is not None and "token" in res.first.fields


def test_x_digits_only_where_allowed():
    a = [{"cycle": 1, "time_ns": 4.0, "source": "pcie", "event": "tlp", "data": "00ff12ab"}]
    b = [{"cycle": 1, "time_ns": 4.0, "source": "pcie", "event": "tlp", "data": "00ffxxab"}]
    res = agreement.compare(a, b)
    assert res.ok and len(res.x_matches) == 1
    assert not agreement.compare(a, b, allow_x=False).ok
    b[0]["data"] = "01ffxxab"  # a known digit differs too
    assert not agreement.compare(a, b).ok
    assert not agreement.compare(b, a).ok, "X is allowed in the Icarus log only (b by default)"


def test_allowed_fields_are_counted_not_compared():
    a = [{"cycle": 9, "time_ns": 36.0, "source": "checker", "event": "test", "verdict": "pass", "msg": "v"}]
    b = [{"cycle": 9, "time_ns": 36.0, "source": "checker", "event": "test", "verdict": "pass", "msg": "i"}]
    res = agreement.compare(a, b)
    assert res.ok and len(res.allowed) == 1
    b[0]["verdict"] = "fail"
    assert not agreement.compare(a, b).ok


# -- the checkers' compaction between soak rounds ------------------------------------------------------------
def test_shadow_history_folds_into_one_image():
    from tb.checkers.shadow import HostShadow

    m = HostShadow()
    m.watch(0x1000, 0x1010)
    for k in range(1, 50):
        m.write(float(k), 0x1000 + k % 4, bytes([k]))
    before = {t: m.value_at(0x1000, 4, t) for t in (30.0, 40.0, 45.0, 49.0)}
    assert m.forget_before(40.0) == 40  # the starting image and 40 writes become one image
    assert len(m._hist[(0x1000, 0x1010)]) == 1 + 9
    for t in (40.0, 45.0, 49.0):
        assert m.value_at(0x1000, 4, t) == before[t], t
    assert m.value_at(0x1000, 4, 30.0) == before[40.0] != before[30.0], "the image at 40 answers for earlier times"
    assert m.forget_before(40.0) == 0, "nothing more to fold"


def test_rx_delivery_after_compact_still_catches_a_repeat():
    from tests.unit.test_checkers_rx import frame, make, post, used

    hub, _clk = make()
    rx = hub.by_name("rx_delivery")
    for k in range(3):
        post(hub, k, k)
        hub.rx_frame(0.0, frame(k), False)
        hub.dev_write(0x40_0000 + k * 0x1000, bytes(10) + frame(k), "rx data")
        used(hub, k, k, 70, k + 1)
    hub.compact(1.0)
    assert [w.data for w in rx.wire] == [b""] * 3 and rx.delivered == [b""] * 3
    assert not hub.violations
    # the device publishes frame 1 once more: a repeat of a frame whose bytes were forgotten
    post(hub, 3, 3)
    hub.dev_write(0x40_0000 + 3 * 0x1000, bytes(10) + frame(1), "rx data")
    used(hub, 3, 3, 70, 4)
    assert any("again" in v.msg for v in hub.violations), [v.msg for v in hub.violations]
