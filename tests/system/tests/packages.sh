#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The packages, from dpkg -i to a connected host (issue 8's acceptance test).
# run-all.sh gives it the .debs (systest-needs: debs): those of
# $SYSTEST_DEB_DIR, or built from the source tree with tests/packaging/deb.sh.
# By hand:
#
#   tests/packaging/deb.sh /tmp/debs
#   tests/system/run-guest.sh --iommu on --nvme 1 --timeout 480 --file /tmp/debs \
#       tests/system/tests/packages.sh
#
# The image holds the packages' runtime dependencies and, for the program
# built against libreactor-dev, gcc, libc6-dev, pkg-config and libjansson-dev
# (image/packages.txt). Without the .debs the test skips (exit 77).
#
# In the guest: install the .debs with dpkg -i (without starting anything;
# libreactor-dev just before it is used),
# write setup.conf (64 hugepages, the emulated NVMe controller) and a daemon
# configuration (a RAM namespace and a file namespace in /var/lib/nvmf-tgtd),
# systemctl start nvmf-tgtd, then check: the setup unit finished before the
# daemon started, hugepages are reserved, the controller is on vfio-pci, the
# daemon is active (READY=1) and says what it serves; the kernel initiator
# passes lib/initiator-checks.sh (fio --verify=crc32c and the rest); a
# restart keeps the controller on vfio-pci and the host reconnects;
# systemctl stop is clean; reactor-setup reset gives the controller back to
# nvme; a C program builds with pkg-config --cflags --libs libreactor and
# runs; apt-get purge leaves nothing behind.
# systest: --iommu on --nvme 1 --timeout 480
# systest-needs: debs
set -euo pipefail
. "$SYSTEST_LIB/common.sh"
. "$SYSTEST_LIB/initiator-checks.sh"

DATA=/var/lib/nvmf-tgtd
# shellcheck disable=SC2034  # read by lib/initiator-checks.sh
IC_NAMESPACES=2

driver_of() {
    local link=/sys/bus/pci/devices/$1/driver
    if [[ -L $link ]]; then basename "$(readlink "$link")"; else echo none; fi
}
unit_prop() { systemctl show -P "$2" "$1"; }
# fail_with_journal MESSAGE: the units' last messages (and any crash), then fail.
fail_with_journal() {
    journalctl -o short-monotonic -u nvmf-tgtd-setup -u nvmf-tgtd --no-pager | tail -n 40
    dmesg | grep -E 'segfault|nvmf-tgtd' | tail -n 5
    fail "$*"
}

step "install the packages"
deb_of() { find "${SYSTEST_FILES:-/nonexistent}" -name "$1_*.deb" -print -quit; }
for p in libreactor1 libreactor-dev nvmf-tgtd; do
    [[ -n $(deb_of $p) ]] || skip "no $p .deb in \$SYSTEST_FILES (tests/packaging/deb.sh DIR builds them)"
done
# Installed, enabled, but not started yet: the test starts the units itself.
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
run dpkg -i "$(deb_of libreactor1)" "$(deb_of nvmf-tgtd)"
rm -f /usr/sbin/policy-rc.d
for u in nvmf-tgtd.service nvmf-tgtd-setup.service; do
    [[ $(systemctl is-enabled "$u") == enabled ]] || fail "$u is not enabled after dpkg -i"
done
info "$(nvmf-tgtd --version 2>&1 | head -n1); $(reactor-setup --version)"

