"""The dashboard's pure parts: charts, the day bar, key dispatch on a fake pump and rig, the screen."""
import io
import json
import os

from rich.console import Console

from host_tools import cli
from host_tools.client import DeviceError, LinkError
from host_tools.dashboard import chart, find_rig, panels
from host_tools.dashboard.actions import SIM_ONLY, SPEEDS, Keys, step_speed
from host_tools.dashboard.app import view
from host_tools.dashboard.keys import decode
from host_tools.dashboard.model import Model, Trace
from host_tools.dashboard.record import Recorder
from host_tools.program_file import read_program

HOUR = 3600000
MONDAY_NOON = 1700438400000 + 12 * HOUR     # 2023-11-20 12:00 local, a Monday
FLEX = "examples/teaching-flex-week-morphine.toml"
DIGEST = "32068f4540fc68a5"


class FakePump:
    """Answers the commands the dashboard sends, from a status it keeps; records what was sent."""

    def __init__(self, alarms=(), lockout_min=0, program=True):
        self.sent = []
        self.t_ms = 2 * HOUR
        self.state = "running"
        self.reservoir_ul = 17500.0
        self.alarms = list(alarms)
        self.lockout_min = lockout_min
        self.doc = read_program(FLEX) if program else None

    def hello(self):
        return {"board": "sim", "firmware": "0.1.0", "boot": 1}

    def close(self):
        pass

    def status(self):
        s = {"state": self.state, "mode": "program", "rate_ul_h": 6.25, "delivered_ul": 12.5 + self.t_ms / HOUR,
             "reservoir_ul": self.reservoir_ul, "alarms": [a["code"] for a in self.alarms], "uptime_s": 7300,
             "sim_time_s": 7300.0, "pressure_kpa": 1.2,
             "occlusion": {"ThresholdDetector": {"occluded": False, "undelivered_ul": 0.1, "reason": ""},
                           "StepResponseDetector": {"occluded": bool(self.alarms), "undelivered_ul": 0.4,
                                                    "reason": "line not draining" if self.alarms else ""},
                           "released_ul": None},
             "bolus": {"active": None, "ends_ms": None, "next_periodic_ms": 6 * HOUR,
                       "demand_lockout_ms": self.lockout_min * 60000, "demand_used_24h": 1,
                       "demand_allowed_24h": 4}}
        if self.doc:
            s["program"] = {"name": "Flex week with boluses", "digest": DIGEST, "t_ms": self.t_ms,
                            "t_s": self.t_ms / 1000.0, "start_wall_ms": MONDAY_NOON}
        return s

    def request(self, cmd, **args):
        self.sent.append((cmd, args))
        if cmd == "status":
            return self.status()
        if cmd == "alarms":
            return {"alarms": self.alarms}
        if cmd == "log_read":
            recs = [{"seq": 7, "boot": 1, "up": 1000, "t": MONDAY_NOON, "k": "state", "state": "running"}]
            return {"records": [r for r in recs if r["seq"] > args["since"]][:args.get("limit", 20)],
                    "last": 7, "boot": 1}
        if cmd == "program_summary":
            return {"digest": DIGEST, "summary": {"reservoir": {"capacity_ml": 20, "low_ml": 2, "volume_ml": 18}},
                    "projection": {"low_at_ms": MONDAY_NOON + 30 * 24 * HOUR,
                                   "empty_at_ms": MONDAY_NOON + 40 * 24 * HOUR}}
        if cmd == "program_get":
            if self.doc is None:
                return {"parts": 0}
            return {"digest": DIGEST, "parts": 1, "index": 0, "path": "", "value": self.doc}
        if cmd == "bolus_demand":
            if self.lockout_min:
                raise DeviceError("limit", "demand bolus locked out for %d more minutes" % self.lockout_min)
            return {"kind": "demand", "starts_ms": self.t_ms, "ends_ms": self.t_ms + 600000, "volume_nl": 10000}
        if cmd in ("stop", "start"):
            if cmd == "start" and any(a["priority"] == "high" for a in self.alarms):
                raise DeviceError("bad_state", "high alarm active (occlusion)")
            self.state = "running" if cmd == "start" else "stopped"
            return self.status()
        if cmd == "refill":
            if self.state == "running":
                raise DeviceError("bad_state", "delivering: stop the pump before a refill")
            self.reservoir_ul = args["volume_ml"] * 1000
            return {"expected_ml": args["residual_ml"], "measured_ml": args["residual_ml"], "discrepancy_pct": 0.0,
                    "limit_pct": 14.5, "alarm": False, "volume_ml": args["volume_ml"]}
        if cmd == "alarm_ack":
            for a in self.alarms:
                if a["code"] == args["code"]:
                    a["acknowledged"] = True
            return {"alarms": self.alarms}
        raise AssertionError("the fake pump has no %s" % cmd)


