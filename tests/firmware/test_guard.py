# Unit tests of pump.guard (runaway guard, guarded motor); plain functions for pytest and tests/mprun.py.
#
# Correct delivery comes from the real planner (pump.planner.Delivery) and the real program
# compiler, driven as the app's loop drives them; expected limits are worked out here in
# integers from the program's numbers, never by asking the guard.

import gc
import sys

from pump.errors import PumpError
from pump.guard import (RunawayGuard, GuardedMotor, LATE_MS, MARGIN_STEPS, MAX_GRANTS,
                        limits_for_program, limits_for_rate)
from pump.planner import Delivery
from pump.program import compile_program, clinician_bolus
from pump.rate import StepAccumulator
from pump.therapy import Program, Day
from pump.units import MS_PER_DAY, MS_PER_MIN

from fakes import FakeClock, FakeMotor, board_cfg, drug_library, lcg

STEP_PL = 100000                  # 0.1 uL per step
MONDAY = 4 * MS_PER_DAY           # 1970-01-05 00:00 local time
HOUR = 60 * MS_PER_MIN
BOOT = 987654                     # board ms at which the program starts: its t = 0
MAX_BURST = 200                   # the test board's max_steps_per_s: the app's burst cap
BIG = 10 ** 12                    # a reservoir that never limits a bolus here
CAP_300 = 300 * 24000             # 300 uL/h in nL/day


