"""A minimal pcap writer (and reader, for the tests): the frames on the wire, as Wireshark opens them.

Classic libpcap format, nanosecond timestamps (magic 0xa1b23c4d), LINKTYPE_ETHERNET. The timestamp is the
simulation time the frame's last beat left the device. Frames are written and flushed one by one.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

MAGIC_NS = 0xA1B23C4D
MAGIC_US = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
SNAPLEN = 65535


class PcapWriter:
    def __init__(self, path: Path | str, linktype: int = LINKTYPE_ETHERNET):
        self.path = Path(path)
        self._f: BinaryIO | None = open(self.path, "wb")  # noqa: SIM115 - written frame by frame until close()
        self._f.write(struct.pack("<IHHiIII", MAGIC_NS, 2, 4, 0, 0, SNAPLEN, linktype))
        self._f.flush()
        self.count = 0

    def write(self, data: bytes, t_ns: float) -> None:
        if self._f is None:
            return
        t = round(t_ns)
        sec, nsec = divmod(t, 1_000_000_000)
        cap = data[:SNAPLEN]
        self._f.write(struct.pack("<IIII", sec, nsec, len(cap), len(data)) + cap)
        self._f.flush()
        self.count += 1

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


def read_pcap(path: Path | str) -> tuple[int, list[tuple[float, bytes]]]:
    """(linktype, [(time in ns, frame)]) of a classic pcap file (either magic, either byte order)."""
    raw = Path(path).read_bytes()
    magic_le = struct.unpack("<I", raw[:4])[0]
    endian = "<" if magic_le in (MAGIC_NS, MAGIC_US) else ">"
    magic, _vmaj, _vmin, _tz, _sig, _snap, linktype = struct.unpack(endian + "IHHiIII", raw[:24])
    scale = 1 if magic == MAGIC_NS else 1000
    frames = []
    off = 24
    while off + 16 <= len(raw):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", raw[off : off + 16])
        off += 16
        frames.append((sec * 1e9 + frac * scale, raw[off : off + incl]))
        off += incl
    return linktype, frames
