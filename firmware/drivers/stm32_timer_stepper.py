# Pyboard (stm32) stepper: STEP pulses from a pyb.Timer channel in PWM mode, counted by the timer's hard update IRQ.
#
# The timer runs at the step rate; a pulse is emitted in a period when the channel's compare
# value (its pulse width) is non-zero. The channel's compare register is preloaded (the HAL sets
# OCxPE for PWM), so a width written during one period takes effect at the next update event.
# The update IRQ therefore knows, at each update, whether the period just begun carries a pulse
# (the width it wrote last time): it counts that pulse and decides the next period (width, or 0
# when the batch is done). No pulse is ever cut or shortened by a write mid-period.
#
# The IRQ handler allocates nothing: a preallocated bound method, small ints only, counters
# wrapped below 2**29. If the IRQ is held off for longer than a period (a flash erase stalls the
# CPU), the armed pulse repeats in every missed period: the handler counts those from the time
# elapsed and fault() reports it.
import time

from drivers.stepper_options import (COUNT_MASK, ceil_div, number, step_period_ns,
                                     stepper_chip, unwrap)

FORWARD = 1     # DIR level for delivery; a motor that turns the wrong way: swap one coil pair


def timer_ticks(source_hz, period_ns, high_ns, low_ns):
    """(prescaler, period_ticks, width_ticks) for a 16-bit timer: the finest prescaler that holds
    one step period; every duration rounded up, so no pulse is shorter nor a period closer."""
    total = ceil_div(period_ns * source_hz, 1000000000)
    div = max(1, ceil_div(total, 65536))            # prescaler + 1
    if div > 65536:
        return None
    unit = div * 1000000000
    period = ceil_div(period_ns * source_hz, unit)
    width = max(1, ceil_div(high_ns * source_hz, unit))
    low = max(1, ceil_div(low_ns * source_hz, unit))
    if period < width + low:
        period = width + low
    if period > 65536:
        return None
    return div - 1, period, width


