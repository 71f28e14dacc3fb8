#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# The public API, the linker version script and the built library agree:
#   - every REACTOR_EXPORT function declared in include/reactor/*.h is in
#     lib/libreactor.map under LIBREACTOR_1.0, and every name there is declared;
#   - the library exports exactly those names, each as name@@LIBREACTOR_1.0,
#     and nothing else (no non-reactor_ symbol, no unversioned symbol);
#   - its SONAME is libreactor.so.1.
# TAP output. Uses $top_srcdir and $top_builddir (default: .).
set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
node=LIBREACTOR_1.0
map=$top_srcdir/lib/libreactor.map
lib=$top_builddir/lib/.libs/libreactor.so.1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-exports.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
# Print a file as TAP diagnostics.
diag() { sed 's/^/# /' "$1"; }
check() { # check DESCRIPTION FILE-OF-PROBLEMS
	if [ -s "$2" ]; then
		not_ok "$1"
		diag "$2"
	else
		ok "$1"
	fi
}

echo "1..9"

# ---- 1. the headers' REACTOR_EXPORT functions ------------------------------
# Comments and preprocessor lines (with continuations) removed, then every
# "REACTOR_EXPORT ... name(" is reduced to its name.
: >"$tmp/headers"
for h in "$top_srcdir"/include/reactor/*.h "$top_srcdir"/include/reactor.h; do
	[ -f "$h" ] || continue
	perl -0777 -ne '
		s{/\*.*?\*/}{ }gs;            # block comments
		s{//[^\n]*}{}g;               # line comments
		s{^[ \t]*#(?:[^\n]*\\\n)*[^\n]*}{}mg; # preprocessor lines
		while (/\bREACTOR_EXPORT\b([^;{]*?)\b([A-Za-z_][A-Za-z0-9_]*)\s*\(/gs) {
			print "$2\n";
		}' "$h" >>"$tmp/headers"
done
sort -u "$tmp/headers" -o "$tmp/headers"
if [ -s "$tmp/headers" ]; then
	ok "headers declare $(wc -l <"$tmp/headers") REACTOR_EXPORT functions"
else
	not_ok "no REACTOR_EXPORT function found in $top_srcdir/include/reactor/*.h"
fi

# ---- 2-3. the version script ------------------------------------------------
# Names listed in the global: part of the LIBREACTOR_1.0 node.
if [ -f "$map" ]; then
	perl -0777 -ne '
		s{/\*.*?\*/}{ }gs;
		s{#[^\n]*}{}g;
		if (/\b'"$node"'\s*\{(.*?)\}\s*[A-Za-z0-9_.]*\s*;/s) {
			my $body = $1;
			$body =~ s/\blocal\s*:.*//s;
			$body =~ s/\bglobal\s*:\s*//;
			for (split /;/, $body) { s/^\s+|\s+$//g; print "$_\n" if length; }
		}' "$map" | sort -u >"$tmp/map"
else
	: >"$tmp/map"
fi
comm -23 "$tmp/headers" "$tmp/map" >"$tmp/missing-in-map"
check "every exported function is in $node of lib/libreactor.map" "$tmp/missing-in-map"
comm -13 "$tmp/headers" "$tmp/map" >"$tmp/undeclared"
check "every name in $node of lib/libreactor.map is declared REACTOR_EXPORT in a header" "$tmp/undeclared"

# ---- 4. the map hides everything else ---------------------------------------
if [ -f "$map" ] && perl -0777 -ne 's{/\*.*?\*/}{ }gs; exit(/\blocal\s*:\s*\*\s*;/ ? 0 : 1)' "$map"; then
	ok "lib/libreactor.map ends its node with local: *;"
else
	not_ok "lib/libreactor.map has no 'local: *;' (unlisted symbols would leak)"
fi

# ---- 5-9. the built library -------------------------------------------------
if [ ! -f "$lib" ]; then
	for d in "library exports exactly the map's names" "exports are versioned @@$node" \
		"no non-reactor_ symbol exported" "no unversioned export" "SONAME is libreactor.so.1"; do
		not_ok "$d ($lib not built)"
	done
	echo "# $failed of $n failed"
	exit 1
fi

# Defined dynamic symbols: "name@@version" or "name" (readelf --dyn-syms).
# The version definition itself (ABS LIBREACTOR_1.0) is not a symbol.
readelf --dyn-syms -W "$lib" | awk '
	NF >= 8 && $1 ~ /^[0-9]+:$/ && $7 != "UND" {
		if ($7 == "ABS" && $8 ~ /^LIBREACTOR_[0-9.]+$/) next
		print $8
	}' | sort -u >"$tmp/dynsyms"
sed 's/@.*//' "$tmp/dynsyms" | sort -u >"$tmp/exported"

{
	comm -23 "$tmp/map" "$tmp/exported" | sed 's/^/missing from the library: /'
	comm -13 "$tmp/map" "$tmp/exported" | sed 's/^/exported but not in the map: /'
} >"$tmp/set-diff"
check "library exports exactly the map's names ($(wc -l <"$tmp/exported") symbols)" "$tmp/set-diff"

grep -v "@@$node\$" "$tmp/dynsyms" >"$tmp/badversion" || true
check "every export is versioned @@$node" "$tmp/badversion"

grep -v '^reactor_' "$tmp/exported" >"$tmp/foreign" || true
check "no non-reactor_ symbol is exported" "$tmp/foreign"

# objdump's view: defined symbols must carry the node in its version column.
objdump -T "$lib" | awk -v node="$node" '
	$0 ~ /^[0-9a-f]+ / && $0 !~ /\*UND\*/ {
		name = $NF; ver = $(NF-1)
		if (name == node) next
		if (ver != node) print name " has version " ver
	}' >"$tmp/objdump-bad"
check "objdump -T: no unversioned or other-version export" "$tmp/objdump-bad"

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [ "$soname" = "libreactor.so.1" ]; then
	ok "SONAME is libreactor.so.1"
else
	not_ok "SONAME is '$soname', want libreactor.so.1"
fi

[ "$failed" -eq 0 ]