def _ceil(a, b):
    return -(-a // b)


def _doc(temp=True, boluses=True):
    """Saline in mL/day on a 300 uL/h board: flex 1.2 / 2.4 mL/day with a slower Saturday, a
    3 mL/day temp for 2 h, a priming bolus, a periodic bolus every 2 h and a demand bolus
    (6 a day, 30 min lockout); the board's cap stretches every bolus to 175 uL/h."""
    doc = {"format": 1, "name": "guard", "purpose": "bench",
           "drug": {"name": "saline", "concentration": 9, "concentration_units": "mg/mL",
                    "dose_units": "mL/day"},
           "reservoir": {"capacity_ml": 20, "volume_ml": 20, "low_ml": 2},
           "flex": {"steps": [{"start": "00:00", "rate": 1.2}, {"start": "07:30", "rate": 2.4}],
                    "days": {"sat": [{"start": "00:00", "rate": 0.5}]}}}
    if temp:
        doc["temp"] = {"rate": 3.0, "duration_min": 120}
    if boluses:
        doc["periodic"] = {"dose": 0.05, "duration_min": 10, "interval_min": 120,
                           "first": "00:15"}
        doc["demand"] = {"dose": 0.02, "duration_min": 5, "lockout_min": 30, "max_per_24h": 6}
        doc["catheter"] = {"length_cm": 50, "ul_per_cm": 1.9}
        doc["prime"] = {"duration_min": 30}
    return doc


_LIB = []


def _compile(doc, board):
    if not _LIB:
        _LIB.append(drug_library())
    return compile_program(doc, board, _LIB[0])


def _basal_program(rate_nl_day):
    p = Program()
    p.days = [Day([0], [rate_nl_day])] * 7
    return p


def _drive(guard, program, board, hours, clinician_at=(), faulty=1, late_every=23, seed=7,
           planner_program=None):
    """Run program through the real planner as the app's loop does, asking the guard before
    every burst. Demand boluses are requested as soon as the planner allows them; clinician
    boluses at the given program hours (three back to back, each granted). The loop is late
    by up to LATE_MS now and then, and catches up. faulty > 1 is a planner fault that commands
    that many times the steps due; planner_program, a planner fault that plans another
    program than the one the guard was given. Returns (program ms of a refusal or None, steps,
    the highest count each window held)."""
    if planner_program is not None:
        program = planner_program
    d = Delivery(program, MONDAY + 7 * HOUR + 30 * MS_PER_MIN, STEP_PL)   # 07:30: the top rate
    rnd = lcg(seed)
    end = hours * HOUR
    t = 0
    next_demand = 0 if program.demand is not None else None
    clin = [h * HOUR for h in clinician_at]
    clin_left = 0
    steps = 0
    peaks = [0, 0, 0]
    while t <= end:
        n = d.due(t)
        if n > MAX_BURST:
            n = MAX_BURST
        if n:
            if not guard.allow(BOOT + t, n * faulty):
                return t, steps, peaks
            d.taken(n)
            steps += n * faulty
            for i in range(3):
                c = guard.windows[i].total
                if c > peaks[i]:
                    peaks[i] = c
        if next_demand is not None and t >= next_demand:
            try:
                d.request_bolus("demand", t, None, False, BIG)
                next_demand = t + program.demand.lockout_ms
            except PumpError:
                next_demand = t + MS_PER_MIN
        if clin and t >= clin[0]:
            clin.pop(0)
            clin_left = 3
        if clin_left:
            bolus = clinician_bolus(program, 0.1, 10, board)[0]
            try:
                d.request_bolus("clinician", t, bolus, False, BIG)
                guard.grant(BOOT + t, bolus.volume_nl, bolus.duration_ms)
                clin_left -= 1
            except PumpError:
                pass
        nxt = d.next_due_ms(t)
        if nxt is None or nxt > t + MS_PER_MIN:
            nxt = t + MS_PER_MIN        # the loop wakes at least this often for requests
        if nxt > t and rnd(late_every) == 0:
            nxt += rnd(LATE_MS + 1)     # the loop is late: steps pile up, then come in a burst
        t = nxt
    return None, steps, peaks


# ---- the limit rule --------------------------------------------------------------------------

def test_limits_follow_the_documented_rule_for_a_program_with_every_bolus():
    board = board_cfg(max_rate_ul_h=300)
    p = _compile(_doc(), board)
    assert p.cap_nl_day == CAP_300 and p.bolus_cap_nl_day == CAP_300 - 3000000
    unit = STEP_PL * 86400                     # one step in nL/day x ms
    spans = (60000 + 1000 + LATE_MS, HOUR + MS_PER_MIN + LATE_MS, MS_PER_DAY + HOUR + LATE_MS)
    want = []
    for s in spans:
        basal = 3000000 * s                    # the temp rate is the top rate
        per = _ceil(s + p.periodic.duration_ms, 120 * MS_PER_MIN) * 50000
        dem = min(_ceil(s + p.demand.duration_ms, 30 * MS_PER_MIN),
                  _ceil(s + p.demand.duration_ms, MS_PER_DAY) * 6) * 20000
        bolus = min((95000 + per + dem) * 86400000, (CAP_300 - 3000000) * s)
        want.append(_ceil(min(basal + bolus, CAP_300 * s), unit) + MARGIN_STEPS)
    assert limits_for_program(p, STEP_PL) == want
    # worked by hand for the day: 3 mL/day over 25 h 5 s, 95 uL priming, 13 periodic, 12 demand
    assert want[2] == _ceil(3000000 * spans[2] + (95000 + 13 * 50000 + 12 * 20000) * 86400000,
                            unit) + MARGIN_STEPS


def test_a_plain_basal_limit_is_the_rate_over_the_window_plus_a_bucket_and_the_lateness():
    p = _basal_program(2400000)                # 100 uL/h: 1000 steps an hour
    # 1000 steps/h over 66 s, 61 min 5 s and 25 h 5 s, rounded up, plus the margin
    assert limits_for_program(p, STEP_PL) == [_ceil(1000 * 66, 3600) + 2,
                                              _ceil(1000 * 3665, 3600) + 2,
                                              _ceil(1000 * 90005, 3600) + 2]


def test_an_unconfigured_guard_refuses_every_step():
    g = RunawayGuard(STEP_PL)
    assert g.allow(0, 1) is False
    assert g.breach["limit"] == 0


# ---- never trips on correct delivery ---------------------------------------------------------

def test_never_trips_on_a_correct_program_at_its_maximum_including_all_boluses():
    board = board_cfg(max_rate_ul_h=300)
    p = _compile(_doc(), board)
    g = RunawayGuard(STEP_PL, late_ms=LATE_MS)
    g.set_program(p, BOOT)
    refused, steps, peaks = _drive(g, p, board, 48, clinician_at=(10, 30))
    assert refused is None, (refused, g.breach)
    # two days of 1.2-3 mL/day plus boluses: the run really delivered
    assert steps > 2 * 12000
    lim = limits_for_program(p, STEP_PL)
    # the test is not slack: the busiest minute and hour came close to their limits
    assert peaks[0] * 10 >= lim[0] * 7, (peaks, lim)
    assert peaks[1] * 10 >= lim[1] * 7, (peaks, lim)


def test_never_trips_on_correct_plain_basal_delivery_with_a_late_loop():
    p = _basal_program(2400000)
    g = RunawayGuard(STEP_PL)
    g.set_program(p, BOOT)
    refused, steps, peaks = _drive(g, p, board_cfg(), 30, late_every=5, seed=11)
    assert refused is None, (refused, g.breach)
    assert steps >= 30000 - 1


def test_a_clinician_bolus_needs_its_grant():
    # a quiet program: its own limits leave no room for a clinician bolus of 100 uL
    board = board_cfg(max_rate_ul_h=300)
    p = _compile(_doc(temp=False, boluses=False), board)
    g = RunawayGuard(STEP_PL)
    g.set_program(p, BOOT)
    refused, _, _ = _drive(g, p, board, 16, clinician_at=(10,))
    assert refused is None, (refused, g.breach)

    class NoGrant(RunawayGuard):
        def grant(self, now_ms, volume_nl, duration_ms):
            return 0
    g = NoGrant(STEP_PL)
    g.set_program(p, BOOT)
    refused, _, _ = _drive(g, p, board, 16, clinician_at=(10,))
    assert refused is not None and 10 * HOUR <= refused < 11 * HOUR, (refused, g.breach)


def test_more_grants_than_slots_merge_and_still_allow_every_bolus():
    g = RunawayGuard(STEP_PL)
    g.set_limits_steps(0, 0, 0, 0)
    for i in range(MAX_GRANTS + 3):
        g.grant(i * 1000, 1000, 60000)          # 1 uL each: 10 steps
    assert g.state(10000)["limits"]["day"] == 10 * (MAX_GRANTS + 3)
    assert g.allow(20000, 10 * (MAX_GRANTS + 3)) is True
    assert g.allow(20001, 1) is False


def test_a_change_of_program_does_not_trip_on_what_the_old_one_delivered():
    fast = _basal_program(24000000)             # 1 mL/h: 10000 steps an hour
    slow = _basal_program(2400000)              # a tenth of it
    g = RunawayGuard(STEP_PL)
    g.set_program(fast, BOOT)
    acc = StepAccumulator(STEP_PL)
    acc.restart(BOOT, 1000000)
    t = BOOT
    while t < BOOT + 3 * HOUR:
        n = acc.due(t)
        assert g.allow(t, n), (t, g.breach)
        acc.taken(n)
        t += 500
    g.set_program(slow, t)
    acc.restart(t, 100000)
    end = t + 26 * HOUR
    while t < end:
        n = acc.due(t)
        assert g.allow(t, n), (t, g.breach)
        acc.taken(n)
        t += 500
    # 26 h on, the old counts have rolled out: the slow program's own limits hold again
    st = g.state(t)
    assert st["limits"]["hour"] == limits_for_program(slow, STEP_PL)[1]


# ---- trips on a runaway ----------------------------------------------------------------------

def test_trips_within_one_minute_when_a_planner_fault_steps_at_the_motors_maximum():
    board = board_cfg(max_rate_ul_h=300)
    p = _compile(_doc(), board)
    g = RunawayGuard(STEP_PL)
    g.set_program(p, BOOT)
    t = BOOT
    stepped = 0
    while g.allow(t, MAX_BURST):                # a burst of the motor's maximum every second
        stepped += MAX_BURST
        t += 1000
        assert t < BOOT + MS_PER_MIN, stepped
    assert g.breach["window"] == "minute"
    assert stepped <= limits_for_program(p, STEP_PL)[0]


def test_trips_on_a_runaway_at_twice_the_programs_max_rate_within_its_hour_window():
    # a periodic bolus gives the minute window room, so it is the hour window that catches a
    # planner fault delivering everything twice over
    board = board_cfg(max_rate_ul_h=300)
    doc = _doc(temp=False, boluses=False)
    doc["periodic"] = {"dose": 0.05, "duration_min": 30, "interval_min": 240, "first": "00:15"}
    p = _compile(doc, board)
    g = RunawayGuard(STEP_PL)
    g.set_program(p, BOOT)
    refused, steps, _ = _drive(g, p, board, 24, faulty=2)
    assert refused is not None and refused <= HOUR, (refused, g.breach)
    assert g.breach["window"] == "hour", g.breach
    # and the same program delivered correctly runs a day without a trip
    g = RunawayGuard(STEP_PL)
    g.set_program(p, BOOT)
    assert _drive(g, p, board, 24)[0] is None, g.breach


def test_trips_on_a_slow_runaway_in_the_hour_window():
    p = _basal_program(2400000)                 # 1000 steps an hour
    g = RunawayGuard(STEP_PL)
    lim = g.set_program(p, BOOT)
    t = BOOT
    # 15 % too fast: within the minute window's slack, over the hour's in little over an hour
    while g.allow(t, 1):
        t += 3130
        assert t < BOOT + 2 * HOUR
    assert g.breach["window"] == "hour", g.breach
    assert g.breach["counted"] == lim[1] + 1


def test_trips_in_the_day_window_when_demand_boluses_break_their_maximum_per_24_h():
    # the planner wrongly allows a demand bolus every lockout (48 a day, not 6): no hour holds
    # more than the lockout allows, so only the day window can see it
    board = board_cfg(max_rate_ul_h=300)
    doc = _doc(temp=False, boluses=False)
    doc["demand"] = {"dose": 0.02, "duration_min": 5, "lockout_min": 30, "max_per_24h": 6}
    p = _compile(doc, board)
    doc["demand"]["max_per_24h"] = 48
    wrong = _compile(doc, board)
    g = RunawayGuard(STEP_PL)
    g.set_program(p, BOOT)
    refused, _, _ = _drive(g, p, board, 24, planner_program=wrong)
    # the day's limit counts the top basal rate for 25 h: the extra boluses show within the day
    assert refused is not None and refused < 24 * HOUR, (refused, g.breach)
    assert g.breach["window"] == "day", g.breach
    # the right planner runs the same day without a trip
    g = RunawayGuard(STEP_PL)
    g.set_program(p, BOOT)
    assert _drive(g, p, board, 24)[0] is None, g.breach


# ---- the guarded motor -----------------------------------------------------------------------

def test_disables_the_motor_and_steps_nothing_once_tripped():
    clock = FakeClock(BOOT)
    motor = FakeMotor(clock)
    g = RunawayGuard(STEP_PL)
    lim = g.set_program(_basal_program(2400000), BOOT)
    breaches = []
    m = GuardedMotor(motor, g, clock, breaches.append)
    assert m.enable() is True and motor.enabled
    assert m.step(lim[0]) is True
    assert motor.steps == lim[0]
    clock.t += 1000
    assert m.step(1) is False
    assert not motor.enabled and motor.steps == lim[0]
    assert motor.calls[-1] == "disable"
    assert len(breaches) == 1 and breaches[0]["window"] == "minute"
    assert breaches[0]["counted"] == lim[0] + 1 and breaches[0]["limit"] == lim[0]
    # tripped: nothing moves, even hours later when the windows are empty, and enable refuses
    clock.t += 3 * HOUR
    assert m.step(1) is False and m.enable() is False
    assert motor.steps == lim[0] and not motor.enabled
    assert len(breaches) == 1                  # reported once
    # after a reset (the alarm dealt with) it steps again
    g.reset(clock.t)
    assert m.enable() is True and m.step(1) is True and motor.steps == lim[0] + 1


def test_reverse_steps_are_a_breach():
    g = RunawayGuard(STEP_PL)
    g.set_manual_rate(100000, 0)
    assert g.allow(10, -1) is False
    assert g.breach["window"] == "reverse"
    assert g.allow(20, 1) is False


def test_a_reset_keeps_the_counts_of_an_over_delivery():
    g = RunawayGuard(STEP_PL)
    lim = g.set_program(_basal_program(2400000), 0)
    assert g.allow(0, lim[0]) and not g.allow(1, 1)
    g.reset(2)
    assert g.state(2)["counts"]["minute"] == lim[0]
    assert g.allow(3, 1) is False
    g.reset(4)
    assert g.allow(62000, 1) is True           # the minute window rolled past it


# ---- manual rate ---------------------------------------------------------------------------

def test_manual_rate_mode_limits():
    g = RunawayGuard(STEP_PL, cap_nl_day=CAP_300)
    # 100 uL/h: 1000 steps an hour over 66 s, 61 min 5 s and 25 h 5 s, plus the margin
    lim = g.set_manual_rate(100000, BOOT)
    assert lim == [_ceil(1000 * 66, 3600) + 2, _ceil(1000 * 3665, 3600) + 2,
                   _ceil(1000 * 90005, 3600) + 2]
    assert limits_for_rate(100000, STEP_PL) == lim
    # a rate above the board's cap is held to the cap (300 uL/h)
    assert g.set_manual_rate(5000000, BOOT) == limits_for_rate(300000, STEP_PL)
    # correct delivery at the rate, with a rate change and a late loop, never trips
    g = RunawayGuard(STEP_PL, cap_nl_day=CAP_300)
    g.set_manual_rate(100000, BOOT)
    acc = StepAccumulator(STEP_PL)
    acc.restart(BOOT, 100000)
    rnd = lcg(3)
    t = BOOT
    while t < BOOT + 30 * HOUR:
        if t >= BOOT + 20 * HOUR and acc.rate_nl_h == 100000:
            acc.restart(t, 250000)
            g.set_manual_rate(250000, t)
        n = acc.due(t)
        assert g.allow(t, n), (t, g.breach)
        acc.taken(n)
        t += 1000 + (rnd(LATE_MS) if rnd(20) == 0 else 0)
    # and the same rate commanded 50 % too fast trips within the hour
    g = RunawayGuard(STEP_PL, cap_nl_day=CAP_300)
    g.set_manual_rate(100000, BOOT)
    t = BOOT
    while g.allow(t, 1):
        t += 2400                              # 1500 steps an hour
        assert t < BOOT + HOUR
    assert g.breach["window"] in ("minute", "hour")


def test_state_reports_counts_limits_and_mode():
    g = RunawayGuard(STEP_PL)
    lim = g.set_manual_rate(100000, 0)
    g.allow(500, 5)
    st = g.state(1000)
    assert st["mode"] == "rate" and st["breach"] is None
    assert st["counts"] == {"minute": 5, "hour": 5, "day": 5}
    assert st["limits"] == {"minute": lim[0], "hour": lim[1], "day": lim[2]}
    assert g.state(62000)["counts"] == {"minute": 0, "hour": 5, "day": 5}


# ---- memory -------------------------------------------------------------------------------

def test_allocates_nothing_per_step_on_micropython():
    g = RunawayGuard(STEP_PL)
    g.set_program(_basal_program(240000000), 0)       # 10 mL/h: room for every step below
    g.grant(10, 100000, HOUR)
    g.set_manual_rate(10000000, 20)                   # a change: the carry is in force too
    t = 1000

    def run(t, k):
        i = 0
        while i < k:
            g.allow(t, 1)
            t += 397                                  # crosses second and minute buckets
            i += 1
        return t
    t = run(t, 100)
    if not hasattr(gc, "mem_alloc"):
        run(t, 1000)
        return
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        t = run(t, 5000)
        after = gc.mem_alloc()
    finally:
        gc.enable()
    assert g.breach is None, g.breach
    if sys.implementation.name == "micropython":
        assert after - before == 0, after - before
