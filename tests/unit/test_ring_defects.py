"""The malformed-ring generator and its judge (tests/sim/ring_defects.py), without a simulator.

Each generated case is laid out in a byte model of host memory and walked by a small reference walker written
from the virtio rules (hdl/virtio/README.md "Processing" and "Reset and errors"): the cause (or the frames and
drops) the plan expects must be what the walker finds, so a case never claims a defect it does not contain.
The judge passes the device's ideal behaviour and catches each kind of misbehaviour the simulation watches for.
"""

from __future__ import annotations

import struct

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.sim import ring_defects as rd  # noqa: E402

LAY = rd.Layout(q=256, desc=0x10000, avail=0x11000, used=0x12000, data=0x20000, data_size=128 * 1024)
CASES = rd.strategies()().filter(rd.fits)  # a draw for a small queue may not fit it (the simulation rejects it too)


def lay_of(case: rd.RingCase) -> rd.Layout:
    return rd.ring_layout(case, 0x10000, 0x20000, 128 * 1024)


class _Mem:
    def __init__(self) -> None:
        self.b: dict[int, int] = {}

    def write(self, addr: int, data: bytes) -> None:
        for i, x in enumerate(data):
            self.b[addr + i] = x

    def read(self, addr: int, n: int) -> bytes:
        return bytes(self.b.get(addr + i, 0) for i in range(n))

    def u16(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 2), "little")


def _mapped(addr: int, n: int, lay: rd.Layout = LAY) -> bool:
    return lay.desc <= addr and addr + n <= lay.data + lay.data_size


