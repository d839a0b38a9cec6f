#!/usr/bin/env python3
"""tt-check-locals: find C locals of a poll function that are read after an
await.  A poll function returns at every TT_AWAIT / TT_YIELD and jumps back
past it on the next poll, so a local set before the await holds garbage
after it (it works by luck at -O2; at -O0 it prints garbage).  Keep such
state in `self`.

usage: tt-check-locals.py [-p BUILDDIR] [-I DIR] [-D NAME[=V]] FILE.c... [-- CFLAGS...]

A poll function is a function that uses TT_BEGIN.  For each local declared
in it (not `static`, not a parameter, not one initialised before TT_BEGIN:
that runs again on every poll), the check reports a use that can run
after an await that comes after the declaration: a use further down than
the await (not in the other branch of an if), or any use inside a loop that holds the await when the local is
declared outside that loop.  A use inside the await's own arguments runs
before it suspends and is fine.  With -p, each file's flags come from
BUILDDIR/compile_commands.json (meson writes one).  Exit status: 0 clean,
1 findings, 2 a file could not be parsed.  Needs libclang's Python binding
(Debian: python3-clang)."""
import argparse
import json
import os
import shlex
import sys

try:
    import clang.cindex as ci
except ImportError:  # a Python other than the system's (pyenv, venv)
    sys.path.append('/usr/lib/python3/dist-packages')
    try:
        import clang.cindex as ci
    except ImportError:
        sys.exit('tt-check-locals: needs libclang for Python (Debian: apt-get install python3-clang)')

AWAITS = ('TT_AWAIT', 'TT_YIELD', 'TT_SELECT', 'TT_JOIN_ALL')
LOOPS = (ci.CursorKind.FOR_STMT, ci.CursorKind.WHILE_STMT, ci.CursorKind.DO_STMT)


def load_libclang():
    if ci.Config.loaded:
        return
    for lib in ('/usr/lib/llvm-14/lib/libclang.so.1', '/usr/lib/x86_64-linux-gnu/libclang-14.so.1'):
        if os.path.exists(lib):
            ci.Config.set_library_file(lib)
            return


def flags_from_db(builddir, path):
    with open(os.path.join(builddir, 'compile_commands.json')) as f:
        db = json.load(f)
    want = os.path.realpath(path)
    for e in db:
        if os.path.realpath(os.path.join(e['directory'], e['file'])) != want:
            continue
        args = e.get('arguments') or shlex.split(e['command'])
        out, skip = [], False
        for a in args[1:]:
            if skip:
                skip = False
                continue
            if a in ('-o', '-MF', '-MQ', '-MT', '-c'):
                skip = a != '-c'
                continue
            if a.startswith(('-I', '-D', '-std', '-U', '-include', '-isystem', '-iquote')):
                # relative include dirs are relative to the build directory
                if a.startswith('-I') and not os.path.isabs(a[2:]):
                    a = '-I' + os.path.join(e['directory'], a[2:])
                out.append(a)
        return out
    return None


def offsets(ext):
    return ext.start.offset, ext.end.offset


def walk(cursor, fname):
    for c in cursor.get_children():
        if c.location.file and c.location.file.name != fname:
            continue
        yield c
        yield from walk(c, fname)


