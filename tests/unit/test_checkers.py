"""The checker set without a simulator: events fed by hand, each rule shown to pass and to fire.

The simulation tests (tests/sim/test_checkers.py) prove the same against the RTL's fault knobs; these pin
down the bookkeeping (split used-element writes, u16 wrap, publication, matching windows) cheaply.
"""

from __future__ import annotations

import struct

import pytest

from tb.checkers import CheckerError, CheckerSet
from tb.checkers.shadow import HostShadow, QueueView
from tb.checkers.spec import VIRTQ_DESC_F_NEXT
from tb.device.debug_bar import REG_TX_PARAMS
from tb.driver.trace import Event

PFN = 0x10
BASE = PFN << 12
Q = 256


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def make(collect: bool = True, msix_tx_data: int = 7) -> tuple[CheckerSet, Clock, QueueView]:
    clk = Clock()
    hub = CheckerSet(clk, msix_vector_of=lambda d: 2 if d == msix_tx_data else None, msix_enabled=lambda: True)
    if collect:
        hub.expect("unit")
    hub.host_bar(True, 0, 0x0E, 2, 1)          # QUEUE_SEL 1
    hub.host_bar(False, 0, 0x0C, 2, Q)         # QUEUE_NUM
    hub.host_bar(True, 0, 0x08, 4, PFN)        # QUEUE_PFN
    hub.host_bar(True, 0, 0x16, 2, 2)          # QUEUE_VECTOR 2
    hub.host_bar(False, 2, REG_TX_PARAMS, 4, 64 << 16 | 16 << 8 | 16)   # the TX engine: window 16, batch 16
    return hub, clk, hub.queues[1]


def publish(hub: CheckerSet, q: QueueView, idx: int, head: int, buf: int = 0x40_0000,
            desc_first: bool = True) -> None:
    """The driver's add_buf + kick for a two-descriptor chain head -> head+1."""
    def descs() -> None:
        hub.host_mem(True, q.desc + 16 * head, struct.pack("<QIHH", buf, 10, VIRTQ_DESC_F_NEXT, head + 1))
        hub.host_mem(True, q.desc + 16 * (head + 1), struct.pack("<QIHH", buf + 64, 60, 0, 0))
    if desc_first:
        descs()
    hub.host_mem(True, q.avail + 4 + 2 * (idx % Q), head.to_bytes(2, "little"))
    hub.host_mem(True, q.avail + 2, ((idx + 1) & 0xFFFF).to_bytes(2, "little"))
    if not desc_first:
        descs()


def test_shadow_history() -> None:
    m = HostShadow()
    m.write(0.0, 0x1000, b"\x01\x02")
    m.watch(0x1000, 0x1010)
    m.write(10.0, 0x1001, b"\x05")
    m.write(20.0, 0x1000, b"\x09\x09\x09")
    assert m.value_at(0x1000, 2, 5.0) == b"\x01\x02"
    assert m.value_at(0x1000, 2, 10.0) == b"\x01\x05"
    assert m.value_at(0x1000, 3, 25.0) == b"\x09\x09\x09"
    assert m.value_at(0x2000, 2, 25.0) is None
    assert m.read(0x0FFF, 3) == b"\x00\x09\x09"


def test_queue_parts() -> None:
    q = QueueView(1, Q, BASE)
    assert q.part(BASE + 16 * 5) == ("desc", 5)
    assert q.part(q.avail + 2) == ("avail_idx", 0)
    assert q.part(q.avail + 4 + 2 * 9) == ("avail_ring", 9)
    assert q.part(q.used + 2) == ("used_idx", 0)
    assert q.part(q.used + 4 + 8 * 3 + 4) == ("used_elem", 3)


def test_good_sequence_passes_and_split_used_element() -> None:
    hub, clk, q = make()
    publish(hub, q, 0, 0)
    hub.dev_read(0.0, q.avail, (0).to_bytes(2, "little") + (1).to_bytes(2, "little"), "avail")
    hub.dev_read(0.0, q.avail + 4, (0).to_bytes(2, "little"), "ring")
    hub.dev_read(0.0, q.desc, bytes(32), "descs")
    hub.dev_read(0.0, 0x40_0000, bytes(10), "hdr")
    # the element in two writes (the DMA engine may split it), then used.idx
    hub.dev_write(q.used + 4, (0).to_bytes(4, "little"), "id")
    hub.dev_write(q.used + 8, (0).to_bytes(4, "little"), "len")
    hub.dev_write(q.used + 2, (1).to_bytes(2, "little"), "idx")
    hub.host_mem(False, q.used + 2, (1).to_bytes(2, "little"))
    hub.host_mem(False, q.used + 4, struct.pack("<II", 0, 0))
    hub.finish()
    assert not hub.violations, [v.report() for v in hub.violations]


