"""The pure-Python model device's TX rules, seen by the spec-only driver (tests/sim/spec_driver.py).

The model (tb/platform/model.py) is the RTL's reference at transaction level; these pin down the rules the
conformance tests check on the RTL: frames above the maximum and below the minimum are dropped and
counted, their chains still come back (used.len 0, as for every TX chain), the frames around them go out.
"""

from __future__ import annotations

from tb.device.dev_ctrl import DeviceModes
from tb.platform.model import MAX_FRAME_LEN, MIN_FRAME_LEN, ModelPlatform, ModelTiming, run_virtual
from tests.sim.spec_driver import NET_HDR_LEN, SpecNetDriver, frame_bytes


def run_frames(pieces_list: list[list[bytes]]) -> tuple[ModelPlatform, list]:
    async def main():
        p = ModelPlatform(DeviceModes(), ModelTiming(latency_ns=50))
        p.start()
        d = SpecNetDriver(p)
        await d.init()
        for pieces in pieces_list:
            await d.post(pieces)
        await d.kick()
        assert await d.wait_used(len(pieces_list), 1e6), "the model did not return every chain"
        used = await d.reap()
        p.device.stop()
        return p, used

    return run_virtual(main())


def test_oversize_and_runts_dropped_and_counted() -> None:
    h = bytes(NET_HDR_LEN)
    frames = [frame_bytes(n, k) for k, n in enumerate((MAX_FRAME_LEN, MAX_FRAME_LEN + 1, 9014, 60, MIN_FRAME_LEN,
                                                       MIN_FRAME_LEN - 1, 5, 0, 42))]
    p, used = run_frames([[h, f] if f else [h] for f in frames])
    c = p.device.c
    assert len(used) == len(frames) and all(u.len == 0 for u in used), used
    assert c.wire == [f for f in frames if MIN_FRAME_LEN <= len(f) <= MAX_FRAME_LEN]
    assert c.drop_oversize == 2 and c.drop_runt == 3, c
