"""Decode the tasktrace registry from target memory, without running code.

Everything comes from gdb.Inferior.read_memory and the registry's own layout
table: no struct layout is compiled in.  Target memory is hostile: every
pointer is checked for alignment, every count against a cap, chains are
walked with cycle and depth limits, and a task that cannot be decoded
carries one line saying why while the others still decode.
"""

import re
import struct
import time

import gdb

MAGIC = 0x31474552544B5354  # "TSKTREG1"
ABI_VERSION = 1
SYMBOL = "tasktrace_registry"
SECTION = ".tasktrace"

# Record ids and field numbers (registry.h; frozen).
ROOT, CHUNK, TASK, FRAME, WAIT, SITE, FUNC, WORKER = range(1, 9)
FIELDS = {
    ROOT: "size chunks chunk_count chunk_capacity workers worker_count worker_capacity now_ns "
    "start_mono_ns start_real_ns tasks_live next_task_id runtime_name pid sites_start "
    "sites_stop funcs_start funcs_stop flags",
    CHUNK: "size slots slot_count first_index",
    TASK: "size id seq state flags name parent_id spawn_site root_frame worker created_ns "
    "poll_start_ns poll_end_ns wake_ns polls busy_ns wakes self_wakes wakers runtime_id",
    FRAME: "size func site child sibling",
    WAIT: "size kind object owner since_ns detail",
    SITE: "size function file line flags resume",
    FUNC: "size name file line kind type_name frame_size poll",
    WORKER: "size tid index state task_id task poll_start_ns runtime_id",
}
FIELDS = {rec: names.split() for rec, names in FIELDS.items()}
REQUIRED = {
    ROOT: ["chunks", "chunk_count"],
    CHUNK: ["size", "slots", "slot_count"],
    TASK: ["size", "id", "seq", "state"],
    FRAME: ["size", "func", "site", "child", "sibling"],
    SITE: ["size", "line"],
    FUNC: ["size", "name", "kind"],
}

STATES = ["idle", "scheduled", "running", "done", "cancelled"]
IDLE, SCHEDULED, RUNNING = 0, 1, 2
TASKF_SYSTEM, TASKF_DETACHED, TASKF_CANCEL, TASKF_BLOCK_ON = 1, 2, 4, 8
WAIT_KINDS = ["none", "timer", "fd read", "fd write", "channel send", "channel recv",
              "oneshot", "mutex", "semaphore", "notify", "join", "group",
              "blocking call", "custom"]
W_NONE, W_TIMER, W_FD_READ, W_FD_WRITE = 0, 1, 2, 3
W_MUTEX, W_JOIN, W_BLOCKING = 7, 10, 12
K_ASYNC, K_LEAF, K_COMBINATOR = 0, 1, 2
WORKER_POLLING = 2

# Caps on what hostile memory may claim (those of the C reader).
MAX_DEPTH = 256
MAX_FRAMES = 4096
MAX_CHUNKS = 64
MAX_SLOTS = 1 << 26
MAX_WORKERS = 4096
MAX_STRING = 4096
MAX_RECORD = 1024
MAX_TASK_RECORD = 4096
READ_BLOCK = 1 << 20  # bytes of slots per read_memory
ALIGN = 8

_UNPACK = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}


class Corrupt(Exception):
    """One line on why something in the registry cannot be decoded."""


def state_name(s):
    return STATES[s] if 0 <= s < len(STATES) else "?"


def wait_kind_name(k):
    return WAIT_KINDS[k] if 0 <= k < len(WAIT_KINDS) else "?"


def clean(raw):
    """Untrusted bytes to printable text: control bytes become '?'."""
    text = bytes(raw).split(b"\0", 1)[0].decode("utf-8", "replace")
    return re.sub(r"[\x00-\x1f\x7f]", "?", text)


class Site:
    __slots__ = ("addr", "function", "file", "line", "flags")


class Func:
    __slots__ = ("addr", "name", "file", "line", "kind", "type_name")


class Frame:
    __slots__ = ("addr", "func", "site", "parent", "depth", "children",
                 "wait_kind", "wait_object", "wait_owner", "wait_since", "wait_detail")

    @property
    def kind(self):
        return self.func.kind


