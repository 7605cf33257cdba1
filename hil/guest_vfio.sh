#!/bin/sh
# vfio-pci path (q35 + intel-iommu, intel_iommu=on): MSI-X and INTx through eventfds.
hil_backend=vfio
export hil_backend
. "$(dirname "$0")/guest_common.sh"
