"""The status recording pumpctl report reads: a header line, then one line per sample (docs/report.md)."""
import json
import time


def header(hello, program_doc):
    """The first line: the pump (its hello reply) and program document the samples are of."""
    return {"recording": 1, "hello": hello, "program": program_doc, "board": (hello or {}).get("board")}


def dumps(obj):
    return json.dumps(obj, sort_keys=True) + "\n"


class Samples:
    """Sample lines {"status", "host_ms", "scale_ul"?, "programmed_ul"?, "events"?}: scale_ul counts
    from the first scale reading (what reached the outlet since the recording began)."""

    def __init__(self, clock=time.time):
        self.clock = clock
        self._scale0 = None

    def line(self, status, scale_raw_ul=None, programmed_ul=None, events=None):
        out = {"status": status, "host_ms": int(self.clock() * 1000)}
        if scale_raw_ul is not None:
            if self._scale0 is None:
                self._scale0 = scale_raw_ul
            out["scale_ul"] = scale_raw_ul - self._scale0
        if programmed_ul is not None:
            out["programmed_ul"] = programmed_ul
        if events:
            out["events"] = events
        return out
