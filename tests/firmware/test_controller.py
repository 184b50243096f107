# Unit tests of pump.controller; plain functions so pytest and tests/mprun.py (MicroPython) both run them.

from pump.controller import Controller, RUNNING, STOPPED
from pump.errors import PumpError, BAD_ARG, BAD_STATE, LIMIT

from fakes import expect_raises

MS_PER_H = 3600000


def sim_controller(max_steps_per_s=200, max_rate_ul_h=5000, ul_per_step=0.1):
    """The sim board's numbers: 0.1 uL/step, 5000 uL/h, 200 steps/s, 20 mL reservoir."""
    return Controller(ul_per_step, max_rate_ul_h, max_steps_per_s, 20000)


def refusal(ctl, rate):
    return expect_raises(PumpError, ctl.set_rate, 0, rate)


def run_until(ctl, now):
    """Take every step due up to now, burst by burst as the main loop does; return how many."""
    total = 0
    while True:
        n = ctl.due(now)
        if not n:
            return total
        ctl.taken(n)
        total += n


# ---- refusals ------------------------------------------------------------------------------

def test_start_without_a_rate_is_refused_with_bad_state():
    ctl = sim_controller()
    e = expect_raises(PumpError, ctl.start, 0)
    assert e.code == BAD_STATE, e.code
    assert ctl.state == STOPPED
    ctl.set_rate(0, 0)
    assert expect_raises(PumpError, ctl.start, 0).code == BAD_STATE
    assert ctl.state == STOPPED


def test_a_negative_nan_bool_or_non_number_rate_is_bad_arg_on_args_rate_ul_h():
    ctl = sim_controller()
    ctl.set_rate(0, 10)
    for bad in (-1, -0.001, float("-inf"), float("nan"), True, False, "10", None, [1], {"r": 1}):
        e = refusal(ctl, bad)
        assert (e.code, e.path) == (BAD_ARG, "args.rate_ul_h"), (bad, e.code, e.path)
        assert ctl.rate_nl_h == 10000, bad   # a refused rate changes nothing


def test_a_rate_above_the_board_maximum_is_refused_with_limit():
    ctl = sim_controller()
    for bad in (5000.001, 5001, 10 ** 30, 1e300, 1e306, 1.7e308, float("inf")):
        e = refusal(ctl, bad)
        assert (e.code, e.path) == (LIMIT, "args.rate_ul_h"), (bad, e.code, e.path)
        assert ctl.rate_nl_h == 0
    assert ctl.set_rate(0, 5000) == 5000000
    # requests have 0.001 uL/h resolution: a rate that rounds to the maximum is the maximum
    assert ctl.set_rate(0, 5000.0004) == 5000000


def test_a_rate_equal_to_a_fractional_board_maximum_is_accepted():
    # 1.001 * 1000 is 1000.9999999999999 in floats: the maximum must not lose its last 0.001
    ctl = sim_controller(max_rate_ul_h=1.001)
    assert ctl.set_rate(0, 1.001) == 1001
    assert refusal(ctl, 1.002).code == LIMIT
    ctl = sim_controller(max_rate_ul_h=4.35)
    assert ctl.set_rate(0, 4.35) == 4350
    assert refusal(ctl, 4.351).code == LIMIT


def test_a_board_maximum_finer_than_0_001_ul_h_is_rounded_down_never_up():
    ctl = sim_controller(max_rate_ul_h=2.0009)
    assert ctl.set_rate(0, 2.0) == 2000
    assert refusal(ctl, 2.001).code == LIMIT


# ---- delivery ------------------------------------------------------------------------------

def test_nothing_is_due_before_start_whatever_the_rate():
    ctl = sim_controller()
    ctl.set_rate(0, 5000)
    assert ctl.due(MS_PER_H) == 0
    assert ctl.next_due_ms() is None


def test_start_delivers_from_the_start_time_not_from_when_the_rate_was_set():
    ctl = sim_controller()
    ctl.set_rate(0, 100)                  # one 0.1 uL step every 3600 ms
    ctl.start(10000)
    assert ctl.state == RUNNING
    assert ctl.next_due_ms() == 13600
    assert ctl.due(13599) == 0
    assert ctl.due(13600) == 1


def test_stop_halts_steps_that_would_be_due():
    ctl = sim_controller()
    ctl.set_rate(0, 100)
    ctl.start(0)
    assert run_until(ctl, 36000) == 10
    ctl.stop(36000)
    assert ctl.state == STOPPED
    assert ctl.due(36000 + MS_PER_H) == 0
    assert ctl.next_due_ms() is None
    assert ctl.steps == 10


