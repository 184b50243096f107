# Unit tests of drivers.vfs_storage on the host's real filesystem; run by pytest and tests/mprun.py.

import os

import drivers.vfs_storage as vfs_storage
from drivers.vfs_storage import VfsStorage
from pump.errors import ConfigError, TooLarge

from fakes import expect_raises, in_temp_dir


def _storage(filesystem="littlefs", **spec):
    spec["kind"] = "vfs_storage"
    return VfsStorage(spec, {"filesystem": filesystem})


def _write_file(name, data):
    with open(name, "wb") as f:
        f.write(data)


def test_a_missing_file_reads_as_none_and_has_no_size():
    def run():
        s = _storage()
        assert s.read("nothing", 100) is None
        assert s.read_at("nothing", 0, 10) is None
        assert s.size("nothing") is None
        assert s.exists("nothing") is False
    in_temp_dir(run)


def test_write_truncates_the_file_and_append_adds_to_its_end():
    def run():
        s = _storage()
        s.write("f", b"0123456789")
        s.write("f", "abc")          # str is written as UTF-8
        assert s.read("f", 100) == b"abc"
        s.append("f", b"def")
        s.append("g", b"new")        # append creates a missing file
        assert s.read("f", 100) == b"abcdef" and s.size("f") == 6 and s.exists("f")
        assert s.read("g", 3) == b"new"
    in_temp_dir(run)


def test_read_at_returns_a_window_of_the_file_and_nothing_past_its_end():
    def run():
        s = _storage()
        s.write("f", b"0123456789")
        assert s.read_at("f", 0, 4) == b"0123"
        assert s.read_at("f", 8, 4) == b"89"
        assert s.read_at("f", 10, 4) == b""
    in_temp_dir(run)


def test_a_file_over_the_limit_is_refused_from_its_size_before_it_is_opened():
    def run():
        s = _storage()
        _write_file("big", b"x" * 2000)

        def no_open(*args):
            raise AssertionError("the file was opened")
        vfs_storage.open = no_open   # module global: shadows the builtin for the driver only
        try:
            e = expect_raises(TooLarge, s.read, "big", 1999)
        finally:
            del vfs_storage.open
        assert e.name == "big" and e.size == 2000 and e.limit == 1999
        assert "too large (2000 bytes, limit 1999)" in str(e)
        assert isinstance(e, ValueError)
        assert s.read("big", 2000) == b"x" * 2000
    in_temp_dir(run)


def test_rename_replaces_the_destination():
    def run():
        s = _storage()
        s.write("slot", b"old")
        s.write("slot.tmp", b"new")
        s.rename("slot.tmp", "slot")
        assert s.read("slot", 10) == b"new" and not s.exists("slot.tmp")
    in_temp_dir(run)


def test_removing_a_missing_file_is_fine():
    def run():
        s = _storage()
        s.remove("never")
        s.write("f", b"1")
        s.remove("f")
        assert not s.exists("f")
    in_temp_dir(run)


def test_files_live_under_the_root_folder_of_the_spec():
    def run():
        root = os.getcwd() + "/flash"
        os.mkdir(root)
        try:
            s = _storage(root=root + "/")
            s.write("f", b"1")
            assert os.listdir(root) == ["f"] and "f" not in os.listdir(".")
            s.remove("f")
        finally:
            os.rmdir(root)
    in_temp_dir(run)


def test_names_with_a_path_are_refused():
    s = _storage()
    for name in ("", "a/b", "/etc", "..", "."):
        expect_raises(ValueError, s.write, name, b"x")
        expect_raises(ValueError, s.size, name)


def test_only_littlefs_and_posix_replace_a_file_by_rename_in_one_step():
    assert _storage("littlefs").atomic_rename is True
    assert _storage("posix").atomic_rename is True
    assert _storage("fat").atomic_rename is False
    e = expect_raises(ConfigError, _storage, "ntfs")
    assert e.path == "filesystem"
