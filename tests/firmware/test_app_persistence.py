# What the pump keeps across resets and power cuts, through the app: program, journal, log, resume policy.

from fake_flash import FakeFlash, PowerCut
from fakes import (FakeClock, FakeLink, FakeMotor, FakeSystem, board_cfg, drug_library,
                   expect_raises, login, ok, refused, run_more)
from pump.app import App
from pump.records import frame
from pump.wiring import Board
from test_app_programs import WALL, load, saline

MS_PER_H = 3600000


class RtcClock(FakeClock):
    """A board clock with a real-time clock: `rtc` (a dict shared across boots) is the chip."""

    def __init__(self, rtc):
        FakeClock.__init__(self)
        self.rtc = rtc

    def rtc_ms(self):
        off = self.rtc.get("offset")
        return None if off is None else self.t + off

    def set_rtc_ms(self, wall_ms):
        self.rtc["offset"] = wall_ms - self.t


def boot(flash, cause="power_on", rtc=None):
    """A board booting on `flash` (what a power cut or reset left), its clock at 0."""
    clock = FakeClock() if rtc is None else RtcClock(rtc)
    board = Board(board_cfg(), motor=FakeMotor(clock), clock=clock, link=FakeLink(),
                  pressure=None, system=FakeSystem(cause=cause))
    board.storage = flash
    board.motor.bursts = None
    app = App(board, drug_library())
    run_more(app, 0)     # the boot: restore, resume, then the loop's first pass
    return app


def test_a_confirmed_program_and_the_reservoir_count_come_back_after_a_power_cut():
    flash = FakeFlash()
    app = boot(flash)
    run_more(app, 1000)
    load(app, saline(2.4))
    ok(app, "start")
    run_more(app, 2 * MS_PER_H)
    res = app.ctl.reservoir_pl
    again = boot(flash.reboot())
    run_more(again, 1000)
    assert again.program_digest == app.program_digest and again.ctl.program is not None
    # the journal is at most one interval behind: 60 s at 100 uL/h is under 2 uL
    assert 0 <= again.ctl.reservoir_pl - res <= 2 * 10 ** 6, (again.ctl.reservoir_pl, res)


def test_a_rate_delivery_resumes_by_itself_after_a_power_cut_without_making_up_the_gap():
    flash = FakeFlash()
    app = boot(flash)
    ok(app, "set_rate", {"rate_ul_h": 100})
    ok(app, "start")
    run_more(app, MS_PER_H)
    steps = app.ctl.steps
    again = boot(flash.reboot())
    run_more(again, 600000)               # ten minutes after the power came back
    assert again.ctl.state == "running"
    # 10 minutes at 100 uL/h is 166 steps: nothing of the time off is added
    assert again.ctl.steps - steps <= 166 + 1, again.ctl.steps - steps


def test_after_a_watchdog_reset_the_pump_comes_back_stopped_with_its_counts():
    flash = FakeFlash()
    app = boot(flash)
    ok(app, "set_rate", {"rate_ul_h": 100})
    ok(app, "start")
    run_more(app, MS_PER_H)
    again = boot(flash.reboot(), cause="watchdog")
    run_more(again, 60000)
    assert again.ctl.state == "stopped" and again.ctl.steps > 0
    assert "watchdog_reset" in again.safety.codes()


def a_pump_an_hour_into_a_primed_program():
    """The flash of a pump an hour into 1.2 mL/day after a 30 min priming bolus."""
    flash = FakeFlash()
    app = boot(flash)
    load(app, saline(1.2, catheter={"length_cm": 90, "ul_per_cm": 2}, prime={"duration_min": 30}))
    ok(app, "start")
    run_more(app, MS_PER_H)
    assert app.ctl.steps > 1800            # the 180 uL prime went out
    return flash


def steps_in_the_hour_after_the_time_is_set(app):
    """A pump back from a power cut, waiting for the time: told it and started, the steps it
    takes in the next hour."""
    steps = app.ctl.steps
    ok(app, "time_sync", {"time_ms": WALL + 2 * MS_PER_H})
    assert "time_unknown" not in app.safety.codes()
    ok(app, "start")
    run_more(app, MS_PER_H)
    return app.ctl.steps - steps


def test_a_program_that_was_delivering_waits_for_the_time_and_never_gives_the_prime_again():
    flash = a_pump_an_hour_into_a_primed_program()
    again = boot(flash.reboot())
    run_more(again, 1000)
    assert again.ctl.state == "stopped" and "time_unknown" in again.safety.codes()
    moved = steps_in_the_hour_after_the_time_is_set(again)
    # basal only: 1.2 mL/day is 50 uL/h, 500 steps; the prime would have added 1800
    assert moved <= 501, moved


