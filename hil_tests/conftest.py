"""HIL fixtures: a fresh simulated board (default) or a real one (--port), deployed through the real path."""
import contextlib
import json
import os
import shutil
import tempfile

import pytest

from host_tools.client import PumpClient
from host_tools.deploy import DeployError, deploy
from host_tools.rig import RigUnsupported, SerialRig, SimRig
from host_tools.sim.launch import SimProcess


def pytest_addoption(parser):
    g = parser.getgroup("pump HIL")
    g.addoption("--board", default="sim", help="board name under boards/ (default: sim, the simulated board)")
    g.addoption("--port", default=None, help="serial port of a real board (with --board NAME)")
    g.addoption("--sim-speed", default="1", help="speed of the simulated board between rig commands")
    g.addoption("--sim-heap-kb", type=int, default=None,
                help="MicroPython heap of each simulated board, in KB (default: the sim's own)")
    g.addoption("--rig", default=None, help="serial port of a physical rig board (boards/rig_pico), with --port")
    g.addoption("--rig-max-wait", type=float, default=120.0,
                help="longest run_for a physical rig waits out in real time, in s (longer: skipped)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Let fixtures see whether their test failed, to show the sim's logs only then.
    outcome = yield
    report = outcome.get_result()
    # A rig without a feature the test needs (a physical rig has no simulated time, plant or
    # firmware faults) skips the test, naming the feature, instead of failing it.
    if call.excinfo is not None and call.excinfo.errisinstance(RigUnsupported):
        report.outcome = "skipped"
        report.longrepr = (str(item.fspath), item.location[1] or 0, "Skipped: %s" % call.excinfo.value)
    setattr(item, "failed_" + report.when, report.failed)


def _show_logs_if_failed(request, home):
    if not getattr(request.node, "failed_call", False):
        return
    _print_logs(home, None)


def _print_logs(home, why):
    if why:
        print(why)
    for name in ("supervisor.log", "board.log"):
        path = os.path.join(home, name)
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                tail = f.readlines()[-30:]
            print("---- %s (last %d lines) ----\n%s" % (path, len(tail), "".join(tail)))


def _short_home(prefix):
    # AF_UNIX socket paths are short (108 bytes): pytest's tmp_path can be too deep.
    return tempfile.mkdtemp(prefix=prefix)


@contextlib.contextmanager
def _sim_board(request, prefix, flash_from=None, speed="1", board_file=None):
    """A simulated board in its own folder; its logs are shown if the test failed, then removed."""
    home = _short_home(prefix)
    if flash_from is not None:
        shutil.copytree(flash_from, os.path.join(home, "flash"))
    sim = None
    try:
        sim = SimProcess(home, speed=speed, board_file=board_file,
                         heap_kb=request.config.getoption("--sim-heap-kb"))
        yield sim
    finally:
        if sim is not None:
            sim.stop()
        _show_logs_if_failed(request, home)
        shutil.rmtree(home, ignore_errors=True)


def _lg_env(config):
    # labgrid's --lg-env (its pytest plugin is loaded only where labgrid is installed)
    return config.getoption("lg_env", None)


@pytest.fixture(scope="session")
def on_sim(request):
    return request.config.getoption("--port") is None and not _lg_env(request.config)


@pytest.fixture
def sim_only(on_sim):
    """For tests that need what only the simulated board has: its rig's faults, resets at chosen
    instants, power cuts at a flash byte."""
    if not on_sim:
        pytest.skip("needs the simulated board and its rig")


@pytest.fixture(scope="session")
def deployed_flash(request, on_sim):
    """A flash folder that went through a full deploy onto a blank simulated board, once per session."""
    if _lg_env(request.config):
        pytest.skip("needs a simulated board started here (labgrid's board is its place's)")
    if not on_sim:
        deploy(request.config.getoption("--port"), request.config.getoption("--board"), stop=True)
        yield None
        return
    home = _short_home("pumpgold")
    with SimProcess(home, heap_kb=request.config.getoption("--sim-heap-kb")) as sim:
        deploy(sim.link, "sim")
    yield os.path.join(home, "flash")
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def board(request, on_sim):
    """A freshly started board with the current firmware deployed; yields an object with .link."""
    # issue 8, labgrid (deliverable 5): with --lg-env the board is labgrid's target, brought to
    # its strategy's "app" state; host_tools/pytest_plugin.py's board fixture takes this over.
    if _lg_env(request.config):
        from host_tools.labgrid_pump.fixture import labgrid_board
        with labgrid_board(request) as lab_board:
            yield lab_board
        return
    deployed_flash = request.getfixturevalue("deployed_flash")
    if not on_sim:
        yield _RealBoard(request.config.getoption("--port"))
        return
    speed = request.config.getoption("--sim-speed")
    for attempt in (1, 2):
        with _sim_board(request, "pump", deployed_flash, speed) as sim:
            try:
                deploy(sim.link, "sim")  # the real path again: it must find nothing to change
            except DeployError as e:
                # Known intermittent fault (about one full run in two under load): the sim's link
                # vanishes during this deploy. Logged and retried once on a fresh board so the
                # suite tests the pump; tracked as its own issue with these logs.
                if attempt == 2:
                    raise
                _print_logs(sim.home, "board fixture: deploy failed (%s); retrying on a fresh sim" % e)
                continue
            yield sim
            return


@pytest.fixture
def board_with_plant(request, sim_only, deployed_flash, tmp_path):
    """board_with_plant(**changes): a deployed simulated board whose plant (the "plant" section of
    boards/sim/board.json) has these changes, e.g. calibration_error_pct=3.7. The firmware keeps
    boards/sim's board.json, so the two disagree as a pump head and its nominal figure do."""
    stack = contextlib.ExitStack()

    def start(**changes):
        from host_tools import paths
        with open(os.path.join(paths.BOARDS_DIR, "sim", "board.json")) as f:
            cfg = json.load(f)
        cfg["plant"].update(changes)
        path = tmp_path / "board.json"
        path.write_text(json.dumps(cfg))
        sim = stack.enter_context(_sim_board(request, "pumpplant", deployed_flash,
                                             request.config.getoption("--sim-speed"), str(path)))
        deploy(sim.link, "sim")   # finds nothing to change; returns once the app answers
        return sim
    with stack:
        yield start


class _RealBoard:
    def __init__(self, port):
        self.link = port
        self.rig_path = None


@pytest.fixture
def pump(board):
    with PumpClient(board.link, timeout=10.0) as client:
        yield client


@pytest.fixture
def rig(request, board):
    if board.rig_path is not None:
        with SimRig(board.rig_path) as r:
            yield r
        return
    port = getattr(board, "rig_port", None) or request.config.getoption("--rig")
    if port is None:
        pytest.skip("needs a rig: pass --rig PORT (a boards/rig_pico board)")
    with SerialRig(port, max_wait_s=request.config.getoption("--rig-max-wait")) as r:
        yield r


@pytest.fixture
def blank_sim(request):
    """A simulated board with an empty flash, as a freshly flashed MicroPython board."""
    if _lg_env(request.config):
        pytest.skip("needs a simulated board started here (labgrid's board is its place's)")
    with _sim_board(request, "pumpblank") as sim:
        yield sim
