"""The later split rings (tb/driver/virtio_ring_later.py) on plain host memory: what each generation writes
and reads for EVENT_IDX, and the kick and callback decisions, against vring_need_event.

No device: the test plays it by writing used.idx and avail_event into the ring memory itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tb.driver.virtio_ring import Sg, VirtQueue, VringLayout, vring_need_event, vring_size
from tb.driver.virtio_ring_later import VirtQueue61, VirtQueueEventIdx, VirtQueueSplit
from tb.platform.model import HostMemory, run_virtual

Q = 16


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def event(self, kind: str, **fields: Any) -> None:
        self.events.append((kind, fields))

    def kinds(self) -> list[str]:
        return [k for k, _ in self.events]


def ring(cls: type[VirtQueue], event: bool = True) -> tuple[Any, Any, Log, list[int]]:
    host = HostMemory(1 << 20)
    mem = host.alloc(vring_size(Q), 4096)
    log = Log()
    notified: list[int] = []

    async def notify(vq: VirtQueue) -> None:
        notified.append(vq.index)

    async def callback(vq: VirtQueue) -> None:
        pass

    vq = cls(1, Q, mem, notify, callback, tracer=log, event=event)
    return vq, mem, log, notified


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    return run_virtual(body())


def test_vring_need_event_examples() -> None:
    # reference §5.4: event = 5: 5 -> 6 crosses it, 6 -> 7 does not, a batch 3 -> 9 does
    assert vring_need_event(5, 6, 5)
    assert not vring_need_event(5, 7, 6)
    assert vring_need_event(5, 9, 3)
    # nothing moved: never
    assert not vring_need_event(5, 5, 5)
    # u16 wrap: event 0xffff crossed by 0xfffe -> 0x0001, event 0 by 0xffff -> 0x0000
    assert vring_need_event(0xFFFF, 0x0001, 0xFFFE)
    assert vring_need_event(0x0000, 0x0000, 0xFFFF) is False  # new == event: crossed only once new passes it
    assert vring_need_event(0x0000, 0x0001, 0xFFFF)
    # exhaustive against the definition: crossed iff event is in [old, new) modulo 2^16
    for old in (0, 7, 0xFFF0):
        for n in range(0, 40):
            new = (old + n) & 0xFFFF
            for event in range(old - 3, old + 43):
                event &= 0xFFFF
                assert vring_need_event(event, new, old) == ((event - old) & 0xFFFF < n), (event, new, old)


def test_layout_event_fields() -> None:
    lay = VringLayout(256)
    assert lay.used_event == lay.avail + 4 + 2 * 256 == 0x1204
    assert lay.avail_event == lay.used + 4 + 8 * 256 == 0x2804


@pytest.mark.parametrize("cls", [VirtQueueEventIdx, VirtQueueSplit, VirtQueue61])
@pytest.mark.parametrize("avail_event", [0, 1, 2, 3, 5])
def test_kick_asks_avail_event(cls: type[VirtQueue], avail_event: int) -> None:
    """Two entries added (avail.idx 2 -> 4 after two earlier ones): a notify iff avail_event is in [2, 4)."""
    vq, mem, log, notified = ring(cls)
    lay = vq.layout

    async def body() -> list[int]:
        for k in range(2):
            await vq.add_buf([Sg(0x1000 * (k + 1), 64)], 1, 0, object())
        await vq.kick()
        notified.clear()
        await mem.write_int(lay.avail_event, avail_event, 2)
        for k in range(2):
            await vq.add_buf([Sg(0x9000 + k, 64)], 1, 0, object())
        await vq.kick()
        return list(notified)

    assert run(body) == ([1] if vring_need_event(avail_event, 4, 2) else [])
    decisions = [f for k, f in log.events if k == "kick_prepare"]
    assert decisions[-1]["old"] == 2 and decisions[-1]["new"] == 4 and decisions[-1]["avail_event"] == avail_event


@pytest.mark.parametrize("cls", [VirtQueueEventIdx, VirtQueueSplit, VirtQueue61])
def test_without_event_idx_the_kick_reads_used_flags(cls: type[VirtQueue]) -> None:
    vq, mem, log, notified = ring(cls, event=False)

    async def body() -> list[int]:
        await mem.write_int(vq.layout.avail_event, 7, 2)       # ignored without EVENT_IDX
        await vq.add_buf([Sg(0x1000, 64)], 1, 0, object())
        await vq.kick()
        await mem.write_int(vq.layout.used_flags, 1, 2)        # VRING_USED_F_NO_NOTIFY
        await vq.add_buf([Sg(0x2000, 64)], 1, 0, object())
        await vq.kick()
        return list(notified)

    assert run(body) == [1]
    assert "avail_event_read" not in log.kinds()


async def complete(vq: VirtQueue, mem: Any, heads: list[int], used_idx: int) -> None:
    """Play the device: used elements for ``heads``, then used.idx."""
    lay = vq.layout
    for k, head in enumerate(heads):
        slot = (used_idx - len(heads) + k) % Q
        await mem.write(lay.used_elem(slot), head.to_bytes(4, "little") + bytes(4))
    await mem.write_int(lay.used_idx, used_idx & 0xFFFF, 2)


@pytest.mark.parametrize("cls", [VirtQueueEventIdx, VirtQueueSplit, VirtQueue61])
def test_enable_cb_delayed_points_three_quarters_ahead(cls: type[VirtQueue]) -> None:
    """8 outstanding, 0 used: used_event = 6; true while at most 6 are used, false once 7 are."""
    vq, mem, log, _ = ring(cls)

    async def body() -> tuple[int, bool, bool, bool]:
        for k in range(8):
            await vq.add_buf([Sg(0x1000 * (k + 1), 64)], 1, 0, object())
        await vq.kick()
        await vq.disable_cb()
        first = await vq.enable_cb_delayed()
        ue = await mem.read_int(vq.layout.used_event, 2)
        await complete(vq, mem, [0] * 6, 6)
        six = await vq.enable_cb_delayed()
        await complete(vq, mem, [0] * 7, 7)
        seven = await vq.enable_cb_delayed()
        return ue, first, six, seven

    ue, first, six, seven = run(body)
    assert ue == 6 and first and six and not seven


@pytest.mark.parametrize("cls", [VirtQueueEventIdx, VirtQueueSplit, VirtQueue61])
def test_enable_cb_writes_used_event_and_rechecks(cls: type[VirtQueue]) -> None:
    vq, mem, log, _ = ring(cls)

    async def body() -> tuple[int, bool, bool]:
        for k in range(3):
            await vq.add_buf([Sg(0x1000 * (k + 1), 64)], 1, 0, object())
        await vq.kick()
        await complete(vq, mem, [0], 1)
        assert await vq.get_buf() is not None               # last_used_idx 1
        await vq.disable_cb()
        quiet = await vq.enable_cb()                       # nothing used since: True
        ue = await mem.read_int(vq.layout.used_event, 2)
        await vq.disable_cb()
        await complete(vq, mem, [1], 2)
        busy = await vq.enable_cb()                        # one more used meanwhile: False
        return ue, quiet, busy

    ue, quiet, busy = run(body)
    assert ue == 1 and quiet and not busy
    kinds = log.kinds()
    # the used_event write comes before the barrier and the used.idx re-read
    last_enable = max(i for i, k in enumerate(kinds) if k == "used_event_write")
    assert "used_idx_read" in kinds[last_enable:]


def test_disable_cb_per_generation() -> None:
    """With EVENT_IDX: 3.0 writes avail.flags; 4.x-5.12 writes nothing; 6.1 writes used_event = 0, or nothing
    once an interrupt set event_triggered."""

    async def disable(cls: type[VirtQueue], triggered: bool = False) -> list[str]:
        vq, mem, log, _ = ring(cls)
        await vq.enable_cb()
        log.events.clear()
        if triggered:
            vq.event_triggered = True
        await vq.disable_cb()
        return [k for k in log.kinds() if k.endswith("_write")]

    assert run(lambda: disable(VirtQueueEventIdx)) == ["avail_flags_write"]
    assert run(lambda: disable(VirtQueueSplit)) == []
    assert run(lambda: disable(VirtQueue61)) == ["used_event_write"]
    assert run(lambda: disable(VirtQueue61, triggered=True)) == []


@pytest.mark.parametrize("cls", [VirtQueueEventIdx, VirtQueueSplit, VirtQueue61])
def test_get_buf_publishes_used_event_only_with_callbacks_on(cls: type[VirtQueue]) -> None:
    vq, mem, log, _ = ring(cls)

    async def body() -> list[int]:
        for k in range(2):
            await vq.add_buf([Sg(0x1000 * (k + 1), 64)], 1, 0, object())
        await vq.kick()
        await complete(vq, mem, [0, 1], 2)
        await vq.enable_cb()
        log.events.clear()
        await vq.get_buf()                                  # callbacks on: used_event = 1
        await vq.disable_cb()
        await vq.get_buf()                                  # off: nothing
        return [f["value"] for k, f in log.events if k == "used_event_write"]

    written = run(body)
    assert written[0] == 1
    assert 2 not in written


def test_split_ring_publishes_avail_idx_at_add() -> None:
    """3.0 publishes avail.idx in the kick; the 4.x ring at every add (the kick only decides)."""

    async def first_idx_write(cls: type[VirtQueue]) -> str:
        vq, mem, log, _ = ring(cls)
        await vq.add_buf([Sg(0x1000, 64)], 1, 0, object())
        before_kick = "avail_idx_write" in log.kinds()
        await vq.kick()
        return "add" if before_kick else "kick"

    assert run(lambda: first_idx_write(VirtQueueEventIdx)) == "kick"
    assert run(lambda: first_idx_write(VirtQueueSplit)) == "add"
