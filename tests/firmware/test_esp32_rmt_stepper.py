# ESP32 RMT stepper: exact RMT writes, batches and backlog without a lost or added step, emitted() only when done, safe order.
import fake_esp32
import fake_machine
from fake_machine import FakeTime, Pin, Trace

from drivers import esp32_rmt_stepper as mod
from drivers.step_timing import chip_timing
from drivers.stepper_options import step_period_ns
from driver_checks import index_of, expect_config_error

A4988 = chip_timing("a4988")


def make(chip="a4988", rate=2000, batch=8):
    tr = Trace()
    mod.time = FakeTime(tr)
    del fake_esp32.created[:]
    step = Pin(2, Pin.OUT, value=0, trace=tr)
    dirp = Pin(3, Pin.OUT, value=0, trace=tr)
    en = Pin(4, Pin.OUT, value=1, trace=tr)

    def new_rmt(div):
        return fake_esp32.RMT(0, pin=step, clock_div=div, trace=tr)

    period = step_period_ns({"limits": {"max_steps_per_s": rate}})
    m = mod.RmtStepper(new_rmt, step, dirp, en, chip_timing(chip), period, batch)
    return m, tr


def rmt():
    return fake_esp32.created[-1]


def lcg(seed):
    # the same pseudo-random sequence on both runtimes
    state = [seed]

    def nxt(n):
        state[0] = (state[0] * 1103515245 + 12345) & 0x7FFFFFFF
        return state[0] % n
    return nxt


def test_rmt_ticks_meet_the_chip_minimums_and_the_rate_limit_at_the_finest_tick_that_fits():
    for chip in ("a4988", "drv8825", "tmc2209"):
        t = chip_timing(chip)
        for rate in (10, 200, 1000, 2000, 5000, 20000):
            period = step_period_ns({"limits": {"max_steps_per_s": rate}})
            div, high, low = mod.rmt_ticks(period, t["step_high_ns"], t["step_low_ns"])
            tick = div * 12.5
            assert high * tick >= t["step_high_ns"], (chip, rate)
            assert low * tick >= t["step_low_ns"], (chip, rate)
            assert (high + low) * tick >= 1e9 / rate, (chip, rate)
            assert high <= 32767 and low <= 32767
            # the finest that fits: one clock_div lower, the low time would overflow 15 bits
            assert div == 1 or (period - t["step_high_ns"]) / ((div - 1) * 12.5) > 32767 - 1


def test_hands_the_rmt_the_exact_pulse_sequence_in_its_ticks():
    # 2000 steps/s: 500 us a step; 40000 ticks of 12.5 ns overflow 15 bits, so clock_div 2 (25 ns):
    # STEP high 1 us (A4988 minimum) = 40 ticks, low the rest of the period = 19960 ticks
    m, tr = make(rate=2000, batch=8)
    m.enable()
    m.step(3)
    assert rmt().clock_div == 2
    # 3 steps: a write of 2 pulses, then (once it is done) a write of 1
    assert [w[1] for w in rmt().writes] == [(40, 19960, 40, 19960)]
    tr.advance_us(1000)
    m.emitted()
    assert [w[1] for w in rmt().writes] == [(40, 19960, 40, 19960), (40, 19960)]
    assert rmt().writes[1][0] == rmt().writes[0][0] + 1000 * 1000


def test_a_drv8825_pulse_is_at_least_1_9_us_high_and_low():
    m, tr = make(chip="drv8825", rate=5000, batch=8)
    m.enable()
    m.step(1)
    d = rmt().writes[0][1]
    tick = rmt().clock_div * 12.5
    assert d[0] * tick >= 1900 and d[1] * tick >= 1900
    assert (d[0] + d[1]) * tick >= 200000


def test_step_returns_at_once_and_keeps_the_rest_in_a_backlog():
    m, tr = make(batch=8)
    m.enable()
    t0 = tr.t_us
    m.step(1000)
    assert tr.t_us == t0
    assert len(rmt().writes) == 1 and len(rmt().writes[0][1]) == 16
    assert m.pending() == 1000


