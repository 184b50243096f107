# The event log on flash: records read back in order, boots are counted, a cut record is skipped.

from fake_flash import FakeFlash, PowerCut
from fakes import expect_raises
from pump.event_log import EventLog, PER_SEGMENT, SEGMENTS


def test_records_read_back_oldest_first_with_kind_boot_times_and_data():
    log = EventLog(FakeFlash())
    log.add("boot", 0, None, {"cause": "power_on"})
    log.add("bolus", 500, 1700000000000, {"kind": "demand", "ul": 5.0})
    recs = log.read()
    assert [r["k"] for r in recs] == ["boot", "bolus"]
    assert recs[1] == {"k": "bolus", "boot": 1, "up": 500, "t": 1700000000000, "kind": "demand",
                       "ul": 5.0, "seq": 2}


def test_each_boot_gets_the_next_number_from_the_log_itself():
    flash = FakeFlash()
    EventLog(flash).add("boot", 0, None)
    second = EventLog(flash)
    assert second.boot == 2
    second.add("boot", 0, None)
    assert EventLog(flash).boot == 3


def test_reading_since_a_seq_pages_through_the_log():
    log = EventLog(FakeFlash())
    for i in range(30):
        log.add("action", i, None, {"cmd": "status"})
    page = log.read(since_seq=0, limit=20)
    assert [r["seq"] for r in page] == list(range(1, 21))
    rest = log.read(since_seq=page[-1]["seq"], limit=20)
    assert [r["seq"] for r in rest] == list(range(21, 31))


def test_the_log_is_bounded_and_keeps_the_newest_records():
    log = EventLog(FakeFlash())
    n = SEGMENTS * PER_SEGMENT + 50
    for i in range(n):
        log.add("action", i, None)
    seqs = [r["seq"] for r in log.read(limit=10000)]
    assert len(seqs) <= SEGMENTS * PER_SEGMENT and seqs[-1] == n
    assert len(seqs) >= (SEGMENTS - 1) * PER_SEGMENT


def test_a_record_cut_by_a_power_loss_is_skipped_and_the_log_goes_on():
    flash = FakeFlash("fat")
    log = EventLog(flash)
    log.add("action", 1, None, {"cmd": "start"})
    flash.arm(10)
    expect_raises(PowerCut, log.add, "alarm", 2, None, {"code": "occlusion"})
    flash.reboot()
    log = EventLog(flash)
    log.add("boot", 0, None)
    assert [r["k"] for r in log.read()] == ["action", "boot"]


def test_a_detail_too_long_for_a_record_is_dropped_not_the_record():
    log = EventLog(FakeFlash())
    log.add("alarm", 1, None, {"detail": "x" * 1000})
    rec = log.read()[0]
    assert rec["k"] == "alarm" and rec["truncated"] is True and "detail" not in rec


def test_a_flash_that_refuses_writes_is_counted_not_raised():
    class FullFlash(FakeFlash):
        def append(self, name, data):
            raise OSError(28)

        def write(self, name, data):
            raise OSError(28)
    log = EventLog(FullFlash())
    assert log.add("action", 1, None) is None and log.failures == 1
