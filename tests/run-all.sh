#!/bin/bash
# The whole test suite: what CI runs (.ci/run) and what the README names.
#
#   tests/run-all.sh [--quick]
#
# Builds out of tree under build/ (the source tree stays unconfigured):
#   build/gcc    -Werror build, unit tests, ABI check, exports check,
#                downstream pkg-config program, make distcheck
#   build/clang  -Werror build with clang (warnings-clean check)
#   build/asan   ASan+UBSan build, unit tests
#   build/tsan   TSan build, unit tests
# then runs the libFuzzer targets (RPC 60 s, PDU validator 30 s, target 60 s),
# builds and lints the Debian and RPM packages (tests/packaging/deb.sh into
# build/debs, rpm.sh) and runs the QEMU system tests
# (tests/system/run-all.sh; the test "packages" installs build/debs), which report
# themselves skipped, with the reason, where they cannot run.
# --quick skips the fuzzers, the sanitizer builds, distcheck, packages and system tests.
#
# Ends with one line: "N passed, N failed, N skipped".
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
quick=0
[ "${1:-}" = "--quick" ] && quick=1
jobs=$(nproc 2>/dev/null || echo 2)

passed=0 failed=0 skipped=0
failures=()
log() { printf '\n=== %s ===\n' "$*"; }
pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); failures+=("$1"); echo "FAIL: $1"; }
skip() { skipped=$((skipped + 1)); echo "SKIP: $1"; }

