"""Occlusion bench: the firmware's two detectors against the sim plant, time to alarm and false alarms.

Run: python -m host_tools.bench_occlusion   (prints a table, returns the figures from measure()).

For each rate, two runs of the real sim plant (host_tools/sim/plant.py with boards/sim/board.json):
  - occlusion: a warm-up of open delivery, then a full occlusion; both detectors watch the same
    plant; time to alarm and undelivered volume (pumped - outlet since the occlusion) for each;
  - false alarms: 30 days of open delivery with sensor noise, back-pressure drift (+-1 kPa/h,
    changing every 1-6 h, kept in 0.5-6 kPa), random coughs (2 per hour, 5 kPa, 0.5 s) and a 4 h
    partial obstruction (R x 10); every alarm of either detector is counted, then cleared.
The loop is event-driven: steps at the exact times the rate needs, readings when a detector asks.
"""
import json
import math
import os
import random
import time

from host_tools import paths
from host_tools.sim.plant import Plant

paths.use_firmware_modules()
from pump import occlusion  # noqa: E402  (firmware module, importable once the path is set)

MS_H = 3600000
MS_DAY = 24 * MS_H
RATES_UL_H = (("0.1 mL/day", 100.0 / 24), ("0.5 mL/day", 500.0 / 24),
              ("1 mL/day", 1000.0 / 24), ("0.5 mL/h", 500.0))
CAP_MS = 72 * MS_H
FALSE_ALARM_DAYS = 30
# published times to occlusion alarm (DESIGN.md section 4), for scale: other lines, other pumps
PUBLISHED = ("117 +- 9 min at 0.5 mL/h (50 mL syringe)",
             "~50 min at 0.5 mL/h, ~5 h at 0.1 mL/h (another pump)")


def load_board(name="sim"):
    from pump.board_config import load_board as fw_load
    return fw_load(os.path.join(paths.BOARDS_DIR, name, "board.json"))


class _Drift:
    """Back-pressure that wanders: a new drift in +-max_kpa_h every 1-6 h, kept inside [lo, hi] kPa."""

    def __init__(self, rng, base, max_kpa_h=1.0, lo=0.5, hi=6.0):
        self.rng, self.max, self.lo, self.hi = rng, max_kpa_h, lo, hi
        self.base, self.t0, self.drift = base, 0, 0.0

    def level(self, t):
        return self.base + self.drift * (t - self.t0) / MS_H

    def change(self, t):
        """Pick a new drift at t; return it and when the next change is due."""
        self.base, self.t0 = self.level(t), t
        d = self.rng.uniform(0.3, 1.0) * self.max
        if self.base > (self.lo + self.hi) / 2:
            d = -d
        self.drift = d
        room = (self.hi - self.base) if d > 0 else (self.base - self.lo)
        hit_ms = int(max(room, 0.0) / abs(d) * MS_H)
        return d, t + max(60000, min(int(self.rng.uniform(1, 6) * MS_H), hit_ms))


