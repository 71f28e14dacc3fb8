#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Builds the RPM packages (packaging/rpm/libreactor.spec) from a release
# tarball made with make dist from a copy of the tree, and checks what each
# package holds and its scriptlets. TAP.
#
#   tests/packaging/rpm.sh [TARBALL]
#
# Debian's rpm lacks Fedora's systemd and ldconfig macros and checks build
# dependencies against an empty database: this runs rpmbuild -ba --nodeps and
# loads tests/packaging/rpm-fallback.macros where the macros are missing, so
# the spec stays as Fedora wants it. The spec's %check is skipped
# (--without check) unless RPM_CHECK=1.
set -u
# shellcheck source=tests/packaging/lib.sh
. "$(dirname "$0")/lib.sh"
tarball=${1:-}
require_tools rpmbuild rpm git
work=$(mktemp -d "${TMPDIR:-/tmp}/rpm-build.XXXXXX")
top=$work/rpmbuild
mkdir -p "$top/SOURCES"

if [ -z "$tarball" ]; then
	start=$(date +%s)
	mkdir "$work/src" "$work/build"
	copy_worktree "$work/src"
	if (cd "$work/src" && ./autogen.sh && cd "$work/build" && "$work/src/configure" -q &&
		make dist) >"$work/dist.log" 2>&1; then
		tarball=$(ls "$work"/build/libreactor-*.tar.gz)
		ok "make dist from a copy of the tree ($(($(date +%s) - start)) s)"
	else
		not_ok "make dist from a copy of the tree"
		diag_tail "$work/dist.log"
		finish
	fi
fi
cp "$tarball" "$top/SOURCES/"
spec=$work/libreactor.spec
if tar -xOzf "$tarball" --wildcards '*/packaging/rpm/libreactor.spec' >"$spec" 2>/dev/null && [ -s "$spec" ]; then
	ok "the tarball carries packaging/rpm/libreactor.spec"
else
	not_ok "the tarball carries packaging/rpm/libreactor.spec"
	finish
fi

args=(-ba --nodeps --define "_topdir $top")
if [ -z "$(rpm --eval '%{?systemd_post:1}')" ]; then
	args+=(--load "$src/tests/packaging/rpm-fallback.macros")
	diag "this rpm lacks the systemd macros: loading tests/packaging/rpm-fallback.macros"
fi
[ "${RPM_CHECK:-0}" = 1 ] || args+=(--without check)
start=$(date +%s)
if rpmbuild "${args[@]}" "$spec" >"$work/rpmbuild.log" 2>&1; then
	ok "rpmbuild ${args[*]} ($(($(date +%s) - start)) s)"
else
	not_ok "rpmbuild ${args[*]} (log: $work/rpmbuild.log)"
	diag_tail "$work/rpmbuild.log"
	finish
fi

rpmfile() { find "$top/RPMS" -name "$1-[0-9]*.rpm" | head -n 1; }
for pkg in libreactor libreactor-devel nvmf-tgtd; do
	if [ -n "$(rpmfile "$pkg")" ]; then ok "$pkg was built"; else not_ok "$pkg was built"; fi
done
if ls "$top"/SRPMS/libreactor-*.src.rpm >/dev/null 2>&1; then ok "the source package was built"; else not_ok "the source package was built"; fi

# expect_files PACKAGE REGEX...: each REGEX matches a file of the package,
# and every file of the package matches one of them (nothing unexpected).
expect_files() {
	local pkg=$1 re list missing=0 extra
	shift
	list=$(rpm -qlp "$(rpmfile "$pkg")" 2>/dev/null)
	for re in "$@"; do
		grep -Eq "^($re)\$" <<<"$list" || { diag "$pkg lacks $re"; missing=1; }
	done
	# Debug-info links (.build-id) are rpm's own, in every package.
	extra=$(grep -Ev "^($(IFS='|'; echo "$*")|/usr/lib/\.build-id(/.*)?)\$" <<<"$list")
	[ -z "$extra" ] || diag "$pkg holds unexpected files: $(tr '\n' ' ' <<<"$extra")"
	if [ $missing -eq 0 ] && [ -z "$extra" ]; then
		ok "$pkg holds exactly what it should ($(wc -l <<<"$list") files)"
	else
		not_ok "$pkg holds exactly what it should"
	fi
}
man='(\.gz|\.bz2|\.xz|\.zst)?'
expect_files libreactor '/usr/lib(64)?/libreactor\.so\.1' '/usr/lib(64)?/libreactor\.so\.1\.[0-9.]+' \
	'/usr/share/licenses/libreactor(-[0-9.]+)?(/LICENSE)?' '/usr/share/doc/libreactor(-[0-9.]+)?(/README\.md)?'
