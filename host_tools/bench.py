"""`make bench`: simulation speed as simulated seconds per wall second, against an idle baseline."""
import json
import os
import shutil
import tempfile
import time

from host_tools import paths
from host_tools.client import PumpClient
from host_tools.deploy import deploy
from host_tools.rig import SimRig
from host_tools.sim.launch import SimProcess

SIM_DAY_S = 86400


def _timed_day(rig):
    t = time.perf_counter()
    rig.run_for(SIM_DAY_S, timeout=600)
    return SIM_DAY_S / (time.perf_counter() - t)


def measure(rate_ul_h=100.0):
    home = tempfile.mkdtemp(prefix="pumpbench")
    try:
        with SimProcess(home, speed="1") as sim:
            deploy(sim.link, "sim")
            with PumpClient(sim.link) as pump, SimRig(sim.rig_path) as rig:
                idle = _timed_day(rig)  # baseline: the same loop and clock with the motor stopped
                pump.request("set_rate", rate_ul_h=rate_ul_h)
                pump.request("start")
                delivering = _timed_day(rig)
                steps = pump.request("status")["steps"]
                pump.request("stop")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return {"sim_s_per_wall_s_idle": round(idle, 1),
            "sim_s_per_wall_s_delivering": round(delivering, 1),
            "delivering_vs_idle": round(delivering / idle, 3),
            "rate_ul_h": rate_ul_h, "steps_in_a_day": steps,
            "wall_s_per_sim_day_delivering": round(SIM_DAY_S / delivering, 2)}


def main():
    results = measure()
    print("simulation speed, 24 simulated hours (speed = max):")
    print("  idle (baseline)        %10.0f sim s / wall s" % results["sim_s_per_wall_s_idle"])
    print("  delivering %5.0f uL/h  %10.0f sim s / wall s  (%.2f x idle, %d steps, %.2f wall s per sim day)"
          % (results["rate_ul_h"], results["sim_s_per_wall_s_delivering"], results["delivering_vs_idle"],
             results["steps_in_a_day"], results["wall_s_per_sim_day_delivering"]))
    os.makedirs(paths.BUILD_DIR, exist_ok=True)
    out = os.path.join(paths.BUILD_DIR, "bench-results.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
    print("written to %s" % out)


if __name__ == "__main__":
    main()
