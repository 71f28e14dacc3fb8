#!/bin/bash
# Initiator-side NVMe/TCP checks, shared by every test that exposes an NVMe-oF
# target on the guest's loopback: the kernel nvmet reference
# (tests/nvmet-reference.sh) and our own daemon (tests/nvmf-tgtd*.sh). A test
# provides the target, this library checks it with the Linux kernel initiator
# and nvme-cli.
#
# Usage in a guest test:
#     . "$SYSTEST_LIB/common.sh"
#     . "$SYSTEST_LIB/initiator-checks.sh"
#     target_setup()    { ...serve $IC_NQN on $IC_TRADDR:$IC_TRSVCID...; }
#     target_teardown() { ...stop it...; }
#     target_extra_checks() { ic_compare; ic_hot_add; }   # optional
#     target_add_ns()   { ...add a namespace at run time...; }  # for ic_hot_add
#     target_remove_ns() { ...remove namespace NSID $1...; }  # for ic_hot_remove
#     target_cleanup()  { ...kill the target...; }  # optional: after a failure,
#                       # instead of target_teardown in a subshell
#     ic_main
#
# ic_main runs what every target must pass, in order: ic_prepare,
# ic_discover_no_listener, target_setup, ic_discover, ic_connect (the
# ICResps on the wire enable no digest), ic_list,
# ic_id_ctrl, ic_id_ns, ic_fio, ic_dd_roundtrip, ic_write_zeroes, ic_discard,
# target_extra_checks (if defined, still connected), ic_disconnect,
# ic_digest_cycle (connect again with header and data digests, every ICResp
# on the wire enabling both, I/O, disconnect), target_teardown. On failure it still disconnects and tears
# down. The steps are plain functions, so a test may also call them one by one.
#
# Optional checks (call from target_extra_checks or a test of its own):
#   ic_compare [--if-supported]  nvme compare: equal data succeeds, different
#                                data fails with a compare failure
#   ic_hot_add                   target_add_ns adds a namespace; a new
#                                /dev/nvmeXnY appears and does I/O
#   ic_hot_remove [DEV]          target_remove_ns NSID removes a namespace;
#                                its device goes away (default: the last hot-added)
#   ic_connect_refused NQN HOSTNQN  nvme connect must fail, no controller left
#   ic_dmesg_mark / ic_dmesg_since  kernel messages logged after a point
#
# Settings (override before calling ic_main):
#   IC_TRADDR   target address            (default 127.0.0.1)
#   IC_TRSVCID  target TCP port            (default 4420)
#   IC_NQN      subsystem NQN to connect   (default nqn.2024-01.io.libreactor:systest)
#   IC_HOSTNQN  host NQN                   (default nqn.2024-01.io.libreactor:host)
#   IC_FIO_SIZE bytes per fio job          (default 4M; TCG does ~2K IOPS)
#   IC_DD_MB    MiB for the dd round trip  (default 4)
#   IC_NAMESPACES    namespaces the subsystem has at connect (default 1)
#   IC_HOTADD_BYTES  expected size of the hot-added namespace (default: not checked)
# The namespace must be at least 32 MiB (the checks use offsets up to 28 MiB).
# After ic_connect, IC_DEV is the first namespace's block device (/dev/nvmeXnY),
# IC_DEVS all of them and IC_CTRL the controller character device (/dev/nvmeX).
# The checks act on IC_DEV; a test may point it at another namespace.

# shellcheck disable=SC2034
: "${IC_TRADDR:=127.0.0.1}" "${IC_TRSVCID:=4420}"
: "${IC_NQN:=nqn.2024-01.io.libreactor:systest}"
: "${IC_HOSTNQN:=nqn.2024-01.io.libreactor:host}"
: "${IC_FIO_SIZE:=4M}" "${IC_DD_MB:=4}" "${IC_HOTADD_BYTES:=}" "${IC_NAMESPACES:=1}"
IC_DEV=''
IC_DEVS=()        # all namespaces found at connect, by NSID
IC_CTRL=''
IC_EXTRA_DEVS=()  # namespaces hot-added while connected
IC_CONNECTED=0
IC_TARGET_UP=0
IC_TMP=/tmp/ic
mkdir -p "$IC_TMP"

# Namespace block devices (not partitions, not hidden multipath path nodes).
ic_list_namespaces() {
    local d
    for d in /dev/nvme*n*; do
        [[ -b $d && $(basename "$d") =~ ^nvme[0-9]+n[0-9]+$ ]] && echo "$d"
    done
    return 0
}

