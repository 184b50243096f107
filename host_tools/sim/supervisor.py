"""Supervisor of the simulated board: a pty that looks like USB serial, resets, watchdog, power, plant.

It runs the firmware on the MicroPython unix port as a child process and gives it a board's
behaviour: soft and hard resets restart the process, watchdog expiry restarts it with the
watchdog cause, and a power cut kills it without warning while the flash folder stays. The
physical world (the plant) and the world clock live here, so they outlive the board.

A power cut can also be armed to land inside a flash write: the supervisor pushes a budget of
flash units to the board ("B"), the sim_flash driver spends it and asks for the cut ("O") the
moment it runs out, with exactly the bytes that fit on the flash (docs/simulator.md).
"""
import json
import os
import pty
import re
import selectors
import signal
import socket
import subprocess
import time
import tty

from host_tools import paths
from host_tools.sim.plant import Plant, validate_params

PWRON_RESET, HARD_RESET, WDT_RESET, SOFT_RESET = 1, 2, 3, 5
_CAUSE_OF = {"soft": SOFT_RESET, "soft_raw": SOFT_RESET, "hard": HARD_RESET, "wdt": WDT_RESET,
             "power": PWRON_RESET}
CAUSE_NAMES = {PWRON_RESET: "power_on", HARD_RESET: "hard", WDT_RESET: "watchdog",
               SOFT_RESET: "soft"}

# bytes queued for the board's stdin; when full the supervisor stops reading the pty, so the host's
# writes wait (USB CDC's flow control: a board's USB serial never drops what the host sends)
_INPUT_BUFFER_MAX = 65536
# bytes of the board's output queued for a host that reads slowly, as a host's USB serial driver
# buffers; past this, output is dropped (a host that stopped reading), never blocking the board
_OUTPUT_BUFFER_MAX = 1 << 20
_WDT_WALL_MIN_S = 2.0       # a hung board (not feeding on wall time) is reset after at least this
_UNIX_PATH_MAX = 100        # sun_path holds 108 bytes on Linux; keep a margin
_CRASH_WINDOW_S = 10.0
_CRASH_LIMIT = 5


# A target's 128 KB for data, plus the firmware's bytecode: a board runs its modules frozen in
# flash, but the unix port loads every .mpy into the heap (213 KB of it with the guards, the
# persistence layer, roles and calibration; `make bench` measures it). The heaviest program
# there is (a 48-step flex week with boluses) needs 176 KB of data to be confirmed and stored,
# over the 128 KB target: a known problem (the closing notes track it), so the sim gives the
# room rather than fail a user's program. 213 + 176, and a little for fragmentation: at 352 a
# freshly booted sim failed program uploads for memory once the roles and calibration came.
SIM_HEAP_KB = 400
_SUPPLY_V = 5.0                                 # USB power, until the rig drops it
_FAULT_NAME = re.compile(r"^[a-z0-9_:]{1,32}$")

class SimError(Exception):
    """A problem starting or running the simulated board, with a message for the user."""


def _parse_speed(speed):
    if speed in ("max", "0", 0):
        return 0.0
    try:
        value = float(speed)
    except (TypeError, ValueError):
        raise SimError("speed must be a positive number or 'max', got %r" % (speed,))
    if not 0 < value <= 1e7:
        raise SimError("speed must be in (0, 1e7] or 'max', got %r" % (speed,))
    return value