class FakeRig:
    def __init__(self, speed=1):
        self.speed = speed
        self.calls = []

    def status(self):
        return {"speed": self.speed}

    def scale_ul(self):
        return 100.0

    def set_speed(self, speed):
        self.calls.append(("set_speed", speed))
        self.speed = speed
        return {"speed": float(speed)}

    def occlude(self, fraction=1.0):
        self.calls.append(("occlude", fraction))

    def release(self):
        self.calls.append(("release",))

    def fill_reservoir(self, volume_ul):
        self.calls.append(("fill_reservoir", volume_ul))

    def close(self):
        pass


def model_of(pump, rig=None):
    m = Model(lambda: pump, None if rig is None else (lambda: rig))
    m.poll()
    return m


OCCLUSION = {"code": "occlusion", "priority": "high", "message": "occlusion: line pressure rose past the limit",
             "acknowledged": False, "latched": False, "hint": "check the line for a kink"}


# ---- charts --------------------------------------------------------------------------------------
def test_a_rising_line_runs_from_the_bottom_left_to_the_top_right_in_its_style():
    rows, _, _ = chart.plot([([(0, 0), (10, 10)], "green")], width=10, height=4)
    assert rows[-1][0][0] != " " and rows[-1][0][1] == "green"
    assert rows[0][-1][0] != " " and rows[0][-1][1] == "green"
    assert rows[0][0][0] == " " and rows[-1][-1][0] == " "
    assert all(0x2800 <= ord(ch) <= 0x28FF or ch == " " for row in rows for ch, _ in row)


def test_where_two_series_share_a_cell_the_one_drawn_last_shows():
    rows, _, _ = chart.plot([([(0, 1), (10, 1)], "white"), ([(0, 1), (10, 1)], "green")], 8, 3,
                            y_range=(0, 2))
    styles = {style for row in rows for ch, style in row if ch != " "}
    assert styles == {"green"}


def test_the_chart_labels_its_ranges():
    text = chart.chart([([(0, 0), (2, 5)], None)], 40, 6, x_range=(0, 2), y_range=(0, 5),
                       x_fmt="%.0f", x_unit=" h").plain
    lines = text.splitlines()
    assert lines[0].strip().startswith("5.0") and "0.0" in lines[-2]
    assert "0 h" in lines[-1] and lines[-1].rstrip().endswith("2 h")


def test_an_empty_chart_says_there_is_no_data_yet():
    assert "no data yet" in chart.chart([], 40, 5).plain


def test_the_now_marker_sits_at_the_time_of_day():
    assert chart.marker_column(0, 96) == 0
    assert chart.marker_column(12 * HOUR, 96) == 48
    assert chart.marker_column(24 * HOUR - 1, 96) == 95
    assert chart.marker_column(6 * HOUR, 48) == 12


def test_the_day_bar_is_taller_where_the_basal_rate_is_higher():
    steps = [(0, 7 * HOUR, 1.0), (7 * HOUR, 22 * HOUR, 1.5), (22 * HOUR, 24 * HOUR, 1.0)]
    bar = chart.day_bar(steps, 24)
    level = chart.LEVELS.index
    assert len(bar) == 24
    assert level(bar[3]) < level(bar[12]) == len(chart.LEVELS) - 1
    assert level(bar[23]) == level(bar[3]) > 0


def test_a_trace_keeps_its_start_and_newest_point_in_bounded_memory():
    t = Trace(cap=100)
    for i in range(1000):
        t.add((i, i))
    assert len(t.points) <= 101
    assert t.points[0] == (0, 0) and t.points[-1] == (999, 999)


# ---- keys ----------------------------------------------------------------------------------------
def test_a_demand_bolus_inside_the_lockout_shows_the_pumps_reason():
    msg = Keys(model_of(FakePump(lockout_min=42))).handle("b")
    assert msg.startswith("demand bolus refused") and "locked out for 42 more minutes" in msg


def test_a_demand_bolus_outside_the_lockout_says_what_it_gives():
    assert Keys(model_of(FakePump())).handle("b") == "demand bolus given: 10.0 uL over 10 min"


