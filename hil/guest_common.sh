#!/bin/sh
# Runs inside the HIL guest, chrooted into the host root (same paths as on the host). Runs the plan the
# host wrote to the writable share (/mnt/plan.json: which functions, which bring-up arguments) with the
# system Python, in one process (hil/guest_plan.py; only the standard library is needed on this path).
# Results go to /mnt/<run>/. The host compiled every module the runs import into one zip (hil_bundle,
# hil/pybundle.py) and into hil_pycache (PYTHONPYCACHEPREFIX): under TCG over 9p each module lookup costs
# the guest up to a second, and compiling asyncio here takes a minute.
#   hil_backend=uio|vfio hil_repo=/path/to/repo hil_tmo=seconds hil_pycache=dir hil_bundle=zip (kernel cmdline)
backend=${hil_backend:?}
repo=${hil_repo:?}
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
# (no shell loops here: every command is an exec over 9p under TCG, about a second each)
echo "HIL: backend $backend"
cd "$repo" || { echo 2 > /mnt/plan.done; exit 2; }
read start _ < /proc/uptime
PYTHONPATH="${hil_bundle:+$hil_bundle:}$repo" PYTHONDONTWRITEBYTECODE=1 PYTHONPYCACHEPREFIX="${hil_pycache:-}" \
    timeout "${hil_tmo:-240}" /usr/bin/python3.11 -S -P -m hil.guest_plan /mnt/plan.json
rc=$?
read end _ < /proc/uptime
echo "HIL: python exit $rc (uptime $start -> $end)"
[ -f /mnt/plan.done ] || echo "$rc" > /mnt/plan.done
