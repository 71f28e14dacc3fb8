#!/bin/bash
# Set up a fresh Debian 12 machine and run libreactor's main job: build and
# install the library, then run the example app (reactors on every allowed
# core passing an event around; Ctrl-C shuts it down cleanly).
#
#   ./quickstart.sh [hello_reactor options, e.g. -m 0x3 -t 5]
set -euo pipefail
top=$(cd "$(dirname "$0")" && pwd)
cd "$top"
tests/deps.sh
[ -x configure ] || autoreconf -fi
mkdir -p build/quickstart
cd build/quickstart
[ -f Makefile ] || "$top/configure" -q --prefix=/usr/local
make -j"$(nproc)" >/dev/null
if [ "$(id -u)" -eq 0 ]; then
	make install >/dev/null
	ldconfig
	echo "libreactor installed under /usr/local (pkg-config --cflags --libs libreactor)"
fi
echo "running examples/hello_reactor $* (Ctrl-C to stop)"
exec ./examples/hello_reactor "$@"
