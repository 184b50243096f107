"""A labgrid lab on loopback: coordinator, exporter of two simulated boards as places, and HIL tests through labgrid's pytest plugin."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from host_tools import paths

LG_BIN = os.path.join(paths.BUILD_DIR, "labgrid-venv", "bin")
ENV_YAML = os.path.join(paths.REPO_DIR, "labgrid", "sim-board.yaml")
PLACES = ("sim-1", "sim-2")
EXPORTER = "ci-farm"
# the quick HIL tests that use the board, the pump app and the rig (scale, simulated time)
HIL_SUBSET = ["hil_tests/test_delivery.py"]
HIL_SUBSET_COUNT = 4


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Lab:
    """The processes of the lab, each logging to a file in home; stop() ends them all."""

    def __init__(self, home):
        self.home = home
        self.procs = []
        self.logs = []
        self.coordinator = "127.0.0.1:%d" % _free_port()
        self.env = dict(os.environ, LG_COORDINATOR=self.coordinator,
                        PUMPCTL_KEYS=os.path.join(home, "keys"))   # the pumps' keys stay in the lab

    def start(self, name, argv, cwd=None):
        log = os.path.join(self.home, name + ".log")
        self.logs.append(log)
        with open(log, "wb") as out:
            proc = subprocess.Popen(argv, cwd=cwd or self.home, env=self.env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, proc))
        return proc, log

    def client(self, *args, place=None, check=True):
        argv = [os.path.join(LG_BIN, "labgrid-client")] + (["-p", place] if place else []) + list(args)
        r = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError("labgrid-client %s failed (%d):\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r.stdout

    def stop(self):
        for _, proc in reversed(self.procs):   # exporter before the boards it exports
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def show_logs(self):
        sims = os.path.join(self.home, "sims")
        for place in PLACES:
            for name in ("supervisor.log", "board.log"):
                self.logs.append(os.path.join(sims, place, name))
        for log in self.logs:
            if os.path.exists(log):
                with open(log, errors="replace") as f:
                    tail = f.readlines()[-40:]
                print("---- %s (last %d lines) ----\n%s" % (log, len(tail), "".join(tail)))


def _wait_for(what, check, timeout, procs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in procs:
            if proc.poll() is not None:
                raise AssertionError("%s exited (%s) while waiting for %s" % (name, proc.returncode, what))
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("%s: not within %.0f s" % (what, timeout))


def _read(path):
    with open(path, errors="replace") as f:
        return f.read()


@pytest.fixture
def lab():
    if subprocess.run(["make", "-s", "labgrid-venv"], cwd=paths.REPO_DIR).returncode != 0:
        pytest.fail("make labgrid-venv failed: the labgrid venv (build/labgrid-venv) could not be built")
    home = tempfile.mkdtemp(prefix="lglab")   # short: the sims' unix socket paths live under it
    lab = _Lab(home)
    ok = False
    try:
        coordinator, _ = lab.start("coordinator", [os.path.join(LG_BIN, "labgrid-coordinator"), "-l", lab.coordinator])
        config = os.path.join(home, "exporter.yaml")
        farm, farm_log = lab.start("farm", [sys.executable, "-m", "host_tools.sim.farm", "--boards", str(len(PLACES)),
                                            "--home", os.path.join(home, "sims"), "--first-port", "0",
                                            "--config", config], cwd=paths.REPO_DIR)
        _wait_for("the sim farm", lambda: "sim farm ready" in _read(farm_log), 30, lab.procs)
        lab.start("exporter", [os.path.join(LG_BIN, "labgrid-exporter"), "-c", lab.coordinator, "-n", EXPORTER, config])

        def exported():
            out = lab.client("resources", check=False)
            return all("%s/%s/" % (EXPORTER, p) in out for p in PLACES)
        _wait_for("the exporter's resources on the coordinator", exported, 30, lab.procs)
        for place in PLACES:
            lab.client("create", place=place)
            lab.client("add-match", "%s/%s/*" % (EXPORTER, place), place=place)
        yield lab
        ok = True
    finally:
        lab.stop()
        if not ok:
            lab.show_logs()
        shutil.rmtree(home, ignore_errors=True)


def _run_place(lab, place, results):
    """Acquire the place, run the HIL subset on it through labgrid's plugin, release it."""
    lab.client("acquire", place=place)
    try:
        argv = [os.path.join(LG_BIN, "python"), "-m", "pytest", "-p", "no:cacheprovider", "-q",
                "-W", "ignore::DeprecationWarning", "--lg-env", ENV_YAML] + HIL_SUBSET
        results[place] = subprocess.run(argv, cwd=paths.REPO_DIR, env=dict(lab.env, LG_PLACE=place),
                                        capture_output=True, text=True, timeout=150)
    finally:
        lab.client("release", place=place)


def test_the_hil_subset_passes_through_labgrid_on_each_of_two_exported_sim_places_which_are_released_after(lab):
    results = {}
    # the two places at once, as two CI jobs of a lab would take them
    threads = [threading.Thread(target=_run_place, args=(lab, place, results)) for place in PLACES]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        for place in PLACES:
            r = results.get(place)
            assert r is not None, "%s: the run did not finish (see the errors above)" % place
            assert r.returncode == 0 and "%d passed" % HIL_SUBSET_COUNT in r.stdout, \
                "%s:\n%s%s" % (place, r.stdout[-3000:], r.stderr[-2000:])
            # the firmware went onto the exported board, not onto a sim the tests started themselves
            assert os.path.exists(os.path.join(lab.home, "sims", place, "flash", "main.py")), place
            shown = lab.client("show", place=place)
            assert "acquired: None" in shown, shown
    except AssertionError:
        for place, r in results.items():
            print("---- pytest on %s ----\n%s%s" % (place, r.stdout[-3000:], r.stderr[-2000:]))
        lab.show_logs()
        raise
