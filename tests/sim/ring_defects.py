"""Generated malformed TX rings: one defect per case, mixed with valid traffic, and the judge of the outcome.

Pure Python (no cocotb): the strategies, the layout of a case in host memory and the rules a device's
outcome is held to are unit-tested on their own (tests/unit/test_ring_defects.py); the simulation
(tests/sim/test_ring_fuzz.py) runs the cases on the whole device and hands its observations to ``judge``.

A case (``RingCase``) is a small frozen description: the defect kind and its flavour, valid packets before
and after the defect chain, whether the packets before were sent (and used) before the defect was
published or are published with it, and the seed of every byte and placement. ``build`` turns it into a
``Plan``: the memory writes of each publishing phase, what the wire must carry, the error cause the device
must report (hdl/virtio/README.md "Reset and errors", the checks in virtq_desc_walk.v's header), the drops
it must count, and the memory the device may touch. A case prints as ``RING_CASE=<id>``; ``RingCase.from_id``
replays it exactly, without hypothesis.

Defect kinds (expected outcome):

=====================  ==========================================================================  =========
kind                   the defect                                                                  outcome
=====================  ==========================================================================  =========
next_out_of_range      a descriptor's ``next`` >= Q (direct), or past its INDIRECT table           cause 2
head_out_of_range      an avail.ring entry >= Q                                                    cause 2
loop                   a direct chain, or an INDIRECT table, whose ``next`` goes back              cause 3
zero_len               zero-length buffers anywhere in a chain (some at unmapped addresses:        sent, or
                       a zero-length buffer is never read)                                         runt drop
runt                   a chain of fewer than 14 frame bytes (header only, or cut short)            runt drop
oversize               frame bytes above MAX_FRAME_LEN: several buffers, or one of a huge length   drop
write_flag             WRITE on a TX buffer (direct or in a table)                                 cause 7
indirect_not_acked     an INDIRECT descriptor while VIRTIO_RING_F_INDIRECT_DESC is not acked        cause 4
indirect_nested        INDIRECT inside a table, after a header descriptor, or with NEXT            cause 5
indirect_len           table length 0, not a multiple of 16, or above the device's table size      cause 6
avail_jump             avail.idx more than Q ahead of the device's last_avail                     cause 1
rewrite                a published descriptor rewritten while the device may be reading it:        either
                       to another valid buffer, or to a ``next`` out of range                      (see below)
bad_addr               a buffer (or a table) at an address outside host memory (a buffer of        cause 9
                       header bytes only may never be read: then the frame goes out)
=====================  ==========================================================================  =========

``rewrite`` breaks the driver's rule "descriptors of published chains do not change", so the device may
use either version: the frame on the wire is the old or the new one, byte-exact; a rewrite to a bad
``next`` ends either with the old frame sent or with cause 2.
"""

from __future__ import annotations

import base64
import itertools
import json
import random
import struct
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

DESC_F_NEXT, DESC_F_WRITE, DESC_F_INDIRECT = 1, 2, 4
MIN_FRAME = 14
MAX_FRAME = 1518
ETH_MAX = 1514  # valid packets: an Ethernet frame without a tag

# kind -> the error cause it must raise (None: no error; the frame is sent or dropped and counted)
KINDS: dict[str, int | None] = {
    "next_out_of_range": 2,
    "head_out_of_range": 2,
    "loop": 3,
    "zero_len": None,
    "runt": None,
    "oversize": None,
    "write_flag": 7,
    "indirect_not_acked": 4,
    "indirect_nested": 5,
    "indirect_len": 6,
    "avail_jump": 1,
    "rewrite": None,  # None or 2 by flavour (``Plan.causes``)
    "bad_addr": 9,
}
KIND_NAMES = tuple(KINDS)
# the device mode a case runs in (tests/sim/test_ring_fuzz.py maps each to DeviceModes): the used writer's push
# policy, kick suppression, tx=timer pacing, EVENT_IDX negotiated
MODES = ("per_packet", "batched", "kick_suppress", "pacing", "event_idx")
# the running queue sizes a modern driver may choose (a power of two up to the device's 256)
QSIZES = (2, 4, 8, 16, 32, 64, 128, 256)
# kinds that need INDIRECT acked (or, for indirect_not_acked, not acked)
NEEDS_INDIRECT = {"indirect_nested", "indirect_len"}


