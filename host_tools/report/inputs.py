"""Reading the report's inputs and telling them apart: a status recording, an event log, a HIL run folder, an IEC samples CSV."""
import csv
import json
import os

RUN_FILES = ("status.jsonl", "log.json", "run.json")


class InputError(Exception):
    """An input the report cannot read; the message names the file and what to do."""


class Recording:
    """Status samples as JSON lines: `header` (the {"recording": 1, ...} line, or None) and
    `lines`, each {"status": {...}} plus what the line had of host_ms, scale_ul, programmed_ul
    and events."""

    kind = "status recording"

    def __init__(self, path, header, lines):
        self.path, self.header, self.lines = path, header, lines


class EventLog:
    """The pump's event log records (`pumpctl log --json`), oldest first."""

    kind = "event log"

    def __init__(self, path, records):
        self.path, self.records = path, records


class IecSamples:
    """A gravimetric run's samples (t_s, volume_ul) and its set rate, from an IEC bench CSV."""

    kind = "IEC samples"

    def __init__(self, path, samples, rate_ul_h):
        self.path, self.samples, self.rate_ul_h = path, samples, rate_ul_h


class Section:
    """What one part of the report is drawn from: at most one of each input kind."""

    def __init__(self, title, sources=(), recording=None, log=None, iec=None, outcome=None):
        self.title = title
        self.sources = list(sources)
        self.recording, self.log, self.iec, self.outcome = recording, log, iec, outcome


def _read_text(path):
    if not os.path.exists(path):
        raise InputError("%s: no such file or folder; check the path" % path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise InputError("%s: not a text file; give a status recording (.jsonl), an event log "
                         "(.json), a HIL run folder or an IEC samples CSV" % path)
    except OSError as e:
        raise InputError("%s: cannot read it (%s); check its permissions" % (path, e.strerror or e))
    if not text.strip():
        raise InputError("%s: the file is empty; record one with pumpctl status --watch --json > FILE "
                         "or pumpctl log --json > FILE" % path)
    return text


def _is_status(obj):
    return isinstance(obj, dict) and "state" in obj and "delivered_ul" in obj


def _is_log_record(obj):
    return isinstance(obj, dict) and "k" in obj and "seq" in obj


def _recording(path, text):
    header, lines = None, []
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            if n == len(text.splitlines()) and lines:
                break       # a recording cut off mid-line (Ctrl-C, a full disk): keep what came before
            raise InputError("%s line %d: not JSON; a status recording has one JSON object a line" % (path, n))
        if isinstance(obj, dict) and obj.get("recording") is not None and not lines and header is None:
            header = obj
        elif _is_status(obj):
            lines.append({"status": obj})
        elif isinstance(obj, dict) and _is_status(obj.get("status")):
            lines.append(obj)
        else:
            raise InputError("%s line %d: neither a status line nor a recording header; "
                             "see docs/report.md for the recording format" % (path, n))
    if not lines:
        raise InputError("%s: a recording header but no status lines; record for longer" % path)
    return Recording(path, header, lines)


def _iec_csv(path, text):
    rows = list(csv.DictReader(text.splitlines()))
    samples, rates = [], []
    try:
        for row in rows:
            samples.append((float(row["t_s"]), float(row["volume_ul"])))
            if row.get("flow_ul_h") and row.get("flow_error_pct"):
                # the samples file carries no set rate: each interval's flow and error give it back
                rates.append(float(row["flow_ul_h"]) / (1.0 + float(row["flow_error_pct"]) / 100.0))
    except (KeyError, ValueError, ZeroDivisionError):
        raise InputError("%s: not an IEC bench samples CSV (t_s, volume_ul, flow_ul_h, flow_error_pct); "
                         "use the -samples.csv that pumpctl's IEC bench writes" % path)
    if len(samples) < 2 or not rates:
        raise InputError("%s: fewer than 2 samples; the trumpet curve needs a run" % path)
    rates.sort()
    return IecSamples(path, samples, rates[len(rates) // 2])


def read_file(path):
    """One input file as a Recording, an EventLog or IecSamples; InputError if it is none of them."""
    text = _read_text(path)
    head = text.lstrip()[:200]
    if head.startswith("["):
        try:
            recs = json.loads(text)
        except ValueError:
            raise InputError("%s: starts as a JSON array but is not JSON; export the log again with "
                             "pumpctl log --json > FILE" % path)
        if not all(_is_log_record(r) for r in recs):
            raise InputError("%s: a JSON array but not of event log records; give the output of "
                             "pumpctl log --json" % path)
        return EventLog(path, recs)
    if head.startswith("{"):
        return _recording(path, text)
    if head.split("\n", 1)[0].startswith("t_s,"):
        return _iec_csv(path, text)
    raise InputError("%s: not a file the report knows; give a status recording (JSON lines), an event "
                     "log (pumpctl log --json), a HIL run folder or an IEC samples CSV" % path)


def _is_run(folder):
    return any(os.path.isfile(os.path.join(folder, n)) for n in RUN_FILES)


def read_run(folder):
    """One test's folder of a HIL run (pytest --record) as a Section."""
    sources, rec, log, outcome = [], None, None, None
    status_path = os.path.join(folder, "status.jsonl")
    if os.path.isfile(status_path):
        rec = read_file(status_path)
        sources.append(status_path)
    log_path = os.path.join(folder, "log.json")
    if os.path.isfile(log_path):
        log = read_file(log_path)
        sources.append(log_path)
    run_path = os.path.join(folder, "run.json")
    if os.path.isfile(run_path):
        try:
            with open(run_path) as f:
                outcome = json.load(f)
        except (OSError, ValueError):
            outcome = None        # the run's outcome is a caption: a torn one loses only that
    return Section(os.path.basename(os.path.normpath(folder)), sources, recording=rec, log=log,
                   outcome=outcome)


def read_folder(folder):
    """A HIL run folder: one Section per test folder in it (or the one test it is)."""
    if _is_run(folder):
        return [read_run(folder)]
    try:
        names = sorted(os.listdir(folder))
    except OSError as e:
        raise InputError("%s: cannot list it (%s); check its permissions" % (folder, e.strerror or e))
    runs = [os.path.join(folder, n) for n in names if os.path.isdir(os.path.join(folder, n))
            and _is_run(os.path.join(folder, n))]
    if not runs:
        raise InputError("%s: a folder with no HIL run in it; make one with pytest hil_tests --record %s"
                         % (folder, folder))
    return [read_run(r) for r in runs]


def load(paths):
    """Every input as Sections: each HIL test folder its own, the files together in one.
    InputError for an unreadable input, or two of one kind among the files."""
    sections = []
    files = Section("inputs")
    for path in paths:
        if os.path.isdir(path):
            sections.extend(read_folder(path))
            continue
        got = read_file(path)
        slot = {Recording: "recording", EventLog: "log", IecSamples: "iec"}[type(got)]
        if getattr(files, slot) is not None:
            raise InputError("%s and %s are both %ss; a report takes one of each kind of file "
                             "(make a report per recording)" % (getattr(files, slot).path, path, got.kind))
        setattr(files, slot, got)
        files.sources.append(path)
    if files.sources:
        files.title = ", ".join(os.path.basename(p) for p in files.sources)
        sections.insert(0, files)
    return sections


def input_paths(paths):
    """Every file the inputs are or hold (an output must not replace one)."""
    out = set()
    for path in paths:
        if os.path.isdir(path):
            for root, _, names in os.walk(path):
                out.update(os.path.realpath(os.path.join(root, n)) for n in names)
        out.add(os.path.realpath(path))
    return out
