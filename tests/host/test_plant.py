"""Physical-rule tests for the closed-form simulated plant (host_tools/sim/plant.py)."""

import json
import math
import random
import time

import pytest

from host_tools.sim.plant import PLANT_DEFAULTS, Plant, PlantConfigError, validate_params

# Quiet instruments so assertions test the physics, not the noise.
QUIET = {"pressure_sensor": {"noise_kpa": 0.0}, "back_pressure_kpa": 1.0}


def plant(ul_per_step=1.0, seed=0, **overrides):
    params = {**QUIET, **overrides}
    return Plant(params, ul_per_step, seed=seed)


def excess(p, t):
    s = p.state(t)
    return s["line_pressure_kpa"] - s["back_pressure_kpa"]


# ---- volume ----------------------------------------------------------------------------------


def test_volume_is_conserved_from_reservoir_to_outlet():
    p = plant(ul_per_step=0.37, calibration_error_pct=3.0)
    dv = 0.37 * 1.03
    for i in range(1000):
        p.step(i * 50, 1 + i % 3)
    s = p.state(50_000)
    assert s["steps_moved"] == 1000 + 999  # i % 3 adds 0,1,2 in turn
    assert PLANT_DEFAULTS["reservoir_ul"] - s["reservoir_ul"] == pytest.approx(s["steps_moved"] * dv, abs=1e-6)
    settled = p.state(50_000 + 60_000)  # 60 s = 60 tau
    assert settled["outlet_ul"] == pytest.approx(s["steps_moved"] * dv, abs=1e-6)


def test_pumped_volume_equals_outlet_plus_stored_under_any_disturbance():
    # C*dP/dt = -q, so outlet + C*(P - P0) must equal what the pump moved, whatever Pb does.
    p = plant(cough_rate_per_h=600.0, back_pressure_drift_kpa_per_h=80.0, seed=7)
    c, p0 = 0.5, p.state(0)["line_pressure_kpa"]
    for i in range(3000):
        t = i * 200
        if i == 1000:
            p.occlude(t, 0.7)
        if i == 2000:
            p.release(t)
        if i % 97 == 0:
            p.add_cough(t, 12.0, 300)
        p.step(t, 2)
        s = p.state(t + 150)
        pumped = s["steps_moved"] * 1.0
        assert s["outlet_ul"] + c * (s["line_pressure_kpa"] - p0) == pytest.approx(pumped, abs=1e-6)


def test_calibration_error_changes_true_volume_per_step():
    for pct in (-20.0, 0.0, 12.5):
        p = plant(ul_per_step=2.0, calibration_error_pct=pct)
        p.step(0, 10)
        s = p.state(100_000)
        true_dv = 2.0 * (1 + pct / 100)
        assert p.true_ul_per_step == pytest.approx(true_dv)
        assert 20000.0 - s["reservoir_ul"] == pytest.approx(10 * true_dv, abs=1e-9)
        assert s["outlet_ul"] == pytest.approx(10 * true_dv, abs=1e-9)


# ---- open line dynamics ------------------------------------------------------------------------


def test_open_line_pressure_pulse_decays_with_tau_equal_r_times_c():
    r, c = 4.0, 0.25  # tau = 1 s
    p = plant(resistance_kpa_s_per_ul=r, compliance_ul_per_kpa=c)
    p.step(1000, 5)
    x0 = excess(p, 1000)
    assert x0 == pytest.approx(5 * 1.0 / c)
    assert excess(p, 1000 + int(r * c * 1000)) / x0 == pytest.approx(math.exp(-1), rel=1e-12)
    assert excess(p, 1000 + 3 * int(r * c * 1000)) / x0 == pytest.approx(math.exp(-3), rel=1e-12)


