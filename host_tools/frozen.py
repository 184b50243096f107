"""Frozen production builds: each real board's manifest.py, written from what the board runs, and the port build.

    python -m host_tools.frozen write [BOARD...]    # (re)write boards/<name>/manifest.py
    python -m host_tools.frozen check               # does every manifest freeze what its board runs?
    python -m host_tools.frozen build BOARD --micropython DIR   # make -C DIR/ports/<port> ...

A frozen build carries pump/ and the board's drivers as bytecode in flash (less RAM, no .mpy
version to match); board.json, drugs.json, auth.json and main.py stay on the filesystem
(`pumpctl deploy --frozen` copies only those). The module list is the one the type check uses:
host_tools/firmware_set.py computes it for both.
"""
import argparse
import os
import subprocess
import sys

from host_tools import paths
from host_tools.firmware_set import FirmwareSetError, frozen_modules, read_board, real_boards

OPT = 3   # mpy-cross -O3: no asserts (never a safety check here), no docstrings, no line numbers
BASE_MANIFEST = "$(PORT_DIR)/boards/manifest.py"   # the port's own frozen modules (asyncio...)


class FrozenError(Exception):
    """A manifest cannot be written, read or built; the message says which and why."""


def manifest_path(board_name):
    return os.path.join(paths.BOARDS_DIR, board_name, "manifest.py")


def _firmware_rel(board_name):
    # manifest paths are relative to the manifest's folder (MicroPython's manifestfile chdirs there)
    return os.path.relpath(paths.FIRMWARE_DIR, os.path.join(paths.BOARDS_DIR, board_name)).replace(os.sep, "/")


def manifest_text(board_name):
    doc = read_board(board_name)
    try:
        modules = frozen_modules(doc)
    except FirmwareSetError as e:
        raise FrozenError(str(e))
    drivers = [m[len("drivers/"):] for m in modules if m.startswith("drivers/")]
    others = [m for m in modules if not m.startswith(("drivers/", "pump/"))]
    if others:
        raise FrozenError("%s runs modules outside pump/ and drivers/: %s" % (board_name, others))
    base = _firmware_rel(board_name)
    lines = [
        "# Frozen build of %s: MicroPython's own modules, the pump package and this board's drivers." % board_name,
        "# Written by `python -m host_tools.frozen write %s` from board.json; a host test checks it" % board_name,
        "# still freezes exactly what the board runs. board.json, drugs.json, auth.json and main.py",
        "# stay on the filesystem: `pumpctl deploy --frozen --board %s`." % board_name,
        "# Build: make firmware BOARD=%s MICROPYTHON_DIR=/path/to/micropython" % board_name,
        'include("%s")' % BASE_MANIFEST,
        'package("pump", base_path="%s", opt=%d)' % (base, OPT),
        'package("drivers", files=[',
    ]
    lines += ['    "%s",' % d for d in drivers]
    lines += ['], base_path="%s", opt=%d)' % (base, OPT), ""]
    return "\n".join(lines)


def write_manifest(board_name):
    text = manifest_text(board_name)
    with open(manifest_path(board_name), "w") as f:
        f.write(text)
    return manifest_path(board_name)