@dataclass(frozen=True)
class Packet:
    """A valid packet: ``frame_len`` frame bytes after the header, over ``nbufs`` buffers (any split of
    header and frame, no empty buffer), direct or in an INDIRECT table."""

    frame_len: int
    nbufs: int = 1
    indirect: bool = False


@dataclass(frozen=True)
class RingCase:
    kind: str
    flavour: int = 0  # which form of the defect (taken modulo the kind's number of forms)
    param: int = 0  # a number the kind interprets (a distance, a length, a position)
    before: tuple[Packet, ...] = ()
    after: tuple[Packet, ...] = ()
    same_batch: bool = False  # the packets before are published with the defect (else sent first)
    indirect_acked: bool = True
    msix: bool = True
    seed: int = 0
    mode: int = 0  # index into MODES
    modern: bool = False  # the virtio 1.x interface (VERSION_1: a 12-byte header, three ring addresses)
    qsize: int = 256  # the running queue size: the legacy interface's is the maximum, a modern driver picks

    def to_id(self) -> str:
        d = asdict(self)
        d["before"] = [[p.frame_len, p.nbufs, int(p.indirect)] for p in self.before]
        d["after"] = [[p.frame_len, p.nbufs, int(p.indirect)] for p in self.after]
        raw = json.dumps(d, separators=(",", ":"), sort_keys=True).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def from_id(cls, text: str) -> RingCase:
        """The case a ``to_id`` string names; ValueError with the reason when it names none."""
        try:
            raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
            d = json.loads(raw)
            d["before"] = tuple(Packet(int(a), int(b), bool(c)) for a, b, c in d["before"])
            d["after"] = tuple(Packet(int(a), int(b), bool(c)) for a, b, c in d["after"])
            case = cls(**d)
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"not a ring case id ({exc})") from None
        if case.kind not in KINDS:
            raise ValueError(f"unknown defect kind {case.kind!r}")
        if not 0 <= case.mode < len(MODES):
            raise ValueError(f"unknown device mode {case.mode}")
        if case.qsize not in QSIZES or (not case.modern and case.qsize != QSIZES[-1]):
            raise ValueError(f"queue size {case.qsize} on the {'modern' if case.modern else 'legacy'} interface")
        return case

    def describe(self) -> str:
        return (
            f"{self.kind}/flavour {self.flavour}/param {self.param}: {len(self.before)} packets before "
            f"({'same batch' if self.same_batch else 'sent first'}), {len(self.after)} after, INDIRECT "
            f"{'acked' if self.indirect_acked else 'not acked'}, {'MSI-X' if self.msix else 'INTx'}, "
            f"{MODES[self.mode]}, {'modern' if self.modern else 'legacy'} Q={self.qsize}, seed {self.seed}"
        )


