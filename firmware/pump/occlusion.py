# Occlusion detectors: a pressure-threshold baseline and a model-based step-response detector.
#
# Both are pure logic: the control loop hands them `now` (board ms, int), the steps it commanded
# and the pressure readings they asked for; they read no clock and touch no hardware. Both have
# the same five calls:
#
#   on_steps(now_ms, n)       n pump steps were just commanded
#   sample_due_ms(now_ms)     board ms of the next pressure reading wanted (<= now: read now),
#                             or None while no reading is needed
#   on_pressure(now_ms, kpa)  a reading, taken as close to the asked time as the loop could
#   state()                   {"occluded", "undelivered_ul", "reason", ...} (a new dict)
#   clear(now_ms)             the user acknowledged / the line was cleared: restart from scratch
#
# An alarm latches (occluded stays True) until clear().
#
# The line, as the detectors see it (DESIGN.md, plant model): each step of v uL raises the line
# pressure by a = v / C (C = compliance, uL/kPa). An open line drains that pulse back to the
# outlet's back-pressure with tau = R * C; a partly obstructed line drains it more slowly (R grows);
# a blocked line never drains it, so its pressure climbs by a per step.
#
# ThresholdDetector is what commercial pumps do: alarm when the pressure has risen threshold_kpa
# above its baseline. It is simple, and slow at low rates: the line must store threshold_kpa * C of
# undelivered drug before it trips (40 kPa * 0.5 uL/kPa = 20 uL = 200 steps on the sim board).
#
# StepResponseDetector watches what each step does to the pressure instead of how high it gets.
# It runs the open-line model m (every step adds a, m decays with tau) and subtracts it from each
# reading: c = P - m. For an open line c is just the back-pressure, flat whatever the rate, even
# when pulses overlap; every pulse a blocked line fails to drain shows up as a rise of c. A second
# model mt decays with the slowest time constant still counted as delivering,
# tau_max = tolerate_r_factor * tau: D = mt - m is how much more a line that slow could be holding
# than an open one. The evidence of occlusion is a CUSUM, U in kPa (U * C is the volume held back
# beyond what a tolerated line would hold):
#
#   U += dL - dD - drift_allowance * dt      U = max(U, 0); U == 0 re-anchors mt to m (D = 0)
#
# L is the median of the last three accepted c readings. An open or tolerated line keeps U at 0;
# a blocked one adds about a per step (spread over 5 tau_max at low rates; at high rates U grows
# at the pump's own Q / C once the tolerated line would be full). Alarm at U >= alarm_after_ul / C.
# Robust parts, and why:
#   - noise: median of 3 readings sample_ms apart. The default alarm (0.8 kPa) is 1.8 x the
#     largest U (0.45 kPa, 9 x the sensor noise) that noise, coughs and drift produced in 28 runs
#     of 30 simulated days (host_tools/bench_occlusion); on another line keep alarm_after_ul
#     above 16 x sensor noise (kPa) x C;
#   - coughs, posture: the line follows a back-pressure spike with its own tau, so one spike can
#     spoil several readings. A reading that rose more than the pump can have raised it since the
#     last one (1.5 x the open model's drain, in case pulse_kpa_per_ul is set low, plus
#     noise_margin_kpa) is back-pressure: it and the readings of the next 5 tau are dropped and
#     the level restarts, so whatever back-pressure step is left is never counted;
#   - drift: drift_allowance_kpa_per_h is taken off U while steps are being watched, so slow drift
#     never adds up; a blocked line rises far faster (a per step interval) at every rate where the
#     steps come within 5 tau_max of each other;
#   - very low rates: with no step for 5 tau_max the detector is idle: U is held and level changes
#     are drift, not counted, except that a fall of L by the next step is credited (a slow line
#     finishing its drain). So a step every quarter of an hour still gives drift-free evidence.
# What it tolerates: any partial obstruction with tau' <= tau_max, at any rate; a slower one until
# the volume it holds back, Q * (tau' - tau_max), passes alarm_after_ul (sim board: an R x 50 line
# holds back 0.2 uL at 0.5 mL/day, no alarm; 7 uL at 0.5 mL/h, alarm).
# What it cannot tell from an occlusion: a back-pressure rise as fast as the pump's own (Q / C).
#
# Motor stall: StallGuard-type (back-EMF) detection needs speed and is meaningless at infusion step
# rates. A stalled motor delivers nothing and raises no pressure, so these detectors do not see
# it: a board's encoder does (pump/stall.py), and without one only the refill reconciliation.
#
# Cost: a reading every sample_ms while steps are watched (0.5 Hz by default), every
# idle_sample_ms between sparse steps, none an idle_hold_s after the last step (the first step
# after that only anchors the level). Per reading and per step: two exp() and a few dozen float
# operations, no list or dict built. Floats are fine here: the pressure is a float reading.
import math