class ManifestRecord:
    """Runs a manifest.py with stand-ins for MicroPython's manifest functions and records what it
    would freeze: {firmware-relative path: opt} plus every include."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.dir = os.path.dirname(self.path)
        self.files = {}
        self.includes = []
        self.calls = []

    def _resolve(self, p):
        return os.path.normpath(os.path.join(self.dir, p))

    def _add(self, full, target, opt):
        if not os.path.isfile(full):
            raise FrozenError("%s freezes %s, which does not exist" % (self.path, full))
        self.files[target.replace(os.sep, "/")] = opt

    def include(self, manifest, **kwargs):
        self.includes.append(manifest)

    def package(self, package_path, files=None, base_path=".", opt=None):
        self.calls.append(("package", package_path, opt))
        base = self._resolve(base_path)
        if files is not None:
            for f in files:
                target = os.path.join(package_path, f)
                self._add(os.path.join(base, target), target, opt)
            return
        for root, dirs, names in os.walk(os.path.join(base, package_path)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(names):
                if name.endswith(".py"):
                    full = os.path.join(root, name)
                    self._add(full, os.path.relpath(full, base), opt)

    def module(self, module_path, base_path=".", opt=None):
        self.calls.append(("module", module_path, opt))
        self._add(os.path.join(self._resolve(base_path), module_path), module_path, opt)

    def freeze(self, path, script=None, opt=None):
        self.calls.append(("freeze", path, opt))
        base = self._resolve(path)
        scripts = [script] if isinstance(script, str) else (script or [""])
        for s in scripts:
            full = os.path.join(base, s)
            if os.path.isdir(full):
                for root, dirs, names in os.walk(full):
                    dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                    for name in sorted(names):
                        if name.endswith(".py"):
                            f = os.path.join(root, name)
                            self._add(f, os.path.relpath(f, base), opt)
            else:
                self._add(full, s, opt)

    def require(self, name, **kwargs):
        self.calls.append(("require", name, None))

    def run(self):
        g = {"include": self.include, "package": self.package, "module": self.module,
             "freeze": self.freeze, "require": self.require, "metadata": lambda **kw: None}
        with open(self.path) as f:
            source = f.read()
        exec(compile(source, self.path, "exec"), g)
        return self


def read_manifest(board_name):
    path = manifest_path(board_name)
    if not os.path.isfile(path):
        raise FrozenError("%s has no manifest.py: python -m host_tools.frozen write %s" % (board_name, board_name))
    return ManifestRecord(path).run()


def check_manifest(board_name):
    """Problems (strings) with the board's manifest: empty when it freezes exactly what the board
    runs, at opt 3, on top of the port's own manifest."""
    try:
        rec = read_manifest(board_name)
        want = set(frozen_modules(read_board(board_name)))
    except (FrozenError, FirmwareSetError) as e:
        return [str(e)]
    problems = []
    have = set(rec.files)
    if have - want:
        problems.append("freezes modules the board does not run: %s" % ", ".join(sorted(have - want)))
    if want - have:
        problems.append("misses modules the board runs: %s" % ", ".join(sorted(want - have)))
    low = sorted(f for f, opt in rec.files.items() if opt != OPT)
    if low:
        problems.append("not frozen at opt=%d: %s" % (OPT, ", ".join(low)))
    if rec.includes[:1] != [BASE_MANIFEST]:
        problems.append("does not include the port's manifest %s first" % BASE_MANIFEST)
    return problems


# ---- the port build --------------------------------------------------------------------------
# where each port's make leaves the image, by the board's flash file suffix
_PORT_DIRS = {"rp2": "ports/rp2", "esp32": "ports/esp32", "stm32": "ports/stm32"}


def build_commands(board_name, micropython_dir):
    """The make commands for a frozen firmware of this board (mpy-cross first: the port build
    uses it to compile the frozen modules), and the image they leave."""
    doc = read_board(board_name)
    port = doc.get("port")
    flash = doc.get("flash") or {}
    mp_board = flash.get("micropython_board")
    if port not in _PORT_DIRS or not mp_board:
        raise FrozenError("%s is not a real board with a flash.micropython_board" % board_name)
    mp = os.path.abspath(micropython_dir)
    port_dir = os.path.join(mp, _PORT_DIRS[port])
    if not os.path.isdir(port_dir):
        raise FrozenError("%s is not a MicroPython checkout (no %s)" % (mp, port_dir))
    manifest = os.path.abspath(manifest_path(board_name))
    make = ["make", "-C", port_dir, "BOARD=" + mp_board, "FROZEN_MANIFEST=" + manifest]
    image = os.path.join(port_dir, "build-" + mp_board, "firmware" + flash.get("file_suffix", ""))
    return [["make", "-C", os.path.join(mp, "mpy-cross")], make + ["submodules"], make], image


def build(board_name, micropython_dir, progress=print):
    problems = check_manifest(board_name)
    if problems:
        raise FrozenError("%s: manifest.py is stale: %s; rewrite it with python -m host_tools.frozen "
                          "write %s" % (board_name, "; ".join(problems), board_name))
    commands, image = build_commands(board_name, micropython_dir)
    for cmd in commands:
        progress("$ " + " ".join(cmd))
        if subprocess.run(cmd).returncode != 0:
            raise FrozenError("the port build failed: %s" % " ".join(cmd))
    progress("firmware with %s frozen in: %s" % (board_name, image))
    return image


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.frozen", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write", help="(re)write boards/<name>/manifest.py (default: every real board)")
    w.add_argument("boards", nargs="*")
    sub.add_parser("check", help="check every real board's manifest against what it runs")
    b = sub.add_parser("build", help="build MicroPython with the board's modules frozen in")
    b.add_argument("board")
    b.add_argument("--micropython", required=True, metavar="DIR", help="a MicroPython checkout")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "write":
            for name in args.boards or sorted(real_boards()):
                print("wrote", write_manifest(name))
        elif args.cmd == "check":
            bad = 0
            for name in sorted(real_boards()):
                problems = check_manifest(name)
                print("%s: %s" % (name, "; ".join(problems) or "ok"))
                bad += bool(problems)
            return 1 if bad else 0
        else:
            build(args.board, args.micropython)
    except (FrozenError, FirmwareSetError) as e:
        print("frozen: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
