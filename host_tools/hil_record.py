"""pytest --record DIR: each pump test's event log, status samples and outcome, for pumpctl report DIR."""
import json
import os
import re

from host_tools import log_cli, recording
from host_tools.client import PROTOCOLS

SAMPLE_TIMEOUT_S = 5.0


def folder_for(root, nodeid):
    """DIR/<module>.<test name and parameters>, with only file-name-safe characters."""
    path, _, name = nodeid.partition("::")
    module = os.path.splitext(os.path.basename(path))[0]
    return os.path.join(root, re.sub(r"[^A-Za-z0-9._-]+", "_", "%s.%s" % (module, name)).strip("_")[:150])


def _write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


class RunRecorder:
    """Samples a test's pump (status, the rig's scale) and writes its folder at the end.

    A sample is a status read, which the pump neither logs nor keeps by id; one that fails (a
    board mid-reset) is skipped, so recording never changes what a test sees."""

    def __init__(self, folder, client):
        self.folder = folder
        self.client = client
        self.lines = []
        self.samples = recording.Samples()
        self.problems = []
        self.final_taken = False      # the rig's teardown took the last sample (with the scale)
        try:
            # a plain request, not client.hello(): the client's own session (its boot for a lost
            # reply's check) stays as the test would have it
            self.hello = client.request("hello", timeout=SAMPLE_TIMEOUT_S, protocols=PROTOCOLS)
        except Exception as e:
            self.hello = None
            self.problems.append("hello: %s" % e)

    def sample(self, rig=None):
        try:
            status = self.client.request("status", timeout=SAMPLE_TIMEOUT_S)
        except Exception as e:
            self.problems.append("status sample: %s" % e)
            return
        scale = None
        if rig is not None and "scale" in getattr(rig, "features", ()):
            try:
                scale = rig.scale_ul()
            except Exception as e:
                self.problems.append("scale: %s" % e)
        self.lines.append(self.samples.line(status, scale))

    def finish(self, rig=None):
        """The final sample, the log and the program; written to the folder."""
        if not self.final_taken:
            self.sample(rig)
        os.makedirs(self.folder, exist_ok=True)
        doc = None
        last = self.lines[-1]["status"] if self.lines else {}
        if last.get("program"):
            try:
                from host_tools.program_io import download
                doc, _ = download(self.client)
            except Exception as e:
                self.problems.append("program: %s" % e)
        try:
            _write_json(os.path.join(self.folder, "log.json"), log_cli.fetch(self.client))
        except Exception as e:
            self.problems.append("log: %s" % e)
        tmp = os.path.join(self.folder, "status.jsonl.tmp")
        with open(tmp, "w") as f:
            for obj in [recording.header(self.hello, doc)] + self.lines:
                f.write(recording.dumps(obj))
        os.replace(tmp, os.path.join(self.folder, "status.jsonl"))


def write_outcome(folder, nodeid, phases, problems):
    """run.json: the test's outcome from its phases' reports {when: (outcome, duration, text)}."""
    outcome = "passed"
    for when in ("setup", "call", "teardown"):
        got = phases.get(when)
        if got is None:
            continue
        if got[0] == "failed":
            outcome = "failed" if when == "call" else "error"
            break
        if got[0] == "skipped":
            outcome = "skipped"
    _write_json(os.path.join(folder, "run.json"), {
        "nodeid": nodeid, "outcome": outcome,
        "duration_s": round(sum(p[1] for p in phases.values()), 3),
        "phases": dict((w, {"outcome": p[0], "duration_s": round(p[1], 3), "message": p[2]})
                       for w, p in phases.items()),
        "recording_problems": problems})


def wrap_run_for(rig, recorder_of):
    """rig.run_for that takes a sample after each call (recorder_of() is the test's recorder,
    or None when the test has no pump fixture)."""
    inner = rig.run_for

    def run_for(*args, **kwargs):
        result = inner(*args, **kwargs)
        rec = recorder_of()
        if rec is not None:
            rec.sample(rig)
        return result
    rig.run_for = run_for
