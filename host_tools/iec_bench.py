"""The IEC 60601-2-24 bench: flow accuracy, trumpet curves and occlusion, on the sim or a real board + rig.

Run: python -m host_tools.iec_bench [--out DIR] [--parts accuracy,intrathecal,occlusion]
                                    [--port P --rig R --board NAME]
Default: a fresh simulated board, deployed here, a new copy of it for every run. The report
(CSV tables, PNG plots, summary.json) goes to build/iec/. docs/iec-bench.md says what is measured
and how to read it.
"""
import argparse
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import time

from host_tools import paths, program_file
from host_tools.client import DeviceError, LinkError, PumpClient
from host_tools.deploy import DeployError, deploy, wait_for_app
from host_tools.iec_analysis import STANDARD_WINDOWS_MIN, AnalysisError, analyse
from host_tools.iec_method import alarm_time_bound_s, clock, gravimetric_run, occlusion_run
from host_tools.iec_report import trumpet_rows, write_occlusion, write_run
from host_tools.rig import RigError, SerialRig, SimRig
from host_tools.sim.board_variant import write_board_variant
from host_tools.sim.launch import SimProcess
from host_tools.sim.plant import PlantConfigError, validate_params
from host_tools.sim.supervisor import SimError

PROG = "iec_bench"
PARTS = ("accuracy", "intrathecal", "occlusion")
# the standard's intermediate rate for syringe pumps; the sim board's top rate is exactly this
INTERMEDIATE_UL_H = 5000.0
INTRATHECAL_UL_H = 500.0 / 24          # 0.5 mL/day
# docs/safety.md's and host_tools/bench_occlusion.py's rates, with the intermediate rate on top
OCCLUSION_RATES = ("5 mL/h", "0.5 mL/h", "1 mL/day", "0.5 mL/day", "0.1 mL/day")
# beside the standard's windows, hours: at intrathecal rates a 2 min window holds a few steps
LONG_WINDOWS_MIN = (60, 120, 240, 480)
# one detector alone: the other's alarm set at the schema's maximum, which the sim line cannot
# reach (its motor stalls at 300 kPa, 150 uL held back, long before 2000 kPa or 1000 uL)
DETECTOR_ONLY = {"threshold": {"alarm_after_ul": 1000}, "model": {"threshold_kpa": 2000}}
BOLUS_LIMIT_UL = 500.0                 # IEC 60601-2-24, external pumps: 0.5 mL
ACCURACY_LIMIT_PCT = 5.0               # external pumps' claim (DESIGN.md section 4)


class UsageError(Exception):
    """A bad command line: the message says what to change."""


# ---- boards ------------------------------------------------------------------------------------

def board_config(name):
    """The firmware's cleaned view of boards/<name>/board.json (defaults filled in)."""
    path = os.path.join(paths.BOARDS_DIR, name, "board.json")
    if not os.path.isfile(path):
        raise UsageError("no board %r: %s does not exist (pumpctl boards lists them)" % (name, path))
    try:
        return program_file.board_config(name)
    except program_file.ProgramFileError as e:
        raise UsageError(str(e))


def use_detector(flash_dir, which):
    """Leave only one occlusion detector able to alarm, in a simulated board's flash/board.json
    (the board reads it at its next boot)."""
    path = os.path.join(flash_dir, "board.json")
    write_board_variant(path, {"occlusion": DETECTOR_ONLY[which]}, source=path)


def restart_with_detector(home, rig, link, which):
    """A running sim board rebooted with only `which` detector able to alarm; the app is up again
    (open a new PumpClient: the old one's session ended with the boot)."""
    use_detector(os.path.join(home, "flash"), which)
    rig.reset_button()
    wait_for_app(link)


class SimBench:
    """Simulated boards for the bench: one deploy, then a fresh copy of that flash for every run,
    so each run starts from a stopped pump with a full reservoir."""

    detectors = ("both", "threshold", "model")

    def __init__(self, say, plant=None):
        self.say = say
        self.plant = dict(plant or {})
        self.cfg = board_config("sim")
        self.plant_params = validate_params(dict(self.cfg["plant"], **self.plant))
        self._root = tempfile.mkdtemp(prefix="iecbench")
        home = os.path.join(self._root, "golden")
        say("deploying the firmware onto a fresh simulated board")
        with SimProcess(home) as sim:
            deploy(sim.link, "sim")
        self.golden = os.path.join(home, "flash")
        self._n = 0

    @property
    def ul_per_step(self):
        return self.cfg["calibration"]["ul_per_step"]

    @property
    def scale_resolution_ul(self):
        return self.plant_params["scale"]["resolution_ul"]

    @contextlib.contextmanager
    def board(self, detector="both"):
        self._n += 1
        home = os.path.join(self._root, "b%d" % self._n)
        shutil.copytree(self.golden, os.path.join(home, "flash"))
        board_file = None
        if self.plant:
            board_file = write_board_variant(os.path.join(home, "plant.json"), {"plant": self.plant})
        if detector != "both":
            use_detector(os.path.join(home, "flash"), detector)
        try:
            with SimProcess(home, board_file=board_file) as sim:
                wait_for_app(sim.link)
                with PumpClient(sim.link, timeout=10.0) as pump, SimRig(sim.rig_path) as rig:
                    rig.run_for(0)    # hold the clock: board time moves only with run_for
                    yield pump, rig
        finally:
            shutil.rmtree(home, ignore_errors=True)

    def close(self):
        shutil.rmtree(self._root, ignore_errors=True)


