#!/usr/bin/env python3
"""The inline combinators' compile-time checks: each snippet must be
refused by the compiler with its message, and the control snippet built.

usage: macros_reject.py CC INCLUDE_DIR"""
import os
import subprocess
import sys
import tempfile

HEAD = '#include "tasktrace/tasktrace.h"\n'
BODY = '''TT_ASYNC(f, tt_sleep a; tt_sleep b; int n; TT_SELECT_OF(2) sel;);
TT_POLL(f)
{
	TT_BEGIN(self);
	TT_SELECT(self, cx, &self->sel, %s);
	TT_RETURN(self, TT_SELECTED(&self->sel, &self->a));
}
'''
OK = 'TT_CASE(&self->a, tt_sleep_init(&self->a, 1)), TT_CASE(&self->b, tt_sleep_init(&self->b, 1))'
CASES = [
    ('three cases for two', OK + ', TT_CASE(&self->b, tt_sleep_init(&self->b, 1))',
     'as many cases as the combinator was declared with'),
    ('one case for two', 'TT_CASE(&self->a, tt_sleep_init(&self->a, 1))',
     'as many cases as the combinator was declared with'),
    ('an int, not a future', OK.replace('TT_CASE(&self->b,', 'TT_CASE(&self->n,'),
     'a child must point at a future'),
]


def build(cc, inc, text):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, 'x.c')
        with open(src, 'w') as f:
            f.write(HEAD + text)
        return subprocess.run([cc, '-std=gnu11', '-D_GNU_SOURCE', '-I', inc, '-c', src,
                               '-o', os.path.join(d, 'x.o')],
                              capture_output=True, text=True)


def main():
    cc, inc = sys.argv[1], sys.argv[2]
    bad = 0
    r = build(cc, inc, BODY % OK)
    if r.returncode:
        print('FAIL control snippet did not build:\n' + r.stderr)
        bad += 1
    for name, arg, msg in CASES:
        r = build(cc, inc, BODY % arg)
        if r.returncode == 0 or msg not in r.stderr:
            print('FAIL %s: rc %d, expected "%s" in:\n%s' % (name, r.returncode, msg, r.stderr))
            bad += 1
        else:
            print('ok   %s refused' % name)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
