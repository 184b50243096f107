# Unit tests of pump.stall and the stall check through the app; run by pytest and tests/mprun.py.

from pump.app import App
from pump.stall import DEFAULTS, StallCheck, from_spec
from pump.wiring import Board

from fakes import (FakeClock, FakeLink, FakeMotor, FakeSystem, board_cfg, drug_library, lcg, ok,
                   reply, run_loop)

STALL_STEPS = DEFAULTS["stall_steps"]
CHECK_STEPS = DEFAULTS["check_steps"]


def drive(check, steps, seen_of, dt_ms=1000):
    """Command steps one at a time, dt_ms apart, reading the encoder (seen_of(commanded))
    whenever the check says so; return the steps commanded when it found a stall (None if it
    never did) and the number of reads."""
    reads = 0
    t = 0
    for c in range(1, steps + 1):
        t += dt_ms
        if check.due(t, c):
            reads += 1
            if check.check(t, c, seen_of(c)) is not None:
                return c, reads
    return None, reads


# ---- the rule ----------------------------------------------------------------------------

def test_a_motor_that_keeps_up_never_stalls_and_is_read_once_per_check_steps():
    found, reads = drive(StallCheck(), 100000, lambda c: c, dt_ms=100)
    assert found is None
    assert reads == 100000 // CHECK_STEPS, reads


