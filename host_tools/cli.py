"""pumpctl: the command line for the pump, real or simulated (bench/teaching tool, not a medical device)."""
import argparse
import json
import os
import sys

from host_tools import exits
from host_tools.client import PumpClient, LinkError, DeviceError, UncertainDelivery
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
    if args.watch:
        from host_tools import watch
        with _client(args) as c:
            return watch.run(c, args)
    with _client(args) as c:
        s = c.request("status")
    print(json.dumps(s, indent=2, sort_keys=True) if args.json else format_status(s))


def cmd_hello(args):
    with _client(args) as c:
        h = c.hello()
        drift = c.check_commands()   # pumpctl's view of the commands against the pump's table
    h = dict(h, command_table="agrees" if not drift else drift)
    if args.json:
        print(json.dumps(h, indent=2, sort_keys=True))
    else:
        print("\n".join("%-13s %s" % (k.replace("_", " "), h[k]) for k in sorted(h) if k != "command_table"))
        print("%-13s %s" % ("command table", "agrees with pumpctl" if not drift else
                            "DIFFERS from pumpctl's:\n  " + "\n  ".join(drift)))
    return exits.ERROR if drift else exits.OK


def _simple(cmd, **extra):
    def run(args):
        with _client(args) as c:
            kwargs = {k: getattr(args, a) for k, a in extra.items()}
            s = c.request(cmd, **kwargs)
        print(json.dumps(s, indent=2, sort_keys=True) if args.json else format_status(s))
    return run


def cmd_service(args):
    with _client(args) as c:
        c.request("service")
    print("the board is rebooting into service mode: the REPL is free for mpremote "
          "(a reset or power cycle starts the app again)")


def cmd_deploy(args):
    from host_tools.deploy import deploy
    from host_tools.progress import Reporter
    with Reporter("deploy") as r:
        deploy(args.port, args.board, stop=args.stop, rekey=args.rekey, progress=r.say,
               step=r.step_or_none, frozen=args.frozen)


def cmd_sim(args):
    from host_tools.sim.supervisor import serve
    return serve(args)


def cmd_demo(args):
    from host_tools.demo import run_demo
    return run_demo(args)


