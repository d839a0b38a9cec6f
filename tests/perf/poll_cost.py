#!/usr/bin/env python3
"""The instructions recording adds to a poll, against the target of issue
"Recording cost": the await-chain benchmark (a yield through a 4-deep
chain, every poll a full re-poll: the worst case on purpose) with and
without recording, counted under valgrind (exact, unlike a timer).  Each
build runs twice, with SMALL and LARGE yields; the difference is the
per-poll cost, free of start-up and shutdown.

The recording build runs with the flight recorder switched off at run
time (TASKTRACE_RECORDER=off), against MAX_RATIO, and on (its default
rings), against MAX_RATIO_RECORDER (issue "The time dimension").

usage: poll_cost.py REC_BINARY NOREC_BINARY [MAX_RATIO [MAX_RATIO_RECORDER]]
Skips (77) without valgrind or under a sanitizer."""
import os
import re
import shutil
import subprocess
import sys

SMALL, LARGE = 2000, 22000
# The targets are 1.15x and 1.25x; the limits are what was won
# (1.085x and 1.185x, after the clock thread) and about 2.5 % more, so a
# change that gives back part of it fails here even while it still meets
# the targets (the clock-moved path taken on every poll: 1.119x, 1.221x).
MAX_RATIO = 1.11
MAX_RATIO_RECORDER = 1.21


def instructions(binary, yields, recorder):
    env = dict(os.environ)
    if recorder:
        env.pop("TASKTRACE_RECORDER", None)
    else:
        env["TASKTRACE_RECORDER"] = "off"
    r = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         binary, "await-chain", "1", str(yields)],
        capture_output=True, text=True, timeout=240, env=env)
    m = re.search(r"I\s+refs:\s+([\d,]+)", r.stderr)
    if r.returncode or not m:
        sys.exit(f"valgrind on {binary} failed (exit {r.returncode}):\n{r.stderr[-2000:]}")
    return int(m.group(1).replace(",", ""))


def per_poll(binary, recorder=False):
    return ((instructions(binary, LARGE, recorder) - instructions(binary, SMALL, recorder)) /
            (LARGE - SMALL))


def main():
    rec, norec = sys.argv[1], sys.argv[2]
    limit = float(sys.argv[3]) if len(sys.argv) > 3 else MAX_RATIO
    limit_fr = float(sys.argv[4]) if len(sys.argv) > 4 else MAX_RATIO_RECORDER
    if not shutil.which("valgrind"):
        print("SKIP: no valgrind")
        return 77
    if os.environ.get("TT_SANITIZE", "none") not in ("", "none"):
        print("SKIP: a sanitized build (valgrind cannot run it)")
        return 77
    on, off, fr = per_poll(rec), per_poll(norec), per_poll(rec, recorder=True)
    ratio, ratio_fr = on / off, fr / off
    print(f"await-chain, instructions per poll: recording {on:.1f} (flight recorder off), "
          f"without {off:.1f}, recording costs {on - off:.1f} ({ratio:.3f}x, at most {limit}x)")
    print(f"with the flight recorder on: {fr:.1f}, {fr - off:.1f} more than without "
          f"recording ({ratio_fr:.3f}x, at most {limit_fr}x)")
    failed = 0
    if ratio > limit:
        print(f"FAIL: recording costs {ratio:.3f}x the instructions of a poll without it")
        failed = 1
    if ratio_fr > limit_fr:
        print(f"FAIL: recording with the flight recorder costs {ratio_fr:.3f}x the "
              "instructions of a poll without it")
        failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main())