def test_used_len_beyond_writable_bytes_fires() -> None:
    """A TX chain is all device-readable: used.len must be 0. A chain with device-writable buffers may have
    len up to their total, not beyond."""
    hub, clk, q = make()
    publish(hub, q, 0, 0)
    clk.t = 80.0
    hub.dev_write(q.used + 4, struct.pack("<II", 0, 70), "rq MEM_WRITE used elem")
    v = hub.failed("used_ring")
    assert v and "len 70" in v[0].msg and "0 device-writable bytes" in v[0].msg and v[0].addr == q.used + 8
    # a chain with a 64-byte device-writable buffer: len 64 is fine, 65 is not
    hub, clk, q = make()
    hub.host_mem(True, q.desc + 16 * 4, struct.pack("<QIHH", 0x40_0000, 10, VIRTQ_DESC_F_NEXT, 5))
    hub.host_mem(True, q.desc + 16 * 5, struct.pack("<QIHH", 0x40_1000, 64, 2, 0))    # VRING_DESC_F_WRITE
    hub.host_mem(True, q.avail + 4, (4).to_bytes(2, "little"))
    hub.host_mem(True, q.avail + 2, (1).to_bytes(2, "little"))
    hub.dev_write(q.used + 4, struct.pack("<II", 4, 64), "elem len 64")
    assert not hub.failed("used_ring"), [v.msg for v in hub.violations]
    hub.host_mem(True, q.avail + 6, (6).to_bytes(2, "little"))
    hub.host_mem(True, q.desc + 16 * 6, struct.pack("<QIHH", 0x40_2000, 64, 2, 0))
    hub.host_mem(True, q.avail + 2, (2).to_bytes(2, "little"))
    hub.dev_write(q.used + 12, struct.pack("<II", 6, 65), "elem len 65")
    assert hub.failed("used_ring") and "len 65" in hub.failed("used_ring")[0].msg


def test_used_idx_before_element_fires() -> None:
    hub, clk, q = make()
    publish(hub, q, 0, 0)
    clk.t = 400.0
    hub.dev_write(q.used + 2, (1).to_bytes(2, "little"), "rq MEM_WRITE used.idx")
    v = hub.failed("used_ring")
    assert v and v[0].addr == q.used + 2 and v[0].cycle == 100 and "not written" in v[0].msg


def test_read_past_avail_fires() -> None:
    hub, clk, q = make()
    publish(hub, q, 0, 0)
    hub.dev_read(0.0, q.avail, (0).to_bytes(2, "little") + (1).to_bytes(2, "little"), "avail")
    hub.dev_read(0.0, q.avail + 4, bytes(4), "two ring entries, one published")
    v = hub.failed("device_reads_published")
    assert v and "avail.ring[1]" in v[0].msg and v[0].addr == q.avail + 6


def test_descriptor_written_after_publication_fires() -> None:
    hub, _clk, q = make()
    publish(hub, q, 0, 0, desc_first=False)
    assert hub.failed("driver_order"), "publishing before the descriptors must be reported"


def test_write_into_tx_buffer_fires() -> None:
    hub, _clk, q = make()
    publish(hub, q, 0, 0)
    hub.dev_write(0x40_0000, b"\xd0\xba", "rq MEM_WRITE")
    v = hub.failed("dma_write_target")
    assert v and "device-readable buffer of entry 0" in v[0].msg


