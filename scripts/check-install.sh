#!/bin/sh
# What `meson install` lays out works on its own: a program built against
# the installed headers and tasktrace.pc runs, shared and (pkg-config
# --static) fully static, and gdb, given only the installed plugin
# directory, lists the tasks of a shared and of a static program with the
# installed reader library.
# usage: scripts/check-install.sh BUILD_DIR   (a configured, built tree)
set -eu
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
DEST=$BUILD/install-check
opt() { meson introspect "$BUILD" --buildoptions |
	python3 -c "import json, sys; print({o['name']: o['value'] for o in json.load(sys.stdin)}['$1'])"; }
PREFIX=$DEST$(opt prefix)
LIBDIR=$PREFIX/$(opt libdir)
PYDIR=$PREFIX/$(opt datadir)/tasktrace/gdb/python
PID=
trap '[ -z "$PID" ] || kill "$PID" 2>/dev/null || true' EXIT INT TERM
fail() { echo "check-install: $*" >&2; exit 1; }

rm -rf "$DEST"
meson install -C "$BUILD" --destdir "$DEST" --quiet > /dev/null

# pkg-config's own prefix is /usr/local: point it at the staged copy.
flags=$(PKG_CONFIG_PATH=$LIBDIR/pkgconfig pkg-config --define-variable=prefix="$PREFIX" --cflags --libs tasktrace)
# DT_RPATH, not RUNPATH: it also finds libtasktrace-reader for libtasktrace.
cc -o "$DEST/hello" "$SRC/samples/hello.c" $flags -Wl,--disable-new-dtags,-rpath,"$LIBDIR"
"$DEST/hello" | grep -q 'hello from task' || fail "hello built against the install did not run"
ldd "$DEST/hello" | grep -q "$LIBDIR/libtasktrace.so" || fail "hello is not linked to the installed library"

# pkg-config --static: the archives and what they need (threads, and the -u
# that links the reporters), with a static C library too.
pc() { PKG_CONFIG_PATH=$LIBDIR/pkgconfig pkg-config --define-variable=prefix="$PREFIX" "$@"; }
sflags="$(pc --cflags tasktrace) -static $(pc --static --libs tasktrace)"
cc -o "$DEST/hello-static" "$SRC/samples/hello.c" $sflags || fail "static link failed: $sflags"
readelf -d "$DEST/hello-static" 2>/dev/null | grep -q NEEDED && fail "hello-static is not static"
"$DEST/hello-static" | grep -q 'hello from task' || fail "the static hello did not run"
cc -o "$DEST/crash-static" "$SRC/samples/crash.c" $sflags
TASKTRACE_CRASH=1 "$DEST/crash-static" > /dev/null 2> "$DEST/crash.err" && fail "the static crash sample did not crash"
grep -q ' executor frames\? pruned)' "$DEST/crash.err" ||
	fail "the static crash log pruned no executor frame: $(cat "$DEST/crash.err")"
grep -q 'read_byte_poll (async read_byte)' "$DEST/crash.err" ||
	fail "the static crash log did not name the poll function: $(cat "$DEST/crash.err")"
cc -o "$DEST/hung-static" "$SRC/samples/hung.c" $sflags
readelf -p .debug_gdb_scripts "$DEST/hung-static" | grep -q 'import tasktrace_gdb' ||
	fail "the static program carries no gdb script"
# libtasktrace-sym: libdw, libelf and theirs come with --static.
cat > "$DEST/attach.c" <<'EOF2'
#include <stdio.h>
#include <unistd.h>
#include "tasktrace/read/target.h"
int main(void)
{
	tt_target t;
	printf("open %d\n", tt_target_open_pid(&t, getpid()));
	return 0;
}
EOF2
symflags="$(pc --cflags tasktrace-sym) -static $(pc --static --libs tasktrace-sym)"
cc -o "$DEST/attach-static" "$DEST/attach.c" $symflags 2> "$DEST/attach.err" ||
	fail "static link with tasktrace-sym.pc failed: $(cat "$DEST/attach.err")"
"$DEST/attach-static" | grep -q '^open ' || fail "the static tasktrace-sym program did not run"

for hung in "$BUILD/samples/hung" "$DEST/hung-static"; do
	"$hung" > "$DEST/hung.out" &
	PID=$!
	for _ in $(seq 100); do grep -q ready "$DEST/hung.out" 2>/dev/null && break; sleep 0.1; done
	out=$(gdb -batch -nx -ex "python import sys; sys.path.insert(0, '$PYDIR')" \
		-ex "python import tasktrace_gdb" -ex "info tasks" \
		-ex "python from tasktrace_gdb import clib; print('library', clib.library()._name)" \
		-p "$PID" 2>&1) || fail "gdb failed on $hung: $out"
	kill "$PID"
	wait "$PID" 2>/dev/null || true
	PID=
	echo "$out" | grep -q 'request-42 .*await_reply at [^ ]*samples/hung.c:' ||
		fail "the installed plugin did not list the tasks of $hung: $out"
	echo "$out" | grep -q "^library $LIBDIR/libtasktrace-reader.so" ||
		fail "the installed plugin did not load the installed reader library: $out"
done
echo "check-install: ok ($PREFIX)"
