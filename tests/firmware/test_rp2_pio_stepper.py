# Tests of the Pico PIO stepper driver with a fake state machine and pins: order at enable and stop, no step lost or counted twice, options refused by path.

import drivers.rp2_pio_stepper as mod
import fake_machine
import fake_rp2
from drivers.step_timing import chip_timing
from fake_machine import FakeTime, Pin, Trace
from fake_rp2 import StateMachine
from fakes import expect_raises
from pump.errors import ConfigError

SYS_HZ = 125000000
CHIPS = ("a4988", "drv8825", "tmc2209")


class FakeTmc:
    """A TMC2209 as the driver sees it: apply() (configure with the board's settings), fault()."""

    def __init__(self, trace, apply_error=None, flags=None):
        self.trace = trace
        self.apply_error = apply_error
        self.flags = flags
        self.fault_reads = 0

    def apply(self):
        self.trace.log("tmc", "apply")
        if self.apply_error:
            raise OSError(self.apply_error)

    def fault(self):
        self.fault_reads += 1
        if isinstance(self.flags, Exception):
            raise self.flags
        return self.flags


def make(chip="a4988", rate=200, tmc=None, trace=None):
    t = trace if trace is not None else Trace()
    mod.time = FakeTime(t)
    sm = StateMachine(0, trace=t)
    step = Pin(2, Pin.OUT, value=0, trace=t)
    dirp = Pin(3, Pin.OUT, value=1, trace=t)
    en = Pin(4, Pin.OUT, value=1, trace=t)
    m = mod.Rp2PioStepper(sm, "prog", step, dirp, en, chip_timing(chip), SYS_HZ, rate, tmc)
    t.clear()
    return m, sm, t


def index_of(trace, source, what, value=None, start=0):
    for i in range(start, len(trace.events)):
        e = trace.events[i]
        if e[1] == source and e[2] == what and (value is None or e[3] == value):
            return i
    raise AssertionError("no %s %s %r after event %d" % (source, what, value, start))


def batch_sizes(sm):
    return [(w & 0xFFFF) + 1 for w in sm.tx]


# ---- timing plan ---------------------------------------------------------------------------

def test_plan_meets_every_chip_minimum_and_the_period_to_one_cycle():
    for chip in CHIPS:
        t = chip_timing(chip)
        for rate in (1, 7, 50, 200, 1000, 20000, 100000):
            p = mod.plan(SYS_HZ, rate, t)
            f = p["freq"]
            assert SYS_HZ % p["div"] == 0 and f * p["div"] == SYS_HZ, (chip, rate)
            # high and low (the shorter, a batch's last step) against the minimum, in ns x f
            assert p["high"] * 1000000000 >= t["step_high_ns"] * f, (chip, rate)
            assert p["low_min"] * 1000000000 >= t["step_low_ns"] * f, (chip, rate)
            assert p["high"] + p["delay"] + mod.FIXED_LOW == p["period"], (chip, rate)
            # period never shorter than 1/rate, and less than one cycle longer
            assert p["period"] * rate >= f, (chip, rate, p)
            assert (p["period"] - 1) * rate < f, (chip, rate, p)
            assert 0 <= p["delay"] <= 0xFFFF, (chip, rate)


def test_plan_rounds_a_fractional_rate_down_so_the_period_only_grows():
    t = chip_timing("a4988")
    p = mod.plan(SYS_HZ, 2.5, t)
    assert p["period"] * 25 >= p["freq"] * 10
    assert (p["period"] - 1) * 25 < p["freq"] * 10


def test_plan_refuses_a_rate_the_pio_cannot_time():
    e = expect_raises(ConfigError, mod.plan, SYS_HZ, 0.01, chip_timing("a4988"))
    assert e.problems[0][0] == "limits.max_steps_per_s"
    e = expect_raises(ConfigError, mod.plan, SYS_HZ, 0, chip_timing("a4988"))
    assert e.problems[0][0] == "limits.max_steps_per_s"