def _number(convert, what, least, more_than=False):
    """An argparse type: a number of that kind, at least `least` (or more than it)."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError("%s is a number, got %r" % (what, text))
        if value < least or (more_than and value == least):
            raise argparse.ArgumentTypeError("%s must be %s %s, got %r" % (
                what, "more than" if more_than else "at least", least, text))
        return value
    return parse


_positive_rate = _number(float, "a rate in uL/h", 0)
_positive_seconds = _number(float, "a time in seconds", 0, more_than=True)
_count = _number(int, "a count", 1)


class _Parser(argparse.ArgumentParser):
    """Usage errors on one line, as every other pumpctl error, with where to read more."""

    def error(self, message):
        self.exit(exits.USAGE, "pumpctl: error: %s; see %s --help\n" % (exits.one_line(message), self.prog))


def _json_flag(s, what="machine-readable output"):
    s.add_argument("--json", action="store_true", help=what)
    return s


def build_parser():
    p = _Parser(prog="pumpctl", description=__doc__)
    p.add_argument("--port", default=os.environ.get("PUMPCTL_PORT"),
                   help="serial port of the board or the sim's link path (default: $PUMPCTL_PORT)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for a reply (default 5)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("status", help="show the pump's state (--watch: a live view)")
    s.add_argument("--json", action="store_true",
                   help="machine-readable output (with --watch: one JSON line per interval)")
    s.add_argument("--watch", "-w", action="store_true",
                   help="keep showing it: a live view on a terminal, JSON lines when piped; Ctrl-C ends")
    s.add_argument("--interval", type=_positive_seconds, default=1.0, help="seconds between refreshes (default 1)")
    s.add_argument("--count", type=_count, default=None, help="with --watch: stop after N refreshes")
    s.add_argument("--duration", type=_positive_seconds, default=None, help="with --watch: stop after S seconds")
    s.set_defaults(func=cmd_status)
    _json_flag(sub.add_parser("hello", help="firmware, protocol and board of the connected pump")
               ).set_defaults(func=cmd_hello)
    _json_flag(sub.add_parser("start", help="start delivery at the set rate"), "the status reply as JSON"
               ).set_defaults(func=_simple("start"))
    _json_flag(sub.add_parser("stop", help="stop delivery"), "the status reply as JSON").set_defaults(func=_simple("stop"))
    s = _json_flag(sub.add_parser("set-rate", help="set the continuous rate"), "the status reply as JSON")
    s.add_argument("rate", type=_positive_rate, metavar="UL_PER_H", help="rate in uL/h")
    s.set_defaults(func=_simple("set_rate", rate_ul_h="rate"))

    sub.add_parser("service", help="reboot into the REPL with the app and watchdog off (for mpremote)"
                   ).set_defaults(func=cmd_service)
    s = sub.add_parser("deploy", help="compile, copy and verify the firmware, then restart the app")
    s.add_argument("--board", required=True, help="board name: a folder under boards/")
    s.add_argument("--stop", action="store_true", help="stop delivery first if the pump is delivering")
    s.add_argument("--rekey", action="store_true",
                   help="give the pump a new device key (other computers' keys for it stop working)")
    s.add_argument("--frozen", action="store_true",
                   help="the board runs a frozen build (make firmware): copy only main.py and the "
                        "data files, and remove pump/ and drivers/ modules left on its filesystem")
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
    from host_tools import keys_cli
    keys_cli.add_parsers(sub)

    from host_tools import boards, flash, ports, rig_cli
    boards.add_parser(sub)
    rig_cli.add_parser(sub)
    ports.add_parser(sub, DEFAULT_SIM_HOME)
    flash.add_parser(sub)
    from host_tools import dashboard
    dashboard.add_parser(sub, DEFAULT_SIM_HOME)
    from host_tools import calibrate_cli, guided_cli
    calibrate_cli.add_parsers(sub, _client)
    guided_cli.add_parsers(sub, _client)
    from host_tools.report import command as report_command
    report_command.add_parser(sub)

    s = sub.add_parser("demo", help="simulated board running a teaching program, under the live dashboard")
    s.add_argument("--home", default=None, help="sim folder (default .sim/demo in the current folder)")
    s.add_argument("--speed", default="60", help="simulation speed (default 60: a minute per second)")
    s.add_argument("--program", default=None, metavar="FILE",
                   help="program to load (default examples/teaching-flex-week-morphine.toml)")
    s.add_argument("--rate", type=_positive_rate, default=None,
                   help="deliver this plain rate in uL/h instead of a program")
    s.add_argument("--record", metavar="FILE", default=None,
                   help="write every poll as JSON lines (what pumpctl report reads)")
    s.add_argument("--duration", type=float, default=None, help="seconds to run (default: until q or Ctrl-C)")
    s.set_defaults(func=cmd_demo)
    return p


def main(argv=None):
    """Runs one command; the exit codes are host_tools/exits.py's (docs/cli.md lists them)."""
    args = build_parser().parse_args(argv)
    if args.command not in ("sim", "demo") and not getattr(args, "offline", False) and not args.port:
        return exits.usage("no port given: use --port PATH (or set PUMPCTL_PORT)",
                           "list the ports with pumpctl ports")
    from host_tools.deploy import DeployError
    from host_tools.sim.supervisor import SimError
    from host_tools.program_file import ProgramFileError
    try:
        return args.func(args) or exits.OK
    except DeviceError as e:
        return exits.refused(str(e), exits.device_hint(e.code))
    except UncertainDelivery as e:
        print("pumpctl: uncertain: %s" % exits.one_line(e), file=sys.stderr)
        return exits.UNCERTAIN
    except (LinkError, DeployError, SimError, RigError, ProgramFileError) as e:
        return exits.error(exits.link_line(str(e)))
    except BrokenPipeError:
        # the reader went away (`pumpctl log | head`): nothing left to say, and nowhere to say it
        sys.stdout = open(os.devnull, "w")
        return exits.OK
    except OSError as e:
        return exits.error(str(e), "check the path and its permissions")
    except KeyboardInterrupt:
        print("pumpctl: interrupted", file=sys.stderr)
        return exits.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
