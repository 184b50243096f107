"""A board file that differs from another in a few settings: the sim board with a changed plant or sampling, a flash's board.json with one detector."""
import json
import os

from host_tools import paths

SIM_BOARD = os.path.join(paths.BOARDS_DIR, "sim", "board.json")


def board_variant(changes, source=SIM_BOARD):
    """The board.json at source with changes ({section: {key: value}}) merged into its sections."""
    with open(source) as f:
        cfg = json.load(f)
    for section, values in changes.items():
        cfg.setdefault(section, {}).update(values)
    return cfg


def write_board_variant(dest, changes, source=SIM_BOARD):
    """board_variant(changes, source) written to dest (which may be source itself); returns dest."""
    cfg = board_variant(changes, source)
    with open(dest, "w") as f:
        json.dump(cfg, f, indent=2)
    return dest
