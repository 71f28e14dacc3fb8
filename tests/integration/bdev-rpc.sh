#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# The block-device RPC methods through reactorctl, against daemon/bdev_app:
# create malloc, null and file (io_uring, libaio) devices, list them and
# their stats, the bad-input errors, save-config, restart with -c (same
# devices, same UUIDs, the file's data kept), delete. TAP output.
set -u
. "$(dirname "$0")/lib.sh"
APP=$top_builddir/daemon/bdev_app
init_test bdev

sock=$tmp/app.sock
img=$tmp/disk.img
dd if=/dev/zero of="$img" bs=1M count=4 status=none

run_app() {
	_n=$1
	shift
	start_app "$_n" -r "$sock" "$@"
	pid=$app_pid
	if wait_rpc "$sock" "$pid"; then
		ok "$_n: bdev_app serves $sock"
		return 0
	fi
	not_ok "$_n: bdev_app serves $sock"
	diag_file "$tmp/$_n.log"
	return 1
}

if run_app a; then
	ctl bdev_malloc_create name=Malloc0 num_blocks=256 block_size=512 \
		uuid=2b3c4d5e-0000-4000-8000-000000000001
	json_ok "bdev_malloc_create returns the name" '. == "Malloc0"'
	ctl bdev_null_create name=Null0 num_blocks=1024 block_size=4096
	json_ok "bdev_null_create" '. == "Null0"'
	ctl bdev_uring_create name=Uring0 filename="$img"
	json_ok "bdev_uring_create" '. == "Uring0"'
	ctl bdev_aio_create name=Aio0 filename="$img" block_size=4096
	json_ok "bdev_aio_create with block_size" '. == "Aio0"'
	ctl bdev_get_bdevs
	json_ok "bdev_get_bdevs lists four devices" 'length == 4 and
		(map(.name) | sort) == ["Aio0", "Malloc0", "Null0", "Uring0"]'
	ctl bdev_get_bdevs name=Aio0
	json_ok "bdev_get_bdevs name=Aio0: 1024 blocks of 4096" \
		'length == 1 and .[0].block_size == 4096 and .[0].num_blocks == 1024 and .[0].product_name == "AIO disk"'
	ctl bdev_get_iostat
	json_ok "bdev_get_iostat" '.tick_rate > 0 and (.bdevs | length) == 4'

	ctl bdev_malloc_create name=Malloc0 num_blocks=8 block_size=512
	fails_with "duplicate name" 1 "already exists"
	ctl bdev_malloc_create name=M1 num_blocks=0 block_size=512
	fails_with "zero size" 1 "num_blocks"
	ctl bdev_null_create name=N1 num_blocks=8 block_size=1000
	fails_with "block size not a power of two" 1 "power of two"
	ctl bdev_aio_create name=A1 filename=/nonexistent/disk.img
	fails_with "missing file" 1 "/nonexistent/disk.img" "No such file"
	ctl bdev_null_delete name=Malloc0
	fails_with "delete with the wrong family" 1 "No such device"

	ctl save-config -o "$tmp/s1.json"
	check "save-config holds the four create calls" jq_file "$tmp/s1.json" '
		[.subsystems[] | select(.subsystem == "bdev") | .config[].method] ==
		["bdev_malloc_create", "bdev_null_create", "bdev_uring_create", "bdev_aio_create"]'
	check "a: SIGTERM, exit 0" stop_app "$pid" "$tmp/a.log"
fi

if run_app b -c "$tmp/s1.json"; then
	ctl bdev_get_bdevs name=Malloc0
	json_ok "b: -c recreated Malloc0 with its UUID" '.[0].uuid == "2b3c4d5e-0000-4000-8000-000000000001"'
	ctl save-config -o "$tmp/s2.json"
	check "b: save-config is the same as before the restart" cmp -s "$tmp/s1.json" "$tmp/s2.json"
	ctl bdev_malloc_delete name=Malloc0
	json_ok "bdev_malloc_delete" '. == true'
	ctl bdev_uring_delete name=Uring0
	json_ok "bdev_uring_delete" '. == true'
	ctl bdev_get_bdevs name=Malloc0
	fails_with "the deleted device is gone" 1 "No such device"
	check "b: SIGTERM, exit 0 (Null0 and Aio0 deleted by the subsystem)" stop_app "$pid" "$tmp/b.log"
fi

done_testing
