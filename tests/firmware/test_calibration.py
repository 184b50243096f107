# Calibration through the app: the calibration run (guarded, counted, never blocking the loop)
# and the measured uL per step kept in calibration.json, applied at once and at every boot.

from fake_flash import FakeFlash, PowerCut
from fakes import (FakeClock, FakeLink, FakeMotor, FakeSystem, board_cfg, drug_library,
                   ok, refused, run_more)
from pump import calibration
from pump.app import App
from pump.commands import COMMANDS
from pump.wiring import Board
from test_app_programs import load, saline

MS_PER_H = 3600000


def boot(flash=None, cfg=None, cause="power_on"):
    """A board on `flash` (None: no storage), booted through App.run to its first wait."""
    clock = FakeClock()
    board = Board(cfg or board_cfg(), motor=FakeMotor(clock), clock=clock, link=FakeLink(),
                  pressure=None, system=FakeSystem(cause=cause))
    board.storage = flash
    board.motor.bursts = None
    app = App(board, drug_library())
    run_more(app, 0)
    return app


def events(app, name):
    """The events of that name pushed since the last reply was taken."""
    return [m["data"] for m in app.board.link.messages() if m.get("event") == name]


def logged(app, kind):
    """The event log's records of that kind (what survives a power cut)."""
    return [r for r in app.persist.log.read(0, 20) if r["k"] == kind]


# ---- the calibration run ---------------------------------------------------------------------

def test_a_calibration_run_moves_exactly_its_steps_at_the_board_rate_cap_without_starving_the_watchdog():
    app = boot()
    ok(app, "calibrate_run", {"steps": 2000})
    # 5000 uL/h at 0.1 uL/step is 50000 steps/h: 2000 steps take 144 s, not one long burst
    feeds = []
    run_more(app, 60000, feeds)
    assert 830 <= app.board.motor.steps <= 835, app.board.motor.steps
    assert app.board.motor.enabled is True
    run_more(app, 120000, feeds)
    assert app.board.motor.steps == 2000
    assert app.board.motor.enabled is False
    gaps = [b - a for a, b in zip(feeds, feeds[1:])]
    assert feeds and max(gaps) <= 1000, max(gaps)    # fed on every pass: never near its 5 s
    assert events(app, "calibration_run")[-1]["result"] == "done"
    cal = ok(app, "status")["calibration"]
    assert cal["run"]["result"] == "done" and cal["run"]["done"] == 2000
    assert abs(cal["run"]["elapsed_ms"] - 144000) <= 1000, cal["run"]


def test_a_calibration_run_ends_only_when_its_last_steps_have_left_the_driver():
    # a real board's pulse generator trails the commands: stopping at the last command would
    # cut its last batch, and the balance would weigh less than the steps counted
    app = boot()
    ok(app, "calibrate_run", {"steps": 2000})
    app.board.motor.out_extra = -5            # five steps still queued in the driver
    run_more(app, 150000)
    assert app.board.motor.steps == 2000 and app.board.motor.enabled is True
    assert app.cal_run is not None
    app.board.motor.out_extra = 0             # they came out
    run_more(app, 100)
    assert app.cal_run is None and app.board.motor.enabled is False
    assert events(app, "calibration_run")[-1]["result"] == "done"


def test_a_calibration_run_is_counted_against_the_reservoir_and_by_the_over_delivery_guard():
    app = boot()
    before = app.ctl.reservoir_pl
    ok(app, "calibrate_run", {"steps": 500})
    run_more(app, 60000)
    assert app.ctl.reservoir_pl == before - 500 * 100000        # 50 uL left the reservoir
    assert app.safety.guard.state()["counts"]["hour"] == 500    # the guard saw every step
    assert app.safety.motor.steps == 500
    assert app.ctl.steps == 0 and app.ctl.delivered_ul() == 0   # not therapy delivered
    # a refill afterwards counts the calibration's fluid as gone: no discrepancy for it
    r = ok(app, "refill", {"volume_ml": 20, "residual_ml": 19.95})
    assert abs(r["expected_ml"] - 19.95) < 1e-9 and r["alarm"] is False