def test_advancing_in_one_jump_or_many_small_ones_gives_the_same_state():
    a = plant(back_pressure_drift_kpa_per_h=60.0)
    b = plant(back_pressure_drift_kpa_per_h=60.0)
    a.step(0, 20)
    b.step(0, 20)
    for t in range(0, 7001, 7):
        b.state(t)
    sa, sb = a.state(7000), b.state(7000)
    assert sa["line_pressure_kpa"] == pytest.approx(sb["line_pressure_kpa"], abs=1e-9)
    assert sa["outlet_ul"] == pytest.approx(sb["outlet_ul"], abs=1e-9)


def test_linear_back_pressure_drift_matches_fine_step_integration():
    r, c, drift, base = 2.0, 50.0, 100.0, 3.0  # tau = 100 s, so the lag behind the ramp is visible
    p = plant(resistance_kpa_s_per_ul=r, compliance_ul_per_kpa=c, back_pressure_kpa=base,
              back_pressure_drift_kpa_per_h=drift)
    p.step(0, 200)  # start off-equilibrium: x0 = 4 kPa
    b = drift / 3600.0

    def q(t_s, pres):  # outflow, uL/s; C dP/dt = -q
        return (pres - (base + b * t_s)) / r

    # RK4 on P and the delivered volume; independent of the plant's closed form.
    pres, out, t_s, h = base + 200 / c, 0.0, 0.0, 0.05
    for check_s in (10, 100, 250, 600):
        while t_s < check_s - 1e-9:
            k1 = q(t_s, pres)
            k2 = q(t_s + h / 2, pres - h / 2 * k1 / c)
            k3 = q(t_s + h / 2, pres - h / 2 * k2 / c)
            k4 = q(t_s + h, pres - h * k3 / c)
            flow = (k1 + 2 * k2 + 2 * k3 + k4) / 6
            pres, out, t_s = pres - h * flow / c, out + h * flow, t_s + h
        s = p.state(check_s * 1000)
        assert s["back_pressure_kpa"] == pytest.approx(base + b * check_s, abs=1e-12)
        assert s["line_pressure_kpa"] == pytest.approx(pres, abs=1e-7)
        assert s["outlet_ul"] == pytest.approx(out, abs=1e-6)
    # late in the ramp the line lags Pb by b*tau, pulling fluid back (negative excess)
    assert s["line_pressure_kpa"] - s["back_pressure_kpa"] == pytest.approx(-b * r * c, rel=1e-2)


def test_drift_change_keeps_back_pressure_continuous_and_base_change_sets_it():
    p = plant(back_pressure_kpa=2.0, back_pressure_drift_kpa_per_h=36.0)
    assert p.state(100_000)["back_pressure_kpa"] == pytest.approx(3.0)
    p.set_back_pressure(100_000, drift_kpa_per_h=-36.0)
    assert p.state(100_000)["back_pressure_kpa"] == pytest.approx(3.0)
    assert p.state(200_000)["back_pressure_kpa"] == pytest.approx(2.0)
    p.set_back_pressure(200_000, base_kpa=10.0, drift_kpa_per_h=0.0)
    assert p.state(900_000)["back_pressure_kpa"] == pytest.approx(10.0)


# ---- occlusion ----------------------------------------------------------------------------------


def test_full_occlusion_holds_pressure_and_delivers_nothing_then_release_drains_stored_volume():
    c = 0.5
    p = plant(compliance_ul_per_kpa=c)
    p.occlude(0, 1.0)
    for i in range(20):
        p.step(i * 1000, 1)
    held = p.state(20_000)
    assert held["outlet_ul"] == 0.0
    assert held["occlusion"] == 1.0
    assert held["line_pressure_kpa"] == pytest.approx(1.0 + 20 / c)
    later = p.state(3_600_000)
    assert later["line_pressure_kpa"] == held["line_pressure_kpa"]
    assert later["outlet_ul"] == 0.0
    stored = c * (later["line_pressure_kpa"] - later["back_pressure_kpa"])
    p.release(3_600_000)
    drained = p.state(3_600_000 + 60_000)
    assert drained["occlusion"] == 0.0
    assert drained["outlet_ul"] == pytest.approx(stored, abs=1e-9)
    assert drained["scale_ul"] == pytest.approx(20.0, abs=0.01)


