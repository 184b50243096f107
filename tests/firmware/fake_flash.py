# In-memory storage with the VfsStorage interface whose power can be cut after k more units written.
#
# Cost of each operation in units: write = 1 (the truncation) + one per byte, append = one per
# byte, remove = 1, rename = 1 where it is atomic. On "fat", rename is what FatFs does: remove
# the destination (1), create it and copy the bytes (1 + one per byte), remove the source (1),
# and a cut can land between any two of those. When the budget runs out mid-operation the file
# is left torn and PowerCut is raised; until reboot() every operation raises PowerCut again, so
# nothing more is written, as on a board that lost power. How it is torn is chosen when armed:
# PREFIX (the bytes so far), OLD (littlefs only: as before the write) or STALE (FAT only: the
# old size with the new bytes so far over the old ones).
import errno

from pump.errors import TooLarge

PREFIX = "prefix"   # a cut keeps the bytes written so far (FAT; a pessimistic model of littlefs)
OLD = "old"         # a cut keeps the file as it was before the write (littlefs commits at close)
STALE = "stale"     # the file keeps its old size, new bytes over old (FAT: size not yet updated)


class PowerCut(Exception):
    """The simulated board lost power part-way through a write."""


class FakeFlash:
    def __init__(self, filesystem="littlefs"):
        if filesystem not in ("posix", "littlefs", "fat"):
            raise ValueError("unknown filesystem %r" % (filesystem,))
        self.filesystem = filesystem
        self.atomic_rename = filesystem != "fat"
        self.files = {}        # name -> bytes: what survives a power cut
        self.spent = 0         # units written since creation (to size a random cut)
        self.bytes_read = {}   # name -> bytes handed out by read/read_at
        self.ops = []          # (operation, name) of every call that changes a file
        self.dead = False
        self._budget = None    # units left before the cut; None: not armed
        self._torn = PREFIX

    # --- the test's controls ---

    def arm(self, units, torn=PREFIX):
        """Cut the power once `units` more units have been written."""
        if torn == OLD and not self.atomic_rename:
            raise ValueError("FAT has no copy-on-write: a cut leaves the bytes written so far")
        if torn == STALE and self.atomic_rename:
            raise ValueError("littlefs updates a file's size with its data, at close")
        self._budget = units
        self._torn = torn

    def reboot(self):
        """Power back on: the files are as the cut left them; nothing armed."""
        self.dead = False
        self._budget = None
        return self

    def _alive(self):
        if self.dead:
            raise PowerCut("the power is off")

    def _spend(self, n):
        """How many of the next n units happen before the cut (n when not cut)."""
        self._alive()
        if self._budget is None or n <= self._budget:
            if self._budget is not None:
                self._budget -= n
            self.spent += n
            return n
        k = self._budget
        self._budget = 0
        self.spent += k
        return k

    def _cut(self, what):
        self.dead = True
        raise PowerCut(what)

    # --- the VfsStorage interface ---

    def size(self, name):
        self._alive()
        data = self.files.get(name)
        return None if data is None else len(data)

    def exists(self, name):
        return self.size(name) is not None

    def _count_read(self, name, data):
        self.bytes_read[name] = self.bytes_read.get(name, 0) + len(data)
        return data

    def read(self, name, max_bytes):
        n = self.size(name)
        if n is None:
            return None
        if n > max_bytes:
            raise TooLarge(name, n, max_bytes)
        return self._count_read(name, self.files[name])

    def read_at(self, name, offset, n):
        self._alive()
        data = self.files.get(name)
        if data is None:
            return None
        return self._count_read(name, data[offset:offset + n])

    def write(self, name, data):
        data = _bytes(data)
        self.ops.append(("write", name))
        old = self.files.get(name)
        k = self._spend(1 + len(data))
        if k == 1 + len(data):
            self.files[name] = data
            return
        if k > 0:                        # the truncation happened, then k - 1 bytes
            self._tear(name, old, data, 0, k - 1)
        self._cut("write %s: %d of %d bytes" % (name, max(k - 1, 0), len(data)))

    def append(self, name, data):
        data = _bytes(data)
        self.ops.append(("append", name))
        old = self.files.get(name)
        start = len(old) if old is not None else 0
        k = self._spend(len(data))
        if k == len(data):
            self.files[name] = (old or b"") + data
            return
        self._tear(name, old, (old or b"") + data, start, k)
        self._cut("append %s: %d of %d bytes" % (name, k, len(data)))

    def _tear(self, name, old, new, start, k):
        """Leave the file as a cut k bytes into writing new[start:] over old leaves it."""
        if self._torn == PREFIX:
            self.files[name] = new[:start + k]
        elif self._torn == STALE:
            # the directory entry still holds the old size: new bytes over old, old length
            was = old or b""
            self.files[name] = (new[:start + k] + was[start + k:])[:len(was)]
        # OLD: the file as it was

    def remove(self, name):
        self.ops.append(("remove", name))
        if name not in self.files:
            self._alive()
            return
        if self._spend(1) < 1:
            self._cut("remove %s" % name)
        del self.files[name]

    def rename(self, src, dst):
        self.ops.append(("rename", src))
        self._alive()
        if src not in self.files:
            raise OSError(errno.ENOENT, src)
        if self.atomic_rename:
            if self._spend(1) < 1:
                self._cut("rename %s" % src)
            self.files[dst] = self.files.pop(src)
            return
        # FAT: three steps, each one a place the power can go
        data = self.files[src]
        if dst in self.files:
            if self._spend(1) < 1:
                self._cut("rename %s: removing %s" % (src, dst))
            del self.files[dst]
        k = self._spend(1 + len(data))
        if k < 1 + len(data):
            if k > 0:
                self.files[dst] = data[:k - 1]
            self._cut("rename %s: %d of %d bytes copied" % (src, max(k - 1, 0), len(data)))
        self.files[dst] = data
        if self._spend(1) < 1:
            self._cut("rename %s: source not yet removed" % src)
        del self.files[src]


def _bytes(data):
    return data.encode() if isinstance(data, str) else bytes(data)
