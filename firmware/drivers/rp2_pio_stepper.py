# Pico (rp2) stepper: STEP pulses from a PIO state machine in counted batches, DIR and ENABLE (active low) on GPIOs.
#
# The PIO times every pulse from its own clock, so garbage collection and the app's loop never
# stretch or squeeze one. step(n) queues: each TX FIFO word is one batch of steps, and the PIO
# pushes one RX word when a batch's last step has risen. emitted() counts those reports, never
# what step() was asked. The driver keeps at most FIFO_DEPTH batches in flight (put and not yet
# reported), so:
#   - sm.put() never blocks: the TX FIFO (4 words) always has room for a new batch;
#   - the RX FIFO (4 words) cannot overflow and the PIO's blocking push never stalls: there are
#     never more finished-but-unread batches than batches in flight.
# Steps beyond that wait in a backlog (a count) and go out on the next step() or emitted() call;
# the app reads emitted() every 250 ms, and a batch lasts at most 1/BATCH_S_DIV s at the top
# rate, so four in flight keep the motor busy for a second between calls.
#
# One word: (D << 16) | (n - 1), with D the step period's delay-loop count (below) and n = 1..65536
# steps; every 32-bit value is a bounded batch, so no word can make the PIO step on and on.
#
# Step timing, in cycles of the state machine's clock (f = sys_hz / div, div a whole divisor of
# the system clock, so every cycle lasts exactly 1/f: a fractional divider would let some cycles
# be a system clock shorter). The two high instructions carry the longest delay there is (15,
# four bits beside the side-set bit), so the high phase is H = 32 cycles:
#   high time = H, low time = D + 6        (a step followed by one of the same batch)
#   high time = H + 1, low time = D + 5    (a batch's last step: the report push is in its high)
#   period P = H + D + 6 either way, also from a batch's last step to the next batch's first
#   when that word is already in the TX FIFO (else the PIO waits at pull, only ever longer).
# plan() picks div and D: f slow enough that 32 cycles cover the chip's high minimum, D + 5
# cycles its low minimum (both with step_timing's margin), and P = ceil(f / max_steps_per_s), so
# the period is never shorter than the board allows and at most one cycle longer.
import time

try:
    from typing_extensions import TYPE_CHECKING  # absent on boards: the except below
except ImportError:
    TYPE_CHECKING = False
if TYPE_CHECKING:
    # the PIO assembler's instruction names, which asm_pio supplies only while it assembles:
    # the type check then checks the program's calls too, against the rp2 stubs
    from rp2.asm_pio import *  # noqa: F403

from drivers.step_timing import ceil_div, check_microsteps, chip_timing, cycles_for_ns
from pump.errors import ConfigError

FIFO_DEPTH = 4          # words in each of a state machine's TX and RX FIFOs (not joined)
BATCH_MAX = 65536       # n - 1 travels in 16 bits
D_MAX = 0xFFFF          # the delay count travels in the other 16
HIGH = 32               # cycles STEP is high: two instructions of 1 + 15 cycles
FIXED_LOW = 6           # cycles of the low phase besides the delay loop's D (see above)
DIV_MAX = 65535         # the PIO clock divider's integer part
PERIOD_TARGET = 4096    # cycles per step to aim for: 1/4096 resolution is plenty, and fewer
                        # cycles keep the delay count small (and the emulator tests fast)
BATCH_S_DIV = 4         # a batch lasts at most 1/4 s at the top rate
FORWARD = 1             # DIR level for delivery; a motor turning the wrong way: swap one coil pair
NO_BATCH = 0xFFFFFFFF   # X when no batch is running (see _program)

_prog = None


def _program():
    """The PIO program, assembled once on first use (rp2 is imported here, not at module load,
    so the module imports on the unix port and in tests)."""
    global _prog
    if _prog is None:
        import rp2

        @rp2.asm_pio(sideset_init=rp2.PIO.OUT_LOW, set_init=rp2.PIO.OUT_LOW,
                     out_shiftdir=rp2.PIO.SHIFT_RIGHT)
        def rp2_pio_steps():
            # X: rises left in this batch minus one, NO_BATCH when none runs; Y: delay counter,
            # ~0 outside the delay loop (what x_not_y compares X with); OSR: D after the out.
            mov(x, invert(null)).side(0)            # no batch yet
            mov(y, invert(null)).side(0)
            wrap_target()
            pull(block).side(0)                     # word: D << 16 | n - 1
            out(x, 16).side(0)                      # X = n - 1, OSR = D
            label("step")
            jmp(x_dec, "high").side(1)[15]          # STEP rises in the cycle X counts it
            label("high")
            jmp(x_not_y, "more").side(1)[15]        # X != ~0: rises left in this batch
            push(block).side(1)                     # the batch's last rise made: report it
            label("more")
            mov(y, osr).side(0)                     # STEP falls; Y = D
            label("low")
            jmp(y_dec, "low").side(0)               # D + 1 cycles; leaves Y = ~0
            jmp(x_not_y, "pad").side(0)             # more steps in this batch
            wrap()
            label("pad")
            jmp("step").side(0)[2]                  # as long as push, pull and out between batches

        _prog = rp2_pio_steps
    return _prog


