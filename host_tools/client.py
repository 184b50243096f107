"""Serial client for the pump app: line-delimited JSON requests with ids, typed errors, pushed events.

Roles: a command that needs the clinician or service role is refused with auth_required; the
client then answers a challenge with the device key from this computer's key store
(host_tools/keys.py) and sends the request again with the same id (it never ran). A lost reply to
a command that acts leaves the client uncertain: it asks the pump what became of the request
(`outcome`) before it says anything, and never sends it under a new id.
"""
import json
import os
import time

import serial

from host_tools import command_view, keys

# the protocol versions this host speaks; hello settles on the highest both sides have
PROTOCOLS = [2]


class LinkError(Exception):
    """The port cannot be used or the board does not answer; the message says what to check."""


class LinkTimeout(LinkError):
    """The board did not answer in time (it may be at the REPL, busy, or running something else)."""


class UncertainDelivery(LinkError):
    """A command that acts got no reply, and the pump could not say whether it ran it."""


class DeviceError(Exception):
    """The pump refused a request with a typed error code (see firmware/pump/errors.py)."""

    def __init__(self, code, message, path=None, detail=None):
        super().__init__("%s%s (%s)" % (("%s: " % path) if path else "", message, code))
        self.code = code
        self.message = message
        self.path = path
        self.detail = detail or {}


def open_port(port, timeout=0.1):
    if not port:
        raise LinkError("no port given: use --port PATH (or set PUMPCTL_PORT)")
    if not port.startswith(("socket://", "rfc2217://", "loop://")) and not os.path.exists(port):
        raise LinkError("no such port: %s" % port)
    try:
        # a URL (a board served over the network, as a labgrid exporter's ser2net does) needs
        # serial_for_url; a local port is opened exclusively, as mpremote opens it
        return serial.serial_for_url(port, 115200, timeout=timeout, exclusive=True)
    except (serial.SerialException, OSError) as e:
        raise LinkError("cannot open %s: %s" % (port, e))


def _error(reply):
    err = reply.get("error") or {}
    return DeviceError(err.get("code", "unknown"), err.get("message", ""), err.get("path"), err)