# -- hypothesis strategies -----------------------------------------------------------------------------------
def strategies():  # the module imports without hypothesis; the strategies need it
    from hypothesis import strategies as st

    frame_len = st.one_of(st.integers(MIN_FRAME, ETH_MAX), st.sampled_from([MIN_FRAME, 60, 61, ETH_MAX]))

    @st.composite
    def ring_cases(draw, kinds: Sequence[str] = KIND_NAMES):
        kind = draw(st.sampled_from(list(kinds)))
        modern = draw(st.sampled_from([False, False, True]))
        qsize = draw(st.sampled_from(QSIZES)) if modern else QSIZES[-1]
        acked = draw(st.booleans()) if kind not in NEEDS_INDIRECT else True
        if kind == "indirect_not_acked":
            acked = False
        # as many packets as a small ring holds next to the defect
        nbufs = st.integers(1, max(1, min(4, qsize // 4)))
        packet = st.builds(
            Packet, frame_len=frame_len, nbufs=nbufs, indirect=st.booleans() if acked else st.just(False)
        )
        return RingCase(
            kind=kind,
            flavour=draw(st.integers(0, 7)),
            param=draw(st.integers(0, 0xFFFF)),
            before=tuple(draw(st.lists(packet, max_size=min(5, qsize // 4)))),
            after=tuple(draw(st.lists(packet, max_size=min(3, qsize // 8)))),
            same_batch=draw(st.booleans()),
            indirect_acked=acked,
            msix=draw(st.booleans()),
            seed=draw(st.integers(0, 0xFFFF_FFFF)),
            mode=draw(st.integers(0, len(MODES) - 1)),
            modern=modern,
            qsize=qsize,
        )

    return ring_cases


# -- the layout in host memory and the plan ------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """Where a case lives: the ring (legacy layout, Q entries) and a data area, as bus addresses."""

    q: int
    desc: int
    avail: int
    used: int
    data: int
    data_size: int
    hdr_len: int = 10
    indirect_max: int = 64  # the device's largest table, in entries (TX_PARAMS)
    unmapped: int = 0x4000_0000_0000  # no memory there: a read completes with UR

    @property
    def used_size(self) -> int:
        return 4 + 8 * self.q + 2  # flags, idx, ring, avail_event

    @property
    def ring_span(self) -> tuple[int, int]:
        return self.desc, self.used + self.used_size - self.desc


RING_BYTES = 3 * 4096  # a legacy ring of 256 (the largest layout) fits in this


def ring_layout(case: RingCase, base: int, data: int, data_size: int, indirect_max: int = 64) -> Layout:
    """Where ``case``'s ring lives from ``base``: the legacy layout (used ring at the next 4096-byte boundary)
    or a modern driver's (virtio 1.2 2.7: avail right after the descriptors, used at the next 4 bytes)."""
    q = case.qsize
    avail = base + 16 * q
    align = 4 if case.modern else 4096
    used = (avail + 6 + 2 * q + align - 1) // align * align
    return Layout(
        q=q,
        desc=base,
        avail=avail,
        used=used,
        data=data,
        data_size=data_size,
        hdr_len=12 if case.modern else 10,
        indirect_max=indirect_max,
    )


def fits(case: RingCase) -> bool:
    """Whether ``case`` fits its ring (a hand-made id, or a draw for a small queue, may not)."""
    try:
        build(case, ring_layout(case, 0x10000, 0x20000, 128 * 1024))
    except ValueError:
        return False
    return True


@dataclass
class Chain:
    head: int
    frames: tuple[bytes | None, ...]  # what the wire may carry for it (None: nothing, a drop)
    drop: str | None = None  # the counter a drop moves ("drop_oversize", "drop_runt")
    defect: bool = False
    descs: int = 0  # a valid packet's buffers (descriptors, direct or in its table); 0: not counted
    indirect: bool = False


@dataclass
class Phase:
    writes: list[tuple[int, bytes]]  # (bus address, bytes) in order, then avail.idx = ``avail_idx``
    avail_idx: int
    wait_used: bool  # valid traffic: wait until the device used everything published
    rewrite: list[tuple[int, bytes]] = field(default_factory=list)  # written ``rewrite_after_ns`` after the kick
    rewrite_after_ns: int = 0


@dataclass
class Plan:
    case: RingCase
    phases: list[Phase]
    chains: list[Chain]  # in ring order
    causes: frozenset[int | None]  # acceptable outcomes: None = no error, n = stop with cause n
    defect_pos: int  # ring position of the defect chain (or of the avail_jump's publish)
    sent_first: int  # chains that completed before the defect was published
    read_ok: list[tuple[int, int]]  # (addr, len) the device may read
    read_forbidden: list[tuple[int, int]]  # it must never read these (the check comes before the DMA)
    read_fail_ok: list[tuple[int, int]]  # unmapped ranges it may try (bad_addr)
    write_ok: list[tuple[int, int]]

    def expected_frames(self) -> list[bytes]:
        """The wire without an error: every chain's frame (the first alternative), drops left out."""
        return [c.frames[0] for c in self.chains if c.frames[0] is not None]


class _Builder:
    def __init__(self, case: RingCase, lay: Layout):
        self.case = case
        self.lay = lay
        self.rng = random.Random(case.seed)
        self.free = list(range(lay.q))
        self.rng.shuffle(self.free)  # any descriptor order (windows, wrap of the table)
        self.data_next = 0
        self.writes: list[tuple[int, bytes]] = []
        self.avail_idx = 0
        self.chains: list[Chain] = []
        self.forbidden: list[tuple[int, int]] = []
        self.fail_ok: list[tuple[int, int]] = []
        # descriptors kept for the packets after the defect (its chain takes at most what is left)
        self.reserve = sum(1 if p.indirect and case.indirect_acked else p.nbufs for p in case.after)

    def room(self, n: int) -> int:
        """At most ``n`` descriptors for the defect's chain, leaving the packets after it theirs."""
        return max(1, min(n, len(self.free) - self.reserve))

    # memory
    def alloc(self, n: int, align: int = 1) -> int:
        off = self.data_next + self.rng.randrange(0, 8)
        off = (off + align - 1) // align * align
        if off + n > self.lay.data_size:
            raise ValueError(f"case does not fit its data area ({off + n} > {self.lay.data_size})")
        self.data_next = off + n
        return self.lay.data + off

    def put(self, data: bytes, align: int = 1) -> int:
        addr = self.alloc(max(len(data), 1), align)
        self.writes.append((addr, data))
        return addr

    def descs(self, n: int) -> list[int]:
        if n > len(self.free):
            raise ValueError("case needs more descriptors than the ring has")
        out, self.free = self.free[:n], self.free[n:]
        return out

    def desc(self, i: int, addr: int, length: int, flags: int, nxt: int) -> None:
        self.writes.append((self.lay.desc + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt)))

    def forbid_desc(self, i: int) -> None:
        """Descriptor ``i`` (>= Q) must never be read: where it falls on the ring's padding or past the ring
        (not where it aliases the avail or used ring, or the data area, which the device reads anyway: with
        i = 15360 of a 256-entry ring the descriptor fell on a valid packet's buffer, whose read is right)."""
        a, lay = self.lay.desc + 16 * i, self.lay
        if not (
            _overlaps(a, 16, [(lay.avail, 6 + 2 * lay.q), (lay.used, lay.used_size), (lay.data, lay.data_size)])
        ):
            self.forbidden.append((a, 16))

    def push(self, head: int) -> None:
        self.writes.append((self.lay.avail + 4 + 2 * (self.avail_idx % self.lay.q), struct.pack("<H", head)))
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF

    # content
    def frame(self, n: int) -> bytes:
        dst = bytes([0x02, 0, 0, 0, 0, 1])
        src = bytes([0x02, 0x42, 0x18]) + self.rng.randbytes(3)
        body = self.rng.randbytes(max(n - 14, 0))
        return (dst + src + b"\x88\xb5" + body)[:n]

    def pieces(self, data: bytes, nbufs: int) -> list[bytes]:
        nbufs = max(1, min(nbufs, len(data), self.room(nbufs)))
        cuts = sorted(self.rng.sample(range(1, len(data)), nbufs - 1)) if nbufs > 1 else []
        bounds = [0, *cuts, len(data)]
        return [data[a:b] for a, b in itertools.pairwise(bounds)]

    def entries_for(self, pieces: list[bytes]) -> list[list[int]]:
        """[addr, len, flags, next-position] per piece (positions within the chain)."""
        out = []
        for k, piece in enumerate(pieces):
            last = k == len(pieces) - 1
            out.append([self.put(piece), len(piece), 0 if last else DESC_F_NEXT, 0 if last else k + 1])
        return out

    def emit(
        self,
        entries: list[list[int]],
        indirect: bool,
        table_len: int | None = None,
        ind_flags: int = DESC_F_INDIRECT,
        table_addr: int | None = None,
    ) -> tuple[int, list[int]]:
        """Write a chain (entries' ``next`` are chain positions) directly or as one INDIRECT table; push its
        head. Returns (head, ring descriptors)."""
        if indirect:
            table = b"".join(struct.pack("<QIHH", *e) for e in entries)
            taddr = self.put(table, 16) if table_addr is None else table_addr
            d = self.descs(1)
            self.desc(d[0], taddr, len(table) if table_len is None else table_len, ind_flags, 0)
        else:
            d = self.descs(len(entries))
            for k, (addr, length, flags, nxt) in enumerate(entries):
                # a ``next`` of a position outside the chain stays as given (out-of-range defects)
                real = d[nxt] if flags & DESC_F_NEXT and nxt < len(d) else nxt
                self.desc(d[k], addr, length, flags, real)
        self.push(d[0])
        return d[0], d

    def packet(self, p: Packet) -> Chain:
        frame = self.frame(p.frame_len)
        indirect = p.indirect and self.case.indirect_acked
        entries = self.entries_for(self.pieces(bytes(self.lay.hdr_len) + frame, p.nbufs))
        head, _ = self.emit(entries, indirect)
        chain = Chain(head, (frame,), descs=len(entries), indirect=indirect)
        self.chains.append(chain)
        return chain


FLAVOURS = {
    "next_out_of_range": 3,
    "head_out_of_range": 1,
    "loop": 3,
    "zero_len": 4,
    "runt": 3,
    "oversize": 3,
    "write_flag": 2,
    "indirect_not_acked": 1,
    "indirect_nested": 3,
    "indirect_len": 3,
    "avail_jump": 1,
    "rewrite": 2,
    "bad_addr": 3,
}


def build(case: RingCase, lay: Layout) -> Plan:
    """The plan of ``case`` in ``lay``: ValueError when the case does not fit (the strategies keep to what
    fits; a hand-made id may not)."""
    b = _Builder(case, lay)
    rng = b.rng
    fl = case.flavour % FLAVOURS[case.kind]
    q = lay.q
    phases: list[Phase] = []
    for p in case.before:
        b.packet(p)
    sent_first = 0
    if case.before and not case.same_batch:
        phases.append(Phase(b.writes, b.avail_idx, wait_used=True))
        b.writes = []
        sent_first = len(b.chains)
    defect_pos = len(b.chains)
    causes: frozenset[int | None] = frozenset({KINDS[case.kind]})
    rewrite: list[tuple[int, bytes]] = []
    hdr = bytes(lay.hdr_len)

    def defect(frames: tuple[bytes | None, ...], head: int, drop: str | None = None) -> None:
        b.chains.append(Chain(head, frames, drop, defect=True))

    k = case.kind
    if k == "next_out_of_range":
        frame = b.frame(60 + case.param % 200)
        pieces = b.pieces(hdr + frame, 2 + case.param % 3)
        entries = b.entries_for(pieces)
        pos = case.param % len(entries)
        if fl < 2 or not case.indirect_acked:  # direct: next >= Q
            bad = q + case.param % (0x10000 - q) if fl == 0 else 0xFFFF
            entries[pos][2] |= DESC_F_NEXT
            entries[pos][3] = bad
            head, d = b.emit(entries, False)
            b.forbid_desc(bad)
        else:  # in a table: next >= the table's entries
            entries[pos][2] |= DESC_F_NEXT
            entries[pos][3] = len(entries) + case.param % 8
            head, d = b.emit(entries, True)
        defect((None,), head)
    elif k == "head_out_of_range":
        bad = q + case.param % (0x10000 - q)
        b.push(bad)
        b.forbid_desc(bad)
        defect((None,), bad)
    elif k == "loop":
        n = 1 + case.param % b.room(6 if fl != 1 else 5)
        if fl == 1:
            n = min(n, b.room(n + 1) - 1) or 1
        entries = [
            [b.put(rng.randbytes(ln)) if ln else lay.data, ln, DESC_F_NEXT, i + 1]
            for i, ln in enumerate(rng.choice([0, 1, 16, 300]) for _ in range(n))
        ]
        back = case.param % n
        entries[-1][3] = back
        if fl == 2 and case.indirect_acked:
            head, _ = b.emit(entries, True)
        else:
            if fl == 1:  # the header first, then the loop (a frame that outgrows the limit while looping)
                entries = [[b.put(hdr), lay.hdr_len, DESC_F_NEXT, 1]] + [[a, ln, f, nx + 1] for a, ln, f, nx in entries]
            head, _ = b.emit(entries, False)
        defect((None,), head)
    elif k == "zero_len":
        frame = b.frame(MIN_FRAME + case.param % (ETH_MAX - MIN_FRAME + 1) if fl != 3 else case.param % 20)
        pieces = b.pieces(hdr + frame, 1 + case.param % 4)
        nz = 1 + case.param % 3
        if not (fl == 2 and case.indirect_acked):  # direct: the empty buffers take descriptors too
            nz = min(nz, b.room(len(pieces) + nz) - len(pieces))
            if nz < 1:
                raise ValueError("no descriptor left for a zero-length buffer")
        for _ in range(nz):
            pieces.insert(rng.randrange(len(pieces) + 1), b"")
        entries = b.entries_for(pieces)
        for e in entries:
            if e[1] == 0 and fl == 1:  # a zero-length buffer is never read: an unmapped address is harmless
                e[0] = lay.unmapped + rng.randrange(0, 1 << 20)
                b.forbidden.append((e[0], 1))
        head, _ = b.emit(entries, fl == 2 and case.indirect_acked)
        if len(frame) < MIN_FRAME:
            defect((None,), head, "drop_runt")
        else:
            defect((frame,), head)
        causes = frozenset({None})
    elif k == "runt":
        n = case.param % MIN_FRAME if fl != 1 else 0
        data = (hdr + b.frame(n))[: lay.hdr_len - 1 - case.param % lay.hdr_len] if fl == 2 else hdr + b.frame(n)
        entries = b.entries_for(b.pieces(data, 1 + case.param % 3))
        head, _ = b.emit(entries, case.param & 1 == 1 and case.indirect_acked)
        defect((None,), head, "drop_runt")
        causes = frozenset({None})
    elif k == "oversize":
        if fl == 2:  # one buffer of a huge length: the device reads at most up to the limit
            length = 0xFFFF_FFFF - case.param if case.param & 1 else lay.hdr_len + MAX_FRAME + 1 + case.param
            base = b.put(hdr + b.frame(MAX_FRAME + 64))
            b.data_next += 4096  # room: whatever the device reads ahead stays in the data area
            entries = [[base, length, 0, 0]]
        else:
            n = MAX_FRAME + 1 + case.param % (4096 - MAX_FRAME)
            entries = b.entries_for(b.pieces(hdr + b.frame(n), 2 + case.param % 4))
        head, _ = b.emit(entries, fl == 1 and case.indirect_acked)
        defect((None,), head, "drop_oversize")
        causes = frozenset({None})
    elif k == "write_flag":
        pieces = b.pieces(hdr + b.frame(60 + case.param % 500), 1 + case.param % 4)
        entries = b.entries_for(pieces)
        pos = case.param % len(entries)
        entries[pos][2] |= DESC_F_WRITE
        b.forbidden.append((entries[pos][0], max(entries[pos][1], 1)))
        head, _ = b.emit(entries, fl == 1 and case.indirect_acked)
        defect((None,), head)
    elif k == "indirect_not_acked":
        entries = b.entries_for(b.pieces(hdr + b.frame(60 + case.param % 500), 1 + case.param % 3))
        table = b.put(b"".join(struct.pack("<QIHH", *e) for e in entries), 16)
        head, _ = b.emit(entries, True, table_addr=table)
        b.forbidden.append((table, 16 * len(entries)))
        defect((None,), head)
    elif k == "indirect_nested":
        entries = b.entries_for(b.pieces(hdr + b.frame(60 + case.param % 500), 1 + case.param % 3))
        if fl == 0:  # an INDIRECT entry inside the table
            inner = b.put(b"".join(struct.pack("<QIHH", *e) for e in entries), 16)
            b.forbidden.append((inner, 16 * len(entries)))
            pos = case.param % (len(entries) + 1)
            entries.insert(pos, [inner, 16 * len(entries), DESC_F_INDIRECT, 0])
            for i, e in enumerate(entries):  # re-link: every entry but the last points at the next
                last = i == len(entries) - 1
                e[2] = (e[2] & ~DESC_F_NEXT) | (0 if last else DESC_F_NEXT)
                e[3] = 0 if last else i + 1
            head, _ = b.emit(entries, True)
        elif fl == 1:  # INDIRECT after a header descriptor
            table = b.put(b"".join(struct.pack("<QIHH", *e) for e in entries), 16)
            b.forbidden.append((table, 16 * len(entries)))
            d = b.descs(2)
            b.desc(d[0], b.put(hdr), lay.hdr_len, DESC_F_NEXT, d[1])
            b.desc(d[1], table, 16 * len(entries), DESC_F_INDIRECT, 0)
            b.push(d[0])
            head = d[0]
        else:  # INDIRECT with NEXT
            table = b.put(b"".join(struct.pack("<QIHH", *e) for e in entries), 16)
            b.forbidden.append((table, 16 * len(entries)))
            d = b.descs(2)
            b.desc(d[0], table, 16 * len(entries), DESC_F_INDIRECT | DESC_F_NEXT, d[1])
            b.desc(d[1], b.put(b.frame(60)), 60, 0, 0)
            b.push(d[0])
            head = d[0]
        defect((None,), head)
    elif k == "indirect_len":
        entries = b.entries_for(b.pieces(hdr + b.frame(60 + case.param % 500), 1 + case.param % 3))
        table = b.put(b"".join(struct.pack("<QIHH", *e) for e in entries), 16)
        if fl == 0:
            tlen = 0
        elif fl == 1:  # not a multiple of 16
            tlen = 16 * len(entries) - 1 - case.param % 15
        else:  # above the device's table (a length a driver could give)
            tlen = 16 * (lay.indirect_max + 1 + case.param % 64)
        b.alloc(max(tlen, 16 * len(entries)) - 16 * len(entries) + 16)  # what follows the table is data too
        head, _ = b.emit(entries, True, table_len=tlen, table_addr=table)
        b.forbidden.append((table, max(tlen, 16)))
        defect((None,), head)
    elif k == "avail_jump":
        # avail.idx moves more than Q past the device's last_avail: nothing of this publish is used
        ahead = q + 1 + case.param % (0x10000 - q - 1)
        b.avail_idx = (defect_pos + ahead) & 0xFFFF
        head = -1
    elif k == "rewrite":
        old = b.frame(60 + case.param % 1400)
        pieces = b.pieces(hdr + old, 2 + case.param % 3)
        if len(pieces) < 2:
            raise ValueError("a rewrite needs a data descriptor after the head")
        entries = b.entries_for(pieces)
        head, d = b.emit(entries, False)
        pos = 1 + case.param % (len(d) - 1)  # a data descriptor
        if fl == 0:  # to another valid buffer of the same length (the frame is old or new)
            new_piece = rng.randbytes(len(pieces[pos]))
            naddr = b.put(new_piece)
            e = entries[pos]
            real_next = d[e[3]] if e[2] & DESC_F_NEXT else 0
            rewrite = [(lay.desc + 16 * d[pos], struct.pack("<QIHH", naddr, e[1], e[2], real_next))]
            new_bytes = b"".join(new_piece if i == pos else p for i, p in enumerate(pieces))[lay.hdr_len :]
            defect((old, new_bytes), head)
            causes = frozenset({None})
        else:  # to a next out of range
            e = entries[pos]
            bad = q + case.param % (0x10000 - q)
            rewrite = [(lay.desc + 16 * d[pos], struct.pack("<QIHH", e[0], e[1], e[2] | DESC_F_NEXT, bad))]
            defect((old,), head)
            causes = frozenset({None, 2})
    elif k == "bad_addr":
        frame = b.frame(60 + case.param % 1400)
        pieces = b.pieces(hdr + frame, 2 + case.param % 3)
        entries = b.entries_for(pieces)
        bad = lay.unmapped + (case.param << 12) + rng.randrange(0, 4096)
        if fl == 2 and case.indirect_acked:  # the table itself
            head, _ = b.emit(entries, True, table_addr=bad)
            b.fail_ok.append((bad, 16 * len(entries)))
            defect((None,), head)
        else:
            pos = case.param % len(entries)  # any buffer (the header's included)
            b.fail_ok.append((bad, entries[pos][1]))
            entries[pos][0] = bad
            head, _ = b.emit(entries, fl == 1 and case.indirect_acked)
            if sum(len(p) for p in pieces[: pos + 1]) <= lay.hdr_len:
                # a buffer of header bytes only: the device has no use for them (no offload feature is offered,
                # the header is stripped), so it may never read it: the frame goes out, or the read fails
                causes = frozenset({None, 9})
                defect((frame,), head)
            else:
                defect((None,), head)
    else:
        raise ValueError(f"unknown defect kind {k!r}")
    if k != "avail_jump":
        for p in case.after:
            b.packet(p)
    phases.append(
        Phase(b.writes, b.avail_idx, wait_used=False, rewrite=rewrite, rewrite_after_ns=200 + (case.param % 16) * 150)
    )
    return Plan(
        case=case,
        phases=phases,
        chains=b.chains,
        causes=causes,
        defect_pos=defect_pos,
        sent_first=sent_first,
        read_ok=[lay.ring_span, (lay.data, lay.data_size)],
        read_forbidden=b.forbidden,
        read_fail_ok=b.fail_ok,
        write_ok=[(lay.used, lay.used_size)],
    )


# -- the judge -----------------------------------------------------------------------------------------------
@dataclass
class Observed:
    """What the device did in one case, as the simulation saw it."""

    frames: list[tuple[bytes, bool]]  # (bytes, aborted) in wire order
    used_idx: int
    used: list[tuple[int, int]]  # (id, len) of used.ring[0 .. used_idx)
    needs_reset: bool
    link_up: bool
    config_irqs: int
    counters: dict[str, int]  # the device's TX counters after the case (cleared before it)
    error_counts: dict[int, int]  # per-cause error counters after the case
    reads: list[tuple[int, int]]  # (addr, len) of every DMA read request
    writes: list[tuple[int, int]]  # (addr, len) of every DMA write
    outstanding_reads: int  # read requests without their last completion when the case settled
    busy: list[str] = field(default_factory=list)  # streams still busy after the idle bound


def _overlaps(a: int, n: int, ranges: list[tuple[int, int]]) -> bool:
    return any(a < s + ln and s < a + n for s, ln in ranges)


def _inside(a: int, n: int, ranges: list[tuple[int, int]]) -> bool:
    return any(s <= a and a + n <= s + ln for s, ln in ranges)


def outcome(plan: Plan, obs: Observed) -> int | None:
    """The outcome the device chose: the cause it stopped with, or None."""
    return obs.counters.get("last_error") or None if obs.needs_reset else None


def judge(plan: Plan, obs: Observed) -> list[str]:
    """Every rule the observed outcome breaks (empty: the case passes)."""
    bad: list[str] = []
    cause = outcome(plan, obs)
    n_err = obs.counters.get("errors", 0)
    if obs.needs_reset and cause is None:
        bad.append("NEEDS_RESET without a cause in LAST_ERROR")
    if cause not in plan.causes:
        want = " or ".join("no error" if c is None else f"cause {c}" for c in sorted(plan.causes, key=str))
        got = "no error" if cause is None else f"cause {cause}"
        bad.append(f"outcome {got}, expected {want}")
    if cause is not None:
        if obs.config_irqs < 1:
            bad.append("stopped without a configuration interrupt")
        if obs.link_up:
            bad.append("link still up while the device needs a reset")
        if n_err != 1 or obs.error_counts.get(cause, 0) != 1:
            bad.append(f"errors counted {n_err}, cause {cause} counted {obs.error_counts.get(cause, 0)}; expected 1")
    else:
        if n_err or obs.config_irqs or not obs.link_up:
            bad.append(f"no error expected: errors {n_err}, config interrupts {obs.config_irqs}, link up {obs.link_up}")
    # the wire: frames of the chains before the stop, in ring order, byte-exact (an aborted one last at most)
    good = [f for f, ab in obs.frames if not ab]
    aborted = [i for i, (_, ab) in enumerate(obs.frames) if ab]
    if aborted and (cause is None or aborted != [len(obs.frames) - 1]):
        bad.append(f"aborted frames at wire positions {aborted}")
    # chains that may have completed: all without an error; with one, those before the defect (a prefix)
    last = len(plan.chains) if cause is None else min(plan.defect_pos, len(plan.chains))
    first = last if cause is None else plan.sent_first
    if not first <= obs.used_idx <= last:
        bad.append(f"used.idx {obs.used_idx}, expected {first if first == last else f'{first}..{last}'}")
    for ci in range(min(obs.used_idx, last, len(obs.used))):
        if obs.used[ci] != (plan.chains[ci].head, 0):
            bad.append(f"used.ring[{ci}] = {obs.used[ci]}, expected ({plan.chains[ci].head}, 0)")
    # the wire: each chain's frame in ring order, byte-exact; after a stop a prefix of them (a frame may have
    # left the device before the stop cut its used element, so the wire can be ahead of used.idx)
    j = 0
    for ci, chain in enumerate(plan.chains[:last]):
        alts = [f for f in chain.frames if f is not None]
        if not alts:
            continue  # a drop: nothing on the wire
        if j < len(good) and good[j] in alts:
            j += 1
            continue
        if cause is not None and ci >= obs.used_idx:
            break  # the stop came before this frame left: none after it may appear either
        have = f"{len(good[j])} bytes" if j < len(good) else "nothing"
        bad.append(f"chain {ci} (head {chain.head}): wire frame {j} is {have}, expected its {len(alts[0])}-byte frame")
        break
    if j < len(good):
        bad.append(f"{len(good) - j} frame(s) on the wire that match no chain in order (first: {len(good[j])} bytes)")
    if cause is None:
        for name in ("drop_oversize", "drop_runt"):
            want_n = sum(1 for c in plan.chains if c.drop == name)
            if obs.counters.get(name, 0) != want_n:
                bad.append(f"{name} counted {obs.counters.get(name, 0)}, expected {want_n}")
    # memory
    for a, n in obs.writes:
        if not _inside(a, n, plan.write_ok):
            bad.append(f"DMA write outside the used ring: {n} bytes at {a:#x}")
    for a, n in obs.reads:
        if _overlaps(a, n, plan.read_forbidden):
            bad.append(f"DMA read of memory a check should have refused first: {n} bytes at {a:#x}")
        elif not _inside(a, n, plan.read_ok) and not _overlaps(a, n, plan.read_fail_ok):
            bad.append(f"DMA read outside the case's memory: {n} bytes at {a:#x}")
    if obs.outstanding_reads:
        bad.append(f"{obs.outstanding_reads} DMA read(s) never completed")
    bad.extend(f"stream busy after the idle bound: {s}" for s in obs.busy)
    return bad
