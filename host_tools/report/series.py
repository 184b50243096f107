"""The report's inputs as time series: delivered and programmed volume, pressure and occlusion markers, the trumpet curve, daily doses.

Time is seconds from the recording's first sample, on one axis: the simulated board's clock
(status.sim_time_s) when every sample has it, else the host's clock (host_ms, dashboard
recordings), else the pump's uptime (uptime_s), the boots laid end to end. Event log records
carry (boot, up ms since that boot); a boot's offset on the axis is where its samples put it
(axis - uptime_s), so a record lands at up / 1000 + offset. A reset shows as uptime_s going
back; the samples after it are the next boot. The first segment's boot comes from the header's
hello, else from an event carried in the recording, else (an event log given) the segments are
taken to be the log's last boots: the log is read after the recording. Records of a boot with
no samples are left out and counted.
"""
import math

from host_tools.iec_analysis import STANDARD_WINDOWS_MIN, AnalysisError, analyse
from host_tools.log_cli import history_rows
from host_tools.program_io import wall_datetime

MIN_STRETCH_S = 600.0     # the trumpet curve: 5 min of start-up and 5 min analysed, windows of 2 and 5 min
GRID_S = 30.0             # IEC 60601-2-24's sample interval
STANDARD_RUN_S = 7200.0   # a stretch this long is analysed as the standard does: its second hour


class Series:
    """Everything the plots draw, with `skipped` {plot: why it was left out}."""

    def __init__(self):
        self.axis = None            # "sim time", "host time" or "pump uptime"
        self.t = []
        self.delivered = []         # [(t_s, uL since the first sample)]
        self.programmed = []
        self.programmed_source = None
        self.boluses = []           # [(t_s, label)]
        self.pressure = []          # [(t_s, kPa)]
        self.occlusion_marks = []   # [(t_s, label, kind)]: kind alarm_raised, alarm_cleared, line_cleared, detector_on, detector_off
        self.trumpet = None         # {figures, source, quantum_ul, rate_ul_h, stretch_s}
        self.days = []              # log_cli.history_rows
        self.partial_days = {}      # date: "HH:MM" of the first start or stop that day
        self.resets = []            # [t_s] where uptime went back
        self.unplaced_events = 0
        self.skipped = {}
        self.notes = []


# ---- the time axis ----------------------------------------------------------------------------
def _axis(lines):
    statuses = [ln["status"] for ln in lines]
    if all("sim_time_s" in s for s in statuses):
        return "sim time", [s["sim_time_s"] for s in statuses]
    if all("host_ms" in ln for ln in lines):
        return "host time", [ln["host_ms"] / 1000.0 for ln in lines]
    t, offset, last_up = [], 0.0, None
    for s in statuses:
        up = s.get("uptime_s", 0.0)
        if last_up is not None and up < last_up:
            offset = t[-1]          # the gap across a reset is unknown: the boots touch
        t.append(offset + up)
        last_up = up
    return "pump uptime", t


def _segments(lines):
    """Index of the boot segment of each sample: a new one where uptime_s goes back."""
    seg, out, last = 0, [], None
    for ln in lines:
        up = ln["status"].get("uptime_s")
        if up is not None and last is not None and up < last:
            seg += 1
        out.append(seg)
        last = up if up is not None else last
    return out


def _segment_boots(recording, segs, log_records):
    """{segment: boot number} from the header, the recording's events or the log's last boots."""
    n = segs[-1] + 1
    header = recording.header or {}
    first = (header.get("hello") or {}).get("boot")
    if first is not None:
        return dict((k, first + k) for k in range(n))
    for ln, k in zip(recording.lines, segs):
        for ev in ln.get("events") or ():
            if isinstance(ev, dict) and ev.get("boot") is not None:
                return dict((j, ev["boot"] - k + j) for j in range(n))
    boots = sorted(set(r.get("boot") for r in log_records if r.get("boot") is not None))
    if boots:
        last = boots[-1]
        return dict((k, last - (n - 1 - k)) for k in range(n))
    return {}


