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
NULLB=$CFG/nullb/nullb0
PORT_ID=1
BACKING=''        # block device or file serving namespace 1

backing_setup() {
    run modprobe null_blk nr_devices=0
    if [[ -d $CFG/nullb ]]; then
        # memory_backed=1: data written is kept, so reads verify.
        mkdir "$NULLB"
        echo 64 >"$NULLB/size"          # MiB
        echo 512 >"$NULLB/blocksize"
        echo 1 >"$NULLB/memory_backed"
        echo 1 >"$NULLB/power"
        wait_for 10 /dev/nullb0 test -b /dev/nullb0
        BACKING=/dev/nullb0
    else
        info "null_blk has no configfs interface: using a file on tmpfs"
        mkdir -p /run/nvmet-backing
        truncate -s 64M /run/nvmet-backing/ns1.img
        BACKING=/run/nvmet-backing/ns1.img
    fi
    info "namespace backing: $BACKING"
}

backing_teardown() {
    if [[ -d $NULLB ]]; then
        echo 0 >"$NULLB/power"
        rmdir "$NULLB"
    fi
    rm -rf /run/nvmet-backing
    modprobe -r null_blk
}

target_setup() {
    mountpoint -q "$CFG" || run mount -t configfs none "$CFG"
    backing_setup
    run modprobe nvmet-tcp
    [[ -d $NVMET ]] || fail "$NVMET missing after modprobe nvmet"

    local sub=$NVMET/subsystems/$IC_NQN port=$NVMET/ports/$PORT_ID
    mkdir "$sub"
    echo 1 >"$sub/attr_allow_any_host"
    mkdir "$sub/namespaces/1"
    echo "$BACKING" >"$sub/namespaces/1/device_path"
    echo 1 >"$sub/namespaces/1/enable"

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
    if [[ -d $sub/namespaces/1 ]]; then
        echo 0 >"$sub/namespaces/1/enable"
        rmdir "$sub/namespaces/1"
    fi
    [[ -d $sub ]] && rmdir "$sub"
    run modprobe -r nvmet-tcp nvmet
    backing_teardown
    info "target torn down"
}

ic_main
echo "PASS: nvmet-reference"
