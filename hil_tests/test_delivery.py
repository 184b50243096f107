"""Delivery on the board, measured independently on the rig's scale (not the firmware's own count)."""
import pytest

UL_PER_STEP = 0.1  # boards/sim/board.json calibration


@pytest.mark.needs_scale
def test_one_simulated_hour_at_100_ul_h_delivers_100_ul_on_the_scale_within_one_step(pump, rig):
    pump.request("set_rate", rate_ul_h=100)
    rig.run_for(1)
    before = rig.scale_ul()
    pump.request("start")
    rig.run_for(3600)
    pump.request("stop")
    rig.run_for(30)  # let the line drain to the outlet (tau = R*C = 1 s)
    delivered = rig.scale_ul() - before
    assert abs(delivered - 100.0) <= UL_PER_STEP, delivered


@pytest.mark.needs_rig("plant")
def test_stop_halts_the_motor(pump, rig):
    pump.request("set_rate", rate_ul_h=1000)
    pump.request("start")
    rig.run_for(600)
    assert rig.plant()["steps_moved"] > 0
    pump.request("stop")
    stopped = rig.plant()
    rig.run_for(3600)
    later = rig.plant()
    assert later["motor_enabled"] is False
    assert later["steps_moved"] == stopped["steps_moved"]
    assert later["steps_ignored"] == stopped["steps_ignored"]
    assert pump.request("status")["state"] == "stopped"


@pytest.mark.needs_scale
def test_a_rate_change_mid_delivery_delivers_the_exact_piecewise_volume(pump, rig):
    pump.request("set_rate", rate_ul_h=250)
    before = rig.scale_ul()
    pump.request("start")
    rig.run_for(1800)
    pump.request("set_rate", rate_ul_h=40)
    rig.run_for(1800)
    pump.request("stop")
    rig.run_for(30)
    expected = 250 * 0.5 + 40 * 0.5
    assert abs(rig.scale_ul() - before - expected) <= UL_PER_STEP


def test_status_reports_the_fields_hosts_rely_on(pump, rig):
    status = pump.request("status")
    for key in ("state", "rate_ul_h", "delivered_ul", "reservoir_ul", "alarms", "uptime_s", "sim_time_s"):
        assert key in status, key
    t0 = status["sim_time_s"]
    rig.run_for(120)
    assert pump.request("status")["sim_time_s"] >= t0 + 120
