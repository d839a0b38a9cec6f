#!/usr/bin/env python3
"""tasktrace profile on samples/hung, checked by the formats' own consumers.

  folded      the chains of hung's tasks (request-42's through await_reply),
              each weighted by the time sampled (two batch-items: twice);
              a gcore core: one snapshot weighted by wait age; bad usage
  pprof       `go tool pprof` reads it: -top, the chain in -traces with
              request-42's labels, -tags (77 without Go)
  speedscope  speedscope's file-format schema (from its npm package,
              tests/cli/speedscope-file-format-schema.json) accepts it, and
              its samples name the chains (77 without python3-jsonschema)

A running task (tests/cli/select_prog's racer, whose tt_select polls an arm
that blocks its worker) counts under its chain down to the combinator, then
[running] -- not under the first arm's last wait.

Tasks that come and go as fast as two workers can (churn_prog, as in the
churn test) count only under chains they can have: a torn read is left
out, never counted under a mix of two tasks' frames.

Many tasks (samples/many_tasks, 20000 at --rate 1000): a read costs
more than the sampler's 1% of a core allows at that rate, so it reads
less often (5 Hz at least, within half a core), says so in one line
(the rate used, the rate asked, the tasks, the cost of a read), and stays
within one core; every task is counted.

A task that changes where it waits (tests/cli/phase_prog: 600 ms in
phase_a, then 400 ms in phase_b, over and over), profiled at 3 Hz, a read
every 333 ms, as seldom as a big registry is read: both chains, 3 to 2,
adding up to the time profiled.  Each wait counts
from its stamp, and the one seen at the read before up to its wake, so
neither gets the other's time.

usage: profile.py MODE TASKTRACE HUNG SCHEMA SELECT_PROG CHURN_PROG MANY_TASKS PHASE_PROG"""
import glob
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

MODE, TASKTRACE, HUNG = sys.argv[1:4]
SCHEMA, SELECT_PROG, CHURN_PROG, MANY_TASKS, PHASE_PROG = sys.argv[4:9]
CHURN = {
    "churn_d2": ["churn_d2", "churn_leaf"],
    "churn_d3": ["churn_d3", "churn_mid", "churn_leaf"],
    "churn_d4": ["churn_d4", "churn_mid2", "churn_mid", "churn_leaf"],
}