def check_file(path, cflags):
    index = ci.Index.create()
    tu = index.parse(path, args=['-x', 'c', '-std=gnu11', '-D_GNU_SOURCE'] + cflags,
                     options=ci.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD)
    # (clang refuses TT_BEGIN's computed goto in a poll function with no
    # await; gcc takes it, and the rest of the file parsed)
    errors = [d for d in tu.diagnostics if d.severity >= ci.Diagnostic.Error and
              'indirect goto in function with no address-of-label' not in d.spelling]
    if errors:
        for d in errors[:5]:
            print('%s: cannot parse: %s' % (path, d), file=sys.stderr)
        return None
    fname = tu.spelling
    macros = []  # (name, start, end) of every TT_ macro written in this file
    for c in tu.cursor.get_children():
        if (c.kind == ci.CursorKind.MACRO_INSTANTIATION and c.location.file and
                c.location.file.name == fname and c.spelling.startswith('TT_')):
            macros.append((c.spelling,) + offsets(c.extent))
    findings = []
    for fn in tu.cursor.get_children():
        if fn.kind != ci.CursorKind.FUNCTION_DECL or not fn.is_definition():
            continue
        if not fn.location.file or fn.location.file.name != fname:
            continue
        fs, fe = offsets(fn.extent)
        inside = [m for m in macros if fs <= m[1] and m[2] <= fe]
        if not any(m[0] == 'TT_BEGIN' for m in inside):
            continue
        begin = min(m[1] for m in inside if m[0] == 'TT_BEGIN')
        awaits = [m for m in inside if m[0] in AWAITS]
        if not awaits:
            continue
        nodes = list(walk(fn, fname))
        # the do/while(0) of the macros themselves are not the user's loops
        loops = [offsets(n.extent) for n in nodes if n.kind in LOOPS and
                 not any(s <= n.extent.start.offset <= e for _, s, e in inside)]
        # (then, else) extents: an await in one cannot precede a use in
        # the other on the same pass
        branches = []
        for n in nodes:
            if n.kind == ci.CursorKind.IF_STMT:
                kids = list(n.get_children())
                if len(kids) == 3:
                    branches.append((offsets(kids[1].extent), offsets(kids[2].extent)))

        def exclusive(a, b):
            for t, e in branches:
                for x, y in ((t, e), (e, t)):
                    if x[0] <= a <= x[1] and y[0] <= b <= y[1]:
                        return True
            return False

        for var in nodes:
            if var.kind != ci.CursorKind.VAR_DECL or var.storage_class == ci.StorageClass.STATIC:
                continue
            vpos = var.location.offset
            # set before TT_BEGIN: computed again on every poll
            if vpos < begin and any(c.kind.is_expression() for c in var.get_children()):
                continue
            # the macros' own temporaries (tt_at_, tt_k_ ...) are not the user's
            if any(s <= vpos <= e for _, s, e in inside):
                continue
            uses = [n for n in nodes if n.kind == ci.CursorKind.DECL_REF_EXPR and
                    n.referenced is not None and n.referenced == var]
            hit = None
            for name, s, e in awaits:
                if vpos > s:
                    continue
                for u in uses:
                    upos = u.location.offset
                    if upos > e and not exclusive(s, upos):
                        hit = (name, s, u)
                        break
                    in_loop = [l for l in loops if l[0] <= s and e <= l[1] and
                               l[0] <= upos <= l[1] and not (l[0] <= vpos <= l[1])]
                    if in_loop:
                        hit = (name, s, u)
                        break
                if hit:
                    break
            if hit:
                name, s, u = hit
                aline = tu.get_location(fname, s).line
                findings.append('%s:%d: local `%s` (declared line %d) used after the %s '
                                'at line %d: a local does not survive an await; keep it in '
                                'self' % (path, u.location.line, var.spelling,
                                          var.location.line, name, aline))
    return findings


def main():
    argv = sys.argv[1:]
    extra = []
    if '--' in argv:
        i = argv.index('--')
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('-p', dest='builddir', help='directory with compile_commands.json')
    ap.add_argument('-I', dest='incs', action='append', default=[], help='include directory')
    ap.add_argument('-D', dest='defs', action='append', default=[], help='macro definition')
    ap.add_argument('files', nargs='+')
    a = ap.parse_args(argv)
    load_libclang()
    status = 0
    for path in a.files:
        cflags = ['-I' + d for d in a.incs] + ['-D' + d for d in a.defs] + extra
        if a.builddir:
            cflags = (flags_from_db(a.builddir, path) or []) + cflags
        found = check_file(path, cflags)
        if found is None:
            status = 2
            continue
        for line in found:
            print(line)
        if found and status == 0:
            status = 1
    return status


if __name__ == '__main__':
    sys.exit(main())
