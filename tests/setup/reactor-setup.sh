#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# reactor-setup against fake sysfs/procfs trees (tests/setup/lib.sh): for each
# command, what it wrote where (in order, through the fake kernel's log), its
# exit status and its message.
# shellcheck source=tests/setup/lib.sh
. "${top_srcdir:-.}/tests/setup/lib.sh"

if [ ! -x "$RS" ]; then
	echo "1..0 # SKIP $RS not built"
	exit 0
fi
roots=()
trap 'rm -rf "${roots[@]}"' EXIT
fresh() {
	new_root
	roots+=("$R")
}
B=0000:01:00.0
B2=0000:02:00.0
writes() { cat "$R/writes.log"; }
# expect_writes DESCRIPTION LINE...: the fake kernel saw exactly these writes.
expect_writes() {
	local d=$1
	shift
	local want
	want=$(printf '%s\n' "$@")
	[ $# -eq 0 ] && want=
	if [ "$(writes)" = "$want" ]; then
		ok "$d"
	else
		not_ok "$d"
		diag "expected:"
		printf '%s\n' "$@" | sed 's/^/#   /'
		diag "written:"
		diag_file "$R/writes.log"
	fi
}
# expect_rc DESCRIPTION CODE [PATTERN]: exit status, and stderr matching PATTERN.
expect_rc() {
	if [ "$rc" -eq "$2" ] && { [ -z "${3:-}" ] || grep -Eq -- "$3" "$R/err"; }; then
		ok "$1"
	else
		not_ok "$1"
		diag "exit status $rc (expected $2), stderr:"
		diag_file "$R/err"
	fi
}
driver_of() { basename "$(readlink "$R/sys/bus/pci/devices/$1/driver")" 2>/dev/null; }

if command -v shellcheck >/dev/null 2>&1; then
	if shellcheck -s bash "$top_srcdir/tools/reactor-setup.in" >"${TMPDIR:-/tmp}/rs-shellcheck.$$" 2>&1; then
		ok "tools/reactor-setup.in is shellcheck-clean"
	else
		not_ok "tools/reactor-setup.in is shellcheck-clean"
		diag_file "${TMPDIR:-/tmp}/rs-shellcheck.$$"
	fi
	rm -f "${TMPDIR:-/tmp}/rs-shellcheck.$$"
else
	ok "tools/reactor-setup.in is shellcheck-clean # SKIP shellcheck not installed"
fi

# ---- command line -------------------------------------------------------------
fresh
rs --help
check "--help exits 0 and prints the usage" [ "$rc" -eq 0 ]
check "--help lists every command" grep -q 'hugepages COUNT' "$R/out"
rs --version
check "--version prints the version" grep -Eq '^reactor-setup \(libreactor\) [0-9]+\.[0-9]+' "$R/out"
for args in "" "frobnicate" "hugepages" "hugepages abc" "hugepages -1" "hugepages 1 2" \
	"hugepages 8 --size 3X" "hugepages 8 --size" "hugepages 8 --node x" "bind" "bind zz:00.0" \
	"bind 0000:01:00.9" "bind $B --size 2M" "bind $B --bogus" "hugepages 8 --force" \
	"apply extra" "status --driver vfio-pci" "reset --node 0"; do
	# shellcheck disable=SC2086 # split on purpose
	rs $args
	expect_rc "usage error (2) for '$args'" 2 "Try 'reactor-setup --help'"
done
expect_writes "usage errors write nothing"

# ---- hugepages ------------------------------------------------------------------
fresh
rs hugepages 512
expect_rc "hugepages 512 succeeds" 0
expect_writes "hugepages 512 writes the default size's (2048kB) system-wide count" \
	"/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages 512"
check "the message says what was reserved" grep -q '512 hugepages of 2048kB reserved' "$R/out"

fresh
rs hugepages 4 --size 1G
expect_rc "hugepages 4 --size 1G succeeds" 0
expect_writes "--size 1G writes the 1048576kB count" \
	"/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages 4"

fresh
rs hugepages 100 --node=1 --size 2048kB
expect_rc "hugepages 100 --node=1 succeeds" 0
expect_writes "--node 1 writes node1's count only" \
	"/sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages 100"
check "node 0's count is untouched" [ "$(cat "$R/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages")" = 0 ]

fresh
sed -i 's/^Hugepagesize:.*/Hugepagesize:    1048576 kB/' "$R/proc/meminfo"
rs hugepages 2
expect_writes "the default size comes from /proc/meminfo (1G here)" \
	"/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages 2"

fresh
rs hugepages 8 --node 7
expect_rc "an absent NUMA node is 'not found' (3)" 3 "no NUMA node 7"
rs hugepages 8 --size 16M
expect_rc "an unsupported size is 'not found' (3) and lists the sizes" 3 "available: 1048576kB 2048kB"
expect_writes "neither wrote anything"

fresh
echo 10 >"$R/hugepages-max"
rs hugepages 64
expect_rc "the kernel reserving fewer pages than asked is a failure (1)" 1 "asked for 64 .* reserved 10"

# ---- bind ---------------------------------------------------------------------
fresh
add_device $B nvme 5
rs bind $B
expect_rc "bind of a free device alone in its IOMMU group succeeds" 0
expect_writes "bind writes driver_override, then unbind with the BDF, then drivers_probe" \
	"/sys/bus/pci/devices/$B/driver_override vfio-pci" \
	"/sys/bus/pci/devices/$B/driver/unbind $B" \
	"/sys/bus/pci/drivers_probe $B"
check "driver_override holds vfio-pci" [ "$(cat "$R/sys/bus/pci/devices/$B/driver_override")" = vfio-pci ]
check "the nvme driver's unbind file got the BDF" [ "$(cat "$R/sys/bus/pci/drivers/nvme/unbind")" = $B ]
check "drivers_probe got the BDF" [ "$(cat "$R/sys/bus/pci/drivers_probe")" = $B ]
check "the device is on vfio-pci" [ "$(driver_of $B)" = vfio-pci ]
: >"$R/writes.log"
rs bind 01:00.0
expect_rc "binding again (short BDF form) succeeds" 0
expect_writes "binding a device already on vfio-pci writes nothing"

# reset
: >"$R/writes.log"
rs reset $B
expect_rc "reset succeeds" 0
expect_writes "reset clears driver_override, unbinds from vfio-pci, probes" \
	"/sys/bus/pci/devices/$B/driver_override " \
	"/sys/bus/pci/devices/$B/driver/unbind $B" \
	"/sys/bus/pci/drivers_probe $B"
check "driver_override is empty after reset" [ -z "$(cat "$R/sys/bus/pci/devices/$B/driver_override")" ]
check "vfio-pci's unbind file got the BDF" [ "$(cat "$R/sys/bus/pci/drivers/vfio-pci/unbind")" = $B ]
check "the device is back on nvme" [ "$(driver_of $B)" = nvme ]
check "reset says where the device went" grep -q "$B reset, now on nvme" "$R/out"

# vfio-pci not loaded: modprobe
fresh
add_device $B nvme 5
rm -rf "$R/sys/bus/pci/drivers/vfio-pci"
cat >"$R/modprobe" <<EOF
#!/bin/sh
echo "\$*" >>"$R/modprobe.log"
mkdir -p "$R/sys/bus/pci/drivers/\$1"
EOF
chmod +x "$R/modprobe"
REACTOR_SETUP_MODPROBE=$R/modprobe rs bind $B
expect_rc "bind loads vfio-pci when it is not loaded" 0
check "modprobe was called with vfio-pci" [ "$(cat "$R/modprobe.log")" = vfio-pci ]
fresh
add_device $B nvme 5
rm -rf "$R/sys/bus/pci/drivers/vfio-pci"
rs bind $B
expect_rc "a failing modprobe is a failure (1)" 1 "modprobe vfio-pci failed"
expect_writes "and nothing is written"

fresh
add_device $B nvme 5
touch "$R/refuse-probe"
rs bind $B
expect_rc "the kernel not binding is a failure (1) that says so" 1 "did not bind it to vfio-pci"

# unknown device, no IOMMU
fresh
add_device $B nvme 5
rs bind 0000:09:00.0
expect_rc "an unknown BDF is 'not found' (3)" 3 "no PCI device 0000:09:00.0"
fresh
add_device $B nvme -
rs bind $B
expect_rc "no IOMMU is its own error (4), with what to do" 4 "no IOMMU.*intel_iommu=on"
expect_writes "and nothing is written"
rs bind $B --driver uio_pci_generic
expect_rc "another --driver does not need an IOMMU (absent driver: modprobe fails)" 1 "modprobe uio_pci_generic"
add_driver uio_pci_generic
: >"$R/writes.log"
rs bind $B --driver uio_pci_generic
expect_rc "bind --driver uio_pci_generic without IOMMU succeeds" 0
check "driver_override holds uio_pci_generic" [ "$(cat "$R/sys/bus/pci/devices/$B/driver_override")" = uio_pci_generic ]

# IOMMU groups
fresh
add_device $B nvme 5
add_device $B2 nvme 5
rs bind $B
expect_rc "a group member on a kernel driver is refused (5)" 5 "group 5 also holds $B2, bound to nvme"
expect_writes "and nothing is written"
rs bind $B $B2
expect_rc "binding the whole group at once succeeds" 0
check "both devices are on vfio-pci" [ "$(driver_of $B)$(driver_of $B2)" = vfio-pcivfio-pci ]
fresh
add_device $B nvme 5
add_device $B2 - 5
add_device 0000:00:1c.0 pcieport 5 0x060400
rs bind $B
expect_rc "group members without driver, and bridges, are accepted" 0

# in use
fresh
add_device $B nvme 5
add_namespace $B nvme0 nvme0n1 nvme0n1p1 nvme0n1p2
echo "/dev/nvme0n1p1 /data ext4 rw,relatime 0 0" >>"$R/proc/mounts"
rs bind $B
expect_rc "a device with a mounted partition is refused (5)" 5 "/dev/nvme0n1p1 is mounted on /data"
expect_writes "and nothing is written"
rs bind $B --force
expect_rc "--force binds it anyway" 0 "binding anyway"
check "the forced device is on vfio-pci" [ "$(driver_of $B)" = vfio-pci ]

fresh
add_device $B nvme 5
add_namespace $B nvme0 nvme0n1
echo "/dev/nvme0n1 /srv xfs rw 0 0" >>"$R/proc/mounts"
rs bind $B
expect_rc "a mounted whole namespace is refused" 5 "/dev/nvme0n1 is mounted on /srv"

fresh
add_device $B nvme 5
add_namespace $B nvme0 nvme0n1 nvme0n1p1 nvme0n1p2
echo "/dev/nvme0n1p2                          partition	8388604		0		-2" >>"$R/proc/swaps"
rs bind $B
expect_rc "swap on a partition is refused" 5 "/dev/nvme0n1p2 is used as swap"

fresh
add_device $B nvme 5
add_namespace $B nvme0 nvme0n1 nvme0n1p1
mkdir "$R/sys/block/nvme0n1/nvme0n1p1/holders/dm-0"
rs bind $B
expect_rc "a partition held by device-mapper is refused" 5 "/dev/nvme0n1p1 is held by dm-0"
fresh
add_device $B nvme 5
add_namespace $B nvme0 nvme0n1
mkdir "$R/sys/block/nvme0n1/holders/md0"
rs bind $B
expect_rc "a namespace held by md is refused" 5 "/dev/nvme0n1 is held by md0"

# NVMe multipath: the disk is under the subsystem, the path under the controller.
fresh
add_device $B nvme 5
mkdir -p "$R/sys/devices/pci0000:00/$B/nvme/nvme0/nvme0c0n1" "$R/sys/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1/holders"
ln -s ../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1 "$R/sys/block/nvme0n1"
echo "/dev/nvme0n1 /mp ext4 rw 0 0" >>"$R/proc/mounts"
rs bind $B
expect_rc "a mounted multipath namespace (path nvme0c0n1) is refused" 5 "/dev/nvme0n1 is mounted on /mp"

fresh
add_device $B nvme 5
add_namespace $B nvme0 nvme0n1 nvme0n1p1
add_device $B2 nvme 6
add_namespace $B2 nvme1 nvme1n1
echo "/dev/nvme1n1 /other ext4 rw 0 0" >>"$R/proc/mounts"
rs bind $B
expect_rc "another device's mounted disk does not make this one busy" 0

# reset of a device the daemon holds open
fresh
add_device $B vfio-pci 5
echo nvme >"$R/native/$B"
echo vfio-pci >"$R/sys/bus/pci/devices/$B/driver_override"
mkdir -p "$R/proc/4242/fd"
echo nvmf-tgtd >"$R/proc/4242/comm"
ln -s /dev/vfio/5 "$R/proc/4242/fd/17"
rs reset $B
expect_rc "reset of a vfio group open in a process is refused (5)" 5 "/dev/vfio/5 is open by nvmf-tgtd \(pid 4242\)"
expect_writes "and nothing is written"
: >"$R/empty.conf"
rs status $B --config "$R/empty.conf"
check "status shows the device in use" grep -q "$B  8086:0953  driver=vfio-pci  iommu_group=5  in use: /dev/vfio/5 is open by nvmf-tgtd" "$R/out"
rs reset --force $B
expect_rc "reset --force gives it back anyway" 0
check "the device is back on nvme" [ "$(driver_of $B)" = nvme ]

# ---- apply and the configuration file -----------------------------------------
fresh
rs apply --config "$R/absent.conf"
expect_rc "apply with a missing configuration succeeds" 0
check "and says there is nothing to do" grep -q "does not exist: nothing to do" "$R/out"
cp "$top_srcdir/packaging/systemd/setup.conf" "$R/setup.conf"
rs apply --config "$R/setup.conf"
expect_rc "apply with the shipped (all commented) setup.conf succeeds" 0
check "and says there is nothing to do" grep -q "nothing to do" "$R/out"
: >"$R/empty.conf"
rs apply --config "$R/empty.conf"
expect_rc "apply with an empty file succeeds" 0
expect_writes "none of them wrote anything"

fresh
add_device $B nvme 5
add_device $B2 nvme 6
cat >"$R/setup.conf" <<EOF
# reserve and bind
HUGEPAGES=1024
  HUGEPAGE_SIZE="2M"
HUGEPAGE_NODE=0

DEVICES='01:00.0 $B2'
EOF
rs apply --config "$R/setup.conf"
expect_rc "apply with hugepages and two devices succeeds" 0
expect_writes "apply reserves, then binds each device" \
	"/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages 1024" \
	"/sys/bus/pci/devices/$B/driver_override vfio-pci" \
	"/sys/bus/pci/devices/$B/driver/unbind $B" \
	"/sys/bus/pci/drivers_probe $B" \
	"/sys/bus/pci/devices/$B2/driver_override vfio-pci" \
	"/sys/bus/pci/devices/$B2/driver/unbind $B2" \
	"/sys/bus/pci/drivers_probe $B2"
: >"$R/writes.log"
rs apply --config "$R/setup.conf"
expect_rc "apply again (a restart) succeeds" 0
expect_writes "and rewrites only the hugepage count" \
	"/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages 1024"
rs status --config "$R/setup.conf"
check "status lists hugepages per size and node" grep -Eq '^  2048kB +0 +1024 ' "$R/out"
check "status lists sizes smallest first, then each node" \
	[ "$(grep -Eo '^  [0-9]+kB +[a-z0-9]+' "$R/out" | tr -s ' ' | tr '\n' ,)" = " 2048kB all, 1048576kB all, 2048kB 0, 1048576kB 0, 2048kB 1, 1048576kB 1," ]
check "status says hugetlbfs is not mounted" grep -q '^hugetlbfs: not mounted' "$R/out"
echo "hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0" >>"$R/proc/mounts"
rs status --config "$R/setup.conf"
check "status shows the hugetlbfs mount" grep -q '^hugetlbfs: /dev/hugepages (rw,relatime,pagesize=2M)' "$R/out"
check "status lists each configured device" [ "$(grep -c "driver=vfio-pci  iommu_group=[56]  not in use" "$R/out")" = 2 ]
: >"$R/writes.log"
rs reset --config "$R/setup.conf"
expect_rc "reset without BDF resets the configured devices" 0
check "both are back on nvme" [ "$(driver_of $B)$(driver_of $B2)" = nvmenvme ]

fresh
# shellcheck disable=SC2016 # a command substitution that must not run
for bad in "HUGEPAGES=12x" "FOO=1" "HUGEPAGES" "DEVICES=0000:01:00.0 nonsense" "HUGEPAGE_SIZE=3X" \
	'DEVICES=$(touch '"$R"'/pwned)' "HUGEPAGES=1
HUGEPAGES=2"; do
	printf '# comment\n%s\n' "$bad" >"$R/bad.conf"
	rs apply --config "$R/bad.conf"
	expect_rc "a bad line is a configuration error (2) naming the line: $(head -c 30 <<<"$bad" | tr '\n' ' ')" 2 "bad.conf:[23]: "
done
check "the configuration is parsed, never run" [ ! -e "$R/pwned" ]
expect_writes "bad configurations write nothing"

done_testing
