# The program and bolus commands through the app and a fake link: upload, review, confirm, deliver, alarms.

import json

from pump.app import App
from pump.program import split_parts, PROGRAM_MAX_BYTES
from pump.wiring import Board

from fakes import (FakeClock, FakeLink, FakeMotor, FakeSystem, board_cfg, drug_library, ok,
                   refused, reply)

MS_PER_H = 3600000
WALL = 1767225600000 + 9 * MS_PER_H   # Thu 2026-01-01 09:00 local, ms since 1970 local


def make_app():
    clock = FakeClock()
    board = Board(board_cfg(), motor=FakeMotor(clock), clock=clock, link=FakeLink(),
                  pressure=None, system=FakeSystem())
    return App(board, drug_library())


def saline(rate_ml_day=2.4, **sections):
    doc = {"format": 1, "name": "bench saline", "purpose": "bench",
           "drug": {"name": "saline", "concentration": 9, "concentration_units": "mg/mL",
                    "dose_units": "mL/day"},
           "reservoir": {"capacity_ml": 20, "volume_ml": 20, "low_ml": 2},
           "basal": {"rate": rate_ml_day}}
    doc.update(sections)
    return doc


def send(app, doc):
    parts = split_parts(doc)
    ok(app, "program_begin", {"bytes": len(json.dumps(doc)), "parts": len(parts)})
    for i, (path, value) in enumerate(parts):
        ok(app, "program_part", {"index": i, "path": path, "value": value})
    return ok(app, "program_review", {"time_ms": WALL})


def load(app, doc, **confirm):
    review = send(app, doc)
    args = {"digest": review["digest"], "base": review["base"] or "", "time_ms": WALL}
    args.update(confirm)
    return ok(app, "program_confirm", args)


def run(app, ms, tick=1000):
    """The main loop's stepping, tick by tick, for ms of board time."""
    clock = app.board.clock
    end = clock.t + ms
    while clock.t < end:
        clock.t += tick
        n = app.ctl.due(clock.t)
        if n and app.safety.motor.step(n):
            app.ctl.taken(n)
            app.check_reservoir()


def test_a_program_is_applied_only_after_review_and_confirmation_of_its_digest():
    app = make_app()
    review = send(app, saline())
    assert len(review["digest"]) == 16 and review["base"] is None
    assert review["summary"]["drug"] == "saline"
    assert app.ctl.program is None                       # reviewed, not applied
    status = ok(app, "program_confirm", {"digest": review["digest"], "time_ms": WALL})
    assert status["mode"] == "program" and status["program"]["digest"] == review["digest"]
    assert status["reservoir_ul"] == 20000


def test_refuses_a_confirmation_whose_digest_is_not_the_one_under_review():
    app = make_app()
    first = send(app, saline(2.4))
    send(app, saline(1.2))                               # another review replaced it
    e = refused(app, "program_confirm", {"digest": first["digest"], "time_ms": WALL})
    assert e["code"] == "bad_state" and "changed after review" in e["message"], e
    assert app.ctl.program is None


def test_refuses_a_confirmation_when_the_pumps_program_changed_since_review():
    app = make_app()
    review = send(app, saline(2.4))
    app.pending_keep = app.pending
    load(app, saline(1.2))                               # someone else applied one meanwhile
    app.pending = app.pending_keep
    e = refused(app, "program_confirm", {"digest": review["digest"], "time_ms": WALL})
    assert e["code"] == "bad_state" and "changed since review" in e["message"], e
    assert app.ctl.program.days[0].rates_nl_day == [1200000]


def test_a_program_over_a_soft_limit_needs_an_explicit_override():
    app = make_app()
    doc = saline()
    doc["drug"] = {"name": "morphine", "concentration": 30, "concentration_units": "mg/mL",
                   "dose_units": "mg/day"}                # soft max 25 mg/mL
    doc["basal"] = {"rate": 1}
    review = send(app, doc)
    assert review["summary"]["soft"], review
    args = {"digest": review["digest"], "time_ms": WALL}
    e = refused(app, "program_confirm", args)
    assert e["code"] == "limit" and "soft" in e["message"], e
    assert app.ctl.program is None
    args["override_soft"] = True
    assert ok(app, "program_confirm", args)["mode"] == "program"


