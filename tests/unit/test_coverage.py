"""make coverage's own code on small synthetic inputs: the coverage.dat merge, the per-file summary, the holes,
the lcov file, the test-only fault regions, the functional cover points and the target check."""

from __future__ import annotations

import json
from pathlib import Path

from sim import cover_points, coverage

BLOCK = "/elsewhere/checkout/hdl/virtio/blk.v"
SOURCE = "\n".join(f"line {i}" for i in range(1, 21)) + "\n"


def key(**kv: str) -> str:
    return "".join(f"\x01{k}\x02{v}" for k, v in kv.items())


def dat(path: Path, points: dict[str, int]) -> Path:
    coverage.write_dat(points, path)
    return path


def block_points(if_hit: int, else_hit: int, tog: int) -> dict[str, int]:
    return {
        key(f=BLOCK, l="3", n="1", t="line", o="block", S="3-4", h="top.u0"): 5,
        key(f=BLOCK, l="6", n="2", t="branch", o="if", S="6-7", h="top.u0"): if_hit,
        key(f=BLOCK, l="8", n="3", t="branch", o="else", h="top.u0"): else_hit,
        key(f=BLOCK, l="2", n="9", t="toggle", o="x:0->1", h="top.u0"): tog,
        key(f=BLOCK, l="2", n="9", t="toggle", o="x:1->0", h="top.u0"): 0,
        key(f=BLOCK, l="2", n="9", t="toggle", o="fault_knob:0->1", h="top.u0"): 0,
    }


def test_merge_sums_counts_per_point(tmp_path):
    a = dat(tmp_path / "a.dat", block_points(if_hit=1, else_hit=0, tog=0))
    b = dat(tmp_path / "b.dat", block_points(if_hit=2, else_hit=0, tog=3))
    merged = coverage.merge_dats([a, b])
    assert merged[key(f=BLOCK, l="3", n="1", t="line", o="block", S="3-4", h="top.u0")] == 10
    assert merged[key(f=BLOCK, l="6", n="2", t="branch", o="if", S="6-7", h="top.u0")] == 3
    # written and read back unchanged
    again = coverage.read_dat(dat(tmp_path / "m.dat", merged))
    assert again == merged
    assert (tmp_path / "m.dat").read_text().startswith(coverage.HEADER)


def test_summary_lines_toggles_and_holes(tmp_path):
    points = coverage.merge_dats([dat(tmp_path / "a.dat", block_points(if_hit=1, else_hit=0, tog=4))])
    files = coverage.summarize(points, fault_lines_of=lambda rel: set())
    fc = files["hdl/virtio/blk.v"]
    # lines 3, 4 (block), 6, 7 (if branch), 8 (else, never taken)
    assert sorted(fc.lines) == [3, 4, 6, 7, 8]
    assert fc.holes() == [8]
    assert fc.line_pct() == 80.0
    # toggles: x rose, never fell; the fault knob's toggle is left out
    assert fc.toggle_hit == 1 and len(fc.toggles) == 2 and fc.excluded_toggles == 1
    (tmp_path / "hdl" / "virtio").mkdir(parents=True)
    (tmp_path / "hdl" / "virtio" / "blk.v").write_text(SOURCE)
    holes = coverage.hole_report(files, root=tmp_path)
    assert holes == ["hdl/virtio/blk.v: 1 unhit line", "      8: line 8"]
    table = "\n".join(coverage.summary_table(files))
    assert "hdl/virtio/blk.v" in table and "80.0 %" in table and "50.0 %" in table


def test_only_device_rtl_is_summarized():
    points = {
        key(f="/x/checkout/tests/sim/hdl/tb_blk.v", l="3", n="1", t="line", o="block", S="3"): 0,
        key(f="/x/checkout/hdl/pcie/dma_ram.v", l="3", n="1", t="line", o="block", S="3"): 1,
    }
    assert list(coverage.summarize(points, fault_lines_of=lambda rel: set())) == ["hdl/pcie/dma_ram.v"]
    assert coverage.rel_source("/x/checkout/tests/sim/hdl/tb_blk.v") == "tests/sim/hdl/tb_blk.v"


