"""What the RX block tests share: the wire source, device-writable chains, and the judge of what the device
wrote (tests/sim/test_virtq_rx_mover.py, tests/sim/test_virtq_rx.py).

``AxisSource`` drives frames into ``s_axis_rx_*`` a beat per cycle (optional random gaps between frames) and
measures the wire: beats taken, cycles from the first beat to the last, and the longest run of cycles a
frame's beat was offered and not taken (the stall the device's RX_WAIT bounds).

``RxJudge`` holds what the device may write and what it must deliver. The test declares each frame's
expected outcome in wire order (``expect``: delivered into n chains, or dropped with n chains returned with
len 0, or dropped before any chain). Every device write (``on_write``) must lie inside one device-writable
buffer of a chain handed to the device and not yet completed, of a frame expected to be delivered; each
chain's completions (``on_chain``) come in ring order, and at a frame's last chain the judge compares host
memory with the virtio_net_hdr (10 zero bytes, or 12 with num_buffers) + the frame, laid over the chains'
buffers in order: used.len = the bytes written into each chain, every byte of them as expected, and nothing
beyond them changed (the buffers are filled with a pattern when handed over).

Timing convention: inputs are driven at falling clock edges, handshakes sampled there.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import cocotb
from cocotb.triggers import Event, FallingEdge, ReadOnly, RisingEdge

from tests.sim.dma_model import Access, HostMemory, cycle_now, high

FILL = 0xA5
HDR_LEN = 10
HDR_LEN_MRG = 12


@dataclass
class RxChain:
    """A chain of device-writable buffers handed to the device."""

    head: int
    buffers: list[tuple[int, int]]          # (addr, len)
    written: list[tuple[int, int]] = field(default_factory=list)   # (stream offset, len) of each write

    @property
    def capacity(self) -> int:
        return sum(n for _, n in self.buffers)

    def locate(self, addr: int, length: int) -> int | None:
        """The stream offset of [addr, addr + length) if it lies inside one buffer, else None."""
        off = 0
        for a, n in self.buffers:
            if a <= addr and addr + length <= a + n:
                return off + addr - a
            off += n
        return None


@dataclass
class Outcome:
    frame: bytes
    kind: str                   # "deliver", "drop" (chains returned with len 0), "none" (no completion)
    chains: list[RxChain]       # the chains the frame takes, in ring order


class AxisSource:
    """Frames into ``s_axis_rx_*``; ``tuser`` = 1 on the last beat of a frame sent with ``bad``."""

    def __init__(self, dut, rng: random.Random, width_bytes: int, prefix: str = "s_axis_rx"):
        self.dut = dut
        self.rng = rng
        self.wb = width_bytes
        self.sig = {n: getattr(dut, f"{prefix}_{n}") for n in ("tdata", "tkeep", "tvalid", "tready", "tlast", "tuser")}
        self.queue: list[tuple[bytes, bool]] = []
        self.gap_prob = 0.0
        self.event = Event()
        self.sent = 0
        self.beats = 0
        self.first = -1
        self.last = -1
        self.stall = 0
        self.max_stall = 0
        for n in ("tdata", "tkeep", "tvalid", "tlast", "tuser"):
            self.sig[n].value = 0
        cocotb.start_soon(self._run())

    def send(self, frame: bytes, bad: bool = False) -> None:
        self.queue.append((frame, bad))
        self.event.set()

    def reset_stats(self) -> None:
        self.beats, self.first, self.last, self.max_stall = 0, -1, -1, 0

    @property
    def busy(self) -> bool:
        return bool(self.queue)

    async def _run(self) -> None:
        s = self.sig
        clk = self.dut.clk
        while True:
            if not self.queue:
                s["tvalid"].value = 0
                self.event.clear()
                await self.event.wait()
                await FallingEdge(clk)
            while self.gap_prob and self.rng.random() < self.gap_prob:
                s["tvalid"].value = 0
                await FallingEdge(clk)
            frame, bad = self.queue[0]
            beats = [frame[k:k + self.wb] for k in range(0, len(frame), self.wb)] or [b""]
            for k, chunk in enumerate(beats):
                last = k == len(beats) - 1
                s["tdata"].value = int.from_bytes(chunk.ljust(self.wb, b"\0"), "little")
                s["tkeep"].value = (1 << len(chunk)) - 1
                s["tlast"].value = int(last)
                s["tuser"].value = int(bad and last)
                s["tvalid"].value = 1
                while True:
                    await ReadOnly()
                    ready = high(s["tready"])
                    await RisingEdge(clk)
                    if ready:
                        break
                    self.stall += 1
                    self.max_stall = max(self.max_stall, self.stall)
                    await FallingEdge(clk)
                self.stall = 0
                now = cycle_now()
                self.beats += 1
                if self.first < 0:
                    self.first = now
                self.last = now
                await FallingEdge(clk)
            self.queue.pop(0)
            self.sent += 1
            if not self.queue:
                s["tvalid"].value = 0


class BufferPool:
    """Device-writable buffers in host memory, each in a slot of its own (gaps between them, so a write past
    a buffer lands outside every buffer)."""

    def __init__(self, mem: HostMemory, base: int, slots: int, slot_size: int, rng: random.Random):
        self.mem = mem
        self.base = base
        self.slots = slots
        self.slot_size = slot_size
        self.rng = rng
        self.next = 0

    def buffer(self, length: int) -> tuple[int, int]:
        """A buffer of ``length`` bytes (at a random offset in the next slot), filled with the pattern."""
        assert length + 16 <= self.slot_size
        slot = self.base + (self.next % self.slots) * self.slot_size
        self.next += 1
        addr = slot + self.rng.randrange(0, self.slot_size - length - 16 + 1)
        self.mem.fill(addr, length, FILL)
        return addr, length


class RxJudge:
    def __init__(self, mem: HostMemory, mrg: bool, log):
        self.mem = mem
        self.log = log
        self.mrg = mrg
        self.hdr_len = HDR_LEN_MRG if mrg else HDR_LEN
        self.errors: list[str] = []
        self.outcomes: list[Outcome] = []       # wire order, not yet completed
        self.group: list[tuple[RxChain, int]] = []
        self.delivered: list[bytes] = []
        self.dropped = 0
        self.bad_writes = 0
        self.len_errors = 0
        self.content_errors = 0
        self.writes = 0
        self.multi = 0              # frames delivered over more than one chain

    def error(self, msg: str) -> None:
        self.log.error(msg)
        self.errors.append(msg)

    def set_mrg(self, mrg: bool) -> None:
        self.mrg = mrg
        self.hdr_len = HDR_LEN_MRG if mrg else HDR_LEN

    def expect(self, frame: bytes, kind: str, chains: list[RxChain] | None = None) -> None:
        """The next frame in wire order: "deliver" into ``chains``, "drop" with ``chains`` returned with len
        0, or "none" (dropped before it took a chain: no completion)."""
        self.outcomes.append(Outcome(frame, kind, list(chains or [])))

    def on_write(self, acc: Access) -> None:
        if acc.error:
            return
        self.writes += 1
        for o in self.outcomes:
            for c in o.chains:
                off = c.locate(acc.addr, acc.length)
                if off is None:
                    continue
                if o.kind != "deliver":
                    self.bad_writes += 1
                    self.error(f"write {acc.addr:#x}+{acc.length} into chain {c.head}, whose frame is dropped")
                c.written.append((off, acc.length))
                return
        self.bad_writes += 1
        self.error(f"write {acc.addr:#x}+{acc.length} outside the device-writable buffers of the chains handed over")

    def on_chain(self, head: int, length: int, last: bool | None = None) -> None:
        """A completion (used element) in ring order; ``last``: the frame's last chain, where the source says."""
        while self.outcomes and self.outcomes[0].kind == "none":
            self.outcomes.pop(0)
            self.dropped += 1
        if not self.outcomes:
            self.error(f"completion of {head}: no frame expected")
            return
        o = self.outcomes[0]
        k = len(self.group)
        if o.chains[k].head != head:
            self.error(f"completion of {head}, expected {o.chains[k].head} (ring order)")
        self.group.append((o.chains[k], length))
        done = len(self.group) == len(o.chains)
        if last is not None and last != done:
            self.error(f"completion of {head}: last = {last}, chain {k + 1} of {len(o.chains)}")
        if not done:
            return
        self.outcomes.pop(0)
        group, self.group = self.group, []
        if o.kind == "drop":
            self.dropped += 1
            for c, n in group:
                if n != 0:
                    self.len_errors += 1
                    self.error(f"chain {c.head} of a dropped frame returned with len {n}, expected 0")
            return
        self.multi += len(group) > 1
        self._check_delivered(o.frame, group)

    def _check_delivered(self, frame: bytes, group: list[tuple[RxChain, int]]) -> None:
        hdr = bytearray(self.hdr_len)
        if self.mrg:
            hdr[10:12] = len(group).to_bytes(2, "little")
        stream = bytes(hdr) + frame
        off = 0
        for c, n in group:
            want = stream[off:off + min(c.capacity, len(stream) - off)]
            if n != len(want):
                self.len_errors += 1
                self.error(f"chain {c.head}: used.len {n}, {len(want)} bytes written into it expected")
            got = b"".join(self.mem.read(a, ln) for a, ln in c.buffers)
            if got[:len(want)] != want:
                self.content_errors += 1
                bad = next(i for i in range(len(want)) if got[i] != want[i])
                self.error(f"chain {c.head}: byte {bad} of {len(want)} is {got[bad]:#x}, expected {want[bad]:#x}")
            if any(b != FILL for b in got[len(want):]):
                self.content_errors += 1
                self.error(f"chain {c.head}: written past the {len(want)} bytes of its part of the frame")
            off += len(want)
        if off != len(stream):
            self.error(f"frame of {len(frame)} bytes: {off} of {len(stream)} stream bytes placed")
        self.delivered.append(frame)

    def finish(self) -> None:
        while self.outcomes and self.outcomes[0].kind == "none":
            self.outcomes.pop(0)
            self.dropped += 1
        if self.outcomes:
            self.error(f"{len(self.outcomes)} expected frames not completed (first: {self.outcomes[0].kind}, "
                       f"{len(self.outcomes[0].frame)} bytes)")
        if self.group:
            self.error(f"a frame's completions cut short: {[c.head for c, _ in self.group]}")


def place(frame_len: int, hdr_len: int, mrg: bool, chains: list[RxChain], max_chains: int) -> tuple[str, int]:
    """How the device places a frame into the next chains: ("deliver", n) or ("drop", n chains taken)."""
    need = hdr_len + frame_len
    have = 0
    for n, c in enumerate(chains, 1):
        have += c.capacity
        if have >= need:
            return "deliver", n
        if not mrg or n == max_chains:
            return "drop", n
    raise ValueError("not enough chains for the frame")
