"""Property tests of pump.planner against an independent exact oracle (fractions.Fraction, nL).

The oracle integrates the program directly: basal day by day over each step's overlap, the
catheter, periodic and requested boluses as V * elapsed / D. It shares no code with the planner.
CPython only (hypothesis); the firmware tests cover MicroPython.
"""
from fractions import Fraction

from hypothesis import HealthCheck, assume, given, settings, strategies as st

from pump.errors import PumpError
from pump.planner import Delivery, ideal_units
from pump.therapy import Bolus, Catheter, Day, Periodic, Program, Temp

DAY = 86400000
MINUTE = 60000
HOUR = 3600000
U_NL = 86400000           # volume units (nL/day x ms) in one nL

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.data_too_large])


# ---- the oracle ----------------------------------------------------------------------------

def _weekday(day_number):
    # 1970-01-01 (day 0) was a Thursday; Monday is 0
    return [3, 4, 5, 6, 0, 1, 2][day_number % 7]


def therapy_start(p):
    return p.catheter.duration_ms if p.catheter is not None else 0


def periodic_starts(p, sw, until):
    """Every periodic start (program ms) before `until`."""
    per = p.periodic
    if per is None:
        return []
    c = therapy_start(p)
    wall = sw + c
    first = (wall // DAY) * DAY + per.first_ms - sw    # that time of day on therapy start's day
    if first < c:
        first += DAY
    out = []
    s = first
    while s < until:
        out.append(s)
        s += per.interval_ms
    return out


def basal_rate_at(p, sw, t):
    """The basal rate (nL/day) in force during ms [t, t+1)."""
    c = therapy_start(p)
    if t < c:
        return 0
    if p.temp is not None and t < c + p.temp.duration_ms:
        return p.temp.rate_nl_day
    w = sw + t
    day = p.days[_weekday(w // DAY)]
    ms = w % DAY
    rate = 0
    for s, r in zip(day.starts_ms, day.rates_nl_day):
        if s <= ms:
            rate = r
    return rate


def basal_integral(p, sw, t):
    """The exact basal integral from 0 to t, in nL/day x ms (an int)."""
    c = therapy_start(p)
    if t <= c:
        return 0
    total = 0
    te = c
    if p.temp is not None:
        te = c + p.temp.duration_ms
        total += p.temp.rate_nl_day * (min(t, te) - c)
    if t <= te:
        return total
    a, b = sw + te, sw + t
    d = a // DAY
    while d * DAY < b:
        day = p.days[_weekday(d)]
        ends = day.starts_ms[1:] + [DAY]
        for s, e, r in zip(day.starts_ms, ends, day.rates_nl_day):
            lo = max(a, d * DAY + s)
            hi = min(b, d * DAY + e)
            if hi > lo:
                total += r * (hi - lo)
        d += 1
    return total


def _bolus(v, dur, e):
    if e <= 0:
        return Fraction(0)
    return Fraction(v * min(e, dur), dur)


def oracle_nl(p, sw, t, runtime=()):
    """The exact ideal volume in nL from 0 to t."""
    total = Fraction(basal_integral(p, sw, t), DAY)
    if p.catheter is not None:
        total += _bolus(p.catheter.volume_nl, p.catheter.duration_ms, t)
    if p.periodic is not None:
        for s in periodic_starts(p, sw, t):
            total += _bolus(p.periodic.volume_nl, p.periodic.duration_ms, t - s)
    for t0, v, dur in runtime:
        total += _bolus(v, dur, t - t0)
    return total


def oracle_steps(p, sw, t, pl, runtime=()):
    return oracle_nl(p, sw, t, runtime) * 1000 // pl


def rate_changes(p, sw, until):
    """The boundaries at which the ideal's slope really changes."""
    per = p.periodic
    bolus = set()
    if per is not None:
        for s in periodic_starts(p, sw, until + 1):
            bolus.add(s)
            bolus.add(s + per.duration_ms)
    if p.catheter is not None:
        bolus.add(p.catheter.duration_ms)
    return [b for b in boundaries(p, sw, until)
            if b in bolus or basal_rate_at(p, sw, b - 1) != basal_rate_at(p, sw, b)]


def boundaries(p, sw, until):
    """Every program ms in (0, until] at which the rate may change: step starts, midnights,
    therapy start, temp end, bolus starts and ends."""
    out = set()
    c = therapy_start(p)
    out.add(c)
    if p.temp is not None:
        out.add(c + p.temp.duration_ms)
    d = sw // DAY
    while d * DAY - sw <= until:
        for s in p.days[_weekday(d)].starts_ms:
            out.add(d * DAY + s - sw)
        d += 1
    if p.periodic is not None:
        for s in periodic_starts(p, sw, until + 1):
            out.add(s)
            out.add(s + p.periodic.duration_ms)
    return sorted(b for b in out if 0 < b <= until)


# ---- random programs -----------------------------------------------------------------------

# round rates too: with them a step often falls due exactly on a ms, where an off-by-one shows
rates = st.one_of(st.just(0), st.integers(0, 5000000), st.integers(0, 120000000),
                  st.sampled_from([86400, 864000, 1200000, 2400000, 4800000, 8640000, 86400000]))


@st.composite
def days_st(draw, max_steps=48):
    n = draw(st.integers(1, max_steps))
    minutes = sorted(draw(st.sets(st.integers(1, 1439), min_size=n - 1, max_size=n - 1)))
    return Day([0] + [m * MINUTE for m in minutes], draw(st.lists(rates, min_size=n, max_size=n)))


def _duration(draw, lo_min, hi_min):
    # whole minutes as the file gives them, or any ms as a stretched bolus may have
    return draw(st.integers(lo_min, hi_min)) * MINUTE + draw(st.one_of(st.just(0),
                                                                      st.integers(0, MINUTE - 1)))


@st.composite
def programs(draw, boluses=True, max_steps=48):
    p = Program()
    base = draw(days_st(max_steps=max_steps))
    p.days = [base] * 7
    for wd in sorted(draw(st.sets(st.integers(0, 6), max_size=7))):
        p.days[wd] = draw(days_st(max_steps=max_steps))
    if draw(st.booleans()):
        p.temp = Temp(draw(rates), draw(st.integers(1, 10080)) * MINUTE)
    if boluses and draw(st.booleans()):
        p.catheter = Catheter(draw(st.sampled_from(["prime", "bridge"])),
                              draw(st.integers(1, 400000)), _duration(draw, 1, 1440))
    if boluses and draw(st.booleans()):
        dur = _duration(draw, 1, 240)
        p.periodic = Periodic(draw(st.integers(1, 1000000)), dur,
                              dur + draw(st.integers(0, 1440)) * MINUTE,
                              draw(st.integers(0, 1439)) * MINUTE)
    p.volume_nl = 10 ** 9
    return p


start_walls = st.integers(0, 2 * 10 ** 12)
pl_steps = st.one_of(st.integers(1, 2500000), st.sampled_from([100000, 83300, 10000, 1000]))
gaps = st.one_of(st.integers(1, 1000), st.integers(1, HOUR), st.integers(1, 6 * HOUR))


def tick_times(draw, p, sw, horizon):
    """Random gaps (1 ms to hours), then some rate-change boundaries and the ms either side,
    up to horizon; 24 h and the horizon itself always."""
    times = set([horizon, DAY])
    t = 0
    for gap in draw(st.lists(gaps, max_size=40)):
        t += gap
        if t >= horizon:
            break
        times.add(t)
    bs = boundaries(p, sw, horizon)
    if bs:
        for b in draw(st.lists(st.sampled_from(bs), max_size=12)):
            for x in (b - 1, b, b + 1):
                if 0 <= x <= horizon:
                    times.add(x)
    return sorted(times)


# ---- properties ----------------------------------------------------------------------------

@settings(max_examples=120, **SETTINGS)
@given(st.data(), programs(), start_walls, pl_steps,
       st.one_of(st.none(), st.integers(1, 200)))
def test_delivery_tracks_the_exact_ideal_within_one_step(data, p, sw, pl, cap):
    horizon = DAY + data.draw(st.integers(0, 2 * DAY))
    d = Delivery(p, sw, pl)
    step = Fraction(pl, 1000)
    for t in tick_times(data.draw, p, sw, horizon):
        n = d.due(t)
        if cap is not None and n > cap:
            n = cap
        d.taken(n)
        exact = oracle_nl(p, sw, t)
        delivered = d.steps_taken * step
        assert delivered <= exact, (t, delivered, exact)               # never ahead
        if cap is None:
            assert exact - delivered < step, (t, delivered, exact)     # never a step behind
            if t == DAY:
                assert abs(exact - delivered) < step                   # the 24 h error
        # the integer ideal is the floor of the exact one, and the window agrees with it
        ideal = ideal_units(p, sw, t)
        assert ideal == exact * U_NL // 1
        assert d.window_ideal(t) == ideal == d.ideal(t)


@settings(max_examples=80, **SETTINGS)
@given(st.data(), programs(), start_walls, pl_steps)
def test_requested_boluses_run_one_at_a_time_and_deliver_exactly(data, p, sw, pl):
    horizon = DAY + data.draw(st.integers(0, DAY))
    d = Delivery(p, sw, pl)
    step = Fraction(pl, 1000)
    runtime = []
    for t in tick_times(data.draw, p, sw, horizon):
        d.taken(d.due(t))
        if data.draw(st.integers(0, 3)) == 0:
            b = Bolus(data.draw(st.integers(1, 500000)), _duration(data.draw, 1, 180))
            try:
                d.request_bolus("clinician", t, b, False, 10 ** 9)
                runtime.append((t, b.volume_nl, b.duration_ms))
            except PumpError:
                pass
            d.taken(d.due(t))
        exact = oracle_nl(p, sw, t, runtime)
        assert exact - step < d.steps_taken * step <= exact, t
        assert ideal_units(p, sw, t, runtime) == exact * U_NL // 1
        assert d.window_ideal(t) == d.ideal(t) == ideal_units(p, sw, t, runtime)
    # every accepted bolus ran alone: no overlap with the catheter, periodic or another request
    busy = [(0, therapy_start(p))] if p.catheter is not None else []
    if p.periodic is not None:
        busy += [(s, s + p.periodic.duration_ms) for s in periodic_starts(p, sw, 3 * horizon)]
    busy += [(t0, t0 + dur) for t0, _, dur in runtime]
    busy.sort()
    for (a0, a1), (b0, _) in zip(busy, busy[1:]):
        assert a1 <= b0, (a0, a1, b0)


@settings(max_examples=80, **SETTINGS)
@given(st.data(), programs(), start_walls, pl_steps)
def test_volume_due_while_stopped_is_skipped_not_made_up(data, p, sw, pl):
    horizon = DAY + data.draw(st.integers(0, DAY))
    d = Delivery(p, sw, pl)
    step_u = pl * 86400
    skipped = 0
    stopped_at = None

    def units(t):
        return oracle_nl(p, sw, t) * U_NL // 1          # the oracle's floor, in volume units

    for t in tick_times(data.draw, p, sw, horizon):
        d.taken(d.due(t))
        if stopped_at is None:
            assert d.steps_taken == (units(t) - skipped) // step_u, t
        else:
            assert d.due(t) == 0
        if data.draw(st.integers(0, 4)) == 0:
            if stopped_at is None:
                d.stop(t)
                stopped_at = t
            else:
                d.start(t)
                skipped += units(t) - units(stopped_at)
                stopped_at = None
                assert d.due(t) == 0                         # no burst at a restart


@settings(max_examples=60, **SETTINGS)
@given(st.data(), programs(max_steps=12), start_walls,
       st.one_of(st.integers(1000, 2500000), st.sampled_from([100000, 10000, 1000])))
def test_next_due_ms_is_never_late_nor_past_a_rate_change(data, p, sw, pl):
    # the clock jumps only to next_due_ms: it must deliver as ticking every ms would
    horizon = data.draw(st.integers(MINUTE, 6 * HOUR))
    bs = rate_changes(p, sw, horizon)
    d = Delivery(p, sw, pl)
    t = 0
    wakes = 0
    while t <= horizon and wakes < 1500:
        d.taken(d.due(t))
        assert d.steps_taken == oracle_steps(p, sw, t, pl), t
        nxt = d.next_due_ms(t)
        if nxt is None:
            assert oracle_steps(p, sw, horizon + DAY, pl) == d.steps_taken
            break
        assert nxt > t
        assert oracle_steps(p, sw, nxt - 1, pl) == d.steps_taken, (t, nxt)   # not late
        assert not [b for b in bs if t < b < nxt], (t, nxt)                    # not past a change
        t = nxt
        wakes += 1


@settings(max_examples=80, **SETTINGS)
@given(programs(boluses=False), start_walls)
def test_the_rate_changes_on_the_exact_ms_of_each_flex_step(p, sw):
    horizon = 2 * DAY
    for b in boundaries(p, sw, horizon):
        before = ideal_units(p, sw, b) - ideal_units(p, sw, b - 1)
        after = ideal_units(p, sw, b + 1) - ideal_units(p, sw, b)
        assert before == basal_rate_at(p, sw, b - 1), b
        assert after == basal_rate_at(p, sw, b), b


@settings(max_examples=40, **SETTINGS)
@given(programs(), start_walls, st.integers(0, 400 * DAY))
def test_ideal_units_is_the_floor_of_the_exact_ideal_far_from_the_start(p, sw, t):
    assume(t < 3 * DAY or p.periodic is None or p.periodic.interval_ms >= HOUR)
    assert ideal_units(p, sw, t) == oracle_nl(p, sw, t) * U_NL // 1
