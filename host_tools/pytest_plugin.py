"""pytest plugin for pump HIL suites: options, markers and the board, pump and rig fixtures, on a simulated board or a real one.

Registered through the `pytest11` entry point (pyproject.toml), so any project with
micropump-host-tools installed gets it. Each simulated board lives in a folder of its own (pty,
flash, rig socket), so `pytest -n N` runs N boards side by side with nothing shared.
"""
import contextlib
import json
import os
import shutil
import tempfile

import pytest

from host_tools.client import PumpClient
from host_tools.deploy import DeployError, deploy, reset_to_deployed, wait_for_app
from host_tools.rig import RigUnsupported, SerialRig, SimRig
from host_tools.sim.board_variant import write_board_variant
from host_tools.sim.launch import SimProcess

MARKERS = (
    "needs_rig(*features): the test drives the rig's features (occlude, scale, power, plant, "
    "fault, ...); a setup whose rig lacks one skips the test, naming it",
    "needs_scale: the test weighs what the pump delivered (the rig's scale); short for needs_rig('scale')",
    "sim_only: the test needs what only the simulated board has (its clock, plant and fault injection)",
)


def pytest_addoption(parser):
    g = parser.getgroup("micropump", "pump hardware-in-the-loop (host_tools.pytest_plugin)")
    g.addoption("--board", default="sim", help="board name under boards/ (default: sim, the simulated board)")
    g.addoption("--port", default=None, help="serial port of a real board (with --board NAME)")
    g.addoption("--sim-speed", default="1", help="speed of the simulated board between rig commands")
    g.addoption("--sim-heap-kb", type=int, default=None,
                help="MicroPython heap of each simulated board, in KB (default: the sim's own)")
    g.addoption("--rig", default=None, help="serial port of a physical rig board (boards/rig_pico), with --port")
    g.addoption("--rig-max-wait", type=float, default=120.0,
                help="longest run_for a physical rig waits out in real time, in s (longer: skipped)")
    g.addoption("--record", default=None, metavar="DIR",
                help="for each test using the pump fixture, write DIR/<test>/ with its event log, "
                     "status samples (after each rig.run_for) and outcome; pumpctl report DIR draws them")


def pytest_configure(config):
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    workers = getattr(config.option, "numprocesses", None)   # pytest-xdist's -n
    if workers not in (None, 0, 1) and config.getoption("--port") is not None:
        raise pytest.UsageError("-n %s with --port: a real board is one board, and the workers "
                                "would share its port; run it without -n" % workers)


def _lg_env(config):
    # labgrid's own plugin owns --lg-env; it is there only when labgrid is installed
    try:
        return config.getoption("lg_env")
    except ValueError:
        return None


def _setup(config):
    if _lg_env(config):
        return "labgrid environment %s" % _lg_env(config)
    port = config.getoption("--port")
    if port is None:
        heap = config.getoption("--sim-heap-kb")
        return "simulated board (speed %s%s)" % (config.getoption("--sim-speed"),
                                                  ", heap %d KB" % heap if heap else "")
    rig = config.getoption("--rig")
    return "board %s on %s, %s" % (config.getoption("--board"), port,
                                   "rig on %s" % rig if rig else "no rig")


def pytest_report_header(config):
    return "micropump HIL: %s" % _setup(config)


