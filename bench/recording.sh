#!/bin/sh
# The cost of recording: the same benchmarks against a library built with
# -Drecording=true and one with -Drecording=false, run alternately in one
# session; prints the median ns/op of each, their ratio and the median of
# the pairs' ratios (bench/lib.sh says why), then the
# instruction counts of one await-chain run under callgrind (exact, not
# noisy).  usage: bench/recording.sh [runs]
set -eu
. "$(dirname "$0")/lib.sh" # median, ratio, pair_ratios
cd "$(dirname "$0")/.."
RUNS=${1:-5}
B=${BUILD_ROOT:-build}
for cfg in rec:true norec:false; do
	dir="$B/bench-${cfg%%:*}"
	[ -d "$dir" ] || meson setup "$dir" --buildtype=release -Dtests=false \
		-Drecording="${cfg#*:}" >/dev/null
	ninja -C "$dir" bench/bench_runtime >/dev/null
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
i=0
while [ $i -lt "$RUNS" ]; do
	for cfg in rec norec; do
		"$B/bench-$cfg/bench/bench_runtime" all >>"$tmp/$cfg"
	done
	i=$((i + 1))
done
printf '%-12s %14s %14s %8s %12s\n' workload "recording ns" "off ns" ratio "pairs' ratio"
for w in spawn-join await-chain sleep; do
	for cfg in rec norec; do
		grep "^$w " "$tmp/$cfg" | awk '{print $4}' >"$tmp/$cfg.$w"
	done
	on=$(median "$tmp/rec.$w")
	off=$(median "$tmp/norec.$w")
	pairs=$(pair_ratios "$tmp/rec.$w" "$tmp/norec.$w" | median)
	printf '%-12s %14s %14s %8s %12s\n' $w "$on" "$off" "$(ratio "$on" "$off" 2)" "$pairs"
done
if command -v valgrind >/dev/null; then
	# Exact counts: await-chain (1e6 yields through 4 frames, one task on
	# a current-thread runtime) is deterministic; spawn-join runs on 2
	# workers, so its count moves by a few tenths of a percent run to run.
	for w in await-chain spawn-join; do
		for cfg in rec norec; do
			valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$cfg" \
				"$B/bench-$cfg/bench/bench_runtime" $w >/dev/null 2>"$tmp/vg.$cfg"
			eval "ir_$cfg=\$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' \"$tmp/vg.$cfg\")"
		done
		echo "callgrind $w: recording $ir_rec Ir, off $ir_norec Ir, ratio $(echo "$ir_rec $ir_norec" | awk '{printf "%.3f", $1/$2}')"
	done
fi
