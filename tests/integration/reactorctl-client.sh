#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# reactorctl against a scripted server that misbehaves on purpose:
# responses that arrive one byte at a time, a connection closed before or
# in the middle of a response, no response at all, invalid JSON, a wrong
# id, an error with data; the socket from REACTOR_RPC_SOCKET; increasing
# ids on one connection. TAP output.
set -u
. "$(dirname "$0")/lib.sh"
init_test client

# fake_server MODE: serve $tmp/MODE.sock in the background (sets fake_pid);
# waits until it listens. Each request is answered by MODE:
#   pieces   a full response, written one byte at a time
#   close    close the connection without answering
#   partial  half a response, then close
#   silent   never answer
#   garbage  a response that is not JSON
#   wrongid  a response to another id
#   error    a JSON-RPC error with data
# rpc_get_methods always gets ["rpc_get_methods", "m1", "m2"] (whole).
fake_server() {
	sock=$tmp/$1.sock
	rm -f "$tmp/$1.ready"
	perl -MIO::Socket::UNIX -e '
		use strict; use warnings;
		$SIG{PIPE} = "IGNORE";
		my ($path, $mode, $ready) = @ARGV;
		my $l = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $path, Listen => 8)
			or die "listen $path: $!";
		open(my $r, ">", $ready) or die; close($r);
		# Length of the first complete value in $_[0], or 0.
		sub complete {
			my ($depth, $in, $esc) = (0, 0, 0);
			for my $k (0 .. length($_[0]) - 1) {
				my $c = substr($_[0], $k, 1);
				if ($in) { if ($esc) { $esc = 0 } elsif ($c eq "\\") { $esc = 1 } elsif ($c eq "\"") { $in = 0 } next }
				if ($c eq "\"") { $in = 1 } elsif ($c eq "{") { $depth++ }
				elsif ($c eq "}") { return $k + 1 if --$depth == 0 }
			}
			return 0;
		}
		while (my $c = $l->accept) {
			my $buf = "";
			CONN: while (sysread($c, $buf, 65536, length $buf)) {
				while ((my $cut = complete($buf)) > 0) {
					my $req = substr($buf, 0, $cut, "");
					my ($id) = $req =~ /"id":(\d+)/;
					my ($m) = $req =~ /"method":"([^"]*)"/;
					my ($p) = $req =~ /"params":(.*)\}$/s;
					$p = "null" unless defined $p;
					if ($m eq "rpc_get_methods") {
						syswrite($c, "{\"jsonrpc\":\"2.0\",\"id\":$id,\"result\":[\"rpc_get_methods\",\"m1\",\"m2\"]}");
						next;
					}
					# Literals, numbers and multi-byte UTF-8 to be cut anywhere.
					my $resp = "{\"jsonrpc\": \"2.0\", \"id\": $id, \"result\": {\"method\": \"$m\", " .
						"\"params\": $p, \"ok\": true, \"none\": null, \"pi\": -3.25e0, " .
						"\"text\": \"h\xc3\xa9llo \xe2\x98\x83 \\\"q\\\"\"}}";
					if ($mode eq "pieces") {
						for my $b (split //, $resp) { syswrite($c, $b); select(undef, undef, undef, 0.001); }
					} elsif ($mode eq "close") {
						last CONN;
					} elsif ($mode eq "partial") {
						syswrite($c, substr($resp, 0, length($resp) / 2));
						last CONN;
					} elsif ($mode eq "garbage") {
						syswrite($c, "{\"jsonrpc\":\"2.0\",\"id\":$id,\"result\":nope}");
					} elsif ($mode eq "wrongid") {
						syswrite($c, "{\"jsonrpc\":\"2.0\",\"id\":" . ($id + 100) . ",\"result\":true}");
					} elsif ($mode eq "error") {
						syswrite($c, "{\"jsonrpc\":\"2.0\",\"id\":$id,\"error\":{\"code\":-32000,\"message\":\"boom\",\"data\":{\"why\":\"test\"}}}");
					}
					# silent: nothing
				}
			}
			close($c);
		}
	' "$sock" "$1" "$tmp/$1.ready" >"$tmp/$1.log" 2>&1 &
	fake_pid=$!
	pids="$pids $fake_pid"
	_deadline=$(($(date +%s) + T))
	until [ -e "$tmp/$1.ready" ]; do
		if [ "$(date +%s)" -gt "$_deadline" ] || ! alive "$fake_pid"; then
			echo "Bail out! the fake server ($1) did not start"
			diag_file "$tmp/$1.log"
			exit 1
		fi
		sleep 0.05
	done
}

fake_server pieces
ctl m1 a=1 b.c='"x"'
json_ok "a response written one byte at a time is read whole" '
	.method == "m1" and .params == {"a": 1, "b": {"c": "x"}} and .ok == true and .none == null and
	.pi == -3.25 and .text == "h\u00e9llo \u2603 \"q\""'
printf '%s\n' '{"subsystems": [{"subsystem": "s", "config": [' \
	'{"method": "m1", "params": {"n": 1}}, {"method": "m2"}, {"method": "m1", "params": {"n": 3}}]}]}' \
	>"$tmp/cfg.json"
ctl -v load-config "$tmp/cfg.json"
sed -n 's/^> .*"id":\([0-9]*\).*/\1/p' "$tmp/err" | tr '\n' ' ' >"$tmp/ids"
if [ "$rc" -eq 0 ] && [ "$(cat "$tmp/ids")" = "1 2 3 4 5 " ]; then
	ok "load-config: five requests on one connection, ids 1 to 5, responses in pieces"
else
	not_ok "load-config: ids 1 to 5 (exit $rc, ids: $(cat "$tmp/ids"))"
	diag_file "$tmp/err"
fi
REACTOR_RPC_SOCKET=$sock "$CTL" -t "$T" m2 >"$tmp/out" 2>"$tmp/err"
rc=$?
json_ok "without -s, the socket comes from REACTOR_RPC_SOCKET" '.method == "m2" and .params == null'

fake_server close
ctl m1
fails_with "the server closes without answering: exit 3 naming the socket" 3 \
	"$sock closed the connection without responding"

fake_server partial
ctl m1
fails_with "the server closes in the middle of a response: exit 3" 3 \
	"$sock closed the connection in the middle of a response"

fake_server silent
start=$(date +%s)
ctl -t 0.5 m1
fails_with "no answer: exit 4 after the timeout" 4 'm1: timed out after 0.5 s'
check "the timeout is honoured (under $T s)" test $(($(date +%s) - start)) -lt "$T"

fake_server garbage
ctl m1
fails_with "a response that is not JSON: exit 1" 1 "m1: invalid JSON from $sock"

fake_server wrongid
ctl m1
fails_with "a response to another id: exit 1" 1 'id does not match'

fake_server error
ctl m1 x=1
fails_with "an error response: exit 1 with message, code and data" 1 \
	'^reactorctl: m1: boom \(code -32000\)$' '^reactorctl: m1: data: \{"why": ?"test"\}$'
echo '{"subsystems": []}' >"$tmp/old.json"
ctl save-config -o "$tmp/old.json"
if [ "$rc" -eq 1 ] && [ "$(cat "$tmp/old.json")" = '{"subsystems": []}' ] &&
	[ -z "$(find "$tmp" -name 'old.json.tmp*')" ]; then
	ok "save-config -o: a failed call leaves the old file, and no temporary file"
else
	not_ok "save-config -o: a failed call leaves the old file (exit $rc)"
fi

done_testing
