"""Hung-task diagnosis in gdb through the C engine (tasktrace/diagnose.h).

Why ctypes and not a Python port: the rules (deadlock cycles, lost
wakers, long polls...) and their words must be exactly those of
`tasktrace hung` and the in-process watchdog.  One engine means one set of
bugs and one set of tests.  gdb's Python loads libtasktrace.so (the
inferior's own copy when it has one) and hands it a read callback that
calls gdb.Inferior.read_memory, so the C reader decodes a live process or a
core through gdb exactly as it decodes /proc/PID/mem for the CLI.  No code
runs in the inferior.

The library is looked for in $TASKTRACE_LIB, then among the inferior's
objfiles, then on the loader's path.  A sanitizer build of the library
cannot be loaded into gdb (its runtime must come first): the commands
then say so in one line.
"""

import ctypes
import os

import gdb

from . import registry as R

READ_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint64,
                           ctypes.c_void_p, ctypes.c_size_t)
OFF = (1 << 64) - 1
KINDS = {1: "deadlock", 2: "lost waker", 3: "never resolved", 4: "long poll",
         5: "starved", 6: "idle", 7: "leaked at shutdown"}


class Mem(ctypes.Structure):
    _fields_ = [("read", READ_FN), ("ctx", ctypes.c_void_p)]


class Opts(ctypes.Structure):
    _fields_ = [("long_poll_ns", ctypes.c_uint64), ("starved_ns", ctypes.c_uint64),
                ("idle_ns", ctypes.c_uint64), ("all", ctypes.c_int),
                ("runtime_id", ctypes.c_uint64)]


class Finding(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_uint32), ("ncycle", ctypes.c_uint32),
                ("task_id", ctypes.c_uint64), ("other_id", ctypes.c_uint64),
                ("age_ns", ctypes.c_uint64), ("cycle", ctypes.POINTER(ctypes.c_uint64)),
                ("title", ctypes.c_char_p), ("text", ctypes.c_char_p)]


class Report(ctypes.Structure):
    _fields_ = [("findings", ctypes.POINTER(Finding)), ("n", ctypes.c_size_t),
                ("ntasks", ctypes.c_size_t), ("now_ns", ctypes.c_uint64),
                ("text", ctypes.c_char_p), ("priv_", ctypes.c_void_p)]


_lib = None


def _candidates():
    env = os.environ.get("TASKTRACE_LIB")
    if env:
        yield env
    for o in gdb.objfiles():
        name = o.filename or ""
        if os.path.basename(name).startswith("libtasktrace.so") and os.path.exists(name):
            yield name
    yield "libtasktrace.so.0"
    yield "libtasktrace.so"


def library():
    """The loaded engine, or a GdbError saying why it cannot be loaded."""
    global _lib
    if _lib is not None:
        return _lib
    errors = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
            lib.tt_diagnose_mem.restype = ctypes.POINTER(Report)
            lib.tt_diagnose_mem.argtypes = [Mem, ctypes.c_uint64, ctypes.c_uint64,
                                            ctypes.POINTER(Opts), ctypes.c_char_p,
                                            ctypes.c_size_t]
            lib.tt_diag_free.argtypes = [ctypes.POINTER(Report)]
            lib.tt_diag_opts_init.argtypes = [ctypes.POINTER(Opts)]
            lib.tt_diag_parse_duration.argtypes = [ctypes.c_char_p,
                                                   ctypes.POINTER(ctypes.c_uint64)]
            _lib = lib
            return lib
        except (OSError, AttributeError) as e:
            errors.append("%s: %s" % (path, str(e).splitlines()[0] if str(e) else e))
    raise gdb.GdbError("cannot load libtasktrace for diagnosis (set TASKTRACE_LIB): "
                       + (errors[0] if errors else "not found"))


def parse_duration(text):
    if text == "off":
        return OFF
    v = ctypes.c_uint64()
    if library().tt_diag_parse_duration(text.encode(), ctypes.byref(v)) != 0:
        raise gdb.GdbError("'%s' is not a duration (like 100ms, 2s, 5m, off)" % text)
    return v.value


def options(idle=None, long_poll=None, starved=None, every=False):
    o = Opts()
    library().tt_diag_opts_init(ctypes.byref(o))
    if idle is not None:
        o.idle_ns = idle
    if long_poll is not None:
        o.long_poll_ns = long_poll
    if starved is not None:
        o.starved_ns = starved
    o.all = 1 if every else 0
    return o


def run(opts):
    """Findings for the selected inferior: (text, [dict]) from the C engine."""
    lib = library()
    try:
        snap = R.snapshot()  # finds (and validates) the root, fixes "now"
    except R.Corrupt as e:
        raise gdb.GdbError(str(e)) from None
    inf = gdb.selected_inferior()

    def read(ctx, addr, buf, n):
        try:
            data = inf.read_memory(addr, n)
        except (gdb.MemoryError, gdb.error, OverflowError, ValueError):
            return -14  # EFAULT
        ctypes.memmove(buf, bytes(data), n)
        return 0

    cb = READ_FN(read)  # kept alive for the call
    err = ctypes.create_string_buffer(256)
    rep = lib.tt_diagnose_mem(Mem(cb, None), snap.reader.addr, snap.now_ns,
                              ctypes.byref(opts), err, len(err))
    if not rep:
        raise gdb.GdbError("diagnosis failed: %s" % err.value.decode("utf-8", "replace"))
    try:
        r = rep.contents
        found = []
        for i in range(r.n):
            f = r.findings[i]
            found.append({
                "kind": KINDS.get(f.kind, "?"),
                "task_id": f.task_id,
                "other_id": f.other_id,
                "age_ns": f.age_ns,
                "cycle": [f.cycle[k] for k in range(f.ncycle)],
                "title": f.title.decode("utf-8", "replace"),
                "text": f.text.decode("utf-8", "replace"),
            })
        return r.text.decode("utf-8", "replace"), found
    finally:
        lib.tt_diag_free(rep)


def involved(found):
    """Task ids a list of findings names."""
    ids = set()
    for f in found:
        ids.add(f["task_id"])
        ids.update(f["cycle"])
    return ids
