# STEP/DIR timing minimums and microstep settings of the stepper driver chips, and their conversion to whole clock cycles.
#
# Pure arithmetic, no hardware: every stepper driver (rp2 PIO, esp32 RMT, stm32 timer) turns these
# minimums into its own clock's cycles with cycles_for_ns(), which rounds up and adds a margin, so
# a pulse is never shorter than the datasheet allows however the rounding falls.
from pump.errors import ConfigError

# Datasheet minimums. step_high_ns / step_low_ns: STEP pulse width high and low; dir_setup_ns: DIR
# stable before the STEP rising edge; wake_us: enable (or sleep release) to the first STEP accepted.
#   A4988 (Allegro): 1 us high, 1 us low, 200 ns set-up, 1 ms wake-up from sleep.
#   DRV8825 (TI SLVSA73): 1.9 us high, 1.9 us low, 650 ns set-up, 1.7 ms wake (tWAKE).
#   TMC2209 (Trinamic): 100 ns high and low, 20 ns set-up; no sleep pin (ENN only gates the
#   bridges), so no wake time.
# microsteps: what the chip's mode pins can select. The TMC2209 from its MS1/MS2 pins offers
# 8, 16, 32 or 64 only; over its UART (MSTEP_REG_SELECT) any power of two from 1 to 256.
CHIPS = {
    "a4988": {"step_high_ns": 1000, "step_low_ns": 1000, "dir_setup_ns": 200, "wake_us": 1000,
              "microsteps": (1, 2, 4, 8, 16)},
    "drv8825": {"step_high_ns": 1900, "step_low_ns": 1900, "dir_setup_ns": 650, "wake_us": 1700,
                "microsteps": (1, 2, 4, 8, 16, 32)},
    "tmc2209": {"step_high_ns": 100, "step_low_ns": 100, "dir_setup_ns": 20, "wake_us": 0,
                "microsteps": (8, 16, 32, 64)},
}
TMC2209_UART_MICROSTEPS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

# Every minimum is stretched by this much before rounding up to whole cycles: the datasheet
# figure is at the chip's pin, and a level shifter or a slow edge eats into it on the way.
MARGIN_PCT = 20


def chip_timing(name, path="drivers.motor.chip"):
    """The chip's minimums as a new dict (step_high_ns, step_low_ns, dir_setup_ns, wake_us);
    ConfigError naming `path` for a chip not in CHIPS."""
    c = CHIPS.get(name) if isinstance(name, str) else None
    if c is None:
        raise ConfigError([(path, "must be one of %s, not %r" % (", ".join(sorted(CHIPS)), name))])
    return {"step_high_ns": c["step_high_ns"], "step_low_ns": c["step_low_ns"],
            "dir_setup_ns": c["dir_setup_ns"], "wake_us": c["wake_us"]}


def allowed_microsteps(chip, uart=False):
    """The microstep settings the chip offers (uart: a TMC2209 set over its UART)."""
    chip_timing(chip)
    if chip == "tmc2209" and uart:
        return TMC2209_UART_MICROSTEPS
    return CHIPS[chip]["microsteps"]


def check_microsteps(chip, n, uart=False, path="drivers.motor.microsteps"):
    """n if the chip can be set to n microsteps per full step, else ConfigError naming `path`."""
    allowed = allowed_microsteps(chip, uart)
    if isinstance(n, bool) or not isinstance(n, int) or n not in allowed:
        how = " over its UART" if chip == "tmc2209" and uart else ""
        if chip == "tmc2209" and not uart:
            how = " from its MS1/MS2 pins (give uart_id for 1..256)"
        raise ConfigError([(path, "must be one of %s for %s%s, not %r"
                            % (", ".join([str(a) for a in allowed]), chip, how, n))])
    return n


def ceil_div(a, b):
    """a / b rounded up, for non-negative integers."""
    return -(-a // b)


def cycles_for_ns(ns, hz, margin_pct=MARGIN_PCT):
    """Whole cycles of a clock at hz that last at least ns plus margin_pct, rounded up: never
    fewer than the minimum, and at least 1 (an edge needs a cycle). Integer arithmetic, so a
    single-precision float on the board cannot round it down."""
    hz = int(hz)
    if ns <= 0:
        return 1
    c = ceil_div(int(ns) * hz * (100 + int(margin_pct)), 100 * 1000000000)
    return c if c > 0 else 1


def ns_of_cycles(cycles, hz):
    """How long `cycles` of a clock at hz last, in ns (rounded down: what a check can rely on)."""
    return cycles * 1000000000 // int(hz)