# Add the counts of an automake test-suite.log (one line per TAP test case).
add_suite() {
	local name=$1 suitelog=$2 p f s
	if [ ! -f "$suitelog" ]; then
		fail "$name: no test-suite.log"
		return
	fi
	p=$(awk '/^# PASS:/{print $3}' "$suitelog" | head -1)
	s=$(awk '/^# SKIP:/{print $3}' "$suitelog" | head -1)
	f=$(awk '/^# (FAIL|XPASS|ERROR):/{n+=$3} END{print n+0}' "$suitelog")
	passed=$((passed + ${p:-0})); skipped=$((skipped + ${s:-0})); failed=$((failed + f))
	echo "$name: ${p:-0} passed, $f failed, ${s:-0} skipped"
	if [ "$f" -gt 0 ]; then
		failures+=("$name ($f)")
		# Show the logs of what failed.
		grep -lE '^(not ok|ERROR|FAIL)' "$(dirname "$suitelog")"/tests/unit/*.log \
			"$(dirname "$suitelog")"/tests/abi/*.log 2>/dev/null | while read -r l; do
			echo "--- $l"; tail -40 "$l"; done
	fi
}

# Add the counts of a TAP script's output file: "ok", "not ok", "# SKIP"
# cases; a "1..0 # SKIP why" plan is one skip. $1 name, $2 output, $3 exit.
add_tap() {
	local name=$1 out=$2 rc=$3 p f s
	if grep -q '^1\.\.0 # SKIP' "$out"; then
		skip "$name: $(sed -n 's/^1\.\.0 # SKIP //p' "$out")"
		return
	fi
	s=$(grep -cE '^ok [0-9]+.*# SKIP' "$out")
	p=$(($(grep -cE '^ok [0-9]+' "$out") - s))
	f=$(grep -cE '^not ok [0-9]+' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # died without saying what
	passed=$((passed + p)); skipped=$((skipped + s)); failed=$((failed + f))
	echo "$name: $p passed, $f failed, $s skipped"
	[ "$f" -gt 0 ] && failures+=("$name ($f)")
	return 0
}

# configure+build one variant; $1 dir, rest: configure args.
build_variant() {
	local dir=$1; shift
	mkdir -p "build/$dir"
	( cd "build/$dir" && "$top/configure" -q "$@" >configure.out 2>&1 ) || {
		cat "build/$dir/configure.out"; return 1; }
	make -C "build/$dir" -j"$jobs" >"build/$dir/make.out" 2>&1 || {
		tail -60 "build/$dir/make.out"; return 1; }
}

log "dependencies"
tests/deps.sh || { fail "dependencies"; }

log "bootstrap"
if [ -f Makefile ]; then
	echo "the source tree is configured in place; run 'make distclean' first" >&2
	fail "bootstrap: in-tree configuration present"
fi
autoreconf -fi >build-autoreconf.log 2>&1 && rm -f build-autoreconf.log || {
	cat build-autoreconf.log; fail "autoreconf"; }

log "gcc -Werror build + unit tests"
if build_variant gcc --enable-werror; then
	pass "gcc -Werror build"
	make -C build/gcc -j"$jobs" check >build/gcc/check.out 2>&1
	add_suite "unit+abi tests (gcc)" build/gcc/test-suite.log
	if make -C build/gcc abi-check >build/gcc/abi-check.out 2>&1; then pass "make abi-check"
	else cat build/gcc/abi-check.out; fail "make abi-check"; fi
	if make -C build/gcc check-downstream >build/gcc/downstream.out 2>&1; then pass "downstream pkg-config program"
	else tail -30 build/gcc/downstream.out; fail "downstream pkg-config program"; fi
	if [ $quick -eq 0 ]; then
		if make -C build/gcc distcheck >build/gcc/distcheck.out 2>&1; then pass "make distcheck"
		else tail -60 build/gcc/distcheck.out; fail "make distcheck"; fi
	fi
else
	fail "gcc -Werror build"
fi

log "clang -Werror build"
if build_variant clang CC=clang --enable-werror; then pass "clang -Werror build"
else fail "clang -Werror build"; fi

if [ $quick -eq 0 ]; then
	# The libFuzzer targets: JSON-RPC parser, NVMe/TCP PDU validator, and the
	# whole target (PDU parsing and command dispatch on RAM namespaces).
	for f in "rpc 60 JSON-RPC" "nvme 30 NVMe/TCP PDU validator" "nvmf 60 nvmf-tgtd target"; do
		read -r name secs what <<<"$f"
		log "$what fuzzer (libFuzzer, $secs s)"
		if out=$(tests/fuzz/run-$name-fuzz.sh "$secs" 2>&1); then
			echo "$out"
			if grep -q '^ok 2 .*# SKIP' <<<"$out"; then
				skip "$name fuzzer: $(sed -n 's/^ok 2 .*# SKIP //p' <<<"$out")"
			else
				pass "$name fuzzer: $(sed -n 's/^# .* executions: //p' <<<"$out") executions, no crash"
			fi
		else
			echo "$out"; fail "$name fuzzer"
		fi
	done

	log "ASan+UBSan build + unit tests"
	if build_variant asan --enable-asan --enable-ubsan --enable-werror; then
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			make -C build/asan -j"$jobs" check >build/asan/check.out 2>&1
		add_suite "unit tests (ASan+UBSan)" build/asan/test-suite.log
	else
		fail "ASan+UBSan build"
	fi

	log "TSan build + unit tests"
	if build_variant tsan --enable-tsan --enable-werror; then
		TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
			make -C build/tsan -j"$jobs" check >build/tsan/check.out 2>&1
		add_suite "unit tests (TSan)" build/tsan/test-suite.log
	else
		fail "TSan build"
	fi

	# The .debs also feed the system test "packages" (SYSTEST_DEB_DIR; it
	# skips when the directory holds none); the nvmf-tgtd system tests stage
	# the daemon of build/gcc (SYSTEST_BUILD_DIR).
	log "Debian packages (tests/packaging/deb.sh)"
	rm -rf build/debs
	t0=$SECONDS
	tests/packaging/deb.sh "$top/build/debs" >build/deb.out 2>&1; rc=$?
	cat build/deb.out
	add_tap "Debian packages ($((SECONDS - t0)) s)" build/deb.out $rc

	log "RPM packages (tests/packaging/rpm.sh)"
	t0=$SECONDS
	tests/packaging/rpm.sh >build/rpm.out 2>&1; rc=$?
	cat build/rpm.out
	add_tap "RPM packages ($((SECONDS - t0)) s)" build/rpm.out $rc

	log "system tests (QEMU guest)"
	out=$(mktemp)
	SYSTEST_DEB_DIR=$top/build/debs SYSTEST_BUILD_DIR=$top/build/gcc \
		bash tests/system/run-all.sh 2>&1 | tee "$out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
	if [ -n "$line" ]; then
		read -r sp _ sf _ ss _ <<<"$(echo "$line" | tr -d ',')"
		passed=$((passed + sp)); failed=$((failed + sf)); skipped=$((skipped + ${ss:-0}))
		[ "$sf" -gt 0 ] && failures+=("system tests ($sf)")
	else
		fail "system tests: no summary line"
	fi
	rm -f "$out"
fi

echo
[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
