# The delivery plan of a therapy program: ideal volume over time, whole steps due per tick, bolus rules.
#
# Everything is counted in volume units (nL/day x ms, see units.py), in integers. The ideal
# cumulative volume I(t) from the program start (t = 0) is a sum of exact terms:
#   - basal: rate x ms, exact;
#   - each bolus (catheter, periodic, requested): V * min(t - t0, D) // D, V in volume units.
# Only one bolus runs at a time, so I(t) is the floor of the exact rational ideal and
# floor(I(t) / step) is the exact number of whole steps owed: nothing drifts, ever.
#
# Delivery is the per-tick form. It caches a "window" in which the basal rate and the running
# bolus are fixed; inside it due() and next_due_ms() are a few small-int operations that
# allocate nothing (no floats, tuples or bigints), so the control loop never feeds the GC.
# The window is recomputed from I(t) (prefix sums over the week, never a ms loop) when t
# crosses its end, at most a day after its start, or when a bolus is added. (Small ints are
# 63-bit on 64-bit ports; on 32-bit ones t itself outgrows them after 12 days.)
#
# Time t is program time: ms since the program started. start_wall_ms is the local wall time
# at t = 0, in ms since 1970-01-01 00:00 local time (a Thursday); daily schedules and the
# periodic bolus's time of day are in that local time.
from pump.errors import PumpError, BAD_ARG, BAD_STATE, LIMIT
from pump.units import MS_PER_DAY, MS_PER_MIN, UNITS_PER_NL, step_units, fmt_milli

_WEEK = 7 * MS_PER_DAY
_NEVER = 1 << 61          # a window end that never comes; still a small int on 64-bit ports
_REFINE = 8               # next_due_ms refinements during a bolus before it settles for early
PROJECT_HORIZON_MS = 366 * MS_PER_DAY

DEMAND = "demand"
CLINICIAN = "clinician"
PERIODIC = "periodic"
_BOLUS_NAMES = {"prime": "the priming bolus", "bridge": "the bridge bolus"}


