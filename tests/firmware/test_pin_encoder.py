# Pin encoder: edges of A counted in an allocation-free IRQ, direction from B, steps rounded down, bad options refused.
import fake_machine
from fake_machine import Pin, Trace
from hard_irq import call_hard

from drivers import pin_encoder as mod
from drivers.stepper_options import COUNT_MASK
from driver_checks import expect_config_error


def make(b=True, num=1, den=1):
    tr = Trace()
    a = Pin(10, Pin.IN, trace=tr)
    bp = Pin(11, Pin.IN, trace=tr) if b else None
    return mod.PinEncoder(a, bp, num, den), a, bp


def edges(enc, a, n):
    for _ in range(n):
        call_hard(enc._edge_cb, a)


def test_without_b_every_rising_edge_of_a_counts_forward():
    enc, a, _ = make(b=False, num=3)
    assert a.trigger == Pin.IRQ_RISING
    edges(enc, a, 30)
    assert enc.read_steps() == 10


def test_with_b_low_at_a_rising_edge_is_forward_and_b_high_is_backward():
    enc, a, b = make()
    b.set_input(0)
    edges(enc, a, 10)
    b.set_input(1)
    edges(enc, a, 4)
    assert enc.read_counts() == 6
    assert enc.read_steps() == 6


def test_turning_back_shows_as_negative_progress():
    enc, a, b = make(num=2)
    b.set_input(1)
    edges(enc, a, 5)
    assert enc.read_counts() == -5
    assert enc.read_steps() == -3               # rounded down: a part step back is a step back


def test_read_steps_rounds_a_part_step_forward_down():
    enc, a, b = make(num=4)
    edges(enc, a, 7)
    assert enc.read_steps() == 1
    edges(enc, a, 1)
    assert enc.read_steps() == 2


def test_an_encoder_coarser_than_the_microsteps_scales_by_its_fraction():
    # 1000 counts a turn against 200 x 16 microsteps: 5/16 counts a step
    enc, a, b = make(num=5, den=16)
    edges(enc, a, 1000)
    assert enc.read_steps() == 3200


def test_the_irq_allocates_nothing_and_the_count_survives_its_wrap_both_ways():
    enc, a, b = make()
    enc._count = enc._seen = COUNT_MASK - 1
    edges(enc, a, 5)                            # wraps forward
    assert enc.read_counts() == 5
    b.set_input(1)
    edges(enc, a, 12)                           # and back through the wrap
    assert enc.read_counts() == -7


BOARD = {"pins": {"enc_a": 20, "enc_b": 21}, "limits": {"max_steps_per_s": 200}}


def build(s, cfg=BOARD):
    tr = Trace()
    fake_machine.install(tr)
    try:
        return mod.DRIVER(s, cfg), tr
    finally:
        fake_machine.uninstall()


def test_build_wires_a_and_b_from_the_pins_table_with_a_fraction_per_step():
    enc, tr = build({"kind": "pin_encoder", "a_pin": "enc_a", "b_pin": "enc_b",
                     "counts_per_step": 0.3125})
    assert (enc._num, enc._den) == (5, 16)
    assert enc._a.id == 20 and enc._b.id == 21
    assert enc._a.pull == Pin.PULL_UP
    enc._b.set_input(0)
    enc._a.fire(10)
    assert enc.read_steps() == 32


def test_build_without_b_counts_forward_only():
    enc, tr = build({"kind": "pin_encoder", "a_pin": "enc_a", "counts_per_step": 2})
    assert enc._b is None
    enc._a.fire(9)
    assert enc.read_steps() == 4


def test_build_refuses_bad_options_naming_them():
    base = {"kind": "pin_encoder", "a_pin": "enc_a"}
    for bad in (0, -2, "4", True):
        s = dict(base)
        s["counts_per_step"] = bad
        expect_config_error(lambda: build(s), "drivers.encoder.counts_per_step")
    expect_config_error(lambda: build(base), "drivers.encoder.counts_per_step")
