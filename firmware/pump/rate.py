# Exact conversion of a continuous rate to whole motor steps: integer arithmetic, so nothing drifts.
#
# Floats are single precision on most boards (24-bit mantissa): summing fractional steps in
# floats loses whole steps within hours. Here volume is counted in nL*ms/h, an integer unit in
# which one step is exactly pl_per_step * 3600, and the remainder below one step is carried.

_MS_PER_H = 3600000


def ul_h_to_nl_h(rate_ul_h):
    # Requests carry 0.001 uL/h resolution; rounding to it absorbs float32 representation noise.
    return int(round(rate_ul_h * 1000))


def ul_to_pl(volume_ul):
    return int(round(volume_ul * 1000000))


class StepAccumulator:
    """Steps due for a rate that may change at any time; the fraction of a step is never lost."""

    def __init__(self, pl_per_step):
        if pl_per_step <= 0:
            raise ValueError("pl_per_step must be > 0")
        self.step_units = pl_per_step * 3600  # one step in nL*ms/h
        self.rate_nl_h = 0
        self._t0 = 0
        self._carry = 0      # volume owed at t0 that has not yet made a whole step, nL*ms/h
        self._done = 0       # steps taken since t0

    def _units(self, now_ms):
        return self._carry + self.rate_nl_h * (now_ms - self._t0)

    def restart(self, now_ms, rate_nl_h):
        """Change the rate at now_ms, keeping what is owed below one step."""
        if now_ms >= self._t0:
            owed = self._units(now_ms) - self._done * self.step_units
            self._carry = owed if owed > 0 else 0
        self._t0 = now_ms
        self._done = 0
        self.rate_nl_h = rate_nl_h

    def drop_backlog(self):
        """Forget whole steps owed but not taken, keeping the fraction of a step (used on stop)."""
        self._carry %= self.step_units

    def due(self, now_ms):
        """Whole steps due now and not yet taken."""
        if self.rate_nl_h == 0 or now_ms < self._t0:
            return 0
        return self._units(now_ms) // self.step_units - self._done

    def taken(self, n):
        self._done += n

    def next_due_ms(self):
        """The earliest time at which one more step is due, or None at rate zero."""
        if self.rate_nl_h == 0:
            return None
        need = (self._done + 1) * self.step_units - self._carry
        if need <= 0:
            return self._t0
        return self._t0 + (need + self.rate_nl_h - 1) // self.rate_nl_h
