"""The dashboard's picture of the pump: each poll's replies as a snapshot, and the history it charts."""
import collections
import json
import time

from host_tools import watch
from host_tools.client import DeviceError, LinkError
from host_tools.program_io import wall_datetime
from host_tools.rig import RigError

RIG_STATUS_EVERY_S = 2.0   # the sim's speed: someone else may change it, but rarely
LOG_TAIL = 40
MS_PER_DAY = 86400000
PRESSURE_POINTS = 480      # the pressure trace is recent history: 2 minutes at 4 polls a second


class Trace:
    """(x, y...) points over a whole run in bounded memory: when full, every other point goes, so
    the start stays and the resolution halves (a week at 10000x still fits)."""

    def __init__(self, cap=1200):
        self.cap = cap
        self.points = []
        self._keep_every = 1
        self._seen = 0

    def add(self, point):
        self._seen += 1
        if (self._seen - 1) % self._keep_every:
            if self.points:
                self.points[-1] = point     # the newest point always shows
            return
        self.points.append(point)
        if len(self.points) > self.cap:
            self.points = self.points[::2]
            self._keep_every *= 2

    def clear(self):
        self.points, self._keep_every, self._seen = [], 1, 0


def event_time(rec):
    t = rec.get("t")
    if t is None:
        return "up %s" % watch.duration_text(rec.get("up", 0))
    return wall_datetime(t).strftime("%a %H:%M:%S")


def event_detail(rec):
    """A record of the event log as a few words (docs/persistence.md lists the kinds)."""
    k = rec.get("k")
    if k == "command":
        return "%s %s" % (rec.get("cmd"), "ok" if rec.get("ok") else "refused: %s" % rec.get("error"))
    if k == "state":
        return str(rec.get("state"))
    if k == "alarm":
        return "%s %s (%s)" % (rec.get("name"), rec.get("change"), rec.get("priority"))
    if k == "bolus":
        return "%s bolus %.1f uL" % (rec.get("kind"), (rec.get("volume_nl") or 0) / 1000.0)
    if k == "program":
        return "%s %s" % (rec.get("name") or "cleared", (rec.get("digest") or "")[:8])
    if k == "refill":
        return "to %.2f mL, residual %+.1f%% off" % (rec.get("volume_ml") or 0, rec.get("discrepancy_pct") or 0)
    if k == "day":
        want = rec.get("programmed_ul")
        return "delivered %.1f uL%s" % (rec.get("delivered_ul") or 0,
                                        "" if want is None else " of %.1f uL programmed" % want)
    if k == "boot":
        return "reset: %s%s" % (rec.get("reset_cause"), "  crash: %s" % rec["crash"] if rec.get("crash") else "")
    if k == "time":
        return "clock set"
    if k == "auth":
        return "role %s" % rec.get("role")
    if k == "auth_end":
        return "role %s ended (%s)" % (rec.get("role"), rec.get("why"))
    rest = dict((a, b) for a, b in rec.items() if a not in ("seq", "boot", "up", "t", "k"))
    return json.dumps(rest, sort_keys=True)[:60]


