#!/bin/sh
#   pipeline-valgrind.sh — the core pipeline suite with the collector under
#   valgrind memcheck.
#
#   Usage: pipeline-valgrind.sh TEST_PIPELINE
#
#   Runs the pipeline suite (tests/integration) with
#   TALLY_COLLECTOR_WRAPPER=valgrind-collector.sh, so that every collector
#   it starts runs under memcheck, then reads each collector's valgrind
#   report: any error, or any definite or indirect leak, fails the test, and
#   so does a collector that did not exit normally (no summary). Exits 77
#   (skipped) when valgrind is not installed or when the harness did not use
#   the wrapper (no report written).
set -u
here=$(cd "$(dirname "$0")" && pwd)
suite=${1:?usage: pipeline-valgrind.sh TEST_PIPELINE}
command -v valgrind >/dev/null 2>&1 || { echo "pipeline_valgrind: skipped: valgrind is not installed"; exit 77; }

logs=$(mktemp -d "${TMPDIR:-/tmp}/tally-valgrind-XXXXXX")
start=$(date +%s)
TALLY_COLLECTOR_WRAPPER="$here/valgrind-collector.sh" TALLY_VALGRIND_LOG_DIR="$logs" "$suite"
suite_rc=$?
seconds=$(( $(date +%s) - start ))

set -- "$logs"/collector.*.vg
if [ ! -e "$1" ]; then
    echo "pipeline_valgrind: skipped: the harness did not run the collector through TALLY_COLLECTOR_WRAPPER"
    rm -rf "$logs"
    exit 77
fi
collectors=0 bad=0 errors=0 definite=0 indirect=0
for log in "$@"; do
    collectors=$((collectors + 1))
    summary=$(grep -E "ERROR SUMMARY:" "$log" | tail -1)
    if [ -z "$summary" ]; then
        echo "pipeline_valgrind: $log: the collector did not exit normally (no valgrind summary)"
        bad=$((bad + 1))
        continue
    fi
    n=$(echo "$summary" | sed -E 's/.*ERROR SUMMARY: ([0-9,]+) errors.*/\1/' | tr -d ,)
    d=$(grep -E "definitely lost:" "$log" | sed -E 's/.*definitely lost: ([0-9,]+) bytes.*/\1/' | tr -d , | tail -1)
    i=$(grep -E "indirectly lost:" "$log" | sed -E 's/.*indirectly lost: ([0-9,]+) bytes.*/\1/' | tr -d , | tail -1)
    errors=$((errors + n)); definite=$((definite + ${d:-0})); indirect=$((indirect + ${i:-0}))
    if [ "$n" != 0 ] || [ "${d:-0}" != 0 ] || [ "${i:-0}" != 0 ]; then
        echo "pipeline_valgrind: $log reports problems:"
        cat "$log"
        bad=$((bad + 1))
    fi
done
echo "faults: pipeline_valgrind collectors=$collectors errors=$errors definitely_lost_bytes=$definite indirectly_lost_bytes=$indirect suite_exit=$suite_rc seconds=$seconds"
[ -n "${TALLY_KEEP_TEST_DIRS:-}" ] && echo "pipeline_valgrind: reports kept in $logs" || rm -rf "$logs"
[ "$suite_rc" = 0 ] && [ "$bad" = 0 ]
