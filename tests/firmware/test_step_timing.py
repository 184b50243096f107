# Tests of drivers.step_timing: the chip table, microstep choices, and minimums turned into whole clock cycles.

from drivers.step_timing import (CHIPS, MARGIN_PCT, allowed_microsteps, check_microsteps,
                                 chip_timing, cycles_for_ns, ns_of_cycles)
from fakes import expect_raises
from pump.errors import ConfigError


def test_chip_table_holds_the_datasheet_minimums():
    assert chip_timing("a4988") == {"step_high_ns": 1000, "step_low_ns": 1000,
                                    "dir_setup_ns": 200, "wake_us": 1000}
    assert chip_timing("drv8825") == {"step_high_ns": 1900, "step_low_ns": 1900,
                                      "dir_setup_ns": 650, "wake_us": 1700}
    assert chip_timing("tmc2209") == {"step_high_ns": 100, "step_low_ns": 100,
                                      "dir_setup_ns": 20, "wake_us": 0}


def test_chip_timing_hands_out_a_copy():
    t = chip_timing("a4988")
    t["step_high_ns"] = 1
    assert chip_timing("a4988")["step_high_ns"] == 1000


def test_unknown_chip_is_refused_with_its_path():
    for bad in ("l298", None, 4988, "A4988"):
        e = expect_raises(ConfigError, chip_timing, bad)
        assert e.problems[0][0] == "drivers.motor.chip", bad
    e = expect_raises(ConfigError, chip_timing, "x", "drivers.pump.chip")
    assert e.problems[0][0] == "drivers.pump.chip"


def test_microsteps_each_chip_offers():
    assert allowed_microsteps("a4988") == (1, 2, 4, 8, 16)
    assert allowed_microsteps("drv8825") == (1, 2, 4, 8, 16, 32)
    assert allowed_microsteps("tmc2209") == (8, 16, 32, 64)
    assert allowed_microsteps("tmc2209", uart=True) == (1, 2, 4, 8, 16, 32, 64, 128, 256)
    for chip in CHIPS:
        for n in allowed_microsteps(chip):
            assert check_microsteps(chip, n) == n


def test_microsteps_the_chip_cannot_select_are_refused_with_their_path():
    for chip, n in (("a4988", 32), ("drv8825", 64), ("tmc2209", 256), ("tmc2209", 2),
                    ("a4988", 3), ("a4988", True), ("a4988", 16.0), ("a4988", None)):
        e = expect_raises(ConfigError, check_microsteps, chip, n)
        assert e.problems[0][0] == "drivers.motor.microsteps", (chip, n)
    assert check_microsteps("tmc2209", 256, uart=True) == 256
    e = expect_raises(ConfigError, check_microsteps, "nope", 16)
    assert e.problems[0][0] == "drivers.motor.chip"


def test_cycles_round_up_with_margin_and_never_fall_below_the_minimum():
    for hz in (1000, 4000, 62500, 1000000, 12500000, 125000000, 133000000):
        for ns in (20, 100, 200, 650, 1000, 1900, 1000000):
            c = cycles_for_ns(ns, hz)
            assert c >= 1
            # at least the minimum plus margin...
            assert c * 1000000000 * 100 >= ns * hz * (100 + MARGIN_PCT), (ns, hz, c)
            # ...and not a cycle more than that needs
            assert (c - 1) * 1000000000 * 100 < ns * hz * (100 + MARGIN_PCT) or c == 1, (ns, hz, c)


def test_known_cycle_counts():
    assert cycles_for_ns(1000, 125000000) == 150        # 1 us x 1.2 at 8 ns a cycle
    assert cycles_for_ns(1900, 12500000) == 29          # 28.5 rounded up
    assert cycles_for_ns(1000, 1000000, margin_pct=0) == 1
    assert cycles_for_ns(1001, 1000000, margin_pct=0) == 2
    assert cycles_for_ns(0, 125000000) == 1
    assert ns_of_cycles(150, 125000000) == 1200
