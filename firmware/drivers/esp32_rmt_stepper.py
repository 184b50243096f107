# ESP32 stepper: STEP pulses timed by the RMT peripheral in bounded batches, DIR and ENABLE (active low) on GPIOs.
#
# The RMT times every pulse in hardware, so garbage collection and the app's loop never stretch
# or squeeze one. A step(n) is queued: one RMT write of at most `batch` pulses is in flight, the
# rest waits in a backlog (a count, not a buffer) and is written when the RMT reports the last
# write done, on the next step() or emitted(). Writes come from tuples built once at start (one
# per power of two up to the batch), so no call allocates in proportion to n.
import time

from drivers.stepper_options import ceil_div, number, step_period_ns, stepper_chip

SOURCE_HZ = 80000000    # the RMT's APB source clock on every ESP32 MicroPython supports
PULSE_MAX = 32767       # an RMT duration is 15 bits
FORWARD = 1             # DIR level for delivery; a motor that turns the wrong way: swap one coil pair
BATCH_MIN = 8
BATCH_MAX = 256         # 2 x 255 preallocated durations, about 2 KB


def rmt_ticks(period_ns, high_ns, low_ns, source_hz=SOURCE_HZ):
    """(clock_div, high_ticks, low_ticks): the finest RMT resolution whose 15-bit durations hold
    one step. Every duration is rounded up: no pulse shorter, no period closer than asked."""
    for div in range(1, 256):
        unit = div * 1000000000     # ns x source_hz / unit = ticks of div / source_hz seconds
        high = max(1, ceil_div(high_ns * source_hz, unit))
        low = max(1, ceil_div(low_ns * source_hz, unit), ceil_div(period_ns * source_hz, unit) - high)
        if high <= PULSE_MAX and low <= PULSE_MAX:
            return div, high, low
    return None


def batch_for(max_steps_per_s):
    """Pulses per RMT write: a power of two covering about 250 ms at the top rate, so a loop pass
    every 250 ms keeps the motor at full speed; within BATCH_MIN..BATCH_MAX."""
    b = BATCH_MIN
    while b < BATCH_MAX and b < max_steps_per_s / 4:
        b *= 2
    return b


class RmtStepper:
    """new_rmt(clock_div) returns an RMT channel bound to the STEP pin (made at each enable: a
    stop releases it). step, dir and enable are output Pins."""

    def __init__(self, new_rmt, step, dir, enable, timing, period_ns, batch=64, source_hz=SOURCE_HZ):
        ticks = rmt_ticks(period_ns, timing["step_high_ns"], timing["step_low_ns"], source_hz)
        if ticks is None:
            from pump.errors import ConfigError
            raise ConfigError([("limits.max_steps_per_s", "too low for the RMT: one step must fit "
                                "32767 ticks of 255/80 MHz (at least 10 steps/s)")])
        self.clock_div, self.high_ticks, self.low_ticks = ticks
        tick_ns = self.clock_div * 1000000000 / source_hz
        self.period_ns = int((self.high_ticks + self.low_ticks) * tick_ns)
        self._new_rmt = new_rmt
        self._step = step
        self._dir = dir
        self._en = enable
        # wake and DIR set-up both run from the enable edge; the longer one rules
        self._wake_us = max(timing["wake_us"], ceil_div(timing["dir_setup_ns"], 1000))
        self._chunks = []
        size = 1
        while size <= batch:
            self._chunks.append((self.high_ticks, self.low_ticks) * size)
            size *= 2
        self._rmt = None
        self._enabled = False
        self._backlog = 0       # steps asked for and not yet written
        self._in_flight = 0     # steps of the write the RMT has not reported done
        self._sent_at = time.ticks_us()
        self._done = 0          # steps of writes the RMT reported done (or cut short: see _stop)

    def enable(self):
        if self._enabled:
            return
        self._dir.value(FORWARD)
        self._en.value(0)
        time.sleep_us(self._wake_us)
        self._rmt = self._new_rmt(self.clock_div)
        self._enabled = True

    def disable(self):
        self._enabled = False
        try:
            self._stop(True)
        finally:
            self._en.value(1)   # de-energised even if the RMT would not stop cleanly

    def safe_state(self):
        """Never raises: pulses stopped first, STEP low, then the stage de-energised."""
        self._enabled = False
        try:
            self._stop(False)
        except Exception:
            pass
        try:
            self._en.value(1)
        except Exception:
            pass

    def step(self, n):
        """Queue n forward steps and return at once. Ignored while disabled: a disabled stage
        would not move, and emitted() never counts what was not sent."""
        if n <= 0 or not self._enabled:
            return
        self._backlog += n
        self._pump()

    def emitted(self):
        """Steps that left the STEP pin since boot: whole writes the RMT reported done."""
        self._pump()
        return self._done

    def pending(self):
        """Steps asked for that have not been reported done yet."""
        return self._backlog + self._in_flight

    def _pump(self):
        rmt = self._rmt
        if rmt is None:
            return
        if self._in_flight:
            if not rmt.wait_done():     # timeout 0: never blocks
                return
            self._done += self._in_flight
            self._in_flight = 0
        n = self._backlog
        if n <= 0:
            return
        k = len(self._chunks) - 1
        while (1 << k) > n:
            k -= 1
        size = 1 << k
        # the channel is idle (checked above), so write_pulses starts at once and never blocks;
        # the sequence starts high and ends on a full low, so writes back to back stay a period apart
        rmt.write_pulses(self._chunks[k])
        self._sent_at = time.ticks_us()
        self._in_flight = size
        self._backlog = n - size

    def _stop(self, strict):
        # stop pulse generation, then take the pin back as a GPIO driven low
        rmt, self._rmt = self._rmt, None
        self._backlog = 0
        failed = None
        if rmt is not None:
            done = True
            if self._in_flight:
                try:
                    done = rmt.wait_done()
                except Exception:
                    done = False
            stop = getattr(rmt, "active", None)     # active(False) where the port has it
            if stop is not None:
                try:
                    stop(False)
                except Exception:
                    pass
            try:
                rmt.deinit()
            except Exception as e:
                failed = e
            if self._in_flight:
                # a write cut short: the RMT cannot say how far it got; count every pulse that
                # can have started by now, after the stop (an upper bound: the over-delivery
                # check errs safe)
                n = self._in_flight
                if not done:
                    elapsed_ns = time.ticks_diff(time.ticks_us(), self._sent_at) * 1000
                    started = max(0, elapsed_ns) // self.period_ns + 1
                    n = min(n, started)
                self._done += n
                self._in_flight = 0
        # Pin.init(OUT) routes the pad back to the GPIO, whatever the RMT still drives
        self._step.init(self._step.OUT, value=0)
        self._step.value(0)
        if strict and failed is not None:
            raise failed


def build(spec, cfg):
    timing = stepper_chip(spec)
    channel = number(spec, "motor", "rmt_channel", 0, 7, 0)
    period = step_period_ns(cfg)
    rate = cfg.get("limits", {}).get("max_steps_per_s", 200)
    from drivers.pins import output_pin
    import esp32
    step = output_pin(spec, cfg, "step_pin", 0)
    dirp = output_pin(spec, cfg, "dir_pin", FORWARD)
    en = output_pin(spec, cfg, "enable_pin", 1)     # high: de-energised from the first instant

    def new_rmt(div):
        return esp32.RMT(channel, pin=step, clock_div=div)

    return RmtStepper(new_rmt, step, dirp, en, timing, period, batch_for(rate))


DRIVER = build
