# Unit tests of pump.program (the therapy program validator and compiler); run by pytest and tests/mprun.py.

import json

from pump.errors import BAD_PROGRAM
from pump.program import (FORMAT, MAX_PROBLEMS, MAX_STEPS, PART_MAX_BYTES, ProgramBuilder,
                          ProgramError, canonical_doc, canonical_parts, canonical_text,
                          clinician_bolus, compile_program, daily_dose_ng, digest, load_library,
                          schedule_rows, split_parts, summary)
from pump.therapy import WEEKDAYS
from pump.units import MS_PER_MIN

from fakes import board_cfg, expect_raises


def _dirname(p):
    i = p.rfind("/")
    return p[:i] if i > 0 else ("/" if i == 0 else ".")


ROOT = _dirname(_dirname(_dirname(__file__)))
LIBRARY = load_library(ROOT + "/firmware/drugs.json")
HOUR = 60 * MS_PER_MIN
CAP_5000 = 5000 * 24000     # the test board's 5000 uL/h in nL/day


def drug(name="morphine", concentration=10, cu="mg/mL", du="mg/day"):
    return {"name": name, "concentration": concentration, "concentration_units": cu,
            "dose_units": du}


def basal_doc(rate=1.2, **sections):
    """A small valid program: a basal rate of morphine at 10 mg/mL, plus any sections given."""
    doc = {"format": 1, "name": "Basal", "purpose": "bench", "drug": drug(),
           "reservoir": {"capacity_ml": 20, "volume_ml": 18}, "basal": {"rate": rate}}
    doc.update(sections)
    return doc


def steps(*pairs):
    return [{"start": s, "rate": r} for s, r in pairs]


def full_doc():
    """The example of docs/programs.md: flex week with a Saturday, temp, periodic, demand, prime."""
    return {
        "format": 1, "name": "Flex week", "purpose": "bench", "drug": drug(),
        "reservoir": {"capacity_ml": 20, "volume_ml": 18},
        "flex": {"steps": steps(("00:00", 1.0), ("07:30", 2.0)),
                 "days": {"sat": steps(("00:00", 1.2))}},
        "temp": {"rate": 3.0, "duration_min": 120},
        "periodic": {"dose": 0.5, "duration_min": 30, "interval_min": 360, "first": "06:00"},
        "demand": {"dose": 0.2, "duration_min": 10, "lockout_min": 60, "max_per_24h": 6},
        "catheter": {"length_cm": 50, "ul_per_cm": 1.9},
        "prime": {"duration_min": 30},
    }


def build(doc, board=None, current=None):
    return compile_program(doc, board or board_cfg(), LIBRARY, current)


def problems_of(doc, board=None, current=None):
    e = expect_raises(ProgramError, compile_program, doc, board or board_cfg(), LIBRARY, current)
    assert e.code == BAD_PROGRAM, e.code
    return e.problems


def only_problem(doc, board=None, current=None):
    problems = problems_of(doc, board, current)
    assert len(problems) == 1, problems
    return problems[0]


def paths(problems):
    return [p for p, _ in problems]


# ---- a valid program compiles to exact integers ----------------------------------------------

def test_a_basal_rate_of_1_2_mg_per_day_at_10_mg_per_ml_is_120000_nl_per_day():
    p = build(basal_doc(1.2))
    assert p.conc_ng_ml == 10000000
    assert len(p.days) == 7
    for day in p.days:
        assert day.starts_ms == [0] and day.rates_nl_day == [120000], day.rates_nl_day
    assert p.cap_nl_day == CAP_5000 and p.bolus_cap_nl_day == CAP_5000 - 120000
    assert p.cuts == [] and p.soft == []


def test_the_full_example_compiles_to_the_expected_integers():
    p = build(full_doc())
    assert (p.name, p.purpose, p.drug, p.dose_units) == ("Flex week", "bench", "morphine", "mg/day")
    assert (p.capacity_nl, p.volume_nl, p.low_nl) == (20000000, 18000000, 2000000)
    weekday = p.days[0]
    assert weekday.starts_ms == [0, 7 * HOUR + 30 * MS_PER_MIN]
    assert weekday.rates_nl_day == [100000, 200000]
    for i in range(5):
        assert p.days[i] is weekday     # the default schedule is one shared Day
    assert p.days[6] is weekday and p.default_day is weekday
    assert p.days[5].starts_ms == [0] and p.days[5].rates_nl_day == [120000]
    assert (p.temp.rate_nl_day, p.temp.duration_ms) == (300000, 120 * MS_PER_MIN)
    per = p.periodic
    assert (per.volume_nl, per.duration_ms, per.interval_ms, per.first_ms) == (
        50000, 30 * MS_PER_MIN, 6 * HOUR, 6 * HOUR)
    dem = p.demand
    assert (dem.volume_nl, dem.duration_ms, dem.lockout_ms, dem.max_per_24h) == (
        20000, 10 * MS_PER_MIN, HOUR, 6)
    cat = p.catheter
    assert (cat.kind, cat.volume_nl, cat.duration_ms) == ("prime", 95000, 30 * MS_PER_MIN)
    # the temp rate is the highest basal rate: boluses get the rest of the cap
    assert p.bolus_cap_nl_day == CAP_5000 - 300000
    assert p.bolus_max_ng == (1000000, 2000000)
    assert p.drug_units == "mg" and p.cap_limit == "limits.max_rate_ul_h"
    assert p.cuts == [] and p.soft == []


