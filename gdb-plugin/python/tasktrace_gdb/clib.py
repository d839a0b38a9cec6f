"""libtasktrace-reader through ctypes: the one decoder of the registry.

Why not a Python decoder: the CLI, the crash handler and the watchdog read
the registry with the C reader (tasktrace/read/reader.h); a second decoder in
Python would be a second set of hostile-memory checks to keep in step, and
at 100,000 tasks it spent most of `info tasks` in the interpreter.  gdb's
Python loads libtasktrace-reader.so (the reader without the runtime) and
hands it a read callback over gdb.Inferior.read_memory, so the C reader
decodes a live process, a core or a remote target through gdb, and no code
runs in the inferior.

The library is looked for in $TASKTRACE_LIB, then next to this package as
`meson install` lays it out, then among the inferior's objfiles, then on the
loader's path.  The structs below mirror reader.h's snapshot layer and the option structs;
their sizes are checked against the library (tt_snapshot_struct_sizes)
before any is used.
A sanitizer build of the library cannot be loaded into gdb (its runtime
must come first): the commands then say so in one line.
"""

import ctypes
import os
import re
import struct

import gdb

U64, U32, I32, SIZE = ctypes.c_uint64, ctypes.c_uint32, ctypes.c_int32, ctypes.c_size_t
CHARP = ctypes.c_char_p
TASK_NAME_MAX = 32
TASK_LABELS_MAX = 4
LABEL_KEY_MAX = 16
LABEL_VALUE_MAX = 32
OBJECT_NAME_MAX = 32
HIST_BUCKETS = 16
READ_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, U64, ctypes.c_void_p, SIZE)


class Mem(ctypes.Structure):
    _fields_ = [("read", READ_FN), ("ctx", ctypes.c_void_p)]


class RFrame(ctypes.Structure):
    _fields_ = [("addr", U64), ("func", U64), ("site", U64), ("parent", I32), ("depth", U32),
                ("kind", U32), ("wait_kind", U32), ("wait_object", U64), ("wait_owner", U64),
                ("wait_since_ns", U64), ("wait_detail", U64),
                ("wait_name", ctypes.c_char * OBJECT_NAME_MAX), ("wait_nholders", U32),
                ("wait_holders_state", U32), ("wait_holders", U64 * 4), ("wait_last", U64)]


class RLabel(ctypes.Structure):
    _fields_ = [("key", ctypes.c_char * LABEL_KEY_MAX), ("value", ctypes.c_char * LABEL_VALUE_MAX)]


class RTask(ctypes.Structure):
    _fields_ = [("slot_addr", U64), ("slot_index", U64), ("id", U64), ("seq", U32),
                ("state", U32), ("flags", U32), ("worker", I32),
                ("name", ctypes.c_char * TASK_NAME_MAX), ("parent_id", U64),
                ("spawn_site", U64), ("root_frame", U64), ("created_ns", U64),
                ("poll_start_ns", U64), ("poll_end_ns", U64), ("wake_ns", U64), ("polls", U64),
                ("busy_ns", U64), ("wakes", U64), ("self_wakes", U64), ("wakers", U64),
                ("runtime_id", U64), ("running", ctypes.c_int), ("nlabels", U32),
                ("label_flags", U32), ("labels", RLabel * TASK_LABELS_MAX),
                ("hist_buckets", U32), ("hist_flags", U32),
                ("poll_hist", U32 * HIST_BUCKETS), ("delay_hist", U32 * HIST_BUCKETS)]


class RWorker(ctypes.Structure):
    _fields_ = [("tid", U64), ("index", U32), ("state", U32), ("task_id", U64), ("task", U64),
                ("poll_start_ns", U64), ("runtime_id", U64), ("ring", U64)]


class SSite(ctypes.Structure):
    _fields_ = [("addr", U64), ("function", CHARP), ("file", CHARP), ("line", U32),
                ("flags", U32), ("resume", U64)]


class SFunc(ctypes.Structure):
    _fields_ = [("addr", U64), ("name", CHARP), ("file", CHARP), ("type_name", CHARP),
                ("line", U32), ("kind", U32), ("frame_size", U32), ("poll", U64)]


class SFrame(ctypes.Structure):
    _fields_ = [("raw", RFrame), ("func", ctypes.POINTER(SFunc)),
                ("site", ctypes.POINTER(SSite))]


