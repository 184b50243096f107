# The delivery journal: due at its interval, newest record wins, a cut record leaves the one before.

from fake_flash import FakeFlash, PowerCut
from fakes import expect_raises
from pump.journal import Journal


def test_a_record_is_due_at_boot_then_once_per_interval():
    j = Journal(FakeFlash(), interval_ms=60000)
    assert j.due(0)
    j.write(0, {"steps": 0})
    assert not j.due(59999) and j.due(60000)


def test_the_newest_record_is_read_back_after_a_reboot():
    flash = FakeFlash()
    j = Journal(flash)
    for i in range(100):
        j.write(i * 60000, {"steps": i})
    assert Journal(flash).last() == {"steps": 99}


def test_a_record_cut_part_way_leaves_the_one_before_it():
    flash = FakeFlash("fat")
    j = Journal(flash)
    j.write(0, {"steps": 10})
    flash.arm(12)
    expect_raises(PowerCut, j.write, 60000, {"steps": 20})
    flash.reboot()
    assert Journal(flash).last() == {"steps": 10}


def test_no_journal_yet_reads_as_none():
    assert Journal(FakeFlash()).last() is None
