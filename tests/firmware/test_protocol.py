# Unit tests of pump.protocol; plain functions so pytest and tests/mprun.py (MicroPython) both run them.

import json

from pump.errors import (CODES, BAD_ARG, BAD_JSON, BAD_REQUEST, INTERNAL, LINE_TOO_LONG,
                         UNKNOWN_COMMAND)
from pump.protocol import (MAX_LINE, OVERFLOW, Commands, LineReader, encode, event, handle,
                           write_in_pieces, write_message)


def _table():
    """A small command table of our own, so these tests do not depend on the pump's commands."""
    t = Commands()

    @t.command("ping", "patient")
    def ping(ctx, args):
        return {"pong": True, "ctx": ctx}

    # declared out of order: describe() must sort them
    @t.command("echo", "clinician", {"note": {"type": "str", "max_len": 8},
                                     "n": {"type": "int", "ge": 0, "le": 9, "required": True}})
    def echo(ctx, args):
        return args

    @t.command("boom", "service")
    def boom(ctx, args):
        return 1 // 0

    @t.command("lookup", "service")
    def lookup(ctx, args):
        return {}["missing"]

    return t


TABLE = _table()


class AnyRole:
    """A session that lets every role through and keeps no ids: these tests are about framing and
    typing (test_session.py covers roles and retries with the real Session)."""
    recent = None

    def require(self, role, command):
        pass


def reply(line):
    r = handle(line, TABLE, "ctx", AnyRole())
    assert isinstance(r, dict), r
    return r


def error_of(line):
    r = reply(line)
    assert r["ok"] is False, r
    assert r["error"]["code"] in CODES, r
    assert isinstance(r["error"]["message"], str) and r["error"]["message"], r
    return r["id"], r["error"]


# ---- line framing --------------------------------------------------------------------------

def test_a_10_kb_line_yields_one_overflow_and_the_next_line_still_parses():
    r = LineReader()
    out = r.feed(b"x" * 10240 + b"\n" + b'{"id": 1}\n')
    assert len(out) == 2, out
    assert out[0] is OVERFLOW
    assert out[1] == b'{"id": 1}'


def test_a_long_line_fed_in_pieces_never_holds_more_than_max_line_bytes():
    r = LineReader()
    out = []
    for _ in range(100):
        out += r.feed(b"y" * 100)
        assert r.pending() <= MAX_LINE
    out += r.feed(b"\nok\n")
    assert len(out) == 2 and out[0] is OVERFLOW and out[1] == b"ok", out


def test_a_line_of_exactly_max_line_bytes_passes_and_one_more_byte_overflows():
    r = LineReader(max_line=8)
    assert r.feed(b"12345678\n") == [b"12345678"]
    out = r.feed(b"123456789\n")
    assert len(out) == 1 and out[0] is OVERFLOW, out


def test_a_line_split_across_feeds_is_joined():
    r = LineReader()
    assert r.feed(b'{"id": 1, "cm') == []
    assert r.feed(b'd": "ping"') == []
    assert r.feed(b"}\n{") == [b'{"id": 1, "cmd": "ping"}']
    assert r.feed(b"}\n") == [b"{}"]


def test_carriage_returns_are_stripped():
    r = LineReader()
    assert r.feed(b"abc\r\n") == [b"abc"]
    assert r.feed(b"de\r") == []
    assert r.feed(b"\n") == [b"de"]


def test_empty_lines_are_ignored():
    r = LineReader()
    assert r.feed(b"\n\r\n\n\r\r\n") == []
    assert r.feed(b"\n\na\n\n") == [b"a"]


class _Ms:
    """A hand-moved real-time clock for LineReader's partial-line timeout."""

    def __init__(self):
        self.t = 0

    def __call__(self):
        return self.t


def test_a_partial_line_left_quiet_for_over_a_second_is_dropped_not_glued_to_the_next():
    # a host wrote half a request and went away; the next host's first request must work
    ms = _Ms()
    r = LineReader(ms=ms)
    assert r.feed(b'{"id": 1, "cmd": "st') == []
    r.idle()                 # the first pass with nothing to read starts the quiet time
    ms.t += 1001
    assert r.feed(b'{"id": 2, "cmd": "status"}\n') == [b'{"id": 2, "cmd": "status"}']
    assert r.dropped == 1