def test_a_program_the_pump_refuses_reports_every_problem_and_changes_nothing():
    app = make_app()
    load(app, saline(2.4))
    before = app.program_digest
    bad = saline(-1)
    bad["reservoir"]["volume_ml"] = 50
    parts = split_parts(bad)
    ok(app, "program_begin", {"bytes": 500, "parts": len(parts)})
    for i, (path, value) in enumerate(parts):
        ok(app, "program_part", {"index": i, "path": path, "value": value})
    e = refused(app, "program_review", {"time_ms": WALL})
    assert e["code"] == "bad_program", e
    assert "basal.rate" in e["message"] and "reservoir.volume_ml" in e["message"], e
    assert app.program_digest == before and app.pending is None


def test_refuses_a_program_larger_than_the_pumps_buffer_before_taking_any_part():
    app = make_app()
    e = refused(app, "program_begin", {"bytes": PROGRAM_MAX_BYTES + 1, "parts": 2})
    assert e["code"] == "limit" and str(PROGRAM_MAX_BYTES) in e["message"], e
    e = refused(app, "program_part", {"index": 0, "path": "", "value": {}})
    assert e["code"] == "bad_state", e


def test_a_part_out_of_order_abandons_the_upload():
    app = make_app()
    parts = split_parts(saline())
    ok(app, "program_begin", {"bytes": 300, "parts": len(parts)})
    e = refused(app, "program_part", {"index": 1, "path": parts[0][0], "value": parts[0][1]})
    assert e["code"] == "bad_state" and "expected part 0" in e["message"], e
    assert refused(app, "program_review", {"time_ms": WALL})["code"] == "bad_state"


def test_program_get_reads_back_the_applied_program_part_by_part():
    app = make_app()
    load(app, saline(2.4))
    first = ok(app, "program_get", {"index": 0})
    assert first["digest"] == app.program_digest and first["parts"] >= 1
    assert first["value"]["basal"] == {"rate": 2.4}


def test_a_running_program_delivers_its_rate_from_the_first_start():
    app = make_app()
    load(app, saline(2.4))                               # 100 uL/h = 1000 steps of 0.1 uL
    ok(app, "start")
    run(app, MS_PER_H)
    assert app.board.motor.steps == 1000, app.board.motor.steps


def test_set_rate_is_refused_while_a_program_is_applied_until_it_is_cleared():
    app = make_app()
    load(app, saline())
    assert refused(app, "set_rate", {"rate_ul_h": 10})["code"] == "bad_state"
    ok(app, "program_clear")
    assert ok(app, "set_rate", {"rate_ul_h": 10})["mode"] == "rate"


def test_the_reservoir_raises_low_then_empty_and_empty_stops_delivery():
    app = make_app()
    doc = saline(24)                                     # 1000 uL/h
    doc["reservoir"] = {"capacity_ml": 20, "volume_ml": 1, "low_ml": 0.5}
    load(app, doc)
    ok(app, "start")
    run(app, MS_PER_H // 2 + 1000)
    assert app.safety.codes() == ["reservoir_low"]
    run(app, MS_PER_H // 2 + 1000)
    assert app.safety.codes() == ["reservoir_empty", "reservoir_low"]
    assert app.safety.high_alarm()
    assert app.ctl.state == "stopped" and app.board.motor.steps == 10000
    e = refused(app, "start")
    assert e["code"] == "bad_state" and "reservoir_empty" in e["message"], e


def test_a_demand_bolus_is_given_then_refused_inside_the_lockout():
    app = make_app()
    load(app, saline(2.4, demand={"dose": 0.05, "duration_min": 10, "lockout_min": 60,
                                  "max_per_24h": 4}))
    assert refused(app, "bolus_demand")["code"] == "bad_state"   # not delivering yet
    ok(app, "start")
    r = ok(app, "bolus_demand")
    assert r["kind"] == "demand" and r["volume_nl"] == 50000, r
    run(app, 20 * 60000)
    e = refused(app, "bolus_demand")
    assert e["code"] == "limit" and "locked out" in e["message"], e


def test_a_clinician_bolus_over_the_librarys_hard_maximum_is_refused():
    app = make_app()
    doc = saline()
    doc["drug"] = {"name": "morphine", "concentration": 10, "concentration_units": "mg/mL",
                   "dose_units": "mg/day"}
    doc["basal"] = {"rate": 1}
    load(app, doc)
    ok(app, "start")
    e = refused(app, "bolus_clinician", {"dose": 3, "duration_min": 10})   # hard max 2 mg
    assert e["code"] == "bad_program" and "2 mg" in e["message"], e
    r = ok(app, "bolus_clinician", {"dose": 0.5, "duration_min": 10})
    assert r["kind"] == "clinician" and r["volume_nl"] == 50000, r
