#!/bin/sh
# `tasktrace ps` on a gcore core of `many_tasks N` (default a million):
# wall time and peak RSS (/usr/bin/time -v) against the registry's size,
# N x (task slot + the task's frames), both taken from the core's DWARF.
# Usage: bench/ps_core.sh [BUILD_DIR]   (N=... REPS=... to change;
# BASE=OTHER_BUILD_DIR alternates each run with that build's tasktrace, on
# the same core, for before/after numbers)
set -eu
BUILD=${1:-build}
N=${N:-1000000}
REPS=${REPS:-3}
DIR=${TMPDIR:-/tmp}/tt-ps-core.$$
mkdir -p "$DIR"
trap 'kill $PID 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$DIR"' EXIT INT TERM

"$BUILD/samples/many_tasks" "$N" > "$DIR/out" &
PID=$!
while ! grep -q ready "$DIR/out" 2>/dev/null; do sleep 0.2; done
gcore -o "$DIR/core" "$PID" > /dev/null 2>&1
kill "$PID"
CORE="$DIR/core.$PID"
sizes=$(gdb -batch -ex 'p sizeof(struct tt_task)' -ex 'p sizeof(idle_worker)' \
	"$BUILD/samples/many_tasks" "$CORE" 2>/dev/null | sed -n 's/^\$[0-9]* = //p' | tr '\n' ' ')
set -- $sizes
REG=$((N * ($1 + $2)))
echo "many_tasks $N: core $(du -m "$CORE" | cut -f1) MiB; registry $((REG / 1048576)) MiB" \
     "($1-byte slots + $2-byte frames per task)"
echo "| build | run | wall (s) | user+sys CPU (s) | peak RSS (MiB) | RSS / registry |"
echo "|---|---|---:|---:|---:|---:|"
one() { # build dir, run number
	/usr/bin/time -v "$1/symbolizer/tasktrace" ps "$CORE" > "$DIR/ps.$(basename "$1").txt" 2> "$DIR/time.txt"
	wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$DIR/time.txt")
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$DIR/time.txt")
	usr=$(sed -n 's/.*User time (seconds): //p' "$DIR/time.txt")
	sys=$(sed -n 's/.*System time (seconds): //p' "$DIR/time.txt")
	echo "| $(basename "$1") | $2 | $wall | $(echo "$usr + $sys" | bc) | $((rss / 1024)) | $(echo "scale=2; $rss * 1024 / $REG" | bc) |"
}
i=1
while [ $i -le "$REPS" ]; do
	[ -z "${BASE:-}" ] || one "$BASE" $i
	one "$BUILD" $i
	i=$((i + 1))
done
echo "rows printed: $(($(wc -l < "$DIR/ps.$(basename "$BUILD").txt") - 1))"
if [ -n "${BASE:-}" ]; then
	cmp -s "$DIR/ps.$(basename "$BASE").txt" "$DIR/ps.$(basename "$BUILD").txt" &&
		echo "output identical to $BASE's" || echo "output DIFFERS from $BASE's"
fi
