"""make demo in a real terminal (tmux): the dashboard draws every panel, and its keys act on the sim board."""
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Tmux:
    """One tmux server of our own (-L), so the test never touches a person's sessions."""

    def __init__(self, command, width=140, height=45):
        tmux = shutil.which("tmux")
        if tmux is None:
            pytest.fail("tmux is not installed: the dashboard must be checked in a real terminal; "
                        "install tmux (apt-get install tmux, brew install tmux) and run again")
        self.argv = [tmux, "-L", "pumpdash-%s" % uuid.uuid4().hex[:8]]
        subprocess.run(self.argv + ["new-session", "-d", "-x", str(width), "-y", str(height), "-s", "dash",
                                    command], check=True)

    def screen(self):
        r = subprocess.run(self.argv + ["capture-pane", "-p", "-t", "dash"], capture_output=True, text=True)
        return r.stdout

    def keys(self, *keys):
        subprocess.run(self.argv + ["send-keys", "-t", "dash"] + list(keys), check=True)

    def wait_for(self, *texts, timeout=20.0):
        """The screen once it shows any of texts; fails with the last screen if none comes."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if any(t in screen for t in texts):
                return screen
            if time.monotonic() > deadline:
                pytest.fail("the screen never showed %r within %.0f s; it shows:\n%s" % (texts, timeout, screen))
            time.sleep(0.25)

    def kill(self):
        subprocess.run(self.argv + ["kill-server"], capture_output=True)


def message_line(screen):
    return next((l for l in screen.splitlines() if l.startswith(" > ")), "")


def test_the_demo_dashboard_in_a_real_terminal_shows_its_panels_and_answers_its_keys(tmp_path):
    env = "PYTHONPATH=%s PUMPCTL_KEYS=%s" % (shlex.quote(REPO), shlex.quote(str(tmp_path / "keys")))
    demo = "%s -m host_tools.cli demo --home %s --speed 600" % (shlex.quote(sys.executable),
                                                                shlex.quote(str(tmp_path / "sim")))
    # after the demo ends, its exit status and last lines stay on the screen to be read
    # -u COLUMNS/LINES: a size inherited from the test runner would override the 140x45 pane for rich
    command = "cd %s && env -u COLUMNS -u LINES %s %s; echo \"demo exit=$?\"; sleep 120" % (shlex.quote(REPO), env, demo)
    term = Tmux(command)
    try:
        screen = term.wait_for("event log", timeout=45)
        for panel in ("pump", "RUNNING", "Flex week with boluses", "reservoir", "refill by", "program: 24 h",
                      "now", "delivered vs programmed", "programmed", "scale", "pressure", "threshold",
                      "step response", "alarms", "no alarms", "event log", "b  demand bolus", "speed x600",
                      "NOT a medical device"):
            assert panel in screen, panel

        term.keys("b")
        assert "demand bolus given" in message_line(term.wait_for("demand bolus given"))
        # pressed again until the 10 min bolus is over (one bolus at a time): then the 60 min
        # lockout refuses it; read off the screen, not timed, so a slow machine only waits longer
        deadline = time.monotonic() + 30
        while True:
            time.sleep(0.5)
            term.keys("b")
            line = message_line(term.wait_for("demand bolus refused"))
            if "locked out" in line or time.monotonic() > deadline:
                break
            assert "one bolus at a time" in line, line
        assert "locked out" in line, line

        term.keys("o")
        screen = term.wait_for(" HIGH ", timeout=30)
        assert "occlusion" in screen and "OCCLUDED" in screen and "STOPPED" in screen

        term.keys("c")
        term.wait_for("occlusion cleared")
        term.wait_for("when the line cleared", timeout=20)    # the pump saw it clear: the bolus it let go
        term.keys("a")
        term.wait_for("acknowledged: occlusion")
        screen = term.wait_for("no alarms", timeout=10)
        assert " HIGH " not in screen
        term.keys("s")
        term.wait_for("started", "RUNNING", timeout=10)
        assert "RUNNING" in term.wait_for("RUNNING", timeout=10)

        term.keys("q")
        screen = term.wait_for("demo exit=", timeout=20)
        assert "stopped; delivered" in screen and "demo exit=0" in screen
        assert "event log" not in screen    # the full-screen view is gone: the terminal is back
    finally:
        term.kill()