class Supervisor:
    def __init__(self, home, link=None, board_file=None, speed="1", heap_kb=None, seed=0, log=None):
        self.home = os.path.abspath(home)
        self.flash = os.path.join(self.home, "flash")
        self.link = os.path.abspath(link or os.path.join(self.home, "tty"))
        self.board_sock_path = os.path.join(self.home, "board.sock")
        self.rig_sock_path = os.path.join(self.home, "rig.sock")
        self.board_log_path = os.path.join(self.home, "board.log")
        self.heap_kb = heap_kb or SIM_HEAP_KB
        self.speed = _parse_speed(speed)
        self.hold = None
        self.world_ms = 0
        self.log = log or (lambda msg: None)
        board = self._read_board(board_file or os.path.join(paths.BOARDS_DIR, "sim", "board.json"))
        try:
            params = validate_params(board.get("plant", {}))
        except ValueError as e:
            raise SimError("board file plant section: %s" % e)
        self.plant = Plant(params, float(board["calibration"]["ul_per_step"]), seed=seed)
        self.proc = None
        self.powered = False
        self.boots = 0
        self.last_cause = PWRON_RESET
        self.kbd_intr = False
        self.wdt_timeout_ms = None
        self.last_feed_wall = 0.0
        self.board_conn = None
        self._board_rbuf = b""
        self._to_board = bytearray()
        self._input_paused = False   # the pty is not read while the board's input queue is full
        self._last_out = b""
        self._to_host = bytearray()  # the board's output waiting for room in the pty
        self.output_dropped = 0      # bytes of it dropped because the host did not read them
        self._hold_waiters = []
        self._crashes = []
        self._rig_clients = {}
        self._stop = False
        self.faults = set()      # firmware faults the rig injected (the board is told on connect)
        # the board's real-time clock: local wall ms minus world ms, set by the board ("Y"). It
        # runs through resets, as a Pico's does, and stops at a power cut (no backup battery).
        self.rtc_offset = None
        self.supply_v = _SUPPLY_V
        self.annunciation = {"led": "off", "buzzer": None}   # what the board's LED and buzzer do
        self.encoder_base = 0    # the rotor's count at this boot: the encoder counts from 0
        self.flash_budget = None      # flash units the board may still write before a cut; None: unarmed
        self.flash_cuts = 0           # power cuts the flash budget caused
        self.flash_writes = 0         # mutating flash operations since the supervisor started
        self.flash_bytes = 0          # flash units the board spent since the supervisor started
        self.pressure_reads = 0       # pressure sensor readings the board took (make bench's 1 Hz check)
        self.flash_bytes_boot = 0     # ... since the board's last boot

    @staticmethod
    def _read_board(path):
        # The firmware's own validator: the sim refuses exactly what the board would refuse.
        paths.use_firmware_modules()
        from pump.board_config import load_board
        from pump.errors import ConfigError
        try:
            return load_board(path)
        except ConfigError as e:
            raise SimError("board file %s: %s" % (path, e.message))

    # ---- set-up -------------------------------------------------------------------------
    def start(self):
        os.makedirs(self.flash, exist_ok=True)
        self.sel = selectors.DefaultSelector()
        self.master, self.slave = pty.openpty()
        # The board side must be raw: no echo, no newline translation, or mpremote sees \r\r\n.
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self._make_link(os.ttyname(self.slave))
        self.sel.register(self.master, selectors.EVENT_READ, self._on_client_data)
        self.board_listener = self._listen(self.board_sock_path, self._on_board_accept)
        self.rig_listener = self._listen(self.rig_sock_path, self._on_rig_accept)
        self.power_on(PWRON_RESET)

    def _make_link(self, target):
        if os.path.islink(self.link):
            os.unlink(self.link)
        elif os.path.exists(self.link):
            raise SimError("--link %s exists and is not a symlink; refusing to replace it" % self.link)
        os.makedirs(os.path.dirname(self.link), exist_ok=True)
        os.symlink(target, self.link)

    def _listen(self, path, on_accept):
        if len(path.encode()) > _UNIX_PATH_MAX:
            raise SimError("socket path %s is too long for a unix socket (max %d bytes): "
                           "use a shorter --home" % (path, _UNIX_PATH_MAX))
        if os.path.exists(path):
            os.unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(8)
        s.setblocking(False)
        self.sel.register(s, selectors.EVENT_READ, on_accept)
        return s

    def close(self):
        self._kill()
        for path in (self.link,):
            if os.path.islink(path):
                os.unlink(path)
        for s, path in ((self.board_listener, self.board_sock_path), (self.rig_listener, self.rig_sock_path)):
            s.close()
            if os.path.exists(path):
                os.unlink(path)
        os.close(self.master)
        os.close(self.slave)

    # ---- the board process --------------------------------------------------------------
    def power_on(self, cause, boot="normal"):
        self.boots += 1
        self.annunciation = {"led": "off", "buzzer": None}   # a booting board shows nothing yet
        self.encoder_base = self.plant.rotor_steps   # an encoder's counter starts at 0 at boot
        self.last_cause = cause
        self.kbd_intr = False  # the ROM enables it around main.py and REPL code
        self.wdt_timeout_ms = None
        self.flash_bytes_boot = 0
        hold = "-" if self.hold is None else str(max(self.hold, self.world_ms))
        cmd = [paths.micropython(), "-X", "heapsize=%dK" % self.heap_kb,
               os.path.join(paths.ROM_DIR, "simboot.py"),
               "chan=" + self.board_sock_path, "flash=" + self.flash, "boot=" + boot,
               "cause=%d" % cause, "sim_ms=%d" % self.world_ms, "speed=%r" % self.speed,
               "hold=" + hold, "rtc=" + ("-" if self.rtc_offset is None else str(self.rtc_offset))]
        with open(self.board_log_path, "ab") as errlog:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=errlog, cwd=self.home)
        os.set_blocking(self.proc.stdin.fileno(), False)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.sel.register(self.proc.stdout, selectors.EVENT_READ, self._on_board_output)
        self.powered = True
        self.log("board boot #%d (%s)" % (self.boots, CAUSE_NAMES[cause]))

    def _kill(self):
        """Power off: the process dies without warning; what it had written still reaches the host."""
        proc, self.proc = self.proc, None
        self.powered = False
        self._to_board.clear()
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        if self.board_conn is not None:
            self._drain_flash_reports(self.board_conn)
            self.sel.unregister(self.board_conn)
            self.board_conn.close()
            self.board_conn = None
        if proc is None:
            return
        self.sel.unregister(proc.stdout)
        os.set_blocking(proc.stdout.fileno(), True)
        rest = proc.stdout.read()
        if rest:
            self._to_client(rest)
        proc.stdout.close()
        proc.stdin.close()

    def reset(self, kind):
        self._kill()
        self.faults.discard("crash")   # one-shot: the board comes back from the reset it caused
        self.power_on(_CAUSE_OF[kind], boot="raw" if kind == "soft_raw" else "normal")

    def _on_board_output(self, fileobj):
        try:
            data = os.read(fileobj.fileno(), 65536)
        except BlockingIOError:
            return
        if data:
            self._to_client(data)
            return
        # The process ended on its own: the ROM never exits, so this is a crash of the sim.
        code = self.proc.poll() if self.proc else None
        self.log("board process ended unexpectedly (exit %s); see %s" % (code, self.board_log_path))
        now = time.monotonic()
        self._crashes = [t for t in self._crashes if now - t < _CRASH_WINDOW_S] + [now]
        self._kill()
        if len(self._crashes) >= _CRASH_LIMIT:
            self.log("board crashed %d times in %ds: left powered off" % (_CRASH_LIMIT, _CRASH_WINDOW_S))
            return
        self.power_on(HARD_RESET)

    def _to_client(self, data):
        # A board's stdout is "cooked": a lone \n goes out as \r\n.
        out = bytearray()
        prev = self._last_out
        for b in data:
            if b == 0x0A and prev != b"\r":
                out += b"\r"
            out.append(b)
            prev = bytes((b,))
        self._last_out = prev
        if len(self._to_host) + len(out) > _OUTPUT_BUFFER_MAX:
            # nobody reads the port: the output is lost, as on a USB board whose host stopped
            # reading (its CDC write gives up after a timeout); the board never blocks on it
            self.output_dropped += len(out)
            return
        self._to_host += out
        self._flush_to_host()

    def _flush_to_host(self):
        if not self._to_host:
            return
        try:
            n = os.write(self.master, self._to_host)
            del self._to_host[:n]
        except (BlockingIOError, OSError):
            pass   # the pty is full: the host reads slower than the board writes; try again soon

    def _on_client_data(self, fd):
        room = _INPUT_BUFFER_MAX - len(self._to_board)
        if room <= 0 and self.powered:
            self._pause_input()
            return
        try:
            data = os.read(fd, min(65536, max(room, 1)))
        except (BlockingIOError, OSError):
            return
        if not self.powered or not data:
            return   # an unpowered board hears nothing
        if self.kbd_intr and b"\x03" in data:
            data = data.replace(b"\x03", b"")
            self.proc.send_signal(signal.SIGINT)
        self._to_board += data
        self._flush_to_board()
        if len(self._to_board) >= _INPUT_BUFFER_MAX:
            self._pause_input()

    def _pause_input(self):
        # Flow control, as USB does: the bytes wait in the pty and the host's writes block.
        if not self._input_paused:
            self._input_paused = True
            self.sel.unregister(self.master)

    def _resume_input(self):
        if self._input_paused and (len(self._to_board) < _INPUT_BUFFER_MAX // 2 or not self.powered):
            self._input_paused = False
            self.sel.register(self.master, selectors.EVENT_READ, self._on_client_data)

    def _flush_to_board(self):
        self._resume_input()
        if not self._to_board or self.proc is None:
            return
        try:
            n = os.write(self.proc.stdin.fileno(), self._to_board)
            del self._to_board[:n]
        except BlockingIOError:
            pass
        except BrokenPipeError:
            self._to_board.clear()

    # ---- the board's side channel --------------------------------------------------------
    def _on_board_accept(self, listener):
        conn, _ = listener.accept()
        if self.board_conn is not None:
            self.sel.unregister(self.board_conn)
            self.board_conn.close()
        self.board_conn = conn
        self._board_rbuf = b""
        self.sel.register(conn, selectors.EVENT_READ, self._on_board_msg)
        for name in sorted(self.faults):
            conn.sendall(b"X %s 1\n" % name.encode())
        if self.flash_budget is not None:
            # an armed cut outlives resets until it fires: the new boot gets what is left
            conn.sendall(b"B %d\n" % self.flash_budget)

    def _on_board_msg(self, conn):
        data = conn.recv(65536)
        if not data:
            if conn is self.board_conn:
                self.sel.unregister(conn)
                conn.close()
                self.board_conn = None
            return
        self._board_rbuf += data
        *lines, self._board_rbuf = self._board_rbuf.split(b"\n")
        for line in lines:
            if self.board_conn is not conn:
                return  # a reset replaced this board mid-batch
            self._handle_board(line.decode().split())

    def _advance(self, t):
        if t > self.world_ms:
            self.world_ms = t

    def _handle_board(self, msg):
        tag, args = msg[0], msg[1:]
        if tag == "S":
            t = int(args[0])
            self._advance(t)
            self.plant.step(t, int(args[1]))
        elif tag == "P":
            t = int(args[0])
            self._advance(t)
            self.pressure_reads += 1
            self.board_conn.sendall(b"p %.4f\n" % self.plant.read_pressure_kpa(t))
        elif tag == "Q":
            t = int(args[0])
            self._advance(t)
            self.board_conn.sendall(b"q %d\n" % (self.plant.rotor_steps - self.encoder_base))
        elif tag == "A":
            self._advance(int(args[0]))
            self.annunciation = {"led": args[1], "buzzer": None if args[2] == "none" else args[2]}
        elif tag == "V":
            self._advance(int(args[0]))
            self.board_conn.sendall(b"v %.3f\n" % self.supply_v)
        elif tag == "T":
            self._advance(int(args[0]))
        elif tag == "F":
            self.last_feed_wall = time.monotonic()
            self._advance(int(args[0]))
        elif tag == "E":
            t = int(args[0])
            self._advance(t)
            self.plant.set_motor_enabled(t, args[1] == "1")
        elif tag == "h":
            self.hold = int(args[0])
        elif tag == "H":
            self._advance(int(args[0]))
            self._release_hold_waiters()
        elif tag == "W":
            self.wdt_timeout_ms = int(args[0])
            self.last_feed_wall = time.monotonic()
        elif tag == "K":
            self.kbd_intr = args[0] == "1"
        elif tag == "R":
            if len(args) > 1:
                self._advance(int(args[1]))
            self.log("board requested %s reset" % args[0])
            self.reset(args[0])
        elif tag == "Y":
            self.rtc_offset = None if args[0] == "-" else int(args[0])
        elif tag == "D":
            self._flash_spent(int(args[0]), args[1])
        elif tag == "O":
            self._advance(int(args[0]))
            self._flash_cut(int(args[1]))
            self.log("power cut by the flash budget (%d bytes since boot)" % self.flash_bytes_boot)
            self._kill()                # unpowered until the rig's power_on, as rig_power_cut
            self._stop_clock_at_cut()

    def _flash_spent(self, units, left):
        self.flash_writes += 1          # one report per write, append, rename or remove
        self.flash_bytes += units
        self.flash_bytes_boot += units
        if left != "-" and self.flash_budget is not None:
            # the board's count is the truth: it spends the budget without asking
            self.flash_budget = int(left)

    def _flash_cut(self, units):
        self._flash_spent(units, "0")
        self.flash_cuts += 1
        self.flash_budget = None        # spent: an armed cut fires once

    def _drain_flash_reports(self, conn):
        """Count the flash writes a board reported just before it died (the bytes did land)."""
        conn.setblocking(False)
        data = self._board_rbuf
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (BlockingIOError, OSError):
            pass
        self._board_rbuf = b""
        for line in data.split(b"\n"):
            msg = line.decode(errors="replace").split()
            if len(msg) == 3 and msg[0] == "D":
                self._flash_spent(int(msg[1]), msg[2])
            elif len(msg) == 3 and msg[0] == "O":
                # it asked for its cut as the power went another way: the budget is spent all the same
                self._flash_cut(int(msg[2]))

    def _held(self):
        """Simulated time has reached the hold point and is paused there."""
        return self.hold is not None and self.world_ms >= self.hold

    def _release_hold_waiters(self):
        if not self._held():
            return
        waiters, self._hold_waiters = self._hold_waiters, []
        for client, rid in waiters:
            self._rig_reply(client, rid, {"sim_ms": self.world_ms})

    def _check_watchdog(self):
        if not self.powered or self.wdt_timeout_ms is None:
            return
        if self._held():
            # Paused time pauses the watchdog too: a held board waits for the rig, it is not hung.
            self.last_feed_wall = time.monotonic()
            return
        speed = self.speed if self.speed > 0 else float("inf")
        limit = max(self.wdt_timeout_ms / 1000.0 / speed, _WDT_WALL_MIN_S)
        if time.monotonic() - self.last_feed_wall > limit:
            self.log("watchdog expired (board hung for %.1f s wall time)" % limit)
            self.reset("wdt")

    def set_clock(self, speed, hold_spec="-"):
        self.speed = speed
        # Forget the old hold: a relative one is known only when the board acknowledges it ("h"),
        # so a late report of the previous hold cannot release a new run_for early.
        self.hold = None
        if self.board_conn is not None:
            self.board_conn.sendall(("C %r %s\n" % (speed, hold_spec)).encode())
        elif hold_spec.startswith("+"):
            # No board is running the clock: the world moves on by itself.
            self.world_ms += int(hold_spec[1:])
            self.hold = self.world_ms

    # ---- the rig: fault injection and measurement ----------------------------------------
    def _on_rig_accept(self, listener):
        conn, _ = listener.accept()
        conn.setblocking(True)
        self._rig_clients[conn] = b""
        self.sel.register(conn, selectors.EVENT_READ, self._on_rig_data)

    def _on_rig_data(self, conn):
        data = conn.recv(65536)
        if not data:
            self.sel.unregister(conn)
            del self._rig_clients[conn]
            self._hold_waiters = [w for w in self._hold_waiters if w[0] is not conn]
            conn.close()
            return
        buf = self._rig_clients[conn] + data
        *lines, self._rig_clients[conn] = buf.split(b"\n")
        for line in lines:
            if line.strip():
                self._handle_rig(conn, line)

    def _rig_reply(self, conn, rid, result=None, error=None):
        reply = {"id": rid, "ok": error is None}
        if error is None:
            reply["result"] = result if result is not None else {}
        else:
            reply["error"] = error
        try:
            conn.sendall(json.dumps(reply).encode() + b"\n")
        except OSError:
            pass

    def _handle_rig(self, conn, line):
        try:
            req = json.loads(line)
            rid, cmd, args = req.get("id"), req["cmd"], req.get("args", {})
        except (ValueError, KeyError, AttributeError):
            self._rig_reply(conn, None, error="bad request: %r" % line[:80])
            return
        handler = getattr(self, "rig_" + str(cmd), None)
        if handler is None:
            self._rig_reply(conn, rid, error="unknown rig command %r" % cmd)
            return
        try:
            result = handler(conn, rid, **args)
        except (TypeError, ValueError, SimError) as e:
            self._rig_reply(conn, rid, error="%s: %s" % (cmd, e))
            return
        if result is not _PENDING:
            self._rig_reply(conn, rid, result)

    def rig_status(self, conn, rid):
        return {"sim_ms": self.world_ms, "speed": self.speed or "max", "hold_ms": self.hold,
                "powered": self.powered, "boots": self.boots, "output_dropped": self.output_dropped,
                "reset_cause": CAUSE_NAMES[self.last_cause], "link": self.link,
                "flash": self.flash, "watchdog_ms": self.wdt_timeout_ms,
                "annunciation": self.annunciation,
                "flash_budget": self.flash_budget, "flash_cuts": self.flash_cuts,
                "flash_bytes_written": self.flash_bytes, "flash_writes": self.flash_writes,
                "flash_bytes_since_boot": self.flash_bytes_boot, "pressure_reads": self.pressure_reads,
                "plant": self.plant.state(self.world_ms)}

    def rig_scale(self, conn, rid):
        return {"scale_ul": self.plant.scale_ul(self.world_ms), "sim_ms": self.world_ms}

    def rig_set_speed(self, conn, rid, speed):
        self.set_clock(_parse_speed(speed))
        return {"speed": self.speed or "max"}

    def rig_run_for(self, conn, rid, seconds, speed="max"):
        """Advance simulated time by `seconds`, then hold it there; replies when the board arrives."""
        ms = int(round(float(seconds) * 1000))
        if ms < 0:
            raise ValueError("seconds must be >= 0")
        self._hold_waiters.append((conn, rid))
        self.set_clock(_parse_speed(speed), "+%d" % ms)
        if self.board_conn is None:
            self._release_hold_waiters()
        return _PENDING

    def rig_occlude(self, conn, rid, fraction=1.0):
        fraction = float(fraction)
        if not 0 < fraction <= 1:
            raise ValueError("fraction must be in (0, 1]")
        self.plant.occlude(self.world_ms, fraction)
        return {}

    def rig_release(self, conn, rid):
        self.plant.release(self.world_ms)
        return {}

    def rig_cough(self, conn, rid, kpa=5.0, ms=500):
        self.plant.add_cough(self.world_ms, float(kpa), int(ms))
        return {}

    def rig_back_pressure(self, conn, rid, base_kpa=None, drift_kpa_per_h=None):
        self.plant.set_back_pressure(self.world_ms, base_kpa, drift_kpa_per_h)
        return {}

    def rig_fill_reservoir(self, conn, rid, volume_ul):
        self.plant.refill(self.world_ms, float(volume_ul))
        return {}

    def rig_sensor_fault(self, conn, rid, kind, value=0.0):
        """Break the pressure sensor: stuck, open, noisy (value: noise kPa), offset (value: kPa); none repairs."""
        self.plant.sensor_fault(self.world_ms, str(kind), float(value))
        return {}

    def rig_lose_steps(self, conn, rid, fraction):
        self.plant.lose_steps(self.world_ms, float(fraction))
        return {}

    def rig_supply(self, conn, rid, volts):
        volts = float(volts)
        if not 0 <= volts <= 50:
            raise ValueError("volts must be in [0, 50]")
        self.supply_v = volts
        return {"volts": volts}

    def rig_fault(self, conn, rid, name, active=True):
        """Inject (or remove) a fault inside the firmware, e.g. planner_runaway, hang:link or crash."""
        name = str(name)
        if not _FAULT_NAME.match(name):
            raise ValueError("a fault name is 1-32 characters of a-z, 0-9, _ and :")
        if active:
            self.faults.add(name)
        else:
            self.faults.discard(name)
        if self.board_conn is not None:
            self.board_conn.sendall(b"X %s %d\n" % (name.encode(), 1 if active else 0))
        return {"faults": sorted(self.faults)}

    def rig_power_cut(self, conn, rid):
        self._kill()
        self.log("power cut")
        self._stop_clock_at_cut()
        return {}

    def _stop_clock_at_cut(self):
        self.rtc_offset = None   # no backup battery: the time of day is lost with the power
        # An unpowered board moves no time: a run_for waiting for it would wait for ever. The
        # world holds at the cut and the waiters hear so (the rig sees "powered" False).
        self.hold = self.world_ms
        self._release_hold_waiters()

    def rig_cut_power_after_flash_bytes(self, conn, rid, n=None):
        """Arm a power cut once the board's flash writes spend n more units (None disarms)."""
        if n is not None:
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ValueError("n must be an int >= 0 (flash units) or null to disarm, got %r" % (n,))
        self.flash_budget = n
        if self.board_conn is not None:
            self.board_conn.sendall(b"B -\n" if n is None else b"B %d\n" % n)
        return {"flash_budget": n}

    def rig_power_on(self, conn, rid, off_s=0):
        if self.powered:
            raise SimError("the board is already powered")
        self.world_ms += int(float(off_s) * 1000)
        self.power_on(PWRON_RESET)
        return {"sim_ms": self.world_ms}

    def rig_reset_button(self, conn, rid):
        self.reset("hard")
        return {}

    # ---- main loop -------------------------------------------------------------------------
    def stop(self, *_):
        self._stop = True

    def run(self):
        while not self._stop:
            for key, _ in self.sel.select(timeout=0.005 if self._to_host else 0.05):
                # a handler earlier in this batch may have reset the board, closing and
                # unregistering the old process's pipes: their stale events must be dropped
                if self.sel.get_map().get(key.fd) is key:
                    key.data(key.fileobj)
            self._flush_to_board()
            self._flush_to_host()
            self._check_watchdog()


_PENDING = object()


def serve(args):
    """Entry point of `pumpctl sim`: run until SIGINT/SIGTERM."""
    def log(msg):
        print("sim: " + msg, flush=True)

    sup = Supervisor(args.home, link=args.link, board_file=args.board_file, speed=args.speed,
                     heap_kb=args.heap_kb, seed=args.seed, log=log if args.verbose else None)
    signal.signal(signal.SIGTERM, sup.stop)
    signal.signal(signal.SIGINT, sup.stop)
    sup.start()
    print("sim board ready: link=%s rig=%s flash=%s speed=%s heap=%dK" % (
        sup.link, sup.rig_sock_path, sup.flash, args.speed, args.heap_kb), flush=True)
    try:
        sup.run()
    finally:
        sup.close()
        print("sim board stopped", flush=True)
    return 0
