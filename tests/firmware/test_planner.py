# Unit tests of pump.planner; plain functions so pytest and tests/mprun.py (MicroPython) both run them.
#
# Expected volumes are worked out here in integers from the program's numbers: a rate R nL/day
# for d ms is R * d volume units, one nL is 86,400,000 units. 2.4 mL/day with 0.1 uL steps is
# one step every 3600 ms.

import sys

from pump.errors import PumpError, BAD_STATE, LIMIT
from pump.planner import (Delivery, ideal_units, project, daily_volume_nl, bolus_units)
from pump.therapy import Program, Day, Bolus, Periodic, Demand, Catheter, Temp
from pump.units import MS_PER_DAY, MS_PER_MIN, UNITS_PER_NL

from fakes import expect_raises
from planner_probe import measure_tick_alloc, sim_day

MS_PER_H = 3600000
MONDAY = 4 * MS_PER_DAY          # 1970-01-05 00:00 local time
STEP_PL = 100000                 # 0.1 uL
STEP = STEP_PL * 86400           # one step in volume units
R24 = 2400000                    # 2.4 mL/day: one step every 3600 ms
MINUTE = MS_PER_MIN


def _prog(steps=((0, R24),), days=None, temp=None, catheter=None, periodic=None, demand=None,
          volume_nl=20000000):
    """A program with the same day every weekday unless days (weekday -> steps) says otherwise."""
    p = Program()
    base = Day([s for s, _ in steps], [r for _, r in steps])
    p.days = [base] * 7
    for wd in sorted(days or {}):
        st = days[wd]
        p.days[wd] = Day([s for s, _ in st], [r for _, r in st])
    p.temp = temp
    p.catheter = catheter
    p.periodic = periodic
    p.demand = demand
    p.volume_nl = volume_nl
    return p


def _take(d, t):
    n = d.due(t)
    d.taken(n)
    return n


def _run(d, t0, t1, dt):
    """Tick every dt ms from t0 up to and including t1, taking what is due."""
    t = t0
    while t < t1:
        _take(d, t)
        t += dt
    _take(d, t1)
    return d.steps_taken


def _refusal(fn, *args):
    e = expect_raises(PumpError, fn, *args)
    return e.code, e.message


# ---- the ideal volume ----------------------------------------------------------------------

