#!/usr/bin/env bash
# failover.sh — PostgreSQL with automatic failover on one machine (pg_auto_failover).
#
#   scripts/failover.sh start DIR [PORT]   a monitor (PORT, default 26432), a primary
#                                          (PORT+1) and a synchronous standby (PORT+2),
#                                          each a pg_autoctl keeper running in the
#                                          background under DIR; waits until the
#                                          formation has a primary and a secondary,
#                                          creates role and database "tally", prints a
#                                          conninfo naming both nodes with
#                                          target_session_attrs=read-write
#   scripts/failover.sh conninfo DIR       print that conninfo again
#   scripts/failover.sh status DIR         the formation as the monitor sees it
#   scripts/failover.sh primary DIR        the port of the current primary
#   scripts/failover.sh kill-primary DIR   SIGKILL the current primary's keeper and its
#                                          postgres (as a crash of that machine would)
#   scripts/failover.sh wait-failover DIR OLDPORT [SECONDS]
#                                          wait until another node is primary and
#                                          accepts writes (default 120 s)
#   scripts/failover.sh stop DIR           stop every keeper and its postgres
#
# Needs Debian's postgresql-15 and postgresql-15-auto-failover (scripts/deps.sh).
# No systemd: each keeper is a plain background process (pg_autoctl run) in a
# session of its own, its log in DIR/NAME.log. As root everything runs as the
# user "postgres" (as in scripts/pg.sh), and DIR is handed to that user.
# Everything pg_autoctl keeps (configuration, state, pid files) stays under
# DIR through XDG_CONFIG_HOME, XDG_DATA_HOME and XDG_RUNTIME_DIR.
#
# Timeouts are tightened so that a test sees a failover in seconds rather than
# a minute: the monitor checks health every second, holds a node unhealthy
# after 6 s and promotes the standby 8 s after asking a silent primary to
# demote; a keeper cut off from monitor and standby demotes its own primary
# after 4 s (it must stay below the 8 s, or two primaries could accept writes).
set -euo pipefail

bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
autoctl=$(command -v pg_autoctl || echo "$bindir/pg_autoctl")

die() { echo "failover.sh: $*" >&2; exit 1; }

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: failover.sh start DIR [PORT] | conninfo DIR | status DIR | primary DIR | kill-primary DIR | wait-failover DIR OLDPORT [SECONDS] | stop DIR"
[ -x "$bindir/postgres" ] || die "no PostgreSQL 15 server in $bindir: install Debian's postgresql-15"
[ -x "$autoctl" ] || die "no pg_autoctl: install Debian's postgresql-15-auto-failover"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

as_owner() {
    local env=(env "PATH=$bindir:$PATH" "XDG_CONFIG_HOME=$dir/xdg/config"
               "XDG_DATA_HOME=$dir/xdg/data" "XDG_RUNTIME_DIR=$dir/xdg/run" "PGHOST=127.0.0.1")
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "${env[@]}" "$@"
    else
        "${env[@]}" "$@"
    fi
}

# Ports are kept in DIR/ports: "monitor node1 node2".
ports() { [ -f "$dir/ports" ] || die "no formation was started in $dir"; cat "$dir/ports"; }

monitor_sql() {   # SQL [USER]
    local monitor
    read -r monitor _ _ < <(ports)
    as_owner "$bindir/psql" -h 127.0.0.1 -p "$monitor" -U "${2:-autoctl_node}" -d pg_auto_failover -tAqc "$1"
}

# The port of the node the monitor has as primary (reported and assigned), or nothing.
primary_port() {
    monitor_sql "SELECT nodeport FROM pgautofailover.node
                  WHERE reportedstate IN ('primary', 'wait_primary', 'single')
                    AND goalstate IN ('primary', 'wait_primary', 'single')
                  ORDER BY nodeid LIMIT 1" 2>/dev/null || true
}

