"""Bring-up checks for a virtio-net function: the same sequence on every platform.

    python -m tb.bringup [--target sim|pci:0000:00:04.0] [--backend vfio|uio] [--json FILE]

``run_checks(platform, start_task, cfg)`` is the sequence (platform-independent, standard library only): PCI
identity, BARs, Bus Master, offered features, the status handshake, queue sizes, MAC and link, TX of N
frames through the driver with used.idx advancing, interrupt delivery (MSI-X and INTx), the
interrupt-suppression A/B (pre- vs post-b0c39dbd driver, TX interrupts per packet), and on our own RTL
(debug BAR ID "VNET" in BAR2) the debug registers, counters and the DMA self-test.

``--target sim`` runs it inside a cocotb simulation of our RTL (tests/sim/bringup_sim.py on Verilator);
``--target pci:BDF`` against a real function through vfio-pci or uio_pci_generic (tb.platform.linux).
The exit code is 0 only when no check failed. A check that does not apply says so (N/A) with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tb.debug_bar import COUNTERS as DBG_COUNTERS
from tb.debug_bar import DBG_ID_VALUE, DEBUG_BAR, REG_ID, REG_SCRATCH, REG_VERSION, DebugBar
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
from tb.platform.base import Platform, PlatformError
from tb.scenarios.xmit import StartTask, XmitResult, XmitRun, XmitScenario

PASS, FAIL, NA = "PASS", "FAIL", "N/A"

VIRTIO_VENDOR = 0x1AF4
VIRTIO_NET_LEGACY_DEVICE = 0x1000
VIRTIO_ID_NET = 1

# feature bit names (virtio 1.x spec §5.1.3 and §6; legacy-only bits included)
FEATURE_NAMES = {
    0: "CSUM", 1: "GUEST_CSUM", 2: "CTRL_GUEST_OFFLOADS", 3: "MTU", 5: "MAC", 6: "GSO", 7: "GUEST_TSO4",
    8: "GUEST_TSO6", 9: "GUEST_ECN", 10: "GUEST_UFO", 11: "HOST_TSO4", 12: "HOST_TSO6", 13: "HOST_ECN",
    14: "HOST_UFO", 15: "MRG_RXBUF", 16: "STATUS", 17: "CTRL_VQ", 18: "CTRL_RX", 19: "CTRL_VLAN",
    20: "CTRL_RX_EXTRA", 21: "GUEST_ANNOUNCE", 22: "MQ", 23: "CTRL_MAC_ADDR", 24: "NOTIFY_ON_EMPTY",
    27: "ANY_LAYOUT", 28: "RING_INDIRECT_DESC", 29: "RING_EVENT_IDX", 30: "BAD_FEATURE",
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
    packets: int = 32                  # frames of the TX check
    intx_packets: int = 8              # frames of the INTx check (when MSI-X was the first choice)
    ab_packets: int = 32               # frames per A/B variant
    gap_ns: float = 2000.0             # sender think time in the A/B runs, so the device keeps up
    timeout_ns: float = 1e9            # per run, platform time
    timing: GuestTiming | None = None  # None: the driver's defaults
    selftest_len: int = 1024
    irq_grace_ns: float = 20_000.0     # after the last used entry, wait this long for a first TX interrupt
    # frames the wire carried so far (simulation), for the byte-exact check; None: checked elsewhere
    wire: Callable[[], list[bytes]] | None = None
    wire_note: str = "no wire tap on this platform"


@dataclass
class BringupReport:
    checks: list[Check] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)   # in execution order, with their frames
    host_features: int = 0

    def add(self, name: str, status: str, value: str = "", detail: str = "") -> Check:
        c = Check(name, status, value, detail)
        self.checks.append(c)
        return c

    def to_json(self) -> dict[str, Any]:
        return {"checks": [asdict(c) for c in self.checks], "runs": self.runs,
                "host_features": self.host_features, "exit_code": exit_code(self.checks)}


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


async def check_identity(p: Platform, r: BringupReport) -> bool:
    vendor = await p.config_read(0x00, 2)
    device = await p.config_read(0x02, 2)
    rev = await p.config_read(0x08, 1)
    cls = await p.config_read(0x08, 4) >> 8
    svid = await p.config_read(0x2C, 2)
    sid = await p.config_read(0x2E, 2)
    ok = vendor == VIRTIO_VENDOR and device == VIRTIO_NET_LEGACY_DEVICE and sid == VIRTIO_ID_NET \
        and cls >> 8 == 0x0200 and rev == 0
    r.add("PCI identity", PASS if ok else FAIL,
          f"{vendor:04x}:{device:04x} rev {rev} subsys {svid:04x}:{sid:04x} class {cls:06x}",
          "" if ok else "expected 1af4:1000 rev 0 subsystem id 1 class 0200xx (legacy virtio-net)")
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
    r.add("BARs", PASS if ok else FAIL, ", ".join(parts) or "none",
          "" if ok else "BAR0 must hold the 0x14-byte legacy block + device config")


async def check_bus_master(p: Platform, r: BringupReport) -> None:
    before = await p.config_read(0x04, 2)
    setter = getattr(p, "pci_set_master", None)
    if setter is not None:
        await setter()
    else:
        await p.bus_master(True)
    after = await p.config_read(0x04, 2)
    r.add("Bus Master", PASS if after & 0x4 else FAIL, f"COMMAND {before:#06x} -> {after:#06x}")


async def check_features(p: Platform, r: BringupReport, regs: _Regs) -> int:
    await regs.reset()
    feats = await regs.rd(VIRTIO_PCI_HOST_FEATURES, 4)
    r.host_features = feats
    r.add("features offered", PASS if feats & (1 << F_MAC) else FAIL, f"{feats:#010x}: {feature_names(feats)}",
          "" if feats & (1 << F_MAC) else "no MAC feature")
    noe = bool(feats >> VIRTIO_F_NOTIFY_ON_EMPTY & 1)
    r.add("NOTIFY_ON_EMPTY offered", PASS if noe else NA, "yes (bit 24)" if noe else "no",
          "" if noe else "the pre-patch driver then reclaims on its timer; the A/B limits do not apply")
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
    expect = [0, VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER,
              VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK, 0]
    ok = seen == expect and guest == want
    r.add("status handshake", PASS if ok else FAIL,
          "status " + " -> ".join(f"{s:#x}" for s in seen) + f"; guest features {guest:#x} (wrote {want:#x})",
          "" if ok else "expected 0 -> 0x1 -> 0x3 -> 0x7 -> 0 and the guest features read back")


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
    r.add("queue sizes", PASS if ok else FAIL, ", ".join(f"q{i}={n}" for i, n in enumerate(sizes)),
          "" if ok else "rx and tx queues must exist with power-of-two sizes")


async def check_mac_link(p: Platform, r: BringupReport, regs: _Regs, feats: int) -> None:
    await regs.reset()  # MSI-X off: the device config is at 0x14
    mac = bytes([await regs.rd(VIRTIO_PCI_CONFIG_OFF_NO_MSIX + i, 1) for i in range(6)])
    link = await regs.rd(VIRTIO_PCI_CONFIG_OFF_NO_MSIX + 6, 2)
    mac_ok = any(mac) and not mac[0] & 1
    link_ok = not feats & (1 << F_STATUS) or bool(link & 1)
    r.add("MAC / link", PASS if mac_ok and link_ok else FAIL,
          f"{mac.hex(':')} link {'up' if link & 1 else 'down'} (status {link:#x}"
          + ("" if feats & (1 << F_STATUS) else ", STATUS not offered") + ")")


def _duration(ns: float) -> str:
    return f"{ns / 1e6:.1f} ms" if ns >= 1e6 else f"{ns / 1e3:.1f} us"


async def _used_idx(run: XmitRun) -> int:
    svq = run.net.svq
    assert svq is not None
    return await svq.mem.read_int(svq.layout.used_idx, 2)


async def xmit_run(p: Platform, start_task: StartTask, cfg: BringupConfig, name: str,
                   scn: XmitScenario) -> tuple[XmitResult, dict[str, Any]]:
    """Probe the driver, send, wait until the device used every frame (used.idx), remove the driver."""
    async def wait_used(run: XmitRun, used_before: int, n: int) -> None:
        deadline = p.now_ns() + scn.timeout_ns
        while (await _used_idx(run) - used_before) & 0xFFFF < n:
            if p.now_ns() > deadline:
                raise PlatformError(f"used.idx {await _used_idx(run)} after {scn.timeout_ns / 1e6:.0f} ms, "
                                    f"expected {used_before + n}")
            await p.sleep_ns(1000)
        # the device raises its interrupt after it wrote used.idx: give a callback still enabled (no
        # skb_xmit_done yet) time to see it before remove() resets the device
        grace = p.now_ns() + cfg.irq_grace_ns
        while run.net.stats.tx_irqs == 0 and p.now_ns() < grace:
            await p.sleep_ns(1000)

    run = XmitRun(p, scn, start_task, cfg.timing)
    try:
        await run.probe()
        used_before = await _used_idx(run)
        res = await run.traffic(lambda n: wait_used(run, used_before, n))
    finally:
        await run.net.remove()

    irq = res.driver.vdev.irq
    info = {"name": name, **res.summary(), "features": res.driver.vdev.features,
            "isr_reads": irq.isr_reads, "intx_none": irq.intx_none, "msix_by_vector": dict(irq.msix),
            "used_idx": (used_before, used_before + res.packets),
            "msix": res.driver.vdev.msix_enabled or scn.use_msix,
            "frames": [f.hex() for f in res.sent]}
    errors = getattr(p, "handler_errors", [])
    if errors:
        raise PlatformError(f"interrupt handler failed: {errors[0]}")
    return res, info


async def check_wire(r: BringupReport, cfg: BringupConfig, sent: list[bytes], p: Platform,
                     timeout_ns: float) -> None:
    if cfg.wire is None:
        r.add("wire byte-exact", NA, cfg.wire_note)
        return
    deadline = p.now_ns() + timeout_ns
    while len(cfg.wire()) < len(sent) and p.now_ns() < deadline:
        await p.sleep_ns(1000)
    got = cfg.wire()
    bad = next((i for i, (a, b) in enumerate(zip(sent, got)) if a != b), None)
    ok = len(got) == len(sent) and bad is None
    r.add("wire byte-exact", PASS if ok else FAIL, f"{len(got)}/{len(sent)} frames on the wire",
          "" if ok else (f"frame {bad} differs" if bad is not None else "count differs"))


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
    r.add("debug BAR", PASS if ok else FAIL,
          f"ID VNET version {version:#010x} scratch {scratch:#x} cycles +{c1 - c0}")
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
    r.add("DMA self-test", PASS if ok else FAIL, f"{n} bytes host->device->host: {res.describe()}",
          "" if got == pattern else "destination differs from the source")


async def check_debug_counters(p: Platform, r: BringupReport) -> None:
    counters = await DebugBar(p).counters()
    moved = counters["rq_rd"] > 0 and counters["cq_req"] > 0
    r.add("debug counters", PASS if moved else FAIL, " ".join(f"{k}={v}" for k, v in counters.items()
                                                             if k in DBG_COUNTERS))


async def run_checks(p: Platform, start_task: StartTask, cfg: BringupConfig | None = None) -> BringupReport:
    """The bring-up sequence. Never raises for a device fault: every failure becomes a FAIL row."""
    cfg = cfg or BringupConfig()
    r = BringupReport()
    regs = _Regs(p)
    await _guard(r, "PCI identity", check_identity(p, r))
    await _guard(r, "BARs", check_bars(p, r))
    if not p.bar_size(0):
        return r  # no legacy register block: nothing further can run
    await _guard(r, "Bus Master", check_bus_master(p, r))
    ours = await _guard(r, "debug BAR", check_debug_bar(p, r))
    if ours:
        await _guard(r, "DMA self-test", check_selftest(p, r, cfg))
    feats = await _guard(r, "features offered", check_features(p, r, regs)) or 0
    await _guard(r, "status handshake", check_handshake(p, r, regs))
    await _guard(r, "queue sizes", check_queues(p, r, regs))
    await _guard(r, "MAC / link", check_mac_link(p, r, regs, feats))

    msix_ok = bool(getattr(p, "msix_supported", True))
    sent: list[bytes] = []

    # TX through the ring with the post-patch driver; MSI-X when the platform has it
    scn = XmitScenario(packets=cfg.packets, variant="post", use_msix=msix_ok, timeout_ns=cfg.timeout_ns, seed=11)
    got = await _guard(r, f"TX {cfg.packets} frames", xmit_run(p, start_task, cfg, "tx", scn))
    if got is not None:
        res, info = got
        r.runs.append(info)
        sent += res.sent
        u0, u1 = info["used_idx"]
        ok = res.packets == cfg.packets and res.tx_dropped == 0
        r.add(f"TX {cfg.packets} frames", PASS if ok else FAIL,
              f"used.idx {u0} -> {u1}, kicks {res.kicks}, busy {res.tx_busy}, "
              f"{_duration(res.elapsed_ns)} ({'MSI-X' if msix_ok else 'INTx'})")
        if msix_ok:
            r.add("interrupt MSI-X", PASS if res.tx_irqs_delivered >= 1 and res.skb_xmit_done >= 1 else FAIL,
                  f"TX vector {res.tx_irqs_delivered} irq(s), skb_xmit_done {res.skb_xmit_done}")
    if not msix_ok:
        r.add("interrupt MSI-X", NA, getattr(p, "msix_unsupported_reason", "") or "platform has no MSI-X")
    if msix_ok or got is None:
        scn = XmitScenario(packets=cfg.intx_packets, variant="post", use_msix=False, timeout_ns=cfg.timeout_ns,
                           seed=12)
        got = await _guard(r, "interrupt INTx", xmit_run(p, start_task, cfg, "intx", scn))
        if got is not None:
            res, info = got
            r.runs.append(info)
            sent += res.sent
    if got is not None:
        res = got[0]
        r.add("interrupt INTx", PASS if res.tx_irqs_delivered >= 1 and res.skb_xmit_done >= 1 else FAIL,
              f"ISR-handled {res.tx_irqs_delivered} irq(s), skb_xmit_done {res.skb_xmit_done}, "
              f"{res.packets} frames")

    # interrupt suppression A/B: the same traffic through the pre- and the post-patch driver, re-probed
    ab: dict[str, XmitResult] = {}
    for variant in ("pre", "post"):
        scn = XmitScenario(packets=cfg.ab_packets, variant=variant, use_msix=msix_ok, gap_ns=cfg.gap_ns,
                           timeout_ns=cfg.timeout_ns + cfg.ab_packets * cfg.gap_ns, seed=20)
        got = await _guard(r, f"A/B {variant}", xmit_run(p, start_task, cfg, f"ab-{variant}", scn))
        if got is not None:
            ab[variant], info = got
            r.runs.append(info)
            sent += ab[variant].sent
    if len(ab) == 2:
        pre, post = ab["pre"], ab["post"]
        pre_noe = bool(pre.driver.vdev.features >> VIRTIO_F_NOTIFY_ON_EMPTY & 1)
        post_noe = bool(post.driver.vdev.features >> VIRTIO_F_NOTIFY_ON_EMPTY & 1)
        offered = bool(r.host_features >> VIRTIO_F_NOTIFY_ON_EMPTY & 1)
        ack_ok = pre_noe == offered and not post_noe
        r.add("A/B NOTIFY_ON_EMPTY ack", PASS if ack_ok else FAIL,
              f"pre {'acked' if pre_noe else 'not acked'}, post {'acked' if post_noe else 'not acked'}")
        post_after_first = max(post.tx_irqs_delivered - 1, 0) / max(post.packets, 1)
        value = (f"pre {pre.irq_per_pkt:.3f} ({pre.tx_irqs_delivered}/{pre.packets}), "
                 f"post {post.irq_per_pkt:.3f} ({post.tx_irqs_delivered}/{post.packets}; "
                 f"{post_after_first:.3f} after the first)")
        if offered:
            ok = pre.irq_per_pkt > 0.8 and post_after_first < 0.1
            r.add("A/B TX irq per packet", PASS if ok else FAIL, value,
                  "" if ok else "expected pre > 0.8 (device keeps up), post < 0.1 after the first")
        else:
            r.add("A/B TX irq per packet", NA, value, "NOTIFY_ON_EMPTY not offered: no limits")
    await check_wire(r, cfg, sent, p, cfg.timeout_ns)
    if ours:
        await _guard(r, "debug counters", check_debug_counters(p, r))
    return r


# -- targets -----------------------------------------------------------------------------------------------
def linux_config(args: argparse.Namespace) -> BringupConfig:
    # wall-clock time: the guest's CPU cost is real, so no simulated guest time is charged
    return BringupConfig(packets=args.packets, intx_packets=max(args.packets // 4, 4), ab_packets=args.ab_packets,
                         gap_ns=args.gap_us * 1e3, timeout_ns=args.run_timeout * 1e9,
                         timing=GuestTiming(xmit_ns=0, reclaim_ns=0, irq_ns=0), irq_grace_ns=500e6,
                         wire_note="the host compares the frames (sim.hil's UDP peer)")


async def _pci_main(args: argparse.Namespace, bdf: str) -> BringupReport:
    from tb.platform.linux import SAFE_TO_UNBIND, open_platform

    t0 = time.monotonic()
    p = open_platform(bdf, args.backend, hugepages=args.hugepages,
                      allow_unbind=None if args.force_unbind else SAFE_TO_UNBIND)
    t1 = time.monotonic()
    try:
        print(f"bring-up on {p.describe()} (opened in {t1 - t0:.2f} s)", file=sys.stderr)
        return await asyncio.wait_for(run_checks(p, p.start_task, linux_config(args)), args.timeout)
    finally:
        print(f"checks took {time.monotonic() - t1:.2f} s; platform interrupts {p.irq_counts}", file=sys.stderr)
        p.close()


def run_pci(args: argparse.Namespace, bdf: str) -> BringupReport:
    try:
        return asyncio.run(_pci_main(args, bdf))
    except PlatformError as exc:
        r = BringupReport()
        r.add("platform", FAIL, str(exc))
        return r
    except asyncio.TimeoutError:
        r = BringupReport()
        r.add("bring-up", FAIL, f"did not finish within {args.timeout} s")
        return r


def run_sim(args: argparse.Namespace) -> BringupReport:
    """Run the sequence in tests/sim/bringup_sim.py on Verilator; read the report it wrote."""
    from sim import runner  # simulation stack: only on this path

    out = runner.ROOT / "build" / "bringup" / "sim.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    env = {"BRINGUP_JSON": str(out), "BRINGUP_PACKETS": str(args.packets), "BRINGUP_AB_PACKETS": str(args.ab_packets)}
    error = ""
    try:
        runner.run("verilator", "virtio_net_usp", "tests.sim.bringup_sim", run_name="bringup", extra_env=env)
    except AssertionError as exc:
        error = str(exc)
    if not out.is_file():
        r = BringupReport()
        r.add("simulation", FAIL, error or f"no report at {out}")
        return r
    r = report_from_json(json.loads(out.read_text()))
    if error and exit_code(r.checks) == 0:
        r.add("simulation", FAIL, error)
    return r


def report_from_json(data: dict[str, Any]) -> BringupReport:
    r = BringupReport(runs=data.get("runs", []), host_features=data.get("host_features", 0))
    r.checks = [Check(**c) for c in data.get("checks", [])]
    return r


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.bringup", description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="sim", help="sim (our RTL on Verilator) or pci:DOMAIN:BUS:DEV.FN")
    ap.add_argument("--backend", default="vfio", choices=("vfio", "uio"), help="for pci targets")
    ap.add_argument("--json", type=Path, help="write the report (checks, runs, frames) here")
    ap.add_argument("--packets", type=int, default=32)
    ap.add_argument("--ab-packets", type=int, default=32)
    ap.add_argument("--gap-us", type=float, default=20_000.0,
                    help="pci: sender gap in the A/B runs so the device keeps up (default 20 ms)")
    ap.add_argument("--hugepages", type=int, default=24, help="pci: 2 MiB hugepages for DMA memory")
    ap.add_argument("--run-timeout", type=float, default=60.0, help="pci: seconds per driver run")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds for the whole sequence")
    ap.add_argument("--force-unbind", action="store_true",
                    help="pci: take the function from any driver (default: only from virtio-pci, uio, vfio)")
    args = ap.parse_args(argv)
    if args.target == "sim":
        report, title = run_sim(args), "bring-up: our RTL in simulation (Verilator)"
    elif args.target.startswith("pci:"):
        bdf = args.target[4:]
        report, title = run_pci(args, bdf), f"bring-up: {bdf} via {args.backend}"
    else:
        ap.error(f"unknown target {args.target!r}: sim or pci:BDF")
    print(format_table(report.checks, title))
    if args.json:
        data = report.to_json()
        data.update(target=args.target, backend=args.backend if args.target != "sim" else "sim")
        tmp = args.json.with_suffix(args.json.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, args.json)
    return exit_code(report.checks)


if __name__ == "__main__":
    sys.exit(main())
