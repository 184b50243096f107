"""SerialRig and the physical rig's firmware speak one protocol: the firmware runs on the MicroPython unix port behind a pty."""
import os
import pty
import subprocess
import tty

import pytest

from host_tools import paths
from host_tools.rig import RigError, RigUnsupported, SerialRig, SimRig


@pytest.fixture
def rig_board():
    master, slave = pty.openpty()
    tty.setraw(slave)      # the host side of a USB serial port: no echo, no newline mangling
    proc = subprocess.Popen([paths.micropython(), os.path.join(paths.REPO_DIR, "tests", "host", "rig_on_unix.py"),
                             paths.REPO_DIR], stdin=master, stdout=master, stderr=subprocess.PIPE)
    try:
        yield os.ttyname(slave)
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
        os.close(slave)


def test_the_serial_rig_learns_its_features_from_the_rig_board(rig_board):
    with SerialRig(rig_board, timeout=5) as rig:
        assert rig.name == "rig_pico"
        assert {"scale", "occlude", "power", "reset_button", "run_for"} <= rig.features
        assert "plant" not in rig.features and "fault" not in rig.features


def test_the_same_calls_as_the_sim_rig_move_the_valve_power_and_read_the_scale(rig_board):
    with SerialRig(rig_board, timeout=5) as rig:
        assert rig.occlude(0.5) == {"occluded": 0.5}
        assert rig.release() == {"occluded": 0.0}
        assert rig.power_cut() == {"power": False}
        assert rig.power_on(off_s=1) == {"power": True}
        assert rig.reset_button() == {"reset": True}
        first = rig.scale_ul()
        assert rig.scale_ul() > first          # the fake beaker fills by 1 g a read
        status = rig.status()
        assert status["power"] is True and status["occluded"] == 0.0


def test_a_feature_the_rig_lacks_is_refused_before_anything_is_sent(rig_board):
    with SerialRig(rig_board, timeout=5, max_wait_s=0.2) as rig:
        for call in (lambda: rig.sensor_fault("stuck"), lambda: rig.fault("crash"), rig.plant,
                     lambda: rig.cut_power_after_flash_bytes(10), lambda: rig.set_speed(60),
                     lambda: rig.run_for(3600)):
            with pytest.raises(RigUnsupported) as e:
                call()
            assert "the rig rig_pico has no" in str(e.value)
        assert rig.run_for(0.1) >= 100         # short waits pass in real time


def test_an_error_from_the_rig_board_is_a_rig_error_with_its_words(rig_board):
    with SerialRig(rig_board, timeout=5) as rig:
        with pytest.raises(RigError, match="fraction must be 0 to 1"):
            rig.occlude(2)


def test_a_port_that_is_not_there_is_one_clear_error():
    with pytest.raises(RigError, match="cannot open the rig at /dev/nonexistent"):
        SerialRig("/dev/nonexistent")


def test_the_sim_rig_has_every_feature_and_refuses_none():
    assert "plant" in SimRig.features and "run_for" in SimRig.features


def test_rig_deploy_stops_the_rig_then_copies_its_files_and_the_hx711_driver(rig_board, monkeypatch, capsys):
    from host_tools import rig_cli
    calls = []

    class Done:
        returncode = 0
        stdout = stderr = ""

    def fake_run(argv, **kw):
        calls.append(argv[2:])
        return Done()
    monkeypatch.setattr(rig_cli.subprocess, "run", fake_run)

    class Args:
        port = rig_board
    assert rig_cli.cmd_deploy(Args()) == 0
    copied = [c[-1] for c in calls if c[:4] == [rig_board, "resume", "fs", "cp"]]
    assert copied == [":main.py", ":rig_firmware.py", ":rig.json", ":drivers/__init__.py",
                      ":drivers/hx711.py"], calls
    out = capsys.readouterr().out
    assert "rig firmware stopped for the copy" in out and "rig: up: rig_pico" in out, out
