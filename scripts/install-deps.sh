#!/bin/sh
# Install the Debian 12 packages tasktrace builds, tests and demos with,
# skipping those already present.  Needs root (or sudo).  clang with
# libclang-rt-14-dev (libclang_rt.fuzzer, the sanitizer runtimes) builds the
# reader's fuzz target (tests/fuzz); python3-clang the locals check
# (tools/tt-check-locals.py).  zlib gzips `tasktrace profile --format pprof`;
# libncurses-dev draws `tasktrace top`'s full-screen view, which tmux drives
# in tests/cli/top_tmux.py (--tests);
# golang-go (go tool pprof) and python3-jsonschema (speedscope's schema)
# read its output back in tests/cli/profile.py.  chromium, with the npm
# packages speedscope and playwright-core in /opt/tasktrace-npm (TT_NPM_DIR),
# imports `tasktrace trace` output in tests/cli/trace.py, with the machine's
# Node.js (20 or newer: playwright-core's minimum, above Debian 12's 18);
# they are optional: a failure to install them, or an older Node.js, only
# makes that test skip.  Those consumers are
# for the tests only: `install-deps.sh --tests` (scripts/test.sh) installs
# them, the demo does without.
set -eu
TESTS=0
[ "${1:-}" = "--tests" ] && TESTS=1
PKGS="meson ninja-build pkg-config gcc clang libclang-rt-14-dev libdw-dev libelf-dev
check gdb elfutils binutils python3 python3-clang valgrind llvm-14 libc6-dbg zlib1g-dev
libncurses-dev"
[ $TESTS = 1 ] && PKGS="$PKGS golang-go python3-jsonschema tmux"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
if [ -n "$missing" ]; then
	echo "installing:$missing"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
[ $TESTS = 1 ] || exit 0
# The trace test's consumer: optional, so never fatal.
if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "ok installed"; then
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
		chromium || echo "chromium not installed: the trace-speedscope test will skip"
fi
NPM_DIR=${TT_NPM_DIR:-/opt/tasktrace-npm}
if [ ! -d "$NPM_DIR/node_modules/speedscope" ] || [ ! -d "$NPM_DIR/node_modules/playwright-core" ]; then
	{ command -v npm >/dev/null && $SUDO mkdir -p "$NPM_DIR" &&
		$SUDO npm install --prefix "$NPM_DIR" --no-audit --no-fund --silent \
			speedscope@1.25.0 playwright-core@1.65.1; } ||
		echo "speedscope/playwright-core not installed: the trace-speedscope test will skip"
fi
