# Supply voltage through a resistor divider on an ADC pin: V = u16 / 65535 x vref x divider.
from pump.errors import ConfigError

SAMPLES = 4                # averaged: the supply moves slowly, a single read carries ADC noise


class AdcSupply:
    def __init__(self, adc, divider, vref=3.3, samples=SAMPLES):
        self.adc = adc
        self.scale = vref * divider / 65535.0
        self.samples = samples

    def read_v(self):
        total = 0
        for _ in range(self.samples):
            total += self.adc.read_u16()
        return total / self.samples * self.scale


def check_options(spec, role="supply"):
    """(divider, vref); ConfigError names each bad option (low_v and end_v, which the app's
    supply check reads, included)."""
    path = "drivers.%s." % role
    problems = []
    values = {}
    for key, default in (("divider", None), ("vref", 3.3), ("low_v", 0), ("end_v", 0)):
        v = spec.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 \
                or (key in ("divider", "vref") and v <= 0):
            problems.append((path + key, "must be a number above 0" if key in ("divider", "vref")
                             else "must be a number of volts, 0 or more"))
        values[key] = v
    if not problems and values["end_v"] > values["low_v"]:
        problems.append((path + "end_v", "must not be above low_v (the warning comes first)"))
    if not problems and values["divider"] < 1:
        problems.append((path + "divider", "must be 1 or more (supply V / pin V)"))
    if problems:
        raise ConfigError(problems)
    return values["divider"], values["vref"]


def make(spec, cfg):
    divider, vref = check_options(spec)
    from drivers.adc_input import open_adc
    return AdcSupply(open_adc(spec, cfg), divider, vref)


DRIVER = make
