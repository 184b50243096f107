"""pumpctl flash: put MicroPython itself on a board from a file the user downloaded (UF2, esptool or DFU).

It never downloads anything: the board file's host-owned `flash` section says where the file comes
from and which MicroPython versions the firmware is known to run on. The file is checked (format,
target chip, version) before anything touches the board, because a half-flashed board is worse
than an unflashed one.
"""
import glob
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import time
import zlib

from host_tools import exits, paths

# esptool is not in requirements.lock: 5.6.0 ships only as an sdist and pulls in cryptography, cffi,
# PyYAML and websockets (compiled wheels, ~70 MB), which only ESP32 users need.
ESPTOOL_PIN = "esptool==5.6.0"

METHODS = {"uf2": ".uf2", "esptool": ".bin", "dfu": ".dfu"}
_KEYS = {"method", "micropython_board", "download", "min_version", "tested_version", "file_suffix",
         "chip", "address"}
_ESPTOOL_ONLY = ("chip", "address")
# esptool's image chip ids (the extended header's bytes 12-13), by esptool's --chip name
ESP_CHIPS = {"esp32": 0, "esp32s2": 2, "esp32c3": 5, "esp32s3": 9, "esp32c2": 12, "esp32c6": 13,
             "esp32h2": 16, "esp32p4": 18, "esp32c61": 20, "esp32c5": 23}
_ESP_CHIP_NAMES = {v: "ESP32" + (("-" + k[5:].upper()) if k != "esp32" else "") for k, v in ESP_CHIPS.items()}

UF2_MAGIC0, UF2_MAGIC1, UF2_MAGIC_END = 0x0A324655, 0x9E5D5157, 0x0AB16F30
UF2_NOT_MAIN_FLASH, UF2_FAMILY_PRESENT = 0x00000001, 0x00002000
UF2_FAMILIES = {0xE48BFF56: "RP2040", 0xE48BFF57: "RP2XXX absolute", 0xE48BFF58: "RP2XXX data",
                0xE48BFF59: "RP2350 (Arm, secure)", 0xE48BFF5A: "RP2350 (RISC-V)",
                0xE48BFF5B: "RP2350 (Arm, non-secure)", 0x68ED2B88: "SAMD21", 0x55114460: "SAMD51",
                0xADA52840: "nRF52840", 0xBFDD4EEE: "ESP32-S2", 0xC47E5767: "ESP32-S3",
                0x57755A57: "STM32F4"}
# The families a chip's boot ROM flashes, and the Board-ID its BOOTSEL drive shows. Blocks of other
# families may share the file (a "universal" UF2, the RP2350's erratum block): the ROM skips them.
UF2_TARGETS = {
    "RP2040": {"families": {0xE48BFF56}, "board_ids": ("RPI-RP2", "RP2040")},
    "RP2350": {"families": {0xE48BFF59, 0xE48BFF5A, 0xE48BFF5B}, "board_ids": ("RP2350",)},
}

# Where desktops mount USB drives; --drive overrides.
DRIVE_GLOBS = ["/media/{user}/*", "/run/media/{user}/*", "/media/*", "/mnt/*", "/Volumes/*"]
DRIVE_WAIT_S = 10.0       # for the BOOTSEL drive to appear after --reset, and to vanish after the copy
_CHUNK = 64 * 1024

BOOTSEL_HINT = "hold BOOTSEL while plugging the Pico in; it appears as a drive named RPI-RP2"
DFU_MODE_HINT = ("put the pyboard in DFU mode: connect its BOOT0 (DFU) pin to 3V3, press RST, then run "
                 "this again")


class FlashError(Exception):
    """Flashing stopped before or while touching the board; one line of what and what to do."""

    def __init__(self, what, hint=None, code=exits.ERROR):
        super().__init__(what)
        self.what, self.hint, self.code = what, hint, code


