"""pumpctl program validate/show/diff/schema on files: every problem with its path, never a traceback."""
import glob
import json
import os
import tomllib

import pytest

from host_tools import paths
from host_tools.cli import main
from host_tools.json_schema import SCHEMA_FILE, program_json_schema
from host_tools.program_cli import _ordered
from host_tools.program_file import board_config, drug_library
from host_tools.toml_out import dumps

EXAMPLES = sorted(glob.glob(os.path.join(paths.REPO_DIR, "examples", "*.toml")))
SALINE = """format = 1
name = "saline"
purpose = "bench"
[drug]
name = "saline"
concentration = 9
concentration_units = "mg/mL"
dose_units = "mL/day"
[reservoir]
capacity_ml = 20
volume_ml = 20
"""


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def write(tmp_path, text, name="p.toml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_every_example_is_valid_and_marked_as_bench_or_teaching_not_clinical_advice(capsys):
    assert len(EXAMPLES) >= 4
    for path in EXAMPLES:
        code, out, err = run(capsys, "program", "validate", path)
        assert code == 0, err
        with open(path) as f:
            text = f.read()
        assert "Not clinical advice" in text, path
        assert tomllib.loads(text)["purpose"] in ("bench", "teaching")


def test_validate_reports_every_problem_at_once_with_its_path_value_and_bound(tmp_path, capsys):
    bad = SALINE.replace("volume_ml = 20", "volume_ml = 25") + """
[flex]
steps = [ { start = "00:00", rate = 1 }, { start = "08:00", rate = -1 }, { start = "07:00", rate = 2 } ]
[periodic]
dose = 0.1
duration_min = 30
interval_min = 20
first = "06:00"
"""
    code, out, err = run(capsys, "program", "validate", write(tmp_path, bad))
    assert code == 1
    assert "reservoir.volume_ml: must be <= capacity_ml 20, got 25" in err
    assert "flex.steps[1].rate: must be >= 0, got -1" in err
    assert 'flex.steps[2].start: must be after flex.steps[1].start "08:00", got "07:00"' in err
    assert "periodic.interval_min: must be >= duration_min 30, got 20" in err


def test_malformed_toml_is_refused_with_its_line(tmp_path, capsys):
    code, out, err = run(capsys, "program", "validate", write(tmp_path, SALINE + "[basal\nrate = 1\n"))
    assert code == 1
    assert "not valid TOML" in err and "line 12" in err, err


def test_a_missing_file_is_a_one_line_error(tmp_path, capsys):
    code, out, err = run(capsys, "program", "validate", str(tmp_path / "nope.toml"))
    assert code == 1 and "file not found" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("rate, message", [
    ("nan", "must be a finite number"),
    ("inf", "must be a finite number"),
    ("1e9", "must be <= 100000"),
    ("1.0001", "decimals"),
    ('"fast"', "must be a number"),
])
def test_a_rate_that_is_not_a_bounded_finite_number_is_refused(tmp_path, capsys, rate, message):
    code, out, err = run(capsys, "program", "validate", write(tmp_path, SALINE + "[basal]\nrate = %s\n" % rate))
    assert code == 1
    assert "basal.rate" in err and message in err, err


def test_wrong_units_are_refused_with_the_allowed_ones(tmp_path, capsys):
    text = SALINE.replace('dose_units = "mL/day"', 'dose_units = "mg/hour"') + "[basal]\nrate = 1\n"
    code, out, err = run(capsys, "program", "validate", write(tmp_path, text))
    assert code == 1
    assert 'drug.dose_units: must be one of "mg/day", "mcg/day", "mL/day", got "mg/hour"' in err


def test_an_empty_program_is_refused_with_what_it_lacks(tmp_path, capsys):
    code, out, err = run(capsys, "program", "validate", write(tmp_path, ""))
    assert code == 1
    for key in ("drug", "reservoir", "name", "format"):
        assert key in err, key


def test_show_gives_daily_doses_steps_boluses_and_the_refill_date(capsys):
    path = os.path.join(paths.REPO_DIR, "examples", "teaching-flex-week-morphine.toml")
    code, out, err = run(capsys, "program", "show", path)
    assert code == 0, err
    for text in ("Mon  2.313 mg", "Sat  2.2 mg", "07:00", "1.5 mg/day", "Periodic", "Demand",
                 "lockout 60 min", "Reservoir low", "refill by"):
        assert text in out, text


def test_diff_lists_changed_fields_and_flags_a_titration_over_the_soft_limit(tmp_path, capsys):
    old = write(tmp_path, SALINE.replace('"saline"', '"morphine"', 2).replace("= 9", "= 10")
                .replace('"mL/day"', '"mg/day"') + "[basal]\nrate = 1\n", "old.toml")
    new = write(tmp_path, open(old).read().replace("rate = 1", "rate = 1.3"), "new.toml")
    code, out, err = run(capsys, "program", "diff", old, new)
    assert code == 0, err
    assert "~ basal.rate: 1 -> 1.3" in out
    assert "soft limit" in out and "30%" in out, out
    code, out, err = run(capsys, "program", "diff", old, old)
    assert code == 0 and "no difference" in out


def test_the_committed_json_schema_is_the_one_the_firmware_schema_generates():
    with open(os.path.join(paths.REPO_DIR, SCHEMA_FILE)) as f:
        assert json.load(f) == json.loads(json.dumps(program_json_schema())), \
            "run: pumpctl program schema > %s" % SCHEMA_FILE


def test_a_program_written_back_as_toml_reads_as_the_same_program():
    from pump.program import canonical_doc, compile_program, digest
    board, library = board_config("sim"), drug_library()
    for path in EXAMPLES:
        with open(path, "rb") as f:
            prog = compile_program(tomllib.load(f), board, library)
        again = compile_program(tomllib.loads(dumps(_ordered(canonical_doc(prog)))), board, library)
        assert digest(again) == digest(prog), path
