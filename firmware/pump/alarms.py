# One alarm table for the firmware and the host, and the active alarms: latch, acknowledge, silence.
#
# Priorities follow IEC 60601-1-8: high, medium, low, information. A high alarm stops delivery
# (the app does that; here high_active() tells it) and LATCHES: it stays until acknowledged, even
# after its condition has gone, so a cause that came and went is never missed. Lower priorities
# go as soon as their condition goes. Silence (IEC "audio paused") mutes only the sound of the
# alarms active at that moment, for SILENCE_MS at most, then reverts on its own; the lights keep
# showing them. An alarm raised during a silence sounds at once.
#
# Pure logic: every call that depends on time is handed the board's now_ms.
from pump.errors import PumpError, BAD_ARG

HIGH = "high"
MEDIUM = "medium"
LOW = "low"
INFO = "info"
PRIORITIES = (HIGH, MEDIUM, LOW, INFO)         # most urgent first
_RANK = {HIGH: 0, MEDIUM: 1, LOW: 2, INFO: 3}

SILENCE_MS = 120000        # IEC 60601-1-8: an audio pause ends on its own within 2 minutes
MAX_EVENTS = 32            # undrained changes() drops the oldest: memory stays bounded

# code -> (priority, message: what happened, hint: what to do). Short and actionable: the host
# shows "message. hint" and the firmware sends only the code, so both read the same text.
TABLE = {
    "occlusion": (HIGH, "occlusion: line pressure rose past the limit while pumping",
                  "check the line for a kink, clamp or blocked catheter; clear it and "
                  "acknowledge (expect a small bolus when it releases)"),
    "over_delivery": (HIGH, "over-delivery: more steps were commanded than the program allows; "
                            "the motor is off",
                      "do not restart; read the log, reload the program, verify delivery "
                      "gravimetrically, then acknowledge"),
    "reservoir_empty": (HIGH, "reservoir empty: delivery stopped",
                        "refill the reservoir, then acknowledge and start"),
    "reservoir_low": (MEDIUM, "reservoir low: below the program's low level",
                      "plan a refill; status shows the time left to empty"),
    "reservoir_discrepancy": (MEDIUM, "refill: the residual aspirated differs from the expected "
                                      "volume",
                              "suspect over- or under-delivery: run a gravimetric check "
                              "before trusting the pump"),
    "watchdog_reset": (HIGH, "restarted by the watchdog: a task hung",
                       "read the log for the task that hung; check the program and reservoir, "
                       "then acknowledge and start"),
    "task_stalled": (HIGH, "a task stopped reporting to its watchdog check; delivery stopped",
                     "read the log, then reset the pump"),
    "pressure_sensor_fault": (HIGH, "pressure sensor fault: reading stuck, out of range or "
                                    "disconnected",
                              "occlusions cannot be detected: check the sensor wiring and the "
                              "pressure settings in board.json"),
    "supply_low": (MEDIUM, "supply low: battery or supply voltage below the warning level",
                   "connect power or replace the battery soon"),
    "supply_end_of_service": (HIGH, "supply at end of service: delivery stopped",
                              "replace the battery or restore power now"),
    "motor_stall": (HIGH, "motor stall: the pump did not move as commanded",
                    "check the pump head, the driver wiring and the line for an occlusion, "
                    "then acknowledge"),
    "motor_driver_fault": (HIGH, "motor driver fault: its pulses do not follow the commands, or "
                                 "its chip reports a fault",
                           "read the detail; check the driver's wiring, supply and temperature, "
                           "then acknowledge"),
    "internal_fault": (HIGH, "internal fault: the firmware hit an unexpected error; the motor "
                             "was made safe",
                       "read the log, report it, then reset the pump"),
    "program_store_bad": (HIGH, "no usable program on flash: corrupt, or it no longer passes "
                                "the checks",
                          "read the detail, load the program again, then acknowledge"),
    "storage_fault": (MEDIUM, "flash storage failed: the log and journal may not be kept",
                      "check the board's filesystem (pumpctl deploy repairs the files)"),
    "time_unknown": (LOW, "time of day unknown after a power loss: daily schedules are on hold",
                     "set the time from the host (load the program again)"),
    "link_lost": (INFO, "host link quiet: the pump carries on with its program",
                  "reconnect the host to watch the pump"),
}

