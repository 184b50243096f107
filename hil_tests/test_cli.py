"""pumpctl against a board: readable status, JSON status, one-line errors and non-zero exits."""
import json
import subprocess
import sys


def pumpctl(*args, timeout=30):
    return subprocess.run([sys.executable, "-m", "host_tools.cli"] + list(args),
                          capture_output=True, text=True, timeout=timeout)


def test_status_json_carries_the_documented_fields(board):
    result = pumpctl("--port", board.link, "status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    for key in ("state", "rate_ul_h", "delivered_ul", "reservoir_ul", "alarms", "uptime_s", "sim_time_s"):
        assert key in status, key


def test_status_is_readable_by_a_person(board):
    result = pumpctl("--port", board.link, "status")
    assert result.returncode == 0, result.stderr
    assert "state" in result.stdout and "stopped" in result.stdout
    assert "uL/h" in result.stdout


def _status(link):
    result = pumpctl("--port", link, "status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_set_rate_start_and_stop_from_the_command_line(board):
    assert pumpctl("--port", board.link, "set-rate", "120").returncode == 0
    assert pumpctl("--port", board.link, "start").returncode == 0
    status = _status(board.link)
    assert status["state"] == "running" and status["rate_ul_h"] == 120
    assert pumpctl("--port", board.link, "stop").returncode == 0
    assert _status(board.link)["state"] == "stopped"


def test_a_rate_above_the_board_limit_is_refused_in_one_line(board):
    result = pumpctl("--port", board.link, "set-rate", "999999")
    assert result.returncode == 3
    assert "limit" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert _status(board.link)["rate_ul_h"] == 0


def test_a_board_that_does_not_answer_is_a_one_line_error(blank_sim):
    result = pumpctl("--port", blank_sim.link, "--timeout", "1", "status")
    assert result.returncode == 1
    assert "no reply" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
