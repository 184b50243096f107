# A program's limits: the board's rate cap (rates cut, boluses stretched) and the drug library's soft and hard limits.
#
# The cut and soft dicts these record are described at the top of program.py. Messages show
# numbers with units.fmt_milli from ints, so host and pump word them identically.

from pump import units
from pump.drug_library import limit_ng
from pump.errors import ProgramError
from pump.program_view import daily_volume_nl, worst_day
from pump.schema import validate
from pump.therapy import WEEKDAYS, Bolus

_MIN = units.MS_PER_MIN
_CLINICIAN = {"type": "obj", "fields": {
    "dose": {"type": "num", "gt": 0, "le": 100000, "decimals": 3, "required": True},
    "duration_min": {"type": "int", "ge": 1, "le": 1440, "required": True},
}}


def board_cap(board_cfg):
    """(rate cap in nL/day, the board limit it comes from): the lower of the two rate limits."""
    lim = board_cfg["limits"]
    cap, name = units.ul_h_to_nl_day(lim["max_rate_ul_h"]), "limits.max_rate_ul_h"
    hourly = lim.get("max_volume_per_h_ul")
    if hourly is not None and units.ul_h_to_nl_day(hourly) < cap:
        cap, name = units.ul_h_to_nl_day(hourly), "limits.max_volume_per_h_ul"
    return cap, name


def ul_h(nl_day):
    return nl_day // 24 / 1000


