#!/bin/sh
# tasktrace against Go, tokio and libuv ("Runtime resources and sync"):
#
#   pingpong  two tasks, a bounded channel (capacity 1) each way, N round trips
#   mutex     K tasks each lock/increment/unlock a shared mutex M times
#   spawnjoin SJ_ROUNDS rounds of spawning 1,000 tiny tasks, then joining
#             each (Go: a goroutine and a buffered channel as its handle)
#   burst     BURST_N spawns, then their joins (all pending before the first)
#   mem       bytes of RSS per pending task: MEM_N tasks parked on a notify
#             behind a 3-frame chain, minus the RSS before the first spawn
#             (tasktrace bench_runtime mem, tokio Notify, Go a channel)
#   echo      request/response echo on 127.0.0.1 (bench/echo_load client):
#             samples/echo_server (tasktrace, one worker per CPU) against
#             bench/libuv/uv_echo.c (one libuv loop thread)
#
# Builds everything (it installs nothing: scripts/install-bench-deps.sh
# does), then runs every contender once per round, alternating, RUNS rounds
# (the starting contender rotates each round), and prints the median of each
# and the ratios.  Contenders whose toolchain is missing are skipped.
#
# Every contender runs with 2 workers (Go: GOMAXPROCS=2) unless named -w0.
#
# usage: bench/compare.sh [runs]      (default 5)
#        ONLY=spawn bench/compare.sh   spawnjoin, burst and mem alone
# env:   BUILD_ROOT (default build)  PP_N MUTEX_K MUTEX_M SJ_ROUNDS BURST_N MEM_N
#        ECHO_CONNS ECHO_SIZE ECHO_SECS ECHO_WARMUP  ONLY=sync|echo|spawn
#        KEEP=dir (keep the raw outputs there)
set -eu
. "$(dirname "$0")/lib.sh" # median, ratio, pair_ratios
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUNS=${1:-5}
B=${BUILD_ROOT:-build}
case $B in /*) ;; *) B="$ROOT/$B" ;; esac
BD="$B/bench-cmp"
PP_N=${PP_N:-200000}
MUTEX_K=${MUTEX_K:-16}
MUTEX_M=${MUTEX_M:-20000}
SJ_ROUNDS=${SJ_ROUNDS:-200}
BURST_N=${BURST_N:-100000}
MEM_N=${MEM_N:-1000000}
ECHO_CONNS=${ECHO_CONNS:-16}
ECHO_SIZE=${ECHO_SIZE:-64}
ECHO_SECS=${ECHO_SECS:-3}
ECHO_WARMUP=${ECHO_WARMUP:-0.5}
ONLY=${ONLY:-all}

# ---- build ----
[ -d "$BD" ] || meson setup "$BD" --buildtype=release -Dtests=false >/dev/null
ninja -C "$BD" bench/sync_bench bench/bench_runtime bench/echo_load samples/echo_server >/dev/null
have_uv=0
if [ -f "$BD/build.ninja" ] && grep -q 'bench/uv_echo:' "$BD/build.ninja"; then
	ninja -C "$BD" bench/uv_echo >/dev/null && have_uv=1
fi
[ $have_uv = 1 ] || echo "compare: libuv1-dev missing (scripts/install-bench-deps.sh, then rm -rf $BD): no libuv run" >&2
GO=$(command -v go || true)
[ -n "$GO" ] || { [ -x /usr/lib/go-1.19/bin/go ] && GO=/usr/lib/go-1.19/bin/go; } || true
if [ -n "$GO" ]; then
	(cd bench/go && GOFLAGS=-mod=mod GOPROXY=off "$GO" build -o "$BD/gosync" .)
else
	echo "compare: go missing (scripts/install-bench-deps.sh): no Go runs" >&2
fi
# Debian's cargo and rustc (the ones built against /usr/share/cargo/registry)
# before any rustup toolchain.
CARGO=$( [ -x /usr/bin/cargo ] && echo /usr/bin/cargo || command -v cargo || true)
if [ -n "$CARGO" ] && ls -d /usr/share/cargo/registry/tokio-1.* >/dev/null 2>&1; then
	(cd bench/tokio && PATH=/usr/bin:$PATH CARGO_TARGET_DIR="$BD/tokio" \
		"$CARGO" build --release --offline -q)
	TOKIO="$BD/tokio/release/tokio-sync-bench"
else
	TOKIO=""
	echo "compare: cargo or librust-tokio-dev missing (scripts/install-bench-deps.sh): no tokio runs" >&2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- contenders: name|command (one output line each) ----
{
	echo "tt-w2|$BD/bench/sync_bench pingpong 2 $PP_N"
	echo "tt-w0|$BD/bench/sync_bench pingpong 0 $PP_N"
	[ -z "$GO" ] || echo "go-p2|env GOMAXPROCS=2 $BD/gosync pingpong $PP_N"
	[ -z "$TOKIO" ] || echo "tokio-w2|$TOKIO pingpong 2 $PP_N"
	[ -z "$TOKIO" ] || echo "tokio-w0|$TOKIO pingpong 0 $PP_N"
} >"$tmp/pingpong.list"
sed -e "s/pingpong \([02]\) $PP_N/mutex \1 $MUTEX_K $MUTEX_M/" \
	-e "s/gosync pingpong $PP_N/gosync mutex $MUTEX_K $MUTEX_M/" \
	"$tmp/pingpong.list" >"$tmp/mutex.list"
# bench_runtime's scale is in units of its default (200 rounds, 100,000).
{
	echo "tt-w2|$BD/bench/bench_runtime spawn-join $((SJ_ROUNDS / 200))"
	[ -z "$GO" ] || echo "go-p2|env GOMAXPROCS=2 $BD/gosync spawnjoin $SJ_ROUNDS 1000"
	[ -z "$TOKIO" ] || echo "tokio-w2|$TOKIO spawnjoin 2 $SJ_ROUNDS 1000"
} >"$tmp/spawnjoin.list"
{
	echo "tt-w2|$BD/bench/bench_runtime burst $((BURST_N / 100000))"
	[ -z "$GO" ] || echo "go-p2|env GOMAXPROCS=2 $BD/gosync burst $BURST_N"
	[ -z "$TOKIO" ] || echo "tokio-w2|$TOKIO burst 2 $BURST_N"
} >"$tmp/burst.list"
{
	echo "tt-w2|$BD/bench/bench_runtime mem $MEM_N"
	[ -z "$GO" ] || echo "go-p2|env GOMAXPROCS=2 $BD/gosync mem $MEM_N"
	[ -z "$TOKIO" ] || echo "tokio-w2|$TOKIO mem 2 $MEM_N"
} >"$tmp/mem.list"
{
	echo "tt-w2|$BD/samples/echo_server 0"
	[ $have_uv = 0 ] || echo "uv|$BD/bench/uv_echo 0"
} >"$tmp/echo.list"

# One echo run: start the server on a free port, load it, stop it.
nserv=0
echo_run() { # server command
	# A fresh file per server: the background redirection truncates
	# asynchronously, so a reused one could show the last server's port.
	nserv=$((nserv + 1))
	out="$tmp/srv.$nserv.out"
	: >"$out"
	$1 >>"$out" 2>&1 &
	spid=$!
	i=0
	while ! grep -q ' ready' "$out" && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	port=$(sed -n 's/.* port \([0-9]*\) ready.*/\1/p' "$out")
	if [ -n "$port" ]; then
		"$BD/bench/echo_load" -h 127.0.0.1 -p "$port" -c "$ECHO_CONNS" -s "$ECHO_SIZE" \
			-d "$ECHO_SECS" -w "$ECHO_WARMUP" || true
	else
		echo "server did not start: $1" >&2
	fi
	kill "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
}

