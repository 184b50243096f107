# Unit tests of pump.occlusion against a tiny deterministic line; run by pytest and tests/mprun.py.

import math

from pump.occlusion import DEFAULTS, StepResponseDetector, ThresholdDetector, detectors

from fakes import board_cfg

UL_PER_STEP = 0.1
MS_H = 3600000
MS_DAY = 24 * MS_H

# step intervals (ms) for the rates the pump is built for, at 0.1 uL per step
EVERY_QUARTER_HOUR = 864000     # 0.01 mL/day
AT_0_1_ML_DAY = 86400
AT_0_5_ML_DAY = 17280
AT_1_ML_DAY = 8640
AT_0_5_ML_H = 720


class Line:
    """The sim board's line, simplified: pressure = back-pressure + excess x.

    Each step adds a = v / C to x; x drains with tau (times r_factor when partly obstructed,
    never when blocked). Back-pressure = base + drift * t + coughs; the line follows a cough with
    its own tau (x jumps the other way), as the plant does. The sensor adds noise from a fixed-seed
    LCG (sum of 4 uniforms) and rounds to lsb.
    """

    def __init__(self, noise_kpa=0.0, lsb_kpa=0.0, seed=1, a=0.2, tau_ms=1000.0, base=1.0):
        self.a, self.tau_ms, self.base = a, tau_ms, base
        self.noise, self.lsb, self.state = noise_kpa, lsb_kpa, seed
        self.t = 0
        self.x = 0.0
        self.factor = 1.0          # R multiplier; None: blocked
        self.drift = 0.0           # kPa per ms
        self.spike = 0.0
        self.coughs = []           # pending (start, end, kpa), earliest last
        self.steps = 0

    def _uniform(self):
        self.state = (self.state * 69069 + 1) & 0xFFFFFFFF
        return self.state / 4294967296.0

    def _drain(self, t):
        if t > self.t:
            if self.factor is not None:
                self.x *= math.exp(-(t - self.t) / (self.tau_ms * self.factor))
            self.t = t

    def advance(self, t):
        while self.coughs and self.coughs[-1][0] <= t:
            start, end, kpa = self.coughs[-1]
            if self.spike == 0.0:
                self._drain(start)
                self.spike = kpa
                self.x -= kpa
            if end > t:
                break
            self._drain(end)
            self.spike = 0.0
            self.x += kpa
            self.coughs.pop()
        self._drain(t)

    def step(self, t, n):
        self.advance(t)
        self.x += n * self.a
        self.steps += n

    def occlude(self, t, r_factor=None):
        self.advance(t)
        self.factor = r_factor

    def add_coughs(self, times, kpa=5.0, ms=500):
        self.coughs = sorted([(s, s + ms, kpa) for s in times], reverse=True)

    def read(self, t):
        self.advance(t)
        p = self.base + self.drift * t + self.spike + self.x
        if self.noise:
            u = self._uniform() + self._uniform() + self._uniform() + self._uniform()
            p += (u - 2.0) * 1.7320508 * self.noise
        if self.lsb:
            p = round(p / self.lsb) * self.lsb
        return p


def noisy_line(seed=1, **kw):
    """The sim board's sensor: 0.05 kPa noise, 0.05 kPa steps."""
    return Line(noise_kpa=0.05, lsb_kpa=0.05, seed=seed, **kw)


def drive(line, dets, interval_ms, t_end, t_start=0, actions=None, stop_on_alarm=True):
    """Steps every interval_ms from t_start, readings when each detector asks, actions at their times.

    Returns the board ms of each detector's first alarm (None if it never alarmed).
    """
    acts = sorted(actions or [], key=lambda a: a[0], reverse=True)
    alarms = [None] * len(dets)
    dues = [None] * len(dets)
    k = 1
    t_step = t_start
    now = t_start
    while True:
        for i in range(len(dets)):
            if dues[i] is None:
                d = dets[i].sample_due_ms(now)
                dues[i] = None if d is None else max(d, now)
        t = t_step
        for d in dues:
            if d is not None and d < t:
                t = d
        if acts and acts[-1][0] < t:
            t = acts[-1][0]
        if t >= t_end:
            return alarms
        now = t
        if acts and acts[-1][0] == t:
            acts.pop()[1](t)
            continue
        if t == t_step:
            line.step(t, 1)
            for det in dets:
                det.on_steps(t, 1)
            t_step = t_start + int(k * interval_ms)
            k += 1
            dues = [None] * len(dets)
            continue
        for i in range(len(dets)):
            if dues[i] == t:
                dets[i].on_pressure(t, line.read(t))
                dues[i] = None
                if alarms[i] is None and dets[i].occluded:
                    alarms[i] = t
        if stop_on_alarm and None not in alarms:
            return alarms


