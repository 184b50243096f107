"""Deploy through mpremote: copies what changed, verifies, restarts, and never leaves the motor on."""
import os

import pytest

from host_tools.client import PumpClient
from host_tools.deploy import DeployError, deploy, reset_to_deployed


def test_deploy_to_a_blank_board_installs_everything_and_starts_the_app(blank_sim):
    first = deploy(blank_sim.link, "sim")
    assert first["changed"] and len(first["changed"]) == first["files"]
    assert os.path.isfile(os.path.join(blank_sim.flash, "pump", "app.mpy"))
    assert os.path.isfile(os.path.join(blank_sim.flash, "board.json"))
    again = deploy(blank_sim.link, "sim")
    assert again["changed"] == []
    assert again["build"] == first["build"]


def test_deploy_refuses_while_delivering_unless_told_to_stop(board, pump):
    pump.request("set_rate", rate_ul_h=100)
    pump.request("start")
    pump.close()  # one program at a time on a serial port
    with pytest.raises(DeployError, match="delivering"):
        deploy(board.link, "sim")
    with PumpClient(board.link) as again:
        assert again.request("status")["state"] == "running"


def test_deploy_with_stop_leaves_the_motor_disabled(board, pump, rig):
    pump.request("set_rate", rate_ul_h=500)
    pump.request("start")
    rig.run_for(60)
    pump.close()
    deploy(board.link, "sim", stop=True)
    after = rig.plant()
    rig.run_for(600)
    later = rig.plant()
    assert later["motor_enabled"] is False
    assert later["steps_moved"] == after["steps_moved"]


@pytest.mark.sim_only   # reads the simulated board's flash folder
def test_reset_to_deployed_removes_what_the_board_stored_and_keeps_what_the_deploy_wrote(board, pump, rig):
    pump.request("set_rate", rate_ul_h=100)
    pump.request("start")
    rig.run_for(600)
    assert pump.request("status")["delivered_ul"] > 0
    pump.close()
    deployed = ("main.py", "board.json", "drugs.json", "build.json", "auth.json", "pump/app.mpy")
    before = {name: _read(board.flash, name) for name in deployed}
    with open(os.path.join(board.flash, "calibration.json"), "w") as f:
        f.write('{"ul_per_step": 0.2}')          # a bench calibration stored on the board
    reset_to_deployed(board.link)
    with PumpClient(board.link) as again:
        status = again.request("status")
    assert (status["state"], status["alarms"], status["delivered_ul"]) == ("stopped", [], 0), status
    assert status["calibration"]["source"] == "board.json"
    assert not os.path.exists(os.path.join(board.flash, "calibration.json"))
    assert {name: _read(board.flash, name) for name in deployed} == before


def _read(folder, name):
    with open(os.path.join(folder, name), "rb") as f:
        return f.read()


@pytest.mark.sim_only   # reads the simulated board's flash folder
def test_deploy_removes_stale_modules_that_could_shadow_new_ones(board):
    stale = os.path.join(board.flash, "pump", "app.py")  # .py is imported before .mpy
    with open(stale, "w") as f:
        f.write("raise SystemExit('stale module ran')\n")
    result = deploy(board.link, "sim")
    assert "pump/app.py" in result["removed"]
    assert not os.path.exists(stale)


def test_deploy_refuses_an_unknown_board_and_names_the_known_ones():
    with pytest.raises(DeployError, match="known boards: .*sim"):
        deploy("/dev/null", "no_such_board")


def test_a_frozen_deploy_is_refused_by_a_board_with_nothing_frozen_in_and_changes_nothing(sim_only, board):
    # the sim's MicroPython has no pump package frozen in, like a board flashed with a stock image
    app = os.path.join(board.flash, "pump", "app.mpy")
    with open(app, "rb") as f:
        before = f.read()
    with pytest.raises(DeployError, match="no pump firmware frozen in"):
        deploy(board.link, "sim", frozen=True)
    with open(app, "rb") as f:
        assert f.read() == before
    assert not os.path.exists(os.path.join(board.flash, "build.json.tmp"))