run_round() { # workload round
	n=$(wc -l <"$tmp/$1.list")
	k=0
	while [ $k -lt "$n" ]; do
		# rotate the starting contender every round
		line=$(sed -n "$(( (k + $2) % n + 1 ))p" "$tmp/$1.list")
		name=${line%%|*}
		cmd=${line#*|}
		if [ "$1" = echo ]; then
			echo_run "$cmd" >>"$tmp/$1.$name"
		else
			$cmd >>"$tmp/$1.$name" || echo "FAILED" >>"$tmp/$1.$name"
		fi
		k=$((k + 1))
	done
}

workloads="pingpong mutex spawnjoin burst mem echo"
[ "$ONLY" = sync ] && workloads="pingpong mutex"
[ "$ONLY" = echo ] && workloads="echo"
[ "$ONLY" = spawn ] && workloads="spawnjoin burst mem"
r=0
while [ $r -lt "$RUNS" ]; do
	for w in $workloads; do
		run_round "$w" $r
	done
	r=$((r + 1))
done

field_median() { # file field
	sed -n "s/.* $2=\([0-9.]*\).*/\1/p" "$1" | median
}

echo "runs=$RUNS (medians); pingpong n=$PP_N round trips, mutex k=$MUTEX_K m=$MUTEX_M, spawnjoin $SJ_ROUNDS x 1000, burst $BURST_N, mem $MEM_N tasks, echo conns=$ECHO_CONNS size=$ECHO_SIZE secs=$ECHO_SECS"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
for w in pingpong mutex; do
	case " $workloads " in *" $w "*) ;; *) continue ;; esac
	printf '\n%-9s %-9s %12s %14s %14s\n' "$w" contender "ns/op" "tt-w2/this" "tt-w0/this"
	tw2=$(field_median "$tmp/$w.tt-w2" ns_per_op)
	tw0=$(field_median "$tmp/$w.tt-w0" ns_per_op)
	while IFS='|' read -r name cmd; do
		m=$(field_median "$tmp/$w.$name" ns_per_op)
		printf '%-9s %-9s %12s %14s %14s\n' "" "$name" "$m" "$(ratio "$tw2" "$m" 2)" "$(ratio "$tw0" "$m" 2)"
	done <"$tmp/$w.list"
