"""pumpctl dashboard: a full-screen live view of a pump (real or simulated) with keys that act on it."""
import os

from host_tools import exits


def find_rig(port, sim_homes=()):
    """The rig socket of the simulated board whose link is port, or None (a real board)."""
    if not port or "://" in port:
        return None
    from host_tools import ports
    real = os.path.realpath(port)
    homes = list(sim_homes) + [os.path.dirname(os.path.abspath(port))]
    for sim in ports.sim_boards(homes):
        if sim["rig"] and (os.path.abspath(port) == sim["device"] or real == sim["target"]):
            return sim["rig"]
    return None


def make_model(port, rig_path, timeout=5.0):
    from host_tools.client import PumpClient
    from host_tools.dashboard.model import Model
    from host_tools.rig import SimRig
    rig_connect = None if rig_path is None else (lambda: SimRig(rig_path, timeout=timeout))
    return Model(lambda: PumpClient(port, timeout=timeout), rig_connect)


def cmd_dashboard(args, default_sim_home):
    from host_tools.dashboard import app
    if not app.stdout_is_terminal():
        return exits.usage(*app.no_terminal_line().split("; "))
    rig = args.rig or find_rig(args.port, [default_sim_home])
    model = make_model(args.port, rig, timeout=min(args.timeout, 3.0))
    recorder = None
    if args.record:
        from host_tools.dashboard.record import Recorder
        recorder = Recorder(args.record)
    try:
        snap = app.run(model, interval=args.interval, record=recorder, port=args.port,
                       duration=args.duration)
    finally:
        model.close()
        if recorder is not None:
            recorder.close()
    status = snap.get("status")
    if status is not None:
        print("dashboard closed; the pump is %s, delivered %.2f uL" % (status["state"], status["delivered_ul"]))
    return exits.OK


def add_parser(sub, default_sim_home):
    from host_tools.cli import _positive_seconds
    s = sub.add_parser("dashboard", help="full-screen live view with keys (bolus, occlude, speed, refill, ack)")
    s.add_argument("--rig", default=None,
                   help="the sim's rig socket (default: found from --port when it is a running sim)")
    s.add_argument("--record", metavar="FILE", default=None,
                   help="write every poll as JSON lines (what pumpctl report reads)")
    s.add_argument("--interval", type=_positive_seconds, default=0.25,
                   help="seconds between polls (default 0.25)")
    s.add_argument("--duration", type=_positive_seconds, default=None, help="close after S seconds")
    s.set_defaults(func=lambda a: cmd_dashboard(a, default_sim_home))

