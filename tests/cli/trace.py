#!/usr/bin/env python3
"""`tasktrace trace`: the flight recorder as Chrome trace-event JSON.

On samples/hung, live and without stopping it: the file is a Trace Event
Format object (traceEvents; each phase with the fields the format requires
of it), a track per worker named by thread_name metadata, each poll a
complete (X) slice named by its task and the function it suspended in,
task labels as arguments, a flow (s/f with one id) from a wake to the
woken task's next poll, bound to a slice there -- every flow has its start
and its end, in that order -- and spawn instants.  An output that cannot
be written fails before the target is read.

The track per task (a process "tasks", a thread per task named by its id
and name): its slices are states (running, scheduled, idle or "waits on
KIND OBJECT" as `tasktrace history` words it), never overlap, and follow
each other as a task's states do (scheduled -> running -> idle, scheduled
or the end, as the poll ended; idle -> scheduled); each running slice is
a poll of that task on a worker's track; only a track's first slice may
be truncated (it then starts at the trace's start), only its last open.
On samples/hung request-42 waits on its notify to the end.  On
tests/cli/churn_prog with rings of 64 KiB (wrapped many times), read
stopped: the same rules, truncated first states, and --tasks caps the
tracks and says how many it dropped; --tasks 0 writes none.  On
samples/blocking with the stall detector on (TASKTRACE_STALL=50ms): the
stall of its cruncher task as instants, beginning and end.

Rings written by hand (tests/cli/ring_prog.c): the exact states and flows
of a timeline with a wake stamped before the end of the poll it followed
(it goes to the next poll, one wake to one poll) and a task first seen
woken (its wait truncated at the trace's start); a ring of absurd capacity
and a stamp out of order each give one line on stderr, and the other
events are still written, the bad ones never.

With a third argument `speedscope`, the same file is imported by a real
consumer instead: speedscope's Chrome-trace importer from its npm package,
in a headless Chromium (tests/cli/trace_speedscope.mjs): no error, no
importer warning (overlapping slices, an end without its start), a profile
per worker track under the track's name, every frame it built one of our
slices.  A skip (77) without node, Chromium (TT_CHROMIUM, /usr/bin/chromium)
or the npm packages (TT_NPM_DIR/node_modules; scripts/install-deps.sh puts
them in /opt/tasktrace-npm).

usage: trace.py TASKTRACE SAMPLES_DIR CHURN_PROG RING_PROG [speedscope]"""
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

TT, SAMPLES, CHURN, RING = sys.argv[1:5]
CONSUMER = sys.argv[5] if len(sys.argv) > 5 else None
HERE = os.path.dirname(os.path.abspath(__file__))
NEEDS = {"X": ("name", "ts", "dur", "pid", "tid"), "i": ("name", "ts", "pid", "tid", "s"),
         "s": ("name", "id", "ts", "pid", "tid"), "f": ("name", "id", "ts", "pid", "tid"),
         "M": ("name", "pid", "args")}


def fail(msg):
    sys.exit("FAIL: " + msg)


def check(doc):
    ev = doc.get("traceEvents")
    if not isinstance(ev, list) or not ev:
        fail("no traceEvents")
    for e in ev:
        need = NEEDS.get(e.get("ph"))
        if need is None:
            fail(f"unexpected phase: {e}")
        missing = [k for k in need if k not in e]
        if missing:
            fail(f"{e} lacks {missing}")
        if e["ph"] in "Xisf" and (not isinstance(e["ts"], (int, float)) or e["ts"] < 0):
            fail(f"bad ts: {e}")
        if e["ph"] == "X" and e["dur"] < 0:
            fail(f"negative dur: {e}")
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev
             if e["ph"] == "M" and e["name"] == "thread_name"}
    slices = [e for e in ev if e["ph"] == "X" and e.get("cat") != "state"]
    for e in slices:
        if (e["pid"], e["tid"]) not in names:
            fail(f"a slice on a track without a name: {e}")
        if not re.match(r"task \d+ ", e["name"]):
            fail(f"slice not named by its task: {e}")
    if not any(re.fullmatch(r"worker \d+", n) for n in names.values()):
        fail(f"no worker track: {names}")
    req = [e for e in slices if '"' not in e["name"] and "request-42" in e["name"]]
    if not req:
        fail("no poll of request-42")
    sus = [e for e in req if e["args"]["end"] == "suspended"]
    if not sus or not sus[-1]["name"].endswith("_poll") or "site" not in sus[-1]["args"]:
        fail(f"request-42's suspension names no function and site: {req}")
    if sus[-1]["args"].get("label.request_id") != "42":
        fail(f"no labels on request-42's slice: {sus[-1]}")
    check_flows(ev, slices)
    if not any(e["ph"] == "i" and e.get("cat") == "spawn" for e in ev):
        fail("no spawn instant")
    tracks = check_tasks(ev, slices)
    req = [t for t in tracks.values() if t["name"].endswith(" request-42")]
    if len(req) != 1:
        fail(f"no track of request-42: {[t['name'] for t in tracks.values()]}")
    last = req[0]["slices"][-1]
    if not (last["name"].startswith("waits on notify 0x") and last["args"].get("open")):
        fail(f"request-42 does not wait on its notify to the end: {last}")
    return len(ev)


