# The pump's main loop: steps when due, answers the link, feeds the watchdog, sleeps on the board clock.
import gc
import json

from pump.errors import PumpError, BAD_ARG, BAD_STATE, INTERNAL, LIMIT
from pump.controller import Controller, RUNNING
from pump.commands import COMMANDS
from pump.protocol import NO_MEMORY, LineReader, handle, write_message, error_reply, event
from pump.safety import Safety
from pump import crash
from pump import calibration
from pump.alarms import HIGH, TABLE
from pump.persistence import Persistence, StoreRefused
from pump.program_view import daily_volume_nl
import pump.program_commands  # noqa: F401  (registers the program and bolus commands)
import pump.safety_commands  # noqa: F401  (registers alarms, acknowledge, silence, refill)
import pump.session_commands  # noqa: F401  (registers auth_challenge, auth, logout, outcome)
from pump.session import Session, load_key, AUTH_FILE
import pump.calibration_commands  # noqa: F401  (registers calibrate_run, calibration_set)

SERVICE_FLAG = "service.flag"   # main.py sees it after the reset and stays in the REPL
# the loop passes at least this often: input wakes it at once anyway, and the watchdog (5 s on
# the sim board, never under 1 s) is fed many times within its timeout
IDLE_MS = 1000
LIBRARY_FILE = "drugs.json"      # the drug library, deployed beside board.json
# commands that change nothing are not logged (the log would fill with status polls)
QUIET_COMMANDS = ("hello", "commands", "status", "alarms", "program_get", "program_summary",
                  "program_part", "log_read", "outcome", "auth_challenge", "auth", "logout")
# events after which the journal is written at once, not at its next interval
JOURNAL_NOW = ("state", "bolus", "program", "refill", "alarm")
MS_PER_DAY = 86400000
RESUME_AFTER = ("power_on", "soft", "hard")   # resets after which delivery resumes by itself
SETTLED_MS = 60000     # running this long after boot ends a crash streak (pump/crash.py)
RUNAWAY_FAULT = "planner_runaway"   # rig fault: the planner asks for a full burst every pass
CRASH_FAULT = "crash"                # rig fault: an unhandled error escapes the loop (one-shot)


def _read_build():
    try:
        with open("build.json") as f:
            info = json.load(f)
    except (OSError, ValueError):
        return None
    return info.get("build") if isinstance(info, dict) else None  # a bad label must not stop the pump


DRAIN_POLL_MS = 50   # how often a finished calibration run looks for its last pulses


