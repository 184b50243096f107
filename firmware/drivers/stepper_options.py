# Checks the motor and encoder drivers' board.json options, naming the option at fault (drivers.<role>.<key>).
from pump.errors import ConfigError
from drivers.step_timing import chip_timing, check_microsteps

_MISSING = ()   # a default no option can hold: "this option is required"

# IRQ counters wrap at 2**29 so that count + 1 and count - 1 stay small ints (no allocation in
# the handler); the main context unwraps them into an unbounded total
COUNT_MASK = 0x1FFFFFFF
COUNT_HALF = 0x10000000


def unwrap(total, seen, now):
    """(new total, new seen): total advanced by the signed change of a wrapped counter from seen
    to now, the change taken as the shorter way round (reads are far apart less than 2**28)."""
    d = (now - seen) & COUNT_MASK
    if d >= COUNT_HALF:
        d -= COUNT_MASK + 1
    return total + d, now


def number(spec, role, key, lo, hi, default=_MISSING, integer=True):
    """spec[key] as a number within [lo, hi] (an int if integer), or default when absent."""
    path = "drivers.%s.%s" % (role, key)
    if key not in spec:
        if default is _MISSING:
            raise ConfigError([(path, "missing: required by this driver")])
        return default
    v = spec[key]
    ok = not isinstance(v, bool) and (isinstance(v, int) or (not integer and isinstance(v, float)))
    if not ok or v < lo or v > hi:
        raise ConfigError([(path, "must be %s from %s to %s, not %r"
                            % ("an integer" if integer else "a number", lo, hi, v))])
    return v


def step_period_ns(cfg):
    """The shortest step period the board allows, 1 / limits.max_steps_per_s, rounded up."""
    rate = cfg.get("limits", {}).get("max_steps_per_s", 200)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate <= 0:
        raise ConfigError([("limits.max_steps_per_s", "must be a number above 0, not %r" % (rate,))])
    p = int(1000000000 / rate)
    if p * rate < 1000000000:
        p += 1
    return p


def stepper_chip(spec):
    """The STEP/DIR chip's timing minimums, after checking chip and microsteps."""
    if "chip" not in spec:
        raise ConfigError([("drivers.motor.chip", "missing: a4988, drv8825 or tmc2209")])
    timing = chip_timing(spec["chip"])
    if "microsteps" not in spec:
        raise ConfigError([("drivers.motor.microsteps", "missing: as set on the driver board")])
    check_microsteps(spec["chip"], spec["microsteps"])
    return timing


def ceil_div(a, b):
    return -(-a // b)


def ratio(spec, role, key, hi):
    """spec[key], a number above 0 and at most hi, as a fraction (num, den) with den <= 1000, so
    that counts x den // num stays exact in integers (floats are single precision on boards)."""
    v = number(spec, role, key, 0, hi, integer=False)
    if v <= 0:
        raise ConfigError([("drivers.%s.%s" % (role, key), "must be above 0")])
    if isinstance(v, int):
        return v, 1
    for den in range(1, 1001):
        num = int(v * den + 0.5)
        if num > 0 and abs(num - v * den) <= 1e-5 * den:
            return num, den
    raise ConfigError([("drivers.%s.%s" % (role, key), "%r is no fraction with a denominator up "
                        "to 1000: give counts per step as such a fraction's value" % (v,))])
