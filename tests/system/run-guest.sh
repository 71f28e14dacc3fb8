#!/bin/bash
# Boot the cached system-test guest in QEMU (TCG) and run one guest test.
#
# Usage: tests/system/run-guest.sh [OPTIONS] TEST_SCRIPT [ARGS...]
#        tests/system/run-guest.sh --interactive [OPTIONS] [TEST_SCRIPT]
#
# TEST_SCRIPT is a bash script run as root inside the guest (see tests/).
# In the guest it finds:
#   $SYSTEST_LIB    tests/system/lib/ (e.g. initiator-checks.sh)
#   $SYSTEST_FILES  the files given with --file (by base name)
#   $SYSTEST_OUT    a directory copied back to the host log directory (out/)
#
# Options:
#   --nvme N          number of emulated NVMe controllers (default 0)
#   --nvme-size SIZE  size of each NVMe namespace, sparse (default 256M)
#   --iommu on|off    q35 intel-iommu + intel_iommu=on, for vfio (default off)
#   --mem SIZE        guest memory, QEMU syntax (default 2G)
#   --cpus N          guest vCPUs (default 2)
#   --timeout SECS    kill the guest after SECS seconds (default 300)
#   --file PATH       copy PATH into the guest's $SYSTEST_FILES (repeatable)
#   --log-dir DIR     where to keep logs (default
#                     ${SYSTEST_LOG_DIR:-/tmp/libreactor-systest-logs}/TESTNAME)
#   --append ARGS     extra guest kernel command line arguments
#   --quiet           do not print the guest log (still saved in --log-dir)
#   --interactive     serial console on this terminal, no automatic test run,
#                     root auto-login; share at /mnt/host (test at
#                     /mnt/host/test.sh). Quit with Ctrl-A X.
#   -h, --help        this text
#
# Logs saved in the log directory: guest.log (test output), console.log
# (serial console: kernel + systemd), dmesg.log, qemu.log, exit-code, out/.
#
# Exit status:
#   the guest test's own exit status (0 pass, 77 test skipped itself, ...)
#   124  timeout: the guest was killed after --timeout seconds
#   125  the guest stopped without writing an exit code (crash, panic, ...)
#   126  runner error (QEMU failed to start, image build failed, ...)
#   77   cannot run here (not root and no image, QEMU not installable, ...)
#   2    usage error
#
# Environment: SYSTEST_CACHE (image cache, see build-image.sh), SYSTEST_LOG_DIR,
# TMPDIR (per-run scratch: CoW overlay, NVMe backing files, share).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

nvme=0 nvme_size=256M iommu=off mem=2G cpus=2 timeout=300 interactive=0 quiet=0
log_dir='' append='' files=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
err() { echo "run-guest: $*" >&2; }
usage_err() { err "$*"; err "see --help"; exit 2; }
need_arg() { (($1 >= 2)) || usage_err "option $2 needs an argument"; }

while (($#)); do
    case $1 in
        --nvme) need_arg $# "$1"; nvme=$2; shift 2 ;;
        --nvme-size) need_arg $# "$1"; nvme_size=$2; shift 2 ;;
        --iommu) need_arg $# "$1"; iommu=$2; shift 2 ;;
        --mem) need_arg $# "$1"; mem=$2; shift 2 ;;
        --cpus) need_arg $# "$1"; cpus=$2; shift 2 ;;
        --timeout) need_arg $# "$1"; timeout=$2; shift 2 ;;
        --file) need_arg $# "$1"; files+=("$2"); shift 2 ;;
        --log-dir) need_arg $# "$1"; log_dir=$2; shift 2 ;;
        --append) need_arg $# "$1"; append+=" $2"; shift 2 ;;
        --quiet) quiet=1; shift ;;
        --interactive) interactive=1; shift ;;
        -h | --help) usage; exit 0 ;;
        --) shift; break ;;
        -*) usage_err "unknown option: $1" ;;
        *) break ;;
    esac
done

[[ $nvme =~ ^[0-9]+$ ]] || usage_err "--nvme wants a number, got '$nvme'"
[[ $cpus =~ ^[1-9][0-9]*$ ]] || usage_err "--cpus wants a number, got '$cpus'"
[[ $timeout =~ ^[1-9][0-9]*$ ]] || usage_err "--timeout wants seconds, got '$timeout'"
[[ $iommu == on || $iommu == off ]] || usage_err "--iommu wants on or off, got '$iommu'"
[[ $nvme_size =~ ^[0-9]+[KMGT]?$ ]] || usage_err "--nvme-size wants e.g. 256M, got '$nvme_size'"
[[ $mem =~ ^[0-9]+[MG]?$ ]] || usage_err "--mem wants e.g. 2G, got '$mem'"

test_script=''
if (($#)); then
    test_script=$1
    shift
    [[ -f $test_script ]] || usage_err "no such test script: $test_script"
elif ((!interactive)); then
    usage_err "no test script given"
fi
for f in "${files[@]}"; do
    [[ -e $f ]] || usage_err "--file: no such file: $f"
done

name=interactive
[[ -n $test_script ]] && name=$(basename "$test_script" .sh)
[[ -n $log_dir ]] || log_dir=${SYSTEST_LOG_DIR:-/tmp/libreactor-systest-logs}/$name

QEMU=qemu-system-x86_64
if ! command -v "$QEMU" >/dev/null 2>&1 || ! command -v qemu-img >/dev/null 2>&1; then
    "$HERE/deps.sh" >&2 || { err "SKIP: $QEMU/qemu-img missing and not installable"; exit 77; }
fi

img_rc=0
IMG=$("$HERE/build-image.sh" | tail -n1) || img_rc=$?
case $img_rc in
    0) ;;
    77) err "SKIP: guest image cannot be built here (see above)"; exit 77 ;;
    *) err "guest image build failed (exit $img_rc)"; exit 126 ;;
