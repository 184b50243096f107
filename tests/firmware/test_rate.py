# Unit tests of pump.rate; plain functions so pytest and tests/mprun.py (MicroPython) both run them.
#
# Expected step counts are worked out here from the volumes in uL, with integers only, never
# by asking the code under test.

from pump.rate import StepAccumulator, ul_h_to_nl_h, ul_to_pl

from fakes import expect_raises, lcg

MS_PER_H = 3600000


def _take_all(acc, now):
    n = acc.due(now)
    acc.taken(n)
    return n


# ---- unit conversions ----------------------------------------------------------------------

def test_ul_h_to_nl_h_rounds_to_the_nearest_0_001_ul_h_absorbing_float_noise():
    assert ul_h_to_nl_h(33.3) == 33300
    assert ul_h_to_nl_h(1.001) == 1001          # 1.001 * 1000 is 1000.9999999999999
    assert ul_h_to_nl_h(0.1 + 0.2) == 300       # 0.30000000000000004
    assert ul_h_to_nl_h(5000) == 5000000
    assert ul_h_to_nl_h(0) == 0
    assert ul_h_to_nl_h(0.0004) == 0
    assert ul_h_to_nl_h(0.0006) == 1
    assert ul_h_to_nl_h(12.3456) == 12346
    assert ul_h_to_nl_h(12.3454) == 12345


def test_ul_to_pl_is_exact_for_calibrations_with_up_to_six_decimals():
    assert ul_to_pl(0.1) == 100000
    assert ul_to_pl(0.0833) == 83300
    assert ul_to_pl(0.000001) == 1
    assert ul_to_pl(2.5) == 2500000


def test_a_step_volume_of_zero_or_less_is_refused():
    expect_raises(ValueError, StepAccumulator, 0)
    expect_raises(ValueError, StepAccumulator, -1)


# ---- exact counts --------------------------------------------------------------------------

def test_one_hour_at_100_ul_h_is_exactly_1000_steps_of_0_1_ul():
    acc = StepAccumulator(ul_to_pl(0.1))
    acc.restart(0, ul_h_to_nl_h(100))
    assert acc.due(MS_PER_H - 1) == 999
    assert acc.due(MS_PER_H) == 1000


def test_thirty_days_at_33_3_ul_h_with_0_0833_ul_steps_never_drifts_from_the_exact_count():
    # 33.3 uL/h = 333/10, 0.0833 uL = 833/10000: after t ms the exact count is
    # floor(333/10 * t/3600000 / (833/10000)) = floor(333 * t / (3600 * 833))
    def exact(t):
        return 333 * t // (3600 * 833)

    acc = StepAccumulator(ul_to_pl(0.0833))
    acc.restart(0, ul_h_to_nl_h(33.3))
    end = 30 * 24 * MS_PER_H
    taken = 0
    t = 0
    while t < end:
        t += 61001   # an awkward polling period, not a divisor of anything here
        if t > end:
            t = end
        taken += _take_all(acc, t)
        assert taken == exact(t), (t, taken, exact(t))
    assert taken == 333 * 720 * 1000 // 833 == 287827


def test_next_due_ms_is_the_first_ms_at_which_one_more_step_is_due():
    # 0.0833 uL at 33.3 uL/h: step k is owed from ms ceil(k * 3600 * 833 / 333)
    acc = StepAccumulator(ul_to_pl(0.0833))
    acc.restart(0, ul_h_to_nl_h(33.3))
    for k in range(1, 3001):
        nxt = acc.next_due_ms()
        assert nxt == -(-k * 3600 * 833 // 333), (k, nxt)
        assert acc.due(nxt - 1) == 0, (k, nxt)
        assert acc.due(nxt) == 1, (k, nxt)
        acc.taken(1)


def test_next_due_ms_stays_exact_after_thirty_days_and_after_rate_changes():
    acc = StepAccumulator(ul_to_pl(0.0833))
    rnd = lcg(7)
    t = 0
    acc.restart(t, 33300)
    for _ in range(200):
        t += 1 + rnd(30 * 24 * MS_PER_H // 100)
        _take_all(acc, t)
        acc.restart(t, 1 + rnd(5000000))
        for _ in range(5):
            nxt = acc.next_due_ms()
            assert nxt > t
            assert acc.due(nxt - 1) == 0, (t, nxt)
            assert acc.due(nxt) == 1, (t, nxt)
            t = nxt
            _take_all(acc, t)


def test_many_rate_changes_never_lose_or_invent_volume():
    # the exact volume, in nL*ms/h, is the integral of the piecewise rate; one step is pl*3600
    pl = ul_to_pl(0.0833)
    step_units = pl * 3600
    acc = StepAccumulator(pl)
    rnd = lcg(2024)
    t = 0
    rate = 0
    integral = 0
    taken = 0
    acc.restart(t, rate)
    for i in range(3000):
        dt = rnd(4) * rnd(200000)          # zero now and then: several changes at the same ms
        integral += rate * dt
        t += dt
        if rate == 0:
            # at rate 0 nothing is due, even steps still owed from before: they wait for a rate
            assert _take_all(acc, t) == 0
        elif i % 3:                         # and some segments end with steps still untaken
            taken += _take_all(acc, t)
            owed = integral - taken * step_units
            assert 0 <= owed < step_units, (i, owed)
        rate = 0 if rnd(5) == 0 else rnd(5000001)
        acc.restart(t, rate)
    rate = 1  # end on a rate above 0, so that what is owed can be counted
    acc.restart(t, rate)
    taken += _take_all(acc, t)
    assert taken == integral // step_units, (taken, integral // step_units)


def test_a_rate_change_keeps_the_fraction_of_a_step_already_owed():
    acc = StepAccumulator(ul_to_pl(0.1))
    acc.restart(0, ul_h_to_nl_h(100))     # one step every 3600 ms
    assert acc.due(1800) == 0                # half a step owed
    acc.restart(1800, ul_h_to_nl_h(200))  # one step every 1800 ms: the other half takes 900 ms
    assert acc.next_due_ms() == 2700
    assert acc.due(2699) == 0
    assert acc.due(2700) == 1


def test_rate_zero_gives_no_steps_and_no_next_due_time():
    acc = StepAccumulator(ul_to_pl(0.1))
    assert acc.due(10 * MS_PER_H) == 0
    assert acc.next_due_ms() is None
    acc.restart(0, ul_h_to_nl_h(100))
    acc.restart(1800, 0)                     # half a step owed, then paused
    assert acc.due(1000 * MS_PER_H) == 0
    assert acc.next_due_ms() is None
    acc.restart(1000 * MS_PER_H, ul_h_to_nl_h(100))
    assert acc.next_due_ms() == 1000 * MS_PER_H + 1800
