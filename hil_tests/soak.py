"""The soak: weeks of an intrathecal program on the simulated board through refills, demand boluses, occlusions, power cuts and resets, with the pump's invariants checked at every event.

Simulated time runs at the board's top speed between events (rig.run_for) and is held while the
host checks, so every reading is at an exact instant and a seed replays a run exactly. What is
checked, and the figures, are in docs/soak.md.
"""
import collections
import json
import os
import random
import time

from hil_tests.pump_invariants import (UL_PER_STEP, check_gap, check_log_reads_back,
                                       check_program_survived, journal_gap, journal_gap_bound,
                                       wait_for_app)
from hil_tests.soak_model import Expected
from hil_tests.soak_scenario import DAY_MS, make_scenario
from hil_tests.test_programs import apply, compile_doc
from host_tools import paths
from host_tools.client import DeviceError
from host_tools.program_file import read_program
from host_tools.program_io import download

paths.use_firmware_modules()
from pump import program as fw_program  # noqa: E402

PROGRAM_FILE = os.path.join(paths.REPO_DIR, "examples", "teaching-flex-week-morphine.toml")
WALL0 = 1767603600000        # Mon 2026-01-05 09:00, local ms since 1970
SUMMARY = os.path.join(paths.BUILD_DIR, "soak", "summary.json")
LINE_UL = 0.2                # what the line holds back from the scale while delivering, and its resolution
DRAIN_S = 30                 # an open line empties to the outlet (tau = R*C = 1 s)
OCCLUSION_LIMIT_S = 3600     # the model detector alarms within minutes at these rates
OCCLUSION_HELD_UL = 3.0      # held back in the line when it alarms (as test_safety's bound)
RELEASED_TOLERANCE_UL = 0.5
FLASH_CUT_WINDOW_S = 900     # a journal record a minute: a cut of up to 1500 units lands within it
HANG_S, AFTER_HANG_S = 20, 5  # a hung task stalls at 2 s, the 5 s watchdog resets the board
LOG_TAIL = 5                 # records re-read after each restart, to prove the log survived
MIN_DAYS = 3                 # room for one incident of each kind


def soak_days(value, default):
    """PUMP_SOAK_DAYS: how many simulated days (ValueError with what to do if unusable)."""
    if value in (None, ""):
        return default
    try:
        days = int(value)
    except ValueError:
        days = 0
    if days < MIN_DAYS:
        raise ValueError("PUMP_SOAK_DAYS must be a whole number of days, %d or more (one incident "
                         "of each kind needs that room), got %r" % (MIN_DAYS, value))
    return days


def soak_seed(value, default):
    """PUMP_SOAK_SEED: a number replays a run; "random" draws a new one (it is printed)."""
    if value in (None, ""):
        return default
    if value == "random":
        return random.SystemRandom().randrange(1, 1000000)
    try:
        return int(value)
    except ValueError:
        raise ValueError("PUMP_SOAK_SEED must be a whole number (a seed printed by an earlier run) "
                         "or 'random', got %r" % value)


class SoakFailure(AssertionError):
    """An invariant broke; the message says where (day, event, seed) and how to replay it."""


