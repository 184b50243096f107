"""Reads therapy program files (TOML) into the JSON document the firmware's validator checks."""
import datetime
import json
import os

import tomllib

from host_tools import paths

MAX_FILE_BYTES = 65536  # far above any valid program: refuse before parsing anything huge


class ProgramFileError(Exception):
    """The file cannot be read as a program document (missing, not UTF-8, not TOML or JSON)."""


def _jsonable(v):
    # TOML has date and time types that JSON lacks: "start = 07:30:00" becomes "07:30" so the
    # firmware's validator (which only sees JSON) judges it like the quoted form
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, datetime.time):
        return v.strftime("%H:%M") if not (v.second or v.microsecond) else v.isoformat()
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    return v


def read_program(path):
    """The program document from a .toml (or .json) file; ProgramFileError says what is wrong."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ProgramFileError("%s: file not found" % path)
    except IsADirectoryError:
        raise ProgramFileError("%s: is a folder, not a program file" % path)
    except OSError as e:
        raise ProgramFileError("%s: cannot read: %s" % (path, e.strerror or e))
    if len(data) > MAX_FILE_BYTES:
        raise ProgramFileError("%s: larger than %d bytes: not a program file" % (path, MAX_FILE_BYTES))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProgramFileError("%s: not UTF-8 text (byte %d)" % (path, e.start))
    if path.endswith(".json"):
        try:
            return json.loads(text)
        except ValueError as e:
            raise ProgramFileError("%s: not valid JSON: %s" % (path, e))
    try:
        return _jsonable(tomllib.loads(text))
    except tomllib.TOMLDecodeError as e:
        raise ProgramFileError("%s: not valid TOML: %s" % (path, e))


def board_config(board_name):
    """The cleaned board.json of boards/<name>, checked by the firmware's own validator."""
    paths.use_firmware_modules()
    from pump.board_config import load_board
    from pump.errors import ConfigError
    path = os.path.join(paths.BOARDS_DIR, board_name, "board.json")
    if not os.path.isfile(path):
        known = sorted(d for d in os.listdir(paths.BOARDS_DIR)
                       if os.path.isfile(os.path.join(paths.BOARDS_DIR, d, "board.json")))
        raise ProgramFileError("unknown board %r; known boards: %s" % (board_name, ", ".join(known)))
    try:
        return load_board(path)
    except ConfigError as e:
        raise ProgramFileError("board file %s is invalid: %s" % (path, e.message))


def drug_library():
    """firmware/drugs.json: the same library the pump loads."""
    paths.use_firmware_modules()
    from pump.errors import PumpError
    from pump.program import load_library
    path = os.path.join(paths.FIRMWARE_DIR, "drugs.json")
    try:
        return load_library(path)
    except PumpError as e:
        raise ProgramFileError("drug library %s is invalid: %s" % (path, e.message))
