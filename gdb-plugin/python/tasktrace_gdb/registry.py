"""Decode the tasktrace registry from target memory, without running code.

Everything comes from gdb.Inferior.read_memory and the registry's own layout
table: no struct layout is compiled in.  Target memory is hostile: every
pointer is checked for alignment, every count against a cap, chains are
walked with cycle and depth limits, and a task that cannot be decoded
carries one line saying why while the others still decode.
"""

import gc
import operator
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
# Frames are scattered heap objects: they are read through a cache of
# aligned blocks (pages where a block straddles unreadable memory), as the C
# reader's block cache does, instead of one read_memory per frame.
BLOCK = 1 << 16
PAGE = 1 << 12
MAX_BLOCKS = 256  # blocks kept at once (frames are mostly in allocation order)

_UNPACK = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}
_CODE = {1: "B", 2: "H", 4: "I", 8: "Q"}
_ZERO = (0,)
_MISSING = object()
# The task slot fields a snapshot decodes ("id" first: it tells an occupied slot).
TASK_FIELDS = ("id", "seq", "state", "flags", "name", "parent_id", "worker", "created_ns",
               "poll_start_ns", "wake_ns", "wakers", "polls", "spawn_site", "root_frame")
FRAME_FIELDS = ("func", "site", "child", "sibling")
WAIT_FIELDS = ("kind", "object", "owner", "since_ns", "detail")


class Corrupt(Exception):
    """One line on why something in the registry cannot be decoded."""


def state_name(s):
    return STATES[s] if 0 <= s < len(STATES) else "?"


def wait_kind_name(k):
    return WAIT_KINDS[k] if 0 <= k < len(WAIT_KINDS) else "?"


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean(raw):
    """Untrusted bytes to printable text: control bytes become '?'."""
    text = bytes(raw).split(b"\0", 1)[0].decode("utf-8", "replace")
    return _CONTROL.sub("?", text)


class Site:
    __slots__ = ("addr", "function", "file", "line", "flags")


class Func:
    __slots__ = ("addr", "name", "file", "line", "kind", "type_name")


class _NoWait:
    __slots__ = ()
    wait_kind = wait_object = wait_owner = wait_since = wait_detail = 0


class Frame(_NoWait):
    """A future in an await tree.  Only a leaf (LeafFrame) has a wait of
    its own; the others read as waiting on nothing (0)."""
    __slots__ = ("addr", "func", "site", "parent", "depth", "children")

    @property
    def kind(self):
        return self.func.kind


class LeafFrame(Frame):
    __slots__ = ("wait_kind", "wait_object", "wait_owner", "wait_since", "wait_detail")


class Shape:
    """The funcs and sites of a chain's frames, from the root down to one
    depth: a node of a trie shared by every task whose chain starts so.
    path: ((func, site), ...) root first; next: {func address: {site
    address: Shape}} one frame deeper; leaf: this frame is a leaf; where:
    (func, site) of the innermost async frame at an await, or None; key:
    Task.chain_key() of a chain that ends here."""
    __slots__ = ("path", "next", "leaf", "where", "key")


class Template:
    """Where a chain of one Shape has its frames relative to the root
    frame (deltas: the other frames'), read as one struct from lo to hi
    (bytes from the root) and checked: const(vals) == values (funcs, sites,
    zero siblings, the last child), kids(vals) the children pointers, and
    placed(root, kids) that they are root + deltas; wait(vals) the leaf's
    wait fields."""
    __slots__ = ("shape", "lo", "hi", "deltas", "unpack", "const", "values", "kids", "placed",
                 "wait")


def _getter(indexes):
    """itemgetter that always gives a tuple."""
    if len(indexes) == 1:
        i = indexes[0]
        return lambda vals: (vals[i],)
    if not indexes:
        return lambda vals: ()
    return operator.itemgetter(*indexes)


def _placed(deltas):
    """placed(root, kids): kids == root + each of DELTAS."""
    if not deltas:
        return lambda root, kids: True
    if len(deltas) == 1:
        d0, = deltas
        return lambda root, kids: kids[0] - root == d0
    if len(deltas) == 2:
        d0, d1 = deltas
        return lambda root, kids: kids[0] - root == d0 and kids[1] - root == d1
    return lambda root, kids: tuple(map(root.__add__, deltas)) == kids


