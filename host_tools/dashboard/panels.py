"""The dashboard's panels as rich renderables, from one view dict (a Model snapshot plus history)."""
from rich.console import Group
from rich.layout import Layout
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from host_tools import watch
from host_tools.dashboard import chart
from host_tools.dashboard.actions import KEY_HELP, speed_text

MIN_W, MIN_H = 100, 30
TIMELINE_H = 6            # the day bar, its bolus marks, "now" and the hours, in a box
DETECTOR_NAMES = {"ThresholdDetector": "threshold", "StepResponseDetector": "step response"}
DELIVERED, PROGRAMMED, SCALE, PRESSURE = "bold green", "white", "magenta", "yellow"


def _grid():
    g = Table.grid(padding=(0, 1))
    g.add_column(style="bold", no_wrap=True, min_width=9)
    g.add_column(no_wrap=True, overflow="ellipsis")
    return g


def state_panel(v):
    s = v["status"]
    g = _grid()
    state = Text(s["state"].upper(), style=watch.STATE_STYLE.get(s["state"], "bold"))
    state.append("  %s mode" % s.get("mode", "rate"), style="dim")
    g.add_row("state", state)
    g.add_row("rate", Text("%.3f uL/h" % s["rate_ul_h"]))
    prog = s.get("program")
    if prog:
        g.add_row("program", Text("%s  " % prog.get("name")).append((prog.get("digest") or "")[:8], style="dim"))
    else:
        g.add_row("program", Text("none (a rate set by hand)", style="dim"))
    g.add_row("delivered", Text("%.2f uL" % s["delivered_ul"]).append("  (all time)", style="dim"))
    b = s.get("bolus") or {}
    if b:
        text = Text()
        if b.get("active"):
            text.append("%s bolus running  " % b["active"], style="bold cyan")
        lock = b.get("demand_lockout_ms") or 0
        text.append("demand %d/%d in 24 h" % (b.get("demand_used_24h", 0), b.get("demand_allowed_24h", 0)))
        if lock:
            text.append("  lockout %s" % watch.duration_text(lock), style="yellow")
        g.add_row("bolus", text)
    clock = Text()
    wall = watch.pump_wall_ms(s)
    if wall is not None:
        clock.append(watch.wall_text(wall) + "  ")
    if "sim_time_s" in s:
        clock.append("sim %s %s" % (watch.duration_text(s["sim_time_s"] * 1000), speed_text(v.get("speed"))),
                     style="dim")
    else:
        clock.append("up %s" % watch.duration_text(s.get("uptime_s", 0) * 1000), style="dim")
    g.add_row("clock", clock)
    return Panel(g, title="pump", title_align="left")


def reservoir_panel(v, width):
    s = v["status"]
    left = s["reservoir_ul"]
    cap = watch.capacity_ul(v)
    rows = []
    if cap:
        low = watch.low_level_ul(v)
        short = left <= low if low is not None else left < watch.LOW_FRACTION * cap
        bar = Table.grid()      # a ProgressBar ends no line of its own: a grid row gives it one
        bar.add_row(ProgressBar(total=cap, completed=min(max(left, 0.0), cap), width=max(width - 4, 10),
                                complete_style="red" if short else "green", finished_style="green"))
        rows.append(bar)
        rows.append(Text("%.2f of %.1f mL  (%.0f%%)" % (left / 1000, cap / 1000, 100.0 * left / cap),
                         style="bold red" if short else ""))
    else:
        rows.append(Text("%.1f uL" % left))
    projection = (v.get("summary") or {}).get("projection") or {}
    wall = watch.pump_wall_ms(s)
    g = _grid()
    for key, what in (("low_at_ms", "refill by"), ("empty_at_ms", "empty")):
        at = projection.get(key)
        if at is not None:
            g.add_row(what, Text(watch.wall_text(at)))
            if wall is not None:
                g.add_row("", Text("in %s" % watch.duration_text(at - wall), style="dim"))
    rows.append(g)
    if not projection:
        rows.append(Text("no projection: load a program", style="dim"))
    return Panel(Group(*rows), title="reservoir", title_align="left")


def alarms_panel(v):
    alarms = watch.alarm_list(v)
    if not alarms:
        body = Text("no alarms", style="green")
    else:
        body = Text()
        for i, (priority, code, message, flags) in enumerate(alarms):
            if i:
                body.append("\n")
            body.append(" %s " % priority.upper(), style=watch.PRIORITY_STYLE.get(priority, "bold"))
            body.append(" %s" % (message or code))
            body.append("  [%s]" % ", ".join([code] + flags), style="dim")
        hints = [a.get("hint") for a in (v.get("alarms") or {}).get("alarms") or [] if a.get("hint")]
        if hints:
            body.append("\n" + hints[0], style="dim")
    return Panel(body, title="alarms", title_align="left")


