"""--record FILE: the dashboard's polls as JSON lines that pumpctl report reads (docs/dashboard.md)."""
import time

from host_tools import recording


class Recorder:
    """A header line, then one line per poll (host_tools/recording.py)."""

    def __init__(self, path, clock=time.time):
        self.f = open(path, "w")
        self.samples = recording.Samples(clock)
        self._header = False

    def write(self, snap, model):
        if snap.get("status") is None:
            return      # the link is down: nothing was read
        if not self._header:
            self._put(recording.header(snap.get("hello"), model.program_doc))
            self._header = True
        self._put(self.samples.line(snap["status"], snap.get("scale_raw_ul"), snap.get("programmed_ul"),
                                    snap.get("events")))

    def _put(self, obj):
        self.f.write(recording.dumps(obj))
        self.f.flush()

    def close(self):
        self.f.close()
