# Unit tests of roles, challenge-response, lockout and kept request ids (pump.session, recent_requests).
import json

from pump.errors import AUTH_FAILED, AUTH_LOCKED, AUTH_REQUIRED, BAD_REQUEST, BAD_VERSION
from pump.hmac256 import auth_mac, hexlify, role_key
from pump.protocol import Commands, handle
from pump.session import (FREE_TRIES, IDLE_MS, LOCK_BASE_MS, NONCE_TTL_MS, Session)
from pump.wiring import Board

from fakes import (FakeClock, FakeLink, FakeMotor, FakeSystem, TEST_DEVICE, TEST_SECRET, board_cfg,
                   exchange, expect_raises, login)
from pump.app import App
from pump.errors import PumpError


class Ms:
    def __init__(self):
        self.t = 1000

    def __call__(self):
        return self.t


def _table(acted):
    t = Commands()

    @t.command("ping", "patient")
    def ping(ctx, args):
        return {"pong": True}

    @t.command("give", "clinician", {"n": {"type": "int", "required": True}})
    def give(ctx, args):
        acted.append(args["n"])
        return {"gave": args["n"], "total": len(acted)}

    @t.command("show", "clinician", safe_to_repeat=True)
    def show(ctx, args):
        return {"total": len(acted)}

    @t.command("tune", "service")
    def tune(ctx, args):
        return {}

    return t


class Link:
    """A session and a table, spoken to as a host would, with request ids of our choosing."""

    def __init__(self, secret=TEST_SECRET):
        self.ms = Ms()
        self.logged = []
        self.session = Session(TEST_DEVICE, secret, ms=self.ms, log=lambda k, d: self.logged.append((k, d)))
        self.acted = []
        self.table = _table(self.acted)
        self.next_id = 100

    def send(self, cmd, args=None, rid=None):
        if rid is None:
            self.next_id += 1
            rid = self.next_id
        req = {"id": rid, "cmd": cmd}
        if args is not None:
            req["args"] = args
        return handle(json.dumps(req).encode(), self.table, None, self.session)

    def answer(self, role, nonce, key_secret=TEST_SECRET, as_role=None):
        mac = hexlify(auth_mac(role_key(key_secret, as_role or role), TEST_DEVICE, as_role or role, nonce))
        return self.session_answer(role, nonce, mac)

    def session_answer(self, role, nonce, mac):
        try:
            return self.session.answer(role, nonce, mac)
        except PumpError as e:
            return e


def _failed(r, code=AUTH_FAILED):
    return isinstance(r, PumpError) and r.code == code


def _login(link, role="clinician"):
    ch = link.session.challenge(role)
    r = link.answer(role, ch["nonce"])
    assert not isinstance(r, PumpError), r.to_dict()
    return r


def test_a_clinician_command_is_refused_until_the_link_proves_the_role():
    link = Link()
    r = link.send("give", {"n": 1})
    assert r["error"]["code"] == AUTH_REQUIRED and r["error"]["role"] == "clinician", r
    assert link.acted == []
    _login(link)
    assert link.send("give", {"n": 1})["ok"] is True
    assert link.acted == [1]


def test_a_wrong_key_is_refused_and_logged_without_the_mac():
    link = Link()
    ch = link.session.challenge("clinician")
    r = link.answer("clinician", ch["nonce"], key_secret=b"another secret, also 32 bytes..")
    assert _failed(r) and "wrong key" in r.message, r
    assert link.session.role == "patient"
    kind, data = link.logged[-1]
    assert kind == "auth_fail" and data["why"] == "wrong key" and data["fails"] == 1
    assert "mac" not in data and "nonce" not in data


def test_a_replayed_answer_is_refused_because_its_nonce_was_spent():
    link = Link()
    ch = link.session.challenge("clinician")
    mac = hexlify(auth_mac(role_key(TEST_SECRET, "clinician"), TEST_DEVICE, "clinician", ch["nonce"]))
    assert not isinstance(link.session_answer("clinician", ch["nonce"], mac), PumpError)
    link.session.logout()
    r = link.session_answer("clinician", ch["nonce"], mac)   # the same answer, heard and sent again
    assert _failed(r) and "stale or replayed" in r.message, r
    assert link.session.role == "patient"


