#!/bin/bash
# nvmf-tgtd under faults, with the kernel NVMe/TCP initiator:
# - Connects the daemon must refuse: a subsystem NQN it does not have, and a
#   host NQN not allowed on a subsystem (allow_any_host false + add_host for
#   another host); the daemon log names the reason, the discovery log hides
#   the subsystem from the stranger, and the allowed host does connect.
# - A host that vanishes mid-I/O: fio writing with crc32c verify, then the
#   host's TCP connections are destroyed (ss -K: the daemon gets RSTs with
#   commands and data in flight); the host reconnects on its own, fio
#   finishes and verifies; a second, fresh connect does I/O.
# - A host that goes silent mid-I/O (tc netem drops every loopback packet):
#   the daemon expires the controller at the keep-alive timeout (KATO 5 s),
#   keeps serving, and the host reconnects once packets flow again.
# - A userspace peer killed with SIGKILL halfway through a command PDU.
# - No socket leaked after all that (the daemon's socket count at idle).
# - SIGTERM under load (fio writing): exit status 0 within TGTD_STOP_SECS;
#   data written and flushed before is read back intact after a restart
#   on the same file namespace (the host reconnects to the new daemon).
# systest: --timeout 480
# systest-needs: nvmf-tgtd
set -euo pipefail
. "$SYSTEST_LIB/common.sh"
. "$SYSTEST_LIB/initiator-checks.sh"
. "$SYSTEST_LIB/nvmf-tgtd.sh"

DATA=/var/tmp/nvmf-tgtd-faults   # root disk: O_DIRECT works there
CFG=$DATA/nvmf-tgtd.json
RESTRICTED_NQN=nqn.2024-01.io.libreactor:restricted
ALLOWED_HOST=nqn.2024-01.io.libreactor:allowed-host
STRANGER_HOST=nqn.2024-01.io.libreactor:stranger
MISSING_NQN=nqn.2024-01.io.libreactor:no-such-subsystem
# The file namespace keeps its identity across restarts (without a fixed
# UUID each start makes a new one, and the host drops the namespace on
# reconnect: "identifiers changed for nsid 1").
NS_UUID=5d0c6a1e-0b7f-4a53-9d2c-3f4e5a6b7c01
# The host retries the connection itself (every second, for 60 s) after an error.
RECONNECT=(--reconnect-delay=1 --ctrl-loss-tmo=60)
FIO_PID=''
LO_NETEM=0

write_config() {
    local listen="\"listen_address\": { \"trtype\": \"TCP\", \"adrfam\": \"IPv4\",
        \"traddr\": \"$IC_TRADDR\", \"trsvcid\": \"$IC_TRSVCID\" }"
    cat >"$CFG" <<EOF
{
  "subsystems": [
    {
      "subsystem": "bdev",
      "config": [
        { "method": "bdev_uring_create",
          "params": { "name": "File0", "filename": "$DATA/ns1.img", "block_size": 512,
                      "uuid": "$NS_UUID" } },
        { "method": "bdev_malloc_create",
          "params": { "name": "Malloc0", "num_blocks": 65536, "block_size": 512 } }
      ]
    },
    {
      "subsystem": "nvmf",
      "config": [
        { "method": "nvmf_create_transport", "params": { "trtype": "TCP" } },
        { "method": "nvmf_create_subsystem",
          "params": { "nqn": "$IC_NQN", "serial_number": "SYSTEST0000000000002",
                      "allow_any_host": true } },
        { "method": "nvmf_subsystem_add_ns",
          "params": { "nqn": "$IC_NQN", "namespace": { "nsid": 1, "bdev_name": "File0",
                      "uuid": "$NS_UUID", "nguid": "${NS_UUID//-/}" } } },
        { "method": "nvmf_subsystem_add_listener", "params": { "nqn": "$IC_NQN", $listen } },
        { "method": "nvmf_create_subsystem",
          "params": { "nqn": "$RESTRICTED_NQN", "serial_number": "SYSTEST0000000000003",
                      "allow_any_host": false } },
        { "method": "nvmf_subsystem_add_host",
          "params": { "nqn": "$RESTRICTED_NQN", "host": "$ALLOWED_HOST" } },
        { "method": "nvmf_subsystem_add_ns",
          "params": { "nqn": "$RESTRICTED_NQN", "namespace": { "nsid": 1, "bdev_name": "Malloc0" } } },
        { "method": "nvmf_subsystem_add_listener", "params": { "nqn": "$RESTRICTED_NQN", $listen } }
      ]
    }
  ]
}
EOF
}

