"""Power-cut fuzz: cut the running pump's power inside its own flash writes, again and again.

A seed picks every action and every cut point (the rig cuts at an exact flash byte), so a failing
run replays: PUMP_FUZZ_SEED=N. The default run makes 200 cuts; `make soak` makes 2000
(PUMP_FUZZ_CUTS). After every cut the pump must come back with a program it confirmed (never a
corrupt or half-written one), a readable log, and a delivered count behind the plant's by at
most one journal interval; over the whole run the plant may not have moved more than the basal
while running plus each demand bolus granted once (a bolus given twice would show).
"""
import os
import random

from hil_tests.pump_invariants import (UL_PER_STEP, check_gap, check_log_reads_back,
                                       check_program_survived, journal_gap, journal_gap_bound,
                                       wait_for_app)
from hil_tests.test_programs import apply, compile_doc, fw_program, saline
from host_tools.client import DeviceError, LinkError

SEED = int(os.environ.get("PUMP_FUZZ_SEED", "1"))
CUTS = int(os.environ.get("PUMP_FUZZ_CUTS", "200"))
WALL0 = 1767603600000             # Mon 2026-01-05 09:00, local ms since 1970
BASAL_UL_H = (100.0, 50.0)        # the two programs the fuzz switches between (2.4, 1.2 mL/day)
BOLUS_UL = 50.0                   # the demand bolus: 0.05 mL over 10 minutes
# one journal interval at the most the pump can run: the faster basal plus a bolus (10 min)
GAP_STEPS = journal_gap_bound(BASAL_UL_H[0] + BOLUS_UL * 6)



def _program(i):
    return saline("fuzz %d" % i, basal={"rate": BASAL_UL_H[i] * 24 / 1000},
                  demand={"dose": 0.05, "duration_min": 10, "lockout_min": 30, "max_per_24h": 48})


class Fuzz:
    def __init__(self, pump, rig):
        self.pump, self.rig = pump, rig
        self.rng = random.Random(SEED)
        self.sim0 = rig.run_for(0)
        self.confirmed = set()       # digests the pump confirmed (or was confirming at a cut)
        self.granted = 0
        self.running_s = 0.0         # simulated seconds the pump was delivering
        self.cuts = 0
        self.by_action = {}

    def wall(self):
        return WALL0 + self.rig.run_for(0) - self.sim0

    def gap(self, status):
        return journal_gap(self.rig, status)

    def act(self, action):
        pump, rng = self.pump, self.rng
        if action == "run":
            running = pump.request("status")["state"] == "running"
            s = rng.randint(5, 240)
            self.rig.run_for(s)
            if running:
                self.running_s += s
        elif action == "bolus":
            try:
                self.granted += 1     # counted first: a cut may take the reply of a granted one
                pump.request("bolus_demand")
            except DeviceError:
                self.granted -= 1     # locked out, or stopped: refused, never given
        else:
            doc = _program(rng.randint(0, 1))
            # a cut after the store took it but before the reply leaves this one in use
            self.confirmed.add(fw_program.digest(compile_doc(doc)))
            apply(pump, doc, self.wall())
            pump.request("start")

    def restart(self):
        """Power back on after a cut; the clinician sets the time and starts it if it waits."""
        self.rig.power_on(off_s=self.rng.randint(0, 120))
        status = wait_for_app(self.pump)
        if status["state"] != "running" and "program" in status:
            self.pump.request("time_sync", time_ms=self.wall(), timeout=10.0)
            if not status["alarms"] or status["alarms"] == ["time_unknown"]:
                self.pump.request("start", timeout=10.0)
        return status


def test_power_cuts_inside_flash_writes_never_corrupt_the_program_double_a_bolus_or_lose_the_log(
        pump, rig, sim_only):
    pump.timeout = 0.5                # a request the power cut interrupts is not waited on long
    # (a reply that comes later than that is skipped by its id; the round then just goes on)
    fz = Fuzz(pump, rig)
    first = apply(pump, _program(0), fz.wall())
    fz.confirmed.add(first["program"]["digest"])
    pump.request("start")
    gap = fz.gap(pump.request("status"))
    rounds = 0
    while fz.cuts < CUTS:
        rounds += 1
        assert rounds < CUTS * 20, "the fuzz stopped cutting: %d cuts in %d rounds" % (fz.cuts, rounds)
        action = fz.rng.choice(("run", "run", "run", "bolus", "program"))
        # a journal record is about 300 units, a log record 150-250: most actions write a few
        rig.cut_power_after_flash_bytes(fz.rng.randint(0, 1500))
        try:
            fz.act(action)
        except LinkError:
            pass                      # the power went in the middle of a request
        if rig.status()["powered"]:
            rig.disarm_flash_cut()
            # no cut: the pump is up, so a slow reply is waited for (the short timeout is only
            # for requests a cut may have swallowed)
            gap = fz.gap(pump.request("status", timeout=10.0))
            continue
        fz.cuts += 1
        fz.by_action[action] = fz.by_action.get(action, 0) + 1
        status = fz.restart()
        where = "cut %d (seed %d, %s)" % (fz.cuts, SEED, action)
        check_program_survived(status, fz.confirmed, where)
        new_gap = fz.gap(status)
        # the count restarts from the journal: behind the plant by one interval at most
        check_gap(gap, new_gap, GAP_STEPS, where)
        gap = new_gap
        check_log_reads_back(pump, where)
    rig.disarm_flash_cut()
    moved_ul = rig.plant()["steps_moved"] * UL_PER_STEP
    most_ul = BASAL_UL_H[0] * fz.running_s / 3600 + BOLUS_UL * fz.granted + 2 * UL_PER_STEP
    assert moved_ul <= most_ul, (moved_ul, most_ul, fz.granted)
    print("power-cut fuzz: seed %d, %d cuts in %d rounds %s; %d boluses granted, %.1f uL moved of "
          "at most %.1f" % (SEED, fz.cuts, rounds, fz.by_action, fz.granted, moved_ul, most_ul))
