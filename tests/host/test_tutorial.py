"""docs/tutorial.md runs as written: its marked console blocks, in order, on a fresh simulated board, with their exit codes and output."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib

import pytest

from host_tools import paths
from host_tools.rig import SimRig
from host_tools.sim.launch import SimProcess

DOC = os.path.join(paths.REPO_DIR, "docs", "tutorial.md")
PROGRAM = os.path.join(paths.REPO_DIR, "examples", "tutorial-first-program.toml")
MARK = "<!-- tutorial-test -->"
DOC_HOME = "/tmp/pumpsim"          # the sim folder the doc uses; the test gives each run its own
# What the reader types at program load's prompt is shown after it in the doc.
PROMPT = "Type its digest's first 4 characters to confirm:"


def read_doc():
    with open(DOC) as f:
        return f.read()


def fenced(text, lang):
    """(preceding text, body) of every ```lang block."""
    return [(m.group(1), m.group(2)) for m in
            re.finditer(r"(?s)(.{0,80})```%s\n(.*?)```" % re.escape(lang), text)]


def steps(text):
    """The marked console blocks as (command, expected exit code, expected output lines)."""
    out = []
    for before, body in fenced(text, "console"):
        if MARK not in before:
            continue
        for line in body.splitlines():
            if line.startswith("$ "):
                command = line[2:]
                code = 0
                m = re.search(r"\s+# exit (\d+)$", command)
                if m:
                    code = int(m.group(1))
                    command = command[:m.start()]
                out.append([command, code, []])
            else:
                out[-1][2].append(line)
    return out


def doc_speed(text):
    m = re.search(r"pumpctl sim --home %s --speed (\d+)" % re.escape(DOC_HOME), text)
    assert m, "the tutorial must start its sim with pumpctl sim --home %s --speed N" % DOC_HOME
    return int(m.group(1))


def line_pattern(expected):
    """A line of the doc's output as a regex: '...' stands for what changes from run to run."""
    return re.compile("[^\n]*".join(re.escape(part) for part in expected.split("...")))


def test_the_tutorials_toml_blocks_are_its_example_file():
    merged = {}
    for _, body in fenced(read_doc(), "toml"):
        merged.update(tomllib.loads(body))
    with open(PROGRAM, "rb") as f:
        assert merged == tomllib.load(f)


def test_the_tutorial_marks_the_blocks_a_new_user_runs():
    commands = [c for c, _, _ in steps(read_doc())]
    for needed in ("deploy --board sim", "program validate", "program show", "program load",
                   "pumpctl start", "bolus demand", "pumpctl status"):
        assert any(needed in c for c in commands), needed


@pytest.fixture
def workdir(tmp_path):
    """The project folder as the reader has it after writing the program: .venv/bin/pumpctl,
    examples/ and my-program.toml."""
    work = tmp_path / "work"
    (work / ".venv" / "bin").mkdir(parents=True)
    wrapper = work / ".venv" / "bin" / "pumpctl"
    wrapper.write_text("#!/bin/sh\nPYTHONPATH=%s exec %s -m host_tools.cli \"$@\"\n"
                       % (paths.REPO_DIR, sys.executable))
    wrapper.chmod(0o755)
    os.symlink(os.path.join(paths.REPO_DIR, "examples"), work / "examples")
    shutil.copy(PROGRAM, work / "my-program.toml")
    return work


@pytest.fixture
def sim_home():
    # A short path: the rig's unix socket lives in it, and socket paths are limited to ~100 bytes.
    home = tempfile.mkdtemp(prefix="tut", dir="/tmp")
    yield home
    shutil.rmtree(home, ignore_errors=True)


def test_the_tutorial_runs_to_the_end_on_a_fresh_simulated_board(workdir, sim_home, tmp_path):
    text = read_doc()
    speed = doc_speed(text)
    env = dict(os.environ, PUMPCTL_KEYS=str(tmp_path / "keys"))
    env.pop("PUMPCTL_PORT", None)
    # Speed 1 between commands: the doc's `sleep N` at --speed S is run as N x S simulated seconds
    # by the rig, so the lockout the doc shows does not depend on how fast this machine is.
    with SimProcess(sim_home, speed="1") as sim, SimRig(sim.rig_path) as rig:
        for command, code, expected in steps(text):
            command = command.replace(DOC_HOME, sim_home)
            expected = [e.replace(DOC_HOME, sim_home) for e in expected]
            if command.startswith("export "):
                name, _, value = command[len("export "):].partition("=")
                env[name] = value
                continue
            m = re.fullmatch(r"sleep (\d+)", command)
            if m:
                rig.run_for(int(m.group(1)) * speed)
                continue
            typed = None
            for i, line in enumerate(expected):
                if PROMPT in line:
                    typed = line.split(PROMPT, 1)[1].strip() + "\n"
                    expected[i] = line.split(PROMPT, 1)[0] + PROMPT
            result = subprocess.run(command, shell=True, cwd=workdir, env=env, input=typed,
                                    capture_output=True, text=True, timeout=300)
            output = result.stdout + result.stderr
            where = "`%s` printed:\n%s" % (command, output)
            assert "Traceback" not in output, where
            assert result.returncode == code, "exit %d, the doc says %d; %s" % (result.returncode, code, where)
            for line in expected:
                if line.strip() and line.strip() != "...":
                    assert line_pattern(line.strip()).search(output), "missing %r; %s" % (line.strip(), where)
