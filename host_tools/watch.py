"""pumpctl status --watch: the pump's replies as a live rich view, or one JSON status line per interval."""
import json
import os
import sys
import time

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from host_tools import paths
from host_tools.program_io import wall_datetime

PRIORITY_STYLE = {"high": "bold white on red", "medium": "bold yellow", "low": "cyan", "info": "dim"}
STATE_STYLE = {"running": "bold green", "stopped": "bold yellow"}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MS_PER_DAY = 86400000
SUMMARY_EVERY_S = 10.0   # the projection moves slowly: program_summary is asked for this often
LOW_FRACTION = 0.10      # without a program's low level, the gauge turns red below this


# ---- what the replies say ------------------------------------------------------------------------
def board_capacity_ul(board_name):
    """The reservoir of boards/<name>/board.json (limits.reservoir_ul), or None if unknown."""
    try:
        with open(os.path.join(paths.BOARDS_DIR, str(board_name), "board.json")) as f:
            return float(json.load(f)["limits"]["reservoir_ul"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def capacity_ul(snap):
    """The program's reservoir if a program is loaded, else the board's."""
    res = ((snap.get("summary") or {}).get("summary") or {}).get("reservoir") or {}
    if res.get("capacity_ml"):
        return res["capacity_ml"] * 1000.0
    return snap.get("capacity_ul")


def low_level_ul(snap):
    res = ((snap.get("summary") or {}).get("summary") or {}).get("reservoir") or {}
    return None if res.get("low_ml") is None else res["low_ml"] * 1000.0


def pump_wall_ms(status):
    """The pump's local wall time now (ms since 1970, local), known while a program delivers."""
    prog = status.get("program") or {}
    if prog.get("start_wall_ms") is None or prog.get("t_ms") is None:
        return None
    return prog["start_wall_ms"] + prog["t_ms"]


def programmed_today(snap):
    """(weekday name, uL the program delivers that day) from program_summary, or None."""
    wall = pump_wall_ms(snap["status"])
    daily = ((snap.get("summary") or {}).get("summary") or {}).get("daily") or {}
    if wall is None or not daily.get("ml"):
        return None
    weekday = (wall // MS_PER_DAY + 3) % 7      # 1970-01-01 was a Thursday
    return WEEKDAYS[weekday], daily["ml"][weekday] * 1000.0


def wall_text(ms):
    """The pump's local wall ms as it reads (no zone: the pump keeps local time)."""
    return wall_datetime(ms).strftime("%a %Y-%m-%d %H:%M")


def duration_text(ms):
    s = max(int(ms // 1000), 0)
    if s < 60:
        return "%d s" % s
    if s < 3600:
        return "%d min %02d s" % (s // 60, s % 60)
    if s < 86400:
        return "%d h %02d min" % (s // 3600, s // 60 % 60)
    return "%d d %d h" % (s // 86400, s // 3600 % 24)


def next_events(snap):
    """[(in_ms, what, when or None)], soonest first: boluses, the demand lockout, the reservoir dates."""
    status = snap["status"]
    prog = status.get("program") or {}
    t = prog.get("t_ms")
    out = []
    b = status.get("bolus") or {}
    if t is not None:
        if b.get("active") and b.get("ends_ms") is not None:
            out.append((b["ends_ms"] - t, "%s bolus ends" % b["active"], None))
        if b.get("next_periodic_ms") is not None and b["next_periodic_ms"] > t:
            out.append((b["next_periodic_ms"] - t, "next periodic bolus", None))
    if b.get("demand_lockout_ms"):
        out.append((b["demand_lockout_ms"], "demand lockout ends", None))
    wall = pump_wall_ms(status)
    projection = (snap.get("summary") or {}).get("projection") or {}
    if wall is not None:
        for key, what in (("low_at_ms", "reservoir low"), ("empty_at_ms", "reservoir empty")):
            at = projection.get(key)
            if at is not None:
                out.append((at - wall, what, wall_text(at)))
    if t is not None:
        for i, (in_ms, what, when) in enumerate(out):
            if when is None:
                out[i] = (in_ms, what, wall_text(wall + in_ms) if wall is not None else None)
    return sorted(out, key=lambda e: e[0])


def alarm_list(snap):
    """[(priority, code, message, flags)], from the alarms reply, else from the status codes."""
    reply = snap.get("alarms")
    if reply is not None:
        return [(a.get("priority", "high"), a["code"], a.get("message", ""),
                 [f for f in ("latched", "acknowledged", "silenced") if a.get(f)])
                for a in reply.get("alarms") or []]
    paths.use_firmware_modules()
    from pump.alarms import TABLE
    out = []
    for a in snap["status"].get("alarms") or []:
        code = a if isinstance(a, str) else a[0]
        priority, message = TABLE.get(code, ("high", code))[:2]
        out.append((priority, code, message, []))
    rank = {"high": 0, "medium": 1, "low": 2, "info": 3}
    return sorted(out, key=lambda a: rank.get(a[0], 0))


# ---- the view ------------------------------------------------------------------------------------
def _gauge(snap):
    status = snap["status"]
    left = status["reservoir_ul"]
    cap = capacity_ul(snap)
    if not cap:
        return Text("%.1f uL" % left)
    low = low_level_ul(snap)
    short = left <= low if low is not None else left < LOW_FRACTION * cap
    bar = ProgressBar(total=cap, completed=min(max(left, 0.0), cap), width=30,
                      complete_style="red" if short else "green", finished_style="green")
    row = Table.grid(padding=(0, 1))
    row.add_row(bar, Text("%.1f uL  %.0f%% of %.0f uL" % (left, 100.0 * left / cap, cap),
                          style="bold red" if short else ""))
    return row


def _delivered(snap):
    status = snap["status"]
    text = Text("%.2f uL" % status["delivered_ul"])
    today = programmed_today(snap)
    if today is not None:
        text.append("   programmed %s: %.1f uL/day" % today, style="dim")
    return text


def _alarms(snap):
    alarms = alarm_list(snap)
    if not alarms:
        return Text("none", style="green")
    text = Text()
    for i, (priority, code, message, flags) in enumerate(alarms):
        if i:
            text.append("\n")
        text.append(" %s " % priority.upper(), style=PRIORITY_STYLE.get(priority, "bold"))
        text.append(" %s" % (message or code))
        text.append("  [%s]" % ", ".join([code] + flags), style="dim")
    return text


def _next(snap):
    events = next_events(snap)
    if not events:
        return Text("nothing scheduled", style="dim")
    text = Text()
    for i, (in_ms, what, when) in enumerate(events[:4]):
        if i:
            text.append("\n")
        text.append("%s in %s" % (what, duration_text(in_ms)))
        if when:
            text.append("  (%s)" % when, style="dim")
    return text


def rows(snap, extra=()):
    """The view's rows as (label, renderable): what render() lays out; extra rows go after delivered."""
    status = snap["status"]
    state = Text(status["state"], style=STATE_STYLE.get(status["state"], "bold"))
    if status.get("mode"):
        state.append("  (%s)" % status["mode"], style="dim")
    prog = status.get("program")
    out = [("state", state),
           ("rate", Text("%.3f uL/h" % status["rate_ul_h"]))]
    if prog:
        out.append(("program", Text("%s  %s" % (prog.get("name"), (prog.get("digest") or "")[:12]))))
    out.append(("delivered", _delivered(snap)))
    out.extend(extra)
    out.append(("reservoir", _gauge(snap)))
    if "pressure_kpa" in status:
        out.append(("pressure", Text("%.2f kPa" % status["pressure_kpa"])))
    out.append(("alarms", _alarms(snap)))
    out.append(("next", _next(snap)))
    clock = "up %s" % duration_text(status.get("uptime_s", 0) * 1000)
    if "sim_time_s" in status:
        clock += "   sim time %s" % duration_text(status["sim_time_s"] * 1000)
    out.append(("clock", Text(clock, style="dim")))
    return out


def title(snap):
    hello = snap.get("hello") or {}
    if not hello:
        return "pump"
    return "pump on %s  firmware %s" % (hello.get("board", "?"), hello.get("firmware", "?"))


def render(snap, extra=()):
    """A rich renderable of one snapshot: {"status", "alarms", "summary", "hello", "capacity_ul"}
    (only "status" is needed: the replies to status, alarms, program_summary and hello)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, value in rows(snap, extra):
        grid.add_row(label, value)
    return Panel(Group(grid), title=title(snap), subtitle="not a medical device", title_align="left", expand=False)


def to_text(renderable, width=100):
    """A renderable as plain text (for tests and logs)."""
    console = Console(width=width, record=True, file=open(os.devnull, "w"), color_system=None)
    console.print(renderable)
    return console.export_text()


# ---- the loop ------------------------------------------------------------------------------------
class SummaryCache:
    """program_summary, asked again only for a new program or every SUMMARY_EVERY_S: the
    projection moves slowly, and the pump works out the whole program for it."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.reply = None
        self._digest = None
        self._at = None

    def get(self, client, digest):
        """The summary of the program with this digest (None: no program, no summary)."""
        now = self.clock()
        if digest is None:
            self.reply = None
        elif digest != self._digest or self._at is None or now - self._at >= SUMMARY_EVERY_S:
            self.reply, self._digest, self._at = client.request("program_summary"), digest, now
        return self.reply

    def refresh(self):
        """Ask again on the next get (after a refill the projection moves)."""
        self._at = None


class Watcher:
    """Asks the pump for what the view needs; program_summary only when it may have changed."""

    def __init__(self, client, full=True):
        self.client = client
        self.full = full
        self.hello = client.request("hello") if full else None
        self.capacity = board_capacity_ul(self.hello.get("board")) if full else None
        self._summaries = SummaryCache()

    def take(self):
        c = self.client
        status = c.request("status")
        snap = {"status": status}
        if not self.full:
            return snap
        snap.update(hello=self.hello, capacity_ul=self.capacity, alarms=c.request("alarms"))
        snap["summary"] = self._summaries.get(c, (status.get("program") or {}).get("digest"))
        return snap


def ticks(interval, count=None, duration=None, clock=time.monotonic, sleep=time.sleep):
    """Yields 0, 1, 2... once per interval until count ticks or duration seconds have gone by."""
    start = clock()
    i = 0
    while True:
        yield i
        i += 1
        if count is not None and i >= count:
            return
        due = start + i * interval
        if duration is not None and due - start > duration:
            return
        delay = due - clock()
        if delay > 0:
            sleep(delay)


def run(client, args, out=None):
    """status --watch: a live view on a terminal; JSON lines when piped or with --json. Ctrl-C ends it."""
    out = out or sys.stdout
    as_json = args.json or not out.isatty()
    try:
        watcher = Watcher(client, full=not as_json)
        steps = ticks(args.interval, args.count, args.duration)
        if as_json:
            for _ in steps:
                out.write(json.dumps(watcher.take()["status"], sort_keys=True) + "\n")
                out.flush()
            return 0
        console = Console(file=out)
        snap = watcher.take()
        with Live(render(snap), console=console, auto_refresh=False) as live:
            for i in steps:
                if i:
                    snap = watcher.take()
                    live.update(render(snap), refresh=True)
        return 0
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        # the reader went away (| head): that ends the watch as Ctrl-C does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        return 0
