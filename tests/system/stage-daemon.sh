#!/bin/bash
# Stage nvmf-tgtd, libreactor.so and reactorctl from a configured build
# directory into a directory the guest gets with --file (run-all.sh does this
# for tests with the header line "# systest-needs: nvmf-tgtd").
#
# Usage: tests/system/stage-daemon.sh BUILD_DIR DEST_DIR
#
# Builds what is missing (make all, make daemon/nvmf-tgtd), installs with
# `make install DESTDIR=DEST_DIR/root` and, while nvmf-tgtd is still an
# EXTRA_PROGRAMS, installs it into sbindir with libtool. The guest is Debian
# 12 like the host, so these binaries run there with the libraries from
# image/packages.txt; lib/nvmf-tgtd.sh sets PATH and LD_LIBRARY_PATH. A plain
# or an ASan/UBSan (gcc) build: the guest has libasan8 and libubsan1, not TSan.
#
# Exit status: 0 staged, 1 build or install failed, 2 usage error.
set -euo pipefail

die() { echo "stage-daemon: $*" >&2; exit 1; }
(($# == 2)) || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
build=$(cd "$1" 2>/dev/null && pwd) || { echo "stage-daemon: no build directory $1" >&2; exit 2; }
dest=$2
[[ -f $build/Makefile && -x $build/libtool ]] || {
    echo "stage-daemon: $build is not a configured build directory (no Makefile/libtool)" >&2
    exit 2
}

jobs=${SYSTEST_MAKE_JOBS:-2}
rm -rf "$dest"
mkdir -p "$dest/root"
dest=$(cd "$dest" && pwd)
log=$dest/stage.log

make -C "$build" -j"$jobs" all >"$log" 2>&1 || { tail -n 30 "$log" >&2; die "make all failed in $build"; }
make -C "$build" -j"$jobs" daemon/nvmf-tgtd >>"$log" 2>&1 ||
    { tail -n 30 "$log" >&2; die "make daemon/nvmf-tgtd failed in $build (is the daemon complete?)"; }
make -C "$build" install DESTDIR="$dest/root" >>"$log" 2>&1 ||
    { tail -n 30 "$log" >&2; die "make install DESTDIR=$dest/root failed"; }

# Where the build installs programs (prefix from configure).
prefix=$(sed -n 's/^prefix = //p' "$build/Makefile")
exec_prefix=$(sed -n 's/^exec_prefix = //p' "$build/Makefile")
sbindir=$(sed -n 's/^sbindir = //p' "$build/Makefile")
# Make's ${var} references, substituted literally.
# shellcheck disable=SC2016
exec_prefix=${exec_prefix//'${prefix}'/$prefix}
# shellcheck disable=SC2016
sbindir=${sbindir//'${exec_prefix}'/$exec_prefix}
# shellcheck disable=SC2016
sbindir=${sbindir//'${prefix}'/$prefix}
[[ $sbindir == /* ]] || die "cannot work out sbindir from $build/Makefile (got '$sbindir')"
if [[ ! -e $dest/root$sbindir/nvmf-tgtd ]]; then
    mkdir -p "$dest/root$sbindir"
    "$build/libtool" --mode=install install -c "$build/daemon/nvmf-tgtd" \
        "$dest/root$sbindir/nvmf-tgtd" >>"$log" 2>&1 || die "libtool install of daemon/nvmf-tgtd failed (see $log)"
fi

for f in nvmf-tgtd reactorctl libreactor.so.1; do
    [[ -n $(find "$dest/root" -name "$f" \( -type f -o -type l \) -print -quit) ]] || die "$f missing after install"
done
[[ $(head -c 4 "$dest/root$sbindir/nvmf-tgtd" | tail -c 3) == ELF ]] || die "staged nvmf-tgtd is not an ELF binary"
if ldd "$dest/root$sbindir/nvmf-tgtd" 2>/dev/null | grep -q 'libtsan'; then
    die "$build is a TSan build; the guest has the ASan and UBSan runtimes only"
fi
echo "staged $(du -sh "$dest/root" | cut -f1) from $build into $dest/root (sbindir $sbindir)"
