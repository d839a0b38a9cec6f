#!/usr/bin/env python3
"""The churn test: tasks spawned and finished as fast as two workers can
(churn_prog), read many times without stopping it and a few times stopped.
A task's chain follows from its name, so every task a reader prints is
either consistent with its name or marked torn/errored; one printed as
fact with another task's chain, a chain ending in the "returned" sentinel,
or an error without a mark fails.

The second part reads mutex_churn_prog, where tasks take one mutex, the
permits of a semaphore and send and receive on declared channels, and
finish all the time, and nothing is stuck: its watchdog (every 20 ms), 300
`hung --nonblocking` runs and 10 stopped ones must not report a wait
finding (never resolved, deadlock, all asleep, lost waker).

usage: churn.py TASKTRACE CHURN_PROG MUTEX_CHURN_PROG [READS]"""
import json
import os
import re
import subprocess
import sys
import tempfile

EXPECT = {
    "d2": ["churn_d2", "churn_leaf"],
    "d3": ["churn_d3", "churn_mid", "churn_leaf"],
    "d4": ["churn_d4", "churn_mid2", "churn_mid", "churn_leaf"],
}
DONE_WHERE = re.compile(r"registry\.c:0\b")
WAIT_FINDING = re.compile(r"(never resolved|deadlock|all tasks are asleep|lost waker): ")


def strict_json(raw):
    return json.loads(raw.decode("utf-8", errors="strict"))


def check_task(t, stopped):
    """Return a complaint about T, or None when T is consistent or marked."""
    exp = EXPECT.get(t["name"])
    if exp is None:
        return None
    if t["torn"]:
        return None
    if t["error"] is not None:
        # Nothing in churn_prog is broken: an error is a torn read that
        # was not recognised as one.
        return "error %r without the torn mark" % t["error"]
    funcs = [f["function"] for f in sorted(t["frames"], key=lambda f: f["depth"])]
    state = t["state"]
    if state in ("done", "cancelled"):
        if funcs:
            return "finished with a chain %s" % funcs
        return None
    if funcs != exp[: len(funcs)]:
        return "chain %s is not %s's" % (funcs, t["name"])
    if state in ("idle", "scheduled") and t["polls"] > 0 and funcs != exp:
        return "suspended with a partial chain %s" % funcs
    w = t["where"]
    if w and w["line"] == 0:
        return "where is the returned sentinel %s:%d" % (w["file"], w["line"])
    if state == "idle" and t["polls"] > 0:
        # churn_leaf only ever yields: it is never left idle unless the
        # state was read from another moment than the counters.
        return "idle at a yield (polls %d)" % t["polls"]
    return None


def start(argv, **kw):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, **kw)
    line = p.stdout.readline().decode()
    m = re.search(r"pid (\d+)", line)
    if not m:
        p.kill()
        raise SystemExit("%s did not start: %r" % (argv[0], line))
    return p, m.group(1)


def mutex_churn(cli, prog, runs=300, stopped=10):
    """Wait findings about a process where nothing is stuck: 0 expected."""
    env = dict(os.environ, TASKTRACE_WATCHDOG="interval=20ms,long_poll=off,"
               "starved=off,idle=off")
    log = tempfile.TemporaryFile()  # a pipe would fill and block the watchdog
    p, pid = start([prog], env=env, stderr=log)
    found = []
    try:
        for i in range(runs + stopped):
            mode = ["--nonblocking"] if i < runs else []
            r = subprocess.run([cli, "hung", *mode, "--long-poll", "off",
                                "--starved", "off", "--idle", "off", pid],
                               capture_output=True, timeout=60)
            if r.returncode not in (0, 20):
                found.append("hung exit %d: %s" % (r.returncode, r.stderr[:200]))
            found += ["hung %s: " % (mode or ["stopped"])[0] + l
                      for l in r.stdout.decode().splitlines() if WAIT_FINDING.search(l)]
    finally:
        p.kill()
        p.wait()
        log.seek(0)
        err = log.read().decode(errors="replace")
        log.close()
    found += ["watchdog: " + l for l in err.splitlines() if WAIT_FINDING.search(l)]
    print("mutex churn: %d hung --nonblocking runs, %d stopped, and the watchdog, "
          "%d wait findings" % (runs, stopped, len(found)))
    for f in found[:10]:
        print("  " + f)
    return 1 if found else 0