def test_a_line_is_hit_only_when_every_point_on_it_is():
    points = {
        key(f=BLOCK, l="5", n="1", t="branch", o="if", S="5"): 7,
        key(f=BLOCK, l="5", n="2", t="branch", o="else"): 0,
    }
    fc = coverage.summarize(points, fault_lines_of=lambda rel: set())["hdl/virtio/blk.v"]
    assert fc.lines == {5: 0}


def test_copies_of_one_branch_count_once():
    points = {  # one ?: the model evaluates in two places: each arm taken in one of them
        key(f=BLOCK, l="9", n="36", t="branch", o="cond_then", S="9"): 4,
        key(f=BLOCK, l="9", n="37", t="branch", o="cond_else", S="9"): 0,
        key(f=BLOCK, l="9", n="75", t="branch", o="cond_then", S="9"): 0,
        key(f=BLOCK, l="9", n="76", t="branch", o="cond_else", S="9"): 2,
    }
    fc = coverage.summarize(points, fault_lines_of=lambda rel: set())["hdl/virtio/blk.v"]
    assert fc.lines == {9: 2}
    del points[key(f=BLOCK, l="9", n="76", t="branch", o="cond_else", S="9")]
    fc = coverage.summarize(points, fault_lines_of=lambda rel: set())["hdl/virtio/blk.v"]
    assert fc.lines == {9: 0}, "the else arm was never taken"


def test_lcov_file(tmp_path):
    points = block_points(if_hit=1, else_hit=0, tog=0)
    files = coverage.summarize(points, fault_lines_of=lambda rel: set())
    coverage.write_lcov(files, tmp_path / "c.info", root=Path("/repo"))
    text = (tmp_path / "c.info").read_text()
    assert "SF:/repo/hdl/virtio/blk.v\n" in text
    assert "DA:8,0\n" in text and "DA:3,5\n" in text
    assert "LF:5\nLH:4\nend_of_record\n" in text


FAULT_RTL = """module m;
/* fault (test only, FAULT_ENABLE): a header comment
 */ always @* begin
    x = 1'b0;
    if (FAULT_ENABLE != 0 && fault_a
            && y) begin
        x = 1'b1;
    end
    if (FAULT_ENABLE != 0 && fault_b) begin
        z = 1'b1;
    end else begin
        z = 1'b0;
    end
    w = (FAULT_ENABLE != 0) ? fault : 0;
    if (!(FAULT_ENABLE != 0 && fault_c)) begin
        v = 1'b1;
    end
end
generate
    if (FAULT_ENABLE != 0) begin : g_fault
        assign q = r;
    end else begin : g_no_fault
        assign q = 0;
    end
endgenerate
endmodule
"""


def test_fault_regions_are_the_bodies_of_fault_enable_ifs():
    lines = coverage.fault_regions(FAULT_RTL)
    # the first if (two-line condition) through its end; the second without its else; the knob multiplexer; the
    # negated condition's own line (its else is the knob's), not its body; the generate block
    assert lines == {5, 6, 7, 8, 9, 10, 14, 15, 20, 21}


def test_fault_lines_leave_the_percentages():
    points = {
        key(f=BLOCK, l="3", n="1", t="line", o="block", S="3"): 1,
        key(f=BLOCK, l="6", n="2", t="branch", o="if", S="6-7"): 0,  # a knob's body, never on in this run
        key(f=BLOCK, l="6", n="3", t="toggle", o="y:0->1"): 0,
    }
    fc = coverage.summarize(points, fault_lines_of=lambda rel: {6, 7})["hdl/virtio/blk.v"]
    assert fc.lines == {3: 1} and fc.holes() == []
    assert fc.excluded_lines == {6, 7} and fc.excluded_toggles == 1


def ev(source: str, event: str, **fields) -> dict:
    return {"source": source, "event": event, **fields}


