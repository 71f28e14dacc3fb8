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

# shellcheck source=tests/fuzz/lib.sh
. "$(dirname "$0")/lib.sh"
secs=${1:-${RPC_FUZZ_TIME:-60}}
fuzz_init rpc_fuzz
fuzz_require_clang
jansson=$(pkg-config --cflags --libs jansson 2>/dev/null) ||
	fuzz_skip_all "jansson not found (apt-get install libjansson-dev)"

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
fuzz_build -DREACTOR_BUILDING_LIBRARY -I"$work" -I"$top/include" -I"$top/lib" \
	$(find "$top/lib" -name '*.c' | sort) "$top/tests/fuzz/rpc_fuzz.c" \
	$jansson -lpthread -ldl

fuzz_run 'Base64' "$top/tests/fuzz/corpus/rpc" \
	-timeout=10 -rss_limit_mb=2048 -max_len=8192 -dict="$top/tests/fuzz/rpc.dict"
