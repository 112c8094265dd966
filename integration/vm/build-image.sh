#!/usr/bin/env bash
# Builds (once, cached outside the repository) a small Debian 12 VM image
# with systemd and the unified cgroup v2 hierarchy, from Debian packages
# only: debootstrap, the Debian kernel, gcc, python3, git, make.
# Usage: build-image.sh CACHE_DIR
set -euo pipefail
cache=${1:?cache dir}
mkdir -p "$cache"
stamp="$cache/image.stamp"
want="v4 bookworm systemd dbus gcc python3 git make util-linux"
if [ -f "$cache/rootfs.img" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "vm: using the cached image in $cache"
  exit 0
fi

# The mirror is the host's own apt source (nothing is hard-coded here).
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || { echo "vm: no Debian mirror found in the host's apt sources" >&2; exit 1; }

root="$cache/root"
rm -rf "$root" "$cache/rootfs.img"
echo "vm: debootstrap bookworm from the host's mirror (a few minutes)"
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,udev,linux-image-amd64,kmod,util-linux,procps,iproute2,ca-certificates,python3,python3-venv,gcc,libc6-dev,make,git \
  bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 || { tail -20 "$cache/debootstrap.log"; exit 1; }

# Boot into the test unit, then power off.
echo openclaw-vm >"$root/etc/hostname"
printf '/dev/vda / ext4 rw,relatime 0 1\n' >"$root/etc/fstab"
chroot "$root" useradd -m -s /bin/sh openclaw
mkdir -p "$root/opt/openclaw"
cat >"$root/etc/systemd/system/openclaw-vm-test.service" <<'UNIT'
[Unit]
Description=openclaw-run VM test suite
After=multi-user.target dbus.service
Wants=dbus.service
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'mount -o ro /dev/vdb /opt/openclaw && exec /opt/openclaw/vm-tests.sh'
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
ExecStopPost=/bin/systemctl poweroff --force
[Install]
WantedBy=default.target
UNIT
chroot "$root" systemctl enable openclaw-vm-test.service >/dev/null 2>&1
chroot "$root" systemctl mask getty@tty1.service serial-getty@ttyS0.service >/dev/null 2>&1 || true
# The newest kernel, and its initramfs (debootstrap may bring two).
kver=$(ls -1 "$root"/boot/vmlinuz-* | sed 's|.*/vmlinuz-||' | sort -V | tail -1)
[ -f "$root/boot/initrd.img-$kver" ] || chroot "$root" update-initramfs -c -k "$kver" >/dev/null
cp "$root/boot/vmlinuz-$kver" "$cache/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$cache/initrd.img"
mkfs.ext4 -q -F -L root -d "$root" "$cache/rootfs.img" 4G
rm -rf "$root"
echo "$want" >"$stamp"
echo "vm: image ready in $cache"
