#!/usr/bin/env bash
# collector_conf.sh BUILD_DIR — deploy/tally-collector.conf is complete, true
# to the defaults, and accepted by tally-collector.
#
#   1. it lists every setting of `tally-collector --help`, in the same order
#      (collector/settings.c's table);
#   2. each commented-out "# key = value" line shows the built-in default;
#   3. `share` and --help say what SIGHUP does (the catalog from the
#      database; the CSVs are for `tally-collector migrate`);
#   4. `tally-collector migrate -c deploy/tally-collector.conf --db DB`
#      succeeds against a private PostgreSQL, and so does a copy with every
#      commented-out setting switched on: every key of the example is accepted.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build=$(cd "${1:?usage: collector_conf.sh BUILD_DIR}" && pwd)
collector=$build/collector/tally-collector
conf=$dt_source/deploy/tally-collector.conf
[ -x "$collector" ] || dt_fail "$collector is not built"
dt_init conf

# name<TAB>default from --help ("no" for flags, empty when there is none).
"$collector" --help | awk '
    /^  --[a-z-]+/ {
        name = substr($1, 3)
        if (name == "config") next
        if ($2 != "TEXT" && $2 != "N") default = "no"
        else if (match($0, / \[[^]]*\]$/)) default = substr($0, RSTART + 2, RLENGTH - 3)
        else default = ""
        printf "%s\t%s\n", name, default
    }' >"$tmp/help"
[ "$(wc -l <"$tmp/help")" -ge 10 ] || dt_fail "could not read the settings from tally-collector --help"

# name<TAB>=value<TAB>#- (commented out) or - from the example; the "=" and
# "-" keep the fields non-empty, which read would otherwise merge.
sed -nE 's/^(#)? ?([a-z][a-z-]*) =( (.*))?$/\2\t=\4\t\1-/p' "$conf" >"$tmp/example"

failed=0
if ! diff <(cut -f1 "$tmp/help") <(cut -f1 "$tmp/example") >"$tmp/diff"; then
    echo "FAIL: the example's keys differ from tally-collector --help's settings (< help, > example):" >&2
    cat "$tmp/diff" >&2
    failed=1
fi
while IFS=$'\t' read -r name value commented; do
    [ "$commented" = "#-" ] || continue
    value=${value#=}
    default=$(awk -F'\t' -v n="$name" '$1 == n { print $2 }' "$tmp/help")
    if [ "$value" != "$default" ]; then
        echo "FAIL: example shows '# $name = $value' but the default is '$default'" >&2
        failed=1
    fi
done <"$tmp/example"
[ "$failed" = 0 ] && echo "ok: the example lists all $(wc -l <"$tmp/help") settings in order, with their defaults"

# SIGHUP rereads the catalog from the database, never the CSVs under share:
# the example and --help must not promise otherwise, and say how to add regions.
share_text=$(awk '/^# share =/ { print block; exit } /^#/ { block = block $0 "\n"; next } { block = "" }' "$conf")
if grep -qi "reload on SIGHUP" <<<"$share_text" ||
   ! grep -q "SIGHUP rereads the catalog" <<<"$share_text" ||
   ! grep -q "from the database" <<<"$share_text" ||
   ! grep -q "tally-collector migrate" <<<"$share_text"; then
    echo "FAIL: the example's 'share' comment must say SIGHUP rereads the catalog from the database" >&2
    echo "      and that new regions need the CSVs edited, 'tally-collector migrate', then SIGHUP:" >&2
    echo "$share_text" >&2
    failed=1
elif ! grep -q "SIGHUP rereads the catalog from the database" <<<"$("$collector" --help)"; then
    echo "FAIL: tally-collector --help does not say SIGHUP rereads the catalog from the database" >&2
    failed=1
else
    echo "ok: the example and --help say SIGHUP rereads the catalog from the database, not the CSVs"
fi

dt_pg_start
if out=$(cd "$tmp" && "$collector" migrate -c "$conf" --db "$db" 2>&1); then
    echo "ok: tally-collector migrate -c deploy/tally-collector.conf"
else
    echo "FAIL: tally-collector migrate -c deploy/tally-collector.conf --db '$db':" >&2
    echo "$out" >&2
    failed=1
fi
sed -E 's/^# ([a-z][a-z-]* =)/\1/' "$conf" >"$tmp/all-keys.conf"
if out=$(cd "$tmp" && "$collector" migrate -c "$tmp/all-keys.conf" --db "$db" 2>&1); then
    echo "ok: the same with every setting uncommented"
else
    echo "FAIL: tally-collector migrate -c (the example with every setting uncommented):" >&2
    echo "$out" >&2
    failed=1
fi
exit "$failed"