is_writable() {   # PORT: does it answer and accept writes?
    [ "$(as_owner "$bindir/psql" -h 127.0.0.1 -p "$1" -U postgres -d postgres -tAqc \
          'SELECT NOT pg_is_in_recovery()' 2>/dev/null)" = t ]
}

conninfo() {
    local monitor node1 node2
    read -r monitor node1 node2 < <(ports)
    echo "host=127.0.0.1,127.0.0.1 port=$node1,$node2 dbname=tally user=tally target_session_attrs=read-write connect_timeout=5"
}

# Start the keeper of one node (monitor or postgres) in a session of its own.
run_keeper() {   # NAME
    local name=$1
    as_owner setsid "$autoctl" run --pgdata "$dir/$name" </dev/null >>"$dir/$name.log" 2>&1 &
}

wait_for() {   # SECONDS DESCRIPTION COMMAND...
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        [ $SECONDS -lt $deadline ] || die "$what did not happen within ${seconds} s; see $dir/*.log"
        sleep 0.5
    done
}

formation_ready() {
    [ "$(monitor_sql "SELECT count(*) FROM pgautofailover.node
                       WHERE reportedstate = goalstate AND goalstate IN ('primary', 'secondary')" 2>/dev/null)" = 2 ]
}

case "$cmd" in
start)
    base=${3:-26432}
    [[ "$base" =~ ^[0-9]+$ ]] || die "start needs a TCP port number, got '$base'"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "running as root needs the user 'postgres' (apt-get install postgresql-15)"
        chown postgres: "$dir"
        chmod 700 "$dir"
    fi
    if [ -f "$dir/ports" ]; then
        # Started before: run the keepers that are not running.
        for name in monitor node1 node2; do
            as_owner "$autoctl" status --pgdata "$dir/$name" >/dev/null 2>&1 || run_keeper "$name"
        done
    else
        echo "$base $((base + 1)) $((base + 2))" >"$dir/ports.tmp"
        as_owner mkdir -p "$dir/xdg/config" "$dir/xdg/data" "$dir/xdg/run"
        as_owner chmod 700 "$dir/xdg/run"
        as_owner "$autoctl" create monitor --pgdata "$dir/monitor" --pgport "$base" \
            --hostname 127.0.0.1 --listen 127.0.0.1 --auth trust --no-ssl >"$dir/monitor.log" 2>&1 \
            || die "pg_autoctl create monitor failed; see $dir/monitor.log"
        mv "$dir/ports.tmp" "$dir/ports"
        run_keeper monitor
        wait_for 60 "the monitor starting" monitor_sql "SELECT 1"
        # Fail over in seconds, not a minute: these are the monitor's settings.
        for setting in health_check_period=1000 health_check_timeout=1000 \
                       health_check_max_retries=1 health_check_retry_delay=500 \
                       node_considered_unhealthy_timeout=6000 primary_demote_timeout=8000; do
            monitor_sql "ALTER SYSTEM SET pgautofailover.${setting%%=*} = ${setting#*=}" postgres >/dev/null
        done
        monitor_sql "SELECT pg_reload_conf()" postgres >/dev/null
        monitor_uri="postgres://autoctl_node@127.0.0.1:$base/pg_auto_failover?sslmode=disable"
        for n in 1 2; do
            # One at a time: the second becomes the first one's standby.
            as_owner "$autoctl" create postgres --pgdata "$dir/node$n" --pgport $((base + n)) \
                --hostname 127.0.0.1 --listen 127.0.0.1 --name "node$n" --auth trust --no-ssl \
                --monitor "$monitor_uri" --dbname tally --username tally \
                >"$dir/node$n.log" 2>&1 || die "pg_autoctl create postgres (node$n) failed; see $dir/node$n.log"
            # A keeper cut off from the monitor and its standby demotes its
            # primary after this long; it must stay below the monitor's
            # primary_demote_timeout, after which the standby is promoted.
            as_owner "$autoctl" config set --pgdata "$dir/node$n" timeout.network_partition_timeout 4 >/dev/null
            run_keeper "node$n"
            if [ $n = 1 ]; then
                wait_for 90 "node1 becoming the primary" \
                    bash -c "[ \"\$(\"$0\" primary \"$dir\")\" = $((base + 1)) ]"
            fi
        done
    fi
    wait_for 180 "the formation reaching primary + secondary" formation_ready
    primary=$(primary_port)
    # pg_autoctl made the database; the role the collector uses is ours to make.
    as_owner "$bindir/psql" -h 127.0.0.1 -p "$primary" -U postgres -d postgres -tAqc \
        "DO \$\$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tally') THEN
                CREATE ROLE tally LOGIN SUPERUSER;
            END IF; END \$\$;" >/dev/null
    if ! as_owner "$bindir/psql" -h 127.0.0.1 -p "$primary" -U postgres -d postgres -tAc \
            "SELECT 1 FROM pg_database WHERE datname = 'tally'" | grep -q 1; then
        as_owner "$bindir/createdb" -h 127.0.0.1 -p "$primary" -U postgres -O tally tally
    fi
    as_owner "$bindir/psql" -h 127.0.0.1 -p "$primary" -U postgres -d tally -tAqc \
        "ALTER DATABASE tally OWNER TO tally; ALTER SCHEMA public OWNER TO tally" >/dev/null
    conninfo
    ;;
