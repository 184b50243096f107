"""Protocol fuzz: random and mutated frames at the board's serial link, with hypothesis.

Frames are random bytes, binary garbage, valid requests mutated (bit flips, truncation, bytes
duplicated, deleted or inserted), wrong types, missing and odd ids, huge numbers, deep nesting,
unicode, lines over 4096 bytes, \\r, Ctrl-C (0x03) and NUL bytes, JSON that is not an object,
blank lines. They go out in batches of BATCH frames, written in one go while a reader thread takes
the replies (pipelined, no round trip per frame); a sentinel request closes each batch, so every
reply before the sentinel's belongs to the batch and is matched to its line by position.

Every batch must hold what docs/protocol.md promises (its "Robustness" section):
- each newline-terminated line that is not blank (after the \\r are dropped) gets exactly one
  reply, in order; a line over 4096 bytes gets exactly one `line_too_long`; blank lines none;
- a reply to a line with a usable id (an int, or a string of up to 64 characters) carries it back;
  one to a line that is not a JSON object, or has no usable id, carries `"id": null`;
- the board never resets: no `boot` event, uptime keeps growing, reset_cause unchanged;
- frames cause no motor steps: stopped, the firmware's steps and the plant's rotor and scale do
  not move; delivering at a rate, the steps over the fuzz are rate x time within one step.

PUMP_PROTOCOL_FRAMES sets the number of frames (5,000 by default; `make soak` runs 100,000 on each
variant), PUMP_PROTOCOL_SEED the hypothesis seed (a run replays with the same seed and code).
"""
import collections
import json
import os
import time

from hypothesis import Phase, Verbosity, given, seed, settings
from hypothesis import strategies as st

import pytest

from host_tools.client import PumpClient

from hil_tests.rawlink import RawLink

# hypothesis reprs each batch (tens of kB) on a failure; the test prints its own summary
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")

FRAMES = int(os.environ.get("PUMP_PROTOCOL_FRAMES", "5000"))
SEED = int(os.environ.get("PUMP_PROTOCOL_SEED", "6"))
BATCH = 50
MAX_LINE = 4096          # firmware/pump/protocol.py: longer lines are discarded, one line_too_long
MAX_ID_LEN = 64
MAX_DEPTH = 32           # JSON nested deeper is refused with bad_json, unparsed
UL_PER_STEP = 0.1        # boards/sim/board.json
RATE_UL_H = 3600.0       # the delivering variant: 10 steps a second

# The fuzz link never proves a role, so every clinician and service command it sends, mutated or
# whole ({"id": 1, "cmd": "start"}), must be refused with auth_required: they are sent, and the
# step counts prove the refusal. Only the patient's own acting commands could act without a key;
# a line that might be one of those is filtered out before it is sent (_could_change_something).
READ_ONLY = ("hello", "commands", "status", "alarms", "log_read", "program_get", "program_summary")
CHANGING = ("alarm_silence", "bolus_demand")

# ---- frames ----------------------------------------------------------------------------------

TEMPLATES = [
    {"id": 1, "cmd": "status"},
    {"id": "abc", "cmd": "hello"},
    {"id": 42, "cmd": "log_read", "args": {"since": 0, "limit": 5}},
    {"id": 7, "cmd": "program_get", "args": {"index": 0}},
    {"id": "x-9", "cmd": "alarms"},
    {"id": 3, "cmd": "commands"},
    {"id": 11, "cmd": "program_summary"},
    # therapy-changing ones are sent and mutated too: without a role the pump must refuse them
    {"id": 5, "cmd": "set_rate", "args": {"rate_ul_h": 100}},
    {"id": 6, "cmd": "start"},
    {"id": 8, "cmd": "bolus_clinician", "args": {"dose": 0.5, "duration_min": 10}},
    {"id": 9, "cmd": "time_sync", "args": {"time_ms": 1767603600000}},
]

_json_scalars = (st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70)
                 | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