# ---- the board file's flash section ------------------------------------------------------------
def parse_version(text):
    """"1.23" or "1.23.1" -> (1, 23, 0) / (1, 23, 1); None if it is not one."""
    m = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d+))?", str(text))
    return None if m is None else (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def check_flash_section(flash, where):
    """The problems of a board.json flash section, each "where.flash.key: message"."""
    if not isinstance(flash, dict):
        return ["%s: flash: must be an object" % where]
    problems = []

    def bad(key, message):
        problems.append("%s: flash.%s: %s" % (where, key, message))

    for key in sorted(set(flash) - _KEYS):
        bad(key, "unknown key (known: %s)" % ", ".join(sorted(_KEYS)))
    missing = [k for k in sorted(_KEYS - set(_ESPTOOL_ONLY)) if not isinstance(flash.get(k), str) or not flash[k]]
    for key in missing:
        bad(key, "missing: a string is needed")
    if missing:
        return problems
    method, board = flash["method"], flash["micropython_board"]
    if method not in METHODS:
        bad("method", "must be one of %s, got %r" % (", ".join(METHODS), method))
        return problems
    if not re.fullmatch(r"[A-Z0-9_]+", board):
        bad("micropython_board", "must be MicroPython's board id (like RPI_PICO), got %r" % board)
    url = flash["download"]
    if not url.startswith("https://"):
        bad("download", "must be an https:// address, got %r" % url)
    elif url.startswith("https://micropython.org/download/") and url != "https://micropython.org/download/%s/" % board:
        bad("download", "must be https://micropython.org/download/%s/ for micropython_board %s" % (board, board))
    low, tested = parse_version(flash["min_version"]), parse_version(flash["tested_version"])
    if low is None:
        bad("min_version", "must be a version like 1.23, got %r" % flash["min_version"])
    if tested is None:
        bad("tested_version", "must be a version like 1.29, got %r" % flash["tested_version"])
    if low and tested and low > tested:
        bad("tested_version", "is older than min_version")
    if flash["file_suffix"] != METHODS[method]:
        bad("file_suffix", "must be %r for method %s" % (METHODS[method], method))
    if method == "esptool":
        if flash.get("chip") not in ESP_CHIPS:
            bad("chip", "must be one of %s (esptool's --chip)" % ", ".join(ESP_CHIPS))
        address = flash.get("address")
        if not (isinstance(address, str) and re.fullmatch(r"0x[0-9a-fA-F]+", address)):
            bad("address", "must be a hex address like 0x1000 (where the file goes in flash)")
    else:
        for key in _ESPTOOL_ONLY:
            if key in flash:
                bad(key, "only for method esptool")
    return problems


def uf2_target(flash):
    """The chip a uf2 board's files are for; MicroPython names RP2350 boards PICO2 or RP2350."""
    board = flash["micropython_board"]
    return "RP2350" if ("PICO2" in board or "RP2350" in board) else "RP2040"


def load_board(name, boards_dir=None):
    """(board.json path, its checked flash section). The simulated board needs no flashing."""
    boards_dir = boards_dir or paths.BOARDS_DIR
    path = os.path.join(boards_dir, name, "board.json")
    where = os.path.relpath(path)
    where = path if where.startswith("..") else where
    if not os.path.isfile(path):
        known = sorted(d for d in os.listdir(boards_dir) if os.path.isfile(os.path.join(boards_dir, d, "board.json"))) \
            if os.path.isdir(boards_dir) else []
        raise FlashError("no board %r (known boards: %s)" % (name, ", ".join(known) or "none"),
                         "pumpctl boards lists them")
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise FlashError("cannot read %s: %s" % (where, e), "fix the file")
    if not isinstance(doc, dict):
        raise FlashError("%s: must be a JSON object" % where, "fix the file")
    if "flash" not in doc:
        if doc.get("port") == "unix":
            raise FlashError("board %s is the simulated board: it runs on the MicroPython unix port on "
                             "this computer and needs no flashing" % name,
                             "start it with pumpctl sim, then pumpctl deploy --board %s" % name, exits.USAGE)
        raise FlashError("%s has no flash section, so pumpctl cannot tell how to flash it" % where,
                         "add one (see docs/drivers.md, flashing MicroPython)")
    problems = check_flash_section(doc["flash"], where)
    if problems:
        raise FlashError("; ".join(problems), "fix the board file")
    return path, doc["flash"]


def where_to_get(flash):
    return "MicroPython %s to %s for %s (a %s file) from %s" % (
        flash["min_version"], flash["tested_version"], flash["micropython_board"], flash["file_suffix"],
        flash["download"])


# ---- the MicroPython version inside a firmware file ---------------------------------------------
_BANNER = re.compile(rb"MicroPython v(\d+)\.(\d+)(?:\.(\d+))?(-preview[\w.+]*)?")
_TAG_ON_DATE = re.compile(rb"v(\d+)\.(\d+)(?:\.(\d+))?(-preview[\w.+]*)? on \d{4}-\d\d-\d\d")


def find_version(image):
    """{"text": "v1.23.0", "release": (1, 23, 0), "preview": bool} from the banner compiled into the
    firmware ("MicroPython v1.23.0 on 2024-06-02; ..."), or None when the file does not say."""
    m = _BANNER.search(image) or _TAG_ON_DATE.search(image)
    if m is None:
        return None
    release = (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
    preview = m.group(4) is not None
    text = "v%d.%d.%d%s" % (release + ((m.group(4) or b"").decode("ascii", "replace"),))
    return {"text": text, "release": release, "preview": preview}


def check_version(found, flash):
    """(refusal or None, warning or None) for the version found against min and tested."""
    if found is None:
        return None, ("cannot find the MicroPython version in the file; make sure it is %s or newer "
                      "(tested up to %s)" % (flash["min_version"], flash["tested_version"]))
    low, tested = parse_version(flash["min_version"]), parse_version(flash["tested_version"])
    # a preview comes before the release it previews
    if found["release"] < low or (found["release"] == low and found["preview"]):
        return ("the file is MicroPython %s, older than the %s this firmware needs (its .mpy format "
                "and modules)" % (found["text"], flash["min_version"])), None
    n = len(flash["tested_version"].split("."))
    if found["release"][:n] > tested[:n]:
        return None, ("the file is MicroPython %s, newer than the %s this firmware was tested on: it "
                      "should work; run make test's HIL suite on the board to be sure"
                      % (found["text"], flash["tested_version"]))
    return None, None


# ---- firmware file formats ----------------------------------------------------------------------
def family_name(family):
    return "%s (family 0x%08x)" % (UF2_FAMILIES.get(family, "unknown chip"), family)


def check_uf2(data, target="RP2040"):
    """{"blocks", "families", "image"} of a UF2 file for target; FlashError if it is not one the
    target's boot ROM takes whole. image is the payload in address order, for the version search."""
    if not data or len(data) % 512:
        raise FlashError("not a UF2 file: %d bytes is not a whole number of 512-byte blocks" % len(data))
    want = UF2_TARGETS[target]
    families, payload, numbered = {}, {}, {}
    for i in range(len(data) // 512):
        block = data[i * 512:(i + 1) * 512]
        magic0, magic1, flags, addr, size, block_no, num_blocks, family = struct.unpack_from("<8I", block)
        magic_end, = struct.unpack_from("<I", block, 508)
        if (magic0, magic1, magic_end) != (UF2_MAGIC0, UF2_MAGIC1, UF2_MAGIC_END):
            raise FlashError("not a UF2 file: block %d has wrong magic numbers (a corrupt or "
                             "truncated download?)" % i)
        if flags & UF2_NOT_MAIN_FLASH:
            continue    # the boot ROM skips these too
        if not flags & UF2_FAMILY_PRESENT:
            raise FlashError("UF2 block %d carries no family id: the %s boot ROM ignores such blocks"
                             % (i, target))
        if size > 476 or block_no >= num_blocks:
            raise FlashError("UF2 block %d is malformed (payload %d bytes, block %d of %d)"
                             % (i, size, block_no, num_blocks))
        families[family] = families.get(family, 0) + 1
        numbered.setdefault(family, {}).setdefault(num_blocks, set()).add(block_no)
        if family in want["families"]:
            payload[addr] = block[32:32 + size]
    mine = set(families) & want["families"]
    if not mine:
        found = ", ".join(family_name(f) for f in sorted(families)) or "no flash blocks"
        raise FlashError("this UF2 is for %s, not the %s of this board" % (found, target))
    for family in mine:
        for total, seen in numbered[family].items():
            if len(seen) != total:
                raise FlashError("the UF2 is incomplete: %d of its %d blocks for %s are there (a "
                                 "truncated download?)" % (len(seen), total, family_name(family)))
    image = b"".join(payload[a] for a in sorted(payload))
    return {"blocks": len(data) // 512, "families": sorted(families), "image": image}


def check_esp_bin(data, chip):
    """{"chip_id"} of an ESP image; FlashError if it is not one or is for another ESP chip."""
    if len(data) < 24 or data[0] != 0xE9:
        raise FlashError("not an ESP32 firmware image: it does not start with the image magic 0xE9 "
                         "(a .app-bin, an .elf or an HTML page saved as .bin?)")
    chip_id, = struct.unpack_from("<H", data, 12)
    if chip_id != ESP_CHIPS[chip]:
        name = _ESP_CHIP_NAMES.get(chip_id)
        raise FlashError("this .bin is for %s (chip id %d in its header), not the %s of this board"
                         % (name or "another chip", chip_id, _ESP_CHIP_NAMES[ESP_CHIPS[chip]]))
    return {"chip_id": chip_id}


def dfu_crc(data):
    """The DfuSe suffix's dwCRC: CRC-32 of everything before it, without the final inversion."""
    return ~zlib.crc32(data) & 0xFFFFFFFF


def check_dfuse(data):
    """{"targets", "elements", "vid_pid"} of a DfuSe file; FlashError if its prefix, suffix, CRC
    or target/element sizes are wrong."""
    if len(data) < 11 + 16 or data[:5] != b"DfuSe":
        raise FlashError("not a DfuSe file: it does not start with 'DfuSe' (a .hex or .bin for "
                         "another tool?)")
    if data[-8:-5] != b"UFD" or data[-5] != 16:
        raise FlashError("not a DfuSe file: its last 16 bytes are not a DFU suffix ('UFD'); a "
                         "truncated download?")
    stored, = struct.unpack_from("<I", data, len(data) - 4)
    if stored != dfu_crc(data[:-4]):
        raise FlashError("the DFU file is corrupt: its CRC is 0x%08x, the file's is 0x%08x"
                         % (stored, dfu_crc(data[:-4])))
    image_size, targets = struct.unpack_from("<IB", data, 6)
    if image_size != len(data) - 16:
        raise FlashError("the DFU file is corrupt: its prefix says %d bytes, it has %d"
                         % (image_size, len(data) - 16))
    at, elements = 11, 0
    for t in range(targets):
        if data[at:at + 6] != b"Target":
            raise FlashError("the DFU file is corrupt: target %d has no 'Target' prefix" % t)
        size, count = struct.unpack_from("<II", data, at + 266)
        at += 274
        end = at + size
        for _ in range(count):
            _addr, n = struct.unpack_from("<II", data, at)
            at += 8 + n
            elements += 1
        if at != end or end > len(data) - 16:
            raise FlashError("the DFU file is corrupt: target %d's elements do not add up to its size" % t)
    if at != len(data) - 16:
        raise FlashError("the DFU file is corrupt: %d stray bytes before its suffix" % (len(data) - 16 - at))
    _dev, pid, vid = struct.unpack_from("<3H", data, len(data) - 16)
    return {"targets": targets, "elements": elements, "vid_pid": "%04x:%04x" % (vid, pid)}


def check_firmware(path, flash):
    """{"path", "size", "version", "warnings"} of a firmware file fit for this board; FlashError
    (naming where to get the right one) if not, before anything touches the board."""
    get = "download " + where_to_get(flash)
    if not os.path.isfile(path):
        raise FlashError("no firmware file %s" % path, get)
    if not path.lower().endswith(flash["file_suffix"]):
        raise FlashError("%s is not a %s file (this board flashes with %s)"
                         % (path, flash["file_suffix"], flash["method"]), get)
    with open(path, "rb") as f:
        data = f.read()
    method = flash["method"]
    try:
        if method == "uf2":
            info = check_uf2(data, uf2_target(flash))
            image = info["image"]
        elif method == "esptool":
            info = check_esp_bin(data, flash["chip"])
            image = data
        else:
            info = check_dfuse(data)
            image = data
    except FlashError as e:
        raise FlashError("%s: %s" % (path, e.what), get)
    found = find_version(image)
    refusal, warning = check_version(found, flash)
    if refusal:
        raise FlashError("%s: %s" % (path, refusal), get, exits.REFUSED)
    return {"path": path, "size": len(data), "version": found["text"] if found else None,
            "warnings": [warning] if warning else [], "info": info}


# ---- running tools ------------------------------------------------------------------------------
def _show(cmd):
    return shlex.join(str(c) for c in cmd)


def _run_streamed(cmd, what, hint):
    """Run a flashing tool with its output straight on this terminal (its own progress lines)."""
    try:
        code = subprocess.call(cmd)
    except OSError as e:
        raise FlashError("cannot run %s: %s" % (cmd[0], e), hint)
    if code != 0:
        raise FlashError("%s failed (exit %d)" % (what, code), hint)


def _bootloader_cmd(port):
    return [sys.executable, "-m", "mpremote", "connect", port, "exec", "--no-follow",
            "import machine; machine.bootloader()"]


def reset_to_bootloader(port, say):
    """machine.bootloader() over mpremote: a running MicroPython board restarts into its boot loader.
    The board drops the link as it goes, so mpremote's exit status says nothing; the caller then
    waits for the boot loader to show up."""
    cmd = _bootloader_cmd(port)
    say("asking the board on %s to restart into its boot loader: %s" % (port, _show(cmd)))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise FlashError("cannot run mpremote on %s: %s" % (port, e), "check --port (pumpctl ports lists them)")
    out = done.stdout + done.stderr
    if "could not enter raw repl" in out:
        raise FlashError("mpremote could not reach the REPL on %s: the pump app owns the port" % port,
                         "run pumpctl --port %s service first, then this again" % port)
    if "failed to access" in out or "no device found" in out:
        raise FlashError("mpremote cannot open %s" % port, "check --port (pumpctl ports lists them)")


def _wait(predicate, seconds):
    end = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() >= end:
            return value
        time.sleep(0.2)


# ---- uf2 (rp2) ----------------------------------------------------------------------------------
def read_board_id(drive):
    """Board-ID from a drive's INFO_UF2.TXT, or None if it is not a UF2 boot drive."""
    try:
        names = os.listdir(drive)
    except OSError:
        return None
    info = next((n for n in names if n.upper() == "INFO_UF2.TXT"), None)
    if info is None:
        return None
    try:
        with open(os.path.join(drive, info), errors="replace") as f:
            text = f.read(4096)
    except OSError:
        return None
    m = re.search(r"^Board-ID:\s*(\S+)", text, re.M)
    return m.group(1) if m else "unknown"


def find_bootsel_drives(globs=None, user=None):
    """[(path, Board-ID)] of the mounted UF2 boot drives."""
    user = user or os.environ.get("USER") or os.environ.get("LOGNAME") or "*"
    seen, out = set(), []
    for pattern in globs if globs is not None else DRIVE_GLOBS:
        for path in sorted(glob.glob(pattern.format(user=user))):
            real = os.path.realpath(path)
            if real in seen or not os.path.isdir(path):
                continue
            seen.add(real)
            board_id = read_board_id(path)
            if board_id is not None:
                out.append((path, board_id))
    return out


def pick_drive(drives, target):
    """The one drive for target among drives, None if there is none; FlashError if ambiguous or
    only another chip's boot drive is there."""
    ids = UF2_TARGETS[target]["board_ids"]
    mine = [d for d in drives if any(d[1].startswith(i) for i in ids)]
    if len(mine) > 1:
        raise FlashError("%d %s boards are in BOOTSEL mode (%s)" % (len(mine), target, ", ".join(d[0] for d in mine)),
                         "name one with --drive PATH, or unplug the others")
    if mine:
        return mine[0][0]
    if drives:
        raise FlashError("the UF2 drive at %s is a %s boot drive, not a %s one"
                         % (drives[0][0], drives[0][1], target),
                         "plug in the board this file is for, or name its drive with --drive PATH")
    return None


def copy_uf2(path, drive, step=None):
    """Copy the UF2 onto the BOOTSEL drive and sync it. The board restarts as soon as it has the last
    block, which may tear down the drive under the final sync: that error is expected then."""
    dest = os.path.join(drive, os.path.basename(path))
    total = os.path.getsize(path)
    done = 0
    with open(path, "rb") as src:
        try:
            dst = open(dest, "wb")
        except OSError as e:
            raise FlashError("cannot write to the drive %s: %s" % (drive, e),
                             "is it mounted read-write? unplug the board and try again")
        try:
            while True:
                chunk = src.read(_CHUNK)
                if not chunk:
                    break
                dst.write(chunk)
                done += len(chunk)
                if step:
                    step(done, total, "copy")
            dst.flush()
            os.fsync(dst.fileno())
            dst.close()
        except OSError as e:
            try:
                dst.close()
            except OSError:
                pass
            if done < total:
                raise FlashError("the copy to %s stopped after %d of %d bytes: %s" % (drive, done, total, e),
                                 "the board may hold part of it: " + BOOTSEL_HINT + ", then run this again")
    return dest


def flash_uf2(args, flash, firmware, reporter):
    target = uf2_target(flash)

    def locate():
        if args.drive:
            board_id = read_board_id(args.drive)
            return pick_drive([(args.drive, board_id)], target) if board_id else None
        return pick_drive(find_bootsel_drives(), target)

    drive = locate()
    picotool = shutil.which("picotool")
    if args.dry_run:
        if args.reset and not drive:
            reporter.say("would run: %s" % _show(_bootloader_cmd(args.port)))
        if drive:
            reporter.say("would copy %s to %s" % (firmware, drive))
        elif picotool:
            reporter.say("would copy it to the BOOTSEL drive once mounted, else run: %s, then %s"
                         % (_show([picotool, "info"]), _show([picotool, "load", "-x", firmware])))
        else:
            reporter.say("would copy %s to the BOOTSEL drive once one is mounted (none now: %s)"
                         % (firmware, BOOTSEL_HINT))
        return
    if drive is None and args.reset:
        reset_to_bootloader(args.port, reporter.say)
        reporter.say("waiting up to %g s for the BOOTSEL drive" % DRIVE_WAIT_S)
        drive = _wait(locate, DRIVE_WAIT_S)
    if drive:
        reporter.say("copying %s to the BOOTSEL drive %s" % (os.path.basename(firmware), drive))
        copy_uf2(firmware, drive, reporter.step_or_none)
        gone = _wait(lambda: read_board_id(drive) is None, DRIVE_WAIT_S)
        if gone:
            reporter.say("the drive went away: the board is restarting into MicroPython")
            return True
        reporter.say("warning: the drive %s is still there after %g s; if the board has not "
                     "restarted, unplug it, plug it in again and check with pumpctl ports"
                     % (drive, DRIVE_WAIT_S))
        return False
    if picotool:
        if subprocess.run([picotool, "info"], capture_output=True).returncode != 0:
            raise FlashError("no Pico in BOOTSEL mode: no drive mounted and picotool info sees no device",
                             BOOTSEL_HINT + " (or use --reset with --port for a running board)")
        reporter.say("no BOOTSEL drive mounted; loading with picotool")
        _run_streamed([picotool, "load", "-x", firmware], "picotool load",
                      "unplug the board, " + BOOTSEL_HINT + ", then run this again")
        return True
    if args.drive:
        raise FlashError("%s is not a UF2 boot drive (no INFO_UF2.TXT) and no picotool on PATH" % args.drive,
                         BOOTSEL_HINT)
    raise FlashError("no BOOTSEL drive found (searched %s) and no picotool on PATH"
                     % ", ".join(DRIVE_GLOBS), BOOTSEL_HINT + "; or name its mount with --drive PATH")


# ---- esptool (esp32) ----------------------------------------------------------------------------
def esptool_version(python=None):
    """esptool's version in this Python, or None if it is not installed."""
    try:
        done = subprocess.run([python or sys.executable, "-c", "import esptool; print(esptool.__version__)"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def esptool_commands(version, flash, port, firmware, erase):
    """The esptool runs: v5 spells its commands with hyphens, v4 and older with underscores."""
    major = int(re.match(r"\d+", version).group()) if re.match(r"\d+", version) else 0
    sep = "-" if major >= 5 else "_"
    base = [sys.executable, "-m", "esptool", "--chip", flash["chip"], "--port", port]
    runs = [base + ["erase%sflash" % sep]] if erase else []
    return runs + [base + ["write%sflash" % sep, "-z", flash["address"], firmware]]


def flash_esptool(args, flash, firmware, reporter):
    if args.reset:
        reporter.say("esptool resets the board into its boot loader itself: --reset is not needed")
    version = esptool_version()
    if version is None:
        raise FlashError("esptool is not installed in this Python (%s)" % sys.executable,
                         "install it with: %s -m pip install %s" % (sys.executable, ESPTOOL_PIN))
    runs = esptool_commands(version, flash, args.port, firmware, args.erase)
    for cmd in runs:
        if args.dry_run:
            reporter.say("would run: %s" % _show(cmd))
            continue
        reporter.say("running esptool %s: %s" % (version, _show(cmd)))
        _run_streamed(cmd, "esptool " + cmd[7], "check --port and the cable; if it cannot connect, hold "
                      "BOOT while pressing EN/RESET and run this again")
    return True


# ---- dfu (pyboard) ------------------------------------------------------------------------------
def flash_dfu(args, flash, firmware, reporter):
    dfu_util = shutil.which("dfu-util")
    if dfu_util is None:
        raise FlashError("dfu-util is not installed", "install it (sudo apt install dfu-util), then "
                         + DFU_MODE_HINT)
    cmd = [dfu_util, "-a", "0", "-D", firmware]
    if args.dry_run:
        if args.reset:
            reporter.say("would run: %s" % _show(_bootloader_cmd(args.port)))
        reporter.say("would run: %s" % _show(cmd))
        return
    if args.reset:
        reset_to_bootloader(args.port, reporter.say)
        time.sleep(2)    # the ST boot loader takes a moment to enumerate as a DFU device
    reporter.say("running: %s" % _show(cmd))
    _run_streamed(cmd, "dfu-util", "is the board in DFU mode? " + DFU_MODE_HINT
                  + " (LIBUSB_ERROR_ACCESS: add a udev rule for 0483:df11, see docs)")
    reporter.say("unplug the DFU jumper (BOOT0) and press RST to start MicroPython")
    return True


_METHOD_RUN = {"uf2": flash_uf2, "esptool": flash_esptool, "dfu": flash_dfu}


# ---- the command --------------------------------------------------------------------------------
def run(args, reporter, boards_dir=None):
    _path, flash = load_board(args.board, boards_dir)
    if not args.firmware:
        raise FlashError("no --firmware FILE given: download " + where_to_get(flash),
                         "then run pumpctl flash --board %s --firmware FILE" % args.board, exits.USAGE)
    fw = check_firmware(args.firmware, flash)
    if (flash["method"] == "esptool" or args.reset) and not args.port:
        raise FlashError("no port given: %s needs the board's serial port"
                         % ("esptool" if flash["method"] == "esptool" else "--reset"),
                         "use --port PATH or set PUMPCTL_PORT; pumpctl ports lists them", exits.USAGE)
    reporter.say("%s: MicroPython %s for %s, %d bytes, checked" % (
        os.path.basename(args.firmware), fw["version"] or "(version unknown)", flash["micropython_board"], fw["size"]))
    for warning in fw["warnings"]:
        reporter.say("warning: " + warning)
    confirmed = _METHOD_RUN[flash["method"]](args, flash, os.path.abspath(args.firmware), reporter)
    if args.dry_run:
        reporter.say("dry run: nothing was flashed")
        return
    then = "pumpctl --port %s deploy --board %s%s" % (
        args.port or "PORT", args.board, "" if args.port else " (pumpctl ports lists the board's port)")
    if confirmed:
        reporter.say("done: MicroPython%s is on the board; now run %s" % (" " + fw["version"] if fw["version"] else "", then))
    else:
        reporter.say("copied; once the board has restarted, run %s" % then)


def cmd_flash(args):
    from host_tools.progress import Reporter
    try:
        with Reporter("flash") as r:
            run(args, r)
    except FlashError as e:
        print("pumpctl: %s: %s" % ("refused" if e.code == exits.REFUSED else "error",
                                   exits.with_hint(e.what, e.hint)), file=sys.stderr)
        return e.code
    return exits.OK


def add_parser(sub):
    import argparse
    s = sub.add_parser("flash", help="flash MicroPython itself onto a board from a file you downloaded")
    s.add_argument("--board", required=True, help="board name: a folder under boards/")
    s.add_argument("--firmware", metavar="FILE", help="the MicroPython file (.uf2, .bin or .dfu); without it, "
                                                      "where to download it")
    s.add_argument("--port", default=argparse.SUPPRESS,
                   help="the board's serial port (esptool, --reset); also taken before the command")
    s.add_argument("--drive", metavar="PATH", help="uf2: the BOOTSEL drive's mount point (default: search)")
    s.add_argument("--erase", action="store_true", help="esptool: erase the whole flash first (files too)")
    s.add_argument("--reset", action="store_true",
                   help="uf2, dfu: restart a running MicroPython board into its boot loader first (needs --port)")
    s.add_argument("--dry-run", action="store_true", help="check the file and show what would run, touch nothing")
    s.set_defaults(func=cmd_flash, offline=True)