def test_a_second_power_cut_before_the_restart_still_never_gives_the_prime_again():
    # found by the soak: a journal written while the pump waited for the time after the first
    # cut dropped where the program was, and the second cut's boot began it afresh
    flash = a_pump_an_hour_into_a_primed_program()
    again = boot(flash.reboot())
    run_more(again, 120000)               # waiting for the time: two journal intervals pass
    third = boot(flash.reboot())
    run_more(third, 1000)
    moved = steps_in_the_hour_after_the_time_is_set(third)
    # basal only: 500 steps in the hour; the prime again would have added 1800
    assert moved <= 501, moved


def a_pump_that_gave_a_demand_bolus_a_minute_ago():
    """The flash of a pump delivering 2.4 mL/day with a 60 min demand lockout, a minute after
    its demand bolus started."""
    flash = FakeFlash()
    app = boot(flash)
    load(app, saline(2.4, demand={"dose": 0.05, "duration_min": 10, "lockout_min": 60,
                                  "max_per_24h": 4}))
    ok(app, "start")
    run_more(app, 60000)
    ok(app, "bolus_demand")
    run_more(app, 60000)
    return flash


def test_demand_boluses_still_count_after_a_watchdog_reset_and_a_power_cut_before_the_restart():
    flash = a_pump_that_gave_a_demand_bolus_a_minute_ago()
    again = boot(flash.reboot(), cause="watchdog")
    run_more(again, 120000)               # stopped until acknowledged: the journal goes on
    third = boot(flash.reboot())
    run_more(third, 1000)
    ok(third, "time_sync", {"time_ms": WALL + 5 * 60000})
    for code in third.safety.codes():
        ok(third, "alarm_ack", {"code": code})
    ok(third, "start")
    err = refused(third, "bolus_demand")
    assert err["code"] == "limit" and "locked out" in err["message"], err


def test_a_demand_bolus_given_before_a_reset_still_counts_against_the_lockout():
    flash = a_pump_that_gave_a_demand_bolus_a_minute_ago()
    again = boot(flash.reboot(), cause="soft")
    run_more(again, 1000)
    ok(again, "time_sync", {"time_ms": WALL + 3 * 60000})
    ok(again, "start")
    err = refused(again, "bolus_demand")
    assert err["code"] == "limit" and "locked out" in err["message"], err


def test_a_store_whose_slots_are_both_corrupt_raises_an_alarm_and_no_program_runs():
    flash = FakeFlash()
    app = boot(flash)
    load(app, saline(2.4))
    load(app, saline(1.2))
    for name in ("prog_a", "prog_b"):
        flash.files[name] = flash.files[name][:40] + b"garbage" + flash.files[name][47:]
    again = boot(flash)
    run_more(again, 1000)
    assert "program_store_bad" in again.safety.codes() and again.ctl.program is None
    assert refused(again, "start")["code"] == "bad_state"


def test_a_cut_while_a_new_program_is_stored_leaves_the_old_one_in_use():
    flash = FakeFlash("fat")
    app = boot(flash)
    load(app, saline(2.4))
    first = app.program_digest
    flash.arm(300)
    expect_raises(PowerCut, load, app, saline(1.2))
    again = boot(flash.reboot())
    run_more(again, 1000)
    assert again.program_digest == first


def test_every_command_that_changes_something_is_logged_but_status_polls_are_not():
    app = boot(FakeFlash())
    run_more(app, 1000)
    ok(app, "status")
    ok(app, "set_rate", {"rate_ul_h": 100})
    refused(app, "bolus_demand")
    ok(app, "start")
    recs = app.persist.log.read(0, 20)
    # a command is logged once its handler is done, after the events it caused; the role proven
    # for set_rate is logged before it
    assert [r["k"] for r in recs] == ["boot", "auth", "command", "command", "state", "command"], recs
    assert recs[1]["role"] == "clinician"
    assert recs[2]["cmd"] == "set_rate" and recs[2]["args"] == {"rate_ul_h": 100}
    assert isinstance(recs[2]["rid"], int)   # the request id: what a host that lost the reply looks for
    assert recs[3]["cmd"] == "bolus_demand" and recs[3]["ok"] is False
    page = ok(app, "log_read", {"since": 3})
    assert [r["seq"] for r in page["records"]] == [4, 5, 6]


