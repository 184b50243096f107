# DC peristaltic pump: the closed loop reaches and stops at the target on a simulated motor, stalls and overspeed stop it, safe order.
import fake_machine
from fake_machine import PWM, FakeTime, Pin, Timer, Trace
from hard_irq import call_hard

from drivers import dc_peristaltic as mod
from driver_checks import index_of, expect_config_error


class Motor:
    """A DC motor and its encoder: speed follows duty above a dead band with a first-order lag
    (so it coasts after the duty drops); each whole count is a rising edge on the encoder pin."""

    def __init__(self, pump, pwm, enc, full_cps=2000.0, dead=0.1, tau_ms=30.0):
        self.pump = pump
        self.pwm = pwm
        self.enc = enc
        self.full_cps = full_cps
        self.dead = dead
        self.tau_ms = tau_ms
        self.speed = 0.0
        self.acc = 0.0
        self.edges = 0

    def run_ms(self, tr, timer, ms):
        for _ in range(ms):
            tr.advance_us(1000)
            duty = self.pwm.duty_u16() / 65535
            target = self.full_cps * (duty - self.dead) / (1 - self.dead) if duty > self.dead else 0.0
            self.speed += (target - self.speed) / self.tau_ms
            self.acc += self.speed / 1000
            while self.acc >= 1:
                self.acc -= 1
                self.edges += 1
                call_hard(self.pump._edge_cb, self.enc)
            if timer.running and (tr.t_us // 1000) % timer.period_ms == 0:
                timer.callback(timer)


def make(cps=12, kp=0.01, min_duty=0.2, max_duty=1.0, stall_ms=1000, rate=200, **motor):
    tr = Trace()
    mod.time = FakeTime(tr)
    pwm = PWM(Pin(5, trace=tr), trace=tr)
    en = Pin(6, Pin.OUT, value=0, trace=tr)
    enc = Pin(7, Pin.IN, trace=tr)
    timer = Timer(-1, trace=tr)
    pump = mod.DcPeristaltic(pwm, en, enc, timer, cps, kp, min_duty, max_duty, 20, stall_ms, rate)
    return pump, Motor(pump, pwm, enc, **motor), tr, timer, pwm


def test_the_loop_reaches_the_target_and_stops_there():
    pump, motor, tr, timer, pwm = make(cps=12)
    pump.enable()
    pump.step(10)
    motor.run_ms(tr, timer, 3000)
    assert 120 <= motor.edges < 120 + 12, motor.edges
    assert pwm.duty_u16() == 0
    assert pump.emitted() == 10
    assert pump.counted() == motor.edges


def test_a_coast_past_the_target_is_taken_off_the_next_steps_so_it_never_accumulates():
    # a heavy rotor coasts on after every stop; the target is cumulative, so each coast is
    # taken off the next steps: the excess over what was asked stays within one coast
    pump, motor, tr, timer, pwm = make(cps=4, tau_ms=120.0)
    pump.enable()
    asked = 0
    excess = []
    for _ in range(20):
        pump.step(3)
        asked += 3
        motor.run_ms(tr, timer, 700)
        excess.append(motor.edges - asked * 4)
    first = excess[0]
    assert first > 4                            # this rotor does coast past a step
    for e in excess:
        assert 0 <= e <= first, excess
    assert asked <= pump.emitted() <= asked + first // 4


def test_duty_is_proportional_to_the_counts_behind_within_min_and_max():
    pump, motor, tr, timer, pwm = make(cps=1, kp=0.01, min_duty=0.2, max_duty=0.8)
    pump.enable()
    pump.step(10)
    pump.service()
    assert pwm.duty_u16() == 13107              # 10 x 655 = 6550, raised to min_duty
    pump.step(40)
    pump.service()
    assert pwm.duty_u16() == 50 * 655           # proportional
    pump.step(150)
    pump.service()
    assert pwm.duty_u16() == 52428              # 200 x 655, held to max_duty


def test_safe_state_sets_duty_0_before_the_enable_pin_goes_off():
    pump, motor, tr, timer, pwm = make()
    pump.enable()
    pump.step(50)
    motor.run_ms(tr, timer, 100)
    assert pwm.duty_u16() > 0
    tr.clear()
    pump.safe_state()
    i_duty = index_of(tr, "pwm5", "duty", 0)
    i_en = index_of(tr, "pin6", "value", 0)
    assert 0 <= i_duty < i_en, tr.events
    assert not timer.running
    motor.run_ms(tr, timer, 500)
    assert pwm.duty_u16() == 0


def test_safe_state_never_raises_and_still_turns_the_enable_pin_off():
    pump, motor, tr, timer, pwm = make()
    pump.enable()

    def broken(d=None):
        raise OSError("pwm gone")
    pwm.duty_u16 = broken
    pump.safe_state()
    assert tr.values("pin6")[-1] == 0


def test_a_stalled_motor_is_stopped_and_reported():
    pump, motor, tr, timer, pwm = make(full_cps=0.0, stall_ms=500)
    pump.enable()
    pump.step(5)
    motor.run_ms(tr, timer, 400)
    assert pump.fault() is None and pwm.duty_u16() > 0
    motor.run_ms(tr, timer, 200)
    assert "no encoder count" in pump.fault()
    assert pwm.duty_u16() == 0 and tr.values("pin6")[-1] == 0
    pump.step(5)                                # stays stopped until enabled again
    motor.run_ms(tr, timer, 200)
    assert pwm.duty_u16() == 0


def test_a_motor_faster_than_the_board_limit_is_stopped_and_reported():
    # 50 steps/s x 12 counts = 600 counts/s allowed; this motor turns 2000 at full duty
    pump, motor, tr, timer, pwm = make(cps=12, kp=1.0, rate=50)
    pump.enable()
    pump.step(1000)
    motor.run_ms(tr, timer, 500)
    assert "faster than limits.max_steps_per_s" in pump.fault()
    assert pwm.duty_u16() == 0


def test_counts_that_come_after_a_stop_are_still_counted():
    pump, motor, tr, timer, pwm = make(cps=2, tau_ms=100.0)
    pump.enable()
    pump.step(100)
    motor.run_ms(tr, timer, 300)
    pump.disable()
    at_stop = pump.counted()
    motor.run_ms(tr, timer, 1000)               # the rotor coasts on
    assert pump.counted() == motor.edges > at_stop


def test_disable_drops_what_was_not_delivered():
    pump, motor, tr, timer, pwm = make(cps=2)
    pump.enable()
    pump.step(100)
    motor.run_ms(tr, timer, 100)
    pump.disable()
    motor.run_ms(tr, timer, 500)
    pump.enable()
    edges = motor.edges
    motor.run_ms(tr, timer, 1000)
    assert motor.edges == edges                 # nothing owed from before
    assert pwm.duty_u16() == 0


def test_the_edge_irq_allocates_nothing_and_counts_past_its_wrap():
    pump, motor, tr, timer, pwm = make(cps=1)
    pump._count = pump._seen = mod.COUNT_MASK - 1
    for _ in range(5):
        call_hard(pump._edge_cb, motor.enc)
    assert pump.emitted() == 5


BOARD = {"pins": {"pwm": 15, "en": 14, "tach": 13}, "limits": {"max_steps_per_s": 100}}


def spec(**kw):
    s = {"kind": "dc_peristaltic", "pwm_pin": "pwm", "enable_pin": "en", "encoder_a_pin": "tach",
         "counts_per_step": 6}
    s.update(kw)
    return s


def build(s, cfg=BOARD):
    tr = Trace()
    fake_machine.install(tr)
    mod.time = FakeTime(tr)
    try:
        return mod.DRIVER(s, cfg), tr
    finally:
        fake_machine.uninstall()


def test_build_starts_with_duty_0_enable_off_and_a_hard_rising_edge_irq():
    pump, tr = build(spec(pwm_hz=25000))
    assert tr.values("pwm15", "freq") == [25000]
    assert tr.values("pwm15", "duty")[-1] == 0
    assert tr.values("pin14") == [0]
    assert tr.of("pin13", "irq")[0][3] == Pin.IRQ_RISING
    assert pump._enc.handler is not None


def test_build_works_without_an_enable_pin():
    s = spec()
    del s["enable_pin"]
    pump, tr = build(s)
    pump.enable()
    pump.safe_state()
    assert pump.fault() is None


def test_build_refuses_bad_options_naming_them():
    expect_config_error(lambda: build(spec(counts_per_step=0)), "drivers.motor.counts_per_step")
    expect_config_error(lambda: build(spec(counts_per_step=1.5)), "drivers.motor.counts_per_step")
    expect_config_error(lambda: build(spec(kp=0)), "drivers.motor.kp")
    expect_config_error(lambda: build(spec(min_duty=1.5)), "drivers.motor.min_duty")
    expect_config_error(lambda: build(spec(min_duty=0.5, max_duty=0.4)), "drivers.motor.max_duty")
    expect_config_error(lambda: build(spec(pwm_hz=0)), "drivers.motor.pwm_hz")
    expect_config_error(lambda: build(spec(stall_ms=10)), "drivers.motor.stall_ms")
    s = spec()
    del s["counts_per_step"]
    expect_config_error(lambda: build(s), "drivers.motor.counts_per_step")
