"""The device's DMA as the checkers need it: whole reads with the data that came back, and writes.

Fed by ``TlpMonitor`` (tb/simulation/monitors/pcie.py) with every decoded TLP. A read request on RQ opens a record by
tag; the completions on RC fill it (split completions are placed by their byte count, as the requester does);
when the last byte arrives the read is reported with the data the device received, i.e. exactly what it saw
in host memory. Writes are reported as they leave the device (posted writes keep their order on the link).
Reads that complete with an error status are not reports: the DMA engine turns them into an error of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from cocotbext.pcie.core.tlp import CplStatus, TlpType  # type: ignore[import-untyped]  # ships no type information

READS = (TlpType.MEM_READ, TlpType.MEM_READ_64)
WRITES = (TlpType.MEM_WRITE, TlpType.MEM_WRITE_64)
COMPLETIONS = (TlpType.CPL_DATA, TlpType.CPL)


@dataclass
class _Read:
    t_req: float
    addr: int
    data: bytearray
    desc: str


class DmaMonitor:
    def __init__(self, checkers, now):
        self.checkers = checkers
        self.now = now
        self.reads: dict[int, _Read] = {}

    def __call__(self, stream: str, tlp) -> None:
        if stream == "rq":
            if tlp.fmt_type in READS:
                off = tlp.get_first_be_offset()
                n = max(tlp.get_be_byte_count(), 0)
                desc = f"rq {tlp.fmt_type.name} tag {tlp.tag} addr {tlp.address + off:#x} {n} bytes"
                self.reads[tlp.tag] = _Read(self.now(), tlp.address + off, bytearray(n), desc)
            elif tlp.fmt_type in WRITES:
                off = tlp.get_first_be_offset()
                n = tlp.get_be_byte_count()
                data = bytes(tlp.data[off : off + n])
                self.checkers.dev_write(
                    tlp.address + off,
                    data,
                    f"rq {tlp.fmt_type.name} addr {tlp.address + off:#x} data {data[:16].hex()}",
                )
        elif stream == "rc" and tlp.fmt_type in COMPLETIONS:
            r = self.reads.get(tlp.tag)
            if r is None:
                return
            if tlp.status != CplStatus.SC:
                del self.reads[tlp.tag]
                return
            la = tlp.lower_address & 3
            pos = len(r.data) - tlp.byte_count
            cnt = min(tlp.byte_count, len(tlp.data) - la)
            if pos >= 0:
                r.data[pos : pos + cnt] = tlp.data[la : la + cnt]
            if cnt >= tlp.byte_count:
                del self.reads[tlp.tag]
                self.checkers.dev_read(
                    r.t_req, r.addr, bytes(r.data), r.desc + f", completed data {bytes(r.data[:8]).hex()}"
                )
