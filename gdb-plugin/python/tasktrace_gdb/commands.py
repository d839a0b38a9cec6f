"""CLI: info tasks, task [ID], task bt, task apply, task frame, set/show tasks."""

import ctypes
import re

import gdb

from . import clib
from . import registry as R

selected = None  # id of the selected task


def default_prune():
    """The frames hidden by default: the C library's pattern (tt_bt_default_prune)."""
    try:
        return clib.library().tt_bt_default_prune().decode()
    except gdb.GdbError:
        return "(libtasktrace not loaded)"


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


def user_prune():
    """The extra prune pattern (`set tasks prune-pattern`), or None."""
    return gdb.parameter("tasks prune-pattern") or None


def prune_regex():
    """The C library's default pattern and the user's, for gdb's frames."""
    pats = [default_prune()] + ([user_prune()] if user_prune() else [])
    try:
        return re.compile("|".join("(?:%s)" % p for p in pats))
    except re.error as e:
        raise gdb.GdbError("bad tasks prune-pattern: %s" % e) from None


def thread_of(tid):
    for th in gdb.selected_inferior().threads():
        if th.ptid[1] == tid:
            return th
    return None


# ---- backtraces: printed by libtasktrace (tasktrace/read/bt.h) ----

class SymSession:
    """libtasktrace-sym on the inferior (its core file, or the pid without
    stopping it: lookups only), for inline callers and a core's thread
    stacks; closed with this object."""

    def __init__(self, snap):
        self.lib, self.sym, self.bt, self.core = clib.sym_library(), None, None, None
        if self.lib is None:
            return
        code, err = ctypes.c_int(), ctypes.create_string_buffer(256)
        inf = gdb.selected_inferior()
        if not snap.live:
            self.core = R._core_file()
            exe = gdb.current_progspace().filename
            if self.core:
                self.sym = self.lib.tt_sym_open_core(self.core.encode(),
                                                     exe.encode() if exe else None,
                                                     ctypes.byref(code), err, len(err))
        else:
            self.sym = self.lib.tt_sym_open_pid(inf.pid, 0, ctypes.byref(code), err, len(err))
        if self.sym:
            self.bt = self.lib.tt_sym_bt_new(self.sym)

    def __del__(self):
        try:
            if self.bt:
                self.lib.tt_sym_bt_free(self.bt)
            if self.sym:
                self.lib.tt_sym_close(self.sym)
        except Exception:  # gdb exiting
            pass


def sym_session(snap):
    s = getattr(snap, "_sym_session", None)
    if s is None:
        s = snap._sym_session = SymSession(snap)
    return s


def _cstr(keep, text):
    if text is None:
        return None
    b = ctypes.create_string_buffer(text.encode("utf-8", "replace"))
    keep.append(b)
    return ctypes.addressof(b)


