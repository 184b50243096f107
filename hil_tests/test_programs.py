"""Therapy programs on the board: the steps the pump takes equal the planner's exact ideal, and the
rig's scale (the independent measure) agrees with the steps.

Time is held between rig commands, so a status read right after `run_for` sees the pump at an
exact program time: its `steps` must equal floor(ideal_units / step_units), no more, no less.
"""
import datetime
import json
import os
import subprocess

import pytest

from host_tools import paths
from host_tools.client import DeviceError
from host_tools.program_file import board_config, drug_library, read_program
from host_tools.program_io import compact, upload

paths.use_firmware_modules()
from pump import program as fw_program  # noqa: E402  (the firmware's own validator and digest)
from pump.errors import ProgramError  # noqa: E402
from pump.planner import ideal_units  # noqa: E402
from pump.units import step_units  # noqa: E402
from cli_runner import pumpctl_argv

UL_PER_STEP = 0.1          # boards/sim/board.json calibration (calibration_error_pct 0)
PL_PER_STEP = 100000
DAY_S = 86400
DRAIN_S = 30               # the line empties to the outlet (tau = R*C = 1 s)


def _wall_ms(*when):
    """Local wall-clock ms since 1970-01-01 00:00 local, as the pump's schedule clock counts."""
    return int((datetime.datetime(*when) - datetime.datetime(1970, 1, 1)).total_seconds() * 1000)


def _steps(*steps):
    return [{"start": s, "rate": r} for s, r in steps]


def saline(name, capacity_ml=20, volume_ml=20, low_ml=2, **sections):
    doc = {"format": 1, "name": name, "purpose": "bench",
           "drug": {"name": "saline", "concentration": 9, "concentration_units": "mg/mL",
                    "dose_units": "mL/day"},
           "reservoir": {"capacity_ml": capacity_ml, "volume_ml": volume_ml, "low_ml": low_ml}}
    doc.update(sections)
    return doc


def hold_time(rig):
    """Stop the sim's clock running at wall speed: from here on, only run_for moves it."""
    rig.run_for(0)


def compile_doc(doc):
    return fw_program.compile_program(doc, board_config("sim"), drug_library())


def apply(pump, doc, wall_ms, override_soft=False):
    """Upload, review and confirm `doc` with the pump's wall clock set to wall_ms; returns status."""
    review = upload(pump, doc)
    assert review["digest"] == fw_program.digest(compile_doc(doc))
    return pump.request("program_confirm", digest=review["digest"], base=review.get("base") or "",
                        time_ms=wall_ms, override_soft=override_soft)


def expected_steps(prog, status, runtime=()):
    """The planner's exact whole steps at the program time the status was taken."""
    p = status["program"]
    return ideal_units(prog, p["start_wall_ms"], p["t_ms"], runtime) // step_units(PL_PER_STEP)


def runtime_of(reply):
    return (reply["starts_ms"], reply["volume_nl"], reply["ends_ms"] - reply["starts_ms"])


def assert_exact(pump, prog, runtime=(), base_steps=0):
    status = pump.request("status")
    assert status["state"] == "running", status
    want = expected_steps(prog, status, runtime)
    assert status["steps"] - base_steps == want, (status["program"], status["steps"], want)
    return status


def stop_and_weigh(pump, rig, before_ul):
    """Stop, let the line drain, and return (steps, volume on the scale since before_ul)."""
    pump.request("stop")
    rig.run_for(DRAIN_S)
    steps = pump.request("status")["steps"]
    return steps, rig.scale_ul() - before_ul


def assert_scale_matches_steps(pump, rig, before_ul, status):
    """After a stop and drain, no step was added and the scale holds every step within one."""
    steps, weighed = stop_and_weigh(pump, rig, before_ul)
    assert steps == status["steps"]
    assert abs(weighed - steps * UL_PER_STEP) <= UL_PER_STEP, (weighed, steps)


