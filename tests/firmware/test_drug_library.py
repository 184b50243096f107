# Unit tests of pump.drug_library (drugs.json); plain functions so pytest and tests/mprun.py both run them.

from pump.drug_library import LIMITS, limit_ng, load_library, parse_library
from pump.errors import BAD_CONFIG, ConfigError

from fakes import expect_raises, in_temp_dir


def _dirname(p):
    i = p.rfind("/")
    return p[:i] if i > 0 else ("/" if i == 0 else ".")


ROOT = _dirname(_dirname(_dirname(__file__)))
LIBRARY_FILE = ROOT + "/firmware/drugs.json"


def library(**drugs):
    return {"format": 1, "drugs": drugs}


def problems_of(obj):
    e = expect_raises(ConfigError, parse_library, obj)
    assert e.code == BAD_CONFIG, e.code
    return e.problems


def test_the_library_file_loads_with_every_drug_the_programs_name():
    lib = load_library(LIBRARY_FILE)
    assert sorted(lib["drugs"]) == ["baclofen", "bupivacaine", "clonidine", "hydromorphone",
                                    "morphine", "saline", "ziconotide"]
    assert "not clinical" in lib["note"].lower()
    m = lib["drugs"]["morphine"]
    assert m["units"] == "mg"
    assert m["max_bolus"] == (1000, 2000) and m["max_concentration"] == (25000, 50000)
    assert lib["drugs"]["baclofen"]["units"] == "mcg"
    assert lib["drugs"]["ziconotide"]["max_dose_per_day"] == (19200, 24000)
    # absent limits come back as (None, None): every drug has every limit key
    assert lib["drugs"]["saline"]["max_change_per_day_pct"] == (None, None)
    for name in lib["drugs"]:
        for limit in LIMITS:
            assert limit in lib["drugs"][name], (name, limit)


def test_limits_convert_to_ng_and_ng_per_ml():
    lib = parse_library(library(x={"units": "mcg", "max_bolus": {"hard": 1.5},
                                   "max_concentration": {"soft": 2},
                                   "max_change_per_day_pct": {"soft": 20}}))
    d = lib["drugs"]["x"]
    assert limit_ng(d, "max_bolus") == (None, 1500)
    assert limit_ng(d, "max_concentration") == (2000, None)
    assert limit_ng(d, "max_change_per_day_pct") == (20000, None)   # thousandths of a percent


def test_every_limit_and_each_soft_and_hard_is_optional():
    lib = parse_library(library(plain={"units": "mg"}))
    assert lib["drugs"]["plain"]["max_bolus"] == (None, None)
    assert lib["note"] == ""


def test_refuses_a_bad_library_naming_the_path_of_each_problem():
    obj = {"format": 2, "colour": "red", "drugs": {
        "a": {"units": "g", "max_bolus": {"soft": 3, "hard": 2}},
        "b": {"units": "mg", "max_dose_per_day": {"hard": -1, "typical": 1}},
        "c": {"units": "mg", "max_concentration": {"soft": 1.2345}},
    }}
    problems = problems_of(obj)
    assert problems == [
        ("colour", "unknown key; allowed: drugs, format, note"),
        ("drugs.a.units", 'must be one of "mg", "mcg", got "g"'),
        ("drugs.b.max_dose_per_day.typical", "unknown key; allowed: hard, soft"),
        ("drugs.b.max_dose_per_day.hard", "must be > 0, got -1"),
        ("drugs.c.max_concentration.soft", "must have at most 3 decimals, got 1.2345"),
        ("format", "must be 1 (the only library format), got 2"),
        ("drugs.a.max_bolus.soft", "must be <= hard 2, got 3"),
    ], problems


def test_refuses_a_library_that_is_not_an_object_or_has_no_drugs():
    assert problems_of([]) == [("drugs.json", "must be an object, got a list")]
    assert problems_of({"format": 1}) == [("drugs", "required key is missing")]


def test_a_missing_or_broken_library_file_is_a_config_error_naming_the_file():
    def run():
        e = expect_raises(ConfigError, load_library, "drugs.json")
        assert e.problems == [("drugs.json", "file not found")], e.problems
        with open("drugs.json", "w") as f:
            f.write("{not json")
        e = expect_raises(ConfigError, load_library, "drugs.json")
        assert e.problems[0][1].startswith("not valid JSON"), e.problems
    in_temp_dir(run)