class STask(ctypes.Structure):
    _fields_ = [("raw", RTask), ("spawn_site", ctypes.POINTER(SSite)),
                ("frames", ctypes.POINTER(SFrame)), ("nframes", SIZE), ("error", ctypes.c_int),
                ("errmsg", ctypes.c_char * 160)]


class Runtimes(ctypes.Structure):
    _fields_ = [("root_pid", U64), ("inherited_from", U64), ("inherited_upto", U64),
                ("ids", U64 * 16), ("count", U32)]


class Snapshot(ctypes.Structure):
    _fields_ = [("root_addr", U64), ("abi_version", U32), ("pointer_size", U32),
                ("now_ns", U64), ("start_mono_ns", U64), ("start_real_ns", U64),
                ("tasks_live", U64), ("next_task_id", U64), ("pid", U64), ("flags", U64),
                ("runtime_name", CHARP), ("tasks", ctypes.POINTER(STask)), ("ntasks", SIZE),
                ("nerrors", SIZE), ("workers", ctypes.POINTER(RWorker)), ("nworkers", SIZE),
                ("arena_", ctypes.c_void_p), ("cache_", ctypes.c_void_p),
                ("runtimes", Runtimes)]


class ListOpts(ctypes.Structure):
    _fields_ = [("all", ctypes.c_int), ("state", ctypes.c_int), ("name_regex", CHARP),
                ("ids", ctypes.POINTER(U64)), ("nids", SIZE), ("selected", U64),
                ("group", ctypes.c_int), ("unreadable", ctypes.c_int),
                ("labels", ctypes.POINTER(CHARP)), ("nlabels", SIZE), ("group_label", CHARP),
                ("show_labels", ctypes.c_int)]


class PathEnds(ctypes.Structure):
    _fields_ = [("leaf", SIZE), ("where", SIZE), ("combinator", ctypes.c_int)]


class RootPick(ctypes.Structure):
    _fields_ = [("chosen", SIZE), ("pid", U64), ("failed", SIZE), ("error", ctypes.c_int),
                ("err", ctypes.c_char * 160)]


class DiagOpts(ctypes.Structure):
    _fields_ = [("long_poll_ns", U64), ("starved_ns", U64), ("idle_ns", U64),
                ("all", ctypes.c_int), ("runtime_id", U64), ("recheck", ctypes.c_void_p),
                ("labels", ctypes.POINTER(CHARP)), ("nlabels", SIZE), ("idle_io_ns", U64),
                ("each", ctypes.c_int), ("flight", ctypes.c_void_p)]


class Finding(ctypes.Structure):
    _fields_ = [("kind", U32), ("ncycle", U32), ("task_id", U64), ("other_id", U64),
                ("age_ns", U64), ("cycle", ctypes.POINTER(U64)), ("title", CHARP),
                ("text", CHARP), ("count", U64), ("ids", ctypes.POINTER(U64))]


class Report(ctypes.Structure):
    _fields_ = [("findings", ctypes.POINTER(Finding)), ("n", SIZE), ("ntasks", SIZE),
                ("now_ns", U64), ("text", CHARP), ("priv_", ctypes.c_void_p)]


class FBuf(ctypes.Structure):
    _fields_ = [("p", ctypes.c_void_p), ("len", SIZE), ("cap", SIZE)]


class EnumRow(ctypes.Structure):
    _fields_ = [("value", U32), ("name", CHARP), ("word", CHARP)]


# enum tt_enum (diagnose.h): which table tt_enum_rows returns.
ENUM_TASK_STATE, ENUM_TASK_FLAG, ENUM_WAIT_KIND, ENUM_FUNC_KIND, ENUM_WORKER_STATE, \
    ENUM_DIAG_KIND = range(6)


def unpacker(cls, names):
    """A struct.Struct the size of ctypes struct CLS that reads the fields
    NAMES (in offset order; "raw.id" for nested ones) in one call: ctypes'
    per-field access costs more than the rest of a row of `-task-list`."""
    fmt, at = "<", 0
    for name in names:
        off, typ = 0, cls
        for part in name.split("."):
            off += getattr(typ, part).offset
            typ = dict(typ._fields_)[part]
        assert off >= at, name
        if issubclass(typ, ctypes.Array):
            code = "%ds" % ctypes.sizeof(typ)
        else:
            code = {1: "B", 4: "I", 8: "Q"}[ctypes.sizeof(typ)]
            if typ in (ctypes.c_int32, ctypes.c_int):
                code = "i"
        fmt += "%dx%s" % (off - at, code) if off > at else code
        at = off + struct.calcsize("<" + code)
    fmt += "%dx" % (ctypes.sizeof(cls) - at) if ctypes.sizeof(cls) > at else ""
    return struct.Struct(fmt)


