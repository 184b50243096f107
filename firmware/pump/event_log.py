# The event log on flash: time-stamped records of actions, program changes, boluses, alarms, resets, refills.
#
# A bounded ring (record_ring.py), so it never fills the flash and survives any power cut: a cut
# can only tear the record being written, which the reader skips. Every record carries the boot
# it belongs to and the board's ms since that boot ("up"), and the wall time when the pump knew
# it ("t", ms since 1970 in the host's local time, or null).
import json

from pump.errors import TooLarge
from pump.record_ring import RecordRing

SEGMENTS = 4
PER_SEGMENT = 128     # at most 512 records, and at least 384 once the ring has wrapped
MAX_LINE = 320        # one record, framed


class EventLog:
    def __init__(self, storage):
        self.ring = RecordRing(storage, "log", SEGMENTS, PER_SEGMENT, MAX_LINE)
        last = self.ring.latest()
        prev = _parse(last[1]) if last is not None else None
        # boots are counted in the log itself: the first record of a boot carries its number
        self.boot = (prev.get("boot", 0) if prev is not None else 0) + 1
        self.failures = 0    # appends the flash refused (the pump goes on: it logs, it does not stop)

    def add(self, kind, up_ms, wall_ms, data=None):
        """Append one record; returns its seq, or None when the flash refused it."""
        rec = {"k": kind, "boot": self.boot, "up": up_ms, "t": wall_ms}
        if data:
            rec.update(data)
        try:
            return self.ring.append(json.dumps(rec))
        except TooLarge:
            # a detail too long to fit: keep the record, lose the detail
            rec = {"k": kind, "boot": self.boot, "up": up_ms, "t": wall_ms, "truncated": True}
        except OSError:
            self.failures += 1
            return None
        try:
            return self.ring.append(json.dumps(rec))
        except (OSError, TooLarge):
            self.failures += 1
            return None

    def read(self, since_seq=0, limit=20):
        """Up to `limit` records newer than since_seq, oldest first, each a dict with its "seq"."""
        out = []
        for seq, payload in self.ring.records(since_seq):
            rec = _parse(payload)
            if rec is None:
                continue
            rec["seq"] = seq
            out.append(rec)
            if len(out) >= limit:
                break
        return out

    def last_seq(self):
        last = self.ring.latest()
        return last[0] if last is not None else 0


def _parse(payload):
    try:
        rec = json.loads(payload)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None
