#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Build the JSON-RPC libFuzzer target (tests/fuzz/rpc_fuzz.c) with clang
# -fsanitize=fuzzer,address,undefined from the library's own sources (it
# needs internal symbols), then run it for a bounded time on the committed
# seed corpus (tests/fuzz/corpus/rpc) with the dictionary tests/fuzz/rpc.dict.
#
#   tests/fuzz/run-rpc-fuzz.sh [SECONDS]      (default 60, or $RPC_FUZZ_TIME)
#
# TAP output (plan 2: build, run). Prints the number of executions; fails
# on a crash, a leak, a sanitizer report or a timeout, and then shows the
# input that caused it. Skips (ok # SKIP) when clang or its libFuzzer
# runtime is missing (Debian 12: apt-get install clang libclang-rt-14-dev).
# New inputs go to a scratch directory, never into the committed corpus.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-${RPC_FUZZ_TIME:-60}}
cc=${FUZZ_CC:-clang}
work=$(mktemp -d "${TMPDIR:-/tmp}/rpc-fuzz.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT INT TERM

echo "1..2"

skip_all() {
	echo "ok 1 - build rpc_fuzz # SKIP $1"
	echo "ok 2 - run rpc_fuzz # SKIP $1"
	exit 0
}

command -v "$cc" >/dev/null 2>&1 || skip_all "$cc not found (apt-get install clang)"
jansson=$(pkg-config --cflags --libs jansson 2>/dev/null) ||
	skip_all "jansson not found (apt-get install libjansson-dev)"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
	>"$work/probe.c"
"$cc" -fsanitize=fuzzer,address,undefined "$work/probe.c" -o "$work/probe" >"$work/probe.log" 2>&1 ||
	skip_all "$cc cannot link libFuzzer (apt-get install libclang-rt-14-dev): $(head -1 "$work/probe.log")"

# The few configure results the library's sources use (Linux, glibc).
cat >"$work/config.h" <<'EOF'
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#define HAVE_EXECINFO_H 1
#define HAVE_BACKTRACE 1
#define HAVE_PTHREAD_SETNAME_NP 1
EOF

# shellcheck disable=SC2046,SC2086 # word splitting of the file list and of $jansson
if "$cc" -std=gnu11 -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-DREACTOR_BUILDING_LIBRARY -I"$work" -I"$top/include" -I"$top/lib" \
	$(find "$top/lib" -name '*.c' | sort) "$top/tests/fuzz/rpc_fuzz.c" \
	$jansson -lpthread -ldl -o "$work/rpc_fuzz" >"$work/build.log" 2>&1; then
	echo "ok 1 - build rpc_fuzz ($cc, fuzzer+address+undefined)"
else
	echo "not ok 1 - build rpc_fuzz"
	sed 's/^/# /' "$work/build.log" | head -40
	echo "not ok 2 - run rpc_fuzz # build failed"
	exit 1
fi

mkdir -p "$work/corpus"
(
	cd "$work" &&
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		./rpc_fuzz -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
		-dict="$top/tests/fuzz/rpc.dict" -print_final_stats=1 \
		"$work/corpus" "$top/tests/fuzz/corpus/rpc"
) >"$work/run.log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/run.log" | tail -1)
cov=$(grep -Eo 'cov: [0-9]+' "$work/run.log" | tail -1)
if [ "$rc" -eq 0 ] && [ -n "$execs" ]; then
	echo "ok 2 - run rpc_fuzz for ${secs}s: $execs executions, no crash ($cov, corpus $(ls "$work/corpus" | wc -l) new inputs)"
	echo "# rpc_fuzz executions: $execs"
	exit 0
fi
echo "not ok 2 - run rpc_fuzz: exit $rc${execs:+ after $execs executions}"
grep -E 'ERROR|SUMMARY|==[0-9]+==|runtime error|Test unit written|Base64' "$work/run.log" | sed 's/^/# /' | head -30
for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
	[ -f "$f" ] || continue
	echo "# reproducer $(basename "$f") (hex):"
	od -An -tx1 -v "$f" | head -20 | sed 's/^/#  /'
	cp "$f" "$top/tests/fuzz/" 2>/dev/null && echo "# saved as tests/fuzz/$(basename "$f")"
done
exit 1
