# The real-board clock's RTC: dates to ms and back in integers, and an unset RTC is no time at all.
import sys

import drivers.ticks_clock as ticks_clock
from drivers.ticks_clock import TicksClock, civil_from_days, days_from_civil

MS_PER_DAY = 86400000


class _FakeRTC:
    value = (2021, 1, 1, 4, 0, 0, 0, 0)   # what an rp2 RTC holds after power-on

    def datetime(self, t=None):
        if t is None:
            return _FakeRTC.value
        _FakeRTC.value = t


class _FakeMachine:
    RTC = _FakeRTC


class _FakeTime:
    """time.ticks_ms and ticks_diff, which CPython's time lacks."""

    @staticmethod
    def ticks_ms():
        return 0

    @staticmethod
    def ticks_diff(a, b):
        return a - b


def _with_fake_machine(fn):
    saved = sys.modules.get("machine")
    sys.modules["machine"] = _FakeMachine
    saved_time, ticks_clock.time = ticks_clock.time, _FakeTime
    try:
        fn()
    finally:
        ticks_clock.time = saved_time
        if saved is None:
            del sys.modules["machine"]
        else:
            sys.modules["machine"] = saved


def test_dates_convert_to_days_since_1970_and_back():
    assert days_from_civil(1970, 1, 1) == 0
    assert days_from_civil(2000, 3, 1) == 11017
    assert days_from_civil(2026, 1, 1) == 20454
    for z in (0, 59, 60, 11016, 11017, 20454, 20513, 36524, 47481):
        assert days_from_civil(*civil_from_days(z)) == z, z
    assert civil_from_days(20454 + 58) == (2026, 2, 28) and civil_from_days(20454 + 59) == (2026, 3, 1)


def test_an_rtc_still_at_its_power_on_date_gives_no_time():
    def check():
        _FakeRTC.value = (2021, 1, 1, 4, 0, 0, 5, 0)
        assert TicksClock({}, {"port": "rp2"}).rtc_ms() is None
    _with_fake_machine(check)


def test_a_time_set_in_the_rtc_reads_back_to_the_second_with_the_port_s_weekday():
    def check():
        wall = 20454 * MS_PER_DAY + (9 * 3600 + 30 * 60 + 15) * 1000   # Thu 2026-01-01 09:30:15
        clock = TicksClock({}, {"port": "rp2"})
        clock.set_rtc_ms(wall + 250)
        assert _FakeRTC.value == (2026, 1, 1, 3, 9, 30, 15, 0)         # Monday 0: Thursday 3
        assert clock.rtc_ms() == wall
        TicksClock({}, {"port": "stm32"}).set_rtc_ms(wall)
        assert _FakeRTC.value[3] == 4                                    # pyboard: Monday 1
    _with_fake_machine(check)
