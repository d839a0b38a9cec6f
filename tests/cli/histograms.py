#!/usr/bin/env python3
"""Per-task histograms (docs/registry-abi.md §5.13) on tests/cli/hist_prog:
poller's 5 polls of 20 ms, hog's 3 polls of 150 ms and sleeper's 3 waits
for a worker of 150 ms are in their buckets, in `bt` and in `bt --json`,
on the live process and on its gcore core (the same words both times).
With `hist_prog stuck` (hog then holds the thread for good), `hung`'s
long-poll finding quotes hog's earlier polls and the starved finding
sleeper's earlier waits for a worker.

usage: histograms.py TASKTRACE HIST_PROG"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

TT, PROG = sys.argv[1:3]


def tt(*args):
    r = subprocess.run([TT, *args], capture_output=True, text=True, timeout=60)
    if r.returncode:
        sys.exit(f"FAIL: tasktrace {' '.join(args)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r.stdout


def block(text, name):
    m = re.search(r'^task \d+ "%s".*?(?=^task |\Z)' % name, text, re.S | re.M)
    if not m:
        sys.exit(f"FAIL: no task {name!r} in:\n{text}")
    return m.group(0)


def want(text, *needles):
    for n in needles:
        if n not in text:
            sys.exit(f"FAIL: {n!r} missing in:\n{text}")


def check(target):
    bt = tt("bt", target)
    # Besides the long polls, the short ones: under a tick, unless one
    # crossed a tick (then 1-2 or 2-4 or 4-8 ms): not asserted.
    want(block(bt, "poller"), "polls: <1ms ", "16-32ms 5; p50 <1ms, p99 16-32ms")
    want(block(bt, "hog"), "polls: <1ms ", "128-256ms 3; ")
    # A wake whose poll came within a tick is under 1 ms, but a slow build
    # (ASan) can cross a tick there (4-8 ms): not asserted, as for polls.
    want(block(bt, "sleeper"), "waited for a worker: ", "128-256ms 3; ")
    for name in ("poller", "hog"):
        if "waited for a worker" in block(bt, name):
            sys.exit(f"FAIL: {name} never waited 8 ms for a worker:\n{bt}")
    if "polls:" in block(bt, "sleeper"):
        sys.exit(f"FAIL: sleeper never polled 8 ms:\n{bt}")
    doc = json.loads(tt("bt", "--json", target))
    tasks = {t["name"]: t for t in doc["tasks"]}
    p = tasks["poller"]["histograms"]
    if p["buckets"] != 16 or p["poll"][5] != 5 or sum(p["poll"]) != tasks["poller"]["polls"] \
            or p["poll_p99"] != "16-32ms" or sum(p["delay"][4:]):
        sys.exit(f"FAIL: poller's histograms in JSON: {p}")
    s = tasks["sleeper"]["histograms"]
    if s["delay"][8] != 3 or s["delay_p50"] != "128-256ms":
        sys.exit(f"FAIL: sleeper's histograms in JSON: {s}")
    return bt


def start(*args):
    p = subprocess.Popen([PROG, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    ready = p.stdout.readline()
    m = re.search(r"pid (\d+)", ready)
    if not m:
        p.kill()
        sys.exit(f"FAIL: hist_prog did not start: {ready!r} {p.stderr.read()}")
    return p, m.group(1)


def findings():
    """hung quotes the histograms; sleeper is starved once woken 1 s ago
    (the default threshold): asked again until then."""
    p, pid = start("stuck")
    try:
        deadline = time.monotonic() + 60
        while True:
            r = subprocess.run([TT, "hung", pid], capture_output=True, text=True, timeout=60)
            if 'starved: task 2 "sleeper"' in r.stdout or time.monotonic() > deadline:
                break
        out = r.stdout
        m = re.search(r'^long poll: task \d+ "hog".*?(?=^\S|\Z)', out, re.S | re.M)
        if not m or "  its earlier polls: <1ms " not in m.group(0) or \
                "128-256ms 3; " not in m.group(0):
            sys.exit(f"FAIL: the long poll's finding without hog's polls:\n{out}{r.stderr}")
        m = re.search(r'^starved: task \d+ "sleeper".*?(?=^\S|\Z)', out, re.S | re.M)
        if not m or "  its earlier waits for a worker: " not in m.group(0) or \
                "128-256ms 3; p50 128-256ms" not in m.group(0):
            sys.exit(f"FAIL: the starved finding without sleeper's waits:\n{out}{r.stderr}")
    finally:
        p.kill()
        p.wait()
    print("findings: ok")


def gdb_same_as_cli(core):
    """gdb's `task bt` prints the CLI's histogram lines (the same C code,
    through ctypes: the mirror of tt_rtask holds the histograms)."""
    if not shutil.which("gdb"):
        print("gdb part skipped: no gdb")
        return
    cli = block(tt("bt", core), "poller")
    r = subprocess.run(["gdb", "-q", "-batch", "-nx", "-iex", "add-auto-load-safe-path /",
                        PROG, core, "-ex", "task bt 4"],
                       capture_output=True, text=True, timeout=120)
    if cli.strip() not in r.stdout:
        sys.exit(f"FAIL: gdb's task bt differs from the CLI's:\n{cli}\n--- gdb:\n"
                 f"{r.stdout}{r.stderr}")


def main():
    findings()
    p = subprocess.Popen([PROG], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = p.stdout.readline()
        m = re.search(r"pid (\d+)", ready)
        if not m:
            sys.exit(f"FAIL: hist_prog did not start: {ready!r} {p.stderr.read()}")
        pid = m.group(1)
        live = check(pid)
        print("live: ok")
        if os.environ.get("TT_SANITIZE", "none") not in ("", "none") or not shutil.which("gcore"):
            print("core part skipped: a sanitizer build, or no gcore")
            return 0
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run(["gcore", "-o", os.path.join(d, "core"), pid],
                               capture_output=True, text=True, timeout=120)
            core = os.path.join(d, "core." + pid)
            if r.returncode or not os.path.exists(core):
                sys.exit(f"FAIL: gcore: {r.stdout}{r.stderr}")
            from_core = check(core)
            gdb_same_as_cli(core)
        # (block_on may be in a poll while the live bt stops the process:
        # that poll grows by the stop, so the core may show it.)
        def lines(text):
            return [l for n in ("sleeper", "hog", "poller")
                    for l in block(text, n).splitlines() if l.startswith(("polls:", "waited"))]
        if lines(live) != lines(from_core):
            sys.exit(f"FAIL: live and core differ:\n{live}\n---\n{from_core}")
        print("core: ok")
    finally:
        p.kill()
        p.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
