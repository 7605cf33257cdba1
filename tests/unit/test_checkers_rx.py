"""The receive-side checkers without a simulator: RX chains, device writes and wire frames fed by hand.

Each rule is shown to pass on a correct sequence and to fire on the fault it exists for; the simulation tests
prove the same against the RTL's RX fault knobs.
"""

from __future__ import annotations

import struct

from tb.checkers import CheckerSet
from tb.checkers.spec import VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE
from tb.device.debug_bar import REG_TX_PARAMS

RX_PFN, TX_PFN = 0x10, 0x20
Q = 16
BUF = 0x40_0000
BUF_LEN = 2048
MRG_RXBUF = 1 << 15


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def make(features: int = 0) -> tuple[CheckerSet, Clock]:
    """Both queues set up as the legacy driver does (RX vector 1, TX vector 2; MSI-X data = vector + 10)."""
    clk = Clock()
    hub = CheckerSet(clk, msix_vector_of=lambda d: d - 10 if d >= 10 else None, msix_enabled=lambda: True)
    hub.expect("unit")
    hub.host_bar(True, 0, 0x04, 4, features)
    for sel, pfn in ((0, RX_PFN), (1, TX_PFN)):
        hub.host_bar(True, 0, 0x0E, 2, sel)
        hub.host_bar(False, 0, 0x0C, 2, Q)
        hub.host_bar(True, 0, 0x08, 4, pfn)
        hub.host_bar(True, 0, 0x16, 2, sel + 1)
    hub.host_bar(False, 2, REG_TX_PARAMS, 4, 64 << 16 | 16 << 8 | 16)
    return hub, clk


def post(hub: CheckerSet, idx: int, head: int, size: int = BUF_LEN, write: bool = True) -> int:
    """The driver posts one RX buffer (descriptor ``head``) and publishes it; returns its address."""
    q = hub.queues[0]
    addr = BUF + head * 0x1000
    flags = VIRTQ_DESC_F_WRITE if write else 0
    hub.host_mem(True, q.desc + 16 * head, struct.pack("<QIHH", addr, size, flags, 0))
    hub.host_mem(True, q.avail + 4 + 2 * (idx % Q), head.to_bytes(2, "little"))
    hub.host_mem(True, q.avail + 2, ((idx + 1) & 0xFFFF).to_bytes(2, "little"))
    return addr


def post_two_part(hub: CheckerSet, idx: int, head: int) -> None:
    """A 2.6.31 small-buffer chain: the 10-byte header, then the packet buffer."""
    q = hub.queues[0]
    first = struct.pack("<QIHH", BUF + 0x100 * head, 10, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, head + 1)
    hub.host_mem(True, q.desc + 16 * head, first)
    second = struct.pack("<QIHH", BUF + 0x8000 + 0x800 * head, 1518, VIRTQ_DESC_F_WRITE, 0)
    hub.host_mem(True, q.desc + 16 * (head + 1), second)
    hub.host_mem(True, q.avail + 4 + 2 * (idx % Q), head.to_bytes(2, "little"))
    hub.host_mem(True, q.avail + 2, ((idx + 1) & 0xFFFF).to_bytes(2, "little"))


def used(hub: CheckerSet, slot: int, head: int, length: int, idx: int | None) -> None:
    q = hub.queues[0]
    hub.dev_write(q.used + 4 + 8 * slot, struct.pack("<II", head, length), f"used elem {slot}")
    if idx is not None:
        hub.dev_write(q.used + 2, idx.to_bytes(2, "little"), f"used.idx {idx}")


def frame(k: int, n: int = 60) -> bytes:
    return bytes((k + i) & 0xFF for i in range(n))


def test_frames_written_and_published_whole_pass() -> None:
    hub, _clk = make()
    for k in range(3):
        post(hub, k, k)
    for k in range(3):
        hub.rx_frame(0.0, frame(k), False)
    for k in range(3):
        hub.dev_write(BUF + k * 0x1000, bytes(10) + frame(k), "rx data")
        used(hub, k, k, 70, k + 1)
    hub.by_name("rx_delivery").counted(1.0, 0)
    hub.finish()
    assert not hub.violations, [v.msg for v in hub.violations]
    assert hub.by_name("rx_delivery").delivered == [frame(k) for k in range(3)]