esac

RUN=$(mktemp -d "${TMPDIR:-/tmp}/libreactor-systest-run.XXXXXX")
qpid=''
# shellcheck disable=SC2317  # invoked from the trap
cleanup() {
    local rc=$? i
    trap - EXIT INT TERM HUP
    if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then
        kill -TERM "$qpid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$qpid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$qpid" 2>/dev/null || true
        wait "$qpid" 2>/dev/null || true
    fi
    rm -rf "$RUN"
    exit "$rc"
}
trap cleanup EXIT
trap 'err "interrupted"; exit 130' INT
trap 'err "terminated"; exit 143' TERM HUP

share=$RUN/share
mkdir -p "$share/files" "$share/out"
cp -r "$HERE/lib" "$share/lib"
[[ -n $test_script ]] && cp "$test_script" "$share/test.sh"
for f in "${files[@]}"; do
    cp -a "$f" "$share/files/"
done
(($#)) && printf '%s\0' "$@" >"$share/args"

mkdir -p "$log_dir"
# Only our own files: --log-dir may be a directory with other content.
rm -rf "${log_dir:?}"/{console.log,guest.log,dmesg.log,qemu.log,exit-code,out}

qemu-img create -q -f qcow2 -F qcow2 -b "$IMG/base.qcow2" "$RUN/root.qcow2"

cmdline="root=/dev/vda rw console=ttyS0,115200 panic=1 fsck.mode=skip mitigations=off"
cmdline+=" systemd.show_status=auto"
if ((interactive)); then
    cmdline+=" systest=interactive"
else
    cmdline+=" systest=1"
fi

args=(-machine q35 -accel 'tcg,thread=multi' -cpu max -smp "$cpus" -m "$mem"
    -nodefaults -no-user-config -display none -no-reboot
    -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img")
if [[ $iommu == on ]]; then
    # The IOMMU must be created before the PCI devices it translates for.
    args+=(-device intel-iommu)
    cmdline+=" intel_iommu=on iommu=pt"
fi
# shellcheck disable=SC2054  # commas are QEMU option syntax
rootdrive="file=$RUN/root.qcow2,if=none,id=root,format=qcow2,cache=unsafe,discard=unmap"
# shellcheck disable=SC2054
args+=(-drive "$rootdrive"
    -device "virtio-blk-pci,drive=root"
    -fsdev "local,id=share,path=$share,security_model=none"
    -device virtio-9p-pci,fsdev=share,mount_tag=hostshare
    -device virtio-rng-pci)
for ((i = 0; i < nvme; i++)); do
    truncate -s "$nvme_size" "$RUN/nvme$i.img"
    args+=(-drive "file=$RUN/nvme$i.img,if=none,id=nvm$i,format=raw,cache=unsafe"
        -device "nvme,serial=systest$i,drive=nvm$i")
done
args+=(-append "$cmdline$append")

if ((interactive)); then
    err "interactive guest: root auto-login on the console, share at /mnt/host; quit with Ctrl-A X"
    args+=(-serial mon:stdio)
    rc=0
    "$QEMU" "${args[@]}" || rc=$?
    exit "$rc"
fi

args+=(-chardev "file,id=con,path=$log_dir/console.log" -serial chardev:con
    -pidfile "$RUN/qemu.pid")

start=$SECONDS
"$QEMU" "${args[@]}" >"$log_dir/qemu.log" 2>&1 </dev/null &
qpid=$!
timed_out=0
while kill -0 "$qpid" 2>/dev/null; do
    if ((SECONDS - start >= timeout)); then
        timed_out=1
        kill -TERM "$qpid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$qpid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$qpid" 2>/dev/null || true
        break
    fi
    sleep 0.5
done
qrc=0
wait "$qpid" || qrc=$?
qpid=''
elapsed=$((SECONDS - start))

for f in guest.log dmesg.log exit-code; do
    [[ -f $share/$f ]] && cp "$share/$f" "$log_dir/"
done
cp -r "$share/out" "$log_dir/out"

if ((!quiet)) && [[ -f $log_dir/guest.log ]]; then
    echo "----- guest log ($name) -----"
    cat "$log_dir/guest.log"
    echo "----- end of guest log -----"
fi

if ((timed_out)); then
    err "$name: TIMEOUT: guest killed after ${timeout}s (logs: $log_dir)"
    if ((!quiet)); then
        err "last console lines:"
        tail -n 15 "$log_dir/console.log" >&2 || true
    fi
    exit 124
fi
if [[ -f $log_dir/exit-code ]]; then
    rc=$(tr -dc '0-9' <"$log_dir/exit-code")
    [[ -n $rc ]] || rc=125
    err "$name: guest test exit code $rc after ${elapsed}s (logs: $log_dir)"
    exit "$rc"
fi
if ((qrc != 0)); then
    err "$name: QEMU failed (exit $qrc) after ${elapsed}s:"
    tail -n 20 "$log_dir/qemu.log" >&2 || true
    exit 126
fi
err "$name: guest stopped after ${elapsed}s without writing an exit code (crash/panic/poweroff?) (logs: $log_dir)"
if ((!quiet)); then
    err "last console lines:"
    tail -n 25 "$log_dir/console.log" >&2 || true
fi
exit 125
