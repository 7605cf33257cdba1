"""The receive side: what the device writes into the driver's RX buffers, and what becomes of every frame.

Inputs as for every checker (tb/checkers/hub.py): the device's DMA writes, the driver's writes of host memory
(the RX chains it publishes, walked from the shadow), and the frames the device took from the network side
(``on_rx_frame``: the bytes handed over on s_axis_rx, and whether the MAC marked the frame bad). Layouts and
header sizes are the specification's (tb/checkers/spec.py, virtio 5.1.6).

* ``rx_used_len``: a used element of a chain with device-writable buffers says exactly how many bytes the
  device wrote into it, and those bytes are the first ``len`` of the chain (spec 2.7.8: len is "the total
  length of the descriptor chain which was used (written to)"; a driver reads the first len bytes).
  Writes outside the writable buffers of the chains the device holds, or past a buffer's end, are
  ``dma_write_target``'s (tb/checkers/device_rings.py).
* ``rx_delivery``: each used.idx write of the RX queue publishes whole packets: a virtio_net_hdr (10 bytes;
  12 with MRG_RXBUF, whose num_buffers says how many chains the packet spans) with flags 0 and GSO_NONE,
  then the frame. The frames published must be the frames taken from the wire, in order, each once,
  byte-exact, never one the MAC marked bad; a frame skipped is a drop, and the device must count every drop
  (BAR2 RX drop counters, as the bench reads them at the end of a run: ``finish``). A chain returned with
  used.len 0 carries no packet (the device drops a frame that does not fit the chain and returns the chain
  empty). On the driver's side (its trace events ``receive_skb``, ``netif_receive_skb``, ``rx_drop``), each
  packet it takes from the ring is the next one the device published, and a frame it hands to the stack is
  that packet's frame (length and CRC-32): nothing lost, reordered or altered between the ring and the stack.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from tb.checkers.base import Checker
from tb.checkers.shadow import Chain, QueueView, u16
from tb.checkers.spec import (
    RECEIVEQ,
    VIRTIO_F_VERSION_1,
    VIRTIO_NET_F_MRG_RXBUF,
    VIRTIO_NET_HDR_GSO_NONE,
    VIRTIO_NET_HDR_LEN,
    VIRTIO_NET_HDR_MRG_LEN,
)
from tb.device.debug_bar import DEBUG_BAR
from tb.device.dev_ctrl import REG_CNT_CLEAR, REG_RX_CNT_BASE, RX_COUNTERS


def _covered(written: dict[int, int]) -> list[tuple[int, int]]:
    """The byte ranges a chain's writes covered, merged and sorted."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(written.items()):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def chain_bytes(hub, chain: Chain, length: int) -> bytes:
    """The first ``length`` bytes of a chain's device-writable buffers, as host memory holds them."""
    out = bytearray()
    for a, n in chain.write_bufs:
        if len(out) >= length:
            break
        out += hub.mem.read(a, min(n, length - len(out)))
    return bytes(out)


class RxUsedLen(Checker):
    name = "rx_used_len"
    rule = (
        "a used element of a chain with device-writable buffers says how many bytes the device wrote into the "
        "chain, and those are the chain's first len bytes"
    )

    def on_dev_write(self, t: float, addr: int, data: bytes, tlp: str) -> None:
        q = self.hub.queue_at(addr)
        if q is None or not q.completed_now or q.part(addr)[0] != "used_elem":
            return
        for slot, head, chain in q.completed_now:
            if chain is None or not chain.write_bufs:
                continue  # no such chain: used_ring's; a TX chain: used_ring checks its len is 0
            self.events += 1
            ulen = self.hub.mem.read_int(q.used_elem_addr(slot) + 4, 4)
            covered = _covered(chain.written)
            wrote = sum(hi - lo for lo, hi in covered)
            if covered == ([(0, ulen)] if ulen else []):
                continue
            where = ", ".join(f"[{lo}, {hi})" for lo, hi in covered) or "nothing"
            self.fail(
                t,
                f"used element in slot {slot} (id {head}) of queue {q.index} has len {ulen}, but the device wrote "
                f"{wrote} bytes into the chain (offsets {where})",
                addr=q.used_elem_addr(slot) + 4,
                tlp=tlp,
                queue=q.index,
            )


