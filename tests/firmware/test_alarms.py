# Unit tests of pump.alarms (alarm table, AlarmSet); plain functions for pytest and tests/mprun.py.

from pump.alarms import (TABLE, PATTERNS, LEDS, BUZZERS, PRIORITIES, SILENCE_MS, MAX_EVENTS,
                         AlarmSet, HIGH, MEDIUM, LOW, INFO)
from pump.errors import PumpError, BAD_ARG

from fakes import expect_raises

REQUIRED = {
    "occlusion": HIGH, "over_delivery": HIGH, "reservoir_empty": HIGH, "reservoir_low": MEDIUM,
    "reservoir_discrepancy": MEDIUM, "watchdog_reset": HIGH, "task_stalled": HIGH,
    "pressure_sensor_fault": HIGH, "supply_low": MEDIUM, "supply_end_of_service": HIGH,
    "motor_stall": HIGH, "internal_fault": HIGH, "program_store_bad": HIGH,
    "motor_driver_fault": HIGH,
}


def _codes(alarms, now=None):
    return [a["code"] for a in alarms.active(now)]


def _one(alarms, code):
    for a in alarms.active():
        if a["code"] == code:
            return a
    return None


def _events(alarms):
    return [(e["event"], e["code"]) for e in alarms.changes()]


# ---- the table -----------------------------------------------------------------------------

def test_the_table_has_every_required_code_at_its_priority():
    for code in sorted(REQUIRED):
        assert code in TABLE, code
        assert TABLE[code][0] == REQUIRED[code], (code, TABLE[code][0])


def test_every_entry_has_a_known_priority_a_message_and_a_hint():
    for code in sorted(TABLE):
        priority, message, hint = TABLE[code]
        assert priority in PRIORITIES, code
        assert message and hint and message != hint, code
        assert len(message) <= 100 and len(hint) <= 120, code     # short enough for one line


def test_every_priority_has_a_light_pattern_and_only_info_is_silent():
    for p in PRIORITIES:
        assert PATTERNS[p]["led"] in LEDS, p
        buzzer = PATTERNS[p]["buzzer"]
        assert (buzzer is None) == (p == INFO), p
        assert buzzer is None or buzzer in BUZZERS, p
    # IEC 60601-1-8: high is a 10-pulse burst and flashes faster than medium's 3-pulse burst
    assert BUZZERS[PATTERNS[HIGH]["buzzer"]][0] == 10
    assert BUZZERS[PATTERNS[MEDIUM]["buzzer"]][0] == 3
    high_hz_x1000 = 1000000 // LEDS[PATTERNS[HIGH]["led"]][2]
    medium_hz_x1000 = 1000000 // LEDS[PATTERNS[MEDIUM]["led"]][2]
    assert 1400 <= high_hz_x1000 <= 2800, high_hz_x1000
    assert 400 <= medium_hz_x1000 <= 800, medium_hz_x1000
    assert LEDS[PATTERNS[LOW]["led"]][2] == 0           # steady


# ---- raise, clear, latch, acknowledge ----------------------------------------------------------

def test_raising_an_alarm_reports_it_new_once():
    a = AlarmSet()
    assert a.raise_("occlusion", 1000, {"kpa": 80}) is True
    assert a.raise_("occlusion", 2000) is False
    rows = a.active()
    assert len(rows) == 1
    r = rows[0]
    assert (r["code"], r["priority"], r["since_ms"], r["condition"], r["latched"],
            r["acknowledged"], r["detail"]) == ("occlusion", HIGH, 1000, True, False, False,
                                               {"kpa": 80})
    assert _events(a) == [("raised", "occlusion")]


def test_a_high_alarm_latches_until_acknowledged():
    a = AlarmSet()
    a.raise_("occlusion", 0)
    a.changes()
    a.clear("occlusion", 5000)
    r = _one(a, "occlusion")
    assert r is not None and r["latched"] and not r["condition"]
    assert a.high_active()                           # delivery stays stopped
    assert _events(a) == [("latched", "occlusion")]
    assert a.ack("occlusion", 6000) is True
    assert a.active() == []
    assert not a.high_active()
    assert _events(a) == [("acked", "occlusion"), ("cleared", "occlusion")]


