"""Deploy: compile the firmware with mpy-cross, copy what changed over mpremote, verify, restart the app.

The same path serves a real board and the simulated one. The running app is asked into service
mode (a reset into the REPL with no watchdog running) instead of being raced with Ctrl-C.
"""
import hashlib
import json
import os
import subprocess
import time

from mpremote.transport import TransportError
from mpremote.transport_serial import SerialTransport

from host_tools import keys, paths
from host_tools.client import PumpClient, LinkError, DeviceError

# Folders the deploy owns on the board: anything else there is stale and removed. On a board
# running a frozen build every file there is stale: the filesystem comes first on sys.path, so
# a module left there would shadow its frozen version.
MANAGED_DIRS = ("pump", "drivers")
_SOURCE_ONLY = ("main.py",)   # MicroPython runs main.py only from source
_CHUNK = 1024


class DeployError(Exception):
    """Deploy could not finish; the message says where it stopped and what to do."""


def _say(progress, msg):
    if progress:
        progress(msg)


# ---- build ------------------------------------------------------------------------------------
def load_board_file(board_name):
    from host_tools.program_file import ProgramFileError, board_config
    try:
        board_config(board_name)  # the device would refuse it: refuse it here, before touching the board
    except ProgramFileError as e:
        raise DeployError(str(e))
    with open(os.path.join(paths.BOARDS_DIR, board_name, "board.json"), "rb") as f:
        return f.read()


def load_library_file():
    """firmware/drugs.json, checked by the firmware's validator before it goes anywhere."""
    from host_tools.program_file import ProgramFileError, drug_library
    try:
        drug_library()
    except ProgramFileError as e:
        raise DeployError(str(e))
    with open(os.path.join(paths.FIRMWARE_DIR, "drugs.json"), "rb") as f:
        return f.read()


def _firmware_sources():
    for root, dirs, files in os.walk(paths.FIRMWARE_DIR):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                full = os.path.join(root, name)
                yield os.path.relpath(full, paths.FIRMWARE_DIR).replace(os.sep, "/"), full


