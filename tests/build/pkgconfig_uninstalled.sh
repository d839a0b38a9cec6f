#!/bin/sh
# A program builds and runs against the build tree, without `meson
# install`, through the uninstalled pkg-config files meson writes
# (docs/guide.md, "Building against the build tree"): tasktrace,
# tasktrace-reader and tasktrace-sym.
# usage: pkgconfig_uninstalled.sh SOURCE_ROOT BUILD_ROOT CC
set -eu
SRC=$1
BUILD=$2
CC=$3
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
fail() { echo "pkgconfig-uninstalled: $*" >&2; exit 1; }
export PKG_CONFIG_PATH="$BUILD/meson-uninstalled"

for p in tasktrace tasktrace-reader tasktrace-sym; do
	pkg-config --exists "$p" || fail "pkg-config does not find $p in $PKG_CONFIG_PATH"
done
flags=$(pkg-config --cflags --libs tasktrace)
# The libraries are in the build tree, not on the loader's path: the
# program carries the directories pkg-config named.
rpath=$(pkg-config --libs-only-L tasktrace | sed 's/-L/-Wl,-rpath,/g')
# shellcheck disable=SC2086
"$CC" -o "$OUT/hello" "$SRC/samples/hello.c" $flags $rpath || fail "hello did not build with: $flags"
"$OUT/hello" > "$OUT/hello.out" || fail "hello failed: $(cat "$OUT/hello.out")"
grep -q '^sum of squares: 14$' "$OUT/hello.out" || fail "hello printed: $(cat "$OUT/hello.out")"
ldd "$OUT/hello" | grep -q "$BUILD/core-runtime/libtasktrace.so" ||
	fail "hello is not linked to the build tree's library: $(ldd "$OUT/hello")"

# The reader side: a program reading its own registry.
cat > "$OUT/self.c" <<'EOF2'
#include <stdio.h>
#include "tasktrace/read/reader.h"
#include "tasktrace/tasktrace.h"
int main(void)
{
	tt_reader r;
	int rc = tt_reader_open(&r, tt_mem_self(), (uint64_t)(uintptr_t)tt_registry_root(), NULL);
	printf("open %d\n", rc);
	return rc != 0;
}
EOF2
# shellcheck disable=SC2086
"$CC" -o "$OUT/self" "$OUT/self.c" $flags $rpath || fail "a reader program did not build"
"$OUT/self" | grep -q '^open 0$' || fail "a reader program could not read its own registry"
echo "pkgconfig-uninstalled: ok"
