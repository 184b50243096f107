# The delivery state machine for a continuous rate: pure logic, handed `now`, told what to step.
from pump.errors import PumpError, BAD_ARG, BAD_STATE, LIMIT
from pump.rate import StepAccumulator, ul_h_to_nl_h, ul_to_pl

STOPPED = "stopped"
RUNNING = "running"


class Controller:
    def __init__(self, ul_per_step, max_rate_ul_h, max_steps_per_s, reservoir_ul):
        self.pl_per_step = ul_to_pl(ul_per_step)
        # Limits are rounded down, never up (after absorbing float noise: 1.001 * 1000 is 1000.99...).
        self.max_rate_nl_h = int(round(max_rate_ul_h * 1000000)) // 1000
        # The motor cannot take more than a second's worth of steps at once.
        self.max_burst = int(max_steps_per_s) if max_steps_per_s >= 1 else 1
        self.acc = StepAccumulator(self.pl_per_step)
        self.state = STOPPED
        self.rate_nl_h = 0
        self.steps = 0
        self.reservoir_pl = ul_to_pl(reservoir_ul)

    def set_rate(self, now_ms, rate_ul_h):
        if isinstance(rate_ul_h, bool) or not isinstance(rate_ul_h, (int, float)):
            raise PumpError(BAD_ARG, "rate_ul_h must be a number", "args.rate_ul_h")
        if not rate_ul_h >= 0:  # also refuses NaN
            raise PumpError(BAD_ARG, "rate_ul_h must be >= 0, got %r" % rate_ul_h, "args.rate_ul_h")
        # a rate far above the limit is refused before rounding, which overflows on inf
        too_high = rate_ul_h * 1000 >= self.max_rate_nl_h + 1
        rate = None if too_high else ul_h_to_nl_h(rate_ul_h)
        if too_high or rate > self.max_rate_nl_h:
            raise PumpError(LIMIT, "rate_ul_h %r is above the board's maximum of %s uL/h"
                            % (rate_ul_h, self.max_rate_nl_h / 1000), "args.rate_ul_h")
        self.rate_nl_h = rate
        if self.state == RUNNING:
            self.acc.restart(now_ms, rate)
        return rate

    def start(self, now_ms):
        if self.rate_nl_h == 0:
            raise PumpError(BAD_STATE, "no rate set: set a rate above 0 before starting")
        if self.state != RUNNING:
            self.acc.restart(now_ms, self.rate_nl_h)
            self.state = RUNNING

    def stop(self, now_ms):
        if self.state == RUNNING:
            self.acc.restart(now_ms, 0)
            # Steps not yet taken at a stop are not owed: a later start must not burst them out.
            self.acc.drop_backlog()
            self.state = STOPPED

    def due(self, now_ms):
        """Steps to command now (never more than one burst; the rest come on the next call)."""
        if self.state != RUNNING:
            return 0
        n = self.acc.due(now_ms)
        return n if n < self.max_burst else self.max_burst

    def taken(self, n):
        self.acc.taken(n)
        self.steps += n
        self.reservoir_pl -= n * self.pl_per_step

    def next_due_ms(self):
        if self.state != RUNNING:
            return None
        return self.acc.next_due_ms()

    def delivered_ul(self):
        return self.steps * self.pl_per_step / 1000000

    def reservoir_ul(self):
        return self.reservoir_pl / 1000000
