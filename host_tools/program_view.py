"""Text views of programs for people: the summary, old beside new for review, and a field diff."""
import datetime
import json


def _flatten(value, path, out):
    if isinstance(value, dict):
        for k in sorted(value):
            _flatten(value[k], "%s.%s" % (path, k) if path else k, out)
    elif isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
        for i, x in enumerate(value):
            _flatten(x, "%s[%d]" % (path, i), out)
    else:
        out[path] = value


def flatten(doc):
    out = {}
    _flatten(doc, "", out)
    return out


def _show(v):
    return json.dumps(v, ensure_ascii=False)


def render_diff(old_doc, new_doc):
    """One line per field that changed, was added ('+') or removed ('-'), in path order."""
    old, new = flatten(old_doc), flatten(new_doc)
    lines = []
    for path in sorted(set(old) | set(new)):
        if path not in new:
            lines.append("- %s = %s" % (path, _show(old[path])))
        elif path not in old:
            lines.append("+ %s = %s" % (path, _show(new[path])))
        elif old[path] != new[path]:
            lines.append("~ %s: %s -> %s" % (path, _show(old[path]), _show(new[path])))
    return lines


def when(ms):
    """Local wall ms (since 1970 local) as a date and time, or 'beyond a year'."""
    if ms is None:
        return "beyond a year"
    return (datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=ms)).strftime("%a %Y-%m-%d %H:%M")


def side_by_side(left, right, titles, width=44):
    out = ["%-*s | %s" % (width, titles[0], titles[1]), "%s-+-%s" % ("-" * width, "-" * width)]
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        out.append("%-*s | %s" % (width, a[:width], b))
    return out


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _num(x):
    return ("%.3f" % x).rstrip("0").rstrip(".")


def _unit(summary):
    return summary["dose_units"][:-4]   # "mg/day" -> "mg"


def render_summary(summary, projection=None):
    """A person's view of a program: daily doses, the step tables, boluses, limits, refill date."""
    from pump.program import schedule_rows   # the firmware's own conversion back to people's units
    u = _unit(summary)
    r = summary["reservoir"]
    lines = ['Program "%s" (%s), digest %s' % (summary["name"], summary["purpose"], summary["digest"]),
             "Drug        %s %s, programmed in %s" % (summary["drug"], summary["concentration"],
                                                       summary["dose_units"]),
             "Reservoir   %s mL of %s mL, low alarm at %s mL" % (_num(r["volume_ml"]), _num(r["capacity_ml"]),
                                                                 _num(r["low_ml"])),
             "Daily dose  (basal and periodic boluses, by weekday)"]
    for i, day in enumerate(_DAYS):
        lines.append("  %s  %s %s  (%s mL)" % (day.capitalize(), _num(summary["daily"]["dose"][i]), u,
                                              _num(summary["daily"]["ml"][i])))
    w = summary["worst_day"]
    lines.append("Worst day   %s: %s %s (%s mL) with every demand bolus allowed"
                 % (w["day"].capitalize(), _num(w["dose"]), u, _num(w["ml"])))
    schedule = summary["schedule"]
    own = [d for d in _DAYS if d in schedule]
    for name in (["default"] if "default" in schedule else []) + own:
        days = ", ".join(d.capitalize() for d in _DAYS if d not in schedule) if name == "default" else name.capitalize()
        if not isinstance(schedule[name], dict):
            lines.append("Schedule    %s: %d steps" % (days, schedule[name]))
            continue
        lines.append("Schedule    %s" % days)
        for start, dose, ul_h in schedule_rows(summary, name):
            lines.append("  %s  %10s %s/day  %10s uL/h" % (start, _num(dose), u, _num(ul_h)))
    t = summary.get("temp")
    if t:
        lines.append("Temp rate   %s %s/day (%s uL/h) for %d min from therapy start"
                     % (_num(t["rate"]), u, _num(t["ul_h"]), t["duration_min"]))
    c = summary.get("catheter")
    if c:
        lines.append("%s bolus %s uL over %s min, before therapy starts"
                     % ("Priming" if c["kind"] == "prime" else "Bridge ", _num(c["volume_ul"]), _num(c["duration_min"])))
    p = summary.get("periodic")
    if p:
        lines.append("Periodic    %s %s (%s uL) over %s min every %d min, first at %s"
                     % (_num(p["dose"]), u, _num(p["volume_ul"]), _num(p["duration_min"]),
                        p["interval_min"], p["first"]))
    d = summary.get("demand")
    if d:
        lines.append("Demand      %s %s (%s uL) over %s min, lockout %d min, at most %d per 24 h"
                     % (_num(d["dose"]), u, _num(d["volume_ul"]), _num(d["duration_min"]),
                        d["lockout_min"], d["max_per_24h"]))
    lines.append("Device cap  %s uL/h; a bolus may add up to %s uL/h"
                 % (_num(summary["cap_ul_h"]), _num(summary["bolus_cap_ul_h"])))
    for cut in summary.get("cuts") or []:
        lines.append("Limited     %s" % cut["reason"])
    for s in summary.get("soft") or []:
        lines.append("Soft limit  %s (needs an override)" % s["message"])
    if projection is not None:
        lines.append("Reservoir low   %s  (refill by then)" % when(projection.get("low_at_ms")))
        lines.append("Reservoir empty %s" % when(projection.get("empty_at_ms")))
    return lines


def render_review(new_summary, new_projection, old_summary=None, old_projection=None):
    """The pump's program beside the one under review, for the person who confirms it."""
    new = render_summary(new_summary, new_projection)
    if old_summary is None:
        return ["The pump has no program yet. New program:", ""] + new
    old = render_summary(old_summary, old_projection)
    return side_by_side(old, new, ("NOW ON THE PUMP", "UNDER REVIEW"))
