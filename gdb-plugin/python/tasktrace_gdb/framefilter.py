"""A frame filter for plain `bt` on a worker thread: hides the executor's
frames and names the task the worker is polling."""

import gdb
from gdb.FrameDecorator import FrameDecorator

from . import commands as C
from . import registry as R


class TaskFrame(FrameDecorator):
    def __init__(self, base, label):
        super().__init__(base)
        self.label = label

    def function(self):
        name = super().function()
        return "%s %s" % (name, self.label) if isinstance(name, str) else name


class PruneFilter:
    def __init__(self):
        self.name = "tasktrace-prune"
        self.priority = 100
        self.enabled = True
        gdb.frame_filters[self.name] = self

    def filter(self, frames):
        if not gdb.parameter("tasks prune"):
            return frames
        th = gdb.selected_thread()
        try:
            snap = R.snapshot()
        except (R.Corrupt, gdb.error):
            return frames
        w = snap.worker_for_tid(th.ptid[1]) if th else None
        if w is None:
            return frames
        task = snap.find(w.task_id) if w.state == R.WORKER_POLLING else None
        label = '[task %u "%s"]' % (task.id, task.name) if task else None
        return self._prune(frames, C.prune_regex(), label)

    @staticmethod
    def _prune(frames, regex, label):
        kept = []
        for fd in frames:
            name = fd.function()
            if not (isinstance(name, str) and regex.search(name)):
                kept.append(fd)
        if label and kept:
            # The outermost frame left is where the task's own code starts.
            kept[-1] = TaskFrame(kept[-1], label)
        return iter(kept)
