# The A/B program store: two slot files, the newest valid one is the program; saves go to the other.
#
# A slot is one JSON header line {"v": 1, "seq": n, "len": L, "crc": c} and then exactly L bytes
# of body (the program text, opaque here). A save never touches the slot holding the newest
# valid program, so a cut mid-save leaves it intact and it still loads; the torn slot fails its
# length or CRC check and is never used. docs/persistence.md has the format.
import binascii
import json

from pump.errors import TooLarge

VERSION = 1
MAX_BODY = 16384       # the largest program body stored
_HEADER_MAX = 128      # a header line is ~60 bytes; anything without a newline by here is not ours
MAX_FILE = MAX_BODY + _HEADER_MAX
_CHUNK = 512           # a slot is checked a chunk at a time when its body is not wanted

SLOTS = ("prog_a", "prog_b")

# what load() found, in state
EMPTY = "empty"        # no slot file at all: no program was ever stored (or it was cleared)
OK = "ok"              # a valid program was found (problems may still name the other slot)
BAD = "bad"            # slot files exist but none is valid: refuse to deliver, raise an alarm


def _crc_start(v, seq, n):
    # c covers "<v> <seq> <len>\n" and then the body, not the body alone: on FAT a cut can
    # leave a new header's first bytes over an old slot of the old size, and a CRC of the body
    # alone would pass off the old body under the new seq
    return binascii.crc32(("%d %d %d\n" % (v, seq, n)).encode())


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


class _Bad(Exception):
    """A slot that cannot be used; the message is the readable reason."""


