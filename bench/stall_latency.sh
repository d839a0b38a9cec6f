#!/bin/sh
# How late the stall detector reports a stall (issue 12's target: within
# the threshold + 20 ms).  Runs tests/diag/stall_prog in its "repeat" mode
# (5 polls that block their worker 80-120 ms) under TASKTRACE_STALL=THRESHOLD,
# RUNS times, and prints the age each first report gives the poll ("has been
# running one poll for N ms") minus the threshold.
#
#   bench/stall_latency.sh BUILD_DIR [RUNS] [THRESHOLD_MS]
set -eu
B=${1:?usage: bench/stall_latency.sh BUILD_DIR [RUNS] [THRESHOLD_MS]}
RUNS=${2:-5}
T=${3:-50}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq "$RUNS"); do
	TASKTRACE_STALL="${T}ms" "$B/tests/diag/stall_prog" repeat >/dev/null 2>"$tmp/err" &
	pid=$!
	n=0
	while ! grep -q "stalls done" "$tmp/err" 2>/dev/null && [ $n -lt 200 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	kill -USR1 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	# First reports only: a stall is reported again at 2x, 4x... the
	# threshold, so an age of 2x or more is a repeat.
	sed -n 's/.*has been running one poll for \([0-9.]*\)ms.*/\1/p' "$tmp/err" |
		awk -v t="$T" '$1 < 2 * t' >>"$tmp/ages"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
sort -n "$tmp/ages" | awk -v t="$T" '{a[NR]=$1 - t} END {
	if (NR == 0) { print "no stall reported"; exit 1 }
	printf "reports=%d threshold=%dms late_by_ms: min=%.1f median=%.1f max=%.1f\n",
	       NR, t, a[1], a[int((NR+1)/2)], a[NR] }'
