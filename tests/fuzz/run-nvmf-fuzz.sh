#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Build the nvmf-tgtd libFuzzer target (tests/fuzz/nvmf_tgt_fuzz.c: the
# real target in-process, fed over TCP) with clang
# -fsanitize=fuzzer,address,undefined from the sources of lib/, daemon/bdev,
# daemon/nvme and daemon/nvmf, then run it for a bounded time on the
# committed seed corpus (tests/fuzz/corpus/nvmf_tgt: Connect, Identify,
# Write, Read, R2T flows, digests, and one input per malformed case).
#
#   tests/fuzz/run-nvmf-fuzz.sh [SECONDS]     (default 30, or $NVMF_FUZZ_TIME)
#
# TAP output (plan 2: build, run); fails on a crash, leak, sanitizer report,
# an invalid PDU from the target, or a timeout, and shows the input. Skips
# when clang, its libFuzzer runtime or jansson is missing. New inputs go to
# a scratch directory, never into the corpus.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-${NVMF_FUZZ_TIME:-30}}
cc=${FUZZ_CC:-clang}
work=$(mktemp -d "${TMPDIR:-/tmp}/nvmf-fuzz.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT INT TERM

echo "1..2"

skip_all() {
	echo "ok 1 - build nvmf_tgt_fuzz # SKIP $1"
	echo "ok 2 - run nvmf_tgt_fuzz # SKIP $1"
	exit 0
}

command -v "$cc" >/dev/null 2>&1 || skip_all "$cc not found (apt-get install clang)"
jansson=$(pkg-config --cflags --libs jansson 2>/dev/null) ||
	skip_all "jansson not found (apt-get install libjansson-dev)"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
	>"$work/probe.c"
"$cc" -fsanitize=fuzzer,address,undefined "$work/probe.c" -o "$work/probe" >"$work/probe.log" 2>&1 ||
	skip_all "$cc cannot link libFuzzer (apt-get install libclang-rt-14-dev): $(head -1 "$work/probe.log")"

# The configure results the sources use (Linux, glibc); no io_uring or
# libaio: the fuzzed namespaces are RAM bdevs.
cat >"$work/config.h" <<'CONF'
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#define HAVE_EXECINFO_H 1
#define HAVE_BACKTRACE 1
#define HAVE_PTHREAD_SETNAME_NP 1
#define PACKAGE_VERSION "fuzz"
CONF
isal=""
if [ -f /usr/include/isa-l/crc.h ]; then
	echo '#define HAVE_ISAL 1' >>"$work/config.h"
	isal=-lisal
fi

# shellcheck disable=SC2046,SC2086 # word splitting of the file lists, $jansson and $isal
if "$cc" -std=gnu11 -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-DREACTOR_BUILDING_LIBRARY -I"$work" -I"$top/include" -I"$top/lib" \
	-I"$top/daemon/nvme" -I"$top/daemon/bdev" -I"$top/daemon/nvmf" -I"$top/daemon/nvmf/tcp" \
	$(find "$top/lib" -name '*.c' | sort) "$top"/daemon/bdev/*.c "$top"/daemon/nvme/*.c \
	"$top"/daemon/nvmf/*.c "$top"/daemon/nvmf/tcp/*.c "$top/tests/fuzz/nvmf_tgt_fuzz.c" \
	$jansson $isal -lpthread -ldl -o "$work/nvmf_tgt_fuzz" >"$work/build.log" 2>&1; then
	echo "ok 1 - build nvmf_tgt_fuzz ($cc, fuzzer+address+undefined)"
else
	echo "not ok 1 - build nvmf_tgt_fuzz"
	sed 's/^/# /' "$work/build.log" | grep -v '^# *$' | head -40
	echo "not ok 2 - run nvmf_tgt_fuzz # build failed"
	exit 1
fi

mkdir -p "$work/corpus"
(
	cd "$work" &&
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		./nvmf_tgt_fuzz -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 -max_len=20000 \
		-print_final_stats=1 "$work/corpus" "$top/tests/fuzz/corpus/nvmf_tgt"
) >"$work/run.log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/run.log" | tail -1)
cov=$(grep -Eo 'cov: [0-9]+' "$work/run.log" | tail -1)
if [ "$rc" -eq 0 ] && [ -n "$execs" ]; then
	echo "ok 2 - run nvmf_tgt_fuzz for ${secs}s: $execs executions, no crash ($cov, corpus $(ls "$work/corpus" | wc -l) new inputs)"
	echo "# nvmf_tgt_fuzz executions: $execs"
	exit 0
fi
echo "not ok 2 - run nvmf_tgt_fuzz: exit $rc${execs:+ after $execs executions}"
grep -E 'ERROR|SUMMARY|==[0-9]+==|runtime error|Test unit written|nvmf_tgt_fuzz:|#[0-9]+ 0x' "$work/run.log" |
	sed 's/^/# /' | head -40
for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
	[ -f "$f" ] || continue
	echo "# reproducer $(basename "$f") (hex):"
	od -An -tx1 -v "$f" | head -20 | sed 's/^/#  /'
	cp "$f" "$top/tests/fuzz/" 2>/dev/null && echo "# saved as tests/fuzz/$(basename "$f")"
done
exit 1
