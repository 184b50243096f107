# Tests of pump.app through fake drivers; plain functions so pytest and tests/mprun.py (MicroPython) both run them.
#
# App.run() loops forever: the tests here call _serve_link() and the controller directly, and the
# loop tests leave run() through a fake watchdog whose feed() raises Escape.

import os

from pump.app import App, IDLE_MS, SERVICE_FLAG
from pump.commands import COMMANDS
from pump.errors import BAD_JSON, BAD_STATE, LIMIT, LINE_TOO_LONG
from pump.version import FIRMWARE_VERSION, PROTOCOL_VERSION
from pump.wiring import Board

from fakes import (ask_as_needed, login, new_id, Escape, FakeClock, FakeLink, FakeMotor, FakePressure, FakeSimClock, FakeSystem,
                   board_cfg, expect_raises, in_temp_dir)

MS_PER_H = 3600000
STATUS_KEYS = ("state", "rate_ul_h", "delivered_ul", "reservoir_ul", "alarms", "uptime_s")


def make_app(clock=None, pressure=None, system=None):
    clock = clock if clock is not None else FakeClock()
    board = Board(board_cfg(), motor=FakeMotor(clock), clock=clock, link=FakeLink(),
                  pressure=pressure, system=system if system is not None else FakeSystem())
    return App(board)


def ask(app, cmd, args=None):
    """Send one request over the fake link, serve it, return every message the app wrote."""
    rid = new_id()
    msgs = ask_as_needed(app, cmd, args, rid)
    assert msgs and msgs[-1].get("id") == rid, msgs   # the reply comes last
    return msgs


def result(app, cmd, args=None):
    r = ask(app, cmd, args)[-1]
    assert r["ok"] is True, r
    return r["result"]


def error(app, cmd, args=None):
    r = ask(app, cmd, args)[-1]
    assert r["ok"] is False, r
    return r["error"]


def exists(path):
    try:
        os.stat(path)
    except OSError:
        return False
    return True


# ---- commands over the link ----------------------------------------------------------------

def test_hello_reports_firmware_protocol_board_port_and_reset_cause():
    def check():
        app = make_app(system=FakeSystem(cause="watchdog"))
        assert result(app, "hello") == {
            "firmware": FIRMWARE_VERSION, "protocol": PROTOCOL_VERSION, "board": "bench",
            "port": "rp2", "build": None, "reset_cause": "watchdog", "protocols": [PROTOCOL_VERSION],
            "device": None, "role": "patient", "boot": None}
    in_temp_dir(check)


def test_hello_reports_the_build_named_in_build_json():
    def check():
        with open("build.json", "w") as f:
            f.write('{"build": "abc123"}')
        assert result(make_app(), "hello")["build"] == "abc123"
    in_temp_dir(check)


def test_a_build_json_that_is_not_an_object_does_not_stop_the_app_from_starting():
    # build.json only labels the firmware: a bad one must not keep main.py in a reset loop
    def check():
        for text in ("[1, 2]", '"v1"', "7", "{not json"):
            with open("build.json", "w") as f:
                f.write(text)
            assert result(make_app(), "hello")["build"] is None, text
    in_temp_dir(check)


def test_set_rate_then_start_enables_the_motor_and_pushes_a_running_state_event():
    app = make_app()
    motor = app.board.motor
    assert result(app, "set_rate", {"rate_ul_h": 100})["rate_ul_h"] == 100
    assert not motor.enabled, "setting a rate must not start anything"
    msgs = ask(app, "start")
    assert msgs[0] == {"event": "state", "data": {"state": "running"}}, msgs
    assert msgs[-1]["ok"] is True and msgs[-1]["result"]["state"] == "running", msgs
    assert len(msgs) == 2, msgs
    assert motor.enabled and motor.calls == ["enable"], motor.calls


def test_start_without_a_rate_is_refused_and_leaves_the_motor_off():
    app = make_app()
    msgs = ask(app, "start")
    assert len(msgs) == 1, msgs    # no state event either
    assert msgs[0]["error"]["code"] == BAD_STATE, msgs
    assert app.board.motor.calls == []


def test_stop_disables_the_motor_and_pushes_a_stopped_state_event():
    app = make_app()
    result(app, "set_rate", {"rate_ul_h": 100})
    result(app, "start")
    msgs = ask(app, "stop")
    assert msgs[0] == {"event": "state", "data": {"state": "stopped"}}, msgs
    assert msgs[-1]["result"]["state"] == "stopped"
    assert not app.board.motor.enabled
    assert app.board.motor.calls == ["enable", "disable"]
    assert app.ctl.due(MS_PER_H) == 0


