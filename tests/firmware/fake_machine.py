# Fake machine pins, ADC, PWM, UART and timers for driver tests: every change lands on one timed trace.
#
# Runs on MicroPython and CPython. A driver under test is handed these objects (drivers take
# their pins and buses), and its module's `time` is swapped for FakeTime so sleeps advance the
# trace's clock instead of the wall's:   mod.time = FakeTime(trace)
import sys


class Trace:
    """What the fake hardware saw, in order: (t_us, source, what, value) tuples."""

    def __init__(self):
        self.events = []
        self.t_us = 0

    def log(self, source, what, value=None):
        self.events.append((self.t_us, source, what, value))

    def advance_us(self, us):
        self.t_us += us

    def of(self, source, what=None):
        """Events of one source (and one kind of change), in order."""
        return [e for e in self.events if e[1] == source and (what is None or e[2] == what)]

    def values(self, source, what="value"):
        return [e[3] for e in self.of(source, what)]

    def clear(self):
        self.events = []


class FakeTime:
    """time.sleep_us/ms and ticks_us/ms over the trace's clock (ticks never wrap here)."""

    def __init__(self, trace):
        self.trace = trace

    def sleep_us(self, us):
        self.trace.advance_us(us)

    def sleep_ms(self, ms):
        self.trace.advance_us(ms * 1000)

    def sleep(self, s):
        self.trace.advance_us(int(s * 1000000))

    def ticks_us(self):
        return self.trace.t_us

    def ticks_ms(self):
        return self.trace.t_us // 1000

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, b):
        return a + b


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, id, mode=-1, pull=-1, value=None, trace=None):
        self.id = id
        self.trace = trace if trace is not None else default_trace
        self.mode = mode
        self.pull = pull
        self._value = 0
        self.handler = None
        self.trigger = None
        self.trace.log(self.name(), "init", mode)
        if value is not None:
            self.value(value)

    def name(self):
        return "pin%s" % (self.id,)

    def init(self, mode=-1, pull=-1, value=None):
        self.mode = mode
        self.pull = pull
        self.trace.log(self.name(), "init", mode)
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            return self._value
        self._value = 1 if v else 0
        self.trace.log(self.name(), "value", self._value)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def high(self):
        self.value(1)

    def low(self):
        self.value(0)

    def set_input(self, v):
        """The outside world drives this input (no trace entry: the driver did not do it)."""
        self._value = 1 if v else 0

    def irq(self, handler=None, trigger=3, hard=False):
        self.handler = handler
        self.trigger = trigger
        self.trace.log(self.name(), "irq", trigger)

    def fire(self, n=1):
        """Raise the pin's interrupt n times, as n edges would."""
        for _ in range(n):
            if self.handler is not None:
                self.handler(self)


class ADC:
    def __init__(self, pin, trace=None):
        self.pin = pin
        self.trace = trace if trace is not None else default_trace
        self.u16 = 0
        self.reads = 0

    def read_u16(self):
        self.reads += 1
        return self.u16


class PWM:
    def __init__(self, pin, freq=None, duty_u16=None, trace=None):
        self.pin = pin
        self.trace = trace if trace is not None else default_trace
        self._freq = 0
        self._duty = 0
        if freq is not None:
            self.freq(freq)
        if duty_u16 is not None:
            self.duty_u16(duty_u16)

    def name(self):
        return "pwm%s" % (getattr(self.pin, "id", self.pin),)

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._freq = f
        self.trace.log(self.name(), "freq", f)

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        self._duty = d
        self.trace.log(self.name(), "duty", d)

    def deinit(self):
        self._duty = 0
        self.trace.log(self.name(), "deinit")


class UART:
    """Records what is written; answers from `responder(bytes written) -> bytes to read back`."""

    def __init__(self, id=0, baudrate=115200, trace=None, responder=None, **kw):
        self.id = id
        self.baudrate = baudrate
        self.trace = trace if trace is not None else default_trace
        self.responder = responder
        self.rx = bytearray()
        self.written = []

    def init(self, baudrate=115200, **kw):
        self.baudrate = baudrate

    def write(self, buf):
        buf = bytes(buf)
        self.written.append(buf)
        self.trace.log("uart%s" % (self.id,), "write", buf)
        if self.responder is not None:
            reply = self.responder(buf)
            if reply:
                self.rx += reply
        return len(buf)

    def any(self):
        return len(self.rx)

    def read(self, n=None):
        if not self.rx:
            return None
        if n is None or n > len(self.rx):
            n = len(self.rx)
        out = bytes(self.rx[:n])
        self.rx = self.rx[n:]
        return out

    def readinto(self, buf, n=None):
        data = self.read(len(buf) if n is None else n)
        if not data:
            return None
        buf[:len(data)] = data
        return len(data)

    def flush(self):
        pass


class Timer:
    PERIODIC = 1
    ONE_SHOT = 0

    def __init__(self, id=-1, trace=None, **kw):
        self.id = id
        self.trace = trace if trace is not None else default_trace
        self.callback = None
        self.period_ms = None
        self.running = False
        if kw:
            self.init(**kw)

    def init(self, mode=1, period=None, freq=None, callback=None, hard=False):
        self.callback = callback
        self.period_ms = period if period is not None else (1000 // freq if freq else None)
        self.running = True
        self.trace.log("timer%s" % (self.id,), "init", self.period_ms)

    def deinit(self):
        self.running = False
        self.trace.log("timer%s" % (self.id,), "deinit")

    def fire(self, n=1):
        """Call the callback n times, advancing the trace by the period before each call."""
        for _ in range(n):
            if self.period_ms:
                self.trace.advance_us(self.period_ms * 1000)
            if self.running and self.callback is not None:
                self.callback(self)


default_trace = Trace()


def install(trace=None):
    """Register this module as `machine` (for a driver factory that imports it) and return it.
    The caller removes it with uninstall() so no other test sees a fake machine."""
    global default_trace
    if trace is not None:
        default_trace = trace
    me = sys.modules[__name__]
    sys.modules["machine"] = me
    return me


def uninstall():
    if sys.modules.get("machine") is sys.modules[__name__]:
        del sys.modules["machine"]
