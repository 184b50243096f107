# The pump's guards in one place: alarms, the over-delivery guard and stall check, task check-ins.
#
# The app steps the motor only through self.motor, a GuardedMotor: the guard counts what is
# actually commanded and knows nothing of the planner, so a planner fault cannot talk it round.
from pump.alarms import AlarmSet, HIGH, TABLE, CLEARED, SILENCED, SILENCE_ENDED
from pump.controller import RUNNING
from pump.emitted_check import EmittedCheck
from pump.guard import GuardedMotor, RunawayGuard
from pump.occlusion import detectors
from pump.program_limits import board_cap
from pump.stall import from_spec as stall_check
from pump.tasks import TaskMonitor

TASKS = ("control", "link")     # each must check in within TASK_MAX_MS for the watchdog to be fed
TASK_MAX_MS = 2000
SUPPLY_PERIOD_MS = 30000        # the supply is read this often (it changes slowly)
# A sensor is stuck when this many readings in a row are identical while the pump delivers: a
# live one's noise (about one LSB on the sim) repeats a value 30 times running about once in
# 10^12 reads; at the model detector's 2 s sampling that is a minute.
STUCK_READS = 30
SENSOR_MAX_KPA = 400            # a reading at the top rail is an open (disconnected) sensor
CLEARED_KPA = 0.3               # an occluded line has cleared when it is back this near its level...
CLEARED_FRACTION = 0.2          # ...or within this fraction of what it held above it
CLEAR_CHECK_MS = 1000           # an occluded line is read this often until it clears


