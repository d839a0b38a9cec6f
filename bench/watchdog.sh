#!/bin/sh
# The watchdog's cost on throughput: samples/echo_server with and without
# TASKTRACE_WATCHDOG under bench/echo_load (loopback request/response),
# alternating runs so drift in the machine's load hits both alike.
#
#   bench/watchdog.sh BUILD_DIR [PAIRS] [SECS] [WATCHDOG_SPEC]
#
# Prints one line per run and the medians; the watchdog runs with its
# default 1 s interval unless WATCHDOG_SPEC says otherwise.  STALL=50ms in
# the environment starts the stall detector too in the "on" runs
# (TASKTRACE_STALL): the cost of both together.
set -eu
. "$(dirname "$0")/lib.sh" # median, ratio, pair_ratios
B=${1:?usage: bench/watchdog.sh BUILD_DIR [PAIRS] [SECS] [WATCHDOG_SPEC]}
PAIRS=${2:-5}
SECS=${3:-5}
SPEC=${4:-1}
LOAD="$B/bench/echo_load"
SERVER="$B/samples/echo_server"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

one() { # label, env...
	label=$1
	shift
	env "$@" "$SERVER" 0 >"$tmp/ready" 2>"$tmp/err" &
	spid=$!
	while ! grep -q ready "$tmp/ready" 2>/dev/null; do sleep 0.05; done
	port=$(sed -n 's/.* port \([0-9]*\) ready/\1/p' "$tmp/ready")
	line=$("$LOAD" -p "$port" -c 32 -s 64 -t 2 -d "$SECS" -w 1)
	kill "$spid"
	wait "$spid" 2>/dev/null || true
	rate=$(echo "$line" | sed -n 's/.*msgs_per_s=\([0-9.]*\).*/\1/p')
	p99=$(echo "$line" | sed -n 's/.*p99_us=\([0-9.]*\).*/\1/p')
	echo "$label msgs_per_s=$rate p99_us=$p99"
	echo "$rate" >>"$tmp/$label"
}

for i in $(seq "$PAIRS"); do
	one off
	one on TASKTRACE_WATCHDOG="$SPEC" ${STALL:+TASKTRACE_STALL=$STALL}
done
off=$(median "$tmp/off")
on=$(median "$tmp/on")
echo "median off=$off on=$on ratio=$(ratio "$on" "$off" 4)"
