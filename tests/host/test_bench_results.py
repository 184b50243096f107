"""make bench's figures, targets, results.json and results.md, and the parsing of what its probes print."""
import json
import os

import pytest

from host_tools import paths
from host_tools.bench import __main__ as bench_cli
from host_tools.bench import control_loop, hil, monitored_board, occlusion, results
from host_tools.bench.figures import Figure, Target
from host_tools.bench.results import Section


def _speed(value, baseline=30000.0):
    return Figure("sim_speed_flex_1hz", "flex week at 1 Hz", value, "x real time", baseline, "idle",
                  target=Target(">=", 10000))


def _section(name, figures, **kw):
    return Section(name, "2026-07-06T20:00+02:00", "python -m host_tools.bench", {"cores": 2}, 12.0,
                   figures, **kw)


# ---- targets and ratios ------------------------------------------------------------------------
def test_a_speed_target_of_at_least_10000x_is_met_at_10000_and_not_below():
    assert _speed(10000).met is True
    assert _speed(9999.4).met is False


def test_a_strict_upper_target_is_not_met_at_its_limit():
    t = Target("<", 180)
    assert t.met(179.9) is True
    assert t.met(180) is False


def test_a_figure_whose_measurement_failed_has_no_ratio_and_its_target_is_not_judged():
    f = _speed(None)
    assert f.ratio is None and f.met is None
    assert results.met_text(f) == "not measured"


def test_the_ratio_is_value_over_baseline_unless_the_figure_reads_as_a_speed_up():
    assert _speed(5000.0, 20000.0).ratio == 0.25
    f = Figure("hil", "HIL, 2 workers", 100.0, "s", 180.0, "serial", inverse=True, ratio_says="speed-up")
    assert f.ratio == 1.8
    assert results.ratio_text(f) == "1.8x speed-up"


def test_a_zero_baseline_gives_no_ratio_instead_of_a_division_error():
    f = Figure("fa", "false alarms", 0, "count", 0, "threshold", inverse=True)
    assert f.ratio is None
    assert Figure("fa", "false alarms", 3, "count", 0, "threshold").ratio is None


def test_an_unknown_target_operator_is_refused():
    with pytest.raises(ValueError):
        Target("~", 3)


# ---- results.json ------------------------------------------------------------------------------
def test_every_figure_in_results_json_has_value_unit_baseline_and_what_it_is_ratio_and_target(tmp_path):
    plain = Figure("deploy_unchanged_s", "deploy, nothing changed", 1.75, "s", 6.4, "a full deploy",
                   inverse=True, ratio_says="faster")
    results.write(str(tmp_path), [_section("sim_speed", [_speed(4953.2)]), _section("deploy", [plain])],
                  "2026-07-06T20:05+02:00")
    doc = json.loads((tmp_path / "results.json").read_text())
    figs = [f for s in doc["sections"] for f in s["figures"]]
    for f in figs:
        assert {"value", "unit", "baseline", "ratio", "ratio_of"} <= set(f)
        assert set(f["baseline"]) == {"value", "is"}
    speed, deploy = figs
    assert speed["target"]["text"] == "≥ 10,000 x real time" and speed["met"] is False
    assert "target" not in deploy and "met" not in deploy
    assert deploy["ratio_of"] == "baseline/value"
    assert doc["targets"] == [{"section": "sim_speed", "key": "sim_speed_flex_1hz", "name": "flex week at 1 Hz",
                               "value": 4953, "unit": "x real time", "target": "≥ 10,000 x real time",
                               "met": False}]
    assert doc["sections"][0]["machine"] == {"cores": 2}


def test_a_later_run_of_one_section_keeps_the_other_sections_from_the_earlier_run(tmp_path):
    first = [_section("sim_speed", [_speed(4000)]),
             _section("heap_min", [Figure("hil_heap_min_kb", "smallest heap", 300, "KB", 400, "default")])]
    results.write(str(tmp_path), first, "then")
    kept = results.load(str(tmp_path / "results.json"))
    again = _section("sim_speed", [_speed(12000)])
    merged = results.merge(kept, [again])
    assert [s.name for s in merged] == ["sim_speed", "heap_min"]
    assert merged[0].figures[0].value == 12000 and merged[0].figures[0].met is True
    assert merged[1].figures[0].value == 300


def test_sections_are_kept_in_catalog_order_whatever_order_they_ran_in():
    merged = results.merge({}, [_section("heap_min", []), _section("occlusion", []), _section("sim_speed", [])])
    assert [s.name for s in merged] == ["sim_speed", "occlusion", "heap_min"]