class Task:
    """One occupied slot.  error is None or one line; frames holds what was
    decoded before it (pre-order, frames[0] the root)."""

    def __init__(self, slot_addr):
        self.slot_addr = slot_addr
        self.error = None
        self.frames = []
        self.spawn_site = None
        self.id = self.state = self.flags = self.parent_id = 0
        self.name = "??"
        self.worker = -1
        self.seq = self.wakers = self.wake_ns = self.poll_start_ns = self.created_ns = 0

    def path(self, start=0):
        """The awaited path from frame START: first children down to a leaf."""
        out, f = [], self.frames[start] if self.frames else None
        while f is not None:
            out.append(f)
            f = self.frames[f.children[0]] if f.children else None
        return out

    def leaf(self):
        p = self.path()
        return p[-1] if p else None

    def where(self):
        """The innermost async function suspended at an await."""
        for f in reversed(self.path()):
            if f.func.kind != K_LEAF and f.site is not None:
                return f
        return None

    def chain_key(self):
        return tuple(f.site.addr if f.site else f.func.addr for f in self.frames)


class Worker:
    __slots__ = ("tid", "index", "state", "task_id", "task")


class Snapshot:
    """The whole registry as read at one stop."""

    def __init__(self, reader):
        self.reader = reader
        self.now_ns = reader.root("now_ns")
        self.pid = reader.root("pid")
        self.tasks = []
        self.errors = []  # unreadable slots or chunks: (address, reason)
        self.workers = []
        self.by_id = {}
        self.live = False

    def find(self, tid):
        return self.by_id.get(tid)

    def name_of(self, tid):
        t = self.by_id.get(tid)
        return t.name if t else None

    def worker_for_tid(self, lwp):
        for w in self.workers:
            if w.tid == lwp:
                return w
        return None

    def worker_tid(self, index):
        for w in self.workers:
            if w.index == index and index >= 0:
                return w.tid
        return None