@dataclass
class WireFrame:
    n: int  # position among the frames the device took from the wire
    t: float
    data: bytes
    bad: bool
    digest: tuple[int, int] | None = None  # (CRC-32, length) once compact() dropped the bytes

    def same(self, frame: bytes) -> bool:
        if self.digest is None:
            return self.data == frame
        return (zlib.crc32(frame), len(frame)) == self.digest


class RxDelivery(Checker):
    name = "rx_delivery"
    rule = (
        "the RX ring gets whole packets (virtio_net_hdr with flags 0, GSO_NONE and, with MRG_RXBUF, num_buffers, "
        "then the frame): the frames taken from the wire, in order, each once, byte-exact, none the MAC marked "
        "bad; every frame not delivered is counted in the device's RX drop counters"
    )

    def __init__(self, hub):
        super().__init__(hub)
        self.wire: list[WireFrame] = []
        self.next = 0  # the first wire frame not yet delivered or skipped
        self.delivered: list[bytes] = []  # the frames published to the driver, in order
        # every packet published, in used-ring order: (used.len of its first chain, frame or None for a chain
        # returned empty); the driver takes them in this order
        self.published: list[tuple[int, bytes | None]] = []
        self.taken = 0  # packets the driver took from the ring (receive_skb)
        self.current: tuple[int, bytes | None] | None = None  # the packet the driver is working on
        self.skipped: list[int] = []  # wire frames passed over (drops the device must have counted)
        self.empty_returns = 0  # chains returned with used.len 0 (a frame that did not fit: dropped)
        self.slot_chain: dict[int, tuple[Chain | None, int]] = {}  # used slot -> (chain, id) as written
        self.drops_counted: int | None = None  # the device's RX drop counters, summed, as last read
        self.t_counted = float("-inf")
        self.drop_regs: dict[int, int | None] = {
            REG_RX_CNT_BASE + 4 * i: None for i, name in enumerate(RX_COUNTERS) if name.startswith("rx_drop_")
        }
        self.sent: list[bytes] | None = None  # loopback: the frames the driver queued enter the RX queue
        self.sent_seen = 0
        self.compacted = (0, 0, 0)  # compact(): wire frames, packets taken, frames delivered already forgotten

    def on_reset(self, t: float) -> None:
        # frames in the device when it was reset are lost with its state: what was taken so far and not
        # delivered is judged against the counters as drops (a reset clears no counter). Packets published and
        # not taken by the driver go with its rings (remove frees them): the next driver starts after them.
        self.slot_chain.clear()
        del self.published[self.taken :]
        self.current = None

    def compact(self) -> None:
        """Forget the bytes of what is judged, so a long run's memory does not grow with its frames (the soak,
        tests/sim/test_soak.py, calls it between rounds): a wire frame before ``next`` keeps its CRC-32 and
        length (a later duplicate of it is still recognised by them), a packet the driver took only its used.len,
        a delivered frame only its place in the count."""
        w0, p0, d0 = self.compacted
        for w in self.wire[w0 : self.next]:
            if w.digest is None:
                w.digest, w.data = (zlib.crc32(w.data), len(w.data)), b""
        for k in range(p0, self.taken):
            self.published[k] = (self.published[k][0], None)
        for k in range(d0, len(self.delivered)):
            self.delivered[k] = b""
        self.compacted = (max(w0, self.next), max(p0, self.taken), len(self.delivered))

    def on_rx_frame(self, t: float, data: bytes, bad: bool) -> None:
        self.wire.append(WireFrame(len(self.wire), t, bytes(data), bad))

    def attach_sent(self, sent: list[bytes]) -> None:
        """A transmit run's frames, in ring order: in loopback mode they are the RX queue's frames."""
        self.sent, self.sent_seen = sent, 0

    def _sync_loopback(self, t: float) -> None:
        if self.sent is None or not self.hub.loopback:
            return
        for data in self.sent[self.sent_seen :]:
            self.on_rx_frame(t, data, False)
        self.sent_seen = len(self.sent)

    def on_host_bar(self, t: float, write: bool, bar: int, offset: int, size: int, value: int) -> None:
        """The RX drop counters as the bench reads them (BAR2 0x318..); a counter clear forgets them."""
        if bar != DEBUG_BAR:
            return
        if write and offset == REG_CNT_CLEAR:
            self.drop_regs = dict.fromkeys(self.drop_regs)
        elif not write and offset in self.drop_regs:
            self.drop_regs[offset] = value
            if all(v is not None for v in self.drop_regs.values()):
                self.counted(t, sum(v or 0 for v in self.drop_regs.values()))

    def on_dev_write(self, t: float, addr: int, data: bytes, tlp: str) -> None:
        q = self.hub.rx_queue()
        if q is None or not q.contains(addr):
            return
        part, _ = q.part(addr)
        if part == "used_elem":
            for slot, head, chain in q.completed_now:
                self.slot_chain[slot] = (chain, head)
        elif part == "used_idx" and len(data) >= 2:
            self.events += 1
            self._published(t, q, q.used_prev, q.used_written, tlp)

    def _published(self, t: float, q: QueueView, old: int, new: int, tlp: str) -> None:
        mrg = bool(self.hub.guest_features >> VIRTIO_NET_F_MRG_RXBUF & 1)
        # virtio 1.x 5.1.6: the header has num_buffers with MRG_RXBUF or VERSION_1 (the legacy interface's
        # 10-byte header only without both)
        modern = bool(self.hub.guest_features >> VIRTIO_F_VERSION_1 & 1)
        hdr_len = VIRTIO_NET_HDR_MRG_LEN if mrg or modern else VIRTIO_NET_HDR_LEN
        n = u16(new - old)
        if n > q.num:
            return  # used.idx going backwards or too far: used_ring reports it
        k = 0
        while k < n:
            slot = (old + k) % q.num
            chain, head = self.slot_chain.pop(slot, (None, -1))
            if chain is None:
                return  # no published chain behind it: used_ring reports it
            ulen = self.hub.mem.read_int(q.used_elem_addr(slot) + 4, 4)
            k += 1
            if ulen == 0:
                self.empty_returns += 1
                self.published.append((0, None))
                continue
            if ulen < hdr_len:
                self.fail(
                    t,
                    f"RX chain id {head} returned with len {ulen}: shorter than the {hdr_len}-byte header",
                    addr=q.used_elem_addr(slot),
                    tlp=tlp,
                )
                return
            first = chain_bytes(self.hub, chain, ulen)
            hdr, frame = first[:hdr_len], bytearray(first[hdr_len:])
            flags, gso_type = hdr[0], hdr[1]
            if flags != 0 or gso_type != VIRTIO_NET_HDR_GSO_NONE:
                self.fail(
                    t,
                    f"RX header of chain id {head} has flags {flags:#x}, gso_type {gso_type}: the device "
                    "offers no checksum or GSO feature, so both must be 0",
                    addr=chain.write_bufs[0][0],
                    tlp=tlp,
                )
            buffers = int.from_bytes(hdr[10:12], "little") if hdr_len == VIRTIO_NET_HDR_MRG_LEN else 1
            if not mrg and buffers != 1:
                # 5.1.6.3.1: "If VIRTIO_NET_F_MRG_RXBUF has not been negotiated, the device MUST set num_buffers to 1"
                self.fail(
                    t,
                    f"RX packet in chain id {head} says num_buffers {buffers} without MRG_RXBUF: it must be 1",
                    addr=chain.write_bufs[0][0],
                    tlp=tlp,
                )
                return
            if buffers < 1 or buffers - 1 > n - k:
                self.fail(
                    t,
                    f"RX packet in chain id {head} says num_buffers {buffers}, but this used.idx write "
                    f"({old} -> {new}) publishes {n - k} more chain(s) after it: a packet is published whole",
                    addr=q.used_idx_addr,
                    tlp=tlp,
                )
                return
            for _ in range(buffers - 1):
                slot = (old + k) % q.num
                more, _head = self.slot_chain.pop(slot, (None, -1))
                k += 1
                if more is None:
                    return
                mlen = self.hub.mem.read_int(q.used_elem_addr(slot) + 4, 4)
                frame += chain_bytes(self.hub, more, mlen)
            self.published.append((ulen, bytes(frame)))
            self._match(t, bytes(frame), head, q)

    def _match(self, t: float, frame: bytes, head: int, q: QueueView) -> None:
        self._sync_loopback(t)
        self.delivered.append(frame)
        for w in self.wire[self.next :]:
            if w.data == frame:
                if w.bad:
                    self.fail(
                        t,
                        f"RX chain id {head} delivered wire frame {w.n}, which the MAC marked bad (tuser)",
                        addr=q.used_idx_addr,
                    )
                self.skipped += range(self.next, w.n)
                self.next = w.n + 1
                return
        for w in self.wire[: self.next]:
            if w.same(frame):
                self.fail(
                    t,
                    f"RX chain id {head} delivered wire frame {w.n} again ({len(frame)} bytes): "
                    "each frame is delivered once, in order",
                    addr=q.used_idx_addr,
                )
                return
        want = self.wire[self.next] if self.next < len(self.wire) else None
        if want is None:
            self.fail(
                t,
                f"RX chain id {head} delivered {len(frame)} bytes, but no frame came from the wire "
                f"after the {self.next} already accounted for",
                addr=q.used_idx_addr,
                data=frame[:32].hex(),
            )
            return
        diff = next(
            (i for i, (a, b) in enumerate(zip(frame, want.data, strict=False)) if a != b),
            min(len(frame), len(want.data)),
        )
        self.fail(
            t,
            f"RX chain id {head} delivered {len(frame)} bytes that match no frame from the wire; the next one "
            f"due is frame {want.n} ({len(want.data)} bytes), first difference at byte {diff}",
            addr=q.used_idx_addr,
            got=frame[max(0, diff - 8) : diff + 8].hex(),
            want=want.data[max(0, diff - 8) : diff + 8].hex(),
        )

    def on_driver(self, t: float, kind: str, fields: dict) -> None:
        if kind == "receive_skb":
            self.events += 1
            if fields.get("vq") != RECEIVEQ:
                return
            if self.taken >= len(self.published):
                self.fail(
                    t,
                    f"the driver took packet {self.taken} (len {fields.get('len')}) from the RX ring, but "
                    f"the device published only {len(self.published)}",
                )
                return
            self.current = self.published[self.taken]
            self.taken += 1
            if fields.get("len") != self.current[0]:
                self.fail(
                    t,
                    f"the driver took packet {self.taken - 1} with len {fields.get('len')}, the device "
                    f"published it with used.len {self.current[0]}",
                )
        elif kind == "netif_receive_skb":
            cur, self.current = self.current, None
            frame = None if cur is None else cur[1]
            if frame is None:
                self.fail(
                    t,
                    f"the stack got a frame ({fields.get('len')} bytes) from a packet the device never "
                    "published with one",
                )
            elif fields.get("len") != len(frame) or fields.get("crc32") != zlib.crc32(frame):
                self.fail(
                    t,
                    f"the stack got {fields.get('len')} bytes (CRC-32 {fields.get('crc32', 0):#010x}) from packet "
                    f"{self.taken - 1}, which the device published as {len(frame)} bytes (CRC-32 "
                    f"{zlib.crc32(frame):#010x})",
                )
        elif kind == "rx_drop":
            self.current = None  # the driver dropped the packet it took (its reason is in the trace)

    # the drop counters, summed, as the bench reads them from the device (tb.device.dev_ctrl)
    def counted(self, t: float, drops: int) -> None:
        self.drops_counted, self.t_counted = drops, t

    def finish(self, t: float) -> None:
        self._sync_loopback(t)
        undelivered = len(self.skipped) + (len(self.wire) - self.next)
        if not self.wire and not self.delivered:
            return
        if self.drops_counted is None:
            if undelivered:
                self.fail(
                    t,
                    f"{undelivered} of {len(self.wire)} frames from the wire were not delivered "
                    "and the device's RX drop counters were never read: drops cannot be accounted for",
                )
            return
        if self.drops_counted != undelivered:
            self.fail(
                t,
                f"{len(self.wire)} frames came from the wire, {len(self.delivered)} were delivered, "
                f"{undelivered} were not (wire frames {self._some(self.skipped)}"
                f"{' and the last ' + str(len(self.wire) - self.next) if self.next < len(self.wire) else ''}), "
                f"but the device counted {self.drops_counted} drops",
            )

    @staticmethod
    def _some(ns: list[int]) -> str:
        return ", ".join(map(str, ns[:8])) + (" ..." if len(ns) > 8 else "") if ns else "none skipped"