def test_acknowledging_a_high_alarm_whose_cause_persists_keeps_it_active():
    a = AlarmSet()
    a.raise_("pressure_sensor_fault", 0)
    assert a.ack("pressure_sensor_fault", 100) is True
    r = _one(a, "pressure_sensor_fault")
    assert r["acknowledged"] and r["condition"] and not r["latched"]
    assert a.high_active()
    assert a.ack("pressure_sensor_fault", 200) is False     # nothing more to acknowledge
    # once acknowledged, it goes as soon as its cause goes: no second acknowledgement needed
    a.clear("pressure_sensor_fault", 300)
    assert a.active() == []


def test_a_latched_alarm_whose_cause_returns_is_not_new_and_needs_no_second_raise_event():
    a = AlarmSet()
    a.raise_("motor_stall", 0)
    a.clear("motor_stall", 10)
    a.changes()
    assert a.raise_("motor_stall", 20) is False
    r = _one(a, "motor_stall")
    assert r["condition"] and not r["latched"] and r["since_ms"] == 0
    assert a.changes() == []


def test_a_medium_alarm_clears_when_its_condition_clears():
    a = AlarmSet()
    a.raise_("reservoir_low", 0)
    assert not a.high_active()
    a.clear("reservoir_low", 10)
    assert a.active() == []
    assert _events(a) == [("raised", "reservoir_low"), ("cleared", "reservoir_low")]


def test_clearing_an_alarm_that_is_not_active_changes_nothing():
    a = AlarmSet()
    a.clear("occlusion", 0)
    assert a.active() == [] and a.changes() == []
    assert a.ack("occlusion", 0) is False


def test_refuses_to_acknowledge_an_unknown_code():
    a = AlarmSet()
    a.raise_("occlusion", 0)
    for bad in ("occlusions", "", None, 3, "OCCLUSION"):
        e = expect_raises(PumpError, a.ack, bad, 10)
        assert e.code == BAD_ARG, (bad, e.code)
        assert "occlusion" in e.message                # names the codes it knows
    assert _one(a, "occlusion")["acknowledged"] is False


def test_refuses_to_raise_or_clear_an_unknown_code():
    a = AlarmSet()
    assert expect_raises(PumpError, a.raise_, "flood", 0).code == BAD_ARG
    assert expect_raises(PumpError, a.clear, "flood", 0).code == BAD_ARG
    assert a.active() == []


def test_active_lists_the_highest_priority_first_then_the_oldest():
    a = AlarmSet()
    a.raise_("link_lost", 0)
    a.raise_("supply_low", 10)
    a.raise_("time_unknown", 20)
    a.raise_("reservoir_low", 5)
    a.raise_("over_delivery", 30)
    a.raise_("occlusion", 40)
    assert _codes(a) == ["over_delivery", "occlusion", "reservoir_low", "supply_low",
                         "time_unknown", "link_lost"]


# ---- annunciation and silence ------------------------------------------------------------------

def test_annunciation_follows_the_highest_unsilenced_priority():
    a = AlarmSet()
    ann = a.annunciation(0)
    assert (ann["priority"], ann["led"], ann["buzzer"]) == (None, "off", None)
    a.raise_("supply_low", 0)
    ann = a.annunciation(1)
    assert (ann["priority"], ann["led"], ann["buzzer"]) == (
        MEDIUM, PATTERNS[MEDIUM]["led"], PATTERNS[MEDIUM]["buzzer"])
    a.raise_("motor_stall", 2)
    ann = a.annunciation(3)
    assert (ann["priority"], ann["led"], ann["buzzer"]) == (
        HIGH, PATTERNS[HIGH]["led"], PATTERNS[HIGH]["buzzer"])
    # the high one acknowledged while its cause persists: it stops sounding, the medium sounds;
    # the light still shows the high one
    a.ack("motor_stall", 4)
    ann = a.annunciation(5)
    assert (ann["priority"], ann["visual"], ann["buzzer"]) == (
        MEDIUM, HIGH, PATTERNS[MEDIUM]["buzzer"])
    assert ann["led"] == PATTERNS[HIGH]["led"]