class FixedBench:
    """One connected pump and rig for every run: a real board (as deployed: both detectors on),
    or a board a test already started. Runs follow each other on the same pump."""

    detectors = ("both",)

    def __init__(self, pump, rig, cfg, scale_resolution_ul):
        self.pump, self.rig, self.cfg = pump, rig, cfg
        self.scale_resolution_ul = scale_resolution_ul

    @property
    def ul_per_step(self):
        return self.cfg["calibration"]["ul_per_step"]

    @contextlib.contextmanager
    def board(self, detector="both"):
        if detector != "both":
            raise UsageError("one detector alone needs a board file with the other turned off: "
                             "only the simulated board does that here")
        yield self.pump, self.rig

    def close(self):
        pass


def rig_scale_resolution_ul():
    """A boards/rig_pico scale's resolution: one count, in uL of water."""
    with open(os.path.join(paths.BOARDS_DIR, "rig_pico", "rig.json")) as f:
        s = json.load(f)["scale"]
    return 1000.0 / (s["counts_per_g"] * s.get("density_g_ml", 1.0))


# ---- the parts ---------------------------------------------------------------------------------

def accuracy_part(bench, out_dir, say, rate_ul_h=INTERMEDIATE_UL_H, hours=2.0, interval_s=30.0,
                  name="accuracy"):
    """The standard's run: 2 h at the rate, the second hour analysed over 2-31 min windows."""
    say("%s: %s for %g h, the scale every %g s" % (name, rate_label(rate_ul_h), hours, interval_s))
    with bench.board() as (pump, rig):
        run = gravimetric_run(pump, rig, rate_ul_h, hours * 3600.0, interval_s,
                              progress=lambda m: say("%s: %s" % (name, m)))
    figures = analyse(run["samples"], rate_ul_h, 3600.0, hours * 3600.0, STANDARD_WINDOWS_MIN)
    return _finish(bench, out_dir, name, run, figures, smooth_min=31)


def intrathecal_part(bench, out_dir, say, rate_ul_h=INTRATHECAL_UL_H, hours=24.0, interval_s=30.0,
                     name="intrathecal"):
    """A long run at an intrathecal rate: the first hour is start-up, the rest is analysed over
    the standard's windows and over hours (see LONG_WINDOWS_MIN)."""
    say("%s: %s for %g h, the scale every %g s" % (name, rate_label(rate_ul_h), hours, interval_s))
    with bench.board() as (pump, rig):
        run = gravimetric_run(pump, rig, rate_ul_h, hours * 3600.0, interval_s,
                              progress=lambda m: say("%s: %s" % (name, m)))
    figures = analyse(run["samples"], rate_ul_h, 3600.0, hours * 3600.0,
                      long_run_windows(hours, interval_s))
    return _finish(bench, out_dir, name, run, figures, smooth_min=60)


def long_run_windows(hours, interval_s):
    """The windows a long run is judged over: the standard's and LONG_WINDOWS_MIN, those that
    fit its analysis period (all but the first hour) and are whole sample intervals."""
    period_min = (hours - 1) * 60.0
    windows = [w for w in STANDARD_WINDOWS_MIN + LONG_WINDOWS_MIN
               if w <= period_min and abs(w * 60.0 / interval_s - round(w * 60.0 / interval_s)) < 1e-9]
    if not windows:
        raise AnalysisError("no observation window (%s min) fits %g h sampled every %g s"
                            % (", ".join("%g" % w for w in STANDARD_WINDOWS_MIN + LONG_WINDOWS_MIN),
                               hours, interval_s))
    return windows