def compile_firmware(progress=None, only=None):
    """Returns {remote path: bytes}: .mpy for every module (or those of `only`, a set of
    firmware-relative .py paths), main.py as source. A module whose source has not changed since
    its last compile is not compiled again (each mpy-cross run is a process: 54 of them took
    1.5 s of every deploy)."""
    out_dir = os.path.join(paths.BUILD_DIR, "mpy")
    files = {}
    sources = [(rel, full) for rel, full in _firmware_sources() if only is None or rel in only]
    compiled = 0
    # the stamp names the compiler too: a new mpy-cross compiles everything again
    version = subprocess.run([paths.mpy_cross(), "--version"], capture_output=True).stdout
    for rel, full in sources:
        with open(full, "rb") as f:
            source = f.read()
        if rel in _SOURCE_ONLY:
            files[rel] = source
            continue
        target = os.path.join(out_dir, rel[:-3] + ".mpy")
        stamp = target + ".src"   # the sha256 of the source the .mpy was compiled from
        want = hashlib.sha256(version + b"\0" + source).hexdigest()
        if _read(stamp) != want.encode() or _read(target) is None:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            # compiled beside, then renamed: parallel deploys (pytest -n) share this folder, and
            # one must never read a .mpy another is half-way through writing
            part = "%s.%d.part" % (target, os.getpid())
            result = subprocess.run([paths.mpy_cross(), "-s", rel, "-o", part, full],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                raise DeployError("mpy-cross failed on %s: %s" % (rel, result.stderr.strip()))
            os.replace(part, target)
            with open(stamp + ".%d.part" % os.getpid(), "w") as f:
                f.write(want)
            os.replace(stamp + ".%d.part" % os.getpid(), stamp)
            compiled += 1
        files[rel[:-3] + ".mpy"] = _read(target)
    _say(progress, "compiled %d of %d firmware files with mpy-cross (the rest unchanged)"
         % (compiled, len(sources)))
    return files


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def build_manifest(board_name, progress=None, frozen=False):
    """{remote path: bytes} and the build id. frozen: for a board whose MicroPython has pump/ and
    its drivers frozen in (host_tools/frozen.py), only main.py and the data files."""
    board_json = load_board_file(board_name)   # first: an unknown or broken board stops here
    if frozen:
        with open(os.path.join(paths.FIRMWARE_DIR, "main.py"), "rb") as f:
            files = {"main.py": f.read()}
    else:
        # only what this board runs (host_tools/firmware_set.py), and only that is compiled: a
        # Pico is not sent the sim's drivers or the ESP32's, and the deploy removes any left there
        from host_tools.firmware_set import FirmwareSetError, board_modules, read_board
        try:
            wanted = set(board_modules(read_board(board_name)))
        except FirmwareSetError as e:
            raise DeployError(str(e))
        files = compile_firmware(progress, wanted)
    files["board.json"] = board_json
    files["drugs.json"] = load_library_file()
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    build = digest.hexdigest()[:16]
    paths.use_firmware_modules()
    from pump.version import FIRMWARE_VERSION
    info = {"build": build, "board": board_name, "firmware": FIRMWARE_VERSION}
    if frozen:
        info["frozen"] = True
    files["build.json"] = json.dumps(info).encode()
    return files, build


# ---- on the board ----------------------------------------------------------------------------
_HASH_SCRIPT = """
import hashlib, binascii
def _h(p):
    try:
        h = hashlib.sha256()
        with open(p, 'rb') as f:
            while True:
                b = f.read(512)
                if not b:
                    break
                h.update(b)
        return binascii.hexlify(h.digest()).decode()
    except OSError:
        return '-'
for _p in %r:
    print(_p, _h(_p))
"""

_LIST_SCRIPT = """
import os
for _d in %r:
    try:
        for _e in os.ilistdir(_d):
            if _e[1] == 0x8000:
                print(_d + '/' + _e[0])
    except OSError:
        pass
"""

# Write beside, then rename: a power cut leaves the old file or the new one, never half of one.
# FAT cannot rename over an existing file, so the old one is removed first there.
_COMMIT_SCRIPT = """
import os
try:
    os.rename(%(tmp)r, %(dst)r)
except OSError:
    os.remove(%(dst)r)
    os.rename(%(tmp)r, %(dst)r)
"""


# The board's device key, named by its fingerprint: the secret itself never comes back over the wire.
_AUTH_FILE = "auth.json"
_AUTH_SCRIPT = """
import json, hashlib, binascii
try:
    with open(%r) as f:
        _d = json.load(f)
    _s = binascii.unhexlify(_d['key'])
    print('key', _d['device'], binascii.hexlify(hashlib.sha256(b'micropump fingerprint ' + _s).digest()).decode()[:16])
except Exception:
    print('key - -')
""" % _AUTH_FILE


def board_key(transport):
    """(device id, fingerprint) of the board's key, or (None, None) when it has none usable."""
    for line in transport.exec(_AUTH_SCRIPT).decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "key":
            return (None, None) if parts[1] == "-" else (parts[1], parts[2])
    return None, None


def provision(transport, rekey=False, progress=None):
    """Make sure the board holds a device key this computer holds too; returns its device id.

    A new key is saved here first, then written to the board (beside, then renamed): a cut in
    between leaves the board with its old key or none, never one nobody has."""
    device, board_print = board_key(transport)
    if device is not None and not rekey:
        try:
            mine = keys.load(device)
        except keys.KeyStoreError as e:
            raise DeployError(str(e))
        if mine is not None and mine.secret is not None and keys.fingerprint(mine.secret) == board_print:
            _say(progress, "device key: pump %s, held in %s" % (device, keys.keys_dir()))
            return device
        raise DeployError("the board holds a device key (pump %s) that %s does not hold: copy that "
                          "pump's key file there, or deploy with --rekey to give the pump a new key "
                          "(every other computer's key for it stops working)" % (device, keys.keys_dir()))
    device = keys.new_device_id()
    key = keys.create(device)
    doc = json.dumps({"device": device, "key": key.secret.hex()}).encode()
    _write(transport, _AUTH_FILE, doc)
    if board_key(transport) != (device, keys.fingerprint(key.secret)):
        raise DeployError("the device key did not read back from the board; run deploy again")
    _say(progress, "device key: new key for pump %s, saved in %s (the secret is never shown)"
         % (device, key.path))
    return device


# The firmware version frozen into the board's MicroPython, looked up with only the frozen
# modules on the path (the filesystem's own pump/ must not answer for it).
_FROZEN_SCRIPT = """
import sys
_p = list(sys.path)
while sys.path:
    sys.path.pop()
sys.path.append('.frozen')
try:
    import pump.version as _v
    print('frozen', _v.FIRMWARE_VERSION)
except ImportError:
    print('frozen -')
while sys.path:
    sys.path.pop()
for _x in _p:
    sys.path.append(_x)
"""


def frozen_version(transport):
    """FIRMWARE_VERSION of the pump package frozen into the board's MicroPython, or None."""
    for line in transport.exec(_FROZEN_SCRIPT).decode().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "frozen":
            return None if parts[1] == "-" else parts[1]
    return None


def check_frozen(transport, progress=None):
    version = frozen_version(transport)
    if version is None:
        raise DeployError("the board's MicroPython has no pump firmware frozen in: flash a frozen "
                          "build first (make firmware BOARD=... MICROPYTHON_DIR=..., see "
                          "docs/drivers.md) or deploy without --frozen")
    paths.use_firmware_modules()
    from pump.version import FIRMWARE_VERSION
    if version != FIRMWARE_VERSION:
        _say(progress, "warning: the board's frozen firmware is %s, this checkout is %s: its data "
             "files may not suit it; rebuild and flash the firmware" % (version, FIRMWARE_VERSION))
    else:
        _say(progress, "frozen firmware %s on the board" % version)


def remote_hashes(transport, remote_paths):
    out = transport.exec(_HASH_SCRIPT % (sorted(remote_paths),)).decode()
    hashes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2:
            hashes[parts[0]] = None if parts[1] == "-" else parts[1]
    return hashes


def _mkdirs(transport, remote_path):
    parts = remote_path.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        d = "/".join(parts[:i])
        if not transport.fs_exists(d):
            transport.fs_mkdir(d)


def _write(transport, path, data):
    tmp = path + ".tmp"
    _mkdirs(transport, path)
    transport.fs_writefile(tmp, data, chunk_size=_CHUNK)
    transport.exec(_COMMIT_SCRIPT % {"tmp": tmp, "dst": path})


def _connect_repl(port, wait_s=30.0):
    """Open the port and enter the raw REPL, waiting out a board that is still resetting."""
    deadline = time.monotonic() + wait_s
    last = None
    while time.monotonic() < deadline:
        transport = None
        try:
            transport = SerialTransport(port, baudrate=115200)
            transport.enter_raw_repl(soft_reset=True)
            return transport
        except (TransportError, OSError) as e:
            last = e
            if transport is not None:
                close_quietly(transport)
            time.sleep(0.2)
    raise DeployError("could not reach the REPL on %s: %s%s" % (port, last, _holders(port)))


def close_quietly(transport):
    try:
        transport.close()
    except OSError:
        pass   # the port went with the board's reset: nothing left to close


def _holders(port):
    """Which processes have the port open (Linux only): the usual reason a port cannot be opened."""
    try:
        target = os.path.realpath(port)
        pids = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                fds = os.listdir("/proc/%s/fd" % pid)
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink("/proc/%s/fd/%s" % (pid, fd)) == target:
                        with open("/proc/%s/cmdline" % pid, "rb") as f:
                            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")[:120]
                        pids.append("%s (%s)" % (pid, cmd.strip()))
                        break
                except OSError:
                    continue
        return "; %s is open in: %s" % (target, ", ".join(pids) or "no process")
    except OSError:
        return ""


def enter_service_mode(port, stop, progress):
    """If the pump app is running, stop it if allowed and ask it into service mode."""
    try:
        client = PumpClient(port, timeout=5.0)
    except LinkError as e:
        raise DeployError(str(e))
    try:
        hello = client.probe(timeout=1.5)
        if hello is None:
            _say(progress, "no pump app answering on %s: using the REPL directly" % port)
            return
        _say(progress, "pump app found: firmware %s on board %s" % (hello.get("firmware"), hello.get("board")))
        status = client.request("status")
        if status.get("state") == "running":
            if not stop:
                raise DeployError("the pump is delivering (%s uL/h): refusing to deploy; "
                                  "stop it first or pass --stop" % status.get("rate_ul_h"))
            _say(progress, "stopping delivery (--stop)")
            client.request("stop")
        _say(progress, "entering service mode")
        client.request("service")
    except DeviceError as e:
        raise DeployError("the pump refused: %s" % e)
    finally:
        client.close()


def wait_for_app(port, build=None, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with PumpClient(port, timeout=2.0) as client:
                hello = client.probe(timeout=1.0)
        except LinkError:
            hello = None
        if hello is not None and (build is None or hello.get("build") == build):
            return hello
        time.sleep(0.3)
    raise DeployError("the app did not come up on %s within %.0f s with build %s "
                      "(see its REPL output with `mpremote connect %s repl`)" % (port, timeout, build, port))


# The files a deploy writes, and the device key: what a board keeps when reset to just-deployed.
# what a board keeps when put back as deployed: the app, its build, its config and its key
KEPT_AT_RESET = ("main.py", "build.json", "board.json", "drugs.json", "auth.json")
_RESET_SCRIPT = """
import os
for _e in os.ilistdir(''):
    if _e[1] == 0x8000 and _e[0] not in %r:
        os.remove(_e[0])
        print(_e[0])
"""


def reset_to_deployed(port, progress=None):
    """Put a deployed board back as the deploy left it: the state it built since (programs,
    journal, event log, calibration) is removed and the app restarted. For HIL suites on a test
    board: what a bench engineer stored there is gone."""
    enter_service_mode(port, True, progress)
    transport = _connect_repl(port)
    try:
        removed = transport.exec(_RESET_SCRIPT % (KEPT_AT_RESET,)).decode().split()
        _say(progress, "removed %s" % (", ".join(removed) or "nothing"))
        transport.exec_raw_no_follow("import machine\nmachine.reset()")
    except TransportError as e:
        raise DeployError("could not reset the board's state: %s" % e)
    finally:
        close_quietly(transport)
    return wait_for_app(port)


def deploy(port, board_name, stop=False, progress=None, step=None, rekey=False, frozen=False):
    """progress(message) hears each stage; step(done, total, path), if given, hears the file copy
    instead of the per-file messages (a progress bar). frozen: the board runs a frozen build:
    copy main.py and the data files only, and remove the modules left on its filesystem."""
    files, build = build_manifest(board_name, progress, frozen=frozen)
    enter_service_mode(port, stop, progress)
    transport = _connect_repl(port)
    try:
        if frozen:
            check_frozen(transport, progress)   # before anything on the board is touched
        device = provision(transport, rekey, progress)
        have = remote_hashes(transport, list(files))
        want = {p: hashlib.sha256(d).hexdigest() for p, d in files.items()}
        changed = [p for p in sorted(files) if have.get(p) != want[p]]
        # main.py last: until it lands, the old entry point keeps loading whole old modules.
        changed.sort(key=lambda p: p in _SOURCE_ONLY)
        _say(progress, "%d of %d files changed" % (len(changed), len(files)))
        if step is not None:
            step(0, len(changed), "copying")
        for i, path in enumerate(changed, 1):
            if step is None:
                _say(progress, "[%d/%d] %s (%d bytes)" % (i, len(changed), path, len(files[path])))
            _write(transport, path, files[path])
            if step is not None:
                step(i, len(changed), path)
        present = transport.exec(_LIST_SCRIPT % (MANAGED_DIRS,)).decode().split()
        stale = sorted(p for p in present if p not in files)
        for path in stale:
            _say(progress, "removing stale %s" % path)
            transport.fs_rmfile(path)
        _say(progress, "verifying hashes")
        after = remote_hashes(transport, list(files))
        bad = [p for p in files if after.get(p) != want[p]]
        if bad:
            raise DeployError("hash mismatch after copy: %s; run deploy again" % ", ".join(sorted(bad)))
        _say(progress, "restarting the app")
        transport.exec_raw_no_follow("import machine\nmachine.reset()")
    except TransportError as e:
        raise DeployError("copy failed: %s; run deploy again (the board keeps whole files only)" % e)
    finally:
        close_quietly(transport)
    hello = wait_for_app(port, build)
    _say(progress, "app is up: firmware %s, board %s, build %s" % (hello["firmware"], hello["board"], build))
    with PumpClient(port, timeout=5.0) as client:
        for line in client.check_commands():
            _say(progress, "warning: pumpctl and the firmware disagree: %s" % line)
    return {"build": build, "changed": changed, "removed": stale, "files": len(files), "device": device}
