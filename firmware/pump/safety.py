# The pump's guards in one place: alarms, the over-delivery guard on the motor, task check-ins.
#
# The app steps the motor only through self.motor, a GuardedMotor: the guard counts what is
# actually commanded and knows nothing of the planner, so a planner fault cannot talk it round.
from pump.alarms import AlarmSet, HIGH, TABLE, CLEARED, SILENCED, SILENCE_ENDED
from pump.controller import RUNNING
from pump.guard import GuardedMotor, RunawayGuard
from pump.program_limits import board_cap
from pump.tasks import TaskMonitor

TASKS = ("control", "link")     # each must check in within TASK_MAX_MS for the watchdog to be fed
TASK_MAX_MS = 2000
SUPPLY_PERIOD_MS = 10000        # the supply is read this often (it changes slowly)


class Safety:
    def __init__(self, app):
        self.app = app
        board, cfg = app.board, app.cfg
        now = board.clock.now_ms()
        self.alarms = AlarmSet()
        self.guard = RunawayGuard(app.ctl.pl_per_step, board_cap(cfg)[0],
                                  late_ms=cfg["limits"]["watchdog_ms"])
        self.guard.set_manual_rate(0, now)
        self.motor = GuardedMotor(board.motor, self.guard, board.clock, self._on_breach)
        self.tasks = TaskMonitor()
        for name in TASKS:
            self.tasks.add(name, TASK_MAX_MS, now)
        self.supply = board.supply
        spec = cfg["drivers"].get("supply", {})
        self.supply_low_v = spec.get("low_v", 0)
        self.supply_end_v = spec.get("end_v", 0)
        self.supply_v = None
        self._next_supply = now

    # ---- alarms ------------------------------------------------------------------------------

    def raise_alarm(self, code, detail=None):
        now = self.app.now()
        if self.alarms.raise_(code, now, detail) and TABLE[code][0] == HIGH:
            self.app.stop_for_alarm()
        self.flush()

    def condition_gone(self, code):
        self.alarms.clear(code, self.app.now())
        self.flush()

    def ack(self, code):
        done = self.alarms.ack(code, self.app.now())
        self.flush()
        return done

    def silence(self):
        done = self.alarms.silence(self.app.now())
        self.flush()
        return done

    def high_alarm(self):
        return self.alarms.high_active()

    def codes(self):
        return sorted([a["code"] for a in self.alarms.active()])

    def flush(self):
        """Push every alarm change to the link as an event."""
        for ev in self.alarms.changes():
            kind = ev["event"]
            self.app.send_event("alarm", {
                "name": ev["code"], "priority": ev["priority"], "change": kind,
                "active": kind != CLEARED and kind not in (SILENCED, SILENCE_ENDED),
                "detail": ev["detail"]})

    def describe(self, now):
        rows = self.alarms.active(now)
        for r in rows:
            r["message"], r["hint"] = TABLE[r["code"]][1], TABLE[r["code"]][2]
        return {"alarms": rows, "annunciation": self.alarms.annunciation(now)}

    # ---- the over-delivery guard -------------------------------------------------------------

    def _on_breach(self, breach):
        self.raise_alarm("over_delivery", "%d steps counted in the last %s, limit %d: motor "
                         "disabled" % (breach["counted"], breach["window"], breach["limit"]))
        # the motor is off and stays off: what is left is the latched alarm, until acknowledged
        self.condition_gone("over_delivery")

    def follow_program(self, program):
        self.guard.set_program(program, self.app.now())

    def follow_rate(self, rate_nl_h):
        self.guard.set_manual_rate(rate_nl_h, self.app.now())

    def grant_bolus(self, volume_nl, duration_ms):
        self.guard.grant(self.app.now(), volume_nl, duration_ms)

    # ---- supply ------------------------------------------------------------------------------

    def poll(self, now):
        """Slow checks, each at its own period (called every pass of the loop)."""
        if self.supply is not None and now >= self._next_supply:
            self._next_supply = now + SUPPLY_PERIOD_MS
            self.check_supply(self.supply.read_v())

    def check_supply(self, volts):
        self.supply_v = volts
        for code, limit in (("supply_end_of_service", self.supply_end_v),
                            ("supply_low", self.supply_low_v)):
            if volts <= limit:
                self.raise_alarm(code, "supply %.2f V, limit %.2f V" % (volts, limit))
            else:
                self.condition_gone(code)

    # ---- the watchdog ------------------------------------------------------------------------

    def check_in(self, task, now):
        self.tasks.check_in(task, now)

    def may_feed(self, now):
        """Feed the watchdog only while every task is on time and the core invariants hold."""
        return not self.tasks.stale(now) and self.invariants_hold()

    def invariants_hold(self):
        ctl = self.app.ctl
        # a motor that can move while the controller thinks it is stopped, or a reservoir count
        # gone negative, means the state is corrupt: let the watchdog reset the board
        moving = getattr(self.app.board.motor, "enabled", False)
        return ctl.reservoir_pl >= 0 and (ctl.state == RUNNING or not moving)
