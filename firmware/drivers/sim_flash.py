# Sim storage: VfsStorage over the flash folder, whose writes a rig-armed power cut stops at an exact byte.
#
# Every mutating operation first spends flash units through simhw, counted as
# tests/firmware/fake_flash.py counts them: write = 1 (the truncation) + one per byte, append =
# one per byte, remove of an existing file = 1, rename = 1 where the filesystem renames in one
# step. When the rig has armed a cut (rig.cut_power_after_flash_bytes) and the budget runs out
# inside an operation, the file is left with exactly the units that fit (the bytes written so
# far: what FAT does, a pessimistic model of littlefs) and the supervisor cuts the power: the
# call never returns. Unarmed, an operation costs one line to the supervisor (it counts the
# bytes for a fuzz to choose its cut points) and no round trip.
import errno

import simhw
from drivers.vfs_storage import VfsStorage


class SimFlash(VfsStorage):
    def write(self, name, data):
        data = _bytes(data)
        self._path(name)        # a bad name is refused before anything is spent
        k = simhw.flash_spend(1 + len(data))
        if k == 1 + len(data):
            VfsStorage.write(self, name, data)
            return
        if k > 0:               # the truncation happened, then k - 1 bytes
            VfsStorage.write(self, name, data[:k - 1])
        simhw.flash_cut(k)

    def append(self, name, data):
        data = _bytes(data)
        self._path(name)
        k = simhw.flash_spend(len(data))
        if k == len(data):
            VfsStorage.append(self, name, data)
            return
        # the file was opened for appending, so it exists even if the power went before byte one
        VfsStorage.append(self, name, data[:k])
        simhw.flash_cut(k)

    def remove(self, name):
        if not self.exists(name):
            return              # nothing reaches the flash, so nothing is spent
        self._step()
        VfsStorage.remove(self, name)

    def rename(self, src, dst):
        if not self.exists(src):
            raise OSError(errno.ENOENT, src)
        self._path(dst)
        if self.atomic_rename:
            self._step()
            VfsStorage.rename(self, src, dst)
            return
        # FAT renames in steps, as fake_flash.py models it, and the power can go between any
        # two: remove the destination, copy the source to it, remove the source. A cut leaves
        # no destination, a torn one, or both files.
        if self.exists(dst):
            self._step()
            VfsStorage.remove(self, dst)
        with open(self._path(src), "rb") as f:
            data = f.read()
        self.write(dst, data)
        self._step()
        VfsStorage.remove(self, src)

    def _step(self):
        # a one-unit operation: it happens whole or, with the budget spent, not at all
        if simhw.flash_spend(1) < 1:
            simhw.flash_cut(0)


def _bytes(data):
    return data.encode() if isinstance(data, str) else data


DRIVER = SimFlash
