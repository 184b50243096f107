# Line pressure from an analog sensor on an ADC pin: averaged reads, a two-point calibration to kPa.
from pump.errors import ConfigError

SENSOR_MAX_KPA = 400       # pump.safety's default max_kpa: at or above it the app sees an open sensor
RAIL_U16 = 65535 - 64      # an average this near full scale is the input at the rail, not a pressure
MAX_SAMPLES = 64


class AdcPressure:
    """adc: anything with read_u16(). cal: ((u16_a, kpa_a), (u16_b, kpa_b)), a straight line
    through two measured points (extrapolated beyond them)."""

    def __init__(self, adc, cal, samples=4, max_kpa=SENSOR_MAX_KPA):
        self.adc = adc
        (self.u_a, self.kpa_a), (u_b, kpa_b) = cal
        self.kpa_per_u = (kpa_b - self.kpa_a) / (u_b - self.u_a)
        self.samples = samples
        self.max_kpa = max_kpa

    def read_u16(self):
        total = 0
        for _ in range(self.samples):
            total += self.adc.read_u16()
        return total / self.samples

    def read_kpa(self):
        """The pressure in kPa; max_kpa when the input sits at the top rail (a sensor unplugged
        with a pull-up, or its supply shorted to the signal), which the app treats as a
        disconnected sensor whatever the calibration would make of it."""
        u = self.read_u16()
        if u >= RAIL_U16:
            return float(self.max_kpa)
        return self.kpa_a + (u - self.u_a) * self.kpa_per_u


def check_options(spec, role="pressure"):
    """(cal, samples, max_kpa) from the options; ConfigError names each bad one."""
    path = "drivers.%s." % role
    problems = []
    cal = spec.get("cal")
    ok = isinstance(cal, (list, tuple)) and len(cal) == 2
    if ok:
        for point in cal:
            if not (isinstance(point, (list, tuple)) and len(point) == 2):
                ok = False
                break
            u, kpa = point
            if isinstance(u, bool) or not isinstance(u, int) or not 0 <= u <= 65535 \
                    or isinstance(kpa, bool) or not isinstance(kpa, (int, float)):
                ok = False
    if not ok:
        problems.append((path + "cal", "must be two points [[u16, kPa], [u16, kPa]], u16 an "
                                       "integer 0-65535"))
    elif cal[0][0] == cal[1][0]:
        problems.append((path + "cal", "the two points need different u16 readings"))
    samples = spec.get("samples", 4)
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= MAX_SAMPLES:
        problems.append((path + "samples", "must be an integer from 1 to %d" % MAX_SAMPLES))
    max_kpa = spec.get("max_kpa", SENSOR_MAX_KPA)
    if isinstance(max_kpa, bool) or not isinstance(max_kpa, (int, float)) or max_kpa <= 0:
        problems.append((path + "max_kpa", "must be a number of kPa above 0"))
    if problems:
        raise ConfigError(problems)
    return cal, samples, max_kpa


def make(spec, cfg):
    cal, samples, max_kpa = check_options(spec)
    from drivers.adc_input import open_adc
    return AdcPressure(open_adc(spec, cfg), cal, samples, max_kpa)


DRIVER = make
