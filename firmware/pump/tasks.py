# Per-task check-ins for the watchdog: it is fed only while every task has made progress recently.
#
# The loop is cooperative, so a "hung" task is one that stops getting its work done (a link
# that never returns, a sensor read that blocks) while the loop itself may still spin. Feeding
# the hardware watchdog from the loop alone would hide that; feeding it only when every task
# has checked in within its own bound does not.


class TaskMonitor:
    def __init__(self):
        self._max_age = {}   # name -> ms a task may go without checking in
        self._last = {}      # name -> board ms of its last check-in

    def add(self, name, max_age_ms, now_ms):
        self._max_age[name] = max_age_ms
        self._last[name] = now_ms

    def check_in(self, name, now_ms):
        self._last[name] = now_ms

    def all_on_time(self, now_ms):
        """True while every task is within its bound (allocates nothing: it runs every pass)."""
        for name in self._max_age:
            if now_ms - self._last[name] > self._max_age[name]:
                return False
        return True

    def stale(self, now_ms):
        """Names of the tasks overdue now, sorted; empty when all is well."""
        out = []
        for name in self._max_age:
            if now_ms - self._last[name] > self._max_age[name]:
                out.append(name)
        out.sort()
        return out

    def state(self, now_ms):
        return dict([(name, now_ms - self._last[name]) for name in self._max_age])
