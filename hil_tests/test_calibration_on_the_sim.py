"""pumpctl calibrate, the guided refill and pumpctl prime against the simulated board, checked
against the rig: the sim's scale and its plant, never the firmware's own count."""
import json
import os
import re
import subprocess

import pytest

from host_tools import paths
from host_tools.deploy import deploy
from test_cli import pumpctl
from cli_runner import pumpctl_argv

STEPS = 2000
SCALE_RES_UL = 0.01          # boards/sim/board.json plant.scale.resolution_ul


def status(link):
    r = pumpctl("--port", link, "status", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def rate_error_pct(link, rate, minutes):
    r = pumpctl("--port", link, "calibrate", "--rate", str(rate), "--minutes", str(minutes), timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return float(re.search(r"measured rate [\d.]+ uL/h: ([-+][\d.]+)%", r.stdout).group(1))


def test_calibrate_measures_the_plants_true_step_volume_within_the_scale_resolution(board_with_plant):
    sim = board_with_plant(calibration_error_pct=3.7)
    true_ul = 0.1 * 1.037
    r = pumpctl("--port", sim.link, "calibrate", "--steps", str(STEPS), "--yes", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "weighed" in r.stdout and "1 g/mL" in r.stdout
    cal = status(sim.link)["calibration"]
    assert cal["source"] == "calibration.json"
    # the scale rounds to 0.01 uL and the result to 1e-6 uL/step
    assert abs(cal["ul_per_step"] - true_ul) <= SCALE_RES_UL / STEPS + 1e-6, cal
    assert cal["run"]["result"] == "done" and cal["run"]["done"] == STEPS


def test_a_rate_delivered_after_calibration_matches_the_set_rate_on_the_scale(board_with_plant):
    sim = board_with_plant(calibration_error_pct=3.7)
    before = rate_error_pct(sim.link, 500, 60)
    assert 3.5 < before < 3.9, before             # the head moves 3.7 % more than board.json says
    cal_before = status(sim.link)["calibration"]
    assert cal_before["source"] == "board.json"   # the rate check changed nothing
    assert pumpctl("--port", sim.link, "calibrate", "--yes", timeout=120).returncode == 0
    after = rate_error_pct(sim.link, 500, 60)
    assert abs(after) < 0.1, after                # one step in 500 uL is 0.02 %


def test_a_calibration_beyond_20_percent_is_refused_unless_forced(board_with_plant):
    sim = board_with_plant(calibration_error_pct=30)
    r = pumpctl("--port", sim.link, "calibrate", "--yes", timeout=120)
    assert r.returncode == 3 and "20%" in r.stderr, r.stdout + r.stderr
    assert status(sim.link)["calibration"]["source"] == "board.json"
    r = pumpctl("--port", sim.link, "calibrate", "--yes", "--force", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert abs(status(sim.link)["calibration"]["ul_per_step"] - 0.13) <= SCALE_RES_UL / STEPS + 1e-6


def test_the_calibration_outlives_a_power_cut_and_a_redeploy(board, rig, sim_only):
    r = pumpctl("--port", board.link, "calibrate", "--mass-g", "0.2046", "--yes", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    rig.power_cut()
    rig.power_on()
    deploy(board.link, "sim")        # copies board.json again: the calibration is not its
    cal = status(board.link)["calibration"]
    assert cal["source"] == "calibration.json" and abs(cal["ul_per_step"] - 0.1023) < 1e-9, cal


def test_a_calibration_run_takes_its_fluid_from_the_reservoir(board, rig, sim_only):
    res0 = status(board.link)["reservoir_ul"]
    scale0 = rig.scale_ul()
    r = pumpctl("--port", board.link, "calibrate", "--steps", "500", "--yes", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    s = status(board.link)
    assert res0 - s["reservoir_ul"] == pytest.approx(50.0)
    assert s["delivered_ul"] == 0                 # not therapy: the delivered count stays
    assert rig.scale_ul() - scale0 == pytest.approx(50.0, abs=SCALE_RES_UL)


def test_a_guided_refill_stops_the_pump_asks_for_the_volumes_and_records_them(board, rig, sim_only):
    assert pumpctl("--port", board.link, "set-rate", "100").returncode == 0
    assert pumpctl("--port", board.link, "start").returncode == 0
    rig.run_for(3600)                             # 100 uL gone: 19.9 mL expected
    r = _pumpctl_stdin(board.link, "y\n19.9\n20\ny\n", "refill")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "expected 19.900 mL, measured 19.900 mL" in r.stdout
    assert "lasts about 200.0 h" in r.stdout
    s = status(board.link)
    assert s["state"] == "stopped" and s["reservoir_ul"] == 20000 and s["alarms"] == []


def test_a_guided_refill_ended_by_end_of_input_records_nothing(board, rig, sim_only):
    assert pumpctl("--port", board.link, "set-rate", "100").returncode == 0
    assert pumpctl("--port", board.link, "start").returncode == 0
    rig.run_for(3600)
    r = _pumpctl_stdin(board.link, "y\n19.9\n", "refill")
    assert r.returncode == 1 and "not recorded" in r.stderr, r.stdout + r.stderr
    s = status(board.link)
    assert s["reservoir_ul"] == pytest.approx(19900.0)
    log = pumpctl("--port", board.link, "log", "--format", "json")
    assert '"refill"' not in log.stdout


def test_prime_delivers_the_catheter_volume_before_the_basal_on_the_scale(board, rig, sim_only):
    assert pumpctl("--port", board.link, "program", "load",
                   os.path.join(paths.REPO_DIR, "examples", "bench-continuous-saline.toml"),
                   "--yes").returncode == 0
    r = pumpctl("--port", board.link, "prime", "--duration-min", "30", "--catheter-length-cm", "50",
                "--ul-per-cm", "1.9", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "95.000 uL" in r.stdout and "30.0 min" in r.stdout
    assert pumpctl("--port", board.link, "start").returncode == 0
    scale0 = rig.scale_ul()
    rig.run_for(30 * 60 + 30)                     # the prime, and the line drained (tau 1 s)
    primed = rig.scale_ul() - scale0
    # 95 uL over 30 min, then 30 s of the 100 uL/h basal (0.8 uL), within a step either way
    assert 95.0 <= primed <= 96.0, primed
    rig.run_for(30 * 60)
    assert rig.scale_ul() - scale0 - primed == pytest.approx(50.0, abs=0.3)


def test_prime_with_no_program_on_the_pump_is_a_clear_error(board):
    r = pumpctl("--port", board.link, "prime", "--duration-min", "30", "--catheter-length-cm", "50",
                "--ul-per-cm", "1.9", "--yes")
    assert r.returncode == 1 and "no program" in r.stderr and "Traceback" not in r.stderr


def _pumpctl_stdin(link, text, *args):
    """pumpctl with `text` on its standard input (a person answering its questions)."""
    return subprocess.run(pumpctl_argv() + ["--port", link] + list(args),
                          input=text, capture_output=True, text=True, timeout=60)


def test_bridge_pushes_the_catheter_volume_at_the_previous_daily_rate_before_the_new_basal(board, rig, sim_only):
    assert pumpctl("--port", board.link, "program", "load",
                   os.path.join(paths.REPO_DIR, "examples", "bench-continuous-saline.toml"),
                   "--yes").returncode == 0
    # saline's doses are volumes (mL/day): the old daily dose of 4.8 mL/day is 200 uL/h, so the
    # catheter's 95 uL takes 28.5 min, twice as fast as the new 2.4 mL/day basal would
    r = pumpctl("--port", board.link, "bridge", "--previous-concentration", "4.5",
                "--previous-dose-per-day", "4.8", "--catheter-length-cm", "50", "--ul-per-cm", "1.9",
                "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "95.000 uL" in r.stdout, r.stdout
    assert pumpctl("--port", board.link, "start").returncode == 0
    scale0 = rig.scale_ul()
    rig.run_for(10 * 60)
    assert rig.scale_ul() - scale0 == pytest.approx(200 / 6, abs=0.5)    # 10 min at 200 uL/h