class Soak:
    def __init__(self, pump, rig, days, seed, say=print):
        self.pump, self.rig = pump, rig
        self.days, self.seed, self.say = days, seed, say
        self.doc = read_program(PROGRAM_FILE)
        self.prog = compile_doc(self.doc)
        self.digest = fw_program.digest(self.prog)
        self.capacity_ul = self.prog.capacity_nl / 1000
        self.events = make_scenario(seed, days, WALL0)
        self.model = Expected(self.prog, WALL0)
        self.gap_bound = journal_gap_bound(self.model.fastest_ul_h())
        self.counts = collections.Counter()
        self.refusals = collections.Counter()
        self.alarms = collections.Counter()
        self.allowed = set()         # alarms the incident under way may raise
        self.gap = 0                 # plant steps the pump's count lost to resets
        self.gap_at_fill = 0
        self.log_seq = 0
        self.boot = None
        self.scale0 = self.moved0 = 0.0
        self.log_tail = collections.deque(maxlen=LOG_TAIL)
        self.log_stops = []          # wall ms of every stop the pump logged
        self.log_demands = []        # wall ms of every demand bolus the pump logged
        self.log_kinds = collections.Counter()
        self.day_records = []
        self.worst = (0.0, 0.0)      # (deviation uL, day)
        self.uncertain_ul = 0.0      # what a stop at an instant the host cannot see may add
        self.occlusions = []
        self.refills = []
        self.event = None
        self.last_mark = (WALL0, 0.0)
        self.wall = WALL0
        self.sim0 = None
        self.simulating_s = 0.0      # wall time inside run_for: the board running simulated time

    # ---- time ---------------------------------------------------------------------------------

    def day(self, wall=None):
        return ((wall or self.wall) - WALL0) / DAY_MS

    def where(self):
        ev = self.event
        return "day %.3f, %s (seed %d: PUMP_SOAK_SEED=%d replays it)" % (
            self.day(), "%s %s" % (ev.kind, ev.args) if ev else "start", self.seed, self.seed)

    def check(self, ok, what, *detail):
        if not ok:
            raise SoakFailure("%s: %s %s" % (self.where(), what, " ".join(repr(d) for d in detail)))

    def _set_wall(self, sim_ms):
        self.wall = WALL0 + sim_ms - self.sim0

    def _rig_run_for(self, seconds):
        t = time.perf_counter()
        sim_ms = self.rig.run_for(seconds, timeout=60 + seconds / 1000)
        self.simulating_s += time.perf_counter() - t
        return sim_ms

    def run_for(self, seconds):
        """Run simulated time at top speed and hold it; the board must still be powered."""
        want = self.wall + int(round(seconds * 1000))
        self._set_wall(self._rig_run_for(seconds))
        self.check(self.wall == want, "the board stopped short of the hold point (lost power?)",
                   self.wall, want, self.rig.status()["powered"])

    def advance_to(self, wall):
        if wall > self.wall:
            self.run_for((wall - self.wall) / 1000)

    # ---- the run ----------------------------------------------------------------------------

    def run(self):
        t0 = time.perf_counter()
        self.say("soak: %d days of %r, seed %d (replay: PUMP_SOAK_SEED=%d), %d events"
                 % (self.days, self.doc["name"], self.seed, self.seed, len(self.events)))
        result = "failed"
        try:
            self._begin()
            for ev in self.events:
                self.event = ev
                if ev.wall < self.wall and ev.kind in ("press", "cough"):
                    self.counts["skipped_during_incident"] += 1
                    continue
                self.advance_to(ev.wall)
                getattr(self, "on_" + ev.kind)(**ev.args)
                if ev.kind not in ("day_mark", "end"):
                    self.counts[ev.kind] += 1
            result = "passed"
        except SoakFailure as e:
            result = "failed: %s" % e
            raise
        except Exception as e:
            # a refusal, a lost link or a rig error: say where, and how to replay it
            result = "failed: %s: %s: %s" % (self.where(), type(e).__name__, e)
            raise SoakFailure(result[len("failed: "):]) from e
        finally:
            self.summary = self._summary(result, time.perf_counter() - t0)
            self._write_summary()
        return self.summary

    def _begin(self):
        pump, rig = self.pump, self.rig
        self.sim0 = rig.run_for(0)        # hold the clock: from here only run_for moves it
        rig.fill_reservoir(self.prog.volume_nl / 1000)
        status = apply(pump, self.doc, self.wall)
        self.check(status["program"]["digest"] == self.digest, "the pump took another program", status)
        # the log from here on: what came before (the deploy's boots) is not the soak's
        self.log_seq = pump.request("log_read", since=0, limit=1)["last"]
        self.boot = pump.request("hello")["boot"]
        plant = rig.plant()
        self.scale0, self.moved0 = plant["scale_ul"], plant["steps_moved"]
        self.gap = self.gap_at_fill = plant["steps_moved"] - status["steps"]
        pump.request("start")
        self.model.start(self.wall, fresh=True)
        self.checkpoint()

    # ---- the checks at every event --------------------------------------------------------------

    def checkpoint(self):
        """The invariants that hold at any instant the pump runs: its state, its count against
        the plant, the reservoir against the scale, the scale against the program, the log."""
        status = self.pump.request("status")
        rs = self.rig.status()
        plant = rs["plant"]
        self.check(rs["powered"], "the board has no power", rs)
        self.check(status["state"] == "running" and status["mode"] == "program",
                   "the pump is not delivering its program", status)
        self.check(status["alarms"] == [], "alarms while it should be delivering", status["alarms"])
        prog = status["program"]
        self.check(prog["digest"] == self.digest, "the program changed", prog)
        self.check(prog["start_wall_ms"] + prog["t_ms"] == self.wall,
                   "the pump's time of day is not the host's", prog, self.wall)
        gap = plant["steps_moved"] - status["steps"]
        self.check(gap == self.gap, "the pump's count and the plant disagree without a reset",
                   gap, self.gap)
        lost_ul = (self.gap - self.gap_at_fill) * UL_PER_STEP
        self.check(abs(status["reservoir_ul"] - plant["reservoir_ul"] - lost_ul) < 1e-6,
                   "the pump's reservoir is not the plant's", status["reservoir_ul"],
                   plant["reservoir_ul"], lost_ul)
        scale = plant["scale_ul"] - self.scale0
        moved = plant["steps_moved"] - self.moved0
        self.check(abs(scale - moved * UL_PER_STEP) <= LINE_UL,
                   "the scale does not hold the steps moved", scale, moved)
        self._check_delivered(scale)
        self.read_log()
        return status, plant, scale

    def _tolerance(self):
        """Below the ideal: under a step at each new delivery; above: only what the line may
        show early and stops at instants the host cannot see exactly (a crash)."""
        return ((self.model.intervals + 1) * UL_PER_STEP + LINE_UL, LINE_UL + self.uncertain_ul)

    def _check_delivered(self, scale):
        expected = self.model.ul(self.wall)
        dev = scale - expected
        below, above = self._tolerance()
        if abs(dev) > abs(self.worst[0]):
            self.worst = (dev, self.day())
        self.check(-below <= dev <= above, "delivered %.2f uL, the program's %.2f uL: off by %+.2f uL "
                   "(allowed -%.2f..+%.2f)" % (scale, expected, dev, below, above))
        return dev

    def read_log(self):
        """Every record since the last read: the sequence has no gap, each boot opens with its
        boot record, and every alarm raised is one the incident under way may raise."""
        while True:
            page = self.pump.request("log_read", since=self.log_seq, limit=20)
            for rec in page["records"]:
                self._log_record(rec)
            if not page["records"] or self.log_seq >= page["last"]:
                return

    def _log_record(self, rec):
        seq = rec["seq"]
        self.check(seq == self.log_seq + 1, "the event log skips from seq %d to %d" % (self.log_seq, seq))
        if rec["boot"] != self.boot:
            self.check(rec["boot"] == self.boot + 1 and rec["k"] == "boot",
                       "a boot's records do not open with its boot record", rec, self.boot)
        self.boot = rec["boot"]
        self.log_seq = seq
        self.log_tail.append(rec)
        kind = rec["k"]
        self.log_kinds[kind] += 1
        if kind == "alarm" and rec["change"] == "raised":
            self.check(rec["name"] in self.allowed, "unexpected alarm in the log", rec)
            self.alarms[rec["name"]] += 1
        elif kind == "state" and rec["state"] == "stopped":
            self.log_stops.append(rec["t"])
        elif kind == "bolus" and rec["kind"] == "demand":
            self._check_logged_demand(rec["t"])
        elif kind == "day":
            self._check_day_record(rec)

    def _check_logged_demand(self, wall):
        """From the pump's own log: no demand bolus inside the lockout, none past the 24 h maximum."""
        d = self.prog.demand
        self.check(wall is not None, "a demand bolus logged without the time of day")
        if self.log_demands:
            self.check(wall - self.log_demands[-1] >= d.lockout_ms,
                       "a demand bolus inside the lockout", self.log_demands[-1], wall)
        recent = [w for w in self.log_demands if w > wall - DAY_MS]
        self.check(len(recent) < d.max_per_24h, "more demand boluses in 24 h than allowed",
                   recent, wall)
        self.log_demands.append(wall)

    def _check_day_record(self, rec):
        """The pump's daily history: never more than the day's program with every demand bolus."""
        d = self.prog.demand
        limit = rec["programmed_ul"] + (d.max_per_24h + 1) * d.volume_nl / 1000
        self.day_records.append(rec)
        self.check(rec["delivered_ul"] <= limit + UL_PER_STEP,
                   "the pump logged a day over its limit", rec, limit)

    # ---- restarts ---------------------------------------------------------------------------------

    def after_restart(self, cause):
        """The board is back: the same program, the log intact, the count behind by at most a
        journal interval; returns its status."""
        where = self.where()
        status = wait_for_app(self.pump)
        self.pump.hello()                # a new boot: the client's view of it too
        self.check(status["reset_cause"] == cause, "the board came back from another reset", status)
        check_program_survived(status, {self.digest}, where)
        gap = journal_gap(self.rig, status)
        check_gap(self.gap, gap, self.gap_bound, where)
        self.gap = gap
        check_log_reads_back(self.pump, where)
        self._check_log_survived()
        doc, digest = download(self.pump)
        self.check(digest == self.digest and fw_program.digest(compile_doc(doc)) == self.digest,
                   "the program read back is not the one confirmed", digest)
        return status

    def _check_log_survived(self):
        tail = list(self.log_tail)
        if not tail:
            return
        page = self.pump.request("log_read", since=tail[0]["seq"] - 1, limit=len(tail))
        self.check(page["records"] == tail, "the log lost or changed records it held before the reset",
                   tail, page["records"])

    def _stop_logged_after(self, wall):
        stops = [t for t in self.log_stops if t is not None and t >= wall]
        self.check(stops, "the pump stopped without logging it")
        return stops[0]

    def _ack_and_start(self, status, fresh):
        for code in status["alarms"]:
            self.pump.request("alarm_ack", code=code)
        self.pump.request("start")
        self.model.start(self.wall, fresh=fresh)

    # ---- events -------------------------------------------------------------------------------------

    def on_day_mark(self):
        _, _, scale = self.checkpoint()
        mark_wall, mark_scale = self.last_mark
        most = self.model.most_ul(mark_wall, self.wall)
        self.check(scale - mark_scale <= most + LINE_UL,
                   "delivered %.2f uL in a day, more than the program allows (%.2f uL)"
                   % (scale - mark_scale, most))
        self.last_mark = (self.wall, scale)
        n = round(self.day())
        every = max(1, self.days // 9)
        if n % every == 0:
            self.say("soak day %3d/%d: %.3f mL delivered, %.3f mL expected, worst deviation %+.2f uL"
                     % (n, self.days, scale / 1000, self.model.ul(self.wall) / 1000, self.worst[0]))

    def on_press(self, again=False):
        """The patient presses (again: soon after another press, as the scenario drew it)."""
        verdict = self.model.demand_verdict(self.wall)
        try:
            reply = self.pump.request("bolus_demand")
        except DeviceError as e:
            self.check(verdict is not None, "the pump refused a demand bolus the program allows", e)
            self.check(e.code == verdict[0] and verdict[1] in e.message,
                       "the pump refused for another reason than %r" % (verdict,), e)
            self.refusals[verdict[1]] += 1
            return
        self.check(verdict is None, "the pump gave a demand bolus it must refuse (%r)" % (verdict,), reply)
        d = self.prog.demand
        self.check(reply["volume_nl"] == d.volume_nl and reply["ends_ms"] - reply["starts_ms"] == d.duration_ms,
                   "the demand bolus is not the program's", reply)
        self.model.give_demand(self.wall)
        self.counts["demand_given"] += 1

    def on_cough(self, kpa):
        self.rig.cough(kpa, 500)

    def on_refill(self, hold_s):
        self.checkpoint()
        self.pump.request("stop")
        self.model.stop(self.wall)
        self.run_for(hold_s)             # aspirated and filled while stopped; the line drains
        residual_ul = self.rig.plant()["reservoir_ul"]
        self.rig.fill_reservoir(self.capacity_ul)
        r = self.pump.request("refill", volume_ml=self.capacity_ul / 1000, residual_ml=residual_ul / 1000)
        # the pump counts ahead of the plant by exactly the steps its resets forgot
        lost_ml = (self.gap - self.gap_at_fill) * UL_PER_STEP / 1000
        self.check(r["alarm"] is False and abs(r["expected_ml"] - r["measured_ml"] - lost_ml) < 1e-6,
                   "the refill's reconciliation does not match the plant", r, lost_ml)
        self.refills.append({"day": round(self.day(), 3), "residual_ml": round(r["measured_ml"], 4),
                             "discrepancy_pct": round(r["discrepancy_pct"], 4)})
        self.gap_at_fill = self.gap
        self.pump.request("start")
        self.model.start(self.wall, fresh=False)
        self.checkpoint()

    def on_occlusion(self, hold_s):
        self.checkpoint()
        self.allowed = {"occlusion"}
        occluded_at = self.wall
        moved = self.rig.plant()["steps_moved"]
        self.rig.occlude(1.0)
        while True:
            self.run_for(60)
            status = self.pump.request("status")
            if "occlusion" in status["alarms"]:
                break
            self.check(self.wall - occluded_at < OCCLUSION_LIMIT_S * 1000,
                       "no occlusion alarm within %d s" % OCCLUSION_LIMIT_S, status)
        self.check(status["state"] == "stopped", "an occlusion alarm did not stop delivery", status)
        held_ul = (self.rig.plant()["steps_moved"] - moved) * UL_PER_STEP
        self.check(held_ul <= OCCLUSION_HELD_UL, "the line held %.1f uL before the alarm" % held_ul)
        self.read_log()
        stopped = self._stop_logged_after(occluded_at)
        self.model.stop(stopped)
        self.on_press()                  # the patient presses during the alarm: no bolus
        self.run_for(hold_s)
        before = self.rig.scale_ul()
        self.rig.release()
        self.run_for(DRAIN_S)
        status = self.pump.request("status")
        released = status["occlusion"]["released_ul"]
        on_scale = self.rig.scale_ul() - before
        self.check(released is not None and abs(released - on_scale) <= RELEASED_TOLERANCE_UL,
                   "the released bolus reported is not the one on the scale", released, on_scale)
        self.occlusions.append({"day": round(self.day(), 3), "alarm_after_s": (stopped - occluded_at) / 1000,
                                "held_ul": round(held_ul, 2), "released_ul": round(on_scale, 2)})
        self._ack_and_start(status, fresh=False)
        self.checkpoint()
        self.allowed = set()

    def on_partial_occlusion(self, fraction, hold_s):
        self.checkpoint()
        self.rig.occlude(fraction)
        for _ in range(4):               # a narrowed line that still flows must raise nothing
            self.run_for(hold_s / 4)
            self.checkpoint()
        self.rig.release()

    def _power_back(self, off_s):
        self._set_wall(self.rig.power_on(off_s=off_s)["sim_ms"])
        self.allowed = {"time_unknown"}
        status = self.after_restart("power_on")
        # the time of day went with the power: the program waits for it, never guesses
        self.check(status["state"] == "stopped" and status["alarms"] == ["time_unknown"],
                   "after a power cut the program did not wait for the time", status)
        self.pump.request("time_sync", time_ms=self.wall)
        self.pump.request("start")
        self.model.start(self.wall, fresh=True)
        self.checkpoint()
        self.allowed = set()

    def on_power_cut(self, off_s):
        self.checkpoint()
        self.rig.power_cut()
        self.model.stop(self.wall)
        self._power_back(off_s)

    def on_flash_cut(self, off_s, units):
        self.checkpoint()
        self.rig.cut_power_after_flash_bytes(units)
        self._set_wall(self._rig_run_for(FLASH_CUT_WINDOW_S))
        rs = self.rig.status()
        if rs["powered"]:
            self.rig.disarm_flash_cut()
            self.counts["flash_cut_not_fired"] += 1
            self.checkpoint()
            return
        self.model.stop(self.wall)       # the world holds at the instant of the cut
        self._power_back(off_s)

    def on_reset_button(self):
        self.checkpoint()
        self.rig.reset_button()
        self.model.stop(self.wall)
        status = self.after_restart("hard")
        # the RTC ran through the reset: the program resumed by itself, at once
        self.check(status["state"] == "running" and status["alarms"] == [],
                   "after a reset the program did not resume by itself", status)
        self.model.start(self.wall, fresh=True)
        self.checkpoint()

    def on_watchdog(self, task):
        self.checkpoint()
        self.allowed = {"task_stalled", "watchdog_reset"}
        hung_at = self.wall
        self.rig.fault("hang:" + task)
        self.run_for(HANG_S)
        self.rig.fault("hang:" + task, active=False)
        self.run_for(AFTER_HANG_S)
        status = self.after_restart("watchdog")
        self.check(status["state"] == "stopped" and "watchdog_reset" in status["alarms"]
                   and set(status["alarms"]) <= self.allowed,
                   "after a watchdog reset the pump is not stopped with its alarm", status)
        self.read_log()
        self.model.stop(self._stop_logged_after(hung_at))
        self._ack_and_start(status, fresh=True)
        self.checkpoint()
        self.allowed = set()

    def on_crash(self):
        self.checkpoint()
        self.allowed = {"internal_fault"}
        crashed_at = self.wall
        self.rig.fault("crash")          # one-shot: the reset it causes clears it
        self.run_for(AFTER_HANG_S)
        status = self.after_restart("hard")
        self.check(status["state"] == "stopped" and status["alarms"] == ["internal_fault"],
                   "after a crash the pump is not stopped with its alarm", status)
        # the crash comes at the loop's next pass, within a second: the host cannot see when
        self.model.stop(crashed_at)
        self.uncertain_ul += self.model.fastest_ul_h() / 3600 + UL_PER_STEP
        self._ack_and_start(status, fresh=True)
        self.checkpoint()
        self.allowed = set()

    def on_end(self):
        """Stop, let the line drain: the scale holds every step, the count agrees with the plant."""
        self.checkpoint()
        self.pump.request("stop")
        self.model.stop(self.wall)
        self.run_for(DRAIN_S)
        plant = self.rig.plant()
        drained = plant["scale_ul"] - self.scale0
        moved = plant["steps_moved"] - self.moved0
        self.check(abs(drained - moved * UL_PER_STEP) <= UL_PER_STEP,
                   "the drained scale does not hold every step", drained, moved)
        self._check_delivered(drained)
        self.read_log()
        self.delivered_ul = drained

    # ---- the summary ---------------------------------------------------------------------------------

    def _summary(self, result, wall_s):
        sim_s = (self.wall - WALL0) / 1000
        delivered = getattr(self, "delivered_ul", None)
        below, above = self._tolerance()
        return {
            "result": result, "seed": self.seed, "days": self.days,
            "days_run": round(self.day(), 3),
            "program": {"file": os.path.relpath(PROGRAM_FILE, paths.REPO_DIR), "name": self.doc["name"],
                        "digest": self.digest},
            "events": dict(sorted(self.counts.items())),
            "demand_refused": dict(sorted(self.refusals.items())),
            "delivered_ul": None if delivered is None else round(delivered, 2),
            "expected_ul": round(self.model.ul(self.wall), 2),
            "worst_deviation_ul": round(self.worst[0], 3), "worst_deviation_day": round(self.worst[1], 3),
            "tolerance_ul": [round(-below, 3), round(above, 3)],
            "stopped_s": round(self.model.stopped_s(self.wall), 1),
            "deliveries": self.model.intervals,
            "alarms": dict(sorted(self.alarms.items())),
            "occlusions": self.occlusions, "refills": self.refills,
            "log_records": dict(sorted(self.log_kinds.items())),
            "journal_gap_steps": self.gap,
            "wall_s": round(wall_s, 1), "sim_s": round(sim_s),
            "sim_s_per_wall_s": round(sim_s / wall_s) if wall_s > 0 else None,
            # the board running simulated time, against the host's checks, requests and reboots
            "wall_s_simulating": round(self.simulating_s, 1),
            "sim_s_per_wall_s_simulating": round(sim_s / self.simulating_s) if self.simulating_s else None,
        }

    def _write_summary(self):
        os.makedirs(os.path.dirname(SUMMARY), exist_ok=True)
        with open(SUMMARY, "w") as f:
            json.dump(self.summary, f, indent=2)
            f.write("\n")


def format_summary(s):
    """The summary as a person reads it at the end of a run."""
    ev = s["events"]
    incidents = ", ".join("%d %s" % (n, k.replace("_", " ")) for k, n in ev.items()
                          if k not in ("press", "demand_given", "cough", "skipped_during_incident"))
    refused = ", ".join("%d %s" % (n, k) for k, n in s["demand_refused"].items()) or "none"
    alarms = ", ".join("%s %d" % kv for kv in s["alarms"].items()) or "none"
    lines = [
        "soak %s" % s["result"],
        "  %s of %d days (%s), seed %d: PUMP_SOAK_SEED=%d replays it"
        % ("all" if s["days_run"] >= s["days"] else "%.2f" % s["days_run"], s["days"],
           s["program"]["file"], s["seed"], s["seed"]),
        "  demand presses  %d: %d given; refused: %s" % (ev.get("press", 0), ev.get("demand_given", 0), refused),
        "  incidents       %s" % incidents,
        "  alarms raised   %s" % alarms,
        "  delivered       %s uL on the scale, %.2f uL expected; worst deviation %+.2f uL on day %.2f "
        "(allowed %+.2f..%+.2f)" % ("-" if s["delivered_ul"] is None else "%.2f" % s["delivered_ul"],
                                    s["expected_ul"], s["worst_deviation_ul"], s["worst_deviation_day"],
                                    s["tolerance_ul"][0], s["tolerance_ul"][1]),
        "  stopped         %.1f h (alarms, power cuts, resets, refills), %d deliveries"
        % (s["stopped_s"] / 3600, s["deliveries"]),
        "  wall time       %.1f s for %d simulated s: %s sim s per wall s (%s while simulating)"
        % (s["wall_s"], s["sim_s"], s["sim_s_per_wall_s"], s["sim_s_per_wall_s_simulating"]),
        "  written to      %s" % os.path.relpath(SUMMARY, paths.REPO_DIR),
    ]
    return "\n".join(lines)
