#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Run every libreactor benchmark with short durations (about a minute in all)
# and compare the figures with SPDK v25.09 reference figures measured on the
# same kind of machine (2 cores).
#
# Usage: bench/run-all.sh [BUILDDIR]
#   BUILDDIR   the build tree (default: $BUILDDIR, else the tree holding this
#              script if it was built in place, else the current directory)
# Environment:
#   BENCH_TIME       seconds per throughput run (default 1)
#   BENCH_IDLE_TIME  seconds per idle policy for idle_cpu (default 3)
#   BENCH_REPEAT     runs of each throughput/cost benchmark; the table
#                    shows the best one (default 3)
#
# Builds nothing. Exit status: 0 when every benchmark ran, 1 when one failed,
# 2 on a usage error. Missing a target is reported, not an error.
set -u -o pipefail

usage() {
	sed -n '4,18s/^# \{0,1\}//p' "$0"
}

case "${1:-}" in
-h | --help)
	usage
	exit 0
	;;
-*)
	echo "run-all.sh: unknown option '$1'" >&2
	usage >&2
	exit 2
	;;
esac
if [ $# -gt 1 ]; then
	echo "run-all.sh: too many arguments" >&2
	exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
builddir=${1:-${BUILDDIR:-}}
if [ -z "$builddir" ]; then
	if [ -x "$here/event_perf" ]; then
		builddir=$(dirname "$here")
	else
		builddir=.
	fi
fi
bench="$builddir/bench"
for p in event_perf reactor_perf poller_perf ring_perf msg_latency idle_cpu; do
	if [ ! -x "$bench/$p" ]; then
		echo "run-all.sh: $bench/$p not found: build first (make -j2) or give the build directory" >&2
		exit 2
	fi
done

T=${BENCH_TIME:-1}
IDLE_T=${BENCH_IDLE_TIME:-3}
REPEAT=${BENCH_REPEAT:-3}
case "$REPEAT" in
'' | *[!0-9]* | 0)
	echo "run-all.sh: BENCH_REPEAT must be a positive integer" >&2
	exit 2
	;;
esac

# Allowed CPUs ("0-1,4" -> "0 1 4").
cpus=$(awk '/^Cpus_allowed_list:/ {
	n = split($2, parts, ",")
	for (i = 1; i <= n; i++) {
		if (split(parts[i], r, "-") == 2) { for (c = r[1]; c <= r[2]; c++) printf "%d ", c }
		else printf "%d ", parts[i]
	}
}' /proc/self/status)
set -- $cpus
cpu0=$1
cpu1=${2:-}
ncpus=$#

logdir=$(mktemp -d "${TMPDIR:-/tmp}/reactor-bench.XXXXXX")
trap 'rm -rf "$logdir"' EXIT
failed=0

# run NAME CMD...: run a benchmark, show its output, append it to $logdir/NAME.
run() {
	local name=$1 out
	shift
	echo "+ ${*#"$builddir"/}"
	out=$("$@" 2>&1)
	local rc=$?
	printf '%s\n' "$out"
	printf '%s\n' "$out" >>"$logdir/$name"
	if [ "$rc" -ne 0 ]; then
		echo "run-all.sh: FAILED (exit $rc): $*" >&2
		failed=1
	fi
}

# repeat NAME CMD...: run() $REPEAT times.
repeat() {
	local i
	for ((i = 0; i < REPEAT; i++)); do
		run "$@"
	done
}

# kv NAME LINE_PATTERN KEY: value of KEY= on the last line of NAME's output matching the pattern.
kv() {
	[ -f "$logdir/$1" ] || return 0
	grep -E "$2" "$logdir/$1" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$3=//p"
}

# pick NAME LINE_PATTERN KEY max|min: "VALUE CPU_SHARE" of the best run (largest
# rate or smallest cost) among NAME's lines matching the pattern.
pick() {
	[ -f "$logdir/$1" ] || return 0
	grep -E "$2" "$logdir/$1" | awk -v key="$3" -v how="$4" '{
		v = ""; sh = "-"
		for (i = 1; i <= NF; i++) {
			if (index($i, key "=") == 1) v = substr($i, length(key) + 2)
			if (index($i, "cpu_share=") == 1) sh = substr($i, 11)
		}
		if (v == "") next
		if (n == 0 || (how == "max" ? v + 0 > best + 0 : v + 0 < best + 0)) { best = v; bsh = sh }
		n++
	} END { if (n) print best, bsh }'
}