def test_interrupt_rules_both_ways() -> None:
    hub, clk, q = make()
    publish(hub, q, 0, 0)
    hub.dev_write(q.used + 4, struct.pack("<II", 0, 0), "elem")
    hub.dev_write(q.used + 2, (1).to_bytes(2, "little"), "idx")
    clk.t = 100.0
    hub.dev_read(90.0, q.avail, (0).to_bytes(2, "little") + (1).to_bytes(2, "little"), "flags 0: MUST")
    clk.t = 100.0 + 4 * 500
    hub.finish()
    assert hub.failed("irq_legality") and "MUST" in hub.failed("irq_legality")[0].msg
    # an interrupt nobody asked for
    hub2, clk2, q2 = make()
    clk2.t = 50.0
    hub2.irq("msix", 7)
    assert hub2.failed("irq_legality") and "not justified" in hub2.failed("irq_legality")[0].msg
    # other vectors (config, debug) are not the TX queue's business
    hub3, _c3, _q3 = make()
    hub3.irq("msix", 3)
    assert not hub3.violations


def test_intx_decision_under_a_high_line_justifies_a_later_rise() -> None:
    """INTx: a MUST decision made while the line is high is covered; if the driver's ISR read drops the line
    before the device's ISR bit for that decision arrives, the rise that follows is still justified."""
    clk = Clock()
    hub = CheckerSet(clk, msix_enabled=lambda: False)
    hub.expect("unit")
    hub.host_bar(True, 0, 0x0E, 2, 1)
    hub.host_bar(False, 0, 0x0C, 2, Q)
    hub.host_bar(True, 0, 0x08, 4, PFN)
    q = hub.queues[1]
    for k in range(2):
        publish(hub, q, k, 2 * k)
    hub.dev_write(q.used + 4, struct.pack("<II", 0, 0), "elem 0")
    hub.dev_write(q.used + 2, (1).to_bytes(2, "little"), "idx 1")
    clk.t = 100.0
    hub.dev_read(90.0, q.avail, (0).to_bytes(2, "little") + (2).to_bytes(2, "little"), "decision 1")
    clk.t = 180.0
    hub.irq("intx", 1)                            # the first decision's interrupt
    hub.dev_write(q.used + 12, struct.pack("<II", 2, 0), "elem 1")
    hub.dev_write(q.used + 2, (2).to_bytes(2, "little"), "idx 2")
    clk.t = 200.0
    hub.dev_read(190.0, q.avail, (0).to_bytes(2, "little") + (2).to_bytes(2, "little"), "decision 2, line high")
    clk.t = 210.0
    hub.irq("intx", 0)                            # the ISR read clears the line ...
    clk.t = 260.0
    hub.irq("intx", 1)                            # ... and decision 2's ISR bit raises it again
    clk.t = 2000.0
    hub.finish()
    assert not hub.failed("irq_legality"), [v.msg for v in hub.violations]
    # a second rise with no decision left to explain it is still caught
    clk.t = 2100.0
    hub.irq("intx", 0)
    hub.irq("intx", 1)
    assert hub.failed("irq_legality") and "not justified" in hub.failed("irq_legality")[0].msg


def test_intx_rise_goes_to_the_decision_the_line_did_not_cover() -> None:
    """INTx, decisions close together (a pipelined device pushing per packet): decision 2 is covered by the
    high line, the ISR read drops the line, decision 3 (line low, MUST) raises it again within its window.
    The rise belongs to decision 3 (decision 2 was satisfied by the line): no failure; without the rise,
    decision 3 is reported."""
    for rise in (True, False):
        clk = Clock()
        hub = CheckerSet(clk, msix_enabled=lambda: False)
        hub.expect("unit")
        hub.host_bar(True, 0, 0x0E, 2, 1)
        hub.host_bar(False, 0, 0x0C, 2, Q)
        hub.host_bar(True, 0, 0x08, 4, PFN)
        q = hub.queues[1]
        for k in range(4):
            publish(hub, q, k, 2 * k)
        for n, (t_dec, line) in enumerate(((100.0, None), (140.0, None), (200.0, None)), 1):
            hub.dev_write(q.used + 4 + 8 * (n - 1), struct.pack("<II", 2 * (n - 1), 0), f"elem {n - 1}")
            hub.dev_write(q.used + 2, n.to_bytes(2, "little"), f"idx {n}")
            clk.t = t_dec
            hub.dev_read(t_dec - 10, q.avail, (0).to_bytes(2, "little") + (4).to_bytes(2, "little"), f"decision {n}")
            if n == 1:
                clk.t = 120.0
                hub.irq("intx", 1)                # decision 1's interrupt; decision 2 comes under the high line
            if n == 2:
                clk.t = 170.0
                hub.irq("intx", 0)                # the ISR read clears the line before decision 3
        if rise:
            clk.t = 240.0
            hub.irq("intx", 1)                    # decision 3's interrupt
        clk.t = 2000.0
        hub.finish()
        if rise:
            assert not hub.failed("irq_legality"), [v.msg for v in hub.violations]
        else:
            v = hub.failed("irq_legality")
            assert v and "decision at cycle 50" in v[0].msg, [x.msg for x in hub.violations]


