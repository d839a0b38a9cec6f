"""CLI: info tasks, task [ID], task bt, task apply, task frame, set/show tasks."""

import re

import gdb

from . import format as F
from . import registry as R

DEFAULT_PRUNE = (r"^(tt_|__tt_|worker_main$|park$|futex_wait$|start_thread$|clone3?$|"
                 r"__GI___clone3?$)")
selected = None  # id of the selected task


def snapshot():
    try:
        return R.snapshot()
    except R.Corrupt as e:
        raise gdb.GdbError(str(e)) from None


def parse_id(text):
    try:
        return int(text, 0)
    except ValueError:
        raise gdb.GdbError("Invalid task ID: %s" % text) from None


def get_task(snap, tid):
    t = snap.find(tid)
    if t is None:
        raise gdb.GdbError("Task ID %u not known.  Use the \"info tasks\" command to\n"
                           "see the IDs of currently known tasks." % tid)
    return t


def current_task(snap):
    """The selected task, else the one polled on the selected thread."""
    if selected is not None and snap.find(selected):
        return snap.find(selected)
    th = gdb.selected_thread()
    w = snap.worker_for_tid(th.ptid[1]) if th else None
    if w and w.state == R.WORKER_POLLING and snap.find(w.task_id):
        return snap.find(w.task_id)
    return None


def prune_regex():
    pats = [DEFAULT_PRUNE]
    user = gdb.parameter("tasks prune-pattern")
    if user:
        pats.append(user)
    try:
        return re.compile("|".join("(?:%s)" % p for p in pats))
    except re.error as e:
        raise gdb.GdbError("bad tasks prune-pattern: %s" % e) from None


def thread_of(tid):
    for th in gdb.selected_inferior().threads():
        if th.ptid[1] == tid:
            return th
    return None


def worker_stack(tid):
    """A worker's real stack with executor frames pruned: (level, text)."""
    th = thread_of(tid)
    if th is None:
        return []
    old_th, old_fr = gdb.selected_thread(), gdb.selected_frame()
    prune = prune_regex() if gdb.parameter("tasks prune") else None
    out = []
    try:
        th.switch()
        f = gdb.newest_frame()
        while f is not None:
            name = f.name() or "??"
            if not (prune and prune.search(name)):
                sal = f.find_sal()
                loc = " at %s:%u" % (sal.symtab.filename, sal.line) if sal.symtab else ""
                out.append("%s ()%s" % (name, loc))
            f = f.older()
    finally:
        old_th.switch()
        old_fr.select()
    return out


def ancestry(t, snap):
    lines, seen = [], {t.id}
    while t.parent_id and len(lines) < 64:
        p = snap.find(t.parent_id)
        lines.append(F.ancestor(t.parent_id, p.name if p else None, t.spawn_site))
        if p is None or p.id in seen:
            break
        seen.add(p.id)
        t = p
    return lines


def backtrace(t, snap, full=False):
    lines = [F.bt_header(t, snap)]
    n = 0
    if t.state == R.RUNNING and snap.worker_tid(t.worker):
        for text in worker_stack(snap.worker_tid(t.worker)):
            lines.append("#%-3d%s" % (n, text))
            n += 1
    for indent, f in F.bt_frames(t):
        lines.append(F.bt_frame(n, indent, f, snap))
        if full and f.func.kind != R.K_LEAF:
            v = frame_value(f)
            if v is not None:
                text = v.dereference().format_string(pretty_structs=True)
                lines += [" " * (indent + 8) + l for l in text.splitlines()]
        n += 1
    if t.error:
        lines.append("(chain incomplete: %s)" % t.error)
    return lines + ancestry(t, snap)


def frame_value(f):
    """The future at F cast to its C type (the func descriptor's type
    name), or None when gdb has no such type."""
    for name in (f.func.type_name, "struct " + f.func.type_name):
        if not f.func.type_name:
            break
        try:
            return gdb.Value(f.addr).cast(gdb.lookup_type(name).pointer())
        except gdb.error:
            continue
    return None


def set_task_vars(t):
    try:
        v = gdb.Value(t.slot_addr).cast(gdb.lookup_type("struct tt_task").pointer())
    except gdb.error:
        v = gdb.Value(t.slot_addr)
    gdb.set_convenience_variable("task", v)
    gdb.set_convenience_variable("task_id", t.id)


