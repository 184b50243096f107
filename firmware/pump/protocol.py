# The serial protocol: bounded line framing, JSON requests with ids, typed error replies, events.
import json

from pump.errors import (PumpError, BAD_ARG, BAD_JSON, LINE_TOO_LONG, BAD_REQUEST, UNKNOWN_COMMAND,
                         INTERNAL, AUTH_REQUIRED)
from pump.schema import validate
from pump.recent_requests import args_key
from pump.session import PATIENT

# bytes; the excess of a longer line is discarded up to the next newline. Sized for one part of
# a program upload (a day of 48 flex steps is under 2 KB) while a board holds a few of them.
MAX_LINE = 4096
_MAX_ID_LEN = 64

OVERFLOW = object()  # what LineReader yields in place of a line that was too long
NO_MEMORY = object()  # ... in place of a line it had no memory to copy out (answered `internal`)
# A partial line is dropped once the link has been quiet this long (real time, ms): what a host
# that went away mid-line left behind must not be glued to the next host's first request.
PARTIAL_IDLE_MS = 1000

try:
    from time import ticks_ms, ticks_diff
except ImportError:  # CPython (host validation, unit tests)
    import time as _time

    def ticks_ms():
        return int(_time.monotonic() * 1000)  # type: ignore[attr-defined]  # CPython's time

    def ticks_diff(a, b):  # type: ignore[no-redef]  # CPython's stand-in for MicroPython's
        return a - b


class LineReader:
    """Splits incoming bytes into lines without ever holding more than MAX_LINE bytes.

    Every \r is dropped; a line is what lies between two \n. A line over max_line bytes is
    discarded up to its \n and yields OVERFLOW once. A partial line (or the discarding of an
    overlong one) is forgotten once the link has been quiet for more than idle_ms: idle() is
    called on every pass that found no input, and the quiet time counts from the first such
    pass, so a board busy between two reads never drops a line the host is still sending.
    ms is the real-time clock in ms (time.ticks_ms on the board; injectable for tests)."""

    def __init__(self, max_line=MAX_LINE, idle_ms=PARTIAL_IDLE_MS, ms=None):
        self.max_line = max_line
        self.idle_ms = idle_ms
        self._ms = ms or ticks_ms
        # One buffer for the life of the app, taken at boot while the heap is whole: a buffer
        # grown byte by byte for each line fragmented the heap until copying out a 4 KB line
        # raised MemoryError and reset the board.
        self._buf = bytearray(max_line)
        self._n = 0                # bytes of the line so far
        self._discarding = False
        self._quiet_since = None   # ms of the first pass with no input since the last bytes
        self.dropped = 0           # partial lines dropped as stale

    def pending(self):
        return self._n

    def _drop_if_stale(self):
        if self._quiet_since is None or not (self._n or self._discarding):
            return
        if ticks_diff(self._ms(), self._quiet_since) > self.idle_ms:
            self._n = 0
            self._discarding = False
            self.dropped += 1

    def idle(self):
        """The link had nothing to read: start (or check) the quiet time of a partial line."""
        if self._quiet_since is None:
            self._quiet_since = self._ms()
        else:
            self._drop_if_stale()

    def _line(self):
        try:
            return bytes(memoryview(self._buf)[:self._n])
        except MemoryError:
            return NO_MEMORY

    def feed(self, data):
        out = []  # type: list
        if not data:
            return out
        self._drop_if_stale()
        self._quiet_since = None
        buf = self._buf
        for b in data:
            if b == 0x0A:
                if self._discarding:
                    out.append(OVERFLOW)
                elif self._n:
                    out.append(self._line())
                self._n = 0
                self._discarding = False
            elif self._discarding or b == 0x0D:
                continue
            elif self._n >= self.max_line:
                self._discarding = True
                self._n = 0
            else:
                buf[self._n] = b
                self._n += 1
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


# JSON nested deeper than this is refused unparsed: 3000 "[" in a 4 KB line made json.loads run
# out of heap (MemoryError) and reset the board. A request needs a handful of levels.
MAX_DEPTH = 32


def too_deep(line, max_depth=MAX_DEPTH):
    """True if the JSON text nests arrays and objects deeper than max_depth (outside strings)."""
    if isinstance(line, str):
        line = line.encode()
    if line.count(b"[") + line.count(b"{") <= max_depth:
        return False   # the common case, without a loop over the bytes
    depth = 0
    in_str = esc = False
    for b in line:
        if in_str:
            if esc:
                esc = False
            elif b == 0x5C:
                esc = True
            elif b == 0x22:
                in_str = False
        elif b == 0x22:
            in_str = True
        elif b == 0x5B or b == 0x7B:
            depth += 1
            if depth > max_depth:
                return True
        elif b == 0x5D or b == 0x7D:
            depth -= 1
    return False


def _parse(line):
    if too_deep(line):
        raise PumpError(BAD_JSON, "JSON nested deeper than %d levels" % MAX_DEPTH)
    try:
        req = json.loads(line)
    except (ValueError, UnicodeError):
        raise PumpError(BAD_JSON, "not valid JSON")
    except (MemoryError, RuntimeError):   # the heap, or CPython's recursion limit: not the loop's end
        raise PumpError(BAD_JSON, "JSON too large to parse")
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
            key = args_key(args)   # hashed once: a program part's value is kilobytes
            kept = recent.find(rid, name, key)
            if kept is not None:
                return recent.replay(kept, ctx, args)   # acted once already: answer, do not act
        try:
            reply = {"id": rid, "ok": True, "result": fn(ctx, args)}
        except PumpError as e:
            reply = error_reply(rid, e)
        except Exception as e:  # a bug in a handler must not take the loop down
            reply = error_reply(rid, PumpError(INTERNAL, "%s: %s" % (type(e).__name__, e)))
        if recent is not None:
            recent.keep(rid, name, key, reply, replay)
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
    """Writes msg as one JSON line: at once when the heap has a block for it (fast), else in
    pieces of about _CHUNK bytes, so a big reply (the command table, a page of the log) never
    fails for want of one block of its whole size on a fragmented heap."""
    try:
        data = encode(msg)
    except MemoryError:
        data = None
    if data is not None:
        write(data)
    else:
        write_in_pieces(msg, write)


def write_in_pieces(msg, write):
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


def _emit(value, out, depth=0):
    # Lists (where a reply grows: the command table, log records) are taken apart item by item,
    # and dicts down to the result's fields; anything smaller is one json.dumps, which is fast.
    if isinstance(value, dict) and depth < 3:
        out("{")
        first = True
        for k in value:
            out(("" if first else ", ") + json.dumps(k) + ": ")
            _emit(value[k], out, depth + 1)
            first = False
        out("}")
    elif isinstance(value, (list, tuple)) and len(value) > 1:
        out("[")
        for i in range(len(value)):
            if i:
                out(", ")
            _emit(value[i], out, depth + 1)
        out("]")
    else:
        out(json.dumps(value))


def event(name, data):
    return {"event": name, "data": data}