def test_scoreboard_names_duplicates_and_drops() -> None:
    hub, _clk, _q = make()
    sent = [bytes([k]) * 60 for k in range(4)]
    hub.attach_sent(sent)
    for k in (0, 0, 1, 3):
        hub.frame(0.0, sent[k], False)
    msgs = [v.msg for v in hub.failed("wire_scoreboard")]
    assert any("duplicate of frame 0" in m for m in msgs) and any("frame 2 is missing" in m for m in msgs)


def test_failure_stops_unless_expected() -> None:
    hub, _clk, q = make(collect=False)
    with pytest.raises(CheckerError, match="used_ring"):
        hub.dev_write(q.used + 2, (1).to_bytes(2, "little"), "idx")



def test_failure_at_finish_is_raised_by_finish() -> None:
    """A rule judged at the end (a MUST interrupt never sent) fails the test from finish() itself: the
    harness's own raise runs in a task, and a test that returns right after finish() would pass without it."""
    hub, clk, q = make(collect=False)
    deferred: list[CheckerError] = []
    hub.on_failure(deferred.append)                # as the simulation harness does
    publish(hub, q, 0, 0)
    hub.dev_write(q.used + 4, struct.pack("<II", 0, 0), "elem")
    hub.dev_write(q.used + 2, (1).to_bytes(2, "little"), "idx")
    clk.t = 100.0
    hub.dev_read(90.0, q.avail, (0).to_bytes(2, "little") + (1).to_bytes(2, "little"), "flags 0: MUST")
    clk.t = 100.0 + 4 * 500
    with pytest.raises(CheckerError, match="irq_legality"):
        hub.finish()
    # collected failures (fault-injection tests) are the caller's to look at: finish does not raise
    hub2, clk2, q2 = make()
    hub2.dev_write(q2.used + 2, (1).to_bytes(2, "little"), "idx")
    clk2.t = 100.0
    hub2.finish()
    assert hub2.failed("used_ring")

def test_waive_until_reset() -> None:
    hub, _clk, q = make()
    hub.waive("driver_order", why="unit test")
    publish(hub, q, 0, 0, desc_first=False)
    assert not hub.failed("driver_order")
    hub.host_bar(True, 0, 0x12, 1, 0)          # STATUS = 0: device reset ...
    assert hub.waived                          # ... in effect once a read of the device returns
    hub.host_bar(False, 0, 0x12, 1, 0)
    assert not hub.waived


def trace(hub: CheckerSet, kind: str, **fields) -> None:
    """One event of the driver's trace, as tb.driver.trace.EventLog hands it to its listeners."""
    hub.driver_event(Event(hub.now(), kind, fields))


def test_ring_invariants_from_the_trace() -> None:
    """num_free comes from the driver's add_buf / get_buf events; a token queued twice or returned unqueued
    fires; nothing is read from a driver object."""
    hub, clk, q = make()
    trace(hub, "add_buf", vq=1, head=0, token=0xA0, num_free=Q - 2, ret=Q - 2)
    publish(hub, q, 0, 0)
    assert not hub.failed("ring_invariants")
    trace(hub, "add_buf", vq=1, head=2, token=0xA0, num_free=Q - 4, ret=Q - 4)       # the same token again
    assert "already queued" in hub.failed("ring_invariants")[-1].msg
    trace(hub, "get_buf", vq=1, id=7, len=0, token=0xB0, num_free=Q - 2, last_used_idx=1)
    assert "not queued" in hub.failed("ring_invariants")[-1].msg
    # a leak: the driver's num_free says one descriptor fewer than the published chains account for
    n = len(hub.failed("ring_invariants"))
    trace(hub, "add_buf", vq=1, head=2, token=0xC0, num_free=Q - 5, ret=Q - 5)
    publish(hub, q, 1, 2)
    assert len(hub.failed("ring_invariants")) == n + 1
    assert "num_free" in hub.failed("ring_invariants")[-1].msg


