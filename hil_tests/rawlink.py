"""A raw serial link for the protocol fuzz and the link robustness tests: bytes out, lines in.

Unlike host_tools.client.PumpClient, it writes anything (garbage, half lines, floods) and a reader
thread takes every line the board sends as it comes, so writes are pipelined with reads and the
replies are matched to the frames by count, in order (the board answers lines in order).
"""
import itertools
import json
import os
import threading
import time

import serial

from host_tools.client import open_port


class RawLink:
    def __init__(self, port):
        self.port = port
        self._ser = open_port(port, timeout=0.05)
        self._cv = threading.Condition()
        self.replies = []     # dicts with "ok": one per answered line, in order
        self.events = []      # dicts with "event"
        self.noise = []       # lines that are not JSON objects (should stay empty)
        self.bytes_in = 0
        self._ids = itertools.count(1)
        self._prefix = os.urandom(3).hex()
        self._reading = threading.Event()
        self._reading.set()
        self._stop = False
        self._error = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    # ---- reading -------------------------------------------------------------------------
    def _read(self):
        buf = b""
        while not self._stop:
            if not self._reading.is_set():
                time.sleep(0.01)   # a host that stopped reading: the board's output piles up
                continue
            try:
                chunk = self._ser.read(self._ser.in_waiting or 1)
            except (serial.SerialException, OSError, TypeError, AttributeError) as e:
                if not self._stop:
                    self._error = e
                return
            if not chunk:
                continue
            self.bytes_in += len(chunk)
            buf += chunk
            *lines, buf = buf.split(b"\n")
            with self._cv:
                for line in lines:
                    self._take(line.strip(b"\r"))
                self._cv.notify_all()

    def _take(self, line):
        if not line:
            return
        try:
            msg = json.loads(line)
        except ValueError:
            msg = None
        if not isinstance(msg, dict):
            self.noise.append(line)
        elif "event" in msg:
            self.events.append(msg)
        elif "ok" in msg:
            self.replies.append(msg)
        else:
            self.noise.append(line)

    def pause_reading(self):
        self._reading.clear()

    def resume_reading(self):
        self._reading.set()

    def wait_until(self, pred, timeout, what="the board"):
        deadline = time.monotonic() + timeout
        with self._cv:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0 or self._error is not None:
                    raise AssertionError("timed out after %.0f s waiting for %s (replies %d, events %d, "
                                         "noise %d, link error %r)" % (timeout, what, len(self.replies),
                                                                       len(self.events), len(self.noise),
                                                                       self._error))
                self._cv.wait(min(left, 0.2))

    # ---- writing ---------------------------------------------------------------------------
    def send(self, data):
        self._ser.write(data)

    def request(self, cmd, timeout=15.0, **args):
        """One request with its own string id; returns the reply (ok or not), never raises on a refusal."""
        rid = "r%s-%d" % (self._prefix, next(self._ids))   # unique: the pump keeps ids it has seen
        msg = {"id": rid, "cmd": cmd}
        if args:
            msg["args"] = args
        start = len(self.replies)
        self.send(json.dumps(msg).encode() + b"\n")
        found = []

        def got():
            for r in self.replies[start:]:
                if r.get("id") == rid:
                    found.append(r)
                    return True
            return False
        self.wait_until(got, timeout, "the reply to %s" % cmd)
        return found[0]

    def login(self, role="clinician"):
        """Prove a role with this run's key store, as pumpctl does (docs/security.md)."""
        from host_tools import keys
        device = self.result("hello")["device"]
        ch = self.result("auth_challenge", role=role)
        self.result("auth", role=role, nonce=ch["nonce"], mac=keys.load(device).mac(role, ch["nonce"]))

    def result(self, cmd, **args):
        reply = self.request(cmd, **args)
        assert reply["ok"], reply
        return reply["result"]

    def close(self):
        self._stop = True
        self._reading.set()
        self._thread.join(2)
        self._ser.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
