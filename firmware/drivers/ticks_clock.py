# Real-board clock: time.ticks_ms unwrapped into a monotonic ms count; waits block on the link.
import time


class TicksClock:
    def __init__(self, spec, cfg):
        self._last = time.ticks_ms()
        self._ms = 0

    def now_ms(self):
        # ticks_ms wraps (2**30 ms on most ports); adding differences keeps the count monotonic.
        t = time.ticks_ms()
        self._ms += time.ticks_diff(t, self._last)
        self._last = t
        return self._ms

    def wait(self, timeout_ms, ready):
        return ready(timeout_ms)


DRIVER = TicksClock