conninfo)
    conninfo
    ;;
status)
    read -r monitor _ _ < <(ports)
    as_owner "$autoctl" show state --pgdata "$dir/monitor"
    ;;
primary)
    primary_port
    ;;
kill-primary)
    port=$(primary_port)
    [ -n "$port" ] || die "the monitor knows no primary"
    read -r _ node1 node2 < <(ports)
    name=node1; [ "$port" = "$node2" ] && name=node2
    pidfile="$dir/$name/postmaster.pid"
    [ -f "$pidfile" ] || die "$name has no postmaster.pid: postgres is not running there"
    postmaster=$(head -1 "$pidfile")
    # The keeper (pg_autoctl run) leads the session it was started in; its
    # postgres is in it too. Kill the whole group at once, as a crash would.
    group=$(ps -o pgid= -p "$postmaster" | tr -d ' ')
    [ -n "$group" ] && [ "$group" -gt 1 ] || die "cannot find the process group of postgres $postmaster"
    kill -KILL -- "-$group"
    echo "killed $name (port $port): process group $group (keeper and postgres $postmaster)"
    ;;
wait-failover)
    old=${3:-}
    seconds=${4:-120}
    [[ "$old" =~ ^[0-9]+$ ]] || die "wait-failover needs the old primary's port"
    wait_for "$seconds" "the failover" bash -c \
        "p=\$(\"$0\" primary \"$dir\"); [ -n \"\$p\" ] && [ \"\$p\" != $old ]"
    new=$(primary_port)
    wait_for "$seconds" "the new primary accepting writes" is_writable "$new"
    echo "$new"
    ;;
stop)
    [ -f "$dir/ports" ] || exit 0
    for name in node2 node1 monitor; do
        [ -d "$dir/$name" ] || continue
        as_owner "$autoctl" stop --pgdata "$dir/$name" >/dev/null 2>&1 || true
    done
    # Whatever did not stop in time (a keeper killed before leaves its postgres
    # dead already; a stuck one gets SIGKILL with its session).
    for name in node2 node1 monitor; do
        pidfile="$dir/$name/postmaster.pid"
        for _ in $(seq 1 40); do [ -f "$pidfile" ] || break; sleep 0.25; done
        if [ -f "$pidfile" ]; then
            pid=$(head -1 "$pidfile")
            group=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ' || true)
            [ -n "$group" ] && [ "$group" -gt 1 ] && kill -KILL -- "-$group" 2>/dev/null || true
        fi
    done
    ;;
*)
    die "unknown command '$cmd' (start, conninfo, status, primary, kill-primary, wait-failover, stop)"
    ;;
esac
