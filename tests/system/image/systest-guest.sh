#!/bin/bash
# Baked into the guest image as /usr/local/sbin/systest-guest (see
# systest.service). Mounts the host share, runs the test script the host put
# there, writes guest.log and exit-code into the share, then powers off.
#
# Kernel command line:
#   systest=1            run /mnt/host/test.sh, record the result, power off
#   systest=interactive  only mount the share and bring up lo (debugging)
set -uo pipefail

SHARE=/mnt/host
mode=
read -r -a cmdline </proc/cmdline
for arg in "${cmdline[@]}"; do
    case $arg in
        systest=*) mode=${arg#systest=} ;;
    esac
done

say() { echo "systest-guest: $*" >/dev/console; }

mkdir -p "$SHARE"
if ! mountpoint -q "$SHARE"; then
    modprobe 9pnet_virtio 2>/dev/null || true
    if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none hostshare "$SHARE"; then
        say "cannot mount the 9p host share (mount_tag hostshare)"
        [[ $mode == interactive ]] && exit 0
        sleep 1
        systemctl poweroff --force
        exit 1
    fi
fi
ip link set lo up || true

if [[ $mode == interactive ]]; then
    say "interactive mode: host share at $SHARE, test script (if any) at $SHARE/test.sh"
    exit 0
fi

args=()
if [[ -f $SHARE/args ]]; then
    mapfile -d '' -t args <"$SHARE/args"
fi

export SYSTEST_SHARE=$SHARE
export SYSTEST_LIB=$SHARE/lib
export SYSTEST_FILES=$SHARE/files
export SYSTEST_OUT=$SHARE/out
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
mkdir -p "$SYSTEST_OUT"
cd /root || true

say "running test ($(uname -r), $(nproc) cpus, uptime $(cut -d' ' -f1 /proc/uptime)s)"
# The log goes to the share as it is written (cache=none), so a hung test's
# partial log survives the host killing the VM; it also goes to the console.
bash "$SHARE/test.sh" "${args[@]}" </dev/null 2>&1 | tee "$SHARE/guest.log" >/dev/console
rc=${PIPESTATUS[0]}
say "test exited with $rc (uptime $(cut -d' ' -f1 /proc/uptime)s)"

dmesg >"$SHARE/dmesg.log" 2>&1 || true
echo "$rc" >"$SHARE/exit-code.tmp" && mv "$SHARE/exit-code.tmp" "$SHARE/exit-code"
sync
umount "$SHARE" 2>/dev/null || true
systemctl poweroff --force
