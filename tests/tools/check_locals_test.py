#!/usr/bin/env python3
"""The locals check flags exactly the planted locals-across-await of
planted_locals.c (the "@flag:NAME" lines) and nothing in samples/.

usage: check_locals_test.py SOURCE_ROOT BUILD_ROOT"""
import glob
import os
import re
import subprocess
import sys


def run(tool, args):
    return subprocess.run([sys.executable, tool] + args, capture_output=True, text=True)


def main():
    src, build = sys.argv[1], sys.argv[2]
    tool = os.path.join(src, 'tools', 'tt-check-locals.py')
    planted = os.path.join(src, 'tests', 'tools', 'planted_locals.c')
    want = set()
    with open(planted) as f:
        for no, line in enumerate(f, 1):
            m = re.search(r'@flag:([a-z_]\w*)', line)
            if m:
                want.add((no, m.group(1)))
    bad = 0
    r = run(tool, ['-I', os.path.join(src, 'core-runtime', 'include'), planted])
    got = set()
    for line in r.stdout.splitlines():
        m = re.match(r'.*:(\d+): local `(\w+)`', line)
        if m:
            got.add((int(m.group(1)), m.group(2)))
    if r.returncode != 1 or got != want:
        print('FAIL planted: rc %d (want 1), flagged %s, want %s\n%s%s' %
              (r.returncode, sorted(got), sorted(want), r.stdout, r.stderr))
        bad += 1
    else:
        print('ok   planted: %d locals flagged, nothing else' % len(got))
    samples = sorted(glob.glob(os.path.join(src, 'samples', '*.c')))
    r = run(tool, ['-p', build] + samples)
    if r.returncode != 0:
        print('FAIL samples: rc %d\n%s%s' % (r.returncode, r.stdout, r.stderr))
        bad += 1
    else:
        print('ok   samples: %d files clean' % len(samples))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
