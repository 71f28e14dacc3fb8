#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Builds the Debian packages (dpkg-buildpackage -us -uc -b) from a copy of
# the source tree, never in it, and lints them (lintian --fail-on
# error,warning). TAP.
#
#   tests/packaging/deb.sh [OUTDIR]
#
# The copy is the working tree's tracked and untracked, not ignored, files
# (DEB_SOURCE=worktree, the default) or a committed tree (DEB_SOURCE=HEAD or
# any git revision), with packaging/debian moved to debian/. The built
# .deb files are copied to OUTDIR when given. The package's own tests are
# skipped (DEB_BUILD_OPTIONS=nocheck) unless DEB_CHECK=1: make check runs
# elsewhere. Needs debhelper, lintian and the Build-Depends
# (tests/deps.sh installs them).
set -u
# shellcheck source=tests/packaging/lib.sh
. "$(dirname "$0")/lib.sh"
out=${1:-}
require_tools dpkg-buildpackage dh lintian git
work=$(mktemp -d "${TMPDIR:-/tmp}/deb-build.XXXXXX")
tree=$work/libreactor-1.0.0
mkdir "$tree"

rev=${DEB_SOURCE:-worktree}
if [ "$rev" = worktree ]; then
	copy_worktree "$tree"
else
	git -C "$src" archive "$rev" | tar -x -C "$tree"
fi
if [ ! -d "$tree/packaging/debian" ]; then
	not_ok "packaging/debian is in the copied tree ($rev)"
	finish
fi
mv "$tree/packaging/debian" "$tree/debian"
diag "building in $tree from $rev"

if ! (cd "$tree" && dpkg-checkbuilddeps) >"$work/builddeps.log" 2>&1; then
	not_ok "build dependencies are installed"
	diag_tail "$work/builddeps.log"
	finish
fi
opts="parallel=2"
[ "${DEB_CHECK:-0}" = 1 ] || opts="$opts nocheck"
start=$(date +%s)
if (cd "$tree" && DEB_BUILD_OPTIONS="$opts" dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b ($(($(date +%s) - start)) s, DEB_BUILD_OPTIONS=$opts)"
else
	not_ok "dpkg-buildpackage -us -uc -b (log: $work/build.log)"
	diag_tail "$work/build.log"
	finish
fi

for pkg in libreactor1 libreactor-dev nvmf-tgtd; do
	deb=$(ls "$work"/${pkg}_*.deb 2>/dev/null)
	if [ -n "$deb" ]; then ok "$pkg was built"; else not_ok "$pkg was built"; fi
done
# What each package holds, checked against what it must hold.
contents() { dpkg-deb -c "$work"/"$1"_*.deb | awk '{print $6}' | sed 's|^\./|/|'; }
expect_file() {
	if contents "$1" | grep -Eq "^$2\$"; then ok "$1 holds $2"; else not_ok "$1 holds $2"; fi
}
expect_file libreactor1 '/usr/lib/[^/]+/libreactor\.so\.1\.[0-9.]+'
expect_file libreactor-dev '/usr/include/reactor\.h'
expect_file libreactor-dev '/usr/lib/[^/]+/pkgconfig/libreactor\.pc'
expect_file libreactor-dev '/usr/share/man/man3/reactor_app_start\.3\.gz'
for f in /usr/sbin/nvmf-tgtd /usr/sbin/reactor-setup /usr/bin/reactorctl \
	/etc/nvmf-tgtd/nvmf-tgtd.json /etc/nvmf-tgtd/setup.conf \
	'(/usr)?/lib/systemd/system/nvmf-tgtd\.service' '(/usr)?/lib/systemd/system/nvmf-tgtd-setup\.service' \
	/usr/share/man/man8/nvmf-tgtd.8.gz /usr/share/man/man8/reactor-setup.8.gz \
	/usr/share/man/man5/nvmf-tgtd.json.5.gz; do
	expect_file nvmf-tgtd "$f"
done
conffiles=$(dpkg-deb -I "$work"/nvmf-tgtd_*.deb conffiles 2>/dev/null)
if grep -qx /etc/nvmf-tgtd/setup.conf <<<"$conffiles" && grep -qx /etc/nvmf-tgtd/nvmf-tgtd.json <<<"$conffiles"; then
	ok "the default configurations are conffiles"
else
	not_ok "the default configurations are conffiles"
	diag "conffiles: $conffiles"
fi
postinst=$(dpkg-deb -I "$work"/nvmf-tgtd_*.deb postinst 2>/dev/null)
if grep -q 'deb-systemd-helper.*nvmf-tgtd.service' <<<"$postinst" && grep -q 'nvmf-tgtd-setup.service' <<<"$postinst"; then
	ok "postinst enables both units (dh_installsystemd)"
else
	not_ok "postinst enables both units (dh_installsystemd)"
fi
symbols=$(dpkg-deb -I "$work"/libreactor1_*.deb symbols 2>/dev/null | grep -c '@LIBREACTOR_')
mapped=$(sed -n '/global:/,/local:/p' "$src/lib/libreactor.map" | grep -c '^[[:space:]]*reactor_[a-z0-9_]*;')
if [ "$symbols" -eq $((mapped + 1)) ]; then
	ok "the symbols file lists each of the $mapped exported symbols (and the version node)"
else
	not_ok "the symbols file lists each of the $mapped exported symbols: it has $symbols entries"
fi

start=$(date +%s)
changes=$(ls "$work"/*.changes)
if lintian --fail-on error,warning --display-info "$changes" >"$work/lintian.log" 2>&1; then
	ok "lintian --fail-on error,warning ($(($(date +%s) - start)) s)"
else
	not_ok "lintian --fail-on error,warning"
fi
[ -s "$work/lintian.log" ] && diag_tail "$work/lintian.log" 60

if [ -n "$out" ]; then
	mkdir -p "$out" && cp "$work"/*.deb "$out"/ && diag "packages copied to $out"
fi
finish
