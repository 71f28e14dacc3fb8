#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# tools/nvmf-perf against the real nvmf-tgtd on a free TCP port: every
# I/O pattern (in-capsule and R2T writes, C2HData reads, mixed), digests,
# several connections, and the failures it must report with exit 1 and a
# clear message (refused connect, unknown subsystem, inactive namespace,
# I/O size above MDTS, the target killed during the run). TAP output.
set -u
. "$(dirname "$0")/lib.sh"
APP=$top_builddir/daemon/nvmf-tgtd
PERF=$top_builddir/tools/nvmf-perf/nvmf-perf
init_test nvmf-perf
[ -x "$PERF" ] || { echo "1..0 # SKIP $PERF not built"; exit 0; }

sock=$tmp/tgt.sock
NQN=nqn.2016-06.io.libreactor:perf
port=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport')
trid="trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$port subnqn:$NQN"
# The target on the first CPU, nvmf-perf on the second when there is one.
perf_mask=0x1
[ "$(nproc)" -ge 2 ] && perf_mask=0x2

cat >"$tmp/tgt.json" <<JSON
{"subsystems": [
 {"subsystem": "bdev", "config": [
  {"method": "bdev_malloc_create", "params": {"name": "Malloc0", "num_blocks": 32768, "block_size": 512}}]},
 {"subsystem": "nvmf", "config": [
  {"method": "nvmf_create_transport", "params": {"trtype": "TCP"}},
  {"method": "nvmf_create_subsystem", "params": {"nqn": "$NQN", "allow_any_host": true}},
  {"method": "nvmf_subsystem_add_ns", "params": {"nqn": "$NQN", "namespace": {"nsid": 1, "bdev_name": "Malloc0"}}},
  {"method": "nvmf_subsystem_add_listener", "params": {"nqn": "$NQN", "listen_address":
   {"trtype": "TCP", "adrfam": "IPv4", "traddr": "127.0.0.1", "trsvcid": "$port"}}}]}]}
JSON

# perf NAME ARGS...: run nvmf-perf (bounded); output in $tmp/NAME.out/.err, status in $rc.
perf() {
	_name=$1
	shift
	timeout 120 "$PERF" -m "$perf_mask" "$@" >"$tmp/$_name.out" 2>"$tmp/$_name.err"
	rc=$?
}

# run_ok DESCRIPTION NAME ARGS...: exit 0, a Total line with IOPS > 0 and
# latencies in order (min <= p50 <= p99 <= max), one line per qpair, no sanitizer report.
run_ok() {
	_d=$1
	_name=$2
	shift 2
	perf "$_name" -r "$trid" -t 1 "$@"
	_total=$(awk -F: '/^Total/ { print $2 }' "$tmp/$_name.out")
	if [ "$rc" -eq 0 ] && [ -n "$_total" ] &&
		echo "$_total" | awk '{ exit !($1 > 0 && $2 > 0 && $4 <= $6 && $6 <= $7 && $7 <= $5 * 1.01) }' &&
		no_sanitizer_report "$tmp/$_name.err"; then
		ok "$_d:$(echo "$_total" | awk '{ printf " %.0f IOPS, p99 %.0f us", $1, $7 }')"
	else
		not_ok "$_d (exit $rc)"
		diag_file "$tmp/$_name.out"
		diag_file "$tmp/$_name.err"
	fi
}

# fails DESCRIPTION NAME PATTERN ARGS...: exit 1 and stderr matches PATTERN.
fails() {
	_d=$1
	_name=$2
	_re=$3
	shift 3
	perf "$_name" "$@"
	if [ "$rc" -eq 1 ] && grep -qE -- "$_re" "$tmp/$_name.err" && no_sanitizer_report "$tmp/$_name.err"; then
		ok "$_d"
	else
		not_ok "$_d (exit $rc, want 1 and /$_re/)"
		diag_file "$tmp/$_name.err"
	fi
}

# ---- the command line -----------------------------------------------------------

"$PERF" --help >"$tmp/help" 2>&1
st=$?
check "--help exits 0 and describes -r" sh -c "[ $st -eq 0 ] && grep -q -- '-r, --transport' '$tmp/help'"
"$PERF" -q 4 >"$tmp/nor" 2>&1
st=$?
check "no -r: exit 2, says it is required" sh -c "[ $st -eq 2 ] && grep -q 'required' '$tmp/nor'"
"$PERF" -r "traddr:127.0.0.1 subnqn:$NQN bogus:1" >"$tmp/badtrid" 2>&1
st=$?
check "an unknown transport ID key: exit 2, named" sh -c "[ $st -eq 2 ] && grep -q \"unknown key 'bogus'\" '$tmp/badtrid'"
"$PERF" -r "$trid" -w sideways >"$tmp/badw" 2>&1
st=$?
check "a bad -w: exit 2, named" sh -c "[ $st -eq 2 ] && grep -q sideways '$tmp/badw'"

fails "nothing listening: exit 1, the refused connect named" refused 'Connection refused' -r "$trid" -t 1

# ---- against the target -----------------------------------------------------------

start_app tgt -m 0x1 -c "$tmp/tgt.json" -r "$sock"
tgt_pid=$app_pid
if ! wait_rpc "$sock" "$tgt_pid"; then
	not_ok "nvmf-tgtd starts"
	diag_file "$tmp/tgt.log"
	done_testing
fi

run_ok "4K randread QD32" randread -q 32 -o 4096 -w randread
run_ok "4K randread QD1 (the smallest queue, SQSIZE 1)" qd1 -q 1 -o 4096 -w randread
run_ok "4K randwrite QD32 (in-capsule data)" randwrite -q 32 -o 4096 -w randwrite
run_ok "128K write QD4 (R2T and H2CData)" write128k -q 4 -o 128k -w write
run_ok "128K read QD4 (C2HData)" read128k -q 4 -o 128k -w read
run_ok "16K randrw 70% reads QD8" randrw -q 8 -o 16k -w randrw -M 70
run_ok "8K randwrite (R2T) with header and data digests" dgstw -q 8 -o 8k -w randwrite --hdgst --ddgst
run_ok "4K randread with digests" dgstr -q 8 -o 4k -w randread --hdgst --ddgst
run_ok "three connections" conns -q 4 -o 4096 -w randread -c 3
check "one result line per connection" sh -c "[ \$(grep -c '^TCP .* qpair' '$tmp/conns.out') -eq 3 ]"

fails "an unknown subsystem: exit 1, the Connect status printed" badnqn 'Connect \(admin queue\) failed: status 1/' \
	-r "trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$port subnqn:nqn.2016-06.io.libreactor:none" -t 1
fails "an inactive namespace: exit 1, named" badns 'namespace 9 .* not active' -r "$trid" -n 9 -t 1
fails "an I/O size above MDTS: exit 1, named" bigio 'MDTS' -r "$trid" -o 1m -t 1

# The target dies during a run: nvmf-perf ends with 1 and says the connection went.
(sleep 1; kill -KILL "$tgt_pid") &
fails "the target killed during the run: exit 1, the lost connection named" killed \
	'closed the connection|Connection reset|receive failed' -r "$trid" -q 16 -t 10
done_testing
