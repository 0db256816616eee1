#!/usr/bin/env bash
# pg.sh — a private PostgreSQL 15 under a folder of the project's, no system setup.
#
#   scripts/pg.sh start DIR PORT   initdb DIR/data if needed, start on 127.0.0.1:PORT,
#                                  create role and database "tally"; prints the conninfo
#   scripts/pg.sh stop DIR         stop it (fast shutdown); harmless if not running
#   scripts/pg.sh kill DIR         stop it at once (immediate shutdown, as a crash would)
#   scripts/pg.sh conninfo DIR     print the conninfo of a started server
#
# initdb and postgres refuse to run as root, so as root they run as the
# unprivileged user "postgres" (created by Debian's postgresql package), and DIR
# is handed to that user. Durability settings are PostgreSQL's defaults (fsync
# on): tally acks only what is durably committed.
set -euo pipefail

bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}

die() { echo "pg.sh: $*" >&2; exit 1; }

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: pg.sh start DIR PORT | stop DIR | kill DIR | conninfo DIR"
[ -x "$bindir/postgres" ] || die "no PostgreSQL 15 server in $bindir: install Debian's postgresql-15"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

case "$cmd" in
start)
    port=${3:-}
    [[ "$port" =~ ^[0-9]+$ ]] || die "start needs a TCP port number, got '${port}'"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "running as root needs the user 'postgres' (apt-get install postgresql-15)"
        chown postgres: "$dir"
        chmod 700 "$dir"
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bindir/initdb" -D "$dir/data" -U tally --auth=trust \
            --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
            || die "initdb failed; see $dir/initdb.log"
    fi
    as_owner mkdir -p "$dir/sock"
    if as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        :   # already running
    else
        as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/sock -c max_connections=100 -c shared_buffers=128MB" \
            start >/dev/null || die "postgres did not start; see $dir/postgres.log"
    fi
    echo "$port" >"$dir/port" 2>/dev/null || as_owner sh -c "echo $port > '$dir/port'"
    if ! as_owner "$bindir/psql" -h 127.0.0.1 -p "$port" -U tally -d postgres -tAc \
            "SELECT 1 FROM pg_database WHERE datname = 'tally'" | grep -q 1; then
        as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U tally tally
    fi
    echo "host=127.0.0.1 port=$port dbname=tally user=tally"
    ;;
stop|kill)
    mode=fast; [ "$cmd" = kill ] && mode=immediate
    if [ -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m "$mode" -w stop >/dev/null 2>&1 || true
    fi
    ;;
conninfo)
    [ -f "$dir/port" ] || die "no server was started in $dir"
    echo "host=127.0.0.1 port=$(cat "$dir/port") dbname=tally user=tally"
    ;;
*)
    die "unknown command '$cmd' (start, stop, kill, conninfo)"
    ;;
esac
