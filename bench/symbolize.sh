#!/bin/sh
# tasktrace symbolize vs llvm-symbolizer-14 vs eu-addr2line on 10,000
# random addresses in libc, whose DWARF is separate (libc6-dbg, found by
# build-id), inline frames on.  Usage: bench/symbolize.sh [BUILD_DIR]
set -eu
BUILD=${1:-build}
LIBC=${LIBC:-/lib/x86_64-linux-gnu/libc.so.6}
exec python3 "$(dirname "$0")/symbolize_compare.py" "$BUILD/symbolizer/tasktrace" "$LIBC" \
	"${COUNT:-10000}" "${REPS:-3}"
