#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Build a downstream program against an *installed* libreactor, the way a
# user would: `make install DESTDIR=...`, then compile downstream.c with
# nothing but `pkg-config --cflags --libs libreactor` (sysroot = DESTDIR),
# and run it against the installed shared library, checking that it really
# loaded that copy.
#
#   tests/downstream/run.sh            (from the build directory; or `make check-downstream`)
#
# Env: top_srcdir (default: this script's ../..), top_builddir (default: .),
# CC (default: cc), MAKE (default: make), KEEP=1 keeps the temporary tree.
# Exit status: 0 when everything passed; 1 otherwise.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/../..}
top_builddir=${top_builddir:-.}
CC=${CC:-cc}
MAKE=${MAKE:-make}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/reactor-downstream.XXXXXX") || exit 1
root=$tmp/root
if [ "${KEEP:-0}" = 1 ]; then
	echo "keeping $tmp"
else
	trap 'rm -rf "$tmp"' EXIT INT TERM
fi

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
step() { echo "--- $*"; }

step "make install DESTDIR=$root"
"$MAKE" -C "$top_builddir" install DESTDIR="$root" >"$tmp/install.log" 2>&1 || {
	tail -40 "$tmp/install.log" >&2
	fail "make install failed"
}

pc=$(find "$root" -name libreactor.pc -print | head -1)
[ -n "$pc" ] || fail "no libreactor.pc installed under $root"
pcdir=$(dirname "$pc")
echo "installed $pc"

# The installed copy first, then the system's .pc files for libreactor's own
# dependencies (Requires: jansson); PKG_CONFIG_LIBDIR replaces the default path.
syspc=$(pkg-config --variable pc_path pkg-config 2>/dev/null || true)
pkgconf() {
	PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_LIBDIR="$pcdir${syspc:+:$syspc}" PKG_CONFIG_SYSROOT_DIR="$root" \
		PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1 pkg-config "$@"
}
pkgconf --exists libreactor || fail "pkg-config does not find libreactor in $pcdir"
version=$(pkgconf --modversion libreactor)
cflags=$(pkgconf --cflags libreactor) || fail "pkg-config --cflags failed"
libs=$(pkgconf --libs libreactor) || fail "pkg-config --libs failed"
# libdir without the sysroot, as the .pc file says (e.g. /usr/local/lib)
libdir=$(PKG_CONFIG_LIBDIR="$pcdir${syspc:+:$syspc}" pkg-config --variable=libdir libreactor)
echo "libreactor $version: cflags '$cflags', libs '$libs', libdir $libdir"

# The flags must point into DESTDIR (sysroot applied), nowhere else.
for f in $cflags; do
	case $f in
	-I"$root"/*) ;;
	-I*) fail "pkg-config --cflags gives $f, outside $root" ;;
	esac
done
case " $libs " in
*" -L$root"/*) ;;
*) fail "pkg-config --libs gives no -L into $root: '$libs'" ;;
esac
case " $libs " in *" -lreactor "*) ;; *) fail "pkg-config --libs lacks -lreactor: '$libs'" ;; esac
[ -f "$root$libdir/libreactor.so.1" ] || fail "$root$libdir/libreactor.so.1 not installed"
found_header=no
for f in $cflags; do
	case $f in -I*) [ -f "${f#-I}/reactor.h" ] && found_header=yes ;; esac
done
[ $found_header = yes ] || fail "reactor.h not installed where --cflags points"

step "compile downstream.c with pkg-config's flags only"
# shellcheck disable=SC2086
"$CC" -std=gnu11 -Wall -Wextra -Werror -o "$tmp/downstream" "$top_srcdir/tests/downstream/downstream.c" \
	$cflags $libs >"$tmp/cc.log" 2>&1 || {
	cat "$tmp/cc.log" >&2
	fail "downstream.c does not build against the installed library"
}

step "check which libreactor it resolves to"
resolved=$(LD_LIBRARY_PATH="$root$libdir" ldd "$tmp/downstream" | awk '/libreactor\.so/ {print $3}')
echo "ldd: libreactor -> $resolved"
case $resolved in
"$root$libdir"/libreactor.so*) ;;
*) fail "ldd resolves libreactor to '$resolved', not into $root$libdir" ;;
esac

step "run it"
LD_LIBRARY_PATH="$root$libdir" "$tmp/downstream" "$root$libdir"
rc=$?
[ $rc -eq 0 ] || fail "downstream exited with $rc (1 app, 2 version, 3 wrong library, 4 event/message, 5 timeout)"

echo "PASS: downstream program built with pkg-config against the installed libreactor $version"
exit 0