def check_flows(ev, slices):
    """Every flow: one start, one end bound to a poll, not before it."""
    starts = {}
    for e in ev:
        if e["ph"] == "s":
            if e["id"] in starts:
                fail(f"two flow starts with one id: {e}")
            starts[e["id"]] = e
    ends = {}
    for f in ev:
        if f["ph"] != "f":
            continue
        if f["id"] in ends:
            fail(f"two flow ends with one id: {f}")
        ends[f["id"]] = f
        s = starts.get(f["id"])
        if s is None or f.get("bp") != "e":
            fail(f"flow end without its start: {f}")
        if f["ts"] < s["ts"]:
            fail(f"flow ends before it starts: {s} {f}")
        if not any((x["pid"], x["tid"]) == (f["pid"], f["tid"]) and
                   ns(x["ts"]) <= ns(f["ts"]) <= ns(x["ts"] + x["dur"]) for x in slices):
            fail(f"flow end bound to no slice: {f}")
    if not ends:
        fail("no flow from a wake to a poll")
    lost = [s for i, s in starts.items() if i not in ends]
    if lost:
        fail(f"{len(lost)} flow(s) start and never end: {lost[:3]}")


def ns(us):
    return round(us * 1000)


# What may follow a task's state: a poll's by how it ended.
NEXT = {"scheduled": {"running"}, "idle": {"scheduled"},
        "suspended": {"idle"}, "yielded": {"scheduled"}, "completed": set(), "cancelled": set()}


def check_tasks(ev, polls):
    """The tracks of the tasks: {(pid, tid): {"name", "slices"}}."""
    procs = {e["pid"]: e["args"]["name"] for e in ev
             if e["ph"] == "M" and e["name"] == "process_name"}
    tpid = [p for p, n in procs.items() if n.endswith(": tasks")]
    if len(tpid) != 1:
        fail(f"no process of tasks: {procs}")
    tpid = tpid[0]
    tracks = {(e["pid"], e["tid"]): {"name": e["args"]["name"], "slices": []} for e in ev
              if e["ph"] == "M" and e["name"] == "thread_name" and e["pid"] == tpid}
    start = min(e["ts"] for e in ev if e["ph"] in "Xi")
    end = max(e["ts"] + e.get("dur", 0) for e in ev if e["ph"] in "Xi")
    npolls = collections.Counter(p["args"]["task"] for p in polls)
    for e in ev:
        if e["pid"] != tpid or e["ph"] == "M":
            continue
        t = tracks.get((e["pid"], e["tid"]))
        if e["ph"] != "X" or e.get("cat") != "state" or t is None:
            fail(f"not a state slice on a task's track: {e}")
        if not re.fullmatch(rf"task {e['args']['task']}( .*)?", t["name"]):
            fail(f"a slice of task {e['args']['task']} on {t['name']}'s track: {e}")
        t["slices"].append(e)
    for key, t in tracks.items():
        sl = t["slices"]  # each track's slices are written in time order
        if not sl:
            fail(f"a task's track without slices: {t['name']}")
        prev = None
        for i, e in enumerate(sl):
            st, a = e["args"]["state"], e["args"]
            words = {"running": ("running",), "scheduled": ("scheduled",),
                     "idle": ("idle", "waits on ")}.get(st)
            if words is None or not e["name"].startswith(words):
                fail(f"{t['name']}: not a state: {e}")
            if a.get("truncated") and (i or ns(e["ts"]) != ns(start)):
                fail(f"{t['name']}: truncated, but not its first slice at the trace's start: {e}")
            if a.get("open") and (i != len(sl) - 1 or abs(e["ts"] + e["dur"] - end) > 0.002):
                fail(f"{t['name']}: open, but not its last slice to the trace's end: {e}")
            if prev is not None:
                if ns(e["ts"]) < ns(prev["ts"] + prev["dur"]):
                    fail(f"{t['name']}: overlapping slices: {prev} {e}")
                was = prev["args"].get("end", prev["args"]["state"])
                if st not in NEXT[was] and not (was == "idle" and st == "running"
                                         and prev["args"].get("wake_missing")):
                    fail(f"{t['name']}: {st} after {was}: {prev} {e}")
            prev = e
        task = sl[0]["args"]["task"]
        running = sum(e["args"]["state"] == "running" for e in sl)
        if running != npolls[task]:
            fail(f"{t['name']}: {running} running slices for {npolls[task]} polls")
    return tracks


