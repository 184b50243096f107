"""What each dashboard key does to the pump and the sim's rig, and the line it leaves in the message bar."""
from host_tools.client import DeviceError, LinkError
from host_tools.rig import RigError

SPEEDS = (1, 10, 60, 600, 3600, 10000)
SIM_ONLY = "sim only: needs the simulated board's rig"
KEY_HELP = (("b", "demand bolus"), ("o", "occlude"), ("c", "clear"), ("+/-", "speed"),
            ("f", "refill"), ("a", "acknowledge"), ("s", "start/stop"), ("q", "quit"))
QUIT = "quit"


def step_speed(current, up):
    """The next speed on the ladder above (up) or below the current one; None at the end. A speed
    off the ladder (a sim started at x42 or 'max') goes to the nearest one that way."""
    try:
        now = float(current)
    except (TypeError, ValueError):
        now = float("inf")          # "max": only slower makes sense
    if up:
        faster = [s for s in SPEEDS if s > now]
        return faster[0] if faster else None
    slower = [s for s in SPEEDS if s < now]
    return slower[-1] if slower else None


def speed_text(speed):
    if speed is None:
        return "real time"
    try:
        return "x%g" % float(speed)
    except (TypeError, ValueError):
        return "x%s" % speed


class Keys:
    """handle(key) -> the message line (or QUIT). model: a dashboard Model (its request() and
    rig); every refusal and lost link becomes a message, never an exception."""

    def __init__(self, model):
        self.model = model

    def handle(self, key):
        action = {"b": self.bolus, "o": self.occlude, "c": self.clear, "+": self.faster, "=": self.faster,
                  "-": self.slower, "_": self.slower, "f": self.refill, "a": self.acknowledge,
                  "s": self.start_stop, "q": lambda: QUIT, "Q": lambda: QUIT, "eof": lambda: QUIT}.get(key)
        if action is None:
            return None if key in (None, "esc") else "key %r does nothing: %s" % (key, help_line())
        try:
            return action()
        except DeviceError as e:
            return "refused: %s" % _reason(e)
        except (LinkError, RigError) as e:
            return "not done: %s" % " ".join(str(e).split())

    def _status(self):
        return self.model.request("status")

    def bolus(self):
        try:
            r = self.model.request("bolus_demand")
        except DeviceError as e:
            return "demand bolus refused: %s" % _reason(e)
        return "demand bolus given: %.1f uL over %d min" % (r["volume_nl"] / 1000.0,
                                                            round((r["ends_ms"] - r["starts_ms"]) / 60000.0))

    def _rig(self):
        if self.model.rig is None:
            return None
        return self.model.rig

    def occlude(self):
        rig = self._rig()
        if rig is None:
            return SIM_ONLY
        rig.occlude(1.0)
        return "line occluded (sim): watch the pressure and both detectors"

    def clear(self):
        rig = self._rig()
        if rig is None:
            return SIM_ONLY
        rig.release()
        return "occlusion cleared (sim): acknowledge the alarm (a), then start (s)"

    def _speed(self, up):
        rig = self._rig()
        if rig is None:
            return SIM_ONLY
        current = rig.status().get("speed")
        new = step_speed(current, up)
        if new is None:
            return "already at %s, the %s" % (speed_text(current), "fastest" if up else "slowest")
        got = rig.set_speed(new).get("speed", new)
        self.model.speed = got
        return "simulated time now %s" % speed_text(got)

    def faster(self):
        return self._speed(True)

    def slower(self):
        return self._speed(False)

    def acknowledge(self):
        reply = self.model.request("alarms")
        todo = [a["code"] for a in reply.get("alarms") or [] if not a.get("acknowledged")]
        if not todo:
            return "no alarm to acknowledge"
        done, refused = [], []
        for code in todo:
            try:
                self.model.request("alarm_ack", code=code)
                done.append(code)
            except DeviceError as e:
                refused.append("%s (%s)" % (code, _reason(e)))
        out = "acknowledged: %s" % ", ".join(done) if done else ""
        if refused:
            out += ("; " if out else "") + "not acknowledged: %s" % ", ".join(refused)
        return out

    def start_stop(self):
        if self._status()["state"] == "running":
            self.model.request("stop")
            return "stopped"
        try:
            self.model.request("start")
        except DeviceError as e:
            return "start refused: %s" % _reason(e)
        return "started"

    def refill(self):
        """A refill to full, recorded as a nurse would: the residual aspirated is what the pump
        counts (so no discrepancy), the new volume is the reservoir's capacity. On the sim the
        plant's reservoir is filled to match. The pump refuses refills while delivering, so it
        stops first and starts again after."""
        status = self._status()
        capacity = _capacity_ul(self.model, status)
        if not capacity:
            return "refill: the reservoir's capacity is unknown (no program and no board file)"
        was_running = status["state"] == "running"
        if was_running:
            self.model.request("stop")
        try:
            r = self.model.request("refill", volume_ml=capacity / 1000.0,
                                   residual_ml=status["reservoir_ul"] / 1000.0)
            rig = self._rig()
            if rig is not None:
                rig.fill_reservoir(capacity)
        finally:
            if was_running:
                try:
                    self.model.request("start")
                except DeviceError:
                    pass        # said below: the state shows stopped
        self.model.refresh_summary()
        out = "refilled to %.1f mL (residual %.3f mL, %+.1f%% of expected)" % (
            r["volume_ml"], r["measured_ml"], r["discrepancy_pct"])
        if rig is None:
            out += "; fill the real reservoir to match"
        return out + ("; delivery restarted" if was_running else "")


def _capacity_ul(model, status):
    snap = {"summary": model.summary, "capacity_ul": model.capacity, "status": status}
    from host_tools import watch
    return watch.capacity_ul(snap)


def _reason(e):
    """The pump's own words for a refusal, with its code."""
    return "%s (%s)" % (e.message or e.code, e.code)


def help_line():
    return "  ".join("%s %s" % k for k in KEY_HELP)
