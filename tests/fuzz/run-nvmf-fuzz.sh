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

# shellcheck source=tests/fuzz/lib.sh
. "$(dirname "$0")/lib.sh"
secs=${1:-${NVMF_FUZZ_TIME:-30}}
fuzz_init nvmf_tgt_fuzz
fuzz_require_clang
jansson=$(pkg-config --cflags --libs jansson 2>/dev/null) ||
	fuzz_skip_all "jansson not found (apt-get install libjansson-dev)"

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
fuzz_build -DREACTOR_BUILDING_LIBRARY -I"$work" -I"$top/include" -I"$top/lib" \
	-I"$top/daemon/nvme" -I"$top/daemon/bdev" -I"$top/daemon/nvmf" -I"$top/daemon/nvmf/tcp" \
	$(find "$top/lib" -name '*.c' | sort) "$top"/daemon/bdev/*.c "$top"/daemon/nvme/*.c \
	"$top"/daemon/nvmf/*.c "$top"/daemon/nvmf/tcp/*.c "$top/tests/fuzz/nvmf_tgt_fuzz.c" \
	$jansson $isal -lpthread -ldl

fuzz_run 'nvmf_tgt_fuzz:|#[0-9]+ 0x' "$top/tests/fuzz/corpus/nvmf_tgt" \
	-timeout=20 -rss_limit_mb=4096 -max_len=20000