def test_partial_occlusion_passes_pump_rate_at_steady_state_but_at_higher_pressure():
    def run(fraction):
        p = plant(ul_per_step=0.5)
        p.occlude(0, fraction)
        pressures, out_at_half = [], None
        for i in range(20_000):  # 0.5 uL every 100 ms = 5 uL/s for 2000 s
            t = i * 100
            if i == 10_000:
                out_at_half = p.state(t)["outlet_ul"]
            p.step(t, 1)
            if i >= 10_000:  # four phases across the sawtooth, not just its trough
                pressures += [p.state(t + k)["line_pressure_kpa"] for k in (0, 25, 50, 75)]
        rate = (p.state(2_000_000)["outlet_ul"] - out_at_half) / 1000.0
        return rate, sum(pressures) / len(pressures)

    open_rate, open_p = run(0.0)
    part_rate, part_p = run(0.9)  # R_eff = 10 R
    assert open_rate == pytest.approx(5.0, rel=1e-3)
    assert part_rate == pytest.approx(5.0, rel=1e-3)
    # mean excess = q * R_eff: 5 * 2 = 10 kPa open, 5 * 20 = 100 kPa at 90 %
    assert open_p - 1.0 == pytest.approx(10.0, rel=0.03)
    assert part_p - 1.0 == pytest.approx(100.0, rel=0.03)
    assert part_p > open_p


# ---- pump limits -------------------------------------------------------------------------------


def test_steps_past_motor_stall_pressure_are_lost():
    p = plant(motor_stall_kpa=10.0, compliance_ul_per_kpa=0.5)  # 2 kPa per 1 uL step
    p.occlude(0, 1.0)
    assert p.step(0, 10) == 5  # 1 -> 3, 5, 7, 9, 11 kPa; the 6th sees 11 >= 10
    s = p.state(0)
    assert (s["steps_moved"], s["steps_lost"]) == (5, 5)
    assert s["line_pressure_kpa"] == pytest.approx(11.0)
    assert s["reservoir_ul"] == pytest.approx(20000.0 - 5)
    p.release(0)
    p.state(60_000)
    assert p.step(60_000, 1) == 1  # relieved line: the motor moves fluid again


def test_empty_reservoir_moves_air_without_pressure_rise_or_outlet_volume():
    p = plant(reservoir_ul=2.5)
    assert p.step(0, 4) == 2
    s = p.state(60_000)
    assert (s["steps_moved"], s["steps_air"]) == (2, 2)
    assert s["reservoir_ul"] == pytest.approx(0.5)
    before = s["line_pressure_kpa"], s["outlet_ul"]
    assert p.step(60_000, 3) == 0
    after = p.state(60_000)
    assert (after["line_pressure_kpa"], after["outlet_ul"]) == before
    assert p.state(120_000)["outlet_ul"] == before[1]
    p.refill(120_000, 100.0)
    assert p.step(120_000, 1) == 1
    assert p.state(120_000)["reservoir_ul"] == pytest.approx(99.0)


def test_disabled_motor_ignores_steps():
    p = plant()
    p.set_motor_enabled(0, False)
    assert p.step(0, 7) == 0
    s = p.state(10_000)
    assert (s["steps_ignored"], s["steps_moved"], s["motor_enabled"]) == (7, 0, False)
    assert s["reservoir_ul"] == 20000.0 and s["outlet_ul"] == 0.0
    p.set_motor_enabled(10_000, True)
    assert p.step(10_000, 2) == 2


# ---- coughs -------------------------------------------------------------------------------------