def test_slow_rates_get_a_slow_clock_and_a_short_delay_count():
    p = mod.plan(SYS_HZ, 1, chip_timing("drv8825"))
    assert p["period"] <= mod.PERIOD_TARGET
    assert p["freq"] * 1 <= p["period"]


# ---- enable and stop order -------------------------------------------------------------------

def test_enable_sets_dir_forward_and_energises_then_waits_the_wake_time_before_the_pio_runs():
    for chip in CHIPS:
        m, sm, t = make(chip)
        m.enable()
        i_init = index_of(t, "sm0", "init")
        i_dir = index_of(t, "pin3", "value", mod.FORWARD)
        i_en = index_of(t, "pin4", "value", 0)
        i_run = index_of(t, "sm0", "active", 1)
        assert i_init < i_run and i_dir < i_en < i_run, t.events
        timing = chip_timing(chip)
        waited = t.events[i_run][0] - t.events[i_en][0]
        assert waited >= timing["wake_us"], (chip, waited)
        assert waited * 1000 >= timing["dir_setup_ns"], (chip, waited)
        # the state machine got the program, the planned clock, and STEP as its side-set pin
        prog, freq, kw = sm.inits[-1]
        assert prog == "prog" and freq == m.plan["freq"]
        assert kw["sideset_base"].id == 2 and kw["set_base"].id == 2


def test_safe_state_stops_the_pio_before_step_low_before_enable_high():
    m, sm, t = make()
    m.enable()
    m.step(3)
    t.clear()
    m.safe_state()
    i_stop = index_of(t, "sm0", "active", 0)
    i_set = index_of(t, "sm0", "exec", "set(pins, 0)")
    i_low = index_of(t, "pin2", "value", 0)
    i_off = index_of(t, "pin4", "value", 1)
    assert i_stop < i_set < i_off and i_stop < i_low < i_off, t.events
    assert not m.enabled


def test_disable_is_the_same_ordered_stop():
    m, sm, t = make()
    m.enable()
    t.clear()
    m.disable()
    assert index_of(t, "sm0", "active", 0) < index_of(t, "pin2", "value", 0) < \
        index_of(t, "pin4", "value", 1)


def test_safe_state_never_raises_and_still_de_energises_when_the_state_machine_fails():
    for broken in ("active", "exec", "get"):
        m, sm, t = make()
        m.enable()
        m.step(5)
        sm.finish(1)
        sm.fail = broken
        m.safe_state()
        assert t.values("pin4")[-1] == 1, broken
        assert t.values("pin2")[-1] == 0, broken


def test_emits_no_step_after_safe_state():
    m, sm, t = make()
    m.enable()
    m.safe_state()
    puts = len(t.of("sm0", "put"))
    m.step(10)
    assert len(t.of("sm0", "put")) == puts
    assert m.emitted() == 0
    assert m.dropped == 10


def test_enable_twice_keeps_the_queue():
    m, sm, t = make()
    m.enable()
    m.step(5)
    m.enable()
    assert len(sm.inits) == 1 and batch_sizes(sm) == [5]


# ---- queueing ---------------------------------------------------------------------------------

def test_step_returns_at_once_and_never_puts_into_a_full_fifo():
    m, sm, t = make()
    m.enable()
    for _ in range(10):
        m.step(1)          # the fake's put() raises if the driver overfills the TX FIFO
    assert batch_sizes(sm) == [1, 1, 1, 1]
    assert len(t.of("sm0", "get")) == 0


def test_no_step_lost_when_the_fifo_is_full():
    m, sm, t = make(rate=200)      # batches of at most 50 steps
    m.enable()
    asked = 0
    for n in (1, 1, 1, 1, 1, 1, 30, 120, 3):
        m.step(n)
        asked += n
    assert len(sm.tx) == 4         # the rest waits in the driver
    # the PIO works through everything, one batch at a time, as the app polls emitted()
    for _ in range(100):
        if not sm.tx:
            break
        sm.finish(1)
        m.emitted()
    put = sum([(e[3] & 0xFFFF) + 1 for e in t.of("sm0", "put")])
    assert put == asked, (put, asked)
    assert m.emitted() == asked, (m.emitted(), asked)
    assert m.dropped == 0


