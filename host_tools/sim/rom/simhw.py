# Simulated board hardware (runs on the MicroPython unix port): the side channel, the clock, the pins.
#
# This is the sim board's "silicon": the sim drivers in firmware/drivers talk to it the way real
# drivers talk to machine/rp2. The physical world (the plant) lives in the host-side supervisor,
# because it must outlive the board through power cuts; every message carries the simulated time.
#
# Flash power cuts (the sim_flash storage driver): the supervisor pushes "B <units>" (or "B -")
# when the rig arms (or disarms) a cut, and again on every connect while armed. Each mutating
# flash operation spends units here: a write costs 1 + its bytes, an append its bytes, a remove
# or an atomic rename 1. The board reports what it spent with "D <units> <left>" (no reply is
# awaited) and, when the budget runs out inside an operation, persists exactly the units that
# fit and sends "O <sim_ms> <units>": cut the power now. It then halts until it is killed.
import socket
import struct
import time

_channel = None
_clock = None

RESET_SOFT = "soft"          # soft reset that runs main.py
RESET_SOFT_RAW = "soft_raw"  # soft reset from the raw REPL: main.py is skipped, raw REPL resumes
RESET_HARD = "hard"
RESET_WDT = "wdt"

_FEED_REPORT_US = 100000     # the supervisor's wall-clock watchdog only needs a feed every 0.1 s
_TIME_REPORT_US = 100000


class Channel:
    """Line messages to and from the supervisor over an AF_UNIX stream socket."""

    def __init__(self, path):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(struct.pack("<H", socket.AF_UNIX) + path.encode() + b"\0")
        self._sock = s
        import select
        self._poll = select.poll()
        self._poll.register(s, select.POLLIN)
        self._handlers = {}

    def on(self, tag, handler):
        self._handlers[tag] = handler

    def send(self, line):
        self._sock.write(line.encode() + b"\n")

    def _dispatch(self, line):
        parts = line.decode().split()
        handler = self._handlers.get(parts[0])
        if handler:
            handler(parts[1:])

    def service(self):
        """Handle every message already waiting, without blocking."""
        while self._poll.poll(0):
            line = self._sock.readline()
            if not line:
                halt()  # the supervisor went away: a board with no power does nothing
            self._dispatch(line)

    def request(self, line, reply_tag):
        """Send and wait for the reply with reply_tag; other messages are handled meanwhile."""
        self.send(line)
        while True:
            msg = self._sock.readline()
            if not msg:
                halt()
            if msg.split()[0].decode() == reply_tag:
                return msg.decode().split()[1:]
            self._dispatch(msg)


class Clock:
    """Simulated time: real time, x N, or as fast as possible (speed 0), with an optional hold point.

    Time moves only while the firmware waits, and never past what it waits for, as in a
    discrete-event simulator. A finite speed only paces those waits against the wall clock.
    So a sim process descheduled by the host never sees a jump in board time (at x600, 10 ms
    off the CPU would otherwise be 6 s, past the watchdog); it falls behind and catches up,
    or slips if it is more than a second late.
    """

    _MAX_LATE_S = 1.0          # further behind the wall clock than this, simulated time slips
    _REBASE_US = 60000000

    def __init__(self, channel, sim_ms, speed, hold_ms):
        self._ch = channel
        self._now = sim_ms
        self._hold_reported = False
        self._wdt = None
        self._last_report_us = time.ticks_us()
        self._set(speed, hold_ms)
        channel.on("C", self._on_set)

    def _set(self, speed, hold_ms):
        if hold_ms is not None and hold_ms < self._now:
            hold_ms = self._now  # a hold already passed freezes here: time never runs backwards
        self._speed = speed
        self._hold = hold_ms
        self._hold_reported = False
        self._base_ms = self._now
        self._base_us = time.ticks_us()

    def _on_set(self, args):
        speed = float(args[0])
        hold = args[1]
        if hold == "-":
            self._set(speed, None)
        elif hold[0] == "+":
            self._set(speed, self._now + int(hold[1:]))
            self._ch.send("h %d" % self._hold)
        else:
            self._set(speed, int(hold[1:]))
        if self.holding():
            # a hold at or before now (run_for(0)) is reached already: say so, as no wait will
            self._moved()

    def arm_watchdog(self, wdt):
        self._wdt = wdt

    def sim_ms(self):
        return self._now

    def _moved(self):
        hold = self._hold
        if hold is not None and self._now >= hold:
            self._now = hold
            if not self._hold_reported:
                self._hold_reported = True
                self._ch.send("H %d" % hold)
        if self._wdt is not None:
            self._wdt.check(self._now)
        us = time.ticks_us()
        if time.ticks_diff(us, self._last_report_us) >= _TIME_REPORT_US:
            self._last_report_us = us
            self._ch.send("T %d" % self._now)

    def holding(self):
        return self._hold is not None and self._now >= self._hold

    def _paced_ms(self):
        """Where simulated time would be if it followed the wall clock exactly at this speed."""
        elapsed = time.ticks_diff(time.ticks_us(), self._base_us)
        if elapsed < 0 or elapsed > self._REBASE_US:
            # ticks_us wraps every 2**30 us (ticks_diff is valid within half that): keep the base recent.
            if elapsed < 0:
                elapsed = 0
            self._base_us = time.ticks_us()
            self._base_ms += elapsed * self._speed / 1000
            elapsed = 0
        return self._base_ms + elapsed * self._speed / 1000

    def _move_to(self, target):
        if target > self._now:
            self._now = target
        self._moved()

    def wait(self, timeout_ms, ready):
        """Wait up to timeout_ms of simulated time, or until ready(wall_ms) reports input."""
        deadline = self._now + timeout_ms
        while True:
            self._ch.service()
            if self._now >= deadline:
                return False
            if self.holding():
                if ready(20):
                    return True
                continue
            target = deadline if self._hold is None else min(deadline, self._hold)
            if self._speed == 0:
                if ready(0):
                    return True
                self._move_to(target)
                continue
            paced = self._paced_ms()
            if (paced - target) / self._speed / 1000 > self._MAX_LATE_S:
                self._base_ms, self._base_us = self._now, time.ticks_us()  # slip, do not sprint
                paced = self._now
            if paced >= target:
                self._move_to(target)
                continue
            if ready(min(20, int((target - paced) / self._speed) + 1)):
                # Input came early: time has reached what the wall clock says, not the deadline.
                self._move_to(min(int(self._paced_ms()), target))
                return True