def test_cough_raises_back_pressure_only_in_its_window_and_scale_dips_then_recovers():
    p = plant(resistance_kpa_s_per_ul=2.0, compliance_ul_per_kpa=0.5)  # tau = 1 s
    p.step(0, 10)
    before = p.scale_ul(30_000)
    assert before == pytest.approx(10.0, abs=0.01)
    p.add_cough(30_000, 5.0, 500)
    assert p.state(30_000)["back_pressure_kpa"] == pytest.approx(6.0)
    assert p.state(30_499)["back_pressure_kpa"] == pytest.approx(6.0)
    dip = p.scale_ul(30_499)
    # fluid pushed back during the cough: C * 5 kPa * (1 - e^-0.5) ~= 0.98 uL
    assert before - dip == pytest.approx(0.5 * 5 * (1 - math.exp(-0.499)), abs=0.02)
    assert p.state(30_500)["back_pressure_kpa"] == pytest.approx(1.0)
    assert p.scale_ul(60_000) == pytest.approx(before, abs=1e-9)


def test_back_pressure_returns_exactly_to_base_after_overlapping_coughs():
    p = plant(back_pressure_kpa=0.0)  # at 0 any float residue of the spike sum would show
    rng = random.Random(1)
    for i in range(1000):  # ~10 coughs in flight at once, arbitrary heights
        p.add_cough(i * 100, rng.uniform(0.0, 200.0), 1000)
    assert p.state(99_999)["back_pressure_kpa"] > 0.0
    assert p.state(100_900)["back_pressure_kpa"] == 0.0


def test_random_coughs_are_reproducible_and_occupy_rate_times_duration_of_the_time():
    def pb_trace(seed):
        p = plant(cough_rate_per_h=600.0, cough_kpa=5.0, cough_ms=500, seed=seed)
        return [p.state(t)["back_pressure_kpa"] for t in range(0, 7_200_000, 97)]

    a, b, other = pb_trace(3), pb_trace(3), pb_trace(4)
    assert a == b
    assert a != other
    mean_spike = sum(x - 1.0 for x in a) / len(a)
    # 600/h * 0.5 s = 8.3 % of the time at +5 kPa (overlaps add) -> 0.417 kPa mean
    assert mean_spike == pytest.approx(600 * 0.5 / 3600 * 5.0, rel=0.15)
    assert min(a) == pytest.approx(1.0)


# ---- instruments --------------------------------------------------------------------------------


def test_pressure_sensor_quantizes_to_lsb_offsets_and_clamps():
    p = Plant({"pressure_sensor": {"noise_kpa": 0.0, "lsb_kpa": 0.25, "offset_kpa": 0.3}}, 1.0)
    p.step(0, 3)  # P = 1 + 6 = 7 kPa, reads 7.3 -> 7.25
    assert p.read_pressure_kpa(0) == pytest.approx(7.25)
    q = Plant({"pressure_sensor": {"noise_kpa": 0.0, "max_kpa": 5.0}}, 1.0)
    q.step(0, 3)
    assert q.read_pressure_kpa(0) == 5.0
    low = Plant({"pressure_sensor": {"noise_kpa": 0.0, "offset_kpa": -3.0}}, 1.0)
    assert low.read_pressure_kpa(0) == 0.0


def test_pressure_sensor_noise_is_quantized_and_reproducible_for_a_seed():
    def readings(seed):
        p = Plant({"pressure_sensor": {"noise_kpa": 0.5, "lsb_kpa": 0.1}}, 1.0, seed=seed)
        p.step(0, 10)  # 21 kPa, far from the clamps
        return [p.read_pressure_kpa(0) for _ in range(2000)]

    a = readings(11)
    assert a == readings(11)
    assert a != readings(12)
    assert all(abs(r / 0.1 - round(r / 0.1)) < 1e-9 for r in a)
    assert len(set(a)) > 10
    mean = sum(a) / len(a)
    sd = math.sqrt(sum((r - mean) ** 2 for r in a) / len(a))
    assert mean == pytest.approx(21.0, abs=0.05)
    assert sd == pytest.approx(0.5, rel=0.1)


