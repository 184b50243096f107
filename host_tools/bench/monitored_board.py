"""The sim board with its line pressure read once a second: what the speed and loop benches run.

boards/sim/board.json reads the pressure every 4 s while steps are watched. The issue's speed
target is for 1 Hz monitoring, so the benches use the same board with every occlusion sampling
period at 1 s (both detectors read together, so the sensor is read each second while the pump
delivers; with the motor stopped nothing asks for a reading, as on the board).
"""
import json
import os

from host_tools import paths

SAMPLE_MS = 1000
SAMPLING = ("sample_ms", "idle_sample_ms", "threshold_sample_ms")


def monitored_config():
    with open(os.path.join(paths.BOARDS_DIR, "sim", "board.json")) as f:
        cfg = json.load(f)
    for key in SAMPLING:
        cfg.setdefault("occlusion", {})[key] = SAMPLE_MS
    return cfg


def write_board_file(path):
    """The monitored board.json at path; returns path."""
    with open(path, "w") as f:
        json.dump(monitored_config(), f, indent=2)
    return path


def install(flash_dir):
    """Put the monitored board.json on a deployed sim's flash (a reset then boots with it)."""
    write_board_file(os.path.join(flash_dir, "board.json"))