def test_a_calibration_run_is_refused_while_delivering_with_a_high_alarm_or_beyond_the_reservoir():
    app = boot()
    ok(app, "set_rate", {"rate_ul_h": 100})
    ok(app, "start")
    assert refused(app, "calibrate_run", {"steps": 10})["code"] == "bad_state"
    ok(app, "stop")
    app.safety.latch("occlusion", "test")
    assert refused(app, "calibrate_run", {"steps": 10})["code"] == "bad_state"
    ok(app, "alarm_ack", {"code": "occlusion"})
    app.ctl.refill(1000 * 100000)                               # 1000 steps' worth
    e = refused(app, "calibrate_run", {"steps": 1001})
    assert e["code"] == "limit" and e["path"] == "args.steps", e
    assert refused(app, "calibrate_run", {"steps": 0})["code"] == "bad_arg"
    assert app.board.motor.steps == 0


def test_nothing_else_moves_or_refills_the_pump_while_a_calibration_run_is_moving():
    app = boot()
    ok(app, "set_rate", {"rate_ul_h": 100})
    ok(app, "calibrate_run", {"steps": 1000})
    run_more(app, 1000)
    assert refused(app, "start")["code"] == "bad_state"
    assert refused(app, "calibrate_run", {"steps": 10})["code"] == "bad_state"
    assert refused(app, "refill", {"volume_ml": 20, "residual_ml": 19})["code"] == "bad_state"
    assert refused(app, "calibration_set", {"ul_per_step": 0.1})["code"] == "bad_state"


def test_stop_ends_a_calibration_run_at_once_with_the_motor_off():
    app = boot()
    ok(app, "calibrate_run", {"steps": 1000})
    run_more(app, 10000)
    moved = app.board.motor.steps
    assert 0 < moved < 1000
    ok(app, "stop")
    run_more(app, 60000)
    assert app.board.motor.steps == moved and app.board.motor.enabled is False
    last = ok(app, "calibration")["run"]
    assert last["result"] == "aborted" and last["done"] == moved


def test_a_high_alarm_during_a_calibration_run_stops_the_motor():
    app = boot()
    ok(app, "calibrate_run", {"steps": 1000})
    run_more(app, 5000)
    app.safety.raise_alarm("occlusion", "test")
    moved = app.board.motor.steps
    run_more(app, 60000)
    assert app.board.motor.steps == moved and app.board.motor.enabled is False
    assert ok(app, "calibration")["run"]["result"] == "aborted"


def test_an_empty_reservoir_ends_a_calibration_run_with_its_alarm():
    app = boot()
    app.ctl.refill(50 * 100000)
    ok(app, "calibrate_run", {"steps": 50})
    app.ctl.reservoir_pl = 20 * 100000          # the count fell under the run (a refill slip)
    run_more(app, 30000)
    assert app.board.motor.steps == 20
    assert "reservoir_empty" in app.safety.codes()
    assert app.board.motor.enabled is False


# ---- the measured calibration ----------------------------------------------------------------

def test_the_calibration_commands_are_service_commands_and_reading_it_is_not():
    roles = dict((c["name"], c["role"]) for c in COMMANDS.describe())
    assert roles["calibrate_run"] == "service"
    assert roles["calibration_set"] == "service"
    assert roles["calibration"] == "patient"


def test_a_calibration_within_20_percent_is_kept_in_its_own_file_and_applied_at_once():
    flash = FakeFlash()
    app = boot(flash)
    assert ok(app, "calibration")["source"] == "board.json"
    r = ok(app, "calibration_set", {"ul_per_step": 0.105, "note": "2000 steps, 0.210 g"})
    assert r["ul_per_step"] == 0.105 and r["source"] == "calibration.json"
    assert "calibration.json" in flash.files and "board.json" not in flash.files
    # a rate is stepped with the new volume at once: 105 uL/h is 1000 steps an hour
    ok(app, "set_rate", {"rate_ul_h": 105})
    ok(app, "start")
    run_more(app, MS_PER_H)
    assert app.board.motor.steps == 1000
    assert app.safety.codes() == []                 # the guard counts in the new steps too
    rec = logged(app, "calibration")
    assert len(rec) == 1, rec
    assert rec[0]["ul_per_step"] == 0.105 and rec[0]["was_ul_per_step"] == 0.1, rec


