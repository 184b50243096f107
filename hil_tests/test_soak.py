"""The soak in the HIL suite: a month (PUMP_SOAK_DAYS) of an intrathecal program through refills, demand boluses, occlusions, power cuts and resets, every invariant checked at every event.

`make soak` runs 90 days with a new seed each time. PUMP_SOAK_SEED=N replays a run (here the
default is 1, so the suite is the same on every run). The summary is printed and written to
build/soak/summary.json; docs/soak.md says what is checked.
"""
import os

import pytest

from hil_tests.soak import Soak, format_summary, soak_days, soak_seed
from hil_tests.soak_scenario import INCIDENT_RATES

DAYS, SEED = 30, 1


def _settings():
    try:
        return (soak_days(os.environ.get("PUMP_SOAK_DAYS"), DAYS),
                soak_seed(os.environ.get("PUMP_SOAK_SEED"), SEED), None)
    except ValueError as e:
        return None, None, str(e)


def test_a_month_of_refills_boluses_occlusions_power_cuts_and_resets_keeps_every_invariant(
        pump, rig, sim_only):
    days, seed, problem = _settings()
    if problem:
        pytest.fail(problem, pytrace=False)    # a mistake in the setting: one line says which
    soak = Soak(pump, rig, days, seed)
    try:
        soak.run()
    finally:
        print(format_summary(soak.summary))
    summary = soak.summary
    events = summary["events"]
    # the run met what it was meant to: a soak that skipped its incidents would prove nothing
    for kind in INCIDENT_RATES:
        assert events.get(kind, 0) >= 1, (kind, events)
    assert summary["alarms"].get("occlusion", 0) == len(summary["occlusions"]) == events["occlusion"]
    assert events.get("refill", 0) >= days // 25, events
    if days >= 10:
        refused = summary["demand_refused"]
        max_24h = soak.prog.demand.max_per_24h
        assert refused.get("locked out", 0) >= 1, refused
        assert refused.get("maximum of %d demand boluses" % max_24h, 0) >= 1, refused
        assert events.get("demand_given", 0) >= days, events