class Watchdog:
    """The board's watchdog on simulated time; the supervisor also guards it on wall time."""

    def __init__(self, clock, channel, timeout_ms):
        self._clock = clock
        self._ch = channel
        self.timeout_ms = timeout_ms
        self._last_feed = clock.sim_ms()
        self._last_report_us = time.ticks_us()
        channel.send("W %d" % timeout_ms)
        clock.arm_watchdog(self)

    def feed(self):
        self._last_feed = self._clock.sim_ms()
        us = time.ticks_us()
        if time.ticks_diff(us, self._last_report_us) >= _FEED_REPORT_US:
            self._last_report_us = us
            self._ch.send("F %d" % self._last_feed)

    def check(self, now):
        if now - self._last_feed > self.timeout_ms:
            request_reset(RESET_WDT)


def init(chan_path, sim_ms, speed, hold_ms):
    global _channel, _clock
    _channel = Channel(chan_path)
    _clock = Clock(_channel, sim_ms, speed, hold_ms)
    _channel.on("X", _on_fault)
    _channel.on("B", _on_flash_budget)


def channel():
    return _channel


def clock():
    return _clock


def halt():
    """Stop forever: the supervisor kills this process (a reset never returns to the caller)."""
    while True:
        time.sleep(1)


def request_reset(kind):
    try:
        import sys
        sys.stdout.flush()
    except Exception:
        pass
    # with the time: a reset between time reports must not send the world back to the last one
    _channel.send("R %s %d" % (kind, _clock.sim_ms()))
    halt()


def set_kbd_intr(enabled):
    _channel.send("K %d" % (1 if enabled else 0))


def motor_enable(enabled):
    _channel.send("E %d %d" % (_clock.sim_ms(), 1 if enabled else 0))


def motor_steps(n):
    _channel.send("S %d %d" % (_clock.sim_ms(), n))


def read_pressure_kpa():
    return float(_channel.request("P %d" % _clock.sim_ms(), "p")[0])


def read_encoder_steps():
    """The shaft encoder: steps the rotor really made since this boot (slipped and stalled
    steps are not among them)."""
    return int(_channel.request("Q %d" % _clock.sim_ms(), "q")[0])


def annunciate(led, buzzer):
    _channel.send("A %d %s %s" % (_clock.sim_ms(), led, buzzer))


def read_supply_v():
    return float(_channel.request("V %d" % _clock.sim_ms(), "v")[0])


_faults = {}


def _on_fault(args):
    _faults[args[0]] = args[1] == "1"


def fault_active(name):
    """A fault the rig injected into the firmware (planner_runaway, hang:<task>...)."""
    return _faults.get(name, False)


# ---- flash power cuts (docs/simulator.md, "Power cuts inside flash writes") ----

_flash_budget = None    # flash units left before the power goes; None: no cut armed


def _on_flash_budget(args):
    global _flash_budget
    _flash_budget = None if args[0] == "-" else int(args[0])


def flash_spend(units):
    """How many of the next `units` flash units land before the power goes: all unless armed.

    A short answer means the caller must persist exactly that many units, then call
    flash_cut(), which never returns.
    """
    global _flash_budget
    # A budget the rig armed just before this write may still sit unread in the socket (the
    # REPL, for one, never waits on the clock): read it first, so an armed cut is never missed.
    _channel.service()
    left = _flash_budget
    if left is not None and units > left:
        _flash_budget = 0
        return left
    if left is not None:
        _flash_budget = left - units
    # one line, no reply awaited: the supervisor counts the bytes and keeps the budget left,
    # which it hands to the next boot if a reset comes first
    _channel.send("D %d %s" % (units, "-" if left is None else str(left - units)))
    return units


def flash_cut(units):
    """The budget ran out `units` into an operation, which the caller has persisted: power off."""
    global _flash_budget
    _flash_budget = None
    # with the time, as a reset does: the world clock stops where the board lost power
    _channel.send("O %d %d" % (_clock.sim_ms(), units))
    halt()


# The real-time clock: local wall ms = sim ms + offset. The supervisor keeps the offset through
# resets and drops it at a power cut, as a board without a backup battery loses its RTC.
_rtc_offset = None


def rtc_init(offset):
    global _rtc_offset
    _rtc_offset = offset


def rtc_ms():
    return None if _rtc_offset is None else _clock.sim_ms() + _rtc_offset


def set_rtc_ms(wall_ms):
    global _rtc_offset
    _rtc_offset = wall_ms - _clock.sim_ms()
    _channel.send("Y %d" % _rtc_offset)
