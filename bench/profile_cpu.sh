#!/bin/bash
# The CPU tasktrace profile itself takes (user + system, of one core) on
# samples/many_tasks N, sampling at RATE for SECS, and the rate it keeps
# to (it lowers the rate past half a core and says so on stderr).
#
#   bench/profile_cpu.sh BUILD_DIR N [SECS] [RATE]
set -eu
B=${1:?usage: bench/profile_cpu.sh BUILD_DIR N [SECS] [RATE]}
N=${2:?usage: bench/profile_cpu.sh BUILD_DIR N [SECS] [RATE]}
SECS=${3:-10}
RATE=${4:-99}
tmp=$(mktemp -d)
"$B/samples/many_tasks" "$N" >"$tmp/ready" 2>/dev/null &
spid=$!
trap 'kill $spid 2>/dev/null; rm -rf "$tmp"' EXIT
while ! grep -q ready "$tmp/ready" 2>/dev/null; do sleep 0.1; done
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "%U %S %e" -o "$tmp/time" "$B/symbolizer/tasktrace" profile \
	--duration "${SECS}s" --rate "$RATE" --format pprof -o "$tmp/p.pb.gz" "$spid" 2>"$tmp/err"
read -r user sys wall <"$tmp/time"
echo "tasks=$N rate_asked=$RATE secs=$SECS cpu_s=$(echo "$user $sys" | awk '{print $1 + $2}')" \
	"(user $user sys $sys) wall_s=$wall" \
	"cpu_of_one_core=$(echo "$user $sys $wall" | awk '{printf "%.0f%%", ($1 + $2) / $3 * 100}')"
grep -v '^Main binary' "$tmp/err" || echo "kept the asked rate"
