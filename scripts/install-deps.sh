#!/bin/sh
# Install the Debian 12 packages tasktrace builds, tests and demos with,
# skipping those already present.  Needs root (or sudo).  clang with
# libclang-rt-14-dev (libclang_rt.fuzzer, the sanitizer runtimes) builds the
# reader's fuzz target (tests/fuzz); python3-clang the locals check
# (tools/tt-check-locals.py).  zlib gzips `tasktrace profile --format pprof`;
# golang-go (go tool pprof) and python3-jsonschema (speedscope's schema)
# read its output back in tests/cli/profile.py.
set -eu
PKGS="meson ninja-build pkg-config gcc clang libclang-rt-14-dev libdw-dev libelf-dev
check gdb elfutils binutils python3 python3-clang valgrind llvm-14 libc6-dbg zlib1g-dev
golang-go python3-jsonschema"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
