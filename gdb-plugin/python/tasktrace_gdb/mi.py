"""MI commands for IDEs: -task-list, -task-info ID, -task-backtrace ID.
Their task objects are those of the CLI's --json (docs/cli.md), written by
the same C code (tasktrace/read/taskjson.h); errors are one-line ^error records."""

import gdb

from . import commands as C
from . import registry as R


def _mi(obj):
    """A JSON object as an MI tuple: null fields left out, booleans as
    words (json.loads' object_hook, so it is done while parsing)."""
    return {k: ("true" if v is True else "false" if v is False else v)
            for k, v in obj.items() if v is not None}


def _tasks(snap, **kw):
    try:
        return snap.json_tasks(object_hook=_mi, **kw)
    except R.Corrupt as e:
        raise gdb.GdbError(str(e)) from None


def _one(argv, cmd, frames):
    if len(argv) != 1:
        raise gdb.GdbError("usage: %s ID" % cmd)
    snap = C.snapshot()
    t = C.get_task(snap, C.parse_id(argv[0]))
    res = {"task": _tasks(snap, tid=t.id, frames=frames)[0]}
    if frames:
        # The text of `task bt ID` (and `tasktrace bt`): the one C printer's.
        res["text"] = C.bt_text(snap, [t.id])
    return res


class TaskList(gdb.MICommand):
    def __init__(self):
        super().__init__("-task-list")

    def invoke(self, argv):
        snap = C.snapshot()
        every = "--all" in argv or "-all" in argv
        res = {"tasks": _tasks(snap, every=every), "now_ns": snap.now_ns}
        if snap.errors:
            res["errors"] = [{"addr": "%#x" % a, "msg": m} for a, m in snap.errors]
        return res


class TaskInfo(gdb.MICommand):
    def __init__(self):
        super().__init__("-task-info")

    def invoke(self, argv):
        return _one(argv, "-task-info", False)


class TaskBacktrace(gdb.MICommand):
    def __init__(self):
        super().__init__("-task-backtrace")

    def invoke(self, argv):
        return _one(argv, "-task-backtrace", True)


class TaskDiagnose(gdb.MICommand):
    """-task-diagnose [--idle D] [--long-poll D] [--starved D]: the findings
    of `task diagnose` as {kind, task_id, other_id, age_ns, cycle, title, text};
    a long poll's also carries `thread`, the lines `task diagnose` prints
    after it (its worker thread's system call and native stack)."""

    def __init__(self):
        super().__init__("-task-diagnose")

    def invoke(self, argv):
        from . import diagnose as D
        th = {"--idle": None, "--long-poll": None, "--starved": None}
        argv = list(argv)
        while argv:
            a = argv.pop(0)
            if a not in th or not argv:
                raise gdb.GdbError("usage: -task-diagnose [--idle D] [--long-poll D] "
                                   "[--starved D]")
            th[a] = D.parse_duration(argv.pop(0))
        _, found = D.run(D.options(th["--idle"], th["--long-poll"], th["--starved"]))
        snap = None
        for f in found:
            f["cycle"] = [str(c) for c in f["cycle"]]
            if f["kind"] == "long poll":
                from .commands import stalled_lines
                from . import registry as R
                snap = snap or R.snapshot()
                f["thread"] = stalled_lines(snap, f["task_id"])
        return {"findings": found}


def install():
    if hasattr(gdb, "MICommand"):
        TaskDiagnose()
        TaskList()
        TaskInfo()
        TaskBacktrace()
