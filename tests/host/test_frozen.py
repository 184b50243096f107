"""Frozen builds: each real board's manifest.py freezes exactly what the board runs, at opt=3."""
import json
import os

import pytest

from host_tools import frozen, paths
from host_tools.deploy import build_manifest
from host_tools.firmware_set import frozen_modules, read_board, real_boards


def test_every_real_board_has_a_manifest_that_freezes_exactly_what_it_runs_at_opt_3():
    boards = sorted(real_boards())
    assert boards == ["esp32_devkitc", "pyboard_v11", "rp2_pico", "rp2_pico_tmc2209"], boards
    for name in boards:
        assert frozen.check_manifest(name) == [], name


def test_a_manifest_freezes_neither_main_py_nor_a_simulated_driver_and_builds_on_the_port():
    for name in sorted(real_boards()):
        rec = frozen.read_manifest(name)
        assert rec.includes[0] == "$(PORT_DIR)/boards/manifest.py", name
        assert "main.py" not in rec.files, name
        assert not [f for f in rec.files if f.startswith("drivers/sim_")], name
        assert {opt for opt in rec.files.values()} == {3}, name
        assert "pump/app.py" in rec.files and "drivers/machine_system.py" in rec.files, name


def _layout(tmp_path, monkeypatch):
    """A checkout with one board whose drivers all exist, for the manifest checker's own tests."""
    fw, boards = tmp_path / "firmware", tmp_path / "boards"
    (fw / "pump").mkdir(parents=True)
    (fw / "drivers").mkdir()
    (fw / "main.py").write_text("# main\n")
    for rel in ("pump/__init__.py", "pump/app.py", "drivers/__init__.py", "drivers/machine_system.py",
                "drivers/stdio.py", "drivers/vfs_storage.py", "drivers/ticks_clock.py",
                "drivers/sim_stepper.py"):
        (fw / rel).write_text("# x\n")
    (fw / "drivers" / "pins.py").write_text("# helper\n")
    (fw / "drivers" / "a_stepper.py").write_text("from drivers.pins import output_pin\n")
    (boards / "pico").mkdir(parents=True)
    (boards / "pico" / "board.json").write_text(json.dumps({
        "name": "pico", "port": "rp2", "drivers": {"motor": {"kind": "a_stepper"}, "clock": {"kind": "ticks_clock"}},
        "flash": {"method": "uf2", "micropython_board": "RPI_PICO", "file_suffix": ".uf2"}}))
    monkeypatch.setattr(paths, "FIRMWARE_DIR", str(fw))
    monkeypatch.setattr(paths, "BOARDS_DIR", str(boards))
    return fw, boards


def test_a_written_manifest_passes_and_a_missing_module_or_a_lower_opt_is_reported(tmp_path, monkeypatch):
    fw, boards = _layout(tmp_path, monkeypatch)
    path = frozen.write_manifest("pico")
    assert frozen.check_manifest("pico") == []
    assert set(frozen.read_manifest("pico").files) == set(frozen_modules(read_board("pico")))
    text = open(path).read()
    with open(path, "w") as f:
        f.write(text.replace('    "pins.py",\n', "").replace("opt=3", "opt=2", 1))
    problems = frozen.check_manifest("pico")
    assert any("misses" in p and "drivers/pins.py" in p for p in problems), problems
    assert any("opt=3" in p and "pump/app.py" in p for p in problems), problems


def test_a_manifest_that_freezes_what_the_board_does_not_run_is_reported(tmp_path, monkeypatch):
    fw, boards = _layout(tmp_path, monkeypatch)
    path = frozen.write_manifest("pico")
    with open(path, "a") as f:
        f.write('module("drivers/sim_stepper.py", base_path="../../firmware", opt=3)\n')
    problems = frozen.check_manifest("pico")
    assert any("does not run" in p and "drivers/sim_stepper.py" in p for p in problems), problems


def test_the_port_build_runs_mpy_cross_then_the_port_with_the_board_manifest(tmp_path, monkeypatch):
    fw, boards = _layout(tmp_path, monkeypatch)
    frozen.write_manifest("pico")
    mp = tmp_path / "micropython"
    (mp / "ports" / "rp2").mkdir(parents=True)
    commands, image = frozen.build_commands("pico", str(mp))
    assert commands[0] == ["make", "-C", str(mp / "mpy-cross")]
    assert commands[-1] == ["make", "-C", str(mp / "ports" / "rp2"), "BOARD=RPI_PICO",
                            "FROZEN_MANIFEST=" + str(boards / "pico" / "manifest.py")]
    assert image == str(mp / "ports" / "rp2" / "build-RPI_PICO" / "firmware.uf2")
    with pytest.raises(frozen.FrozenError, match="not a MicroPython checkout"):
        frozen.build_commands("pico", str(tmp_path / "nowhere"))


def test_a_stale_manifest_is_refused_before_any_build_runs(tmp_path, monkeypatch):
    fw, boards = _layout(tmp_path, monkeypatch)
    frozen.write_manifest("pico")
    (fw / "drivers" / "a_stepper.py").write_text("from drivers.pins import output_pin\nimport drivers.extra\n")
    (fw / "drivers" / "extra.py").write_text("# new helper\n")
    ran = []
    monkeypatch.setattr(frozen.subprocess, "run", lambda *a, **k: ran.append(a))
    with pytest.raises(frozen.FrozenError, match="drivers/extra.py"):
        frozen.build("pico", str(tmp_path))
    assert ran == []


def test_a_frozen_deploy_carries_main_py_and_the_data_files_only():
    files, build = build_manifest("rp2_pico", frozen=True)
    assert sorted(files) == ["board.json", "build.json", "drugs.json", "main.py"]
    with open(os.path.join(paths.FIRMWARE_DIR, "main.py"), "rb") as f:
        assert files["main.py"] == f.read()
    info = json.loads(files["build.json"])
    assert info["frozen"] is True and info["board"] == "rp2_pico" and info["build"] == build
