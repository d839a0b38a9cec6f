"""The tasktrace registry of the selected inferior, as Python objects.

The decoding is libtasktrace's C reader (clib.py): one decoder, with its
hostile-memory checks (alignment, caps, cycles, depth, one line per bad
task), shared with the CLI and the crash handler.  This module finds the
registry, keeps one snapshot per stop, and wraps its tasks and frames in
small objects the commands use; a task's frames are wrapped on first use.
"""

import ctypes
import json
import re
import time

import gdb

from . import clib

SYMBOL = "tasktrace_registry"
SECTION = ".tasktrace"


class Corrupt(Exception):
    """One line on why the registry cannot be read."""


# The registry's enums are the library's tables (tt_enum_rows), not a copy:
# STATES and WAIT_KINDS (words by value) and a constant per row, named
# after the C one: IDLE.. (task states), TASKF_*, W_* (wait kinds), K_*
# (func kinds), WORKER_*.  They are filled in when the library is first
# needed (module __getattr__, snapshot()), as it is loaded only then.
_ENUM_PREFIXES = ((clib.ENUM_TASK_STATE, ""), (clib.ENUM_TASK_FLAG, "TASKF_"),
                  (clib.ENUM_WAIT_KIND, "W_"), (clib.ENUM_FUNC_KIND, "K_"),
                  (clib.ENUM_WORKER_STATE, "WORKER_"))


def _by_value(rows):
    words = ["?"] * (max((v for v, _, _ in rows), default=-1) + 1)
    for v, _, w in rows:
        words[v] = w
    return words


def _load_enums():
    g = globals()
    if "STATES" in g:
        return
    consts = {}
    for e, prefix in _ENUM_PREFIXES:
        for value, name, _ in clib.enum_rows(e):
            consts[prefix + name] = value
    consts["TASKF_CANCEL"] = consts["TASKF_CANCEL_REQUESTED"]
    consts["WAIT_KINDS"] = _by_value(clib.enum_rows(clib.ENUM_WAIT_KIND))
    consts["STATES"] = _by_value(clib.enum_rows(clib.ENUM_TASK_STATE))
    g.update(consts)


def __getattr__(name):
    if name.isupper() and "STATES" not in globals():
        _load_enums()
        if name in globals():
            return globals()[name]
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def state_name(s):
    _load_enums()
    return STATES[s] if 0 <= s < len(STATES) else "?"


def wait_kind_name(k):
    _load_enums()
    return WAIT_KINDS[k] if 0 <= k < len(WAIT_KINDS) else "?"


class Site:
    __slots__ = ("addr", "function", "file", "line", "flags")


class Func:
    __slots__ = ("addr", "name", "file", "line", "kind", "type_name")


class Frame:
    """A future in an await tree.  Only a leaf has a wait of its own; the
    others read as waiting on nothing (0)."""
    __slots__ = ("addr", "func", "site", "parent", "depth", "children", "wait_kind",
                 "wait_object", "wait_owner", "wait_since", "wait_detail")

    @property
    def kind(self):
        return self.func.kind


# What a Task and a Frame take from the C structs, in offset order.
TASK_FIELDS = ("raw.slot_addr", "raw.id", "raw.seq", "raw.state", "raw.flags", "raw.worker",
               "raw.name", "raw.parent_id", "raw.created_ns", "raw.poll_start_ns",
               "raw.wake_ns", "raw.polls", "raw.wakers", "spawn_site", "frames", "nframes",
               "error", "errmsg")
TASK_ROW = clib.unpacker(clib.STask, TASK_FIELDS)
FRAME_ROW = clib.unpacker(clib.SFrame, (
    "raw.addr", "raw.parent", "raw.depth", "raw.wait_kind", "raw.wait_object",
    "raw.wait_owner", "raw.wait_since_ns", "raw.wait_detail", "func", "site"))


