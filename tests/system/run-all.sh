#!/bin/bash
# Run the QEMU system tests (tests/system/tests/*.sh), each in a fresh guest.
#
# Usage: tests/system/run-all.sh [--list] [-h|--help] [TEST...]
#
#   TEST     a test name (smoke), file name (smoke.sh) or path; default: all
#   --list   print the tests and their runner options, run nothing
#
# Each test's runner options come from a header line in the test script:
#     # systest: --iommu on --nvme 1 --timeout 240
# (see run-guest.sh --help). SYSTEST_RUNNER_ARGS is appended to every test's
# options (e.g. SYSTEST_RUNNER_ARGS="--mem 4G").
#
# A test with the header line "# systest-needs: nvmf-tgtd" gets the daemon,
# libreactor.so and reactorctl from the configured build directory
# SYSTEST_BUILD_DIR (`make check-system` sets it to its own build), staged once
# per run by stage-daemon.sh and passed with --file; without SYSTEST_BUILD_DIR
# such tests are reported SKIP, a failed build or install fails them.
#
# A test with "# systest-needs: debs" gets the Debian packages with --file:
# those in SYSTEST_DEB_DIR (tests/run-all.sh builds them once), else built
# once per run from this source tree with tests/packaging/deb.sh (about 30 s).
# It is reported SKIP when they cannot be built here (no dpkg-buildpackage,
# not a git checkout with packaging/debian, e.g. a release tarball), FAIL when
# the build fails.
#
# Prints PASS/FAIL/SKIP per test with its time, the guest log tail for a
# failure, and ends with the line "N passed, N failed, N skipped". Every test
# is reported as SKIP, with the reason, when the bed cannot run here: not root,
# QEMU missing and not installable, no cached image and the Debian mirror not
# reachable, or SYSTEST_SKIP=1. A guest test may skip itself by exiting 77.
#
# Exit status: 0 when nothing failed (passes and skips only), 1 otherwise,
# 2 for a usage error (unknown test).
#
# Logs: ${SYSTEST_LOG_DIR:-/tmp/libreactor-systest-logs}/TESTNAME/
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOGROOT=${SYSTEST_LOG_DIR:-/tmp/libreactor-systest-logs}

list_only=0
selected=()
for arg in "$@"; do
    case $arg in
        --list) list_only=1 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "run-all: unknown option $arg (see --help)" >&2; exit 2 ;;
        *) selected+=("$arg") ;;
    esac
done

