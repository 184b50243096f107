"""pumpctl report: the series it draws from fabricated recordings whose figures are known, its
errors, its page, and a real HIL run recorded with pytest --record and drawn end to end."""
import base64
import html.parser
import json
import os
import subprocess
import sys
import types

import pytest

from host_tools import cli, iec_report
from host_tools.report import inputs, series

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _status(t, delivered, state="running", rate=360.0, **extra):
    s = {"state": state, "rate_ul_h": rate, "delivered_ul": delivered, "reservoir_ul": 1000.0,
         "alarms": [], "uptime_s": t, "sim_time_s": t, "steps": int(delivered * 10),
         "calibration": {"ul_per_step": 0.1}}
    s.update(extra)
    return s


def _write_lines(path, objs):
    path.write_text("".join(json.dumps(o) + "\n" for o in objs))
    return str(path)


def _series(*paths):
    [section] = inputs.load([str(p) for p in paths])
    return series.build(section)


def _report(*argv):
    return cli.main(["report"] + [str(a) for a in argv])


def _constant(n, every_s=30.0, rate=360.0):
    return [_status(i * every_s, rate * i * every_s / 3600.0, rate=rate) for i in range(n)]


# ---- the series ------------------------------------------------------------------------------
def test_without_a_program_the_programmed_line_is_the_commanded_rate_times_time(tmp_path):
    rec = _write_lines(tmp_path / "rec.jsonl", _constant(21))      # 10 min at 360 uL/h
    s = _series(rec)
    assert s.programmed_source == "commanded rate"
    assert s.programmed[-1] == pytest.approx((600.0, 60.0))
    assert all(p == pytest.approx(360.0 * t / 3600.0) for t, p in s.programmed)
    assert s.delivered[-1] == pytest.approx((600.0, 60.0))


def test_a_stopped_pump_commands_nothing_whatever_rate_its_status_shows(tmp_path):
    lines = _constant(5) + [_status(120.0 + 30 * i, 12.0, state="stopped") for i in range(1, 4)]
    s = _series(_write_lines(tmp_path / "rec.jsonl", lines))
    assert s.programmed[-1][1] == pytest.approx(12.0 + 360.0 * 30 / 3600.0)  # up to the first stopped sample


def test_programmed_ul_in_a_recording_is_the_programmed_line_from_the_first_sample(tmp_path):
    lines = [{"recording": 1, "hello": {"boot": 3, "board": "sim"}, "program": None, "board": "sim"}]
    lines += [{"status": _status(t, t / 100.0), "host_ms": 1000 * t, "programmed_ul": 50.0 + t / 90.0}
              for t in range(0, 901, 30)]
    s = _series(_write_lines(tmp_path / "rec.jsonl", lines))
    assert s.programmed_source == "programmed"
    assert s.programmed[-1] == pytest.approx((900.0, 10.0))


def test_an_occlusion_alarm_raised_at_120_s_is_a_marker_at_120_s(tmp_path):
    # the board booted 50 s into the sim's time; the recording starts 100 s into it
    lines = [{"recording": 1, "hello": {"boot": 4, "board": "sim"}, "program": None, "board": "sim"}]
    lines += [_status(t, 0.0, uptime_s=t - 50.0, pressure_kpa=1.0) for t in range(100, 401, 10)]
    log = [{"seq": 9, "boot": 4, "up": 170000, "t": None, "k": "alarm", "name": "occlusion",
            "priority": "high", "change": "raised", "active": True},
           {"seq": 10, "boot": 4, "up": 200000, "t": None, "k": "occlusion_cleared", "released_ul": 1.5},
           {"seq": 11, "boot": 4, "up": 210000, "t": None, "k": "alarm", "name": "occlusion",
            "change": "cleared"},
           {"seq": 12, "boot": 4, "up": 210000, "t": None, "k": "alarm", "name": "low_battery",
            "change": "raised"}]
    (tmp_path / "log.json").write_text(json.dumps(log))
    _write_lines(tmp_path / "rec.jsonl", lines)
    s = _series(tmp_path / "rec.jsonl", tmp_path / "log.json")
    assert [(round(x, 6), kind) for x, _, kind in s.occlusion_marks] == [
        (120.0, "alarm_raised"), (150.0, "line_cleared"), (160.0, "alarm_cleared")]