def test_header_and_frame_across_two_buffers_pass() -> None:
    hub, _clk = make()
    post_two_part(hub, 0, 0)
    hub.rx_frame(0.0, frame(5, 100), False)
    hub.dev_write(BUF, bytes(10), "hdr")
    hub.dev_write(BUF + 0x8000, frame(5, 100), "frame")
    used(hub, 0, 0, 110, 1)
    hub.by_name("rx_delivery").counted(1.0, 0)
    hub.finish()
    assert not hub.violations, [v.msg for v in hub.violations]


def test_used_len_other_than_bytes_written_fires() -> None:
    hub, _clk = make()
    post(hub, 0, 0)
    hub.dev_write(BUF, bytes(10) + frame(0), "rx data")
    used(hub, 0, 0, 71, 1)
    v = hub.failed("rx_used_len")
    assert v and "has len 71, but the device wrote 70 bytes" in v[0].msg, [x.msg for x in hub.violations]


def test_write_past_the_buffer_fires() -> None:
    hub, _clk = make()
    post(hub, 0, 0, size=64)
    hub.dev_write(BUF, bytes(10) + frame(0, 55), "65 bytes into 64")
    v = hub.failed("dma_write_target")
    assert v and "past its end" in v[0].msg, [x.msg for x in hub.violations]


def test_write_into_a_device_readable_rx_buffer_fires() -> None:
    hub, _clk = make()
    post(hub, 0, 0, write=False)
    hub.dev_write(BUF, bytes(10), "into a READ buffer")
    v = hub.failed("dma_write_target")
    assert v and "device-readable buffer of entry 0" in v[0].msg, [x.msg for x in hub.violations]


def test_uncounted_drop_fires_and_a_counted_one_passes() -> None:
    for extra_counted in (0, 1):
        hub, _clk = make()
        post(hub, 0, 0)
        hub.rx_frame(0.0, frame(0), False)
        hub.rx_frame(1.0, frame(1), False)
        hub.rx_frame(2.0, frame(2), False)
        hub.dev_write(BUF, bytes(10) + frame(2), "only frame 2 delivered")
        used(hub, 0, 0, 70, 1)
        hub.by_name("rx_delivery").counted(3.0, 1 + extra_counted)  # frames 0 and 1 are drops: 2 owed
        hub.finish()
        v = hub.failed("rx_delivery")
        assert bool(v) == (extra_counted == 0), [x.msg for x in hub.violations]
        if v:
            assert "2 were not (wire frames 0, 1)" in v[0].msg and "counted 1 drops" in v[0].msg, v[0].msg


def test_wrong_bytes_duplicate_and_bad_frame_fire() -> None:
    hub, _clk = make()
    post(hub, 0, 0)
    hub.rx_frame(0.0, frame(0), False)
    bent = bytearray(frame(0))
    bent[20] ^= 1
    hub.dev_write(BUF, bytes(10) + bytes(bent), "one bit flipped")
    used(hub, 0, 0, 70, 1)
    assert "first difference at byte 20" in hub.failed("rx_delivery")[0].msg
    hub2, _c = make()
    for k in range(2):
        post(hub2, k, k)
    hub2.rx_frame(0.0, frame(0), False)
    for k in range(2):
        hub2.dev_write(BUF + k * 0x1000, bytes(10) + frame(0), "the same frame twice")
        used(hub2, k, k, 70, k + 1)
    assert "again" in hub2.failed("rx_delivery")[0].msg
    hub3, _c = make()
    post(hub3, 0, 0)
    hub3.rx_frame(0.0, frame(1), True)
    hub3.dev_write(BUF, bytes(10) + frame(1), "a bad frame")
    used(hub3, 0, 0, 70, 1)
    assert "marked bad" in hub3.failed("rx_delivery")[0].msg


