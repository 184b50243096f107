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
