"""make demo: a simulated board, deployed and delivering, with a live view that ends cleanly."""
import shutil
import subprocess
import tempfile
from cli_runner import pumpctl_argv


def test_the_demo_shows_the_pump_delivering_and_stops_it_at_the_end():
    home = tempfile.mkdtemp(prefix="pumpdemo")
    try:
        result = subprocess.run(pumpctl_argv() + ["demo", "--home", home,
                                 "--speed", "600", "--rate", "600", "--duration", "4"],
                                capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert result.returncode == 0, result.stderr
    assert "NOT a medical device" in result.stdout
    views = [l for l in result.stdout.splitlines() if l.startswith("sim time")]
    assert len(views) >= 3
    assert "running" in views[-1]
    delivered = float(result.stdout.rsplit("stopped; delivered", 1)[1].split()[0])
    assert delivered > 0


def test_a_demo_starts_after_one_that_ended_in_a_latched_occlusion():
    """The sim's flash keeps the last demo's alarms: the next demo starts from the pump as
    deployed, not from a high alarm that refuses its start."""
    from host_tools.client import PumpClient
    from host_tools.program_io import local_wall_ms
    from host_tools.rig import SimRig
    from host_tools.sim.launch import SimProcess
    home = tempfile.mkdtemp(prefix="pumpdemo")
    demo = pumpctl_argv() + ["demo", "--home", home, "--speed", "600", "--duration", "2"]
    try:
        first = subprocess.run(demo, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        with SimProcess(home, speed="max") as sim, PumpClient(sim.link) as pump, SimRig(sim.rig_path) as rig:
            pump.request("time_sync", time_ms=local_wall_ms())   # a restarted sim has no time of day
            pump.request("start")
            rig.occlude()
            for _ in range(60):
                rig.run_for(300)
                if "occlusion" in [a["code"] for a in pump.request("alarms")["alarms"]]:
                    break
            assert pump.request("status")["state"] == "stopped"
            assert "occlusion" in [a["code"] for a in pump.request("alarms")["alarms"]]
        second = subprocess.run(demo, capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert second.returncode == 0, second.stdout + second.stderr
    views = [l for l in second.stdout.splitlines() if l.startswith("sim time")]
    assert views and "running" in views[-1]
