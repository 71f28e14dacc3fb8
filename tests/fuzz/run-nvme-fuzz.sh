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

# shellcheck source=tests/fuzz/lib.sh
. "$(dirname "$0")/lib.sh"
secs=${1:-${NVME_FUZZ_TIME:-60}}
fuzz_init nvme_pdu_fuzz
fuzz_require_clang

# ISA-L when its headers are there, else the built-in CRC32C.
isal=""
: >"$work/config.h"
if [ -f /usr/include/isa-l/crc.h ]; then
	echo '#define HAVE_ISAL 1' >"$work/config.h"
	isal=-lisal
fi

# shellcheck disable=SC2086 # word splitting of $isal
fuzz_build -I"$work" -I"$top/daemon/nvme" "$top"/daemon/nvme/*.c "$top/tests/fuzz/nvme_pdu_fuzz.c" \
	$isal -lpthread

fuzz_run '' "$top/tests/fuzz/corpus/nvme_pdu" -timeout=10 -rss_limit_mb=2048 -max_len=400
