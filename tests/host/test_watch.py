"""status --watch's view: a pure function from the pump's replies to what a person sees."""
import io

from host_tools import watch

START = 1700000000000          # the pump's local wall ms when the program started (a Tuesday, 22:13)
HOUR = 3600000


def status(**over):
    s = {"state": "running", "mode": "program", "rate_ul_h": 12.5, "delivered_ul": 340.2,
         "reservoir_ul": 1500.0, "alarms": [], "uptime_s": 3725, "pressure_kpa": 3.21,
         "program": {"name": "flex week", "digest": "abcdef0123456789", "t_ms": HOUR, "t_s": 3600,
                     "start_wall_ms": START},
         "bolus": {"active": None, "ends_ms": None, "next_periodic_ms": 3 * HOUR,
                   "demand_lockout_ms": 0}}
    s.update(over)
    return s


def summary(low_at=None, empty_at=None):
    return {"digest": "abcdef0123456789",
            "summary": {"reservoir": {"capacity_ml": 20, "volume_ml": 20, "low_ml": 2},
                        "daily": {"ml": [1, 2, 3, 4, 5, 6, 7], "dose": []}},
            "projection": {"low_at_ms": low_at, "empty_at_ms": empty_at}}


def text(snap):
    return watch.to_text(watch.render(snap), width=120)


def test_the_view_shows_state_rate_delivered_pressure_and_the_program():
    out = text({"status": status(), "summary": summary()})
    assert "running" in out and "12.500 uL/h" in out and "340.20 uL" in out
    assert "3.21 kPa" in out and "flex week" in out


def test_delivered_is_shown_beside_the_programs_volume_for_the_pumps_weekday():
    # START + 1 h is a Tuesday on the pump's clock: the summary's Tuesday is 2 mL
    assert watch.programmed_today({"status": status(), "summary": summary()}) == ("Tuesday", 2000.0)
    assert "programmed Tuesday: 2000.0 uL/day" in text({"status": status(), "summary": summary()})


def test_without_a_program_nothing_is_claimed_as_programmed():
    s = status(mode="rate")
    del s["program"], s["bolus"]
    assert watch.programmed_today({"status": s}) is None
    out = text({"status": s})
    assert "programmed" not in out and "nothing scheduled" in out


def test_the_reservoir_gauge_gives_ul_and_percent_of_the_programs_reservoir():
    out = text({"status": status(reservoir_ul=5000.0), "summary": summary(), "capacity_ul": 99999})
    assert "5000.0 uL  25% of 20000 uL" in out


def test_without_a_program_the_gauge_uses_the_boards_reservoir():
    s = status()
    del s["program"]
    assert "50% of 3000 uL" in text({"status": s, "capacity_ul": 3000.0})


def test_without_any_capacity_the_reservoir_is_shown_in_ul_only():
    s = status()
    del s["program"]
    out = text({"status": s})
    assert "1500.0 uL" in out and "%" not in out


def test_the_board_capacity_comes_from_its_board_json():
    assert watch.board_capacity_ul("sim") == 20000.0
    assert watch.board_capacity_ul("no-such-board") is None


def test_next_events_are_listed_soonest_first_with_the_reservoir_dates_from_the_projection():
    s = status(bolus={"active": "periodic", "ends_ms": HOUR + 5 * 60000, "next_periodic_ms": 3 * HOUR,
                      "demand_lockout_ms": 10 * 60000})
    events = watch.next_events({"status": s, "summary": summary(low_at=START + HOUR + 2 * 86400000)})
    assert [(e[0], e[1]) for e in events] == [
        (5 * 60000, "periodic bolus ends"), (10 * 60000, "demand lockout ends"),
        (2 * HOUR, "next periodic bolus"), (2 * 86400000, "reservoir low")]
    assert events[-1][2] == "Thu 2023-11-16 23:13"
    out = text({"status": s, "summary": summary(low_at=START + HOUR + 2 * 86400000)})
    assert "periodic bolus ends in 5 min 00 s" in out and "reservoir low in 2 d 0 h" in out


def test_alarms_are_shown_with_their_priority_most_urgent_first():
    snap = {"status": status(alarms=["reservoir_low", "occlusion"])}
    assert [(a[0], a[1]) for a in watch.alarm_list(snap)] == [("high", "occlusion"), ("medium", "reservoir_low")]
    out = text(snap)
    assert out.index("HIGH") < out.index("MEDIUM") and "occlusion" in out


def test_alarms_from_the_alarms_reply_keep_their_flags():
    reply = {"alarms": [{"code": "occlusion", "priority": "high", "message": "occlusion: line pressure rose",
                         "latched": True, "silenced": True}]}
    out = text({"status": status(alarms=["occlusion"]), "alarms": reply})
    assert "occlusion, latched, silenced" in out


def test_priorities_have_distinct_colours():
    assert len(set(watch.PRIORITY_STYLE[p] for p in ("high", "medium", "low", "info"))) == 4


def test_no_alarms_reads_none():
    assert "alarms     none" in text({"status": status()})


def test_ticks_stop_after_count_or_duration():
    clock = [0.0]
    slept = []

    def sleep(d):
        slept.append(d)
        clock[0] += d
    assert list(watch.ticks(1.0, count=3, clock=lambda: clock[0], sleep=sleep)) == [0, 1, 2]
    clock[0] = 0.0
    assert list(watch.ticks(0.5, duration=2.0, clock=lambda: clock[0], sleep=sleep)) == [0, 1, 2, 3, 4]


class FakeClient:
    def __init__(self):
        self.asked = []

    def request(self, cmd, **args):
        self.asked.append(cmd)
        if cmd == "status":
            return status()
        if cmd == "hello":
            return {"board": "sim", "firmware": "0.1"}
        if cmd == "alarms":
            return {"alarms": []}
        return summary()


class Args:
    json = False
    interval = 0.01
    count = 3
    duration = None


class Pipe(io.StringIO):
    def isatty(self):
        return False


def test_piped_the_watch_prints_one_json_status_line_per_interval():
    import json
    out = Pipe()
    client = FakeClient()
    assert watch.run(client, Args(), out=out) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and all(json.loads(l)["state"] == "running" for l in lines)
    assert set(client.asked) == {"status"}     # piped, only the status reply is needed


def test_the_program_summary_is_asked_for_once_not_at_every_refresh():
    client = FakeClient()
    w = watch.Watcher(client)
    for _ in range(5):
        w.take()
    assert client.asked.count("program_summary") == 1 and client.asked.count("status") == 5
