"""The IEC 60601-2-24 bench method on the board: flow error over the second hour, trumpet curves, occlusion.

The runs go through host_tools/iec_bench.py (the same parts `make iec` runs), shortened for CI:
  - the 2 h accuracy runs are at 1 mL/h instead of the standard's 5 mL/h (a fifth of the steps
    to simulate; `make iec` runs 5 mL/h);
  - the long run at an intrathecal rate lasts 9 h instead of 24 h, sampled every 30 min instead
    of 30 s (a delivering day costs the sim about 10 s of wall time whatever the sampling);
  - the occlusions run at the intermediate rate and the lowest intrathecal one.
docs/iec-bench.md says where each limit comes from.
"""
import os

import pytest

from host_tools.client import PumpClient
from host_tools.iec_bench import (ACCURACY_LIMIT_PCT, BOLUS_LIMIT_UL, FixedBench, accuracy_part,
                                  board_config, intrathecal_part, occlusion_part,
                                  restart_with_detector, rig_scale_resolution_ul)
from host_tools.iec_method import alarm_time_bound_s, occlusion_run
from host_tools.rig import SimRig
from host_tools.sim.plant import validate_params

CI_RATE_UL_H = 1000.0             # 1 mL/h
INTRATHECAL_UL_H = 500.0 / 24     # 0.5 mL/day
LOW_UL_H = 100.0 / 24             # 0.1 mL/day, the lowest rate of docs/safety.md's table


def _bench(request, pump, rig):
    name = request.config.getoption("--board")
    cfg = board_config(name)
    if name == "sim":
        resolution = validate_params(cfg["plant"])["scale"]["resolution_ul"]
    else:
        resolution = rig_scale_resolution_ul()
    return FixedBench(pump, rig, cfg, resolution)


def _say(message):
    print("iec: %s" % message)


def _assert_trumpet_within_quantisation(summary):
    """Every Ep lies within one pump step and the scale's rounding of the mean error A: the pump
    delivers as evenly as its steps allow, in every window."""
    a = summary["mean_error_pct"]
    for row in summary["trumpet"]:
        margin = row["resolution_pct"] + 1e-6
        assert a - margin <= row["ep_min_pct"] <= row["ep_max_pct"] <= a + margin, (a, row)


def _assert_trumpet_within_bounds(rig, summary):
    """The sim's pump head is ideal: its trumpet must stay within quantisation. A real head has
    its own short-term unevenness: every window within the external pumps' 5 %, plus what the
    rig's scale can resolve in it."""
    if rig.name == "sim":
        _assert_trumpet_within_quantisation(summary)
        return
    for row in summary["trumpet"]:
        margin = ACCURACY_LIMIT_PCT + row["resolution_pct"]
        assert -margin <= row["ep_min_pct"] <= row["ep_max_pct"] <= margin, row


def test_the_flow_error_over_the_second_hour_is_within_5_percent_and_the_trumpet_within_one_step(
        request, pump, rig, tmp_path):
    rig.require("scale")
    s = accuracy_part(_bench(request, pump, rig), str(tmp_path), _say, CI_RATE_UL_H)
    assert abs(s["mean_error_pct"]) <= ACCURACY_LIMIT_PCT and s["within_limit"], s["mean_error_pct"]
    assert s["alarms"] == []
    _assert_trumpet_within_bounds(rig, s)
    by_window = {r["window_min"]: r for r in s["trumpet"]}
    assert sorted(by_window) == [2, 5, 11, 19, 31]
    spread = {w: r["ep_max_pct"] - r["ep_min_pct"] for w, r in by_window.items()}
    assert spread[2] >= spread[31], spread            # the mouth of the trumpet is at 2 min
    assert all(os.path.getsize(p) > 0 for p in s["files"]), s["files"]


