#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# The RPC server as a client on the wire sees it: requests in pieces,
# malformed JSON, a stalled half request, an oversized request, a client
# that leaves with a request pending; the socket's life: mode option, a
# live socket is refused, a stale one replaced, SIGINT/SIGTERM remove it.
# TAP output.
set -u
. "$(dirname "$0")/lib.sh"
init_test server

sock=$tmp/app.sock
start_app app -r "$sock" --rpc-socket-mode 0660
pid=$app_pid
if ! wait_rpc "$sock" "$pid"; then
	echo "Bail out! rpc_app did not serve $sock within $T s"
	diag_file "$tmp/app.log"
	exit 1
fi
ok "rpc_app serves $sock"
check "--rpc-socket-mode 0660 sets the socket's mode" test "$(stat -c %a "$sock")" = 660

# raw_ok DESCRIPTION JQ-EXPR CHUNK...: send the chunks, expect one JSON answer.
raw_ok() {
	_d=$1
	_e=$2
	shift 2
	raw_rpc "$sock" "$T" 1 "$@" >"$tmp/raw.out" 2>"$tmp/raw.err"
	_rc=$?
	if [ "$_rc" -eq 0 ] && jq_file "$tmp/raw.out" "$_e"; then
		ok "$_d"
	else
		not_ok "$_d (raw client exit $_rc)"
		diag_file "$tmp/raw.out"
		diag_file "$tmp/raw.err"
	fi
}

raw_ok "a request in four pieces gets one response" \
	'.jsonrpc == "2.0" and .id == 7 and (.result | type == "array")' \
	'{"jsonrpc":' '"2.0","met' 'hod":"rpc_get_' 'methods","id":7}'
raw_rpc "$sock" "$T" 2 \
	'{"jsonrpc":"2.0","method":"framework_wait_init","id":1}{"jsonrpc":"2.0","method":"framework_wait_init","id":2}' \
	>"$tmp/raw.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && jq -s -e '[.[].id] == [1, 2] and all(.[]; .result == true)' "$tmp/raw.out" >/dev/null 2>&1; then
	ok "two requests in one write get two responses, in order"
else
	not_ok "two requests in one write get two responses, in order (exit $rc)"
	diag_file "$tmp/raw.out"
fi
raw_ok "malformed JSON: error -32700" \
	'.error.code == -32700' \
	'{"jsonrpc":"2.0","method":"rpc_get_methods",' '"id":}'
raw_ok "a batch of non-objects: one -32600 error each" \
	'type == "array" and length == 3 and all(.[]; .error.code == -32600 and .id == null)' '[1,2,3]'
raw_ok "a batch: one response per request, in order" \
	'[.[].id] == [1, 2] and .[0].result == true and .[1].error.code == -32601' \
	'[{"jsonrpc":"2.0","method":"framework_wait_init","id":1},{"jsonrpc":"2.0","method":"nope","id":2}]'
raw_ok "a request without method: error -32600" \
	'.error.code == -32600 and .id == 3' '{"jsonrpc":"2.0","id":3}'
raw_ok "string ids are echoed" \
	'.id == "abc" and .result == true' '{"jsonrpc":"2.0","method":"framework_wait_init","id":"abc"}'
raw_ok "params that are not an object or array: invalid request (-32600), as SPDK" \
	'.error.code == -32600 and .id == 4' '{"jsonrpc":"2.0","method":"example_set_greeting","params":"x","id":4}'

# A notification (no id) gets no response; the next request on the
# connection is answered normally.
raw_ok "a notification is not answered; the next request is" \
	'.id == 5 and .result == {"text": "notified"}' \
	'{"jsonrpc":"2.0","method":"example_set_greeting","params":{"text":"notified"}}' \
	'{"jsonrpc":"2.0","method":"example_get_greeting","id":5}'

# A client that sends half a request and stalls does not block others.
raw_rpc "$sock" "$T" 1 '{"jsonrpc":"2.0","method":"rpc_get' >"$tmp/stall.out" 2>&1 &
staller=$!
pids="$pids $staller"
ctl example_get_greeting
json_ok "a stalled half request does not block another client" '.text == "notified"'
kill "$staller" 2>/dev/null
wait "$staller" 2>/dev/null

# A request larger than the limit (1 MiB by default) closes the connection.
{
	printf '{"jsonrpc":"2.0","method":"example_set_greeting","id":9,"params":{"text":"'
	head -c 1200000 /dev/zero | tr '\0' 'a'
	printf '"}}'
} >"$tmp/big.json"
raw_rpc "$sock" "$T" 2 "@$tmp/big.json" >"$tmp/big.out" 2>&1
rc=$?
if [ "$rc" -eq 3 ] && head -n 1 "$tmp/big.out" | jq -e '.error.code == -32700' >/dev/null 2>&1; then
	ok "an oversized request: error -32700, then the server closes the connection"
