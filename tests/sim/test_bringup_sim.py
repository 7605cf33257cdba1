"""``vnet-bringup --target sim`` end to end in ``make test``: the bring-up sequence (tests/sim/bringup_sim.py) on
our RTL on Verilator, through the command line as a user runs it, with every checker on. Every row must
pass, the loopback row included (32 frames through the device's loopback mode, received back byte-exact by
the same driver, the device's RX counters agreeing), and the wire's pcap must hold exactly the frames that
left the device (the loopback row's never do)."""

from __future__ import annotations

import json

import pytest

from sim import runner
from tb.bringup import cli as bringup_cli
from tb.bringup.sequence import PASS


@pytest.mark.sim
@pytest.mark.skipif("verilator" not in runner.sims(), reason="the simulated bring-up runs on Verilator (SIM=icarus)")
def test_bringup_on_our_rtl(tmp_path, capsys):
    rc = bringup_cli.main(["--out", str(tmp_path), "--loopback-frames", "32"])
    out = capsys.readouterr().out
    data = json.loads((tmp_path / "bringup.json").read_text())
    rows = {c["name"]: c for c in data["checks"]}
    assert rc == 0 and data["exit_code"] == 0, out
    loop = rows["loopback 32 frames"]
    assert loop["status"] == PASS and "via our RTL's loopback mode, byte-exact" in loop["value"], out
    run = next(r for r in data["runs"] if r["name"] == "loopback")
    assert run["received_frames"] == run["frames"] and len(run["frames"]) == 32 and not run["wire"]
    assert run["rx_counters"]["rx_frames"] == 32 and run["rx_counters"]["rx_errors"] == 0
    assert all(r["rx_packets"] == 0 for r in data["runs"] if r is not run)
    assert rows["pcap"]["status"] == PASS and rows["wire byte-exact"]["status"] == PASS


@pytest.mark.sim
@pytest.mark.skipif("verilator" not in runner.sims(), reason="the simulated bring-up runs on Verilator (SIM=icarus)")
def test_bringup_modern_on_our_rtl(tmp_path, capsys):
    """The same table over the modern interface (virtio 1.x capabilities in the hard-block model's config
    space, BAR4): Debian 6.1's driver on the modern transport, every row passing, VERSION_1 negotiated."""
    rc = bringup_cli.main(["--out", str(tmp_path), "--loopback-frames", "32", "--transport", "modern"])
    out = capsys.readouterr().out
    data = json.loads((tmp_path / "bringup.json").read_text())
    assert rc == 0 and data["exit_code"] == 0, out
    rows = {c["name"]: c for c in data["checks"]}
    assert rows["loopback 32 frames"]["status"] == PASS, out
    assert rows["virtio capabilities"]["status"] == PASS and "VERSION_1" in rows["features offered"]["value"], out
    assert data["runs"] and all(r["transport"] == "modern" and r["features"] >> 32 & 1 for r in data["runs"]), out
    assert rows["pcap"]["status"] == PASS and rows["wire byte-exact"]["status"] == PASS
