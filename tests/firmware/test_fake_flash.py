# The power-cut fake itself: it offers the real driver's interface and tears writes as flash does.

from drivers.vfs_storage import VfsStorage

from fake_flash import OLD, PREFIX, STALE, FakeFlash, PowerCut
from fakes import expect_raises


def test_the_fake_offers_every_method_of_the_real_driver():
    real = [n for n in dir(VfsStorage) if not n.startswith("_") and callable(getattr(VfsStorage, n))]
    assert "read_at" in real and "rename" in real
    for name in real:
        assert callable(getattr(FakeFlash, name, None)), name
    assert FakeFlash("fat").atomic_rename is False and FakeFlash("littlefs").atomic_rename is True


def test_a_cut_write_keeps_the_bytes_written_so_far_and_stops_every_later_operation():
    f = FakeFlash("fat")
    f.write("a", b"old content")
    f.arm(1 + 4)                      # the truncation and four bytes
    expect_raises(PowerCut, f.write, "a", b"new content")
    assert f.files["a"] == b"new "
    expect_raises(PowerCut, f.append, "b", b"x")
    expect_raises(PowerCut, f.remove, "a")
    expect_raises(PowerCut, f.size, "a")
    f.reboot()
    assert f.files == {"a": b"new "}


def test_a_cut_before_the_truncation_leaves_the_file_whole():
    f = FakeFlash("fat")
    f.write("a", b"old")
    f.arm(0)
    expect_raises(PowerCut, f.write, "a", b"new")
    assert f.reboot().files["a"] == b"old"


def test_a_write_that_fits_the_budget_completes_and_the_next_one_is_cut():
    f = FakeFlash("littlefs")
    f.arm(4)
    f.append("a", b"1234")
    expect_raises(PowerCut, f.append, "a", b"5")
    assert f.reboot().files["a"] == b"1234"


def test_on_littlefs_a_cut_can_leave_the_file_as_it_was_before_the_write():
    f = FakeFlash("littlefs")
    f.write("a", b"old")
    f.arm(3, OLD)
    expect_raises(PowerCut, f.append, "a", b"appended")
    assert f.reboot().files["a"] == b"old"
    expect_raises(ValueError, FakeFlash("fat").arm, 3, OLD)


def test_on_fat_a_cut_can_leave_the_old_size_with_new_bytes_over_the_old_ones():
    f = FakeFlash("fat")
    f.write("a", b"0123456789")
    f.arm(1 + 3, STALE)
    expect_raises(PowerCut, f.write, "a", b"abcdefghijklmnop")
    assert f.reboot().files["a"] == b"abc3456789"
    f.arm(2, STALE)
    expect_raises(PowerCut, f.append, "a", b"xyz")
    assert f.reboot().files["a"] == b"abc3456789"
    expect_raises(ValueError, FakeFlash("littlefs").arm, 3, STALE)


def test_a_littlefs_rename_is_all_or_nothing():
    f = FakeFlash("littlefs")
    f.write("slot", b"old")
    f.write("tmp", b"new")
    f.arm(0)
    expect_raises(PowerCut, f.rename, "tmp", "slot")
    assert f.reboot().files == {"slot": b"old", "tmp": b"new"}
    f.rename("tmp", "slot")
    assert f.files == {"slot": b"new"}


def test_a_fat_rename_cut_part_way_can_lose_or_tear_the_destination():
    seen = []
    for k in range(1 + 1 + 3 + 1):     # remove dst, create dst, 3 bytes, remove src
        f = FakeFlash("fat")
        f.write("slot", b"old")
        f.write("tmp", b"new")
        f.arm(k, PREFIX)
        expect_raises(PowerCut, f.rename, "tmp", "slot")
        seen.append(f.reboot().files.get("slot"))
    # the destination gone, then empty, then torn, then whole while the source is still there
    assert seen == [b"old", None, b"", b"n", b"ne", b"new"]
