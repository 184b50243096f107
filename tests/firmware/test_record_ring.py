# Unit tests of pump.record_ring over the in-memory flash; run by pytest and tests/mprun.py.

from pump.errors import TooLarge
from pump.record_ring import RecordRing
from pump.records import frame

from fake_flash import OLD, PREFIX, FakeFlash, PowerCut
from fakes import expect_raises


def _ring(flash, k=3, n=4, **kw):
    return RecordRing(flash, "ev", k, n, **kw)


def _fill(ring, first, last):
    for i in range(first, last + 1):
        assert ring.append('{"i": %d}' % i) == i


def _seqs(ring, since=0):
    return [s for s, _ in ring.records(since)]


def _lines(flash, name):
    data = flash.files.get(name, b"")
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def test_records_come_back_oldest_first_with_their_payloads():
    ring = _ring(FakeFlash())
    assert ring.latest() is None and list(ring.records()) == []
    _fill(ring, 1, 6)
    assert list(ring.records()) == [(i, '{"i": %d}' % i) for i in range(1, 7)]
    assert ring.latest() == (6, '{"i": 6}')


def test_records_since_a_seq_yields_only_the_newer_ones():
    ring = _ring(FakeFlash())
    _fill(ring, 1, 9)
    assert _seqs(ring, 6) == [7, 8, 9]
    assert _seqs(ring, 9) == []


def test_a_full_segment_moves_on_to_the_next_one_truncating_it():
    flash = FakeFlash()
    ring = _ring(flash, k=2, n=3)
    _fill(ring, 1, 6)
    assert _lines(flash, "ev0") == 3 and _lines(flash, "ev1") == 3
    ring.append("{}")
    assert flash.files["ev0"] == frame(7, "{}").encode()    # the oldest three are gone
    assert _seqs(ring) == [4, 5, 6, 7]


def test_the_ring_holds_at_most_k_times_n_records_and_keeps_at_least_k_minus_1_times_n():
    flash = FakeFlash()
    ring = _ring(flash, k=3, n=4)
    assert ring.bound == 12
    for i in range(1, 40):
        ring.append('{"i": %d}' % i)
        seqs = _seqs(ring)
        assert len(seqs) <= 12 and len(seqs) >= min(i, 8), (i, seqs)
        assert seqs == list(range(i - len(seqs) + 1, i + 1))
    assert sorted(flash.files) == ["ev0", "ev1", "ev2"]


def test_seq_continues_after_reopening_and_appends_go_on_in_the_same_segment():
    flash = FakeFlash()
    _fill(_ring(flash), 1, 5)            # ev0 full, one record in ev1
    ring = _ring(flash)
    assert ring.latest() == (5, '{"i": 5}')
    assert ring.append("{}") == 6
    assert _lines(flash, "ev1") == 2 and "ev2" not in flash.files
    assert _seqs(ring) == [1, 2, 3, 4, 5, 6]


def test_reopening_after_the_ring_has_wrapped_finds_the_newest_segment():
    for last in (13, 14, 16, 17, 25):    # ends in every segment, at its start, middle and end
        flash = FakeFlash()
        _fill(_ring(flash), 1, last)
        ring = _ring(flash)
        assert ring.latest()[0] == last, last
        ring.append("{}")
        seqs = _seqs(_ring(flash))
        assert seqs == list(range(last + 2 - len(seqs), last + 2)) and len(seqs) >= 8, seqs


def test_a_torn_last_line_is_skipped_and_the_next_record_starts_a_line_of_its_own():
    whole = len(frame(3, '{"i": 3}'))
    for cut in range(1, whole - 1):
        flash = FakeFlash()
        ring = _ring(flash)
        _fill(ring, 1, 2)
        flash.arm(cut)
        expect_raises(PowerCut, ring.append, '{"i": 3}')
        ring = _ring(flash.reboot())
        assert ring.latest() == (2, '{"i": 2}'), cut
        assert ring.append("{}") == 3
        assert list(_ring(flash).records()) == [(1, '{"i": 1}'), (2, '{"i": 2}'), (3, "{}")]
        assert _lines(flash, "ev0") == 4    # the torn line still takes its room in the segment