def test_words_carry_the_delay_count_and_a_bounded_batch():
    m, sm, t = make(rate=200)
    m.enable()
    m.step(1000)
    assert m.batch == 50
    assert batch_sizes(sm) == [50, 50, 50, 50]
    for w in sm.tx:
        assert w >> 16 == m.plan["delay"]


def test_never_more_batches_in_flight_than_the_rx_fifo_holds():
    m, sm, t = make(rate=200)
    m.enable()
    m.step(1000)
    # nothing read back yet: four in flight, so four reports can always land
    sm.finish(4)
    m.step(1)
    assert len(sm.tx) == 4 and len(sm.rx) == 0


def test_emitted_counts_only_what_the_pio_reported():
    m, sm, t = make()
    m.enable()
    m.step(7)
    m.step(3)
    assert m.emitted() == 0
    sm.finish(1)
    assert m.emitted() == 7
    sm.finish(1)
    assert m.emitted() == 10


def test_a_report_with_no_batch_in_flight_is_an_error_not_a_count():
    m, sm, t = make()
    m.enable()
    sm.rx.append(0)
    e = expect_raises(OSError, m.emitted)
    assert "never queued" in str(e)
    assert m._done == 0


def test_stop_mid_batch_counts_the_rises_x_shows_and_drops_the_rest():
    m, sm, t = make()
    m.enable()
    m.step(7)
    m.step(3)
    sm.start_next(4)                # 4 of the 7 rose
    m.safe_state()
    assert m.emitted() == 4
    assert m.dropped == 6
    assert sm.execs[-2:] == ["mov(isr, x)", "push(noblock)"]


def test_a_stop_before_the_first_instruction_ignores_a_stale_x():
    m, sm, t = make()
    m.enable()
    m.step(9)
    sm.start_next(2)                # a run stopped mid-batch leaves X = 6 in the state machine
    m.safe_state()
    assert m.emitted() == 2
    t.clear()
    m.enable()                      # init keeps X; the driver resets it before the PIO runs
    assert index_of(t, "sm0", "init") < index_of(t, "sm0", "exec", "mov(x, invert(null))") \
        < index_of(t, "sm0", "active", 1)
    m.step(5)
    m.safe_state()                  # stopped before the program's first instruction
    assert m.emitted() == 2
    assert m.dropped == 7 + 5


def test_stop_with_no_batch_running_counts_nothing_more():
    m, sm, t = make()
    m.enable()
    m.step(7)
    sm.finish(1)
    m.step(2)                       # queued, not pulled: X still says no batch
    m.safe_state()
    assert m.emitted() == 7
    assert m.dropped == 2


def test_stop_after_all_rises_before_the_report_counts_short_never_over():
    m, sm, t = make()
    m.enable()
    m.step(5)
    sm.start_next(5)                # X = ~0: all rose, the push not yet made
    m.safe_state()
    assert m.emitted() <= 5
    assert m.emitted() == 0


def test_a_new_enable_starts_a_fresh_queue():
    m, sm, t = make()
    m.enable()
    m.step(5)
    m.disable()
    m.enable()
    assert len(sm.inits) == 2 and sm.tx == []
    m.step(2)
    sm.finish(1)
    assert m.emitted() == 2


def test_step_refuses_reverse():
    m, sm, t = make()
    m.enable()
    expect_raises(ValueError, m.step, -1)


# ---- TMC2209 ----------------------------------------------------------------------------------

def test_tmc2209_is_configured_before_the_motor_is_energised():
    t = Trace()
    tmc = FakeTmc(t)
    m, sm, t = make("tmc2209", tmc=tmc, trace=t)
    m.enable()
    assert index_of(t, "tmc", "apply") < index_of(t, "pin4", "value", 0)
    assert m.fault() is None