def reference(plan: rd.Plan, acked: bool, LAY: rd.Layout = LAY) -> tuple[int | None, list[bytes], dict[str, int]]:  # noqa: N803
    """Walk every published chain the way the device must: (cause or None, frames sent, drops)."""
    mem = _Mem()
    for ph in plan.phases:
        for addr, data in ph.writes:
            mem.write(addr, data)
    q = LAY.q
    idx = plan.phases[-1].avail_idx
    if plan.sent_first:
        first = plan.phases[0].avail_idx
        if (idx - first) & 0xFFFF > q:
            return 1, [], {}
    elif idx > q:
        return 1, [], {}
    frames: list[bytes] = []
    drops = {"drop_oversize": 0, "drop_runt": 0}
    for i in range(idx):
        head = mem.u16(LAY.avail + 4 + 2 * (i % q))
        if head >= q:
            return 2, frames, drops
        data = b""
        table: list[tuple[int, int, int, int]] | None = None
        d = struct.unpack("<QIHH", mem.read(LAY.desc + 16 * head, 16))
        n = 0
        while True:
            addr, length, flags, nxt = d
            n += 1
            if flags & rd.DESC_F_WRITE:
                return 7, frames, drops
            if flags & rd.DESC_F_INDIRECT:
                if not acked:
                    return 4, frames, drops
                if table is not None or n > 1 or flags & rd.DESC_F_NEXT:
                    return 5, frames, drops
                if length == 0 or length % 16 or length > 16 * LAY.indirect_max:
                    return 6, frames, drops
                if not _mapped(addr, length, LAY):
                    return 9, frames, drops
                table = [struct.unpack("<QIHH", mem.read(addr + 16 * k, 16)) for k in range(length // 16)]
                d, n = table[0], 0
                continue
            if length and len(data) <= LAY.hdr_len + rd.MAX_FRAME:
                if not _mapped(addr, min(length, 4096), LAY):
                    return 9, frames, drops
                data += mem.read(addr, min(length, LAY.hdr_len + rd.MAX_FRAME + 1 - len(data)))
            if not flags & rd.DESC_F_NEXT:
                break
            limit = len(table) if table is not None else q
            if nxt >= limit:
                return 2, frames, drops
            if n >= limit:
                return 3, frames, drops
            d = table[nxt] if table is not None else struct.unpack("<QIHH", mem.read(LAY.desc + 16 * nxt, 16))
        frame = data[LAY.hdr_len :]
        if len(frame) > rd.MAX_FRAME:
            drops["drop_oversize"] += 1
        elif len(frame) < rd.MIN_FRAME:
            drops["drop_runt"] += 1
        else:
            frames.append(frame)
    return None, frames, drops


@settings(max_examples=250, deadline=None)
@given(CASES)
def test_plan_matches_reference(case: rd.RingCase) -> None:
    """The cause (or frames and drops) a plan expects is what a walk by the rules finds in its memory."""
    plan = rd.build(case, lay_of(case))
    cause, frames, drops = reference(plan, case.indirect_acked, lay_of(case))
    if case.kind == "rewrite":
        assert cause is None and plan.causes >= {None}
        return  # the rewrite's other outcomes depend on the device's timing (the judge's alternatives)
    assert cause in plan.causes, f"{case.describe()}: plan {set(plan.causes)}, reference {cause}"
    if len(plan.causes) > 1:  # the device may or may not make the read that fails (a header-only buffer)
        assert case.kind == "bad_addr" and plan.causes == {None, 9}
        return
    if cause is None:
        assert frames == plan.expected_frames()
        assert drops == {n: sum(c.drop == n for c in plan.chains) for n in drops}
    else:
        assert frames == plan.expected_frames()[: len(frames)]


@given(CASES)
def test_case_id_round_trip(case: rd.RingCase) -> None:
    assert rd.RingCase.from_id(case.to_id()) == case


@pytest.mark.parametrize("text", ["", "xyz", "e30", rd.RingCase("nope").to_id()])
def test_bad_case_id(text: str) -> None:
    with pytest.raises(ValueError):
        rd.RingCase.from_id(text)


@settings(max_examples=200, deadline=None)
@given(CASES)
def test_every_write_in_the_case_memory(case: rd.RingCase) -> None:
    lay = lay_of(case)
    plan = rd.build(case, lay)
    for ph in plan.phases:
        for addr, data in ph.writes + ph.rewrite:
            assert _mapped(addr, len(data), lay), f"{case.describe()}: host write at {addr:#x}"


def _ideal(plan: rd.Plan) -> rd.Observed:
    """What a correct device does with ``plan`` (first outcome allowed)."""
    cause = min(plan.causes, key=lambda c: (c is not None, c or 0))
    if cause is None:
        frames = [(f, False) for f in plan.expected_frames()]
        used = [(c.head, 0) for c in plan.chains]
        cnt = {n: sum(c.drop == n for c in plan.chains) for n in ("drop_oversize", "drop_runt")}
        return rd.Observed(
            frames, len(used), used, False, True, 0, {"errors": 0, "last_error": 0, **cnt}, {}, [], [(LAY.used, 8)], 0
        )
    done = plan.chains[: plan.sent_first]
    frames = [(c.frames[0], False) for c in done if c.frames[0] is not None]
    return rd.Observed(
        frames,
        len(done),
        [(c.head, 0) for c in done],
        True,
        False,
        1,
        {"errors": 1, "last_error": cause},
        {cause: 1},
        [],
        [],
        0,
    )


FAULTS = {
    "stray_write": lambda o: o.writes.append((LAY.data + 100, 2)),
    "write_past_used": lambda o: o.writes.append((LAY.used + LAY.used_size - 1, 2)),
    "extra_frame": lambda o: o.frames.append((b"\x02" * 60, False)),
    "outstanding": lambda o: setattr(o, "outstanding_reads", 1),
    "busy": lambda o: o.busy.append("rq"),
    "read_outside": lambda o: o.reads.append((0x9000_0000, 64)),
    "wrong_outcome": lambda o: _wrong_outcome(o),
}


def _wrong_outcome(o: rd.Observed) -> None:
    """Stopped with another cause than the plan's (or stopped where the plan sends)."""
    o.counters.update(last_error=o.counters.get("last_error", 0) % 9 + 1)
    o.needs_reset = True


@pytest.mark.parametrize("fault", FAULTS)
@settings(max_examples=40, deadline=None)
@given(case=CASES)
def test_judge_catches(fault: str, case: rd.RingCase) -> None:
    plan = rd.build(case, LAY)
    obs = _ideal(plan)
    assert rd.judge(plan, obs) == [], case.describe()
    FAULTS[fault](obs)
    assert rd.judge(plan, obs), f"{fault} not caught: {case.describe()}"


@settings(max_examples=60, deadline=None)
@given(case=CASES.filter(lambda c: rd.KINDS[c.kind] is None and c.kind != "rewrite"), flip=st.integers(0, 1 << 16))
def test_judge_catches_a_changed_byte(case: rd.RingCase, flip: int) -> None:
    plan = rd.build(case, LAY)
    obs = _ideal(plan)
    if not obs.frames:
        return
    i = flip % len(obs.frames)
    data = bytearray(obs.frames[i][0])
    data[flip % len(data)] ^= 0x01
    obs.frames[i] = (bytes(data), False)
    assert rd.judge(plan, obs)


def test_judge_catches_a_forbidden_read() -> None:
    case = rd.RingCase("write_flag", param=5, before=(rd.Packet(100),))
    plan = rd.build(case, LAY)
    obs = _ideal(plan)
    assert rd.judge(plan, obs) == []
    a, n = plan.read_forbidden[0]
    obs.reads.append((a, n))
    assert any("refused first" in m for m in rd.judge(plan, obs))


def test_a_bad_descriptor_on_a_valid_buffer_is_not_forbidden() -> None:
    """make regress (hypothesis seed 2886458083, shrunk): head 15360 of a 256-entry ring fell on the buffer of
    the packet sent first, and the device's read of that buffer was called a read of the bad descriptor."""
    case = rd.RingCase("head_out_of_range", param=15104, before=(rd.Packet(14),), indirect_acked=False, msix=False)
    # the simulation's layout then: the ring at 0x4000, the data area from 0x40000 (descriptor 15360's address)
    lay = rd.Layout(q=256, desc=0x4000, avail=0x5000, used=0x6000, data=0x40000, data_size=0x2000)
    plan = rd.build(case, lay)
    assert lay.desc + 16 * plan.chains[-1].head in range(lay.data, lay.data + lay.data_size)
    # what the packet sent first wrote (descriptor, buffer) the device reads, rightly
    for addr, data in plan.phases[0].writes:
        assert not rd._overlaps(addr, len(data), plan.read_forbidden), f"{len(data)} bytes at {addr:#x} forbidden"


def test_every_kind_generated() -> None:
    seen: set[str] = set()

    @settings(max_examples=600, deadline=None, database=None, derandomize=True)
    @given(CASES)
    def collect(case: rd.RingCase) -> None:
        seen.add(case.kind)

    collect()
    assert seen == set(rd.KINDS)
