"""Roles on the simulated board: only a proven key changes therapy, and a retried request never acts twice."""
import json
import os
import subprocess

import pytest

from host_tools import keys
from host_tools.client import DeviceError, PumpClient
from test_programs import DEMAND, _wall_ms, start_program
from cli_runner import pumpctl_argv

def raw(client, cmd, rid, **args):
    """One request with an id of the test's choosing; the whole reply, refusals included."""
    return client._exchange(cmd, args, rid, client.timeout)


def answer_for(client, role="clinician"):
    """A fresh challenge and the right answer to it, from the run's key store."""
    device = client.hello()["device"]
    ch = raw(client, "auth_challenge", "ch-%s" % os.urandom(3).hex(), role=role)["result"]
    return {"role": role, "nonce": ch["nonce"], "mac": keys.load(device).mac(role, ch["nonce"])}


@pytest.fixture
def patient(board):
    """A client that never proves a role: the patient's handset."""
    with PumpClient(board.link, timeout=10.0, authenticate=False) as client:
        yield client


def test_a_patient_cannot_start_the_pump_or_change_its_rate(patient, rig):
    before = rig.plant()["steps_moved"]
    for cmd, args in (("set_rate", {"rate_ul_h": 500}), ("start", {}), ("alarm_ack", {"code": "occlusion"})):
        with pytest.raises(DeviceError) as e:
            patient.request(cmd, **args)
        assert e.value.code == "auth_required" and e.value.detail["role"] == "clinician"
    rig.run_for(60)
    assert patient.request("status")["state"] == "stopped"
    assert rig.plant()["steps_moved"] == before


def test_a_wrong_key_is_refused_and_the_failure_is_in_the_event_log(board, patient, tmp_path, monkeypatch):
    device = patient.hello()["device"]
    patient.close()   # one program at a time on a serial port
    wrong = tmp_path / "keys"
    wrong.mkdir()
    (wrong / ("%s.json" % device)).write_text(json.dumps({"device": device, "secret": "11" * 32}))
    monkeypatch.setenv("PUMPCTL_KEYS", str(wrong))
    with PumpClient(board.link, timeout=10.0) as client:
        with pytest.raises(DeviceError) as e:
            client.request("start")
        assert e.value.code == "auth_failed" and "wrong key" in e.value.message
        log = client.request("log_read")["records"]
    fails = [r for r in log if r["k"] == "auth_fail"]
    assert fails and fails[-1]["why"] == "wrong key" and fails[-1]["role"] == "clinician", log


def test_a_replayed_response_is_refused(patient):
    answer = answer_for(patient)
    assert raw(patient, "auth", "a-1", **answer)["ok"] is True      # heard on the wire...
    raw(patient, "logout", "a-2")
    replay = raw(patient, "auth", "a-3", **answer)                   # ...and sent again
    assert replay["error"]["code"] == "auth_failed" and "replayed" in replay["error"]["message"], replay
    assert raw(patient, "start", "a-4")["error"]["code"] == "auth_required"


def test_a_stale_nonce_is_refused(patient):
    stale = answer_for(patient)
    answer_for(patient)                      # a newer challenge: the first nonce is dead
    r = raw(patient, "auth", "s-1", **stale)
    assert r["error"]["code"] == "auth_failed" and "stale" in r["error"]["message"], r


def test_three_failed_answers_lock_out_even_the_right_key(patient):
    for i in range(3):
        answer = answer_for(patient)
        answer["mac"] = "00" * 32
        assert raw(patient, "auth", "f-%d" % i, **answer)["error"]["code"] == "auth_failed"
    r = raw(patient, "auth_challenge", "f-9", role="clinician")
    assert r["error"]["code"] == "auth_locked" and r["error"]["retry_after_s"] >= 1, r


def test_a_demand_bolus_retried_under_the_same_id_is_given_once(pump, rig):
    start_program(pump, rig, DEMAND, _wall_ms(2025, 1, 7, 8, 0))
    first = raw(pump, "bolus_demand", "bolus-42")
    again = raw(pump, "bolus_demand", "bolus-42")
    assert first["ok"] is True and again["replayed"] is True, again
    assert again["result"] == first["result"]
    rig.run_for(15 * 60)
    status = pump.request("status")
    assert status["bolus"]["demand_used_24h"] == 1, status["bolus"]
    commands = [r for r in pump.request("log_read", since=0)["records"] if r.get("cmd") == "bolus_demand"]
    assert [r["rid"] for r in commands] == ["bolus-42"]


def test_a_lost_reply_is_resolved_by_asking_the_pump_not_by_sending_again(pump, rig):
    start_program(pump, rig, DEMAND, _wall_ms(2025, 1, 7, 8, 0))
    real = pump._exchange
    dropped = []

    def lose_the_first_bolus_reply(cmd, args, rid, timeout):
        reply = real(cmd, args, rid, timeout)
        if cmd == "bolus_demand" and not dropped:
            dropped.append(reply)
            from host_tools.client import LinkTimeout
            raise LinkTimeout("no reply (dropped by the test)")
        return reply
    pump._exchange = lose_the_first_bolus_reply
    result = pump.request("bolus_demand")
    assert dropped and result == dropped[0]["result"]
    rig.run_for(15 * 60)
    assert pump.request("status")["bolus"]["demand_used_24h"] == 1


@pytest.mark.sim_only   # reads the simulated board's flash folder
def test_the_secret_is_never_shown_in_deploy_output_the_event_log_or_the_sim_logs(board, pump):
    hello = pump.hello()
    pump.close()
    secret = keys.load(hello["device"]).secret.hex()
    with open(os.path.join(board.flash, "auth.json")) as f:
        assert json.load(f)["key"] == secret          # the board does hold it...
    out = subprocess.run(pumpctl_argv() + ["--port", board.link, "deploy",
                          "--board", "sim"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "device key" in out.stdout
    records = []
    since = 0
    with PumpClient(board.link, timeout=10.0) as client:
        while True:
            page = client.request("log_read", since=since)
            records += page["records"]
            if not page["records"]:
                break
            since = page["records"][-1]["seq"]
    texts = [out.stdout, out.stderr, json.dumps(records)]
    for name in ("board.log", "supervisor.log"):
        path = os.path.join(board.home, name)
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                texts.append(f.read())
    for text in texts:
        assert secret not in text and secret.upper() not in text