def txt_ul_h(nl_day):
    return units.fmt_milli(nl_day // 24)


def txt_min(ms):
    return units.fmt_milli(-(-ms // 60))    # thousandths of a minute, rounded up


def amount(ng, unit):
    """ng as text in mg or mcg, 3 decimals at most (rounded down)."""
    return "%s %s" % (units.fmt_milli(ng * units.MILLI // units.NG_PER[unit]), unit)


# ---- the board's rate cap ----------------------------------------------------------------------

def cut_rate(p, path, requested, steps=None):
    """Record that a rate at path (steps: the flex step indexes) was cut to p.cap_nl_day."""
    cap = p.cap_nl_day
    cut = {"path": path, "limit": "board " + p.cap_limit,
           "requested_ul_h": ul_h(requested), "delivered_ul_h": ul_h(cap),
           "reason": "%s asks %s uL/h, above the board's %s of %s uL/h: cut to it"
                     % (path, txt_ul_h(requested), p.cap_limit, txt_ul_h(cap))}
    if steps is not None:
        cut["steps"] = steps
        if len(steps) > 1:
            cut["reason"] = "%s: steps %s ask up to %s uL/h, above the board's %s of %s uL/h: " \
                            "cut to it" % (path[:path.rfind("[")],
                                           ", ".join(["%d" % i for i in steps]),
                                           txt_ul_h(requested), p.cap_limit, txt_ul_h(cap))
    p.cuts.append(cut)


def stretch(path, volume_nl, duration_ms, bolus_cap, cap, cap_limit, cuts):
    """The bolus duration, lengthened (and the cut recorded) if the bolus would break the cap."""
    need = -(-volume_nl * units.UNITS_PER_NL // bolus_cap)
    if need <= duration_ms:
        return duration_ms
    cuts.append({
        "path": path, "limit": "board " + cap_limit, "volume_ul": volume_nl / 1000,
        "requested_min": -(-duration_ms // 60) / 1000, "delivered_min": -(-need // 60) / 1000,
        "reason": "%s: %s uL over %s min needs %s uL/h; the board's %s of %s uL/h less the "
                  "highest basal rate leaves %s uL/h for a bolus: stretched to %s min"
                  % (path, units.fmt_milli(volume_nl), txt_min(duration_ms),
                     txt_ul_h(volume_nl * units.MS_PER_DAY // duration_ms), cap_limit,
                     txt_ul_h(cap), txt_ul_h(bolus_cap), txt_min(need))})
    return need


def no_room(cap, bolus_cap, cap_limit):
    return ("no room for a bolus: the highest basal rate %s uL/h leaves nothing under the "
            "board's %s of %s uL/h" % (txt_ul_h(cap - bolus_cap), cap_limit, txt_ul_h(cap)))


# ---- the drug library --------------------------------------------------------------------------

def check_library(p, src, lib, current, problem):
    """Check the compiled p against its drug's library limits: a hard breach goes to problem(path,
    message), a soft one to p.soft. src is p's source; current the program on the pump or None."""
    p.drug_units = unit = lib["units"]
    p.bolus_max_ng = limit_ng(lib, "max_bolus")

    def check(limit, value_ng, path, what, per):
        soft, hard = limit_ng(lib, limit)
        for kind, bound, shown in (("hard", hard, lib[limit][1]), ("soft", soft, lib[limit][0])):
            if bound is not None and value_ng > bound:
                _breach(p, problem, kind, limit, path, "%s is above the drug library's %s maximum "
                        "of %s %s%s for %s"
                        % (what, kind, units.fmt_milli(shown), unit, per, p.drug))
                return

    check("max_concentration", p.conc_ng_ml, "drug.concentration",
          "%s %s" % (units.fmt_milli(src["drug.concentration"]), src["drug.concentration_units"]),
          "/mL")
    for sec in ("periodic", "demand"):
        b = getattr(p, sec)
        if b is not None:
            ng = units.nl_to_ng(b.volume_nl, p.conc_ng_ml)
            check("max_bolus", ng, sec + ".dose", _what(p, ng, b.volume_nl), "")
    ng, day = worst_day(p)
    path = _dose_path(p, src, day)
    check("max_dose_per_day", ng, path, "the worst-day dose, %s on %s (schedule, periodic boluses "
          "and every demand bolus allowed)," % (_what(p, ng, daily_volume_nl(p, True)[day]),
                                                WEEKDAYS[day]), "/day")
    if current is None or current.drug != p.drug or not current.days:
        return
    # titration: the regular dose, without demand boluses, which the patient decides
    old, new = worst_day(current, False)[0], worst_day(p, False)[0]
    soft, hard = lib["max_change_per_day_pct"]
    if old == 0:
        return
    change = abs(new - old) * 100 * units.MILLI     # x old, in thousandths of a percent
    for kind, bound in (("hard", hard), ("soft", soft)):
        if bound is not None and change > bound * old:
            _breach(p, problem, kind, "max_change_per_day_pct", path,
                    "the daily dose changes by %s%% (worst day without demand boluses, from %s "
                    "to %s), above the drug library's %s maximum of %s%% per change for %s"
                    % (units.fmt_milli(change // old), amount(old, unit), amount(new, unit),
                       kind, units.fmt_milli(bound), p.drug))
            return


def _what(p, ng, nl):
    text = amount(ng, p.drug_units)
    if p.dose_units == "mL/day":
        text += " (%s mL)" % units.fmt_milli(nl // units.MILLI)
    return text


def _breach(p, problem, kind, limit, path, msg):
    if kind == "hard":
        problem(path, msg)
    else:
        p.soft.append({"path": path, "limit": limit, "message": "%s: %s" % (path, msg)})


def _dose_path(p, src, day):
    # the part of the program that sets the worst day's dose
    if p.flex_src:
        d = WEEKDAYS[day]
        return "flex.days." + d if d in p.flex_src else "flex.steps"
    for path in ("basal.rate", "periodic.dose", "demand.dose"):
        if path in src:
            return path
    return ""


# ---- clinician bolus ---------------------------------------------------------------------------

def clinician_bolus(program, dose, duration_min, board_cfg):
    """A one-off clinician bolus on the applied program: (therapy.Bolus, soft, cuts).

    dose is in the program's dose unit without "/day". A hard library limit raises
    ProgramError; soft limits broken come back as soft dicts (the caller needs an override);
    a bolus that would break the rate cap is stretched, recorded in cuts."""
    _, problems = validate(_CLINICIAN, {"dose": dose, "duration_min": duration_min}, "")
    if problems:
        raise ProgramError(problems)
    milli = units.milli(dose)
    vol = units.dose_nl(milli, program.dose_units, program.conc_ng_ml)
    if vol == 0:
        raise ProgramError([("dose", "%s %s is less than 1 nL at this concentration: too small "
                                     "to deliver"
                                     % (units.fmt_milli(milli), program.dose_units[:-4]))])
    ng = units.nl_to_ng(vol, program.conc_ng_ml)
    soft = []
    limits = program.bolus_max_ng or (None, None)
    unit = program.drug_units or "mg"
    for kind, bound in (("hard", limits[1]), ("soft", limits[0])):
        if bound is not None and ng > bound:
            msg = "%s is above the drug library's %s maximum of %s for %s" % (
                amount(ng, unit), kind, amount(bound, unit), program.drug)
            if kind == "hard":
                raise ProgramError([("dose", msg)])
            soft.append({"path": "dose", "limit": "max_bolus", "message": "dose: " + msg})
            break
    # the board may have changed since the program was compiled: the stricter cap wins
    cap, cap_limit = board_cap(board_cfg)
    top = program.cap_nl_day - program.bolus_cap_nl_day    # the program's highest basal rate
    if cap > program.cap_nl_day:
        cap, cap_limit = program.cap_nl_day, program.cap_limit
    if cap - top <= 0:
        raise ProgramError([("dose", no_room(cap, cap - top, cap_limit))])
    cuts = []  # type: list
    dur = stretch("duration_min", vol, duration_min * _MIN, cap - top, cap, cap_limit, cuts)
    return Bolus(vol, dur), soft, cuts
