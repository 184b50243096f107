"""The firmware compiles with mpy-cross to .mpy files the MicroPython runtime actually loads."""
import os
import shutil
import subprocess

from host_tools import paths
from host_tools.deploy import compile_firmware, build_manifest


def test_every_firmware_module_compiles_to_portable_mpy_version_6():
    files = compile_firmware()
    modules = [p for p in files if p.endswith(".mpy")]
    sources = [p for _, p in _walk_sources()]
    assert len(modules) == len(sources) - 1  # all but main.py, which a board runs as source
    for path in modules:
        header = files[path][:4]
        assert header[0:1] == b"M", path
        # Version 6 (MicroPython 1.23+); no native architecture, so one build serves every port.
        assert header[1] == 6 and header[2] >> 2 == 0, (path, header)


def _walk_sources():
    for root, _, names in os.walk(paths.FIRMWARE_DIR):
        for name in names:
            if name.endswith(".py"):
                yield root, os.path.join(root, name)


def test_compiled_modules_run_on_the_micropython_unix_port(tmp_path):
    files = compile_firmware()
    for rel, data in files.items():
        if rel.startswith("pump/"):
            target = tmp_path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    script = ("from pump.rate import StepAccumulator\n"
              "a = StepAccumulator(100000)\n"
              "a.restart(0, 100000)\n"
              "print(a.due(3600000))\n")
    result = subprocess.run([paths.micropython(), "-c", script], cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1000"
    assert not list(tmp_path.glob("pump/*.py")), "the run must have used the .mpy files"


def test_the_manifest_carries_the_board_file_and_a_build_id_that_follows_the_content():
    files, build = build_manifest("sim")
    assert "board.json" in files and "main.py" in files and "build.json" in files
    assert build in files["build.json"].decode()
    again, build_again = build_manifest("sim")
    assert build_again == build


def test_an_invalid_board_file_is_refused_before_any_board_is_touched(tmp_path, monkeypatch):
    boards = tmp_path / "boards"
    shutil.copytree(paths.BOARDS_DIR, boards)
    broken = boards / "broken"
    broken.mkdir()
    (broken / "board.json").write_text('{"name": "broken", "port": "unix", "surprise": 1}')
    monkeypatch.setattr(paths, "BOARDS_DIR", str(boards))
    from host_tools.deploy import DeployError, load_board_file
    try:
        load_board_file("broken")
    except DeployError as e:
        assert "surprise" in str(e) and "filesystem" in str(e)
    else:
        raise AssertionError("an invalid board file was accepted")


def test_a_board_is_sent_only_the_modules_it_runs():
    pico, _ = build_manifest("rp2_pico")
    sim, _ = build_manifest("sim")
    assert "drivers/rp2_pio_stepper.mpy" in pico and "drivers/step_timing.mpy" in pico
    assert not [p for p in pico if p.startswith("drivers/sim_")], sorted(pico)
    assert "drivers/esp32_rmt_stepper.mpy" not in pico
    assert "drivers/sim_stepper.mpy" in sim and "drivers/rp2_pio_stepper.mpy" not in sim
    assert "pump/app.mpy" in pico and "pump/app.mpy" in sim


def test_the_rig_boards_firmware_compiles_with_mpy_cross(tmp_path):
    rig = os.path.join(paths.REPO_DIR, "boards", "rig_pico")
    names = sorted(n for n in os.listdir(rig) if n.endswith(".py"))
    assert "main.py" in names and "rig_firmware.py" in names
    for name in names:
        result = subprocess.run([paths.mpy_cross(), "-o", str(tmp_path / (name + ".mpy")),
                                 os.path.join(rig, name)], capture_output=True, text=True)
        assert result.returncode == 0, (name, result.stderr)
