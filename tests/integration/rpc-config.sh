#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# JSON configs: save-config, restart with -c, and compare (load -> save ->
# load -> save is identical); load-config against a running app and one
# waiting for RPC; a config whose call fails stops the app from starting
# and names the file, subsystem, method and reason. TAP output.
set -u
. "$(dirname "$0")/lib.sh"
init_test config

sock=$tmp/app.sock

# run_app NAME ARGS...: start rpc_app on $sock and wait until it serves.
run_app() {
	_n=$1
	shift
	start_app "$_n" -r "$sock" "$@"
	pid=$app_pid
	if wait_rpc "$sock" "$pid"; then
		ok "$_n: rpc_app${*:+ $*} serves $sock"
		return 0
	fi
	not_ok "$_n: rpc_app${*:+ $*} serves $sock"
	diag_file "$tmp/$_n.log"
	return 1
}

# same FILE1 FILE2: byte-identical, else show the difference.
same() {
	if cmp -s "$1" "$2"; then
		return 0
	fi
	diff -u "$1" "$2" | head -n 40 | sed 's/^/#   /'
	return 1
}

# ---- save, restart with -c, save again: identical ------------------------------
greeting='round trip: h\u00e9llo \u2603'
core0=0
ncores=1
if run_app a; then
	ctl example_set_greeting -j "{\"text\": \"$greeting\"}"
	json_ok "a: example_set_greeting" '. == true'
	ctl framework_set_stall_threshold threshold_ms=60
	json_ok "a: framework_set_stall_threshold threshold_ms=60" '. == true'
	ctl framework_get_idle_policy
	core0=$(jq -r '.[0].core' "$tmp/out")
	ncores=$(jq -r 'length' "$tmp/out")
	ctl framework_set_idle_policy policy=poll core="$core0"
	json_ok "a: framework_set_idle_policy policy=poll core=$core0" '. == true'
	ctl save-config -o "$tmp/s1.json"
	check "a: save-config -o s1.json" test "$rc" -eq 0 -a -s "$tmp/s1.json"
	check "a: save-config prints nothing on stdout with -o" test ! -s "$tmp/out"
	check "s1.json holds the example's call" jq_file "$tmp/s1.json" '
		any(.subsystems[]; .subsystem == "example" and
			.config == [{"method": "example_set_greeting", "params": {"text": "round trip: h\u00e9llo \u2603"}}])'
	ctl save-config
	check "a: save-config to stdout is the same file" same "$tmp/s1.json" "$tmp/out"
	check "a: SIGTERM, exit 0" stop_app "$pid" "$tmp/a.log"
fi

