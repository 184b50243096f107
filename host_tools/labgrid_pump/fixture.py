"""The HIL suite's board from labgrid: labgrid's target, brought to the strategy's "app" state.

The HIL plugin's `board` fixture calls labgrid_board(request) when pytest runs with labgrid's
--lg-env (labgrid's pytest plugin then gives the `target` fixture):

    if request.config.getoption("lg_env", None):
        from host_tools.labgrid_pump.fixture import labgrid_board
        with labgrid_board(request) as board:
            yield board

The board is the place's board for the whole session, as a lab's board is: each test gets it
with the firmware deployed and the app answering, not a fresh one.
"""
import contextlib

from host_tools.labgrid_pump.drivers import MicroPythonDriver, PumpRigPowerDriver
from host_tools.labgrid_pump.strategy import Status


class LabgridBoard:
    """What the HIL fixtures use of a board: .link for PumpClient and deploy, and the rig as
    .rig_path (a sim rig, for SimRig) or .rig_port (a physical rig, for SerialRig)."""

    home = None     # no sim folder on this host: tests that read the sim's files skip (sim_only)

    def __init__(self, target, link, rig_path, rig_port):
        self.target = target
        self.link = link
        self.rig_path = rig_path
        self.rig_port = rig_port

    def __repr__(self):
        return "LabgridBoard(%s, link=%s, rig=%s)" % (self.target.name, self.link, self.rig_path or self.rig_port)


@contextlib.contextmanager
def labgrid_board(request):
    target = request.getfixturevalue("target")
    strategy = target.get_driver("Strategy")
    micropython = target.get_driver(MicroPythonDriver)
    # a board that stopped answering since the last test (a test cut its power, or crashed
    # it) is brought up again from off: power cycle, REPL, deploy
    if strategy.status == Status.app and micropython.hello(timeout=2.0) is None:
        strategy.transition(Status.off)
    strategy.transition(Status.app)
    power = target.get_driver(PumpRigPowerDriver)
    yield LabgridBoard(target, micropython.link, power.rig_path, power.rig_port)
