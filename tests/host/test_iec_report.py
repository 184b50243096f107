"""The IEC bench report (host_tools/iec_report.py) and the runner's command line, without a board."""
import math

import pytest

from host_tools import iec_bench
from host_tools.iec_analysis import analyse
from host_tools.iec_report import read_rows, write_occlusion, write_run

RATE = 1000.0


def pulsing_run():
    """2 h at 1 mL/h, 2 % over, with a 4 min ripple: every figure differs from the next."""
    samples = [(t, 1.02 * RATE * t / 3600 + 0.5 * math.sin(2 * math.pi * t / 240))
               for t in range(0, 7201, 30)]
    samples[0] = (0, 0.0)
    return {"rate_ul_h": RATE, "interval_s": 30.0, "samples": samples, "pumped_ul": 2000.0}


def test_the_report_files_are_written_and_the_csv_reads_back_to_the_figures(tmp_path):
    run = pulsing_run()
    figures = analyse(run["samples"], RATE)
    files = write_run(str(tmp_path), "accuracy", run, figures, "test run", 0.12, 31)
    names = sorted(p.rsplit("/", 1)[1] for p in files)
    assert names == ["accuracy-flow.png", "accuracy-samples.csv", "accuracy-trumpet.csv",
                     "accuracy-trumpet.png"]
    for p in files:
        if p.endswith(".png"):
            with open(p, "rb") as f:
                assert f.read(8) == b"\x89PNG\r\n\x1a\n", p

    trumpet = read_rows(str(tmp_path / "accuracy-trumpet.csv"))
    assert [r["window_min"] for r in trumpet] == [2, 5, 11, 19, 31]
    for got, want in zip(trumpet, figures["trumpet"]):
        assert got["ep_max_pct"] == pytest.approx(want["ep_max_pct"], rel=1e-5)
        assert got["ep_min_pct"] == pytest.approx(want["ep_min_pct"], rel=1e-5)
        assert got["windows"] == want["windows"]
        assert got["mean_error_pct"] == pytest.approx(figures["mean_error_pct"], rel=1e-5)
        assert got["resolution_pct"] == pytest.approx(100 * 0.12 * 3600 / (RATE * 60 * got["window_min"]),
                                                      rel=1e-5)

    samples = read_rows(str(tmp_path / "accuracy-samples.csv"))
    back = [(r["t_s"], r["volume_ul"]) for r in samples]
    assert len(back) == len(run["samples"])
    # the CSV alone gives the same analysis (6 significant digits kept)
    again = analyse(back, RATE)
    assert again["mean_error_pct"] == pytest.approx(figures["mean_error_pct"], abs=1e-3)
    assert samples[0]["flow_ul_h"] is None
    assert samples[1]["flow_ul_h"] == pytest.approx(figures["flows"][0][2], rel=1e-5)


def test_the_occlusion_table_reads_back_with_its_detectors_and_empty_cells(tmp_path):
    rows = [{"rate": "5 mL/h", "rate_ul_h": 5000.0, "detectors": "both", "fired": ["model"],
             "time_to_alarm_s": 8.07, "bound_s": 28.3, "pumped_into_line_ul": 11.2, "bolus_ul": 12.61,
             "reported_bolus_ul": 11.25, "false_alarm": None},
            {"rate": "0.1 mL/day", "rate_ul_h": 100 / 24, "detectors": "threshold", "fired": [],
             "time_to_alarm_s": None, "bound_s": 19210.0, "pumped_into_line_ul": None,
             "bolus_ul": None, "reported_bolus_ul": None, "false_alarm": None}]
    back = read_rows(write_occlusion(str(tmp_path / "occlusion.csv"), rows))
    assert back[0]["fired"] == "model" and back[0]["time_to_alarm_s"] == pytest.approx(8.07)
    assert back[1]["time_to_alarm_s"] is None and back[1]["fired"] is None
    assert back[1]["rate_ul_h"] == pytest.approx(100 / 24, rel=1e-5)


@pytest.mark.parametrize("text, ul_h", [("5mL/h", 5000), ("0.1 mL/day", 100 / 24), ("20uL/h", 20),
                                        ("480 ul/day", 20)])
def test_rates_are_read_in_the_units_the_standard_uses(text, ul_h):
    assert iec_bench.parse_rate(text) == pytest.approx(ul_h)


@pytest.mark.parametrize("argv, message", [
    (["--parts", "accuracy,speed"], "unknown part speed"),
    (["--rate", "5 gallons"], "write it as a number with mL/h"),
    (["--rate", "6mL/h"], "above the board's top rate 5 mL/h"),
    (["--rig", "/dev/ttyACM1"], "go with --port"),
    (["--port", "/dev/ttyACM0"], "needs --rig PORT"),
    (["--port", "/dev/ttyACM0", "--rig", "/dev/ttyACM1", "--board", "nosuch"], "no board 'nosuch'"),
    (["--intrathecal-hours", "1"], "at least 2"),
    (["--interval", "7"], "does not divide the standard's windows"),
    (["--parts", "intrathecal", "--interval", "7"], "no observation window"),
    (["--calibration-error-pct", "80"], "--calibration-error-pct must be <= 50, got 80"),
])
def test_a_bad_command_line_is_one_error_line_and_exit_2_before_any_board_starts(argv, message, capsys):
    assert iec_bench.main(argv + ["--out", "/nonexistent/never-written"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("iec_bench: error: ") and message in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