done
for w in spawnjoin burst; do
	case " $workloads " in *" $w "*) ;; *) continue ;; esac
	printf '\n%-9s %-9s %12s %14s\n' "$w" contender "ns/op" "tt-w2/this"
	tw2=$(field_median "$tmp/$w.tt-w2" ns_per_op)
	while IFS='|' read -r name cmd; do
		m=$(field_median "$tmp/$w.$name" ns_per_op)
		printf '%-9s %-9s %12s %14s\n' "" "$name" "$m" "$(ratio "$tw2" "$m" 2)"
	done <"$tmp/$w.list"
done
case " $workloads " in *" mem "*)
	printf '\n%-9s %-9s %12s %14s\n' mem contender "bytes/task" "tt-w2/this"
	tw2=$(field_median "$tmp/mem.tt-w2" bytes_per_task)
	while IFS='|' read -r name cmd; do
		m=$(field_median "$tmp/mem.$name" bytes_per_task)
		printf '%-9s %-9s %12s %14s\n' "" "$name" "$m" "$(ratio "$tw2" "$m" 2)"
	done <"$tmp/mem.list"
	;;
esac
case " $workloads " in *" echo "*)
	printf '\n%-9s %-9s %12s %10s %10s %14s\n' echo server "msgs/s" "p50 us" "p99 us" "tt/this msgs"
	tt=$(field_median "$tmp/echo.tt-w2" msgs_per_s)
	while IFS='|' read -r name cmd; do
		m=$(field_median "$tmp/echo.$name" msgs_per_s)
		printf '%-9s %-9s %12s %10s %10s %14s\n' "" "$name" "$m" \
			"$(field_median "$tmp/echo.$name" p50_us)" "$(field_median "$tmp/echo.$name" p99_us)" \
			"$(ratio "$tt" "$m" 2)"
	done <"$tmp/echo.list"
	;;
esac
echo "(ns/op and bytes/task ratios > 1: tasktrace slower or bigger; msgs/s ratio < 1: tasktrace slower)"
if [ -n "${KEEP:-}" ]; then
	mkdir -p "$KEEP"
	cp "$tmp"/* "$KEEP"/
fi
