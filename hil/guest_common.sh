#!/bin/sh
# Runs inside the HIL guest, chrooted into the host root (same paths as on the host). Finds the
# transitional virtio-net function (1af4:1000) and runs the bring-up on it with the system Python (only the
# standard library is needed on this path). Results go to the writable share, mounted at /mnt. The host
# compiled every module the run imports into hil_pycache (PYTHONPYCACHEPREFIX): compiling asyncio under
# TCG over 9p takes a minute otherwise.
#   hil_backend=uio|vfio  hil_repo=/path/to/repo  hil_tmo=seconds  hil_args="..." (from the kernel cmdline)
backend=${hil_backend:?}
repo=${hil_repo:?}
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
bdf=""
for d in /sys/bus/pci/devices/*; do
    if [ "$(cat $d/vendor)" = 0x1af4 ] && [ "$(cat $d/device)" = 0x1000 ]; then bdf=$(basename $d); break; fi
done
echo "HIL: backend $backend, virtio-net at ${bdf:-none}, kernel $(uname -r)"
if [ -z "$bdf" ]; then echo 2 > /mnt/$backend.rc; exit 2; fi
cd "$repo" || exit 2
start=$(cat /proc/uptime)
PYTHONPATH="$repo" PYTHONDONTWRITEBYTECODE=1 PYTHONPYCACHEPREFIX="${hil_pycache:-}" timeout "${hil_tmo:-240}" /usr/bin/python3.11 -m tb.bringup \
    --target "pci:$bdf" --backend "$backend" --json "/mnt/$backend.json" $(echo "${hil_args:-}" | tr ',' ' ') \
    > "/mnt/$backend.out" 2>&1
rc=$?
echo "HIL: bring-up exit $rc (uptime $start -> $(cat /proc/uptime))"
cat "/mnt/$backend.out"
echo $rc > "/mnt/$backend.rc"
