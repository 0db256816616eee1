#!/usr/bin/env bash
# demo.sh — the main job on one machine: the seed's figures delivered by one
# tally-reporter per county, rolled up by tally-collector into a private
# PostgreSQL, and the city totals shown by tally-watch.
#
#   scripts/demo.sh          install what is missing, build, run the main job;
#                            PostgreSQL and the collector keep running afterwards
#                            so you can watch live (tally-watch) or query (psql)
#   scripts/demo.sh stop     stop the collector and PostgreSQL
#
# Everything lives under .state/ in the repository (PostgreSQL's data, logs,
# each county's outbox); nothing is installed or configured system-wide apart
# from Debian packages. Ports: PostgreSQL $TALLY_PG_PORT (15432), the collector
# 7701-7703 on 127.0.0.1. Running it again reuses what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
state=$top/.state
pg_port=${TALLY_PG_PORT:-15432}
seed=$top/tests/data/tonghua-2022-02-28.csv
collector=$top/build/collector/tally-collector
reporter=$top/build/reporter/tally-reporter
watch=$top/build/watch/tally-watch
report_ep=tcp://127.0.0.1:7701
feed_ep=tcp://127.0.0.1:7702
query_ep=tcp://127.0.0.1:7703

say() { printf '\n== %s\n' "$*"; }

stop_collector() {
    if [ -f "$state/collector.pid" ] && kill -0 "$(cat "$state/collector.pid")" 2>/dev/null; then
        kill -TERM "$(cat "$state/collector.pid")"
        for _ in $(seq 50); do
            kill -0 "$(cat "$state/collector.pid")" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -f "$state/collector.pid"
}

if [ "${1:-}" = stop ]; then
    stop_collector
    scripts/pg.sh stop "$state/pg"
    echo "stopped the collector and PostgreSQL (data kept in $state)"
    exit 0
fi

say "dependencies"
scripts/deps.sh

say "build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
echo "built tally-collector, tally-reporter, tally-watch in build/"

say "private PostgreSQL in .state/pg (port $pg_port)"
mkdir -p "$state"
db=$(scripts/pg.sh start "$state/pg" "$pg_port")
echo "$db"

say "schema and catalogs"
"$collector" migrate --db "$db"

say "collector on $report_ep (reports), $feed_ep (feed), $query_ep (queries)"
stop_collector
rm -f "$state/collector.ready"
"$collector" --db "$db" --report "$report_ep" --feed "$feed_ep" --query "$query_ep" \
    --ready-file "$state/collector.ready" >>"$state/collector.log" 2>&1 &
echo $! >"$state/collector.pid"
for _ in $(seq 100); do
    [ -f "$state/collector.ready" ] && break
    kill -0 "$(cat "$state/collector.pid")" 2>/dev/null || { tail -5 "$state/collector.log"; exit 1; }
    sleep 0.1
done
echo "running (pid $(cat "$state/collector.pid"), log .state/collector.log)"

say "one reporter per county delivers the seed's figures ($(basename "$seed"))"
regions=$(tail -n +2 "$seed" | cut -d, -f1 | sort -u)
pids=()
for region in $regions; do
    name=$(grep -m1 "^$region," "$seed" | cut -d, -f2)
    ( out=$("$reporter" send "$seed" --region "$region" --collector "$report_ep" \
                --outbox "$state/outbox/$region" --timeout 60 2>&1) && rc=0 || rc=$?
      printf '%s %s: %s (exit %d)\n' "$region" "$name" "$(echo "$out" | tail -n 1)" "$rc"
      exit "$rc" ) &
    pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do
    wait "$pid" || failed=1
done
if [ "$failed" = 1 ]; then
    echo "some reporter did not get every report acked; see above" >&2
    exit 1
fi

# (Read by awk alone: with pipefail, `tail | head -1` fails when head exits
# before tail has written everything, and tail gets SIGPIPE.)
year=$(awk -F, 'NR == 2 { print substr($3, 1, 4); exit }' "$seed")
say "city totals (tally-watch --once --prefix 2205 --year $year)"
"$watch" --once --prefix 2205 --year "$year" --feed "$feed_ep" --query "$query_ep"

cat <<EOF

The collector and PostgreSQL are still running:
  live table:   build/watch/tally-watch --prefix 2205
  JSON lines:   build/watch/tally-watch --json
  SQL:          psql "$db"
  stop:         scripts/demo.sh stop
EOF