def test_lost_wakeup_from_the_trace() -> None:
    """The queue's stopped state and the driver's last_used_idx come from netif_* and get_buf events."""
    hub, clk, q = make()
    lost = hub.by_name("lost_wakeup")
    trace(hub, "netif_stop_queue")
    hub.dev_write(q.used + 2, (1).to_bytes(2, "little"), "used.idx 1")
    for t in range(0, 30_000, 1000):
        clk.t = t
        lost.poll(clk.t)
    assert hub.failed("lost_wakeup"), "a stopped queue with a returned buffer for 30 us"
    # woken in time: no report
    hub2, clk2, q2 = make()
    lost2 = hub2.by_name("lost_wakeup")
    trace(hub2, "netif_stop_queue")
    hub2.dev_write(q2.used + 2, (1).to_bytes(2, "little"), "used.idx 1")
    for t in range(0, 30_000, 1000):
        clk2.t = t
        if t == 5000:
            trace(hub2, "netif_wake_queue")
            trace(hub2, "get_buf", vq=1, id=0, len=0, token=0xA0, num_free=Q, last_used_idx=1)
        lost2.poll(clk2.t)
    assert not hub2.failed("lost_wakeup")


def test_descriptor_window_comes_from_the_device() -> None:
    """Without the device's TX_PARAMS the prefetch window is unknown: a descriptor read says so."""
    clk = Clock()
    hub = CheckerSet(clk, msix_enabled=lambda: True)
    hub.expect("unit")
    hub.host_bar(True, 0, 0x0E, 2, 1)
    hub.host_bar(False, 0, 0x0C, 2, Q)
    hub.host_bar(True, 0, 0x08, 4, PFN)
    q = hub.queues[1]
    publish(hub, q, 0, 0)
    hub.dev_read(0.0, q.desc, bytes(32), "desc read")
    assert "TX_PARAMS" in hub.failed("device_reads_published")[-1].msg


def test_selftest_buffers_are_learned_from_the_registers() -> None:
    """The DMA self-test's buffers, as the BAR2 writes give them to the device, are the device's to use."""
    hub, clk, q = make()
    for reg, value in ((0x020, 0x7000_0000), (0x024, 0x1), (0x028, 0x7000_1000), (0x02C, 0x1), (0x030, 256)):
        hub.host_bar(True, 2, reg, 4, value)
    hub.host_bar(True, 2, 0x034, 4, 1)
    hub.dev_read(0.0, 0x1_7000_0000, bytes(256), "self-test read")
    hub.dev_write(0x1_7000_1000, bytes(256), "self-test write")
    assert not hub.failed("device_reads_published") and not hub.failed("dma_write_target")
    hub.dev_write(0x1_7000_2000, bytes(4), "elsewhere")
    assert hub.failed("dma_write_target")


def test_forced_notify_before_publication_passes_a_kick_does_not() -> None:
    """add_buf's forced notify on a full ring (Linux 2.6.28's pre-a start_xmit: the parked skb added, the new one
    refused) comes before the kick's avail.idx write: allowed when the driver's trace marks it forced, reported
    otherwise (a kick before its avail.idx write)."""
    from tb.driver.trace import Event

    for forced in (True, False):
        hub, _clk, q = make()
        hub.host_mem(True, q.desc, struct.pack("<QIHH", 0x40_0000, 10, VIRTQ_DESC_F_NEXT, 1))
        hub.host_mem(True, q.desc + 16, struct.pack("<QIHH", 0x40_0040, 60, 0, 0))
        hub.host_mem(True, q.avail + 4, (0).to_bytes(2, "little"))  # added, not yet published
        hub.driver_event(Event(0.0, "notify", {"vq": 1, "forced": forced}))
        hub.host_bar(True, 0, 0x10, 2, 1)  # QUEUE_NOTIFY 1
        assert bool(hub.failed("driver_order")) is not forced, [v.msg for v in hub.violations]
        hub.host_mem(True, q.avail + 2, (1).to_bytes(2, "little"))  # the kick publishes
        hub.host_bar(True, 0, 0x10, 2, 1)
        assert bool(hub.failed("driver_order")) is not forced, "the kick after publishing is fine"