tests=()
if ((${#selected[@]} == 0)); then
    for t in "$HERE"/tests/*.sh; do
        [[ -f $t ]] && tests+=("$t")
    done
else
    for s in "${selected[@]}"; do
        if [[ -f $s ]]; then
            tests+=("$(cd "$(dirname "$s")" && pwd)/$(basename "$s")")
        elif [[ -f $HERE/tests/$s ]]; then
            tests+=("$HERE/tests/$s")
        elif [[ -f $HERE/tests/$s.sh ]]; then
            tests+=("$HERE/tests/$s.sh")
        else
            echo "run-all: no such test: $s (have: $(find "$HERE/tests" -maxdepth 1 -name '*.sh' -printf '%f ' | sed 's/\.sh / /g'))" >&2
            exit 2
        fi
    done
fi

test_name() { basename "$1" .sh; }
test_opts() { sed -n 's/^#[[:space:]]*systest:[[:space:]]*//p' "$1" | head -n1; }
test_needs() { sed -n 's/^#[[:space:]]*systest-needs:[[:space:]]*//p' "$1" | head -n1; }

if ((list_only)); then
    for t in "${tests[@]}"; do
        printf '%-20s %s%s\n' "$(test_name "$t")" "$(test_opts "$t")" \
            "$([[ -z $(test_needs "$t") ]] || echo " (needs $(test_needs "$t"))")"
    done
    exit 0
fi

passed=0 failed=0 skipped=0
summary() {
    echo "$passed passed, $failed failed, $skipped skipped"
}
skip_all() {
    local t
    for t in "${tests[@]}"; do
        printf 'SKIP  %-20s (%s)\n' "$(test_name "$t")" "$1"
        skipped=$((skipped + 1))
    done
    summary
    exit 0
}

if [[ ${SYSTEST_SKIP:-0} == 1 ]]; then
    skip_all "SYSTEST_SKIP=1"
fi
if ((EUID != 0)); then
    skip_all "not root: the QEMU system tests need root (image build, cache in /var/cache)"
fi
mkdir -p "$LOGROOT"
if ! "$HERE/deps.sh" >"$LOGROOT/deps.log" 2>&1; then
    cat "$LOGROOT/deps.log" >&2
    skip_all "qemu-system-x86_64/qemu-img/debootstrap missing and not installable (see deps.sh)"
fi
t0=$SECONDS
if "$HERE/build-image.sh" --check; then
    echo "image: cached, $("$HERE/build-image.sh" 2>/dev/null | tail -n1)"
else
    echo "image: not cached, building (about 1.5 min; log: $LOGROOT/build-image.log)"
    rc=0
    "$HERE/build-image.sh" >"$LOGROOT/build-image.log" 2>&1 || rc=$?
    if ((rc == 77)); then
        tail -n 5 "$LOGROOT/build-image.log"
        skip_all "guest image not cached and cannot be built: $(grep -h 'SKIP:' "$LOGROOT/build-image.log" | tail -n1 | sed 's/.*SKIP: //')"
    elif ((rc != 0)); then
        tail -n 40 "$LOGROOT/build-image.log"
        for t in "${tests[@]}"; do
            printf 'FAIL  %-20s (guest image build failed)\n' "$(test_name "$t")"
            failed=$((failed + 1))
        done
        summary
        exit 1
    fi
    echo "image: built in $((SECONDS - t0))s"
fi

interrupted() {
    echo "run-all: interrupted"
    summary
    exit 130
}
trap interrupted INT TERM HUP

# The daemon's build, staged on first use (stage-daemon.sh); stage_rc 0 ok,
# 77 no SYSTEST_BUILD_DIR, 1 failed; stage_why the reason.
stage_dir='' stage_rc='' stage_why=''
stage_daemon() {
    [[ -n $stage_rc ]] && return "$stage_rc"
    if [[ -z ${SYSTEST_BUILD_DIR:-} ]]; then
        stage_rc=77 stage_why="SYSTEST_BUILD_DIR not set: no nvmf-tgtd build to test"
        return "$stage_rc"
    fi
    stage_dir=$(mktemp -d "${TMPDIR:-/tmp}/libreactor-systest-stage.XXXXXX")
    trap 'rm -rf "$stage_dir" "$deb_tmp"' EXIT
    local t0=$SECONDS
    if "$HERE/stage-daemon.sh" "$SYSTEST_BUILD_DIR" "$stage_dir/nvmf-tgtd-stage" >"$LOGROOT/stage.log" 2>&1; then
        stage_rc=0
        echo "stage: $(tail -n1 "$LOGROOT/stage.log") in $((SECONDS - t0))s"
    else
        stage_rc=1 stage_why="staging nvmf-tgtd from $SYSTEST_BUILD_DIR failed: $(tail -n1 "$LOGROOT/stage.log")"
        tail -n 20 "$LOGROOT/stage.log" | sed 's/^/  | /'
    fi
    return "$stage_rc"
}

# The .debs, from SYSTEST_DEB_DIR or built on first use (deb.sh); deb_rc 0
# ok (deb_dir), 77 cannot be built here, 1 failed; deb_why the reason.
deb_dir='' deb_tmp='' deb_rc='' deb_why=''
stage_debs() {
    [[ -n $deb_rc ]] && return "$deb_rc"
    if [[ -n ${SYSTEST_DEB_DIR:-} ]]; then
        if compgen -G "$SYSTEST_DEB_DIR/*.deb" >/dev/null; then
            deb_rc=0 deb_dir=$SYSTEST_DEB_DIR
        else
            deb_rc=77 deb_why="no .deb in SYSTEST_DEB_DIR=$SYSTEST_DEB_DIR (tests/packaging/deb.sh DIR builds them)"
        fi
        return "$deb_rc"
    fi
    local src=$HERE/../.. t0=$SECONDS
    if [[ ! -f $src/tests/packaging/deb.sh || ! -d $src/packaging/debian ]]; then
        deb_rc=77 deb_why="no packaging/debian in this tree (a release tarball?): set SYSTEST_DEB_DIR to a directory of .debs"
        return "$deb_rc"
    fi
    deb_tmp=$(mktemp -d "${TMPDIR:-/tmp}/libreactor-systest-debs.XXXXXX")
    trap 'rm -rf "$stage_dir" "$deb_tmp"' EXIT
    local brc=0
    "$src/tests/packaging/deb.sh" "$deb_tmp/debs" >"$LOGROOT/debs.log" 2>&1 || brc=$?
    if grep -q '^1\.\.0 # SKIP' "$LOGROOT/debs.log"; then
        deb_rc=77 deb_why="cannot build the .debs here: $(sed -n 's/^1\.\.0 # SKIP //p' "$LOGROOT/debs.log")"
    elif compgen -G "$deb_tmp/debs/*.deb" >/dev/null; then
        # Lint failures are deb.sh's to report; the packages are still tested.
        deb_rc=0 deb_dir=$deb_tmp/debs
        echo "debs: built with tests/packaging/deb.sh in $((SECONDS - t0))s$( ((brc == 0)) || echo ", which reported failures (log: $LOGROOT/debs.log)")"
    else
        deb_rc=1 deb_why="building the .debs with tests/packaging/deb.sh failed (log: $LOGROOT/debs.log)"
        grep -E '^not ok|^#' "$LOGROOT/debs.log" | tail -n 20 | sed 's/^/  | /'
    fi
    return "$deb_rc"
}

for t in "${tests[@]}"; do
    name=$(test_name "$t")
    logdir=$LOGROOT/$name
    read -r -a opts <<<"$(test_opts "$t") ${SYSTEST_RUNNER_ARGS:-}"
    start=$SECONDS
    rc=0
    needs=$(test_needs "$t")
    if [[ $needs == debs ]]; then
        src=0
        stage_debs || src=$?
        if ((src != 0)); then
            printf '%s  %-20s %4ds (%s)\n' "$( ((src == 77)) && echo SKIP || echo FAIL)" "$name" 0 "$deb_why"
            if ((src == 77)); then skipped=$((skipped + 1)); else failed=$((failed + 1)); fi
            continue
        fi
        opts+=(--file "$deb_dir")
    elif [[ -n $needs ]]; then
        [[ $needs == nvmf-tgtd ]] || { echo "run-all: $name: unknown systest-needs '$needs'" >&2; exit 2; }
        src=0
        stage_daemon || src=$?
        if ((src == 77)); then
            printf 'SKIP  %-20s %4ds (%s)\n' "$name" 0 "$stage_why"
            skipped=$((skipped + 1))
            continue
        elif ((src != 0)); then
            printf 'FAIL  %-20s %4ds (%s)\n' "$name" 0 "$stage_why"
            failed=$((failed + 1))
            continue
        fi
        opts+=(--file "$stage_dir/nvmf-tgtd-stage")
    fi
    mkdir -p "$logdir"
    "$HERE/run-guest.sh" --quiet --log-dir "$logdir" "${opts[@]}" "$t" >"$LOGROOT/$name.runner.log" 2>&1 || rc=$?
    mv "$LOGROOT/$name.runner.log" "$logdir/runner.log"
    secs=$((SECONDS - start))
    case $rc in
        0)
            printf 'PASS  %-20s %4ds\n' "$name" "$secs"
            passed=$((passed + 1))
            continue
            ;;
        77)
            reason=$(grep -h '^SKIP:' "$logdir/guest.log" 2>/dev/null | tail -n1 | sed 's/^SKIP: *//' || true)
            [[ -n $reason ]] || reason=$(grep -h 'SKIP:' "$logdir/runner.log" | tail -n1 | sed 's/.*SKIP: *//' || true)
            printf 'SKIP  %-20s %4ds (%s)\n' "$name" "$secs" "${reason:-skipped}"
            skipped=$((skipped + 1))
            continue
            ;;
        130 | 143) interrupted ;;
        124) why="timeout: guest killed" ;;
        125) why="guest stopped without writing an exit code" ;;
        126) why="runner error" ;;
        *) why="exit $rc" ;;
    esac
    printf 'FAIL  %-20s %4ds (%s)\n' "$name" "$secs" "$why"
    failed=$((failed + 1))
    {
        echo "  --- runner ($logdir/runner.log) ---"
        tail -n 5 "$logdir/runner.log"
        if [[ -s $logdir/guest.log ]]; then
            echo "  --- guest log tail ($logdir/guest.log) ---"
            tail -n 40 "$logdir/guest.log"
        fi
        if ((rc >= 124 && rc <= 126)) || [[ ! -s $logdir/guest.log ]]; then
            echo "  --- console tail ($logdir/console.log) ---"
            tail -n 25 "$logdir/console.log" 2>/dev/null || true
        fi
        echo "  ---"
    } | sed 's/^/  | /'
done

echo "total $((SECONDS - t0))s, logs in $LOGROOT"
summary
((failed == 0))
