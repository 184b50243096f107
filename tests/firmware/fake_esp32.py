# Fake esp32 module for the RMT stepper tests: an RMT channel that records each write and finishes it on the trace's clock.
import sys

import fake_machine

SOURCE_HZ = 80000000


class RMT:
    PULSE_MAX = 32767

    def __init__(self, channel, pin=None, clock_div=8, idle_level=False, trace=None):
        self.channel = channel
        self.pin = pin
        self.clock_div = clock_div
        self.trace = trace if trace is not None else fake_machine.default_trace
        self.writes = []        # (start in ns on the trace's clock, durations)
        self.end_ns = 0
        self.stopped_ns = None  # when active(False) or deinit() cut the channel
        self.deinited = False
        self.trace.log(self.name(), "init", clock_div)
        created.append(self)

    def name(self):
        return "rmt%d" % self.channel

    def tick_ns(self):
        return self.clock_div * 1000000000 / SOURCE_HZ

    def _now_ns(self):
        return self.trace.t_us * 1000

    def write_pulses(self, duration, data=True):
        if self.deinited:
            raise OSError("RMT deinitialised")
        if not self.wait_done():
            raise AssertionError("write_pulses while a write is in flight would block the loop")
        for d in duration:
            if not 1 <= d <= self.PULSE_MAX:
                raise ValueError("duration %r out of range" % (d,))
        if data is not True and data != 1:
            raise AssertionError("a step write must start high")
        start = self._now_ns()
        self.writes.append((start, duration))
        self.end_ns = start + sum(duration) * self.tick_ns()
        self.trace.log(self.name(), "write", len(duration) // 2)

    def wait_done(self, timeout=0):
        if self.stopped_ns is not None:
            return True
        return self._now_ns() >= self.end_ns

    def active(self, value=None):
        if value is None:
            return not self.wait_done()
        if not value:
            self._cut()
            self.trace.log(self.name(), "stop")
        return False

    def deinit(self):
        self._cut()
        self.deinited = True
        self.trace.log(self.name(), "deinit")

    def _cut(self):
        if self.stopped_ns is None:
            self.stopped_ns = self._now_ns()

    def pulse_starts(self):
        """Start times (ns, on the trace's clock) of every pulse that has begun on the pin by
        now; a pulse due at or after a cut never begins."""
        now = self._now_ns()
        out = []
        for start, d in self.writes:
            t = start
            for i in range(0, len(d) - 1, 2):
                if t > now or (self.stopped_ns is not None and t >= self.stopped_ns):
                    break
                out.append(t)
                t += (d[i] + d[i + 1]) * self.tick_ns()
        return out


created = []    # every RMT made, oldest first (the driver makes one per enable)


def all_pulse_starts():
    out = []
    for r in created:
        out.extend(r.pulse_starts())
    return out


def install():
    del created[:]
    sys.modules["esp32"] = sys.modules[__name__]


def uninstall():
    if sys.modules.get("esp32") is sys.modules[__name__]:
        del sys.modules["esp32"]
