#!/usr/bin/env python3
"""tasktrace top's full-screen view, driven in a real terminal: tmux
(send-keys types, capture-pane reads the screen) on tests/cli/top_prog.
The header shows; > moves the sort column; / filters by a name; Enter
shows the selected task's chain and histogram bars; the window is
resized and the view follows; s shows one state; q quits with status 0; a target that exits
is said and its last frame kept.  Every step waits for the screen to show
what it should (no timed assertion); exit 77 (skip) without tmux.

usage: top_tmux.py TASKTRACE TOP_PROG"""
import os
import re
import shutil
import subprocess
import sys
import time

TT, PROG = sys.argv[1:3]
if not shutil.which("tmux"):
    print("SKIP: no tmux (scripts/install-deps.sh --tests installs it)")
    sys.exit(77)
SOCK = f"tt-top-{os.getpid()}"
WAIT_S = 60  # a bound for a hung view, not an assertion on its speed


def tmux(*args, check=True):
    return subprocess.run(["tmux", "-L", SOCK, "-f", "/dev/null", *args],
                          capture_output=True, text=True, check=check, timeout=30)


def screen():
    return tmux("capture-pane", "-p", "-t", "top").stdout


def wait_for(what, cond):
    deadline = time.monotonic() + WAIT_S
    while True:
        s = screen()
        if cond(s):
            return s
        if time.monotonic() > deadline:
            sys.exit(f"FAIL: the screen never showed {what}:\n{s}")
        time.sleep(0.05)


def keys(*k):
    tmux("send-keys", "-t", "top", *k)


def start():
    p = subprocess.Popen([PROG], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    m = re.search(r"pid (\d+)", p.stdout.readline())
    if not m:
        p.kill()
        sys.exit(f"FAIL: top_prog did not start: {p.stderr.read()}")
    return p, m.group(1)


def session(pid):
    # The shell says how top ended, then keeps the pane for us to read.
    tmux("new-session", "-d", "-s", "top", "-x", "150", "-y", "30",
         f"'{TT}' top -d 0.2 {pid}; echo top-exited:$?; sleep 600")


def rows(s):
    return [l for l in s.splitlines() if re.match(r"[ !] \d+ ", l)]


def walk(pid):
    session(pid)
    s = wait_for("the header and the rows",
                 lambda s: "tasktrace top - pid " + pid in s and "tasks: 4" in s and
                 "ticker" in s and "sleeper" in s and "workers busy" in s)
    if "BUSY%v" not in s:
        sys.exit(f"FAIL: not sorted by BUSY% at first:\n{s}")
    keys(">")
    wait_for("the sort on POLLS/S", lambda s: "POLLS/Sv" in s and "BUSY%v" not in s)
    # ticker polls most: first row once the rates are in.
    wait_for("ticker first by polls", lambda s: rows(s) and " ticker " in rows(s)[0])
    keys("/", "sleep", "Enter")
    s = wait_for("the filter /sleep/", lambda s: "filter /sleep/" in s and len(rows(s)) == 1)
    if "sleeper" not in rows(s)[0]:
        sys.exit(f"FAIL: /sleep shows another task:\n{s}")
    keys("Enter")
    wait_for("sleeper's detail: chain and histogram bars",
             lambda s: "task detail" in s and re.search(r'task \d+ "sleeper"', s) and
             "sleeper () at tests/cli/top_prog.c:" in s and
             re.search(r"<1ms\s+\|#+ *\| \d+", s) and "spawned by task 1" in s)
    tmux("resize-window", "-t", "top", "-x", "80", "-y", "20")
    wait_for("the detail at 80 columns", lambda s: "task detail" in s and
             max(len(l) for l in s.splitlines()) <= 80 and len(s.splitlines()) <= 20)
    keys("Escape")
    s = wait_for("the list at 80x20", lambda s: "tasks: 4" in s and len(rows(s)) == 1 and
                 s.splitlines()[-1].startswith("h help"))
    # The filter cleared (the old one is offered to edit), then idle only:
    # cruncher, always running or runnable, goes.
    keys("/", *["BSpace"] * 5, "Enter")
    wait_for("no filter", lambda s: "filter /" not in s and len(rows(s)) == 4)
    keys("s")
    s = wait_for("the idle tasks", lambda s: "- state idle" in s and
                 not any(" cruncher " in r for r in rows(s)) and
                 any(" sleeper " in r for r in rows(s)))
    keys("q")
    wait_for("top to exit 0", lambda s: "top-exited:0" in s)
    tmux("kill-session", "-t", "top")
    print("keys: ok")


def target_exits():
    p, pid = start()
    session(pid)
    try:
        wait_for("the rows", lambda s: "ticker" in s and "sleeper" in s)
    finally:
        p.kill()
        p.wait()
    s = wait_for("that the target is gone", lambda s: "the target is gone" in s)
    if "ticker" not in s or "sleeper" not in s:
        sys.exit(f"FAIL: the last frame is not kept:\n{s}")
    keys("q")
    wait_for("top to exit 0", lambda s: "top-exited:0" in s)
    print("target exits: ok")


def main():
    p, pid = start()
    try:
        walk(pid)
        target_exits()
    finally:
        p.kill()
        p.wait()
        tmux("kill-server", check=False)


main()
