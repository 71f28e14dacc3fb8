#!/bin/bash
# Build (or reuse) the cached Debian 12 guest image for the QEMU system tests.
#
# Usage: tests/system/build-image.sh [--force] [--check] [--key] [--prune]
#
# Prints the image directory (containing base.qcow2, vmlinuz, initrd.img,
# manifest) as the last line on stdout; progress goes to stderr.
#
#   --force   rebuild even if a cached image with the same key exists
#   --check   exit 0 if the image for the current inputs is cached, 1 if not
#   --key     print the cache key and exit
#   --prune   after ensuring the current image, delete other cached images
#             (done automatically after a new build; images in use by a
#             running guest are kept)
#
# Environment:
#   SYSTEST_CACHE   cache directory (default /var/cache/libreactor-systest)
#   SYSTEST_MIRROR  Debian mirror URL (default: read from the host's apt config)
#
# The cache key is a hash of this script and the files under image/ that go
# into the image (package list, module list, systemd unit, guest runner).
# The build happens in a temporary directory inside the cache and is renamed
# into place when complete, under an flock, so concurrent runs build once and
# an interrupted build never leaves a half-made image behind.
#
# Exit codes: 0 ok, 1 build failed, 77 cannot build here (not root, mirror
# unreachable, tools missing and not installable).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${SYSTEST_CACHE:-/var/cache/libreactor-systest}
SUITE=bookworm
ARCH=amd64
# Modules the initramfs needs to mount the root fs (MODULES=list).
INITRAMFS_MODULES=(virtio_pci virtio_blk ext4 crc32c_intel crc32c_generic 9p 9pnet_virtio)
IMAGE_SIZE=2G

log() { echo "build-image: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
skip() { log "SKIP: $*"; exit 77; }

force=0 check=0 print_key=0 prune=0
for arg in "$@"; do
    case $arg in
        --force) force=1 ;;
        --check) check=1 ;;
        --key) print_key=1 ;;
        --prune) prune=1 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option: $arg (see --help)" ;;
    esac
done

inputs=("$HERE/build-image.sh" "$HERE/image/packages.txt" "$HERE/image/modules.txt"
    "$HERE/image/systest.service" "$HERE/image/systest-guest.sh")
KEY=$( {
    echo "$SUITE $ARCH"
    for f in "${inputs[@]}"; do
        printf '%s ' "${f##*/}"
        sha256sum <"$f"
    done
} | sha256sum | cut -c1-16)
IMG=$CACHE/images/$KEY

if ((print_key)); then echo "$KEY"; exit 0; fi
if ((check)); then [[ -f $IMG/ok ]]; exit; fi

# Is any process holding a file of image directory $1 open (a running guest)?
image_in_use() {
    find /proc/[0-9]*/fd -lname "$1/*" -print -quit 2>/dev/null | grep -q .
}

