#!/usr/bin/env python3
"""`tasktrace history` (the flight recorder, docs/registry-abi.md §5.12).

From the core of samples/crash (a SIGSEGV in task "request-7"): the last
events of the crashing task (its spawn, where it suspended and on what,
who woke it, running now) and of the task that waited for it (block_on,
suspended on the join).  Live, on samples/hung without stopping it: a
task's spawn and polls, and gdb attached to it prints the same text
(ages aside: they move between the two reads).  --json, from the core and live: one object per
event, oldest first, with the fields docs/cli.md lists, each event's "text"
the line the text output prints for it, in the same order.  With
TASKTRACE_RECORDER=off, history, history --json and trace all fail (exit
1) with one and the same line.

usage: history.py TASKTRACE SAMPLES_DIR SOURCE_ROOT"""
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile

TT, SAMPLES, SRC = sys.argv[1:4]


def marker(path, tag):
    with open(os.path.join(SRC, path)) as f:
        for n, line in enumerate(f, 1):
            if "@await:" + tag in line:
                return f"{path}:{n}"
    sys.exit(f"no marker {tag} in {path}")


def history(*args, env=None):
    r = subprocess.run([TT, "history", *args], capture_output=True, text=True, timeout=60,
                       env=env)
    return r.returncode, r.stdout, r.stderr


def lines_in_order(text, *wants):
    at = 0
    for w in wants:
        i = text.find(w, at)
        if i < 0:
            sys.exit(f"FAIL: {w!r} missing (or out of order) in:\n{text}")
        at = i + len(w)


def from_core():
    if os.environ.get("TT_SANITIZE", "none") not in ("", "none"):
        print("core part skipped: a sanitizer build writes no core")
        return
    with tempfile.TemporaryDirectory() as d:
        def unlimited():
            resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2)
        p = subprocess.run([os.path.join(SAMPLES, "crash")], cwd=d, preexec_fn=unlimited,
                           capture_output=True, text=True, timeout=60)
        if p.returncode != -signal.SIGSEGV:
            sys.exit(f"FAIL: crash exited {p.returncode}:\n{p.stderr}")
        cores = [f for f in os.listdir(d) if f.startswith("core")]
        if not cores:
            print("core part skipped: no core file (core_pattern pipes cores elsewhere)")
            return
        core = os.path.join(d, cores[0])
        m = re.search(r'polling task (\d+) "request-7"', p.stderr)
        if not m:
            sys.exit(f"FAIL: no crashing task in the crash log:\n{p.stderr}")
        crashing = m.group(1)
        rc, out, err = history(core, crashing)
        if rc:
            sys.exit(f"FAIL: history {crashing} exited {rc}: {err}")
        crash_c = "samples/crash.c"
        lines_in_order(out, f'task {crashing} "request-7": ',
                       f'spawned by task 1 "block_on" at {marker(crash_c, "spawn")} '
                       "(crash_main_poll)",
                       f"suspended at {marker(crash_c, 'nap')} (read_byte_poll), "
                       "waits on timer 0x",
                       "\n  now           running, in a poll since ")
        # Its timer's wake: after the suspension, unless both fell in one
        # tick of the coarse clock on two workers (then in either order).
        lines_in_order(out, "woken by the runtime (a timer or I/O) on worker ", "\n  now ")
        # The task that waited for it: suspended on the join.
        rc, out, err = history(core, "1")
        if rc:
            sys.exit(f"FAIL: history 1 exited {rc}: {err}")
        lines_in_order(out, 'task 1 "block_on": ', "spawned at ",
                       f'spawned task {crashing} "request-7" at {marker(crash_c, "spawn")}',
                       f"suspended at {crash_c}:", "(crash_main_poll), waits on join 0x",
                       "\n  now           idle")
        same_as_json(core, crashing, ["spawned", "suspended", "woken"])
        gdb_same_as_cli(core, crashing)
        rc, out, err = history(core, "999999")
        if rc != 1 or "not in the registry" not in out:
            sys.exit(f"FAIL: history of an unknown task: exit {rc}:\n{out}{err}")
        print("core: ok")


COMMON = {"kind": str, "stamp_ns": int, "ago_ns": int, "worker": (int, type(None)),
          "pos": int, "task": int, "text": str}
BY_KIND = {"spawned": ("parent", "site"), "woken": ("waker", "thread", "during_poll"),
           "suspended": ("poll_start_ns", "poll_ns", "site", "wait_kind", "wait_object"),
           "yielded": ("poll_start_ns", "poll_ns"), "completed": ("poll_start_ns", "poll_ns")}


