"""pumpctl turns user mistakes into one-line errors with a non-zero exit, never a traceback."""
import subprocess
import sys


def pumpctl(*args):
    return subprocess.run([sys.executable, "-m", "host_tools.cli"] + list(args),
                          capture_output=True, text=True, timeout=30)


def _one_line_error(result, code):
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_port_that_does_not_exist_is_a_one_line_error():
    result = pumpctl("--port", "/dev/no-such-port", "status")
    _one_line_error(result, 1)
    assert "no such port" in result.stderr


def test_a_missing_port_is_a_one_line_usage_error():
    result = subprocess.run([sys.executable, "-m", "host_tools.cli", "status"], capture_output=True,
                            text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    _one_line_error(result, 2)
    assert "--port" in result.stderr


def test_a_negative_rate_is_refused_before_anything_is_sent():
    result = pumpctl("--port", "/dev/no-such-port", "set-rate", "-5")
    assert result.returncode == 2
    assert "cannot be negative" in result.stderr


def test_deploy_to_an_unknown_board_names_the_known_ones():
    result = pumpctl("--port", "/dev/no-such-port", "deploy", "--board", "nope")
    _one_line_error(result, 1)
    assert "known boards" in result.stderr


def test_a_bad_sim_speed_is_a_one_line_error(tmp_path):
    result = pumpctl("sim", "--home", str(tmp_path), "--speed", "fast")
    _one_line_error(result, 1)
    assert "speed" in result.stderr


def test_a_sim_board_file_the_firmware_would_refuse_is_a_one_line_error(tmp_path):
    bad = tmp_path / "board.json"
    bad.write_text('{"name": "sim", "port": "unix", "filesystem": "posix", "drivers": {}}')
    result = pumpctl("sim", "--home", str(tmp_path / "h"), "--board-file", str(bad))
    _one_line_error(result, 1)
    assert "calibration" in result.stderr and "drivers.motor" in result.stderr
