#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# nvmf-tgtd's command line and its nvmf_* JSON-RPC methods through
# reactorctl, against the real daemon on a temporary socket and a free TCP
# port: every method's success and error paths, save-config then a restart
# with -c (same serial, NGUID, UUID), SIGTERM, --wait-for-rpc with a
# startup-only method, bad options and bad config files. TAP output.
set -u
. "$(dirname "$0")/lib.sh"
APP=$top_builddir/daemon/nvmf-tgtd
init_test nvmf

sock=$tmp/tgt.sock
NQN=nqn.2016-06.io.libreactor:cnode1
NQN2=nqn.2016-06.io.libreactor:cnode2
HOST=nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555
NGUID=0123456789ABCDEF0123456789ABCDEF
UUID=a1b2c3d4-0000-4000-8000-00000000000a
# A TCP port nobody listens on now (the kernel picks it).
port=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport')
laddr() { printf '{"trtype":"TCP","adrfam":"%s","traddr":"%s","trsvcid":"%s"}' "$1" "$2" "$3"; }

# ---- the command line ---------------------------------------------------------

"$APP" --help >"$tmp/help" 2>&1
st=$?
check "--help exits 0 and names the default socket and the config option" \
	sh -c "[ $st -eq 0 ] && grep -q /run/nvmf-tgtd/rpc.sock '$tmp/help' && grep -q -- '--config' '$tmp/help'"
"$APP" --version >"$tmp/version" 2>&1
st=$?
check "--version exits 0 and prints the version" \
	sh -c "[ $st -eq 0 ] && grep -qE '^nvmf-tgtd .*[0-9]+\.[0-9]+' '$tmp/version'"
"$APP" --no-such-flag >"$tmp/badflag" 2>&1
st=$?
check "a bad flag: exit 2, named" sh -c "[ $st -eq 2 ] && grep -q -- '--no-such-flag' '$tmp/badflag'"
"$APP" -r "$sock" extra-arg >"$tmp/extra" 2>&1
st=$?
check "a stray argument: exit 2, named" sh -c "[ $st -eq 2 ] && grep -q extra-arg '$tmp/extra'"
"$APP" -r "$sock" -c "$tmp/missing.json" >"$tmp/missing" 2>&1
st=$?
check "a missing config file: non-zero exit, the file named" \
	sh -c "[ $st -ne 0 ] && grep -q '$tmp/missing.json' '$tmp/missing'"
printf '{"subsystems": [' >"$tmp/broken.json"
"$APP" -r "$sock" -c "$tmp/broken.json" >"$tmp/broken" 2>&1
st=$?
check "a malformed config file: non-zero exit, the file named" \
	sh -c "[ $st -ne 0 ] && grep -q '$tmp/broken.json' '$tmp/broken'"
cat >"$tmp/badcall.json" <<EOF
{"subsystems": [{"subsystem": "nvmf", "config": [
  {"method": "nvmf_create_transport", "params": {"trtype": "TCP"}},
  {"method": "nvmf_create_subsystem", "params": {"nqn": "$NQN"}},
  {"method": "nvmf_subsystem_add_ns", "params": {"nqn": "$NQN", "namespace": {"bdev_name": "NoSuchBdev"}}}]}]}
EOF
"$APP" -r "$sock" -c "$tmp/badcall.json" >"$tmp/badcall" 2>&1
st=$?
check "a config whose call fails: non-zero exit, the file, method and reason named" \
	sh -c "[ $st -ne 0 ] && grep -q '$tmp/badcall.json' '$tmp/badcall' &&
		grep -q nvmf_subsystem_add_ns '$tmp/badcall' && grep -q NoSuchBdev '$tmp/badcall'"
check "no socket left behind by the failed starts" sh -c "[ ! -e '$sock' ]"
"$APP" -r /proc/self/no/such/rpc.sock >"$tmp/baddir" 2>&1
st=$?
check "an RPC socket directory that cannot be made: exit 1, named" \
	sh -c "[ $st -eq 1 ] && grep -q '/proc/self/no/such/rpc.sock' '$tmp/baddir'"

