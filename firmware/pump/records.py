# One record as one text line that a torn write cannot pass off as valid: "<seq> <crc> <payload>\n".
#
# The CRC-32 (8 lowercase hex digits) covers "<seq> <payload>", so a line cut short, a line
# whose seq or payload changed, and random bytes all fail the check. unframe() wants the
# newline that ends the record; whether a file's last line, cut just before it, still counts
# is for the reader of the file to say (pump/record_ring.py says it does).
import binascii

_HEX = b"0123456789abcdef"
_MAX_SEQ_DIGITS = 12  # far beyond any count of appends a board will see; bounds the parse


def _crc(seq_bytes, payload_bytes):
    c = binascii.crc32(seq_bytes)
    c = binascii.crc32(b" ", c)
    return binascii.crc32(payload_bytes, c) & 0xFFFFFFFF


def frame(seq, payload):
    """The line for record seq: a str ending in one newline. payload is text without a newline."""
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ValueError("record seq must be an int >= 0")
    if not isinstance(payload, str):
        raise ValueError("record payload must be a str")
    if "\n" in payload:
        raise ValueError("record payload must not contain a newline")
    s = str(seq)
    return "%s %08x %s\n" % (s, _crc(s.encode(), payload.encode()), payload)


def _digits(b, allowed):
    for c in b:
        if c not in allowed:
            return False
    return True


def unframe(line):
    """(seq, payload) for a valid line (bytes or str), None for anything else; never raises."""
    if isinstance(line, str):
        try:
            line = line.encode()
        except Exception:  # a str with lone surrogates (CPython only) is garbage too
            return None
    elif not isinstance(line, (bytes, bytearray)):
        return None
    # the shortest record is "0 xxxxxxxx \n": seq, crc, an empty payload
    if len(line) < 12 or line[-1] != 10:
        return None
    sp = line.find(b" ")
    if sp < 1 or sp > _MAX_SEQ_DIGITS or len(line) < sp + 11 or line[sp + 9] != 32:
        return None
    seq_b = bytes(line[:sp])
    crc_b = bytes(line[sp + 1:sp + 9])
    # int() alone would accept "+1", "0x1f" or "1_0": only plain digits are ours
    if not _digits(seq_b, b"0123456789") or not _digits(crc_b, _HEX):
        return None
    if len(seq_b) > 1 and seq_b[0] == 48:  # "007": frame() never writes a leading zero
        return None
    payload_b = bytes(line[sp + 10:-1])
    if b"\n" in payload_b or _crc(seq_b, payload_b) != int(crc_b.decode(), 16):
        return None
    try:
        payload = payload_b.decode()
    except Exception:  # checks out but is not UTF-8: not something frame() wrote
        return None
    return int(seq_b.decode()), payload