def test_speed_keys_step_through_1_to_10000_and_stop_at_the_ends():
    rig = FakeRig(speed=1)
    keys = Keys(model_of(FakePump(), rig))
    said = [keys.handle("+") for _ in range(len(SPEEDS))]
    assert [c[1] for c in rig.calls] == list(SPEEDS[1:])
    assert said[-1] == "already at x10000, the fastest"
    said = [keys.handle("-") for _ in range(len(SPEEDS))]
    assert [c[1] for c in rig.calls][len(SPEEDS) - 1:] == list(reversed(SPEEDS[:-1]))
    assert said[-1] == "already at x1, the slowest"


def test_a_speed_off_the_ladder_steps_to_the_nearest_one_that_way():
    assert step_speed(42, True) == 60 and step_speed(42, False) == 10
    assert step_speed("max", False) == 10000 and step_speed("max", True) is None


def test_sim_only_keys_on_a_real_board_say_so_and_send_nothing():
    pump = FakePump()
    keys = Keys(model_of(pump))
    before = len(pump.sent)
    for key in "oc+-":
        assert keys.handle(key) == SIM_ONLY
    assert len(pump.sent) == before


def test_refill_stops_records_a_full_reservoir_fills_the_sim_and_starts_again():
    pump, rig = FakePump(), FakeRig()
    keys = Keys(model_of(pump, rig))
    del pump.sent[:]
    msg = keys.handle("f")
    acts = [(c, a) for c, a in pump.sent if c not in ("status",)]
    assert acts == [("stop", {}), ("refill", {"volume_ml": 20.0, "residual_ml": 17.5}), ("start", {})]
    assert rig.calls == [("fill_reservoir", 20000.0)]
    assert "refilled to 20.0 mL" in msg and "restarted" in msg


def test_acknowledge_acks_every_active_alarm_not_yet_acknowledged():
    low = {"code": "reservoir_low", "priority": "medium", "message": "low", "acknowledged": True}
    pump = FakePump(alarms=[dict(OCCLUSION), low])
    msg = Keys(model_of(pump)).handle("a")
    assert [a for c, a in pump.sent if c == "alarm_ack"] == [{"code": "occlusion"}]
    assert msg == "acknowledged: occlusion"


def test_start_refused_by_a_high_alarm_shows_the_reason_and_does_not_raise():
    pump = FakePump(alarms=[dict(OCCLUSION)])
    pump.state = "stopped"
    assert Keys(model_of(pump)).handle("s") == "start refused: high alarm active (occlusion) (bad_state)"


def test_q_quits_and_an_unknown_key_says_which_keys_there_are():
    keys = Keys(model_of(FakePump()))
    assert keys.handle("q") == "quit"
    assert "b demand bolus" in keys.handle("z")
    assert keys.handle("esc") is None


def test_a_key_while_the_link_is_down_says_so():
    model = Model(lambda: (_ for _ in ()).throw(LinkError("lost the link on /dev/x")))
    model.poll()
    assert Keys(model).handle("b") == "not done: reconnecting: lost the link on /dev/x"


def test_key_bytes_decode_to_one_key():
    assert decode(b"b") == "b" and decode(b"+") == "+" and decode(b"\x1b[A") == "esc"


# ---- the model -----------------------------------------------------------------------------------
def test_a_lost_link_shows_reconnecting_then_the_dashboard_comes_back():
    pump, tries = FakePump(), []

    def connect():
        tries.append(1)
        if len(tries) == 1:
            raise LinkError("cannot open /dev/x: gone")
        return pump
    model = Model(connect)
    snap = model.poll()
    assert snap["status"] is None and snap["problem"].startswith("reconnecting")
    assert "reconnecting" in text_of(view(model, snap, None), 120, 40)
    assert model.poll()["status"]["state"] == "running"


def test_delivered_counts_from_the_program_start_and_programmed_follows_the_program():
    pump = FakePump()
    model = Model(lambda: pump)
    model.pin_program_start(12.5)           # the count when the program started
    snap = model.poll()
    assert abs(snap["delivered_since_ul"] - 2.0) < 1e-9
    assert snap["programmed_ul"] > 0 and snap["day_ms"] == 14 * HOUR
    assert snap["day_steps"][0][0] == 0 and snap["day_steps"][-1][1] == 24 * HOUR


# ---- the screen ----------------------------------------------------------------------------------
def text_of(v, width, height):
    console = Console(width=width, height=height, record=True, file=io.StringIO(), color_system=None)
    console.print(panels.render(v, width, height))
    return console.export_text()


def full_view(message="demand bolus refused: locked out"):
    pump, rig = FakePump(alarms=[dict(OCCLUSION)]), FakeRig(speed=600)
    model = model_of(pump, rig)
    pump.t_ms += HOUR
    snap = model.poll()
    return view(model, snap, message, port="/tmp/x/tty")