def array(addr, cls, n):
    """N structs CLS at ADDR as one buffer for Struct.iter_unpack."""
    return (ctypes.c_char * (ctypes.sizeof(cls) * n)).from_address(addr)


class BtNative(ctypes.Structure):
    """tt_bt_native (tasktrace/read/bt.h): a machine frame for the printer."""
    _fields_ = [("pc", U64), ("inlined", ctypes.c_int), ("function", ctypes.c_void_p),
                ("file", ctypes.c_void_p), ("line", U32), ("module", ctypes.c_void_p)]


class SymFrame(ctypes.Structure):
    _fields_ = [("function", ctypes.c_void_p), ("file", ctypes.c_void_p),
                ("comp_dir", ctypes.c_void_p), ("line", U32), ("column", U32),
                ("inlined", ctypes.c_int), ("module", ctypes.c_void_p),
                ("module_offset", U64), ("symbol_offset", U64)]


class SymAt(ctypes.Structure):
    _fields_ = [("pc", U64), ("f", SymFrame)]


class SymPc(ctypes.Structure):
    _fields_ = [("pc", U64), ("activation", ctypes.c_int)]


class Syscall(ctypes.Structure):
    """tt_syscall (tasktrace/read/format.h): a thread's system call."""
    _fields_ = [("state", ctypes.c_int32), ("pad_", ctypes.c_int32), ("nr", ctypes.c_int64),
                ("args", U64 * 6), ("ret", ctypes.c_int64)]


BT_NATIVE_P = ctypes.POINTER(ctypes.POINTER(BtNative))
# tt_bt_hooks' callbacks (the tt_stask and tt_ssite as addresses).
BT_NATIVE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, BT_NATIVE_P,
                                ctypes.c_void_p, SIZE)
BT_FRAME_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, SIZE, ctypes.c_int,
                               ctypes.c_int)
BT_LINE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, SIZE)


class BtHooks(ctypes.Structure):
    # inline_callers is a C function's address (libtasktrace-sym's).
    _fields_ = [("ctx", ctypes.c_void_p), ("native", BT_NATIVE_FN),
                ("inline_callers", ctypes.c_void_p), ("frame", BT_FRAME_FN)]


# In the order of tt_snapshot_struct_sizes (tasktrace/read/diagnose.h).
MIRRORED = (Snapshot, STask, SFrame, SSite, SFunc, RWorker, ListOpts, DiagOpts, PathEnds,
            RootPick, Finding, Report, EnumRow, BtNative, BtHooks, Syscall)


