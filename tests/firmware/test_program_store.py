# Unit tests of pump.program_store (A/B slots) over the in-memory flash; run by pytest and mprun.py.

import binascii

from pump.errors import TooLarge
from pump.program_store import BAD, EMPTY, MAX_BODY, MAX_FILE, OK, ProgramStore

from fake_flash import OLD, PREFIX, FakeFlash, PowerCut
from fakes import expect_raises

P1 = b'{"name": "one", "steps": [{"rate_ul_h": 10}]}'
P2 = '{"name": "two \u00b5L", "steps": [{"rate_ul_h": 20}]}'   # str is stored as UTF-8
P3 = b'{"name": "three"}' * 40


def _slot(seq, body, v=1, n=None, crc=None):
    if n is None:
        n = len(body)
    if crc is None:
        crc = _crc(v, seq, n, body)
    return ('{"v": %d, "seq": %d, "len": %d, "crc": %d}\n' % (v, seq, n, crc)).encode() + body


def _crc(v, seq, n, body):
    return binascii.crc32(("%d %d %d\n" % (v, seq, n)).encode() + body) & 0xFFFFFFFF


def _flash(filesystem="littlefs", **files):
    f = FakeFlash(filesystem)
    for name, data in files.items():
        f.files[name] = data
    return f


def _load(flash):
    s = ProgramStore(flash)
    return s.load(), s


def test_no_program_ever_stored_is_empty_not_bad():
    got, s = _load(_flash())
    assert got is None and s.state == EMPTY and s.problems == []


def test_a_saved_program_loads_back_byte_identical_on_both_filesystems():
    for fs in ("littlefs", "fat"):
        flash = _flash(fs)
        s = ProgramStore(flash)
        assert s.save(P1) == 1
        assert s.load() == (1, P1) and s.state == OK
        assert s.save(P2) == 2
        assert _load(flash)[0] == (2, P2.encode())
        assert s.save(b"") == 3                  # an empty body is a body
        assert _load(flash)[0] == (3, b"")


def test_each_save_goes_to_the_slot_not_holding_the_newest_program():
    for fs in ("littlefs", "fat"):
        flash = _flash(fs)
        s = ProgramStore(flash)
        s.save(P1)
        a = flash.files["prog_a"]
        s.save(P2)
        assert flash.files["prog_a"] == a        # the program before stays whole
        s.save(P3)
        assert _load(flash)[0] == (3, P3)
        assert flash.files["prog_b"].endswith(P2.encode())


def test_a_fresh_store_saves_to_the_inactive_slot_without_a_load_first():
    flash = _flash(prog_a=_slot(4, P1), prog_b=_slot(5, P2.encode()))
    assert ProgramStore(flash).save(P3) == 6
    assert flash.files["prog_b"] == _slot(5, P2.encode())
    assert _load(flash)[0] == (6, P3)


def test_on_littlefs_a_save_writes_a_temporary_file_then_renames_it_over_the_slot():
    flash = _flash("littlefs")
    ProgramStore(flash).save(P1)
    assert flash.ops == [("write", "prog_a.tmp"), ("append", "prog_a.tmp"), ("rename", "prog_a.tmp")]
    assert sorted(flash.files) == ["prog_a"]


def test_on_fat_a_save_writes_the_inactive_slot_in_place_and_never_renames():
    flash = _flash("fat", prog_a=_slot(1, P1))
    ProgramStore(flash).save(P2)
    assert flash.ops == [("write", "prog_b"), ("append", "prog_b")]


def test_a_truncated_slot_is_refused_and_the_other_one_loads():
    flash = _flash(prog_a=_slot(1, P1), prog_b=_slot(2, P3)[:-(len(P3) - 120)])
    got, s = _load(flash)
    assert got == (1, P1) and s.state == OK
    assert s.problems == ["prog_b: truncated (120 of %d bytes)" % len(P3)]


def test_a_slot_whose_header_is_cut_is_refused():
    got, s = _load(_flash(prog_a=_slot(1, P1)[:20]))
    assert got is None and s.state == BAD
    assert s.problems == ["prog_a: truncated (header incomplete)"]