def test_service_is_refused_while_running_and_changes_nothing():
    def check():
        app = make_app()
        result(app, "set_rate", {"rate_ul_h": 100})
        result(app, "start")
        assert error(app, "service")["code"] == BAD_STATE
        assert app.board.motor.enabled
        assert app.board.system.resets == 0
        assert not exists(SERVICE_FLAG)
        assert app.ctl.state == "running"
    in_temp_dir(check)


def test_service_when_stopped_replies_then_disables_the_motor_writes_the_flag_and_resets():
    seen = {}

    def check():
        system = FakeSystem()
        app = make_app(system=system)
        motor, link = app.board.motor, app.board.link
        motor.enabled = True    # the safe state must not rely on the motor being off already

        def at_reset():
            seen["replies"] = link.messages()
            seen["motor_enabled"] = motor.enabled
            with open(SERVICE_FLAG) as f:
                seen["flag"] = f.read()
            seen["cwd_flag"] = exists(os.getcwd() + "/" + SERVICE_FLAG)

        system.on_reset = at_reset
        link.queue(b'{"id": 5, "cmd": "service"}\n')
        app._serve_link()
        assert system.resets == 1
    in_temp_dir(check)
    assert seen["replies"] == [{"id": 5, "ok": True, "result": {"rebooting": "service"}}], seen
    assert seen["motor_enabled"] is False
    assert seen["flag"] == "1" and seen["cwd_flag"] is True


def test_commands_returns_the_command_table():
    app = make_app()
    table = result(app, "commands")["commands"]
    assert table == COMMANDS.describe()
    by_name = dict([(c["name"], c) for c in table])
    assert sorted(by_name) == ["alarm_ack", "alarm_silence", "alarms", "auth", "auth_challenge",
                               "bolus_clinician", "bolus_demand", "calibrate_run", "calibration",
                               "calibration_set", "commands", "hello", "log_read", "logout", "outcome",
                               "program_begin", "program_clear", "program_confirm", "program_get",
                               "program_part", "program_review", "program_summary", "refill",
                               "service", "set_rate", "start", "status", "stop", "time_sync"]
    assert by_name["bolus_demand"]["role"] == "patient"
    assert by_name["program_confirm"]["role"] == "clinician"
    assert by_name["set_rate"] == {"name": "set_rate", "role": "clinician", "args": ["rate_ul_h"],
                                   "types": {"rate_ul_h": "num"}, "required": ["rate_ul_h"],
                                   "repeatable": False}
    assert by_name["alarm_ack"]["role"] == "clinician"   # acknowledging is the clinician's call
    assert by_name["status"]["repeatable"] is True
    assert by_name["service"]["role"] == "service"
    assert by_name["hello"]["role"] == "patient"


def test_status_has_its_keys_and_no_sim_time_on_a_clock_without_one():
    s = result(make_app(), "status")
    for key in STATUS_KEYS:
        assert key in s, (key, s)
    assert "sim_time_s" not in s, s
    assert "pressure_kpa" not in s, s
    assert (s["state"], s["rate_ul_h"], s["alarms"]) == ("stopped", 0, []), s


def test_status_has_sim_time_only_when_the_clock_offers_it():
    s = result(make_app(clock=FakeSimClock(sim_s=1234.5)), "status")
    for key in STATUS_KEYS:
        assert key in s, (key, s)
    assert s["sim_time_s"] == 1234.5, s


def test_status_reports_pressure_when_the_board_has_a_sensor():
    assert result(make_app(pressure=FakePressure(3.5)), "status")["pressure_kpa"] == 3.5


def test_status_tracks_delivered_volume_reservoir_and_uptime():
    clock = FakeClock()
    app = make_app(clock=clock)
    result(app, "set_rate", {"rate_ul_h": 100})
    result(app, "start")
    clock.t = MS_PER_H
    n = app.ctl.due(clock.t)
    app.board.motor.step(n)
    app.ctl.taken(n)
    s = result(app, "status")
    assert n == 200   # one burst at most
    assert (s["delivered_ul"], s["reservoir_ul"], s["uptime_s"]) == (20.0, 19980.0, 3600.0), s
    assert (s["state"], s["rate_ul_h"]) == ("running", 100.0), s


