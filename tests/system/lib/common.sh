#!/bin/bash
# Helpers for guest tests (sourced inside the guest: . "$SYSTEST_LIB/common.sh").
# Exit status convention: 0 pass, 1 fail, 77 skip.

# Shellcheck: sourced library; the variables it sets are used by the caller.
# shellcheck disable=SC2034

step() { echo "=== $* ($(cut -d' ' -f1 /proc/uptime)s)"; }
info() { echo "    $*"; }
fail() {
    echo "FAIL: $*"
    exit 1
}
skip() {
    echo "SKIP: $*"
    exit 77
}

# Run a command, echoing it first; fail the test with its output if it fails.
run() {
    echo "+ $*"
    "$@" || fail "command failed (exit $?): $*"
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.2 s.
wait_for() {
    local secs=$1 what=$2 i
    shift 2
    for ((i = 0; i < secs * 5; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    fail "timed out after ${secs}s waiting for $what"
}

# Print the NVMe (class 0108) PCI functions, one domain:bus:dev.fn per line.
nvme_pci_devices() {
    local d
    for d in /sys/bus/pci/devices/*; do
        [[ $(cat "$d/class") == 0x010802 ]] && basename "$d"
    done
    return 0
}