SNAP_P = ctypes.POINTER(Snapshot)
# name: (restype, argtypes)
PROTOTYPES = {
    "tt_snapshot_struct_sizes": (None, [ctypes.POINTER(SIZE)]),
    "tt_snapshot_read": (ctypes.c_int, [Mem, U64, ctypes.c_void_p, ctypes.POINTER(SNAP_P),
                                        ctypes.c_char_p, SIZE]),
    "tt_snapshot_free": (None, [SNAP_P]),
    "tt_snapshot_set_target": (None, [SNAP_P, U64]),
    "tt_snapshot_fork_note": (SIZE, [SNAP_P, ctypes.c_char_p, SIZE]),
    "tt_snapshot_task_tid": (ctypes.c_int64, [SNAP_P, ctypes.c_void_p]),
    "tt_snapshot_find": (ctypes.POINTER(STask), [SNAP_P, U64]),
    "tt_task_list": (ctypes.c_void_p, [SNAP_P, U64, ctypes.POINTER(ListOpts),
                                       ctypes.c_char_p, SIZE]),
    "tt_task_has_label": (ctypes.c_int, [ctypes.POINTER(STask), ctypes.c_char_p]),
    "tt_json_tasks": (ctypes.c_void_p, [SNAP_P, U64, ctypes.c_int, U64, ctypes.c_int]),
    "tt_text_free": (None, [ctypes.c_void_p]),
    "tt_syscall_from_regs": (ctypes.c_int, [ctypes.c_int64, ctypes.c_int64, ctypes.POINTER(U64),
                                            ctypes.POINTER(Syscall)]),
    "tt_bt_stalled_thread": (ctypes.c_int, [ctypes.c_int64, ctypes.POINTER(Syscall),
                                            ctypes.c_char_p, ctypes.POINTER(BtNative),
                                            ctypes.c_int, ctypes.c_char_p, BT_LINE_FN,
                                            ctypes.c_void_p]),
    "tt_fb_init": (None, [ctypes.POINTER(FBuf), ctypes.c_void_p, SIZE]),
    "tt_fb_text": (None, [ctypes.POINTER(FBuf), ctypes.c_char_p]),
    "tt_diagnose": (ctypes.POINTER(Report), [SNAP_P, U64, ctypes.POINTER(DiagOpts)]),
    "tt_diag_free": (None, [ctypes.POINTER(Report)]),
    "tt_diag_opts_init": (None, [ctypes.POINTER(DiagOpts)]),
    "tt_diag_parse_duration": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(U64)]),
    "tt_diag_kind_name": (ctypes.c_char_p, [U32]),
    "tt_enum_rows": (ctypes.POINTER(EnumRow), [ctypes.c_int, ctypes.POINTER(SIZE)]),
    "tt_frames_path_ends": (None, [ctypes.c_void_p, SIZE, SIZE, ctypes.POINTER(PathEnds)]),
    "tt_root_pick": (ctypes.c_int, [Mem, ctypes.POINTER(U64), SIZE, ctypes.POINTER(RootPick)]),
    "tt_live_now": (U64, [ctypes.c_int, U64]),
    "tt_live_now_at": (U64, [ctypes.c_int, U64, U64]),
    "tt_history_text": (ctypes.c_void_p, [Mem, SNAP_P, U64, SIZE, U64, ctypes.c_void_p]),
    "tt_bt_text": (ctypes.c_void_p, [SNAP_P, U64, ctypes.POINTER(U64), SIZE,
                                     ctypes.POINTER(BtHooks)]),
    "tt_bt_snapshot": (ctypes.c_int, [SNAP_P, ctypes.c_void_p, U64, ctypes.POINTER(BtHooks),
                                      BT_LINE_FN, ctypes.c_void_p]),
    "tt_bt_describe": (None, [SNAP_P, ctypes.c_void_p, ctypes.c_char_p, SIZE]),
    "tt_bt_default_prune": (ctypes.c_char_p, []),
    "tt_core_now": (U64, [ctypes.c_char_p, U64, U64, U64]),
}

# libtasktrace-sym (libdw): the inline chains and the core's thread stacks
# of `task bt`, so they read as `tasktrace bt` prints them.
SYM_PROTOTYPES = {
    "tt_sym_open_core": (ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_char_p,
                                           ctypes.POINTER(ctypes.c_int), ctypes.c_char_p, SIZE]),
    "tt_sym_open_pid": (ctypes.c_void_p, [ctypes.c_int, ctypes.c_int,
                                          ctypes.POINTER(ctypes.c_int), ctypes.c_char_p, SIZE]),
    "tt_sym_close": (None, [ctypes.c_void_p]),
    "tt_sym_task_stack": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, U64,
                                         ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                         ctypes.c_int, ctypes.POINTER(SymAt), ctypes.c_int,
                                         ctypes.c_void_p, SIZE]),
    "tt_sym_prune_stack": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(SymPc), ctypes.c_int,
                                          U64, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                          ctypes.c_int, ctypes.POINTER(SymAt), ctypes.c_int]),
    "tt_sym_name_async": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p,
                                         ctypes.POINTER(SymAt), ctypes.c_int]),
    "tt_sym_bt_new": (ctypes.c_void_p, [ctypes.c_void_p]),
    "tt_sym_bt_free": (None, [ctypes.c_void_p]),
}

_lib = None
# The reader library: the decoder, the wording and the diagnosis, without
# the runtime.
READER_SONAME = "libtasktrace-reader.so.0"
_sym_lib = None


def _candidates():
    env = os.environ.get("TASKTRACE_LIB")
    if env:
        yield env
    # Installed: PREFIX/share/tasktrace/gdb/python/tasktrace_gdb/ and
    # PREFIX/lib*/libtasktrace-reader.so.0: the library of the same install
    # (a statically linked inferior has none to offer).
    prefix = os.path.abspath(os.path.join(os.path.dirname(__file__), *[".."] * 5))
    for sub in ("lib", "lib64", "lib/x86_64-linux-gnu"):
        yield os.path.join(prefix, sub, READER_SONAME)
    for o in gdb.objfiles():
        name = o.filename or ""
        if os.path.basename(name).startswith("libtasktrace-reader.so") and os.path.exists(name):
            yield name
    yield READER_SONAME


