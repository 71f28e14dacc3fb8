#!/bin/bash
# VFIO + hugepages: what a userspace NVMe driver needs. With the emulated
# intel-iommu, the emulated NVMe controller is moved from the kernel nvme
# driver to vfio-pci (/dev/vfio/GROUP appears, the block device goes away) and
# back (the block device reappears); 2 MiB hugepages can be reserved and used.
# systest: --iommu on --nvme 1 --timeout 240
set -euo pipefail
. "$SYSTEST_LIB/common.sh"

driver_of() {
    local link=/sys/bus/pci/devices/$1/driver
    if [[ -L $link ]]; then basename "$(readlink "$link")"; else echo none; fi
}

# The namespace block device(s) of the NVMe controller at PCI address $1.
blockdevs_of() {
    local c
    for c in "/sys/bus/pci/devices/$1"/nvme/nvme*; do
        [[ -d $c ]] || continue
        find "$c"/ -maxdepth 1 -name "$(basename "$c")n*" -printf '/dev/%f\n' 2>/dev/null
    done
    return 0
}

step "IOMMU"
grep -o 'intel_iommu=on' /proc/cmdline || fail "intel_iommu=on missing from the kernel command line (run with --iommu on)"
ngroups=$(find /sys/kernel/iommu_groups -mindepth 1 -maxdepth 1 | wc -l)
((ngroups > 0)) || fail "no IOMMU groups: is the intel-iommu device present?"
info "$ngroups IOMMU groups"

step "NVMe controller on the nvme driver"
mapfile -t devs < <(nvme_pci_devices)
((${#devs[@]} == 1)) || fail "expected 1 NVMe PCI function, found ${#devs[@]}"
bdf=${devs[0]}
sysdev=/sys/bus/pci/devices/$bdf
wait_for 30 "$bdf bound to nvme" test "$(driver_of "$bdf")" = nvme
wait_for 30 "a namespace block device of $bdf" test -n "$(blockdevs_of "$bdf")"
mapfile -t blk < <(blockdevs_of "$bdf")
wait_for 10 "${blk[0]}" test -b "${blk[0]}"
group=$(basename "$(readlink "$sysdev/iommu_group")")
info "$bdf: driver nvme, block device ${blk[*]}, IOMMU group $group"
info "group members: $(ls "$sysdev/iommu_group/devices")"

step "bind to vfio-pci"
run modprobe vfio-pci
echo "$bdf" >"$sysdev/driver/unbind"
wait_for 10 "${blk[0]} to go away" test ! -e "${blk[0]}"
echo vfio-pci >"$sysdev/driver_override"
echo "$bdf" >/sys/bus/pci/drivers_probe
[[ $(driver_of "$bdf") == vfio-pci ]] || fail "$bdf is bound to $(driver_of "$bdf"), not vfio-pci"
wait_for 10 "/dev/vfio/$group" test -c "/dev/vfio/$group"
[[ -c /dev/vfio/vfio ]] || fail "/dev/vfio/vfio missing"
ls -l /dev/vfio
# The group must be openable by a userspace driver.
exec {gfd}<>"/dev/vfio/$group" || fail "cannot open /dev/vfio/$group"
exec {gfd}>&-
info "$bdf bound to vfio-pci, /dev/vfio/$group opened and closed"

step "give back to nvme"
echo "$bdf" >/sys/bus/pci/drivers/vfio-pci/unbind
echo >"$sysdev/driver_override"
echo "$bdf" >/sys/bus/pci/drivers_probe
wait_for 30 "$bdf bound to nvme again" test "$(driver_of "$bdf")" = nvme
wait_for 30 "a namespace block device of $bdf" test -n "$(blockdevs_of "$bdf")"
mapfile -t blk < <(blockdevs_of "$bdf")
wait_for 10 "${blk[0]}" test -b "${blk[0]}"
wait_for 10 "/dev/vfio/$group to go away" test ! -e "/dev/vfio/$group"
run dd if="${blk[0]}" of=/dev/null bs=1M count=1 iflag=direct status=none
info "$bdf back on nvme as ${blk[*]}, readable"

step "hugepages (2 MiB)"
grep -q '^Hugepagesize: *2048 kB' /proc/meminfo || fail "default hugepage size is not 2 MiB"
echo 64 >/proc/sys/vm/nr_hugepages
total=$(awk '/^HugePages_Total:/ {print $2}' /proc/meminfo)
info "HugePages_Total: $total"
((total == 64)) || fail "reserved $total hugepages, wanted 64"
mountpoint -q /dev/hugepages || run mount -t hugetlbfs nodev /dev/hugepages
# Back a file with 4 hugepages and check they are taken from the pool.
run fallocate -l 8M /dev/hugepages/systest
free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
info "HugePages_Free with an 8 MiB hugetlbfs file: $free"
((free == 60)) || fail "expected 60 free hugepages, got $free"
rm /dev/hugepages/systest
echo 0 >/proc/sys/vm/nr_hugepages
grep -E '^HugePages_(Total|Free)' /proc/meminfo

echo "PASS: vfio"
