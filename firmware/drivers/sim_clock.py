# Sim clock: the board's monotonic ms (zero at boot) and waits, both on simulated time.
import simhw


class SimClock:
    def __init__(self, spec, cfg):
        self._hw = simhw.clock()
        self._boot_ms = self._hw.sim_ms()

    def now_ms(self):
        return self._hw.sim_ms() - self._boot_ms

    def wait(self, timeout_ms, ready):
        """Until timeout_ms of board time passes or ready(wall_ms) reports input."""
        return self._hw.wait(timeout_ms, ready)

    def rtc_ms(self):
        """Local wall ms from the board's RTC, or None when it was never set or lost its power."""
        return simhw.rtc_ms()

    def set_rtc_ms(self, wall_ms):
        simhw.set_rtc_ms(wall_ms)

    def sim_time_s(self):
        return self._hw.sim_ms() / 1000


DRIVER = SimClock