def test_mcg_and_ml_per_day_doses_convert_exactly():
    doc = basal_doc(500)
    doc["drug"] = drug("baclofen", 2000, "mcg/mL", "mcg/day")
    assert build(doc).days[0].rates_nl_day == [250000]      # 500 mcg at 2000 mcg/mL = 250 uL
    doc = basal_doc(2, periodic={"dose": 0.5, "duration_min": 60, "interval_min": 720,
                                 "first": "08:00"})
    doc["drug"] = drug("saline", 9, "mg/mL", "mL/day")
    p = build(doc)
    assert p.days[0].rates_nl_day == [2000000] and p.periodic.volume_nl == 500000
    assert p.conc_ng_ml == 9000000


def test_daily_dose_is_the_schedule_plus_periodic_boluses_averaged_per_day():
    p = build(full_doc())
    # weekdays: 1 mg/day for 7.5 h + 2 mg/day for 16.5 h = 1.6875 mg, + 4 x 0.5 mg periodic
    # Saturday: 1.2 mg + 2 mg; demand boluses are not part of it
    assert daily_dose_ng(p) == [3687500] * 5 + [3200000, 3687500], daily_dose_ng(p)


def test_a_program_of_boluses_only_compiles_with_a_zero_basal_rate():
    doc = basal_doc()
    del doc["basal"]
    doc["demand"] = {"dose": 0.2, "duration_min": 10, "lockout_min": 60, "max_per_24h": 6}
    p = build(doc)
    assert [d.rates_nl_day for d in p.days] == [[0]] * 7
    assert p.demand.volume_nl == 20000 and p.bolus_cap_nl_day == CAP_5000


def test_a_bridge_runs_at_the_previous_daily_dose_and_concentration():
    doc = basal_doc(catheter={"length_cm": 50, "ul_per_cm": 2},
                    bridge={"previous_concentration": 5, "previous_dose_per_day": 1})
    p = build(doc)
    # 100 uL of the old 5 mg/mL drug at the old 1 mg/day = 200 uL/day: half a day
    assert (p.catheter.kind, p.catheter.volume_nl, p.catheter.duration_ms) == (
        "bridge", 100000, 12 * HOUR)


def test_fills_the_default_low_reservoir_level_of_2_ml():
    assert build(basal_doc()).low_nl == 2000000
    doc = basal_doc()
    doc["reservoir"]["low_ml"] = 0.5
    assert build(doc).low_nl == 500000


# ---- malformed and empty programs ------------------------------------------------------------

def test_refuses_a_program_that_is_not_an_object():
    assert only_problem([1, 2]) == ("program", "must be an object, got a list")


def test_an_empty_program_gives_every_missing_key_and_nothing_to_deliver():
    problems = problems_of({})
    assert paths(problems) == ["drug", "format", "name", "purpose", "reservoir",
                               "program"], problems
    assert problems[0][1] == "required key is missing"
    assert problems[-1][1].startswith("nothing to deliver"), problems


def test_refuses_a_program_with_nothing_to_deliver():
    doc = basal_doc()
    del doc["basal"]
    path, msg = only_problem(doc)
    assert path == "program" and msg.startswith("nothing to deliver"), msg


def test_refuses_basal_and_flex_together():
    doc = basal_doc(flex={"steps": steps(("00:00", 1))})
    assert only_problem(doc) == ("flex", "[basal] and [flex] exclude each other: keep one")


def test_refuses_a_format_other_than_1():
    doc = basal_doc()
    doc["format"] = 2
    assert only_problem(doc) == ("format", "must be 1 (the only program format), got 2")
    assert FORMAT == 1


def test_refuses_unknown_units():
    doc = basal_doc()
    doc["drug"] = drug(cu="g/mL", du="mg/h")
    assert problems_of(doc) == [
        ("drug.concentration_units", 'must be one of "mg/mL", "mcg/mL", got "g/mL"'),
        ("drug.dose_units", 'must be one of "mg/day", "mcg/day", "mL/day", got "mg/h"')]


def test_refuses_a_drug_missing_from_the_library_listing_the_known_ones():
    doc = basal_doc()
    doc["drug"]["name"] = "fentanyl"
    path, msg = only_problem(doc)
    assert path == "drug.name", path
    assert msg == ('"fentanyl" is not in the drug library; known: baclofen, bupivacaine, '
                   'clonidine, hydromorphone, morphine, saline, ziconotide'), msg


