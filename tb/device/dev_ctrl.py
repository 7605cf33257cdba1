"""Device modes and virtio counters in the debug BAR window 0x200 (hdl/virtio/virtio_dev_ctrl.v).

Run-time knobs of our RTL device (not part of virtio): a scenario sets them before probing the driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from tb.device.debug_bar import DEBUG_BAR
from tb.platform.base import Platform

REG_MODE = 0x200
REG_PACING_INTERVAL = 0x204
REG_CNT_CLEAR = 0x20C
MODE_LOOPBACK_BIT = 20  # MODE[20]: TX frames go into the RX queue inside the device
MODE_OFFER_EVENT_IDX_BIT = 7  # MODE[7]: offer VIRTIO_RING_F_EVENT_IDX (29)
REG_CNT_BASE = 0x210
REG_LAST_ERROR = 0x22C
REG_ERR_BASE = 0x240


class NoePolicy(IntEnum):
    """When the device raises the TX interrupt on an empty ring with NO_INTERRUPT set (MODE[1:0])."""

    WHEN_ACKED = 0  # only when the driver acked VIRTIO_F_NOTIFY_ON_EMPTY (the legacy spec's MUST)
    ALWAYS = 1  # whatever was acked (QEMU <= 0.11 ignored the ack)
    NEVER = 2  # never: an interrupt only when NO_INTERRUPT is clear


# the used-ring push policy (MODE bit 16): per_packet (QEMU 0.10/0.11, the default) or batched, with the batch
# size (PUSH_BATCH, 1..PUSH_BATCH_MAX) and the flush timeout in cycles (PUSH_FLUSH) of the batched policy
PUSH_POLICIES = {"per_packet": 0, "batched": 1}
REG_PUSH_BATCH = 0x280
REG_PUSH_FLUSH = 0x284
REG_PUSH_BATCH_MAX = 0x288

COUNTERS = ("frames", "notifies", "irq_normal", "irq_noe", "irq_suppressed", "config_irqs", "errors")
# frames the TX engine dropped (used element returned, nothing sent), per reason; its frame limits
REG_DROP = {"drop_oversize": 0x230, "drop_runt": 0x234}
REG_MAX_FRAME = 0x238
REG_MIN_FRAME = 0x23C
# EVENT_IDX (both queues): interrupts raised because used_event was crossed (also counted as irq_normal), and
# decisions that raised nothing because it was not (also counted as irq_suppressed)
REG_EVENT = {"irq_event": 0x290, "event_suppressed": 0x294}
REG_RX_EVENT = {"rx_irq_event": 0x348, "rx_event_suppressed": 0x34C}

# the RX queue (queue 0): counters at 0x300 + 4*i, cleared by CNT_CLEAR with the others
REG_RX_CNT_BASE = 0x300
RX_COUNTERS = (
    "rx_frames",  # frames delivered (published: used.idx written past their used elements)
    "rx_bytes",  # their bytes (without the virtio_net_hdr)
    "rx_notifies",  # RX queue kicks
    "rx_irq_normal",  # RX interrupts because avail.flags allowed them
    "rx_irq_noe",  # RX interrupts by notify-on-empty despite NO_INTERRUPT
    "rx_irq_suppressed",  # RX interrupt decisions that raised nothing
    "rx_drop_nobuf",  # no chain within RX_WAIT cycles
    "rx_drop_chain",  # longer than its chain (no MRG_RXBUF) or MAX_CHAINS chains: chains returned with len 0
    "rx_drop_oversize",  # from the wire above MAX_FRAME
    "rx_drop_runt",  # from the wire below MIN_FRAME
    "rx_drop_bad",  # from the wire marked bad (tuser)
    "rx_drop_overrun",  # taken after RX_WAIT cycles without room in the packet buffer
    "rx_drop_stopped",  # arrived while the RX queue was not running, or cut by a stop before publication
    "rx_drop_loopback",  # from s_axis_rx while in loopback
    "rx_errors",  # RX queue errors (also in "errors" and the per-cause counters)
)
REG_RX_LAST_ERROR = 0x33C
REG_RX_WAIT = 0x340  # RO: cycles a frame waits for a chain; the longest s_axis_rx_tready is held low
REG_RX_MAX_CHAINS = 0x344  # RO: [15:0] chains per frame at most (MRG_RXBUF), [31:16] buffers per frame

ERROR_CAUSES = {
    1: "avail.idx more than the queue size ahead",
    2: "descriptor next out of range",
    3: "descriptor chain longer than the queue (loop)",
    4: "INDIRECT descriptor without the feature",
    5: "INDIRECT inside INDIRECT (or after other descriptors)",
    6: "indirect table length not a non-zero multiple of 16 (or too long)",
    7: "device-writable descriptor on the TX queue (device-readable on the RX queue)",
    8: "(not raised since frames above the maximum are dropped and counted: drop_oversize)",
    9: "DMA read completed with an error status",
    10: "DMA write failed",
    11: "(not raised since chains below the minimum frame are dropped and counted: drop_runt)",
}


@dataclass
class DeviceModes:
    """The run-time modes of our device (MODE and PACING_INTERVAL), one set for the RTL and the model."""

    noe_policy: NoePolicy = NoePolicy.WHEN_ACKED
    offer_noe: bool = True
    offer_indirect: bool = True
    offer_mrg_rxbuf: bool = False  # offer VIRTIO_NET_F_MRG_RXBUF (12-byte header, merged RX buffers)
    offer_event_idx: bool = False  # offer VIRTIO_RING_F_EVENT_IDX (used_event / avail_event, both queues)
    kick_suppress: bool = False
    pacing_timer: bool = False
    pacing_interval: int = 37500  # cycles (150 us at 250 MHz)
    push: str = "per_packet"  # used-ring push policy: "per_packet" or "batched"
    push_batch: int = 0  # batched: elements per push (0: the device's PUSH_BATCH_MAX)
    push_flush: int = 1024  # batched: cycles before a partial batch is pushed (about 4 us)
    loopback: bool = False  # TX frames into the RX queue inside the device (m_axis_tx idle, s_axis_rx dropped)

    def encode(self) -> int:
        if self.push not in PUSH_POLICIES:
            raise ValueError(f"push policy {self.push!r}: one of {sorted(PUSH_POLICIES)}")
        return (
            (self.noe_policy & 3)
            | self.offer_noe << 4
            | self.offer_indirect << 5
            | self.offer_mrg_rxbuf << 6
            | self.offer_event_idx << MODE_OFFER_EVENT_IDX_BIT
            | self.kick_suppress << 8
            | self.pacing_timer << 12
            | PUSH_POLICIES[self.push] << 16
            | self.loopback << MODE_LOOPBACK_BIT
        )


class DevCtrl:
    def __init__(self, platform: Platform, bar: int = DEBUG_BAR):
        self.p = platform
        self.bar = bar

    async def set_modes(self, modes: DeviceModes) -> None:
        await self.p.bar_write(self.bar, REG_PACING_INTERVAL, modes.pacing_interval, 4)
        if modes.push == "batched":
            batch = modes.push_batch or await self.p.bar_read(self.bar, REG_PUSH_BATCH_MAX, 4)
            await self.p.bar_write(self.bar, REG_PUSH_BATCH, batch, 4)
            await self.p.bar_write(self.bar, REG_PUSH_FLUSH, modes.push_flush, 4)
        await self.p.bar_write(self.bar, REG_MODE, modes.encode(), 4)

    async def modes_word(self) -> int:
        return await self.p.bar_read(self.bar, REG_MODE, 4)

    async def counters(self) -> dict[str, int]:
        out = {name: await self.p.bar_read(self.bar, REG_CNT_BASE + 4 * i, 4) for i, name in enumerate(COUNTERS)}
        out["last_error"] = await self.p.bar_read(self.bar, REG_LAST_ERROR, 4)
        for name, reg in {**REG_DROP, **REG_EVENT}.items():
            out[name] = await self.p.bar_read(self.bar, reg, 4)
        return out

    async def rx_counters(self) -> dict[str, int]:
        out = {name: await self.p.bar_read(self.bar, REG_RX_CNT_BASE + 4 * i, 4) for i, name in enumerate(RX_COUNTERS)}
        out["rx_last_error"] = await self.p.bar_read(self.bar, REG_RX_LAST_ERROR, 4)
        for name, reg in REG_RX_EVENT.items():
            out[name] = await self.p.bar_read(self.bar, reg, 4)
        return out

    async def rx_limits(self) -> dict[str, int]:
        """The RX queue's build limits, as the device reports them."""
        chains = await self.p.bar_read(self.bar, REG_RX_MAX_CHAINS, 4)
        return {
            "rx_wait": await self.p.bar_read(self.bar, REG_RX_WAIT, 4),
            "max_chains": chains & 0xFFFF,
            "max_segs": chains >> 16,
        }

    async def error_count(self, cause: int) -> int:
        return await self.p.bar_read(self.bar, REG_ERR_BASE + 4 * cause, 4)

    async def clear_counters(self) -> None:
        await self.p.bar_write(self.bar, REG_CNT_CLEAR, 1, 4)


