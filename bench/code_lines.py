#!/usr/bin/env python3
"""Code lines of C or Go files, counted alike: a line counts when something
other than blanks and comments (// to the end of the line, /* ... */) is
left on it; string and character literals are skipped, so a "//" inside
one is not a comment.  Go's raw `...` strings too.  cloc counts the same.

    bench/code_lines.py FILE...      # one line per file, then the total"""
import sys


def code_lines(text):
    n, i, code, state = 0, 0, False, None  # state: None, "block", or a quote
    while i < len(text):
        c, nxt = text[i], text[i + 1:i + 2]
        if c == "\n":
            n += code
            code = False
            if state not in ("block", "`"):
                state = None  # an unterminated literal ends with its line
        elif state == "block":
            if c == "*" and nxt == "/":
                state, i = None, i + 1
        elif state:
            code = True
            if c == "\\" and state != "`":
                i += 1
            elif c == state:
                state = None
        elif c == "/" and nxt == "/":
            while i + 1 < len(text) and text[i + 1] != "\n":
                i += 1
        elif c == "/" and nxt == "*":
            state, i = "block", i + 1
        elif not c.isspace():
            code = True
            if c in "\"'`":
                state = c
        i += 1
    return n + code


def main():
    total = 0
    for path in sys.argv[1:]:
        with open(path) as f:
            k = code_lines(f.read())
        total += k
        print("%6d %s" % (k, path))
    if len(sys.argv) > 2:
        print("%6d total" % total)


if __name__ == "__main__":
    main()