def timeline_panel(v, width):
    """The day as a bar of basal levels, "now" marked under it, the hours under that."""
    w = max(width - 4, 24)
    steps, day_ms = v.get("day_steps"), v.get("day_ms")
    if not steps or day_ms is None:
        msg = "no program: the pump delivers a rate set by hand" if not (v["status"].get("program")) \
            else "the program's day is not known yet (set the pump's time: pumpctl time sync)"
        return Panel(Text(msg, style="dim"), title="program: 24 h", title_align="left", height=5)
    col = chart.marker_column(day_ms, w)
    bar = Text(chart.day_bar(steps, w), style="blue", no_wrap=True)
    bar.stylize("bold white on blue", col, col + 1)
    rate = next((r for a, b, r in steps if a <= day_ms < b), None)
    label = "▲ now %02d:%02d" % (day_ms // 3600000, day_ms // 60000 % 60)
    if rate is not None:
        label += "  %.2f uL/h basal" % rate
    start = col if col + len(label) <= w else max(col - len(label) + 1, 0)
    if start != col:
        label = label[1:] + "▲"
    marker = Text(" " * start + label, style="bold", no_wrap=True)
    top = max(r for _, _, r in steps)
    title = "program: 24 h  (bar height = basal rate, top %.2f uL/h)" % top
    boluses = v.get("day_boluses") or []
    rows = [bar, marker, Text(chart.hour_ruler(w), style="dim", no_wrap=True)]
    if boluses:
        rows.insert(0, Text(chart.bolus_row(boluses, w), style="bold magenta", no_wrap=True))
        title += "  ▼ periodic bolus %.1f uL" % boluses[0][2]
    wall = watch.pump_wall_ms(v["status"])
    if wall is not None:
        title += "  " + watch.WEEKDAYS[(wall // watch.MS_PER_DAY + 3) % 7]
    return Panel(Group(*rows), title=title, title_align="left", height=len(rows) + 2)


def volume_panel(v, width, height):
    pts = v.get("volume") or []
    series = []
    if any(p[2] is not None for p in pts):
        series.append(([(p[0] / 3.6e6, p[2]) for p in pts if p[2] is not None], PROGRAMMED))
    if any(p[3] is not None for p in pts):
        series.append(([(p[0] / 3.6e6, p[3]) for p in pts if p[3] is not None], SCALE))
    series.append(([(p[0] / 3.6e6, p[1]) for p in pts], DELIVERED))
    legend = Text(no_wrap=True, overflow="ellipsis")
    got, want, scale = v.get("delivered_since_ul"), v.get("programmed_ul"), v.get("scale_ul")
    legend.append("━ delivered %.2f uL" % (got or 0.0), style=DELIVERED)
    if want is not None:
        legend.append("   ━ programmed %.2f uL" % want, style=PROGRAMMED)
        legend.append("  (%+.2f)" % ((got or 0.0) - want), style="dim")
    if scale is not None:
        legend.append("   ━ scale %.2f uL" % scale, style=SCALE)
    ys = [y for pts_, _ in series for _, y in pts_]
    y_range = (min(ys + [0.0]), max(ys + [1.0]) * 1.05) if pts else None
    body = chart.chart(series if pts else [], max(width - 4, 20), max(height - 3, 3), y_range=y_range,
                       y_fmt="%.1f", x_fmt="%.1f", x_unit=" h")
    title = "delivered vs programmed (uL since the program started)"
    return Panel(Group(legend, body), title=title, title_align="left", height=height)


def pressure_panel(v, width, height):
    pts = v.get("pressure") or []
    s = v["status"]
    occ = s.get("occlusion") or {}
    lines = []
    for key, name in DETECTOR_NAMES.items():
        d = occ.get(key)
        if d is None:
            continue
        t = Text("%-13s " % name, style="bold", no_wrap=True, overflow="ellipsis")
        if d.get("occluded"):
            t.append("OCCLUDED", style="bold white on red")
            if d.get("reason"):
                t.append(" " + d["reason"], style="red")
        else:
            t.append("open", style="green")
            t.append("  %.2f uL held back" % (d.get("undelivered_ul") or 0.0), style="dim")
        lines.append(t)
    if occ.get("released_ul") is not None:
        lines.append(Text("released %.2f uL when the line cleared" % occ["released_ul"], style="cyan"))
    head = Text("now %.2f kPa" % s["pressure_kpa"], style=PRESSURE) if "pressure_kpa" in s \
        else Text("no pressure sensor on this board", style="dim")
    series = [([(x / 60.0, y) for x, y in pts], PRESSURE)] if pts else []
    # from 0 and at least 5 kPa tall: sensor noise stays flat, an occlusion's rise stands out
    top = max([y for _, y in pts] + [0.0])
    y_range = (min([y for _, y in pts] + [0.0]), max(5.0, top * 1.1))
    body = chart.chart(series, max(width - 4, 20), max(height - 3 - len(lines), 3), y_range=y_range,
                       y_fmt="%.1f", x_fmt="%.0f", x_unit=" sim min" if "sim_time_s" in s else " min up")
    return Panel(Group(head, body, *lines), title="pressure (kPa), occlusion detectors",
                 title_align="left", height=height)


def events_panel(v, rows):
    tail = (v.get("log_tail") or [])[-max(rows, 1):]
    t = Table.grid(padding=(0, 2))
    t.add_column(style="dim", no_wrap=True)
    t.add_column(style="bold", no_wrap=True)
    t.add_column(no_wrap=True, overflow="ellipsis")
    from host_tools.dashboard.model import event_detail, event_time
    for rec in tail:
        kind = rec.get("k", "?")
        style = "red" if kind == "alarm" else "cyan" if kind in ("bolus", "refill") else None
        t.add_row(event_time(rec), kind, Text(event_detail(rec), style=style))
    if not tail:
        t.add_row("", "", Text("no events yet", style="dim"))
    return Panel(t, title="event log (newest last)", title_align="left")


def message_line(v):
    msg = v.get("message")
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(" > ", style="bold")
    if msg:
        refused = "refused" in msg or "sim only" in msg or "not done" in msg
        text.append(msg, style="bold yellow" if refused else "bold")
    else:
        text.append("press a key", style="dim")
    return text


def footer(v):
    text = Text(no_wrap=True, overflow="ellipsis")
    for key, what in KEY_HELP:
        if key in ("o", "c", "+/-") and not v.get("is_sim"):
            what += " (sim)"
        text.append(" %s " % key, style="reverse bold")
        text.append(" %s  " % what)
    if v.get("is_sim"):
        text.append("speed %s" % speed_text(v.get("speed")), style="bold cyan")
    return text


def header(v):
    hello = v.get("hello") or {}
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(" micropump dashboard ", style="bold reverse")
    text.append("  teaching tool, NOT a medical device", style="bold red")
    text.append("   %s board, firmware %s" % (hello.get("board", "?"), hello.get("firmware", "?")))
    if v.get("port"):
        text.append("  on %s" % v["port"], style="dim")
    return text


def render(v, width, height):
    """The whole screen for a terminal of width x height."""
    if v.get("status") is None:
        return Group(header(v), Panel(Text(v.get("problem") or "connecting...", style="bold yellow"),
                                      title="link", title_align="left"),
                     events_panel(v, 8), message_line(v), footer(v))
    if width < MIN_W or height < MIN_H:
        return compact(v, width, height)
    events_rows = 5 + min(max(height - MIN_H, 0) // 3, 5)
    charts_h = height - (1 + 9 + TIMELINE_H + 2) - (events_rows + 2)
    left_w = width * 3 // 5
    top_w = (width * 7 // 20, width * 27 // 100)     # the alarms take the rest
    root = Layout()
    top = Layout(name="top", size=9)
    top.split_row(Layout(state_panel(v), size=top_w[0]), Layout(reservoir_panel(v, top_w[1]), size=top_w[1]),
                  Layout(alarms_panel(v)))
    charts = Layout(name="charts", size=charts_h)
    charts.split_row(Layout(volume_panel(v, left_w, charts_h), size=left_w),
                     Layout(pressure_panel(v, width - left_w, charts_h)))
    root.split_column(Layout(header(v), size=1), top, Layout(timeline_panel(v, width), size=TIMELINE_H), charts,
                      Layout(events_panel(v, events_rows), size=events_rows + 2),
                      Layout(message_line(v), size=1), Layout(footer(v), size=1))
    return root


def compact(v, width, height):
    """A small terminal: the essentials, and what size the full view needs."""
    return Group(header(v),
                 Text("window %dx%d: the full dashboard needs at least %dx%d (enlarge it, or zoom out)"
                      % (width, height, MIN_W, MIN_H), style="bold yellow"),
                 state_panel(v), alarms_panel(v), message_line(v), footer(v))