def test_sensor_reads_do_not_shift_the_cough_schedule():
    a = plant(cough_rate_per_h=300.0, seed=5)
    b = plant(cough_rate_per_h=300.0, seed=5)
    pb_a, pb_b = [], []
    for t in range(0, 3_600_000, 1000):
        a.read_pressure_kpa(t)
        pb_a.append(a.state(t)["back_pressure_kpa"])
        if t % 3000 == 0:
            pb_b.append(b.state(t)["back_pressure_kpa"])
    assert pb_a[::3] == pb_b
    assert max(pb_a) > 1.0  # coughs did happen


def test_scale_rounds_to_its_resolution_and_state_exposes_the_exact_total():
    p = Plant({"scale": {"resolution_ul": 0.5}, "pressure_sensor": {"noise_kpa": 0.0}}, 0.3)
    p.step(0, 1)
    s = p.state(60_000)
    assert s["outlet_ul"] == pytest.approx(0.3, abs=1e-12)
    assert s["scale_ul"] == 0.5
    assert p.scale_ul(60_000) == 0.5
    assert p.outlet_ul(60_000) == s["outlet_ul"]


# ---- time and interface -------------------------------------------------------------------------


def test_time_never_goes_backwards():
    p = plant()
    p.step(5000, 3)
    s = p.state(5000)
    assert p.state(1000)["t_ms"] == 5000
    assert p.step(2000, 1) == 1
    assert p.state(2000)["line_pressure_kpa"] == pytest.approx(s["line_pressure_kpa"] + 2.0)


def test_state_is_json_serialisable_with_the_documented_keys():
    s = plant().state(0)
    assert set(s) == {
        "t_ms", "line_pressure_kpa", "back_pressure_kpa", "reservoir_ul", "outlet_ul", "scale_ul",
        "steps_moved", "steps_lost", "steps_air", "steps_ignored", "steps_slipped", "rotor_steps", "sensor_fault", "motor_enabled", "occlusion",
    }
    assert json.loads(json.dumps(s)) == s


def test_a_simulated_day_of_steps_and_reads_runs_fast():
    p = Plant({"cough_rate_per_h": 60.0}, 0.1, seed=1)
    start = time.perf_counter()
    for i in range(100_000):
        t = i * 3600
        p.read_pressure_kpa(t)
        p.step(t, 1)
    elapsed = time.perf_counter() - start
    assert p.steps_moved == 100_000
    assert elapsed < 2.0


# ---- parameter validation ----------------------------------------------------------------------


def test_validate_params_merges_defaults_without_mutating_input():
    given = {"pressure_sensor": {"noise_kpa": 0}, "cough_ms": 250}
    full = validate_params(given)
    assert full["pressure_sensor"] == {**PLANT_DEFAULTS["pressure_sensor"], "noise_kpa": 0.0}
    assert full["cough_ms"] == 250 and full["scale"] == PLANT_DEFAULTS["scale"]
    assert given == {"pressure_sensor": {"noise_kpa": 0}, "cough_ms": 250}
    assert validate_params({}) == PLANT_DEFAULTS
    full["scale"]["resolution_ul"] = 9.0
    assert PLANT_DEFAULTS["scale"]["resolution_ul"] == 0.01


