"""docs/safety-design.md (and the other teaching docs) cite only tests that exist: every `path::name` names a test function defined in that file."""
import ast
import os
import re

import pytest

from host_tools import paths

DOC = os.path.join(paths.REPO_DIR, "docs", "safety-design.md")
CITING = [DOC] + [os.path.join(paths.REPO_DIR, "docs", name) for name in ("concepts.md", "classroom.md")]
REF = re.compile(r"`((?:tests|hil_tests)/[\w/]+\.py)::(\w+)`")


def refs(path):
    with open(path) as f:
        return REF.findall(f.read())


def defined_tests(path):
    with open(os.path.join(paths.REPO_DIR, path)) as f:
        tree = ast.parse(f.read(), path)
    return {node.name for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")}




@pytest.mark.parametrize("doc", [d for d in CITING if os.path.exists(d)], ids=os.path.basename)
def test_every_test_a_doc_cites_is_defined_in_the_file_it_names(doc):
    missing = []
    for path, name in refs(doc):
        if not os.path.exists(os.path.join(paths.REPO_DIR, path)):
            missing.append("%s: no such file" % path)
        elif name not in defined_tests(path):
            missing.append("%s::%s: no such test" % (path, name))
    assert not missing, "%s cites tests that do not exist:\n%s" % (os.path.basename(doc), "\n".join(missing))


def test_every_guard_in_the_table_is_proved_by_a_firmware_or_hil_test():
    with open(DOC) as f:
        text = f.read()
    table = text.split("## The guards at a glance", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| guard")]
    assert len(rows) >= 20, "the table lost its guards"
    for row in rows:
        assert REF.search(row), "no test cited for: %s" % row.split("|")[1].strip()


def test_the_guards_the_design_names_are_all_in_the_table():
    with open(DOC) as f:
        text = f.read().lower()
    for guard in ("over-delivery guard", "emitted-step check", "threshold detector", "step-response model",
                  "stall check", "watchdog", "reservoir", "pressure sensor", "supply",
                  "validation on the host", "validation on the pump", "digest confirmation",
                  "a/b program store", "no double prime", "no burst after a power cut", "lockout",
                  "daily limits", "roles"):
        assert guard in text, guard
