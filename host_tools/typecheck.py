"""Type-check the firmware per port against that port's MicroPython stubs, so a call a port lacks fails here.

    python -m host_tools.typecheck [--port rp2] [FILE...]

Each port's stubs (micropython-<port>-stubs, pinned in requirements-stubs/<port>.lock) live in
build/stubs/<port>: they define the same modules (machine, time...) differently, so they cannot
share one environment. mypy runs once per port with them as its typeshed (their stdlib/ is
MicroPython's reduced stdlib) and on its search path, over the files the port's boards run
(host_tools/firmware_set.py); bodies of unannotated functions are checked too, which is where
nearly all firmware code is. Errors inside the stubs themselves are not ours and are silenced,
module by module; errors in the firmware are all reported.
"""
import argparse
import os
import subprocess
import sys

from host_tools import paths
from host_tools.firmware_set import FirmwareSetError, port_modules, real_ports

PORTS = ("rp2", "esp32", "stm32")
LOCK_DIR = os.path.join(paths.REPO_DIR, "requirements-stubs")
_NOT_MODULES = ("stdlib", "stubs")   # the stub package's typeshed parts, not importable modules


class TypecheckError(Exception):
    """The check could not run (stubs not installable, a board naming a missing driver)."""


def stubs_dir(port):
    return os.path.join(paths.BUILD_DIR, "stubs", port)


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def ensure_stubs(port):
    """Install the port's pinned stubs into build/stubs/<port> unless the lock already is there
    (the stamp holds the lock it was installed from; `make typecheck` does the same)."""
    lock = os.path.join(LOCK_DIR, port + ".lock")
    want = _read(lock)
    if want is None:
        raise TypecheckError("no stubs lock for port %s: %s" % (port, lock))
    target = stubs_dir(port)
    stamp = os.path.join(target, ".installed")
    if _read(stamp) == want:
        return target
    result = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "install",
                             "--quiet", "--no-deps", "--upgrade", "--target", target, "-r", lock],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise TypecheckError("cannot install the %s stubs (%s): %s" % (port, lock, result.stderr.strip()))
    with open(stamp, "w") as f:
        f.write(want)
    return target


def stub_modules(stubs):
    """Top-level modules the stub folder defines (machine, rp2, _mpy_shed...): their own errors
    are the stub authors', not ours."""
    out = []
    for name in sorted(os.listdir(stubs)):
        full = os.path.join(stubs, name)
        if name.endswith(".pyi"):
            out.append(name[:-4])
        elif (os.path.isdir(full) and name not in _NOT_MODULES and "." not in name
              and not name.startswith("__")):
            out += [name, name + ".*"]
    return out


def write_config(port, roots, work=None):
    """<work>/mypy.ini for this port (work: build/typecheck/<port>, where mypy keeps its cache);
    roots are the import roots (firmware/)."""
    stubs = stubs_dir(port)
    work = work or os.path.join(paths.BUILD_DIR, "typecheck", port)
    os.makedirs(work, exist_ok=True)
    lines = [
        "[mypy]",
        "custom_typeshed_dir = " + stubs,
        "mypy_path = " + ",".join([stubs] + list(roots)),
        "explicit_package_bases = True",
        "no_site_packages = True",
        "check_untyped_defs = True",
        "warn_unused_ignores = True",
        "cache_dir = " + os.path.join(work, "cache"),
        "",
        "[mypy-%s]" % ",".join(stub_modules(stubs)),
        "ignore_errors = True",
        "",
    ]
    path = os.path.join(work, "mypy.ini")
    text = "\n".join(lines)
    if _read(path) != text:
        with open(path, "w") as f:
            f.write(text)
    return path


def check(port, files, roots=None, work=None):
    """Run mypy over files for one port; returns (exit code, output). Paths in the output are
    relative to the repository where they are inside it. Other roots than firmware/ want their
    own work folder: a config that changes invalidates mypy's whole cache."""
    roots = roots or [paths.FIRMWARE_DIR]
    ensure_stubs(port)
    config = write_config(port, roots, work)
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file", config] + list(files),
                            capture_output=True, text=True, cwd=paths.REPO_DIR)
    return result.returncode, (result.stdout + result.stderr).strip()


def port_files(port):
    try:
        rels = port_modules(port)
    except FirmwareSetError as e:
        raise TypecheckError(str(e))
    return [os.path.relpath(os.path.join(paths.FIRMWARE_DIR, r), paths.REPO_DIR) for r in rels]


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.typecheck", description=__doc__.split("\n")[0])
    ap.add_argument("--port", action="append", choices=PORTS,
                    help="check this port only (repeatable; default: every port a board file names)")
    ap.add_argument("files", nargs="*", help="check these files instead of the port's boards' files")
    args = ap.parse_args(argv)
    ports = args.port or [p for p in real_ports() if p in PORTS]
    failed = 0
    for port in ports:
        try:
            files = args.files or port_files(port)
            code, out = check(port, files)
        except TypecheckError as e:
            print("typecheck %s: error: %s" % (port, e))
            failed += 1
            continue
        print("typecheck %s: %d files: %s" % (port, len(files), "ok" if code == 0 else "FAILED"))
        if code != 0:
            print(out)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
