"""Just enough of the 2009 Linux network stack around ``start_xmit`` to make its paths real.

- ``Skb``: a frame in DMA-able memory, with its header room (``skb->cb`` holds the virtio_net_hdr), whose
  ``skb_orphan`` and ``kfree_skb`` are recorded as events: the socket's send space is released at the
  orphan, or at the free when the skb was never orphaned (the destructor runs then).
- ``NetDevQueue``: the device queue's stopped bit (``netif_stop_queue`` / ``netif_start_queue`` /
  ``netif_wake_queue``) and a qdisc that requeues an skb refused with NETDEV_TX_BUSY and is run again
  only when the queue is woken, as ``__netif_schedule`` -> ``net_tx_action`` -> ``qdisc_run`` do.
- ``TxLock``, ``KernelTimer`` and ``Tasklet``: the netif tx lock, ``mod_timer`` and ``tasklet_schedule``
  over the platform's time and events.
- ``NapiStruct`` and ``SoftnetData``: NAPI as 2.6.31 had it (napi_schedule_prep / __napi_schedule /
  napi_complete / napi_enable / napi_disable) and the NET_RX softirq (``net_rx_action``: the poll list,
  each instance polled with its weight, netdev_budget per run) as a task on the platform.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tb.driver.virtio_ring import NullTracer, Tracer
from tb.platform.base import DmaBuffer, Platform, PlatformTimeout

NETDEV_TX_OK = 0x00
NETDEV_TX_BUSY = 0x10

# virtio_net_hdr goes at the start of the skb's buffer; the frame starts here
SKB_HDR_ROOM = 16


@dataclass
class Skb:
    seq: int
    data: bytes
    buf: DmaBuffer
    nr_frags: int = 0  # extra descriptors beyond header + linear part
    created_ns: float = 0.0
    queued_ns: float | None = None  # accepted by start_xmit (NETDEV_TX_OK)
    orphaned_ns: float | None = None
    freed_ns: float | None = None
    freed_in: str | None = None  # context of kfree_skb: start_xmit / tasklet / timer / remove
    busy_count: int = 0  # NETDEV_TX_BUSY returns for this skb
    destructor_ns: float | None = None  # socket send space released

    @property
    def len(self) -> int:
        return len(self.data)


class SkbPool:
    """DMA-able memory for skbs: one allocation carved into fixed slots (the kernel's slab)."""

    def __init__(self, platform: Platform, slots: int, slot_size: int = 2048):
        self.slot_size = slot_size
        self.mem = platform.dma_alloc(slots * slot_size)
        self.free: deque[int] = deque(range(slots))
        self.platform = platform

    async def alloc_skb(self, seq: int, data: bytes, nr_frags: int = 0) -> Skb | None:
        if SKB_HDR_ROOM + len(data) > self.slot_size:
            raise ValueError(f"frame of {len(data)} bytes does not fit a {self.slot_size}-byte slot")
        if not self.free:
            return None
        slot = self.free.popleft()
        buf = self.mem.slice(slot * self.slot_size, self.slot_size)
        await buf.write(SKB_HDR_ROOM, data)
        return Skb(seq, data, buf, nr_frags, created_ns=self.platform.now_ns())

    def release(self, skb: Skb) -> None:
        self.free.append((skb.buf.bus_addr - self.mem.bus_addr) // self.slot_size)


@dataclass
class StackStats:
    tx_busy: int = 0
    tx_dropped: int = 0  # dropped by the driver (pre-patch parking path) or a full qdisc
    stops: int = 0
    starts: int = 0
    wakes: int = 0
    requeues: int = 0


class NetDevQueue:
    """The TX queue of a net_device with a FIFO qdisc in front of it."""

    def __init__(
        self,
        platform: Platform,
        start_xmit: Callable[[Skb], Awaitable[int]],
        qdisc_limit: int = 1000,
        tracer: Tracer | None = None,
    ):
        self.p = platform
        self.start_xmit = start_xmit
        # skbs the stack hands the driver in one list (dev_hard_start_xmit over a bulk dequeue, pktgen's burst,
        # a GSO skb segmented in software): all but the last go with xmit_more set. 1: one at a time, as a
        # qdisc of a driver without byte queue limits dequeues ("Non-BQL migrated drivers will return 0")
        self.bulk = 1
        self.xmit_more = False  # netdev_xmit_more() during the current start_xmit call
        self.trace: Tracer = tracer or NullTracer()  # netif_* calls as events (the checkers' view of them)
        self.qdisc: deque[Skb] = deque()
        self.qdisc_limit = qdisc_limit
        self.stopped = False
        self.stats = StackStats()
        self.events: list[tuple[float, str]] = []
        self._running = False
        self.deactivated = False  # dev_deactivate: the noop qdisc (nothing enqueued, nothing dequeued)
        self._scheduled = platform.make_event()
        self.space = platform.make_event()  # set whenever the qdisc has room (sender back-pressure)
        self.space.set()

    # -- the driver's side -----------------------------------------------------------------------------
    def netif_stop_queue(self) -> None:
        self.stopped = True
        self.stats.stops += 1
        self.events.append((self.p.now_ns(), "stop"))
        self.trace.event("netif_stop_queue")

    def netif_start_queue(self) -> None:
        self.stopped = False
        self.stats.starts += 1
        self.events.append((self.p.now_ns(), "start"))
        self.trace.event("netif_start_queue")

    def netif_wake_queue(self) -> None:
        """Clear the stopped bit and, if it was set, schedule the qdisc (net_tx_action)."""
        if self.stopped:
            self.stopped = False
            self.stats.wakes += 1
            self.events.append((self.p.now_ns(), "wake"))
            self.trace.event("netif_wake_queue")
            self._scheduled.set()

    def netif_queue_stopped(self) -> bool:
        return self.stopped

    # -- the stack's side ------------------------------------------------------------------------------
    def dev_queue_xmit_nowait(self, skb: Skb) -> bool:
        """Enqueue on the qdisc; False (and tx_dropped) when the qdisc is full."""
        if len(self.qdisc) >= self.qdisc_limit or self.deactivated:
            self.stats.tx_dropped += 1
            return False
        self.qdisc.append(skb)
        if len(self.qdisc) >= self.qdisc_limit:
            self.space.clear()
        self._scheduled.set()
        return True

    def netdev_xmit_more(self) -> bool:
        """True while the driver's start_xmit is called for an skb that another one follows in the same list."""
        return self.xmit_more

    def netif_xmit_stopped(self) -> bool:
        return self.stopped

    async def qdisc_run(self) -> None:
        """Send from the qdisc until it is empty or the queue stops (qdisc_restart loop); with ``bulk`` > 1 the
        skbs go in lists, as dev_hard_start_xmit sends them (a list cut short by a stopped queue goes back)."""
        if self._running:
            return
        self._running = True
        try:
            while self.qdisc and not self.stopped and not self.deactivated:
                batch = [self.qdisc.popleft() for _ in range(min(self.bulk, len(self.qdisc)))]
                self.space.set()
                for k, skb in enumerate(batch):
                    if k and self.stopped:
                        # dev_hard_start_xmit: "netif_xmit_stopped(txq) && skb": the rest is requeued
                        self._requeue(batch[k:])
                        break
                    self.xmit_more = k < len(batch) - 1
                    try:
                        ret = await self.start_xmit(skb)
                    finally:
                        self.xmit_more = False
                    if ret == NETDEV_TX_BUSY:
                        # dev_requeue_skb: the same skb goes back to the head, retried after a wake
                        skb.busy_count += 1
                        self.stats.tx_busy += 1
                        self._requeue(batch[k:])
                        break
                else:
                    continue
                break
        finally:
            self._running = False

    async def dev_deactivate(self, timeout_ns: float = 1_000_000_000) -> None:
        """dev_deactivate_many, as dev_close calls it before ndo_stop: the qdisc becomes noop_qdisc (what it held
        is dropped, nothing more is enqueued or dequeued), then the wait until no CPU is inside qdisc_run
        (synchronize_net and the some_qdisc_is_busy loop). No start_xmit begins after it returns."""
        self.deactivated = True
        dropped = len(self.qdisc)
        self.stats.tx_dropped += dropped
        self.qdisc.clear()  # qdisc_reset
        self.space.set()
        self.trace.event("dev_deactivate", dropped=dropped)
        t_end = self.p.now_ns() + timeout_ns
        while self._running:  # a start_xmit in progress finishes
            if self.p.now_ns() > t_end:
                raise RuntimeError(f"dev_deactivate: a start_xmit still running after {timeout_ns / 1e3:.0f} us")
            await self.p.sleep_ns(100)

    def dev_activate(self) -> None:
        """dev_activate (dev_open, after ndo_open): the qdisc is attached again and scheduled."""
        if self.deactivated:
            self.deactivated = False
            self.trace.event("dev_activate")
            self._scheduled.set()

    def _requeue(self, skbs: list[Skb]) -> None:
        self.stats.requeues += 1
        self.qdisc.extendleft(reversed(skbs))
        if len(self.qdisc) >= self.qdisc_limit:
            self.space.clear()

    async def net_tx_action(self, stop: Callable[[], bool]) -> None:
        """The softirq: run the qdisc whenever it was scheduled, until ``stop()``."""
        while not stop():
            self._scheduled.clear()
            await self.qdisc_run()
            if stop():
                return
            if not self._scheduled.is_set():
                await self._wait(self._scheduled)

    async def _wait(self, event) -> None:
        # bounded waits so a lost wake-up shows as a stuck queue in the caller's checks, not a hang
        while not event.is_set():
            try:
                await self.p.wait_event(event, 1_000_000)
            except Exception:  # PlatformTimeout: re-check the stop condition
                return


class TxLock:
    """netif_tx_lock: start_xmit runs under it; the pre-patch tasklet and timer take it too."""

    def __init__(self, platform: Platform):
        self.p = platform
        self.locked = False
        self._released = platform.make_event()

    async def acquire(self) -> None:
        while self.locked:
            self._released.clear()
            await self.p.wait_event(self._released, 1e12)
        self.locked = True

    def release(self) -> None:
        self.locked = False
        self._released.set()


class KernelTimer:
    """mod_timer / del_timer_sync over platform time. ``period_ns`` stands for HZ/10 (scaled)."""

    def __init__(self, platform: Platform, fn: Callable[[], Awaitable[None]]):
        self.p = platform
        self.fn = fn
        self.expires: float | None = None
        self.fired = 0
        self._armed = platform.make_event()
        self._dead = False

    def mod_timer(self, expires_ns: float) -> None:
        self.expires = expires_ns
        self._armed.set()

    def del_timer_sync(self) -> None:
        self.expires = None
        self._dead = True
        self._armed.set()

    async def run(self) -> None:
        while not self._dead:
            if self.expires is None:
                self._armed.clear()
                await self.p.wait_event(self._armed, 1e15)
                continue
            now = self.p.now_ns()
            if now < self.expires:
                await self.p.sleep_ns(self.expires - now)
                continue  # mod_timer may have pushed the deadline meanwhile
            self.expires = None
            self.fired += 1
            await self.fn()


class Tasklet:
    """tasklet_schedule: the function runs once soon after, however often it was scheduled meanwhile."""

    def __init__(self, platform: Platform, fn: Callable[[], Awaitable[None]]):
        self.p = platform
        self.fn = fn
        self.scheduled = False
        self.runs = 0
        self._event = platform.make_event()
        self._dead = False

    def tasklet_schedule(self) -> None:
        self.scheduled = True
        self._event.set()

    def kill(self) -> None:
        self._dead = True
        self._event.set()

    async def run(self) -> None:
        while not self._dead:
            if not self.scheduled:
                self._event.clear()
                await self.p.wait_event(self._event, 1e15)
                continue
            self.scheduled = False
            self.runs += 1
            await self.fn()


@dataclass
class ReclaimStats:
    """Where TX buffers were reclaimed (free_old_xmit_skbs callers) and how many each time."""

    by_context: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def add(self, context: str, n: int) -> None:
        self.calls[context] = self.calls.get(context, 0) + 1
        if n:
            self.by_context[context] = self.by_context.get(context, 0) + n


# -- NAPI (net/core/dev.c and include/linux/netdevice.h, v2.6.31) --------------------------------------------
NAPI_STATE_SCHED = 0  # Poll is scheduled
NAPI_STATE_DISABLE = 1  # Disable pending
NETDEV_BUDGET = 300  # net.core.netdev_budget: packets one net_rx_action may process before it yields


class NapiStruct:
    """``struct napi_struct`` and the calls a driver makes on it, over one ``SoftnetData`` poll list.

    The state bits follow 2.6.31: ``netif_napi_add`` leaves SCHED set (the instance cannot be scheduled until
    ``napi_enable`` clears it); ``napi_schedule_prep`` is ``!DISABLE && !test_and_set(SCHED)``;
    ``__napi_schedule`` puts the instance on the poll list and raises NET_RX_SOFTIRQ; ``napi_complete``
    takes it off the list and clears SCHED; ``napi_disable`` sets DISABLE and waits until it owns SCHED.
    Every call is a trace event (``napi_schedule``, ``napi_complete``, ``napi_enable``, ``napi_disable``) with
    the caller's context, so a checker sees the ownership of the poll without reading this object.
    """

    def __init__(
        self,
        softnet: SoftnetData,
        poll: Callable[[NapiStruct, int], Awaitable[int]],
        weight: int,
        tracer: Tracer | None = None,
        tag: str = "",
    ):
        self.softnet = softnet
        self.poll = poll
        self.weight = weight
        self.trace: Tracer = tracer or NullTracer()
        # a second instance (the transmit NAPI) names itself in its events ``napi=tag``; the receive
        # instance's events carry no tag, as they always did
        self.tag = tag
        # netif_napi_add: "napi->state = NAPIF_STATE_SCHED" (napi_enable clears it)
        self.state = 1 << NAPI_STATE_SCHED
        self.polls = 0
        self.schedules = 0

    def test_bit(self, bit: int) -> bool:
        return bool(self.state >> bit & 1)

    def napi_disable_pending(self) -> bool:
        return self.test_bit(NAPI_STATE_DISABLE)

    def napi_schedule_prep(self) -> bool:
        """True if the caller now owns the poll (SCHED was clear and is now set)."""
        if self.napi_disable_pending() or self.test_bit(NAPI_STATE_SCHED):
            return False
        self.state |= 1 << NAPI_STATE_SCHED
        return True

    def napi_schedule_prepared(self, context: str) -> None:
        """``__napi_schedule``, called by whoever won ``napi_schedule_prep``: on the poll list, softirq raised.

        (Python would mangle the kernel's double-underscore name, hence this one.)"""
        self.schedules += 1
        self.trace.event("napi_schedule", context=context, **self._tagged())
        self.softnet.list_add_tail(self)

    def napi_complete(self) -> None:
        """__napi_complete: BUG_ON(!SCHED); list_del; clear SCHED."""
        if not self.test_bit(NAPI_STATE_SCHED):
            raise RuntimeError("napi_complete on an instance that is not scheduled (BUG_ON in __napi_complete)")
        self.softnet.list_del(self)
        self.state &= ~(1 << NAPI_STATE_SCHED)
        self.trace.event("napi_complete", **self._tagged())

    def napi_complete_done(self, work_done: int) -> bool:
        """napi_complete_done (4.10+): complete and return True ("false if the caller must keep polling":
        busy polling and the MISSED bit, which this model does not have)."""
        self.napi_complete()
        return True

    def _tagged(self) -> dict[str, str]:
        return {"napi": self.tag} if self.tag else {}

    def napi_enable(self) -> None:
        """BUG_ON(!SCHED); clear SCHED."""
        if not self.test_bit(NAPI_STATE_SCHED):
            raise RuntimeError("napi_enable on an enabled instance (BUG_ON in napi_enable)")
        self.state &= ~(1 << NAPI_STATE_SCHED)
        self.trace.event("napi_enable", **self._tagged())

    async def napi_disable(self, platform: Platform) -> None:
        """Set DISABLE, wait (msleep(1) each try) until SCHED is ours, clear DISABLE."""
        self.state |= 1 << NAPI_STATE_DISABLE
        # from here no schedule succeeds (the interface is closing)
        self.trace.event("napi_disable_begin", **self._tagged())
        while self.test_bit(NAPI_STATE_SCHED):
            await platform.sleep_ns(1e6)
        self.state |= 1 << NAPI_STATE_SCHED
        self.state &= ~(1 << NAPI_STATE_DISABLE)
        self.trace.event("napi_disable", **self._tagged())


class SoftnetData:
    """The per-CPU ``softnet_data`` poll list and ``net_rx_action``, the NET_RX softirq, as a platform task.

    ``net_rx_action`` (2.6.31) walks the list from its head: it polls an instance whose SCHED bit is set with
    its weight; an instance that used its whole weight stays scheduled and moves to the tail (or is completed
    when a disable is pending); one that did less has taken itself off the list in napi_complete. After
    ``budget`` packets the softirq yields and raises itself again (softnet_break; the jiffy limit is not
    modelled). Guest time is whatever the poll functions charge.
    """

    def __init__(self, platform: Platform, budget: int = NETDEV_BUDGET, tracer: Tracer | None = None):
        self.p = platform
        self.budget = budget
        self.trace: Tracer = tracer or NullTracer()
        self.poll_list: deque[NapiStruct] = deque()
        self.raised = platform.make_event()  # NET_RX_SOFTIRQ pending
        self.runs = 0

    def list_add_tail(self, napi: NapiStruct) -> None:
        if napi not in self.poll_list:
            self.poll_list.append(napi)
        self.raised.set()  # __raise_softirq_irqoff(NET_RX_SOFTIRQ)

    def list_del(self, napi: NapiStruct) -> None:
        if napi in self.poll_list:
            self.poll_list.remove(napi)

    async def net_rx_action(self) -> None:
        self.runs += 1
        budget = self.budget
        while self.poll_list:
            if budget <= 0:
                self.raised.set()  # softnet_break: run again later
                return
            n = self.poll_list[0]
            work = 0
            if n.test_bit(NAPI_STATE_SCHED):
                n.polls += 1
                self.trace.event("napi_poll", weight=n.weight, **n._tagged())
                work = await n.poll(n, n.weight)
                self.trace.event("napi_poll_ret", work=work, **n._tagged())
            if work > n.weight:
                raise RuntimeError(f"poll returned {work} > weight {n.weight} (WARN_ON_ONCE in net_rx_action)")
            budget -= work
            if work == n.weight:
                # the driver must not complete an instance that used its whole weight: it is still ours
                if n.napi_disable_pending():
                    n.napi_complete()
                elif n in self.poll_list:
                    self.poll_list.remove(n)
                    self.poll_list.append(n)  # list_move_tail
            # work < weight: the poll took itself off the list in napi_complete (and may have put itself back
            # with __napi_schedule: then it is polled again in this same loop, as in the kernel)

    async def run(self, stop: Callable[[], bool], idle_ns: float = 1e6) -> None:
        """The softirq thread: run net_rx_action whenever NET_RX_SOFTIRQ is raised, until ``stop()``.

        Waits are bounded (``idle_ns``) so a stop is noticed without a wake."""
        while not stop():
            if not self.raised.is_set():
                try:
                    await self.p.wait_event(self.raised, idle_ns)
                except PlatformTimeout:  # re-check the stop condition
                    continue
            self.raised.clear()
            await self.net_rx_action()
