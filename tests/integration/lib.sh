# SPDX-License-Identifier: BSD-3-Clause
# Shared helpers of the RPC integration tests (sourced, POSIX sh): TAP
# output, starting examples/rpc_app on a temporary socket, driving it with
# tools/reactorctl, bounded waits, and cleanup of every process on exit.
# Uses $top_srcdir and $top_builddir (default: .).

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
APP=$top_builddir/examples/rpc_app
CTL=$top_builddir/tools/reactorctl
# Bound on each reactorctl call and on each wait, in seconds. Sanitizer
# builds are slow to start; a bug fails the test instead of hanging it.
T=${RPC_TEST_TIMEOUT:-20}

n=0
failed=0
pids=""
watchdog=""

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
# A known library bug, reported and not fixed yet: shows as XFAIL.
known_bug() { n=$((n + 1)); echo "not ok $n - $1 # TODO known bug: $2"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
diag() { echo "# $*"; }
# Print a file as TAP diagnostics (at most 40 lines).
diag_file() { [ -f "$1" ] && head -n 40 "$1" | sed 's/^/#   /'; }
# check DESCRIPTION COMMAND...: ok if the command succeeds.
check() {
	_d=$1
	shift
	if "$@"; then ok "$_d"; else not_ok "$_d"; fi
}
done_testing() {
	echo "1..$n"
	[ "$failed" -eq 0 ] && exit 0
	diag "$failed of $n failed"
	exit 1
}

cleanup() {
	for _p in $pids; do
		kill -KILL "$_p" 2>/dev/null
	done
	[ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null
	[ -n "${tmp:-}" ] && rm -rf "$tmp"
}

# init_test NAME: temp dir, traps, a watchdog bounding the whole script.
init_test() {
	for _b in "$APP" "$CTL"; do
		if [ ! -x "$_b" ]; then
			echo "1..0 # SKIP $_b not built"
			exit 0
		fi
	done
	if ! command -v jq >/dev/null 2>&1; then
		echo "1..0 # SKIP jq not installed (apt-get install jq)"
		exit 0
	fi
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/rpc-$1.XXXXXX") || exit 99
	trap cleanup EXIT
	trap 'exit 1' INT TERM HUP
	# Whole-script bound: a hang anywhere fails the test instead of stalling make check.
	# One process (no child left holding the TAP pipe when it is killed).
	perl -e 'sleep $ARGV[0]; print "Bail out! $ARGV[2]: watchdog expired\n"; kill "TERM", $ARGV[1]' \
		"${RPC_TEST_WATCHDOG:-300}" $$ "$1" &
	watchdog=$!
}

# ---- the app ----------------------------------------------------------------

# start_app NAME ARGS...: run rpc_app in the background, output in
# $tmp/NAME.log; sets app_pid. The socket is an argument (-r).
start_app() {
	_name=$1
	shift
	"$APP" "$@" >"$tmp/$_name.log" 2>&1 &
	app_pid=$!
	pids="$pids $app_pid"
}

# alive PID: the process exists and is not a zombie.
alive() {
	_st=$(sed -n 's/^.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ -n "$_st" ] && [ "$_st" != Z ]
}

# wait_rpc SOCKET PID: poll until the server answers (bounded by $T);
# fails at once if the process died.
wait_rpc() {
	_deadline=$(($(date +%s) + T))
	while [ "$(date +%s)" -le "$_deadline" ]; do
		if [ -S "$1" ] && "$CTL" -s "$1" -t 2 rpc_get_methods >/dev/null 2>&1; then
			return 0
		fi
		alive "$2" || return 1
		sleep 0.05
	done
	return 1
}

# wait_exit PID [SECONDS]: wait for the child to exit; sets exit_status.
# Returns 1 on timeout.
wait_exit() {
	_deadline=$(($(date +%s) + ${2:-$T}))
	while alive "$1"; do
		[ "$(date +%s)" -gt "$_deadline" ] && return 1
		sleep 0.05
	done
	wait "$1"
	exit_status=$?
	return 0
}

# stop_app PID LOG: SIGTERM, bounded wait; ok when it exits 0 with no
# sanitizer report in LOG.
stop_app() {
	kill -TERM "$1" 2>/dev/null
	if ! wait_exit "$1"; then
		kill -KILL "$1" 2>/dev/null
		diag "pid $1 did not exit within $T s of SIGTERM"
		return 1
	fi
	if [ "$exit_status" -ne 0 ]; then
		diag "pid $1 exited with status $exit_status"
		diag_file "$2"
		return 1
	fi
	no_sanitizer_report "$2"
}

no_sanitizer_report() {
	if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$1"; then
		diag "sanitizer report in $1:"
		diag_file "$1"
		return 1
	fi
	return 0
}

# ---- reactorctl ---------------------------------------------------------------

# ctl ARGS...: run reactorctl against $sock (set by the test script); stdout
# in $tmp/out, stderr in $tmp/err, status in $rc.
# shellcheck disable=SC2154
ctl() {
	"$CTL" -s "$sock" -t "$T" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	return 0
}

# ctl_ok DESCRIPTION ARGS...: the call succeeds (exit 0).
ctl_ok() {
	_d=$1
	shift
	ctl "$@"
	if [ "$rc" -eq 0 ]; then
		ok "$_d"
	else
		not_ok "$_d (exit $rc)"
		diag_file "$tmp/err"
	fi
}

# json_ok DESCRIPTION JQ-EXPR: the last output satisfies a jq expression.
json_ok() {
	if [ "$rc" -eq 0 ] && jq -e "$2" "$tmp/out" >/dev/null 2>"$tmp/jq.err"; then
		ok "$1"
	else
		not_ok "$1"
		diag "exit $rc; jq: $(printf '%s' "$2" | tr -s '\n\t' '  ')"
		diag_file "$tmp/out"
		diag_file "$tmp/err"
		diag_file "$tmp/jq.err"
	fi
}

# jq_file FILE JQ-EXPR: FILE satisfies the expression (quietly).
jq_file() { jq -e "$2" "$1" >/dev/null 2>&1; }

# fails_with DESCRIPTION STATUS PATTERN...: the last call exited with STATUS
# and its stderr matches every (extended) regular expression.
fails_with() {
	_d=$1
	_want=$2
	shift 2
	_bad=""
	[ "$rc" -eq "$_want" ] || _bad="exit $rc, want $_want"
	for _re in "$@"; do
		grep -qE -- "$_re" "$tmp/err" || _bad="$_bad; stderr lacks /$_re/"
	done
	if [ -z "$_bad" ]; then
		ok "$_d"
	else
		not_ok "$_d ($_bad)"
		diag_file "$tmp/err"
	fi
}

# ---- raw client: bytes the way no correct client would send them ----------------

# raw_rpc SOCKET SECONDS NVALUES CHUNK...: connect, send each chunk (@FILE:
# the file's bytes) with a short pause between them, then print the JSON
# values the server answers, one a line, until NVALUES have arrived, the
# server closes, or SECONDS pass. Exit 0: got them; 3: closed; 4: timeout;
# 5: cannot connect.
raw_rpc() {
	perl -MIO::Socket::UNIX -MIO::Select -e '
		use strict; use warnings;
		$SIG{PIPE} = "IGNORE";
		my ($path, $secs, $want, @chunks) = @ARGV;
		my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path) or exit 5;
		for my $i (0 .. $#chunks) {
			my $c = $chunks[$i];
			if ($c =~ /^@(.*)/s) { local $/; open(my $f, "<", $1) or die "$1: $!"; $c = <$f>; }
			select(undef, undef, undef, 0.05) if $i;
			defined(syswrite($s, $c)) or last;
		}
		my ($buf, $sel, $end, $got) = ("", IO::Select->new($s), time + $secs, 0);
		while (time < $end) {
			next unless $sel->can_read(0.1);
			my $n = sysread($s, $buf, 65536, length $buf);
			if (!$n) { print $buf; exit 3; }
			# Cut complete values off the front: brackets balance outside strings.
			for (;;) {
				my ($depth, $in, $esc, $seen, $cut) = (0, 0, 0, 0, -1);
				for my $k (0 .. length($buf) - 1) {
					my $c = substr($buf, $k, 1);
					if ($in) { if ($esc) { $esc = 0 } elsif ($c eq "\\") { $esc = 1 } elsif ($c eq "\"") { $in = 0 } next }
					if ($c eq "\"") { $in = 1 } elsif ($c eq "{" || $c eq "[") { $depth++; $seen = 1 }
					elsif ($c eq "}" || $c eq "]") { $depth--; if ($seen && $depth == 0) { $cut = $k + 1; last } }
				}
				last if $cut < 0;
				my $v = substr($buf, 0, $cut, "");
				$v =~ s/^\s+//;
				print "$v\n";
				exit 0 if ++$got >= $want;
			}
		}
		print $buf; exit 4;
	' "$@"
}