step "configure"
mapfile -t devs < <(nvme_pci_devices)
((${#devs[@]} == 1)) || fail "expected 1 NVMe PCI function, found ${#devs[@]}"
bdf=${devs[0]}
[[ $(driver_of "$bdf") == nvme ]] || wait_for 30 "$bdf on nvme" test "$(driver_of "$bdf")" = nvme
cat >/etc/nvmf-tgtd/setup.conf <<EOF
HUGEPAGES=64
HUGEPAGE_SIZE=2M
DEVICES="$bdf"
EOF
mkdir -p "$DATA"
run truncate -s 64M "$DATA/ns2.img"
cat >/etc/nvmf-tgtd/nvmf-tgtd.json <<EOF
{
  "subsystems": [
    { "subsystem": "bdev",
      "config": [
        { "method": "bdev_malloc_create",
          "params": { "name": "Malloc0", "num_blocks": 131072, "block_size": 512,
                      "uuid": "5a1e0000-0000-4000-8000-000000000001" } },
        { "method": "bdev_uring_create",
          "params": { "name": "File0", "filename": "$DATA/ns2.img", "block_size": 512,
                      "uuid": "5a1e0000-0000-4000-8000-000000000002" } } ] },
    { "subsystem": "nvmf",
      "config": [
        { "method": "nvmf_create_transport", "params": { "trtype": "TCP" } },
        { "method": "nvmf_create_subsystem",
          "params": { "nqn": "$IC_NQN", "serial_number": "SYSTEST0000000000002", "allow_any_host": true } },
        { "method": "nvmf_subsystem_add_ns",
          "params": { "nqn": "$IC_NQN", "namespace": { "nsid": 1, "bdev_name": "Malloc0" } } },
        { "method": "nvmf_subsystem_add_ns",
          "params": { "nqn": "$IC_NQN", "namespace": { "nsid": 2, "bdev_name": "File0" } } },
        { "method": "nvmf_subsystem_add_listener",
          "params": { "nqn": "$IC_NQN", "listen_address": { "trtype": "TCP", "adrfam": "IPv4",
                      "traddr": "$IC_TRADDR", "trsvcid": "$IC_TRSVCID" } } } ] }
  ]
}
EOF

check_bound() {
    [[ $(driver_of "$bdf") == vfio-pci ]] || fail "$bdf is on $(driver_of "$bdf"), not vfio-pci"
    local n
    n=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)
    ((n == 64)) || fail "$n hugepages of 2 MiB reserved, not 64"
    n=$(awk '/^HugePages_Total:/ {print $2}' /proc/meminfo)
    ((n == 64)) || fail "HugePages_Total is $n in /proc/meminfo, not 64"
    info "$bdf on vfio-pci, 64 hugepages of 2 MiB"
}

target_setup() {
    step "systemctl start nvmf-tgtd"
    systemctl start nvmf-tgtd || fail_with_journal "systemctl start nvmf-tgtd failed"
    [[ $(unit_prop nvmf-tgtd ActiveState) == active ]] || fail_with_journal "nvmf-tgtd is not active"
    # Type=notify: active means READY=1 was sent.
    [[ $(unit_prop nvmf-tgtd Type) == notify ]] || fail "nvmf-tgtd.service is Type=$(unit_prop nvmf-tgtd Type), not notify"
    info "status: $(unit_prop nvmf-tgtd StatusText)"
    [[ $(unit_prop nvmf-tgtd StatusText) == serving* ]] || fail "no STATUS=serving... from the daemon"
    local setup_done daemon_start
    setup_done=$(unit_prop nvmf-tgtd-setup ExecMainExitTimestampMonotonic)
    daemon_start=$(unit_prop nvmf-tgtd ExecMainStartTimestampMonotonic)
    ((setup_done > 0 && setup_done <= daemon_start)) ||
        fail "the setup unit did not finish before the daemon started ($setup_done > $daemon_start)"
    local journal finished starting
    journalctl --sync || true
    journal=$(journalctl -o short-monotonic -u nvmf-tgtd-setup -u nvmf-tgtd --no-pager)
    echo "$journal" | tail -n 20
    # The journal says it too: the setup unit's "Finished" line comes before
    # the daemon's "Starting" line.
    finished=$(grep -n 'systemd\[1\]: Finished nvmf-tgtd-setup.service' <<<"$journal" | head -n1 | cut -d: -f1 || true)
    starting=$(grep -n 'systemd\[1\]: Starting nvmf-tgtd.service' <<<"$journal" | head -n1 | cut -d: -f1 || true)
    if [[ -z $finished || -z $starting ]] || ((finished > starting)); then
        fail "the journal does not show nvmf-tgtd-setup.service finished (line ${finished:-none}) before nvmf-tgtd.service starting (line ${starting:-none})"
    fi
    info "journal: nvmf-tgtd-setup.service finished (line $finished) before nvmf-tgtd.service started (line $starting)"
    check_bound
}

target_teardown() {
    step "systemctl stop nvmf-tgtd"
    run systemctl stop nvmf-tgtd
    [[ $(unit_prop nvmf-tgtd Result) == success ]] ||
        fail_with_journal "nvmf-tgtd stopped with result $(unit_prop nvmf-tgtd Result)"
    [[ $(unit_prop nvmf-tgtd ExecMainStatus) == 0 ]] ||
        fail_with_journal "nvmf-tgtd exited with status $(unit_prop nvmf-tgtd ExecMainStatus)"
    [[ ! -e /run/nvmf-tgtd ]] || fail "/run/nvmf-tgtd left behind"
    [[ $(driver_of "$bdf") == vfio-pci ]] || fail "stopping the daemon gave $bdf back"
}

target_cleanup() {
    systemctl stop nvmf-tgtd || true
}

# While connected: a restart keeps the controller bound and the host
# reconnects to the same namespaces (the UUIDs in the configuration keep
# their identities; the file namespace keeps its data).
target_extra_checks() {
    local file_dev=${IC_DEVS[1]} before after
    before=$(dd if="$file_dev" bs=1M count=4 iflag=direct status=none | sha256sum)
    step "systemctl restart nvmf-tgtd"
    systemctl restart nvmf-tgtd || fail_with_journal "systemctl restart nvmf-tgtd failed"
    [[ $(unit_prop nvmf-tgtd ActiveState) == active ]] || fail_with_journal "nvmf-tgtd is not active after restart"
    # The previous process must have stopped cleanly, not crashed.
    journalctl -u nvmf-tgtd --no-pager | grep -q 'Main process exited, code=dumped\|code=killed' &&
        fail_with_journal "the daemon crashed or was killed while restarting"
    check_bound
    # The kernel reconnects after its reconnect delay (10 s by default).
    wait_for 120 "the host to reconnect and read $file_dev" \
        dd if="$file_dev" of=/dev/null bs=4k count=1 iflag=direct status=none
    [[ -b $IC_DEV && -b $file_dev ]] || fail "$IC_DEV or $file_dev is gone after the restart"
    after=$(dd if="$file_dev" bs=1M count=4 iflag=direct status=none | sha256sum)
    [[ $before == "$after" ]] || fail "$file_dev reads differently after the restart"
    info "reconnected; $file_dev holds the same data"
    ic_fio
}

ic_main

step "reactor-setup reset"
run reactor-setup status
run reactor-setup reset
wait_for 30 "$bdf back on nvme" test "$(driver_of "$bdf")" = nvme
info "$bdf back on nvme"

step "a program built against libreactor-dev"
for tool in gcc pkg-config; do
    command -v "$tool" >/dev/null || fail "$tool missing in the guest: add gcc, libc6-dev, pkg-config and libjansson-dev to tests/system/image/packages.txt"
done
run dpkg -i "$(deb_of libreactor-dev)"
cat >/tmp/hello.c <<'EOF'
#include <reactor.h>
#include <stdio.h>

static void start(void *ctx)
{
	(void)ctx;
	printf("started on core %u\n", reactor_get_current_core());
	reactor_app_stop(0);
}

int main(void)
{
	struct reactor_app_opts opts;

	reactor_app_opts_init(&opts, sizeof(opts));
	opts.name = "hello";
	return reactor_app_start(&opts, start, NULL) == 0 ? 0 : 1;
}
EOF
# shellcheck disable=SC2046  # pkg-config prints several words
run gcc -std=gnu11 -Wall -Werror -o /tmp/hello /tmp/hello.c $(pkg-config --cflags --libs libreactor)
run /tmp/hello

step "apt-get purge"
rm -f "$DATA/ns2.img"
run apt-get purge -y nvmf-tgtd libreactor-dev libreactor1
left=()
for p in /etc/nvmf-tgtd /var/lib/nvmf-tgtd /run/nvmf-tgtd /usr/sbin/nvmf-tgtd /usr/sbin/reactor-setup \
    /usr/bin/reactorctl /usr/include/reactor.h /usr/include/reactor /usr/lib/*/libreactor.so* \
    /usr/lib/*/pkgconfig/libreactor.pc \
    /lib/systemd/system/nvmf-tgtd.service /usr/lib/systemd/system/nvmf-tgtd.service \
    /lib/systemd/system/nvmf-tgtd-setup.service /usr/lib/systemd/system/nvmf-tgtd-setup.service \
    /etc/systemd/system/multi-user.target.wants/nvmf-tgtd.service \
    /etc/systemd/system/multi-user.target.wants/nvmf-tgtd-setup.service; do
    if [[ -e $p ]]; then left+=("$p"); fi
done
((${#left[@]} == 0)) || fail "left behind after purge: ${left[*]}"
if dpkg -l | grep -E '^[a-z]+ +(libreactor|nvmf-tgtd)'; then fail "packages still known to dpkg after purge"; fi
echo "PASS: packages"
