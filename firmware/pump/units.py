# The one place doses, volumes, rates and times convert: dose -> volume -> steps, in exact integers.
#
# Internal units, all ints so the board (float32) and the host (float64) agree to the last digit:
#   mass ng, concentration ng/mL, volume nL (pL for a step), rate nL/day, time ms.
# Cumulative volume is counted in "volume units" of nL/day x ms: a rate times a duration, with
# no division, so it is exact. One pL is 86,400 volume units, one nL is 86,400,000.
# Every conversion that cannot be exact rounds down: a pump must never give more than asked.

MS_PER_MIN = 60000
MS_PER_DAY = 86400000
NL_PER_ML = 1000000
UNITS_PER_PL = 86400          # volume units (nL/day x ms) in one pL
UNITS_PER_NL = 86400000       # ... and in one nL

MASS_UNITS = ("mg", "mcg")
NG_PER = {"mg": 1000000, "mcg": 1000}
CONCENTRATION_UNITS = ("mg/mL", "mcg/mL")
DOSE_UNITS = ("mg/day", "mcg/day", "mL/day")

DECIMALS = 3                  # user numbers carry at most this many decimals...
MILLI = 1000                  # ...so every one is an exact int of thousandths


def milli(x):
    """A user number as an int of thousandths (round-to-nearest absorbs float noise)."""
    return int(round(x * MILLI))


def mass_unit(dose_units):
    """'mg' for mg/day, 'mcg' for mcg/day, None for mL/day (a volume dose)."""
    return dose_units[:-4] if dose_units != "mL/day" else None


def conc_ng_ml(conc_milli, concentration_units):
    """Concentration from thousandths of mg/mL or mcg/mL to ng/mL (exact)."""
    return conc_milli * NG_PER[concentration_units[:-3]] // MILLI


def mass_ng(amount_milli, unit):
    """A mass from thousandths of mg or mcg to ng (exact)."""
    return amount_milli * NG_PER[unit] // MILLI


def ng_to_nl(ng, conc):
    """The volume that holds `ng` of drug at `conc` ng/mL, rounded down."""
    return ng * NL_PER_ML // conc


def nl_to_ng(nl, conc):
    """The drug in `nl` at `conc` ng/mL, rounded down."""
    return nl * conc // NL_PER_ML


def dose_nl(dose_milli, dose_units, conc):
    """A single dose (thousandths of mg, mcg or mL) as a volume in nL, rounded down."""
    unit = mass_unit(dose_units)
    if unit is None:
        return dose_milli * NL_PER_ML // MILLI
    return ng_to_nl(mass_ng(dose_milli, unit), conc)


def daily_rate_nl_day(dose_milli_per_day, dose_units, conc):
    """A daily dose (thousandths of mg, mcg or mL per day) as a rate in nL/day, rounded down."""
    return dose_nl(dose_milli_per_day, dose_units, conc)


def nl_to_dose(nl, dose_units, conc):
    """A volume as a dose in the program's units (mg, mcg or mL): a float, for people to read."""
    unit = mass_unit(dose_units)
    if unit is None:
        return nl / NL_PER_ML
    return nl * conc / NL_PER_ML / NG_PER[unit]


def ul_h_to_nl_day(rate_ul_h):
    """A board limit in uL/h as nL/day, rounded down after absorbing float noise."""
    return int(round(rate_ul_h * 1000000)) // 1000 * 24


def nl_day_to_ul_h(rate_nl_day):
    return rate_nl_day / 24000


def ml_to_nl(ml_milli):
    """Thousandths of a mL as nL (exact)."""
    return ml_milli * 1000


def minutes_ms(minutes):
    return minutes * MS_PER_MIN


def clock_ms(hhmm):
    """'07:30' -> ms after midnight, or None if it is not a valid 24-hour HH:MM time."""
    if not isinstance(hhmm, str) or len(hhmm) != 5 or hhmm[2] != ":":
        return None
    hh, mm = hhmm[:2], hhmm[3:]
    if not (hh.isdigit() and mm.isdigit()):
        return None
    h, m = int(hh), int(mm)
    if h > 23 or m > 59:
        return None
    return (h * 60 + m) * MS_PER_MIN


def hhmm(ms_of_day):
    m = ms_of_day // MS_PER_MIN
    return "%02d:%02d" % (m // 60, m % 60)


def step_units(pl_per_step):
    """One motor step in volume units."""
    return pl_per_step * UNITS_PER_PL


def nl_units(nl):
    return nl * UNITS_PER_NL


def fmt_milli(v):
    """Thousandths as the shortest decimal text: 1500 -> '1.5', 2000 -> '2', -250 -> '-0.25'."""
    sign = "-" if v < 0 else ""
    v = -v if v < 0 else v
    whole, frac = v // MILLI, v % MILLI
    if not frac:
        return "%s%d" % (sign, whole)
    s = "%03d" % frac
    while s.endswith("0"):
        s = s[:-1]
    return "%s%d.%s" % (sign, whole, s)