def test_each_local_midnight_logs_the_day_delivered_beside_the_programmed_volume():
    app = boot(FakeFlash())
    app.persist.journal.interval_ms = 600000   # fewer copies of the fake's files: MicroPython's RAM
    load(app, saline(2.4))                 # 2.4 mL a day, applied at 09:00
    ok(app, "start")
    run_more(app, 40 * MS_PER_H)           # to 01:00 two days later
    days = [r for r in app.persist.log.read(0, 20) if r["k"] == "day"]
    assert len(days) == 2, days
    first, second = days
    assert second["day"] == first["day"] + 1
    assert second["programmed_ul"] == 2400.0
    # the first day began at 09:00: 15 h of 2.4 mL/day; the second was whole
    assert abs(first["delivered_ul"] - 1500) <= 0.2, first
    assert abs(second["delivered_ul"] - 2400) <= 0.2, second


# ---- restarts in the middle of things ------------------------------------------------------

def _steps_over(app, ms):
    before = app.ctl.steps
    run_more(app, ms)
    return app.ctl.steps - before


def _restart_synced(flash, wall_ms, cause="soft"):
    again = boot(flash.reboot(), cause=cause)
    ok(again, "time_sync", {"time_ms": wall_ms})
    ok(again, "start")
    return again


def test_a_demand_bolus_cut_short_by_a_reset_is_not_resumed_but_still_counts():
    flash = FakeFlash()
    app = boot(flash)
    load(app, saline(2.4, demand={"dose": 0.05, "duration_min": 10, "lockout_min": 60,
                                  "max_per_24h": 4}))
    ok(app, "start")
    run_more(app, 60000)
    ok(app, "bolus_demand")                  # 50 uL over 10 minutes
    run_more(app, 120000)                    # cut 2 minutes in
    again = _restart_synced(flash, WALL + 4 * 60000)
    # the next 10 minutes: basal only (2.4 mL/day is 16.7 uL in 10 min, 166 steps), no 40 uL rest
    assert _steps_over(again, 600000) <= 167
    assert again.ctl.delivery.bolus_status(again.now() - again.ctl.t0)["demand_used_24h"] == 1


def test_a_periodic_bolus_cut_short_by_a_reset_is_not_resumed():
    flash = FakeFlash()
    app = boot(flash)                        # the program starts at 09:00
    load(app, saline(2.4, periodic={"dose": 0.1, "duration_min": 60, "interval_min": 360,
                                    "first": "09:30"}))
    ok(app, "start")
    run_more(app, 50 * 60000)                # 09:50: the 100 uL periodic bolus is 20 minutes in
    again = _restart_synced(flash, WALL + 51 * 60000)
    # 09:51 to 10:31: basal only, 66.7 uL (666 steps); the rest of the bolus would add 65 uL
    assert _steps_over(again, 40 * 60000) <= 667
    # and the next one, at 15:30, comes as programmed
    run_more(again, 5 * MS_PER_H)            # to 15:31
    assert again.ctl.delivery.bolus_status(again.now() - again.ctl.t0)["active"] == "periodic"


def test_a_restart_across_a_flex_step_change_runs_the_step_of_the_time_of_day():
    flash = FakeFlash()
    app = boot(flash)
    doc = saline(None, flex={"steps": [{"start": "00:00", "rate": 1.2},
                                       {"start": "10:00", "rate": 4.8}]})
    del doc["basal"]
    load(app, doc)
    ok(app, "start")
    run_more(app, 58 * 60000)                # 09:58, at 1.2 mL/day
    again = _restart_synced(flash, WALL + 62 * 60000)   # back at 10:02
    # 4.8 mL/day is 200 uL/h: 2000 steps an hour, not the 500 of the step before
    assert abs(_steps_over(again, MS_PER_H) - 2000) <= 1


def test_a_refill_cut_at_any_byte_leaves_the_reservoir_before_or_after_it_and_a_readable_log():
    base = FakeFlash()
    app = boot(base)
    load(app, saline(2.4))
    ok(app, "start")
    run_more(app, MS_PER_H)
    ok(app, "stop")
    before = app.ctl.reservoir_pl
    snapshot = dict(base.files)
    # how many bytes the refill writes, uncut
    probe = FakeFlash()
    probe.files = dict(snapshot)
    spent = probe.spent
    ok(boot(probe), "refill", {"volume_ml": 20, "residual_ml": 19.9})
    total = probe.spent - spent
    after = 20 * 10 ** 9
    outcomes = set()
    for k in range(0, total + 400, 7):
        flash = FakeFlash()
        flash.files = dict(snapshot)
        pump = boot(flash)
        login(pump, "clinician")
        flash.arm(k)
        try:
            ok(pump, "refill", {"volume_ml": 20, "residual_ml": 19.9})
        except PowerCut:
            pass
        again = boot(flash.reboot())
        res = again.ctl.reservoir_pl
        assert res in (before, after), (k, res)
        outcomes.add(res)
        assert again.persist.log.read(0, 20)      # readable, never raises
    assert outcomes == {before, after}


