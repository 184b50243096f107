"""The dashboard's loop: poll about 4 times a second, redraw full screen, act on single keys."""
import os
import sys
import time

from rich.console import Console
from rich.live import Live

from host_tools.dashboard import panels
from host_tools.dashboard.actions import QUIT, Keys
from host_tools.dashboard.keys import RawKeys


def view(model, snap, message, port=None):
    """What the panels draw: the snapshot, the history and the message line."""
    v = dict(snap)
    v.update(volume=list(model.volume.points), pressure=list(model.pressure), message=message,
             is_sim=model.is_sim, speed=model.speed, port=port)
    return v


def run(model, interval=0.25, record=None, duration=None, port=None, out=None, keys_in=None,
        clock=time.monotonic):
    """Runs until q, Ctrl-C, end of input or `duration` seconds; returns the last snapshot.
    The terminal comes back as it was however it ends (RawKeys and Live undo their changes)."""
    out = out or sys.stdout
    console = Console(file=out)
    keys = Keys(model)
    message = "connected: press b for a demand bolus, q to quit"
    snap = {"status": None, "problem": "connecting to %s..." % (port or "the pump")}
    end = None if duration is None else clock() + duration
    with RawKeys(keys_in) as raw, Live(console=console, screen=True, auto_refresh=False,
                                       redirect_stdout=False, redirect_stderr=False) as live:

        def draw():
            w, h = console.size
            live.update(panels.render(view(model, snap, message, port), w, h), refresh=True)

        try:
            while end is None or clock() < end:
                due = clock() + interval
                snap = model.poll()
                if record is not None:
                    record.write(snap, model)
                draw()
                while True:
                    left = due - clock()
                    if left <= 0:
                        break
                    key = raw.read(left)
                    if key is None:
                        break
                    said = keys.handle(key)
                    if said == QUIT:
                        return snap
                    if said:
                        message = said
                        draw()
        except KeyboardInterrupt:
            pass
    return snap


def no_terminal_line():
    return ("the dashboard needs a terminal (stdout is not one); for a log use "
            "pumpctl status --watch --json")


def stdout_is_terminal(out=None):
    out = out or sys.stdout
    try:
        return os.isatty(out.fileno()) and os.isatty(sys.stdin.fileno())
    except (AttributeError, ValueError, OSError):
        return False