def speedscope(path, doc):
    """Exit 77 when the consumer is absent, fail when it rejects the file."""
    modules = os.path.join(os.environ.get("TT_NPM_DIR", "/opt/tasktrace-npm"), "node_modules")
    chromium = os.environ.get("TT_CHROMIUM", "/usr/bin/chromium")
    node = shutil.which("node")
    if not node or not os.access(chromium, os.X_OK):
        print(f"SKIP: no node or no {chromium}")
        sys.exit(77)
    r = subprocess.run([node, os.path.join(HERE, "trace_speedscope.mjs"), modules, chromium, path],
                       capture_output=True, text=True, timeout=120)
    if r.returncode == 77:
        print(r.stdout.strip())
        sys.exit(77)
    if r.returncode:
        fail(f"speedscope rejected the trace (exit {r.returncode}): {r.stdout}{r.stderr}")
    got = json.loads(r.stdout)
    ev = doc["traceEvents"]
    # speedscope orders slices of one start by length, longest first (as
    # if nested): a zero-length poll ending in the tick the next poll of
    # its worker starts in is then "ended" out of order, and it warns
    # (and of the other slice left open).  Its end of a slice looks among
    # the ends of one moment for a frame of the same name and swaps it in,
    # even when the first end was already the right one: a wait ending
    # where a zero-length wait on the same object begins is "ended" out of
    # order too.  That is the coarse clock's tie, not a bad file: a warning
    # naming any slice that neither begins nor ends in such a tie is.
    xs = [e for e in ev if e["ph"] == "X"]
    zero_at = {(e["pid"], e["tid"], ns(e["ts"])) for e in xs if e["dur"] == 0}
    tied = {e["name"] + " " + json.dumps(e.get("args"), separators=(",", ":"))
            for e in xs
            if {(e["pid"], e["tid"], ns(e["ts"])),
                (e["pid"], e["tid"], ns(e["ts"] + e["dur"]))} & zero_at}
    for w in got["warnings"]:
        keys = re.findall(r'"((?:task \d+|running|scheduled|idle|waits on ).*?\})"'
                          r'(?:, but| when| was)', w)
        if not keys or any(k not in tied for k in keys):
            fail(f"speedscope warned: {w}")
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev
             if e["ph"] == "M" and e["name"] == "thread_name"}
    tracks = sorted({names[(e["pid"], e["tid"])] for e in ev if e["ph"] == "X"})
    # speedscope names a profile "<process> (pid P), <thread> (tid T)".
    shown = sorted(re.sub(r" \(tid \d+\)$", "", p.split(", ", 1)[-1]) for p in got["profiles"])
    if shown != tracks:
        fail(f"speedscope's profiles {got['profiles']} are not our tracks {tracks}")
    slices = {e["name"] for e in ev if e["ph"] == "X"}
    # A frame is the slice's name with its args appended.
    stray = [f for f in got["frames"] if not any(f == s or f.startswith(s + " {") for s in slices)]
    if stray:
        fail(f"speedscope made frames that are none of our slices: {stray}")
    return f"speedscope imported {len(got['profiles'])} profile(s), {len(got['frames'])} frame(s)"


