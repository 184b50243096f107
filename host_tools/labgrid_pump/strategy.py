"""labgrid strategy for a MicroPython pump board: off -> repl -> app, with the power through the rig.

- off:  the rig has cut the board's power.
- repl: powered up again, and MicroPython's raw REPL answers (a running pump app was asked into
        service mode, as `pumpctl service` does).
- app:  the firmware for the driver's board is deployed (host_tools/deploy.py: only what changed
        is copied) and the pump app answers hello and status.
"""
import enum

import attr
from labgrid.factory import target_factory
from labgrid.step import step
from labgrid.strategy.common import Strategy, StrategyError, never_retry


class Status(enum.Enum):
    unknown = 0
    off = 1
    repl = 2
    app = 3


@target_factory.reg_driver
@attr.s(eq=False)
class MicroPythonPumpStrategy(Strategy):
    """Brings a pump board to off, repl or app (module docstring)."""

    bindings = {
        "power": "PowerProtocol",
        "micropython": "MicroPythonDriver",
    }

    status = attr.ib(default=Status.unknown)

    @never_retry
    @step(args=["status"])
    def transition(self, status, *, step):  # pylint: disable=redefined-outer-name
        if not isinstance(status, Status):
            status = Status[status]
        if status == Status.unknown:
            raise StrategyError("can not transition to %s" % status)
        if status == self.status:
            step.skip("nothing to do")
            return
        if status == Status.off:
            self.target.activate(self.power)
            self.power.off()
        elif status == Status.repl:
            self.transition(Status.off)
            self.power.on()
            self.target.activate(self.micropython)
            self.micropython.await_repl()
        elif status == Status.app:
            if self.status != Status.repl:
                self.transition(Status.repl)
            self.micropython.deploy()
            self.micropython.check_app()
        else:
            raise StrategyError("no transition found from %s to %s" % (self.status, status))
        self.status = status

    @never_retry
    @step(args=["status"])
    def force(self, status):
        """Take the board as being in `status` without acting (labgrid's --lg-initial-state)."""
        if not isinstance(status, Status):
            status = Status[status]
        if status == Status.unknown:
            raise StrategyError("can not force %s" % status)
        self.target.activate(self.power)
        if status != Status.off:
            self.target.activate(self.micropython)
        self.status = status
