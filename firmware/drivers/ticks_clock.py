# Real-board clock: time.ticks_ms unwrapped into a monotonic ms count; waits block on the link; the RTC.
import time

MS_PER_DAY = 86400000
# A port's RTC starts at a fixed date at power-on (rp2: 2021-01-01): a date before this one was
# never set since the power came, so the time of day is unknown, not guessed.
RTC_VALID_FROM_YEAR = 2024


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (integers only: no port's epoch)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    """(year, month, day) of a day count since 1970-01-01."""
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


class TicksClock:
    def __init__(self, spec, cfg):
        self._last = time.ticks_ms()
        self._ms = 0
        # pyboard's RTC numbers weekdays 1-7 from Monday; rp2 and esp32 0-6
        self._weekday_base = 1 if cfg.get("port") == "stm32" else 0

    def now_ms(self):
        # ticks_ms wraps (2**30 ms on most ports); adding differences keeps the count monotonic.
        t = time.ticks_ms()
        self._ms += time.ticks_diff(t, self._last)
        self._last = t
        return self._ms

    def wait(self, timeout_ms, ready):
        return ready(timeout_ms)

    def rtc_ms(self):
        """Local wall ms from machine.RTC, or None when it holds no time set since power-on."""
        import machine
        y, mo, d, _wd, h, mi, s, _sub = machine.RTC().datetime()
        if y < RTC_VALID_FROM_YEAR:
            return None
        return days_from_civil(y, mo, d) * MS_PER_DAY + ((h * 60 + mi) * 60 + s) * 1000

    def set_rtc_ms(self, wall_ms):
        import machine
        days, ms = wall_ms // MS_PER_DAY, wall_ms % MS_PER_DAY
        y, mo, d = civil_from_days(days)
        s = ms // 1000
        machine.RTC().datetime((y, mo, d, (days + 3) % 7 + self._weekday_base,
                                s // 3600, s // 60 % 60, s % 60, 0))


DRIVER = TicksClock
