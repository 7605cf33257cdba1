"""Pure-Python parts of the waveform-debugging flow: translate filters, pcap writer, event log format."""

from __future__ import annotations

import json

from sim import gtkw
from sim.events import RunLog, read_events
from tb.pcap import LINKTYPE_ETHERNET, PcapWriter, read_pcap

SNIPPET = """
localparam [4:0] WIDTH_ONLY = 5'd31;  // a sized constant that is not part of the group
localparam W = 4;                      // unsized: ignored
localparam [2:0]
    S_IDLE = 3'd0,   // comment
    S_RUN  = 3'b011,
    S_DONE = 3'h7;
"""


def test_translate_filter_from_verilog():
    enc = gtkw.parse_encodings(SNIPPET, "S_")
    assert enc == {0: "S_IDLE", 3: "S_RUN", 7: "S_DONE"}
    text = gtkw.filter_text(enc, "snippet.v")
    assert text.splitlines()[1:] == ["0 S_IDLE", "3 S_RUN", "7 S_DONE"]
    assert gtkw.filter_text(enc, "x", strip="S_").splitlines()[2] == "3 RUN"


def test_filters_track_the_rtl(tmp_path):
    paths = gtkw.generate_filters(tmp_path)
    state = paths["virtq_used_state.txt"].read_text().splitlines()
    assert "0 S_IDLE" in state and any(line.endswith(" S_IDX") for line in state)
    assert "1 MEM_WRITE" in paths["tlp_req_type.txt"].read_text().splitlines()


def test_save_file_groups_and_filters():
    text = gtkw.save_file_text()
    assert text.count("@800200") == text.count("@1000200") == 8
    assert "virtio_net_usp.core_inst.virtq_tx_inst.avail_inst.state_reg[2:0]" in text
    assert "sim/waves/virtq_avail_state.txt" in text


def test_parse_time():
    assert gtkw.parse_time("1000") == 1000.0
    assert gtkw.parse_time("250c") == 1000.0
    assert gtkw.parse_time("2us") == 2000.0


def test_pcap_round_trip(tmp_path):
    path = tmp_path / "w.pcap"
    w = PcapWriter(path)
    frames = [(1234.0, bytes(range(60))), (1_000_000_123.0, b"\xff" * 1514)]
    for t, data in frames:
        w.write(data, t)
    w.close()
    linktype, got = read_pcap(path)
    assert linktype == LINKTYPE_ETHERNET
    assert got == frames
    assert path.read_bytes()[:4] == bytes.fromhex("4d3cb2a1")   # nanosecond pcap, little endian


def test_event_log_format(tmp_path):
    now = [0.0]
    log = RunLog(tmp_path / "e.jsonl", now=lambda: now[0])
    now[0] = 41.0
    log.emit("pcie", "tlp", stream="rq", type="MEM_WRITE", data=b"\x01\x02")
    log.verdict("wire_check", False, msg="frame 3")
    log.close()
    lines = (tmp_path / "e.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert first == {"cycle": 10, "time_ns": 41.0, "source": "pcie", "event": "tlp", "stream": "rq",
                     "type": "MEM_WRITE", "data": "0102"}
    assert read_events(tmp_path / "e.jsonl")[1]["verdict"] == "fail"
    assert log.first_failure["event"] == "wire_check"
    assert json.loads(RunLog.line(8.0, "checker", "test", verdict="pass"))["cycle"] == 2


def test_end_time_of_a_dump_read_through_pywellen(tmp_path):
    """The last timestamp of an FST comes from pywellen's time-step stream (its callback gets the time, the
    values and the signal ids; a one-argument callback made make waves fail after the simulation)."""
    import pywellen

    from sim import wavedump

    vcd = tmp_path / "d.vcd"
    vcd.write_text(
        "$timescale 1ps $end\n$scope module top $end\n$var wire 1 ! clk $end\n$upscope $end\n$enddefinitions $end\n"
        "#0\n0!\n#2000\n1!\n#4000\n0!\n#123000\n1!\n"
    )
    assert wavedump.end_time(vcd) == 123000  # a VCD's tail is read directly
    wave = pywellen.Waveform(str(vcd))
    assert wavedump.end_time(tmp_path / "d.fst", wave) == 123000  # any other dump: through pywellen