def test_journal_files_of_garbage_or_a_newer_version_raise_an_alarm_and_the_boot_goes_on():
    newer = frame(999, '{"v": 99, "steps": 5}').encode()     # a valid record of a later firmware
    for content in (b"\x00\xff garbage that is no record\n" * 20, newer):
        flash = FakeFlash()
        app = boot(flash)
        load(app, saline(2.4))
        flash.files["jrnl0"] = content
        flash.files["jrnl1"] = b""
        again = boot(flash)
        assert "storage_fault" in again.safety.codes(), content
        assert again.program_digest == app.program_digest     # the program is still there
        assert again.ctl.steps == 0                           # counts from the program, not garbage


def test_a_store_slot_of_garbage_a_newer_version_or_too_large_is_refused_with_an_alarm():
    from pump.program_store import MAX_FILE
    for content in (b"garbage" * 10, b'{"v": 2, "seq": 9, "len": 3, "crc": 0}\nabc',
                    b"x" * (MAX_FILE + 1)):
        flash = FakeFlash()
        flash.files["prog_a"] = content
        again = boot(flash)
        assert "program_store_bad" in again.safety.codes() and again.ctl.program is None
        detail = again.safety.describe(again.now())["alarms"][0]["detail"]
        assert "prog_a" in detail, detail


def test_the_journal_is_written_as_a_bolus_starts_and_ends_and_a_cut_one_is_logged():
    flash = FakeFlash()
    app = boot(flash)
    app.persist.journal.interval_ms = 3600000     # an hour: only the bolus edges write sooner
    load(app, saline(2.4, periodic={"dose": 0.1, "duration_min": 20, "interval_min": 360,
                                    "first": "09:30"}))
    ok(app, "start")
    run_more(app, 31 * 60000)                     # 09:31: the bolus started at 09:30
    assert app.persist.journal.last()["program"]["bolus"] == "periodic"
    run_more(app, 20 * 60000)                     # 09:51: it ended at 09:50
    assert app.persist.journal.last()["program"]["bolus"] is None
    assert app.persist.journal.last()["up"] <= 50 * 60000 + 1000
    # a reset in the middle of the next one: the cut bolus is in the log
    run_more(app, 6 * MS_PER_H - 10 * 60000)      # 15:41, the 15:30 bolus is running
    again = boot(flash.reboot())
    log = again.persist.log.read(0, 600)
    cut = [r for r in log if r["k"] == "bolus_interrupted"]
    assert cut and cut[0]["kind"] == "periodic", log[-5:]


def test_a_program_resumes_by_itself_after_a_soft_reset_when_the_rtc_kept_the_time():
    flash, rtc = FakeFlash(), {}
    app = boot(flash, rtc=rtc)
    load(app, saline(2.4))                     # sets the time: the RTC keeps it
    ok(app, "start")
    run_more(app, MS_PER_H)
    # the RTC ran on through the reset: the new boot's clock starts at 0, the time of day not
    rtc["offset"] += app.board.clock.t
    again = boot(flash.reboot(), cause="soft", rtc=rtc)
    assert again.ctl.state == "running" and "time_unknown" not in again.safety.codes()
    assert again.wall_ms(again.now()) == WALL + MS_PER_H
    # a power cut takes the RTC with it (no backup battery): then the time is unknown
    rtc.clear()
    cold = boot(flash.reboot(), rtc=rtc)
    assert cold.ctl.state == "stopped" and "time_unknown" in cold.safety.codes()


def test_a_latched_high_alarm_outlives_a_power_cut_and_holds_delivery_until_acknowledged():
    flash = FakeFlash()
    app = boot(flash)
    ok(app, "set_rate", {"rate_ul_h": 100})
    ok(app, "start")
    run_more(app, 60000)
    app.safety.raise_alarm("occlusion", "line not draining")
    app.safety.condition_gone("occlusion")
    again = boot(flash.reboot())
    assert "occlusion" in again.safety.codes() and again.ctl.state == "stopped"
    assert refused(again, "start")["code"] == "bad_state"
    ok(again, "alarm_ack", {"code": "occlusion"})
    assert ok(again, "start")["state"] == "running"