# ---- numbers ---------------------------------------------------------------------------------

def test_refuses_negative_rates_naming_value_and_bound():
    doc = basal_doc()
    del doc["basal"]
    doc["flex"] = {"steps": steps(("00:00", 1), ("06:00", 2), ("12:00", 1), ("18:00", -1))}
    assert only_problem(doc) == ("flex.steps[3].rate", "must be >= 0, got -1")


def test_refuses_huge_numbers():
    doc = basal_doc(1000000000)
    doc["drug"]["concentration"] = 1e300
    assert problems_of(doc) == [("basal.rate", "must be <= 100000, got 1000000000"),
                                ("drug.concentration", "must be <= 100000, got 1e+300")]


def test_refuses_nan_and_infinity():
    doc = basal_doc(float("nan"), temp={"rate": float("inf"), "duration_min": 60},
                    demand={"dose": float("-inf"), "duration_min": 10, "lockout_min": 60,
                            "max_per_24h": 6})
    problems = problems_of(doc)
    assert paths(problems) == ["basal.rate", "demand.dose", "temp.rate"], problems
    for _, msg in problems:
        assert msg.startswith("must be a finite number"), msg


def test_refuses_numbers_with_more_than_3_decimals_but_tolerates_float_noise():
    assert only_problem(basal_doc(1.2345)) == (
        "basal.rate", "must have at most 3 decimals, got 1.2345")
    p = build(basal_doc(0.1 + 0.2))       # 0.30000000000000004: the noise of a binary float
    assert p.days[0].rates_nl_day == [30000]


def test_refuses_a_float_where_minutes_are_required():
    doc = basal_doc(temp={"rate": 2, "duration_min": 90.5})
    assert only_problem(doc) == ("temp.duration_min", "must be an int, got float 90.5")


def test_refuses_a_dose_too_small_to_deliver():
    doc = basal_doc(periodic={"dose": 0.001, "duration_min": 10, "interval_min": 60,
                              "first": "00:00"})
    doc["drug"] = drug(concentration=50, du="mcg/day")
    doc["basal"]["rate"] = 100
    path, msg = only_problem(doc)
    assert path == "periodic.dose" and "less than 1 nL" in msg, (path, msg)


# ---- flex schedules --------------------------------------------------------------------------

def flex_doc(sched=None, **days):
    doc = basal_doc()
    del doc["basal"]
    doc["flex"] = {"steps": sched if sched is not None else steps(("00:00", 1), ("08:00", 2))}
    if days:
        doc["flex"]["days"] = days
    return doc


def test_refuses_a_flex_schedule_whose_steps_are_out_of_order():
    doc = flex_doc(sat=steps(("08:00", 1), ("07:00", 2)))
    assert problems_of(doc) == [
        ("flex.days.sat[0].start", 'must be "00:00" (the first step starts the day), got "08:00"'),
        ("flex.days.sat[1].start", 'must be after flex.days.sat[0].start "08:00", got "07:00"')]


def test_refuses_two_steps_with_the_same_start_naming_both():
    doc = flex_doc(steps(("00:00", 1), ("08:00", 2), ("08:00", 3)))
    assert only_problem(doc) == (
        "flex.steps[2].start", 'must be after flex.steps[1].start "08:00", got "08:00"')


def test_refuses_a_first_step_that_does_not_start_at_midnight():
    doc = flex_doc(steps(("00:30", 1)))
    assert only_problem(doc) == (
        "flex.steps[0].start", 'must be "00:00" (the first step starts the day), got "00:30"')


def test_refuses_a_time_that_is_not_24_hour_hh_mm():
    doc = flex_doc(steps(("00:00", 1), ("7:30", 2), ("24:00", 1)))
    assert problems_of(doc) == [
        ("flex.steps[1].start", 'must be a 24-hour "HH:MM" time, got "7:30"'),
        ("flex.steps[2].start", 'must be a 24-hour "HH:MM" time, got "24:00"')]


