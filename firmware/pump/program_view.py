# Views of a compiled program: daily doses, its canonical document and digest, and a summary for people.
#
# The canonical document is rebuilt from the ints the program keeps (Program.source and
# Program.flex_src), never from the text that was sent, so host and pump agree on it to the byte:
# keys sorted, numbers written by units.fmt_milli, strings escaped by the small encoder below.
# The pump builds one part at a time (a 48-step week as dicts would not fit in its heap).

import binascii
import hashlib

from pump import units
from pump.program_schema import FIELDS
from pump.therapy import WEEKDAYS

MS_PER_DAY = units.MS_PER_DAY


# ---- doses -------------------------------------------------------------------------------------

def daily_volume_nl(program, demand=False):
    """Each weekday's volume, Monday first: its schedule, plus periodic boluses averaged per day,
    plus (if demand) every demand bolus the program allows in 24 hours."""
    extra = 0
    per = program.periodic
    if per is not None:
        extra += per.volume_nl * MS_PER_DAY // per.interval_ms
    if demand and program.demand is not None:
        extra += program.demand.volume_nl * program.demand.max_per_24h
    out = []
    for day in program.days:
        starts, rates = day.starts_ms, day.rates_nl_day
        total = 0
        for i in range(len(starts)):
            end = starts[i + 1] if i + 1 < len(starts) else MS_PER_DAY
            total += rates[i] * (end - starts[i])
        out.append(total // MS_PER_DAY + extra)
    return out


def daily_dose_ng(program, demand=False):
    """Each weekday's dose in ng (see daily_volume_nl): 7 ints, Monday first."""
    return [units.nl_to_ng(v, program.conc_ng_ml) for v in daily_volume_nl(program, demand)]


def worst_day(program, demand=True):
    """(ng, weekday index) of the day with the highest dose; demand boluses all taken if demand."""
    doses = daily_dose_ng(program, demand)
    best = 0
    for i in range(1, 7):
        if doses[i] > doses[best]:
            best = i
    return doses[best], best


# ---- canonical document ------------------------------------------------------------------------

class _Milli:
    """A number kept in thousandths, written by fmt_milli in the canonical text."""

    def __init__(self, v):
        self.v = v


def _number(m):
    # 1500 -> 1.5 and 2000 -> 2 (an int), as a person would write them
    return m // units.MILLI if m % units.MILLI == 0 else m / units.MILLI


def _head(program, num):
    doc = {}
    src = program.source
    for path, kind in FIELDS:
        if path not in src:
            continue
        v = src[path]
        if kind == "m":
            v = num(v)
        elif kind == "t":
            v = units.hhmm(v)
        i = path.find(".")
        if i < 0:
            doc[path] = v
        else:
            sec = doc.get(path[:i])
            if sec is None:
                sec = doc[path[:i]] = {}
            sec[path[i + 1:]] = v
    return doc


def _steps(program, key, num):
    starts, rates = program.flex_src[key]
    return [{"start": units.hhmm(starts[i]), "rate": num(rates[i])} for i in range(len(starts))]


def _override_days(program):
    return [d for d in WEEKDAYS if d in program.flex_src]


def _part_paths(program):
    if not program.flex_src:
        return [""]
    return ["", "flex.steps"] + ["flex.days." + d for d in _override_days(program)]


class Parts:
    """canonical_parts: a read-only sequence of (path, value) that builds each part when asked."""

    def __init__(self, program):
        self.program = program
        self.paths = _part_paths(program)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        path = self.paths[i]
        if path == "":
            return path, _head(self.program, _number)
        return path, _steps(self.program, path[5:] if path == "flex.steps" else path[10:], _number)


def canonical_parts(program):
    """The program as a normalized document in split_parts form: len(), [i] and iteration."""
    return Parts(program)


def canonical_doc(program):
    """The whole normalized document (for the host: diff, get); defaults filled in."""
    doc = _head(program, _number)
    if program.flex_src:
        flex = {"steps": _steps(program, "steps", _number)}
        days = _override_days(program)
        if days:
            flex["days"] = dict([(d, _steps(program, d, _number)) for d in days])
        doc["flex"] = flex
    return doc


def _str(s):
    for ch in s:
        if ch == '"' or ch == "\\" or ord(ch) < 0x20:
            break
    else:
        return '"' + s + '"'
    out = []
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _enc(v):
    if isinstance(v, _Milli):
        return units.fmt_milli(v.v)
    if isinstance(v, str):
        return _str(v)
    if isinstance(v, dict):
        return "{" + ",".join([_str(k) + ":" + _enc(v[k]) for k in sorted(v)]) + "}"
    if isinstance(v, list):
        return "[" + ",".join([_enc(x) for x in v]) + "]"
    return "%d" % v     # the only other values are ints: format, durations, counts


def _chunks(program):
    # the canonical text piece by piece: at most one day of steps is ever held as text
    head = _head(program, _Milli)
    keys = list(head)
    if program.flex_src:
        keys.append("flex")
    keys.sort()
    yield "{"
    for n, k in enumerate(keys):
        yield ("," if n else "") + _str(k) + ":"
        if k != "flex":
            yield _enc(head[k])
            continue
        yield "{"
        days = sorted(_override_days(program))
        if days:
            yield '"days":{'
            for j, d in enumerate(days):
                yield ("," if j else "") + _str(d) + ":"
                for c in _steps_text(program, d):
                    yield c
            yield "},"
        yield '"steps":'
        for c in _steps_text(program, "steps"):
            yield c
        yield "}"
    yield "}"


def _steps_text(program, key):
    # straight from the ints, one step at a time: a day of step dicts costs the pump ~10 KB
    starts, rates = program.flex_src[key]
    for i in range(len(starts)):
        yield '%s{"rate":%s,"start":"%s"}' % ("," if i else "[", units.fmt_milli(rates[i]),
                                             units.hhmm(starts[i]))
    yield "]"


def canonical_text(program):
    """Deterministic compact JSON of the canonical document: sorted keys, fmt_milli numbers."""
    return "".join(list(_chunks(program)))


def digest(program):
    """16 hex characters of the SHA-256 of canonical_text, the same on CPython and MicroPython."""
    h = hashlib.sha256()
    for chunk in _chunks(program):
        h.update(chunk.encode())
    return binascii.hexlify(h.digest()).decode()[:16]


# ---- summary -----------------------------------------------------------------------------------

def _r3(x):
    return round(x, 3)


def _ml(nl):
    return _r3(nl / units.NL_PER_ML)


def _ul(nl):
    return _r3(nl / 1000)


def _ul_h(nl_day):
    return nl_day // 24 / 1000     # rounded down, as in the cut records


def _min(ms):
    return _r3(ms / units.MS_PER_MIN)


def _dose(nl, dose_units, conc):
    """A volume in the dose unit (mg, mcg or mL), rounded to the nearest thousandth, for people."""
    unit = units.mass_unit(dose_units)
    if unit is None:
        return (nl + 500) // 1000 / units.MILLI
    d = units.NL_PER_ML * units.NG_PER[unit]
    return (nl * conc * units.MILLI * 2 + d) // (2 * d) / units.MILLI


def _table(day):
    # the Day's own lists: a week of 48-step tables costs the pump no new objects
    return {"start_ms": day.starts_ms, "nl_day": day.rates_nl_day}


def schedule_rows(summary, name):
    """A summary's step table as rows ["HH:MM", dose units per day, uL/h], for people."""
    t = summary["schedule"][name]
    du, conc = summary["dose_units"], summary["conc_ng_ml"]
    return [[units.hhmm(t["start_ms"][i]), _dose(t["nl_day"][i], du, conc),
             _ul_h(t["nl_day"][i])] for i in range(len(t["start_ms"]))]


def _dose_fn(program):
    du, conc = program.dose_units, program.conc_ng_ml
    return lambda nl: _dose(nl, du, conc)


def summary(program, steps=True):
    """A JSON-friendly digest of what the pump will do, in the program's units, for people.

    Every amount is what is delivered, after cuts; doses are in the program's dose unit.
    "daily" gives each weekday's dose and volume, Monday first. "schedule" holds the step
    table of "default" (flex.steps or the basal rate; left out if no day uses it) and of each
    weekday with its own, in internal units: {"start_ms": [...], "nl_day": [...]} (a week of
    48-step tables in people's units would not fit in the pump's heap); schedule_rows turns
    one into ["HH:MM", dose units per day, uL/h] rows. With steps=False each table is only its
    number of steps: a week of 48-step tables is ~7 KB of JSON, a lot for the pump to send in
    one piece (canonical_parts has the steps too, a day at a time).
    """
    src = program.source
    dose = _dose_fn(program)
    vols = daily_volume_nl(program)
    schedule = {}
    for i in range(7):
        day = program.days[i]
        name = "default" if day is program.default_day else WEEKDAYS[i]
        schedule[name] = _table(day) if steps else len(day.starts_ms)
    worst_i = worst_day(program)[1]
    worst_nl = daily_volume_nl(program, True)[worst_i]
    out = {
        "name": program.name,
        "purpose": program.purpose,
        "drug": program.drug,
        "concentration": "%s %s" % (units.fmt_milli(src["drug.concentration"]),
                                    src["drug.concentration_units"]),
        "dose_units": program.dose_units,
        "conc_ng_ml": program.conc_ng_ml,
        "reservoir": {"capacity_ml": _ml(program.capacity_nl), "volume_ml": _ml(program.volume_nl),
                      "low_ml": _ml(program.low_nl)},
        "daily": {"dose": [dose(v) for v in vols], "ml": [_ml(v) for v in vols]},
        "schedule": schedule,
        "worst_day": {"day": WEEKDAYS[worst_i], "dose": dose(worst_nl), "ml": _ml(worst_nl)},
        "temp": None, "catheter": None, "periodic": None, "demand": None,
        "cap_ul_h": _ul_h(program.cap_nl_day),
        "bolus_cap_ul_h": _ul_h(program.bolus_cap_nl_day),
        "cuts": program.cuts,
        "soft": program.soft,
        "digest": digest(program),
    }
    t = program.temp
    if t is not None:
        out["temp"] = {"rate": dose(t.rate_nl_day), "ul_h": _ul_h(t.rate_nl_day),
                       "duration_min": t.duration_ms // units.MS_PER_MIN}
    c = program.catheter
    if c is not None:
        out["catheter"] = {"kind": c.kind, "volume_ul": _ul(c.volume_nl),
                           "duration_min": _min(c.duration_ms)}
    p = program.periodic
    if p is not None:
        out["periodic"] = {"dose": dose(p.volume_nl), "volume_ul": _ul(p.volume_nl),
                           "duration_min": _min(p.duration_ms),
                           "interval_min": p.interval_ms // units.MS_PER_MIN,
                           "first": units.hhmm(p.first_ms)}
    d = program.demand
    if d is not None:
        out["demand"] = {"dose": dose(d.volume_nl), "volume_ul": _ul(d.volume_nl),
                         "duration_min": _min(d.duration_ms),
                         "lockout_min": d.lockout_ms // units.MS_PER_MIN,
                         "max_per_24h": d.max_per_24h}
    return out