def test_validate_params_reports_every_bad_key_with_its_path_in_one_error():
    bad = {
        "compliance_ul_per_kpa": 0,
        "cough_ms": 500.0,
        "calibration_error_pct": True,
        "back_pressure_kpa": 101,
        "reservoir_ul": "full",
        "pump_speed": 3,
        "pressure_sensor": {"noise_kpa": -1, "lsb_kpa": float("nan"), "gain": 2},
        "scale": 5,
    }
    with pytest.raises(PlantConfigError) as exc:
        validate_params(bad)
    problems = dict(exc.value.problems)
    assert set(problems) == {
        "plant.compliance_ul_per_kpa", "plant.cough_ms", "plant.calibration_error_pct",
        "plant.back_pressure_kpa", "plant.reservoir_ul", "plant.pump_speed",
        "plant.pressure_sensor.noise_kpa", "plant.pressure_sensor.lsb_kpa",
        "plant.pressure_sensor.gain", "plant.scale",
    }
    text = str(exc.value)
    assert "plant.pressure_sensor.noise_kpa: must be >= 0, got -1" in text
    assert "plant.compliance_ul_per_kpa: must be > 0, got 0" in text
    assert "plant.back_pressure_kpa: must be <= 100, got 101" in text
    assert "unknown key" in problems["plant.pump_speed"]
    assert "unknown key" in problems["plant.pressure_sensor.gain"]
    assert "integer" in problems["plant.cough_ms"]
    assert isinstance(exc.value, ValueError)


def test_plant_refuses_invalid_params_and_step_size():
    with pytest.raises(PlantConfigError):
        Plant({"motor_stall_kpa": -5}, 1.0)
    with pytest.raises(ValueError):
        Plant({}, 0.0)


def test_a_stuck_sensor_repeats_its_reading_while_the_line_pressure_moves():
    plant = Plant(dict(PLANT_DEFAULTS), 0.1, seed=3)
    plant.sensor_fault(0, "stuck")
    stuck = plant.read_pressure_kpa(0)
    plant.step(1000, 50)
    assert plant.state(1001)["line_pressure_kpa"] > stuck + 5
    assert plant.read_pressure_kpa(1001) == stuck
    plant.sensor_fault(2000, "none")
    assert plant.read_pressure_kpa(2000) != stuck


def test_an_open_sensor_reads_its_top_rail_and_an_offset_shifts_every_reading():
    plant = Plant(dict(PLANT_DEFAULTS), 0.1, seed=3)
    plant.sensor_fault(0, "open")
    assert plant.read_pressure_kpa(10) == PLANT_DEFAULTS["pressure_sensor"]["max_kpa"]
    plant.sensor_fault(20, "offset", 30.0)
    assert plant.read_pressure_kpa(30) > 30.0


def test_lost_steps_move_no_fluid_and_are_counted():
    plant = Plant(dict(PLANT_DEFAULTS), 0.1, seed=3)
    plant.lose_steps(0, 0.25)
    assert plant.step(10, 100) == 75
    s = plant.state(20)
    assert (s["steps_slipped"], s["steps_moved"], s["reservoir_ul"]) == (25, 75, 20000 - 7.5)


def test_the_rotor_count_a_shaft_encoder_sees_leaves_out_slipped_stalled_and_ignored_steps():
    p = plant(motor_stall_kpa=10.0, compliance_ul_per_kpa=0.5, reservoir_ul=7.0)  # 2 kPa per step
    p.lose_steps(0, 0.5)
    p.step(0, 4)                       # 2 slip, 2 move
    p.lose_steps(0, 0.0)
    p.occlude(0, 1.0)
    p.step(0, 6)                       # from 5 kPa: 3 move (7, 9, 11 kPa), 3 are lost at 10
    p.set_motor_enabled(0, False)
    p.step(0, 5)                       # ignored: the driver is off
    p.set_motor_enabled(0, True)
    p.release(0)
    p.state(60_000)
    p.step(60_000, 4)                  # 2 uL left in the reservoir: 2 move, then 2 turn in air
    s = p.state(60_000)
    assert (s["steps_slipped"], s["steps_lost"], s["steps_ignored"]) == (2, 3, 5), s
    assert (s["steps_moved"], s["steps_air"]) == (7, 2), s
    assert s["rotor_steps"] == p.rotor_steps == 9     # the rotor turned for fluid and for air
