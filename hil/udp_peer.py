"""Host-side peer of the guest's NIC: QEMU's ``-netdev socket,udp=HOST:PORT`` sends every frame the guest
transmits as one UDP datagram. This receives them and writes them to a pcap file (Ethernet link type),
so the frames can be compared byte for byte with what the driver queued (and opened with any pcap tool).

With ``echo_ethertype``, a frame of that EtherType is also sent back, unchanged, to the socket it came from:
QEMU delivers it to the guest's NIC as a received frame (the bring-up's loopback row on QEMU's device, where
our RTL has its loopback mode). Only those frames: the A/B runs' frames are not echoed, so no RX interrupt
joins the TX interrupts they count (under INTx both share one line).

    python -m hil.udp_peer --port 40001 --out frames.pcap [--echo-ethertype 0x88b6]   (until interrupted)
"""

from __future__ import annotations

import argparse
import socket
import struct
import threading
import time
from pathlib import Path

PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1


def pcap_header(snaplen: int = 65535) -> bytes:
    return struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, snaplen, LINKTYPE_ETHERNET)


def pcap_record(frame: bytes, t: float) -> bytes:
    sec = int(t)
    return struct.pack("<IIII", sec, int((t - sec) * 1e6), len(frame), len(frame)) + frame


def read_pcap(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if len(data) < 24 or struct.unpack("<I", data[:4])[0] != PCAP_MAGIC:
        raise ValueError(f"{path}: not a little-endian pcap file")
    frames, pos = [], 24
    while pos + 16 <= len(data):
        _, _, incl, _ = struct.unpack("<IIII", data[pos : pos + 16])
        frames.append(data[pos + 16 : pos + 16 + incl])
        pos += 16 + incl
    return frames


class UdpPeer:
    """Receive datagrams on 127.0.0.1:``port`` in a thread; keep them and append them to ``out``."""

    def __init__(self, out: Path, port: int = 0, host: str = "127.0.0.1", echo_ethertype: int | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind((host, port))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.out = out
        self.frames: list[bytes] = []
        self.sources: set[tuple[str, int]] = set()
        self.echo_ethertype = echo_ethertype
        self.echoed = 0
        self._stop = threading.Event()
        self._file = open(out, "wb")  # noqa: SIM115 - the receiving thread writes it until stop()
        self._file.write(pcap_header())
        self._thread = threading.Thread(target=self._run, name="udp-peer", daemon=True)

    def start(self) -> UdpPeer:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, src = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.frames.append(data)
            self.sources.add(src)
            if self.echo_ethertype is not None and int.from_bytes(data[12:14], "big") == self.echo_ethertype:
                try:
                    self.sock.sendto(data, src)
                    self.echoed += 1
                except OSError:
                    pass  # the guest's socket is gone (QEMU quit): nothing to deliver to
            self._file.write(pcap_record(data, time.time()))
            self._file.flush()

    def stop(self) -> list[bytes]:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
        self._file.close()
        return self.frames


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--echo-ethertype", type=lambda v: int(v, 0), default=None, help="send frames of this type back")
    args = ap.parse_args()
    peer = UdpPeer(args.out, args.port, echo_ethertype=args.echo_ethertype).start()
    print(f"listening on 127.0.0.1:{peer.port}, writing {args.out}")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    frames = peer.stop()
    print(f"{len(frames)} frames")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
