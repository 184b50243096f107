# The shape and bounds of a therapy program document (docs/programs.md), as pump.schema schemas.
#
# Every number has at most 3 decimals: program.py stores each as an exact int of thousandths.
# The header is the document without "flex"; flex schedules arrive as separate parts (STEPS).

from pump import units

FORMAT = 1
MAX_STEPS = 48
WEEK_MIN = 10080                # minutes in a week: the longest temp rate or periodic interval
DAY_MIN = 1440
_BIG = 100000                   # upper bound of every dose, rate and concentration


def _num(low, bound=_BIG, required=True):
    """A number of 3 decimals at most: low is ("gt", 0) or ("ge", 0)."""
    s = {"type": "num", low[0]: low[1], "le": bound, "decimals": 3}
    if required:
        s["required"] = True
    return s


def _int(ge, le):
    return {"type": "int", "ge": ge, "le": le, "required": True}


def _section(fields, required=False):
    s = {"type": "obj", "fields": fields}
    if required:
        s["required"] = True
    return s


_GT0 = ("gt", 0)
_GE0 = ("ge", 0)
# long enough to quote a wrong time back; whether it is a time is checked with units.clock_ms
TIME = {"type": "str", "max_len": 40, "required": True}

HEADER = _section({
    "format": {"type": "int", "required": True},
    "name": {"type": "str", "min_len": 1, "max_len": 64, "required": True},
    "purpose": {"type": "str", "choices": ("bench", "teaching"), "required": True},
    "drug": _section({
        "name": {"type": "str", "min_len": 1, "max_len": 32, "required": True},
        "concentration": _num(_GT0),
        "concentration_units": {"type": "str", "choices": units.CONCENTRATION_UNITS,
                                "required": True},
        "dose_units": {"type": "str", "choices": units.DOSE_UNITS, "required": True},
    }, True),
    "reservoir": _section({
        "capacity_ml": _num(_GT0, 1000),
        "volume_ml": _num(_GE0, 1000),
        "low_ml": _num(_GE0, 1000, False),      # default LOW_ML_DEFAULT, checked against capacity
    }, True),
    "basal": _section({"rate": _num(_GE0)}),
    "temp": _section({"rate": _num(_GE0), "duration_min": _int(1, WEEK_MIN)}),
    "periodic": _section({
        "dose": _num(_GT0),
        "duration_min": _int(1, DAY_MIN),
        "interval_min": _int(1, WEEK_MIN),      # and >= duration_min, checked by program.py
        "first": TIME,
    }),
    "demand": _section({
        "dose": _num(_GT0),
        "duration_min": _int(1, DAY_MIN),
        "lockout_min": _int(1, DAY_MIN),        # and >= duration_min
        "max_per_24h": _int(1, 48),
    }),
    "catheter": _section({"length_cm": _num(_GT0, 200), "ul_per_cm": _num(_GT0, 20)}),
    "prime": _section({"duration_min": _int(1, DAY_MIN)}),
    "bridge": _section({
        "previous_concentration": _num(_GT0),
        "previous_dose_per_day": _num(_GT0),
    }),
})

LOW_ML_DEFAULT = 2000           # reservoir.low_ml when absent, in thousandths of a mL

STEP = _section({"start": TIME, "rate": _num(_GE0)})
STEPS = {"type": "list", "min_len": 1, "max_len": MAX_STEPS, "items": STEP}

BOLUS_SECTIONS = ("periodic", "demand", "prime", "bridge")


def _fields():
    # (path, kind) of every header leaf, from the schema itself so the two never disagree:
    # "m" a number kept in thousandths, "i" an int, "s" a string, "t" a time kept in ms
    out = []
    top = HEADER["fields"]
    for sec in sorted(top):
        s = top[sec]
        if s["type"] != "obj":
            out.append((sec, _kind(sec, s)))
            continue
        for key in sorted(s["fields"]):
            out.append((sec + "." + key, _kind(key, s["fields"][key])))
    return tuple(out)


def _kind(key, s):
    if s["type"] == "num":
        return "m"
    if s["type"] == "int":
        return "i"
    return "t" if key == "first" else "s"


FIELDS = _fields()