def test_the_screen_at_120x40_shows_every_panel():
    out = text_of(full_view(), 120, 40)
    for part in ("RUNNING", "Flex week with boluses", "reservoir", "refill by", "program: 24 h", "now 15:00", "17.50 of 20.0 mL",
                 "delivered vs programmed", "programmed", "scale", "pressure", "step response", "threshold",
                 "HIGH", "occlusion", "event log", "running", "demand bolus refused: locked out",
                 "b  demand bolus", "q  quit", "speed x600", "NOT a medical device"):
        assert part in out, part
    assert len(out.splitlines()) <= 40


def test_a_small_window_asks_for_a_bigger_one_and_keeps_the_essentials():
    out = text_of(full_view(), 80, 24)
    assert "needs at least 100x30" in out and "RUNNING" in out and "occlusion" in out


def test_a_pump_without_a_program_has_no_timeline_but_every_other_panel():
    pump = FakePump(program=False)
    model = model_of(pump)
    out = text_of(view(model, model.poll(), None), 120, 40)
    assert "no program" in out and "event log" in out and "o  occlude (sim)" in out


# ---- recording and the command -------------------------------------------------------------------
def test_the_recording_is_a_header_then_a_line_per_poll(tmp_path):
    pump, rig = FakePump(), FakeRig()
    model = model_of(pump, rig)
    rec = Recorder(str(tmp_path / "r.jsonl"), clock=lambda: 1000.0)
    rec.write(model.poll(), model)
    rec.write(model.poll(), model)
    rec.close()
    lines = [json.loads(x) for x in open(tmp_path / "r.jsonl")]
    assert lines[0]["recording"] == 1 and lines[0]["board"] == "sim" and lines[0]["program"]["name"]
    assert len(lines) == 3
    assert lines[1]["status"]["state"] == "running" and lines[1]["host_ms"] == 1000000
    assert lines[1]["scale_ul"] == 0.0 and "programmed_ul" in lines[1]


def test_the_dashboard_refuses_without_a_terminal_and_points_at_status_watch_json(capsys):
    assert cli.main(["--port", "/dev/null", "dashboard"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pumpctl: error: the dashboard needs a terminal")
    assert "pumpctl status --watch --json" in err and len(err.splitlines()) == 1


def test_a_running_sims_rig_is_found_from_its_link(tmp_path):
    home = tmp_path / "sim"
    home.mkdir()
    (home / "pty").write_text("")
    os.symlink(str(home / "pty"), str(home / "tty"))
    (home / "rig.sock").write_text("")
    assert find_rig(str(home / "tty")) == str(home / "rig.sock")
    assert find_rig(str(home / "pty")) == str(home / "rig.sock")
    assert find_rig(str(tmp_path / "elsewhere")) is None


def test_the_timeline_marks_each_periodic_bolus_at_its_time_of_day():
    width = 48
    boluses = [(6 * HOUR, 6 * HOUR + 15 * 60000, 25.0), (18 * HOUR, 18 * HOUR + 15 * 60000, 25.0)]
    row = chart.bolus_row(boluses, width)
    assert [i for i, c in enumerate(row) if c != " "] == [12, 36]


def test_the_screen_marks_the_days_periodic_boluses_once_the_series_has_begun():
    # the teaching program starts at 12:00; its series starts at the next 06:00, then every 6 h
    pump, rig = FakePump(), FakeRig(speed=600)
    model = model_of(pump, rig)
    for t_ms, marks in ((2 * HOUR, 0), (26 * HOUR, 3), (50 * HOUR, 4)):   # Mon, Tue, Wed 14:00
        pump.t_ms = t_ms
        out = text_of(view(model, model.poll(), None), 120, 40)
        assert ("▼ periodic bolus 25.0 uL" in out) == (marks > 0), t_ms
        bolus_rows = [line for line in out.splitlines() if "▼" in line and "periodic" not in line]
        assert sum(row.count("▼") for row in bolus_rows) == marks, (t_ms, bolus_rows)


def test_the_program_is_read_from_the_pump_once_even_when_this_host_cannot_plan_it():
    pump = FakePump()
    pump.doc = dict(pump.doc, drug=dict(pump.doc["drug"], concentration=10 ** 6))   # refused here
    model = Model(lambda: pump)
    for _ in range(5):
        snap = model.poll()
    assert snap["status"]["program"]["digest"] == DIGEST and model.programmed is None
    assert [cmd for cmd, _ in pump.sent].count("program_get") == 1
    assert [cmd for cmd, _ in pump.sent].count("program_summary") == 1