_exp = math.exp

# Defaults fit boards/sim/board.json (C = 0.5 uL/kPa, R = 2 kPa*s/uL, 0.1 uL/step, sensor noise
# 0.05 kPa); board_config.py takes its schema defaults from here. How to measure a real line:
#   pulse_kpa_per_ul (1/C): block the line right at the outlet, deliver 20 steps, divide the
#     pressure rise by the volume (20 * ul_per_step); release.
#   line_tau_s (R * C): run at a steady rate Q (uL/s) until the pressure settles; the mean rise
#     above the resting pressure is Q * R, so tau = rise * C / Q. Cross-check: deliver a burst of
#     10 steps into a line at rest and time the fall of the excess to 37 % of its peak.
DEFAULTS = {
    # ThresholdDetector: 40 kPa (300 mmHg, a common "low" setting of commercial syringe pumps)
    # sits above what a delivering line reaches on the sim board: an R x 10 obstruction at the
    # board's 5 mL/h maximum holds 28 kPa, coughs add 5 kPa, back-pressure wanders a few kPa.
    "threshold_kpa": 40.0,
    "threshold_sample_ms": 2000,     # one reading per period, only while steps are commanded
    "line_tau_s": 1.0,               # the open line's time constant R * C
    "pulse_kpa_per_ul": 2.0,         # 1 / C
    "tolerate_r_factor": 10.0,       # a line whose R grew this much still counts as delivering
    "alarm_after_ul": 0.4,           # undelivered beyond tolerance: 4 steps on the sim board
    "drift_allowance_kpa_per_h": 3.0,   # above the 1-2 kPa/h of slow back-pressure drift
    # 3.5 sigma of the difference of two readings of a 0.05 kPa sensor; a good reading dropped by
    # mistake costs only a few seconds
    "noise_margin_kpa": 0.25,
    "sample_ms": 2000,               # reading spacing while watching steps (median of 3 spans 4 s)
    "idle_sample_ms": 10000,         # reading spacing between steps: keeps a fresh pre-step level
    "idle_hold_s": 3600,             # stop sampling this long after the last step
}


def settings(cfg):
    """The occlusion settings: cfg (board.json's occlusion section, or part of it) over DEFAULTS."""
    out = dict(DEFAULTS)
    if cfg:
        for k in cfg:
            out[k] = cfg[k]
    return out


def detectors(board):
    """Both detectors for a cleaned board config: (ThresholdDetector, StepResponseDetector)."""
    cfg = board.get("occlusion")
    return (ThresholdDetector(cfg), StepResponseDetector(cfg, board["calibration"]["ul_per_step"]))


def _med3(a, b, c):
    if a > b:
        a, b = b, a
    if b > c:
        b = c
    return a if a > b else b