def test_a_calibration_beyond_20_percent_of_board_json_needs_force():
    flash = FakeFlash()
    app = boot(flash)
    e = refused(app, "calibration_set", {"ul_per_step": 0.125})
    assert e["code"] == "limit" and "20%" in e["message"], e
    assert "calibration.json" not in flash.files and app.ctl.pl_per_step == 100000
    assert refused(app, "calibration_set", {"ul_per_step": 0})["code"] == "bad_arg"
    r = ok(app, "calibration_set", {"ul_per_step": 0.125, "force": True})
    assert r["ul_per_step"] == 0.125
    assert boot(flash.reboot()).ctl.pl_per_step == 125000    # forced is kept as forced


def test_a_calibration_is_refused_while_a_program_is_applied():
    app = boot(FakeFlash())
    load(app, saline())
    e = refused(app, "calibration_set", {"ul_per_step": 0.101})
    assert e["code"] == "bad_state" and "program" in e["message"]
    assert app.ctl.pl_per_step == 100000


def test_the_stored_calibration_overrides_board_json_at_every_boot():
    flash = FakeFlash()
    ok(boot(flash), "calibration_set", {"ul_per_step": 0.095})
    app = boot(flash.reboot())
    assert app.ctl.pl_per_step == 95000
    cal = ok(app, "status")["calibration"]
    assert cal == {"ul_per_step": 0.095, "source": "calibration.json", "board_ul_per_step": 0.1}


def test_a_stored_calibration_for_another_pump_head_is_not_used():
    flash = FakeFlash()
    ok(boot(flash), "calibration_set", {"ul_per_step": 0.095})
    cfg = board_cfg()
    cfg["calibration"]["ul_per_step"] = 0.2         # board.json now describes another head
    app = boot(flash.reboot(), cfg)
    cal = ok(app, "calibration")
    assert cal["ul_per_step"] == 0.2 and cal["source"] == "board.json"
    assert "calibrate again" in cal["problem"]


def test_a_corrupt_calibration_file_falls_back_to_board_json_and_says_why():
    flash = FakeFlash()
    flash.files["calibration.json"] = b'{"v": 1, "ul_per_step": 0.095, "board_ul_per_step": 0.1}\n1\n'
    cal = ok(boot(flash), "calibration")
    assert cal["source"] == "board.json" and cal["ul_per_step"] == 0.1
    assert "check" in cal["problem"]


def test_a_power_cut_while_a_calibration_is_saved_leaves_the_old_or_the_new_one_never_another():
    for fs, torn in (("littlefs", "prefix"), ("littlefs", "old"), ("fat", "prefix"), ("fat", "stale")):
        flash = FakeFlash(fs)
        ok(boot(flash), "calibration_set", {"ul_per_step": 0.0913})
        start = flash.spent
        ok(boot(flash.reboot()), "calibration_set", {"ul_per_step": 0.1087})
        cost = flash.spent - start
        for units in range(cost + 1):
            f = FakeFlash(fs)
            ok(boot(f), "calibration_set", {"ul_per_step": 0.0913})
            app = boot(f.reboot())
            f.arm(units, torn)
            try:
                app.calibration_set(0.1087)
            except PowerCut:
                pass
            ul = boot(f.reboot()).ctl.pl_per_step
            assert ul in (91300, 108700), (fs, torn, units, ul, f.files)


def test_a_board_without_storage_refuses_a_calibration_it_could_not_keep():
    app = boot(None)
    assert refused(app, "calibration_set", {"ul_per_step": 0.1})["code"] == "bad_state"
    assert app.ctl.pl_per_step == 100000


def test_the_calibration_file_is_refused_at_the_bounds_calibration_set_uses():
    assert calibration.check(0.08, 0.1) is None and calibration.check(0.12, 0.1) is None
    assert calibration.check(0.0799, 0.1) is not None and calibration.check(0.1201, 0.1) is not None
    assert calibration.check(0.5, 0.1, force=True) is None
    assert calibration.check(True, 0.1, force=True) is not None
    assert calibration.check(101, 0.1, force=True) is not None
