"""tasktrace for gdb: tasks as threads, read from the registry only.

The commands are installed once an objfile holding the registry (symbol
tasktrace_registry or section .tasktrace) is loaded, so sessions without
one keep gdb's Ada "info tasks" and "task"."""

import gdb

from . import registry

installed = False


def _maybe_install(objfile):
    global installed
    if installed or objfile is None or not registry.objfile_has_registry(objfile):
        return
    installed = True
    from . import commands, framefilter, mi
    commands.install()
    mi.install()
    framefilter.PruneFilter()


def _on_new_objfile(event):
    registry.invalidate()
    _maybe_install(event.new_objfile)


gdb.events.new_objfile.connect(_on_new_objfile)
for _ev in ("cont", "exited", "memory_changed", "inferior_call", "clear_objfiles",
            "new_inferior", "inferior_deleted", "register_changed", "stop"):
    if hasattr(gdb.events, _ev):
        getattr(gdb.events, _ev).connect(registry.invalidate)
# The moment of each stop, for the "now" of a live target (registry.py).
for _ev, _fn in (("new_thread", registry.note_thread), ("stop", registry.note_stop),
                 ("cont", registry.note_resume), ("exited", registry.note_exit)):
    if hasattr(gdb.events, _ev):
        getattr(gdb.events, _ev).connect(_fn)
# Loaded while attaching (from its library's objfile): stopped already.
registry.note_thread()
for _o in gdb.objfiles():
    _maybe_install(_o)