class Timeline:
    """Places event records (boot, up) on the samples' axis."""

    def __init__(self, recording, log_records):
        lines = recording.lines
        self.axis, raw = _axis(lines)
        self.t0 = raw[0]
        self.t = [x - self.t0 for x in raw]
        self.segments = _segments(lines)
        boots = _segment_boots(recording, self.segments, log_records)
        offsets = {}
        for x, ln, k in zip(self.t, lines, self.segments):
            up = ln["status"].get("uptime_s")
            if up is not None and k in boots:
                offsets.setdefault(boots[k], []).append(x - up)
        # the median: a host clock's jitter or a slow reply moves one sample, not the offset
        self.offsets = dict((b, sorted(v)[len(v) // 2]) for b, v in offsets.items())

    def at(self, rec):
        """Where an event record lies on the axis, or None if its boot has no samples."""
        off = self.offsets.get(rec.get("boot"))
        if off is None or rec.get("up") is None:
            return None
        return rec["up"] / 1000.0 + off

    def resets(self):
        return [self.t[i] for i in range(1, len(self.t)) if self.segments[i] != self.segments[i - 1]]


# ---- volumes ----------------------------------------------------------------------------------
def _accumulate(values):
    """A counter's increase since the first value, across restarts: a fall is a counter that
    started again from zero (a reset, a new program)."""
    out, total, last = [], 0.0, None
    for v in values:
        if last is not None:
            total += v - last if v >= last else v
        out.append(total)
        last = v
    return out


def _programmed_from_doc(recording):
    """Programmed volume since the first sample, at each sample, from the header's program
    (host_tools.programmed), or (None, why). A sample with no program adds nothing; where the
    program's start moves or its time goes back (a reset resumes it, a new start), the line goes
    on with the new plan's increase from its first sample."""
    header = recording.header or {}
    doc = header.get("program")
    board = header.get("board") or (header.get("hello") or {}).get("board")
    if not doc or not board:
        return None, None
    from host_tools.programmed import Programmed, ProgramInvalid
    cache, out, total, last = {}, [], 0.0, None
    for ln in recording.lines:
        prog = ln["status"].get("program") or {}
        start, t_ms = prog.get("start_wall_ms"), prog.get("t_ms")
        if start is None or t_ms is None:
            out.append(total)
            last = None
            continue
        if start not in cache:
            try:
                cache[start] = Programmed(doc, board, start)
            except ProgramInvalid as e:
                return None, "the header's program does not compile for %s (%s)" % (board, e)
            except Exception as e:    # the board's files are not on this computer
                return None, "the header's program could not be planned (%s)" % e
        v = cache[start].volume_ul(t_ms)
        if last is not None and last[0] == start and t_ms >= last[1]:
            total += v - last[2]
        last = (start, t_ms, v)
        out.append(total)
    if not cache:
        return None, "no sample has a program position (status.program.t_ms)"
    return out, None


def _commanded(t, statuses):
    """The integral of the status rate while running: the rate each sample shows, held to the next."""
    out, total = [0.0], 0.0
    for i in range(1, len(t)):
        prev = statuses[i - 1]
        if prev.get("state") == "running":
            total += prev.get("rate_ul_h", 0.0) * (t[i] - t[i - 1]) / 3600.0
        out.append(total)
    return out


def _volumes(series, recording):
    lines = recording.lines
    statuses = [ln["status"] for ln in lines]
    # the pump's own count, as it reports it: a reset may take it back to the journal's last
    # write (up to a minute of steps), and the line shows that step down at the reset
    first = statuses[0]["delivered_ul"]
    series.delivered = [(x, s["delivered_ul"] - first) for x, s in zip(series.t, statuses)]
    if all(ln.get("programmed_ul") is not None for ln in lines):
        series.programmed = list(zip(series.t, _accumulate([ln["programmed_ul"] for ln in lines])))
        series.programmed_source = "programmed"
        return
    values, why = _programmed_from_doc(recording)
    if values is not None:
        series.programmed = list(zip(series.t, values))
        series.programmed_source = "programmed"
        return
    if why:
        series.notes.append("programmed line: %s; drawn from the commanded rate instead" % why)
    series.programmed = list(zip(series.t, _commanded(series.t, statuses)))
    series.programmed_source = "commanded rate"


# ---- pressure and occlusion -------------------------------------------------------------------
def _is_occlusion_alarm(rec):
    name = str(rec.get("name") or "")
    return rec.get("k") == "alarm" and (name == "occlusion" or name.startswith("occlusion_"))


def _detectors(status):
    occ = status.get("occlusion") or {}
    return dict((name, bool(d.get("occluded"))) for name, d in occ.items()
                if isinstance(d, dict) and "occluded" in d)


def _pressure(series, recording, timeline, events):
    statuses = [ln["status"] for ln in recording.lines]
    series.pressure = [(x, s["pressure_kpa"]) for x, s in zip(series.t, statuses) if "pressure_kpa" in s]
    marks = []
    for rec in events:
        if _is_occlusion_alarm(rec) and rec.get("change") in ("raised", "cleared"):
            x = timeline.at(rec)
            if x is not None:
                marks.append((x, "%s %s" % (rec["name"], rec["change"]), "alarm_" + rec["change"]))
        elif rec.get("k") == "occlusion_cleared":
            x = timeline.at(rec)
            if x is not None:
                released = rec.get("released_ul")
                marks.append((x, "line cleared" + ("" if released is None else " (%.2f uL released)" % released),
                              "line_cleared"))
    last = None
    for x, s in zip(series.t, statuses):
        now = _detectors(s)
        if last is not None:
            for name, on in sorted(now.items()):
                if name in last and last[name] != on:
                    marks.append((x, "%s %s" % (name, "occluded" if on else "clear"),
                                  "detector_on" if on else "detector_off"))
        last = now
    series.occlusion_marks = sorted(marks, key=lambda m: m[0])


def _boluses(series, timeline, events):
    for rec in events:
        if rec.get("k") == "bolus":
            x = timeline.at(rec)
            if x is not None:
                vol = rec.get("volume_nl")
                series.boluses.append((x, "%s bolus%s" % (rec.get("kind", ""),
                                                          "" if vol is None else " %.1f uL" % (vol / 1000.0))))


# ---- the trumpet curve ------------------------------------------------------------------------
def _resample(samples, step):
    """The cumulative volume at every `step` s from the first sample, interpolated linearly
    between the samples around each point (the standard samples a scale every 30 s; a recording
    samples when it can)."""
    t0, t_end = samples[0][0], samples[-1][0]
    out, j = [], 0
    for k in range(int(math.floor((t_end - t0) / step + 1e-9)) + 1):
        at = t0 + k * step
        while j + 1 < len(samples) - 1 and samples[j + 1][0] <= at:
            j += 1
        (ta, va), (tb, vb) = samples[j], samples[min(j + 1, len(samples) - 1)]
        v = va if tb == ta else va + (vb - va) * (at - ta) / (tb - ta)
        out.append((k * step, v))
    return out


def trumpet_figures(samples, rate_ul_h):
    """iec_analysis.analyse over a constant-rate run: its second hour when it lasts 2 h (as the
    standard), else its second half, with the standard windows that fit. AnalysisError says why not."""
    span = samples[-1][0] - samples[0][0]
    if span < MIN_STRETCH_S:
        raise AnalysisError("the run at a constant rate lasts %.1f min; the trumpet curve needs at "
                            "least %g min" % (span / 60.0, MIN_STRETCH_S / 60.0))
    gaps = sorted(b[0] - a[0] for a, b in zip(samples, samples[1:]))
    if gaps[-1] > GRID_S * 1.1:
        raise AnalysisError("samples up to %.0f s apart in the constant-rate run; the trumpet curve "
                            "needs one at least every %g s" % (gaps[-1], GRID_S))
    grid = _resample(samples, GRID_S)
    end = grid[-1][0]
    if end >= STANDARD_RUN_S:
        start, end = 3600.0, 7200.0
    else:
        start = GRID_S * math.ceil(end / 2.0 / GRID_S)
    windows = [w for w in STANDARD_WINDOWS_MIN if w * 60.0 <= end - start]
    return analyse(grid, rate_ul_h, start, end, windows)


def _stretch(statuses, segs):
    """(first, last) sample indices of the longest run of samples delivering one rate, no
    alarm, no bolus, no reset; or None."""
    best, i, n = None, 0, len(statuses)
    while i < n:
        s = statuses[i]
        if s.get("state") != "running" or s.get("alarms") or (s.get("bolus") or {}).get("active"):
            i += 1
            continue
        j = i
        while j + 1 < n:
            nxt = statuses[j + 1]
            if nxt.get("state") != "running" or nxt.get("alarms") or (nxt.get("bolus") or {}).get("active") \
                    or abs(nxt.get("rate_ul_h", 0) - s.get("rate_ul_h", 0)) > 1e-9 or segs[j + 1] != segs[i]:
                break
            j += 1
        if best is None or j - i > best[1] - best[0]:
            best = (i, j)
        i = j + 1
    return best


def _trumpet(series, recording, timeline):
    lines = recording.lines
    statuses = [ln["status"] for ln in lines]
    found = _stretch(statuses, timeline.segments)
    if found is None or found[1] == found[0]:
        series.skipped["trumpet"] = "the recording has no two samples delivering at one constant rate"
        return
    i, j = found
    rate = statuses[i]["rate_ul_h"]
    if all(ln.get("scale_ul") is not None for ln in lines[i:j + 1]):
        source, values = "the rig's scale", [ln["scale_ul"] for ln in lines[i:j + 1]]
    else:
        source, values = "the pump's delivered_ul (its step count: no scale was recorded)", \
            [s["delivered_ul"] for s in statuses[i:j + 1]]
    samples = list(zip(series.t[i:j + 1], values))
    try:
        figures = trumpet_figures(samples, rate)
    except AnalysisError as e:
        series.skipped["trumpet"] = "%s (%g uL/h from %.0f s to %.0f s)" % (e, rate, series.t[i], series.t[j])
        return
    quantum = (statuses[i].get("calibration") or {}).get("ul_per_step") or 0.0
    series.trumpet = {"figures": figures, "source": source, "rate_ul_h": rate, "quantum_ul": quantum,
                      "stretch_s": (series.t[i], series.t[j])}


def _iec_trumpet(series, iec):
    try:
        figures = trumpet_figures(iec.samples, iec.rate_ul_h)
    except AnalysisError as e:
        series.skipped["trumpet"] = "%s (IEC samples %s)" % (e, iec.path)
        return
    series.trumpet = {"figures": figures, "source": "the IEC bench's scale samples (%s)" % iec.path,
                      "rate_ul_h": iec.rate_ul_h, "quantum_ul": 0.0,
                      "stretch_s": (iec.samples[0][0], iec.samples[-1][0])}


# ---- all of it --------------------------------------------------------------------------------
def _events(section):
    """The log's records and those carried in the recording, once each (by seq)."""
    seen, out = set(), []
    recs = list(section.log.records) if section.log else []
    if section.recording:
        for ln in section.recording.lines:
            recs.extend(e for e in ln.get("events") or () if isinstance(e, dict))
    for r in recs:
        key = (r.get("boot"), r.get("seq"))
        if r.get("seq") is not None and key in seen:
            continue
        seen.add(key)
        out.append(r)
    return out


def partial_days(records, dates):
    """{date: "HH:MM"} for the logged days on which the pump started or stopped. The pump's day
    record gives the weekday's whole programmed volume even then, so those bars are not a
    day's dose against its program: the plot marks them."""
    out = {}
    wanted = set(dates)
    for r in records:
        if r.get("k") != "state" or r.get("t") is None:
            continue
        when = wall_datetime(r["t"])
        date = when.date().isoformat()
        if date in wanted and date not in out:
            out[date] = when.strftime("%H:%M")
    return out


def build(section):
    """A Series of one Section (host_tools.report.inputs)."""
    series = Series()
    events = _events(section)
    rec = section.recording
    if rec is not None:
        timeline = Timeline(rec, section.log.records if section.log else [])
        series.axis, series.t = timeline.axis, timeline.t
        series.resets = timeline.resets()
        _volumes(series, rec)
        _boluses(series, timeline, events)
        _pressure(series, rec, timeline, events)
        placed = set(id(e) for e in events if timeline.at(e) is not None)
        series.unplaced_events = sum(1 for e in events if id(e) not in placed)
        if not timeline.offsets and events:
            series.notes.append("the event records could not be placed on the recording's time: "
                                "record with a header (pumpctl dashboard --record) or give the log "
                                "read right after the recording")
        if not series.pressure:
            series.skipped["pressure"] = "the status lines have no pressure_kpa (a board with no pressure sensor)"
    else:
        why = "needs a status recording (pumpctl status --watch --json > FILE)"
        series.skipped["delivered"] = why
        series.skipped["pressure"] = why
    if section.iec is not None:
        _iec_trumpet(series, section.iec)
    elif rec is not None:
        _trumpet(series, rec, timeline)
    else:
        series.skipped["trumpet"] = "needs a status recording or an IEC bench samples CSV"
    series.days = history_rows(events)
    series.partial_days = partial_days(events, [d[0] for d in series.days])
    if not series.days:
        series.skipped["history"] = ("no \"day\" records: the pump logs one at each local midnight once "
                                     "its time is set; give an event log (pumpctl log --json) that spans one"
                                     if events else "needs an event log (pumpctl log --json > FILE) with \"day\" records")
    return series
