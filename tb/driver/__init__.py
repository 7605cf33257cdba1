"""The Linux driver model: virtio_ring.c, virtio_pci.c (legacy) and virtio_net.c of the b0c39dbd era."""
