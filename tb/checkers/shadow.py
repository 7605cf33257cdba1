"""A shadow of host memory over time, and the virtqueues as the checkers see them.

``HostShadow`` applies every driver write (seen at the platform, in program order) and every device DMA
write (seen as an RQ memory-write TLP) to a sparse image of host memory, and keeps the history of the
virtqueue areas, so a checker can ask what a ring field held at any past moment ("what was avail.flags when
the device's read of it completed at cycle N?").

``QueueView`` is one live virtqueue as the snooped registers describe it (the legacy layout of
tb/checkers/spec.py: base = PFN << 12, align 4096), plus what the checkers share about it: the chains the
driver published (walked from the shadow when avail.idx was written), which of them the device has returned
and which the driver reclaimed.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field

from tb.checkers.spec import (
    DESC_SIZE,
    USED_ELEM_SIZE,
    VIRTQ_DESC_F_INDIRECT,
    VIRTQ_DESC_F_NEXT,
    VIRTQ_DESC_F_WRITE,
    SplitLayout,
)

PAGE = 4096


class HostShadow:
    def __init__(self) -> None:
        self._pages: dict[int, bytearray] = {}
        # history of watched ranges: sorted list of (start, end) and, per range, [(t, addr, data)]
        self._watch: list[tuple[int, int]] = []
        self._hist: dict[tuple[int, int], list[tuple[float, int, bytes]]] = {}

    # -- the image -------------------------------------------------------------------------------------
    def read(self, addr: int, length: int) -> bytes:
        out = bytearray()
        while length > 0:
            page, off = divmod(addr, PAGE)
            n = min(length, PAGE - off)
            buf = self._pages.get(page)
            out += buf[off : off + n] if buf is not None else bytes(n)
            addr += n
            length -= n
        return bytes(out)

    def read_int(self, addr: int, size: int) -> int:
        return int.from_bytes(self.read(addr, size), "little")

    def write(self, t: float, addr: int, data: bytes) -> None:
        a, rest = addr, memoryview(data)
        while len(rest):
            page, off = divmod(a, PAGE)
            n = min(len(rest), PAGE - off)
            buf = self._pages.get(page)
            if buf is None:
                buf = self._pages[page] = bytearray(PAGE)
            buf[off : off + n] = rest[:n]
            a += n
            rest = rest[n:]
        rng = self._range_of(addr, len(data))
        if rng is not None:
            self._hist[rng].append((t, addr, bytes(data)))

    # -- history ---------------------------------------------------------------------------------------
    def watch(self, start: int, end: int) -> None:
        """Keep the history of [start, end) from now on (the current image is its starting value)."""
        if (start, end) in self._hist:
            return
        bisect.insort(self._watch, (start, end))
        self._hist[(start, end)] = [(float("-inf"), start, self.read(start, end - start))]

    def forget_before(self, t: float) -> int:
        """Fold each watched range's writes at or before ``t`` into one starting image (``value_at`` of an
        earlier time then answers with the image at ``t``): a long run's history stops growing with its
        packets. For times no rule asks about any more (the soak, between rounds). Returns the entries folded."""
        folded = 0
        for (start, end), hist in self._hist.items():
            k = 0
            while k < len(hist) and hist[k][0] <= t:  # appended as written: in time order
                k += 1
            if k <= 1:
                continue
            image = bytearray(end - start)
            for _wt, waddr, data in hist[:k]:
                image[waddr - start : waddr - start + len(data)] = data
            self._hist[(start, end)] = [(float("-inf"), start, bytes(image)), *hist[k:]]
            folded += k - 1
        return folded

    def _range_of(self, addr: int, length: int) -> tuple[int, int] | None:
        k = bisect.bisect_right(self._watch, (addr, float("inf"))) - 1
        if k >= 0:
            start, end = self._watch[k]
            if start <= addr and addr + length <= end:
                return start, end
        return None

    def value_at(self, addr: int, length: int, t: float) -> bytes | None:
        """What [addr, addr+length) held at time t (after every write at or before t); None if unwatched."""
        rng = self._range_of(addr, length)
        if rng is None:
            return None
        out: list[int | None] = [None] * length
        missing = length
        for wt, waddr, data in reversed(self._hist[rng]):
            if wt > t:
                continue
            lo, hi = max(addr, waddr), min(addr + length, waddr + len(data))
            for a in range(lo, hi):
                if out[a - addr] is None:
                    out[a - addr] = data[a - waddr]
                    missing -= 1
            if not missing:
                break
        return bytes(b or 0 for b in out)


@dataclass
class Chain:
    """One published buffer chain, as the descriptors in host memory described it when it was published."""

    index: int  # the avail index that published it (u16, as the ring counts)
    head: int
    descs: list[int]  # ring descriptor indices (one for an INDIRECT chain)
    buffers: list[tuple[int, int]]
    table: tuple[int, int] | None = None
    t_published: float = 0.0
    device_done: bool = False  # the device wrote a used element for it
    writable: int = 0  # bytes in device-writable buffers: the most used.len may say
    write_bufs: list[tuple[int, int]] = field(default_factory=list)  # the device-writable buffers, in order
    written: dict[int, int] = field(default_factory=dict)  # offset in write_bufs' bytes -> end, as written


@dataclass
class QueueView:
    index: int
    num: int
    base: int  # the descriptor table
    avail_at: int | None = None  # modern: the driver area (None: the legacy layout from ``base``)
    used_at: int | None = None  # modern: the device area
    layout: SplitLayout = field(init=False)
    # published chains not yet reclaimed by the driver, by avail index
    chains: dict[int, Chain] = field(default_factory=dict)
    last_published: list[Chain] = field(default_factory=list)  # what the latest avail.idx write published
    desc_owner: dict[int, Chain] = field(default_factory=dict)  # ring descriptor -> its chain in ``chains``
    avail_published: int = 0  # last avail.idx the driver wrote
    used_written: int = 0  # last used.idx the device wrote
    device_avail_seen: int | None = None  # last avail.idx the device read
    used_prev: int = 0  # used.idx before the device's latest used.idx write
    elems_written: int = 0  # used elements the device has written completely (u16 count)
    elem_mask: dict[int, int] = field(default_factory=dict)  # slot -> bytes written so far (bit mask)
    completed_now: list = field(default_factory=list)  # (slot, id, Chain|None) the last write completed

    def __post_init__(self) -> None:
        self.layout = SplitLayout(
            self.num,
            avail=None if self.avail_at is None else self.avail_at - self.base,
            used=None if self.used_at is None else self.used_at - self.base,
        )
        lay = self.layout
        # the byte ranges of the queue (one block for the legacy layout, three parts for a modern queue)
        self.ranges = (
            ((self.base, self.base + lay.end),)
            if not lay.split
            else tuple(
                (self.base + lo, self.base + hi)
                for lo, hi in ((0, lay.desc_end), (lay.avail, lay.avail_end), (lay.used, lay.used_end))
            )
        )

    # absolute addresses
    @property
    def desc(self) -> int:
        return self.base

    @property
    def avail(self) -> int:
        return self.base + self.layout.avail

    @property
    def used(self) -> int:
        return self.base + self.layout.used

    @property
    def end(self) -> int:
        return self.base + self.layout.end

    @property
    def avail_idx_addr(self) -> int:
        return self.base + self.layout.avail_idx

    def avail_ring_addr(self, slot: int) -> int:
        return self.base + self.layout.avail_ring(slot)

    @property
    def used_idx_addr(self) -> int:
        return self.base + self.layout.used_idx

    def used_elem_addr(self, slot: int) -> int:
        return self.base + self.layout.used_elem(slot)

    def used_area(self) -> tuple[int, int]:
        """Where the device may write: used.flags, used.idx, the elements and avail_event."""
        return self.used, self.base + self.layout.used_end

    def part(self, addr: int) -> tuple[str, int]:
        """Name the ring field at ``addr``: ("desc", i), ("avail_ring", slot), ("used_elem", slot), ..."""
        lay, off = self.layout, addr - self.base
        if 0 <= off < lay.desc_end:
            return "desc", off // DESC_SIZE
        if lay.avail <= off < lay.avail_end:
            if off < lay.avail_idx:
                return "avail_flags", 0
            if off < lay.avail_ring0:
                return "avail_idx", 0
            if off < lay.used_event:
                return "avail_ring", (off - lay.avail_ring0) // 2
            return "used_event", 0
        if lay.used <= off < lay.used_end:
            if off < lay.used_idx:
                return "used_flags", 0
            if off < lay.used_elem0:
                return "used_idx", 0
            if off < lay.avail_event:
                return "used_elem", (off - lay.used_elem0) // USED_ELEM_SIZE
            return "avail_event", 0
        return "", -1

    def contains(self, addr: int) -> bool:
        for lo, hi in self.ranges:  # noqa: SIM110 (every memory access asks: no generator)
            if lo <= addr < hi:
                return True
        return False

    def walk(self, mem: HostShadow, index: int, head: int, t: float) -> Chain:
        """The chain from ``head`` as host memory holds it now (loop-guarded; INDIRECT one level)."""
        descs: list[int] = []
        bufs: list[tuple[int, int]] = []
        wbufs: list[tuple[int, int]] = []
        writable = 0
        table = None
        i = head
        for _ in range(self.num):
            if i >= self.num:
                break
            addr, length, flags, nxt = struct.unpack("<QIHH", mem.read(self.base + self.layout.desc(i), DESC_SIZE))
            descs.append(i)
            if flags & VIRTQ_DESC_F_INDIRECT:
                table = (addr, length)
                raw = mem.read(addr, min(length, 16 * 256))
                k = 0
                for _ in range(len(raw) // 16):
                    a, n, f, nx = struct.unpack_from("<QIHH", raw, 16 * k)
                    bufs.append((a, n))
                    if f & VIRTQ_DESC_F_WRITE:
                        writable += n
                        wbufs.append((a, n))
                    if not f & VIRTQ_DESC_F_NEXT or nx >= len(raw) // 16:
                        break
                    k = nx
            else:
                bufs.append((addr, length))
                if flags & VIRTQ_DESC_F_WRITE:
                    writable += length
                    wbufs.append((addr, length))
            if not flags & VIRTQ_DESC_F_NEXT:
                break
            i = nxt
        return Chain(index, head, descs, bufs, table, t, writable=writable, write_bufs=wbufs)

    def add_chain(self, c: Chain) -> None:
        self.chains[c.index] = c
        for d in c.descs:
            self.desc_owner[d] = c

    def drop_chain(self, c: Chain) -> None:
        self.chains.pop(c.index, None)
        for d in c.descs:
            if self.desc_owner.get(d) is c:
                del self.desc_owner[d]

    def writable_at(self, addr: int, length: int) -> tuple[Chain, int] | None:
        """The chain the device holds whose device-writable buffer contains all of [addr, addr+length), and
        the offset of ``addr`` in that chain's writable bytes (buffers counted in chain order)."""
        for c in self.chains.values():
            if c.device_done:
                continue
            off = 0
            for a, n in c.write_bufs:
                if a <= addr and addr + length <= a + n:
                    return c, off + addr - a
                off += n
        return None

    def chain_of_head(self, head: int) -> Chain | None:
        """The published chain starting at ``head`` that the device still holds."""
        c = self.desc_owner.get(head)
        return c if c is not None and c.head == head and not c.device_done else None


def u16(x: int) -> int:
    return x & 0xFFFF