def bolus_units(vu, d, e):
    """Volume units of a bolus of vu units over d ms, e ms after its start: vu * e // d, clamped.

    Split as q*e + r*e//d (vu = q*d + r) so no product exceeds vu or d*d: it stays a small int.
    """
    if e <= 0:
        return 0
    if e >= d:
        return vu
    return (vu // d) * e + (vu % d) * e // d


def _minutes(ms, more=""):
    """A wait in whole minutes, rounded up so that 'in N minutes' is never too soon."""
    m = (ms + MS_PER_MIN - 1) // MS_PER_MIN
    return "1 %sminute" % more if m == 1 else "%d %sminutes" % (m, more)


def _ul(nl):
    return "%s uL" % fmt_milli(nl)


class Plan:
    """A program pinned to its start in wall time: pure functions of t, with per-day prefix sums."""

    def __init__(self, program, start_wall_ms):
        self.program = program
        self.start_wall_ms = start_wall_ms
        cat = program.catheter
        # therapy (basal, temp, periodic) starts when the catheter bolus ends
        self.therapy_ms = cat.duration_ms if cat is not None else 0
        temp = program.temp
        self.temp_rate = temp.rate_nl_day if temp is not None else 0
        self.temp_end = self.therapy_ms + (temp.duration_ms if temp is not None else 0)
        days = program.days
        if len(days) not in (0, 7):
            raise ValueError("a program has 7 days (Monday first) or none, got %d" % len(days))
        self._starts = []      # per weekday: step starts, ms after midnight
        self._rates = []       # per weekday: step rates, nL/day
        self._cum = []         # per weekday: units from midnight to each step start
        self._day_cum = [0]    # units from Monday 00:00 to each weekday's midnight
        zero = True
        for day in days:
            starts, rates = day.starts_ms, day.rates_nl_day
            if not starts or starts[0] != 0 or len(rates) != len(starts):
                raise ValueError("a day needs steps from 00:00, one rate per step")
            cum = [0]
            for i in range(len(starts)):
                end = starts[i + 1] if i + 1 < len(starts) else MS_PER_DAY
                if end <= starts[i] or rates[i] < 0:
                    raise ValueError("day steps must increase within the day, rates be >= 0")
                if rates[i]:
                    zero = False
                cum.append(cum[-1] + rates[i] * (end - starts[i]))
            self._starts.append(starts)
            self._rates.append(rates)
            self._cum.append(cum)
            self._day_cum.append(self._day_cum[-1] + cum[-1])
        self.has_schedule = bool(days)
        self.zero_schedule = zero
        per = program.periodic
        self.p0 = 0            # program time of the first periodic start
        if per is not None:
            if per.next_wall_ms is not None:
                self.p0 = self.therapy_ms + max(0, per.next_wall_ms - start_wall_ms - self.therapy_ms)
            else:
                tod = (start_wall_ms + self.therapy_ms) % MS_PER_DAY
                self.p0 = self.therapy_ms + (per.first_ms - tod) % MS_PER_DAY

    # ---- basal ----------------------------------------------------------------------------

    def _step_index(self, wd, ms):
        starts = self._starts[wd]
        lo, hi = 0, len(starts) - 1      # the last step starting at or before ms
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if starts[mid] <= ms:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def _cum_from(self, ref, w):
        """Schedule units from wall ms ref (a Monday midnight) to wall ms w >= ref."""
        x = w - ref
        weeks = x // _WEEK
        x -= weeks * _WEEK
        wd = x // MS_PER_DAY
        ms = x - wd * MS_PER_DAY
        i = self._step_index(wd, ms)
        return (weeks * self._day_cum[7] + self._day_cum[wd] + self._cum[wd][i]
                + self._rates[wd][i] * (ms - self._starts[wd][i]))

    def schedule_units(self, wa, wb):
        """The weekly schedule's units between wall ms wa and wb (wa <= wb)."""
        if not self.has_schedule or wb <= wa:
            return 0
        day = wa // MS_PER_DAY
        ref = (day - (day + 3) % 7) * MS_PER_DAY    # Monday 00:00 of wa's week
        return self._cum_from(ref, wb) - self._cum_from(ref, wa)

    def basal_units(self, t):
        """Basal units from 0 to t: nothing before therapy start, then temp, then the schedule."""
        c = self.therapy_ms
        if t <= c:
            return 0
        te = self.temp_end
        if t <= te:
            return self.temp_rate * (t - c)
        return (self.temp_rate * (te - c)
                + self.schedule_units(self.start_wall_ms + te, self.start_wall_ms + t))

    def basal_at(self, t):
        """(rate nL/day at t, the program time of the next possible rate change or _NEVER)."""
        if t < self.therapy_ms:
            return 0, self.therapy_ms
        if t < self.temp_end:
            return self.temp_rate, self.temp_end
        if not self.has_schedule or self.zero_schedule:
            return 0, _NEVER
        w = self.start_wall_ms + t
        day = w // MS_PER_DAY
        ms = w - day * MS_PER_DAY
        wd = (day + 3) % 7
        i = self._step_index(wd, ms)
        starts = self._starts[wd]
        end = starts[i + 1] if i + 1 < len(starts) else MS_PER_DAY
        return self._rates[wd][i], t + end - ms

    # ---- boluses --------------------------------------------------------------------------

    def catheter_units(self, t):
        cat = self.program.catheter
        if cat is None:
            return 0
        return bolus_units(cat.volume_nl * UNITS_PER_NL, cat.duration_ms, t)

    def periodic_units(self, t):
        per = self.program.periodic
        if per is None or t <= self.p0:
            return 0
        x = t - self.p0
        m = x // per.interval_ms
        e = x - m * per.interval_ms
        vu = per.volume_nl * UNITS_PER_NL
        return m * vu + bolus_units(vu, per.duration_ms, e)

    def periodic_running(self, t):
        """The start of the periodic bolus running at t, or -1."""
        per = self.program.periodic
        if per is None or t < self.p0:
            return -1
        s = self.p0 + (t - self.p0) // per.interval_ms * per.interval_ms
        return s if t < s + per.duration_ms else -1

    def next_periodic(self, t):
        """The first periodic start at or after t, or None."""
        per = self.program.periodic
        if per is None:
            return None
        if t <= self.p0:
            return self.p0
        i = per.interval_ms
        return self.p0 + (t - self.p0 + i - 1) // i * i

    def ideal(self, t, runtime=()):
        """Ideal cumulative units from 0 to t; runtime: (t0, volume_nl, duration_ms, ...)."""
        if t <= 0:
            return 0
        u = self.catheter_units(t) + self.basal_units(t) + self.periodic_units(t)
        for b in runtime:
            u += bolus_units(b[1] * UNITS_PER_NL, b[2], t - b[0])
        return u


def ideal_units(program, start_wall_ms, t, runtime=()):
    """The ideal cumulative volume (volume units) the program delivers from 0 to t."""
    return Plan(program, start_wall_ms).ideal(t, runtime)


def _first_reaching(plan, t, target, runtime, horizon_ms):
    """The first ms in [t, t + horizon] at which ideal - ideal(t) >= target units, or None."""
    if target <= 0:
        return t
    base = plan.ideal(t, runtime)
    hi = t + horizon_ms
    if plan.ideal(hi, runtime) - base < target:
        return None
    lo = t                  # ideal is non-decreasing: bisect on it
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if plan.ideal(mid, runtime) - base >= target:
            hi = mid
        else:
            lo = mid
    return hi


def project(program, start_wall_ms, t, reservoir_nl, low_nl, runtime=(),
            horizon_ms=PROJECT_HORIZON_MS):
    """When the scheduled delivery from t on (no new requested boluses) brings the reservoir
    (reservoir_nl left at t) down to low_nl and to empty: program-relative ms, t if already
    there, None beyond the horizon. Uses the ideal volume, which runs under a step ahead of
    the steps actually taken, so the times are never late."""
    plan = Plan(program, start_wall_ms)
    return {"low_at": _first_reaching(plan, t, (reservoir_nl - low_nl) * UNITS_PER_NL,
                                      runtime, horizon_ms),
            "empty_at": _first_reaching(plan, t, reservoir_nl * UNITS_PER_NL, runtime,
                                        horizon_ms)}


def projection_wall_ms(projection, start_wall_ms):
    """project()'s program-relative times as local wall ms: {"low_at_ms", "empty_at_ms"}."""
    out = {}
    for key in ("low_at", "empty_at"):
        t = projection.get(key)
        out[key + "_ms"] = None if t is None else start_wall_ms + t
    return out


def daily_volume_nl(program, start_wall_ms, day_index):
    """The ideal volume (nL, rounded down) delivered on local calendar day day_index, counted
    from the day the program starts (0: from the start to the next midnight)."""
    plan = Plan(program, start_wall_ms)
    d0 = start_wall_ms // MS_PER_DAY + day_index
    a = d0 * MS_PER_DAY - start_wall_ms
    b = a + MS_PER_DAY
    return (plan.ideal(b) - plan.ideal(a if a > 0 else 0)) // UNITS_PER_NL


class Delivery:
    """Whole steps due for a program, tick by tick, and the rules for requested boluses.

    It runs from construction (program t = 0). stop(t) / start(t) pause it: what became due
    while stopped is skipped, never made up in a burst (periodic boluses included), and a
    requested bolus running at the stop is cancelled. t must not go backwards.
    """

    def __init__(self, program, start_wall_ms, pl_per_step, demands_wall=()):
        if pl_per_step <= 0:
            raise ValueError("pl_per_step must be > 0")
        self.program = program
        self.start_wall_ms = start_wall_ms
        self.plan = Plan(program, start_wall_ms)
        self.pl_per_step = pl_per_step
        self.step = step_units(pl_per_step)
        self.steps_taken = 0
        self.running = True
        self.skipped = 0          # units that fell due while stopped (and steps dropped at a stop)
        self._stop_ideal = 0
        self._runtime = []        # requested boluses not ended: (t0, volume_nl, duration_ms, kind)
        self._folded = 0          # units of requested boluses that have ended or were cut short
        # demand starts in the last 24 h, oldest first (program time: those carried over a
        # reset are negative, so lockout and the 24 h maximum still count them)
        self._demands = [w - start_wall_ms for w in demands_wall]
        # The window [_ws, _we): basal rate and running bolus fixed. With k whole steps and the
        # bolus floor term F(t) = _br * (t - _b0) // _bd, the units owed above k steps are
        # _res + _rate * (t - _ws) + F(t); _rate includes the bolus's whole units per ms.
        self._ws = 0
        self._we = -1             # forces a computation at the first tick
        self._k = 0
        self._res = 0
        self._rate = 0
        self._b0 = 0
        self._br = 0
        self._bd = 1

    # ---- the ideal --------------------------------------------------------------------------

    def ideal(self, t):
        """Ideal cumulative units from 0 to t, requested boluses included (not per tick)."""
        return self.plan.ideal(t, self._runtime) + self._folded

    def window_ideal(self, t):
        """The same, as the cached window sees it (t inside the current window): for tests."""
        return (self._k * self.step + self._res + self._rate * (t - self._ws)
                + self._br * (t - self._b0) // self._bd + self.skipped)

    def _running_bolus(self, t):
        """(t0, units, duration, kind) of the bolus running at t, or None."""
        cat = self.program.catheter
        if cat is not None and t < cat.duration_ms:
            return (0, cat.volume_nl * UNITS_PER_NL, cat.duration_ms, cat.kind)
        s = self.plan.periodic_running(t)
        if s >= 0:
            per = self.program.periodic
            return (s, per.volume_nl * UNITS_PER_NL, per.duration_ms, PERIODIC)
        for b in self._runtime:
            if b[0] <= t < b[0] + b[2]:
                return (b[0], b[1] * UNITS_PER_NL, b[2], b[3])
        return None

    def _window(self, t):
        # requested boluses that have ended become a constant: memory stays bounded
        if self._runtime:
            keep = []
            for b in self._runtime:
                if b[0] + b[2] <= t:
                    self._folded += b[1] * UNITS_PER_NL
                else:
                    keep.append(b)
            self._runtime = keep
        net = self.ideal(t) - self.skipped
        rate, end = self.plan.basal_at(t)
        b = self._running_bolus(t)
        if b is None:
            b0, q, r, d = t, 0, 0, 1
            nxt = self.plan.next_periodic(t)
            if nxt is not None and nxt < end:
                end = nxt
            for rb in self._runtime:
                if t < rb[0] < end:
                    end = rb[0]
        else:
            b0, vu, d = b[0], b[1], b[2]
            q, r = vu // d, vu % d
            if b0 + d < end:
                end = b0 + d
        rate += q
        # at most a day per window keeps rate * (t - ws) a small int
        if (rate or r) and end > t + MS_PER_DAY:
            end = t + MS_PER_DAY
        k = net // self.step
        self._k = k
        self._res = net - k * self.step - r * (t - b0) // d
        self._ws = t
        self._we = end
        self._rate = rate
        self._b0 = b0
        self._br = r
        self._bd = d

    # ---- per tick: no allocation in steady state -------------------------------------------

    def due(self, t):
        """Whole steps owed now and not yet taken (the caller caps bursts)."""
        if not self.running:
            return 0
        if t >= self._we:
            self._window(t)
        elif t < self._ws:
            t = self._ws
        n = ((self._res + self._rate * (t - self._ws) + self._br * (t - self._b0) // self._bd)
             // self.step + self._k - self.steps_taken)
        return n if n > 0 else 0

    def taken(self, n):
        self.steps_taken += n

    def next_due_ms(self, t):
        """The earliest ms >= t at which one more step is due (exact, or early during a
        bolus), never past the window end; None if stopped or nothing will ever be due."""
        if not self.running:
            return None
        if t >= self._we:
            self._window(t)
        elif t < self._ws:
            t = self._ws
        ws = self._ws
        rate = self._rate
        br = self._br
        b0 = self._b0
        bd = self._bd
        need = (self.steps_taken - self._k + 1) * self.step - self._res
        u = rate * (t - ws) + br * (t - b0) // bd
        if u >= need:
            return t
        # F(t) grows by at most 1 unit per ms, so rate + 1 bounds the slope: never late
        slope = rate + 1 if br else rate
        if slope == 0:
            return None if self._we >= _NEVER else self._we
        i = 0
        while u < need:
            t += (need - u + slope - 1) // slope
            if t >= self._we:
                return self._we
            i += 1
            if i >= _REFINE:
                return t
            u = rate * (t - ws) + br * (t - b0) // bd
        return t

    def rate_nl_day(self, t):
        """The basal-plus-bolus rate at t in nL/day (bolus whole units only), for status."""
        if not self.running:
            return 0
        if t >= self._we:
            self._window(t)
        return self._rate

    # ---- stop and start ---------------------------------------------------------------------

    def stop(self, t):
        """Pause: nothing is due until start(); steps owed but not taken are dropped."""
        if not self.running:
            return
        for b in self._runtime:
            if b[0] <= t < b[0] + b[2]:
                # a requested bolus is cancelled: what it gave so far stays in the ideal
                self._folded += bolus_units(b[1] * UNITS_PER_NL, b[2], t - b[0])
                self._runtime = [x for x in self._runtime if x is not b]
                break
        ideal = self.ideal(t)
        owed = ideal - self.skipped - self.steps_taken * self.step
        if owed >= self.step:
            self.skipped += owed // self.step * self.step
        self._stop_ideal = ideal
        self.running = False
        self._we = -1

    def start(self, t):
        """Resume: what fell due while stopped is skipped, not delivered."""
        if self.running:
            return
        self.skipped += self.ideal(t) - self._stop_ideal
        self.running = True
        self._we = -1

    # ---- requested boluses ------------------------------------------------------------------

    def _prune_demands(self, t):
        old = t - MS_PER_DAY
        while self._demands and self._demands[0] <= old:
            self._demands.pop(0)

    def request_bolus(self, kind, t, bolus, high_alarm, reservoir_nl):
        """Start a demand or clinician bolus at t, or refuse with a PumpError giving the reason.

        The reservoir must hold the bolus plus the basal due while it runs.
        """
        program = self.program
        if kind not in (DEMAND, CLINICIAN):
            raise PumpError(BAD_ARG, "bolus kind must be demand or clinician, got %r" % (kind,))
        demand = program.demand
        if kind == DEMAND:
            if demand is None:
                raise PumpError(BAD_STATE, "the program allows no demand bolus")
            if bolus is None:
                bolus = demand
        if bolus is None or bolus.volume_nl <= 0 or bolus.duration_ms <= 0:
            raise PumpError(BAD_ARG, "a bolus needs a volume and a duration above 0")
        if not self.running:
            raise PumpError(BAD_STATE, "the pump is stopped: no bolus")
        if high_alarm:
            raise PumpError(BAD_STATE, "a high alarm is active: no bolus")
        b = self._running_bolus(t)
        if b is not None:
            name = _BOLUS_NAMES.get(b[3], "the %s bolus" % b[3])
            raise PumpError(BAD_STATE, "%s is running: one bolus at a time; it ends in %s"
                            % (name, _minutes(b[0] + b[2] - t)))
        if kind == DEMAND:
            self._prune_demands(t)
            if self._demands:
                left = self._demands[-1] + demand.lockout_ms - t
                if left > 0:
                    raise PumpError(LIMIT, "demand bolus locked out for %s"
                                    % _minutes(left, "more "))
            if len(self._demands) >= demand.max_per_24h:
                # the oldest start leaves the rolling 24 h when t reaches it plus a day
                left = self._demands[-demand.max_per_24h] + MS_PER_DAY - t
                raise PumpError(LIMIT, "the maximum of %d demand boluses in 24 h is reached; "
                                "the next is allowed in %s" % (demand.max_per_24h, _minutes(left)))
        d = bolus.duration_ms
        nxt = self.plan.next_periodic(t)
        if nxt is not None and nxt < t + d:
            raise PumpError(BAD_STATE, "the next periodic bolus starts in %s, before this "
                            "bolus would end: request it after that one" % _minutes(nxt - t))
        # what the pump must still hold: the bolus and the basal due while it runs
        basal = self.ideal(t + d) - self.ideal(t)
        need = bolus.volume_nl + (basal + UNITS_PER_NL - 1) // UNITS_PER_NL
        if reservoir_nl < need:
            raise PumpError(LIMIT, "the reservoir holds %s; this bolus needs %s (%s plus the "
                            "basal during it)" % (_ul(reservoir_nl), _ul(need),
                                                  _ul(bolus.volume_nl)))
        self._runtime.append((t, bolus.volume_nl, d, kind))
        if kind == DEMAND:
            self._demands.append(t)
        self._we = -1
        return {"kind": kind, "starts_ms": t, "ends_ms": t + d, "volume_nl": bolus.volume_nl}

    def next_bolus_edge(self, t):
        """Program time of the next bolus start or end after t, or None: the journal is written
        at each, so a reset never loses where a bolus stood."""
        edges = []
        cat = self.program.catheter
        if cat is not None and t < cat.duration_ms:
            edges.append(cat.duration_ms)
        per = self.program.periodic
        if per is not None:
            s = self.plan.periodic_running(t)
            if s >= 0:
                edges.append(s + per.duration_ms)
            n = self.plan.next_periodic(t + 1)
            if n is not None:
                edges.append(n)
        for b in self._runtime:
            if b[0] + b[2] > t:
                edges.append(b[0] + b[2])
        return min(edges) if edges else None

    def journal_state(self, t):
        """What a reset must carry over, in wall time (see resumed_program and App.snapshot)."""
        self._prune_demands(t)
        w = self.start_wall_ms
        plan = self.plan
        b = self._running_bolus(t)
        # the start after t: one running now was cut short and is not resumed
        nxt = plan.next_periodic(t + 1)
        return {"start_wall": w, "t": t, "taken": self.steps_taken,
                "demands": [w + x for x in self._demands],
                "catheter_done": t >= plan.therapy_ms,
                "temp_end_wall": w + plan.temp_end if t < plan.temp_end else None,
                "periodic_next_wall": None if nxt is None else w + nxt,
                "bolus": None if b is None else b[3]}

    def bolus_status(self, t):
        """The running bolus, the demand limits and the next periodic start, at t."""
        b = self._running_bolus(t)
        s = {"active": None if b is None else b[3],
             "ends_ms": None if b is None else b[0] + b[2],
             "next_periodic_ms": self.plan.next_periodic(t)}
        demand = self.program.demand
        if demand is not None:
            self._prune_demands(t)
            left = 0
            if self._demands:
                left = self._demands[-1] + demand.lockout_ms - t
            s["demand_lockout_ms"] = left if left > 0 else 0
            s["demand_used_24h"] = len(self._demands)
            s["demand_allowed_24h"] = demand.max_per_24h
        return s

    def project(self, t, reservoir_nl, low_nl, horizon_ms=PROJECT_HORIZON_MS):
        """project() for this delivery, its requested boluses included."""
        return project(self.program, self.start_wall_ms, t, reservoir_nl, low_nl,
                       self._runtime, horizon_ms)


def resumed_program(program, carry, wall_ms):
    """The program as a start after a reset must run it (carry: Delivery.journal_state).

    The catheter bolus ran at the program's first start, whole or cut short by the reset:
    either way it is not given again. A temporary rate keeps its end in wall time. Basal and
    periodic boluses follow the time of day, so they need nothing; a bolus cut short by the
    reset is not resumed (the new Delivery has no running requested bolus).
    """
    p = type(program)()
    for k in program.__dict__:
        setattr(p, k, getattr(program, k))
    p.catheter = None
    nxt = carry.get("periodic_next_wall")
    if p.periodic is not None and nxt is not None:
        # the series keeps its phase: its next start at or after this one
        per = p.periodic
        i = per.interval_ms
        if nxt < wall_ms:
            nxt += (wall_ms - nxt + i - 1) // i * i
        q = type(per)(per.volume_nl, per.duration_ms, i, per.first_ms)
        q.next_wall_ms = nxt
        p.periodic = q
    end = carry.get("temp_end_wall")
    if p.temp is not None:
        if end is None or end <= wall_ms:
            p.temp = None
        else:
            p.temp = type(p.temp)(p.temp.rate_nl_day, end - wall_ms)
    return p
