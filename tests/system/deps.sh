#!/bin/bash
# Install the host packages the QEMU system test bed needs (Debian 12, root).
#
# Usage: tests/system/deps.sh [--check]
#   --check   only report what is missing; exit 1 if anything is.
#
# Exit codes: 0 everything present (or installed), 1 missing and could not be
# installed (or --check found something missing), 77 not root (cannot install).
set -euo pipefail

# command -> Debian package providing it
declare -A PKG_OF=(
    [qemu-system-x86_64]=qemu-system-x86
    [qemu-img]=qemu-utils
    [debootstrap]=debootstrap
    [mkfs.ext4]=e2fsprogs
    [flock]=util-linux
    [sha256sum]=coreutils
    [timeout]=coreutils
)

find_missing() {
    local cmd
    missing_pkgs=()
    for cmd in "${!PKG_OF[@]}"; do
        if ! command -v "$cmd" >/dev/null 2>&1 && [[ ! -x /usr/sbin/$cmd && ! -x /sbin/$cmd ]]; then
            missing_pkgs+=("${PKG_OF[$cmd]}")
        fi
    done
    # qemu-system-x86 depends on seabios, but be explicit: -kernel boot needs it.
    [[ -e /usr/share/seabios/bios-256k.bin || -e /usr/share/qemu/bios-256k.bin ]] || missing_pkgs+=(seabios)
    return 0
}
find_missing

if ((${#missing_pkgs[@]} == 0)); then
    exit 0
fi
mapfile -t missing_pkgs < <(printf '%s\n' "${missing_pkgs[@]}" | sort -u)

if [[ ${1:-} == --check ]]; then
    echo "deps.sh: missing packages: ${missing_pkgs[*]}" >&2
    exit 1
fi
if ((EUID != 0)); then
    echo "deps.sh: missing packages (${missing_pkgs[*]}) and not root: cannot install" >&2
    exit 77
fi

echo "deps.sh: installing ${missing_pkgs[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt_install() {
    apt-get install -y -q --no-install-recommends "${missing_pkgs[@]}" >&2
}
if ! apt_install; then
    apt-get update -q >&2 || true
    if ! apt_install; then
        echo "deps.sh: apt-get install ${missing_pkgs[*]} failed" >&2
        exit 1
    fi
fi
find_missing
if ((${#missing_pkgs[@]} != 0)); then
    echo "deps.sh: still missing after install: ${missing_pkgs[*]}" >&2
    exit 1
fi
exit 0
