"""pumpctl ports and boards: which serial ports look like MicroPython boards, which sims run, which boards exist."""
import json
import os
import subprocess
import sys

from host_tools import boards, ports


class FakePort:
    def __init__(self, device, vid=None, pid=None, description="n/a"):
        self.device, self.vid, self.pid, self.description = device, vid, pid, description


def test_raspberry_pi_micropython_and_espressif_usb_ids_are_micropython_boards():
    for vid in (0x2E8A, 0xF055, 0x303A):
        assert ports.classify(FakePort("/dev/ttyACM0", vid, 0x0005))[0] == ports.YES


def test_cp210x_and_ch340_bridges_are_only_maybe():
    for vid in (0x10C4, 0x1A86):
        kind, why = ports.classify(FakePort("/dev/ttyUSB0", vid, 0xEA60))
        assert kind == ports.MAYBE and "bridge" in why


def test_other_ports_and_ports_without_usb_ids_are_not_marked():
    assert ports.classify(FakePort("/dev/ttyS0"))[0] == ports.NO
    assert ports.classify(FakePort("/dev/ttyACM1", 0x2341, 0x0043))[0] == ports.NO   # an Arduino


def test_ports_list_micropython_boards_first_with_vid_pid():
    listed = ports.serial_ports([FakePort("/dev/ttyS0"), FakePort("/dev/ttyUSB0", 0x1A86, 0x7523),
                                 FakePort("/dev/ttyACM0", 0x2E8A, 0x0005, "Board in FS mode")])
    assert [p["device"] for p in listed] == ["/dev/ttyACM0", "/dev/ttyUSB0", "/dev/ttyS0"]
    assert listed[0]["vid_pid"] == "2E8A:0005" and listed[2]["vid_pid"] is None
    text = ports.format_ports(listed, [])
    assert "yes" in text and "maybe" in text and "Board in FS mode" in text


def test_a_sim_is_found_only_where_its_tty_link_resolves(tmp_path):
    pty = tmp_path / "fake-pty"
    pty.write_text("")
    live = tmp_path / ".sim" / "demo"
    live.mkdir(parents=True)
    os.symlink(pty, live / "tty")
    dead = tmp_path / ".sim" / "old"
    dead.mkdir()
    os.symlink(tmp_path / "gone", dead / "tty")
    home = tmp_path / "default-home"
    home.mkdir()
    os.symlink(pty, home / "tty")
    found = ports.sim_boards([str(home), str(tmp_path / "missing")], cwd=str(tmp_path))
    assert [s["device"] for s in found] == [str(home / "tty"), str(live / "tty")]
    assert found[0]["target"] == str(pty)


def test_boards_lists_each_folder_with_a_board_json(tmp_path):
    (tmp_path / "pico").mkdir()
    (tmp_path / "pico" / "board.json").write_text(json.dumps(
        {"name": "pico", "description": "Pico", "port": "rp2", "drivers": {"motor": {"kind": "stepper"}}}))
    (tmp_path / "notes").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "board.json").write_text("{")
    listed = boards.list_boards(str(tmp_path))
    assert [b["name"] for b in listed] == ["broken", "pico"]
    assert "error" in listed[0]
    assert listed[1]["drivers"] == {"motor": "stepper"} and listed[1]["port"] == "rp2"


def pumpctl(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env.pop("PUMPCTL_PORT", None)
    return subprocess.run([sys.executable, "-m", "host_tools.cli"] + list(args), capture_output=True,
                          text=True, timeout=30, cwd=cwd, env=env)


def test_boards_json_is_one_document_naming_the_sim_board():
    result = pumpctl("boards", "--json")
    assert result.returncode == 0, result.stderr
    names = [b["name"] for b in json.loads(result.stdout)]
    assert "sim" in names


def test_ports_json_is_one_document_with_ports_and_sims_and_needs_no_port(tmp_path):
    result = pumpctl("ports", "--json", cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) == {"ports", "sims"}


def test_boards_show_how_micropython_goes_onto_each_real_board():
    result = pumpctl("boards", "--json")
    assert result.returncode == 0, result.stderr
    listed = {b["name"]: b for b in json.loads(result.stdout)}
    assert listed["rp2_pico"]["port"] == "rp2"
    assert listed["rp2_pico"]["flash"]["method"] == "uf2"
    assert listed["esp32_devkitc"]["flash"]["micropython_board"] == "ESP32_GENERIC"
    assert listed["sim"]["flash"] is None
    text = pumpctl("boards").stdout
    assert "flash: uf2, MicroPython RPI_PICO" in text
    assert "flash: dfu, MicroPython PYBV11" in text
