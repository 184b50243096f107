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
    assert "must be at least 0" in result.stderr


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


def test_a_missing_port_names_the_command_that_lists_ports():
    result = pumpctl("--port", "/dev/no-such-port", "status")
    assert "pumpctl: error: no such port: /dev/no-such-port; list the ports with pumpctl ports" in result.stderr


def test_a_bad_option_is_a_one_line_usage_error_with_where_to_read_more():
    result = pumpctl("--port", "/dev/no-such-port", "status", "--interval", "0")
    _one_line_error(result, 2)
    assert result.stderr.startswith("pumpctl: error: ") and "--help" in result.stderr


def test_an_unknown_command_is_a_one_line_usage_error():
    _one_line_error(pumpctl("frobnicate"), 2)


def test_validate_json_gives_every_problem_as_one_json_document(tmp_path):
    import json
    bad = tmp_path / "bad.toml"
    bad.write_text('format = 1\nname = "x"\npurpose = "bench"\n')
    result = pumpctl("program", "validate", "--json", str(bad))
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert doc["valid"] is False and doc["problems"] and all("path" in p for p in doc["problems"])


def test_device_errors_get_a_hint_unless_they_already_say_what_to_do():
    from host_tools import exits
    assert exits.with_hint("rate above the board limit (limit)", exits.device_hint("limit")).startswith(
        "rate above the board limit (limit); ask for less")
    said = "a program is applied: clear it first (pumpctl program clear) (bad_state)"
    assert exits.with_hint(said, exits.device_hint("bad_state")) == said


def test_link_errors_are_folded_onto_one_line_with_a_hint():
    from host_tools import exits
    line = exits.link_line("no reply to 'status' from /x within 5 s: is the pump app running? "
                           "(deploy it with `pumpctl deploy`)")
    assert line == ("no reply to 'status' from /x within 5 s; is the pump app running? "
                    "deploy it with pumpctl deploy --board NAME")
    assert "\n" not in exits.link_line("lost the link on /x:\nread failed")


def test_output_cut_short_by_its_reader_ends_quietly_with_no_broken_pipe_error():
    # `pumpctl boards | head -1`: the reader closes the pipe while pumpctl still writes
    import sys
    p = subprocess.Popen([sys.executable, "-m", "host_tools.cli", "boards", "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=30) == 0, err
    assert "Broken pipe" not in err and "Traceback" not in err, err
