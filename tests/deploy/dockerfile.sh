#!/usr/bin/env bash
# dockerfile.sh BUILD_DIR — what can be checked of the Dockerfile without a
# Docker engine (its configure, build and install commands run in install.sh):
#   - the build stage installs only packages of `scripts/deps.sh --list`;
#   - the runtime stage's packages exist in Debian (apt-cache), and they and
#     their dependencies provide every shared library the built programs need.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build=$(cd "${1:?usage: dockerfile.sh BUILD_DIR}" && pwd)
dockerfile=$dt_source/Dockerfile

# The package names of the apt-get install in stage N (1 = build, 2 = runtime).
stage_packages() {
    awk -v want="$1" '
        /^FROM / { stage++ }
        stage == want && /apt-get install/ { grab = 1 }
        grab && /^ *&&/ && !/apt-get install/ { grab = 0 }
        grab { line = $0; sub(/#.*/, "", line); text = text " " line; if ($0 !~ /\\$/) grab = 0 }
        END { n = split(text, w, /[ \t\\]+/)
              for (i = 1; i <= n; i++) if (w[i] ~ /^[a-z0-9][a-z0-9.+-]+$/ && !seen[w[i]]++) print w[i] }' \
        "$dockerfile" | grep -vxE 'apt-get|install|rm|DEBIAN_FRONTEND=noninteractive|update' || true
}
build_pkgs=$(stage_packages 1 | grep -vx -- '-y' || true)
runtime_pkgs=$(stage_packages 2)
[ -n "$build_pkgs" ] && [ -n "$runtime_pkgs" ] || dt_fail "could not read the Dockerfile's apt-get install lines"

failed=0
deps=$("$dt_source/scripts/deps.sh" --list)
for p in $build_pkgs; do
    echo "$deps" | grep -qx "$p" || { echo "FAIL: build stage installs $p, not in scripts/deps.sh" >&2; failed=1; }
done
[ "$failed" = 0 ] && echo "ok: build stage packages are scripts/deps.sh's: $(echo $build_pkgs)"

command -v apt-cache >/dev/null && command -v dpkg >/dev/null \
    || dt_skip "apt-cache/dpkg are not here (not Debian?); runtime packages not checked"
for p in $runtime_pkgs; do
    apt-cache show "$p" >/dev/null 2>&1 || { echo "FAIL: runtime package $p is unknown to apt-cache" >&2; failed=1; }
done
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
              --no-replaces --no-enhances $runtime_pkgs 2>/dev/null | grep -v '^ ' | sed 's/:.*//' | sort -u)
programs=()
for program in collector/tally-collector reporter/tally-reporter watch/tally-watch bulletin/tally-bulletin; do
    [ -x "$build/$program" ] || dt_fail "$build/$program is not built"
    programs+=("$build/$program")
done
# Every library once, then one dpkg -S for all of them (it is slow per call).
# Both the path ldd shows and the resolved one: with merged /usr, dpkg knows
# some libraries under /lib and others under /usr/lib.
libs=$(for p in "${programs[@]}"; do ldd "$p"; done | awk '$3 ~ /^\// { print $3 }' | sort -u)
libs=$( (echo "$libs"; echo "$libs" | xargs readlink -f) | sort -u)
missing=
while read -r pkg lib; do
    echo "$closure" | grep -qx "$pkg" || missing="$missing $pkg($(basename "$lib"))"
done < <(dpkg -S $libs 2>/dev/null | sed -E 's/^([^:]+)(:[a-z0-9]+)?: /\1 /')
if [ -n "$missing" ]; then
    echo "FAIL: runtime stage lacks the packages of:$missing" >&2
    failed=1
else
    echo "ok: runtime packages $(echo $runtime_pkgs) provide every library the programs link"
fi
exit "$failed"
