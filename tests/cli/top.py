#!/usr/bin/env python3
"""tasktrace top -b on tests/cli/top_prog, whose rates are known: ticker
polls and wakes about 100 times a second (a 10 ms interval timer),
sleeper sleeps (idle, no polls, no wakes), cruncher is busy all the time
in polls of 1 s (busy counts the poll under way, not only polls that
ended).  The text frames and the JSON
frames say so; a target that exits mid-run is said, with exit status 1;
the options are checked.  No assertion on time: the rate's range is wide
(timer ticks a slow machine misses are skipped, never bunched).

On tests/cli/churn_prog (tasks spawned and finished as fast as two
workers can, slots reused while top reads), no rate is made up: a torn
record has none, no task is given more polls in an interval than it
ever had, the header's counts add up.

usage: top.py TASKTRACE TOP_PROG CHURN_PROG"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

TT, PROG, CHURN = sys.argv[1:4]


def fail(msg):
    sys.exit(f"FAIL: {msg}")


def start(prog=None):
    p = subprocess.Popen([prog or PROG], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = p.stdout.readline()
    m = re.search(r"pid (\d+)", ready)
    if not m:
        p.kill()
        fail(f"top_prog did not start: {ready!r} {p.stderr.read()}")
    return p, m.group(1)


def tt(*args, rc=0):
    r = subprocess.run([TT, *args], capture_output=True, text=True, timeout=60)
    if r.returncode != rc:
        fail(f"tasktrace {' '.join(args)} exited {r.returncode}, not {rc}:\n{r.stdout}{r.stderr}")
    return r


def frames(text):
    """The text frames: each a dict of header lines and rows by name."""
    out = []
    for block in text.split("top - ")[1:]:
        lines = block.splitlines()
        heads = next(i for i, l in enumerate(lines) if "NAME" in l and "POLLS/S" in l)
        cols = re.findall(r"\S+", lines[heads])
        starts = [lines[heads].index(c) for c in cols]
        rows = {}
        for l in lines[heads + 1:]:
            if not l.strip():
                break
            cells = [l[s:e].strip() for s, e in zip(starts, starts[1:] + [len(l)])]
            row = dict(zip([c.rstrip("^v") for c in cols], cells))
            rows[row["NAME"]] = row
        out.append({"title": lines[0], "header": lines[1:3], "rows": rows, "text": block})
    return out


def check_rate(what, v):
    if v is None or not 20 <= float(v) <= 150:
        fail(f"{what} is {v}, not about 100 a second")


def text_frames(pid):
    out = tt("top", "-b", "-n", "2", "-d", "0.5", pid).stdout
    fs = frames(out)
    if len(fs) != 2 or not fs[1]["title"].startswith(f"pid {pid}, frame 2, every 500ms"):
        fail(f"not 2 frames of pid {pid}:\n{out}")
    f = fs[-1]
    if not re.match(r"tasks: \d+, \d+ idle, ", f["header"][0]) or \
            not re.match(r"polls/s [\d.]+, wakes/s [\d.]+, workers busy \d+/2, findings \d+",
                         f["header"][1]):
        fail(f"header:\n{f['text']}")
    t, s = f["rows"].get("ticker"), f["rows"].get("sleeper")
    if not t or not s:
        fail(f"no ticker or sleeper row:\n{f['text']}")
    check_rate("ticker's POLLS/S", t["POLLS/S"])
    check_rate("ticker's WAKES/S", t["WAKES/S"])
    if t["STATE"] not in ("idle", "scheduled", "running") or t["ID"] == "" or \
            "ticker at tests/cli/top_prog.c:" not in t["WHERE"] and t["STATE"] == "idle":
        fail(f"ticker's row: {t}")
    if s["STATE"] != "idle" or s["POLLS/S"] != "0" or s["WAKES/S"] != "0" or \
            s["BUSY%"] != "0" or not s["WAIT"].startswith("timer") or \
            "sleeper at tests/cli/top_prog.c:" not in s["WHERE"]:
        fail(f"sleeper's row: {s}")
    c = f["rows"].get("cruncher")
    if not c or float(c["BUSY%"]) < 50:
        fail(f"cruncher is busy all the time: {c}")
    if t["P50"] != "<1ms":
        fail(f"ticker's polls are short, p50 {t['P50']}")
    # Busy in every interval, whether or not one of its polls ended in it.
    busy = frames(tt("top", "-b", "-n", "4", "-d", "0.2", "--filter", "cruncher", pid).stdout)
    if len(busy) != 4 or any(float(f["rows"]["cruncher"]["BUSY%"]) < 50 for f in busy):
        fail("cruncher is busy all the time: " +
             str([f["rows"].get("cruncher") for f in busy]))
    # Its polls of 1 s are long polls: a finding, and '!' on its row.
    if not any(re.search(r'^! long poll: task \d+ "cruncher"', f["text"], re.M) and
               re.search(r"^! \d+ +cruncher ", f["text"], re.M) for f in busy):
        fail("no long poll finding marking cruncher:\n" + "".join(f["text"] for f in busy))
    # Rows sorted busiest first by default: --sort name puts them in order.
    named = tt("top", "-b", "-n", "1", "-d", "0.2", "--sort", "name", pid).stdout
    names = list(frames(named)[0]["rows"])
    if names != sorted(names):
        fail(f"--sort name: {names}")
    print("text: ok")


def json_frames(pid):
    out = tt("top", "-b", "-n", "2", "-d", "0.5", "--json", pid).stdout
    docs = [json.loads(l) for l in out.splitlines()]
    if len(docs) != 2 or [d["top"]["frame"] for d in docs] != [1, 2]:
        fail(f"not 2 JSON frames: {out[:2000]}")
    d = docs[-1]
    if d["command"] != "top" or d["top"]["workers"] != 2 or d["top"]["interval_ns"] != 500000000:
        fail(f"frame: {d['top']}")
    tasks = {t["name"]: t for t in d["tasks"]}
    t, s = tasks["ticker"], tasks["sleeper"]
    check_rate("ticker's polls_per_s", t["top"]["polls_per_s"])
    check_rate("ticker's wakes_per_s", t["top"]["wakes_per_s"])
    if not t["top"]["rated"] or t["top"]["poll_p50"]["words"] != "<1ms":
        fail(f"ticker: {t['top']}")
    if tasks["cruncher"]["top"]["busy_pct"] < 50:
        fail(f"cruncher: {tasks['cruncher']['top']}")
    if s["state"] != "idle" or s["top"]["polls_per_s"] != 0 or s["top"]["busy_pct"] != 0 or \
            s["top"]["finding"]:
        fail(f"sleeper: {s}")
    if not 20 <= d["top"]["polls_per_s"] <= 400:
        fail(f"header polls/s {d['top']['polls_per_s']}")
    print("json: ok")


def target_exits():
    """Killed while top watches: the frames so far, one line, status 1."""
    p, pid = start()
    top = subprocess.Popen([TT, "top", "-b", "-d", "0.1", pid], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        while "ticker" not in top.stdout.readline():
            pass
    finally:
        p.kill()
        p.wait()
    out, err = top.communicate(timeout=60)
    if top.returncode != 1 or "tasktrace: top: stopped after " not in err:
        fail(f"target gone: status {top.returncode}, stderr {err!r}")
    print("target exits: ok")


def usage(pid):
    for args, why in ((["--json", pid], "--json is for batch mode"),
                      ([pid], "needs a terminal"),
                      (["-b", "-n", "0", pid], "-n: '0'"),
                      (["-b", "-d", "soon", pid], "-d: 'soon'"),
                      (["-b", "--sort", "size", pid], "--sort: 'size'"),
                      (["-b", "--filter", "(", pid], "--filter: ")):
        r = subprocess.run([TT, "top", *args], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 2 or why not in r.stderr:
            fail(f"top {args}: status {r.returncode}, {r.stderr!r}")
    f = frames(tt("top", "-b", "-n", "1", "-d", "0.1", "--filter", "^sleep", pid).stdout)[0]
    if list(f["rows"]) != ["sleeper"]:
        fail(f"--filter ^sleep: {list(f['rows'])}")
    print("usage: ok")


def core(pid):
    """A core is one frame, without rates, whatever -n says."""
    if os.environ.get("TT_SANITIZE", "none") not in ("", "none") or not shutil.which("gcore"):
        print("core: skipped (a sanitizer build, or no gcore)")
        return
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run(["gcore", "-o", os.path.join(d, "core"), pid],
                           capture_output=True, text=True, timeout=120)
        path = os.path.join(d, "core." + pid)
        if r.returncode or not os.path.exists(path):
            fail(f"gcore: {r.stdout}{r.stderr}")
        fs = frames(tt("top", "-b", "-n", "3", path).stdout)
        if len(fs) != 1 or not fs[0]["title"].startswith(f"core {path}, frame 1") or \
                fs[0]["rows"]["ticker"]["POLLS/S"] != "-" or \
                fs[0]["rows"]["sleeper"]["STATE"] != "idle":
            fail(f"core: {fs}")
    print("core: ok")


def churn():
    p, pid = start(CHURN)
    try:
        out = tt("top", "-b", "-n", "5", "-d", "0.1", "--json", pid).stdout
    finally:
        p.kill()
        p.wait()
    rated = 0
    for line in out.splitlines():
        d = json.loads(line)
        top = d["top"]
        states = sum(top[k] for k in ("idle", "scheduled", "running", "done", "cancelled"))
        if states + top["torn"] != top["tasks"] or top["tasks"] != len(d["tasks"]):
            fail(f"churn: the header does not add up: {top}")
        for t in d["tasks"]:
            r = t["top"]
            if t["torn"] or t["error"]:
                if r["rated"] or r["polls_per_s"] is not None:
                    fail(f"churn: a torn record with rates: {t}")
                continue
            if not r["rated"]:
                continue
            rated += 1
            polls_in_interval = r["polls_per_s"] * top["interval_ns"] / 1e9
            if polls_in_interval > t["polls"] + 0.5 or not 0 <= r["busy_pct"] <= 100 or \
                    r["wakes_per_s"] < 0:
                fail(f"churn: a rate the task cannot have: {t}")
    if not rated:
        fail(f"churn: no task was rated (the spawners are long-lived):\n{out[:3000]}")
    print("churn: ok")


def main():
    p, pid = start()
    try:
        text_frames(pid)
        json_frames(pid)
        usage(pid)
        core(pid)
    finally:
        p.kill()
        p.wait()
    target_exits()
    churn()


main()
