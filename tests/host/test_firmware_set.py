"""Which firmware files a board runs: the set its type check covers and its frozen build holds."""
import json

import pytest

from host_tools.firmware_set import FirmwareSetError, board_modules, frozen_modules, port_modules


def _layout(tmp_path, drivers):
    fw = tmp_path / "firmware"
    (fw / "pump").mkdir(parents=True)
    (fw / "drivers").mkdir()
    (fw / "main.py").write_text("from pump.wiring import build_board\n")
    for name in ("__init__", "app", "wiring", "errors"):
        (fw / "pump" / (name + ".py")).write_text("# pump\n")
    for name, text in drivers.items():
        (fw / "drivers" / (name + ".py")).write_text(text)
    return fw


BASE = {"__init__": "", "machine_system": "import machine\n", "stdio": "import sys\n",
        "vfs_storage": "from pump.errors import ConfigError\n", "ticks_clock": "import time\n",
        "pins": "from pump.errors import ConfigError\n", "sim_stepper": "import simhw\n",
        "tmc2209": "# helper\n", "step_timing": "from drivers import pins\n",
        "unused_helper": "# nobody imports me\n",
        "fancy_stepper": ("from drivers.step_timing import chip_timing\n\n\n"
                          "def DRIVER(spec, cfg):\n    from drivers.tmc2209 import TMC2209\n")}


def _board(**drivers):
    d = {"motor": {"kind": "fancy_stepper"}, "clock": {"kind": "ticks_clock"}}
    d.update(drivers)
    return {"name": "b", "port": "rp2", "drivers": d}


def test_a_board_runs_main_all_of_pump_its_named_drivers_the_defaults_and_their_helpers(tmp_path):
    fw = _layout(tmp_path, BASE)
    mods = board_modules(_board(), str(fw))
    assert mods == sorted([
        "main.py", "pump/__init__.py", "pump/app.py", "pump/errors.py", "pump/wiring.py",
        "drivers/__init__.py", "drivers/machine_system.py", "drivers/ticks_clock.py",
        "drivers/stdio.py", "drivers/vfs_storage.py",           # link and storage left out: defaults
        "drivers/fancy_stepper.py", "drivers/step_timing.py",   # named, and what it imports
        "drivers/tmc2209.py",                                   # imported inside a function
        "drivers/pins.py",                                      # a helper's helper
    ])


def test_no_simulated_driver_or_unused_helper_is_part_of_a_real_board(tmp_path):
    fw = _layout(tmp_path, BASE)
    mods = board_modules(_board(), str(fw))
    assert "drivers/sim_stepper.py" not in mods and "drivers/unused_helper.py" not in mods


def test_a_board_naming_a_driver_with_no_module_is_an_error_naming_it(tmp_path):
    fw = _layout(tmp_path, BASE)
    with pytest.raises(FirmwareSetError, match="firmware/drivers/hx711_force.py"):
        board_modules(_board(pressure={"kind": "hx711_force"}), str(fw))


def test_a_frozen_build_holds_everything_but_main_py(tmp_path):
    fw = _layout(tmp_path, BASE)
    assert frozen_modules(_board(), str(fw)) == [m for m in board_modules(_board(), str(fw))
                                                  if m != "main.py"]


def test_a_port_covers_the_union_of_its_boards_and_never_the_sim(tmp_path):
    fw = _layout(tmp_path, dict(BASE, plain_stepper="from drivers import pins\n"))
    boards = tmp_path / "boards"
    for name, doc in (("a", _board()), ("b", _board(motor={"kind": "plain_stepper"})),
                      ("c", dict(_board(), port="esp32", drivers={"motor": {"kind": "sim_stepper"}})),
                      ("sim", {"name": "sim", "port": "unix", "drivers": {"motor": {"kind": "nope"}}})):
        (boards / name).mkdir(parents=True)
        (boards / name / "board.json").write_text(json.dumps(doc))
    rp2 = port_modules("rp2", str(boards), str(fw))
    assert "drivers/fancy_stepper.py" in rp2 and "drivers/plain_stepper.py" in rp2
    assert "drivers/sim_stepper.py" not in rp2
    assert port_modules("unix", str(boards), str(fw)) == []   # the sim board is never a real one
