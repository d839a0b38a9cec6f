#!/bin/sh
# What `tasktrace profile` costs the program it samples (issue 19: at most
# 1 % of its throughput with 10k tasks at 99 Hz): samples/echo_server with
# IDLE parked tasks (its PARKED argument) under bench/echo_load, alternating runs without
# and with a profiler sampling it for the whole load.
#
#   bench/profile_echo.sh BUILD_DIR [PAIRS] [SECS] [IDLE] [RATE]
#
# Prints one line per run, the profiler's own CPU, the medians, and the
# median of the pairs' ratios.
set -eu
. "$(dirname "$0")/lib.sh" # median, ratio, pair_ratios
B=${1:?usage: bench/profile_echo.sh BUILD_DIR [PAIRS] [SECS] [IDLE] [RATE]}
PAIRS=${2:-5}
SECS=${3:-5}
IDLE=${4:-10000}
RATE=${5:-99}
LOAD="$B/bench/echo_load"
SERVER="$B/samples/echo_server"
TT="$B/symbolizer/tasktrace"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

one() { # label: off or on
	"$SERVER" 0 "$IDLE" >"$tmp/ready" 2>"$tmp/err" &
	spid=$!
	while ! grep -q ready "$tmp/ready" 2>/dev/null; do sleep 0.05; done
	port=$(sed -n 's/.* port \([0-9]*\) ready/\1/p' "$tmp/ready")
	ppid=
	if [ "$1" = on ]; then
		/usr/bin/time -f "%U %S" -o "$tmp/ptime" "$TT" profile --duration "$((SECS + 2))s" \
			--rate "$RATE" --format folded -o "$tmp/p.folded" "$spid" 2>"$tmp/perr" &
		ppid=$!
	fi
	line=$("$LOAD" -p "$port" -c 32 -s 64 -t 2 -d "$SECS" -w 1)
	[ -n "$ppid" ] && wait "$ppid"
	kill "$spid"
	wait "$spid" 2>/dev/null || true
	rate=$(echo "$line" | sed -n 's/.*msgs_per_s=\([0-9.]*\).*/\1/p')
	extra=
	[ -n "$ppid" ] && extra=" profiler_cpu_s=$(awk '{print $1 + $2}' "$tmp/ptime")"
	echo "$1 msgs_per_s=$rate$extra"
	echo "$rate" >>"$tmp/$1"
	if [ "$1" = on ]; then
		ratio "$rate" "$(tail -n 1 "$tmp/off")" 4 >>"$tmp/pairs"
	fi
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$PAIRS"); do
	one off
	one on
done
off=$(median "$tmp/off")
on=$(median "$tmp/on")
echo "idle_tasks=$IDLE rate=$RATE median off=$off on=$on ratio=$(ratio "$on" "$off" 4)"
echo "pair ratios: $(sort -n "$tmp/pairs" | tr '\n' ' ')median $(median "$tmp/pairs")"
grep -v '^Main binary' "$tmp/perr" 2>/dev/null | tail -2 || true