class Task:
    """One task of a snapshot.  error is None or one line; frames holds
    what was decoded before it (pre-order, frames[0] the root)."""

    __slots__ = ("_snap", "slot_addr", "id", "seq", "state", "flags", "worker", "name",
                 "parent_id", "created_ns", "poll_start_ns", "wake_ns", "polls", "wakers",
                 "spawn_site", "_frames_at", "_nframes", "error", "_frames", "_path0")

    def __init__(self, snap, row):
        """ROW: a tt_stask unpacked with TASK_ROW."""
        (self.slot_addr, self.id, self.seq, self.state, self.flags, self.worker, name,
         self.parent_id, self.created_ns, self.poll_start_ns, self.wake_ns, self.polls,
         self.wakers, spawn, self._frames_at, self._nframes, error, errmsg) = row
        self._snap = snap
        self.name = clib.text(name.split(b"\0", 1)[0])
        self.error = clib.text(errmsg.split(b"\0", 1)[0]) if error else None
        self.spawn_site = snap.site(spawn)
        self._frames = self._path0 = None

    @property
    def frames(self):
        if self._frames is None:
            snap, out = self._snap, []
            n = self._nframes if self._frames_at else 0
            rows = FRAME_ROW.iter_unpack(clib.array(self._frames_at, clib.SFrame, n)) if n else ()
            for i, row in enumerate(rows):
                f = Frame()
                (f.addr, f.parent, f.depth, f.wait_kind, f.wait_object, f.wait_owner,
                 f.wait_since, f.wait_detail, func, site) = row
                f.children, f.func, f.site = [], snap.func(func), snap.site(site)
                # The reader checked the indices; pre-order makes a parent
                # come first, so its children list is in place already.
                if 0 <= f.parent < i:
                    out[f.parent].children.append(i)
                out.append(f)
            self._frames = out
        return self._frames

    def path(self, start=0):
        """The awaited path from frame START: first children down to a leaf."""
        if not start and self._path0 is not None:
            return self._path0
        frames = self.frames
        out, f = [], frames[start] if frames else None
        while f is not None:
            out.append(f)
            f = frames[f.children[0]] if f.children else None
        if not start:
            self._path0 = out
        return out

    def _ends(self):
        """Indices of the leaf and of the "where" frame, as C finds them
        (tt_frames_path_ends, the one definition of both)."""
        e = clib.PathEnds()
        n = self._nframes if self._frames_at else 0
        self._snap._lib.tt_frames_path_ends(self._frames_at, ctypes.sizeof(clib.SFrame), n,
                                            ctypes.byref(e))
        return e

    def leaf(self):
        e = self._ends()
        return self.frames[e.leaf] if e.leaf < len(self.frames) else None

    def where(self):
        """The innermost async function suspended at an await."""
        e = self._ends()
        if e.where < len(self.frames) and self.frames[e.where].site is not None:
            return self.frames[e.where]
        return None


class Worker:
    __slots__ = ("tid", "index", "state", "task_id", "task")