class Hooks:
    """tt_bt_hooks for one snapshot: a running task's stack (libtasktrace-sym
    on a core, as `tasktrace bt` unwinds it; gdb's own frames on a live
    process, which gdb has stopped), inline callers from libtasktrace-sym,
    and with FRAME(stask address, i, num, indent) lines after a frame's."""

    def __init__(self, snap, frame=None):
        self.snap, self.session, self.keep = snap, sym_session(snap), []
        self.out = (clib.BtNative * 256)()
        self.native_cb = clib.BT_NATIVE_FN(self._native)
        self.frame_cb = clib.BT_FRAME_FN(lambda ctx, t, i, num, indent: frame(t, i, num, indent)) \
            if frame else clib.BT_FRAME_FN()
        inl = None
        if self.session.bt:
            inl = ctypes.cast(self.session.lib.tt_sym_bt_inlined, ctypes.c_void_p).value
        self.c = clib.BtHooks(self.session.bt, self.native_cb, inl, self.frame_cb)

    def _native(self, ctx, stask, out, err, errlen):
        try:
            return self._stack(clib.STask.from_address(stask), stask, out, err, errlen)
        except Exception as e:  # never unwind through C
            return self._error(err, errlen, "gdb: %s" % e)

    @staticmethod
    def _error(err, errlen, msg):
        raw = msg.encode("utf-8", "replace")[:errlen - 1] + b"\0"
        ctypes.memmove(err, raw, len(raw))
        return -1

    def _stack(self, t, stask, out, err, errlen):
        worker = t.raw.worker
        tid = self.snap.task_tid(t)
        if not tid:
            return self._error(err, errlen, "the thread of worker %d is unknown" % worker)
        poll = t.frames[0].func.contents.poll if t.nframes and t.frames[0].func else 0
        no_prune = not gdb.parameter("tasks prune")
        s = self.session
        if s.sym:
            user = user_prune()
            pats = (ctypes.c_char_p * 1)(user.encode()) if user else None
            at = (clib.SymAt * 256)()
            if not self.snap.live:
                # A core: unwound by libdw, as tasktrace bt does.
                e = ctypes.create_string_buffer(256)
                n = s.lib.tt_sym_task_stack(s.sym, tid, poll, pats, 1 if user else 0,
                                            1 if no_prune else 0, at, 256, e, len(e))
                if n < 0:
                    return self._error(err, errlen, e.value.decode("utf-8", "replace"))
            else:
                # Live: gdb has the threads stopped, so gdb unwinds; the
                # symbols and the pruning are still libtasktrace-sym's.
                pcs = self._gdb_pcs(tid)
                if pcs is None:
                    return self._error(err, errlen, "no thread %d in gdb" % tid)
                n = s.lib.tt_sym_prune_stack(s.sym, pcs, len(pcs), poll, pats,
                                             1 if user else 0, 1 if no_prune else 0, at, 256)
            # A stripped executable: the registry names its poll functions.
            s.lib.tt_sym_name_async(s.sym, stask, at, n)
            for k in range(n):
                f = at[k].f
                self.out[k] = clib.BtNative(at[k].pc, f.inlined, f.function, f.file, f.line,
                                            f.module)
        else:
            n = self._gdb_stack(tid, poll, no_prune)
            if n < 0:
                return self._error(err, errlen, "no thread %d in gdb" % tid)
        out[0] = ctypes.cast(self.out, ctypes.POINTER(clib.BtNative))
        return n

    @staticmethod
    def _gdb_pcs(tid):
        """Thread TID's stack as gdb unwinds it: the PC of each real
        (not inlined) frame, innermost first, as tt_sym_pc."""
        th = thread_of(tid)
        if th is None:
            return None
        old_th, old_fr = gdb.selected_thread(), gdb.selected_frame()
        pcs = []
        try:
            th.switch()
            f, newer = gdb.newest_frame(), None
            while f is not None and len(pcs) < 256:
                if f.type() != gdb.INLINE_FRAME:
                    act = newer is None or newer.type() == gdb.SIGTRAMP_FRAME
                    pcs.append((f.pc(), 1 if act else 0))
                    newer = f
                f = f.older()
        finally:
            old_th.switch()
            old_fr.select()
        arr = (clib.SymPc * max(len(pcs), 1))()
        for k, (pc, act) in enumerate(pcs):
            arr[k] = clib.SymPc(pc, act)
        return (clib.SymPc * len(pcs)).from_buffer(arr) if pcs else arr

    def _gdb_stack(self, tid, poll, no_prune):
        """A live worker's stack through gdb's frames, pruned as
        tt_sym_task_stack prunes."""
        th = thread_of(tid)
        if th is None:
            return -1
        prune = None if no_prune else prune_regex()
        cut = None
        if poll and not no_prune:
            b = gdb.block_for_pc(poll)
            cut = b.function.name if b is not None and b.function else None
        self.keep = []
        old_th, old_fr = gdb.selected_thread(), gdb.selected_frame()
        n = 0
        try:
            th.switch()
            f, stop = gdb.newest_frame(), False
            while f is not None and n < len(self.out):
                name, inlined = f.name(), f.type() == gdb.INLINE_FRAME
                if stop and not inlined:
                    break
                if not (prune and name and prune.search(name)):
                    sal = f.find_sal()
                    path = sal.symtab.filename if sal.symtab else None
                    module = None if path else (gdb.solib_name(f.pc()) or
                                                gdb.current_progspace().filename)
                    self.out[n] = clib.BtNative(f.pc(), 1 if inlined else 0,
                                                _cstr(self.keep, name), _cstr(self.keep, path),
                                                sal.line if path else 0,
                                                _cstr(self.keep, module))
                    n += 1
                    if cut and name == cut:
                        stop = True
                f = f.older()
        finally:
            old_th.switch()
            old_fr.select()
        return n


