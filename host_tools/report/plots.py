"""The report's figures as PNG bytes (matplotlib, Agg: no screen needed)."""
import datetime
import io

from host_tools.iec_report import _pyplot, plot_trumpet

SIZE = (9, 4.2)
MARK_STYLE = {"alarm_raised": ("tab:red", "-"), "alarm_cleared": ("tab:green", "-"),
              "line_cleared": ("tab:green", ":"), "detector_on": ("tab:orange", "--"),
              "detector_off": ("tab:olive", "--")}


def time_unit(span_s):
    """(divisor, name) that keeps the axis's numbers readable."""
    if span_s > 2 * 86400:
        return 86400.0, "d"
    if span_s > 2 * 3600:
        return 3600.0, "h"
    if span_s > 120:
        return 60.0, "min"
    return 1.0, "s"


def _title(title):
    """A test's id can be 120 characters: wrapped, not cut off at the figure's edge."""
    import textwrap
    return "\n".join(textwrap.wrap(title, 90))


def _png(fig, plt):
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _xaxis(ax, series):
    div, unit = time_unit(series.t[-1] if series.t else 0)
    ax.set_xlabel("%s since the first sample (%s)" % (series.axis, unit))
    for i, x in enumerate(series.resets):
        ax.axvline(x / div, color="black", linestyle=":", linewidth=1,
                   label="board reset" if i == 0 else None)
    return div


def delivered(series, title):
    """Cumulative delivered against programmed (or commanded) volume, boluses marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=SIZE)
    div = _xaxis(ax, series)
    ax.plot([t / div for t, _ in series.delivered], [v for _, v in series.delivered], "-",
            color="tab:blue", linewidth=2, label="delivered (pump's count)")
    label = "programmed" if series.programmed_source == "programmed" else "commanded rate x time"
    ax.plot([t / div for t, _ in series.programmed], [v for _, v in series.programmed], "--",
            color="black", label=label)
    for i, (x, text) in enumerate(series.boluses):
        ax.axvline(x / div, color="tab:purple", alpha=0.6, label="bolus" if i == 0 else None)
        ax.annotate(text, (x / div, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                    va="top", ha="right", fontsize="x-small", color="tab:purple")
    ax.set_ylabel("volume since the first sample (uL)")
    ax.set_title("%s\ndelivered against %s" % (_title(title), label))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")   # the lines climb to the top right
    return _png(fig, plt)


def pressure(series, title):
    """Line pressure over time with the occlusion alarms and detector changes marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=SIZE)
    div = _xaxis(ax, series)
    ax.plot([t / div for t, _ in series.pressure], [p for _, p in series.pressure], ".-", markersize=3,
            color="tab:blue", linewidth=1.2, label="line pressure")
    shown = set()
    for i, (x, text, kind) in enumerate(series.occlusion_marks):
        color, style = MARK_STYLE.get(kind, ("gray", "-"))
        name = kind.replace("_", " ")
        ax.axvline(x / div, color=color, linestyle=style, linewidth=1.5,
                   label=None if kind in shown else name)
        shown.add(kind)
        # markers a few samples apart would print over each other: their texts alternate in height
        ax.annotate(text, (x / div, 0.98 if i % 2 == 0 else 0.02), xycoords=("data", "axes fraction"),
                    rotation=90, va="top" if i % 2 == 0 else "bottom", ha="right", fontsize="x-small",
                    color=color)
    ax.set_ylabel("pressure (kPa)")
    ax.set_title("%s\nline pressure and occlusion markers" % _title(title))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return _png(fig, plt)


def trumpet(series, title):
    """The trumpet curve, drawn as the IEC bench draws it (host_tools.iec_report.plot_trumpet)."""
    tr = series.trumpet
    buf = io.BytesIO()
    plot_trumpet(buf, tr["figures"], "%s\n%g uL/h, from %s" % (_title(title), tr["rate_ul_h"], tr["source"]),
                 tr["quantum_ul"])
    return buf.getvalue()


def history(series, title):
    """Delivered and programmed volume per day, side by side."""
    plt = _pyplot()
    days = series.days
    fig, ax = plt.subplots(figsize=SIZE)
    xs = list(range(len(days)))
    ax.bar([x - 0.2 for x in xs], [d[1] for d in days], width=0.4, color="tab:blue", label="delivered")
    manual = any(d[2] is None for d in days)
    ax.bar([x + 0.2 for x in xs], [d[2] or 0.0 for d in days], width=0.4, color="tab:gray",
           label="programmed (no bar: a manual rate)" if manual else "programmed")
    partial = getattr(series, "partial_days", {})
    if any(d[0] in partial for d in days):
        # a day the pump started or stopped: its record holds the whole day's program
        ax.bar([x + 0.2 for x, d in zip(xs, days) if d[0] in partial],
               [d[2] or 0.0 for d in days if d[0] in partial], width=0.4, color="white",
               edgecolor="tab:gray", hatch="//", label="programmed, whole day (started or stopped that day)")
    top = max([d[1] for d in days] + [d[2] or 0.0 for d in days] + [1e-9])
    ax.set_ylim(0, top * 1.3)     # room above the bars for the legend and the percentages
    for x, (date, got, want, pct) in zip(xs, days):
        if date in partial:
            ax.annotate("started or stopped %s" % partial[date], (x, max(got, want or 0.0)),
                        ha="center", va="bottom", fontsize="x-small")
        elif pct is not None:
            ax.annotate("%.0f %%" % pct, (x - 0.2, got), ha="center", va="bottom", fontsize="x-small")
    ax.set_xticks(xs)
    ax.set_xticklabels([_weekday(d[0]) for d in days], rotation=45 if len(days) > 8 else 0,
                       fontsize="small")
    ax.set_ylabel("volume per day (uL)")
    ax.set_title("%s\ndaily dose: delivered against programmed" % _title(title))
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper left", fontsize="small", ncol=2)
    return _png(fig, plt)


def _weekday(iso):
    d = datetime.date.fromisoformat(iso)
    return "%s\n%s" % (iso, d.strftime("%a"))


PLOTS = (("delivered", "delivered against programmed", delivered),
         ("pressure", "pressure with the occlusion markers", pressure),
         ("trumpet", "trumpet curve", trumpet),
         ("history", "daily dose history", history))


def figures(series, title, say=None):
    """[(key, caption, png bytes)] of the plots with data; a plot whose data is missing is in
    series.skipped already."""
    out = []
    for key, caption, draw in PLOTS:
        if key in series.skipped:
            continue
        if say:
            say("drawing the %s" % caption)
        out.append((key, caption, draw(series, title)))
    return out
