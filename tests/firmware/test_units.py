# Unit tests of pump.units: every dose, volume and rate conversion is exact or rounds down.

from pump import units


def test_a_daily_dose_in_mg_converts_to_nl_per_day_through_the_concentration():
    # 1.2 mg/day at 10 mg/mL is 0.12 mL/day
    assert units.daily_rate_nl_day(1200, "mg/day", units.conc_ng_ml(10000, "mg/mL")) == 120000


def test_a_daily_dose_in_mcg_converts_through_a_mcg_per_ml_concentration():
    # 150 mcg/day at 500 mcg/mL is 0.3 mL/day
    assert units.daily_rate_nl_day(150000, "mcg/day", units.conc_ng_ml(500000, "mcg/mL")) == 300000


def test_a_dose_in_ml_ignores_the_concentration():
    assert units.dose_nl(2400, "mL/day", 123) == 2400000


def test_a_volume_that_cannot_be_exact_rounds_down_never_up():
    # 1 mg at 3 mg/mL is 333333.33... nL
    assert units.dose_nl(1000, "mg/day", units.conc_ng_ml(3000, "mg/mL")) == 333333


def test_a_board_limit_in_ul_h_becomes_nl_per_day_rounded_down_after_float_noise():
    assert units.ul_h_to_nl_day(5000) == 120000000
    assert units.ul_h_to_nl_day(1.001) == 24024          # not 24023: 1.001 * 1e6 is 1000999.99...
    assert units.ul_h_to_nl_day(0.0015) == 24             # 1.5 nL/h: down to 1 nL/h


def test_user_numbers_become_exact_thousandths():
    assert units.milli(0.1) == 100
    assert units.milli(2.675) == 2675
    assert units.milli(-0.25) == -250


def test_clock_times_are_24_hour_hh_mm_and_anything_else_is_refused():
    assert units.clock_ms("00:00") == 0
    assert units.clock_ms("07:30") == 27000000
    assert units.clock_ms("23:59") == 86340000
    for bad in ("24:00", "7:30", "07:60", "07-30", "0730", " 7:30", "ab:cd", 730, None):
        assert units.clock_ms(bad) is None, bad
    assert units.hhmm(27000000) == "07:30"


def test_one_step_and_one_nl_are_whole_volume_units():
    assert units.step_units(100000) == 100000 * 86400     # 0.1 uL step
    assert units.nl_units(1) == units.UNITS_PER_NL == 1000 * units.UNITS_PER_PL


def test_thousandths_print_as_the_shortest_decimal():
    assert units.fmt_milli(1500) == "1.5"
    assert units.fmt_milli(2000) == "2"
    assert units.fmt_milli(5) == "0.005"
    assert units.fmt_milli(-250) == "-0.25"
    assert units.fmt_milli(0) == "0"
