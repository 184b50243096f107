# Unit tests of pump.schema; plain functions so pytest and tests/mprun.py (MicroPython) both run them.

from pump.schema import SchemaError, check_schema, validate

from fakes import expect_raises


def check_ok(schema, value, path=""):
    cleaned, problems = validate(schema, value, path)
    assert problems == [], problems
    return cleaned


def only_problem(schema, value, path=""):
    cleaned, problems = validate(schema, value, path)
    assert len(problems) == 1, problems
    return problems[0]


RATE = {"type": "num", "gt": 0, "le": 5000}
WATCHDOG = {"type": "int", "ge": 100, "le": 8388}

STEP = {"type": "obj", "fields": {
    "rate": {"type": "num", "ge": 0, "le": 5000, "required": True},
    "minutes": {"type": "int", "ge": 1, "le": 1440, "required": True},
}}
PROGRAM = {"type": "obj", "fields": {
    "name": {"type": "str", "min_len": 1, "max_len": 16, "required": True},
    "mode": {"type": "str", "choices": ("basal", "flex"), "default": "basal"},
    "repeat": {"type": "bool", "default": False},
    "note": {"type": "str", "max_len": 40},
    "flex": {"type": "obj", "fields": {
        "steps": {"type": "list", "max_len": 8, "items": STEP, "required": True},
    }},
}}


# ---- numbers -------------------------------------------------------------------------------

def test_accepts_a_number_inside_its_bounds_int_or_float():
    assert check_ok(RATE, 5000) == 5000
    assert check_ok(RATE, 0.5) == 0.5


def test_refuses_a_number_above_its_maximum_naming_value_and_bound():
    assert only_problem(RATE, 9000, "limits.max_rate_ul_h") == (
        "limits.max_rate_ul_h", "must be <= 5000, got 9000")


def test_exclusive_lower_bound_refuses_the_bound_itself():
    assert only_problem(RATE, 0, "r") == ("r", "must be > 0, got 0")
    assert only_problem({"type": "num", "ge": 0, "lt": 1}, 1, "r") == ("r", "must be < 1, got 1")
    assert check_ok({"type": "num", "ge": 0, "lt": 1}, 0) == 0


def test_rejects_a_bool_where_a_number_is_required():
    assert only_problem(RATE, True, "r") == ("r", "must be a number, got bool true")
    assert only_problem(WATCHDOG, False, "w") == ("w", "must be an int, got bool false")


def test_rejects_a_float_or_a_string_where_an_int_is_required():
    assert only_problem(WATCHDOG, 5000.0, "w") == ("w", "must be an int, got float 5000.0")
    assert only_problem(WATCHDOG, "5000", "w") == ("w", 'must be an int, got string "5000"')


def test_rejects_null_where_a_number_is_required():
    assert only_problem(RATE, None, "r") == ("r", "must be a number, got null")


def test_refuses_nan_and_infinity():
    for bad in (float("nan"), float("inf"), float("-inf")):
        path, msg = only_problem(RATE, bad, "r")
        assert msg.startswith("must be a finite number"), msg


def test_int_bounds_are_inclusive_by_default():
    assert check_ok(WATCHDOG, 100) == 100
    assert check_ok(WATCHDOG, 8388) == 8388
    assert only_problem(WATCHDOG, 99, "w") == ("w", "must be >= 100, got 99")



def test_a_decimals_bound_refuses_more_decimals_but_tolerates_float_noise():
    s = {"type": "num", "ge": 0, "decimals": 3}
    assert check_ok(s, 1.234) == 1.234
    assert check_ok(s, 7) == 7
    assert check_ok(s, 0.1 + 0.2) == 0.1 + 0.2      # 0.30000000000000004 is 0.3 to a person
    assert check_ok(s, 123456.789) == 123456.789
    assert only_problem(s, 1.2345, "rate") == ("rate", "must have at most 3 decimals, got 1.2345")
    assert only_problem({"type": "num", "decimals": 0}, 2.5, "n") == (
        "n", "must have at most 0 decimals, got 2.5")


def test_a_decimals_bound_must_be_an_int():
    e = expect_raises(SchemaError, check_schema, {"type": "num", "decimals": 1.5})
    assert "decimals" in str(e), e

# ---- strings and bools ---------------------------------------------------------------------

def test_refuses_a_string_over_its_max_length_naming_the_length():
    path, msg = only_problem({"type": "str", "max_len": 4}, "abcdef", "name")
    assert path == "name"
    assert msg == 'must be at most 4 characters, got 6: "abcdef"', msg


def test_refuses_an_empty_string_when_a_min_length_is_set():
    path, msg = only_problem({"type": "str", "min_len": 1, "max_len": 4}, "", "name")
    assert msg.startswith("must be at least 1 characters, got 0"), msg


def test_refuses_a_string_outside_its_allowed_values_listing_them():
    s = {"type": "str", "choices": ("unix", "rp2")}
    assert check_ok(s, "rp2") == "rp2"
    assert only_problem(s, "linux", "port") == (
        "port", 'must be one of "unix", "rp2", got "linux"')


def test_a_bool_field_refuses_0_and_1():
    assert check_ok({"type": "bool"}, True) is True
    assert only_problem({"type": "bool"}, 1, "b") == ("b", "must be a bool, got int 1")


# ---- objects -------------------------------------------------------------------------------

def test_fills_defaults_and_leaves_out_absent_optional_keys():
    cleaned = check_ok(PROGRAM, {"name": "p1"})
    assert cleaned == {"name": "p1", "mode": "basal", "repeat": False}, cleaned