def test_after_a_reset_the_new_boots_events_land_after_it(tmp_path):
    lines = [{"recording": 1, "hello": {"boot": 1}, "program": None, "board": "sim"}]
    lines += [_status(t, 0.0, pressure_kpa=1.0) for t in (0, 10, 20)]
    # reset at sim time 25 s: uptime starts again
    lines += [_status(t, 0.0, uptime_s=t - 25.0, pressure_kpa=1.0) for t in (30, 40, 50)]
    log = [{"seq": 1, "boot": 1, "up": 15000, "k": "alarm", "name": "occlusion", "change": "raised"},
           {"seq": 2, "boot": 2, "up": 10000, "k": "alarm", "name": "occlusion", "change": "raised"},
           {"seq": 3, "boot": 7, "up": 10000, "k": "alarm", "name": "occlusion", "change": "raised"}]
    (tmp_path / "log.json").write_text(json.dumps(log))
    _write_lines(tmp_path / "rec.jsonl", lines)
    s = _series(tmp_path / "rec.jsonl", tmp_path / "log.json")
    assert s.resets == [30.0]
    assert [x for x, _, _ in s.occlusion_marks] == pytest.approx([15.0, 35.0])
    assert s.unplaced_events == 1      # boot 7 has no samples


def test_without_a_header_the_recording_is_taken_as_the_logs_last_boots(tmp_path):
    _write_lines(tmp_path / "rec.jsonl", [_status(t, 0.0, uptime_s=t + 5.0, pressure_kpa=1.0)
                                          for t in (0, 10, 20)])
    (tmp_path / "log.json").write_text(json.dumps([
        {"seq": 1, "boot": 1, "up": 0, "k": "boot"}, {"seq": 2, "boot": 2, "up": 0, "k": "boot"},
        {"seq": 3, "boot": 2, "up": 12000, "k": "alarm", "name": "occlusion", "change": "raised"}]))
    s = _series(tmp_path / "rec.jsonl", tmp_path / "log.json")
    assert [x for x, _, _ in s.occlusion_marks] == pytest.approx([7.0])


def test_a_detector_turning_occluded_between_samples_is_a_marker_at_the_sample_that_shows_it(tmp_path):
    def occ(on):
        return {"ThresholdDetector": {"occluded": False}, "StepResponseDetector": {"occluded": on},
                "released_ul": None}
    lines = [_status(t, 0.0, pressure_kpa=1.0, occlusion=occ(60 <= t < 90)) for t in range(0, 121, 30)]
    s = _series(_write_lines(tmp_path / "rec.jsonl", lines))
    assert [(x, kind) for x, _, kind in s.occlusion_marks] == [(60.0, "detector_on"), (90.0, "detector_off")]


def test_bolus_events_are_marked_on_the_delivered_plot(tmp_path):
    lines = [{"recording": 1, "hello": {"boot": 1}, "program": None, "board": "sim"}] + _constant(5)
    _write_lines(tmp_path / "rec.jsonl", lines)
    (tmp_path / "log.json").write_text(json.dumps([
        {"seq": 5, "boot": 1, "up": 45000, "k": "bolus", "kind": "demand", "volume_nl": 2500}]))
    s = _series(tmp_path / "rec.jsonl", tmp_path / "log.json")
    assert s.boluses == [(45.0, "demand bolus 2.5 uL")]


def test_day_records_give_bars_of_their_delivered_and_programmed_heights(tmp_path):
    (tmp_path / "log.json").write_text(json.dumps([
        {"seq": 1, "boot": 1, "up": 5, "k": "day", "day": 20000, "delivered_ul": 240.0, "programmed_ul": 250.0},
        {"seq": 2, "boot": 1, "up": 9, "k": "day", "day": 20001, "delivered_ul": 100.0, "programmed_ul": None}]))
    s = _series(tmp_path / "log.json")
    assert s.days == [("2024-10-04", 240.0, 250.0, 96.0), ("2024-10-05", 100.0, None, None)]
    assert "history" not in s.skipped
    assert "needs a status recording" in s.skipped["delivered"]


def test_a_day_the_pump_started_is_marked_as_partial_and_whole_days_are_not(tmp_path):
    # the day record holds the weekday's whole program even on the day delivery began
    started = 20000 * 86400000 + (22 * 60 + 50) * 60000          # 2024-10-04 22:50
    (tmp_path / "log.json").write_text(json.dumps([
        {"seq": 1, "boot": 1, "up": 5, "t": started, "k": "state", "state": "running"},
        {"seq": 2, "boot": 1, "up": 9, "k": "day", "day": 20000, "delivered_ul": 10.0, "programmed_ul": 250.0},
        {"seq": 3, "boot": 1, "up": 99, "k": "day", "day": 20001, "delivered_ul": 249.0, "programmed_ul": 250.0}]))
    s = _series(tmp_path / "log.json")
    assert s.partial_days == {"2024-10-04": "22:50"}


