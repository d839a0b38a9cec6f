#!/bin/sh
# Install what is missing, then build and run the whole suite three ways:
# a plain build (and a check of what it installs), ASan+UBSan, and TSan
# (the runtime suites, and the tests whose processes run the threads the
# project starts besides: workers, the blocking pool, the watchdog, the
# in-process reader of the engine, samples read live by the CLI).
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh --tests
B=${BUILD_ROOT:-build}
setup() { # dir, options...
	dir=$1
	shift
	if [ -d "$dir" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir" >/dev/null
}
passed=0
skipped=0
run() { # dir, meson test options...
	dir=$1
	shift
	log="$dir/suite.log"
	if ! meson test -C "$dir" --print-errorlogs "$@" >"$log" 2>&1; then
		cat "$log"
		echo "tests: $passed passed, 1 failed"
		exit 1
	fi
	grep -E '^ *[0-9]+/[0-9]+ ' "$log" | sed 's/^/  /'
	ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$log")
	skip=$(sed -n 's/^Skipped: *\([0-9]*\).*/\1/p' "$log")
	passed=$((passed + ok))
	skipped=$((skipped + skip))
	echo "  $dir: $ok passed, $skip skipped"
}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

echo "== plain build"
# The fuzz target is clang's build, the same in every build directory: it
# runs once, here, and must be there (clang and libclang-rt are installed).
setup "$B/plain" --werror -Dfuzz=enabled
run "$B/plain"
if ! ./scripts/check-install.sh "$B/plain"; then
	echo "tests: $passed passed, 1 failed"
	exit 1
fi
passed=$((passed + 1))

echo "== ASan+UBSan"
setup "$B/asan" --werror -Db_sanitize=address,undefined -Db_lundef=false -Dtest_scale=4 -Dfuzz=disabled
run "$B/asan"

echo "== TSan (runtime suites; registry-live, engine, hung-cli, stall, kv-server)"
setup "$B/tsan" --werror -Db_sanitize=thread -Db_lundef=false -Dtest_scale=10 -Dfuzz=disabled
run "$B/tsan" --suite runtime
# Not under TSan: the crash and dump tests (TSan handles SIGSEGV itself, so
# a crashing sample exits 66 with TSan's report instead of ours; and it
# defers an asynchronous signal until the thread calls an intercepted
# function, which a worker parked in a raw futex syscall never does: the
# dump signal to samples/hung goes unhandled), the gdb and core tests, the
# reader and wording tests (single-threaded).
run "$B/tsan" registry-live engine hung-cli stall kv-server

echo "tests: $passed passed, $skipped skipped, 0 failed"