# busy_percent: share of all CPUs busy over 0.5 s (other load skews the figures).
busy_percent() {
	local a b
	a=$(head -n 1 /proc/stat)
	sleep 0.5
	b=$(head -n 1 /proc/stat)
	echo "$a $b" | awk '{ n = (NF - 2) / 2
		for (i = 2; i <= n + 1; i++) { t1 += $i; t2 += $(i + n + 1) }
		idle1 = $5 + $6; idle2 = $(5 + n + 1) + $(6 + n + 1)
		dt = t2 - t1; printf "%.0f\n", (dt > 0) ? 100 * (1 - (idle2 - idle1) / dt) : 0 }'
}

start=$(date +%s)
echo "== libreactor benchmarks: $(uname -n), $(nproc) allowed CPU(s): ${cpus% }; T=${T}s, best of $REPEAT"
busy=$(busy_percent)
echo "== CPU busy before the run: ${busy}% (load average $(cut -d' ' -f1-3 /proc/loadavg))"
if [ "$busy" -gt 10 ]; then
	echo "== WARNING: the machine is not idle; polled benchmarks share their cores and will read low"
fi
echo

# CPU lists in brackets: a bare "1" would be read as the hex mask 0x1.
repeat ev1 "$bench/event_perf" -m "[$cpu0]" -t "$T"
if [ "$ncpus" -ge 2 ]; then
	repeat ev2 "$bench/event_perf" -m "[$cpu0,$cpu1]" -t "$T"
else
	echo "event_perf: two-core run skipped: only one CPU allowed"
fi
echo
repeat rp1 "$bench/reactor_perf" -q 1 -t "$T"
repeat rp128 "$bench/reactor_perf" -q 128 -t "$T"
echo
repeat pp1 "$bench/poller_perf" -b 1 -l 0 -t "$T"
repeat pp1000 "$bench/poller_perf" -b 1000 -l 0 -t "$T"
repeat pp1000t "$bench/poller_perf" -b 1000 -l 1 -t "$T"
echo
run ring "$bench/ring_perf" -t 0.2
echo
run lat "$bench/msg_latency" -n 20000 -s 500 -i 1000
echo
run idle "$bench/idle_cpu" -t "$IDLE_T"
echo
if [ -x "$bench/sock_perf" ]; then
	run sock "$bench/sock_perf" -t "$T"
	echo
fi

ev1=$(pick ev1 '^event_perf: cores=' total max)
ev2=$(pick ev2 '^event_perf: cores=' events_per_sec_per_core max)
rp1=$(pick rp1 '^reactor_perf: core=' events_per_sec max)
rp128=$(pick rp128 '^reactor_perf: core=' events_per_sec max)
pp1=$(pick pp1 '^poller_perf: pollers=' ns_per_call min)
pp1000=$(pick pp1000 '^poller_perf: pollers=' ns_per_call min)
pp1000t=$(pick pp1000t '^poller_perf: pollers=' ns_per_call min)
idle_poll=$(kv idle 'policy=poll ' cpu_percent_per_core)
idle_adapt=$(kv idle 'policy=adaptive ' cpu_percent_per_core)

