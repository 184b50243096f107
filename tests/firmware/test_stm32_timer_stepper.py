# Pyboard timer stepper: pulses at the step rate, each counted by the update IRQ, none lost or added, missed IRQs caught, safe order.
import fake_machine
import fake_pyb
from fake_machine import FakeTime, Trace
from hard_irq import call_hard

from drivers import stm32_timer_stepper as mod
from drivers.step_timing import chip_timing
from drivers.stepper_options import COUNT_MASK, step_period_ns
from driver_checks import expect_config_error


def make(chip="a4988", rate=2000, src=84000000):
    tr = Trace()
    mod.time = FakeTime(tr)
    tim = fake_pyb.Timer(4, trace=tr, source_hz=src)
    step = fake_pyb.Pin("X1", fake_pyb.Pin.OUT_PP, value=0, trace=tr)
    dirp = fake_pyb.Pin("X2", fake_pyb.Pin.OUT_PP, value=0, trace=tr)
    en = fake_pyb.Pin("X3", fake_pyb.Pin.OUT_PP, value=1, trace=tr)
    period = step_period_ns({"limits": {"max_steps_per_s": rate}})
    m = mod.TimerStepper(fake_pyb, tim, 1, step, dirp, en, chip_timing(chip), period)
    return m, tim, tr


def index_of(tr, source, what, value=None):
    for i, e in enumerate(tr.events):
        if e[1] == source and e[2] == what and (value is None or e[3] == value):
            return i
    return -1


def test_timer_ticks_meet_the_chip_minimums_and_the_rate_limit():
    for chip in ("a4988", "drv8825", "tmc2209"):
        t = chip_timing(chip)
        for src in (84000000, 168000000):
            for rate in (1, 10, 200, 2000, 20000):
                period = step_period_ns({"limits": {"max_steps_per_s": rate}})
                psc, ticks, width = mod.timer_ticks(src, period, t["step_high_ns"], t["step_low_ns"])
                tick_ns = (psc + 1) * 1e9 / src
                assert ticks <= 65536 and psc <= 65535
                assert width * tick_ns >= t["step_high_ns"], (chip, src, rate)
                assert (ticks - width) * tick_ns >= t["step_low_ns"], (chip, src, rate)
                assert ticks * tick_ns >= 1e9 / rate, (chip, src, rate)


def test_enable_runs_the_timer_at_the_step_rate_and_pulses_are_the_chip_width():
    m, tim, tr = make(rate=2000)
    m.enable()
    # 84 MHz, 500 us a step: prescaler 0, 42000 ticks a period; A4988's 1 us high is 84 ticks
    assert (tim.prescaler, tim.period) == (0, 41999)
    m.step(2)
    tim.run(5)
    assert [w for _, w in tim.pulses] == [84, 84]


def test_emits_exactly_the_steps_asked_and_emitted_counts_each_as_it_begins():
    m, tim, tr = make()
    m.enable()
    m.step(5)
    for _ in range(12):
        tim.run(1)
        assert m.emitted() == len(tim.pulses)
    assert len(tim.pulses) == 5 and m.emitted() == 5


def test_steps_queued_while_running_join_the_batch_a_period_apart():
    m, tim, tr = make(rate=2000)
    m.enable()
    m.step(3)
    tim.run(2)
    m.step(4)
    tim.run(3)
    m.step(1)
    tim.run(20)
    times = [t for t, _ in tim.pulses]
    assert len(times) == 8 == m.emitted()
    for i in range(1, len(times)):
        assert times[i] - times[i - 1] >= 500


def test_the_channel_stops_at_width_0_and_the_irq_turns_off_when_the_batch_is_done():
    m, tim, tr = make()
    m.enable()
    m.step(3)
    tim.run(10)
    assert tim.ch.preload == 0
    assert tim.cb is None
    assert m.pending() == 0
    tim.run(10)
    assert len(tim.pulses) == 3


def test_step_changes_the_shared_count_with_irqs_disabled():
    m, tim, tr = make()
    m.enable()
    fake_pyb.irq_state["calls"] = 0
    m.step(4)
    assert fake_pyb.irq_state["calls"] == 1 and fake_pyb.irq_state["disabled"] == 0


def test_the_update_irq_runs_with_the_heap_locked_on_every_path():
    m, tim, tr = make()
    m.enable()
    m.step(3)
    call_hard(m._tick_cb, tim)          # arm
    tim.run(1)                          # count
    tr.advance_us(5 * 500)              # a late IRQ
    call_hard(m._tick_cb, tim)
    for _ in range(6):                  # width 0, then IRQ off
        call_hard(m._tick_cb, tim)
    assert tim.cb is None


