# Loads board.json and checks it against the board schema, reporting every problem at once.

import errno
import json
import os

from pump.errors import ConfigError
from pump.occlusion import DEFAULTS as _OCCLUSION
from pump.schema import validate
from pump.stall import DEFAULTS as _STALL

# board.json is read whole into RAM: refuse anything that could not be a sane board file
MAX_FILE_BYTES = 8192

# 8388 ms is the RP2040 watchdog maximum; other ports allow more, every board gets the strictest
WATCHDOG_MAX_MS = 8388
WATCHDOG_MIN_MS = 2000

_KIND = {"type": "str", "min_len": 1, "max_len": 32, "required": True}


def _role(required):
    # only "kind" is ours: a driver validates its own options (pins, addresses...) when built
    s = {"type": "obj", "fields": {"kind": _KIND}, "extra": "keep"}  # type: dict
    if required:
        s["required"] = True
    return s


# the encoder's stall check settings are the firmware's (pump/stall.py), so they are checked here;
# anything else in the role is the driver's
_ENCODER = {"type": "obj", "extra": "keep", "fields": {  # type: dict
    "kind": _KIND,
    "stall_steps": {"type": "int", "ge": 1, "le": 10000},
    "stall_fraction": {"type": "num", "ge": 0, "lt": 1},
    "check_steps": {"type": "int", "ge": 1, "le": 100000},
    "check_ms": {"type": "int", "ge": 100, "le": 600000},
}}
for _k in _STALL:
    _ENCODER["fields"][_k]["default"] = _STALL[_k]

_LIMIT = 100000  # upper bound of every rate, speed and volume field


def _occ(kind, **bounds):
    # every occlusion setting is optional: its default lives beside the detectors that use it
    bounds["type"] = kind
    return bounds


_OCC_FIELDS = {
    "threshold_kpa": _occ("num", gt=0, le=2000),
    "threshold_sample_ms": _occ("int", ge=100, le=60000),
    "line_tau_s": _occ("num", gt=0, le=600),
    "pulse_kpa_per_ul": _occ("num", gt=0, le=10000),
    "tolerate_r_factor": _occ("num", ge=1, le=10000),
    "alarm_after_ul": _occ("num", gt=0, le=1000),
    "drift_allowance_kpa_per_h": _occ("num", ge=0, le=1000),
    "noise_margin_kpa": _occ("num", ge=0, le=100),
    "sample_ms": _occ("int", ge=100, le=60000),
    "idle_sample_ms": _occ("int", ge=100, le=600000),
    "idle_hold_s": _occ("int", ge=0, le=604800),
}
for _k in _OCC_FIELDS:
    _OCC_FIELDS[_k]["default"] = _OCCLUSION[_k]