def test_silencing_mutes_the_sound_but_not_the_light():
    a = AlarmSet()
    a.raise_("occlusion", 0)
    assert a.silence(1000) is True
    ann = a.annunciation(1001)
    assert ann["priority"] is None and ann["buzzer"] is None
    assert ann["visual"] == HIGH and ann["led"] == PATTERNS[HIGH]["led"]
    assert ann["silenced_ms"] == SILENCE_MS - 1
    assert _one(a, "occlusion")["silenced"] is True


def test_silencing_reverts_on_its_own_after_2_minutes():
    a = AlarmSet()
    a.raise_("occlusion", 0)
    a.silence(10000)
    a.changes()
    assert a.annunciation(10000 + SILENCE_MS - 1)["buzzer"] is None
    ann = a.annunciation(10000 + SILENCE_MS)
    assert ann["priority"] == HIGH and ann["buzzer"] == PATTERNS[HIGH]["buzzer"]
    assert ann["silenced_ms"] == 0
    assert SILENCE_MS <= 120000
    assert _events(a) == [("silence_ended", None)]
    assert _one(a, "occlusion")["silenced"] is False


def test_a_new_alarm_during_silence_is_annunciated():
    a = AlarmSet()
    a.raise_("supply_low", 0)
    a.silence(100)
    assert a.annunciation(200)["priority"] is None
    a.raise_("reservoir_discrepancy", 300)            # a medium alarm, new: it sounds
    ann = a.annunciation(400)
    assert ann["priority"] == MEDIUM and ann["buzzer"] == PATTERNS[MEDIUM]["buzzer"]
    assert _one(a, "reservoir_discrepancy")["silenced"] is False
    assert _one(a, "supply_low")["silenced"] is True
    # an alarm that went and came back after the silence began is new too
    a.raise_("occlusion", 500)
    a.ack("occlusion", 510)
    a.clear("occlusion", 520)
    a.raise_("occlusion", 530)
    assert a.annunciation(540)["priority"] == HIGH


def test_silence_with_nothing_active_does_nothing():
    a = AlarmSet()
    assert a.silence(0) is False
    a.raise_("occlusion", 1)
    assert a.annunciation(2)["priority"] == HIGH


def test_silencing_again_restarts_the_two_minutes_from_then():
    a = AlarmSet()
    a.raise_("supply_low", 0)
    a.silence(0)
    a.silence(100000)
    assert a.annunciation(SILENCE_MS + 1)["priority"] is None
    assert a.silenced_ms(SILENCE_MS + 1) == 100000 - 1
    assert a.annunciation(100000 + SILENCE_MS)["priority"] == MEDIUM


def test_info_alarms_light_without_sound():
    a = AlarmSet()
    a.raise_("link_lost", 0)
    ann = a.annunciation(1)
    assert ann["priority"] == INFO and ann["buzzer"] is None
    assert ann["led"] == PATTERNS[INFO]["led"]
    a.clear("link_lost", 2)
    assert a.active() == []


# ---- events --------------------------------------------------------------------------------

def test_every_change_is_an_event_with_its_time_and_priority():
    a = AlarmSet()
    a.raise_("occlusion", 10, {"kpa": 90})
    a.silence(20)
    a.clear("occlusion", 30)
    a.ack("occlusion", 40)
    ev = a.changes()
    assert [(e["event"], e["code"], e["priority"], e["ms"]) for e in ev] == [
        ("raised", "occlusion", HIGH, 10), ("silenced", None, None, 20),
        ("latched", "occlusion", HIGH, 30), ("acked", "occlusion", HIGH, 40),
        ("cleared", "occlusion", HIGH, 40)]
    assert ev[0]["detail"] == {"kpa": 90}
    assert a.changes() == []


def test_undrained_events_are_bounded_and_the_loss_is_counted():
    a = AlarmSet()
    for i in range(MAX_EVENTS + 5):
        a.raise_("supply_low", i * 2)
        a.clear("supply_low", i * 2 + 1)
    ev = a.changes()
    assert len(ev) == MAX_EVENTS
    assert a.dropped == 2 * (MAX_EVENTS + 5) - MAX_EVENTS
    assert ev[-1]["ms"] == 2 * (MAX_EVENTS + 4) + 1          # the newest are kept
