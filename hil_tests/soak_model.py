"""What the program should have delivered given when the pump ran, and which demand boluses it must give or refuse.

The volume is the firmware's own ideal (pump.planner.Plan, a pure function of the program and
the time of day) summed over the intervals the pump was running, with the rules of
docs/programs.md and docs/persistence.md for what a stop and a reset do to a bolus:

- a stop (an alarm, a refill) pauses the program: a periodic bolus running at the restart goes
  on to its planned end, a demand bolus running at the stop is cancelled;
- a reset (power, reset button, watchdog, crash) starts a new delivery: a periodic bolus that
  had started before the restart is not resumed, nor is a demand bolus;
- a demand bolus is refused while the pump is stopped, while another bolus runs, inside the
  lockout from the previous start, past the maximum in any rolling 24 h, and when the next
  periodic bolus would start before it ends (firmware/pump/planner.py, in that order).
"""
from host_tools import paths

paths.use_firmware_modules()
from pump.planner import Plan, bolus_units  # noqa: E402
from pump.units import MS_PER_DAY, UNITS_PER_NL  # noqa: E402


class Demand:
    def __init__(self, wall, volume_nl, duration_ms):
        self.wall = wall
        self.volume_nl = volume_nl
        self.duration_ms = duration_ms
        self.cut = None          # wall ms of the stop or reset that cancelled it

    def units(self, until):
        end = until if self.cut is None else min(until, self.cut)
        return bolus_units(self.volume_nl * UNITS_PER_NL, self.duration_ms, end - self.wall)

    def running(self, wall):
        return self.cut is None and self.wall <= wall < self.wall + self.duration_ms


class Expected:
    """The program's delivery over the running intervals, in the planner's volume units."""

    def __init__(self, program, start_wall):
        self.program = program
        self.plan = Plan(program, start_wall)
        self.start_wall = start_wall
        self.closed = 0              # units of the intervals that have ended
        self.since = None            # wall ms the running interval began, or None when stopped
        self.fresh = False           # the running interval is a new delivery (after a reset)
        self.intervals = 0
        self.stopped_at = start_wall
        self.stopped_ms = 0
        self.demands = []

    def _units(self, a, b, fresh):
        """Basal and periodic units over [a, b] (wall ms) of one running interval."""
        plan, w = self.plan, self.start_wall
        ta, tb = a - w, b - w
        u = (plan.basal_units(tb) - plan.basal_units(ta)
             + plan.periodic_units(tb) - plan.periodic_units(ta))
        s = plan.periodic_running(ta)
        if fresh and 0 <= s < ta:
            per = self.program.periodic
            vu = per.volume_nl * UNITS_PER_NL
            u -= (bolus_units(vu, per.duration_ms, min(tb, s + per.duration_ms) - s)
                  - bolus_units(vu, per.duration_ms, ta - s))
        return u

    def start(self, wall, fresh):
        if self.since is not None:
            raise AssertionError("the soak started a pump it counts as running")
        self.since, self.fresh = wall, fresh
        self.intervals += 1
        self.stopped_ms += wall - self.stopped_at

    def stop(self, wall):
        if self.since is None:
            raise AssertionError("the soak stopped a pump it counts as stopped")
        if wall < self.since:
            raise AssertionError("a stop at %d before the start at %d" % (wall, self.since))
        self.closed += self._units(self.since, wall, self.fresh)
        for d in self.demands:
            if d.running(wall):
                d.cut = wall
        self.since = None
        self.stopped_at = wall

    def running(self):
        return self.since is not None

    def units(self, wall):
        u = self.closed + sum(d.units(wall) for d in self.demands)
        if self.since is not None:
            u += self._units(self.since, wall, self.fresh)
        return u

    def ul(self, wall):
        return self.units(wall) / UNITS_PER_NL / 1000

    def stopped_s(self, wall):
        extra = wall - self.stopped_at if self.since is None else 0
        return (self.stopped_ms + extra) / 1000

    # ---- demand boluses ---------------------------------------------------------------------

    def demand_verdict(self, wall):
        """None if the pump must give a demand bolus now, else (error code, words its refusal
        must contain)."""
        if self.since is None:
            return ("bad_state", "not delivering")
        demand = self.program.demand
        t = wall - self.start_wall
        s = self.plan.periodic_running(t)
        # a new delivery after a reset skips a periodic bolus that had already started
        if s >= 0 and not (self.fresh and s < self.since - self.start_wall):
            return ("bad_state", "periodic bolus is running")
        if any(d.running(wall) for d in self.demands):
            return ("bad_state", "demand bolus is running")
        recent = [d.wall for d in self.demands if d.wall > wall - MS_PER_DAY]
        if recent and recent[-1] + demand.lockout_ms > wall:
            return ("limit", "locked out")
        if len(recent) >= demand.max_per_24h:
            return ("limit", "maximum of %d demand boluses" % demand.max_per_24h)
        nxt = self.plan.next_periodic(t)
        if nxt is not None and nxt < t + demand.duration_ms:
            return ("bad_state", "next periodic bolus starts")
        return None

    def give_demand(self, wall):
        d = self.program.demand
        self.demands.append(Demand(wall, d.volume_nl, d.duration_ms))

    # ---- bounds -----------------------------------------------------------------------------

    def most_ul(self, a, b):
        """The most the program allows over [a, b] (wall ms): running all the time, every
        periodic bolus whole, and every demand bolus the rolling 24 h allows (one more for a
        bolus started before a and still running)."""
        demand = self.program.demand
        days = -(-(b - a) // MS_PER_DAY)
        units = self._units(a, b, False) + UNITS_PER_NL * demand.volume_nl * (
            demand.max_per_24h * days + 1)
        return units / UNITS_PER_NL / 1000

    def fastest_ul_h(self):
        """The highest rate the program ever runs: its highest basal step plus its fastest bolus."""
        p = self.program
        basal = max(max(day.rates_nl_day) for day in p.days) / 24
        bolus = max(b.volume_nl * 3600000 / b.duration_ms for b in (p.periodic, p.demand) if b)
        return (basal + bolus) / 1000
