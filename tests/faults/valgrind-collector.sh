#!/bin/sh
#   valgrind-collector.sh — run tally-collector under valgrind memcheck.
#
#   Usage: valgrind-collector.sh COLLECTOR [ARGS...]
#
#   The harness (tests/support/tt.c) puts the program named by
#   TALLY_COLLECTOR_WRAPPER in front of the collector's command line, so
#   with TALLY_COLLECTOR_WRAPPER=tests/faults/valgrind-collector.sh every
#   collector a suite starts runs under memcheck. Any error, or a definite or
#   indirect leak, makes the collector exit 99 instead of its own status.
#   Each run writes its report to $TALLY_VALGRIND_LOG_DIR/collector.PID.vg
#   (default: $TMPDIR or /tmp), which pipeline-valgrind.sh reads. Only
#   third-party noise is suppressed (valgrind.supp, each entry explained).
here=$(cd "$(dirname "$0")" && pwd)
log_dir=${TALLY_VALGRIND_LOG_DIR:-${TMPDIR:-/tmp}}
exec valgrind --tool=memcheck --leak-check=full \
    --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
    --error-exitcode=99 --num-callers=40 --track-origins=yes \
    --suppressions="$here/valgrind.supp" ${TALLY_VALGRIND_EXTRA:-} \
    --log-file="$log_dir/collector.%p.vg" "$@"
