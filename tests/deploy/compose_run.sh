#!/usr/bin/env bash
# compose_run.sh BUILD_DIR — what docker-compose.yml starts also runs without
# Docker: every service's command, taken from `docker-compose config`, is run
# with BUILD_DIR's programs against a private PostgreSQL standing in for "db":
# migrate, the collector, its health check, the seven reporters (each must
# exit 0: all acked), then tally-watch --once must show the city's roll-up.
#
# What differs from the containers, and only that: host names "db" and
# "collector" are 127.0.0.1, the collector's endpoints are ephemeral
# loopback ports (appended options win over the compose command's), /data is
# tests/data and the outbox volume is a temporary folder.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build=$(cd "${1:?usage: compose_run.sh BUILD_DIR}" && pwd)
command -v docker-compose >/dev/null \
    || dt_skip "docker-compose is not installed (apt-get install docker-compose); nothing to replay"
python3 -c 'import yaml' 2>/dev/null \
    || dt_skip "python3-yaml is not installed (it comes with docker-compose)"
dt_init compose
cd "$dt_source"

# Each service's command and environment as bash arrays, from the normalized config.
docker-compose -f docker-compose.yml config >"$tmp/config.yml"
python3 - "$tmp/config.yml" >"$tmp/services.sh" <<'PY'
import shlex, sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
for name, service in sorted(config["services"].items()):
    var = name.replace("-", "_")
    command = service.get("command") or []
    if isinstance(command, str):
        command = shlex.split(command)
    env = service.get("environment") or {}
    print(f"cmd_{var}=({' '.join(shlex.quote(str(a)) for a in command)})")
    print(f"env_{var}=({' '.join(shlex.quote(f'{k}={v}') for k, v in sorted(env.items()))})")
    print(f"vol_{var}=({' '.join(shlex.quote(str(v)) for v in service.get('volumes') or [])})")
PY
. "$tmp/services.sh"

declare -A bin=(
    [tally-collector]=$build/collector/tally-collector
    [tally-reporter]=$build/reporter/tally-reporter
    [tally-watch]=$build/watch/tally-watch)
for program in "${!bin[@]}"; do
    [ -x "${bin[$program]}" ] || dt_fail "${bin[$program]} is not built"
done

dt_pg_start
# The compose environment, with "db" replaced by the private server.
pg_env=()
for kv in "${env_collector[@]}"; do
    case "$kv" in
        PGHOST=db) pg_env+=(PGHOST=127.0.0.1 "PGPORT=$pg_port") ;;
        *) pg_env+=("$kv") ;;
    esac
done
# Run a compose command: its program from BUILD_DIR, host names and
# container paths mapped, extra arguments appended.
localize() {
    local arg
    out=("${bin[$1]:?no such program: $1}")
    shift
    for arg in "$@"; do
        arg=${arg//tcp:\/\/collector:7701/$report_ep}
        arg=${arg//tcp:\/\/collector:7702/$feed_ep}
        arg=${arg//tcp:\/\/collector:7703/$query_ep}
        arg=${arg/#\/data\//$dt_source/tests/data/}
        arg=${arg/#\/var\/lib\/tally\/outbox/$tmp/outbox}
        out+=("$arg")
    done
}
report_ep= feed_ep= query_ep=

# migrate
localize "${cmd_migrate[@]}"
env "${pg_env[@]}" "${out[@]}" >"$tmp/migrate.log" 2>&1 \
    || { cat "$tmp/migrate.log" >&2; dt_fail "migrate: ${cmd_migrate[*]}"; }
echo "ok: migrate ($(tail -1 "$tmp/migrate.log"))"

# collector, on ephemeral loopback ports
localize "${cmd_collector[@]}"
env "${pg_env[@]}" "${out[@]}" --report 'tcp://127.0.0.1:*' --feed 'tcp://127.0.0.1:*' \
    --query 'tcp://127.0.0.1:*' --ready-file "$tmp/collector.ready" >"$tmp/collector.log" 2>&1 &
dt_pids+=($!)
collector_pid=$!
for _ in $(seq 200); do
    [ -s "$tmp/collector.ready" ] && [ "$(wc -l <"$tmp/collector.ready")" -ge 3 ] && break
    kill -0 "$collector_pid" 2>/dev/null || { cat "$tmp/collector.log" >&2; dt_fail "the collector exited"; }
    sleep 0.05
done
[ -s "$tmp/collector.ready" ] || dt_fail "the collector did not write its ready file"
report_ep=$(awk '$1 == "report" { print $2 }' "$tmp/collector.ready")
feed_ep=$(awk '$1 == "feed" { print $2 }' "$tmp/collector.ready")
query_ep=$(awk '$1 == "query" { print $2 }' "$tmp/collector.ready")
echo "ok: collector (${cmd_collector[*]}) on $report_ep $feed_ep $query_ep"

# its health check (the compose healthcheck's ping, on this query endpoint)
"${bin[tally-collector]}" ping --timeout 5 --query "$query_ep" \
    || dt_fail "tally-collector ping: exit $? (0 expected: answers, database up)"
echo "ok: tally-collector ping"

# the reporters, all at once, as `docker-compose up` starts them
reporters=$(compgen -v | sed -n 's/^cmd_reporter_//p' | sort)
[ "$(echo "$reporters" | wc -w)" = 7 ] || dt_fail "expected 7 reporters, found: $reporters"
pids=()
for region in $reporters; do
    declare -n cmd=cmd_reporter_$region vol=vol_reporter_$region
    printf '%s\n' "${vol[@]}" | grep -q "/tests/data:/data:ro$" \
        || dt_fail "reporter-$region does not mount tests/data read-only at /data"
    localize "${cmd[@]}"
    "${out[@]}" >"$tmp/reporter-$region.log" 2>&1 &
    pids+=("$region:$!")
    unset -n cmd vol
done
for entry in "${pids[@]}"; do
    region=${entry%%:*}
    if wait "${entry#*:}"; then
        echo "ok: reporter-$region: $(tail -1 "$tmp/reporter-$region.log")"
    else
        rc=$?
        cat "$tmp/reporter-$region.log" >&2
        dt_fail "reporter-$region exited $rc (0 expected: every report acked)"
    fi
done

# watch, once: the city's roll-up of its six reporting counties
localize "${cmd_watch[@]}"
"${out[@]}" --once >"$tmp/watch.out" 2>&1 || { cat "$tmp/watch.out" >&2; dt_fail "tally-watch --once"; }
cat "$tmp/watch.out"
grep -E '通化市 .* 185 .* 42 .*6/7' "$tmp/watch.out" >/dev/null \
    || dt_fail "tally-watch does not show 通化市 with 185 planned, 42 started, 6/7 reported"
echo "ok: tally-watch shows the city totals"
