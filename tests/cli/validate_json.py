#!/usr/bin/env python3
"""Validate one `tasktrace ... --json` document on stdin against the schema
in docs/cli.md.  Prints the first violation and exits 1, or exits 0.

Strict first, whatever the command: the bytes must be UTF-8 as a strict
decoder takes it (no overlong form, no surrogate, nothing above U+10FFFF,
no cut sequence), and no string may hold a lone surrogate written as an
escape (json.loads takes "\ud800"; a strict consumer does not).

Usage: validate_json.py COMMAND   (ps, bt, tree, hung, history, symbolize; any: only
the strict checks, for JSON of any shape)
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import doctext  # noqa: E402

INT = int
STR = str
HEX = "hex"
NULL = type(None)


class Bad(Exception):
    pass


def check(v, kind, where):
    if kind == HEX:
        if not (isinstance(v, str) and v.startswith("0x")):
            raise Bad(f"{where}: {v!r} is not a 0x-address string")
        int(v, 16)
    elif isinstance(kind, tuple):
        for k in kind:
            try:
                check(v, k, where)
                return
            except Bad:
                pass
        raise Bad(f"{where}: {v!r} is none of {kind}")
    elif kind is INT:
        if not isinstance(v, int) or isinstance(v, bool):
            raise Bad(f"{where}: {v!r} is not an integer")
    elif kind is bool:
        if not isinstance(v, bool):
            raise Bad(f"{where}: {v!r} is not a boolean")
    elif callable(kind) and not isinstance(kind, type):
        kind(v, where)
    elif not isinstance(v, kind):
        raise Bad(f"{where}: {v!r} is not {kind.__name__}")


def obj(v, where, fields):
    check(v, dict, where)
    for name, kind in fields.items():
        if name not in v:
            raise Bad(f"{where}: missing '{name}'")
        check(v[name], kind, f"{where}.{name}")


def enum_words(table):
    """The words of the library's enum TABLE (0 states, 1 flags, 2 wait
    kinds, 3 func kinds, 4 worker states), from $TT_ENUM_ROWS: the
    validator takes them from the tables, never from a copy."""
    return [w for _, _, w in doctext.enum_rows(os.environ["TT_ENUM_ROWS"]).get(table, [])]


STATES, FLAGS, WAITS, FUNCS, WORKERS, FINDINGS = (enum_words(i) for i in range(6))


def one_of(*words):
    def f(v, where):
        if v not in words:
            raise Bad(f"{where}: {v!r} not in {words}")
    return f


def array(kind):
    def f(v, where):
        check(v, list, where)
        for i, x in enumerate(v):
            check(x, kind, f"{where}[{i}]")
    return f


def site(v, where):
    obj(v, where, {"file": STR, "line": INT, "function": STR})


def wait(v, where):
    obj(v, where, {"kind": one_of(*[w for w in WAITS if w != "none"]),
                   "object": HEX, "object_name": (STR, NULL), "owner_id": (INT, NULL), "owner_name": (STR, NULL),
                   "since_ns": (INT, NULL), "age_ns": (INT, NULL),
                   "deadline_ns": (INT, NULL), "detail": INT})


def sym_frame(v, where):
    obj(v, where, {"pc": HEX, "function": (STR, NULL), "file": (STR, NULL),
                   "comp_dir": (STR, NULL), "line": INT, "column": INT,
                   "inlined": bool, "module": (STR, NULL), "module_offset": HEX})


def frame(v, where):
    obj(v, where, {"index": INT, "depth": INT, "elided": INT, "function": STR,
                   "kind": one_of(*FUNCS),
                   "site": (site, NULL), "returned": bool})
    if v["kind"] == "leaf":
        check(v.get("wait", "missing"), (wait, NULL), where + ".wait")
    else:
        check(v.get("resume_pc", "missing"), (HEX, NULL), where + ".resume_pc")
        check(v.get("inline_callers", "missing"), array(sym_frame), where + ".inline_callers")
    if v["kind"] == "combinator":
        check(v.get("branches"), array(array(frame)), where + ".branches")


def labels(v, where):
    """An object of string values, at most 4 (TT_TASK_LABELS_MAX), keys
    1-15 bytes and values 0-31 of UTF-8 (the reader's bounds)."""
    check(v, dict, where)
    if len(v) > 4:
        raise Bad(f"{where}: {len(v)} labels, a reader keeps 4")
    for k, val in v.items():
        check(val, STR, f"{where}.{k}")
        if not 1 <= len(k.encode()) <= 15 * 3 or len(val.encode()) > 31 * 3:
            raise Bad(f"{where}: label {k!r}={val!r} beyond the reader's bounds")


def task(command):
    def f(v, where):
        obj(v, where, {"id": INT, "name": STR, "labels": labels, "labels_incomplete": bool,
                       "state": (one_of(*STATES), NULL),
                       "flags": array(one_of(*FLAGS)),
                       "parent_id": (INT, NULL), "worker": (INT, NULL), "tid": (INT, NULL),
                       "runtime_id": (INT, NULL), "inherited_from_pid": (INT, NULL),
                       "spawn_site": (site, NULL), "wait": (wait, NULL),
                       "where": (lambda w, p: obj(w, p, {"function": STR, "file": STR, "line": INT}), NULL),
                       "created_ns": INT, "polls": INT, "busy_ns": INT, "wakes": INT,
                       "wakers": INT, "torn": bool, "error": (STR, NULL)})
        if v["state"] is None and v["error"] is None:
            raise Bad(f"{where}.state: null (a bad record) without its error")
        if command == "bt":
            obj(v, where, {"frames": array(frame),
                           "ancestry": array(lambda a, p: obj(a, p, {
                               "id": INT, "name": (STR, NULL), "spawn_site": (site, NULL)}))})
            if v["state"] == "running":
                obj(v, where, {"native": (array(sym_frame), NULL), "native_error": (STR, NULL)})
        if command == "tree":
            obj(v, where, {"children": array(task(command))})
    return f


def syscall(v, where):
    obj(v, where, {"state": one_of("unknown", "running", "none", "blocked", "returning"),
                   "nr": (INT, NULL), "name": (STR, NULL), "args": (array(HEX), NULL),
                   "ret": (INT, NULL), "wchan": (STR, NULL), "text": STR})
    if v["state"] in ("blocked", "returning") and (v["nr"] is None or v["args"] is None):
        raise Bad(f"{where}: a system call without its number and arguments")


def stalled_thread(v, where):
    """A long poll's worker thread: its system call and native stack."""
    obj(v, where, {"tid": (INT, NULL), "syscall": (syscall, NULL),
                   "native": (array(sym_frame), NULL), "native_error": (STR, NULL)})
    if v["native"] is None and v["native_error"] is None:
        raise Bad(f"{where}: no native stack and no reason")


# What each kind of a history EVENT adds (docs/cli.md, `history --json`).
POLL = {"poll_start_ns": INT, "poll_ns": INT}
EVENT_KINDS = {
    "spawned": {"parent": (INT, NULL), "site": (site, NULL)},
    "woken": {"waker": (INT, NULL), "thread": (INT, NULL), "during_poll": bool},
    "suspended": dict(POLL, site=(site, NULL), wait_kind=(one_of(*WAITS), NULL),
                      wait_object=(HEX, NULL)),
    "yielded": POLL, "completed": POLL, "cancelled": {},
    "blocking call started": {"job": HEX, "thread": INT},
    "blocking call returned": {"job": HEX, "thread": INT},
    "stalled its worker": {"stalled_worker": INT, "thread": INT},
    "stall ended": {"stalled_worker": INT, "thread": INT, "stall_ns": INT},
}


def history_event(v, where):
    obj(v, where, {"kind": one_of(*EVENT_KINDS), "stamp_ns": INT, "ago_ns": INT,
                   "worker": (INT, NULL), "pos": INT, "task": INT, "text": STR})
    obj(v, where, EVENT_KINDS[v["kind"]])
    if v["kind"] == "cancelled" and "poll_start_ns" in v:
        obj(v, where, POLL)


def strict_text(raw):
    """RAW as text, by a strict UTF-8 decoder."""
    try:
        return raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        raise Bad(f"not UTF-8: {e} (bytes {raw[max(e.start - 16, 0):e.end + 16]!r})")


def no_lone_surrogates(v, where="$"):
    """json.loads joins an escaped surrogate pair into one code point:
    what is left in U+D800-U+DFFF is a lone one, which no UTF-8 encodes."""
    if isinstance(v, dict):
        for k, x in v.items():
            no_lone_surrogates(k, where)
            no_lone_surrogates(x, f"{where}.{k}")
    elif isinstance(v, list):
        for i, x in enumerate(v):
            no_lone_surrogates(x, f"{where}[{i}]")
    elif isinstance(v, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in v):
        raise Bad(f"{where}: {v!r} holds a lone surrogate")


def document(d, command):
    if command == "symbolize":
        obj(d, "$", {"tasktrace_json": INT, "command": one_of("symbolize"),
                     "target": lambda t, p: obj(t, p, {"kind": one_of("exe", "pid", "core"),
                                                       "path": (STR, NULL), "pid": INT}),
                     "warnings": array(STR),
                     "addresses": array(lambda a, p: obj(a, p, {"address": STR}))})
        for i, a in enumerate(d["addresses"]):
            if "error" not in a:
                obj(a, f"$.addresses[{i}]", {"address": HEX, "module": (STR, NULL),
                                             "module_offset": (HEX, NULL),
                                             "frames": array(sym_frame)})
        return
    if command == "any":
        return
    if command == "history":
        obj(d, "$", {"task_id": INT,
                     "recorder": lambda r, p: obj(r, p, {
                         "rings": INT, "unreadable_rings": INT, "skipped": INT,
                         "error": (STR, NULL)}),
                     "events": array(history_event)})
    if command == "hung":
        obj(d, "$", {"findings": array(lambda f, p: obj(f, p, {
            "kind": one_of(*FINDINGS), "task_id": INT, "other_id": (INT, NULL),
            "age_ns": INT, "cycle": array(INT), "count": INT, "ids": array(INT),
            "title": STR, "text": STR, "thread": (stalled_thread, NULL)}))})
    obj(d, "$", {"tasktrace_json": INT, "command": one_of(command), "pid": INT,
                 "core": (STR, NULL), "stopped": bool,
                 "registry": lambda r, p: obj(r, p, {
                     "address": HEX, "module": STR,
                     "found_by": one_of("dynsym", "symtab", "section"),
                     "abi_version": INT, "pointer_size": INT, "runtime": (STR, NULL)}),
                 "now_ns": INT, "registry_now_ns": INT, "start_real_ns": INT,
                 "tasks_live": INT, "errors": INT,
                 "workers": array(lambda w, p: obj(w, p, {
                     "index": INT, "tid": INT,
                     "state": one_of(*WORKERS, "unknown"),
                     "task_id": (INT, NULL), "runtime_id": (INT, NULL),
                     "inherited_from_pid": (INT, NULL)})),
                 "warnings": array(STR),
                 "tasks": array(task(command))})


def values(d, command):
    """What a user reads off the values: ages are now minus the stamp, a
    task's parent is another, older task, a tree child names its parent,
    an owner's name is that task's, the ancestry starts at the parent."""
    now = d["now_ns"]
    names = {}

    def walk(ts):
        for t in ts:
            names[t["id"]] = t["name"]
            walk(t.get("children", []))
    walk(d["tasks"])

    def one_wait(w, where):
        if w is None:
            return
        if w["since_ns"] is not None and w["age_ns"] is not None:
            want = max(now - w["since_ns"], 0)
            if w["age_ns"] != want:
                raise Bad(f"{where}.age_ns: {w['age_ns']} is not now_ns - since_ns = {want}")
        if w["owner_id"] is not None and w["owner_id"] in names and \
                w["owner_name"] != names[w["owner_id"]]:
            raise Bad(f"{where}.owner_name: {w['owner_name']!r} but task {w['owner_id']} "
                      f"is {names[w['owner_id']]!r}")

    def frames(fs, where):
        for i, f in enumerate(fs):
            if f["kind"] == "leaf":
                one_wait(f.get("wait"), f"{where}[{i}].wait")
            for b, br in enumerate(f.get("branches") or []):
                frames(br, f"{where}[{i}].branches[{b}]")
        depths = [f["depth"] for f in fs]
        if depths != sorted(depths, reverse=True) or len(set(depths)) != len(depths):
            raise Bad(f"{where}: depths {depths} do not go down by frame, innermost first")
        for i in range(len(fs) - 1):
            if fs[i]["elided"] != depths[i] - depths[i + 1] - 1:
                raise Bad(f"{where}[{i}].elided: {fs[i]['elided']} frames elided between "
                          f"depths {depths[i + 1]} and {depths[i]}")

    def tasks(ts, where, parent=None):
        for i, t in enumerate(ts):
            w = f"{where}[{i}]"
            if t["parent_id"] is not None and t["parent_id"] >= t["id"]:
                raise Bad(f"{w}.parent_id: {t['parent_id']} is not an older task than {t['id']}")
            if parent is not None and t["parent_id"] != parent:
                raise Bad(f"{w}: a child of task {parent} with parent_id {t['parent_id']}")
            if t["created_ns"] > now:
                raise Bad(f"{w}.created_ns: after now_ns")
            if t["wakes"] > t["polls"]:
                raise Bad(f"{w}: {t['wakes']} wakes for {t['polls']} polls")
            if (t["tid"] is not None) and t["worker"] is None:
                raise Bad(f"{w}: a tid without a worker")
            one_wait(t["wait"], f"{w}.wait")
            if command == "bt":
                frames(t["frames"], f"{w}.frames")
                anc = t["ancestry"]
                if t["parent_id"] is not None and (not anc or anc[0]["id"] != t["parent_id"]):
                    raise Bad(f"{w}.ancestry does not start at parent {t['parent_id']}")
                if t["parent_id"] is None and anc:
                    raise Bad(f"{w}.ancestry without a parent")
            if command == "tree":
                tasks(t["children"], f"{w}.children", t["id"])
    tasks(d["tasks"], "$.tasks")


def main():
    command = sys.argv[1]
    raw = sys.stdin.buffer.read()
    try:
        text = strict_text(raw)
        d = json.loads(text)
        no_lone_surrogates(d)
        if command != "any" and (text.count("\n") != 1 or not text.endswith("\n")):
            raise Bad("not exactly one line")
        document(d, command)
        if command not in ("symbolize", "any"):
            values(d, "ps" if command == "hung" else command)
    except (ValueError, Bad) as e:
        print(f"invalid {command} JSON: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
