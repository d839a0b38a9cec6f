#!/bin/sh
# Install, build, start the `hung` sample and show what its tasks are
# doing, from outside the process.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
B=${BUILD_ROOT:-build}/plain
[ -d "$B" ] || meson setup "$B" >/dev/null
ninja -C "$B" >/dev/null
out=$(mktemp)
"$B/samples/hung" >"$out" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$out"' EXIT HUP INT PIPE TERM
while ! grep -q ready "$out"; do sleep 0.1; done
cat "$out"
echo
echo "\$ tasktrace ps $pid"
"$B/symbolizer/tasktrace" ps "$pid"
echo
echo "\$ tasktrace bt $pid"
"$B/symbolizer/tasktrace" bt "$pid"
