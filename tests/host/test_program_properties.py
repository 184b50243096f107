"""Property tests of pump.program: any JSON is refused cleanly or compiles to a consistent program.

The compiled rates are checked against an independent exact oracle (fractions.Fraction).
CPython only (hypothesis); the firmware tests cover MicroPython.
"""
import copy
import json
import os
from fractions import Fraction

from hypothesis import HealthCheck, given, settings, strategies as st

from pump.program import (ProgramBuilder, ProgramError, canonical_doc, canonical_parts,
                          canonical_text, compile_program, digest, load_library, split_parts,
                          summary)
from pump.therapy import WEEKDAYS

from fakes import board_cfg

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIBRARY = load_library(os.path.join(ROOT, "firmware", "drugs.json"))
U_NL = 86400000
DAY = 86400000
SETTINGS = dict(deadline=None, max_examples=300,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NG = {"mg": 1000000, "mcg": 1000}


def number(lo=0, hi=5000):
    # a user number of 0..3 decimals, written as an int or a float like a person would
    return st.integers(lo, hi * 1000).map(lambda m: m // 1000 if m % 1000 == 0 else m / 1000)


times = st.integers(1, 1439).map(lambda m: "%02d:%02d" % (m // 60, m % 60))


@st.composite
def schedules(draw):
    starts = sorted(set(draw(st.lists(times, max_size=12))))
    return [{"start": s, "rate": draw(number(0, 30))} for s in ["00:00"] + starts]


@st.composite
def documents(draw):
    units = draw(st.sampled_from(["mg/day", "mcg/day", "mL/day"]))
    doc = {
        "format": 1, "name": draw(st.text(min_size=1, max_size=20)),
        "purpose": draw(st.sampled_from(["bench", "teaching"])),
        "drug": {"name": draw(st.sampled_from(sorted(LIBRARY["drugs"]))),
                 "concentration": draw(number(1, 60)),
                 "concentration_units": draw(st.sampled_from(["mg/mL", "mcg/mL"])),
                 "dose_units": units},
        "reservoir": {"capacity_ml": 20, "volume_ml": draw(number(0, 20))},
    }
    if draw(st.booleans()):
        doc["basal"] = {"rate": draw(number(0, 30))}
    else:
        doc["flex"] = {"steps": draw(schedules())}
        days = draw(st.lists(st.sampled_from(WEEKDAYS), max_size=3, unique=True))
        if days:
            doc["flex"]["days"] = {d: draw(schedules()) for d in days}
    if draw(st.booleans()):
        doc["temp"] = {"rate": draw(number(0, 30)), "duration_min": draw(st.integers(1, 10080))}
    if draw(st.booleans()):
        d = draw(st.integers(1, 120))
        doc["periodic"] = {"dose": draw(number(1, 3)), "duration_min": d,
                           "interval_min": draw(st.integers(d, 1440)), "first": draw(times)}
    if draw(st.booleans()):
        d = draw(st.integers(1, 60))
        doc["demand"] = {"dose": draw(number(1, 2)), "duration_min": d,
                         "lockout_min": draw(st.integers(d, 1440)),
                         "max_per_24h": draw(st.integers(1, 48))}
    kind = draw(st.sampled_from([None, "prime", "bridge"]))
    if kind:
        doc["catheter"] = {"length_cm": draw(number(1, 200)), "ul_per_cm": draw(number(1, 20))}
        doc[kind] = ({"duration_min": draw(st.integers(1, 1440))} if kind == "prime" else
                     {"previous_concentration": draw(number(1, 60)),
                      "previous_dose_per_day": draw(number(1, 30))})
    return doc


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10 ** 12, 10 ** 12)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda inner: (st.lists(inner, max_size=4)
                   | st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


def _leaves(v, path=()):
    yield path
    if isinstance(v, dict):
        for k in v:
            yield from _leaves(v[k], path + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _leaves(x, path + (i,))


@st.composite
def mutated(draw):
    doc = draw(documents())
    for _ in range(draw(st.integers(1, 3))):
        spots = [p for p in _leaves(doc) if p]
        where = draw(st.sampled_from(spots))
        parent = doc
        for k in where[:-1]:
            parent = parent[k]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete":
            del parent[where[-1]]
        elif action == "replace" or not isinstance(parent, dict):
            parent[where[-1]] = draw(json_values)
        else:
            parent[draw(st.text(max_size=8))] = draw(json_values)
    return doc


def _compile(doc, board=None, current=None):
    return compile_program(doc, board or board_cfg(max_rate_ul_h=50), LIBRARY, current)


def _check_compiled(p, board_cap):
    assert len(p.days) == 7
    top = 0
    for day in p.days:
        assert day.starts_ms[0] == 0
        assert all(a < b for a, b in zip(day.starts_ms, day.starts_ms[1:]))
        assert all(0 <= r <= board_cap for r in day.rates_nl_day)
        top = max([top] + day.rates_nl_day)
    if p.temp is not None:
        assert 0 <= p.temp.rate_nl_day <= board_cap
        top = max(top, p.temp.rate_nl_day)
    assert p.cap_nl_day == board_cap and p.bolus_cap_nl_day == board_cap - top
    for b in (p.periodic, p.demand, p.catheter):
        if b is not None:
            assert b.volume_nl > 0 and b.duration_ms > 0
            # never faster than the cap leaves for a bolus
            assert b.volume_nl * U_NL <= p.bolus_cap_nl_day * b.duration_ms
    if p.periodic is not None:
        assert p.periodic.interval_ms >= p.periodic.duration_ms
    if p.demand is not None:
        assert p.demand.lockout_ms >= p.demand.duration_ms
    json.dumps(summary(p))
    json.dumps(p.cuts)
    json.dumps(p.soft)


def _oracle_rate(milli, doc):
    """nL/day of a rate in the document's units, exactly, rounded down."""
    d = doc["drug"]
    rate = Fraction(milli, 1000)
    if d["dose_units"] == "mL/day":
        return int(rate * 1000000)
    conc = Fraction(str(d["concentration"])) * NG[d["concentration_units"][:-3]]
    return int(rate * NG[d["dose_units"][:-4]] / conc * 1000000)


@settings(**SETTINGS)
@given(mutated())
def test_any_document_is_compiled_or_refused_with_paths_never_crashing(doc):
    try:
        p = _compile(doc)
    except ProgramError as e:
        assert e.problems
        for path, message in e.problems:
            assert isinstance(path, str) and path and isinstance(message, str) and message
        return
    _check_compiled(p, 50 * 24000)


@settings(**SETTINGS)
@given(json_values)
def test_any_json_value_is_refused_cleanly(value):
    try:
        _compile(value)
    except ProgramError as e:
        assert e.problems


@settings(**SETTINGS)
@given(documents())
def test_a_valid_program_is_consistent_and_survives_its_canonical_round_trip(doc):
    try:
        p = _compile(doc)
    except ProgramError:
        return      # e.g. a library limit or a bolus that cannot fit: refusals are tested elsewhere
    cap = 50 * 24000
    _check_compiled(p, cap)
    # every rate is the exact conversion, cut to the cap
    src = doc["flex"]["steps"] if "flex" in doc else [{"rate": doc["basal"]["rate"]}]
    want = [min(cap, _oracle_rate(round(s["rate"] * 1000), doc)) for s in src]
    assert p.default_day.rates_nl_day == want
    again = _compile(canonical_doc(p))
    assert digest(again) == digest(p) and canonical_text(again) == canonical_text(p)
    assert list(canonical_parts(p)) == split_parts(canonical_doc(p))
    b = ProgramBuilder(board_cfg(max_rate_ul_h=50), LIBRARY)
    for path, value in reversed(split_parts(copy.deepcopy(doc))):
        b.add(path, value)
    assert digest(b.finish()) == digest(p)
    assert json.loads(canonical_text(p)) == json.loads(json.dumps(canonical_doc(p)))
