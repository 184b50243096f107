# Shaft encoder on GPIO interrupts: edges of A counted in a hard IRQ, direction from B's level when B is wired.
#
# With B, this is x1 quadrature decoding: at each rising edge of A, B low means forward (A leads
# B) and B high means backward. A shaft that turns back shows as negative progress, so the stall
# check cannot mistake rocking for delivery. If forward reads negative, swap a_pin and b_pin.
# Without B every edge counts forward (a single-channel tach cannot tell direction).
#
# The IRQ handler allocates nothing: a preallocated bound method, a pin read and a small int
# wrapped below 2**29; read_steps() unwraps it in the main context.
from drivers.stepper_options import COUNT_MASK, ratio, unwrap


class PinEncoder:
    """a, b: input Pins (b may be None); A rising edges per motor step = num / den (an encoder
    coarser than the microsteps has fewer than one count per step: 1000 counts a turn against
    3200 microsteps is 5 / 16)."""

    def __init__(self, a, b, num, den=1):
        self._a = a
        self._b = b
        self._num = num
        self._den = den
        self._count = 0
        self._total = 0
        self._seen = 0
        self._edge_cb = self._edge_ab if b is not None else self._edge_a
        try:
            a.irq(handler=self._edge_cb, trigger=a.IRQ_RISING, hard=True)
        except TypeError:       # a port whose pin IRQs take no hard=
            a.irq(handler=self._edge_cb, trigger=a.IRQ_RISING)

    def _edge_a(self, pin):
        self._count = (self._count + 1) & COUNT_MASK

    def _edge_ab(self, pin):
        if self._b.value():
            self._count = (self._count - 1) & COUNT_MASK
        else:
            self._count = (self._count + 1) & COUNT_MASK

    def read_counts(self):
        """Signed encoder counts since boot."""
        self._total, self._seen = unwrap(self._total, self._seen, self._count)
        return self._total

    def read_steps(self):
        """The rotor's position in motor steps since boot, rounded down (towards minus infinity):
        a partial step forward does not count yet, a partial step back already counts as one."""
        return self.read_counts() * self._den // self._num


def build(spec, cfg):
    num, den = ratio(spec, "encoder", "counts_per_step", 100000)
    from drivers.pins import input_pin
    a = input_pin(spec, cfg, "a_pin", pull="up")
    b = input_pin(spec, cfg, "b_pin", pull="up", required=False)
    return PinEncoder(a, b, num, den)


DRIVER = build
