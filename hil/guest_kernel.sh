#!/bin/sh
# Runs inside the HIL guest (q35 + intel-iommu, intel_iommu=on), chrooted into the host root: the kernel-vs-model
# plan the host wrote to /mnt/kcmp_plan.json (hil/kernel_guest.py), with the system Python in one process; results
# in /mnt/kcmp/. As guest_common.sh: the host's module bundle (hil_bundle) and pycache (hil_pycache) spare the
# guest the module lookups over 9p.
#   hil_repo=/path/to/repo hil_tmo=seconds hil_pycache=dir hil_bundle=zip (kernel cmdline)
repo=${hil_repo:?}
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
echo "HIL: kernel-vs-model plan"
cd "$repo" || { mkdir -p /mnt/kcmp; echo 2 > /mnt/kcmp/done; exit 2; }
read start _ < /proc/uptime
PYTHONPATH="${hil_bundle:+$hil_bundle:}$repo" PYTHONDONTWRITEBYTECODE=1 PYTHONPYCACHEPREFIX="${hil_pycache:-}" \
    timeout "${hil_tmo:-600}" /usr/bin/python3.11 -S -P -m hil.kernel_guest /mnt/kcmp_plan.json
rc=$?
read end _ < /proc/uptime
echo "HIL: python exit $rc (uptime $start -> $end)"
[ -f /mnt/kcmp/done ] || { mkdir -p /mnt/kcmp; echo "$rc" > /mnt/kcmp/done; }
