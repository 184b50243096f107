# Fake chips behind fake_machine's pins and UART for the io drivers' tests: a TMC2209 and an HX711.
#
# They are written from the datasheets, not from the drivers: the TMC2209's CRC is a polynomial
# long division over the frame's bits, the HX711 shifts its word out on SCK's rising edges.
import fake_machine
from fake_machine import Pin


def crc8_by_division(data):
    """CRC8 of the TMC2209 as plain polynomial arithmetic: each byte's bits least significant
    first make one long binary number M; the CRC is M * x^8 mod (x^8 + x^2 + x + 1)."""
    m = 0
    for b in data:
        for i in range(8):
            m = (m << 1) | ((b >> i) & 1)
    m <<= 8
    while _bits(m) > 8:
        m ^= 0x107 << (_bits(m) - 9)
    return m


def _bits(m):
    n = 0
    while m:
        m >>= 1
        n += 1
    return n


class FakeTMC2209:
    """Answers read requests and takes writes like the chip: IFCNT counts the accepted writes.

    echo: the single wire reads back every byte sent. ignore_writes: writes are dropped (a
    chip that never hears them). bad_crc: the next n replies carry a wrong CRC. silent: no reply.
    """

    def __init__(self, address=0, echo=True):
        self.address = address
        self.echo = echo
        self.regs = {0x00: 0x101, 0x01: 0x1, 0x02: 0, 0x6C: 0x10000053, 0x6F: 0}
        self.ignore_writes = False
        self.bad_crc = 0
        self.silent = False
        self.writes = []           # (reg, value) taken

    def respond(self, buf):
        out = bytearray(buf) if self.echo else bytearray()
        if len(buf) == 8 and buf[0] == 0x05 and buf[2] & 0x80:
            if buf[1] == self.address and crc8_by_division(buf[:7]) == buf[7] \
                    and not self.ignore_writes:
                reg = buf[2] & 0x7F
                value = (buf[3] << 24) | (buf[4] << 16) | (buf[5] << 8) | buf[6]
                self.writes.append((reg, value))
                if reg == 0x01:
                    self.regs[0x01] &= ~value       # GSTAT: write 1 to clear
                else:
                    self.regs[reg] = value
                self.regs[0x02] = (self.regs[0x02] + 1) & 0xFF
        elif len(buf) == 4 and buf[0] == 0x05 and buf[1] == self.address \
                and crc8_by_division(buf[:3]) == buf[3] and not self.silent:
            v = self.regs.get(buf[2], 0)
            reply = bytearray((0x05, 0xFF, buf[2], (v >> 24) & 0xFF, (v >> 16) & 0xFF,
                               (v >> 8) & 0xFF, v & 0xFF))
            crc = crc8_by_division(reply)
            if self.bad_crc > 0:
                self.bad_crc -= 1
                crc ^= 0x5A
            reply.append(crc)
            out += reply
        return bytes(out)

    def uart(self, trace):
        return fake_machine.UART(1, trace=trace, responder=self.respond)


class ClockPin(Pin):
    """An output pin that tells a listener of each change it is driven to."""

    def __init__(self, id, trace, listener):
        self.listener = listener
        Pin.__init__(self, id, Pin.OUT, trace=trace, value=0)

    def value(self, v=None):
        if v is None:
            return self._value
        old = self._value
        Pin.value(self, v)
        if self._value != old and getattr(self, "listener", None) is not None:
            self.listener(self._value)


class FakeHX711:
    """Shifts a 24-bit word out MSB first, a bit on each SCK rising edge, then counts the extra
    clocks that pick the next gain. DOUT is low while a conversion is ready (ready=True)."""

    def __init__(self, trace, word=0, ready=True):
        self.trace = trace
        self.word = word & 0xFFFFFF
        self.dout = Pin("dout", Pin.IN, trace=trace)
        self.sck = ClockPin("sck", trace, self.edge)
        self.clocks = 0
        self.gain_pulses = []      # pulses of each finished read
        self.set_ready(ready)

    def set_ready(self, ready):
        self.clocks = 0
        self.converted = ready
        self.dout.set_input(0 if ready else 1)

    def edge(self, level):
        if level != 1 or not self.converted:
            return      # no word waiting: a clock shifts nothing out
        self.clocks += 1
        if self.clocks <= 24:
            self.dout.set_input((self.word >> (24 - self.clocks)) & 1)
        else:
            # the 25th clock and on: DOUT goes high until the next conversion
            self.dout.set_input(1)

    def finish(self):
        """The conversion ends: record the clocks the driver gave, and be ready again."""
        self.gain_pulses.append(self.clocks)
        self.set_ready(True)


class FakeIrq:
    """machine.disable_irq/enable_irq that mark the trace, to see what ran with IRQs off."""

    def __init__(self, trace):
        self.trace = trace
        self.depth = 0

    def disable_irq(self):
        self.trace.log("irq", "off")
        self.depth += 1
        return 7

    def enable_irq(self, state):
        self.trace.log("irq", "on", state)
        self.depth -= 1


def high_times_us(trace, name):
    """The duration of every high pulse a pin was driven to, from its trace."""
    out = []
    rise = None
    for t, _src, _what, v in trace.of(name, "value"):
        if v == 1 and rise is None:
            rise = t
        elif v == 0 and rise is not None:
            out.append(t - rise)
            rise = None
    return out
