#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Build the NVMe/TCP PDU libFuzzer target (tests/fuzz/nvme_pdu_fuzz.c) with
# clang -fsanitize=fuzzer,address,undefined from daemon/nvme's sources, then
# run it for a bounded time on the committed seed corpus
# (tests/fuzz/corpus/nvme_pdu: valid PDUs made by the builders).
#
#   tests/fuzz/run-nvme-fuzz.sh [SECONDS]     (default 60, or $NVME_FUZZ_TIME)
#
# TAP output (plan 2: build, run); fails on a crash, leak, sanitizer report
# or timeout and shows the input. Skips when clang or its libFuzzer runtime
# is missing. New inputs go to a scratch directory, never into the corpus.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-${NVME_FUZZ_TIME:-60}}
cc=${FUZZ_CC:-clang}
work=$(mktemp -d "${TMPDIR:-/tmp}/nvme-fuzz.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT INT TERM

echo "1..2"

skip_all() {
	echo "ok 1 - build nvme_pdu_fuzz # SKIP $1"
	echo "ok 2 - run nvme_pdu_fuzz # SKIP $1"
	exit 0
}

command -v "$cc" >/dev/null 2>&1 || skip_all "$cc not found (apt-get install clang)"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
	>"$work/probe.c"
"$cc" -fsanitize=fuzzer,address,undefined "$work/probe.c" -o "$work/probe" >"$work/probe.log" 2>&1 ||
	skip_all "$cc cannot link libFuzzer (apt-get install libclang-rt-14-dev): $(head -1 "$work/probe.log")"

# ISA-L when its headers are there, else the built-in CRC32C.
isal=""
: >"$work/config.h"
if [ -f /usr/include/isa-l/crc.h ]; then
	echo '#define HAVE_ISAL 1' >"$work/config.h"
	isal=-lisal
fi

# shellcheck disable=SC2086 # word splitting of $isal
if "$cc" -std=gnu11 -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$work" -I"$top/daemon/nvme" "$top"/daemon/nvme/*.c "$top/tests/fuzz/nvme_pdu_fuzz.c" \
	$isal -lpthread -o "$work/nvme_pdu_fuzz" >"$work/build.log" 2>&1; then
	echo "ok 1 - build nvme_pdu_fuzz ($cc, fuzzer+address+undefined)"
else
	echo "not ok 1 - build nvme_pdu_fuzz"
	sed 's/^/# /' "$work/build.log" | head -40
	echo "not ok 2 - run nvme_pdu_fuzz # build failed"
	exit 1
fi

mkdir -p "$work/corpus"
(
	cd "$work" &&
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		./nvme_pdu_fuzz -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=400 \
		-print_final_stats=1 "$work/corpus" "$top/tests/fuzz/corpus/nvme_pdu"
) >"$work/run.log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/run.log" | tail -1)
cov=$(grep -Eo 'cov: [0-9]+' "$work/run.log" | tail -1)
if [ "$rc" -eq 0 ] && [ -n "$execs" ]; then
	echo "ok 2 - run nvme_pdu_fuzz for ${secs}s: $execs executions, no crash ($cov)"
	exit 0
fi
echo "not ok 2 - run nvme_pdu_fuzz: exit $rc${execs:+ after $execs executions}"
grep -E 'ERROR|SUMMARY|==[0-9]+==|runtime error|Test unit written' "$work/run.log" | sed 's/^/# /' | head -30
for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
	[ -f "$f" ] || continue
	echo "# reproducer $(basename "$f") (hex):"
	od -An -tx1 -v "$f" | head -20 | sed 's/^/#  /'
done
exit 1