def _load(path, prototypes=PROTOTYPES):
    lib = ctypes.CDLL(path)
    for name, (res, args) in prototypes.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    if prototypes is not PROTOTYPES:
        return lib
    sizes = (SIZE * len(MIRRORED))()
    lib.tt_snapshot_struct_sizes(sizes)
    mine = [ctypes.sizeof(s) for s in MIRRORED]
    if list(sizes) != mine:
        raise OSError("struct sizes %s, this plugin expects %s (another version)"
                      % (list(sizes), mine))
    return lib


def library():
    """The loaded library, or a GdbError saying why it cannot be loaded."""
    global _lib
    if _lib is not None:
        return _lib
    errors = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            continue
        try:
            _lib = _load(path)
            return _lib
        except (OSError, AttributeError) as e:
            errors.append("%s: %s" % (path, str(e).splitlines()[0] if str(e) else e))
    raise gdb.GdbError("cannot load libtasktrace-reader (set TASKTRACE_LIB): "
                       + (errors[0] if errors else "not found"))


def enum_rows(e):
    """The rows of the library's enum table E: [(value, "CHAN_RECV", "channel recv")]."""
    n = SIZE()
    rows = library().tt_enum_rows(e, ctypes.byref(n))
    return [(rows[i].value, rows[i].name.decode(), rows[i].word.decode()) for i in range(n.value)]


def _sym_candidates():
    env = os.environ.get("TASKTRACE_SYM_LIB")
    if env:
        yield env
    # Next to the reader library (installed), or in the build tree's
    # symbolizer/ beside its core-runtime/.
    here = os.path.dirname(getattr(library(), "_name", "") or "")
    if here:
        yield os.path.join(here, "libtasktrace-sym.so.0")
        yield os.path.join(here, "..", "symbolizer", "libtasktrace-sym.so.0")
    yield "libtasktrace-sym.so.0"


def sym_library():
    """libtasktrace-sym, or None when it cannot be loaded (the backtraces
    then have no inline callers, and a core's running tasks no stack)."""
    global _sym_lib
    if _sym_lib is None:
        _sym_lib = False
        for path in _sym_candidates():
            if os.sep in path and not os.path.exists(path):
                continue
            try:
                _sym_lib = _load(path, SYM_PROTOTYPES)
                break
            except (OSError, AttributeError):
                continue
    return _sym_lib or None


def inferior_mem(inf):
    """A tt_mem reading INF through gdb, and the callback to keep alive."""
    read_memory, char = inf.read_memory, ctypes.c_char

    def read(ctx, addr, buf, n):
        try:
            # One copy, gdb's buffer straight into the reader's.
            memoryview((char * n).from_address(buf)).cast("B")[:] = \
                memoryview(read_memory(addr, n)).cast("B")
            return 0
        except (gdb.MemoryError, gdb.error, OverflowError, ValueError):
            return -14  # EFAULT
        except Exception:  # never unwind through C
            return -5  # EIO

    cb = READ_FN(read)
    return Mem(cb, None), cb


# Printable ASCII but the backslash: what tt_fb_text leaves as it is.
_PLAIN = re.compile(rb"[\x20-\x5b\x5d-\x7e]*\Z")


def take_text(lib, raw):
    """A malloc'd C string the library returned, as text, freed."""
    try:
        return ctypes.string_at(raw).decode("utf-8", "replace")
    finally:
        lib.tt_text_free(raw)


def text(raw):
    """A C string from target memory as printable text, sanitised by the
    library's one sanitiser (tt_fb_text, as `ps` and the crash log print
    it): controls and invalid UTF-8 as \\xHH, so a task name cannot drive
    the terminal (NULL: None)."""
    if raw is None:
        return None
    if _PLAIN.match(raw):  # the common case, without two ctypes calls
        return raw.decode("ascii")
    lib = library()
    cap = 4 * len(raw) + 1  # at worst a byte becomes \xHH
    mem = ctypes.create_string_buffer(cap)
    fb = FBuf()
    lib.tt_fb_init(ctypes.byref(fb), mem, cap)
    lib.tt_fb_text(ctypes.byref(fb), raw)
    return mem.raw[:fb.len].decode("utf-8", "replace")
