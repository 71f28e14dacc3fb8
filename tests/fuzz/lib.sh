# shellcheck shell=bash
# SPDX-License-Identifier: BSD-3-Clause
#
# What tests/fuzz/run-*-fuzz.sh share; sourced, not run. Each script builds
# one libFuzzer target with clang -fsanitize=fuzzer,address,undefined and runs
# it for a bounded time, printing TAP (plan 2: build, run). New inputs go to
# a scratch directory, never into the committed corpus.

# fuzz_init NAME: sets top, cc ($FUZZ_CC, default clang), work (a scratch
# directory removed on exit) and fuzz_name (the target), prints the plan.
fuzz_init() {
	fuzz_name=$1
	top=$(cd "$(dirname "$0")/../.." && pwd)
	cc=${FUZZ_CC:-clang}
	work=$(mktemp -d "${TMPDIR:-/tmp}/$fuzz_name.XXXXXX") || exit 99
	trap 'rm -rf "$work"' EXIT INT TERM
	echo "1..2"
}

# fuzz_skip_all REASON: both tests skipped, exit 0.
fuzz_skip_all() {
	echo "ok 1 - build $fuzz_name # SKIP $1"
	echo "ok 2 - run $fuzz_name # SKIP $1"
	exit 0
}

# Skip unless $cc exists and can link a libFuzzer target.
fuzz_require_clang() {
	command -v "$cc" >/dev/null 2>&1 || fuzz_skip_all "$cc not found (apt-get install clang)"
	printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
		>"$work/probe.c"
	"$cc" -fsanitize=fuzzer,address,undefined "$work/probe.c" -o "$work/probe" >"$work/probe.log" 2>&1 ||
		fuzz_skip_all "$cc cannot link libFuzzer (apt-get install libclang-rt-14-dev): $(head -1 "$work/probe.log")"
}

# fuzz_build CC-ARGS...: compile $work/$fuzz_name from CC-ARGS (flags, sources,
# libraries) with the sanitizers; test 1. On failure shows the log and exits 1.
fuzz_build() {
	if "$cc" -std=gnu11 -g -O1 -fno-omit-frame-pointer \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		"$@" -o "$work/$fuzz_name" >"$work/build.log" 2>&1; then
		echo "ok 1 - build $fuzz_name ($cc, fuzzer+address+undefined)"
		return 0
	fi
	echo "not ok 1 - build $fuzz_name"
	sed 's/^/# /' "$work/build.log" | grep -v '^# *$' | head -40
	echo "not ok 2 - run $fuzz_name # build failed"
	exit 1
}

# fuzz_run LOG-PATTERN SEED-CORPUS LIBFUZZER-OPTIONS...: run for $secs seconds
# (set by the script) on SEED-CORPUS; test 2, then exit. On failure shows the
# run log's lines that match the usual sanitizer/libFuzzer reports or the extra
# egrep LOG-PATTERN (may be empty), and each reproducer in hex, copied to
# tests/fuzz/.
# shellcheck disable=SC2154 # secs: set by the sourcing script
fuzz_run() {
	local pattern='ERROR|SUMMARY|==[0-9]+==|runtime error|Test unit written'
	local seeds=$2 rc execs cov f

	[ -n "$1" ] && pattern="$pattern|$1"
	shift 2
	mkdir -p "$work/corpus"
	(
		cd "$work" &&
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
			"./$fuzz_name" -max_total_time="$secs" "$@" -print_final_stats=1 "$work/corpus" "$seeds"
	) >"$work/run.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/run.log" | tail -1)
	cov=$(grep -Eo 'cov: [0-9]+' "$work/run.log" | tail -1)
	if [ "$rc" -eq 0 ] && [ -n "$execs" ]; then
		# shellcheck disable=SC2012 # libFuzzer names inputs by their SHA-1
		echo "ok 2 - run $fuzz_name for ${secs}s: $execs executions, no crash ($cov, corpus $(ls "$work/corpus" | wc -l) new inputs)"
		echo "# $fuzz_name executions: $execs"
		exit 0
	fi
	echo "not ok 2 - run $fuzz_name: exit $rc${execs:+ after $execs executions}"
	grep -E "$pattern" "$work/run.log" | sed 's/^/# /' | head -40
	for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
		[ -f "$f" ] || continue
		echo "# reproducer $(basename "$f") (hex):"
		od -An -tx1 -v "$f" | head -20 | sed 's/^/#  /'
		cp "$f" "$top/tests/fuzz/" 2>/dev/null && echo "# saved as tests/fuzz/$(basename "$f")"
	done
	exit 1
}
