# HX711 24-bit load-cell ADC, bit-banged: SCK clocks the word out, extra clocks pick the next gain.
#
# Datasheet timing: SCK high and low at least 0.2 us; SCK high for more than 60 us powers the
# chip down, so a high pulse must stay well under that (we allow it 50 us). An interrupt taken
# between the rising and falling edge would stretch the pulse, so the clocks run with IRQs off:
# about 25 x (2 pin writes + 2 us) = well under 1 ms on an RP2040.
import time

# clocks after the 24 data bits: 1 -> channel A gain 128, 2 -> channel B gain 32, 3 -> A gain 64
GAIN_PULSES = {128: 1, 32: 2, 64: 3}
READY_MS = 200             # 10 samples/s (RATE pin low) gives a word every 100 ms
POWER_DOWN_US = 80         # > 60 us of SCK high
WAKE_MS = 450              # the first word after power-up settles for 400 ms at 10 samples/s


def _machine():
    try:
        import machine
        if hasattr(machine, "disable_irq"):
            return machine
    except ImportError:
        pass
    return None


class HX711:
    """sck: an output Pin, dout: an input Pin. gain: the gain (and channel) of the conversion
    after each read; the chip starts at channel A, gain 128, so the first read after power-up
    or a gain change is at the previous gain. irq: an object with disable_irq/enable_irq
    (machine by default; None on a port without them)."""

    def __init__(self, sck, dout, gain=128, irq="machine", ready_ms=READY_MS):
        if gain not in GAIN_PULSES:
            raise ValueError("gain: must be 128, 64 (channel A) or 32 (channel B)")
        self.sck = sck
        self.dout = dout
        self.pulses = GAIN_PULSES[gain]
        self.irq = _machine() if irq == "machine" else irq
        self.ready_ms = ready_ms
        self._extra_ms = 0         # WAKE_MS after power_up(), until a word has come
        sck.value(0)

    def ready(self):
        """A conversion is waiting: DOUT low."""
        return self.dout.value() == 0

    def wait_ready(self):
        limit = self.ready_ms + self._extra_ms
        t0 = time.ticks_ms()
        while self.dout.value():
            if time.ticks_diff(time.ticks_ms(), t0) > limit:
                raise OSError("hx711: no conversion within %d ms (DOUT stays high: chip "
                              "unpowered, powered down or unwired)" % limit)
            time.sleep_ms(1)
        self._extra_ms = 0

    def read(self):
        """The next conversion as a signed 24-bit count (-8388608 .. 8388607). Waits at most
        ready_ms for it (OSError after)."""
        self.wait_ready()
        sck = self.sck
        dout = self.dout
        sleep_us = time.sleep_us
        irq = self.irq
        state = irq.disable_irq() if irq is not None else None
        try:
            v = 0
            for _ in range(24):
                sck.value(1)
                sleep_us(1)
                sck.value(0)
                v = (v << 1) | dout.value()
                sleep_us(1)
            for _ in range(self.pulses):
                sck.value(1)
                sleep_us(1)
                sck.value(0)
                sleep_us(1)
        finally:
            if irq is not None:
                irq.enable_irq(state)
        if v & 0x800000:
            v -= 0x1000000
        return v

    def power_down(self):
        """Sleep (about 1 uA): SCK held high past 60 us. The chip stays down while SCK is high."""
        self.sck.value(0)
        self.sck.value(1)
        time.sleep_us(POWER_DOWN_US)

    def power_up(self):
        """Wake: SCK low. The chip resets to channel A gain 128; its first word takes a settling
        time (400 ms at 10 samples/s), so the next read may wait WAKE_MS longer for it."""
        self.sck.value(0)
        self._extra_ms = WAKE_MS
