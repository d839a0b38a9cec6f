#!/bin/sh
# The readers of two builds side by side, alternating run by run on the same
# cores: `tasktrace ps` on a core of `many_tasks 1000000`, gdb `info tasks`,
# `task bt all` and MI `-task-list` on a core of `many_tasks 100000` (each
# timed inside a fresh gdb), `tasktrace bt` on that core, and the in-process
# `tt_dump_tasks` of 10,000 tasks (bench/diag_bench).  Medians of REPS runs
# and NEW/BASE ratios; the outputs of the two builds are compared too.
# Usage: bench/readers.sh BASE_SRC BASE_BUILD NEW_SRC NEW_BUILD
#   (REPS=5, N_PS=1000000, N_GDB=100000, N_DUMP=10000; KEEP=1 keeps the cores)
# Both builds: meson --buildtype=debugoptimized (the default), -Dtests=false is fine.
set -eu
. "$(dirname "$0")/lib.sh" # median, ratio, pair_ratios
[ $# -eq 4 ] || { sed -n '2,12p' "$0"; exit 2; }
BASE_SRC=$(cd "$1" && pwd) BASE=$(cd "$2" && pwd) NEW_SRC=$(cd "$3" && pwd) NEW=$(cd "$4" && pwd)
REPS=${REPS:-5} N_PS=${N_PS:-1000000} N_GDB=${N_GDB:-100000} N_DUMP=${N_DUMP:-10000}
DIR=${TMPDIR:-/tmp}/tt-readers.$$
mkdir -p "$DIR"
PIDS=
trap 'for p in $PIDS; do kill $p 2>/dev/null || true; done; [ -n "${KEEP:-}" ] || rm -rf "$DIR"' EXIT INT TERM

core_of() { # N -> path of a gcore core of NEW's many_tasks N
	"$NEW/samples/many_tasks" "$1" > "$DIR/mt.$1.out" &
	p=$!
	PIDS="$PIDS $p"
	while ! grep -q ready "$DIR/mt.$1.out" 2>/dev/null; do sleep 0.2; done
	gcore -o "$DIR/core.$1" "$p" > /dev/null 2>&1
	kill "$p"
	wait "$p" 2>/dev/null || true
	echo "$DIR/core.$1.$p"
}
reader_lib() { # build dir -> the library gdb's plugin loads
	for l in "$1"/core-runtime/libtasktrace-reader.so.0 "$1"/core-runtime/libtasktrace.so.0; do
		[ -e "$l" ] && { echo "$l"; return; }
	done
	echo "no reader library in $1" >&2
	exit 1
}
secs() { date +%s.%N; }

cat > "$DIR/timed.py" << 'EOF'
import os, time, gdb
cmd, out = os.environ["BENCH_CMD"], os.environ["BENCH_OUT"]
t0 = time.perf_counter()
text = gdb.execute(cmd, to_string=True)
t1 = time.perf_counter()
with open(out, "w") as f:
    f.write(text)
print("BENCH_CMD_S %.4f" % (t1 - t0))
EOF

# gdb SRC BUILD CMD OUT: the command's time inside a fresh gdb on the gdb core
gdb_cmd() {
	BENCH_CMD=$3 BENCH_OUT=$4 TASKTRACE_LIB=$(reader_lib "$2") gdb -batch -nx \
		-ex "python import sys; sys.path.insert(0, '$1/gdb-plugin/python')" \
		-ex "python import tasktrace_gdb" "$NEW/samples/many_tasks" "$GDB_CORE" \
		-ex "source $DIR/timed.py" > "$4.log" 2>&1
	sed -n 's/^BENCH_CMD_S //p' "$4.log" | grep . || { tail -3 "$4.log" >&2; echo fail; }
}
# cli BUILD ARGS...: wall time of one tasktrace run, output in $DIR/out
cli() {
	b=$1
	shift
	t0=$(secs)
	"$b/symbolizer/tasktrace" "$@" > "$DIR/out" 2>&1
	t1=$(secs)
	echo "$t1 - $t0" | bc
}
dump() { # build -> median ms of diag_bench's dump
	RUNS=5 "$1/bench/diag_bench" "$N_DUMP" dump | sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p'
}

PS_CORE=$(core_of "$N_PS")
GDB_CORE=$(core_of "$N_GDB")
echo "cores: many_tasks $N_PS ($(du -m "$PS_CORE" | cut -f1) MiB), many_tasks $N_GDB;" \
	"$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) before the runs"

i=1
while [ "$i" -le "$REPS" ]; do
	for side in base new; do
		if [ $side = base ]; then src=$BASE_SRC b=$BASE; else src=$NEW_SRC b=$NEW; fi
		echo "$(cli "$b" ps "$PS_CORE")" >> "$DIR/$side.ps"
		cp "$DIR/out" "$DIR/$side.ps.txt"
		gdb_cmd "$src" "$b" "info tasks" "$DIR/$side.it.txt" >> "$DIR/$side.it"
		gdb_cmd "$src" "$b" "task bt all" "$DIR/$side.btall.txt" >> "$DIR/$side.btall"
		gdb_cmd "$src" "$b" 'interpreter-exec mi "-task-list"' "$DIR/$side.mi.txt" >> "$DIR/$side.mi"
		echo "$(cli "$b" bt "$GDB_CORE")" >> "$DIR/$side.bt"
		cp "$DIR/out" "$DIR/$side.bt.txt"
		dump "$b" >> "$DIR/$side.dump"
	done
	i=$((i + 1))
done

echo
echo "| measure | base, median | new, median | new/base |"
echo "|---|---:|---:|---:|"
for m in "ps:tasktrace ps, core of $N_PS (s)" "it:gdb info tasks, $N_GDB (s, in the command)" \
	"btall:gdb task bt all, $N_GDB (s, in the command)" "bt:tasktrace bt, $N_GDB (s)" \
	"mi:gdb MI -task-list, $N_GDB (s, in the command)" "dump:tt_dump_tasks of $N_DUMP (ms)"; do
	k=${m%%:*}
	b=$(median "$DIR/base.$k") n=$(median "$DIR/new.$k")
	echo "| ${m#*:} | $b | $n | $(ratio "$n" "$b" 2) |"
done
echo
echo "new: gdb task bt all / tasktrace bt = $(ratio "$(median "$DIR/new.btall")" "$(median "$DIR/new.bt")" 2)"
for k in ps it bt; do
	cmp -s "$DIR/base.$k.txt" "$DIR/new.$k.txt" && echo "$k: output identical" ||
		echo "$k: output DIFFERS ($(diff "$DIR/base.$k.txt" "$DIR/new.$k.txt" | grep -c '^[<>]') lines)"
done
if cmp -s "$DIR/new.btall.txt" "$DIR/new.bt.txt"; then
	echo "new: gdb task bt all = tasktrace bt, byte for byte"
else
	echo "new: gdb task bt all differs from tasktrace bt"
fi
