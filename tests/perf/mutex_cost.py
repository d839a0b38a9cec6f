#!/usr/bin/env python3
"""Locked instructions per lock+unlock of a contended mutex (issue
"Recording cost", the mutex against Go): bench/sync_bench's 16 tasks on 2
workers under callgrind, counted by bench/locked_count.py.  Exact, unlike
a timer, and what the contended unlock costs: while a woken waiter is on
its way (nearly every unlock when a running task keeps re-taking the
mutex) it must let go with one compare-and-swap, not a failed one first.
valgrind runs one thread at a time, so the share of such unlocks moves
from run to run; with the failed compare-and-swap the count was 2.5-3.0
per pair, without it 2.0.

Then all the instructions of an uncontended lock+unlock (the same tasks on
a current-thread runtime, deterministic): a first poll that finds the
mutex free takes it with one compare-and-swap and no call; through the
general path it cost 115 per pair, with the inline first poll 87.

usage: mutex_cost.py SYNC_BENCH SOURCE_ROOT [MAX_PER_PAIR]
Skips (77) without valgrind or objdump, or under a sanitizer."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

TASKS, EACH = 16, 20000
MAX_PER_PAIR = 2.2
MAX_INSTR_PER_PAIR = 100


def main():
    bench, root = sys.argv[1], sys.argv[2]
    limit = float(sys.argv[3]) if len(sys.argv) > 3 else MAX_PER_PAIR
    if not shutil.which("valgrind") or not shutil.which("objdump"):
        print("SKIP: no valgrind or objdump")
        return 77
    if os.environ.get("TT_SANITIZE", "none") not in ("", "none"):
        print("SKIP: a sanitized build (valgrind cannot run it)")
        return 77
    sys.path.insert(0, os.path.join(root, "bench"))
    import locked_count

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        r = subprocess.run(
            ["valgrind", "--tool=callgrind", "--dump-instr=yes", "--compress-pos=no",
             "--compress-strings=no", f"--callgrind-out-file={out}",
             bench, "mutex", "2", str(TASKS), str(EACH)],
            capture_output=True, text=True, timeout=240)
        if r.returncode or not os.path.exists(out):
            sys.exit(f"valgrind on {bench} failed (exit {r.returncode}):\n{r.stderr[-2000:]}")
        # The program and the library, as callgrind names them.
        objs = sorted({m.group(1) for m in re.finditer(r"^c?ob=(.*)$", open(out).read(), re.M)
                       if m.group(1) == bench or "libtasktrace" in m.group(1)})
        counts = locked_count.count(out, objs)
    pairs = TASKS * EACH
    per = sum(counts.values()) / pairs
    top = ", ".join(f"{fn} {n / pairs:.2f}" for fn, n in counts.most_common(4))
    print(f"mutex, {TASKS} tasks on 2 workers: {per:.2f} locked instructions per "
          f"lock+unlock (at most {limit}): {top}")
    if per > limit:
        print(f"FAIL: {per:.2f} locked instructions per lock+unlock")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        r = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             bench, "mutex", "0", str(TASKS), str(EACH)],
            capture_output=True, text=True, timeout=240)
        m = re.search(r"^summary: (\d+)", open(out).read() if os.path.exists(out) else "", re.M)
        if r.returncode or not m:
            sys.exit(f"valgrind on {bench} failed (exit {r.returncode}):\n{r.stderr[-2000:]}")
    instr = int(m.group(1)) / pairs
    print(f"mutex, {TASKS} tasks on a current-thread runtime: {instr:.1f} instructions per "
          f"lock+unlock, the whole program (at most {MAX_INSTR_PER_PAIR})")
    if instr > MAX_INSTR_PER_PAIR:
        print(f"FAIL: {instr:.1f} instructions per uncontended lock+unlock")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
