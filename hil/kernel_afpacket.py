"""The guest kernel's own virtio_net under the same traffic as the model: frames through an AF_PACKET socket.

Runs inside the HIL guest (standard library only; usable on its own on any Linux with a virtio-net interface)::

    python3 -m hil.kernel_afpacket --bdf 0000:00:10.0 --packets 2000 --size 60 --gap-us 0

For the PCI function ``bdf`` (a virtio-net function bound to virtio-pci, its interface down: anything else is
refused before a change), it loads virtio_net when needed, finds the interface and the virtio device
(``virtioN``) on it, brings the interface up with IPv6 off on that interface only (the kernel then sends no
frame of its own: no DAD, router or MLD solicitation joins the count; the setting is restored after), then
sends N frames of one size through a raw
AF_PACKET socket bound to the interface, unpaced (as fast as ``send`` takes them; a full qdisc's ENOBUFS is
retried, never dropped) or with a fixed gap after every frame. It reads before and after:

- the TX queue's interrupt count: the ``virtioN-output.0`` row of /proc/interrupts (Linux's vp_find_vqs gives
  each queue its own MSI-X vector when the function has enough of them; the row is summed over the CPUs);
- the frames the driver reports sent (``/sys/class/net/IF/statistics/tx_packets``: virtio_net counts a frame
  when it reclaims it, so the run ends when all N were reclaimed: the device used every one of them).

Frames: broadcast destination, the interface's MAC as source, EtherType 0x88B5 (IEEE local experimental 1,
which the transmit scenario of the model uses too), the 4-byte sequence number, then a seeded random payload:
the same layout as tb.scenarios.xmit.make_frame, so the host checks both sides' frames the same way.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import hashlib
import json
import os
import random
import socket
import struct
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ETHERTYPE = 0x88B5
BROADCAST = b"\xff" * 6
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
PCI_DEVICES = Path("/sys/bus/pci/devices")
VIRTIO_RING_F_EVENT_IDX = 29
VIRTIO_F_VERSION_1 = 32


class KernelRunError(RuntimeError):
    """The kernel run could not be set up or did not finish (the message says which step and why)."""


def make_frame(rng: random.Random, seq: int, length: int, src_mac: bytes, ethertype: int = ETHERTYPE) -> bytes:
    header = BROADCAST + src_mac + ethertype.to_bytes(2, "big")
    body = seq.to_bytes(4, "big") + rng.randbytes(max(length - len(header) - 4, 0))
    return (header + body)[:length]


def frames_for(packets: int, size: int, src_mac: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [make_frame(rng, seq, size, src_mac) for seq in range(packets)]


def digest(frames: list[bytes]) -> str:
    """sha256 over the frames in order, each prefixed by its length (the host recomputes it from its capture)."""
    h = hashlib.sha256()
    for f in frames:
        h.update(len(f).to_bytes(4, "big"))
        h.update(f)
    return h.hexdigest()


# -- /proc/interrupts ------------------------------------------------------------------------------------------
def irq_rows(text: str | None = None) -> dict[str, int]:
    """Every action name of /proc/interrupts -> the count of its row, summed over the CPUs."""
    text = Path("/proc/interrupts").read_text() if text is None else text
    lines = text.splitlines()
    if not lines:
        return {}
    ncpu = len(lines[0].split())
    out: dict[str, int] = {}
    for line in lines[1:]:
        _, sep, rest = line.partition(":")
        if not sep:
            continue
        tokens = rest.split()
        counts = [int(t) for t in tokens[:ncpu] if t.isdigit()]
        for name in tokens[len(counts) :]:
            out[name.rstrip(",")] = sum(counts)
    return out


# -- the interface ---------------------------------------------------------------------------------------------
@dataclass
class KernelNic:
    bdf: str
    virtio: str  # virtioN
    ifname: str
    mac: bytes
    features: str  # /sys/bus/virtio/devices/virtioN/features (bit 0 first)
    irq_names: list[str]  # this device's rows in /proc/interrupts

    @property
    def tx_irq(self) -> str:
        return f"{self.virtio}-output.0"

    def feature(self, bit: int) -> bool:
        return len(self.features) > bit and self.features[bit] == "1"

    def stat(self, name: str) -> int:
        return int(Path(f"/sys/class/net/{self.ifname}/statistics/{name}").read_text())

    def describe(self) -> dict:
        return {
            "bdf": self.bdf,
            "virtio": self.virtio,
            "ifname": self.ifname,
            "mac": self.mac.hex(":"),
            "features": self.features,
            "event_idx": self.feature(VIRTIO_RING_F_EVENT_IDX),
            "version_1": self.feature(VIRTIO_F_VERSION_1),
            "irq_names": self.irq_names,
            "per_queue_vectors": self.tx_irq in self.irq_names,
            "napi_tx": _read("/sys/module/virtio_net/parameters/napi_tx"),
        }


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        return f"unreadable: {exc}"


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def wait_for(what: str, probe, timeout_s: float, step_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise KernelRunError(f"{what}: not within {timeout_s:g} s")
        time.sleep(step_s)


def virtio_net_loaded() -> bool:
    return Path("/sys/module/virtio_net").is_dir()


def prepare_kernel() -> None:
    """virtio_net loaded (a no-op where it is loaded or built in)."""
    if not virtio_net_loaded():
        try:
            subprocess.run(["modprobe", "virtio_net"], check=True, timeout=60, capture_output=True, text=True)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            raise KernelRunError(f"modprobe virtio_net: {exc}") from exc


def ipv6_off(ifname: str) -> str | None:
    """IPv6 off on this interface only (no DAD, router or MLD solicitation of the kernel's own joins the count);
    the previous value, for ``ipv6_restore``; None when the kernel has no IPv6."""
    path = f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6"
    if not Path(path).exists():
        return None
    before = Path(path).read_text().strip()
    _write(path, "1")
    return before


def ipv6_restore(ifname: str, before: str | None) -> None:
    path = f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6"
    if before is not None and Path(path).exists():
        _write(path, before)


def check_function(bdf: str) -> None:
    """Refuse (before anything is changed) a function that is not a virtio-net one driven by virtio-pci."""
    dev = PCI_DEVICES / bdf
    if not dev.is_dir():
        raise KernelRunError(f"{bdf}: no such PCI function; nothing was changed")
    ident = tuple(int((dev / f).read_text(), 16) for f in ("vendor", "device"))
    if ident not in ((0x1AF4, 0x1000), (0x1AF4, 0x1041)):
        raise KernelRunError(f"{bdf}: {ident[0]:04x}:{ident[1]:04x} is not a virtio-net function; nothing was changed")
    drv = os.path.basename(os.readlink(dev / "driver")) if (dev / "driver").is_symlink() else None
    if drv != "virtio-pci":
        raise KernelRunError(f"{bdf}: bound to {drv or 'no driver'}, not virtio-pci; nothing was changed")


def find_nic(bdf: str, timeout_s: float = 30.0) -> KernelNic:
    """The interface virtio_net made on ``bdf`` (virtio-pci bound, virtio_net probed)."""
    dev = PCI_DEVICES / bdf
    if not dev.is_dir():
        raise KernelRunError(f"{bdf}: no such PCI function")

    def netdir():
        for v in sorted(dev.glob("virtio*")):
            nets = sorted((v / "net").glob("*")) if (v / "net").is_dir() else []
            if nets:
                return v, nets[0]
        return None

    try:
        vdir, net = wait_for(f"{bdf}: an interface from virtio_net", netdir, timeout_s)
    except KernelRunError as exc:
        drv = os.path.basename(os.readlink(dev / "driver")) if (dev / "driver").is_symlink() else "no driver"
        raise KernelRunError(f"{exc} (the function is bound to {drv})") from None
    mac = bytes.fromhex((net / "address").read_text().strip().replace(":", ""))
    names = [n for n in irq_rows() if n.startswith(vdir.name + "-") or n == vdir.name]
    return KernelNic(bdf, vdir.name, net.name, mac, (vdir / "features").read_text().strip(), names)


def _ifflags(sock: socket.socket, ifname: str, set_to: int | None = None) -> int:
    req = struct.pack("16sH", ifname.encode(), set_to or 0) + bytes(22)
    if set_to is None:
        return struct.unpack("16sH", fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, req)[:18])[1]
    fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, req)
    return set_to


def set_link(ifname: str, up: bool, timeout_s: float = 10.0) -> None:
    """``ip link set IF up|down`` (SIOCSIFFLAGS); up waits for operstate up (the device reports the link)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = _ifflags(s, ifname)
        _ifflags(s, ifname, (flags | IFF_UP) if up else (flags & ~IFF_UP))
    if up:
        wait_for(
            f"{ifname} operstate up",
            lambda: _read(f"/sys/class/net/{ifname}/operstate") in ("up", "unknown"),
            timeout_s,
        )


# -- one run ---------------------------------------------------------------------------------------------------
@dataclass
class KernelRun:
    packets: int
    size: int
    gap_us: float
    seed: int
    tx_irqs: int = 0  # virtioN-output.0, after - before
    rx_irqs: int = 0  # virtioN-input.0 (should stay 0: the peer sends nothing)
    config_irqs: int = 0
    tx_packets: int = 0  # statistics/tx_packets, after - before
    tx_dropped: int = 0
    enobufs: int = 0  # send() retried because the qdisc was full
    send_s: float = 0.0  # first send to last send returned
    wall_s: float = 0.0  # first send to the last frame reclaimed
    digest: str = ""
    irq_line: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def irq_per_pkt(self) -> float:
        return self.tx_irqs / max(self.tx_packets, 1)


def run_kernel(
    nic: KernelNic,
    packets: int,
    size: int,
    gap_us: float,
    seed: int = 1,
    timeout_s: float = 120.0,
    settle_s: float = 0.2,
) -> KernelRun:
    """Send ``packets`` frames of ``size`` bytes through AF_PACKET on ``nic`` (up); count TX interrupts and frames."""
    if not 60 <= size <= 1514:
        raise KernelRunError(f"frame size {size}: 60 to 1514 bytes (no MTU change here)")
    frames = frames_for(packets, size, nic.mac, seed)
    run = KernelRun(packets, size, gap_us, seed, digest=digest(frames), irq_line=nic.tx_irq)
    gap_s = gap_us / 1e6
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        s.bind((nic.ifname, 0))
        irq0 = irq_rows()
        if nic.tx_irq not in irq0:
            raise KernelRunError(
                f"{nic.tx_irq} not in /proc/interrupts (rows of {nic.virtio}: "
                f"{[n for n in irq0 if n.startswith(nic.virtio)]}): no per-queue MSI-X vector for TX"
            )
        tx0, drop0 = nic.stat("tx_packets"), nic.stat("tx_dropped")
        t0 = time.monotonic()
        deadline = t0 + timeout_s
        for f in frames:
            while True:
                try:
                    s.send(f)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.ENOBUFS, errno.EAGAIN):
                        raise KernelRunError(f"send on {nic.ifname}: {exc}") from exc
                    run.enobufs += 1
                    if time.monotonic() > deadline:
                        raise KernelRunError(f"{nic.ifname}: the qdisc stayed full for {timeout_s:g} s") from exc
                    time.sleep(0.0002)
            if gap_s:
                time.sleep(gap_s)
        run.send_s = time.monotonic() - t0

        def reclaimed() -> bool:
            return nic.stat("tx_packets") - tx0 + nic.stat("tx_dropped") - drop0 >= packets

        try:
            wait_for(
                f"{nic.ifname}: {packets} frames reclaimed", reclaimed, max(deadline - time.monotonic(), 1.0), 0.002
            )
        finally:
            run.wall_s = time.monotonic() - t0
        time.sleep(settle_s)  # an interrupt raised for the last used entries lands before the count is read
        irq1 = irq_rows()
        run.tx_packets = nic.stat("tx_packets") - tx0
        run.tx_dropped = nic.stat("tx_dropped") - drop0
    finally:
        s.close()
    run.tx_irqs = irq1[nic.tx_irq] - irq0[nic.tx_irq]
    for attr, name in (("rx_irqs", "input.0"), ("config_irqs", "config")):
        key = f"{nic.virtio}-{name}"
        if key in irq0 and key in irq1:
            setattr(run, attr, irq1[key] - irq0[key])
    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m hil.kernel_afpacket", description=__doc__.split("\n\n")[0])
    ap.add_argument("--bdf", required=True, help="the virtio-net PCI function (bound to virtio-pci)")
    ap.add_argument("--packets", type=int, default=2000)
    ap.add_argument("--size", type=int, default=60, help="frame bytes, 60 to 1514")
    ap.add_argument("--gap-us", type=float, default=0.0, help="gap after every frame (0: unpaced)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds for the run")
    args = ap.parse_args(argv)
    try:
        check_function(args.bdf)
        prepare_kernel()
        nic = find_nic(args.bdf)
        if _read(f"/sys/class/net/{nic.ifname}/operstate") == "up":
            raise KernelRunError(f"{nic.ifname} is up (in use): this tool takes only an idle interface")
        ipv6 = ipv6_off(nic.ifname)
        set_link(nic.ifname, True)
        try:
            run = run_kernel(nic, args.packets, args.size, args.gap_us, args.seed, args.timeout)
        finally:
            set_link(nic.ifname, False)
            ipv6_restore(nic.ifname, ipv6)
    except KernelRunError as exc:
        print(f"kernel_afpacket: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"nic": nic.describe(), **asdict(run), "irq_per_pkt": round(run.irq_per_pkt, 4)}, indent=1))
    return 0 if run.tx_packets == args.packets else 1


if __name__ == "__main__":
    sys.exit(main())
