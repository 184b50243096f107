# The delivery journal: the pump's counters on flash at a bounded interval and at every bolus start and end.
#
# Only the newest record matters; two small segments keep the one before it while the next is
# written. What a record holds is the app's (App.snapshot / App.restore); the journal decides
# when one is due. Writes happen in the main loop between steps, never in a step's timing path:
# the step pulses come from hardware (PIO, RMT, timers), and a flash stall of ~80 ms on rp2 or
# esp32 only delays the loop's next look at the clock, which never bursts missed steps.
import json

from pump.errors import TooLarge
from pump.record_ring import RecordRing

INTERVAL_MS = 60000   # the delivered count after a reset is behind by at most this much delivery
MAX_LINE = 1024


class Journal:
    def __init__(self, storage, interval_ms=INTERVAL_MS):
        self.ring = RecordRing(storage, "jrnl", 2, 32, MAX_LINE)
        self.interval_ms = interval_ms
        self._next_ms = None      # first record at the first chance after boot
        self.failures = 0
        self.writes = 0

    def last(self):
        """The newest record as a dict, or None (none yet, or unreadable)."""
        r = self.ring.latest()
        if r is None:
            return None
        try:
            rec = json.loads(r[1])
        except ValueError:
            return None
        return rec if isinstance(rec, dict) else None

    def has_files(self):
        """Any journal segment on flash with something in it (valid or not)."""
        return self.ring.has_data()

    def due(self, now_ms):
        return self._next_ms is None or now_ms - self._next_ms >= 0

    def write(self, now_ms, state, edge_ms=None):
        """Append a record; the next is due one interval later, or at edge_ms (a bolus starting
        or ending) if that is sooner. False when the flash refused it."""
        self._next_ms = now_ms + self.interval_ms
        if edge_ms is not None and edge_ms - self._next_ms < 0:
            self._next_ms = edge_ms
        try:
            self.ring.append(json.dumps(state))
        except (OSError, TooLarge):
            self.failures += 1
            return False
        self.writes += 1
        return True