class PumpClient:
    def __init__(self, port, timeout=5.0, authenticate=True):
        self.port = port
        self.timeout = timeout
        self.events = []
        self.authenticate_on_demand = authenticate
        self.role = "patient"
        self.info = None          # the hello reply, once asked
        # ids unique across processes: the pump keeps ids, and a reused one would be a retry
        self._prefix = os.urandom(4).hex()
        self._count = 0
        self._ser = open_port(port)
        # A bare newline ends whatever partial line a host before us left on the board (the
        # board also drops one after 1 s of quiet); a blank line itself gets no reply.
        self._ser.write(b"\n")
        self._ser.reset_input_buffer()  # whatever the board said before we came is stale
        self._rbuf = b""

    def close(self):
        try:
            if self.role != "patient":
                self._exchange("logout", {}, self._new_id(), 1.0)   # leave no open role behind
        except (LinkError, DeviceError):
            pass
        finally:
            self.role = "patient"
            self._ser.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _new_id(self):
        self._count += 1
        return "%s-%d" % (self._prefix, self._count)

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

    def _exchange(self, cmd, args, rid, timeout):
        """One request line out, its reply dict back (events met on the way are kept)."""
        msg = {"id": rid, "cmd": cmd}
        if args:
            msg["args"] = args
        self.send_raw(json.dumps(msg).encode() + b"\n")
        deadline = time.monotonic() + timeout
        while True:
            line = self._readline(deadline)
            if line is None:
                raise LinkTimeout("no reply to %r from %s within %.0f s: is the pump app running? "
                                  "(deploy it with `pumpctl deploy`)" % (cmd, self.port, timeout))
            reply = self._decode(line)
            if reply is None:
                continue
            if "event" in reply:
                self.events.append(reply)
                continue
            if reply.get("id") != rid or "ok" not in reply:
                continue  # a late reply to an earlier request, or the REPL echoing our line
            return reply

    def request(self, cmd, timeout=None, **args):
        """Send one command and return its result; a refusal raises DeviceError."""
        timeout = timeout or self.timeout
        if self.info is None and command_view.acts(cmd):
            # the boot this request runs in: if its reply is lost and the pump has restarted
            # since, sending it again could make it run twice (_resolve_lost_reply)
            self.hello(timeout)
        rid = self._new_id()
        try:
            reply = self._exchange(cmd, args, rid, timeout)
        except LinkTimeout:
            if not command_view.acts(cmd):
                raise
            reply = self._resolve_lost_reply(cmd, args, rid, timeout)
        if not reply.get("ok") and (reply.get("error") or {}).get("code") == "auth_required" \
                and self.authenticate_on_demand:
            self.authenticate(reply["error"].get("role") or command_view.role_of(cmd))
            reply = self._exchange(cmd, args, rid, timeout)   # refused before it ran: same id
        if reply.get("ok"):
            return reply.get("result", {})
        raise _error(reply)

    def _resolve_lost_reply(self, cmd, args, rid, timeout):
        """The reply to an acting command was lost: ask what became of it before anything else.
        Known: its reply. Unknown to this boot: it never ran, so it is sent again under the same id
        (the pump keeps ids, so it still runs at most once)."""
        try:
            asked = self._exchange("outcome", {"of": rid}, self._new_id(), timeout)
        except LinkTimeout:
            asked = None
        if asked is None or not asked.get("ok"):
            raise UncertainDelivery(
                "no reply to %s (request %s), and the pump did not answer when asked what became of it: "
                "it may have acted. Check `pumpctl status` and `pumpctl log --kind command` before "
                "trying again" % (cmd, rid))
        out = asked["result"]
        if out.get("known"):
            if out.get("ok"):
                return {"id": rid, "ok": True, "result": out.get("reply"), "replayed": True}
            return {"id": rid, "ok": False, "error": out.get("reply")}
        if out.get("boot") not in (None, self.info.get("boot")):
            raise UncertainDelivery(
                "no reply to %s (request %s), and the pump restarted since (boot %s, was %s): look for "
                "request %s in `pumpctl log --kind command` before trying again"
                % (cmd, rid, out.get("boot"), self.info.get("boot"), rid))
        return self._exchange(cmd, args, rid, timeout)

    def hello(self, timeout=None):
        """The pump's hello, settling the protocol version; kept for the session."""
        try:
            self.info = self.request("hello", timeout=timeout, protocols=PROTOCOLS)
        except DeviceError as e:
            if e.code != "bad_arg":
                raise
            # firmware of protocol 1 knew no version offer (and no roles): deploy must still
            # reach it to replace it
            self.info = self.request("hello", timeout=timeout)
        return self.info

    def authenticate(self, role):
        """Prove a role with this computer's key for the pump; refuses clearly when there is none."""
        info = self.info or self.hello()
        device = info.get("device")
        if device is None:
            raise DeviceError("auth_required", "this pump has no device key, so it refuses %s commands: "
                              "deploy provisions one (pumpctl deploy)" % role)
        try:
            key = keys.load(device)
        except keys.KeyStoreError as e:
            raise LinkError(str(e))
        if key is None or role not in key.roles():
            raise DeviceError("auth_required", "the pump %s needs the %s role and this computer holds no "
                              "%s key for it (looked in %s)" % (device, role, role, keys.keys_dir()))
        ch = self.request("auth_challenge", role=role)
        self.request("auth", role=role, nonce=ch["nonce"], mac=key.mac(role, ch["nonce"]))
        self.role = role

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
            return self.hello(timeout=timeout)
        except LinkTimeout:
            return None

    def check_commands(self):
        """Where pumpctl's view of the commands differs from the pump's table (empty when agreed)."""
        return command_view.check(self.request("commands")["commands"])
