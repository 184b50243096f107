# The pins' step count against the commands: pump.emitted_check and its alarms through the app.

from pump.app import App
from pump.emitted_check import CHECK_MS, LAG_MIN_STEPS, EmittedCheck
from pump.wiring import Board

from fakes import FakeClock, FakeLink, FakeMotor, FakeSystem, board_cfg, drug_library, ok, run_loop


def make_app():
    clock = FakeClock()
    motor = FakeMotor(clock)
    motor.bursts = None
    board = Board(board_cfg(), motor=motor, clock=clock, link=FakeLink(), pressure=None,
                  system=FakeSystem())
    return App(board, drug_library())


def start_delivering(app, rate_ul_h=1000):
    ok(app, "set_rate", {"rate_ul_h": rate_ul_h})
    ok(app, "start")
    run_loop(app, app.board.clock.t + 60000)
    assert app.safety.codes() == [] and app.board.motor.steps > 100, app.board.motor.steps


# ---- the rule ------------------------------------------------------------------------------

def test_a_driver_that_keeps_up_is_never_judged():
    c = EmittedCheck(200)
    for commanded in range(0, 5000, 7):
        assert c.judge(commanded - commanded % 3, commanded, True) is None


def test_one_step_more_than_commanded_is_an_excess():
    c = EmittedCheck(200)
    assert c.judge(101, 100, True) == ("excess", 101, 100)
    assert c.judge(101, 100, False) == ("excess", 101, 100)     # disabled or not


def test_a_driver_that_coasts_by_design_may_run_its_slack_past_the_commands_and_no_more():
    c = EmittedCheck(200, slack=2)
    assert c.judge(102, 100, True) is None
    assert c.judge(103, 100, True) == ("excess", 103, 100)


def test_a_lag_beyond_two_seconds_of_top_speed_is_judged_only_while_enabled():
    c = EmittedCheck(200)
    assert c.max_lag == 400
    assert c.judge(0, 400, True) is None
    assert c.judge(0, 401, True) == ("lag", 0, 401)
    assert c.judge(0, 401, False) is None
    assert EmittedCheck(1).max_lag == LAG_MIN_STEPS


def test_steps_dropped_by_a_disable_do_not_count_as_lag_after_the_next_enable():
    c = EmittedCheck(200)
    # 1000 commanded, 600 came out, then the motor was disabled and its queue dropped
    c.rebase(600, 1000)
    assert c.judge(650, 1050, True) is None
    assert c.judge(601, 1000, True) == ("excess", 1, 0)


def test_the_count_is_read_at_most_every_check_ms():
    c = EmittedCheck(200)
    assert c.due(0) and not c.due(CHECK_MS - 1) and c.due(CHECK_MS)


# ---- through the app -----------------------------------------------------------------------

def test_pulses_beyond_the_commanded_steps_raise_over_delivery_and_stop_the_motor():
    app = make_app()
    start_delivering(app)
    app.board.motor.out_extra = 1            # the pulse generator ran on by one step
    run_loop(app, app.board.clock.t + 1000)
    assert "over_delivery" in app.safety.codes(), app.safety.codes()
    assert app.ctl.state == "stopped" and app.board.motor.enabled is False
    alarm = [a for a in ok(app, "alarms")["alarms"] if a["code"] == "over_delivery"][0]
    assert "emitted" in alarm["detail"] and "commanded" in alarm["detail"], alarm


def test_commanded_steps_that_never_come_out_raise_motor_driver_fault():
    app = make_app()
    start_delivering(app, 5000)              # 50000 steps/h: about 14 a second
    app.board.motor.out_extra = -401         # the pins fell more than 2 s of 200 steps/s behind
    run_loop(app, app.board.clock.t + 1000)
    assert "motor_driver_fault" in app.safety.codes(), app.safety.codes()
    assert app.ctl.state == "stopped" and app.board.motor.enabled is False


def test_a_fault_the_driver_chip_reports_raises_motor_driver_fault_with_its_words():
    app = make_app()
    start_delivering(app)
    app.board.motor.fault_text = "over-temperature shutdown"
    run_loop(app, app.board.clock.t + 2000)
    assert app.ctl.state == "stopped" and app.board.motor.enabled is False
    alarm = [a for a in ok(app, "alarms")["alarms"] if a["code"] == "motor_driver_fault"][0]
    assert "over-temperature shutdown" in alarm["detail"], alarm


def test_a_restart_after_an_acknowledged_excess_judges_only_new_steps():
    app = make_app()
    start_delivering(app)
    app.board.motor.out_extra = 1
    run_loop(app, app.board.clock.t + 1000)
    ok(app, "alarm_ack", {"code": "over_delivery"})
    ok(app, "start")
    run_loop(app, app.board.clock.t + 60000)
    assert app.safety.codes() == [], app.safety.codes()