cleanup() {
    local rc=$?
    trap - EXIT
    if ((LO_NETEM)); then
        tc qdisc del dev lo root 2>/dev/null || true
    fi
    if [[ -n $FIO_PID ]]; then
        kill -KILL "$FIO_PID" 2>/dev/null || true
    fi
    timeout 30 nvme disconnect-all >/dev/null 2>&1 || true
    tgtd_cleanup
    exit "$rc"
}
trap cleanup EXIT

# The daemon is alive and answers RPC.
tgtd_alive() {
    kill -0 "$TGTD_PID" 2>/dev/null || fail "nvmf-tgtd (pid $TGTD_PID) is gone; log tail: $(tail -n 20 "$TGTD_LOG")"
    reactorctl -s "$TGTD_SOCK" -t 10 rpc_get_methods >/dev/null || fail "nvmf-tgtd does not answer RPC"
}

# Sockets the daemon has open.
tgtd_sockets() {
    find "/proc/$TGTD_PID/fd" -lname 'socket:*' 2>/dev/null | wc -l
}

# Conditions polled with wait_for (evaluated on each try).
no_connections() { [[ -z $(ss -Htn state established "sport = :$IC_TRSVCID") ]]; }
icresp_received() { [[ $(stat -c %s "$IC_TMP/icresp" 2>/dev/null || echo 0) -ge 128 ]]; }
sockets_back() { (($(tgtd_sockets) == base_sockets)); }