def test_a_perfect_constant_rate_gives_a_flat_trumpet_at_zero_error(tmp_path):
    s = _series(_write_lines(tmp_path / "rec.jsonl", [
        dict(ln, scale_ul=ln["status"]["delivered_ul"]) for ln in ({"status": st} for st in _constant(41))]))
    figs = s.trumpet["figures"]
    assert s.trumpet["source"] == "the rig's scale"
    assert figs["period_s"] == [600.0, 1200.0] and [r["window_min"] for r in figs["trumpet"]] == [2, 5]
    assert figs["mean_error_pct"] == pytest.approx(0.0, abs=1e-9)
    assert all(abs(r["ep_max_pct"]) < 1e-9 and abs(r["ep_min_pct"]) < 1e-9 for r in figs["trumpet"])


def test_a_two_hour_run_is_judged_on_its_second_hour_with_every_standard_window(tmp_path):
    s = _series(_write_lines(tmp_path / "rec.jsonl", _constant(241)))
    assert s.trumpet["figures"]["period_s"] == [3600.0, 7200.0]
    assert [r["window_min"] for r in s.trumpet["figures"]["trumpet"]] == [2, 5, 11, 19, 31]
    assert "delivered_ul" in s.trumpet["source"]


def test_a_run_too_short_for_the_trumpet_is_left_out_naming_the_minimum(tmp_path):
    s = _series(_write_lines(tmp_path / "rec.jsonl", _constant(10)))
    assert s.trumpet is None and "needs at least 10 min" in s.skipped["trumpet"]


def test_a_run_whose_rate_changes_is_judged_on_its_longest_constant_stretch(tmp_path):
    lines = _constant(5, rate=100.0) + [_status(120.0 + 30 * i, 20.0 + i, rate=120.0) for i in range(1, 8)]
    s = _series(_write_lines(tmp_path / "rec.jsonl", lines))
    assert "lasts 3.0 min" in s.skipped["trumpet"] and "120 uL/h from 150 s to 330 s" in s.skipped["trumpet"]


def test_an_iec_samples_csv_gives_the_standard_trumpet(tmp_path):
    samples = [(30.0 * i, 100.0 * 30.0 * i / 3600.0 * 1.01) for i in range(241)]
    iec_report.write_samples(str(tmp_path / "run-samples.csv"), samples, 100.0)
    s = _series(tmp_path / "run-samples.csv")
    assert s.trumpet["rate_ul_h"] == pytest.approx(100.0)
    assert s.trumpet["figures"]["mean_error_pct"] == pytest.approx(1.0)


# ---- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("content, says", [
    (None, "no such file"), ("", "the file is empty"), ("hello world\n", "not a file the report knows"),
    ("[1, 2]", "not of event log records"), ('{"a": 1}\n', "neither a status line"),
])
def test_a_bad_input_is_one_line_naming_the_file_and_exit_1(tmp_path, capsys, content, says):
    path = tmp_path / "in.txt"
    if content is not None:
        path.write_text(content)
    assert _report(path, "-o", tmp_path / "out.html") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pumpctl: error: %s" % path) and says in err, err
    assert not (tmp_path / "out.html").exists()


