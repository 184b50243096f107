"""pumpctl against a board: readable status, JSON status, one-line errors and non-zero exits."""
import json
import subprocess
from cli_runner import pumpctl_argv


def pumpctl(*args, timeout=30):
    return subprocess.run(pumpctl_argv() + list(args),
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


def _one_json_document(*args):
    result = pumpctl(*args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_read_command_prints_one_json_document_with_json(board):
    assert _one_json_document("--port", board.link, "hello", "--json")["board"]
    assert "alarms" in _one_json_document("--port", board.link, "alarms", "--json")
    assert isinstance(_one_json_document("--port", board.link, "history", "--json"), list)
    records = _one_json_document("--port", board.link, "log", "--json")
    assert records and all("seq" in r for r in records)
    assert _one_json_document("--port", board.link, "stop", "--json")["state"] == "stopped"


def test_status_watch_piped_prints_a_json_status_line_per_interval_and_ends_after_count(board):
    result = pumpctl("--port", board.link, "status", "--watch", "--interval", "0.2", "--count", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    uptimes = [json.loads(l)["uptime_s"] for l in lines]
    assert uptimes == sorted(uptimes) and uptimes[0] < uptimes[-1]


def test_status_watch_ends_after_its_duration_with_exit_0(board):
    result = pumpctl("--port", board.link, "status", "--watch", "--json", "--interval", "0.5",
                     "--duration", "1.2")
    assert result.returncode == 0, result.stderr
    assert 2 <= len(result.stdout.splitlines()) <= 4
    assert all(json.loads(l)["state"] for l in result.stdout.splitlines())


def test_status_watch_ends_cleanly_on_ctrl_c(board):
    import signal
    p = subprocess.Popen(pumpctl_argv() + ["--port", board.link, "status", "--watch"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = p.stdout.readline()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert json.loads(first)["state"] and p.returncode == 0, err
    assert "Traceback" not in err


def test_ports_finds_a_running_simulated_board_under_dot_sim(board, sim_only, tmp_path):
    import os
    os.makedirs(tmp_path / ".sim")
    os.symlink(board.home, tmp_path / ".sim" / "hil")
    result = subprocess.run(pumpctl_argv() + ["ports", "--json"], capture_output=True,
                            text=True, timeout=30, cwd=str(tmp_path),
                            env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert result.returncode == 0, result.stderr
    sims = json.loads(result.stdout)["sims"]
    assert os.path.realpath(board.link) in [s["target"] for s in sims]


def test_a_refusal_exits_3_on_one_line_with_a_hint(board):
    result = pumpctl("--port", board.link, "set-rate", "999999")
    assert result.returncode == 3
    line = result.stderr.strip()
    assert line.startswith("pumpctl: refused: ") and "; " in line and "\n" not in line


def test_a_port_that_is_not_there_exits_1_and_points_at_pumpctl_ports(board):
    result = pumpctl("--port", board.link + ".missing", "status")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("pumpctl: error: no such port")
    assert "pumpctl ports" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_boards_lists_the_board_under_test_without_a_port(request):
    boards = _one_json_document("boards", "--json")
    assert request.config.getoption("--board") in [b["name"] for b in boards]