def rate_fraction(rate):
    """max_steps_per_s as (num, den) steps per den seconds. A fractional rate is rounded DOWN to
    a thousandth: a lower rate only lengthens the period (floats are single precision on rp2)."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate <= 0:
        raise ConfigError([("limits.max_steps_per_s", "must be a number above 0, not %r" % (rate,))])
    if isinstance(rate, int) or rate == int(rate):
        return int(rate), 1
    num = int(rate * 1000)
    if num < 1:
        raise ConfigError([("limits.max_steps_per_s", "below 0.001 steps/s")])
    return num, 1000


def _try(sys_hz, div, num, den, timing):
    # one clock divider: the cycle counts, or None if they do not fit the program
    f = sys_hz // div
    hc = cycles_for_ns(timing["step_high_ns"], f)
    if hc > HIGH:
        return None
    lc = cycles_for_ns(timing["step_low_ns"], f)
    p = ceil_div(f * den, num)
    d = p - HIGH - FIXED_LOW
    if d < 0 or d > D_MAX or d + FIXED_LOW - 1 < lc:
        return None
    return {"div": div, "freq": f, "high": HIGH, "delay": d, "period": p,
            "low_min": d + FIXED_LOW - 1, "high_need": hc, "low_need": lc}


def plan(sys_hz, rate, timing):
    """The state machine's clock and the cycle counts for one step (see the module comment): the
    fastest clock whose step period is at most PERIOD_TARGET cycles, or for rates too slow for
    that, the slowest clock there is. ConfigError if no divider fits the chip and the rate."""
    sys_hz = int(sys_hz)
    num, den = rate_fraction(rate)
    start = ceil_div(sys_hz * den, num * PERIOD_TARGET)
    if start < 1:
        start = 1
    div = start
    while div <= DIV_MAX:
        if sys_hz % div == 0:
            p = _try(sys_hz, div, num, den, timing)
            if p is not None:
                return p
        div += 1
    div = start - 1 if start - 1 < DIV_MAX else DIV_MAX
    while div >= 1:
        if sys_hz % div == 0:
            p = _try(sys_hz, div, num, den, timing)
            if p is not None:
                return p
        div -= 1
    raise ConfigError([("limits.max_steps_per_s",
                        "%s steps/s cannot be timed by the PIO at %d Hz for this chip (high %d ns, "
                        "low %d ns)" % (rate, sys_hz, timing["step_high_ns"], timing["step_low_ns"]))])


def batch_max(rate):
    """Steps per batch: about 1/BATCH_S_DIV s at the top rate, at least 1, at most BATCH_MAX."""
    num, den = rate_fraction(rate)
    b = num // (den * BATCH_S_DIV)
    if b < 1:
        return 1
    return b if b < BATCH_MAX else BATCH_MAX


class Rp2PioStepper:
    """sm: an rp2.StateMachine (not yet initialised); prog: what sm.init takes; step, dir,
    enable: output Pins (step handed to the PIO as its side-set and set pin); timing: the chip's
    minimums (step_timing.chip_timing); sys_hz: the system clock; rate: limits.max_steps_per_s;
    tmc: an optional TMC2209 (drivers/tmc2209.py) configured at each enable."""

    def __init__(self, sm, prog, step, dir, enable, timing, sys_hz, rate, tmc=None):
        self.plan = plan(sys_hz, rate, timing)
        self.batch = batch_max(rate)
        self._sm = sm
        self._prog = prog
        self._step = step
        self._dir = dir
        self._en = enable
        self._tmc = tmc
        # wake and DIR set-up both run from the enable edge; the longer one rules
        self._wake_us = max(timing["wake_us"], ceil_div(timing["dir_setup_ns"], 1000))
        self._word_hi = self.plan["delay"] << 16
        self.enabled = False
        self._started = False   # the state machine has run since the last stop
        self._flight = []       # sizes of the batches put and not yet reported, oldest first
        self._backlog = 0       # steps asked for and not yet put
        self._done = 0          # steps the PIO reported (or, at a stop, left in X: see _settle)
        self.dropped = 0        # steps asked for that a stop (or a disabled motor) threw away
        self._config_fault = None
        self._flags = None
        self._flags_at = None

    # ---- the contract ---------------------------------------------------------------------

    def enable(self):
        """DIR forward and the chip energised, then wait its wake (and DIR set-up) time before
        the state machine may make its first rise. A TMC2209 is configured first: one whose
        configuration is not confirmed is left de-energised (fault() says why)."""
        if self.enabled:
            return
        if self._tmc is not None:
            try:
                self._tmc.apply()
                self._config_fault = None
            except OSError as e:
                self._config_fault = "tmc2209 not configured: %s" % (e,)
                return
        sm = self._sm
        sm.active(0)
        # init clears both FIFOs and starts the program at its first instruction
        sm.init(self._prog, freq=self.plan["freq"], sideset_base=self._step, set_base=self._step)
        # init keeps X from the last run (a restart clears the shift counters, not the scratch
        # registers): set it to NO_BATCH now, so a stop before the program's first instruction
        # cannot read a stale count (the program does the same at its start)
        sm.exec("mov(x, invert(null))")
        self._dir.value(FORWARD)
        self._en.value(0)
        time.sleep_us(self._wake_us)
        self._flight = []
        self._backlog = 0
        self._started = True
        self.enabled = True
        sm.active(1)

    def disable(self):
        """Stop the pulses, STEP low, de-energise; steps still queued are dropped."""
        self.safe_state()

    def safe_state(self):
        """Never raises. The state machine stops first (no rise after this), STEP is forced low,
        then ENABLE goes high; what the PIO emitted is settled after, outside the hurry."""
        self.enabled = False
        sm = self._sm
        try:
            sm.active(0)
        except Exception:
            pass
        try:
            sm.exec("set(pins, 0)")
        except Exception:
            pass
        try:
            # the pin back to plain GPIO, driven low: STEP stays low whatever the PIO holds
            self._step.init(self._step.OUT, value=0)
        except Exception:
            pass
        try:
            self._en.value(1)
        except Exception:
            pass
        try:
            self._settle()
        except Exception:
            pass

    def step(self, n):
        """Queue n forward steps and return at once. Steps while disabled are not kept (a stop
        drops the queue; steps never wait for a later enable)."""
        if n < 0:
            raise ValueError("steps must be >= 0: there is no reverse delivery")
        if not self.enabled:
            self.dropped += n
            return
        self._drain()
        self._backlog += n
        self._feed()

    def emitted(self):
        """Steps whose rising edge left the STEP pin since boot, as the PIO reported them."""
        if self.enabled:
            self._drain()
            self._feed()
        return self._done

    def fault(self):
        """None, or what is wrong with the driver chip: a TMC2209 configuration not confirmed,
        or its fault flags (read over the UART at most once a second)."""
        if self._config_fault is not None:
            return self._config_fault
        if self._tmc is None:
            return None
        now = time.ticks_ms()
        if self._flags_at is None or time.ticks_diff(now, self._flags_at) >= 1000:
            self._flags_at = now
            try:
                self._flags = self._tmc.fault()
            except OSError as e:
                self._flags = "tmc2209 not answering: %s" % (e,)
        return self._flags

    # ---- the FIFOs ------------------------------------------------------------------------

    def _drain(self):
        # one RX word per finished batch, in the order the batches were put
        sm = self._sm
        while sm.rx_fifo():
            sm.get()
            if not self._flight:
                raise OSError("the PIO reported a batch that was never queued")
            self._done += self._flight.pop(0)

    def _feed(self):
        sm = self._sm
        while self._backlog and len(self._flight) < FIFO_DEPTH and sm.tx_fifo() < FIFO_DEPTH:
            k = self._backlog if self._backlog < self.batch else self.batch
            sm.put(self._word_hi | (k - 1))
            self._flight.append(k)
            self._backlog -= k

    def _settle(self):
        # After a stop: count the finished batches, then the rises of the one that was running,
        # read from X. X = NO_BATCH means none was running, or the last rise was made and its
        # push not yet: counted as none (the count may fall short here, it never runs over).
        if not self._started:
            return
        self._started = False
        sm = self._sm
        self._drain()
        rose = 0
        if self._flight:
            sm.exec("mov(isr, x)")
            sm.exec("push(noblock)")
            if sm.rx_fifo():
                x = sm.get() & 0xFFFFFFFF
                if x != NO_BATCH and x < self._flight[0]:
                    rose = self._flight[0] - 1 - x
        self._done += rose
        self.dropped -= rose
        for k in self._flight:
            self.dropped += k
        self.dropped += self._backlog
        self._flight = []
        self._backlog = 0


def _int_option(spec, key, lo, hi, default):
    v = spec.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo or v > hi:
        raise ConfigError([("drivers.motor.%s" % key, "must be an integer from %d to %d, not %r"
                            % (lo, hi, v))])
    return v


def build(spec, cfg):
    """DRIVER(spec, cfg): options checked, pins made (STEP low, DIR forward, ENABLE high: off),
    the state machine taken but not started."""
    from drivers.pins import output_pin
    timing = chip_timing(spec.get("chip"))
    chip = spec["chip"]
    tmc = None
    uart = chip == "tmc2209" and spec.get("uart_id") is not None
    check_microsteps(chip, spec.get("microsteps"), uart=uart)
    sm_id = _int_option(spec, "sm", 0, 7, 0)
    rate = cfg.get("limits", {}).get("max_steps_per_s", 200)
    import machine
    sys_hz = machine.freq()
    plan(sys_hz, rate, timing)       # refuse an impossible rate before touching a pin
    if uart:
        from drivers import tmc2209
        tmc = tmc2209.from_spec(spec, cfg)
    enable = output_pin(spec, cfg, "enable_pin", value=1)
    step = output_pin(spec, cfg, "step_pin", value=0)
    dir = output_pin(spec, cfg, "dir_pin", value=FORWARD)
    import rp2
    return Rp2PioStepper(rp2.StateMachine(sm_id), _program(), step, dir, enable, timing,
                         sys_hz, rate, tmc)


DRIVER = build