def start_program(pump, rig, doc, wall_ms):
    """Hold the sim's time, apply doc as if confirmed at wall_ms, start it; returns (the host's
    compiled program, the scale reading at the start)."""
    prog = compile_doc(doc)
    hold_time(rig)                               # every read below is at an exact t
    apply(pump, doc, wall_ms)
    before = rig.scale_ul()
    pump.request("start")
    return prog, before


def events(pump, name):
    return [e["data"] for e in pump.events if e.get("event") == name]


# ---- 1. a flex week ------------------------------------------------------------------------

FLEX_WEEK = saline(
    "Flex week saline", flex={
        "steps": _steps(("00:00", 1.2), ("06:30", 2.4), ("12:15", 3.0), ("19:45", 1.5)),
        "days": {"sat": _steps(("00:00", 1.0), ("09:00", 2.0), ("21:00", 1.1)),
                 "sun": _steps(("00:00", 0.8), ("10:30", 1.7), ("18:00", 2.6), ("22:15", 1.25))}})


def test_a_flex_week_delivers_the_planners_exact_steps_each_day_and_the_scale_agrees(pump, rig):
    prog, before = start_program(pump, rig, FLEX_WEEK, _wall_ms(2025, 1, 3, 5, 30))     # a Friday, 05:30 local
    status = pump.request("status")
    assert status["program"]["t_ms"] == 0 and status["steps"] == 0
    # checkpoints off the day boundaries first, then a day at a time across the weekend
    chunks = [5000, 3 * 3600 + 17] + [DAY_S] * 6
    chunks.append(7 * DAY_S - sum(chunks))
    last_steps, last_scale = 0, before
    per_chunk = []
    for seconds in chunks:
        rig.run_for(seconds)
        status = assert_exact(pump, prog)
        scale = rig.scale_ul()
        # while running, the line holds well under a step (flow x tau): the scale keeps up
        assert abs((scale - last_scale) - (status["steps"] - last_steps) * UL_PER_STEP) <= 0.15
        per_chunk.append(status["steps"] - last_steps)
        last_steps, last_scale = status["steps"], scale
    assert status["program"]["t_ms"] == 7 * DAY_S * 1000
    # the weekend differs: Sat 09:53 to Sun 09:53 (chunk 3) delivers less than a weekday day
    assert per_chunk[3] < per_chunk[6] - 1000, per_chunk
    assert_scale_matches_steps(pump, rig, before, status)


# ---- 2. periodic boluses ---------------------------------------------------------------------

PERIODIC = saline("Periodic saline", basal={"rate": 1.2},
                  periodic={"dose": 0.2, "duration_min": 15, "interval_min": 120, "first": "00:30"})


def test_periodic_boluses_over_a_day_deliver_the_exact_ideal_and_show_on_the_scale(pump, rig):
    prog, before = start_program(pump, rig, PERIODIC, _wall_ms(2025, 1, 8, 0, 10))     # a Wednesday, 00:10 local
    status = pump.request("status")
    assert status["bolus"]["next_periodic_ms"] == 20 * 60000   # "first" is 00:30, 20 min away
    rig.run_for(20 * 60)
    assert_exact(pump, prog)
    a = rig.scale_ul()
    rig.run_for(7.5 * 60)
    mid = assert_exact(pump, prog)
    assert mid["bolus"]["active"] == "periodic"
    rig.run_for(7.5 * 60)
    end = assert_exact(pump, prog)
    assert end["bolus"]["active"] is None
    assert end["bolus"]["next_periodic_ms"] == (20 + 120) * 60000
    b = rig.scale_ul()
    rig.run_for(45 * 60)                         # basal only until the next bolus at 140 min
    c = rig.scale_ul()
    rig.run_for(15 * 60)
    d = rig.scale_ul()
    bolus_window, basal_window = b - a, d - c
    basal_15 = 1200 / 24 / 4                     # 1.2 mL/day for 15 min: 12.5 uL
    assert abs(basal_window - basal_15) <= 2 * UL_PER_STEP, basal_window
    assert abs(bolus_window - (200 + basal_15)) <= 3 * UL_PER_STEP, bolus_window
    assert bolus_window > 10 * basal_window
    for seconds in (3 * 3600 + 321, 6 * 3600, 9 * 3600):
        rig.run_for(seconds)
        status = assert_exact(pump, prog)
    rig.run_for(DAY_S - status["program"]["t_ms"] / 1000)
    status = assert_exact(pump, prog)
    assert status["program"]["t_ms"] == DAY_S * 1000
    # 12 boluses in the day (00:30 ... 22:30) on top of 1.2 mL of basal
    assert status["steps"] == (1200 + 12 * 200) * 10
    assert_scale_matches_steps(pump, rig, before, status)


