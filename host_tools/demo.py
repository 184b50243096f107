"""`make demo`: a simulated board, deployed, running the teaching program, under the live dashboard until q."""
import json
import os
import sys
import time

from host_tools import keys, paths, program_io, watch
from host_tools.client import PumpClient
from host_tools.dashboard import app, make_model
from host_tools.dashboard.record import Recorder
from host_tools.deploy import KEPT_AT_RESET, deploy
from host_tools.program_file import ProgramFileError, read_program
from host_tools.progress import Reporter
from host_tools.rig import SimRig
from host_tools.sim.launch import SimProcess

_BANNER = "micro-pump simulator: a bench, test and teaching tool, NOT a medical device"


def _gauge(fraction, width=30):
    fraction = min(max(fraction, 0.0), 1.0)
    full = int(round(fraction * width))
    return "[" + "#" * full + "." * (width - full) + "] %3.0f%%" % (fraction * 100)


def _clock(seconds):
    seconds = int(seconds)
    return "day %d  %02d:%02d:%02d" % (seconds // 86400 + 1, seconds // 3600 % 24, seconds // 60 % 60, seconds % 60)


def render(status, scale_ul, capacity_ul):
    return [
        "sim time   %s" % _clock(status.get("sim_time_s", 0)),
        "state      %-8s  rate %.1f uL/h" % (status["state"], status["rate_ul_h"]),
        "delivered  %10.2f uL  (firmware's count)" % status["delivered_ul"],
        "scale      %10.2f uL  (measured at the outlet)" % scale_ul,
        "pressure   %10.2f kPa" % status.get("pressure_kpa", float("nan")),
        "reservoir  %s %.0f uL" % (_gauge(status["reservoir_ul"] / capacity_ul), status["reservoir_ul"]),
    ]


def _forget_a_key_nobody_here_holds(home):
    """The demo's board is its own simulated one: if this computer lost the key its flash holds
    (a new machine, a cleared key folder), the board forgets it too and deploy makes a new one,
    instead of refusing the demo."""
    path = os.path.join(home, "flash", "auth.json")
    try:
        with open(path) as f:
            doc = json.load(f)
        held = keys.load(doc["device"])
        if held is not None and held.secret is not None and held.secret.hex() == doc["key"]:
            return
    except FileNotFoundError:
        return
    except (OSError, ValueError, KeyError, TypeError, keys.KeyStoreError):
        pass
    os.remove(path)


DEFAULT_PROGRAM = os.path.join(paths.REPO_DIR, "examples", "teaching-flex-week-morphine.toml")


def _load_program(pump, path, say):
    """The pump's clock set from this computer (the program's schedule follows it), then the
    program sent, reviewed and confirmed by its digest, as `pumpctl program load --yes` does."""
    pump.request("time_sync", time_ms=program_io.local_wall_ms())
    doc = read_program(path)
    review = program_io.upload(pump, doc)
    if review["summary"].get("soft"):
        raise ProgramFileError("%s breaks soft limits; the demo loads only programs within them" % path)
    program_io.confirm(pump, review)
    say("program %s (%s) loaded from %s" % (review["digest"], doc.get("name"), os.path.relpath(path)))


def _start_fresh(home):
    """Each demo starts from the pump as deploy leaves it. The last demo's program, journal and
    event log stay on the sim's flash, and with them any alarm it ended in: an occlusion left
    latched would make this demo's start refused."""
    flash = os.path.join(home, "flash")
    if not os.path.isdir(flash):
        return
    for name in os.listdir(flash):
        path = os.path.join(flash, name)
        if os.path.isfile(path) and name not in KEPT_AT_RESET:
            os.remove(path)


def run_demo(args):
    home = args.home or os.path.join(os.getcwd(), ".sim", "demo")
    live = sys.stdout.isatty() and sys.stdin.isatty()
    print(_BANNER)
    _forget_a_key_nobody_here_holds(home)
    _start_fresh(home)
    print("starting the simulated board in %s (speed x%s)" % (home, args.speed), flush=True)
    with SimProcess(home, speed=args.speed) as sim:
        with Reporter("deploy") as r:
            deploy(sim.link, "sim", stop=True, progress=r.say, step=r.step_or_none)
        print("serial link: %s   (try: pumpctl --port %s status)" % (sim.link, sim.link))
        with PumpClient(sim.link) as pump, SimRig(sim.rig_path) as rig:
            if args.rate is not None:
                pump.request("program_clear")
                pump.request("set_rate", rate_ul_h=args.rate)
                what = "%.1f uL/h" % args.rate
            else:
                _load_program(pump, args.program or DEFAULT_PROGRAM, print)
                what = "the program"
            delivered0, scale0 = pump.request("status")["delivered_ul"], rig.scale_ul()
            pump.request("start")
        print("delivering %s; %s\n" % (what, "q or Ctrl-C to stop" if live else "Ctrl-C to stop"), flush=True)
        model = make_model(sim.link, sim.rig_path)
        model.pin_program_start(delivered0, scale0)
        recorder = Recorder(args.record) if args.record else None
        try:
            if live:
                app.run(model, record=recorder, duration=args.duration, port=sim.link)
            else:
                _plain(model, recorder, args.duration)
        except KeyboardInterrupt:
            pass
        finally:
            model.close()
            if recorder is not None:
                recorder.close()
            with PumpClient(sim.link) as pump:
                pump.request("stop")
                print("\nstopped; delivered %.2f uL" % pump.request("status")["delivered_ul"])
    return 0


def _plain(model, recorder, duration):
    """Not a terminal (CI, a pipe): one line a second, as `make demo | head` expects."""
    end = None if duration is None else time.monotonic() + duration
    while end is None or time.monotonic() < end:
        snap = model.poll()
        if recorder is not None:
            recorder.write(snap, model)
        status = snap.get("status")
        if status is None:
            sys.stdout.write("%s\n" % snap.get("problem"))
        else:
            capacity = watch.capacity_ul(snap) or status["reservoir_ul"] or 1.0
            sys.stdout.write(" | ".join(render(status, snap.get("scale_ul") or 0.0, capacity)) + "\n")
        sys.stdout.flush()
        time.sleep(1.0)
