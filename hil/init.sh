#!/bin/sh
# /init of the HIL guest: load the 9p modules, mount the host root read-only at /host (+ proc, sys, dev,
# a tmpfs /tmp and the writable share at /mnt), chroot into it and run the script named by hil_script= on
# the kernel command line, then power off. Every hil_*=value on the command line is exported.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/order); do
    insmod /lib/modules/$m.ko || echo "HIL: insmod $m failed"
done
for kv in $(cat /proc/cmdline); do
    case "$kv" in hil_*=*) export "$kv" ;; esac
done
echo "HIL: init up, script ${hil_script:-none}"
if mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /host; then
    mount -t proc proc /host/proc
    mount -t sysfs sys /host/sys
    mount -t devtmpfs dev /host/dev
    mount -t tmpfs tmp /host/tmp
    mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 share /host/mnt
    # the repository at its host path (under the tmpfs /tmp, the mount point has to be made first)
    if [ -n "$hil_repo" ]; then
        mkdir -p "/host$hil_repo" 2>/dev/null
        mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose repo "/host$hil_repo" ||
            echo "HIL: mounting the repository $hil_repo failed"
    fi
    chroot /host /bin/sh "$hil_script"
    echo "HIL: guest script exit $?"
    sync
else
    echo "HIL: mounting the host root over 9p failed"
fi
echo o > /proc/sysrq-trigger
sleep 10
