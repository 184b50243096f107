"""`make bench`: simulation speed against an idle baseline, and the program model's heap and tick cost."""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from host_tools import paths
from host_tools.client import PumpClient
from host_tools.deploy import compile_firmware, deploy
from host_tools.program_io import confirm, upload
from host_tools.rig import SimRig
from host_tools.sim.launch import SimProcess

SIM_DAY_S = 86400


def _timed_day(rig):
    t = time.perf_counter()
    rig.run_for(SIM_DAY_S, timeout=600)
    return SIM_DAY_S / (time.perf_counter() - t)


PROBES = os.path.join(paths.REPO_DIR, "tests", "firmware")


def _probe_module(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(PROBES, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def measure(rate_ul_h=100.0):
    home = tempfile.mkdtemp(prefix="pumpbench")
    flex_week = _probe_module("heap_probe").flex_week_doc()
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
                pump.request("set_rate", rate_ul_h=0)
                # the heaviest program there is: 48 steps a day, every day different, boluses
                confirm(pump, upload(pump, flex_week))
                pump.request("start")
                before = rig.status()
                t = time.perf_counter()
                rig.run_for(SIM_DAY_S, timeout=600)
                flex_wall_s = time.perf_counter() - t
                after = rig.status()
                flash = _flash_life(after["flash_writes"] - before["flash_writes"],
                                    after["flash_bytes_written"] - before["flash_bytes_written"])
                flex_steps = pump.request("status")["steps"] - steps
                pump.request("stop")
                pump.request("program_clear")
                runaway = _runaway(pump, rig)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return {"sim_s_per_wall_s_idle": round(idle, 1),
            "sim_s_per_wall_s_delivering": round(delivering, 1),
            "delivering_vs_idle": round(delivering / idle, 3),
            "rate_ul_h": rate_ul_h, "steps_in_a_day": steps,
            "wall_s_per_sim_day_delivering": round(SIM_DAY_S / delivering, 2),
            "flex_week_wall_s_per_sim_day": round(flex_wall_s, 2),
            "flex_week_vs_idle": round((SIM_DAY_S / flex_wall_s) / idle, 3),
            "flex_week_steps_in_a_day": flex_steps,
            "runaway_rate_ul_h": 100, "runaway_over_steps": runaway[0],
            "runaway_over_ul_on_scale": runaway[1], **flash}


# littlefs on a 2 MB partition: 4 KB blocks, each write (an append copies the file's last block)
# costs about one block erase; wear levelling spreads them over the free blocks
PARTITION_BLOCKS = 512
FREE_BLOCKS = 400
ERASE_CYCLES = 100000


def _flash_life(writes_per_day, bytes_per_day):
    years = FREE_BLOCKS * ERASE_CYCLES / max(writes_per_day, 1) / 365.25
    return {"flash_writes_per_day": writes_per_day, "flash_bytes_per_day": bytes_per_day,
            "flash_life_years_2mb_littlefs": round(years, 1)}


def _runaway(pump, rig):
    """A planner fault stepping at the motor's top speed: what gets out before the guard cuts it."""
    pump.request("set_rate", rate_ul_h=100)
    pump.request("start")
    rig.run_for(600)
    steps, scale = rig.plant()["steps_moved"], rig.scale_ul()
    rig.fault("planner_runaway")
    rig.run_for(60)
    over = rig.plant()["steps_moved"] - steps
    rig.run_for(30)
    rig.fault("planner_runaway", active=False)
    return over, round(rig.scale_ul() - scale, 2)


def _micropython(args, heap_kb):
    r = subprocess.run([paths.micropython(), "-X", "heapsize=%dk" % heap_kb] + args,
                       capture_output=True, text=True, timeout=120)
    return r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()


def measure_planner():
    """Per-tick allocation and planner-only speed, on the MicroPython unix port."""
    line = subprocess.run([paths.micropython(), "-X", "heapsize=256k",
                           os.path.join(PROBES, "planner_probe.py")],
                          capture_output=True, text=True, timeout=120).stdout
    ticks = re.search(r"ticks=(\d+) bytes_per_tick=(\S+)", line)
    day = re.search(r"sim_day steps=(\d+) wakes=(\d+) seconds=([\d.]+)", line)
    return {"planner_ticks_measured": int(ticks.group(1)),
            "planner_bytes_per_tick": float(ticks.group(2)),
            "planner_only_steps_in_a_day": int(day.group(1)),
            "planner_only_wall_s_per_sim_day": float(day.group(3))}


def measure_heap():
    """The heap a 48-step weekly program needs on the pump: code, what stays, the smallest heap."""
    out = os.path.join(paths.BUILD_DIR, "mpy")
    compile_firmware()                                   # the .mpy files a deploy would copy
    wire = os.path.join(paths.BUILD_DIR, "bench-wire.jsonl")
    _probe_module("heap_probe").write_wire(wire, paths.FIRMWARE_DIR)
    args = [os.path.join(PROBES, "heap_probe.py"), wire, paths.REPO_DIR, out]
    lo, hi = 64, 512                                     # KB: fails at lo, works at hi
    if not _micropython(args, hi).endswith(" ok"):
        raise RuntimeError("the heap probe fails even with %d KB: %s" % (hi, _micropython(args, hi)))
    while hi - lo > 4:
        mid = (lo + hi) // 2
        if _micropython(args, mid).endswith(" ok"):
            hi = mid
        else:
            lo = mid
    figures = dict(kv.split("=") for kv in _micropython(args, hi).split() if "=" in kv)
    code = int(figures["code"])
    return {"heap_min_kb_for_48_step_week": hi, "heap_code_kb": round(code / 1024, 1),
            "heap_data_kb_needed": round(hi - code / 1024, 1),
            "heap_program_retained_kb": round(int(figures["retained"]) / 1024, 1),
            "heap_data_budget_kb": 128}


def main():
    results = measure_planner()
    print("planner (MicroPython unix port):")
    print("  allocation per control tick in steady state  %g bytes (over %d ticks)"
          % (results["planner_bytes_per_tick"], results["planner_ticks_measured"]))
    print("  one day of a 48-step flex week with boluses  %.3f wall s (%d steps), planner alone"
          % (results["planner_only_wall_s_per_sim_day"], results["planner_only_steps_in_a_day"]))
    results.update(measure_heap())
    print("heap for a 48-step weekly program (7 different days, periodic boluses):")
    print("  firmware bytecode once imported  %6.1f KB  (a board keeps it frozen in flash)"
          % results["heap_code_kb"])
    print("  smallest heap that loads, reviews, digests, reads back and runs it  %d KB"
          % results["heap_min_kb_for_48_step_week"])
    print("  data needed above the bytecode   %6.1f KB  of a %d KB target: %.0f%%"
          % (results["heap_data_kb_needed"], results["heap_data_budget_kb"],
             100 * results["heap_data_kb_needed"] / results["heap_data_budget_kb"]))
    print("  kept by the applied program and its planner  %.1f KB" % results["heap_program_retained_kb"])
    results.update(measure())
    print("simulation speed, 24 simulated hours (speed = max):")
    print("  idle (baseline)        %10.0f sim s / wall s" % results["sim_s_per_wall_s_idle"])
    print("  delivering %5.0f uL/h  %10.0f sim s / wall s  (%.2f x idle, %d steps, %.2f wall s per sim day)"
          % (results["rate_ul_h"], results["sim_s_per_wall_s_delivering"], results["delivering_vs_idle"],
             results["steps_in_a_day"], results["wall_s_per_sim_day_delivering"]))
    print("  48-step flex week with periodic boluses: %.2f wall s per sim day (%.2f x idle speed, %d steps)"
          % (results["flex_week_wall_s_per_sim_day"], results["flex_week_vs_idle"],
             results["flex_week_steps_in_a_day"]))
    print("over-delivery guard, a planner fault stepping at 200 steps/s during 100 uL/h:")
    print("  %d steps (%.2f uL on the scale) got out before the cut"
          % (results["runaway_over_steps"], results["runaway_over_ul_on_scale"]))
    print("flash wear, one simulated day of the flex week (journal every 60 s, bolus edges, log):")
    print("  %d writes, %d bytes a day; at one 4 KB block erase a write over %d free blocks of a"
          % (results["flash_writes_per_day"], results["flash_bytes_per_day"], FREE_BLOCKS))
    print("  2 MB littlefs partition (%d blocks), %d cycles each: %.0f years"
          % (PARTITION_BLOCKS, ERASE_CYCLES, results["flash_life_years_2mb_littlefs"]))
    os.makedirs(paths.BUILD_DIR, exist_ok=True)
    out = os.path.join(paths.BUILD_DIR, "bench-results.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
    print("written to %s" % out)


if __name__ == "__main__":
    main()