def _thread_syscall(tid):
    """Thread TID's system call from its registers, as gdb has them (a
    live process it stopped, or a core's NT_PRSTATUS): a clib.Syscall,
    None when gdb has no such thread."""
    th = thread_of(tid)
    if th is None:
        return None
    sc = clib.Syscall()
    old_th, old_fr = gdb.selected_thread(), gdb.selected_frame()
    try:
        th.switch()
        fr = gdb.newest_frame()
        if "x86-64" not in fr.architecture().name():
            return sc  # TT_SC_UNKNOWN: only x86-64's registers say
        reg = lambda n: int(fr.read_register(n))  # noqa: E731
        mask = (1 << 64) - 1
        args = (clib.U64 * 6)(*[reg(n) & mask for n in ("rdi", "rsi", "rdx", "r10", "r8", "r9")])
        clib.library().tt_syscall_from_regs(reg("orig_rax"), reg("rax"), args, ctypes.byref(sc))
    except gdb.error:
        pass
    finally:
        old_th.switch()
        old_fr.select()
    return sc


def stalled_lines(snap, task_id):
    """What `tasktrace hung` prints after a long poll of TASK_ID: its
    worker thread's system call and native stack (gdb's frames, pruned
    and worded by libtasktrace: tt_bt_stalled_thread)."""
    lib = snap._lib
    c = lib.tt_snapshot_find(snap._p, task_id)
    if not c:
        return []
    t = c.contents
    tid = snap.task_tid(t) or 0
    sc = _thread_syscall(tid) if tid else None
    hooks = Hooks(snap)
    out = (ctypes.POINTER(clib.BtNative) * 1)()
    err = ctypes.create_string_buffer(256)
    n = hooks._stack(t, ctypes.addressof(t), out, err, len(err))
    lines = []

    def line(ctx, s, k):
        lines.append(ctypes.string_at(s, k).decode("utf-8", "replace"))
        return 1

    cb = clib.BT_LINE_FN(line)
    lib.tt_bt_stalled_thread(tid, ctypes.byref(sc) if sc is not None else None, None,
                             out[0] if n > 0 else None, n, err.value, cb, None)
    return lines


def bt_text(snap, ids=None):
    """The text of `tasktrace bt` for tasks IDS (None: those it shows)."""
    lib, hooks = snap._lib, Hooks(snap)
    arr = (clib.U64 * max(len(ids), 1))(*ids) if ids is not None else None
    raw = lib.tt_bt_text(snap._p, snap.now_ns, arr, len(ids) if ids is not None else 0,
                         ctypes.byref(hooks.c))
    if not raw:
        raise gdb.GdbError("out of memory printing the backtraces")
    return clib.take_text(lib, raw)


def bt_lines(snap, t, frame=None):
    """Task T's backtrace as a list of lines; FRAME(i, num, indent, lines)
    is called after frame I's line (the last of LINES) and returns lines
    to add there."""
    lines = []
    c = snap._lib.tt_snapshot_find(snap._p, t.id)

    def after(stask, i, num, indent):
        try:
            lines.extend(frame(i, num, indent, lines))
        except Exception as e:  # never unwind through C
            lines.append("(gdb: %s)" % e)

    def line(ctx, s, n):
        lines.append(ctypes.string_at(s, n).decode("utf-8", "replace").rstrip("\n"))
        return 1

    hooks = Hooks(snap, after if frame else None)
    line_cb = clib.BT_LINE_FN(line)
    if snap._lib.tt_bt_snapshot(snap._p, c, snap.now_ns, ctypes.byref(hooks.c), line_cb,
                                None) < 0:
        raise gdb.GdbError("out of memory printing the backtrace")
    return lines