def test_a_stale_nonce_from_an_earlier_challenge_is_refused():
    link = Link()
    first = link.session.challenge("clinician")
    link.session.challenge("clinician")     # a newer challenge supersedes the first
    r = link.answer("clinician", first["nonce"])
    assert _failed(r) and "stale" in r.message, r


def test_a_challenge_answered_after_its_lifetime_is_refused():
    link = Link()
    ch = link.session.challenge("clinician")
    link.ms.t += NONCE_TTL_MS + 1
    r = link.answer("clinician", ch["nonce"])
    assert _failed(r) and "expired" in r.message, r


def test_the_clinician_key_does_not_open_the_service_role():
    link = Link()
    ch = link.session.challenge("service")
    # a clinician's key file holds only the clinician key: it answers the service challenge wrongly
    mac = hexlify(auth_mac(role_key(TEST_SECRET, "clinician"), TEST_DEVICE, "service", ch["nonce"]))
    assert _failed(link.session_answer("service", ch["nonce"], mac))
    _login(link, "clinician")
    r = link.send("tune")
    assert r["error"]["code"] == AUTH_REQUIRED and r["error"]["role"] == "service", r


def test_failures_lock_authentication_even_for_the_right_key_and_the_lock_doubles():
    link = Link()
    for _ in range(FREE_TRIES):
        ch = link.session.challenge("clinician")
        assert _failed(link.answer("clinician", ch["nonce"], key_secret=b"x" * 32))
    assert link.logged[-1][1]["lock_s"] == LOCK_BASE_MS // 1000
    assert _failed(expect_raises(PumpError, link.session.challenge, "clinician"), AUTH_LOCKED)
    link.ms.t += LOCK_BASE_MS + 1
    ch = link.session.challenge("clinician")
    assert _failed(link.answer("clinician", ch["nonce"], key_secret=b"x" * 32))
    assert link.logged[-1][1]["lock_s"] == 2 * LOCK_BASE_MS // 1000   # the fourth failure: twice as long
    link.ms.t += 2 * LOCK_BASE_MS + 1
    _login(link)     # the right key after the lock: accepted, and the count starts again
    assert link.session.fails == 0


def test_a_role_lapses_to_patient_after_the_idle_time_and_each_command_renews_it():
    link = Link()
    _login(link)
    link.ms.t += IDLE_MS - 1000
    assert link.send("give", {"n": 1})["ok"] is True     # renews
    link.ms.t += IDLE_MS - 1000
    assert link.send("give", {"n": 2})["ok"] is True
    link.ms.t += IDLE_MS + 1
    assert link.send("give", {"n": 3})["error"]["code"] == AUTH_REQUIRED
    assert link.logged[-1] == ("auth_end", {"role": "clinician", "why": "idle"})


def test_logout_returns_the_link_to_patient():
    link = Link()
    _login(link)
    link.session.logout()
    assert link.send("give", {"n": 1})["error"]["code"] == AUTH_REQUIRED


def test_a_pump_without_a_key_refuses_clinician_commands_but_lets_service_mode_in_for_deploy():
    session = Session()
    assert not session.provisioned
    e = expect_raises(PumpError, session.require, "clinician", "start")
    assert e.code == AUTH_REQUIRED and "no device key" in e.message
    session.require("service", "service")    # does not raise
    assert _failed(expect_raises(PumpError, session.challenge, "clinician"))


def test_a_retried_request_with_the_same_id_gets_the_first_reply_and_does_not_act_again():
    link = Link()
    _login(link)
    first = link.send("give", {"n": 5}, rid="bolus-1")
    again = link.send("give", {"n": 5}, rid="bolus-1")
    assert link.acted == [5]
    assert again["replayed"] is True and again["result"] == first["result"], again
    assert link.send("give", {"n": 5}, rid="bolus-2")["ok"] is True   # a new id is a new request
    assert link.acted == [5, 5]


def test_an_id_reused_for_another_request_is_refused_without_acting():
    link = Link()
    _login(link)
    link.send("give", {"n": 1}, rid=7)
    r = link.send("give", {"n": 2}, rid=7)
    assert r["error"]["code"] == BAD_REQUEST and r["error"]["path"] == "id", r
    assert link.acted == [1]