# The controller /sys/class/nvme/nvmeX of subsystem $1 (exactly one).
ctrl_sysfs() {
    local c
    mapfile -t c < <(ic_ctrls_of "$1")
    ((${#c[@]} == 1)) || fail "expected one controller for $1, found ${#c[@]}"
    echo "${c[0]}"
}

# fio_start NAME ARGS...: background fio on $IC_DEV, output in $IC_TMP/fio-NAME.log.
fio_start() {
    local name=$1
    shift
    echo "+ fio --name=$name $* &"
    fio --name="$name" --filename="$IC_DEV" --ioengine=libaio --direct=1 "$@" \
        >"$IC_TMP/fio-$name.log" 2>&1 &
    FIO_PID=$!
}

# fio_wait SECS: wait for the background fio; FIO_RC is its exit status.
FIO_RC=''
fio_wait() {
    local i
    for ((i = 0; i < $1 * 5; i++)); do
        kill -0 "$FIO_PID" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$FIO_PID" 2>/dev/null; then
        kill -KILL "$FIO_PID" 2>/dev/null || true
        wait "$FIO_PID" 2>/dev/null || true
        FIO_PID=''
        cat "$IC_TMP"/fio-*.log
        fail "fio still running after $1 s (killed)"
    fi
    FIO_RC=0
    wait "$FIO_PID" || FIO_RC=$?
    FIO_PID=''
}

# The kernel initiator logged its reconnection since ic_dmesg_mark.
host_reconnected() {
    ic_dmesg_since | grep -q 'Successfully reconnected'
}

# Write commands the daemon has completed on File0 (the host's multipath
# head node keeps no I/O statistics).
target_writes() {
    reactorctl -s "$TGTD_SOCK" -t 10 bdev_get_iostat name=File0 |
        sed -n 's/.*"num_write_ops": *\([0-9]*\).*/\1/p' | head -n1
}

# Wait until the background fio has completed some I/O and is still running.
wait_io_started() {
    local ios0 i
    ios0=$(target_writes)
    [[ -n $ios0 ]] || fail "bdev_get_iostat shows no num_write_ops for File0"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$FIO_PID" 2>/dev/null || { cat "$IC_TMP"/fio-*.log; fail "fio ended early"; }
        (($(target_writes) > ios0 + 20)) && return 0
        sleep 0.2
    done
    fail "fio did no I/O on $IC_DEV within 20 s"
}

# ---------------------------------------------------------------------------
tgtd_install
ic_prepare
run modprobe tcp_diag
rm -rf "$DATA"
mkdir -p "$DATA"
run truncate -s 64M "$DATA/ns1.img"
write_config
step "target: start"
tgtd_start "$CFG"

# Baseline: one clean connect, I/O and disconnect (channels made on first use).
ic_connect
ic_dd_roundtrip
ic_disconnect
wait_for 10 "the daemon's connections to close" no_connections
base_sockets=$(tgtd_sockets)
info "daemon sockets at idle: $base_sockets"

# ---------------------------------------------------------------------------
step "fault: connect to a subsystem NQN the daemon does not have"
ic_connect_refused "$MISSING_NQN" "$IC_HOSTNQN"
tgtd_alive
tgtd_log_has "$MISSING_NQN" || fail "daemon log does not name the unknown subsystem $MISSING_NQN"
info "daemon log: $(grep -F "$MISSING_NQN" "$TGTD_LOG" | tail -n1)"

step "fault: connect as a host not allowed on $RESTRICTED_NQN"
ic_connect_refused "$RESTRICTED_NQN" "$STRANGER_HOST"
tgtd_alive
tgtd_log_has "$STRANGER_HOST" || fail "daemon log does not name the refused host $STRANGER_HOST"
info "daemon log: $(grep -F "$STRANGER_HOST" "$TGTD_LOG" | tail -n1)"

step "discovery log as seen by each host"
out=$(timeout 60 nvme discover -t tcp -a "$IC_TRADDR" -s "$IC_TRSVCID" -q "$STRANGER_HOST") ||
    fail "nvme discover as $STRANGER_HOST failed: $out"
grep -q "subnqn:.*$RESTRICTED_NQN" <<<"$out" && fail "discovery log shows $RESTRICTED_NQN to $STRANGER_HOST"
grep -q "subnqn:.*$IC_NQN\$" <<<"$out" || fail "discovery log does not show $IC_NQN to $STRANGER_HOST"
out=$(timeout 60 nvme discover -t tcp -a "$IC_TRADDR" -s "$IC_TRSVCID" -q "$ALLOWED_HOST") ||
    fail "nvme discover as $ALLOWED_HOST failed: $out"
grep -q "subnqn:.*$RESTRICTED_NQN" <<<"$out" || fail "discovery log hides $RESTRICTED_NQN from $ALLOWED_HOST"
info "$RESTRICTED_NQN listed for $ALLOWED_HOST only"

step "the allowed host connects to $RESTRICTED_NQN"
saved_nqn=$IC_NQN saved_host=$IC_HOSTNQN
IC_NQN=$RESTRICTED_NQN IC_HOSTNQN=$ALLOWED_HOST
ic_connect
ic_dd_roundtrip
ic_disconnect
IC_NQN=$saved_nqn IC_HOSTNQN=$saved_host

# ---------------------------------------------------------------------------
step "fault: the host's connections reset mid-I/O (ss -K)"
ic_connect "${RECONNECT[@]}"
ctrl=$(ctrl_sysfs "$IC_NQN")
fio_start vanish --rw=randwrite --bs=4k-32k --iodepth=16 --size=16M --offset=4M \
    --verify=crc32c --do_verify=1 --verify_fatal=1
wait_io_started
info "fio running; destroying the host's sockets to port $IC_TRSVCID"
ic_dmesg_mark
out=$(ss -K -Htn state established "dport = :$IC_TRSVCID") || fail "ss -K failed: $out"
killed=$(grep -c ":$IC_TRSVCID" <<<"$out" || true)
((killed >= 1)) || fail "ss -K destroyed no connection (sock_diag destroy unavailable?): $out"
info "destroyed $killed host connection(s)"
wait_for 60 "the host to reconnect (kernel: Successfully reconnected)" host_reconnected
ic_dmesg_since | grep -E 'nvme|nvmf' | grep -v 'requeuing\|failing I/O' | sed 's/^/    kernel: /' || true
wait_for 30 "$(basename "$ctrl") live" grep -qx live "$ctrl/state"
fio_wait 120
grep -E 'err=|issued rwts' "$IC_TMP/fio-vanish.log" | sed 's/^ */    /'
((FIO_RC == 0)) || { cat "$IC_TMP/fio-vanish.log"; fail "fio across the connection reset failed (exit $FIO_RC)"; }
tgtd_alive
ic_dd_roundtrip
ic_disconnect

step "after the reset: a second, fresh connect"
ic_connect
ic_run_fio after-reset --rw=randwrite --bs=4k --iodepth=8 --size=1M --offset=12M
ic_disconnect

# ---------------------------------------------------------------------------
step "fault: the host goes silent mid-I/O (netem drops all loopback packets)"
ic_connect "${RECONNECT[@]}" --keep-alive-tmo=5
fio_start silent --rw=randwrite --bs=4k-32k --iodepth=16 --size=16M --offset=20M \
    --verify=crc32c --do_verify=1 --verify_fatal=1
wait_io_started
ic_dmesg_mark
run tc qdisc add dev lo root netem loss 100%
LO_NETEM=1
info "lo drops every packet; the daemon must expire the controller (KATO 5 s)"
wait_for 30 "the daemon to log a keep alive timeout" tgtd_log_has 'keep.alive timeout'
info "daemon log: $(grep -i 'keep.alive timeout' "$TGTD_LOG" | tail -n1)"
tgtd_alive
run tc qdisc del dev lo root
LO_NETEM=0
wait_for 90 "the host to reconnect (kernel: Successfully reconnected)" host_reconnected
ic_dmesg_since | grep -E 'nvme|nvmf' | grep -v 'requeuing\|failing I/O' | sed 's/^/    kernel: /' || true
fio_wait 120
grep -E 'err=|issued rwts' "$IC_TMP/fio-silent.log" | sed 's/^ */    /'
((FIO_RC == 0)) || { cat "$IC_TMP/fio-silent.log"; fail "fio across the silent period failed (exit $FIO_RC)"; }
ic_dd_roundtrip
ic_disconnect

# ---------------------------------------------------------------------------
step "fault: a userspace peer killed with SIGKILL inside a command PDU"
# ICReq: type 0, hlen 128, plen 128, PFV 0, no digests; then 24 of the 72
# bytes of a CapsuleCmd, and the peer dies.
(
    exec 3<>"/dev/tcp/$IC_TRADDR/$IC_TRSVCID" || exit 1
    { printf '\x00\x00\x80\x00\x80\x00\x00\x00'; head -c 120 /dev/zero; } >&3
    head -c 128 <&3 >"$IC_TMP/icresp"
    { printf '\x04\x00\x48\x00\x48\x00\x00\x00'; head -c 16 /dev/zero; } >&3
    exec sleep 300
) &
peer=$!
wait_for 20 "the ICResp (128 bytes)" icresp_received
[[ $(od -An -tx1 -N1 "$IC_TMP/icresp" | tr -d ' ') == 01 ]] || fail "the daemon's answer to ICReq is not an ICResp"
kill -KILL "$peer"
wait "$peer" 2>/dev/null || true
info "peer $peer killed after the ICResp and 24 bytes of a capsule"
tgtd_alive

step "no connection or socket left behind"
wait_for 15 "the daemon's connections to close" no_connections
wait_for 15 "the daemon's sockets back to $base_sockets" sockets_back
info "daemon sockets at idle: $(tgtd_sockets)"

# ---------------------------------------------------------------------------
step "fault: SIGTERM under load, restart, data flushed before is intact"
ic_connect "${RECONNECT[@]}"
ctrl=$(ctrl_sysfs "$IC_NQN")
run dd if=/dev/urandom of="$IC_TMP/kept" bs=1M count=4 status=none
run dd if="$IC_TMP/kept" of="$IC_DEV" bs=1M seek=40 oflag=direct conv=fsync status=none
want=$(sha256sum <"$IC_TMP/kept" | cut -d' ' -f1)
info "flushed 4 MiB at 40 MiB: $want"
fio_start load --rw=randwrite --bs=4k --iodepth=16 --size=16M --offset=8M --time_based --runtime=12
wait_io_started
step "target: SIGTERM with fio writing"
ic_dmesg_mark
tgtd_stop
step "target: restart"
tgtd_start "$CFG"
wait_for 60 "the host to reconnect (kernel: Successfully reconnected)" host_reconnected
ic_dmesg_since | grep -E 'nvme|nvmf' | grep -v 'requeuing\|failing I/O' | sed 's/^/    kernel: /' || true
wait_for 30 "$(basename "$ctrl") live" grep -qx live "$ctrl/state"
fio_wait 90
info "fio across the restart: exit $FIO_RC (errors allowed: the target stopped under it)"
grep -E 'err=|issued rwts' "$IC_TMP/fio-load.log" | sed 's/^ */    /' || true
run dd if="$IC_DEV" of="$IC_TMP/kept-readback" bs=64k skip=$((40 * 16)) count=64 iflag=direct status=none
got=$(sha256sum <"$IC_TMP/kept-readback" | cut -d' ' -f1)
info "read back after the restart: $got"
[[ $got == "$want" ]] || fail "data flushed before SIGTERM differs after the restart"
ic_dd_roundtrip
ic_disconnect

step "target: stop"
tgtd_stop
trap - EXIT
echo "PASS: nvmf-tgtd-faults"
