# The guards through the app: watchdog feeding, the over-delivery guard, alarms, refill reconciliation.

from pump.app import App
from pump.safety import SUPPLY_PERIOD_MS, TASK_MAX_MS
from pump.wiring import Board

from fakes import (FakeClock, FakeLink, FakeMotor, FakePressure, FakeSystem, board_cfg, drug_library, expect_raises,
                   ok, reply,
                   run_loop, run_more)


class FakeFaults:
    """The rig's fault switches, as drivers/sim_faults.py offers them."""

    def __init__(self, *names):
        self.on = set(names)

    def active(self, name):
        return name in self.on


def make_app(faults=None, cause="power_on", cfg=None, supply=None, annunciator=None, pressure=None):
    clock = FakeClock()
    board = Board(cfg or board_cfg(), motor=FakeMotor(clock), clock=clock, link=FakeLink(),
                  pressure=pressure, system=FakeSystem(cause=cause), faults=faults, supply=supply,
                  annunciator=annunciator)
    board.motor.bursts = None     # runs here are hours long: count steps, do not log each one
    return App(board, drug_library())


def test_the_watchdog_is_not_fed_once_a_task_stops_checking_in():
    faults = FakeFaults()
    app = make_app(faults)
    feeds = run_loop(app, 10000)
    assert feeds and feeds[-1] >= 9500
    faults.on.add("hang:link")
    later = run_loop(app, 20000)
    assert later, "fed until the link task is overdue"
    assert max(later) <= 10000 + TASK_MAX_MS + 500, later[-3:]


def test_a_watchdog_reset_raises_a_latched_high_alarm_and_start_waits_for_acknowledgement():
    app = make_app(cause="watchdog")
    run_loop(app, 1000)
    assert app.safety.codes() == ["watchdog_reset"]
    ok(app, "set_rate", {"rate_ul_h": 100})
    r = reply(app, "start")
    assert r["ok"] is False and "watchdog_reset" in r["error"]["message"], r
    ok(app, "alarm_ack", {"code": "watchdog_reset"})
    assert ok(app, "start")["state"] == "running"


def test_a_runaway_planner_is_cut_by_the_guard_and_raises_over_delivery():
    faults = FakeFaults()
    app = make_app(faults)
    ok(app, "set_rate", {"rate_ul_h": 100})
    ok(app, "start")
    run_loop(app, 60000)
    normal = app.board.motor.steps
    assert normal == 16                               # 100 uL/h for a minute, 0.1 uL steps
    faults.on.add("planner_runaway")
    run_loop(app, 120000)
    motor = app.board.motor
    assert "over_delivery" in app.safety.codes()
    assert app.ctl.state == "stopped" and motor.enabled is False
    # the guard counts what was commanded: at most its minute limit got through
    limit = app.safety.guard.state()["limits"]["minute"]
    assert motor.steps - normal <= limit + app.ctl.max_burst, (motor.steps, limit)
    assert reply(app, "start")["ok"] is False
    ok(app, "alarm_ack", {"code": "over_delivery"})
    faults.on.discard("planner_runaway")
    assert ok(app, "start")["state"] == "running"


def test_alarms_are_listed_with_what_to_do_acknowledged_and_silenced_for_two_minutes():
    app = make_app()
    app.safety.raise_alarm("reservoir_low")
    listed = ok(app, "alarms")
    assert [a["code"] for a in listed["alarms"]] == ["reservoir_low"]
    assert listed["alarms"][0]["hint"]
    assert listed["annunciation"]["priority"] == "medium"
    silenced = ok(app, "alarm_silence")
    assert silenced["annunciation"]["buzzer"] is None
    app.board.clock.t += 120001
    assert ok(app, "alarms")["annunciation"]["buzzer"] is not None
    r = reply(app, "alarm_ack", {"code": "no_such_alarm"})
    assert r["ok"] is False and r["error"]["code"] == "bad_arg"


def test_a_refill_whose_residual_differs_beyond_the_limit_raises_a_discrepancy_alarm():
    app = make_app()
    ok(app, "set_rate", {"rate_ul_h": 200})
    ok(app, "start")
    run_loop(app, 3600000)                            # 0.2 mL delivered from 20 mL
    ok(app, "stop")
    fine = ok(app, "refill", {"volume_ml": 20, "residual_ml": 19.81})  # 5% of 0.2 mL off
    assert fine["alarm"] is False and abs(fine["expected_ml"] - 19.8) < 1e-9
    assert app.safety.codes() == []
    ok(app, "start")
    run_loop(app, 2 * 3600000)
    ok(app, "stop")
    bad = ok(app, "refill", {"volume_ml": 20, "residual_ml": 19.75})  # 0.05 mL less: 25%
    assert bad["alarm"] is True and bad["discrepancy_pct"] < -14.5
    assert "reservoir_discrepancy" in app.safety.codes()


class FakeSupply:
    def __init__(self, volts):
        self.volts = volts

    def read_v(self):
        return self.volts