run_tgt() {
	_n=$1
	shift
	start_app "$_n" -m 0x1 -r "$sock" "$@"
	pid=$app_pid
	if wait_rpc "$sock" "$pid"; then
		ok "$_n: nvmf-tgtd serves $sock"
		return 0
	fi
	not_ok "$_n: nvmf-tgtd serves $sock"
	diag_file "$tmp/$_n.log"
	return 1
}

# ---- every method ----------------------------------------------------------------

if run_tgt a; then
	ctl rpc_get_methods
	json_ok "the nvmf methods are registered" '
		["nvmf_create_transport", "nvmf_get_transports", "nvmf_create_subsystem",
		 "nvmf_delete_subsystem", "nvmf_get_subsystems", "nvmf_subsystem_add_listener",
		 "nvmf_subsystem_remove_listener", "nvmf_subsystem_get_listeners", "nvmf_subsystem_add_ns",
		 "nvmf_subsystem_remove_ns", "nvmf_subsystem_add_host", "nvmf_subsystem_remove_host",
		 "nvmf_subsystem_allow_any_host", "nvmf_subsystem_get_controllers",
		 "nvmf_subsystem_get_qpairs", "nvmf_get_stats", "nvmf_discovery_add_referral",
		 "nvmf_discovery_remove_referral", "nvmf_discovery_get_referrals"] - . == []'
	ctl nvmf_set_max_subsystems max_subsystems=8
	fails_with "nvmf_set_max_subsystems is startup-only" 1 "nvmf_set_max_subsystems"

	# transports
	ctl nvmf_subsystem_add_listener -j "{\"nqn\":\"nqn.2014-08.org.nvmexpress.discovery\",
		\"listen_address\":$(laddr IPv4 127.0.0.1 "$port")}"
	fails_with "a listener before its transport exists" 1 "nvmf_create_transport"
	ctl nvmf_create_transport trtype=RDMA
	fails_with "unknown transport type" 1 "trtype" "RDMA"
	ctl nvmf_create_transport trtype=TCP max_queue_depth=1
	fails_with "max_queue_depth out of range" 1 "max_queue_depth"
	ctl nvmf_create_transport trtype=TCP max_qeue_depth=64
	fails_with "a misspelt option is refused, named" 1 "max_qeue_depth"
	ctl nvmf_create_transport trtype=tcp max_queue_depth=64 in_capsule_data_size=8192 \
		max_io_qpairs_per_ctrlr=7
	json_ok "nvmf_create_transport (type case-insensitive)" '. == true'
	ctl nvmf_create_transport trtype=TCP
	fails_with "a second TCP transport" 1 "already exists"
	ctl nvmf_get_transports
	json_ok "nvmf_get_transports: the options given, SPDK's names" 'length == 1 and .[0].trtype == "TCP" and
		.[0].max_queue_depth == 64 and .[0].in_capsule_data_size == 8192 and
		.[0].max_io_qpairs_per_ctrlr == 7 and (.[0] | has("max_io_size") and has("io_unit_size") and
		has("max_aq_depth") and has("num_shared_buffers") and has("c2h_success") and has("zcopy"))'
	ctl nvmf_get_transports trtype=RDMA
	fails_with "nvmf_get_transports of a missing type" 1 "RDMA"

	# subsystems
	ctl bdev_malloc_create name=Malloc0 num_blocks=2048 block_size=512
	ctl bdev_malloc_create name=Malloc1 num_blocks=2048 block_size=512
	ctl nvmf_create_subsystem nqn="$NQN" serial_number=SPDK0001 model_number=TestModel allow_any_host=true \
		max_namespaces=8
	json_ok "nvmf_create_subsystem" '. == true'
	ctl nvmf_create_subsystem nqn="$NQN"
	fails_with "duplicate subsystem" 1 "already exists"
	ctl nvmf_create_subsystem nqn=not-an-nqn
	fails_with "bad NQN" 1 "not a valid NQN" "not-an-nqn"
	ctl nvmf_create_subsystem nqn=nqn.2014-08.org.nvmexpress.discovery
	fails_with "the discovery NQN cannot be created" 1 "already exists"
	ctl nvmf_create_subsystem nqn="$NQN2" serial_number=123456789012345678901
	fails_with "serial number too long" 1 "serial_number"
	ctl nvmf_create_subsystem nqn="$NQN2" min_cntlid=10 max_cntlid=5
	fails_with "cntlid range reversed" 1 "min_cntlid"
	ctl nvmf_create_subsystem nqn="$NQN2" serial_number=SPDK0002
	json_ok "a second subsystem" '. == true'

	# listeners
	ctl nvmf_subsystem_add_listener -j "{\"nqn\":\"$NQN\",\"listen_address\":$(laddr IPv4 127.0.0.1 "$port")}"
	json_ok "nvmf_subsystem_add_listener" '. == true'
	if perl -MIO::Socket::INET -e 'exit(IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ARGV[0]") ? 0 : 1)' "$port"; then
		ok "the listener accepts TCP connections on port $port"
	else
		not_ok "the listener accepts TCP connections on port $port"
	fi
	ctl nvmf_subsystem_add_listener -j "{\"nqn\":\"$NQN\",\"listen_address\":$(laddr IPv4 127.0.0.1 "$port")}"
	fails_with "the same listener twice" 1 "already listens"
	ctl nvmf_subsystem_add_listener -j "{\"nqn\":\"$NQN2\",\"listen_address\":$(laddr IPv4 127.0.0.1 "$port")}"
	json_ok "a second subsystem on the same address" '. == true'
	ctl nvmf_subsystem_add_listener -j "{\"nqn\":\"$NQN\",\"listen_address\":$(laddr IPv5 127.0.0.1 "$port")}"
	fails_with "bad adrfam" 1 "adrfam" "IPv5"
	ctl nvmf_subsystem_add_listener -j "{\"nqn\":\"$NQN\",\"listen_address\":$(laddr IPv4 127.0.0.1 70000)}"
	fails_with "bad port" 1 "trsvcid" "70000"
	ctl nvmf_subsystem_add_listener -j "{\"nqn\":\"$NQN\",\"listen_address\":$(laddr IPv4 ::1 "$port")}"
	fails_with "an IPv6 address as IPv4" 1 "traddr" "::1"
	ctl nvmf_subsystem_add_listener -j "{\"nqn\":\"nqn.2016-06.io.libreactor:nobody\",
		\"listen_address\":$(laddr IPv4 127.0.0.1 "$port")}"
	fails_with "listener of an unknown subsystem" 1 "Unable to find subsystem with NQN nqn.2016-06.io.libreactor:nobody"
	ctl nvmf_subsystem_get_listeners nqn="$NQN"
	json_ok "nvmf_subsystem_get_listeners" "length == 1 and .[0].address == $(laddr IPv4 127.0.0.1 "$port")"
	ctl nvmf_subsystem_remove_listener -j "{\"nqn\":\"$NQN2\",\"listen_address\":$(laddr IPv4 127.0.0.1 "$port")}"
	json_ok "nvmf_subsystem_remove_listener" '. == true'
	ctl nvmf_subsystem_remove_listener -j "{\"nqn\":\"$NQN2\",\"listen_address\":$(laddr IPv4 127.0.0.1 "$port")}"
	fails_with "removing it again" 1 "does not listen"

	# namespaces
	ctl nvmf_subsystem_add_ns -j "{\"nqn\":\"$NQN\",\"namespace\":{\"bdev_name\":\"Malloc0\",\"nsid\":1,
		\"nguid\":\"$NGUID\",\"uuid\":\"$UUID\"}}"
	json_ok "nvmf_subsystem_add_ns returns the NSID" '. == 1'
	ctl nvmf_subsystem_add_ns -j "{\"nqn\":\"$NQN\",\"namespace\":{\"bdev_name\":\"Malloc1\",\"nsid\":1}}"
	fails_with "NSID taken" 1 "already in use"
	ctl nvmf_subsystem_add_ns -j "{\"nqn\":\"$NQN\",\"namespace\":{\"bdev_name\":\"NoSuch\"}}"
	fails_with "unknown bdev" 1 "no bdev named NoSuch"
	ctl nvmf_subsystem_add_ns -j "{\"nqn\":\"$NQN\",\"namespace\":{\"bdev_name\":\"Malloc1\",\"nguid\":\"12\"}}"
	fails_with "bad NGUID" 1 "nguid"
	ctl nvmf_subsystem_add_ns -j "{\"nqn\":\"$NQN\",\"namespace\":{\"bdev_name\":\"Malloc1\",\"nsid\":9}}"
	fails_with "NSID above max_namespaces" 1 "nsid"
	ctl nvmf_subsystem_add_ns -j "{\"nqn\":\"$NQN\",\"namespace\":{\"bdev_name\":\"Malloc1\",
		\"eui64\":\"0011223344556677\"}}"
	json_ok "nvmf_subsystem_add_ns without NSID takes the lowest free one" '. == 2'
	ctl nvmf_subsystem_add_ns -j "{\"nqn\":\"nqn.2016-06.io.libreactor:nobody\",\"namespace\":{\"bdev_name\":\"Malloc1\"}}"
	fails_with "namespace of an unknown subsystem" 1 "Unable to find subsystem"

	# hosts
	ctl nvmf_subsystem_add_host nqn="$NQN2" host="$HOST"
	json_ok "nvmf_subsystem_add_host" '. == true'
	ctl nvmf_subsystem_add_host nqn="$NQN2" host="$HOST"
	fails_with "the same host twice" 1 "already allowed"
	ctl nvmf_subsystem_add_host nqn="$NQN2" host=bogus
	fails_with "bad host NQN" 1 "host" "bogus"
	ctl nvmf_subsystem_allow_any_host nqn="$NQN2" allow_any_host=true
	json_ok "nvmf_subsystem_allow_any_host" '. == true'

	ctl nvmf_get_subsystems
	json_ok "nvmf_get_subsystems: SPDK's shape" "length == 3 and
		.[0].subtype == \"Discovery\" and .[0].nqn == \"nqn.2014-08.org.nvmexpress.discovery\" and
		(.[1] | .nqn == \"$NQN\" and .subtype == \"NVMe\" and .serial_number == \"SPDK0001\" and
			.model_number == \"TestModel\" and .allow_any_host == true and .max_namespaces == 8 and
			.listen_addresses == [$(laddr IPv4 127.0.0.1 "$port")] and
			.namespaces[0] == {\"nsid\": 1, \"bdev_name\": \"Malloc0\", \"name\": \"Malloc0\",
				\"nguid\": \"$NGUID\", \"uuid\": \"$UUID\"} and
			.namespaces[1].nsid == 2 and .namespaces[1].eui64 == \"0011223344556677\") and
		(.[2] | .nqn == \"$NQN2\" and .hosts == [{\"nqn\": \"$HOST\"}] and .allow_any_host == true)"
	ctl nvmf_subsystem_remove_host nqn="$NQN2" host="$HOST"
	json_ok "nvmf_subsystem_remove_host" '. == true'
	ctl nvmf_subsystem_remove_host nqn="$NQN2" host="$HOST"
	fails_with "removing a host not in the list" 1 "not in the list"
	ctl nvmf_subsystem_add_host nqn="$NQN2" host="$HOST"

	# controllers, queue pairs, statistics
	ctl nvmf_subsystem_get_controllers nqn="$NQN"
	json_ok "nvmf_subsystem_get_controllers: none connected" '. == []'
	ctl nvmf_subsystem_get_qpairs nqn="$NQN"
	json_ok "nvmf_subsystem_get_qpairs: none connected" '. == []'
	ctl nvmf_subsystem_get_qpairs nqn=nqn.2016-06.io.libreactor:nobody
	fails_with "queue pairs of an unknown subsystem" 1 "Unable to find subsystem"
	ctl nvmf_get_stats
	json_ok "nvmf_get_stats: tick rate and one poll group per core" '.tick_rate > 0 and
		(.poll_groups | length) == 1 and (.poll_groups[0] | has("name") and .admin_qpairs >= 0 and
		.io_qpairs >= 0 and has("current_admin_qpairs") and has("current_io_qpairs") and
		.transports == [{"trtype": "TCP"}])'

	# referrals
	ctl nvmf_discovery_add_referral -j "{\"address\":$(laddr IPv4 10.0.0.2 4420)}"
	json_ok "nvmf_discovery_add_referral" '. == true'
	ctl nvmf_discovery_add_referral -j "{\"address\":$(laddr IPv4 10.0.0.2 4420)}"
	fails_with "the same referral twice" 1 "already exists"
	ctl nvmf_discovery_add_referral -j "{\"address\":$(laddr IPv4 10.0.0.3 0)}"
	fails_with "referral with port 0" 1 "trsvcid"
	ctl nvmf_discovery_get_referrals
	json_ok "nvmf_discovery_get_referrals" "length == 1 and .[0].address == $(laddr IPv4 10.0.0.2 4420) and
		.[0].subnqn == \"nqn.2014-08.org.nvmexpress.discovery\""
	ctl nvmf_discovery_add_referral -j "{\"address\":$(laddr IPv4 10.0.0.9 4420)}"
	ctl nvmf_discovery_remove_referral -j "{\"address\":$(laddr IPv4 10.0.0.9 4420)}"
	json_ok "nvmf_discovery_remove_referral" '. == true'
	ctl nvmf_discovery_remove_referral -j "{\"address\":$(laddr IPv4 10.0.0.9 4420)}"
	fails_with "removing a missing referral" 1 "no such referral"

	# removal
	ctl nvmf_subsystem_remove_ns nqn="$NQN" nsid=2
	json_ok "nvmf_subsystem_remove_ns" '. == true'
	ctl nvmf_subsystem_remove_ns nqn="$NQN" nsid=2
	fails_with "removing it again" 1 "no such namespace"
	ctl nvmf_create_subsystem nqn=nqn.2016-06.io.libreactor:gone
	ctl nvmf_delete_subsystem nqn=nqn.2016-06.io.libreactor:gone
	json_ok "nvmf_delete_subsystem" '. == true'
	ctl nvmf_delete_subsystem nqn=nqn.2016-06.io.libreactor:gone
	fails_with "deleting it again" 1 "Unable to find subsystem with NQN nqn.2016-06.io.libreactor:gone"
	ctl nvmf_delete_subsystem nqn=nqn.2014-08.org.nvmexpress.discovery
	fails_with "the discovery subsystem cannot be deleted" 1 "discovery"

	ctl nvmf_get_subsystems
	cp "$tmp/out" "$tmp/subs1.json"
	ctl save-config -o "$tmp/s1.json"
	check "save-config: nvmf calls in replay order" jq_file "$tmp/s1.json" '
		[.subsystems[] | select(.subsystem == "nvmf") | .config[].method] ==
		["nvmf_create_transport", "nvmf_discovery_add_referral",
		 "nvmf_create_subsystem", "nvmf_subsystem_add_listener", "nvmf_subsystem_add_ns",
		 "nvmf_create_subsystem", "nvmf_subsystem_add_host"]'
	check "save-config: the namespace keeps its NGUID and UUID" jq_file "$tmp/s1.json" "
		[.subsystems[] | select(.subsystem == \"nvmf\") | .config[] |
		 select(.method == \"nvmf_subsystem_add_ns\") | .params.namespace][0] |
		.nsid == 1 and .nguid == \"$NGUID\" and .uuid == \"$UUID\""
	t0=$(date +%s)
	check "a: SIGTERM, exit 0" stop_app "$pid" "$tmp/a.log"
	check "a: exited within 10 s of SIGTERM" sh -c "[ \$(( \$(date +%s) - $t0 )) -le 10 ]"
	check "a: the RPC socket is removed" sh -c "[ ! -e '$sock' ]"
fi

# ---- restart from the saved config -----------------------------------------------

if [ -f "$tmp/s1.json" ] && run_tgt b -c "$tmp/s1.json"; then
	ctl nvmf_get_subsystems
	if [ "$rc" -eq 0 ] && jq -S . "$tmp/out" >"$tmp/subs2.n" && jq -S . "$tmp/subs1.json" >"$tmp/subs1.n" &&
		cmp -s "$tmp/subs1.n" "$tmp/subs2.n"; then
		ok "b: nvmf_get_subsystems is the same after the restart (serial, NGUID, UUID, listeners, hosts)"
	else
		not_ok "b: nvmf_get_subsystems is the same after the restart"
		diff "$tmp/subs1.n" "$tmp/subs2.n" | head -n 30 | sed 's/^/#   /'
	fi
	ctl save-config -o "$tmp/s2.json"
	check "b: save-config is the same as before the restart" cmp -s "$tmp/s1.json" "$tmp/s2.json"

	# A connected host (tools/nvmf-perf) in the controller, queue-pair and statistics listings.
	PERF=$top_builddir/tools/nvmf-perf/nvmf-perf
	if [ -x "$PERF" ]; then
		"$PERF" -r "trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$port subnqn:$NQN" -q 4 -w randread \
			-t 4 -m 0x1 >"$tmp/perf.log" 2>&1 &
		perf_pid=$!
		pids="$pids $perf_pid"
		_deadline=$(($(date +%s) + T))
		while :; do
			ctl nvmf_subsystem_get_qpairs nqn="$NQN"
			jq -e 'length == 2' "$tmp/out" >/dev/null 2>&1 && break
			[ "$(date +%s)" -gt "$_deadline" ] && break
			sleep 0.1
		done
		json_ok "b: nvmf_subsystem_get_qpairs: the host's admin and I/O queues" "length == 2 and
			(map(.qid) | sort) == [0, 1] and all(.[]; .state == \"active\" and
			.listen_address == $(laddr IPv4 127.0.0.1 "$port") and .peer_address.traddr == \"127.0.0.1\")"
		ctl nvmf_subsystem_get_controllers nqn="$NQN"
		json_ok "b: nvmf_subsystem_get_controllers: one controller, one I/O queue" 'length == 1 and
			.[0].num_io_qpairs == 1 and (.[0].hostnqn | startswith("nqn.")) and .[0].cntlid >= 1'
		ctl nvmf_subsystem_get_qpairs nqn="$NQN2"
		json_ok "b: no queue pairs of the other subsystem" '. == []'
		ctl nvmf_get_stats
		json_ok "b: nvmf_get_stats counts the queues" '([.poll_groups[].admin_qpairs] | add) >= 1 and
			([.poll_groups[].io_qpairs] | add) >= 1'
		if wait_exit "$perf_pid" && [ "$exit_status" -eq 0 ]; then
			ok "b: nvmf-perf ran against the restarted target"
		else
			not_ok "b: nvmf-perf ran against the restarted target"
			diag_file "$tmp/perf.log"
		fi
	else
		skip "b: a connected host in the listings" "tools/nvmf-perf not built"
	fi
	check "b: SIGTERM, exit 0" stop_app "$pid" "$tmp/b.log"
fi

# ---- --wait-for-rpc: the startup-only limit -----------------------------------------

if run_tgt c --wait-for-rpc; then
	ctl nvmf_set_config -j '{"acceptor_poll_rate": 10000, "admin_cmd_passthru": {"identify_ctrlr": false},
		"discovery_filter": "match_any"}'
	json_ok "c: nvmf_set_config with SPDK's defaults (an SPDK config loads)" '. == true'
	ctl nvmf_set_config discovery_filter=transport
	fails_with "c: nvmf_set_config: an unsupported discovery filter" 1 "discovery_filter" "transport"
	ctl nvmf_set_max_subsystems max_subsystems=0
	fails_with "max_subsystems 0" 1 "max_subsystems"
	ctl nvmf_set_max_subsystems max_subsystems=2
	json_ok "c: nvmf_set_max_subsystems before init" '. == true'
	ctl framework_start_init
	json_ok "c: framework_start_init" '. == true'
	ctl nvmf_create_subsystem nqn="$NQN"
	json_ok "c: one subsystem besides discovery" '. == true'
	ctl nvmf_create_subsystem nqn="$NQN2"
	fails_with "c: the limit counts the discovery subsystem, as SPDK's" 1 "maximum of 2"
	ctl save-config -o "$tmp/s3.json"
	check "c: save-config keeps the limit, first" jq_file "$tmp/s3.json" '
		[.subsystems[] | select(.subsystem == "nvmf") | .config[0]][0] ==
		{"method": "nvmf_set_max_subsystems", "params": {"max_subsystems": 2}}'
	check "c: SIGTERM, exit 0" stop_app "$pid" "$tmp/c.log"
fi

# ---- the RPC socket's directory is made when missing -----------------------------
sock=$tmp/run/nvmf-tgtd/rpc.sock
if run_tgt d; then
	kill -INT "$pid"
	if wait_exit "$pid" 10 && [ "$exit_status" -eq 0 ]; then
		ok "d: SIGINT, exit 0"
	else
		not_ok "d: SIGINT, exit 0"
		diag_file "$tmp/d.log"
	fi
fi

done_testing
