# Fake pyb module for the timer stepper tests: a Timer whose PWM channel pulses period by period, its update callback run as a hard IRQ.
import sys

import fake_machine
from hard_irq import call_hard

irq_state = {"disabled": 0, "calls": 0}


def disable_irq():
    irq_state["disabled"] += 1
    irq_state["calls"] += 1
    return True


def enable_irq(state=True):
    irq_state["disabled"] -= 1


class Pin(fake_machine.Pin):
    OUT_PP = 1
    AF_PP = 3


class TimerChannel:
    def __init__(self, timer, n, pulse_width):
        self.timer = timer
        self.n = n
        self.preload = pulse_width   # what pulse_width() writes
        self.active = pulse_width    # what the current period uses: preload copied at update

    def pulse_width(self, v=None):
        if v is None:
            return self.preload
        self.preload = v         # no trace entry: called from the IRQ, which must not allocate


class Timer:
    UP = 0
    PWM = 0
    PWM_INVERTED = 1

    def __init__(self, id, trace=None, source_hz=84000000, bad_pins=None):
        self.id = id
        self.trace = trace if trace is not None else fake_machine.default_trace
        self.src = source_hz
        self.bad_pins = bad_pins if bad_pins is not None else BAD_PINS
        self.cb = None
        self.ch = None
        self.running = False
        self.prescaler = None
        self.period = None
        self.pulses = []        # (t_us, width in ticks) of every pulse the pin gave
        created.append(self)

    def name(self):
        return "tim%d" % self.id

    def source_freq(self):
        return self.src

    def init(self, prescaler, period, mode=0, **kw):
        self.prescaler = prescaler
        self.period = period
        self.running = True
        self.trace.log(self.name(), "init", (prescaler, period))

    def channel(self, n, mode=None, pin=None, pulse_width=0):
        if pin is not None and pin.id in self.bad_pins:
            raise ValueError("Pin(%s) doesn't have an af for Timer(%d)" % (pin.id, self.id))
        self.ch = TimerChannel(self, n, pulse_width)
        self.trace.log(self.name(), "channel", n)
        return self.ch

    def callback(self, fn):
        self.cb = fn             # no trace entry: the IRQ calls callback(None)

    def deinit(self):
        self.running = False
        self.cb = None
        self.trace.log(self.name(), "deinit")

    def period_us(self):
        return (self.period + 1) * (self.prescaler + 1) * 1000000 // self.src

    def run(self, periods, irq=True):
        """Let `periods` update events happen: at each, the preloaded width takes effect (a
        pulse if it is not 0), then the update callback runs as a hard IRQ (unless irq is
        False: an interrupt held off); the clock then moves on one period."""
        for _ in range(periods):
            if not self.running:
                return
            ch = self.ch
            if ch is not None:
                ch.active = ch.preload
                if ch.active > 0:
                    self.pulses.append((self.trace.t_us, ch.active))
                    self.trace.log(self.name(), "pulse", ch.active)
            if irq and self.cb is not None:
                call_hard(self.cb, self)
            self.trace.advance_us(self.period_us())


created = []
BAD_PINS = []   # pin ids with no channel of any timer (a test fills it)


def install():
    del created[:]
    irq_state["disabled"] = 0
    irq_state["calls"] = 0
    sys.modules["pyb"] = sys.modules[__name__]


def uninstall():
    if sys.modules.get("pyb") is sys.modules[__name__]:
        del sys.modules["pyb"]
