#!/bin/sh
# Runs inside the HIL guest, chrooted into the host root (same paths as on the host). Runs the plan the
# host wrote to the writable share (/mnt/plan.json: which functions, which bring-up arguments) with the
# system Python, in one process (hil/guest_plan.py; only the standard library is needed on this path).
# Results go to /mnt/<run>/. The host compiled every module the runs import into hil_pycache
# (PYTHONPYCACHEPREFIX): compiling asyncio under TCG over 9p takes a minute otherwise.
#   hil_backend=uio|vfio  hil_repo=/path/to/repo  hil_tmo=seconds  hil_pycache=dir (from the kernel cmdline)
backend=${hil_backend:?}
repo=${hil_repo:?}
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
echo "HIL: backend $backend, kernel $(uname -r), PCI functions:"
for d in /sys/bus/pci/devices/*; do
    drv=$(basename "$(readlink $d/driver 2>/dev/null)" 2>/dev/null)
    echo "HIL:   $(basename $d) $(cat $d/vendor):$(cat $d/device) class $(cat $d/class) driver ${drv:-none}"
done
cd "$repo" || { echo 2 > /mnt/plan.done; exit 2; }
start=$(cat /proc/uptime)
PYTHONPATH="$repo" PYTHONDONTWRITEBYTECODE=1 PYTHONPYCACHEPREFIX="${hil_pycache:-}" \
    timeout "${hil_tmo:-240}" /usr/bin/python3.11 -S -m hil.guest_plan /mnt/plan.json
rc=$?
echo "HIL: python exit $rc (uptime $start -> $(cat /proc/uptime))"
[ -f /mnt/plan.done ] || echo "$rc" > /mnt/plan.done