def test_merged_packet_published_whole_passes_and_in_part_fires() -> None:
    big = frame(3, 1514)
    for whole in (True, False):
        hub, _clk = make(MRG_RXBUF)
        for k in range(2):
            post(hub, k, k, size=1024)
        hub.rx_frame(0.0, big, False)
        hdr = bytes(10) + (2).to_bytes(2, "little")
        hub.dev_write(BUF, hdr + big[:1012], "first chain")
        hub.dev_write(BUF + 0x1000, big[1012:], "second chain")
        used(hub, 0, 0, 1024, None if whole else 1)
        used(hub, 1, 1, len(big) - 1012, 2)
        hub.by_name("rx_delivery").counted(1.0, 0)
        hub.finish()
        if whole:
            assert not hub.violations, [v.msg for v in hub.violations]
            assert hub.by_name("rx_delivery").delivered == [big]
        else:
            v = hub.failed("rx_delivery")
            assert v and "num_buffers 2" in v[0].msg and "published whole" in v[0].msg, [x.msg for x in hub.violations]


def test_rx_interrupts_both_ways() -> None:
    hub, clk = make()
    q = hub.queues[0]
    post(hub, 0, 0)
    hub.rx_frame(0.0, frame(0), False)
    hub.dev_write(BUF, bytes(10) + frame(0), "rx data")
    used(hub, 0, 0, 70, 1)
    clk.t = 100.0
    hub.dev_read(90.0, q.avail, (0).to_bytes(2, "little") + (1).to_bytes(2, "little"), "flags 0: MUST")
    clk.t = 150.0
    hub.irq("msix", 12)  # the TX vector: no TX decision behind it
    v = hub.failed("irq_legality")
    assert v and v[0].msg.startswith("TX interrupt") and "no TX decision" in v[0].msg, [x.msg for x in hub.violations]
    clk.t = 100.0 + 4 * 500
    hub.finish()
    assert any(x.msg.startswith("no RX interrupt within") for x in hub.failed("irq_legality"))
    # the RX vector after the RX decision: justified
    hub2, clk2 = make()
    q2 = hub2.queues[0]
    post(hub2, 0, 0)
    hub2.dev_write(BUF, bytes(10) + frame(0), "rx data")
    used(hub2, 0, 0, 70, 1)
    clk2.t = 100.0
    hub2.dev_read(90.0, q2.avail, (0).to_bytes(2, "little") + (1).to_bytes(2, "little"), "flags 0: MUST")
    clk2.t = 150.0
    hub2.irq("msix", 11)
    assert not hub2.failed("irq_legality"), [x.msg for x in hub2.violations]



def test_intx_one_rise_after_both_queues_decide() -> None:
    """INTx: the TX and the RX decision reads complete two cycles apart (a 64-bit completion stream delivers
    them back to back), both MUST; the device raises the line once (one ISR bit for both). That rise covers
    both decisions; with no rise at all, both are reported."""
    for rise in (True, False):
        clk = Clock()
        hub = CheckerSet(clk, msix_enabled=lambda: False)
        hub.expect("unit")
        for sel, pfn in ((0, RX_PFN), (1, TX_PFN)):
            hub.host_bar(True, 0, 0x0E, 2, sel)
            hub.host_bar(False, 0, 0x0C, 2, Q)
            hub.host_bar(True, 0, 0x08, 4, pfn)
        hub.host_bar(False, 2, REG_TX_PARAMS, 4, 64 << 16 | 16 << 8 | 16)
        rxq, txq = hub.queues[0], hub.queues[1]
        post(hub, 0, 0)
        hub.rx_frame(0.0, frame(0), False)
        hub.dev_write(BUF, bytes(10) + frame(0), "rx data")
        used(hub, 0, 0, 70, 1)
        # a TX chain, published and completed
        hub.host_mem(True, txq.desc, struct.pack("<QIHH", 0x50_0000, 70, 0, 0))
        hub.host_mem(True, txq.avail + 4, (0).to_bytes(2, "little"))
        hub.host_mem(True, txq.avail + 2, (1).to_bytes(2, "little"))
        hub.dev_write(txq.used + 4, struct.pack("<II", 0, 0), "tx used elem 0")
        hub.dev_write(txq.used + 2, (1).to_bytes(2, "little"), "tx used.idx 1")
        clk.t = 100.0
        hub.dev_read(60.0, txq.avail, (0).to_bytes(2, "little") + (1).to_bytes(2, "little"), "TX decision")
        clk.t = 108.0
        hub.dev_read(60.0, rxq.avail, (0).to_bytes(2, "little") + (1).to_bytes(2, "little"), "RX decision")
        if rise:
            clk.t = 150.0
            hub.irq("intx", 1)
        clk.t = 2000.0
        hub.finish()
        v = hub.failed("irq_legality")
        if rise:
            assert not v, [x.msg for x in hub.violations]
        else:
            assert {x.msg.split(" interrupt")[0] for x in v} == {"no TX", "no RX"}, [x.msg for x in v]

