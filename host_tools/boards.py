"""pumpctl boards: the boards this checkout knows (folders under boards/ with a board.json)."""
import json
import os

from host_tools import paths


def list_boards(boards_dir=None):
    """[{name, description, port, drivers, flash, path}] sorted by name (flash: how MicroPython
    goes onto a real board, None for the sim); a board.json that cannot be read is listed with an
    "error" so a broken folder shows up instead of vanishing."""
    boards_dir = boards_dir or paths.BOARDS_DIR
    out = []
    for name in sorted(os.listdir(boards_dir)) if os.path.isdir(boards_dir) else ():
        path = os.path.join(boards_dir, name, "board.json")
        if not os.path.isfile(path):
            continue
        entry = {"name": name, "path": path}
        try:
            with open(path) as f:
                doc = json.load(f)
            flash = doc.get("flash")
            entry.update(description=doc.get("description", ""), port=doc.get("port", ""),
                         drivers={role: (d or {}).get("kind") for role, d in (doc.get("drivers") or {}).items()},
                         flash=flash if isinstance(flash, dict) else None)
        except (OSError, ValueError, AttributeError) as e:
            entry["error"] = "cannot read board.json: %s" % e
        out.append(entry)
    return out


def format_boards(boards):
    if not boards:
        return "no boards: add a folder under boards/ with a board.json"
    lines = []
    for b in boards:
        if "error" in b:
            lines.append("%-10s %s" % (b["name"], b["error"]))
            continue
        lines.append("%s  port %s: %s" % (b["name"], b["port"], b["description"]))
        flash = b.get("flash")
        if flash:
            lines.append("    flash: %s, MicroPython %s %s+ (%s)" % (
                flash.get("method"), flash.get("micropython_board"), flash.get("min_version"),
                flash.get("download")))
        lines.append("    drivers: %s" % ", ".join("%s=%s" % kv for kv in b["drivers"].items()))
    return "\n".join(lines)


def cmd_boards(args):
    boards = list_boards()
    if args.json:
        print(json.dumps(boards, indent=2, sort_keys=True))
    else:
        print(format_boards(boards))
    return 0


def add_parser(sub):
    s = sub.add_parser("boards", help="list the known boards (folders under boards/)")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_boards, offline=True)
