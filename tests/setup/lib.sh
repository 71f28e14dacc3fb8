# SPDX-License-Identifier: BSD-3-Clause
# Shared helpers of the setup tests (sourced, bash): TAP output and a fake
# sysfs/procfs tree for reactor-setup (REACTOR_SETUP_ROOT).
# Uses $top_srcdir and $top_builddir (default: .).

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}

n=0
failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
diag() { echo "# $*"; }
diag_file() { [ -f "$1" ] && head -n 40 "$1" | sed 's/^/#   /'; }
# check DESCRIPTION COMMAND...: ok if the command succeeds.
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
done_testing() {
	echo "1..$n"
	[ "$failed" -eq 0 ] && exit 0
	diag "$failed of $n failed"
	exit 1
}

# ---- the fake tree ---------------------------------------------------------
# new_root: a fresh tree in $R with two hugepage sizes, two NUMA nodes, the
# nvme and vfio-pci drivers, an empty /proc/mounts and /proc/swaps, and a
# kernel-hook that logs every write to $R/writes.log and acts like the PCI
# core (unbind removes the driver link, drivers_probe binds driver_override
# or else the device's native driver).
new_root() {
	R=$(mktemp -d "${TMPDIR:-/tmp}/reactor-setup-test.XXXXXX")
	export REACTOR_SETUP_ROOT=$R
	mkdir -p "$R/sys/bus/pci/devices" "$R/sys/bus/pci/drivers" "$R/sys/block" \
		"$R/sys/kernel/iommu_groups" "$R/proc" "$R/dev" "$R/native"
	: >"$R/sys/bus/pci/drivers_probe"
	local kb node
	for kb in 2048 1048576; do
		mkdir -p "$R/sys/kernel/mm/hugepages/hugepages-${kb}kB"
		echo 0 >"$R/sys/kernel/mm/hugepages/hugepages-${kb}kB/nr_hugepages"
		echo 0 >"$R/sys/kernel/mm/hugepages/hugepages-${kb}kB/free_hugepages"
		for node in 0 1; do
			mkdir -p "$R/sys/devices/system/node/node$node/hugepages/hugepages-${kb}kB"
			echo 0 >"$R/sys/devices/system/node/node$node/hugepages/hugepages-${kb}kB/nr_hugepages"
			echo 0 >"$R/sys/devices/system/node/node$node/hugepages/hugepages-${kb}kB/free_hugepages"
		done
	done
	printf 'MemTotal:       16000000 kB\nHugepagesize:       2048 kB\n' >"$R/proc/meminfo"
	echo "sysfs /sys sysfs rw 0 0" >"$R/proc/mounts"
	echo "Filename				Type		Size		Used		Priority" >"$R/proc/swaps"
	add_driver nvme
	add_driver vfio-pci
	cat >"$R/kernel-hook" <<'EOF'
#!/bin/bash
# Stands for the kernel: $1 is the sysfs path written, $2 the value.
R=$REACTOR_SETUP_ROOT
echo "$1 $2" >>"$R/writes.log"
case $1 in
*/unbind) rm -f "$R/sys/bus/pci/devices/$2/driver" ;;
/sys/bus/pci/drivers_probe)
	dev=$R/sys/bus/pci/devices/$2
	[ -e "$dev/driver" ] && exit 0
	drv=$(cat "$dev/driver_override" 2>/dev/null)
	[ -z "$drv" ] && drv=$(cat "$R/native/$2" 2>/dev/null)
	if [ -n "$drv" ] && [ -d "$R/sys/bus/pci/drivers/$drv" ] && [ ! -e "$R/refuse-probe" ]; then
		ln -s "../../../bus/pci/drivers/$drv" "$dev/driver"
	fi
	;;
*/nr_hugepages)
	# The kernel reserves at most $R/hugepages-max pages, when that exists.
	if [ -f "$R/hugepages-max" ] && [ "$2" -gt "$(cat "$R/hugepages-max")" ]; then
		cat "$R/hugepages-max" >"$R$1"
	fi
	;;
esac
EOF
	chmod +x "$R/kernel-hook"
	: >"$R/writes.log"
}

add_driver() {
	mkdir -p "$R/sys/bus/pci/drivers/$1"
	: >"$R/sys/bus/pci/drivers/$1/bind"
	: >"$R/sys/bus/pci/drivers/$1/unbind"
	: >"$R/sys/bus/pci/drivers/$1/new_id"
}

# add_device BDF DRIVER|- GROUP|- [CLASS]: a PCI device (vendor 8086, device
# 0953), on DRIVER (its native driver too), in IOMMU group GROUP.
add_device() {
	local bdf=$1 drv=$2 group=$3 class=${4:-0x010802}
	local d=$R/sys/devices/pci0000:00/$bdf
	mkdir -p "$d"
	echo 0x8086 >"$d/vendor"
	echo 0x0953 >"$d/device"
	echo "$class" >"$d/class"
	: >"$d/driver_override"
	ln -s "../../../devices/pci0000:00/$bdf" "$R/sys/bus/pci/devices/$bdf"
	if [ "$drv" != - ]; then
		ln -s "../../../bus/pci/drivers/$drv" "$d/driver"
		echo "$drv" >"$R/native/$bdf"
	fi
	if [ "$group" != - ]; then
		mkdir -p "$R/sys/kernel/iommu_groups/$group/devices"
		ln -s "../../../kernel/iommu_groups/$group" "$d/iommu_group"
		ln -s "../../../../devices/pci0000:00/$bdf" "$R/sys/kernel/iommu_groups/$group/devices/$bdf"
	fi
}

# add_namespace BDF CTRL DISK [PART...]: NVMe controller CTRL (nvme0) under
# the device with namespace DISK (nvme0n1) and its partitions.
add_namespace() {
	local bdf=$1 ctrl=$2 disk=$3
	shift 3
	local d=$R/sys/devices/pci0000:00/$bdf/nvme/$ctrl/$disk p
	mkdir -p "$d/holders"
	echo 259:0 >"$d/dev"
	ln -s "../devices/pci0000:00/$bdf/nvme/$ctrl/$disk" "$R/sys/block/$disk"
	for p in "$@"; do
		mkdir -p "$d/$p/holders"
		echo 1 >"$d/$p/partition"
	done
}

# Run reactor-setup; its status in $rc, output in $R/out and $R/err.
RS=$top_builddir/tools/reactor-setup
export REACTOR_SETUP_MODPROBE=false
# shellcheck disable=SC2034 # rc is read by the tests
rs() {
	"$RS" "$@" >"$R/out" 2>"$R/err"
	rc=$?
}
