#!/usr/bin/env bash
# deps.sh — install the Debian packages tally needs to build, test and run.
#
#   scripts/deps.sh          install what is missing (as root, or through sudo)
#   scripts/deps.sh --list   print the package names
set -euo pipefail

packages=(
    build-essential cmake pkg-config git
    libzmq3-dev libczmq-dev libmsgpack-dev libpq-dev check libjansson-dev libcsv-dev
    postgresql-15 postgresql-client-15 postgresql-15-auto-failover docker-compose
    clang libclang-rt-14-dev valgrind jq
    chromium fonts-wqy-zenhei
)

if [ "${1:-}" = --list ]; then
    printf '%s\n' "${packages[@]}"
    exit 0
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}" >&2
if [ "$(id -u)" = 0 ]; then
    sudo=()
elif command -v sudo >/dev/null; then
    sudo=(sudo)
else
    echo "deps.sh: these packages are missing and I am not root: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
