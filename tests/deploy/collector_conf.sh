#!/usr/bin/env bash
# collector_conf.sh BUILD_DIR — deploy/tally-collector.conf is complete, true
# to the defaults, and accepted by tally-collector.
#
#   1. it lists every setting of `tally-collector --help`, in the same order
#      (collector/settings.c's table);
#   2. each commented-out "# key = value" line shows the built-in default;
#   3. `tally-collector migrate -c deploy/tally-collector.conf --db DB`
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
