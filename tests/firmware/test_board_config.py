# Unit tests of pump.board_config; plain functions so pytest and tests/mprun.py (MicroPython) both run them.

import os
import time

from pump.board_config import WATCHDOG_MAX_MS, load_board, parse_board
from pump.errors import BAD_CONFIG, ConfigError

from fakes import expect_raises


def _dirname(p):
    i = p.rfind("/")
    return p[:i] if i > 0 else ("/" if i == 0 else ".")


# this file is <root>/tests/firmware/test_board_config.py on both runtimes (no os.path on MicroPython)
ROOT = _dirname(_dirname(_dirname(__file__)))
SIM_BOARD = ROOT + "/boards/sim/board.json"


def minimal():
    """The smallest board.json the schema accepts (a fresh dict every call, tests mutate it)."""
    return {
        "name": "bench",
        "port": "rp2",
        "filesystem": "littlefs",
        "drivers": {"motor": {"kind": "a4988"}, "clock": {"kind": "machine_rtc"}},
        "calibration": {"ul_per_step": 0.25},
        "limits": {"max_rate_ul_h": 1000, "reservoir_ul": 3000},
    }


def problems_of(obj):
    e = expect_raises(ConfigError, parse_board, obj)
    assert e.code == BAD_CONFIG, e.code
    return e.problems


def only_problem(obj):
    problems = problems_of(obj)
    assert len(problems) == 1, problems
    return problems[0]


# ---- the sim board file --------------------------------------------------------------------

def test_loads_the_sim_board_file():
    board = load_board(SIM_BOARD)
    assert board["name"] == "sim"
    assert board["port"] == "unix" and board["filesystem"] == "posix"
    assert board["drivers"]["motor"] == {"kind": "sim_stepper"}
    assert board["drivers"]["link"] == {"kind": "stdio"}
    assert board["drivers"]["encoder"] == {"kind": "sim_encoder", "stall_steps": 4,
                                           "stall_fraction": 0.05, "check_steps": 8,
                                           "check_ms": 5000}, board["drivers"]["encoder"]
    assert board["calibration"]["ul_per_step"] == 0.1
    assert board["limits"] == {"max_rate_ul_h": 5000, "max_steps_per_s": 200,
                               "reservoir_ul": 20000, "watchdog_ms": 5000}, board["limits"]
    assert board["plant"]["pressure_sensor"] == {"noise_kpa": 0.05, "lsb_kpa": 0.05}
    assert "simulated" in board["description"].lower()


# ---- defaults and what is kept -------------------------------------------------------------

def test_fills_defaults_for_optional_keys():
    board = parse_board(minimal())
    assert board["limits"]["max_steps_per_s"] == 200
    assert board["limits"]["watchdog_ms"] == 5000
    assert board["description"] == ""
    assert board["pins"] == {}
    assert "pressure" not in board["drivers"] and "link" not in board["drivers"]
    assert "plant" not in board


def test_keeps_driver_owned_options_in_a_role():
    b = minimal()
    b["pins"] = {"motor_step": 2, "motor_dir": 3}
    b["drivers"]["motor"] = {"kind": "a4988", "step_pin": "motor_step", "dir_pin": "motor_dir",
                             "microsteps": 16}
    assert parse_board(b)["drivers"]["motor"] == b["drivers"]["motor"]


def test_an_encoder_role_gets_the_stall_check_defaults_and_keeps_its_driver_options():
    b = minimal()
    b["drivers"]["encoder"] = {"kind": "as5600", "i2c": 0, "stall_steps": 6}
    enc = parse_board(b)["drivers"]["encoder"]
    assert enc == {"kind": "as5600", "i2c": 0, "stall_steps": 6, "stall_fraction": 0.05,
                   "check_steps": 8, "check_ms": 5000}, enc
    assert "encoder" not in parse_board(minimal())["drivers"]      # optional: no role, no check


