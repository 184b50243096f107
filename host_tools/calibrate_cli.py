"""pumpctl calibrate: gravimetric calibration of uL per step, and a separate check of the rate.

Volume: the pump moves N steps into a container on a balance; the mass and the fluid's density
give the volume, and volume / N is the calibration, written to the board (calibration.json).
Rate (--rate): the pump runs at a set rate for a set time; the measured rate is reported beside
the set one, and nothing on the board changes. On the simulated board the sim's scale answers
for the balance. docs/calibration.md has the procedure.
"""
import os
import sys
import time

from host_tools.client import DeviceError
from host_tools.rig import SimRig

DEFAULT_STEPS = 2000
WATER_G_ML = 1.0     # water at room temperature: 0.998 g/mL at 20 C, 0.997 at 25 C
DRAIN_S = 10         # the sim line's time constant is 1 s: 10 of them and it has emptied
SIM_CHUNK_S = 5      # sim seconds advanced between progress reports


class Aborted(Exception):
    """The person ended the procedure (EOF or 'no'): nothing was written."""


def sim_rig_path(port):
    """The sim rig's socket if port is a simulated board's link (HOME/tty beside HOME/rig.sock)."""
    if not port or "://" in port:
        return None
    path = os.path.join(os.path.dirname(os.path.abspath(port)), "rig.sock")
    return path if os.path.exists(path) else None


def ask(prompt):
    """A line from the person; EOF aborts (Ctrl-C propagates: exit 130)."""
    try:
        return input(prompt)
    except EOFError:
        print()
        raise Aborted("no answer (end of input)")


def ask_number(prompt, lo=0.0, hi=None, tries=3):
    for _ in range(tries):
        text = ask(prompt).strip()
        try:
            value = float(text)
        except ValueError:
            print("  a number, please (got %r)" % text)
            continue
        if value != value or value < lo or (hi is not None and value > hi):
            print("  must be between %g and %s" % (lo, "any" if hi is None else "%g" % hi))
            continue
        return value
    raise Aborted("no valid number after %d tries" % tries)


def confirm(prompt, assume_yes=False):
    if assume_yes:
        return True
    return ask(prompt + " [y/N] ").strip().lower() in ("y", "yes")


class Scale:
    """The balance: a mass given in advance, else the sim's scale when the port is a sim link,
    else the person. On the sim, board time is advanced by the rig (no waiting) either way."""

    def __init__(self, port, mass_g=None, density=WATER_G_ML):
        self.density = density
        self.mass_g = mass_g
        path = sim_rig_path(port)
        self.rig = SimRig(path) if path is not None else None
        self._speed = None
        self._zero_ul = None

    def close(self):
        if self.rig is not None:
            if self._speed is not None:
                self.rig.set_speed(self._speed)   # release the hold run_for leaves
            self.rig.close()

    def tare(self):
        if self.rig is not None:
            self._speed = self.rig.status()["speed"]
        if self.rig is not None and self.mass_g is None:
            self._zero_ul = self.rig.scale_ul()
            print("sim scale: tared at %.2f uL already at the outlet" % self._zero_ul)
        elif self.mass_g is None:
            ask("Put the outlet over a container on the balance, tare it, then press Enter: ")

    def wait(self, seconds):
        """Let `seconds` of board time pass: the sim's at full speed, else the wall clock's."""
        if self.rig is not None:
            self.rig.run_for(seconds, timeout=120 + seconds / 100)
        else:
            time.sleep(seconds)

    def weigh(self):
        """Grams on the balance since the tare."""
        if self.mass_g is not None:
            print("mass given: %.5f g" % self.mass_g)
            return self.mass_g
        if self.rig is not None:
            self.wait(DRAIN_S)       # what the line still holds reaches the outlet
            ul = self.rig.scale_ul() - self._zero_ul
            # what a 0.01 mg balance would show
            grams = round(ul / 1000.0 * self.density, 5)
            print("sim scale: %.2f uL reached the outlet: weighed %.5f g at %g g/mL"
                  % (ul, grams, self.density))
            return grams
        return ask_number("Wait for the outlet to stop dripping. Mass on the balance (g): ", 0.0)


