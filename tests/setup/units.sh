#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The systemd units: "systemd-analyze verify" must print nothing (systemd 252
# exits 0 on unknown keys, so any output is a failure), and the daemon unit's
# "systemd-analyze security" exposure score is reported.
# shellcheck source=tests/setup/lib.sh
. "${top_srcdir:-.}/tests/setup/lib.sh"

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "1..0 # SKIP systemd-analyze not installed (apt-get install systemd)"
	exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/units-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
units="nvmf-tgtd.service nvmf-tgtd-setup.service"

# verify checks that ExecStart= binaries exist: point them at the build tree
# (a stand-in while the daemon is not built).
daemon=$top_builddir/daemon/nvmf-tgtd
[ -x "$daemon" ] || { daemon=/bin/true; diag "daemon/nvmf-tgtd not built: verified with /bin/true"; }
setup=$(cd "$top_builddir/tools" && pwd)/reactor-setup
[ -x "$setup" ] || { setup=/bin/true; diag "tools/reactor-setup not built: verified with /bin/true"; }
case $daemon in /*) ;; *) daemon=$(pwd)/$daemon ;; esac
mkdir "$tmp/units"
for u in $units; do
	sed -e "s|/usr/sbin/nvmf-tgtd |$daemon |" -e "s|/usr/sbin/reactor-setup |$setup |" \
		"$top_srcdir/packaging/systemd/$u" >"$tmp/units/$u"
done
# shellcheck disable=SC2317 # called through check
no_installed_paths() { ! grep -q '^ExecStart=/usr/sbin' "$tmp"/units/*.service; }
check "ExecStart= was rewritten in both units" no_installed_paths
# verify looks up Documentation=man: pages: give it this tree's pages.
for page in "$top_srcdir"/man/*.[1-8]; do
	sec=${page##*.}
	mkdir -p "$tmp/man/man$sec"
	ln -s "$(cd "$(dirname "$page")" && pwd)/$(basename "$page")" "$tmp/man/man$sec/"
done
for u in $units; do
	MANPATH=$tmp/man SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$tmp/units/$u" >"$tmp/verify.out" 2>&1
	vrc=$?
	if [ $vrc -eq 0 ] && [ ! -s "$tmp/verify.out" ]; then
		ok "systemd-analyze verify $u prints nothing"
	else
		not_ok "systemd-analyze verify $u prints nothing (exit $vrc)"
		diag_file "$tmp/verify.out"
	fi
done
if systemd-analyze security --offline=yes "$tmp/units/nvmf-tgtd.service" >"$tmp/security.out" 2>&1; then
	ok "systemd-analyze security --offline=yes nvmf-tgtd.service"
else
	not_ok "systemd-analyze security --offline=yes nvmf-tgtd.service"
	diag_file "$tmp/security.out"
fi
diag "$(grep 'Overall exposure level' "$tmp/security.out")"

# The properties the issue asks for, read back from the files.
d=$top_srcdir/packaging/systemd/nvmf-tgtd.service
s=$top_srcdir/packaging/systemd/nvmf-tgtd-setup.service
for kv in Type=oneshot RemainAfterExit=yes "ExecStart=/usr/sbin/reactor-setup apply" Before=nvmf-tgtd.service; do
	check "setup unit: $kv" grep -qx "$kv" "$s"
done
# shellcheck disable=SC2317 # called through check
no_stop() { ! grep -q '^ExecStop' "$s"; }
check "setup unit: no ExecStop (a restart keeps the devices bound)" no_stop
for kv in Type=notify Requires=nvmf-tgtd-setup.service "After=nvmf-tgtd-setup.service.*" \
	"ExecStart=/usr/sbin/nvmf-tgtd -c /etc/nvmf-tgtd/nvmf-tgtd.json -r /run/nvmf-tgtd/rpc.sock" \
	RuntimeDirectory=nvmf-tgtd LimitMEMLOCK=infinity ProtectSystem=strict ProtectHome=yes \
	NoNewPrivileges=yes PrivateTmp=yes "DeviceAllow=/dev/vfio/vfio rw"; do
	check "daemon unit: $kv" grep -qx "$kv" "$d"
done
done_testing
