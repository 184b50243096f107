"""Restarts in the middle of things on the board: a demand bolus, a periodic bolus, a flex-step
change and a refill. Judged by the plant's step count (the independent measure) and the pump.

The board's RTC runs through a reset (rig.reset_button), so the pump knows the time of day
after it and resumes by itself; each program is confirmed at Monday 2026-01-05 09:00 local.
"""
import pytest

from hil_tests.test_programs import _wall_ms, apply, saline
from host_tools.client import DeviceError

WALL = _wall_ms(2026, 1, 5, 9, 0)
MIN = 60



def moved(rig):
    return rig.plant()["steps_moved"]


def reset(pump, rig):
    """The reset button, then wait for the app: a run_for while the board boots would move the
    world on without it (the rig's clock waits only for a board that is running)."""
    rig.reset_button()
    rig.run_for(0)
    assert pump.request("status")["reset_cause"] == "hard"


def test_a_demand_bolus_cut_by_a_reset_is_not_resumed_and_still_counts_against_the_lockout(
        pump, rig, sim_only):
    rig.run_for(0)
    apply(pump, saline("demand", basal={"rate": 2.4},
                       demand={"dose": 0.05, "duration_min": 10, "lockout_min": 60,
                               "max_per_24h": 4}), WALL)
    pump.request("start")
    rig.run_for(MIN)
    pump.request("bolus_demand")             # 50 uL over 10 minutes
    rig.run_for(2 * MIN)
    reset(pump, rig)
    assert pump.request("status")["state"] == "running"
    with pytest.raises(DeviceError, match="locked out"):
        pump.request("bolus_demand")
    before = moved(rig)
    rig.run_for(10 * MIN)
    # basal only: 100 uL/h is 166.7 steps in 10 minutes; the bolus's other 40 uL would be 400
    assert 165 <= moved(rig) - before <= 168


def test_a_periodic_bolus_cut_by_a_reset_is_not_resumed_and_the_next_comes_on_time(pump, rig, sim_only):
    rig.run_for(0)
    apply(pump, saline("periodic", basal={"rate": 2.4},
                       periodic={"dose": 0.1, "duration_min": 60, "interval_min": 360,
                                 "first": "09:05"}), WALL)
    pump.request("start")
    rig.run_for(25 * MIN)                    # 09:25: 20 minutes into the 100 uL bolus
    reset(pump, rig)
    before = moved(rig)
    rig.run_for(40 * MIN)                    # to 10:05, where the bolus would have ended
    # basal only: 66.7 uL; the rest of the bolus would add 66.7 uL more
    assert 665 <= moved(rig) - before <= 668
    rig.run_for(5 * 60 * MIN + 5 * MIN)      # 15:10: the next one started at 15:05
    assert pump.request("status")["bolus"]["active"] == "periodic"


def test_a_reset_just_before_a_flex_step_change_runs_the_new_step_after_it(pump, rig, sim_only):
    rig.run_for(0)
    doc = saline("flex", flex={"steps": [{"start": "00:00", "rate": 1.2},
                                         {"start": "09:10", "rate": 4.8}]})
    apply(pump, doc, WALL)
    pump.request("start")
    rig.run_for(9 * MIN)                     # 09:09
    reset(pump, rig)
    rig.run_for(2 * MIN)                     # 09:11: past the change
    before = moved(rig)
    rig.run_for(60 * MIN)
    # 4.8 mL/day is 200 uL/h: 2000 steps, not the 500 of the step before
    assert abs(moved(rig) - before - 2000) <= 2


def test_a_reset_right_after_a_refill_keeps_the_refilled_volume(pump, rig, sim_only):
    rig.run_for(0)
    apply(pump, saline("refill", basal={"rate": 2.4}), WALL)
    pump.request("start")
    rig.run_for(60 * MIN)
    pump.request("stop")
    r = pump.request("refill", volume_ml=20, residual_ml=19.9)
    reset(pump, rig)
    s = pump.request("status")
    assert s["reservoir_ul"] == 20000.0 and r["volume_ml"] == 20, (s, r)