def _finish(bench, out_dir, name, run, figures, smooth_min):
    # what quantisation alone can show in a window: one pump step, and the scale's rounding at
    # both ends of it
    quantum = bench.ul_per_step + 2 * bench.scale_resolution_ul
    title = "%s: %s (%s)" % (name, rate_label(figures["rate_ul_h"]),
                             "simulated board" if isinstance(bench, SimBench) else "board + rig")
    files = write_run(out_dir, name, run, figures, title, quantum, smooth_min)
    return {"name": name, "rate_ul_h": figures["rate_ul_h"], "duration_s": run["samples"][-1][0],
            "interval_s": figures["interval_s"], "period_s": figures["period_s"],
            "mean_error_pct": figures["mean_error_pct"],
            "within_limit": abs(figures["mean_error_pct"]) <= ACCURACY_LIMIT_PCT,
            "scale_ul": run["samples"][-1][1], "pumped_ul": run["pumped_ul"], "alarms": run["alarms"],
            "quantum_ul": quantum, "trumpet": trumpet_rows(figures, quantum), "files": files}


def occlusion_part(bench, out_dir, say, rates_ul_h=None, warmup_min=None, limit_h=24.0,
                   release_window_s=300.0):
    """Time to alarm and the bolus after release, at each rate, for each detector the bench can
    configure (the sim: each alone and both as deployed; a real board: as deployed)."""
    rates = rates_ul_h or [parse_rate(r) for r in OCCLUSION_RATES]
    occ = bench.cfg["occlusion"]
    rows = []
    for rate in rates:
        # a settled line and a few dozen steps before the occlusion, at every rate
        warmup = (warmup_min * 60.0 if warmup_min is not None
                  else max(600.0, 40 * bench.ul_per_step / rate * 3600.0))
        for which in bench.detectors:
            say("occlusion: %s, detector %s" % (rate_label(rate), which))
            with bench.board(which) as (pump, rig):
                r = occlusion_run(pump, rig, rate, warmup, limit_h * 3600.0, release_window_s,
                                  progress=lambda m: say("occlusion: %s" % m))
            r.update(rate=rate_label(rate), detectors=which,
                     bound_s=alarm_time_bound_s(which, rate, occ, bench.ul_per_step))
            rows.append(r)
    path = write_occlusion(os.path.join(out_dir, "occlusion.csv"), rows)
    return {"rows": rows, "files": [path], "bolus_limit_ul": BOLUS_LIMIT_UL}


# ---- the command line --------------------------------------------------------------------------

_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ml|ul)\s*/\s*(h|day)\s*$", re.I)


def parse_rate(text):
    """'5 mL/h', '0.1 mL/day', '20 uL/h' in uL/h."""
    m = _RATE.match(text)
    if not m:
        raise UsageError("rate %r: write it as a number with mL/h, mL/day, uL/h or uL/day "
                         "(e.g. 5mL/h, 0.1mL/day)" % text)
    value = float(m.group(1)) * (1000.0 if m.group(2).lower() == "ml" else 1.0)
    if value <= 0:
        raise UsageError("rate %r must be above 0" % text)
    return value / 24.0 if m.group(3).lower() == "day" else value


def rate_label(rate_ul_h):
    if rate_ul_h >= 100:
        return "%g mL/h" % round(rate_ul_h / 1000.0, 4)
    return "%g mL/day" % round(rate_ul_h * 24 / 1000.0, 4)


def _parser():
    p = argparse.ArgumentParser(prog="python -m host_tools.iec_bench", description=(
        "IEC 60601-2-24 bench method: flow error over the second hour, trumpet curves, and "
        "occlusion (time to alarm, bolus after release). Default: a fresh simulated board. "
        "Bench and teaching tool; not a medical device."))
    p.add_argument("--out", default=os.path.join(paths.BUILD_DIR, "iec"),
                   help="folder for the CSV, PNG and summary.json (default build/iec)")
    p.add_argument("--parts", default=",".join(PARTS),
                   help="which parts, comma-separated, from %s (default all)" % ", ".join(PARTS))
    p.add_argument("--rate", default="5mL/h",
                   help="rate of the 2 h accuracy run (default 5mL/h, the standard's intermediate rate)")
    p.add_argument("--intrathecal-rate", default="0.5mL/day", help="rate of the long run (default 0.5mL/day)")
    p.add_argument("--intrathecal-hours", type=float, default=24.0,
                   help="length of the long run, h (default 24)")
    p.add_argument("--interval", type=float, default=30.0, help="scale sample interval, s (default 30)")
    p.add_argument("--occlusion-rates", default=",".join(r.replace(" ", "") for r in OCCLUSION_RATES),
                   help="comma-separated rates of the occlusion runs (default %(default)s)")
    p.add_argument("--warmup-min", type=float, default=None,
                   help="delivery before each occlusion, min (default: 10 min or 40 steps, the longer)")
    p.add_argument("--release-window", type=float, default=300.0,
                   help="seconds the bolus is collected after a release (default 300)")
    p.add_argument("--alarm-limit-h", type=float, default=24.0,
                   help="give up waiting for an occlusion alarm after this many hours (default 24)")
    p.add_argument("--calibration-error-pct", type=float, default=None,
                   help="sim only: the pump head delivers this much more than its nominal step volume")
    g = p.add_argument_group("a real board and rig")
    g.add_argument("--port", default=None, help="the pump board's serial port (deployed, stopped)")
    g.add_argument("--rig", default=None, help="the rig board's serial port (boards/rig_pico)")
    g.add_argument("--board", default=None, help="the board name it was deployed with (boards/NAME)")
    g.add_argument("--rig-max-wait", type=float, default=120.0,
                   help="longest wait a rig call may take, s (default 120)")
    g.add_argument("--scale-resolution-ul", type=float, default=None,
                   help="the rig scale's resolution, uL (default: one count of boards/rig_pico's scale)")
    return p