def test_refuses_an_unknown_key_with_its_path():
    doc = {"name": "p1", "flex": {"steps": [], "speed": 3}}
    path, msg = only_problem(PROGRAM, doc, "program")
    assert path == "program.flex.speed", path
    assert msg == "unknown key; allowed: steps", msg


def test_reports_a_missing_required_key_with_its_path():
    assert only_problem(PROGRAM, {"flex": {"steps": []}}, "") == ("name", "required key is missing")


def test_reports_every_problem_at_once_in_a_stable_order():
    doc = {"name": "", "mode": "bolus", "colour": "red",
           "flex": {"steps": [{"rate": -1, "minutes": 0}]}}
    cleaned, problems = validate(PROGRAM, doc, "")
    paths = [p for p, m in problems]
    assert paths == ["colour", "flex.steps[0].minutes", "flex.steps[0].rate", "mode", "name"], paths


def test_list_items_get_indexed_paths():
    steps = [{"rate": 1, "minutes": 1}] * 3 + [{"rate": 9000, "minutes": 1}]
    doc = {"name": "p", "flex": {"steps": steps}}
    assert only_problem(PROGRAM, doc, "") == ("flex.steps[3].rate", "must be <= 5000, got 9000")


def test_refuses_a_list_over_its_max_length_and_stops_checking_past_it():
    steps = [{"rate": 1, "minutes": 1}] * 8 + [{"rate": "bad"}] * 4
    doc = {"name": "p", "flex": {"steps": steps}}
    assert only_problem(PROGRAM, doc, "") == ("flex.steps", "must have at most 8 items, got 12")


def test_refuses_a_list_where_an_object_is_required_and_vice_versa():
    assert only_problem(PROGRAM, [], "") == ("", "must be an object, got a list")
    doc = {"name": "p", "flex": {"steps": {}}}
    assert only_problem(PROGRAM, doc, "") == ("flex.steps", "must be a list, got an object")


def test_extra_keep_passes_unknown_keys_through_untouched():
    role = {"type": "obj", "fields": {"kind": {"type": "str", "max_len": 8, "required": True}},
            "extra": "keep"}
    doc = {"kind": "stepper", "step_pin": 2, "opts": {"x": [1]}}
    assert check_ok(role, doc) == doc


def test_a_free_object_is_kept_as_given_but_must_be_an_object():
    s = {"type": "obj", "fields": {"plant": {"type": "free"}}}
    plant = {"anything": [1, {"deep": True}]}
    assert check_ok(s, {"plant": plant})["plant"] is plant
    assert only_problem(s, {"plant": 3}, "") == ("plant", "must be an object, got int 3")


def test_an_any_value_is_kept_as_given_whatever_its_json_type():
    s = {"type": "obj", "fields": {"value": {"type": "any", "required": True}}}
    for v in ([1, 2], {"a": 1}, "x", 3, None):
        assert check_ok(s, {"value": v})["value"] == v
    assert only_problem(s, {}, "") == ("value", "required key is missing")


def test_defaults_are_copies_that_callers_cannot_share():
    s = {"type": "obj", "fields": {"pins": {"type": "map", "max_len": 4, "default": {},
                                            "values": {"type": "int"}}}}
    a = check_ok(s, {})
    a["pins"]["LED"] = 25
    assert check_ok(s, {}) == {"pins": {}}


# ---- maps and oneof ------------------------------------------------------------------------

PINS = {"type": "map", "max_len": 3, "key_max_len": 8,
        "values": {"type": "oneof", "options": ({"type": "int"}, {"type": "str", "max_len": 4})}}


def test_a_map_keeps_any_names_and_checks_each_value_with_its_path():
    assert check_ok(PINS, {"LED": 25, "STEP": "GP2"}) == {"LED": 25, "STEP": "GP2"}
    assert only_problem(PINS, {"LED": 2.5}, "pins") == (
        "pins.LED", "must be an int or a string, got float 2.5")
    assert only_problem(PINS, {"LED": "GPIO25"}, "pins")[0] == "pins.LED"


def test_a_map_refuses_too_many_entries_and_long_names():
    assert only_problem(PINS, {"a": 1, "b": 2, "c": 3, "d": 4}, "pins") == (
        "pins", "must have at most 3 entries, got 4")
    assert only_problem(PINS, {"VERY_LONG_NAME": 1}, "pins") == (
        "pins.VERY_LONG_NAME", "name must be at most 8 characters, got 14")


# ---- broken schemas ------------------------------------------------------------------------

def test_a_misspelt_schema_key_is_a_schema_error_not_a_silent_pass():
    e = expect_raises(SchemaError, validate, {"type": "int", "max": 5}, 9, "x")
    assert "max" in str(e), str(e)


def test_an_unbounded_string_or_list_schema_is_a_schema_error():
    expect_raises(SchemaError, check_schema, {"type": "str"})
    expect_raises(SchemaError, check_schema, {"type": "list", "items": {"type": "bool"}})
    expect_raises(SchemaError, check_schema, {"type": "decimal"})


def test_a_default_outside_its_own_bounds_is_a_schema_error():
    bad = {"type": "obj", "fields": {"w": {"type": "int", "ge": 100, "le": 200, "default": 5}}}
    e = expect_raises(SchemaError, check_schema, bad)
    assert "w" in str(e), str(e)
    both = {"type": "obj", "fields": {"w": {"type": "int", "required": True, "default": 150}}}
    expect_raises(SchemaError, check_schema, both)


def test_the_example_schemas_here_are_valid():
    for s in (RATE, WATCHDOG, STEP, PROGRAM, PINS):
        check_schema(s)