def test_a_slot_longer_than_its_header_says_is_refused():
    got, s = _load(_flash(prog_a=_slot(1, P1) + b"x"))
    assert got is None and s.problems == ["prog_a: longer than its header says (%d of %d bytes)"
                                          % (len(P1) + 1, len(P1))]


def test_a_crc_mismatch_is_refused():
    body = bytearray(P1)
    body[5] ^= 1
    flash = _flash(prog_a=_slot(3, P1)[:-len(P1)] + bytes(body), prog_b=_slot(2, P3))
    got, s = _load(flash)
    assert got == (2, P3) and s.problems == ["prog_a: crc mismatch"]


def test_the_crc_covers_seq_and_length_so_an_old_body_under_a_new_header_is_refused():
    # what a cut on FAT can leave: the new header's first bytes over the old slot, old size
    old = _slot(1, P1)
    new_head = _slot(3, P2.encode())
    torn = new_head[:old.index(b'"len"')] + old[old.index(b'"len"'):]
    assert torn.startswith(b'{"v": 1, "seq": 3, "len": %d, ' % len(P1)) and torn.endswith(P1)
    got, s = _load(_flash(prog_a=torn))
    assert got is None and s.problems == ["prog_a: crc mismatch"]


def test_a_slot_from_a_newer_store_version_is_refused():
    got, s = _load(_flash(prog_a=_slot(9, P1, v=2), prog_b=_slot(1, P3)))
    assert got == (1, P3) and s.problems == ["prog_a: written by a newer store version 2"]


def test_a_slot_over_the_size_limit_is_refused_without_reading_it():
    flash = _flash(prog_a=_slot(1, P1), prog_b=b"x" * (MAX_FILE + 1))
    got, s = _load(flash)
    assert got == (1, P1)
    assert s.problems == ["prog_b: too large (%d bytes, limit %d)" % (MAX_FILE + 1, MAX_FILE)]
    assert flash.bytes_read.get("prog_b", 0) == 0


def test_a_header_claiming_a_body_over_the_limit_is_refused():
    got, s = _load(_flash(prog_a=_slot(1, b"", n=MAX_BODY + 1)))
    assert got is None and s.problems == ["prog_a: not a store file (bad header fields)"]


def test_files_that_are_not_store_files_are_refused_never_raised():
    samples = (b"hello world\n", b"\xff\xfe\x00\n" + P1, b"[1, 2]\n", b'{"seq": 1}\n',
               b'{"v": 0, "seq": 1, "len": 0, "crc": 0}\n', b"x" * 300,
               b'{"v": true, "seq": 1, "len": 0, "crc": 0}\n',
               b'{"v": 1, "seq": true, "len": 0, "crc": 0}\n',
               b'{"v": 1, "seq": 0, "len": 0, "crc": 0}\n',
               b'{"v": 1, "seq": 1, "len": "0", "crc": 0}\n',
               b'{"v": 1, "seq": 1, "len": 0, "crc": -1}\n')
    for data in samples:
        got, s = _load(_flash(prog_b=data))
        assert got is None and s.state == BAD, data
        assert len(s.problems) == 1 and s.problems[0].startswith("prog_b: not a store file"), \
            (data, s.problems)
    got, s = _load(_flash(prog_b=b""))
    assert s.problems == ["prog_b: empty file"] and s.state == BAD


def test_both_slots_bad_is_bad_not_empty():
    got, s = _load(_flash(prog_a=_slot(1, P1)[:-3], prog_b=b"junk\n"))
    assert got is None and s.state == BAD and len(s.problems) == 2


def test_a_slot_the_filesystem_cannot_read_is_refused_not_raised():
    flash = _flash(prog_a=_slot(1, P1), prog_b=_slot(2, P3))
    real = flash.read_at

    def failing(name, offset, n):
        if name == "prog_b":
            raise OSError(5, "EIO")
        return real(name, offset, n)
    flash.read_at = failing
    got, s = _load(flash)
    assert got == (1, P1) and len(s.problems) == 1
    assert s.problems[0].startswith("prog_b: cannot read (")


