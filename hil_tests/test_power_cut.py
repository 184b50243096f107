"""Power cuts inside flash writes: the rig arms a byte budget, the sim board's storage driver spends it."""
import os
import subprocess
import time

import pytest

from host_tools import paths
from host_tools.client import PumpClient
from host_tools.deploy import wait_for_app

DATA = bytes(range(250)) * 4        # 1000 bytes, each position recognisable
_MAKE = "bytes(range(250)) * 4"



def mpremote(link, *args, timeout=30):
    return subprocess.run([paths.mpremote(), "connect", link] + list(args),
                          capture_output=True, text=True, timeout=timeout)


def _service(pump):
    """Into the REPL, where nothing writes flash but the test (the app keeps a journal and log:
    hil_tests/test_persistence.py cuts those)."""
    pump.request("service")
    pump.close()
    time.sleep(0.5)  # the board resets into the REPL


def _write_through_the_board_storage(link, name, data_expr, follow=True):
    # the storage driver exactly as the app gets it: built from board.json by the wiring
    code = ("from pump.wiring import build_board\n"
            "build_board('board.json').storage.write(%r, %s)\n"
            "print('written')\n" % (name, data_expr))
    if follow:
        return mpremote(link, "resume", "exec", code)
    # a write that loses the power never finishes: send it and do not wait for its output
    return mpremote(link, "resume", "exec", "--no-follow", code)


def _wait_unpowered(rig, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = rig.status()
        if not status["powered"]:
            return status
        time.sleep(0.05)
    raise AssertionError("the board still has power: %r" % rig.status())


def _flash_file(board, name):
    with open(os.path.join(board.flash, name), "rb") as f:
        return f.read()


def test_a_cut_armed_at_300_bytes_leaves_exactly_the_bytes_that_fit_and_the_board_boots_after(
        board, pump, rig, sim_only):
    _service(pump)
    before = rig.status()
    assert before["flash_cuts"] == 0 and before["flash_budget"] is None
    assert rig.cut_power_after_flash_bytes(300) == {"flash_budget": 300}
    result = _write_through_the_board_storage(board.link, "cut.bin", _MAKE, follow=False)
    assert result.returncode == 0, result.stderr
    status = _wait_unpowered(rig)
    # 1 unit for the truncation, then 299 bytes: the prefix that fits, nothing more
    assert _flash_file(board, "cut.bin") == DATA[:299]
    assert status["flash_cuts"] == 1 and status["flash_budget"] is None
    assert status["flash_bytes_since_boot"] == 300
    assert rig.flash_bytes_written() == before["flash_bytes_written"] + 300
    # unpowered, the world clock stands still; power_on moves it on by the time off
    cut_ms = status["sim_ms"]
    time.sleep(0.3)
    assert rig.status()["sim_ms"] == cut_ms
    assert rig.power_on(off_s=60)["sim_ms"] == cut_ms + 60000
    hello = wait_for_app(board.link, timeout=10)
    assert hello["reset_cause"] == "power_on"
    with PumpClient(board.link) as again:
        assert again.request("status")["state"] == "stopped"
    after = rig.status()
    assert after["powered"] is True and after["flash_cuts"] == 1 and after["boots"] == before["boots"] + 1
    assert _flash_file(board, "cut.bin") == DATA[:299]      # the next boot kept what landed


def test_an_armed_cut_outlives_a_reset_and_fires_where_its_budget_ends(board, pump, rig, sim_only):
    _service(pump)
    rig.cut_power_after_flash_bytes(8)
    # a reset back into the REPL (the flag is written by plain open, not the counted driver):
    # the new boot is told the budget when it connects
    mpremote(board.link, "resume", "exec", "--no-follow",
             "open('service.flag', 'w').write('1')\nimport machine\nmachine.reset()\n")
    time.sleep(1.0)
    assert rig.status()["flash_budget"] == 8
    result = _write_through_the_board_storage(board.link, "a.bin", "b'abcd'")
    assert result.returncode == 0 and result.stdout.strip() == "written", result
    assert rig.status()["flash_budget"] == 3       # 1 + 4 spent, as the board reported
    _write_through_the_board_storage(board.link, "b.bin", "b'0123456789'", follow=False)
    status = _wait_unpowered(rig)
    assert status["flash_cuts"] == 1
    assert _flash_file(board, "a.bin") == b"abcd" and _flash_file(board, "b.bin") == b"01"


def test_a_disarmed_cut_never_fires_and_every_byte_is_counted(board, pump, rig, sim_only):
    _service(pump)
    rig.cut_power_after_flash_bytes(5)
    rig.disarm_flash_cut()
    before = rig.flash_bytes_written()
    result = _write_through_the_board_storage(board.link, "whole.bin", _MAKE)
    assert result.returncode == 0 and result.stdout.strip() == "written", result
    status = rig.status()
    assert status["powered"] is True and status["flash_cuts"] == 0 and status["flash_budget"] is None
    assert rig.flash_bytes_written() == before + 1 + 1000
    assert _flash_file(board, "whole.bin") == DATA


def test_the_rig_refuses_a_budget_that_is_not_a_count_of_bytes(rig, sim_only):
    from host_tools.rig import RigError
    for bad in (-1, 2.5, "10", True):
        with pytest.raises(RigError, match="n must be an int >= 0"):
            rig.cut_power_after_flash_bytes(bad)
    assert rig.status()["flash_budget"] is None