def model():
    return StepResponseDetector(None, UL_PER_STEP)


def both():
    return [ThresholdDetector(None), model()]


def steps_until(t_alarm, t_from, interval_ms):
    return int((t_alarm - t_from) // interval_ms) + 1


# ---- catching an occlusion -----------------------------------------------------------------

def test_alarms_on_a_full_occlusion_within_a_few_steps_at_0_1_ml_per_day():
    line, dets = noisy_line(seed=3), both()
    t_occ = 30 * AT_0_1_ML_DAY + 500
    thr, mdl = drive(line, dets, AT_0_1_ML_DAY, t_occ + 300 * AT_0_1_ML_DAY,
                     actions=[(t_occ, line.occlude)])
    assert mdl is not None and mdl > t_occ
    n = steps_until(mdl, t_occ, AT_0_1_ML_DAY)
    # alarm_after_ul is 4 steps' worth beyond tolerance; noise and the drift allowance add a few
    assert n <= 12, n
    # the threshold needs 40 kPa = 200 steps, about 5 hours
    assert thr is not None and steps_until(thr, t_occ, AT_0_1_ML_DAY) >= 190, thr


def test_alarms_on_a_full_occlusion_within_seconds_at_0_5_ml_per_h():
    line, dets = noisy_line(seed=4), both()
    t_occ = 10 * 60000 + 333
    thr, mdl = drive(line, dets, AT_0_5_ML_H, t_occ + 10 * 60000, actions=[(t_occ, line.occlude)])
    assert mdl is not None and t_occ < mdl <= t_occ + 15000, mdl - t_occ
    # the pulses overlap here, the model still catches it ten times sooner than the threshold
    assert thr is not None and thr - t_occ >= 10 * (mdl - t_occ), (thr - t_occ, mdl - t_occ)


def test_alarms_within_a_few_steps_at_one_step_a_quarter_hour_despite_drift():
    line = noisy_line(seed=5)
    line.drift = 2.0 / MS_H     # 2 kPa/h: more than the occlusion's own rise of 0.8 kPa/h
    det = model()
    t_occ = 6 * EVERY_QUARTER_HOUR + 1000
    (t,) = drive(line, [det], EVERY_QUARTER_HOUR, t_occ + 40 * EVERY_QUARTER_HOUR,
                 actions=[(t_occ, line.occlude)])
    assert t is not None and t > t_occ
    assert steps_until(t, t_occ, EVERY_QUARTER_HOUR) <= 10


def test_reports_the_undelivered_volume_and_why():
    line, det = Line(), model()
    t_occ = 20 * AT_1_ML_DAY + 100
    (t,) = drive(line, [det], AT_1_ML_DAY, t_occ + 100 * AT_1_ML_DAY, actions=[(t_occ, line.occlude)])
    s = det.state()
    assert s["occluded"] is True
    assert DEFAULTS["alarm_after_ul"] <= s["undelivered_ul"] < 2 * DEFAULTS["alarm_after_ul"], s
    assert "not draining" in s["reason"] and "steps" in s["reason"], s["reason"]


# ---- no false alarms -----------------------------------------------------------------------

def test_does_not_alarm_on_sensor_noise_over_a_simulated_day():
    line, dets = noisy_line(seed=6), both()
    assert drive(line, dets, AT_1_ML_DAY, MS_DAY) == [None, None]
    assert line.steps >= 9999


def test_does_not_alarm_on_slow_back_pressure_drift():
    for interval, hours, drift in ((AT_0_1_ML_DAY, 12, 2.0), (AT_0_5_ML_DAY, 12, -2.0),
                                   (AT_0_5_ML_H, 2, 2.0)):
        line, dets = noisy_line(seed=7), both()
        line.base = 10.0
        line.drift = drift / MS_H
        assert drive(line, dets, interval, hours * MS_H) == [None, None], (interval, drift)


def test_does_not_alarm_on_coughs():
    # 5 kPa for 0.5 s, every 47 to 250 s: a hundred times more often than the bench's 2 per hour
    for interval, hours in ((AT_0_1_ML_DAY, 6), (AT_0_5_ML_DAY, 6), (AT_0_5_ML_H, 1)):
        line, dets = noisy_line(seed=8), both()
        times, t = [], 30000
        while t < hours * MS_H:
            times.append(t)
            t += 47000 + int(line._uniform() * 203000)
        line.add_coughs(times)
        assert drive(line, dets, interval, hours * MS_H) == [None, None], interval


def test_does_not_alarm_when_the_back_pressure_steps_up_and_stays():
    # a change of posture: +3 kPa in a second, for good; also a long cough, 5 kPa for 3 s
    for interval in (AT_0_1_ML_DAY, AT_1_ML_DAY, AT_0_5_ML_H):
        line, det = noisy_line(seed=11), model()
        t_up = 40 * interval + 123

        def posture(t):
            line.advance(t)
            line.base += 3.0
            line.x -= 3.0     # the line then follows the new back-pressure with its tau
        line.add_coughs([t_up + 30 * interval], kpa=5.0, ms=3000)
        (t,) = drive(line, [det], interval, t_up + 60 * interval, actions=[(t_up, posture)])
        assert t is None, (interval, t)


def test_does_not_alarm_on_a_partial_obstruction_that_still_delivers():
    # R x 10 at every rate; R x 50 (its pulse takes a minute to drain) at low rates
    for interval, r_factor, hours in ((AT_0_5_ML_H, 10, 2), (AT_1_ML_DAY, 10, 6),
                                      (AT_0_1_ML_DAY, 50, 12), (AT_0_5_ML_DAY, 50, 12)):
        line, det = noisy_line(seed=9), model()
        t_part = 20 * interval + 7
        (t,) = drive(line, [det], interval, hours * MS_H,
                     actions=[(t_part, lambda t: line.occlude(t, r_factor))])
        assert t is None, (interval, r_factor, t)


def test_alarms_on_a_partial_obstruction_that_holds_back_more_than_tolerated():
    # at 0.5 mL/h an R x 50 line stores Q * tau' = 7 uL before it delivers: that is an alarm
    line, det = noisy_line(seed=10), model()
    t_part = 600000 + 3
    (t,) = drive(line, [det], AT_0_5_ML_H, t_part + 10 * 60000,
                 actions=[(t_part, lambda t: line.occlude(t, 50))])
    assert t is not None and t_part < t < t_part + 120000, t


# ---- the threshold detector ----------------------------------------------------------------

def test_threshold_detector_alarms_above_its_threshold_and_not_on_a_cough():
    det = ThresholdDetector({"threshold_kpa": 30.0, "threshold_sample_ms": 1000})
    t = 0
    for kpa in (2.0, 2.1, 1.9, 2.0, 45.0, 2.0, 2.1, 31.0, 2.0):   # single spikes: coughs
        t += 1000
        det.on_steps(t, 1)
        det.on_pressure(t, kpa)
    assert not det.occluded, det.state()
    for kpa in (31.0, 31.5, 32.0, 32.5):
        t += 1000
        det.on_steps(t, 1)
        det.on_pressure(t, kpa)
    s = det.state()
    assert det.occluded and s["occluded"] is True
    assert s["baseline_kpa"] == 2.0, s
    assert "threshold 30.0 kPa" in s["reason"], s["reason"]
    assert abs(s["undelivered_ul"] - s["rise_kpa"] / DEFAULTS["pulse_kpa_per_ul"]) < 1e-9


def test_threshold_detector_reads_only_while_steps_are_commanded():
    det = ThresholdDetector(None)
    assert det.sample_due_ms(0) is None
    det.on_steps(100, 2)
    assert det.sample_due_ms(100) == 100
    det.on_pressure(100, 1.0)
    assert det.sample_due_ms(5000) is None      # no step since: the pressure cannot have risen
    det.on_steps(700, 1)
    assert det.sample_due_ms(700) == 100 + DEFAULTS["threshold_sample_ms"]


# ---- clear, sampling, state ----------------------------------------------------------------

def test_clear_resets_the_alarm_and_the_estimate():
    line, det = Line(), model()
    t_occ = 5 * AT_0_5_ML_H + 100
    (t,) = drive(line, [det], AT_0_5_ML_H, 120000, actions=[(t_occ, line.occlude)])
    assert t is not None and det.occluded
    t_rel = t + 1
    line.occlude(t_rel, 1.0)   # the line is freed...
    det.clear(t_rel)           # ...and the user acknowledges
    s = det.state()
    assert s["occluded"] is False and s["undelivered_ul"] == 0.0 and s["reason"] == "", s
    (t2,) = drive(line, [det], AT_0_5_ML_H, t_rel + 30 * 60000, t_start=t_rel + 500)
    assert t2 is None, t2
    # blocked again: it alarms again, just as fast
    t_again = t_rel + 30 * 60000
    line.occlude(t_again, None)
    (t3,) = drive(line, [det], AT_0_5_ML_H, t_again + 60000, t_start=t_again + 1)
    assert t3 is not None and t3 - t_again <= 15000, t3 - t_again


def test_threshold_clear_takes_a_new_baseline():
    det = ThresholdDetector({"threshold_kpa": 10.0, "threshold_sample_ms": 1000})
    t = 0
    for kpa in (1.0, 1.0, 1.0, 12.0, 12.0, 12.0):
        t += 1000
        det.on_steps(t, 1)
        det.on_pressure(t, kpa)
    assert det.occluded
    det.clear(t)
    assert not det.occluded and det.state()["undelivered_ul"] == 0.0
    for kpa in (12.0, 12.0, 12.0, 20.0, 20.0, 20.0):
        t += 1000
        det.on_steps(t, 1)
        det.on_pressure(t, kpa)
    assert not det.occluded    # 8 kPa above the new baseline
    for kpa in (23.0, 23.0):
        t += 1000
        det.on_steps(t, 1)
        det.on_pressure(t, kpa)
    assert det.occluded


def test_model_detector_samples_only_while_there_is_something_to_watch():
    det = model()
    assert det.sample_due_ms(0) is None                  # never stepped: nothing to watch
    det.on_steps(1000, 1)
    assert det.sample_due_ms(1000) == 1000               # at once: the level before the pulse drains
    det.on_pressure(1000, 1.2)
    assert det.sample_due_ms(1000) == 1000 + DEFAULTS["sample_ms"]
    t = 1000
    watch_ms = int(5 * DEFAULTS["line_tau_s"] * DEFAULTS["tolerate_r_factor"] * 1000)
    while t < 1000 + watch_ms:
        t = det.sample_due_ms(t)
        det.on_pressure(t, 1.0)
    assert det.state()["watching"] is False
    assert det.sample_due_ms(t) == t + DEFAULTS["idle_sample_ms"]   # between steps: slowly
    assert det.sample_due_ms(1000 + DEFAULTS["idle_hold_s"] * 1000) is None


def test_model_detector_ignores_readings_it_did_not_ask_for():
    line, det = Line(), model()
    det.on_steps(0, 1)
    line.step(0, 1)
    det.on_pressure(0, line.read(0))
    # a burst of readings 100 ms apart: one cough could fill the median, so they do not count
    for t in range(100, 1000, 100):
        det.on_pressure(t, 50.0)
    assert det.sample_due_ms(1000) == DEFAULTS["sample_ms"]
    assert det.state()["undelivered_ul"] == 0.0


def test_detectors_come_from_the_board_config():
    thr, mdl = detectors(board_cfg())
    assert isinstance(thr, ThresholdDetector) and isinstance(mdl, StepResponseDetector)
    for s in (thr.state(), mdl.state()):
        assert s["occluded"] is False and s["undelivered_ul"] == 0.0 and s["reason"] == "", s


def test_model_detector_does_not_alarm_when_delivery_stops_a_few_seconds_after_it_started():
    # the tolerated line drains more slowly than the open one: a stop soon after the first
    # level was taken must not count that slower drain as held volume
    sim = {"sample_ms": 4000, "threshold_sample_ms": 4000}
    for run_ms in (5000, 9000, 13000):
        for seed in (1, 2, 3):
            line, det = noisy_line(seed=seed), StepResponseDetector(sim, UL_PER_STEP)
            t, t_step, due = 0, 0, None
            while t < 120000:
                if due is None:
                    due = det.sample_due_ms(t)
                t_next = t_step if t_step < run_ms else 10 ** 9
                if due is not None and due < t_next:
                    t_next = due
                if t_next >= 120000:
                    break
                t = t_next
                if t == t_step:
                    line.step(t, 1)
                    det.on_steps(t, 1)
                    t_step += 360          # 1 mL/h at 0.1 uL a step
                    due = None
                else:
                    det.on_pressure(t, line.read(t))
                    due = None
            assert not det.occluded, (run_ms, seed, det.state())