def test_refuses_stall_check_settings_out_of_range_with_their_paths():
    b = minimal()
    b["drivers"]["encoder"] = {"kind": "as5600", "stall_steps": 0, "stall_fraction": 1,
                               "check_steps": 2.5, "check_ms": 50}
    problems = problems_of(b)
    assert problems == [
        ("drivers.encoder.check_ms", "must be >= 100, got 50"),
        ("drivers.encoder.check_steps", "must be an int, got float 2.5"),
        ("drivers.encoder.stall_fraction", "must be < 1, got 1"),
        ("drivers.encoder.stall_steps", "must be >= 1, got 0"),
    ], problems


def test_the_storage_role_is_optional_and_keeps_its_options():
    b = minimal()
    assert "storage" not in parse_board(b)["drivers"]   # the wiring supplies vfs_storage
    b["drivers"]["storage"] = {"kind": "vfs_storage", "root": "/data"}
    assert parse_board(b)["drivers"]["storage"] == {"kind": "vfs_storage", "root": "/data"}
    b["drivers"]["storage"] = {"root": "/data"}
    assert only_problem(b) == ("drivers.storage.kind", "required key is missing")


def test_the_sim_board_stores_files_through_the_power_cut_driver():
    assert load_board(SIM_BOARD)["drivers"]["storage"] == {"kind": "sim_flash"}


def test_keeps_the_plant_as_given_without_checking_it():
    b = minimal()
    b["plant"] = {"whatever": [1, 2], "the_simulator": {"decides": True}}
    assert parse_board(b)["plant"] == b["plant"]


def test_keeps_int_and_string_pins():
    b = minimal()
    b["pins"] = {"LED": 25, "STEP": "GP2"}
    assert parse_board(b)["pins"] == {"LED": 25, "STEP": "GP2"}


# ---- refusals ------------------------------------------------------------------------------

def test_refuses_an_unknown_top_level_key_with_its_path():
    b = minimal()
    b["speed"] = 3
    path, msg = only_problem(b)
    assert path == "speed" and msg.startswith("unknown key"), (path, msg)


def test_refuses_an_unknown_driver_role_with_its_path():
    b = minimal()
    b["drivers"]["heater"] = {"kind": "pwm"}
    assert only_problem(b)[0] == "drivers.heater"


def test_requires_the_motor_and_clock_roles():
    b = minimal()
    del b["drivers"]["motor"]
    del b["drivers"]["clock"]
    problems = problems_of(b)
    assert problems == [("drivers.clock", "required key is missing"),
                        ("drivers.motor", "required key is missing")], problems


def test_refuses_a_driver_role_without_a_kind():
    b = minimal()
    b["drivers"]["motor"] = {"step_pin": 2}
    assert only_problem(b) == ("drivers.motor.kind", "required key is missing")


def test_refuses_a_driver_kind_that_is_not_a_short_string():
    b = minimal()
    b["drivers"]["motor"]["kind"] = "x" * 33
    path, msg = only_problem(b)
    assert path == "drivers.motor.kind" and "at most 32 characters, got 33" in msg, (path, msg)


def test_refuses_a_watchdog_timeout_above_the_rp2040_maximum():
    b = minimal()
    b["limits"]["watchdog_ms"] = WATCHDOG_MAX_MS + 1
    assert only_problem(b) == ("limits.watchdog_ms", "must be <= 8388, got 8389")
    b["limits"]["watchdog_ms"] = 8388
    assert parse_board(b)["limits"]["watchdog_ms"] == 8388


def test_refuses_a_watchdog_timeout_below_two_idle_passes_or_not_an_int():
    b = minimal()
    b["limits"]["watchdog_ms"] = 1999
    assert only_problem(b) == ("limits.watchdog_ms", "must be >= 2000, got 1999")
    b["limits"]["watchdog_ms"] = 1000.5
    assert only_problem(b) == ("limits.watchdog_ms", "must be an int, got float 1000.5")


