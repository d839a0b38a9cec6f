#!/bin/sh
# `tasktrace trace` of a core whose flight recorder rings hold a million
# events (issue 19's target: under 1 s, peak RSS under twice the rings'
# bytes).  tests/cli/churn_prog (two workers spawning and finishing tasks
# as fast as they can) with TASKTRACE_RECORDER=28M: two worker rings of
# 2^19 events each (and the foreign ring, a quarter of that size, nearly
# empty); gcore'd once they have wrapped; then /usr/bin/time -v of the
# trace written to a file, REPS times.
# Usage: bench/trace_core.sh [BUILD_DIR]   (REPS=... to change; BASE=OTHER_BUILD_DIR
# alternates each run with that build's tasktrace, on the same core)
set -eu
BUILD=${1:-build}
REPS=${REPS:-3}
BYTES=${BYTES:-28M}
DIR=${TMPDIR:-/tmp}/tt-trace-core.$$
mkdir -p "$DIR"
trap 'kill $PID 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$DIR"' EXIT INT TERM

PROG="$BUILD/tests/cli/churn_prog"
TASKTRACE_RECORDER=$BYTES "$PROG" > "$DIR/out" &
PID=$!
while ! grep -q ready "$DIR/out" 2>/dev/null; do sleep 0.2; done
# Full rings: until a nonblocking trace holds 2^20 worker events.
# (The tasks' tracks' state slices, cat "state", are not events of the rings.)
held() { grep '"ph":"[Xi]"' "$1" | grep -vc '"cat":"state"' || true; }
while :; do
	"$BUILD/symbolizer/tasktrace" trace --nonblocking "$PID" -o "$DIR/live.json" 2> /dev/null
	[ "$(held "$DIR/live.json")" -lt 1000000 ] || break
	sleep 0.5
done
gcore -o "$DIR/core" "$PID" > /dev/null 2>&1
kill "$PID"
CORE="$DIR/core.$PID"
ev=$(gdb -batch -ex 'p sizeof(tt_flight_event)' "$PROG" 2>/dev/null | sed -n 's/^\$[0-9]* = //p')
ev=${ev:-56}
ring_bytes() { # bytes -> a ring's bytes: capacity rounded down to a power of two
	cap=$(($1 / ev)) p=1
	while [ $((p * 2)) -le "$cap" ]; do p=$((p * 2)); done
	echo $((p * ev))
}
b=$(numfmt --from=iec "$BYTES")
W=$(ring_bytes "$b")
F=$(ring_bytes $((b / 4)))
RINGS=$((2 * W + F))
echo "churn_prog, TASKTRACE_RECORDER=$BYTES: rings 2 x $((W / 1048576)) MiB + foreign" \
     "$((F / 1048576)) MiB = $((RINGS / 1048576)) MiB ($ev-byte events); core $(du -m "$CORE" | cut -f1) MiB"
echo "| build | run | events | wall (s) | user+sys CPU (s) | peak RSS (MiB) | RSS / rings |"
echo "|---|---|---:|---:|---:|---:|---:|"
one() { # build dir, run number
	out="$DIR/trace.$(basename "$1").json"
	/usr/bin/time -v "$1/symbolizer/tasktrace" trace "$CORE" -o "$out" 2> "$DIR/time.txt"
	wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$DIR/time.txt")
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$DIR/time.txt")
	usr=$(sed -n 's/.*User time (seconds): //p' "$DIR/time.txt")
	sys=$(sed -n 's/.*System time (seconds): //p' "$DIR/time.txt")
	echo "| $(basename "$1") | $2 | $(held "$out") | $wall | $(echo "$usr + $sys" | bc) |" \
	     "$((rss / 1024)) | $(echo "scale=2; $rss * 1024 / $RINGS" | bc) |"
}
i=1
while [ $i -le "$REPS" ]; do
	[ -z "${BASE:-}" ] || one "$BASE" $i
	one "$BUILD" $i
	i=$((i + 1))
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${BASE:-}" ]; then
	# The track names may come in another order; the events may not.
	tail -n +6 "$DIR/trace.$(basename "$BASE").json" > "$DIR/a.tail"
	tail -n +6 "$DIR/trace.$(basename "$BUILD").json" > "$DIR/b.tail"
	cmp -s "$DIR/a.tail" "$DIR/b.tail" && echo "events identical to $BASE's" ||
		echo "events DIFFER from $BASE's"
fi
