#!/bin/bash
# Guest helpers for tests of nvmf-tgtd: install the build staged by
# stage-daemon.sh (run-all.sh passes it with --file for tests whose header
# has "# systest-needs: nvmf-tgtd"), start the daemon with a JSON config,
# call its RPC methods with reactorctl, stop it with SIGTERM within a bound.
#
#     . "$SYSTEST_LIB/common.sh"
#     . "$SYSTEST_LIB/nvmf-tgtd.sh"
#     tgtd_install
#     tgtd_start CONFIG.json     # waits for the RPC socket and the TCP listener
#     tgtd_rpc METHOD NAME=VALUE ...
#     tgtd_stop                  # SIGTERM, exit status 0 within TGTD_STOP_SECS
#
# Each run's output goes to $SYSTEST_OUT/nvmf-tgtd.N.log (kept on the host).

# shellcheck disable=SC2034
TGTD_ROOT=/opt/nvmf-tgtd       # the staged install tree, copied off the 9p share
TGTD_SOCK=/run/nvmf-tgtd/rpc.sock
: "${TGTD_STOP_SECS:=20}" "${TGTD_START_SECS:=60}"
TGTD_ARGS=()                   # extra daemon options
TGTD_PID=''
TGTD_LOG=''
TGTD_RUNS=0

