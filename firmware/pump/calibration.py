# The calibration (uL per step): board.json's nominal value, or the one measured on the bench and
# kept in its own file; and the calibration run, which moves N steps for a balance to weigh.
#
# Why its own file: deploy writes board.json (host_tools/deploy.py) and would overwrite a
# measured value; calibration.json is not a file deploy manages, so a measured calibration
# survives redeploys. It is written beside the old one and renamed into place; on FAT, where
# rename is remove-then-copy, a cut can leave only the new file under its temporary name, which
# boot then uses. A second line holds the CRC-32 of the first: a torn write (FAT can leave new
# bytes over old ones at the old length) never passes for a calibration. docs/calibration.md
# has the procedure.
#
# Pure logic and the storage driver's interface only: no clock, no hardware.
import binascii
import json

from pump.errors import TooLarge

FILE = "calibration.json"
TMP = "calibration.tmp"
MAX_BYTES = 512
VERSION = 1
BOUND_PCT = 20        # a measured value within this of board.json's is taken without `force`
MAX_UL_PER_STEP = 100  # the board schema's own bound
MAX_RUN_STEPS = 100000
BOARD = "board.json"


def check(value, board_value, force=False):
    """None when value may become the calibration, else the reason (readable)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0 < value <= MAX_UL_PER_STEP:
        return "ul_per_step must be a number in (0, %d], got %r" % (MAX_UL_PER_STEP, value)
    lo = board_value * (100 - BOUND_PCT) / 100
    hi = board_value * (100 + BOUND_PCT) / 100
    if not force and not lo <= value <= hi:
        return ("%.6g uL/step is more than %d%% from board.json's %.6g (%.6g..%.6g): check the "
                "measurement, or pass force if the pump head really differs"
                % (value, BOUND_PCT, board_value, lo, hi))
    return None


def _parse(data, board_value):
    """(value, doc) from a file's bytes, or raise ValueError with the reason."""
    nl = data.find(b"\n")
    body, crc = data[:nl], data[nl + 1:].strip()
    if nl < 0 or crc != _crc(body):
        raise ValueError("its check does not match (a torn write?)")
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeError):
        raise ValueError("not valid JSON")
    if not isinstance(doc, dict) or doc.get("v") != VERSION:
        raise ValueError("not a version %d calibration file" % VERSION)
    was = doc.get("board_ul_per_step")
    # compared with a tolerance: a board with single-precision floats rounds the JSON number
    if isinstance(was, bool) or not isinstance(was, (int, float)) \
            or abs(was - board_value) > board_value * 1e-6:
        raise ValueError("measured against board.json's %r uL/step, which is now %r: the pump "
                         "head changed, calibrate again" % (doc.get("board_ul_per_step"), board_value))
    value = doc.get("ul_per_step")
    why = check(value, board_value, doc.get("force") is True)
    if why is not None:
        raise ValueError(why)
    return value, doc


def load(storage, board_value):
    """The calibration to use at boot: (ul_per_step, source, problem).

    source is FILE (or TMP) when a measured value is in use, else BOARD; problem is None, or
    why a calibration file that exists could not be used (board.json's value is used then)."""
    if storage is None:
        return board_value, BOARD, None
    problems = []
    for name in (FILE, TMP):
        try:
            data = storage.read(name, MAX_BYTES)
        except (OSError, TooLarge) as e:
            problems.append("%s: cannot read: %s" % (name, e))
            continue
        if data is None:
            continue
        try:
            value, _ = _parse(data, board_value)
        except ValueError as e:
            problems.append("%s: %s" % (name, e))
            continue
        return value, name, None
    return board_value, BOARD, ("; ".join(problems) if problems else None)


def save(storage, value, board_value, force=False, note=None):
    """Write the calibration beside the old one, then rename it into place."""
    doc = {"v": VERSION, "ul_per_step": value, "board_ul_per_step": board_value,
           "force": bool(force)}
    if note:
        doc["note"] = note
    body = json.dumps(doc).encode()
    data = body + b"\n" + _crc(body) + b"\n"
    if len(data) > MAX_BYTES:
        raise TooLarge(FILE, len(data), MAX_BYTES)
    storage.write(TMP, data)
    storage.rename(TMP, FILE)


def _crc(body):
    return ("%d" % (binascii.crc32(body) & 0xFFFFFFFF)).encode()


class CalibrationRun:
    """N steps at a fixed rate from t0, a burst of at most one second's steps per call to due().

    Steps are counted from the start: a late loop pass catches up (within the burst cap) and
    the run never goes faster than its rate on average."""

    def __init__(self, steps, steps_per_h, now_ms):
        if steps < 1 or steps_per_h < 1:
            raise ValueError("a calibration run needs steps >= 1 and a rate >= 1 step/h")
        self.total = steps
        self.per_h = steps_per_h
        self.burst = steps_per_h // 3600 or 1
        self.t0 = now_ms
        self.done = 0

    def duration_ms(self):
        return -(-self.total * 3600000 // self.per_h)

    def due(self, now_ms):
        target = (now_ms - self.t0) * self.per_h // 3600000
        if target > self.total:
            target = self.total
        n = target - self.done
        if n > self.burst:
            n = self.burst
        return n if n > 0 else 0

    def taken(self, n):
        self.done += n

    def finished(self):
        return self.done >= self.total

    def next_due_ms(self):
        if self.finished():
            return None
        return self.t0 + -(-(self.done + 1) * 3600000 // self.per_h)

    def state(self, now_ms, pl_per_step):
        return {"steps": self.total, "done": self.done, "steps_per_h": self.per_h,
                "volume_ul": self.done * pl_per_step / 1000000,
                "elapsed_ms": now_ms - self.t0, "duration_ms": self.duration_ms()}
