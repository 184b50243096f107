# Loads the drug library (drugs.json): each drug's optional soft and hard limits, checked like board.json.
#
# parse_library returns {"format": 1, "note": str, "drugs": {name: {"units": "mg" or "mcg",
# <limit>: (soft, hard), ...}}} with every limit named in LIMITS present, each bound an int of
# thousandths (of mg or mcg, of units/mL for concentrations, of a percent) or None when absent.

from pump import units
from pump.board_config import read_json_file
from pump.errors import ConfigError
from pump.schema import validate

FORMAT = 1
MAX_FILE_BYTES = 8192
LIMITS = ("max_concentration", "max_dose_per_day", "max_bolus", "max_change_per_day_pct")

_BOUND = {"type": "num", "gt": 0, "le": 1000000, "decimals": 3}
_PAIR = {"type": "obj", "fields": {"soft": _BOUND, "hard": _BOUND}}
_DRUG = {"type": "obj", "fields": {
    "units": {"type": "str", "choices": units.MASS_UNITS, "required": True},
    "max_concentration": _PAIR,         # units/mL
    "max_dose_per_day": _PAIR,          # units per day, on the worst day
    "max_bolus": _PAIR,                 # units, one bolus
    "max_change_per_day_pct": _PAIR,    # percent of the current daily dose
}}
LIBRARY = {"type": "obj", "fields": {
    "format": {"type": "int", "required": True},
    "note": {"type": "str", "max_len": 200, "default": ""},
    "drugs": {"type": "map", "max_len": 32, "key_max_len": 32, "values": _DRUG, "required": True},
}}


def parse_library(obj):
    """The library with limits as (soft, hard) thousandths, or ConfigError listing every problem."""
    cleaned, problems = validate(LIBRARY, obj, "")
    bad = [p for p, _ in problems]
    if not isinstance(cleaned, dict):
        raise ConfigError([("drugs.json", m) for p, m in problems])
    if "format" not in bad and cleaned.get("format") != FORMAT:
        problems.append(("format", "must be %d (the only library format), got %r"
                         % (FORMAT, cleaned.get("format"))))
    drugs = {}
    if "drugs" not in bad and isinstance(cleaned.get("drugs"), dict):
        for name in sorted(cleaned["drugs"]):
            drugs[name] = _drug(name, cleaned["drugs"][name], bad, problems)
    if problems:
        raise ConfigError([(p or "drugs.json", m) for p, m in problems])
    return {"format": FORMAT, "note": cleaned["note"], "drugs": drugs}


def _drug(name, d, bad, problems):
    path = "drugs." + name
    if not name:
        problems.append((path, "a drug needs a name"))
    out = {"units": d.get("units") if isinstance(d, dict) else None}
    for lim in LIMITS:
        pair = d.get(lim) if isinstance(d, dict) else None
        soft = hard = None
        if isinstance(pair, dict):
            p = path + "." + lim
            soft = _milli(pair, "soft", p, bad)
            hard = _milli(pair, "hard", p, bad)
            if soft is not None and hard is not None and soft > hard:
                problems.append((p + ".soft", "must be <= hard %s, got %s"
                                 % (units.fmt_milli(hard), units.fmt_milli(soft))))
        out[lim] = (soft, hard)
    return out


def _milli(pair, key, path, bad):
    if key not in pair or (path + "." + key) in bad:
        return None
    return units.milli(pair[key])


def load_library(path="drugs.json"):
    """Read, decode and check a drug library file; a failure is a ConfigError naming the file."""
    return parse_library(read_json_file(path, MAX_FILE_BYTES))


def limit_ng(library_drug, limit):
    """A mass or concentration limit as (soft, hard) in ng or ng/mL; percentages unchanged."""
    soft, hard = library_drug[limit]
    if limit == "max_change_per_day_pct":
        return soft, hard
    unit = library_drug["units"]
    return (None if soft is None else units.mass_ng(soft, unit),
            None if hard is None else units.mass_ng(hard, unit))
