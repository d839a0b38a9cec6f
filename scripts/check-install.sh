#!/bin/sh
# What `meson install` lays out works on its own: a program built against
# the installed headers and tasktrace.pc runs, and gdb, given only the
# installed plugin directory, lists its tasks with the installed library.
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
cc -o "$DEST/hello" "$SRC/samples/hello.c" $flags -Wl,-rpath,"$LIBDIR"
"$DEST/hello" | grep -q 'hello from task' || fail "hello built against the install did not run"
ldd "$DEST/hello" | grep -q "$LIBDIR/libtasktrace.so" || fail "hello is not linked to the installed library"

"$BUILD/samples/hung" > "$DEST/hung.out" &
PID=$!
for _ in $(seq 100); do grep -q ready "$DEST/hung.out" 2>/dev/null && break; sleep 0.1; done
out=$(gdb -batch -nx -ex "python import sys; sys.path.insert(0, '$PYDIR')" \
	-ex "python import tasktrace_gdb" -ex "info tasks" \
	-ex "python from tasktrace_gdb import clib; print('library', clib.library()._name)" \
	-p "$PID" 2>&1) || fail "gdb failed: $out"
echo "$out" | grep -q 'request-42 .*await_reply at samples/hung.c:' ||
	fail "the installed plugin did not list the tasks: $out"
echo "$out" | grep -q "^library $LIBDIR/libtasktrace.so" ||
	fail "the installed plugin did not load the installed library: $out"
echo "check-install: ok ($PREFIX)"
