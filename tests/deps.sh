#!/bin/bash
# Install the Debian 12 packages needed to build libreactor and run its
# tests. Safe to run again: apt-get skips what is installed.
set -euo pipefail
PKGS=(build-essential autoconf automake libtool pkg-config clang libclang-rt-14-dev
      libcmocka-dev libjansson-dev liburing-dev libaio-dev libisal-dev libsystemd-dev abigail-tools binutils rsync jq
      tshark
      systemd shellcheck debhelper lintian rpm)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing packages: ${missing[*]} (run as root to install them)" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# tshark's wireshark-common asks whether non-root users may capture: no.
	echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