# The signals of each priority, in the style of IEC 60601-1-8 (drivers play them by name):
#   high:   red light flashing 1.4-2.8 Hz, a burst of 10 pulses repeated every 2.5-15 s
#   medium: yellow light flashing 0.4-0.8 Hz, a burst of 3 pulses repeated every 2.5-30 s
#   low:    cyan or yellow light steady, one pulse (allowed, never repeated faster than 15 s)
#   info:   steady light, no sound
PATTERNS = {  # type: dict
    HIGH: {"led": "red_flash_fast", "buzzer": "burst_10"},
    MEDIUM: {"led": "yellow_flash_slow", "buzzer": "burst_3"},
    LOW: {"led": "cyan_steady", "buzzer": "pulse_1"},
    INFO: {"led": "white_steady", "buzzer": None},
}
# name -> (colour, on ms, period ms); period 0 is steady
LEDS = {
    "red_flash_fast": ("red", 250, 500),          # 2 Hz, 50 % duty
    "yellow_flash_slow": ("yellow", 800, 1600),   # 0.625 Hz, 50 % duty
    "cyan_steady": ("cyan", 1, 0),
    "white_steady": ("white", 1, 0),
    "off": (None, 0, 0),
}
# name -> (pulses, pulse ms, gap ms, repeat ms)
BUZZERS = {
    "burst_10": (10, 150, 100, 10000),
    "burst_3": (3, 200, 150, 20000),
    "pulse_1": (1, 200, 0, 60000),
}

# events queued for changes()
RAISED = "raised"
LATCHED = "latched"            # a high alarm's condition went; it stays until acknowledged
ACKED = "acked"
CLEARED = "cleared"            # the alarm is gone
SILENCED = "silenced"
SILENCE_ENDED = "silence_ended"


def check_code(code):
    """The table entry of code, or PumpError BAD_ARG naming the known codes."""
    entry = TABLE.get(code) if isinstance(code, str) else None
    if entry is None:
        raise PumpError(BAD_ARG, "unknown alarm code %r; known: %s"
                        % (code, ", ".join(sorted(TABLE))), "args.code")
    return entry


def latches(priority):
    return priority == HIGH


class _Alarm:
    def __init__(self, code, priority, now_ms, detail):
        self.code = code
        self.priority = priority
        self.since_ms = now_ms
        self.condition = True       # the cause is present
        self.acknowledged = False
        self.muted = False          # silenced until the silence ends
        self.detail = detail


