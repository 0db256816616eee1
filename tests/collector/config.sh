#!/usr/bin/env bash
# config.sh BUILD_DIR — tally-collector with a config file, as an operator runs it:
#
#   1. -c FOLDER (or anything not a regular file) is refused, exit 2, like a
#      missing file, instead of starting on the built-in defaults;
#   2. a plaintext non-loopback endpoint is refused with what a stranger
#      could do through that endpoint (report, read snapshots, read the feed)
#      and the setting it came from;
#   3. SIGHUP applies log-level from the file against the level in force:
#      raised, then lowered again, each change logged once; a bad level is
#      named with FILE:LINE and the level stays.
#
# No database is needed: a collector whose database is unreachable stays up,
# and each SIGHUP says the catalog was not reloaded (a warning).
set -euo pipefail
. "$(dirname "$0")/../deploy/lib.sh"
build=$(cd "${1:?usage: config.sh BUILD_DIR}" && pwd)
collector=$build/collector/tally-collector
[ -x "$collector" ] || dt_fail "$collector is not built"
dt_init collector-config
nodb="host=127.0.0.1 port=1 dbname=none user=none connect_timeout=1"

# 1. a folder, and a device, are no config file
mkdir "$tmp/cfg"
for path in "$tmp/cfg" /dev/null; do
    status=0
    # Loopback ephemeral endpoints and a time limit, should it start after all.
    timeout 10 "$collector" -c "$path" --db "$nodb" --report 'tcp://127.0.0.1:*' \
        --feed 'tcp://127.0.0.1:*' --query 'tcp://127.0.0.1:*' >"$tmp/notfile.out" 2>&1 || status=$?
    [ "$status" = 2 ] || { cat "$tmp/notfile.out" >&2; dt_fail "-c $path: exit status $status, expected 2"; }
    grep -qF "$path: cannot read the config file" "$tmp/notfile.out" ||
        { cat "$tmp/notfile.out" >&2; dt_fail "-c $path: no 'cannot read the config file'"; }
done
echo "ok: -c FOLDER and -c /dev/null are refused: $(cat "$tmp/notfile.out")"

# 2. plaintext on another host's address, per endpoint (the report endpoint
# binds loopback first; nothing listens on 10.0.0.1, which is never bound)
refuse() {
    local name=$1 risk=$2
    printf 'db = %s\nreport = tcp://127.0.0.1:*\nfeed = tcp://127.0.0.1:*\nquery = tcp://127.0.0.1:*\n%s = tcp://10.0.0.1:7999\n' \
        "$nodb" "$name" >"$tmp/$name.conf"
    status=0
    timeout 10 "$collector" -c "$tmp/$name.conf" >"$tmp/$name.out" 2>&1 || status=$?
    [ "$status" = 2 ] || { cat "$tmp/$name.out" >&2; dt_fail "plaintext $name: exit status $status, expected 2"; }
    grep -qF "refusing to bind $name endpoint tcp://10.0.0.1:7999" "$tmp/$name.out" &&
    grep -qF "in $tmp/$name.conf" "$tmp/$name.out" &&
    grep -qF "anyone who can reach it $risk;" "$tmp/$name.out" &&
    grep -qF -- "--allow-plaintext" "$tmp/$name.out" ||
        { cat "$tmp/$name.out" >&2; dt_fail "plaintext $name: expected '$risk', the file and --allow-plaintext"; }
    echo "ok: $(grep -F refusing "$tmp/$name.out")"
}
refuse report "could report"
refuse query "could read the figures (snapshots)"
refuse feed "could read every figure published"

# 3. log-level on SIGHUP
conf=$tmp/collector.conf
write_conf() {
    printf 'db = %s\nreport = tcp://127.0.0.1:*\nfeed = tcp://127.0.0.1:*\nquery = tcp://127.0.0.1:*\nready-file = %s\nlog-level = %s\n' \
        "$nodb" "$tmp/ready" "$1" >"$conf"
}
write_conf info
log=$tmp/collector.log
dt_spawn "$collector" -c "$conf" >"$log" 2>&1
pid=${dt_pids[-1]}
for _ in $(seq 100); do
    [ -s "$tmp/ready" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; dt_fail "the collector exited"; }
    sleep 0.1
done
[ -s "$tmp/ready" ] || dt_fail "the collector did not write its ready file"

hups=0
# hup LEVEL: write LEVEL into the file, send SIGHUP and wait until the
# collector has handled it (its catalog warning shows at every level but error).
hup() {
    write_conf "$1"
    hups=$((hups + 1))
    kill -HUP "$pid"
    for _ in $(seq 100); do
        [ "$(grep -c 'catalog not reloaded' "$log")" -ge "$hups" ] && return 0
        sleep 0.1
    done
    cat "$log" >&2
    dt_fail "SIGHUP $hups was not handled within 10 s"
}
count() { grep -cF -- "$1" "$log" || true; }

hup debug
[ "$(count 'log level is now debug (was info)')" = 1 ] || { cat "$log" >&2; dt_fail "info -> debug not logged"; }
hup debug
[ "$(count 'log level is now')" = 1 ] ||
    { cat "$log" >&2; dt_fail "a SIGHUP that changes nothing logged a level change"; }
hup warning
[ "$(count 'log level is now warning (was debug)')" = 1 ] || { cat "$log" >&2; dt_fail "debug -> warning not logged"; }
hup warning
[ "$(count 'SIGHUP: reloading')" = 3 ] ||
    { cat "$log" >&2; dt_fail "at level warning, the SIGHUP info line is still shown"; }
hup info
[ "$(count 'log level is now info (was warning)')" = 1 ] ||
    { cat "$log" >&2; dt_fail "warning -> info: the level could not be lowered again"; }
hup info
[ "$(count 'SIGHUP: reloading')" = 4 ] ||
    { cat "$log" >&2; dt_fail "back at level info, the SIGHUP info line is not shown"; }
[ "$(count 'log level is now')" = 3 ] || { cat "$log" >&2; dt_fail "expected three level changes, each once"; }
echo "ok: SIGHUP raised the log level and lowered it again, each change logged once"

hup verbose
grep -qF "$conf:6: key 'log-level': 'verbose' is not error, warning, info or debug; the log level stays info" "$log" ||
    { cat "$log" >&2; dt_fail "a bad log-level on SIGHUP is not named with FILE:LINE"; }
kill -0 "$pid" 2>/dev/null || dt_fail "the collector exited after a bad log-level on SIGHUP"
echo "ok: $(grep -F "'verbose'" "$log")"
echo "PASS"
