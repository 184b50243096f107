# Alarm light and sound on GPIO: one LED or an RGB LED and a PWM buzzer, played from a timer tick.
#
# The patterns and their timings are pump.alarms' LEDS and BUZZERS (IEC 60601-1-8 style), turned
# into whole ticks once, in show(). The timer callback only counts ticks and compares small ints:
# it allocates nothing, so it may run as a hard IRQ, and a collection in the main loop cannot
# make a flash or a burst stutter by more than a tick.
from pump.alarms import LEDS, BUZZERS
from pump.errors import ConfigError

TICK_MS = 50
BUZZER_HZ = 2700           # a common piezo's resonance: loudest for the current
DUTY_ON = 32768            # half duty: a piezo's loudest square wave
HIGH = ("red_flash_fast", "burst_10")
COLOURS = {"red": (1, 0, 0), "yellow": (1, 1, 0), "cyan": (0, 1, 1), "white": (1, 1, 1),
           "green": (0, 1, 0), "blue": (0, 0, 1), None: (0, 0, 0)}


def _ticks(ms):
    return (ms + TICK_MS // 2) // TICK_MS


def led_plan(name):
    """(r, g, b, on ticks, period ticks): period 0 is steady (lit when the colour is not None)."""
    colour, on_ms, period_ms = LEDS[name]
    r, g, b = COLOURS[colour]
    if period_ms == 0:
        return (r, g, b, 1 if colour is not None else 0, 0)
    return (r, g, b, _ticks(on_ms), _ticks(period_ms))


def buzzer_plan(name):
    """(pulses, pulse ticks, pulse + gap ticks, repeat ticks); no pulses when name is None."""
    if name is None:
        return (0, 0, 1, 1)
    pulses, pulse_ms, gap_ms, repeat_ms = BUZZERS[name]
    return (pulses, _ticks(pulse_ms), _ticks(pulse_ms) + _ticks(gap_ms), _ticks(repeat_ms))


class GpioAnnunciator:
    """leds: (pin,) for one LED, (red, green, blue) for an RGB LED, or () for none. buzzer: a
    machine.PWM or None. timer: a machine.Timer to run the tick, or None (then call tick())."""

    def __init__(self, leds, buzzer, timer, buzzer_hz=BUZZER_HZ, active_low=False):
        self.leds = tuple(leds)
        self.buzzer = buzzer
        self.inv = 1 if active_low else 0
        self.shown = None
        self._led = (0, 0, 0, 0, 0)
        self._bz = (0, 0, 1, 1)
        self._lt = 0               # tick within the LED's period
        self._bt = 0               # tick within the buzzer's repeat
        self._lit = -1             # what the pins show now (-1: not yet written)
        self._sounding = -1
        if buzzer is not None:
            buzzer.freq(buzzer_hz)
            buzzer.duty_u16(0)
        self.show("off", None)
        self._cb = self._on_timer  # bound once: the callback must not allocate one per tick
        self.timer = timer
        if timer is not None:
            timer.init(mode=timer.PERIODIC, period=TICK_MS, callback=self._cb)

    def show(self, led, buzzer):
        """Play these patterns (names from pump.alarms) from their start. An unknown name shows
        the high-alarm pattern: a wrong name must not leave an alarm dark or silent."""
        if (led, buzzer) == self.shown:
            return
        self.shown = (led, buzzer)
        lp = led_plan(led) if led in LEDS else led_plan(HIGH[0])
        bp = buzzer_plan(buzzer) if buzzer is None or buzzer in BUZZERS else buzzer_plan(HIGH[1])
        # each plan is one tuple swapped whole: a tick between these lines sees old or new
        self._led = lp
        self._lt = 0
        self._bz = bp
        self._bt = 0
        self._lit = -1
        self._sounding = -1
        self._apply()

    def safe_state(self):
        # a board going down in a fault still shows it: the high-alarm pattern, not darkness
        try:
            self.show(HIGH[0], HIGH[1])
        except Exception:
            pass

    def _on_timer(self, _t):
        self.tick()

    def tick(self):
        """One TICK_MS step of both patterns."""
        period = self._led[4]
        if period:
            lt = self._lt + 1
            self._lt = lt if lt < period else 0
        repeat = self._bz[3]
        bt = self._bt + 1
        self._bt = bt if bt < repeat else 0
        self._apply()

    def _apply(self):
        r, g, b, on, period = self._led
        lit = 1 if on and (period == 0 or self._lt < on) else 0
        if lit != self._lit:
            self._lit = lit
            leds = self.leds
            inv = self.inv
            if len(leds) == 1:
                leds[0].value(lit ^ inv)
            elif len(leds) == 3:
                leds[0].value((lit & r) ^ inv)
                leds[1].value((lit & g) ^ inv)
                leds[2].value((lit & b) ^ inv)
        pulses, pulse, cycle, _repeat = self._bz
        bt = self._bt
        k = bt // cycle
        sound = 1 if k < pulses and bt - k * cycle < pulse else 0
        if sound != self._sounding:
            self._sounding = sound
            if self.buzzer is not None:
                self.buzzer.duty_u16(DUTY_ON if sound else 0)


def make(spec, cfg):
    import machine
    from drivers.pins import output_pin
    path = "drivers.annunciator."
    problems = []
    hz = spec.get("buzzer_hz", BUZZER_HZ)
    if isinstance(hz, bool) or not isinstance(hz, int) or not 100 <= hz <= 20000:
        problems.append((path + "buzzer_hz", "must be an integer from 100 to 20000 Hz"))
    rgb = [k for k in ("red_pin", "green_pin", "blue_pin") if k in spec]
    if rgb and len(rgb) != 3:
        problems.append((path + "red_pin", "an RGB LED needs all of red_pin, green_pin, blue_pin"))
    if rgb and "led_pin" in spec:
        problems.append((path + "led_pin", "give led_pin or red/green/blue_pin, not both"))
    if "buzzer_pin" in spec and not hasattr(machine, "PWM"):
        problems.append((path + "buzzer_pin", "this port has no machine.PWM"))
    tid = spec.get("timer", -1)
    if isinstance(tid, bool) or not isinstance(tid, int):
        problems.append((path + "timer", "must be a timer id (an integer; -1: virtual)"))
    if problems:
        raise ConfigError(problems)
    active_low = bool(spec.get("led_active_low", False))
    off = 1 if active_low else 0
    if rgb:
        leds = tuple(output_pin(spec, cfg, k, off) for k in ("red_pin", "green_pin", "blue_pin"))
    elif "led_pin" in spec:
        leds = (output_pin(spec, cfg, "led_pin", off),)
    else:
        leds = ()
    buzzer = None
    if "buzzer_pin" in spec:
        buzzer = machine.PWM(output_pin(spec, cfg, "buzzer_pin", 0))
    return GpioAnnunciator(leds, buzzer, machine.Timer(tid), hz, active_low)


DRIVER = make
