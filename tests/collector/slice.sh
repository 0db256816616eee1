#!/usr/bin/env bash
# slice.sh BUILD_DIR — every thread of a running tally-collector has the CPU
# time slice of --sched-slice-us (collector/main.c asks before ZeroMQ's and
# the committers' threads start, and they inherit it):
#
#   1. by default (100 us) each thread's se.slice in /proc is 100000 ns, or,
#      on a kernel without per-thread slices (before Linux 6.12), the
#      collector says once that it kept the kernel's slice;
#   2. --sched-slice-us 0 leaves every thread at the kernel's default;
#   3. --sched-slice-us 50 is refused with exit status 2 and a message
#      naming the option.
#
# No database is needed: a collector whose database is unreachable stays up.
set -euo pipefail
. "$(dirname "$0")/../deploy/lib.sh"
build=$(cd "${1:?usage: slice.sh BUILD_DIR}" && pwd)
collector=$build/collector/tally-collector
[ -x "$collector" ] || dt_fail "$collector is not built"
grep -q '^se.slice' /proc/self/sched 2>/dev/null || dt_skip "this kernel shows no se.slice in /proc/PID/sched"
dt_init slice

# start NAME ARGS...: a collector on loopback with no database; sets $pid.
start() {
    local name=$1
    shift
    dt_spawn "$collector" --db "host=127.0.0.1 port=1 dbname=none user=none connect_timeout=1" \
        --report 'tcp://127.0.0.1:*' --feed 'tcp://127.0.0.1:*' --query 'tcp://127.0.0.1:*' \
        --ready-file "$tmp/$name.ready" "$@" >"$tmp/$name.log" 2>&1
    pid=${dt_pids[-1]}
    for _ in $(seq 100); do
        [ -s "$tmp/$name.ready" ] && break
        kill -0 "$pid" 2>/dev/null || { cat "$tmp/$name.log" >&2; dt_fail "the collector ($name) exited"; }
        sleep 0.1
    done
    [ -s "$tmp/$name.ready" ] || dt_fail "the collector ($name) did not write its ready file"
}

# slices PID: "TID NAME SLICE_NS" for each of its threads.
slices() {
    local task
    for task in /proc/"$1"/task/*; do
        echo "${task##*/} $(cat "$task/comm") $(awk '$1 == "se.slice" { print $3 }' "$task/sched")"
    done
}

# 1. the default, 100 us
start default
slices "$pid" >"$tmp/default.slices"
threads=$(wc -l <"$tmp/default.slices")
[ "$threads" -ge 3 ] || dt_fail "expected the main, ZeroMQ and committer threads, found $threads"
if grep -q "kept the kernel's time slice" "$tmp/default.log"; then
    echo "this kernel keeps its own slice; the collector said so:"
    grep "kept the kernel's time slice" "$tmp/default.log"
else
    if awk '$3 != 100000 { bad = 1 } END { exit !bad }' "$tmp/default.slices"; then
        cat "$tmp/default.slices" >&2
        dt_fail "not every thread has a 100000 ns slice"
    fi
    echo "all $threads threads have a 100 us slice"
fi

# 2. --sched-slice-us 0: the kernel's default
start zero --sched-slice-us 0
slices "$pid" >"$tmp/zero.slices"
if awk '$3 == 100000 { bad = 1 } END { exit !bad }' "$tmp/zero.slices"; then
    cat "$tmp/zero.slices" >&2
    dt_fail "--sched-slice-us 0 still gave a thread a 100 us slice"
fi
if grep -q "kept the kernel's time slice" "$tmp/zero.log"; then
    dt_fail "--sched-slice-us 0 should ask for nothing, and say nothing"
fi
echo "with --sched-slice-us 0 every thread keeps the kernel's slice ($(awk 'NR == 1 { print $3 }' "$tmp/zero.slices") ns)"

# 3. below the kernel's least
status=0
"$collector" --sched-slice-us 50 >"$tmp/short.out" 2>&1 || status=$?
[ "$status" = 2 ] || dt_fail "--sched-slice-us 50: exit status $status, expected 2"
grep -q -- "--sched-slice-us: 50 is below" "$tmp/short.out" ||
    { cat "$tmp/short.out" >&2; dt_fail "--sched-slice-us 50: no message naming the option"; }
echo "--sched-slice-us 50 is refused: $(cat "$tmp/short.out")"
echo "PASS"