# Delete cached images other than the current one (after a new build, or
# with --prune), except those a running guest still uses as backing file.
do_prune() {
    ((prune)) || return 0
    local d
    for d in "$CACHE"/images/*; do
        [[ -d $d && $d != "$IMG" ]] || continue
        if image_in_use "$d"; then
            log "keeping old image $d: in use"
            continue
        fi
        log "pruning old image $d"
        chmod -R u+w "$d"
        rm -rf "$d"
    done
}

if [[ -f $IMG/ok && $force == 0 ]]; then
    log "cached image reused: $IMG ($(grep -h '^kernel=' "$IMG/manifest" 2>/dev/null || true))"
    do_prune
    echo "$IMG"
    exit 0
fi

((EUID == 0)) || skip "must run as root to build the guest image (debootstrap, chroot)"
"$HERE/deps.sh" || skip "host tools missing and could not be installed (see deps.sh)"

mkdir -p "$CACHE/images"
exec 9>"$CACHE/lock"
if ! flock -n 9; then
    log "another build holds $CACHE/lock; waiting"
    flock 9
fi
# Someone else may have built it while we waited.
if [[ -f $IMG/ok && $force == 0 ]]; then
    log "cached image reused (built concurrently): $IMG"
    do_prune
    echo "$IMG"
    exit 0
fi

# Remove a build directory, unmounting anything debootstrap or we left
# mounted inside it first (never rm -rf across a mount point).
remove_build_dir() {
    local dir=$1 mnt
    [[ -d $dir ]] || return 0
    while read -r mnt; do
        umount -l "$mnt" 2>/dev/null || true
    done < <(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
    rm -rf --one-file-system "$dir"
}

# Leftovers of interrupted builds (we hold the lock, so nobody is using them).
for stale in "$CACHE"/tmp.build.*; do
    [[ -e $stale ]] || continue
    log "removing stale build directory $stale"
    remove_build_dir "$stale"
done

# Find the host's Debian mirror (the one serving $SUITE main) in its apt
# configuration, both one-line .list and deb822 .sources formats.
detect_mirror() {
    local f uri
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        uri=$(awk -v s="$SUITE" '$1 == "deb" {
                i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if ($(i+1) == s) { print $i; exit } }' "$f")
        [[ -n $uri ]] && { echo "${uri%/}"; return 0; }
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        uri=$(awk -v s="$SUITE" '
            /^[[:space:]]*$/ { if (u != "" && ok) { print u; exit } u = ""; ok = 0; next }
            tolower($1) == "uris:" { u = $2 }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
            END { if (u != "" && ok) print u }' "$f" | head -n1)
        [[ -n $uri ]] && { echo "${uri%/}"; return 0; }
    done
    return 1
}

MIRROR=${SYSTEST_MIRROR:-$(detect_mirror || true)}
[[ -n $MIRROR ]] || skip "no Debian $SUITE mirror found in /etc/apt/sources.list* (set SYSTEST_MIRROR)"

BUILD=$(mktemp -d "$CACHE/tmp.build.XXXXXX")
ROOT=$BUILD/rootfs
OUT=$BUILD/out
cleanup() {
    local rc=$?
    remove_build_dir "$BUILD"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "checking mirror $MIRROR"
if ! timeout 60 /usr/lib/apt/apt-helper download-file \
    "$MIRROR/dists/$SUITE/Release" "$BUILD/Release" >/dev/null 2>&1; then
    skip "Debian mirror $MIRROR not reachable: cannot build the guest image"
fi

start=$SECONDS
mapfile -t packages < <(sed 's/#.*//; s/[[:space:]]//g; /^$/d' "$HERE/image/packages.txt")
include=$(IFS=,; echo "${packages[*]}")

log "debootstrap $SUITE ($ARCH) from $MIRROR (log: $BUILD/debootstrap.log)"
if ! debootstrap --variant=minbase --arch="$ARCH" --include="$include" \
    "$SUITE" "$ROOT" "$MIRROR" >"$BUILD/debootstrap.log" 2>&1; then
    tail -n 30 "$BUILD/debootstrap.log" >&2
    [[ -f $ROOT/debootstrap/debootstrap.log ]] && tail -n 30 "$ROOT/debootstrap/debootstrap.log" >&2
    die "debootstrap failed"
fi
log "debootstrap done ($((SECONDS - start))s)"

in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }

# Initramfs: only the modules needed to mount the root fs (halves boot time).
printf '%s\n' "${INITRAMFS_MODULES[@]}" >"$ROOT/etc/initramfs-tools/modules"
cat >"$ROOT/etc/initramfs-tools/conf.d/systest.conf" <<'EOF'
MODULES=list
COMPRESS=gzip
EOF
# No docs or locales from here on.
cat >"$ROOT/etc/dpkg/dpkg.cfg.d/01-systest-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod +x "$ROOT/usr/sbin/policy-rc.d"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
echo "deb $MIRROR $SUITE main" >"$ROOT/etc/apt/sources.list"

mount -t proc proc "$ROOT/proc"
log "installing linux-image-$ARCH in the chroot"
if ! in_root apt-get install -y -q --no-install-recommends "linux-image-$ARCH" \
    >"$BUILD/kernel-install.log" 2>&1; then
    tail -n 30 "$BUILD/kernel-install.log" >&2
    die "kernel install failed"
fi
umount "$ROOT/proc"

