#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# nvmf-tgtd against nvmf-perf on one machine, next to SPDK v25.09's figures.
#
#   bench/nvmf_run.sh [BUILD_DIR]        (default: the current directory)
#
# The target runs on core 0 (-m 0x1, a RAM bdev, its default idle policy),
# nvmf-perf on core 1 (-m 0x2). Measured: 4K randread QD32 and QD128, 4K
# randwrite QD32, 128K sequential read QD16 (BENCH_TIME seconds each,
# default 10); the target's CPU use while no host is connected (5 s of
# /proc/PID/stat), the time from exec to its first RPC answer, and its
# VmRSS. Environment: BENCH_TIME, NVMF_PORT (default 4420), MALLOC_MB
# (default 64, the size SPDK's examples use), IDLE_POLICY (poll|adaptive:
# passed as --idle-policy; default: the daemon's own). The build is
# assumed done (make).
set -u

build=$(cd "${1:-.}" && pwd)
secs=${BENCH_TIME:-10}
port=${NVMF_PORT:-4420}
malloc_mb=${MALLOC_MB:-64}
idle=()
[ -n "${IDLE_POLICY:-}" ] && idle=(--idle-policy "$IDLE_POLICY")
nqn=nqn.2016-06.io.libreactor:bench
tgt=$build/daemon/nvmf-tgtd
perf=$build/tools/nvmf-perf/nvmf-perf
ctl=$build/tools/reactorctl

for b in "$tgt" "$perf" "$ctl"; do
	[ -x "$b" ] || { echo "nvmf_run: $b not found: build first (make)" >&2; exit 2; }
done
# In a build tree with shared libraries, daemon/nvmf-tgtd and nvmf-perf are
# libtool wrapper scripts: run the real programs, or the start-up time and
# the RSS would be the wrapper's shell, not the daemon's.
for b in tgt perf; do
	real=$(dirname "${!b}")/.libs/$(basename "${!b}")
	[ -x "$real" ] && printf -v "$b" '%s' "$real"
done
[ -d "$build/lib/.libs" ] && export LD_LIBRARY_PATH="$build/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
	echo "nvmf_run: port $port is in use (set NVMF_PORT)" >&2
	exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/nvmf-run.XXXXXX") || exit 2
pid=""
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

cat >"$work/tgt.json" <<JSON
{ "subsystems": [
  { "subsystem": "bdev", "config": [
    { "method": "bdev_malloc_create",
      "params": { "name": "Malloc0", "num_blocks": $((malloc_mb * 2048)), "block_size": 512 } } ] },
  { "subsystem": "nvmf", "config": [
    { "method": "nvmf_create_transport", "params": { "trtype": "TCP" } },
    { "method": "nvmf_create_subsystem",
      "params": { "nqn": "$nqn", "allow_any_host": true, "serial_number": "BENCH0001" } },
    { "method": "nvmf_subsystem_add_ns",
      "params": { "nqn": "$nqn", "namespace": { "nsid": 1, "bdev_name": "Malloc0" } } },
    { "method": "nvmf_subsystem_add_listener",
      "params": { "nqn": "$nqn", "listen_address": { "trtype": "TCP", "adrfam": "IPv4",
                  "traddr": "127.0.0.1", "trsvcid": "$port" } } } ] } ] }
JSON

# ---- start: time from exec to the first RPC answer ----
sock=$work/rpc.sock
t0=$(date +%s%N)
"$tgt" -m 0x1 "${idle[@]}" -c "$work/tgt.json" -r "$sock" >"$work/tgt.log" 2>&1 &
pid=$!
ready=""
for _ in $(seq 2000); do
	if "$ctl" -s "$sock" -t 1 rpc_get_methods >/dev/null 2>&1; then
		ready=$(( ($(date +%s%N) - t0) / 1000000 ))
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.005
done
if [ -z "$ready" ]; then
	echo "nvmf_run: nvmf-tgtd did not answer RPC; its log:" >&2
	sed 's/^/  /' "$work/tgt.log" >&2
	exit 1
fi

# ---- idle: CPU over 5 s with no host, and memory ----
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
c0=$(cpu_ticks); w0=$(date +%s%N)
sleep 5
c1=$(cpu_ticks); w1=$(date +%s%N)
idle_cpu=$(awk -v c="$((c1 - c0))" -v hz="$hz" -v ns="$((w1 - w0))" 'BEGIN { printf "%.1f", c / hz / (ns / 1e9) * 100 }')
rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")

