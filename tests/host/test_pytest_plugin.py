"""The pytest plugin, as a project using it sees it: registered by entry point, its markers skip
with the reason, its JUnit XML names the setup, and xdist workers get boards of their own."""
import importlib.metadata
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

HIL_FILE = '''
import json, os, time
import pytest

@pytest.mark.needs_rig("teleport")
def test_needs_a_feature_no_rig_has(pump):
    raise AssertionError("ran without the rig feature it needs")

@pytest.mark.needs_rig("occlude")
@pytest.mark.needs_scale
def test_needs_what_the_sim_rig_has(pump, rig):
    assert rig.scale_ul() == 0

def _meet(me, other, board, pump):
    # written while this board is up, then both wait for each other: the two boards run at once
    out = os.environ["PLUGIN_OUT"]
    with open(os.path.join(out, me + ".json"), "w") as f:
        json.dump({"link": os.path.realpath(board.link), "rig": board.rig_path,
                   "worker": os.environ.get("PYTEST_XDIST_WORKER")}, f)
    deadline = time.monotonic() + 120
    while not os.path.exists(os.path.join(out, other + ".json")):
        assert time.monotonic() < deadline, "the other board never ran at the same time"
        time.sleep(0.1)
    assert pump.request("status")["state"] == "stopped"

@pytest.mark.xdist_group("a")
def test_board_a(board, pump):
    _meet("a", "b", board, pump)

@pytest.mark.xdist_group("b")
def test_board_b(board, pump):
    _meet("b", "a", board, pump)
'''


def _run_pytest(tmp_path, *args):
    test_file = tmp_path / "test_uses_the_plugin.py"
    test_file.write_text(HIL_FILE)
    junit = tmp_path / "junit.xml"
    env = dict(os.environ, PLUGIN_OUT=str(tmp_path))
    # a project of its own: no conftest, no -p; only the installed entry point brings the plugin
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                        "--junitxml", str(junit), str(test_file)] + list(args),
                       cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600)
    return r, ET.parse(str(junit)).getroot()


def _cases(root):
    return {c.get("name"): c for c in root.iter("testcase")}


def test_the_plugin_is_registered_through_the_pytest11_entry_point():
    eps = importlib.metadata.entry_points(group="pytest11")
    assert [ep.value for ep in eps if ep.name == "micropump"] == ["host_tools.pytest_plugin"]


def test_two_xdist_workers_each_get_a_board_of_their_own_and_markers_skip_with_the_reason(tmp_path):
    # one xdist group per worker: the two board tests wait for each other, so both boards are up at once
    r, root = _run_pytest(tmp_path, "-n", "2", "--dist", "loadgroup")
    assert r.returncode == 0, r.stdout + r.stderr
    cases = _cases(root)
    skipped = cases["test_needs_a_feature_no_rig_has"].find("skipped")
    assert skipped is not None and "teleport" in skipped.get("message"), skipped
    assert cases["test_needs_what_the_sim_rig_has"].find("skipped") is None
    assert cases["test_needs_what_the_sim_rig_has"].find("failure") is None
    one, two = (json.loads((tmp_path / (name + ".json")).read_text()) for name in ("a", "b"))
    # two workers, two boards up at the same time, nothing shared: own pty, own rig socket
    assert one["worker"] != two["worker"], (one, two)
    assert one["link"] != two["link"] and one["rig"] != two["rig"], (one, two)
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["micropump_board"] == "sim" and "simulated board" in props["micropump_setup"], props


def test_a_real_board_without_a_rig_skips_rig_tests_before_touching_the_board(tmp_path):
    # the port does not exist: a test that reached the board would error, not skip
    r, root = _run_pytest(tmp_path, "--port", str(tmp_path / "no-such-port"), "--board", "rp2_pico",
                          "-k", "needs")
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ("test_needs_a_feature_no_rig_has", "test_needs_what_the_sim_rig_has"):
        skipped = _cases(root)[name].find("skipped")
        assert skipped is not None and "pass --rig" in skipped.get("message"), (name, r.stdout)
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert "rp2_pico" in props["micropump_setup"] and "no rig" in props["micropump_setup"], props


def test_refuses_parallel_workers_on_one_real_board_port(tmp_path):
    (tmp_path / "test_x.py").write_text("def test_x(pump):\n    pass\n")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
                        "--port", "/dev/ttyACM0", "test_x.py"],
                       cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    assert r.returncode == 4, r.stdout + r.stderr          # pytest's usage error
    assert "a real board is one board" in r.stderr, r.stderr
