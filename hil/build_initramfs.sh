#!/bin/sh
# Build the HIL guest's initramfs: busybox-static, the modules that mount the host root over 9p, and
# hil/init.sh as /init. Everything else (python3, modprobe, the other modules, the repo) comes from the
# host root, which /init mounts read-only over 9p and chroots into.
#   usage: hil/build_initramfs.sh KERNEL_VERSION OUT.cpio.gz
set -eu
kver=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
moddir=/lib/modules/$kver
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "busybox missing: apt-get install busybox-static" >&2; exit 1; }
file -L "$busybox" 2>/dev/null | grep -q "statically linked" || \
    ldd "$busybox" 2>&1 | grep -q "not a dynamic" || { echo "$busybox is not static: apt-get install busybox-static" >&2; exit 1; }
[ -d "$moddir" ] || { echo "$moddir missing: apt-get install linux-image-amd64" >&2; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/host" "$root/lib/modules"
cp "$busybox" "$root/bin/busybox"
for applet in sh mount umount insmod chroot sleep cat echo mkdir sed poweroff sync; do
    ln -s busybox "$root/bin/$applet"
done
# load order = dependency order (modinfo -F depends)
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci netfs fscache 9pnet \
         9pnet_virtio 9p; do
    f=$(modinfo -k "$kver" -F filename "$m")
    case "$f" in
        *.ko) cp "$f" "$root/lib/modules/$m.ko" ;;
        *.ko.xz) xz -dc "$f" > "$root/lib/modules/$m.ko" ;;
        *.ko.zst) zstd -dc "$f" > "$root/lib/modules/$m.ko" ;;
        *) echo "module $m: unexpected file $f" >&2; exit 1 ;;
    esac
done
echo "virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p" \
    > "$root/lib/modules/order"
cp "$here/init.sh" "$root/init"
chmod 755 "$root/init"
mkdir -p "$(dirname "$out")"
(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$out.tmp"
mv "$out.tmp" "$out"
echo "initramfs: $out ($(wc -c < "$out") bytes, kernel $kver)"