class Task:
    """One occupied slot.  error is None or one line; frames holds what was
    decoded before it (pre-order, frames[0] the root).

    A plain chain (no branches) whose funcs and sites are known is kept as
    its Shape, the frames' addresses and the leaf's wait (_shape, _addrs,
    _wait); its Frame objects are made on first use of frames."""

    __slots__ = ("slot_addr", "error", "_frames", "spawn_site", "id", "seq", "state", "flags",
                 "parent_id", "name", "worker", "wakers", "wake_ns", "poll_start_ns",
                 "created_ns", "polls", "_path0", "_shape", "_addrs", "_wait")

    def __init__(self, slot_addr):
        self.slot_addr = slot_addr
        self.error = None
        self._frames = []
        self._shape = self._addrs = self._wait = None
        self.spawn_site = None
        self._path0 = None  # path() from the root, once the frames are decoded
        self.id = self.state = self.flags = self.parent_id = 0
        self.name = "??"
        self.worker = -1
        self.seq = self.wakers = self.wake_ns = self.poll_start_ns = self.created_ns = 0
        self.polls = 0

    @property
    def frames(self):
        frames = self._frames
        if frames is None:
            frames = self._frames = []
            shape, addrs = self._shape, self._addrs
            last = len(addrs) - 1
            for i, (fn, st) in enumerate(shape.path):
                if fn.kind == K_LEAF:
                    f = LeafFrame()
                    f.wait_kind, f.wait_object, f.wait_owner, f.wait_since, f.wait_detail = \
                        self._wait
                else:
                    f = Frame()
                f.addr, f.parent, f.depth, f.func, f.site = addrs[i], i - 1, i, fn, st
                f.children = [i + 1] if i < last else []
                frames.append(f)
        return frames

    def path(self, start=0):
        """The awaited path from frame START: first children down to a leaf."""
        if not start:
            if self._path0 is not None:
                return self._path0
            if self._shape is not None:  # a chain is its own awaited path
                self._path0 = self.frames
                return self._path0
        frames = self.frames
        out, f = [], frames[start] if frames else None
        while f is not None:
            out.append(f)
            f = frames[f.children[0]] if f.children else None
        if not start:
            self._path0 = out
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
        if self._shape is not None:
            return self._shape.key
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
        self.blocks = {}  # BLOCK-aligned address: bytes, or None if unreadable
        self.pages = {}   # the same by PAGE, inside unreadable blocks
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
        self.task_one, self.task_many, self.task_pick, self.task_first = \
            self.unpacker(TASK, TASK_FIELDS, self.size[TASK])
        self.has_name = bool(self.f[TASK].get("name", (0, 0))[1])
        self.has_worker = "worker" in self.f[TASK]
        self.frame_fields = self.unpacker(FRAME, FRAME_FIELDS)[0]
        self.wait_fields = self.unpacker(WAIT, WAIT_FIELDS)[0]

    def unpacker(self, rec, names, stride=0):
        """(one, many, pick, first) for the fields NAMES of a REC record
        (0 where the layout lacks one; a task's name as bytes, its worker
        signed): one(buf, base) gives the record at base, its values in the
        order of NAMES; many(buf) each STRIDE-sized record of buf as a raw
        tuple, pick(raw) (None: raw itself) puts those values in the order
        of NAMES and raw[first] is the first name's.  One precompiled
        struct.Struct when the fields do not overlap."""
        fields = self.f[rec]
        present = sorted((fields[n][0], fields[n][1], n) for n in names if n in fields)
        fmt, pos, order = "<", 0, {}
        for off, size, n in present:
            if off < pos:
                return self._slow_unpacker(rec, names, stride)  # overlapping fields
            if rec == TASK and n == "name":
                size = min(size, 31)
                code = "%ds" % size
            else:
                code = _CODE[size].lower() if rec == TASK and n == "worker" else _CODE[size]
            fmt += ("%dx" % (off - pos) if off > pos else "") + code
            order[n], pos = len(order), off + size
        if stride > pos:
            fmt += "%dx" % (stride - pos)
        st = struct.Struct(fmt)
        if stride and st.size != stride:
            return self._slow_unpacker(rec, names, stride)
        idx = [order.get(n, len(order)) for n in names]
        if idx == list(range(len(names))):
            return st.unpack_from, st.iter_unpack, None, 0
        get, up = operator.itemgetter(*idx), st.unpack_from
        pick = get if len(order) == len(names) else lambda raw: get(raw + _ZERO)
        return (lambda buf, base=0: pick(up(buf, base)), st.iter_unpack, pick, idx[0])

    def _slow_unpacker(self, rec, names, stride):
        fields, get = self.f[rec], self.get

        def one(buf, base=0):
            out = []
            for n in names:
                if rec == TASK and n == "name":
                    off, size = fields.get(n, (0, 0))
                    out.append(buf[base + off:base + off + min(size, 31)])
                elif rec == TASK and n == "worker" and n in fields:
                    v, bits = get(rec, buf, n, base), 8 * fields[n][1]
                    out.append(v - (1 << bits) if v >> (bits - 1) else v)
                else:
                    out.append(get(rec, buf, n, base))
            return tuple(out)
        step = stride or 1
        return (one, lambda buf: (one(buf, i) for i in range(0, len(buf) - step + 1, step)),
                None, 0)

    # ---- memory ----

    def read(self, addr, n, what, copy=True):
        if addr <= 0 or addr + n > 1 << 64:
            raise Corrupt("%s %#x: unreadable" % (what, addr))
        try:
            buf = self.inf.read_memory(addr, n)
            return bytes(buf) if copy else buf
        except (gdb.MemoryError, gdb.error, OverflowError, ValueError):
            raise Corrupt("%s %#x: unreadable" % (what, addr)) from None

    def view(self, addr, n, what):
        """(buffer, offset) holding the target's bytes [addr, addr + n):
        through the block cache, else one read of its own."""
        base = addr - addr % BLOCK
        if addr > 0 and addr + n <= base + BLOCK:
            blk = self.blocks.get(base, _MISSING)
            if blk is _MISSING:
                blk = self.blocks[base] = self._try_read(base, BLOCK)
            if blk is not None:
                return blk, addr - base
            page = addr - addr % PAGE
            if addr + n <= page + PAGE:
                blk = self.pages.get(page, _MISSING)
                if blk is _MISSING:
                    blk = self.pages[page] = self._try_read(page, PAGE)
                if blk is not None:
                    return blk, addr - page
        return self.read(addr, n, what), 0

    def _try_read(self, addr, n):
        """gdb's buffer of N bytes at ADDR (no copy), None if unreadable."""
        if addr <= 0:
            return None
        if len(self.blocks) >= MAX_BLOCKS:
            self.blocks.clear()
        try:
            return self.inf.read_memory(addr, n)
        except (gdb.MemoryError, gdb.error, OverflowError, ValueError):
            return None

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
        task._path0 = None
        self.fill_task(task, self.task_one(buf, base), {})

    def fill_task(self, task, v, names):
        """Set TASK from its slot's TASK_FIELDS values V; NAMES caches the
        cleaned text of each distinct raw name."""
        (task.id, task.seq, task.state, task.flags, raw, task.parent_id, worker,
         task.created_ns, task.poll_start_ns, task.wake_ns, task.wakers, task.polls,
         spawn, root) = v
        if self.has_name:
            name = names.get(raw)
            if name is None:
                name = names[raw] = clean(raw)
            task.name = name
        else:
            task.name = ""
        task.worker = worker if self.has_worker else -1
        try:
            if spawn:
                task.spawn_site = self.sites.get(spawn) or self.site(spawn)
            if root:
                self.walk(task, root)
        except Corrupt as e:
            task.error = str(e)

    def _shape(self, up, table, func, site):
        """A new Shape one frame below UP (None: the root) for FUNC and
        SITE, entered in TABLE (UP's next); None unless both are decoded."""
        fn = self.funcs.get(func)
        if fn is None or (site and site not in self.sites):
            return None
        st = self.sites[site] if site else None
        node = Shape()
        node.path = (up.path if up else ()) + ((fn, st),)
        node.next = {}
        node.leaf = fn.kind == K_LEAF
        node.where = (fn, st) if not node.leaf and st is not None else \
            (up.where if up else None)
        node.key = (up.key if up else ()) + (st.addr if st else fn.addr,)
        table.setdefault(func, {})[site] = node
        return node

    def _template(self, shape, addrs, templates):
        """The Template of a chain of SHAPE whose frames are at ADDRS (as
        found by a walk), from TEMPLATES or new; None if it cannot have one."""
        deltas = tuple(a - addrs[0] for a in addrs)
        key = (shape, deltas)
        if key in templates:
            return templates[key]
        templates[key] = tp = None
        ff, wf, wsize = self.f[FRAME], self.f[WAIT], self.size[WAIT]
        lo, hi = min(deltas), max(deltas) + wsize
        if hi - lo > BLOCK or (shape.leaf and any(n not in wf for n in WAIT_FIELDS)):
            return None
        last = len(deltas) - 1
        fields = []  # (offset from lo, size, what, value or index)
        for i, (fn, st) in enumerate(shape.path):
            b = deltas[i] - lo
            fields.append((b + ff["func"][0], ff["func"][1], "const", fn.addr))
            fields.append((b + ff["site"][0], ff["site"][1], "const", st.addr if st else 0))
            fields.append((b + ff["child"][0], ff["child"][1]) +
                          (("kid", i) if i < last else ("const", 0)))
            if i:
                fields.append((b + ff["sibling"][0], ff["sibling"][1], "const", 0))
        if shape.leaf:
            for j, n in enumerate(WAIT_FIELDS):
                fields.append((deltas[last] - lo + wf[n][0], wf[n][1], "wait", j))
        fields.sort()
        fmt, pos, where = "<", 0, {"const": [], "kid": [], "wait": []}
        for k, (off, size, what, value) in enumerate(fields):
            if off < pos:
                return None  # overlapping frames
            fmt += ("%dx" % (off - pos) if off > pos else "") + _CODE[size]
            pos = off + size
            where[what].append((value, k) if what != "const" else (k, value))
        tp = Template()
        tp.shape, tp.lo, tp.hi, tp.deltas = shape, lo, hi, deltas[1:]
        tp.unpack = struct.Struct(fmt).unpack_from
        tp.const, tp.values = _getter([k for k, _ in where["const"]]), \
            tuple(v for _, v in where["const"])
        tp.kids = _getter([k for _, k in sorted(where["kid"])])
        tp.placed = _placed(tp.deltas)
        tp.wait = _getter([k for _, k in sorted(where["wait"])]) if shape.leaf else None
        templates[key] = tp
        return tp

    def walk(self, task, root):
        """Pre-order walk of the await tree, as the C reader does."""
        frames = task.frames
        seen = set()
        todo = [(root, -1, 0)] if root else []
        view, frame_fields, wait_fields = self.view, self.frame_fields, self.wait_fields
        wsize, fsize = self.size[WAIT], self.size[FRAME]
        funcs, sites = self.funcs, self.sites
        while todo:
            addr, parent, depth = todo.pop()
            if depth > MAX_DEPTH:
                raise Corrupt("await chain deeper than %u at frame %#x" % (MAX_DEPTH, addr))
            if len(frames) >= MAX_FRAMES:
                raise Corrupt("more than %u frames at frame %#x" % (MAX_FRAMES, addr))
            if addr in seen:
                raise Corrupt("await chain loops at frame %#x" % addr)
            seen.add(addr)
            if addr % ALIGN:
                raise Corrupt("frame %#x: misaligned" % addr)
            try:
                b, o = view(addr, wsize, "frame")
                whole = True
            except Corrupt:
                b, o = view(addr, fsize, "frame")
                whole = wsize <= fsize
            func, site, child, sibling = frame_fields(b, o)
            try:
                fn = funcs.get(func) or self.func(func)
                st = (sites.get(site) or self.site(site)) if site else None
            except Corrupt as e:
                raise Corrupt("frame %#x: %s" % (addr, e)) from None
            if fn.kind == K_LEAF:
                if not whole:
                    raise Corrupt("frame %#x: wait record unreadable" % addr)
                f = LeafFrame()
                f.wait_kind, f.wait_object, f.wait_owner, f.wait_since, f.wait_detail = \
                    wait_fields(b, o)
            else:
                f = Frame()
            f.addr, f.parent, f.depth, f.children, f.func, f.site = \
                addr, parent, depth, [], fn, st
            index = len(frames)
            frames.append(f)
            if parent >= 0:
                frames[parent].children.append(index)
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
        # Hundreds of thousands of new objects, none of them garbage: the
        # cyclic collector would scan them again and again while they are
        # made, and once more at the first allocation after.  Make them with
        # it off, then move them to the oldest generation unscanned
        # (freeze + unfreeze), unless someone else uses the frozen one.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._snapshot()
        finally:
            if not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            if enabled:
                gc.enable()

    def _snapshot(self):
        snap = Snapshot(self)
        stride, total = self.size[TASK], 0
        new_task, fill, append, names = Task.__new__, self.fill_task, snap.tasks.append, {}
        many, pick, id_at = self.task_many, self.task_pick, self.task_first
        has_name, has_worker = self.has_name, self.has_worker
        blocks, funcs, sites = self.blocks, self.funcs, self.sites
        frame_fields, wait_fields, wsize = self.frame_fields, self.wait_fields, self.size[WAIT]
        last = blk = base = None
        tp, templates = None, {}  # the last chain's Template, all of them
        shapes = {}  # the Shape trie's root level
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
                    buf = self.read(base_addr, n * stride, "task slots", copy=False)
                except Corrupt as e:
                    snap.errors.append((base_addr, str(e)))
                    continue
                slot = base_addr - stride
                for v in many(buf):
                    slot += stride
                    if not v[id_at]:
                        continue  # a free slot
                    t = new_task(Task)
                    t.slot_addr = slot
                    t.error = t.spawn_site = t._path0 = t._wait = t._shape = None
                    if pick:
                        v = pick(v)
                    append(t)
                    # The common case inline: a chain without branches, not
                    # deeper than 64, in readable blocks, its funcs and sites
                    # decoded already (by an earlier task's walk).  Anything
                    # else, fill_task (walk) decodes from scratch.
                    (t.id, t.seq, t.state, t.flags, raw, t.parent_id, worker, t.created_ns,
                     t.poll_start_ns, t.wake_ns, t.wakers, t.polls, spawn, addr) = v
                    name = names.get(raw) if has_name else ""
                    if name is None or not has_worker or not addr or \
                            (spawn and spawn not in sites):
                        t._frames = []
                        fill(t, v, names)
                        continue
                    t.name, t.worker = name, worker
                    if spawn:
                        t.spawn_site = sites[spawn]
                    # Fastest: the chain is laid out as the last one was (a
                    # Template): one unpack reads and checks all its frames.
                    if tp is not None:
                        off = addr % BLOCK
                        base = addr - off
                        if base != last:
                            blk = blocks.get(base, _MISSING)
                            if blk is _MISSING:
                                blk = blocks[base] = self._try_read(base, BLOCK)
                            last = base if blk is not None else None
                        if blk is not None and not off % ALIGN and off + tp_lo >= 0 \
                                and off + tp_hi <= BLOCK:
                            vals = tp_unpack(blk, off + tp_lo)
                            kids = tp_kids(vals)
                            if tp_const(vals) == tp_values and tp_placed(addr, kids):
                                t._shape, t._addrs, t._frames = tp_shape, (addr,) + kids, None
                                if tp_wait is not None:
                                    t._wait = tp_wait(vals)
                                continue
                    depth, addrs, up, table = 0, [], None, shapes
                    t._frames = []
                    while True:
                        off = addr % BLOCK
                        base = addr - off
                        if base != last:
                            blk = blocks.get(base, _MISSING)
                            if blk is _MISSING:
                                blk = blocks[base] = self._try_read(base, BLOCK)
                            if blk is None:
                                last = None
                                break
                            last = base
                        if addr % ALIGN or depth > 64 or off + wsize > BLOCK:
                            break
                        func, site, child, sibling = frame_fields(blk, off)
                        if sibling and depth:
                            break
                        node = table.get(func)
                        node = node.get(site) if node is not None else None
                        if node is None:
                            node = self._shape(up, table, func, site)
                            if node is None:
                                break
                        addrs.append(addr)
                        if not child:
                            if node.leaf:
                                t._wait = wait_fields(blk, off)
                            t._shape, t._addrs, t._frames = node, addrs, None
                            if tp is None or tp.shape is not node or \
                                    tp.deltas != tuple(a - addrs[0] for a in addrs[1:]):
                                tp = self._template(node, addrs, templates)
                                if tp is not None:
                                    tp_lo, tp_hi, tp_unpack, tp_const, tp_values, tp_kids, \
                                        tp_placed, tp_wait, tp_shape = \
                                        tp.lo, tp.hi, tp.unpack, tp.const, tp.values, \
                                        tp.kids, tp.placed, tp.wait, tp.shape
                            break
                        if node.leaf:
                            break
                        addr, up, table = child, node, node.next
                        depth += 1
                    if t._frames is None:
                        continue
                    t.spawn_site = None
                    fill(t, v, names)  # gave up: walk() decodes it all again
        self.blocks, self.pages = {}, {}  # the frames are decoded: free the cache
        tasks = snap.tasks
        tasks.sort(key=operator.attrgetter("id"))
        # by id, the first in slot order (the sort is stable) for a repeated id
        ids = list(map(operator.attrgetter("id"), reversed(tasks)))
        snap.by_id = dict(zip(ids, reversed(tasks)))
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
