"""7. The wire scoreboard: every frame the driver queued leaves the device exactly once, in order, byte-exact.

Judged frame by frame as each leaves (so a failure names the cycle), and once more at the end of a run
(``finish``: nothing missing). Frames a device reset cut short (``tuser`` set on the last beat) are not
frames; a new transmit run (``attach_sent``) starts a new expectation after what the wire carried so far.
"""

from __future__ import annotations

from tb.checkers.base import Checker


class WireScoreboard(Checker):
    name = "wire_scoreboard"
    rule = "every frame the driver queued appears on the wire exactly once, in order, byte-exact"

    def __init__(self, hub):
        super().__init__(hub)
        self.sent: list[bytes] | None = None
        self.got = 0

    def attach_sent(self, sent: list[bytes]) -> None:
        self.sent = sent
        self.got = 0

    def on_frame(self, t: float, data: bytes, aborted: bool) -> None:
        if self.hub.loopback:
            self.fail(t, f"a frame ({len(data)} bytes) left on m_axis_tx in loopback mode: TX frames go to RX")
            return
        if aborted or self.sent is None:
            return
        self.events += 1
        k, sent = self.got, self.sent
        self.got += 1
        if k < len(sent) and data == sent[k]:
            return
        if k >= 1 and k - 1 < len(sent) and data == sent[k - 1]:
            msg = f"wire frame {k} is a duplicate of frame {k - 1} ({len(data)} bytes)"
            self.got -= 1
        elif k + 1 < len(sent) and data == sent[k + 1]:
            msg = f"frame {k} is missing: wire frame {k} carries the driver's frame {k + 1}"
            self.got += 1
        elif k >= len(sent):
            msg = f"wire frame {k}: the driver queued only {len(sent)} frames so far"
        else:
            want = sent[k]
            first = next((i for i in range(min(len(want), len(data))) if want[i] != data[i]), min(len(want), len(data)))
            msg = f"wire frame {k}: {len(data)} bytes, expected {len(want)}; first difference at byte {first}"
        self.fail(t, msg, seq=int.from_bytes(data[14:18], "big") if len(data) >= 18 else None)

    def finish(self, t: float) -> None:
        if self.hub.loopback:
            return  # the frames went into the RX queue: rx_delivery judges them
        if self.sent is not None and self.got != len(self.sent):
            self.fail(t, f"the wire carried {self.got} frames of the {len(self.sent)} the driver queued")
