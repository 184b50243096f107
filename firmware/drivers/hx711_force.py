# Line pressure from the force on the syringe plunger: an HX711 load cell, kPa = N / plunger mm² x 1000.
from drivers.hx711 import HX711
from pump.errors import ConfigError

SENSOR_MAX_KPA = 400       # pump.safety's default max_kpa: at or above it the app sees an open sensor
RAIL_LOW = -0x800000       # the HX711 saturates here and at RAIL_HIGH: an input out of range
RAIL_HIGH = 0x7FFFFF


class HX711Force:
    """hx: an HX711 (channel A, gain 128). Tension on the cell reads as negative pressure."""

    def __init__(self, hx, counts_per_n, tare_counts=0, plunger_area_mm2=1.0,
                 max_kpa=SENSOR_MAX_KPA):
        self.hx = hx
        self.counts_per_n = counts_per_n
        self.tare_counts = tare_counts
        self.area_mm2 = plunger_area_mm2
        self.max_kpa = max_kpa

    def force_n(self, counts):
        return (counts - self.tare_counts) / self.counts_per_n

    def read_kpa(self):
        """One conversion (waits for it: up to 100 ms at 10 samples/s). A saturated count is
        reported as max_kpa, which the app treats as a disconnected sensor."""
        counts = self.hx.read()
        if counts >= RAIL_HIGH or counts <= RAIL_LOW:
            return float(self.max_kpa)
        return self.force_n(counts) / self.area_mm2 * 1000.0


def _number(spec, key, problems, default=None, positive=False, nonzero=False):
    v = spec.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        problems.append(("drivers.pressure." + key, "must be a number"))
        return None
    if positive and v <= 0:
        problems.append(("drivers.pressure." + key, "must be above 0"))
    if nonzero and v == 0:
        problems.append(("drivers.pressure." + key, "must not be 0"))
    return v


def make(spec, cfg):
    problems = []  # type: list
    cpn = _number(spec, "counts_per_n", problems, nonzero=True)
    tare = _number(spec, "tare_counts", problems, default=0)
    area = _number(spec, "plunger_area_mm2", problems, positive=True)
    max_kpa = _number(spec, "max_kpa", problems, default=SENSOR_MAX_KPA, positive=True)
    if problems:
        raise ConfigError(problems)
    from drivers.pins import output_pin, input_pin
    hx = HX711(output_pin(spec, cfg, "sck_pin"), input_pin(spec, cfg, "dout_pin"))
    return HX711Force(hx, cpn, tare, area, max_kpa)


DRIVER = make
