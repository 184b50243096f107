"""pumpctl: the command line for the pump, real or simulated (bench/teaching tool, not a medical device)."""
import argparse
import json
import os
import sys

from host_tools.client import PumpClient, LinkError, DeviceError
from host_tools.rig import RigError
from host_tools.sim.supervisor import SIM_HEAP_KB

DEFAULT_SIM_HOME = os.path.join(os.path.expanduser("~"), ".local", "state", "pumpctl", "sim")


def _fmt_duration(seconds):
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return ("%dd " % days if days else "") + "%02d:%02d:%02d" % (h, m, s)


def format_status(s):
    rows = [("state", s["state"]),
            ("rate", "%.3f uL/h" % s["rate_ul_h"]),
            ("delivered", "%.3f uL" % s["delivered_ul"]),
            ("reservoir", "%.1f uL" % s["reservoir_ul"])]
    if "pressure_kpa" in s:
        rows.append(("pressure", "%.2f kPa" % s["pressure_kpa"]))
    rows.append(("alarms", ", ".join(a if isinstance(a, str) else json.dumps(a) for a in s["alarms"]) or "none"))
    rows.append(("uptime", _fmt_duration(s["uptime_s"])))
    if "sim_time_s" in s:
        rows.append(("sim time", _fmt_duration(s["sim_time_s"])))
    rows.append(("last reset", s.get("reset_cause", "?")))
    return "\n".join("%-11s %s" % r for r in rows)


def _client(args):
    return PumpClient(args.port, timeout=args.timeout)


def cmd_status(args):
    with _client(args) as c:
        s = c.request("status")
    print(json.dumps(s, indent=2, sort_keys=True) if args.json else format_status(s))


def cmd_hello(args):
    with _client(args) as c:
        print(json.dumps(c.request("hello"), indent=2, sort_keys=True))


def _simple(cmd, **extra):
    def run(args):
        with _client(args) as c:
            kwargs = {k: getattr(args, a) for k, a in extra.items()}
            s = c.request(cmd, **kwargs)
        print(format_status(s))
    return run


def cmd_service(args):
    with _client(args) as c:
        c.request("service")
    print("the board is rebooting into service mode: the REPL is free for mpremote "
          "(a reset or power cycle starts the app again)")


def cmd_deploy(args):
    from host_tools.deploy import deploy
    deploy(args.port, args.board, stop=args.stop, progress=lambda m: print("deploy: " + m, flush=True))


def cmd_sim(args):
    from host_tools.sim.supervisor import serve
    return serve(args)


def cmd_demo(args):
    from host_tools.demo import run_demo
    return run_demo(args)


def _positive_rate(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a rate in uL/h is a number, got %r" % text)
    if value < 0:
        raise argparse.ArgumentTypeError("a rate cannot be negative, got %r" % text)
    return value


def build_parser():
    p = argparse.ArgumentParser(prog="pumpctl", description=__doc__)
    p.add_argument("--port", default=os.environ.get("PUMPCTL_PORT"),
                   help="serial port of the board or the sim's link path (default: $PUMPCTL_PORT)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for a reply (default 5)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("status", help="show the pump's state")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_status)
    sub.add_parser("hello", help="firmware, protocol and board of the connected pump").set_defaults(func=cmd_hello)
    sub.add_parser("start", help="start delivery at the set rate").set_defaults(func=_simple("start"))
    sub.add_parser("stop", help="stop delivery").set_defaults(func=_simple("stop"))
    s = sub.add_parser("set-rate", help="set the continuous rate")
    s.add_argument("rate", type=_positive_rate, metavar="UL_PER_H", help="rate in uL/h")
    s.set_defaults(func=_simple("set_rate", rate_ul_h="rate"))

    sub.add_parser("service", help="reboot into the REPL with the app and watchdog off (for mpremote)"
                   ).set_defaults(func=cmd_service)
    s = sub.add_parser("deploy", help="compile, copy and verify the firmware, then restart the app")
    s.add_argument("--board", required=True, help="board name: a folder under boards/")
    s.add_argument("--stop", action="store_true", help="stop delivery first if the pump is delivering")
    s.set_defaults(func=cmd_deploy)

    s = sub.add_parser("sim", help="run the simulated board behind a pseudo-terminal")
    s.add_argument("--home", default=DEFAULT_SIM_HOME, help="folder for flash, sockets and logs (kept between runs)")
    s.add_argument("--link", default=None, help="stable path of the serial link (default HOME/tty)")
    s.add_argument("--speed", default="1", help="simulated seconds per wall second, or 'max' (default 1)")
    s.add_argument("--heap-kb", type=int, default=SIM_HEAP_KB,
                   help="MicroPython heap: a target's 128 KB for data plus the firmware's bytecode, which "
                        "a board keeps in flash but the unix port loads into the heap (default %d)" % SIM_HEAP_KB)
    s.add_argument("--board-file", default=None, help="board.json with the plant parameters (default boards/sim)")
    s.add_argument("--seed", type=int, default=0, help="seed of the plant's noise and coughs")
    s.add_argument("--verbose", "-v", action="store_true", help="log resets and faults")
    s.set_defaults(func=cmd_sim)

    from host_tools.program_cli import add_parsers
    add_parsers(sub, _client)
    from host_tools import safety_cli
    safety_cli.add_parsers(sub, _client)
    from host_tools import log_cli
    log_cli.add_parsers(sub, _client)
    from host_tools import calibrate_cli, guided_cli
    calibrate_cli.add_parsers(sub, _client)
    guided_cli.add_parsers(sub, _client)

    s = sub.add_parser("demo", help="simulated board, deployed, delivering, with a live status view")
    s.add_argument("--home", default=None, help="sim folder (default .sim/demo in the current folder)")
    s.add_argument("--speed", default="60", help="simulation speed (default 60: a minute per second)")
    s.add_argument("--rate", type=_positive_rate, default=500.0, help="demo rate in uL/h (default 500)")
    s.add_argument("--duration", type=float, default=None, help="seconds to run (default: until Ctrl-C)")
    s.set_defaults(func=cmd_demo)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command not in ("sim", "demo") and not getattr(args, "offline", False) and not args.port:
        print("pumpctl: error: no port given: use --port PATH (or set PUMPCTL_PORT)", file=sys.stderr)
        return 2
    from host_tools.deploy import DeployError
    from host_tools.sim.supervisor import SimError
    from host_tools.program_file import ProgramFileError
    try:
        return args.func(args) or 0
    except DeviceError as e:
        print("pumpctl: refused: %s" % e, file=sys.stderr)
        return 3
    except (LinkError, DeployError, SimError, RigError, ProgramFileError) as e:
        print("pumpctl: error: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