def _progress(label, unit):
    """A progress bar on stderr (rich; drawn only on a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    return Progress(TextColumn(label), BarColumn(),
                    TextColumn("{task.completed:.0f}/{task.total:.0f} " + unit),
                    TimeElapsedColumn(), console=Console(stderr=True))


def _run_steps(c, scale, steps):
    """Start the calibration run and follow it to its end; Ctrl-C stops the pump first."""
    c.request("calibrate_run", steps=steps)
    try:
        with _progress("calibration run", "steps") as bar:
            task = bar.add_task("run", total=steps)
            while True:
                run = c.request("calibration").get("run") or {}
                bar.update(task, completed=run.get("done", 0))
                if run.get("result") not in (None, "running"):
                    break
                if scale.rig is not None:
                    scale.wait(SIM_CHUNK_S)
                else:
                    time.sleep(0.5)
    except BaseException:
        try:
            c.request("stop")
            print("calibration run stopped", file=sys.stderr)
        except Exception as e:   # the first error is the one to report
            print("could not stop the calibration run (%s): pumpctl stop" % e, file=sys.stderr)
        raise
    if run.get("result") != "done":
        raise DeviceError("bad_state", "the calibration run ended early: %s after %d of %d steps"
                          % (run.get("reason") or run.get("result"), run.get("done", 0), steps))
    return run


def cmd_calibrate(args, client_factory):
    if args.rate is not None:
        return cmd_rate_check(args, client_factory)
    if not 0.5 <= args.density <= 3.0:
        print("pumpctl: error: --density %g g/mL is not a liquid a pump moves" % args.density,
              file=sys.stderr)
        return 2
    with client_factory(args) as c:
        status = c.request("status")
        cal = status["calibration"]
        print("calibration now: %.6g uL/step from %s (board.json: %.6g)"
              % (cal["ul_per_step"], cal["source"], cal["board_ul_per_step"]))
        if status["state"] == "running":
            print("pumpctl: refused: the pump is delivering: stop it first (pumpctl stop)",
                  file=sys.stderr)
            return 3
        print("density %g g/mL%s" % (args.density, " (water at room temperature; pass --density "
                                     "for another fluid)" if args.density == WATER_G_ML else ""))
        scale = Scale(args.port, args.mass_g, args.density)
        try:
            try:
                scale.tare()
                nominal = args.steps * cal["ul_per_step"]
                print("moving %d steps (%.2f uL at the present calibration)" % (args.steps, nominal))
                run = _run_steps(c, scale, args.steps)
                grams = scale.weigh()
            finally:
                scale.close()
            if grams <= 0:
                print("pumpctl: error: no mass measured: is the outlet over the balance?",
                      file=sys.stderr)
                return 1
            ul_per_step = round(grams / args.density * 1000.0 / args.steps, 6)
            print("measured: %.5f g / %g g/mL = %.2f uL in %d steps (%.1f s)"
                  % (grams, args.density, grams / args.density * 1000.0, args.steps,
                     run["elapsed_ms"] / 1000.0))
            print("calibration: %.6f uL/step (%+.2f%% against the present %.6g, %+.2f%% against "
                  "board.json's %.6g)" % (ul_per_step, _pct(ul_per_step, cal["ul_per_step"]),
                                          cal["ul_per_step"], _pct(ul_per_step, cal["board_ul_per_step"]),
                                          cal["board_ul_per_step"]))
            if not confirm("Write %.6f uL/step to the pump?" % ul_per_step, args.yes):
                print("not written: the calibration is unchanged")
                return 1
        except Aborted as e:
            print("aborted (%s): the calibration is unchanged" % e, file=sys.stderr)
            return 1
        note = "%d steps, %.5f g, %g g/mL" % (args.steps, grams, args.density)
        r = c.request("calibration_set", ul_per_step=ul_per_step, force=args.force, note=note)
    print("written: %.6g uL/step, from %s; kept across resets and redeploys"
          % (r["ul_per_step"], r["source"]))
    return 0


def _pct(a, b):
    return (a - b) * 100.0 / b


def cmd_rate_check(args, client_factory):
    """Run at --rate for --minutes and compare the measured rate with the set one."""
    if args.minutes is None or args.minutes <= 0:
        print("pumpctl: error: a rate check needs --minutes (how long to run)", file=sys.stderr)
        return 2
    with client_factory(args) as c:
        status = c.request("status")
        if status["state"] == "running":
            print("pumpctl: refused: the pump is delivering: stop it first (pumpctl stop)",
                  file=sys.stderr)
            return 3
        if status["mode"] != "rate":
            print("pumpctl: refused: a therapy program is applied; the rate check sets a rate by "
                  "hand: clear the program first (pumpctl program clear)", file=sys.stderr)
            return 3
        old_rate = status["rate_ul_h"]
        print("density %g g/mL%s" % (args.density, " (water at room temperature)"
                                     if args.density == WATER_G_ML else ""))
        scale = Scale(args.port, args.mass_g, args.density)
        try:
            try:
                scale.tare()
                c.request("set_rate", rate_ul_h=args.rate)
                before = c.request("status")["delivered_ul"]
                seconds = args.minutes * 60.0
                c.request("start")
                try:
                    with _progress("rate check", "s") as bar:
                        task = bar.add_task("run", total=seconds)
                        t0 = time.monotonic()
                        done = 0.0
                        while done < seconds:
                            chunk = min(SIM_CHUNK_S if scale.rig is not None else 0.5, seconds - done)
                            scale.wait(chunk)
                            done = done + chunk if scale.rig is not None else time.monotonic() - t0
                            bar.update(task, completed=min(done, seconds))
                finally:
                    s = c.request("stop")
                counted = s["delivered_ul"] - before
                if s["alarms"]:
                    print("alarms during the check: %s (pumpctl alarms)" % ", ".join(s["alarms"]),
                          file=sys.stderr)
                grams = scale.weigh()
            finally:
                scale.close()
                c.request("set_rate", rate_ul_h=old_rate)    # the rate it had: nothing changed
        except Aborted as e:
            print("aborted (%s)" % e, file=sys.stderr)
            return 1
    ul = grams / args.density * 1000.0
    measured = ul / (seconds / 3600.0)
    print("set %.3f uL/h for %.1f min: the pump counted %.2f uL, the balance %.5f g = %.2f uL"
          % (args.rate, args.minutes, counted, grams, ul))
    print("measured rate %.3f uL/h: %+.2f%% against the set rate (the calibration is unchanged)"
          % (measured, _pct(measured, args.rate)))
    return 0


def add_parsers(sub, client_factory):
    s = sub.add_parser("calibrate", help="gravimetric calibration of uL per step (service), or "
                                         "--rate: check the rate against a balance")
    s.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                   help="steps to move for the volume calibration (default %d)" % DEFAULT_STEPS)
    s.add_argument("--density", type=float, default=WATER_G_ML,
                   help="fluid density in g/mL (default 1.0: water at room temperature)")
    s.add_argument("--mass-g", type=float, default=None,
                   help="the mass measured, for scripts (otherwise asked, or the sim's scale)")
    s.add_argument("--yes", action="store_true", help="write the result without asking")
    s.add_argument("--force", action="store_true",
                   help="accept a calibration more than 20%% from board.json's (another pump head)")
    s.add_argument("--rate", type=float, default=None, metavar="UL_PER_H",
                   help="check the rate instead: run at this rate for --minutes, report the "
                        "measured rate; the calibration is not changed")
    s.add_argument("--minutes", type=float, default=None, help="how long the rate check runs")
    s.set_defaults(func=lambda a: cmd_calibrate(a, client_factory))
