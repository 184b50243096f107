"""pumpctl rig: put the physical rig's firmware on its board, and read or move the rig by hand on the bench."""
import json
import os
import subprocess

from host_tools import paths
from host_tools.rig import RigError, SerialRig

RIG_DIR = os.path.join(paths.REPO_DIR, "boards", "rig_pico")
# what the rig board holds: its own files, and the HX711 driver it shares with the pump firmware
RIG_FILES = (("main.py", os.path.join(RIG_DIR, "main.py")),
             ("rig_firmware.py", os.path.join(RIG_DIR, "rig_firmware.py")),
             ("rig.json", os.path.join(RIG_DIR, "rig.json")),
             ("drivers/__init__.py", os.path.join(paths.FIRMWARE_DIR, "drivers", "__init__.py")),
             ("drivers/hx711.py", os.path.join(paths.FIRMWARE_DIR, "drivers", "hx711.py")))


def _to_repl(port):
    """Ask a running rig firmware to hand the port back to the REPL (it ignores Ctrl-C)."""
    try:
        rig = SerialRig(port, timeout=2)
    except RigError:
        return False     # not running the rig firmware (a fresh MicroPython board): nothing to stop
    try:
        rig._exchange("repl", 2, {})
    except RigError:
        pass
    rig.close()
    return True


def cmd_deploy(args):
    port = args.port
    stopped = _to_repl(port)
    print("rig: %s" % ("rig firmware stopped for the copy" if stopped else "no rig firmware answering: copying to a plain MicroPython board"))
    cmd = [paths.mpremote(), "connect", port, "resume", "fs", "mkdir", ":drivers"]
    subprocess.run(cmd, capture_output=True)     # exists already after the first deploy
    for i, (remote, local) in enumerate(RIG_FILES, 1):
        result = subprocess.run([paths.mpremote(), "connect", port, "resume", "fs", "cp", local, ":" + remote],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RigError("copying %s to the rig failed: %s" % (remote, (result.stderr or result.stdout).strip()))
        print("rig: [%d/%d] %s" % (i, len(RIG_FILES), remote))
    subprocess.run([paths.mpremote(), "connect", port, "resume", "soft-reset"], capture_output=True)
    with SerialRig(port, timeout=10) as rig:
        print("rig: up: %s, features %s" % (rig.name, ", ".join(sorted(rig.features))))
    return 0


def cmd_status(args):
    with SerialRig(args.port, timeout=10) as rig:
        s = rig.status()
    if args.json:
        print(json.dumps(s, sort_keys=True))
    else:
        print("rig       %s" % s["rig"])
        print("features  %s" % ", ".join(s["features"]))
        print("power     %s" % ("on" if s["power"] else "OFF"))
        print("valve     %s" % ("open" if not s["occluded"] else "%.0f%% closed" % (s["occluded"] * 100)))
        print("scale     %.3f g (%.1f uL)" % (s["grams"], s["scale_ul"]))
    return 0


def _simple(call):
    def run(args):
        with SerialRig(args.port, timeout=70) as rig:
            print(json.dumps(call(rig, args), sort_keys=True))
        return 0
    return run


def add_parser(sub):
    import argparse
    r = sub.add_parser("rig", help="the physical HIL rig board (boards/rig_pico): deploy, status, valve, power")
    rs = r.add_subparsers(dest="rig_command", required=True)

    def port_opt(s):
        s.add_argument("--port", default=argparse.SUPPRESS, help="the rig board's serial port")
        return s
    port_opt(rs.add_parser("deploy", help="copy the rig firmware (and its HX711 driver) to the rig board")
             ).set_defaults(func=cmd_deploy)
    s = port_opt(rs.add_parser("status", help="power, valve and scale"))
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)
    port_opt(rs.add_parser("tare", help="zero the scale at what it holds now")).set_defaults(
        func=_simple(lambda rig, a: rig.call("tare")))
    s = port_opt(rs.add_parser("occlude", help="close the pinch valve (a fraction, 1 = fully)"))
    s.add_argument("fraction", type=float, nargs="?", default=1.0)
    s.set_defaults(func=_simple(lambda rig, a: rig.occlude(a.fraction)))
    port_opt(rs.add_parser("release", help="open the pinch valve")).set_defaults(
        func=_simple(lambda rig, a: rig.release()))
    port_opt(rs.add_parser("power-cut", help="switch the pump board off")).set_defaults(
        func=_simple(lambda rig, a: rig.power_cut()))
    port_opt(rs.add_parser("power-on", help="switch the pump board on")).set_defaults(
        func=_simple(lambda rig, a: rig.power_on()))
