"""The rig's faults reach the firmware through its own drivers, as a real line would reach a sensor."""
import pytest



@pytest.mark.needs_rig("occlude")
def test_an_occlusion_shows_as_rising_pressure_in_the_pumps_status(pump, rig):
    pump.request("set_rate", rate_ul_h=600)
    pump.request("start")
    rig.run_for(120)
    open_line = pump.request("status")["pressure_kpa"]
    rig.occlude(1.0)
    rig.run_for(120)  # the occlusion guard stops the pump after a few steps held back
    status = pump.request("status")
    blocked = status["pressure_kpa"]
    assert open_line < 3.0
    # each 0.1 uL step held in a line of 0.5 uL/kPa adds 0.2 kPa, and the pressure stays
    assert blocked > open_line + 0.6, (open_line, blocked)
    assert "occlusion" in status["alarms"] and status["state"] == "stopped"


COMPLIANCE_UL_PER_KPA = 0.5  # boards/sim/board.json plant
UL_PER_STEP = 0.1


@pytest.mark.needs_rig("occlude", "plant", "scale")
def test_releasing_an_occlusion_delivers_the_stored_volume_to_the_scale(pump, rig):
    pump.request("set_rate", rate_ul_h=600)
    pump.request("start")
    rig.run_for(60)
    rig.occlude(1.0)
    at_occlusion = rig.plant()
    before = rig.scale_ul()
    rig.run_for(300)                      # the occlusion alarm stops the pump within this
    pump.request("stop")
    blocked = rig.plant()
    assert rig.scale_ul() - before < 0.05  # nothing leaves a blocked line
    rig.release()
    rig.run_for(30)
    released = rig.scale_ul() - before
    # Conservation: what was pumped while blocked, plus what the line already held above
    # back-pressure when it was blocked, all reaches the outlet once it clears.
    pumped = (blocked["steps_moved"] - at_occlusion["steps_moved"]) * UL_PER_STEP
    stored = COMPLIANCE_UL_PER_KPA * (at_occlusion["line_pressure_kpa"] - at_occlusion["back_pressure_kpa"])
    assert 0 < pumped < 600 * 300 / 3600  # the guard stopped it long before the 50 uL asked
    assert abs(released - (pumped + stored)) <= 0.02  # two scale resolutions