def test_a_record_cut_just_before_its_newline_counts_and_the_next_one_follows_it():
    flash = FakeFlash()
    ring = _ring(flash)
    _fill(ring, 1, 2)
    flash.arm(len(frame(3, '{"i": 3}')) - 1)
    expect_raises(PowerCut, ring.append, '{"i": 3}')
    ring = _ring(flash.reboot())
    assert ring.latest() == (3, '{"i": 3}')
    assert ring.append("{}") == 4
    assert _seqs(_ring(flash)) == [1, 2, 3, 4] and _lines(flash, "ev0") == 4


def test_garbage_lines_are_skipped_never_raised():
    flash = FakeFlash()
    ring = _ring(flash, k=2, n=8)
    _fill(ring, 1, 2)
    flash.append("ev0", b"\xff\xfe\x00 not a record\n\n1 zzzzzzzz {}\n" + b"\x80" * 30 + b"\n")
    ring = _ring(flash)
    assert ring.latest()[0] == 2
    ring.append("{}")
    assert _seqs(_ring(flash)) == [1, 2, 3]


def test_files_holding_only_garbage_start_a_new_ring_at_seq_1_in_segment_0():
    flash = FakeFlash()
    flash.write("ev0", b"garbage\n")
    flash.write("ev1", b"\x00\x01\x02")
    ring = _ring(flash, k=2, n=3)
    assert ring.latest() is None and list(ring.records()) == []
    assert ring.append("{}") == 1
    assert flash.files["ev0"] == frame(1, "{}").encode()


def test_a_line_longer_than_the_bound_is_skipped():
    flash = FakeFlash()
    ring = _ring(flash, k=2, n=8, max_line=64)
    _fill(ring, 1, 1)
    flash.append("ev0", b"y" * 5000 + b"\n")
    ring = _ring(flash, k=2, n=8, max_line=64)
    _fill(ring, 2, 3)
    assert _seqs(ring) == [1, 2, 3]
    # a valid record that is longer than this reader's bound is skipped as well
    long_line = frame(9, "z" * 100).encode()
    other = FakeFlash()
    other.write("ev0", frame(1, "{}").encode() + long_line)
    assert _seqs(_ring(other, k=2, n=8, max_line=64)) == [1]


def test_an_unterminated_long_line_at_the_end_is_skipped_and_ended_before_the_next_record():
    flash = FakeFlash()
    ring = _ring(flash, k=2, n=8, max_line=64)
    _fill(ring, 1, 1)
    flash.append("ev0", b"y" * 500)
    ring = _ring(flash, k=2, n=8, max_line=64)
    ring.append("{}")
    assert list(_ring(flash, k=2, n=8, max_line=64).records()) == [(1, '{"i": 1}'), (2, "{}")]


def test_a_record_longer_than_the_bound_is_refused_before_anything_is_written():
    flash = FakeFlash()
    ring = _ring(flash, max_line=64)
    e = expect_raises(TooLarge, ring.append, "x" * 64)
    assert e.limit == 64 and flash.files == {}
    expect_raises(ValueError, ring.append, "two\nlines")
    assert ring.append("{}") == 1


def test_a_cut_while_moving_to_the_next_segment_keeps_the_full_one():
    for torn in (PREFIX, OLD):
        for cut in range(0, 12):
            flash = FakeFlash()
            ring = _ring(flash, k=2, n=2)
            _fill(ring, 1, 4)           # both segments full: the next append truncates ev0
            flash.arm(cut, torn)
            expect_raises(PowerCut, ring.append, '{"i": 5}')
            ring = _ring(flash.reboot(), k=2, n=2)
            assert ring.latest() == (4, '{"i": 4}'), (torn, cut)
            assert _seqs(ring)[-1] == 4
            ring.append("{}")
            assert _seqs(ring) == [3, 4, 5] and _lines(flash, "ev0") == 1


def test_an_append_that_failed_part_way_rescans_before_the_next_one():
    flash = FakeFlash()
    ring = _ring(flash)
    _fill(ring, 1, 2)
    flash.arm(5)
    expect_raises(PowerCut, ring.append, "{}")
    flash.reboot()                       # the same ring object carries on
    assert ring.latest() == (2, '{"i": 2}')
    assert ring.append("{}") == 3
    assert _seqs(_ring(flash)) == [1, 2, 3]


def test_a_ring_needs_two_segments_of_at_least_one_record():
    expect_raises(ValueError, RecordRing, FakeFlash(), "ev", 1, 10)
    expect_raises(ValueError, RecordRing, FakeFlash(), "ev", 2, 0)
