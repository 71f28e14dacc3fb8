#!/bin/bash
# nvmf-tgtd against the kernel NVMe/TCP initiator: the daemon (staged from the
# host build) serves a RAM namespace (bdev_malloc_create) and a file namespace
# (bdev_uring_create on the guest's ext4 disk) on 127.0.0.1:4420, configured
# with a JSON config (-c), and must pass every check of
# lib/initiator-checks.sh the kernel target passes (tests/nvmet-reference.sh),
# plus Compare, the same data checks on the file namespace and a namespace
# hot-added through reactorctl (bdev_aio_create + nvmf_subsystem_add_ns) and
# removed again (nvmf_subsystem_remove_ns + bdev_aio_delete), and discovery
# through the discovery subsystem's own listener on port 8009.
# SIGTERM must stop it with exit status 0 within TGTD_STOP_SECS, and the run
# must log no error or warning.
# systest: --timeout 480
# systest-needs: nvmf-tgtd
set -euo pipefail
. "$SYSTEST_LIB/common.sh"
. "$SYSTEST_LIB/initiator-checks.sh"
. "$SYSTEST_LIB/nvmf-tgtd.sh"

DATA=/var/tmp/nvmf-tgtd     # on the root disk: ext4 has O_DIRECT, tmpfs (6.1) has not
CFG=$DATA/nvmf-tgtd.json
# shellcheck disable=SC2034  # read by lib/initiator-checks.sh
IC_NAMESPACES=2 IC_HOTADD_BYTES=$((32 << 20))
DISC_PORT=8009              # the discovery subsystem alone, as `nvme discover` expects

write_config() {
    cat >"$CFG" <<EOF
{
  "subsystems": [
    {
      "subsystem": "bdev",
      "config": [
        { "method": "bdev_malloc_create",
          "params": { "name": "Malloc0", "num_blocks": 131072, "block_size": 512 } },
        { "method": "bdev_uring_create",
          "params": { "name": "File0", "filename": "$DATA/ns2.img", "block_size": 512 } }
      ]
    },
    {
      "subsystem": "nvmf",
      "config": [
        { "method": "nvmf_create_transport", "params": { "trtype": "TCP" } },
        { "method": "nvmf_create_subsystem",
          "params": { "nqn": "$IC_NQN", "serial_number": "SYSTEST0000000000001",
                      "model_number": "libreactor systest", "allow_any_host": true } },
        { "method": "nvmf_subsystem_add_ns",
          "params": { "nqn": "$IC_NQN", "namespace": { "nsid": 1, "bdev_name": "Malloc0" } } },
        { "method": "nvmf_subsystem_add_ns",
          "params": { "nqn": "$IC_NQN", "namespace": { "nsid": 2, "bdev_name": "File0" } } },
        { "method": "nvmf_subsystem_add_listener",
          "params": { "nqn": "$IC_NQN",
                      "listen_address": { "trtype": "TCP", "adrfam": "IPv4",
                                          "traddr": "$IC_TRADDR", "trsvcid": "$IC_TRSVCID" } } },
        { "method": "nvmf_subsystem_add_listener",
          "params": { "nqn": "nqn.2014-08.org.nvmexpress.discovery",
                      "listen_address": { "trtype": "TCP", "adrfam": "IPv4",
                                          "traddr": "$IC_TRADDR", "trsvcid": "$DISC_PORT" } } }
      ]
    }
  ]
}
EOF
}

target_setup() {
    rm -rf "$DATA"
    mkdir -p "$DATA"
    run truncate -s 64M "$DATA/ns2.img"
    run truncate -s 32M "$DATA/ns3.img"
    write_config
    tgtd_start "$CFG"
    tgtd_rpc nvmf_get_subsystems
}

target_teardown() {
    tgtd_stop
}

target_cleanup() {
    tgtd_cleanup
}

# Hot-add: a libaio file device and its namespace, while the host is connected.
target_add_ns() {
    tgtd_rpc bdev_aio_create name=File1 filename="$DATA/ns3.img" block_size=512
    tgtd_rpc nvmf_subsystem_add_ns nqn="$IC_NQN" namespace.bdev_name=File1
}

target_remove_ns() {
    tgtd_rpc nvmf_subsystem_remove_ns nqn="$IC_NQN" nsid="$1"
    tgtd_rpc bdev_aio_delete name=File1
}

# The discovery subsystem on its own port: its log lists the subsystem at
# its I/O listener, and the kernel host can connect from that entry.
discover_on_discovery_port() {
    step "initiator: discover on the discovery port $DISC_PORT"
    local out
    out=$(timeout 60 nvme discover -t tcp -a "$IC_TRADDR" -s "$DISC_PORT" -q "$IC_HOSTNQN") ||
        fail "nvme discover on port $DISC_PORT failed: $out"
    echo "$out"
    grep -Eq "subnqn:[[:space:]]+$IC_NQN[[:space:]]*\$" <<<"$out" ||
        fail "the discovery log on port $DISC_PORT does not list $IC_NQN"
    grep -Eq "trsvcid:[[:space:]]+$IC_TRSVCID[[:space:]]*\$" <<<"$out" ||
        fail "the discovery log on port $DISC_PORT does not give the I/O port $IC_TRSVCID"
    if grep -q 'unrecognized' <<<"$out"; then
        fail "nvme-cli could not decode a field of the discovery log (above)"
    fi
}

target_extra_checks() {
    discover_on_discovery_port
    ic_compare
    # The file namespace gets the same data checks as the RAM one.
    local first=$IC_DEV
    # shellcheck disable=SC2153  # set by ic_connect
    IC_DEV=${IC_DEVS[1]}
    step "file namespace $IC_DEV"
    ic_id_ns
    ic_fio
    ic_dd_roundtrip
    ic_write_zeroes
    ic_discard
    ic_compare
    IC_DEV=$first
    ic_hot_add
    ic_hot_remove
}

tgtd_install
ic_main
# A clean run logs no error or warning (stall reports aside: TCG is slow).
step "nvmf-tgtd: log"
if grep -E '^(ERROR|WARN|CRIT)' "$TGTD_LOG" | grep -v 'stall'; then
    fail "nvmf-tgtd logged errors or warnings during a clean run (above)"
fi
info "no errors or warnings in $(basename "$TGTD_LOG")"
echo "PASS: nvmf-tgtd"
