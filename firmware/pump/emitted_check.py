# Compares the steps the motor driver's hardware emitted with the steps the app commanded.
#
# The count comes from the driver's own pulse generator (PIO, RMT, timer), never from what
# step() was asked, so a pulse generator that runs on, or stops, is seen even though every
# command passed the over-delivery guard.

CHECK_MS = 250       # how often the count is read (a FIFO drain on rp2: cheap, but not free)
LAG_S = 2            # commanded steps may trail the pins by what the motor makes in this long...
LAG_MIN_STEPS = 16   # ...or this many, whichever is more (a loop pass can queue a few at once)


class EmittedCheck:
    """excess(): steps out beyond those commanded (over-delivery the guard cannot see).
    lag: commanded steps that have not come out while the motor is enabled.

    Both are counted from the last enable: a disable drops the driver's queued steps, which are
    then never emitted, so the lag restarts there. The excess does not: dropped steps only make
    the pins' count smaller."""

    def __init__(self, max_steps_per_s, slack=0):
        # slack: steps a driver may run past its commands by design (a DC motor coasts past its
        # target, and takes it off the next steps); a stepper's is 0
        self.slack = slack
        self.max_lag = int(max_steps_per_s * LAG_S)
        if self.max_lag < LAG_MIN_STEPS:
            self.max_lag = LAG_MIN_STEPS
        self.base_out = 0
        self.base_cmd = 0
        self.next_ms = 0

    def rebase(self, emitted, commanded):
        """From here on, count against these (at an enable, or after an excess was reported)."""
        self.base_out = emitted
        self.base_cmd = commanded

    def due(self, now_ms):
        if now_ms < self.next_ms:
            return False
        self.next_ms = now_ms + CHECK_MS
        return True

    def judge(self, emitted, commanded, enabled):
        """None, or (kind, out, cmd): "excess" or "lag", with the counts since the base."""
        out = emitted - self.base_out
        cmd = commanded - self.base_cmd
        if out > cmd + self.slack:
            return ("excess", out, cmd)
        if enabled and cmd - out > self.max_lag:
            return ("lag", out, cmd)
        return None