class ProgramStore:
    def __init__(self, storage):
        self._fs = storage
        self.state = None        # EMPTY, OK or BAD after load(); None before
        self.problems = []       # readable "<slot>: <reason>" for every slot that is not usable
        self._active = None      # slot name of the newest valid program, None if there is none
        self._seq = 0            # its seq; 0 if none
        self._known = False      # _active and _seq match the files

    def _header(self, name, size):
        head = self._fs.read_at(name, 0, min(size, _HEADER_MAX))
        nl = head.find(b"\n") if head is not None else -1
        if nl < 0:
            if head and size < _HEADER_MAX and head[:1] == b"{":
                raise _Bad("truncated (header incomplete)")
            raise _Bad("not a store file")
        try:
            h = json.loads(head[:nl].decode())
        except Exception:   # ValueError, or UnicodeError from bytes that are not text
            raise _Bad("not a store file")
        if not isinstance(h, dict) or not _is_int(h.get("v")) or h["v"] < 1:
            raise _Bad("not a store file")
        if h["v"] > VERSION:
            raise _Bad("written by a newer store version %d" % h["v"])
        # absent fields default to values the checks below refuse
        seq, n, crc = h.get("seq", 0), h.get("len", -1), h.get("crc", -1)
        if not (_is_int(seq) and seq >= 1 and _is_int(n) and 0 <= n <= MAX_BODY
                and _is_int(crc) and 0 <= crc <= 0xFFFFFFFF):
            raise _Bad("not a store file (bad header fields)")
        return seq, n, crc, nl + 1

    def _check(self, name, want_body):
        """(seq, body or None) of a valid slot, None if the file is missing; _Bad otherwise."""
        size = self._fs.size(name)
        if size is None:
            return None
        if size == 0:
            raise _Bad("empty file")
        if size > MAX_FILE:
            # refused from its size alone: a huge file is never read into RAM
            raise _Bad("too large (%d bytes, limit %d)" % (size, MAX_FILE))
        seq, n, crc, start = self._header(name, size)
        have = size - start
        if have < n:
            raise _Bad("truncated (%d of %d bytes)" % (have, n))
        if have > n:
            raise _Bad("longer than its header says (%d of %d bytes)" % (have, n))
        body = None
        got = _crc_start(VERSION, seq, n)
        if want_body:
            body = self._fs.read_at(name, start, n) or b""
            got = binascii.crc32(body, got) & 0xFFFFFFFF
        else:
            # a save only needs to know which slot is valid: check it without holding the body
            off = start
            while off < start + n:
                chunk = self._fs.read_at(name, off, min(_CHUNK, start + n - off))
                if not chunk:
                    break
                got = binascii.crc32(chunk, got)
                off += len(chunk)
            got &= 0xFFFFFFFF
        if body is not None and len(body) != n:
            raise _Bad("truncated (%d of %d bytes)" % (len(body), n))
        if got != crc:
            raise _Bad("crc mismatch")
        return seq, body

    def _scan(self, want_body):
        self.problems = []
        self._active, self._seq = None, 0
        best = None
        present = 0
        for name in SLOTS:
            try:
                r = self._check(name, want_body)
            except _Bad as e:
                present += 1
                self.problems.append("%s: %s" % (name, e.args[0]))
                continue
            except OSError as e:
                # a slot the filesystem cannot read is as unusable as a torn one
                present += 1
                self.problems.append("%s: cannot read (%s)" % (name, e))
                continue
            if r is None:
                continue
            present += 1
            # the first slot wins a tie: both equal never happens unless copied by hand
            if best is None or r[0] > best[0]:
                best = r
                self._active, self._seq = name, r[0]
        self.state = OK if best is not None else (BAD if present else EMPTY)
        self._known = True
        return best

    def load(self):
        """(seq, body bytes) of the newest valid slot, or None; see state and problems."""
        return self._scan(True)

    def save(self, body):
        """Store body in the slot not holding the newest program; return its seq. body is bytes,
        str, a list of bytes chunks, or a function returning a fresh iterator of chunks each time
        it is called (read twice: once for the length and CRC, once to write; so a big program is
        never held in RAM whole)."""
        if isinstance(body, str):
            body = body.encode()
        if callable(body):
            chunks = body
        else:
            listed = body if isinstance(body, list) else [body]

            def chunks():
                return iter(listed)
        n = 0
        for c in chunks():
            n += len(c)
        if n > MAX_BODY:
            raise TooLarge("program", n, MAX_BODY)
        if not self._known:
            self._scan(False)
        slot = SLOTS[1] if self._active == SLOTS[0] else SLOTS[0]
        seq = self._seq + 1
        crc = _crc_start(VERSION, seq, n)
        for c in chunks():
            crc = binascii.crc32(c, crc)
        header = '{"v": %d, "seq": %d, "len": %d, "crc": %d}\n' % (VERSION, seq, n, crc & 0xFFFFFFFF)
        # until the save returns, which slot is valid is unknown: a failure rescans first
        self._known = False
        if self._fs.atomic_rename:
            # the inactive slot stays whole too (the program before this one) until the rename
            tmp = slot + ".tmp"
            self._fs.write(tmp, header)
            for c in chunks():
                self._fs.append(tmp, c)
            self._fs.rename(tmp, slot)
        else:
            # FAT cannot rename safely; the torn slot a cut leaves here fails its check
            self._fs.write(slot, header)
            for c in chunks():
                self._fs.append(slot, c)
        self._active, self._seq, self._known = slot, seq, True
        self.state = OK
        # whatever was wrong with the slot just written is gone
        self.problems = [p for p in self.problems if not p.startswith(slot + ":")]
        return seq

    def clear(self):
        """Remove both slots (program_clear). A cut part-way leaves the newest program or none."""
        if not self._known:
            self._scan(False)
        self._known = False
        for name in SLOTS:
            self._fs.remove(name + ".tmp")
        # the older slot goes first: a cut between the two can never bring an older program back
        older = SLOTS[1] if self._active == SLOTS[0] else SLOTS[0]
        self._fs.remove(older)
        self._fs.remove(SLOTS[1] if older == SLOTS[0] else SLOTS[0])
        self._active, self._seq, self._known = None, 0, True
        self.state = EMPTY
        self.problems = []