class ThresholdDetector:
    """Alarm when the median of the last 3 readings is threshold_kpa above the baseline.

    The baseline is the lowest median seen since start or clear(), so it follows the line down but
    never up: a slow rise is counted, a single cough reading is not (median). Pressure only rises
    from pumping, so readings are taken at most every threshold_sample_ms and only when steps were
    commanded since the last one (at 0.1 mL/day that is one reading per step).
    """

    def __init__(self, cfg=None):
        s = settings(cfg)
        self._limit = float(s["threshold_kpa"])
        self._period = int(s["threshold_sample_ms"])
        self._kpa_per_ul = float(s["pulse_kpa_per_ul"])
        self._last_read = None
        self.clear(0)

    def clear(self, now_ms):
        self._pending = False
        self._n = 0
        self._r0 = self._r1 = self._r2 = 0.0
        self._base = None
        self._level = None
        self.occluded = False
        self._reason = ""

    def on_steps(self, now_ms, n):
        if n > 0:
            self._pending = True

    def sample_due_ms(self, now_ms):
        if not self._pending:
            return None
        if self._last_read is None:
            return now_ms
        return self._last_read + self._period

    def on_pressure(self, now_ms, kpa):
        if self._last_read is not None and now_ms - self._last_read < self._period // 2:
            return   # not asked for: readings closer together would let one cough fill the median
        self._pending = False
        self._last_read = now_ms
        self._r0, self._r1, self._r2 = self._r1, self._r2, kpa
        if self._n < 3:
            self._n += 1
            if self._n < 3:
                return
        level = _med3(self._r0, self._r1, self._r2)
        self._level = level
        if self._base is None or level < self._base:
            self._base = level
        rise = level - self._base
        if not self.occluded and rise >= self._limit:
            self.occluded = True
            self._reason = ("pressure %.1f kPa above its baseline %.1f kPa (threshold %.1f kPa)"
                            % (rise, self._base, self._limit))

    def state(self):
        rise = 0.0 if self._level is None else self._level - self._base
        return {"occluded": self.occluded, "undelivered_ul": rise / self._kpa_per_ul,
                "reason": self._reason, "rise_kpa": rise, "baseline_kpa": self._base}


