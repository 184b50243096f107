"""pumpctl flash: checks board file and firmware file first, then drives the (faked) BOOTSEL drive or tool."""
import json
import os
import shutil
import struct
import sys
import threading
import time

from host_tools import cli, exits, flash, paths

RP2040, RP2350_ARM = 0xE48BFF56, 0xE48BFF59
BANNER = b"MicroPython v1.24.1 on 2024-11-29; Raspberry Pi Pico with RP2040"

BOARDS = {
    "pico": {"method": "uf2", "micropython_board": "RPI_PICO", "download": "https://micropython.org/download/RPI_PICO/",
             "min_version": "1.23", "tested_version": "1.29", "file_suffix": ".uf2"},
    "esp": {"method": "esptool", "micropython_board": "ESP32_GENERIC",
            "download": "https://micropython.org/download/ESP32_GENERIC/", "min_version": "1.23",
            "tested_version": "1.29", "file_suffix": ".bin", "chip": "esp32", "address": "0x1000"},
    "pyb": {"method": "dfu", "micropython_board": "PYBV11", "download": "https://micropython.org/download/PYBV11/",
            "min_version": "1.23", "tested_version": "1.29", "file_suffix": ".dfu"},
}


# ---- building firmware files from their formats -------------------------------------------------
def make_uf2(payload, family=RP2040, flags=flash.UF2_FAMILY_PRESENT, skip_block=None):
    chunks = [payload[i:i + 256] for i in range(0, len(payload), 256)]
    out = b""
    for n, chunk in enumerate(chunks):
        if n == skip_block:
            continue
        head = struct.pack("<8I", flash.UF2_MAGIC0, flash.UF2_MAGIC1, flags, 0x10000000 + 256 * n, 256,
                           n, len(chunks), family)
        out += head + chunk.ljust(476, b"\0") + struct.pack("<I", flash.UF2_MAGIC_END)
    return out


def firmware_image(banner=BANNER, at=250):
    """A fake image with the banner at `at`: 250 puts it across the first two 256-byte UF2 blocks."""
    return (b"\x00" * at + banner).ljust(1500, b"\xff")


def make_esp_bin(chip_id=0, banner=BANNER):
    header = struct.pack("<BBBBI", 0xE9, 3, 2, 0x20, 0x40080000)
    extended = struct.pack("<B3sHB", 0xEE, b"\0\0\0", chip_id, 0).ljust(16, b"\0")
    return header + extended + firmware_image(banner)


def make_dfuse(elements=((0x08000000, firmware_image()[:700]), (0x08020000, firmware_image()[700:]))):
    body = b"".join(struct.pack("<II", addr, len(data)) + data for addr, data in elements)
    target = b"Target" + struct.pack("<BI", 0, 1) + b"ST...".ljust(255, b"\0") + struct.pack(
        "<II", len(body), len(elements)) + body
    prefix = b"DfuSe" + struct.pack("<BIB", 1, 11 + len(target), 1)
    data = prefix + target + struct.pack("<4H3sB", 0xFFFF, 0xDF11, 0x0483, 0x011A, b"UFD", 16)
    return data + struct.pack("<I", flash.dfu_crc(data))