def test_a_bad_line_gets_an_error_reply_and_the_next_line_is_still_served():
    app = make_app()
    link = app.board.link
    link.queue(b"{oops\n" + b"z" * 10240 + b'\n{"id": 2, "cmd": "status"}\n')
    assert app._serve_link() is True
    msgs = link.take()
    assert [m.get("id") for m in msgs] == [None, None, 2], msgs
    assert msgs[0]["error"]["code"] == BAD_JSON
    assert msgs[1]["error"]["code"] == LINE_TOO_LONG
    assert msgs[2]["ok"] is True


def test_a_request_split_across_reads_is_served_once_complete():
    app = make_app()
    link = app.board.link
    link.chunk = 7
    link.queue(b'{"id": 4, "cmd": "status"}\n')
    replies = []
    while link.inbox:
        app._serve_link()
        replies += link.take()
    assert len(replies) == 1 and replies[0]["id"] == 4 and replies[0]["ok"] is True, replies


def test_serve_link_reports_no_work_when_nothing_arrived():
    app = make_app()
    assert app._serve_link() is False
    assert app.board.link.out == []


def test_a_huge_rate_over_the_wire_is_refused_with_limit_not_an_internal_error():
    app = make_app()
    for rate in (5000.001, 1e306):  # 1e306 uL/h is inf in nL/h
        err = error(app, "set_rate", {"rate_ul_h": rate})
        assert (err["code"], err.get("path")) == (LIMIT, "args.rate_ul_h"), (rate, err)
    assert app.ctl.rate_nl_h == 0


# ---- the main loop -------------------------------------------------------------------------

def run_until(app, end_ms):
    """Run the main loop until board time reaches end_ms; return the board times of each feed."""
    clock = app.board.clock
    feeds = []

    def on_feed():
        feeds.append(clock.now_ms())
        if clock.now_ms() >= end_ms:
            raise Escape()
    app.board.system.on_feed = on_feed
    expect_raises(Escape, app.run)
    return feeds


def test_the_main_loop_makes_the_motor_safe_arms_the_watchdog_and_announces_the_boot_first():
    app = make_app(system=FakeSystem(cause="power_on"))
    app.board.motor.enabled = True
    run_until(app, 0)
    assert app.board.motor.calls[0] == "disable"
    assert app.board.system.wdt.timeout_ms == 5000
    msgs = app.board.link.messages()
    assert msgs[0] == {"event": "boot", "data": {"reset_cause": "power_on", "board": "bench",
                                                "crash": None}}, msgs


def test_the_main_loop_steps_exactly_on_time_and_feeds_the_watchdog_every_idle_period():
    app = make_app()
    login(app, "clinician")
    app.board.link.take()
    app.board.link.queue(b'{"id": 1, "cmd": "set_rate", "args": {"rate_ul_h": 100}}\n'
                         b'{"id": 2, "cmd": "start"}\n')
    feeds = run_until(app, 10 * 60000)
    motor, clock = app.board.motor, app.board.clock
    # 100 uL/h of 0.1 uL steps: step k is owed at 3600 * k ms, and must be made at that ms
    assert motor.bursts == [(3600 * k, 1) for k in range(1, 167)], motor.bursts[:5]
    assert app.ctl.steps == 166
    for w in clock.waits:
        assert 0 < w <= IDLE_MS, clock.waits
    for a, b in zip(feeds, feeds[1:]):
        assert b - a <= IDLE_MS, (a, b)
    replies = [m for m in app.board.link.messages() if "id" in m]
    assert [r["ok"] for r in replies] == [True, True], replies


def test_a_reply_too_big_for_memory_is_answered_with_an_error_and_the_loop_goes_on():
    app = make_app()
    link = app.board.link
    real_write = link.write
    calls = [0]

    def write_failing_once(data):
        calls[0] += 1
        if calls[0] == 1:
            raise MemoryError("memory allocation failed")
        real_write(data)
    link.write = write_failing_once
    link.queue(b'{"id": 8, "cmd": "commands"}\n')
    assert app._serve_link() is True
    msgs = link.take()
    assert msgs[-1]["id"] == 8 and msgs[-1]["error"]["code"] == "internal", msgs
    assert "did not fit in memory" in msgs[-1]["error"]["message"]
    assert result(app, "status")["state"] == "stopped"