def test_refuses_a_rate_above_the_limit_naming_value_and_bound():
    b = minimal()
    b["limits"]["max_rate_ul_h"] = 100001
    assert only_problem(b) == ("limits.max_rate_ul_h", "must be <= 100000, got 100001")



def test_the_hourly_volume_limit_is_optional_and_positive():
    b = minimal()
    assert "max_volume_per_h_ul" not in parse_board(b)["limits"]
    b["limits"]["max_volume_per_h_ul"] = 250
    assert parse_board(b)["limits"]["max_volume_per_h_ul"] == 250
    b["limits"]["max_volume_per_h_ul"] = 0
    assert only_problem(b) == ("limits.max_volume_per_h_ul", "must be > 0, got 0")

def test_refuses_a_zero_calibration_but_accepts_the_upper_bound():
    b = minimal()
    b["calibration"]["ul_per_step"] = 0
    assert only_problem(b) == ("calibration.ul_per_step", "must be > 0, got 0")
    b["calibration"]["ul_per_step"] = 100
    assert parse_board(b)["calibration"]["ul_per_step"] == 100


def test_rejects_a_bool_where_a_number_is_required():
    b = minimal()
    b["limits"]["reservoir_ul"] = True
    assert only_problem(b) == ("limits.reservoir_ul", "must be a number, got bool true")


def test_refuses_an_unknown_port_listing_the_allowed_ones():
    b = minimal()
    b["port"] = "linux"
    assert only_problem(b) == (
        "port", 'must be one of "unix", "rp2", "esp32", "stm32", got "linux"')


def test_refuses_a_pin_that_is_neither_int_nor_string_with_its_path():
    b = minimal()
    b["pins"] = {"LED": 25, "STEP": [2], "DIR": True}
    problems = problems_of(b)
    assert problems == [("pins.DIR", "must be an int or a string, got bool true"),
                        ("pins.STEP", "must be an int or a string, got a list")], problems


def test_refuses_a_plant_that_is_not_an_object():
    b = minimal()
    b["plant"] = "fast"
    assert only_problem(b) == ("plant", 'must be an object, got string "fast"')


def test_reports_every_problem_at_once():
    b = minimal()
    b["name"] = ""
    b["filesystem"] = "ext4"
    del b["calibration"]
    b["limits"]["reservoir_ul"] = -5
    b["drivers"]["link"] = {"kind": 7}
    e = expect_raises(ConfigError, parse_board, b)
    paths = [p for p, m in e.problems]
    assert paths == ["calibration", "drivers.link.kind", "filesystem", "limits.reservoir_ul",
                     "name"], paths
    # the message carries every problem too, for a log line or the wire
    for p in paths:
        assert p in e.message, e.message


def test_names_the_document_when_it_is_not_an_object():
    assert only_problem([1, 2]) == ("board.json", "must be an object, got a list")


# ---- the occlusion section -----------------------------------------------------------------

def test_fills_every_occlusion_setting_when_the_section_is_absent():
    from pump.occlusion import DEFAULTS
    assert parse_board(minimal())["occlusion"] == DEFAULTS


def test_fills_the_occlusion_settings_a_board_leaves_out():
    from pump.occlusion import DEFAULTS
    b = minimal()
    b["occlusion"] = {"line_tau_s": 3.5, "pulse_kpa_per_ul": 0.8}
    occ = parse_board(b)["occlusion"]
    assert occ["line_tau_s"] == 3.5 and occ["pulse_kpa_per_ul"] == 0.8
    assert occ["threshold_kpa"] == DEFAULTS["threshold_kpa"]
    assert sorted(occ) == sorted(DEFAULTS)


def test_refuses_an_unknown_occlusion_key_with_its_path():
    b = minimal()
    b["occlusion"] = {"stallguard": True}
    path, msg = only_problem(b)
    assert path == "occlusion.stallguard" and msg.startswith("unknown key"), (path, msg)


