#!/usr/bin/env bash
# units.sh BUILD_DIR — `systemd-analyze verify` on deploy/systemd's units.
#
# verify checks that each Exec*= program exists, so the units are checked as
# copies whose /usr/local/bin/ paths name the binaries in BUILD_DIR (exactly
# what `cmake --install` does with the installed bin folder). Any warning
# (unknown key, bad value) fails the test too: verify itself only fails on
# errors. The template is checked as an instance, tally-reporter@220582.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build=$(cd "${1:?usage: units.sh BUILD_DIR}" && pwd)

command -v systemd-analyze >/dev/null \
    || dt_skip "systemd-analyze is not installed (Debian package systemd); the units were not verified"
dt_init units

for program in collector/tally-collector reporter/tally-reporter; do
    [ -x "$build/$program" ] || dt_fail "$build/$program is not built"
done
units=$dt_source/deploy/systemd
rewrite() {
    sed -e "s#/usr/local/bin/tally-collector#$build/collector/tally-collector#g" \
        -e "s#/usr/local/bin/tally-reporter#$build/reporter/tally-reporter#g" "$1" >"$2"
    ! grep -n '/usr/local/bin/' "$2" || dt_fail "$1 names a binary the test does not know"
}
rewrite "$units/tally-collector.service" "$tmp/tally-collector.service"
rewrite "$units/tally-reporter@.service" "$tmp/tally-reporter@.service"
cp "$tmp/tally-reporter@.service" "$tmp/tally-reporter@220582.service"

failed=0
for unit in tally-collector.service tally-reporter@220582.service; do
    if out=$(cd "$tmp" && systemd-analyze verify "./$unit" 2>&1) && [ -z "$out" ]; then
        echo "ok: systemd-analyze verify $unit"
    else
        echo "FAIL: systemd-analyze verify $unit:" >&2
        echo "$out" >&2
        failed=1
    fi
done

# The hardening and service settings the deployment relies on are there.
for want in 'User=tally' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' \
            'PrivateTmp=yes' 'RestrictAddressFamilies=' 'Restart=on-failure' \
            'ConfigurationDirectory=tally'; do
    for unit in tally-collector.service tally-reporter@.service; do
        grep -q "^$want" "$units/$unit" || { echo "FAIL: $unit lacks $want" >&2; failed=1; }
    done
done
grep -q '^ExecReload=/bin/kill -HUP \$MAINPID$' "$units/tally-collector.service" \
    || { echo "FAIL: tally-collector.service: no ExecReload with SIGHUP" >&2; failed=1; }
grep -q '^StateDirectory=tally/inbox/%i tally/outbox/%i$' "$units/tally-reporter@.service" \
    || { echo "FAIL: tally-reporter@.service: no per-region StateDirectory" >&2; failed=1; }
exit "$failed"
