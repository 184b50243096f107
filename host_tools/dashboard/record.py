"""--record FILE: the dashboard's polls as JSON lines that pumpctl report reads (docs/dashboard.md)."""
import json
import time


class Recorder:
    """A header line, then one line per poll: {"status", "host_ms", "scale_ul"?, "programmed_ul"?,
    "events"?}. scale_ul counts from the first line (the outlet since recording began)."""

    def __init__(self, path, clock=time.time):
        self.f = open(path, "w")
        self.clock = clock
        self._header = False
        self._scale0 = None

    def write(self, snap, model):
        if snap.get("status") is None:
            return      # the link is down: nothing was read
        if not self._header:
            self._put({"recording": 1, "hello": snap.get("hello"), "program": model.program_doc,
                       "board": (snap.get("hello") or {}).get("board")})
            self._header = True
        line = {"status": snap["status"], "host_ms": int(self.clock() * 1000)}
        raw = snap.get("scale_raw_ul")
        if raw is not None:
            if self._scale0 is None:
                self._scale0 = raw
            line["scale_ul"] = raw - self._scale0
        if snap.get("programmed_ul") is not None:
            line["programmed_ul"] = snap["programmed_ul"]
        if snap.get("events"):
            line["events"] = snap["events"]
        self._put(line)

    def _put(self, obj):
        self.f.write(json.dumps(obj, sort_keys=True) + "\n")
        self.f.flush()

    def close(self):
        self.f.close()
