#!/bin/sh
# `info tasks` of the gdb plugin on a gcore core of `many_tasks N` against
# Go's `info goroutines` (runtime-gdb.py) on a core of N goroutines blocked
# on a channel (bench/go_goroutines).  Both cores are made here; then, in
# turn, REPS runs of each in a fresh `gdb -batch -nx`: the command itself
# timed inside gdb (time.perf_counter around gdb.execute(..., to_string=True))
# and the whole gdb process (startup, symbols, core) by the shell.  Also
# `info tasks -group` (its own fresh gdb, so a cold snapshot too), the rows
# that show the user's suspension line, what Go shows instead, and
# `goroutine 1 bt` / `task bt 2` on the cores.
# Usage: bench/gdb_info_tasks.sh [BUILD_DIR]   (N=... REPS=... KEEP=1;
# PLUGIN=dir to time another copy of gdb-plugin/python)
# BUILD_DIR (default build-gdb-bench) is set up with meson if missing.
set -eu
. "$(dirname "$0")/lib.sh" # median, ratio, pair_ratios
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build-gdb-bench}
N=${N:-100000}
REPS=${REPS:-5}
GOROOT_SRC=/usr/lib/go-1.19/src/runtime/runtime-gdb.py
DIR=${TMPDIR:-/tmp}/tt-gdb-info-tasks.$$
mkdir -p "$DIR"
TT_PID= GO_PID=
trap 'for p in $TT_PID $GO_PID; do kill $p 2>/dev/null || true; done; [ -n "${KEEP:-}" ] || rm -rf "$DIR"' EXIT INT TERM

# ---- build both ----
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" "$SRC" --buildtype=release -Dtests=false > /dev/null
ninja -C "$BUILD" samples/many_tasks > /dev/null
command -v go > /dev/null || { echo "no go: apt-get install -y golang-go" >&2; exit 1; }
(cd "$SRC/bench/go_goroutines" && GOCACHE=${GOCACHE:-$DIR/gocache} go build -o "$DIR/go_goroutines" .)
TT_EXE=$(cd "$BUILD" && pwd)/samples/many_tasks
GO_EXE=$DIR/go_goroutines

# ---- start both, dump cores ----
"$TT_EXE" "$N" > "$DIR/tt.out" &
TT_PID=$!
"$GO_EXE" "$N" > "$DIR/go.out" &
GO_PID=$!
while ! grep -q ready "$DIR/tt.out" 2>/dev/null || ! grep -q ready "$DIR/go.out" 2>/dev/null; do
	sleep 0.2
done
gcore -o "$DIR/tt.core" "$TT_PID" > /dev/null 2>&1
gcore -o "$DIR/go.core" "$GO_PID" > /dev/null 2>&1
kill "$TT_PID" "$GO_PID"
TT_CORE=$DIR/tt.core.$TT_PID
GO_CORE=$DIR/go.core.$GO_PID
TT_PID= GO_PID=

# The command timed inside gdb; its output kept for the checks.
cat > "$DIR/timed.py" << 'EOF'
import os, time, gdb
cmd, out = os.environ["BENCH_CMD"], os.environ["BENCH_OUT"]
c0, t0 = time.process_time(), time.perf_counter()
text = gdb.execute(cmd, to_string=True)
t1, c1 = time.perf_counter(), time.process_time()
with open(out, "w") as f:
    f.write(text)
print("BENCH_CMD_S %.4f %.4f" % (t1 - t0, c1 - c0))
EOF
LOAD_TT="python import sys; sys.path.insert(0, '${PLUGIN:-$SRC/gdb-plugin/python}')"

