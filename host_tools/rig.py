"""Clients for the rig beside the pump: the simulated board's rig socket and a physical rig board over serial."""
import itertools
import json
import socket
import time


class RigError(Exception):
    """The rig refused a command or could not be reached; the message says which and why."""


class RigUnsupported(RigError):
    """This rig cannot do what a test asked (a physical rig has no simulated time or plant
    model); the HIL suite turns it into a skip naming the feature."""

    def __init__(self, feature, rig_name):
        self.feature = feature
        super().__init__("the rig %s has no %s" % (rig_name, feature))


# every feature a rig may offer; a method needs the feature of its name unless listed here
SIM_FEATURES = frozenset((
    "status", "scale", "plant", "set_speed", "run_for", "occlude", "cough", "back_pressure",
    "sensor_fault", "lose_steps", "supply", "fault", "fill_reservoir", "power", "flash_cut",
    "reset_button"))


class SimRig:
    """Talks to a simulated board's supervisor over its rig socket (line-delimited JSON): a
    path, or socket://HOST:PORT where the socket is served over TCP."""

    features = SIM_FEATURES
    name = "sim"

    def require(self, *features):
        for f in features:
            if f not in self.features:
                raise RigUnsupported(f, self.name)

    def __init__(self, sock_path, timeout=30.0):
        self.path = sock_path
        self.timeout = timeout
        self._ids = itertools.count(1)
        try:
            if sock_path.startswith("socket://"):
                # the rig socket served over TCP (host_tools/sim/tcp_bridge.py, for labgrid)
                host, _, port = sock_path[len("socket://"):].rstrip("/").rpartition(":")
                self._sock = socket.create_connection((host, int(port)), timeout)
            else:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self._sock.connect(sock_path)
            self._sock.settimeout(timeout)
        except (OSError, ValueError) as e:
            raise RigError("cannot reach the sim rig at %s: %s (is `pumpctl sim` running?)"
                           % (sock_path, getattr(e, "strerror", None) or e))
        self._file = self._sock.makefile("rb")

    def close(self):
        self._file.close()
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def call(self, cmd, timeout=None, **args):
        rid = next(self._ids)
        self._sock.settimeout(timeout or self.timeout)
        try:
            self._sock.sendall(json.dumps({"id": rid, "cmd": cmd, "args": args}).encode() + b"\n")
            line = self._file.readline()
        except socket.timeout:
            raise RigError("rig command %s timed out after %.0f s" % (cmd, timeout or self.timeout))
        except OSError as e:
            raise RigError("rig connection lost during %s: %s" % (cmd, e))
        if not line:
            raise RigError("rig closed the connection during %s" % cmd)
        reply = json.loads(line)
        if not reply.get("ok"):
            raise RigError(str(reply.get("error")))
        return reply["result"]

    # Measurement
    def status(self):
        return self.call("status")

    def scale_ul(self):
        return self.call("scale")["scale_ul"]

    def plant(self):
        return self.call("status")["plant"]

    # Time
    def set_speed(self, speed):
        return self.call("set_speed", speed=speed)

    def run_for(self, seconds, timeout=120.0):
        """Advance simulated time as fast as possible, then hold it; returns the sim time in ms."""
        return self.call("run_for", timeout=timeout, seconds=seconds)["sim_ms"]

    # Faults and the bench
    def occlude(self, fraction=1.0):
        return self.call("occlude", fraction=fraction)

    def release(self):
        return self.call("release")

    def cough(self, kpa=5.0, ms=500):
        return self.call("cough", kpa=kpa, ms=ms)

    def back_pressure(self, base_kpa=None, drift_kpa_per_h=None):
        return self.call("back_pressure", base_kpa=base_kpa, drift_kpa_per_h=drift_kpa_per_h)

    def sensor_fault(self, kind, value=0.0):
        """stuck, open, noisy (value: noise sd kPa), offset (value: kPa), or none."""
        return self.call("sensor_fault", kind=kind, value=value)

    def lose_steps(self, fraction):
        return self.call("lose_steps", fraction=fraction)

    def supply(self, volts):
        return self.call("supply", volts=volts)

    def fault(self, name, active=True):
        """A fault inside the firmware: planner_runaway, hang:<task>, crash (one-shot)."""
        return self.call("fault", name=name, active=active)

    def fill_reservoir(self, volume_ul):
        return self.call("fill_reservoir", volume_ul=volume_ul)

    def power_cut(self):
        return self.call("power_cut")

    def power_on(self, off_s=0):
        return self.call("power_on", off_s=off_s)

    # Power cuts inside flash writes (the sim board's sim_flash storage driver)
    def cut_power_after_flash_bytes(self, n):
        """Cut the power once the board's flash writes spend n more units (None disarms).

        Units as fake_flash.py counts them: a write costs 1 + its bytes, an append its bytes, a
        remove or an atomic rename 1. The file is left holding exactly the units that fit, the
        board stays off until power_on(), and status()["flash_cuts"] counts the cuts that fired.
        An armed cut outlives resets until it fires or is disarmed.
        """
        return self.call("cut_power_after_flash_bytes", n=n)

    def disarm_flash_cut(self):
        return self.cut_power_after_flash_bytes(None)

    def flash_bytes_written(self):
        """Flash units the board has spent since the sim started (across boots): a fuzz takes the
        difference over one cycle of its scenario and arms a cut at a seeded point inside it."""
        return self.status()["flash_bytes_written"]

    def reset_button(self):
        return self.call("reset_button")


