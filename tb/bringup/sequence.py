"""Bring-up checks for a virtio-net function: the same sequence on every platform.

    .venv/bin/vnet-bringup [--target sim|pci:0000:00:04.0] [--backend vfio|uio] [--out DIR]
    python3 -m tb.bringup --target pci:...     (the system Python is enough for a pci target)

``run_checks(platform, start_task, cfg)`` is the sequence (platform-independent, standard library only): PCI
identity (a function that is not a legacy virtio-net stops the sequence there), BARs, Bus Master, the
interrupt capabilities, offered features, the status handshake, queue sizes, MAC and link, TX of N frames
through the driver with used.idx read before and after, interrupt delivery (MSI-X as Linux's vp_find_vqs
gets it: a vector per queue, else one shared queue vector, else INTx; and INTx), the interrupt-suppression
A/B (pre- vs post-b0c39dbd driver, TX interrupts per packet) and the interrupt counts against the kernel's
own, and on our own RTL (debug BAR ID "VNET" in BAR2) the debug registers, counters and the DMA self-test.

Every number in the table is read: ring indices from the ring, interrupts as the platform counted them
("raised" from the kernel's descriptors, "handled" from handler runs, "kernel" from /proc/interrupts).
The exit code is 0 only when no check failed. A check that does not apply says so (N/A) with the reason.
The command line (targets, argument checks, artifacts) is tb.bringup.cli.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from tb.device.debug_bar import COUNTERS as DBG_COUNTERS
from tb.device.debug_bar import DBG_ID_VALUE, DEBUG_BAR, REG_ID, REG_SCRATCH, REG_VERSION, DebugBar
from tb.device.dev_ctrl import MODE_LOOPBACK_BIT, REG_MODE, RX_COUNTERS, DevCtrl
from tb.driver.trace import EventLog
from tb.driver.virtio_net import GuestTiming
from tb.driver.virtio_pci import (
    VIRTIO_CONFIG_S_ACKNOWLEDGE,
    VIRTIO_CONFIG_S_DRIVER,
    VIRTIO_CONFIG_S_DRIVER_OK,
    VIRTIO_F_NOTIFY_ON_EMPTY,
    VIRTIO_PCI_CONFIG_OFF_NO_MSIX,
    VIRTIO_PCI_GUEST_FEATURES,
    VIRTIO_PCI_HOST_FEATURES,
    VIRTIO_PCI_QUEUE_NUM,
    VIRTIO_PCI_QUEUE_SEL,
    VIRTIO_PCI_STATUS,
)
from tb.driver.virtio_pci_modern import (
    VIRTIO_CONFIG_S_FEATURES_OK,
    VIRTIO_F_ACCESS_PLATFORM,
    VIRTIO_F_VERSION_1,
    VIRTIO_PCI_COMMON_DF,
    VIRTIO_PCI_COMMON_DFSELECT,
    VIRTIO_PCI_COMMON_GF,
    VIRTIO_PCI_COMMON_GFSELECT,
    VIRTIO_PCI_COMMON_NUMQ,
    VIRTIO_PCI_COMMON_Q_SELECT,
    VIRTIO_PCI_COMMON_Q_SIZE,
    VIRTIO_PCI_COMMON_STATUS,
    VirtioPciModern,
)
from tb.platform.base import IrqCount, Platform, PlatformError
from tb.scenarios.xmit import StartTask, XmitResult, XmitRun, XmitScenario

PASS, FAIL, NA = "PASS", "FAIL", "N/A"

# the loopback row's frames: IEEE 802 "local experimental" EtherType 2 (the transmit scenario's frames use
# EtherType 1, 0x88B5), which no host stack answers; the QEMU rig's host-side peer echoes frames of this type
# back into the guest's NIC (hil/udp_peer.py) and only those
LOOPBACK_ETHERTYPE = 0x88B6

VIRTIO_VENDOR = 0x1AF4
VIRTIO_NET_LEGACY_DEVICE = 0x1000
VIRTIO_NET_MODERN_DEVICE = 0x1041
VIRTIO_ID_NET = 1

PCI_STATUS = 0x06
PCI_STATUS_CAP_LIST = 0x10
PCI_CAPABILITY_LIST = 0x34
PCI_INTERRUPT_PIN = 0x3D
PCI_CAP_ID_MSIX = 0x11

# feature bit names (virtio 1.x spec §5.1.3 and §6; legacy-only bits included)
FEATURE_NAMES = {
    0: "CSUM",
    1: "GUEST_CSUM",
    2: "CTRL_GUEST_OFFLOADS",
    3: "MTU",
    5: "MAC",
    6: "GSO",
    7: "GUEST_TSO4",
    8: "GUEST_TSO6",
    9: "GUEST_ECN",
    10: "GUEST_UFO",
    11: "HOST_TSO4",
    12: "HOST_TSO6",
    13: "HOST_ECN",
    14: "HOST_UFO",
    15: "MRG_RXBUF",
    16: "STATUS",
    17: "CTRL_VQ",
    18: "CTRL_RX",
    19: "CTRL_VLAN",
    20: "CTRL_RX_EXTRA",
    21: "GUEST_ANNOUNCE",
    22: "MQ",
    23: "CTRL_MAC_ADDR",
    24: "NOTIFY_ON_EMPTY",
    27: "ANY_LAYOUT",
    28: "RING_INDIRECT_DESC",
    29: "RING_EVENT_IDX",
    30: "BAD_FEATURE",
}
F_MAC, F_STATUS = 5, 16


def feature_names(bits: int) -> str:
    return " ".join(FEATURE_NAMES.get(b, f"bit{b}") for b in range(32) if bits >> b & 1)


@dataclass
class Check:
    name: str
    status: str
    value: str = ""
    detail: str = ""


@dataclass
class BringupConfig:
    packets: int = 32  # frames of the TX check
    intx_packets: int = 8  # frames of the INTx check (when MSI-X was the first choice)
    ab_packets: int = 32  # frames per A/B variant
    gap_ns: float = 2000.0  # sender think time in the A/B runs (0: unpaced)
    timeout_ns: float = 1e9  # per run, platform time
    timing: GuestTiming | None = None  # None: the driver's defaults
    selftest_len: int = 1024
    irq_grace_ns: float = 20_000.0  # after the last used entry, wait this long for a first TX interrupt
    # frames the wire carried so far (simulation), for the byte-exact check; None: checked elsewhere
    wire: Callable[[], list[bytes]] | None = None
    wire_note: str = "no wire tap on this platform"
    kernel_tolerance: float = 0.02  # raised vs the kernel's count
    intx_slack: float = 0.02  # INTx: arrivals the kernel counted and the handler found cleared (IRQ_NONE)
    trace: bool = False  # keep every driver run's event log in the report (report.events)
    progress: Callable[[str], None] | None = None  # one line per step
    loopback_frames: int = 32  # frames of the loopback row
    # the function's wire has a peer that sends frames of LOOPBACK_ETHERTYPE back (the QEMU rig's UDP peer)
    loopback_peer: bool = False
    # simulation: the checker set (tb.checkers.CheckerSet), told which frames each driver run queued
    checkers: Any = None
    # the driver runs' variant and virtio-pci transport: "legacy" (the table of the seed commit: post, with
    # the pre/post A/B) or "modern" (a variant of Linux 4.0 or later over the virtio 1.x capabilities; the
    # register rows through the common configuration, no A/B: the 2009 drivers have no modern transport)
    variant: str = "post"
    transport: str = "legacy"


@dataclass
class BringupReport:
    checks: list[Check] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)  # in execution order, with their frames
    host_features: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)  # driver and interrupt events (cfg.trace)
    progress: Callable[[str], None] | None = None
    t0: float = field(default_factory=time.monotonic)

    def add(self, name: str, status: str, value: str = "", detail: str = "") -> Check:
        c = Check(name, status, value, detail)
        self.checks.append(c)
        self.say(f"{name}: {status}" + (f"  {value}" if value else "") + (f"  ({detail})" if detail else ""))
        return c

    def say(self, line: str) -> None:
        if self.progress is not None:
            self.progress(f"[{time.monotonic() - self.t0:7.2f} s] {line}")

    def to_json(self) -> dict[str, Any]:
        return {
            "checks": [asdict(c) for c in self.checks],
            "runs": self.runs,
            "host_features": self.host_features,
            "exit_code": exit_code(self.checks),
        }


# -- table ---------------------------------------------------------------------------------------------------
def format_table(checks: list[Check], title: str = "") -> str:
    w_name = max([len("check")] + [len(c.name) for c in checks])
    w_st = 6
    lines = [title] if title else []
    lines.append(f"{'check':<{w_name}}  {'result':<{w_st}}  value")
    lines.append(f"{'-' * w_name}  {'-' * w_st}  {'-' * 40}")
    for c in checks:
        value = c.value + (f"  ({c.detail})" if c.detail else "")
        lines.append(f"{c.name:<{w_name}}  {c.status:<{w_st}}  {value}")
    n_fail = sum(c.status == FAIL for c in checks)
    n_pass = sum(c.status == PASS for c in checks)
    n_na = sum(c.status == NA for c in checks)
    lines.append(f"{n_pass} passed, {n_fail} failed, {n_na} not applicable")
    return "\n".join(lines)


def exit_code(checks: list[Check]) -> int:
    """0 only when no check failed and at least one passed."""
    if any(c.status == FAIL for c in checks) or not any(c.status == PASS for c in checks):
        return 1
    return 0


# -- the sequence ------------------------------------------------------------------------------------------
class _Regs:
    """The legacy register block, read and written directly (before and between driver runs)."""

    def __init__(self, p: Platform):
        self.p = p

    async def rd(self, off: int, size: int) -> int:
        return await self.p.bar_read(0, off, size)

    async def wr(self, off: int, value: int, size: int) -> None:
        await self.p.bar_write(0, off, value, size)

    async def reset(self) -> int:
        await self.wr(VIRTIO_PCI_STATUS, 0, 1)
        return await self.rd(VIRTIO_PCI_STATUS, 1)


async def _guard(report: BringupReport, name: str, coro) -> Any:
    """Run one step; an exception becomes a FAIL row naming it (the sequence goes on where it can)."""
    try:
        return await coro
    except Exception as exc:  # noqa: BLE001 - every failure must land in the table
        report.add(name, FAIL, f"{type(exc).__name__}: {exc}")
        return None


async def check_identity(p: Platform, r: BringupReport, modern: bool = False) -> bool:
    vendor = await p.config_read(0x00, 2)
    device = await p.config_read(0x02, 2)
    rev = await p.config_read(0x08, 1)
    cls = await p.config_read(0x08, 4) >> 8
    svid = await p.config_read(0x2C, 2)
    sid = await p.config_read(0x2E, 2)
    if modern:
        # virtio 1.x: 0x1041 (modern only, revision 1 or more) or the transitional 0x1000 with subsystem id 1
        ok = (
            vendor == VIRTIO_VENDOR
            and (device == VIRTIO_NET_MODERN_DEVICE or (device == VIRTIO_NET_LEGACY_DEVICE and sid == VIRTIO_ID_NET))
            and cls >> 8 == 0x0200
        )
    else:
        ok = (
            vendor == VIRTIO_VENDOR
            and device == VIRTIO_NET_LEGACY_DEVICE
            and sid == VIRTIO_ID_NET
            and cls >> 8 == 0x0200
            and rev == 0
        )
    detail = ""
    if not ok and modern:
        detail = "expected 1af4:1041, or 1af4:1000 subsystem id 1, class 0200xx (virtio-net); the sequence stops here"
    elif not ok:
        detail = "expected 1af4:1000 rev 0 subsystem id 1 class 0200xx (legacy virtio-net)"
        if vendor == VIRTIO_VENDOR and device == VIRTIO_NET_MODERN_DEVICE:
            detail = "a modern-only virtio-net function: this driver speaks the legacy interface (BAR0)"
        detail += "; the sequence stops here, before any traffic"
    r.add(
        "PCI identity",
        PASS if ok else FAIL,
        f"{vendor:04x}:{device:04x} rev {rev} subsys {svid:04x}:{sid:04x} class {cls:06x}",
        detail,
    )
    return ok


async def check_bars(p: Platform, r: BringupReport) -> None:
    parts = []
    for bar in range(6):
        size = p.bar_size(bar)
        if size:
            io = getattr(p, "bar_is_io", lambda b: False)(bar)
            parts.append(f"BAR{bar} {'io' if io else 'mem'} {size:#x}")
    bar0 = p.bar_size(0)
    ok = bar0 >= 0x20
    r.add(
        "BARs",
        PASS if ok else FAIL,
        ", ".join(parts) or "none",
        "" if ok else "BAR0 must hold the 0x14-byte legacy block + device config",
    )


class _ModernRegs:
    """The modern structures, found as the transport finds them (vp_modern_probe's capability walk), read and
    written directly (before and between driver runs)."""

    def __init__(self, p: Platform):
        self.p = p
        self.vp = VirtioPciModern(p)

    async def probe(self) -> None:
        await self.vp.vp_modern_probe()

    async def rd(self, off: int, size: int) -> int:
        return await self.vp.rd(self.vp.common, off, size)

    async def wr(self, off: int, value: int, size: int) -> None:
        await self.vp.wr(self.vp.common, off, value, size)

    async def reset(self) -> int:
        await self.vp.reset()
        return await self.rd(VIRTIO_PCI_COMMON_STATUS, 1)

    async def features(self, select: str) -> int:
        sel, val = (
            (VIRTIO_PCI_COMMON_DFSELECT, VIRTIO_PCI_COMMON_DF)
            if select == "device"
            else (VIRTIO_PCI_COMMON_GFSELECT, VIRTIO_PCI_COMMON_GF)
        )
        await self.wr(sel, 0, 4)
        lo = await self.rd(val, 4)
        await self.wr(sel, 1, 4)
        return lo | await self.rd(val, 4) << 32


async def check_capabilities(p: Platform, r: BringupReport, regs: _ModernRegs) -> bool:
    await regs.probe()
    vp = regs.vp

    def where(region: Any) -> str:
        return f"BAR{region.bar} +{region.offset:#x} ({region.length} bytes)" if region is not None else "-"

    notify = (
        f"notify {where(vp.notify_base)} x{vp.notify_offset_multiplier}"
        if vp.notify_base is not None
        else f"notify per queue (cap at {vp.notify_map_cap:#x}) x{vp.notify_offset_multiplier}"
    )
    r.add(
        "virtio capabilities",
        PASS,
        f"common {where(vp.common)}, isr {where(vp.isr)}, {notify}, device {where(vp.device)}",
    )
    return True


async def check_features_modern(p: Platform, r: BringupReport, regs: _ModernRegs) -> int:
    await regs.reset()
    feats = await regs.features("device")
    r.host_features = feats
    names = feature_names(feats & 0xFFFFFFFF)
    high = [
        n
        for b, n in ((VIRTIO_F_VERSION_1, "VERSION_1"), (VIRTIO_F_ACCESS_PLATFORM, "ACCESS_PLATFORM"))
        if feats >> b & 1
    ]
    ok = bool(feats & (1 << F_MAC)) and bool(feats >> VIRTIO_F_VERSION_1 & 1)
    r.add(
        "features offered",
        PASS if ok else FAIL,
        f"{feats:#018x}: {' '.join([names, *high])}",
        "" if ok else "a modern virtio-net function offers VERSION_1 and MAC",
    )
    return feats


async def check_handshake_modern(p: Platform, r: BringupReport, regs: _ModernRegs) -> None:
    """reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK read back set, DRIVER_OK, reset (no queue is made live)."""
    ack, drv, fok, dok = (
        VIRTIO_CONFIG_S_ACKNOWLEDGE,
        VIRTIO_CONFIG_S_DRIVER,
        VIRTIO_CONFIG_S_FEATURES_OK,
        VIRTIO_CONFIG_S_DRIVER_OK,
    )
    st = VIRTIO_PCI_COMMON_STATUS
    seen = [await regs.reset()]
    await regs.wr(st, ack, 1)
    seen.append(await regs.rd(st, 1))
    await regs.wr(st, ack | drv, 1)
    seen.append(await regs.rd(st, 1))
    host = await regs.features("device")
    # what a driver must take of a modern device: VERSION_1, and ACCESS_PLATFORM when it is offered (a device
    # behind an IOMMU refuses FEATURES_OK without it)
    want = host & ((1 << F_MAC) | (1 << F_STATUS) | (1 << VIRTIO_F_VERSION_1) | (1 << VIRTIO_F_ACCESS_PLATFORM))
    await regs.wr(VIRTIO_PCI_COMMON_GFSELECT, 0, 4)
    await regs.wr(VIRTIO_PCI_COMMON_GF, want & 0xFFFFFFFF, 4)
    await regs.wr(VIRTIO_PCI_COMMON_GFSELECT, 1, 4)
    await regs.wr(VIRTIO_PCI_COMMON_GF, want >> 32, 4)
    guest = await regs.features("driver")
    await regs.wr(st, ack | drv | fok, 1)
    seen.append(await regs.rd(st, 1))
    await regs.wr(st, ack | drv | fok | dok, 1)
    seen.append(await regs.rd(st, 1))
    seen.append(await regs.reset())
    expect = [0, ack, ack | drv, ack | drv | fok, ack | drv | fok | dok, 0]
    ok = seen == expect and guest == want
    r.add(
        "status handshake",
        PASS if ok else FAIL,
        "status " + " -> ".join(f"{s:#x}" for s in seen) + f"; driver features {guest:#x} (wrote {want:#x})",
        "" if ok else "expected 0 -> 0x1 -> 0x3 -> 0xb (FEATURES_OK read back) -> 0xf -> 0 and the features read back",
    )


async def check_queues_modern(p: Platform, r: BringupReport, regs: _ModernRegs) -> None:
    num = await regs.rd(VIRTIO_PCI_COMMON_NUMQ, 2)
    sizes = []
    for q in range(min(num, 8)):
        await regs.wr(VIRTIO_PCI_COMMON_Q_SELECT, q, 2)
        sizes.append(await regs.rd(VIRTIO_PCI_COMMON_Q_SIZE, 2))
    tx = sizes[1] if len(sizes) > 1 else 0
    ok = tx > 0 and not tx & (tx - 1) and sizes[0] > 0
    r.add(
        "queue sizes",
        PASS if ok else FAIL,
        f"num_queues {num}: " + ", ".join(f"q{i}={n}" for i, n in enumerate(sizes)),
        "" if ok else "rx and tx queues must exist with power-of-two sizes",
    )


async def check_mac_link_modern(p: Platform, r: BringupReport, regs: _ModernRegs, feats: int) -> None:
    """MAC and link from the device configuration, under the config_generation loop (the transport's reads)."""
    if not feats & (1 << F_MAC):
        r.add("MAC", NA, "VIRTIO_NET_F_MAC not offered: the device config holds no MAC")
    else:
        mac = await regs.vp.config_get(0, 6)
        ok = any(mac) and not mac[0] & 1
        r.add("MAC", PASS if ok else FAIL, mac.hex(":"), "" if ok else "a MAC must be a non-zero unicast address")
    if not feats & (1 << F_STATUS):
        r.add("link", NA, "VIRTIO_NET_F_STATUS not offered: the driver treats the link as up")
        return
    status = int.from_bytes(await regs.vp.config_get(6, 2), "little")
    up = bool(status & 1)
    r.add(
        "link",
        PASS if up else FAIL,
        f"{'up' if up else 'down'} (status {status:#x})",
        "" if up else "VIRTIO_NET_S_LINK_UP is clear",
    )


async def check_bus_master(p: Platform, r: BringupReport) -> None:
    before = await p.config_read(0x04, 2)
    setter = getattr(p, "pci_set_master", None)
    if setter is not None:
        await setter()
    else:
        await p.bus_master(True)
    after = await p.config_read(0x04, 2)
    r.add("Bus Master", PASS if after & 0x4 else FAIL, f"COMMAND {before:#06x} -> {after:#06x}")


async def read_msix_capability(p: Platform) -> tuple[int, int, int] | None:
    """(table size, table BAR, table offset) from the MSI-X capability in config space, None without one."""
    if not await p.config_read(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST:
        return None
    ptr = await p.config_read(PCI_CAPABILITY_LIST, 1) & 0xFC
    for _ in range(48):  # the list cannot be longer than config space allows; a loop is a broken device
        if ptr < 0x40:
            return None
        cap_id = await p.config_read(ptr, 1)
        if cap_id == PCI_CAP_ID_MSIX:
            ctrl = await p.config_read(ptr + 2, 2)
            table = await p.config_read(ptr + 4, 4)
            return (ctrl & 0x7FF) + 1, table & 0x7, table & ~0x7
        ptr = await p.config_read(ptr + 1, 1) & 0xFC
    return None


async def check_interrupt_caps(p: Platform, r: BringupReport) -> None:
    msix = await read_msix_capability(p)
    pin = await p.config_read(PCI_INTERRUPT_PIN, 1)
    parts = [
        f"MSI-X table of {msix[0]} vectors (BAR{msix[1]} +{msix[2]:#x})" if msix else "no MSI-X capability",
        f"INTx pin {'?ABCD'[pin] if 0 < pin <= 4 else pin}" if pin else "no INTx pin",
    ]
    ok = bool(msix or pin)
    detail = "" if ok else "the function cannot interrupt"
    platform_vectors = getattr(p, "msix_table_size", None)
    if platform_vectors is not None:
        parts.append(f"{getattr(p, 'name', 'platform')} reports {platform_vectors} MSI-X vectors")
        if platform_vectors != (msix[0] if msix else 0):
            ok, detail = False, "the platform's vector count differs from the capability's table size"
    r.add("interrupt capabilities", PASS if ok else FAIL, ", ".join(parts), detail)


async def check_features(p: Platform, r: BringupReport, regs: _Regs) -> int:
    await regs.reset()
    feats = await regs.rd(VIRTIO_PCI_HOST_FEATURES, 4)
    r.host_features = feats
    r.add(
        "features offered",
        PASS if feats & (1 << F_MAC) else FAIL,
        f"{feats:#010x}: {feature_names(feats)}",
        "" if feats & (1 << F_MAC) else "no MAC feature",
    )
    noe = bool(feats >> VIRTIO_F_NOTIFY_ON_EMPTY & 1)
    r.add(
        "NOTIFY_ON_EMPTY offered",
        PASS if noe else NA,
        "yes (bit 24)" if noe else "no",
        "" if noe else "the pre-patch driver then reclaims on its timer; the A/B limits do not apply",
    )
    return feats


async def check_handshake(p: Platform, r: BringupReport, regs: _Regs) -> None:
    seen = [await regs.reset()]
    await regs.wr(VIRTIO_PCI_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE, 1)
    seen.append(await regs.rd(VIRTIO_PCI_STATUS, 1))
    await regs.wr(VIRTIO_PCI_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, 1)
    seen.append(await regs.rd(VIRTIO_PCI_STATUS, 1))
    host = await regs.rd(VIRTIO_PCI_HOST_FEATURES, 4)
    want = host & ((1 << F_MAC) | (1 << F_STATUS))
    await regs.wr(VIRTIO_PCI_GUEST_FEATURES, want, 4)
    guest = await regs.rd(VIRTIO_PCI_GUEST_FEATURES, 4)
    await regs.wr(VIRTIO_PCI_STATUS, 0x7, 1)
    seen.append(await regs.rd(VIRTIO_PCI_STATUS, 1))
    seen.append(await regs.reset())
    expect = [
        0,
        VIRTIO_CONFIG_S_ACKNOWLEDGE,
        VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER,
        VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK,
        0,
    ]
    ok = seen == expect and guest == want
    r.add(
        "status handshake",
        PASS if ok else FAIL,
        "status " + " -> ".join(f"{s:#x}" for s in seen) + f"; guest features {guest:#x} (wrote {want:#x})",
        "" if ok else "expected 0 -> 0x1 -> 0x3 -> 0x7 -> 0 and the guest features read back",
    )


async def check_queues(p: Platform, r: BringupReport, regs: _Regs) -> None:
    sizes = []
    for q in range(8):
        await regs.wr(VIRTIO_PCI_QUEUE_SEL, q, 2)
        n = await regs.rd(VIRTIO_PCI_QUEUE_NUM, 2)
        sizes.append(n)
        if n == 0:
            break
    tx = sizes[1] if len(sizes) > 1 else 0
    ok = tx > 0 and not tx & (tx - 1) and sizes[0] > 0
    r.add(
        "queue sizes",
        PASS if ok else FAIL,
        ", ".join(f"q{i}={n}" for i, n in enumerate(sizes)),
        "" if ok else "rx and tx queues must exist with power-of-two sizes",
    )


async def check_mac(p: Platform, r: BringupReport, regs: _Regs, feats: int) -> None:
    if not feats & (1 << F_MAC):
        r.add("MAC", NA, "VIRTIO_NET_F_MAC not offered: the device config holds no MAC")
        return
    await regs.reset()  # MSI-X off: the device config is at 0x14
    mac = bytes([await regs.rd(VIRTIO_PCI_CONFIG_OFF_NO_MSIX + i, 1) for i in range(6)])
    ok = any(mac) and not mac[0] & 1
    r.add("MAC", PASS if ok else FAIL, mac.hex(":"), "" if ok else "a MAC must be a non-zero unicast address")


async def check_link(p: Platform, r: BringupReport, regs: _Regs, feats: int) -> None:
    if not feats & (1 << F_STATUS):
        r.add(
            "link",
            NA,
            "VIRTIO_NET_F_STATUS not offered: the device config has no status field (the driver treats the link as up)",
        )
        return
    await regs.reset()
    status = await regs.rd(VIRTIO_PCI_CONFIG_OFF_NO_MSIX + 6, 2)
    up = bool(status & 1)
    r.add(
        "link",
        PASS if up else FAIL,
        f"{'up' if up else 'down'} (status {status:#x})",
        "" if up else "VIRTIO_NET_S_LINK_UP is clear",
    )


def _duration(ns: float) -> str:
    return f"{ns / 1e6:.1f} ms" if ns >= 1e6 else f"{ns / 1e3:.1f} us"


async def _used_idx(run: XmitRun) -> int:
    svq = run.net.svq
    assert svq is not None
    return await svq.mem.read_int(svq.layout.used_idx, 2)


def _delta(before: IrqCount | None, after: IrqCount) -> dict[str, Any]:
    b = before or IrqCount(raised=0, handled=0)
    raised = after.raised - (b.raised or 0) if after.raised is not None else None
    kernel = after.kernel - (b.kernel or 0) if after.kernel is not None else None
    return {
        "raised": raised,
        "handled": after.handled - b.handled,
        "kernel": kernel,
        "line": after.line,
        "shared": after.shared,
    }


def mode_text(info: dict[str, Any]) -> str:
    """How the run's queues interrupted, and why not the earlier choices of vp_find_vqs."""
    mode, failed = info.get("irq_mode", ""), info.get("irq_fallbacks", [])
    text = {
        "msix-per-vq": "MSI-X, a vector per queue",
        "msix-shared": "MSI-X, one vector shared by the queues",
        "intx": "INTx",
    }.get(mode, mode or "?")
    if mode != "intx":
        text += f" (TX on {info.get('tx_irq_source', '?')})"
    reasons: dict[str, list[str]] = {}
    for f in failed:  # "MSI-X per-vq vectors: why"
        what, _, why = f.partition(": ")
        reasons.setdefault(why, []).append(what)
    for why, whats in reasons.items():
        text += f"; {' and '.join(whats)} failed: {why}"
    return text


def vector_text(info: dict[str, Any]) -> str:
    src = info.get("tx_irq_source", "?")
    if info.get("irq_mode") == "msix-shared":
        return f"shared queue vector {src[4:]}"
    return f"TX vector {src[4:]}" if src.startswith("msix") else "INTx"


async def xmit_run(
    p: Platform,
    start_task: StartTask,
    cfg: BringupConfig,
    name: str,
    scn: XmitScenario,
    r: BringupReport | None = None,
    after_used: Callable[[XmitRun], Awaitable[None]] | None = None,
) -> tuple[XmitResult, dict[str, Any]]:
    """Probe the driver, send, wait until the device used every frame (used.idx), remove the driver.

    The run's interrupt counts are the platform's counts after minus before; used.idx is read from the
    ring before the first frame and after the device used the last one. ``after_used`` runs then, with the
    driver still probed (the loopback row waits there for its frames to come back)."""

    async def wait_used(run: XmitRun, used_before: int, n: int) -> None:
        deadline = p.now_ns() + scn.timeout_ns
        while (await _used_idx(run) - used_before) & 0xFFFF < n:
            if p.now_ns() > deadline:
                raise PlatformError(
                    f"used.idx {await _used_idx(run)} after {scn.timeout_ns / 1e6:.0f} ms, expected {used_before + n}"
                )
            await p.sleep_ns(1000)
        # the device raises its interrupt after it wrote used.idx: give a callback still enabled (no
        # skb_xmit_done yet) time to see it before remove() resets the device
        grace = p.now_ns() + cfg.irq_grace_ns
        while run.net.stats.tx_irqs == 0 and p.now_ns() < grace:
            await p.sleep_ns(1000)

    if r is not None:
        r.say(
            f"{name}: probing the {scn.variant} driver ({scn.transport or 'default'} transport), {scn.packets} frames"
            + (f", {_duration(scn.gap_ns)} apart" if scn.gap_ns else ", unpaced")
            + ("" if scn.use_msix else ", INTx only")
        )
    driver_log = EventLog(p, enabled=cfg.trace, source="driver")
    irq_log = EventLog(p, enabled=cfg.trace, source="irq")
    set_trace = getattr(p, "set_trace", None)
    if set_trace is not None and cfg.trace:
        set_trace(irq_log.event)
    before = p.irq_counts()
    run = XmitRun(p, scn, start_task, cfg.timing, tracer=driver_log, checkers=cfg.checkers)
    info: dict[str, Any] = {"name": name}
    try:
        await run.probe()
        vdev = run.net.vdev
        tx_vector = next((i.msix_vector for i in vdev.vqs if i.vq is run.net.svq), None)
        info.update(
            irq_mode=vdev.irq_mode,
            irq_fallbacks=list(vdev.find_vqs_failures),
            tx_irq_source=f"msix{tx_vector}" if vdev.msix_enabled else "intx",
        )
        used_before = await _used_idx(run)
        res = await run.traffic(lambda n: wait_used(run, used_before, n))
        used_after = await _used_idx(run)
        if after_used is not None:
            await after_used(run)
    finally:
        await run.net.remove()
        if set_trace is not None and cfg.trace:
            set_trace(None)
        if r is not None and cfg.trace:
            for log in (driver_log, irq_log):
                r.events += [
                    {"run": name, "t_ns": e.t_ns, "source": log.source, "event": e.kind, **e.fields} for e in log.events
                ]
    after = p.irq_counts()
    irq = {src: _delta(before.get(src), c) for src, c in after.items()}
    tx = irq.get(info["tx_irq_source"])
    # the platform's counts where it has them; else the driver's handler runs on the TX vector / INTx
    raised = tx["raised"] if tx else None
    handled = tx["handled"] if tx else res.tx_irqs_delivered
    kernel = tx["kernel"] if tx else None
    n = max(res.packets, 1)
    queued = {skb.seq: skb.queued_ns for skb in run.net.freed if skb.queued_ns is not None}
    info.update(
        {
            **res.summary(),
            "features": res.driver.vdev.features,
            "rx_packets": res.driver.rx_stats.rx_packets,  # frames the run's driver received (none but loopback's)
            "isr_reads": res.driver.vdev.irq.isr_reads,
            "intx_none": res.driver.vdev.irq.intx_none,
            "msix_by_vector": dict(res.driver.vdev.irq.msix),
            "used_idx": (used_before, used_after),
            "msix": info["irq_mode"].startswith("msix"),
            "irq": irq,
            "tx_raised": raised,
            "tx_handled": handled,
            "tx_kernel": kernel,
            "raised_per_pkt": None if raised is None else round(raised / n, 4),
            "handled_per_pkt": round(handled / n, 4),
            "kernel_per_pkt": None if kernel is None else round(kernel / n, 4),
            "frames": [f.hex() for f in res.sent],
            "frame_times_ns": [queued.get(i, 0.0) for i in range(len(res.sent))],
        }
    )
    errors = getattr(p, "handler_errors", [])
    if errors:
        raise PlatformError(f"interrupt handler failed: {errors[0]}")
    return res, info


def _counts(info: dict[str, Any]) -> str:
    raised = info["tx_raised"]
    return (
        (f"raised {raised}, " if raised is not None else "")
        + f"handled {info['tx_handled']}"
        + (f", kernel {info['tx_kernel']}" if info["tx_kernel"] is not None else "")
    )


def _tx_irqs(info: dict[str, Any]) -> int:
    """The run's TX interrupts: raised where the platform counts them, else handled."""
    return info["tx_raised"] if info["tx_raised"] is not None else info["tx_handled"]


async def check_wire(r: BringupReport, cfg: BringupConfig, sent: list[bytes], p: Platform, timeout_ns: float) -> None:
    if cfg.wire is None:
        r.add("wire byte-exact", NA, cfg.wire_note)
        return
    deadline = p.now_ns() + timeout_ns
    while len(cfg.wire()) < len(sent) and p.now_ns() < deadline:
        await p.sleep_ns(1000)
    got = cfg.wire()
    bad = next((i for i, (a, b) in enumerate(zip(sent, got, strict=False)) if a != b), None)
    ok = len(got) == len(sent) and bad is None
    r.add(
        "wire byte-exact",
        PASS if ok else FAIL,
        f"{len(got)}/{len(sent)} frames on the wire",
        "" if ok else (f"frame {bad} differs" if bad is not None else "count differs"),
    )


def check_kernel_counts(r: BringupReport, cfg: BringupConfig) -> None:
    """Every source of every run: the interrupts the platform read from its descriptors against the kernel's
    own count for the same line (/proc/interrupts), within ``cfg.kernel_tolerance``. A line the function
    shares with other devices also counts theirs: there the kernel's count only bounds the tool's. On INTx the
    kernel may count an arrival more than the handler claimed: a level line the device lowered (an ISR read
    in the tool's window) after the interrupt controller latched it reaches the handler as IRQ_NONE, counted
    by the kernel only; the kernel's count may then exceed the tool's by ``intx_slack`` of it (at least 1)."""
    pairs, bad, shared = [], [], False
    for run in r.runs:
        for src, c in run.get("irq", {}).items():
            if c["kernel"] is None or c["raised"] is None:
                continue
            if c.get("shared"):
                shared = True
                ok = c["raised"] <= c["kernel"]
            elif src == "intx":
                slack = max(1, round(cfg.intx_slack * c["raised"]))
                ok = c["raised"] <= c["kernel"] <= c["raised"] + slack
            else:
                ok = abs(c["raised"] - c["kernel"]) <= cfg.kernel_tolerance * max(c["raised"], c["kernel"])
            if src == run.get("tx_irq_source"):
                pairs.append(f"{run['name']} {c['raised']}/{c['kernel']}")
            if not ok:
                bad.append(f"{run['name']} {src}: raised {c['raised']}, kernel {c['kernel']} ({c['line']})")
    if not pairs and not bad:
        r.add("irq counts vs kernel", NA, "no kernel interrupt count on this platform")
        return
    lines = sorted(
        {run["irq"][run["tx_irq_source"]]["line"] for run in r.runs if run.get("tx_irq_source") in run.get("irq", {})}
    )
    r.add(
        "irq counts vs kernel",
        FAIL if bad else PASS,
        "TX raised/kernel: "
        + ", ".join(pairs)
        + (f" ({', '.join(lines)})" if lines else "")
        + ("; a shared line: the kernel's count includes other devices'" if shared else ""),
        "; ".join(bad)
        + (
            " (the tool counted more than the kernel delivered)"
            if shared
            else " (more than 2 % apart: interrupts lost or invented)"
        )
        if bad
        else "",
    )


async def check_debug_bar(p: Platform, r: BringupReport) -> bool:
    if not p.bar_size(DEBUG_BAR):
        r.add("debug BAR", NA, "no BAR2: not our RTL (QEMU and other devices have no debug BAR)")
        return False
    dbg = DebugBar(p)
    ident = await dbg.read(REG_ID)
    if ident != DBG_ID_VALUE:
        r.add("debug BAR", NA, f"BAR2 ID {ident:#010x} is not {DBG_ID_VALUE:#010x} ('VNET'): not our RTL")
        return False
    version = await dbg.read(REG_VERSION)
    await dbg.write(REG_SCRATCH, 0xA5C3_5A3C)
    scratch = await dbg.read(REG_SCRATCH)
    c0 = await dbg.cycles()
    await p.sleep_ns(1000)
    c1 = await dbg.cycles()
    ok = scratch == 0xA5C3_5A3C and c1 > c0
    r.add("debug BAR", PASS if ok else FAIL, f"ID VNET version {version:#010x} scratch {scratch:#x} cycles +{c1 - c0}")
    return True


async def check_selftest(p: Platform, r: BringupReport, cfg: BringupConfig) -> None:
    n = cfg.selftest_len
    src = p.dma_alloc(n, 4096)
    dst = p.dma_alloc(n, 4096)
    pattern = bytes((i * 7 + 3) & 0xFF for i in range(n))
    await src.write(0, pattern)
    await dst.write(0, bytes(n))
    res = await DebugBar(p).selftest(src.bus_addr, dst.bus_addr, n, timeout_ns=max(cfg.timeout_ns, 1e6))
    got = await dst.read(0, n)
    ok = res.ok and got == pattern
    r.add(
        "DMA self-test",
        PASS if ok else FAIL,
        f"{n} bytes host->device->host: {res.describe()}",
        "" if got == pattern else "destination differs from the source",
    )


async def check_debug_counters(p: Platform, r: BringupReport) -> None:
    counters = await DebugBar(p).counters()
    moved = counters["rq_rd"] > 0 and counters["cq_req"] > 0
    r.add(
        "debug counters",
        PASS if moved else FAIL,
        " ".join(f"{k}={v}" for k, v in counters.items() if k in DBG_COUNTERS),
    )


def first_difference(sent: list[bytes], got: list[bytes]) -> str:
    """Where ``got`` first differs from ``sent`` (in order, byte for byte), "" when they are equal."""
    for k, (a, b) in enumerate(zip(sent, got, strict=False)):
        if a != b:
            at = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
            return f"frame {k}: {len(b)} bytes, sent {len(a)}; first difference at byte {at}"
    if len(got) < len(sent):
        return f"{len(sent) - len(got)} of {len(sent)} frames did not come back (the first missing is frame {len(got)})"
    if len(got) > len(sent):
        return f"{len(got) - len(sent)} frames more than were sent came back"
    return ""


async def _rx_counters(p: Platform) -> dict[str, int]:
    return await DevCtrl(p).rx_counters()


async def check_loopback(
    p: Platform, start_task: StartTask, cfg: BringupConfig, r: BringupReport, ours: bool, sent: list[bytes]
) -> None:
    """N frames of LOOPBACK_ETHERTYPE through a fresh probe of the driver, received back by the same driver's
    receive path byte-exact and in order: on our RTL through its loopback mode (MODE bit 20, set for the run
    and cleared after it, read back both times; the frames never reach the wire), else through a peer on the
    wire that echoes them (the frames join ``sent``, the wire's expectation)."""
    name = f"loopback {cfg.loopback_frames} frames"
    if ours:
        how = "our RTL's loopback mode"
    elif cfg.loopback_peer:
        how = "the echoing peer"
    else:
        r.add(
            name,
            NA,
            "neither our RTL's loopback mode (no 'VNET' debug BAR) nor an echoing peer on the wire "
            "(--loopback-peer when one sends EtherType 0x88b6 frames back)",
        )
        return
    n = cfg.loopback_frames
    scn = XmitScenario(
        packets=n,
        variant=cfg.variant,
        use_msix=True,
        timeout_ns=cfg.timeout_ns,
        seed=30,
        ethertype=LOOPBACK_ETHERTYPE,
        transport=cfg.transport,
    )
    waited: dict[str, Any] = {}

    async def wait_received(run: XmitRun) -> None:
        """Until every frame came back (or one more than sent, or the timeout): the platform's time."""
        net = run.net
        t0 = p.now_ns()
        deadline = t0 + cfg.timeout_ns
        while len(net.rx_frames) < len(run.sent) and p.now_ns() < deadline:
            await p.sleep_ns(1000)
        waited.update(ns=p.now_ns() - t0, timed_out=len(net.rx_frames) < len(run.sent))

    mode0: int | None = None
    rx0: dict[str, int] = {}
    mode_notes: list[str] = []
    got: tuple[XmitResult, dict[str, Any]] | None = None
    try:
        if ours:
            mode0 = await p.bar_read(DEBUG_BAR, REG_MODE, 4)
            await p.bar_write(DEBUG_BAR, REG_MODE, mode0 | 1 << MODE_LOOPBACK_BIT, 4)
            if not await p.bar_read(DEBUG_BAR, REG_MODE, 4) >> MODE_LOOPBACK_BIT & 1:
                mode_notes.append("MODE bit 20 (loopback) reads back clear after it was set")
            rx0 = await _rx_counters(p)
        got = await _guard(r, name, xmit_run(p, start_task, cfg, "loopback", scn, r, after_used=wait_received))
    finally:
        if mode0 is not None:
            await p.bar_write(DEBUG_BAR, REG_MODE, mode0 & ~(1 << MODE_LOOPBACK_BIT), 4)
            if await p.bar_read(DEBUG_BAR, REG_MODE, 4) >> MODE_LOOPBACK_BIT & 1:
                mode_notes.append("MODE bit 20 (loopback) still reads set after it was cleared")
    if got is None:
        return
    res, info = got
    net = res.driver
    received = list(net.rx_frames)
    diff = first_difference(res.sent, received)
    stats = net.rx_stats
    info.update(
        wire=not ours,  # our RTL's loopback mode: the frames never leave the device
        loopback_via=how,
        received=len(received),
        received_frames=[f.hex() for f in received],
        rx_first_difference=diff,
        rx_wait_ns=waited.get("ns"),
        rx_stats={
            "rx_packets": stats.rx_packets,
            "rx_bytes": stats.rx_bytes,
            "rx_length_errors": stats.rx_length_errors,
            "rx_frame_errors": stats.rx_frame_errors,
            "rx_irqs": stats.rx_irqs,
        },
    )
    problems = [diff] if diff else []
    value = f"{len(received)}/{res.packets} frames back via {how}, " + (
        "byte-exact and in order" if not diff else "not byte-exact"
    )
    value += (
        f" (sent in {_duration(res.elapsed_ns)}; waited {_duration(waited.get('ns', 0.0))} after the last was used)"
    )
    if stats.rx_length_errors or stats.rx_frame_errors:
        problems.append(f"driver rx_length_errors {stats.rx_length_errors}, rx_frame_errors {stats.rx_frame_errors}")
    if ours:
        rx1 = await _rx_counters(p)
        delta = {k: (rx1[k] - rx0[k]) & 0xFFFF_FFFF for k in RX_COUNTERS}
        drops = {k: v for k, v in delta.items() if k.startswith("rx_drop_") and v}
        info["rx_counters"] = delta
        value += f"; device rx_frames +{delta['rx_frames']}, rx_bytes +{delta['rx_bytes']}, " + (
            "no drops" if not drops else ", ".join(f"{k} +{v}" for k, v in drops.items())
        )
        if delta["rx_frames"] != res.packets or drops or delta["rx_errors"]:
            problems.append(
                f"the device counted {delta['rx_frames']} RX frames of {res.packets}"
                + (f", drops {drops}" if drops else "")
                + (f", {delta['rx_errors']} RX errors" if delta["rx_errors"] else "")
            )
        problems += mode_notes
    r.runs.append(info)
    if not ours:
        sent += res.sent
    ok = not problems and len(received) == res.packets == n
    r.add(name, PASS if ok else FAIL, value, "; ".join(problems))


async def _interrupt_checks(
    p: Platform, start_task: StartTask, cfg: BringupConfig, r: BringupReport, sent: list[bytes]
) -> None:
    """TX through the ring (Linux's interrupt order), then MSI-X and INTx delivery."""
    scn = XmitScenario(
        packets=cfg.packets,
        variant=cfg.variant,
        use_msix=True,
        timeout_ns=cfg.timeout_ns,
        seed=11,
        transport=cfg.transport,
    )
    name = f"TX {cfg.packets} frames"
    got = await _guard(r, name, xmit_run(p, start_task, cfg, "tx", scn, r))
    res: XmitResult | None = None
    tx_info: dict[str, Any] | None = None
    if got is not None:
        res, tx_info = got
        r.runs.append(tx_info)
        sent += res.sent
        u0, u1 = tx_info["used_idx"]
        used = (u1 - u0) & 0xFFFF
        ok = res.packets == cfg.packets and res.tx_dropped == 0 and used == cfg.packets
        r.add(
            name,
            PASS if ok else FAIL,
            f"used.idx {u0} -> {u1} (read from the ring), kicks {res.kicks}, busy {res.tx_busy}, "
            f"{_duration(res.elapsed_ns)}; {mode_text(tx_info)}",
            ""
            if ok
            else f"the device used {used} of {res.packets} frames the driver queued ({res.tx_dropped} dropped)",
        )
    if tx_info is None or res is None:
        r.add("interrupt MSI-X", NA, "not judged: the TX run failed (above)")
    elif tx_info["msix"]:
        ok = _tx_irqs(tx_info) >= 1 and res.skb_xmit_done >= 1
        r.add(
            "interrupt MSI-X",
            PASS if ok else FAIL,
            f"{vector_text(tx_info)}: {_counts(tx_info)}, skb_xmit_done {res.skb_xmit_done}",
            "" if ok else "no TX interrupt reached the driver",
        )
    else:
        r.add(
            "interrupt MSI-X",
            NA,
            mode_text(tx_info).split("; ", 1)[-1] if tx_info["irq_fallbacks"] else "INTx was asked for",
        )

    intx_info = tx_info if tx_info is not None and tx_info["irq_mode"] == "intx" else None
    intx_res = res if intx_info is not None else None
    if intx_info is None:
        scn = XmitScenario(
            packets=cfg.intx_packets,
            variant=cfg.variant,
            use_msix=False,
            timeout_ns=cfg.timeout_ns,
            seed=12,
            transport=cfg.transport,
        )
        got = await _guard(r, "interrupt INTx", xmit_run(p, start_task, cfg, "intx", scn, r))
        if got is not None:
            intx_res, intx_info = got
            r.runs.append(intx_info)
            sent += intx_res.sent
    if intx_info is not None and intx_res is not None:
        ok = _tx_irqs(intx_info) >= 1 and intx_res.skb_xmit_done >= 1
        r.add(
            "interrupt INTx",
            PASS if ok else FAIL,
            f"{_counts(intx_info)} (ISR reads {intx_info['isr_reads']}, {intx_info['intx_none']} not ours), "
            f"skb_xmit_done {intx_res.skb_xmit_done}, {intx_res.packets} frames",
            "" if ok else "no interrupt reached the driver",
        )


async def _ab_checks(
    p: Platform, start_task: StartTask, cfg: BringupConfig, r: BringupReport, sent: list[bytes]
) -> None:
    """The same traffic through the pre- and the post-patch driver, re-probed: TX interrupts per packet."""
    ab: dict[str, tuple[XmitResult, dict[str, Any]]] = {}
    for variant in ("pre", "post"):
        scn = XmitScenario(
            packets=cfg.ab_packets,
            variant=variant,
            use_msix=True,
            gap_ns=cfg.gap_ns,
            timeout_ns=cfg.timeout_ns + cfg.ab_packets * cfg.gap_ns,
            seed=20,
        )
        got = await _guard(r, f"A/B {variant}", xmit_run(p, start_task, cfg, f"ab-{variant}", scn, r))
        if got is not None:
            ab[variant] = got
            r.runs.append(got[1])
            sent += got[0].sent
    if len(ab) != 2:
        return
    (pre, pre_i), (post, post_i) = ab["pre"], ab["post"]
    pre_noe = bool(pre.driver.vdev.features >> VIRTIO_F_NOTIFY_ON_EMPTY & 1)
    post_noe = bool(post.driver.vdev.features >> VIRTIO_F_NOTIFY_ON_EMPTY & 1)
    offered = bool(r.host_features >> VIRTIO_F_NOTIFY_ON_EMPTY & 1)
    ack_ok = pre_noe == offered and not post_noe
    r.add(
        "A/B NOTIFY_ON_EMPTY ack",
        PASS if ack_ok else FAIL,
        f"pre {'acked' if pre_noe else 'not acked'}, post {'acked' if post_noe else 'not acked'}",
    )
    counted = "raised" if pre_i["tx_raised"] is not None else "handled"
    pre_n, post_n = _tx_irqs(pre_i), _tx_irqs(post_i)
    pre_pp = pre_n / max(pre.packets, 1)
    post_after_first = max(post_n - 1, 0) / max(post.packets, 1)

    def side(info: dict[str, Any], res: XmitResult) -> str:
        more = [f"handled {info['tx_handled']}"] if info["tx_raised"] is not None else []
        more += [f"kernel {info['tx_kernel']}"] if info["tx_kernel"] is not None else []
        return (
            f"{_tx_irqs(info) / max(res.packets, 1):.3f} ({_tx_irqs(info)}/{res.packets}"
            + (f"; {', '.join(more)}" if more else "")
            + ")"
        )

    pacing = f"{_duration(cfg.gap_ns)} apart" if cfg.gap_ns else "unpaced"
    value = (
        f"{counted}/pkt pre {side(pre_i, pre)}, post {side(post_i, post)}, "
        f"{post_after_first:.3f} after the first; {pacing}, {mode_text(post_i).split(' (')[0]}"
    )
    if offered and cfg.gap_ns:
        ok = pre_pp > 0.8 and post_after_first < 0.1
        r.add(
            "A/B TX irq per packet",
            PASS if ok else FAIL,
            value,
            ""
            if ok
            else "expected pre > 0.8 (paced: the device empties the ring after each frame), post < 0.1 after the first",
        )
    elif offered:
        # unpaced, the device may find frames waiting and skip NOTIFY_ON_EMPTY: pre need only show them
        ok = pre_pp > post_after_first and post_after_first < 0.1
        r.add(
            "A/B TX irq per packet",
            PASS if ok else FAIL,
            value,
            ""
            if ok
            else "expected post < 0.1 after the first and pre above post (NOTIFY_ON_EMPTY "
            "interrupts); unpaced, pre need not reach one per packet",
        )
    else:
        r.add("A/B TX irq per packet", NA, value, "NOTIFY_ON_EMPTY not offered: no limits")


async def run_checks(p: Platform, start_task: StartTask, cfg: BringupConfig | None = None) -> BringupReport:
    """The bring-up sequence. Never raises for a device fault: every failure becomes a FAIL row."""
    cfg = cfg or BringupConfig()
    r = BringupReport(progress=cfg.progress)
    regs = _Regs(p)
    modern = cfg.transport == "modern"
    if not await _guard(r, "PCI identity", check_identity(p, r, modern)):
        return r  # not a virtio-net function of the interface asked for: nothing of it may be driven
    if modern:
        return await run_checks_modern(p, start_task, cfg, r)
    await _guard(r, "BARs", check_bars(p, r))
    if not p.bar_size(0):
        return r  # no legacy register block: nothing further can run
    await _guard(r, "Bus Master", check_bus_master(p, r))
    await _guard(r, "interrupt capabilities", check_interrupt_caps(p, r))
    ours = await _guard(r, "debug BAR", check_debug_bar(p, r))
    if ours:
        await _guard(r, "DMA self-test", check_selftest(p, r, cfg))
    feats = await _guard(r, "features offered", check_features(p, r, regs)) or 0
    await _guard(r, "status handshake", check_handshake(p, r, regs))
    await _guard(r, "queue sizes", check_queues(p, r, regs))
    await _guard(r, "MAC", check_mac(p, r, regs, feats))
    await _guard(r, "link", check_link(p, r, regs, feats))
    sent: list[bytes] = []
    await _interrupt_checks(p, start_task, cfg, r, sent)
    await _ab_checks(p, start_task, cfg, r, sent)
    await _guard(r, f"loopback {cfg.loopback_frames} frames", check_loopback(p, start_task, cfg, r, bool(ours), sent))
    check_kernel_counts(r, cfg)
    await check_wire(r, cfg, sent, p, cfg.timeout_ns)
    if ours:
        await _guard(r, "debug counters", check_debug_counters(p, r))
    return r


async def run_checks_modern(p: Platform, start_task: StartTask, cfg: BringupConfig, r: BringupReport) -> BringupReport:
    """The same table over the modern interface: the capabilities instead of BAR0, the register rows through
    the common and device configuration, the driver runs with ``cfg.variant`` on the modern transport; the
    A/B rows are N/A (the pre/post drivers of 2009 have only the legacy transport)."""
    regs = _ModernRegs(p)
    await _guard(r, "BARs", check_bars_modern(p, r))
    if not await _guard(r, "virtio capabilities", check_capabilities(p, r, regs)):
        return r  # no usable modern structures: nothing further can run
    await _guard(r, "Bus Master", check_bus_master(p, r))
    await _guard(r, "interrupt capabilities", check_interrupt_caps(p, r))
    # our RTL (BAR2 "VNET") on the modern interface too: the self-test, the loopback row, the counters
    ours = await _guard(r, "debug BAR", check_debug_bar(p, r))
    if ours:
        await _guard(r, "DMA self-test", check_selftest(p, r, cfg))
    feats = await _guard(r, "features offered", check_features_modern(p, r, regs)) or 0
    await _guard(r, "status handshake", check_handshake_modern(p, r, regs))
    await _guard(r, "queue sizes", check_queues_modern(p, r, regs))
    await _guard(r, "MAC", check_mac_link_modern(p, r, regs, feats))
    sent: list[bytes] = []
    await _interrupt_checks(p, start_task, cfg, r, sent)
    r.add("A/B pre/post", NA, "the 2009 drivers (pre, post) have only the legacy transport")
    await _guard(r, f"loopback {cfg.loopback_frames} frames", check_loopback(p, start_task, cfg, r, bool(ours), sent))
    check_kernel_counts(r, cfg)
    await check_wire(r, cfg, sent, p, cfg.timeout_ns)
    if ours:
        await _guard(r, "debug counters", check_debug_counters(p, r))
    return r


async def check_bars_modern(p: Platform, r: BringupReport) -> None:
    parts = []
    for bar in range(6):
        size = p.bar_size(bar)
        if size:
            io = getattr(p, "bar_is_io", lambda b: False)(bar)
            parts.append(f"BAR{bar} {'io' if io else 'mem'} {size:#x}")
    r.add("BARs", PASS if parts else FAIL, ", ".join(parts) or "none", "" if parts else "no BAR implemented")


def linux_config(
    packets: int, ab_packets: int, gap_us: float, run_timeout_s: float, progress: Callable[[str], None] | None = None
) -> BringupConfig:
    """The configuration for a real function: wall-clock time (the guest's CPU cost is real, so no simulated
    guest time is charged), driver event logs kept."""
    return BringupConfig(
        packets=packets,
        intx_packets=max(packets // 4, 4),
        ab_packets=ab_packets,
        gap_ns=gap_us * 1e3,
        timeout_ns=run_timeout_s * 1e9,
        timing=GuestTiming(xmit_ns=0, reclaim_ns=0, irq_ns=0),
        irq_grace_ns=500e6,
        wire_note="the host compares the frames (hil.orchestrator's UDP peer)",
        trace=True,
        progress=progress,
    )


def report_from_json(data: dict[str, Any]) -> BringupReport:
    r = BringupReport(runs=data.get("runs", []), host_features=data.get("host_features", 0))
    r.checks = [Check(**c) for c in data.get("checks", [])]
    return r