expect_files libreactor-devel '/usr/include/reactor\.h' '/usr/include/reactor(/[a-z_]+\.h)?' \
	'/usr/lib(64)?/libreactor\.so' '/usr/lib(64)?/pkgconfig/libreactor\.pc' \
	"/usr/share/man/man3/reactor_[a-z_]+\\.3$man" "/usr/share/man/man7/libreactor\\.7$man"
expect_files nvmf-tgtd /usr/sbin/nvmf-tgtd /usr/sbin/reactor-setup /usr/bin/reactorctl /usr/bin/nvmf-perf \
	'/usr/lib/systemd/system/nvmf-tgtd\.service' '/usr/lib/systemd/system/nvmf-tgtd-setup\.service' \
	/etc/nvmf-tgtd '/etc/nvmf-tgtd/nvmf-tgtd\.json' '/etc/nvmf-tgtd/setup\.conf' \
	"/usr/share/man/man1/(reactorctl|nvmf-perf)\\.1$man" "/usr/share/man/man5/nvmf-tgtd\\.json\\.5$man" \
	"/usr/share/man/man8/(nvmf-tgtd|nvmf-tgtd-setup\\.service|reactor-setup)\\.8$man" \
	'/usr/share/licenses/nvmf-tgtd(-[0-9.]+)?(/LICENSE)?'
devel_files=$(rpm -qlp "$(rpmfile libreactor-devel)")
undocumented=()
for sym in $(sed -n '/global:/,/local:/p' "$src/lib/libreactor.map" | grep -o '^[[:space:]]*reactor_[a-z0-9_]*;' | tr -d ' \t;'); do
	grep -Eq "/man3/$sym\.3$man\$" <<<"$devel_files" || undocumented+=("$sym")
done
if [ ${#undocumented[@]} -eq 0 ]; then
	ok "libreactor-devel has a section 3 page for every exported function"
else
	not_ok "libreactor-devel has a section 3 page for every exported function (missing: ${undocumented[*]})"
fi

config=$(rpm -qcp "$(rpmfile nvmf-tgtd)")
if grep -qx /etc/nvmf-tgtd/setup.conf <<<"$config" && grep -qx /etc/nvmf-tgtd/nvmf-tgtd.json <<<"$config"; then
	ok "the default configurations are %config files"
else
	not_ok "the default configurations are %config files"
fi
# Fedora's macros call systemctl or systemd-update-helper: look for the units.
scripts=$(rpm -qp --scripts "$(rpmfile nvmf-tgtd)")
section() { sed -n "/^$1 scriptlet/,/^[a-z]* scriptlet/p" <<<"$scripts"; }
check_script() {
	if section "$1" | grep -Eq -- "$2"; then ok "nvmf-tgtd $1: $3"; else not_ok "nvmf-tgtd $1: $3"; fi
}
check_script postinstall 'nvmf-tgtd-setup\.service nvmf-tgtd\.service' "both units enabled by preset"
check_script preuninstall 'nvmf-tgtd\.service nvmf-tgtd-setup\.service' "both units disabled and stopped on removal"
check_script postuninstall 'restart.* nvmf-tgtd\.service' "the daemon restarted after an upgrade"
if section postuninstall | grep -q 'restart.*setup'; then
	not_ok "nvmf-tgtd postuninstall: the setup unit is not restarted (it has no stop action)"
else
	ok "nvmf-tgtd postuninstall: the setup unit is not restarted (it has no stop action)"
fi
if rpm -qp --scripts "$(rpmfile libreactor)" | grep -q ldconfig; then
	ok "libreactor runs ldconfig"
else
	not_ok "libreactor runs ldconfig"
fi
finish