# the feature each rig command needs (a command not listed needs the feature of its own name)
_FEATURE_OF = {"power_cut": "power", "power_on": "power", "release": "occlude",
               "cut_power_after_flash_bytes": "flash_cut", "hello": "status", "tare": "scale"}


class SerialRig(SimRig):
    """A physical rig board (boards/rig_pico) on a serial port: the same requests and replies as
    the sim's rig socket, for the features its hello lists. Time is real: run_for waits on the
    wall clock, up to max_wait_s; anything longer, and every feature the rig lacks, raises
    RigUnsupported before a byte is sent."""

    def __init__(self, port, timeout=30.0, max_wait_s=120.0):
        import serial
        self.path = port
        self.timeout = timeout
        self.max_wait_s = max_wait_s
        self._ids = itertools.count(1)
        try:
            self._serial = serial.serial_for_url(port, baudrate=115200, timeout=timeout)
        except (serial.SerialException, OSError) as e:
            raise RigError("cannot open the rig at %s: %s (pumpctl ports lists the ports)" % (port, e))
        self._t0 = time.monotonic()
        self.features = frozenset(("status",))
        self._serial.write(b"\n")   # ends any half line a previous host left
        hello = self._exchange("hello", None, {})
        self.name = hello.get("rig", port)
        self.features = frozenset(hello.get("features", ())) | {"run_for", "set_speed"}

    def close(self):
        self._serial.close()

    def _exchange(self, cmd, timeout, args):
        rid = next(self._ids)
        self._serial.timeout = timeout or self.timeout
        try:
            self._serial.write(json.dumps({"id": rid, "cmd": cmd, "args": args}).encode() + b"\n")
            while True:
                line = self._serial.readline()
                if not line:
                    raise RigError("rig command %s timed out after %.0f s"
                                   % (cmd, timeout or self.timeout))
                try:
                    reply = json.loads(line)
                except ValueError:
                    continue        # boot chatter or a line from before this host
                if isinstance(reply, dict) and reply.get("id") in (rid, None):
                    break
        except OSError as e:
            raise RigError("rig connection lost during %s: %s" % (cmd, e))
        if not reply.get("ok"):
            raise RigError(str(reply.get("error")))
        return reply["result"]

    def call(self, cmd, timeout=None, **args):
        self.require(_FEATURE_OF.get(cmd, cmd))
        return self._exchange(cmd, timeout, args)

    def plant(self):
        self.require("plant")

    def set_speed(self, speed):
        if speed not in (1, "1"):
            raise RigUnsupported("set_speed %s (real time only)" % speed, self.name)
        return {"speed": 1}

    def run_for(self, seconds, timeout=120.0):
        """Real time: wait seconds on the wall clock; returns ms since the rig was opened."""
        if seconds > self.max_wait_s:
            raise RigUnsupported("run_for %g s (more than %g s of wall time: --rig-max-wait)"
                                 % (seconds, self.max_wait_s), self.name)
        time.sleep(seconds)
        return int((time.monotonic() - self._t0) * 1000)

    def flash_bytes_written(self):
        self.require("flash_cut")