class Safety:
    def __init__(self, app):
        self.app = app
        board, cfg = app.board, app.cfg
        now = board.clock.now_ms()
        self.alarms = AlarmSet()
        self.guard = RunawayGuard(app.ctl.pl_per_step, board_cap(cfg)[0],
                                  late_ms=cfg["limits"]["watchdog_ms"])
        self.guard.set_manual_rate(0, now)
        self.motor = GuardedMotor(board.motor, self.guard, board.clock, self._on_breach,
                                  self._on_enable)
        # what the driver's pulse generator really emitted, where it can tell (drivers' emitted())
        self._emitted = getattr(board.motor, "emitted", None)
        self._driver_fault = getattr(board.motor, "fault", None)
        self.emitted = None
        if self._emitted is not None:
            self.emitted = EmittedCheck(cfg["limits"]["max_steps_per_s"],
                                        getattr(board.motor, "overshoot_steps", 0))
            try:
                self.emitted.rebase(self._emitted(), 0)
            except OSError:
                pass    # the first check reads it again and raises the alarm
        self._next_driver_fault = now
        self.tasks = TaskMonitor()
        for name in TASKS:
            self.tasks.add(name, TASK_MAX_MS, now)
        self.annunciator = board.annunciator
        self._shown = None
        self._next_annunciate = now
        self.supply = board.supply
        spec = cfg["drivers"].get("supply", {})
        self.supply_low_v = spec.get("low_v", 0)
        self.supply_end_v = spec.get("end_v", 0)
        self.supply_v = None
        self._next_supply = now
        # occlusion: both detectors always run, both are reported (none without a sensor)
        self.pressure = board.pressure
        self.detectors = detectors(cfg) if board.pressure is not None else ()
        self._kpa_per_ul = cfg["occlusion"]["pulse_kpa_per_ul"]
        self.sensor_max_kpa = cfg["drivers"].get("pressure", {}).get("max_kpa", SENSOR_MAX_KPA)
        self.last_kpa = None
        self._same = 0               # readings in a row equal to the last, with steps between
        self._occluded_at = None     # (kpa, undelivered_ul) when the occlusion alarm was raised
        self._open_kpa = 0.0         # the line's level before the occlusion (set with _occluded_at)
        self._clear_check_ms = 0     # when an occluded line is next read to see whether it cleared
        self.released_ul = None      # the bolus an occlusion let go when it cleared
        # motor stall: only where an encoder shows what the rotor did (pump/stall.py)
        self.encoder = board.encoder
        self.stall = (stall_check(cfg["drivers"].get("encoder", {}))
                      if board.encoder is not None else None)
        self._encoder_lost = False   # unreadable: no check until an acknowledgement reads it

    # ---- alarms ------------------------------------------------------------------------------

    def raise_alarm(self, code, detail=None):
        now = self.app.now()
        if self.alarms.raise_(code, now, detail) and TABLE[code][0] == HIGH:
            self.app.stop_for_alarm()
        self.flush()

    def latch(self, code, detail=None):
        """Raise an alarm whose condition cannot be seen to go (an event, or delivery has
        stopped so nothing shows it clearing): it stays, latched, until acknowledged."""
        self.raise_alarm(code, detail)
        self.condition_gone(code)

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

    def annunciate(self, now):
        """Drive the LED and buzzer from the alarms (only when what they show changes)."""
        if self.annunciator is None:
            return
        a = self.alarms.annunciation(now)
        shown = (a["led"], a["buzzer"])
        if shown != self._shown:
            self._shown = shown
            self.annunciator.show(a["led"], a["buzzer"])

    def flush(self):
        """Push every alarm change to the link as an event, and to the LED and buzzer."""
        changes = self.alarms.changes()
        if changes:
            self.annunciate(self.app.now())
        for ev in changes:
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
        # the motor is off and stays off: what is left is the latched alarm, until acknowledged
        self.latch("over_delivery", "%d steps counted in the last %s, limit %d: motor disabled"
                   % (breach["counted"], breach["window"], breach["limit"]))

    def follow_program(self, program):
        self.guard.set_program(program, self.app.now())

    def follow_rate(self, rate_nl_h):
        self.guard.set_manual_rate(rate_nl_h, self.app.now())

    def set_step_volume(self, pl_per_step):
        """A new calibration (the pump stopped): the guard counts steps of the new volume from
        now (the caller points it at the delivery again), the step-response model expects the
        new pulse."""
        self.guard.pl_per_step = pl_per_step
        if self.pressure is not None:
            self.detectors = detectors(self.app.cfg)

    def grant_bolus(self, volume_nl, duration_ms):
        self.guard.grant(self.app.now(), volume_nl, duration_ms)

    # ---- occlusion and the pressure sensor ---------------------------------------------------

    def on_steps(self, now, n):
        for d in self.detectors:
            d.on_steps(now, n)

    def next_sample_ms(self, now):
        nxt = None
        for d in self.detectors:
            t = d.sample_due_ms(now)
            if t is not None and (nxt is None or t < nxt):
                nxt = t
        if self._occluded_at is not None:
            # watch an occluded line for it to clear, to measure what it lets go: a reading a
            # second of its own, since a stopped pump's detectors stop asking for readings
            t = self._clear_check_ms
            nxt = t if nxt is None or t < nxt else nxt
        return nxt

    def sense(self, now):
        """Read the pressure if a detector wants it now; raise occlusion or sensor alarms.
        Returns when the next reading is wanted (None: no reading pending), for the loop's wait."""
        nxt = self.next_sample_ms(now)
        if nxt is None or nxt > now:
            return nxt
        self._read(now)
        return self.next_sample_ms(now)

    def _read(self, now):
        self._clear_check_ms = now + CLEAR_CHECK_MS   # also after a failed read: no busy retry
        try:
            kpa = self.pressure.read_kpa()
        except OSError as e:
            self.raise_alarm("pressure_sensor_fault", "cannot read the sensor: %s" % e)
            return
        self._check_sensor(kpa)
        for d in self.detectors:
            d.on_pressure(now, kpa)
        if self._occluded_at is None:
            # detectors stay occluded until acknowledged: a cleared, latched alarm is not new
            held = [d for d in self.detectors if d.state()["occluded"]]
            if held and not self.alarms.is_active("occlusion"):
                self._occlusion(now, kpa, held)
        else:
            peak, und = self._occluded_at
            if kpa > peak:
                peak = kpa
                self._occluded_at = (kpa, und)
            held = peak - self._open_kpa
            margin = CLEARED_FRACTION * held
            if kpa <= self._open_kpa + (margin if margin > CLEARED_KPA else CLEARED_KPA):
                # what the line held above its open level is what it lets go when it clears
                self.released_ul = held / self._kpa_per_ul
                self._occluded_at = None
                self.app.send_event("occlusion_cleared", {"released_ul": self.released_ul})
                self.condition_gone("occlusion")

    def _occlusion(self, now, kpa, held):
        names = []
        for d in held:
            s = d.state()
            names.append("%s (%.2f uL held back: %s)" % (type(d).__name__, s["undelivered_ul"], s["reason"]))
        # only a board with a pressure sensor has detectors to raise this: both are there
        self._open_kpa = self.detectors[0].state()["baseline_kpa"]  # type: ignore[misc]
        self._occluded_at = (kpa, held[0].state()["undelivered_ul"])
        self.raise_alarm("occlusion", "; ".join(names))

    def _check_sensor(self, kpa):
        if kpa != self.last_kpa or self.app.ctl.state != RUNNING:
            self._same = 0
        else:
            self._same += 1
        self.last_kpa = kpa
        if kpa >= self.sensor_max_kpa or kpa < -10:
            self.raise_alarm("pressure_sensor_fault", "reading %.2f kPa is out of range: open or "
                             "shorted sensor" % kpa)
        elif self._same >= STUCK_READS:
            self.raise_alarm("pressure_sensor_fault", "reading stuck at %.2f kPa for %d readings "
                             "while delivering" % (kpa, self._same))
        else:
            self.condition_gone("pressure_sensor_fault")

    def clear_occlusion(self, now):
        for d in self.detectors:
            d.clear(now)

    def occlusion_state(self):
        return dict([(type(d).__name__, d.state()) for d in self.detectors])

    # ---- motor stall (boards with an encoder) -------------------------------------------------

    def check_motor(self, now):
        """Compare the steps passed to the motor with the encoder's count, when a check is due
        (a sim read is a round trip: not every step). A stall raises motor_stall."""
        st = self.stall
        if st is None or self._encoder_lost or not st.due(now, self.motor.steps):
            return
        seen = self._read_encoder()
        if seen is None:
            return
        stalled = st.check(now, self.motor.steps, seen)
        if stalled is not None:
            self.latch("motor_stall", "commanded %d steps, encoder saw %d: %.1f steps behind "
                        "beyond the %.0f%% allowance, limit %d"
                        % (stalled["commanded"], stalled["seen"], stalled["behind"],
                           st.stall_fraction * 100, stalled["limit"]))

    def rebaseline_stall(self, now):
        """Judge the next start afresh (motor_stall acknowledged): what the motor lost before
        no longer counts."""
        if self.stall is None:
            return
        self._encoder_lost = False
        seen = self._read_encoder()
        if seen is not None:
            self.stall.rebaseline(now, self.motor.steps, seen)

    def _read_encoder(self):
        try:
            return self.encoder.read_steps()
        except OSError as e:
            # a motor that cannot be watched must not run: same alarm, with the reason
            self._encoder_lost = True
            self.latch("motor_stall", "cannot read the encoder: %s" % e)
            return None

    # ---- the driver's own step count and fault flags ----------------------------------------

    def _on_enable(self):
        # a disable dropped whatever the driver still had queued: the lag counts from here
        if self.emitted is not None:
            out = self._read_emitted()
            if out is not None:
                self.emitted.rebase(out, self.motor.steps)

    def _read_emitted(self):
        read = self._emitted
        if read is None:
            return None
        try:
            return read()
        except OSError as e:
            self._emitted_fault("cannot read the driver's emitted step count: %s" % e)
            return None

    def _emitted_fault(self, detail, code="motor_driver_fault"):
        # the motor off first (the driver's own disable stops its pulse generator), then the alarm
        self.motor.disable()
        self.latch(code, detail)

    def motor_caught_up(self):
        """True when every step commanded since the last enable has left the driver's pins (or
        the driver cannot tell): a calibration run is over only then, not when its last
        command was queued, or a Pico's PIO would be stopped with a batch still to go."""
        check = self.emitted
        if check is None:
            return True
        out = self._read_emitted()
        if out is None:
            return True     # the alarm is raised; nothing to wait for
        return out - check.base_out >= self.motor.steps - check.base_cmd

    def check_emitted(self, now):
        """Compare the pins' step count with the commands (every CHECK_MS), and poll the driver
        chip's fault flags once a second."""
        if self._driver_fault is not None and now >= self._next_driver_fault:
            self._next_driver_fault = now + 1000
            try:
                why = self._driver_fault()
            except OSError as e:
                why = "cannot read the driver's status: %s" % e
            if why:
                self._emitted_fault("driver reports: %s" % why)
        check = self.emitted
        if check is None or not check.due(now):
            return
        out = self._read_emitted()
        if out is None:
            return
        bad = check.judge(out, self.motor.steps, self.motor.enabled)
        if bad is None:
            return
        kind, emitted, commanded = bad
        # reported once: the next report is of what happens beyond these counts
        check.rebase(out, self.motor.steps)
        if kind == "excess":
            self._emitted_fault("the motor driver emitted %d steps where %d were commanded: "
                                "motor disabled" % (emitted, commanded), "over_delivery")
        else:
            self._emitted_fault("%d steps commanded, %d came out of the driver: its pulses "
                                "stopped" % (commanded, emitted))

    # ---- supply ------------------------------------------------------------------------------

    def poll(self, now):
        """Slow checks, each at its own period (called every pass of the loop)."""
        if now >= self._next_annunciate:
            # a silence ends on its own: the sound must come back without any new event
            self._next_annunciate = now + 1000
            self.alarms.silenced_ms(now)      # ends an expired silence, queueing its event
            self.flush()
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
        """Feed the watchdog only while every task is on time and the core invariants hold.
        A late task also raises task_stalled, naming it: that stops delivery at once, before
        the watchdog resets the board, and tells the host which task it was."""
        if not self.tasks.all_on_time(now):
            if not self.alarms.is_active("task_stalled"):
                ages = self.tasks.state(now)
                self.latch("task_stalled", ", ".join(
                    ["%s: no check-in for %d ms" % (n, ages[n]) for n in self.tasks.stale(now)]))
            return False
        return self.invariants_hold()

    def invariants_hold(self):
        ctl = self.app.ctl
        # a motor that can move while the controller thinks it is stopped, or a reservoir count
        # gone negative, means the state is corrupt: let the watchdog reset the board
        moving = getattr(self.app.board.motor, "enabled", False)
        return ctl.reservoir_pl >= 0 and (ctl.state == RUNNING or not moving
                                          or self.app.cal_run is not None)