def _day_of(n):
    return [{"start": "%02d:%02d" % (i // 2, 30 * (i % 2)), "rate": 1} for i in range(n)]


def test_accepts_48_steps_and_refuses_49():
    assert len(build(flex_doc(_day_of(MAX_STEPS))).days[0].starts_ms) == 48
    doc = flex_doc(_day_of(48) + [{"start": "23:59", "rate": 1}])
    assert only_problem(doc) == ("flex.steps", "must have at most 48 items, got 49")


def test_refuses_an_empty_flex_schedule_and_flex_without_steps():
    assert problems_of(flex_doc([])) == [("flex.steps", "must have at least 1 items, got 0")]
    doc = flex_doc()
    doc["flex"] = {}
    assert problems_of(doc) == [("flex.steps", "required key is missing")]


def test_refuses_a_step_that_is_not_an_object_or_lacks_a_field():
    doc = flex_doc([{"start": "00:00", "rate": 1}, "08:00", {"start": "09:00"}])
    assert problems_of(doc) == [("flex.steps[1]", 'must be an object, got string "08:00"'),
                                ("flex.steps[2].rate", "required key is missing")]


def test_refuses_unknown_keys_with_their_paths():
    doc = flex_doc(sun=steps(("00:00", 1)), funday=steps(("00:00", 1)))
    doc["colour"] = "red"
    doc["drug"]["strength"] = 3
    doc["flex"]["steps"][0]["speed"] = 2
    doc["flex"]["speed"] = 1
    problems = problems_of(doc)
    assert paths(problems) == ["colour", "drug.strength", "flex.steps[0].speed",
                               "flex.days.funday", "flex.speed"], problems
    assert problems[0][1].startswith("unknown key; allowed: basal, bridge, catheter, demand, drug,")
    assert problems[3][1] == "unknown key; allowed: mon, tue, wed, thu, fri, sat, sun"
    assert problems[4][1] == "unknown key; allowed: days, steps"


def test_refuses_flex_parts_of_the_wrong_type():
    doc = flex_doc()
    doc["flex"]["days"] = [1]
    assert problems_of(doc) == [("flex.days", "must be an object, got a list")]
    doc["flex"] = "weekly"
    assert problems_of(doc) == [("flex", 'must be an object, got string "weekly"'),
                                ("flex.steps", "required key is missing")]


# ---- sections that go together ---------------------------------------------------------------

CATHETER = {"length_cm": 50, "ul_per_cm": 1.9}
BRIDGE = {"previous_concentration": 5, "previous_dose_per_day": 1}


def test_refuses_prime_and_bridge_together():
    doc = basal_doc(catheter=CATHETER, prime={"duration_min": 30}, bridge=BRIDGE)
    assert only_problem(doc) == ("bridge", "[prime] and [bridge] exclude each other: keep one")


def test_refuses_prime_or_bridge_without_a_catheter():
    path, msg = only_problem(basal_doc(prime={"duration_min": 30}))
    assert path == "catheter" and msg.startswith("required key is missing: [prime]"), msg
    path, msg = only_problem(basal_doc(bridge=BRIDGE))
    assert path == "catheter" and msg.startswith("required key is missing: [bridge]"), msg


def test_refuses_a_catheter_without_prime_or_bridge():
    path, msg = only_problem(basal_doc(catheter=CATHETER))
    assert path == "catheter" and msg.startswith("has no effect without [prime] or [bridge]"), msg


def test_refuses_a_bridge_that_would_take_more_than_a_week():
    doc = basal_doc(catheter=CATHETER, bridge={"previous_concentration": 50,
                                               "previous_dose_per_day": 0.01})
    path, msg = only_problem(doc)
    assert path == "bridge" and "above the 10080 allowed" in msg, (path, msg)


def test_refuses_a_periodic_interval_or_demand_lockout_shorter_than_the_bolus():
    doc = basal_doc(periodic={"dose": 0.5, "duration_min": 30, "interval_min": 20, "first": "6:00"},
                    demand={"dose": 0.2, "duration_min": 10, "lockout_min": 5, "max_per_24h": 49})
    assert problems_of(doc) == [
        ("demand.max_per_24h", "must be <= 48, got 49"),
        ("periodic.first", 'must be a 24-hour "HH:MM" time, got "6:00"'),
        ("periodic.interval_min", "must be >= duration_min 30, got 20"),
        ("demand.lockout_min", "must be >= duration_min 10, got 5")]


def test_refuses_reservoir_volumes_out_of_bounds():
    doc = basal_doc()
    doc["reservoir"] = {"capacity_ml": 25, "volume_ml": 30, "low_ml": 25}
    assert problems_of(doc) == [
        ("reservoir.capacity_ml",
         "must be <= 20 (the board's limits.reservoir_ul 20000 uL), got 25"),
        ("reservoir.volume_ml", "must be <= capacity_ml 25, got 30"),
        ("reservoir.low_ml", "must be < capacity_ml 25, got 25")]


def test_a_reservoir_of_2_ml_or_less_needs_an_explicit_low_level():
    doc = basal_doc()
    doc["reservoir"] = {"capacity_ml": 1.5, "volume_ml": 1}
    assert only_problem(doc) == (
        "reservoir.low_ml", "the default 2 is not below capacity_ml 1.5: set low_ml below it")
    doc["reservoir"]["low_ml"] = 0.5
    assert build(doc).low_nl == 500000


# ---- every problem at once -------------------------------------------------------------------

def test_reports_every_problem_of_every_part_at_once_with_paths():
    doc = flex_doc(steps(("00:00", -1), ("00:00", 1.0001)), sat=steps(("01:00", 1)))
    doc["name"] = ""
    doc["drug"]["dose_units"] = "mg/week"
    doc["prime"] = {"duration_min": 0}
    doc["reservoir"]["volume_ml"] = float("nan")
    problems = problems_of(doc)
    assert paths(problems) == [
        "drug.dose_units", "name", "prime.duration_min", "reservoir.volume_ml",
        "flex.steps[0].rate", "flex.steps[1].rate", "flex.steps[1].start",
        "flex.days.sat[0].start", "catheter"], problems
    e = expect_raises(ProgramError, compile_program, doc, board_cfg(), LIBRARY)
    for p in paths(problems):
        assert p in e.message, e.message


def test_keeps_at_most_max_problems_and_counts_the_rest():
    bad = [{"start": "99:99", "rate": -1}] * 48
    doc = flex_doc(bad, **dict([(d, bad) for d in WEEKDAYS]))
    problems = problems_of(doc)
    assert len(problems) == MAX_PROBLEMS + 1, len(problems)
    assert problems[-1][0] == "program" and problems[-1][1].startswith("and ")


# ---- device limits ---------------------------------------------------------------------------

def test_cuts_a_basal_rate_above_the_device_cap_and_records_why():
    p = build(basal_doc(2), board_cfg(max_rate_ul_h=5))     # 2 mg/day = 200 uL/day = 8.333 uL/h
    assert p.days[0].rates_nl_day == [120000] and p.cap_nl_day == 120000
    assert len(p.cuts) == 1, p.cuts
    c = p.cuts[0]
    assert c["path"] == "basal.rate" and c["limit"] == "board limits.max_rate_ul_h", c
    assert c["requested_ul_h"] == 8.333 and c["delivered_ul_h"] == 5.0, c
    assert c["reason"] == ("basal.rate asks 8.333 uL/h, above the board's limits.max_rate_ul_h "
                           "of 5 uL/h: cut to it"), c["reason"]
    json.dumps(p.cuts)


def test_cuts_flex_steps_above_the_cap_in_one_record_per_schedule():
    doc = flex_doc(steps(("00:00", 1), ("06:00", 2), ("12:00", 1), ("18:00", 3)))
    p = build(doc, board_cfg(max_rate_ul_h=5))
    assert p.days[0].rates_nl_day == [100000, 120000, 100000, 120000]
    assert len(p.cuts) == 1, p.cuts
    c = p.cuts[0]
    assert (c["path"], c["steps"], c["requested_ul_h"]) == ("flex.steps[1].rate", [1, 3], 12.5), c
    assert c["reason"].startswith("flex.steps: steps 1, 3 ask up to 12.5 uL/h"), c["reason"]


def test_the_hourly_volume_limit_caps_rates_when_it_is_lower():
    p = build(basal_doc(2), board_cfg(max_rate_ul_h=100, max_volume_per_h_ul=4))
    assert p.cap_nl_day == 96000 and p.days[0].rates_nl_day == [96000]
    assert p.cap_limit == "limits.max_volume_per_h_ul"
    assert p.cuts[0]["limit"] == "board limits.max_volume_per_h_ul"


def test_stretches_a_bolus_that_would_break_the_cap_on_top_of_the_highest_basal_rate():
    periodic = {"dose": 0.01, "duration_min": 30, "interval_min": 360, "first": "06:00"}
    p = build(basal_doc(1, periodic=periodic), board_cfg(max_rate_ul_h=5))
    # cap 120000 nL/day less basal 100000 leaves 20000 nL/day: 1 uL takes 72 min
    assert p.bolus_cap_nl_day == 20000
    assert (p.periodic.volume_nl, p.periodic.duration_ms) == (1000, 72 * MS_PER_MIN)
    c = p.cuts[0]
    assert c["path"] == "periodic.duration_min" and c["limit"] == "board limits.max_rate_ul_h"
    assert (c["requested_min"], c["delivered_min"], c["volume_ul"]) == (30.0, 72.0, 1.0), c
    assert "stretched to 72 min" in c["reason"], c["reason"]


def test_refuses_a_bolus_when_the_basal_rate_leaves_no_room_under_the_cap():
    periodic = {"dose": 0.01, "duration_min": 30, "interval_min": 360, "first": "06:00"}
    path, msg = only_problem(basal_doc(2, periodic=periodic), board_cfg(max_rate_ul_h=5))
    assert path == "periodic" and msg.startswith("no room for a bolus"), (path, msg)


def test_refuses_a_bolus_stretched_past_its_interval():
    periodic = {"dose": 0.1, "duration_min": 30, "interval_min": 360, "first": "06:00"}
    path, msg = only_problem(basal_doc(1, periodic=periodic), board_cfg(max_rate_ul_h=5))
    assert path == "periodic.interval_min", path
    assert msg.startswith("must be >= the bolus duration 720 min"), msg


# ---- drug library limits ---------------------------------------------------------------------

def test_a_hard_library_limit_refuses_the_program():
    doc = basal_doc()
    doc["drug"]["concentration"] = 60
    assert only_problem(doc) == ("drug.concentration", "60 mg/mL is above the drug library's "
                                 "hard maximum of 50 mg/mL for morphine")


def test_a_soft_library_limit_is_listed_for_confirmation():
    doc = basal_doc()
    doc["drug"]["concentration"] = 30
    p = build(doc)
    assert p.soft == [{"path": "drug.concentration", "limit": "max_concentration",
                       "message": "drug.concentration: 30 mg/mL is above the drug library's "
                                  "soft maximum of 25 mg/mL for morphine"}], p.soft


def test_bolus_limits_apply_to_each_periodic_and_demand_bolus():
    doc = basal_doc(periodic={"dose": 3, "duration_min": 30, "interval_min": 720, "first": "06:00"},
                    demand={"dose": 1.5, "duration_min": 10, "lockout_min": 60, "max_per_24h": 1})
    assert only_problem(doc) == ("periodic.dose", "3 mg is above the drug library's hard maximum "
                                 "of 2 mg for morphine")
    doc["periodic"]["dose"] = 0.5
    assert [s["path"] for s in build(doc).soft] == ["demand.dose"]


def test_the_daily_dose_limit_counts_every_demand_bolus_allowed_on_the_worst_day():
    demand = {"dose": 0.5, "duration_min": 10, "lockout_min": 60, "max_per_24h": 4}
    p = build(basal_doc(14, demand=demand))     # 14 mg + 4 x 0.5 mg = 16 mg > soft 15
    assert [(s["path"], s["limit"]) for s in p.soft] == [("basal.rate", "max_dose_per_day")], p.soft
    assert "16 mg on mon" in p.soft[0]["message"], p.soft[0]
    assert build(basal_doc(14)).soft == []
    path, msg = only_problem(basal_doc(29, demand=demand))
    assert path == "basal.rate" and "hard maximum of 30 mg/day for morphine" in msg, msg


def test_the_daily_dose_limit_names_the_weekday_schedule_that_breaks_it():
    path, msg = only_problem(flex_doc(steps(("00:00", 1)), sat=steps(("00:00", 31))))
    assert path == "flex.days.sat" and "31 mg on sat" in msg, (path, msg)


def test_a_volume_program_is_checked_in_drug_mass_through_its_concentration():
    doc = basal_doc(3.1)        # 3.1 mL/day of 10 mg/mL morphine: 31 mg > hard 30
    doc["drug"] = drug(du="mL/day")
    path, msg = only_problem(doc)
    assert path == "basal.rate" and "31 mg (3.1 mL) on mon" in msg, (path, msg)


def test_titration_is_checked_against_the_current_program_of_the_same_drug():
    current = build(basal_doc(10))
    assert build(basal_doc(11.5), current=current).soft == []       # +15%
    soft = build(basal_doc(13), current=current).soft               # +30% > soft 20%
    assert [s["limit"] for s in soft] == ["max_change_per_day_pct"], soft
    assert "changes by 30%" in soft[0]["message"], soft
    path, msg = only_problem(basal_doc(16), current=current)        # +60% > hard 50%
    assert path == "basal.rate" and "hard maximum of 50% per change" in msg, msg
    assert build(basal_doc(7), current=current).soft != []          # -30%: a drop counts too


def test_titration_ignores_another_drug_and_demand_boluses():
    other = basal_doc(10)
    other["drug"] = drug("bupivacaine")
    assert build(basal_doc(14), current=build(other)).soft == []
    demand = {"dose": 1, "duration_min": 10, "lockout_min": 60, "max_per_24h": 4}
    current = build(basal_doc(10))
    assert build(basal_doc(10, demand=demand), current=current).soft == []


# ---- canonical form and digest ---------------------------------------------------------------

def test_the_digest_is_a_fixed_function_of_the_program_on_both_runtimes():
    p = build(full_doc())
    assert digest(p) == "81e4a080209a1b20", digest(p)


def test_the_canonical_text_is_compact_json_with_sorted_keys():
    text = canonical_text(build(full_doc()))
    assert text.startswith('{"catheter":{"length_cm":50,"ul_per_cm":1.9},"demand":'), text
    assert '"flex":{"days":{"sat":[{"rate":1.2,"start":"00:00"}]},"steps":[{"rate":1,' in text
    assert '"reservoir":{"capacity_ml":20,"low_ml":2,"volume_ml":18}' in text
    assert json.loads(text) == json.loads(json.dumps(canonical_doc(build(full_doc()))))


def test_the_digest_survives_a_canonical_round_trip():
    p = build(full_doc())
    again = build(canonical_doc(p))
    assert digest(again) == digest(p)
    assert canonical_text(again) == canonical_text(p)


def test_the_digest_ignores_how_numbers_are_written_and_defaults_given():
    doc = full_doc()
    doc["flex"]["steps"][0]["rate"] = 1          # 1.0 written as 1
    doc["reservoir"]["low_ml"] = 2.0             # the default, given
    doc["drug"]["concentration"] = 10.000
    assert digest(build(doc)) == digest(build(full_doc()))


def test_the_digest_changes_with_the_program():
    base = digest(build(full_doc()))
    for change in ("rate", "name", "day"):
        doc = full_doc()
        if change == "rate":
            doc["flex"]["steps"][1]["rate"] = 2.001
        elif change == "name":
            doc["name"] = "Flex week 2"
        else:
            doc["flex"]["days"]["sun"] = doc["flex"]["days"].pop("sat")
        assert digest(build(doc)) != base, change


def test_canonical_parts_are_the_canonical_document_split():
    p = build(full_doc())
    parts = canonical_parts(p)
    assert len(parts) == 3
    assert list(parts) == split_parts(canonical_doc(p))
    assert parts[1] == ("flex.steps", [{"start": "00:00", "rate": 1},
                                       {"start": "07:30", "rate": 2}])
    assert parts[2] == ("flex.days.sat", [{"start": "00:00", "rate": 1.2}])
    assert parts[0][1]["reservoir"]["low_ml"] == 2
    assert len(canonical_parts(build(basal_doc()))) == 1


def test_canonical_strings_are_escaped_as_json():
    doc = basal_doc()
    doc["name"] = 'say "hi"\\\n\u00e9'
    text = canonical_text(build(doc))
    assert json.loads(text)["name"] == doc["name"], text


# ---- parts -----------------------------------------------------------------------------------

def test_split_parts_sends_the_header_then_flex_steps_then_each_weekday_in_order():
    doc = full_doc()
    doc["flex"]["days"] = {"sun": steps(("00:00", 1)), "mon": steps(("00:00", 2))}
    parts = split_parts(doc)
    assert [p for p, _ in parts] == ["", "flex.steps", "flex.days.mon", "flex.days.sun"]
    assert "flex" not in parts[0][1] and parts[0][1]["name"] == "Flex week"
    assert split_parts([3]) == [("", [3])]


def test_the_builder_part_by_part_equals_compile_program_in_any_part_order():
    doc = full_doc()
    whole = build(doc)
    parts = split_parts(doc)
    for order in (parts, list(reversed(parts))):
        b = ProgramBuilder(board_cfg(), LIBRARY)
        for path, value in order:
            b.add(path, value)
        p = b.finish()
        assert digest(p) == digest(whole)
        assert [d.rates_nl_day for d in p.days] == [d.rates_nl_day for d in whole.days]
        assert p.periodic.duration_ms == whole.periodic.duration_ms


def test_the_builder_refuses_a_part_twice_an_unknown_part_and_a_missing_header():
    b = ProgramBuilder(board_cfg(), LIBRARY)
    b.add("flex.steps", steps(("00:00", 1)))
    b.add("flex.steps", steps(("00:00", 1)))
    b.add("drug", {})
    e = expect_raises(ProgramError, b.finish)
    assert [p for p, _ in e.problems] == ["flex.steps", "drug", "program"], e.problems
    assert e.problems[0][1] == "part sent twice"
    assert e.problems[2][1].startswith("the header part")


def test_the_builder_refuses_flex_inside_the_header():
    b = ProgramBuilder(board_cfg(), LIBRARY)
    head = flex_doc()
    b.add("", head)
    e = expect_raises(ProgramError, b.finish)
    assert [p for p, _ in e.problems] == ["flex", "flex.steps"], e.problems


def test_refuses_a_part_larger_than_a_protocol_line():
    doc = basal_doc()
    doc["notes"] = "x" * 4000
    problems = problems_of(doc)
    size = len(json.dumps(doc, separators=(",", ":")))
    assert problems[0] == ("program", "is %d bytes as compact JSON; a part may have at most %d"
                           % (size, PART_MAX_BYTES)), problems
    assert problems[1][0] == "notes"


# ---- summary ---------------------------------------------------------------------------------

def test_the_summary_gives_doses_volumes_steps_and_boluses_for_people():
    p = build(full_doc())
    s = summary(p)
    json.dumps(s)
    assert (s["name"], s["drug"], s["concentration"], s["dose_units"]) == (
        "Flex week", "morphine", "10 mg/mL", "mg/day")
    assert s["reservoir"] == {"capacity_ml": 20.0, "volume_ml": 18.0, "low_ml": 2.0}
    assert s["daily"]["dose"] == [3.688] * 5 + [3.2, 3.688], s["daily"]
    assert s["daily"]["ml"][5] == 0.32
    assert s["schedule"] == {"default": {"start_ms": [0, 27000000], "nl_day": [100000, 200000]},
                             "sat": {"start_ms": [0], "nl_day": [120000]}}, s["schedule"]
    assert schedule_rows(s, "default") == [["00:00", 1.0, 4.166], ["07:30", 2.0, 8.333]]
    assert schedule_rows(s, "sat") == [["00:00", 1.2, 5.0]]
    assert s["conc_ng_ml"] == 10000000
    assert s["worst_day"] == {"day": "mon", "dose": 4.888, "ml": 0.489}, s["worst_day"]
    assert s["temp"] == {"rate": 3.0, "ul_h": 12.5, "duration_min": 120}
    assert s["catheter"] == {"kind": "prime", "volume_ul": 95.0, "duration_min": 30.0}
    assert s["periodic"] == {"dose": 0.5, "volume_ul": 50.0, "duration_min": 30.0,
                             "interval_min": 360, "first": "06:00"}
    assert s["demand"]["max_per_24h"] == 6 and s["demand"]["volume_ul"] == 20.0
    assert s["cuts"] == [] and s["soft"] == [] and s["digest"] == digest(p)


def test_the_summary_shows_delivered_rates_after_a_cut_and_rounds_doses_to_nearest():
    s = summary(build(basal_doc(2), board_cfg(max_rate_ul_h=5)))
    assert schedule_rows(s, "default") == [["00:00", 1.2, 5.0]]
    assert len(s["cuts"]) == 1
    doc = basal_doc(1)
    doc["drug"]["concentration"] = 3        # 1 mg/day at 3 mg/mL is 333333 nL/day: 0.999999 mg
    s = summary(build(doc))
    assert schedule_rows(s, "default") == [["00:00", 1.0, 13.888]] and s["daily"]["dose"][0] == 1.0


def test_the_summary_leaves_out_a_default_schedule_no_day_uses():
    week = dict([(d, steps(("00:00", 1 + i))) for i, d in enumerate(WEEKDAYS)])
    s = summary(build(flex_doc(steps(("00:00", 9)), **week)))
    assert sorted(s["schedule"]) == sorted(WEEKDAYS), s["schedule"]
    assert schedule_rows(s, "sun") == [["00:00", 7.0, 29.166]]


def test_the_summary_without_steps_gives_only_the_number_of_steps_of_each_table():
    s = summary(build(full_doc()), steps=False)
    assert s["schedule"] == {"default": 2, "sat": 1}, s["schedule"]
    assert s["daily"] == summary(build(full_doc()))["daily"]


def test_the_summary_of_a_basal_program_has_one_default_step():
    s = summary(build(basal_doc(1.2)))
    assert s["schedule"] == {"default": {"start_ms": [0], "nl_day": [120000]}}
    assert s["temp"] is None and s["periodic"] is None and s["catheter"] is None


# ---- clinician bolus -------------------------------------------------------------------------

def test_a_clinician_bolus_within_limits_is_its_volume_over_its_duration():
    p = build(basal_doc())
    bolus, soft, cuts = clinician_bolus(p, 0.5, 15, board_cfg())
    assert (bolus.volume_nl, bolus.duration_ms) == (50000, 15 * MS_PER_MIN)
    assert soft == [] and cuts == []


def test_a_clinician_bolus_over_the_soft_limit_needs_an_override_and_over_hard_is_refused():
    p = build(basal_doc())
    _, soft, _ = clinician_bolus(p, 1.5, 15, board_cfg())
    assert soft == [{"path": "dose", "limit": "max_bolus", "message": "dose: 1.5 mg is above "
                     "the drug library's soft maximum of 1 mg for morphine"}], soft
    e = expect_raises(ProgramError, clinician_bolus, p, 3, 15, board_cfg())
    assert e.problems == [("dose", "3 mg is above the drug library's hard maximum of 2 mg for "
                                   "morphine")], e.problems


def test_a_clinician_bolus_refuses_bad_doses_and_durations():
    p = build(basal_doc())
    for dose, minutes, path in ((0, 10, "dose"), (1.2345, 10, "dose"), (float("nan"), 10, "dose"),
                                (0.5, 0, "duration_min"), (0.5, 1441, "duration_min"),
                                (0.5, 10.5, "duration_min"), (True, 10, "dose")):
        e = expect_raises(ProgramError, clinician_bolus, p, dose, minutes, board_cfg())
        assert [q for q, _ in e.problems] == [path], (dose, minutes, e.problems)


def test_a_clinician_bolus_is_stretched_to_the_bolus_cap():
    p = build(basal_doc(1), board_cfg(max_rate_ul_h=5))
    bolus, _, cuts = clinician_bolus(p, 0.01, 10, board_cfg(max_rate_ul_h=5))
    assert bolus.duration_ms == 72 * MS_PER_MIN
    assert cuts[0]["path"] == "duration_min" and cuts[0]["delivered_min"] == 72.0, cuts
    # a board whose cap fell since the program was compiled leaves no room: refused
    e = expect_raises(ProgramError, clinician_bolus, p, 0.01, 10, board_cfg(max_rate_ul_h=4))
    assert e.problems[0][1].startswith("no room for a bolus"), e.problems
