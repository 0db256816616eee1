# lib.sh — what the deploy tests share: a temporary folder, a private
# PostgreSQL (scripts/pg.sh) on a random port, and cleanup. Sourced, not run.
#
#   . "$(dirname "$0")/lib.sh"
#   dt_init NAME              temporary folder in $tmp, removed at exit
#                             (kept with TALLY_KEEP_TEST_DIRS=1)
#   dt_pg_start               private PostgreSQL; sets $db (conninfo), $pg_port
#   dt_spawn CMD...           start CMD in the background, killed at exit
#   dt_skip WHY               report a skip (CTest SKIP_RETURN_CODE 77)
#   dt_fail WHY               report a failure and exit 1

dt_source=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dt_pids=()
dt_pg_dir=

dt_fail() { echo "FAIL: $*" >&2; exit 1; }
dt_skip() { echo "SKIP: $*"; exit 77; }

dt_cleanup() {
    local pid
    for pid in "${dt_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${dt_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$dt_pg_dir" ]; then
        "$dt_source/scripts/pg.sh" stop "$dt_pg_dir" || true
    fi
    if [ "${TALLY_KEEP_TEST_DIRS:-0}" = 1 ]; then
        echo "kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}

dt_init() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/tally-$1.XXXXXX")
    # pg.sh runs PostgreSQL as "postgres" when we are root: it must reach $tmp/pg.
    chmod 755 "$tmp"
    trap dt_cleanup EXIT
}

# Ports 61000-64999: outside Linux's ephemeral range (32768-60999), so no
# client socket of a parallel test can be holding the one we pick.
dt_pg_start() {
    dt_pg_dir=$tmp/pg
    local attempt
    for attempt in 1 2 3; do
        pg_port=$((61000 + RANDOM % 4000))
        if db=$("$dt_source/scripts/pg.sh" start "$dt_pg_dir" "$pg_port"); then
            db="$db connect_timeout=5"
            return 0
        fi
        "$dt_source/scripts/pg.sh" stop "$dt_pg_dir" || true
        rm -rf "$dt_pg_dir"
    done
    dt_fail "PostgreSQL did not start (see the pg.sh messages above)"
}

dt_spawn() {
    "$@" &
    dt_pids+=($!)
}
