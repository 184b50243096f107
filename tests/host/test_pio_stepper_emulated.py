# The Pico stepper's real PIO program, assembled from the driver and run in rp2040-pio-emulator with the words the driver puts: pulse widths, period, DIR set-up, exact counts.

import importlib.util
import os
import sys
import types
from collections import deque

import fake_rp2
import pio_asm
import pytest
from drivers.step_timing import chip_timing, cycles_for_ns
from fake_machine import FakeTime, Pin, Trace
from pioemu import State, emulate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRIVER_PATH = os.path.join(ROOT, "firmware", "drivers", "rp2_pio_stepper.py")
SYS_HZ = 125000000
STEP, DIR, EN = 2, 3, 4
CHIPS = ("a4988", "drv8825", "tmc2209")
FAST = 100000       # steps/s for the count tests: short periods keep the emulation quick


def load_driver():
    """The driver module loaded afresh, its program assembled by pio_asm through a fake rp2
    (a private module name, so the firmware tests' copy and its cached program are untouched)."""
    spec = importlib.util.spec_from_file_location("rp2_pio_stepper_emulated", DRIVER_PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rp2 = types.ModuleType("rp2")
    rp2.PIO = fake_rp2.PIO
    rp2.asm_pio = pio_asm.asm_pio
    old = sys.modules.get("rp2")
    sys.modules["rp2"] = rp2
    try:
        prog = mod._program()
    finally:
        if old is None:
            del sys.modules["rp2"]
        else:
            sys.modules["rp2"] = old
    return mod, prog


MOD, PROG = load_driver()


def make_driver(chip, rate):
    """The real driver on a recording state machine: what it puts is what the emulator runs."""
    t = Trace()
    MOD.time = FakeTime(t)
    sm = fake_rp2.StateMachine(0, trace=t)
    m = MOD.Rp2PioStepper(sm, PROG, Pin(STEP, Pin.OUT, value=0, trace=t),
                          Pin(DIR, Pin.OUT, value=0, trace=t), Pin(EN, Pin.OUT, value=1, trace=t),
                          chip_timing(chip), SYS_HZ, rate)
    return m, sm, t


class Run:
    """The program emulated from activation: STEP edges (cycle, level), the RX words, the end
    state. Words are offered the way the TX FIFO holds them: `feed` is called when the FIFO has
    room, so the driver's later puts arrive as they would."""

    def __init__(self, words, cycles, dir_level=1, stop_after_rises=None):
        self.edges = []
        self.rx = []
        tx = deque(words)
        pins = dir_level << DIR
        # X as the driver's exec leaves it before active(1); Y as a stale earlier run might
        state = State(transmit_fifo=tx, pin_values=pins, pin_directions=(1 << STEP) | (1 << DIR),
                      x_register=MOD.NO_BATCH, y_register=5)
        rises = [0]

        def stop(_op, s):
            if stop_after_rises is not None and rises[0] >= stop_after_rises:
                return True
            return s.clock >= cycles

        after = state
        self.dir_changes = 0
        for before, after in emulate(PROG.opcodes, stop_when=stop, initial_state=state,
                                     side_set_base=STEP, set_base=STEP, set_count=1,
                                     **PROG.emulate_args()):
            b = (before.pin_values >> STEP) & 1
            a = (after.pin_values >> STEP) & 1
            if a != b:
                self.edges.append((before.clock, a))
                if a:
                    rises[0] += 1
            if (before.pin_values ^ after.pin_values) & (1 << DIR):
                self.dir_changes += 1
        self.end = after
        self.rx = list(after.receive_fifo)

    def rises(self):
        return [c for c, v in self.edges if v == 1]

    def highs(self):
        out = []
        up = None
        for c, v in self.edges:
            if v:
                up = c
            elif up is not None:
                out.append(c - up)
        return out

    def lows(self):
        out = []
        down = None
        for c, v in self.edges:
            if not v:
                down = c
            elif down is not None:
                out.append(c - down)
        return out


def driver_words(m, sm, n):
    m.enable()
    m.step(n)
    return [w for w in sm.tx]


def test_the_program_fits_and_wraps_as_the_driver_assumes():
    assert len(PROG.opcodes) <= 32
    assert PROG.sideset_count == 1
    assert PROG.labels["step"] < PROG.wrap <= len(PROG.opcodes) - 1
    # the two high instructions carry delay 15, the most a 1-bit side-set leaves
    for at in (PROG.labels["step"], PROG.labels["high"]):
        assert (PROG.opcodes[at] >> 8) & 0x0F == 15 and (PROG.opcodes[at] >> 12) & 1 == 1


@pytest.mark.parametrize("chip", CHIPS)
@pytest.mark.parametrize("rate", (1, 50, 200))
def test_pulses_meet_the_chip_minimums_and_the_period_matches_the_rate(chip, rate):
    m, sm, t = make_driver(chip, rate)
    p = m.plan
    f = p["freq"]
    words = driver_words(m, sm, 3)       # at 1 step/s a batch is 1 step: 3 batches, 3 words
    run = Run(words, 3 * p["period"] + 64)
    timing = chip_timing(chip)
    rises = run.rises()
    assert len(rises) == 3, run.edges
    for h in run.highs():
        assert h * 1000000000 >= timing["step_high_ns"] * f, (h, f)
        assert h >= cycles_for_ns(timing["step_high_ns"], f)
    for lo in run.lows():
        assert lo * 1000000000 >= timing["step_low_ns"] * f, (lo, f)
        assert lo >= cycles_for_ns(timing["step_low_ns"], f)
    for a, b in zip(rises, rises[1:]):
        period = b - a
        # never closer than 1 / max_steps_per_s, and within one cycle of it
        assert period * rate >= f, (period, f, rate)
        assert (period - 1) * rate < f, (period, f, rate)
    assert run.dir_changes == 0


@pytest.mark.parametrize("chip", CHIPS)
def test_dir_is_stable_for_the_set_up_time_before_the_first_rise(chip):
    m, sm, t = make_driver(chip, 200)
    m.enable()
    # the driver's own sequence: DIR forward (fake pin trace), then the wait, then active(1)
    dir_at = [e[0] for e in t.of("pin%d" % DIR, "value")][-1]
    run_at = [e[0] for e in t.of("sm0", "active") if e[3] == 1][-1]
    m.step(1)
    run = Run(list(sm.tx), m.plan["period"])
    first_rise_ns = run.rises()[0] * 1000000000 // m.plan["freq"]
    setup_ns = (run_at - dir_at) * 1000 + first_rise_ns
    assert setup_ns >= chip_timing(chip)["dir_setup_ns"]
    assert (run_at - dir_at) >= chip_timing(chip)["wake_us"]


@pytest.mark.parametrize("microsteps", (8, 16))
@pytest.mark.parametrize("chip", CHIPS)
def test_the_factory_s_words_for_each_microstep_setting_time_the_same(chip, microsteps):
    spec = {"kind": "rp2_pio_stepper", "step_pin": "s", "dir_pin": "d", "enable_pin": "e",
            "chip": chip, "microsteps": microsteps}
    cfg = {"pins": {"s": STEP, "d": DIR, "e": EN}, "limits": {"max_steps_per_s": 50},
           "drivers": {"motor": spec}}
    t = Trace()
    fake_rp2.install(trace=t)
    try:
        MOD.time = FakeTime(t)
        m = MOD.DRIVER(spec, cfg)
    finally:
        fake_rp2.uninstall()
    words = driver_words(m, m._sm, 2)
    run = Run(words, 2 * m.plan["period"] + 64)
    rises = run.rises()
    assert len(rises) == 2
    assert (rises[1] - rises[0]) * 50 >= m.plan["freq"]
    assert min(run.highs()) * 1000000000 >= chip_timing(chip)["step_high_ns"] * m.plan["freq"]


@pytest.mark.parametrize("chip", CHIPS)
def test_exact_step_counts_and_one_report_per_batch(chip):
    m, sm, t = make_driver(chip, FAST)
    p = m.plan
    m.enable()
    for n in (1, 7, 100):
        m.step(n)
    words = list(sm.tx)
    assert [(w & 0xFFFF) + 1 for w in words] == [1, 7, 100]
    run = Run(words, 110 * p["period"] + 64)
    assert len(run.rises()) == 108
    assert len(run.rx) == 3
    # STEP ends low, the PIO waits for more at pull with X saying no batch runs
    assert run.edges[-1][1] == 0
    assert run.end.x_register == MOD.NO_BATCH
    # hand the PIO's reports to the driver: emitted() is what the pins did
    sm.tx = []
    sm.rx = list(run.rx)
    assert m.emitted() == 108


@pytest.mark.parametrize("chip", CHIPS)
def test_back_to_back_batches_keep_the_period(chip):
    m, sm, t = make_driver(chip, FAST)
    m.enable()
    m.step(2)
    m.step(1)
    m.step(3)
    run = Run(list(sm.tx), 7 * m.plan["period"] + 64)
    rises = run.rises()
    assert len(rises) == 6
    periods = set(b - a for a, b in zip(rises, rises[1:]))
    assert periods == {m.plan["period"]}, periods


def test_a_stop_mid_batch_counts_exactly_the_rises_the_pins_made():
    m, sm, t = make_driver("a4988", FAST)
    m.enable()
    m.step(10)
    words = list(sm.tx)
    for made in (1, 4, 9):
        # stop the emulation right after the made-th rise, as safe_state's active(0) would
        run = Run(words, 10 ** 6, stop_after_rises=made)
        assert len(run.rises()) == made
        m2, sm2, _ = make_driver("a4988", FAST)
        m2.enable()
        m2.step(10)
        sm2.tx.pop(0)                      # the PIO had pulled it
        sm2.x = run.end.x_register         # what mov(isr, x) reads at the stop
        sm2.rx = list(run.rx)
        m2.safe_state()
        assert m2.emitted() == made, (made, run.end.x_register)
        assert m2.dropped == 10 - made


def test_a_stop_at_any_instruction_never_counts_a_rise_not_made():
    m, sm, t = make_driver("tmc2209", FAST)
    m.enable()
    m.step(3)
    m.step(2)
    words = list(sm.tx)
    # one run, every state the state machine passes through: a stop can land on any of them
    state = State(transmit_fifo=deque(words), x_register=MOD.NO_BATCH)
    made = 0
    stops = []
    for before, after in emulate(PROG.opcodes, stop_when=lambda _op, s: s.clock > 6 * m.plan["period"],
                                 initial_state=state, side_set_base=STEP, set_base=STEP, set_count=1,
                                 **PROG.emulate_args()):
        if (after.pin_values >> STEP) & 1 and not (before.pin_values >> STEP) & 1:
            made += 1
        stops.append((after, made))
    short = 0
    for after, made in stops:
        m2, sm2, _ = make_driver("tmc2209", FAST)
        m2.enable()
        m2.step(3)
        m2.step(2)
        sm2.x = after.x_register           # what mov(isr, x) reads at the stop
        sm2.rx = list(after.receive_fifo)
        m2.safe_state()
        assert m2.emitted() <= made, (after, m2.emitted(), made)
        assert m2.emitted() + m2.dropped == 5
        if m2.emitted() < made:
            # only in the documented window: the batch's last rise made, its report not yet
            assert after.x_register == MOD.NO_BATCH, after
            short += 1
    assert made == 5
    assert short <= 2 * 2       # the two high instructions of each batch's last step