def test_a_pump_head_delivering_7_percent_over_its_nominal_step_fails_the_5_percent_limit(
        request, board_with_plant, tmp_path):
    sim = board_with_plant(calibration_error_pct=7.0)
    with PumpClient(sim.link, timeout=10.0) as pump, SimRig(sim.rig_path) as rig:
        s = accuracy_part(_bench(request, pump, rig), str(tmp_path), _say, CI_RATE_UL_H)
    assert not s["within_limit"]
    assert s["mean_error_pct"] == pytest.approx(7.0, abs=0.2)
    _assert_trumpet_within_quantisation(s)
    # the firmware counts nominal steps: only the scale sees the head's 7 %
    assert s["scale_ul"] == pytest.approx(1.07 * s["pumped_ul"], abs=2.0)


def test_at_an_intrathecal_rate_every_window_of_an_hour_or_more_is_within_one_step(
        request, pump, rig, tmp_path):
    rig.require("scale")
    s = intrathecal_part(_bench(request, pump, rig), str(tmp_path), _say, INTRATHECAL_UL_H,
                         hours=9.0, interval_s=1800.0)
    assert [r["window_min"] for r in s["trumpet"]] == [60, 120, 240, 480]
    assert abs(s["mean_error_pct"]) <= ACCURACY_LIMIT_PCT
    _assert_trumpet_within_bounds(rig, s)


@pytest.mark.parametrize("rate_ul_h", [5000.0, LOW_UL_H], ids=["5mL_h", "0.1mL_day"])
@pytest.mark.parametrize("detector", ["threshold", "model"])
def test_each_detector_alone_alarms_within_its_rule_and_the_bolus_after_release_is_under_half_a_ml(
        sim_only, board, rig, detector, rate_ul_h):
    restart_with_detector(board.home, rig, board.link, detector)
    cfg = board_config("sim")
    step = cfg["calibration"]["ul_per_step"]
    bound = alarm_time_bound_s(detector, rate_ul_h, cfg["occlusion"], step)
    warmup = max(600.0, 40 * step / rate_ul_h * 3600.0)
    with PumpClient(board.link, timeout=10.0) as pump:
        r = occlusion_run(pump, rig, rate_ul_h, warmup, limit_s=3 * bound, progress=_say)
    print("%s at %g uL/h: alarm after %.1f s (bound %.1f s), %.2f uL into the line, bolus %.2f uL"
          % (detector, rate_ul_h, r["time_to_alarm_s"] or -1, bound, r["pumped_into_line_ul"] or -1,
             r["bolus_ul"] or -1))
    assert r["false_alarm"] is None
    assert r["fired"] == [detector], r
    assert r["time_to_alarm_s"] is not None and 0 < r["time_to_alarm_s"] <= bound, (r, bound)
    assert r["bolus_ul"] <= BOLUS_LIMIT_UL
    # the bolus weighed is what the pump pushed into the blocked line, plus what the open line
    # already held at the rate (Q * tau), within a step and the scale's rounding
    held_before = rate_ul_h / 3600.0 * cfg["occlusion"]["line_tau_s"]
    pushed = r["pumped_into_line_ul"]
    assert pushed - step <= r["bolus_ul"] <= pushed + held_before + step, r


def test_as_deployed_the_occlusion_alarm_names_its_detector_and_the_bolus_is_under_half_a_ml(
        request, pump, rig, tmp_path):
    rig.require("scale", "occlude")
    bench = _bench(request, pump, rig)
    out = occlusion_part(bench, str(tmp_path), _say, [5000.0])
    (r,) = out["rows"]
    assert r["false_alarm"] is None and r["detectors"] == "both"
    assert r["fired"] and set(r["fired"]) <= {"threshold", "model"}, r
    assert r["time_to_alarm_s"] is not None and r["time_to_alarm_s"] <= r["bound_s"], r
    assert r["bolus_ul"] <= BOLUS_LIMIT_UL
    assert os.path.exists(os.path.join(str(tmp_path), "occlusion.csv"))