def run(board, rate_ul_h, end_ms, seed, occlude_at_ms=None, disturbed=False, stop_when_both=True):
    """One plant, both detectors; returns each detector's alarm times and undelivered volumes."""
    params = dict(board["plant"])
    if disturbed:
        params["cough_rate_per_h"] = 2.0
        params["cough_kpa"] = 5.0
        params["cough_ms"] = 500
    ul_per_step = board["calibration"]["ul_per_step"]
    plant = Plant(params, ul_per_step, seed=seed)
    dets = occlusion.detectors(board)
    names = ("threshold", "model")
    alarms = {n: [] for n in names}
    rng = random.Random(seed * 7919 + 1)

    # steps at exact times: step k is due at ceil(k * v / Q), in integer nL and ms
    v_nl = int(round(ul_per_step * 1000))
    q_nl_h = int(round(rate_ul_h * 1000))
    k = 1
    t_step = (v_nl * MS_H + q_nl_h - 1) // q_nl_h

    events = []  # (t_ms, what)
    drift = None
    if disturbed:
        drift = _Drift(rng, board["plant"].get("back_pressure_kpa", 1.0))
        events.append((rng.randint(0, MS_H), "drift"))
        t_part = int(rng.uniform(5, 20) * MS_DAY)
        events.append((t_part, "partial"))
        events.append((t_part + 4 * MS_H, "release"))
    if occlude_at_ms is not None:
        events.append((occlude_at_ms, "occlude"))
    events.sort(reverse=True)
    t_event = events[-1][0] if events else math.inf

    pumped_at_occ = outlet_at_occ = 0.0
    dv = plant.true_ul_per_step
    thr, mdl = dets
    due_t = due_m = None
    reads = [0, 0]
    now = 0
    while True:
        # a due time in the past means "read now": the loop never goes back in time
        if due_t is None:
            due_t = thr.sample_due_ms(now)
            if due_t is not None and due_t < now:
                due_t = now
        if due_m is None:
            due_m = mdl.sample_due_ms(now)
            if due_m is not None and due_m < now:
                due_m = now
        t = t_step
        if due_t is not None and due_t < t:
            t = due_t
        if due_m is not None and due_m < t:
            t = due_m
        if t_event < t:
            t = t_event
        if t >= end_ms:
            break
        now = t
        if t == t_event:
            _, what = events.pop()
            if what == "occlude":
                plant.occlude(t, 1.0)
                st = plant.state(t)
                pumped_at_occ, outlet_at_occ = st["steps_moved"] * dv, st["outlet_ul"]
            elif what == "partial":
                plant.occlude(t, 0.9)   # R x 10
            elif what == "release":
                plant.release(t)
            else:
                d, t_next = drift.change(t)
                plant.set_back_pressure(t, drift_kpa_per_h=d)
                events.append((t_next, "drift"))
                events.sort(reverse=True)
            t_event = events[-1][0] if events else math.inf
            continue
        if t == t_step:
            plant.step(t, 1)
            thr.on_steps(t, 1)
            mdl.on_steps(t, 1)
            k += 1
            t_step = (k * v_nl * MS_H + q_nl_h - 1) // q_nl_h
            due_t = due_m = None   # a step can change what the detectors want
            continue
        for i, det in enumerate(dets):
            due = due_t if i == 0 else due_m
            if due is None or due > t:
                continue
            det.on_pressure(t, plant.read_pressure_kpa(t))
            reads[i] += 1
            if det.occluded:
                st = plant.state(t)
                undelivered = (st["steps_moved"] * dv - pumped_at_occ
                               - (st["outlet_ul"] - outlet_at_occ))
                alarms[names[i]].append((t, undelivered, det.state()["undelivered_ul"]))
                det.clear(t)
            if i == 0:
                due_t = None
            else:
                due_m = None
        if (stop_when_both and occlude_at_ms is not None and t >= occlude_at_ms
                and alarms["threshold"] and alarms["threshold"][-1][0] >= occlude_at_ms
                and alarms["model"] and alarms["model"][-1][0] >= occlude_at_ms):
            break
    return {"alarms": alarms, "steps": k - 1, "reads": reads}


