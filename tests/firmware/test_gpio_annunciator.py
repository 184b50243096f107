# Tests of drivers.gpio_annunciator: light and sound timings over fired timer ticks, in IEC 60601-1-8's ranges; run by pytest and tests/mprun.py.
import drivers.gpio_annunciator as ga
from drivers.gpio_annunciator import GpioAnnunciator
from pump.errors import ConfigError

import fake_machine
from fake_machine import Trace, Pin, PWM, Timer
from fakes import expect_raises


def _rgb(active_low=False):
    trace = Trace()
    pins = (Pin("r", Pin.OUT, trace=trace), Pin("g", Pin.OUT, trace=trace),
            Pin("b", Pin.OUT, trace=trace))
    pwm = PWM("bz", trace=trace)
    timer = Timer(-1, trace=trace)
    return trace, pins, pwm, timer, GpioAnnunciator(pins, pwm, timer, 2700, active_low)


def _rises(trace, source, what="value"):
    """Times (s) at which source went from off to on."""
    out = []
    last = 0
    for t, _s, _w, v in trace.of(source, what):
        on = 1 if v else 0
        if on and not last:
            out.append(t / 1e6)
        last = on
    return out


def _on_fraction(trace, source, start_s, end_s):
    """Fraction of [start, end) the source was on, from its trace."""
    on_time = 0.0
    level, since = 0, start_s
    for t, _s, _w, v in trace.of(source, "value"):
        t = t / 1e6
        if t < start_s:
            level = 1 if v else 0
            continue
        if t >= end_s:
            break
        if level:
            on_time += t - since
        level, since = (1 if v else 0), t
    if level:
        on_time += end_s - since
    return on_time / (end_s - start_s)


def _bursts(rises, gap_s=1.0):
    """Rises grouped into bursts: a pause over gap_s starts a new one."""
    groups = []
    for t in rises:
        if groups and t - groups[-1][-1] <= gap_s:
            groups[-1].append(t)
        else:
            groups.append([t])
    return groups


def test_timer_runs_at_the_fixed_tick():
    trace, pins, pwm, timer, a = _rgb()
    assert timer.running and timer.period_ms == ga.TICK_MS