def test_missed_update_irqs_count_the_repeated_pulses_and_report_a_fault():
    m, tim, tr = make()
    m.enable()
    m.step(10)
    tim.run(3)
    tim.run(4, irq=False)               # a flash erase holds the IRQ off: pulses go on
    assert m.fault() is None
    tim.run(1)
    assert m.emitted() == len(tim.pulses) == 2 + 4 + 1
    assert "late" in m.fault()
    tim.run(20)
    assert m.emitted() == len(tim.pulses) == 10


def test_a_missed_stop_shows_as_more_emitted_than_asked():
    m, tim, tr = make()
    m.enable()
    m.step(2)
    tim.run(2)                          # pulse 1 counted, pulse 2 armed
    tim.run(3, irq=False)               # the IRQ that would stop it is held off
    tim.run(5)
    assert m.emitted() == len(tim.pulses) == 5


def test_enable_sets_dir_forward_energises_and_waits_the_wake_time_before_the_timer_starts():
    m, tim, tr = make(chip="drv8825")
    tr.clear()
    m.enable()
    i_dir = index_of(tr, "pinX2", "value", 1)
    i_en = index_of(tr, "pinX3", "value", 0)
    i_tim = index_of(tr, "tim4", "init")
    assert 0 <= i_dir < i_en < i_tim
    assert tr.events[i_tim][0] - tr.events[i_en][0] >= 1700


def test_safe_state_stops_the_timer_then_drives_step_low_then_releases_enable():
    m, tim, tr = make()
    m.enable()
    m.step(10)
    tim.run(4)
    tr.clear()
    m.safe_state()
    i_stop = index_of(tr, "tim4", "deinit")
    i_low = index_of(tr, "pinX1", "value", 0)
    i_en = index_of(tr, "pinX3", "value", 1)
    assert 0 <= i_stop < i_low < i_en, tr.events
    n = len(tim.pulses)
    tim.run(10)
    m.step(3)
    tim.run(10)
    assert len(tim.pulses) == n == m.emitted() == 3


def test_safe_state_never_raises_and_still_releases_enable_when_the_timer_fails():
    m, tim, tr = make()
    m.enable()

    def broken():
        raise OSError("timer gone")
    tim.deinit = broken
    m.safe_state()
    assert tr.values("pinX1")[-1] == 0
    assert tr.values("pinX3")[-1] == 1


def test_emitted_keeps_counting_across_the_irq_counter_wrap():
    m, tim, tr = make()
    m._count = m._seen = COUNT_MASK - 2
    m._total = 1000
    m.enable()
    m.step(5)
    tim.run(10)
    assert m._count < 5                 # wrapped
    assert m.emitted() == 1005


BOARD = {"pins": {"step": "X1", "dir": "X2", "en": "X3"}, "limits": {"max_steps_per_s": 200}}


def spec(**kw):
    s = {"kind": "stm32_timer_stepper", "step_pin": "step", "dir_pin": "dir", "enable_pin": "en",
         "chip": "drv8825", "microsteps": 32, "timer": 2, "channel": 1}
    s.update(kw)
    return s


def build(s, cfg=BOARD):
    tr = Trace()
    fake_machine.install(tr)
    fake_pyb.install()
    mod.time = FakeTime(tr)
    try:
        return mod.DRIVER(s, cfg), tr
    finally:
        fake_machine.uninstall()
        fake_pyb.uninstall()


def test_build_probes_the_channel_then_leaves_the_timer_stopped_and_step_low():
    m, tr = build(spec())
    tim = fake_pyb.created[-1]
    assert tim.id == 2 and not tim.running
    assert tr.values("pinX1")[-1] == 0 and tr.values("pinX3")[0] == 1
    m.enable()
    m.step(2)
    tim.run(5)
    assert len(tim.pulses) == 2 == m.emitted()


def test_build_refuses_bad_options_naming_them():
    expect_config_error(lambda: build(spec(chip="tb6600")), "drivers.motor.chip")
    expect_config_error(lambda: build(spec(microsteps=64)), "drivers.motor.microsteps")
    expect_config_error(lambda: build(spec(timer=0)), "drivers.motor.timer")
    expect_config_error(lambda: build(spec(channel=5)), "drivers.motor.channel")
    s = spec()
    del s["channel"]
    expect_config_error(lambda: build(s), "drivers.motor.channel")
    fake_pyb.BAD_PINS.append("X1")
    try:
        expect_config_error(lambda: build(spec()), "drivers.motor.step_pin")
    finally:
        fake_pyb.BAD_PINS.remove("X1")
