"""Benchmark figures: a value beside its baseline from the same run, the ratio, and the target met or not."""
import math

# what each operator of a target means, for the reader and for the check
_OPS = {">=": lambda v, t: v >= t, ">": lambda v, t: v > t,
        "<=": lambda v, t: v <= t, "<": lambda v, t: v < t}
OP_TEXT = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}


class Target:
    """A goal from the issue: value OP limit, in the figure's unit."""

    def __init__(self, op, limit, source="issue 8"):
        if op not in _OPS:
            raise ValueError("unknown target operator %r" % (op,))
        self.op = op
        self.limit = limit
        self.source = source

    def met(self, value):
        """True or False; None when there is no value to judge (the measurement failed)."""
        if value is None:
            return None
        return bool(_OPS[self.op](value, self.limit))

    def text(self, unit):
        return "%s %s %s" % (OP_TEXT[self.op], number(self.limit), unit)


def sig(x, digits=4):
    """x rounded to `digits` significant digits (ints stay ints); None and 0 unchanged."""
    if x is None or isinstance(x, bool):
        return x
    if isinstance(x, int):
        return x
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))


def number(x):
    """A number as a reader wants it: thousands separated, at most 3 significant digits below 1000."""
    if x is None:
        return "-"
    if isinstance(x, int) or (abs(x) >= 1000):
        return "{:,.0f}".format(x)
    if x == 0:
        return "0"
    return "{:.3g}".format(x)


def ratio(value, baseline, inverse=False):
    """value / baseline (or baseline / value), None when either is missing or the divisor is 0."""
    if value is None or baseline is None:
        return None
    num, den = (baseline, value) if inverse else (value, baseline)
    if den == 0:
        return None
    return sig(num / den, 3)


class Figure:
    """One measured figure: value, unit, its baseline (value and what it is), ratio, target.

    inverse: the ratio is baseline / value, for figures where less is better and the ratio reads
    as "times faster" or a speed-up (ratio_says names it); otherwise value / baseline.
    """

    def __init__(self, key, name, value, unit, baseline, baseline_is, target=None, inverse=False,
                 ratio_says="of the baseline", note="", error=None):
        self.key = key
        self.name = name
        self.value = sig(value)
        self.unit = unit
        self.baseline = sig(baseline)
        self.baseline_is = baseline_is
        self.target = target
        self.inverse = inverse
        self.ratio_says = ratio_says
        self.note = note
        self.error = error

    @property
    def ratio(self):
        return ratio(self.value, self.baseline, self.inverse)

    @property
    def met(self):
        return None if self.target is None else self.target.met(self.value)

    def to_json(self):
        d = {"key": self.key, "name": self.name, "value": self.value, "unit": self.unit,
             "baseline": {"value": self.baseline, "is": self.baseline_is},
             "ratio": self.ratio, "ratio_of": "baseline/value" if self.inverse else "value/baseline",
             "ratio_says": self.ratio_says}
        if self.target is not None:
            d["target"] = {"op": self.target.op, "value": self.target.limit,
                           "text": self.target.text(self.unit), "source": self.target.source}
            d["met"] = self.met
        if self.note:
            d["note"] = self.note
        if self.error:
            d["error"] = self.error
        return d

    @classmethod
    def from_json(cls, d):
        t = d.get("target")
        return cls(d["key"], d["name"], d["value"], d["unit"], d["baseline"]["value"],
                   d["baseline"]["is"], Target(t["op"], t["value"], t.get("source", "issue 8")) if t else None,
                   inverse=d.get("ratio_of") == "baseline/value", ratio_says=d.get("ratio_says", ""),
                   note=d.get("note", ""), error=d.get("error"))