class Reader:
    """An opened registry: header checked, layout table decoded."""

    def __init__(self, inferior, addr):
        self.inf = inferior
        self.addr = addr
        self.strings = {}
        self.sites = {}
        self.funcs = {}
        if addr % ALIGN:
            raise Corrupt("registry root %#x: misaligned" % addr)
        h = self.read(addr, 32, "registry root")
        magic, version, root_size, psize, le, count, off = struct.unpack_from("<QIIBBHI", h)
        if magic != MAGIC:
            raise Corrupt("registry root %#x: bad magic %#x (not a tasktrace registry)"
                          % (addr, magic))
        if version != ABI_VERSION:
            raise Corrupt("registry ABI version %u, this reader supports %u"
                          % (version, ABI_VERSION))
        if le != 1 or psize != 8:
            raise Corrupt("registry header: pointer size %u, little-endian %u unsupported"
                          % (psize, le))
        if not 32 <= root_size <= MAX_RECORD:
            raise Corrupt("registry root size %u out of range" % root_size)
        if count > 512 or off < 32 or off + 8 * count > root_size:
            raise Corrupt("layout table (offset %u, %u rows) outside the root (%u bytes)"
                          % (off, count, root_size))
        self.root_buf = self.read(addr, root_size, "registry root")
        self._layout(self.root_buf[off:off + 8 * count], count, root_size)

    def _layout(self, tab, count, root_size):
        self.size = {rec: 0 for rec in FIELDS}
        self.f = {rec: {} for rec in FIELDS}
        for i in range(count):
            rec, fld, off, size = struct.unpack_from("<HHHH", tab, 8 * i)
            if rec not in FIELDS or fld >= len(FIELDS[rec]):
                continue  # a newer writer's rows
            name = FIELDS[rec][fld]
            if name in self.f[rec] or (fld == 0 and self.size[rec]):
                raise Corrupt("layout: %s listed twice" % name)
            if fld == 0:
                self.size[rec] = size
            elif size in _UNPACK or (rec == TASK and name == "name" and size <= 64):
                self.f[rec][name] = (off, size)
            else:
                raise Corrupt("layout: field %s of record %u has size %u" % (name, rec, size))
        self.size[ROOT] = root_size
        for rec, need in REQUIRED.items():
            for name in need:
                if not (self.size[rec] if name == "size" else name in self.f[rec]):
                    raise Corrupt("layout: record %u lacks field %s" % (rec, name))
        for rec, fields in self.f.items():
            cap = MAX_TASK_RECORD if rec == TASK else MAX_RECORD
            if self.size[rec] > cap:
                raise Corrupt("layout: record %u size %u is absurd" % (rec, self.size[rec]))
            for name, (off, size) in fields.items():
                if rec != WAIT and off + size > self.size[rec]:
                    raise Corrupt("layout: field %s overflows record %u" % (name, rec))
        if self.size[TASK] % ALIGN or self.size[WORKER] % ALIGN:
            raise Corrupt("layout: task/worker record size not a multiple of 8")
        # WAIT offsets count from the leaf frame's start: read that far.
        ext = max([o + s for o, s in self.f[WAIT].values()] + [self.size[FRAME]])
        self.size[WAIT] = max(self.size[WAIT], ext)

    # ---- memory ----

    def read(self, addr, n, what):
        if addr <= 0 or addr + n > 1 << 64:
            raise Corrupt("%s %#x: unreadable" % (what, addr))
        try:
            return bytes(self.inf.read_memory(addr, n))
        except (gdb.MemoryError, gdb.error, OverflowError, ValueError):
            raise Corrupt("%s %#x: unreadable" % (what, addr)) from None

    def get(self, rec, buf, name, base=0):
        f = self.f[rec].get(name)
        if f is None:
            return 0
        return struct.unpack_from(_UNPACK[f[1]], buf, base + f[0])[0]

    def root(self, name):
        return self.get(ROOT, self.root_buf, name)

    def record(self, rec, addr, what):
        if not addr:
            raise Corrupt("%s at address 0" % what)
        if addr % ALIGN:
            raise Corrupt("%s %#x: misaligned" % (what, addr))
        return self.read(addr, self.size[rec], what)

    def string(self, addr):
        if addr in self.strings:
            return self.strings[addr]
        out, a = b"", addr
        try:
            if not addr:
                raise Corrupt("null string")
            while len(out) < MAX_STRING:
                piece = self.read(a, min(256, 4096 - a % 4096), "string")
                out += piece
                a += len(piece)
                if b"\0" in piece:
                    break
            s = clean(out) if b"\0" in out else "??"
        except Corrupt:
            s = "??"
        self.strings[addr] = s
        return s

    def site(self, addr):
        """Decoded once per stop; None for 0."""
        if not addr:
            return None
        s = self.sites.get(addr)
        if s is None:
            b = self.record(SITE, addr, "site")
            s = Site()
            s.addr = addr
            s.function = self.string(self.get(SITE, b, "function"))
            s.file = self.string(self.get(SITE, b, "file"))
            s.line = self.get(SITE, b, "line")
            s.flags = self.get(SITE, b, "flags")
            self.sites[addr] = s
        return s

    def func(self, addr):
        fn = self.funcs.get(addr)
        if fn is None:
            b = self.record(FUNC, addr, "func")
            fn = Func()
            fn.addr = addr
            fn.name = self.string(self.get(FUNC, b, "name"))
            fn.file = self.string(self.get(FUNC, b, "file"))
            fn.line = self.get(FUNC, b, "line")
            fn.kind = self.get(FUNC, b, "kind")
            tn = self.get(FUNC, b, "type_name")
            fn.type_name = self.string(tn) if tn else ""
            self.funcs[addr] = fn
        return fn

    # ---- tasks ----

    def decode_task(self, buf, base, slot_addr, task):
        g = lambda name: self.get(TASK, buf, name, base)
        task.id, task.seq, task.state, task.flags = g("id"), g("seq"), g("state"), g("flags")
        off, size = self.f[TASK].get("name", (0, 0))
        task.name = clean(buf[base + off:base + off + min(size, 31)]) if size else ""
        task.parent_id = g("parent_id")
        w = self.f[TASK].get("worker")
        task.worker = -1
        if w:
            v = g("worker")
            task.worker = v - (1 << 8 * w[1]) if v >> (8 * w[1] - 1) else v
        task.created_ns, task.poll_start_ns = g("created_ns"), g("poll_start_ns")
        task.wake_ns, task.wakers, task.polls = g("wake_ns"), g("wakers"), g("polls")
        try:
            task.spawn_site = self.site(g("spawn_site"))
            self.walk(task, g("root_frame"))
        except Corrupt as e:
            task.error = str(e)

    def walk(self, task, root):
        """Pre-order walk of the await tree, as the C reader does."""
        seen = set()
        todo = [(root, -1, 0)] if root else []
        while todo:
            addr, parent, depth = todo.pop()
            if depth > MAX_DEPTH:
                raise Corrupt("await chain deeper than %u at frame %#x" % (MAX_DEPTH, addr))
            if len(task.frames) >= MAX_FRAMES:
                raise Corrupt("more than %u frames at frame %#x" % (MAX_FRAMES, addr))
            if addr in seen:
                raise Corrupt("await chain loops at frame %#x" % addr)
            seen.add(addr)
            if addr % ALIGN:
                raise Corrupt("frame %#x: misaligned" % addr)
            try:
                b = self.read(addr, self.size[WAIT], "frame")
            except Corrupt:
                b = self.read(addr, self.size[FRAME], "frame")
            f = Frame()
            f.addr, f.parent, f.depth, f.children = addr, parent, depth, []
            try:
                f.func = self.func(self.get(FRAME, b, "func"))
                f.site = self.site(self.get(FRAME, b, "site"))
            except Corrupt as e:
                raise Corrupt("frame %#x: %s" % (addr, e)) from None
            f.wait_kind = f.wait_object = f.wait_owner = f.wait_since = f.wait_detail = 0
            if f.func.kind == K_LEAF:
                if len(b) < self.size[WAIT]:
                    raise Corrupt("frame %#x: wait record unreadable" % addr)
                f.wait_kind = self.get(WAIT, b, "kind")
                f.wait_object = self.get(WAIT, b, "object")
                f.wait_owner = self.get(WAIT, b, "owner")
                f.wait_since = self.get(WAIT, b, "since_ns")
                f.wait_detail = self.get(WAIT, b, "detail")
            index = len(task.frames)
            task.frames.append(f)
            if parent >= 0:
                task.frames[parent].children.append(index)
            sibling, child = self.get(FRAME, b, "sibling"), self.get(FRAME, b, "child")
            # Stack: the child goes on top so the awaited path comes first.
            if sibling and depth > 0:
                todo.append((sibling, parent, depth))
            if child:
                todo.append((child, index, depth + 1))

    def chunks(self):
        n, arr = self.root("chunk_count"), self.root("chunks")
        cap = self.root("chunk_capacity") if "chunk_capacity" in self.f[ROOT] else n
        if n > cap or n > MAX_CHUNKS:
            raise Corrupt("chunk_count %u is absurd" % n)
        if n and (not arr or arr % ALIGN):
            raise Corrupt("chunk array %#x: bad pointer" % arr)
        return [struct.unpack_from("<Q", self.read(arr, 8 * n, "chunk array"), 8 * i)[0]
                for i in range(n)] if n else []

    def snapshot(self):
        snap = Snapshot(self)
        stride, total = self.size[TASK], 0
        id_off, id_size = self.f[TASK]["id"]
        for k, caddr in enumerate(self.chunks()):
            try:
                c = self.record(CHUNK, caddr, "chunk %u" % k)
                slots, count = self.get(CHUNK, c, "slots"), self.get(CHUNK, c, "slot_count")
                total += count
                if not count or total > MAX_SLOTS:
                    raise Corrupt("chunk %u (%#x): slot_count %u is absurd" % (k, caddr, count))
                if not slots or slots % ALIGN:
                    raise Corrupt("chunk %u (%#x): slots %#x bad pointer" % (k, caddr, slots))
            except Corrupt as e:
                snap.errors.append((caddr, str(e)))
                continue
            per = max(1, READ_BLOCK // stride)
            for first in range(0, count, per):
                n = min(per, count - first)
                base_addr = slots + first * stride
                try:
                    buf = self.read(base_addr, n * stride, "task slots")
                except Corrupt as e:
                    snap.errors.append((base_addr, str(e)))
                    continue
                for i in range(n):
                    if not int.from_bytes(buf[i * stride + id_off:i * stride + id_off + id_size],
                                          "little"):
                        continue
                    t = Task(base_addr + i * stride)
                    self.decode_task(buf, i * stride, t.slot_addr, t)
                    snap.tasks.append(t)
                    snap.by_id.setdefault(t.id, t)
        snap.tasks.sort(key=lambda t: t.id)
        try:
            snap.workers = self.workers()
        except Corrupt as e:
            snap.errors.append((self.root("workers"), str(e)))
        return snap

    def workers(self):
        n, base, size = self.root("worker_count"), self.root("workers"), self.size[WORKER]
        if not n or not size or not base:
            return []
        if n > MAX_WORKERS or ("worker_capacity" in self.f[ROOT]
                               and n > self.root("worker_capacity")):
            raise Corrupt("worker_count %u is absurd" % n)
        if base % ALIGN:
            raise Corrupt("workers %#x: misaligned" % base)
        buf = self.read(base, n * size, "workers")
        out = []
        for i in range(n):
            w = Worker()
            for name in Worker.__slots__:
                setattr(w, name, self.get(WORKER, buf, name if name != "task" else "task", i * size))
            out.append(w)
        return out


# ---- finding the root, and the per-stop cache ----

def objfile_has_registry(objfile):
    """Does this objfile define the registry (by symbol or by section)?"""
    try:
        if objfile.lookup_global_symbol(SYMBOL) is not None:
            return True
    except (gdb.error, AttributeError):
        pass
    return _elf_has_section(objfile.filename, SECTION)


def _elf_has_section(path, name):
    try:
        with open(path, "rb") as f:
            h = f.read(64)
            if h[:4] != b"\x7fELF" or h[4] != 2:
                return False
            shoff, = struct.unpack_from("<Q", h, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from("<HHH", h, 0x3A)
            if not shoff or shnum > 4096 or shentsize < 64:
                return False
            f.seek(shoff)
            tab = f.read(shentsize * shnum)
            stroff, strsize = struct.unpack_from("<QQ", tab, shstrndx * shentsize + 0x18)
            if strsize > 1 << 20:
                return False
            f.seek(stroff)
            strs = f.read(strsize)
            want = name.encode() + b"\0"
            return any(strs[struct.unpack_from("<I", tab, i * shentsize)[0]:].startswith(want)
                       for i in range(shnum))
    except (OSError, struct.error, TypeError):
        return False


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
        opened, error = [], None
        for addr in find_root():
            try:
                opened.append(Reader(inf, addr))
            except Corrupt as e:
                error = error or e
        # A PIE executable that takes the registry's address gets a copy
        # relocation: the library's own .tasktrace copy then stays as
        # initialised, never started.  Prefer a started registry, and do not
        # let such a stale copy hide the live one's error.
        started = [r for r in opened if r.root("pid")]
        if not started and error is not None:
            raise error
        snap = _cache[key] = (started or opened)[0].snapshot()
        snap.live = _connection(inf) == "native"
        if snap.live:
            snap.now_ns = _live_now(inf.pid, snap.now_ns)
    return snap


def _connection(inf):
    conn = getattr(inf, "connection", None)
    return conn.type if conn is not None else None


def _timens_monotonic(pid):
    try:
        with open("/proc/%s/timens_offsets" % pid) as f:
            for line in f:
                w = line.split()
                if w[0] == "monotonic":
                    return int(w[1]) * 1000000000 + int(w[2])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _live_now(pid, registry_now):
    """Workers refresh the now stamp only while they run, so in a hung
    process it is stale; a live local target shares our monotonic clock
    (shifted by time namespaces).  In a core the stamp is the dump's time."""
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) - _timens_monotonic("self") + \
        _timens_monotonic(pid)
    return now if now >= registry_now else registry_now
