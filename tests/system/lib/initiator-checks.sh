#!/bin/bash
# Initiator-side NVMe/TCP checks, shared by every test that exposes an NVMe-oF
# target on the guest's loopback: the kernel nvmet reference
# (tests/nvmet-reference.sh) and, later, our own daemon (nvmf-tgtd). A test
# provides the target, this library checks it with the Linux kernel initiator.
#
# Usage in a guest test:
#     . "$SYSTEST_LIB/common.sh"
#     . "$SYSTEST_LIB/initiator-checks.sh"
#     target_setup()    { ...serve $IC_NQN on $IC_TRADDR:$IC_TRSVCID...; }
#     target_teardown() { ...stop it...; }
#     ic_main
#
# ic_main runs, in order: ic_prepare, ic_discover_no_listener, target_setup,
# ic_discover, ic_connect, ic_fio, ic_dd_roundtrip, ic_disconnect,
# target_teardown. On failure it still disconnects and tears down. The steps
# are plain functions, so a test may also call them one by one.
#
# Settings (override before calling ic_main):
#   IC_TRADDR   target address            (default 127.0.0.1)
#   IC_TRSVCID  target TCP port            (default 4420)
#   IC_NQN      subsystem NQN to connect   (default nqn.2024-01.io.libreactor:systest)
#   IC_HOSTNQN  host NQN                   (default nqn.2024-01.io.libreactor:host)
#   IC_FIO_SIZE bytes per fio job          (default 4M; TCG does ~2K IOPS)
#   IC_DD_MB    MiB for the dd round trip  (default 4)
# After ic_connect, IC_DEV is the namespace block device (/dev/nvmeXnY).

# shellcheck disable=SC2034
: "${IC_TRADDR:=127.0.0.1}" "${IC_TRSVCID:=4420}"
: "${IC_NQN:=nqn.2024-01.io.libreactor:systest}"
: "${IC_HOSTNQN:=nqn.2024-01.io.libreactor:host}"
: "${IC_FIO_SIZE:=4M}" "${IC_DD_MB:=4}"
IC_DEV=''
IC_CONNECTED=0
IC_TARGET_UP=0

# Namespace block devices (not partitions, not hidden multipath path nodes).
ic_list_namespaces() {
    local d
    for d in /dev/nvme*n*; do
        [[ -b $d && $(basename "$d") =~ ^nvme[0-9]+n[0-9]+$ ]] && echo "$d"
    done
    return 0
}

ic_prepare() {
    step "initiator: prepare (lo up, nvme-tcp)"
    run ip link set lo up
    run modprobe nvme-tcp
    [[ -e /dev/nvme-fabrics ]] || fail "/dev/nvme-fabrics missing after modprobe nvme-tcp"
}

# With nothing listening, discovery must fail quickly and cleanly.
ic_discover_no_listener() {
    step "initiator: discover with no listener fails cleanly"
    local rc=0
    timeout 60 nvme discover -t tcp -a "$IC_TRADDR" -s "$IC_TRSVCID" -q "$IC_HOSTNQN" || rc=$?
    ((rc == 124)) && fail "nvme discover hung with no listener"
    ((rc != 0)) || fail "nvme discover succeeded with no listener on $IC_TRADDR:$IC_TRSVCID"
    info "failed as expected (exit $rc)"
}

ic_discover() {
    step "initiator: discover $IC_TRADDR:$IC_TRSVCID"
    local out
    out=$(timeout 60 nvme discover -t tcp -a "$IC_TRADDR" -s "$IC_TRSVCID" -q "$IC_HOSTNQN") ||
        fail "nvme discover failed: $out"
    echo "$out"
    grep -Eq "subnqn:[[:space:]]+$IC_NQN\$" <<<"$out" || fail "discovery log does not list $IC_NQN"
    grep -Eq "trtype:[[:space:]]+tcp" <<<"$out" || fail "discovery log entry is not tcp"
}

ic_connect() {
    step "initiator: connect $IC_NQN"
    local before after d i nqn
    mapfile -t before < <(ic_list_namespaces)
    run timeout 60 nvme connect -t tcp -a "$IC_TRADDR" -s "$IC_TRSVCID" -n "$IC_NQN" -q "$IC_HOSTNQN"
    IC_CONNECTED=1
    for ((i = 0; i < 100; i++)); do
        mapfile -t after < <(ic_list_namespaces)
        for d in "${after[@]}"; do
            [[ " ${before[*]} " == *" $d "* ]] && continue
            IC_DEV=$d
        done
        [[ -n $IC_DEV ]] && break
        sleep 0.2
    done
    [[ -n $IC_DEV ]] || fail "no new NVMe namespace appeared after nvme connect"
    nqn=$(cat "/sys/block/$(basename "$IC_DEV")/device/subsysnqn" 2>/dev/null || true)
    [[ $nqn == "$IC_NQN" ]] || fail "$IC_DEV belongs to '$nqn', expected $IC_NQN"
    run nvme list
    info "namespace: $IC_DEV, $(blockdev --getsize64 "$IC_DEV") bytes"
}