# -- fault knobs (test only) -------------------------------------------------------------------------------
# BAR2+0x208 FAULT (hdl/virtio/virtio_dev_ctrl.v, hdl/virtio/README.md "Fault knobs"): each bit breaks one
# virtio rule on purpose so tests/sim/test_checkers.py can show the checker for that rule fires. Reset 0.
REG_FAULT = 0x208
FAULT_IGNORE_NO_INTERRUPT = 1 << 0  # interrupt after every packet whatever avail.flags says
FAULT_DROP_IRQ = 1 << 1  # never the cause-0 interrupt (avail.flags clear)
FAULT_USED_IDX_FIRST = 1 << 2  # used.idx written before the used element
FAULT_READ_PAST_AVAIL = 1 << 3  # fetch one avail.ring entry past avail.idx
FAULT_WRITE_TX_BUFFER = 1 << 4  # write 2 bytes into the chain's (device-readable) header buffer
FAULT_DROP_FRAME = 1 << 5  # every 4th frame not sent (used index & 3 == 3)
FAULT_DUP_FRAME = 1 << 6  # every 4th frame sent twice
FAULT_USED_IDX_AHEAD = 1 << 7  # used.idx written one too far
FAULT_USED_LEN_READ = 1 << 8  # used.len = bytes read (header + frame) instead of 0
FAULT_RX_WRITE_PAST_BUFFER = 1 << 9  # RX: one byte written just past the last buffer of each frame
FAULT_RX_USED_LEN_PLUS1 = 1 << 10  # RX: used.len one more than the bytes written
FAULT_RX_DROP_SILENT = 1 << 11  # RX: frames at wire sequence 3 mod 4 dropped without a count
FAULT_AVAIL_EVENT_STALE = 1 << 12  # EVENT_IDX: avail_event never written (the driver stops kicking: a hang)
FAULT_EVENT_IDX_IGNORED = 1 << 13  # EVENT_IDX: an interrupt after every push, as if used_event were crossed
FAULT_EVENT_IDX_FLAGS = 1 << 14  # EVENT_IDX: NO_INTERRUPT obeyed as well (an interrupt owed by used_event lost)


