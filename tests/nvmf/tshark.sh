#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# An independent decoder's view of nvmf-tgtd's wire format: capture one run
# of tests/nvmf/test_tgt_io's data paths (in-capsule and R2T writes, reads,
# with and without header/data digests) on loopback with dumpcap, then
# dissect it with tshark's nvme-tcp dissector, digests checked. Every PDU
# type of those paths must appear, with no malformed packet, no expert
# error and no bad digest; a second capture with two deliberately bad data
# digests shows the check can fail. TAP; SKIP when tshark is missing or
# cannot capture here.
set -u
top_builddir=${top_builddir:-.}
HOSTPROG=$top_builddir/tests/nvmf/test_tgt_io
ERRPROG=$top_builddir/tests/nvmf/test_tgt_errors
T=${NVMF_TSHARK_TIMEOUT:-120}

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
diag() { echo "# $*"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

[ -x "$top_builddir/daemon/nvmf-tgtd" ] || skip_all "daemon/nvmf-tgtd is not built (make daemon/nvmf-tgtd)"
for _p in "$HOSTPROG" "$ERRPROG"; do
	[ -x "$_p" ] || skip_all "$_p is not built"
done
command -v tshark >/dev/null 2>&1 || skip_all "tshark is not installed (tests/deps.sh)"
command -v dumpcap >/dev/null 2>&1 || skip_all "dumpcap is not installed (tshark package)"
command -v perl >/dev/null 2>&1 || skip_all "perl is needed to pick a free port"
tshark -G protocols 2>/dev/null | cut -f3 | grep -qx nvme-tcp ||
	skip_all "this tshark has no nvme-tcp dissector"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nvmf-tshark.XXXXXX") || exit 99
cap_pid=""
cleanup() {
	[ -n "$cap_pid" ] && kill "$cap_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

free_port() {
	perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0) or exit 1;
		print $s->sockport'
}

# capture NAME PROGRAM ONLY: run PROGRAM with NVMF_TEST_ONLY=ONLY on a free
# port while dumpcap records it in $tmp/NAME.pcapng; sets $cap, $port, $rc.
capture() {
	port=$(free_port) || skip_all "cannot find a free port"
	cap=$tmp/$1.pcapng
	# Can we capture at all (root or CAP_NET_RAW)? dumpcap says "File: ..." once running.
	dumpcap -q -i lo -f "tcp port $port" -w "$cap" >"$tmp/$1.dumpcap" 2>&1 &
	cap_pid=$!
	_i=0
	while ! grep -q "^File:" "$tmp/$1.dumpcap" 2>/dev/null; do
		if ! kill -0 "$cap_pid" 2>/dev/null; then
			cap_pid=""
			skip_all "dumpcap cannot capture on lo: $(head -n 1 "$tmp/$1.dumpcap")"
		fi
		_i=$((_i + 1))
		[ "$_i" -gt 200 ] && skip_all "dumpcap did not start capturing within 10 s"
		sleep 0.05
	done
	NVMF_TEST_PORT=$port NVMF_TEST_ONLY=$3 timeout "$T" "$2" >"$tmp/$1.tap" 2>&1
	rc=$?
	sleep 0.5
	kill -INT "$cap_pid" 2>/dev/null
	wait "$cap_pid" 2>/dev/null
	cap_pid=""
	if [ "$rc" -eq 0 ] && ! grep -q "^not ok" "$tmp/$1.tap"; then
		ok "$1: host run on port $port passed ($(grep -c '^ok' "$tmp/$1.tap") points)"
	else
		not_ok "$1: host run on port $port (exit $rc)"
		grep -E "^(not ok|Bail|#)" "$tmp/$1.tap" | head -n 30 | sed 's/^/#   /'
	fi
}

dissect() {
	tshark -n -r "$cap" -d "tcp.port==$port,nvme-tcp" \
		-o nvme-tcp.check_hdgst:TRUE -o nvme-tcp.check_ddgst:TRUE "$@" 2>>"$tmp/tshark.err"
}
# frames FILTER: how many frames match; "error" when tshark fails (a bad
# filter must not read as "no frame matches").
frames() {
	if dissect -Y "$1" -T fields -e frame.number >"$tmp/frames"; then
		wc -l <"$tmp/frames" | tr -d ' '
	else
		echo error
	fi
}
# Frames with an expert error (PI_ERROR = 0x00800000).
expert_errors() { frames "_ws.expert.severity >= 0x00800000"; }
# Frames with a digest the dissector finds Bad (0) or Illegal (4): it
# reports those in a status field, not as expert info.
bad_digests() {
	frames "nvme-tcp.hdgst.status == 0 || nvme-tcp.hdgst.status == 4 ||
		nvme-tcp.ddgst.status == 0 || nvme-tcp.ddgst.status == 4"
}

capture io "$HOSTPROG" io
dissect -T fields -e nvme-tcp.type >"$tmp/types" || true
# One line per frame, several PDUs in a frame separated by commas.
tr ',' '\n' <"$tmp/types" | grep -v '^$' | sort | uniq -c >"$tmp/counts"
count() { awk -v t="$1" '$2 == t { print $1 }' "$tmp/counts"; }
for t in 0:ICReq 1:ICResp 4:CapsuleCmd 5:CapsuleResp 6:H2CData 7:C2HData 9:R2T; do
	num=${t%%:*}
	name=${t#*:}
	c=$(count "$num")
	if [ -n "$c" ] && [ "$c" -gt 0 ]; then
		ok "tshark decodes $c $name PDU(s)"
	else
		not_ok "tshark decodes $name PDUs"
	fi
done

c=$(frames "nvme-tcp.flags.pdu.hdgst == 1")
if [ "$c" != error ] && [ "$c" -gt 0 ]; then ok "$c frame(s) with header digests"; else not_ok "frames with header digests"; fi
c=$(frames "nvme-tcp.flags.pdu.ddgst == 1")
if [ "$c" != error ] && [ "$c" -gt 0 ]; then ok "$c frame(s) with data digests"; else not_ok "frames with data digests"; fi

c=$(frames "_ws.malformed")
if [ "$c" = 0 ]; then
	ok "no malformed packet"
else
	not_ok "$c malformed packet(s)"
	dissect -Y "_ws.malformed" | head -n 10 | sed 's/^/#   /'
fi
errs=$(expert_errors)
if [ "$errs" = 0 ]; then
	ok "no expert error"
else
	not_ok "$errs frame(s) with expert errors"
	dissect -q -z expert,error | head -n 30 | sed 's/^/#   /'
fi
c=$(frames "nvme-tcp.hdgst.status == 1 || nvme-tcp.ddgst.status == 1")
bad=$(bad_digests)
if [ "$c" != error ] && [ "$c" -gt 0 ] && [ "$bad" = 0 ]; then
	ok "tshark verifies the digests of $c frame(s), none bad"
else
	not_ok "digests: $c frame(s) verified good, $bad bad"
	dissect -Y "nvme-tcp.hdgst.status == 0 || nvme-tcp.ddgst.status == 0" | head -n 10 | sed 's/^/#   /'
fi

# Negative control: the same check must see the two corrupted data digests
# of test_tgt_errors' bad-digest case (one H2CData, one in-capsule), else
# "none bad" proves nothing.
capture ddgst "$ERRPROG" ddgst
bad=$(bad_digests)
if [ "$bad" = 2 ]; then
	ok "negative control: tshark finds the two deliberately bad data digests"
else
	not_ok "negative control: $bad bad digest(s) found where exactly 2 were sent"
fi
grep -v "Running as user" "$tmp/tshark.err" | head -n 5 | sed 's/^/# tshark: /'

echo "1..$n"
[ "$failed" -eq 0 ]