class AlarmSet:
    def __init__(self):
        self._alarms = {}            # code -> _Alarm, while active
        self._silence_until = None   # board ms the current silence ends, or None
        self._events = []
        self.dropped = 0             # events lost because changes() was not called

    # ---- conditions ----------------------------------------------------------------------

    def raise_(self, code, now_ms, detail=None):
        """The condition of code is present. True if the alarm is new (not already active)."""
        priority = check_code(code)[0]
        a = self._alarms.get(code)
        if a is not None:
            # already active (perhaps latched, perhaps acknowledged): the cause is back
            a.condition = True
            if detail is not None:
                a.detail = detail
            return False
        self._expire(now_ms)
        self._alarms[code] = _Alarm(code, priority, now_ms, detail)
        self._event(RAISED, code, now_ms, detail)
        return True

    def clear(self, code, now_ms):
        """The condition of code went away. A high alarm not yet acknowledged stays, latched."""
        check_code(code)
        a = self._alarms.get(code)
        if a is None or not a.condition:
            return
        a.condition = False
        if latches(a.priority) and not a.acknowledged:
            self._event(LATCHED, code, now_ms)
            return
        self._remove(a, now_ms)

    def ack(self, code, now_ms):
        """Acknowledge code: a latched alarm whose condition has gone goes; one whose condition
        persists stays, acknowledged (its sound stops, and it goes when the condition goes).
        False if code is known but not active; unknown codes are refused with BAD_ARG."""
        check_code(code)
        a = self._alarms.get(code)
        if a is None:
            return False
        if not a.condition:
            self._event(ACKED, code, now_ms)
            self._remove(a, now_ms)
            return True
        if a.acknowledged:
            return False
        a.acknowledged = True
        self._event(ACKED, code, now_ms)
        return True

    def silence(self, now_ms):
        """Mute the sound of every alarm active now, for SILENCE_MS. False if none is active.
        Silencing again restarts the 2 minutes from now (each is a deliberate user action)."""
        self._expire(now_ms)
        if not self._alarms:
            return False
        for code in self._alarms:
            self._alarms[code].muted = True
        self._silence_until = now_ms + SILENCE_MS
        self._event(SILENCED, None, now_ms)
        return True

    # ---- what is active ------------------------------------------------------------------

    def active(self, now_ms=None):
        """The active alarms, highest priority first (then oldest, then by code)."""
        if now_ms is not None:
            self._expire(now_ms)
        rows = []
        for code in self._alarms:
            a = self._alarms[code]
            rows.append((_RANK[a.priority], a.since_ms, code, a))
        rows.sort()
        out = []
        for r in rows:
            a = r[3]
            out.append({"code": a.code, "priority": a.priority, "since_ms": a.since_ms,
                        "latched": not a.condition, "acknowledged": a.acknowledged,
                        "condition": a.condition, "silenced": a.muted, "detail": a.detail})
        return out

    def is_active(self, code):
        return code in self._alarms

    def high_active(self):
        """True while a high alarm is active, latched ones included: delivery must stay stopped."""
        for code in self._alarms:
            if self._alarms[code].priority == HIGH:
                return True
        return False

    def silenced_ms(self, now_ms):
        """Milliseconds left of the current silence (0 if none)."""
        self._expire(now_ms)
        return 0 if self._silence_until is None else self._silence_until - now_ms

    def annunciation(self, now_ms):
        """What the light and the buzzer show now.

        priority: the highest priority still sounding (active, not silenced, not acknowledged)
        or None; buzzer: its pattern. visual and led: the highest active priority, silenced or
        not, because an audio pause must not hide an alarm from someone looking at the pump."""
        self._expire(now_ms)
        sound = None
        seen = None
        for code in self._alarms:
            a = self._alarms[code]
            r = _RANK[a.priority]
            if seen is None or r < _RANK[seen]:
                seen = a.priority
            if not a.muted and not a.acknowledged and (sound is None or r < _RANK[sound]):
                sound = a.priority
        return {"priority": sound, "visual": seen,
                "led": PATTERNS[seen]["led"] if seen is not None else "off",
                "buzzer": PATTERNS[sound]["buzzer"] if sound is not None else None,
                "silenced_ms": 0 if self._silence_until is None
                else self._silence_until - now_ms}

    def changes(self):
        """The events since the last call, oldest first; each a dict with event, code,
        priority, ms and detail (code and priority None for silence events)."""
        ev, self._events = self._events, []
        return ev

    # ---- inside ----------------------------------------------------------------------------

    def _expire(self, now_ms):
        if self._silence_until is not None and now_ms >= self._silence_until:
            self._silence_until = None
            for code in self._alarms:
                self._alarms[code].muted = False
            self._event(SILENCE_ENDED, None, now_ms)

    def _remove(self, a, now_ms):
        del self._alarms[a.code]
        self._event(CLEARED, a.code, now_ms)

    def _event(self, kind, code, now_ms, detail=None):
        if len(self._events) >= MAX_EVENTS:
            self._events.pop(0)
            self.dropped += 1
        self._events.append({"event": kind, "code": code,
                             "priority": TABLE[code][0] if code is not None else None,
                             "ms": now_ms, "detail": detail})