class App:
    def __init__(self, board, library=None, crashed=None, auth_file=AUTH_FILE):
        self.board = board
        self.cfg = board.cfg
        limits = self.cfg["limits"]
        # a measured calibration (calibration.json) overrides board.json's before anything
        # is built from it: the controller, the guard and the occlusion model all count steps
        self.board_ul_per_step = self.cfg["calibration"]["ul_per_step"]
        ul, self.calibration_source, self.calibration_problem = calibration.load(
            getattr(board, "storage", None), self.board_ul_per_step)
        self.cfg["calibration"]["ul_per_step"] = ul
        self.cal_run = None      # the calibration run moving now (pump/calibration.py), if any
        self.cal_last = None     # how the last one ended, for status
        self.ctl = Controller(self.cfg["calibration"]["ul_per_step"], limits["max_rate_ul_h"],
                              limits["max_steps_per_s"], limits["reservoir_ul"])
        self.reader = LineReader()
        self.after_reply = None
        self.build = _read_build()
        self.reset_cause = board.system.reset_cause()
        self.crashed = crashed   # the last line of the crash that caused this boot's reset, if any
        self._wdt = None
        self._library = library
        self.safety = Safety(self)
        self._step_ms = 1000 // self.ctl.max_burst or 1   # one step at the motor's top speed
        self.faults = board.faults   # a rig's fault switches (the sim board's), else None
        self.wall_offset = None  # local wall-clock ms minus board ms, once a host has told us
        self.upload = None       # the program being received, part by part
        self.pending = None      # (program, digest) reviewed and waiting for confirmation
        self.program_digest = None
        self.resumed = False     # the journal says it was delivering when the board reset
        self._restored = False   # restore() has read the journal: from now on it may be written
        self.day = None          # [local day number, steps at its start]: the daily history
        self._settle_at = None   # board ms at which this boot counts as settled (no crash loop)
        self._next_day_check = 0
        # what survives a reset: program store, journal, event log (a board without storage
        # keeps nothing; one whose flash fails at boot runs on, with an alarm)
        self.persist = None
        self.storage_error = None
        storage = getattr(board, "storage", None)
        if storage is not None:
            try:
                self.persist = Persistence(storage)
            except OSError as e:
                self.storage_error = "cannot open the log and journal: %s" % e
        # who holds the link: patient until a host proves a role with the device key
        device, secret = load_key(auth_file)
        self.session = Session(device, secret, log=self.record)

    def library(self):
        """The drug library, read when first needed so a pump without one still runs by hand."""
        if self._library is None:
            from pump.program import load_library
            self._library = load_library(LIBRARY_FILE)
        return self._library

    def set_wall(self, now, wall_ms):
        """The host told us the time of day: keep it, and in the board's RTC where it has one
        (an RTC keeps it through resets; without a backup battery, not through a power cut)."""
        self.wall_offset = wall_ms - now
        set_rtc = getattr(self.board.clock, "set_rtc_ms", None)
        if set_rtc is not None:
            set_rtc(wall_ms)

    def wall_ms(self, now):
        return None if self.wall_offset is None else now + self.wall_offset

    def high_alarm(self):
        return self.safety.high_alarm()

    def stop_for_alarm(self):
        if self.ctl.state == RUNNING:
            self.stop()
        if self.cal_run is not None:
            self.calibration_end("aborted", "high alarm: %s" % ", ".join(self.safety.codes()))

    def check_reservoir(self):
        ctl = self.ctl
        if ctl.low():
            self.safety.raise_alarm("reservoir_low")
        if ctl.empty():
            self.safety.raise_alarm("reservoir_empty")

    def guard_follow(self):
        """Point the over-delivery guard at what is being delivered now."""
        if self.ctl.program is not None:
            self.safety.follow_program(self.ctl.program)
        else:
            self.safety.follow_rate(self.ctl.rate_nl_h)

    def now(self):
        return self.board.clock.now_ms()

    def send(self, msg):
        write_message(msg, self.board.link.write)

    def send_event(self, name, data):
        """Push an event to the host and keep it in the event log: every event is a record."""
        self.send(event(name, data))
        self.record(name, data)
        if name in JOURNAL_NOW:
            self.write_journal()

    def record(self, kind, data=None):
        if self.persist is not None:
            now = self.now()
            self.persist.record(kind, now, self.wall_ms(now), data)

    def boot_number(self):
        """This boot's number in the event log, or None on a board that keeps no log."""
        return self.persist.log.boot if self.persist is not None else None

    def audit(self, name, args, reply):
        """Every command that changes something goes to the event log, refused ones too, with its
        request id: a host that lost the reply finds there what became of it after a reset."""
        if name in QUIET_COMMANDS:
            return
        rec = {"cmd": name, "ok": reply["ok"], "rid": reply["id"]}
        if args:
            rec["args"] = args
        if not reply["ok"]:
            rec["error"] = reply["error"]["code"]
        self.record("command", rec)

    def snapshot(self, now):
        """The journal's record: what a reset must not lose (docs/persistence.md)."""
        ctl = self.ctl
        s = {"up": now, "wall": self.wall_ms(now), "state": ctl.state, "rate": ctl.rate_nl_h,
             "steps": ctl.steps, "res": ctl.reservoir_pl, "fill": ctl.fill_pl,
             "digest": self.program_digest}
        d = ctl.delivery
        if d is not None:
            s["program"] = d.journal_state(now - ctl.t0)
        elif ctl.carried() is not None:
            # stopped since a reset (waiting for the time, or an alarm's acknowledgement): keep
            # where the program was, or a second reset would forget its demand boluses, its
            # periodic phase, and that the catheter bolus was given (it would be given again)
            s["program"] = ctl.carried()
        if self.day is not None:
            s["day"] = self.day
        # high alarms outlive a reset: a latched occlusion must not vanish with the power
        s["alarms"] = [[a["code"], a["detail"]] for a in self.safety.alarms.active()
                       if a["priority"] == HIGH]
        return s

    def account_day(self, now):
        """At each local midnight, log the day's delivered volume beside the programmed one
        (pumpctl history). Checked once a second; nothing is counted while the time is unknown."""
        if now < self._next_day_check:
            return
        self._next_day_check = now + 1000
        wall = self.wall_ms(now)
        if wall is None:
            return
        today = wall // MS_PER_DAY
        ctl = self.ctl
        if self.day is None:
            self.day = [today, ctl.steps]
            return
        if today == self.day[0]:
            return
        day, steps0 = self.day
        self.day = [today, ctl.steps]
        programmed = None
        if ctl.program is not None and ctl.program.days:
            # 1970-01-01 was a Thursday; weekdays count from Monday
            programmed = daily_volume_nl(ctl.program)[(day + 3) % 7] / 1000
        self.record("day", {"day": day, "delivered_ul": (ctl.steps - steps0) * ctl.pl_per_step / 1e6,
                            "programmed_ul": programmed})

    def _resume(self):
        """Policy after a reset (docs/persistence.md): delivery resumes by itself after a power
        cut, soft or hard reset; never after a watchdog reset or crash (their alarms hold it
        until acknowledged); a program never without the time of day, which it never guesses."""
        if not self.resumed:
            return
        if self.reset_cause not in RESUME_AFTER or self.high_alarm():
            return
        if self.ctl.program is not None and self.wall_ms(self.now()) is None:
            self.safety.raise_alarm("time_unknown", "the program was delivering when the board "
                                    "reset; set the time (pumpctl time sync) and start it")
            return
        try:
            self.start()
        except PumpError as e:
            self.record("resume_refused", {"error": e.message})

    def write_journal(self):
        # not before restore(): a record of the fresh boot would hide the one it must read
        if self.persist is not None and self._restored:
            now = self.now()
            ctl = self.ctl
            edge = None
            if ctl.delivery is not None and ctl.state == RUNNING:
                e = ctl.delivery.next_bolus_edge(now - ctl.t0)
                edge = None if e is None else ctl.t0 + e
            self.persist.write_journal(now, self.snapshot(now), edge)

    def restore(self):
        """At boot: the stored program, then the journal's counters (resume() applies the policy).
        The journal is not written until all of it is read back: a record of the half-restored
        boot would hide the one it came from."""
        try:
            self._restore()
        finally:
            self._restored = True
        self.write_journal()

    def _restore(self):
        p = self.persist
        if p is None:
            if self.storage_error is not None:
                self.safety.raise_alarm("storage_fault", self.storage_error)
            return
        now = self.now()
        try:
            got = p.load_program(self.cfg, self.library)
        except StoreRefused as e:
            got = None
            self.safety.latch("program_store_bad", str(e))
        if got is not None:
            self.ctl.apply_program(now, got[0], None)
            self.program_digest = got[1]
        try:
            j = p.last_journal()
        except StoreRefused as e:
            j = None
            self.safety.raise_alarm("storage_fault", str(e))
        if j is None:
            return
        ctl = self.ctl
        for code, detail in j.get("alarms", ()):
            if code in TABLE and not self.safety.alarms.is_active(code):
                # latched until acknowledged, as it was
                self.safety.latch(code, "before the reset: %s" % (detail or TABLE[code][1]))
        same_program = j.get("digest") == self.program_digest
        if same_program:
            # the program's own volume is what it was applied with; the journal knows better
            ctl.reservoir_pl, ctl.fill_pl = j["res"], j["fill"]
            if ctl.program is not None and "program" in j:
                ctl.resume_program(j["program"])
                cut = j["program"].get("bolus")
                if cut is not None and j["state"] == RUNNING:
                    # not resumed; a demand bolus still counts against its limits (the carry)
                    self.record("bolus_interrupted", {"kind": cut, "by": self.reset_cause})
        ctl.steps = j["steps"]
        if isinstance(j.get("day"), list):
            self.day = j["day"]
        if ctl.program is None:
            ctl.rate_nl_h = j["rate"]
        self.check_reservoir()
        self.resumed = j["state"] == RUNNING and same_program

    def start(self):
        if self.cal_run is not None:
            raise PumpError(BAD_STATE, "a calibration run is moving the pump: wait for it or stop it")
        if self.high_alarm():
            raise PumpError(BAD_STATE, "high alarm active (%s): clear its cause and acknowledge it "
                            "(pumpctl alarms --ack CODE) before starting" % ", ".join(self.safety.codes()))
        now = self.now()
        self.ctl.start(now, self.wall_ms(now))
        self.guard_follow()
        self.safety.motor.enable()
        self.send_event("state", {"state": self.ctl.state})

    def stop(self):
        self.ctl.stop(self.now())
        self.safety.motor.disable()
        self.send_event("state", {"state": self.ctl.state})
        if self.cal_run is not None:
            self.calibration_end("aborted", "stopped by command")

    # ---- calibration (pump/calibration.py, pump/calibration_commands.py) --------------------

    def calibration_start(self, steps):
        """Move `steps` steps at the board's top rate, across loop passes, through the guarded
        motor. The fluid leaves the reservoir: it is counted there, and granted to the
        over-delivery guard as a clinician bolus is, so the guard counts every step."""
        ctl = self.ctl
        if ctl.state == RUNNING:
            raise PumpError(BAD_STATE, "delivering: stop the pump before a calibration run")
        if self.cal_run is not None:
            raise PumpError(BAD_STATE, "a calibration run is already moving the pump")
        if self.high_alarm():
            raise PumpError(BAD_STATE, "high alarm active (%s): clear and acknowledge it first"
                            % ", ".join(self.safety.codes()))
        left = ctl.reservoir_pl // ctl.pl_per_step
        if steps > left:
            raise PumpError(LIMIT, "the reservoir holds %d steps (%.1f uL), fewer than %d: refill "
                            "first" % (left, ctl.reservoir_pl / 1e6, steps), "args.steps")
        now = self.now()
        run = calibration.CalibrationRun(steps, self.calibration_rate_per_h(), now)
        if not self.safety.motor.enable():
            raise PumpError(BAD_STATE, "the over-delivery guard has tripped: acknowledge "
                            "over_delivery first")
        self.safety.grant_bolus(-(-steps * ctl.pl_per_step // 1000), run.duration_ms())
        self.cal_run = run
        self.cal_last = None
        self.record("calibration_run", {"steps": steps, "steps_per_h": run.per_h})

    def calibration_rate_per_h(self):
        """Steps per hour of a calibration run: the motor's top speed, held to the board's rate
        cap (limits.max_rate_ul_h, max_volume_per_h_ul) as every delivery is."""
        from pump.program_limits import board_cap
        ctl = self.ctl
        top = int(self.cfg["limits"]["max_steps_per_s"] * 3600)
        cap = board_cap(self.cfg)[0] * 1000 // 24 // ctl.pl_per_step
        rate = top if top < cap else cap
        return rate if rate > 0 else 1

    def _calibration_pass(self, now):
        run = self.cal_run
        if run is None:
            return False
        ctl = self.ctl
        n = run.due(now)
        left = ctl.reservoir_pl // ctl.pl_per_step
        if n > left:
            n = left
        stepped = False
        if n and self.safety.motor.step(n):
            stepped = True
            run.taken(n)
            ctl.reservoir_pl -= n * ctl.pl_per_step
            self.safety.on_steps(now, n)
            self.check_reservoir()   # reservoir_empty (high) ends the run through stop_for_alarm
        if run.finished() and self.cal_run is run and self.safety.motor_caught_up():
            self.calibration_end("done")
        return stepped

    def calibration_end(self, result, reason=None):
        run, self.cal_run = self.cal_run, None
        if run is None:
            return
        if self.ctl.state != RUNNING:
            self.safety.motor.disable()
        now = self.now()
        last = run.state(now, self.ctl.pl_per_step)
        last["result"] = result
        if reason:
            last["reason"] = reason
        self.cal_last = last
        self.send_event("calibration_run", {"result": result, "steps": run.total, "done": run.done,
                                            "reason": reason})
        self.write_journal()   # the reservoir count changed

    def calibration_set(self, ul_per_step, force=False, note=None):
        """Make ul_per_step the calibration: kept in calibration.json, applied at once."""
        ctl = self.ctl
        if ctl.state == RUNNING or self.cal_run is not None:
            raise PumpError(BAD_STATE, "the pump is moving: stop it before changing the calibration")
        if ctl.program is not None:
            raise PumpError(BAD_STATE, "a therapy program is applied and counts its steps with the "
                            "calibration it started with: clear it (pumpctl program clear), "
                            "calibrate, then load it again")
        why = calibration.check(ul_per_step, self.board_ul_per_step, force)
        if why is not None:
            raise PumpError(LIMIT if isinstance(ul_per_step, (int, float)) else BAD_ARG, why,
                            "args.ul_per_step")
        storage = getattr(self.board, "storage", None)
        if storage is None:
            raise PumpError(BAD_STATE, "this board has no storage to keep a calibration in")
        old = ctl.pl_per_step
        calibration.save(storage, ul_per_step, self.board_ul_per_step, force, note)
        self.cfg["calibration"]["ul_per_step"] = ul_per_step
        self.calibration_source = calibration.FILE
        self.calibration_problem = None
        ctl.set_step_volume(ul_per_step)
        self.safety.set_step_volume(ctl.pl_per_step)
        self.guard_follow()
        self.send_event("calibration", {"ul_per_step": ul_per_step, "was_ul_per_step": old / 1e6,
                                        "board_ul_per_step": self.board_ul_per_step,
                                        "force": bool(force), "note": note})
        return self.calibration_state()

    def calibration_state(self):
        s = {"ul_per_step": self.ctl.pl_per_step / 1e6, "source": self.calibration_source,
             "board_ul_per_step": self.board_ul_per_step}
        if self.calibration_problem is not None:
            s["problem"] = self.calibration_problem
        if self.cal_run is not None:
            s["run"] = self.cal_run.state(self.now(), self.ctl.pl_per_step)
            s["run"]["result"] = "running"
        elif self.cal_last is not None:
            s["run"] = self.cal_last
        return s

    def enter_service(self):
        self.board.safe_state()
        with open(SERVICE_FLAG, "w") as f:
            f.write("1")
        self.board.system.reset()

    def status(self):
        ctl = self.ctl
        now = self.now()
        s = {"state": ctl.state, "mode": ctl.mode, "rate_ul_h": ctl.rate_nl_h / 1000,
             "delivered_ul": ctl.delivered_ul(), "reservoir_ul": ctl.reservoir_ul(),
             "steps": ctl.steps, "alarms": self.safety.codes(), "uptime_s": now / 1000,
             "reset_cause": self.reset_cause}
        if ctl.program is not None:
            s["rate_ul_h"] = ctl.rate_now_nl_h(now) / 1000
            s["program"] = {"name": ctl.program.name, "digest": self.program_digest}
            if ctl.delivery is not None:
                s["program"]["t_s"] = (now - ctl.t0) / 1000
                s["program"]["t_ms"] = now - ctl.t0
                s["program"]["start_wall_ms"] = ctl.delivery.start_wall_ms
                s["bolus"] = ctl.delivery.bolus_status(now - ctl.t0)
        if self.board.pressure is not None:
            s["pressure_kpa"] = self.board.pressure.read_kpa()
            s["occlusion"] = self.safety.occlusion_state()
            s["occlusion"]["released_ul"] = self.safety.released_ul
        if self.safety.stall is not None:
            s["stall"] = self.safety.stall.state()   # as of the last check: no extra read
        s["calibration"] = self.calibration_state()
        sim_time = getattr(self.board.clock, "sim_time_s", None)
        if sim_time is not None:
            s["sim_time_s"] = sim_time()
        return s

    def _serve_link(self):
        data = self.board.link.read_available()
        if not data:
            self.reader.idle()   # a partial line left by a host that went away is dropped
            return False
        for line in self.reader.feed(data):
            if line is NO_MEMORY:   # the line is lost, the loop goes on (docs/protocol.md)
                self.send(error_reply(None, PumpError(INTERNAL, "out of memory for this line")))
                continue
            reply = handle(line, COMMANDS, self, self.session)
            try:
                self.send(reply)
            except MemoryError:
                # a reply must never take the pump down: end the torn line, say what happened
                gc.collect()
                self.board.link.write(b"\n")
                ran = "it ran; ask outcome for its result" if reply.get("ok") else "it was refused"
                self.send(error_reply(reply.get("id"), PumpError(INTERNAL, "the reply did not fit in "
                                                                 "memory (%s)" % ran)))
            if self.after_reply is not None:
                action, self.after_reply = self.after_reply, None
                action()
        return True

    def run(self):
        board = self.board
        board.motor.disable()
        self._wdt = board.system.watchdog(self.cfg["limits"]["watchdog_ms"])
        self.send_event("boot", {"reset_cause": self.reset_cause, "board": self.cfg["name"],
                                 "crash": self.crashed})
        if self.reset_cause == "watchdog":
            # policy: the pump comes back stopped, and stays so until this is acknowledged;
            # nothing missed is made up (the planner skips what fell due while stopped)
            self.safety.latch("watchdog_reset", "the watchdog reset the board: a task stopped "
                              "checking in or an invariant broke")
        if self.crashed is not None:
            # main.py stopped the motor and reset after an unhandled error: the same policy
            self.safety.latch("internal_fault", "the firmware reset after: %s" % self.crashed)
        rtc = getattr(board.clock, "rtc_ms", None)
        wall = rtc() if rtc is not None else None
        if wall is not None:
            self.wall_offset = wall - self.now()   # the RTC ran through the reset
        self.restore()
        self._resume()
        self._settle_at = self.now() + SETTLED_MS
        self._loop()

    def _loop(self):
        board = self.board
        clock = board.clock
        ctl = self.ctl
        safety = self.safety
        faults = self.faults
        while True:
            now = clock.now_ms()
            # before this pass steps: the last pass's steps have had the wait to come out
            safety.check_motor(now)
            safety.check_emitted(now)
            runaway = faults is not None and faults.active(RUNAWAY_FAULT) and ctl.state == RUNNING
            stepped = False
            if faults is not None and faults.active(CRASH_FAULT):
                raise RuntimeError("rig fault: injected crash in the control task")
            if faults is None or not faults.active("hang:control"):
                n = ctl.due(now)
                if runaway:
                    n = 1   # a planner gone wrong steps on and on: only the guard stands in the way
                if n and safety.motor.step(n):
                    stepped = True
                    ctl.taken(n)
                    safety.on_steps(now, n)
                    self.check_reservoir()
                if self.cal_run is not None and self._calibration_pass(now):
                    stepped = True
                safety.check_in("control", now)
            busy = False
            if faults is None or not faults.active("hang:link"):
                busy = self._serve_link()
                safety.check_in("link", now)
            now = clock.now_ms()
            sample = safety.sense(now)
            safety.poll(now)
            if safety.may_feed(now):
                self._wdt.feed()  # type: ignore[union-attr]  # run() started it before the loop
            if self._settle_at is not None and now >= self._settle_at:
                self._settle_at = None
                crash.settled()   # it ran a minute: a later crash starts a new streak
            if self.persist is not None:
                self.account_day(now)
                if self.persist.journal_due(now):
                    self.write_journal()
            if busy:
                continue  # more input may be waiting; due steps are checked first on every pass
            now = clock.now_ms()
            nxt = ctl.next_due_ms(now)
            wait = IDLE_MS
            if nxt is not None and nxt - now < wait:
                wait = nxt - now
            if self.cal_run is not None:
                nxt = self.cal_run.next_due_ms()
                if nxt is None:
                    nxt = now + DRAIN_POLL_MS   # all commanded: waiting for the last pulses
                if nxt - now < wait:
                    wait = nxt - now
            if sample is not None and sample - now < wait:
                wait = sample - now
            if runaway and wait > self._step_ms:
                wait = self._step_ms   # as fast as the motor may go
            if wait <= 0 and not stepped:
                # steps are overdue yet none were taken (a hung or refused step): never spin,
                # or a stuck task would keep the loop, and so the watchdog, alive forever
                wait = 1
            if wait > 0:
                clock.wait(wait, board.link.ready)
