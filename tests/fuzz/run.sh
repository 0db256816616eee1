#!/bin/sh
#   run.sh — build the proto decoder fuzzer with clang and run it.
#
#   Usage: tests/fuzz/run.sh [SECONDS]   (default 60)
#
#   Builds fuzz_proto with libFuzzer, ASan and UBSan into $FUZZ_BUILD (default
#   build-fuzz/ at the top of the source tree), copies the seed corpus there so
#   that the committed seeds stay as they are, and fuzzes for SECONDS. Exits
#   non-zero when the fuzzer finds a crash, a leak or a round-trip mismatch;
#   the input that did it is left in $FUZZ_BUILD (crash-*, leak-*, ...): add
#   it to tests/fuzz/corpus/ as a regression case once it is fixed.
set -eu

seconds=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${FUZZ_BUILD:-$top/build-fuzz}
cc=${CC_FUZZ:-clang}

mkdir -p "$out/corpus"
"$cc" -std=c11 -g -O1 -Wall -Wextra -Werror \
    -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -fno-omit-frame-pointer \
    -I"$top/proto" \
    "$here/fuzz_proto.c" "$top/proto/proto_msg.c" "$top/proto/proto_decode.c" \
    "$top/proto/proto_check.c" \
    $(pkg-config --cflags --libs msgpack) \
    -o "$out/fuzz_proto"

cp "$here"/corpus/* "$out/corpus/"
cd "$out"
#   -max_len a little over the 64 KiB body limit, so too_large is reached too.
exec ./fuzz_proto -max_total_time="$seconds" -max_len=66000 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 corpus
