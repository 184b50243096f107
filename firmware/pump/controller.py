# The delivery state machine: a manual rate or a therapy program; pure logic, handed `now`, told what to step.
from pump.errors import PumpError, BAD_ARG, BAD_STATE, LIMIT
from pump.planner import Delivery, resumed_program
from pump.rate import StepAccumulator, ul_h_to_nl_h, ul_to_pl

STOPPED = "stopped"
RUNNING = "running"

RATE = "rate"          # a continuous rate set by hand (bench work)
PROGRAM = "program"    # a therapy program applied through review and confirm


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
        self.fill_pl = self.reservoir_pl   # the volume at the last fill, for refill reconciliation
        self.low_pl = 0
        self.program = None
        self.delivery = None   # the program's planner, created at the first start after apply
        self.t0 = 0            # board ms at which the program started: its t = 0
        self._carry = None     # after a reset: where the program was (Delivery.journal_state)

    @property
    def mode(self):
        return PROGRAM if self.program is not None else RATE

    def set_rate(self, now_ms, rate_ul_h):
        if self.program is not None:
            raise PumpError(BAD_STATE, "a therapy program is applied: clear it before setting a rate "
                            "by hand (pumpctl program clear)")
        if isinstance(rate_ul_h, bool) or not isinstance(rate_ul_h, (int, float)):
            raise PumpError(BAD_ARG, "rate_ul_h must be a number", "args.rate_ul_h")
        if not rate_ul_h >= 0:  # also refuses NaN
            raise PumpError(BAD_ARG, "rate_ul_h must be >= 0, got %r" % rate_ul_h, "args.rate_ul_h")
        # a rate far above the limit is refused before rounding, which overflows on inf
        too_high = rate_ul_h * 1000 >= self.max_rate_nl_h + 1
        rate = self.max_rate_nl_h + 1 if too_high else ul_h_to_nl_h(rate_ul_h)
        if rate > self.max_rate_nl_h:
            raise PumpError(LIMIT, "rate_ul_h %r is above the board's maximum of %s uL/h"
                            % (rate_ul_h, self.max_rate_nl_h / 1000), "args.rate_ul_h")
        self.rate_nl_h = rate
        if self.state == RUNNING:
            self.acc.restart(now_ms, rate)
        return rate

    def apply_program(self, now_ms, program, wall_ms):
        """Make `program` the therapy; a running pump switches to it at once, from its start."""
        self.program = program
        self.delivery = None
        self._carry = None
        self.refill(program.volume_nl * 1000)
        self.low_pl = program.low_nl * 1000
        if self.state == RUNNING:
            self._begin_program(now_ms, wall_ms)

    def refill(self, volume_pl):
        self.reservoir_pl = self.fill_pl = volume_pl

    def set_step_volume(self, ul_per_step):
        """A new calibration: stopped, by hand only (a program's planner keeps the step volume
        it started with, so the app refuses this while one is applied)."""
        if self.state == RUNNING or self.program is not None:
            raise PumpError(BAD_STATE, "stop the pump and clear its program before a new calibration")
        self.pl_per_step = ul_to_pl(ul_per_step)
        self.acc = StepAccumulator(self.pl_per_step)

    def clear_program(self):
        if self.state == RUNNING:
            raise PumpError(BAD_STATE, "delivering: stop the pump before clearing its program")
        self.program = None
        self.delivery = None
        self._carry = None
        self.rate_nl_h = 0

    def resume_program(self, carry):
        """After a reset: the next start carries on this program where the journal left it."""
        self._carry = carry

    def carried(self):
        """Where the journal left the program, while that still waits for its first start."""
        return self._carry if self.delivery is None else None

    def _begin_program(self, now_ms, wall_ms):
        self.t0 = now_ms
        carry, self._carry = self._carry, None
        if carry is None:
            self.delivery = Delivery(self.program, wall_ms, self.pl_per_step)
        else:
            self.delivery = Delivery(resumed_program(self.program, carry, wall_ms), wall_ms,
                                     self.pl_per_step, carry.get("demands", ()))

    def start(self, now_ms, wall_ms=None):
        if self.state == RUNNING:
            return
        if self.program is not None:
            if self.delivery is None:
                if wall_ms is None:
                    raise PumpError(BAD_STATE, "time of day unknown: load the program again to set it")
                self._begin_program(now_ms, wall_ms)
            else:
                self.delivery.start(now_ms - self.t0)
        else:
            if self.rate_nl_h == 0:
                raise PumpError(BAD_STATE, "no rate set: set a rate above 0 before starting")
            self.acc.restart(now_ms, self.rate_nl_h)
        self.state = RUNNING

    def stop(self, now_ms):
        if self.state != RUNNING:
            return
        if self.delivery is not None:
            self.delivery.stop(now_ms - self.t0)
        else:
            self.acc.restart(now_ms, 0)
            # Steps not yet taken at a stop are not owed: a later start must not burst them out.
            self.acc.drop_backlog()
        self.state = STOPPED

    def due(self, now_ms):
        """Steps to command now: never more than one burst, nor more than the reservoir holds."""
        if self.state != RUNNING:
            return 0
        if self.delivery is not None:
            n = self.delivery.due(now_ms - self.t0)
        else:
            n = self.acc.due(now_ms)
        if n > self.max_burst:
            n = self.max_burst
        left = self.reservoir_pl // self.pl_per_step
        return n if n < left else (left if left > 0 else 0)

    def taken(self, n):
        if self.delivery is not None:
            self.delivery.taken(n)
        else:
            self.acc.taken(n)
        self.steps += n
        self.reservoir_pl -= n * self.pl_per_step

    def next_due_ms(self, now_ms=0):
        if self.state != RUNNING:
            return None
        if self.delivery is not None:
            t = self.delivery.next_due_ms(now_ms - self.t0)
            return None if t is None else t + self.t0
        return self.acc.next_due_ms()

    def rate_now_nl_h(self, now_ms):
        """The basal-plus-bolus rate being delivered now, for status (0 when stopped)."""
        if self.state != RUNNING:
            return 0
        if self.delivery is not None:
            return self.delivery.rate_nl_day(now_ms - self.t0) // 24
        return self.rate_nl_h

    def empty(self):
        return self.reservoir_pl < self.pl_per_step

    def low(self):
        return self.program is not None and self.reservoir_pl <= self.low_pl

    def delivered_ul(self):
        return self.steps * self.pl_per_step / 1000000

    def reservoir_ul(self):
        return self.reservoir_pl / 1000000