class StepResponseDetector:
    """Alarm when the line holds back more than alarm_after_ul beyond what a tolerated line could.

    See the module comment for the model. Sampling: every sample_ms while steps are being watched
    (from a step until 5 * tau_max after the last one), every idle_sample_ms between steps for up
    to idle_hold_s, then None until the next step.
    """

    def __init__(self, cfg, ul_per_step):
        s = settings(cfg)
        self._kpa_per_ul = float(s["pulse_kpa_per_ul"])
        self._a = ul_per_step * self._kpa_per_ul
        tau_ms = float(s["line_tau_s"]) * 1000.0
        self._tau_tol_ms = tau_ms * float(s["tolerate_r_factor"])
        self._inv_tau = 1.0 / tau_ms
        self._inv_tau_tol = 1.0 / self._tau_tol_ms
        self._h = float(s["alarm_after_ul"]) * self._kpa_per_ul
        self._kappa = float(s["drift_allowance_kpa_per_h"]) / 3600000.0   # kPa per ms
        self._gate = float(s["noise_margin_kpa"])
        self._sample_ms = int(s["sample_ms"])
        self._idle_ms = int(s["idle_sample_ms"])
        self._hold_ms = int(s["idle_hold_s"] * 1000)
        # after 5 tau_max a tolerated pulse is down to 0.7 %: nothing left to watch
        self._watch_ms = int(5 * self._tau_tol_ms)
        # readings further apart than this no longer describe the same back-pressure
        self._stale_ms = 2 * self._idle_ms + self._sample_ms
        # the line follows a back-pressure spike with its own tau: 5 tau for the tail to die out
        self._quiet_ms = int(5 * tau_ms)
        self._quiet_until = 0
        self._t = None           # time the line models were last advanced to
        self._m = 0.0            # open-line model: pressure above back-pressure, kPa
        self._mt = 0.0           # tolerated-line model (tau_max), same units
        self._drain = 0.0        # open-model drain since the last accepted reading, kPa
        self._last_step = None
        self._last_read = None   # last reading handed in
        self._t_ref = 0          # last reading accepted into the ring
        self._n = 0              # readings in the ring (up to 3)
        self._r0 = self._r1 = self._r2 = 0.0
        self._watching = False
        self._level = None       # L at the last evaluation (None: re-anchor at the next level)
        self._d_prev = 0.0       # D at the last evaluation
        self._t_eval = 0
        self._idle_level = None  # L when watching stopped, for the fall credited at the next step
        self.clear(0)

    def clear(self, now_ms):
        self._u = 0.0
        self._held_steps = 0     # steps since U last left 0
        self._mt = self._m
        self._d_prev = 0.0
        self._idle_level = None
        self.occluded = False
        self._reason = ""

    def _advance(self, t):
        if self._t is None:
            self._t = t
            return
        dt = t - self._t
        if dt > 0:
            m = self._m
            self._m = m * _exp(-dt * self._inv_tau)
            self._drain += m - self._m
            self._mt *= _exp(-dt * self._inv_tau_tol)
            self._t = t

    def on_steps(self, now_ms, n):
        if n <= 0:
            return
        self._advance(now_ms)
        if not self._watching:
            # a new watch starts from the level just before these steps
            if self._n == 3 and now_ms - self._t_ref <= self._stale_ms:
                level = _med3(self._r0, self._r1, self._r2)
                if self._idle_level is not None and level < self._idle_level and self._u > 0.0:
                    # a slow (partly obstructed) line finished draining while we were not watching
                    self._u = max(0.0, self._u + level - self._idle_level)
                self._level = level
            else:
                self._restart()
            if self._u <= 0.0:
                self._mt = self._m
            self._d_prev = self._mt - self._m
            self._t_eval = now_ms
            self._watching = True
        pulse = n * self._a
        self._m += pulse
        self._mt += pulse
        self._held_steps += n
        self._last_step = now_ms

    def sample_due_ms(self, now_ms):
        if self._last_step is None:
            return None
        if self._watching:
            period = self._sample_ms
        elif now_ms - self._last_step < self._hold_ms:
            period = self._idle_ms
        else:
            return None
        if self._last_read is None:
            return now_ms
        due = self._last_read + period
        return due if due > self._quiet_until else self._quiet_until

    def on_pressure(self, now_ms, kpa):
        if self._last_read is not None and now_ms - self._last_read < self._sample_ms // 2:
            return   # not asked for: readings closer together would let one cough fill the median
        self._advance(now_ms)
        self._last_read = now_ms
        if now_ms < self._quiet_until:
            return   # still inside a disturbance: the line has not settled back yet
        c = kpa - self._m
        if self._n and now_ms - self._t_ref > self._stale_ms:
            self._restart()
        if self._n and c - self._r2 > 1.5 * self._drain + self._gate:
            # a rise the pump cannot have caused since the last reading: back-pressure (a cough,
            # a change of posture). Its tail lasts a few tau; the level then restarts from scratch
            # so that whatever back-pressure is left is not counted as held volume.
            self._quiet_until = now_ms + self._quiet_ms
            self._restart()
            return
        self._drain = 0.0
        self._t_ref = now_ms
        self._r0, self._r1, self._r2 = self._r1, self._r2, c
        if self._n < 3:
            self._n += 1
        if not self._watching:
            return
        if now_ms - self._last_step >= self._watch_ms:
            self._watching = False   # this reading still counts; the next ones only keep the ring
        if self._n < 3:
            if not self._watching:
                self._idle_level = None
            return   # a level needs three readings: one of them may be a cough
        level = _med3(self._r0, self._r1, self._r2)
        d = self._mt - self._m
        if self._level is not None:
            u = self._u + (level - self._level) - (d - self._d_prev) \
                - self._kappa * (now_ms - self._t_eval)
            if u <= 0.0:
                u = 0.0
                self._mt = self._m   # the line drains like an open one: re-anchor the tolerance
                d = 0.0
                self._held_steps = 0
            self._u = u
        elif self._u <= 0.0:
            # the first level of a watch: nothing is held, so the tolerance starts here too (left
            # from before the level, a stop soon after would count its slower drain as held)
            self._mt = self._m
            d = 0.0
        self._level = level
        self._d_prev = d
        self._t_eval = now_ms
        if not self.occluded and self._u >= self._h:
            self.occluded = True
            self._reason = ("line not draining: %.2f uL held back over the last %d steps, more "
                            "than a line with R x %g would hold" % (
                                self._u / self._kpa_per_ul, self._held_steps,
                                self._tau_tol_ms * self._inv_tau))
        if not self._watching:
            self._idle_level = level

    def _restart(self):
        # forget the readings and re-anchor the level: changes across the gap are not counted
        self._n = 0
        self._level = None
        self._drain = 0.0

    def state(self):
        return {"occluded": self.occluded, "undelivered_ul": self._u / self._kpa_per_ul,
                "reason": self._reason, "held_steps": self._held_steps,
                "tolerance_ul": (self._mt - self._m) / self._kpa_per_ul,
                "watching": self._watching}