FRAME = re.compile(r"^#\d+\s+(\w+) \(")
HEADER = re.compile(r'^task (\d+) "([^"]*)" \[([^]]*)\]:$')


def dump_churn(prog, dumps=20):
    """The dump on a signal reads its own process while the workers run:
    every chain it prints is consistent with the task's name or marked."""
    import signal
    import time
    env = dict(os.environ, TASKTRACE_DUMP_SIGNAL="USR1")
    with tempfile.TemporaryFile() as log:  # a pipe would fill and block the dump
        p, pid = start([prog], env=env, stderr=log)
        try:
            for _ in range(dumps):
                os.kill(int(pid), signal.SIGUSR1)
                time.sleep(0.05)
        finally:
            p.kill()
            p.wait()
        log.seek(0)
        err = log.read().decode(errors="replace")
    bad, shown, name, state, funcs = [], 0, None, None, []

    def close():
        if name not in EXPECT or state.startswith("torn") or state.startswith("running"):
            return
        got = funcs[::-1]
        if got != EXPECT[name][: len(got)]:
            bad.append("dump: %r [%s] chain %s" % (name, state, got))

    for line in err.splitlines() + [""]:
        m = HEADER.match(line)
        if m or not line:
            if name is not None:
                close()
            name = None
        if m:
            name, state, funcs = m.group(2), m.group(3), []
            shown += name in EXPECT
            continue
        f = FRAME.match(line)
        if name is not None and f:
            funcs.append(f.group(1))
        if name is not None and DONE_WHERE.search(line):
            bad.append("dump: %r at the returned sentinel: %s" % (name, line))
    print("dump churn: %d signals, %d dumps, %d tasks shown, %d inconsistent" % (
        dumps, err.count("tasktrace: dump of pid"), shown, len(bad)))
    for b in bad[:10]:
        print("  " + b)
    written = err.count("tasktrace: dump of pid")
    if written < dumps // 4:  # signals that arrive during a dump merge
        print("dump churn: %d dumps written" % written)
        return 1
    return 1 if bad else 0


def main():
    cli, prog, mprog = sys.argv[1], sys.argv[2], sys.argv[3]
    reads = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    rc = mutex_churn(cli, mprog)
    rc = dump_churn(prog) or rc
    return churn(cli, prog, reads) or rc


def churn(cli, prog, reads):
    p, pid = start([prog])
    try:
        shown = marked = 0
        bad = []

        def run(*args):
            r = subprocess.run([cli, *args, pid], capture_output=True, timeout=60)
            if r.returncode != 0:
                bad.append("%s: exit %d: %s" % (" ".join(args), r.returncode,
                                                r.stderr.decode(errors="replace")[:300]))
                return None
            return r.stdout

        for i in range(reads + 5):
            stopped = i >= reads
            mode = [] if stopped else ["--nonblocking"]
            out = run("bt", "--json", *mode)
            if out is not None:
                for t in strict_json(out)["tasks"]:
                    if t["name"] not in EXPECT:
                        continue
                    shown += 1
                    if t["torn"] or t["error"]:
                        marked += 1
                    why = check_task(t, stopped)
                    if why:
                        bad.append("%s read %d: task %d %r %s: %s" % (
                            "stopped" if stopped else "nonblocking", i,
                            t["id"], t["name"], t["state"], why))
            if i % 4 == 0:
                out = run("ps", *mode)
                if out is not None:
                    for row in out.decode("utf-8", errors="replace").splitlines():
                        if DONE_WHERE.search(row):
                            bad.append("ps row at the returned sentinel: " + row)
                        elif not row.isascii():
                            bad.append("ps row with bytes no task was named with: " + row)
        print("churn: %d reads, %d tasks shown, %d marked torn or errored, "
              "%d inconsistent" % (reads + 5, shown, marked, len(bad)))
        for b in bad[:20]:
            print("  " + b)
        if shown < reads:
            print("churn: too few tasks seen; is churn_prog spawning?")
            return 1
        return 1 if bad else 0
    finally:
        p.kill()
        p.wait()


if __name__ == "__main__":
    sys.exit(main())