class Snapshot:
    """The whole registry as read at one stop (a tt_snapshot, freed with
    this object)."""

    def __init__(self, lib, ptr):
        self._lib, self._p = lib, ptr
        s = ptr.contents
        self.root_addr, self.now_ns, self.pid = s.root_addr, s.now_ns, s.pid
        self.start_mono_ns, self.start_real_ns = s.start_mono_ns, s.start_real_ns
        self.live = False
        self._ctasks, self._ntasks = s.tasks, s.ntasks
        self._tasks, self._by_id, self._sites, self._funcs = None, {}, {}, {}
        self.workers = []
        for w in s.workers[:s.nworkers]:
            o = Worker()
            o.tid, o.index, o.state, o.task_id, o.task = w.tid, w.index, w.state, w.task_id, w.task
            self.workers.append(o)
        # Slots the reader could not decode at all (no id): (address, why).
        self.errors = []
        if s.nerrors:
            self.errors = [(t.raw.slot_addr, clib.text(t.errmsg))
                           for t in s.tasks[:s.ntasks] if not t.raw.id and t.error]

    def __del__(self):
        try:
            self._lib.tt_snapshot_free(self._p)
        except Exception:  # gdb exiting: its Python is half torn down
            pass

    def _task(self, row):
        t = self._by_id.get(row[1])
        if t is None:
            t = self._by_id[row[1]] = Task(self, row)
        return t

    @property
    def tasks(self):
        """Every decoded task, in id order."""
        if self._tasks is None:
            make, rows = self._task, ()
            if self._ntasks:
                rows = TASK_ROW.iter_unpack(clib.array(ctypes.addressof(self._ctasks.contents),
                                                       clib.STask, self._ntasks))
            self._tasks = sorted((make(r) for r in rows if r[1]), key=lambda t: t.id)
        return self._tasks

    def find(self, tid):
        t = self._by_id.get(tid)
        if t is None and 0 < tid < 1 << 64:
            c = self._lib.tt_snapshot_find(self._p, tid)
            if c:
                addr = ctypes.cast(c, ctypes.c_void_p).value
                t = self._task(TASK_ROW.unpack_from(clib.array(addr, clib.STask, 1)))
        return t

    def name_of(self, tid):
        t = self.find(tid) if tid else None
        return t.name if t else None

    def worker_for_tid(self, lwp):
        for w in self.workers:
            if w.tid == lwp:
                return w
        return None

    def task_tid(self, t):
        """The thread of the worker polling STask T (its runtime's worker:
        indexes count per runtime), None when unknown or a fork's copy."""
        tid = self._lib.tt_snapshot_task_tid(self._p, ctypes.addressof(t.raw))
        return tid if tid > 0 else None

    def site(self, p):
        """A tt_ssite at address P as a Site (None for 0), made once."""
        s = self._sites.get(p)
        if s is None:
            if not p:
                return None
            c = clib.SSite.from_address(p)
            s = self._sites[p] = Site()
            s.addr, s.line, s.flags = c.addr, c.line, c.flags
            s.function, s.file = clib.text(c.function) or "??", clib.text(c.file) or "??"
        return s

    def func(self, p):
        """A tt_sfunc at address P (never 0: the reader names unknown ones
        "??") as a Func, made once."""
        f = self._funcs.get(p)
        if f is None:
            c = clib.SFunc.from_address(p) if p else clib.SFunc()
            f = self._funcs[p] = Func()
            f.addr, f.line, f.kind = c.addr, c.line, c.kind
            f.name, f.file = clib.text(c.name) or "??", clib.text(c.file) or "??"
            f.type_name = clib.text(c.type_name) or ""
        return f

    def task_list(self, every=False, state=-1, name=None, ids=None, selected=0,
                  group=False, labels=(), group_label=None, show_labels=False):
        """The text of `info tasks` (tasktrace/tasklist.h: the rows of
        `tasktrace ps`).  Raises Corrupt for a bad NAME regex."""
        o = clib.ListOpts(all=1 if every else 0, state=state,
                          name_regex=name.encode() if name else None,
                          selected=selected or 0, group=1 if group else 0,
                          group_label=group_label.encode() if group_label else None,
                          show_labels=1 if show_labels else 0)
        if labels:
            specs = (clib.CHARP * len(labels))(*[l.encode() for l in labels])
            o.labels, o.nlabels = specs, len(labels)
        if ids is not None:
            arr = (clib.U64 * max(len(ids), 1))(*ids)
            o.ids, o.nids = arr, len(ids)
        err = ctypes.create_string_buffer(256)
        raw = self._lib.tt_task_list(self._p, self.now_ns, ctypes.byref(o), err, len(err))
        if not raw:
            raise Corrupt(err.value.decode("utf-8", "replace"))
        return clib.take_text(self._lib, raw)

    def has_labels(self, t, labels):
        """Does task T carry every label of LABELS ("KEY=VALUE" or "KEY"),
        as tasktrace's --label matches them (tt_task_has_label)?"""
        st = self._lib.tt_snapshot_find(self._p, t.id)
        return bool(st) and all(self._lib.tt_task_has_label(st, l.encode()) for l in labels)

    def json_tasks(self, every=False, tid=0, frames=False, object_hook=None):
        """The tasks as the CLI's --json writes them (tasktrace/read/taskjson.h),
        parsed (with OBJECT_HOOK, as json.loads takes it): every task
        (EVERY: system ones too) or only TID."""
        raw = self._lib.tt_json_tasks(self._p, self.now_ns, 1 if every else 0, tid,
                                      1 if frames else 0)
        if not raw:
            raise Corrupt("out of memory writing the tasks as JSON")
        return json.loads(clib.take_text(self._lib, raw), object_hook=object_hook)["tasks"]