def test_tmc2209_not_confirmed_leaves_the_motor_off_and_says_so():
    t = Trace()
    tmc = FakeTmc(t, apply_error="write to CHOPCONF not taken")
    m, sm, t = make("tmc2209", tmc=tmc, trace=t)
    m.enable()
    assert not m.enabled
    assert t.values("pin4") == []          # never energised
    assert "CHOPCONF" in m.fault()
    tmc.apply_error = None
    m.enable()
    assert m.enabled and m.fault() is None


def test_tmc2209_flags_are_read_at_most_once_a_second():
    t = Trace()
    tmc = FakeTmc(t, flags="tmc2209 ot")
    m, sm, t = make("tmc2209", tmc=tmc, trace=t)
    t.advance_us(5000000)
    assert m.fault() == "tmc2209 ot"
    t.advance_us(400000)
    tmc.flags = None
    assert m.fault() == "tmc2209 ot" and tmc.fault_reads == 1
    t.advance_us(600000)
    assert m.fault() is None and tmc.fault_reads == 2


def test_tmc2209_silent_is_a_fault_not_an_exception():
    t = Trace()
    tmc = FakeTmc(t, flags=OSError("no reply"))
    m, sm, t = make("tmc2209", tmc=tmc, trace=t)
    assert "no reply" in m.fault()


def test_no_chip_link_no_fault():
    m, sm, t = make("a4988")
    assert m.fault() is None


# ---- the factory and its options --------------------------------------------------------------

def board(**motor):
    spec = {"kind": "rp2_pio_stepper", "step_pin": "step", "dir_pin": "dir", "enable_pin": "en",
            "chip": "a4988", "microsteps": 16}
    spec.update(motor)
    cfg = {"pins": {"step": 2, "dir": 3, "en": 4}, "limits": {"max_steps_per_s": 200},
           "drivers": {"motor": spec}}
    return spec, cfg


def build(spec, cfg):
    t = Trace()
    fake_rp2.install(trace=t)
    try:
        mod.time = FakeTime(t)
        return mod.DRIVER(spec, cfg), t
    finally:
        fake_rp2.uninstall()
        fake_machine.default_trace = Trace()


def refused(path, spec, cfg):
    e = expect_raises(ConfigError, build, spec, cfg)
    assert e.problems[0][0] == path, (path, e.problems)


def test_factory_builds_a_stopped_motor_with_enable_high_and_step_low():
    spec, cfg = board(sm=5)
    m, t = build(spec, cfg)
    assert not m.enabled
    assert t.values("pin4") == [1] and t.values("pin2") == [0]
    assert t.values("pin3") == [mod.FORWARD]
    assert m._sm.id == 5 and not m._sm.running
    assert m.plan["freq"] * m.plan["div"] == SYS_HZ


def test_factory_refuses_bad_options_by_path():
    spec, cfg = board(chip="l298")
    refused("drivers.motor.chip", spec, cfg)
    spec, cfg = board(microsteps=32)
    refused("drivers.motor.microsteps", spec, cfg)
    spec, cfg = board(chip="tmc2209", microsteps=256)      # no UART: MS1/MS2 give 8..64
    refused("drivers.motor.microsteps", spec, cfg)
    spec, cfg = board(sm=8)
    refused("drivers.motor.sm", spec, cfg)
    spec, cfg = board(sm=True)
    refused("drivers.motor.sm", spec, cfg)
    spec, cfg = board()
    cfg["limits"]["max_steps_per_s"] = 0.01
    refused("limits.max_steps_per_s", spec, cfg)


def test_factory_refuses_before_touching_a_pin():
    spec, cfg = board(microsteps=3)
    t = Trace()
    fake_rp2.install(trace=t)
    try:
        expect_raises(ConfigError, mod.DRIVER, spec, cfg)
    finally:
        fake_rp2.uninstall()
        fake_machine.default_trace = Trace()
    assert t.events == []