# ---- a test bench: board files, fake tools, a fake BOOTSEL drive -------------------------------
class Bench:
    def __init__(self, tmp_path, monkeypatch):
        self.tmp = tmp_path
        self.boards = tmp_path / "boards"
        for name, section in BOARDS.items():
            self.board(name, {"name": name, "port": "rp2", "flash": section})
        self.board("sim", {"name": "sim", "port": "unix"})
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.pylib = tmp_path / "pylib"
        self.pylib.mkdir()
        self.log = tmp_path / "argv.log"
        self.media = tmp_path / "media"
        self.media.mkdir()
        monkeypatch.setattr(paths, "BOARDS_DIR", str(self.boards))
        monkeypatch.setattr(flash, "DRIVE_GLOBS", [str(self.media / "*")])
        monkeypatch.setattr(flash, "DRIVE_WAIT_S", 0.3)
        monkeypatch.setenv("PATH", str(self.bin))
        monkeypatch.setenv("PYTHONPATH", str(self.pylib))
        monkeypatch.setenv("FAKE_LOG", str(self.log))
        monkeypatch.delenv("PUMPCTL_PORT", raising=False)

    def board(self, name, doc):
        (self.boards / name).mkdir(parents=True, exist_ok=True)
        (self.boards / name / "board.json").write_text(json.dumps(doc))

    def file(self, name, data):
        path = self.tmp / name
        path.write_bytes(data)
        return str(path)

    def drive(self, name="RPI-RP2", board_id="RPI-RP2"):
        d = self.media / name
        d.mkdir()
        (d / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: %s\n" % board_id)
        return d

    def tool(self, name, exit_code=0, info_exit=0):
        """A fake executable on PATH that records its argv."""
        path = self.bin / name
        path.write_text("#!%s\nimport json, os, sys\nopen(os.environ['FAKE_LOG'], 'a').write(json.dumps("
                        "[%r] + sys.argv[1:]) + '\\n')\nsys.exit(%d if sys.argv[1:2] == ['info'] else %d)\n"
                        % (sys.executable, name, info_exit, exit_code))
        path.chmod(0o755)

    def module(self, name, version=None, main="", broken=False):
        """A fake Python package for `python -m name` that records its argv."""
        pkg = self.pylib / name
        pkg.mkdir()
        (pkg / "__init__.py").write_text("raise ImportError('broken')\n" if broken else "__version__ = %r\n" % version)
        (pkg / "__main__.py").write_text("import json, os, sys\nopen(os.environ['FAKE_LOG'], 'a').write("
                                         "json.dumps([%r] + sys.argv[1:]) + '\\n')\n%s\n" % (name, main))

    def calls(self):
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []


def run(capfd, *argv):
    code = cli.main(list(argv))
    out, err = capfd.readouterr()
    return code, out, err


def one_line(err):
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err


# ---- the board file's flash section -------------------------------------------------------------
def test_the_simulated_board_needs_no_flashing_and_is_a_usage_error(tmp_path, monkeypatch, capfd):
    Bench(tmp_path, monkeypatch)
    code, _, err = run(capfd, "flash", "--board", "sim", "--firmware", "x.uf2")
    assert code == exits.USAGE
    assert "unix port" in one_line(err) and "needs no flashing" in err


def test_an_unknown_board_names_the_known_ones(tmp_path, monkeypatch, capfd):
    Bench(tmp_path, monkeypatch)
    code, _, err = run(capfd, "flash", "--board", "nope")
    assert code == exits.ERROR and "known boards: esp, pico, pyb, sim" in one_line(err)


def test_a_real_board_without_a_flash_section_is_an_error_naming_its_board_json(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    bench.board("bare", {"name": "bare", "port": "rp2"})
    code, _, err = run(capfd, "flash", "--board", "bare", "--firmware", "x.uf2")
    assert code == exits.ERROR and "bare/board.json has no flash section" in one_line(err)


def test_flash_section_errors_name_the_board_json_and_each_bad_key():
    bad = dict(BOARDS["pico"], method="uf2", chip="esp32", file_suffix=".bin", colour="red",
               download="https://micropython.org/download/RPI_PICO_W/")
    problems = flash.check_flash_section(bad, "boards/p/board.json")
    text = "\n".join(problems)
    for key in ("flash.chip: only for method esptool", "flash.file_suffix: must be '.uf2'",
                "flash.colour: unknown key", "flash.download: must be https://micropython.org/download/RPI_PICO/"):
        assert "boards/p/board.json: " + key in text, text
    assert len(problems) == 4


def test_an_esptool_section_needs_a_known_chip_and_a_hex_address():
    section = dict(BOARDS["esp"], chip="esp31", address="4096")
    text = "\n".join(flash.check_flash_section(section, "b.json"))
    assert "flash.chip: must be one of" in text and "flash.address: must be a hex address" in text
    assert flash.check_flash_section(BOARDS["esp"], "b.json") == []


def test_a_method_outside_uf2_esptool_dfu_is_refused_and_versions_must_parse():
    text = "\n".join(flash.check_flash_section(dict(BOARDS["pico"], method="jtag"), "b.json"))
    assert "flash.method: must be one of uf2, esptool, dfu" in text
    text = "\n".join(flash.check_flash_section(dict(BOARDS["pico"], min_version="1.30", tested_version="one"), "b.json"))
    assert "flash.tested_version: must be a version like 1.29" in text


def test_a_broken_flash_section_stops_the_command_with_one_line(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    bench.board("odd", {"name": "odd", "port": "rp2", "flash": dict(BOARDS["pico"], method="jtag")})
    code, _, err = run(capfd, "flash", "--board", "odd", "--firmware", bench.file("f.uf2", make_uf2(firmware_image())))
    assert code == exits.ERROR and "odd/board.json: flash.method: must be one of" in one_line(err)


def test_without_a_firmware_file_it_says_where_to_download_it_and_which_versions(tmp_path, monkeypatch, capfd):
    Bench(tmp_path, monkeypatch)
    code, _, err = run(capfd, "flash", "--board", "pico")
    assert code == exits.USAGE
    assert "MicroPython 1.23 to 1.29 for RPI_PICO (a .uf2 file) from https://micropython.org/download/RPI_PICO/" \
        in one_line(err)


# ---- UF2 files ----------------------------------------------------------------------------------
def test_a_correct_rp2040_uf2_passes_and_its_version_is_read_across_a_block_boundary():
    info = flash.check_uf2(make_uf2(firmware_image(at=250)))
    assert info["families"] == [RP2040] and info["blocks"] == 6
    assert flash.find_version(info["image"])["text"] == "v1.24.1"


def test_a_uf2_for_the_rp2350_is_refused_naming_that_chip():
    try:
        flash.check_uf2(make_uf2(firmware_image(), family=RP2350_ARM))
    except flash.FlashError as e:
        assert "RP2350 (Arm, secure) (family 0xe48bff59), not the RP2040" in e.what
    else:
        raise AssertionError("an RP2350 UF2 was accepted for an RP2040 board")


def test_a_pico2_board_takes_rp2350_uf2s():
    section = dict(BOARDS["pico"], micropython_board="RPI_PICO2", download="https://micropython.org/download/RPI_PICO2/")
    assert flash.uf2_target(section) == "RP2350"
    assert flash.check_uf2(make_uf2(firmware_image(), family=RP2350_ARM), "RP2350")["families"] == [RP2350_ARM]


def _uf2_refusal(data):
    try:
        flash.check_uf2(data)
    except flash.FlashError as e:
        return e.what
    raise AssertionError("a bad UF2 was accepted")


def test_a_uf2_with_a_missing_block_a_bad_magic_a_partial_block_or_no_family_is_refused():
    good = make_uf2(firmware_image())
    assert "incomplete: 5 of its 6 blocks" in _uf2_refusal(make_uf2(firmware_image(), skip_block=3))
    assert "block 2 has wrong magic" in _uf2_refusal(good[:1024] + b"\0" * 4 + good[1028:])
    assert "whole number of 512-byte blocks" in _uf2_refusal(good[:-100])
    assert "carries no family id" in _uf2_refusal(make_uf2(firmware_image(), flags=0))


# ---- ESP32 images and DfuSe files -------------------------------------------------------------
def test_an_esp32_bin_needs_the_image_magic_and_the_boards_chip_id():
    assert flash.check_esp_bin(make_esp_bin(0), "esp32") == {"chip_id": 0}
    try:
        flash.check_esp_bin(make_esp_bin(9), "esp32")
    except flash.FlashError as e:
        assert "for ESP32-S3 (chip id 9 in its header), not the ESP32" in e.what
    else:
        raise AssertionError("an ESP32-S3 image was accepted for an ESP32")
    try:
        flash.check_esp_bin(b"<html>" + make_esp_bin(0), "esp32")
    except flash.FlashError as e:
        assert "image magic 0xE9" in e.what
    else:
        raise AssertionError("a file without the image magic was accepted")


def test_a_correct_dfuse_file_passes_with_its_targets_and_elements():
    info = flash.check_dfuse(make_dfuse())
    assert info == {"targets": 1, "elements": 2, "vid_pid": "0483:df11"}


def test_a_dfuse_file_with_one_changed_byte_fails_its_crc():
    data = bytearray(make_dfuse())
    data[400] ^= 0x01
    try:
        flash.check_dfuse(bytes(data))
    except flash.FlashError as e:
        assert "corrupt: its CRC" in e.what
    else:
        raise AssertionError("a DFU file with a wrong CRC was accepted")


def test_a_dfuse_file_without_its_prefix_or_suffix_or_with_a_wrong_size_is_refused():
    good = make_dfuse()
    for data, why in ((b"DfuSx" + good[5:], "does not start with 'DfuSe'"),
                      (good[:-16], "not a DFU suffix")):
        try:
            flash.check_dfuse(data)
        except flash.FlashError as e:
            assert why in e.what, e.what
        else:
            raise AssertionError("accepted: " + why)
    # a prefix that lies about the size, with the CRC made right again
    body = good[:6] + struct.pack("<I", len(good)) + good[10:-4]
    try:
        flash.check_dfuse(body + struct.pack("<I", flash.dfu_crc(body)))
    except flash.FlashError as e:
        assert "prefix says" in e.what
    else:
        raise AssertionError("a DFU prefix with the wrong size was accepted")


# ---- versions -----------------------------------------------------------------------------------
def test_a_release_older_than_min_version_or_a_preview_of_it_is_refused():
    section = BOARDS["pico"]
    refusal, _ = flash.check_version(flash.find_version(b"MicroPython v1.22.2 on 2024-02-22; Pico"), section)
    assert "MicroPython v1.22.2, older than the 1.23" in refusal
    refusal, _ = flash.check_version(flash.find_version(b"MicroPython v1.23.0-preview.12.gabc on 2024-03-01"), section)
    assert refusal and "preview" in refusal
    assert flash.check_version(flash.find_version(b"MicroPython v1.23.0 on 2024-06-02"), section) == (None, None)


def test_a_version_above_tested_version_warns_but_is_not_refused():
    refusal, warning = flash.check_version(flash.find_version(b"v1.30.0 on 2026-09-01; RP2040"), BOARDS["pico"])
    assert refusal is None and "newer than the 1.29" in warning
    assert flash.check_version(flash.find_version(b"MicroPython v1.29.3 on 2026-05-01"), BOARDS["pico"]) == (None, None)


def test_a_file_without_a_version_string_warns_and_goes_on():
    assert flash.find_version(b"\xff" * 1000) is None
    refusal, warning = flash.check_version(None, BOARDS["pico"])
    assert refusal is None and "cannot find the MicroPython version" in warning


def test_an_old_firmware_file_is_refused_with_exit_3_before_any_tool_runs(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    bench.drive()
    bench.tool("picotool")
    old = bench.file("old.uf2", make_uf2(firmware_image(b"MicroPython v1.20.0 on 2023-04-26; Pico")))
    code, _, err = run(capfd, "flash", "--board", "pico", "--firmware", old)
    assert code == exits.REFUSED and err.startswith("pumpctl: refused:") and "older than the 1.23" in one_line(err)
    assert bench.calls() == [] and os.listdir(bench.media / "RPI-RP2") == ["INFO_UF2.TXT"]


def test_a_missing_or_misnamed_firmware_file_names_where_to_download_it(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    code, _, err = run(capfd, "flash", "--board", "pico", "--firmware", str(tmp_path / "none.uf2"))
    assert code == exits.ERROR and "no firmware file" in one_line(err) and "download/RPI_PICO/" in err
    code, _, err = run(capfd, "flash", "--board", "pico", "--firmware", bench.file("fw.bin", make_esp_bin()))
    assert code == exits.ERROR and "is not a .uf2 file" in one_line(err)


# ---- uf2: BOOTSEL drive and picotool -----------------------------------------------------------
def test_the_uf2_is_copied_whole_onto_the_bootsel_drive(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    drive = bench.drive()
    data = make_uf2(firmware_image())
    code, out, err = run(capfd, "flash", "--board", "pico", "--firmware", bench.file("mp.uf2", data))
    assert code == exits.OK, err
    assert (drive / "mp.uf2").read_bytes() == data
    assert "MicroPython v1.24.1 for RPI_PICO" in out and "copying mp.uf2 to the BOOTSEL drive" in out
    # the fake drive stays mounted, as a board that did not restart would: no "done"
    assert "still there" in out and "done" not in out
    assert "once the board has restarted, run pumpctl --port PORT deploy --board pico" in out


def test_done_is_said_only_once_the_bootsel_drive_goes_away(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    monkeypatch.setattr(flash, "DRIVE_WAIT_S", 5.0)
    drive = bench.drive()

    def board_restarts():   # as the Pico does once it has the last block: its drive vanishes
        while not (drive / "mp.uf2").exists():
            time.sleep(0.01)
        time.sleep(0.05)
        shutil.rmtree(drive)

    restart = threading.Thread(target=board_restarts, daemon=True)
    restart.start()
    code, out, err = run(capfd, "flash", "--board", "pico", "--firmware", bench.file("mp.uf2", make_uf2(firmware_image())))
    restart.join(5)
    assert code == exits.OK, err
    assert "the drive went away" in out and "done: MicroPython v1.24.1 is on the board" in out
    assert "still there" not in out


def test_only_a_drive_whose_info_uf2_says_rp2040_is_used(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    (bench.media / "USBSTICK").mkdir()
    bench.drive("RP2350", board_id="RP2350")
    code, _, err = run(capfd, "flash", "--board", "pico", "--firmware", bench.file("mp.uf2", make_uf2(firmware_image())))
    assert code == exits.ERROR and "is a RP2350 boot drive, not a RP2040 one" in one_line(err)
    assert os.listdir(bench.media / "RP2350") == ["INFO_UF2.TXT"]


def test_two_picos_in_bootsel_mode_need_drive_to_choose(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    bench.drive("A")
    second = bench.drive("B")
    fw = bench.file("mp.uf2", make_uf2(firmware_image()))
    code, _, err = run(capfd, "flash", "--board", "pico", "--firmware", fw)
    assert code == exits.ERROR and "--drive PATH" in one_line(err)
    code, _, err = run(capfd, "flash", "--board", "pico", "--firmware", fw, "--drive", str(second))
    assert code == exits.OK and (second / "mp.uf2").exists() and not (bench.media / "A" / "mp.uf2").exists()


def test_without_a_drive_or_picotool_it_says_to_hold_bootsel(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    code, _, err = run(capfd, "flash", "--board", "pico", "--firmware", bench.file("mp.uf2", make_uf2(firmware_image())))
    assert code == exits.ERROR
    assert "hold BOOTSEL while plugging the Pico in; it appears as a drive named RPI-RP2" in one_line(err)


def test_without_a_drive_picotool_info_then_load_x_is_run(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    bench.tool("picotool")
    fw = bench.file("mp.uf2", make_uf2(firmware_image()))
    code, out, err = run(capfd, "flash", "--board", "pico", "--firmware", fw)
    assert code == exits.OK, err
    assert bench.calls() == [["picotool", "info"], ["picotool", "load", "-x", fw]]


def test_picotool_seeing_no_device_is_an_error_before_loading(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    bench.tool("picotool", info_exit=249)
    code, _, err = run(capfd, "flash", "--board", "pico", "--firmware", bench.file("mp.uf2", make_uf2(firmware_image())))
    assert code == exits.ERROR and "picotool info sees no device" in one_line(err) and "BOOTSEL" in err
    assert bench.calls() == [["picotool", "info"]]


def test_reset_sends_machine_bootloader_over_mpremote_then_copies_to_the_drive_that_appears(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    drive = bench.media / "RPI-RP2"
    bench.module("mpremote", main="d = %r\nos.mkdir(d)\nopen(os.path.join(d, 'INFO_UF2.TXT'), 'w')"
                                  ".write('Board-ID: RPI-RP2\\n')" % str(drive))
    fw = bench.file("mp.uf2", make_uf2(firmware_image()))
    code, out, err = run(capfd, "--port", "/dev/ttyACM7", "flash", "--board", "pico", "--firmware", fw, "--reset")
    assert code == exits.OK, err
    assert bench.calls() == [["mpremote", "connect", "/dev/ttyACM7", "exec", "--no-follow",
                              "import machine; machine.bootloader()"]]
    assert (drive / "mp.uf2").exists() and "run pumpctl --port /dev/ttyACM7 deploy --board pico" in out


def test_reset_against_the_running_pump_app_says_to_run_service_first(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    bench.module("mpremote", main="print('mpremote: could not enter raw repl'); sys.exit(1)")
    code, _, err = run(capfd, "flash", "--board", "pico", "--port", "/dev/ttyACM7", "--reset",
                       "--firmware", bench.file("mp.uf2", make_uf2(firmware_image())))
    assert code == exits.ERROR and "pumpctl --port /dev/ttyACM7 service first" in one_line(err)


def test_reset_without_a_port_is_a_usage_error(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    code, _, err = run(capfd, "flash", "--board", "pico", "--reset",
                       "--firmware", bench.file("mp.uf2", make_uf2(firmware_image())))
    assert code == exits.USAGE and "--port" in one_line(err)


def test_dry_run_shows_the_copy_and_writes_nothing(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    drive = bench.drive()
    fw = bench.file("mp.uf2", make_uf2(firmware_image()))
    code, out, _ = run(capfd, "flash", "--board", "pico", "--firmware", fw, "--dry-run")
    assert code == exits.OK and "would copy %s to %s" % (fw, drive) in out and "nothing was flashed" in out
    assert os.listdir(drive) == ["INFO_UF2.TXT"]


# ---- esptool ------------------------------------------------------------------------------------
def test_esptool_5_is_run_with_hyphenated_commands_erase_first_with_erase(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    bench.module("esptool", version="5.6.0", main="print('Hash of data verified.')")
    fw = bench.file("esp.bin", make_esp_bin())
    code, out, err = run(capfd, "--port", "/dev/ttyUSB0", "flash", "--board", "esp", "--firmware", fw, "--erase")
    assert code == exits.OK, err
    base = ["esptool", "--chip", "esp32", "--port", "/dev/ttyUSB0"]
    assert bench.calls() == [base + ["erase-flash"], base + ["write-flash", "-z", "0x1000", fw]]
    assert "Hash of data verified." in out    # esptool's own output reaches the user


def test_esptool_4_is_run_with_underscored_commands_and_no_erase_by_default(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    bench.module("esptool", version="4.8.1")
    fw = bench.file("esp.bin", make_esp_bin())
    code, _, err = run(capfd, "--port", "/dev/ttyUSB0", "flash", "--board", "esp", "--firmware", fw)
    assert code == exits.OK, err
    assert bench.calls() == [["esptool", "--chip", "esp32", "--port", "/dev/ttyUSB0", "write_flash", "-z", "0x1000", fw]]


def test_esptool_needs_a_port(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    bench.module("esptool", version="5.6.0")
    code, _, err = run(capfd, "flash", "--board", "esp", "--firmware", bench.file("esp.bin", make_esp_bin()))
    assert code == exits.USAGE and "PUMPCTL_PORT" in one_line(err)
    assert bench.calls() == []


def test_a_missing_esptool_says_the_exact_pinned_pip_install(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    bench.module("esptool", broken=True)   # shadows any real esptool: `import esptool` fails
    code, _, err = run(capfd, "--port", "/dev/ttyUSB0", "flash", "--board", "esp",
                       "--firmware", bench.file("esp.bin", make_esp_bin()))
    assert code == exits.ERROR
    assert "%s -m pip install esptool==5.6.0" % sys.executable in one_line(err)


def test_a_failing_esptool_is_a_one_line_error_with_what_to_try(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    bench.module("esptool", version="5.6.0", main="sys.exit(2)")
    code, _, err = run(capfd, "--port", "/dev/ttyUSB0", "flash", "--board", "esp",
                       "--firmware", bench.file("esp.bin", make_esp_bin()))
    assert code == exits.ERROR and "esptool write-flash failed (exit 2)" in one_line(err) and "hold BOOT" in err


def test_an_esp32_s3_file_for_an_esp32_board_is_refused_before_esptool_runs(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    bench.module("esptool", version="5.6.0")
    code, _, err = run(capfd, "--port", "/dev/ttyUSB0", "flash", "--board", "esp",
                       "--firmware", bench.file("s3.bin", make_esp_bin(9)))
    assert code == exits.ERROR and "ESP32-S3" in one_line(err) and "download/ESP32_GENERIC/" in err
    assert bench.calls() == []


def test_esptool_dry_run_shows_the_command_and_runs_nothing(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    bench.module("esptool", version="5.6.0")
    fw = bench.file("esp.bin", make_esp_bin())
    code, out, _ = run(capfd, "--port", "/dev/ttyUSB0", "flash", "--board", "esp", "--firmware", fw, "--dry-run")
    assert code == exits.OK and "would run: " in out and "write-flash -z 0x1000 " + fw in out
    assert bench.calls() == []


# ---- dfu ----------------------------------------------------------------------------------------
def test_dfu_util_is_run_with_alt_0_and_the_file(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    bench.tool("dfu-util")
    fw = bench.file("pyb.dfu", make_dfuse())
    code, out, err = run(capfd, "flash", "--board", "pyb", "--firmware", fw)
    assert code == exits.OK, err
    assert bench.calls() == [["dfu-util", "-a", "0", "-D", fw]]


def test_a_missing_dfu_util_says_apt_install_and_the_dfu_jumper(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    code, _, err = run(capfd, "flash", "--board", "pyb", "--firmware", bench.file("pyb.dfu", make_dfuse()))
    assert code == exits.ERROR
    assert "apt install dfu-util" in one_line(err) and "BOOT0" in err and "3V3" in err


def test_dfu_util_failing_says_to_put_the_board_in_dfu_mode(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    bench.tool("dfu-util", exit_code=74)
    code, _, err = run(capfd, "flash", "--board", "pyb", "--firmware", bench.file("pyb.dfu", make_dfuse()))
    assert code == exits.ERROR and "dfu-util failed (exit 74)" in one_line(err) and "DFU mode" in err


def test_a_corrupt_dfu_file_never_reaches_dfu_util(tmp_path, monkeypatch, capfd):
    bench = Bench(tmp_path, monkeypatch)
    bench.tool("dfu-util")
    data = bytearray(make_dfuse())
    data[300] ^= 0xFF
    code, _, err = run(capfd, "flash", "--board", "pyb", "--firmware", bench.file("pyb.dfu", bytes(data)))
    assert code == exits.ERROR and "CRC" in one_line(err)
    assert bench.calls() == []
