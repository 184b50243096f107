"""Serial client for the pump app: line-delimited JSON requests with ids, typed errors, pushed events."""
import itertools
import json
import os
import time

import serial


class LinkError(Exception):
    """The port cannot be used or the board does not answer; the message says what to check."""


class LinkTimeout(LinkError):
    """The board did not answer in time (it may be at the REPL, busy, or running something else)."""


class DeviceError(Exception):
    """The pump refused a request with a typed error code (see firmware/pump/errors.py)."""

    def __init__(self, code, message, path=None):
        super().__init__("%s%s (%s)" % (("%s: " % path) if path else "", message, code))
        self.code = code
        self.message = message
        self.path = path


def open_port(port, timeout=0.1):
    if not port:
        raise LinkError("no port given: use --port PATH (or set PUMPCTL_PORT)")
    if not port.startswith(("socket://", "rfc2217://", "loop://")) and not os.path.exists(port):
        raise LinkError("no such port: %s" % port)
    try:
        return serial.Serial(port, 115200, timeout=timeout, exclusive=True)
    except (serial.SerialException, OSError) as e:
        raise LinkError("cannot open %s: %s" % (port, e))


class PumpClient:
    def __init__(self, port, timeout=5.0):
        self.port = port
        self.timeout = timeout
        self.events = []
        self._ids = itertools.count(int(time.time()) % 100000 * 1000)
        self._ser = open_port(port)
        # A bare newline ends whatever partial line a host before us left on the board (the
        # board also drops one after 1 s of quiet); a blank line itself gets no reply.
        self._ser.write(b"\n")
        self._ser.reset_input_buffer()  # whatever the board said before we came is stale
        self._rbuf = b""

    def close(self):
        self._ser.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _readline(self, deadline):
        while b"\n" not in self._rbuf:
            if time.monotonic() > deadline:
                return None
            try:
                chunk = self._ser.read(self._ser.in_waiting or 1)
            except (serial.SerialException, OSError) as e:
                raise LinkError("lost the link on %s: %s" % (self.port, e))
            self._rbuf += chunk
        line, self._rbuf = self._rbuf.split(b"\n", 1)
        return line.strip()

    def send_raw(self, data):
        try:
            self._ser.write(data)
            self._ser.flush()
        except (serial.SerialException, OSError) as e:
            raise LinkError("cannot write to %s: %s" % (self.port, e))

    def request(self, cmd, timeout=None, **args):
        """Send one command and return its result; a refusal raises DeviceError."""
        rid = next(self._ids)
        msg = {"id": rid, "cmd": cmd}
        if args:
            msg["args"] = args
        self.send_raw(json.dumps(msg).encode() + b"\n")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            line = self._readline(deadline)
            if line is None:
                raise LinkTimeout("no reply to %r from %s within %.0f s: is the pump app running? "
                                "(deploy it with `pumpctl deploy`)" % (cmd, self.port, timeout or self.timeout))
            reply = self._decode(line)
            if reply is None:
                continue
            if "event" in reply:
                self.events.append(reply)
                continue
            if reply.get("id") != rid or "ok" not in reply:
                continue  # a late reply to an earlier request, or the REPL echoing our line
            if reply.get("ok"):
                return reply.get("result", {})
            err = reply.get("error") or {}
            raise DeviceError(err.get("code", "unknown"), err.get("message", ""), err.get("path"))

    @staticmethod
    def _decode(line):
        # The REPL, a boot banner or line noise can share the port: only JSON objects are ours.
        if not line.startswith(b"{"):
            return None
        try:
            obj = json.loads(line)
        except ValueError:
            return None
        return obj if isinstance(obj, dict) else None

    def probe(self, timeout=1.0):
        """hello if the app answers within timeout, else None (a REPL or another program)."""
        try:
            return self.request("hello", timeout=timeout)
        except LinkTimeout:
            return None
