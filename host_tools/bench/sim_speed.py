"""Simulation speed for a day of the 48-step flex week at 1 Hz pressure monitoring, against an idle day.

One sim board, deployed through the real path, then booted with the monitored board file
(host_tools/bench/monitored_board.py). At speed max the rig runs 24 simulated hours:
  - idle (the baseline): the same firmware, loop and clock with the motor stopped;
  - the flex week (tests/firmware/heap_probe.py flex_week_doc: 48 steps a day, every weekday
    different, a periodic bolus every 2 h), confirmed and started as a host does.
The same day gives the flash writes (against the idle day's) and, after it, the over-delivery
guard's cut of a planner runaway (against a healthy minute).
"""
import os
import shutil
import tempfile
import time

from host_tools.bench import monitored_board
from host_tools.bench.probes import flex_week_doc
from host_tools.bench.figures import Figure, Target
from host_tools.client import PumpClient
from host_tools.deploy import deploy, wait_for_app
from host_tools.program_io import confirm, upload
from host_tools.rig import SimRig
from host_tools.sim.launch import SimProcess

SIM_DAY_S = 86400
SPEED_TARGET = 10000          # issue 8: the simulation runs at 10,000x real time or more
RUNAWAY_RATE_UL_H = 100
# littlefs on a 2 MB partition: 4 KB blocks, each write (an append copies the file's last block)
# costs about one block erase; wear levelling spreads them over the free blocks
FREE_BLOCKS = 400
ERASE_CYCLES = 100000


def _own_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime


def _children(pid):
    out = []
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, task)) as f:
            out += [int(c) for c in f.read().split()]
    return out


def _cpu_split(sim_pid):
    """CPU seconds so far of the supervisor and of the board process under it (the MicroPython
    unix port), or None off Linux."""
    try:
        return _own_cpu_s(sim_pid), sum(_own_cpu_s(c) for c in _children(sim_pid))
    except (OSError, IndexError, ValueError):
        return None


def _timed_day(rig, sim_pid):
    """One simulated day at speed max: wall time, the CPU time of the sim's two processes (less
    affected than wall time by other work on a shared machine), readings, flash writes."""
    before = rig.status()
    cpu = _cpu_split(sim_pid)
    t = time.perf_counter()
    rig.run_for(SIM_DAY_S, timeout=600)
    wall = time.perf_counter() - t
    cpu_after = _cpu_split(sim_pid)
    after = rig.status()
    split = None if cpu is None or cpu_after is None else [b - a for a, b in zip(cpu, cpu_after)]
    return {"speed": SIM_DAY_S / wall, "wall_s": wall,
            "cpu_s": None if split is None else {"supervisor": split[0], "board": split[1]},
            "reads": after["pressure_reads"] - before["pressure_reads"],
            "flash_writes": after["flash_writes"] - before["flash_writes"],
            "flash_bytes": after["flash_bytes_written"] - before["flash_bytes_written"]}


def _runaway(pump, rig):
    """Steps moved in a healthy minute at 100 uL/h, then in the minute after a planner fault
    starts stepping at the motor's top speed (the guard cuts it), and the scale's volume then."""
    pump.request("set_rate", rate_ul_h=RUNAWAY_RATE_UL_H)
    pump.request("start")
    rig.run_for(540)
    s0 = rig.plant()["steps_moved"]
    rig.run_for(60)
    s1, scale = rig.plant()["steps_moved"], rig.scale_ul()
    rig.fault("planner_runaway")
    rig.run_for(60)
    over = rig.plant()["steps_moved"] - s1
    rig.run_for(30)
    rig.fault("planner_runaway", active=False)
    return {"healthy_steps": s1 - s0, "runaway_steps": over, "runaway_ul": rig.scale_ul() - scale}


def measure(say=print):
    """The raw figures of one run: {"idle": day, "flex": day, "flex_steps", "runaway": {...}}."""
    home = tempfile.mkdtemp(prefix="pumpbench")
    flex = flex_week_doc()
    try:
        with SimProcess(home, speed="1") as sim:
            say("deploying the firmware to a fresh sim board")
            deploy(sim.link, "sim")
            monitored_board.install(sim.flash)
            with SimRig(sim.rig_path) as rig:
                rig.reset_button()       # boot with the monitored board file
                wait_for_app(sim.link)
                with PumpClient(sim.link) as pump:
                    say("24 simulated hours idle (the baseline)")
                    idle = _timed_day(rig, sim.proc.pid)
                    say("  %.0f x real time" % idle["speed"])
                    say("24 simulated hours of the 48-step flex week, pressure at 1 Hz")
                    confirm(pump, upload(pump, flex))
                    pump.request("start")
                    steps = pump.request("status")["steps"]
                    day = _timed_day(rig, sim.proc.pid)
                    day_steps = pump.request("status")["steps"] - steps
                    say("  %.0f x real time, %d steps, %d pressure readings"
                        % (day["speed"], day_steps, day["reads"]))
                    pump.request("stop")
                    pump.request("program_clear")
                    say("planner runaway against the over-delivery guard")
                    runaway = _runaway(pump, rig)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return {"idle": idle, "flex": day, "flex_steps": day_steps, "runaway": runaway}


def _cpu_text(day):
    cpu = day.get("cpu_s")
    if cpu is None:
        return "CPU time unknown"
    total = cpu["supervisor"] + cpu["board"]
    return "CPU: %.1f s in the board's MicroPython, %.1f s in the supervisor; %.0f x real time per CPU s" % (
        cpu["board"], cpu["supervisor"], SIM_DAY_S / max(total, 1e-9))


def figures(m):
    idle, day, run = m["idle"], m["flex"], m["runaway"]
    years = FREE_BLOCKS * ERASE_CYCLES / max(day["flash_writes"], 1) / 365.25
    return [
        Figure("sim_speed_flex_1hz", "24 h of the 48-step flex week, pressure read at 1 Hz",
               day["speed"], "x real time", idle["speed"],
               "idle: the same board and firmware, motor stopped, 24 simulated h",
               target=Target(">=", SPEED_TARGET),
               note="%d steps and %d pressure readings (%.2f Hz) in the simulated day, %.1f wall s "
                    "(%s); the idle day took %.1f wall s (%s)"
                    % (m["flex_steps"], day["reads"], day["reads"] / SIM_DAY_S, day["wall_s"],
                       _cpu_text(day), idle["wall_s"], _cpu_text(idle))),
        Figure("flash_writes_flex_day", "flash writes in a day of the flex week", day["flash_writes"],
               "writes", idle["flash_writes"], "an idle day",
               note="%d bytes a day; at one 4 KB block erase a write over %d free blocks of a 2 MB "
                    "littlefs partition, %d cycles each: %.0f years"
                    % (day["flash_bytes"], FREE_BLOCKS, ERASE_CYCLES, years)),
        Figure("runaway_steps", "steps moved in the minute after a planner runaway", run["runaway_steps"],
               "steps", run["healthy_steps"], "the healthy minute before it, at %d uL/h" % RUNAWAY_RATE_UL_H,
               note="the fault steps at the motor's top speed; the over-delivery guard cut the motor "
                    "with %.2f uL on the scale" % run["runaway_ul"]),
    ]
