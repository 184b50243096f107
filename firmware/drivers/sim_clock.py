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

    def sim_time_s(self):
        return self._hw.sim_ms() / 1000


DRIVER = SimClock
