"""The simulated board behaves like a board: resets, watchdog, power cuts, heap, and mpremote access."""
import os
import subprocess
import time

from host_tools import paths
from host_tools.client import PumpClient
from host_tools.deploy import wait_for_app
from host_tools.sim.supervisor import SIM_HEAP_KB


def mpremote(link, *args, timeout=30):
    return subprocess.run([paths.mpremote(), "connect", link] + list(args),
                          capture_output=True, text=True, timeout=timeout)


def _service(pump):
    pump.request("service")
    time.sleep(0.5)  # the board resets into the REPL



def test_mpremote_resume_exec_works_against_a_running_sim_board(blank_sim):
    result = mpremote(blank_sim.link, "resume", "exec", "print(6*7)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "42"


def test_mpremote_soft_reset_before_exec_comes_back_in_the_raw_repl(blank_sim):
    result = mpremote(blank_sim.link, "exec", "import machine; print(machine.reset_cause() == machine.SOFT_RESET)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_the_heap_is_limited_like_a_real_target(request, blank_sim):
    # the heap the board was given: the sim's default, or --sim-heap-kb (make bench-heap shrinks it)
    heap_kb = request.config.getoption("--sim-heap-kb") or SIM_HEAP_KB
    result = mpremote(blank_sim.link, "resume", "exec", "import gc; gc.collect(); print(gc.mem_free() + gc.mem_alloc())")
    assert result.returncode == 0, result.stderr
    assert (heap_kb - 8) * 1024 <= int(result.stdout) <= heap_kb * 1024


def test_a_soft_reset_through_mpremote_brings_the_app_back(board, pump, sim_only):
    # A person in `mpremote repl` presses Ctrl-D at the friendly prompt: main.py runs again.
    _service(pump)
    pump.close()
    import pty
    master, slave = pty.openpty()
    proc = subprocess.Popen([paths.mpremote(), "connect", board.link, "resume", "repl"],
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    try:
        time.sleep(1.0)
        os.write(master, b"\r\x04")
        time.sleep(1.0)
        os.write(master, b"\x1d")  # Ctrl-] leaves mpremote's repl
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    hello = wait_for_app(board.link, timeout=10)
    assert hello["reset_cause"] == "soft"


def test_a_power_cut_keeps_the_deployed_files(board, pump, rig, sim_only):
    build = pump.request("hello")["build"]
    pump.request("set_rate", rate_ul_h=100)
    pump.request("start")
    rig.run_for(60)
    pump.close()  # one program at a time on a serial port
    rig.power_cut()
    assert rig.status()["powered"] is False
    rig.power_on(off_s=300)
    hello = wait_for_app(board.link, timeout=10)
    assert hello["build"] == build
    assert hello["reset_cause"] == "power_on"
    with PumpClient(board.link) as again:
        # the journal on flash brings the rate back, and delivery resumes (docs/persistence.md)
        status = again.request("status")
        assert status["state"] == "running" and status["rate_ul_h"] == 100


def test_watchdog_expiry_restarts_the_board_with_the_watchdog_cause(board, pump, rig, sim_only):
    _service(pump)
    pump.close()
    # In the REPL nothing feeds a watchdog started by hand: it must bite and reset the board.
    result = mpremote(board.link, "exec", "import machine; machine.WDT(timeout=500); print('armed')")
    assert result.returncode == 0, result.stderr
    hello = wait_for_app(board.link, timeout=15)
    assert hello["reset_cause"] == "watchdog"
    assert rig.status()["reset_cause"] == "watchdog"


def test_machine_reset_restarts_the_app_with_the_hard_reset_cause(board, pump, sim_only):
    _service(pump)
    pump.close()
    result = mpremote(board.link, "reset")
    assert result.returncode == 0, result.stderr
    hello = wait_for_app(board.link, timeout=10)
    assert hello["reset_cause"] == "hard"


def test_run_for_zero_holds_the_sim_clock_where_it_is_and_returns_at_once(board, pump, rig, sim_only):
    start = time.monotonic()
    held = rig.run_for(0, timeout=10)
    assert time.monotonic() - start < 5
    time.sleep(0.5)                              # at speed 1 the clock would move 0.5 s
    assert rig.run_for(0, timeout=10) == held