# row LABEL KIND "OURS [CPU_SHARE]" SPDK UNIT
#   KIND rate: ratio = ours/SPDK, target >= 2.0x
#   KIND cost: ratio = SPDK/ours, target >= 2.0x
#   KIND idle-poll: informational (polling is meant to use its core)
#   KIND idle-adaptive: ratio = SPDK/ours, target: at most 1% of a core
# CPU_SHARE below 0.95 means other load took CPU from the reactors in that run.
row() {
	awk -v label="$1" -v kind="$2" -v ourssh="$3" -v spdk="$4" -v unit="$5" 'BEGIN {
		split(ourssh, f, " "); ours = f[1]; share = (2 in f) ? f[2] : "-"
		if (ours == "") {
			printf "%-46s %11s %12s %8s  %-7s %-5s %s\n", label, "n/a", spdk, "-", "-", "-", "not measured"
			exit
		}
		if (unit == "M/s") { o = sprintf("%.2f", ours / 1e6); s = sprintf("%.1f", spdk / 1e6) }
		else { o = sprintf("%.2f", ours); s = sprintf("%.1f", spdk) }
		verdict = ""
		if (kind == "rate") { r = ours / spdk; target = ">=2.0x"; verdict = (r >= 2.0) ? "met" : "MISSED" }
		else if (kind == "cost") { r = (ours > 0) ? spdk / ours : 0; target = ">=2.0x"; verdict = (r >= 2.0) ? "met" : "MISSED" }
		else if (kind == "idle-poll") { r = -2; target = "info"; verdict = "polls by design" }
		else { r = (ours > 0) ? spdk / ours : -1; target = "<=1%"; verdict = (ours <= 1.0) ? "met" : "MISSED" }
		if (share != "-" && share + 0 < 0.95) verdict = verdict " (noisy run: other load)"
		if (r == -2) ratio = "-"; else if (r < 0 || r > 9999) ratio = ">9999x"; else ratio = sprintf("%.2fx", r)
		printf "%-46s %11s %12s %8s  %-7s %-5s %s\n", label " (" unit ")", o, s, ratio, target, share, verdict
	}'
}

echo "== comparison with SPDK v25.09 (2-core machine), best of $REPEAT; ratio > 1 means libreactor is better"
echo "   (cpu: CPU share the reactors got in the chosen run; below 0.95 other load skewed it)"
printf "%-46s %11s %12s %8s  %-7s %-5s %s\n" "benchmark" "libreactor" "SPDK v25.09" "ratio" "target" "cpu" "verdict"
printf "%-46s %11s %12s %8s  %-7s %-5s %s\n" "---------" "----------" "-----------" "-----" "------" "---" "-------"
row "event_perf 1 core -> itself" rate "$ev1" 20800000 "M/s"
row "event_perf 2 cores, per core" rate "$ev2" 3500000 "M/s"
row "reactor_perf -q 1" rate "$rp1" 15400000 "M/s"
row "reactor_perf -q 128" rate "$rp128" 27600000 "M/s"
row "poller_perf 1 active poller" cost "$pp1" 37 "ns/call"
row "poller_perf 1000 active pollers" cost "$pp1000" 5 "ns/call"
row "poller_perf 1000 timed 1us pollers" cost "$pp1000t" 34 "ns/call"
row "idle CPU, poll, per reactor" idle-poll "$idle_poll" 100 "%core"
row "idle CPU, adaptive, per reactor" idle-adaptive "$idle_adapt" 100 "%core"
echo
echo "== no SPDK reference (libreactor only)"
if [ -f "$logdir/lat" ]; then
	grep '^msg_latency: policy=' "$logdir/lat" |
		awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			printf "msg_latency %-8s %-12s p50=%7s us  p99=%8s us  p99.9=%9s us  max=%9s us\n",
				v["policy"], v["mode"], v["p50_us"], v["p99_us"], v["p999_us"], v["max_us"] }'
fi
if [ -f "$logdir/ring" ]; then
	grep '^ring_perf: type=' "$logdir/ring" |
		awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] != "") v[kv[1]] = kv[2] }
			printf "ring_perf   %-4s %-10s producers=%s burst=%-2s %8s ns/item\n",
				v["type"], v["placement"], v["producers"], v["burst"], v["ns_per_item"] }'
fi
if [ -f "$logdir/sock" ]; then
	grep '^sock_perf: test=' "$logdir/sock" | sed 's/^sock_perf: /sock_perf   /'
fi
echo
echo "== total run time: $(($(date +%s) - start)) s; $([ "$failed" = 0 ] && echo "all benchmarks ran" || echo "SOME BENCHMARKS FAILED")"
exit "$failed"
