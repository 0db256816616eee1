#!/usr/bin/env bash
# test.sh — build tally and run every test: the command CI runs.
#
#   scripts/test.sh            install what is missing, build, run all suites
#                              (unit, integration, fault), then the sanitizer
#                              build's suites and the fuzzer
#   TALLY_TEST_QUICK=1 scripts/test.sh    only the normal build's suites
#
# Every integration suite starts its own PostgreSQL (scripts/pg.sh) in a
# temporary folder and the real programs on 127.0.0.1: nothing needs to be
# running beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

step() { printf '\n== %s\n' "$*"; }

step "dependencies"
scripts/deps.sh

step "build (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"

step "tests (build/)"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 900)

if [ "${TALLY_TEST_QUICK:-0}" = 1 ]; then
    exit 0
fi

step "tests under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTALLY_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --output-on-failure -j"$jobs" --timeout 900 -LE bench)

step "fuzzing the protocol decoder (60 s)"
tests/fuzz/run.sh 60

printf '\nall tests passed\n'
