#!/bin/bash
# The cost of tasktrace top at its default 1 Hz over a process with N
# tasks (issue 15's targets: at most 5 % of one core, and no measurable
# drop in the target's throughput).
#
#   bench/top_cost.sh BUILD_DIR [N] [SECS] [PAIRS]
#
# 1. The viewer's CPU (user + system, from /proc/PID/stat) over SECS on
#    samples/many_tasks N, after its start (the first full read and the
#    first diagnosis) is over: the full-screen view in tmux (the rows on
#    screen are worded), and batch mode with every row printed.
# 2. samples/echo_server with N parked tasks under bench/echo_load, with
#    and without the full-screen view watching it, alternating runs
#    (PAIRS of them) so drift in the machine's load hits both alike.
# Without tmux, batch mode with no row printed (--state running) stands
# for the full-screen view.  Run it on a quiet machine.
set -eu
. "$(dirname "$0")/lib.sh" # median, ratio, pair_ratios
B=${1:?usage: bench/top_cost.sh BUILD_DIR [N] [SECS] [PAIRS]}
N=${2:-100000}
SECS=${3:-20}
PAIRS=${4:-5}
TT="$B/symbolizer/tasktrace"
WARMUP=${WARMUP:-8} # seconds for the first read and diagnosis of N tasks
tmp=$(mktemp -d)
SOCK="tt-top-bench-$$"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	tmux -L "$SOCK" kill-server 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
HZ=$(getconf CLK_TCK)

cpu_ticks() { # utime + stime of PID
	awk '{print $14 + $15}' "/proc/$1/stat"
}

# The viewer's pid, started on TARGET: "tmux" (full screen) or "batch".
viewer() {
	local how=$1 target=$2
	if [ "$how" = tmux ]; then
		tmux -L "$SOCK" -f /dev/null new-session -d -s top -x 160 -y 50 \
			"exec '$TT' top $target"
		tmux -L "$SOCK" list-panes -t top -F '#{pane_pid}'
	elif [ "$how" = quiet ]; then
		"$TT" top -b --state running "$target" >/dev/null 2>&1 &
		echo $!
	else
		"$TT" top -b "$target" >/dev/null 2>&1 &
		echo $!
	fi
}
stop_viewer() {
	local how=$1 vpid=$2
	if [ "$how" = tmux ]; then
		tmux -L "$SOCK" kill-session -t top 2>/dev/null || true
	else
		kill "$vpid" 2>/dev/null || true
		wait "$vpid" 2>/dev/null || true
	fi
}

FULL=quiet
command -v tmux >/dev/null && FULL=tmux

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$B/samples/many_tasks" "$N" >"$tmp/ready" 2>/dev/null &
spid=$!
pids+=("$spid")
while ! grep -q ready "$tmp/ready" 2>/dev/null; do sleep 0.1; done
for how in $FULL batch; do
	vpid=$(viewer "$how" "$spid")
	sleep "$WARMUP"
	t0=$(cpu_ticks "$vpid")
	sleep "$SECS"
	t1=$(cpu_ticks "$vpid")
	stop_viewer "$how" "$vpid"
	echo "viewer=$how tasks=$N secs=$SECS cpu_s=$(awk -v d=$((t1 - t0)) -v hz="$HZ" \
		'BEGIN {printf "%.2f", d / hz}')" \
		"cpu_of_one_core=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v s="$SECS" \
			'BEGIN {printf "%.1f%%", d / hz / s * 100}')"
done
kill "$spid"
wait "$spid" 2>/dev/null || true

one() { # label: off or on
	"$B/samples/echo_server" 0 "$N" >"$tmp/eready" 2>"$tmp/err" &
	local epid=$!
	pids+=("$epid")
	while ! grep -q ready "$tmp/eready" 2>/dev/null; do sleep 0.05; done
	port=$(sed -n 's/.* port \([0-9]*\) ready/\1/p' "$tmp/eready")
	local vpid=""
	if [ "$1" = on ]; then
		vpid=$(viewer "$FULL" "$epid")
		sleep "$WARMUP"
	fi
	line=$("$B/bench/echo_load" -p "$port" -c 32 -s 64 -t 2 -d "$SECS" -w 1)
	[ -n "$vpid" ] && stop_viewer "$FULL" "$vpid"
	kill "$epid"
	wait "$epid" 2>/dev/null || true
	rate=$(echo "$line" | sed -n 's/.*msgs_per_s=\([0-9.]*\).*/\1/p')
	echo "$1 viewer=$FULL msgs_per_s=$rate"
	echo "$rate" >>"$tmp/$1"
}
for i in $(seq "$PAIRS"); do
	one off
	one on
done
off=$(median "$tmp/off")
on=$(median "$tmp/on")
echo "median off=$off on=$on ratio=$(ratio "$on" "$off" 4)"
