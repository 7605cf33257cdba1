"""Driver-side split virtqueue builder for block tests (a test tool, like rust-vmm's ``MockSplitQueue``).

Not the project's Linux driver model (that is ``tb/driver``): this lays out a legacy split ring in a
``HostMemory`` bytearray, adds TX chains (a virtio_net_hdr buffer plus data buffers, or one INDIRECT
descriptor), publishes ``avail.idx``, reads the used ring back, and builds malformed rings on purpose.

Legacy layout (virtio-pci legacy, align 4096): desc at base, avail at base + 16*Q, used at the next 4096
boundary after the avail ring (``used_event`` slot included).

Host buffers: descriptor ``i`` owns the data slot ``data_base + i*DATA_SLOT`` (a direct chain's buffer
lives in its descriptor's slot at a random offset); an INDIRECT chain owns the table
``ind_base + head*IND_SLOT`` and keeps all its buffers in the head's data slot.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field

VRING_DESC_F_NEXT = 1
VRING_DESC_F_WRITE = 2
VRING_DESC_F_INDIRECT = 4
VRING_AVAIL_F_NO_INTERRUPT = 1
VRING_USED_F_NO_NOTIFY = 1
VRING_ALIGN = 4096

DATA_SLOT = 2048
IND_SLOT = 1024


class HostMemory:
    """Host memory: a bytearray at bus address ``base``."""

    def __init__(self, base: int, size: int):
        self.base = base
        self.size = size
        self.data = bytearray(size)

    def contains(self, addr: int, length: int) -> bool:
        return self.base <= addr and addr + length <= self.base + self.size

    def read(self, addr: int, length: int) -> bytes:
        off = addr - self.base
        return bytes(self.data[off:off + length])

    def write(self, addr: int, data: bytes) -> None:
        off = addr - self.base
        self.data[off:off + len(data)] = data

    def fill(self, addr: int, length: int, value: int = 0) -> None:
        off = addr - self.base
        self.data[off:off + length] = bytes([value]) * length

    def read_u16(self, addr: int) -> int:
        return struct.unpack_from("<H", self.data, addr - self.base)[0]

    def write_u16(self, addr: int, value: int) -> None:
        struct.pack_into("<H", self.data, addr - self.base, value & 0xFFFF)

    def read_u32(self, addr: int) -> int:
        return struct.unpack_from("<I", self.data, addr - self.base)[0]


def vring_layout(base: int, qsize: int) -> tuple[int, int, int, int]:
    """(desc, avail, used, total size) of a legacy ring at ``base``."""
    desc = base
    avail = base + 16 * qsize
    used = (avail + 2 * (3 + qsize) + VRING_ALIGN - 1) // VRING_ALIGN * VRING_ALIGN
    return desc, avail, used, used - base + 6 + 8 * qsize


@dataclass
class Chain:
    """One published chain and what the device must do with it."""
    head: int
    frame: bytes                     # bytes expected on the wire
    total: int                       # bytes the device reads (the used.len of the USED_LEN_READ knob)
    descs: list[int]                 # ring descriptors owned by the chain
    indirect: bool = False
    buffers: list[tuple[int, int]] = field(default_factory=list)   # (addr, len) of every buffer
    bad: list[tuple[int, int]] = field(default_factory=list)       # (addr, len) the device must not read
    error: int = 0                   # expected error cause (0 = well-formed)


class SplitRing:
    def __init__(self, mem: HostMemory, base: int, qsize: int, hdr_len: int, data_base: int, ind_base: int,
                 rng: random.Random):
        assert base % VRING_ALIGN == 0
        self.mem = mem
        self.qsize = qsize
        self.hdr_len = hdr_len
        self.rng = rng
        self.base = base
        self.desc, self.avail, self.used, size = vring_layout(base, qsize)
        self.data_base = data_base
        self.ind_base = ind_base
        assert mem.contains(base, size)
        assert mem.contains(data_base, qsize * DATA_SLOT) and mem.contains(ind_base, qsize * IND_SLOT)
        mem.fill(base, size)                     # the driver initialises flags and indices to 0
        self.free: list[int] = list(range(qsize))  # free descriptors, allocated in order (like a fresh ring)
        self.avail_idx = 0                       # driver's shadow, published by publish()
        self.last_used = 0
        self.inflight: dict[int, Chain] = {}
        self.queued: list[Chain] = []            # chains in avail order, not yet seen used

    # ---- raw ring access ------------------------------------------------------------------------

    def desc_addr(self, i: int) -> int:
        return self.desc + 16 * i

    def write_desc(self, i: int, addr: int, length: int, flags: int, nxt: int) -> None:
        self.mem.write(self.desc_addr(i), struct.pack("<QIHH", addr, length, flags, nxt))

    def push_avail(self, head: int) -> None:
        self.mem.write_u16(self.avail + 4 + 2 * (self.avail_idx % self.qsize), head)
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF

    def publish(self) -> None:
        """virtio_wmb(); avail->idx = shadow (everything before it is already in memory)."""
        self.mem.write_u16(self.avail + 2, self.avail_idx)

    @property
    def avail_flags(self) -> int:
        return self.mem.read_u16(self.avail)

    @avail_flags.setter
    def avail_flags(self, value: int) -> None:
        self.mem.write_u16(self.avail, value)

    def used_flags(self) -> int:
        return self.mem.read_u16(self.used)

    def used_idx(self) -> int:
        return self.mem.read_u16(self.used + 2)

    def used_elem(self, pos: int) -> tuple[int, int]:
        off = self.used + 4 + 8 * (pos % self.qsize)
        return self.mem.read_u32(off), self.mem.read_u32(off + 4)

    def pending(self) -> int:
        """Published chains the device has not returned yet."""
        return (self.avail_idx - self.last_used) & 0xFFFF

    def num_free(self) -> int:
        return len(self.free)

    def alloc(self, n: int) -> list[int]:
        assert n <= len(self.free)
        out, self.free = self.free[:n], self.free[n:]
        return out

    def slot(self, i: int) -> int:
        return self.data_base + i * DATA_SLOT

    def table(self, head: int) -> int:
        return self.ind_base + head * IND_SLOT

    # ---- well-formed chains ---------------------------------------------------------------------

    def split(self, frame: bytes, nbufs: int) -> list[bytes]:
        nbufs = max(1, min(nbufs, len(frame)))
        cuts = sorted(self.rng.sample(range(1, len(frame)), nbufs - 1)) if nbufs > 1 else []
        bounds = [0, *cuts, len(frame)]
        return [frame[a:b] for a, b in zip(bounds, bounds[1:])]

    def add_packet(self, frame: bytes, nbufs: int = 1, indirect: bool = False) -> Chain | None:
        """Header buffer + ``nbufs`` data buffers (or the same in an INDIRECT table); None if no room."""
        hdr = bytes(self.rng.getrandbits(8) for _ in range(self.hdr_len))
        return self.add_buffers([hdr, *self.split(frame, nbufs)], indirect)

    def add_buffers(self, pieces: list[bytes], indirect: bool = False) -> Chain | None:
        """A chain of the given buffers (the first ``hdr_len`` bytes are the header; empty buffers
        allowed); None if there are not enough free descriptors."""
        need = 1 if indirect else len(pieces)
        if need > len(self.free):
            return None
        descs = self.alloc(need)
        buffers: list[tuple[int, int]] = []
        head = descs[0]
        if indirect:
            addr = self.slot(head)
            for piece in pieces:
                addr += self.rng.randrange(0, 4)     # any alignment, small gaps (the slot is 2 KiB)
                self.mem.write(addr, piece)
                buffers.append((addr, len(piece)))
                addr += len(piece)
            assert addr <= self.slot(head) + DATA_SLOT and len(buffers) * 16 <= IND_SLOT
            table = self.table(head)
            for k, (baddr, blen) in enumerate(buffers):
                last = k == len(buffers) - 1
                self.mem.write(table + 16 * k, struct.pack("<QIHH", baddr, blen, 0 if last else VRING_DESC_F_NEXT,
                                                           0 if last else k + 1))
            self.write_desc(head, table, 16 * len(buffers), VRING_DESC_F_INDIRECT, 0)
        else:
            for k, (i, piece) in enumerate(zip(descs, pieces)):
                addr = self.slot(i) + self.rng.randrange(0, DATA_SLOT - len(piece) + 1)
                self.mem.write(addr, piece)
                buffers.append((addr, len(piece)))
                last = k == len(pieces) - 1
                self.write_desc(i, addr, len(piece), 0 if last else VRING_DESC_F_NEXT, 0 if last else descs[k + 1])
        data = b"".join(pieces)
        chain = Chain(head=head, frame=data[self.hdr_len:], total=len(data), descs=descs, indirect=indirect,
                      buffers=buffers)
        self._queue(chain)
        return chain

    def _queue(self, chain: Chain) -> None:
        self.push_avail(chain.head)
        self.inflight[chain.head] = chain
        self.queued.append(chain)

    def reclaim(self) -> list[tuple[Chain, int, int]]:
        """Read the used ring from last_used to used.idx: [(chain expected, id, len)], descriptors freed."""
        out = []
        idx = self.used_idx()
        while self.last_used != idx:
            uid, ulen = self.used_elem(self.last_used)
            expected = self.queued.pop(0) if self.queued else None
            chain = self.inflight.pop(uid, None)
            if chain is not None:
                self.free.extend(chain.descs)
            out.append((expected, uid, ulen))
            self.last_used = (self.last_used + 1) & 0xFFFF
        return out

    # ---- malformed chains (each returns a Chain with the expected error and the untouchable ranges) ----

    def _raw(self, descs: list[int], entries: list[tuple[int, int, int, int]], **kw) -> Chain:
        """Write ``entries`` [(addr, len, flags, next)] into descriptors ``descs`` and queue descs[0]."""
        for i, (addr, length, flags, nxt) in zip(descs, entries):
            self.write_desc(i, addr, length, flags, nxt)
        chain = Chain(head=descs[0], frame=b"", total=0, descs=descs, **kw)
        self._queue(chain)
        return chain

    def _hdr_buf(self, i: int) -> tuple[int, int]:
        addr = self.slot(i)
        self.mem.write(addr, bytes(self.hdr_len))
        return addr, self.hdr_len

    def add_loop(self, length: int = 2) -> Chain:
        """Cause 3: a direct chain whose last descriptor points back at the head."""
        d = self.alloc(length)
        entries = []
        for k, i in enumerate(d):
            addr = self.slot(i)
            entries.append((addr, 0, VRING_DESC_F_NEXT, d[(k + 1) % length]))   # no data: no DMA per lap
        return self._raw(d, entries, error=3)

    def add_next_out_of_range(self) -> Chain:
        """Cause 2: header descriptor's next = Q + 5."""
        d = self.alloc(1)
        addr, n = self._hdr_buf(d[0])
        bad = self.qsize + 5
        return self._raw(d, [(addr, n, VRING_DESC_F_NEXT, bad)], error=2, bad=[(self.desc_addr(bad), 16)])

    def add_head_out_of_range(self) -> Chain:
        """Cause 2: an avail.ring entry >= Q (no descriptor is consumed)."""
        bad = self.qsize + 3
        chain = Chain(head=bad, frame=b"", total=0, descs=[], error=2, bad=[(self.desc_addr(bad), 16)])
        self._queue(chain)
        return chain

    def add_indirect(self, table_entries: list[tuple[int, int, int, int]], table_len: int | None = None,
                     flags: int = VRING_DESC_F_INDIRECT, error: int = 0, bad_table: bool = True,
                     prefix: bool = False) -> Chain:
        """An INDIRECT descriptor (optionally after a normal header descriptor) with the given table."""
        d = self.alloc(2 if prefix else 1)
        ind = d[-1]
        table = self.table(ind)
        for k, e in enumerate(table_entries):
            self.mem.write(table + 16 * k, struct.pack("<QIHH", *e))
        tlen = 16 * len(table_entries) if table_len is None else table_len
        entries = [(table, tlen, flags, 0)]
        if prefix:
            entries.insert(0, (*self._hdr_buf(d[0]), VRING_DESC_F_NEXT, ind))
        return self._raw(d, entries, error=error, bad=[(table, max(tlen, 16))] if bad_table else [])

    def add_write_flag(self) -> Chain:
        """Cause 7: the data descriptor is device-writable."""
        d = self.alloc(2)
        addr, n = self._hdr_buf(d[0])
        data = self.slot(d[1])
        return self._raw(d, [(addr, n, VRING_DESC_F_NEXT, d[1]), (data, 100, VRING_DESC_F_WRITE, 0)],
                         error=7, bad=[(data, 100)])

    def add_too_long(self, max_frame: int) -> Chain:
        """Cause 8: header + 2 data buffers whose sum exceeds hdr_len + max_frame by one byte."""
        d = self.alloc(3)
        addr, n = self._hdr_buf(d[0])
        first = max_frame - 100
        b1, b2 = self.slot(d[1]), self.slot(d[2])
        return self._raw(d, [(addr, n, VRING_DESC_F_NEXT, d[1]), (b1, first, VRING_DESC_F_NEXT, d[2]),
                             (b2, 101, 0, 0)], error=8, bad=[(b2, 101)])

    def add_short(self, length: int | None = None) -> Chain:
        """Cause 11: a chain of only the header (or less)."""
        d = self.alloc(1)
        addr = self.slot(d[0])
        return self._raw(d, [(addr, self.hdr_len if length is None else length, 0, 0)], error=11)

    def add_bad_addr(self, bad_addr: int) -> Chain:
        """Cause 9: the data buffer's address makes the DMA read fail."""
        d = self.alloc(2)
        addr, n = self._hdr_buf(d[0])
        return self._raw(d, [(addr, n, VRING_DESC_F_NEXT, d[1]), (bad_addr, 64, 0, 0)], error=9)

    def jump_avail_idx(self, ahead: int) -> None:
        """Cause 1: publish avail.idx ``ahead`` (> Q) entries past what was consumed."""
        self.avail_idx = (self.last_used + ahead) & 0xFFFF
        self.publish()
