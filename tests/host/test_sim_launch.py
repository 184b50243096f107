"""A simulated board started by SimProcess never outlives the process that started it."""
import os
import signal
import subprocess
import sys
import time

from host_tools import paths

OWNER = ("import sys, time\n"
         "from host_tools.sim.launch import SimProcess\n"
         "sim = SimProcess(sys.argv[1])\n"
         "print(sim.proc.pid, flush=True)\n"
         "time.sleep(600)\n")


def _live_pids_mentioning(text):
    """Processes (not zombies) whose command line holds text: a sim is found by its home."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmdline = f.read().decode(errors="replace")
            with open("/proc/%s/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(pid))
    return found


def test_a_sim_ends_when_the_process_that_started_it_is_killed(tmp_path):
    home = str(tmp_path / "sim")
    owner = subprocess.Popen([sys.executable, "-c", OWNER, home], stdout=subprocess.PIPE, text=True,
                             cwd=paths.REPO_DIR)
    try:
        sim_pid = int(owner.stdout.readline())
        assert sim_pid in _live_pids_mentioning(home)     # the supervisor and its board run
        os.kill(owner.pid, signal.SIGKILL)                 # no finally, no __exit__: a closed terminal
        owner.wait()
        deadline = time.monotonic() + 20
        while _live_pids_mentioning(home) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _live_pids_mentioning(home) == []
    finally:
        owner.kill()
        for pid in _live_pids_mentioning(home):
            os.kill(pid, signal.SIGKILL)