else
	not_ok "an oversized request: error -32700, then the server closes the connection (exit $rc)"
	diag_file "$tmp/big.out"
fi
ctl example_get_greeting
json_ok "the server still answers after the oversized request" '.text == "notified"'

# Many clients at once.
i=0
cpids=""
while [ $i -lt 16 ]; do
	"$CTL" -s "$sock" -t "$T" framework_get_reactors >"$tmp/many.$i" 2>&1 &
	cpids="$cpids $!"
	i=$((i + 1))
done
pids="$pids $cpids"
bad=0
for p in $cpids; do
	wait_exit "$p" || bad=$((bad + 1))
	[ "${exit_status:-1}" -eq 0 ] || bad=$((bad + 1))
done
check "16 concurrent clients all get their answer" test "$bad" -eq 0

# ---- the socket's life ---------------------------------------------------------
start_app second -r "$sock"
if wait_exit "$app_pid"; then
	if [ "$exit_status" -ne 0 ] && grep -q "$sock" "$tmp/second.log"; then
		ok "a second app on a live socket is refused, naming it"
	else
		not_ok "a second app on a live socket is refused, naming it (exit $exit_status)"
		diag_file "$tmp/second.log"
	fi
else
	kill -KILL "$app_pid" 2>/dev/null
	not_ok "a second app on a live socket exits by itself"
fi
ctl example_get_greeting
json_ok "the first app still serves its socket" '.text == "notified"'

kill -INT "$pid"
if wait_exit "$pid" && [ "$exit_status" -eq 0 ]; then
	ok "SIGINT: clean exit"
else
	not_ok "SIGINT: clean exit (status ${exit_status:-none})"
	diag_file "$tmp/app.log"
fi
check "the socket file is removed at exit" test ! -e "$sock"
check "no sanitizer report" no_sanitizer_report "$tmp/app.log"

# A process killed with SIGKILL leaves its socket; the next one replaces it.
start_app killed -r "$sock"
if wait_rpc "$sock" "$app_pid"; then
	kill -KILL "$app_pid"
	wait_exit "$app_pid"
	check "SIGKILL leaves a stale socket file" test -S "$sock"
	start_app after -r "$sock"
	pid=$app_pid
	if wait_rpc "$sock" "$pid"; then
		ok "a stale socket from a dead process is replaced"
		check "SIGTERM: exits 0" stop_app "$pid" "$tmp/after.log"
		check "the socket file is removed" test ! -e "$sock"
	else
		not_ok "a stale socket from a dead process is replaced"
		diag_file "$tmp/after.log"
	fi
else
	not_ok "rpc_app serves $sock (before SIGKILL)"
fi

# --rpc-socket-group: the socket's group (root can give it any group).
if [ "$(id -u)" -eq 0 ] && getent group daemon >/dev/null 2>&1; then
	start_app group -r "$sock" --rpc-socket-group daemon
	pid=$app_pid
	if wait_rpc "$sock" "$pid"; then
		check "--rpc-socket-group daemon sets the socket's group" test "$(stat -c %G "$sock")" = daemon
		check "SIGTERM: exits 0" stop_app "$pid" "$tmp/group.log"
	else
		not_ok "rpc_app --rpc-socket-group daemon serves $sock"
		diag_file "$tmp/group.log"
	fi
else
	skip "--rpc-socket-group sets the socket's group" "needs root and a group named daemon"
fi
start_app nogroup -r "$sock" --rpc-socket-group no_such_group_xyz
if wait_exit "$app_pid" && [ "$exit_status" -ne 0 ] && grep -q 'no_such_group_xyz' "$tmp/nogroup.log"; then
	ok "an unknown --rpc-socket-group is refused, naming it"
else
	kill -KILL "$app_pid" 2>/dev/null
	not_ok "an unknown --rpc-socket-group is refused, naming it"
	diag_file "$tmp/nogroup.log"
fi

# A socket path longer than sun_path is a clear error.
long=$tmp/$(head -c 120 /dev/zero | tr '\0' 'x').sock
start_app long -r "$long"
if wait_exit "$app_pid"; then
	if [ "$exit_status" -ne 0 ] && grep -qi 'long' "$tmp/long.log"; then
		ok "a socket path that is too long: the app fails saying so"
	else
		not_ok "a socket path that is too long (exit $exit_status)"
		diag_file "$tmp/long.log"
	fi
else
	kill -KILL "$app_pid" 2>/dev/null
	not_ok "a socket path that is too long: the app exits"
fi

done_testing