def test_the_newest_valid_slot_wins_and_seq_continues_from_it():
    flash = _flash(prog_a=_slot(7, P1), prog_b=_slot(8, P2.encode())[:-1])
    s = ProgramStore(flash)
    assert s.load() == (7, P1)
    assert s.save(P3) == 8                       # over the torn slot, never over the good one
    assert flash.files["prog_a"] == _slot(7, P1)
    assert _load(flash)[0] == (8, P3)


def test_a_leftover_temporary_file_is_never_loaded():
    got, s = _load(_flash(**{"prog_a.tmp": _slot(5, P1)}))
    assert got is None and s.state == EMPTY


def test_a_program_over_the_limit_is_refused_before_anything_is_written():
    flash = _flash()
    e = expect_raises(TooLarge, ProgramStore(flash).save, b"x" * (MAX_BODY + 1))
    assert e.limit == MAX_BODY and flash.files == {}
    ProgramStore(flash).save(b"x" * MAX_BODY)
    assert _load(flash)[0] == (1, b"x" * MAX_BODY)


def _every_cut(filesystem, torn, prepare, action):
    """Run action once per possible cut point; yield the flash after each cut (rebooted)."""
    flash = _flash(filesystem)
    prepare(ProgramStore(flash))
    before = dict(flash.files)
    flash.spent = 0
    action(ProgramStore(flash))
    cost = flash.spent
    for k in range(cost):
        flash = _flash(filesystem)
        flash.files = dict(before)
        flash.arm(k, torn)
        expect_raises(PowerCut, action, ProgramStore(flash))
        yield flash.reboot()


def test_a_save_cut_at_any_byte_leaves_the_program_before_it_loadable():
    for fs, torn in (("littlefs", PREFIX), ("littlefs", OLD), ("fat", PREFIX)):
        def prepare(s):
            s.save(P1)
            s.save(P2)
        for flash in _every_cut(fs, torn, prepare, lambda s: s.save(P3)):
            got, s = _load(flash)
            assert got == (2, P2.encode()) and s.state == OK, (fs, torn, s.problems)
            # and the next save still lands on the slot the cut one was meant for
            assert ProgramStore(flash).save(P3) == 3
            assert _load(flash)[0] == (3, P3)


def test_the_first_save_cut_part_way_leaves_no_program():
    for fs, want in (("littlefs", (EMPTY,)), ("fat", (EMPTY, BAD))):
        for flash in _every_cut(fs, PREFIX, lambda s: None, lambda s: s.save(P1)):
            got, s = _load(flash)
            assert got is None and s.state in want, (fs, s.state)


def test_clear_removes_both_slots():
    flash = _flash()
    s = ProgramStore(flash)
    s.save(P1)
    s.save(P2)
    s.clear()
    assert flash.files == {} and s.state == EMPTY
    assert _load(flash)[0] is None
    assert ProgramStore(flash).save(P3) == 1


def test_a_cut_clear_never_brings_back_an_older_program():
    for fs in ("littlefs", "fat"):
        for first in (P1, P3):           # the newest program in either slot
            def prepare(s):
                s.save(first)
                s.save(P2)
                s.save(P3 if first is P1 else P1)
            newest = P3 if first is P1 else P1
            seen = []
            for flash in _every_cut(fs, PREFIX, prepare, lambda s: s.clear()):
                got = _load(flash)[0]
                assert got == (3, newest), (fs, got)
                seen.append(got)
            assert seen, "no cut point was tried"


def test_a_program_saved_in_chunks_loads_back_as_their_concatenation_with_one_crc():
    flash = FakeFlash()
    store = ProgramStore(flash)
    store.save([b'{"digest": "x"}', b'\n["", {}]', b'\n["flex.steps", []]'])
    seq, body = ProgramStore(flash).load()
    assert body == b'{"digest": "x"}\n["", {}]\n["flex.steps", []]' and seq == 1
