"""The installed `pumpctl` entry point, run as a user runs it (make test installs it into the venv)."""
import os
import sys


def pumpctl_argv():
    exe = os.path.join(os.path.dirname(sys.executable), "pumpctl")
    if not os.access(exe, os.X_OK):
        raise RuntimeError("pumpctl is not installed beside %s: run `make test` (it installs the "
                           "package into .venv)" % sys.executable)
    return [exe]