def test_reads_are_not_kept_so_their_ids_may_repeat():
    link = Link()
    _login(link)
    assert link.send("show", rid=1)["result"] == {"total": 0}
    link.send("give", {"n": 1}, rid=2)
    r = link.send("show", rid=1)
    assert r["result"] == {"total": 1} and "replayed" not in r, r


def test_an_int_id_and_the_same_digits_as_a_string_are_different_requests():
    link = Link()
    _login(link)
    link.send("give", {"n": 1}, rid=3)
    assert "replayed" not in link.send("give", {"n": 1}, rid="3")
    assert link.acted == [1, 1]


def test_only_the_last_sixteen_acting_requests_are_kept():
    link = Link()
    _login(link)
    for i in range(17):
        link.send("give", {"n": i}, rid=i)
    assert "replayed" in link.send("give", {"n": 16}, rid=16)
    assert "replayed" not in link.send("give", {"n": 0}, rid=0)   # forgotten: it acts


# ---- through the app -----------------------------------------------------------------------

def make_app():
    clock = FakeClock()
    board = Board(board_cfg(), motor=FakeMotor(clock), clock=clock, link=FakeLink(),
                  pressure=None, system=FakeSystem())
    return App(board, auth_file="no-such-auth.json")


def test_the_app_replays_a_retried_start_with_the_status_of_now():
    app = make_app()
    login(app, "clinician")
    exchange(app, "set_rate", {"rate_ul_h": 100})
    first = exchange(app, "start", rid="s-1")
    again = exchange(app, "start", rid="s-1")
    assert [m.get("event") for m in first] == ["state", None], first   # acted: a state event
    assert len(again) == 1 and again[0]["replayed"] is True, again       # no second event
    assert again[0]["result"]["state"] == "running"


def test_outcome_tells_whether_this_boot_ran_a_request_and_how_it_ended():
    app = make_app()
    login(app, "clinician")
    exchange(app, "set_rate", {"rate_ul_h": 100}, rid="r-9")
    known = exchange(app, "outcome", {"of": "r-9"})[-1]["result"]
    assert (known["known"], known["cmd"], known["ok"]) == (True, "set_rate", True), known
    assert known["reply"]["rate_ul_h"] == 100
    unknown = exchange(app, "outcome", {"of": "r-10"})[-1]["result"]
    assert unknown["known"] is False, unknown


def test_hello_picks_the_highest_common_protocol_and_refuses_a_host_with_none():
    app = make_app()
    r = exchange(app, "hello", {"protocols": [1, 2, 3]})[-1]
    assert r["result"]["protocol"] == 2, r
    r = exchange(app, "hello", {"protocols": [1]})[-1]
    assert r["error"]["code"] == BAD_VERSION and r["error"]["protocols"] == [2], r


def test_the_app_reads_its_device_key_from_the_provisioning_file():
    from fakes import in_temp_dir

    def check():
        with open("auth.json", "w") as f:
            f.write(json.dumps({"device": "dev-42", "key": hexlify(TEST_SECRET)}))
        clock = FakeClock()
        board = Board(board_cfg(), motor=FakeMotor(clock), clock=clock, link=FakeLink(),
                  pressure=None, system=FakeSystem())
        app = App(board)
        assert app.session.provisioned and app.session.device_id == "dev-42"
        hello = exchange(app, "hello")[-1]["result"]
        assert hello["device"] == "dev-42"
        assert hexlify(TEST_SECRET) not in json.dumps(hello)   # the secret never goes back out
    in_temp_dir(check)


def test_a_kept_request_holds_a_digest_of_its_arguments_not_the_arguments():
    from pump.recent_requests import RecentRequests, args_key
    recent = RecentRequests()
    part = {"index": 1, "path": "flex", "value": "x" * 3000}   # a program part is kilobytes
    recent.keep("p-1", "program_part", args_key(part), {"ok": True, "result": {"received": 1}}, None)
    kept = recent.find("p-1", "program_part", args_key(part))
    assert kept is not None and len(kept[2]) == 32
    e = expect_raises(PumpError, recent.find, "p-1", "program_part", args_key(dict(part, value="y" * 3000)))
    assert e.code == BAD_REQUEST
