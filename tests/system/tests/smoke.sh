#!/bin/bash
# Smoke test: the guest boots, the kernel runs, the emulated NVMe controller
# is on the PCI bus and gets a block device.
# systest: --nvme 1 --timeout 240
set -euo pipefail
. "$SYSTEST_LIB/common.sh"

step "kernel"
uname -a
[[ $(uname -r) == *-amd64 ]] || fail "unexpected kernel $(uname -r)"
info "cpus: $(nproc), memory: $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"

step "PCI: NVMe controller"
lspci
lspci -nn | grep -i 'Non-Volatile memory controller' || fail "lspci shows no NVMe controller"
mapfile -t devs < <(nvme_pci_devices)
((${#devs[@]} >= 1)) || fail "no NVMe PCI function (class 0108) in sysfs"
info "NVMe PCI functions: ${devs[*]}"

step "NVMe block device"
wait_for 30 "/dev/nvme0n1" test -b /dev/nvme0n1
run nvme list
size=$(blockdev --getsize64 /dev/nvme0n1)
info "/dev/nvme0n1: $size bytes"
((size > 0)) || fail "/dev/nvme0n1 has size 0"

step "host share"
[[ -r $SYSTEST_LIB/common.sh ]] || fail "host share not readable"
echo "hello from the guest" >"$SYSTEST_OUT/smoke.txt"
echo "PASS: smoke"
