# Motor stall check: the steps commanded to the motor against the steps an encoder saw the rotor make.
#
# Why an encoder: StallGuard-type detection (the driver sensing back-EMF) needs the motor turning
# fast. At infusion rates (a step every 0.7 s to every 15 min) there is no back-EMF to measure, so
# it cannot tell a stalled rotor from a turning one. Only a sensor on the shaft (or the line's
# pressure, for an occlusion) can. Pure logic: the caller reads the encoder and hands in `now`,
# the steps commanded and the encoder's count, both cumulative ints.
#
# The rule, a one-sided CUSUM: at each check the shortfall since the last check (steps commanded
# minus steps the encoder saw) is added to a running deficit, less an allowance of
# `stall_fraction` of the steps commanded in between; the deficit never goes below 0. Past
# `stall_steps` the motor has stalled.
# - A running deficit, not each check on its own: a drive losing 30 % of its steps loses about
#   2 steps in an 8-step check, never past the tolerance, yet its deficit grows by 0.25 a step.
# - Quantisation never adds up: an encoder's error is in each reading, not in each step, so the
#   shortfalls of consecutive checks telescope. A coarse encoder (a count every 3.2 microsteps)
#   keeps the deficit under two counts' worth: set stall_steps above that.
# - The allowance covers an encoder whose scale is off by less than the fraction, and steps still
#   in flight when the encoder is read. A slip smaller than the fraction goes unseen here: the
#   refill reconciliation (14.5 %) is the net under it.
# - How often: a check when check_steps have been commanded since the last, or check_ms after it
#   if any step was. A full stall is caught within about stall_steps + check_steps commanded steps; no
#   read is spent while nothing is commanded.
# Integer arithmetic in thousandths of a step, so a month of steps loses nothing to float rounding
# (rp2 floats are 32-bit).

DEFAULTS = {
    "stall_steps": 4,        # the deficit, in steps, that is a stall
    "stall_fraction": 0.05,  # of the steps commanded: encoder scale error, steps in flight
    "check_steps": 8,        # read the encoder after this many steps commanded...
    "check_ms": 5000,        # ...or this long after the last check, whichever comes first
}


class StallCheck:
    def __init__(self, stall_steps=4, stall_fraction=0.05, check_steps=8, check_ms=5000):
        self.limit = int(stall_steps * 1000)
        self.allow = int(round(stall_fraction * 1000))   # thousandths per step commanded
        self.stall_steps = stall_steps
        self.stall_fraction = stall_fraction
        self.check_steps = check_steps
        self.check_ms = check_ms
        self.rebaseline(0, 0, 0)

    def rebaseline(self, now, commanded, encoder):
        """Judge afresh from here (boot, an acknowledged stall): the deficit starts at 0."""
        self.c0 = self.commanded = commanded
        self.e0 = self.encoder = encoder
        self.deficit = 0           # thousandths of a step
        self.last_ms = now

    def due(self, now, commanded):
        """Whether the encoder should be read now."""
        n = commanded - self.commanded
        if n <= 0:
            return False
        return n >= self.check_steps or now - self.last_ms >= self.check_ms

    def check(self, now, commanded, encoder):
        """Judge the steps since the last check: None if the motor kept up, else a dict with
        commanded and seen (since the baseline), behind (steps past the allowance) and limit."""
        n = commanded - self.commanded
        seen = encoder - self.encoder
        d = self.deficit + (n - seen) * 1000 - n * self.allow
        self.deficit = d if d > 0 else 0
        self.commanded = commanded
        self.encoder = encoder
        self.last_ms = now
        if self.deficit <= self.limit:
            return None
        return self.state()

    def state(self):
        return {"commanded": self.commanded - self.c0, "seen": self.encoder - self.e0,
                "behind": self.deficit / 1000, "limit": self.stall_steps}


def from_spec(spec):
    """A StallCheck set from the encoder role's spec in board.json (defaults where absent)."""
    return StallCheck(spec.get("stall_steps", DEFAULTS["stall_steps"]),
                      spec.get("stall_fraction", DEFAULTS["stall_fraction"]),
                      spec.get("check_steps", DEFAULTS["check_steps"]),
                      spec.get("check_ms", DEFAULTS["check_ms"]))
