"""The probes under tests/firmware that the bench runs or borrows from (they are not a package)."""
import importlib.util
import os

from host_tools import paths

PROBES = os.path.join(paths.REPO_DIR, "tests", "firmware")


def probe_module(name):
    """tests/firmware/<name>.py, imported by path under CPython."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(PROBES, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def flex_week_doc():
    """The heaviest program there is: 48 steps a day, every weekday different, periodic boluses."""
    return probe_module("heap_probe").flex_week_doc()
