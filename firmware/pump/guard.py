# The over-delivery guard: counts the steps commanded to the motor, trips past the program's own maximum.
#
# Why it is separate: the planner and the controller decide how many steps are due; a bug there
# (a wrong window, a unit slip, a loop that re-takes the same steps) would deliver too much and
# nothing downstream of them would notice. This guard shares no code with them. It never calls
# the planner: its limits come from its own arithmetic on the compiled Program's fields, and its
# counts come from the steps actually handed to the motor driver (GuardedMotor wraps the driver,
# reads the board clock itself and asks the guard BEFORE commanding). It uses no assert.
#
# Windows: the last minute, hour and day, each counted in a ring of buckets (1 s, 1 min, 1 h)
# of fixed size, so memory is bounded and allow() allocates nothing. The count of a window is
# the sum of its N whole buckets before the current one plus the current, partial, bucket: it
# covers between W and W + one bucket of the past, never less than W. So the guard may trip up
# to one bucket early, never late; the limits are therefore worked out for W + one bucket
# (plus the lateness allowance below), so that a correct program never trips.
#
# The limit rule, for a window counted over S = W + bucket + late_ms (all integer arithmetic,
# volumes in nL/day x ms as units.py counts them, rounded UP to whole steps):
#   basal     the highest rate of the program (every day's steps and the temp rate) x S: no
#             correct schedule delivers more basal than its top rate all the time;
#   catheter  the priming or bridge volume, once: it runs once per program start (a program
#             applied again is a new start: the app calls set_program, see the carry below);
#   periodic  ceil((S + duration) / interval) volumes: starts are interval apart, and a bolus
#             that started up to `duration` before the window still delivers inside it;
#   demand    min(ceil((S + duration) / lockout), ceil((S + duration) / 24 h) x max_per_24h)
#             volumes: starts are at least lockout apart and at most max_per_24h in any 24 h;
#   clinician nothing in the static limit: clinician boluses have no count limit, so a fixed
#             allowance would either trip on a second correct bolus or, as bolus cap x S, make
#             the limit the board's cap and miss a runaway at twice the program's rate. Each
#             accepted clinician bolus is granted explicitly with grant(): its volume adds to
#             every window that can contain it, until the window has rolled past its end;
#   bolus cap the bolus terms together are bounded by bolus_cap_nl_day x S, because the compiler
#             stretches every bolus to fit that cap and only one bolus runs at a time;
#   board cap the whole is bounded by cap_nl_day x S: no correct delivery is faster;
#   late_ms   the control loop may run late and then catch up in a burst (flash writes, a long
#             command): steps owed up to late_ms before the window are taken inside it. Pass
#             the watchdog timeout: the loop cannot be later than that without a reset;
#   margin    MARGIN_STEPS: floor(I(b)/step) - floor(I(a)/step) can exceed the volume over
#             (a, b] by one step; one more keeps equality at the limit off the knife edge.
# Each term can only over-estimate, so the guard never trips on correct delivery; a planner
# stepping at the motor's maximum fills the minute window in seconds, and a runaway at twice the
# program's top rate fills the hour window in about half an hour (the minute window first unless
# a bolus allowance covers it).
#
# A change of limits (set_program, set_manual_rate, set_limits_steps) must not trip on what the
# old limits allowed: each window carries the count it held at the change as an extra allowance
# until it has rolled past the change. A breach latches: allow() refuses everything until
# reset(), and reset() keeps the counts, so an over-delivery still counts against its windows.
from pump.units import MS_PER_DAY, UNITS_PER_NL, UNITS_PER_PL

MINUTE = "minute"
HOUR = "hour"
DAY = "day"
WINDOWS = (MINUTE, HOUR, DAY)
WINDOW_MS = (60000, 3600000, MS_PER_DAY)
BUCKET_MS = (1000, 60000, 3600000)
LATE_MS = 5000             # default lateness allowance: the sim board's watchdog timeout
MARGIN_STEPS = 2
MAX_GRANTS = 4             # clinician grants held apart; more are merged (never refused)
_MS_PER_H = 3600000


