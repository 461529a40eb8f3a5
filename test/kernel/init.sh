#!/bin/sh
# PID 1 of the User-Mode Linux guest of the real-kernel tier (test/kernel/run.js boots it).
# Stage 1 (no argument): the host's / is our read-only hostfs root. Put a tmpfs overlay on it,
# point /lib/modules at UML's modules, and switch_root into it (with chroot, the kernel's module
# autoloader would look in the old root: crypto algorithms for ESP would not load).
# Stage 2 (argument "stage2"): mount the API file systems and the host's result folder, run
# the tests, write the exit code, power off.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
if [ "$1" != stage2 ]; then
  mount -t proc proc /proc
  mount -t tmpfs -o size=512m tmpfs /tmp
  mkdir -p /tmp/ov/up /tmp/ov/work /tmp/ov/root
  insmod "/usr/lib/uml/modules/$(uname -r)/kernel/fs/overlayfs/overlay.ko" || echo "kernel-tier: overlay.ko failed"
  mount -t overlay overlay -o lowerdir=/,upperdir=/tmp/ov/up,workdir=/tmp/ov/work /tmp/ov/root || { echo "kernel-tier: overlay mount failed"; echo o > /proc/sysrq-trigger; }
  mkdir -p /tmp/ov/root/lib/modules
  mount --bind /usr/lib/uml/modules /tmp/ov/root/lib/modules
  umount /proc
  exec switch_root /tmp/ov/root "$0" stage2 2>/dev/null
fi
exec 2>&1 # stage 1 silenced switch_root's warning that the old root is no initramfs
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /run /var/run /tmp
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
ln -sf /dev/pts/ptmx /dev/ptmx 2>/dev/null || true
# /tmp stays the overlay's (writable, and the host's /tmp shows through: a checkout there works).
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /dev/shm
mkdir -p /run/netns
# IPv6 is a module here: rtnetlink requests for AF_INET6 do not load it (only socket() does).
# ip6_tunnel adds its fallback device ip6tnl0 to every namespace: loaded now, a namespace has
# it from its start, not from whenever a test first creates a tunnel; ip6_gre likewise (ip6gre0;
# every DataPlane.open probes for it). ppp_generic makes
# /dev/ppp (devtmpfs has no node to open, so nothing would autoload it for pppd); pppoe is
# the PPPoE socket family pppd's rp-pppoe plugin opens.
modprobe -a ipv6 ip6_tunnel ip6_gre ppp_generic pppoe
ip link set lo up
out=/kernel-tier-out
mkdir -p "$out"
mount -t hostfs -o "$KT_OUT" none "$out" || { echo "kernel-tier: cannot mount the result folder $KT_OUT"; echo o > /proc/sysrq-trigger; }
if ! cd "$KT_REPO"; then echo "kernel-tier: cannot cd to $KT_REPO"; echo 99 > "$out/rc"; sync; echo o > /proc/sysrq-trigger; sleep 10; fi
code=0
env KT_OUT="$out" HOME=/root CI="$KT_CI" node test/kernel/guest.js || code=$?
echo "$code" > "$out/rc"
sync
echo o > /proc/sysrq-trigger
sleep 10