def _fmt_time(ms):
    if ms is None:
        return "> %d h" % (CAP_MS // MS_H)
    s = ms / 1000.0
    if s < 120:
        return "%.1f s" % s
    if s < 7200:
        return "%.1f min" % (s / 60)
    return "%.2f h" % (s / 3600)


def _job(args):
    kind, label, rate, seed = args
    board = load_board()
    if kind == "occlusion":
        # warm-up: long enough for a few dozen steps and a settled line, at every rate
        interval_ms = board["calibration"]["ul_per_step"] / rate * MS_H
        t_occ = int(max(MS_H, 40 * interval_ms)) + 12345
        r = run(board, rate, t_occ + CAP_MS, seed, occlude_at_ms=t_occ)
        out = {}
        for name in ("threshold", "model"):
            first = [a for a in r["alarms"][name] if a[0] >= t_occ]
            early = [a for a in r["alarms"][name] if a[0] < t_occ]
            if first:
                t, und, est = first[0]
                out[name] = {"time_ms": t - t_occ, "undelivered_ul": und, "estimate_ul": est,
                             "false_before": len(early)}
            else:
                out[name] = {"time_ms": None, "undelivered_ul": None, "estimate_ul": None,
                             "false_before": len(early)}
        return (kind, label, out)
    r = run(board, rate, FALSE_ALARM_DAYS * MS_DAY, seed, disturbed=True, stop_when_both=False)
    return (kind, label, {"threshold": len(r["alarms"]["threshold"]),
                          "model": len(r["alarms"]["model"]),
                          "steps": r["steps"],
                          "threshold_reads_per_day": r["reads"][0] / FALSE_ALARM_DAYS,
                          "model_reads_per_day": r["reads"][1] / FALSE_ALARM_DAYS})


def measure(seed=1, processes=None):
    """Run every rate's occlusion and false-alarm runs; return {rate label: figures}."""
    jobs = []
    for i, (label, rate) in enumerate(RATES_UL_H):
        jobs.append(("false_alarms", label, rate, seed * 100 + i))
        jobs.append(("occlusion", label, rate, seed * 100 + 50 + i))
    n = processes if processes is not None else min(len(jobs), os.cpu_count() or 1)
    if n > 1:
        import multiprocessing
        with multiprocessing.Pool(n) as pool:
            results = pool.map(_job, jobs, chunksize=1)
    else:
        results = [_job(j) for j in jobs]
    out = {label: {"rate_ul_h": rate} for label, rate in RATES_UL_H}
    for kind, label, fig in results:
        out[label][kind] = fig
    for label, fig in out.items():
        t_thr = fig["occlusion"]["threshold"]["time_ms"]
        t_mod = fig["occlusion"]["model"]["time_ms"]
        fig["speedup"] = (t_thr / t_mod) if (t_thr and t_mod) else None
    return out


def report(res, board=None):
    board = board or load_board()
    plant, occ = board["plant"], board["occlusion"]
    c, r = plant["compliance_ul_per_kpa"], plant["resistance_kpa_s_per_ul"]
    print("occlusion detection on the sim plant: C = %g uL/kPa, tau = R*C = %g s, %g uL/step, "
          "sensor noise %g kPa" % (c, r * c, board["calibration"]["ul_per_step"],
                                   plant["pressure_sensor"]["noise_kpa"]))
    print("threshold %g kPa above baseline; model: alarm at %g uL held back beyond a line with R x %g"
          % (occ["threshold_kpa"], occ["alarm_after_ul"], occ["tolerate_r_factor"]))
    print("time to alarm after a full occlusion / undelivered volume (pumped - outlet) at the alarm;")
    print("false alarms in %d days of noise, drift, coughs and a 4 h R x 10 partial, threshold/model"
          % FALSE_ALARM_DAYS)
    print("%-11s | %-22s | %-22s | %7s | %-9s | %-12s" % (
        "rate", "threshold", "model", "speedup", "false T/M", "reads/day T/M"))
    print("-" * 98)
    for label, _ in RATES_UL_H:
        f = res[label]
        o = f["occlusion"]
        cells = []
        for name in ("threshold", "model"):
            d = o[name]
            und = "-" if d["undelivered_ul"] is None else "%.2f uL" % d["undelivered_ul"]
            cells.append("%s / %s" % (_fmt_time(d["time_ms"]), und))
        sp = "-" if f["speedup"] is None else "%.0fx" % f["speedup"]
        fa = f["false_alarms"]
        print("%-11s | %-22s | %-22s | %7s | %-9s | %.0f / %.0f" % (
            label, cells[0], cells[1], sp, "%d / %d" % (fa["threshold"], fa["model"]),
            fa["threshold_reads_per_day"], fa["model_reads_per_day"]))
    print("published times to occlusion alarm (other pumps, syringes and lines; for scale): "
          + "; ".join(PUBLISHED))


def main():
    t = time.perf_counter()
    res = measure()
    report(res)
    print("wall time %.1f s" % (time.perf_counter() - t))
    os.makedirs(paths.BUILD_DIR, exist_ok=True)
    out = os.path.join(paths.BUILD_DIR, "bench-occlusion.json")
    with open(out, "w") as f:
        json.dump(res, f, indent=2)
    print("written to %s" % out)
    return res


if __name__ == "__main__":
    main()