FAULT_KNOBS = {
    "ignore_no_interrupt": FAULT_IGNORE_NO_INTERRUPT,
    "drop_irq": FAULT_DROP_IRQ,
    "used_idx_first": FAULT_USED_IDX_FIRST,
    "read_past_avail": FAULT_READ_PAST_AVAIL,
    "write_tx_buffer": FAULT_WRITE_TX_BUFFER,
    "drop_frame": FAULT_DROP_FRAME,
    "dup_frame": FAULT_DUP_FRAME,
    "used_idx_ahead": FAULT_USED_IDX_AHEAD,
    "used_len_read": FAULT_USED_LEN_READ,
    "rx_write_past_buffer": FAULT_RX_WRITE_PAST_BUFFER,
    "rx_used_len_plus1": FAULT_RX_USED_LEN_PLUS1,
    "rx_drop_silent": FAULT_RX_DROP_SILENT,
    "avail_event_stale": FAULT_AVAIL_EVENT_STALE,
    "event_idx_ignored": FAULT_EVENT_IDX_IGNORED,
    "event_idx_flags": FAULT_EVENT_IDX_FLAGS,
}


async def set_fault(platform: Platform, bits: int, bar: int = DEBUG_BAR) -> None:
    await platform.bar_write(bar, REG_FAULT, bits, 4)
