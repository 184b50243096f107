# Unit tests of pump.records, the framing of one record as a line; run by pytest and tests/mprun.py.

import binascii

from pump.records import frame, unframe

from fakes import expect_raises, lcg


def _crafted(seq_text, payload_bytes, crc_text=None):
    """A line built by hand with a CRC that checks out (unless crc_text is given)."""
    if crc_text is None:
        crc_text = "%08x" % (binascii.crc32(seq_text.encode() + b" " + payload_bytes) & 0xFFFFFFFF)
    return seq_text.encode() + b" " + crc_text.encode() + b" " + payload_bytes + b"\n"


def test_a_framed_record_reads_back_with_its_seq_and_payload():
    for seq, payload in ((0, ""), (1, '{"a": 1}'), (123456789, "d\u00e9bit \u00b5L/h"), (7, " x ")):
        line = frame(seq, payload)
        assert unframe(line) == (seq, payload), line
        assert unframe(line.encode()) == (seq, payload), line
        assert unframe(bytearray(line.encode())) == (seq, payload), line


def test_a_record_is_one_line_ending_in_its_newline():
    line = frame(42, '{"e": "start"}')
    assert line.endswith("\n") and line.count("\n") == 1
    seq, crc, payload = line[:-1].split(" ", 2)
    assert seq == "42" and len(crc) == 8 and payload == '{"e": "start"}'


def test_a_line_cut_anywhere_is_not_a_record_even_one_missing_only_its_newline():
    data = frame(31, '{"t": 1000, "steps": 5}').encode()
    for n in range(len(data)):
        assert unframe(data[:n]) is None, data[:n]


def test_a_changed_byte_anywhere_is_not_a_record():
    data = frame(5, '{"rate": 12.5}').encode()
    for i in range(len(data) - 1):        # the newline is checked by the test above
        for flip in (1, 0x20, 0x80):
            bad = bytearray(data)
            bad[i] ^= flip
            assert unframe(bytes(bad)) is None, bytes(bad)


def test_garbage_is_never_a_record_and_never_raises():
    rnd = lcg(7)
    samples = [None, 5, 3.5, [], b"", "", b"\n", "\n", b"\xff\xfe\xfd\n", b"1 \n", b"         \n",
               b"1 zzzzzzzz x\n", b"1 00000000\n", "1 00000000 \n\n"]
    for _ in range(300):
        n = rnd(40)
        samples.append(bytes([rnd(256) for _ in range(n)]) + (b"\n" if rnd(2) else b""))
    for s in samples:
        assert unframe(s) is None, s


def test_only_plain_digits_count_as_seq_and_crc_even_with_a_matching_crc():
    assert unframe(_crafted("12", b"{}")) == (12, "{}")        # the control: this one is valid
    for seq in ("+12", "-12", "012", " 12", "1_2", "0x1f", "\u0661"):
        assert unframe(_crafted(seq, b"{}")) is None, seq
    # a CRC in capitals: the same number, but not how frame() writes it
    for i in range(50):
        payload = ("{%d}" % i).encode()
        crc = "%08x" % (binascii.crc32(b"12 " + payload) & 0xFFFFFFFF)
        if crc.upper() != crc:
            break
    assert crc.upper() != crc
    assert unframe(_crafted("12", payload, crc)) == (12, payload.decode())
    assert unframe(_crafted("12", payload, crc.upper())) is None


def test_a_checked_line_whose_payload_is_not_utf8_is_not_a_record():
    assert unframe(_crafted("3", b"\xff\xfe")) is None


def test_frame_refuses_a_payload_with_a_newline_and_a_seq_that_is_not_a_count():
    expect_raises(ValueError, frame, 1, "a\nb")
    expect_raises(ValueError, frame, -1, "{}")
    expect_raises(ValueError, frame, True, "{}")
    expect_raises(ValueError, frame, 1.0, "{}")
    expect_raises(ValueError, frame, 1, b"{}")
