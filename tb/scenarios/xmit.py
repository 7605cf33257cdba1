"""The transmit scenario: a sender pushes N frames through the stack and the driver, on any Platform.

The sender stands for a socket writer: it builds frames at guest pace (``gap_ns`` between frames), waits
when the qdisc is full (as a blocking send would) and never drops. The result has the measurement
vocabulary of DESIGN.md: irq_per_pkt, kick_per_pkt, where reclaims happened, TX_BUSY and drops, plus the
frames as the driver queued them, for the wire scoreboard.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from tb.driver.netstack import SkbPool
from tb.driver.trace import EventLog
from tb.driver.virtio_net import GuestTiming, VirtioNet, virtio_net
from tb.platform.base import Platform, PlatformError, PlatformTimeout

ETH_TYPE_LOCAL_EXPERIMENTAL = 0x88B5
BROADCAST = b"\xff" * 6

StartTask = Callable[[Coroutine[Any, Any, Any]], Any]


@dataclass
class XmitScenario:
    packets: int = 1000
    variant: str = "post"
    use_msix: bool = True
    min_len: int = 60
    max_len: int = 1514
    nr_frags: int = 0  # extra data descriptors per packet (2 + nr_frags in all)
    frags_cycle: bool = False  # packet n gets n % (nr_frags + 1) frags: every chain length from 2 to 2 + nr_frags
    gap_ns: float = 0.0  # sender think time between frames
    idle_tail_ns: float = 0.0  # after the last frame: stay idle this long before measuring (A5)
    seed: int = 1
    timeout_ns: float = 1e9  # the whole run must finish within this much platform time
    ethertype: int = ETH_TYPE_LOCAL_EXPERIMENTAL  # of every frame (the bring-up's loopback row uses 0x88B6)
    # skbs per list the stack hands the driver (xmit_more set on all but the last): 1 as a qdisc dequeues for
    # a driver without byte queue limits; more as pktgen's burst or a software-segmented GSO skb does
    xmit_more_burst: int = 1
    # the virtio-pci transport: None as the variant's kernel would choose (modern when the device has it and
    # the kernel has the virtio 1.x transport), "legacy" or "modern"
    transport: str | None = None


@dataclass
class XmitResult:
    scenario: XmitScenario
    sent: list[bytes]  # frames in the order the driver accepted them
    packets: int
    tx_irqs_delivered: int  # interrupts on the TX vector (MSI-X) or INTx handled
    skb_xmit_done: int
    kicks: int
    forced_kicks: int
    reclaim: dict[str, int]
    tx_busy: int
    tx_dropped: int
    stops: int
    wakes: int
    elapsed_ns: float
    driver: VirtioNet
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def irq_per_pkt(self) -> float:
        return self.tx_irqs_delivered / max(self.packets, 1)

    @property
    def kick_per_pkt(self) -> float:
        return (self.kicks + self.forced_kicks) / max(self.packets, 1)

    def summary(self) -> dict[str, Any]:
        return {
            "variant": self.scenario.variant,
            "transport": self.driver.vdev.transport,
            "packets": self.packets,
            "irq_per_pkt": round(self.irq_per_pkt, 4),
            "kick_per_pkt": round(self.kick_per_pkt, 4),
            "tx_irqs": self.tx_irqs_delivered,
            "skb_xmit_done": self.skb_xmit_done,
            "reclaim": dict(self.reclaim),
            "tx_busy": self.tx_busy,
            "tx_dropped": self.tx_dropped,
            "stops": self.stops,
            "wakes": self.wakes,
            "elapsed_ns": self.elapsed_ns,
            **self.extra,
        }


def make_frame(
    rng: random.Random, seq: int, length: int, src_mac: bytes, ethertype: int = ETH_TYPE_LOCAL_EXPERIMENTAL
) -> bytes:
    """An Ethernet frame carrying its sequence number, so the wire scoreboard can name a missing one."""
    header = BROADCAST + (src_mac or b"\x02\0\0\0\0\x01") + ethertype.to_bytes(2, "big")
    body = seq.to_bytes(4, "big") + rng.randbytes(max(length - len(header) - 4, 0))
    return (header + body)[:length]


class XmitRun:
    """Probe the driver and drive a scenario; split in two so a test can act between probe and traffic."""

    def __init__(
        self,
        platform: Platform,
        scn: XmitScenario,
        start_task: StartTask,
        timing: GuestTiming | None = None,
        tracer: EventLog | None = None,
        checkers: Any = None,
        driver: VirtioNet | None = None,
    ):
        self.p = platform
        self.checkers = checkers  # simulation: tb.checkers.CheckerSet, told which frames were queued
        self.scn = scn
        self.start_task = start_task
        # the faithful driver of the scenario's variant, unless the caller brings its own (a test driver)
        self.net = driver or virtio_net(
            platform, scn.variant, use_msix=scn.use_msix, timing=timing, tracer=tracer, transport=scn.transport
        )
        if scn.xmit_more_burst < 1:
            raise ValueError(f"xmit_more_burst {scn.xmit_more_burst}: at least 1 skb per list")
        self.net.queue.bulk = scn.xmit_more_burst
        self.sent: list[bytes] = []
        self.pool: SkbPool | None = None

    async def probe(self) -> None:
        await self.net.probe(self.start_task)
        # the interface comes up (ip link set up): NAPI enabled, the receive ring polled once
        await self.net.open()
        # enough skbs for a full ring (256 with INDIRECT), the qdisc and some slack
        self.pool = SkbPool(self.p, slots=self.net.queue.qdisc_limit + 512)
        self.net.on_kfree_skb = self.pool.release
        if self.checkers is not None:
            self.checkers.attach_sent(self.sent)

    async def traffic(self, wait_done: Callable[[int], Coroutine[Any, Any, None]] | None = None) -> XmitResult:
        """Send the frames; then wait until the driver accepted all of them and ``wait_done(n)``."""
        scn, p, net = self.scn, self.p, self.net
        assert self.pool is not None
        rng = random.Random(scn.seed)
        t0 = p.now_ns()
        deadline = t0 + scn.timeout_ns
        for seq in range(scn.packets):
            length = rng.randint(scn.min_len, scn.max_len)
            data = make_frame(rng, seq, length, net.mac, scn.ethertype)
            frags = seq % (scn.nr_frags + 1) if scn.frags_cycle else scn.nr_frags
            skb = await self.pool.alloc_skb(seq, data, frags)
            while skb is None:  # all skb memory in flight: the socket would block
                await self._wait_progress(deadline, "skb memory")
                skb = await self.pool.alloc_skb(seq, data, frags)
            while not net.queue.dev_queue_xmit_nowait(skb):
                if net.queue.deactivated:  # dev_close ran: the noop qdisc drops, space never matters again
                    raise PlatformError(f"the interface was closed: {scn.packets - seq} of {scn.packets} frames unsent")
                net.queue.stats.tx_dropped -= 1  # a blocking sender waits instead of dropping
                await self._wait_space(deadline)
            self.sent.append(data)
            if scn.gap_ns:
                await p.sleep_ns(scn.gap_ns)
        while net.stats.packets + net.stats.tx_dropped < scn.packets:
            await self._wait_progress(deadline, f"driver accepted {net.stats.packets}/{scn.packets}")
        if wait_done is not None:
            await wait_done(net.stats.packets)
        if scn.idle_tail_ns:
            await p.sleep_ns(scn.idle_tail_ns)
        return self.result(p.now_ns() - t0)

    async def _wait_space(self, deadline: float) -> None:
        try:
            await self.p.wait_event(self.net.queue.space, max(deadline - self.p.now_ns(), 1))
        except PlatformTimeout:
            raise PlatformTimeout(self._stuck("qdisc space")) from None

    async def _wait_progress(self, deadline: float, what: str) -> None:
        if self.p.now_ns() > deadline:
            raise PlatformTimeout(self._stuck(what))
        await self.p.sleep_ns(1000)

    def _stuck(self, what: str) -> str:
        net = self.net
        return (
            f"no progress waiting for {what}: queue stopped={net.queue.stopped}, "
            f"qdisc={len(net.queue.qdisc)}, in ring={len(net.send)}, "
            f"accepted={net.stats.packets}/{self.scn.packets} (a lost wake-up leaves the queue stopped)"
        )

    def result(self, elapsed_ns: float) -> XmitResult:
        net = self.net
        vdev = net.vdev
        assert net.svq is not None
        if vdev.msix_enabled:
            tx_vector = next(info.msix_vector for info in vdev.vqs if info.vq is net.svq)
            delivered = vdev.irq.msix.get(tx_vector, 0)
        else:
            delivered = vdev.irq.intx
        return XmitResult(
            scenario=self.scn,
            sent=self.sent,
            packets=net.stats.packets,
            tx_irqs_delivered=delivered,
            skb_xmit_done=net.stats.tx_irqs,
            kicks=net.svq.notifies - net.svq.forced_notifies,
            forced_kicks=net.svq.forced_notifies,
            reclaim=dict(net.stats.reclaim.by_context),
            tx_busy=net.queue.stats.tx_busy,
            tx_dropped=net.stats.tx_dropped + net.queue.stats.tx_dropped,
            stops=net.queue.stats.stops,
            wakes=net.queue.stats.wakes,
            elapsed_ns=elapsed_ns,
            driver=net,
        )