def test_a_partial_line_is_dropped_by_idle_passes_alone_once_quiet_for_over_a_second():
    ms = _Ms()
    r = LineReader(ms=ms)
    r.feed(b"half a line")
    r.idle()
    ms.t += 1000
    r.idle()
    assert r.dropped == 0    # exactly the limit: kept
    ms.t += 1
    r.idle()
    assert r.dropped == 1 and r.pending() == 0
    assert r.feed(b"next\n") == [b"next"]


def test_a_board_busy_between_two_reads_never_drops_a_line_the_host_is_still_sending():
    # no idle pass in between: the link was never seen quiet, however long the board was busy
    ms = _Ms()
    r = LineReader(ms=ms)
    r.feed(b'{"id": 3, ')
    ms.t += 5000
    assert r.feed(b'"cmd": "status"}\n') == [b'{"id": 3, "cmd": "status"}']
    assert r.dropped == 0


def test_a_slow_host_within_the_second_keeps_its_line():
    ms = _Ms()
    r = LineReader(ms=ms)
    r.feed(b'{"id": 4, ')
    r.idle()
    ms.t += 900
    r.idle()
    assert r.feed(b'"cmd": "status"}\n') == [b'{"id": 4, "cmd": "status"}']
    # a new quiet time starts with the next bytes: the earlier one does not count against them
    r.feed(b'{"id": 5')
    r.idle()
    ms.t += 900
    assert r.feed(b"}\n") == [b'{"id": 5}']
    assert r.dropped == 0


def test_an_overlong_line_left_quiet_stops_being_discarded_and_gets_no_reply():
    ms = _Ms()
    r = LineReader(max_line=8, ms=ms)
    assert r.feed(b"x" * 20) == []      # discarding, no newline yet
    r.idle()
    ms.t += 1500
    r.idle()
    assert r.dropped == 1
    assert r.feed(b"ok\n") == [b"ok"]  # not swallowed as the rest of the overlong line


def test_quiet_time_with_nothing_pending_drops_nothing():
    ms = _Ms()
    r = LineReader(ms=ms)
    for _ in range(3):
        r.idle()
        ms.t += 5000
    assert r.dropped == 0
    assert r.feed(b"a\n") == [b"a"]


def test_the_default_clock_is_real_time_in_ms():
    r = LineReader()
    a = r._ms()
    assert isinstance(a, int)


def test_the_reader_keeps_one_buffer_for_every_line():
    # a buffer grown per line fragmented the board's heap until copying a 4 KB line failed
    r = LineReader()
    buf = r._buf
    for n in (1, 4096, 5000, 10):
        r.feed(b"z" * n + b"\n")
    assert r._buf is buf and len(buf) == MAX_LINE


def test_deep_nesting_is_bad_json_without_parsing_it():
    # "[" * 3000 made MicroPython's json.loads raise MemoryError, which reset the board
    for line in (b"[" * 3000, b"[" * 3000 + b"]" * 3000, b'{"a":' * 800 + b"1" + b"}" * 800,
                 b'{"id": 5, "cmd": "ping", "args": {"x": ' + b"[" * 40 + b"]" * 40 + b"}}"):
        rid, err = error_of(line)
        assert err["code"] == BAD_JSON and rid is None, err


def test_nesting_up_to_the_limit_parses_and_brackets_inside_strings_do_not_count():
    from pump.protocol import MAX_DEPTH, too_deep
    ok = b'{"id": 1, "cmd": "ping", "args": {"x": ' + b"[" * (MAX_DEPTH - 2) + b"]" * (MAX_DEPTH - 2) + b"}}"
    assert not too_deep(ok)
    assert too_deep(b"[" * (MAX_DEPTH + 1))
    assert not too_deep(b'{"id": "' + b"[" * 100 + b'", "cmd": "ping"}')
    assert not too_deep(b'{"id": "\\"' + b"{" * 100 + b'", "cmd": "ping"}')   # an escaped quote
    assert too_deep(b'["\\\\"' + b", [" * 40 + b"]")   # an escaped backslash ends the string
    r = reply(b'{"id": "' + b"[" * 60 + b'", "cmd": "ping"}')
    assert r["ok"] is True, r


def test_the_line_too_long_reply_has_a_null_id_and_its_code():
    r = handle(OVERFLOW, TABLE, None)
    assert r["id"] is None and r["ok"] is False
    assert r["error"]["code"] == LINE_TOO_LONG
    assert str(MAX_LINE) in r["error"]["message"]


