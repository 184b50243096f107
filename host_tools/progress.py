"""Progress of long pumpctl runs: a rich bar on a terminal, the plain message lines otherwise."""
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


class Reporter:
    """Two callbacks for a long run: say(message) and step(done, total, label).

    On a terminal, step() drives a bar and say() prints above it. Elsewhere (a pipe, a log, a
    test) say() prints "prefix: message" lines as before and step() prints nothing: the caller's
    own per-item messages are the record there, so pass step only when `live` is true.
    """

    def __init__(self, prefix, out=None, live=None):
        self.prefix = prefix
        self.out = out or sys.stdout
        self.live = self.out.isatty() if live is None else live
        self._bar = None
        self._task = None
        if self.live:
            self._bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=Console(file=self.out), transient=True)

    def __enter__(self):
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.stop()

    def say(self, message):
        if self._bar is not None:
            self._bar.console.print("%s: %s" % (self.prefix, message))
        else:
            print("%s: %s" % (self.prefix, message), file=self.out, flush=True)

    def step(self, done, total, label=None):
        if self._bar is None or (self._task is None and not total):
            return    # nothing to count: no bar
        text = "%s %s" % (self.prefix, label or "")
        if self._task is None:
            self._task = self._bar.add_task(text, total=total)
        self._bar.update(self._task, completed=done, total=total, description=text)

    @property
    def step_or_none(self):
        """step on a terminal, else None (callers then keep their per-item messages)."""
        return self.step if self.live else None
