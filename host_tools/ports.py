"""pumpctl ports: serial ports, marked when they look like MicroPython boards, and simulated boards."""
import glob
import json
import os

# USB vendor ids: boards that run MicroPython over their own USB, and USB-serial bridges that
# many ESP32 and STM32 boards put in front of their UART (they might be anything).
MICROPYTHON_VIDS = {0x2E8A: "Raspberry Pi (RP2040/RP2350)", 0xF055: "MicroPython / pyboard",
                    0x303A: "Espressif native USB"}
BRIDGE_VIDS = {0x10C4: "Silicon Labs CP210x", 0x1A86: "WCH CH340"}
YES, MAYBE, NO = "yes", "maybe", "no"


def classify(port):
    """(YES | MAYBE | NO, why) for a pyserial ListPortInfo-like object (vid, pid may be None)."""
    vid = getattr(port, "vid", None)
    if vid in MICROPYTHON_VIDS:
        return YES, MICROPYTHON_VIDS[vid]
    if vid in BRIDGE_VIDS:
        return MAYBE, "USB-serial bridge (%s)" % BRIDGE_VIDS[vid]
    return NO, ""


def vid_pid(port):
    vid, pid = getattr(port, "vid", None), getattr(port, "pid", None)
    return None if vid is None else "%04X:%04X" % (vid, pid or 0)


def serial_ports(comports=None):
    """[{device, description, vid_pid, micropython, why}], MicroPython-looking ones first."""
    if comports is None:
        from serial.tools import list_ports
        comports = list_ports.comports()
    out = []
    for p in comports:
        kind, why = classify(p)
        out.append({"device": p.device, "description": getattr(p, "description", "") or "",
                    "vid_pid": vid_pid(p), "micropython": kind, "why": why})
    rank = {YES: 0, MAYBE: 1, NO: 2}
    return sorted(out, key=lambda e: (rank[e["micropython"]], e["device"]))


def sim_boards(homes=(), cwd=None):
    """Simulated boards whose `tty` link exists and resolves: in each of homes and .sim/*/ under cwd."""
    cwd = cwd or os.getcwd()
    candidates = list(homes) + sorted(glob.glob(os.path.join(cwd, ".sim", "*", "")))
    out, seen = [], set()
    for home in candidates:
        home = os.path.abspath(home)
        link = os.path.join(home, "tty")
        if home in seen or not os.path.islink(link) or not os.path.exists(link):
            continue   # no link, or a link left by a sim that has stopped
        seen.add(home)
        rig = os.path.join(home, "rig.sock")
        out.append({"device": link, "target": os.path.realpath(link), "home": home,
                    "rig": rig if os.path.exists(rig) else None})
    return out


def format_ports(ports, sims):
    lines = []
    if ports:
        lines.append("%-22s %-10s %-6s %s" % ("serial port", "VID:PID", "mpy?", "description"))
        for p in ports:
            mark = {YES: "yes", MAYBE: "maybe", NO: "-"}[p["micropython"]]
            desc = p["description"] + (" [%s]" % p["why"] if p["why"] else "")
            lines.append("%-22s %-10s %-6s %s" % (p["device"], p["vid_pid"] or "-", mark, desc))
    else:
        lines.append("no serial ports found")
    if sims:
        lines.append("")
        lines.append("simulated boards:")
        for s in sims:
            lines.append("  %s -> %s%s" % (s["device"], s["target"], "  (rig: %s)" % s["rig"] if s["rig"] else ""))
    else:
        lines.append("no simulated boards running (start one with pumpctl sim)")
    return "\n".join(lines)


def cmd_ports(args, default_sim_home):
    ports = serial_ports()
    sims = sim_boards([default_sim_home])
    if args.json:
        print(json.dumps({"ports": ports, "sims": sims}, indent=2, sort_keys=True))
    else:
        print(format_ports(ports, sims))
    return 0


def add_parser(sub, default_sim_home):
    s = sub.add_parser("ports", help="list serial ports (MicroPython boards marked) and simulated boards")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=lambda a: cmd_ports(a, default_sim_home), offline=True)
