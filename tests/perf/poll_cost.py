#!/usr/bin/env python3
"""The instructions recording adds to a poll, against the target of issue
"Recording cost": the await-chain benchmark (a yield through a 4-deep
chain, every poll a full re-poll: the worst case on purpose) with and
without recording, counted under valgrind (exact, unlike a timer).  Each
build runs twice, with SMALL and LARGE yields; the difference is the
per-poll cost, free of start-up and shutdown.

usage: poll_cost.py REC_BINARY NOREC_BINARY [MAX_RATIO]
Skips (77) without valgrind or under a sanitizer."""
import os
import re
import shutil
import subprocess
import sys

SMALL, LARGE = 2000, 22000
MAX_RATIO = 1.15


def instructions(binary, yields):
    r = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         binary, "await-chain", "1", str(yields)],
        capture_output=True, text=True, timeout=240)
    m = re.search(r"I\s+refs:\s+([\d,]+)", r.stderr)
    if r.returncode or not m:
        sys.exit(f"valgrind on {binary} failed (exit {r.returncode}):\n{r.stderr[-2000:]}")
    return int(m.group(1).replace(",", ""))


def per_poll(binary):
    return (instructions(binary, LARGE) - instructions(binary, SMALL)) / (LARGE - SMALL)


def main():
    rec, norec = sys.argv[1], sys.argv[2]
    limit = float(sys.argv[3]) if len(sys.argv) > 3 else MAX_RATIO
    if not shutil.which("valgrind"):
        print("SKIP: no valgrind")
        return 77
    if os.environ.get("TT_SANITIZE", "none") not in ("", "none"):
        print("SKIP: a sanitized build (valgrind cannot run it)")
        return 77
    on, off = per_poll(rec), per_poll(norec)
    ratio = on / off
    print(f"await-chain, instructions per poll: recording {on:.1f}, without {off:.1f}, "
          f"recording costs {on - off:.1f} ({ratio:.3f}x, at most {limit}x)")
    if ratio > limit:
        print(f"FAIL: recording costs {ratio:.3f}x the instructions of a poll without it")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
