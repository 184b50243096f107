"""The per-port type check: a call a port's MicroPython lacks fails it, naming the file and line."""
import os

from host_tools import typecheck
from host_tools.firmware_set import real_ports

PROBE = '''# a driver-like module, for the type check's own test
import machine


def rmt(pin):
    import esp32
    return esp32.RMT(0, pin=machine.Pin(pin), clock_div=80)


class Stepper:
    def step(self):
        machine.Pin(2, machine.Pin.OUT).value(1)
        machine.Pin(0).nonexistent_method()
'''


def _probe(tmp_path, text=PROBE):
    root = tmp_path / "fw"
    (root / "drivers").mkdir(parents=True)
    path = root / "drivers" / "probe.py"
    path.write_text(text)
    return str(root), str(path)


def _line(text, needle):
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_method_no_port_has_fails_the_check_with_its_file_and_line(tmp_path):
    root, path = _probe(tmp_path)
    want = "probe.py:%d:" % _line(PROBE, "nonexistent_method")
    for port in typecheck.PORTS:
        code, out = typecheck.check(port, [path], [root], work=str(tmp_path / port))
        assert code == 1, (port, out)
        bad = [line for line in out.splitlines() if want in line]
        assert bad and "nonexistent_method" in bad[0], (port, out)


def test_esp32_rmt_fails_the_rp2_and_stm32_checks_and_passes_the_esp32_one(tmp_path):
    only_rmt = PROBE.split("class Stepper")[0]
    root, path = _probe(tmp_path, only_rmt)
    want = "probe.py:%d:" % _line(only_rmt, "import esp32")
    for port in ("rp2", "stm32"):
        code, out = typecheck.check(port, [path], [root], work=str(tmp_path / port))
        assert code == 1 and want in out and '"esp32"' in out, (port, out)
    code, out = typecheck.check("esp32", [path], [root], work=str(tmp_path / "esp32"))
    assert code == 0, out


def test_unannotated_function_bodies_are_checked_too(tmp_path):
    # nearly all firmware code is unannotated: a checker that skipped those bodies would pass anything
    text = "import time\n\n\ndef wait():\n    time.sleep_us_and_more(5)\n"
    root, path = _probe(tmp_path, text)
    code, out = typecheck.check("rp2", [path], [root], work=str(tmp_path / "rp2"))
    assert code == 1 and "probe.py:5:" in out, out


def test_the_firmware_every_real_board_runs_checks_clean_on_its_port():
    ports = real_ports()
    assert sorted(ports) == ["esp32", "rp2", "stm32"], ports
    for port in ports:
        files = typecheck.port_files(port)
        code, out = typecheck.check(port, files)
        assert code == 0, "%s:\n%s" % (port, out)


def test_the_stubs_errors_are_silenced_by_module_and_never_the_firmware(tmp_path):
    mods = typecheck.stub_modules(typecheck.ensure_stubs("rp2"))
    assert "machine" in mods and "rp2" in mods
    assert not {"pump", "pump.*", "drivers", "drivers.*", "main"} & set(mods), mods
    with open(typecheck.write_config("rp2", [str(tmp_path)], work=str(tmp_path / "w"))) as f:
        config = f.read()
    assert "check_untyped_defs = True" in config
    assert config.count("ignore_errors") == 1   # one section: the stubs' modules
