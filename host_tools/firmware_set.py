"""Which firmware files a board runs: one answer for its type check, its frozen manifest and its deploy.

A board runs main.py, the whole pump package, and the drivers its board.json names (plus the
defaults pump/wiring.py falls back to, and every firmware module those import). The simulated
drivers (sim_*) are never part of a real board: they need the simulator's simhw, unix only.
"""
import ast
import json
import os

from host_tools import paths

# what pump/wiring.py loads when board.json leaves a role out (and MachineSystem, always)
DEFAULT_DRIVERS = {"link": "stdio", "storage": "vfs_storage"}
ALWAYS = ("drivers/machine_system.py",)
# MicroPython runs main.py only from the filesystem, so a frozen build leaves it there
SOURCE_ONLY = ("main.py",)
# folders of firmware packages: a module there is "pump.x" or "drivers.x"
PACKAGES = ("pump", "drivers")


class FirmwareSetError(Exception):
    """A board names a driver the firmware does not have, or a board file cannot be read."""


def read_board(board_name, boards_dir=None):
    path = os.path.join(boards_dir or paths.BOARDS_DIR, board_name, "board.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise FirmwareSetError("cannot read %s: %s" % (path, e))


def real_boards(boards_dir=None):
    """{board name: its board.json} of every board that runs on a microcontroller (not the unix port)."""
    boards_dir = boards_dir or paths.BOARDS_DIR
    out = {}
    for name in sorted(os.listdir(boards_dir)):
        if os.path.isfile(os.path.join(boards_dir, name, "board.json")):
            doc = read_board(name, boards_dir)
            if doc.get("port") != "unix":
                out[name] = doc
    return out


def driver_kinds(doc):
    """The driver modules (kinds) a board loads at start, sorted."""
    drivers = doc.get("drivers") or {}
    kinds = {spec.get("kind") for spec in drivers.values() if isinstance(spec, dict)}
    for role, kind in DEFAULT_DRIVERS.items():
        if role not in drivers:
            kinds.add(kind)
    kinds.discard(None)
    return sorted(kinds)


def _imports(path):
    """Firmware modules (relative paths) that the file at path imports, at any depth of code."""
    with open(path, "rb") as f:
        tree = ast.parse(f.read(), path)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            # `from drivers import pins` imports the module drivers/pins.py
            names.extend(node.module + "." + a.name for a in node.names)
    out = []
    for name in names:
        parts = name.split(".")
        if parts[0] not in PACKAGES:
            continue
        out.append(parts[0] + "/__init__.py")
        if len(parts) > 1:
            out.append("/".join(parts[:2]) + ".py")
    return out


def board_modules(doc, firmware_dir=None):
    """Sorted firmware-relative paths ("main.py", "pump/app.py", "drivers/pins.py"...) a board
    runs; FirmwareSetError if it names a driver kind with no firmware/drivers/<kind>.py."""
    firmware_dir = firmware_dir or paths.FIRMWARE_DIR
    want = set(SOURCE_ONLY) | set(ALWAYS) | {"pump/__init__.py", "drivers/__init__.py"}
    for name in os.listdir(os.path.join(firmware_dir, "pump")):
        if name.endswith(".py"):
            want.add("pump/" + name)
    missing = []
    for kind in driver_kinds(doc):
        rel = "drivers/%s.py" % kind
        if os.path.isfile(os.path.join(firmware_dir, rel)):
            want.add(rel)
        else:
            missing.append(rel)
    if missing:
        raise FirmwareSetError("board %s names driver kinds with no module: %s"
                               % (doc.get("name"), ", ".join("firmware/" + m for m in missing)))
    # close over imports: a driver's helpers (pins, step_timing, tmc2209...) come with it
    todo = sorted(want)
    while todo:
        rel = todo.pop()
        for dep in _imports(os.path.join(firmware_dir, rel)):
            if dep not in want and os.path.isfile(os.path.join(firmware_dir, dep)):
                want.add(dep)
                todo.append(dep)
    return sorted(want)


def frozen_modules(doc, firmware_dir=None):
    """What a frozen build of the board holds: every module it runs but main.py."""
    return [m for m in board_modules(doc, firmware_dir) if m not in SOURCE_ONLY]


def port_modules(port, boards_dir=None, firmware_dir=None):
    """Every firmware file some board of this port runs (the port's type check covers them all)."""
    out = set()
    for doc in real_boards(boards_dir).values():
        if doc.get("port") == port:
            out.update(board_modules(doc, firmware_dir))
    return sorted(out)


def real_ports(boards_dir=None):
    return sorted({doc.get("port") for doc in real_boards(boards_dir).values()})
