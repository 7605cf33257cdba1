#!/bin/sh
# uio_pci_generic + sysfs path (pc machine, no IOMMU): INTx only.
hil_backend=uio
export hil_backend
. "$(dirname "$0")/guest_common.sh"