def test_cover_points_from_events():
    events = [
        ev("driver", "features", acked=1 << 29),
        ev("driver", "probe_done", variant="post"),
        ev("tb", "device_modes", noe_policy=1, push="batched", kick_suppress=True, pacing_timer=False),
        # a 3-descriptor chain, then a 5-entry indirect table
        *[ev("driver", "desc_write", vq=1, desc=i) for i in range(3)],
        ev("driver", "avail_ring_write", vq=1, slot=254),
        ev("driver", "add_buf", vq=1, head=0),
        ev("driver", "desc_write", vq=1, desc=3),
        ev("driver", "indirect_table_write", vq=1, entries=5),
        ev("driver", "avail_ring_write", vq=1, slot=255),
        ev("driver", "add_buf", vq=1, head=3),
        ev("driver", "avail_ring_write", vq=1, slot=0),
        ev("driver", "avail_idx_write", vq=1, value=0xFFFF),
        ev("driver", "avail_idx_write", vq=1, value=0x0001),
        ev("driver", "avail_flags_write", vq=1, value=1),
        ev("driver", "vring_interrupt", vq=1, handled=True),
        ev("driver", "enable_cb", vq=1, ret=False),
        ev("tb", "race_offsets", sweep="rx", offsets={"-3": 2, "7": 1}),
        ev("checker", "ring_case", verdict="pass", outcome="stopped: cause 6"),
        ev("checker", "dma_error", verdict="pass", error="poisoned", read="table"),
    ]
    hits = cover_points.hits_of_events(events)
    for p in (
        "suppression.event_idx_on",
        "suppression.noe_not_acked",
        "variant.post",
        "suppression.policy_noe_always",
        "suppression.policy_push_batched",
        "suppression.policy_kick_suppress",
        "chain.tx_len_3",
        "chain.tx_len_5",
        "chain.tx_indirect",
        "ring_wrap.tx_avail_slot",
        "ring_wrap.size_max",
        "ring_wrap.avail_idx_u16",
        "suppression.irq_flags_set",
        "suppression.cb_enable_false",
        "race.rx_-3",
        "race.rx_7",
        "error.cause_6",
        "dma_error.poisoned_table",
    ):
        assert p in hits, p
    assert "chain.tx_len_1" not in hits and "ring_wrap.size_small" not in hits
    assert "suppression.policy_pacing_timer" not in hits and "error.cause_7" not in hits
    # every point reported is one of the list, each with a meaning
    assert hits <= set(cover_points.POINTS) and all(cover_points.POINTS[p] for p in hits)


def test_a_new_probe_starts_new_rings():
    events = [ev("driver", "avail_ring_write", vq=1, slot=s) for s in (254, 255, 0, 1)]
    events += [ev("driver", "features", acked=0)]  # probed again, at a queue size of 8
    events += [ev("driver", "avail_ring_write", vq=1, slot=s) for s in (6, 7, 0)]
    hits = cover_points.hits_of_events(events)
    assert {"ring_wrap.size_max", "ring_wrap.size_small"} <= hits


def test_a_small_ring_wrap_and_an_index_that_does_not_wrap():
    hits = cover_points.hits_of_events(
        [ev("driver", "avail_ring_write", vq=0, slot=s) for s in (5, 6, 7, 0)]
        + [ev("driver", "avail_idx_write", vq=0, value=v) for v in (10, 9)]  # backwards (a reset): no wrap
    )
    assert {"ring_wrap.rx_avail_slot", "ring_wrap.size_small"} <= hits
    span = cover_points.hits_of_events(
        [ev("tb", "ring_span", qsize=4, used=5), ev("tb", "ring_span", qsize=256, used=9)]
    )
    assert span == {"ring_wrap.tx_avail_slot", "ring_wrap.tx_used_slot", "ring_wrap.size_small"}
    assert "ring_wrap.avail_idx_u16" not in hits
    assert cover_points.hits_of_events([ev("tb", "ring_indices", published=65836, used=65535)]) == {
        "ring_wrap.avail_idx_u16"
    }