# Run one fio job; print a summary, or the whole report if it fails.
ic_run_fio() {
    local name=$1 out=/tmp/ic-fio-$1.log rc=0
    shift
    echo "+ fio --name=$name $*"
    fio --name="$name" --filename="$IC_DEV" --ioengine=libaio --direct=1 \
        --verify=crc32c --do_verify=1 --verify_fatal=1 "$@" >"$out" 2>&1 || rc=$?
    if ((rc != 0)); then
        cat "$out"
        fail "fio job $name failed (exit $rc)"
    fi
    grep -E 'err=|^ *(read|write):|issued rwts' "$out" | sed 's/^ */    /'
    grep -qE 'err= *0' "$out" || { cat "$out"; fail "fio job $name reported errors"; }
}

ic_fio() {
    step "initiator: fio write + crc32c verify on $IC_DEV"
    # Small random 4k writes (many commands) and large sequential writes
    # (multi-PDU transfers), each read back and verified.
    ic_run_fio rand4k --rw=randwrite --bs=4k --iodepth=16 --size="$IC_FIO_SIZE" --randrepeat=0
    ic_run_fio seq128k --rw=write --bs=128k --iodepth=4 --size="$IC_FIO_SIZE" --offset=16M
}

ic_dd_roundtrip() {
    step "initiator: dd round trip (${IC_DD_MB} MiB, sha256)"
    local pattern=/tmp/ic-pattern readback=/tmp/ic-readback want got
    run dd if=/dev/urandom of="$pattern" bs=1M count="$IC_DD_MB" status=none
    run dd if="$pattern" of="$IC_DEV" bs=1M seek=8 oflag=direct conv=fsync status=none
    # Read back through a different I/O size than the write.
    run dd if="$IC_DEV" of="$readback" bs=64k skip=$((8 * 16)) count=$((IC_DD_MB * 16)) \
        iflag=direct status=none
    want=$(sha256sum <"$pattern" | cut -d' ' -f1)
    got=$(sha256sum <"$readback" | cut -d' ' -f1)
    info "wrote $want"
    info "read  $got"
    [[ $want == "$got" ]] || fail "dd round trip data mismatch"
    rm -f "$pattern" "$readback"
}

ic_disconnect() {
    step "initiator: disconnect $IC_NQN"
    local out dev=$IC_DEV
    out=$(timeout 60 nvme disconnect -n "$IC_NQN" 2>&1) || fail "nvme disconnect failed: $out"
    echo "$out"
    IC_CONNECTED=0
    grep -Eq "disconnected [1-9]" <<<"$out" || fail "nvme disconnect did not disconnect a controller"
    [[ -z $dev ]] || wait_for 20 "$dev to go away" test ! -e "$dev"
    for d in /sys/class/nvme/nvme*; do
        [[ -e $d/subsysnqn && $(cat "$d/subsysnqn") == "$IC_NQN" ]] &&
            fail "controller $(basename "$d") for $IC_NQN still present after disconnect"
    done
    IC_DEV=''
    return 0
}

# Best-effort cleanup after a failure (never fails itself).
ic_cleanup() {
    if ((IC_CONNECTED)); then
        echo "cleanup: nvme disconnect -n $IC_NQN"
        timeout 30 nvme disconnect -n "$IC_NQN" >/dev/null 2>&1 || true
        IC_CONNECTED=0
    fi
    if ((IC_TARGET_UP)) && declare -F target_teardown >/dev/null; then
        echo "cleanup: target_teardown"
        IC_TARGET_UP=0
        (target_teardown) || true
    fi
}

ic_main() {
    declare -F target_setup >/dev/null || fail "test defines no target_setup function"
    declare -F target_teardown >/dev/null || fail "test defines no target_teardown function"
    trap 'rc=$?; ((rc == 0)) || ic_cleanup; exit $rc' EXIT
    ic_prepare
    ic_discover_no_listener
    step "target: setup"
    IC_TARGET_UP=1
    target_setup
    ic_discover
    ic_connect
    ic_fio
    ic_dd_roundtrip
    ic_disconnect
    step "target: teardown"
    IC_TARGET_UP=0
    target_teardown
    trap - EXIT
}