BOARD = {"type": "obj", "fields": {
    "name": {"type": "str", "min_len": 1, "max_len": 32, "required": True},
    "description": {"type": "str", "max_len": 200, "default": ""},
    "port": {"type": "str", "choices": ("unix", "rp2", "esp32", "stm32"), "required": True},
    "filesystem": {"type": "str", "choices": ("posix", "littlefs", "fat"), "required": True},
    "drivers": {"type": "obj", "required": True, "fields": {
        "motor": _role(True),
        "pressure": _role(False),
        "clock": _role(True),
        "link": _role(False),
        "supply": _role(False),     # supply or battery voltage monitor
        "annunciator": _role(False),  # alarm LED and buzzer
        "faults": _role(False),     # fault switches a rig can flip (the sim board's only)
        "encoder": _ENCODER,        # the motor shaft's position, for the stall check
        "storage": _role(False),    # files on flash; absent, vfs_storage (pump/wiring.py)
    }},
    # pin names are data (GP5, "X1", 23...): any int or short string, the drivers check them
    "pins": {"type": "map", "max_len": 64, "key_max_len": 32, "default": {},
             "values": {"type": "oneof", "options": (
                 {"type": "int"}, {"type": "str", "max_len": 32})}},
    "calibration": {"type": "obj", "required": True, "fields": {
        "ul_per_step": {"type": "num", "gt": 0, "le": 100, "required": True},
    }},
    "limits": {"type": "obj", "required": True, "fields": {
        "max_rate_ul_h": {"type": "num", "gt": 0, "le": _LIMIT, "required": True},
        # the most the pump may deliver in any hour; absent, the mechanical maximum rate
        "max_volume_per_h_ul": {"type": "num", "gt": 0, "le": _LIMIT},
        "max_steps_per_s": {"type": "num", "gt": 0, "le": _LIMIT, "default": 200},
        "reservoir_ul": {"type": "num", "gt": 0, "le": _LIMIT, "required": True},
        # at least twice the app loop's longest idle pass (1 s), so an idle pump is fed in time
        "watchdog_ms": {"type": "int", "ge": WATCHDOG_MIN_MS, "le": WATCHDOG_MAX_MS, "default": 5000},
    }},
    # the occlusion detectors' line model and alarm settings (pump/occlusion.py says how to
    # measure them); absent, the defaults, which fit the sim board's line
    "occlusion": {"type": "obj", "fields": _OCC_FIELDS, "default": dict(_OCCLUSION)},
    # the simulator owns the plant model and validates it itself
    "plant": {"type": "free"},
    # how the host flashes MicroPython onto this board (host_tools/flash.py checks it)
    "flash": {"type": "free"},
}}

PIN_SUFFIX = "_pin"   # a driver option naming a pin ends so: its value is a name from pins


def _pin_problems(cleaned):
    # Pins are named once in the pins table and referred to by name: a typo, or one pin wired to
    # two signals, is found here, with its path, before any driver touches the hardware.
    pins = cleaned.get("pins", {})
    problems = []
    users = {}  # type: dict
    drivers = cleaned.get("drivers", {})
    for role in sorted(drivers):
        spec = drivers[role]
        for key in sorted(spec):
            if not key.endswith(PIN_SUFFIX):
                continue
            name = spec[key]
            path = "drivers.%s.%s" % (role, key)
            if not isinstance(name, str) or name not in pins:
                problems.append((path, "names no pin in pins: %r (known: %s)"
                                 % (name, ", ".join(sorted(pins)) or "none")))
                continue
            pin = pins[name]
            if pin in users and users[pin][1] != name:
                problems.append((path, "pin %r (%s) is already %s" % (pin, name, users[pin][0])))
            else:
                users[pin] = (path, name)
    return problems


def parse_board(obj):
    """Return the cleaned board dict (defaults filled) or raise ConfigError listing every problem."""
    cleaned, problems = validate(BOARD, obj, "")
    if not problems:
        problems = _pin_problems(cleaned)
    if problems:
        # a problem with the whole document has the empty path: name the document instead
        raise ConfigError([(p or "board.json", m) for p, m in problems])
    return cleaned


def read_json_file(path, max_bytes):
    """Read and decode a small JSON config file; every failure is a ConfigError naming the file."""
    try:
        # the size first: a buffer of max_bytes for a small file is an allocation a fragmented
        # heap may not have, and a too-large file is refused without reading it
        if os.stat(path)[6] > max_bytes:
            raise ConfigError([(path, "file is larger than %d bytes" % max_bytes)])
        with open(path) as f:
            text = f.read()
    except OSError as e:
        if e.args and e.args[0] == errno.ENOENT:
            raise ConfigError([(path, "file not found")])
        raise ConfigError([(path, "cannot read file: %s" % e)])
    except ValueError as e:  # text that is not UTF-8
        raise ConfigError([(path, "cannot read file: %s" % e)])
    if len(text) > max_bytes:
        raise ConfigError([(path, "file is larger than %d bytes" % max_bytes)])
    try:
        return json.loads(text)
    except ValueError as e:
        raise ConfigError([(path, "not valid JSON: %s" % e)])


def load_board(path="board.json"):
    """Read, decode and check a board file; every failure is a ConfigError naming the file."""
    return parse_board(read_json_file(path, MAX_FILE_BYTES))