def test_high_alarm_flashes_red_between_1_4_and_2_8_hz_with_20_to_60_percent_duty():
    trace, pins, pwm, timer, a = _rgb()
    a.show("red_flash_fast", "burst_10")
    timer.fire(20 * 1000 // ga.TICK_MS)
    rises = _rises(trace, "pinr")
    hz = (len(rises) - 1) / (rises[-1] - rises[0])
    assert 1.4 <= hz <= 2.8, hz
    duty = _on_fraction(trace, "pinr", rises[0], rises[-1])
    assert 0.2 <= duty <= 0.6, duty
    assert _rises(trace, "ping") == [] and _rises(trace, "pinb") == []


def test_high_alarm_sounds_bursts_of_10_repeated_every_2_5_to_15_s():
    trace, pins, pwm, timer, a = _rgb()
    a.show("red_flash_fast", "burst_10")
    timer.fire(35 * 1000 // ga.TICK_MS)
    bursts = _bursts(_rises(trace, "pwmbz", "duty"))
    assert [len(b) for b in bursts] == [10, 10, 10, 10], [len(b) for b in bursts]
    for first, second in zip(bursts, bursts[1:]):
        assert 2.5 <= second[0] - first[0] <= 15, (first[0], second[0])
    assert bursts[0][0] == 0          # the first pulse sounds at once, not a tick later


def test_medium_alarm_flashes_yellow_between_0_4_and_0_8_hz_and_sounds_bursts_of_3():
    trace, pins, pwm, timer, a = _rgb()
    a.show("yellow_flash_slow", "burst_3")
    timer.fire(65 * 1000 // ga.TICK_MS)
    red = _rises(trace, "pinr")
    assert red == _rises(trace, "ping"), "yellow is red and green together"
    assert _rises(trace, "pinb") == []
    hz = (len(red) - 1) / (red[-1] - red[0])
    assert 0.4 <= hz <= 0.8, hz
    duty = _on_fraction(trace, "pinr", red[0], red[-1])
    assert 0.2 <= duty <= 0.6, duty
    bursts = _bursts(_rises(trace, "pwmbz", "duty"))
    assert [len(b) for b in bursts] == [3, 3, 3, 3], [len(b) for b in bursts]
    for first, second in zip(bursts, bursts[1:]):
        assert 2.5 <= second[0] - first[0] <= 30, (first[0], second[0])


def test_low_alarm_is_steady_cyan_and_one_pulse_never_repeated_within_15_s():
    trace, pins, pwm, timer, a = _rgb()
    a.show("cyan_steady", "pulse_1")
    trace.clear()
    timer.fire(130 * 1000 // ga.TICK_MS)
    assert [p.value() for p in pins] == [0, 1, 1]
    assert trace.of("pinr") == [] and trace.of("ping") == [] and trace.of("pinb") == []
    rises = [0.0] + _rises(trace, "pwmbz", "duty")    # the first sounded in show()
    for a_s, b_s in zip(rises, rises[1:]):
        assert b_s - a_s >= 15, rises
    assert len(rises) >= 2, "it does sound again after its repeat"


def test_information_is_steady_white_and_silent():
    trace, pins, pwm, timer, a = _rgb()
    a.show("white_steady", None)
    timer.fire(400)
    assert [p.value() for p in pins] == [1, 1, 1]
    assert pwm.duty_u16() == 0 and _rises(trace, "pwmbz", "duty") == []


def test_off_is_dark_and_silent():
    trace, pins, pwm, timer, a = _rgb()
    a.show("red_flash_fast", "burst_10")
    timer.fire(3)
    a.show("off", None)
    timer.fire(400)
    assert [p.value() for p in pins] == [0, 0, 0] and pwm.duty_u16() == 0


def test_buzzer_plays_at_the_configured_frequency():
    trace, pins, pwm, timer, a = _rgb()
    assert pwm.freq() == 2700


def test_single_led_ignores_the_colour_and_keeps_the_flashing():
    trace = Trace()
    led = Pin("led", Pin.OUT, trace=trace)
    timer = Timer(-1, trace=trace)
    a = GpioAnnunciator((led,), None, timer)
    a.show("cyan_steady", None)
    assert led.value() == 1
    a.show("yellow_flash_slow", None)
    timer.fire(20 * 1000 // ga.TICK_MS)
    rises = _rises(trace, "pinled")
    hz = (len(rises) - 1) / (rises[-1] - rises[0])
    assert 0.4 <= hz <= 0.8, hz


def test_active_low_led_is_driven_inverted():
    trace, pins, pwm, timer, a = _rgb(active_low=True)
    assert [p.value() for p in pins] == [1, 1, 1]     # off
    a.show("cyan_steady", None)
    assert [p.value() for p in pins] == [1, 0, 0]


def test_showing_the_same_pattern_again_keeps_its_rhythm():
    trace, pins, pwm, timer, a = _rgb()
    a.show("red_flash_fast", "burst_10")
    timer.fire(7)
    before = a._bt
    a.show("red_flash_fast", "burst_10")
    assert a._bt == before


def test_safe_state_shows_the_high_alarm():
    trace, pins, pwm, timer, a = _rgb()
    a.show("off", None)
    a.safe_state()
    assert a.shown == ("red_flash_fast", "burst_10")
    assert pins[0].value() == 1 and pwm.duty_u16() == ga.DUTY_ON


def test_an_unknown_pattern_name_shows_the_high_alarm_not_darkness():
    trace, pins, pwm, timer, a = _rgb()
    a.show("purple_flash", "burst_99")
    assert a._led == ga.led_plan("red_flash_fast") and a._bz == ga.buzzer_plan("burst_10")


class _QuietPin:
    """A pin that records nothing, so a heap check sees only the driver's allocations."""

    def __init__(self):
        self.v = 0
        self.n = 0

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v
        self.n += 1

    def freq(self, f):
        pass

    def duty_u16(self, d):
        self.v = d
        self.n += 1


def test_the_timer_callback_allocates_nothing():
    try:
        import micropython
        lock, unlock = micropython.heap_lock, micropython.heap_unlock
    except (ImportError, AttributeError):
        return      # CPython: no heap lock; MicroPython runs the check
    pins = (_QuietPin(), _QuietPin(), _QuietPin())
    bz = _QuietPin()
    a = GpioAnnunciator(pins, bz, None)
    a.show("red_flash_fast", "burst_10")
    cb = a._cb
    lock()
    try:
        for _ in range(500):
            cb(None)
    finally:
        unlock()
    assert pins[0].n > 50 and bz.n > 20


def test_factory_builds_an_rgb_led_a_pwm_buzzer_and_a_timer():
    trace = Trace()
    fake_machine.install(trace)
    try:
        spec = {"kind": "gpio_annunciator", "red_pin": "r", "green_pin": "g", "blue_pin": "b",
                "buzzer_pin": "bz", "timer": 2}
        a = ga.make(spec, {"pins": {"r": 10, "g": 11, "b": 12, "bz": 13}})
    finally:
        fake_machine.uninstall()
    assert [p.id for p in a.leds] == [10, 11, 12]
    assert a.buzzer.pin.id == 13 and a.buzzer.freq() == ga.BUZZER_HZ
    assert a.timer.id == 2 and a.timer.running


def test_factory_refuses_half_an_rgb_led_and_a_bad_frequency():
    fake_machine.install(Trace())
    try:
        e = expect_raises(ConfigError, ga.make, {"red_pin": "r", "buzzer_hz": 5},
                          {"pins": {"r": 1}})
    finally:
        fake_machine.uninstall()
    paths = sorted(p for p, _ in e.problems)
    assert paths == ["drivers.annunciator.buzzer_hz", "drivers.annunciator.red_pin"], paths
