# Tests of drivers.hx711: SCK clocking per gain, pulse widths, two's complement, bounded waits; run by pytest and tests/mprun.py.
import drivers.hx711 as hx711
from drivers.hx711 import HX711

from fake_machine import Trace, FakeTime
from fakes import expect_raises
from io_fake_chips import FakeHX711, FakeIrq, high_times_us


def _setup(word=0, gain=128, ready=True):
    trace = Trace()
    hx711.time = FakeTime(trace)
    chip = FakeHX711(trace, word, ready)
    irq = FakeIrq(trace)
    return trace, chip, irq, HX711(chip.sck, chip.dout, gain=gain, irq=irq)


def test_channel_a_gain_128_takes_25_clocks():
    trace, chip, irq, hx = _setup(0x123456)
    trace.clear()
    assert hx.read() == 0x123456
    chip.finish()
    assert chip.gain_pulses == [25]
    assert len(high_times_us(trace, "pinsck")) == 25


def test_channel_b_gain_32_takes_26_clocks_and_a_gain_64_takes_27():
    for gain, clocks in ((32, 26), (64, 27)):
        trace, chip, irq, hx = _setup(0x000001, gain)
        assert hx.read() == 1
        chip.finish()
        assert chip.gain_pulses == [clocks], (gain, chip.gain_pulses)


def test_every_sck_high_is_at_least_0_2_us_and_under_50_us():
    trace, chip, irq, hx = _setup(0x5A5A5A)
    trace.clear()
    hx.read()
    highs = high_times_us(trace, "pinsck")
    assert highs and min(highs) >= 0.2 and max(highs) < 50, highs


def test_clocks_run_with_interrupts_off_and_they_come_back_on():
    trace, chip, irq, hx = _setup(0x400000)
    trace.clear()
    hx.read()
    order = [(e[1], e[2]) for e in trace.events if e[1] in ("irq", "pinsck")]
    assert order[0] == ("irq", "off") and order[-1] == ("irq", "on"), order[:2] + order[-2:]
    assert irq.depth == 0
    assert trace.of("irq", "on")[0][3] == 7     # the state disable_irq gave is restored


def test_interrupts_come_back_on_when_a_clock_edge_fails():
    trace, chip, irq, hx = _setup(0x400000)

    def broken(level):
        raise OSError("pin gone")
    chip.sck.listener = broken       # the ready check passes, then the first clock edge raises
    expect_raises(OSError, hx.read)
    assert irq.depth == 0 and len(trace.of("irq", "on")) == 1


def test_0x800000_is_the_most_negative_and_0x7fffff_the_most_positive():
    for word, value in ((0x800000, -8388608), (0x7FFFFF, 8388607), (0xFFFFFF, -1), (0, 0)):
        trace, chip, irq, hx = _setup(word)
        assert hx.read() == value, (hex(word), value)


def test_read_waits_for_dout_low_and_gives_up_with_oserror_when_it_stays_high():
    trace, chip, irq, hx = _setup(0x10, ready=False)
    e = expect_raises(OSError, hx.read)
    assert "hx711" in str(e)
    waited_ms = trace.t_us / 1000
    assert hx711.READY_MS <= waited_ms <= hx711.READY_MS + 5, waited_ms
    assert 1 not in trace.values("pinsck"), "no clock sent"


def test_ready_is_dout_low():
    trace, chip, irq, hx = _setup(ready=False)
    assert not hx.ready()
    chip.set_ready(True)
    assert hx.ready()


def test_power_down_holds_sck_high_over_60_us_and_power_up_brings_it_low():
    trace, chip, irq, hx = _setup()
    trace.clear()
    hx.power_down()
    assert hx.sck.value() == 1
    rise = [e[0] for e in trace.of("pinsck", "value") if e[3] == 1][0]
    assert trace.t_us - rise > 60
    hx.power_up()
    assert hx.sck.value() == 0


def test_after_power_up_the_first_read_may_wait_for_the_chip_to_settle():
    trace, chip, irq, hx = _setup(0x10, ready=False)
    hx.power_down()
    hx.power_up()
    t0 = trace.t_us
    expect_raises(OSError, hx.read)
    waited_ms = (trace.t_us - t0) / 1000
    assert waited_ms >= hx711.READY_MS + hx711.WAKE_MS, waited_ms


def test_an_unknown_gain_is_refused():
    trace = Trace()
    chip = FakeHX711(trace)
    expect_raises(ValueError, HX711, chip.sck, chip.dout, 100)