def _run_dir(root: Path, name: str, points: dict[str, int], logs: dict[str, list[str]]) -> Path:
    d = root / name
    d.mkdir(parents=True)
    dat(d / "coverage.dat", points)
    (d / cover_points.HITS_FILE).write_text(json.dumps({"logs": logs}))
    return d


def test_an_unhit_cover_point_is_a_hole_and_fails_the_check(tmp_path, capsys):
    every = sorted(cover_points.POINTS)
    left_out = "race.tx_delayed_-17"
    full_lines = {key(f=BLOCK, l="3", n="1", t="line", o="block", S="3"): 1}
    runs = [
        _run_dir(tmp_path / "runs", "a", full_lines, {"x.events.jsonl": [p for p in every if p != left_out][:100]}),
        _run_dir(tmp_path / "runs", "b", full_lines, {"y.events.jsonl": [p for p in every if p != left_out][100:]}),
    ]
    rc = coverage.report(runs, out=tmp_path / "out", html=False)
    out = capsys.readouterr().out
    assert rc == 1
    assert f"{len(every) - 1}/{len(every)}" in out
    assert "unhit cover points (1):" in out and left_out in out and cover_points.POINTS[left_out] in out
    assert "target missed: functional cover points" in out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["functional"]["points"][left_out] == [] and summary["functional"]["hit"] == len(every) - 1
    # with the point hit in a third run, every target is met
    _run_dir(tmp_path / "runs", "c", full_lines, {"z.events.jsonl": [left_out]})
    rc = coverage.report(sorted((tmp_path / "runs").iterdir()), out=tmp_path / "out", html=False)
    assert rc == 0, capsys.readouterr().out


def test_a_line_target_miss_fails_the_check(tmp_path, capsys):
    half = {
        key(f=BLOCK, l="3", n="1", t="line", o="block", S="3"): 1,
        key(f=BLOCK, l="4", n="2", t="line", o="block", S="4"): 0,
    }
    run = _run_dir(tmp_path / "runs", "a", half, {"x.events.jsonl": sorted(cover_points.POINTS)})
    assert coverage.report([run], out=tmp_path / "out", html=False) == 1
    out = capsys.readouterr().out
    assert "line coverage of hdl/virtio + hdl/pcie 50.0 % < 95 %" in out
    assert "hdl/virtio/blk.v: 1 unhit line" in out
    assert coverage.report([run], out=tmp_path / "out", html=False, check=False) == 0


def test_no_runs_is_an_error_not_an_empty_report(tmp_path, capsys):
    assert coverage.report([tmp_path], out=tmp_path / "out", html=False) == 2
    assert "no coverage.dat" in capsys.readouterr().err


def test_numbered_families_print_as_ranges():
    points = {f"race.x_{k}": f"offset {k}" for k in range(-3, 4)} | {"chain.a_1": "one", "chain.a_3": "three"}
    lines = coverage.compact(["race.x_-3", "race.x_-2", "race.x_-1", "race.x_2", "chain.a_1", "chain.a_3"], points)
    assert lines[0] == "  race.x_-3 .. -1 (3 points) offset -3"
    assert [ln.split()[0] for ln in lines[1:]] == ["race.x_2", "chain.a_1", "chain.a_3"]


def test_a_finished_run_keeps_its_coverage_compressed(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    points = block_points(if_hit=1, else_hit=0, tog=2)
    dat(run / "coverage.dat", points)
    (run / "t.events.jsonl").write_text(json.dumps(ev("driver", "probe_done", variant="pre")) + "\n")
    coverage.finish_run(run)
    assert not (run / "coverage.dat").exists() and (run / coverage.DAT_GZ).is_file()
    assert coverage.read_dat(run / coverage.DAT_GZ) == points
    assert cover_points.read_hits(run / cover_points.HITS_FILE) == {"variant.pre"}
    assert coverage.run_dat(run) == run / coverage.DAT_GZ