def driver(hub: CheckerSet, kind: str, **fields) -> None:
    from tb.driver.trace import Event

    hub.driver_event(Event(0.0, kind, fields))


def test_driver_gets_what_the_device_published() -> None:
    import zlib

    hub, _clk = make()
    for k in range(3):
        post(hub, k, k, size=64 if k == 1 else BUF_LEN)
    for k in range(3):
        hub.rx_frame(0.0, frame(k), False)
    hub.dev_write(BUF, bytes(10) + frame(0), "rx data")
    used(hub, 0, 0, 70, 1)
    used(hub, 1, 1, 0, 2)  # frame 1 did not fit its 64-byte chain: returned empty (and counted by the device)
    hub.dev_write(BUF + 0x2000, bytes(10) + frame(2), "rx data")
    used(hub, 2, 2, 70, 3)
    driver(hub, "receive_skb", vq=0, len=70)
    driver(hub, "netif_receive_skb", len=60, crc32=zlib.crc32(frame(0)))
    driver(hub, "receive_skb", vq=0, len=0)
    driver(hub, "rx_drop", len=0, reason="short_packet")
    driver(hub, "receive_skb", vq=0, len=70)
    driver(hub, "netif_receive_skb", len=60, crc32=zlib.crc32(frame(2)))
    assert not hub.violations, [v.msg for v in hub.violations]
    driver(hub, "receive_skb", vq=0, len=70)  # a fourth packet nobody published
    assert "published only 3" in hub.failed("rx_delivery")[0].msg
    # a frame altered between the ring and the stack
    hub2, _c = make()
    post(hub2, 0, 0)
    hub2.rx_frame(0.0, frame(0), False)
    hub2.dev_write(BUF, bytes(10) + frame(0), "rx data")
    used(hub2, 0, 0, 70, 1)
    driver(hub2, "receive_skb", vq=0, len=70)
    driver(hub2, "netif_receive_skb", len=60, crc32=zlib.crc32(frame(1)))
    v = hub2.failed("rx_delivery")
    assert v and "which the device published as 60 bytes" in v[0].msg, [x.msg for x in hub2.violations]


def test_rx_lost_wakeup_when_napi_sleeps_on_published_buffers() -> None:
    for recheck in (True, False):
        hub, clk = make()
        lost = hub.by_name("rx_lost_wakeup")
        post(hub, 0, 0)
        driver(hub, "napi_enable")
        driver(hub, "napi_schedule", context="virtnet_open")
        driver(hub, "napi_complete")  # the poll found nothing
        hub.rx_frame(0.0, frame(0), False)
        hub.dev_write(BUF, bytes(10) + frame(0), "rx data")
        used(hub, 0, 0, 70, 1)  # lands between napi_complete and enable_cb: its interrupt is suppressed
        if recheck:  # the faithful driver: enable_cb says "more used", the poll is scheduled again
            driver(hub, "napi_schedule", context="virtnet_poll")
            driver(hub, "get_buf", vq=0, id=0, len=70, token=1, num_free=Q, last_used_idx=1)
        for us in range(1, 30):
            clk.t = us * 1000.0
            lost.poll(clk.t)
        v = hub.failed("rx_lost_wakeup")
        assert bool(v) != recheck, [x.msg for x in hub.violations]
        if v:
            assert "1 published RX buffer(s) wait" in v[0].msg, v[0].msg


def test_rx_chain_with_a_device_readable_buffer_fires() -> None:
    hub, _clk = make()
    post(hub, 0, 0)
    assert not hub.failed("rx_chains_writable")
    post(hub, 1, 1, write=False)
    v = hub.failed("rx_chains_writable")
    assert v and "RX entry 1 (head 1) has 1 device-readable buffer" in v[0].msg, [x.msg for x in hub.violations]
