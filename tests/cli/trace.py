#!/usr/bin/env python3
"""`tasktrace trace`: the flight recorder as Chrome trace-event JSON.

On samples/hung, live and without stopping it: the file is a Trace Event
Format object (traceEvents; each phase with the fields the format requires
of it), a track per worker named by thread_name metadata, each poll a
complete (X) slice named by its task and the function it suspended in,
task labels as arguments, a flow (s/f with one id) from a wake to the
woken task's next poll, bound to a slice there, and spawn instants.  An
output that cannot be written fails before the target is read.

With a third argument `speedscope`, the same file is imported by a real
consumer instead: speedscope's Chrome-trace importer from its npm package,
in a headless Chromium (tests/cli/trace_speedscope.mjs): no error, no
importer warning (overlapping slices, an end without its start), a profile
per worker track under the track's name, every frame it built one of our
slices.  A skip (77) without node, Chromium (TT_CHROMIUM, /usr/bin/chromium)
or the npm packages (TT_NPM_DIR/node_modules; scripts/install-deps.sh puts
them in /opt/tasktrace-npm).

usage: trace.py TASKTRACE SAMPLES_DIR [speedscope]"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

TT, SAMPLES = sys.argv[1:3]
CONSUMER = sys.argv[3] if len(sys.argv) > 3 else None
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
    names = {e["tid"]: e["args"]["name"] for e in ev
             if e["ph"] == "M" and e["name"] == "thread_name"}
    slices = [e for e in ev if e["ph"] == "X"]
    for e in slices:
        if e["tid"] not in names:
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
    starts = {e["id"]: e for e in ev if e["ph"] == "s"}
    ends = [e for e in ev if e["ph"] == "f"]
    if not ends:
        fail("no flow from a wake to a poll")
    for f in ends:
        if f["id"] not in starts or f.get("bp") != "e":
            fail(f"flow end without its start: {f}")
        if not any(x["tid"] == f["tid"] and x["ts"] == f["ts"] for x in slices):
            fail(f"flow end bound to no slice: {f}")
    if not any(e["ph"] == "i" and e.get("cat") == "spawn" for e in ev):
        fail("no spawn instant")
    return len(ev)


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
    # (and of the other slice left open).  That is the coarse clock's tie,
    # not a bad file: a warning naming any slice not in such a tie is.
    xs = [e for e in ev if e["ph"] == "X"]
    zero_at = {(e["tid"], e["ts"]) for e in xs if e["dur"] == 0}
    tied = {e["name"] + " " + json.dumps(e.get("args"), separators=(",", ":"))
            for e in xs if (e["tid"], e["ts"]) in zero_at}
    for w in got["warnings"]:
        keys = re.findall(r'"(task \d+.*?\})"(?:, but| when| was)', w)
        if not keys or any(k not in tied for k in keys):
            fail(f"speedscope warned: {w}")
    names = {e["tid"]: e["args"]["name"] for e in ev
             if e["ph"] == "M" and e["name"] == "thread_name"}
    tracks = sorted({names[e["tid"]] for e in ev if e["ph"] == "X"})
    # speedscope names a profile "<process> (pid P), <thread> (tid T)".
    shown = sorted(re.sub(r" \(tid \d+\)$", "", p.split(", ", 1)[-1]) for p in got["profiles"])
    if shown != tracks:
        fail(f"speedscope's profiles {got['profiles']} are not the worker tracks {tracks}")
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
            bad = os.path.join(d, "no", "such", "dir.json")
            r = subprocess.run([TT, "trace", "--nonblocking", "999999999", "-o", bad],
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 1 or bad not in r.stderr:
                fail(f"unwritable output: exit {r.returncode}: {r.stderr}")
    finally:
        p.kill()
        p.wait()
    print(f"ok: {n} events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
