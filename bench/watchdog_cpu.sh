#!/bin/bash
# The watchdog's cost as the echo server's own CPU time per message, next
# to its throughput: samples/echo_server without and with
# TASKTRACE_WATCHDOG=1 under bench/echo_load, alternating PAIRS times.
# CPU per message is steadier than throughput on a shared machine.
#
#   bench/watchdog_cpu.sh BUILD_DIR [PAIRS] [SECS]
set -eu
. "$(dirname "$0")/lib.sh" # median, ratio, pair_ratios
B=${1:?usage: bench/watchdog_cpu.sh BUILD_DIR [PAIRS] [SECS]}
PAIRS=${2:-5}
SECS=${3:-4}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tck=$(getconf CLK_TCK)

one() { # label, env...
	label=$1
	shift
	env "$@" "$B/samples/echo_server" 0 >"$tmp/ready" 2>/dev/null &
	spid=$!
	while ! grep -q ready "$tmp/ready" 2>/dev/null; do sleep 0.05; done
	port=$(sed -n 's/.* port \([0-9]*\) ready/\1/p' "$tmp/ready")
	t0=$(awk '{print $14 + $15}' "/proc/$spid/stat")
	line=$("$B/bench/echo_load" -p "$port" -c 32 -s 64 -t 2 -d "$SECS" -w 0)
	t1=$(awk '{print $14 + $15}' "/proc/$spid/stat")
	kill "$spid"
	wait "$spid" 2>/dev/null || true
	rate=$(echo "$line" | sed -n 's/.*msgs_per_s=\([0-9.]*\).*/\1/p')
	echo "$label msgs_per_s=$rate us_cpu_per_msg=$(echo "$t1 $t0 $tck $rate $SECS" |
		awk '{printf "%.3f", ($1 - $2) / $3 * 1e6 / ($4 * $5)}')" | tee -a "$tmp/all"
}

i=0
while [ $i -lt "$PAIRS" ]; do
	one off
	one on TASKTRACE_WATCHDOG=1
	i=$((i + 1))
done
field() { # label field
	grep "^$1 " "$tmp/all" | sed -n "s/.*$2=\([0-9.]*\).*/\1/p"
}
for f in msgs_per_s us_cpu_per_msg; do
	off=$(field off $f | median)
	on=$(field on $f | median)
	echo "median $f off=$off on=$on on/off=$(ratio "$on" "$off")"
done