KVER=$(find "$ROOT/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1)
[[ -n $KVER && -f $ROOT/boot/vmlinuz-$KVER && -f $ROOT/boot/initrd.img-$KVER ]] ||
    die "kernel or initramfs missing in the chroot"
log "kernel $KVER installed ($((SECONDS - start))s)"

# Keep only the listed modules and their dependencies (the host may have no
# kmod: use the chroot's modprobe/depmod).
keep=$BUILD/keep-modules
: >"$keep"
mapfile -t wanted < <(sed 's/#.*//; s/[[:space:]]//g; /^$/d' "$HERE/image/modules.txt")
for m in "${wanted[@]}" "${INITRAMFS_MODULES[@]}"; do
    if ! deps=$(in_root modprobe -S "$KVER" --show-depends "$m" 2>/dev/null); then
        log "note: module $m not found in $KVER (ignored)"
        continue
    fi
    awk '$1 == "insmod" { print $2 }' <<<"$deps" >>"$keep"
done
moddir=$ROOT/usr/lib/modules/$KVER
[[ -d $moddir ]] || moddir=$ROOT/lib/modules/$KVER
while IFS= read -r -d '' ko; do
    rel=/lib/modules/$KVER/${ko#"$moddir"/}
    grep -qxF "$rel" "$keep" || grep -qxF "/usr$rel" "$keep" || rm -f "$ko"
done < <(find "$moddir/kernel" -type f -name '*.ko*' -print0)
find "$moddir/kernel" -type d -empty -delete
in_root depmod "$KVER"
log "kept $(find "$moddir/kernel" -type f -name '*.ko*' | wc -l) kernel modules"

# Guest configuration.
echo systest >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tsystest\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
printf '/dev/vda\t/\text4\trw,errors=remount-ro\t0\t0\n' >"$ROOT/etc/fstab"
: >"$ROOT/etc/resolv.conf"
rm -f "$ROOT/etc/machine-id" "$ROOT/var/lib/dbus/machine-id"
: >"$ROOT/etc/machine-id"
in_root passwd -d root >/dev/null
mkdir -p "$ROOT/etc/systemd/system/serial-getty@ttyS0.service.d" "$ROOT/etc/systemd/journald.conf.d"
# Root auto-login on the serial console, only for run-guest.sh --interactive
# (a login prompt would just clutter console.log of a test run).
cat >"$ROOT/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'EOF'
[Unit]
ConditionKernelCommandLine=!systest=1

[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 %I $TERM
EOF
printf '[Journal]\nStorage=volatile\nForwardToConsole=no\n' >"$ROOT/etc/systemd/journald.conf.d/systest.conf"
cat >"$ROOT/etc/profile.d/systest.sh" <<'EOF'
# Same environment as a test run gets (for run-guest.sh --interactive).
export SYSTEST_SHARE=/mnt/host SYSTEST_LIB=/mnt/host/lib SYSTEST_FILES=/mnt/host/files SYSTEST_OUT=/mnt/host/out
EOF
install -m 0644 "$HERE/image/systest.service" "$ROOT/etc/systemd/system/systest.service"
install -m 0755 "$HERE/image/systest-guest.sh" "$ROOT/usr/local/sbin/systest-guest"
mkdir -p "$ROOT/mnt/host"
systemctl --root="$ROOT" enable systest.service >/dev/null 2>&1
systemctl --root="$ROOT" set-default multi-user.target >/dev/null 2>&1
for unit in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
    e2scrub_reap.service fstrim.timer getty@tty1.service systemd-timesyncd.service \
    nvmefc-boot-connections.service nvmf-autoconnect.service; do
    systemctl --root="$ROOT" mask "$unit" >/dev/null 2>&1 || true
done

# Strip what a test VM does not need.
rm -f "$ROOT/usr/sbin/policy-rc.d"
rm -rf "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* \
    "$ROOT"/usr/share/locale/* "$ROOT"/usr/share/lintian "$ROOT"/var/cache/apt/*.bin \
    "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* \
    "$ROOT"/var/log/*.log "$ROOT"/var/log/apt/* "$ROOT/debootstrap"

mkdir -p "$OUT"
cp "$ROOT/boot/vmlinuz-$KVER" "$OUT/vmlinuz"
cp "$ROOT/boot/initrd.img-$KVER" "$OUT/initrd.img"
rm -f "$ROOT"/boot/vmlinuz-* "$ROOT"/boot/initrd.img-* "$ROOT"/boot/System.map-*

log "creating ext4 root filesystem ($(du -sh "$ROOT" | cut -f1) of files)"
truncate -s "$IMAGE_SIZE" "$BUILD/root.raw"
mkfs.ext4 -q -F -L systest-root -d "$ROOT" "$BUILD/root.raw"
qemu-img convert -O qcow2 "$BUILD/root.raw" "$OUT/base.qcow2"
rm -f "$BUILD/root.raw"

cat >"$OUT/manifest" <<EOF
key=$KEY
suite=$SUITE
arch=$ARCH
kernel=$KVER
mirror=$MIRROR
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
build_seconds=$((SECONDS - start))
EOF
touch "$OUT/ok"
chmod a-w "$OUT"/*
[[ -e $IMG ]] && { chmod -R u+w "$IMG"; rm -rf "$IMG"; }   # --force
mv "$OUT" "$IMG"
log "built image in $((SECONDS - start))s: $IMG ($(du -sh "$IMG" | cut -f1))"
prune=1
do_prune
echo "$IMG"