def main():
    p = subprocess.Popen([os.path.join(SAMPLES, "hung")], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        m = re.search(r"pid (\d+)", p.stdout.readline())
        if not m:
            fail("hung did not start")
        pid = m.group(1)
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "t.json")
            r = subprocess.run([TT, "trace", "--nonblocking", pid, "-o", out],
                               capture_output=True, text=True, timeout=60)
            if r.returncode:
                fail(f"trace exited {r.returncode}: {r.stderr}")
            with open(out) as f:
                doc = json.load(f)
            if CONSUMER == "speedscope":  # the structure is the other test's
                print("ok: " + speedscope(out, doc))
                return 0
            n = check(doc)
            r = subprocess.run([TT, "trace", "--nonblocking", "--last", "1ms", pid],
                               capture_output=True, text=True, timeout=60)
            if r.returncode or len(json.loads(r.stdout)["traceEvents"]) > n:
                fail(f"--last 1ms: exit {r.returncode}, {r.stderr}")
            for n in ("-1", "x", "100001"):
                r = subprocess.run([TT, "trace", "--tasks", n, pid], capture_output=True,
                                   text=True, timeout=60)
                if r.returncode != 2 or "--tasks" not in r.stderr:
                    fail(f"--tasks {n}: exit {r.returncode}: {r.stderr}")
            bad = os.path.join(d, "no", "such", "dir.json")
            r = subprocess.run([TT, "trace", "--nonblocking", "999999999", "-o", bad],
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 1 or bad not in r.stderr:
                fail(f"unwritable output: exit {r.returncode}: {r.stderr}")
    finally:
        p.kill()
        p.wait()
    print(f"ok: {n} events; " + churn() + "; " + stalls() + "; " + rings())
    return 0


def trace(pid, *opts):
    r = subprocess.run([TT, "trace", pid, *opts], capture_output=True, text=True, timeout=60)
    if r.returncode:
        fail(f"trace {opts} exited {r.returncode}: {r.stderr}")
    doc = json.loads(r.stdout)
    for e in doc["traceEvents"]:
        need = NEEDS.get(e.get("ph"))
        if need is None or any(k not in e for k in need):
            fail(f"not an event of the format: {e}")
    return doc["traceEvents"], r.stderr


def ring_prog(mode, *opts):
    p = subprocess.Popen([RING, mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        m = re.search(r"pid (\d+) base \d+ ready", p.stdout.readline())
        if not m:
            fail(f"ring_prog {mode} did not start")
        return trace(m.group(1), *opts)
    finally:
        p.kill()
        p.wait()


def rings():
    ev, err = ring_prog("script")
    if err:
        fail(f"hand-written rings: {err}")
    polls = [e for e in ev if e["ph"] == "X" and e.get("cat") == "poll"]
    check_flows(ev, polls)
    tracks = {t["name"]: t["slices"] for t in check_tasks(ev, polls).values()}
    t0 = [e["ts"] for e in ev if e.get("cat") == "spawn" and e["args"]["task"] == 1001][0] - 1000
    start = min(e["ts"] for e in ev if e["ph"] in "Xi")

    def ms(us):
        return round((us - t0) / 1000, 3)
    got = {k: [(e["name"], ms(e["ts"]), ms(e["ts"] + e["dur"]), e["args"].get("end"),
                bool(e["args"].get("truncated"))) for e in v]
           for k, v in tracks.items() if k.split()[1] in ("1001", "1002", "1003", "1004", "1005")}
    notify = "waits on notify 0xabc0"
    want = {"task 1001": [("scheduled", 1, 2, None, False), ("running", 2, 3, "suspended", False),
                          (notify, 3, 4, None, False), ("scheduled", 4, 5, None, False),
                          ("running", 5, 9, "suspended", False), (notify, 9, 9, None, False),
                          ("scheduled", 9, 10, None, False),
                          ("running", 10, 11, "completed", False)],
            "task 1002": [("idle", ms(start), 7, None, True), ("scheduled", 7, 7.5, None, False),
                          ("running", 7.5, 8, "completed", False)],
            # woken during a poll: queued from its end, no other state
            "task 1003": [("scheduled", 12, 12.5, None, False),
                          ("running", 12.5, 14, "yielded", False),
                          ("scheduled", 14, 15, None, False),
                          ("running", 15, 16, "completed", False)],
            "task 1004": [("scheduled", 17, 18, None, False),
                          ("running", 18, 20, "yielded", False),
                          ("scheduled", 20, 21, None, False),
                          ("running", 21, 22, "completed", False)],
            "task 1005": [("scheduled", 23, 24, None, False),
                          ("running", 24, 26, "yielded", False),
                          ("scheduled", 26, 27, None, False),
                          ("running", 27, 28, "suspended", False), (notify, 28, 28, None, False)]}
    if got != want:
        fail(f"hand-written rings: task tracks\n{got}\nnot\n{want}")
    starts = {e["id"]: ms(e["ts"]) for e in ev if e["ph"] == "s"}
    flows = sorted((starts[e["id"]], ms(e["ts"])) for e in ev if e["ph"] == "f" and starts[e["id"]] > 0)
    if flows != [(4, 5), (6, 10), (7, 7.5), (13, 15), (17.5, 21), (26.5, 27)]:
        fail(f"hand-written rings: flows (wake, poll) {flows}")

    ev, err = ring_prog("absurd")
    if not re.fullmatch(r"tasktrace: 0 torn, overwritten or out-of-order events skipped; a ring "
                        r"unreadable: ring 0x[0-9a-f]+: capacity 1099511627776 at 0x[0-9a-f]+ "
                        r"is absurd\n", err):
        fail(f"a ring of absurd capacity: not one line: {err!r}")
    if [e for e in ev if e.get("cat") == "poll"] or \
            len([e for e in ev if e.get("cat") == "wake" and e["ph"] == "i"]) != 6:
        fail("a ring of absurd capacity: its events written, or the other ring's not")

    ev, err = ring_prog("order")
    if err != "tasktrace: 1 torn, overwritten or out-of-order events skipped\n":
        fail(f"a stamp out of order: not one line: {err!r}")
    if any(e.get("cat") == "poll" and e["args"]["task"] == 1002 for e in ev) or \
            len([e for e in ev if e.get("cat") == "poll" and e["args"]["task"] == 1001]) != 3:
        fail("a stamp out of order: written, or the events after it not")
    return "hand-written rings"


def stalls():
    p = subprocess.Popen([os.path.join(SAMPLES, "blocking")], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, TASKTRACE_STALL="50ms"))
    try:
        m = re.search(r"pid (\d+)", p.stdout.readline())
        if not m:
            fail("blocking did not start")
        for _ in range(200):  # until a stall has begun and ended (50 ms each)
            ev, _ = trace(m.group(1), "--nonblocking")
            st = [e["name"] for e in ev if e["ph"] == "i" and e.get("cat") == "stall"]
            if any(n.endswith("stall ended") for n in st):
                break
        else:
            fail(f"no stall instants: {st}")
        if not all(re.fullmatch(r"task \d+ cruncher (stalled its worker|stall ended)", n)
                   for n in st):
            fail(f"stall instants not of the cruncher: {st}")
    finally:
        p.kill()
        p.wait()
    return f"{len(st)} stall instants"


def churn():
    """Wrapped rings: the tasks' first states truncated, the tracks capped."""
    p = subprocess.Popen([CHURN], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, TASKTRACE_RECORDER="64K"))
    try:
        m = re.search(r"pid (\d+).*ready", p.stdout.readline())
        if not m:
            fail("churn_prog did not start")
        pid = m.group(1)
        ev, err = trace(pid)  # stopped: nothing torn
        polls = [e for e in ev if e["ph"] == "X" and e.get("cat") == "poll"]
        check_flows(ev, polls)
        tracks = check_tasks(ev, polls)
        m = re.search(r"task tracks for (\d+) of (\d+) tasks .*; (\d+) dropped", err)
        if not m or int(m.group(1)) != 256 or len(tracks) != 256 or \
                int(m.group(2)) - 256 != int(m.group(3)):
            fail(f"{len(tracks)} tracks; no line on the dropped ones: {err}")
        if not any(t["slices"][0]["args"].get("truncated") for t in tracks.values()):
            fail("rings wrapped, yet no task's first state is truncated")
        evl, err = trace(pid, "--last", "2ms")  # states from before the window too
        check_flows(evl, [e for e in evl if e["ph"] == "X" and e.get("cat") == "poll"])
        check_tasks(evl, [e for e in evl if e["ph"] == "X" and e.get("cat") == "poll"])
        ev3, err = trace(pid, "--tasks", "3")
        three = check_tasks(ev3, [e for e in ev3 if e["ph"] == "X" and e.get("cat") == "poll"])
        if len(three) != 3 or "task tracks for 3 of" not in err:
            fail(f"--tasks 3: {len(three)} tracks: {err}")
        ev0, err = trace(pid, "--tasks", "0")
        if any(e["ph"] == "M" and e["args"]["name"].endswith(": tasks") for e in ev0) or \
                any(e.get("cat") == "state" for e in ev0) or "task tracks for 0 of" not in err:
            fail(f"--tasks 0 wrote task tracks: {err}")
    finally:
        p.kill()
        p.wait()
    return f"churn_prog: {len(tracks)} task tracks of {m.group(2)} tasks"


if __name__ == "__main__":
    sys.exit(main())