# ---- requests ------------------------------------------------------------------------------

def test_a_good_request_gets_its_id_and_the_handler_result():
    assert reply(b'{"id": 7, "cmd": "ping"}') == {"id": 7, "ok": True,
                                                  "result": {"pong": True, "ctx": "ctx"}}
    assert reply(b'{"id": "a-1", "cmd": "echo", "args": {"n": 3}}') == {
        "id": "a-1", "ok": True, "result": {"n": 3}}


def test_malformed_json_is_bad_json_with_a_null_id():
    # not here: a missing or extra comma or colon, which MicroPython's json module lets through
    for line in (b"{", b'{"id": 1, "cmd": "ping"', b"nope", b"", b"\xff\xfe", b'{"id": 1}}',
                 b'{"id": 1} x', b"{'id': 1}", b"{id: 1}"):
        rid, err = error_of(line)
        assert (rid, err["code"]) == (None, BAD_JSON), (line, rid, err)
        assert "path" not in err, err


def test_json_that_is_not_an_object_is_a_bad_request():
    for line in (b"[]", b'[{"id": 1, "cmd": "ping"}]', b"1", b'"ping"', b"null", b"true"):
        rid, err = error_of(line)
        assert (rid, err["code"]) == (None, BAD_REQUEST), (line, rid, err)


def test_a_missing_bool_float_or_overlong_id_is_a_bad_request_on_path_id():
    for line in (b'{"cmd": "ping"}', b'{"id": true, "cmd": "ping"}', b'{"id": false, "cmd": "ping"}',
                 b'{"id": 1.5, "cmd": "ping"}', b'{"id": null, "cmd": "ping"}',
                 b'{"id": [1], "cmd": "ping"}', ('{"id": "%s", "cmd": "ping"}' % ("x" * 65)).encode()):
        rid, err = error_of(line)
        assert (rid, err["code"], err.get("path")) == (None, BAD_REQUEST, "id"), (line, rid, err)


def test_an_id_of_64_characters_is_accepted_and_echoed():
    rid = "x" * 64
    assert reply(('{"id": "%s", "cmd": "ping"}' % rid).encode())["id"] == rid


def test_an_unknown_or_missing_command_is_unknown_command_on_path_cmd_with_the_id():
    for line in (b'{"id": 3, "cmd": "launch"}', b'{"id": 3}', b'{"id": 3, "cmd": 5}',
                 b'{"id": 3, "cmd": ["ping"]}', b'{"id": 3, "cmd": "PING"}'):
        rid, err = error_of(line)
        assert (rid, err["code"], err.get("path")) == (3, UNKNOWN_COMMAND, "cmd"), (line, rid, err)


def test_wrong_argument_types_are_bad_arg_with_the_argument_path():
    cases = (
        (b'{"id": 1, "cmd": "echo", "args": {"n": "3"}}', "args.n"),
        (b'{"id": 1, "cmd": "echo", "args": {"n": true}}', "args.n"),
        (b'{"id": 1, "cmd": "echo", "args": {"n": 3.0}}', "args.n"),
        (b'{"id": 1, "cmd": "echo", "args": {"n": 10}}', "args.n"),
        (b'{"id": 1, "cmd": "echo", "args": {"n": 1, "note": 5}}', "args.note"),
        (b'{"id": 1, "cmd": "echo", "args": {}}', "args.n"),
        (b'{"id": 1, "cmd": "echo"}', "args.n"),
        (b'{"id": 1, "cmd": "echo", "args": [3]}', "args"),
        (b'{"id": 1, "cmd": "echo", "args": null}', "args"),
    )
    for line, path in cases:
        rid, err = error_of(line)
        assert (rid, err["code"], err.get("path")) == (1, BAD_ARG, path), (line, rid, err)


def test_unknown_arguments_are_bad_arg_with_their_path():
    rid, err = error_of(b'{"id": 2, "cmd": "ping", "args": {"force": true}}')
    assert (rid, err["code"], err["path"]) == (2, BAD_ARG, "args.force"), err
    rid, err = error_of(b'{"id": 2, "cmd": "echo", "args": {"n": 1, "m": 2}}')
    assert (rid, err["code"], err["path"]) == (2, BAD_ARG, "args.m"), err


