"""pumpctl program load's review and confirm, against the real app behind an in-process fake link."""
import os

import pytest

from host_tools import paths
from host_tools.client import DeviceError
from host_tools.program_cli import parser

from fakes import FakeClock, FakeLink, FakeMotor, FakeSystem, ask_as_needed, board_cfg, drug_library
from pump.app import App
from pump.wiring import Board

EXAMPLE = os.path.join(paths.REPO_DIR, "examples", "bench-continuous-saline.toml")
MORPHINE_30 = """format = 1
name = "over the soft concentration"
purpose = "bench"
[drug]
name = "morphine"
concentration = 30
concentration_units = "mg/mL"
dose_units = "mg/day"
[reservoir]
capacity_ml = 20
volume_ml = 20
[basal]
rate = 1
"""


class InProcessPump:
    """A PumpClient stand-in that serves each request with the firmware's App and a fake link."""

    def __init__(self):
        clock = FakeClock()
        self.app = App(Board(board_cfg(), motor=FakeMotor(clock), clock=clock, link=FakeLink(),
                             pressure=None, system=FakeSystem()), drug_library())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def request(self, cmd, timeout=None, **args):
        reply = ask_as_needed(self.app, cmd, args)[-1]   # with a fresh id, proving roles as a host does
        if not reply["ok"]:
            e = reply["error"]
            raise DeviceError(e["code"], e["message"], e.get("path"))
        return reply["result"]


@pytest.fixture
def pump():
    return InProcessPump()


def load(pump, monkeypatch, capsys, argv, answers=()):
    answers = list(answers)
    monkeypatch.setattr("builtins.input", lambda prompt: answers.pop(0))
    args = parser(lambda a: pump).parse_args(["program", "load"] + argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_load_applies_a_program_only_when_the_start_of_its_digest_is_typed(pump, monkeypatch, capsys):
    code, out, err = load(pump, monkeypatch, capsys, [EXAMPLE], ["nope"])
    assert code == 3 and "not applied" in out
    assert pump.app.ctl.program is None
    code, out, err = load(pump, monkeypatch, capsys, [EXAMPLE], ["x"])
    assert code == 3 and pump.app.ctl.program is None     # one character is not a confirmation
    code, out, err = load(pump, monkeypatch, capsys, [EXAMPLE], [_digest_of(EXAMPLE)[:4]])
    assert code == 0, err
    assert "The pump has no program yet" in out and "applied program" in out
    assert pump.app.program_digest == _digest_of(EXAMPLE)


def test_load_shows_the_pumps_program_beside_the_new_one(pump, monkeypatch, capsys):
    load(pump, monkeypatch, capsys, [EXAMPLE, "--yes"])
    code, out, err = load(pump, monkeypatch, capsys, [EXAMPLE, "--yes"])
    assert code == 0, err
    assert "NOW ON THE PUMP" in out and "UNDER REVIEW" in out


def test_a_soft_limit_needs_override_typed_or_the_flag(pump, monkeypatch, capsys, tmp_path):
    path = tmp_path / "m.toml"
    path.write_text(MORPHINE_30)
    code, out, err = load(pump, monkeypatch, capsys, [str(path)], ["yes"])
    assert code == 3 and "soft limits not accepted" in out and pump.app.ctl.program is None
    code, out, err = load(pump, monkeypatch, capsys, [str(path), "--yes"])
    assert code == 3 and "--override-soft-limits" in err and pump.app.ctl.program is None
    code, out, err = load(pump, monkeypatch, capsys, [str(path)], ["override", _digest_of(str(path))[:6]])
    assert code == 0, err
    assert pump.app.ctl.program.drug == "morphine"


def test_an_invalid_file_is_refused_before_anything_reaches_the_pump(pump, monkeypatch, capsys, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(MORPHINE_30.replace("rate = 1", "rate = -1"))
    sent = []
    real = pump.request
    pump.request = lambda cmd, **a: sent.append(cmd) or real(cmd, **a)
    code, out, err = load(pump, monkeypatch, capsys, [str(path), "--yes"])
    assert code == 1 and "basal.rate: must be >= 0, got -1" in err
    assert sent == []


def _digest_of(path):
    from host_tools.program_cli import compile_file
    from pump.program import digest
    return digest(compile_file(path, "sim")[1])
