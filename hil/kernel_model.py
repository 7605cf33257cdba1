"""The driver model's transmit variant on QEMU's device, with the traffic of the kernel run (hil/kernel_afpacket.py).

Runs inside the HIL guest on the asyncio platform of a real PCI function (tb.platform.vfio, as the bring-up
does): per run, the variant is probed (``virtio_net(platform, variant, ...)``), the transmit scenario
(tb.scenarios.xmit.XmitRun) sends N frames of one size, unpaced or with a fixed gap after every frame, the run
waits until the device used every frame (used.idx) and reclaim, then the driver is removed (device reset).
The TX interrupts are the platform's counts on the TX queue's MSI-X vector: ``raised`` from vfio's eventfd
and ``kernel``, the guest kernel's own /proc/interrupts row of that vfio vector (the same kind of count as
the kernel run's ``virtioN-output.0``).

``transport``: the model's virtio-pci transport. ``legacy`` (BAR0, tb/driver/virtio_pci.py): on a transitional
device EVENT_IDX is negotiated through it exactly as through the modern interface (VIRTIO_RING_F_EVENT_IDX is
bit 29 of both), and QEMU's suppression (virtio_should_notify with vring_need_event) is the same code for
both. ``modern`` (tb/driver/virtio_pci_modern.py, 6.1's virtio_pci_modern.c), the only one a modern-only
device has; ``modern_transport_missing()`` says why not in a tree without it.

Bus Master: vfio-pci hands the function over with it clear (the guest kernel's virtio_pci cleared it when it
let go). The 6.1 variant sets it in its probe, as virtio_pci_probe does (pci_set_master); without it QEMU's
device takes kicks and pops nothing (docs/hil-kernel-compare.md, "The modern transport and Bus Master"). A
device that never uses a frame says so with the function's PCI_COMMAND.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import time
from dataclasses import dataclass, field
from typing import Any

from tb.driver.trace import EventLog
from tb.driver.virtio_net import GuestTiming, virtio_net
from tb.driver.virtio_pci import PCI_COMMAND, PCI_COMMAND_MASTER
from tb.platform.base import IrqCount, PlatformError
from tb.scenarios.xmit import XmitRun, XmitScenario

TRANSPORTS = ("legacy", "modern")


def _takes_transport() -> bool:
    from tb.driver.virtio_net import VirtioNet

    return "transport" in inspect.signature(VirtioNet.__init__).parameters


def modern_transport_missing() -> str:
    """Empty when the model can drive the modern interface; else why not."""
    if importlib.util.find_spec("tb.driver.virtio_pci_modern") is None:
        return "needs the modern transport (tb/driver/virtio_pci_modern.py is not in this tree)"
    if not _takes_transport():
        return "needs the modern transport wired into virtio_net(..., transport=)"
    return ""


def digest(frames: list[bytes]) -> str:
    """As hil.kernel_afpacket.digest: sha256 over the frames, each prefixed by its 4-byte length."""
    h = hashlib.sha256()
    for f in frames:
        h.update(len(f).to_bytes(4, "big"))
        h.update(f)
    return h.hexdigest()


@dataclass
class ModelRun:
    variant: str
    transport: str
    packets: int
    size: int
    gap_us: float
    seed: int
    tx_packets: int = 0  # frames the driver accepted (start_xmit returned OK)
    used: int = 0  # used.idx after - before: frames the device used
    tx_raised: int | None = None  # the TX vector's eventfd signals
    tx_kernel: int | None = None  # the TX vector's /proc/interrupts row
    tx_handled: int = 0  # handler runs (skb_xmit_done)
    other_irqs: dict[str, Any] = field(default_factory=dict)
    irq_mode: str = ""
    tx_source: str = ""
    irq_line: str = ""
    features: int = 0
    event_idx: bool = False
    kicks: int = 0
    reclaim: dict[str, int] = field(default_factory=dict)
    stops: int = 0
    send_s: float = 0.0
    wall_s: float = 0.0
    digest: str = ""

    @property
    def irq_per_pkt(self) -> float | None:
        n = self.tx_kernel if self.tx_kernel is not None else self.tx_raised
        return None if n is None else n / max(self.tx_packets, 1)


def _delta(before: IrqCount | None, after: IrqCount) -> dict[str, Any]:
    b = before or IrqCount(raised=0, handled=0)
    return {
        "raised": None if after.raised is None else after.raised - (b.raised or 0),
        "handled": after.handled - b.handled,
        "kernel": None if after.kernel is None else after.kernel - (b.kernel or 0),
        "line": after.line,
    }


async def run_model(
    p,
    variant: str,
    packets: int,
    size: int,
    gap_us: float,
    seed: int = 1,
    transport: str = "legacy",
    timeout_s: float = 120.0,
    grace_s: float = 0.2,
) -> ModelRun:
    """One run of ``variant`` on the open platform ``p``: probe, N frames, wait for used.idx, remove."""
    kw: dict[str, Any] = {}
    if transport not in TRANSPORTS:
        raise ValueError(f"transport {transport!r}: one of {TRANSPORTS}")
    if transport == "modern" and modern_transport_missing():
        raise PlatformError(modern_transport_missing())
    if _takes_transport():
        kw["transport"] = transport  # explicit: left to itself a 6.1 driver picks modern on a transitional device
    scn = XmitScenario(
        packets=packets,
        variant=variant,
        use_msix=True,
        min_len=size,
        max_len=size,
        gap_ns=gap_us * 1e3,
        seed=seed,
        timeout_ns=timeout_s * 1e9,
    )
    tracer = EventLog(p, enabled=False)
    # the guest's CPU cost is real here: no simulated guest time is charged
    driver = virtio_net(
        p, variant, use_msix=True, timing=GuestTiming(xmit_ns=0, reclaim_ns=0, irq_ns=0), tracer=tracer, **kw
    )
    run = XmitRun(p, scn, p.start_task, driver=driver)
    out = ModelRun(variant, transport, packets, size, gap_us, seed)
    before = p.irq_counts()
    try:
        await run.probe()
        vdev = run.net.vdev
        svq = run.net.svq
        assert svq is not None
        tx_vector = next((i.msix_vector for i in vdev.vqs if i.vq is svq), None)
        out.irq_mode = vdev.irq_mode
        out.transport = getattr(vdev, "transport", "legacy")  # the transport the driver really probed with
        out.tx_source = f"msix{tx_vector}" if vdev.msix_enabled else "intx"
        used0 = await svq.mem.read_int(svq.layout.used_idx, 2)

        async def wait_used(n: int) -> None:
            out.send_s = time.monotonic() - t0
            deadline = p.now_ns() + timeout_s * 1e9
            while (used := (await svq.mem.read_int(svq.layout.used_idx, 2) - used0) & 0xFFFF) < n:
                if p.now_ns() > deadline:
                    cmd = await p.config_read(PCI_COMMAND, 2)
                    master = "on" if cmd & PCI_COMMAND_MASTER else "off: the function may issue no DMA"
                    raise PlatformError(
                        f"the device used {used} of {n} frames within {timeout_s:g} s (PCI_COMMAND {cmd:#06x}, "
                        f"Bus Master {master})"
                    )
                await p.sleep_ns(200_000)
            # and reclaimed: the last interrupt's NAPI poll ran (or the next start_xmit would have)
            grace = p.now_ns() + grace_s * 1e9
            while p.now_ns() < grace:
                await p.sleep_ns(1_000_000)

        t0 = time.monotonic()
        res = await run.traffic(wait_used)
        out.wall_s = time.monotonic() - t0
        out.used = (await svq.mem.read_int(svq.layout.used_idx, 2) - used0) & 0xFFFF
        out.tx_packets = res.packets
        out.features = vdev.features
        out.event_idx = bool(vdev.features >> 29 & 1)
        out.kicks = res.kicks + res.forced_kicks
        out.reclaim = dict(res.reclaim)
        out.stops = res.stops
        out.tx_handled = res.skb_xmit_done
        out.digest = digest(res.sent)
    finally:
        await run.net.remove()
    after = p.irq_counts()
    irq = {src: _delta(before.get(src), c) for src, c in after.items()}
    tx = irq.pop(out.tx_source, None)
    if tx is not None:
        out.tx_raised, out.tx_kernel, out.irq_line = tx["raised"], tx["kernel"], tx["line"]
    out.other_irqs = irq
    errors = getattr(p, "handler_errors", [])
    if errors:
        raise PlatformError(f"interrupt handler failed: {errors[0]}")
    return out
