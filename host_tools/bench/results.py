"""bench/results.json and bench/results.md: the sections of a run, merged with those kept from earlier runs."""
import json
import os

from host_tools.bench.figures import OP_TEXT, Figure, number

FORMAT = 1

# Every section make bench knows, in the order they are shown, with how to run each. The fast
# ones run by default; the slow ones (each a whole HIL run or several) only when asked.
CATALOG = (
    ("sim_speed", "Simulation speed", "make bench"),
    ("control_loop", "Heap per control-loop pass, steady state", "make bench"),
    ("occlusion", "Occlusion detection", "make bench"),
    ("deploy", "Deploy time", "make bench"),
    ("hil_time", "HIL suite wall time", "make bench-hil"),
    ("heap_min", "Smallest heap for the whole HIL suite", "make bench-heap"),
)
TITLES = {name: title for name, title, _ in CATALOG}
RUN_BY = {name: how for name, _, how in CATALOG}
FAST = tuple(name for name, _, how in CATALOG if how == "make bench")


class Section:
    """The figures of one part of the bench, with when, where and how they were measured."""

    def __init__(self, name, date, command, machine, wall_s=None, figures=(), details=None, error=None):
        self.name = name
        self.title = TITLES.get(name, name)
        self.date = date
        self.command = command
        self.machine = machine
        self.wall_s = wall_s
        self.figures = list(figures)
        self.details = details or {}
        self.error = error

    def to_json(self):
        d = {"name": self.name, "title": self.title, "date": self.date, "command": self.command,
             "machine": self.machine, "wall_s": self.wall_s,
             "figures": [f.to_json() for f in self.figures]}
        if self.details:
            d["details"] = self.details
        if self.error:
            d["error"] = self.error
        return d

    @classmethod
    def from_json(cls, d):
        return cls(d["name"], d.get("date"), d.get("command"), d.get("machine") or {}, d.get("wall_s"),
                   [Figure.from_json(f) for f in d.get("figures", [])], d.get("details"), d.get("error"))


def load(path):
    """The sections in an earlier results.json, by name; {} if there is none or it is unreadable
    (the run then writes a fresh one: it never stops a bench)."""
    try:
        with open(path) as f:
            doc = json.load(f)
        if doc.get("format") != FORMAT:
            return {}
        return {d["name"]: Section.from_json(d) for d in doc.get("sections", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def merge(kept, fresh):
    """kept sections, with each fresh one in place of its namesake, in catalog order."""
    out = dict(kept)
    for s in fresh:
        out[s.name] = s
    order = [name for name, _, _ in CATALOG]
    return sorted(out.values(), key=lambda s: order.index(s.name) if s.name in order else len(order))


def targets(sections):
    """Every figure with a target, as the summary lists them."""
    out = []
    for s in sections:
        for f in s.figures:
            if f.target is not None:
                out.append({"section": s.name, "key": f.key, "name": f.name, "value": f.value,
                            "unit": f.unit, "target": f.target.text(f.unit), "met": f.met})
    return out


def to_json(sections, written):
    return {"format": FORMAT, "written": written, "sections": [s.to_json() for s in sections],
            "targets": targets(sections)}


def write(out_dir, sections, written):
    """results.json and results.md in out_dir; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    js = os.path.join(out_dir, "results.json")
    md = os.path.join(out_dir, "results.md")
    with open(js + ".tmp", "w") as f:
        json.dump(to_json(sections, written), f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(js + ".tmp", js)
    with open(md + ".tmp", "w") as f:
        f.write(markdown(sections, written))
    os.replace(md + ".tmp", md)
    return js, md


# ---- reading them -----------------------------------------------------------------------------
_TIME_UNITS = ((3600.0, "h"), (60.0, "min"))


def value_text(value, unit):
    """A value in its unit for a table; durations in s are shown in min or h when long."""
    if value is None:
        return "-"
    if unit == "s":
        for size, name in _TIME_UNITS:
            if abs(value) >= 2 * size:
                return "%.3g %s" % (value / size, name)
        return "%.3g s" % value if value < 100 else "%.0f s" % value
    if unit == "count":
        return number(value)
    return "%s %s" % (number(value), unit)


def ratio_text(f):
    if f.ratio is None:
        return "-"
    return "%sx %s" % (number(f.ratio), f.ratio_says)


def target_text(f):
    """The target in the figure's own terms ("< 3 min", "≥ 10,000 x real time"); "" without one."""
    if f.target is None:
        return ""
    return "%s %s" % (OP_TEXT[f.target.op], value_text(f.target.limit, f.unit))


def met_text(f):
    if f.target is None:
        return ""
    return {True: "met", False: "**not met**", None: "not measured"}[f.met]


def machine_text(m):
    if not m:
        return "machine unknown"
    parts = ["%s cores" % m.get("cores", "?"), m.get("cpu") or "", "Python %s" % m.get("python", "?"),
             "MicroPython %s" % m.get("micropython", "?")]
    if m.get("load_avg") is not None:
        parts.append("load average %s at the start" % m["load_avg"])
    return ", ".join(p for p in parts if p)


def table(figures):
    """The figures as a markdown table (also what the terminal shows)."""
    rows = ["| figure | value | baseline | ratio | target | |", "|---|---|---|---|---|---|"]
    for f in figures:
        value = "failed: %s" % f.error if f.error else value_text(f.value, f.unit)
        rows.append("| %s | %s | %s (%s) | %s | %s | %s |" % (
            f.name, value, value_text(f.baseline, f.unit), f.baseline_is, ratio_text(f),
            target_text(f), met_text(f)))
    return "\n".join(rows)


def notes(figures):
    return "\n".join("- %s: %s" % (f.name, f.note) for f in figures if f.note)


def markdown(sections, written):
    out = ["# Benchmark results", "",
           "Written by `make bench` (`python -m host_tools.bench`) on %s. What each figure measures, "
           "and how: [docs/benchmarks.md](../docs/benchmarks.md). Every figure stands beside its "
           "baseline, measured in the same run." % written, ""]
    judged = [f for s in sections for f in s.figures if f.target is not None]
    if judged:
        out += ["## Targets", "", "| target | figure | value | |", "|---|---|---|---|"]
        for f in judged:
            out.append("| %s | %s | %s | %s |" % (target_text(f), f.name, value_text(f.value, f.unit), met_text(f)))
        out.append("")
    for s in sections:
        out += ["## %s" % s.title, ""]
        line = "Measured %s by `%s`" % (s.date, s.command)
        if s.wall_s is not None:
            line += " in %.0f s" % s.wall_s
        out += [line + "; %s." % machine_text(s.machine), ""]
        if s.error:
            out += ["**This section failed:** %s" % s.error, ""]
        if s.figures:
            out += [table(s.figures), ""]
            n = notes(s.figures)
            if n:
                out += [n, ""]
    have = {s.name for s in sections}
    missing = [name for name, _, _ in CATALOG if name not in have]
    if missing:
        out += ["## Not measured yet", ""]
        out += ["- %s: `%s`" % (TITLES[n], RUN_BY[n]) for n in missing]
        out.append("")
    return "\n".join(out)