# ---- 3. demand boluses -----------------------------------------------------------------------

DEMAND = saline("Demand saline", basal={"rate": 1.2},
                demand={"dose": 0.1, "duration_min": 10, "lockout_min": 60, "max_per_24h": 3})


def test_demand_boluses_respect_the_lockout_and_the_24_hour_maximum_and_deliver_exactly(pump, rig):
    prog, before = start_program(pump, rig, DEMAND, _wall_ms(2025, 1, 7, 8, 0))       # a Tuesday, 08:00 local
    runtime = []

    def demand():
        reply = pump.request("bolus_demand")
        assert reply["kind"] == "demand" and reply["volume_nl"] == 100000
        assert reply["ends_ms"] - reply["starts_ms"] == 10 * 60000
        runtime.append(runtime_of(reply))
        return reply

    def refused(*words):
        with pytest.raises(DeviceError) as e:
            pump.request("bolus_demand")
        assert e.value.code == "limit", e.value
        for w in words:
            assert w in e.value.message, e.value.message
        return e.value

    rig.run_for(3600)
    first = demand()
    assert first["starts_ms"] == 3600000
    rig.run_for(20 * 60)
    refused("locked out", "40 more minutes")
    assert_exact(pump, prog, runtime)
    rig.run_for(40 * 60)                         # the lockout counts from the previous start
    demand()
    rig.run_for(5 * 60)
    mid = assert_exact(pump, prog, runtime)
    assert mid["bolus"]["active"] == "demand"
    rig.run_for(85 * 60)
    demand()
    rig.run_for(120 * 60)                        # past the lockout, but 3 starts in 24 h
    refused("maximum of 3 demand boluses in 24 h", "1170 minutes")
    status = assert_exact(pump, prog, runtime)
    assert status["bolus"]["demand_used_24h"] == 3
    assert status["bolus"]["demand_lockout_ms"] == 0
    rig.run_for(DAY_S + 3600 - status["program"]["t_ms"] / 1000 - 1)
    refused("maximum of 3 demand boluses in 24 h", "1 minute")
    rig.run_for(1)                               # the first start leaves the rolling 24 h
    demand()
    rig.run_for(3600)
    status = assert_exact(pump, prog, runtime)
    assert len(events(pump, "bolus")) == 4       # refusals send no bolus event
    # basal for 26 h plus the four boluses given: refused requests delivered nothing
    assert status["steps"] == (1200 * 26 // 24 + 4 * 100) * 10
    assert_scale_matches_steps(pump, rig, before, status)


# ---- 4. the reservoir runs down ---------------------------------------------------------------

SMALL = saline("Small reservoir saline", capacity_ml=1, volume_ml=1, low_ml=0.5,
               basal={"rate": 24})               # 1000 uL/h: low at 30 min, empty at 60 min


def test_a_reservoir_running_down_alarms_low_then_empty_stops_and_a_refill_clears_it(pump, rig):
    prog, before = start_program(pump, rig, SMALL, _wall_ms(2025, 1, 6, 12, 0))
    rig.run_for(30 * 60 - 1)
    status = assert_exact(pump, prog)
    assert status["alarms"] == [] and status["steps"] == 4997
    rig.run_for(1)                               # 500 uL left: the low level, exactly
    status = assert_exact(pump, prog)
    assert status["alarms"] == ["reservoir_low"] and status["steps"] == 5000
    rig.run_for(30 * 60 - 1)
    status = assert_exact(pump, prog)
    assert status["alarms"] == ["reservoir_low"] and status["steps"] == 9997
    rig.run_for(1)
    status = pump.request("status")
    assert status["state"] == "stopped"
    assert status["alarms"] == ["reservoir_empty", "reservoir_low"]
    assert status["steps"] == 10000 and status["reservoir_ul"] == 0
    alarms = [(a["name"], a["active"]) for a in events(pump, "alarm")]
    assert alarms == [("reservoir_low", True), ("reservoir_empty", True)]
    assert events(pump, "state")[-1]["state"] == "stopped"
    assert events(pump, "alarm")[1]["priority"] == "high"
    rig.run_for(600)                             # nothing more moves once empty
    assert pump.request("status")["steps"] == 10000
    assert rig.plant()["motor_enabled"] is False
    weighed = rig.scale_ul() - before
    assert abs(weighed - 1000) <= UL_PER_STEP, weighed
    with pytest.raises(DeviceError) as e:
        pump.request("start")
    assert e.value.code == "bad_state" and "reservoir_empty" in e.value.message
    assert pump.request("status")["state"] == "stopped"
    # a refill: the rig fills the syringe, the program is loaded again with its new volume
    rig.fill_reservoir(1000)
    n_alarm_events = len(events(pump, "alarm"))
    status = apply(pump, SMALL, _wall_ms(2025, 1, 6, 13, 10))
    assert status["alarms"] == [] and status["reservoir_ul"] == 1000
    cleared = [a["name"] for a in events(pump, "alarm")[n_alarm_events:] if a["change"] == "cleared"]
    assert sorted(cleared) == ["reservoir_empty", "reservoir_low"]
    pump.request("start")
    rig.run_for(600)
    status = assert_exact(pump, prog, base_steps=10000)
    assert status["alarms"] == []
    assert status["reservoir_ul"] == pytest.approx(1000 - (status["steps"] - 10000) * UL_PER_STEP)


# ---- 5. review and confirm through pumpctl -----------------------------------------------------

def pumpctl(*args, timeout=60):
    return subprocess.run(pumpctl_argv() + list(args),
                          capture_output=True, text=True, timeout=timeout)


def _status(link):
    result = pumpctl("--port", link, "status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


SOFT_TOML = """\
# breaks morphine's soft max_dose_per_day (15 mg/day), under its hard limit (30)
format = 1
name = "Morphine over the soft daily limit"
purpose = "teaching"

[drug]
name = "morphine"
concentration = 10
concentration_units = "mg/mL"
dose_units = "mg/day"

[reservoir]
capacity_ml = 20
volume_ml = 18

[basal]
rate = 20
"""


def test_pumpctl_loads_a_program_after_review_and_refuses_a_soft_limit_without_override(
        board, pump, tmp_path):
    pump.close()                                 # the port is exclusive: pumpctl opens it next
    link = board.link
    first = os.path.join(paths.REPO_DIR, "examples", "bench-continuous-saline.toml")
    want = fw_program.digest(compile_doc(read_program(first)))
    result = pumpctl("--port", link, "program", "load", first, "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert want in result.stdout
    assert _status(link)["program"]["digest"] == want

    result = pumpctl("--port", link, "program", "get", "--json")
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert fw_program.digest(compile_doc(got)) == want

    soft = tmp_path / "soft.toml"
    soft.write_text(SOFT_TOML)
    soft_digest = fw_program.digest(compile_doc(read_program(str(soft))))
    assert compile_doc(read_program(str(soft))).soft    # the file really breaks a soft limit
    result = pumpctl("--port", link, "program", "load", str(soft), "--yes")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "soft limit" in result.stderr and "Traceback" not in result.stderr
    status = _status(link)
    assert status["program"]["digest"] == want and status["state"] == "stopped"
    result = pumpctl("--port", link, "program", "get", "--json")
    assert fw_program.digest(compile_doc(json.loads(result.stdout))) == want

    result = pumpctl("--port", link, "program", "load", str(soft), "--yes", "--override-soft-limits")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _status(link)["program"]["digest"] == soft_digest


# ---- 6. bad input reaching the pump ------------------------------------------------------------

BASAL = saline("Basal saline", basal={"rate": 2.4})

BAD_HEADER = {
    "format": 2, "name": "Broken", "purpose": "bench",
    "drug": {"name": "saline", "concentration": 9, "concentration_units": "mg/mL",
             "dose_units": "mL/day"},
    "reservoir": {"capacity_ml": 20, "volume_ml": 25, "low_ml": 2},
    "basal": {"rate": 1.0},
    "periodic": {"dose": 0.1, "duration_min": 30, "interval_min": 20, "first": "25:00"},
}
BAD_STEPS = [{"start": "01:00", "rate": 1.0}, {"start": "00:30", "rate": -2}]


def test_an_invalid_program_sent_raw_is_refused_with_every_problem_and_changes_nothing(pump, rig):
    prog = compile_doc(BASAL)
    hold_time(rig)
    apply(pump, BASAL, _wall_ms(2025, 1, 9, 9, 0))
    pump.request("start")
    rig.run_for(1800)
    digest = assert_exact(pump, prog)["program"]["digest"]

    # what the host's validator (the same code) finds in the same parts
    bad_doc = dict(BAD_HEADER, flex={"steps": BAD_STEPS})
    with pytest.raises(ProgramError) as host:
        compile_doc(bad_doc)
    problems = host.value.problems
    paths_found = [p for p, _ in problems]
    for p in ("format", "reservoir.volume_ml", "periodic.interval_min", "periodic.first",
              "flex", "flex.steps[0].start", "flex.steps[1].start", "flex.steps[1].rate"):
        assert p in paths_found, (p, problems)

    parts = [("", BAD_HEADER), ("flex.steps", BAD_STEPS)]
    pump.request("program_begin", bytes=sum(len(compact(v)) for _, v in parts), parts=len(parts))
    for i, (path, value) in enumerate(parts):
        pump.request("program_part", index=i, path=path, value=value)
    with pytest.raises(DeviceError) as e:
        pump.request("program_review", time_ms=_wall_ms(2025, 1, 9, 9, 30))
    assert e.value.code == "bad_program"
    for p, m in problems:
        assert "%s: %s" % (p, m) in e.value.message, (p, m, e.value.message)
    assert e.value.message == "; ".join("%s: %s" % pm for pm in problems)
    # nothing is under review: no digest can be confirmed
    with pytest.raises(DeviceError) as e:
        pump.request("program_confirm", digest=digest, base=digest, time_ms=_wall_ms(2025, 1, 9))
    assert e.value.code == "bad_state"

    # a program larger than the pump takes is refused before any part is sent
    with pytest.raises(DeviceError) as e:
        pump.request("program_begin", bytes=fw_program.PROGRAM_MAX_BYTES + 1, parts=1)
    assert e.value.code == "limit" and str(fw_program.PROGRAM_MAX_BYTES) in e.value.message
    with pytest.raises(DeviceError) as e:
        pump.request("program_part", index=0, path="", value=BASAL)
    assert e.value.code == "bad_state"

    # the program on the pump runs on as if nothing happened
    rig.run_for(1800)
    status = assert_exact(pump, prog)
    assert status["program"]["digest"] == digest and status["program"]["t_ms"] == 3600000
    assert status["steps"] == 1000               # 2.4 mL/day for an hour: 100 uL
    assert [e for e in pump.events if e.get("event") == "program"][-1]["data"]["digest"] == digest
