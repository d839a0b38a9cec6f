#!/bin/sh
# The Go twin of samples/kv_server (bench/kv_go, the line-count comparison
# of bench/RESULTS.md) passes the same checks: builds offline with the
# standard library, exits 0 on SIGTERM mid-load with every acknowledged
# write in its last flush.  A skip (77) without Go.
# usage: kv_server_go.sh SOURCE_ROOT
set -eu
src=$1
go=$(command -v go || ls /usr/lib/go-*/bin/go 2>/dev/null | tail -n 1 || true)
if [ -z "$go" ]; then
	echo "no Go toolchain: skipped"
	exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export GOCACHE="${GOCACHE:-$dir/cache}" GOFLAGS=-mod=mod GOPROXY=off
(cd "$src/bench/kv_go" && "$go" build -o "$dir/kv_go" .)
python3 "$src/tests/cli/kv_server.py" - "$dir/kv_go"