def full_fields(t, i, indent):
    """`task bt -full`: the fields of frame I's future, through its C type."""
    f = t.frames[i]
    if f.func.kind == R.K_LEAF:
        return []
    v = frame_value(f)
    if v is None:
        return []
    text = v.dereference().format_string(pretty_structs=True)
    return [" " * (indent + 8) + l for l in text.splitlines()]


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
    """List tasks like "info threads": info tasks [-all] [-state S] [-name REGEX]
[-label KEY[=VALUE]]... [-labels] [-group [label:KEY]] [-hung D]

-all     include runtime-internal (system) tasks
-state   only tasks in state S (idle, scheduled, running, done, cancelled)
-name    only tasks whose name matches REGEX
-label   only tasks with label KEY set to VALUE (KEY alone: with label KEY);
         repeat it: all must match
-labels  end each row with the task's labels
-group   one row per distinct await chain, with a count;
         -group label:KEY: one row per value of label KEY
-hung D  only tasks the diagnosis flags with every threshold set to D
         (idle, long poll, starved; 0 shows every suspended task), then
         the findings (as "task diagnose")"""

    def __init__(self):
        super().__init__("info tasks", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        opts = {"all": False, "group": False, "state": None, "name": None, "hung": None,
                "labels": False}
        labels, group_label = [], None
        argv = gdb.string_to_argv(arg)
        while argv:
            a = argv.pop(0)
            if a == "-group" and argv and argv[0].startswith("label:") and argv[0][6:]:
                group_label = argv.pop(0)[6:]
            elif a in ("-all", "-group", "-labels"):
                opts[a[1:]] = True
            elif a in ("-state", "-name", "-hung") and argv:
                opts[a[1:]] = argv.pop(0)
            elif a == "-label" and argv and argv[0] and argv[0][0] != "=":
                labels.append(argv.pop(0))
            else:
                raise gdb.GdbError("usage: info tasks [-all] [-state S] [-name REGEX] "
                                   "[-label KEY[=VALUE]]... [-labels] [-group [label:KEY]] "
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
                                  opts["group"], labels, group_label, opts["labels"])
        except R.Corrupt as e:
            raise gdb.GdbError(str(e)) from None
        if findings:
            text += "\n" + "\n".join(f["title"] for f in findings) + "\n"
        gdb.write(text)


def describe(t, snap):
    buf = ctypes.create_string_buffer(512)
    snap._lib.tt_bt_describe(snap._p, snap._lib.tt_snapshot_find(snap._p, t.id), buf, len(buf))
    return buf.value.decode("utf-8", "replace")


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
            tasks = None
        elif argv:
            tasks = [get_task(snap, parse_id(a)) for a in argv]
        else:
            t = current_task(snap)
            if t is None:
                raise gdb.GdbError("No task selected; use \"task ID\" or \"task bt ID\".")
            tasks = [t]
        if not full:
            gdb.write(bt_text(snap, [t.id for t in tasks] if tasks is not None else None))
            return
        if tasks is None:
            tasks = [t for t in snap.tasks if not t.flags & R.TASKF_SYSTEM]
        for i, t in enumerate(tasks):
            lines = bt_lines(snap, t, lambda i, num, indent, _: full_fields(t, i, indent))
            gdb.write(("\n" if i else "") + "\n".join(lines) + "\n")


def history_text(snap, tid):
    """The text of `tasktrace history` for task TID (wording/history.c)."""
    lib = snap._lib
    mem, keep = clib.inferior_mem(gdb.selected_inferior())
    raw = lib.tt_history_text(mem, snap._p, tid, 0, snap.now_ns, None)
    del keep
    if not raw:
        raise gdb.GdbError("out of memory printing the history")
    return clib.take_text(lib, raw)


class TaskHistory(gdb.Command):
    """A task's recent events from the flight recorder: task history [ID]
Newest last: when it was spawned and by whom, each poll with its worker,
duration and how it ended (where it suspended and on what), who woke it,
the tasks it woke and spawned; then what it is doing now.  The words of
`tasktrace history`."""

    def __init__(self):
        super().__init__("task history", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        snap = snapshot()
        arg = arg.strip()
        if arg:
            tid = parse_id(arg)
        else:
            t = current_task(snap)
            if t is None:
                raise gdb.GdbError("No task selected; use \"task ID\" or \"task history ID\".")
            tid = t.id
        gdb.write(history_text(snap, tid))


class TaskApply(gdb.Command):
    """Run a command with each task selected: task apply all|ID...|-label KEY[=VALUE]... CMD
-label: every task with label KEY set to VALUE (KEY alone: with label KEY);
repeat it: all must match."""

    def __init__(self):
        super().__init__("task apply", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        global selected
        argv = arg.split()
        snap = snapshot()
        labels = []
        while argv[:1] == ["-label"] and len(argv) > 1:
            labels.append(argv[1])
            argv = argv[2:]
        if labels:
            tasks = [t for t in snap.tasks if snap.has_labels(t, labels)]
            if not tasks:
                gdb.write("No task has label%s %s.\n" % ("s" if len(labels) > 1 else "",
                                                         " ".join(labels)))
                return
        elif argv[:1] == ["all"]:
            tasks, argv = list(snap.tasks), argv[1:]
        else:
            tasks = []
            while argv and re.fullmatch(r"\d+|0x[0-9a-fA-F]+", argv[0]):
                tasks.append(get_task(snap, parse_id(argv.pop(0))))
        if not tasks or not argv:
            raise gdb.GdbError("usage: task apply all|ID...|-label KEY[=VALUE]... COMMAND")
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
        n = parse_id(argv[0])
        found = []

        def at(i, num, indent, lines):
            if num == n:
                found.append((i, lines[-1]))
            return []

        # Frame N as `task bt` numbers it.
        numbered = [l for l in bt_lines(snap, t, at) if re.match(r"#\d+ ", l)]
        if not found:
            if n < len(numbered):
                raise gdb.GdbError("Frame %u of task %u is not a future: %s"
                                   % (n, t.id, numbered[n]))
            raise gdb.GdbError("Task %u has no frame %u (it has %u)." % (t.id, n, len(numbered)))
        i, text = found[0]
        f = t.frames[i]
        set_task_vars(t)
        gdb.write(text + "\n")
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
        return "Pruned functions: %s%s" % (default_prune(), " and " + value if value else "")


class TaskDiagnose(gdb.Command):
    """Diagnose hung tasks: task diagnose [-idle D] [-long-poll D] [-starved D] [-all] [ID]
Deadlocks (wait-for cycles, spelled out task by task), all tasks asleep,
lost wakers, waits on a oneshot, mutex, semaphore or channel whose owners
are gone, long polls, starved and idle tasks; each with the evidence and
what to do.  Identical findings are one, with a count; -all lists each.  The engine is the one of
`tasktrace hung` (libtasktrace, loaded through ctypes).  With ID, only the
findings about that task.  Defaults: idle 60s, long poll 100ms, starved 1s.
A task resting on an fd read (accept, a peer's next request) or a
cancellation token is idle by design: counted only with -idle-io D."""

    def __init__(self):
        super().__init__("task diagnose", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        from . import diagnose as D
        argv = gdb.string_to_argv(arg)
        th = {"-idle": None, "-long-poll": None, "-starved": None, "-idle-io": None}
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
                                   "[-starved D] [-idle-io D] [-all] [ID]")
        text, found = D.run(D.options(th["-idle"], th["-long-poll"], th["-starved"], every,
                                      th["-idle-io"]))
        if only is not None:
            found = [f for f in found if only in D.involved([f]) or f["other_id"] == only]
            text = "\n".join(f["text"] for f in found) if found else \
                "no problems found for task %u\n" % only
        if any(f["kind"] == "long poll" for f in found):
            # The report's text is the findings' joined by blank lines: a
            # long poll's gets its thread's lines, as in `tasktrace hung`.
            snap = R.snapshot()
            text = "\n".join(f["text"] + "".join(l + "\n" for l in stalled_lines(
                snap, f["task_id"])) if f["kind"] == "long poll" else f["text"]
                for f in found)
        gdb.write(text)


def install():
    InfoTasks()
    Task()
    TaskBt()
    TaskHistory()
    TaskApply()
    TaskFrame()
    TaskDiagnose()  # after Task(): it is a subcommand of the "task" prefix
    SetTasks("set")
    SetTasks("show")
    PruneParam()
    PrunePatternParam()