def _check_args(a):
    parts = [x.strip() for x in a.parts.split(",") if x.strip()]
    bad = [x for x in parts if x not in PARTS]
    if bad or not parts:
        raise UsageError("unknown part %s: choose from %s" % (", ".join(bad) or "(none)", ", ".join(PARTS)))
    a.parts = parts
    a.rate_ul_h = parse_rate(a.rate)
    a.intrathecal_ul_h = parse_rate(a.intrathecal_rate)
    a.occlusion_ul_h = [parse_rate(r) for r in a.occlusion_rates.split(",") if r.strip()]
    for name, value in (("--interval", a.interval), ("--release-window", a.release_window),
                        ("--alarm-limit-h", a.alarm_limit_h)):
        if not value > 0:
            raise UsageError("%s must be above 0, got %g" % (name, value))
    if a.warmup_min is not None and a.warmup_min < 0:
        raise UsageError("--warmup-min must be 0 or more, got %g" % a.warmup_min)
    if "occlusion" in parts and not a.occlusion_ul_h:
        raise UsageError("--occlusion-rates names no rate")
    if "accuracy" in parts and any(abs(w * 60.0 / a.interval - round(w * 60.0 / a.interval)) > 1e-9
                                   for w in STANDARD_WINDOWS_MIN):
        raise UsageError("--interval %g s does not divide the standard's windows (2, 5, 11, 19 and "
                         "31 min): use 30 s (the standard's), or another divisor of 60 s" % a.interval)
    if a.intrathecal_hours < 2:
        raise UsageError("--intrathecal-hours must be at least 2: the first hour is start-up")
    if "intrathecal" in parts:
        try:
            long_run_windows(a.intrathecal_hours, a.interval)
        except AnalysisError as e:
            raise UsageError(str(e))
    if a.calibration_error_pct is not None:
        try:
            validate_params({"calibration_error_pct": a.calibration_error_pct})
        except PlantConfigError as e:
            raise UsageError("--calibration-error-pct %s" % e.problems[0][1])
    if a.port is None and (a.rig or a.board):
        raise UsageError("--rig and --board go with --port (a real board); without it the bench "
                         "starts a simulated board")
    if a.port is not None:
        if not a.rig or not a.board:
            raise UsageError("a real board needs --rig PORT (a rig with a scale) and --board NAME "
                             "(the board it was deployed with)")
        if a.calibration_error_pct is not None:
            raise UsageError("--calibration-error-pct changes the simulated pump head: not with --port")
    cfg = board_config(a.board or "sim")
    top = cfg["limits"]["max_rate_ul_h"]
    asked = {"accuracy": [("--rate", a.rate_ul_h)],
             "intrathecal": [("--intrathecal-rate", a.intrathecal_ul_h)],
             "occlusion": [("--occlusion-rates", r) for r in a.occlusion_ul_h]}
    for label, r in [x for part in parts for x in asked[part]]:
        if r > top:
            raise UsageError("%s %s is above the board's top rate %s (limits.max_rate_ul_h)"
                             % (label, rate_label(r), rate_label(top)))
    return cfg