def pytest_sessionstart(session):
    # A CI system reading the JUnit XML (--junitxml) sees which setup the results came from. Set
    # here, in the controller: under xdist the workers write no XML.
    try:
        from _pytest.junitxml import xml_key
    except ImportError:       # pytest moved its private key: the XML goes without the properties
        return
    xml = session.config.stash.get(xml_key, None)
    if xml is not None:
        xml.add_global_property("micropump_setup", _setup(session.config))
        xml.add_global_property("micropump_board", session.config.getoption("--board"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # A rig without a feature the test needs (a physical rig has no simulated time, plant or
    # firmware faults) skips the test, naming the feature, instead of failing it.
    if call.excinfo is not None and call.excinfo.errisinstance(RigUnsupported):
        report.outcome = "skipped"
        report.longrepr = (str(item.fspath), item.location[1] or 0, "Skipped: %s" % call.excinfo.value)
    # fixtures see whether their test failed, to show the sim's logs only then
    setattr(item, "failed_" + report.when, report.failed)
    folder = getattr(item, "_micropump_record_dir", None)
    if folder is not None:
        phases = item.__dict__.setdefault("_micropump_phases", {})
        text = report.longreprtext.strip().splitlines() if report.longrepr else []
        phases[report.when] = (report.outcome, report.duration, text[-1][:300] if text else "")
        if report.when == "teardown" and os.path.isdir(folder):
            from host_tools.hil_record import write_outcome
            write_outcome(folder, item.nodeid, phases, item._micropump_recorder.problems)


def _needed_features(item):
    needed = []
    for mark in item.iter_markers("needs_rig"):
        needed.extend(mark.args)
    if item.get_closest_marker("needs_scale") is not None:
        needed.append("scale")
    return needed


def _on_sim(config):
    """Whether the tests get simulated boards started here (no --port, no labgrid place)."""
    return config.getoption("--port") is None and not _lg_env(config)


SIM_ONLY_REASON = "needs the simulated board and its rig"
NO_RIG_HINT = "pass --rig PORT (a boards/rig_pico board)"


def _skip_unless_rig_has(needed, rig_name, features):
    missing = [f for f in needed if f not in features]
    if missing:
        pytest.skip("needs a rig with %s; the rig %s has %s" % (", ".join(missing), rig_name,
                                                              ", ".join(sorted(features))))


def pytest_runtest_setup(item):
    # What the options alone decide, before any fixture (a session one would deploy) runs.
    config = item.config
    on_sim = _on_sim(config)
    if item.get_closest_marker("sim_only") is not None and not on_sim:
        pytest.skip(SIM_ONLY_REASON)
    needed = _needed_features(item)
    if not needed:
        return
    if on_sim:
        _skip_unless_rig_has(needed, SimRig.name, SimRig.features)
    elif config.getoption("--port") is not None and config.getoption("--rig") is None:
        pytest.skip("needs a rig with %s: %s" % (", ".join(needed), NO_RIG_HINT))


@pytest.fixture(autouse=True)
def _marked_needs(request):
    """A physical rig says what it has only once opened: a test needing more is skipped before
    its body touches the board."""
    needed = _needed_features(request.node)
    if needed and not _on_sim(request.config):
        rig = request.getfixturevalue("rig")
        _skip_unless_rig_has(needed, rig.name, rig.features)


# ---- simulated boards -----------------------------------------------------------------------
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
    # AF_UNIX socket paths are short (108 bytes): pytest's tmp_path can be too deep. A folder
    # of its own per board is also what keeps xdist workers apart.
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
        if getattr(request.node, "failed_call", False):
            _print_logs(home, None)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def on_sim(request):
    return _on_sim(request.config)


@pytest.fixture
def sim_only(on_sim):
    """For tests that need what only the simulated board has: its rig's faults, resets at chosen
    instants, power cuts at a flash byte."""
    if not on_sim:
        pytest.skip(SIM_ONLY_REASON)


@pytest.fixture(scope="session")
def deployed_flash(request, on_sim):
    """A flash folder that went through a full deploy onto a blank simulated board, once per
    session (per xdist worker); a real board is deployed once instead."""
    if not on_sim:
        port = request.config.getoption("--port")
        if port is not None:
            deploy(port, request.config.getoption("--board"), stop=True)
        yield None
        return
    home = _short_home("pumpgold")
    try:
        with SimProcess(home, heap_kb=request.config.getoption("--sim-heap-kb")) as sim:
            deploy(sim.link, "sim")
        yield os.path.join(home, "flash")
    finally:
        shutil.rmtree(home, ignore_errors=True)


class RealBoard:
    """A real board on a serial port: what the fixtures need of it."""

    def __init__(self, port, rig_port=None):
        self.link = port
        self.rig_path = None
        self.rig_port = rig_port


@pytest.fixture
def board(request, on_sim, deployed_flash):
    """A freshly started board with the current firmware deployed; yields an object with .link."""
    if _lg_env(request.config):
        from host_tools.labgrid_pump.fixture import labgrid_board   # imports labgrid
        with labgrid_board(request) as b:
            reset_to_deployed(b.link)   # a place's board serves the whole session, as a real one
            yield b
        return
    if not on_sim:
        port = request.config.getoption("--port")
        reset_to_deployed(port)   # what the last test left (program, log, alarms) is gone
        yield RealBoard(port, request.config.getoption("--rig"))
        return
    speed = request.config.getoption("--sim-speed")
    build = _build_of(deployed_flash)
    for attempt in (1, 2):
        with _sim_board(request, "pump", deployed_flash, speed) as sim:
            try:
                # a byte-for-byte copy of the deployed flash: the app must come up with the build
                # the deploy wrote (a deploy that finds nothing to change is test_deploy's to prove;
                # here it would cost 1.6 s a test)
                wait_for_app(sim.link, build)
            except DeployError as e:
                if attempt == 2:
                    raise
                _print_logs(sim.home, "board fixture: the app did not come up (%s); retrying on a fresh sim" % e)
                continue
            yield sim
            return


def _build_of(flash):
    with open(os.path.join(flash, "build.json")) as f:
        return json.load(f)["build"]


@pytest.fixture
def board_with_plant(request, sim_only, deployed_flash, tmp_path):
    """board_with_plant(**changes): a deployed simulated board whose plant (the "plant" section of
    boards/sim/board.json) has these changes, e.g. calibration_error_pct=3.7. The firmware keeps
    boards/sim's board.json, so the two disagree as a pump head and its nominal figure do."""
    stack = contextlib.ExitStack()

    def start(**changes):
        path = write_board_variant(str(tmp_path / "board.json"), {"plant": changes})
        sim = stack.enter_context(_sim_board(request, "pumpplant", deployed_flash,
                                             request.config.getoption("--sim-speed"), path))
        wait_for_app(sim.link, _build_of(deployed_flash))
        return sim
    with stack:
        yield start


@pytest.fixture
def blank_sim(request):
    """A simulated board with an empty flash, as a freshly flashed MicroPython board."""
    if _lg_env(request.config):
        pytest.skip("needs a simulated board started here (labgrid's board is its place's)")
    with _sim_board(request, "pumpblank") as sim:
        yield sim


# ---- what tests talk to ---------------------------------------------------------------------
KNOWN_STATE = "stopped, no alarms, nothing delivered"


def _record_root(config):
    out = config.getoption("--record")
    return None if out is None else os.path.join(str(config.invocation_params.dir), out)


@pytest.fixture
def pump(request, board):
    """A client connected to the deployed board, which is stopped with no alarms and nothing
    delivered (a fresh sim, or a real board reset to just-deployed); the test fails at set-up
    otherwise, saying what it found. With --record DIR, the test's run is written to DIR/<test>/."""
    with PumpClient(board.link, timeout=10.0) as client:
        status = client.request("status")
        if status["state"] != "stopped" or status["alarms"] or status["delivered_ul"]:
            pytest.fail("the board is not in the known state (%s): state %s, alarms %s, %s uL delivered"
                        % (KNOWN_STATE, status["state"], status["alarms"], status["delivered_ul"]))
        root = _record_root(request.config)
        if root is None:
            yield client
            return
        from host_tools.hil_record import RunRecorder, folder_for
        node = request.node
        recorder = RunRecorder(folder_for(root, node.nodeid), client)
        recorder.sample(getattr(node, "_micropump_rig", None))
        node._micropump_recorder = recorder
        node._micropump_record_dir = recorder.folder
        yield client
        recorder.finish(getattr(node, "_micropump_rig", None))


@pytest.fixture
def rig(request, board):
    """The rig beside the board: the sim's own, or a physical rig board (--rig)."""
    if board.rig_path is not None:
        with SimRig(board.rig_path) as r:
            with _recording_rig(request, r):
                yield r
        return
    port = getattr(board, "rig_port", None) or request.config.getoption("--rig")
    if port is None:
        pytest.skip("needs a rig: " + NO_RIG_HINT)
    with SerialRig(port, max_wait_s=request.config.getoption("--rig-max-wait")) as r:
        with _recording_rig(request, r):
            yield r


@contextlib.contextmanager
def _recording_rig(request, rig):
    """With --record: a status sample after each run_for, and the last one (with the scale)
    before the rig closes, for the test's recording."""
    if _record_root(request.config) is None:
        yield
        return
    from host_tools.hil_record import wrap_run_for
    node = request.node
    node._micropump_rig = rig
    wrap_run_for(rig, lambda: getattr(node, "_micropump_recorder", None))
    yield
    node._micropump_rig = None
    recorder = getattr(node, "_micropump_recorder", None)
    if recorder is not None:
        recorder.sample(rig)
        recorder.final_taken = True
