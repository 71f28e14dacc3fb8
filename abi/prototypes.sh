#!/bin/sh
# Print every exported prototype of the public headers, one per line, with
# whitespace normalised and sorted. `make abi-check` compares this with the
# committed abi/libreactor.prototypes: libabigail 2.2 does not see a change
# of a parameter's basic type (size_t -> int) when one side is an ABI XML
# file, so the prototypes are compared as text as well.
set -eu
dir=${1:-include/reactor}
for h in "$dir"/*.h; do
	awk '
		/REACTOR_EXPORT/ && !/#define/ { buf = ""; inside = 1 }
		inside { buf = buf " " $0 }
		inside && /;/ {
			sub(/;.*/, ";", buf)
			gsub(/[ \t]+/, " ", buf); sub(/^ /, "", buf)
			gsub(/\( /, "(", buf); gsub(/ \)/, ")", buf)
			print buf; inside = 0
		}' "$h"
done | LC_ALL=C sort