class TimerStepper:
    """pyb: the pyb module (Timer.PWM, Pin.OUT_PP, disable_irq, enable_irq); timer: a pyb.Timer
    (initialised at each enable, deinitialised at each stop); channel: its channel number; step:
    the pyb.Pin with that timer channel; dir and enable: output Pins (enable active low)."""

    def __init__(self, pyb, timer, channel, step, dir, enable, timing, period_ns):
        self._pyb = pyb
        self._tim = timer
        self._chn = channel
        self._step = step
        self._dir = dir
        self._en = enable
        src = timer.source_freq()
        t = timer_ticks(src, period_ns, timing["step_high_ns"], timing["step_low_ns"])
        if t is None:
            from pump.errors import ConfigError
            raise ConfigError([("limits.max_steps_per_s", "too low for a 16-bit timer at %d Hz" % src)])
        self.prescaler, self.period_ticks, self.width_ticks = t
        self.period_us = max(1, (self.period_ticks * (self.prescaler + 1) * 1000000) // src)
        self._wake_us = max(timing["wake_us"], ceil_div(timing["dir_setup_ns"], 1000))
        self._ch = None
        self._enabled = False
        # shared with the IRQ (small ints and bools only)
        self._pending = 0       # steps not yet armed
        self._armed = False     # the compare register holds a width: the next period pulses
        self._running = False   # the update IRQ is on
        self._count = 0         # pulses begun, wrapped at COUNT_MASK
        self._last = time.ticks_us()    # ticks_us of the last update IRQ
        self._late = 0          # update IRQs that came late
        self._half_us = self.period_us // 2
        self._late_us = self.period_us + self._half_us
        # main-context unwrapped total
        self._total = 0
        self._seen = 0
        self._tick_cb = self._tick  # allocated here once: the IRQ must not make a bound method

    def enable(self):
        if self._enabled:
            return
        self._late = 0
        self._dir.value(FORWARD)
        self._en.value(0)
        time.sleep_us(self._wake_us)
        self._start_timer()
        self._enabled = True

    def disable(self):
        self._enabled = False
        try:
            self._stop()
        finally:
            self._en.value(1)   # de-energised even if the timer would not stop cleanly

    def safe_state(self):
        """Never raises: pulses stopped first, STEP low, then the stage de-energised."""
        self._enabled = False
        try:
            self._stop()
        except Exception:
            pass
        try:
            self._en.value(1)
        except Exception:
            pass

    def step(self, n):
        """Queue n forward steps and return at once (ignored while disabled)."""
        if n <= 0 or not self._enabled:
            return
        pyb = self._pyb
        state = pyb.disable_irq()
        self._pending += n
        start = not self._running
        if start:
            self._running = True
            self._last = time.ticks_us()
        pyb.enable_irq(state)
        if start:
            self._tim.callback(self._tick_cb)

    def emitted(self):
        """Pulses the update IRQ saw begin on the STEP pin since boot."""
        self._total, self._seen = unwrap(self._total, self._seen, self._count)
        return self._total

    def pending(self):
        return self._pending + (1 if self._armed else 0)

    def fault(self):
        if self._late:
            return "step timer IRQ late %d times: pulses counted from elapsed time" % self._late
        return None

    def _tick(self, tim):
        # hard IRQ at each update event (the start of a period): no allocation from here on
        ch = self._ch
        if ch is None:
            return      # enable() sets the channel up before the callback is ever attached
        now = time.ticks_us()
        gap = time.ticks_diff(now, self._last)
        self._last = now
        if self._armed:
            n = 1
            if gap > self._late_us:
                # updates were missed and each repeated the armed pulse
                n = (gap + self._half_us) // self.period_us
                self._late += 1
                extra = n - 1
                if extra > self._pending:
                    extra = self._pending
                self._pending -= extra
            self._count = (self._count + n) & COUNT_MASK
        if self._pending > 0:
            self._pending -= 1
            if not self._armed:
                ch.pulse_width(self.width_ticks)
                self._armed = True
        elif self._armed:
            ch.pulse_width(0)
            self._armed = False
        else:
            self._running = False
            tim.callback(None)

    def _start_timer(self):
        tim = self._tim
        tim.init(prescaler=self.prescaler, period=self.period_ticks - 1)
        self._ch = tim.channel(self._chn, self._pyb.Timer.PWM, pin=self._step, pulse_width=0)

    def _stop(self):
        # deinit stops the counter and its IRQ first; the pin then leaves the timer as a GPIO low
        try:
            self._tim.deinit()
        finally:
            self._pending = 0
            self._armed = False
            self._running = False
            self._step.init(self._pyb.Pin.OUT_PP)
            self._step.value(0)


def build(spec, cfg):
    timing = stepper_chip(spec)
    timer_id = number(spec, "motor", "timer", 1, 17)
    channel = number(spec, "motor", "channel", 1, 4)
    period = step_period_ns(cfg)
    from drivers.pins import output_pin
    import pyb
    step = output_pin(spec, cfg, "step_pin", 0)
    dirp = output_pin(spec, cfg, "dir_pin", FORWARD)
    en = output_pin(spec, cfg, "enable_pin", 1)     # high: de-energised from the first instant
    from pump.errors import ConfigError
    try:
        tim = pyb.Timer(timer_id)
    except ValueError as e:
        raise ConfigError([("drivers.motor.timer", "no timer %d on this board: %s" % (timer_id, e))])
    m = TimerStepper(pyb, tim, channel, step, dirp, en, timing, period)
    # try the channel on the pin now, so a pin without it is refused at load, not at start
    try:
        m._start_timer()
    except ValueError as e:
        raise ConfigError([("drivers.motor.step_pin", "has no channel %d of timer %d: %s"
                            % (channel, timer_id, e))])
    finally:
        m._stop()
    return m


DRIVER = build
