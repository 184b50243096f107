# DC peristaltic pump: a PWM-driven DC motor in a closed loop on the encoder counts it delivers.
#
# One "step" is counts_per_step rising edges of encoder_a_pin (a tach or one encoder channel),
# so calibration.ul_per_step is the volume of counts_per_step counts, measured gravimetrically
# like a stepper's. step(n) raises the target by n x counts_per_step; the target is cumulative,
# so a coast past it is taken off the next steps instead of being delivered twice.
#
# Edges are counted in a hard pin IRQ (soft IRQs are queued and drop edges when the queue is
# full). The proportional loop runs in a periodic machine.Timer callback, not in the app: the
# app's loop may idle for a second, and a DC motor left at speed for a second overshoots. The
# callback is soft (scheduled), so it may allocate; it only reads counts and sets one duty.
# service() is the same loop, for a test or a board without a spare timer.
import time

from drivers.stepper_options import COUNT_MASK, number, step_period_ns, unwrap

DUTY_FULL = 65535


class DcPeristaltic:
    """pwm: machine.PWM on the motor driver's input; enable: output Pin (active high) or None;
    encoder: input Pin; timer: machine.Timer for the loop, or None (call service() instead)."""

    def __init__(self, pwm, enable, encoder, timer, counts_per_step, kp=0.05, min_duty=0.2,
                 max_duty=1.0, loop_ms=20, stall_ms=1000, max_steps_per_s=200,
                 overshoot_steps=2):
        self._pwm = pwm
        self._en = enable
        self._enc = encoder
        self._timer = timer
        self.counts_per_step = counts_per_step
        # how far a coast past the target may run before the app's emitted-step check calls it
        # over-delivery (pump/emitted_check.py): tune kp and min_duty until it never does
        self.overshoot_steps = overshoot_steps
        self._kp = int(kp * DUTY_FULL + 0.5)          # duty (u16) per count behind
        if self._kp < 1:
            self._kp = 1
        self._min = int(min_duty * DUTY_FULL + 0.5)
        self._max = int(max_duty * DUTY_FULL + 0.5)
        self._far = -(-self._max // self._kp)         # counts behind at which duty reaches max
        self.loop_ms = loop_ms
        self.stall_ms = stall_ms
        # counts per second the board allows, with a quarter and two counts of slack for an
        # encoder sampled over one loop period
        self._max_cps = max_steps_per_s * counts_per_step
        self._enabled = False
        self._duty = 0
        self._fault = None
        self._count = 0         # shared with the IRQ: edges seen, wrapped at COUNT_MASK
        self._total = 0         # unwrapped count
        self._seen = 0
        self._target = 0        # counts the motor must reach
        self._last_total = 0
        self._moved_at = 0
        self._checked_at = 0
        self._edge_cb = self._edge
        self._service_cb = self._service
        try:
            encoder.irq(handler=self._edge_cb, trigger=encoder.IRQ_RISING, hard=True)
        except TypeError:       # a port whose pin IRQs take no hard=
            encoder.irq(handler=self._edge_cb, trigger=encoder.IRQ_RISING)
        self._set_duty(0)

    def _edge(self, pin):
        self._count = (self._count + 1) & COUNT_MASK

    def counted(self):
        """Encoder counts since boot."""
        self._total, self._seen = unwrap(self._total, self._seen, self._count)
        return self._total

    def enable(self):
        if self._enabled:
            return
        self._fault = None
        if self._en is not None:
            self._en.value(1)
        now = time.ticks_ms()
        self._moved_at = self._checked_at = now
        self._last_total = self.counted()
        self._enabled = True
        if self._timer is not None:
            self._timer.init(mode=self._timer.PERIODIC, period=self.loop_ms, callback=self._service_cb)

    def disable(self):
        self._enabled = False
        try:
            self._set_duty(0)
            self._stop_timer()
        finally:
            if self._en is not None:
                self._en.value(0)
            self._drop_backlog()

    def safe_state(self):
        """Never raises: PWM duty 0 first, then the enable pin off."""
        self._enabled = False
        try:
            self._set_duty(0)
        except Exception:
            pass
        try:
            self._stop_timer()
        except Exception:
            pass
        try:
            if self._en is not None:
                self._en.value(0)
        except Exception:
            pass
        try:
            self._drop_backlog()
        except Exception:
            pass

    def step(self, n):
        """Raise the target by n steps and return at once (ignored while disabled)."""
        if n <= 0 or not self._enabled:
            return
        self._target += n * self.counts_per_step

    def emitted(self):
        """Whole steps the encoder has counted since boot (a partial step is not counted)."""
        return self.counted() // self.counts_per_step

    def pending(self):
        d = self._target - self.counted()
        return d if d > 0 else 0

    def fault(self):
        return self._fault

    def duty(self):
        return self._duty

    def service(self):
        """One pass of the loop: duty from the counts still to go; stops at the target, and on
        a stall or an overspeed (reported by fault())."""
        self._service(None)

    def _service(self, t):
        if not self._enabled:
            self._set_duty(0)
            return
        total = self.counted()
        now = time.ticks_ms()
        dt = time.ticks_diff(now, self._checked_at)
        moved = total - self._last_total
        if moved > 0:
            self._moved_at = now
        if dt > 0 and moved * 1000 > (self._max_cps * dt * 5) // 4 + 2000:
            self._trip("pump ran %d counts in %d ms, faster than limits.max_steps_per_s: stopped"
                       % (moved, dt))
            return
        self._checked_at = now
        self._last_total = total
        if self._duty > 0 and time.ticks_diff(now, self._moved_at) > self.stall_ms:
            self._trip("no encoder count for %d ms while driven: stopped" % self.stall_ms)
            return
        # act on where the rotor will be at the next pass (what is left less what the last pass
        # moved): the drive lets go early enough for the rotor not to coast past the target
        behind = self._target - total - moved
        if behind <= 0:
            duty = 0
        elif behind >= self._far:
            duty = self._max
        else:
            duty = self._kp * behind
            if duty < self._min:
                duty = self._min
            elif duty > self._max:
                duty = self._max
        if duty > 0 and self._duty == 0:
            self._moved_at = now    # the stall clock starts when drive starts
        self._set_duty(duty)

    def _trip(self, why):
        self._fault = why
        self._set_duty(0)
        self._enabled = False
        self._stop_timer()
        if self._en is not None:
            self._en.value(0)
        self._drop_backlog()

    def _drop_backlog(self):
        # what was asked and not delivered is not owed later: a restart starts from here
        total = self.counted()
        if self._target > total:
            self._target = total

    def _set_duty(self, d):
        if d != self._duty or d == 0:
            self._pwm.duty_u16(d)
        self._duty = d

    def _stop_timer(self):
        if self._timer is not None:
            self._timer.deinit()


def build(spec, cfg):
    role = "motor"
    cps = number(spec, role, "counts_per_step", 1, 100000)
    pwm_hz = number(spec, role, "pwm_hz", 10, 100000, 20000)
    kp = number(spec, role, "kp", 0, 1, 0.05, integer=False)
    if kp <= 0:
        from pump.errors import ConfigError
        raise ConfigError([("drivers.motor.kp", "must be above 0")])
    min_duty = number(spec, role, "min_duty", 0, 1, 0.2, integer=False)
    max_duty = number(spec, role, "max_duty", 0, 1, 1.0, integer=False)
    if max_duty <= 0 or max_duty < min_duty:
        from pump.errors import ConfigError
        raise ConfigError([("drivers.motor.max_duty", "must be above 0 and at least min_duty (%s)"
                            % min_duty)])
    timer_id = number(spec, role, "timer", -1, 15, -1)
    loop_ms = number(spec, role, "loop_ms", 5, 200, 20)
    stall_ms = number(spec, role, "stall_ms", 100, 60000, 1000)
    overshoot = number(spec, role, "overshoot_steps", 0, 100, 2)
    step_period_ns(cfg)     # checks limits.max_steps_per_s
    rate = cfg.get("limits", {}).get("max_steps_per_s", 200)
    from drivers.pins import input_pin, output_pin, pin_id
    import machine
    en = output_pin(spec, cfg, "enable_pin", 0, required=False)
    pwm = machine.PWM(machine.Pin(pin_id(spec, cfg, "pwm_pin"), machine.Pin.OUT, value=0))
    pwm.freq(pwm_hz)
    pwm.duty_u16(0)
    enc = input_pin(spec, cfg, "encoder_a_pin", pull="up")
    timer = machine.Timer(timer_id)
    return DcPeristaltic(pwm, en, enc, timer, cps, kp, min_duty, max_duty, loop_ms, stall_ms, rate,
                         overshoot)


DRIVER = build
