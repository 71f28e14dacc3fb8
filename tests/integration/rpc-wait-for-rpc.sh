#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# --wait-for-rpc: until framework_start_init only startup methods are
# served; framework_wait_init answers (asynchronously) once initialisation
# has finished; the program's start function runs after it. TAP output.
set -u
. "$(dirname "$0")/lib.sh"
init_test wait

sock=$tmp/app.sock
start_app app --wait-for-rpc -r "$sock"
pid=$app_pid
if ! wait_rpc "$sock" "$pid"; then
	echo "Bail out! rpc_app --wait-for-rpc did not serve $sock within $T s"
	diag_file "$tmp/app.log"
	exit 1
fi
ok "rpc_app --wait-for-rpc serves $sock"

ctl rpc_get_methods current=true
json_ok "before framework_start_init: startup methods only" '
	index("framework_start_init") != null and index("example_set_greeting") != null and
	index("rpc_get_methods") != null and index("example_get_greeting") == null'
ctl rpc_get_methods
json_ok "rpc_get_methods without current lists runtime methods too" 'index("example_get_greeting") != null'

ctl example_get_greeting
fails_with "a runtime-only method is refused: code -1 (invalid state), naming it" 1 \
	'code -1\)' 'example_get_greeting'
check "the app's start function has not run yet" sh -c "! grep -q 'rpc_app: running' '$tmp/app.log'"

# framework_wait_init answers only after initialisation: a short call times out...
"$CTL" -s "$sock" -t 0.5 framework_wait_init >"$tmp/out" 2>"$tmp/err"
rc=$?
fails_with "framework_wait_init before framework_start_init: no answer (reactorctl times out, exit 4)" 4 'timed out'
# ...and one left waiting gets its answer when initialisation finishes.
"$CTL" -s "$sock" -t "$T" framework_wait_init >"$tmp/wait.out" 2>"$tmp/wait.err" &
waiter=$!
pids="$pids $waiter"

ctl example_set_greeting text=early
json_ok "a startup method works before framework_start_init" '. == true'
ctl framework_start_init
json_ok "framework_start_init: true" '. == true'

if wait_exit "$waiter"; then
	if [ "$exit_status" -eq 0 ] && jq -e '. == true' "$tmp/wait.out" >/dev/null 2>&1; then
		ok "the pending framework_wait_init answered true after initialisation"
	else
		not_ok "the pending framework_wait_init answered true after initialisation (exit $exit_status)"
		diag_file "$tmp/wait.out"
		diag_file "$tmp/wait.err"
	fi
else
	not_ok "the pending framework_wait_init answered within $T s"
fi

# The start function prints a line once the app is running (bounded poll).
deadline=$(($(date +%s) + T))
until grep -q 'rpc_app: running, greeting "early"' "$tmp/app.log" || [ "$(date +%s)" -gt "$deadline" ]; do
	sleep 0.05
done
check "the app's start function ran after init, seeing the startup config" \
	grep -q 'rpc_app: running, greeting "early"' "$tmp/app.log"

ctl rpc_get_methods current=true
json_ok "after init: runtime methods, framework_start_init gone" \
	'index("example_get_greeting") != null and index("framework_start_init") == null'
ctl example_get_greeting
json_ok "example_get_greeting sees the greeting set at startup" '. == {"text": "early"}'
ctl framework_wait_init
json_ok "framework_wait_init answers at once when running" '. == true'
ctl framework_start_init
fails_with "framework_start_init a second time is refused (code -1)" 1 'code -1\)' 'framework_start_init'

check "SIGTERM: rpc_app exits 0" stop_app "$pid" "$tmp/app.log"
check "the socket file is removed at exit" test ! -e "$sock"

# SIGTERM while still waiting for RPC also shuts down cleanly.
start_app app2 --wait-for-rpc -r "$sock"
pid=$app_pid
if wait_rpc "$sock" "$pid"; then
	ok "second rpc_app --wait-for-rpc serves $sock"
	check "SIGTERM before framework_start_init: exits 0" stop_app "$pid" "$tmp/app2.log"
	check "the socket file is removed" test ! -e "$sock"
else
	not_ok "second rpc_app --wait-for-rpc serves $sock"
	diag_file "$tmp/app2.log"
fi

done_testing
