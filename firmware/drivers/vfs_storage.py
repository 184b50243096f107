# Storage over the board's filesystem (open/os): the file interface every store uses, nothing more.
#
# The stores (pump/program_store.py, pump/record_ring.py) only ever call these methods, so the
# simulated board can hand them a driver whose writes are cut mid-way, and tests an in-memory one
# (tests/firmware/fake_flash.py). Every method names a file by a plain name inside the root folder.
import errno
import os

from pump.errors import ConfigError, TooLarge

# Which filesystems replace a file by rename in one step (docs/persistence.md). FAT does not:
# MicroPython's FAT rename removes the destination first, then renames; a cut between the two
# leaves no destination at all.
_ATOMIC_RENAME = {"posix": True, "littlefs": True, "fat": False}


def _missing(e):
    return e.args and e.args[0] == errno.ENOENT


class VfsStorage:
    def __init__(self, spec, cfg):
        kind = cfg["filesystem"]
        if kind not in _ATOMIC_RENAME:
            raise ConfigError([("filesystem", "unknown filesystem kind %r" % (kind,))])
        self.filesystem = kind
        self.atomic_rename = _ATOMIC_RENAME[kind]
        root = spec.get("root", "")
        # "" is the current folder; a root never ends in "/" so paths are root + "/" + name
        self._root = root.rstrip("/") + "/" if root else ""

    def _path(self, name):
        # plain names only: a store can never reach outside the root by accident
        if not name or "/" in name or name in (".", ".."):
            raise ValueError("bad storage name %r" % (name,))
        return self._root + name

    def size(self, name):
        """Bytes in the file, or None if it does not exist."""
        try:
            return os.stat(self._path(name))[6]
        except OSError as e:
            if _missing(e):
                return None
            raise

    def exists(self, name):
        return self.size(name) is not None

    def read(self, name, max_bytes):
        """The whole file as bytes, None if missing; TooLarge if over max_bytes, checked unread."""
        n = self.size(name)
        if n is None:
            return None
        if n > max_bytes:
            raise TooLarge(name, n, max_bytes)
        try:
            with open(self._path(name), "rb") as f:
                data = f.read(max_bytes + 1)  # a file that grew since the stat stops here
        except OSError as e:
            if _missing(e):
                return None
            raise
        if len(data) > max_bytes:
            raise TooLarge(name, len(data), max_bytes)
        return data

    def read_at(self, name, offset, n):
        """Up to n bytes from offset (b"" at the end), None if missing.

        The file is open only during the call: a reader that walks a file in chunks never holds
        a handle while a writer appends to it (FAT allows one open handle per file).
        """
        try:
            with open(self._path(name), "rb") as f:
                if offset:
                    f.seek(offset)
                return f.read(n)
        except OSError as e:
            if _missing(e):
                return None
            raise

    def write(self, name, data):
        """Create or truncate the file, then write data (bytes or str)."""
        self._put(name, "wb", data)

    def append(self, name, data):
        """Add data at the end of the file, creating it if missing."""
        self._put(name, "ab", data)

    def _put(self, name, mode, data):
        if isinstance(data, str):
            data = data.encode()
        with open(self._path(name), mode) as f:
            f.write(data)
        # closing the file is what commits it: littlefs publishes the new content at close,
        # FAT writes its size and cluster chain then

    def rename(self, src, dst):
        """Move src to dst, replacing dst: one step on littlefs and posix, two on FAT."""
        s, d = self._path(src), self._path(dst)
        try:
            os.rename(s, d)
        except OSError as e:
            # a port whose rename refuses an existing destination: remove it, then rename
            if not (e.args and e.args[0] == errno.EEXIST):
                raise
            os.remove(d)
            os.rename(s, d)

    def remove(self, name):
        """Delete the file; a missing file is fine."""
        try:
            os.remove(self._path(name))
        except OSError as e:
            if not _missing(e):
                raise


DRIVER = VfsStorage
