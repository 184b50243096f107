# The serial protocol: bounded line framing, JSON requests with ids, typed error replies, events.
import json

from pump.errors import (PumpError, BAD_ARG, BAD_JSON, LINE_TOO_LONG, BAD_REQUEST, UNKNOWN_COMMAND,
                         INTERNAL, AUTH_REQUIRED)
from pump.schema import validate
from pump.session import PATIENT

# bytes; the excess of a longer line is discarded up to the next newline. Sized for one part of
# a program upload (a day of 48 flex steps is under 2 KB) while a board holds a few of them.
MAX_LINE = 4096
_MAX_ID_LEN = 64

OVERFLOW = object()  # what LineReader yields in place of a line that was too long


class LineReader:
    """Splits incoming bytes into lines without ever holding more than MAX_LINE bytes."""

    def __init__(self, max_line=MAX_LINE):
        self.max_line = max_line
        self._buf = bytearray()
        self._discarding = False

    def feed(self, data):
        out = []
        for b in data:
            if b == 0x0A:
                if self._discarding:
                    out.append(OVERFLOW)
                elif self._buf:
                    out.append(bytes(self._buf))
                self._buf = bytearray()
                self._discarding = False
            elif self._discarding or b == 0x0D:
                continue
            elif len(self._buf) >= self.max_line:
                self._discarding = True
                self._buf = bytearray()
            else:
                self._buf.append(b)
        return out


class Commands:
    """The command table: each command is declared with its role and argument schema next to its handler.

    A command that changes something is kept by its request id (recent_requests.py) so a retry
    never acts twice; `safe_to_repeat` marks reads and reviews, which are not kept. `replay`
    renders a kept command's result again (its status) instead of keeping a big one in RAM."""

    def __init__(self):
        self.table = {}

    def command(self, name, role, args=None, safe_to_repeat=False, replay=None):
        def register(fn):
            self.table[name] = (fn, role, args or {}, safe_to_repeat, replay)
            return fn
        return register

    def describe(self):
        out = []
        for n in sorted(self.table.keys()):
            entry = self.table[n]
            schema = entry[2]
            out.append({"name": n, "role": entry[1], "args": sorted(schema.keys()),
                        "types": {a: schema[a]["type"] for a in schema},
                        "required": sorted(a for a in schema if schema[a].get("required")),
                        "repeatable": entry[3]})
        return out


def error_reply(rid, err):
    return {"id": rid, "ok": False, "error": err.to_dict()}


def _parse(line):
    try:
        req = json.loads(line)
    except (ValueError, UnicodeError):
        raise PumpError(BAD_JSON, "not valid JSON")
    if not isinstance(req, dict):
        raise PumpError(BAD_REQUEST, "a request is a JSON object")
    return req


def handle(line, commands, ctx, session=None):
    """One request line in, one reply dict out; never raises. Without a session, the link holds
    the patient role only: every clinician and service command is refused."""
    if line is OVERFLOW:
        return error_reply(None, PumpError(LINE_TOO_LONG, "line longer than %d bytes discarded" % MAX_LINE))
    rid = None
    try:
        req = _parse(line)
        rid = req.get("id")
        if isinstance(rid, bool) or not isinstance(rid, (int, str)) or (isinstance(rid, str) and len(rid) > _MAX_ID_LEN):
            rid = None
            raise PumpError(BAD_REQUEST, "every request needs an id (int or string up to %d chars)" % _MAX_ID_LEN, "id")
        name = req.get("cmd")
        entry = commands.table.get(name) if isinstance(name, str) else None
        if entry is None:
            raise PumpError(UNKNOWN_COMMAND, "unknown command %r" % (name,), "cmd")
        fn, role, arg_schema, repeatable, replay = entry
        args, problems = validate({"type": "obj", "fields": arg_schema}, req.get("args", {}), "args")
        if problems:
            raise PumpError(BAD_ARG, "; ".join("%s: %s" % p for p in problems), problems[0][0])
        if session is not None:
            session.require(role, name)
        elif role != PATIENT:
            raise PumpError(AUTH_REQUIRED, "%s needs the %s role" % (name, role), extra={"role": role})
        recent = None if repeatable or session is None else session.recent
        if recent is not None:
            kept = recent.find(rid, name, args)
            if kept is not None:
                return recent.replay(kept, ctx, args)   # acted once already: answer, do not act
        try:
            reply = {"id": rid, "ok": True, "result": fn(ctx, args)}
        except PumpError as e:
            reply = error_reply(rid, e)
        except Exception as e:  # a bug in a handler must not take the loop down
            reply = error_reply(rid, PumpError(INTERNAL, "%s: %s" % (type(e).__name__, e)))
        if recent is not None:
            recent.keep(rid, name, args, reply, replay)
        audit = getattr(ctx, "audit", None)
        if audit is not None:
            audit(name, args, reply)   # every command that reached its handler, for the log
        return reply
    except PumpError as e:
        return error_reply(rid, e)


def encode(msg):
    return json.dumps(msg).encode() + b"\n"


_CHUNK = 512   # bytes of a message built up before they go to the link


def write_message(msg, write):
    """Writes msg as one JSON line in pieces of about _CHUNK bytes: a big reply (the command
    table, a status with a program) never needs one block of its whole size, which a fragmented
    heap may not have."""
    parts = []
    size = [0]

    def out(text):
        parts.append(text)
        size[0] += len(text)
        if size[0] >= _CHUNK:
            write("".join(parts).encode())
            del parts[:]
            size[0] = 0

    _emit(msg, out)
    out("\n")
    if parts:
        write("".join(parts).encode())


def _emit(value, out):
    if isinstance(value, dict):
        out("{")
        first = True
        for k in value:
            out(("" if first else ", ") + json.dumps(k) + ": ")
            _emit(value[k], out)
            first = False
        out("}")
    elif isinstance(value, (list, tuple)):
        out("[")
        for i in range(len(value)):
            if i:
                out(", ")
            _emit(value[i], out)
        out("]")
    else:
        out(json.dumps(value))


def event(name, data):
    return {"event": name, "data": data}