_json = st.recursive(_json_scalars, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
_odd_ids = st.sampled_from([None, True, False, 1.5, -0.0, [], {}, [1], "", "é" * 64, "é" * 65, "x" * 65,
                            10 ** 40, -10 ** 40, 2 ** 63, -1, 0, "\u0000", "\U0001F489", "\ud800"])
_ids = st.integers(-2 ** 40, 2 ** 40) | st.text(max_size=70) | _odd_ids
_huge = st.sampled_from([b"1e999", b"-1e999", b"1" * 400, b"-" + b"9" * 300, b"1e-999", b"0.000000001",
                         b"123456789012345678901234567890", b"NaN", b"Infinity", b"-0"])


def _dump(obj, compact):
    return json.dumps(obj, separators=(",", ":") if compact else None, ensure_ascii=False).encode(
        "utf-8", "surrogatepass")


@st.composite
def _mutated(draw):
    data = bytearray(_dump(draw(st.sampled_from(TEMPLATES)), draw(st.booleans())))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "dup", "delete", "insert", "replace"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[i:]
        elif kind == "dup":
            j = draw(st.integers(i, min(len(data), i + 8)))
            data[i:i] = data[i:j]
        elif kind == "delete":
            del data[i]
        else:
            b = draw(st.sampled_from([0x00, 0x03, 0x0D, 0x0A, 0x7B, 0x7D, 0x22, 0x5C, 0xFF, 0xC3])
                     | st.integers(0, 255))
            if kind == "insert":
                data.insert(i, b)
            else:
                data[i] = b
    return bytes(data) + b"\n"


@st.composite
def _wrong_types(draw):
    req = {}
    if draw(st.booleans()):
        req["id"] = draw(_ids)
    if draw(st.integers(0, 4)):
        req["cmd"] = draw(st.sampled_from(READ_ONLY + ("start", "set_rate", "service")) | st.text(max_size=10) | _json)
    if draw(st.booleans()):
        req["args"] = draw(_json | st.dictionaries(st.sampled_from(["since", "limit", "index", "x", "é"]),
                                                   _json, max_size=3))
    for _ in range(draw(st.integers(0, 2))):
        req[draw(st.text(max_size=5))] = draw(_json)
    return _dump(req, draw(st.booleans())) + b"\n"


@st.composite
def _huge_numbers(draw):
    num = draw(_huge)
    where = draw(st.sampled_from([b'{"id":%s,"cmd":"status"}', b'{"id":1,"cmd":"log_read","args":{"since":%s}}',
                                  b'{"id":2,"cmd":"program_get","args":{"index":%s}}', b'%s',
                                  b'{"id":3,"cmd":"log_read","args":{"limit":%s}}']))
    return where % num + b"\n"


@st.composite
def _deep(draw):
    n = draw(st.integers(1, 3000))
    kind = draw(st.sampled_from(["list", "dict", "args", "open"]))
    if kind == "list":
        body = b"[" * n + b"]" * n
    elif kind == "dict":
        body = b'{"a":' * n + b"1" + b"}" * n
    elif kind == "args":
        body = b'{"id":4,"cmd":"status","args":{"x":' + b"[" * n + b"]" * n + b"}}"
    else:
        body = b"[" * n   # never closed
    return body + b"\n"


@st.composite
def _overlong(draw):
    n = draw(st.integers(MAX_LINE - 2, 3 * MAX_LINE))
    fill = draw(st.sampled_from([b"x", b"\x00", b"\x03", b"{", b'{"id":1,"cmd":"status","pad":"', b"\r\x03"]))
    body = (fill * (n // len(fill) + 1))[:n]
    return body + draw(st.sampled_from([b"\n", b"\r\n", b'"}\n']))


_specials = st.sampled_from([
    b"\n", b"\r\n", b"\r\r\n", b" \n", b"\t\n", b"\x03\n", b"\x03\x03\x03\n", b"\x00\n", b"\x04\n",
    b"null\n", b"true\n", b"0\n", b'"status"\n', b"[]\n", b'[{"id":1,"cmd":"status"}]\n', b"{}\n",
    b'{"id":1}\n', b'{"cmd":"status"}\n', b'{"id":null,"cmd":"status"}\n', b'{"id":1,"cmd":null}\n',
    b'{"id":1,"cmd":"status","args":[]}\n', b'{"id":1,"cmd":"status","args":"x"}\n',
    b'{"id":1,"cmd":"status","args":{"x":1}}\n', b'{"id":1,"cmd":"status"}\x03\n',
    b'{"id":1,"cmd":"sta\rtus"}\n', b'{"id":1,"cmd":"status"}\r\n', b'\x03{"id":1,"cmd":"status"}\n',
    b'{"id":1,"cmd":"st\x00atus"}\n', b'{"id":"\xff\xfe","cmd":"status"}\n', b'{"id":"\xc3","cmd":"status"}\n',
    b'{"id":"\xed\xa0\x80","cmd":"status"}\n', b'{"id":"\\ud800","cmd":"status"}\n',
    b'{"id":"\\u00e9\\u2603","cmd":"hello"}\n', b'{"id":1,"cmd":"\\u0000"}\n',
    b'{"id":1,"cmd":"status"}{"id":2,"cmd":"status"}\n', b"\xef\xbb\xbf{\"id\":1,\"cmd\":\"status\"}\n",
    b'{"id":1,"cmd":"log_read","args":{"limit":0}}\n', b'{"id":1,"cmd":"log_read","args":{"limit":21}}\n',
    b'{"id":1,"cmd":"program_get","args":{"index":-1}}\n', b'{"id":1,"cmd":"program_get","args":{"index":99999}}\n',
])

frames = st.one_of(
    st.binary(max_size=120).map(lambda b: b + b"\n"),                      # random bytes, a line
    st.binary(min_size=1, max_size=60),                                     # garbage, no newline
    _mutated(), _mutated(), _mutated(),
    _wrong_types(), _wrong_types(),
    _huge_numbers(), _deep(), _overlong(), _specials,
    st.text(max_size=40).map(lambda s: s.encode("utf-8", "surrogatepass") + b"\n"),  # unicode
    _json.map(lambda v: _dump(v, True) + b"\n"),                           # JSON, mostly not objects
)

# ---- the documented behaviour, as a model ----------------------------------------------------

OVERLONG = object()


def expected_lines(data):
    """The lines the board answers, as docs/protocol.md says: split at \\n, every \\r dropped,
    blank lines skipped, a line over MAX_LINE bytes one OVERLONG. `data` ends with \\n."""
    out = []
    for raw in data.split(b"\n")[:-1]:
        line = raw.replace(b"\r", b"")
        if not line:
            continue
        out.append(OVERLONG if len(line) > MAX_LINE else line)
    return out


def _usable_id(line):
    """The id a reply must carry back, or None; NOTSURE where CPython's JSON cannot tell."""
    try:
        req = _strict_json(line)
    except ValueError:
        return NOTSURE   # not JSON to CPython; MicroPython's parser may differ (counted, not judged)
    except RecursionError:
        return NOTSURE
    if not isinstance(req, dict) or _depth(req) > MAX_DEPTH:
        return None   # deeper than the bound: refused with bad_json before it is parsed
    rid = req.get("id")
    if isinstance(rid, bool) or not isinstance(rid, (int, str)):
        return None
    if isinstance(rid, str) and len(rid) > MAX_ID_LEN:
        return None
    return rid


NOTSURE = object()


def _depth(v):
    """How deep arrays and objects nest in a parsed JSON value (iterative: it may be 2000 deep)."""
    deepest, todo = 0, [(v, 0)]
    while todo:
        x, d = todo.pop()
        if isinstance(x, (dict, list)):
            d += 1
            deepest = max(deepest, d)
            todo.extend((y, d) for y in (x.values() if isinstance(x, dict) else x))
    return deepest


def _refuse(name):
    raise ValueError("%s is not JSON" % name)


def _strict_json(line):
    """JSON as the board reads it: CPython's NaN and Infinity are not JSON, nor a leading BOM."""
    return json.loads(line.decode("utf-8"), parse_constant=_refuse)   # str: no BOM skipped either


def _could_change_something(line):
    """True for a line that might be a request to a patient command that acts: its name in quotes
    anywhere in it (with any byte mutated back to it), or CPython parses it as a request to one
    (escapes, duplicate keys)."""
    if any(b'"%s"' % name.encode() in line for name in CHANGING):
        return True
    try:
        req = json.loads(line)
    except (ValueError, RecursionError):
        return False
    if not isinstance(req, dict):
        return False
    cmd = req.get("cmd")
    return isinstance(cmd, str) and cmd in CHANGING


def _safe(batch):
    """The frames of a batch, less any that would make a line (joined with what came before it,
    as the board joins them) that might change something."""
    kept, data = [], b""
    for f in batch:
        tail = data[data.rfind(b"\n") + 1:] + f + b"\n"
        if any(line is not OVERLONG and _could_change_something(line) for line in expected_lines(tail)):
            continue
        kept.append(f)
        data += f
    return kept


# ---- the run ---------------------------------------------------------------------------------

class Figures:
    def __init__(self):
        self.frames = 0
        self.filtered = 0
        self.lines = 0
        self.bytes = 0
        self.codes = collections.Counter()
        self.notsure = collections.Counter()   # lines CPython cannot parse: what the board said
        self.t0 = time.monotonic()

    def report(self, name):
        took = time.monotonic() - self.t0
        print("\n%s: seed %d, %d frames (%d filtered out as possibly therapy-changing), %d lines, "
              "%.1f MB, %.1f s, %.0f frames/s" % (name, SEED, self.frames, self.filtered, self.lines,
                                                   self.bytes / 1e6, took, self.frames / took))
        print("  replies by code: %s" % ", ".join("%s %d" % kv for kv in sorted(self.codes.items())))
        print("  lines CPython's JSON refuses, answered by the board with: %s"
              % ", ".join("%s %d" % kv for kv in sorted(self.notsure.items())))


def _show(frames):
    return "[%s]" % ", ".join(repr(f[:60]) + ("...(%d bytes)" % len(f) if len(f) > 60 else "") for f in frames)


def _status(link):
    return link.result("status")


def _run_fuzz(link, check_status):
    """Send FRAMES frames in batches; check_status(before, after) judges delivery per batch."""
    figs = Figures()
    first = _status(link)
    state = {"last": first}

    @seed(SEED)
    # some frames are filtered out (CHANGING above): batches go on until FRAMES were sent
    @settings(max_examples=int(FRAMES / BATCH * 1.3) + 1, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], verbosity=Verbosity.quiet,
              suppress_health_check=list(_health_checks()))
    @given(st.lists(frames, min_size=BATCH, max_size=BATCH))
    def one_batch(batch):
        if figs.frames >= FRAMES:
            return
        kept = _safe(batch)
        figs.filtered += len(batch) - len(kept)
        data = b"".join(kept) + b"\n"          # a last newline: nothing pending after the batch
        want = expected_lines(data)
        start = len(link.replies)
        link.send(data)
        before = state["last"]
        after = link.request("status", timeout=60)   # the sentinel: its reply closes the batch
        got = link.replies[start:]
        got = got[:got.index(after)] if after in got else got
        where = "batch of %d frames: %s" % (len(kept), _show(kept))
        assert len(got) == len(want), "%d replies to %d lines; %s" % (len(got), len(want), where)
        for line, reply in zip(want, got):
            code = "ok" if reply.get("ok") else reply.get("error", {}).get("code")
            figs.codes[code] += 1
            if line is OVERLONG:
                assert code == "line_too_long" and reply["id"] is None, (reply, where)
                continue
            rid = _usable_id(line)
            if rid is NOTSURE:
                figs.notsure[code] += 1
                continue
            assert reply["id"] == rid, (line[:200], reply, where)
            if rid is None:
                assert code in ("bad_request", "bad_json"), (line[:200], reply)
        boots = [e for e in link.events if e["event"] == "boot"]
        assert not boots, "the board reset: %r; it printed %r; %s" % (boots, link.noise[-12:], where)
        assert not link.noise, link.noise[:5]
        assert after["ok"], after
        status = after["result"]
        assert status["reset_cause"] == first["reset_cause"], status
        assert status["uptime_s"] >= before["uptime_s"], (before, status)
        check_status(first, status)
        state["last"] = status
        figs.frames += len(kept)
        figs.lines += len(want)
        figs.bytes += len(data)

    one_batch()
    assert figs.frames >= FRAMES, figs.frames
    return figs, first, state["last"]


def _health_checks():
    from hypothesis import HealthCheck
    return [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
            HealthCheck.large_base_example]


def test_fuzzed_frames_never_reset_the_board_never_move_the_motor_and_each_line_gets_its_documented_reply(
        board, rig, sim_only):
    with RawLink(board.link) as link:
        link.request("hello")
        scale0, plant0 = rig.scale_ul(), rig.plant()

        def stopped(first, now):
            assert now["state"] == "stopped" and now["steps"] == first["steps"], now

        figs, first, last = _run_fuzz(link, stopped)
        plant1 = rig.plant()
        assert plant1["rotor_steps"] == plant0["rotor_steps"], (plant0, plant1)
        assert abs(rig.scale_ul() - scale0) < 0.01 + 1e-9, "the outlet moved with the pump stopped"
        assert last["uptime_s"] > first["uptime_s"]
        figs.report("protocol fuzz, pump stopped")


def test_fuzzed_frames_neither_add_nor_remove_delivery_while_the_pump_delivers_at_a_rate(board, rig, sim_only):
    with PumpClient(board.link, timeout=10.0) as clinician:   # proves the role, logs out on close
        clinician.request("set_rate", rate_ul_h=RATE_UL_H)
        clinician.request("start")
    with RawLink(board.link) as link:
        steps_per_s = RATE_UL_H / 3600 / UL_PER_STEP
        worst = [0.0]

        def at_rate(first, now):
            assert now["state"] == "running", now
            expected = (now["uptime_s"] - first["uptime_s"]) * steps_per_s
            off = now["steps"] - first["steps"] - expected
            worst[0] = max(worst[0], abs(off))
            assert abs(off) <= 1, "%d steps in %.3f s at %.1f steps/s" % (
                now["steps"] - first["steps"], now["uptime_s"] - first["uptime_s"], steps_per_s)

        figs, first, last = _run_fuzz(link, at_rate)
        assert last["uptime_s"] - first["uptime_s"] > 1
        figs.report("protocol fuzz, pump delivering at %.0f uL/h (worst step error %.2f)" % (RATE_UL_H, worst[0]))