# samples/hung's tasks, as folded stacks: root function first, the leaf
# future, then the leaf's wait kind.
CHAINS = {
    "handle_request;load_user;query_db;await_reply;tt_notified;[notify]": 1,
    "supervisor;tt_join;[join]": 1,
    "job_consumer;tt_recv;[channel recv]": 1,
    "result_producer;tt_send;[channel send]": 1,
    "config_reader;tt_lock;[mutex]": 1,
    "pool_user;tt_acquire;[semaphore]": 1,
    "auth_client;tt_oneshot_recv;[oneshot]": 1,
    "pipe_reader;tt_read;[fd read]": 1,
    "batch;tt_group_wait;[group]": 1,
    "dns_lookup;tt_blocking;[blocking call]": 1,
    "cache_refresh;tt_sleep;[timer]": 1,
    "config_holder;tt_sleep;[timer]": 1,
    "auth_server;tt_sleep;[timer]": 1,
    "server_main;tt_sleep;[timer]": 1,
    "batch_item;tt_sleep;[timer]": 2,
}
REQUEST = "handle_request;load_user;query_db;await_reply;tt_notified;[notify]"
DURATION_US = 300000


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def tt(*args, check=True):
    r = subprocess.run([TASKTRACE, *args], capture_output=True, timeout=120)
    if check and r.returncode != 0:
        fail("tasktrace %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr.decode()))
    return r


def start(prog):
    p = subprocess.Popen([prog], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()  # "NAME: pid P registry A ready"
    if "ready" not in line:
        p.kill()
        fail("%s did not start: %r" % (prog, line))
    return p


def folded(text):
    out = {}
    for line in text.splitlines():
        stack, _, w = line.rpartition(" ")
        if not stack or not w.isdigit():
            fail("not a folded line: %r" % line)
        if stack in out:
            fail("stack twice: %r" % stack)
        out[stack] = int(w)
    return out


def check_chains(stacks, what):
    if set(stacks) != set(CHAINS):
        fail("%s: stacks %s, expected %s" % (what, sorted(stacks), sorted(CHAINS)))


def many_tasks():
    n = 20000
    p = subprocess.Popen([MANY_TASKS, str(n)], stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        m = re.search(r"pid (\d+) .*ready", line)
        if not m:
            fail("many_tasks did not start: %r" % line)
        before, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
        r = subprocess.run([TASKTRACE, "profile", "--rate", "1000", "--duration", "1s",
                            m.group(1)], capture_output=True, timeout=120)
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        p.kill()
        p.wait()
    err = r.stderr.decode()
    m = re.fullmatch(r"tasktrace: profile: read the registry at ([\d.]+) Hz, not 1000\.0 Hz: "
                     r"a read of (\d+) tasks costs [\d.]+ ms of CPU, [\d.]+% of a core at "
                     r"that rate \(the sampler aims at 1%\); waits are timed by their "
                     r"stamps, running tasks sampled at that rate\n", err)
    if r.returncode or not m or float(m.group(1)) >= 1000 or int(m.group(2)) < n:
        fail("many tasks at 1000 Hz: exit %d, no line on the rate: %r" % (r.returncode, err))
    stacks = folded(r.stdout.decode())
    if not any(";park_forever;" in s for s in stacks):
        fail("many tasks: no park_forever chain: %s" % sorted(stacks))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if cpu > wall:  # within one core (the sampler aims at half of one)
        fail("many tasks: the profiler used %.2f s of CPU in %.2f s" % (cpu, wall))


def mode_folded(pid, tmp):
    r = tt("profile", "--duration", "%dms" % (DURATION_US // 1000), "--rate", "50", str(pid))
    stacks = folded(r.stdout.decode())
    check_chains(stacks, "live")
    # Every task was counted in every sample, each sample weighted by the
    # time since the one before: one task's stack weighs what the others
    # do, at least the duration; two tasks' twice that.
    one = stacks[REQUEST]
    if one < DURATION_US * 9 // 10:
        fail("request-42 weighs %d us, sampled for %d us" % (one, DURATION_US))
    for s, n in CHAINS.items():
        if abs(stacks[s] - n * one) > n:
            fail("%s weighs %d us, not %d x %d" % (s, stacks[s], n, one))

    sel = start(SELECT_PROG)
    try:
        r = tt("profile", "--duration", "200ms", str(sel.pid))
    finally:
        sel.kill()
        sel.wait()
    stacks = folded(r.stdout.decode())
    if "racer;tt_select;[running]" not in stacks or any(
            s.startswith("racer;tt_select;") and s.endswith(";[running]")
            and s != "racer;tt_select;[running]" for s in stacks):
        fail("select_prog's running racer: %s" % sorted(stacks))

    # Usage and output errors: one line, before the target is read.
    r = tt("profile", "--format", "svg", str(pid), check=False)
    if r.returncode != 2 or b"folded, speedscope or pprof" not in r.stderr:
        fail("--format svg: exit %d %r" % (r.returncode, r.stderr))
    r = tt("profile", "-o", "/nonexistent-dir/p.txt", "999999999", check=False)
    err = r.stderr.decode().strip().splitlines()
    if r.returncode != 1 or len(err) != 1 or "/nonexistent-dir/p.txt" not in err[0]:
        fail("unwritable -o: exit %d %r" % (r.returncode, err))

    churn = start(CHURN_PROG)
    try:
        r = tt("profile", "--duration", "500ms", str(churn.pid))
    finally:
        churn.kill()
        churn.wait()
    seen = 0
    for s in folded(r.stdout.decode()):
        funcs = s.split(";")[:-1]
        if funcs and funcs[0] in CHURN:
            seen += 1
            if funcs != CHURN[funcs[0]][: len(funcs)]:
                fail("churn_prog: %s is no chain of %s" % (s, funcs[0]))
    if not seen:
        fail("churn_prog: no churn task in %r" % r.stdout)

    many_tasks()

    # A target that cannot be read leaves an existing -o file as it was,
    # and creates none.
    keep, new = os.path.join(tmp, "keep.txt"), os.path.join(tmp, "new.txt")
    with open(keep, "w") as f:
        f.write("keep\n")
    for path in (keep, new):
        r = tt("profile", "-o", path, "999999999", check=False)
        if r.returncode != 3:
            fail("no such pid, -o %s: exit %d %r" % (path, r.returncode, r.stderr))
    if open(keep).read() != "keep\n" or os.path.exists(new):
        fail("an unread target touched -o files")
    r = tt("profile", "--duration", "50ms", "-o", keep, str(pid))
    if "[notify]" not in open(keep).read():
        fail("-o over an existing file: %r" % open(keep).read())

    # A core: one snapshot, each task weighted by how long it has waited
    # (hung's tasks have waited at least as long as the sampling above).
    if os.environ.get("TT_SANITIZE", "none") != "none":
        print("sanitized build: no core (its shadow memory), core part skipped")
        return
    core = os.path.join(tmp, "hung.core")
    g = subprocess.run(["gcore", "-o", core, str(pid)], capture_output=True, timeout=120)
    cores = glob.glob(core + "*")
    if g.returncode != 0 or not cores:
        fail("gcore: %s" % g.stderr.decode())
    r = tt("profile", cores[0])
    stacks = folded(r.stdout.decode())
    check_chains(stacks, "core")
    if stacks[REQUEST] < DURATION_US:
        fail("core: request-42 has waited %d us" % stacks[REQUEST])
    r = tt("profile", "--duration", "1s", cores[0], check=False)
    if r.returncode != 2 or b"a core is one snapshot" not in r.stderr:
        fail("--duration on a core: exit %d %r" % (r.returncode, r.stderr))


def mode_phases(pid, tmp):
    ph = start(PHASE_PROG)
    try:
        r = tt("profile", "--duration", "4s", "--rate", "3", str(ph.pid))
    finally:
        ph.kill()
        ph.wait()
    stacks = folded(r.stdout.decode())
    a = stacks.get("phases;phase_a;tt_sleep;[timer]", 0)
    b = stacks.get("phases;phase_b;tt_sleep;[timer]", 0)
    total = sum(w for s, w in stacks.items() if s.startswith("phases;"))
    # Four cycles of a second: a 2400 ms, b 1600 ms, give or take a
    # stamp's granularity and the us of each poll.  Sampling alone at 3 Hz
    # would see each cycle at the same three points: a 2667 and b 1333,
    # or the other way round.
    if not (2150000 <= a <= 2650000 and 1350000 <= b <= 1850000) or \
            not 3850000 <= total <= 4150000:
        fail("phase_a %d us, phase_b %d us, %d us in all, of 4 s: %r"
             % (a, b, total, r.stdout.decode()))


def find_go():
    go = shutil.which("go") or (sorted(glob.glob("/usr/lib/go-*/bin/go")) or [None])[-1]
    return go


def mode_pprof(pid, tmp):
    go = find_go()
    if not go:
        print("no Go toolchain (Debian golang-go): skipped")
        sys.exit(77)
    out = os.path.join(tmp, "hung.pb.gz")
    tt("profile", "--duration", "200ms", "--format", "pprof", "-o", out, str(pid))
    env = dict(os.environ, GOCACHE=os.path.join(tmp, "gocache"), HOME=tmp, GOFLAGS="")

    def pprof(*args):
        r = subprocess.run([go, "tool", "pprof", *args, out], capture_output=True, text=True,
                           env=env, timeout=120)
        if r.returncode != 0:
            fail("go tool pprof %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr))
        return r.stdout

    top = pprof("-top", "-nodecount=100")
    if "Type: wait" not in top:
        fail("pprof -top: no wait sample type:\n" + top)
    for name in ("await_reply", "handle_request", "[notify]", "[channel recv]", "[mutex]"):
        if not any(line.rstrip().endswith(" " + name) for line in top.splitlines()):
            fail("pprof -top: no %s:\n%s" % (name, top))
    # -traces: each sample's labels, then its stack leaf first.
    traces = pprof("-traces")
    blocks = traces.split("-----------+")
    want = ["[notify]", "tt_notified", "await_reply", "query_db", "load_user", "handle_request"]
    for b in blocks:
        lines = [l.split()[-1] for l in b.splitlines()[1:] if l.strip()]
        if lines[-len(want):] == want:
            if "request_id:  42" not in b or "route:  /users" not in b:
                fail("pprof -traces: request-42's labels missing:\n" + b)
            break
    else:
        fail("pprof -traces: no trace %s:\n%s" % (want, traces))
    tags = pprof("-tags")
    if "request_id" not in tags or "42" not in tags:
        fail("pprof -tags: no request_id 42:\n" + tags)


def mode_speedscope(pid, tmp):
    try:
        import jsonschema
    except ImportError:  # a Python other than the system's (pyenv, venv)
        sys.path.append("/usr/lib/python3/dist-packages")
        try:
            import jsonschema
        except ImportError:
            print("no python3-jsonschema: skipped")
            sys.exit(77)
    r = tt("profile", "--duration", "200ms", "--format", "speedscope", str(pid))
    doc = json.loads(r.stdout.decode("utf-8", errors="strict"))
    with open(SCHEMA) as f:
        schema = json.load(f)
    try:
        jsonschema.validate(doc, schema)
    except jsonschema.ValidationError as e:
        fail("speedscope schema: %s" % e.message)
    frames = [f["name"] for f in doc["shared"]["frames"]]
    prof = doc["profiles"][doc["activeProfileIndex"]]
    stacks = {";".join(frames[i] for i in s): w for s, w in zip(prof["samples"], prof["weights"])}
    check_chains(stacks, "speedscope")
    if prof["endValue"] != sum(prof["weights"]) or prof["unit"] != "nanoseconds":
        fail("speedscope: endValue %r, weights sum %r" % (prof["endValue"], sum(prof["weights"])))
    f = doc["shared"]["frames"][frames.index("await_reply")]
    if not f.get("file", "").endswith("samples/hung.c") or not f.get("line"):
        fail("speedscope: await_reply's frame %r" % f)


def main():
    p = start(HUNG)
    tmp = tempfile.mkdtemp(prefix="tt-profile-")
    try:
        {"folded": mode_folded, "pprof": mode_pprof, "speedscope": mode_speedscope,
         "phases": mode_phases}[MODE](p.pid, tmp)
    finally:
        p.kill()
        p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok")


main()