# ---- finding the root, and the per-stop cache ----

def objfile_has_registry(objfile):
    """Does this objfile define the registry (by symbol or by section)?"""
    try:
        if objfile.lookup_global_symbol(SYMBOL) is not None:
            return True
    except (gdb.error, AttributeError):
        pass
    return objfile.filename in _objfiles_with_section()


def _objfiles_with_section():
    """Names of the objfiles with a .tasktrace section, as gdb read them
    (no ELF parsing of our own)."""
    try:
        text = gdb.execute("maint info sections -all-objects " + SECTION, to_string=True)
    except gdb.error:
        return set()
    names, current = set(), None
    for line in text.splitlines():
        m = re.match(r"\s*(?:Exec|Object) file: `(.*)', file type", line)
        if m:
            current = m.group(1)
        elif current is not None and re.search(r": \.tasktrace\b", line):
            names.add(current)
    return names


def _section_candidates():
    """Load addresses of every .tasktrace section (stripped binaries)."""
    try:
        text = gdb.execute("maint info sections -all-objects " + SECTION, to_string=True)
    except gdb.error:
        return []
    return [int(m.group(1), 16)
            for m in re.finditer(r"(0x[0-9a-f]+)->0x[0-9a-f]+ at 0x[0-9a-f]+: \.tasktrace\b", text)]


def find_root():
    """The registry address: gdb's view of the symbol (which follows copy
    relocations into the executable), else the .tasktrace sections; of
    several, the one a runtime has started (its pid is set)."""
    cands = []
    try:
        cands.append(int(gdb.parse_and_eval("&" + SYMBOL).cast(
            gdb.lookup_type("unsigned long"))))
    except gdb.error:
        pass
    cands += [a for a in _section_candidates() if a not in cands]
    if not cands:
        raise Corrupt("no tasktrace registry in this program "
                      "(no symbol %s, no section %s)" % (SYMBOL, SECTION))
    return cands


_cache = {}

# When each inferior stopped, on this process's CLOCK_MONOTONIC.  The CLI
# ages stamps against the moment it stopped the target, a few ms before it
# prints; gdb answers a command long after the stop -- an attach reads the
# symbols of every library first (hundreds of ms) -- and a worker's poll or
# a timer caught at the stop must not age meanwhile.
_stopped_at = {}
# An attach stops the target at once, reports its threads (new_thread),
# reads every library's symbols, and only then reports the stop -- a plain
# StopEvent, the inferior's first.  Until that first stop: when it was
# first seen.  (A `run` stops first at a breakpoint or a signal, reported
# when it happens.)
_first_seen = {}
_has_stopped = set()
_seen_at_import = set()


def _mono():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def _inferior(event):
    thread = getattr(event, "inferior_thread", None)
    return thread.inferior if thread is not None else gdb.selected_inferior()