class InfoTasks(gdb.Command):
    """List tasks like "info threads": info tasks [-all] [-state S] [-name REGEX] [-group] [-hung D]

-all     include runtime-internal (system) tasks
-state   only tasks in state S (idle, scheduled, running, done, cancelled)
-name    only tasks whose name matches REGEX
-group   one row per distinct await chain, with a count
-hung D  only tasks the diagnosis flags with every threshold set to D
         (idle, long poll, starved; 0 shows every suspended task), then
         the findings (as "task diagnose")"""

    def __init__(self):
        super().__init__("info tasks", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        opts = {"all": False, "group": False, "state": None, "name": None, "hung": None}
        argv = gdb.string_to_argv(arg)
        while argv:
            a = argv.pop(0)
            if a in ("-all", "-group"):
                opts[a[1:]] = True
            elif a in ("-state", "-name", "-hung") and argv:
                opts[a[1:]] = argv.pop(0)
            else:
                raise gdb.GdbError("usage: info tasks [-all] [-state S] [-name REGEX] [-group] "
                                   "[-hung DURATION]")
        snap = snapshot()
        state = -1
        if opts["state"] is not None:
            if opts["state"] not in R.STATES:
                raise gdb.GdbError("unknown state '%s' (one of %s)"
                                   % (opts["state"], ", ".join(R.STATES)))
            state = R.STATES.index(opts["state"])
        findings = ids = None
        if opts["hung"] is not None:
            from . import diagnose as D
            d = D.parse_duration(opts["hung"])
            _, findings = D.run(D.options(d, d, d, opts["all"]))
            ids = sorted(D.involved(findings))
        cur = current_task(snap)
        try:
            text = snap.task_list(opts["all"], state, opts["name"], ids, cur.id if cur else 0,
                                  opts["group"])
        except R.Corrupt as e:
            raise gdb.GdbError(str(e)) from None
        if findings:
            text += "\n" + "\n".join(f["title"] for f in findings) + "\n"
        gdb.write(text)


def describe(t, snap):
    return '[Current task is %u "%s" (%s)]' % (t.id, t.name, F.where(t, snap) or F.state(t))


class Task(gdb.Command):
    """Select a task or show the selected one: task [ID]
Subcommands: task bt, task apply, task frame."""

    def __init__(self):
        super().__init__("task", gdb.COMMAND_STACK, prefix=True)

    def invoke(self, arg, from_tty):
        global selected
        snap = snapshot()
        arg = arg.strip()
        if not arg:
            t = current_task(snap)
            if t is None:
                gdb.write("No task selected.\n")
                return
        else:
            t = get_task(snap, parse_id(arg))
            selected = t.id
            set_task_vars(t)
        gdb.write(describe(t, snap) + "\n")


class TaskBt(gdb.Command):
    """Backtrace of a task's await chain: task bt [ID|all] [-full]
Innermost first: the leaf and what it waits on, each async function at its
suspension line, then the tasks that spawned it.  -full adds each future's
fields (its locals)."""

    def __init__(self):
        super().__init__("task bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        full = "-full" in argv
        argv = [a for a in argv if a != "-full"]
        snap = snapshot()
        if argv == ["all"]:
            tasks = snap.tasks
        elif argv:
            tasks = [get_task(snap, parse_id(a)) for a in argv]
        else:
            t = current_task(snap)
            if t is None:
                raise gdb.GdbError("No task selected; use \"task ID\" or \"task bt ID\".")
            tasks = [t]
        for i, t in enumerate(tasks):
            gdb.write(("\n" if i else "") + "\n".join(backtrace(t, snap, full)) + "\n")


class TaskApply(gdb.Command):
    """Run a command with each task selected: task apply all|ID... CMD"""

    def __init__(self):
        super().__init__("task apply", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        global selected
        argv = arg.split()
        snap = snapshot()
        if argv[:1] == ["all"]:
            tasks, argv = list(snap.tasks), argv[1:]
        else:
            tasks = []
            while argv and re.fullmatch(r"\d+|0x[0-9a-fA-F]+", argv[0]):
                tasks.append(get_task(snap, parse_id(argv.pop(0))))
        if not tasks or not argv:
            raise gdb.GdbError("usage: task apply all|ID... COMMAND")
        cmd, old = " ".join(argv), selected
        try:
            for t in tasks:
                selected = t.id
                set_task_vars(t)
                gdb.write('\nTask %u "%s":\n' % (t.id, t.name))
                gdb.execute(cmd, from_tty)
        finally:
            selected = old


class TaskFrame(gdb.Command):
    """Show frame N of the selected task (or of task ID) through its C type:
task frame N [ID].  Sets $task_frame (a typed pointer to the future) and
$task, so "p $task_frame->field" reads the future's locals."""

    def __init__(self):
        super().__init__("task frame", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if not 1 <= len(argv) <= 2:
            raise gdb.GdbError("usage: task frame N [ID]")
        snap = snapshot()
        t = get_task(snap, parse_id(argv[1])) if len(argv) > 1 else current_task(snap)
        if t is None:
            raise gdb.GdbError("No task selected; use \"task ID\" or \"task frame N ID\".")
        frames = F.bt_frames(t)
        n = parse_id(argv[0])
        if not 0 <= n < len(frames):
            raise gdb.GdbError("Task %u has no frame %u (it has %u)." % (t.id, n, len(frames)))
        f = frames[n][1]
        set_task_vars(t)
        gdb.write(F.bt_frame(n, 0, f, snap) + "\n")
        v = frame_value(f)
        if v is None:
            gdb.set_convenience_variable("task_frame", gdb.Value(f.addr))
            gdb.write("(no C type \"%s\" in the debug info; $task_frame = %#x)\n"
                      % (f.func.type_name, f.addr))
            return
        gdb.set_convenience_variable("task_frame", v)
        gdb.write("$task_frame = (%s *) %#x\n%s\n"
                  % (v.type.target(), f.addr, v.dereference().format_string(pretty_structs=True)))


class SetTasks(gdb.Command):
    """Settings of the tasktrace commands."""

    def __init__(self, verb):
        super().__init__(verb + " tasks", gdb.COMMAND_DATA, prefix=True)


class PruneParam(gdb.Parameter):
    """Whether backtraces of worker threads hide the executor's frames."""
    set_doc = "Set whether worker backtraces hide executor frames."
    show_doc = "Show whether worker backtraces hide executor frames."

    def __init__(self):
        super().__init__("tasks prune", gdb.COMMAND_DATA, gdb.PARAM_BOOLEAN)
        self.value = True

    def get_show_string(self, value):
        return "Pruning of executor frames is %s." % value


class PrunePatternParam(gdb.Parameter):
    """Extra frames to prune: a regex on function names, added to the default
rule (the runtime's own tt_* frames, worker loop and thread start)."""
    set_doc = "Set the extra regex of function names pruned from worker backtraces."
    show_doc = "Show the extra regex of function names pruned from worker backtraces."

    def __init__(self):
        super().__init__("tasks prune-pattern", gdb.COMMAND_DATA, gdb.PARAM_STRING)
        self.value = ""

    def get_set_string(self):
        try:
            re.compile(self.value or "")
        except re.error as e:
            self.value = ""
            raise gdb.GdbError("bad regex: %s" % e) from None
        return ""

    def get_show_string(self, value):
        return "Pruned functions: %s%s" % (DEFAULT_PRUNE, " and " + value if value else "")


class TaskDiagnose(gdb.Command):
    """Diagnose hung tasks: task diagnose [-idle D] [-long-poll D] [-starved D] [-all] [ID]
Deadlocks (wait-for cycles, spelled out task by task), lost wakers, waits
on a oneshot or mutex whose owner is gone, long polls, starved and idle
tasks; each with the evidence and what to do.  The engine is the one of
`tasktrace hung` (libtasktrace, loaded through ctypes).  With ID, only the
findings about that task.  Defaults: idle 60s, long poll 100ms, starved 1s."""

    def __init__(self):
        super().__init__("task diagnose", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        from . import diagnose as D
        argv = gdb.string_to_argv(arg)
        th = {"-idle": None, "-long-poll": None, "-starved": None}
        every, only = False, None
        while argv:
            a = argv.pop(0)
            if a in th and argv:
                th[a] = D.parse_duration(argv.pop(0))
            elif a == "-all":
                every = True
            elif only is None and not a.startswith("-"):
                only = parse_id(a)
            else:
                raise gdb.GdbError("usage: task diagnose [-idle D] [-long-poll D] "
                                   "[-starved D] [-all] [ID]")
        text, found = D.run(D.options(th["-idle"], th["-long-poll"], th["-starved"], every))
        if only is not None:
            found = [f for f in found if only in D.involved([f]) or f["other_id"] == only]
            text = "\n".join(f["text"] for f in found) if found else \
                "no problems found for task %u\n" % only
        gdb.write(text)


def install():
    InfoTasks()
    Task()
    TaskBt()
    TaskApply()
    TaskFrame()
    TaskDiagnose()  # after Task(): it is a subcommand of the "task" prefix
    SetTasks("set")
    SetTasks("show")
    PruneParam()
    PrunePatternParam()
