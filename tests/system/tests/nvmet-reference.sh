#!/bin/bash
# Reference NVMe/TCP test: the Linux kernel target (nvmet + nvmet-tcp, set up
# through configfs) serves a memory-backed null_blk namespace on
# 127.0.0.1:4420 and the kernel initiator runs the shared checks from
# lib/initiator-checks.sh. A test for our own target (nvmf-tgtd) replaces
# target_setup/target_teardown and keeps the same checks.
# systest: --timeout 300
set -euo pipefail
. "$SYSTEST_LIB/common.sh"
. "$SYSTEST_LIB/initiator-checks.sh"

CFG=/sys/kernel/config
NVMET=$CFG/nvmet
PORT_ID=1
BACKING=''        # block device or file serving namespace 1
MADE=''           # set by make_backing

# make_backing N MiB: memory-backed null_blk device nullbN (data written is
# kept, so reads verify; discard frees it, so discarded blocks read back as
# zeroes), or a tmpfs file if null_blk has no configfs interface. Sets
# MADE to its path.
make_backing() {
    local n=$1 mib=$2 dir=$CFG/nullb/nullb$1
    if [[ -d $CFG/nullb ]]; then
        mkdir "$dir"
        echo "$mib" >"$dir/size"
        echo 512 >"$dir/blocksize"
        echo 1 >"$dir/memory_backed"
        [[ -e $dir/discard ]] && echo 1 >"$dir/discard"
        echo 1 >"$dir/power"
        wait_for 10 "/dev/nullb$n" test -b "/dev/nullb$n"
        MADE=/dev/nullb$n
    else
        mkdir -p /run/nvmet-backing
        truncate -s "${mib}M" "/run/nvmet-backing/ns$n.img"
        MADE=/run/nvmet-backing/ns$n.img
    fi
}

backing_setup() {
    run modprobe null_blk nr_devices=0
    [[ -d $CFG/nullb ]] || info "null_blk has no configfs interface: using files on tmpfs"
    make_backing 0 64
    BACKING=$MADE
    info "namespace backing: $BACKING"
}

backing_teardown() {
    local dir
    for dir in "$CFG"/nullb/nullb*; do
        [[ -d $dir ]] || continue
        echo 0 >"$dir/power"
        rmdir "$dir"
    done
    rm -rf /run/nvmet-backing
    modprobe -r null_blk
}

# add_ns NSID DEVICE: a namespace of the subsystem. tmpfs has no O_DIRECT on
# this kernel, so a file backing uses buffered I/O.
add_ns() {
    local ns=$NVMET/subsystems/$IC_NQN/namespaces/$1
    mkdir "$ns"
    echo "$2" >"$ns/device_path"
    [[ -b $2 ]] || echo 1 >"$ns/buffered_io"
    echo 1 >"$ns/enable"
}

target_setup() {
    mountpoint -q "$CFG" || run mount -t configfs none "$CFG"
    backing_setup
    run modprobe nvmet-tcp
    [[ -d $NVMET ]] || fail "$NVMET missing after modprobe nvmet"

    local sub=$NVMET/subsystems/$IC_NQN port=$NVMET/ports/$PORT_ID
    mkdir "$sub"
    echo 1 >"$sub/attr_allow_any_host"
    add_ns 1 "$BACKING"

    mkdir "$port"
    echo tcp >"$port/addr_trtype"
    echo ipv4 >"$port/addr_adrfam"
    echo "$IC_TRADDR" >"$port/addr_traddr"
    echo "$IC_TRSVCID" >"$port/addr_trsvcid"
    ln -s "$sub" "$port/subsystems/$IC_NQN"
    info "nvmet: $IC_NQN on tcp $IC_TRADDR:$IC_TRSVCID, ns 1 = $BACKING"
}

target_teardown() {
    local sub=$NVMET/subsystems/$IC_NQN port=$NVMET/ports/$PORT_ID
    [[ -L $port/subsystems/$IC_NQN ]] && rm "$port/subsystems/$IC_NQN"
    [[ -d $port ]] && rmdir "$port"
    local ns
    for ns in "$sub"/namespaces/*; do
        [[ -d $ns ]] || continue
        echo 0 >"$ns/enable"
        rmdir "$ns"
    done
    [[ -d $sub ]] && rmdir "$sub"
    run modprobe -r nvmet-tcp nvmet
    backing_teardown
    info "target torn down"
}

# Namespace 2 (32 MiB) added while the host is connected: nvmet sends a
# Namespace Attribute Changed event and the host rescans.
# shellcheck disable=SC2034  # read by lib/initiator-checks.sh
IC_HOTADD_BYTES=$((32 << 20))
target_add_ns() {
    make_backing 1 32
    add_ns 2 "$MADE"
    info "nvmet: added namespace 2 = $MADE"
}

target_remove_ns() {
    local ns=$NVMET/subsystems/$IC_NQN/namespaces/$1
    echo 0 >"$ns/enable"
    rmdir "$ns"
    info "nvmet: removed namespace $1"
}

# nvmet has no Compare command (ONCS bit 0 clear): checked as refused.
target_extra_checks() {
    ic_compare --if-supported
    ic_hot_add
    ic_hot_remove
}

ic_main
echo "PASS: nvmet-reference"
