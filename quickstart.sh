#!/bin/bash
# Set up a fresh Debian 12 machine and run libreactor's main job: build and
# install libreactor and the NVMe-over-Fabrics target nvmf-tgtd, then run the
# target in the foreground with the shipped config: a 64 MiB RAM namespace
# served over NVMe/TCP on 127.0.0.1:4420 (Ctrl-C stops it cleanly).
#
#   ./quickstart.sh [nvmf-tgtd options, e.g. -m 0x3 --log-level info]
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
	echo "libreactor and nvmf-tgtd installed under /usr/local (man nvmf-tgtd)"
	tgtd=/usr/local/sbin/nvmf-tgtd
	config=/usr/local/etc/nvmf-tgtd/nvmf-tgtd.json
	rpc=/run/nvmf-tgtd/rpc.sock
else
	# Without root: run from the build tree, with the RPC socket next to it.
	tgtd=./daemon/nvmf-tgtd
	config=$top/daemon/nvmf-tgtd.json
	rpc=$PWD/rpc.sock
fi
cat <<MSG
Starting nvmf-tgtd -c $config (Ctrl-C to stop). From this machine, connect with
(root; apt-get install nvme-cli, modprobe nvme-tcp):

  nvme connect -t tcp -a 127.0.0.1 -s 4420 -n nqn.2016-06.io.libreactor:cnode1

then 'nvme list' shows the 64 MiB namespace; 'nvme disconnect -n nqn.2016-06.io.libreactor:cnode1'
detaches it. Configure it at run time with reactorctl -s $rpc (e.g. nvmf_get_subsystems).
MSG
exec "$tgtd" -c "$config" -r "$rpc" "$@"
