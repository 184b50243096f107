"""Persistence on the board: the program, the counts and the log survive power cuts and resets,
judged by the scale (the independent measure) and the pump's own log."""
import csv
import io
import json

import pytest

from hil_tests.test_cli import pumpctl
from hil_tests.test_programs import apply, saline
from host_tools.client import DeviceError, PumpClient
from host_tools.program_io import local_wall_ms

UL_PER_STEP = 0.1
JOURNAL_S = 60



def cut_and_restore(rig, off_s=30):
    rig.power_cut()
    rig.power_on(off_s=off_s)
    rig.run_for(2)


def test_a_rate_delivery_resumes_after_a_power_cut_and_the_scale_agrees_within_one_journal_interval(
        pump, rig, sim_only):
    rig.run_for(0)
    pump.request("set_rate", rate_ul_h=360)            # a step every second
    pump.request("start")
    rig.run_for(3600 + 30)
    cut_and_restore(rig, off_s=600)
    s = pump.request("status")
    assert s["state"] == "running" and s["reset_cause"] == "power_on", s
    rig.run_for(600)
    pump.request("stop")
    rig.run_for(30)                                      # the line drains to the outlet
    counted_ul = pump.request("status")["delivered_ul"]
    scale_ul = rig.scale_ul()
    # after the cut the count restarts from the journal: behind by at most one interval's worth
    behind_ul = scale_ul - counted_ul
    assert 0 <= behind_ul <= 360 * JOURNAL_S / 3600 + 2 * UL_PER_STEP, (scale_ul, counted_ul)
    # and nothing of the 10 minutes without power was made up
    assert scale_ul <= 360 * (3600 + 30 + 600 + 2) / 3600 + 1, scale_ul


def test_a_program_survives_a_power_cut_and_waits_for_the_time_before_it_resumes(board, rig, sim_only):
    rig.run_for(0)
    doc = saline("survivor", basal={"rate": 2.4},
                 demand={"dose": 0.05, "duration_min": 10, "lockout_min": 60, "max_per_24h": 4})
    with PumpClient(board.link, timeout=10.0) as pump:
        digest = apply(pump, doc, local_wall_ms())["program"]["digest"]
        pump.request("start")
        rig.run_for(600)
        pump.request("bolus_demand")
        rig.run_for(1200)                                # the bolus ends; the journal has it
        cut_and_restore(rig)
        s = pump.request("status")
        assert s["program"]["digest"] == digest and s["state"] == "stopped", s
        assert "time_unknown" in s["alarms"]
    synced = pumpctl("--port", board.link, "time", "sync")   # the CLI, as a clinician would
    assert synced.returncode == 0, synced.stderr
    with PumpClient(board.link, timeout=10.0) as pump:
        pump.request("start")
        with pytest.raises(DeviceError) as refused:
            pump.request("bolus_demand")
    assert "locked out" in str(refused.value)           # the bolus before the cut still counts


def test_the_event_log_exports_every_boot_command_and_alarm_as_csv_and_json(board, rig, sim_only):
    with PumpClient(board.link, timeout=10.0) as pump:
        pump.request("set_rate", rate_ul_h=100)
        pump.request("start")
    rig.run_for(60)
    cut_and_restore(rig)
    rig.fault("crash")
    rig.run_for(5)
    out = pumpctl("--port", board.link, "log")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    kinds = [r["kind"] for r in rows]
    assert kinds.count("boot") >= 3                     # deploy's boot, the power cut, the crash
    cmds = [json.loads(r["detail"]).get("cmd") for r in rows if r["kind"] == "command"]
    assert "set_rate" in cmds and "start" in cmds
    alarms = [json.loads(r["detail"])["name"] for r in rows if r["kind"] == "alarm"]
    assert "internal_fault" in alarms
    out = pumpctl("--port", board.link, "log", "--format", "json", "--kind", "boot")
    boots = json.loads(out.stdout)
    assert [b["k"] for b in boots] == ["boot"] * len(boots) and boots[-1]["crash"]


def test_a_program_resumes_by_itself_after_a_reset_because_the_rtc_kept_the_time(pump, rig, sim_only):
    rig.run_for(0)
    digest = apply(pump, saline("steady", basal={"rate": 2.4}), local_wall_ms())["program"]["digest"]
    pump.request("start")
    rig.run_for(600)
    rig.reset_button()                       # a reset, not a power cut: the RTC runs on
    rig.run_for(2)
    s = pump.request("status")
    assert s["reset_cause"] == "hard" and s["state"] == "running", s
    assert s["program"]["digest"] == digest and "time_unknown" not in s["alarms"]
    steps = s["steps"]
    rig.run_for(3600)
    # 2.4 mL/day is 100 uL/h: 1000 steps in the hour after the reset, nothing made up
    assert abs(pump.request("status")["steps"] - steps - 1000) <= 1
