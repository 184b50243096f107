"""`make demo`: a simulated board, deployed and delivering, with a live status view until Ctrl-C."""
import json
import os
import sys
import time

from host_tools import keys
from host_tools.client import PumpClient
from host_tools.deploy import deploy
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


def live_view(status, scale_ul, capacity_ul, hello=None):
    """The demo on a terminal: pumpctl status --watch's view, with the scale's reading added."""
    from rich.text import Text
    from host_tools import watch
    snap = {"status": status, "capacity_ul": capacity_ul, "hello": hello}
    return watch.render(snap, extra=[("scale", Text("%.2f uL  (measured at the outlet)" % scale_ul))])


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


def run_demo(args):
    home = args.home or os.path.join(os.getcwd(), ".sim", "demo")
    live = sys.stdout.isatty()
    print(_BANNER)
    _forget_a_key_nobody_here_holds(home)
    print("starting the simulated board in %s (speed x%s)" % (home, args.speed), flush=True)
    with SimProcess(home, speed=args.speed) as sim:
        with Reporter("deploy") as r:
            deploy(sim.link, "sim", stop=True, progress=r.say, step=r.step_or_none)
        print("serial link: %s   (try: pumpctl --port %s status)" % (sim.link, sim.link))
        with PumpClient(sim.link) as pump, SimRig(sim.rig_path) as rig:
            capacity = pump.request("status")["reservoir_ul"]
            hello = pump.request("hello")
            pump.request("set_rate", rate_ul_h=args.rate)
            pump.request("start")
            scale0 = rig.scale_ul()
            print("delivering %.1f uL/h; Ctrl-C to stop\n" % args.rate, flush=True)
            end = None if args.duration is None else time.monotonic() + args.duration
            view = None
            try:
                if live:
                    from rich.live import Live
                    view = Live(auto_refresh=False)
                    view.start()
                while end is None or time.monotonic() < end:
                    status, scale = pump.request("status"), rig.scale_ul() - scale0
                    if view is not None:
                        view.update(live_view(status, scale, capacity, hello), refresh=True)
                    else:
                        sys.stdout.write(" | ".join(render(status, scale, capacity)) + "\n")
                        sys.stdout.flush()
                    time.sleep(1.0)
            except KeyboardInterrupt:
                pass
            finally:
                if view is not None:
                    view.stop()
                pump.request("stop")
                print("\nstopped; delivered %.2f uL" % pump.request("status")["delivered_ul"])
    return 0
