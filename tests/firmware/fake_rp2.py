# Fake rp2 module (PIO constants, a recording StateMachine, asm_pio) and a machine with freq(), for the Pico stepper's tests on both runtimes.
#
# The StateMachine does not run the program (tests/host runs the real one in an emulator): it
# keeps bounded FIFOs like the hardware's, logs every call on the shared fake_machine Trace, and
# lets a test play the PIO's part: finish(k) takes k batches from TX and reports them on RX,
# x is what `mov(isr, x)` would read at a stop.
import sys

import fake_machine

FIFO = 4


class PIO:
    IN_LOW = 0
    IN_HIGH = 1
    OUT_LOW = 2
    OUT_HIGH = 3
    SHIFT_LEFT = 0
    SHIFT_RIGHT = 1
    JOIN_NONE = 0
    JOIN_TX = 1
    JOIN_RX = 2
    IRQ_SM0 = 0x100


class FakeProgram:
    """What the fake asm_pio returns: the DSL function (never run here) and its options."""

    def __init__(self, fn, options):
        self.fn = fn
        self.options = options


def asm_pio(**options):
    def decorate(fn):
        return FakeProgram(fn, options)
    return decorate


class StateMachine:
    def __init__(self, id, prog=None, trace=None, **kw):
        self.id = id
        self.trace = trace if trace is not None else fake_machine.default_trace
        self.tx = []
        self.rx = []
        self.running = False
        self.inits = []
        self.execs = []
        self.x = 0xFFFFFFFF
        self.isr = 0
        self.fail = None        # a method name that raises (safe_state must not)
        if prog is not None:
            self.init(prog, **kw)

    def _log(self, what, value=None):
        if self.fail == what:
            raise OSError("fake state machine: %s failed" % what)
        self.trace.log("sm%d" % self.id, what, value)

    def init(self, prog, freq=-1, **kw):
        self._log("init", freq)
        self.inits.append((prog, freq, kw))
        # as pio_sm_init: stopped, FIFOs cleared, back to the program's first instruction
        # X is left alone: a restart clears the shift counters, not the scratch registers
        self.running = False
        self.tx = []
        self.rx = []

    def active(self, v=None):
        if v is None:
            return 1 if self.running else 0
        self._log("active", 1 if v else 0)
        self.running = bool(v)

    def put(self, word, shift=0):
        self._log("put", word)
        if len(self.tx) >= FIFO:
            # the real put() would block the caller until the PIO pulls: a driver bug here
            raise RuntimeError("put() on a full TX FIFO would block")
        self.tx.append(word & 0xFFFFFFFF)

    def get(self, buf=None, shift=0):
        self._log("get")
        if not self.rx:
            raise RuntimeError("get() on an empty RX FIFO would block")
        return self.rx.pop(0)

    def exec(self, instr):
        self._log("exec", instr)
        self.execs.append(instr)
        if instr == "mov(x, invert(null))":
            self.x = 0xFFFFFFFF
        elif instr == "mov(isr, x)":
            self.isr = self.x
        elif instr == "push(noblock)":
            if len(self.rx) < FIFO:
                self.rx.append(self.isr)
            self.isr = 0

    def tx_fifo(self):
        return len(self.tx)

    def rx_fifo(self):
        return len(self.rx)

    # ---- the PIO's part, played by the test -------------------------------------------------

    def finish(self, k=1):
        """The PIO pulls k batches from TX, makes all their steps and reports each on RX."""
        for _ in range(k):
            if not self.tx:
                raise RuntimeError("no batch to finish")
            if len(self.rx) >= FIFO:
                raise RuntimeError("RX FIFO full: the PIO's push would stall")
            self.tx.pop(0)
            self.rx.append(0)
        self.x = 0xFFFFFFFF

    def start_next(self, rises):
        """The PIO pulls the next batch and makes `rises` of its steps (X counts them)."""
        word = self.tx.pop(0)
        self.x = ((word & 0xFFFF) - rises) & 0xFFFFFFFF


class FakeMachine:
    """`machine` for the driver's factory: fake_machine's classes plus freq()."""

    def __init__(self, hz=125000000):
        self.hz = hz
        self.Pin = fake_machine.Pin
        self.UART = fake_machine.UART

    def freq(self):
        return self.hz


def install(hz=125000000, trace=None):
    """Register this module as `rp2` and a FakeMachine as `machine`; uninstall() removes both."""
    if trace is not None:
        fake_machine.default_trace = trace
    m = FakeMachine(hz)
    sys.modules["machine"] = m
    sys.modules["rp2"] = sys.modules[__name__]
    return m


def uninstall():
    if isinstance(sys.modules.get("machine"), FakeMachine):
        del sys.modules["machine"]
    if sys.modules.get("rp2") is sys.modules[__name__]:
        del sys.modules["rp2"]