def note_thread(event=None):
    """EVENT None: the plugin loaded while the target is there, likely from
    its library's objfile during an attach (whose thread events came
    first); a resume says it was not (imported by hand later)."""
    inf = _inferior(event)
    if inf.pid and inf.num not in _has_stopped and inf.num not in _first_seen:
        _first_seen[inf.num] = _mono()
        if event is None:
            _seen_at_import.add(inf.num)


def note_stop(event):
    inf = _inferior(event)
    at = _mono()
    if type(event) is gdb.StopEvent and inf.num not in _has_stopped:
        at = _first_seen.get(inf.num, at)
    _has_stopped.add(inf.num)
    _first_seen.pop(inf.num, None)
    _seen_at_import.discard(inf.num)
    _stopped_at[inf.num] = at


def note_resume(*_):
    _stopped_at.clear()
    for num in _seen_at_import:
        _first_seen.pop(num, None)
    _seen_at_import.clear()


def note_exit(*_):
    _stopped_at.clear()
    _first_seen.clear()
    _has_stopped.clear()
    _seen_at_import.clear()


def invalidate(*_):
    _cache.clear()


def snapshot():
    """The registry as of this stop; cached until the target resumes."""
    inf = gdb.selected_inferior()
    if inf.pid == 0:
        raise Corrupt("The program is not being run (no live process or core).")
    key = (inf.num, inf.pid)
    snap = _cache.get(key)
    if snap is None:
        try:
            lib = clib.library()
            _load_enums()
        except gdb.GdbError as e:
            raise Corrupt(str(e)) from None
        mem, keep = clib.inferior_mem(inf)
        cands = find_root()
        addrs, pick = (clib.U64 * len(cands))(*cands), clib.RootPick()
        # The choice among the candidates is C's (tt_root_pick), the CLI's.
        rc = lib.tt_root_pick(mem, addrs, len(cands), ctypes.byref(pick))
        # A PIE executable that takes the registry's address gets a copy
        # relocation: the library's own .tasktrace copy then stays as
        # initialised, never started.  Do not let such a stale copy hide
        # the live one's error.
        if rc or (not pick.pid and pick.failed < len(cands)):
            raise Corrupt(pick.err.decode("utf-8", "replace"))
        out, err = clib.SNAP_P(), ctypes.create_string_buffer(256)
        if lib.tt_snapshot_read(mem, cands[pick.chosen], None, ctypes.byref(out), err, len(err)):
            raise Corrupt(err.value.decode("utf-8", "replace"))
        del keep
        # A fork's copy of the parent's tasks is told by the pid read.
        lib.tt_snapshot_set_target(out, inf.pid)
        note = ctypes.create_string_buffer(256)
        if lib.tt_snapshot_fork_note(out, note, len(note)):
            gdb.write("warning: %s\n" % note.value.decode("utf-8", "replace"))
        snap = _cache[key] = Snapshot(lib, out)
        conn = _connection(inf)
        snap.live = conn == "native"
        # The "now" that stamps are aged against, as the CLI takes it: the
        # moment the target stopped, not this command's (docs/gdb.md).
        if snap.live:
            at = _stopped_at.get(inf.num)
            snap.now_ns = (lib.tt_live_now_at(inf.pid, snap.now_ns, at) if at else
                           lib.tt_live_now(inf.pid, snap.now_ns))
        elif conn == "core":
            core = _core_file()
            if core:
                snap.now_ns = lib.tt_core_now(core.encode(), snap.now_ns,
                                              snap.start_mono_ns, snap.start_real_ns)
    return snap


def _connection(inf):
    conn = getattr(inf, "connection", None)
    return conn.type if conn is not None else None


def _core_file():
    """The core file gdb has open, from `info target` (gdb 13's Python has
    no attribute for it)."""
    try:
        text = gdb.execute("info target", to_string=True)
    except gdb.error:
        return None
    m = re.search(r"Local core dump file:\s*`(.+)', file type", text)
    return m.group(1) if m else None