# ---- workloads ----
load=$(cut -d' ' -f1-3 /proc/loadavg)
trid="trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$port subnqn:$nqn"
declare -A iops mibs p99
run() { # name qd size pattern
	local name=$1 out=$work/perf-$1.txt
	echo "# $name: nvmf-perf -m 0x2 -q $2 -o $3 -w $4 -t $secs" >&2
	if ! "$perf" -m 0x2 -r "$trid" -q "$2" -o "$3" -w "$4" -t "$secs" >"$out" 2>&1; then
		echo "nvmf_run: $name failed:" >&2
		sed 's/^/  /' "$out" >&2
		iops[$name]=0; mibs[$name]=0; p99[$name]=0
		return 1
	fi
	# Total: IOPS MiB/s avg min max p50 p99 p99.9
	read -r "iops[$name]" "mibs[$name]" "p99[$name]" < <(awk -F: '/^Total/ {
		split($2, f, " "); print f[1], f[2], f[7] }' "$out")
}
status=0
run randread_qd32 32 4096 randread || status=1
run randread_qd128 128 4096 randread || status=1
run randwrite_qd32 32 4096 randwrite || status=1
run seqread_128k_qd16 16 131072 read || status=1
rss_after_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")

# ---- table ----
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'; }
kiops() { awk -v v="$1" 'BEGIN { printf "%.0fK", v / 1000 }'; }
gbs() { awk -v v="$1" 'BEGIN { printf "%.2f GB/s", v * 1048576 / 1e9 }'; }
row() { printf "%-34s %-22s %-22s %s\n" "$@"; }

echo
echo "nvmf-tgtd (-m 0x1${IDLE_POLICY:+ --idle-policy $IDLE_POLICY}) <- nvmf-perf (-m 0x2), ${secs}s per workload, $(nproc) CPUs, $(uname -r)"
echo "load average before the runs: $load (other processes on these CPUs distort every figure)"
row "workload" "libreactor" "SPDK v25.09" "ratio"
row "4K randread QD32  IOPS" "$(kiops "${iops[randread_qd32]}")" "515K" "$(ratio "${iops[randread_qd32]}" 515000)"
row "4K randread QD32  p99" "${p99[randread_qd32]} us" "130 us" "$(ratio "${p99[randread_qd32]}" 130)"
row "4K randread QD128 IOPS" "$(kiops "${iops[randread_qd128]}")" "650K" "$(ratio "${iops[randread_qd128]}" 650000)"
row "4K randread QD128 p99" "${p99[randread_qd128]} us" "350 us" "$(ratio "${p99[randread_qd128]}" 350)"
row "4K randwrite QD32 IOPS" "$(kiops "${iops[randwrite_qd32]}")" "425K" "$(ratio "${iops[randwrite_qd32]}" 425000)"
row "4K randwrite QD32 p99" "${p99[randwrite_qd32]} us" "145 us" "$(ratio "${p99[randwrite_qd32]}" 145)"
seq_gbs=$(awk -v v="${mibs[seqread_128k_qd16]}" 'BEGIN { printf "%.3f", v * 1048576 / 1e9 }')
row "128K seq read QD16" "$(gbs "${mibs[seqread_128k_qd16]}")" "3.6 GB/s" "$(ratio "$seq_gbs" 3.6)"
row "idle CPU use (no host, 5 s)" "${idle_cpu}%" "100%" "$(ratio "$idle_cpu" 100)"
row "exec to RPC ready" "$(awk -v v="$ready" 'BEGIN { printf "%.3f s", v / 1000 }')" "0.29 s" \
	"$(ratio "$ready" 290)"
row "RSS (idle, after config)" "$((rss_kb / 1024)) MB" "33 MB" "$(ratio "$rss_kb" $((33 * 1024)))"
row "RSS without the RAM bdev" "$((rss_kb / 1024 - malloc_mb)) MB" "33 MB" "$(ratio $((rss_kb / 1024 - malloc_mb)) 33)"
row "RSS (after the runs)" "$((rss_after_kb / 1024)) MB" "" ""
echo "(ratios: libreactor / SPDK; above 1 is better for IOPS and GB/s, below 1 for latency, CPU, time, RSS."
echo " The RAM bdev here is ${malloc_mb} MiB of ordinary memory, counted in RSS; SPDK's sits in hugepages.)"
exit $status
