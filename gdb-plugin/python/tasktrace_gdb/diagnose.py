"""Hung-task diagnosis in gdb through the C engine (tasktrace/read/diagnose.h).

Why ctypes and not a Python port: the rules (deadlock cycles, lost
wakers, long polls...) and their words must be exactly those of
`tasktrace hung` and the in-process watchdog.  One engine means one set of
bugs and one set of tests.  It runs on the stop's snapshot (registry.py),
which libtasktrace's reader made through gdb's memory (clib.py).
"""

import ctypes

import gdb

from . import clib
from . import registry as R

OFF = (1 << 64) - 1


def parse_duration(text):
    if text == "off":
        return OFF
    v = ctypes.c_uint64()
    if clib.library().tt_diag_parse_duration(text.encode(), ctypes.byref(v)) != 0:
        raise gdb.GdbError("'%s' is not a duration (like 100ms, 2s, 5m, off)" % text)
    return v.value


def options(idle=None, long_poll=None, starved=None, every=False, idle_io=None):
    o = clib.DiagOpts()
    clib.library().tt_diag_opts_init(ctypes.byref(o))
    if idle is not None:
        o.idle_ns = idle
    if idle_io is not None:
        o.idle_io_ns = idle_io
    if long_poll is not None:
        o.long_poll_ns = long_poll
    if starved is not None:
        o.starved_ns = starved
    o.all = 1 if every else 0
    o.each = 1 if every else 0  # -all lists every finding instead of grouping alike ones
    return o


def run(opts):
    """Findings for the selected inferior: (text, [dict]) from the C engine."""
    lib = clib.library()
    try:
        snap = R.snapshot()  # finds (and validates) the root, fixes "now"
    except R.Corrupt as e:
        raise gdb.GdbError(str(e)) from None
    # The flight recorder is read through gdb too: lost wakers and
    # never-resolved waits quote the task's last poll and wake.
    mem, keep = clib.inferior_mem(gdb.selected_inferior())
    opts.flight = ctypes.cast(ctypes.pointer(mem), ctypes.c_void_p)
    rep = lib.tt_diagnose(snap._p, snap.now_ns, ctypes.byref(opts))
    opts.flight = None
    del keep
    if not rep:
        raise gdb.GdbError("diagnosis failed: out of memory")
    try:
        r = rep.contents
        found = []
        for i in range(r.n):
            f = r.findings[i]
            found.append({
                "kind": lib.tt_diag_kind_name(f.kind).decode(),
                "task_id": f.task_id,
                "other_id": f.other_id,
                "age_ns": f.age_ns,
                "cycle": [f.cycle[k] for k in range(f.ncycle)],
                "count": f.count,
                "ids": [f.ids[k] for k in range(f.count)] if f.ids else [f.task_id],
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
        ids.update(f.get("ids", ()))
    return ids
