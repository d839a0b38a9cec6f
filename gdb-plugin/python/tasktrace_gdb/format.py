"""The words: the same as the tasktrace CLI's (core-runtime/src/wording/format.c)."""

from . import registry as R

US, MS, SEC = 1000, 1000000, 1000000000
MIN, HOUR = 60 * SEC, 3600 * SEC


def duration(ns):
    """850ms, 12.3s, 3m12s, 2h5m (420us, 75ns below a millisecond)."""
    if ns < US:
        return "%dns" % ns
    if ns < MS:
        return "%dus" % (ns // US)
    if ns < SEC:
        return "%dms" % (ns // MS)
    if ns < MIN:
        return "%d.%ds" % (ns // SEC, ns % SEC // (SEC // 10))
    if ns < HOUR:
        return "%dm%ds" % (ns // MIN, ns % MIN // SEC)
    return "%dh%dm" % (ns // HOUR, ns % HOUR // MIN)


def _age(since, now):
    return since != 0 and since <= now


def has_wait(f):
    return f is not None and f.func.kind == R.K_LEAF and f.wait_kind != R.W_NONE


def wait_phrase(f, now, sep=""):
    """"channel recv 3m12s", "timer 59m58s left" (sep "," in bt headers)."""
    return wait_text(f.wait_kind, f.wait_since, f.wait_detail, now, sep)


def wait_text(kind, since, detail, now, sep=""):
    """wait_phrase from a leaf's wait kind, since_ns and detail."""
    s = R.WAIT_KINDS[kind] if 0 <= kind < len(R.WAIT_KINDS) else "?"
    if kind == R.W_TIMER and detail:
        if detail >= now:
            return "%s%s %s left" % (s, sep, duration(detail - now))
        return "%s%s overdue %s" % (s, sep, duration(now - detail))
    if since != 0 and since <= now:
        return "%s%s %s" % (s, sep, duration(now - since))
    return s


def state(t):
    s = R.state_name(t.state)
    if t.flags & R.TASKF_CANCEL:
        s += " cancelling"
    if t.flags & R.TASKF_SYSTEM:
        s += " system"
    return s


def wait_short(t, now):
    leaf = t.leaf()
    if t.state == R.SCHEDULED and _age(t.wake_ns, now):
        return "runnable " + duration(now - t.wake_ns)
    if t.state == R.IDLE and has_wait(leaf):
        return wait_phrase(leaf, now)
    return "-"


def running_on(t, snap, sep=" (tid "):
    s = "running on worker %s" % (t.worker if t.worker >= 0 else "?")
    tid = snap.worker_tid(t.worker)
    if tid:
        s += sep + str(tid) + (")" if sep.startswith(" (") else "")
    return s


def where(t, snap):
    if t.state == R.RUNNING:
        s = running_on(t, snap)
    else:
        f = t.where()
        s = at(f.func, f.site) if f else ""
    if t.error:
        s = (s + " " if s else "") + "(error: %s)" % t.error
    return s


def at(func, site):
    """`await_reply at samples/hung.c:34`"""
    return "%s at %s:%u" % (func.name, site.file, site.line)


def owner_ref(owner, name):
    return "task %u" % owner + (' "%s"' % name if name else "")


def leaf_wait(f, owner_name, now):
    """What a leaf waits on: `waits on notify 0x55d0c0a0 [for 3m12s]`."""
    k = f.wait_kind
    if k == R.W_NONE:
        return "not waiting"
    if k == R.W_TIMER:
        s = "timer"
        if f.wait_detail >= now and f.wait_detail:
            s += ", deadline in " + duration(f.wait_detail - now)
        elif f.wait_detail:
            s += ", deadline passed %s ago" % duration(now - f.wait_detail)
    elif k in (R.W_FD_READ, R.W_FD_WRITE):
        s = "waits on fd %u %s" % (f.wait_detail, "readable" if k == R.W_FD_READ else "writable")
    elif k == R.W_JOIN:
        s = "waits on join of " + (owner_ref(f.wait_owner, owner_name) if f.wait_owner
                                   else "%#x" % f.wait_object)
    else:
        s = "waits on " + R.wait_kind_name(k)
        if k != R.W_BLOCKING:
            s += " %#x" % f.wait_object
            if f.wait_owner:
                s += (" held by " if k == R.W_MUTEX else " owned by ") + \
                    owner_ref(f.wait_owner, owner_name)
    if _age(f.wait_since, now):
        s += " [for %s]" % duration(now - f.wait_since)
    return s


def bt_header(t, snap):
    now = snap.now_ns
    leaf = t.leaf()
    if t.state == R.RUNNING:
        s = running_on(t, snap, ", tid ")
    elif t.state == R.IDLE and has_wait(leaf):
        s = wait_phrase(leaf, now, ",")
    else:
        s = state(t)
        if t.state == R.SCHEDULED and _age(t.wake_ns, now):
            s += ", woken %s ago" % duration(now - t.wake_ns)
    return 'task %u "%s" [%s]:' % (t.id, t.name, s)


def bt_frame(num, indent, f, snap):
    """`#1  await_reply () at samples/hung.c:28` or a leaf's wait."""
    s = " " * indent + ("#%-3d" % num if num >= 0 else "") + f.func.name
    if f.func.kind == R.K_LEAF:
        return s + "  " + leaf_wait(f, snap.name_of(f.wait_owner), snap.now_ns)
    if f.site is not None:
        return s + " () at %s:%u" % (f.site.file, f.site.line)
    return s + " () (not suspended at an await)"


def ancestor(parent_id, parent_name, site):
    """`spawned by task 1 "block_on" at samples/hung.c:141 (server_main_poll)`"""
    s = "spawned by task %u" % parent_id + (' "%s"' % parent_name if parent_name else " (gone)")
    if site is not None:
        s += " at %s:%u (%s)" % (site.file, site.line, site.function)
    return s


def bt_frames(t):
    """(indent, frame) in print order: the awaited path innermost first; a
    combinator's other branches follow it, indented, each innermost first.
    The position in this list is the frame number `task frame N` takes."""
    out = []

    def branch(start, indent):
        path = t.path(start)
        for f in reversed(path):
            out.append((indent, f))
            if f.func.kind == R.K_COMBINATOR or len(f.children) > 1:
                for c in f.children[1:]:
                    branch(c, indent + 4)

    if t.frames:
        branch(0, 0)
    return out
