"""Start and stop a simulated board as a child process (for tests, the demo and benchmarks)."""
import os
import signal
import subprocess
import sys
import threading
import time

from host_tools.sim.supervisor import SIM_HEAP_KB, SimError

_READY = "sim board ready:"


def _end_with_parent():
    """In the child, before it runs: Linux sends it SIGTERM (its normal stop) when the process
    that started it dies, so a closed terminal or a killed test run leaves no sim behind. The
    sim has its own session, so nothing else would reach it. Elsewhere this does nothing."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class SimProcess:
    """A running `pumpctl sim`: its link path, rig socket and flash folder."""

    def __init__(self, home, link=None, speed="1", heap_kb=None, board_file=None, seed=0, timeout=15.0):
        self.home = os.path.abspath(home)
        os.makedirs(self.home, exist_ok=True)
        self.link = os.path.abspath(link or os.path.join(self.home, "tty"))
        self.rig_path = os.path.join(self.home, "rig.sock")
        self.flash = os.path.join(self.home, "flash")
        cmd = [sys.executable, "-m", "host_tools.cli", "sim", "--home", self.home, "--link", self.link,
               "--speed", str(speed), "--heap-kb", str(heap_kb or SIM_HEAP_KB), "--seed", str(seed), "--verbose"]
        if board_file:
            cmd += ["--board-file", board_file]
        self.log_path = os.path.join(self.home, "supervisor.log")
        self._log = open(self.log_path, "ab")
        # Its own session: Ctrl-C in the terminal reaches the caller, which shuts the sim down in order.
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log, start_new_session=True,
                                     preexec_fn=_end_with_parent)
        self._wait_ready(timeout)

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                self.stop()
                raise SimError("the simulator exited before it was ready; see %s" % self.log_path)
            self._log.write(line)
            self._log.flush()
            if line.decode().startswith(_READY):
                # Keep draining its stdout into the log so it never blocks on a full pipe.
                threading.Thread(target=self._drain, daemon=True).start()
                return
        self.stop()
        raise SimError("the simulator did not become ready within %.0f s" % timeout)

    def _drain(self):
        for line in self.proc.stdout:
            self._log.write(line)
            self._log.flush()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