def test_an_exception_in_a_handler_becomes_an_internal_error_with_the_id():
    rid, err = error_of(b'{"id": 9, "cmd": "boom"}')
    assert (rid, err["code"]) == (9, INTERNAL), err
    assert "ZeroDivisionError" in err["message"], err
    rid, err = error_of(b'{"id": "k", "cmd": "lookup"}')
    assert (rid, err["code"]) == ("k", INTERNAL), err
    assert "KeyError" in err["message"], err


def test_handle_never_raises_on_hostile_lines():
    lines = [b"", b" ", b"\x00", b"\xff" * 20, b"[" * 500, b"{" * 500, b'{"id": 1e999}',
             b'{"id": 1, "cmd": "echo", "args": {"n": 1e999}}', b'{"id": -0, "cmd": "boom"}',
             b'{"id": 1, "cmd": "echo", "args": {"n": NaN}}', b'{"id": 1, "cmd": {}}',
             b'{"id": 1, "cmd": "echo", "args": {"n": {"n": {"n": 1}}}}', b'"\\ud800"',
             b'{"id": "\\u0000", "cmd": "ping"}', OVERFLOW]
    for line in lines:
        r = handle(line, TABLE, None)
        assert set(r) in ({"id", "ok", "result"}, {"id", "ok", "error"}), (line, r)
        if not r["ok"]:
            assert r["error"]["code"] in CODES, (line, r)
        encode(r)   # and every reply can go on the wire


def test_without_a_session_only_patient_commands_run():
    assert handle(b'{"id": 1, "cmd": "ping"}', TABLE, "ctx")["ok"] is True
    for line in (b'{"id": 2, "cmd": "echo", "args": {"n": 1}}', b'{"id": 3, "cmd": "boom"}'):
        r = handle(line, TABLE, "ctx")
        assert r["error"]["code"] == "auth_required", r
        assert r["error"]["role"] in ("clinician", "service"), r


def test_describe_lists_each_command_with_its_role_and_argument_names_sorted():
    assert TABLE.describe() == [
        {"name": "boom", "role": "service", "args": [], "types": {}, "required": [], "repeatable": False},
        {"name": "echo", "role": "clinician", "args": ["n", "note"], "types": {"n": "int", "note": "str"},
         "required": ["n"], "repeatable": False},
        {"name": "lookup", "role": "service", "args": [], "types": {}, "required": [], "repeatable": False},
        {"name": "ping", "role": "patient", "args": [], "types": {}, "required": [], "repeatable": False},
    ]


# ---- output --------------------------------------------------------------------------------

def test_encode_writes_one_json_line():
    msg = {"id": 1, "ok": True, "result": {"text": "two\nlines"}}
    data = encode(msg)
    assert data.endswith(b"\n") and data.count(b"\n") == 1, data
    assert json.loads(data) == msg


def test_an_event_names_itself_and_carries_its_data():
    assert event("state", {"state": "running"}) == {"event": "state", "data": {"state": "running"}}


def _big_message():
    table = [{"name": "c%d" % i, "args": ["a", "b"], "types": {"a": "int"}, "n": i * 1.5, "ok": None}
             for i in range(60)]
    return {"id": "x", "ok": True, "result": {"commands": table, "text": "two\nlines"}}


def test_write_message_sends_one_json_line_in_one_write_when_the_heap_allows():
    pieces = []
    write_message(_big_message(), pieces.append)
    assert pieces == [encode(_big_message())]


def test_write_message_falls_back_to_pieces_when_the_heap_has_no_block_for_the_whole_line():
    import pump.protocol as protocol
    real = protocol.encode

    def no_block(msg):
        raise MemoryError("memory allocation failed")
    protocol.encode = no_block
    try:
        pieces = []
        write_message({"id": 1, "ok": True, "result": {"n": 1}}, pieces.append)
    finally:
        protocol.encode = real
    assert json.loads(b"".join(pieces)) == {"id": 1, "ok": True, "result": {"n": 1}}


def test_write_in_pieces_sends_one_json_line_in_pieces_no_bigger_than_a_chunk_and_a_leaf():
    msg = _big_message()
    pieces = []
    write_in_pieces(msg, pieces.append)
    line = b"".join(pieces)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == json.loads(encode(msg))
    assert len(pieces) > 3
    leaf = max(len(encode(item)) for item in msg["result"]["commands"])   # one item goes whole
    assert max(len(p) for p in pieces) <= 512 + leaf, [len(p) for p in pieces]
