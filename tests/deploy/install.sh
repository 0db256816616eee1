#!/usr/bin/env bash
# install.sh BUILD_DIR — the install layout, and the installed collector
# finding its migrations.
#
#   1. `cmake --install BUILD_DIR --prefix P` (a prefix other than the
#      configured one) puts the programs in P/bin, migrations and catalogs in
#      P/share/tally, example configs in P/share/doc/tally/examples, the
#      systemd units (naming P/bin) in P/lib/systemd/system and the sysusers.d
#      entry in P/lib/sysusers.d; the installed units pass systemd-analyze
#      verify; P/bin/tally-collector migrate --share P/share/tally works.
#   2. The Dockerfile's build: configure with CMAKE_INSTALL_PREFIX=Q, build,
#      `cmake --install --strip`; then Q/bin/tally-collector migrate, run from
#      an unrelated folder without --share, applies every migration from
#      Q/share/tally (the path compiled in, looked at first).
# Both against a private PostgreSQL.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build=$(cd "${1:?usage: install.sh BUILD_DIR}" && pwd)
dt_init install
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }

n_migrations=$(ls "$dt_source"/deploy/migrations/*.sql | wc -l)
applied() {     # number of migrations recorded in the database
    "$PG_BINDIR_/psql" "$db" -tAc "SELECT count(*) FROM schema_migration"
}
PG_BINDIR_=${PG_BINDIR:-/usr/lib/postgresql/15/bin}

# --- 1. relocated install of the test build --------------------------------
P=$tmp/relocated
cmake --install "$build" --prefix "$P" >"$tmp/install.log" 2>&1 \
    || { cat "$tmp/install.log" >&2; dt_fail "cmake --install $build --prefix $P failed"; }
for f in bin/tally-collector bin/tally-reporter bin/tally-watch bin/tally-bulletin; do
    [ -x "$P/$f" ] || fail "$f is not installed"
done
for f in "$dt_source"/deploy/migrations/*.sql "$dt_source"/deploy/catalog/*.csv; do
    rel=${f#"$dt_source"/deploy/}
    cmp -s "$f" "$P/share/tally/$rel" || fail "share/tally/$rel is missing or differs"
done
for f in "$dt_source"/deploy/tally-*.conf; do
    cmp -s "$f" "$P/share/doc/tally/examples/$(basename "$f")" \
        || fail "share/doc/tally/examples/$(basename "$f") is missing or differs"
done
cmp -s "$dt_source/deploy/systemd/tally.sysusers" "$P/lib/sysusers.d/tally.conf" \
    || fail "lib/sysusers.d/tally.conf is missing or differs"
for unit in tally-collector.service tally-reporter@.service; do
    installed=$P/lib/systemd/system/$unit
    if [ ! -f "$installed" ]; then
        fail "lib/systemd/system/$unit is not installed"
        continue
    fi
    grep -q '/usr/local/bin/' "$installed" && fail "$unit still names /usr/local/bin"
    grep -q "^ExecStart=$P/bin/tally-" "$installed" || fail "$unit does not start $P/bin/..."
done
if command -v systemd-analyze >/dev/null && [ -f "$P/lib/systemd/system/tally-reporter@.service" ]; then
    cp "$P/lib/systemd/system/tally-collector.service" "$tmp/"
    cp "$P/lib/systemd/system/tally-reporter@.service" "$tmp/tally-reporter@220523.service"
    for unit in tally-collector.service tally-reporter@220523.service; do
        out=$(cd "$tmp" && systemd-analyze verify "./$unit" 2>&1) && [ -z "$out" ] \
            || fail "systemd-analyze verify (installed) $unit: $out"
    done
fi
[ "$failed" = 0 ] && echo "ok: cmake --install --prefix P: bin, share/tally, share/doc/tally/examples, lib/systemd/system, lib/sysusers.d"

dt_pg_start
out=$(cd "$tmp" && "$P/bin/tally-collector" migrate --share "$P/share/tally" --db "$db" 2>&1) \
    || fail "relocated tally-collector migrate --share P/share/tally: $out"
[ "$(applied)" = "$n_migrations" ] || fail "relocated migrate recorded $(applied) of $n_migrations migrations"
[ "$failed" = 0 ] && echo "ok: P/bin/tally-collector migrate --share P/share/tally: $n_migrations migrations"

# --- 2. the Dockerfile's configure, build and install into Q ----------------
Q=$tmp/prefix
jobs=$(nproc 2>/dev/null || echo 2)
{ cmake -S "$dt_source" -B "$tmp/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
        -DCMAKE_INSTALL_PREFIX="$Q" \
  && cmake --build "$tmp/build" -j"$jobs" \
  && cmake --install "$tmp/build" --strip; } >"$tmp/build.log" 2>&1 \
    || { tail -30 "$tmp/build.log" >&2; dt_fail "the Dockerfile's configure/build/install failed"; }
grep -aq "$Q/share/tally" "$Q/bin/tally-collector" \
    || fail "Q/bin/tally-collector does not look in $Q/share/tally"
# A database of its own, so that every migration must be applied here, and
# a marker migration that only Q/share/tally has: if it is recorded, migrate
# read Q/share/tally (not the source tree's deploy/, its fallback).
"$PG_BINDIR_/psql" "$db" -qc "CREATE DATABASE tally_installed" >/dev/null
db=${db/dbname=tally/dbname=tally_installed}
printf -- '-- tests/deploy/install.sh: marks the installed share folder\nSELECT 1;\n' \
    >"$Q/share/tally/migrations/999_installed_marker.sql"
mkdir "$tmp/elsewhere"
out=$(cd "$tmp/elsewhere" && "$Q/bin/tally-collector" migrate --db "$db" 2>&1) \
    || fail "installed tally-collector migrate (no --share): $out"
[ "$(applied)" = "$((n_migrations + 1))" ] \
    || fail "installed migrate recorded $(applied) migrations, expected $n_migrations and the marker"
echo "$out" | grep -q "^applied 999_installed_marker.sql" \
    || fail "installed migrate did not read $Q/share/tally: $out"
echo "$out" | grep -q "^catalog: " || fail "installed migrate did not load the catalogs: $out"
[ "$failed" = 0 ] && echo "ok: Q/bin/tally-collector migrate finds Q/share/tally by itself: $n_migrations migrations, $(echo "$out" | grep '^catalog: ')"
exit "$failed"
