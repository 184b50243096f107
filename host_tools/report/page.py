"""The report as one self-contained HTML page (PNGs inline as data: URIs), or a folder of PNGs with an index.html."""
import base64
import html
import os
import re
import tempfile

from host_tools.report.plots import time_unit

STYLE = """body{font-family:sans-serif;max-width:960px;margin:1em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}
img{max-width:100%;border:1px solid #eee}.skip{color:#a60}.note{color:#555}"""


def _span(series):
    if not series.t:
        return None
    end = series.t[-1]
    div, unit = time_unit(end)
    return "%.3g %s of %s" % (end / div, unit, series.axis)


def facts(section, series):
    """[(label, text)] for the section's header: inputs, board, program, span, outcome."""
    rec = section.recording
    header = (rec.header or {}) if rec else {}
    board = header.get("board") or (header.get("hello") or {}).get("board")
    program = None
    if rec:
        names = [(ln["status"].get("program") or {}).get("name") for ln in rec.lines]
        program = next((n for n in names if n), None)
    if not program and isinstance(header.get("program"), dict):
        program = header["program"].get("name")
    if not board and section.log:
        board = next((r.get("board") for r in section.log.records if r.get("k") == "boot"), None)
    out = [("inputs", ", ".join(section.sources) or "-"), ("board", board or "not recorded"),
           ("program", program or "none (a manual rate)")]
    span = _span(series)
    if span:
        out.append(("time span", "%s, %d samples%s" % (span, len(series.t),
                                                        ", %d board resets" % len(series.resets)
                                                        if series.resets else "")))
    if section.log:
        out.append(("event log", "%d records" % len(section.log.records)))
    if section.outcome:
        out.append(("test", "%s: %s" % (section.outcome.get("nodeid", section.title),
                                        section.outcome.get("outcome", "?"))))
    return out


def numbers(series):
    """[(figure, quantity, value)]: the figures' numbers for the table under the header."""
    rows = []
    if series.delivered and "delivered" not in series.skipped:
        got, want = series.delivered[-1][1], series.programmed[-1][1]
        what = "programmed" if series.programmed_source == "programmed" else "commanded"
        rows += [("delivered", "delivered", "%.2f uL" % got), ("delivered", what, "%.2f uL" % want)]
        if want:
            rows.append(("delivered", "delivered / %s" % what, "%.1f %%" % (100.0 * got / want)))
        if series.boluses:
            rows.append(("delivered", "boluses", "%d" % len(series.boluses)))
    if series.pressure and "pressure" not in series.skipped:
        rows.append(("pressure", "highest", "%.2f kPa" % max(p for _, p in series.pressure)))
        raised = [m for m in series.occlusion_marks if m[2] == "alarm_raised"]
        rows.append(("pressure", "occlusion alarms raised", "%d" % len(raised)))
        if raised:
            div, unit = time_unit(series.t[-1])
            rows.append(("pressure", "first raised at", "%.4g %s" % (raised[0][0] / div, unit)))
    if series.trumpet:
        fig = series.trumpet["figures"]
        rows.append(("trumpet", "set rate", "%g uL/h" % series.trumpet["rate_ul_h"]))
        rows.append(("trumpet", "mean flow error A", "%+.3f %%" % fig["mean_error_pct"]))
        for row in fig["trumpet"]:
            rows.append(("trumpet", "%g min windows: Ep(max) / Ep(min)" % row["window_min"],
                         "%+.2f %% / %+.2f %%" % (row["ep_max_pct"], row["ep_min_pct"])))
    if series.days and "history" not in series.skipped:
        rows.append(("history", "days", "%d" % len(series.days)))
        got = sum(d[1] for d in series.days)
        rows.append(("history", "delivered over them", "%.1f uL" % got))
        wants = [d[2] for d in series.days if d[2] is not None]
        if wants:
            rows.append(("history", "programmed over them", "%.1f uL" % sum(wants)))
    return rows


def _table(rows, head=None):
    out = ["<table>"]
    if head:
        out.append("<tr>%s</tr>" % "".join("<th>%s</th>" % html.escape(h) for h in head))
    for row in rows:
        out.append("<tr>%s</tr>" % "".join("<td>%s</td>" % html.escape(str(c)) for c in row))
    out.append("</table>")
    return "\n".join(out)


def section_html(section, series, images):
    """One section: header facts, numbers, figures (images: [(caption, src)]), what was left out and why."""
    out = ["<h2>%s</h2>" % html.escape(section.title), _table(facts(section, series))]
    nums = numbers(series)
    if nums:
        out.append(_table(nums, ("figure", "quantity", "value")))
    for caption, src in images:
        out.append("<figure><img alt=\"%s\" src=\"%s\"><figcaption>%s</figcaption></figure>"
                   % (html.escape(caption), src, html.escape(caption)))
    if series.trumpet:
        out.append("<p class=note>trumpet curve from %s.</p>" % html.escape(series.trumpet["source"]))
    for key, why in series.skipped.items():
        out.append("<p class=skip>left out: %s: %s</p>" % (html.escape(key), html.escape(why)))
    for note in series.notes:
        out.append("<p class=note>%s</p>" % html.escape(note))
    if series.unplaced_events:
        out.append("<p class=note>%d event records fall in boots with no status samples and are not drawn.</p>"
                   % series.unplaced_events)
    return "\n".join(out)


def document(parts, title="pump report"):
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title><style>%s</style>"
            "</head><body>\n<h1>%s</h1>\n<p class=note>Bench and teaching tool, not a medical device. "
            "How to read each figure: docs/report.md.</p>\n%s\n</body></html>\n"
            % (html.escape(title), STYLE, html.escape(title), "\n".join(parts)))


def data_uri(png):
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def write_atomic(path, data):
    """Write bytes to path through a temporary file beside it: a reader never sees half a file."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def slug(text):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "report"