# run KIND CMD: one fresh gdb; appends "cmd_wall cmd_cpu total_wall" (s) to
# $DIR/KIND.times
run() {
	kind=$1 cmd=$2
	if [ "$kind" = go ]; then
		set -- -iex "add-auto-load-safe-path $(dirname "$(readlink -f "$GOROOT_SRC")")" \
			"$GO_EXE" "$GO_CORE"
	else
		set -- -ex "$LOAD_TT" -ex "python import tasktrace_gdb" "$TT_EXE" "$TT_CORE"
	fi
	t0=$(date +%s.%N)
	BENCH_CMD=$cmd BENCH_OUT=$DIR/$kind.txt gdb -batch -nx "$@" -ex "source $DIR/timed.py" \
		> "$DIR/$kind.log" 2>&1
	t1=$(date +%s.%N)
	c=$(sed -n 's/^BENCH_CMD_S //p' "$DIR/$kind.log")
	[ -n "$c" ] || { echo "$kind: $cmd failed:" >&2; tail -5 "$DIR/$kind.log" >&2; exit 1; }
	echo "$c $(echo "$t1 - $t0" | bc)" >> "$DIR/$kind.times"
}

column() { # the median of column $1 of file $2, 3 decimals
	printf '%.3f' "$(awk -v c="$1" '{print $c}' "$2" | median)"
}
range_of() { # min-max of column $1 of file $2
	sort -n -k"$1","$1" "$2" | awk -v c="$1" 'NR == 1 {lo = $c} {hi = $c} END {printf "%.3f-%.3f", lo, hi}'
}

i=1
while [ "$i" -le "$REPS" ]; do
	run tt "info tasks"
	run go "info goroutines"
	run ttgroup "info tasks -group"
	i=$((i + 1))
done

# ---- checks ----
tt_rows=$(($(wc -l < "$DIR/tt.txt") - 1))
tt_user=$(grep -Ec ' at samples/many_tasks\.c:[0-9]+$' "$DIR/tt.txt" || true)
tt_sites=$(grep -Eo 'samples/many_tasks\.c:[0-9]+$' "$DIR/tt.txt" | sort | uniq -c |
	awk '{printf "%s%s x%s", sep, $2, $1; sep = ", "}')
go_rows=$(grep -Ec '^[* ] +[0-9]+ ' "$DIR/go.txt" || true)
go_where=$(grep -E '^[* ] +[0-9]+ ' "$DIR/go.txt" | awk '{print $NF}' | sort | uniq -c | sort -rn |
	awk '{printf "%s%s x%s", sep, $2, $1; sep = ", "}')
group_rows=$(($(wc -l < "$DIR/ttgroup.txt") - 1))

echo "N=$N, $REPS runs each, alternating, fresh gdb -batch -nx each; $(nproc) CPUs; gdb $(gdb --version | head -1 | awk '{print $NF}'), $(go version | awk '{print $3}')"
echo
echo "| command (core of N=$N) | command in gdb: wall, median (range) | its CPU, median | whole gdb run: wall, median (range) |"
echo "|---|---:|---:|---:|"
for k in "tt:tasktrace \`info tasks\`" "ttgroup:tasktrace \`info tasks -group\`" \
	 "go:Go \`info goroutines\`"; do
	f=$DIR/${k%%:*}.times
	echo "| ${k#*:} | $(column 1 "$f") ($(range_of 1 "$f")) | $(column 2 "$f") | $(column 3 "$f") ($(range_of 3 "$f")) |"
done
echo
echo "tasktrace: $tt_rows rows, $tt_user with the user suspension line ($tt_sites); -group: $group_rows rows"
echo "Go: $go_rows rows, where shown: $go_where"
echo
echo "tasktrace \`task bt 2\` on the core:"
gdb -batch -nx -ex "$LOAD_TT" -ex "python import tasktrace_gdb" -ex "task bt 2" \
	"$TT_EXE" "$TT_CORE" 2>&1 | sed -n '/^task 2 /,$p' | sed 's/^/    /'
echo "Go \`goroutine 1 bt\` on the core:"
gdb -batch -nx -iex "add-auto-load-safe-path $(dirname "$(readlink -f "$GOROOT_SRC")")" \
	-ex "goroutine 1 bt" "$GO_EXE" "$GO_CORE" 2>&1 | sed -n '/^Loading Go Runtime/,$p' | sed 's/^/    /'