def test_bursts_are_capped_at_max_burst_and_the_rest_follow_on_later_calls():
    ctl = sim_controller(max_steps_per_s=200)
    assert ctl.max_burst == 200
    ctl.set_rate(0, 5000)                # 50000 steps/h: 1388 steps owed after 100 s
    ctl.start(0)
    bursts = []
    while True:
        n = ctl.due(100000)
        if not n:
            break
        bursts.append(n)
        ctl.taken(n)
    assert bursts == [200] * 6 + [188], bursts
    assert ctl.steps == 5000 * 100 * 10 // 3600 == 1388


def test_max_burst_is_whole_steps_and_at_least_one():
    assert sim_controller(max_steps_per_s=2.7).max_burst == 2
    assert sim_controller(max_steps_per_s=0.5).max_burst == 1
    ctl = sim_controller(max_steps_per_s=0.5)
    ctl.set_rate(0, 5000)
    ctl.start(0)
    assert ctl.due(MS_PER_H) == 1


def test_delivered_and_reservoir_volumes_track_the_steps_taken():
    ctl = sim_controller()
    ctl.set_rate(0, 100)
    ctl.start(0)
    assert (ctl.delivered_ul(), ctl.reservoir_ul()) == (0, 20000)
    assert run_until(ctl, MS_PER_H) == 1000
    assert ctl.steps == 1000
    assert ctl.delivered_ul() == 100.0
    assert ctl.reservoir_ul() == 19900.0
    ctl.taken(3)
    assert ctl.delivered_ul() == 100.3
    assert ctl.reservoir_ul() == 19899.7


def test_steps_not_taken_are_not_counted_as_delivered():
    ctl = sim_controller()
    ctl.set_rate(0, 100)
    ctl.start(0)
    assert ctl.due(MS_PER_H) == 200    # owed, but only commanded when taken
    assert ctl.delivered_ul() == 0 and ctl.reservoir_ul() == 20000


def test_a_rate_change_while_running_keeps_the_fraction_of_a_step_already_owed():
    ctl = sim_controller()
    ctl.set_rate(0, 100)                 # one step every 3600 ms
    ctl.start(0)
    ctl.set_rate(1800, 200)              # half owed; the other half takes 900 ms at the new rate
    assert ctl.next_due_ms() == 2700
    assert ctl.due(2699) == 0 and ctl.due(2700) == 1


def test_a_rate_set_while_stopped_waits_for_start():
    ctl = sim_controller()
    ctl.set_rate(0, 100)
    ctl.start(0)
    ctl.stop(1800)
    ctl.set_rate(5000, 200)
    assert ctl.due(MS_PER_H) == 0
    ctl.start(10000)
    assert ctl.next_due_ms() == 10900    # the half step owed at stop, at the new rate


def test_stop_then_start_keeps_the_fraction_of_a_step_owed_at_stop():
    # What the code does: the fraction owed at stop is kept, and nothing accrues while stopped.
    ctl = sim_controller()
    ctl.set_rate(0, 100)
    ctl.start(0)
    assert run_until(ctl, 5400) == 1
    ctl.stop(5400)                       # half a step owed
    ctl.start(100000)
    assert ctl.next_due_ms() == 101800
    assert ctl.due(101799) == 0 and ctl.due(101800) == 1
    assert run_until(ctl, 100000 + MS_PER_H) == 1000   # 1000.5 steps owed by then


def test_a_stop_drops_steps_not_yet_taken_so_a_later_start_never_bursts_them_out():
    ctl = sim_controller()
    ctl.set_rate(0, 5000)
    ctl.start(0)
    assert ctl.due(100000) == 200
    ctl.taken(200)
    ctl.stop(100000)                     # 1188 steps were owed, not taken: dropped at the stop
    assert ctl.due(200000) == 0
    ctl.start(MS_PER_H)
    # Only the fraction of a step survives: the first step is due after less than one step's time.
    step_ms = MS_PER_H * 0.1 / 5000
    assert MS_PER_H < ctl.next_due_ms() <= MS_PER_H + step_ms
    assert run_until(ctl, MS_PER_H) == 0


def test_a_rate_of_zero_while_running_commands_no_steps():
    ctl = sim_controller()
    ctl.set_rate(0, 100)
    ctl.start(0)
    ctl.set_rate(1800, 0)
    assert ctl.due(MS_PER_H) == 0
    assert ctl.next_due_ms() is None
