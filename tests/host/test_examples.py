"""The programs in examples/: valid, marked as teaching or bench material, inside the drug library's soft limits, and lasting weeks."""
import glob
import json
import os
import re
import time
import tomllib

import pytest

from host_tools import paths
from host_tools.cli import main

EXAMPLES = sorted(glob.glob(os.path.join(paths.REPO_DIR, "examples", "*.toml")))
DAY_MS = 24 * 3600 * 1000
# The classes the teaching docs name, with the library's drugs that stand for them.
DRUG_CLASSES = {
    "an opioid": ("morphine", "hydromorphone"),
    "baclofen (a muscle relaxant)": ("baclofen",),
    "clonidine (an adjuvant)": ("clonidine",),
    "a local anaesthetic": ("bupivacaine",),
}


def header(text):
    """The comment lines before the first key: where a reader looks first."""
    lines = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def run_json(capsys, *argv):
    code = main(list(argv) + ["--json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert code == 0, err
    return json.loads(out)


def doc_of(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_an_example_says_at_the_top_that_it_is_teaching_or_bench_material_not_clinical_advice(path):
    with open(path) as f:
        text = f.read()
    purpose = tomllib.loads(text)["purpose"]
    assert purpose in ("teaching", "bench"), path
    top = header(text)
    assert "not clinical advice" in top.lower(), "%s: say 'Not clinical advice' in the top comment" % path
    assert re.search(purpose.upper(), top), "%s: the top comment must say %s" % (path, purpose.upper())


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_an_example_validates_as_the_pump_would_with_no_soft_limit_and_no_cut(path, capsys):
    result = run_json(capsys, "program", "validate", path)
    assert result["valid"] is True
    assert result["soft"] == [], path
    assert result["cuts"] == [], path


@pytest.mark.parametrize("path", [p for p in EXAMPLES if doc_of(p)["purpose"] == "teaching"],
                         ids=os.path.basename)
def test_a_teaching_example_runs_for_weeks_before_its_low_reservoir_alarm_even_on_its_worst_day(path, capsys):
    before = time.time() * 1000
    shown = run_json(capsys, "program", "show", path)
    summary = shown["summary"]
    # the projection from the planner (no demand boluses) ...
    assert shown["projection"]["low_at_ms"] - before >= 28 * DAY_MS, path
    # ... and with every demand bolus allowed, every day
    usable_ml = summary["reservoir"]["volume_ml"] - summary["reservoir"]["low_ml"]
    assert usable_ml / summary["worst_day"]["ml"] >= 28, path
    # a teaching program explains its numbers: comments beside the sections, not only the banner
    with open(path) as f:
        comments = [line for line in f if line.startswith("#")]
    assert len(comments) >= 3, path


def test_the_examples_cover_an_opioid_baclofen_clonidine_and_a_local_anaesthetic():
    drugs = {doc_of(p)["drug"]["name"] for p in EXAMPLES if doc_of(p)["purpose"] == "teaching"}
    for what, names in DRUG_CLASSES.items():
        assert drugs & set(names), "no teaching example for %s" % what


def test_the_baclofen_examples_include_a_flex_day_with_a_periodic_bolus():
    baclofen = [doc_of(p) for p in EXAMPLES if doc_of(p)["drug"]["name"] == "baclofen"]
    assert any("flex" in d and "periodic" in d for d in baclofen)
