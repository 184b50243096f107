# A bounded ring of framed records over K segment files that finds its place again after any cut.
#
# Records go to "<prefix>0" ... "<prefix>K-1", at most N lines per segment. When the current
# segment is full the next one is truncated and written: the oldest N records go, so the ring
# holds at most K*N records and, once it has wrapped, at least (K-1)*N less any lines a power
# cut tore. Every write is one append of one line (or one truncating write when moving on), so
# a cut can only tear the line being written; docs/persistence.md has the format.
#
# Recovery relies on one fact: a segment is only ever written while it is the current one, so
# the current segment's first valid record is newer than anything in the other segments (a
# segment whose truncation was cut keeps older records or a torn line, never newer ones).
from pump.errors import TooLarge
from pump.records import frame, unframe

MAX_LINE = 256   # default bound of one framed line, newline included
_CHUNK = 256     # bytes per read: records are walked a chunk at a time, never a whole file


def _record(line, ended):
    """(seq, payload) of one line from _lines, or None."""
    if line is None:
        return None
    # a last line cut just before its newline holds the whole record: it counts (its append
    # landed), and the next append ends the line before writing its own
    return unframe(line if ended else line + b"\n")


class RecordRing:
    def __init__(self, storage, prefix, segments, per_segment, max_line=MAX_LINE):
        # one segment could keep nothing across a move to the next: at least two
        if segments < 2 or per_segment < 1:
            raise ValueError("a record ring needs >= 2 segments of >= 1 record")
        self._fs = storage
        self.prefix = prefix
        self.segments = segments
        self.per_segment = per_segment
        self.max_line = max_line
        self.open()

    @property
    def bound(self):
        """The most records the ring can hold."""
        return self.segments * self.per_segment

    def _name(self, i):
        return "%s%d" % (self.prefix, i)

    def _lines(self, name):
        """Each line of a file as (bytes or None, ended), read a chunk at a time.

        None stands for a line longer than max_line, skipped without keeping it; ended is False
        only for a last line without its newline (a torn write). A missing file has no lines.
        """
        off = 0
        buf = b""
        skipping = False
        while True:
            chunk = self._fs.read_at(name, off, _CHUNK)
            if not chunk:
                break
            off += len(chunk)
            buf += chunk
            while True:
                i = buf.find(b"\n")
                if i < 0:
                    break
                if skipping:
                    skipping = False
                    yield None, True
                else:
                    yield (buf[:i + 1] if i < self.max_line else None), True
                buf = buf[i + 1:]
            if len(buf) >= self.max_line:
                # already too long before its newline: drop what we have, skip to the next line
                skipping = True
                buf = b""
        if skipping:
            yield None, False
        elif buf:
            yield buf, False

    def open(self):
        """Recover from the files: newest valid record, its segment and where to append next."""
        cur = None
        first = -1
        for i in range(self.segments):
            for line, ended in self._lines(self._name(i)):
                r = _record(line, ended)
                if r is not None:
                    if r[0] > first:
                        first, cur = r[0], i
                    break
        self._dirty = False
        self._tail_ok = True
        if cur is None:
            # nothing valid anywhere: as if the last segment were full, so the first append
            # truncates segment 0 (whatever garbage the files hold is dropped as the ring turns)
            self._cur, self._count = self.segments - 1, self.per_segment
            self._seq, self._latest = 0, None
            return
        count = 0
        latest = None
        for line, ended in self._lines(self._name(cur)):
            count += 1   # torn and garbage lines take room in the segment too
            self._tail_ok = ended
            r = _record(line, ended)
            if r is not None and (latest is None or r[0] > latest[0]):
                latest = r
        self._cur, self._count = cur, count
        # segment cur holds the valid record the scan above found, so latest is one
        self._seq, self._latest = latest[0], latest  # type: ignore[index]

    def append(self, payload):
        """Write one record (text without a newline) after the newest; return its seq."""
        if self._dirty:
            self.open()
        seq = self._seq + 1
        data = frame(seq, payload).encode()
        if len(data) > self.max_line:
            # a line the reader would skip must never be written
            raise TooLarge("record", len(data), self.max_line)
        # until the write returns, what reached the file is unknown: a failure rescans first
        self._dirty = True
        if self._count >= self.per_segment:
            nxt = (self._cur + 1) % self.segments
            self._fs.write(self._name(nxt), data)
            self._cur, self._count = nxt, 1
        else:
            if not self._tail_ok:
                # end the line a cut left open, or this record would run on from it
                data = b"\n" + data
            self._fs.append(self._name(self._cur), data)
            self._count += 1
        self._tail_ok = True
        self._seq, self._latest = seq, (seq, payload)
        self._dirty = False
        return seq

    def has_data(self):
        """Whether any segment file holds bytes, valid records or not (garbage is still data)."""
        for i in range(self.segments):
            if self._fs.size(self._name(i)):
                return True
        return False

    def latest(self):
        """(seq, payload) of the newest valid record, or None when there is none."""
        if self._dirty:
            self.open()
        return self._latest

    def records(self, since_seq=0):
        """Yield (seq, payload) of each valid record newer than since_seq, oldest first."""
        if self._dirty:
            self.open()
        start = self._cur
        last = since_seq
        for k in range(1, self.segments + 1):
            for line, ended in self._lines(self._name((start + k) % self.segments)):
                r = _record(line, ended)
                # strictly increasing: a stale or repeated record is never handed out
                if r is not None and r[0] > last:
                    last = r[0]
                    yield r
