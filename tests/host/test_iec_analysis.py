"""IEC 60601-2-24 flow-accuracy arithmetic (host_tools/iec_analysis.py) on samples with known answers."""
import math

import pytest

from host_tools.iec_analysis import (AnalysisError, STANDARD_WINDOWS_MIN, analyse, interval_flows,
                                     mean_flow_error_pct, resolution_pct, sample_interval_s, trumpet)


def two_hours(volume_at, interval_s=30):
    """Samples every interval_s over 2 h: (t, volume_at(t))."""
    return [(k * interval_s, volume_at(k * interval_s)) for k in range(7200 // interval_s + 1)]


def test_a_pump_delivering_3_percent_over_its_rate_shows_plus_3_percent_in_every_figure():
    rate = 5000.0
    samples = two_hours(lambda t: 1.03 * rate * t / 3600)
    fig = analyse(samples, rate)
    assert fig["mean_error_pct"] == pytest.approx(3.0)
    assert [row["window_min"] for row in fig["trumpet"]] == list(STANDARD_WINDOWS_MIN)
    for row in fig["trumpet"]:
        assert row["ep_max_pct"] == pytest.approx(3.0) and row["ep_min_pct"] == pytest.approx(3.0), row
    assert all(q == pytest.approx(1.03 * rate) for _, _, q in fig["flows"])


def test_the_second_hour_is_judged_alone_so_a_slow_start_up_does_not_count():
    rate = 1000.0
    # nothing for the first 20 min (a line filling), then exactly the rate
    samples = two_hours(lambda t: max(0.0, t - 1200) * rate / 3600)
    assert mean_flow_error_pct(samples, rate) == pytest.approx(0.0)
    assert mean_flow_error_pct(samples, rate, 0, 7200) == pytest.approx(-100 * 1200 / 7200)


def test_the_windows_count_as_the_standard_slides_them_one_interval_at_a_time():
    rows = trumpet(two_hours(lambda t: t), 3600.0)
    # the second hour has 120 intervals of 30 s: a window of P intervals fits 120 - P + 1 times
    assert [(r["window_min"], r["windows"]) for r in rows] == [
        (2, 117), (5, 111), (11, 99), (19, 83), (31, 59)]


def test_a_periodic_pulsation_widens_the_trumpet_at_2_min_and_averages_out_at_31_min():
    rate, amplitude, period_s = 3600.0, 1.2, 240.0   # 1 uL/s with a 4 min, +-1.2 uL ripple
    samples = two_hours(lambda t: rate * t / 3600 + amplitude * math.sin(2 * math.pi * t / period_s))
    rows = {r["window_min"]: r for r in trumpet(samples, rate)}
    # a 2 min window spans half a period: its volume is off by up to 2 A
    assert rows[2]["ep_max_pct"] == pytest.approx(100 * 2 * amplitude / 120)
    assert rows[2]["ep_min_pct"] == pytest.approx(-100 * 2 * amplitude / 120)
    # a 31 min window spans 7.75 periods: off by up to A * sqrt(2), over a window 15.5 x longer
    assert rows[31]["ep_max_pct"] == pytest.approx(100 * math.sqrt(2) * amplitude / 1860)
    assert rows[31]["ep_min_pct"] == pytest.approx(-100 * math.sqrt(2) * amplitude / 1860)
    spreads = [rows[p]["ep_max_pct"] - rows[p]["ep_min_pct"] for p in STANDARD_WINDOWS_MIN]
    assert spreads[0] > 10 * spreads[-1]
    # whole periods in the second hour: the mean is exact
    assert mean_flow_error_pct(samples, rate) == pytest.approx(0.0, abs=1e-9)


def test_a_small_case_computed_by_hand():
    # 120 uL/h is 1 uL per 30 s interval
    samples = [(0, 0.0), (30, 1.0), (60, 3.0), (90, 4.0), (120, 4.0)]
    assert [q for _, _, q in interval_flows(samples)] == pytest.approx([120, 240, 120, 0])
    # 1 min windows: 0-60 s 3 uL (+50 %), 30-90 s 3 uL (+50 %), 60-120 s 1 uL (-50 %)
    (row,) = trumpet(samples, 120.0, windows_min=(1,), start_s=0, end_s=120)
    assert row == {"window_min": 1, "ep_max_pct": pytest.approx(50.0),
                   "ep_min_pct": pytest.approx(-50.0), "windows": 3}
    assert mean_flow_error_pct(samples, 120.0, 0, 120) == pytest.approx(0.0)
    (whole,) = trumpet(samples, 120.0, windows_min=(2,), start_s=0, end_s=120)
    assert whole["windows"] == 1 and whole["ep_max_pct"] == pytest.approx(0.0)


def test_samples_a_few_ms_late_are_judged_over_their_measured_durations():
    rate = 5000.0
    times = [k * 30 + (0.05 * (k % 3) if k else 0) for k in range(241)]   # a real rig's jitter
    samples = [(t, rate * t / 3600) for t in times]
    assert sample_interval_s(samples) == pytest.approx(30.0, abs=0.1)
    fig = analyse(samples, rate)
    assert fig["mean_error_pct"] == pytest.approx(0.0, abs=1e-9)
    for row in fig["trumpet"]:
        assert row["ep_max_pct"] == pytest.approx(0.0, abs=1e-9), row
        assert row["ep_min_pct"] == pytest.approx(0.0, abs=1e-9), row


def test_longer_windows_for_slow_rates_need_only_fit_the_sample_interval():
    rate = 500.0 / 24   # 0.5 mL/day, sampled every 5 min for a day
    samples = [(k * 300, rate * k * 300 / 3600) for k in range(24 * 12 + 1)]
    rows = trumpet(samples, rate, windows_min=(60, 240, 480), start_s=3600, end_s=86400)
    assert [r["windows"] for r in rows] == [265, 229, 181]   # 276 intervals of 5 min
    with pytest.raises(AnalysisError, match="not a whole number"):
        trumpet(samples, rate, windows_min=(2,), start_s=3600, end_s=86400)


def test_resolution_is_a_quantum_as_a_percentage_of_the_window_volume():
    # 0.1 uL of a 2 min window at 0.5 mL/day (0.694 uL): 14.4 %
    assert resolution_pct(500.0 / 24, 120, 0.1) == pytest.approx(14.4)
    assert resolution_pct(5000.0, 120, 0.1) == pytest.approx(0.06)


@pytest.mark.parametrize("samples, message", [
    ([(0, 0.0)], "at least 2 samples"),
    ([(0, 0.0), (30, 1.0), (30, 2.0)], "must increase"),
    ([(0, 0.0), ("soon", 1.0)], "not a .time s, volume uL. pair"),
    ([(0, 0.0), (30, float("nan"))], "not finite"),
    ([(0, 0.0), (30, 1.0), (90, 2.0), (120, 3.0)], "not evenly spaced"),
])
def test_unusable_samples_are_refused_with_the_reason(samples, message):
    with pytest.raises(AnalysisError, match=message):
        analyse(samples, 100.0, 0, samples[-1][0] if len(samples) > 1 else 30)


def test_a_period_the_samples_do_not_cover_and_windows_that_do_not_fit_are_refused():
    one_hour = [(k * 30, k * 1.0) for k in range(121)]
    with pytest.raises(AnalysisError, match="do not cover the analysis period"):
        mean_flow_error_pct(one_hour, 120.0)            # the default period is the second hour
    with pytest.raises(AnalysisError, match="longer than the analysis period"):
        trumpet(one_hour, 120.0, windows_min=(61,), start_s=0, end_s=3600)
    with pytest.raises(AnalysisError, match="end after it starts"):
        trumpet(one_hour, 120.0, start_s=600, end_s=600)
    for rate in (0, -5, float("inf"), True):
        with pytest.raises(AnalysisError, match="rate must be a number > 0"):
            mean_flow_error_pct(one_hour, rate, 0, 3600)
