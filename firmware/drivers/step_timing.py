# STEP/DIR timing minimums and microstep choices of the driver chips (minimal copy; the PIO branch's version replaces it).
from pump.errors import ConfigError

# datasheet minimums: STEP high and low, DIR set-up before a STEP edge, wake after enable/sleep
CHIPS = {
    "a4988": {"step_high_ns": 1000, "step_low_ns": 1000, "dir_setup_ns": 200, "wake_us": 1000,
              "microsteps": (1, 2, 4, 8, 16)},
    "drv8825": {"step_high_ns": 1900, "step_low_ns": 1900, "dir_setup_ns": 650, "wake_us": 1700,
                "microsteps": (1, 2, 4, 8, 16, 32)},
    "tmc2209": {"step_high_ns": 100, "step_low_ns": 100, "dir_setup_ns": 20, "wake_us": 0,
                "microsteps": (1, 2, 4, 8, 16, 32, 64, 128, 256)},
}


def chip_timing(name):
    """The chip's minimums as a dict (step_high_ns, step_low_ns, dir_setup_ns, wake_us)."""
    c = CHIPS.get(name) if isinstance(name, str) else None
    if c is None:
        raise ConfigError([("drivers.motor.chip", "must be one of %s, not %r"
                            % (", ".join(sorted(CHIPS)), name))])
    return {"step_high_ns": c["step_high_ns"], "step_low_ns": c["step_low_ns"],
            "dir_setup_ns": c["dir_setup_ns"], "wake_us": c["wake_us"]}


def check_microsteps(chip, n):
    """n if the chip can be set to n microsteps per full step, else ConfigError."""
    chip_timing(chip)
    allowed = CHIPS[chip]["microsteps"]
    if isinstance(n, bool) or not isinstance(n, int) or n not in allowed:
        raise ConfigError([("drivers.motor.microsteps", "must be one of %s for %s, not %r"
                            % (", ".join(str(a) for a in allowed), chip, n))])
    return n
