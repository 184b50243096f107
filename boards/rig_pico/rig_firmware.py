# The physical rig's firmware: the sim rig's line-JSON requests over USB serial, on a pinch valve, a scale and a power switch.
#
# The hardware is handed in (a PWM for the servo, an HX711-like scale, Pins for the pump's power
# and RUN), so the same code runs on a Pico and, with fakes, on the unix port in tests.
import json
import time

SERVO_PERIOD_US = 20000          # 50 Hz hobby servo
MAX_OFF_S = 60                   # power_on(off_s): the longest a request may hold the rig
RESET_PULSE_MS = 100             # RUN held low this long resets an RP2040


class RigFirmware:
    """One rig: handle(request) -> reply, with the sim rig's reply shape
    ({"id", "ok": true, "result"} or {"id", "ok": false, "error"})."""

    def __init__(self, cfg, servo, scale, power, reset=None, sleep_ms=None, ticks_ms=None):
        self.cfg = cfg
        self.servo = servo
        self.scale = scale
        self.power = power
        self.reset = reset
        # MicroPython's time functions on the board; a test (or CPython) hands its own in
        self.sleep_ms = sleep_ms or getattr(time, "sleep_ms", None)
        self.ticks_ms = ticks_ms or getattr(time, "ticks_ms", None)
        s = cfg["scale"]
        self.counts_per_g = float(s["counts_per_g"])
        self.tare_counts = s.get("tare_counts", 0)
        self.samples = s.get("samples", 4)
        self.density = float(s.get("density_g_ml", 1.0))
        self.on_level = cfg.get("power", {}).get("on_level", 1)
        self.fraction = 0.0
        self.powered = True
        self.stopping = False    # "repl" asked: serve returns after its reply (for a redeploy)
        self.features = ["occlude", "power", "scale", "status"]
        if reset is not None:
            self.features.append("reset_button")
        # a rig that restarts must never leave the line clamped or the pump unpowered: a test
        # that was running when it restarted sees an open line and a live pump, not a new fault
        self.release()
        self._set_power(True)
        if reset is not None:
            reset.value(1)

    # ---- the hardware ------------------------------------------------------------------

    def pulse_us(self, fraction):
        o = self.cfg["servo"]["open_us"]
        c = self.cfg["servo"]["closed_us"]
        return int(o + (c - o) * fraction + 0.5)

    def occlude(self, fraction=1.0):
        fraction = float(fraction)
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be 0 to 1")
        self.fraction = fraction
        self.servo.duty_u16(self.pulse_us(fraction) * 65535 // SERVO_PERIOD_US)
        return {"occluded": fraction}

    def release(self):
        return self.occlude(0.0)

    def _set_power(self, on):
        self.powered = on
        self.power.value(self.on_level if on else 1 - self.on_level)

    def power_cut(self):
        self._set_power(False)
        return {"power": False}

    def power_on(self, off_s=0):
        off_s = float(off_s)
        if not 0 <= off_s <= MAX_OFF_S:
            raise ValueError("off_s must be 0 to %d" % MAX_OFF_S)
        if off_s:
            self._set_power(False)
            self.sleep_ms(int(off_s * 1000))
        self._set_power(True)
        return {"power": True}

    def reset_button(self):
        if self.reset is None:
            raise ValueError("no pump_reset pin in rig.json")
        self.reset.value(0)
        self.sleep_ms(RESET_PULSE_MS)
        self.reset.value(1)
        return {"reset": True}

    def read_counts(self):
        total = 0
        for _ in range(self.samples):
            total += self.scale.read()
        return total / self.samples

    def scale_reading(self):
        grams = (self.read_counts() - self.tare_counts) / self.counts_per_g
        return {"grams": grams, "scale_ul": grams / self.density * 1000, "ms": self.ticks_ms()}

    def tare(self):
        self.tare_counts = self.read_counts()
        return {"tare_counts": self.tare_counts}

    def status(self):
        r = self.scale_reading()
        return {"rig": self.cfg.get("name", "rig"), "features": self.features,
                "occluded": self.fraction, "power": self.powered, "scale_ul": r["scale_ul"],
                "grams": r["grams"]}

    # ---- the protocol ------------------------------------------------------------------

    def handle(self, req):
        rid = req.get("id") if isinstance(req, dict) else None
        if not isinstance(req, dict) or not isinstance(req.get("cmd"), str):
            return {"id": rid, "ok": False, "error": "bad request: need {id, cmd, args}"}
        cmd = req["cmd"]
        args = req.get("args") or {}
        table = {"hello": lambda: {"rig": self.cfg.get("name", "rig"), "features": self.features},
                 "status": self.status, "scale": self.scale_reading, "tare": self.tare,
                 "occlude": self.occlude, "release": self.release, "power_cut": self.power_cut,
                 "power_on": self.power_on, "reset_button": self.reset_button,
                 "repl": self._to_repl}
        fn = table.get(cmd)
        if fn is None:
            return {"id": rid, "ok": False,
                    "error": "unsupported: this rig has no %s (it has: %s)"
                             % (cmd, ", ".join(self.features))}
        try:
            return {"id": rid, "ok": True, "result": fn(**args)}
        except (TypeError, ValueError, OSError) as e:
            return {"id": rid, "ok": False, "error": "%s: %s" % (cmd, e)}

    def _to_repl(self):
        self.stopping = True
        return {"repl": True}

    def serve(self, inp, out):
        """Answer one JSON line at a time until the input ends."""
        while True:
            line = inp.readline()
            if not line:
                return
            line = line.strip()
            if not line:
                continue
            try:
                req = json.loads(line)
            except ValueError:
                reply = {"id": None, "ok": False, "error": "bad json"}
            else:
                reply = self.handle(req)
            out.write(json.dumps(reply).encode() + b"\n")
            if hasattr(out, "flush"):
                out.flush()
            if self.stopping:
                return