if run_app b -c "$tmp/s1.json"; then
	ctl example_get_greeting
	json_ok "b (-c s1.json): the greeting came back" '.text == "round trip: h\u00e9llo \u2603"'
	ctl framework_get_stall_threshold
	json_ok "b: the stall threshold came back" '. == {"threshold_ms": 60}'
	ctl framework_get_idle_policy
	json_ok "b: the idle policies came back" \
		"[.[] | select(.core == $core0) | .policy] == [\"poll\"] and
		 ([.[] | select(.policy == \"adaptive\")] | length) == $ncores - 1"
	ctl save-config -o "$tmp/s2.json"
	check "b: save-config -o s2.json" test "$rc" -eq 0
	check "load -> save: s2.json is identical to s1.json" same "$tmp/s1.json" "$tmp/s2.json"
	check "b: SIGTERM, exit 0" stop_app "$pid" "$tmp/b.log"
fi

if run_app c -c "$tmp/s2.json"; then
	ctl save-config -o "$tmp/s3.json"
	check "load -> save -> load -> save: s3.json is identical to s1.json" same "$tmp/s1.json" "$tmp/s3.json"
	check "c: SIGTERM, exit 0" stop_app "$pid" "$tmp/c.log"
fi

# ---- load-config against a running app ---------------------------------------------
if run_app d; then
	ctl -v load-config "$tmp/s1.json"
	check "d: load-config s1.json: exit 0" test "$rc" -eq 0
	[ "$rc" -eq 0 ] || diag_file "$tmp/err"
	# Requests on one connection carry increasing ids 1, 2, 3 ...
	sed -n 's/^> .*"id":\([0-9]*\).*/\1/p' "$tmp/err" >"$tmp/ids"
	check "d: load-config's request ids are 1, 2, 3, ..." \
		sh -c "[ -s '$tmp/ids' ] && seq 1 \$(wc -l <'$tmp/ids') | cmp -s - '$tmp/ids'"
	ctl example_get_greeting
	json_ok "d: the greeting was applied" '.text == "round trip: h\u00e9llo \u2603"'
	ctl save-config -o "$tmp/s4.json"
	check "d: save after load-config is identical to s1.json" same "$tmp/s1.json" "$tmp/s4.json"
	chmod 640 "$tmp/s4.json"
	ctl save-config -o "$tmp/s4.json"
	check "d: save-config over an existing file keeps its mode (640)" \
		test "$rc" -eq 0 -a "$(stat -c %a "$tmp/s4.json")" = 640

	# A failing call stops the replay and names file, subsystem, method, reason.
	cat >"$tmp/bad-call.json" <<-'EOF'
	{"subsystems": [{"subsystem": "example", "config": [
	  {"method": "example_set_greeting", "params": {"text": "first"}},
	  {"method": "example_set_greeting", "params": {"text": 42}},
	  {"method": "example_set_greeting", "params": {"text": "never"}}]}]}
	EOF
	ctl load-config "$tmp/bad-call.json"
	fails_with "d: load-config with a failing call: exit 1 naming file, subsystem, method, reason" 1 \
		"$tmp/bad-call.json" "subsystem 'example'" "method 'example_set_greeting'" '-32602' 'text'
	ctl example_get_greeting
	json_ok "d: load-config stopped at the failing call" '.text == "first"'

	cat >"$tmp/unknown-method.json" <<-'EOF'
	{"subsystems": [{"subsystem": "example", "config": [
	  {"method": "example_set_greeting", "params": {"text": "not applied"}},
	  {"method": "example_frobnicate", "params": {}}]}]}
	EOF
	ctl load-config "$tmp/unknown-method.json"
	fails_with "d: load-config naming an unknown method: exit 1 naming it" 1 \
		"$tmp/unknown-method.json" "subsystem 'example'" "example_frobnicate" 'no such method'
	ctl example_get_greeting
	json_ok "d: nothing was applied from a file with an unknown method" '.text == "first"'

	printf '{"subsystems": [' >"$tmp/truncated.json"
	ctl load-config "$tmp/truncated.json"
	fails_with "d: load-config of invalid JSON: exit 2 naming the file" 2 "$tmp/truncated.json"
	echo '{"subsystem": []}' >"$tmp/not-config.json"
	ctl load-config "$tmp/not-config.json"
	fails_with "d: load-config of a non-config: exit 2" 2 'not a config'
	ctl load-config "$tmp/does-not-exist.json"
	fails_with "d: load-config of a missing file: exit 2 naming it" 2 "$tmp/does-not-exist.json"
	ctl load-config - <"$tmp/s1.json"
	check "d: load-config - reads standard input" test "$rc" -eq 0
	check "d: SIGTERM, exit 0" stop_app "$pid" "$tmp/d.log"
fi

# ---- load-config against an app waiting for RPC ------------------------------------
if run_app e --wait-for-rpc; then
	ctl load-config "$tmp/s1.json"
	check "e (--wait-for-rpc): load-config s1.json: exit 0" test "$rc" -eq 0
	[ "$rc" -eq 0 ] || diag_file "$tmp/err"
	ctl rpc_get_methods current=true
	json_ok "e: load-config started the framework" 'index("framework_start_init") == null'
	ctl framework_wait_init
	json_ok "e: initialised" '. == true'
	ctl save-config -o "$tmp/s5.json"
	check "e: save after load-config (wait-for-rpc) is identical to s1.json" same "$tmp/s1.json" "$tmp/s5.json"
	check "e: SIGTERM, exit 0" stop_app "$pid" "$tmp/e.log"
fi

# ---- -c with a failing call: the app does not start ----------------------------------
# expect_no_start NAME CONFIG-FILE PATTERN...: rpc_app -c exits non-zero
# within $T s, its output matches every pattern, no socket is left.
expect_no_start() {
	_n=$1
	_cfg=$2
	shift 2
	start_app "$_n" -r "$sock" -c "$_cfg"
	if ! wait_exit "$app_pid"; then
		kill -KILL "$app_pid" 2>/dev/null
		not_ok "$_n: rpc_app -c $(basename "$_cfg") exits by itself"
		diag_file "$tmp/$_n.log"
		return
	fi
	_bad=""
	[ "$exit_status" -ne 0 ] || _bad="exit status 0"
	for _re in "$@"; do
		grep -qE -- "$_re" "$tmp/$_n.log" || _bad="$_bad; output lacks /$_re/"
	done
	grep -q 'rpc_app: running' "$tmp/$_n.log" && _bad="$_bad; the start function ran"
	[ -e "$sock" ] && _bad="$_bad; $sock left behind"
	no_sanitizer_report "$tmp/$_n.log" || _bad="$_bad; sanitizer report"
	if [ -z "$_bad" ]; then
		ok "$_n: rpc_app -c $(basename "$_cfg") does not start; the message names $*"
	else
		not_ok "$_n: rpc_app -c $(basename "$_cfg") does not start ($_bad)"
		diag_file "$tmp/$_n.log"
	fi
}

cat >"$tmp/bad-start.json" <<-'EOF'
{"subsystems": [{"subsystem": "example", "config": [
  {"method": "example_set_greeting", "params": {"text": ""}}]}]}
EOF
expect_no_start f "$tmp/bad-start.json" "$tmp/bad-start.json" 'example' 'example_set_greeting' \
	'text: expected 1 to 63 bytes'
expect_no_start g "$tmp/unknown-method.json" "$tmp/unknown-method.json" 'example' 'example_frobnicate'
expect_no_start h "$tmp/truncated.json" "$tmp/truncated.json"
expect_no_start i "$tmp/does-not-exist.json" "$tmp/does-not-exist.json"

# --json-ignore-init-errors: the same bad file, but the app starts.
if run_app j -c "$tmp/bad-start.json" --json-ignore-init-errors; then
	ctl example_get_greeting
	json_ok "j: with --json-ignore-init-errors the app runs (default greeting)" '. == {"text": "hello"}'
	check "j: SIGTERM, exit 0" stop_app "$pid" "$tmp/j.log"
fi

done_testing