def _ceil_div(a, b):
    return -(-a // b)


def span_ms(i, late_ms=LATE_MS):
    """The span window i's limit is worked out for: W, one bucket and the lateness allowance."""
    return WINDOW_MS[i] + BUCKET_MS[i] + late_ms


def top_rate_nl_day(program):
    """The program's highest basal rate: every day's steps and the temp rate."""
    top = 0
    for day in program.days:
        for r in day.rates_nl_day:
            if r > top:
                top = r
    if program.temp is not None and program.temp.rate_nl_day > top:
        top = program.temp.rate_nl_day
    return top


def program_units(program, span):
    """The most volume (nL/day x ms) a correct delivery of program gives in any span ms,
    clinician boluses apart. See the limit rule at the top of this file."""
    bolus_nl = 0
    cat = program.catheter
    if cat is not None:
        bolus_nl += cat.volume_nl
    per = program.periodic
    if per is not None:
        bolus_nl += _ceil_div(span + per.duration_ms, per.interval_ms) * per.volume_nl
    dem = program.demand
    if dem is not None:
        n = _ceil_div(span + dem.duration_ms, dem.lockout_ms)
        m = _ceil_div(span + dem.duration_ms, MS_PER_DAY) * dem.max_per_24h
        bolus_nl += (n if n < m else m) * dem.volume_nl
    bolus = bolus_nl * UNITS_PER_NL
    # 0 means "not stated" (a hand-built program): the bound is then left out, never guessed
    if program.bolus_cap_nl_day > 0 and program.bolus_cap_nl_day * span < bolus:
        bolus = program.bolus_cap_nl_day * span
    total = top_rate_nl_day(program) * span + bolus
    if program.cap_nl_day > 0 and program.cap_nl_day * span < total:
        total = program.cap_nl_day * span
    return total


def _steps(units, pl_per_step):
    return _ceil_div(units, pl_per_step * UNITS_PER_PL) + MARGIN_STEPS


def limits_for_program(program, pl_per_step, late_ms=LATE_MS):
    """[minute, hour, day] step limits for a program."""
    return [_steps(program_units(program, span_ms(i, late_ms)), pl_per_step) for i in range(3)]


def limits_for_rate(rate_nl_h, pl_per_step, cap_nl_day=0, late_ms=LATE_MS):
    """[minute, hour, day] step limits for a manual rate (nL/h), bounded by the board's cap
    (nL/day, 0 for none)."""
    rate = rate_nl_h * 24
    if cap_nl_day > 0 and rate > cap_nl_day:
        rate = cap_nl_day
    return [_steps(rate * span_ms(i, late_ms), pl_per_step) for i in range(3)]


class _Window:
    def __init__(self, i, late_ms):
        self.name = WINDOWS[i]
        self.bucket_ms = BUCKET_MS[i]
        self.n = WINDOW_MS[i] // BUCKET_MS[i] + 1     # the whole buckets and the current one
        self.span = span_ms(i, late_ms)
        self.ring = [0] * self.n
        self.head = 0            # the bucket number (now_ms // bucket_ms) of the current bucket
        self.total = 0           # the sum of ring
        self.limit = 0
        self.carry = 0           # the count held at the last change of limits...
        self.carry_until = 0     # ...allowed on top of limit until this board ms

    def advance(self, now_ms):
        b = now_ms // self.bucket_ms
        gap = b - self.head
        if gap <= 0:
            return
        ring = self.ring
        n = self.n
        if gap >= n:
            i = 0
            while i < n:
                ring[i] = 0
                i += 1
            self.total = 0
        else:
            k = self.head + 1
            while k <= b:
                s = k % n
                self.total -= ring[s]
                ring[s] = 0
                k += 1
        self.head = b


class RunawayGuard:
    """Counts commanded steps; allow() says whether n more fit in every window.

    Until set_program, set_manual_rate or set_limits_steps is called every limit is 0: a guard
    that has not been told what to allow refuses every step."""

    def __init__(self, pl_per_step, cap_nl_day=0, late_ms=LATE_MS):
        if pl_per_step <= 0:
            raise ValueError("pl_per_step must be > 0")
        self.pl_per_step = pl_per_step
        self.cap_nl_day = cap_nl_day
        self.late_ms = late_ms
        self.windows = (_Window(0, late_ms), _Window(1, late_ms), _Window(2, late_ms))
        self.mode = None            # "program", "rate" or "steps": what set the limits
        self.breach = None          # dict once tripped: window, counted, limit, n, ms
        self._last = 0              # the latest board ms seen
        self._g_end = [0] * MAX_GRANTS       # clinician grants: board ms the bolus ends...
        self._g_steps = [0] * MAX_GRANTS     # ...and its steps (0: a free slot)

    # ---- limits -----------------------------------------------------------------------------

    def set_limits_steps(self, minute, hour, day, now_ms=None):
        """Set the three limits in steps. What the windows hold now stays allowed on top until
        each window has rolled past this moment, so a change never trips on the old delivery."""
        now = self._now(now_ms)
        lim = (minute, hour, day)
        for i in range(3):
            w = self.windows[i]
            w.advance(now)
            w.carry = w.total
            w.carry_until = now + w.span
            w.limit = lim[i]
        self.mode = "steps"

    def set_program(self, program, now_ms=None):
        """Limits for a program: call it every time the controller begins delivering one."""
        lim = limits_for_program(program, self.pl_per_step, self.late_ms)
        self.set_limits_steps(lim[0], lim[1], lim[2], now_ms)
        self.mode = "program"
        return lim

    def set_manual_rate(self, rate_nl_h, now_ms=None):
        """Limits for a manual rate in nL/h (bounded by the board cap given at construction)."""
        lim = limits_for_rate(rate_nl_h, self.pl_per_step, self.cap_nl_day, self.late_ms)
        self.set_limits_steps(lim[0], lim[1], lim[2], now_ms)
        self.mode = "rate"
        return lim

    def grant(self, now_ms, volume_nl, duration_ms):
        """Allow a clinician bolus the app has accepted: volume_nl over duration_ms from now.
        Call it when the planner accepts the bolus, before its steps. With every slot in use
        the grant merges into the one ending last (allowed longer: never less)."""
        now = self._now(now_ms)
        steps = _ceil_div(volume_nl * 1000, self.pl_per_step)
        end = now + duration_ms
        self._expire_grants(now)
        best = 0
        for i in range(MAX_GRANTS):
            if self._g_steps[i] == 0:
                self._g_end[i] = end
                self._g_steps[i] = steps
                return steps
            if self._g_end[i] > self._g_end[best]:
                best = i
        self._g_steps[best] += steps
        if end > self._g_end[best]:
            self._g_end[best] = end
        return steps

    # ---- per step: allocates nothing --------------------------------------------------------

    def allow(self, now_ms, n):
        """Count n steps about to be commanded at now_ms; False (and breach set) if they would
        break a window's limit, or if the guard has tripped before. n < 0 is a breach too: a
        pump never runs backwards."""
        if self.breach is not None:
            return False
        if now_ms < self._last:
            now_ms = self._last      # a clock that went back counts in the newest bucket
        self._last = now_ms
        if n <= 0:
            if n < 0:
                self._trip(None, now_ms, n, 0)
                return False
            return True
        ws = self.windows
        i = 0
        while i < 3:
            w = ws[i]
            w.advance(now_ms)
            limit = self._limit(w, now_ms)
            if w.total + n > limit:
                self._trip(w, now_ms, n, limit)
                return False
            i += 1
        i = 0
        while i < 3:
            w = ws[i]
            w.ring[w.head % w.n] += n
            w.total += n
            i += 1
        return True

    def _limit(self, w, now_ms):
        limit = w.limit
        if now_ms < w.carry_until:
            limit += w.carry
        span = w.span
        g_end = self._g_end
        g_steps = self._g_steps
        i = 0
        while i < MAX_GRANTS:
            if g_steps[i] and now_ms < g_end[i] + span:
                limit += g_steps[i]
            i += 1
        return limit

    # ---- the rest ---------------------------------------------------------------------------

    def tripped(self):
        return self.breach is not None

    def reset(self, now_ms):
        """Clear a breach (after the over_delivery alarm is dealt with). The counts stay: what
        was delivered still counts against its windows until they roll past it."""
        self._now(now_ms)
        self.breach = None

    def state(self, now_ms=None):
        """Counts and limits per window (carry and grants included in limit), the breach."""
        now = self._now(now_ms)
        counts = {}
        limits = {}
        for w in self.windows:
            w.advance(now)
            counts[w.name] = w.total
            limits[w.name] = self._limit(w, now)
        return {"mode": self.mode, "counts": counts, "limits": limits, "breach": self.breach}

    def _now(self, now_ms):
        if now_ms is not None and now_ms > self._last:
            self._last = now_ms
        return self._last

    def _expire_grants(self, now_ms):
        longest = self.windows[2].span
        for i in range(MAX_GRANTS):
            if self._g_steps[i] and now_ms >= self._g_end[i] + longest:
                self._g_steps[i] = 0

    def _trip(self, w, now_ms, n, limit):
        # allocation is fine here: it happens once, and the motor is not stepped
        if w is None:
            self.breach = {"window": "reverse", "counted": n, "limit": 0, "n": n, "ms": now_ms}
        else:
            self.breach = {"window": w.name, "counted": w.total + n, "limit": limit, "n": n,
                           "ms": now_ms}


class GuardedMotor:
    """The motor driver as the app sees it: every step() is counted and checked first.

    The app commands the motor only through this wrapper. A refusal never steps: the motor is
    disabled first, then on_breach(breach) is called once (the app raises over_delivery, a high
    alarm that stops delivery). While tripped, enable() leaves the motor disabled. Only enable,
    disable and step are offered: nothing else can move the motor past the guard."""

    def __init__(self, motor, guard, clock, on_breach=None, on_enable=None):
        self.motor = motor
        self.guard = guard
        self.clock = clock
        self.on_breach = on_breach
        self.on_enable = on_enable   # told before the driver is enabled (the emitted-step check)
        self._reported = False
        self.enabled = False
        self.steps = 0     # every step passed on to the driver: what the stall check compares

    def enable(self):
        if self.guard.tripped():
            self.motor.disable()
            return False
        self._reported = False
        if self.on_enable is not None:
            self.on_enable()
        self.motor.enable()
        self.enabled = True
        return True

    def disable(self):
        self.enabled = False
        self.motor.disable()

    def step(self, n):
        """Command n steps if the guard allows them; False (motor disabled) if not."""
        if self.guard.allow(self.clock.now_ms(), n):
            self.motor.step(n)
            self.steps += n
            return True
        self.enabled = False
        self.motor.disable()
        if not self._reported:
            self._reported = True
            if self.on_breach is not None:
                self.on_breach(self.guard.breach)
        return False