class Model:
    """Polls the pump (and the sim's rig) into snapshots; keeps the charts' history.

    The link may go away (a power cut, a reset, a pulled cable): poll() then says
    "reconnecting" in the snapshot and tries again on the next poll, never raising.
    """

    def __init__(self, connect, rig_connect=None, clock=time.monotonic):
        self._connect = connect            # () -> PumpClient
        self._rig_connect = rig_connect    # () -> SimRig, or None on a real board
        self.clock = clock
        self.client = None
        self.rig = None
        self.hello = None
        self.capacity = None
        self.problem = None                # why the link is down, while it is
        self.log_seq = None
        self.log_tail = collections.deque(maxlen=LOG_TAIL)
        self.volume = Trace()              # (program t_ms, delivered uL, programmed uL, scale uL)
        self.pressure = collections.deque(maxlen=PRESSURE_POINTS)   # (sim or uptime s, kPa)
        self.programmed = None             # host_tools.programmed.Programmed of the pump's program
        self.program_doc = None
        self.program_key = None            # (digest, start_wall_ms) the history belongs to
        self.base_delivered = None         # the pump's delivered_ul when the program started
        self.base_scale = None
        self._pinned = None
        self._doc_digest = None            # the digest program_doc was read for
        self._programmed_for = None        # (digest, start_wall_ms) programmed was built for
        self.summary = None
        self._summaries = watch.SummaryCache(clock)
        self._rig_status = None
        self._rig_at = -1e9
        self.speed = None

    # ---- the link ----------------------------------------------------------------------------
    def _ensure(self):
        if self.client is None:
            self.client = self._connect()
            self.hello = self.client.hello()
            self.capacity = watch.board_capacity_ul(self.hello.get("board"))
            if self.log_seq is None:
                # the tail starts a few records back, so the panel is not empty at first
                last = self.client.request("log_read", since=0, limit=1).get("last") or 0
                self.log_seq = max(last - 8, 0)
        if self.rig is None and self._rig_connect is not None:
            self.rig = self._rig_connect()

    def drop(self, why):
        self.problem = why
        for name in ("client", "rig"):
            link = getattr(self, name)
            setattr(self, name, None)
            try:
                if link is not None:
                    link.close()
            except Exception:       # closing a dead link can fail every way; it is gone anyway
                pass

    def close(self):
        self.drop(None)

    @property
    def is_sim(self):
        return self._rig_connect is not None

    # ---- one poll ----------------------------------------------------------------------------
    def poll(self):
        """A snapshot: {"status", "alarms", "summary", "hello", "capacity_ul", "scale_ul",
        "programmed_ul", "delivered_since_ul", "events" (new this poll), "speed", "problem"}.
        "status" is None while the link is down."""
        try:
            self._ensure()
            snap = self._take()
            self.problem = None
            return snap
        except (LinkError, RigError, OSError, ValueError) as e:
            # ValueError: a reply cut by a reset is not JSON; the next poll starts afresh
            self.drop("reconnecting: %s" % " ".join(str(e).split()))
            return {"status": None, "problem": self.problem, "hello": self.hello, "speed": self.speed,
                    "log_tail": list(self.log_tail)}

    def _take(self):
        c = self.client
        now = self.clock()
        status = c.request("status")
        snap = {"status": status, "hello": self.hello, "capacity_ul": self.capacity, "problem": None}
        snap["alarms"] = c.request("alarms") if status.get("alarms") else {"alarms": []}
        prog = status.get("program") or {}
        digest = prog.get("digest")
        self.summary = snap["summary"] = self._summaries.get(c, digest)
        if digest is None:
            self.programmed = self._programmed_for = None
        elif (digest, prog.get("start_wall_ms")) != self._programmed_for:
            self._load_program(digest, prog)
        snap["events"] = self._read_log()
        snap["log_tail"] = list(self.log_tail)
        if self.rig is not None:
            snap["scale_raw_ul"] = self.rig.scale_ul()
            if now - self._rig_at >= RIG_STATUS_EVERY_S:
                self._rig_status, self._rig_at = self.rig.status(), now
                self.speed = self._rig_status.get("speed")
        snap["speed"] = self.speed
        self._chart(snap)
        return snap

    def _load_program(self, digest, prog):
        """The programmed line for this program and start: the document is read from the pump
        only for a new digest, and a failure is kept, not retried on every poll."""
        from host_tools.program_io import download
        from host_tools.programmed import Programmed, ProgramInvalid
        if digest != self._doc_digest:
            self.program_doc, _ = download(self.client)
            self._doc_digest = digest
        doc = self.program_doc
        self._programmed_for = (digest, prog.get("start_wall_ms"))
        try:
            self.programmed = None if doc is None else Programmed(doc, self.hello.get("board"),
                                                                  prog["start_wall_ms"])
        except (ProgramInvalid, KeyError, ValueError):
            self.programmed = None      # a board this host has no file for: no programmed line

    def refresh_summary(self):
        """Ask program_summary on the next poll (after a refill the projection moves)."""
        self._summaries.refresh()

    def _read_log(self):
        page = self.client.request("log_read", since=self.log_seq, limit=20)
        recs = page.get("records") or []
        if recs:
            self.log_seq = recs[-1]["seq"]
            self.log_tail.extend(recs)
        elif page.get("last") is not None and page["last"] < self.log_seq:
            self.log_seq = page["last"]     # the log was wiped (a new flash): follow it
        return recs

    def _chart(self, snap):
        """The chart's point for this poll. Delivered counts from the program's start: the pump's
        delivered_ul counts since its flash was new, so the count when the program started is
        taken off. Joining a program already running, the dashboard cannot know that count, and
        takes the program as on track when it joined (docs/dashboard.md says so)."""
        status = snap["status"]
        x_s = status.get("sim_time_s", status.get("uptime_s", 0.0))
        if "pressure_kpa" in status:
            self.pressure.append((x_s, status["pressure_kpa"]))
        prog = status.get("program") or {}
        key = (prog.get("digest"), prog.get("start_wall_ms"))
        t_ms = prog.get("t_ms")
        programmed = None
        if self.programmed is not None and t_ms is not None:
            programmed = self.programmed.volume_ul(t_ms)
        if key != self.program_key:
            self.program_key = key
            self.volume.clear()
            pinned, self._pinned = self._pinned, None
            if pinned is not None and key[0] is not None:
                self.base_delivered, self.base_scale = pinned
            else:
                self.base_delivered = status["delivered_ul"] - (programmed or 0.0)
                self.base_scale = None
        delivered = status["delivered_ul"] - self.base_delivered
        scale = None
        if snap.get("scale_raw_ul") is not None:
            if self.base_scale is None:
                self.base_scale = snap["scale_raw_ul"] - delivered
            scale = snap["scale_raw_ul"] - self.base_scale
        if self.programmed is not None and t_ms is not None:
            wall = self.programmed.start_wall_ms + t_ms
            snap["day_steps"] = self.programmed.day_steps(t_ms)
            snap["day_boluses"] = self.programmed.day_boluses(t_ms)
            snap["day_ms"] = wall % MS_PER_DAY
        x = t_ms if t_ms is not None else x_s * 1000.0
        self.volume.add((x, delivered, programmed, scale))
        snap.update(programmed_ul=programmed, delivered_since_ul=delivered, scale_ul=scale, chart_x_ms=x)

    def pin_program_start(self, delivered_ul, scale_ul=None):
        """The demo starts the program itself, so it knows the counts at its start: the next
        program the dashboard meets counts from them."""
        self._pinned = (delivered_ul, scale_ul)

    def request(self, cmd, **args):
        """A command for a key: through the live client, or a LinkError while reconnecting."""
        if self.client is None:
            raise LinkError(self.problem or "not connected")
        try:
            return self.client.request(cmd, **args)
        except DeviceError:
            raise
        except (LinkError, OSError, ValueError) as e:
            self.drop("reconnecting: %s" % " ".join(str(e).split()))
            raise LinkError(str(e))
