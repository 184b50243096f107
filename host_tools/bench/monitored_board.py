"""The sim board with its line pressure read once a second: what the speed and loop benches run.

boards/sim/board.json reads the pressure every 4 s while steps are watched. The issue's speed
target is for 1 Hz monitoring, so the benches use the same board with every occlusion sampling
period at 1 s (both detectors read together, so the sensor is read each second while the pump
delivers; with the motor stopped nothing asks for a reading, as on the board).
"""
import os

from host_tools.sim.board_variant import board_variant, write_board_variant

SAMPLE_MS = 1000
SAMPLING = ("sample_ms", "idle_sample_ms", "threshold_sample_ms")


_CHANGES = {"occlusion": {key: SAMPLE_MS for key in SAMPLING}}


def monitored_config():
    return board_variant(_CHANGES)


def write_board_file(path):
    """The monitored board.json at path; returns path."""
    return write_board_variant(path, _CHANGES)


def install(flash_dir):
    """Put the monitored board.json on a deployed sim's flash (a reset then boots with it)."""
    write_board_file(os.path.join(flash_dir, "board.json"))
