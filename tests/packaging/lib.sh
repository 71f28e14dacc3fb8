# shellcheck shell=bash
# SPDX-License-Identifier: BSD-3-Clause
# What tests/packaging/deb.sh and rpm.sh share; sourced, not run. TAP with
# the plan printed last (finish). The sourcing script sets work, its scratch
# directory, before it calls finish.

src=$(cd "$(dirname "$0")/../.." && pwd)
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
diag() { echo "# $*"; }
diag_tail() { tail -n "${2:-40}" "$1" | sed 's/^/#   /'; }
# shellcheck disable=SC2154 # work: set by the sourcing script
finish() {
	echo "1..$n"
	[ "$failed" -eq 0 ] || diag "$failed of $n failed (build directory kept: $work)"
	[ "$failed" -eq 0 ] && rm -rf "$work"
	exit $((failed > 0))
}

# require_tools TOOL...: skip the whole test unless every TOOL is installed.
require_tools() {
	local tool

	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "1..0 # SKIP $tool not installed (tests/deps.sh installs the packaging tools)"
			exit 0
		fi
	done
}

# copy_worktree DIR: copy the working tree's tracked and untracked, not
# ignored, files into DIR.
copy_worktree() {
	(cd "$src" && git ls-files -z -co --exclude-standard | rsync -a --from0 --files-from=- ./ "$1/")
}
