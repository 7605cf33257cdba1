"""The checkers every simulation test runs (tb.checkers.hub.CheckerSet builds one of each)."""

from __future__ import annotations

from tb.checkers.device_rings import DeviceReadsPublished, DmaWritesTargets, UsedRingOrder
from tb.checkers.driver_side import DriverOrder, LostWakeup, RingInvariants
from tb.checkers.event_idx import AvailEventIdle, EventIdxInterrupts, EventIdxKicks
from tb.checkers.interrupts import InterruptLegality
from tb.checkers.modern_status import ModernStatus
from tb.checkers.rx import RxChainsWritable, RxDelivery, RxLostWakeup, RxUsedLen
from tb.checkers.scoreboard import WireScoreboard

ALL = (
    DeviceReadsPublished,
    UsedRingOrder,
    DmaWritesTargets,
    InterruptLegality,
    DriverOrder,
    RingInvariants,
    WireScoreboard,
    LostWakeup,
    RxUsedLen,
    RxDelivery,
    RxLostWakeup,
    RxChainsWritable,
    EventIdxInterrupts,
    EventIdxKicks,
    AvailEventIdle,
    ModernStatus,
)
