"""Device modes and virtio counters in the debug BAR window 0x200 (hdl/virtio/virtio_dev_ctrl.v).

Run-time knobs of our RTL device (not part of virtio): a scenario sets them before probing the driver.
"""

from __future__ import annotations

from dataclasses import dataclass

from tb.debug_bar import DEBUG_BAR
from tb.platform.base import Platform

REG_MODE = 0x200
REG_PACING_INTERVAL = 0x204
REG_CNT_CLEAR = 0x20C
REG_CNT_BASE = 0x210
REG_LAST_ERROR = 0x22C
REG_ERR_BASE = 0x240

NOE_WHEN_ACKED, NOE_ALWAYS, NOE_NEVER = 0, 1, 2
NOE_POLICIES = {"WHEN_ACKED": NOE_WHEN_ACKED, "ALWAYS": NOE_ALWAYS, "NEVER": NOE_NEVER}

COUNTERS = ("frames", "notifies", "irq_normal", "irq_noe", "irq_suppressed", "config_irqs", "errors")

ERROR_CAUSES = {
    1: "avail.idx more than the queue size ahead",
    2: "descriptor next out of range",
    3: "descriptor chain longer than the queue (loop)",
    4: "INDIRECT descriptor without the feature",
    5: "INDIRECT inside INDIRECT (or after other descriptors)",
    6: "indirect table length not a non-zero multiple of 16 (or too long)",
    7: "device-writable descriptor on the TX queue",
    8: "frame longer than the device accepts",
    9: "DMA read completed with an error status",
    10: "DMA write failed",
    11: "frame shorter than the virtio_net_hdr",
}


@dataclass
class DeviceModes:
    noe_policy: int = NOE_WHEN_ACKED
    offer_noe: bool = True
    offer_indirect: bool = True
    kick_suppress: bool = False
    pacing_timer: bool = False
    pacing_interval: int = 37500        # cycles (150 us at 250 MHz)

    def encode(self) -> int:
        return (self.noe_policy & 3) | self.offer_noe << 4 | self.offer_indirect << 5 \
            | self.kick_suppress << 8 | self.pacing_timer << 12


class DevCtrl:
    def __init__(self, platform: Platform, bar: int = DEBUG_BAR):
        self.p = platform
        self.bar = bar

    async def set_modes(self, modes: DeviceModes) -> None:
        await self.p.bar_write(self.bar, REG_PACING_INTERVAL, modes.pacing_interval, 4)
        await self.p.bar_write(self.bar, REG_MODE, modes.encode(), 4)

    async def modes_word(self) -> int:
        return await self.p.bar_read(self.bar, REG_MODE, 4)

    async def counters(self) -> dict[str, int]:
        out = {name: await self.p.bar_read(self.bar, REG_CNT_BASE + 4 * i, 4) for i, name in enumerate(COUNTERS)}
        out["last_error"] = await self.p.bar_read(self.bar, REG_LAST_ERROR, 4)
        return out

    async def error_count(self, cause: int) -> int:
        return await self.p.bar_read(self.bar, REG_ERR_BASE + 4 * cause, 4)

    async def clear_counters(self) -> None:
        await self.p.bar_write(self.bar, REG_CNT_CLEAR, 1, 4)
