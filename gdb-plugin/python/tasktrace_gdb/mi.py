"""MI commands for IDEs: -task-list, -task-info ID, -task-backtrace ID.
Same fields as the CLI's JSON; errors are one-line ^error records."""

import gdb

from . import commands as C
from . import format as F


def _task(argv, cmd):
    if len(argv) != 1:
        raise gdb.GdbError("usage: %s ID" % cmd)
    snap = C.snapshot()
    return C.get_task(snap, C.parse_id(argv[0])), snap


class TaskList(gdb.MICommand):
    def __init__(self):
        super().__init__("-task-list")

    def invoke(self, argv):
        snap = C.snapshot()
        every = "--all" in argv or "-all" in argv
        tasks = [F.task_dict(t, snap) for t in snap.tasks
                 if every or not t.flags & 1]
        res = {"tasks": tasks, "now_ns": snap.now_ns}
        if snap.errors:
            res["errors"] = [{"addr": "%#x" % a, "msg": m} for a, m in snap.errors]
        return res


class TaskInfo(gdb.MICommand):
    def __init__(self):
        super().__init__("-task-info")

    def invoke(self, argv):
        t, snap = _task(argv, "-task-info")
        return {"task": F.task_dict(t, snap)}


class TaskBacktrace(gdb.MICommand):
    def __init__(self):
        super().__init__("-task-backtrace")

    def invoke(self, argv):
        t, snap = _task(argv, "-task-backtrace")
        d = F.task_dict(t, snap, frames=True)
        d["ancestry"] = C.ancestry(t, snap)
        return {"task": d}


class TaskDiagnose(gdb.MICommand):
    """-task-diagnose [--idle D] [--long-poll D] [--starved D]: the findings
    of `task diagnose` as {kind, task_id, other_id, age_ns, cycle, title, text}."""

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
        for f in found:
            f["cycle"] = [str(c) for c in f["cycle"]]
        return {"findings": found}


def install():
    if hasattr(gdb, "MICommand"):
        TaskDiagnose()
        TaskList()
        TaskInfo()
        TaskBacktrace()
