"""The host's key store and command view: keys the pump accepts, files only their owner reads, no drift."""
import json
import os
import stat

import pytest

from host_tools import command_view, keys
from host_tools.cli import main
from pump.commands import COMMANDS
from pump.errors import PumpError
from pump.session import Session
import pump.app  # noqa: F401  (registers every command in COMMANDS)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("PUMPCTL_KEYS", str(tmp_path / "keys"))
    return tmp_path / "keys"


def _answer(session, key, role):
    ch = session.challenge(role)
    return session.answer(role, ch["nonce"], key.mac(role, ch["nonce"]))


def test_pumpctls_view_of_the_commands_matches_the_firmwares_table():
    assert command_view.check(COMMANDS.describe()) == []


def test_a_drifted_command_is_named_in_the_check():
    table = [c for c in COMMANDS.describe() if c["name"] != "start"]
    table.append({"name": "start", "role": "patient", "args": [], "repeatable": False})
    assert command_view.check(table) == [
        "start: pumpctl expects role clinician, args [], repeatable False; the pump has role patient, "
        "args [], repeatable False"]


def test_a_new_key_is_saved_readable_by_its_owner_only_and_opens_both_roles_on_the_pump(store):
    key = keys.create("pump-abc")
    mode = stat.S_IMODE(os.stat(key.path).st_mode)
    assert mode == 0o600, oct(mode)
    assert key.secret.hex() not in repr(key)
    session = Session("pump-abc", key.secret)
    for role in ("clinician", "service"):
        assert _answer(session, keys.load("pump-abc"), role)["role"] == role


def test_an_exported_clinician_key_opens_the_clinician_role_and_not_service(store, tmp_path):
    key = keys.create("pump-abc")
    out = tmp_path / "clinician.json"
    keys.export(key, ["clinician"], str(out))
    assert key.secret.hex() not in out.read_text()
    clinician = keys.read_file(str(out))
    assert clinician.roles() == ("clinician",) and clinician.mac("service", "00") is None
    session = Session("pump-abc", key.secret)
    assert _answer(session, clinician, "clinician")["role"] == "clinician"
    ch = session.challenge("service")
    with pytest.raises(PumpError):   # a service answer made with the clinician key is wrong
        session.answer("service", ch["nonce"], keys.DeviceKey("pump-abc", role_keys={
            "service": clinician.role_key("clinician")}).mac("service", ch["nonce"]))


def test_a_device_id_that_could_leave_the_key_folder_is_refused(store):
    for bad in ("../x", "a/b", "", "x" * 40):
        with pytest.raises(keys.KeyStoreError):
            keys.create(bad)


def test_keys_list_names_devices_and_roles_but_never_a_secret(store, capsys):
    key = keys.create("pump-abc")
    assert main(["keys", "list", "--json"]) == 0
    out = capsys.readouterr().out
    listed = json.loads(out)["keys"]
    assert [(k["device"], k["roles"]) for k in listed] == [("pump-abc", ["clinician", "service"])]
    assert key.secret.hex() not in out
    assert main(["keys"]) == 0
    assert key.secret.hex() not in capsys.readouterr().out


def test_keys_export_then_import_on_another_computer_gives_the_clinician_role_only(store, tmp_path,
                                                                                 monkeypatch, capsys):
    keys.create("pump-abc")
    out = tmp_path / "for-dr-x.json"
    assert main(["keys", "export", "pump-abc", "-o", str(out)]) == 0
    monkeypatch.setenv("PUMPCTL_KEYS", str(tmp_path / "other-computer"))
    assert main(["keys", "import", str(out)]) == 0
    assert keys.load("pump-abc").roles() == ("clinician",)
    assert main(["keys", "import", str(out)]) == 1          # already held: not replaced silently
    assert "--force" in capsys.readouterr().err


def test_the_demo_board_forgets_a_key_this_computer_does_not_hold_and_keeps_one_it_does(store, tmp_path):
    from host_tools.demo import _forget_a_key_nobody_here_holds
    flash = tmp_path / "sim" / "flash"
    flash.mkdir(parents=True)
    held = keys.create("pump-held")
    (flash / "auth.json").write_text(json.dumps({"device": "pump-held", "key": held.secret.hex()}))
    _forget_a_key_nobody_here_holds(str(tmp_path / "sim"))
    assert (flash / "auth.json").exists()
    (flash / "auth.json").write_text(json.dumps({"device": "pump-lost", "key": "22" * 32}))
    _forget_a_key_nobody_here_holds(str(tmp_path / "sim"))
    assert not (flash / "auth.json").exists()