def test_an_unreadable_or_foreign_results_json_is_ignored_rather_than_stopping_the_bench(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("{not json")
    assert results.load(str(path)) == {}
    path.write_text(json.dumps({"format": 99, "sections": [{"name": "x"}]}))
    assert results.load(str(path)) == {}
    assert results.load(str(tmp_path / "missing.json")) == {}


def test_a_figure_survives_the_round_trip_through_results_json():
    f = Figure("occ", "time to alarm", 462.0, "s", 17388.0, "threshold", inverse=True, ratio_says="faster",
               note="n", target=Target("<=", 600))
    back = Figure.from_json(json.loads(json.dumps(f.to_json())))
    assert back.to_json() == f.to_json()


# ---- results.md --------------------------------------------------------------------------------
def test_the_markdown_shows_each_figure_beside_its_baseline_and_marks_a_missed_target(tmp_path):
    results.write(str(tmp_path), [_section("sim_speed", [_speed(4953.2)])], "2026-07-06T20:05+02:00")
    md = (tmp_path / "results.md").read_text()
    row, = [line for line in md.splitlines() if line.startswith("| flex week at 1 Hz |")]
    assert "| 4,953 x real time | 30,000 x real time (idle) | 0.165x of the baseline |" in row
    assert row.endswith("| ≥ 10,000 x real time | **not met** |")
    assert "| ≥ 10,000 x real time | flex week at 1 Hz | 4,953 x real time | **not met** |" in md   # the summary
    assert "2 cores" in md


def test_sections_never_measured_are_listed_with_the_command_that_measures_them():
    md = results.markdown([_section("sim_speed", [_speed(12000)])], "now")
    assert "- Smallest heap for the whole HIL suite: `make bench-heap`" in md
    assert "- HIL suite wall time: `make bench-hil`" in md
    assert "- Simulation speed:" not in md


def test_a_failed_section_says_so_with_its_error():
    md = results.markdown([_section("deploy", [], error="SimError: the simulator did not start")], "now")
    assert "**This section failed:** SimError: the simulator did not start" in md


def test_long_durations_read_in_minutes_or_hours():
    assert results.value_text(12.4, "s") == "12.4 s"
    assert results.value_text(462.0, "s") == "7.7 min"
    assert results.value_text(17388.0, "s") == "4.83 h"
    assert results.value_text(None, "s") == "-"


# ---- the command line --------------------------------------------------------------------------
def test_by_default_only_the_fast_sections_run(monkeypatch):
    monkeypatch.delenv("BENCH_HEAP", raising=False)
    monkeypatch.delenv("BENCH_HIL", raising=False)
    assert bench_cli.parse_args([]).sections == list(results.FAST)
    assert "heap_min" not in results.FAST and "hil_time" not in results.FAST


def test_bench_heap_1_in_the_environment_adds_the_heap_bisection(monkeypatch):
    monkeypatch.setenv("BENCH_HEAP", "1")
    monkeypatch.delenv("BENCH_HIL", raising=False)
    assert bench_cli.parse_args([]).sections == list(results.FAST) + ["heap_min"]


def test_only_runs_the_named_sections_in_catalog_order():
    assert bench_cli.parse_args(["--only", "heap_min", "deploy"]).sections == ["deploy", "heap_min"]


@pytest.mark.parametrize("argv", [["--only", "speed"], ["--deploy-reps", "0"], ["--loop-hours", "x"]])
def test_a_bad_option_is_a_usage_error_with_a_message_not_a_traceback(argv, capsys):
    with pytest.raises(SystemExit) as e:
        bench_cli.parse_args(argv)
    assert e.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_rebuild_derives_the_figures_again_from_the_kept_raw_measurements_without_measuring(tmp_path):
    raw = {"full": [6.0, 7.0, 6.5], "again": [1.5, 1.4, 1.3], "files": 57}
    stale = Figure("deploy_unchanged_s", "an old name", 99.0, "s", 1.0, "old")
    results.write(str(tmp_path), [_section("deploy", [stale], details=raw)], "then")
    assert bench_cli.main(["--rebuild", "--out", str(tmp_path)]) == 0
    f, = results.load(str(tmp_path / "results.json"))["deploy"].figures
    assert (f.name, f.value, f.baseline) == ("deploy with nothing changed", 1.4, 6.5)


def test_rebuild_without_results_says_so_and_fails(tmp_path, capsys):
    assert bench_cli.main(["--rebuild", "--out", str(tmp_path)]) == 1
    assert "nothing to rebuild" in capsys.readouterr().out


# ---- the measurements' own logic ---------------------------------------------------------------
def test_the_heap_bisection_finds_the_smallest_size_that_works_to_its_step():
    tried = []

    def works(kb):
        tried.append(kb)
        return kb >= 277
    kb, log = control_loop.smallest_heap_kb(works, 200, 400, step=4)
    assert 277 <= kb < 277 + 4
    assert all(ok == (k >= 277) for k, ok in log) and len(tried) == len(log) <= 6


def test_the_loop_probes_output_is_read_phase_by_phase():
    out = control_loop.parse_loop_output(
        "phase idle passes=3601 sim_ms=3600000 alloc_bytes=1207936 max_pass_bytes=1888 alloc_passes=3600 "
        "live_max=278176 reads=0 steps=0\n"
        "phase flex passes=9662 sim_ms=7200000 alloc_bytes=12654144 max_pass_bytes=4032 alloc_passes=9661 "
        "live_max=301888 reads=7200 steps=2458\n"
        "code=236832 probe_code=11520 block=32 heap=607232 ok\n")
    assert out["idle"]["passes"] == 3601 and out["flex"]["reads"] == 7200
    assert out["code"] == 236832 and out["block"] == 32


def test_control_loop_figures_subtract_the_import_share_and_judge_the_peak_against_64_kb():
    phase = {"passes": 100, "sim_ms": 100000, "alloc_bytes": 10000, "max_pass_bytes": 2048, "live_max": 0,
             "reads": 100, "steps": 10}
    loop = {"code": 200 * 1024, "probe_code": 10 * 1024, "block": 32,
            "idle": dict(phase, live_max=230 * 1024), "flex": dict(phase, live_max=270 * 1024)}
    figs = {f.key: f for f in control_loop.figures({"loop": loop, "week_kb": 300, "week_code": 220 * 1024,
                                                    "basal_kb": 290, "basal_code": 220 * 1024})}
    assert figs["loop_live_kb"].value == 60 and figs["loop_live_kb"].baseline == 20
    assert figs["loop_peak_kb"].value == 62 and figs["loop_peak_kb"].met is True
    assert figs["program_heap_kb"].value == 80 and figs["program_heap_kb"].met is False
    assert figs["loop_alloc_per_pass"].value == 100


def test_pytest_output_gives_the_counts_and_the_failed_tests():
    text = ("..F.s\n=========================== short test summary info ============================\n"
            "FAILED hil_tests/test_programs.py::test_a_flex_week_runs - MemoryError\n"
            "1 failed, 3 passed, 1 skipped in 41.20s\n")
    out = hil.outcome(text)
    assert out["counts"] == {"failed": 1, "passed": 3, "skipped": 1}
    assert out["failed"] == ["hil_tests/test_programs.py::test_a_flex_week_runs"]
    assert out["memory_error"] is True and hil.outcome("96 passed in 300s")["memory_error"] is False


def test_a_run_that_xdist_stopped_at_its_first_failure_counts_as_failed_but_a_broken_pytest_is_an_error():
    stopped = hil.outcome("ERROR hil_tests/test_auth.py::test_a\n2 errors in 30.37s\n")
    assert hil.passed(0, hil.outcome("96 passed in 300s")) is True
    assert hil.passed(1, hil.outcome("1 failed, 95 passed in 300s")) is False
    assert hil.passed(2, stopped) is False
    for rc, out in ((2, hil.outcome("!!! KeyboardInterrupt !!!\nno tests ran in 3s")), (4, hil.outcome(""))):
        with pytest.raises(hil.HilBenchError):
            hil.passed(rc, out)


def test_the_hil_speed_up_is_serial_over_parallel_and_the_3_minute_target_is_judged_on_the_parallel_run():
    run = {"counts": {"passed": 200}, "failed": []}
    f, = hil.time_figures({"serial": dict(run, wall_s=300.0), "parallel": dict(run, wall_s=170.0), "workers": 2})
    assert f.ratio == 1.76 and f.met is True
    assert results.target_text(f) == "< 3 min"
    assert "serial misses the target" in f.note


def test_a_heap_bisection_that_fails_at_the_default_reports_no_value_and_why():
    figs = hil.heap_figures({"smallest_kb": None, "default_kb": 400, "code": 230 * 1024, "mpy": 100 * 1024,
                             "error": "the suite fails at the sim's default 400 KB"})
    assert all(f.value is None and f.error for f in figs)
    assert figs[1].met is None


def test_the_smallest_heap_figure_subtracts_the_import_share_and_names_where_the_suite_failed():
    runs = [{"heap_kb": kb, "ok": ok} for kb, ok in ((400, True), (315, False), (357, False), (378, False),
                                                      (389, True), (383, True))]
    f, beyond = hil.heap_figures({"smallest_kb": 383, "default_kb": 400, "code": 231 * 1024, "mpy": 104 * 1024,
                                  "runs": runs, "step_kb": 8})
    assert f.value == 383 and f.baseline == 400 and "fails at 378 KB" in f.note
    assert beyond.value == 152 and beyond.baseline == 169 and beyond.met is False


def test_occlusion_figures_take_the_threshold_detector_as_the_baseline():
    res = {}
    for label, rate in occlusion.occ.RATES_UL_H:
        res[label] = {"rate_ul_h": rate,
                      "occlusion": {"threshold": {"time_ms": 600000, "undelivered_ul": 20.0},
                                    "model": {"time_ms": 60000, "undelivered_ul": 0.5}},
                      "false_alarms": {"threshold": 0, "model": 1}}
    figs = occlusion.figures(res)
    first = figs[0]
    assert first.value == 60 and first.baseline == 600 and first.ratio == 10 and first.ratio_says == "faster"
    assert figs[-1].value == len(occlusion.occ.RATES_UL_H) and figs[-1].baseline == 0


def test_the_monitored_board_reads_the_pressure_every_second_and_is_otherwise_the_sim_board():
    from pump.board_config import parse_board   # tests/conftest.py puts the firmware on the path
    with open(os.path.join(paths.BOARDS_DIR, "sim", "board.json")) as f:
        sim = json.load(f)
    cfg = monitored_board.monitored_config()
    for key in monitored_board.SAMPLING:
        assert cfg["occlusion"].pop(key) == 1000
        sim["occlusion"].pop(key, None)
    assert cfg == sim
    parse_board(monitored_board.monitored_config())   # the firmware would boot with it


def test_the_rig_counts_every_pressure_reading_the_board_takes_which_the_1_hz_check_relies_on(tmp_path):
    import selectors
    import socket
    from host_tools.sim.supervisor import Supervisor
    sup = Supervisor(str(tmp_path))
    sup.sel = selectors.DefaultSelector()
    board, conn = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sup.board_conn = conn
        for t in (1000, 2000, 3000):
            sup._handle_board(["P", str(t)])
        assert board.recv(4096).decode().count("p ") == 3      # each one answered
        assert sup.rig_status(None, None)["pressure_reads"] == 3
    finally:
        board.close()
        conn.close()
        sup.sel.close()


def test_the_loop_probe_runs_the_real_loop_and_reads_the_pressure_each_second_only_while_delivering(tmp_path):
    import subprocess
    board = monitored_board.write_board_file(str(tmp_path / "board.json"))
    r = subprocess.run([paths.micropython(), "-X", "heapsize=%dk" % control_loop.PROBE_HEAP_KB,
                        os.path.join(paths.REPO_DIR, "tests", "firmware", "loop_probe.py"), board,
                        paths.FIRMWARE_DIR, "0.25"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = control_loop.parse_loop_output(r.stdout)
    assert out["idle"]["reads"] == 0 and out["idle"]["steps"] == 0
    assert 900000 <= out["flex"]["sim_ms"] <= 901000          # a phase ends at the first pass past it
    assert abs(out["flex"]["reads"] - 900) <= 2 and out["flex"]["steps"] > 0
    assert out["flex"]["passes"] >= out["flex"]["reads"]


def test_the_speed_figure_takes_the_idle_day_as_baseline_and_shows_the_readings_it_really_took():
    from host_tools.bench import sim_speed
    day = {"speed": 8640.0, "wall_s": 10.0, "reads": 86400, "flash_writes": 1441, "flash_bytes": 595000,
           "cpu_s": {"supervisor": 3.0, "board": 6.0}}
    idle = dict(day, speed=43200.0, wall_s=2.0, reads=0, flash_writes=1440, cpu_s=None)
    figs = sim_speed.figures({"idle": idle, "flex": day, "flex_steps": 35000,
                              "runaway": {"healthy_steps": 16, "runaway_steps": 4, "runaway_ul": 0.41}})
    speed = figs[0]
    assert speed.value == 8640 and speed.baseline == 43200 and speed.ratio == 0.2 and speed.met is False
    assert "86400 pressure readings (1.00 Hz)" in speed.note
    assert "6.0 s in the board's MicroPython, 3.0 s in the supervisor; 9600 x real time per CPU s" in speed.note
    assert "CPU time unknown" in speed.note