def test_changes_rate_at_a_flex_step_boundary_on_the_exact_millisecond():
    p = _prog(steps=((0, R24), (450 * MINUTE, 2 * R24)))       # 07:30 doubles the rate
    start = MONDAY + 6 * MS_PER_H + 123                        # starts at 06:00:00.123
    b = 90 * MINUTE - 123                                      # 07:30 in program time
    assert ideal_units(p, start, b) - ideal_units(p, start, b - 1) == R24
    assert ideal_units(p, start, b + 1) - ideal_units(p, start, b) == 2 * R24
    assert ideal_units(p, start, b) == R24 * b
    d = Delivery(p, start, STEP_PL)
    assert _run(d, 0, b - 1, 997) == R24 * (b - 1) // STEP
    nxt = d.next_due_ms(b - 1)
    assert nxt <= b                                            # never past the change
    # from the boundary on, steps come every 1800 ms
    _take(d, b)
    k = R24 * b // STEP
    owed = R24 * b - k * STEP
    first = b + -(-(STEP - owed) // (2 * R24))
    assert d.next_due_ms(b) == first
    assert d.due(first - 1) == 0 and d.due(first) == 1


def test_follows_the_local_weekday_schedule_across_midnight():
    # Saturday (weekday 5) runs at twice the rate; start Friday 23:00 local time
    p = _prog(days={5: ((0, 2 * R24),)})
    friday_23 = MONDAY + 4 * MS_PER_DAY + 23 * MS_PER_H
    assert ideal_units(p, friday_23, MS_PER_H) == R24 * MS_PER_H
    assert ideal_units(p, friday_23, 2 * MS_PER_H) == 3 * R24 * MS_PER_H
    # a whole day from Saturday 23:00 to Sunday 23:00: 1 h doubled, 23 h plain
    sat_23 = 24 * MS_PER_H
    assert (ideal_units(p, friday_23, sat_23 + MS_PER_DAY) - ideal_units(p, friday_23, sat_23)
            == 2 * R24 * MS_PER_H + R24 * 23 * MS_PER_H)


def test_a_week_later_the_same_weekly_schedule_repeats_exactly():
    steps = ((0, 1000003), (7 * MS_PER_H + 13 * MINUTE, 3333333), (20 * MS_PER_H, 0))
    p = _prog(steps=steps, days={2: ((0, 5000000), (MS_PER_H, 17))})
    start = MONDAY + 123456789
    week = 7 * MS_PER_DAY
    total = 0
    for wd in range(7):
        st = p.days[wd].starts_ms + [MS_PER_DAY]
        for i in range(len(p.days[wd].rates_nl_day)):
            total += p.days[wd].rates_nl_day[i] * (st[i + 1] - st[i])
    for t in (0, 1, 5 * MS_PER_H, 3 * MS_PER_DAY + 7, 51 * week + 99):
        assert ideal_units(p, start, t + week) - ideal_units(p, start, t) == total


def test_a_year_of_ideal_volume_is_exact():
    p = _prog()
    year = 365 * MS_PER_DAY
    assert ideal_units(p, MONDAY + 777, year) == R24 * year
    assert ideal_units(p, MONDAY + 777, year) // UNITS_PER_NL == 2400000 * 365


def test_the_catheter_bolus_runs_first_and_delays_temp_basal_and_periodic():
    cat = Catheter("prime", 95000, 30 * MINUTE)
    per = Periodic(50000, 10 * MINUTE, 6 * MS_PER_H, 15 * MINUTE)     # 00:15, then every 6 h
    temp = Temp(2 * R24, MS_PER_H)
    p = _prog(catheter=cat, periodic=per, temp=temp)
    vu = 95000 * UNITS_PER_NL
    c = 30 * MINUTE
    assert ideal_units(p, MONDAY, c // 3) == vu // 3
    assert ideal_units(p, MONDAY, c) == vu
    # temp for an hour after therapy start, then the schedule
    assert ideal_units(p, MONDAY, c + MS_PER_H) == vu + 2 * R24 * MS_PER_H
    assert ideal_units(p, MONDAY, c + 2 * MS_PER_H) == vu + 3 * R24 * MS_PER_H
    # 00:15 came before therapy start (00:30): the first periodic bolus is at 00:15 next day
    t = MS_PER_DAY + 15 * MINUTE
    basal = 2 * R24 * MS_PER_H + R24 * (t - c - MS_PER_H)
    assert ideal_units(p, MONDAY, t) == vu + basal
    assert ideal_units(p, MONDAY, t + 5 * MINUTE) == vu + basal + R24 * 5 * MINUTE \
        + 25000 * UNITS_PER_NL
    d = Delivery(p, MONDAY, STEP_PL)
    assert d.bolus_status(0)["active"] == "prime"
    assert d.bolus_status(c)["next_periodic_ms"] == t


def test_a_bolus_adds_whole_volume_units_rounded_down_and_exactly_its_volume_at_the_end():
    vu = 20000 * UNITS_PER_NL
    d = 7 * MINUTE + 3
    for e in (0, 1, 2, 12345, d // 2, d - 1, d, d + 1):
        expect = vu * min(e, d) // d
        assert bolus_units(vu, d, e) == expect, e


def test_steps_due_are_the_floor_of_the_ideal_volume_with_a_periodic_bolus():
    per = Periodic(33333, 7 * MINUTE + 11, 37 * MINUTE, 0)
    p = _prog(steps=((0, 1234567), (5 * MS_PER_H, 7654321)), periodic=per)
    start = MONDAY + 3 * MS_PER_H
    d = Delivery(p, start, 83300)
    t = 0
    while t < 12 * MS_PER_H:
        _take(d, t)
        assert d.steps_taken == ideal_units(p, start, t) // (83300 * 86400), t
        t += 59999


def test_next_due_ms_is_never_late_and_never_past_the_window_end():
    per = Periodic(33333, 7 * MINUTE + 11, 37 * MINUTE, 0)
    p = _prog(steps=((0, 1234567), (MS_PER_H, 0), (2 * MS_PER_H, 7654321)), periodic=per)
    d = Delivery(p, MONDAY, 100000)
    t = 0
    wakes = 0
    while t < 4 * MS_PER_H:
        _take(d, t)
        nxt = d.next_due_ms(t)
        assert nxt > t
        assert d.due(nxt - 1) == 0, (t, nxt)      # nothing became due before the wake-up
        t = nxt
        wakes += 1
    _take(d, t)
    assert d.steps_taken == ideal_units(p, MONDAY, t) // (100000 * 86400)
    assert wakes < 2 * d.steps_taken + 100       # and hardly ever early


def test_next_due_ms_is_none_when_nothing_will_ever_be_due():
    p = _prog(steps=((0, 0),))
    d = Delivery(p, MONDAY, STEP_PL)
    assert d.due(5 * MS_PER_H) == 0
    assert d.next_due_ms(5 * MS_PER_H) is None
    # a zero step followed by a rate: wake at the boundary
    p = _prog(steps=((0, 0), (6 * MS_PER_H, R24)))
    d = Delivery(p, MONDAY, STEP_PL)
    assert d.next_due_ms(MS_PER_H) == 6 * MS_PER_H
    assert d.next_due_ms(6 * MS_PER_H) == 6 * MS_PER_H + 3600


def test_reports_the_rate_now_with_the_bolus_on_top():
    p = _prog(demand=Demand(20000, 10 * MINUTE, 60 * MINUTE, 6))
    d = Delivery(p, MONDAY, STEP_PL)
    assert d.rate_nl_day(MS_PER_H) == R24
    d.request_bolus("demand", MS_PER_H, p.demand, False, p.volume_nl)
    assert d.rate_nl_day(MS_PER_H + 1) == R24 + 20000 * UNITS_PER_NL // (10 * MINUTE)
    assert d.rate_nl_day(MS_PER_H + 10 * MINUTE) == R24


# ---- requested boluses ---------------------------------------------------------------------

def test_delivers_a_demand_bolus_on_top_of_the_basal():
    p = _prog(demand=Demand(20000, 10 * MINUTE, 60 * MINUTE, 6))
    d = Delivery(p, MONDAY, STEP_PL)
    _run(d, 0, MS_PER_H, 1000)
    assert d.steps_taken == 1000
    reply = d.request_bolus("demand", MS_PER_H, p.demand, False, p.volume_nl)
    assert reply == {"kind": "demand", "starts_ms": MS_PER_H, "ends_ms": MS_PER_H + 10 * MINUTE,
                     "volume_nl": 20000}
    _run(d, MS_PER_H, 2 * MS_PER_H, 1000)
    assert d.steps_taken == 2000 + 200                 # 20 uL is 200 steps
    assert d.ideal(2 * MS_PER_H) == ideal_units(p, MONDAY, 2 * MS_PER_H,
                                                [(MS_PER_H, 20000, 10 * MINUTE)])


def test_refuses_a_demand_bolus_inside_the_lockout():
    p = _prog(demand=Demand(20000, 10 * MINUTE, 60 * MINUTE, 6))
    d = Delivery(p, MONDAY, STEP_PL)
    d.request_bolus("demand", MS_PER_H, p.demand, False, p.volume_nl)
    code, msg = _refusal(d.request_bolus, "demand", MS_PER_H + 30 * MINUTE, p.demand, False,
                         p.volume_nl)
    assert code == LIMIT
    assert msg == "demand bolus locked out for 30 more minutes", msg
    code, msg = _refusal(d.request_bolus, "demand", 2 * MS_PER_H - 1, p.demand, False,
                         p.volume_nl)
    assert msg == "demand bolus locked out for 1 more minute", msg
    d.request_bolus("demand", 2 * MS_PER_H, p.demand, False, p.volume_nl)
    # a clinician bolus is not held by the demand lockout
    d.request_bolus("clinician", 2 * MS_PER_H + 10 * MINUTE, Bolus(1000, MINUTE), False,
                    p.volume_nl)


def test_refuses_a_demand_bolus_over_the_24_h_maximum():
    p = _prog(demand=Demand(20000, 10 * MINUTE, 60 * MINUTE, 3))
    d = Delivery(p, MONDAY, STEP_PL)
    for h in (1, 2, 3):
        d.request_bolus("demand", h * MS_PER_H, p.demand, False, p.volume_nl)
    code, msg = _refusal(d.request_bolus, "demand", 4 * MS_PER_H, p.demand, False, p.volume_nl)
    assert code == LIMIT
    assert msg == ("the maximum of 3 demand boluses in 24 h is reached; the next is allowed "
                   "in 1260 minutes"), msg
    _refusal(d.request_bolus, "demand", 25 * MS_PER_H - 1, p.demand, False, p.volume_nl)
    # the rolling 24 h is (t - 24 h, t]: the start at 1 h has left it at 25 h
    d.request_bolus("demand", 25 * MS_PER_H, p.demand, False, p.volume_nl)
    s = d.bolus_status(25 * MS_PER_H + 1)
    assert s["demand_used_24h"] == 3 and s["demand_allowed_24h"] == 3
    assert len(d._demands) == 3                  # only the last 24 h are kept


def test_refuses_a_demand_bolus_when_the_program_has_none():
    d = Delivery(_prog(), MONDAY, STEP_PL)
    code, msg = _refusal(d.request_bolus, "demand", MS_PER_H, None, False, 10 ** 9)
    assert code == BAD_STATE and "no demand" in msg


def test_refuses_a_bolus_larger_than_the_reservoir_can_supply():
    # 20 uL over 10 minutes, with 16.667 uL of basal due meanwhile (rounded up): 36.667 uL
    p = _prog(demand=Demand(20000, 10 * MINUTE, 60 * MINUTE, 6))
    d = Delivery(p, MONDAY, STEP_PL)
    code, msg = _refusal(d.request_bolus, "demand", MS_PER_H, p.demand, False, 36666)
    assert code == LIMIT
    assert msg == ("the reservoir holds 36.666 uL; this bolus needs 36.667 uL (20 uL plus the "
                   "basal during it)"), msg
    d.request_bolus("demand", MS_PER_H, p.demand, False, 36667)


def test_refuses_any_bolus_during_a_high_alarm():
    p = _prog(demand=Demand(20000, 10 * MINUTE, 60 * MINUTE, 6))
    d = Delivery(p, MONDAY, STEP_PL)
    for kind, b in (("demand", p.demand), ("clinician", Bolus(1000, MINUTE))):
        code, msg = _refusal(d.request_bolus, kind, MS_PER_H, b, True, p.volume_nl)
        assert code == BAD_STATE and "high alarm" in msg


def test_refuses_any_bolus_while_stopped():
    p = _prog(demand=Demand(20000, 10 * MINUTE, 60 * MINUTE, 6))
    d = Delivery(p, MONDAY, STEP_PL)
    d.stop(MS_PER_H)
    code, msg = _refusal(d.request_bolus, "clinician", MS_PER_H, Bolus(1000, MINUTE), False,
                         p.volume_nl)
    assert code == BAD_STATE and "stopped" in msg


def test_runs_only_one_bolus_at_a_time():
    p = _prog(demand=Demand(20000, 10 * MINUTE, 60 * MINUTE, 6))
    d = Delivery(p, MONDAY, STEP_PL)
    d.request_bolus("clinician", MS_PER_H, Bolus(50000, 30 * MINUTE), False, p.volume_nl)
    code, msg = _refusal(d.request_bolus, "demand", MS_PER_H + 10 * MINUTE, p.demand, False,
                         p.volume_nl)
    assert code == BAD_STATE
    assert msg == "the clinician bolus is running: one bolus at a time; it ends in 20 minutes", msg
    _refusal(d.request_bolus, "clinician", MS_PER_H + 30 * MINUTE - 1, Bolus(1, 1), False,
             p.volume_nl)
    d.request_bolus("demand", MS_PER_H + 30 * MINUTE, p.demand, False, p.volume_nl)
    s = d.bolus_status(MS_PER_H + 31 * MINUTE)
    assert s["active"] == "demand" and s["ends_ms"] == MS_PER_H + 40 * MINUTE
    assert s["demand_lockout_ms"] == 59 * MINUTE


def test_refuses_a_bolus_while_a_periodic_or_catheter_bolus_runs():
    cat = Catheter("prime", 95000, 30 * MINUTE)
    per = Periodic(50000, 10 * MINUTE, 2 * MS_PER_H, 60 * MINUTE)     # 01:00, 03:00, ...
    p = _prog(catheter=cat, periodic=per)
    d = Delivery(p, MONDAY, STEP_PL)
    code, msg = _refusal(d.request_bolus, "clinician", 10 * MINUTE, Bolus(1000, MINUTE), False,
                         p.volume_nl)
    assert code == BAD_STATE and msg.startswith("the priming bolus is running"), msg
    assert msg.endswith("it ends in 20 minutes"), msg
    code, msg = _refusal(d.request_bolus, "clinician", 3 * MS_PER_H + MINUTE, Bolus(1000, MINUTE),
                         False, p.volume_nl)
    assert code == BAD_STATE and msg.startswith("the periodic bolus is running"), msg
    assert msg.endswith("it ends in 9 minutes"), msg


def test_refuses_a_bolus_that_would_still_run_when_the_next_periodic_bolus_starts():
    per = Periodic(50000, 10 * MINUTE, 2 * MS_PER_H, 0)     # 00:00, 02:00, ...
    p = _prog(periodic=per)
    d = Delivery(p, MONDAY, STEP_PL)
    t = 2 * MS_PER_H - 20 * MINUTE
    code, msg = _refusal(d.request_bolus, "clinician", t, Bolus(1000, 20 * MINUTE + 1), False,
                         p.volume_nl)
    assert code == BAD_STATE and "next periodic bolus starts in 20 minutes" in msg, msg
    # ending just as the periodic bolus starts is fine
    d.request_bolus("clinician", t, Bolus(1000, 20 * MINUTE), False, p.volume_nl)


def test_ended_requested_boluses_fold_into_a_constant():
    p = _prog()
    d = Delivery(p, MONDAY, STEP_PL)
    runtime = []
    t = 0
    for i in range(50):
        t += MS_PER_H
        _take(d, t)
        d.request_bolus("clinician", t, Bolus(1000 + i, 7 * MINUTE), False, p.volume_nl)
        runtime.append((t, 1000 + i, 7 * MINUTE))
    _take(d, t + MS_PER_H)
    assert len(d._runtime) == 0
    assert d.ideal(t + MS_PER_H) == ideal_units(p, MONDAY, t + MS_PER_H, runtime)
    assert d.steps_taken == ideal_units(p, MONDAY, t + MS_PER_H, runtime) // STEP


# ---- stop and start ------------------------------------------------------------------------

def test_does_not_make_up_volume_missed_while_stopped():
    per = Periodic(50000, 10 * MINUTE, 4 * MS_PER_H, 90 * MINUTE)   # 01:30, 05:30, ...
    p = _prog(periodic=per)
    d = Delivery(p, MONDAY, STEP_PL)
    _run(d, 0, MS_PER_H + 1800, 1000)
    assert d.steps_taken == 1000                 # and half a step owed
    d.stop(MS_PER_H + 1800)
    assert d.due(2 * MS_PER_H) == 0 and d.next_due_ms(2 * MS_PER_H) is None
    d.start(3 * MS_PER_H)
    assert d.due(3 * MS_PER_H) == 0              # no burst: the periodic bolus at 01:30 is gone
    assert d.next_due_ms(3 * MS_PER_H) == 3 * MS_PER_H + 1800   # the half step is still owed
    _run(d, 3 * MS_PER_H, 4 * MS_PER_H + 1800, 1000)
    assert d.steps_taken == 2001


def test_drops_steps_owed_but_not_taken_at_a_stop():
    d = Delivery(_prog(), MONDAY, STEP_PL)
    assert d.due(MS_PER_H) == 1000
    d.taken(10)                                  # the loop was capped, 990 still owed
    d.stop(MS_PER_H)
    d.start(MS_PER_H)
    assert d.due(MS_PER_H) == 0
    assert d.due(MS_PER_H + 3600) == 1


def test_a_stop_cancels_a_requested_bolus_in_progress():
    p = _prog()
    d = Delivery(p, MONDAY, STEP_PL)
    _run(d, 0, MS_PER_H, 1000)
    d.request_bolus("clinician", MS_PER_H, Bolus(60000, 60 * MINUTE), False, p.volume_nl)
    _run(d, MS_PER_H, MS_PER_H + 30 * MINUTE, 1000)
    assert d.steps_taken == 1500 + 300           # half the bolus: 30 uL
    d.stop(MS_PER_H + 30 * MINUTE)
    d.start(MS_PER_H + 40 * MINUTE)
    assert d.bolus_status(MS_PER_H + 40 * MINUTE)["active"] is None
    _run(d, MS_PER_H + 40 * MINUTE, 3 * MS_PER_H, 1000)
    assert d.steps_taken == 1800 + (3 * MS_PER_H - MS_PER_H - 40 * MINUTE) // 3600


def test_is_running_from_construction_and_start_stop_are_idempotent():
    d = Delivery(_prog(), MONDAY, STEP_PL)
    assert d.running
    d.start(0)
    assert d.due(3600) == 1
    d.stop(3600)
    d.stop(7200)
    assert not d.running and d.due(99999) == 0
    expect_raises(ValueError, Delivery, _prog(), MONDAY, 0)


# ---- the control loop's cost ---------------------------------------------------------------

def test_allocates_nothing_per_tick_in_steady_state():
    ticks, alloc = measure_tick_alloc(10000)     # basal, then during a bolus
    if sys.implementation.name != "micropython":
        return                                   # CPython allocates ints: exercised only
    assert alloc == 0, "%d bytes in %d ticks" % (alloc, 2 * ticks)


def test_simulates_a_day_of_a_flex_week_with_periodic_boluses():
    steps, wakes, seconds = sim_day()
    # 48 steps of 1..5 mL/day plus 12 periodic boluses of 50 uL, in 0.1 uL steps
    assert 10000 + 6000 < steps < 50000 + 6000, steps
    # one wake-up per step, plus one per window (48 steps, 24 bolus starts and ends)
    assert wakes <= steps + 48 + 24 + 2, (steps, wakes)


# ---- projection ----------------------------------------------------------------------------

def test_projects_when_the_reservoir_reaches_low_and_empty():
    p = _prog()
    r = project(p, MONDAY, 0, 2400000, 600000)      # 2.4 mL at 2.4 mL/day, low at 0.6 mL
    assert r == {"low_at": 18 * MS_PER_H, "empty_at": MS_PER_DAY}
    r = project(p, MONDAY, 5000, 2400000, 600000)
    assert r == {"low_at": 5000 + 18 * MS_PER_H, "empty_at": 5000 + MS_PER_DAY}


def test_projection_counts_the_catheter_bolus_and_the_flex_schedule():
    cat = Catheter("prime", 100000, 30 * MINUTE)
    p = _prog(steps=((0, 0), (12 * MS_PER_H, 2 * R24)), catheter=cat)
    # 100 uL of priming; then nothing until noon, then 4.8 mL/day: 200 uL more take 1 h
    r = project(p, MONDAY, 0, 300000, 200000)
    assert r["low_at"] == 30 * MINUTE
    assert r["empty_at"] == 13 * MS_PER_H


def test_projection_is_now_when_already_there_and_none_beyond_the_horizon():
    p = _prog(steps=((0, 1000),))                   # 1 uL/day
    r = project(p, MONDAY, 777, 500, 600)
    assert r["low_at"] == 777 and r["empty_at"] == 777 + MS_PER_DAY // 2
    r = project(p, MONDAY, 0, 20000000, 1000)
    assert r == {"low_at": None, "empty_at": None}
    r = project(_prog(steps=((0, 0),)), MONDAY, 0, 0, 0)
    assert r == {"low_at": 0, "empty_at": 0}


def test_daily_volume_counts_calendar_days_from_the_start():
    p = _prog(days={5: ((0, 2 * R24),)})
    friday_18 = MONDAY + 4 * MS_PER_DAY + 18 * MS_PER_H
    assert daily_volume_nl(p, friday_18, 0) == R24 // 4
    assert daily_volume_nl(p, friday_18, 1) == 2 * R24
    assert daily_volume_nl(p, friday_18, 2) == R24
