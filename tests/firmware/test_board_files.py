# The board files under boards/ load on the firmware, name drivers it has, and wire every pin they declare.

import os

from pump.board_config import PIN_SUFFIX, load_board


def _dirname(p):
    i = p.rfind("/")
    return p[:i] if i > 0 else ("/" if i == 0 else ".")


# this file is <root>/tests/firmware/test_board_files.py on both runtimes (no os.path on MicroPython)
ROOT = _dirname(_dirname(_dirname(__file__)))
BOARDS = ROOT + "/boards"
DRIVERS = ROOT + "/firmware/drivers"

# the filesystem each port formats its flash with (vfs_storage trusts board.json for it)
PORT_FILESYSTEM = {"unix": "posix", "rp2": "littlefs", "esp32": "littlefs", "stm32": "fat"}
PORT_FLASH_METHOD = {"rp2": "uf2", "esp32": "esptool", "stm32": "dfu"}
FLASH_KEYS = ("method", "micropython_board", "download", "min_version", "tested_version",
              "file_suffix")


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def board_names():
    return sorted(n for n in os.listdir(BOARDS) if _exists(BOARDS + "/" + n + "/board.json"))


def boards():
    """[(folder name, cleaned board.json)]: load_board raises on the first bad file."""
    return [(n, load_board(BOARDS + "/" + n + "/board.json")) for n in board_names()]


def test_there_is_a_board_file_for_the_sim_and_each_real_port():
    ports = sorted(set(cfg["port"] for _, cfg in boards()))
    assert ports == ["esp32", "rp2", "stm32", "unix"], ports


def test_every_board_file_passes_the_firmware_board_check_and_is_named_after_its_folder():
    for name, cfg in boards():
        assert cfg["name"] == name, (name, cfg["name"])


def test_every_board_names_only_driver_kinds_the_firmware_has():
    have = set(n[:-3] for n in os.listdir(DRIVERS) if n.endswith(".py"))
    missing = []
    for name, cfg in boards():
        for role in sorted(cfg["drivers"]):
            kind = cfg["drivers"][role]["kind"]
            if kind not in have:
                missing.append("%s: drivers.%s.kind %s" % (name, role, kind))
    assert not missing, "no firmware/drivers/<kind>.py for " + "; ".join(missing)


def test_every_declared_pin_is_wired_to_some_driver_option():
    orphans = []
    for name, cfg in boards():
        used = set()
        for spec in cfg["drivers"].values():
            for key in spec:
                if key.endswith(PIN_SUFFIX):
                    used.add(spec[key])
        for pin in sorted(cfg["pins"]):
            if pin not in used:
                orphans.append("%s: pins.%s" % (name, pin))
    assert not orphans, "pins no driver uses: " + "; ".join(orphans)


def test_a_board_declares_the_filesystem_its_port_formats():
    # a FAT board declared littlefs would trust a rename that is not atomic on it
    for name, cfg in boards():
        assert cfg["filesystem"] == PORT_FILESYSTEM[cfg["port"]], (name, cfg["filesystem"])


def test_a_real_board_says_how_the_host_flashes_micropython_onto_it():
    for name, cfg in boards():
        if cfg["port"] == "unix":
            continue
        flash = cfg.get("flash")
        assert isinstance(flash, dict), name
        for key in FLASH_KEYS:
            assert isinstance(flash.get(key), str) and flash[key], (name, key)
        assert flash["method"] == PORT_FLASH_METHOD[cfg["port"]], (name, flash["method"])
        assert flash["download"].endswith("/" + flash["micropython_board"] + "/"), (name, flash["download"])
        if flash["method"] == "esptool":
            assert flash.get("chip") and flash.get("address", "").startswith("0x"), name


def test_a_real_board_uses_the_board_clock_and_link_not_the_simulated_ones():
    for name, cfg in boards():
        if cfg["port"] == "unix":
            continue
        for role in sorted(cfg["drivers"]):
            kind = cfg["drivers"][role]["kind"]
            assert not kind.startswith("sim_"), (name, role, kind)
        assert cfg["drivers"]["clock"]["kind"] == "ticks_clock", name
        assert cfg["drivers"].get("link", {"kind": "stdio"})["kind"] == "stdio", name