# The subsystem NQN a namespace block device belongs to.
ic_ns_subnqn() {
    cat "/sys/block/$(basename "$1")/device/subsysnqn" 2>/dev/null || true
}

# Controllers (/sys/class/nvme/nvmeX) connected to subsystem $1.
ic_ctrls_of() {
    local d
    for d in /sys/class/nvme/nvme*; do
        [[ -e $d/subsysnqn && $(cat "$d/subsysnqn") == "$1" ]] && echo "$d"
    done
    return 0
}

# Value of field $1 in nvme-cli's "name : value" text output on stdin.
ic_field() {
    awk -v k="$1" '{ split($0, a, ":"); key = a[1]; gsub(/[[:space:]]/, "", key) }
        key == k { sub(/^[^:]*:[[:space:]]*/, ""); sub(/[[:space:]]+$/, ""); print; exit }'
}

# Expect "$2" (a number in decimal or 0x hex) to be an integer; name it $1 in the error.
ic_num() {
    [[ $2 =~ ^(0x[0-9a-fA-F]+|[0-9]+)$ ]] || fail "$1: '$2' is not a number"
    echo $(($2))
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

# ic_connect [EXTRA NVME CONNECT OPTIONS...], e.g. --hdr-digest --data-digest.
# Waits for the subsystem's $IC_NAMESPACES namespaces; IC_DEVS lists them by
# NSID, IC_DEV is the first.
ic_connect() {
    step "initiator: connect $IC_NQN $*"
    local before after d i ctrls
    IC_DEV='' IC_DEVS=()
    mapfile -t before < <(ic_list_namespaces)
    run timeout 60 nvme connect -t tcp -a "$IC_TRADDR" -s "$IC_TRSVCID" -n "$IC_NQN" -q "$IC_HOSTNQN" "$@"
    IC_CONNECTED=1
    for ((i = 0; i < 100; i++)); do
        IC_DEVS=()
        mapfile -t after < <(ic_list_namespaces)
        for d in "${after[@]}"; do
            [[ " ${before[*]} " == *" $d "* ]] && continue
            [[ $(ic_ns_subnqn "$d") == "$IC_NQN" ]] && IC_DEVS+=("$d")
        done
        ((${#IC_DEVS[@]} >= IC_NAMESPACES)) && break
        sleep 0.2
    done
    ((${#IC_DEVS[@]} > 0)) || fail "no new NVMe namespace of $IC_NQN appeared after nvme connect"
    ((${#IC_DEVS[@]} == IC_NAMESPACES)) ||
        fail "$IC_NQN: ${#IC_DEVS[@]} namespaces appeared (${IC_DEVS[*]}), expected $IC_NAMESPACES"
    mapfile -t IC_DEVS < <(for d in "${IC_DEVS[@]}"; do
        echo "$(cat "/sys/block/$(basename "$d")/nsid") $d"
    done | sort -n | cut -d' ' -f2)
    IC_DEV=${IC_DEVS[0]}
    mapfile -t ctrls < <(ic_ctrls_of "$IC_NQN")
    ((${#ctrls[@]} == 1)) || fail "expected one controller for $IC_NQN, found ${#ctrls[@]}: ${ctrls[*]}"
    IC_CTRL=/dev/$(basename "${ctrls[0]}")
    [[ -c $IC_CTRL ]] || fail "controller device $IC_CTRL missing"
    [[ $(cat "${ctrls[0]}/transport") == tcp ]] || fail "$IC_CTRL transport is not tcp"
    info "controller $IC_CTRL ($(cat "${ctrls[0]}/address"))"
    for d in "${IC_DEVS[@]}"; do
        info "namespace $(cat "/sys/block/$(basename "$d")/nsid"): $d, $(blockdev --getsize64 "$d") bytes"
    done
}

# nvme list shows the namespace with a non-zero size.
ic_list() {
    step "initiator: nvme list"
    local out
    out=$(nvme list 2>&1) || fail "nvme list failed: $out"
    echo "$out"
    grep -Eq "^${IC_DEV}[[:space:]]" <<<"$out" || fail "nvme list does not show $IC_DEV"
    out=$(nvme list -o json 2>&1) || fail "nvme list -o json failed: $out"
    grep -q "\"$IC_DEV\"" <<<"$out" || fail "nvme list -o json does not show $IC_DEV"
}

# Identify Controller: subnqn, serial, model, mdts, cntlid and capsule sizes
# are sane and agree with what the kernel saw at connect time.
ic_id_ctrl() {
    step "initiator: nvme id-ctrl $IC_CTRL"
    local out sys v sn mn mdts cntlid max_kb oncs
    sys=/sys/class/nvme/$(basename "$IC_CTRL")
    out=$(timeout 30 nvme id-ctrl "$IC_CTRL" 2>&1) || fail "nvme id-ctrl failed: $out"
    grep -E '^(vid|ssvid|sn|mn|fr|mdts|cntlid|ver|oncs|sqes|cqes|nn|ioccsz|iorcsz|subnqn) ' <<<"$out" |
        sed 's/^/    /'

    v=$(ic_field subnqn <<<"$out")
    [[ $v == "$IC_NQN" ]] || fail "id-ctrl subnqn '$v', expected $IC_NQN"

    sn=$(ic_field sn <<<"$out")
    [[ -n $sn ]] || fail "id-ctrl sn is empty"
    ((${#sn} <= 20)) || fail "id-ctrl sn '$sn' is longer than 20 characters"
    [[ $sn =~ ^[[:print:]]+$ ]] || fail "id-ctrl sn '$sn' has non-printable characters"
    [[ $(sed 's/[[:space:]]*$//' "$sys/serial") == "$sn" ]] ||
        fail "id-ctrl sn '$sn' differs from the kernel's $sys/serial '$(cat "$sys/serial")'"
    mn=$(ic_field mn <<<"$out")
    [[ -n $mn && $mn =~ ^[[:print:]]+$ ]] || fail "id-ctrl mn '$mn' is empty or not printable"

    # MDTS: 0 (no limit) or a power of two of the 4 KiB minimum page size;
    # the kernel must not send more than that in one command.
    mdts=$(ic_num mdts "$(ic_field mdts <<<"$out")")
    ((mdts <= 20)) || fail "id-ctrl mdts $mdts is not sane (> 20: 4 GiB transfers)"
    max_kb=$(cat "/sys/block/$(basename "$IC_DEV")/queue/max_hw_sectors_kb")
    if ((mdts > 0)); then
        ((max_kb <= (1 << mdts) * 4)) ||
            fail "kernel max_hw_sectors_kb $max_kb exceeds mdts $mdts ($(((1 << mdts) * 4)) KiB)"
    fi
    info "mdts $mdts, kernel max transfer ${max_kb} KiB"

    cntlid=$(ic_num cntlid "$(ic_field cntlid <<<"$out")")
    ((cntlid >= 1 && cntlid <= 0xffef)) || fail "id-ctrl cntlid $cntlid outside 1..0xffef"
    (($(cat "$sys/cntlid") == cntlid)) || fail "id-ctrl cntlid $cntlid differs from $sys/cntlid"
    (($(ic_num ver "$(ic_field ver <<<"$out")") >= 0x10300)) ||
        fail "id-ctrl ver $(ic_field ver <<<"$out") is below NVMe 1.3"
    (($(ic_num nn "$(ic_field nn <<<"$out")") >= 1)) || fail "id-ctrl nn is 0"
    # Fabrics: SQ entries 64 bytes, CQ entries 16 bytes, capsules at least that.
    ((($(ic_num sqes "$(ic_field sqes <<<"$out")") & 0xf) == 6)) || fail "id-ctrl sqes minimum is not 64 bytes"
    ((($(ic_num cqes "$(ic_field cqes <<<"$out")") & 0xf) == 4)) || fail "id-ctrl cqes minimum is not 16 bytes"
    (($(ic_num ioccsz "$(ic_field ioccsz <<<"$out")") >= 4)) || fail "id-ctrl ioccsz below 4 (64 bytes)"
    (($(ic_num iorcsz "$(ic_field iorcsz <<<"$out")") >= 1)) || fail "id-ctrl iorcsz below 1 (16 bytes)"
    oncs=$(ic_num oncs "$(ic_field oncs <<<"$out")")
    IC_ONCS=$oncs
    info "oncs $(printf '0x%x' "$oncs"): compare $((oncs & 1)), dsm $((oncs >> 2 & 1)), write-zeroes $((oncs >> 3 & 1))"
}

# Identify Namespace: the size and block size agree with the block device.
ic_id_ns() {
    step "initiator: nvme id-ns $IC_DEV"
    local out nsze ncap nuse flbas lbads bytes lbaf
    out=$(timeout 30 nvme id-ns "$IC_DEV" 2>&1) || fail "nvme id-ns failed: $out"
    grep -E '^(nsze|ncap|nuse|nsfeat|nlbaf|flbas|dlfeat|nmic|lbaf) ' <<<"$out" | sed 's/^/    /'
    nsze=$(ic_num nsze "$(ic_field nsze <<<"$out")")
    ncap=$(ic_num ncap "$(ic_field ncap <<<"$out")")
    nuse=$(ic_num nuse "$(ic_field nuse <<<"$out")")
    flbas=$(ic_num flbas "$(ic_field flbas <<<"$out")")
    lbaf=$((flbas & 0xf))
    lbads=$(awk -v f="$lbaf" '$1 == "lbaf" && $2 == f { for (i = 1; i <= NF; i++)
        if ($i ~ /^lbads:/) { sub(/lbads:/, "", $i); print $i } }' <<<"$out")
    [[ $lbads =~ ^[0-9]+$ ]] || fail "no lbads for the LBA format in use ($lbaf) in id-ns"
    ((lbads >= 9 && lbads <= 16)) || fail "LBA data size 2^$lbads is not sane"
    ((nsze > 0)) || fail "id-ns nsze is 0"
    ((ncap <= nsze && nuse <= ncap)) || fail "id-ns nuse $nuse <= ncap $ncap <= nsze $nsze violated"
    bytes=$(blockdev --getsize64 "$IC_DEV")
    ((nsze << lbads == bytes)) ||
        fail "id-ns nsze $nsze x $((1 << lbads)) = $((nsze << lbads)) bytes, block device has $bytes"
    (($(blockdev --getss "$IC_DEV") == 1 << lbads)) ||
        fail "block device sector size $(blockdev --getss "$IC_DEV") differs from LBA size $((1 << lbads))"
    IC_DLFEAT=$(ic_num dlfeat "$(ic_field dlfeat <<<"$out")")
    info "nsze $nsze x $((1 << lbads)) bytes = $bytes bytes, dlfeat $IC_DLFEAT"
}

# Run one fio job on $IC_FIO_DEV (default IC_DEV); print a summary, or the whole report if it fails.
ic_run_fio() {
    local name=$1 out=$IC_TMP/fio-$1.log rc=0
    shift
    echo "+ fio --name=$name $*"
    fio --name="$name" --filename="${IC_FIO_DEV:-$IC_DEV}" --ioengine=libaio --direct=1 \
        --verify=crc32c --do_verify=1 --verify_fatal=1 "$@" >"$out" 2>&1 || rc=$?
    if ((rc != 0)); then
        cat "$out"
        fail "fio job $name failed (exit $rc)"
    fi
    grep -E 'err=|^ *(read|write):|issued rwts' "$out" | sed 's/^ */    /'
    grep -qE 'err= *0' "$out" || { cat "$out"; fail "fio job $name reported errors"; }
}

ic_fio() {
    step "initiator: fio + crc32c verify on $IC_DEV"
    # Small random 4k writes (many commands), large sequential writes
    # (multi-PDU transfers), each read back and verified; then mixed random
    # reads and writes, the reads verifying what the writes left.
    ic_run_fio rand4k --rw=randwrite --bs=4k --iodepth=16 --size="$IC_FIO_SIZE" --randrepeat=0
    ic_run_fio seq128k --rw=write --bs=128k --iodepth=4 --size="$IC_FIO_SIZE" --offset=16M
    ic_run_fio randrw --rw=randrw --bs=4k-64k --iodepth=8 --size="$IC_FIO_SIZE" --offset=4M
}

# ic_dd_roundtrip [DEV [MiB OFFSET]]: random data written with dd, read back
# through a different I/O size, compared by sha256.
ic_dd_roundtrip() {
    local dev=${1:-$IC_DEV} at=${2:-8}
    step "initiator: dd round trip on $dev (${IC_DD_MB} MiB at ${at} MiB, sha256)"
    local pattern=$IC_TMP/pattern readback=$IC_TMP/readback want got
    run dd if=/dev/urandom of="$pattern" bs=1M count="$IC_DD_MB" status=none
    run dd if="$pattern" of="$dev" bs=1M seek="$at" oflag=direct conv=fsync status=none
    run dd if="$dev" of="$readback" bs=64k skip=$((at * 16)) count=$((IC_DD_MB * 16)) \
        iflag=direct status=none
    want=$(sha256sum <"$pattern" | cut -d' ' -f1)
    got=$(sha256sum <"$readback" | cut -d' ' -f1)
    info "wrote $want"
    info "read  $got"
    [[ $want == "$got" ]] || fail "dd round trip data mismatch on $dev"
    rm -f "$pattern" "$readback"
}

# Fill 1 MiB at MiB offset $1 with random data, saved in $IC_TMP/around.
ic_fill_mib() {
    run dd if=/dev/urandom of="$IC_TMP/around" bs=1M count=1 status=none
    run dd if="$IC_TMP/around" of="$IC_DEV" bs=1M seek="$1" oflag=direct conv=fsync status=none
}

# Expect 1 MiB at MiB offset $1 to be $IC_TMP/around with [$2, $2 + $3) bytes zeroed.
ic_expect_zeroed() {
    local at=$1 off=$2 len=$3 what=$4
    cp "$IC_TMP/around" "$IC_TMP/expect"
    dd if=/dev/zero of="$IC_TMP/expect" bs=4k seek=$((off / 4096)) count=$((len / 4096)) \
        conv=notrunc status=none
    run dd if="$IC_DEV" of="$IC_TMP/got" bs=1M skip="$at" count=1 iflag=direct status=none
    if ! cmp "$IC_TMP/expect" "$IC_TMP/got"; then
        fail "$what: bytes $off..$((off + len)) of the 1 MiB at ${at} MiB should be zero and the rest unchanged"
    fi
    info "$what: $len bytes read back as zeroes, the data around them unchanged"
}

# Write Zeroes over 256 KiB in the middle of 1 MiB of random data.
ic_write_zeroes() {
    step "initiator: nvme write-zeroes on $IC_DEV"
    local lbs at=24 out
    [[ -n ${IC_ONCS:-} ]] || fail "ic_write_zeroes needs ic_id_ctrl first (ONCS)"
    ((IC_ONCS >> 3 & 1)) || fail "controller does not advertise Write Zeroes (ONCS bit 3)"
    lbs=$(blockdev --getss "$IC_DEV")
    ic_fill_mib "$at"
    out=$(timeout 30 nvme write-zeroes "$IC_DEV" --start-block=$(((at * 1048576 + 65536) / lbs)) \
        --block-count=$((262144 / lbs - 1)) 2>&1) || fail "nvme write-zeroes failed: $out"
    echo "$out"
    ic_expect_zeroed "$at" 65536 262144 "write-zeroes"
}

# Discard (Dataset Management, deallocate) 256 KiB in the middle of 1 MiB of
# random data; the range reads back as zeroes when the namespace says so
# (DLFEAT read behaviour 001b), the data around it is always unchanged.
ic_discard() {
    step "initiator: blkdiscard on $IC_DEV"
    local at=26 q
    [[ -n ${IC_ONCS:-} && -n ${IC_DLFEAT:-} ]] || fail "ic_discard needs ic_id_ctrl and ic_id_ns first"
    ((IC_ONCS >> 2 & 1)) || fail "controller does not advertise Dataset Management (ONCS bit 2)"
    q=/sys/block/$(basename "$IC_DEV")/queue
    info "discard_granularity $(cat "$q/discard_granularity"), discard_max_bytes $(cat "$q/discard_max_bytes")"
    (($(cat "$q/discard_max_bytes") > 0)) || fail "kernel has discard disabled on $IC_DEV despite ONCS DSM"
    ic_fill_mib "$at"
    run blkdiscard --offset $((at * 1048576 + 65536)) --length 262144 "$IC_DEV"
    if (((IC_DLFEAT & 7) == 1)); then
        ic_expect_zeroed "$at" 65536 262144 "discard (dlfeat: deallocated blocks read as zeroes)"
    else
        # Unspecified content in the range; only the rest must be intact.
        run dd if="$IC_DEV" of="$IC_TMP/got" bs=1M skip="$at" count=1 iflag=direct status=none
        cmp -n 65536 "$IC_TMP/around" "$IC_TMP/got" || fail "discard changed data before the range"
        cmp -i 327680 "$IC_TMP/around" "$IC_TMP/got" || fail "discard changed data after the range"
        info "discard done; range content unspecified (dlfeat $IC_DLFEAT), data around it unchanged"
    fi
}

# ic_compare [--if-supported]: NVMe Compare of 16 KiB against equal data
# succeeds, against data differing in one byte fails with Compare Failure.
# With --if-supported a controller without Compare (ONCS bit 0) passes if the
# command is refused cleanly.
ic_compare() {
    step "initiator: nvme compare on $IC_DEV"
    local lbs at=28 len=16384 out rc=0 slba
    [[ -n ${IC_ONCS:-} ]] || fail "ic_compare needs ic_id_ctrl first (ONCS)"
    lbs=$(blockdev --getss "$IC_DEV")
    slba=$((at * 1048576 / lbs))
    run dd if=/dev/urandom of="$IC_TMP/cmp" bs=$len count=1 status=none
    run dd if="$IC_TMP/cmp" of="$IC_DEV" bs=$len seek=$((at * 1048576 / len)) oflag=direct conv=fsync status=none
    if ! ((IC_ONCS & 1)); then
        [[ ${1:-} == --if-supported ]] || fail "controller does not advertise Compare (ONCS bit 0)"
        out=$(timeout 30 nvme compare "$IC_DEV" --start-block=$slba --block-count=$((len / lbs - 1)) \
            --data-size=$len --data="$IC_TMP/cmp" 2>&1) || rc=$?
        ((rc != 0 && rc != 124)) || fail "nvme compare: unadvertised command did not fail cleanly (exit $rc): $out"
        info "Compare not advertised (ONCS bit 0 clear); refused as expected: $out"
        return 0
    fi
    out=$(timeout 30 nvme compare "$IC_DEV" --start-block=$slba --block-count=$((len / lbs - 1)) \
        --data-size=$len --data="$IC_TMP/cmp" 2>&1) || fail "nvme compare of equal data failed: $out"
    info "equal data: $out"
    # Flip one byte in the last block.
    cp "$IC_TMP/cmp" "$IC_TMP/cmp-diff"
    printf '%b' "\\x$(printf '%02x' $((0x$(od -An -tx1 -j $((len - 7)) -N1 "$IC_TMP/cmp" | tr -d ' ') ^ 0xff)))" |
        dd of="$IC_TMP/cmp-diff" bs=1 seek=$((len - 7)) conv=notrunc status=none
    cmp -s "$IC_TMP/cmp" "$IC_TMP/cmp-diff" && fail "test bug: the changed buffer equals the original"
    out=$(timeout 30 nvme compare "$IC_DEV" --start-block=$slba --block-count=$((len / lbs - 1)) \
        --data-size=$len --data="$IC_TMP/cmp-diff" 2>&1) || rc=$?
    ((rc != 124)) || fail "nvme compare of different data timed out"
    ((rc != 0)) || fail "nvme compare of different data succeeded: $out"
    grep -Eqi 'compare_failed|compare failure|miscompare|0x285|\(285\)' <<<"$out" ||
        fail "nvme compare of different data failed, but not with Compare Failure: $out"
    info "different data: exit $rc, $out"
    # The failed compare must not have changed the data.
    run dd if="$IC_DEV" of="$IC_TMP/got" bs=$len count=1 skip=$((at * 1048576 / len)) iflag=direct status=none
    cmp "$IC_TMP/cmp" "$IC_TMP/got" || fail "data changed by a failed compare"
}

# The target adds a namespace at run time (the test's target_add_ns); the
# host sees a new /dev/nvmeXnY of the same subsystem and does I/O on it.
ic_hot_add() {
    step "initiator: namespace hot-add"
    local before after d i new='' bytes
    declare -F target_add_ns >/dev/null || fail "test defines no target_add_ns function"
    mapfile -t before < <(ic_list_namespaces)
    target_add_ns
    for ((i = 0; i < 150; i++)); do
        mapfile -t after < <(ic_list_namespaces)
        for d in "${after[@]}"; do
            [[ " ${before[*]} " == *" $d "* ]] && continue
            [[ $(ic_ns_subnqn "$d") == "$IC_NQN" ]] && new=$d
        done
        [[ -n $new ]] && break
        sleep 0.2
    done
    [[ -n $new ]] || fail "no new namespace of $IC_NQN appeared within 30 s of target_add_ns"
    IC_EXTRA_DEVS+=("$new")
    # The namespace stays: the next connect must find it too.
    IC_NAMESPACES=$((IC_NAMESPACES + 1))
    bytes=$(blockdev --getsize64 "$new")
    info "new namespace $new, $bytes bytes"
    [[ -z $IC_HOTADD_BYTES ]] || ((bytes == IC_HOTADD_BYTES)) ||
        fail "hot-added namespace has $bytes bytes, expected $IC_HOTADD_BYTES"
    run nvme list
    ic_dd_roundtrip "$new" 1
    # The first namespace still works.
    ic_dd_roundtrip "$IC_DEV" 8
}

# The target removes a namespace at run time (the test's target_remove_ns,
# given its NSID); the host's device for it goes away and the first
# namespace still does I/O. Default: the last hot-added namespace.
ic_hot_remove() {
    local dev=${1:-} nsid d keep=()
    ((${#IC_EXTRA_DEVS[@]} == 0)) || [[ -n $dev ]] || dev=${IC_EXTRA_DEVS[-1]}
    step "initiator: namespace hot-remove ($dev)"
    declare -F target_remove_ns >/dev/null || fail "test defines no target_remove_ns function"
    [[ -n $dev && -b $dev ]] || fail "ic_hot_remove: no namespace device to remove ('$dev')"
    nsid=$(cat "/sys/block/$(basename "$dev")/nsid")
    target_remove_ns "$nsid"
    wait_for 30 "$dev (NSID $nsid) to go away" test ! -e "$dev"
    info "$dev is gone"
    for d in "${IC_EXTRA_DEVS[@]}"; do
        [[ $d == "$dev" ]] || keep+=("$d")
    done
    IC_EXTRA_DEVS=("${keep[@]}")
    keep=()
    for d in "${IC_DEVS[@]}"; do
        [[ $d == "$dev" ]] || keep+=("$d")
    done
    IC_DEVS=("${keep[@]}")
    IC_NAMESPACES=$((IC_NAMESPACES - 1))
    [[ $dev != "$IC_DEV" ]] || fail "ic_hot_remove removed IC_DEV itself"
    ic_dd_roundtrip "$IC_DEV" 8
}

ic_disconnect() {
    step "initiator: disconnect $IC_NQN"
    local out d
    out=$(timeout 60 nvme disconnect -n "$IC_NQN" 2>&1) || fail "nvme disconnect failed: $out"
    echo "$out"
    IC_CONNECTED=0
    grep -Eq "disconnected [1-9]" <<<"$out" || fail "nvme disconnect did not disconnect a controller"
    for d in "${IC_DEVS[@]}" "${IC_EXTRA_DEVS[@]}"; do
        wait_for 20 "$d to go away" test ! -e "$d"
    done
    [[ -z $(ic_ctrls_of "$IC_NQN") ]] ||
        fail "controller(s) $(ic_ctrls_of "$IC_NQN" | xargs) for $IC_NQN still present after disconnect"
    [[ -z $IC_CTRL ]] || wait_for 20 "$IC_CTRL to go away" test ! -e "$IC_CTRL"
    IC_DEV='' IC_CTRL='' IC_DEVS=() IC_EXTRA_DEVS=()
    return 0
}

# BPF for the target's ICResp PDUs (type 1, flags 0, HLEN 128, PDO 0) at the
# start of a TCP payload; byte 11 of the PDU is DGST (bit 0 header, bit 1 data).
IC_BPF_ICRESP='tcp[((tcp[12] & 0xf0) >> 2):4] = 0x01008000'
IC_BPF_DIGESTS='tcp[((tcp[12] & 0xf0) >> 2) + 11:1] & 3 = 3'
IC_CAP_PIDS=()

# ic_capture_icresp: count the target's ICResps, all and those enabling both
# digests, in $IC_TMP/icresp-{all,dgst} (tcpdump on lo; no tcpdump: no-op).
ic_capture_icresp() {
    local f
    IC_CAP_PIDS=()
    command -v tcpdump >/dev/null || return 0
    rm -f "$IC_TMP"/icresp-*
    for f in all dgst; do
        local filter="tcp src port $IC_TRSVCID and $IC_BPF_ICRESP"
        [[ $f == dgst ]] && filter+=" and $IC_BPF_DIGESTS"
        tcpdump -i lo -nn -l -Z root "$filter" >"$IC_TMP/icresp-$f" 2>"$IC_TMP/icresp-$f.err" &
        IC_CAP_PIDS+=($!)
        wait_for 20 "tcpdump to listen" grep -q 'listening on' "$IC_TMP/icresp-$f.err"
    done
}

# ic_capture_icresp_check on|off: every ICResp captured enabled both
# digests (on), or none did (off: the host asked for none).
ic_capture_icresp_check() {
    local want=$1 pid all dgst
    ((${#IC_CAP_PIDS[@]})) || { info "tcpdump not installed: digests negotiated not checked"; return 0; }
    sleep 0.5   # the last packets reach tcpdump
    for pid in "${IC_CAP_PIDS[@]}"; do
        kill -INT "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    IC_CAP_PIDS=()
    all=$(grep -c . "$IC_TMP/icresp-all" || true)
    dgst=$(grep -c . "$IC_TMP/icresp-dgst" || true)
    ((all >= 2)) || fail "captured $all ICResp PDUs on port $IC_TRSVCID, expected admin + I/O queues"
    if [[ $want == on ]] && ((dgst != all)); then
        sed 's/^/    all:  /' "$IC_TMP/icresp-all"
        sed 's/^/    dgst: /' "$IC_TMP/icresp-dgst"
        fail "only $dgst of $all ICResp PDUs enable header and data digests"
    fi
    [[ $want == on ]] || ((dgst == 0)) || fail "$dgst of $all ICResp PDUs enable digests the host did not ask for"
    info "$all ICResp PDUs (admin and I/O queues), digests $want in $dgst"
}

# A second connect/disconnect cycle with header and data digests (CRC32C on
# every PDU header and data), checked in the ICResps on the wire, and I/O
# verified through it.
ic_digest_cycle() {
    ic_capture_icresp
    ic_connect --hdr-digest --data-digest
    ic_capture_icresp_check on
    ic_run_fio digest-rand4k --rw=randwrite --bs=4k --iodepth=8 --size=1M --offset=2M
    ic_run_fio digest-seq128k --rw=write --bs=128k --iodepth=4 --size=2M --offset=18M
    ic_dd_roundtrip
    ic_disconnect
}

# ic_connect_refused NQN HOSTNQN: nvme connect must fail and leave no
# controller for NQN. IC_REFUSED_OUT is its error output (for the caller to grep).
ic_connect_refused() {
    local nqn=$1 hostnqn=$2 rc=0
    echo "+ nvme connect -n $nqn -q $hostnqn (must be refused)"
    IC_REFUSED_OUT=$(timeout 60 nvme connect -t tcp -a "$IC_TRADDR" -s "$IC_TRSVCID" -n "$nqn" \
        -q "$hostnqn" 2>&1) || rc=$?
    ((rc != 124)) || fail "nvme connect to $nqn as $hostnqn hung"
    if ((rc == 0)); then
        timeout 30 nvme disconnect -n "$nqn" >/dev/null 2>&1 || true
        fail "nvme connect to $nqn as $hostnqn succeeded, expected a refusal"
    fi
    [[ -z $(ic_ctrls_of "$nqn") ]] || fail "a controller for $nqn exists after a refused connect"
    info "refused (exit $rc): $IC_REFUSED_OUT"
}

# ic_dmesg_mark: remember the kernel log's length; ic_dmesg_since prints
# what was logged after the mark (e.g. the initiator's reconnect messages).
IC_DMESG_MARK=0
ic_dmesg_mark() { IC_DMESG_MARK=$(dmesg | wc -l); }
ic_dmesg_since() { dmesg | tail -n +$((IC_DMESG_MARK + 1)); }

# Best-effort cleanup after a failure (never fails itself).
ic_cleanup() {
    local pid
    for pid in "${IC_CAP_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    if ((IC_CONNECTED)); then
        echo "cleanup: nvme disconnect -n $IC_NQN"
        timeout 30 nvme disconnect -n "$IC_NQN" >/dev/null 2>&1 || true
        IC_CONNECTED=0
    fi
    if ((IC_TARGET_UP)) && declare -F target_cleanup >/dev/null; then
        echo "cleanup: target_cleanup"
        IC_TARGET_UP=0
        target_cleanup || true
    elif ((IC_TARGET_UP)) && declare -F target_teardown >/dev/null; then
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
    ic_capture_icresp
    ic_connect
    ic_capture_icresp_check off
    ic_list
    ic_id_ctrl
    ic_id_ns
    ic_fio
    ic_dd_roundtrip
    ic_write_zeroes
    ic_discard
    if declare -F target_extra_checks >/dev/null; then
        target_extra_checks
    fi
    ic_disconnect
    ic_digest_cycle
    step "target: teardown"
    IC_TARGET_UP=0
    target_teardown
    trap - EXIT
}