def test_a_falling_supply_raises_low_then_end_of_service_which_stops_delivery():
    cfg = board_cfg()
    cfg["drivers"]["supply"] = {"kind": "fake", "low_v": 4.6, "end_v": 4.3}
    supply = FakeSupply(5.0)
    app = make_app(cfg=cfg, supply=supply)
    ok(app, "set_rate", {"rate_ul_h": 100})
    ok(app, "start")
    run_loop(app, 20000)
    assert app.safety.codes() == []
    supply.volts = 4.5
    run_loop(app, 20000 + SUPPLY_PERIOD_MS + 1000)
    assert app.safety.codes() == ["supply_low"] and app.ctl.state == "running"
    supply.volts = 4.2
    run_loop(app, 20000 + 2 * SUPPLY_PERIOD_MS + 2000)
    assert "supply_end_of_service" in app.safety.codes() and app.ctl.state == "stopped"


class FakeAnnunciator:
    def __init__(self):
        self.shown = []
        self.safe = False

    def show(self, led, buzzer):
        self.shown.append((led, buzzer))

    def safe_state(self):
        self.safe = True


def test_the_led_and_buzzer_follow_the_alarms_and_the_sound_returns_after_a_silence():
    ann = FakeAnnunciator()
    app = make_app(annunciator=ann)
    app.safety.raise_alarm("reservoir_empty")
    assert ann.shown[-1] == ("red_flash_fast", "burst_10")
    ok(app, "alarm_silence")
    assert ann.shown[-1] == ("red_flash_fast", None)     # still seen, not heard
    run_loop(app, 125000)
    assert ann.shown[-1] == ("red_flash_fast", "burst_10")


def test_a_fault_puts_every_actuator_in_its_safe_state_motor_first():
    clock = FakeClock()
    ann = FakeAnnunciator()
    motor = FakeMotor(clock)
    motor.enabled = True
    board = Board(board_cfg(), motor=motor, clock=clock, link=FakeLink(), pressure=None,
                  system=FakeSystem(), annunciator=ann)
    board.safe_state()
    assert motor.enabled is False and ann.safe is True


def test_a_hung_control_task_never_spins_the_loop_so_the_watchdog_goes_unfed():
    faults = FakeFaults()
    app = make_app(faults)
    ok(app, "set_rate", {"rate_ul_h": 1000})
    ok(app, "start")
    run_loop(app, 5000)
    faults.on.add("hang:control")
    feeds = run_loop(app, 15000)        # would never return if overdue steps made the loop spin
    assert feeds and max(feeds) <= 5000 + TASK_MAX_MS + 1000, feeds[-3:]


def test_a_task_that_stops_checking_in_raises_task_stalled_naming_it_and_stops_delivery():
    faults = FakeFaults()
    app = make_app(faults)
    ok(app, "set_rate", {"rate_ul_h": 1000})
    ok(app, "start")
    run_loop(app, 5000)
    faults.on.add("hang:link")
    run_loop(app, 5000 + TASK_MAX_MS + 1500)
    assert app.safety.codes() == ["task_stalled"]
    detail = app.safety.describe(app.now())["alarms"][0]["detail"]
    assert detail.startswith("link: no check-in for"), detail
    assert app.ctl.state == "stopped" and app.board.motor.enabled is False


def test_a_boot_after_a_crash_raises_a_latched_internal_fault_that_names_the_error():
    app = make_app()
    app.crashed = "RuntimeError: boom"
    run_loop(app, 1000)
    assert app.safety.codes() == ["internal_fault"]
    assert "RuntimeError: boom" in app.safety.describe(app.now())["alarms"][0]["detail"]
    ok(app, "set_rate", {"rate_ul_h": 100})
    assert reply(app, "start")["ok"] is False
    ok(app, "alarm_ack", {"code": "internal_fault"})
    assert ok(app, "start")["state"] == "running"


def test_an_injected_crash_escapes_the_loop_for_main_to_handle():
    faults = FakeFaults("crash")
    app = make_app(faults)
    e = expect_raises(RuntimeError, app.run)
    assert "injected crash" in str(e)


def test_an_occlusion_cleared_hours_after_the_alarm_stopped_the_pump_is_still_seen_to_clear():
    # a stopped pump's detectors stop asking for readings: the alarm's own watch must go on
    pressure = FakePressure(1.0)
    app = make_app(pressure=pressure)
    ok(app, "set_rate", {"rate_ul_h": 500})
    ok(app, "start")
    run_loop(app, 30 * 60000)
    pressure.kpa = 60.0                       # blocked: far above any threshold
    run_more(app, 10 * 60000)
    s = ok(app, "status")
    assert s["state"] == "stopped" and "occlusion" in s["alarms"], s
    run_more(app, 6 * 3600000)
    pressure.kpa = 1.0                        # cleared
    run_more(app, 5000)
    s = ok(app, "status")
    assert s["occlusion"]["released_ul"] is not None, s["occlusion"]
    alarm = [a for a in ok(app, "alarms")["alarms"] if a["code"] == "occlusion"]
    assert len(alarm) == 1 and alarm[0]["condition"] is False, alarm
