"""include/linux/virtio_net.h and the skb constants of 2.6.31 the virtio_net driver uses.

The feature bits, the virtio_net_hdr (10 bytes) and virtio_net_hdr_mrg_rxbuf (12: num_buffers follows)
layouts, and the sizes the receive path allocates by (MAX_PACKET_LEN, GOOD_COPY_LEN, PAGE_SIZE,
MAX_SKB_FRAGS). Kept apart from virtio_net.py so the receive path (virtio_net_rx.py) shares them without an
import cycle.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# include/linux/virtio_net.h
VIRTIO_NET_F_CSUM = 0
VIRTIO_NET_F_GUEST_CSUM = 1
VIRTIO_NET_F_MAC = 5
VIRTIO_NET_F_GSO = 6
VIRTIO_NET_F_GUEST_TSO4 = 7
VIRTIO_NET_F_GUEST_TSO6 = 8
VIRTIO_NET_F_GUEST_ECN = 9
VIRTIO_NET_F_GUEST_UFO = 10
VIRTIO_NET_F_HOST_TSO4 = 11
VIRTIO_NET_F_HOST_TSO6 = 12
VIRTIO_NET_F_HOST_ECN = 13
VIRTIO_NET_F_HOST_UFO = 14
VIRTIO_NET_F_MRG_RXBUF = 15
VIRTIO_NET_F_STATUS = 16
VIRTIO_NET_F_CTRL_VQ = 17
VIRTIO_NET_F_CTRL_RX = 18
VIRTIO_NET_F_CTRL_VLAN = 19
VIRTIO_NET_S_LINK_UP = 1

MAX_SKB_FRAGS = 18  # 65536 / PAGE_SIZE + 2

# virtio_net_hdr.flags / gso_type
VIRTIO_NET_HDR_F_NEEDS_CSUM = 1
VIRTIO_NET_HDR_GSO_NONE = 0
VIRTIO_NET_HDR_GSO_TCPV4 = 1
VIRTIO_NET_HDR_GSO_UDP = 3
VIRTIO_NET_HDR_GSO_TCPV6 = 4
VIRTIO_NET_HDR_GSO_ECN = 0x80

VIRTIO_NET_HDR_LEN = 10  # sizeof(struct virtio_net_hdr)
VIRTIO_NET_HDR_MRG_RXBUF_LEN = 12  # sizeof(struct virtio_net_hdr_mrg_rxbuf)

# include/linux/if_ether.h, if_vlan.h, mm: what drivers/net/virtio_net.c sizes its receive buffers by
ETH_HLEN = 14
VLAN_HLEN = 4
ETH_DATA_LEN = 1500
MAX_PACKET_LEN = ETH_HLEN + VLAN_HLEN + ETH_DATA_LEN  # 1518: "FIXME: MTU in config."
GOOD_COPY_LEN = 128
NET_IP_ALIGN = 2
PAGE_SIZE = 4096


@dataclass
class VirtioNetHdr:
    """struct virtio_net_hdr (+ num_buffers of virtio_net_hdr_mrg_rxbuf), little-endian as on x86."""

    flags: int = 0
    gso_type: int = VIRTIO_NET_HDR_GSO_NONE
    hdr_len: int = 0
    gso_size: int = 0
    csum_start: int = 0
    csum_offset: int = 0
    num_buffers: int = 0

    @classmethod
    def unpack(cls, raw: bytes) -> VirtioNetHdr:
        flags, gso_type, hdr_len, gso_size, csum_start, csum_offset = struct.unpack_from("<BBHHHH", raw)
        num_buffers = struct.unpack_from("<H", raw, 10)[0] if len(raw) >= VIRTIO_NET_HDR_MRG_RXBUF_LEN else 0
        return cls(flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers)