def test_refuses_occlusion_settings_out_of_bounds_with_their_paths():
    b = minimal()
    b["occlusion"] = {"line_tau_s": 0, "tolerate_r_factor": 0.5, "sample_ms": 20.5}
    problems = problems_of(b)
    assert problems == [("occlusion.line_tau_s", "must be > 0, got 0"),
                        ("occlusion.sample_ms", "must be an int, got float 20.5"),
                        ("occlusion.tolerate_r_factor", "must be >= 1, got 0.5")], problems


def test_the_sim_boards_occlusion_model_matches_its_plant():
    # the detectors' line is the plant's line: tau = R * C and one uL raises the pressure 1 / C
    board = load_board(SIM_BOARD)
    occ, plant = board["occlusion"], board["plant"]
    c, r = plant["compliance_ul_per_kpa"], plant["resistance_kpa_s_per_ul"]
    assert abs(occ["line_tau_s"] - r * c) < 1e-9, (occ["line_tau_s"], r * c)
    assert abs(occ["pulse_kpa_per_ul"] - 1.0 / c) < 1e-9, (occ["pulse_kpa_per_ul"], 1.0 / c)


# ---- reading the file ----------------------------------------------------------------------

def _write_tmp(text):
    # the clock keeps parallel runs (pytest and mprun side by side) off each other's file
    path = "/tmp/pump_test_board_%d_%d.json" % (time.time_ns(), id(text))
    with open(path, "w") as f:
        f.write(text)
    return path


def test_a_missing_file_is_a_config_error_naming_the_file():
    e = expect_raises(ConfigError, load_board, ROOT + "/boards/nope/board.json")
    assert e.problems == [(ROOT + "/boards/nope/board.json", "file not found")], e.problems


def test_invalid_json_is_a_config_error_naming_the_file():
    path = _write_tmp('{"name": "sim",')
    try:
        e = expect_raises(ConfigError, load_board, path)
    finally:
        os.remove(path)
    assert e.problems[0][0] == path
    assert e.problems[0][1].startswith("not valid JSON"), e.problems


def test_a_file_over_the_size_bound_is_refused_before_decoding():
    path = _write_tmp('{"name": "%s"}' % ("x" * 9000))
    try:
        e = expect_raises(ConfigError, load_board, path)
    finally:
        os.remove(path)
    assert e.problems == [(path, "file is larger than 8192 bytes")], e.problems


def test_a_directory_is_a_config_error_not_a_crash():
    e = expect_raises(ConfigError, load_board, ROOT + "/boards")
    assert e.problems[0][1].startswith("cannot read file"), e.problems


# ---- pin names -----------------------------------------------------------------------------

def test_refuses_a_driver_pin_option_that_names_no_pin():
    b = minimal()
    b["pins"] = {"motor_step": 2}
    b["drivers"]["motor"]["step_pin"] = "motor_stpe"
    path, msg = only_problem(b)
    assert path == "drivers.motor.step_pin", path
    assert "motor_stpe" in msg and "motor_step" in msg, msg


def test_refuses_one_pin_wired_to_two_signals():
    b = minimal()
    b["pins"] = {"motor_step": 2, "buzzer": 2}
    b["drivers"]["motor"]["step_pin"] = "motor_step"
    b["drivers"]["annunciator"] = {"kind": "gpio_annunciator", "buzzer_pin": "buzzer"}
    path, msg = only_problem(b)
    assert "pin 2" in msg, msg


def test_accepts_two_roles_sharing_one_named_signal():
    # the TMC2209's UART, say, is one signal two options may name
    b = minimal()
    b["pins"] = {"motor_step": 2}
    b["drivers"]["motor"]["step_pin"] = "motor_step"
    b["drivers"]["encoder"] = {"kind": "x", "a_pin": "motor_step"}
    assert parse_board(b)["pins"] == {"motor_step": 2}