tgtd_install() {
    step "nvmf-tgtd: install the staged build"
    local bin root libdir ctl missing
    bin=$(find "${SYSTEST_FILES:-/nonexistent}" -path '*/sbin/nvmf-tgtd' -type f -print -quit 2>/dev/null)
    [[ -n $bin ]] || skip "nvmf-tgtd is not staged: run through run-all.sh with SYSTEST_BUILD_DIR set, or stage-daemon.sh + run-guest.sh --file"
    root=${bin%%/root/*}/root
    [[ -d $root ]] || fail "staged tree $root missing (stage-daemon.sh layout: DEST/root/PREFIX/...)"
    rm -rf "$TGTD_ROOT"
    run cp -a "$root" "$TGTD_ROOT"
    bin=$(find "$TGTD_ROOT" -path '*/sbin/nvmf-tgtd' -type f -print -quit)
    libdir=$(dirname "$(find "$TGTD_ROOT" -name 'libreactor.so.1' -print -quit)")
    ctl=$(find "$TGTD_ROOT" -path '*/bin/reactorctl' -type f -print -quit)
    [[ -n $ctl && -n $libdir ]] || fail "reactorctl or libreactor.so.1 missing from the staged tree"
    PATH=$(dirname "$bin"):$(dirname "$ctl"):$PATH
    export LD_LIBRARY_PATH=$libdir
    step "nvmf-tgtd: libraries (ldd), version"
    missing=$(ldd "$bin" "$ctl" 2>&1 | grep 'not found' | sort -u || true)
    [[ -z $missing ]] || fail "libraries missing in the guest (add their packages to image/packages.txt): $missing"
    info "$(command -v nvmf-tgtd): $(nvmf-tgtd --version 2>&1 | head -n1)"
    if ldd "$bin" | grep -q libasan; then
        info "an ASan/UBSan build: sanitizer reports fail the test through the exit status"
        # A slow build under TCG: more time to stop.
        TGTD_STOP_SECS=$((TGTD_STOP_SECS * 3))
    fi
    info "$(command -v reactorctl): $(reactorctl --version 2>&1 | head -n1)"
}

# Is the daemon listening on TCP port $1?
tgtd_listening() {
    [[ -n $(ss -Hltn "sport = :$1") ]]
}

# tgtd_start CONFIG [PORT]: start the daemon with CONFIG, wait until its RPC
# socket answers and PORT (default $IC_TRSVCID, 4420) is listening.
tgtd_start() {
    local cfg=$1 port=${2:-${IC_TRSVCID:-4420}} i rc t0=$SECONDS
    TGTD_RUNS=$((TGTD_RUNS + 1))
    TGTD_LOG=$SYSTEST_OUT/nvmf-tgtd.$TGTD_RUNS.log
    mkdir -p "$(dirname "$TGTD_SOCK")"
    rm -f "$TGTD_SOCK"
    echo "+ nvmf-tgtd -c $cfg -r $TGTD_SOCK ${TGTD_ARGS[*]} (log: nvmf-tgtd.$TGTD_RUNS.log)"
    # An ASan/UBSan build: any report (leaks at exit included) makes the exit status non-zero.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        nvmf-tgtd -c "$cfg" -r "$TGTD_SOCK" "${TGTD_ARGS[@]}" >"$TGTD_LOG" 2>&1 &
    TGTD_PID=$!
    for ((i = 0; i < TGTD_START_SECS * 5; i++)); do
        if ! kill -0 "$TGTD_PID" 2>/dev/null; then
            rc=0
            wait "$TGTD_PID" || rc=$?
            TGTD_PID=''
            cat "$TGTD_LOG"
            fail "nvmf-tgtd exited with status $rc during startup (config $cfg)"
        fi
        if reactorctl -s "$TGTD_SOCK" -t 5 rpc_get_methods >/dev/null 2>&1 && tgtd_listening "$port"; then
            info "nvmf-tgtd pid $TGTD_PID up in $((SECONDS - t0)) s, listening on port $port"
            return 0
        fi
        sleep 0.2
    done
    cat "$TGTD_LOG"
    fail "nvmf-tgtd not serving RPC on $TGTD_SOCK and TCP port $port after ${TGTD_START_SECS}s"
}

# tgtd_stop: SIGTERM; the daemon must exit with status 0 within TGTD_STOP_SECS.
tgtd_stop() {
    local i rc=0 t0
    [[ -n $TGTD_PID ]] || fail "tgtd_stop: no daemon running"
    echo "+ kill -TERM $TGTD_PID"
    t0=$(date +%s.%N)
    kill -TERM "$TGTD_PID" || fail "cannot signal nvmf-tgtd $TGTD_PID"
    for ((i = 0; i < TGTD_STOP_SECS * 10; i++)); do
        kill -0 "$TGTD_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$TGTD_PID" 2>/dev/null; then
        kill -ABRT "$TGTD_PID" 2>/dev/null || true
        sleep 1
        kill -KILL "$TGTD_PID" 2>/dev/null || true
        wait "$TGTD_PID" 2>/dev/null || true
        TGTD_PID=''
        tail -n 40 "$TGTD_LOG"
        fail "nvmf-tgtd still running ${TGTD_STOP_SECS}s after SIGTERM (killed)"
    fi
    wait "$TGTD_PID" || rc=$?
    TGTD_PID=''
    info "exited with status $rc after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s"
    if ((rc != 0)); then
        tail -n 40 "$TGTD_LOG"
        fail "nvmf-tgtd exited with status $rc after SIGTERM, expected 0"
    fi
}

# Kill a daemon left running by a failed test (never fails).
tgtd_cleanup() {
    [[ -n $TGTD_PID ]] || return 0
    kill -KILL "$TGTD_PID" 2>/dev/null || true
    wait "$TGTD_PID" 2>/dev/null || true
    TGTD_PID=''
}

# tgtd_rpc METHOD [NAME=VALUE...] [-j JSON]: call a method; fail with its error.
tgtd_rpc() {
    local out
    echo "+ reactorctl $*"
    out=$(reactorctl -s "$TGTD_SOCK" -t 30 "$@" 2>&1) || fail "reactorctl $1 failed: $out"
    [[ -z $out ]] || printf "    %s\n" "${out//$'\n'/$'\n    '}"
}

# tgtd_log_has REGEX: the current run's log matches (extended regex, case-insensitive).
tgtd_log_has() {
    grep -Eqi -- "$1" "$TGTD_LOG"
}