def _print_summary(summary):
    for part in ("accuracy", "intrathecal"):
        s = summary.get(part)
        if not s:
            continue
        print("\n%s: %s, %s run, samples every %g s; analysis %s-%s" % (
            part, rate_label(s["rate_ul_h"]), clock(s["duration_s"]), s["interval_s"],
            clock(s["period_s"][0]), clock(s["period_s"][1])))
        print("  mean flow error A = %+.3f %% (limit +-%g %%: %s); scale %.2f uL, pump count %.2f uL"
              % (s["mean_error_pct"], ACCURACY_LIMIT_PCT, "within" if s["within_limit"] else "OUTSIDE",
                 s["scale_ul"], s["pumped_ul"]))
        if s["alarms"]:
            print("  alarms active at the end of the run: %s" % ", ".join(s["alarms"]))
        print("  %8s | %10s | %10s | %7s | %s" % ("window", "Ep(max) %", "Ep(min) %", "windows",
                                                  "quantisation %"))
        for r in s["trumpet"]:
            print("  %6g m | %+10.3f | %+10.3f | %7d | %.3f" % (
                r["window_min"], r["ep_max_pct"], r["ep_min_pct"], r["windows"], r["resolution_pct"]))
    occ = summary.get("occlusion")
    if occ:
        print("\nocclusion: time to alarm (bound from docs/safety.md's rules), volume pumped into the "
              "blocked line, bolus after release (limit %g uL), the firmware's estimate" % BOLUS_LIMIT_UL)
        print("  %-11s | %-9s | %-9s | %-19s | %10s | %9s | %9s" % (
            "rate", "detectors", "fired", "time to alarm", "pumped uL", "bolus uL", "fw est uL"))
        for r in occ["rows"]:
            if r["false_alarm"]:
                t = "alarm before occlusion: %s" % r["false_alarm"]
            elif r["time_to_alarm_s"] is None:
                t = "none (bound %s)" % clock(r["bound_s"])
            else:
                t = "%s (%s)" % (clock(r["time_to_alarm_s"]), clock(r["bound_s"]))
            print("  %-11s | %-9s | %-9s | %-19s | %10s | %9s | %9s" % (
                r["rate"], r["detectors"], "+".join(r["fired"]) or "-", t,
                _num(r["pumped_into_line_ul"]), _num(r["bolus_ul"]), _num(r["reported_bolus_ul"])))


def _num(v):
    return "-" if v is None else "%.2f" % v


def run(args, say):
    """Every part asked for; returns the summary (also written to OUT/summary.json)."""
    cfg = _check_args(args)
    os.makedirs(args.out, exist_ok=True)
    if args.port is None:
        plant = ({"calibration_error_pct": args.calibration_error_pct}
                 if args.calibration_error_pct is not None else None)
        bench = SimBench(say, plant)
        stack = contextlib.ExitStack()
    else:
        stack = contextlib.ExitStack()
        pump = stack.enter_context(PumpClient(args.port, timeout=10.0))
        rig = stack.enter_context(SerialRig(args.rig, max_wait_s=args.rig_max_wait))
        rig.require("scale")
        if "occlusion" in args.parts:
            rig.require("occlude")
        res = args.scale_resolution_ul if args.scale_resolution_ul is not None else rig_scale_resolution_ul()
        bench = FixedBench(pump, rig, cfg, res)
    summary = {"board": args.board or "sim", "started": time.strftime("%Y-%m-%d %H:%M:%S"),
               "plant": getattr(bench, "plant", None) or None}
    t0 = time.monotonic()
    with stack:
        try:
            if "accuracy" in args.parts:
                summary["accuracy"] = accuracy_part(bench, args.out, say, args.rate_ul_h, 2.0, args.interval)
            if "intrathecal" in args.parts:
                summary["intrathecal"] = intrathecal_part(bench, args.out, say, args.intrathecal_ul_h,
                                                          args.intrathecal_hours, args.interval)
            if "occlusion" in args.parts:
                summary["occlusion"] = occlusion_part(bench, args.out, say, args.occlusion_ul_h,
                                                      args.warmup_min, args.alarm_limit_h,
                                                      args.release_window)
        finally:
            bench.close()
    summary["wall_s"] = round(time.monotonic() - t0, 1)
    path = os.path.join(args.out, "summary.json")
    with open(path, "w") as f:
        json.dump(summary, f, indent=2)
    return summary


def main(argv=None):
    args = _parser().parse_args(argv)

    def say(message):
        print("iec: %s" % message, flush=True)
    try:
        summary = run(args, say)
    except UsageError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 2
    except (SimError, DeployError, LinkError, DeviceError, RigError, AnalysisError, OSError) as e:
        text = "; ".join(line.strip() for line in str(e).splitlines() if line.strip())
        print("%s: error: %s" % (PROG, text or type(e).__name__), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("%s: interrupted" % PROG, file=sys.stderr)
        return 130
    _print_summary(summary)
    files = sorted(os.listdir(args.out))
    print("\nwritten to %s: %s (wall time %.0f s)" % (args.out, ", ".join(files), summary["wall_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