def same_as_json(target, tid, kinds, *opts):
    """--json: the documented fields, the text output's lines in order."""
    rc, out, err = history(*opts, "--json", target, tid)
    if rc:
        sys.exit(f"FAIL: history --json {tid} exited {rc}: {err}")
    v = subprocess.run([sys.executable, os.environ["TT_VALIDATOR"], "history"], input=out,
                       capture_output=True, text=True, timeout=60)
    if v.returncode:
        sys.exit(f"FAIL: history --json is not the documented schema: {v.stdout}{v.stderr}")
    doc = json.loads(out)
    if doc["command"] != "history" or doc["task_id"] != int(tid) or \
            [t["id"] for t in doc["tasks"]] != [int(tid)] or doc["recorder"]["rings"] < 1:
        sys.exit(f"FAIL: history --json: not task {tid}'s document: {out[:2000]}")
    evs = doc["events"]
    for e in evs:
        for k, t in COMMON.items():
            if not isinstance(e.get(k), t):
                sys.exit(f"FAIL: history --json: {k} of {e}")
        for k in BY_KIND.get(e["kind"], ()):
            if k not in e:
                sys.exit(f"FAIL: history --json: no {k} in {e}")
    if [e["stamp_ns"] for e in evs] != sorted(e["stamp_ns"] for e in evs):
        sys.exit(f"FAIL: history --json: not oldest first: {evs}")
    for k in kinds:
        if k not in [e["kind"] for e in evs]:
            sys.exit(f"FAIL: history --json: no {k} event: {evs}")
    sus = [e for e in evs if e["kind"] == "suspended" and e["task"] == int(tid)]
    if not sus or not sus[0]["site"] or not sus[0]["wait_kind"] or \
            not sus[0]["wait_object"].startswith("0x"):
        sys.exit(f"FAIL: history --json: a suspension without its site and wait: {sus}")
    rc, text, err = history(*opts, target, tid)
    words = [m.group(1) for m in re.finditer(r"^  \S+ ago +(.*)$", text, re.M)]
    if words != [e["text"] for e in evs][-len(words):] or len(words) != min(len(evs), 64):
        sys.exit(f"FAIL: history --json's texts are not the text's lines:\n{text}\n"
                 f"{[e['text'] for e in evs]}")


def gdb_same_as_cli(core, tid):
    """gdb's `task history` prints the CLI's text (the same C code)."""
    if not shutil.which("gdb"):
        print("gdb part skipped: no gdb")
        return
    rc, cli, err = history(core, tid)
    r = subprocess.run(["gdb", "-q", "-batch", "-nx", "-iex", "add-auto-load-safe-path /",
                        os.path.join(SAMPLES, "crash"), core, "-ex", "task history " + tid],
                       capture_output=True, text=True, timeout=120)
    if cli not in r.stdout:
        sys.exit(f"FAIL: gdb's task history differs from the CLI's:\n{cli}\n--- gdb:\n"
                 f"{r.stdout}{r.stderr}")


def gdb_live_same_as_cli(pid, tid):
    if not shutil.which("gdb"):
        print("gdb live part skipped: no gdb")
        return
    if os.environ.get("TT_SANITIZE", "none") not in ("", "none"):
        # gdb's plugin loads the sanitized library into gdb, which has no
        # sanitizer runtime of its own.
        print("gdb live part skipped: a sanitizer build")
        return
    r = subprocess.run(["gdb", "-q", "-batch", "-nx", "-iex", "add-auto-load-safe-path /",
                        "-p", pid, "-ex", "task history " + tid],
                       capture_output=True, text=True, timeout=120)
    rc, cli, err = history(pid, tid)
    ages = re.compile(r"^(  )\S+ ago +", re.M)
    if rc or ages.sub(r"\1AGO ", cli) not in ages.sub(r"\1AGO ", r.stdout):
        sys.exit(f"FAIL: gdb's live task history differs from the CLI's:\n{cli}\n--- gdb:\n"
                 f"{r.stdout}{r.stderr}")


def live(recorder):
    env = dict(os.environ)
    if recorder:
        env.pop("TASKTRACE_RECORDER", None)
    else:
        env["TASKTRACE_RECORDER"] = "off"
    p = subprocess.Popen([os.path.join(SAMPLES, "hung")], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    try:
        ready = p.stdout.readline()
        m = re.search(r"pid (\d+)", ready)
        if not m:
            sys.exit(f"FAIL: hung did not start: {ready!r}")
        pid = m.group(1)
        if not recorder:
            said = set()
            for cmd in (["history", pid, "1"], ["history", "--json", pid, "1"],
                        ["trace", pid]):
                r = subprocess.run([TT, *cmd], capture_output=True, text=True, timeout=60)
                if r.returncode != 1 or r.stdout:
                    sys.exit(f"FAIL: recorder off: {cmd} exit {r.returncode}:\n"
                             f"{r.stdout}{r.stderr}")
                said.add(r.stderr)
            if said != {f"tasktrace: pid {pid}: the flight recorder is off (no rings)\n"}:
                sys.exit(f"FAIL: recorder off: not one same line: {said}")
            return
        rc, out, err = history("--nonblocking", pid, "1")
        if rc:
            sys.exit(f"FAIL: live history exited {rc}: {err}")
        lines_in_order(out, "task 1 ", "spawned at ", "polled on worker ", "\n  now ")
        same_as_json(pid, "2", ["spawned", "suspended"])
        gdb_live_same_as_cli(pid, "2")
    finally:
        p.kill()
        p.wait()


def main():
    from_core()
    live(True)
    live(False)
    print("live: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
