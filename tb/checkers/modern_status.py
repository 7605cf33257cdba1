"""The modern device-status sequence (virtio 1.x 3.1.1 Device Initialization, 2.1 Device Status Field), from
register accesses only.

Through the modern common configuration (where it is: tb/checkers/pci_caps.py, learned from the capability
reads or given by the platform; never from the driver) the driver must go: reset, ACKNOWLEDGE, DRIVER, the
driver features written, FEATURES_OK, device_status read back ("re-read device status to ensure the
FEATURES_OK bit is still set: otherwise, the device does not support our subset of features and the device
is unusable"), the virtqueues set up, DRIVER_OK. The rules, each a violation of its own:

* a status bit is never cleared except by the reset (2.1.1: "The driver MUST NOT clear a device status bit");
* ACKNOWLEDGE before DRIVER, DRIVER before the first driver-feature write, a feature write before FEATURES_OK;
* no driver-feature write once FEATURES_OK was written (3.1.1: "The driver MUST NOT accept a feature which the
  device did not offer" after FEATURES_OK: the features are fixed from then on);
* no queue setup (queue_size, the three area addresses, queue_enable) and no notification before FEATURES_OK
  was written and read back set;
* no DRIVER_OK without FEATURES_OK read back set; after a clear read back only FAILED may follow.
* no notification before DRIVER_OK (3.1.1).

Legacy accesses are not judged here: the legacy interface has no FEATURES_OK.
"""

from __future__ import annotations

from tb.checkers.base import Checker
from tb.checkers.spec import (
    COMMON_DEVICE_STATUS,
    COMMON_DRIVER_FEATURE,
    COMMON_QUEUE_DESC,
    COMMON_QUEUE_DEVICE,
    COMMON_QUEUE_ENABLE,
    COMMON_QUEUE_SIZE,
    STATUS_ACKNOWLEDGE,
    STATUS_DRIVER,
    STATUS_DRIVER_OK,
    STATUS_FAILED,
    STATUS_FEATURES_OK,
)

QUEUE_SETUP = {COMMON_QUEUE_SIZE: "queue_size", COMMON_QUEUE_ENABLE: "queue_enable"}
for _k, _n in (
    (COMMON_QUEUE_DESC, "queue_desc"),
    (COMMON_QUEUE_DESC + 8, "queue_driver"),
    (COMMON_QUEUE_DEVICE, "queue_device"),
):
    QUEUE_SETUP[_k], QUEUE_SETUP[_k + 4] = f"{_n}_lo", f"{_n}_hi"


def bits(status: int) -> str:
    names = (
        (STATUS_ACKNOWLEDGE, "ACKNOWLEDGE"),
        (STATUS_DRIVER, "DRIVER"),
        (STATUS_FEATURES_OK, "FEATURES_OK"),
        (STATUS_DRIVER_OK, "DRIVER_OK"),
        (0x40, "DEVICE_NEEDS_RESET"),
        (STATUS_FAILED, "FAILED"),
    )
    return "|".join(n for b, n in names if status & b) or "0"


class ModernStatus(Checker):
    name = "modern_status"
    rule = (
        "modern status sequence: reset, ACKNOWLEDGE, DRIVER, features written, FEATURES_OK, read back set, "
        "queue setup, DRIVER_OK; no status bit cleared, no feature write after FEATURES_OK, no queue setup or "
        "notification before FEATURES_OK read back set, no notification before DRIVER_OK, no DRIVER_OK after it read "
        "back clear"
    )

    def __init__(self, hub):
        super().__init__(hub)
        self._clear()

    def _clear(self) -> None:
        self.status = 0  # the bits the driver has set since the reset
        self.features_written = False
        self.fok_written = False
        self.fok_readback: bool | None = None  # the first device_status read after FEATURES_OK was written
        self.seen = False  # a modern access since the reset

    def _usable(self) -> bool:
        return self.fok_written and self.fok_readback is True

    def on_host_bar(self, t: float, write: bool, bar: int, offset: int, size: int, value: int) -> None:
        rel = self.hub.common_rel(bar, offset)
        if rel is None:
            if (
                self.seen
                and self.hub.notified_queue(write, bar, offset, size, value) is not None
                and not self._usable()
            ):
                self.events += 1
                self.fail(t, f"notification of queue {value} before FEATURES_OK was {self._fok_state()}")
            elif (
                self.seen
                and not self.status & STATUS_DRIVER_OK
                and self.hub.notified_queue(write, bar, offset, size, value) is not None
            ):
                # 3.1.1: "The driver MUST NOT send any buffer available notifications to the device before
                # setting DRIVER_OK"
                self.events += 1
                self.fail(t, f"notification of queue {value} before DRIVER_OK (status {bits(self.status)})")
            return
        self.events += 1
        self.seen = True
        if not write:
            if rel == COMMON_DEVICE_STATUS and self.fok_written and self.fok_readback is None:
                self.fok_readback = bool(value & STATUS_FEATURES_OK)
            return
        if rel == COMMON_DEVICE_STATUS and size == 1:
            self._status_write(t, value)
        elif rel == COMMON_DRIVER_FEATURE:
            if self.fok_written:
                self.fail(t, f"driver features written ({value:#x}) after FEATURES_OK (status {bits(self.status)})")
            elif not self.status & STATUS_DRIVER:
                self.fail(t, f"driver features written ({value:#x}) before DRIVER (status {bits(self.status)})")
            self.features_written = True
        elif rel in QUEUE_SETUP and not self._usable():
            self.fail(t, f"{QUEUE_SETUP[rel]} written ({value:#x}) before FEATURES_OK was {self._fok_state()}")

    def _fok_state(self) -> str:
        if not self.fok_written:
            return "written"
        return "read back" if self.fok_readback is None else "read back set (it read back clear)"

    def _status_write(self, t: float, value: int) -> None:
        if value == 0:
            self._clear()
            self.seen = True
            return
        cleared = self.status & ~value
        if self.fok_readback is False:
            cleared &= ~STATUS_FEATURES_OK  # the device took it back: the driver's next write may lack it
        if cleared:
            self.fail(t, f"device_status {bits(value)} clears {bits(cleared)} (status was {bits(self.status)})")
        new = value & ~self.status
        if new & STATUS_DRIVER and not self.status & STATUS_ACKNOWLEDGE:
            self.fail(t, f"DRIVER set before ACKNOWLEDGE (status {bits(value)})")
        if new & STATUS_FEATURES_OK:
            if not self.status & STATUS_DRIVER:
                self.fail(t, f"FEATURES_OK set before DRIVER (status {bits(value)})")
            elif not self.features_written:
                self.fail(t, "FEATURES_OK set before any driver feature was written")
            self.fok_written = True
            self.fok_readback = None
        if new & STATUS_DRIVER_OK:
            if not self.fok_written:
                self.fail(t, f"DRIVER_OK without FEATURES_OK (status {bits(value)})")
            elif self.fok_readback is None:
                self.fail(t, "DRIVER_OK before device_status was read back after FEATURES_OK")
            elif not self.fok_readback:
                self.fail(t, "DRIVER_OK although FEATURES_OK read back clear (the device refused the features)")
        self.status |= value
