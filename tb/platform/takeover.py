"""May the tool take this PCI function? Decided from sysfs and /proc before any binding changes.

``assess(pci, ...)`` reads the function's identity (vendor, device, class, revision, subsystem, bound
driver) and, when virtio-pci drives it, what the host does with it (network interfaces and their state and
routes, block devices and 9p shares that are mounted); ``check_takeover`` turns that into either nothing
(go ahead) or one ``TakeoverRefused`` line. The policy:

- only a virtio-net function (1af4:1000 transitional or 1af4:1041 modern, class 0200xx), unless
  ``any_device`` (then the sequence reads the identity and stops there if it is not virtio-net); a bridge
  never, whatever the flags;
- only from no driver, or from virtio-pci, vfio-pci or uio_pci_generic; any other driver never (a typo in
  the address must not pull a host's disk controller or NIC away);
- from virtio-pci only when the virtio driver on top of it is idle: never while its interface is up, has a
  route, or one of its block devices / its 9p share is mounted or used (holders, swap), whatever the flags;
  an idle but bound virtio driver (virtio_net with the interface down) only with ``force_unbind``.

Standard library only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from tb.platform.base import PlatformError

VIRTIO_VENDOR = 0x1AF4
VIRTIO_NET_DEVICES = (0x1000, 0x1041)  # transitional, modern (0x1040 + VIRTIO_ID_NET)
CLASS_ETHERNET = 0x0200
TAKEOVER_DRIVERS = ("virtio-pci", "vfio-pci", "uio_pci_generic")
IFF_UP = 0x1

# PCI base class / subclass names for the refusal line (PCI Code and ID Assignment spec)
_CLASS_NAMES = {
    0x0100: "SCSI controller",
    0x0101: "IDE controller",
    0x0104: "RAID controller",
    0x0106: "SATA controller",
    0x0108: "NVMe controller",
    0x0200: "Ethernet controller",
    0x0280: "network controller",
    0x0300: "VGA controller",
    0x0380: "display controller",
    0x0403: "audio device",
    0x0600: "host bridge",
    0x0601: "ISA bridge",
    0x0604: "PCI bridge",
    0x0680: "bridge",
    0x0C03: "USB controller",
    0x0C05: "SMBus controller",
    0x00FF: "unclassified device",
}
# virtio device types (virtio spec 5): transitional device id 0x1000 + n - 1, modern 0x1040 + n
_VIRTIO_TYPES = {
    1: "network",
    2: "block",
    3: "console",
    4: "entropy source",
    5: "memory balloon",
    8: "SCSI host",
    9: "9p transport",
    16: "GPU",
    18: "input",
    19: "vsock",
    26: "file system",
}
_TRANSITIONAL_TYPE = {0x1000: 1, 0x1001: 2, 0x1002: 5, 0x1003: 3, 0x1004: 8, 0x1005: 4, 0x1009: 9}


class TakeoverRefused(PlatformError):
    """The function is not one the tool may take; nothing was changed. The message is one line."""


@dataclass
class PciIdentity:
    bdf: str
    vendor: int
    device: int
    cls: int  # 24 bits: base class, subclass, programming interface
    revision: int
    subsys_vendor: int
    subsys_device: int
    driver: str | None

    @property
    def is_virtio_net(self) -> bool:
        return self.vendor == VIRTIO_VENDOR and self.device in VIRTIO_NET_DEVICES and self.cls >> 8 == CLASS_ETHERNET

    @property
    def is_bridge(self) -> bool:
        return self.cls >> 16 == 0x06

    def kind(self) -> str:
        """What the function is, in words: 'host bridge', 'virtio entropy source', 'Ethernet controller'."""
        if self.vendor == VIRTIO_VENDOR and 0x1000 <= self.device <= 0x107F:
            vtype = _TRANSITIONAL_TYPE.get(self.device) if self.device < 0x1040 else self.device - 0x1040
            if self.device < 0x1040 and self.subsys_vendor == VIRTIO_VENDOR and vtype is None:
                vtype = self.subsys_device
            return "virtio " + _VIRTIO_TYPES.get(vtype or 0, f"device type {vtype}")
        return _CLASS_NAMES.get(self.cls >> 8, f"class {self.cls >> 16:02x}xx device")

    def describe(self) -> str:
        return (
            f"{self.vendor:04x}:{self.device:04x} class {self.cls:06x} ({self.kind()}), "
            f"{'bound to ' + self.driver if self.driver else 'no driver'}"
        )


@dataclass
class VirtioUse:
    """What the host does with a function through virtio-pci (the virtio device on top of it)."""

    virtio_dev: str = ""  # virtio3
    virtio_driver: str | None = None  # virtio_net, virtio_blk, 9pnet_virtio, virtio_rng
    interfaces: dict[str, bool] = field(default_factory=dict)  # name -> up
    busy: list[str] = field(default_factory=list)  # reasons it is in use (up, routes, mounts, holders)

    def idle_summary(self) -> str:
        parts = [f"interface {n} down" for n, up in self.interfaces.items() if not up]
        return ", ".join(parts) or "nothing mounted, no interface"


@dataclass
class Assessment:
    identity: PciIdentity
    use: VirtioUse | None = None


def _read_hex(path: Path) -> int:
    return int(path.read_text().strip(), 16)


def _driver(dev: Path) -> str | None:
    link = dev / "driver"
    return os.path.basename(os.readlink(link)) if link.is_symlink() else None


def read_identity(dev: Path, bdf: str) -> PciIdentity:
    """Identity from sysfs files (no config-space access, no binding involved)."""
    try:
        return PciIdentity(
            bdf,
            _read_hex(dev / "vendor"),
            _read_hex(dev / "device"),
            _read_hex(dev / "class"),
            _read_hex(dev / "revision") if (dev / "revision").exists() else 0,
            _read_hex(dev / "subsystem_vendor"),
            _read_hex(dev / "subsystem_device"),
            _driver(dev),
        )
    except (OSError, ValueError) as exc:
        raise PlatformError(f"{bdf}: reading its identity from {dev} failed: {exc}") from exc


def _routes(proc: Path, ifname: str) -> int:
    """Routes through ``ifname`` in the IPv4 and IPv6 routing tables."""
    n = 0
    try:
        for line in (proc / "net/route").read_text().splitlines()[1:]:
            fields = line.split()
            n += bool(fields) and fields[0] == ifname
    except OSError:
        pass
    try:
        for line in (proc / "net/ipv6_route").read_text().splitlines():
            fields = line.split()
            n += bool(fields) and fields[-1] == ifname
    except OSError:
        pass
    return n


def _mounts(proc: Path) -> list[tuple[str, str, str]]:
    """(source, mount point, fs type) of /proc/mounts."""
    try:
        return [
            (f[0], f[1], f[2])
            for f in (line.split() for line in (proc / "mounts").read_text().splitlines())
            if len(f) >= 3
        ]
    except OSError:
        return []


def _swaps(proc: Path) -> list[str]:
    try:
        return [line.split()[0] for line in (proc / "swaps").read_text().splitlines()[1:] if line.split()]
    except OSError:
        return []


def _block_use(blk: Path, name: str, mounts: list[tuple[str, str, str]], swaps: list[str]) -> list[str]:
    """Why the block device ``name`` (sysfs dir ``blk``) or one of its partitions is in use."""
    parts = [name] + sorted(p.name for p in blk.iterdir() if (p / "partition").exists()) if blk.is_dir() else [name]
    out = []
    for part in parts:
        node = f"/dev/{part}"
        for source, where, fstype in mounts:
            if source == node or (os.path.basename(os.path.realpath(source)) == part and source.startswith("/dev/")):
                out.append(f"{node} is mounted on {where} ({fstype})")
        if node in swaps:
            out.append(f"{node} is swap")
        holders_dir = (blk / part / "holders") if part != name else blk / "holders"
        holders = sorted(p.name for p in holders_dir.iterdir()) if holders_dir.is_dir() else []
        if holders:
            out.append(f"{node} is held by {', '.join(holders)}")
    return out


def virtio_use(dev: Path, proc: Path) -> VirtioUse:
    """The virtio device virtio-pci created on the function and what it is used for."""
    use = VirtioUse()
    vdevs = sorted(p for p in dev.glob("virtio*") if p.is_dir())
    if not vdevs:
        return use
    vdev = vdevs[0]
    use.virtio_dev = vdev.name
    use.virtio_driver = _driver(vdev)
    for net in sorted((vdev / "net").glob("*")) if (vdev / "net").is_dir() else []:
        try:
            up = bool(_read_hex(net / "flags") & IFF_UP)
        except (OSError, ValueError):
            up = True  # unknown state counts as in use
        use.interfaces[net.name] = up
        if up:
            use.busy.append(f"interface {net.name} is up")
        routes = _routes(proc, net.name)
        if routes:
            use.busy.append(f"{routes} route(s) via {net.name}")
    mounts, swaps = _mounts(proc), _swaps(proc)
    for blk in sorted((vdev / "block").glob("*")) if (vdev / "block").is_dir() else []:
        use.busy += _block_use(blk, blk.name, mounts, swaps)
    tag_file = vdev / "mount_tag"
    if tag_file.is_file():
        tag = tag_file.read_text().strip("\0\n ")
        for source, where, fstype in mounts:
            if fstype == "9p" and source == tag:
                use.busy.append(f"9p share {tag!r} is mounted on {where}")
    return use


def assess(dev: Path, bdf: str, proc: Path = Path("/proc")) -> Assessment:
    ident = read_identity(dev, bdf)
    return Assessment(ident, virtio_use(dev, proc) if ident.driver == "virtio-pci" else None)


def check_takeover(a: Assessment, any_device: bool = False, force_unbind: bool = False) -> None:
    """Raise TakeoverRefused (one line, saying what to do) unless the tool may take the function."""
    ident = a.identity
    head = f"refusing {ident.bdf}: {ident.describe()}"
    unchanged = "; nothing was changed"
    if ident.is_bridge:
        raise TakeoverRefused(f"{head}: a bridge is never a device under test{unchanged}")
    if not ident.is_virtio_net and not any_device:
        raise TakeoverRefused(
            f"{head}, is not a virtio-net function (1af4:1000 or 1af4:1041, class 0200xx)"
            f"{unchanged} (--any-device binds it anyway and stops after reading its identity)"
        )
    if ident.driver is not None and ident.driver not in TAKEOVER_DRIVERS:
        raise TakeoverRefused(
            f"{head}: the tool takes a function only from virtio-pci, vfio-pci or "
            f"uio_pci_generic, never from {ident.driver}{unchanged} (if it is really free, "
            "unbind it yourself first)"
        )
    use = a.use
    if ident.driver == "virtio-pci" and use is not None:
        by = f" ({use.virtio_dev} driven by {use.virtio_driver})" if use.virtio_driver else ""
        if use.busy:
            raise TakeoverRefused(
                f"{head}, in use{by}: {'; '.join(use.busy)}{unchanged} (not even "
                "--force-unbind takes a function the host is using)"
            )
        if use.virtio_driver and not force_unbind:
            raise TakeoverRefused(
                f"{head}{by}, idle ({use.idle_summary()}){unchanged}: pass --force-unbind "
                f"to take it from {use.virtio_driver}"
            )