def test_quantisation_of_a_few_steps_does_not_raise():
    # a coarse encoder read with steps still in flight: each reading 0 to 3 steps behind, at
    # random; the errors are in the readings, so they never add up
    behind = lcg(7)
    found, _ = drive(StallCheck(), 100000, lambda c: c - behind(4) if c > 3 else 0)
    assert found is None
    counts = lambda c: (c * 10 // 32) * 32 // 10     # one count every 3.2 steps
    assert drive(StallCheck(), 100000, counts)[0] is None


def test_a_full_stall_is_caught_within_stall_steps_plus_check_steps():
    for onset in range(1000, 1000 + CHECK_STEPS + 1):
        found, _ = drive(StallCheck(), 2000, lambda c: c if c < onset else onset)
        assert found is not None and found - onset <= STALL_STEPS + CHECK_STEPS, (onset, found)


def test_a_drive_losing_a_third_of_its_steps_is_caught_though_no_single_check_falls_that_far_behind():
    # each check sees fewer than 3 steps missing, under the 4-step tolerance: only the running
    # deficit (a third of a step lost per step, less the allowance) catches it
    seen = lambda c: c if c <= 1000 else 1000 + (c - 1000) * 2 // 3
    found, _ = drive(StallCheck(), 3000, seen)
    assert found is not None and found - 1000 <= 30, found


def test_a_slip_smaller_than_the_allowance_goes_unseen():
    # the recorded limit: 3 % lost is under the 5 % allowance; the refill reconciliation sees it
    assert drive(StallCheck(), 100000, lambda c: c * 97 // 100)[0] is None


def test_an_encoder_that_ran_ahead_builds_no_credit_against_a_later_stall():
    seen = lambda c: c + 500 if c < 1000 else 1500
    found, _ = drive(StallCheck(), 2000, seen)
    assert found is not None and found - 1000 <= STALL_STEPS + CHECK_STEPS, found


def test_the_encoder_is_read_after_check_steps_or_check_ms_and_never_while_nothing_is_commanded():
    st = StallCheck(check_steps=8, check_ms=5000)
    assert not st.due(1000, 7) and st.due(1000, 8)
    assert not st.due(4999, 1) and st.due(5000, 1)
    assert not st.due(10 ** 9, 0)                      # idle for ever: no read
    assert st.check(5000, 1, 1) is None
    assert not st.due(9999, 2) and st.due(10000, 2)


def test_a_stall_reports_what_was_commanded_and_seen_since_the_baseline():
    st = StallCheck(stall_steps=4, stall_fraction=0.0)
    assert st.check(1000, 100, 100) is None
    found = st.check(2000, 110, 104)
    assert found == {"commanded": 110, "seen": 104, "behind": 6.0, "limit": 4}, found


def test_rebaseline_forgets_the_deficit_so_the_next_run_is_judged_afresh():
    st = StallCheck()
    assert st.check(1000, 20, 0) is not None
    assert st.check(2000, 28, 8) is not None            # still behind: the deficit stays
    st.rebaseline(3000, 28, 8)
    assert st.check(4000, 36, 16) is None
    assert st.state() == {"commanded": 8, "seen": 8, "behind": 0.0, "limit": STALL_STEPS}


def test_the_stall_settings_come_from_the_encoder_role_with_defaults_for_the_rest():
    st = from_spec({"kind": "x", "stall_steps": 10, "check_ms": 2000})
    assert (st.stall_steps, st.stall_fraction, st.check_steps, st.check_ms) == (
        10, DEFAULTS["stall_fraction"], CHECK_STEPS, 2000)


# ---- through the app ---------------------------------------------------------------------

class FakeEncoder:
    """The motor's shaft: sees the FakeMotor's steps, less the fraction `lose` of them (set it
    between reads); `error` makes every read fail."""

    def __init__(self, motor):
        self.motor = motor
        self.lose = 0.0
        self.error = None
        self.reads = 0
        self._last = 0
        self._seen = 0.0

    def read_steps(self):
        self.reads += 1
        if self.error is not None:
            raise OSError(self.error)
        n = self.motor.steps - self._last
        self._last = self.motor.steps
        self._seen += n * (1.0 - self.lose)
        return int(self._seen)


def make_app(encoder=True):
    clock = FakeClock()
    motor = FakeMotor(clock)
    motor.bursts = None           # hours of steps: count them, do not log each one
    cfg = board_cfg()
    if encoder:
        cfg["drivers"]["encoder"] = {"kind": "fake"}
    board = Board(cfg, motor=motor, clock=clock, link=FakeLink(), pressure=None,
                  system=FakeSystem(), encoder=FakeEncoder(motor) if encoder else None)
    return App(board, drug_library())


def run_until_alarm(app, code, limit_ms, step_ms=1000):
    """Run the loop a second at a time until code is active; the board ms it took, or None."""
    t0 = app.board.clock.t
    while app.board.clock.t - t0 < limit_ms:
        run_loop(app, app.board.clock.t + step_ms)
        if code in app.safety.codes():
            return app.board.clock.t - t0
    return None


def test_raises_motor_stall_when_the_encoder_falls_behind_the_commanded_steps_and_stops_delivery():
    app = make_app()
    ok(app, "set_rate", {"rate_ul_h": 1000})           # 10000 steps an hour
    ok(app, "start")
    run_loop(app, 600000)
    assert app.safety.codes() == [] and app.board.motor.steps >= 1660
    at_fault = app.board.motor.steps
    app.board.encoder.lose = 1.0                       # the rotor stops turning
    took = run_until_alarm(app, "motor_stall", 60000)
    assert took is not None and took <= 10000, took
    motor = app.board.motor
    assert motor.steps - at_fault <= STALL_STEPS + CHECK_STEPS + 1, motor.steps - at_fault
    assert app.ctl.state == "stopped" and motor.enabled is False
    alarm = ok(app, "alarms")["alarms"][0]
    assert alarm["code"] == "motor_stall" and alarm["priority"] == "high", alarm
    assert alarm["detail"].startswith("commanded %d steps, encoder saw " % motor.steps), alarm
    assert reply(app, "start")["ok"] is False          # latched until acknowledged


def test_a_board_without_an_encoder_never_raises_motor_stall():
    app = make_app(encoder=False)
    assert app.safety.stall is None
    ok(app, "set_rate", {"rate_ul_h": 1000})
    ok(app, "start")
    run_loop(app, 3600000)                             # whatever the rotor does, nothing can tell
    assert app.safety.codes() == [] and app.ctl.state == "running"
    assert "stall" not in ok(app, "status")


def test_acknowledging_motor_stall_judges_the_next_start_afresh():
    app = make_app()
    enc = app.board.encoder
    ok(app, "set_rate", {"rate_ul_h": 1000})
    ok(app, "start")
    run_loop(app, 60000)
    enc.lose = 1.0
    assert run_until_alarm(app, "motor_stall", 60000) is not None
    enc.lose = 0.0                                      # the pump head is fixed
    ok(app, "alarm_ack", {"code": "motor_stall"})
    assert app.safety.codes() == []
    ok(app, "start")
    run_loop(app, app.board.clock.t + 3600000)         # the steps lost before do not count now
    assert app.safety.codes() == [] and app.ctl.state == "running"
    enc.lose = 0.5                                      # and a new stall is caught as the first was
    assert run_until_alarm(app, "motor_stall", 60000) is not None


def test_an_unreadable_encoder_raises_motor_stall_and_stops_delivery():
    app = make_app()
    ok(app, "set_rate", {"rate_ul_h": 1000})
    ok(app, "start")
    run_loop(app, 60000)
    app.board.encoder.error = "bus error"
    assert run_until_alarm(app, "motor_stall", 10000) is not None
    assert app.ctl.state == "stopped"
    assert "cannot read the encoder" in ok(app, "alarms")["alarms"][0]["detail"]
    reads = app.board.encoder.reads
    run_loop(app, app.board.clock.t + 60000)
    assert app.board.encoder.reads == reads            # no read on every pass while it is down
    r = ok(app, "alarm_ack", {"code": "motor_stall"})   # still unreadable: the alarm is back
    assert [a["code"] for a in r["alarms"]] == ["motor_stall"], r


def test_the_encoder_is_read_once_per_check_not_on_every_step():
    app = make_app()
    ok(app, "set_rate", {"rate_ul_h": 1000})
    ok(app, "start")
    run_loop(app, 3600000)
    steps, reads = app.board.motor.steps, app.board.encoder.reads
    assert app.safety.codes() == [] and steps >= 9990
    assert steps // CHECK_STEPS - 2 <= reads <= steps // CHECK_STEPS + 1, (steps, reads)
    st = ok(app, "status")["stall"]
    assert st["behind"] == 0 and st["seen"] <= st["commanded"] <= st["seen"] + CHECK_STEPS, st