def test_report_needs_no_port_and_an_output(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PUMPCTL_PORT", raising=False)
    with pytest.raises(SystemExit) as e:
        _report(tmp_path / "x.jsonl")
    assert e.value.code == 2 and "-o" in capsys.readouterr().err


def test_the_report_never_replaces_an_input(tmp_path, capsys):
    rec = _write_lines(tmp_path / "rec.html", _constant(3))
    before = open(rec).read()
    assert _report(rec, "-o", rec) == 2
    assert "would replace an input" in capsys.readouterr().err and open(rec).read() == before


def test_two_recordings_in_one_report_are_refused_saying_to_make_one_each(tmp_path, capsys):
    a = _write_lines(tmp_path / "a.jsonl", _constant(3))
    b = _write_lines(tmp_path / "b.jsonl", _constant(3))
    assert _report(a, b, "-o", tmp_path / "o.html") == 1
    assert "make a report per recording" in capsys.readouterr().err


# ---- the page --------------------------------------------------------------------------------
class _Images(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs, self.text = [], []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.srcs.append(dict(attrs)["src"])

    def handle_data(self, data):
        self.text.append(data)


def _full_inputs(tmp_path):
    lines = [{"recording": 1, "hello": {"boot": 1, "board": "sim"}, "program": None, "board": "sim"}]
    for st in _constant(41):
        lines.append({"status": dict(st, pressure_kpa=1.0 + st["sim_time_s"] / 1200.0),
                      "scale_ul": st["delivered_ul"] * 0.99})
    _write_lines(tmp_path / "rec.jsonl", lines)
    (tmp_path / "log.json").write_text(json.dumps([
        {"seq": 1, "boot": 1, "up": 0, "k": "boot", "board": "sim"},
        {"seq": 2, "boot": 1, "up": 120000, "k": "alarm", "name": "occlusion", "change": "raised"},
        {"seq": 3, "boot": 1, "up": 130000, "k": "day", "day": 20000, "delivered_ul": 8.0, "programmed_ul": 8.64}]))
    return [tmp_path / "rec.jsonl", tmp_path / "log.json"]


def test_an_html_page_holds_the_four_figures_as_png_data_uris_and_parses(tmp_path, capsys):
    out = tmp_path / "report.html"
    assert _report(*_full_inputs(tmp_path), "-o", out) == 0
    parser = _Images()
    parser.feed(out.read_text())
    assert len(parser.srcs) == 4
    for src in parser.srcs:
        head, data = src.split(",", 1)
        assert head == "data:image/png;base64" and base64.b64decode(data).startswith(b"\x89PNG")
    text = " ".join(parser.text)
    assert "sim" in text and "Ep(max)" in text and "-1.000 %" in text    # the scale's 1 % short
    assert "wrote" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []   # no temp file left


def test_a_folder_output_holds_a_png_per_figure_and_an_index_naming_them(tmp_path):
    out = tmp_path / "figs"
    assert _report(*_full_inputs(tmp_path), "-o", out) == 0
    assert sorted(os.listdir(out)) == ["delivered.png", "history.png", "index.html", "pressure.png", "trumpet.png"]
    index = (out / "index.html").read_text()
    assert all('src="%s.png"' % k in index for k in ("delivered", "pressure", "trumpet", "history"))


def test_the_page_says_which_plots_were_left_out_and_why(tmp_path, capsys):
    out = tmp_path / "r.html"
    assert _report(_write_lines(tmp_path / "rec.jsonl", _constant(5)), "-o", out) == 0
    page = out.read_text()
    assert "left out: trumpet" in page and "left out: history" in page and "left out: pressure" in page
    err = capsys.readouterr().err
    assert "left out the trumpet plot" in err


# ---- the HIL run -----------------------------------------------------------------------------
def test_without_record_the_rig_is_not_wrapped(tmp_path):
    from host_tools import pytest_plugin
    rig = types.SimpleNamespace(run_for=lambda s: s)
    original = rig.run_for
    request = types.SimpleNamespace(config=types.SimpleNamespace(getoption=lambda name: None),
                                    node=types.SimpleNamespace())
    with pytest_plugin._recording_rig(request, rig):
        assert rig.run_for is original


def test_a_hil_test_recorded_with_pytest_record_makes_a_report_with_its_figures(tmp_path):
    rec_dir = tmp_path / "run"
    test = ("hil_tests/test_safety.py::"
            "test_an_occlusion_is_caught_by_both_detectors_and_its_released_bolus_is_measured")
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                        test, "--record", str(rec_dir)], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    [folder] = os.listdir(rec_dir)
    run = json.loads((rec_dir / folder / "run.json").read_text())
    assert run["outcome"] == "passed" and run["recording_problems"] == [], run
    out = tmp_path / "x.html"
    r = subprocess.run([sys.executable, "-m", "host_tools.cli", "report", str(rec_dir), "-o", str(out)],
                       cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    parser = _Images()
    parser.feed(out.read_text())
    alts = [src for src in parser.srcs if src.startswith("data:image/png;base64,")]
    assert len(alts) == 2, r.stderr         # delivered and pressure; the run is too short for a trumpet
    text = " ".join(parser.text)
    assert "occlusion alarms raised" in text and "passed" in text and "left out: trumpet" in text
    s = series.build(inputs.read_folder(str(rec_dir))[0])
    raised = [x for x, _, kind in s.occlusion_marks if kind == "alarm_raised"]
    # the test ran 600 s of open line, then occluded: the alarm comes within its minute
    assert len(raised) == 1 and 600.0 <= raised[0] <= 660.0, s.occlusion_marks


def test_a_headers_program_gives_the_programmed_line_the_planner_owes_at_each_sample(tmp_path):
    from host_tools.program_file import read_program
    from host_tools.programmed import Programmed
    doc = read_program(os.path.join(ROOT, "examples/teaching-flex-week-morphine.toml"))
    monday = 1700438400000
    lines = [{"recording": 1, "hello": {"boot": 1, "board": "sim"}, "program": doc, "board": "sim"}]
    hours = range(0, 25, 2)
    for h in hours:
        t_ms = h * 3600000
        lines.append(_status(h * 3600.0, 0.0, program={"name": "flex", "start_wall_ms": monday, "t_ms": t_ms}))
    s = _series(_write_lines(tmp_path / "rec.jsonl", lines))
    plan = Programmed(doc, "sim", monday)
    assert s.programmed_source == "programmed"
    assert [v for _, v in s.programmed] == pytest.approx(
        [plan.volume_ul(h * 3600000) - plan.volume_ul(0) for h in hours])
