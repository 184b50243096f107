# The sim board's `machine` module: reset, reset_cause, WDT and the few calls the firmware uses.
import simhw

# Named constants as on stm32; compare with the names, never the numbers (they differ per port).
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

WDT_MAX_MS = 8388  # the strictest real target (RP2040); the sim refuses what a Pico would refuse

_cause = PWRON_RESET
_wdt = None


def _init(cause):
    global _cause
    _cause = cause


def reset_cause():
    return _cause


def reset():
    simhw.request_reset(simhw.RESET_HARD)


def soft_reset():
    simhw.request_reset(simhw.RESET_SOFT)


def unique_id():
    return b"SIMPUMP0"


def freq():
    return 125000000


def idle():
    pass


class WDT:
    """Cannot be stopped once started, as on every real port; a second WDT() returns the same one."""

    def __init__(self, id=0, timeout=5000):
        global _wdt
        if timeout < 1 or timeout > WDT_MAX_MS:
            raise ValueError("timeout must be 1..%d ms" % WDT_MAX_MS)
        if _wdt is None:
            _wdt = simhw.Watchdog(simhw.clock(), simhw.channel(), timeout)
        self._w = _wdt

    def feed(self):
        self._w.feed()