class RxLostWakeup(Checker):
    """NAPI's promise (virtnet_poll: napi_complete, enable_cb, and the re-check when it says used buffers came
    in meanwhile): the receive path never sleeps while the device has published packets it has not taken."""

    name = "rx_lost_wakeup"
    rule = (
        "the RX queue's NAPI never stays idle (completed, not scheduled) for more than 20 us while the device "
        "has published RX buffers the driver has not taken (no lost wake-up)"
    )
    LIMIT_NS = 20_000.0

    def __init__(self, hub):
        super().__init__(hub)
        self.scheduled = False  # NAPI_STATE_SCHED, from napi_schedule / napi_complete events
        self.seen = False  # the driver runs a receive path (it traced NAPI at all)
        self.last_used_idx = 0  # the driver's, for the RX queue, from its get_buf events
        self.since: float | None = None

    def on_reset(self, t: float) -> None:
        self.scheduled = False
        self.last_used_idx = 0
        self.since = None

    def on_driver(self, t: float, kind: str, fields: dict) -> None:
        # ``seen``: NAPI is enabled (from napi_enable until a disable begins); only then is a wake-up owed
        if kind.startswith("napi_") and fields.get("napi"):
            return  # another NAPI instance (the transmit NAPI of the later drivers names itself)
        if kind == "napi_schedule":
            self.scheduled, self.since = True, None
        elif kind == "napi_complete":
            self.scheduled = False
        elif kind == "napi_enable":
            self.scheduled, self.seen = False, True
        elif kind in ("napi_disable_begin", "napi_disable"):
            self.scheduled, self.seen = True, False  # closing or closed: nothing is owed to a disabled NAPI
        elif kind == "get_buf" and fields.get("vq") == RECEIVEQ:
            self.last_used_idx = fields["last_used_idx"]
            self.since = None

    def poll(self, t: float) -> None:
        """Called periodically by the harness (every microsecond of simulated time)."""
        q = self.hub.rx_queue()
        if q is None or not self.seen:
            self.since = None
            return
        self.events += 1
        waiting = u16(q.used_written - self.last_used_idx)
        if self.scheduled or not waiting:
            self.since = None
            return
        if self.since is None:
            self.since = t
        elif t - self.since > self.LIMIT_NS:
            flags = self.hub.mem.read_int(q.avail, 2)
            self.fail(
                t,
                f"RX NAPI idle since cycle {int(self.since // 4)} while {waiting} published RX buffer(s) wait "
                f"(used.idx {q.used_written}, driver last_used_idx {self.last_used_idx}, avail.flags {flags}): "
                "a lost wake-up",
                addr=q.used_idx_addr,
            )
            self.since = None


class RxChainsWritable(Checker):
    """The driver's side of the RX queue: every buffer it makes available there is device-writable (virtio
    5.1.6.3: receive buffers are device-writable; a device-readable one gives the device nowhere to put a
    packet, and ours stops the queue with error 7)."""

    name = "rx_chains_writable"
    rule = "every buffer the driver makes available on the RX queue is device-writable (VIRTQ_DESC_F_WRITE)"

    def on_host_mem(self, t: float, write: bool, addr: int, data: bytes) -> None:
        q = self.hub.rx_queue()
        if not write or q is None or q.part(addr)[0] != "avail_idx":
            return
        for c in q.last_published:
            self.events += 1
            if len(c.write_bufs) != len(c.buffers):
                ro = [f"{a:#x}+{n}" for a, n in c.buffers if (a, n) not in c.write_bufs]
                self.fail(
                    t,
                    f"RX entry {c.index} (head {c.head}) has {len(ro)} device-readable buffer(s) ({', '.join(ro[:4])})",
                    addr=q.avail_idx_addr,
                    queue=q.index,
                )