def test_emitted_counts_a_write_only_once_the_rmt_reports_it_done():
    m, tr = make(rate=2000, batch=8)
    m.enable()
    m.step(20)
    assert m.emitted() == 0
    tr.advance_us(8 * 500 - 1)          # the last pulse's low still running
    assert m.emitted() == 0
    tr.advance_us(1)
    assert m.emitted() == 8             # done: counted, and the next batch written
    assert [len(w[1]) // 2 for w in rmt().writes] == [8, 8]
    tr.advance_us(8 * 500)
    assert m.emitted() == 16
    tr.advance_us(4 * 500)
    assert m.emitted() == 20
    assert [len(w[1]) // 2 for w in rmt().writes] == [8, 8, 4]
    assert m.pending() == 0


def test_no_step_lost_or_added_across_batches_and_backlog_and_none_closer_than_the_limit():
    m, tr = make(rate=2000, batch=16)
    m.enable()
    rnd = lcg(7)
    asked = 0
    for _ in range(300):
        n = rnd(40)
        m.step(n)
        asked += n
        tr.advance_us(rnd(3000))
        m.emitted()
    while m.pending():
        tr.advance_us(1000)
        m.emitted()
    starts = fake_esp32.all_pulse_starts()
    assert m.emitted() == asked == len(starts)
    for i in range(1, len(starts)):
        assert starts[i] - starts[i - 1] >= 500000, (i, starts[i] - starts[i - 1])


def test_every_write_reuses_a_tuple_built_at_start():
    m, tr = make(rate=2000, batch=16)
    m.enable()
    for n in (1, 3, 16, 17, 100, 5):
        m.step(n)
        for _ in range(40):
            tr.advance_us(500)
            m.emitted()
    for _, d in rmt().writes:
        assert any(d is c for c in m._chunks)
    assert len(m._chunks) == 5      # 1, 2, 4, 8, 16 pulses


def test_enable_sets_dir_forward_energises_then_waits_the_wake_time_before_the_first_pulse():
    for chip, wake in (("a4988", 1000), ("drv8825", 1700)):
        m, tr = make(chip=chip)
        tr.clear()
        m.enable()
        i_dir = index_of(tr, "pin3", "value", 1)
        i_en = index_of(tr, "pin4", "value", 0)
        assert 0 <= i_dir < i_en
        t_en = tr.events[i_en][0]
        m.step(1)
        assert rmt().writes[0][0] >= (t_en + wake) * 1000


def test_safe_state_stops_pulses_then_drives_step_low_then_releases_enable():
    m, tr = make(rate=2000, batch=8)
    m.enable()
    m.step(8)
    tr.advance_us(1200)
    tr.clear()
    m.safe_state()
    i_stop = index_of(tr, "rmt0", "stop")
    i_deinit = index_of(tr, "rmt0", "deinit")
    i_low = index_of(tr, "pin2", "value", 0)
    i_en = index_of(tr, "pin4", "value", 1)
    assert 0 <= i_stop < i_deinit < i_low < i_en, tr.events
    assert index_of(tr, "pin2", "init") < i_en
    before = len(fake_esp32.all_pulse_starts())
    tr.advance_us(10000)
    m.step(5)                                   # disabled: nothing moves
    assert len(fake_esp32.all_pulse_starts()) == before == 3


def test_a_write_cut_short_counts_every_pulse_that_can_have_started():
    m, tr = make(rate=2000, batch=8)
    m.enable()
    m.step(8)
    tr.advance_us(1200)                         # pulses began at 0, 500 and 1000 us
    m.safe_state()
    assert m.emitted() == 3 == len(fake_esp32.all_pulse_starts())


def test_safe_state_never_raises_and_still_releases_enable_when_the_rmt_fails():
    m, tr = make()
    m.enable()
    m.step(4)

    def broken(*a):
        raise OSError("RMT gone")
    rmt().deinit = broken
    rmt().wait_done = broken
    m.safe_state()
    assert tr.values("pin2")[-1] == 0
    assert tr.values("pin4")[-1] == 1


def test_step_while_disabled_sends_nothing():
    m, tr = make()
    m.step(10)
    assert fake_esp32.created == []
    assert m.emitted() == 0


def test_enable_after_safe_state_makes_a_fresh_channel_and_steps_again():
    m, tr = make(rate=2000, batch=8)
    m.enable()
    m.step(2)
    tr.advance_us(1000)
    assert m.emitted() == 2
    m.safe_state()
    m.enable()
    m.step(3)
    assert len(fake_esp32.created) == 2
    tr.advance_us(1000)
    assert m.emitted() == 4
    tr.advance_us(500)
    assert m.emitted() == 5


def test_disable_drops_the_backlog():
    m, tr = make(rate=2000, batch=8)
    m.enable()
    m.step(20)
    tr.advance_us(4000)
    m.emitted()                                 # first 8 done, second batch in flight
    m.disable()
    m.enable()
    tr.advance_us(100000)
    assert m.emitted() == 8 + 1                 # the cut write had begun one pulse
    assert m.pending() == 0


def test_batch_covers_a_quarter_second_at_the_top_rate():
    assert mod.batch_for(10) == 8
    assert mod.batch_for(200) == 64
    assert mod.batch_for(1000) == 256
    assert mod.batch_for(50000) == 256


BOARD = {"pins": {"step": 25, "dir": 26, "en": 27},
         "limits": {"max_steps_per_s": 200}}


def spec(**kw):
    s = {"kind": "esp32_rmt_stepper", "step_pin": "step", "dir_pin": "dir", "enable_pin": "en",
         "chip": "tmc2209", "microsteps": 16}
    s.update(kw)
    return s


def build(s, cfg=BOARD):
    tr = Trace()
    fake_machine.install(tr)
    fake_esp32.install()
    mod.time = FakeTime(tr)
    try:
        return mod.DRIVER(s, cfg), tr
    finally:
        fake_machine.uninstall()
        fake_esp32.uninstall()


def test_build_wires_the_pins_table_and_holds_the_stage_off_until_enable():
    m, tr = build(spec(rmt_channel=3))
    assert tr.values("pin27")[0] == 1           # enable (active low) off from the first instant
    assert tr.values("pin25") == [0]
    m.enable()
    m.step(1)
    r = fake_esp32.created[-1]
    assert r.channel == 3 and r.pin.id == 25
    assert len(r.writes) == 1


def test_build_refuses_bad_options_naming_them():
    expect_config_error(lambda: build(spec(chip="l298")), "drivers.motor.chip")
    expect_config_error(lambda: build(spec(microsteps=3)), "drivers.motor.microsteps")
    expect_config_error(lambda: build(spec(chip="a4988", microsteps=32)), "drivers.motor.microsteps")
    expect_config_error(lambda: build(spec(rmt_channel=8)), "drivers.motor.rmt_channel")
    expect_config_error(lambda: build(spec(rmt_channel="0")), "drivers.motor.rmt_channel")
    s = spec()
    del s["microsteps"]
    expect_config_error(lambda: build(s), "drivers.motor.microsteps")
    slow = {"pins": BOARD["pins"], "limits": {"max_steps_per_s": 5}}
    expect_config_error(lambda: build(spec(), slow), "limits.max_steps_per_s")
